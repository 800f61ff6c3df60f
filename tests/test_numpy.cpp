// Tests for brine/numpy.hpp: every numpy pickle of the fixtures (tests/numpy/data, written by
// tests/numpy/gen_fixtures.py) and of the conformance corpus decodes to the values numpy computed;
// C++ arrays encode to numpy's own bytes; views are zero-copy; misuse and bad input are errors.
#include "brine/numpy.hpp"  // first: the header compiles alone

#include "brine/container.hpp"

#include <doctest/doctest.h>

#include <array>
#include <complex>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "brine/convert.hpp"
#include "brine/decode.hpp"

namespace np = brine::numpy;
namespace fs = std::filesystem;

// The README snippet (tests/numpy/readme_service.inc, verbatim in README.md): a C++ service that
// answers a numpy array with one.
#include "numpy/readme_service.inc"

namespace {

const fs::path source_dir = BRINE_SOURCE_DIR;
const fs::path data_dir = source_dir / "tests" / "numpy" / "data";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << p);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string hex(std::span<const std::byte> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::byte x : b) {
    s += digits[static_cast<unsigned>(x) >> 4];
    s += digits[static_cast<unsigned>(x) & 15];
  }
  return s;
}
std::string hex(std::string_view s) { return hex(std::as_bytes(std::span<const char>(s.data(), s.size()))); }

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

template <class T> std::string join(std::span<const T> xs) {
  std::string s;
  for (std::size_t i = 0; i < xs.size(); ++i) s += (i ? "," : "") + std::to_string(xs[i]);
  return s;
}

int containers_checked = 0;  // out-of-band arrays also read through a memfd container

bool within(const void* p, std::span<const std::byte> region) {
  const auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(region.data());
  return a >= b && a <= b + region.size();
}

std::string fields_token(const np::dtype& t) {
  std::string s;
  for (std::size_t i = 0; i < t.fields.size(); ++i) {
    const auto& f = t.fields[i];
    s += (i ? ";" : "") + hex(f.name) + ":" + f.type->str() + ":" + std::to_string(f.offset);
    if (f.title) s += ":" + hex(*f.title);
  }
  return s;
}

std::string object_token(brine::value v) {
  using brine::kind;
  switch (v.kind()) {
    case kind::none: return "N";
    case kind::boolean: return v.as_bool() ? "T" : "F";
    case kind::integer: return "i" + v.int_decimal();
    case kind::str: return "s" + hex(v.as_str());
    case kind::bytes: return "b" + hex(v.as_bytes());
    case kind::floating: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%a", v.as_double());  // Python's float.hex() form for normal values
      std::string s = buf;
      // C prints 0x1.4p+1; Python prints 0x1.4000000000000p+1: pad the mantissa to 13 digits.
      if (s.find('.') == std::string::npos && s.find('p') != std::string::npos) s.insert(s.find('p'), ".");
      const auto dot = s.find('.'), p = s.find('p');
      if (dot != std::string::npos && p != std::string::npos) s.insert(p, 13 - (p - dot - 1), '0');
      return "f" + s;
    }
    default: return "?";
  }
}

// Checks one view against the tokens numpy wrote.
void check_view(const np::ndarray& a, const std::map<std::string, std::string>& tok, std::string_view where) {
  CAPTURE(std::string(where));
  CHECK(a.type().str() == tok.at("dtype"));
  CHECK(join(a.shape()) == tok.at("shape"));
  if (tok.count("strides") && a.size() > 0) CHECK(join(a.strides()) == tok.at("strides"));
  if (tok.count("values")) CHECK(hex(a.native_bytes()) == tok.at("values"));
  if (tok.count("fields")) CHECK(fields_token(a.type()) == tok.at("fields"));
  if (tok.count("text")) {
    const auto want = split(tok.at("text"), ',');
    REQUIRE(want.size() == a.size());
    // Elements in C order through at_text (0-d: one element).
    std::vector<std::size_t> idx(a.ndim(), 0);
    for (std::size_t k = 0; k < a.size(); ++k) {
      auto t = a.at_text(idx);
      REQUIRE_MESSAGE(t.has_value(), t.error().to_string());
      CHECK(hex(*t) == want[k]);
      for (std::size_t d = a.ndim(); d-- > 0;) {
        if (++idx[d] < a.shape()[d]) break;
        idx[d] = 0;
      }
    }
  }
  if (tok.count("objects")) {
    const auto want = split(tok.at("objects"), ',');
    const auto objs = a.objects();
    REQUIRE(objs.size() == want.size());
    for (std::size_t k = 0; k < objs.size(); ++k) CHECK(object_token(objs[k]) == want[k]);
  }
}

