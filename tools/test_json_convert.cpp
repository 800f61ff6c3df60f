// Tests for tools/json_text.hpp and tools/json_convert.hpp: the JSON parser, plain JSON's rules
// and errors, the budget, and the lossless round trip: for every corpus pickle, lossless JSON ->
// pickle_from_json -> decode gives a graph brine::equivalent to the original.
#include "json_convert.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <brine/decode.hpp>

#include "json_text.hpp"

using namespace std::string_literals;
using brine_cli::json_options;

namespace {

brine::document decode_copy(const std::string& bytes, const brine::decode_options& o = {}) {
  auto r = brine::decode_owned(std::string(bytes), o);
  if (!r) FAIL_CHECK(r.error().to_string());
  REQUIRE(r.has_value());
  return std::move(r).value();
}

std::string plain(const std::string& pickle) {
  const auto doc = decode_copy(pickle);
  auto j = brine_cli::to_json(doc.root(), {});
  if (!j) return "error: " + j.error().message;
  return *j;
}

std::string lossless(const std::string& pickle) {
  const auto doc = decode_copy(pickle);
  json_options o;
  o.lossless = true;
  auto j = brine_cli::to_json(doc.root(), o);
  REQUIRE(j.has_value());
  return *j;
}

// JSON -> pickle -> decode (no folds) must give a graph equivalent to `doc`.
void round_trip(const brine::document& doc, const std::string& where) {
  json_options o;
  o.lossless = true;
  auto j = brine_cli::to_json(doc.root(), o);
  CAPTURE(where);
  REQUIRE(j.has_value());
  auto p = brine_cli::pickle_from_json(*j);
  if (!p) FAIL_CHECK(p.error().message);
  REQUIRE(p.has_value());
  brine::decode_options nofold;
  nofold.fold_builtins = false;
  const auto back = decode_copy(*p, nofold);
  CAPTURE(*j);
  CHECK(brine::equivalent(doc.root(), back.root()));
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("parser: values, escapes, surrogates, errors with offsets") {
  auto d = brine_cli::parse_json(R"( {"a": [1, -2.5e3, true, false, null, "x\u00e9\n\ud83d\ude00\udc00"], "b": {}} )");
  REQUIRE(d.has_value());
  const auto& root = d->root();
  REQUIRE(root.t == brine_cli::json_value::type::object);
  const auto* a = brine_cli::json_member(*d, root, "a");
  REQUIRE(a != nullptr);
  REQUIRE(a->items.size() == 6);
  CHECK(d->values[a->items[0]].integer);
  CHECK_FALSE(d->values[a->items[1]].integer);
  CHECK(d->values[a->items[1]].text == "-2.5e3");
  CHECK(d->values[a->items[5]].text == "x\xc3\xa9\n\xf0\x9f\x98\x80\xed\xb0\x80");  // the lone low surrogate kept as WTF-8
  for (auto [text, offset] : {std::pair{"[1,]", 3}, {"{\"a\" 1}", 5}, {"[1 2]", 3}, {"\"abc", 4}, {"01", 1}, {"[", 1},
                              {"{1:2}", 1}, {"nul", 0}, {"\"\\q\"", 3}, {"1 2", 2}, {"\"\x01\"", 1}}) {
    CAPTURE(text);
    auto e = brine_cli::parse_json(text);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().offset == static_cast<std::uint64_t>(offset));
  }
  // Deep nesting costs no recursion.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  CHECK(brine_cli::parse_json(deep).has_value());
}

TEST_CASE("base64") {
  std::string out;
  const std::string raw = "\x00\xff\x10 any carnal pleas"s;
  brine_cli::append_base64(out, std::as_bytes(std::span<const char>(raw.data(), raw.size())));
  CHECK(out == "AP8QIGFueSBjYXJuYWwgcGxlYXM=");
  std::string back;
  CHECK(brine_cli::decode_base64(out, back));
  CHECK(back == raw);
  CHECK_FALSE(brine_cli::decode_base64("a$==", back));
}

TEST_CASE("plain JSON: data-only values") {
  // {'a': [1, 2.5, True, None], 'b': (b'\x00', 'é'), 'c': 2**70, 'd': -0.0, 'e': 1.0}
  CHECK(plain("\x80\x04}(\x8c\x01" "a](K\x01G@\x04\x00\x00\x00\x00\x00\x00\x88" "Ne\x8c\x01" "bC\x01\x00\x8c\x02\xc3\xa9\x86\x8c\x01" "c\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8c\x01" "dG\x80\x00\x00\x00\x00\x00\x00\x00\x8c\x01" "eG?\xf0\x00\x00\x00\x00\x00\x00u."s) ==
        R"({"a":[1,2.5,true,null],"b":["AA==","é"],"c":1180591620717411303424,"d":-0.0,"e":1.0})");
  // A key written twice: first position, last value (CPython's dict).
  CHECK(plain("(\x8c\x01" "aK\x01\x8c\x01" "bK\x02\x8c\x01" "aK\x03" "d."s) == R"({"a":3,"b":2})");
  // Shared values are written in full.
  CHECK(plain("](K\x01" "eq\x00(h\x00h\x00l."s) == "[[1],[1]]");
}

TEST_CASE("plain JSON: a clear error names the first non-JSON node") {
  CHECK(plain("\x80\x04\x8f."s) == "error: set at offset 2 is not JSON data (--lossless writes every kind)");
  CHECK(plain("}K\x01K\x02s."s) == "error: dict key int at offset 1 is not a str (JSON object keys are strings)");
  CHECK(plain("](G\x7f\xf8\x00\x00\x00\x00\x00\x00" "e."s) == "error: float nan at offset 2 is not JSON data (--lossless keeps it)");
  CHECK(plain("cos\nsystem\n."s) == "error: global at offset 0 is not JSON data (--lossless writes every kind)");
  CHECK(plain("]q\x00h\x00" "a."s) == "error: list at offset 0 contains itself (a cycle); --lossless writes cycles");
}

TEST_CASE("plain JSON: billion laughs hits the budget") {
  std::string laughs = "\x80\x04]\x94" "0"s;
  for (int i = 0; i < 9; ++i) {
    laughs += "(";
    for (int k = 0; k < 10; ++k) laughs += "h"s + static_cast<char>(i);
    laughs += "l\x94" "0"s;
  }
  laughs += "h\x09."s;
  const auto doc = decode_copy(laughs);
  auto j = brine_cli::to_json(doc.root(), {});
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error().code == brine::errc::limit_exceeded);
  CHECK(j.error().detail == static_cast<std::uint64_t>(brine::limit::max_expanded_nodes));
  // Lossless JSON writes each value once.
  json_options o;
  o.lossless = true;
  auto l = brine_cli::to_json(doc.root(), o);
  REQUIRE(l.has_value());
  CHECK(l->size() < 2000);
  round_trip(doc, "billion laughs");
}

