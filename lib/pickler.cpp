// lib/pickler.cpp — the encoder: CPython's C pickler (Modules/_pickle.c save() and friends),
// driven by an explicit task stack instead of recursion.
//
// Objects CPython creates while pickling (the `builtins.set` class and the list it passes to
// set() below protocol 4, the latin-1 str of protocol-2 bytes, ...) live in an overlay of extra
// nodes whose ids follow the document's, so one save() path handles both.
//
// Speed: items of a list, tuple, dict or set that need no task of their own (scalars, strs and
// bytes, memo fetches) are written in a loop over the container's items (save_leaf), without a
// trip through the task stack; containers and recorded objects go through it. The output buffer
// is sized from the original pickle's length when the root of a decoded document is encoded.
#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "brine/encode.hpp"
#include "brine/opcodes.hpp"
#include "bulk.hpp"
#include "compat_tables.hpp"
#include "pyformat.hpp"
#include "thread_scratch.hpp"
#include "writer.hpp"

namespace brine {
namespace detail {
namespace {

enum class task : std::uint8_t {
  save,            // save node a
  save_range,      // save items b..c of container node a (container span), one at a time
  write_op,        // write opcode byte b
  tuple_end,       // tuple a saved with b items, c = had a MARK
  list_batch,      // continue exact-list batching of node a from item b
  dict_batch,      // continue exact-dict batching of node a from pair b
  set_batch,       // continue set batching of node a from item b
  frozenset_end,   // node a
  stack_global_end,  // global node a: module and name saved
  reduce_end,      // object or folded native a: after the creating opcode
  op_replay,       // object/global a: replay operation b
  inst_end,        // write INST with the names of global a
};

struct work {
  task kind;
  std::uint32_t a;
  std::uint32_t b = 0;  // indices and counts fit: containers hold at most 2^32-1 ids
  std::uint32_t c = 0;
};

// The encoder's working tables, which one-shot encodes on a thread reuse (lib/thread_scratch.hpp).
// Deep data makes the task stack as long as the data is deep (the `nested` benchmark: 600 KB),
// and the memo takes 4 bytes a node: fresh for every encode, their pages were faulted in again
// each time (a third of `nested`'s encode on the development machine). Tables under the retention
// threshold stay with the thread; larger ones go to the retained pool when dropped, so a loop
// encoding documents of similar size reuses every table.
struct encode_scratch {
  pod_vector<std::uint32_t> memo;  // node id -> memo index + 1
  pod_vector<work> todo;

  bool oversized() const noexcept {
    return memo.capacity() * sizeof(std::uint32_t) >= retain_min_bytes || todo.capacity() * sizeof(work) >= retain_min_bytes;
  }
  void reset() noexcept {
    memo.clear();
    todo.clear();
  }
};
using thread_encode_scratch = thread_scratch<encode_scratch>;

class pickler {
 public:
  pickler(const document& doc, const encode_options& opt, const byte_sink* sink, encode_scratch& scratch)
      : doc_(doc.data()),
        base_(static_cast<std::uint32_t>(doc.data().nodes.size())),
        opt_(opt),
        w_(sink),
        self_(&doc),
        memo_(scratch.memo),
        todo_(scratch.todo) {}

  bool run(std::uint32_t root, brine::error& err) {
    if (opt_.protocol < 0 || opt_.protocol > highest_protocol)
      return fail(err, 0, "pickle protocol must be <= 5");
    proto_ = opt_.protocol;
    memo_.resize(base_);
    if (base_ != 0) std::memset(memo_.data(), 0, base_ * sizeof(std::uint32_t));
    singleton_memo_.fill(0);
    todo_.clear();
    todo_.reserve(64);
    if (const std::size_t n = size_estimate(root)) w_.reserve(n);
    if (proto_ >= 2) {
      const std::uint8_t p = static_cast<std::uint8_t>(proto_);
      w_.op_arg(op::PROTO, &p, 1);
      if (proto_ >= 4) w_.start_framing();
    }
    push(task::save, root);
    while (!todo_.empty()) {
      const work t = todo_.back();
      todo_.pop_back();
      if (!step(t)) {
        err = err_;
        return false;
      }
    }
    w_.op(op::STOP);
    if (!w_.finish()) {
      io_fail();
      err = err_;
      return false;
    }
    return true;
  }

  /// run() into `out` (into its own storage when the size can be estimated: writer::into_string).
  bool run_into(std::string& out, std::uint32_t root, brine::error& err) {
    return w_.into_string(out, size_estimate(root), [&] { return run(root, err); });
  }
  std::size_t total() const { return w_.total(); }

 private:
  // Re-encoding a decoded document gives about as many bytes as it was decoded from; 0: unknown.
  std::size_t size_estimate(std::uint32_t root) const {
    if (!self_->root().valid() || self_->root().id() != root || self_->stop_offset() == 0) return 0;
    return static_cast<std::size_t>(std::min<std::uint64_t>(self_->stop_offset() + 64, std::uint64_t{1} << 40));
  }

  // ---- nodes of the document or the overlay
  const node& nd(std::uint32_t id) const { return id < base_ ? doc_.nodes[id] : ov_.nodes[id - base_]; }
  const document_data& tables(std::uint32_t id) const { return id < base_ ? doc_ : ov_; }
  std::span<const std::uint32_t> items(std::uint32_t id) const {
    const auto& t = tables(id);
    const container& c = t.containers[nd(id).u[0]];
    return {t.pool.data() + c.start, c.size};
  }
  std::string_view text(std::uint32_t id) const {
    const node& n = nd(id);
    return {reinterpret_cast<const char*>(n.p), static_cast<std::size_t>(n.length())};
  }
  const global_rec& global(std::uint32_t id) const { return tables(id).globals[nd(id).u[0]]; }
  const object_rec& object(std::uint32_t id) const { return tables(id).objects[nd(id).u[0]]; }

