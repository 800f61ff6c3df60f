// lib/scanner.cpp — brine::scan (brine/scan.hpp): the decoder's inert document plus a tokenizer.
//
// Each pickle of the input goes through three passes:
//  1. (only when the input holds a 0x97 byte and the caller gave no buffers) the tokenizer counts
//     NEXT_BUFFER opcodes up to STOP, so the decoder gets that many placeholder buffers;
//  2. brine::decode_partial builds the document, keeping every node made before an error;
//  3. the tokenizer walks the same opcodes again with a light emulation of the stack and memo
//     that records, per stack slot, which opcode made the value and whether a GET or DUP pushed
//     it. That gives STACK_GLOBAL's operand provenance (the document holds the resolved names,
//     not how they arrived), frame anomalies independent of the decoder's strict_frames switch,
//     opcode statistics, and, when the decoder rejects a STACK_GLOBAL operand, what made it.
// Then every node of the document (reachable from the root or not) is inspected.
//
// The tokenizer reads through one bounds-checked cursor (every length is compared with what
// remains before use). The emulation never decides anything the decoder decides: names, kinds and
// errors come from the document. Where the two could disagree (the emulation's STOP is not the
// decoder's, a STACK_GLOBAL literal differs from the decoded name) the scanner reports an
// `inconsistency`, flagged: a disagreement between a scanner and the loader is exactly what
// published scanner bypasses exploit.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "brine/opcodes.hpp"
#include "brine/scan.hpp"

namespace brine {

// ---------------------------------------------------------------------------------------------
// The default allowlist. tools/allowlist.txt holds the same text (test_scan.cpp compares them).

namespace {
constexpr std::string_view default_text =
    R"allow(# brine's default scan allowlist: the globals a pickle of plain data may import and call.
#
# Format: one `module qualname` per line; '#' starts a comment. `module *` allows every undotted
# name of the module, `module Name.*` every attribute one level below Name; any other dotted name
# needs an exact entry. Names are matched as CPython imports them, after fix_imports has mapped
# Python 2 names (__builtin__ -> builtins, copy_reg -> copyreg, exceptions -> builtins) for
# protocols below 3. Every global not listed is flagged by `brine scan`.
#
# `brine scan --allow FILE` adds the entries of FILE to these; `--no-default-allowlist` starts
# from nothing. The library embeds this same text (brine::default_allowlist_text(); a test keeps
# the two identical).
#
# What gets in: importing the module and calling the name, with any arguments a pickle can build
# from data and other allowlisted objects, rebuilds data and runs no code the pickle chooses.
# What stays out however common it is: functions that turn data into code or reach arbitrary
# objects (getattr, eval, exec, compile, __import__, type, functools.partial, operator.attrgetter
# and methodcaller, importlib.import_module, pkgutil.resolve_name, pydoc.locate, marshal.loads,
# types.CodeType, pickle.loads), anything touching processes, files or the network (os,
# subprocess, socket, shutil, ...), and every user-defined class (namedtuple classes and enums
# included: they live in the user's module).

# --- builtins: the plain data types
builtins bool
builtins int
builtins float
builtins complex
builtins str
builtins bytes
builtins bytearray
builtins tuple
builtins list
builtins dict
builtins set
builtins frozenset
builtins slice
builtins range
# the base class in copyreg._reconstructor(cls, object, state); object() makes an empty instance
builtins object
builtins Ellipsis
builtins NotImplemented

# CPython writes bytes at protocols 0-2 as _codecs.encode(text, 'latin1'); the decoder folds that
# exact form into bytes, other encodings stay recorded calls (a codec lookup imports only modules
# of the encodings package)
_codecs encode

# --- builtins: exceptions (constructing one stores its arguments; nothing is raised)
builtins BaseException
builtins Exception
builtins ArithmeticError
builtins AssertionError
builtins AttributeError
builtins BufferError
builtins EOFError
builtins FloatingPointError
builtins ImportError
builtins IndexError
builtins KeyError
builtins LookupError
builtins MemoryError
builtins ModuleNotFoundError
builtins NameError
builtins NotImplementedError
builtins OSError
builtins OverflowError
builtins RecursionError
builtins ReferenceError
builtins RuntimeError
builtins StopIteration
builtins SyntaxError
builtins SystemError
builtins TimeoutError
builtins TypeError
builtins UnboundLocalError
builtins UnicodeError
builtins ValueError
builtins ZeroDivisionError
builtins ConnectionError
builtins FileExistsError
builtins FileNotFoundError
builtins PermissionError
builtins Warning
builtins UserWarning
builtins DeprecationWarning
builtins RuntimeWarning

# --- copyreg: how protocols 0 and 1 pickle instances of classes without __reduce__.
# Checked beyond its name: `cls` and `base` must be allowlisted globals.
copyreg _reconstructor

# --- collections (namedtuple classes are user-defined, so not here)
collections OrderedDict
collections defaultdict
collections deque
collections Counter

# --- dates, numbers, identifiers
datetime date
datetime time
datetime datetime
datetime timedelta
datetime timezone
datetime tzinfo
decimal Decimal
fractions Fraction
uuid UUID
uuid SafeUUID

# --- types.SimpleNamespace (what brine's typed encoder writes for plain records)
types SimpleNamespace

# --- array. _array_reconstructor is checked: its class argument must be allowlisted.
array array
array _array_reconstructor

# --- numpy array reconstruction (numpy 1.x `numpy.core`, numpy 2.x `numpy._core`).
# _reconstruct is checked: its class argument must be allowlisted (numpy.ndarray).
numpy ndarray
numpy dtype
numpy.core.multiarray _reconstruct
numpy.core.multiarray scalar
numpy.core.numeric _frombuffer
numpy._core.multiarray _reconstruct
numpy._core.multiarray scalar
numpy._core.numeric _frombuffer
)allow";

bool blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

// A dotted name with non-empty components, optionally ending in ".*" (or "*" alone) when
// `wildcard` is allowed.
bool valid_name(std::string_view s, bool wildcard) noexcept {
  if (s.empty()) return false;
  if (wildcard && (s == "*")) return true;
  if (wildcard && s.size() > 2 && s.substr(s.size() - 2) == ".*") s.remove_suffix(2);
  std::size_t at = 0;
  for (;;) {
    const std::size_t dot = s.find('.', at);
    const std::string_view part = s.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at);
    if (part.empty() || part.find('*') != std::string_view::npos) return false;
    if (dot == std::string_view::npos) return true;
    at = dot + 1;
  }
}
}  // namespace

std::string_view default_allowlist_text() noexcept { return default_text; }

