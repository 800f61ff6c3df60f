// brine/document.hpp — the decoded object graph.
//
// A `document` owns every node decoded from one pickle: an arena of fixed-size nodes, one pool of
// child references, and side tables for containers, globals and recorded calls. A `value` is a
// cheap handle (document pointer + node id) into it. The graph has pickle's real semantics:
//
//  * identity: two values with the same `id()` are the same Python object. A memo GET yields the
//    same node as the PUT; two equal strings written twice are two nodes.
//  * sharing and cycles: a list may contain itself, a tuple may contain a list that contains the
//    tuple. Walkers in brine are iterative and track visited ids.
//  * order: dict pairs in insertion order, set and frozenset items in stream order. Duplicate keys
//    written by a hand-made pickle are kept as written (CPython would keep one entry, last value
//    wins; `value::find` follows CPython).
//  * inert records: globals, REDUCE / NEWOBJ / NEWOBJ_EX / INST / OBJ calls, BUILD, APPEND(S),
//    SETITEM(S) and ADDITEMS applied to such objects, persistent ids and extension codes are data.
//    Nothing is imported or executed.
//  * every node keeps the byte offset of the opcode that created it.
//
// Ownership and lifetime: the document owns its nodes. Strings, bytes, big-int payloads and
// out-of-band buffers are zero-copy views into the input or the caller's buffers whenever the
// bytes can be used as they are; the document then holds the `keep_alive` owner given to `decode`
// (or nothing, for the borrowing overloads, in which case the caller keeps the input alive for the
// document's lifetime). Only transformed text (protocol-0 escapes, Python 2 strings decoded as
// latin-1, folded `_codecs.encode` bytes) is copied into the document's arena. Values and the views
// they return are valid while the document lives; moving a document keeps them valid (nodes live on
// the heap), destroying it invalidates them.
//
// Destroying a document frees everything at once and never recurses, whatever the nesting depth.
//
// Thread-safety: a document is immutable after `decode` returns; any number of threads may read it
// and its values concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brine/error.hpp"

#ifndef BRINE_ASSERT
#if defined(NDEBUG) && !defined(BRINE_ENABLE_ASSERTS)
#define BRINE_ASSERT(cond) ((void)0)
#else
#include <cstdio>
#include <cstdlib>
// Broken internal invariants and precondition violations only; never used for bad input.
#define BRINE_ASSERT(cond)                                                                  \
  ((cond) ? (void)0                                                                        \
          : (std::fprintf(stderr, "brine: assertion failed: %s (%s:%d)\n", #cond, __FILE__, \
                          __LINE__),                                                       \
             std::abort()))
#endif
#endif