  std::uint32_t new_overlay_node(node_kind k, std::uint8_t flags, std::uint64_t payload) {
    node n;
    n.head = make_head(k, flags, 0);
    n.i = static_cast<std::int64_t>(payload);
    ov_.nodes.push_back(n);
    memo_.push_back(0);
    return base_ + static_cast<std::uint32_t>(ov_.nodes.size() - 1);
  }
  std::uint32_t overlay_data(node_kind k, std::string_view bytes) {
    unsigned char* p = ov_.text.allocate_prefixed(bytes.size());
    if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
    std::uint64_t payload;
    std::memcpy(&payload, &p, 8);
    return new_overlay_node(k, prefix_u64, payload);
  }
  // CPython's interpreter-wide singletons: 1-character latin-1 strs, 1-byte bytes, and named
  // constants. The same overlay node each time, so the memo finds it.
  std::uint32_t overlay_shared(node_kind k, std::string_view bytes, std::string_view key) {
    std::string full(1, static_cast<char>(k));
    full += key;
    auto it = shared_.find(full);
    if (it != shared_.end()) return it->second;
    const std::uint32_t id = overlay_data(k, bytes);
    shared_.emplace(std::move(full), id);
    return id;
  }
  std::uint32_t overlay_container(node_kind k, std::span<const std::uint32_t> ids) {
    ov_.containers.push_back({static_cast<std::uint32_t>(ov_.pool.size()), static_cast<std::uint32_t>(ids.size())});
    ov_.pool.append(ids.data(), ids.size());
    return new_overlay_node(k, 0, ov_.containers.size() - 1);
  }
  std::uint32_t overlay_global(std::string_view module, std::string_view name) {
    const std::uint32_t m = overlay_data(node_kind::str, module), q = overlay_data(node_kind::str, name);
    ov_.globals.push_back({m, q, m, q, global_source::global_op, no_node});
    return new_overlay_node(node_kind::global, 0, ov_.globals.size() - 1);
  }

  // ---- errors
  bool fail(brine::error& e, std::uint64_t offset, std::string message) {
    e.code = errc::bad_argument;
    e.offset = offset;
    e.opcode = -1;
    e.message = std::move(message);
    return false;
  }
  bool fail(std::uint32_t id, std::string message) {
    return fail(err_, id < base_ ? nd(id).offset() : 0, std::move(message));
  }

  // ---- memo
  bool memoized(std::uint32_t id) const { return memo_[id] != 0; }
  void memo_put(std::uint32_t id) {
    const std::uint64_t index = memo_count_++;
    memo_[id] = static_cast<std::uint32_t>(index + 1);
    write_put(index);
  }
  void write_put(std::uint64_t index) { emit_put(w_, proto_, index); }
  void write_get(std::uint64_t index) { emit_get(w_, proto_, index); }
  void memo_get(std::uint32_t id) { write_get(memo_[id] - 1); }

  void push(task k, std::uint32_t a, std::size_t b = 0, std::size_t c = 0) {
    todo_.push_back({k, a, static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(c)});
  }
  void push_save(std::uint32_t id) { push(task::save, id); }
  // Saves items [from, to) of container `id`, in order, then whatever was pushed before.
  void push_save_range(std::uint32_t id, std::size_t from, std::size_t to) {
    if (from < to) push(task::save_range, id, from, to);
  }

  // ---- scalars
  bool save_int(const node& n, std::uint32_t id) {
    if (n.kind() == node_kind::int64) {
      emit_int(w_, proto_, n.i);
      return true;
    }
    const value v(self_, id);
    if (emit_big_int(w_, proto_, v.int_bytes(), [&] { return v.int_decimal(); }) != emit_status::ok)
      return fail(id, "Exceeds the limit (4300 digits) for integer string conversion");
    return true;
  }
  bool save_str(std::uint32_t id) {
    switch (emit_str(w_, proto_, text(id))) {
      case emit_status::ok: memo_put(id); return true;
      case emit_status::too_large: return fail(id, "cannot serialize a string larger than 4GiB");
      case emit_status::io: return io_fail();
    }
    return true;
  }

  bool save_bytes_opcodes(std::uint32_t id, std::span<const std::byte> data) {
    switch (emit_bytes(w_, proto_, data)) {
      case emit_status::ok: memo_put(id); return true;
      case emit_status::too_large: return fail(id, "cannot serialize a bytes object larger than 4 GiB");
      case emit_status::io: return io_fail();
    }
    return true;
  }

  bool save_bytearray8(std::uint32_t id, std::span<const std::byte> data) {
    if (emit_bytearray8(w_, data) != emit_status::ok) return io_fail();
    memo_put(id);
    return true;
  }

  bool io_fail() {
    err_.code = errc::io_error;
    err_.message = "the sink refused the output";
    return false;
  }

  std::span<const std::byte> data_of(std::uint32_t id) const {
    const node& n = nd(id);
    if (n.kind() == node_kind::buffer) {
      const auto& b = doc_.buffers[n.u[0]];
      return {b.data, b.size};
    }
    return {reinterpret_cast<const std::byte*>(n.p), static_cast<std::size_t>(n.length())};
  }

  // A reduction CPython builds itself (set, frozenset, bytes, bytearray at older protocols):
  // callable global, fresh argument tuple, REDUCE, then the object's memo entry.
  void synthetic_reduce(std::uint32_t obj, std::string_view module, std::string_view name,
                        std::span<const std::uint32_t> args) {
    const std::uint32_t callable = global_node(module, name);
    const std::uint32_t tuple = overlay_container(node_kind::tuple, args);
    push(task::reduce_end, obj);
    push(task::write_op, 0, op::REDUCE);
    push_save(tuple);
    push_save(callable);
  }
  // One overlay node per global name, so a class named twice is one object.
  std::uint32_t global_node(std::string_view module, std::string_view name) {
    std::string key(module);
    key += '\n';
    key += name;
    auto it = overlay_globals_.find(key);
    if (it != overlay_globals_.end()) return it->second;
    const std::uint32_t id = overlay_global(module, name);
    overlay_globals_.emplace(std::move(key), id);
    return id;
  }

  // protocol < 3 bytes: _codecs.encode(text, 'latin1'), or bytes() when empty.
  void bytes_below_3(std::uint32_t id, std::span<const std::byte> data) {
    if (data.empty()) {
      synthetic_reduce(id, "builtins", "bytes", {});
      return;
    }
    std::string utf8;
    latin1_utf8(data, utf8);
    // PyUnicode_DecodeLatin1 returns the interpreter's cached str for one character.
    const std::uint32_t str = overlay_data(node_kind::str, utf8);  // 1-character: a singleton, see save()
    const std::uint32_t enc = overlay_shared(node_kind::str, "latin1", "const:latin1");
    const std::uint32_t args[2] = {str, enc};
    synthetic_reduce(id, "_codecs", "encode", args);
  }
  static void latin1_utf8(std::span<const std::byte> data, std::string& out) {
    for (std::byte b : data) append_code_point(static_cast<char32_t>(b), out);
  }

