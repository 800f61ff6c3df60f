// conformance/differential/canonical.cpp — see canonical.hpp and README.md ("brine-differential v1").
#include "canonical.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../op_group.hpp"

namespace brine_differential {
namespace {

using brine::kind;
using brine::value;

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, std::span<const std::byte> bytes) {
  for (const std::byte b : bytes) {
    const auto u = std::to_integer<unsigned>(b);
    out.push_back(hex_digits[u >> 4]);
    out.push_back(hex_digits[u & 15u]);
  }
}

void append_hex(std::string& out, std::string_view s) {
  append_hex(out, std::as_bytes(std::span<const char>(s.data(), s.size())));
}

// An int outside int64 as sign and magnitude: little-endian bytes without high zero bytes.
struct big_magnitude {
  bool negative = false;
  std::string le;  // little-endian magnitude, no trailing (high) zero bytes
};

big_magnitude magnitude_of(const value& v) {
  std::string b = v.int_bytes();  // two's complement, little-endian, minimal
  big_magnitude m;
  m.negative = !b.empty() && (static_cast<unsigned char>(b.back()) & 0x80) != 0;
  if (m.negative) {  // negate: invert and add one
    unsigned carry = 1;
    for (char& c : b) {
      const unsigned x = (~static_cast<unsigned>(static_cast<unsigned char>(c)) & 0xffu) + carry;
      c = static_cast<char>(x & 0xffu);
      carry = x >> 8;
    }
  }
  while (!b.empty() && b.back() == 0) b.pop_back();
  m.le = std::move(b);
  return m;
}

// A finite integral double with |x| >= 2^63 as sign and magnitude (x = mantissa * 2^exp).
big_magnitude magnitude_of(double x) {
  big_magnitude m;
  m.negative = x < 0;
  int exp = 0;
  const double frac = std::frexp(std::fabs(x), &exp);  // |x| = frac * 2^exp, frac in [0.5, 1)
  auto mant = static_cast<std::uint64_t>(std::ldexp(frac, 53));  // 53-bit integer
  const int shift = exp - 53;                                       // >= 10 here
  std::string le(static_cast<std::size_t>(shift / 8) + 9, '\0');
  const int bit = shift % 8;
  std::uint64_t wide = mant << bit;  // at most 60 bits
  for (std::size_t i = static_cast<std::size_t>(shift / 8); wide != 0; ++i, wide >>= 8)
    le[i] = static_cast<char>(static_cast<unsigned>(wide & 0xffu));
  while (!le.empty() && le.back() == 0) le.pop_back();
  m.le = std::move(le);
  return m;
}

void append_big(std::string& out, const big_magnitude& m) {
  out += m.negative ? "-0x" : "0x";
  std::size_t i = m.le.size();
  bool leading = true;
  while (i-- > 0) {
    const auto u = static_cast<unsigned char>(m.le[i]);
    if (leading && (u >> 4) == 0) {
      if (u != 0) out.push_back(hex_digits[u & 15u]);
    } else {
      out.push_back(hex_digits[u >> 4]);
      out.push_back(hex_digits[u & 15u]);
    }
    if (u != 0) leading = false;
  }
}

void append_int(std::string& out, const value& v) {
  out += 'i';
  if (v.fits_int64())
    out += std::to_string(v.as_int64());
  else
    append_big(out, magnitude_of(v));
}

void append_float(std::string& out, double d, bool canonical_nans = false) {
  out += 'f';
  const auto bits = canonical_nans && std::isnan(d) ? 0x7ff8000000000000ull : std::bit_cast<std::uint64_t>(d);
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(hex_digits[(bits >> shift) & 15u]);
}

// --- Python equality of hashable values, as a 128-bit structural hash -----------------------------

struct h128 {
  std::uint64_t a = 0x9e3779b97f4a7c15ull, b = 0xc2b2ae3d27d4eb4full;
  friend bool operator==(const h128& x, const h128& y) { return x.a == y.a && x.b == y.b; }
  friend bool operator<(const h128& x, const h128& y) { return x.a != y.a ? x.a < y.a : x.b < y.b; }
};

std::uint64_t mix(std::uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ull;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void feed(h128& h, std::uint64_t x) {
  h.a = mix(h.a ^ x) + 0x632be59bd9b4e019ull;
  h.b = mix(h.b + x * 0x9e3779b97f4a7c15ull) ^ 0x8cb92ba72f3d8dd7ull;
}

void feed(h128& h, std::string_view s) {
  feed(h, s.size());
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    feed(h, w);
  }
  std::uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  feed(h, w);
}

void feed(h128& h, const h128& x) {
  feed(h, x.a);
  feed(h, x.b);
}

struct hash128 {
  std::size_t operator()(const h128& h) const noexcept { return static_cast<std::size_t>(h.a ^ h.b); }
};

std::string_view bytes_view(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

enum tag : std::uint64_t { t_none = 1, t_int, t_float, t_str, t_bytes, t_tuple, t_frozenset, t_global, t_ident, t_ext };

class walker {
 public:
  walker(const brine::document& doc, const canonical_options& options) : doc_(doc), options_(options) {}

  std::string run(const value& root) {
    prepare();
    std::vector<work> stack{val(root)};
    std::vector<work> body;
    while (!stack.empty()) {
      const work w = stack.back();
      stack.pop_back();
      switch (w.type) {
        case work::lit: out_ += w.text; continue;
        case work::args: push_args(stack, body, w.v); continue;
        case work::kwargs: push_kwargs(stack, body, w.v); continue;
        case work::val: break;
      }
      body.clear();
      write(w.v, body);
      for (auto it = body.rbegin(); it != body.rend(); ++it) stack.push_back(*it);
    }
    return std::move(out_);
  }

 private:
  struct work {
    enum type_t : std::uint8_t { lit, val, args, kwargs } type;
    std::string_view text;
    value v;
  };
  static work lit(std::string_view s) { return {work::lit, s, value()}; }
  static work val(const value& v) { return {work::val, {}, v}; }

  // Equality hashes of every hashable node, in id order: a tuple's or frozenset's items were
  // made before it. And the op streams of globals, gathered by name.
  void prepare() {
    const std::size_t n = doc_.node_count();
    eq_.assign(n, h128{});
    hashable_.assign(n, 0);
    for (std::uint32_t id = 0; id < n; ++id) {
      const value v = doc_.node(id);
      h128 h;
      bool ok = true;
      switch (v.kind()) {
        case kind::none: feed(h, t_none); break;
        case kind::boolean: feed(h, t_int); feed(h, std::uint64_t{0}); feed(h, v.as_bool() ? 1u : 0u); break;
        case kind::integer:
          feed(h, t_int);
          if (v.fits_int64()) {
            feed(h, std::uint64_t{0});
            feed(h, static_cast<std::uint64_t>(v.as_int64()));
          } else {
            const big_magnitude m = magnitude_of(v);
            feed(h, m.negative ? 2u : 1u);
            feed(h, m.le);
          }
          break;
        case kind::floating: {
          const double d = v.as_double();
          if (std::isnan(d)) {
            feed(h, t_ident);
            feed(h, id);
          } else if (std::isfinite(d) && d == std::trunc(d)) {
            feed(h, t_int);
            if (std::fabs(d) < 9223372036854775808.0) {
              feed(h, std::uint64_t{0});
              feed(h, static_cast<std::uint64_t>(static_cast<std::int64_t>(d)));
            } else {
              const big_magnitude m = magnitude_of(d);
              feed(h, m.negative ? 2u : 1u);
              feed(h, m.le);
            }
          } else {
            feed(h, t_float);
            feed(h, std::bit_cast<std::uint64_t>(d));
          }
          break;
        }
        case kind::str: feed(h, t_str); feed(h, v.as_str()); break;
        case kind::bytes: feed(h, t_bytes); feed(h, bytes_view(v.as_bytes())); break;
        case kind::tuple:
          feed(h, t_tuple);
          feed(h, v.size());
          for (const std::uint32_t item : v.items().ids()) {
            if (item >= id || !hashable_[item]) {
              ok = false;
              break;
            }
            feed(h, eq_[item]);
          }
          break;
        case kind::frozenset: {
          std::vector<h128> items;
          for (const std::uint32_t item : v.items().ids()) {
            if (item >= id || !hashable_[item]) {
              ok = false;
              break;
            }
            items.push_back(eq_[item]);
          }
          std::sort(items.begin(), items.end());
          items.erase(std::unique(items.begin(), items.end()), items.end());
          feed(h, t_frozenset);
          feed(h, items.size());
          for (const h128& x : items) feed(h, x);
          break;
        }
        case kind::global: {
          const auto [m, q] = global_name(v);
          feed(h, t_global);
          feed(h, m);
          feed(h, q);
          break;
        }
        case kind::extension: feed(h, t_ext); feed(h, static_cast<std::uint64_t>(v.ext_code())); break;
        case kind::object:
        case kind::persistent_id:
        case kind::buffer: feed(h, t_ident); feed(h, id); break;
        case kind::list:
        case kind::dict:
        case kind::set:
        case kind::bytearray: ok = false; break;
      }
      eq_[id] = h;
      hashable_[id] = ok ? 1 : 0;
      if (v.kind() == kind::global && !v.ops().empty()) global_ops_[global_key(v)].push_back(id);
    }
  }

  // Equality of two dict keys or set items: Python's ==, for hashable values (identity otherwise).
  h128 key_of(std::uint32_t id) const {
    if (hashable_[id]) return eq_[id];
    h128 h;
    feed(h, t_ident);
    feed(h, id);
    return h;
  }

  std::pair<std::string, std::string> global_name(const value& g) const {
    if (options_.rename_global) return options_.rename_global(g.mapped_module(), g.mapped_name());
    return {std::string(g.mapped_module()), std::string(g.mapped_name())};
  }

  std::string global_key(const value& g) const {
    auto [m, q] = global_name(g);
    return m + '\0' + q;
  }

  // A numbering-free shape for ordering set items (README.md: "shape"): the value's text without
  // numbers, containers `depth` levels down (dicts and sets with Python's equality).
  void shape(std::string& out, const value& v, int depth) const {
    switch (v.kind()) {
      case kind::none: out += 'N'; return;
      case kind::boolean: out += v.as_bool() ? 'T' : 'F'; return;
      case kind::integer: append_int(out, v); return;
      case kind::floating: append_float(out, v.as_double(), options_.canonical_nans); return;
      case kind::str: out += 's'; append_hex(out, v.as_str()); out += ';'; return;
      case kind::bytes: out += 'b'; append_hex(out, v.as_bytes()); out += ';'; return;
      case kind::bytearray: out += 'y'; append_hex(out, v.as_bytes()); out += ';'; return;
      case kind::buffer:
        out += 'B';
        if (options_.buffers_by_content) {
          append_hex(out, v.as_bytes());
          out += ';';
        } else {
          out += std::to_string(v.buffer_index());
        }
        if (v.readonly()) out += 'r';
        return;
      case kind::extension: out += 'x'; out += std::to_string(v.ext_code()); return;
      case kind::global: {
        const auto [m, q] = global_name(v);
        out += "g(";
        append_hex(out, m);
        out += ',';
        append_hex(out, q);
        out += ')';
        return;
      }
      case kind::persistent_id:
        out += "P(";
        if (depth > 0) shape(out, v.pid(), depth - 1);
        out += ')';
        return;
      case kind::object:
        out += 'o';
        out += call_letter(v.how());
        out += '(';
        if (depth > 0) {
          shape(out, v.callable(), depth - 1);
          out += ",(";
          const value args = v.args();
          if (args.is(kind::tuple)) {
            for (std::size_t i = 0; i < args.size(); ++i) {
              if (i) out += ',';
              shape(out, args[i], depth - 1);
            }
          }
          out += ')';
          if (v.kwargs().valid()) {
            out += ",{";
            bool first = true;
            for (const auto& [k, val_id] : dict_entries(v.kwargs())) {
              if (!first) out += ',';
              first = false;
              shape(out, doc_.node(k), depth - 1);
              out += ':';
              shape(out, doc_.node(val_id), depth - 1);
            }
            out += '}';
          }
          for (const brine::applied_op& op : v.ops())
            for (const value x : op.values) {
              out += '.';
              out += op_group(op.kind);
              shape(out, x, depth - 1);
            }
        }
        out += ')';
        return;
      case kind::tuple:
      case kind::list:
        if (v.is(kind::tuple) && v.size() == 0) {
          out += 'E';
          return;
        }
        out += v.is(kind::tuple) ? 't' : 'l';
        if (depth == 0) return;
        out += '(';
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (i) out += ',';
          shape(out, v[i], depth - 1);
        }
        out += ')';
        return;
      case kind::dict: {
        out += 'd';
        if (depth == 0) return;
        out += '{';
        bool first = true;
        for (const auto& [k, val_id] : dict_entries(v)) {
          if (!first) out += ',';
          first = false;
          shape(out, doc_.node(k), depth - 1);
          out += ':';
          shape(out, doc_.node(val_id), depth - 1);
        }
        out += '}';
        return;
      }
      case kind::set:
      case kind::frozenset: {
        out += v.is(kind::set) ? 'S' : 'z';
        if (depth == 0) return;
        std::vector<std::string> items;
        std::unordered_map<h128, int, hash128> seen;
        for (const std::uint32_t id : v.items().ids()) {
          if (!seen.emplace(key_of(id), 0).second) continue;
          items.emplace_back();
          shape(items.back(), doc_.node(id), depth - 1);
        }
        std::sort(items.begin(), items.end());
        out += '{';
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (i) out += ',';
          out += items[i];
        }
        out += '}';
        return;
      }
    }
  }

