// Tests for brine/scan.hpp: the allowlist, every row of HARDENING.md §7 that concerns scanning
// (each malicious construction flagged, with its finding at the right offset), and the corpus:
// every CPython-written pickle whose globals are all allowlisted scans clean, every other one is
// flagged.
#include "brine/scan.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace std::string_literals;
using brine::finding_kind;
using brine::severity;
using brine::verdict;

namespace {

constexpr std::uint64_t any_offset = ~std::uint64_t{0};

brine::scan_report run(const std::string& bytes, const brine::scan_options& o = {}) {
  return brine::scan(std::string_view(bytes), o);
}

std::string dump(const brine::scan_report& r) {
  std::string s = std::string(brine::verdict_name(r.result)) + "\n";
  for (const auto& f : r.findings)
    s += "  " + std::string(brine::severity_name(f.level)) + " @" + std::to_string(f.offset) + " " +
         std::string(brine::finding_kind_name(f.kind)) + ": " + f.message + "\n";
  return s;
}

const brine::finding* find(const brine::scan_report& r, finding_kind k, std::uint64_t offset = any_offset) {
  for (const auto& f : r.findings)
    if (f.kind == k && (offset == any_offset || f.offset == offset)) return &f;
  return nullptr;
}

// The finding exists, at that offset, with that severity.
void expect(const brine::scan_report& r, finding_kind k, severity s, std::uint64_t offset = any_offset) {
  CAPTURE(dump(r));
  CAPTURE(brine::finding_kind_name(k));
  CAPTURE(offset);
  const auto* f = find(r, k, offset);
  REQUIRE(f != nullptr);
  CHECK(f->level == s);
}

const brine::global_ref* global(const brine::scan_report& r, std::string_view module, std::string_view name) {
  for (const auto& g : r.globals)
    if (g.mapped_module == module && g.mapped_name == name) return &g;
  return nullptr;
}

const brine::call_ref* call(const brine::scan_report& r, std::string_view callable) {
  for (const auto& c : r.calls)
    if (c.callable == callable) return &c;
  return nullptr;
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// The allowlist

TEST_CASE("allowlist: exact entries, wildcards and dotted names") {
  auto a = brine::allowlist::parse(
      "# comment\n"
      "\n"
      "collections OrderedDict   # trailing comment\n"
      "mymod *\n"
      "pkg.sub Cls.*\n"
      "other A.B\n");
  REQUIRE(a.has_value());
  CHECK(a->size() == 4);
  CHECK(a->allows("collections", "OrderedDict"));
  CHECK_FALSE(a->allows("collections", "OrderedDict.fromkeys"));
  CHECK_FALSE(a->allows("collections", "deque"));
  CHECK(a->allows("mymod", "anything"));
  CHECK_FALSE(a->allows("mymod", "a.b"));  // `*` is one component: tempfile * must not allow _os.system
  CHECK_FALSE(a->allows("mymodx", "anything"));
  CHECK(a->allows("pkg.sub", "Cls.method"));
  CHECK_FALSE(a->allows("pkg.sub", "Cls"));
  CHECK_FALSE(a->allows("pkg.sub", "Cls.a.b"));
  CHECK(a->allows("other", "A.B"));
  CHECK_FALSE(a->allows("other", "A"));
  CHECK_FALSE(a->allows("", ""));
}

TEST_CASE("allowlist: errors name the line") {
  auto e1 = brine::allowlist::parse("builtins set\nonly_one_word\n");
  REQUIRE_FALSE(e1.has_value());
  CHECK(e1.error().code == brine::errc::bad_argument);
  CHECK(e1.error().detail == 2);
  CHECK(e1.error().offset == 13);
  auto e2 = brine::allowlist::parse("a b c\n");
  REQUIRE_FALSE(e2.has_value());
  CHECK(e2.error().detail == 1);
  CHECK_FALSE(brine::allowlist::parse("mod a..b\n").has_value());
  CHECK_FALSE(brine::allowlist::parse("mod *.x\n").has_value());
  CHECK_FALSE(brine::allowlist::parse("mod. x\n").has_value());
  CHECK_FALSE(brine::allowlist::parse("* x\n").has_value());
}

TEST_CASE("default allowlist: tools/allowlist.txt is the same text") {
  const std::string file = read_file(std::filesystem::path(BRINE_SOURCE_DIR) / "tools" / "allowlist.txt");
  CHECK(file == brine::default_allowlist_text());
  const auto& d = brine::allowlist::defaults();
  for (auto [m, n] : {std::pair{"builtins", "set"}, {"collections", "OrderedDict"}, {"datetime", "datetime"},
                      {"numpy.core.multiarray", "_reconstruct"}, {"numpy._core.numeric", "_frombuffer"},
                      {"copyreg", "_reconstructor"}, {"decimal", "Decimal"}, {"uuid", "UUID"}})
    CHECK(d.allows(m, n));
  for (auto [m, n] : {std::pair{"builtins", "eval"}, {"builtins", "getattr"}, {"os", "system"}, {"functools", "partial"},
                      {"builtins", "__import__"}, {"subprocess", "getoutput"}, {"pickle", "loads"}, {"builtins", "type"},
                      {"collections", "namedtuple"}, {"__main__", "Point"}})
    CHECK_FALSE(d.allows(m, n));
}

// ------------------------------------------------------------------------------------------------
// HARDENING.md §7, the rows that concern scanning

TEST_CASE("clean data is clean; globals and calls are listed") {
  // [OrderedDict(a=1)] at protocol 4, as CPython writes it.
  const auto r = run("\x80\x04\x95\x2c\x00\x00\x00\x00\x00\x00\x00]\x94\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94\x8c\x01"
                     "a\x94K\x01sa."s);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::clean);
  const auto* g = global(r, "collections", "OrderedDict");
  REQUIRE(g != nullptr);
  CHECK(g->allowed);
  CHECK(g->source == brine::global_source::stack_global);
  CHECK(g->module_operands[static_cast<std::size_t>(brine::operand_source::literal)] == 1);
  const auto* c = call(r, "collections.OrderedDict");
  REQUIRE(c != nullptr);
  CHECK(c->allowed);
  CHECK(c->count == 1);
  CHECK(c->discarded == 0);
  CHECK(r.pickles.size() == 1);
  CHECK(r.pickles[0].frames == 1);
  CHECK(r.stopped_at == r.input_size);
}

TEST_CASE("row 2: no STOP is malformed, findings before it kept") {
  const auto r = run("\x80\x04K\x01"s);
  CHECK(r.result == verdict::malformed);
  expect(r, finding_kind::decode_error, severity::malformed, 4);
  CHECK(r.stopped_at == 4);
  const auto r2 = run(""s);
  CHECK(r2.result == verdict::malformed);
  expect(r2, finding_kind::decode_error, severity::malformed, 0);
}

TEST_CASE("row 6: late and repeated PROTO are flagged") {
  expect(run("N0\x80\x04N."s), finding_kind::protocol, severity::flagged, 2);
  expect(run("\x80\x02\x80\x05N."s), finding_kind::protocol, severity::flagged, 2);
  CHECK(run("N0\x80\x04N."s).result == verdict::flagged);
}

TEST_CASE("row 7: scanning goes on after STOP") {
  // Concatenated pickles: each is scanned; a benign stream stays clean.
  const auto two = run("K\x01.K\x02."s);
  CAPTURE(dump(two));
  CHECK(two.result == verdict::clean);
  REQUIRE(two.pickles.size() == 2);
  CHECK(two.pickles[1].start == 3);
  CHECK(two.pickles[1].end == 6);
  expect(two, finding_kind::concatenated, severity::info, 3);
  // A call hidden in the second pickle is found.
  const auto hidden = run("K\x01.cos\nsystem\n(Vid\ntR."s);
  expect(hidden, finding_kind::global, severity::flagged, 3);
  expect(hidden, finding_kind::call, severity::flagged, 20);
  CHECK(hidden.pickles.size() == 2);
  // Bytes that are not a pickle: trailing data, flagged; where scanning stopped.
  const auto garbage = run("K\x01.GARBAGE"s);
  CHECK(garbage.result == verdict::flagged);
  expect(garbage, finding_kind::trailing_data, severity::flagged, 3);
  CHECK(garbage.stopped_at == 3);
  CHECK(find(garbage, finding_kind::decode_error)->level == severity::info);
}

TEST_CASE("a frame going on after STOP is flagged, and its tail scanned") {
  // CPython writes STOP as its last frame's last byte. Here the frame holds a second pickle after
  // STOP: CPython 3.11's load() in a loop gives [1, 2, 3] from a buffered file and [1, 3] from a
  // BytesIO or an unbuffered file, so the scan cannot be clean (fuzz_scan found it: the tail
  // cannot decode on its own, cut from its frame).
  const std::string data = "\x80\x04\x95"s + le64(8) + "K\x01.\x80\x04K\x02.\x80\x04K\x03."s;
  const auto r = run(data);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::flagged);
  expect(r, finding_kind::frame, severity::flagged, 13);
  CHECK(find(r, finding_kind::frame, 13)->message ==
        "STOP inside the frame that ends at 19: 5 bytes of the frame follow the pickle (load() again reads them as "
        "the next pickle from a buffered file, skips them from an unbuffered one or a BytesIO)");
  REQUIRE(r.pickles.size() == 3);
  CHECK(r.pickles[1].start == 14);
  CHECK(r.pickles[2].start == 19);
  CHECK(r.stopped_at == data.size());
  // The same frame ending at STOP, then the same two pickles after it: clean.
  const auto plain = run("\x80\x04\x95"s + le64(3) + "K\x01.\x80\x04K\x02.\x80\x04K\x03."s);
  CAPTURE(dump(plain));
  CHECK(plain.result == verdict::clean);
  CHECK(plain.pickles.size() == 3);
  // Offsets in the messages of a later pickle are offsets in the input.
  const auto later = run("K\x01.\x80\x05\x95"s + le64(2) + "J\x07\x00\x00\x00."s, [] {
    brine::scan_options lax;
    lax.decode.strict_frames = false;
    return lax;
  }());
  CAPTURE(dump(later));
  REQUIRE(find(later, finding_kind::frame, 14) != nullptr);
  CHECK(find(later, finding_kind::frame, 14)->message.starts_with("BININT straddles the end of the frame at 16 "));
}

