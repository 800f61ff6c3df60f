// Tests for brine/encode.hpp: exact bytes against what CPython's pickle.dumps wrote.
#include "brine/encode.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "brine/detail/document_inl.hpp"

using namespace std::string_literals;

namespace {

struct vector_case {
  const char* name;
  int protocol;
  const char* hex;
};

const vector_case vectors[] = {
#include "data/encode_vectors.inc"
};

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

brine::document decoded(const std::string& bytes) {
  auto r = brine::decode_owned(std::string(bytes));
  REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
  return std::move(r).value();
}

std::string encoded(brine::value root, const brine::encode_options& opt) {
  auto e = brine::encode(root, opt);
  REQUIRE_MESSAGE(e.has_value(), e.error().to_string());
  return *e;
}

std::string reencode(const std::string& bytes, int protocol, brine::encode_options opt = {}) {
  auto doc = decoded(bytes);
  opt.protocol = protocol;
  auto e = brine::encode(doc.root(), opt);
  REQUIRE_MESSAGE(e.has_value(), e.error().to_string());
  return *e;
}

}  // namespace

TEST_CASE("decode -> encode gives CPython's bytes") {
  for (const auto& v : vectors) {
    CAPTURE(std::string(v.name));
    const std::string expected = unhex(v.hex);
    CHECK(reencode(expected, v.protocol) == expected);
  }
}

TEST_CASE("framing: commit points, tiny frames, large payloads outside frames") {
  // dumps(list(range(30000)), 5) has FRAME lengths [65537, 24270].
  std::string p = "\x80\x05\x95"s + le64(65537);
  {
    // Rebuild CPython's bytes from the rule, then check brine writes them.
    std::string body = "]\x94("s;
    std::vector<std::string> ops;
    for (int i = 0; i < 30000; ++i) {
      if (i % 1000 == 0 && i > 0) body += "e(";
      if (i < 256) body += "K"s + static_cast<char>(i);
      else body += "M"s + static_cast<char>(i & 0xff) + static_cast<char>(i >> 8);
    }
    body += "e.";
    auto doc = decoded("\x80\x05"s + body);
    auto out = brine::encode(doc.root());
    REQUIRE(out.has_value());
    REQUIRE(out->size() > 11);
    CHECK(out->substr(0, 11) == p);
    const std::size_t second = 11 + 65537;
    CHECK(static_cast<unsigned char>((*out)[second]) == 0x95);
    CHECK(out->substr(second + 1, 8) == le64(24270));
    CHECK(out->size() == second + 9 + 24270);
  }
  const std::string x65536(65536, 'x');
  // dumps([b'x'*65536, 1], 5)
  const std::string two = "\x80\x05]\x94(B\x00\x00\x01\x00"s + x65536 + "\x95"s + le64(5) + "\x94K\x01" "e."s;
  CHECK(reencode(two, 5) == two);
  // dumps(b'x'*65536, 5): no FRAME at all.
  const std::string alone = "\x80\x05" "B\x00\x00\x01\x00"s + x65536 + "\x94."s;
  CHECK(reencode(alone, 5) == alone);
  // dumps(b'x'*65535, 5): one FRAME of 65542 bytes.
  const std::string framed = "\x80\x05\x95"s + le64(65542) + "B\xff\xff\x00\x00"s + std::string(65535, 'x') + "\x94."s;
  CHECK(reencode(framed, 5) == framed);
}

TEST_CASE("profiles: the announced 3.15 batching") {
  brine::encode_options next;
  next.profile = brine::cpython_profile::cpython_3_15;
  std::string list1001 = "\x80\x02]q\x00("s;
  for (int i = 0; i < 1000; ++i) list1001 += i < 256 ? "K"s + static_cast<char>(i) : "M"s + static_cast<char>(i & 0xff) + static_cast<char>(i >> 8);
  list1001 += "e(M\xe8\x03" "e."s;
  CHECK(reencode(list1001, 2) == list1001);  // the default profile is CPython 3.8-3.14's
  const std::string harmonized = reencode(list1001, 2, next);
  CHECK(harmonized.substr(harmonized.size() - 6) == "eM\xe8\x03" "a."s);
  // A dict of 1000: no empty trailing batch.
  std::string dict = "\x80\x02}q\x00("s;
  for (int i = 0; i < 1000; ++i) dict += (i < 256 ? "K"s + static_cast<char>(i) : "M"s + static_cast<char>(i & 0xff) + static_cast<char>(i >> 8)) + "N";
  dict += "u(u."s;
  CHECK(reencode(dict, 2) == dict);
  const std::string d2 = reencode(dict, 2, next);
  CHECK(d2.substr(d2.size() - 3) == "Nu."s);
}

