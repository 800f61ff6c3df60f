// brine/error.hpp — errors as values.
//
// Every failure brine reports on bad input is one `brine::error`: a stable code, the byte offset of
// the opcode being executed, the opcode byte, a detail number and a message modelled on CPython's
// C unpickler. The numeric values of `errc` are part of the API and never change; new codes are
// appended. Broken internal invariants are assertions (BRINE_ASSERT), never errors; brine's library
// code never prints, exits, aborts or throws on bad input.
//
// Thread-safety: plain values; `errc_name` and `errc_description` return static strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace brine {

/// Stable error codes (see docs in `errc_description`). The CPython message family each one maps
/// to is listed in the reference (HARDENING.md §1).
enum class errc : std::uint16_t {
  ok = 0,
  truncated = 1,              ///< input ends between opcodes ("Ran out of input") or inside one
  length_overflow = 2,        ///< a declared length or offset does not fit the address space
  negative_length = 3,        ///< LONG4 / BINSTRING with a negative byte count
  stack_underflow = 4,        ///< an opcode needs more stack items than there are
  unexpected_mark = 5,        ///< an opcode's operands would cross the topmost MARK
  mark_not_found = 6,         ///< an opcode needs a MARK and there is none
  odd_items = 7,              ///< DICT / SETITEMS with an odd number of items
  memo_miss = 8,              ///< GET of a memo index that was never PUT
  bad_memo_index = 9,         ///< negative or overflowing PUT / GET argument
  invalid_opcode = 10,        ///< byte that is not an opcode
  unsupported_protocol = 11,  ///< PROTO above 5
  bad_string_quote = 12,      ///< STRING argument not quoted on both ends
  bad_escape = 13,            ///< bad backslash escape in STRING / UNICODE
  invalid_utf8 = 14,          ///< BINUNICODE* payload is not UTF-8 (surrogates are allowed)
  decode_error = 15,          ///< Python 2 string not decodable with the chosen `encoding`
  bad_number = 16,            ///< INT / LONG / FLOAT text that CPython's C unpickler rejects
  bad_global_name = 17,       ///< GLOBAL / INST name not decodable, or empty
  type_mismatch = 18,         ///< operand of the wrong kind (STACK_GLOBAL, NEWOBJ, APPEND target...)
  unhashable = 19,            ///< list, dict, set or bytearray used as a dict key or set item
  bad_ext_code = 20,          ///< EXT code <= 0
  unregistered_ext = 21,      ///< reserved: EXT code unknown to a registry that requires one
  no_persistent_load = 22,    ///< PERSID / BINPERSID while persistent ids are rejected
  no_buffers = 23,            ///< NEXT_BUFFER with no out-of-band buffers supplied
  buffers_exhausted = 24,     ///< more NEXT_BUFFER opcodes than supplied buffers
  frame_violation = 25,       ///< opcode straddles a frame end, or a frame starts inside a frame
  limit_exceeded = 26,        ///< a configured limit was hit; `detail` names it (brine::limit)
  reentry = 27,               ///< a hook tried to re-enter the decoder that called it
  bad_argument = 28,          ///< a caller-supplied argument is invalid (not an input error)
  io_error = 29,              ///< reading a file or stream failed; `detail` is errno
  container_corrupt = 30,     ///< a container's header, table or layout is invalid (brine/container.hpp)
  checksum_mismatch = 31,     ///< a container section or its metadata fails its XXH3-64 checksum
  unsupported_version = 32,   ///< a container of a format version or with flags brine does not know
};

/// Which limit a `limit_exceeded` error hit (its `detail`). Stable numbers.
enum class limit : std::uint16_t {
  max_stack = 1,
  max_marks = 2,
  max_memo_entries = 3,
  max_int_digits = 4,
  max_long_bytes = 5,
  max_nodes = 6,
  max_copied_items = 7,
  max_nesting = 8,
  max_expanded_nodes = 9,
  max_input_bytes = 10,
  max_sections = 11,            ///< sections in a container
  max_decompressed_bytes = 12,  ///< bytes a container's compressed sections may expand to
  max_stream_bytes = 13,        ///< bytes a streamed container may declare
};

/// Short identifier of a code ("stack_underflow"), for logs and the command line.
std::string_view errc_name(errc code) noexcept;
/// Name of a limit ("max_memo_entries").
std::string_view limit_name(limit which) noexcept;
/// One sentence describing what the code means.
std::string_view errc_description(errc code) noexcept;

/// A decode or encode failure.
struct error {
  errc code = errc::ok;
  /// Byte offset in the pickle stream of the opcode being executed (0 for empty input).
  std::uint64_t offset = 0;
  /// The opcode byte, or -1 when the failure is not inside an opcode (empty input, end of data).
  int opcode = -1;
  /// Code-specific number: the memo index, the limit (brine::limit), the declared length, ...
  std::uint64_t detail = 0;
  /// Human-readable message modelled on CPython's C unpickler message for the same failure.
  std::string message;

  /// "stack_underflow at offset 3 (opcode 'R'): unpickling stack underflow"
  std::string to_string() const;
};

/// Either a value or an error. A minimal stand-in for std::expected (C++23).
template <class T>
class result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}     // NOLINT: implicit by design
  result(brine::error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT: implicit by design

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// Precondition: has_value().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Precondition: !has_value().
  const brine::error& error() const& { return std::get<1>(v_); }
  brine::error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, brine::error> v_;
};

}  // namespace brine
