// lib/text.cpp — see text.hpp.
#include "text.hpp"

#include "pyformat.hpp"

#include <charconv>
#include <cstring>
#include <system_error>

namespace brine::detail {

std::size_t utf8_error(std::string_view s, bool surrogates) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;                    // no overlongs
      if (c == 0xed && !surrogates) hi = 0x9f;     // U+D800..U+DFFF only with surrogatepass
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;                    // no overlongs
      if (c == 0xf4) hi = 0x8f;                    // nothing above U+10FFFF
    } else {
      return i;
    }
    if (n - i < len) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if ((p[i + k] & 0xc0) != 0x80) return i;
    i += len;
  }
  return std::string_view::npos;
}

void latin1_to_utf8(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() * 2);
  for (char ch : in) append_code_point(static_cast<unsigned char>(ch), out);
}

bool utf8_to_latin1(std::string_view in, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (std::size_t i = 0; i < in.size();) {
    const unsigned c = p[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < in.size()) {
      out.push_back(static_cast<char>(((c & 0x1f) << 6) | (p[i + 1] & 0x3f)));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

namespace {
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool raw_unicode_escape_decode(std::string_view in, std::string& out, std::size_t& error_pos,
                               const char*& message) {
  out.reserve(out.size() + in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i++]);
    if (c != '\\' || i >= in.size()) {
      append_code_point(c, out);
      continue;
    }
    const char e = in[i];
    if (e != 'u' && e != 'U') {
      // A backslash followed by anything else stands for itself, and the pair is consumed, so
      // "\\u0041" is a backslash pair followed by the literal "u0041".
      out.push_back('\\');
      append_code_point(static_cast<unsigned char>(e), out);
      ++i;
      continue;
    }
    const std::size_t start = i - 1;
    const int digits = e == 'u' ? 4 : 8;
    ++i;
    std::uint32_t cp = 0;
    for (int k = 0; k < digits; ++k, ++i) {
      if (i >= in.size() || hex_value(in[i]) < 0) {
        error_pos = start;
        message = e == 'u' ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape";
        return false;
      }
      cp = (cp << 4) | static_cast<std::uint32_t>(hex_value(in[i]));
    }
    if (cp > 0x10ffff) {
      error_pos = start;
      message = "\\Uxxxxxxxx out of range";
      return false;
    }
    append_code_point(cp, out);
  }
  return true;
}

bool escape_decode(std::string_view in, std::string& out, std::size_t& error_pos, const char*& message) {
  out.reserve(out.size() + in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i++];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i >= in.size()) {
      error_pos = i - 1;
      message = "Trailing \\ in string";
      return false;
    }
    const char e = in[i++];
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 't': out.push_back('\t'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 'v': out.push_back('\v'); break;
      case 'a': out.push_back('\a'); break;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        unsigned v = static_cast<unsigned>(e - '0');
        for (int k = 0; k < 2 && i < in.size() && in[i] >= '0' && in[i] <= '7'; ++k)
          v = v * 8 + static_cast<unsigned>(in[i++] - '0');
        out.push_back(static_cast<char>(v & 0xff));
        break;
      }
      case 'x': {
        if (i + 2 > in.size() || hex_value(in[i]) < 0 || hex_value(in[i + 1]) < 0) {
          error_pos = i - 2;
          message = "invalid \\x escape";
          return false;
        }
        out.push_back(static_cast<char>(hex_value(in[i]) * 16 + hex_value(in[i + 1])));
        i += 2;
        break;
      }
      default:  // unknown escapes are kept as written (with a DeprecationWarning in CPython)
        out.push_back('\\');
        out.push_back(e);
        break;
    }
  }
  return true;
}

bool is_strict_decimal(std::string_view s) noexcept {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  bool all_zero = true;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (c != '0') all_zero = false;
  }
  return all_zero || s[0] != '0';
}

float_parse parse_float(std::string_view s, double& out) {
  // PyOS_string_to_double: optional sign, then digits with an optional fraction and exponent, or
  // inf/infinity/nan in any case. No whitespace, no underscores, no hex.
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  auto lower_equals = [&](std::string_view word) {
    if (s.size() - i != word.size()) return false;
    for (std::size_t k = 0; k < word.size(); ++k)
      if ((s[i + k] | 0x20) != word[k]) return false;
    return true;
  };
  const bool special = lower_equals("inf") || lower_equals("infinity") || lower_equals("nan");
  if (!special) {
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    }
    if (digits == 0) return float_parse::invalid;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      std::size_t exp_digits = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
      if (exp_digits == 0) return float_parse::invalid;
    }
    if (i != s.size()) return float_parse::invalid;
  }
  // The syntax is checked. from_chars is locale-independent and correctly rounded; it rejects a
  // leading '+', and reports both overflow and underflow as out of range.
  std::string_view body = s;
  const bool negative = !body.empty() && body[0] == '-';
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  double d = 0;
  const auto r = std::from_chars(body.data(), body.data() + body.size(), d);
  if (r.ptr != body.data() + body.size()) return float_parse::invalid;
  if (r.ec == std::errc::result_out_of_range) {
    // Decimal exponent of the leading significant digit decides: too large overflows (an error in
    // CPython), too small underflows to a signed zero (accepted by CPython).
    long exponent = 0;
    std::size_t k = 0;
    long int_digits = 0;
    bool seen_nonzero = false;
    long leading_fraction_zeros = 0;
    while (k < body.size() && body[k] >= '0' && body[k] <= '9') {
      if (body[k] != '0') seen_nonzero = true;
      if (seen_nonzero) ++int_digits;
      ++k;
    }
    if (k < body.size() && body[k] == '.') {
      ++k;
      while (!seen_nonzero && k < body.size() && body[k] == '0') ++leading_fraction_zeros, ++k;
      while (k < body.size() && body[k] >= '0' && body[k] <= '9') ++k;
    }
    if (k < body.size() && (body[k] == 'e' || body[k] == 'E')) {
      ++k;
      const bool neg_exp = k < body.size() && body[k] == '-';
      if (k < body.size() && (body[k] == '+' || body[k] == '-')) ++k;
      for (; k < body.size(); ++k) {
        if (exponent < 100000) exponent = exponent * 10 + (body[k] - '0');
      }
      if (neg_exp) exponent = -exponent;
    }
    const long magnitude = int_digits > 0 ? exponent + int_digits : exponent - leading_fraction_zeros;
    if (magnitude > 0) return float_parse::overflow;
    d = negative ? -0.0 : 0.0;
    out = d;
    return float_parse::ok;
  }
  out = negative ? -d : d;
  return float_parse::ok;
}

}  // namespace brine::detail
