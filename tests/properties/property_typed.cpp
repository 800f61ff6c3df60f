// tests/properties/property_typed.cpp — property: the typed encoder and the document encoder
// write the same bytes.
//
// For a generated C++ value V (a list of items of every shape the typed API writes: scalars, strs
// and singleton strs, interned strs, dict_of records whose tags are shared through
// fetch_shared / remember_shared or brine::interned_list, dict_of's other values (each type it
// writes itself, lists it writes itself or leaves to value()), contiguous lists of ints and strs,
// tuples, maps, optionals, long
// strs that leave a frame, lists long enough for several batches), every protocol and both
// batching profiles: T = brine::pickle(V) decodes, its scalars come back as written, and
// brine::encode(decode(T)) == T byte for byte. The two encoders are written separately (the typed
// one inline in brine/convert.hpp, the document one in lib/pickler.cpp), and each claims CPython's
// bytes for the object it writes, so any difference is a bug in one of them: memo numbering,
// batching, frames, the shared-object cache.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "brine/encode.hpp"
#include "property_check.hpp"

namespace {

struct item {
  int kind = 0;
  std::int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<std::string> words;
  bool b = false;
};

// A record's tags: words CPython shares by identity, found again by their text.
struct shared_words {
  const std::vector<std::string>& words;
};

constexpr int kinds = 13;

}  // namespace

template <>
struct brine::codec<shared_words> {
  static void encode(brine::typed_encoder& e, const shared_words& w) {
    e.list(w.words.size(), [&](std::size_t k) {
      if (e.fetch_shared(w.words[k])) return;
      e.str(w.words[k]);
      e.remember_shared(w.words[k]);
    });
  }
};

template <>
struct brine::codec<item> {
  static void encode(brine::typed_encoder& e, const item& x) {
    switch (x.kind) {
      case 0: return e.value(x.i);
      case 1: return e.value(x.f);
      case 2: return e.value(x.s);
      case 3:
        return e.dict_of("id", x.i, "name", x.s, "score", x.f, "tags", shared_words{x.words}, "active", x.b, "parent",
                         nullptr);
      case 4: return e.value(x.words);
      case 5: return e.value(std::tuple<std::int64_t, std::string, bool>{x.i, x.s, x.b});
      case 6: return e.interned_str(x.s);
      case 7: return e.value(std::map<std::string, std::int64_t>{{x.s, x.i}, {"k", x.i / 2}});
      case 8: return e.value(x.b ? std::optional<double>(x.f) : std::nullopt);
      case 9: {  // now and then longer than a frame: written outside frames at protocol 4+
        const auto n = static_cast<std::size_t>((x.i & 3) == 0 ? 65536 + (x.i & 0xfff) : x.i & 0x3ff);
        return e.value(std::string(n, 'x'));
      }
      case 10: {
        std::vector<std::int64_t> v(static_cast<std::size_t>(x.i & 0xfff));  // up to 4095: several batches
        for (std::size_t k = 0; k < v.size(); ++k) v[k] = static_cast<std::int64_t>(static_cast<std::uint64_t>(x.i) * k);
        return e.value(v);
      }
      case 11: {  // dict_of's own writes and its fallbacks to value(), on the same record
        const std::vector<std::int64_t> counts(static_cast<std::size_t>(x.i & 3) == 3 ? 1001 : static_cast<std::size_t>(x.i & 3),
                                               x.i);
        return e.dict_of("id", x.i, "tags", brine::interned_list{x.words}, "flag", x.b, "words", x.words, "u",
                         static_cast<std::uint64_t>(x.i), "f", x.f, "w", brine::interned{x.s}, "n", nullptr, "counts", counts,
                         "pair", std::array<double, 2>{x.f, -x.f}, "opt", x.b ? std::optional<std::int64_t>(x.i) : std::nullopt,
                         "small", static_cast<std::int8_t>(x.i), "s", x.s);
      }
      default:  // bytes, one object for every item naming the same key
        if (e.fetch_shared(x.s)) return;
        e.bytes(std::as_bytes(std::span(x.s.data(), x.s.size())));
        e.remember_shared(x.s);
        return;
    }
  }
};

