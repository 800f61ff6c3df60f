// Tests for brine/convert.hpp: C++ values encode to CPython's exact bytes; decoded values convert
// back to C++ types with precise errors.
#include "brine/convert.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "brine/decode.hpp"

using namespace std::string_literals;

namespace {

struct vector_case {
  const char* name;
  int protocol;
  const char* hex;
};
const vector_case vectors[] = {
#include "data/convert_vectors.inc"
};

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string expected(std::string_view name, int protocol) {
  for (const auto& v : vectors)
    if (v.name == name && v.protocol == protocol) return unhex(v.hex);
  FAIL("no vector " << name);
  return {};
}

template <class T>
void check_bytes(std::string_view name, const T& value) {
  for (int p = 0; p <= 5; ++p) {
    CAPTURE(std::string(name));
    CAPTURE(p);
    brine::encode_options opt;
    opt.protocol = p;
    auto out = brine::pickle(value, opt);
    REQUIRE_MESSAGE(out.has_value(), out.error().to_string());
    CHECK(*out == expected(name, p));
  }
}

}  // namespace

// A user type through the one customization point: a types.SimpleNamespace in Python.
struct point {
  int x;
  double y;
  bool operator==(const point&) const = default;
};

template <>
struct brine::codec<point> {
  static void encode(brine::typed_encoder& e, const point& p) {
    e.object("types", "SimpleNamespace", [&] { e.dict_of("x", p.x, "y", p.y); });
  }
  static brine::result<point> decode(brine::value v) {
    if (!v.is(brine::kind::object)) return brine::detail::conversion_error(v, "SimpleNamespace");
    const auto ops = v.ops();
    if (ops.size() != 1 || ops[0].kind != brine::op_kind::build) return brine::detail::conversion_error(v, "SimpleNamespace state");
    const brine::value state = ops[0].values[0];
    auto x = brine::from_value<int>(state.find("x"));
    auto y = brine::from_value<double>(state.find("y"));
    if (!x) return x.error();
    if (!y) return y.error();
    return point{*x, *y};
  }
};

// Rows written with dict_of: CPython's [{"name": ..., "score": ..., "tags": ...}, ...], whose keys
// are the constants of one dict display, shared by every row.
struct row {
  std::string name;
  int score;
  double tags;
};

template <>
struct brine::codec<row> {
  static void encode(brine::typed_encoder& e, const row& r) { e.dict_of("name", r.name, "score", r.score, "tags", r.tags); }
};

TEST_CASE("typed values encode to CPython's bytes at every protocol") {
  check_bytes("vector_int", std::vector<int>{1, 2, 3});
  std::vector<long> big(1001);
  for (long i = 0; i < 1001; ++i) big[static_cast<std::size_t>(i)] = i;
  check_bytes("vector_1001", big);
  check_bytes("map_str_int", std::map<std::string, int>{{"a", 1}, {"b", 2}});
  std::map<int, int> m;
  for (int i = 0; i < 1000; ++i) m[i] = i;
  check_bytes("map_1000", m);
  check_bytes("tuple_mixed", std::tuple<int, std::string, double>{1, "x", 2.5});
  check_bytes("pair", std::pair<int, bool>{7, true});
  check_bytes("set_int", std::set<int>{1, 2, 3});
  std::set<int> s;
  for (int i = 0; i < 1000; ++i) s.insert(i);
  check_bytes("set_1000", s);
  check_bytes("optional_none", std::optional<int>{});
  check_bytes("bytes", std::vector<std::uint8_t>{1, 2});
  check_bytes("bytes_1", std::vector<std::uint8_t>{'a'});
  check_bytes("empty_bytes", std::vector<std::byte>{});
  check_bytes("extremes", std::tuple<std::int8_t, std::int8_t, std::uint8_t, std::uint16_t, std::int32_t, std::int32_t,
                                    std::uint32_t, std::int64_t, std::int64_t, std::uint64_t>{
                              -128, 127, 255, 65535, INT32_MIN, INT32_MAX, 2147483648u, INT64_MIN, INT64_MAX, UINT64_MAX});
  check_bytes("floats", std::array<double, 3>{1.5, -0.0, std::numeric_limits<double>::infinity()});
  check_bytes("strings", std::vector<std::string>{"", "caf\xc3\xa9", "\xf0\x9f\x90\x8d", "line\nbreak"});
  check_bytes("nested", std::map<std::string, std::variant<std::vector<std::vector<int>>, std::tuple<std::nullptr_t, bool>>>{
                            {"k", std::vector<std::vector<int>>{{1}, {2, 3}}}, {"t", std::tuple<std::nullptr_t, bool>{nullptr, false}}});
  check_bytes("point", point{1, 2.5});
  check_bytes("dict_of_rows", std::vector<row>{{"abc", 1, 2.5}, {"def", 2, -1.0}});
}

