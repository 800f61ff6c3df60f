// tests/properties/pickle_recipe.cpp — the graph generator and the pickle writer (see the header).
#include "pickle_recipe.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <span>
#include <stdexcept>
#include <utility>

#include "brine/disassemble.hpp"
#include "brine/opcodes.hpp"
#include "brine/repr.hpp"

namespace brine_prop {
namespace {

namespace oc = brine::op;

// ---------------------------------------------------------------------------------------------
// Choices

// Reads a style as digits in mixed radix: pick(n) is the next digit in 0..n-1. A shrunk style (0)
// picks 0 everywhere, which is CPython's form.
class choices {
 public:
  explicit choices(std::uint64_t bits) : bits_(bits) {}
  std::size_t pick(std::size_t n) {
    if (n <= 1) return 0;
    const std::size_t r = static_cast<std::size_t>(bits_ % n);
    bits_ /= n;
    return r;
  }
  /// True one time in n (never for a shrunk style).
  bool rare(std::size_t n) { return n > 1 && pick(n) == n - 1; }

 private:
  std::uint64_t bits_;
};

// SplitMix64 for the many small decisions of a pickle (batch splits, frames, noise); seed 0
// yields 0 forever, so a shrunk pickle style makes CPython's choices.
class stream {
 public:
  explicit stream(std::uint64_t seed) : state_(seed), zero_(seed == 0) {}
  std::uint64_t next() {
    if (zero_) return 0;
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n <= 1 ? 0 : static_cast<std::size_t>(next() % n); }
  bool rare(std::size_t n) { return !zero_ && below(n) == 0; }

 private:
  std::uint64_t state_;
  bool zero_;
};

// ---------------------------------------------------------------------------------------------
// Encodings

void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void append_utf8(std::string& out, char32_t cp) {  // surrogates as their 3-byte form
  const auto c = static_cast<std::uint32_t>(cp);
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
}

std::string utf8_of(const std::vector<char32_t>& text) {
  std::string s;
  for (char32_t cp : text) append_utf8(s, cp);
  return s;
}

bool negative(const std::vector<std::uint8_t>& le) { return !le.empty() && (le.back() & 0x80) != 0; }

// Minimal little-endian two's complement (0 is empty, as LONG1 writes it).
std::vector<std::uint8_t> minimal(std::vector<std::uint8_t> le) {
  while (!le.empty()) {
    const std::uint8_t top = le.back();
    const bool next_negative = le.size() >= 2 && (le[le.size() - 2] & 0x80) != 0;
    if ((top == 0x00 && (le.size() == 1 || !next_negative)) || (top == 0xff && le.size() >= 2 && next_negative)) {
      le.pop_back();
    } else {
      break;
    }
  }
  return le;
}

std::vector<std::uint8_t> le_of(std::int64_t v) {
  std::vector<std::uint8_t> b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff));
  return minimal(std::move(b));
}

