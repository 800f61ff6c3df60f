// lib/writer.cpp — the opcode primitives of writer.hpp.
#include "writer.hpp"

#include "pyformat.hpp"

namespace brine::detail {

void emit_put(writer& w, int proto, std::uint64_t index) {
  if (proto >= 4) {
    w.op(op::MEMOIZE);
  } else if (proto >= 1) {
    if (index < 256) {
      const auto b = static_cast<std::uint8_t>(index);
      w.op_arg(op::BINPUT, &b, 1);
    } else {
      const auto v = static_cast<std::uint32_t>(index);
      w.op_arg(op::LONG_BINPUT, &v, 4);
    }
  } else {
    const std::string s = "p" + std::to_string(index) + "\n";
    w.write(s.data(), s.size());
  }
}

void emit_get(writer& w, int proto, std::uint64_t index) {
  if (proto >= 1) {
    if (index < 256) {
      const auto b = static_cast<std::uint8_t>(index);
      w.op_arg(op::BINGET, &b, 1);
    } else {
      const auto v = static_cast<std::uint32_t>(index);
      w.op_arg(op::LONG_BINGET, &v, 4);
    }
  } else {
    const std::string s = "g" + std::to_string(index) + "\n";
    w.write(s.data(), s.size());
  }
}

void emit_bool(writer& w, int proto, bool v) {
  if (proto >= 2) w.op(v ? op::NEWTRUE : op::NEWFALSE);
  else w.write(v ? "I01\n" : "I00\n", 4);
}

void emit_int(writer& w, int proto, std::int64_t v) {
  if (v >= INT32_MIN && v <= INT32_MAX) {
    const auto v32 = static_cast<std::int32_t>(v);
    if (proto >= 1) {
      const auto u = static_cast<std::uint32_t>(v32);
      if (u <= 0xff) {
        const auto b = static_cast<std::uint8_t>(u);
        w.op_arg(op::BININT1, &b, 1);
      } else if (u <= 0xffff) {
        const auto h = static_cast<std::uint16_t>(u);
        w.op_arg(op::BININT2, &h, 2);
      } else {
        w.op_arg(op::BININT, &v32, 4);
      }
    } else {
      const std::string s = "I" + std::to_string(v32) + "\n";
      w.write(s.data(), s.size());
    }
    return;
  }
  // Minimal two's complement, as CPython's _PyLong_AsByteArray with the sign-byte trim.
  std::string le;
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) le.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  while (le.size() > 1) {
    const auto top = static_cast<unsigned char>(le[le.size() - 1]);
    const auto next = static_cast<unsigned char>(le[le.size() - 2]);
    if ((top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80))) le.pop_back();
    else break;
  }
  emit_big_int(w, proto, le, [&] { return std::to_string(v); });
}

void emit_float(writer& w, int proto, double v) {
  if (proto >= 1) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    bits = __builtin_bswap64(bits);
    w.op_arg(op::BINFLOAT, &bits, 8);
  } else {
    std::string s = "F";
    repr_float(v, s);
    s += '\n';
    w.write(s.data(), s.size());
  }
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

emit_status counted(writer& w, std::uint8_t op1, std::uint8_t op4, std::uint8_t op8, int proto,
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
}  // namespace

emit_status emit_str(writer& w, int proto, std::string_view utf8) {
  if (proto == 0) {
    std::string out = "V";
    raw_unicode_escape(utf8, out);
    out += '\n';
    w.write(out.data(), out.size());
    return emit_status::ok;
  }
  // SHORT_BINUNICODE exists from protocol 4; below, short strings use BINUNICODE too.
  return counted(w, proto >= 4 ? op::SHORT_BINUNICODE : 0, op::BINUNICODE, op::BINUNICODE8, proto,
                 std::as_bytes(std::span<const char>(utf8.data(), utf8.size())));
}

emit_status emit_bytes(writer& w, int proto, std::span<const std::byte> data) {
  return counted(w, op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8, proto, data);
}

emit_status emit_bytearray8(writer& w, std::span<const std::byte> data) {
  char header[9];
  header[0] = static_cast<char>(op::BYTEARRAY8);
  const std::uint64_t n = data.size();
  std::memcpy(header + 1, &n, 8);
  return w.write_bytes(header, 9, data.data(), data.size()) ? emit_status::ok : emit_status::io;
}

}  // namespace brine::detail