namespace brine {

/// What a value is, as Python would see it (int covers both the 64-bit and the arbitrary-precision
/// representation).
enum class kind : std::uint8_t {
  none,
  boolean,
  integer,
  floating,
  str,
  bytes,
  bytearray,
  tuple,
  list,
  dict,
  set,
  frozenset,
  buffer,         ///< a PEP 574 out-of-band buffer (NEXT_BUFFER)
  global,         ///< a reference to module.qualname (GLOBAL, STACK_GLOBAL, INST's class)
  object,         ///< a recorded call: REDUCE, NEWOBJ, NEWOBJ_EX, INST or OBJ, plus what was applied
  persistent_id,  ///< PERSID / BINPERSID
  extension,      ///< EXT1 / EXT2 / EXT4 code from copyreg's extension registry
};

/// Python type name of a kind ("NoneType", "bool", "int", ..., "global", "object").
std::string_view kind_name(kind k) noexcept;

/// How a recorded object was created.
enum class call_kind : std::uint8_t {
  reduce,     ///< callable(*args)                         — REDUCE
  newobj,     ///< cls.__new__(cls, *args)                 — NEWOBJ
  newobj_ex,  ///< cls.__new__(cls, *args, **kwargs)       — NEWOBJ_EX
  inst,       ///< module.name(*args), class named inline  — INST
  obj,        ///< cls(*args), class from the stack        — OBJ
};

/// Something applied to a recorded object after its creation, in stream order.
enum class op_kind : std::uint8_t {
  build,     ///< BUILD state (one value)
  append,    ///< APPEND (one value)
  appends,   ///< APPENDS (a batch)
  setitem,   ///< SETITEM (one key, one value)
  setitems,  ///< SETITEMS (a batch of key, value pairs)
  additems,  ///< ADDITEMS (a batch)
  /// callable(self, *rest) made for its effect on this object, its result discarded: a REDUCE
  /// whose argument tuple starts with the object, followed at once by POP (the state_setter of
  /// a 6-tuple `__reduce__`, PEP 307 / bpo-35900). Values: {callable, rest...}.
  call,
};

/// Where a global came from.
enum class global_source : std::uint8_t { global_op, stack_global, inst };

class document;
class value;

namespace detail {

enum class node_kind : std::uint8_t {
  none, boolean, int64, bigint, float64, str, bytes, bytearray, tuple, list, dict, set, frozenset,
  buffer, global, object, persid, ext,
};

// Node flags.
inline constexpr std::uint8_t prefix_mask = 0x03;     // width of the length prefix before `ptr`
inline constexpr std::uint8_t prefix_u8 = 0x00;
inline constexpr std::uint8_t prefix_u32 = 0x01;
inline constexpr std::uint8_t prefix_u64 = 0x02;
inline constexpr std::uint8_t flag_unhashable = 0x04;  // list/dict/set/bytearray, tuples holding one
inline constexpr std::uint8_t flag_readonly = 0x08;    // out-of-band buffer made read-only
inline constexpr std::uint8_t flag_binary = 0x10;      // persid: BINPERSID (else PERSID text)
inline constexpr std::uint8_t flag_holds_unhashable = 0x20;  // validate-only: a list/dict item is unhashable

// 16 bytes: kind, flags and the 48-bit opcode offset, then an 8-byte payload.
struct node {
  std::uint64_t head;
  union {
    std::int64_t i;
    double f;
    const unsigned char* p;  // str/bytes/bytearray/bigint: data, preceded by its length
    std::uint32_t u[2];      // container / record index, buffer index, ...
  };

  node_kind kind() const noexcept { return static_cast<node_kind>(head & 0xff); }
  std::uint8_t flags() const noexcept { return static_cast<std::uint8_t>((head >> 8) & 0xff); }
  std::uint64_t offset() const noexcept { return head >> 16; }
  std::uint64_t length() const noexcept {  // for prefixed payloads
    switch (flags() & prefix_mask) {
      case prefix_u8: return p[-1];
      case prefix_u32: {
        std::uint32_t n;
        std::memcpy(&n, p - 4, 4);
        return n;  // little-endian hosts only (static_assert in lib)
      }
      default: {
        std::uint64_t n;
        std::memcpy(&n, p - 8, 8);
        return n;
      }
    }
  }
};
static_assert(sizeof(node) == 16);

inline constexpr std::uint64_t make_head(node_kind k, std::uint8_t flags, std::uint64_t offset) {
  return static_cast<std::uint64_t>(k) | (static_cast<std::uint64_t>(flags) << 8) | (offset << 16);
}

inline constexpr std::uint32_t no_node = 0xffffffffu;
inline constexpr std::uint32_t op_count_mask = 0x0fffffffu;

/// Python type name of a node kind ("int", "NoneType", "list", ...).
std::string_view node_kind_name(node_kind k) noexcept;

// Items of a tuple/list/dict/set/frozenset: `size` node ids at pool[start...]. Dicts store keys and
// values alternately (size counts both). (Room reserved for growth is decode-time state.)
struct container {
  std::uint32_t start;
  std::uint32_t size;
};

struct global_rec {
  std::uint32_t module, name;                // str nodes, as written
  std::uint32_t mapped_module, mapped_name;  // str nodes after fix_imports (same ids if unmapped)
  global_source source;
  std::uint32_t ops;  // container index of an op stream (BUILD on a global), or no_node
};

struct object_rec {
  call_kind how;
  std::uint32_t callable;  // node id: global, or any value for REDUCE/OBJ
  std::uint32_t args;      // node id (a tuple for NEWOBJ*, anything recorded for REDUCE)
  std::uint32_t kwargs;    // node id for NEWOBJ_EX, else no_node
  std::uint32_t ops;       // container index of the op stream: [header, ids...]*
};


struct buffer_ref {
  const std::byte* data;
  std::size_t size;
  bool readonly;  // as supplied by the caller
};

struct document_data;  // defined in lib/; holds the tables above
}  // namespace detail

/// A range of child values (tuple/list/set/frozenset items, dict keys and values interleaved).
class value_range {
 public:
  class iterator;
  value_range(const document* doc, const std::uint32_t* ids, std::size_t n) : doc_(doc), ids_(ids), n_(n) {}
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  value operator[](std::size_t i) const;
  iterator begin() const;
  iterator end() const;
  /// The raw node ids, for walkers that keep their own stacks.
  std::span<const std::uint32_t> ids() const noexcept { return {ids_, n_}; }

