// lib/machine.cpp — the decoding machine: one loop over the opcode stream, no recursion.
//
// It follows CPython's C unpickler (Modules/_pickle.c) for the stack, the MARK fence, the memo,
// PROTO and STOP, and the Python unpickler for frame boundaries (cpython gh-154848). Every read goes
// through `take`/`line`, which compare the requested length with what remains (of the frame, or of
// the input) before forming a pointer.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "brine/decode.hpp"
#include "brine/opcodes.hpp"
#include "compat_tables.hpp"
#include "machine.hpp"
#include "pyformat.hpp"
#include "text.hpp"

static_assert(std::endian::native == std::endian::little, "brine reads length prefixes in place");

namespace brine::detail {
namespace {

// The protocol that introduced each opcode byte, 0xff for bytes that are not opcodes.
constexpr std::array<std::uint8_t, 256> make_opcode_proto() {
  std::array<std::uint8_t, 256> t{};
  for (auto& x : t) x = 0xff;
  for (const auto& info : opcode_table) t[info.code] = info.proto;
  return t;
}
constexpr std::array<std::uint8_t, 256> opcode_proto = make_opcode_proto();

// The kinds whose instances Python cannot hash (as dict keys or set items).
bool unhashable_node(const node& n) noexcept { return (n.flags() & flag_unhashable) != 0; }

std::string printable_opcode(std::uint8_t c) {
  char buf[8];
  if (c >= 0x20 && c < 0x7f) {
    buf[0] = static_cast<char>(c);
    buf[1] = 0;
  } else {
    static const char digits[] = "0123456789abcdef";
    buf[0] = '\\';
    buf[1] = 'x';
    buf[2] = digits[c >> 4];
    buf[3] = digits[c & 15];
    buf[4] = 0;
  }
  return buf;
}

}  // namespace

machine::machine(std::span<const std::byte> input, const decode_options& options, document_data& out,
                 decode_scratch& scratch, bool keep_items)
    : base_(reinterpret_cast<const unsigned char*>(input.data())),
      end_(base_ + input.size()),
      cur_(base_),
      lim_(end_),
      opt_(options),
      d_(out),
      keep_items_(keep_items),
      stack_(scratch.stack),
      marks_(scratch.marks),
      dense_(scratch.dense),
      sparse_(scratch.sparse),
      capacity_(scratch.capacity),
      side_(scratch.side),
      node_limit_(std::min<std::uint64_t>(options.limits.max_nodes, no_node - 1)),
      op_start_(base_) {
  // A reused decoder keeps the capacity of earlier decodes; growth is where the node and stack
  // limits are checked, so start below them.
  if (d_.nodes.capacity() > node_limit_) d_.nodes.shrink_to_fit();
  if (stack_.capacity() > opt_.limits.max_stack) stack_.shrink_to_fit();
  // Room for the nodes the input can plausibly hold (scalar-heavy pickles spend 5 to 12 bytes a
  // node), so that large documents do not pay for copies as the table grows. Only what is
  // written is touched; a one-shot document gives the rest back when it is done. Bounded by the
  // input's size, the node limit and a fixed cap, never by a number read from the input.
  constexpr std::size_t reserve_cap = std::size_t{1} << 24;
  constexpr std::size_t small_input = std::size_t{64} << 10;
  // (Small inputs: 2 bytes a node, a list of small ints; their tables are small anyway.)
  const std::size_t per_node = input.size() <= small_input ? 2 : 4;
  const std::size_t expect = std::min({input.size() / per_node + 16, static_cast<std::size_t>(node_limit_), reserve_cap});
  if (d_.nodes.capacity() < expect) d_.nodes.reserve_hint(expect);
  const std::size_t memo_expect = std::min({input.size() / 16 + 16, static_cast<std::size_t>(opt_.limits.max_memo_entries), reserve_cap});
  if (dense_.capacity() < memo_expect) dense_.reserve_hint(memo_expect);
  // Small pickles (messages, records) would otherwise grow their other tables through a dozen
  // small reallocations each, which cost more than the decode: size them for the input at once.
  const std::size_t n = input.size();
  if (n <= small_input) {
    if (d_.pool.capacity() < n / 2 + 16) d_.pool.reserve(n / 2 + 16);
    if (d_.containers.capacity() < n / 8 + 8) d_.containers.reserve(n / 8 + 8);
    if (capacity_.capacity() < n / 8 + 8) capacity_.reserve(n / 8 + 8);
    if (stack_.capacity() < n / 4 + 16) stack_.reserve(std::min<std::size_t>(n / 4 + 16, opt_.limits.max_stack));
    if (marks_.capacity() < n / 16 + 8) marks_.reserve(std::min<std::size_t>(n / 16 + 8, opt_.limits.max_marks));
  } else {
    // Large inputs: a guess, as for the nodes (a list of records spends about 4 bytes of input
    // an item and 27 a container), so the pool and the container tables do not grow by copies.
    if (d_.pool.capacity() < n / 4) d_.pool.reserve_hint(std::min(n / 4, reserve_cap));
    if (d_.containers.capacity() < n / 16) d_.containers.reserve_hint(std::min(n / 16, reserve_cap));
    if (capacity_.capacity() < n / 16) capacity_.reserve_hint(std::min(n / 16, reserve_cap));
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

bool machine::fail(errc code, std::string message, std::uint64_t detail) {
  err_.code = code;
  err_.offset = static_cast<std::uint64_t>(op_start_ - base_);
  err_.opcode = in_opcode_ ? static_cast<int>(op_) : -1;
  err_.detail = detail;
  err_.message = std::move(message);
  return false;
}

bool machine::fail_limit(limit which) {
  return fail(errc::limit_exceeded, std::string("limit exceeded: ") + std::string(limit_name(which)),
              static_cast<std::uint64_t>(which));
}

bool machine::underflow() {
  return fail(marks_.empty() ? errc::stack_underflow : errc::unexpected_mark,
              marks_.empty() ? "unpickling stack underflow" : "unexpected MARK found");
}

// ---------------------------------------------------------------------------------------------
// Reading

bool machine::take_slow(std::size_t n, const unsigned char*& p) {
  if (lim_ != end_ && cur_ == lim_) {
    // A read that starts exactly where the frame ends reads past it, as both CPython unpicklers
    // do (pickle.py's _Unframer drops an exhausted frame; C reads on in the buffer).
    lim_ = end_;
    if (n <= static_cast<std::size_t>(lim_ - cur_)) {
      p = cur_;
      cur_ += n;
      return true;
    }
  }
  if (lim_ != end_ && cur_ < lim_) return fail(errc::frame_violation, "pickle exhausted before end of frame");
  return fail(errc::truncated, "pickle data was truncated", n);
}
bool machine::line(std::string_view& text) {
  if (lim_ != end_ && cur_ == lim_) lim_ = end_;  // as take_slow: an exhausted frame ends here
  const void* nl = std::memchr(cur_, '\n', static_cast<std::size_t>(lim_ - cur_));
  if (nl == nullptr) {
    if (lim_ != end_ && cur_ < lim_) return fail(errc::frame_violation, "pickle exhausted before end of frame");
    return fail(errc::truncated, "pickle data was truncated");
  }
  const auto* e = static_cast<const unsigned char*>(nl);
  text = std::string_view(reinterpret_cast<const char*>(cur_), static_cast<std::size_t>(e - cur_));
  cur_ = e + 1;
  return true;
}

template <class T>
static T load_le(const unsigned char* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Nodes, containers, memo

bool machine::push_singleton(std::uint32_t& slot, node_kind k, std::uint64_t payload) {
  if (slot == no_node && !add_node(k, 0, payload, slot)) return false;
  return push(slot);
}

bool machine::push_data(node_kind k, std::uint8_t prefix, const unsigned char* p) {
  std::uint64_t payload;
  std::memcpy(&payload, &p, 8);
  return push_new(k, prefix | (k == node_kind::bytearray ? flag_unhashable : 0), payload);
}

bool machine::push_text(node_kind k, std::string_view text) {
  unsigned char* p = d_.text.allocate_prefixed(text.size());
  if (!text.empty()) std::memcpy(p, text.data(), text.size());
  return push_data(k, prefix_u64, p);
}

bool machine::new_text_node(std::string_view text, std::uint32_t& id) {
  unsigned char* p = d_.text.allocate_prefixed(text.size());
  if (!text.empty()) std::memcpy(p, text.data(), text.size());
  std::uint64_t payload;
  std::memcpy(&payload, &p, 8);
  return add_node(node_kind::str, prefix_u64, payload, id);
}

bool machine::reserve_pool(std::size_t n) { return pool_fits(n) || fail_limit(limit::max_nodes); }

bool machine::new_container(node_kind k, const std::uint32_t* items, std::size_t n, std::uint32_t& id) {
  if (!reserve_pool(n)) return false;
  const container c{static_cast<std::uint32_t>(d_.pool.size()), static_cast<std::uint32_t>(n)};
  std::uint32_t room = 0;
  if (keep_items_ || k == node_kind::tuple || k == node_kind::frozenset) {
    d_.pool.append(items, n);
    room = c.size;
  }
  std::uint8_t flags = 0;
  if (k == node_kind::list || k == node_kind::dict || k == node_kind::set) flags = flag_unhashable;
  if (k == node_kind::tuple) {
    // A tuple is hashable when all its items are, and its items never change.
    for (std::size_t i = 0; i < n; ++i)
      if (unhashable_node(d_.nodes[items[i]])) flags = flag_unhashable;
  }
  d_.containers.push_back(c);
  capacity_.push_back(room);
  return add_node(k, flags, static_cast<std::uint64_t>(d_.containers.size() - 1), id);
}

bool machine::append_items(std::uint32_t container_index, const std::uint32_t* items, std::size_t n) {
  container& c = d_.containers[container_index];
  std::uint32_t& room = capacity_[container_index];
  if (std::uint64_t{c.size} + n > std::numeric_limits<std::uint32_t>::max()) return fail_limit(limit::max_nodes);
  const auto new_size = static_cast<std::uint32_t>(c.size + n);
  if (!keep_items_) {
    c.size = new_size;
    return true;
  }
  if (room == in_side) [[unlikely]] {
    if (!reserve_pool(n)) return false;
    side_[c.start].items.append(items, n);
    side_count_ += n;
  } else if (new_size <= room) {
    std::copy(items, items + n, d_.pool.begin() + c.start + c.size);
  } else if (std::size_t{c.start} + room == d_.pool.size()) {
    // The container ends the pool: grow it in place, exactly (the common case: a list filled by
    // consecutive APPENDS batches wastes nothing).
    if (!reserve_pool(new_size - room)) return false;
    d_.pool.resize(d_.pool.size() + (new_size - room));
    std::copy(items, items + n, d_.pool.begin() + c.start + c.size);
    room = new_size;
  } else if (new_size >= side_min_items) {
    // A large container growing while others are stored after it: the top-level list of a
    // pickle of records, appended a batch at a time after each batch's records. Moving it along
    // the pool would leave its old room behind at every move, about its own size in all, which
    // the pool then pays to compact; its items go to a table of their own instead, which grows
    // in place (realloc), and join the pool when decoding ends. Left behind: this one first room.
    if (!reserve_pool(new_size)) return false;
    side_items& s = side_.emplace_back();
    s.container = container_index;
    s.items.reserve(std::size_t{new_size} * 2);
    s.items.append(d_.pool.data() + c.start, c.size);
    s.items.append(items, n);
    side_count_ += new_size;
    c.start = static_cast<std::uint32_t>(side_.size() - 1);
    room = in_side;
  } else {
    // Relocate to the end with doubling, so repeated batches cost amortised O(1) per item.
    const std::uint64_t want = std::max<std::uint64_t>(new_size, std::uint64_t{room} * 2);
    const auto cap = static_cast<std::uint32_t>(std::min<std::uint64_t>(want, std::numeric_limits<std::uint32_t>::max()));
    if (!reserve_pool(cap)) return false;
    const std::size_t start = d_.pool.size();
    d_.pool.resize(start + cap);
    std::copy(d_.pool.begin() + c.start, d_.pool.begin() + c.start + c.size, d_.pool.begin() + static_cast<std::ptrdiff_t>(start));
    std::copy(items, items + n, d_.pool.begin() + static_cast<std::ptrdiff_t>(start) + c.size);
    c.start = static_cast<std::uint32_t>(start);
    room = cap;
  }
  c.size = new_size;
  return true;
}

void machine::settle_side() {
  if (side_.empty()) return;
  d_.pool.reserve(d_.pool.size() + side_count_);
  for (side_items& s : side_) {
    container& c = d_.containers[s.container];
    c.start = static_cast<std::uint32_t>(d_.pool.size());
    d_.pool.append(s.items.data(), s.items.size());
    capacity_[s.container] = c.size;
  }
  side_.clear();
  side_count_ = 0;
}

bool machine::memo_put(std::uint64_t index, std::uint32_t id) {
  if (index < dense_.size()) {
    if (dense_[index] == 0) {
      if (memo_count_ >= opt_.limits.max_memo_entries) return fail_limit(limit::max_memo_entries);
      ++memo_count_;
    } else {
      warn(warning_code::duplicate_memo_put);
    }
    dense_[index] = id + 1;
    return true;
  }
  // Dense storage is bounded by the number of entries, so a single huge index costs one sparse
  // entry, never index-sized memory (the pre-gh-115952 C memo bomb).
  const std::uint64_t bound = 2 * memo_count_ + 1024;
  if (index < bound) {
    const std::uint64_t grown = std::min<std::uint64_t>(bound, std::max<std::uint64_t>(index + 1, dense_.size() * 2));
    const std::size_t had = dense_.size();
    dense_.resize(static_cast<std::size_t>(grown));
    std::fill(dense_.begin() + had, dense_.end(), 0u);
    // Entries stored sparse earlier move into the dense range they now fall in.
    auto it = sparse_.begin();
    while (it != sparse_.end() && it->first < grown) {
      dense_[static_cast<std::size_t>(it->first)] = it->second + 1;
      it = sparse_.erase(it);
    }
    return memo_put(index, id);
  }
  auto [it, inserted] = sparse_.try_emplace(index, id);
  if (inserted) {
    if (memo_count_ >= opt_.limits.max_memo_entries) {
      sparse_.erase(it);
      return fail_limit(limit::max_memo_entries);
    }
    ++memo_count_;
  } else {
    it->second = id;
    warn(warning_code::duplicate_memo_put);
  }
  return true;
}

bool machine::memo_get(std::uint64_t index) {
  std::uint32_t id = no_node;
  if (index < dense_.size()) {
    if (dense_[index] != 0) id = dense_[index] - 1;
  } else if (auto it = sparse_.find(index); it != sparse_.end()) {
    id = it->second;
  }
  if (id == no_node) return fail(errc::memo_miss, "Memo value not found at index " + std::to_string(index), index);
  return push(id);
}

bool machine::memo_store_top(std::uint64_t index) {
  if (stack_.size() <= fence()) return underflow();
  return memo_put(index, stack_.back());
}

void machine::warn(warning_code w) {
  // One warning per kind is enough to tell a user; a flood of them would be a memory lever.
  for (const auto& x : d_.warnings)
    if (x.code == w) return;
  d_.warnings.push_back({w, static_cast<std::uint64_t>(op_start_ - base_)});
}

// ---------------------------------------------------------------------------------------------
// Marks

bool machine::pop_mark(std::size_t& mark) {
  if (marks_.empty()) return fail(errc::mark_not_found, "could not find MARK");
  mark = marks_.back();
  marks_.pop_back();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Numbers

bool machine::push_int_le(const unsigned char* p, std::size_t n, std::uint8_t prefix) {
  if (n <= 8) return push_small_int(p, n);
  // Minimal length: drop redundant sign bytes a hand-made pickle may carry.
  std::size_t len = n;
  while (len > 1 && ((p[len - 1] == 0x00 && (p[len - 2] & 0x80) == 0) ||
                     (p[len - 1] == 0xff && (p[len - 2] & 0x80) != 0)))
    --len;
  if (len <= 8) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < len; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    if (len > 0 && len < 8 && (p[len - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * len);  // sign-extend
    return push_new(node_kind::int64, 0, v);
  }
  if (len != n) {
    // Keep the payload minimal, so int_bytes() and the encoder see canonical bytes.
    unsigned char* q = d_.text.allocate_prefixed(len);
    std::memcpy(q, p, len);
    return push_data(node_kind::bigint, prefix_u64, q);
  }
  return push_data(node_kind::bigint, prefix, p);
}

bool machine::push_decimal(std::string_view digits) {
  // Fast path: fits int64.
  std::string_view s = digits;
  const bool negative = !s.empty() && s[0] == '-';
  if (negative || (!s.empty() && s[0] == '+')) s.remove_prefix(1);
  if (s.size() <= 18) {
    std::int64_t v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return push_new(node_kind::int64, 0, static_cast<std::uint64_t>(negative ? -v : v));
  }
  const std::string le = decimal_to_int(digits);
  return push_int_le_copy(le);
}

bool machine::push_int_le_copy(std::string_view le) {
  const auto* p = reinterpret_cast<const unsigned char*>(le.data());
  if (le.size() <= 8) return push_int_le(p, le.size(), prefix_u64);
  unsigned char* q = d_.text.allocate_prefixed(le.size());
  std::memcpy(q, p, le.size());
  return push_int_le(q, le.size(), prefix_u64);
}

// INT / LONG / GET / PUT text in compatibility mode (strict_numbers off), as CPython reads it:
// INT tries C's strtol(s, base 0) and falls back to Python's int(s, 0) when strtol stops early or
// overflows; LONG is int(s, 0); GET and PUT are int(s, 10). Each produces a normalised decimal
// string, or false. Linear in the text, which check_digits has bounded.
namespace {

bool c_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

unsigned digit_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return static_cast<unsigned>((c | 0x20) - 'a' + 10);
  return 99;
}

// Digits (already checked against `base`) to a decimal string, through base-10^9 limbs.
std::string digits_to_decimal(std::string_view digits, unsigned base, bool negative) {
  std::vector<std::uint32_t> limbs{0};
  for (char c : digits) {
    std::uint64_t carry = digit_value(c);
    for (auto& limb : limbs) {
      const std::uint64_t t = std::uint64_t{limb} * base + carry;
      limb = static_cast<std::uint32_t>(t % 1000000000u);
      carry = t / 1000000000u;
    }
    if (carry) limbs.push_back(static_cast<std::uint32_t>(carry));
  }
  std::string out;
  const bool zero = limbs.size() == 1 && limbs[0] == 0;
  if (negative && !zero) out.push_back('-');
  out += std::to_string(limbs.back());
  for (std::size_t k = limbs.size() - 1; k-- > 0;) {
    const std::string part = std::to_string(limbs[k]);
    out.append(9 - part.size(), '0');
    out += part;
  }
  return out;
}

// strtol(s, &end, 0) on Linux: the value when it reads all of `s` without overflow.
bool strtol_whole(std::string_view s, std::string& out) {
  std::size_t i = 0;
  while (i < s.size() && c_space(s[i])) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  unsigned base = 10;
  if (i < s.size() && s[i] == '0') {
    if (i + 2 < s.size() && (s[i + 1] | 0x20) == 'x' && digit_value(s[i + 2]) < 16) base = 16, i += 2;
    else base = 8;
  }
  const std::size_t first = i;
  std::uint64_t v = 0;
  for (; i < s.size(); ++i) {
    const unsigned d = digit_value(s[i]);
    if (d >= base) return false;  // strtol stops before the end
    if (v > (std::uint64_t{1} << 63) / base) return false;  // overflow (ERANGE)
    v = v * base + d;
  }
  if (i == first) return false;
  if (v > static_cast<std::uint64_t>(INT64_MAX) + (negative ? 1 : 0)) return false;
  out = digits_to_decimal(s.substr(first), base, negative);
  return true;
}

// Python's int(s, base) for base 0 or 10: surrounding whitespace, a sign, for base 0 a 0x/0o/0b
// prefix (then one optional '_'), single underscores between digits; base 0 refuses leading
// zeros in a non-zero decimal.
bool python_int(std::string_view s, unsigned base, std::string& out) {
  std::size_t i = 0, e = s.size();
  while (i < e && c_space(s[i])) ++i;
  while (e > i && c_space(s[e - 1])) --e;
  bool negative = false;
  if (i < e && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  bool prefixed = false;
  if (base == 0) {
    base = 10;
    if (e - i >= 2 && s[i] == '0') {
      const char x = static_cast<char>(s[i + 1] | 0x20);
      if (x == 'x') base = 16, i += 2, prefixed = true;
      else if (x == 'o') base = 8, i += 2, prefixed = true;
      else if (x == 'b') base = 2, i += 2, prefixed = true;
    }
    if (!prefixed && i < e && s[i] == '0') {
      // "0", "00", "0_0": zero; any other digit after a leading 0 is an error.
      for (std::size_t k = i; k < e; ++k)
        if (s[k] != '0' && s[k] != '_') return false;
    }
  }
  if (prefixed && i < e && s[i] == '_') ++i;
  std::string digits;
  bool prev_digit = false;
  for (; i < e; ++i) {
    if (s[i] == '_') {
      if (!prev_digit) return false;
      prev_digit = false;
      continue;
    }
    if (digit_value(s[i]) >= base) return false;
    digits.push_back(s[i]);
    prev_digit = true;
  }
  if (!prev_digit) return false;
  out = digits_to_decimal(digits, base, negative);
  return true;
}

}  // namespace

bool machine::check_digits(std::string_view s) {
  if (s.size() > opt_.limits.max_int_digits + 1) return fail_limit(limit::max_int_digits);
  std::size_t digits = 0;
  for (char c : s) digits += (c >= '0' && c <= '9');
  if (digits > opt_.limits.max_int_digits) return fail_limit(limit::max_int_digits);
  return true;
}

bool machine::parse_index(std::string_view s, bool is_put, std::uint64_t& index) {
  if (!check_digits(s)) return false;
  std::string norm;
  std::string_view digits = s;
  if (!opt_.strict_numbers) {
    if (!python_int(s, 10, norm)) return fail(errc::bad_number, "invalid literal for int() with base 10");
    digits = norm;
  } else if (!is_strict_decimal(s)) {
    return fail(errc::bad_number, "invalid literal for int() with base 10: '" + std::string(s.substr(0, 40)) + "'");
  }
  if (digits[0] == '-' && digits.find_first_not_of('0', 1) == std::string_view::npos) {
    digits = "0";  // "-0" (any number of zeros) is index 0
  } else if (digits[0] == '-') {
    if (is_put) return fail(errc::bad_memo_index, "negative PUT argument");
    // A negative GET can never match: report the miss as CPython does.
    return fail(errc::memo_miss, "Memo value not found at index " + std::string(digits));
  }
  std::uint64_t v = 0;
  for (char c : digits) {
    const auto dgt = static_cast<std::uint64_t>(c - '0');
    if (v > (std::uint64_t{INT64_MAX} - dgt) / 10) return fail(errc::bad_memo_index, "Python int too large to convert to C ssize_t");
    v = v * 10 + dgt;
  }
  index = v;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Strings

bool machine::push_utf8(node_kind k, std::uint8_t prefix, const unsigned char* p, std::size_t n) {
  if (ascii_short(p, n)) return push_data(k, prefix, p);
  const std::string_view s(reinterpret_cast<const char*>(p), n);
  if (const std::size_t bad = utf8_error(s, true); bad != std::string_view::npos)
    return fail(errc::invalid_utf8, "'utf-8' codec can't decode byte 0x" + printable_opcode(p[bad]).substr(p[bad] >= 0x20 && p[bad] < 0x7f ? 0 : 2) +
                                        " in position " + std::to_string(bad) + ": invalid start byte or continuation",
                bad);
  return push_data(k, prefix, p);
}

bool machine::push_py2_string(const unsigned char* p, std::size_t n, std::uint8_t prefix, bool copied) {
  // Python 2 str: decoded with the caller's encoding, as pickle.loads(encoding=...) does.
  const std::string_view s(reinterpret_cast<const char*>(p), n);
  switch (opt_.encoding) {
    case py2_encoding::bytes:
      return copied ? push_text(node_kind::bytes, s) : push_data(node_kind::bytes, prefix, p);
    case py2_encoding::ascii:
      for (std::size_t i = 0; i < n; ++i)
        if (p[i] >= 0x80)
          return fail(errc::decode_error, "'ascii' codec can't decode byte 0x" + printable_opcode(p[i]).substr(2) +
                                              " in position " + std::to_string(i) + ": ordinal not in range(128)", i);
      return copied ? push_text(node_kind::str, s) : push_data(node_kind::str, prefix, p);
    case py2_encoding::utf8:
      if (const std::size_t bad = utf8_error(s, false); bad != std::string_view::npos)
        return fail(errc::decode_error, "'utf-8' codec can't decode byte in position " + std::to_string(bad), bad);
      return copied ? push_text(node_kind::str, s) : push_data(node_kind::str, prefix, p);
    case py2_encoding::latin1: {
      bool ascii = true;
      for (std::size_t i = 0; i < n && ascii; ++i) ascii = p[i] < 0x80;
      if (ascii) return copied ? push_text(node_kind::str, s) : push_data(node_kind::str, prefix, p);
      std::string utf8;
      latin1_to_utf8(s, utf8);
      return push_text(node_kind::str, utf8);
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Globals and calls

bool machine::push_global(std::uint32_t module, std::uint32_t name, global_source source) {
  const std::string_view m = value_str(module), q = value_str(name);
  if (m.empty() || q.empty()) return fail(errc::bad_global_name, "empty module or name in global reference");
  // Before protocol 4 CPython resolves the name with one getattr, so a dotted name can never
  // load; from 4 on it is an attribute path, and '<locals>' components cannot be reached.
  if (q.find('.') != std::string_view::npos) {
    if (proto_ < 4) return fail(errc::bad_global_name, "Can't get attribute '" + std::string(q.substr(0, 200)) + "' (dotted names need protocol 4)");
    for (std::size_t at = 0; at <= q.size();) {
      const std::size_t dot = std::min(q.find('.', at), q.size());
      if (q.substr(at, dot - at) == "<locals>") return fail(errc::bad_global_name, "Can't get local attribute '" + std::string(q.substr(0, 200)) + "'");
      if (dot == at) return fail(errc::bad_global_name, "empty component in dotted name");
      at = dot + 1;
    }
  }
  global_rec g{module, name, module, name, source, no_node};
  if (proto_ < 3 && opt_.fix_imports) {
    if (auto mapped = map_for_load(m, q)) {
      if (mapped->module != m && !new_text_node(mapped->module, g.mapped_module)) return false;
      if (mapped->name != q && !new_text_node(mapped->name, g.mapped_name)) return false;
    }
  }
  d_.globals.push_back(g);
  return push_new(node_kind::global, 0, static_cast<std::uint64_t>(d_.globals.size() - 1));
}

std::string_view machine::value_str(std::uint32_t id) const noexcept {
  const node& n = d_.nodes[id];
  return {reinterpret_cast<const char*>(n.p), static_cast<std::size_t>(n.length())};
}

bool machine::global_is(std::uint32_t id, std::string_view module, std::string_view name) const noexcept {
  const node& n = d_.nodes[id];
  if (n.kind() != node_kind::global) return false;
  const global_rec& g = d_.globals[n.u[0]];
  return value_str(g.mapped_module) == module && value_str(g.mapped_name) == name;
}

// Folding the builtin reductions that only rebuild plain data. Returns true with `done` set when
// the call was folded; a call that does not match exactly stays a recorded object.
bool machine::try_fold(std::uint32_t callable, std::uint32_t args, bool& done) {
  done = false;
  if (!opt_.fold_builtins || d_.nodes[callable].kind() != node_kind::global) return true;
  const node& a = d_.nodes[args];
  if (a.kind() != node_kind::tuple) return true;
  const container ac = d_.containers[a.u[0]];
  const std::uint32_t* av = items_of(a.u[0]);
  auto arg_kind = [&](std::uint32_t i) { return d_.nodes[av[i]].kind(); };

  const bool is_set = global_is(callable, "builtins", "set");
  const bool is_frozenset = !is_set && global_is(callable, "builtins", "frozenset");
  if (is_set || is_frozenset) {
    const node_kind k = is_set ? node_kind::set : node_kind::frozenset;
    std::uint32_t id;
    if (ac.size == 0) {
      if (!new_container(k, nullptr, 0, id)) return false;
    } else if (ac.size == 1 && arg_kind(0) == node_kind::list) {
      // set(list) snapshots the list as it is now; later appends to the list do not show.
      const container lc = d_.containers[d_.nodes[av[0]].u[0]];
      copied_items_ += lc.size;
      if (copied_items_ > opt_.limits.max_copied_items) return fail_limit(limit::max_copied_items);
      if (!keep_items_) {
        if (d_.nodes[av[0]].flags() & flag_holds_unhashable) return fail(errc::unhashable, "unhashable type");
        if (!new_container(k, nullptr, 0, id)) return false;
        d_.containers.back().size = lc.size;
      } else {
        const std::uint32_t* const from = items_of(d_.nodes[av[0]].u[0]);
        const std::vector<std::uint32_t> items(from, from + lc.size);
        for (auto item : items)
          if (!check_hashable(item)) return false;
        if (!new_container(k, items.data(), items.size(), id)) return false;
      }
    } else {
      return true;
    }
    done = true;
    return push(id);
  }
  if (global_is(callable, "builtins", "bytearray")) {
    if (ac.size == 0) {
      done = true;
      return push_text(node_kind::bytearray, {});
    }
    if (ac.size == 1 && arg_kind(0) == node_kind::bytes) {
      done = true;
      const node& b = d_.nodes[av[0]];
      return push_data(node_kind::bytearray, b.flags() & prefix_mask, b.p);
    }
    if (ac.size == 2 && arg_kind(0) == node_kind::str && arg_kind(1) == node_kind::str &&
        (value_str(av[1]) == "latin-1" || value_str(av[1]) == "latin1")) {
      // Python 2 and protocol < 3: bytearray(text, 'latin-1').
      std::string raw;
      if (!utf8_to_latin1(value_str(av[0]), raw)) return true;
      done = true;
      return push_text(node_kind::bytearray, raw);
    }
    return true;
  }
  if (global_is(callable, "_codecs", "encode")) {
    if (ac.size == 2 && arg_kind(0) == node_kind::str && arg_kind(1) == node_kind::str &&
        (value_str(av[1]) == "latin1" || value_str(av[1]) == "latin-1")) {
      std::string raw;
      if (!utf8_to_latin1(value_str(av[0]), raw)) return true;  // CPython would fail to encode
      done = true;
      return push_text(node_kind::bytes, raw);
    }
    return true;
  }
  if (global_is(callable, "builtins", "bytes") && ac.size == 0) {
    done = true;
    return push_text(node_kind::bytes, {});
  }
  return true;
}

// Kinds that cannot be called, or used as a class. Globals, recorded objects, persistent ids and
// extension codes might be anything, so they pass.
static bool maybe_callable(node_kind k) noexcept {
  return k == node_kind::global || k == node_kind::object || k == node_kind::persid || k == node_kind::ext;
}

bool machine::new_object(call_kind how, std::uint32_t callable, std::uint32_t args, std::uint32_t kwargs) {
  d_.containers.push_back({static_cast<std::uint32_t>(d_.pool.size()), 0});
  capacity_.push_back(0);
  d_.objects.push_back({how, callable, args, kwargs, static_cast<std::uint32_t>(d_.containers.size() - 1)});
  return push_new(node_kind::object, 0, static_cast<std::uint64_t>(d_.objects.size() - 1));
}

// Globals get an op stream too (BUILD on a class or module overwrites attributes, a real attack
// pattern), created on first use.
std::uint32_t machine::ops_of(std::uint32_t target) {
  const node& n = d_.nodes[target];
  if (n.kind() == node_kind::object) return d_.objects[n.u[0]].ops;
  global_rec& g = d_.globals[n.u[0]];
  if (g.ops == no_node) {
    d_.containers.push_back({static_cast<std::uint32_t>(d_.pool.size()), 0});
    capacity_.push_back(0);
    g.ops = static_cast<std::uint32_t>(d_.containers.size() - 1);
  }
  return g.ops;
}

bool machine::record_op(std::uint32_t target, op_kind kind, const std::uint32_t* items, std::size_t n) {
  if (n > op_count_mask) return fail_limit(limit::max_stack);
  const std::uint32_t ops = ops_of(target);
  const std::uint32_t header = (static_cast<std::uint32_t>(kind) << 28) | static_cast<std::uint32_t>(n);
  const bool keep = keep_items_;
  keep_items_ = true;  // op streams are small records; keep them even when validating
  const bool ok = append_items(ops, &header, 1) && append_items(ops, items, n);
  keep_items_ = keep;
  return ok;
}

// REDUCE then POP: nothing can reach the call's result, so what it stands for is its effect on
// its first argument (a state_setter(obj, state)). Kept as an operation on that object when it
// can hold one, so that encoding writes the call again; otherwise the result is just dropped.
bool machine::record_discarded_call(std::uint32_t object) {
  if (!keep_items_) return true;  // validating: no items kept, nothing to record
  const object_rec o = d_.objects[d_.nodes[object].u[0]];
  const container a = d_.containers[d_.nodes[o.args].u[0]];
  if (a.size == 0) return true;
  const std::uint32_t* const args = items_of(d_.nodes[o.args].u[0]);
  const std::uint32_t target = args[0];
  const node_kind tk = d_.nodes[target].kind();
  if (tk != node_kind::object && tk != node_kind::global) return true;
  std::vector<std::uint32_t> values(args, args + a.size);
  values[0] = o.callable;
  return record_op(target, op_kind::call, values.data(), values.size());
}

std::string machine::kind_text(std::uint32_t id) const { return std::string(node_kind_name(d_.nodes[id].kind())); }

// ---------------------------------------------------------------------------------------------
// The loop

// ---------------------------------------------------------------------------------------------
// The fast path

namespace {
// Every byte of [p, p + n) is ASCII. Reads [p, p + max(n, 16)): the caller guarantees 16 bytes.
BRINE_HOT bool ascii_at_least_16(const unsigned char* p, std::size_t n) noexcept {
  std::uint64_t a, b;
#if defined(__SSE2__)
  if (n <= 16) {
    // The high bit of each of the 16 bytes, the first n of them kept.
    const auto high = static_cast<unsigned>(_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    return (high & ((1u << n) - 1)) == 0;
  }
#endif
  if (n <= 16) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    // Keep the first n bytes of the 16 (little-endian: the low ones).
    const unsigned keep_a = static_cast<unsigned>(n >= 8 ? 64 : 8 * n);
    const unsigned keep_b = static_cast<unsigned>(n >= 16 ? 64 : n <= 8 ? 0 : 8 * (n - 8));
    a = keep_a == 64 ? a : a & ((std::uint64_t{1} << keep_a) - 1);
    b = keep_b == 64 ? b : b & ((std::uint64_t{1} << keep_b) - 1);
    return ((a | b) & 0x8080808080808080ull) == 0;
  }
  std::uint64_t acc = 0;
  for (; n >= 8; n -= 8, p += 8) {
    std::memcpy(&a, p, 8);
    acc |= a;
  }
  for (; n != 0; --n) acc |= *p++;
  return (acc & 0x8080808080808080ull) == 0;
}
}  // namespace

// LONG1's 1 to 8 little-endian two's-complement bytes at `p` (8 bytes readable) as an int64.
BRINE_HOT std::int64_t short_long1(const unsigned char* p, std::size_t n) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  const unsigned shift = static_cast<unsigned>(64 - 8 * n);
  return static_cast<std::int64_t>(w << shift) >> shift;
}

// The tables a run of one opcode writes, as the fast path holds them.
struct run_state {
  const unsigned char* cur;
  node* nend;
  std::uint32_t* send;
  std::uint32_t* memo_end;
  std::size_t room;        // nodes and stack entries left
  std::uint64_t memo_room; // MEMOIZEs that may append
  std::uint64_t ops;
};

// A run of SHORT_BINUNICODE with ASCII text, each maybe followed by MEMOIZE (what protocol 4+
// writes for a list of strs), from `s.cur`, which holds one with the fast path's conditions met.
// Out of line so that its few variables stay in registers (the fast path's switch has too many);
// stops before the first opcode it does not take, having taken none when the first is not ASCII.
[[gnu::noinline]] void run_short_strs(run_state& s, const unsigned char* lim, const unsigned char* base,
                                      const node* nodes, std::ptrdiff_t margin) noexcept {
  const unsigned char* cur = s.cur;
  node* nend = s.nend;
  std::uint32_t* send = s.send;
  std::uint32_t* memo_end = s.memo_end;
  std::size_t room = s.room;
  std::uint64_t memo_room = s.memo_room;
  std::uint64_t ops = s.ops;
  for (;;) {
    const std::size_t n = cur[1];
    if (static_cast<std::ptrdiff_t>(n) > lim - cur - 18 || !ascii_at_least_16(cur + 2, n)) break;
    const unsigned char* data = cur + 2;
    nend->head = make_head(node_kind::str, prefix_u8, static_cast<std::uint64_t>(cur - base));
    std::memcpy(&nend->i, &data, 8);
    *send++ = static_cast<std::uint32_t>(nend - nodes);
    ++nend;
    --room;
    ++ops;
    cur += 2 + n;  // at least 16 bytes before `lim` remain
    if (memo_room != 0 && *cur == op::MEMOIZE) {
      *memo_end++ = send[-1] + 1;
      --memo_room;
      ++ops;
      ++cur;
    }
    if (*cur != op::SHORT_BINUNICODE || lim - cur < margin || room == 0) break;
  }
  s = {cur, nend, send, memo_end, room, memo_room, ops};
}

// A run of ints (LONG1 of 1 to 8 bytes, BININT, BININT1, BININT2: the items of a list of ints),
// like run_short_strs; the first opcode at `s.cur` is one of them with the fast path's
// conditions met.
//
// An int opcode is at most 10 bytes long, so the items that start within (safe - cur) / 10 + 1
// items of `cur` all start at or before `safe`: the loop takes them in chunks of that many with one
// compare per item, and checks the byte limit once a chunk.
[[gnu::noinline]] void run_ints(run_state& s, const unsigned char* lim, const unsigned char* base, const node* nodes,
                                std::ptrdiff_t margin) noexcept {
  constexpr std::size_t longest = 10;  // LONG1 of 8 bytes
  const unsigned char* cur = s.cur;
  node* const out = s.nend;
  std::uint32_t* const ids = s.send;
  const auto id0 = static_cast<std::uint32_t>(out - nodes);
  const std::size_t room = s.room;
  const unsigned char* const safe = lim - margin;  // fixed-size reads from `cur` stay before lim
  // make_head(int64, 0, cur - base) as one shift and one add (unsigned arithmetic wraps).
  const std::uint64_t head_bias =
      make_head(node_kind::int64, 0, 0) - (static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(base)) << 16);
  std::size_t i = 0;
  for (;;) {
    const std::size_t chunk_end =
        std::min(room, i + 1 + static_cast<std::size_t>(safe - cur) / longest);
    for (; i < chunk_end; ++i) {
      std::int64_t v;
      const unsigned char* next;
      // LONG1 first: what protocol 2+ writes for the ints beyond 32 bits that make a list of
      // ints long enough to take this loop.
      const std::uint8_t code = cur[0];
      if (code == op::LONG1) [[likely]] {
        const std::size_t n = cur[1];
        if (n - 1 >= 8) goto done;  // 0 and more than 8 bytes: the general loop
        v = short_long1(cur + 2, n);
        next = (cur + 2) + n;
      } else if (code == op::BININT) {
        v = load_le<std::int32_t>(cur + 1), next = cur + 5;
      } else if (code == op::BININT1) {
        v = cur[1], next = cur + 2;
      } else if (code == op::BININT2) {
        v = load_le<std::uint16_t>(cur + 1), next = cur + 3;
      } else {
        goto done;
      }
      out[i].head = (static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(cur)) << 16) + head_bias;
      out[i].i = v;
      ids[i] = id0 + static_cast<std::uint32_t>(i);
      cur = next;
    }
    if (i == room || cur > safe) break;
  }
done:
  s.cur = cur, s.nend = out + i, s.send = ids + i, s.room -= i, s.ops += i;
}

namespace {
// Copies a batch's ids (a dozen, typically) without a call into the C library.
[[gnu::always_inline]] inline void copy_ids(std::uint32_t* to, const std::uint32_t* from, std::size_t n) {
  for (; n >= 4; n -= 4, to += 4, from += 4) std::memcpy(to, from, 16);
  for (; n != 0; --n) *to++ = *from++;
}
}  // namespace

bool machine::run_fast() {
  // Only a batch can fail here (a table limit inside append_items); every other case checks what
  // it needs (bytes in the frame, room in the tables, the memo's dense state) and leaves the
  // opcode to run() otherwise, with every local written back first. Fixed-size reads stay inside the margin, which also covers the 16 bytes
  // the ASCII test of a short string reads; longer strings check their length.
  constexpr std::ptrdiff_t margin = 32;
  const unsigned char* cur = cur_;
  const unsigned char* const lim = lim_;
  if (lim - cur < margin) return true;
  const unsigned char* const base = base_;
  node* const nodes = d_.nodes.data();
  node* nend = d_.nodes.end();
  std::uint32_t* const stack = stack_.data();
  std::uint32_t* send = stack_.end();
  // Each opcode adds at most one node and one stack entry: one count covers both tables.
  std::size_t room = static_cast<std::size_t>(
      std::min<std::ptrdiff_t>(d_.nodes.capacity_end() - nend, stack_.capacity_end() - send));
  std::uint32_t* top_fence = stack + fence();
  std::uint32_t* const memo = dense_.data();
  std::uint32_t* memo_end = dense_.end();
  std::uint32_t* const memo_cap = dense_.capacity_end();
  std::uint64_t memo_count = memo_count_;
  // MEMOIZE appends when the memo is dense and full up to its end (protocol 4+ streams).
  bool memo_appends = sparse_.empty() && memo_count == dense_.size();
  const std::uint64_t memo_limit = opt_.limits.max_memo_entries;
  const std::size_t mark_limit = opt_.limits.max_marks;
  // Opcodes newer than a declared protocol take the general loop (it notes them).
  const int declared = declared_proto_;
  const bool any_opcode = declared >= 4;  // the newest opcode handled here is protocol 4
  // How many MEMOIZEs may append here: 0 unless the memo appends and MEMOIZE is allowed.
  const auto memo_room_now = [&] {
    if (!any_opcode || !memo_appends || memo_count >= memo_limit) return std::uint64_t{0};
    return std::min<std::uint64_t>(static_cast<std::uint64_t>(memo_cap - memo_end), memo_limit - memo_count);
  };
  std::uint64_t memo_room = memo_room_now();
  const std::uint32_t none = singleton_none, yes = singleton_true, no = singleton_false;
  std::uint64_t ops = 0;

#define BRINE_FAST_NODE(kind, flags, payload)                                                 \
  do {                                                                                         \
    nend->head = make_head(kind, flags, static_cast<std::uint64_t>(cur - base));               \
    nend->i = static_cast<std::int64_t>(payload);                                              \
    *send++ = static_cast<std::uint32_t>(nend - nodes);                                        \
    ++nend;                                                                                    \
  } while (false)

  // Protocol 4+ picklers follow every str, bytes, list and dict with MEMOIZE: take it with the
  // value, saving a dispatch, under MEMOIZE's own conditions (the value was just pushed, so the
  // stack is above the fence; `cur < lim` keeps the peek inside the frame).
#define BRINE_FAST_MEMOIZE_NEXT()                                                              \
  do {                                                                                         \
    if (memo_room != 0 && cur < lim && *cur == op::MEMOIZE) {                                  \
      *memo_end++ = send[-1] + 1;                                                              \
      ++memo_count;                                                                            \
      --memo_room;                                                                             \
      ++cur;                                                                                   \
      ++ops;                                                                                   \
    }                                                                                          \
  } while (false)

  // Runs of one opcode (the items of a list of floats, ints or strs) stay in a loop of their own,
  // without the dispatch: BRINE_FAST_SAME tests the outer loop's conditions for the next item
  // (`room > 1` counts the item just done), BRINE_FAST_NEXT counts it once it is taken.
#define BRINE_FAST_SAME(code) (*cur == (code) && lim - cur >= margin && room > 1)
#define BRINE_FAST_NEXT() (--room, ++ops, true)

  while (lim - cur >= margin && room != 0) {
    const std::uint8_t code = cur[0];
    if (!any_opcode && opcode_proto[code] > declared) break;
    switch (code) {
      case op::BININT1:
        do {
          BRINE_FAST_NODE(node_kind::int64, 0, cur[1]);
          cur += 2;
        } while (BRINE_FAST_SAME(op::BININT1) && BRINE_FAST_NEXT());
        break;
      case op::BININT2: BRINE_FAST_NODE(node_kind::int64, 0, load_le<std::uint16_t>(cur + 1)); cur += 3; break;
      case op::BININT:
        do {
          BRINE_FAST_NODE(node_kind::int64, 0, static_cast<std::uint64_t>(static_cast<std::int64_t>(load_le<std::int32_t>(cur + 1))));
          cur += 5;
        } while (BRINE_FAST_SAME(op::BININT) && BRINE_FAST_NEXT());
        break;
      case op::LONG1: {
        const std::size_t n = cur[1];
        if (n - 1 >= 8) goto out;  // 0 and more than 8 bytes: the general loop
        BRINE_FAST_NODE(node_kind::int64, 0, static_cast<std::uint64_t>(short_long1(cur + 2, n)));
        cur += 2 + n;
        if ((*cur == op::LONG1 || *cur == op::BININT) && lim - cur >= margin && room > 1) {
          // A second int: the items of a list of ints, most likely; run_ints takes the rest.
          run_state r{cur, nend, send, memo_end, room - 1, memo_room, ops + 1};
          run_ints(r, lim, base, nodes, margin);
          cur = r.cur, nend = r.nend, send = r.send, room = r.room, ops = r.ops;
          continue;
        }
        break;
      }
      case op::BINFLOAT: {
        // As many as fit before the margin and the tables' room run out, with the node's head
        // and id advanced by addition (each item is 9 bytes on), two at a time: a quarter fewer
        // instructions a float than one at a time. Reads stay before lim: while two more fit,
        // cur + 9 is inside the margin, and cur + 18 at most 9 bytes past it.
        const std::size_t fit = std::min(room, static_cast<std::size_t>(lim - cur - margin) / 9 + 1);
        std::uint64_t head = make_head(node_kind::float64, 0, static_cast<std::uint64_t>(cur - base));
        auto id = static_cast<std::uint32_t>(nend - nodes);
        constexpr std::uint64_t step = std::uint64_t{9} << 16;  // the head's offset, 9 bytes on
        const auto put = [&](std::size_t j) __attribute__((always_inline)) {
          nend[j].head = head + j * step;
          nend[j].i = static_cast<std::int64_t>(__builtin_bswap64(load_le<std::uint64_t>(cur + 9 * j + 1)));
          send[j] = id + static_cast<std::uint32_t>(j);
        };
        // Two at a time while the next two are floats and fit, then a last one alone.
        std::size_t k = 0;
        while (k + 2 <= fit && cur[9] == op::BINFLOAT) {
          put(0);
          put(1);
          nend += 2, send += 2, id += 2, head += 2 * step, cur += 18, k += 2;
          if (*cur != op::BINFLOAT) break;
        }
        if (k < fit && *cur == op::BINFLOAT) {
          put(0);
          ++nend, ++send, cur += 9, ++k;
        }
        room -= k - 1;  // the loop's end counts the last
        ops += k - 1;
        break;
      }
      case op::NONE:
        if (none == no_node) goto out;
        *send++ = none;
        cur += 1;
        break;
      case op::NEWTRUE:
        if (yes == no_node) goto out;
        *send++ = yes;
        cur += 1;
        break;
      case op::NEWFALSE:
        if (no == no_node) goto out;
        *send++ = no;
        cur += 1;
        break;
      case op::SHORT_BINUNICODE: {
        const std::size_t n = cur[1];
        if (static_cast<std::ptrdiff_t>(n) > lim - cur - 18 || !ascii_at_least_16(cur + 2, n)) goto out;
        const unsigned char* data = cur + 2;
        std::uint64_t payload;
        std::memcpy(&payload, &data, 8);
        BRINE_FAST_NODE(node_kind::str, prefix_u8, payload);
        cur += 2 + n;
        BRINE_FAST_MEMOIZE_NEXT();
        if (BRINE_FAST_SAME(op::SHORT_BINUNICODE)) {
          // A second str: the items of a list of strs, most likely. The rest of the run goes
          // through run_short_strs (the first str taken here is counted with them).
          run_state r{cur, nend, send, memo_end, room - 1, memo_room, ops + 1};
          run_short_strs(r, lim, base, nodes, margin);
          memo_count += static_cast<std::uint64_t>(r.memo_end - memo_end);
          cur = r.cur, nend = r.nend, send = r.send, memo_end = r.memo_end;
          room = r.room, memo_room = r.memo_room, ops = r.ops;
          continue;
        }
        break;
      }
      case op::SHORT_BINBYTES: {
        const std::size_t n = cur[1];
        if (static_cast<std::ptrdiff_t>(n) > lim - cur - 2) goto out;
        const unsigned char* data = cur + 2;
        std::uint64_t payload;
        std::memcpy(&payload, &data, 8);
        BRINE_FAST_NODE(node_kind::bytes, prefix_u8, payload);
        cur += 2 + n;
        BRINE_FAST_MEMOIZE_NEXT();
        break;
      }
      case op::MEMOIZE:
        if (memo_room == 0 || send == top_fence) goto out;
        *memo_end++ = send[-1] + 1;
        ++memo_count;
        --memo_room;
        cur += 1;
        break;
      case op::BINPUT: {
        const std::uint8_t index = cur[1];
        if (send == top_fence || index >= memo_end - memo || memo[index] != 0 || memo_count >= memo_limit) goto out;
        memo[index] = send[-1] + 1;
        ++memo_count;
        memo_appends = memo_count == static_cast<std::uint64_t>(memo_end - memo);
        memo_room = memo_room_now();
        cur += 2;
        break;
      }
      case op::BINGET: {
        const std::uint8_t index = cur[1];
        if (index >= memo_end - memo || memo[index] == 0) goto out;
        *send++ = memo[index] - 1;
        cur += 2;
        break;
      }
      case op::LONG_BINGET: {
        const std::uint32_t index = load_le<std::uint32_t>(cur + 1);
        if (index >= memo_end - memo || memo[index] == 0) goto out;
        *send++ = memo[index] - 1;
        cur += 5;
        break;
      }
      case op::MARK:
        if (marks_.size() >= mark_limit) goto out;
        marks_.push_back(static_cast<std::size_t>(send - stack));
        top_fence = send;
        cur += 1;
        break;
      case op::EMPTY_LIST:
      case op::EMPTY_DICT:
        d_.containers.push_back({static_cast<std::uint32_t>(d_.pool.size()), 0});
        capacity_.push_back(0);
        BRINE_FAST_NODE(code == op::EMPTY_LIST ? node_kind::list : node_kind::dict, flag_unhashable,
                        d_.containers.size() - 1);
        cur += 1;
        BRINE_FAST_MEMOIZE_NEXT();
        break;
      case op::APPENDS:
      case op::SETITEMS: {
        // A non-empty batch into a list or dict (SETITEMS: pairs of hashable keys) behind its
        // MARK; validate-only decodes, records and every error take the general loop.
        if (!keep_items_ || marks_.empty()) goto out;
        std::uint32_t* const items = stack + marks_.back();
        const std::size_t below = marks_.size() > 1 ? marks_[marks_.size() - 2] : 0;
        const auto n = static_cast<std::size_t>(send - items);
        if (n == 0 || items - stack <= static_cast<std::ptrdiff_t>(below)) goto out;
        const node& target = nodes[items[-1]];
        if (code == op::APPENDS) {
          if (target.kind() != node_kind::list) goto out;
        } else {
          if (target.kind() != node_kind::dict || n % 2 != 0) goto out;
          for (std::size_t i = 0; i < n; i += 2)
            if (nodes[items[i]].flags() & flag_unhashable) goto out;
        }
        op_start_ = cur;
        op_ = code;
        // The usual batch: into an empty container (the dict of a record, whose values were
        // stored first), or one that ends the pool, with room in the pool: the items go at the
        // pool's end. Otherwise append_items decides.
        const std::uint32_t ci = target.u[0];
        container& c = d_.containers[ci];
        std::uint32_t* const pend = d_.pool.end();
        if (capacity_[ci] == c.size && (c.size == 0 || d_.pool.data() + c.start + c.size == pend) &&
            static_cast<std::size_t>(d_.pool.capacity_end() - pend) >= n && pool_fits(n)) {
          copy_ids(pend, items, n);
          c.start = static_cast<std::uint32_t>(pend - d_.pool.data() - c.size);
          d_.pool.set_end(pend + n);
          c.size += static_cast<std::uint32_t>(n);
          capacity_[ci] = c.size;
        } else if (!append_items(ci, items, n)) {
          d_.nodes.set_end(nend);
          stack_.set_end(send);
          dense_.set_end(memo_end);
          return false;
        }
        marks_.pop_back();
        send = items;
        top_fence = stack + below;
        cur += 1;
        break;
      }
      default:
        goto out;
    }
    --room;
    ++ops;
  }
#undef BRINE_FAST_NODE
#undef BRINE_FAST_MEMOIZE_NEXT
#undef BRINE_FAST_SAME
#undef BRINE_FAST_NEXT
out:
  d_.nodes.set_end(nend);
  stack_.set_end(send);
  dense_.set_end(memo_end);
  memo_count_ = memo_count;
  opcodes_ += ops;
  cur_ = cur;
  return true;
}

bool machine::run() {
  const bool ok = run_ops();
  settle_side();
  return ok;
}

bool machine::run_ops() {
  for (;;) {
    if (!run_fast()) return false;
    op_start_ = cur_;
    if (cur_ >= lim_) [[unlikely]] {
      // Leaving a frame: once its bytes are consumed, reads come from the input again.
      lim_ = end_;
      if (cur_ >= end_) {
        in_opcode_ = false;
        return fail(errc::truncated, "Ran out of input");
      }
    }
    op_ = *cur_++;
    ++opcodes_;
    // Opcodes newer than a declared protocol are accepted, as CPython does, and noted once.
    // `declared_proto_` is 5 until a PROTO is seen, so undeclared streams pay nothing here.
    if (opcode_proto[op_] > declared_proto_) [[unlikely]] {
      if (opcode_proto[op_] == 0xff) return fail(errc::invalid_opcode, "invalid load key, '" + printable_opcode(op_) + "'.", op_);
      declared_proto_ = highest_protocol;
      warn(warning_code::opcode_above_proto);
    }
    const unsigned char* p = nullptr;
    std::string_view text;
    std::size_t mark = 0;

    switch (op_) {
      // --- protocol and framing
      case op::PROTO: {
        if (!take(1, p)) return false;
        if (p[0] > highest_protocol) return fail(errc::unsupported_protocol, "unsupported pickle protocol: " + std::to_string(p[0]), p[0]);
        if (op_start_ != base_) warn(seen_proto_ ? warning_code::repeated_proto : warning_code::late_proto);
        seen_proto_ = true;
        proto_ = p[0];
        declared_proto_ = proto_;
        d_.protocol = proto_;
        break;
      }
      case op::FRAME: {
        if (!take(8, p)) return false;
        const auto len = load_le<std::uint64_t>(p);
        if (len > static_cast<std::uint64_t>(INT64_MAX))
          return fail(errc::length_overflow, "FRAME length exceeds system's maximum of 9223372036854775807 bytes", len);
        if (lim_ != end_ && cur_ < lim_)
          return fail(errc::frame_violation, "beginning of a new frame before end of current frame");
        if (len > static_cast<std::uint64_t>(end_ - cur_)) return fail(errc::truncated, "pickle data was truncated", len);
        // Without strict frames (differential testing only) the boundary is not enforced, as in
        // CPython's C unpickler before gh-154848.
        if (opt_.strict_frames) lim_ = cur_ + len;
        break;
      }
      case op::STOP: {
        if (stack_.size() <= fence()) return underflow();
        d_.stop_offset = static_cast<std::uint64_t>(op_start_ - base_);
        root_ = stack_.back();
        if (stack_.size() > 1) warn(warning_code::leftover_stack);
        if (!marks_.empty()) warn(warning_code::leftover_marks);
        if (cur_ < end_) warn(warning_code::trailing_data);
        return true;
      }

      // --- scalars
      case op::NONE: if (!push_singleton(singleton_none, node_kind::none, 0)) return false; break;
      case op::NEWTRUE: if (!push_singleton(singleton_true, node_kind::boolean, 1)) return false; break;
      case op::NEWFALSE: if (!push_singleton(singleton_false, node_kind::boolean, 0)) return false; break;
      case op::BININT: {
        if (!take(4, p)) return false;
        if (!push_new(node_kind::int64, 0, static_cast<std::uint64_t>(static_cast<std::int64_t>(load_le<std::int32_t>(p))))) return false;
        break;
      }
      case op::BININT1: if (!take(1, p) || !push_new(node_kind::int64, 0, p[0])) return false; break;
      case op::BININT2: if (!take(2, p) || !push_new(node_kind::int64, 0, load_le<std::uint16_t>(p))) return false; break;
      case op::LONG1: {
        if (!take(1, p)) return false;
        const std::size_t n = p[0];
        if (n > opt_.limits.max_long_bytes) return fail_limit(limit::max_long_bytes);
        if (!take(n, p)) return false;
        if (!(n == 0 ? push_new(node_kind::int64, 0, 0) : n <= 8 ? push_small_int(p, n) : push_int_le(p, n, prefix_u8))) return false;
        break;
      }
      case op::LONG4: {
        if (!take(4, p)) return false;
        const auto n = load_le<std::int32_t>(p);
        if (n < 0) return fail(errc::negative_length, "LONG pickle has negative byte count", static_cast<std::uint64_t>(static_cast<std::int64_t>(n)));
        if (static_cast<std::uint64_t>(n) > opt_.limits.max_long_bytes) return fail_limit(limit::max_long_bytes);
        if (!take(static_cast<std::size_t>(n), p)) return false;
        if (!(n == 0 ? push_new(node_kind::int64, 0, 0) : push_int_le(p, static_cast<std::size_t>(n), prefix_u32))) return false;
        break;
      }
      case op::INT: {
        if (!line(text)) return false;
        if (!check_digits(text)) return false;
        if (text == "00" || text == "01" || text == "-0") {  // C: 2 characters, value 0 or 1: a bool
          if (!(text[1] == '1' ? push_singleton(singleton_true, node_kind::boolean, 1)
                               : push_singleton(singleton_false, node_kind::boolean, 0))) return false;
          break;
        }
        if (opt_.strict_numbers) {
          if (!is_strict_decimal(text)) return fail(errc::bad_number, "invalid literal for int() with base 10: '" + std::string(text.substr(0, 40)) + "'");
          if (!push_decimal(text)) return false;
        } else {
          std::string norm;
          const bool whole = strtol_whole(text, norm);
          if (!whole && !python_int(text, 0, norm)) return fail(errc::bad_number, "could not convert string to int");
          // C: a 2-character text that strtol reads to its end ("01", "+1", " 0"...) and that is
          // 0 or 1 is a bool; "0 " falls back to int() and stays an int.
          if (whole && text.size() == 2 && (norm == "0" || norm == "1")) {
            if (!(norm == "1" ? push_singleton(singleton_true, node_kind::boolean, 1)
                              : push_singleton(singleton_false, node_kind::boolean, 0))) return false;
            break;
          }
          if (!push_decimal(norm)) return false;
        }
        break;
      }
      case op::LONG: {
        if (!line(text)) return false;
        if (!check_digits(text)) return false;
        if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
        if (opt_.strict_numbers) {
          if (!is_strict_decimal(text)) return fail(errc::bad_number, "invalid literal for int() with base 0: '" + std::string(text.substr(0, 40)) + "'");
          if (!push_decimal(text)) return false;
        } else {
          std::string norm;
          if (!python_int(text, 0, norm)) return fail(errc::bad_number, "invalid literal for int() with base 0");
          if (!push_decimal(norm)) return false;
        }
        break;
      }
      case op::BINFLOAT: {
        if (!take(8, p)) return false;
        const std::uint64_t bits = __builtin_bswap64(load_le<std::uint64_t>(p));
        if (!push_new(node_kind::float64, 0, bits)) return false;
        break;
      }
      case op::FLOAT: {
        if (!line(text)) return false;
        double v = 0;
        switch (parse_float(text, v)) {
          case float_parse::ok: break;
          case float_parse::invalid: return fail(errc::bad_number, "could not convert string to float: '" + std::string(text.substr(0, 40)) + "'");
          case float_parse::overflow: return fail(errc::bad_number, "float too large to pickle");
        }
        if (!push_new(node_kind::float64, 0, std::bit_cast<std::uint64_t>(v))) return false;
        break;
      }

      // --- str, bytes, bytearray
      case op::SHORT_BINUNICODE: {
        if (!take(1, p)) return false;
        const std::size_t n = p[0];
        if (!take(n, p) || !push_utf8(node_kind::str, prefix_u8, p, n)) return false;
        break;
      }
      case op::BINUNICODE: {
        if (!take(4, p)) return false;
        const std::size_t n = load_le<std::uint32_t>(p);
        if (!take(n, p) || !push_utf8(node_kind::str, prefix_u32, p, n)) return false;
        break;
      }
      case op::BINUNICODE8: {
        if (!take(8, p)) return false;
        const auto n = load_le<std::uint64_t>(p);
        if (n > static_cast<std::uint64_t>(INT64_MAX)) return fail(errc::length_overflow, "BINUNICODE exceeds system's maximum size of 9223372036854775807 bytes", n);
        if (!take(static_cast<std::size_t>(n), p) || !push_utf8(node_kind::str, prefix_u64, p, static_cast<std::size_t>(n))) return false;
        break;
      }
      case op::UNICODE: {
        if (!line(text)) return false;
        std::string utf8;
        std::size_t bad = 0;
        const char* why = nullptr;
        if (!raw_unicode_escape_decode(text, utf8, bad, why))
          return fail(errc::bad_escape, std::string("'rawunicodeescape' codec can't decode bytes in position ") + std::to_string(bad) + ": " + why, bad);
        if (!push_text(node_kind::str, utf8)) return false;
        break;
      }
      case op::SHORT_BINBYTES: {
        if (!take(1, p)) return false;
        const std::size_t n = p[0];
        if (!take(n, p) || !push_data(node_kind::bytes, prefix_u8, p)) return false;
        break;
      }
      case op::BINBYTES: {
        if (!take(4, p)) return false;
        const std::size_t n = load_le<std::uint32_t>(p);
        if (!take(n, p) || !push_data(node_kind::bytes, prefix_u32, p)) return false;
        break;
      }
      case op::BINBYTES8:
      case op::BYTEARRAY8: {
        if (!take(8, p)) return false;
        const auto n = load_le<std::uint64_t>(p);
        const bool is_bytes = op_ == op::BINBYTES8;
        if (n > static_cast<std::uint64_t>(INT64_MAX))
          return fail(errc::length_overflow, std::string(is_bytes ? "BINBYTES" : "BYTEARRAY8") + " exceeds system's maximum size of 9223372036854775807 bytes", n);
        if (!take(static_cast<std::size_t>(n), p) || !push_data(is_bytes ? node_kind::bytes : node_kind::bytearray, prefix_u64, p)) return false;
        break;
      }
      case op::SHORT_BINSTRING: {
        if (!take(1, p)) return false;
        const std::size_t n = p[0];
        if (!take(n, p) || !push_py2_string(p, n, prefix_u8, false)) return false;
        break;
      }
      case op::BINSTRING: {
        if (!take(4, p)) return false;
        const auto n = load_le<std::int32_t>(p);
        if (n < 0) return fail(errc::negative_length, "BINSTRING pickle has negative byte count", static_cast<std::uint64_t>(static_cast<std::int64_t>(n)));
        if (!take(static_cast<std::size_t>(n), p) || !push_py2_string(p, static_cast<std::size_t>(n), prefix_u32, false)) return false;
        break;
      }
      case op::STRING: {
        if (!line(text)) return false;
        // bpo-17710: quoted on both ends with the same quote, at least two characters.
        if (text.size() < 2 || text.front() != text.back() || (text.front() != '\'' && text.front() != '"'))
          return fail(errc::bad_string_quote, "the STRING opcode argument must be quoted");
        std::string raw;
        std::size_t bad = 0;
        const char* why = nullptr;
        if (!escape_decode(text.substr(1, text.size() - 2), raw, bad, why)) return fail(errc::bad_escape, why, bad);
        if (!push_py2_string(reinterpret_cast<const unsigned char*>(raw.data()), raw.size(), prefix_u64, true)) return false;
        break;
      }

      // --- containers
      case op::EMPTY_LIST: { std::uint32_t id; if (!new_container(node_kind::list, nullptr, 0, id) || !push(id)) return false; break; }
      case op::EMPTY_DICT: { std::uint32_t id; if (!new_container(node_kind::dict, nullptr, 0, id) || !push(id)) return false; break; }
      case op::EMPTY_SET: { std::uint32_t id; if (!new_container(node_kind::set, nullptr, 0, id) || !push(id)) return false; break; }
      case op::EMPTY_TUPLE: { std::uint32_t id; if (!new_container(node_kind::tuple, nullptr, 0, id) || !push(id)) return false; break; }
      case op::TUPLE1:
      case op::TUPLE2:
      case op::TUPLE3: {
        const std::size_t n = static_cast<std::size_t>(op_ - op::TUPLE1) + 1;
        if (stack_.size() - fence() < n) return underflow();
        std::uint32_t id;
        if (!new_container(node_kind::tuple, stack_.data() + stack_.size() - n, n, id)) return false;
        stack_.resize(stack_.size() - n);
        if (!push(id)) return false;
        break;
      }
      case op::TUPLE:
      case op::LIST:
      case op::DICT:
      case op::FROZENSET: {
        if (!pop_mark(mark)) return false;
        const std::size_t n = stack_.size() - mark;
        const std::uint32_t* items = stack_.data() + mark;
        node_kind k = op_ == op::TUPLE ? node_kind::tuple : op_ == op::LIST ? node_kind::list
                    : op_ == op::DICT ? node_kind::dict : node_kind::frozenset;
        if (k == node_kind::dict) {
          if (n % 2 != 0) return fail(errc::odd_items, "odd number of items for DICT");
          for (std::size_t i = 0; i < n; i += 2)
            if (!check_hashable(items[i])) return false;
        } else if (k == node_kind::frozenset) {
          for (std::size_t i = 0; i < n; ++i)
            if (!check_hashable(items[i])) return false;
        }
        std::uint32_t id;
        if (!new_container(k, items, n, id)) return false;
        if (!keep_items_ && (k == node_kind::list || k == node_kind::dict)) note_contents(id, items, n);
        stack_.resize(mark);
        if (!push(id)) return false;
        break;
      }
      case op::APPEND: {
        if (stack_.size() - fence() < 2) return underflow();
        const std::uint32_t item = stack_.back();
        stack_.pop_back();
        if (!extend(stack_.back(), &item, 1, op_kind::append)) return false;
        break;
      }
      case op::APPENDS:
      case op::ADDITEMS: {
        if (!pop_mark(mark)) return false;
        if (mark <= fence() || mark > stack_.size()) return underflow();  // the target may not sit behind another MARK
        const std::size_t n = stack_.size() - mark;
        if (n == 0) {
          // C: a no-op on any target (cpython gh-135573); noted for non-containers.
          const node_kind tk = d_.nodes[stack_[mark - 1]].kind();
          if (tk != node_kind::list && tk != node_kind::set && tk != node_kind::object) warn(warning_code::empty_batch_non_container);
          break;
        }
        if (!extend(stack_[mark - 1], stack_.data() + mark, n, op_ == op::APPENDS ? op_kind::appends : op_kind::additems)) return false;
        stack_.resize(mark);
        break;
      }
      case op::SETITEM: {
        if (stack_.size() - fence() < 3) return underflow();
        const std::uint32_t kv[2] = {stack_[stack_.size() - 2], stack_[stack_.size() - 1]};
        stack_.resize(stack_.size() - 2);
        if (!extend(stack_.back(), kv, 2, op_kind::setitem)) return false;
        break;
      }
      case op::SETITEMS: {
        if (!pop_mark(mark)) return false;
        if (mark <= fence() || mark > stack_.size()) return underflow();  // the target may not sit behind another MARK
        const std::size_t n = stack_.size() - mark;
        if (n == 0) break;
        if (n % 2 != 0) return fail(errc::odd_items, "odd number of items for SETITEMS");
        if (!extend(stack_[mark - 1], stack_.data() + mark, n, op_kind::setitems)) return false;
        stack_.resize(mark);
        break;
      }

      // --- stack manipulation
      case op::MARK:
        if (marks_.size() >= opt_.limits.max_marks) return fail_limit(limit::max_marks);
        marks_.push_back(stack_.size());
        break;
      case op::POP:
        if (!marks_.empty() && marks_.back() == stack_.size()) {
          marks_.pop_back();  // POP of a MARK is legal and removes it
        } else if (stack_.size() <= fence()) {
          return underflow();
        } else {
          if (op_start_ == reduce_end_ && stack_.back() == reduce_node_ && !record_discarded_call(reduce_node_)) return false;
          stack_.pop_back();
        }
        break;
      case op::POP_MARK:
        if (!pop_mark(mark)) return false;
        stack_.resize(mark);
        break;
      case op::DUP:
        if (stack_.size() <= fence()) return underflow();
        if (!push(stack_.back())) return false;
        break;

      // --- memo
      case op::PUT: {
        std::uint64_t index;
        if (!line(text) || !parse_index(text, true, index) || !memo_store_top(index)) return false;
        break;
      }
      case op::BINPUT: if (!take(1, p) || !memo_store_top(p[0])) return false; break;
      case op::LONG_BINPUT: if (!take(4, p) || !memo_store_top(load_le<std::uint32_t>(p))) return false; break;
      case op::MEMOIZE:
        // Protocol 4+ streams number the memo densely: append without the general bookkeeping.
        if (memo_count_ == dense_.size() && sparse_.empty() && stack_.size() > fence() &&
            memo_count_ < opt_.limits.max_memo_entries) {
          dense_.push_back(stack_.back() + 1);
          ++memo_count_;
        } else if (!memo_store_top(memo_count_)) {
          return false;
        }
        break;
      case op::GET: {
        std::uint64_t index;
        if (!line(text) || !parse_index(text, false, index) || !memo_get(index)) return false;
        break;
      }
      case op::BINGET:
        if (!take(1, p)) return false;
        if (p[0] < dense_.size() && dense_[p[0]] != 0) {
          if (!push(dense_[p[0]] - 1)) return false;
        } else if (!memo_get(p[0])) {
          return false;
        }
        break;
      case op::LONG_BINGET: if (!take(4, p) || !memo_get(load_le<std::uint32_t>(p))) return false; break;

      // --- globals and calls
      case op::GLOBAL:
      case op::INST: {
        std::string_view module_text, name_text;
        if (!line(module_text) || !line(name_text)) return false;
        // GLOBAL names are UTF-8, INST names ASCII (CPython's decoders for each).
        const bool ascii_only = op_ == op::INST;
        for (std::string_view part : {module_text, name_text}) {
          bool ok = utf8_error(part, false) == std::string_view::npos;
          if (ascii_only)
            for (char c : part) ok = ok && static_cast<unsigned char>(c) < 0x80;
          if (!ok) return fail(errc::bad_global_name, std::string("'") + (ascii_only ? "ascii" : "utf-8") + "' codec can't decode global name");
        }
        std::uint32_t m, q;
        if (!new_text_node(module_text, m) || !new_text_node(name_text, q)) return false;
        if (op_ == op::GLOBAL) {
          if (!push_global(m, q, global_source::global_op)) return false;
          break;
        }
        if (!pop_mark(mark)) return false;
        std::uint32_t args;
        if (!new_container(node_kind::tuple, stack_.data() + mark, stack_.size() - mark, args)) return false;
        stack_.resize(mark);
        if (!push_global(m, q, global_source::inst)) return false;
        const std::uint32_t cls = stack_.back();
        stack_.pop_back();
        if (!new_object(call_kind::inst, cls, args, no_node)) return false;
        break;
      }
      case op::STACK_GLOBAL: {
        if (stack_.size() - fence() < 2) return underflow();
        const std::uint32_t name = stack_.back(), module = stack_[stack_.size() - 2];
        if (d_.nodes[name].kind() != node_kind::str || d_.nodes[module].kind() != node_kind::str)
          return fail(errc::type_mismatch, "STACK_GLOBAL requires str");
        stack_.resize(stack_.size() - 2);
        if (!push_global(module, name, global_source::stack_global)) return false;
        break;
      }
      case op::REDUCE: {
        if (stack_.size() - fence() < 2) return underflow();
        const std::uint32_t args = stack_.back(), callable = stack_[stack_.size() - 2];
        if (!maybe_callable(d_.nodes[callable].kind()))
          return fail(errc::type_mismatch, "'" + kind_text(callable) + "' object is not callable");
        if (d_.nodes[args].kind() != node_kind::tuple) return fail(errc::type_mismatch, "argument list must be a tuple");
        stack_.resize(stack_.size() - 2);
        bool folded = false;
        if (!try_fold(callable, args, folded)) return false;
        if (!folded) {
          if (!new_object(call_kind::reduce, callable, args, no_node)) return false;
          reduce_end_ = cur_;
          reduce_node_ = stack_.back();
        }
        break;
      }
      case op::NEWOBJ:
      case op::NEWOBJ_EX: {
        const bool ex = op_ == op::NEWOBJ_EX;
        const std::size_t need = ex ? 3 : 2;
        if (stack_.size() - fence() < need) return underflow();
        const std::size_t base = stack_.size() - need;
        const std::uint32_t cls = stack_[base], args = stack_[base + 1], kwargs = ex ? stack_[base + 2] : no_node;
        const char* name = ex ? "NEWOBJ_EX" : "NEWOBJ";
        if (!maybe_callable(d_.nodes[cls].kind()))
          return fail(errc::type_mismatch, std::string(name) + " class argument must be a type, not " + kind_text(cls));
        if (d_.nodes[args].kind() != node_kind::tuple)
          return fail(errc::type_mismatch, std::string(name) + " args argument must be a tuple, not " + kind_text(args));
        if (ex && d_.nodes[kwargs].kind() != node_kind::dict)
          return fail(errc::type_mismatch, "NEWOBJ_EX kwargs argument must be a dict, not " + kind_text(kwargs));
        stack_.resize(base);
        if (!new_object(ex ? call_kind::newobj_ex : call_kind::newobj, cls, args, kwargs)) return false;
        break;
      }
      case op::OBJ: {
        if (!pop_mark(mark)) return false;
        if (stack_.size() - mark < 1) return underflow();
        const std::uint32_t cls = stack_[mark];
        if (!maybe_callable(d_.nodes[cls].kind()))
          return fail(errc::type_mismatch, "'" + kind_text(cls) + "' object is not callable");
        std::uint32_t args;
        if (!new_container(node_kind::tuple, stack_.data() + mark + 1, stack_.size() - mark - 1, args)) return false;
        stack_.resize(mark);
        if (!new_object(call_kind::obj, cls, args, no_node)) return false;
        break;
      }
      case op::BUILD: {
        if (stack_.size() - fence() < 2) return underflow();
        const std::uint32_t state = stack_.back();
        stack_.pop_back();
        const node_kind tk = d_.nodes[stack_.back()].kind();
        if (tk == node_kind::object || tk == node_kind::global) {
          if (!record_op(stack_.back(), op_kind::build, &state, 1)) return false;
        } else if (d_.nodes[state].kind() != node_kind::none) {
          // CPython: no __setstate__ and no __dict__ on plain data; a None state is a no-op.
          return fail(errc::type_mismatch, "'" + kind_text(stack_.back()) + "' object has no attribute '__dict__'");
        }
        break;
      }
      case op::PERSID: {
        if (!line(text)) return false;
        if (!opt_.allow_persistent_ids) return fail(errc::no_persistent_load, "A load persistent id instruction was encountered, but no persistent_load function was specified.");
        for (char c : text)
          if (static_cast<unsigned char>(c) >= 0x80) return fail(errc::decode_error, "persistent IDs in protocol 0 must be ASCII strings");
        std::uint32_t pid;
        if (!new_text_node(text, pid) || !push_new(node_kind::persid, 0, pid)) return false;
        break;
      }
      case op::BINPERSID: {
        if (stack_.size() <= fence()) return underflow();
        if (!opt_.allow_persistent_ids) return fail(errc::no_persistent_load, "A load persistent id instruction was encountered, but no persistent_load function was specified.");
        const std::uint32_t pid = stack_.back();
        stack_.pop_back();
        if (!push_new(node_kind::persid, flag_binary, pid)) return false;
        break;
      }
      case op::EXT1:
      case op::EXT2:
      case op::EXT4: {
        const std::size_t n = op_ == op::EXT1 ? 1 : op_ == op::EXT2 ? 2 : 4;
        if (!take(n, p)) return false;
        std::int64_t code = n == 1 ? p[0] : n == 2 ? load_le<std::uint16_t>(p) : load_le<std::int32_t>(p);
        if (code <= 0) return fail(errc::bad_ext_code, "EXT specifies code <= 0", static_cast<std::uint64_t>(code));
        if (!push_new(node_kind::ext, 0, static_cast<std::uint64_t>(code))) return false;
        break;
      }

      // --- out-of-band buffers
      case op::NEXT_BUFFER: {
        if (!opt_.buffers_given) return fail(errc::no_buffers, "pickle stream refers to out-of-band data but no *buffers* argument was given");
        if (d_.buffers_used >= opt_.buffers.size()) return fail(errc::buffers_exhausted, "not enough out-of-band buffers", d_.buffers_used);
        const std::size_t index = d_.buffers_used++;
        if (!push_new(node_kind::buffer, 0, index)) return false;
        break;
      }
      case op::READONLY_BUFFER: {
        if (stack_.size() <= fence()) return underflow();
        const node& top = d_.nodes[stack_.back()];
        if (top.kind() == node_kind::buffer) {
          if (!(top.flags() & flag_readonly) && !opt_.buffers[top.u[0]].readonly) {
            // A new read-only view: a new object, as memoryview.toreadonly() is.
            const std::uint64_t index = top.u[0];
            stack_.pop_back();
            if (!push_new(node_kind::buffer, flag_readonly, index)) return false;
          }
        } else if (top.kind() == node_kind::bytearray) {
          // A read-only memoryview over the bytearray: brine has no memoryview kind, so it
          // becomes bytes over the same data.
          // Unhashable, as the memoryview over a bytearray is.
          const unsigned char* data = top.p;
          const std::uint8_t prefix = top.flags() & prefix_mask;
          stack_.pop_back();
          std::uint64_t payload;
          std::memcpy(&payload, &data, 8);
          if (!push_new(node_kind::bytes, prefix | flag_unhashable, payload)) return false;
        } else if (top.kind() != node_kind::bytes) {
          return fail(errc::type_mismatch, "memoryview: a bytes-like object is required, not '" + kind_text(stack_.back()) + "'");
        }
        break;
      }
      default:
        BRINE_ASSERT(false && "opcode in the table without a case");
        return fail(errc::invalid_opcode, "invalid load key, '" + printable_opcode(op_) + "'.", op_);
    }
  }
}

bool machine::fail_unhashable(std::uint32_t id) {
  // An unhashable bytes node is a read-only view of a bytearray: CPython hashes the bytearray.
  const bool view = d_.nodes[id].kind() == node_kind::bytes;
  return fail(errc::unhashable, "unhashable type: '" + (view ? std::string("bytearray") : kind_text(id)) + "'");
}

bool machine::grow_nodes() {
  const std::size_t have = d_.nodes.size();
  if (have >= node_limit_) return fail_limit(limit::max_nodes);
  d_.nodes.reserve(std::min<std::size_t>(d_.nodes.next_capacity(), static_cast<std::size_t>(node_limit_)));
  return true;
}

bool machine::grow_stack() {
  const std::size_t have = stack_.size();
  if (have >= opt_.limits.max_stack) return fail_limit(limit::max_stack);
  stack_.reserve(std::min<std::size_t>(stack_.next_capacity(), static_cast<std::size_t>(opt_.limits.max_stack)));
  return true;
}

void machine::note_contents(std::uint32_t id, const std::uint32_t* items, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (unhashable_node(d_.nodes[items[i]])) {
      d_.nodes[id].head |= std::uint64_t{flag_holds_unhashable} << 8;
      return;
    }
}

bool machine::extend(std::uint32_t target, const std::uint32_t* items, std::size_t n, op_kind how) {
  const node& t = d_.nodes[target];
  const node_kind tk = t.kind();
  if (tk == node_kind::object) return record_op(target, how, items, n);
  const bool is_append = how == op_kind::append || how == op_kind::appends;
  const bool is_set = how == op_kind::additems;
  if (is_append && tk == node_kind::list) {
    if (!keep_items_) note_contents(target, items, n);
    return append_items(t.u[0], items, n);
  }
  if (is_set && tk == node_kind::set) {
    for (std::size_t i = 0; i < n; ++i)
      if (!check_hashable(items[i])) return false;
    return append_items(t.u[0], items, n);
  }
  if (!is_append && !is_set && tk == node_kind::dict) {
    for (std::size_t i = 0; i < n; i += 2)
      if (!check_hashable(items[i])) return false;
    if (!keep_items_) note_contents(target, items, n);
    return append_items(t.u[0], items, n);
  }
  const char* attr = is_append ? "append" : is_set ? "add" : "__setitem__";
  return fail(errc::type_mismatch, "'" + kind_text(target) + "' object has no attribute '" + attr + "'");
}

}  // namespace brine::detail