result<allowlist> allowlist::parse(std::string_view text) {
  allowlist out;
  std::size_t pos = 0;
  std::uint64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const std::size_t line_start = pos;
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::string_view words[3];
    std::size_t count = 0;
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && blank(line[i])) ++i;
      if (i >= line.size()) break;
      std::size_t j = i;
      while (j < line.size() && !blank(line[j])) ++j;
      if (count < 3) words[count] = line.substr(i, j - i);
      ++count;
      i = j;
    }
    if (count == 0) continue;
    auto fail = [&](std::string why) {
      brine::error e;
      e.code = errc::bad_argument;
      e.offset = line_start;
      e.detail = line_no;
      e.message = "allowlist line " + std::to_string(line_no) + ": " + why;
      return e;
    };
    if (count != 2) return fail("expected 'module qualname', found " + std::to_string(count) + " words");
    if (!valid_name(words[0], false)) return fail("bad module name '" + std::string(words[0]) + "'");
    if (!valid_name(words[1], true)) return fail("bad qualified name '" + std::string(words[1]) + "'");
    out.add(words[0], words[1]);
  }
  return out;
}

const allowlist& allowlist::defaults() {
  static const allowlist list = [] {
    auto parsed = parse(default_text);
    BRINE_ASSERT(parsed.has_value());
    return parsed ? std::move(*parsed) : allowlist();
  }();
  return list;
}

void allowlist::add(std::string_view module, std::string_view qualname) {
  entry e{std::string(module), std::string(qualname)};
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), e);
  if (it != entries_.end() && !(e < *it)) return;
  entries_.insert(it, std::move(e));
}

void allowlist::merge(const allowlist& other) {
  for (const auto& e : other.entries_) add(e.module, e.qualname);
}

bool allowlist::allows(std::string_view module, std::string_view qualname) const noexcept {
  auto has = [&](std::string_view q) {
    const auto it = std::lower_bound(entries_.begin(), entries_.end(), std::pair(module, q),
                                     [](const entry& e, const std::pair<std::string_view, std::string_view>& k) {
                                       return e.module != k.first ? std::string_view(e.module) < k.first
                                                                  : std::string_view(e.qualname) < k.second;
                                     });
    return it != entries_.end() && it->module == module && it->qualname == q;
  };
  if (qualname.empty()) return false;
  if (has(qualname)) return true;
  const std::size_t dot = qualname.rfind('.');
  if (dot == std::string_view::npos) return has("*");
  // "Name.*": one component below an exact prefix.
  std::string pattern(qualname.substr(0, dot));
  pattern += ".*";
  return has(pattern);
}

// ---------------------------------------------------------------------------------------------
// Names

std::string_view severity_name(severity s) noexcept {
  switch (s) {
    case severity::info: return "info";
    case severity::malformed: return "malformed";
    case severity::flagged: return "flagged";
  }
  return "unknown";
}

std::string_view verdict_name(verdict v) noexcept {
  switch (v) {
    case verdict::clean: return "clean";
    case verdict::malformed: return "malformed";
    case verdict::flagged: return "flagged";
  }
  return "unknown";
}

std::string_view finding_kind_name(finding_kind k) noexcept {
  switch (k) {
    case finding_kind::global: return "global";
    case finding_kind::call: return "call";
    case finding_kind::call_arguments: return "call_arguments";
    case finding_kind::build_on_global: return "build_on_global";
    case finding_kind::extension_code: return "extension_code";
    case finding_kind::persistent_id: return "persistent_id";
    case finding_kind::buffer: return "buffer";
    case finding_kind::frame: return "frame";
    case finding_kind::stack_global_operand: return "stack_global_operand";
    case finding_kind::protocol: return "protocol";
    case finding_kind::differential: return "differential";
    case finding_kind::leftover: return "leftover";
    case finding_kind::memo: return "memo";
    case finding_kind::concatenated: return "concatenated";
    case finding_kind::trailing_data: return "trailing_data";
    case finding_kind::container: return "container";
    case finding_kind::decode_error: return "decode_error";
    case finding_kind::limit: return "limit";
    case finding_kind::inconsistency: return "inconsistency";
  }
  return "unknown";
}

std::string_view operand_source_name(operand_source s) noexcept {
  switch (s) {
    case operand_source::literal: return "literal";
    case operand_source::memo: return "memo";
    case operand_source::dup: return "dup";
    case operand_source::computed: return "computed";
    case operand_source::unknown: return "unknown";
  }
  return "unknown";
}

