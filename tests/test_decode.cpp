// Tests for brine/decode.hpp: values, sharing, CPython's machine rules, and one test per error code
// pinning the code and the offset (the caret under the bytes shows where the error must point).
#include "brine/decode.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace std::string_literals;
using brine::errc;
using brine::kind;

namespace {

// The document must own its bytes: the argument is usually a temporary.
brine::document ok(const std::string& bytes, const brine::decode_options& opt = {}) {
  auto r = brine::decode_owned(std::string(bytes), opt);
  if (!r) FAIL_CHECK(r.error().to_string());
  REQUIRE(r.has_value());
  return std::move(r).value();
}

brine::error bad(const std::string& bytes, const brine::decode_options& opt = {}) {
  auto r = brine::decode(std::string_view(bytes), opt);
  REQUIRE_FALSE(r.has_value());
  // validate() must agree with decode() on every rejection.
  auto v = brine::validate(std::string_view(bytes), opt);
  REQUIRE_FALSE(v.has_value());
  CHECK(v.error().code == r.error().code);
  CHECK(v.error().offset == r.error().offset);
  return r.error();
}

void check_error(const std::string& bytes, errc code, std::uint64_t offset, int opcode,
                 const brine::decode_options& opt = {}) {
  CAPTURE(bytes);
  const auto e = bad(bytes, opt);
  CAPTURE(e.to_string());
  CHECK(e.code == code);
  CHECK(e.offset == offset);
  CHECK(e.opcode == opcode);
}

// The low `n` bytes of v, little-endian.
std::string le_bytes(std::uint64_t v, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t k = 0; k < n; ++k) s[k] = static_cast<char>((v >> (8 * k)) & 0xff);
  return s;
}
std::string le64(std::uint64_t v) { return le_bytes(v, 8); }

// LONG1 of the low `width` (1-8) bytes of `bits`, and the value it reads as (two's complement).
std::pair<std::string, std::int64_t> long1(std::uint64_t bits, unsigned width) {
  const unsigned shift = 64 - 8 * width;
  return {"\x8a"s + static_cast<char>(width) + le_bytes(bits, width), static_cast<std::int64_t>(bits << shift) >> shift};
}

}  // namespace

TEST_CASE("scalars") {
  CHECK(ok("N."s).root().is_none());
  CHECK(ok("\x80\x02\x88."s).root().as_bool() == true);
  CHECK(ok("\x80\x02\x89."s).root().as_bool() == false);
  CHECK(ok("I01\n."s).root().as_bool() == true);
  CHECK(ok("I00\n."s).root().as_bool() == false);
  CHECK(ok("K\xff."s).root().as_int64() == 255);
  CHECK(ok("M\xff\xff."s).root().as_int64() == 65535);
  CHECK(ok("J\xff\xff\xff\xff."s).root().as_int64() == -1);
  CHECK(ok("J\x00\x00\x00\x80."s).root().as_int64() == -2147483648LL);
  CHECK(ok("I-12\n."s).root().as_int64() == -12);
  CHECK(ok("I9223372036854775807\n."s).root().as_int64() == INT64_MAX);
  CHECK(ok("L123L\n."s).root().as_int64() == 123);
  CHECK(ok("L-9223372036854775808L\n."s).root().as_int64() == INT64_MIN);
  // 2**31 as LONG1 (5 bytes), -2**31-1 with sign trimming.
  CHECK(ok("\x80\x02\x8a\x05\x00\x00\x00\x80\x00."s).root().as_int64() == 2147483648LL);
  CHECK(ok("\x80\x02\x8a\x05\xff\xff\xff\x7f\xff."s).root().as_int64() == -2147483649LL);
  CHECK(ok("\x80\x02\x8a\x00."s).root().as_int64() == 0);
  // 2**64: arbitrary precision, exact bytes and decimal.
  auto big = ok("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."s);
  CHECK(big.root().kind() == kind::integer);
  CHECK_FALSE(big.root().fits_int64());
  CHECK(big.root().int_bytes() == "\x00\x00\x00\x00\x00\x00\x00\x00\x01"s);
  CHECK(big.root().int_decimal() == "18446744073709551616");
  CHECK(ok("L18446744073709551616L\n."s).root().int_decimal() == "18446744073709551616");
  CHECK(ok("L-18446744073709551617L\n."s).root().int_decimal() == "-18446744073709551617");
  // A redundant sign byte from a hand-made pickle is normalised.
  CHECK(ok("\x80\x02\x8a\x03\x05\x00\x00."s).root().as_int64() == 5);

  CHECK(ok("G?\xf8\x00\x00\x00\x00\x00\x00."s).root().as_double() == 1.5);
  CHECK(std::signbit(ok("G\x80\x00\x00\x00\x00\x00\x00\x00."s).root().as_double()));
  CHECK(std::isnan(ok("G\x7f\xf8\x00\x00\x00\x00\x00\x00."s).root().as_double()));
  CHECK(ok("F1.5\n."s).root().as_double() == 1.5);
  CHECK(ok("F1e+100\n."s).root().as_double() == 1e100);
  CHECK(std::isinf(ok("F-inf\n."s).root().as_double()));
  CHECK(std::isnan(ok("Fnan\n."s).root().as_double()));
  CHECK(ok("F1e-400\n."s).root().as_double() == 0.0);  // underflow is not an error in CPython
}

