// lib/writer.cpp — the cold opcode primitives of writer.hpp: the text forms of protocols 0 and 1
// and the length-prefixed payloads.
#include "writer.hpp"

#include "pyformat.hpp"

namespace brine::detail {

void emit_put_text(writer& w, std::uint64_t index) {
  const std::string s = "p" + std::to_string(index) + "\n";
  w.write(s.data(), s.size());
}

void emit_get_text(writer& w, std::uint64_t index) {
  const std::string s = "g" + std::to_string(index) + "\n";
  w.write(s.data(), s.size());
}

// Protocol 0 (INT text within 32 bits), and protocols 0 and 1 outside 32 bits (LONG text with the
// Python 2 suffix); the binary forms are inline in writer.hpp.
void emit_int_text(writer& w, int proto, std::int64_t v) {
  const bool int32 = v >= INT32_MIN && v <= INT32_MAX;
  const std::string s = int32 && proto == 0 ? "I" + std::to_string(v) + "\n" : "L" + std::to_string(v) + "L\n";
  w.write(s.data(), s.size());
}

void emit_float_text(writer& w, double v) {
  std::string s = "F";
  repr_float(v, s);
  s += '\n';
  w.write(s.data(), s.size());
}

namespace {
// CPython's raw_unicode_escape for protocol 0: \uXXXX for \, NUL, \n, \r, \x1a and code points from
// U+0100; \UXXXXXXXX from U+10000; other code points as their latin-1 byte.
void raw_unicode_escape(std::string_view utf8, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < utf8.size()) {
    const char32_t cp = next_code_point(utf8, i);
    if (cp >= 0x10000) {
      out += "\\U";
      for (int k = 7; k >= 0; --k) out += hex[(cp >> (4 * k)) & 15];
    } else if (cp >= 0x100 || cp == '\\' || cp == 0 || cp == '\n' || cp == '\r' || cp == 0x1a) {
      out += "\\u";
      for (int k = 3; k >= 0; --k) out += hex[(cp >> (4 * k)) & 15];
    } else {
      out += static_cast<char>(cp);
    }
  }
}
}  // namespace

emit_status emit_str_text(writer& w, std::string_view utf8) {
  std::string out = "V";
  raw_unicode_escape(utf8, out);
  out += '\n';
  w.write(out.data(), out.size());
  return emit_status::ok;
}

emit_status emit_counted(writer& w, std::uint8_t op1, std::uint8_t op4, std::uint8_t op8, int proto,
                         std::span<const std::byte> data) {
  char header[9];
  std::size_t hn;
  if (data.size() <= 0xff && op1 != 0) {
    header[0] = static_cast<char>(op1);
    header[1] = static_cast<char>(data.size());
    hn = 2;
  } else if (data.size() <= 0xffffffffu) {
    header[0] = static_cast<char>(op4);
    const auto n = static_cast<std::uint32_t>(data.size());
    std::memcpy(header + 1, &n, 4);
    hn = 5;
  } else if (proto >= 4) {
    header[0] = static_cast<char>(op8);
    const std::uint64_t n = data.size();
    std::memcpy(header + 1, &n, 8);
    hn = 9;
  } else {
    return emit_status::too_large;
  }
  return w.write_bytes(header, hn, data.data(), data.size()) ? emit_status::ok : emit_status::io;
}

emit_status emit_bytearray8(writer& w, std::span<const std::byte> data) {
  char header[9];
  header[0] = static_cast<char>(op::BYTEARRAY8);
  const std::uint64_t n = data.size();
  std::memcpy(header + 1, &n, 8);
  return w.write_bytes(header, 9, data.data(), data.size()) ? emit_status::ok : emit_status::io;
}

}  // namespace brine::detail
