// lib/pickler.cpp — the encoder: CPython's C pickler (Modules/_pickle.c save() and friends),
// driven by an explicit task stack instead of recursion.
//
// Objects CPython creates while pickling (the `builtins.set` class and the list it passes to
// set() below protocol 4, the latin-1 str of protocol-2 bytes, ...) live in an overlay of extra
// nodes whose ids follow the document's, so one save() path handles both.
#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "brine/encode.hpp"
#include "brine/opcodes.hpp"
#include "compat_tables.hpp"
#include "pyformat.hpp"
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
  std::uint64_t b = 0;
  std::uint64_t c = 0;
};

class pickler {
 public:
  pickler(const document& doc, const encode_options& opt, const byte_sink* sink)
      : doc_(doc.data()), base_(static_cast<std::uint32_t>(doc.data().nodes.size())), opt_(opt), w_(sink), self_(&doc) {}

  bool run(std::uint32_t root, brine::error& err) {
    if (opt_.protocol < 0 || opt_.protocol > highest_protocol)
      return fail(err, 0, "pickle protocol must be <= 5");
    proto_ = opt_.protocol;
    memo_.assign(base_, 0);
    if (proto_ >= 2) {
      const std::uint8_t p = static_cast<std::uint8_t>(proto_);
      w_.op_arg(op::PROTO, &p, 1);
      if (proto_ >= 4) w_.start_framing();
    }
    todo_.push_back({task::save, root});
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

  std::string& output() { return w_.buffer(); }
  std::size_t total() const { return w_.total(); }

 private:
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

  void push(task k, std::uint32_t a, std::uint64_t b = 0, std::uint64_t c = 0) { todo_.push_back({k, a, b, c}); }
  void push_save(std::uint32_t id) { push(task::save, id); }
  // Saves items [from, to) of container `id`, in order, then whatever was pushed before.
  void push_save_range(std::uint32_t id, std::size_t from, std::size_t to) {
    if (from < to) push(task::save_range, id, from, to);
  }

  // ---- scalars
  void save_int(const node& n, std::uint32_t id) {
    if (n.kind() == node_kind::int64) {
      emit_int(w_, proto_, n.i);
      return;
    }
    const value v(self_, id);
    emit_big_int(w_, proto_, v.int_bytes(), [&] { return v.int_decimal(); });
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

  std::string singleton_key(std::uint32_t id) const {
    const std::string_view s = text(id);
    if (s.empty()) return std::string(1, '\0');
    std::size_t i = 0;
    const char32_t cp = next_code_point(s, i);
    if (i != s.size() || cp >= 0x100) return {};
    const bool separate = opt_.profile == cpython_profile::cpython_3_11 && id >= base_;
    return std::string(1, separate ? '\2' : '\1') + std::string(s);
  }

  // ---- the dispatch of save()
  bool step(const work& t) {
    switch (t.kind) {
      case task::save: return save(t.a);
      case task::save_range: {
        const auto its = items(t.a);
        const std::size_t i = static_cast<std::size_t>(t.b);
        if (i + 1 < t.c) push(task::save_range, t.a, i + 1, t.c);
        return save(its[i]);
      }
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
      case node_kind::bigint: save_int(n, id); return true;
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
    if (n.kind() == node_kind::str) {
      // CPython keeps one object for '' and for each 1-character latin-1 str (its own strings
      // and those made while pickling, e.g. bytes' latin-1 text below protocol 3): one memo
      // entry per value, whichever node holds it.
      if (const std::string key = singleton_key(id); !key.empty()) {
        if (const auto it = singleton_memo_.find(key); it != singleton_memo_.end()) {
          write_get(it->second);
          return true;
        }
        if (!memoized(id)) {
          singleton_memo_.emplace(key, memo_count_);
          return save_str(id);
        }
      }
    }
    if (n.kind() == node_kind::global) {
      if (const std::uint32_t m = global_memo_find(id)) {
        write_get(m - 1);
        return true;
      }
    } else if (memoized(id)) {
      memo_get(id);
      return true;
    }
    switch (n.kind()) {
      case node_kind::str: return save_str(id);
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
        if (!items(id).empty()) push(task::list_batch, id, 0);
        return true;
      }
      case node_kind::dict: {
        if (proto_ >= 1) {
          w_.op(op::EMPTY_DICT);
        } else {
          const char hdr[2] = {static_cast<char>(op::MARK), static_cast<char>(op::DICT)};
          w_.write(hdr, 2);
        }
        memo_put(id);
        if (!items(id).empty()) push(task::dict_batch, id, 0);
        return true;
      }
      case node_kind::set: {
        if (proto_ < 4) {
          const std::uint32_t list = overlay_container(node_kind::list, items(id));
          synthetic_reduce(id, "builtins", "set", std::span<const std::uint32_t>(&list, 1));
          return true;
        }
        w_.op(op::EMPTY_SET);
        memo_put(id);
        if (!items(id).empty()) push(task::set_batch, id, 0);
        return true;
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
    if (proto_ < 3) {
      for (char c : mod_s + name_s)
        if (static_cast<unsigned char>(c) >= 0x80)
          return fail(id, "can't pickle module identifier '" + mod_s + "' using pickle protocol " + std::to_string(proto_));
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
  std::vector<std::uint32_t> memo_;  // node id -> memo index + 1
  std::uint64_t memo_count_ = 0;
  std::map<std::string, std::uint32_t> global_memo_;
  std::map<std::string, std::uint32_t> overlay_globals_;
  std::map<std::string, std::uint32_t> shared_;
  std::map<std::string, std::uint64_t> singleton_memo_;  // '' and 1-char latin-1 strs -> memo index
  std::vector<work> todo_;
  brine::error err_;
};

}  // namespace
}  // namespace detail

result<std::string> encode(value root, const encode_options& options) {
  detail::pickler p(root.doc(), options, nullptr);
  brine::error err;
  if (!p.run(root.id(), err)) return err;
  return std::move(p.output());
}

result<std::size_t> encode_to(value root, const byte_sink& sink, const encode_options& options) {
  detail::pickler p(root.doc(), options, &sink);
  brine::error err;
  if (!p.run(root.id(), err)) return err;
  return p.total();
}

}  // namespace brine
