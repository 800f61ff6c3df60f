// brine/convert.hpp — C++ types to pickles and back, without building documents by hand.
//
// Encoding: `brine::pickle(value, options)` writes what CPython's pickle.dumps writes for the
// Python object the C++ value stands for:
//
//   bool -> bool;  signed/unsigned integers of every width -> int;  float/double -> float;
//   std::string / std::string_view / const char* -> str (UTF-8 expected, written as given);
//   brine::bytes_view, std::vector<std::byte>, std::vector<std::uint8_t> -> bytes;
//   std::vector / std::array / std::list / std::deque -> list;  std::tuple / std::pair -> tuple;
//   std::map / std::unordered_map -> dict;  std::set / std::unordered_set -> set;
//   std::optional -> None or the value;  std::variant -> the held alternative;
//   brine::out_of_band<T> (a span of trivially copyable T) -> a PEP 574 PickleBuffer: through the
//   options' buffer callback (out-of-band, never copied) or in-band as bytes.
//
// User types join through one customization point, `brine::codec<T>`:
//
//   template <> struct brine::codec<point> {
//     static void encode(brine::typed_encoder& e, const point& p) {       // types.SimpleNamespace
//       e.object("types", "SimpleNamespace", [&] { e.dict_of("x", p.x, "y", p.y); });
//     }
//     static brine::result<point> decode(brine::value v);                  // optional
//   };
//
// Every C++ value is a distinct Python object (no sharing is invented); strings, bytes and
// containers are memoized as CPython memoizes them, so the bytes match pickle.dumps exactly.
// Depth follows the C++ type, not untrusted data.
//
// Decoding: `brine::from_value<T>(value)` converts a decoded value, with an error naming the
// expected and found kinds and the offset: "expected list, found dict at offset 812". Integers are
// range-checked; a float target accepts int; std::optional accepts None; std::variant takes the
// first alternative that converts.
//
// Thread-safety: encoders and conversions share nothing; a document may be converted from several
// threads at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "brine/detail/output.hpp"
#include "brine/document.hpp"
#include "brine/encode.hpp"
#include "brine/error.hpp"

namespace brine {

/// Customization point: specialize with `static void encode(typed_encoder&, const T&)` and,
/// optionally, `static result<T> decode(value)`.
template <class T, class = void>
struct codec;

/// Bytes to be written as a Python `bytes` object.
struct bytes_view {
  std::span<const std::byte> data;
};

/// A contiguous array of trivially copyable elements written as a PEP 574 PickleBuffer. The
/// referenced memory must outlive the encode call.
template <class T>
struct out_of_band {
  static_assert(std::is_trivially_copyable_v<T>, "out-of-band buffers hold trivially copyable elements");
  std::span<const T> data;
  bool readonly = true;
};

/// A str CPython holds as one object for the whole pickle, whatever the C++ side holds: an
/// interned name, a word of a vocabulary the data shares. Written as typed_encoder::interned_str
/// writes it: once per pickle, fetched from the memo after (found by its text). The text must
/// outlive the encode call.
struct interned {
  std::string_view text;
};

/// A list of interned strs (see `interned`) over a contiguous range of std::string or
/// std::string_view: `interned_list{record.tags}` for tags drawn from a vocabulary. The range
/// must outlive the encode call.
template <class S>
struct interned_list {
  std::span<const S> items;
};
template <class C> interned_list(const C&) -> interned_list<typename C::value_type>;

namespace detail {
class typed_writer;

// Namespaces of the typed encoder's shared objects: one byte before the key.
enum shared_space : char {
  space_constant = '\x01',   // 'latin1' and other interned constants the pickler itself writes
  space_singleton = '\x02',  // singleton_str texts
  space_module = '\x03',     // module names of STACK_GLOBAL
  space_user = '\x04',       // fetch_shared / remember_shared keys
  space_global = '\x05',     // module '\n' qualname of GLOBAL / STACK_GLOBAL
  space_interned = '\x06',   // interned_str texts (dict_of keys)
};

/// The state typed_encoder's inline paths share with lib/typed_encoder.cpp besides the output
/// cursor: the memo's next index, and a small cache of the shared objects with keys of at most
/// 16 bytes (dict_of's keys, codecs' vocabulary words), so that fetching one of those is a
/// lookup without a call. The cache holds copies of entries of the full table there (which fills
/// it): an entry found here is the table's.
struct typed_hot {
  static constexpr std::size_t max_cached = 16;
  static constexpr unsigned slot_bits = 7;  // 128 slots
  struct slot {
    std::uint64_t w0 = 0, w1 = 0;  // the key's bytes (key_words)
    std::uint64_t tag = 0;         // tag_of(namespace, length); 0: an empty slot
    std::uint64_t memo = 0;
    /// Whether the slot holds the key: one test of all its fields, without a branch each.
    [[gnu::always_inline]] bool holds(std::uint64_t t, std::uint64_t a, std::uint64_t b) const {
      return ((w0 ^ a) | (w1 ^ b) | (tag ^ t)) == 0;
    }
  };
  std::uint64_t memo = 0;  // the memo index the next stored object gets
  // A cuckoo table: a key is in one of its two slots (places()) or not cached. A codec's few dozen
  // keys (a struct's field names, a vocabulary) then all fit, where sets of a fixed number of
  // slots evict each other's keys as soon as three of them share a set.
  alignas(64) std::array<slot, std::size_t{1} << slot_bits> cache{};