std::string decimal_of(std::vector<std::uint8_t> le) {
  if (le.empty()) return "0";
  const bool neg = negative(le);
  if (neg) {  // magnitude = -value: invert and add one
    unsigned carry = 1;
    for (auto& b : le) {
      const unsigned v = static_cast<unsigned>(static_cast<std::uint8_t>(~b)) + carry;
      b = static_cast<std::uint8_t>(v & 0xff);
      carry = v >> 8;
    }
  }
  std::vector<std::uint8_t> be(le.rbegin(), le.rend());
  std::string digits;
  for (;;) {
    bool all_zero = true;
    std::uint64_t rem = 0;
    for (auto& b : be) {
      const std::uint64_t cur = rem * 256 + b;
      b = static_cast<std::uint8_t>(cur / 10);
      rem = cur % 10;
      if (b != 0) all_zero = false;
    }
    digits.push_back(static_cast<char>('0' + rem));
    if (all_zero) break;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (neg) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

bool fits_int64(const std::vector<std::uint8_t>& le, std::int64_t& out) {
  const auto m = minimal(le);
  if (m.size() > 8) return false;
  std::uint64_t v = negative(m) ? ~0ull : 0;
  for (std::size_t i = 0; i < m.size(); ++i) {
    v &= ~(0xffull << (8 * i));
    v |= static_cast<std::uint64_t>(m[i]) << (8 * i);
  }
  out = static_cast<std::int64_t>(v);
  return true;
}

constexpr std::uint64_t canonical_nan = 0x7ff8000000000000ull;

// PUT text with leading zeros ("p01\n"): CPython reads PUT and GET in base 10 and accepts it,
// brine's strict_numbers (the default) rejects it with bad_number. Off until that is decided:
// this is a question of what decode accepts, not of round trips.
constexpr bool put_leading_zeros = false;

// NEXT_BUFFERs a generated pickle holds at most. Fewer than oob_buffers() has: re-encoding may
// consume more, since a buffer inside a recursive tuple is written twice (once in the copy that
// is discarded), by CPython's pickler as by brine's.
constexpr std::size_t max_buffers = 8;

// ---------------------------------------------------------------------------------------------
// The writer

class pickle_writer {
 public:
  explicit pickle_writer(const graph_recipe& g)
      : g_(g), p_(g.protocol), n_(g.nodes.size()), rng_(g.style), memo_(n_, -1) {
    choices c(g.style);
    sparse_ = c.pick(2) == 1;
    frame_mode_ = c.pick(3);
    noise_ = c.pick(2) == 1;
    distinct_singletons_ = c.pick(2) == 1;
    huge_indices_ = sparse_ && c.pick(4) == 3;
    analyse();
  }

  std::string run() {
    if (n_ == 0) op(oc::NONE);
    else emit(0);
    op(oc::STOP);
    std::string out;
    if (p_ >= 2) {
      out.push_back(static_cast<char>(oc::PROTO));
      out.push_back(static_cast<char>(p_));
    }
    if (p_ < 4 || frame_mode_ == 1) return out + body_;
    // frame_mode 0: one frame, as CPython writes a small pickle; 2: random cuts at opcode
    // starts, each piece framed or not.
    std::vector<std::size_t> cuts{0};
    if (frame_mode_ == 2) {
      for (std::size_t i = 1; i < starts_.size(); ++i)
        if (rng_.below(4) == 0) cuts.push_back(starts_[i]);
    }
    cuts.push_back(body_.size());
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
      const std::size_t len = cuts[i + 1] - cuts[i];
      if (frame_mode_ == 0 || rng_.below(3) != 0) {
        out.push_back(static_cast<char>(oc::FRAME));
        append_le(out, len, 8);
      }
      out.append(body_, cuts[i], len);
    }
    return out;
  }

 private:
  // ---- analysis of the recipe graph
  std::size_t target(std::size_t i, std::uint16_t kid) const { return (i + 1 + kid) % n_; }

  void analyse() {
    refs_.assign(n_, 0);
    on_cycle_.assign(n_, false);
    hashable_.assign(n_, 0);
    for (std::size_t i = 0; i < n_; ++i)
      for (auto k : g_.nodes[i].kids) ++refs_[target(i, k)];
    // on_cycle: i reachable from its own children.
    for (std::size_t i = 0; i < n_; ++i) {
      if (g_.nodes[i].kids.empty()) continue;
      std::vector<bool> seen(n_, false);
      std::vector<std::size_t> todo;
      for (auto k : g_.nodes[i].kids) todo.push_back(target(i, k));
      while (!todo.empty()) {
        const std::size_t j = todo.back();
        todo.pop_back();
        if (j == i) {
          on_cycle_[i] = true;
          break;
        }
        if (seen[j]) continue;
        seen[j] = true;
        if (is_container(g_.nodes[j].what))
          for (auto k : g_.nodes[j].kids) todo.push_back(target(j, k));
      }
    }
  }

  static bool is_container(shape s) {
    return s == shape::tuple || s == shape::list || s == shape::dict || s == shape::set || s == shape::frozenset;
  }
  static bool is_leaf(shape s) { return !is_container(s); }
  static bool singleton(const std::vector<char32_t>& text) { return text.empty() || (text.size() == 1 && text[0] < 0x100); }

  // Hashable as Python sees it: scalars, str, bytes, frozensets (their items are made hashable),
  // and tuples of hashables that are not on a cycle of immutables. Buffers are treated as
  // unhashable.
  bool hashable(std::size_t i) {
    enum : std::uint8_t { unknown, visiting, yes, no };
    if (hashable_[i] == yes) return true;
    if (hashable_[i] == no || hashable_[i] == visiting) return false;
    const node_recipe& r = g_.nodes[i];
    switch (r.what) {
      case shape::none: case shape::boolean: case shape::integer: case shape::floating:
      case shape::str: case shape::bytes: case shape::frozenset:
        hashable_[i] = yes;
        return true;
      case shape::tuple: {
        hashable_[i] = visiting;
        bool ok = true;
        for (auto k : r.kids) ok = ok && hashable(target(i, k));
        hashable_[i] = ok ? yes : no;
        return ok;
      }
      default:
        hashable_[i] = no;
        return false;
    }
  }

  // ---- output
  void op(std::uint8_t code, std::string_view arg = {}) {
    starts_.push_back(body_.size());
    body_.push_back(static_cast<char>(code));
    body_.append(arg);
  }

  // ---- memo
  std::uint64_t fresh_index(bool memoize_op) {
    if (!sparse_ || memoize_op) return entries_;
    // Sparse: unique indices from 10^6, which MEMOIZE (numbering by entry count) never reaches;
    // now and then one near 2^32 (brine's memo is sparse; CPython's is an array, which would need
    // index-sized memory for it).
    for (;;) {
      const std::uint64_t idx = huge_indices_ && rng_.rare(4) ? 0xffffffffull - rng_.below(1u << 20)
                                              : 1'000'000 + rng_.below(1u << 20);
      if (sparse_used_.insert(idx).second) return idx;
    }
  }
  std::uint64_t write_put(choices& c) {
    std::vector<int> forms;  // 0 MEMOIZE, 1 BINPUT/LONG_BINPUT, 2 PUT, 3 LONG_BINPUT, 4 PUT with zeros
    if (p_ >= 4) forms.push_back(0);
    if (p_ >= 1) forms.push_back(1);
    forms.push_back(2);
    if (p_ >= 1) forms.push_back(3);
    if (put_leading_zeros) forms.push_back(4);
    const int form = forms[c.pick(forms.size())];
    const std::uint64_t idx = fresh_index(form == 0);
    ++entries_;
    switch (form) {
      case 0: op(oc::MEMOIZE); break;
      case 1:
        if (idx < 256) op(oc::BINPUT, std::string(1, static_cast<char>(idx)));
        else put_long(idx);
        break;
      case 3: put_long(idx); break;
      case 2: op(oc::PUT, std::to_string(idx) + "\n"); break;
      default: op(oc::PUT, "00" + std::to_string(idx) + "\n"); break;
    }
    return idx;
  }
  void put_long(std::uint64_t idx) {
    std::string a;
    append_le(a, idx, 4);
    op(oc::LONG_BINPUT, a);
  }
  void put(std::size_t i, choices& c) { memo_[i] = static_cast<std::int64_t>(write_put(c)); }
  void write_get(std::uint64_t idx, choices& c) {
    const std::size_t form = p_ >= 1 ? c.pick(3) : 2;
    if (form == 0 && idx < 256) {
      op(oc::BINGET, std::string(1, static_cast<char>(idx)));
    } else if (form <= 1) {
      std::string a;
      append_le(a, idx, 4);
      op(oc::LONG_BINGET, a);
    } else {
      op(oc::GET, std::to_string(idx) + "\n");
    }
  }

  // Harmless extra opcodes around a value (a pickle-wide switch, then the stream decides).
  void noise_before() {
    if (!noise_ || !rng_.rare(8)) return;
    switch (rng_.below(p_ >= 1 ? 3 : 1)) {
      case 0: op(oc::NONE); op(oc::POP); break;
      case 1: op(oc::MARK); op(oc::NONE); op(oc::POP_MARK); break;
      default: op(oc::EMPTY_LIST); op(oc::POP); break;
    }
  }
  void noise_after() {  // the value just written is on top of the stack
    if (!noise_ || !rng_.rare(8)) return;
    if (rng_.below(2) == 0) {
      op(oc::DUP);
      op(oc::POP);
    } else {
      choices c(rng_.next());
      write_put(c);  // an entry nothing fetches
    }
  }

  // ---- scalars
  void emit_int(const std::vector<std::uint8_t>& given, std::int64_t number, bool big, choices& c) {
    std::vector<std::uint8_t> le = big ? given : le_of(number);
    std::int64_t v = 0;
    const bool fits64 = fits_int64(le, v);
    const bool fits32 = fits64 && v >= INT32_MIN && v <= INT32_MAX;
    const std::vector<std::uint8_t> m = minimal(le);
    // Forms, CPython's first: 0 BININT*, 1 LONG1, 2 INT text, 3 LONG text, 4 LONG4, 5 BININT
    // for any int32, 6 LONG1 with a redundant sign byte, 7 LONG text without the L.
    std::vector<int> forms;
    if (p_ >= 1 && fits32) forms.push_back(0);
    if (p_ >= 2 && m.size() < 256) forms.push_back(1);
    if (p_ < 2 && !fits32) forms.push_back(3);
    forms.push_back(2);
    forms.push_back(3);
    if (p_ >= 2) forms.push_back(4);
    if (p_ >= 1 && fits32) forms.push_back(5);
    if (p_ >= 2 && le.size() < 255) forms.push_back(6);
    forms.push_back(7);
    const int form = forms[c.pick(forms.size())];
    std::string a;
    switch (form) {
      case 0: {
        const auto u = static_cast<std::uint32_t>(static_cast<std::int32_t>(v));
        if (u <= 0xff) {
          op(oc::BININT1, std::string(1, static_cast<char>(u)));
        } else if (u <= 0xffff) {
          append_le(a, u, 2);
          op(oc::BININT2, a);
        } else {
          append_le(a, u, 4);
          op(oc::BININT, a);
        }
        return;
      }
      case 5:
        append_le(a, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)), 4);
        op(oc::BININT, a);
        return;
      case 1:
      case 6: {
        std::vector<std::uint8_t> bytes = form == 1 ? m : le;
        if (form == 6) bytes.push_back(negative(bytes) ? 0xff : 0x00);
        a.push_back(static_cast<char>(bytes.size()));
        a.append(bytes.begin(), bytes.end());
        op(oc::LONG1, a);
        return;
      }
      case 4:
        append_le(a, m.size(), 4);
        a.append(m.begin(), m.end());
        op(oc::LONG4, a);
        return;
      case 2: op(oc::INT, decimal_of(m) + "\n"); return;
      case 3: op(oc::LONG, decimal_of(m) + "L\n"); return;
      default: op(oc::LONG, decimal_of(m) + "\n"); return;
    }
  }
  void emit_small_int(std::int64_t v) {
    choices c(rng_.next());
    emit_int({}, v, false, c);
  }

  void emit_float(std::uint64_t bits, choices& c) {
    const double d = std::bit_cast<double>(bits);
    const std::size_t form = p_ >= 1 ? c.pick(3) : 1 + c.pick(2);
    if (form == 0) {
      std::string a;
      for (int i = 7; i >= 0; --i) a.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
      op(oc::BINFLOAT, a);
      return;
    }
    std::string t;
    if (std::isnan(d)) {
      t = std::signbit(d) ? "-nan" : (form == 1 ? "nan" : "NaN");
    } else if (std::isinf(d)) {
      t = d < 0 ? (form == 1 ? "-inf" : "-Infinity") : (form == 1 ? "inf" : "infinity");
    } else if (form == 1) {  // shortest round trip, as repr()
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);
      t.assign(buf, r.ptr);
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      t = buf;
    }
    op(oc::FLOAT, t + "\n");
  }

  void emit_str(const std::vector<char32_t>& text, choices& c) {
    const std::string utf8 = utf8_of(text);
    const bool ascii = std::all_of(text.begin(), text.end(), [](char32_t cp) { return cp < 0x80; });
    // 0 CPython's form, 1 UNICODE, 2 BINUNICODE, 3 BINUNICODE8, 4 SHORT_BINUNICODE,
    // 5 STRING, 6 SHORT_BINSTRING, 7 BINSTRING, 8 UNICODE with every non-ASCII escaped.
    std::vector<int> forms{0, 1};
    if (p_ >= 1) forms.push_back(2);
    if (p_ >= 4) forms.push_back(3);
    if (p_ >= 4 && utf8.size() < 256) forms.push_back(4);
    if (ascii) {
      forms.push_back(5);
      if (p_ >= 1 && utf8.size() < 256) forms.push_back(6);
      if (p_ >= 1) forms.push_back(7);
    }
    forms.push_back(8);
    int form = forms[c.pick(forms.size())];
    if (form == 0) form = p_ == 0 ? 1 : (p_ >= 4 && utf8.size() < 256) ? 4 : 2;
    std::string a;
    switch (form) {
      case 1:
      case 8: op(oc::UNICODE, raw_unicode_escape(text, form == 8) + "\n"); return;
      case 2: append_le(a, utf8.size(), 4); op(oc::BINUNICODE, a + utf8); return;
      case 3: append_le(a, utf8.size(), 8); op(oc::BINUNICODE8, a + utf8); return;
      case 4: a.push_back(static_cast<char>(utf8.size())); op(oc::SHORT_BINUNICODE, a + utf8); return;
      case 5: op(oc::STRING, quoted(utf8, c.pick(2) == 1) + "\n"); return;
      case 6: a.push_back(static_cast<char>(utf8.size())); op(oc::SHORT_BINSTRING, a + utf8); return;
      default: append_le(a, utf8.size(), 4); op(oc::BINSTRING, a + utf8); return;
    }
  }
  static std::string raw_unicode_escape(const std::vector<char32_t>& text, bool escape_all) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (char32_t cp : text) {
      const auto v = static_cast<std::uint32_t>(cp);
      if (v >= 0x10000) {
        out += "\\U";
        for (int k = 7; k >= 0; --k) out += digits[(v >> (4 * k)) & 15];
      } else if (v >= 0x100 || v == '\\' || v == '\n' || (escape_all && v >= 0x80)) {
        out += "\\u";
        for (int k = 3; k >= 0; --k) out += digits[(v >> (4 * k)) & 15];
      } else {
        out.push_back(static_cast<char>(v));  // latin-1 byte, taken as its code point
      }
    }
    return out;
  }
  static std::string quoted(const std::string& ascii, bool double_quotes) {
    const char q = double_quotes ? '"' : '\'';
    std::string out(1, q);
    for (char ch : ascii) {
      const auto u = static_cast<unsigned char>(ch);
      if (ch == '\\' || ch == q) {
        out += '\\';
        out += ch;
      } else if (ch == '\n') {
        out += "\\n";
      } else if (u < 0x20 || u == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", u);
        out += buf;
      } else {
        out += ch;
      }
    }
    out += q;
    return out;
  }
  void emit_ascii(std::string_view s, choices& c) {
    emit_str(std::vector<char32_t>(s.begin(), s.end()), c);
    if (c.rare(6)) write_put(c);
  }

  std::string builtins_module(choices& c) { return p_ < 3 && c.pick(2) == 0 ? "__builtin__" : "builtins"; }

  void emit_global(const std::string& module, const std::string& name, choices& c) {
    if (p_ >= 4 && c.pick(2) == 0) {
      emit_ascii(module, c);
      emit_ascii(name, c);
      op(oc::STACK_GLOBAL);
    } else {
      op(oc::GLOBAL, module + "\n" + name + "\n");
    }
    if (c.pick(2) == 0) write_put(c);  // CPython memoizes globals
  }

  // Writes a tuple of `count` values produced by `item(k)`.
  void emit_tuple_of(std::size_t count, const std::function<void(std::size_t)>& item, choices& c) {
    const bool short_form = (count == 0 && p_ >= 1) || (count <= 3 && p_ >= 2);
    const bool with_mark = !short_form || c.rare(4);
    if (with_mark) op(oc::MARK);
    for (std::size_t k = 0; k < count; ++k) item(k);
    if (with_mark) op(oc::TUPLE);
    else op(count == 0 ? oc::EMPTY_TUPLE : static_cast<std::uint8_t>(oc::TUPLE1 + count - 1));
  }

  void emit_reduce(const std::string& module, const std::string& name, std::size_t nargs,
                   const std::function<void(std::size_t)>& arg, choices& c) {
    emit_global(module, name, c);
    emit_tuple_of(nargs, arg, c);
    op(oc::REDUCE);
  }

  static std::vector<char32_t> latin1_text(const std::vector<std::uint8_t>& data) {
    return std::vector<char32_t>(data.begin(), data.end());
  }

  void emit_bytes(const std::vector<std::uint8_t>& data, choices& c) {
    // 0 CPython's form, 1 _codecs.encode(str, 'latin1'), 2 _codecs.encode(str, 'latin-1'),
    // 3 BINBYTES, 4 BINBYTES8, 5 bytes()
    std::vector<int> forms{0, 1, 2};
    if (p_ >= 3) forms.push_back(3);
    if (p_ >= 4) forms.push_back(4);
    if (data.empty()) forms.push_back(5);
    int form = forms[c.pick(forms.size())];
    if (form == 0) form = p_ >= 3 ? 6 : data.empty() ? 5 : 1;
    std::string a;
    switch (form) {
      case 1:
      case 2: {
        const auto text = latin1_text(data);
        emit_reduce("_codecs", "encode", 2, [&](std::size_t k) {
          if (k == 0) emit_str(text, c);
          else emit_ascii(form == 1 ? "latin1" : "latin-1", c);
        }, c);
        return;
      }
      case 3: append_le(a, data.size(), 4); break;
      case 4: append_le(a, data.size(), 8); break;
      case 5: emit_reduce(builtins_module(c), "bytes", 0, [](std::size_t) {}, c); return;
      default:
        if (data.size() < 256) {
          a.push_back(static_cast<char>(data.size()));
          a.append(data.begin(), data.end());
          op(oc::SHORT_BINBYTES, a);
          return;
        }
        append_le(a, data.size(), 4);
        form = 3;
        break;
    }
    a.append(data.begin(), data.end());
    op(form == 3 ? oc::BINBYTES : oc::BINBYTES8, a);
  }

  void emit_bytearray(const std::vector<std::uint8_t>& data, choices& c) {
    // 0 CPython's form, 1 BYTEARRAY8, 2 bytearray(bytes), 3 bytearray(str, 'latin-1'),
    // 4 bytearray()
    std::vector<int> forms{0, 2, 3};
    if (p_ >= 5) forms.push_back(1);
    if (data.empty()) forms.push_back(4);
    int form = forms[c.pick(forms.size())];
    if (form == 0) form = p_ >= 5 ? 1 : p_ >= 3 ? 2 : 3;
    const std::string module = builtins_module(c);
    switch (form) {
      case 1: {
        std::string a;
        append_le(a, data.size(), 8);
        a.append(data.begin(), data.end());
        op(oc::BYTEARRAY8, a);
        return;
      }
      case 2: emit_reduce(module, "bytearray", 1, [&](std::size_t) { emit_bytes(data, c); }, c); return;
      case 3: {
        const auto text = latin1_text(data);
        emit_reduce(module, "bytearray", 2, [&](std::size_t k) {
          if (k == 0) emit_str(text, c);
          else emit_ascii(c.pick(2) == 0 ? "latin-1" : "latin1", c);
        }, c);
        return;
      }
      default: emit_reduce(module, "bytearray", 0, [](std::size_t) {}, c); return;
    }
  }

  // ---- children
  struct on_path {
    std::size_t node;
    bool memoized_mutable;  // a list or dict already in the memo: a cycle through it can close
  };

  void emit_child(std::size_t j) {
    if (memo_[j] >= 0) {
      choices c(g_.nodes[j].style >> 32);
      write_get(static_cast<std::uint64_t>(memo_[j]), c);
      return;
    }
    std::size_t pos = path_.size();
    for (std::size_t k = path_.size(); k-- > 0;)
      if (path_[k].node == j) {
        pos = k;
        break;
      }
    if (pos != path_.size()) {
      // Met again while its items are written. Lists and dicts are in the memo by then (they
      // are on a cycle); a tuple is written in full inside when a memoized list or dict lies in
      // between, as CPython does; a cycle of immutables (tuples, frozensets) cannot be built:
      // None.
      bool through_mutable = false;
      for (std::size_t k = pos + 1; k < path_.size(); ++k) through_mutable = through_mutable || path_[k].memoized_mutable;
      const shape what = g_.nodes[j].what;
      if (what == shape::list || what == shape::dict) throw std::logic_error("pickle_writer: a list or dict on a cycle was not memoized");
      if (what != shape::tuple || !through_mutable || path_.size() > 200) {
        op(oc::NONE);
        return;
      }
    }
    if (path_.size() > 400) {  // keeps the writer's recursion bounded
      op(oc::NONE);
      return;
    }
    emit(j);
  }

  void emit_key(std::size_t j) {
    if (hashable(j)) emit_child(j);
    else emit_small_int(static_cast<std::int64_t>(1'000'000 + j));
  }

  bool must_memo(std::size_t i) const {
    const node_recipe& r = g_.nodes[i];
    if (r.what == shape::buffer) return false;
    if (is_leaf(r.what)) return r.memo;
    return r.memo || refs_[i] > 1 || on_cycle_[i];
  }

  // Items [0, count) in batches: `one` is the single-item opcode (APPEND, SETITEM; -1 for none),
  // `batch` the MARK ... batch opcode (APPENDS, SETITEMS, ADDITEMS; -1 below protocol 1).
  void emit_batches(std::size_t count, std::size_t per_item, const std::function<void(std::size_t)>& item,
                    int one, int batch, choices& c) {
    const bool batches = batch >= 0;
    const std::size_t plan = batches ? c.pick(3) : 1;  // 0 CPython's batches of 1000, 1 one at a time, 2 random
    std::size_t k = 0;
    if (batches && c.rare(8)) {  // an empty batch
      op(oc::MARK);
      op(static_cast<std::uint8_t>(batch));
    }
    while (k < count) {
      std::size_t n = plan == 0 ? std::min<std::size_t>(1000, count - k)
                    : plan == 1 ? 1
                                : 1 + rng_.below(std::min<std::size_t>(count - k, 7));
      if (plan == 2 && rng_.rare(5)) n = count - k;
      if (one >= 0 && (!batches || (n == 1 && (plan == 1 || rng_.below(2) == 0)))) {
        n = 1;
        for (std::size_t s = 0; s < per_item; ++s) item(k * per_item + s);
        op(static_cast<std::uint8_t>(one));
      } else {
        op(oc::MARK);
        for (std::size_t s = 0; s < n * per_item; ++s) item(k * per_item + s);
        op(static_cast<std::uint8_t>(batch));
      }
      k += n;
    }
  }

  // ---- one node
  void emit(std::size_t i) {
    const node_recipe& r = g_.nodes[i];
    choices c(r.style);
    noise_before();
    switch (r.what) {
      case shape::none: op(oc::NONE); break;
      case shape::boolean:
        if (p_ >= 2 && c.pick(2) == 0) op(r.number ? oc::NEWTRUE : oc::NEWFALSE);
        else op(oc::INT, r.number ? "01\n" : "00\n");
        break;
      case shape::integer: emit_int(r.data, r.number, !r.data.empty(), c); break;
      case shape::floating: emit_float(static_cast<std::uint64_t>(r.number), c); break;
      case shape::str:
        if (singleton(r.text) && !distinct_singletons_) {
          // CPython has one '' and one str per latin-1 character: its pickler writes each once.
          const std::string key = utf8_of(r.text);
          if (const auto it = singletons_.find(key); it != singletons_.end()) {
            write_get(it->second, c);
            memo_[i] = static_cast<std::int64_t>(it->second);
          } else {
            emit_str(r.text, c);
            put(i, c);
            singletons_.emplace(key, static_cast<std::uint64_t>(memo_[i]));
          }
          noise_after();
          return;
        }
        emit_str(r.text, c);
        break;
      case shape::bytes: emit_bytes(r.data, c); break;
      case shape::bytearray: emit_bytearray(r.data, c); break;
      case shape::buffer:
        if (p_ < 5 || buffers_used_ == max_buffers) {
          op(oc::NONE);
          break;
        }
        ++buffers_used_;
        op(oc::NEXT_BUFFER);
        if (c.pick(2) == 1) op(oc::READONLY_BUFFER);
        break;
      case shape::tuple: emit_tuple(i, c); break;
      case shape::list: emit_list(i, c); break;
      case shape::dict: emit_dict(i, c); break;
      case shape::set: emit_set(i, c, true); break;
      case shape::frozenset: emit_set(i, c, false); break;
    }
    if (is_leaf(r.what) && must_memo(i)) put(i, c);
    noise_after();
  }

  void item_of(std::size_t i, std::size_t k) {
    const node_recipe& r = g_.nodes[i];
    if (k < r.kids.size()) emit_child(target(i, r.kids[k]));
    else emit_small_int(static_cast<std::int64_t>(k));
  }
  void key_of(std::size_t i, std::size_t k) {  // set items and dict keys
    const node_recipe& r = g_.nodes[i];
    if (k < r.kids.size()) emit_key(target(i, r.kids[k]));
    else emit_small_int(static_cast<std::int64_t>(3'000'000 + k));
  }

  void emit_tuple(std::size_t i, choices& c) {
    const node_recipe& r = g_.nodes[i];
    const std::size_t count = r.kids.size() + r.filler;
    const bool short_form = (count == 0 && p_ >= 1) || (count <= 3 && p_ >= 2);
    const bool with_mark = !short_form || c.pick(2) == 1;
    if (with_mark) op(oc::MARK);
    path_.push_back({i, false});
    for (std::size_t k = 0; k < count; ++k) item_of(i, k);
    path_.pop_back();
    if (memo_[i] >= 0) {  // written in full while its items were (a recursive tuple)
      if (with_mark && p_ >= 1) {
        op(oc::POP_MARK);
      } else {
        for (std::size_t k = 0; k < count + (with_mark ? 1 : 0); ++k) op(oc::POP);  // the last POP takes the MARK
      }
      write_get(static_cast<std::uint64_t>(memo_[i]), c);
      return;
    }
    if (with_mark) op(oc::TUPLE);
    else op(count == 0 ? oc::EMPTY_TUPLE : static_cast<std::uint8_t>(oc::TUPLE1 + count - 1));
    if (must_memo(i)) put(i, c);
  }

  void emit_list(std::size_t i, choices& c) {
    const node_recipe& r = g_.nodes[i];
    const std::size_t count = r.kids.size() + r.filler;
    if (!on_cycle_[i] && c.pick(3) == 2) {  // MARK items LIST: nothing inside refers back
      op(oc::MARK);
      path_.push_back({i, false});
      for (std::size_t k = 0; k < count; ++k) item_of(i, k);
      path_.pop_back();
      op(oc::LIST);
      if (must_memo(i)) put(i, c);
      return;
    }
    if (p_ >= 1 && c.pick(4) != 3) {
      op(oc::EMPTY_LIST);
    } else {
      op(oc::MARK);
      op(oc::LIST);
    }
    const bool memoized = must_memo(i);
    if (memoized) put(i, c);
    path_.push_back({i, memoized});
    emit_batches(count, 1, [&](std::size_t k) { item_of(i, k); }, oc::APPEND, p_ >= 1 ? oc::APPENDS : -1, c);
    path_.pop_back();
  }

  void emit_dict(std::size_t i, choices& c) {
    const node_recipe& r = g_.nodes[i];
    const std::size_t count = r.kids.size() / 2 + r.filler;
    auto item = [&](std::size_t s) {
      const std::size_t k = s / 2;
      if (k < r.kids.size() / 2) {
        if (s % 2 == 0) emit_key(target(i, r.kids[2 * k]));
        else emit_child(target(i, r.kids[2 * k + 1]));
      } else if (s % 2 == 0) {
        emit_small_int(static_cast<std::int64_t>(2'000'000 + k));
      } else {
        op(oc::NONE);
      }
    };
    if (!on_cycle_[i] && c.pick(3) == 2) {  // MARK k v ... DICT
      op(oc::MARK);
      path_.push_back({i, false});
      for (std::size_t s = 0; s < 2 * count; ++s) item(s);
      path_.pop_back();
      op(oc::DICT);
      if (must_memo(i)) put(i, c);
      return;
    }
    if (p_ >= 1 && c.pick(4) != 3) {
      op(oc::EMPTY_DICT);
    } else {
      op(oc::MARK);
      op(oc::DICT);
    }
    const bool memoized = must_memo(i);
    if (memoized) put(i, c);
    path_.push_back({i, memoized});
    emit_batches(count, 2, item, oc::SETITEM, p_ >= 1 ? oc::SETITEMS : -1, c);
    path_.pop_back();
  }

  // Items are hashable, so nothing inside a set refers back to it.
  void emit_set(std::size_t i, choices& c, bool mutable_set) {
    const node_recipe& r = g_.nodes[i];
    const std::size_t count = r.kids.size() + r.filler;
    auto item = [&](std::size_t k) { key_of(i, k); };
    path_.push_back({i, false});
    const std::size_t form = p_ >= 4 ? c.pick(3) : 1 + c.pick(2);  // 0 opcodes, 1 f(list), 2 f(()) or f([])
    if (form == 0 && mutable_set) {
      op(oc::EMPTY_SET);
      if (must_memo(i)) put(i, c);
      emit_batches(count, 1, item, -1, oc::ADDITEMS, c);
      path_.pop_back();
      return;
    }
    if (form == 0) {
      op(oc::MARK);
      for (std::size_t k = 0; k < count; ++k) item(k);
      op(oc::FROZENSET);
    } else {
      const std::string module = builtins_module(c);
      const bool empty_args = count == 0 && form == 2 && c.pick(2) == 0;
      emit_reduce(module, mutable_set ? "set" : "frozenset", empty_args ? 0 : 1, [&](std::size_t) {
        if (p_ >= 1 && c.pick(2) == 0) {
          op(oc::EMPTY_LIST);
          if (c.rare(4)) write_put(c);
          if (count > 0) emit_batches(count, 1, item, oc::APPEND, oc::APPENDS, c);
        } else {
          op(oc::MARK);
          for (std::size_t k = 0; k < count; ++k) item(k);
          op(oc::LIST);
          if (c.rare(4)) write_put(c);
        }
      }, c);
    }
    path_.pop_back();
    if (must_memo(i)) put(i, c);
  }

  const graph_recipe& g_;
  int p_;
  std::size_t n_;
  stream rng_;
  bool sparse_ = false;
  bool huge_indices_ = false;
  std::size_t frame_mode_ = 0;
  bool noise_ = false;
  bool distinct_singletons_ = false;  // '' and 1-character latin-1 strs as separate objects
  std::map<std::string, std::uint64_t> singletons_;  // their memo index, by UTF-8
  std::vector<int> refs_;
  std::vector<bool> on_cycle_;
  std::vector<std::uint8_t> hashable_;
  std::vector<std::int64_t> memo_;  // memo index per recipe node, -1 when not (yet) memoized
  std::uint64_t entries_ = 0;
  std::set<std::uint64_t> sparse_used_;
  std::vector<on_path> path_;
  std::size_t buffers_used_ = 0;
  std::string body_;
  std::vector<std::size_t> starts_;
};