// dict_of with a value of each type it writes itself (ints, bool, float, None, short strs, interned
// strs, one-batch lists of those) and of types it leaves to value() (an int above int64, '' and
// 1-character strs, a str longer than 255 bytes, an optional): CPython's
//   [{"id": 7, "name": "ab", "tags": ["north", "x", "north", "ops"], "parent": None, "big": 2**64 - 1,
//     "flag": True, "v": [1, 2], "one": ["\u00e9"], "empty": [], "long": "y" * 300, "arr": [0.5, -2.0],
//     "opt": None, "neg": -70000, "word": "north"},
//    {"id": 2**40, "name": "", "tags": ["ops"], ..., "flag": False, "v": [3], "long": "y" * 301,
//     "arr": [1e300, 0.0], "opt": 5, "neg": -1, ...}]
// where the keys, "north", "ops", "x", "\u00e9" and "" are one object each.
struct local_record {
  std::int64_t id;
  std::string name;
  std::vector<std::string> tags;
  bool flag;
  std::vector<int> v;
  std::size_t long_size;
  std::array<double, 2> arr;
  std::optional<int> opt;
  std::int64_t neg;
};

template <>
struct brine::codec<local_record> {
  static void encode(brine::typed_encoder& e, const local_record& r) {
    const std::vector<std::string> one{"\xc3\xa9"};
    const std::vector<std::int16_t> empty;
    e.dict_of("id", r.id, "name", r.name, "tags", brine::interned_list{r.tags}, "parent", nullptr, "big", UINT64_MAX, "flag",
              r.flag, "v", r.v, "one", one, "empty", empty, "long", std::string(r.long_size, 'y'), "arr", r.arr, "opt", r.opt,
              "neg", r.neg, "word", brine::interned{"north"});
  }
};

TEST_CASE("dict_of: values it writes itself and values it leaves to value()") {
  check_bytes("dict_of_local",
              std::vector<local_record>{{7, "ab", {"north", "x", "north", "ops"}, true, {1, 2}, 300, {0.5, -2.0}, std::nullopt, -70000},
                                        {std::int64_t{1} << 40, "", {"ops"}, false, {3}, 301, {1e300, 0.0}, 5, -1}});
}

TEST_CASE("interned and interned_list outside dict_of") {
  // CPython: pickle.dumps(['north', 'north', 'ops', 'x'], 5), the interned 'north' one object.
  const std::string want = "\x80\x05\x95\x19\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x05north\x94h\x01\x8c\x03ops\x94\x8c\x01x\x94" "e."s;
  const std::vector<std::string> words{"north", "north", "ops", "x"};
  const std::array<std::string_view, 4> views{"north", "north", "ops", "x"};
  CHECK(brine::pickle(brine::interned_list{words}).value() == want);
  CHECK(brine::pickle(brine::interned_list{views}).value() == want);
  CHECK(brine::pickle(std::vector<brine::interned>{{"north"}, {"north"}, {"ops"}, {"x"}}).value() == want);
}

// The first string written twice, then again after its text changed, then the second string.
struct interned_probe {
  std::string* first;
  std::string* second;
};

template <>
struct brine::codec<interned_probe> {
  static void encode(brine::typed_encoder& e, const interned_probe& p) {
    e.list(4, [&](std::size_t i) {
      if (i == 2) *p.first = "change";  // the same storage now holds another text
      e.interned_str(i < 3 ? *p.first : *p.second);
    });
  }
};