  /// A key's namespace and length in one word, never 0 (every shared_space is nonzero).
  [[gnu::always_inline]] static std::uint64_t tag_of(char space, std::size_t n) {
    return (std::uint64_t{n} << 8) | static_cast<unsigned char>(space);
  }
  /// A key of at most 16 bytes as two words, by loads that stay inside it (overlapping when its
  /// length is not a power of two): with the length, equal words for equal bytes and only then.
  [[gnu::always_inline]] static void key_words(const char* p, std::size_t n, std::uint64_t& w0, std::uint64_t& w1) {
    w0 = w1 = 0;
    if (n >= 8) {
      std::memcpy(&w0, p, 8);
      std::memcpy(&w1, p + n - 8, 8);
    } else if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      w0 = a | (std::uint64_t{b} << 32);
    } else if (n != 0) {
      const auto byte = [p](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
      w0 = byte(0) | (byte(n >> 1) << 8) | (byte(n - 1) << 16);
    }
  }
  // The key's two slots, from two parts of one hash.
  [[gnu::always_inline]] static std::uint64_t places(std::uint64_t tag, std::uint64_t w0, std::uint64_t w1) {
    return (w0 ^ (w1 * 0xC2B2AE3D27D4EB4Full) ^ tag) * 0x9E3779B97F4A7C15ull;
  }
  [[gnu::always_inline]] static std::size_t first_place(std::uint64_t h) { return static_cast<std::size_t>(h >> (64 - slot_bits)); }
  [[gnu::always_inline]] static std::size_t second_place(std::uint64_t h) {
    return static_cast<std::size_t>(h >> (64 - 2 * slot_bits)) & ((std::size_t{1} << slot_bits) - 1);
  }
  /// The memo index cached for (space, key), or null. Precondition: key.size() <= max_cached.
  /// Both slots are tested and the match selected without a branch: which of the two holds a
  /// key is as good as random.
  [[gnu::always_inline]] const std::uint64_t* find(char space, std::string_view key) const {
    std::uint64_t w0, w1;
    key_words(key.data(), key.size(), w0, w1);
    const std::uint64_t t = tag_of(space, key.size());
    const std::uint64_t h = places(t, w0, w1);
    const slot& a = cache[first_place(h)];
    const slot& b = cache[second_place(h)];
    const bool in_a = a.holds(t, w0, w1), in_b = b.holds(t, w0, w1);
    if (!(in_a | in_b)) return nullptr;
    return in_a ? &a.memo : &b.memo;
  }
  /// find() for a key that is the same at every call from one place in the code (a dict_of key
  /// literal, whose slots the compiler computes): which slot holds it does not change from one
  /// call to the next, so testing the first, then the second, is a branch always predicted, and
  /// most calls test one slot.
  [[gnu::always_inline]] const std::uint64_t* find_constant(char space, std::string_view key) const {
    std::uint64_t w0, w1;
    key_words(key.data(), key.size(), w0, w1);
    const std::uint64_t t = tag_of(space, key.size());
    const std::uint64_t h = places(t, w0, w1);
    const slot& a = cache[first_place(h)];
    if (a.holds(t, w0, w1)) return &a.memo;
    const slot& b = cache[second_place(h)];
    if (b.holds(t, w0, w1)) return &b.memo;
    return nullptr;
  }
  /// Caches the table's entry for (space, key) (any key; longer ones are not cached): in the slot
  /// that holds it, else by cuckoo insertion (an entry in the way moves to its other slot); after
  /// a bounded number of moves the entry still homeless is dropped (the table keeps it).
  void put(char space, std::string_view key, std::uint64_t value) {
    if (key.size() > max_cached) return;
    std::uint64_t w0, w1;
    key_words(key.data(), key.size(), w0, w1);
    slot entry{w0, w1, tag_of(space, key.size()), value};
    std::uint64_t h = places(entry.tag, w0, w1);
    for (const std::size_t at : {first_place(h), second_place(h)})
      if (cache[at].holds(entry.tag, w0, w1)) {
        cache[at].memo = value;
        return;
      }
    std::size_t at = cache[first_place(h)].tag == 0 ? first_place(h) : second_place(h);
    for (int moves = 0; moves < 32; ++moves) {
      std::swap(entry, cache[at]);
      if (entry.tag == 0) return;
      h = places(entry.tag, entry.w0, entry.w1);
      at = at == first_place(h) ? second_place(h) : first_place(h);
    }
  }
};
}  // namespace detail

/// Writes CPython's opcodes for one Python object at a time. Obtained from brine::pickle; used by
/// codec specializations. Not copyable; valid during the encode call only.
class typed_encoder {
 public:
  /// Made by brine::pickle for one encode: `out` and `hot` are `w`'s cursor and inline state.
  typed_encoder(detail::typed_writer& w, detail::output_cursor& out, detail::typed_hot& hot, int protocol, bool harmonized)
      : w_(w), out_(out), hot_(hot), proto_(protocol), harmonized_(harmonized) {}
  typed_encoder(const typed_encoder&) = delete;
  typed_encoder& operator=(const typed_encoder&) = delete;

  int protocol() const noexcept { return proto_; }

  // Scalars. (The common cases are inline: a room check and a few stores.)
  [[gnu::always_inline]] void none() { op1(op::NONE); }
  [[gnu::always_inline]] void boolean(bool v) {
    if (proto_ >= 2) return op1(v ? op::NEWTRUE : op::NEWFALSE);
    boolean_slow(v);
  }
  [[gnu::always_inline]] void integer(std::int64_t v) {
    if (proto_ >= 2)
      if (out_.fits(10)) {
        char* const at = out_.cur;
        out_.cur += detail::put_int(at, v);
        return;
      }
    integer_slow(v);
  }
  [[gnu::always_inline]] void integer(std::uint64_t v) {
    if (v <= static_cast<std::uint64_t>(INT64_MAX)) return integer(static_cast<std::int64_t>(v));
    integer_above_int64(v);
  }
  [[gnu::always_inline]] void floating(double v) {
    if (proto_ >= 1)
      if (out_.fits(9)) {
        char* const at = out_.cur;
        out_.cur += detail::put_float(at, v);
        return;
      }
    floating_slow(v);
  }
  /// An int of any size given as little-endian two's-complement bytes (value::int_bytes()'s form;
  /// any length, an empty span is 0): what save_long writes for it.
  void integer_bytes(std::span<const std::byte> le_twos_complement);
  [[gnu::always_inline]] void str(std::string_view utf8) {
    const std::size_t n = utf8.size();
    if (proto_ >= 4 && n <= 0xff && !(n <= 2 && detail::singleton_text(utf8.data(), n)))
      if (out_.fits(n + 3)) {
        out_.cur += detail::put_short_str(out_.cur, utf8.data(), n);
        ++hot_.memo;
        return;
      }
    str_slow(utf8);
  }
  /// A str CPython keeps as one object (its 1-character latin-1 strs, interned names): written
  /// once per pickle, fetched from the memo after — shared with the latin-1 text that protocols
  /// below 3 write for 1-byte bytes.
  void singleton_str(std::string_view utf8);
  /// A str CPython keeps as one object for the whole pickle, whatever the C++ side holds: the
  /// constant keys of a dict display (`{"name": ...}` in Python source, which every dict that
  /// line makes shares), attribute names, other interned strs. Written once per pickle, fetched
  /// from the memo after (found by its text).
  [[gnu::always_inline]] void interned_str(std::string_view utf8) {
    if (utf8.size() <= detail::typed_hot::max_cached)
      if (const std::uint64_t* m = hot_.find(detail::space_interned, utf8)) return memo_get(*m);
    interned_str_slow(utf8);
  }
  void bytes(std::span<const std::byte> data);
  void bytearray(std::span<const std::byte> data);
  /// A PickleBuffer over `data` (protocol 5): the options' buffer callback decides in-band or
  /// out-of-band. Errors below protocol 5 (reported when pickle() returns).
  void buffer(std::span<const std::byte> data, bool readonly);