std::vector<std::string_view> global_ref::components() const {
  std::vector<std::string_view> out;
  const std::string_view q = mapped_name;
  for (std::size_t at = 0; at <= q.size();) {
    const std::size_t dot = std::min(q.find('.', at), q.size());
    out.push_back(q.substr(at, dot - at));
    at = dot + 1;
  }
  return out;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The tokenizer: one opcode at a time, every read checked against what remains.

struct token {
  std::uint64_t offset = 0;  // relative to the pickle's start
  std::uint64_t end = 0;     // just past the argument
  std::uint8_t code = 0;
  const opcode_info* info = nullptr;
  std::uint64_t number = 0;   // fixed-width and memo-index arguments, FRAME length, EXT code
  bool has_number = false;    // false for text indices that are not plain decimal
  std::string_view payload;   // counted or line argument (the first line for GLOBAL / INST)
};

enum class token_status { ok, end_of_input, invalid_opcode, truncated, bad_length };

class opcode_cursor {
 public:
  explicit opcode_cursor(std::span<const std::byte> data)
      : p_(reinterpret_cast<const char*>(data.data())), n_(data.size()) {}
  std::uint64_t pos() const noexcept { return pos_; }
  void seek(std::uint64_t pos) noexcept { pos_ = std::min<std::uint64_t>(pos, n_); }

  token_status next(token& t) noexcept {
    t = token{};
    t.offset = pos_;
    if (pos_ >= n_) return token_status::end_of_input;
    t.code = static_cast<std::uint8_t>(p_[pos_]);
    t.info = find_opcode(t.code);
    if (t.info == nullptr) return token_status::invalid_opcode;
    const std::uint64_t start = pos_;
    ++pos_;
    const token_status s = argument(t);
    if (s != token_status::ok) {
      pos_ = start;
      return s;
    }
    t.end = pos_;
    return token_status::ok;
  }

 private:
  std::uint64_t remaining() const noexcept { return n_ - pos_; }
  bool take(std::uint64_t len, std::string_view& out) noexcept {
    if (len > remaining()) return false;
    out = {p_ + pos_, static_cast<std::size_t>(len)};
    pos_ += len;
    return true;
  }
  bool uint_le(std::size_t width, std::uint64_t& v) noexcept {
    std::string_view b;
    if (!take(width, b)) return false;
    v = 0;
    for (std::size_t k = width; k-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[k]);
    return true;
  }
  bool line(std::string_view& out) noexcept {
    const void* nl = std::memchr(p_ + pos_, '\n', static_cast<std::size_t>(remaining()));
    if (nl == nullptr) return false;
    const auto len = static_cast<std::uint64_t>(static_cast<const char*>(nl) - (p_ + pos_));
    out = {p_ + pos_, static_cast<std::size_t>(len)};
    pos_ += len + 1;
    return true;
  }
  token_status counted(std::size_t width, bool is_signed, token& t) noexcept {
    std::uint64_t len;
    if (!uint_le(width, len)) return token_status::truncated;
    if (is_signed && width == 4 && (len & 0x80000000u) != 0) return token_status::bad_length;
    if (width == 8 && len > static_cast<std::uint64_t>(INT64_MAX)) return token_status::bad_length;
    return take(len, t.payload) ? token_status::ok : token_status::truncated;
  }

  token_status argument(token& t) noexcept {
    std::string_view unused;
    switch (t.info->arg) {
      case arg::none: return token_status::ok;
      case arg::uint1:
      case arg::uint2:
      case arg::uint4:
      case arg::uint8: {
        const std::size_t w = t.info->arg == arg::uint1 ? 1 : t.info->arg == arg::uint2 ? 2 : t.info->arg == arg::uint4 ? 4 : 8;
        if (!uint_le(w, t.number)) return token_status::truncated;
        t.has_number = true;
        return token_status::ok;
      }
      case arg::int4: {
        if (!uint_le(4, t.number)) return token_status::truncated;
        t.number = static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(static_cast<std::uint32_t>(t.number))));
        t.has_number = true;
        return token_status::ok;
      }
      case arg::float8: return take(8, unused) ? token_status::ok : token_status::truncated;
      case arg::long1:
      case arg::string1:
      case arg::bytes1:
      case arg::unicodestring1: return counted(1, false, t);
      case arg::long4:
      case arg::string4: return counted(4, true, t);
      case arg::bytes4:
      case arg::unicodestring4: return counted(4, false, t);
      case arg::bytes8:
      case arg::bytearray8:
      case arg::unicodestring8: return counted(8, false, t);
      case arg::decimalnl_short: {
        if (!line(t.payload)) return token_status::truncated;
        // Memo indices (GET / PUT): plain decimal only; anything else leaves has_number false.
        std::uint64_t v = 0;
        bool ok = !t.payload.empty() && t.payload.size() <= 19;
        for (char c : t.payload) {
          ok = ok && c >= '0' && c <= '9';
          if (ok) v = v * 10 + static_cast<std::uint64_t>(c - '0');
        }
        t.number = v;
        t.has_number = ok;
        return token_status::ok;
      }
      case arg::decimalnl_long:
      case arg::floatnl:
      case arg::stringnl:
      case arg::stringnl_noescape:
      case arg::unicodestringnl: return line(t.payload) ? token_status::ok : token_status::truncated;
      case arg::stringnl_noescape_pair:
        return line(t.payload) && line(unused) ? token_status::ok : token_status::truncated;
    }
    return token_status::truncated;
  }

  const char* p_;
  std::uint64_t n_;
  std::uint64_t pos_ = 0;
};

bool is_string_opcode(std::uint8_t code) noexcept {
  switch (code) {
    case op::SHORT_BINUNICODE: case op::BINUNICODE: case op::BINUNICODE8: case op::UNICODE:
    case op::STRING: case op::BINSTRING: case op::SHORT_BINSTRING:
      return true;
    default:
      return false;
  }
}

// Opcodes whose value only exists when CPython runs the pickle.
bool made_at_run_time(std::uint8_t code) noexcept {
  switch (code) {
    case op::REDUCE: case op::NEWOBJ: case op::NEWOBJ_EX: case op::INST: case op::OBJ: case op::GLOBAL:
    case op::STACK_GLOBAL: case op::PERSID: case op::BINPERSID: case op::EXT1: case op::EXT2: case op::EXT4:
    case op::NEXT_BUFFER: case op::READONLY_BUFFER:
      return true;
    default:
      return false;
  }
}

std::string opname(std::uint8_t code) {
  const opcode_info* info = find_opcode(code);
  return info ? std::string(info->name) : "opcode 0x" + std::to_string(code);
}

