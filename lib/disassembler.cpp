// lib/disassembler.cpp — pickletools.dis, byte for byte (see brine/disassemble.hpp).
//
// Structure: a bounds-checked cursor reads each opcode and its argument (the argument's text form
// is produced at once, as pickletools' readers do: a failure there prints nothing for the opcode);
// then the emulation of pickletools' stack / MARK / memo checks, in pickletools' order, decides
// what is printed before an error.
//
// The emulated stack only needs to know which items are MARKs: the memo never holds a MARK
// (storing one is an error) and nothing else inspects items. So it is a count plus the positions
// of the MARK items, and the memo is a set of keys.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>
#include <vector>

#include "brine/disassemble.hpp"
#include "brine/opcodes.hpp"
#include "pyformat.hpp"
#include "text.hpp"

namespace brine {
namespace {

using detail::append_int64;

// ---------------------------------------------------------------------------------------------
// Stack effects, as pickletools' stack_before / stack_after describe them.

struct stack_effect {
  std::uint8_t code;
  std::uint8_t pops;    // items below the MARK for MARK-consuming opcodes, else len(stack_before)
  bool to_mark;         // stack_before holds the markobject: pops everything down to the MARK first
  std::uint8_t pushes;  // len(stack_after); MARK pushes the markobject itself
};

constexpr std::array<stack_effect, 68> stack_effects{{
    {op::INT, 0, false, 1}, {op::BININT, 0, false, 1}, {op::BININT1, 0, false, 1},
    {op::BININT2, 0, false, 1}, {op::LONG, 0, false, 1}, {op::LONG1, 0, false, 1},
    {op::LONG4, 0, false, 1}, {op::STRING, 0, false, 1}, {op::BINSTRING, 0, false, 1},
    {op::SHORT_BINSTRING, 0, false, 1}, {op::BINBYTES, 0, false, 1},
    {op::SHORT_BINBYTES, 0, false, 1}, {op::BINBYTES8, 0, false, 1}, {op::BYTEARRAY8, 0, false, 1},
    {op::NEXT_BUFFER, 0, false, 1}, {op::READONLY_BUFFER, 1, false, 1}, {op::NONE, 0, false, 1},
    {op::NEWTRUE, 0, false, 1}, {op::NEWFALSE, 0, false, 1}, {op::UNICODE, 0, false, 1},
    {op::SHORT_BINUNICODE, 0, false, 1}, {op::BINUNICODE, 0, false, 1},
    {op::BINUNICODE8, 0, false, 1}, {op::FLOAT, 0, false, 1}, {op::BINFLOAT, 0, false, 1},
    {op::EMPTY_LIST, 0, false, 1}, {op::APPEND, 2, false, 1}, {op::APPENDS, 1, true, 1},
    {op::LIST, 0, true, 1}, {op::EMPTY_TUPLE, 0, false, 1}, {op::TUPLE, 0, true, 1},
    {op::TUPLE1, 1, false, 1}, {op::TUPLE2, 2, false, 1}, {op::TUPLE3, 3, false, 1},
    {op::EMPTY_DICT, 0, false, 1}, {op::DICT, 0, true, 1}, {op::SETITEM, 3, false, 1},
    {op::SETITEMS, 1, true, 1}, {op::EMPTY_SET, 0, false, 1}, {op::ADDITEMS, 1, true, 1},
    {op::FROZENSET, 0, true, 1}, {op::POP, 1, false, 0}, {op::DUP, 1, false, 2},
    {op::MARK, 0, false, 1}, {op::POP_MARK, 0, true, 0}, {op::GET, 0, false, 1},
    {op::BINGET, 0, false, 1}, {op::LONG_BINGET, 0, false, 1}, {op::PUT, 0, false, 0},
    {op::BINPUT, 0, false, 0}, {op::LONG_BINPUT, 0, false, 0}, {op::MEMOIZE, 1, false, 1},
    {op::EXT1, 0, false, 1}, {op::EXT2, 0, false, 1}, {op::EXT4, 0, false, 1},
    {op::GLOBAL, 0, false, 1}, {op::STACK_GLOBAL, 2, false, 1}, {op::REDUCE, 2, false, 1},
    {op::BUILD, 2, false, 1}, {op::INST, 0, true, 1}, {op::OBJ, 0, true, 1},
    {op::NEWOBJ, 2, false, 1}, {op::NEWOBJ_EX, 3, false, 1}, {op::PROTO, 0, false, 0},
    {op::STOP, 1, false, 0}, {op::FRAME, 0, false, 0}, {op::PERSID, 0, false, 1},
    {op::BINPERSID, 1, false, 1},
}};

constexpr std::array<const stack_effect*, 256> make_effect_index() {
  std::array<const stack_effect*, 256> index{};
  for (const auto& e : stack_effects) index[e.code] = &e;
  return index;
}
constexpr auto effect_index = make_effect_index();

constexpr bool effects_match_opcode_table() {
  for (const auto& info : opcode_table) {
    const stack_effect* e = effect_index[info.code];
    if (e == nullptr || e->to_mark != info.uses_mark) return false;
  }
  return true;
}
constexpr bool names_fit_line_buffer() {
  for (const auto& info : opcode_table)
    if (info.name.size() > 20) return false;
  return true;
}
static_assert(names_fit_line_buffer(), "run() formats a name and its padding in a 32-byte buffer");
static_assert(effects_match_opcode_table(),
              "one stack effect per opcode; MARK-consuming opcodes agree with opcode_info::uses_mark");

// ---------------------------------------------------------------------------------------------
// Output: appended to the caller's string, or buffered and handed to a sink in chunks.

class listing {
 public:
  explicit listing(std::string& direct) : out_(&direct) {}
  explicit listing(text_sink sink) : out_(&buffer_), sink_(sink) { buffer_.reserve(flush_at + 4096); }
  listing(const listing&) = delete;
  listing& operator=(const listing&) = delete;
  ~listing() { flush(); }

