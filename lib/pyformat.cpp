// lib/pyformat.cpp — CPython's text forms of scalars (see pyformat.hpp).
#include "pyformat.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace brine::detail {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool is_continuation(unsigned char c) noexcept { return (c & 0xc0) == 0x80; }

// Length of the well-formed sequence starting at s[i], or 0. Surrogates (ED A0..BF xx) are
// well-formed here: they are what "surrogatepass" writes.
std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto c0 = static_cast<unsigned char>(s[i]);
  if (c0 < 0x80) return 1;
  const std::size_t left = s.size() - i;
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (c0 >= 0xc2 && c0 <= 0xdf) return left >= 2 && is_continuation(at(1)) ? 2 : 0;
  if (c0 >= 0xe0 && c0 <= 0xef) {
    if (left < 3 || !is_continuation(at(1)) || !is_continuation(at(2))) return 0;
    return c0 == 0xe0 && at(1) < 0xa0 ? 0 : 3;  // E0 80..9F would be overlong
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    if (left < 4 || !is_continuation(at(1)) || !is_continuation(at(2)) || !is_continuation(at(3)))
      return 0;
    if (c0 == 0xf0 && at(1) < 0x90) return 0;  // overlong
    if (c0 == 0xf4 && at(1) > 0x8f) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void append_escape(char32_t cp, std::string& out) {
  char buf[10];
  std::size_t digits;
  buf[0] = '\\';
  if (cp <= 0xff) {
    buf[1] = 'x';
    digits = 2;
  } else if (cp <= 0xffff) {
    buf[1] = 'u';
    digits = 4;
  } else {
    buf[1] = 'U';
    digits = 8;
  }
  for (std::size_t k = 0; k < digits; ++k) buf[2 + k] = hex_digits[(cp >> (4 * (digits - 1 - k))) & 0xf];
  out.append(buf, 2 + digits);
}

char choose_quote(std::string_view text) noexcept {
  const bool single = text.find('\'') != std::string_view::npos;
  const bool dbl = single && text.find('"') != std::string_view::npos;
  return single && !dbl ? '"' : '\'';
}

// One ASCII byte of a str or bytes repr; returns false when it needs no escape.
bool append_ascii_escape(unsigned char c, char quote, std::string& out) {
  switch (c) {
    case '\\': out += "\\\\"; return true;
    case '\t': out += "\\t"; return true;
    case '\n': out += "\\n"; return true;
    case '\r': out += "\\r"; return true;
    default: break;
  }
  if (c == static_cast<unsigned char>(quote)) {
    out += '\\';
    out += quote;
    return true;
  }
  if (c < 0x20 || c >= 0x7f) {
    append_escape(c, out);
    return true;
  }
  return false;
}

// Magnitude of a little-endian two's-complement int as little-endian 32-bit limbs, trimmed.
std::vector<std::uint32_t> magnitude_limbs(std::span<const std::byte> le, bool& negative) {
  negative = !le.empty() && (static_cast<unsigned>(le.back()) & 0x80u) != 0;
  std::vector<std::uint32_t> limbs((le.size() + 3) / 4, 0);
  unsigned carry = 1;  // for the negation: invert, then add one
  for (std::size_t i = 0; i < le.size(); ++i) {
    unsigned b = static_cast<unsigned>(le[i]);
    if (negative) {
      b = (~b & 0xffu) + carry;
      carry = b >> 8;
      b &= 0xffu;
    }
    limbs[i / 4] |= static_cast<std::uint32_t>(b) << (8 * (i % 4));
  }
  while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  return limbs;
}

}  // namespace

char32_t next_code_point(std::string_view s, std::size_t& i) noexcept {
  const std::size_t n = sequence_length(s, i);
  const auto c0 = static_cast<unsigned char>(s[i]);
  auto at = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3f); };
  char32_t cp;
  switch (n) {
    case 1: cp = c0; break;
    case 2: cp = (static_cast<char32_t>(c0 & 0x1f) << 6) | at(1); break;
    case 3: cp = (static_cast<char32_t>(c0 & 0x0f) << 12) | (at(1) << 6) | at(2); break;
    case 4: cp = (static_cast<char32_t>(c0 & 0x07) << 18) | (at(1) << 12) | (at(2) << 6) | at(3); break;
    default:
      i += 1;
      return 0xdc00 + c0;  // surrogateescape
  }
  i += n;
  return cp;
}

bool is_wtf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::size_t code_point_count(std::string_view s) noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++count) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
    } else {
      const std::size_t n = sequence_length(s, i);
      i += n == 0 ? 1 : n;
    }
  }
  return count;
}