 private:
  const document* doc_;
  const std::uint32_t* ids_;
  std::size_t n_;
};

/// One operation applied to a recorded object.
struct applied_op {
  op_kind kind;
  value_range values;  // build: {state}; append: {item}; setitem(s): key, value, key, value...;
                       // call: callable, then the arguments after the object itself
};

/// A light handle to one node. Copy freely; valid while its document lives.
///
/// Accessors named `as_*` / `module()` / `items()` ... have a precondition on `kind()` that is
/// checked by BRINE_ASSERT in debug and sanitizer builds; check `kind()` first, or use the typed
/// conversions of brine/convert.hpp for checked access with errors.
class value {
 public:
  value() = default;
  value(const document* doc, std::uint32_t id) : doc_(doc), id_(id) {}

  bool valid() const noexcept { return doc_ != nullptr; }
  /// Node id: equal ids are the same Python object (identity).
  std::uint32_t id() const noexcept { return id_; }
  const document& doc() const noexcept { return *doc_; }
  brine::kind kind() const noexcept;
  /// Byte offset of the opcode that created this node.
  std::uint64_t offset() const noexcept { return n().offset(); }
  bool is(brine::kind k) const noexcept { return kind() == k; }
  bool is_none() const noexcept { return n().kind() == detail::node_kind::none; }
  bool same_as(const value& other) const noexcept { return doc_ == other.doc_ && id_ == other.id_; }

  // --- scalars
  bool as_bool() const noexcept;
  /// True when the int fits in int64 (always true for ints decoded by the fast path).
  bool fits_int64() const noexcept;
  /// Precondition: kind() == integer && fits_int64().
  std::int64_t as_int64() const noexcept;
  /// Little-endian two's-complement bytes of an int, minimal length (0 is one zero byte).
  std::string int_bytes() const;
  /// Decimal text of an int ("-12"); O(n^2) in the digit count, so callers rendering untrusted big
  /// ints should check `int_bytes().size()` first.
  std::string int_decimal() const;
  double as_double() const noexcept;

  // --- strings and bytes
  /// UTF-8 bytes exactly as pickled (lone surrogates kept as their 3-byte "surrogatepass" form).
  std::string_view as_str() const noexcept;
  /// bytes / bytearray / buffer contents.
  std::span<const std::byte> as_bytes() const noexcept;

  // --- containers
  /// Number of items: tuple/list/set/frozenset items, dict pairs.
  std::size_t size() const noexcept;
  /// Items of a tuple, list, set or frozenset.
  value_range items() const noexcept;
  /// Dict keys and values interleaved: k0, v0, k1, v1, ...
  value_range pairs() const noexcept;
  /// Item i of a tuple or list (precondition: i < size()).
  value operator[](std::size_t i) const noexcept;
  /// Dict lookup by str key with CPython's last-write-wins rule; invalid value when absent.
  value find(std::string_view key) const noexcept;

  // --- out-of-band buffers
  /// Index of the buffer in the list given to decode (order of NEXT_BUFFER).
  std::size_t buffer_index() const noexcept;
  /// True when READONLY_BUFFER was applied or the supplied buffer was read-only.
  bool readonly() const noexcept;

  // --- globals
  /// Module and qualified name as written in the pickle.
  std::string_view module() const noexcept;
  std::string_view name() const noexcept;
  /// After fix_imports (protocol < 3) — equal to module()/name() when no mapping applied.
  std::string_view mapped_module() const noexcept;
  std::string_view mapped_name() const noexcept;
  global_source source() const noexcept;

