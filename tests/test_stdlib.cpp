// Tests for brine/stdlib.hpp: every standard-library type round-trips CPython -> brine -> CPython
// with byte-identical pickles at protocols 0-5 (vectors from tests/numpy/gen_stdlib.py, CPython
// 3.11), and bad input is refused with precise errors.
#include "brine/stdlib.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>

#include "brine/decode.hpp"

using namespace brine;

namespace {

struct vector_case {
  const char* name;
  int protocol;
  const char* hex;
};
const vector_case vectors[] = {
#include "numpy/data/stdlib_vectors.inc"
};

// A literal's bytes, NULs included.
template <std::size_t N> std::string_view lit(const char (&s)[N]) { return {s, N - 1}; }

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

// Fold is written from protocol 4 on; below, CPython reads back fold 0.
template <class T> T without_fold(T x, int protocol) {
  if constexpr (requires { x.fold; }) {
    if (protocol < 4) x.fold = 0;
  }
  return x;
}

bool same(const std::complex<double>& a, const std::complex<double>& b) {
  return std::signbit(a.real()) == std::signbit(b.real()) && a.real() == b.real() && a.imag() == b.imag();
}
template <class T> bool same(const T& a, const T& b) { return a == b; }

// One check per case: encode the C++ value (must equal CPython's bytes) and decode CPython's bytes
// (must equal the C++ value).
using checker = std::function<void(const std::string& expected, int protocol)>;

template <class T> checker check(T value) {
  return [value](const std::string& expected, int protocol) {
    encode_options opt;
    opt.protocol = protocol;
    auto out = pickle(value, opt);
    REQUIRE_MESSAGE(out.has_value(), out.error().to_string());
    CHECK(*out == expected);
    auto doc = decode(expected);
    REQUIRE_MESSAGE(doc.has_value(), doc.error().to_string());
    auto back = from_value<T>(doc->root());
    REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
    CHECK(same(*back, without_fold(value, protocol)));
  };
}

py_uuid uuid_of(std::string_view hex32, std::optional<std::int64_t> safe = {}) {
  py_uuid u;
  const std::string b = unhex(hex32);
  for (std::size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<std::uint8_t>(b[i]);
  u.is_safe = safe;
  return u;
}

std::map<std::string, checker> cases() {
  const py_timezone tz2{{0, 7200, 0}, {}};
  std::map<std::string, checker> m;
  m["complex"] = check(std::complex<double>(1, 2));
  m["complex_odd"] = check(std::complex<double>(-0.0, std::numeric_limits<double>::infinity()));
  m["date"] = check(py_date{2020, 1, 2});
  m["date_min"] = check(py_date{1, 1, 1});
  m["date_max"] = check(py_date{9999, 12, 31});
  m["time"] = check(py_time{1, 2, 3, 4, 0, {}});
  m["time_tz_fold"] = check(py_time{23, 59, 59, 999999, 1, tz2});
  m["datetime"] = check(py_datetime{2020, 1, 2, 3, 4, 5, 6, 0, {}});
  m["datetime_fold"] = check(py_datetime{2020, 11, 1, 1, 30, 0, 0, 1, {}});
  m["datetime_utc"] = check(py_datetime{2024, 2, 29, 12, 0, 0, 0, 0, py_timezone{}});
  m["datetime_named"] = check(py_datetime{1999, 12, 31, 23, 59, 59, 0, 0, py_timezone{{-1, 66600, 0}, "X"}});
  m["timedelta"] = check(py_timedelta{1, 2, 3});
  m["timedelta_neg"] = check(py_timedelta{-1, 5, 7});
  m["timedelta_max"] = check(py_timedelta{999999999, 86399, 999999});
  m["timezone_utc"] = check(py_timezone{});
  m["timezone_named"] = check(py_timezone{{0, 19800, 0}, "IST"});
  m["decimal"] = check(py_decimal{"1.50"});
  m["decimal_nan"] = check(py_decimal{"-NaN"});
  m["decimal_exp"] = check(py_decimal{"1E+3"});
  m["fraction"] = check(py_fraction{1, 3});
  m["fraction_neg"] = check(py_fraction{-7, 2});
  m["fraction_int"] = check(py_fraction{5, 1});
  m["uuid"] = check(uuid_of("00000000000000000000000000000005"));
  m["uuid_text"] = check(uuid_of("12345678123456781234567812345678"));
  m["uuid_safe"] = check(uuid_of("80000000000000000000000000000005", 0));
  m["uuid_unsafe"] = check(uuid_of("ffffffffffffffffffffffffffffffff", -1));
  m["ordered_dict"] = check(py_ordered_dict<std::string, int>{{{"a", 1}, {"b", 2}}});
  m["ordered_dict_1"] = check(py_ordered_dict<std::string, int>{{{"x", -1}}});
  m["ordered_dict_empty"] = check(py_ordered_dict<std::string, int>{});
  py_ordered_dict<int, int> big;
  for (int i = 0; i < 1001; ++i) big.items.emplace_back(i, 2 * i);
  m["ordered_dict_1001"] = check(big);
  m["defaultdict_list"] = check(py_defaultdict<int, int>{py_global{"builtins", "list"}, {{1, 2}}});
  m["defaultdict_none"] = check(py_defaultdict<int, int>{{}, {{3, 4}, {5, 6}}});
  m["defaultdict_int"] = check(py_defaultdict<int, int>{py_global{"builtins", "int"}, {}});
  m["deque"] = check(py_deque<int>{{1, 2, 3}, {}});
  m["deque_maxlen"] = check(py_deque<int>{{1, 2}, 5});
  m["deque_1"] = check(py_deque<int>{{7}, {}});
  m["deque_empty"] = check(py_deque<int>{});
  py_deque<int> d1000, d1001;
  for (int i = 0; i < 1000; ++i) d1000.items.push_back(i);
  d1001 = d1000;
  d1001.items.push_back(1000);
  m["deque_1000"] = check(d1000);
  m["deque_1001"] = check(d1001);
  m["counter"] = check(py_counter<std::string>{{{"a", 2}, {"b", 1}}});
  m["counter_empty"] = check(py_counter<std::string>{});
  m["range"] = check(py_range{1, 10, 2});
  m["range_neg"] = check(py_range{10, -5, -3});
  m["range_stop"] = check(py_range{0, 5, 1});
  m["range_big"] = check(py_range{0, std::int64_t{1} << 40, 7});
  m["slice"] = check(py_slice{1, {}, 2});
  m["slice_stop"] = check(py_slice{{}, 5, {}});
  m["slice_none"] = check(py_slice{});
  m["enum_user_name"] = check(py_enum<int>{"__main__", "Color", {}, "RED"});
  m["enum_name"] = check(py_enum<int>{"http", "HTTPStatus", {}, "NOT_FOUND"});
  m["enum_str_name"] = check(py_enum<std::string>{"http", "HTTPMethod", {}, "GET"});
  m["enum_global"] = check(py_enum<int>{"signal", "", {}, "SIGINT"});
  return m;
}

}  // namespace

TEST_CASE("standard-library values: CPython's bytes, both directions, protocols 0-5") {
  const auto all = cases();
  std::map<std::string, int> seen;
  for (const auto& v : vectors) {
    CAPTURE(std::string(v.name));
    CAPTURE(v.protocol);
    const auto it = all.find(v.name);
    REQUIRE_MESSAGE(it != all.end(), "no C++ value for " << v.name);
    it->second(unhex(v.hex), v.protocol);
    ++seen[v.name];
  }
  CHECK(seen.size() == all.size());
  for (const auto& kv : seen) CHECK_MESSAGE(kv.second == 6, kv.first);
}

TEST_CASE("standard-library values inside containers keep CPython's sharing") {
  // Two datetimes with time zones: 'datetime' module string and the classes written once.
  std::vector<py_datetime> xs{{2020, 1, 2, 3, 4, 5, 6, 0, py_timezone{}}, {2021, 1, 1, 0, 0, 0, 0, 0, py_timezone{}}};
  encode_options o4;
  o4.protocol = 4;
  auto out = pickle(xs, o4);
  REQUIRE(out.has_value());
  auto doc = decode(*out);
  REQUIRE(doc.has_value());
  auto back = from_value<std::vector<py_datetime>>(doc->root());
  REQUIRE(back.has_value());
  CHECK(*back == xs);
  // b'\x80\x04' ... the class globals appear once each.
  std::size_t n = 0;
  for (std::size_t p = out->find("timezone"); p != std::string::npos; p = out->find("timezone", p + 1)) ++n;
  CHECK(n == 1);
}

TEST_CASE("enum members by value (CPython 3.11.7's Enum.__reduce_ex__)") {
  // pickle.dumps(C.A, 4) with class C(enum.Enum): A = 1, in CPython 3.11.7's __main__.
  const std::string_view cpython = lit("\x80\x04\x95\x18\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x01" "C\x94\x93\x94K\x01\x85\x94R\x94.");
  const py_enum<int> member{"__main__", "C", 1, {}};
  encode_options o4;
  o4.protocol = 4;
  CHECK(*pickle(member, o4) == cpython);
  auto doc = decode(cpython);
  REQUIRE(doc.has_value());
  CHECK(*from_value<py_enum<int>>(doc->root()) == member);
}

TEST_CASE("Python 2 era and older CPython forms read") {
  // datetime.date from Python 2: the state is a str; read with encoding latin1.
  const std::string py2_date(lit("\x80\x02" "cdatetime\ndate\nU\x04\x07\xe4\x01\x02\x85R."));
  decode_options o;
  o.encoding = py2_encoding::latin1;
  auto doc = decode(py2_date, o);
  REQUIRE(doc.has_value());
  auto d = from_value<py_date>(doc->root());
  REQUIRE_MESSAGE(d.has_value(), d.error().to_string());
  CHECK(*d == py_date{2020, 1, 2});
  // Fraction from CPython 3.8-3.10: ('1/3',).
  auto f = decode(lit("\x80\x04\x95$\x00\x00\x00\x00\x00\x00\x00\x8c\tfractions\x94\x8c\x08" "Fraction\x94\x93\x94\x8c\x03" "1/3\x94\x85\x94R\x94."));
  REQUIRE(f.has_value());
  CHECK(*from_value<py_fraction>(f->root()) == py_fraction{1, 3});
  // Python 2.7: deque(list, maxlen), OrderedDict([[k, v]]), datetime with a str state.
  auto q = decode(lit("\x80\x02" "ccollections\ndeque\nq\x00]q\x01(K\x01K\x02" "eK\x05\x86q\x02Rq\x03."));
  REQUIRE(q.has_value());
  auto dq = from_value<py_deque<int>>(q->root());
  REQUIRE_MESSAGE(dq.has_value(), dq.error().to_string());
  CHECK(*dq == py_deque<int>{{1, 2}, 5});
  auto od = decode(lit("\x80\x02" "ccollections\nOrderedDict\nq\x00]q\x01]q\x02(U\x01" "aq\x03K\x01" "ea\x85q\x04Rq\x05."), o);
  REQUIRE(od.has_value());
  auto odv = from_value<py_ordered_dict<std::string, int>>(od->root());
  REQUIRE_MESSAGE(odv.has_value(), odv.error().to_string());
  CHECK(*odv == py_ordered_dict<std::string, int>{{{"a", 1}}});
  auto dtm = decode(lit("\x80\x02" "cdatetime\ndatetime\nq\x00U\n\x07\xe4\x01\x02\x03\x04\x05\x00\x00\x06q\x01\x85q\x02Rq\x03."), o);
  REQUIRE(dtm.has_value());
  CHECK(*from_value<py_datetime>(dtm->root()) == py_datetime{2020, 1, 2, 3, 4, 5, 6, 0, {}});
}

TEST_CASE("bad values and bad input are errors") {
  CHECK(pickle(py_date{2021, 2, 29}).error().code == errc::bad_argument);
  CHECK(pickle(py_time{24, 0, 0, 0, 0, {}}).error().code == errc::bad_argument);
  CHECK(pickle(py_timezone{{1, 0, 0}, {}}).error().code == errc::bad_argument);
  CHECK(pickle(py_timedelta{0, 86400, 0}).error().code == errc::bad_argument);
  CHECK(pickle(py_fraction{2, 4}).error().code == errc::bad_argument);
  CHECK(pickle(py_range{0, 1, 0}).error().code == errc::bad_argument);

  auto list = decode(lit("\x80\x02]q\x00."));
  auto e = from_value<py_datetime>(list->root());
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().code == errc::type_mismatch);
  CHECK(e.error().message.find("expected datetime.datetime, found list") != std::string::npos);
  // A date state of the wrong size, and month 13.
  auto bad = decode(lit("\x80\x03" "cdatetime\ndate\nC\x03\x07\xe4\x01\x85R."));
  REQUIRE(bad.has_value());
  CHECK(from_value<py_date>(bad->root()).error().message.find("not 4 bytes") != std::string::npos);
  auto m13 = decode(lit("\x80\x03" "cdatetime\ndate\nC\x04\x07\xe4\x0d\x01\x85R."));
  REQUIRE(m13.has_value());
  CHECK(from_value<py_date>(m13->root()).error().message.find("out of range") != std::string::npos);
  // A datetime with a tzinfo brine does not model (zoneinfo): refused, not guessed.
  auto zi = decode(lit("\x80\x03" "cdatetime\ndatetime\nC\x0a\x07\xe4\x01\x02\x03\x04\x05\x00\x00\x06" "czoneinfo\nZoneInfo\n)R\x86R."));
  REQUIRE(zi.has_value());
  auto z = from_value<py_datetime>(zi->root());
  REQUIRE_FALSE(z.has_value());
  CHECK(z.error().message.find("expected datetime.timezone, found zoneinfo.ZoneInfo") != std::string::npos);
  // UUID with an int of 129 bits.
  auto big = decode(lit("\x80\x02" "cuuid\nUUID\n)\x81}X\x03\x00\x00\x00int\x8a\x11\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01sb."));
  REQUIRE(big.has_value());
  CHECK(from_value<py_uuid>(big->root()).error().message.find("2**128") != std::string::npos);
}