TEST_CASE("strings and bytes") {
  CHECK(ok("\x8c\x05hello."s).root().as_str() == "hello");
  CHECK(ok("X\x02\x00\x00\x00\xc3\xa9."s).root().as_str() == "\xc3\xa9");
  // Lone surrogate kept as its surrogatepass bytes.
  CHECK(ok("X\x03\x00\x00\x00\xed\xa0\x80."s).root().as_str() == "\xed\xa0\x80");
  CHECK(ok("Va<\\u000a>\\u005c\\u0000\\u000d\\u001a\\u1234\\U00012345\n."s).root().as_str() ==
        "a<\n>\\\0\r\x1a\xe1\x88\xb4\xf0\x92\x8d\x85"s);
  CHECK(ok("V\\ud83d\\ude00\n."s).root().as_str() == "\xed\xa0\xbd\xed\xb8\x80");  // two lone surrogates
  CHECK(ok("V\xe9\n."s).root().as_str() == "\xc3\xa9");  // raw bytes are latin-1 code points
  CHECK(ok("C\x03" "abc."s).root().kind() == kind::bytes);
  auto ba = ok("\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00" "ab."s);
  CHECK(ba.root().kind() == kind::bytearray);
  CHECK(ba.root().as_bytes().size() == 2);
  // Python 2 strings.
  CHECK(ok("U\x03" "abc."s).root().as_str() == "abc");
  CHECK(ok("S'a\\nb'\n."s).root().as_str() == "a\nb");
  CHECK(ok("S\"it's\"\n."s).root().as_str() == "it's");
  brine::decode_options latin1;
  latin1.encoding = brine::py2_encoding::latin1;
  CHECK(ok("U\x01\xff."s, latin1).root().as_str() == "\xc3\xbf");
  brine::decode_options as_bytes;
  as_bytes.encoding = brine::py2_encoding::bytes;
  CHECK(ok("U\x01\xff."s, as_bytes).root().kind() == kind::bytes);
}

TEST_CASE("zero copy: strings point into the input") {
  const std::string input = "\x80\x04\x8c\x05hello\x94.";
  auto r = brine::decode(std::string_view(input));
  REQUIRE(r.has_value());
  auto& doc = *r;
  CHECK(doc.root().as_str().data() == input.data() + 4);
}

TEST_CASE("containers, memo and sharing") {
  // [s, s] with one str object: one node.
  auto doc = ok("\x80\x05\x95\x13\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x0bhello world\x94h\x01" "e."s);
  auto root = doc.root();
  REQUIRE(root.kind() == kind::list);
  REQUIRE(root.size() == 2);
  CHECK(root[0].same_as(root[1]));
  // Equal but distinct strings: two nodes.
  auto two = ok("(X\x01\x00\x00\x00" "aX\x01\x00\x00\x00" "al."s);
  CHECK_FALSE(two.root()[0].same_as(two.root()[1]));
  // ((l2t. : a tuple holding the same list twice.
  auto dup = ok("((l2t."s);
  CHECK(dup.root()[0].same_as(dup.root()[1]));
  // Self-containing list: l = []; l.append(l)
  auto cyc = ok("\x80\x04]\x94h\x00" "a."s);
  CHECK(cyc.root()[0].same_as(cyc.root()));
  // Recursive tuple: t = ([],); t[0].append(t)
  auto rt = ok("\x80\x04]\x94h\x00\x85\x94" "a0h\x01."s);
  REQUIRE(rt.root().kind() == kind::tuple);
  CHECK(rt.root()[0][0].same_as(rt.root()));
  // A list mutated after being memoized.
  auto mut = ok("]q\x00(K\x01" "e0h\x00K\x02" "a."s);
  CHECK(mut.root().size() == 2);
  // Dict in insertion order, any keys.
  auto d = ok("}(K\x02K\x01K\x01K\x02\x8c\x01" "aNu."s);
  REQUIRE(d.root().size() == 3);
  CHECK(d.root().pairs()[0].as_int64() == 2);
  CHECK(d.root().find("a").is_none());
  // Memo: MEMOIZE numbers by entry count, not highest index + 1.
  CHECK(ok("\x80\x04K\x01q\x05K\x02\x94h\x01."s).root().as_int64() == 2);
  // Redefinition: the later write wins.
  CHECK(ok("K\x01q\x00K\x02q\x00h\x00."s).root().as_int64() == 2);
  // Sparse huge index costs one entry.
  CHECK(ok("Nr\xff\xff\xff\x7f."s).root().is_none());
  CHECK(ok("Np1000000000000\ng1000000000000\n."s).root().is_none());
  // Batches: 1001 items in two APPENDS, grown in place.
  std::string big = "\x80\x02]q\x00("s;
  for (int i = 0; i < 1000; ++i) big += "K\x01";
  big += "e(K\x02" "e.";
  CHECK(ok(big).root().size() == 1001);
}