  // Containers: `n` items, then `item(i)` is called for i = 0..n-1 (for dicts `pair(i)` must write a
  // key then a value).
  template <class F> void list(std::size_t n, F&& item) { begin_list(n); batch(n, item, list_batches); end_list(n); }
  template <class F> void tuple(std::size_t n, F&& item) {
    begin_tuple(n);
    for (std::size_t i = 0; i < n; ++i) { boundary(); item(i); }
    end_tuple(n);
  }
  template <class F> void dict(std::size_t n, F&& pair) { begin_dict(n); batch(n, pair, dict_batches); end_dict(n); }
  template <class F> void set(std::size_t n, F&& item) { begin_set(n); batch(n, item, set_batches); end_set(n); }

  /// A list of the elements of a contiguous range, the same bytes as list(n, ...) with value() per
  /// element, written a batch at a time without a call per element. Elements: integers of every
  /// width, float / double, std::string, std::string_view. value() takes this path for
  /// std::vector and std::array of those types.
  template <class T> void list_of(std::span<const T> items);
  /// Consecutive items (each after its opcode boundary, as value() in a batch): the building
  /// blocks of list_of, also usable inside a codec's own batches.
  void ints(std::span<const std::int64_t> items);
  void floats(std::span<const double> items);
  void strs(std::span<const std::string> items);
  void strs(std::span<const std::string_view> items);

  /// A dict of str keys to values: dict_of("x", 1, "y", 2.5). The keys are interned_str()s, as
  /// the keys of a dict display in Python source are: a codec writing many such dicts writes each
  /// key once.
  template <class... KV> [[gnu::always_inline]] void dict_of(const KV&... kv);

  /// A global reference (a class or function) module.qualname.
  void global(std::string_view module, std::string_view qualname);
  /// module.name(*args) then BUILD with the state `write_state` writes (a dict, usually): how
  /// CPython pickles most instances whose class reduces to (cls, args, state).
  template <class Args, class State> void object(std::string_view module, std::string_view name, Args&& write_args, State&& write_state) {
    global(module, name);
    boundary();
    write_args();
    reduce_done();
    boundary();
    write_state();
    build_done();
  }
  /// module.name() with a state dict: types.SimpleNamespace and plain instances.
  template <class State> void object(std::string_view module, std::string_view name, State&& write_state) {
    object(module, name, [&] { tuple(0, [](std::size_t) {}); }, std::forward<State>(write_state));
  }

  /// Write any supported value (dispatches on its type, or its codec).
  template <class T> void value(const T& v);

  // Building blocks for the templates above.
  [[gnu::always_inline]] void boundary() {
    if (out_.frame_full()) [[unlikely]]
      boundary_slow();
  }
  [[gnu::always_inline]] void begin_list(std::size_t n) {
    if (proto_ >= 1 && n <= detail::batch_size) {
      op1(op::EMPTY_LIST);
      return memo_put();
    }
    begin_list_slow(n);
  }
  void end_list(std::size_t) {}
  [[gnu::always_inline]] void begin_tuple(std::size_t n) {
    if (proto_ < 2) return begin_tuple_slow(n);
    if (n == 0) op1(op::EMPTY_TUPLE);
    else if (n > 3) op1(op::MARK);
  }
  [[gnu::always_inline]] void end_tuple(std::size_t n) {
    if (proto_ < 2) return end_tuple_slow(n);
    if (n == 0) return;
    op1(n > 3 ? op::TUPLE : static_cast<std::uint8_t>(op::TUPLE1 + n - 1));
    memo_put();
  }
  [[gnu::always_inline]] void begin_dict(std::size_t n) {
    if (proto_ >= 1 && n <= detail::batch_size) {
      op1(op::EMPTY_DICT);
      return memo_put();
    }
    begin_dict_slow(n);
  }
  void end_dict(std::size_t) {}
  void begin_set(std::size_t n);
  void end_set(std::size_t n);
  /// CPython's batches (batch_list_exact, batch_dict_exact, save_set; container is list_batches,
  /// dict_batches or set_batches): before the items [from, batch_end(n, from, container)) of a
  /// container of n, and after them.
  [[gnu::always_inline]] void batch_open(std::size_t n, std::size_t from, int container) {
    if (!single_batch(n, from, batch_end(n, from, container), container)) op1(op::MARK);
  }
  [[gnu::always_inline]] void batch_close(std::size_t n, std::size_t from, std::size_t end, int container) {
    if (n > detail::batch_size) batch_written(n, from, end);
    const bool single = single_batch(n, from, end, container);
    if (container == set_batches && proto_ >= 4) op1(op::ADDITEMS);
    else if (container == dict_batches) op1(single ? op::SETITEM : op::SETITEMS);
    else op1(single ? op::APPEND : op::APPENDS);
  }
  [[gnu::always_inline]] void reduce_done() {
    op1(op::REDUCE);
    memo_put();
  }
  void build_done() { op1(op::BUILD); }
  /// NEWOBJ after a class and an argument tuple: cls.__new__(cls, *args), what save_reduce writes
  /// for copyreg.__newobj__. Protocol 2 and up (an error below: write copyreg._reconstructor).
  void newobj_done() {
    if (proto_ < 2) return fail("NEWOBJ needs pickle protocol 2 or higher");
    op1(op::NEWOBJ);
    memo_put();
  }