// ---------------------------------------------------------------------------------------------
// Generators

rc::Gen<char32_t> gen_code_point() {
  using rc::gen::inRange;
  return rc::gen::weightedOneOf<char32_t>({
      {10, inRange<char32_t>(0x20, 0x7f)},
      {4, rc::gen::element<char32_t>(U'a', U'b')},
      {3, rc::gen::element<char32_t>(U'\\', U'\n', U'\r', U'\0', U'\x1a', U'\'', U'"', U'\t', U'\x7f')},
      {3, inRange<char32_t>(0x80, 0x100)},
      {2, inRange<char32_t>(0x100, 0xd800)},
      {1, inRange<char32_t>(0xe000, 0x10000)},
      {2, inRange<char32_t>(0x10000, 0x110000)},
      {2, inRange<char32_t>(0xd800, 0xe000)},  // lone surrogates
  });
}

rc::Gen<std::size_t> gen_length() {
  using rc::gen::inRange;
  return rc::gen::weightedOneOf<std::size_t>({
      {20, inRange<std::size_t>(0, 6)},
      {4, inRange<std::size_t>(6, 40)},
      {1, inRange<std::size_t>(250, 300)},  // across the 1-byte length forms
  });
}

rc::Gen<std::uint64_t> gen_float_bits() {
  return rc::gen::weightedOneOf<std::uint64_t>({
      {3, rc::gen::element<std::uint64_t>(
              0x0000000000000000ull,  // 0.0
              0x8000000000000000ull,  // -0.0
              0x7ff0000000000000ull,  // inf
              0xfff0000000000000ull,  // -inf
              canonical_nan,          // float('nan')
              0xfff8000000000000ull,  // -nan
              0x7ff0000000000001ull,  // signalling NaN
              0x7ff8deadbeef0001ull,  // NaN with a payload
              0x0000000000000001ull,  // smallest subnormal
              0x000fffffffffffffull,  // largest subnormal
              0x7fefffffffffffffull,  // largest finite
              0x3ff0000000000000ull,  // 1.0
              0x3fb999999999999aull,  // 0.1
              0x4341c37937e08000ull,  // 1e16
              0x3e7ad7f29abcaf48ull)},  // 1e-07
      {2, rc::gen::arbitrary<std::uint64_t>()},
      {3, rc::gen::map(rc::gen::inRange(-4000, 4000), [](int k) { return std::bit_cast<std::uint64_t>(k / 8.0); })},
  });
}

