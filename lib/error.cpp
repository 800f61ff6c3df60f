// lib/error.cpp — names and descriptions of error codes: one row per code.
#include <array>
#include <string>

#include "brine/error.hpp"
#include "brine/opcodes.hpp"

namespace brine {
namespace {
struct errc_row {
  errc code;
  std::string_view name;
  std::string_view description;
};

constexpr std::array<errc_row, 33> errc_rows{{
    {errc::ok, "ok", "no error"},
    {errc::truncated, "truncated", "the input ends before the pickle does"},
    {errc::length_overflow, "length_overflow", "a declared length does not fit the address space"},
    {errc::negative_length, "negative_length", "a length prefix is negative"},
    {errc::stack_underflow, "stack_underflow", "an opcode needs more stack items than there are"},
    {errc::unexpected_mark, "unexpected_mark", "an opcode's operands would cross the topmost MARK"},
    {errc::mark_not_found, "mark_not_found", "an opcode needs a MARK and there is none"},
    {errc::odd_items, "odd_items", "a dict is built from an odd number of items"},
    {errc::memo_miss, "memo_miss", "a memo index is read before it is written"},
    {errc::bad_memo_index, "bad_memo_index", "a memo index is negative or too large"},
    {errc::invalid_opcode, "invalid_opcode", "a byte that is not a pickle opcode"},
    {errc::unsupported_protocol, "unsupported_protocol", "PROTO names a protocol above 5"},
    {errc::bad_string_quote, "bad_string_quote", "a STRING argument is not quoted on both ends"},
    {errc::bad_escape, "bad_escape", "a backslash escape in text is invalid"},
    {errc::invalid_utf8, "invalid_utf8", "a str payload is not UTF-8"},
    {errc::decode_error, "decode_error", "a Python 2 string cannot be decoded with the chosen encoding"},
    {errc::bad_number, "bad_number", "numeric text that CPython rejects"},
    {errc::bad_global_name, "bad_global_name", "a global's module or name is malformed"},
    {errc::type_mismatch, "type_mismatch", "an operand has the wrong kind for its opcode"},
    {errc::unhashable, "unhashable", "an unhashable value is used as a dict key or set item"},
    {errc::bad_ext_code, "bad_ext_code", "an extension code is zero or negative"},
    {errc::unregistered_ext, "unregistered_ext", "an extension code is not registered"},
    {errc::no_persistent_load, "no_persistent_load", "a persistent id while persistent ids are refused"},
    {errc::no_buffers, "no_buffers", "NEXT_BUFFER without out-of-band buffers"},
    {errc::buffers_exhausted, "buffers_exhausted", "more NEXT_BUFFER opcodes than buffers"},
    {errc::frame_violation, "frame_violation", "an opcode straddles a frame, or frames nest"},
    {errc::limit_exceeded, "limit_exceeded", "a configured limit was exceeded"},
    {errc::reentry, "reentry", "a hook re-entered the decoder that called it"},
    {errc::bad_argument, "bad_argument", "an invalid argument from the caller"},
    {errc::io_error, "io_error", "reading or writing a file failed"},
    {errc::container_corrupt, "container_corrupt", "a container's header, table or layout is invalid"},
    {errc::checksum_mismatch, "checksum_mismatch", "a container section fails its checksum"},
    {errc::unsupported_version, "unsupported_version", "a container format version or flag brine does not know"},
}};

constexpr bool rows_in_order() {
  for (std::size_t i = 0; i < errc_rows.size(); ++i)
    if (static_cast<std::size_t>(errc_rows[i].code) != i) return false;
  return true;
}
static_assert(rows_in_order(), "one row per errc, in numeric order");

constexpr std::array<std::string_view, 14> limit_names{
    "unknown", "max_stack", "max_marks", "max_memo_entries", "max_int_digits", "max_long_bytes",
    "max_nodes", "max_copied_items", "max_nesting", "max_expanded_nodes", "max_input_bytes",
    "max_sections", "max_decompressed_bytes", "max_stream_bytes"};
}  // namespace

std::string_view errc_name(errc code) noexcept {
  const auto i = static_cast<std::size_t>(code);
  return i < errc_rows.size() ? errc_rows[i].name : "unknown";
}

std::string_view errc_description(errc code) noexcept {
  const auto i = static_cast<std::size_t>(code);
  return i < errc_rows.size() ? errc_rows[i].description : "unknown error";
}

std::string_view limit_name(limit which) noexcept {
  const auto i = static_cast<std::size_t>(which);
  return i < limit_names.size() ? limit_names[i] : limit_names[0];
}

std::string error::to_string() const {
  std::string s(errc_name(code));
  s += " at offset ";
  s += std::to_string(offset);
  if (opcode >= 0) {
    const auto* info = find_opcode(static_cast<std::uint8_t>(opcode));
    s += " (opcode ";
    if (info != nullptr) {
      s += info->name;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      s += "0x";
      s += hex[(opcode >> 4) & 15];
      s += hex[opcode & 15];
    }
    s += ")";
  }
  s += ": ";
  s += message;
  return s;
}

}  // namespace brine