  /// Objects CPython holds once per pickle whatever the C++ side holds (interned and 1-character
  /// strs, cached instances such as numpy's builtin dtypes). `fetch_shared(key)` writes a memo GET
  /// and returns true when an object was remembered under `key`; `remember_shared(key)` gives that
  /// name to the object whose memo entry was stored last.
  [[gnu::always_inline]] bool fetch_shared(std::string_view key) {
    if (key.size() <= detail::typed_hot::max_cached) {
      if (const std::uint64_t* m = hot_.find(detail::space_user, key)) {
        memo_get(*m);
        return true;
      }
    }
    return fetch_shared_slow(key);
  }
  void remember_shared(std::string_view key);
  /// The same by memo index, without hashing a key: last_memo_index() is CPython's memo number of
  /// the object stored last (precondition: one was), memo_get(index) writes a fetch of it (BINGET /
  /// LONG_BINGET / GET), the same Python object again. For codecs that know their shared objects
  /// by position (a pool, a table of interned values).
  std::uint64_t last_memo_index() const {
    BRINE_ASSERT(hot_.memo > 0);
    return hot_.memo - 1;
  }
  [[gnu::always_inline]] void memo_get(std::uint64_t index) {
    BRINE_ASSERT(index < hot_.memo);
    if (proto_ >= 1)
      if (out_.fits(5)) {
        char* const at = out_.cur;
        out_.cur += detail::put_get(at, index);
        return;
      }
    memo_get_slow(index);
  }

  /// Fail the encode (codecs of values CPython could not pickle): brine::pickle returns
  /// errc::bad_argument with `message`; the first failure wins.
  void fail(std::string message);

  static constexpr int list_batches = 1, dict_batches = 2, set_batches = 3;

 private:
  friend class detail::typed_writer;
  // One opcode byte.
  [[gnu::always_inline]] void op1(std::uint8_t code) {
    if (out_.fits(1)) {
      *out_.cur = static_cast<char>(code);
      ++out_.cur;
      return;
    }
    op_slow(code);
  }
  // The memo store of the object just written.
  [[gnu::always_inline]] void memo_put() {
    if (proto_ >= 4) op1(op::MEMOIZE);
    else memo_put_slow();
    ++hot_.memo;
  }
  // dict_of's writes go through a copy of the cursor and of the memo counter in locals, which
  // the compiler keeps in registers: through out_, every byte stored to the output (a char store,
  // which may alias any object) makes it load the cursor again. The copy is given back before
  // anything else writes and taken again after. A pending frame shows as no room, so the first
  // write goes the writer's way, which opens it.
  struct local_cursor {
    char* base;
    char* cur;
    char* end;
    std::size_t frame_limit;
    std::uint64_t memo;
    [[gnu::always_inline]] bool fits(std::size_t n) const { return n <= static_cast<std::size_t>(end - cur); }
  };
  [[gnu::always_inline]] local_cursor take_cursor() const {
    return {out_.base, out_.cur, out_.frame_pending ? out_.cur : out_.end, out_.frame_limit, hot_.memo};
  }
  [[gnu::always_inline]] void give_cursor(const local_cursor& c) {
    out_.cur = c.cur;
    hot_.memo = c.memo;
  }
  [[gnu::always_inline]] void local_boundary(local_cursor& c) {
    if (static_cast<std::size_t>(c.cur - c.base) >= c.frame_limit) [[unlikely]] {
      give_cursor(c);
      boundary_slow();
      c = take_cursor();
    }
  }
  [[gnu::always_inline]] void local_op(local_cursor& c, std::uint8_t code) {
    if (c.fits(1)) [[likely]] {
      *c.cur++ = static_cast<char>(code);
      return;
    }
    give_cursor(c);
    op1(code);
    c = take_cursor();
  }
  [[gnu::always_inline]] void local_memo_put(local_cursor& c, int proto) {
    if (proto >= 4 && c.fits(1)) [[likely]] {
      *c.cur++ = static_cast<char>(op::MEMOIZE);
      ++c.memo;
      return;
    }
    give_cursor(c);
    memo_put();
    c = take_cursor();
  }
  // An interned str: a dict_of key (`constant`: the same text at every call from there) or an
  // interned value.
  template <bool constant = false> [[gnu::always_inline]] void local_key(local_cursor& c, std::string_view key, int proto) {
    if (proto >= 1 && key.size() <= detail::typed_hot::max_cached && c.fits(5))
      if (const std::uint64_t* m = constant ? hot_.find_constant(detail::space_interned, key) : hot_.find(detail::space_interned, key)) {
        c.cur += detail::put_get(c.cur, *m);
        return;
      }
    give_cursor(c);
    interned_str(key);
    c = take_cursor();
  }
  // A value of a type with a store here (bool, integers, floats, None, short strs), else value().
  template <class V> void local_value(local_cursor& c, const V& v, int proto);

  // Out of line (lib/typed_encoder.cpp): the writer's slow paths, older protocols, the full
  // shared-object table.
  void boundary_slow();
  void op_slow(std::uint8_t code);
  void memo_put_slow();
  void memo_get_slow(std::uint64_t index);
  void boolean_slow(bool v);
  void integer_slow(std::int64_t v);
  void integer_above_int64(std::uint64_t v);
  void floating_slow(double v);
  void str_slow(std::string_view utf8);
  void interned_str_slow(std::string_view utf8);
  bool fetch_shared_slow(std::string_view key);
  void begin_list_slow(std::size_t n);
  void begin_dict_slow(std::size_t n);
  void begin_tuple_slow(std::size_t n);
  void end_tuple_slow(std::size_t n);
  void batch_written(std::size_t n, std::size_t from, std::size_t end);
  void shared_str(const std::string& key, std::string_view text);
  void fresh_str(std::string_view utf8);