rc::Gen<std::int64_t> gen_int64() {
  return rc::gen::weightedOneOf<std::int64_t>({
      {6, rc::gen::inRange<std::int64_t>(-5, 300)},
      {3, rc::gen::element<std::int64_t>(0, 1, -1, 255, 256, 65535, 65536, INT32_MAX, INT32_MIN,
                                         std::int64_t{INT32_MAX} + 1, std::int64_t{INT32_MIN} - 1,
                                         INT64_MAX, INT64_MIN, 0x7fffffffffffff, -0x80000000000000)},
      {2, rc::gen::arbitrary<std::int64_t>()},
  });
}

// Children mostly name the next few nodes (a tree), often any node (sharing; cycles when the
// reference wraps around to an ancestor). Not scaled down with rapidcheck's size.
rc::Gen<std::uint16_t> gen_kid() {
  return rc::gen::resize(100, rc::gen::weightedOneOf<std::uint16_t>({
      {6, rc::gen::inRange<std::uint16_t>(0, 3)},
      {4, rc::gen::inRange<std::uint16_t>(0, 40)},
      {1, rc::gen::arbitrary<std::uint16_t>()},
  }));
}

// `root`: a container with more children, so that most graphs are more than one scalar.
rc::Gen<node_recipe> gen_node(bool root) {
  return rc::gen::exec([root] {
    node_recipe r;
    r.what = root ? *rc::gen::weightedElement<shape>({
                        {4, shape::tuple}, {8, shape::list}, {6, shape::dict}, {2, shape::set}, {2, shape::frozenset},
                    })
                  : *rc::gen::weightedElement<shape>({
                        {3, shape::none}, {3, shape::boolean}, {10, shape::integer}, {6, shape::floating},
                        {10, shape::str}, {5, shape::bytes}, {3, shape::bytearray}, {8, shape::tuple},
                        {10, shape::list}, {8, shape::dict}, {4, shape::set}, {4, shape::frozenset},
                        {2, shape::buffer},
                    });
    r.style = *rc::gen::arbitrary<std::uint64_t>();
    r.memo = *rc::gen::weightedElement<bool>({{2, false}, {1, true}});
    switch (r.what) {
      case shape::boolean: r.number = *rc::gen::inRange(0, 2); break;
      case shape::integer:
        if (*rc::gen::weightedElement<bool>({{4, false}, {1, true}})) {
          const std::size_t len = *rc::gen::weightedElement<std::size_t>({{8, 9}, {4, 20}, {1, 300}});
          r.data = *rc::gen::container<std::vector<std::uint8_t>>(*rc::gen::inRange<std::size_t>(1, len),
                                                                   rc::gen::arbitrary<std::uint8_t>());
        } else {
          r.number = *gen_int64();
        }
        break;
      case shape::floating: r.number = static_cast<std::int64_t>(*gen_float_bits()); break;
      case shape::str: {
        r.text = *rc::gen::container<std::vector<char32_t>>(*gen_length(), gen_code_point());
        if (*rc::gen::weightedElement<bool>({{5, false}, {1, true}})) {  // a surrogate pair, kept as two
          const std::size_t at = *rc::gen::inRange<std::size_t>(0, r.text.size() + 1);
          r.text.insert(r.text.begin() + static_cast<std::ptrdiff_t>(at), {U'\xd83d', U'\xde00'});
        }
        break;
      }
      case shape::bytes:
      case shape::bytearray: {
        const bool huge = *rc::gen::weightedElement<bool>({{150, false}, {1, true}});
        const std::size_t len = huge ? 70'000 : *gen_length();  // 64 KiB and more: written outside frames
        r.data = *rc::gen::container<std::vector<std::uint8_t>>(
            len, rc::gen::weightedOneOf<std::uint8_t>({{3, rc::gen::arbitrary<std::uint8_t>()},
                                                       {1, rc::gen::element<std::uint8_t>('a', 'b')}}));
        break;
      }
      case shape::tuple: case shape::list: case shape::dict: case shape::set: case shape::frozenset:
        r.kids = *rc::gen::container<std::vector<std::uint16_t>>(
            *rc::gen::resize(100, rc::gen::inRange<std::size_t>(root ? 1 : 0, root ? 13 : 7)), gen_kid());
        r.filler = *rc::gen::weightedElement<std::uint16_t>(
            {{60, 0}, {1, 999}, {1, 1000}, {1, 1001}, {1, 2001}});
        break;
      default: break;
    }
    return r;
  });
}

}  // namespace