  std::string& text() noexcept { return *out_; }
  void line_done() {
    if (sink_.write != nullptr && buffer_.size() >= flush_at) flush();
  }
  void flush() {
    if (sink_.write != nullptr && !buffer_.empty()) {
      sink_.write(sink_.context, buffer_);
      buffer_.clear();
    }
  }

 private:
  static constexpr std::size_t flush_at = 64 * 1024;
  std::string buffer_;
  std::string* out_;
  text_sink sink_{};
};

// ---------------------------------------------------------------------------------------------
// The one place that reads the input: every request is compared with what remains first.

class cursor {
 public:
  explicit cursor(std::span<const std::byte> data) : p_(reinterpret_cast<const char*>(data.data())), n_(data.size()) {}
  std::size_t pos() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return n_ - pos_; }
  bool at_end() const noexcept { return pos_ == n_; }

  /// `n` bytes, or false (and nothing consumed) when fewer remain.
  bool take(std::uint64_t n, std::string_view& out) noexcept {
    if (n > remaining()) return false;
    out = {p_ + pos_, static_cast<std::size_t>(n)};
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  /// Little-endian unsigned integer of `width` bytes (1, 2, 4 or 8).
  bool uint_le(std::size_t width, std::uint64_t& v) noexcept {
    std::string_view b;
    if (!take(width, b)) return false;
    v = 0;
    for (std::size_t k = width; k-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[k]);
    return true;
  }
  /// Up to the next '\n' (excluded; the newline is consumed), or false when there is none.
  bool line(std::string_view& out) noexcept {
    const void* nl = std::memchr(p_ + pos_, '\n', remaining());
    if (nl == nullptr) return false;
    const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - (p_ + pos_));
    out = {p_ + pos_, len};
    pos_ += len + 1;
    return true;
  }