  // CPython's batches of `n` items: run(from, end) writes items [from, end) of each.
  template <class F> void batches(std::size_t n, F&& run, int container) {
    for (std::size_t from = 0;;) {
      const std::size_t end = batch_end(n, from, container);
      if (end == batch_none) break;
      batch_open(n, from, container);
      run(from, end);
      batch_close(n, from, end, container);
      if (end == from) break;  // CPython's empty tail batch ends the loop
      from = end;
    }
  }
  template <class F> void batch(std::size_t n, F& item, int container) {
    batches(n, [&](std::size_t from, std::size_t end) {
      for (std::size_t i = from; i < end; ++i) { boundary(); item(i); }
    }, container);
  }
  static constexpr std::size_t batch_none = static_cast<std::size_t>(-1);
  static constexpr std::size_t batch_limit = detail::batch_size;
  // The end of the batch starting at `from` (batch_none: no more batches). Below protocol 4 a set
  // is batched as the list it is rebuilt from.
  [[gnu::always_inline]] std::size_t batch_end(std::size_t n, std::size_t from, int container) const {
    if (container == set_batches && proto_ < 4) container = list_batches;
    if (n == 0) return batch_none;
    const bool singles = proto_ == 0 || (n == 1 && container != set_batches);
    if (singles) return from < n ? from + 1 : batch_none;
    if (from < n) return n - from < batch_limit ? n : from + batch_limit;
    // CPython 3.8-3.14 repeat dict and set batches while the last one was full.
    if (!harmonized_ && container != list_batches && from % batch_limit == 0) return from;
    return batch_none;
  }
  // A batch written without MARK, its items followed by APPEND / SETITEM one at a time.
  [[gnu::always_inline]] bool single_batch(std::size_t n, std::size_t from, std::size_t end, int container) const {
    if (container == set_batches && proto_ < 4) container = list_batches;
    return proto_ == 0 || (n == 1 && container != set_batches) || (harmonized_ && container != set_batches && end - from == 1);
  }