TEST_CASE("interned strs are written once per pickle, found by their text") {
  std::string a = "shared", b = "shared";
  const auto got = brine::pickle(interned_probe{&a, &b});
  REQUIRE(got.has_value());
  // CPython's ['shared', 'shared', 'change', 'shared'] with one 'shared' object.
  CHECK(*got == "\x80\x05\x95\x1b\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x06shared\x94h\x01\x8c\x06" "change\x94h\x01" "e."s);
}

// dict_of's keys: a literal, a char array filled to its end (no NUL), a char array holding a
// shorter text, and a std::string; each key's text is exactly the characters before its NUL.
struct key_forms {};

template <>
struct brine::codec<key_forms> {
  static void encode(brine::typed_encoder& e, const key_forms&) {
    const char full[3] = {'a', 'b', 'c'};
    const char shorter[8] = "de\0fg";
    const std::string owned = "h";
    e.dict_of("lit", 1, full, 2, shorter, 3, owned, 4);
  }
};

TEST_CASE("dict_of keys: literals, char arrays up to their first NUL or their end, strings") {
  const auto got = brine::pickle(key_forms{});
  REQUIRE(got.has_value());
  // CPython: pickle.dumps({'lit': 1, 'abc': 2, 'de': 3, 'h': 4}, 5)
  CHECK(*got == "\x80\x05\x95\"\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x03lit\x94K\x01\x8c\x03" "abc\x94K\x02\x8c\x02" "de\x94K\x03\x8c\x01h\x94K\x04u."s);
}

// Shared objects under many keys, in a fixed pseudo-random order: more keys than the inline cache
// has slots (so entries are evicted and found again in the full table), keys longer than it
// caches, the same texts as user keys and as interned strs (two namespaces: distinct objects),
// and keys given a new object part way (later fetches must find the new one).
struct shared_script {
  struct step {
    int kind;  // 0: fetch_shared or write and remember; 1: interned_str; 2: write and remember again
    std::string key;
  };
  std::vector<step> steps;
};

template <>
struct brine::codec<shared_script> {
  static void encode(brine::typed_encoder& e, const shared_script& s) {
    e.list(s.steps.size(), [&](std::size_t i) {
      const auto& st = s.steps[i];
      if (st.kind == 1) return e.interned_str(st.key);
      if (st.kind == 0 && e.fetch_shared(st.key)) return;
      e.str("obj:" + st.key + ":" + std::to_string(i));
      e.remember_shared(st.key);
    });
  }
};

TEST_CASE("shared objects: the inline cache finds what the full table holds") {
  shared_script script;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    std::string k = "k" + std::to_string(i * 7919 % 1000);
    k.resize(static_cast<std::size_t>(i % 41), static_cast<char>('a' + i % 26));  // lengths 0..40
    keys.push_back(k + std::to_string(i));
  }
  std::uint64_t x = 88172645463325252ull;  // xorshift64: a fixed sequence
  for (int i = 0; i < 6000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const int kind = x % 20 == 0 ? 2 : x % 3 == 0 ? 1 : 0;
    script.steps.push_back({kind, keys[(x >> 8) % keys.size()]});
  }
  const auto p = brine::pickle(script);
  REQUIRE(p.has_value());
  const auto d = brine::decode(std::string_view(*p));
  REQUIRE(d.has_value());
  const brine::value list = d->root();
  REQUIRE(list.size() == script.steps.size());

  // The model: the position of the object each key names, per namespace.
  std::map<std::string, std::size_t> user, interned;
  for (std::size_t i = 0; i < script.steps.size(); ++i) {
    const auto& st = script.steps[i];
    std::map<std::string, std::size_t>& names = st.kind == 1 ? interned : user;
    const auto found = names.find(st.key);
    const bool fresh = found == names.end() || st.kind == 2;
    if (fresh) names[st.key] = i;
    const std::size_t at = names[st.key];
    INFO("step " << i << " key '" << st.key << "'");
    CHECK(list[i].id() == list[at].id());
    if (fresh && at == i) {
      CHECK(list[i].as_str() == (st.kind == 1 ? st.key : "obj:" + st.key + ":" + std::to_string(i)));
      if (i > 0) CHECK(list[i].id() != list[i - 1].id());
    }
  }
  // Both namespaces were used for the same texts, and each stayed its own.
  std::size_t both = 0;
  for (const auto& [k, at] : interned)
    if (user.count(k) != 0) {
      ++both;
      CHECK(list[at].id() != list[user[k]].id());
    }
  CHECK(both > 100);
}