// Short, printable rendering of untrusted text for messages.
std::string printable(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && out.size() < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (out.size() >= max) out += "...";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The emulation: which opcode made each stack slot, and how it got there.

// 16 bytes: the producer's offset (48 bits, like node offsets), its opcode and how the value got
// pushed, then the offset of the GET or DUP that pushed it.
struct slot {
  std::uint64_t head = 0;  // producer offset | opcode << 48 | via << 56
  std::uint64_t via_offset = 0;

  static slot make(std::uint64_t producer, std::uint8_t op, operand_source via, std::uint64_t via_offset) {
    return {(producer & offset_mask) | (std::uint64_t{op} << 48) | (std::uint64_t{static_cast<std::uint8_t>(via)} << 56), via_offset};
  }
  std::uint64_t producer() const noexcept { return head & offset_mask; }
  std::uint8_t producer_op() const noexcept { return static_cast<std::uint8_t>(head >> 48); }
  operand_source via() const noexcept { return static_cast<operand_source>(head >> 56); }
  slot with_via(operand_source v, std::uint64_t at) const { return make(producer(), producer_op(), v, at); }
  static constexpr std::uint64_t offset_mask = (std::uint64_t{1} << 48) - 1;
};
static_assert(sizeof(slot) == 16);

struct stack_global_site {
  std::uint64_t offset;  // relative
  operand_origin module, name;
};

struct pass_result {
  std::vector<stack_global_site> sites;
  std::vector<finding> findings;  // relative offsets; pickle index filled in later
  std::uint64_t stop = 0;         // relative offset of STOP, when seen
  bool saw_stop = false;
  bool failing_stack_global = false;  // the opcode at the error offset is STACK_GLOBAL
  operand_origin failing_module, failing_name;
  std::uint64_t next_buffers = 0;
  std::array<std::uint64_t, 256> counts{};
  std::uint64_t opcodes = 0, frames = 0, puts = 0, gets = 0, memo_entries = 0;
};

// The emulation runs only over opcodes the decoder accepted, so the decoder's limits bound it:
// at most max_stack slots and max_memo_entries memo entries (16 bytes each, where the decoder
// spends 4). The memo is dense for indices up to twice the entry count, like the decoder's, and
// an ordered map beyond (a huge index costs one entry; no hash flooding).
class emulation {
 public:
  emulation(pass_result& out, const decode_limits& limits) : out_(out), limits_(limits) {}

  void step(const token& t) {
    if (lost_) return;
    switch (t.code) {
      case op::MARK: marks_.push_back(stack_.size()); break;
      case op::POP:
        if (!marks_.empty() && marks_.back() == stack_.size()) marks_.pop_back();
        else pop(1);
        break;
      case op::POP_MARK: to_mark(); break;
      case op::DUP:
        if (stack_.empty()) return lose();
        push(stack_.back().with_via(operand_source::dup, t.offset));
        break;
      case op::PUT:
      case op::BINPUT:
      case op::LONG_BINPUT:
        if (!t.has_number) return lose();
        put(t.number);
        break;
      case op::MEMOIZE: put(entries_); break;
      case op::GET:
      case op::BINGET:
      case op::LONG_BINGET: {
        const slot* s = t.has_number ? find(t.number) : nullptr;
        if (s == nullptr) return lose();
        push(s->with_via(operand_source::memo, t.offset));
        break;
      }
      case op::APPEND: case op::BUILD: pop(1); break;
      case op::SETITEM: pop(2); break;
      case op::APPENDS: case op::SETITEMS: case op::ADDITEMS: to_mark(); break;
      case op::LIST: case op::TUPLE: case op::DICT: case op::FROZENSET: case op::INST: case op::OBJ:
        to_mark();
        fresh(t);
        break;
      case op::TUPLE1: pop(1); fresh(t); break;
      case op::TUPLE2: pop(2); fresh(t); break;
      case op::TUPLE3: pop(3); fresh(t); break;
      case op::STACK_GLOBAL: {
        if (stack_.size() < 2) return lose();
        out_.sites.push_back({t.offset, origin(stack_[stack_.size() - 2]), origin(stack_.back())});
        pop(2);
        fresh(t);
        break;
      }
      case op::REDUCE: case op::NEWOBJ: pop(2); fresh(t); break;
      case op::NEWOBJ_EX: pop(3); fresh(t); break;
      case op::BINPERSID: case op::READONLY_BUFFER: pop(1); fresh(t); break;
      case op::STOP: pop(1); break;
      case op::PROTO: case op::FRAME: break;
      default: fresh(t); break;  // every other opcode pushes one new value
    }
  }

  /// STACK_GLOBAL's operands as they are now (for the failing opcode).
  bool operands(operand_origin& module, operand_origin& name) const {
    if (lost_ || stack_.size() < 2) return false;
    module = origin(stack_[stack_.size() - 2]);
    name = origin(stack_.back());
    return true;
  }
  std::uint64_t memo_entries() const noexcept { return entries_; }

 private:
  static constexpr std::uint64_t empty = ~std::uint64_t{0};

  void lose() { lost_ = true; }
  void push(const slot& s) {
    if (stack_.size() >= limits_.max_stack) return lose();
    stack_.push_back(s);
  }
  void fresh(const token& t) { push(slot::make(t.offset, t.code, operand_source::literal, 0)); }
  void pop(std::size_t n) {
    const std::size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) return lose();
    stack_.resize(stack_.size() - n);
  }
  void to_mark() {
    if (marks_.empty() || marks_.back() > stack_.size()) return lose();
    stack_.resize(marks_.back());
    marks_.pop_back();
  }
  const slot* find(std::uint64_t index) const {
    if (index < dense_.size()) return dense_[static_cast<std::size_t>(index)].head == empty ? nullptr : &dense_[static_cast<std::size_t>(index)];
    const auto it = sparse_.find(index);
    return it == sparse_.end() ? nullptr : &it->second;
  }
  void put(std::uint64_t index) {
    const std::size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return lose();
    const slot top = stack_.back();
    if (index >= dense_.size() && index < 2 * entries_ + 1024) {
      const auto grown = static_cast<std::size_t>(std::min<std::uint64_t>(2 * entries_ + 1024, std::max<std::uint64_t>(index + 1, 2 * dense_.size())));
      dense_.resize(grown, slot{empty, 0});
      for (auto it = sparse_.begin(); it != sparse_.end() && it->first < grown;) {
        dense_[static_cast<std::size_t>(it->first)] = it->second;
        it = sparse_.erase(it);
      }
    }
    bool added;
    if (index < dense_.size()) {
      added = dense_[static_cast<std::size_t>(index)].head == empty;
      dense_[static_cast<std::size_t>(index)] = top;
    } else {
      added = sparse_.insert_or_assign(index, top).second;
    }
    if (added && ++entries_ > limits_.max_memo_entries) lose();
  }
  static operand_origin origin(const slot& s) {
    operand_origin o;
    o.producer_offset = s.producer();
    o.producer_opcode = s.producer_op();
    o.via_offset = s.via_offset;
    o.source = is_string_opcode(s.producer_op()) ? s.via() : operand_source::computed;
    return o;
  }

  pass_result& out_;
  const decode_limits& limits_;
  std::vector<slot> stack_;
  std::vector<std::size_t> marks_;
  std::vector<slot> dense_;
  std::map<std::uint64_t, slot> sparse_;
  std::uint64_t entries_ = 0;
  bool lost_ = false;
};

// Pass 1: NEXT_BUFFER opcodes up to STOP (or up to where the tokenizer stops).
std::uint64_t count_next_buffers(std::span<const std::byte> bytes) {
  opcode_cursor c(bytes);
  std::uint64_t n = 0;
  token t;
  while (c.next(t) == token_status::ok) {
    if (t.code == op::NEXT_BUFFER) ++n;
    if (t.code == op::STOP) break;
  }
  return n;
}

// Pass 3: tokenize up to the decoder's end (`limit`: STOP's offset, or the failing opcode's).
// `bytes` starts at offset `base` of the input (messages give offsets in the input).
void tokenize(std::span<const std::byte> bytes, std::uint64_t base, std::uint64_t limit, bool failed,
              const decode_limits& limits, pass_result& out) {
  opcode_cursor c(bytes);
  emulation emu(out, limits);
  std::uint64_t frame_end = 0;
  bool in_frame = false;
  token t;
  auto anomaly = [&](finding_kind k, severity s, std::uint64_t at, std::string msg) {
    out.findings.push_back({k, s, at, 0, std::move(msg)});
  };
  for (;;) {
    if (c.pos() > limit || (failed && c.pos() == limit)) break;
    const token_status st = c.next(t);
    if (st != token_status::ok) {
      if (!failed || c.pos() < limit)
        anomaly(finding_kind::inconsistency, severity::flagged, c.pos(),
                failed ? "the scanner's tokenizer stops before the decoder's error"
                       : "the scanner's tokenizer stops before the decoder's STOP");
      break;
    }
    ++out.opcodes;
    ++out.counts[t.code];
    if (in_frame && t.offset >= frame_end) in_frame = false;
    if (in_frame && t.end > frame_end)
      anomaly(finding_kind::frame, severity::flagged, t.offset,
              opname(t.code) + " straddles the end of the frame at " + std::to_string(base + frame_end) +
                  " (CPython's C unpickler before gh-154848 reads past it from a file)");
    switch (t.code) {
      case op::FRAME:
        ++out.frames;
        if (in_frame)
          anomaly(finding_kind::frame, severity::flagged, t.offset,
                  "FRAME inside the frame that ends at " + std::to_string(base + frame_end));
        if (t.number <= bytes.size() - t.end) {
          frame_end = t.end + t.number;
          in_frame = true;
        }
        break;
      case op::PUT: case op::BINPUT: case op::LONG_BINPUT: case op::MEMOIZE: ++out.puts; break;
      case op::GET: case op::BINGET: case op::LONG_BINGET: ++out.gets; break;
      case op::NEXT_BUFFER: ++out.next_buffers; break;
      default: break;
    }
    emu.step(t);
    if (t.code == op::STOP) {
      out.saw_stop = true;
      out.stop = t.offset;
      // CPython writes STOP as the last byte of the last frame. Bytes of the frame after it are
      // where loaders part ways: load() from a buffered file (peek) starts the next pickle right
      // after STOP, from an unbuffered file or a BytesIO at the frame's end (the frame was read
      // whole). The scan goes on after STOP, so both readings are scanned.
      if (in_frame && frame_end > t.end)
        anomaly(finding_kind::frame, severity::flagged, t.offset,
                "STOP inside the frame that ends at " + std::to_string(base + frame_end) + ": " +
                    std::to_string(frame_end - t.end) + " bytes of the frame follow the pickle (load() " +
                    "again reads them as the next pickle from a buffered file, skips them from an " +
                    "unbuffered one or a BytesIO)");
      break;
    }
  }
  // The failing opcode itself: what STACK_GLOBAL found on the stack.
  if (failed && c.pos() == limit) {
    c.seek(limit);
    if (c.next(t) == token_status::ok && t.code == op::STACK_GLOBAL)
      out.failing_stack_global = emu.operands(out.failing_module, out.failing_name);
  }
  out.memo_entries = emu.memo_entries();
}