  detail::typed_writer& w_;
  detail::output_cursor& out_;
  detail::typed_hot& hot_;
  int proto_;
  bool harmonized_;  // cpython_profile::cpython_3_15's batching
};

/// Encode a C++ value into a pickle, byte-identical to CPython's pickle.dumps of the equivalent
/// Python object at the same protocol.
template <class T> result<std::string> pickle(const T& v, const encode_options& options = {});

/// Convert a decoded value to T (see the list above), with precise errors.
template <class T> result<T> from_value(value v);

// ------------------------------------------------------------------------------------------------
// Implementation details below.

namespace detail {
// `size_hint`: the pickle's size when known before writing it (pickled_size_hint), else 0.
result<std::string> run_typed(const encode_options& options, std::size_t size_hint,
                              void (*fn)(typed_encoder&, const void*), const void* arg);
brine::error conversion_error(value found, std::string_view expected);

template <class T> struct is_vector_like : std::false_type {};
template <class T, class A> struct is_vector_like<std::vector<T, A>> : std::true_type {};
template <class T, class A> struct is_vector_like<std::list<T, A>> : std::true_type {};
template <class T, class A> struct is_vector_like<std::deque<T, A>> : std::true_type {};
template <class T> inline constexpr bool is_list_of_element =
    (std::is_integral_v<T> && !std::is_same_v<T, bool> && sizeof(T) <= 8) || std::is_same_v<T, double> ||
    std::is_same_v<T, float> || std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>;
// Contiguous containers whose elements list_of writes.
template <class T> struct is_fast_list : std::false_type {};
template <class T, class A> struct is_fast_list<std::vector<T, A>> : std::bool_constant<is_list_of_element<T>> {};
template <class T, std::size_t N> struct is_fast_list<std::array<T, N>> : std::bool_constant<is_list_of_element<T>> {};
template <class T> struct is_array : std::false_type {};
template <class T, std::size_t N> struct is_array<std::array<T, N>> : std::true_type {};
template <class T> struct is_tuple_like : std::false_type {};
template <class... Ts> struct is_tuple_like<std::tuple<Ts...>> : std::true_type {};
template <class A, class B> struct is_tuple_like<std::pair<A, B>> : std::true_type {};
template <class T> struct is_map : std::false_type {};
template <class K, class V, class C, class A> struct is_map<std::map<K, V, C, A>> : std::true_type {};
template <class K, class V, class H, class E, class A> struct is_map<std::unordered_map<K, V, H, E, A>> : std::true_type {};
template <class T> struct is_set : std::false_type {};
template <class K, class C, class A> struct is_set<std::set<K, C, A>> : std::true_type {};
template <class K, class H, class E, class A> struct is_set<std::unordered_set<K, H, E, A>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_variant : std::false_type {};
template <class... Ts> struct is_variant<std::variant<Ts...>> : std::true_type {};
template <class T> struct is_oob : std::false_type {};
template <class T> struct is_oob<out_of_band<T>> : std::true_type {};
template <class T> inline constexpr bool is_byte_vector_v =
    std::is_same_v<T, std::vector<std::byte>> || std::is_same_v<T, std::vector<std::uint8_t>>;
template <class T, class = void> struct has_codec_encode : std::false_type {};
template <class T> struct has_codec_encode<T, std::void_t<decltype(codec<T>::encode(std::declval<typed_encoder&>(), std::declval<const T&>()))>> : std::true_type {};
template <class T, class = void> struct has_codec_decode : std::false_type {};
template <class T> struct has_codec_decode<T, std::void_t<decltype(codec<T>::decode(std::declval<brine::value>()))>> : std::true_type {};
template <class> inline constexpr bool always_false = false;
template <class T> struct is_interned_list : std::false_type {};
template <class S> struct is_interned_list<interned_list<S>> : std::true_type {};
// The values dict_of writes through its local cursor (typed_encoder::local_value).
template <class U> inline constexpr bool is_local_scalar =
    std::is_same_v<U, bool> || (std::is_integral_v<U> && sizeof(std::conditional_t<std::is_integral_v<U>, U, char>) <= 8) ||
    std::is_floating_point_v<U> ||
    std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t> || std::is_same_v<U, std::monostate> ||
    std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view> || std::is_same_v<U, interned>;
// Lists of those (std::vector, std::array, interned_list): written there too when they fit one batch.
template <class T> struct local_list_element { using type = void; };
template <class T, class A> struct local_list_element<std::vector<T, A>> { using type = T; };
template <class T, std::size_t N> struct local_list_element<std::array<T, N>> { using type = T; };
template <class S> struct local_list_element<interned_list<S>> { using type = interned; };
template <class U> inline constexpr bool is_local_list =
    !has_codec_encode<U>::value && !std::is_same_v<typename local_list_element<U>::type, void> &&
    is_local_scalar<typename local_list_element<U>::type>;
// dict_of's keys as text: a char array (a string literal, usually) up to its first NUL within its
// bounds; anything else through std::string_view. For a literal (NUL last) the compiler computes
// the length: strlen of a constant folds at -O2, where a loop over its characters stayed a loop.
template <class K> [[gnu::always_inline]] inline std::string_view key_text(const K& k) {
  if constexpr (std::is_array_v<K>) {
    constexpr std::size_t bound = std::extent_v<K>;
    if (k[bound - 1] == '\0') return std::string_view(k, std::char_traits<char>::length(k));
    std::size_t n = 0;
    while (n < bound && k[n] != '\0') ++n;
    return std::string_view(k, n);
  } else {
    return std::string_view(k);
  }
}
// About the size of the pickle of `v` when it can be told without reading the items (a list of
// floats: a BINFLOAT of 9 bytes each, plus batches and frames, rounded up), else 0. The encoder
// then writes a large pickle straight into the returned string (lib/writer.hpp, into_string).
template <class T> struct is_float_list : std::false_type {};
template <class T, class A> struct is_float_list<std::vector<T, A>> : std::is_floating_point<T> {};
template <class T, std::size_t N> struct is_float_list<std::array<T, N>> : std::is_floating_point<T> {};
template <class T> struct is_int_list : std::false_type {};
template <class T, class A> struct is_int_list<std::vector<T, A>> : std::bool_constant<std::is_integral_v<T> && !std::is_same_v<T, bool>> {};
template <class T, std::size_t N> struct is_int_list<std::array<T, N>> : std::bool_constant<std::is_integral_v<T> && !std::is_same_v<T, bool>> {};
// The pickle of `n` items written as `item_bytes` in all, with its batch marks and frame headers.
inline std::size_t list_pickle_size(std::size_t n, std::size_t item_bytes) {
  return item_bytes + 2 * (n / 1000 + 1) + 9 * (item_bytes / 65536 + 2) + 64;
}
inline constexpr std::size_t int_samples = 256;
template <class U> std::size_t pickled_size_hint([[maybe_unused]] const U& v, [[maybe_unused]] int protocol) {
  if constexpr (is_float_list<U>::value && !has_codec_encode<U>::value) {
    if (protocol < 1) return 0;  // FLOAT text
    const std::size_t n = v.size();
    if (n > (std::size_t{1} << 40) / 16) return 0;
    return list_pickle_size(n, 9 * n);
  } else if constexpr (is_int_list<U>::value && !has_codec_encode<U>::value) {
    // The sizes of 256 items spread evenly over the list, scaled, and 1/32 more: an int is 2 to
    // 11 bytes, so the list's size is not known without reading every item. A list that differs
    // from its sample outgrows the estimate (the rest is staged and appended) or leaves slack
    // (trimmed when it passes a quarter): the bytes are the same either way.
    const std::size_t n = v.size();
    if (protocol < 2 || n < 16 * int_samples || n > (std::size_t{1} << 40) / 16) return 0;  // INT / LONG text below 2
    std::size_t sampled = 0;
    for (std::size_t k = 0; k < int_samples; ++k) {
      const auto x = v[k * n / int_samples];
      if constexpr (std::is_unsigned_v<std::remove_cvref_t<decltype(x)>> && sizeof(x) == 8)
        sampled += x > static_cast<std::uint64_t>(INT64_MAX) ? 11 : int_size(static_cast<std::int64_t>(x));
      else
        sampled += int_size(static_cast<std::int64_t>(x));
    }
    const std::size_t items = sampled * (n / int_samples) + sampled * (n % int_samples) / int_samples;
    return list_pickle_size(n, items + items / 32);
  } else {
    return 0;
  }
}
}  // namespace detail

template <class T> void typed_encoder::value(const T& v) {
  using U = std::remove_cvref_t<T>;
  if constexpr (detail::has_codec_encode<U>::value) {
    codec<U>::encode(*this, v);
  } else if constexpr (std::is_same_v<U, bool>) {
    boolean(v);
  } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    integer(static_cast<std::int64_t>(v));
  } else if constexpr (std::is_integral_v<U>) {
    integer(static_cast<std::uint64_t>(v));
  } else if constexpr (std::is_floating_point_v<U>) {
    floating(static_cast<double>(v));
  } else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view>) {
    str(v);
  } else if constexpr (std::is_same_v<std::decay_t<T>, const char*> || std::is_same_v<std::decay_t<T>, char*>) {
    str(std::string_view(v));
  } else if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t> || std::is_same_v<U, std::monostate>) {
    none();
  } else if constexpr (std::is_same_v<U, interned>) {
    interned_str(v.text);
  } else if constexpr (detail::is_interned_list<U>::value) {
    list(v.items.size(), [&](std::size_t i) { interned_str(std::string_view(v.items[i])); });
  } else if constexpr (std::is_same_v<U, bytes_view>) {
    bytes(v.data);
  } else if constexpr (detail::is_byte_vector_v<U>) {
    bytes(std::as_bytes(std::span(v.data(), v.size())));
  } else if constexpr (detail::is_oob<U>::value) {
    buffer(std::as_bytes(v.data), v.readonly);
  } else if constexpr (detail::is_fast_list<U>::value) {
    list_of(std::span<const typename U::value_type>(v.data(), v.size()));
  } else if constexpr (detail::is_vector_like<U>::value || detail::is_array<U>::value) {
    auto it = v.begin();
    list(v.size(), [&](std::size_t) { value(*it); ++it; });
  } else if constexpr (detail::is_tuple_like<U>::value) {
    begin_tuple(std::tuple_size_v<U>);
    std::apply([&](const auto&... xs) { ((boundary(), value(xs)), ...); }, v);
    end_tuple(std::tuple_size_v<U>);
  } else if constexpr (detail::is_map<U>::value) {
    auto it = v.begin();
    dict(v.size(), [&](std::size_t) { value(it->first); boundary(); value(it->second); ++it; });
  } else if constexpr (detail::is_set<U>::value) {
    auto it = v.begin();
    set(v.size(), [&](std::size_t) { value(*it); ++it; });
  } else if constexpr (detail::is_optional<U>::value) {
    if (v) value(*v);
    else none();
  } else if constexpr (detail::is_variant<U>::value) {
    std::visit([&](const auto& x) { value(x); }, v);
  } else {
    static_assert(detail::always_false<U>, "no brine::codec<T> for this type");
  }
}