TEST_CASE("row 8 and 29: leftovers and memo redefinitions are info") {
  const auto r = run("K\x01K\x02."s);
  CHECK(r.result == verdict::clean);
  expect(r, finding_kind::leftover, severity::info);
  const auto m = run("K\x01q\x00K\x02q\x00h\x00."s);
  CHECK(m.result == verdict::clean);
  expect(m, finding_kind::memo, severity::info);
}

TEST_CASE("rows 31-33: frame anomalies are flagged") {
  // Opcode straddles the frame end (decoded by CPython's C unpickler before gh-154848).
  const std::string straddle = "\x80\x05\x95"s + le64(2) + "J\x07\x00\x00\x00."s;
  const auto r = run(straddle);
  CHECK(r.result == verdict::flagged);
  expect(r, finding_kind::decode_error, severity::flagged, 11);
  // decode_options::strict_frames = false (a differential-testing switch) cannot make it pass:
  // the scanner's tokenizer checks frames on its own as well.
  brine::scan_options lax;
  lax.decode.strict_frames = false;
  const auto r2 = run(straddle, lax);
  CAPTURE(dump(r2));
  CHECK(r2.result == verdict::flagged);
  CHECK((find(r2, finding_kind::frame, 11) != nullptr || find(r2, finding_kind::decode_error, 11) != nullptr));
  // A frame inside a frame.
  const std::string nested = "\x80\x05\x95"s + le64(11) + "N\x95"s + le64(2) + "N."s;
  expect(run(nested), finding_kind::decode_error, severity::flagged, 12);
  CHECK(run(nested, lax).result == verdict::flagged);
  // gh-154848's proof of concept: a hidden REDUCE behind a lying frame.
  const std::string hidden = "cbuiltins\nstr\nVHIDDEN-CALL\n\x85R"s;
  std::string tail = hidden + "(";
  tail.resize(261, 'N');
  const std::string poc = "\x80\x05NV"s + std::string(131072 - 17, 'a') + "\n0(\x95"s + le64(2) + "B\x07\x01\x00\x00\x00\x00"s + tail + "1."s;
  const auto p = run(poc);
  CAPTURE(dump(p));
  CHECK(p.result == verdict::flagged);
  CHECK(find(p, finding_kind::decode_error) != nullptr);
}