struct loaded {
  std::string bytes;
  std::vector<std::string> buffers;
  brine::document doc;
};

std::map<std::string, std::string> tokens(const std::vector<std::string>& words, std::size_t from) {
  std::map<std::string, std::string> m;
  for (std::size_t i = from; i < words.size(); ++i) {
    const auto eq = words[i].find('=');
    if (eq != std::string::npos) m[words[i].substr(0, eq)] = words[i].substr(eq + 1);
  }
  return m;
}

// Returns the number of items checked.
int check_expect_file(const fs::path& path) {
  CAPTURE(path.string());
  std::istringstream lines(read_file(path));
  std::string line;
  loaded in;
  std::vector<brine::value> items;
  brine::value root;
  bool t_root_is_list = false;
  int checked = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto w = split(line, ' ');
    if (w[0] == "pickle") {
      const auto t = tokens(w, 2);
      const fs::path pkl = source_dir / w[1];
      in.bytes = read_file(pkl);
      const int nbuf = std::stoi(t.at("buffers"));
      brine::decode_options opt;
      opt.encoding = t.at("encoding") == "latin1" ? brine::py2_encoding::latin1
                     : t.at("encoding") == "bytes" ? brine::py2_encoding::bytes
                                                   : brine::py2_encoding::ascii;
      std::string stem = pkl.string();
      stem.resize(stem.size() - 4);
      for (int i = 0; i < nbuf; ++i) in.buffers.push_back(read_file(stem + ".buf" + std::to_string(i)));
      for (const auto& b : in.buffers) opt.buffers.push_back({std::as_bytes(std::span<const char>(b.data(), b.size())), false});
      opt.buffers_given = nbuf > 0;
      auto doc = brine::decode(in.bytes, opt);
      REQUIRE_MESSAGE(doc.has_value(), doc.error().to_string());
      in.doc = std::move(*doc);
      root = in.doc.root();
      t_root_is_list = t.at("root") == "list";
      if (t.at("root") == "list") {
        REQUIRE(root.is(brine::kind::list));
        for (brine::value v : root.items()) items.push_back(v);
      } else {
        items.push_back(root);
      }
      continue;
    }
    if (w[0] == "error") {
      auto a = np::to_ndarray(root);
      REQUIRE_FALSE(a.has_value());
      CHECK(brine::errc_name(a.error().code) == w[1]);
      CHECK_MESSAGE(a.error().message.find(unhex(w[2])) != std::string::npos, a.error().message);
      ++checked;
      continue;
    }
    const std::size_t i = std::stoul(w[1]);
    REQUIRE(i < items.size());
    if (w[0] == "item" && w[2] == "dtype") {
      const auto t = tokens(w, 3);
      CHECK(np::recognize(items[i]) == np::object_kind::dtype);
      auto d = np::to_dtype(items[i]);
      REQUIRE_MESSAGE(d.has_value(), d.error().to_string());
      CHECK(d->str() == t.at("dtype"));
      CHECK(std::to_string(d->itemsize) == t.at("itemsize"));
      if (t.count("fields")) CHECK(fields_token(*d) == t.at("fields"));
      // Encode it back; the result reads as the same dtype.
      auto bytes = brine::pickle(*d);
      REQUIRE(bytes.has_value());
      auto again = brine::decode(*bytes);
      REQUIRE(again.has_value());
      auto d2 = np::to_dtype(again->root());
      REQUIRE(d2.has_value());
      CHECK(*d2 == *d);
      ++checked;
      continue;
    }
    auto a = np::to_ndarray(items[i]);
    REQUIRE_MESSAGE(a.has_value(), a.error().to_string());
    if (w[0] == "field") {
      auto f = a->field(unhex(w[2]));
      REQUIRE_MESSAGE(f.has_value(), f.error().to_string());
      check_view(*f, tokens(w, 3), line.substr(0, 40));
      ++checked;
      continue;
    }
    CHECK(a->is_scalar() == (w[2] == "scalar"));
    check_view(*a, tokens(w, 3), line.substr(0, 40));
    // Zero copy: the view's data lies inside the input or the out-of-band buffer.
    switch (a->source()) {
      case np::data_source::in_band:
        // Below protocol 3 bytes are latin-1 text the decoder folds into its own arena.
        if (in.doc.protocol() >= 3) CHECK(within(a->data().data(), std::as_bytes(std::span<const char>(in.bytes))));
        break;
      case np::data_source::out_of_band: {
        REQUIRE(a->buffer_index() < in.buffers.size());
        const auto& b = in.buffers[a->buffer_index()];
        CHECK(a->data().data() == reinterpret_cast<const std::byte*>(b.data()));
        // The same pickle and buffers through a memfd container: the array's data is a view into
        // the mapping, byte for byte the buffer numpy wrote.
        std::vector<brine::container_buffer> sections;
        for (const auto& buf : in.buffers) sections.push_back({std::as_bytes(std::span<const char>(buf.data(), buf.size())), false});
        auto fd = brine::write_container_memfd(std::as_bytes(std::span<const char>(in.bytes.data(), in.bytes.size())), sections);
        REQUIRE_MESSAGE(fd.has_value(), fd.error().to_string());
        auto c = brine::open_container_fd(fd->get());
        REQUIRE_MESSAGE(c.has_value(), c.error().to_string());
        brine::decode_options co;
        co.buffers = c->buffers();
        co.buffers_given = true;
        auto cdoc = brine::decode(c->pickle(), co);
        REQUIRE_MESSAGE(cdoc.has_value(), cdoc.error().to_string());
        const brine::value croot = cdoc->root();
        const brine::value citem = t_root_is_list ? croot[i] : croot;
        auto ca = np::to_ndarray(citem);
        REQUIRE_MESSAGE(ca.has_value(), ca.error().to_string());
        CHECK(within(ca->data().data(), c->bytes()));
        CHECK(ca->shape().size() == a->shape().size());
        REQUIRE(ca->data().size() == a->data().size());
        CHECK(std::equal(ca->data().begin(), ca->data().end(), a->data().begin()));
        ++containers_checked;
        break;
      }
      default: break;
    }
    // Every non-object view encodes back at every protocol to a pickle that reads the same.
    if (!a->type().holds_objects()) {
      for (int p = 0; p <= 5; ++p) {
        CAPTURE(p);
        brine::encode_options eo;
        eo.protocol = p;
        auto bytes = brine::pickle(*a, eo);
        REQUIRE_MESSAGE(bytes.has_value(), bytes.error().to_string());
        auto again = brine::decode(*bytes);
        REQUIRE_MESSAGE(again.has_value(), again.error().to_string());
        auto b = np::to_ndarray(again->root());
        REQUIRE_MESSAGE(b.has_value(), b.error().to_string());
        CHECK(b->type() == a->type());
        CHECK(join(b->shape()) == join(a->shape()));
        CHECK(b->native_bytes() == a->native_bytes());
      }
    }
    ++checked;
  }
  return checked;
}