template <class T> void typed_encoder::list_of(std::span<const T> items) {
  static_assert(detail::is_list_of_element<T>, "list_of takes integers, float, double, std::string or std::string_view");
  const std::size_t n = items.size();
  begin_list(n);
  batches(n, [&](std::size_t from, std::size_t end) {
    const auto part = items.subspan(from, end - from);
    if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double> || std::is_same_v<T, std::string> ||
                  std::is_same_v<T, std::string_view>) {
      if constexpr (std::is_floating_point_v<T>) floats(part);
      else if constexpr (std::is_integral_v<T>) ints(part);
      else strs(part);
    } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 8) {
      for (const T x : part) { boundary(); value(x); }  // may exceed int64
    } else {
      // Other widths: converted a batch (at most 1000 items) at a time.
      using W = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
      std::array<W, batch_limit> wide;
      for (std::size_t i = 0; i < part.size(); ++i) wide[i] = static_cast<W>(part[i]);
      const std::span<const W> w(wide.data(), part.size());
      if constexpr (std::is_floating_point_v<T>) floats(w);
      else ints(w);
    }
  }, list_batches);
  end_list(n);
}

template <class... KV> [[gnu::always_inline]] inline void typed_encoder::dict_of(const KV&... kv) {
  static_assert(sizeof...(KV) % 2 == 0, "dict_of takes key, value pairs");
  constexpr std::size_t n = sizeof...(KV) / 2;
  const auto refs = std::forward_as_tuple(kv...);
  // As CPython's batch_dict_exact writes the pairs (n < 1000 here): one batch, or a SETITEM after
  // each pair at protocol 0 or for a single pair. Written through a local copy of the cursor
  // (local_cursor); values of other types go through value() in between.
  const int proto = proto_;
  const bool single = n == 0 || single_batch(n, 0, n, dict_batches);
  local_cursor c = take_cursor();
  if (proto >= 1) {
    local_op(c, op::EMPTY_DICT);
    local_memo_put(c, proto);
  } else {
    give_cursor(c);
    begin_dict(n);
    c = take_cursor();
  }
  if constexpr (n != 0) {
    if (!single) local_op(c, op::MARK);
    const auto pair = [&]<std::size_t I>(std::integral_constant<std::size_t, I>) __attribute__((always_inline)) {
      static_assert(std::is_convertible_v<decltype(std::get<2 * I>(refs)), std::string_view>, "dict_of keys are strs");
      local_boundary(c);
      local_key<true>(c, detail::key_text(std::get<2 * I>(refs)), proto);
      local_boundary(c);
      local_value(c, std::get<2 * I + 1>(refs), proto);
      if (single) local_op(c, op::SETITEM);
    };
    [&]<std::size_t... I>(std::index_sequence<I...>) __attribute__((always_inline)) {
      (pair(std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<n>{});
    if (!single) local_op(c, op::SETITEMS);
  }
  give_cursor(c);
  end_dict(n);
}

template <class V> [[gnu::always_inline]] inline void typed_encoder::local_value(local_cursor& c, const V& v, int proto) {
  using U = std::remove_cvref_t<V>;
  if constexpr (detail::has_codec_encode<U>::value) {
    // a codec's own writes: value() below
  } else if constexpr (std::is_same_v<U, bool>) {
    if (proto >= 2 && c.fits(1)) {
      *c.cur++ = static_cast<char>(v ? op::NEWTRUE : op::NEWFALSE);
      return;
    }
  } else if constexpr (std::is_integral_v<U> && sizeof(U) <= 8) {
    if (proto >= 2 && c.fits(10) && (std::is_signed_v<U> || static_cast<std::uint64_t>(v) <= static_cast<std::uint64_t>(INT64_MAX))) {
      c.cur += detail::put_int(c.cur, static_cast<std::int64_t>(v));
      return;
    }
  } else if constexpr (std::is_floating_point_v<U>) {
    if (proto >= 1 && c.fits(9)) {
      c.cur += detail::put_float(c.cur, static_cast<double>(v));
      return;
    }
  } else if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t> || std::is_same_v<U, std::monostate>) {
    if (c.fits(1)) {
      *c.cur++ = static_cast<char>(op::NONE);
      return;
    }
  } else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view>) {
    const std::size_t n = v.size();
    if (proto >= 4 && n <= 0xff && !(n <= 2 && detail::singleton_text(v.data(), n)) && c.fits(n + 3)) {
      c.cur += detail::put_short_str(c.cur, v.data(), n);
      ++c.memo;
      return;
    }
  } else if constexpr (std::is_same_v<U, interned>) {
    return local_key(c, v.text, proto);
  } else if constexpr (detail::is_local_list<U>) {
    // As begin_list and one batch of batch_list_exact: EMPTY_LIST, then the items between MARK
    // and APPENDS (a single item: APPEND after it).
    const auto& items = [&]() -> const auto& {
      if constexpr (detail::is_interned_list<U>::value) return v.items;
      else return v;
    }();
    const std::size_t n = items.size();
    if (proto >= 1 && n <= detail::batch_size) {
      local_op(c, op::EMPTY_LIST);
      local_memo_put(c, proto);
      if (n == 0) return;
      if (n > 1) local_op(c, op::MARK);
      for (const auto& x : items) {
        local_boundary(c);
        if constexpr (detail::is_interned_list<U>::value) local_key(c, std::string_view(x), proto);
        else local_value(c, x, proto);
      }
      return local_op(c, n > 1 ? op::APPENDS : op::APPEND);
    }
  }
  give_cursor(c);
  value(v);
  c = take_cursor();
}

