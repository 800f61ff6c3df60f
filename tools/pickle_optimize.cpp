// tools/pickle_optimize.cpp — pickletools.optimize, byte for byte (see the header).
#include "pickle_optimize.hpp"

#include <brine/opcodes.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace brine_cli {

namespace {

// One opcode to copy ([pos, end) of the input) or a memo store / fetch to rewrite.
struct step {
  enum class what : std::uint8_t { copy, put, get } kind;
  std::uint64_t a;  // copy: pos; put/get: the memo index as written
  std::uint64_t b;  // copy: end
};

brine::error fail(brine::errc code, std::uint64_t offset, int opcode, std::string message) {
  brine::error e;
  e.code = code;
  e.offset = offset;
  e.opcode = opcode;
  e.message = std::move(message);
  return e;
}

// Walks the opcodes of the first pickle as pickletools._genops does: every read checked against
// what remains, nothing allocated from a declared length.
class reader {
 public:
  explicit reader(std::span<const std::byte> in) : in_(in) {}
  std::size_t pos() const noexcept { return pos_; }
  std::size_t left() const noexcept { return in_.size() - pos_; }

  bool take(std::size_t n) {
    if (n > left()) return false;
    pos_ += n;
    return true;
  }
  bool uint_le(std::size_t n, std::uint64_t& v) {
    if (n > left()) return false;
    v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += n;
    return true;
  }
  // One line up to and including '\n'; `line` excludes the newline.
  bool line(std::span<const std::byte>& text) {
    for (std::size_t i = pos_; i < in_.size(); ++i) {
      if (in_[i] == std::byte{'\n'}) {
        text = in_.subspan(pos_, i - pos_);
        pos_ = i + 1;
        return true;
      }
    }
    return false;
  }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

// Python's int() of a memo index written as text (GET / PUT): ASCII blanks around, an optional
// '+', digits with single underscores between them; "00" and "01" are pickletools' False/True.
std::optional<std::uint64_t> memo_text(std::span<const std::byte> text) {
  std::size_t b = 0, e = text.size();
  auto blank = [&](std::size_t i) {
    const auto c = static_cast<char>(text[i]);
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
  };
  while (b < e && blank(b)) ++b;
  while (e > b && blank(e - 1)) --e;
  if (b < e && static_cast<char>(text[b]) == '+') ++b;
  if (b == e) return std::nullopt;
  std::uint64_t v = 0;
  bool last_digit = false;
  for (std::size_t i = b; i < e; ++i) {
    const auto c = static_cast<char>(text[i]);
    if (c == '_' && last_digit && i + 1 < e) {
      last_digit = false;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
    last_digit = true;
  }
  if (!last_digit) return std::nullopt;
  return v;
}

struct parsed {
  std::vector<step> steps;
  std::span<const std::byte> proto_header;  // a PROTO at offset 0
  int proto = 0;
  std::size_t next_buffers = 0;
};

std::optional<brine::error> tokenize(std::span<const std::byte> in, parsed& out) {
  reader r(in);
  std::unordered_set<std::uint64_t> put_ids;  // pickletools' `oldids`
  for (;;) {
    const std::size_t pos = r.pos();
    if (r.left() == 0) return fail(brine::errc::truncated, pos, -1, "pickle exhausted before seeing STOP");
    const auto code = static_cast<std::uint8_t>(in[pos]);
    const brine::opcode_info* info = brine::find_opcode(code);
    if (info == nullptr) return fail(brine::errc::invalid_opcode, pos, code, "invalid load key");
    r.take(1);
    auto truncated = [&] { return fail(brine::errc::truncated, pos, code, "truncated argument of " + std::string(info->name)); };
    std::uint64_t number = 0;
    std::optional<std::uint64_t> memo;  // the index of a memo opcode
    std::span<const std::byte> text;
    using A = brine::arg;
    switch (info->arg) {
      case A::none: break;
      case A::uint1: if (!r.uint_le(1, number)) return truncated(); break;
      case A::uint2: if (!r.uint_le(2, number)) return truncated(); break;
      case A::int4: case A::uint4: if (!r.uint_le(4, number)) return truncated(); break;
      case A::uint8: case A::float8: if (!r.uint_le(8, number)) return truncated(); break;
      case A::long1: case A::string1: case A::bytes1: case A::unicodestring1:
        if (!r.uint_le(1, number) || !r.take(number)) return truncated();
        break;
      case A::long4: case A::string4:
        if (!r.uint_le(4, number)) return truncated();
        if (number >= 0x80000000u) return fail(brine::errc::negative_length, pos, code, std::string(info->name) + " byte count < 0");
        if (!r.take(number)) return truncated();
        break;
      case A::bytes4: case A::unicodestring4:
        if (!r.uint_le(4, number) || !r.take(number)) return truncated();
        break;
      case A::bytes8: case A::bytearray8: case A::unicodestring8:
        if (!r.uint_le(8, number)) return truncated();
        if (number > r.left()) return truncated();
        r.take(number);
        break;
      case A::decimalnl_short: case A::decimalnl_long: case A::floatnl: case A::stringnl:
      case A::stringnl_noescape: case A::unicodestringnl:
        if (!r.line(text)) return truncated();
        break;
      case A::stringnl_noescape_pair:
        if (!r.line(text) || !r.line(text)) return truncated();
        break;
    }
    const std::string_view name = info->name;
    const bool is_put = name == "PUT" || name == "BINPUT" || name == "LONG_BINPUT";
    const bool is_get = name == "GET" || name == "BINGET" || name == "LONG_BINGET";
    if (is_put || is_get) {
      if (info->arg == A::decimalnl_short) {
        memo = memo_text(text);
        if (!memo) return fail(brine::errc::bad_number, pos, code, "invalid memo index in " + std::string(name));
      } else {
        memo = number;
      }
    }
    if (is_put) {
      put_ids.insert(*memo);
      out.steps.push_back({step::what::put, *memo, 0});
    } else if (code == brine::op::MEMOIZE) {
      const std::uint64_t idx = put_ids.size();
      put_ids.insert(idx);
      out.steps.push_back({step::what::put, idx, 0});
    } else if (code == brine::op::FRAME) {
      // dropped: the output is framed again
    } else if (is_get) {
      out.proto = std::max(out.proto, static_cast<int>(info->proto));
      out.steps.push_back({step::what::get, *memo, 0});
    } else if (code == brine::op::PROTO) {
      out.proto = std::max(out.proto, static_cast<int>(number));
      if (pos == 0) out.proto_header = in.subspan(0, r.pos());
      else out.steps.push_back({step::what::copy, pos, r.pos()});
    } else {
      out.next_buffers += code == brine::op::NEXT_BUFFER;
      out.steps.push_back({step::what::copy, pos, r.pos()});
    }
    if (code == brine::op::STOP) return std::nullopt;
  }
}

// pickle._Framer over a string.
class framer {
 public:
  framer(std::string& out, bool framing) : out_(out), framing_(framing) {}
  static constexpr std::size_t frame_size_target = 64 * 1024, frame_size_min = 4;

  void commit(bool force) {
    if (!framing_) return;
    if (frame_.size() >= frame_size_target || force) {
      if (frame_.size() >= frame_size_min) {
        out_ += static_cast<char>(brine::op::FRAME);
        std::uint64_t n = frame_.size();
        for (int i = 0; i < 8; ++i, n >>= 8) out_ += static_cast<char>(n & 0xff);
      }
      out_ += frame_;
      frame_.clear();
    }
  }
  void write(std::string_view data) { (framing_ ? frame_ : out_) += data; }
  void write_unframed(std::string_view data) { out_ += data; }
  void end() {
    if (framing_ && !frame_.empty()) commit(true);
  }

 private:
  std::string& out_;
  std::string frame_;
  bool framing_;
};

std::string memo_op(bool put, std::uint64_t idx, int proto) {
  std::string s;
  auto le = [&](std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i, v >>= 8) s += static_cast<char>(v & 0xff);
  };
  if (put && proto >= 4) {
    s += static_cast<char>(brine::op::MEMOIZE);
  } else if (proto >= 1) {  // pickle._Pickler.bin
    if (idx < 256) {
      s += static_cast<char>(put ? brine::op::BINPUT : brine::op::BINGET);
      le(idx, 1);
    } else {
      s += static_cast<char>(put ? brine::op::LONG_BINPUT : brine::op::LONG_BINGET);
      le(idx, 4);
    }
  } else {
    s += static_cast<char>(put ? brine::op::PUT : brine::op::GET);
    s += std::to_string(idx);
    s += '\n';
  }
  return s;
}

}  // namespace

brine::result<std::string> optimize_pickle(std::span<const std::byte> pickle, const brine::decode_options& options) {
  parsed p;
  const auto bad = tokenize(pickle, p);
  // The decoder's verdict first: its errors are the precise ones, and only pickles CPython loads
  // are optimized.
  brine::decode_options check = options;
  // Python 2 strings are copied as they are: whatever encoding a loader would use is irrelevant.
  check.encoding = brine::py2_encoding::bytes;
  if (!check.buffers_given) {
    check.buffers.assign(p.next_buffers, brine::oob_buffer{});
    check.buffers_given = true;
  }
  if (auto v = brine::validate(pickle, check); !v) return v.error();
  if (bad) return *bad;

  // pickletools' `newids`: memo index as written -> new index (none yet: not stored so far).
  std::unordered_map<std::uint64_t, std::optional<std::uint64_t>> read_ids;
  for (const auto& s : p.steps)
    if (s.kind == step::what::get) read_ids.emplace(s.a, std::nullopt);

  std::string out(reinterpret_cast<const char*>(p.proto_header.data()), p.proto_header.size());
  framer f(out, p.proto >= 4);
  std::uint64_t next = 0;
  for (const auto& s : p.steps) {
    std::string data;
    bool frameless = false;
    if (s.kind == step::what::put) {
      auto it = read_ids.find(s.a);
      if (it == read_ids.end()) continue;
      it->second = next;
      data = memo_op(true, next++, p.proto);
    } else if (s.kind == step::what::get) {
      const auto& idx = read_ids.at(s.a);
      // validate() has rejected a GET before its PUT (memo_miss); pickletools would fail too.
      if (!idx) return fail(brine::errc::memo_miss, 0, -1, "memo key read before it is stored");
      data = memo_op(false, *idx, p.proto);
    } else {
      const std::string_view raw(reinterpret_cast<const char*>(pickle.data() + s.a), s.b - s.a);
      frameless = raw.size() > framer::frame_size_target;
      f.commit(frameless);
      if (frameless) f.write_unframed(raw);
      else f.write(raw);
      continue;
    }
    f.commit(false);
    f.write(data);
  }
  f.end();
  return out;
}

}  // namespace brine_cli