  // CPython keeps one object for '' and for each 1-character latin-1 str: the slot of such a str
  // in singleton_memo_, or -1. (Under the 3.11 profile the strs its pickler makes itself are
  // separate objects from equal strs in the data: their own slots.)
  int singleton_slot(std::uint32_t id, std::string_view s) const {
    if (s.empty()) return 512;
    if (s.size() > 2) return -1;
    std::size_t i = 0;
    const char32_t cp = next_code_point(s, i);
    if (i != s.size() || cp >= 0x100) return -1;
    const bool separate = opt_.profile == cpython_profile::cpython_3_11 && id >= base_;
    return static_cast<int>(cp) + (separate ? 256 : 0);
  }

  // save() for a str node: the singleton rule, the memo, or SHORT_BINUNICODE and friends.
  bool save_str_node(std::uint32_t id) {
    const std::string_view s = text(id);
    if (s.size() <= 2) [[unlikely]] {
      if (const int slot = singleton_slot(id, s); slot >= 0) {
        if (const std::uint64_t m = singleton_memo_[static_cast<std::size_t>(slot)]; m != 0) {
          write_get(m - 1);
          return true;
        }
        if (!memoized(id)) {
          singleton_memo_[static_cast<std::size_t>(slot)] = memo_count_ + 1;
          return save_str(id);
        }
      }
    }
    if (memoized(id)) {
      memo_get(id);
      return true;
    }
    return save_str(id);
  }

  // ---- the fast path: runs of leaves, written with the writer's cursor in locals.
  //
  // A "simple leaf" is what save() writes in one go without the singleton rule: None, bools and
  // ints and floats in their binary forms, strs of 3 to 255 UTF-8 bytes at protocol 4 and up
  // (SHORT_BINUNICODE + MEMOIZE), and memo fetches of anything but globals (memoized by name).

  // What the fast path reads for every item, copied into locals for the length of a run: the
  // output's char stores may alias any member, which the compiler would otherwise reload after
  // each of them. The memo table does not move during a run (only overlay nodes grow it, and they
  // are made outside); `count` is memo_count_'s value, written back before any other call.
  struct fast_state {
    const node* nodes;
    std::uint32_t base;
    std::uint32_t* memo;
    std::uint64_t count;
    int proto;
  };
  fast_state fast_begin() { return {doc_.nodes.data(), base_, memo_.data(), memo_count_, proto_}; }
  [[gnu::always_inline]] const node& fast_node(const fast_state& fs, std::uint32_t id) const {
    return id < fs.base ? fs.nodes[id] : ov_.nodes[id - fs.base];
  }

  // opcode_boundary() where save() would call it, and 16 bytes of room; false on an error (err_ set).
  [[gnu::always_inline]] bool raw_boundary(writer::raw_state& r) {
    if (r.pos < r.fast) [[likely]]
      return true;
    constexpr std::size_t room = writer::raw_state::boundary_room;
    return w_.raw_settle(r, room, room) || io_fail();
  }

  // Whether the items of container node `owner_id` are a run of consecutive document nodes
  // (document_data::dense_items), which the bulk kernels read without their ids. Overlay nodes
  // (fs.base and up) never are.
  [[gnu::always_inline]] bool items_dense(std::uint32_t owner_id, const fast_state& fs) const {
    return owner_id < fs.base && doc_.items_dense(fs.nodes[owner_id].u[0]);
  }

  // Writes node `id` (`n`) at r.pos if it is a simple leaf (the caller made 16 bytes of room).
  // False, having written nothing, for anything else.
  [[gnu::always_inline]] bool simple_leaf(std::uint32_t id, const node& n, writer::raw_state& r, fast_state& fs) {
    char* at = r.base + r.pos;
    switch (n.kind()) {
      case node_kind::none:
        *at = static_cast<char>(op::NONE);
        r.pos += 1;
        return true;
      case node_kind::boolean:
        if (fs.proto < 2) return false;
        *at = static_cast<char>(n.i != 0 ? op::NEWTRUE : op::NEWFALSE);
        r.pos += 1;
        return true;
      case node_kind::float64:
        r.pos += put_float(at, n.f);
        return true;
      case node_kind::int64:
        // LONG text below protocol 2 outside 32 bits.
        if (fs.proto < 2 && (n.i < INT32_MIN || n.i > INT32_MAX)) return false;
        r.pos += put_int(at, n.i);
        return true;
      case node_kind::str: {
        const std::size_t len = n.length();
        // '' and 1-character latin-1 strs (one code point below U+0100): save_str_node's rule.
        if (len <= 2 && (len == 0 || (len == 1 && n.p[0] < 0x80) || (len == 2 && (n.p[0] == 0xc2 || n.p[0] == 0xc3))))
          return false;
        if (fs.memo[id] != 0) break;
        if (fs.proto < 4 || len > 0xff) return false;
        if (r.cap - r.pos < len + 3) r = w_.raw_grow(r, len + 3);
        r.pos += put_short_str(r.base + r.pos, n.p, len);
        fs.memo[id] = static_cast<std::uint32_t>(++fs.count);
        return true;
      }
      case node_kind::global:
        return false;
      default:
        if (fs.memo[id] == 0) return false;
        break;
    }
    // A memo fetch (written out: through put_get it cost 3% more instructions in run_range).
    const std::uint64_t index = fs.memo[id] - 1;
    if (index < 256) {
      at[0] = static_cast<char>(op::BINGET);
      at[1] = static_cast<char>(index);
      r.pos += 2;
    } else {
      at[0] = static_cast<char>(op::LONG_BINGET);
      const auto v = static_cast<std::uint32_t>(index);
      std::memcpy(at + 1, &v, 4);
      r.pos += 5;
    }
    return true;
  }

  // memo_put() at `at` (5 bytes of room); returns the bytes written.
  [[gnu::always_inline]] std::size_t raw_put(std::uint32_t id, char* at, fast_state& fs) {
    const std::uint64_t index = fs.count++;
    fs.memo[id] = static_cast<std::uint32_t>(index + 1);
    if (fs.proto >= 4) {
      *at = static_cast<char>(op::MEMOIZE);
      return 1;
    }
    return put_binput(at, index);
  }