// ---------------------------------------------------------------------------------------------
// The scan of one input.

// Checked callables: the argument positions that must be allowlisted globals.
struct checked_callable {
  std::string_view module, name;
  std::size_t class_args;  // args[0 .. class_args-1]
};
constexpr checked_callable checked_callables[] = {
    {"copyreg", "_reconstructor", 2},
    {"numpy.core.multiarray", "_reconstruct", 1},
    {"numpy._core.multiarray", "_reconstruct", 1},
    {"array", "_array_reconstructor", 1},
};

std::string_view call_kind_name(call_kind k) noexcept {
  switch (k) {
    case call_kind::reduce: return "REDUCE";
    case call_kind::newobj: return "NEWOBJ";
    case call_kind::newobj_ex: return "NEWOBJ_EX";
    case call_kind::inst: return "INST";
    case call_kind::obj: return "OBJ";
  }
  return "?";
}

std::string_view source_opcode(global_source s) noexcept {
  switch (s) {
    case global_source::global_op: return "GLOBAL";
    case global_source::stack_global: return "STACK_GLOBAL";
    case global_source::inst: return "INST";
  }
  return "?";
}

std::string dotted(std::string_view module, std::string_view name) {
  std::string s(module);
  s += '.';
  s += name;
  return s;
}

class scanner {
 public:
  scanner(std::span<const std::byte> input, const scan_options& options, std::size_t depth = 0)
      : in_(input), opt_(options), allow_(options.allow ? *options.allow : allowlist::defaults()), depth_(depth) {
    rep_.input_size = input.size();
  }

  scan_report run() {
    detect_container();
    std::uint64_t pos = 0;
    while (pos < in_.size()) {
      if (rep_.pickles.size() >= opt_.max_pickles) {
        add({finding_kind::limit, severity::flagged, pos, rep_.pickles.size(),
             "more than " + std::to_string(opt_.max_pickles) + " pickles in one input; the rest is not scanned"});
        rep_.stopped_at = pos;
        break;
      }
      std::uint64_t next = 0;
      if (!scan_one(pos, next)) break;
      pos = next;
      rep_.stopped_at = pos;
    }
    if (in_.empty()) scan_one(0, pos);  // reports empty input as CPython does (EOFError)
    std::sort(rep_.globals.begin(), rep_.globals.end(),
              [](const global_ref& a, const global_ref& b) { return a.first_offset < b.first_offset; });
    std::sort(rep_.calls.begin(), rep_.calls.end(),
              [](const call_ref& a, const call_ref& b) { return a.first_offset < b.first_offset; });
    if (rep_.findings_dropped > 0) {
      // Every dropped finding still counted towards the verdict; only the list is cut short.
      rep_.findings.push_back({finding_kind::limit, severity::info, rep_.stopped_at, rep_.pickles.empty() ? 0 : rep_.pickles.size() - 1,
                               std::to_string(rep_.findings_dropped) + " more findings counted but not listed (max_findings)"});
    }
    return std::move(rep_);
  }

 private:
  void add(finding f) {
    rep_.result = std::max(rep_.result, static_cast<verdict>(f.level));
    if (rep_.findings.size() >= opt_.max_findings) {
      ++rep_.findings_dropped;
      return;
    }
    rep_.findings.push_back(std::move(f));
  }

  void detect_container() {
    struct magic {
      std::string_view bytes;
      std::uint64_t at;
      const char* what;
    };
    static constexpr magic magics[] = {
        {std::string_view("PK\x03\x04", 4), 0, "a ZIP archive (PyTorch checkpoints, .npz, .keras are ZIP): scan its .pkl members"},
        {std::string_view("PK\x05\x06", 4), 0, "an empty ZIP archive"},
        {std::string_view("7z\xbc\xaf\x27\x1c", 6), 0, "a 7z archive"},
        {std::string_view("\x1f\x8b", 2), 0, "a gzip stream (joblib and others compress pickles)"},
        {std::string_view("BZh", 3), 0, "a bzip2 stream"},
        {std::string_view("\xfd" "7zXZ\x00", 6), 0, "an xz stream"},
        {std::string_view("\x28\xb5\x2f\xfd", 4), 0, "a zstd frame"},
        {std::string_view("\x93NUMPY", 6), 0, "a NumPy .npy file (object arrays hold a pickle after the header)"},
        {std::string_view("\x89" "BRN\r\n\x1a\n", 8), 0, "a brine container: scan its pickle section"},
        {std::string_view("ustar", 5), 257, "a tar archive"},
    };
    const std::string_view s(reinterpret_cast<const char*>(in_.data()), in_.size());
    for (const auto& m : magics) {
      if (s.size() >= m.at + m.bytes.size() && s.substr(static_cast<std::size_t>(m.at), m.bytes.size()) == m.bytes) {
        add({finding_kind::container, severity::flagged, 0, 0,
             std::string("the input is ") + m.what + "; its contents are not scanned as such"});
        return;
      }
    }
  }

