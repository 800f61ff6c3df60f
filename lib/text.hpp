// lib/text.hpp — validation and transcoding of the text forms pickle carries: UTF-8 (strict and
// surrogatepass), Python 2 string escapes, raw-unicode-escape, and numeric text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace brine::detail {

/// Position of the first byte that makes `s` invalid UTF-8, or npos. `surrogates` accepts the
/// 3-byte encodings of U+D800..U+DFFF (Python's "surrogatepass"), as BINUNICODE payloads allow.
std::size_t utf8_error(std::string_view s, bool surrogates) noexcept;

/// Latin-1 bytes to UTF-8.
void latin1_to_utf8(std::string_view in, std::string& out);

/// UTF-8 (surrogatepass) to Latin-1; false when a code point is above 0xFF or the UTF-8 is bad.
bool utf8_to_latin1(std::string_view in, std::string& out);

/// Python's `raw-unicode-escape` decoder (UNICODE opcode) into UTF-8 (surrogatepass). On failure
/// returns false and sets `error_pos` to the offending byte and `message` to CPython's text.
bool raw_unicode_escape_decode(std::string_view in, std::string& out, std::size_t& error_pos,
                               const char*& message);

/// Python's `codecs.escape_decode` (STRING opcode, after the quotes are removed).
bool escape_decode(std::string_view in, std::string& out, std::size_t& error_pos, const char*& message);

/// Strict decimal: `-?[0-9]+`, no leading zeros unless the number is all zeros.
bool is_strict_decimal(std::string_view s) noexcept;

/// CPython's C float parser (PyOS_string_to_double) applied to the whole of `s`.
enum class float_parse { ok, invalid, overflow };
float_parse parse_float(std::string_view s, double& out);

}  // namespace brine::detail