  // save_range: items [from, end) of container `owner`. Simple leaves are written in a loop, and
  // lists, dicts and tuples that fit one batch are opened in place and walked the same way, in a
  // window of the `max_inline` innermost open containers (a small ring, whatever the data's depth).
  // Opening one more when the window is full turns the outermost back into tasks (what is left of
  // it, then its closing opcode), which run after this call returns, once the inner ones are
  // closed. The first item that is neither turns all the open containers back into tasks, then
  // save() of that item.
  static constexpr std::size_t max_inline = 8;  // a power of two: the ring's index is masked
  // The shortest run of floats handed to the bulk kernel.
  static constexpr std::size_t bulk_min_run = 16;
  struct inline_frame {
    std::uint32_t id;
    const std::uint32_t* items;
    std::size_t next;
    std::size_t end;
    std::uint8_t closing;  // APPENDS / APPEND / SETITEMS / SETITEM, or 0 for a tuple (tuple_end)
    bool marked;           // a tuple opened with MARK
  };

  [[gnu::noinline]] bool run_range(std::uint32_t owner, std::size_t from, const std::size_t end) {
    const auto owner_items = items(owner);
    if (proto_ < 1) {
      std::size_t i = from;
      for (bool ok = true; i < end && save_leaf(owner_items[i], ok); ++i)
        if (!ok) return false;
      if (i == end) return true;
      if (i + 1 < end) push(task::save_range, owner, i + 1, end);
      return save(owner_items[i]);
    }
    fast_state fs = fast_begin();
    inline_frame ring[max_inline];
    // The window: `depth` + 1 open containers from ring[bottom] up; the owner is at the bottom
    // until it is evicted (then the bottom container closes itself like the others).
    std::size_t bottom = 0, depth = 0;
    bool bottom_closes = false;
    auto frame = [&](std::size_t d) -> inline_frame& { return ring[(bottom + d) & (max_inline - 1)]; };
    frame(0) = {owner, owner_items.data(), from, end, 0, false};
    // The open container's position in locals (the frames array is memory that the output's char
    // stores could alias).
    const std::uint32_t* its = owner_items.data();
    std::size_t next = from, stop = end;
    writer::raw_state r = w_.raw_begin();
    for (;;) {
      if (next == stop) {
        if (depth == 0 && !bottom_closes) break;
        // The container's closing opcode (one batch: the whole container).
        const inline_frame& f = frame(depth);
        if (r.cap - r.pos < 16) r = w_.raw_grow(r, 16);
        if (f.closing != 0) {
          r.base[r.pos++] = static_cast<char>(f.closing);
        } else if (fs.memo[f.id] == 0) {
          r.base[r.pos] = static_cast<char>(f.marked ? op::TUPLE : op::TUPLE1 + f.end - 1);
          r.pos += 1 + raw_put(f.id, r.base + r.pos + 1, fs);
        } else {  // a recursive tuple: tuple_end's POPs and fetch
          w_.raw_end(r);
          memo_count_ = fs.count;
          if (!tuple_end(f.id, f.end, f.marked)) return false;
          fs.count = memo_count_;
          r = w_.raw_begin();
        }
        if (depth == 0) break;
        --depth;
        its = frame(depth).items;
        next = frame(depth).next;
        stop = frame(depth).end;
        continue;
      }
      const std::uint32_t id = its[next];
      if (!raw_boundary(r)) return false;
      const node& item = fast_node(fs, id);
      if (item.kind() == node_kind::float64) {
        // A run of floats (a list of floats, most likely): BINFLOATs in a loop of their own, as
        // many as the room and the frame take before the next boundary check.
        // Long runs go to the bulk kernel (lib/bulk.hpp), which reads document nodes only: an
        // overlay node (id fs.base and up) ends its run, and if it is the first, the loop here
        // writes it. A dict's one float does not pay for the call.
        // The items of a dense container (document_data::dense_items: a decoded list of fresh
        // floats) are read as a run of nodes, without their ids: 16 bytes an item, not 20.
        const std::size_t n = std::min(stop - next, r.fitting(9));
        std::size_t i = 0;
        if (n >= bulk_min_run) {
          if (items_dense(frame(depth).id, fs))
            i = put_float_run(r.base + r.pos, fs.nodes + its[next], n);
          else
            i = put_float_nodes(r.base + r.pos, its + next, fs.nodes, fs.base, n);
        }
        if (i == 0) {
          char* at = r.base + r.pos;
          do {
            const node& x = fast_node(fs, its[next + i]);
            if (x.kind() != node_kind::float64) break;
            at += put_float(at, x.f);
          } while (++i < n);
        }
        r.pos += 9 * i;
        next += i;
        continue;
      }
      if (item.kind() == node_kind::int64 && fs.proto >= 2) {
        // A dense container's run of ints (see the floats above) goes to the bulk kernel, with
        // room for 10 bytes an item and the frame's limit.
        if (const std::size_t room = std::min(stop - next, (r.cap - r.pos) / 10); room >= bulk_min_run) {
          if (items_dense(frame(depth).id, fs)) {
            std::size_t bytes = 0;
            if (const std::size_t i = put_int_run(r.base + r.pos, fs.nodes + its[next], room, r.frame_room(), bytes); i != 0) {
              r.pos += bytes;
              next += i;
              continue;
            }
          }
        }
        // A run of ints (binary forms, LONG1 outside 32 bits): at most 10 bytes each, so one
        // compare an item against the nearer of the frame's boundary and the room's end.
        const std::size_t limit = r.fast_limit(10);
        char* const at = r.base;
        std::size_t pos = r.pos, i = next;
        do {
          const node& x = fast_node(fs, its[i]);
          if (x.kind() != node_kind::int64) break;
          pos += put_int(at + pos, x.i);
        } while (++i < stop && pos < limit);
        r.pos = pos;
        next = i;
        continue;
      }
      if (simple_leaf(id, item, r, fs)) {
        ++next;
        continue;
      }
      if (depth + 1 == max_inline && opens_inline(id, fs)) {
        // The window is full: its outermost container becomes tasks (depth > 0, so its position
        // was stored when the next one opened).
        unwind(frame(0), bottom_closes, frame(0).next);
        ++bottom;
        --depth;
        bottom_closes = true;
      }
      if (depth + 1 < max_inline) {
        inline_frame& child = frame(depth + 1);
        if (std::size_t wrote = 0; open_inline(id, r.base + r.pos, child, wrote, fs)) {
          r.pos += wrote;
          ++next;
          if (child.end != 0) {
            frame(depth).next = next;
            ++depth;
            its = child.items;
            next = 0;
            stop = child.end;
          }
          continue;
        }
      }
      // Back to tasks: the rest of every open container, outermost first, then this item.
      w_.raw_end(r);
      memo_count_ = fs.count;
      frame(depth).next = next;
      for (std::size_t d = 0; d <= depth; ++d)
        unwind(frame(d), d > 0 || bottom_closes, d == depth ? next + 1 : frame(d).next);
      return save(id);
    }
    w_.raw_end(r);
    memo_count_ = fs.count;
    return true;
  }