  // Scans the pickle at `start`; false when scanning must stop (a decode error).
  bool scan_one(std::uint64_t start, std::uint64_t& next) {
    const auto bytes = in_.subspan(static_cast<std::size_t>(start));
    const std::size_t index = rep_.pickles.size();
    pickle_info info;
    info.start = start;

    decode_options dopt = opt_.decode;
    if (!dopt.buffers_given) {
      // Placeholders so that NEXT_BUFFER decodes (the scanner has no buffers to give).
      const std::uint64_t n = !bytes.empty() && std::memchr(bytes.data(), 0x97, bytes.size()) ? count_next_buffers(bytes) : 0;
      dopt.buffers.assign(static_cast<std::size_t>(n), oob_buffer{{}, false});
      dopt.buffers_given = true;
    }
    partial_decode pd = decode_partial(bytes, dopt);
    const document& doc = pd.doc;
    info.protocol = doc.protocol();
    info.nodes = doc.node_count();
    const bool failed = pd.error.has_value();
    const std::uint64_t end_rel = failed ? pd.error->offset : doc.stop_offset();

    pass_result pass;
    tokenize(bytes, start, end_rel, failed, dopt.limits, pass);
    info.opcode_counts = pass.counts;
    info.opcodes = pass.opcodes;
    info.frames = pass.frames;
    info.memo_puts = pass.puts;
    info.memo_gets = pass.gets;
    info.memo_entries = pass.memo_entries;
    info.end = start + (failed ? end_rel : doc.end_offset());
    if (failed) {
      info.error = *pd.error;
      info.error->offset += start;
    }

    std::vector<finding> found = std::move(pass.findings);
    auto note = [&](finding_kind k, severity s, std::uint64_t rel, std::string msg) {
      found.push_back({k, s, rel, index, std::move(msg)});
    };
    if (!failed && (!pass.saw_stop || pass.stop != doc.stop_offset()))
      note(finding_kind::inconsistency, severity::flagged, doc.stop_offset(),
           "the scanner's tokenizer and the decoder disagree on where STOP is");
    if (index > 0 && !failed)
      note(finding_kind::concatenated, severity::info, 0,
           "another pickle follows STOP; a loader calling load() again runs it");

    inspect_nodes(doc, start, failed, pass, note);
    for (const auto& w : doc.warnings()) warning(w, note);

    if (failed) {
      const auto& e = *pd.error;
      const bool first = index == 0;
      severity level = severity::malformed;
      if (e.code == errc::frame_violation || e.code == errc::limit_exceeded || e.code == errc::reentry) level = severity::flagged;
      else if (!first) level = severity::info;  // the first pickle loaded; trailing_data says the rest
      std::string msg = "decoding stops here: " + std::string(errc_name(e.code)) + ": " + e.message;
      if (e.code == errc::limit_exceeded) msg += " (" + std::string(limit_name(static_cast<limit>(e.detail))) + ")";
      note(e.code == errc::limit_exceeded ? finding_kind::limit : finding_kind::decode_error, level, e.offset, std::move(msg));
      if (!first)
        note(finding_kind::trailing_data, severity::flagged, 0,
             std::to_string(in_.size() - start) + " bytes after the previous pickle do not decode as a pickle");
      if (e.code == errc::type_mismatch && pass.failing_stack_global) {
        for (const auto* o : {&pass.failing_module, &pass.failing_name}) {
          if (o->source != operand_source::computed) continue;
          // A value known only at run time (a call's result, a global, a persistent id) is how a
          // scanner that reads operands backwards is evaded: flagged. Other data is malformed.
          const bool run_time = made_at_run_time(o->producer_opcode);
          note(finding_kind::stack_global_operand, run_time ? severity::flagged : severity::malformed, e.offset,
               std::string(o == &pass.failing_module ? "module" : "name") + " operand of STACK_GLOBAL is not a str: " +
                   (run_time ? "computed at run time by " : "made by ") + opname(o->producer_opcode) + " at " +
                   std::to_string(o->producer_offset + start));
        }
      }
    }

    for (auto& f : found) {
      f.offset += start;
      f.pickle = index;
    }
    std::stable_sort(found.begin(), found.end(), [](const finding& a, const finding& b) { return a.offset < b.offset; });
    for (auto& f : found) add(std::move(f));

    if (opt_.on_document) opt_.on_document(doc, info);
    rep_.pickles.push_back(std::move(info));
    if (failed) {
      rep_.stopped_at = start + end_rel;
      return false;
    }
    next = start + doc.end_offset();
    return true;
  }

  template <class Note>
  void warning(const decode_warning& w, Note& note) {
    switch (w.code) {
      case warning_code::leftover_stack:
        note(finding_kind::leftover, severity::info, w.offset, "STOP leaves more than one item on the stack (CPython ignores them)");
        break;
      case warning_code::leftover_marks:
        note(finding_kind::leftover, severity::info, w.offset, "STOP leaves open MARKs (CPython ignores them)");
        break;
      case warning_code::trailing_data: break;  // scanning goes on after STOP
      case warning_code::late_proto:
        note(finding_kind::protocol, severity::flagged, w.offset,
             "PROTO after the first opcode: it changes fix_imports and dotted-name rules mid-stream");
        break;
      case warning_code::repeated_proto:
        note(finding_kind::protocol, severity::flagged, w.offset,
             "a second PROTO: it changes fix_imports and dotted-name rules mid-stream");
        break;
      case warning_code::opcode_above_proto:
        note(finding_kind::protocol, severity::info, w.offset, "an opcode newer than the declared protocol");
        break;
      case warning_code::empty_batch_non_container:
        note(finding_kind::differential, severity::flagged, w.offset,
             "empty APPENDS/ADDITEMS on a non-container: the C unpickler ignores it, the Python one fails");
        break;
      case warning_code::duplicate_memo_put:
        note(finding_kind::memo, severity::info, w.offset, "memo index stored twice; the later value wins");
        break;
    }
  }

  bool allowed_global(const value& g) const { return allow_.allows(g.mapped_module(), g.mapped_name()); }

  std::string describe_origin(const operand_origin& o, std::uint64_t start) const {
    std::string s(operand_source_name(o.source));
    s += " (";
    s += opname(o.producer_opcode);
    s += " at " + std::to_string(o.producer_offset + start);
    if (o.source == operand_source::memo) s += ", fetched by a GET at " + std::to_string(o.via_offset + start);
    if (o.source == operand_source::dup) s += ", copied by DUP at " + std::to_string(o.via_offset + start);
    s += ")";
    return s;
  }

  // The literal payload of a BINUNICODE-family producer, to cross-check the decoded name.
  bool literal_payload(std::span<const std::byte> bytes, std::uint64_t at, std::string_view& out) const {
    opcode_cursor c(bytes);
    c.seek(at);
    token t;
    if (c.next(t) != token_status::ok) return false;
    if (t.code != op::SHORT_BINUNICODE && t.code != op::BINUNICODE && t.code != op::BINUNICODE8) return false;
    out = t.payload;
    return true;
  }