// The same elements through value() one at a time: the reference for list_of's batch path.
template <class T>
struct one_by_one {
  std::vector<T> items;
};
template <class T>
struct brine::codec<one_by_one<T>> {
  static void encode(brine::typed_encoder& e, const one_by_one<T>& v) {
    e.list(v.items.size(), [&](std::size_t i) { e.value(v.items[i]); });
  }
};

TEST_CASE("contiguous lists of scalars and strs take the batch path, with CPython's bytes") {
  check_bytes("list_of_strs", std::vector<std::string>{"a", "a", "", "", "\xc3\xa9", "\xc3\xa9", "xy", std::string(300, 'z'), "xy"});
  check_bytes("list_of_strs", std::vector<std::string_view>{"a", "a", "", "", "\xc3\xa9", "\xc3\xa9", "xy", std::string_view(std::string(300, 'z')), "xy"});
  check_bytes("list_of_ints", std::vector<std::int64_t>{0, 255, 256, 65535, 65536, -1, -129, INT32_MAX, INT32_MIN, 2147483648LL,
                                                        -2147483649LL, 1LL << 40, -(1LL << 40), INT64_MAX, INT64_MIN});
  check_bytes("list_of_ints", std::vector<long long>{0, 255, 256, 65535, 65536, -1, -129, INT32_MAX, INT32_MIN, 2147483648LL,
                                                     -2147483649LL, 1LL << 40, -(1LL << 40), INT64_MAX, INT64_MIN});
  check_bytes("list_of_floats", std::vector<double>{1.5, -0.0, 1e300, 5e-324});
  check_bytes("list_of_f32", std::vector<float>{0.5f, 1.25f, -3.0f});
  check_bytes("list_of_u64", std::vector<std::uint64_t>{0, UINT64_MAX});
  check_bytes("list_of_i16", std::array<std::int16_t, 3>{-32768, 32767, 0});

  // Many items: batches of 1000, frames committed at 64 KiB, memo indices past 255 and 65535.
  std::vector<std::int64_t> ints(70001);
  std::vector<double> floats(70001);
  std::vector<std::string> strs(70001);
  std::vector<std::int32_t> narrow(70001);
  for (std::size_t i = 0; i < ints.size(); ++i) {
    ints[i] = static_cast<std::int64_t>(i * i * 977) * (i % 2 ? -1 : 1);
    floats[i] = static_cast<double>(i) / 7;
    strs[i] = i % 97 == 0 ? std::string(1, static_cast<char>('a' + i % 26)) : "s" + std::to_string(i) + std::string(i % 300, 'x');
    narrow[i] = static_cast<std::int32_t>(i * 31) - 1000000;
  }
  for (int p = 0; p <= 5; ++p) {
    CAPTURE(p);
    brine::encode_options opt;
    opt.protocol = p;
    CHECK(*brine::pickle(ints, opt) == *brine::pickle(one_by_one<std::int64_t>{ints}, opt));
    CHECK(*brine::pickle(floats, opt) == *brine::pickle(one_by_one<double>{floats}, opt));
    CHECK(*brine::pickle(strs, opt) == *brine::pickle(one_by_one<std::string>{strs}, opt));
    CHECK(*brine::pickle(narrow, opt) == *brine::pickle(one_by_one<std::int32_t>{narrow}, opt));
  }
  // And what the generic path writes for them decodes to the same values.
  brine::encode_options p5;
  const auto bytes = brine::pickle(strs, p5);
  REQUIRE(bytes.has_value());
  auto doc = brine::decode(std::string_view(*bytes));
  REQUIRE(doc.has_value());
  const auto back = brine::from_value<std::vector<std::string>>(doc->root());
  REQUIRE(back.has_value());
  CHECK(*back == strs);
}