rc::Gen<graph_recipe> gen_graph() {
  return rc::gen::exec([] {
    graph_recipe g;
    g.protocol = *rc::gen::element(0, 1, 2, 3, 4, 5);
    g.style = *rc::gen::arbitrary<std::uint64_t>();
    g.nodes = *rc::gen::scale(0.5, rc::gen::container<std::vector<node_recipe>>(gen_node(false)));
    if (!g.nodes.empty() && *rc::gen::weightedElement<bool>({{4, true}, {1, false}})) g.nodes[0] = *gen_node(true);
    return g;
  });
}

std::string write_pickle(const graph_recipe& g) { return pickle_writer(g).run(); }

const std::vector<brine::oob_buffer>& oob_buffers() {
  static const std::array<std::string, 5> storage{"buf0", "buffer one", "", std::string("\x00\x01\x02", 3),
                                                  "last buffer"};
  static const std::vector<brine::oob_buffer> all = [] {
    std::vector<brine::oob_buffer> v;
    for (std::size_t i = 0; i < 64; ++i) {
      const std::string& s = storage[i % storage.size()];
      v.push_back({std::as_bytes(std::span<const char>(s.data(), s.size())), i % 3 == 1});
    }
    return v;
  }();
  return all;
}

brine::decode_options options_with_buffers() {
  brine::decode_options o;
  o.buffers = oob_buffers();
  o.buffers_given = true;
  return o;
}