TEST_CASE("lossless JSON: every kind, sharing, cycles") {
  CHECK(lossless("]q\x00h\x00" "a."s) == R"({"$id":1,"$list":[{"$ref":1}]})");
  CHECK(lossless("\x80\x04\x8f(K\x01\x90."s) == R"({"$set":[1]})");
  CHECK(lossless("(G\x7f\xf8\x00\x00\x00\x00\x00\x01" "t."s) == R"({"$tuple":[{"$float":"7ff8000000000001"}]})");
  CHECK(lossless("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x80."s) == R"({"$int":"-0x800000000000000000"})");
  CHECK(lossless("ccopy_reg\n_reconstructor\n."s) == R"({"$global":["copyreg","_reconstructor"],"raw":["copy_reg","_reconstructor"]})");
  CHECK(lossless("\x80\x02\x82\x05."s) == R"({"$ext":5})");
  CHECK(lossless("Pabc\n."s) == R"({"$persid":"abc","binary":false})");
  CHECK(lossless("X\x03\x00\x00\x00\xed\xa0\x80."s) == R"({"$wtf8":"7aCA"})");
  CHECK(lossless("(X\x01\x00\x00\x00" "aq\x00h\x00t."s) == R"({"$tuple":[{"$id":1,"$str":"a"},{"$ref":1}]})");
  for (const std::string& p : {
           "]q\x00h\x00" "a."s,                                              // list in itself
           "]q\x00\x85q\x01h\x00h\x01" "a0."s,                               // tuple -> list -> tuple
           "\x80\x04\x8f(K\x01\x90."s,                                      // set
           "\x80\x04(K\x01\x91."s,                                          // frozenset
           "cos\nsystem\n(Vid\ntR."s,                                       // REDUCE
           "\x80\x02" "cbuiltins\nobject\n)\x81}b."s,                       // NEWOBJ + BUILD
           "\x80\x04\x8c\x01" "m\x8c\x01" "C\x93)}\x92."s,                 // NEWOBJ_EX
           "(S'x'\ni__builtin__\nexec\n."s,                                 // INST
           "(cos\nsystem\nS\"id\"\no."s,                                    // OBJ
           "\x80\x04\x8c\x05torch\x8c\x06_utils\x93}b."s,                   // BUILD on a global
           "\x80\x02\x82\x05)\x81."s,                                       // EXT
           "NQ."s, "Pabc\n."s,                                              // persistent ids
           "\x80\x02" "ccollections\nOrderedDict\n)R(K\x01K\x02uK\x03K\x04s]q\x00K\x05" "ab."s,  // SETITEMS, SETITEM, APPEND target
           "\x80\x04" "cm\nC\n)R(K\x01K\x02" "eK\x03" "a(K\x04\x90."s,     // APPENDS, APPEND, ADDITEMS on an object
           "C\x01" "a]q\x00(h\x00h\x00" "e\x96\x01\x00\x00\x00\x00\x00\x00\x00" "b."s,           // bytes, bytearray
           "(I12345678901234567890123\nG\x7f\xf0\x00\x00\x00\x00\x00\x00" "F-0.0\nt."s,          // big int, inf, -0.0
       }) {
    const auto doc = decode_copy(p, [] { brine::decode_options o; o.fold_builtins = false; return o; }());
    round_trip(doc, p);
  }
}

