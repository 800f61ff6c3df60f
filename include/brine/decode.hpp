// brine/decode.hpp — decode a pickle into a document, or validate it without building one.
//
// The decoder is one loop over the opcode stream (no recursion), with CPython's semantics
// (reference: CPython's Modules/_pickle.c): the value stack with a fence at the topmost MARK, the
// memo (PUT, BINPUT, LONG_BINPUT, MEMOIZE numbered by entry count, sparse indices without sparse
// allocation), PROTO rules, frames, fix_imports for protocols below 3, Python 2 strings, and STOP
// that ignores what is left on the stack and after it (both reported as warnings).
//
// Nothing is imported or executed. Globals and calls become inert nodes (brine/document.hpp). The
// builtin reductions that only rebuild plain data are folded into native nodes (`fold_builtins`):
//   builtins.set(list) / frozenset(list) -> set / frozenset;  builtins.bytearray(bytes) / () ->
//   bytearray;  _codecs.encode(str, 'latin1') -> bytes;  builtins.bytes() -> b''
// (`__builtin__` names are folded after fix_imports maps them).
//
// Errors: a failed decode returns a brine::error with a stable code, the offset and byte of the
// opcode being executed, and CPython's message for the same failure (brine/error.hpp).
//
// Limits: every limit below is finite by default and documented with the attack it stops; hitting
// one returns errc::limit_exceeded with `detail` naming the limit. Nothing is ever allocated from a
// declared length or an index before the input has proved it holds the bytes.
//
// Thread-safety: `decode` and `validate` are reentrant; concurrent calls share nothing. (Decodes
// on one thread reuse that thread's decode-time tables, one decode after another; memory kept per
// thread is described at brine::release_retained_memory, brine/document.hpp.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brine/document.hpp"
#include "brine/error.hpp"