void append_code_point(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

void repr_str(std::string_view s, std::string& out, bool ascii_only) {
  const char quote = choose_quote(s);
  out.reserve(out.size() + s.size() + 2);
  out += quote;
  std::size_t run = 0;  // start of the pending run of bytes copied as they are
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c >= 0x20 && c < 0x7f && c != '\\' && c != static_cast<unsigned char>(quote)) {
        ++i;
        continue;
      }
      out.append(s.data() + run, i - run);
      append_ascii_escape(c, quote, out);
      run = ++i;
      continue;
    }
    const std::size_t start = i;
    const char32_t cp = next_code_point(s, i);
    // A malformed byte decodes as U+DCxx, which is never printable, so it is always escaped.
    if (!ascii_only && is_printable(cp)) continue;
    out.append(s.data() + run, start - run);
    append_escape(cp, out);
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out += quote;
}

void repr_latin1(std::span<const std::byte> latin1, std::string& out, bool ascii_only) {
  std::string text;
  text.reserve(latin1.size() + latin1.size() / 2);
  for (const std::byte b : latin1) append_code_point(static_cast<char32_t>(b), text);
  repr_str(text, out, ascii_only);
}

namespace {
void repr_bytes_body(std::span<const std::byte> data, std::string& out, bool escape_single) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  const char quote = choose_quote(text);
  out.reserve(out.size() + text.size() + 3);
  out += 'b';
  out += quote;
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != static_cast<unsigned char>(quote) &&
        !(escape_single && c == '\'')) continue;
    out.append(text.data() + run, i - run);
    if (c == '\'') {
      out += "\\'";
    } else {
      append_ascii_escape(c, quote, out);
    }
    run = i + 1;
  }
  out.append(text.data() + run, text.size() - run);
  out += quote;
}
}  // namespace

void repr_bytes(std::span<const std::byte> data, std::string& out) { repr_bytes_body(data, out, false); }

void repr_bytearray(std::span<const std::byte> data, std::string& out) {
  out += "bytearray(";
  repr_bytes_body(data, out, true);
  out += ')';
}

void repr_float(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "nan";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-inf" : "inf";
    return;
  }
  // Shortest round-trip digits in scientific form ("-1.2345e+02"), then CPython's layout
  // (format_float_short with repr's rules): fixed when -4 <= exponent < 16.
  char sci[40];
  const auto res = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  const std::string_view text(sci, static_cast<std::size_t>(res.ptr - sci));
  std::size_t pos = 0;
  if (text[pos] == '-') {
    out += '-';
    ++pos;
  }
  const std::size_t e_at = text.find('e');
  char digits[24];
  std::size_t n = 0;
  for (std::size_t k = pos; k < e_at; ++k)
    if (text[k] != '.') digits[n++] = text[k];
  int exponent = 0;
  std::from_chars(text.data() + e_at + (text[e_at + 1] == '+' ? 2 : 1), text.data() + text.size(), exponent);
  const std::string_view d(digits, n);
  if (exponent >= -4 && exponent < 16) {
    const int point = exponent + 1;  // digits before the decimal point
    if (point <= 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-point), '0');
      out += d;
    } else if (static_cast<std::size_t>(point) >= n) {
      out += d;
      out.append(static_cast<std::size_t>(point) - n, '0');
      out += ".0";
    } else {
      out += d.substr(0, static_cast<std::size_t>(point));
      out += '.';
      out += d.substr(static_cast<std::size_t>(point));
    }
    return;
  }
  out += d[0];
  if (n > 1) {
    out += '.';
    out += d.substr(1);
  }
  out += exponent < 0 ? "e-" : "e+";
  const int mag = exponent < 0 ? -exponent : exponent;
  if (mag < 10) out += '0';
  append_int64(mag, out);
}

void append_int64(std::int64_t v, std::string& out) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

std::uint64_t int_bit_length(std::span<const std::byte> le) noexcept {
  if (le.empty()) return 0;
  const bool negative = (static_cast<unsigned>(le.back()) & 0x80u) != 0;
  // Skip sign-extension bytes; for a negative x work on ~x = |x| - 1 (the bytes XOR 0xff).
  std::size_t top = le.size();
  const unsigned ext = negative ? 0xffu : 0u;
  while (top > 0 && static_cast<unsigned>(le[top - 1]) == ext) --top;
  if (top == 0) return negative ? 1 : 0;  // 0, or -1 (all 0xff)
  unsigned b = static_cast<unsigned>(le[top - 1]) ^ ext;  // top byte of ~x for negatives
  std::uint64_t bits = 8 * (top - 1);
  unsigned width = 0;
  while (b >> width) ++width;
  bits += width;
  if (!negative) return bits;
  // |x| = ~x + 1 has one more bit exactly when ~x is all ones (2^bits - 1).
  bool all_ones = b == (1u << width) - 1;
  for (std::size_t i = 0; all_ones && i + 1 < top; ++i) all_ones = static_cast<unsigned>(le[i]) == 0;
  return all_ones ? bits + 1 : bits;
}

