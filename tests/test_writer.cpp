// tests/test_writer.cpp — the encoders' output plumbing (lib/writer.hpp, lib/string_fill.hpp): a
// large pickle written straight into the returned string is byte for byte what the staged path
// writes, whether it fits the estimate, outgrows it at any point (spilling into the staging
// buffer), or falls far short of it.
//
// The reference is encode_to with a sink: it never writes into a string in place, and shares
// everything else (the pickler, the framing) with encode.
#include "string_fill.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "brine/encode.hpp"

namespace {

brine::document decoded(const std::string& bytes) {
  auto r = brine::decode_owned(std::string(bytes));
  REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
  return std::move(r).value();
}

// What encode_to sends to its sink, gathered.
std::string through_sink(brine::value root, int protocol) {
  std::string out;
  const brine::byte_sink sink = [&](std::span<const std::byte> piece) {
    out.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    return true;
  };
  brine::encode_options opt;
  opt.protocol = protocol;
  const auto n = brine::encode_to(root, sink, opt);
  REQUIRE_MESSAGE(n.has_value(), n.error().to_string());
  REQUIRE(*n == out.size());
  return out;
}

std::string encoded(brine::value root, int protocol) {
  brine::encode_options opt;
  opt.protocol = protocol;
  auto e = brine::encode(root, opt);
  REQUIRE_MESSAGE(e.has_value(), e.error().to_string());
  return std::move(*e);
}

using item = std::variant<std::int64_t, double, std::string, std::vector<std::byte>, std::vector<double>>;

struct rng {
  std::uint64_t x;
  std::uint64_t next() {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 17;
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// A list of ints, floats, strs of 0 to 3000 characters, bytes of up to 300 KB (payloads of 64 KiB
// and more are written outside frames) and lists of floats: `target` bytes or so as a pickle.
std::vector<item> random_items(rng& r, std::size_t target) {
  std::vector<item> items;
  std::size_t size = 0;
  while (size < target) {
    switch (r.below(8)) {
      case 0:
      case 1: items.emplace_back(static_cast<std::int64_t>(r.next()) >> r.below(60)); size += 5; break;
      case 2: items.emplace_back(static_cast<double>(r.next()) / 7.0); size += 9; break;
      case 3:
      case 4: {
        std::string s(r.below(r.below(4) == 0 ? 3000 : 40), 'a');
        for (char& c : s) c = static_cast<char>('a' + r.below(26));
        if (!s.empty() && r.below(3) == 0) s[0] = '\n';  // escaped in protocol 0's text
        size += s.size() + 2;
        items.emplace_back(std::move(s));
        break;
      }
      case 5: {
        std::vector<std::byte> b(r.below(8) == 0 ? 60000 + r.below(240000) : r.below(200));
        for (auto& x : b) x = static_cast<std::byte>(r.next());
        size += b.size() + 5;
        items.emplace_back(std::move(b));
        break;
      }
      default: {
        std::vector<double> v(r.below(3000));
        for (double& x : v) x = static_cast<double>(r.next()) * 1e-3;
        size += 9 * v.size() + 4;
        items.emplace_back(std::move(v));
        break;
      }
    }
  }
  return items;
}

}  // namespace

TEST_CASE("fill_string: the string's own storage, what the callback wrote, exceptions passed on") {
#ifdef BRINE_EXPECT_STRING_FILL
  // This toolchain compiles lib/string_fill.cpp as C++23 and has resize_and_overwrite.
  REQUIRE(brine::detail::string_fill_in_place());
#endif
  MESSAGE("string_fill_in_place: " << brine::detail::string_fill_in_place());
  std::string s = "previous content";
  const char* storage = nullptr;
  brine::detail::fill_string(s, 1000, [&](char* p, std::size_t n) -> std::size_t {
    CHECK(n >= 1000);
    storage = p;
    std::memcpy(p, "0123456789", 10);
    return 10;
  });
  CHECK(s == "0123456789");
  CHECK(s.data() == storage);
  CHECK(s.capacity() >= 1000);

  s = "previous content";
  CHECK_THROWS_AS(brine::detail::fill_string(s, 64,
                                             [](char* p, std::size_t) -> std::size_t {
                                               p[0] = 'x';
                                               throw std::runtime_error("from the callback");
                                             }),
                  std::runtime_error);
  CHECK(s.empty());
}

TEST_CASE("encode: large pickles written in place are the staged path's bytes, at every protocol") {
  // Each source pickle is written at one protocol and re-encoded at all six: the estimate (the
  // source's length) fits exactly, is outgrown at some point (text protocols, no MEMOIZE below 4,
  // longer str headers below 4) or is far above the result (text re-encoded in binary).
  rng r{0x9e3779b97f4a7c15ull};
  int spilled = 0, shrunk = 0, exact = 0;
  for (int round = 0; round < 12; ++round) {
    const std::vector<item> items = random_items(r, 200000 + r.below(1500000));
    brine::encode_options source_opt;
    source_opt.protocol = round % 6;
    auto source = brine::pickle(items, source_opt);
    REQUIRE(source.has_value());
    const brine::document doc = decoded(*source);
    for (int protocol = 0; protocol <= 5; ++protocol) {
      CAPTURE(round);
      CAPTURE(source_opt.protocol);
      CAPTURE(protocol);
      const std::string out = encoded(doc.root(), protocol);
      const std::string ref = through_sink(doc.root(), protocol);
      REQUIRE(out.size() == ref.size());
      CHECK(out == ref);
      // Written in place (the estimate is above the staging buffer's 256 KiB): no more than a
      // quarter of slack in the returned string.
      if (source->size() + 64 > 262144) CHECK(out.capacity() - out.size() <= out.capacity() / 4);
      if (out.size() > source->size() + 64) ++spilled;
      else if (out.size() + out.size() / 3 < source->size()) ++shrunk;
      if (protocol == source_opt.protocol && protocol >= 2) {
        CHECK(out == *source);  // brine's typed and document encoders agree
        ++exact;
      }
    }
  }
  MESSAGE("outgrew the estimate: " << spilled << ", far below it: " << shrunk << ", same protocol: " << exact);
  CHECK(spilled >= 10);
  CHECK(shrunk >= 5);
}

TEST_CASE("encode: a large re-encode at the source's protocol fits its estimate exactly") {
  std::vector<double> v(300000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 0.5 - 7.25;
  for (int protocol = 1; protocol <= 5; ++protocol) {
    CAPTURE(protocol);
    brine::encode_options opt;
    opt.protocol = protocol;
    auto source = brine::pickle(v, opt);
    REQUIRE(source.has_value());
    const brine::document doc = decoded(*source);
    const std::string out = encoded(doc.root(), protocol);
    CHECK(out == *source);
    CHECK(out == through_sink(doc.root(), protocol));
  }
}

TEST_CASE("pickle: a large typed list of floats (sized up front) is what the unsized path writes") {
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{999}, std::size_t{1000}, std::size_t{1001},
                              std::size_t{29000}, std::size_t{29127}, std::size_t{250000}}) {
    std::vector<double> v(n);
    std::vector<float> f(n);
    for (std::size_t i = 0; i < n; ++i) {
      v[i] = static_cast<double>(i) / 3.0;
      f[i] = static_cast<float>(i) / 3.0f;
    }
    const std::deque<double> dv(v.begin(), v.end());  // no size hint: staged
    const std::deque<float> df(f.begin(), f.end());
    for (int protocol = 0; protocol <= 5; ++protocol) {
      CAPTURE(n);
      CAPTURE(protocol);
      brine::encode_options opt;
      opt.protocol = protocol;
      const auto a = brine::pickle(v, opt), b = brine::pickle(dv, opt);
      REQUIRE(a.has_value());
      REQUIRE(b.has_value());
      CHECK(*a == *b);
      // Sized up front (more than the staging buffer's 256 KiB, in binary): no slack beyond a
      // quarter. Smaller and text pickles are staged, and keep the staging buffer's capacity.
      if (protocol >= 1 && n >= 29127) CHECK(a->capacity() - a->size() <= a->capacity() / 4);
      const auto c = brine::pickle(f, opt), d = brine::pickle(df, opt);
      REQUIRE(c.has_value());
      REQUIRE(d.has_value());
      CHECK(*c == *d);
      const brine::document doc = decoded(*a);
      CHECK(through_sink(doc.root(), protocol) == *a);
    }
  }
}

TEST_CASE("pickle: a large typed list of ints (sized from a sample) is what the unsized path writes") {
  // The estimate reads 256 items spread evenly (k * n / 256): lists whose sampled items are
  // typical, smaller than the rest (outgrowing the estimate from the start) and larger (far more
  // than written), and uint64 values above int64.
  const std::size_t n = 256 * 1024;
  const auto sampled = [&](std::size_t i) { return i % (n / 256) == 0; };
  std::vector<std::vector<std::int64_t>> lists(3, std::vector<std::int64_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    lists[0][i] = static_cast<std::int64_t>(i * 2654435761u % (std::uint64_t{1} << 41)) - (std::int64_t{1} << 40);
    lists[1][i] = sampled(i) ? 1 : std::int64_t{1} << 40;
    lists[2][i] = sampled(i) ? INT64_MIN : -1;
  }
  std::vector<std::uint64_t> big(n);
  for (std::size_t i = 0; i < n; ++i) big[i] = i % 3 == 0 ? UINT64_MAX - i : i;
  for (int protocol = 0; protocol <= 5; ++protocol) {
    CAPTURE(protocol);
    brine::encode_options opt;
    opt.protocol = protocol;
    for (std::size_t k = 0; k < lists.size(); ++k) {
      CAPTURE(k);
      const std::deque<std::int64_t> unsized(lists[k].begin(), lists[k].end());
      const auto a = brine::pickle(lists[k], opt), b = brine::pickle(unsized, opt);
      REQUIRE(a.has_value());
      REQUIRE(b.has_value());
      CHECK(*a == *b);
      if (protocol >= 2) CHECK(a->capacity() - a->size() <= a->capacity() / 4);
    }
    const std::deque<std::uint64_t> unsized(big.begin(), big.end());
    const auto a = brine::pickle(big, opt), b = brine::pickle(unsized, opt);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(*a == *b);
  }
  // The estimate itself: a sample of typical items is within a few percent of the pickle.
  const auto typical = brine::pickle(lists[0]).value();
  const std::size_t hint = brine::detail::pickled_size_hint(lists[0], 5);
  CHECK(hint >= typical.size());
  CHECK(hint <= typical.size() + typical.size() / 16);
  CHECK(brine::detail::pickled_size_hint(lists[1], 5) < typical.size() / 2);  // outgrown
  CHECK(brine::detail::pickled_size_hint(lists[0], 1) == 0);                   // INT text below 2
}

TEST_CASE("encode: outgrowing the estimate inside an open frame, and at a payload outside frames") {
  // A protocol-3 pickle relabelled protocol 4 or 5 is a valid pickle without frames; re-encoded
  // at protocol 4 or 5 it gains a 9-byte FRAME header every 64 KiB, and outgrows its estimate (its
  // own length + 64) a few hundred bytes before its end: inside the last frame, or, with a large
  // bytes payload at the end, when that payload is written.
  rng r{42};
  int cases = 0;
  for (const std::size_t n : {std::size_t{120000}, std::size_t{230011}, std::size_t{400000}}) {
    for (int tail = 0; tail < 6; ++tail) {
      std::vector<item> items;
      std::vector<double> v(n - static_cast<std::size_t>(tail) * 997);
      for (double& x : v) x = static_cast<double>(r.next());
      items.emplace_back(std::move(v));
      for (int i = 0; i < tail; ++i) items.emplace_back(std::string(static_cast<std::size_t>(i) * 37, 'q'));
      if (tail % 2 == 1) items.emplace_back(std::vector<std::byte>(70000 + static_cast<std::size_t>(tail) * 1000, std::byte{7}));
      brine::encode_options p3;
      p3.protocol = 3;
      auto source = brine::pickle(items, p3);
      REQUIRE(source.has_value());
      for (const char label : {'\x04', '\x05'}) {
        std::string relabelled = *source;
        REQUIRE(relabelled[1] == '\x03');
        relabelled[1] = label;
        const brine::document doc = decoded(relabelled);
        for (int protocol = 4; protocol <= 5; ++protocol) {
          CAPTURE(n);
          CAPTURE(tail);
          CAPTURE(protocol);
          const std::string out = encoded(doc.root(), protocol);
          CHECK(out.size() > relabelled.size() + 64);  // it did outgrow the estimate
          CHECK(out == through_sink(doc.root(), protocol));
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 72);
}

TEST_CASE("encode: outgrowing the estimate early, with frames and payloads to come") {
  // One float fetched from the memo 200,000 times (2 bytes each): CPython never memoizes floats, so
  // the re-encode writes a BINFLOAT each time, and outgrows the estimate about a fifth of the way
  // in, inside an open frame, with some 1.4 MB of frames (and large payloads) still to write.
  for (const std::size_t payload : {std::size_t{0}, std::size_t{65536}, std::size_t{300001}}) {
    std::string p = "\x80\x04]\x94G";  // PROTO 4, EMPTY_LIST, MEMOIZE, BINFLOAT ...
    p += std::string("\x40\x09\x21\xfb\x54\x44\x2d\x18", 8);  // 3.141592653589793
    p += "\x94" "0";                                          // MEMOIZE (1), POP
    for (int batch = 0; batch < 200; ++batch) {
      p += "(";
      for (int i = 0; i < 1000; ++i) p += "h\x01";  // BINGET 1
      if (payload != 0 && batch % 50 == 49) {
        p += "B";  // BINBYTES
        const auto len = static_cast<std::uint32_t>(payload);
        p += std::string(reinterpret_cast<const char*>(&len), 4);
        p += std::string(payload, 'z');
      }
      p += "e";  // APPENDS
    }
    p += ".";
    const brine::document doc = decoded(p);
    for (int protocol = 0; protocol <= 5; ++protocol) {
      CAPTURE(payload);
      CAPTURE(protocol);
      const std::string out = encoded(doc.root(), protocol);
      CHECK(out.size() > p.size() + p.size() / 2);  // outgrew the estimate
      CHECK(out == through_sink(doc.root(), protocol));
      CHECK(out.capacity() - out.size() <= out.capacity() / 2);
    }
  }
}

TEST_CASE("encode: outgrowing the estimate with the very first opcode") {
  // Protocol 0 writes no PROTO: a root str whose text form (\u0109 escapes, 6 bytes for each
  // 2-byte character) is three times its pickle outgrows the estimate before anything stayed in
  // the region. (This returned an empty string once.)
  std::string text;
  for (int i = 0; i < 150000; ++i) text += "\xc4\x89";  // U+0109
  const auto source = brine::pickle(text);
  REQUIRE(source.has_value());
  const brine::document doc = decoded(*source);
  for (int protocol = 0; protocol <= 5; ++protocol) {
    CAPTURE(protocol);
    const std::string out = encoded(doc.root(), protocol);
    CHECK(out == through_sink(doc.root(), protocol));
    if (protocol == 0) CHECK(out.size() == 900006);
  }
}