// The fast path takes runs of the same opcode in loops of their own (floats two at a time, ints,
// short strs): every length of run, broken at every position by another opcode, must decode to
// the items in order, each with its own node and the offset of its opcode.
TEST_CASE("runs of floats, ints and strs: every length, broken anywhere") {
  // Item i of the 'm' run: its opcode bytes and value. LONG1's top byte alternates between
  // positive and negative.
  const auto mixed_int = [](int i) -> std::pair<std::string, std::int64_t> {
    const int form = i % 11;
    const auto u = static_cast<unsigned>(i);
    if (form == 0) return {"K"s + static_cast<char>(u & 0xff), u & 0xff};
    if (form == 1) return {"M"s + static_cast<char>(0x34) + static_cast<char>(0x12), 0x1234};
    if (form == 2) return {"J\xfe\xff\xff\xff"s, -2};
    const int width = form - 2;  // 1..8
    std::uint64_t bits = 0;
    for (int k = 0; k < width; ++k) {
      const unsigned byte = k + 1 < width ? ((u + 3 * static_cast<unsigned>(k)) & 0xff) : (i % 2 != 0 ? 0xc1u : 0x41u);
      bits |= std::uint64_t{byte} << (8 * k);
    }
    return long1(bits, static_cast<unsigned>(width));
  };
  const auto item_bytes = [&](char kind, int i) {
    std::string b;
    if (kind == 'f') {  // BINFLOAT i + 0.5, big-endian
      const double v = i + 0.5;
      std::uint64_t u;
      std::memcpy(&u, &v, 8);
      b = "G";
      for (int k = 7; k >= 0; --k) b += static_cast<char>((u >> (8 * k)) & 0xff);
    } else if (kind == 'i') {  // LONG1 of 6 bytes: i + 2^40
      b = long1((std::uint64_t{1} << 40) + static_cast<std::uint64_t>(i), 6).first;
    } else if (kind == 'm') {  // ints of every width: BININT1, BININT2, BININT, LONG1 of 1-8 bytes
      return mixed_int(i).first;
    } else {  // SHORT_BINUNICODE "s<i>" + MEMOIZE
      const std::string t = "s" + std::to_string(i);
      b = "\x8c" + std::string(1, static_cast<char>(t.size())) + t + "\x94";
    }
    return b;
  };
  for (const char kind : {'f', 'i', 'm', 's'}) {
    for (int n = 0; n <= 40; ++n) {
      // brk: the item that is something else instead (-1: none is). In a run of floats, an int
      // of 9 bytes (LONG1 of 7), so that a float's opcode follows 9 bytes after it as it would
      // after a float; elsewhere None.
      for (int brk = -1; brk < n; ++brk) {
        CAPTURE(kind);
        CAPTURE(n);
        CAPTURE(brk);
        std::string p = "\x80\x04]\x94(";
        std::vector<std::size_t> offsets;
        for (int i = 0; i < n; ++i) {
          offsets.push_back(p.size());
          p += i != brk ? item_bytes(kind, i) : kind == 'f' ? "\x8a\x07\x01\x02\x03\x04\x05\x06\x07"s : "N"s;
        }
        p += "e.";
        const auto d = ok(p);
        const auto root = d.root();
        REQUIRE(root.size() == static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
          const auto v = root[static_cast<std::size_t>(i)];
          CHECK(v.offset() == offsets[static_cast<std::size_t>(i)]);
          if (i == brk && kind == 'f') {
            REQUIRE(v.kind() == kind::integer);
            CHECK(v.as_int64() == 0x07060504030201);
          } else if (i == brk) {
            CHECK(v.is_none());
          } else if (kind == 'f') {
            REQUIRE(v.kind() == kind::floating);
            CHECK(v.as_double() == i + 0.5);
          } else if (kind == 'i') {
            REQUIRE(v.kind() == kind::integer);
            CHECK(v.as_int64() == (std::int64_t{1} << 40) + i);
          } else if (kind == 'm') {
            REQUIRE(v.kind() == kind::integer);
            CHECK(v.as_int64() == mixed_int(i).second);
          } else {
            REQUIRE(v.kind() == kind::str);
            CHECK(v.as_str() == "s" + std::to_string(i));
          }
          if (i > 0) CHECK_FALSE(v.same_as(root[static_cast<std::size_t>(i - 1)]));
        }
      }
    }
  }
}

TEST_CASE("a run of ints of every width across frames of every size") {
  // 3,000 ints in a list, the opcodes of each width in turn, cut into frames of `per` items: the
  // run loops stop where a frame ends and the next frame's items go on. Values and offsets.
  std::vector<std::pair<std::string, std::int64_t>> items;
  for (int i = 0; i < 3000; ++i) {
    const int form = i % 5;
    const auto u = static_cast<std::uint64_t>(i) * 2654435761u;
    if (form == 0) {
      items.push_back({"K"s + static_cast<char>(i & 0xff), i & 0xff});
    } else if (form == 1) {
      items.push_back({"M"s + static_cast<char>(i & 0xff) + static_cast<char>(0x80), 0x8000 | (i & 0xff)});
    } else if (form == 2) {
      const auto v = static_cast<std::int32_t>(u);
      items.push_back({"J"s + le_bytes(static_cast<std::uint32_t>(v), 4), v});
    } else {  // LONG1 of 1 to 8 bytes
      items.push_back(long1(u, 1 + static_cast<unsigned>(i / 5) % 8));
    }
  }
  for (const std::size_t per : {1u, 2u, 3u, 7u, 50u, 333u, 3000u}) {
    CAPTURE(per);
    std::string p = "\x80\x04";
    std::vector<std::size_t> offsets;
    const auto frame = [&](const std::string& body) { p += "\x95"s + le64(body.size()) + body; };
    frame("]\x94(");
    for (std::size_t at = 0; at < items.size(); at += per) {
      std::string body;
      const std::size_t base = p.size() + 9;
      for (std::size_t i = at; i < std::min(items.size(), at + per); ++i) {
        offsets.push_back(base + body.size());
        body += items[i].first;
      }
      frame(body);
    }
    p += "e.";
    const auto d = ok(p);
    const auto root = d.root();
    REQUIRE(root.size() == items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      CAPTURE(i);
      const auto v = root[i];
      REQUIRE(v.kind() == kind::integer);
      CHECK(v.as_int64() == items[i].second);
      CHECK(v.offset() == offsets[i]);
    }
  }
}

TEST_CASE("STOP, PROTO and warnings") {
  auto leftover = ok("K\x01K\x02."s);
  CHECK(leftover.root().as_int64() == 2);
  CHECK(ok("(K\x01."s).root().as_int64() == 1);
  auto trailing = ok("K\x01.GARBAGE"s);
  CHECK(trailing.stop_offset() == 2);
  REQUIRE_FALSE(trailing.warnings().empty());
  CHECK(trailing.warnings()[0].code == brine::warning_code::trailing_data);
  CHECK(ok("\x80\x02\x8c\x01" "a."s).root().as_str() == "a");  // proto-4 opcode after PROTO 2
  CHECK(ok("N0\x80\x04N."s).protocol() == 4);
  // POP of a MARK is legal.
  CHECK(ok("K\x01(0."s).root().as_int64() == 1);
  // Empty APPENDS on an int is a no-op (C unpickler, gh-135573).
  CHECK(ok("K\x01(e."s).root().as_int64() == 1);
  CHECK(ok("\x80\x04K\x01(\x90."s).root().as_int64() == 1);
}

TEST_CASE("frames") {
  CHECK(ok("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.."s).root().is_none());
  CHECK(ok("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00N."s).root().is_none());  // empty frame
}

