// lib/typed_encoder.cpp — the non-template part of brine/convert.hpp: CPython's save rules for
// values that exist only as C++ objects (no document, no identity to track beyond globals).
//
// Speed: the common writes (binary scalars, short strs, memo stores and fetches, container
// headers, batch marks, opcode boundaries) are inline in convert.hpp, through the writer's own
// cursor (brine/detail/output.hpp); what is here runs when the buffer must grow or a frame open
// or close, for protocols the inline paths leave out, and for everything else. The objects CPython
// shares (globals, module names, singleton strs, interned strs, codecs' fetch_shared keys) are
// found in one small open-addressing table (a lookup allocates nothing), whose entries with short
// keys are also cached beside the cursor for the inline lookups (detail::typed_hot).
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "brine/convert.hpp"
#include "bulk.hpp"
#include "compat_tables.hpp"
#include "pyformat.hpp"
#include "writer.hpp"

namespace brine {
namespace detail {

// The objects CPython shares, by (namespace, key) -> memo index: open addressing with linear
// probing over a power-of-two table, keys stored once in one string. A lookup hashes the key with a
// few multiplications (keys are short: names, words, codecs' ids) and compares it with memcmp.
class shared_table {
 public:
  const std::uint64_t* find(char space, std::string_view key) const {
    if (count_ == 0) return nullptr;
    // Codecs name their shared objects with the same strings again and again (a struct's keys,
    // string literals): a key found before at the same address is checked against the slot it
    // was found in, without hashing it again. The bytes are still compared: the caller may have
    // changed them since.
    // (String literals sit next to each other: the address is mixed, not just shifted.)
    recent& r = recent_[((reinterpret_cast<std::uintptr_t>(key.data()) ^ key.size()) * 0x9E3779B97F4A7C15ull) >> (64 - recent_bits)];
    if (r.p == key.data() && r.n == key.size() && r.generation == generation_) {
      const slot& s = slots_[r.slot];
      if (holds(s, space, key)) return &s.value;
    }
    const std::uint64_t h = hash(space, key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.len == empty) return nullptr;
      if (s.hash == h && holds(s, space, key)) {
        r = {key.data(), key.size(), generation_, i};
        return &s.value;
      }
    }
  }
  // One hash and one probe: the key's slot if it is there (its value replaced), else the empty
  // slot that ends the probe (after a rehash when the table would pass half full).
  void set(char space, std::string_view key, std::uint64_t value) {
    if (2 * (count_ + 1) > slots_.size()) rehash(slots_.empty() ? 64 : 2 * slots_.size());
    const std::uint64_t h = hash(space, key);
    std::size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      slot& s = slots_[i];
      if (s.len == empty) break;
      if (s.hash == h && holds(s, space, key)) {
        s.value = value;
        return;
      }
    }
    if (keys_.capacity() == 0) keys_.reserve(512);  // a codec's keys: a few dozen short names
    slots_[i] = slot{h, keys_.size(), static_cast<std::uint32_t>(key.size() + 1), value};
    keys_ += space;
    keys_ += key;
    ++count_;
  }

