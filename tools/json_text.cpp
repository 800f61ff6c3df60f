// tools/json_text.cpp — see json_text.hpp.
#include "json_text.hpp"

#include <cstring>

namespace brine_cli {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// Length of the UTF-8 sequence at s[i] (1..4), surrogates accepted, or 0 when invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) { return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xe0 && c1 < 0xa0) return 0;  // overlong
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)) return 0;
    return 4;
  }
  return 0;
}

void append_u_escape(std::string& out, unsigned v) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += hex_digits[(v >> shift) & 15];
}

void append_utf8(std::string& out, std::uint32_t cp) {
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

}  // namespace

bool has_surrogate(std::string_view s) noexcept {
  for (std::size_t i = 0; i + 1 < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) == 0xed && static_cast<unsigned char>(s[i + 1]) >= 0xa0) return true;
  return false;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: append_u_escape(out, c); break;
      }
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        append_u_escape(out, c);
        ++i;
      } else if (n == 3 && c == 0xed && static_cast<unsigned char>(s[i + 1]) >= 0xa0) {
        const unsigned cp = ((c & 0x0fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3fu) << 6) |
                            (static_cast<unsigned char>(s[i + 2]) & 0x3fu);
        append_u_escape(out, cp);
        i += 3;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
    }
  }
  out += '"';
}

void append_base64(std::string& out, std::span<const std::byte> data) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const auto v = (std::to_integer<unsigned>(data[i]) << 16) | (std::to_integer<unsigned>(data[i + 1]) << 8) |
                   std::to_integer<unsigned>(data[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    unsigned v = std::to_integer<unsigned>(data[i]) << 16;
    if (rest == 2) v |= std::to_integer<unsigned>(data[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
}

bool decode_base64(std::string_view text, std::string& out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  unsigned acc = 0;
  int bits = 0;
  for (char ch : text) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+') v = 62;
    else if (ch == '/') v = 63;
    else return false;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return bits < 6;  // a lone trailing character cannot be base64
}

namespace {

class parser {
 public:
  explicit parser(std::string_view text) : s_(text) {}

  brine::result<json_document> run() {
    json_document doc;
    auto& v = doc.values;
    // Open arrays and objects: index of the value, and whether an object expects a key next.
    struct open {
      std::uint32_t id;
      bool expect_key;
    };
    std::vector<open> stack;
    bool need_value = true;  // a value is expected at the current position
    skip();
    for (;;) {
      if (need_value) {
        if (pos_ >= s_.size()) return fail("unexpected end of JSON text");
        const std::uint64_t at = pos_;
        json_value x;
        x.offset = at;
        const char c = s_[pos_];
        if (c == '{' || c == '[') {
          x.t = c == '{' ? json_value::type::object : json_value::type::array;
          ++pos_;
          const auto id = static_cast<std::uint32_t>(v.size());
          if (!stack.empty()) v[stack.back().id].items.push_back(id);
          v.push_back(std::move(x));
          stack.push_back({id, c == '{'});
          skip();
          const char close = c == '{' ? '}' : ']';
          if (pos_ < s_.size() && s_[pos_] == close) {
            ++pos_;
            stack.pop_back();
            need_value = false;
          } else if (c == '{') {
            if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string key");
          }
          continue;
        }
        if (c == '"') {
          x.t = json_value::type::string;
          if (!string(x.text)) return err_;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          x.t = json_value::type::number;
          if (!number(x)) return err_;
        } else if (s_.substr(pos_, 4) == "true") {
          x.t = json_value::type::boolean;
          x.boolean = true;
          pos_ += 4;
        } else if (s_.substr(pos_, 5) == "false") {
          x.t = json_value::type::boolean;
          pos_ += 5;
        } else if (s_.substr(pos_, 4) == "null") {
          pos_ += 4;
        } else {
          return fail("unexpected character");
        }
        const auto id = static_cast<std::uint32_t>(v.size());
        if (!stack.empty()) v[stack.back().id].items.push_back(id);
        v.push_back(std::move(x));
        need_value = false;
        if (!stack.empty() && stack.back().expect_key) {
          // That was a key: a colon and the value follow.
          stack.back().expect_key = false;
          skip();
          if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':'");
          ++pos_;
          skip();
          need_value = true;
          continue;
        }
      }
      // After a complete value: a separator, a closing bracket, or the end.
      skip();
      if (stack.empty()) break;
      if (pos_ >= s_.size()) return fail("unexpected end of JSON text");
      const bool is_object = v[stack.back().id].t == json_value::type::object;
      const char c = s_[pos_];
      if (c == ',') {
        ++pos_;
        skip();
        if (is_object) {
          if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string key");
          stack.back().expect_key = true;
        }
        need_value = true;
      } else if (c == (is_object ? '}' : ']')) {
        ++pos_;
        stack.pop_back();
      } else {
        return fail(is_object ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
    if (pos_ != s_.size()) return fail("extra data after the JSON value");
    return doc;
  }

 private:
  brine::error fail(std::string message) {
    err_.code = brine::errc::bad_argument;
    err_.offset = pos_;
    err_.message = "JSON: " + message + " at offset " + std::to_string(pos_);
    return err_;
  }
  bool bad(std::string message) {
    fail(std::move(message));
    return false;
  }
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool hex4(unsigned& v) {
    if (s_.size() - pos_ < 4) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_++];
      unsigned d;
      if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
      else return false;
      v = v * 16 + d;
    }
    return true;
  }
  bool string(std::string& out) {
    ++pos_;  // opening quote
    for (;;) {
      if (pos_ >= s_.size()) return bad("unterminated string");
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return bad("control character in string");
      if (c != '\\') {
        const std::size_t n = utf8_length(s_, pos_);
        if (n == 0) return bad("invalid UTF-8 in string");
        if (n == 3 && c == 0xed && static_cast<unsigned char>(s_[pos_ + 1]) >= 0xa0)
          return bad("encoded surrogate in string (use a \\u escape)");
        out.append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return bad("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp;
          if (!hex4(cp)) return bad("bad \\u escape");
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(pos_, 2) == "\\u") {
            const std::size_t save = pos_;
            pos_ += 2;
            unsigned lo;
            if (hex4(lo) && lo >= 0xdc00 && lo < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else {
              pos_ = save;  // a lone high surrogate; the next escape stands alone
            }
          }
          append_utf8(out, cp);  // lone surrogates become their WTF-8 form
          break;
        }
        default: return bad("bad escape in string");
      }
    }
  }
  bool number(json_value& x) {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return bad("bad number");
    }
    x.integer = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      x.integer = false;
      if (!digits()) return bad("bad number");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      x.integer = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return bad("bad number");
    }
    x.text.assign(s_.substr(start, pos_ - start));
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  brine::error err_;
};

}  // namespace

brine::result<json_document> parse_json(std::string_view text) { return parser(text).run(); }

const json_value* json_member(const json_document& doc, const json_value& object, std::string_view key) {
  if (object.t != json_value::type::object) return nullptr;
  for (std::size_t i = 0; i + 1 < object.items.size(); i += 2)
    if (doc.values[object.items[i]].text == key) return &doc.values[object.items[i + 1]];
  return nullptr;
}

}  // namespace brine_cli