brine::encode_options out_of_band(int protocol, std::vector<brine::oob_buffer>& into) {
  into.clear();
  brine::encode_options o;
  o.protocol = protocol;
  o.on_buffer = [&into](brine::value, std::span<const std::byte> data, bool readonly) {
    into.push_back({data, readonly});
    return false;
  };
  return o;
}

brine::decode_options options_with(const std::vector<brine::oob_buffer>& buffers) {
  brine::decode_options o;
  o.buffers = buffers;
  o.buffers_given = true;
  return o;
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char ch : bytes) {
    const auto u = static_cast<unsigned char>(ch);
    out += digits[u >> 4];
    out += digits[u & 15];
  }
  return out;
}

std::string describe_pickle(std::string_view bytes) {
  std::string out = "  hex (" + std::to_string(bytes.size()) + " bytes): ";
  out += bytes.size() <= 4096 ? hex(bytes) : hex(bytes.substr(0, 4096)) + "...";
  out += "\n";
  if (bytes.size() <= 4096) {
    std::string listing;
    const auto r = brine::disassemble(bytes, listing);
    out += listing;
    if (!r) out += "  (disassembly stopped: " + r.error().to_string() + ")\n";
  }
  return out;
}

std::string describe_value(const brine::value& v) {
  brine::repr_options o;
  o.sharing = brine::repr_sharing::labels;
  o.ascii_only = true;
  o.budget = 4000;
  return brine::repr(v, o).text;
}