TEST_CASE("row 40: STACK_GLOBAL operands that are not strings") {
  // Plain data operands: CPython fails, nothing runs: malformed.
  const auto ints = run("\x80\x04K\x01K\x02\x93."s);
  CAPTURE(dump(ints));
  CHECK(ints.result == verdict::malformed);
  expect(ints, finding_kind::stack_global_operand, severity::malformed, 6);
  // An operand computed at run time: builtins.str('os') is the str 'os' in CPython, which then
  // imports os.system. brine cannot know the value: flagged, naming the REDUCE that made it.
  const auto computed = run("\x80\x04" "cbuiltins\nstr\n(Vos\ntR\x8c\x06system\x93."s);
  CAPTURE(dump(computed));
  CHECK(computed.result == verdict::flagged);
  expect(computed, finding_kind::stack_global_operand, severity::flagged, 31);
  CHECK(find(computed, finding_kind::stack_global_operand)->message.find("REDUCE at 22") != std::string::npos);
  expect(computed, finding_kind::decode_error, severity::malformed, 31);
}

TEST_CASE("row 41: STACK_GLOBAL from Python 2 strings") {
  const auto ok = run("U\x08" "builtinsU\x03str\x93."s);
  CAPTURE(dump(ok));
  CHECK(ok.result == verdict::clean);
  const auto* g = global(ok, "builtins", "str");
  REQUIRE(g != nullptr);
  CHECK(g->name_operands[static_cast<std::size_t>(brine::operand_source::literal)] == 1);
  const auto bad = run("S'os'\nS'system'\n\x93S'ls'\n\x85R."s);
  expect(bad, finding_kind::global, severity::flagged, 16);
  expect(bad, finding_kind::call, severity::flagged, 24);
}