 private:
  static constexpr std::uint32_t empty = 0;  // every key has its namespace byte: len >= 1
  struct slot {
    std::uint64_t hash = 0;
    std::size_t off = 0;
    std::uint32_t len = empty;
    std::uint64_t value = 0;
  };
  static std::uint64_t hash(char space, std::string_view key) {
    std::uint64_t h = (key.size() + static_cast<unsigned char>(space)) * 0x9E3779B97F4A7C15ull;
    const char* p = key.data();
    std::size_t n = key.size();
    for (; n >= 8; p += 8, n -= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    if (n != 0) h = (h ^ short_word(p, n)) * 0x94D049BB133111EBull;
    // The slot is taken from the low bits, which a product draws only from its factors' low
    // bits: fold the high half in and mix again.
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
  }
  // 1 to 8 bytes as one word, by loads that stay inside them (overlapping when n is not a power
  // of two): equal words for equal bytes, and every byte counts.
  static std::uint64_t short_word(const char* p, std::size_t n) {
    if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      return (std::uint64_t{a} << 32) | b;
    }
    const auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
    return (byte(0) << 16) | (byte(n >> 1) << 8) | byte(n - 1);
  }
  // The slot's key is (space, key): the stored bytes are the namespace byte, then the key.
  bool holds(const slot& s, char space, std::string_view key) const {
    return s.len == key.size() + 1 && keys_[s.off] == space && same(keys_.data() + s.off + 1, key);
  }
  static bool same(const char* stored, std::string_view key) {
    const std::size_t n = key.size();
    if (n > 8) return std::memcmp(stored, key.data(), n) == 0;
    return n == 0 || short_word(stored, n) == short_word(key.data(), n);
  }
  void insert(const slot& s) {
    std::size_t i = s.hash & mask_;
    while (slots_[i].len != empty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void rehash(std::size_t size) {
    ++generation_;  // slots move: forget where keys were found
    std::vector<slot> old = std::move(slots_);
    slots_.assign(size, slot{});
    mask_ = size - 1;
    for (const slot& s : old)
      if (s.len != empty) insert(s);
  }
  // Where a key at a given address was found last (find's shortcut).
  struct recent {
    const char* p = nullptr;
    std::size_t n = 0;
    std::uint64_t generation = 0;
    std::size_t slot = 0;
  };
  static constexpr unsigned recent_bits = 6;
  static constexpr std::size_t recent_size = std::size_t{1} << recent_bits;
  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
  std::string keys_;
  mutable std::array<recent, recent_size> recent_{};
  std::uint64_t generation_ = 1;  // recent_ entries of an older generation are stale
};

class typed_writer {
 public:
  explicit typed_writer(const encode_options& opt) : opt_(opt), w_(nullptr) {}

  const encode_options& opt_;
  writer w_;
  typed_hot hot;  // the memo's next index and the inline cache of shared_
  brine::error err;
  bool failed = false;

  [[gnu::always_inline]] void memo_put() { emit_put(w_, opt_.protocol, hot.memo++); }

  // The output's size is unknown up front; growing the buffer by doubling copies it and, for large
  // outputs, faults in fresh pages at every step. So the first container of more than one batch
  // is watched: once its first batch is written, the buffer is sized for all its batches alike.
  void watch(std::size_t n) {
    if (hint_n_ == 0 && n > batch_size) {
      hint_n_ = n;
      hint_start_ = w_.total();
    }
  }
  void batch_written(std::size_t n, std::size_t from, std::size_t end) {
    if (hint_n_ != n || from != 0 || end == 0 || hint_done_) return;
    hint_done_ = true;
    const std::size_t per_batch = w_.total() - hint_start_;
    const std::size_t batches = (n + end - 1) / end;
    // A quarter more than the first batch implies: later items are often longer (counters, keys
    // "k1000" after "k999"), and running out at the end would copy the whole output once more.
    if (per_batch < (std::size_t{1} << 40) / batches) w_.reserve(hint_start_ + per_batch * batches / 4 * 5 + 64);
  }

  /// The memo index of the shared object `key` in `space`, or null. Keys found or set are cached
  /// for typed_encoder's inline lookups.
  const std::uint64_t* find_shared(shared_space space, std::string_view key) {
    const std::uint64_t* m = shared_.find(space, key);
    if (m != nullptr) hot.put(space, key, *m);
    return m;
  }
  void set_shared(shared_space space, std::string_view key, std::uint64_t index) {
    shared_.set(space, key, index);
    hot.put(space, key, index);
  }
  /// A shared object written before: writes its memo fetch and returns true. Otherwise gives
  /// `key` the memo entry the caller is about to write and returns false.
  bool fetch_or_claim(shared_space space, std::string_view key) {
    if (const std::uint64_t* m = find_shared(space, key)) {
      emit_get(w_, opt_.protocol, *m);
      return true;
    }
    set_shared(space, key, hot.memo);
    return false;
  }
  void fail(std::string message) {
    if (failed) return;
    failed = true;
    err.code = errc::bad_argument;
    err.message = std::move(message);
  }

 private:
  shared_table shared_;
  std::size_t hint_n_ = 0;      // items of the watched container (0: none yet)
  std::size_t hint_start_ = 0;  // where its items began
  bool hint_done_ = false;
};

result<std::string> run_typed(const encode_options& options, std::size_t size_hint,
                              void (*fn)(typed_encoder&, const void*), const void* arg) {
  if (options.protocol < 0 || options.protocol > 5) {
    brine::error e;
    e.code = errc::bad_argument;
    e.message = "pickle protocol must be <= 5";
    return e;
  }
  typed_writer tw(options);
  std::string out;
  const bool ok = tw.w_.into_string(out, size_hint, [&] {
    if (options.protocol >= 2) {
      const auto p = static_cast<std::uint8_t>(options.protocol);
      tw.w_.op_arg(op::PROTO, &p, 1);
      if (options.protocol >= 4) tw.w_.start_framing();
    }
    typed_encoder e(tw, tw.w_, tw.hot, options.protocol, options.profile == cpython_profile::cpython_3_15);
    e.boundary();
    fn(e, arg);
    if (tw.failed) return false;
    tw.w_.op(op::STOP);
    return tw.w_.finish();
  });
  if (!ok) return tw.err;
  return out;
}

brine::error conversion_error(value found, std::string_view expected) {
  brine::error e;
  e.code = errc::type_mismatch;
  e.offset = found.offset();
  e.message = "expected " + std::string(expected) + ", found " + std::string(kind_name(found.kind())) +
              " at offset " + std::to_string(found.offset());
  return e;
}

}  // namespace detail


// The slow paths of the inline writes in brine/convert.hpp: the writer's own room check (which
// opens a pending frame and grows the buffer), and the protocols the inline paths leave out.
void typed_encoder::boundary_slow() { w_.w_.opcode_boundary(); }
void typed_encoder::op_slow(std::uint8_t code) { w_.w_.op(code); }
void typed_encoder::memo_put_slow() { detail::emit_put(w_.w_, protocol(), hot_.memo); }
void typed_encoder::memo_get_slow(std::uint64_t index) { detail::emit_get(w_.w_, protocol(), index); }
void typed_encoder::boolean_slow(bool v) { detail::emit_bool(w_.w_, protocol(), v); }
void typed_encoder::integer_slow(std::int64_t v) { detail::emit_int(w_.w_, protocol(), v); }
void typed_encoder::integer_above_int64(std::uint64_t v) {
  std::string le;
  for (int i = 0; i < 8; ++i) le.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  le.push_back('\0');  // the sign byte a value with its top bit set needs
  (void)detail::emit_big_int(w_.w_, protocol(), le, [&] { return std::to_string(v); });  // 20 digits at most
}
void typed_encoder::floating_slow(double v) { detail::emit_float(w_.w_, protocol(), v); }

void typed_encoder::integer_bytes(std::span<const std::byte> le) {
  std::string b(reinterpret_cast<const char*>(le.data()), le.size());
  if (b.empty()) b.push_back('\0');
  // Minimal two's complement, as save_long sizes it: drop sign bytes the next byte implies.
  while (b.size() > 1) {
    const auto top = static_cast<unsigned char>(b[b.size() - 1]), next = static_cast<unsigned char>(b[b.size() - 2]);
    if ((top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80))) b.pop_back();
    else break;
  }
  if (b.size() <= 8) {
    std::uint64_t u = (static_cast<unsigned char>(b.back()) & 0x80) ? ~std::uint64_t{0} : 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
      u &= ~(std::uint64_t{0xff} << (8 * i));
      u |= std::uint64_t{static_cast<unsigned char>(b[i])} << (8 * i);
    }
    return integer(static_cast<std::int64_t>(u));
  }
  if (detail::emit_big_int(w_.w_, protocol(), b, [&] {
        return detail::int_to_decimal(std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size()));
      }) != detail::emit_status::ok)
    return w_.fail("Exceeds the limit (4300 digits) for integer string conversion");
}