struct vector_case {
  const char* name;
  int protocol;
  bool oob;
  const char* hex;
};
const vector_case vectors[] = {
#include "numpy/data/encode_vectors.inc"
};

std::vector<std::byte> le_bytes(std::initializer_list<std::uint64_t> xs, std::size_t width) {
  std::vector<std::byte> out;
  for (auto x : xs)
    for (std::size_t i = 0; i < width; ++i) out.push_back(static_cast<std::byte>((x >> (8 * i)) & 0xff));
  return out;
}

}  // namespace

TEST_CASE("every numpy fixture and corpus pickle decodes to what numpy computed") {
  int files = 0, items = 0;
  for (const fs::path& dir : {data_dir, data_dir / "corpus"}) {
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".expect") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      items += check_expect_file(p);
      ++files;
    }
  }
  MESSAGE(files << " expectation files, " << items << " items, " << containers_checked << " out-of-band arrays through a container");
  CHECK(files >= 60);
  CHECK(items >= 500);
  CHECK(containers_checked >= 10);
}

TEST_CASE("C++ arrays encode to the bytes numpy writes") {
  // The arrays of gen_fixtures.py's encode_cases(), built from C++ values.
  const std::vector<double> f8_c{0, 1.5, 3, 4.5, 6, 7.5}, f8_f{0, 4.5, 1.5, 6, 3, 7.5};
  const std::vector<std::int32_t> i4{-2, -1, 0, 1, 2};
  const std::vector<std::uint8_t> u1{0, 1, 128, 255};
  const std::array<bool, 3> b1{true, false, true};
  const std::vector<std::complex<double>> c16{{1, 2}, {-0.0, -0.5}};  // Python's -0.5j
  const std::vector<std::complex<float>> c8_f{{1, 1}, {3, 0}, {2, 0}, {0, 4}};
  const float f4 = 2.5f;
  const std::vector<std::int64_t> i8_empty;
  const std::vector<std::int16_t> i2_empty;
  std::vector<std::uint64_t> u8_f(24);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) u8_f[i + 2 * j + 6 * k] = i * 12 + j * 4 + k;
  const std::vector<std::int8_t> i1{-128, 0, 127};
  const std::vector<std::uint16_t> u2{1, 65535};
  // Structured [('a', 'i1'), ('b', '<f8')]: (1, 2.5), (-3, 1e10).
  std::vector<std::byte> rec(18);
  const double b0 = 2.5, b1v = 1e10;
  rec[0] = std::byte{1};
  std::memcpy(&rec[1], &b0, 8);
  rec[9] = std::byte{0xfd};
  std::memcpy(&rec[10], &b1v, 8);
  auto i1t = std::make_shared<const np::dtype>(np::dtype::of<std::int8_t>());
  auto f8t = std::make_shared<const np::dtype>(np::dtype::of<double>());
  auto st = np::dtype::structured_of({{"a", i1t, 0, {}}, {"b", f8t, 1, {}}}, 9);
  REQUIRE(st.has_value());
  const auto u3 = le_bytes({'a', 'b', 0, 'x', 'y', 'z'}, 4);
  const auto m8 = le_bytes({18262, 1}, 8);
  std::vector<std::byte> be(16);
  for (std::size_t k = 0; k < 2; ++k) {
    const double x = k == 0 ? 1.5 : -2.0;
    std::uint64_t u;
    std::memcpy(&u, &x, 8);
    for (std::size_t i = 0; i < 8; ++i) be[8 * k + i] = static_cast<std::byte>((u >> (56 - 8 * i)) & 0xff);
  }
  auto must = [](brine::result<np::ndarray> r) {
    REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
    return *r;
  };
  using F = np::memory_order;
  const std::map<std::string, np::ndarray> arrays{
      {"f8_c", must(np::ndarray::of<double>(f8_c, {2, 3}))},
      {"f8_f", must(np::ndarray::of<double>(f8_f, {2, 3}, F::fortran))},
      {"i4_1d", np::ndarray::of<std::int32_t>(i4)},
      {"u1_1d", np::ndarray::of<std::uint8_t>(u1)},
      {"b1_1d", np::ndarray::of<bool>(b1)},
      {"c16_1d", np::ndarray::of<std::complex<double>>(c16)},
      {"c8_2d_f", must(np::ndarray::of<std::complex<float>>(c8_f, {2, 2}, F::fortran))},
      {"f4_0d", must(np::ndarray::of<float>(std::span<const float>(&f4, 1), {}))},
      {"i8_empty", np::ndarray::of<std::int64_t>(i8_empty)},
      {"i2_2x0", must(np::ndarray::of<std::int16_t>(i2_empty, {2, 0}))},
      {"u8_3d_f", must(np::ndarray::of<std::uint64_t>(u8_f, {2, 3, 4}, F::fortran))},
      {"i1_1d", np::ndarray::of<std::int8_t>(i1)},
      {"u2_1d", np::ndarray::of<std::uint16_t>(u2)},
      {"struct_ib", must(np::ndarray::of_bytes(rec, *st, {2}))},
      {"U3_1d", must(np::ndarray::of_bytes(u3, *np::dtype::parse("<U3"), {2}))},
      {"M8_D", must(np::ndarray::of_bytes(m8, *np::dtype::parse("<M8[D]"), {2}))},
      {"be_f8", must(np::ndarray::of_bytes(be, *np::dtype::parse(">f8"), {2}))},
  };
  int n = 0;
  for (const auto& v : vectors) {
    CAPTURE(std::string(v.name));
    CAPTURE(v.protocol);
    CAPTURE(v.oob);
    const auto it = arrays.find(v.name);
    REQUIRE(it != arrays.end());
    brine::encode_options opt;
    opt.protocol = v.protocol;
    std::vector<std::span<const std::byte>> sent;
    if (v.oob) opt.on_buffer = [&](brine::value, std::span<const std::byte> d, bool) { sent.push_back(d); return false; };
    auto out = brine::pickle(it->second, opt);
    REQUIRE_MESSAGE(out.has_value(), out.error().to_string());
    CHECK(hex(*out) == std::string(v.hex));
    if (v.oob && !sent.empty()) CHECK(sent[0].data() == it->second.data().data());  // never copied
    ++n;
  }
  CHECK(n == static_cast<int>(std::size(vectors)));
}