TEST_CASE("out-of-band buffers and the buffer callback") {
  const std::string data = "abcdef";
  brine::decode_options dopt;
  dopt.buffers_given = true;
  dopt.buffers.push_back({std::as_bytes(std::span<const char>(data.data(), data.size())), false});
  const std::string pb = "\x80\x05\x97\x98\x94h\x00\x86."s;
  auto doc = brine::decode(std::string_view(pb), dopt);  // (pb, pb) made read-only
  REQUIRE(doc.has_value());
  brine::encode_options oob;
  int calls = 0;
  oob.on_buffer = [&](brine::value, std::span<const std::byte> bytes, bool readonly) {
    ++calls;
    CHECK(bytes.size() == 6);
    CHECK(readonly);
    return false;
  };
  // Out-of-band: never memoized, the callback runs for each occurrence.
  auto out = brine::encode(doc->root(), oob);
  REQUIRE(out.has_value());
  CHECK(*out == "\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x97\x98\x97\x98\x86\x94."s);  // CPython 3.11, same callback
  CHECK(calls == 2);
  // In-band: a read-only buffer becomes bytes, memoized once.
  auto in = brine::encode(doc->root());
  REQUIRE(in.has_value());
  CHECK(*in == "\x80\x05\x95\x0e\x00\x00\x00\x00\x00\x00\x00" "C\x06" "abcdef\x94h\x00\x86\x94."s);  // CPython 3.11, no callback
  brine::encode_options p4;
  p4.protocol = 4;
  auto low = brine::encode(doc->root(), p4);
  REQUIRE_FALSE(low.has_value());
  CHECK(low.error().code == brine::errc::bad_argument);
  CHECK(low.error().message == "PickleBuffer can only be pickled with protocol >= 5");
}

TEST_CASE("recorded objects round-trip as recorded") {
  // A NEWOBJ + BUILD instance, a REDUCE with listitems, INST and OBJ.
  const std::string obj = "\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x01P\x94\x93\x94)\x81\x94}\x94\x8c\x01x\x94K\x01sb."s;
  CHECK(reencode(obj, 4) == obj);
  const std::string inst = "(S'x'\np0\ni__builtin__\nstr\np1\n."s;
  const std::string again = reencode(inst, 0);
  CHECK(again == "(Vx\np0\ni__builtin__\nunicode\np1\n."s);  // builtins.str, written as Python 2 names it
  auto a = decoded(inst);
  auto b = decoded(again);
  CHECK(brine::equivalent(a.root(), b.root()));
}

TEST_CASE("operations recorded on a global are written after it, once per class") {
  // mod.C with BUILD {'x': 1}: a class attribute overwrite, kept at every protocol.
  const std::string build = "\x80\x04\x8c\x03mod\x8c\x01" "C\x93}\x8c\x01xK\x01sb."s;
  CHECK(reencode(build, 2) == "\x80\x02" "cmod\nC\nq\x00}q\x01X\x01\x00\x00\x00xq\x02K\x01sb."s);
  for (int p = 0; p <= 5; ++p) {
    CAPTURE(p);
    auto a = decoded(build);
    auto b = decoded(reencode(build, p));
    CHECK(brine::equivalent(a.root(), b.root()));
  }
  // Two GLOBALs of one name, each with a BUILD: one class object, written once, both BUILDs.
  const std::string twice = "(cmod\nC\n(dS'x'\nI1\nsbcmod\nC\n(dS'y'\nI2\nsbt."s;
  CHECK(reencode(twice, 1) == "(cmod\nC\nq\x00}q\x01X\x01\x00\x00\x00xq\x02K\x01sbh\x00}q\x03X\x01\x00\x00\x00yq\x04K\x02sbtq\x05."s);
}