TEST_CASE("row 42: STACK_GLOBAL operands from the memo") {
  const auto r = run("Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vid\ntR."s);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::flagged);
  expect(r, finding_kind::global, severity::flagged, 54);
  expect(r, finding_kind::call, severity::flagged, 61);
  const auto* g = global(r, "os", "system");
  REQUIRE(g != nullptr);
  CHECK(g->module_operands[static_cast<std::size_t>(brine::operand_source::memo)] == 1);
  CHECK(g->name_operands[static_cast<std::size_t>(brine::operand_source::memo)] == 1);
  const auto& msg = find(r, finding_kind::global)->message;
  CHECK(msg.find("module operand memo (UNICODE at 0, fetched by a GET at 48)") != std::string::npos);
  CHECK(msg.find("name operand memo (UNICODE at 8, fetched by a GET at 51)") != std::string::npos);

  // A memo index written twice: the later value is the one STACK_GLOBAL gets (os, not builtins).
  const auto twice = run("\x80\x04\x8c\x08" "builtinsq\x00\x8c\x02osq\x00h\x00\x8c\x06system\x93."s);
  CAPTURE(dump(twice));
  CHECK(twice.result == verdict::flagged);
  REQUIRE(global(twice, "os", "system") != nullptr);
  CHECK(global(twice, "builtins", "system") == nullptr);
  expect(twice, finding_kind::memo, severity::info);
  // DUP as a source.
  const auto dup = run("\x80\x04\x8c\x08" "builtins2\x93."s);
  CAPTURE(dump(dup));
  const auto* d = global(dup, "builtins", "builtins");
  REQUIRE(d != nullptr);
  CHECK(d->module_operands[static_cast<std::size_t>(brine::operand_source::literal)] == 1);
  CHECK(d->name_operands[static_cast<std::size_t>(brine::operand_source::dup)] == 1);
}

TEST_CASE("row 43: dotted names are attribute paths, checked whole") {
  const auto r = run("\x80\x04" "ctempfile\n_os.system\n."s);
  CHECK(r.result == verdict::flagged);
  const auto* g = global(r, "tempfile", "_os.system");
  REQUIRE(g != nullptr);
  const auto parts = g->components();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0] == "_os");
  CHECK(parts[1] == "system");
  CHECK(find(r, finding_kind::global)->message.find("attribute path tempfile -> _os -> system") != std::string::npos);
  // builtins.str is allowed, builtins.str.__class__.__name__ is not.
  CHECK(run("\x80\x04" "cbuiltins\nstr.__class__.__name__\n."s).result == verdict::flagged);
  CHECK(run("\x80\x04" "cshutil\nos.system\n."s).result == verdict::flagged);
  // Even a module wildcard does not reach through an attribute path.
  brine::scan_options o;
  auto a = std::make_shared<brine::allowlist>();
  a->add("tempfile", "*");
  o.allow = a;
  CHECK(run("\x80\x04" "ctempfile\n_os.system\n."s, o).result == verdict::flagged);
  CHECK(run("\x80\x04" "ctempfile\nmkdtemp\n."s, o).result == verdict::clean);
}