 private:
  const char* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Python's int() and float() on bytes (what pickletools calls on INT / LONG / FLOAT text).

constexpr std::uint64_t max_str_digits = 4300;  // sys.get_int_max_str_digits() default

bool py_space(char c) noexcept {  // Py_ISSPACE
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view strip_space(std::string_view s) noexcept {
  while (!s.empty() && py_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && py_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

enum class int_parse { ok, invalid, too_long };

// int(s) with base 10: blanks around, a sign, digits with single underscores between them.
// `canonical` gets the value's decimal form ("-0" becomes "0", leading zeros go).
int_parse py_int(std::string_view s, std::string& canonical) {
  s = strip_space(s);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || !is_digit(s.front()) || !is_digit(s.back())) return int_parse::invalid;
  std::uint64_t digits = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_digit(s[i])) {
      ++digits;
    } else if (s[i] != '_' || !is_digit(s[i - 1]) || !is_digit(s[i + 1])) {
      return int_parse::invalid;  // the first and last characters are digits, so i +- 1 exist
    }
  }
  if (digits > max_str_digits) return int_parse::too_long;
  canonical.clear();
  if (negative) canonical += '-';
  bool leading = true;
  for (const char c : s) {
    if (c == '_' || (leading && c == '0')) continue;
    leading = false;
    canonical += c;
  }
  if (leading) canonical.assign("0");
  return int_parse::ok;
}

// float(s): underscores only between digits, blanks around, then the C parser; overflow is inf.
bool py_float(std::string_view s, double& v) {
  std::string without;
  if (s.find('_') != std::string_view::npos) {
    char prev = '\0';
    for (const char c : s) {
      if (c == '_' ? !is_digit(prev) : (prev == '_' && !is_digit(c))) return false;
      if (c != '_') without += c;
      prev = c;
    }
    if (prev == '_') return false;
    s = without;
  }
  s = strip_space(s);
  switch (detail::parse_float(s, v)) {
    case detail::float_parse::ok: return true;
    case detail::float_parse::overflow:
      v = s[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
      return true;
    case detail::float_parse::invalid: break;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The memo: a set of Python ints. Small non-negative keys (what picklers write) live in a bitmap
// whose size is bounded by the input size; others in ordered sets (no hash flooding).

class memo_keys {
 public:
  explicit memo_keys(std::size_t input_size) : dense_limit_(8 * static_cast<std::uint64_t>(input_size) + 65536) {}
  std::uint64_t size() const noexcept { return count_; }

  bool contains(std::uint64_t key) const {
    if (key < dense_limit_) {
      const std::uint64_t word = key / 64;
      return word < bits_.size() && ((bits_[word] >> (key % 64)) & 1u) != 0;
    }
    return sparse_.count(key) != 0;
  }
  bool contains(const std::string& big) const { return big_.count(big) != 0; }

  void insert(std::uint64_t key) {
    ++count_;
    if (key >= dense_limit_) {
      sparse_.insert(key);
      return;
    }
    const auto word = static_cast<std::size_t>(key / 64);
    if (word >= bits_.size()) bits_.resize(std::max(word + 1, bits_.size() * 2), 0);
    bits_[word] |= std::uint64_t{1} << (key % 64);
  }
  void insert(const std::string& big) {
    ++count_;
    big_.insert(big);
  }

 private:
  std::uint64_t dense_limit_;
  std::vector<std::uint64_t> bits_;
  std::set<std::uint64_t> sparse_;
  std::set<std::string> big_;  // negative keys and keys above 2^64 - 1, in canonical decimal
  std::uint64_t count_ = 0;
};

// A memo key as pickletools sees it: a Python int (False and True are 0 and 1).
struct memo_key {
  bool small = true;
  std::uint64_t value = 0;
  std::string big;
};

bool fits_u64(const std::string& canonical, std::uint64_t& v) {
  if (canonical.empty() || canonical[0] == '-') return false;
  const auto r = std::from_chars(canonical.data(), canonical.data() + canonical.size(), v);
  return r.ec == std::errc() && r.ptr == canonical.data() + canonical.size();
}

// ---------------------------------------------------------------------------------------------

class disassembler {
 public:
  disassembler(std::span<const std::byte> input, listing& out, const dis_options& options)
      : in_(input), out_(out), opt_(options), memo_(input.size()) {}

  result<dis_summary> run();

 private:
  bool read_argument(const opcode_info& info);
  bool read_text_arg(std::string_view raw);
  bool fail(errc code, std::string message, std::uint64_t detail = 0) {
    err_.code = code;
    err_.offset = pos_;
    err_.opcode = code_;
    err_.detail = detail;
    err_.message = std::move(message);
    return false;
  }
  bool fail_truncated_arg(std::string_view what) {
    return fail(errc::truncated, "not enough data in stream to read " + std::string(what));
  }
  bool fail_short_payload(std::string_view kind, std::uint64_t n, std::size_t remain) {
    std::string m = "expected ";
    append_int64(static_cast<std::int64_t>(n), m);
    m += " bytes in a ";
    m += kind;
    m += ", but only ";
    append_int64(static_cast<std::int64_t>(remain), m);
    m += " remain";
    return fail(errc::truncated, std::move(m), n);
  }
  void pop_items(std::uint64_t n) {
    stack_size_ -= n;
    while (!marks_in_stack_.empty() && marks_in_stack_.back() >= stack_size_) marks_in_stack_.pop_back();
  }

  cursor in_;
  listing& out_;
  const dis_options& opt_;
  memo_keys memo_;

  // Emulated machine.
  std::uint64_t stack_size_ = 0;
  std::vector<std::uint64_t> marks_in_stack_;  // stack indices of MARK items, ascending
  std::vector<std::uint64_t> markstack_;       // offsets of the MARK opcodes still open

  // The opcode being listed.
  std::uint64_t pos_ = 0;
  int code_ = -1;
  bool has_arg_ = false;
  std::string arg_;        // repr(arg)
  std::string scratch_;    // decoded text before repr
  std::string_view long_payload_;  // LONG1 / LONG4: rendered when the line is (repr may fail)
  bool is_long_ = false;
  memo_key key_;

  std::uint64_t annocol_ = 0;
  error err_;
};

bool disassembler::read_text_arg(std::string_view raw) {
  // pickletools: codecs.escape_decode(raw)[0].decode("ascii")
  scratch_.clear();
  std::size_t error_pos = 0;
  const char* message = nullptr;
  if (!detail::escape_decode(raw, scratch_, error_pos, message)) {
    std::string m = message;
    if (m.starts_with("invalid \\x")) {
      m += " at position ";
      append_int64(static_cast<std::int64_t>(error_pos), m);
    }
    return fail(errc::bad_escape, std::move(m), error_pos);
  }
  for (std::size_t i = 0; i < scratch_.size(); ++i) {
    const auto c = static_cast<unsigned char>(scratch_[i]);
    if (c >= 0x80) {
      static constexpr char hex[] = "0123456789abcdef";
      std::string m = "'ascii' codec can't decode byte 0x";
      m += hex[c >> 4];
      m += hex[c & 15];
      m += " in position ";
      append_int64(static_cast<std::int64_t>(i), m);
      m += ": ordinal not in range(128)";
      return fail(errc::decode_error, std::move(m), i);
    }
  }
  return true;
}

bool disassembler::read_argument(const opcode_info& info) {
  has_arg_ = info.arg != arg::none;
  is_long_ = false;
  arg_.clear();
  std::uint64_t u = 0;
  std::string_view b;
  auto set_key = [&](std::uint64_t k) {
    key_.small = true;
    key_.value = k;
  };
  switch (info.arg) {
    case arg::none: return true;
    case arg::uint1:
      if (!in_.uint_le(1, u)) return fail_truncated_arg("uint1");
      append_int64(static_cast<std::int64_t>(u), arg_);
      set_key(u);
      return true;
    case arg::uint2:
      if (!in_.uint_le(2, u)) return fail_truncated_arg("uint2");
      append_int64(static_cast<std::int64_t>(u), arg_);
      return true;
    case arg::int4:
      if (!in_.uint_le(4, u)) return fail_truncated_arg("int4");
      append_int64(static_cast<std::int32_t>(static_cast<std::uint32_t>(u)), arg_);
      return true;
    case arg::uint4:
      if (!in_.uint_le(4, u)) return fail_truncated_arg("uint4");
      append_int64(static_cast<std::int64_t>(u), arg_);
      set_key(u);
      return true;
    case arg::uint8: {
      if (!in_.uint_le(8, u)) return fail_truncated_arg("uint8");
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof buf, u);
      arg_.append(buf, r.ptr);
      return true;
    }
    case arg::long1:
    case arg::long4: {
      const bool one = info.arg == arg::long1;
      if (!in_.uint_le(one ? 1 : 4, u)) return fail_truncated_arg(one ? "uint1" : "int4");
      if (!one && u >= 0x80000000u) {
        std::string m = "long4 byte count < 0: ";
        append_int64(static_cast<std::int32_t>(static_cast<std::uint32_t>(u)), m);
        return fail(errc::negative_length, std::move(m));
      }
      if (!in_.take(u, b)) {
        return fail(errc::truncated, one ? "not enough data in stream to read long1"
                                         : "not enough data in stream to read long4", u);
      }
      long_payload_ = b;
      is_long_ = true;  // repr'd when the line is built: a too-long int fails there, after "%5d: "
      return true;
    }
    case arg::decimalnl_short:
    case arg::decimalnl_long: {
      std::string_view text;
      if (!in_.line(text)) return fail(errc::truncated, "no newline found when trying to read stringnl");
      if (info.arg == arg::decimalnl_short && (text == "00" || text == "01")) {
        arg_ = text == "00" ? "False" : "True";
        set_key(text == "00" ? 0 : 1);
        return true;
      }
      if (info.arg == arg::decimalnl_long && !text.empty() && text.back() == 'L') text.remove_suffix(1);
      switch (py_int(text, arg_)) {
        case int_parse::ok: break;
        case int_parse::invalid: {
          std::string m = "invalid literal for int() with base 10: ";
          detail::repr_bytes({reinterpret_cast<const std::byte*>(text.data()), text.size()}, m);
          return fail(errc::bad_number, std::move(m));
        }
        case int_parse::too_long:
          return fail(errc::limit_exceeded, "Exceeds the limit (4300 digits) for integer string conversion",
                      static_cast<std::uint64_t>(limit::max_int_digits));
      }
      if (fits_u64(arg_, u)) {
        set_key(u);
      } else {
        key_.small = false;
        key_.big = arg_;
      }
      return true;
    }
    case arg::floatnl: {
      std::string_view text;
      if (!in_.line(text)) return fail(errc::truncated, "no newline found when trying to read stringnl");
      double v = 0;
      if (!py_float(text, v)) {
        std::string m = "could not convert string to float: ";
        detail::repr_bytes({reinterpret_cast<const std::byte*>(text.data()), text.size()}, m);
        return fail(errc::bad_number, std::move(m));
      }
      detail::repr_float(v, arg_);
      return true;
    }
    case arg::float8: {
      if (!in_.take(8, b)) return fail_truncated_arg("float8");
      std::uint64_t bits = 0;
      for (const char c : b) bits = (bits << 8) | static_cast<unsigned char>(c);  // big-endian
      double v;
      std::memcpy(&v, &bits, sizeof v);
      detail::repr_float(v, arg_);
      return true;
    }
    case arg::stringnl: {
      std::string_view text;
      if (!in_.line(text)) return fail(errc::truncated, "no newline found when trying to read stringnl");
      const char quote = text.empty() ? '\0' : text.front();
      if (quote != '"' && quote != '\'') {
        std::string m = "no string quotes around ";
        detail::repr_bytes({reinterpret_cast<const std::byte*>(text.data()), text.size()}, m);
        return fail(errc::bad_string_quote, std::move(m));
      }
      if (text.back() != quote) {  // a lone quote both starts and ends the text: ''
        std::string m = "strinq quote ";  // sic, pickletools' spelling
        m += quote == '"' ? "b'\"'" : "b\"'\"";
        m += " not found at both ends of ";
        detail::repr_bytes({reinterpret_cast<const std::byte*>(text.data()), text.size()}, m);
        return fail(errc::bad_string_quote, std::move(m));
      }
      text = text.size() >= 2 ? text.substr(1, text.size() - 2) : std::string_view();
      if (!read_text_arg(text)) return false;
      detail::repr_str(scratch_, arg_);
      return true;
    }
    case arg::stringnl_noescape: {
      std::string_view text;
      if (!in_.line(text)) return fail(errc::truncated, "no newline found when trying to read stringnl");
      if (!read_text_arg(text)) return false;
      detail::repr_str(scratch_, arg_);
      return true;
    }
    case arg::stringnl_noescape_pair: {
      std::string_view first, second;
      if (!in_.line(first)) return fail(errc::truncated, "no newline found when trying to read stringnl");
      if (!read_text_arg(first)) return false;
      std::string both = scratch_;
      if (!in_.line(second)) return fail(errc::truncated, "no newline found when trying to read stringnl");
      if (!read_text_arg(second)) return false;
      both += ' ';
      both += scratch_;
      detail::repr_str(both, arg_);
      return true;
    }
    case arg::string1:
    case arg::string4: {
      const bool one = info.arg == arg::string1;
      if (!in_.uint_le(one ? 1 : 4, u)) return fail_truncated_arg(one ? "uint1" : "int4");
      if (!one && u >= 0x80000000u) {
        std::string m = "string4 byte count < 0: ";
        append_int64(static_cast<std::int32_t>(static_cast<std::uint32_t>(u)), m);
        return fail(errc::negative_length, std::move(m));
      }
      if (!in_.take(u, b)) return fail_short_payload(one ? "string1" : "string4", u, in_.remaining());
      detail::repr_latin1({reinterpret_cast<const std::byte*>(b.data()), b.size()}, arg_);
      return true;
    }
    case arg::bytes1:
    case arg::bytes4:
    case arg::bytes8:
    case arg::bytearray8:
    case arg::unicodestring1:
    case arg::unicodestring4:
    case arg::unicodestring8: {
      const bool is_bytes = info.arg == arg::bytes1 || info.arg == arg::bytes4 || info.arg == arg::bytes8;
      const bool is_str = info.arg == arg::unicodestring1 || info.arg == arg::unicodestring4 ||
                          info.arg == arg::unicodestring8;
      std::size_t width = 8;
      std::string_view kind = info.arg == arg::bytearray8 ? "bytearray8" : is_bytes ? "bytes8" : "unicodestring8";
      if (info.arg == arg::bytes1 || info.arg == arg::unicodestring1) {
        width = 1;
        kind = is_bytes ? "bytes1" : "unicodestring1";
      } else if (info.arg == arg::bytes4 || info.arg == arg::unicodestring4) {
        width = 4;
        kind = is_bytes ? "bytes4" : "unicodestring4";
      }
      if (!in_.uint_le(width, u))
        return fail_truncated_arg(width == 1 ? "uint1" : width == 4 ? "uint4" : "uint8");
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        std::string m(kind);
        m += " byte count > sys.maxsize: ";
        char buf[24];
        m.append(buf, std::to_chars(buf, buf + sizeof buf, u).ptr);
        return fail(errc::length_overflow, std::move(m), u);
      }
      if (!in_.take(u, b)) return fail_short_payload(kind, u, in_.remaining());
      const std::span<const std::byte> payload{reinterpret_cast<const std::byte*>(b.data()), b.size()};
      if (is_str) {
        const std::size_t bad = detail::utf8_error(b, /*surrogates=*/true);
        if (bad != std::string_view::npos) {
          std::string m = "'utf-8' codec can't decode byte 0x";
          static constexpr char hex[] = "0123456789abcdef";
          const auto c = static_cast<unsigned char>(b[bad]);
          m += hex[c >> 4];
          m += hex[c & 15];
          m += " in position ";
          append_int64(static_cast<std::int64_t>(bad), m);
          return fail(errc::invalid_utf8, std::move(m), bad);
        }
        detail::repr_str(b, arg_);
      } else if (is_bytes) {
        detail::repr_bytes(payload, arg_);
      } else {
        detail::repr_bytearray(payload, arg_);
      }
      return true;
    }
    case arg::unicodestringnl: {
      std::string_view text;
      if (!in_.line(text)) return fail(errc::truncated, "no newline found when trying to read unicodestringnl");
      scratch_.clear();
      std::size_t error_pos = 0;
      const char* message = nullptr;
      if (!detail::raw_unicode_escape_decode(text, scratch_, error_pos, message)) {
        std::string m = "'rawunicodeescape' codec can't decode bytes in position ";
        append_int64(static_cast<std::int64_t>(error_pos), m);
        m += ": ";
        m += message;
        return fail(errc::bad_escape, std::move(m), error_pos);
      }
      detail::repr_str(scratch_, arg_);
      return true;
    }
  }
  return true;
}

result<dis_summary> disassembler::run() {
  dis_summary summary;
  const auto indent_width = static_cast<std::size_t>(std::max(opt_.indent, 0));
  annocol_ = static_cast<std::uint64_t>(std::max(opt_.annotate, 0));
  std::string& out = out_.text();

  for (;;) {
    pos_ = in_.pos();
    code_ = -1;
    std::string_view b;
    if (!in_.take(1, b)) {
      fail(errc::truncated, "pickle exhausted before seeing STOP");
      return err_;
    }
    const auto byte = static_cast<std::uint8_t>(b[0]);
    code_ = byte;
    const opcode_info* info = find_opcode(byte);
    if (info == nullptr) {
      std::string m = "at position ";
      append_int64(static_cast<std::int64_t>(pos_), m);
      m += ", opcode ";
      detail::repr_bytes({reinterpret_cast<const std::byte*>(b.data()), 1}, m);
      m += " unknown";
      fail(errc::invalid_opcode, std::move(m));
      return err_;
    }
    if (!read_argument(*info)) return err_;
    const stack_effect& effect = *effect_index[byte];
    if (byte == op::MARK && opt_.max_mark_depth != 0 && markstack_.size() >= opt_.max_mark_depth) {
      fail(errc::limit_exceeded, "MARK nesting deeper than dis_options::max_mark_depth",
           static_cast<std::uint64_t>(limit::max_nesting));
      return err_;
    }

    // "%5d: "
    {
      char buf[32] = {' ', ' ', ' ', ' ', ' '};
      char digits[24];
      const auto len = static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, pos_).ptr - digits);
      const std::size_t width = std::max<std::size_t>(len, 5);
      std::memcpy(buf + width - len, digits, len);
      buf[width] = ':';
      buf[width + 1] = ' ';
      out.append(buf, width + 2);
    }

    // MARK handling, before anything else can fail (pickletools' order). The line is indented by
    // the depth before this opcode closes a MARK.
    const std::size_t depth = markstack_.size();
    std::string markmsg;
    std::string errormsg;
    errc errcode = errc::ok;
    std::uint64_t numtopop = effect.pops;
    const bool top_is_mark = !marks_in_stack_.empty() && marks_in_stack_.back() + 1 == stack_size_;
    if (effect.to_mark || (byte == op::POP && top_is_mark)) {
      if (!markstack_.empty()) {
        markmsg = "(MARK at ";
        append_int64(static_cast<std::int64_t>(markstack_.back()), markmsg);
        markmsg += ')';
        markstack_.pop_back();
        if (marks_in_stack_.empty()) {
          // The MARK item was popped as an ordinary item (e.g. by APPEND); pickletools then pops
          // the whole stack looking for it and dies with an IndexError before printing the line.
          fail(errc::mark_not_found, "list index out of range (the MARK was consumed as an ordinary item)");
          return err_;
        }
        stack_size_ = marks_in_stack_.back();
        marks_in_stack_.pop_back();
        if (!effect.to_mark) numtopop = 0;  // POP of a MARK
      } else {
        errormsg = markmsg = "no MARK exists on stack";
        errcode = errc::mark_not_found;
      }
    }

    // Memo checks.
    const bool is_put = byte == op::PUT || byte == op::BINPUT || byte == op::LONG_BINPUT || byte == op::MEMOIZE;
    const bool is_get = byte == op::GET || byte == op::BINGET || byte == op::LONG_BINGET;
    if (is_put) {
      if (byte == op::MEMOIZE) {
        key_.small = true;
        key_.value = memo_.size();
        markmsg = "(as ";
        append_int64(static_cast<std::int64_t>(key_.value), markmsg);
        markmsg += ')';
      }
      const bool defined = key_.small ? memo_.contains(key_.value) : memo_.contains(key_.big);
      if (defined) {
        // pickletools 3.11 to 3.13.0 reject a redefinition the unpicklers accept (gh-123309).
        errormsg = "memo key ";
        errormsg += byte == op::MEMOIZE ? "None" : arg_;  // pickletools formats `arg`, None for MEMOIZE
        errormsg += " already defined";
        errcode = errc::bad_memo_index;
      } else if (stack_size_ == 0) {
        errormsg = "stack is empty -- can't store into memo";
        errcode = errc::stack_underflow;
      } else if (top_is_mark) {
        errormsg = "can't store markobject in the memo";
        errcode = errc::unexpected_mark;
      } else if (key_.small) {
        memo_.insert(key_.value);
      } else {
        memo_.insert(key_.big);
      }
    } else if (is_get) {
      const bool defined = key_.small ? memo_.contains(key_.value) : memo_.contains(key_.big);
      if (!defined) {
        errormsg = "memo key " + arg_ + " has never been stored into";
        errcode = errc::memo_miss;
      }
    }

    // repr(arg) of LONG1 / LONG4 can fail (int_max_str_digits) after the position is printed.
    if (is_long_) {
      const std::span<const std::byte> payload{reinterpret_cast<const std::byte*>(long_payload_.data()),
                                               long_payload_.size()};
      if (!detail::int_to_decimal_limited(payload, max_str_digits, arg_)) {
        fail(errc::limit_exceeded, "Exceeds the limit (4300 digits) for integer string conversion",
             static_cast<std::uint64_t>(limit::max_int_digits));
        return err_;
      }
    }

    // The line (after the position prefix), written in place.
    const std::size_t line_start = out.size();
    {
      // Opcode cell, indentation, name and the padding before the argument, in as few appends.
      static constexpr char hex[] = "0123456789abcdef";
      char cell[5] = {static_cast<char>(byte), ' ', ' ', ' ', ' '};
      if (byte < 0x20 || byte >= 0x7f) {
        cell[0] = '\\';
        cell[1] = 'x';
        cell[2] = hex[byte >> 4];
        cell[3] = hex[byte & 15];
      }
      out.append(cell, 5);
      if (depth != 0) out.append(depth * indent_width, ' ');
      char name[32];
      const std::size_t n = info->name.size();
      std::memcpy(name, info->name.data(), n);
      std::size_t used = n;
      if (has_arg_ || !markmsg.empty()) {
        while (used < 10) name[used++] = ' ';
        name[used++] = ' ';
      }
      out.append(name, used);
      if (has_arg_) out += arg_;
      if (!markmsg.empty()) {
        if (has_arg_) out += ' ';
        out += markmsg;
      }
    }
    if (opt_.annotate != 0) {
      const std::uint64_t len = detail::code_point_count(std::string_view(out).substr(line_start));
      if (annocol_ > len) out.append(static_cast<std::size_t>(annocol_ - len), ' ');
      annocol_ = std::max(annocol_, len);
      if (annocol_ > 50) annocol_ = static_cast<std::uint64_t>(opt_.annotate);
      out += ' ';
      out += info->doc;
    }
    out += '\n';
    out_.line_done();
    summary.highest_protocol = std::max<int>(summary.highest_protocol, info->proto);
    ++summary.opcodes;

    if (!errormsg.empty()) {
      const bool memo_error = errcode == errc::bad_memo_index || errcode == errc::memo_miss;
      fail(errcode, std::move(errormsg), memo_error && key_.small ? key_.value : 0);
      return err_;
    }
    if (stack_size_ < numtopop) {
      std::string m = "tries to pop ";
      append_int64(static_cast<std::int64_t>(numtopop), m);
      m += " items from stack with only ";
      append_int64(static_cast<std::int64_t>(stack_size_), m);
      m += " items";
      fail(errc::stack_underflow, std::move(m), numtopop);
      return err_;
    }
    pop_items(numtopop);
    if (byte == op::MARK) {
      markstack_.push_back(pos_);
      marks_in_stack_.push_back(stack_size_);
    }
    stack_size_ += effect.pushes;

    if (byte == op::STOP) break;
  }