TEST_CASE("a global name a text line cannot hold is refused below protocol 4") {
  // Module 'a\nb' (from STACK_GLOBAL) and module '\ud800' (a lone surrogate, not UTF-8).
  const std::string newline = "\x80\x04\x8c\x03" "a\nb\x8c\x01" "C\x93."s;
  const std::string surrogate = "\x80\x04X\x03\x00\x00\x00\xed\xa0\x80\x8c\x01" "a\x93."s;
  for (const std::string* in : {&newline, &surrogate}) {
    auto doc = decoded(*in);
    for (int p = 0; p <= 3; ++p) {
      CAPTURE(p);
      brine::encode_options opt;
      opt.protocol = p;
      const auto e = brine::encode(doc.root(), opt);
      REQUIRE_FALSE(e.has_value());
      CHECK(e.error().code == brine::errc::bad_argument);
      CHECK(e.error().offset == in->size() - 2);
    }
    CHECK(reencode(*in, 4).size() > 0);
  }
  brine::encode_options p3;
  p3.protocol = 3;
  CHECK(brine::encode(decoded(surrogate).root(), p3).error().message ==
        "can't pickle module identifier '\xed\xa0\x80' using pickle protocol 3");
}

TEST_CASE("a sink receives the pickle in pieces; large payloads are not copied") {
  const std::string payload(100000, 'z');
  const std::string input = "\x80\x05\x8e"s + le64(payload.size()) + payload + "\x94."s;
  auto doc = brine::decode(std::string_view(input));
  REQUIRE(doc.has_value());
  std::string joined;
  bool saw_direct = false;
  auto n = brine::encode_to(doc->root(), [&](std::span<const std::byte> piece) {
    if (reinterpret_cast<const char*>(piece.data()) == input.data() + 11) saw_direct = true;
    joined.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    return true;
  });
  REQUIRE(n.has_value());
  CHECK(*n == joined.size());
  CHECK(saw_direct);
  auto whole = brine::encode(doc->root());
  REQUIRE(whole.has_value());
  CHECK(joined == *whole);
  auto refused = brine::encode_to(doc->root(), [](std::span<const std::byte>) { return false; });
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == brine::errc::io_error);
}

TEST_CASE("without frames a sink still receives the pickle in bounded pieces") {
  // A protocol 2 list of 100,000 ints, about 370 KB re-encoded, and no frames to commit.
  std::string input = "\x80\x02]q\x00("s;
  for (std::uint32_t i = 0; i < 100000; ++i) {
    if (i != 0 && i % 1000 == 0) input += "e(";
    input += 'J';
    input.append(reinterpret_cast<const char*>(&i), 4);  // little-endian hosts, as brine requires
  }
  input += "e.";
  auto doc = brine::decode(std::string_view(input));
  REQUIRE(doc.has_value());
  brine::encode_options p2;
  p2.protocol = 2;
  std::string joined;
  std::size_t pieces = 0, largest = 0;
  auto n = brine::encode_to(doc->root(), [&](std::span<const std::byte> piece) {
    ++pieces;
    largest = std::max(largest, piece.size());
    joined.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    return true;
  }, p2);
  REQUIRE(n.has_value());
  const auto whole = brine::encode(doc->root(), p2);
  REQUIRE(whole.has_value());
  CHECK(whole->size() > 300000);
  CHECK(joined == *whole);
  CHECK(*n == whole->size());
  CHECK(pieces > 1);
  CHECK(largest <= 4 * 65536 + 16);
  // A sink that refuses one piece fails the encode, even when it takes the later ones.
  std::size_t calls = 0;
  auto refused = brine::encode_to(doc->root(), [&](std::span<const std::byte>) { return ++calls != 1; }, p2);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == brine::errc::io_error);
  CHECK(calls > 1);
}