namespace {
bool singleton_text(std::string_view s) { return detail::singleton_text(s.data(), s.size()); }

// `n` items of exactly `size` bytes through the writer's raw cursor, a run at a time: after
// CPython's opcode boundary (a frame that reached its target is committed), write(at, i, k)
// stores items i..i+k-1, every one that starts below the frame's limit (at least one, which
// raw_settle made room for).
template <class Write>
void raw_runs(detail::writer& w, std::size_t n, std::size_t size, Write&& write) {
  auto r = w.raw_begin();
  for (std::size_t i = 0; i < n;) {
    w.raw_settle(r, size, size * (n - i));  // a sink's refusal is remembered for finish()
    const std::size_t k = std::min(n - i, std::max<std::size_t>(r.fitting(size), 1));
    write(r.base + r.pos, i, k);
    r.pos += size * k;
    i += k;
  }
  w.raw_end(r);
}

}  // namespace

void typed_encoder::str_slow(std::string_view utf8) {
  if (utf8.size() <= 2 && singleton_text(utf8)) return singleton_str(utf8);
  fresh_str(utf8);
}

void typed_encoder::fresh_str(std::string_view utf8) {
  if (detail::emit_str(w_.w_, protocol(), utf8) != detail::emit_status::ok) return w_.fail("cannot serialize a string larger than 4GiB");
  w_.memo_put();
}