TEST_CASE("row 44: fix_imports renames are what gets checked") {
  const auto r = run("ccommands\ngetoutput\n."s);
  CHECK(r.result == verdict::flagged);
  const auto* g = global(r, "subprocess", "getoutput");
  REQUIRE(g != nullptr);
  CHECK(g->module == "commands");
  CHECK(g->name == "getoutput");
  CHECK(find(r, finding_kind::global)->message.find("written as commands.getoutput, mapped by fix_imports") != std::string::npos);
  REQUIRE(global(run("ccPickle\nloads\n."s), "pickle", "loads") != nullptr);
  REQUIRE(global(run("c__builtin__\neval\n."s), "builtins", "eval") != nullptr);
  // STACK_GLOBAL at protocol 2 is mapped too; at protocol 4 it is not.
  REQUIRE(global(run("\x80\x02\x8c\x0b__builtin__\x8c\x04" "eval\x93."s), "builtins", "eval") != nullptr);
  REQUIRE(global(run("\x80\x04\x8c\x0b__builtin__\x8c\x04" "eval\x93."s), "__builtin__", "eval") != nullptr);
  // A Python 2 name of an allowlisted global is allowed.
  CHECK(run("c__builtin__\nset\n(]tR."s).result == verdict::clean);
  CHECK(run("ccopy_reg\n_reconstructor\n."s).result == verdict::clean);
}

TEST_CASE("row 45: '<locals>' cannot load") {
  const auto r = run("\x80\x04" "cbuiltins\nstr.<locals>.x\n."s);
  CHECK(r.result == verdict::malformed);
  expect(r, finding_kind::decode_error, severity::malformed, 2);
}

TEST_CASE("row 47: INST and OBJ are calls") {
  const auto inst = run("(S'x'\ni__builtin__\nexec\n."s);
  CAPTURE(dump(inst));
  expect(inst, finding_kind::global, severity::flagged, 6);
  expect(inst, finding_kind::call, severity::flagged, 6);
  REQUIRE(call(inst, "builtins.exec") != nullptr);
  CHECK(call(inst, "builtins.exec")->how == brine::call_kind::inst);
  const auto obj = run("(cos\nsystem\nS\"id\"\no."s);
  expect(obj, finding_kind::call, severity::flagged, 18);
  CHECK(call(obj, "os.system")->how == brine::call_kind::obj);
}

TEST_CASE("row 48: a POPped call is recorded") {
  const auto r = run("\x80\x04(\x8c\x07smtplib\x8c\x04SMTP\x93\x8c\t127.0.0.1o0N."s);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::flagged);
  expect(r, finding_kind::call, severity::flagged, 30);
  CHECK(find(r, finding_kind::call, 30)->message.find("result discarded") != std::string::npos);
  const auto* c = call(r, "smtplib.SMTP");
  REQUIRE(c != nullptr);
  CHECK(c->discarded == 1);
  // An allowlisted call POPped is still reported (and still clean).
  const auto ok = run("\x80\x04\x8c\x08" "builtins\x8c\x03set\x93)R0N."s);
  CHECK(ok.result == verdict::clean);
}

TEST_CASE("row 49: REDUCE / NEWOBJ on bad operands is malformed") {
  expect(run("N)R."s), finding_kind::decode_error, severity::malformed, 2);
  expect(run("cbuiltins\nint\n]R."s), finding_kind::decode_error, severity::malformed, 15);
  expect(run("K\x01)\x81."s), finding_kind::decode_error, severity::malformed, 3);
}