namespace {

rc::Gen<std::string> gen_text() {
  // Short words from a small alphabet (so strs repeat, singletons and keys of every cached length
  // occur), sometimes non-ASCII or longer than the shared-key cache holds.
  const auto join = [](const std::vector<std::string>& parts) {
    std::string t;
    for (const auto& part : parts) t += part;
    return t;
  };
  return rc::gen::oneOf(rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(std::vector<std::string>{"a", "b", "k", "\xc3\xa9"})), join),
                        rc::gen::map(rc::gen::inRange<int>(0, 40), [](int n) { return "word" + std::string(static_cast<std::size_t>(n), 'w'); }),
                        rc::gen::map(rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 7)), [](const std::vector<int>& parts) {
                          static const char* const piece[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e", "\n", "\\", " "};
                          std::string t;
                          for (int k : parts) t += piece[k];
                          return t;
                        }));
}

rc::Gen<item> gen_item() {
  return rc::gen::build<item>(rc::gen::set(&item::kind, rc::gen::inRange(0, kinds)),
                              rc::gen::set(&item::i, rc::gen::oneOf(rc::gen::inRange<std::int64_t>(-300, 70000),
                                                                     rc::gen::arbitrary<std::int64_t>())),
                              rc::gen::set(&item::f, rc::gen::arbitrary<double>()),
                              rc::gen::set(&item::s, gen_text()),
                              rc::gen::set(&item::words, rc::gen::container<std::vector<std::string>>(gen_text())),
                              rc::gen::set(&item::b, rc::gen::arbitrary<bool>()));
}

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

TEST_CASE("brine::pickle(V) == brine::encode(decode(brine::pickle(V))) at every protocol") {
  brine_prop::check("typed", 400, [] {
    const std::vector<item> v = *rc::gen::container<std::vector<item>>(gen_item());
    for (const auto profile : {brine::cpython_profile::cpython_3_8_to_3_14, brine::cpython_profile::cpython_3_15}) {
      for (int p = 0; p <= 5; ++p) {
        brine::encode_options o;
        o.protocol = p;
        o.profile = profile;
        const auto typed = brine::pickle(v, o);
        if (!typed) RC_FAIL("pickle fails at protocol " + std::to_string(p) + ": " + typed.error().to_string());
        const auto d = brine::decode(*typed);
        if (!d) RC_FAIL("decode(pickle(V)) fails at protocol " + std::to_string(p) + ": " + d.error().to_string());
        const brine::value list = d->root();
        RC_ASSERT(list.size() == v.size());
        for (std::size_t k = 0; k < v.size(); ++k) {
          const brine::value got = list[k];
          if (v[k].kind == 0) RC_ASSERT(got.fits_int64() && got.as_int64() == v[k].i);
          if (v[k].kind == 1) RC_ASSERT(same_double(got.as_double(), v[k].f));
          if (v[k].kind == 2 || v[k].kind == 6) RC_ASSERT(got.as_str() == v[k].s);
        }
        const auto doc = brine::encode(list, o);
        if (!doc) RC_FAIL("encode(decode(pickle(V))) fails at protocol " + std::to_string(p) + ": " + doc.error().to_string());
        if (*doc != *typed) {
          std::size_t at = 0;
          while (at < doc->size() && at < typed->size() && (*doc)[at] == (*typed)[at]) ++at;
          RC_FAIL("protocol " + std::to_string(p) + (profile == brine::cpython_profile::cpython_3_15 ? " (3.15)" : "") +
                  ": typed and document bytes differ at offset " + std::to_string(at) + " of " +
                  std::to_string(typed->size()) + " / " + std::to_string(doc->size()));
        }
      }
    }
  });
}