TEST_CASE("the README snippet answers a numpy array with numpy's own bytes") {
  const std::string request = read_file(data_dir / "readme_request.pkl");
  auto reply = handle(request);
  REQUIRE_MESSAGE(reply.has_value(), reply.error().to_string());
  CHECK(*reply == read_file(data_dir / "readme_reply.pkl"));
  CHECK_FALSE(handle("not a pickle").has_value());
}

TEST_CASE("typed access: zero-copy spans, alignment, byte order, misuse") {
  // An aligned out-of-band buffer: values<T> is a span over it.
  alignas(16) std::array<double, 6> storage{0, 1, 2, 3, 4, 5};
  auto view = np::ndarray::of<double>(std::span<const double>(storage), {2, 3});
  REQUIRE(view.has_value());
  brine::encode_options eo;
  std::vector<std::span<const std::byte>> sent;
  eo.on_buffer = [&](brine::value, std::span<const std::byte> d, bool) { sent.push_back(d); return false; };
  auto bytes = brine::pickle(*view, eo);
  REQUIRE(bytes.has_value());
  REQUIRE(sent.size() == 1);
  brine::decode_options dopt;
  dopt.buffers = {{sent[0], true}};
  dopt.buffers_given = true;
  auto doc = brine::decode(*bytes, dopt);
  REQUIRE(doc.has_value());
  auto a = np::to_ndarray(doc->root());
  REQUIRE(a.has_value());
  CHECK(a->source() == np::data_source::out_of_band);
  CHECK(a->readonly() == true);
  auto span = a->values<double>();
  REQUIRE(span.has_value());
  CHECK(span->data() == storage.data());
  CHECK((*span)[4] == 4.0);
  CHECK(a->values<double>(np::memory_order::fortran).error().code == brine::errc::bad_argument);
  CHECK(a->values<float>().error().code == brine::errc::bad_argument);
  CHECK(*a->at<double>({1, 2}) == 5.0);
  CHECK(a->at<double>({2, 0}).error().code == brine::errc::bad_argument);
  CHECK(a->at<double>({0}).error().code == brine::errc::bad_argument);
  CHECK(*a->at_double({0, 1}) == 1.0);
  CHECK(a->at_text({0, 0}).error().code == brine::errc::bad_argument);
  CHECK(a->field("x").error().code == brine::errc::bad_argument);
  auto fv = a->to_vector<double>(np::memory_order::fortran);
  REQUIRE(fv.has_value());
  CHECK(*fv == std::vector<double>{0, 3, 1, 4, 2, 5});

  // In-band data: a span only where the bytes happen to be aligned.
  auto inband = brine::pickle(*view);
  REQUIRE(inband.has_value());
  auto d0 = brine::decode(*inband);
  auto a0 = np::to_ndarray(d0->root());
  const auto off = static_cast<std::size_t>(a0->data().data() - reinterpret_cast<const std::byte*>(inband->data()));
  alignas(16) std::array<char, 512> buf{};
  REQUIRE(inband->size() + 16 < buf.size());
  for (std::size_t shift = 0; shift < 8; ++shift) {
    const std::size_t start = (16 - off % 16 + shift) % 16;
    std::memcpy(buf.data() + start, inband->data(), inband->size());
    auto d = brine::decode(std::string_view(buf.data() + start, inband->size()));
    REQUIRE(d.has_value());
    auto x = np::to_ndarray(d->root());
    REQUIRE(x.has_value());
    auto s = x->values<double>();
    CHECK(s.has_value() == (shift == 0));
    if (s) CHECK(reinterpret_cast<const char*>(s->data()) == buf.data() + start + off);
    else CHECK(s.error().message.find("aligned") != std::string::npos);
    CHECK(*x->to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4, 5});
  }

  // Big-endian data: no span, but swapped copies and elements.
  const std::array<unsigned char, 4> be{0x01, 0x02, 0xff, 0xfe};
  auto b = np::ndarray::of_bytes(std::as_bytes(std::span<const unsigned char>(be)), *np::dtype::parse(">i2"), {2});
  REQUIRE(b.has_value());
  CHECK(b->values<std::int16_t>().error().message.find("big-endian") != std::string::npos);
  CHECK(*b->to_vector<std::int16_t>() == std::vector<std::int16_t>{0x0102, -2});
  CHECK(*b->at<std::int16_t>({1}) == -2);
  CHECK(*b->at_double({0}) == 258.0);

  // Bools other than 0/1: no span (a C++ bool must be 0 or 1), copies normalize.
  const std::array<unsigned char, 3> bools{0, 2, 1};
  auto bb = np::ndarray::of_bytes(std::as_bytes(std::span<const unsigned char>(bools)), np::dtype::of<bool>(), {3});
  REQUIRE(bb.has_value());
  CHECK_FALSE(bb->values<bool>().has_value());
  CHECK(*bb->to_vector<bool>() == std::vector<bool>{false, true, true});
  CHECK(*bb->at<bool>({1}) == true);

  // Half floats and datetime counts.
  const std::array<std::uint16_t, 2> halves{0x3e00, 0xc000};  // 1.5, -2
  auto h = np::ndarray::of_bytes(std::as_bytes(std::span<const std::uint16_t>(halves)), *np::dtype::parse("<f2"), {2});
  CHECK(*h->at_double({0}) == 1.5);
  CHECK(*h->at_double({1}) == -2.0);
  const std::array<std::int64_t, 1> days{18262};
  auto m = np::ndarray::of_bytes(std::as_bytes(std::span<const std::int64_t>(days)), *np::dtype::parse("<M8[D]"), {1});
  CHECK(*m->at<std::int64_t>({0}) == 18262);
  CHECK(m->type().datetime_unit == "D");

  // Caller mistakes.
  CHECK(np::ndarray::of<double>(storage, {4, 2}).error().code == brine::errc::bad_argument);
  CHECK(np::ndarray::of_bytes({}, *np::dtype::parse("O"), {0}).error().code == brine::errc::bad_argument);
}