TEST_CASE("row 50: extension codes are unresolved globals") {
  const auto r = run("\x80\x02\x82\x01."s);
  CHECK(r.result == verdict::flagged);
  expect(r, finding_kind::extension_code, severity::flagged, 2);
  expect(run("\x82\x00."s), finding_kind::decode_error, severity::malformed, 0);
  // A call of an extension code names it.
  const auto c = run("\x80\x02\x82\x05)\x81."s);
  REQUIRE(call(c, "<extension 5>") != nullptr);
  expect(c, finding_kind::call, severity::flagged, 5);
}

TEST_CASE("row 51: persistent ids are surfaced") {
  const auto r = run("Pabc\n."s);
  CHECK(r.result == verdict::clean);
  expect(r, finding_kind::persistent_id, severity::info, 0);
  brine::scan_options strict;
  strict.flag_persistent_ids = true;
  expect(run("NQ."s, strict), finding_kind::persistent_id, severity::flagged, 1);
  // A call of a persistent id is a call of something unknown.
  expect(run("Pabc\n)R."s), finding_kind::call, severity::flagged, 6);
}

TEST_CASE("row 52: BUILD on a global overwrites module attributes") {
  const auto r = run("\x80\x04\x8c\x05torch\x8c\x06_utils\x93}b."s);
  CAPTURE(dump(r));
  expect(r, finding_kind::build_on_global, severity::flagged, 17);
  // Flagged even when the global itself is allowlisted.
  const auto s = run("\x80\x04\x8c\x08" "builtins\x8c\x03str\x93}\x8c\x01xK\x01sb."s);
  CAPTURE(dump(s));
  CHECK(find(s, finding_kind::global) == nullptr);
  expect(s, finding_kind::build_on_global, severity::flagged);
  CHECK(s.result == verdict::flagged);
}

TEST_CASE("row 57: empty APPENDS on a non-container is a C/Python differential") {
  expect(run("K\x01(e."s), finding_kind::differential, severity::flagged, 3);
}

TEST_CASE("row 58: out-of-band buffers are scanned with placeholders") {
  const auto r = run("\x80\x05\x97\x98."s);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::clean);
  expect(r, finding_kind::buffer, severity::info, 2);
  CHECK(r.pickles[0].error == std::nullopt);
}

TEST_CASE("row 61: billion laughs scans in linear time") {
  std::string laughs = "\x80\x04]\x94" "0"s;
  for (int i = 0; i < 9; ++i) {
    laughs += "(";
    for (int k = 0; k < 10; ++k) laughs += "h"s + static_cast<char>(i);
    laughs += "l\x94" "0"s;
  }
  laughs += "h\x09."s;
  const auto r = run(laughs);
  CHECK(r.result == verdict::clean);
  CHECK(r.pickles[0].memo_gets == 91);
}

TEST_CASE("rows 62-63: limits fail closed") {
  brine::scan_options o;
  o.decode.limits.max_stack = 10;
  const auto r = run(std::string(100, 'N') + ".", o);
  CHECK(r.result == verdict::flagged);
  expect(r, finding_kind::limit, severity::flagged, 10);
  o = {};
  o.max_pickles = 3;
  const auto p = run("K\x01.K\x01.K\x01.K\x01.K\x01."s, o);
  CHECK(p.result == verdict::flagged);
  expect(p, finding_kind::limit, severity::flagged, 9);
  CHECK(p.stopped_at == 9);
  // Listing stops at max_findings; the verdict still counts every finding.
  o = {};
  o.max_findings = 2;
  const auto f = run("(cos\nsystem\ncos\nsystem\ncos\nsystem\nl."s, o);
  CHECK(f.result == verdict::flagged);
  CHECK(f.findings_dropped == 1);
}

TEST_CASE("row 66: a malicious prefix before a broken tail") {
  const auto r = run("cos\nsystem\n(Vid\ntR\xff"s);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::flagged);  // flagged outranks malformed
  expect(r, finding_kind::global, severity::flagged, 0);
  expect(r, finding_kind::call, severity::flagged, 17);
  expect(r, finding_kind::decode_error, severity::malformed, 18);
  REQUIRE(r.pickles.size() == 1);
  REQUIRE(r.pickles[0].error.has_value());
  CHECK(r.pickles[0].error->code == brine::errc::invalid_opcode);
  CHECK(r.stopped_at == 18);
}