namespace brine {

/// Finite limits for hostile input. Each stops one attack; all are configurable.
struct decode_limits {
  /// Items on the value stack. Stops stack floods (`N` * 10^7). Each item costs 4 bytes.
  std::uint64_t max_stack = 16'000'000;
  /// Open MARKs. Stops mark floods (`(` * 10^7).
  std::uint64_t max_marks = 4'000'000;
  /// Distinct memo entries. Stops PUT floods; the memo is sparse, so a huge index costs one entry
  /// (`Nr\xff\xff\xff\x7f.` is fine), never index-sized memory.
  std::uint64_t max_memo_entries = 64'000'000;
  /// Decimal digits in INT / LONG / GET / PUT text (CPython's 4300, CVE-2020-10735). Stops
  /// quadratic decimal conversion.
  std::uint64_t max_int_digits = 4300;
  /// Bytes of a LONG1 / LONG4 payload. Stops quadratic rendering of huge ints downstream.
  std::uint64_t max_long_bytes = 1u << 20;
  /// Nodes in the document (each 16 bytes). Bounds document memory on huge inputs.
  std::uint64_t max_nodes = 1u << 30;
  /// Child references copied by folds (`set(list)` snapshots a memoized list each time: a 4-byte
  /// GET + REDUCE would otherwise copy a million items). Counted over the whole decode.
  std::uint64_t max_copied_items = 64'000'000;
};

/// How STRING / BINSTRING / SHORT_BINSTRING (Python 2 `str`) payloads are decoded, as the
/// `encoding` argument of pickle.loads.
enum class py2_encoding : std::uint8_t {
  ascii,   ///< CPython's default: str, strict ASCII (errc::decode_error otherwise)
  latin1,  ///< str, every byte one code point (numpy's choice for Python 2 pickles)
  utf8,    ///< str, strict UTF-8
  bytes,   ///< keep them as bytes
};

/// A caller-supplied out-of-band buffer (PEP 574), consumed in order by NEXT_BUFFER.
struct oob_buffer {
  std::span<const std::byte> data;
  bool readonly = true;
};

struct decode_options {
  py2_encoding encoding = py2_encoding::ascii;
  /// Map Python 2 names to Python 3 ones while the stream's protocol is below 3 (CPython's
  /// `fix_imports`, tables generated from Lib/_compat_pickle.py). The global node keeps both.
  bool fix_imports = true;
  /// Fold builtin reductions that rebuild plain data into native nodes (see above).
  bool fold_builtins = true;
  /// Accept only `-?[0-9]+` (plus INT's `00`/`01`) in INT / LONG / GET / PUT text. When false,
  /// follow C's strtol quirks (`I010` is 8, `I0x10` is 16, `I+5`, `I 5`, `I1_000`).
  bool strict_numbers = true;
  /// Reject opcodes that straddle a frame end and frames that start inside a frame (cpython
  /// gh-154848). Turn off only for differential testing against unfixed CPython: frames are then
  /// checked only for length, as the C unpickler did.
  bool strict_frames = true;
  /// Accept PERSID / BINPERSID as persistent_id nodes. When false they fail with
  /// errc::no_persistent_load, as CPython does without a persistent_load.
  bool allow_persistent_ids = true;
  /// Out-of-band buffers, consumed by NEXT_BUFFER in order. `buffers_given` distinguishes "no
  /// buffers argument" (errc::no_buffers) from an empty list (errc::buffers_exhausted).
  std::vector<oob_buffer> buffers;
  bool buffers_given = false;
  decode_limits limits;
};

/// Decode the first pickle in `pickle` (bytes after STOP are ignored and reported as a warning).
///
/// Borrowing: the document views into `pickle` and into the out-of-band buffers; the caller keeps
/// them alive and unchanged for the document's lifetime. Pass `keep_alive` to make the document
/// co-own the storage instead.
result<document> decode(std::span<const std::byte> pickle, const decode_options& options = {},
                        std::shared_ptr<const void> keep_alive = nullptr);
result<document> decode(std::string_view pickle, const decode_options& options = {},
                        std::shared_ptr<const void> keep_alive = nullptr);
/// Decode, moving the bytes into the document (no copy; views point into the moved string).
result<document> decode_owned(std::string&& pickle, const decode_options& options = {});
/// A temporary string would dangle: use decode_owned.
result<document> decode(std::string&&, const decode_options& = {}) = delete;
result<document> decode(std::string&&, const decode_options&, std::shared_ptr<const void>) = delete;

/// A decode that keeps what it built when it fails: scanners need every global and call recorded
/// before a broken tail (CPython executes them before it reaches the error).
struct partial_decode {
  /// On success, as `decode` returns it. On failure, every node made before the error; its
  /// root() is an invalid value and its stop_offset() is the offset of the failing opcode.
  document doc;
  /// The error, when the decode failed.
  std::optional<brine::error> error;
};
partial_decode decode_partial(std::span<const std::byte> pickle, const decode_options& options = {},
                              std::shared_ptr<const void> keep_alive = nullptr);

namespace detail {
struct decode_scratch;
}

/// A reusable decoder for services that decode many pickles: the document's tables and the
/// machine's stack and memo keep their capacity between calls, so after the first few calls a
/// decode allocates (and page-faults) nothing new. simdjson's parser works the same way.
///
/// Lifetime: the document returned by `decode` is owned by the decoder and valid until the next
/// call to `decode` or the decoder's destruction; it views into `pickle` like brine::decode.
/// Thread-safety: one decoder per thread; distinct decoders share nothing.
class decoder {
 public:
  explicit decoder(decode_options options = {});
  ~decoder();
  decoder(decoder&&) noexcept;
  decoder& operator=(decoder&&) noexcept;

  const decode_options& options() const noexcept { return options_; }
  /// Out-of-band buffers for the next decode (PEP 574).
  void set_buffers(std::vector<oob_buffer> buffers);

  result<const document*> decode(std::span<const std::byte> pickle, std::shared_ptr<const void> keep_alive = nullptr);
  result<const document*> decode(std::string_view pickle, std::shared_ptr<const void> keep_alive = nullptr);
  result<const document*> decode(std::string&&, std::shared_ptr<const void> = nullptr) = delete;

 private:
  decode_options options_;
  document doc_;
  std::unique_ptr<detail::decode_scratch> scratch_;
};

/// What `validate` learned.
struct validate_summary {
  int protocol = 0;
  std::uint64_t stop_offset = 0;
  std::uint64_t opcodes = 0;
  std::uint64_t memo_entries = 0;
  std::vector<decode_warning> warnings;
};

/// Run the full machine (stack, marks, memo, frames, every check and limit) without storing
/// container items: the same accept/reject decision and the same error code, offset, opcode and
/// detail as `decode` (a message may name less: "unhashable type" for an item it did not keep),
/// in less memory.
result<validate_summary> validate(std::span<const std::byte> pickle, const decode_options& options = {});
result<validate_summary> validate(std::string_view pickle, const decode_options& options = {});

}  // namespace brine