graph_stats stats_of(const brine::value& root) {
  graph_stats st;
  const brine::document& doc = root.doc();
  enum : std::uint8_t { white, grey, black };
  std::vector<std::uint8_t> colour(doc.node_count(), white);
  std::vector<std::pair<std::uint32_t, std::size_t>> stack;  // node, next child
  auto children = [&](std::uint32_t id) -> std::span<const std::uint32_t> {
    const brine::value v = doc.node(id);
    switch (v.kind()) {
      case brine::kind::tuple: case brine::kind::list: case brine::kind::set: case brine::kind::frozenset:
        return v.items().ids();
      case brine::kind::dict: return v.pairs().ids();
      default: return {};
    }
  };
  auto tracked = [&](std::uint32_t id) {
    const brine::kind k = doc.node(id).kind();
    return k == brine::kind::str || k == brine::kind::bytes || k == brine::kind::bytearray ||
           k == brine::kind::list || k == brine::kind::dict || k == brine::kind::set ||
           k == brine::kind::frozenset || (k == brine::kind::tuple && doc.node(id).size() > 0);
  };
  colour[root.id()] = grey;
  stack.push_back({root.id(), 0});
  st.reachable = 1;
  while (!stack.empty()) {
    auto& [id, next] = stack.back();
    const auto kids = children(id);
    if (next == kids.size()) {
      colour[id] = black;
      stack.pop_back();
      continue;
    }
    const std::uint32_t kid = kids[next++];
    if (colour[kid] == grey) {
      st.cycle = true;
      for (std::size_t k = stack.size(); k-- > 0;) {  // the cycle: from kid to the top of the stack
        if (doc.node(stack[k].first).kind() == brine::kind::tuple) st.tuple_cycle = true;
        if (stack[k].first == kid) break;
      }
    }
    if (colour[kid] != white) {
      if (tracked(kid)) st.shared = true;
      continue;
    }
    colour[kid] = grey;
    ++st.reachable;
    stack.push_back({kid, 0});
  }
  return st;
}