TEST_CASE("deep nesting encodes without recursion") {
  const std::size_t depth = 200000;
  std::string deep(depth, ']');
  deep.append(depth - 1, 'a');
  deep += '.';
  auto doc = decoded(deep);
  brine::encode_options opt;
  opt.protocol = 2;
  auto out = brine::encode(doc.root(), opt);
  REQUIRE(out.has_value());
  auto back = decoded(*out);
  CHECK(brine::equivalent(doc.root(), back.root()));
}

TEST_CASE("an encode inside a sink's call has tables of its own; the thread's tables are reused") {
  // The thread's memo and task stack are leased by the outer encode_to: encodes made by its sink
  // (of a deep document, which fills a task stack) must get fresh ones and leave the outer memo
  // intact. The outer pickle's 70,000-byte payload goes outside frames, so the sink is called
  // before the outer encode writes its last two references to 'hello' (BINGETs from the memo).
  std::string deep_bytes(3000, ']');
  deep_bytes.append(2999, 'a');
  deep_bytes += '.';
  const auto deep = decoded(deep_bytes);
  brine::encode_options p4;
  p4.protocol = 4;
  const auto deep_alone = brine::encode(deep.root(), p4);
  REQUIRE(deep_alone.has_value());
  const auto outer = decoded("\x80\x04]\x94(\x8c\x05hello\x94"s + "B\x70\x11\x01\x00"s + std::string(70000, 'x') +
                             "\x94h\x01h\x01" "e."s);
  const auto expected = brine::encode(outer.root(), p4);
  REQUIRE(expected.has_value());
  CHECK(expected->ends_with("h\x01h\x01" "e."s));
  std::string joined;
  std::size_t inner_encodes = 0;
  auto n = brine::encode_to(outer.root(), [&](std::span<const std::byte> piece) {
    joined.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    CHECK(encoded(deep.root(), p4) == *deep_alone);
    ++inner_encodes;
    return true;
  }, p4);
  REQUIRE(n.has_value());
  CHECK(inner_encodes >= 2);
  CHECK(joined == *expected);
  // Released between encodes, then used again: the same bytes.
  brine::release_retained_memory();
  CHECK(encoded(deep.root(), p4) == *deep_alone);
  CHECK(encoded(outer.root(), p4) == *expected);
}

TEST_CASE("what a protocol cannot express is an error, never a malformed pickle") {
  auto ext = decoded("\x80\x02\x82\x01."s);
  brine::encode_options p1;
  p1.protocol = 1;
  auto r = brine::encode(ext.root(), p1);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == brine::errc::bad_argument);
  brine::encode_options bad;
  bad.protocol = 6;
  CHECK_FALSE(brine::encode(ext.root(), bad).has_value());
  auto dotted = decoded("\x80\x04\x8c\x08" "builtins\x8c\tstr.upper\x93."s);
  brine::encode_options p3;
  p3.protocol = 3;
  auto d = brine::encode(dotted.root(), p3);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().offset == 23);
}

TEST_CASE("ints beyond 4300 digits cannot be LONG text: protocols 0-1 refuse them, as CPython does") {
  // 4300 nines: the longest text CPython writes (and reads) with its default int_max_str_digits.
  const std::string longest = "L" + std::string(4300, '9') + "L\n.";
  CHECK(reencode(longest, 0) == longest);
  // LONG4 of 2048 bytes: 2^16383 - 1, 4932 digits.
  const std::string huge = "\x80\x02\x8b\x00\x08\x00\x00"s + std::string(2047, '\xff') + "\x7f.";
  auto doc = decoded(huge);
  for (int p = 0; p <= 1; ++p) {
    brine::encode_options opt;
    opt.protocol = p;
    const auto e = brine::encode(doc.root(), opt);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code == brine::errc::bad_argument);
    CHECK(e.error().message.find("4300 digits") != std::string::npos);
  }
  CHECK(reencode(huge, 2) == huge);
}

namespace {
// Whether the document's root container was marked dense by the decoder (document_data::dense_items).
bool root_dense(const brine::document& doc) {
  return doc.data().items_dense(doc.data().nodes[doc.root().id()].u[0]);
}
}  // namespace