TEST_CASE("globals and fix_imports") {
  auto g = ok("c__builtin__\nxrange\n."s);
  CHECK(g.root().kind() == kind::global);
  CHECK(g.root().module() == "__builtin__");
  CHECK(g.root().name() == "xrange");
  CHECK(g.root().mapped_module() == "builtins");
  CHECK(g.root().mapped_name() == "range");
  CHECK(ok("ccommands\ngetoutput\n."s).root().mapped_module() == "subprocess");
  // No mapping at protocol 3 and above.
  CHECK(ok("\x80\x03" "c__builtin__\nxrange\n."s).root().mapped_module() == "__builtin__");
  brine::decode_options no_fix;
  no_fix.fix_imports = false;
  CHECK(ok("c__builtin__\nxrange\n."s, no_fix).root().mapped_module() == "__builtin__");
  // STACK_GLOBAL with Python 2 strings and from the memo.
  CHECK(ok("U\x08" "builtinsU\x03str\x93."s).root().name() == "str");
  auto m = ok("Vos\np2\n0Vsystem\np3\n0g2\ng3\n\x93(Vid\ntR."s);
  CHECK(m.root().kind() == kind::object);
  CHECK(m.root().callable().module() == "os");
  CHECK(m.root().callable().name() == "system");
  // Dotted names: an attribute path at protocol 4.
  CHECK(ok("\x80\x04" "ctempfile\n_os.system\n."s).root().name() == "_os.system");
}

TEST_CASE("recorded calls and folds") {
  // Python 3 object: NEWOBJ + BUILD.
  auto o = ok("\x80\x04\x8c\x08__main__\x8c\x01P\x93)\x81}\x8c\x01xK\x01sb."s);
  auto root = o.root();
  REQUIRE(root.kind() == kind::object);
  CHECK(root.how() == brine::call_kind::newobj);
  CHECK(root.callable().name() == "P");
  CHECK(root.args().size() == 0);
  auto ops = root.ops();
  REQUIRE(ops.size() == 1);
  CHECK(ops[0].kind == brine::op_kind::build);
  CHECK(ops[0].values[0].find("x").as_int64() == 1);
  // A call whose result was POPped stays in the document.
  auto popped = ok("\x80\x04(\x8c\x07smtplib\x8c\x04SMTP\x93\x8c\t127.0.0.1o0N."s);
  bool found = false;
  for (std::uint32_t i = 0; i < popped.node_count(); ++i)
    found = found || popped.node(i).kind() == kind::object;
  CHECK(found);
  // INST and OBJ.
  auto inst = ok("(S'x'\ni__builtin__\nexec\n."s);
  CHECK(inst.root().how() == brine::call_kind::inst);
  CHECK(inst.root().callable().mapped_name() == "exec");
  CHECK(inst.root().args().size() == 1);
  // Protocol 2 set, bytes and bytearray fold into native nodes.
  auto set = ok("\x80\x02" "c__builtin__\nset\nq\x00]q\x01(K\x01K\x02" "e\x85q\x02Rq\x03."s);
  CHECK(set.root().kind() == kind::set);
  CHECK(set.root().size() == 2);
  auto bytes = ok("\x80\x02" "c_codecs\nencode\nq\x00X\x02\x00\x00\x00" "abq\x01X\x06\x00\x00\x00latin1q\x02\x86q\x03Rq\x04."s);
  CHECK(bytes.root().kind() == kind::bytes);
  CHECK(bytes.root().as_bytes().size() == 2);
  auto ba = ok("\x80\x04\x8c\x08" "builtins\x94\x8c\tbytearray\x94\x93\x94" "C\x02" "ab\x94\x85\x94R\x94."s);
  CHECK(ba.root().kind() == kind::bytearray);
  brine::decode_options no_fold;
  no_fold.fold_builtins = false;
  CHECK(ok("\x80\x02" "c__builtin__\nset\n]\x85R."s, no_fold).root().kind() == kind::object);
  // Persistent ids and extensions.
  CHECK(ok("Pabc\n."s).root().pid().as_str() == "abc");
  CHECK(ok("NQ."s).root().binary_pid());
  CHECK(ok("\x80\x02\x82\x01."s).root().ext_code() == 1);
}

TEST_CASE("a REDUCE POPped at once is a call on its first argument (a state_setter)") {
  // [obj, shared] where obj = m.C(0) and then m.set(obj, {'v': shared}) is called and dropped:
  // what CPython writes for a 6-tuple __reduce__ (protocol 4, no framing).
  const std::string p = "\x80\x04](\x8c\x01m\x94\x8c\x01" "C\x94\x93\x94K\x00\x85\x94R\x94h\x00\x8c\x03set\x94\x93\x94h\x04}\x94\x8c\x01v\x94}\x94h\x08K\x01ss\x86R0h\x09" "e."s;
  auto d = ok(p);
  const auto obj = d.root().items()[0];
  REQUIRE(obj.kind() == kind::object);
  const auto ops = obj.ops();
  REQUIRE(ops.size() == 1);
  CHECK(ops[0].kind == brine::op_kind::call);
  REQUIRE(ops[0].values.size() == 2);
  CHECK(ops[0].values[0].name() == "set");
  CHECK(ops[0].values[1].find("v").id() == d.root().items()[1].id());
  // Anything between REDUCE and POP (here a MEMOIZE), or a first argument that is plain data:
  // nothing is recorded.
  std::string memoized = p;
  memoized.replace(memoized.find("R0"), 2, "R\x94" "0");
  CHECK(ok(memoized).root().items()[0].ops().empty());
  auto plain = ok("\x80\x04" "cm\nf\nK\x01K\x02\x86R0N."s);
  CHECK(plain.root().is(kind::none));
  // validate() runs the same machine and agrees.
  CHECK(brine::validate(std::string_view(p)).has_value());
}