template <class T> result<std::string> pickle(const T& v, const encode_options& options) {
  return detail::run_typed(
      options, detail::pickled_size_hint(v, options.protocol), [](typed_encoder& e, const void* p) { e.value(*static_cast<const T*>(p)); }, &v);
}

template <class T> result<T> from_value(value v) {
  using nk = brine::kind;
  using U = T;
  if constexpr (detail::has_codec_decode<U>::value) {
    return codec<U>::decode(v);
  } else if constexpr (std::is_same_v<U, bool>) {
    if (!v.is(nk::boolean)) return detail::conversion_error(v, "bool");
    return v.as_bool();
  } else if constexpr (std::is_integral_v<U>) {
    if (!v.is(nk::integer)) return detail::conversion_error(v, "int");
    if (!v.fits_int64()) return detail::conversion_error(v, "int in range");
    const std::int64_t x = v.as_int64();
    if constexpr (std::is_signed_v<U>) {
      if (x < static_cast<std::int64_t>(std::numeric_limits<U>::min()) || x > static_cast<std::int64_t>(std::numeric_limits<U>::max()))
        return detail::conversion_error(v, "int in range");
    } else {
      if (x < 0 || static_cast<std::uint64_t>(x) > static_cast<std::uint64_t>(std::numeric_limits<U>::max()))
        return detail::conversion_error(v, "int in range");
    }
    return static_cast<U>(x);
  } else if constexpr (std::is_floating_point_v<U>) {
    if (v.is(nk::floating)) return static_cast<U>(v.as_double());
    if (v.is(nk::integer) && v.fits_int64()) return static_cast<U>(v.as_int64());
    return detail::conversion_error(v, "float");
  } else if constexpr (std::is_same_v<U, std::string>) {
    if (!v.is(nk::str)) return detail::conversion_error(v, "str");
    return std::string(v.as_str());
  } else if constexpr (detail::is_byte_vector_v<U>) {
    if (!v.is(nk::bytes) && !v.is(nk::bytearray) && !v.is(nk::buffer)) return detail::conversion_error(v, "bytes");
    const auto b = v.as_bytes();
    U out(b.size());
    for (std::size_t i = 0; i < b.size(); ++i) out[i] = static_cast<typename U::value_type>(b[i]);
    return out;
  } else if constexpr (detail::is_vector_like<U>::value || detail::is_set<U>::value) {
    const bool is_seq = detail::is_vector_like<U>::value;
    if (is_seq ? !(v.is(nk::list) || v.is(nk::tuple)) : !(v.is(nk::set) || v.is(nk::frozenset)))
      return detail::conversion_error(v, is_seq ? "list" : "set");
    U out;
    for (brine::value item : v.items()) {
      auto x = from_value<typename U::value_type>(item);
      if (!x) return x.error();
      if constexpr (detail::is_set<U>::value) out.insert(std::move(*x));
      else out.push_back(std::move(*x));
    }
    return out;
  } else if constexpr (detail::is_array<U>::value) {
    if (!(v.is(nk::list) || v.is(nk::tuple)) || v.size() != std::tuple_size_v<U>)
      return detail::conversion_error(v, "list of " + std::to_string(std::tuple_size_v<U>) + " items");
    U out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto x = from_value<typename U::value_type>(v[i]);
      if (!x) return x.error();
      out[i] = std::move(*x);
    }
    return out;
  } else if constexpr (detail::is_tuple_like<U>::value) {
    constexpr std::size_t n = std::tuple_size_v<U>;
    if (!v.is(nk::tuple) || v.size() != n) return detail::conversion_error(v, "tuple of " + std::to_string(n) + " items");
    std::optional<brine::error> err;
    auto get = [&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      using E = std::tuple_element_t<I, U>;
      auto x = from_value<E>(v[I]);
      if (!x) {
        if (!err) err = x.error();
        return E{};
      }
      return std::move(*x);
    };
    U out = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return U{get(std::integral_constant<std::size_t, I>{})...};
    }(std::make_index_sequence<n>{});
    if (err) return *err;
    return out;
  } else if constexpr (detail::is_map<U>::value) {
    if (!v.is(nk::dict)) return detail::conversion_error(v, "dict");
    U out;
    const auto r = v.pairs();
    for (std::size_t i = 0; i + 1 < r.size(); i += 2) {
      auto k = from_value<typename U::key_type>(r[i]);
      if (!k) return k.error();
      auto x = from_value<typename U::mapped_type>(r[i + 1]);
      if (!x) return x.error();
      out.insert_or_assign(std::move(*k), std::move(*x));  // last write wins, as in CPython
    }
    return out;
  } else if constexpr (detail::is_optional<U>::value) {
    if (v.is_none()) return U{};
    auto x = from_value<typename U::value_type>(v);
    if (!x) return x.error();
    return U{std::move(*x)};
  } else if constexpr (detail::is_variant<U>::value) {
    std::optional<result<U>> found;
    auto attempt = [&]<class A>(std::type_identity<A>) {
      if (found) return;
      auto x = from_value<A>(v);
      if (x) found.emplace(U{std::move(*x)});
    };
    [&]<class... As>(std::type_identity<std::variant<As...>>) { (attempt(std::type_identity<As>{}), ...); }(std::type_identity<U>{});
    if (found) return std::move(*found);
    return detail::conversion_error(v, "one of the variant's types");
  } else {
    static_assert(detail::always_false<U>, "no brine::codec<T>::decode for this type");
  }
}

}  // namespace brine