TEST_CASE("pickle_from_json: plain JSON and errors") {
  auto p = brine_cli::pickle_from_json(R"({"a": [1, 2.5, "x", null, true], "b": {}})");
  REQUIRE(p.has_value());
  const auto doc = decode_copy(*p);
  CHECK(doc.root().find("a").size() == 5);
  for (auto [text, offset] : {std::pair{R"({"$nope": 1})", 1}, {R"({"$ref": 1})", 9}, {R"({"$list": [], "$tuple": []})", 14},
                              {R"({"$int": "12"})", 9}, {R"({"$object": "call", "callable": null, "args": {"$tuple": []}})", 0},
                              {R"({"$id": 1, "$tuple": [{"$ref": 1}]})", 0}, {R"({"$bytes": "@@"})", 11}}) {
    CAPTURE(text);
    auto e = brine_cli::pickle_from_json(text);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().offset == static_cast<std::uint64_t>(offset));
  }
}

TEST_CASE("corpus: lossless JSON rebuilds an equivalent graph") {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(BRINE_SOURCE_DIR) / "conformance" / "corpus";
  REQUIRE(fs::is_directory(root));
  std::size_t n = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("y_", 0) != 0 || entry.path().extension() != ".pkl") continue;
    fs::path desc = entry.path();
    desc.replace_extension(".desc");
    const std::string meta = read_file(desc);
    if (meta.find("\nbuffers=0\n") == std::string::npos) continue;  // out-of-band buffers come back in-band
    brine::decode_options o;
    if (meta.find("\nencoding=latin1\n") != std::string::npos) o.encoding = brine::py2_encoding::latin1;
    if (meta.find("\nencoding=bytes\n") != std::string::npos) o.encoding = brine::py2_encoding::bytes;
    const auto doc = decode_copy(read_file(entry.path()), o);
    round_trip(doc, entry.path().string());
    ++n;
  }
  MESSAGE(n << " corpus pickles round-tripped");
  CHECK(n > 600);
}