  template <class Note>
  void inspect_nodes(const document& doc, std::uint64_t start, bool failed,
                     const pass_result& pass, Note& note) {
    const auto n = static_cast<std::uint32_t>(doc.node_count());
    std::vector<bool> reachable(n, false);
    if (!failed && doc.root().valid()) mark_reachable(doc, reachable);
    const auto bytes = in_.subspan(static_cast<std::size_t>(start));

    for (std::uint32_t id = 0; id < n; ++id) {
      const value v = doc.node(id);
      const std::uint64_t at = v.offset();
      switch (v.kind()) {
        case kind::global: {
          const bool ok = allowed_global(v);
          const stack_global_site* site = nullptr;
          if (v.source() == global_source::stack_global) {
            const auto it = std::lower_bound(pass.sites.begin(), pass.sites.end(), at,
                                             [](const stack_global_site& s, std::uint64_t o) { return s.offset < o; });
            if (it != pass.sites.end() && it->offset == at) site = &*it;
          }
          record_global(v, start, ok, site, note);
          if (site) {
            // The decoded names must be the literal bytes the tokenizer saw (BINUNICODE family).
            std::string_view lit;
            if (site->module.source != operand_source::computed && literal_payload(bytes, site->module.producer_offset, lit) && lit != v.module())
              note(finding_kind::inconsistency, severity::flagged, at, "STACK_GLOBAL module operand differs from the decoded name");
            if (site->name.source != operand_source::computed && literal_payload(bytes, site->name.producer_offset, lit) && lit != v.name())
              note(finding_kind::inconsistency, severity::flagged, at, "STACK_GLOBAL name operand differs from the decoded name");
          }
          std::string how;
          if (!ok) {
            std::string msg = "global " + dotted(v.mapped_module(), v.mapped_name()) + " (" + std::string(source_opcode(v.source())) + ") is not in the allowlist";
            if (v.mapped_module() != v.module() || v.mapped_name() != v.name())
              msg += "; written as " + printable(dotted(v.module(), v.name()), 200) + ", mapped by fix_imports";
            if (v.mapped_name().find('.') != std::string_view::npos) {
              msg += "; attribute path " + printable(v.mapped_module(), 200);
              for (auto c : split(v.mapped_name())) msg += " -> " + printable(c, 200);
            }
            if (site) msg += "; module operand " + describe_origin(site->module, start) + ", name operand " + describe_origin(site->name, start);
            note(finding_kind::global, severity::flagged, at, std::move(msg));
          }
          for (const auto& o : v.ops())
            note(finding_kind::build_on_global, severity::flagged, at,
                 "BUILD on the global " + dotted(v.mapped_module(), v.mapped_name()) +
                     ": overwrites attributes of a module or class" + (o.kind == op_kind::build ? "" : " (other op)"));
          break;
        }
        case kind::object:
          record_call(v, start, failed, reachable[id], note);
          nested(v, start, note);
          break;
        case kind::persistent_id: {
          const value pid = v.pid();
          std::string what = pid.kind() == kind::str ? "'" + printable(pid.as_str()) + "'" : std::string(kind_name(pid.kind()));
          note(finding_kind::persistent_id, opt_.flag_persistent_ids ? severity::flagged : severity::info, at,
               std::string(v.binary_pid() ? "BINPERSID" : "PERSID") + " " + what + ": resolved by the loader's persistent_load");
          break;
        }
        case kind::extension:
          note(finding_kind::extension_code, severity::flagged, at,
               "extension code " + std::to_string(v.ext_code()) + ": copyreg's registry names a global the scanner cannot see");
          break;
        case kind::buffer:
          note(finding_kind::buffer, severity::info, at,
               "out-of-band buffer #" + std::to_string(v.buffer_index()) + (v.readonly() ? " (read-only)" : ""));
          break;
        default: break;
      }
    }
  }

  static std::vector<std::string_view> split(std::string_view q) {
    std::vector<std::string_view> out;
    for (std::size_t at = 0; at <= q.size();) {
      const std::size_t dot = std::min(q.find('.', at), q.size());
      out.push_back(q.substr(at, dot - at));
      at = dot + 1;
    }
    return out;
  }

  template <class Note>
  void record_global(const value& v, std::uint64_t start, bool ok, const stack_global_site* site, Note& note) {
    std::string key;
    for (std::string_view part : {v.module(), v.name(), v.mapped_module(), v.mapped_name()}) {
      key += std::to_string(part.size());
      key += ':';
      key += part;
    }
    key += static_cast<char>('0' + static_cast<int>(v.source()));
    auto it = global_index_.find(key);
    if (it == global_index_.end()) {
      if (rep_.globals.size() >= opt_.max_distinct_names) {
        if (!names_limit_hit_) {
          names_limit_hit_ = true;
          note(finding_kind::limit, severity::flagged, v.offset(), "more than " + std::to_string(opt_.max_distinct_names) + " distinct globals; later ones are not listed");
        }
        return;
      }
      global_ref g;
      g.module = v.module();
      g.name = v.name();
      g.mapped_module = v.mapped_module();
      g.mapped_name = v.mapped_name();
      g.source = v.source();
      g.allowed = ok;
      g.first_offset = v.offset() + start;
      rep_.globals.push_back(std::move(g));
      it = global_index_.emplace(std::move(key), rep_.globals.size() - 1).first;
    }
    global_ref& g = rep_.globals[it->second];
    ++g.count;
    if (site) {
      ++g.module_operands[static_cast<std::size_t>(site->module.source)];
      ++g.name_operands[static_cast<std::size_t>(site->name.source)];
    }
  }

  template <class Note>
  void record_call(const value& v, std::uint64_t start, bool failed, bool reachable, Note& note) {
    const value callable = v.callable();
    std::string name;
    bool ok = false;
    std::string why;
    switch (callable.kind()) {
      case kind::global: {
        name = dotted(callable.mapped_module(), callable.mapped_name());
        ok = allowed_global(callable);
        if (ok) why = check_arguments(callable, v);
        break;
      }
      case kind::object:
        name = "<result of " + std::string(call_kind_name(callable.how())) + " at " + std::to_string(callable.offset() + start) + ">";
        break;
      case kind::persistent_id: name = "<persistent id at " + std::to_string(callable.offset() + start) + ">"; break;
      case kind::extension: name = "<extension " + std::to_string(callable.ext_code()) + ">"; break;
      default: name = "<" + std::string(kind_name(callable.kind())) + " at " + std::to_string(callable.offset() + start) + ">"; break;
    }
    const std::string key = name + '\0' + static_cast<char>('0' + static_cast<int>(v.how()));
    auto it = call_index_.find(key);
    if (it == call_index_.end()) {
      if (rep_.calls.size() >= opt_.max_distinct_names) {
        if (!calls_limit_hit_) {
          calls_limit_hit_ = true;
          note(finding_kind::limit, severity::flagged, v.offset(), "more than " + std::to_string(opt_.max_distinct_names) + " distinct callables; later ones are not listed");
        }
      } else {
        call_ref c;
        c.callable = name;
        c.how = v.how();
        c.allowed = ok && why.empty();
        c.first_offset = v.offset() + start;
        rep_.calls.push_back(std::move(c));
        it = call_index_.emplace(key, rep_.calls.size() - 1).first;
      }
    }
    if (it != call_index_.end()) {
      call_ref& c = rep_.calls[it->second];
      ++c.count;
      if (!reachable) ++c.discarded;
      c.allowed = c.allowed && ok && why.empty();
    }
    const std::string where = failed ? ", before the decode error" : reachable ? "" : ", result discarded (POPped or left on the stack)";
    if (!ok)
      note(finding_kind::call, severity::flagged, v.offset(),
           "call of " + printable(name, 200) + " (" + std::string(call_kind_name(v.how())) + ")" + where);
    else if (!why.empty())
      note(finding_kind::call_arguments, severity::flagged, v.offset(),
           "call of " + name + " (" + std::string(call_kind_name(v.how())) + ") " + why + where);
  }