void typed_encoder::ints(std::span<const std::int64_t> items) {
  if (protocol() < 2) {  // INT / LONG text below protocol 2 for some values: one at a time
    for (const std::int64_t v : items) {
      boundary();
      integer(v);
    }
    return;
  }
  // Runs of ints through the bulk kernel: each run ends where the room for 10 bytes an item ends
  // or at the first item that would start at or after the open frame's limit (committed next).
  detail::writer& w = w_.w_;
  auto r = w.raw_begin();
  for (std::size_t i = 0; i < items.size();) {
    w.raw_settle(r, 10, 10 * (items.size() - i));  // a sink's refusal is remembered for finish()
    const std::size_t k = std::min(items.size() - i, (r.cap - r.pos) / 10);
    std::size_t bytes = 0;
    i += detail::put_ints(r.base + r.pos, items.data() + i, k, r.frame_room(), bytes);
    r.pos += bytes;
  }
  w.raw_end(r);
}

void typed_encoder::floats(std::span<const double> items) {
  if (protocol() < 1) {  // FLOAT text
    for (const double v : items) {
      boundary();
      floating(v);
    }
    return;
  }
  raw_runs(w_.w_, items.size(), 9, [&](char* at, std::size_t i, std::size_t k) { detail::put_floats(at, items.data() + i, k); });
}

namespace {
// strs: SHORT_BINUNICODE + MEMOIZE through the raw cursor for runs of short non-singleton strs at
// protocol 4+; anything else (singletons, long strs, older protocols) through str().
template <class S>
void write_strs(typed_encoder& e, detail::typed_writer& tw, std::span<const S> items) {
  std::size_t i = 0;
  const std::size_t n = items.size();
  while (i < n) {
    std::string_view s(items[i]);
    if (e.protocol() < 4 || s.size() > 0xff || (s.size() <= 2 && singleton_text(s))) {
      e.boundary();
      e.str(s);
      ++i;
      continue;
    }
    // The run of strs the raw path takes, in one pass over the items (a vector of std::string is
    // 32 bytes an item: reading it twice costs as much as writing the output).
    auto r = tw.w_.raw_begin();
    const std::size_t from = i;
    do {
      if (r.pos >= r.frame_limit || r.cap - r.pos < 2 + 0xff + 1) [[unlikely]]
        tw.w_.raw_settle(r, 2 + 0xff + 1, (2 + 0xff + 1) * std::min<std::size_t>(n - i, 1024));
      r.pos += detail::put_short_str(r.base + r.pos, s.data(), s.size());
      if (++i == n) break;
      s = std::string_view(items[i]);
    } while (s.size() <= 0xff && !(s.size() <= 2 && singleton_text(s)));
    tw.w_.raw_end(r);
    tw.hot.memo += i - from;
  }
}
}  // namespace