TEST_CASE("dtype strings, structures and sub-arrays") {
  for (const char* s : {"<f8", ">f8", "|b1", "|i1", "<u2", "<c16", ">c8", "<f2", "<U3", ">U1", "|S5", "|V7", "<M8[ns]",
                        "<m8[2s]", "<M8", "|O", "<f16"}) {
    auto d = np::dtype::parse(s);
    REQUIRE_MESSAGE(d.has_value(), s);
    CHECK(d->str() == s);
  }
  CHECK(np::dtype::parse("f8")->str() == "<f8");
  CHECK(np::dtype::parse("=i4")->str() == "<i4");
  CHECK(np::dtype::parse("<i1")->str() == "|i1");
  for (const char* bad : {"", "x4", "i3", "f8[s]", "M8[parsec]", "U", "<"}) CHECK_FALSE(np::dtype::parse(bad).has_value());
  CHECK(np::dtype::of<std::uint32_t>().str() == "<u4");
  CHECK(np::dtype::of<bool>().str() == "|b1");
  CHECK(np::dtype::of<std::complex<float>>().str() == "<c8");

  auto f4 = std::make_shared<const np::dtype>(np::dtype::of<float>());
  auto sub = std::make_shared<const np::dtype>(np::dtype::subarray_of(*f4, {2, 3}));
  CHECK(sub->itemsize == 24);
  CHECK(sub->str() == "|V24");
  auto st = np::dtype::structured_of({{"a", f4, 0, std::string("T")}, {"bc", sub, 4, {}}}, 28);
  REQUIRE(st.has_value());
  CHECK(st->flags == 16);
  CHECK_FALSE(np::dtype::structured_of({{"a", f4, 26, {}}}, 28).has_value());

  // A structured view: fields by name or title, sub-array fields add dimensions.
  std::vector<std::byte> raw(56);
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::byte>(i);
  auto a = np::ndarray::of_bytes(raw, *st, {2});
  REQUIRE(a.has_value());
  auto fa = a->field("T");
  REQUIRE(fa.has_value());
  CHECK(join(fa->strides()) == "28");
  CHECK_FALSE(fa->c_contiguous());
  auto fb = a->field("bc");
  REQUIRE(fb.has_value());
  CHECK(join(fb->shape()) == "2,2,3");
  CHECK(join(fb->strides()) == "28,12,4");
  CHECK(fb->at<float>({1, 0, 0}).has_value());
  // The view re-encodes as a C-order copy (numpy's path for non-contiguous arrays).
  auto enc = brine::pickle(*fb);
  REQUIRE(enc.has_value());
  auto dec = brine::decode(*enc);
  auto back = np::to_ndarray(dec->root());
  REQUIRE(back.has_value());
  CHECK(back->native_bytes() == fb->native_bytes());
  CHECK(back->c_contiguous());
}