  // Loaders called with a pickle as argument (HARDENING.md §6.8): the payload runs when the call
  // does, so it is scanned too. loads-style callables take the bytes, load-style ones a file,
  // which a pickle can only make as io.BytesIO(bytes).
  template <class Note>
  void nested(const value& call, std::uint64_t start, Note& note) {
    const value callable = call.callable();
    if (callable.kind() != kind::global || depth_ >= opt_.max_nested_depth) return;
    static constexpr std::string_view loads[][2] = {
        {"pickle", "loads"}, {"pickle", "_loads"}, {"_pickle", "loads"}, {"dill", "loads"}, {"dill._dill", "loads"},
        {"cloudpickle", "loads"}, {"numpy", "loads"}, {"numpy.core.numeric", "loads"}};
    static constexpr std::string_view load[][2] = {
        {"pickle", "load"}, {"pickle", "_load"}, {"_pickle", "load"}, {"dill", "load"}, {"dill._dill", "load"},
        {"cloudpickle", "load"}, {"joblib", "load"}, {"torch", "load"}, {"numpy", "load"}, {"pandas", "read_pickle"}};
    auto is = [&](const auto& table, const value& g) {
      for (const auto& e : table)
        if (g.mapped_module() == e[0] && g.mapped_name() == e[1]) return true;
      return false;
    };
    const bool bytes_arg = is(loads, callable);
    if (!bytes_arg && !is(load, callable)) return;
    const value args = call.args();
    if (!args.valid() || args.kind() != kind::tuple || args.size() == 0) return;
    value payload = args[0];
    if (!bytes_arg) {  // io.BytesIO(bytes)
      if (payload.kind() != kind::object || payload.callable().kind() != kind::global) return;
      const value f = payload.callable();
      if (!((f.mapped_module() == "io" || f.mapped_module() == "_io") && f.mapped_name() == "BytesIO")) return;
      const value a = payload.args();
      if (!a.valid() || a.kind() != kind::tuple || a.size() == 0) return;
      payload = a[0];
    }
    if (payload.kind() != kind::bytes && payload.kind() != kind::bytearray) return;
    // Each payload once, and no more nested bytes in all than the input holds: a memoized
    // payload passed to a million calls is scanned once.
    if (!nested_seen_.insert(payload.offset() + start).second) return;
    const auto data = payload.as_bytes();
    nested_bytes_ += data.size();
    if (nested_bytes_ > in_.size()) return;
    const std::string where = "in the pickle passed to " + dotted(callable.mapped_module(), callable.mapped_name()) +
                              " (bytes at " + std::to_string(payload.offset() + start) + "): ";
    scan_options inner_options = opt_;
    inner_options.on_document = nullptr;  // the caller's hook sees the input's own pickles only
    scan_report inner = scanner(data, inner_options, depth_ + 1).run();
    for (auto& f : inner.findings) {
      f.message = where + f.message + " (offset " + std::to_string(f.offset) + " inside)";
      note(f.kind, f.level, call.offset(), std::move(f.message));
    }
  }

  // For the checked callables: the class arguments must be allowlisted globals.
  std::string check_arguments(const value& callable, const value& call) const {
    for (const auto& c : checked_callables) {
      if (callable.mapped_module() != c.module || callable.mapped_name() != c.name) continue;
      const value args = call.args();
      if (!args.valid() || args.kind() != kind::tuple || args.size() < c.class_args)
        return "with fewer than " + std::to_string(c.class_args) + " arguments";
      for (std::size_t i = 0; i < c.class_args; ++i) {
        const value a = args[i];
        if (a.kind() != kind::global)
          return "whose argument " + std::to_string(i + 1) + " is a " + std::string(kind_name(a.kind())) + ", not an allowlisted class";
        if (!allowed_global(a))
          return "whose argument " + std::to_string(i + 1) + " is " + dotted(a.mapped_module(), a.mapped_name()) + ", not in the allowlist";
      }
    }
    return {};
  }

  static void mark_reachable(const document& doc, std::vector<bool>& seen) {
    std::vector<std::uint32_t> todo{doc.root().id()};
    auto visit = [&](value x) {
      if (x.valid() && !seen[x.id()]) todo.push_back(x.id());
    };
    while (!todo.empty()) {
      const std::uint32_t id = todo.back();
      todo.pop_back();
      if (seen[id]) continue;
      seen[id] = true;
      const value v = doc.node(id);
      switch (v.kind()) {
        case kind::tuple: case kind::list: case kind::set: case kind::frozenset:
          for (const auto c : v.items().ids()) if (!seen[c]) todo.push_back(c);
          break;
        case kind::dict:
          for (const auto c : v.pairs().ids()) if (!seen[c]) todo.push_back(c);
          break;
        case kind::object:
          visit(v.callable());
          visit(v.args());
          visit(v.kwargs());
          [[fallthrough]];
        case kind::global:
          for (const auto& o : v.ops())
            for (const auto c : o.values.ids()) if (!seen[c]) todo.push_back(c);
          break;
        case kind::persistent_id: visit(v.pid()); break;
        default: break;
      }
    }
  }

  std::span<const std::byte> in_;
  const scan_options& opt_;
  const allowlist& allow_;
  scan_report rep_;
  std::map<std::string, std::size_t> global_index_;  // ordered: no hash flooding on names
  std::map<std::string, std::size_t> call_index_;
  bool names_limit_hit_ = false, calls_limit_hit_ = false;
  std::size_t depth_;
  std::set<std::uint64_t> nested_seen_;
  std::uint64_t nested_bytes_ = 0;
};

}  // namespace

scan_report scan(std::span<const std::byte> input, const scan_options& options) {
  return scanner(input, options).run();
}

scan_report scan(std::string_view input, const scan_options& options) {
  return scan(std::as_bytes(std::span<const char>(input.data(), input.size())), options);
}

}  // namespace brine