void showValue(const graph_recipe& g, std::ostream& os) {
  static constexpr const char* names[] = {"None", "bool", "int", "float", "str", "bytes", "bytearray",
                                          "tuple", "list", "dict", "set", "frozenset", "buffer"};
  os << "graph_recipe{protocol " << g.protocol << ", style " << g.style << ", " << g.nodes.size() << " nodes";
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const node_recipe& r = g.nodes[i];
    os << "\n  #" << i << " " << names[static_cast<int>(r.what)] << " style=" << r.style;
    if (r.memo) os << " memo";
    switch (r.what) {
      case shape::boolean: case shape::floating: os << " number=" << r.number; break;
      case shape::integer:
        if (r.data.empty()) os << " " << r.number;
        else os << " le=" << hex(std::string(r.data.begin(), r.data.end()));
        break;
      case shape::str: os << " utf8=" << hex(utf8_of(r.text)); break;
      case shape::bytes: case shape::bytearray:
        os << " data=" << (r.data.size() > 64 ? std::to_string(r.data.size()) + " bytes"
                                               : hex(std::string(r.data.begin(), r.data.end())));
        break;
      default: break;
    }
    if (!r.kids.empty()) {
      os << " kids->";
      for (auto k : r.kids) os << " #" << (i + 1 + k) % g.nodes.size();
    }
    if (r.filler) os << " filler=" << r.filler;
  }
  os << "\n  pickle: " << hex(write_pickle(g)) << "}";
}

}  // namespace brine_prop