void typed_encoder::strs(std::span<const std::string> items) { write_strs(*this, w_, items); }
void typed_encoder::strs(std::span<const std::string_view> items) { write_strs(*this, w_, items); }

// A str CPython holds as one shared object (interned constants, 1-character latin-1 strs): written
// once, fetched from the memo after. `key` is a shared_space byte and the text; an empty key means
// an ordinary fresh str.
void typed_encoder::shared_str(const std::string& key, std::string_view text) {
  if (!key.empty() && w_.fetch_or_claim(static_cast<detail::shared_space>(key[0]), std::string_view(key).substr(1))) return;
  fresh_str(text);
}

void typed_encoder::interned_str_slow(std::string_view utf8) {
  if (utf8.size() <= 2 && singleton_text(utf8)) return singleton_str(utf8);
  if (!w_.fetch_or_claim(detail::space_interned, utf8)) fresh_str(utf8);
}

void typed_encoder::singleton_str(std::string_view utf8) {
  if (!w_.fetch_or_claim(detail::space_singleton, utf8)) fresh_str(utf8);
}

void typed_encoder::bytes(std::span<const std::byte> data) {
  if (protocol() < 3) {
    // _codecs.encode(latin-1 text, 'latin1'), or bytes() when empty (protocol < 3).
    if (data.empty()) {
      global("builtins", "bytes");
      boundary();
      tuple(0, [](std::size_t) {});
    } else {
      global("_codecs", "encode");
      std::string text;
      for (std::byte b : data) detail::append_code_point(static_cast<char32_t>(b), text);
      boundary();
      begin_tuple(2);
      boundary();
      shared_str(text.size() == data.size() && data.size() == 1 ? "\x02" + text : std::string(), text);
      boundary();
      // 'latin1' is one interned object in CPython: written once, then fetched.
      shared_str("\x01latin1", "latin1");
      end_tuple(2);
    }
    reduce_done();
    return;
  }
  if (detail::emit_bytes(w_.w_, protocol(), data) != detail::emit_status::ok) return w_.fail("cannot serialize a bytes object larger than 4 GiB");
  w_.memo_put();
}

void typed_encoder::bytearray(std::span<const std::byte> data) {
  if (protocol() < 5) {
    global("builtins", "bytearray");
    boundary();
    if (data.empty()) {
      tuple(0, [](std::size_t) {});
    } else {
      begin_tuple(1);
      boundary();
      bytes(data);
      end_tuple(1);
    }
    reduce_done();
    return;
  }
  detail::emit_bytearray8(w_.w_, data);
  w_.memo_put();
}

void typed_encoder::buffer(std::span<const std::byte> data, bool readonly) {
  if (protocol() < 5) return w_.fail("PickleBuffer can only be pickled with protocol >= 5");
  const bool in_band = !w_.opt_.on_buffer || w_.opt_.on_buffer(brine::value(), data, readonly);
  if (in_band) {
    if (readonly) bytes(data);
    else bytearray(data);
    return;
  }
  w_.w_.op(op::NEXT_BUFFER);
  if (readonly) w_.w_.op(op::READONLY_BUFFER);
}