TEST_CASE("row 67: containers are detected by content") {
  expect(run("PK\x03\x04\x14\x00\x00\x00"s), finding_kind::container, severity::flagged, 0);
  expect(run("\x1f\x8b\x08\x00"s), finding_kind::container, severity::flagged, 0);
  expect(run("\x93NUMPY\x01\x00"s), finding_kind::container, severity::flagged, 0);
  CHECK(find(run("K\x01."s), finding_kind::container) == nullptr);
}

TEST_CASE("row 68: legacy torch files hold several pickles and raw bytes") {
  const std::string magic = "cbuiltins\neval\n(V0x1950A86A20F9469CFC6C\ntR."s;  // the magic number, computed
  std::string file = magic;
  for (int i = 0; i < 4; ++i) file += "\x80\x02}q\x00."s;
  file += "\x00\x01\x02\x03"s;  // raw storage bytes
  const auto r = run(file);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::flagged);
  CHECK(r.pickles.size() == 6);
  expect(r, finding_kind::call, severity::flagged, 41);
  expect(r, finding_kind::trailing_data, severity::flagged, 67);
  CHECK(r.stopped_at == 67);
}

TEST_CASE("section 6.8: pickles passed to loaders are scanned too") {
  const std::string inner = "cos\nsystem\n(Vecho hi\ntR."s;
  const std::string outer = "\x80\x03" "cpickle\nloads\nC"s + static_cast<char>(inner.size()) + inner + "\x85R."s;
  const auto r = run(outer);
  CAPTURE(dump(r));
  CHECK(r.result == verdict::flagged);
  const auto* f = find(r, finding_kind::call, 43);
  REQUIRE(f != nullptr);
  bool nested_call = false;
  for (const auto& x : r.findings)
    nested_call = nested_call || x.message == "in the pickle passed to pickle.loads (bytes at 16): call of os.system (REDUCE) (offset 22 inside)";
  CHECK(nested_call);
  // pickle.load(io.BytesIO(payload)) as well.
  const std::string file = "\x80\x03" "ctorch\nload\ncio\nBytesIO\nC"s + static_cast<char>(inner.size()) + inner + "\x85R\x85R."s;
  bool found = false;
  for (const auto& x : run(file).findings) found = found || x.message.find("in the pickle passed to torch.load") != std::string::npos;
  CHECK(found);
  // Depth 0 turns it off.
  brine::scan_options o;
  o.max_nested_depth = 0;
  for (const auto& x : run(outer, o).findings) CHECK(x.message.find("in the pickle passed to") == std::string::npos);
}

TEST_CASE("copyreg._reconstructor and numpy's _reconstruct need allowlisted classes") {
  CHECK(run("ccopy_reg\n_reconstructor\n(c__builtin__\nobject\nc__builtin__\nobject\nNtR."s).result == verdict::clean);
  const auto bad = run("ccopy_reg\n_reconstructor\n(cos\nsystem\nc__builtin__\nobject\nNtR."s);
  expect(bad, finding_kind::call_arguments, severity::flagged, 59);
  const auto computed = run("ccopy_reg\n_reconstructor\n(NNNtR."s);
  expect(computed, finding_kind::call_arguments, severity::flagged);
  CHECK(call(computed, "copyreg._reconstructor")->allowed == false);
  CHECK(run("\x80\x02" "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" "C\x01" "b\x87R."s).result == verdict::clean);
  CHECK(run("\x80\x02" "cnumpy.core.multiarray\n_reconstruct\ncos\nsystem\nK\x00\x85" "C\x01" "b\x87R."s).result == verdict::flagged);
}

TEST_CASE("a user allowlist extends or replaces the default") {
  brine::scan_options o;
  auto a = std::make_shared<brine::allowlist>(*brine::allowlist::parse("__main__ Point\n"));
  o.allow = a;
  CHECK(run("c__main__\nPoint\n)R."s, o).result == verdict::clean);
  CHECK(run("cbuiltins\nset\n)R."s, o).result == verdict::flagged);  // replaced: builtins.set is gone
  a->merge(brine::allowlist::defaults());
  CHECK(run("cbuiltins\nset\n)R."s, o).result == verdict::clean);
}