TEST_CASE("encode: lists of floats read as runs of nodes (dense items) write what reading their ids writes") {
  // A decoded list of fresh floats is marked dense and re-encoded from its nodes without its ids;
  // an int anywhere in it ends a run (the next one starts after it); a float fetched from the memo
  // makes the ids not consecutive, and the list is walked through its ids.
  std::vector<double> v(5000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 1.25 - 3.0;
  for (int protocol = 1; protocol <= 5; ++protocol) {
    CAPTURE(protocol);
    brine::encode_options opt;
    opt.protocol = protocol;
    const auto source = brine::pickle(v, opt);
    REQUIRE(source.has_value());
    const auto doc = decoded(*source);
    CHECK(root_dense(doc));
    CHECK(reencode(*source, protocol) == *source);
  }
  using item = std::variant<double, std::int64_t>;
  for (const std::size_t at : {std::size_t{0}, std::size_t{7}, std::size_t{15}, std::size_t{16}, std::size_t{999},
                               std::size_t{1000}, std::size_t{2500}, std::size_t{4999}}) {
    CAPTURE(at);
    std::vector<item> mixed(v.begin(), v.end());
    mixed[at] = std::int64_t{42};
    const auto source = brine::pickle(mixed);
    REQUIRE(source.has_value());
    CHECK(root_dense(decoded(*source)));
    CHECK(reencode(*source, 5) == *source);
  }
  // Lists of ints the same way (the bulk int kernel): every form put_int writes, a float or a
  // bigint anywhere ending a run, at every protocol that writes ints in binary.
  std::vector<std::int64_t> ints(5000);
  for (std::size_t i = 0; i < ints.size(); ++i)
    ints[i] = static_cast<std::int64_t>((i * 0x9E3779B97F4A7C15ull) >> (i % 64)) * (i % 2 == 0 ? 1 : -1);
  for (int protocol = 2; protocol <= 5; ++protocol) {
    CAPTURE(protocol);
    brine::encode_options opt;
    opt.protocol = protocol;
    const auto source = brine::pickle(ints, opt);
    REQUIRE(source.has_value());
    CHECK(root_dense(decoded(*source)));
    CHECK(reencode(*source, protocol) == *source);
  }
  using int_item = std::variant<std::int64_t, double, std::string>;
  for (const std::size_t at : {std::size_t{0}, std::size_t{3}, std::size_t{16}, std::size_t{17}, std::size_t{1000},
                               std::size_t{4999}}) {
    CAPTURE(at);
    std::vector<int_item> mixed(ints.begin(), ints.end());
    mixed[at] = 2.5;
    mixed[(at + 2500) % mixed.size()] = std::string("a bigint would do as well: any other kind");
    const auto source = brine::pickle(mixed);
    REQUIRE(source.has_value());
    CHECK(root_dense(decoded(*source)));
    CHECK(reencode(*source, 5) == *source);
  }
  // Protocol 2, no frames: [f0 .. f39] with f3 memoized (BINPUT 1) and item 20 a BINGET 1 of it,
  // then a float that is not in the list (so the ids alone cannot tell the list from a dense one).
  std::string p("\x80\x02]q\x00(", 6);
  std::vector<double> expected_items(40);
  for (std::size_t i = 0; i < 40; ++i) {
    expected_items[i] = static_cast<double>(i) + 0.5;
    if (i == 20) {
      expected_items[i] = expected_items[3];
      p += "h\x01";
      continue;
    }
    brine::encode_options p1;
    p1.protocol = 1;
    const auto one = brine::pickle(expected_items[i], p1);  // BINFLOAT ... STOP
    REQUIRE(one.has_value());
    p += one->substr(0, 9);
    if (i == 3) p += std::string("q\x01", 2);
  }
  p += "e";
  p += std::string("G\x40\x00\x00\x00\x00\x00\x00\x00" "0", 10);  // a float made and popped: node ids go on
  p += ".";
  const auto doc = decoded(p);
  REQUIRE(doc.data().nodes.size() == 41);  // the list, 39 floats in it, the popped one
  CHECK_FALSE(root_dense(doc));
  brine::encode_options p2;
  p2.protocol = 2;
  const auto expected = brine::pickle(expected_items, p2);  // CPython writes a float each time
  REQUIRE(expected.has_value());
  CHECK(reencode(p, 2) == *expected);
}