TEST_CASE("out-of-band buffers") {
  const std::string data = "abc";
  brine::decode_options opt;
  opt.buffers_given = true;
  opt.buffers.push_back({std::as_bytes(std::span<const char>(data.data(), data.size())), false});
  auto doc = ok("\x80\x05\x97\x98."s, opt);
  CHECK(doc.root().kind() == kind::buffer);
  CHECK(doc.root().readonly());
  CHECK(doc.root().buffer_index() == 0);
  CHECK(reinterpret_cast<const char*>(doc.root().as_bytes().data()) == data.data());
  auto writable = ok("\x80\x05\x97."s, opt);
  CHECK_FALSE(writable.root().readonly());
}

TEST_CASE("deep nesting decodes, compares and frees without recursion") {
  const std::size_t depth = 1000000;
  std::string deep(depth, ']');
  deep.append(depth - 1, 'a');
  deep += '.';
  auto a = ok(deep);
  auto b = ok(deep);
  CHECK(brine::equivalent(a.root(), b.root()));
  std::string tuples = "N" + std::string(100000, '\x85') + ".";
  CHECK(ok(tuples).root().kind() == kind::tuple);
}

TEST_CASE("one-shot decodes on a thread share their tables without sharing state") {
  // A failed decode leaves a mark, items on the stack and memo entries behind; the next decode
  // on the thread must not see them. Each pair: the same pickle decoded after a clean decode and
  // after a dirty failure gives the same outcome.
  const std::string dirty = "\x80\x02](K\x01q\x07(K\x02"s;  // truncated inside two marks, memo 7 set
  const auto after_dirty = [&](const std::string& p) {
    CHECK_FALSE(brine::decode(std::string_view(dirty)).has_value());
    return brine::decode(std::string_view(p));
  };
  // APPENDS needs a mark of its own; GET 7 needs a PUT of its own.
  for (const std::string& p : {"]K\x01" "e."s, "\x80\x02h\x07."s, "\x80\x02K\x01q\x07h\x07\x86."s}) {
    CAPTURE(p);
    const auto clean = brine::decode(std::string_view(p));
    const auto again = after_dirty(p);
    REQUIRE(clean.has_value() == again.has_value());
    if (clean) {
      CHECK(brine::equivalent(clean->root(), again->root()));
    } else {
      CHECK(clean.error().code == again.error().code);
      CHECK(clean.error().offset == again.error().offset);
    }
  }
  // After a decode whose tables outgrew what a thread keeps (a 200,000-deep stack) and after the
  // memory is released, small decodes still work.
  std::string wide = "(" + std::string(200000, 'N') + "l.";
  CHECK(ok(wide).root().size() == 200000);
  CHECK(ok("]K\x05" "a."s).root()[0].as_int64() == 5);
  brine::release_retained_memory();
  CHECK(ok("]K\x06" "a."s).root()[0].as_int64() == 6);
  CHECK(ok(wide).root().size() == 200000);
}

TEST_CASE("equivalence sees sharing") {
  auto shared = ok("((l2t."s);       // (x, x)
  auto separate = ok("((l(lt."s);    // ([], [])
  CHECK(brine::equivalent(shared.root(), shared.root()));
  CHECK_FALSE(brine::equivalent(shared.root(), separate.root()));
}

TEST_CASE("equivalence compares out-of-band buffers by contents and writability, not index") {
  const std::string abc = "abc", abd = "abd";
  auto span = [](const std::string& s) { return std::as_bytes(std::span<const char>(s.data(), s.size())); };
  brine::decode_options first, second;
  first.buffers_given = second.buffers_given = true;
  first.buffers = {{span(abc), false}};
  second.buffers = {{span(abd), false}, {span(abc), false}, {span(abc), true}};
  auto a = ok("\x80\x05\x97."s, first);                 // buffer 0: b"abc"
  auto same = ok("\x80\x05\x97" "0\x97."s, second);  // buffer 1: b"abc", writable
  auto other = ok("\x80\x05\x97."s, second);             // buffer 0: b"abd"
  auto frozen = ok("\x80\x05\x97" "0\x97" "0\x97."s, second);  // buffer 2: read-only
  CHECK(same.root().buffer_index() == 1);
  CHECK(brine::equivalent(a.root(), same.root()));
  CHECK_FALSE(brine::equivalent(a.root(), other.root()));
  CHECK_FALSE(brine::equivalent(a.root(), frozen.root()));
}