TEST_CASE("on_document sees every pickle, partial ones included") {
  brine::scan_options o;
  std::vector<std::pair<std::uint64_t, std::size_t>> seen;
  o.on_document = [&](const brine::document& doc, const brine::pickle_info& info) {
    seen.emplace_back(info.start, doc.node_count());
  };
  run("K\x01.cos\nsystem\n\xff"s, o);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == std::pair<std::uint64_t, std::size_t>{0, 1});
  CHECK(seen[1].first == 3);
  CHECK(seen[1].second == 3);  // module, name, global: kept although the pickle fails
}

// ------------------------------------------------------------------------------------------------
// The corpus: CPython's own pickles

namespace {

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

struct described {
  std::string encoding;
  std::vector<std::pair<std::string, std::string>> globals;  // as CPython imports them
  bool extension = false;
};

// The globals and extension codes of a .desc file (conformance/describe_model.py's format:
// g(<hex module>,<hex qualname>), x<code> for an extension code).
described describe(const std::string& text) {
  described d;
  std::istringstream lines(text);
  std::string line, model;
  bool header = true;  // "key=value" lines, a blank line, then the model
  while (std::getline(lines, line)) {
    if (header && line.rfind("encoding=", 0) == 0) d.encoding = line.substr(9);
    if (header && line.empty()) header = false;
    else if (!header) model += line;
  }
  for (std::size_t at = 0; (at = model.find("g(", at)) != std::string::npos;) {
    const std::size_t comma = model.find(',', at), close = model.find(')', at);
    if (comma == std::string::npos || close == std::string::npos) break;
    d.globals.emplace_back(unhex(std::string_view(model).substr(at + 2, comma - at - 2)),
                           unhex(std::string_view(model).substr(comma + 1, close - comma - 1)));
    at = close;
  }
  for (std::size_t at = 0; (at = model.find('x', at)) != std::string::npos; ++at)
    if (at + 1 < model.size() && model[at + 1] >= '0' && model[at + 1] <= '9') d.extension = true;
  return d;
}

}  // namespace

TEST_CASE("corpus: CPython's pickles are clean exactly when their globals are allowlisted") {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(BRINE_SOURCE_DIR) / "conformance" / "corpus";
  REQUIRE(fs::is_directory(root));
  std::size_t clean = 0, flagged = 0;
  std::set<std::string> clean_cases;
  const auto& allow = brine::allowlist::defaults();
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("y_", 0) != 0 || entry.path().extension() != ".pkl") continue;
    fs::path desc_path = entry.path();
    desc_path.replace_extension(".desc");
    const described d = describe(read_file(desc_path));
    brine::scan_options o;
    if (d.encoding == "latin1") o.decode.encoding = brine::py2_encoding::latin1;
    else if (d.encoding == "bytes") o.decode.encoding = brine::py2_encoding::bytes;
    else if (d.encoding == "utf8" || d.encoding == "utf-8") o.decode.encoding = brine::py2_encoding::utf8;
    const auto r = brine::scan(std::string_view(read_file(entry.path())), o);
    bool expect_clean = !d.extension;
    for (const auto& [m, q] : d.globals) expect_clean = expect_clean && allow.allows(m, q);
    CAPTURE(entry.path().string());
    CAPTURE(dump(r));
    CHECK(r.result == (expect_clean ? verdict::clean : verdict::flagged));
    CHECK(r.pickles.size() == 1);
    CHECK(r.stopped_at == r.input_size);
    // Every global the description names is in the inventory.
    for (const auto& [m, q] : d.globals) CHECK(global(r, m, q) != nullptr);
    if (expect_clean) {
      ++clean;
      clean_cases.insert(name.substr(0, name.find('.')));
    } else {
      ++flagged;
    }
  }
  MESSAGE("corpus: " << clean << " clean, " << flagged << " flagged");
  CHECK(clean > 400);
  // The benign stdlib and numpy cases are among the clean ones.
  for (const char* c : {"y_datetime", "y_decimal_fraction_complex", "y_uuid", "y_exceptions", "y_numpy_arrays",
                        "y_numpy_arrays_oob", "y_numpy_scalars_dtypes", "y_set_of_str", "y_range_slice", "y_persistent_ids",
                        "y_picklebuffer_oob", "y_frames_multi"})
    CHECK_MESSAGE(clean_cases.count(c) == 1, c);
}