// One tuple referenced three times: written once, then fetched by its memo index.
struct shared_tuple {};
template <>
struct brine::codec<shared_tuple> {
  static void encode(brine::typed_encoder& e, const shared_tuple&) {
    std::uint64_t memo = 0;
    bool written = false;
    const auto tuple = [&] {
      if (written) return e.memo_get(memo);
      e.value(std::tuple<std::string, int>{"xyz", 1});
      memo = e.last_memo_index();
      written = true;
    };
    e.list(3, [&](std::size_t i) {
      if (i < 2) tuple();
      else e.list(1, [&](std::size_t) { tuple(); });
    });
  }
};

TEST_CASE("a codec shares an object by its memo index") { check_bytes("shared_tuple", shared_tuple{}); }

TEST_CASE("decode into C++ types") {
  auto doc = brine::decode_owned(expected("nested", 4));
  REQUIRE(doc.has_value());
  const brine::value root = doc->root();
  auto k = brine::from_value<std::vector<std::vector<int>>>(root.find("k"));
  REQUIRE(k.has_value());
  CHECK(*k == std::vector<std::vector<int>>{{1}, {2, 3}});
  auto t = brine::from_value<std::tuple<std::optional<int>, bool>>(root.find("t"));
  REQUIRE(t.has_value());
  CHECK_FALSE(std::get<0>(*t).has_value());
  auto m = brine::from_value<std::map<std::string, int>>(brine::decode_owned(expected("map_str_int", 2))->root());
  REQUIRE(m.has_value());
  CHECK(m->at("b") == 2);
  auto pt = brine::from_value<point>(brine::decode_owned(expected("point", 2))->root());
  REQUIRE(pt.has_value());
  CHECK(*pt == point{1, 2.5});
  auto v = brine::from_value<std::variant<std::string, std::vector<int>>>(brine::decode_owned(expected("vector_int", 3))->root());
  REQUIRE(v.has_value());
  CHECK(std::get<std::vector<int>>(*v) == std::vector<int>{1, 2, 3});
  auto bytes = brine::from_value<std::vector<std::uint8_t>>(brine::decode_owned(expected("bytes", 2))->root());
  REQUIRE(bytes.has_value());
  CHECK(*bytes == std::vector<std::uint8_t>{1, 2});
  auto st = brine::from_value<std::set<int>>(brine::decode_owned(expected("set_int", 2))->root());
  REQUIRE(st.has_value());
  CHECK(st->size() == 3);
}

TEST_CASE("conversion errors name the kinds and the offset") {
  auto doc = brine::decode_owned(expected("map_str_int", 4));
  REQUIRE(doc.has_value());
  auto wrong = brine::from_value<std::vector<int>>(doc->root());
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().code == brine::errc::type_mismatch);
  CHECK(wrong.error().message == "expected list, found dict at offset 11");
  CHECK(wrong.error().offset == 11);
  auto range = brine::from_value<std::int8_t>(brine::decode_owned("\x80\x04M\x00\x01."s)->root());
  REQUIRE_FALSE(range.has_value());
  CHECK(range.error().message == "expected int in range, found int at offset 2");
  auto inner = brine::from_value<std::map<std::string, std::string>>(doc->root());
  REQUIRE_FALSE(inner.has_value());
  CHECK(inner.error().message == "expected str, found int at offset 18");
}

TEST_CASE("out-of-band spans: O(1) in the data size, through the callback") {
  std::vector<double> data(1000000, 1.25);
  brine::encode_options opt;
  std::size_t seen = 0;
  const void* where = nullptr;
  opt.on_buffer = [&](brine::value, std::span<const std::byte> b, bool readonly) {
    seen = b.size();
    where = b.data();
    CHECK(readonly);
    return false;
  };
  auto out = brine::pickle(brine::out_of_band<double>{data}, opt);
  REQUIRE(out.has_value());
  CHECK(*out == "\x80\x05\x97\x98."s);
  CHECK(seen == 8000000);
  CHECK(where == data.data());
  brine::encode_options p4;
  p4.protocol = 4;
  CHECK_FALSE(brine::pickle(brine::out_of_band<double>{data}, p4).has_value());
}