// One test per error code: the code, the offset and the opcode.
TEST_CASE("error codes pin code and offset") {
  check_error(""s, errc::truncated, 0, -1);
  //           ^ empty input: "Ran out of input" at 0, no opcode
  check_error("\x80\x04K\x01"s, errc::truncated, 4, -1);
  //                        ^ no STOP: ran out at the next opcode boundary
  check_error("J\x00\x00\x00"s, errc::truncated, 0, 'J');
  //           ^ truncated inside BININT
  check_error("\x8e"s + le64(1ull << 40) + "abc", errc::truncated, 0, 0x8e);
  //           ^ huge declared length, no allocation
  check_error("\x8e"s + le64(1ull << 63) + "abc", errc::length_overflow, 0, 0x8e);
  check_error("\x80\x05\x96"s + le64(1ull << 63), errc::length_overflow, 2, 0x96);
  //                   ^ BYTEARRAY8 at 2
  check_error("\x8b\xff\xff\xff\xff\x01."s, errc::negative_length, 0, 0x8b);
  check_error("T\xff\xff\xff\xff" "abc."s, errc::negative_length, 0, 'T');
  check_error("\x80\x04."s, errc::stack_underflow, 2, '.');
  //                   ^ STOP on an empty stack
  check_error(")R"s, errc::stack_underflow, 1, 'R');
  check_error("N(\x85"s, errc::unexpected_mark, 2, 0x85);
  //             ^ TUPLE1 would cross the MARK
  check_error("]N(a"s, errc::unexpected_mark, 3, 'a');
  check_error("N(."s, errc::unexpected_mark, 2, '.');
  check_error("t"s, errc::mark_not_found, 0, 't');
  check_error("N1"s, errc::mark_not_found, 1, '1');
  check_error("(K\x01" "d."s, errc::odd_items, 3, 'd');
  check_error("}(K\x01u."s, errc::odd_items, 4, 'u');
  check_error("h\x05."s, errc::memo_miss, 0, 'h');
  check_error("Nj\xff\xff\xff\xff."s, errc::memo_miss, 1, 'j');
  check_error("g-1\n."s, errc::memo_miss, 0, 'g');
  check_error("Va\np-1\n."s, errc::bad_memo_index, 3, 'p');
  //                 ^ negative PUT
  check_error("Np99999999999999999999999\n."s, errc::bad_memo_index, 1, 'p');
  check_error("\xff"s, errc::invalid_opcode, 0, 0xff);
  check_error("\x80\x05\x99."s, errc::invalid_opcode, 2, 0x99);
  check_error("\x80\x06N."s, errc::unsupported_protocol, 0, 0x80);
  check_error("S'\n."s, errc::bad_string_quote, 0, 'S');
  check_error("S\n."s, errc::bad_string_quote, 0, 'S');
  check_error("S'\\'\n."s, errc::bad_escape, 0, 'S');
  check_error("NS'a\\x4'\n."s, errc::bad_escape, 1, 'S');
  check_error("V\\u12\n."s, errc::bad_escape, 0, 'V');
  check_error("V\\U00110000\n."s, errc::bad_escape, 0, 'V');
  check_error("X\x02\x00\x00\x00\xc3\x28."s, errc::invalid_utf8, 0, 'X');
  check_error("NX\x02\x00\x00\x00\xc0\xaf."s, errc::invalid_utf8, 1, 'X');
  //            ^ overlong encoding
  check_error("U\x01\xff."s, errc::decode_error, 0, 'U');
  check_error("I010\n."s, errc::bad_number, 0, 'I');
  check_error("I9223372036854775807JUNK\n."s, errc::bad_number, 0, 'I');
  check_error("I\n."s, errc::bad_number, 0, 'I');
  check_error("L123LL\n."s, errc::bad_number, 0, 'L');
  check_error("F1_0\n."s, errc::bad_number, 0, 'F');
  check_error("F 1.5\n."s, errc::bad_number, 0, 'F');
  check_error("F1e400\n."s, errc::bad_number, 0, 'F');
  check_error("F1.5x\n."s, errc::bad_number, 0, 'F');
  check_error("c\xff\nlog\n."s, errc::bad_global_name, 0, 'c');
  check_error("c\nlog\n."s, errc::bad_global_name, 0, 'c');
  check_error("(i\xc3\xa9\nx\n."s, errc::bad_global_name, 1, 'i');
  check_error("\x80\x02" "cos\npath.join\n."s, errc::bad_global_name, 2, 'c');
  //                   ^ dotted name below protocol 4
  check_error("\x80\x04" "cbuiltins\nstr.<locals>.x\n."s, errc::bad_global_name, 2, 'c');
  check_error("\x80\x04K\x01K\x02\x93."s, errc::type_mismatch, 6, 0x93);
  check_error("cbuiltins\nobject\n]\x81."s, errc::type_mismatch, 18, 0x81);
  check_error("cbuiltins\nint\n]R."s, errc::type_mismatch, 15, 'R');
  check_error("N)R."s, errc::type_mismatch, 2, 'R');
  check_error("K\x01)\x81."s, errc::type_mismatch, 3, 0x81);
  check_error("K\x01}b."s, errc::type_mismatch, 3, 'b');
  check_error("]K\x00K\x01s."s, errc::type_mismatch, 5, 's');
  check_error("K\x01K\x02" "a."s, errc::type_mismatch, 4, 'a');
  check_error("\x80\x05K\x01\x98."s, errc::type_mismatch, 4, 0x98);
  check_error("(]K\x01" "d."s, errc::unhashable, 4, 'd');
  check_error("}]K\x01s."s, errc::unhashable, 4, 's');
  check_error("\x80\x04(]\x91."s, errc::unhashable, 4, 0x91);
  check_error("\x80\x02" "c__builtin__\nset\n(]]l\x85R."s, errc::unhashable, 24, 'R');
  //                                          ^ set([[]]) folds: the item must be hashable
  check_error("\x82\x00."s, errc::bad_ext_code, 0, 0x82);
  check_error("\x84\xff\xff\xff\xff."s, errc::bad_ext_code, 0, 0x84);
  brine::decode_options no_pid;
  no_pid.allow_persistent_ids = false;
  check_error("Pabc\n."s, errc::no_persistent_load, 0, 'P', no_pid);
  check_error("NQ."s, errc::no_persistent_load, 1, 'Q', no_pid);
  check_error("\x80\x05\x97."s, errc::no_buffers, 2, 0x97);
  brine::decode_options one;
  const char buf[1] = {'x'};
  one.buffers_given = true;
  one.buffers.push_back({std::as_bytes(std::span<const char>(buf, 1)), true});
  check_error("\x80\x05\x97\x97\x86."s, errc::buffers_exhausted, 3, 0x97, one);
  check_error("\x80\x05\x95\x02\x00\x00\x00\x00\x00\x00\x00J\x07\x00\x00\x00."s, errc::frame_violation, 11, 'J');
  //                                                       ^ BININT straddles the frame end
  check_error("\x80\x05\x95\x0b\x00\x00\x00\x00\x00\x00\x00N\x95\x02\x00\x00\x00\x00\x00\x00\x00N."s,
              errc::frame_violation, 12, 0x95);
  //           a frame inside a frame      ^
  check_error("\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00N."s, errc::truncated, 2, 0x95);
  check_error("\x80\x04\x95"s + le64(~0ull) + "N.", errc::length_overflow, 2, 0x95);
  check_error("L"s + std::string(4301, '1') + "L\n.", errc::limit_exceeded, 0, 'L');
  check_error("I"s + std::string(4301, '1') + "\n.", errc::limit_exceeded, 0, 'I');
  brine::decode_options small;
  small.limits.max_stack = 3;
  check_error("NNNN."s, errc::limit_exceeded, 3, 'N', small);
  small.limits.max_marks = 2;
  check_error("(((."s, errc::limit_exceeded, 2, '(', small);
  small.limits.max_memo_entries = 1;
  check_error("Nq\x00q\x01."s, errc::limit_exceeded, 3, 'q', small);
}