  static char call_letter(brine::call_kind how) {
    switch (how) {
      case brine::call_kind::reduce: return 'R';
      case brine::call_kind::newobj: return 'N';
      case brine::call_kind::newobj_ex: return 'X';
      case brine::call_kind::inst: return 'I';
      case brine::call_kind::obj: return 'O';
    }
    return '?';
  }

  static char op_group(brine::op_kind k) { return brine_conformance::op_group(k); }

  // Operations as in DESCRIBE.md: consecutive APPEND(S) / SETITEM(S) / ADDITEMS merged, BUILD
  // never merged, empty batches write nothing.
  void push_ops(std::vector<work>& body, const std::vector<brine::applied_op>& ops) {
    static constexpr std::string_view open_of[] = {".a[", ".s{", ".A{", ".b(", ".c("};
    static constexpr std::string_view close_of[] = {"]", "}", "}", ")", ")"};
    auto index = [](char g) { return g == 'a' ? 0 : g == 's' ? 1 : g == 'A' ? 2 : g == 'b' ? 3 : 4; };
    char open = 0;
    std::size_t count = 0;
    for (const brine::applied_op& op : ops) {
      if (op.values.empty()) continue;
      if (op.kind == brine::op_kind::call && !options_.discarded_calls) continue;
      const char g = op_group(op.kind);
      if (g == 'b' || g == 'c' || g != open) {
        if (open != 0) body.push_back(lit(close_of[index(open)]));
        body.push_back(lit(open_of[index(g)]));
        open = g;
        count = 0;
      }
      for (std::size_t i = 0; i < op.values.size(); ++i) {
        if (count != 0) body.push_back(lit(g == 's' && count % 2 == 1 ? ":" : ","));
        body.push_back(val(op.values[i]));
        ++count;
      }
      if (g == 'b' || g == 'c') {
        body.push_back(lit(close_of[index(g)]));
        open = 0;
      }
    }
    if (open != 0) body.push_back(lit(close_of[index(open)]));
  }