  // Tasks for an open container of run_range: its items from `from` on, then (`closes`) its closing
  // opcode, to run in that order after what is pushed later.
  void unwind(const inline_frame& g, bool closes, std::size_t from) {
    if (closes) {
      if (g.closing != 0) push(task::write_op, 0, g.closing);
      else push(task::tuple_end, g.id, g.end, g.marked ? 1 : 0);
    }
    push_save_range(g.id, from, g.end);
  }

  // Whether open_inline would open `id` and leave it open (items to write): the same tests,
  // nothing written.
  [[gnu::always_inline]] bool opens_inline(std::uint32_t id, const fast_state& fs) const {
    const node_kind k = fast_node(fs, id).kind();
    const bool opened = k == node_kind::tuple || ((k == node_kind::list || k == node_kind::dict) && !harmonized());
    if (!opened) return false;
    const std::size_t cnt = items(id).size();
    return cnt != 0 && cnt < batch_size;
  }

  // Opens an unmemoized list, dict or tuple that fits one batch: writes at `at` (16 bytes of room)
  // what save() writes before its items, fills `f` (f.end == 0: nothing more to write) and sets
  // `wrote`. False, having written nothing, for anything else. The caller did the boundary check.
  [[gnu::always_inline]] bool open_inline(std::uint32_t id, char* at, inline_frame& f, std::size_t& wrote, fast_state& fs) {
    const node_kind k = fast_node(fs, id).kind();
    if (k != node_kind::list && k != node_kind::dict && k != node_kind::tuple) return false;
    const auto its = items(id);
    const std::size_t cnt = its.size();
    if (cnt >= batch_size) return false;  // several batches (a dict counts keys and values)
    if (k == node_kind::tuple) {
      if (cnt == 0) {
        *at = static_cast<char>(op::EMPTY_TUPLE);  // never memoized
        f.end = 0;
        wrote = 1;
        return true;
      }
      const bool marked = cnt > 3 || fs.proto < 2;
      if (marked) *at = static_cast<char>(op::MARK);
      f = {id, its.data(), 0, cnt, 0, marked};
      wrote = marked ? 1 : 0;
      return true;
    }
    if (harmonized()) return false;  // the 3.15 batches: list_batch / dict_batch
    const bool list = k == node_kind::list;
    *at = static_cast<char>(list ? op::EMPTY_LIST : op::EMPTY_DICT);
    std::size_t n = 1 + raw_put(id, at + 1, fs);
    if (cnt == 0) {
      f.end = 0;
      wrote = n;
      return true;
    }
    const bool single = cnt == (list ? 1u : 2u);  // one item: APPEND / SETITEM without a MARK
    if (!single) at[n++] = static_cast<char>(op::MARK);
    f = {id, its.data(), 0, cnt,
         static_cast<std::uint8_t>(list ? (single ? op::APPEND : op::APPENDS) : (single ? op::SETITEM : op::SETITEMS)), false};
    wrote = n;
    return true;
  }

  // save() for nodes that need no task: scalars, strs, memo fetches. Returns false, having written
  // nothing, for any other node; `ok` turns false on an error (err_ set).
  [[gnu::always_inline]] bool save_leaf(std::uint32_t id, bool& ok) {
    const node& n = nd(id);
    switch (n.kind()) {
      case node_kind::none:
        ok = w_.opcode_boundary() || io_fail();
        w_.op(op::NONE);
        return true;
      case node_kind::boolean:
        ok = w_.opcode_boundary() || io_fail();
        emit_bool(w_, proto_, n.i != 0);
        return true;
      case node_kind::int64:
        ok = w_.opcode_boundary() || io_fail();
        emit_int(w_, proto_, n.i);
        return true;
      case node_kind::float64:
        ok = w_.opcode_boundary() || io_fail();
        emit_float(w_, proto_, n.f);
        return true;
      case node_kind::str:
        ok = (w_.opcode_boundary() || io_fail()) && save_str_node(id);
        return true;
      case node_kind::global:
        return false;  // memoized by name
      default:
        if (!memoized(id)) return false;
        ok = w_.opcode_boundary() || io_fail();
        memo_get(id);
        return true;
    }
  }

  // ---- the dispatch of save()
  bool step(const work& t) {
    switch (t.kind) {
      case task::save: return save(t.a);
      case task::save_range: return run_range(t.a, t.b, t.c);
      case task::write_op: w_.op(static_cast<std::uint8_t>(t.b)); return true;
      case task::tuple_end: return tuple_end(t.a, static_cast<std::size_t>(t.b), t.c != 0);
      case task::list_batch: return list_batch(t.a, static_cast<std::size_t>(t.b));
      case task::dict_batch: return dict_batch(t.a, static_cast<std::size_t>(t.b));
      case task::set_batch: return set_batch(t.a, static_cast<std::size_t>(t.b));
      case task::frozenset_end:
        if (memoized(t.a)) {
          w_.op(op::POP_MARK);
          memo_get(t.a);
        } else {
          w_.op(op::FROZENSET);
          memo_put(t.a);
        }
        return true;
      case task::stack_global_end:
        w_.op(op::STACK_GLOBAL);
        global_memo_put(t.a);
        return true;
      case task::reduce_end: return reduce_end(t.a);
      case task::op_replay: return op_replay(t.a, static_cast<std::size_t>(t.b));
      case task::inst_end: {
        std::string mod_s, name_s;
        if (!global_names(t.a, mod_s, name_s)) return false;
        const std::string line = "i" + mod_s + "\n" + name_s + "\n";
        w_.write(line.data(), line.size());
        return true;
      }
    }
    return true;
  }

