// Tests for brine/registry.hpp: handlers by global name, the defaults (numpy, standard library),
// user handlers, and that an unregistered global is an error with nothing executed.
#include "brine/registry.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "brine/decode.hpp"
#include "brine/numpy.hpp"
#include "brine/stdlib.hpp"

using namespace brine;

namespace {

template <std::size_t N> std::string_view lit(const char (&s)[N]) { return {s, N - 1}; }

struct vector_case {
  const char* name;
  int protocol;
  const char* hex;
};
const vector_case vectors[] = {
#include "numpy/data/stdlib_vectors.inc"
};

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

struct point {
  std::int64_t x = 0, y = 0;
};

}  // namespace

template <>
struct brine::codec<point> {
  static result<point> decode(value v) {
    if (!v.is(kind::object) || !v.args().is(kind::tuple) || v.args().size() != 2) return detail::conversion_error(v, "geometry.Point(x, y)");
    auto x = from_value<std::int64_t>(v.args()[0]);
    auto y = from_value<std::int64_t>(v.args()[1]);
    if (!x) return x.error();
    if (!y) return y.error();
    return point{*x, *y};
  }
};

TEST_CASE("the defaults reconstruct every standard-library vector") {
  const registry reg = registry::with_defaults();
  int n = 0;
  for (const auto& v : vectors) {
    const std::string name = v.name;
    if (name.rfind("enum", 0) == 0) continue;  // no default for enums (any class may be one)
    CAPTURE(name);
    CAPTURE(v.protocol);
    const std::string bytes = unhex(v.hex);
    auto doc = decode(bytes);
    REQUIRE(doc.has_value());
    auto x = reg.reconstruct(doc->root());
    REQUIRE_MESSAGE(x.has_value(), x.error().to_string());
    const auto& t = x->type();
    const bool known = t == typeid(std::complex<double>) || t == typeid(py_date) || t == typeid(py_time) || t == typeid(py_datetime) ||
                       t == typeid(py_timedelta) || t == typeid(py_timezone) || t == typeid(py_decimal) || t == typeid(py_fraction) ||
                       t == typeid(py_uuid) || t == typeid(py_range) || t == typeid(py_slice) ||
                       t == typeid(py_ordered_dict<value, value>) || t == typeid(py_defaultdict<value, value>) ||
                       t == typeid(py_deque<value>) || t == typeid(py_counter<value>);
    CHECK(known);
    ++n;
  }
  CHECK(n > 200);
  // Names after fix_imports: protocol 2 writes __builtin__.xrange, found as builtins.range.
  auto r = decode(lit("\x80\x02" "c__builtin__\nxrange\nK\x01K\nK\x02\x87R."));
  REQUIRE(r.has_value());
  auto range = reg.reconstruct_as<py_range>(r->root());
  REQUIRE_MESSAGE(range.has_value(), range.error().to_string());
  CHECK(*range == py_range{1, 10, 2});
  // The container defaults keep elements as values of the document.
  auto od = decode(lit("\x80\x02" "ccollections\nOrderedDict\n)RX\x01\x00\x00\x00" "aK\x01s."));
  REQUIRE(od.has_value());
  auto d = reg.reconstruct_as<py_ordered_dict<value, value>>(od->root());
  REQUIRE(d.has_value());
  REQUIRE(d->items.size() == 1);
  CHECK(d->items[0].first.as_str() == "a");
  CHECK(d->items[0].second.as_int64() == 1);
}