  out += "highest protocol among opcodes = ";
  append_int64(summary.highest_protocol, out);
  out += '\n';
  out_.flush();
  summary.stop_offset = pos_;
  summary.end_offset = pos_ + 1;
  summary.leftover_stack = stack_size_;
  return summary;
}

}  // namespace

result<dis_summary> disassemble(std::span<const std::byte> pickle, std::string& out, const dis_options& options) {
  // Listings run at about 10 to 15 bytes per input byte; reserving up front saves most regrowth
  // copies (bounded, since an early error would leave the reservation unused).
  out.reserve(out.size() + std::min<std::size_t>(pickle.size() / 2 * 25, std::size_t{64} << 20));
  listing sink(out);
  return disassembler(pickle, sink, options).run();
}

result<dis_summary> disassemble(std::string_view pickle, std::string& out, const dis_options& options) {
  return disassemble(std::span<const std::byte>(reinterpret_cast<const std::byte*>(pickle.data()), pickle.size()),
                     out, options);
}

result<dis_summary> disassemble(std::span<const std::byte> pickle, text_sink sink, const dis_options& options) {
  if (sink.write == nullptr) {
    error e;
    e.code = errc::bad_argument;
    e.message = "disassemble: the sink has no write function";
    return e;
  }
  listing buffered(sink);
  return disassembler(pickle, buffered, options).run();
}

}  // namespace brine