  bool save(std::uint32_t id) {
    if (!w_.opcode_boundary()) return io_fail();
    const node& n = nd(id);
    switch (n.kind()) {
      case node_kind::none: w_.op(op::NONE); return true;
      case node_kind::boolean: emit_bool(w_, proto_, n.i != 0); return true;
      case node_kind::int64:
      case node_kind::bigint: return save_int(n, id);
      case node_kind::float64: emit_float(w_, proto_, n.f); return true;
      case node_kind::persid: {
        const std::uint32_t pid = n.u[0];
        if (proto_ >= 1) {
          push(task::write_op, 0, op::BINPERSID);
          push_save(pid);
          return true;
        }
        if (nd(pid).kind() != node_kind::str) return fail(id, "persistent IDs in protocol 0 must be ASCII strings");
        const std::string_view s = text(pid);
        for (char c : s)
          if (static_cast<unsigned char>(c) >= 0x80 || c == '\n') return fail(id, "persistent IDs in protocol 0 must be ASCII strings");
        w_.op(op::PERSID);
        w_.write(s.data(), s.size());
        w_.write("\n", 1);
        return true;
      }
      case node_kind::ext: {
        if (proto_ < 2) return fail(id, "extension codes need protocol 2");
        const auto code = static_cast<std::uint64_t>(n.i);
        if (code <= 0xff) {
          const auto b = static_cast<std::uint8_t>(code);
          w_.op_arg(op::EXT1, &b, 1);
        } else if (code <= 0xffff) {
          const auto h = static_cast<std::uint16_t>(code);
          w_.op_arg(op::EXT2, &h, 2);
        } else {
          const auto v = static_cast<std::int32_t>(code);
          w_.op_arg(op::EXT4, &v, 4);
        }
        return true;
      }
      default: break;
    }
    // Memo lookup: everything below is memoized on first write (but the empty tuple and
    // out-of-band buffers, which never enter the memo).
    // CPython keeps one object for '' and for each 1-character latin-1 str (its own strings and
    // those made while pickling, e.g. bytes' latin-1 text below protocol 3): one memo entry per
    // value, whichever node holds it.
    if (n.kind() == node_kind::str) return save_str_node(id);
    if (n.kind() == node_kind::global) {
      if (const std::uint32_t m = global_memo_find(id)) {
        write_get(m - 1);
        // Another node of the same name was written first: CPython's class object is one object
        // per name, so this node's operations apply to it (once).
        if (!memoized(id)) {
          memo_[id] = m;
          push(task::op_replay, id, 0);
        }
        return true;
      }
    } else if (memoized(id)) {
      memo_get(id);
      return true;
    }
    switch (n.kind()) {
      case node_kind::bytes:
        if (proto_ >= 3) return save_bytes_opcodes(id, data_of(id));
        bytes_below_3(id, data_of(id));
        return true;
      case node_kind::bytearray: {
        const auto data = data_of(id);
        if (proto_ >= 5) return save_bytearray8(id, data);
        if (data.empty()) {
          synthetic_reduce(id, "builtins", "bytearray", {});
        } else {
          // bytes(obj) is a fresh object each time, even for one byte (unlike latin-1 strs).
          const std::uint32_t b = overlay_data(node_kind::bytes, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
          synthetic_reduce(id, "builtins", "bytearray", std::span<const std::uint32_t>(&b, 1));
        }
        return true;
      }
      case node_kind::buffer: return save_buffer(id);
      case node_kind::tuple: return save_tuple(id);
      case node_kind::list: {
        if (proto_ >= 1) {
          w_.op(op::EMPTY_LIST);
        } else {
          const char hdr[2] = {static_cast<char>(op::MARK), static_cast<char>(op::LIST)};
          w_.write(hdr, 2);
        }
        memo_put(id);
        return items(id).empty() || list_batch(id, 0);
      }
      case node_kind::dict: {
        if (proto_ >= 1) {
          w_.op(op::EMPTY_DICT);
        } else {
          const char hdr[2] = {static_cast<char>(op::MARK), static_cast<char>(op::DICT)};
          w_.write(hdr, 2);
        }
        memo_put(id);
        return items(id).empty() || dict_batch(id, 0);
      }
      case node_kind::set: {
        if (proto_ < 4) {
          const std::uint32_t list = overlay_container(node_kind::list, items(id));
          synthetic_reduce(id, "builtins", "set", std::span<const std::uint32_t>(&list, 1));
          return true;
        }
        w_.op(op::EMPTY_SET);
        memo_put(id);
        return items(id).empty() || set_batch(id, 0);
      }
      case node_kind::frozenset: {
        if (proto_ < 4) {
          const std::uint32_t list = overlay_container(node_kind::list, items(id));
          synthetic_reduce(id, "builtins", "frozenset", std::span<const std::uint32_t>(&list, 1));
          return true;
        }
        w_.op(op::MARK);
        push(task::frozenset_end, id);
        push_save_range(id, 0, items(id).size());
        return true;
      }
      case node_kind::global: return save_global(id);
      case node_kind::object: return save_object(id);
      default: break;
    }
    return fail(id, "cannot encode this node");
  }

  bool save_buffer(std::uint32_t id) {
    if (proto_ < 5) return fail(id, "PickleBuffer can only be pickled with protocol >= 5");
    const value v(self_, id);
    const auto data = data_of(id);
    const bool readonly = v.readonly();
    const bool in_band = !opt_.on_buffer || opt_.on_buffer(v, data, readonly);
    if (in_band) return readonly ? save_bytes_opcodes(id, data) : save_bytearray8(id, data);
    w_.op(op::NEXT_BUFFER);
    if (readonly) w_.op(op::READONLY_BUFFER);
    return true;
  }

  bool save_tuple(std::uint32_t id) {
    const std::size_t n = items(id).size();
    if (n == 0) {
      if (proto_ >= 1) {
        w_.op(op::EMPTY_TUPLE);
      } else {
        const char hdr[2] = {static_cast<char>(op::MARK), static_cast<char>(op::TUPLE)};
        w_.write(hdr, 2);
      }
      return true;
    }
    const bool short_form = n <= 3 && proto_ >= 2;
    if (!short_form) w_.op(op::MARK);
    push(task::tuple_end, id, n, short_form ? 0 : 1);
    push_save_range(id, 0, n);
    return true;
  }

  bool tuple_end(std::uint32_t id, std::size_t n, bool marked) {
    if (memoized(id)) {
      // Recursive: the tuple was memoized while its items were saved.
      if (!marked) {
        for (std::size_t i = 0; i < n; ++i) w_.op(op::POP);
      } else if (proto_ >= 1) {
        w_.op(op::POP_MARK);
      } else {
        for (std::size_t i = 0; i <= n; ++i) w_.op(op::POP);
      }
      memo_get(id);
      return true;
    }
    w_.op(marked ? op::TUPLE : static_cast<std::uint8_t>(op::TUPLE1 + n - 1));
    memo_put(id);
    return true;
  }

  bool harmonized() const { return opt_.profile == cpython_profile::cpython_3_15; }

  // batch_list_exact (protocol >= 1) / one APPEND per item (protocol 0).
  bool list_batch(std::uint32_t id, std::size_t from) {
    const std::size_t n = items(id).size();
    if (proto_ == 0) {
      if (from + 1 < n) push(task::list_batch, id, from + 1);
      push(task::write_op, 0, op::APPEND);
      push_save_range(id, from, from + 1);
      return true;
    }
    const std::size_t end = std::min(n, from + batch_size);
    if (end - from == 1 && (n == 1 || harmonized())) {
      push(task::write_op, 0, op::APPEND);
      push_save_range(id, from, end);
      return true;
    }
    w_.op(op::MARK);
    if (end < n) push(task::list_batch, id, end);
    push(task::write_op, 0, op::APPENDS);
    push_save_range(id, from, end);
    return true;
  }

  // batch_dict_exact: repeated while the previous batch was full (hence the empty tail batch).
  bool dict_batch(std::uint32_t id, std::size_t from_pair) {
    const std::size_t pairs = items(id).size() / 2;
    if (proto_ == 0 || (pairs == 1 && from_pair == 0)) {
      if (from_pair + 1 < pairs) push(task::dict_batch, id, from_pair + 1);
      push(task::write_op, 0, op::SETITEM);
      push_save_range(id, 2 * from_pair, 2 * from_pair + 2);
      return true;
    }
    const std::size_t end = std::min(pairs, from_pair + batch_size);
    if (harmonized()) {
      if (end == from_pair) return true;
      if (end - from_pair == 1) {
        push(task::write_op, 0, op::SETITEM);
        push_save_range(id, 2 * from_pair, 2 * end);
        return true;
      }
    }
    w_.op(op::MARK);
    if (end - from_pair == batch_size) push(task::dict_batch, id, end);
    push(task::write_op, 0, op::SETITEMS);
    push_save_range(id, 2 * from_pair, 2 * end);
    return true;
  }

  bool set_batch(std::uint32_t id, std::size_t from) {
    const std::size_t n = items(id).size();
    const std::size_t end = std::min(n, from + batch_size);
    if (harmonized() && end == from) return true;
    w_.op(op::MARK);
    if (end - from == batch_size) push(task::set_batch, id, end);
    push(task::write_op, 0, op::ADDITEMS);
    push_save_range(id, from, end);
    return true;
  }

  // ---- globals: memoized by name, since a class or function is one object.
  std::string global_key(std::uint32_t id) const {
    const global_rec& g = global(id);
    std::string key(text(g.mapped_module));
    key += '\n';
    key += text(g.mapped_name);
    return key;
  }
  std::uint32_t global_memo_find(std::uint32_t id) const {
    auto it = global_memo_.find(global_key(id));
    return it == global_memo_.end() ? 0 : it->second;
  }
  void global_memo_put(std::uint32_t id) {
    global_memo_[global_key(id)] = static_cast<std::uint32_t>(memo_count_ + 1);
    memo_put(id);
  }

  bool save_global(std::uint32_t id) {
    const global_rec& g = global(id);
    const std::string_view module = text(g.mapped_module), name = text(g.mapped_name);
    if (proto_ >= 4) {
      // Reuse the pickle's own str nodes when it came from STACK_GLOBAL, so identity (shared
      // module strings) is what the original stream had.
      std::uint32_t m, q;
      if (g.source == global_source::stack_global && g.mapped_module == g.module && g.mapped_name == g.name) {
        m = g.module;
        q = g.name;
      } else {
        m = overlay_shared(node_kind::str, module, std::string("module:") + std::string(module));
        q = overlay_data(node_kind::str, name);
      }
      push(task::op_replay, id, 0);  // BUILD and other operations recorded on the global
      push(task::stack_global_end, id);
      push_save(q);
      push_save(m);
      return true;
    }
    std::string mod_s, name_s;
    if (!global_names(id, mod_s, name_s)) return false;
    std::string line = "c" + mod_s + "\n" + name_s + "\n";
    w_.write(line.data(), line.size());
    global_memo_put(id);
    push(task::op_replay, id, 0);
    return true;
  }

  // The names GLOBAL and INST write below protocol 4: reverse fix_imports below 3, ASCII below 3.
  bool global_names(std::uint32_t id, std::string& mod_s, std::string& name_s) {
    const global_rec& g = global(id);
    const std::string_view module = text(g.mapped_module), name = text(g.mapped_name);
    if (name.find('.') != std::string_view::npos) return fail(id, "a dotted global name needs protocol 4");
    mod_s = std::string(module);
    name_s = std::string(name);
    if (proto_ < 3 && opt_.fix_imports) {
      if (auto mapped = map_for_dump(module, name)) {
        mod_s = std::string(mapped->module);
        name_s = std::string(mapped->name);
      }
    }
    // A text line cannot hold a newline, and GLOBAL / INST text is strict UTF-8 (ASCII below 3):
    // CPython's pickler raises PicklingError for a name it cannot encode (and writes a newline
    // unchecked, making a pickle it cannot load); brine refuses both.
    for (const std::string* s : {&mod_s, &name_s}) {
      const char* what = s == &mod_s ? "module" : "global";
      if (s->find('\n') != std::string::npos)
        return fail(id, std::string("can't pickle ") + what + " identifier containing a newline using pickle protocol " + std::to_string(proto_));
      for (std::size_t i = 0; i < s->size(); ++i) {
        const auto c = static_cast<unsigned char>((*s)[i]);
        const bool surrogate = c == 0xed && i + 1 < s->size() && static_cast<unsigned char>((*s)[i + 1]) >= 0xa0;
        if ((proto_ < 3 && c >= 0x80) || surrogate)
          return fail(id, std::string("can't pickle ") + what + " identifier '" + *s + "' using pickle protocol " + std::to_string(proto_));
      }
    }
    return true;
  }

  // ---- recorded objects (save_reduce)
  bool save_object(std::uint32_t id) {
    const object_rec& o = object(id);
    push(task::reduce_end, id);
    switch (o.how) {
      case call_kind::reduce:
        push(task::write_op, 0, op::REDUCE);
        push_save(o.args);
        push_save(o.callable);
        return true;
      case call_kind::newobj:
        if (proto_ >= 2) {
          push(task::write_op, 0, op::NEWOBJ);
          push_save(o.args);
          push_save(o.callable);
        } else {
          // copyreg.__newobj__(cls, *args), as CPython writes it below protocol 2.
          std::vector<std::uint32_t> args{o.callable};
          for (auto a : items(o.args)) args.push_back(a);
          const std::uint32_t tuple = overlay_container(node_kind::tuple, args);
          push(task::write_op, 0, op::REDUCE);
          push_save(tuple);
          push_save(global_node("copyreg", "__newobj__"));
        }
        return true;
      case call_kind::newobj_ex:
        if (proto_ < 4) return fail(id, "NEWOBJ_EX needs protocol 4");
        push(task::write_op, 0, op::NEWOBJ_EX);
        push_save(o.kwargs);
        push_save(o.args);
        push_save(o.callable);
        return true;
      case call_kind::inst:
      case call_kind::obj: {
        // MARK args INST module name (class named inline) / MARK cls args OBJ.
        const bool inst = o.how == call_kind::inst && nd(o.callable).kind() == node_kind::global;
        if (!inst && proto_ < 1) return fail(id, "OBJ needs protocol 1");
        w_.op(op::MARK);
        if (inst) {
          push(task::inst_end, o.callable);
        } else {
          push(task::write_op, 0, op::OBJ);
        }
        push_save_range(o.args, 0, items(o.args).size());
        if (!inst) push_save(o.callable);
        return true;
      }
    }
    return true;
  }

  bool reduce_end(std::uint32_t id) {
    if (memoized(id)) {
      // Recursive: the object was memoized while its arguments were saved; CPython drops what
      // it wrote and fetches the object, and writes nothing more for it.
      w_.op(op::POP);
      memo_get(id);
      return true;
    }
    memo_put(id);
    if (nd(id).kind() == node_kind::object || nd(id).kind() == node_kind::global) push(task::op_replay, id, 0);
    return true;
  }

  // The operations applied to an object after its creation, replayed as recorded.
  bool op_replay(std::uint32_t id, std::size_t index) {
    const value v(self_, id);
    if (id >= base_) return true;
    const auto ops = v.ops();
    if (index >= ops.size()) return true;
    push(task::op_replay, id, index + 1);
    const applied_op& o = ops[index];
    const auto ids = o.values.ids();
    auto save_all = [&](std::uint8_t closing) {
      push(task::write_op, 0, closing);
      for (std::size_t i = ids.size(); i-- > 0;) push_save(ids[i]);
    };
    switch (o.kind) {
      case op_kind::build: save_all(op::BUILD); break;
      case op_kind::append: save_all(op::APPEND); break;
      case op_kind::setitem: save_all(op::SETITEM); break;
      case op_kind::appends:
      case op_kind::setitems:
        if (proto_ == 0) {
          // No batch opcodes at protocol 0: one APPEND / SETITEM each.
          const bool pairs = o.kind == op_kind::setitems;
          const std::size_t step_n = pairs ? 2 : 1;
          for (std::size_t i = ids.size(); i >= step_n; i -= step_n) {
            push(task::write_op, 0, pairs ? op::SETITEM : op::APPEND);
            for (std::size_t k = step_n; k-- > 0;) push_save(ids[i - step_n + k]);
          }
          break;
        }
        w_.op(op::MARK);
        save_all(o.kind == op_kind::appends ? op::APPENDS : op::SETITEMS);
        break;
      case op_kind::call: {
        // callable(obj, *rest) REDUCE POP, as CPython writes a state_setter: TUPLE2 at every
        // protocol (CPython writes it even at 0 and 1), other sizes as save_tuple would.
        const std::size_t n = ids.size();  // the argument tuple: obj and the n - 1 after it
        const bool marked = n != 2 && (proto_ < 2 || n > 3);
        static constexpr std::uint8_t short_tuple[] = {op::TUPLE1, op::TUPLE2, op::TUPLE3};
        push(task::write_op, 0, op::POP);
        push(task::write_op, 0, op::REDUCE);
        push(task::write_op, 0, marked ? op::TUPLE : short_tuple[n - 1]);
        for (std::size_t i = n; i-- > 1;) push_save(ids[i]);
        push_save(id);
        if (marked) push(task::write_op, 0, op::MARK);
        push_save(ids[0]);
        break;
      }
      case op_kind::additems:
        if (proto_ < 4) return fail(id, "ADDITEMS needs protocol 4");
        w_.op(op::MARK);
        save_all(op::ADDITEMS);
        break;
    }
    return true;
  }

  const document_data& doc_;
  const std::uint32_t base_;
  const encode_options& opt_;
  writer w_;
  const document* self_;
  document_data ov_;
  int proto_ = 0;
  pod_vector<std::uint32_t>& memo_;  // node id -> memo index + 1 (the scratch's)
  std::uint64_t memo_count_ = 0;
  std::map<std::string, std::uint32_t> global_memo_;
  std::map<std::string, std::uint32_t> overlay_globals_;
  std::map<std::string, std::uint32_t> shared_;
  std::array<std::uint64_t, 513> singleton_memo_{};  // singleton_slot -> memo index + 1
  pod_vector<work>& todo_;  // the scratch's
  brine::error err_;
};

}  // namespace

void release_encode_scratch() noexcept { thread_encode_scratch::release(); }

}  // namespace detail

result<std::string> encode(value root, const encode_options& options) {
  detail::thread_encode_scratch scratch;
  detail::pickler p(root.doc(), options, nullptr, scratch.get());
  brine::error err;
  std::string out;
  if (!p.run_into(out, root.id(), err)) return err;
  return out;
}

result<std::size_t> encode_to(value root, const byte_sink& sink, const encode_options& options) {
  detail::thread_encode_scratch scratch;
  detail::pickler p(root.doc(), options, &sink, scratch.get());
  brine::error err;
  if (!p.run(root.id(), err)) return err;
  return p.total();
}

}  // namespace brine