  // Dict pairs with Python's semantics: the first key and its position, the last value.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> dict_entries(const value& d) const {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> entries;
    std::unordered_map<h128, std::size_t, hash128> at;
    const auto ids = d.pairs().ids();
    for (std::size_t i = 0; i + 1 < ids.size(); i += 2) {
      const auto [it, inserted] = at.emplace(key_of(ids[i]), entries.size());
      if (inserted)
        entries.emplace_back(ids[i], ids[i + 1]);
      else
        entries[it->second].second = ids[i + 1];
    }
    return entries;
  }

  // Set items with Python's semantics (the first of equal items), sorted by shape, then by
  // creation order for recorded objects and persistent ids of the same shape (node ids grow in
  // stream order, as the CPython side's creation counter does).
  std::vector<std::uint32_t> set_items(const value& s) const {
    struct item {
      std::string shape;
      std::uint32_t rank, id;
    };
    std::vector<item> items;
    std::unordered_map<h128, int, hash128> seen;
    for (const std::uint32_t id : s.items().ids()) {
      if (!seen.emplace(key_of(id), 0).second) continue;
      const value v = doc_.node(id);
      const bool ranked = v.is(kind::object) || v.is(kind::persistent_id);
      items.push_back({std::string(), ranked ? id + 1 : 0, id});
      shape(items.back().shape, v, shape_depth);
    }
    std::stable_sort(items.begin(), items.end(), [](const item& x, const item& y) {
      return x.shape != y.shape ? x.shape < y.shape : x.rank < y.rank;
    });
    std::vector<std::uint32_t> out;
    out.reserve(items.size());
    for (const item& x : items) out.push_back(x.id);
    return out;
  }

  void push_args(std::vector<work>& stack, std::vector<work>& body, const value& args) {
    if (!args.is(kind::tuple)) {  // brine records only tuples; keep any other value visible
      stack.push_back(val(args));
      return;
    }
    body.clear();
    body.push_back(lit("("));
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (i) body.push_back(lit(","));
      body.push_back(val(args[i]));
    }
    body.push_back(lit(")"));
    for (auto it = body.rbegin(); it != body.rend(); ++it) stack.push_back(*it);
  }

  void push_kwargs(std::vector<work>& stack, std::vector<work>& body, const value& kwargs) {
    if (!kwargs.is(kind::dict)) {
      stack.push_back(val(kwargs));
      return;
    }
    body.clear();
    body.push_back(lit("{"));
    bool first = true;
    for (const auto& [k, v] : dict_entries(kwargs)) {
      if (!first) body.push_back(lit(","));
      first = false;
      body.push_back(val(doc_.node(k)));
      body.push_back(lit(":"));
      body.push_back(val(doc_.node(v)));
    }
    body.push_back(lit("}"));
    for (auto it = body.rbegin(); it != body.rend(); ++it) stack.push_back(*it);
  }

  // Writes atoms to out_; for a tracked node, writes its number and leaves its body in `body`.
  void write(const value& v, std::vector<work>& body) {
    switch (v.kind()) {
      case kind::none: out_ += 'N'; return;
      case kind::boolean: out_ += v.as_bool() ? 'T' : 'F'; return;
      case kind::integer: append_int(out_, v); return;
      case kind::floating: append_float(out_, v.as_double(), options_.canonical_nans); return;
      case kind::str: out_ += 's'; append_hex(out_, v.as_str()); out_ += ';'; return;
      case kind::bytes: out_ += 'b'; append_hex(out_, v.as_bytes()); out_ += ';'; return;
      case kind::extension: out_ += 'x'; out_ += std::to_string(v.ext_code()); return;
      case kind::buffer:
        out_ += 'B';
        if (options_.buffers_by_content) {
          append_hex(out_, v.as_bytes());
          out_ += ';';
        } else {
          out_ += std::to_string(v.buffer_index());
        }
        if (v.readonly()) out_ += 'r';
        return;
      case kind::persistent_id:
        out_ += "P(";
        body.push_back(val(v.pid()));
        body.push_back(lit(")"));
        return;
      case kind::tuple:
        if (v.size() == 0) {
          out_ += 'E';
          return;
        }
        break;
      default: break;
    }
    // Tracked: numbered on first arrival.
    std::uint32_t* number = nullptr;
    std::string gkey;
    if (v.is(kind::global)) {
      gkey = global_key(v);
      number = &global_numbers_[gkey];
    } else {
      if (node_numbers_.empty()) node_numbers_.assign(doc_.node_count(), 0);
      number = &node_numbers_[v.id()];
    }
    if (*number != 0) {
      out_ += '@';
      out_ += std::to_string(*number);
      return;
    }
    *number = ++next_;
    out_ += '#';
    out_ += std::to_string(*number);
    out_ += '=';
    switch (v.kind()) {
      case kind::bytearray: out_ += 'y'; append_hex(out_, v.as_bytes()); out_ += ';'; return;
      case kind::tuple:
      case kind::list: {
        const bool tuple = v.is(kind::tuple);
        body.push_back(lit(tuple ? "t(" : "l["));
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (i) body.push_back(lit(","));
          body.push_back(val(v[i]));
        }
        body.push_back(lit(tuple ? ")" : "]"));
        return;
      }
      case kind::dict: {
        body.push_back(lit("d{"));
        bool first = true;
        for (const auto& [k, val_id] : dict_entries(v)) {
          if (!first) body.push_back(lit(","));
          first = false;
          body.push_back(val(doc_.node(k)));
          body.push_back(lit(":"));
          body.push_back(val(doc_.node(val_id)));
        }
        body.push_back(lit("}"));
        return;
      }
      case kind::set:
      case kind::frozenset: {
        body.push_back(lit(v.is(kind::set) ? "S{" : "z{"));
        bool first = true;
        for (const std::uint32_t id : set_items(v)) {
          if (!first) body.push_back(lit(","));
          first = false;
          body.push_back(val(doc_.node(id)));
        }
        body.push_back(lit("}"));
        return;
      }
      case kind::global: {
        const auto [m, q] = global_name(v);
        out_ += "g(";
        append_hex(out_, m);
        out_ += ',';
        append_hex(out_, q);
        out_ += ')';
        const auto it = global_ops_.find(gkey);
        if (it != global_ops_.end()) {
          std::vector<brine::applied_op> ops;
          for (const std::uint32_t id : it->second) {
            const auto more = doc_.node(id).ops();
            ops.insert(ops.end(), more.begin(), more.end());
          }
          push_ops(body, ops);
        }
        return;
      }
      case kind::object: {
        static constexpr std::string_view open_of[] = {"oR(", "oN(", "oX(", "oI(", "oO("};
        body.push_back(lit(open_of[static_cast<int>(v.how())]));
        body.push_back(val(v.callable()));
        body.push_back(lit(","));
        body.push_back({work::args, {}, v.args()});
        const value kw = v.kwargs();
        if (kw.valid()) {
          body.push_back(lit(","));
          body.push_back({work::kwargs, {}, kw});
        }
        body.push_back(lit(")"));
        push_ops(body, v.ops());
        return;
      }
      default: return;
    }
  }

  static constexpr int shape_depth = 4;

  const brine::document& doc_;
  const canonical_options& options_;
  std::string out_;
  std::vector<h128> eq_;
  std::vector<std::uint8_t> hashable_;
  std::vector<std::uint32_t> node_numbers_;
  std::unordered_map<std::string, std::uint32_t> global_numbers_;
  std::unordered_map<std::string, std::vector<std::uint32_t>> global_ops_;
  std::uint32_t next_ = 0;
};

}  // namespace

std::string canonical(brine::value root, const canonical_options& options) {
  walker w(root.doc(), options);
  return w.run(root);
}

}  // namespace brine_differential