TEST_CASE("the defaults reconstruct numpy arrays, scalars and dtypes") {
  const registry reg = registry::with_defaults();
  const std::filesystem::path dir = std::filesystem::path(BRINE_SOURCE_DIR) / "conformance" / "corpus" / "cpython-3.11-numpy";
  for (const char* name : {"y_numpy_arrays.p2.pkl", "y_numpy_arrays.p5.pkl", "y_numpy_scalars_dtypes.p4.pkl"}) {
    CAPTURE(name);
    std::ifstream in(dir / name, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    auto doc = decode(bytes);
    REQUIRE(doc.has_value());
    for (value item : doc->root().items()) {
      auto x = reg.reconstruct(item);
      REQUIRE_MESSAGE(x.has_value(), x.error().to_string());
      CHECK((x->type() == typeid(numpy::ndarray) || x->type() == typeid(numpy::dtype)));
    }
  }
}

TEST_CASE("unregistered globals are errors; user handlers join without touching brine") {
  registry reg;
  CHECK(reg.size() == 0);
  // os.system('x') — recorded, never executed.
  auto doc = decode(lit("\x80\x02" "cos\nsystem\nX\x01\x00\x00\x00x\x85R."));
  REQUIRE(doc.has_value());
  auto x = reg.reconstruct(doc->root());
  REQUIRE_FALSE(x.has_value());
  CHECK(x.error().code == errc::type_mismatch);
  CHECK(x.error().message.find("no reconstructor registered for os.system") != std::string::npos);
  CHECK(registry::with_defaults().reconstruct(doc->root()).error().message.find("os.system") != std::string::npos);

  // A typed handler through brine::codec<point>::decode, and a plain function.
  reg.add<point>("geometry", "Point");
  auto pd = decode(lit("\x80\x02" "cgeometry\nPoint\nK\x01K\x02\x86R."));
  REQUIRE(pd.has_value());
  auto p = reg.reconstruct_as<point>(pd->root());
  REQUIRE_MESSAGE(p.has_value(), p.error().to_string());
  CHECK(p->x == 1);
  CHECK(p->y == 2);
  CHECK_FALSE(reg.reconstruct_as<int>(pd->root()).has_value());
  int calls = 0;
  reg.add("geometry", "Point", [&](value) -> result<std::any> {
    ++calls;
    return std::any(42);
  });
  CHECK(*reg.reconstruct_as<int>(pd->root()) == 42);
  CHECK(calls == 1);
  CHECK(reg.find("geometry", "Point") != nullptr);
  CHECK(reg.remove("geometry", "Point"));
  CHECK_FALSE(reg.remove("geometry", "Point"));
  CHECK_FALSE(reg.reconstruct(pd->root()).has_value());

  // Plain values have no key.
  auto list = decode(lit("\x80\x02]."));
  CHECK_FALSE(registry::key_of(list->root()).has_value());
  CHECK(reg.reconstruct(list->root()).error().code == errc::type_mismatch);
}

TEST_CASE("keys: copyreg._reconstructor and getattr name their class; globals themselves") {
  // uuid.UUID at protocol 0 goes through copyreg._reconstructor: the key is uuid.UUID.
  auto u = decode(lit("ccopy_reg\n_reconstructor\np0\n(cuuid\nUUID\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n(dp5\nVint\np6\nI5\nsb."));
  REQUIRE(u.has_value());
  auto k = registry::key_of(u->root());
  REQUIRE(k.has_value());
  CHECK(k->first == "uuid");
  CHECK(k->second == "UUID");
  auto uuid = registry::with_defaults().reconstruct_as<py_uuid>(u->root());
  REQUIRE_MESSAGE(uuid.has_value(), uuid.error().to_string());
  CHECK(uuid->bytes[15] == 5);

  // Enum members by name: getattr(http.HTTPStatus, 'NOT_FOUND') is keyed by the class.
  registry reg;
  reg.add<py_enum<int>>("http", "HTTPStatus");
  std::string by_name;
  for (const auto& v : vectors)
    if (std::string_view(v.name) == "enum_name" && v.protocol == 4) by_name = unhex(v.hex);
  auto e = decode(by_name);
  REQUIRE_MESSAGE(e.has_value(), e.error().to_string());
  auto m = reg.reconstruct_as<py_enum<int>>(e->root());
  REQUIRE_MESSAGE(m.has_value(), m.error().to_string());
  CHECK(*m->name == "NOT_FOUND");

  // A global itself (signal.SIGINT pickled by global name).
  auto g = decode(lit("\x80\x02" "csignal\nSIGINT\n."));
  REQUIRE(g.has_value());
  CHECK(registry::key_of(g->root())->second == "SIGINT");
}