TEST_CASE("object arrays expose values and refuse to encode") {
  const std::string pkl = read_file(data_dir / "dtypes_p4.pkl");
  auto doc = brine::decode(pkl);
  REQUIRE(doc.has_value());
  const brine::value last = doc->root().items()[doc->root().size() - 1];
  auto a = np::to_ndarray(last);
  REQUIRE(a.has_value());
  CHECK(a->type().kind == 'O');
  auto x = a->object_at({1});
  REQUIRE(x.has_value());
  CHECK(x->as_str() == "x");
  CHECK(a->object_at({6}).error().code == brine::errc::bad_argument);
  CHECK(a->data().empty());
  auto out = brine::pickle(*a);
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == brine::errc::bad_argument);
}

TEST_CASE("recognition never guesses") {
  CHECK(np::recognize(brine::value()) == np::object_kind::none);
  auto doc = brine::decode(std::string_view("\x80\x02]q\x00.", 6));
  REQUIRE(doc.has_value());
  CHECK(np::recognize(doc->root()) == np::object_kind::none);
  auto a = np::to_ndarray(doc->root());
  REQUIRE_FALSE(a.has_value());
  CHECK(a.error().message.find("expected a numpy array, found list") != std::string::npos);
  CHECK_FALSE(np::to_dtype(doc->root()).has_value());
  auto via = brine::from_value<np::ndarray>(doc->root());
  CHECK_FALSE(via.has_value());
}

TEST_CASE("numpy 2 module paths on request") {
  const std::vector<double> x{1, 2};
  auto a = np::ndarray::of<double>(x);
  np::encode_settings s;
  s.paths = np::module_paths::numpy__core;
  a.set_settings(s);
  auto p5 = brine::pickle(a);
  REQUIRE(p5.has_value());
  CHECK(p5->find("numpy._core.numeric") != std::string::npos);
  brine::encode_options o4;
  o4.protocol = 4;
  auto p4 = brine::pickle(a, o4);
  REQUIRE(p4.has_value());
  CHECK(p4->find("numpy._core.multiarray") != std::string::npos);
  s.paths = np::module_paths::numpy_core;
  s.pickle_buffer = false;
  a.set_settings(s);
  auto r5 = brine::pickle(a);
  REQUIRE(r5.has_value());
  CHECK(r5->find("_reconstruct") != std::string::npos);
  s.pickle_buffer = true;
  s.readonly = true;
  a.set_settings(s);
  auto ro = brine::pickle(a);
  REQUIRE(ro.has_value());
  CHECK(ro->find('\x96') == std::string::npos);  // bytes, not BYTEARRAY8
}