  // --- recorded objects
  call_kind how() const noexcept;
  value callable() const noexcept;
  value args() const noexcept;
  /// NEWOBJ_EX keyword arguments; invalid value for other call kinds.
  value kwargs() const noexcept;
  /// Operations applied after creation, in stream order. Also valid on a global (BUILD on a class
  /// or module records an attribute overwrite); empty for other kinds.
  std::vector<applied_op> ops() const;

  // --- persistent ids and extensions
  /// The persistent id (a str for PERSID, any value for BINPERSID).
  value pid() const noexcept;
  /// True for BINPERSID.
  bool binary_pid() const noexcept;
  std::int64_t ext_code() const noexcept;

  const detail::node& n() const noexcept;

 private:
  const document* doc_ = nullptr;
  std::uint32_t id_ = 0;
};

/// Non-fatal observations made while decoding (CPython accepts these inputs silently).
enum class warning_code : std::uint8_t {
  leftover_stack,       ///< STOP with more than one item on the stack
  leftover_marks,       ///< STOP with open MARKs
  trailing_data,        ///< bytes after STOP
  late_proto,           ///< PROTO not the first opcode
  repeated_proto,       ///< more than one PROTO
  opcode_above_proto,   ///< an opcode newer than the declared protocol
  empty_batch_non_container,  ///< APPENDS/ADDITEMS with no items on a non-container (C: no-op)
  duplicate_memo_put,   ///< a memo index was overwritten
};
std::string_view warning_name(warning_code w) noexcept;

struct decode_warning {
  warning_code code;
  std::uint64_t offset;
};

/// Memory: a document's large tables (256 KiB and up) are not returned to the allocator when it is
/// destroyed but kept, up to 256 MiB per thread, for the next document decoded on that thread
/// (the thread that destroys a document keeps its tables). A loop decoding pickles of similar size
/// then writes into pages already faulted in instead of fresh ones the kernel must zero. One-shot
/// decodes (brine::decode) on a thread also share their decode-time tables (stack, marks, memo),
/// and encodes (brine::encode, brine::encode_to) their memo (4 bytes a node) and task stack (as
/// long as the data is deep), kept while each is under 256 KiB; larger ones join the retained
/// tables. All are freed at thread exit, or now by release_retained_memory() (for the calling
/// thread only).
void release_retained_memory() noexcept;

class document {
 public:
  document();
  ~document();
  document(document&&) noexcept;
  document& operator=(document&&) noexcept;
  document(const document&) = delete;
  document& operator=(const document&) = delete;

  /// The value STOP returned (an invalid value for a failed brine::decode_partial).
  value root() const noexcept { return root_ == detail::no_node ? value() : value(this, root_); }
  /// Any node by id (0 <= id < node_count()), including nodes not reachable from the root (a
  /// call whose result was POPped stays recorded).
  value node(std::uint32_t id) const noexcept { return value(this, id); }
  std::size_t node_count() const noexcept;
  /// Bytes owned by the document (nodes, pools, tables, arena), excluding the borrowed input.
  std::size_t memory_bytes() const noexcept;
  /// Protocol from the last PROTO opcode (0 when there was none).
  int protocol() const noexcept;
  /// Offset of the STOP opcode; bytes after it are not part of this pickle.
  std::uint64_t stop_offset() const noexcept;
  /// Offset just past STOP (where a concatenated pickle would start).
  std::uint64_t end_offset() const noexcept { return stop_offset() + 1; }
  const std::vector<decode_warning>& warnings() const noexcept;
  /// Number of out-of-band buffers consumed.
  std::size_t buffers_used() const noexcept;

  const detail::document_data& data() const noexcept { return *data_; }
  detail::document_data& mutable_data() noexcept { return *data_; }
  void set_root(std::uint32_t id) noexcept { root_ = id; }

 private:
  std::unique_ptr<detail::document_data> data_;
  std::uint32_t root_ = 0;
};

/// Structural equivalence of two graphs, as `pickle` would see them: same kinds, equal scalars
/// (NaN equals NaN with the same bits; -0.0 differs from 0.0), equal strings and bytes, equal
/// out-of-band buffers (contents and read-only flag, not their index), equal containers in order, equal records; and the same sharing: if a's walk reaches one node twice,
/// b's walk reaches one node twice at the same places. Iterative; handles cycles.
bool equivalent(value a, value b);

}  // namespace brine

#include "brine/detail/document_inl.hpp"