std::string int_to_decimal(std::span<const std::byte> le) {
  bool negative = false;
  std::vector<std::uint32_t> limbs = magnitude_limbs(le, negative);
  if (limbs.empty()) return "0";
  // Divide by 10^9 repeatedly, collecting base-10^9 chunks from the least significant.
  constexpr std::uint32_t chunk_base = 1'000'000'000;
  std::vector<std::uint32_t> chunks;
  chunks.reserve(limbs.size() * 32 / 29 + 2);
  while (!limbs.empty()) {
    std::uint64_t rem = 0;
    for (std::size_t k = limbs.size(); k-- > 0;) {
      const std::uint64_t cur = (rem << 32) | limbs[k];
      limbs[k] = static_cast<std::uint32_t>(cur / chunk_base);
      rem = cur % chunk_base;
    }
    chunks.push_back(static_cast<std::uint32_t>(rem));
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  }
  std::string out;
  out.reserve(chunks.size() * 9 + 1);
  if (negative) out += '-';
  append_int64(chunks.back(), out);
  for (std::size_t k = chunks.size() - 1; k-- > 0;) {
    char buf[9];
    std::uint32_t c = chunks[k];
    for (std::size_t j = 9; j-- > 0;) {
      buf[j] = static_cast<char>('0' + c % 10);
      c /= 10;
    }
    out.append(buf, 9);
  }
  return out;
}

bool int_to_decimal_limited(std::span<const std::byte> le, std::size_t max_digits, std::string& out) {
  // With b bits, 2^(b-1) <= |x| < 2^b: more than D digits for sure once b - 1 >= D log2(10), at
  // most D digits once b <= D log2(10); only the bit length in between needs the conversion.
  constexpr double log2_10 = 3.3219280948873623;
  const auto bits = static_cast<double>(int_bit_length(le));
  if (bits > static_cast<double>(max_digits) * log2_10 + 1) return false;
  std::string dec = int_to_decimal(le);
  if (dec.size() - (dec[0] == '-' ? 1 : 0) > max_digits) return false;
  out += dec;
  return true;
}

void append_int_hex(std::span<const std::byte> le, std::string& out) {
  bool negative = false;
  const std::vector<std::uint32_t> limbs = magnitude_limbs(le, negative);
  if (negative) out += '-';
  out += "0x";
  if (limbs.empty()) {
    out += '0';
    return;
  }
  bool leading = true;
  for (std::size_t k = limbs.size(); k-- > 0;) {
    for (int shift = 28; shift >= 0; shift -= 4) {
      const unsigned nibble = (limbs[k] >> shift) & 0xfu;
      if (leading && nibble == 0) continue;
      leading = false;
      out += hex_digits[nibble];
    }
  }
}

std::string decimal_to_int(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return {};
  for (const char c : text)
    if (c < '0' || c > '9') return {};
  // Multiply-add base-10^9 chunks into little-endian 32-bit limbs.
  std::vector<std::uint32_t> limbs;
  limbs.reserve(text.size() / 9 + 2);
  std::size_t first = text.size() % 9;
  if (first == 0) first = 9;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t len = at == 0 ? first : 9;
    std::uint32_t chunk = 0;
    std::uint32_t scale = 1;
    for (std::size_t k = 0; k < len; ++k) {
      chunk = chunk * 10 + static_cast<std::uint32_t>(text[at + k] - '0');
      scale *= 10;
    }
    at += len;
    std::uint64_t carry = chunk;
    for (auto& limb : limbs) {
      const std::uint64_t cur = static_cast<std::uint64_t>(limb) * scale + carry;
      limb = static_cast<std::uint32_t>(cur);
      carry = cur >> 32;
    }
    if (carry != 0) limbs.push_back(static_cast<std::uint32_t>(carry));
  }
  std::string bytes;
  bytes.reserve(limbs.size() * 4 + 1);
  for (const std::uint32_t limb : limbs)
    for (int k = 0; k < 4; ++k) bytes += static_cast<char>((limb >> (8 * k)) & 0xffu);
  while (!bytes.empty() && bytes.back() == '\0') bytes.pop_back();
  if (bytes.empty()) return std::string(1, '\0');
  if (!negative) {
    if (static_cast<unsigned char>(bytes.back()) & 0x80u) bytes += '\0';
    return bytes;
  }
  // Two's complement over one extra byte, then drop sign-extension bytes that are redundant.
  bytes += '\0';
  unsigned carry = 1;
  for (char& ch : bytes) {
    const unsigned b = (~static_cast<unsigned>(static_cast<unsigned char>(ch)) & 0xffu) + carry;
    carry = b >> 8;
    ch = static_cast<char>(b & 0xffu);
  }
  while (bytes.size() > 1 && static_cast<unsigned char>(bytes.back()) == 0xff &&
         (static_cast<unsigned char>(bytes[bytes.size() - 2]) & 0x80u) != 0)
    bytes.pop_back();
  return bytes;
}

}  // namespace brine::detail
