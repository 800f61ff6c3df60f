// tools/json_text.hpp — JSON text for the command-line tool: string escaping, base64, and a small
// iterative parser (RFC 8259). Used by `brine json`, `brine convert --from-json`, and the --json
// reports of `brine scan` and `brine stats`.
//
// Strings are UTF-8 as brine stores them, which may hold lone surrogates as their 3-byte
// "surrogatepass" form (WTF-8); the writer escapes those as \udXXX and the parser turns \udXXX
// escapes that do not form a pair back into that form, so such strings survive a round trip.
//
// The parser never recurses (nesting depth costs one stack entry per level) and never sizes
// anything from the input's claims: a document of N bytes holds at most N values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <brine/error.hpp>

namespace brine_cli {

/// Appends `s` as a JSON string literal (quotes included). Control characters, '"' and '\' are
/// escaped; WTF-8 surrogates become \udXXX; other bytes of valid UTF-8 are copied. Bytes that are
/// not UTF-8 at all are written as \u00XX (latin-1), which loses them: callers check first.
void append_json_string(std::string& out, std::string_view s);
/// True when `s` holds a WTF-8 surrogate (ED A0..BF xx).
bool has_surrogate(std::string_view s) noexcept;

/// Standard base64 with padding.
void append_base64(std::string& out, std::span<const std::byte> data);
/// Decodes standard base64 (padding optional); false on any other character.
bool decode_base64(std::string_view text, std::string& out);

/// One parsed JSON value. Arrays list their items; objects list key, value, key, value... (keys
/// are string values). Order and duplicate keys are kept as written.
struct json_value {
  enum class type : std::uint8_t { null, boolean, number, string, array, object };
  type t = type::null;
  bool boolean = false;
  bool integer = false;  ///< number without fraction or exponent
  std::string text;      ///< string contents (UTF-8 / WTF-8), or the number as written
  std::vector<std::uint32_t> items;
  std::uint64_t offset = 0;  ///< byte offset in the JSON text
};

struct json_document {
  std::vector<json_value> values;  ///< values[0] is the root
  const json_value& root() const { return values[0]; }
};

/// Parses one JSON text (surrounding whitespace allowed). Errors: errc::bad_argument with the
/// byte offset and a message.
brine::result<json_document> parse_json(std::string_view text);

/// Member `key` of an object value, or nullptr.
const json_value* json_member(const json_document& doc, const json_value& object, std::string_view key);

}  // namespace brine_cli