// The same limits on streams long enough for the decoder's fast path (run_fast), which must stop
// exactly where the general loop would.
TEST_CASE("limits hold on the fast path, at the same offsets") {
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  brine::decode_options opt;
  opt.limits.max_nodes = 10;
  check_error("\x80\x04"s + repeat("K\x01"s, 50) + ".", errc::limit_exceeded, 22, 'K', opt);
  opt = {};
  opt.limits.max_stack = 5;
  check_error("\x80\x04"s + repeat("N"s, 50) + ".", errc::limit_exceeded, 7, 'N', opt);
  opt = {};
  opt.limits.max_memo_entries = 3;
  check_error("\x80\x04"s + repeat("K\x01\x94"s, 20) + ".", errc::limit_exceeded, 13, 0x94, opt);
  check_error("\x80\x02"s + repeat("K\x01q\x00"s, 1) + repeat("K\x01q\x01K\x01q\x02K\x01q\x03"s, 10) + ".",
              errc::limit_exceeded, 16, 'q', opt);
  opt = {};
  opt.limits.max_marks = 2;
  check_error("\x80\x04"s + repeat("("s, 40) + ".", errc::limit_exceeded, 4, '(', opt);
  // Strings: non-ASCII and long ones leave the fast path and are still checked.
  check_error("\x80\x04"s + repeat("\x8c\x03" "abc"s, 20) + "\x8c\x02\xc3\x28" + repeat("N"s, 40) + ".",
              errc::invalid_utf8, 102, 0x8c);
  CHECK(ok("\x80\x04("s + repeat("\x8c\x03" "abc\x94"s, 20) + "h\x13l."s).root().items()[20].as_str() == "abc");
}

TEST_CASE("negative zero in INT, GET and PUT text reads as CPython reads it") {
  CHECK_FALSE(ok("I-0\n."s).root().as_bool());            // C: 2 characters, value 0: False
  CHECK(ok("Va1\np-0\n0g0\n."s).root().as_str() == "a1");  // PUT -0 is index 0
  CHECK(ok("Va1\np0\n0g-00\n."s).root().as_str() == "a1"); // and GET -00 too
}

TEST_CASE("the fast path takes MEMOIZE with the value before it, under MEMOIZE's rules") {
  const std::string thirty(30, 'x');
  // MEMOIZE right after a SHORT_BINBYTES that ends the input's fast-path window.
  auto doc = ok("\x80\x04(C\x1e"s + thirty + "\x94h\x00l."s);
  REQUIRE(doc.root().items().size() == 2);
  CHECK(doc.root().items()[0].id() == doc.root().items()[1].id());
  CHECK(doc.root().items()[0].as_bytes().size() == 30);
  // Under PROTO 3 a MEMOIZE (protocol 4) still takes the general loop, which notes it.
  auto old = ok("\x80\x03(C\x1e"s + thirty + "\x94h\x00l."s);
  REQUIRE_FALSE(old.warnings().empty());
  CHECK(old.warnings()[0].code == brine::warning_code::opcode_above_proto);
  CHECK(old.warnings()[0].offset == 35);
  // Non-ASCII text in a short str: the general loop validates it (and accepts valid UTF-8).
  CHECK(ok("\x80\x04\x8c\x02\xc3\xa9\x94"s + std::string(40, 'N') + "0h\x00."s).root().as_str() == "\xc3\xa9");
}

TEST_CASE("a read that starts exactly at a frame's end reads past it, as CPython does") {
  // FRAME 1 holds only the BININT1 opcode; its argument follows the frame.
  CHECK(ok("\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00K\x05."s).root().as_int64() == 5);
  // The same for a text argument (FRAME 1 holding only the INT opcode).
  CHECK(ok("\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00I7\n."s).root().as_int64() == 7);
  // Straddling stays an error: 2 of BININT's 4 bytes inside the frame.
  check_error("\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00J\x07\x00\x00\x00."s, errc::frame_violation, 11, 'J');
}

TEST_CASE("a read-only view of a bytearray is unhashable, as CPython's memoryview is") {
  brine::decode_options opt;
  opt.buffers_given = true;
  const auto e = bad("\x80\x05}\x96\x01\x00\x00\x00\x00\x00\x00\x00" "a\x98K\x01s."s, opt);
  CHECK(e.code == errc::unhashable);
  CHECK(e.offset == 16);
  CHECK(e.message == "unhashable type: 'bytearray'");  // CPython hashes the view's object
}

TEST_CASE("limit_exceeded names the limit") {
  brine::decode_options opt;
  opt.limits.max_long_bytes = 4;
  const auto e = bad("\x80\x02\x8a\x05\x00\x00\x00\x80\x00."s, opt);
  CHECK(e.code == errc::limit_exceeded);
  CHECK(e.detail == static_cast<std::uint64_t>(brine::limit::max_long_bytes));
  CHECK(e.message == "limit exceeded: max_long_bytes");
}

TEST_CASE("strict frames off accepts what the unfixed C unpickler accepts") {
  brine::decode_options lax;
  lax.strict_frames = false;
  // BININT straddles the frame end; a frame inside a frame.
  CHECK(ok("\x80\x05\x95\x02\x00\x00\x00\x00\x00\x00\x00J\x07\x00\x00\x00."s, lax).root().as_int64() == 7);
  CHECK(ok("\x80\x05\x95\x0b\x00\x00\x00\x00\x00\x00\x00N\x95\x02\x00\x00\x00\x00\x00\x00\x00N."s, lax).root().is_none());
}