void typed_encoder::global(std::string_view module, std::string_view qualname) {
  std::string key(module);
  key += '\n';
  key += qualname;
  if (const std::uint64_t* m = w_.find_shared(detail::space_global, key)) {
    detail::emit_get(w_.w_, protocol(), *m);
    return;
  }
  if (protocol() >= 4) {
    boundary();
    // The module str is one object for every global of a module (interned: CPython 3.8-3.11 for
    // every class, 3.12+ for Python-defined classes and functions), written once then fetched.
    shared_str("\x03" + std::string(module), module);
    boundary();
    fresh_str(qualname);
    w_.w_.op(op::STACK_GLOBAL);
  } else {
    std::string m(module), n(qualname);
    if (n.find('.') != std::string::npos) return w_.fail("a dotted global name needs protocol 4");
    if (protocol() < 3 && w_.opt_.fix_imports) {
      if (auto mapped = detail::map_for_dump(module, qualname)) {
        m = std::string(mapped->module);
        n = std::string(mapped->name);
      }
    }
    const std::string line = "c" + m + "\n" + n + "\n";
    w_.w_.write(line.data(), line.size());
  }
  w_.set_shared(detail::space_global, key, hot_.memo);
  w_.memo_put();
}

void typed_encoder::begin_list_slow(std::size_t n) {
  w_.watch(n);
  if (protocol() >= 1) {
    w_.w_.op(op::EMPTY_LIST);
  } else {
    const char hdr[2] = {static_cast<char>(op::MARK), static_cast<char>(op::LIST)};
    w_.w_.write(hdr, 2);
  }
  w_.memo_put();
}
void typed_encoder::begin_tuple_slow(std::size_t n) {
  if (n == 0) {
    if (protocol() >= 1) {
      w_.w_.op(op::EMPTY_TUPLE);
    } else {
      const char hdr[2] = {static_cast<char>(op::MARK), static_cast<char>(op::TUPLE)};
      w_.w_.write(hdr, 2);
    }
    return;
  }
  if (n > 3 || protocol() < 2) w_.w_.op(op::MARK);
}
void typed_encoder::end_tuple_slow(std::size_t n) {
  if (n == 0) return;
  if (n > 3 || protocol() < 2) w_.w_.op(op::TUPLE);
  else w_.w_.op(static_cast<std::uint8_t>(op::TUPLE1 + n - 1));
  w_.memo_put();
}

void typed_encoder::begin_dict_slow(std::size_t n) {
  w_.watch(n);
  if (protocol() >= 1) {
    w_.w_.op(op::EMPTY_DICT);
  } else {
    const char hdr[2] = {static_cast<char>(op::MARK), static_cast<char>(op::DICT)};
    w_.w_.write(hdr, 2);
  }
  w_.memo_put();
}

// Below protocol 4 a set is REDUCE(builtins.set, (list,)): the items go through list batching.
void typed_encoder::begin_set(std::size_t n) {
  w_.watch(n);
  if (protocol() >= 4) {
    w_.w_.op(op::EMPTY_SET);
    w_.memo_put();
    return;
  }
  global("builtins", "set");
  boundary();
  begin_tuple(1);
  boundary();
  begin_list(n);
}
void typed_encoder::end_set(std::size_t) {
  if (protocol() >= 4) return;
  end_tuple(1);
  reduce_done();
}


void typed_encoder::fail(std::string message) { w_.fail(std::move(message)); }

bool typed_encoder::fetch_shared_slow(std::string_view key) {
  const std::uint64_t* m = w_.find_shared(detail::space_user, key);
  if (m == nullptr) return false;
  memo_get(*m);
  return true;
}
void typed_encoder::remember_shared(std::string_view key) {
  BRINE_ASSERT(hot_.memo > 0);
  w_.set_shared(detail::space_user, key, hot_.memo - 1);
}

// A container of more than one batch has been sized from its first (typed_writer::watch).
void typed_encoder::batch_written(std::size_t n, std::size_t from, std::size_t end) { w_.batch_written(n, from, end); }

}  // namespace brine