TEST_CASE("strict numbers off follows C's strtol") {
  brine::decode_options compat;
  compat.strict_numbers = false;
  CHECK(ok("I010\n."s, compat).root().as_int64() == 8);
  CHECK(ok("I0x10\n."s, compat).root().as_int64() == 16);
  CHECK(ok("I1_000\n."s, compat).root().as_int64() == 1000);
  CHECK(ok("I+5\n."s, compat).root().as_int64() == 5);
  CHECK(bad("I-0_7\n."s, compat).code == errc::bad_number);  // strtol stops at '_'; int("-0_7", 0) refuses
  CHECK(ok("I-1_2\n."s, compat).root().as_int64() == -12);
  CHECK(ok("Np7\n0g007\n."s, compat).root().is_none());   // GET/PUT are base 10 only
  CHECK(ok("I0x_1f\n."s, compat).root().as_int64() == 31);  // int(s, 0): '_' after the prefix
  CHECK(ok("I0 \n."s, compat).root().kind() == kind::integer);  // strtol stops early: not a bool
  CHECK(ok("I01\n."s, compat).root().as_bool());
  CHECK(ok("I0_0\n."s, compat).root().as_int64() == 0);
  CHECK(ok("I0b_1\n."s, compat).root().as_int64() == 1);
  CHECK(ok("I 1\n."s, compat).root().as_bool());
  CHECK(ok("I99999999999999999999\n."s, compat).root().int_decimal() == "99999999999999999999");  // strtol overflows
  CHECK(bad("L010L\n."s, compat).code == errc::bad_number);  // LONG is int(s, 0) only
}

TEST_CASE("error text") {
  const auto e = bad("\x80\x04."s);
  CHECK(e.message == "unpickling stack underflow");
  CHECK(e.to_string() == "stack_underflow at offset 2 (opcode STOP): unpickling stack underflow");
  CHECK(bad("\xff"s).message == "invalid load key, '\\xff'.");
  CHECK(bad("x"s).message == "invalid load key, 'x'.");
  CHECK(bad(""s).message == "Ran out of input");
  CHECK(bad("h\x05."s).message == "Memo value not found at index 5");
}

TEST_CASE("decode_partial keeps what was built before an error") {
  // A malicious prefix and a broken tail: CPython would call os.system before failing.
  const std::string input = "cos\nsystem\n(Vid\ntR\xff"s;
  auto part = brine::decode_partial(std::as_bytes(std::span<const char>(input.data(), input.size())));
  REQUIRE(part.error.has_value());
  CHECK(part.error->code == errc::invalid_opcode);
  CHECK(part.error->offset == 18);
  CHECK_FALSE(part.doc.root().valid());
  CHECK(part.doc.stop_offset() == 18);
  bool call = false;
  for (std::uint32_t i = 0; i < part.doc.node_count(); ++i) {
    const auto v = part.doc.node(i);
    if (v.kind() == kind::object) call = v.callable().module() == "os" && v.callable().name() == "system";
  }
  CHECK(call);
  auto good = brine::decode_partial(std::as_bytes(std::span<const char>("K\x01.", 3)));
  CHECK_FALSE(good.error.has_value());
  CHECK(good.doc.root().as_int64() == 1);
}

namespace {
// [[0], [1], ..., [n-1]] at protocol 2, in CPython's batches of 1000: each batch stores its inner
// lists in the document before the outer list takes them, so the outer list is never the last
// container stored when it grows.
std::string list_of_lists(int n, bool stop = true) {
  std::string s = "\x80\x02]q\x00("s;
  for (int i = 0; i < n; ++i) {
    if (i != 0 && i % 1000 == 0) s += "e(";
    s += "]M"s + static_cast<char>(i & 0xff) + static_cast<char>(i >> 8) + "a";
  }
  s += "e";
  if (stop) s += ".";
  return s;
}

void check_list_of_lists(brine::value root, int n) {
  REQUIRE(root.kind() == kind::list);
  REQUIRE(root.size() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    REQUIRE(root[static_cast<std::size_t>(i)].size() == 1);
    CHECK(root[static_cast<std::size_t>(i)][0].as_int64() == i);
  }
}
}  // namespace

TEST_CASE("a container that grows while others are stored after it keeps its items in order") {
  // The outer list moves to a table of its own after its first batch and back when decoding ends.
  check_list_of_lists(ok(list_of_lists(3500)).root(), 3500);
  CHECK(brine::validate(std::string_view(list_of_lists(3500))).has_value());

  // A reused decoder: the same again, twice.
  brine::decoder dec;
  for (int round = 0; round < 2; ++round) {
    const std::string input = list_of_lists(2500);
    auto r = dec.decode(std::string_view(input));
    REQUIRE(r.has_value());
    check_list_of_lists((*r)->root(), 2500);
  }

  // A decode that fails in the third batch keeps the first two batches in the outer list.
  const std::string cut = list_of_lists(2500, false).substr(0, 2 + 2 + 2 * 1000 * 5 + 2 + 300 * 5 + 1);
  auto part = brine::decode_partial(std::as_bytes(std::span<const char>(cut.data(), cut.size())));
  REQUIRE(part.error.has_value());
  CHECK(part.error->code == errc::truncated);
  const brine::value outer = part.doc.node(0);
  REQUIRE(outer.kind() == kind::list);
  REQUIRE(outer.size() == 2000);
  CHECK(outer[0][0].as_int64() == 0);
  CHECK(outer[1999][0].as_int64() == 1999);

  // set(list) folds the list as it stands, including the batches kept aside: protocol 2's
  // pickle.dumps({(i,) for i in range(3000)}).
  std::string set = "\x80\x02" "c__builtin__\nset\nq\x00]q\x01("s;
  for (int i = 0; i < 3000; ++i) {
    if (i != 0 && i % 1000 == 0) set += "e(";
    set += "M"s + static_cast<char>(i & 0xff) + static_cast<char>(i >> 8) + "\x85";
  }
  set += "e\x85R.";
  const auto folded = ok(set);
  REQUIRE(folded.root().kind() == kind::set);
  REQUIRE(folded.root().size() == 3000);
  CHECK(folded.root()[2999][0].as_int64() == 2999);
}
