// bench/bench_encode.cpp — times brine's encoder on the workloads make_workloads.py wrote: from a
// decoded document (brine::encode, and brine::encode_to into a reused buffer) and from typed C++
// values (brine::pickle, brine/convert.hpp), after proving that each writes exactly the bytes
// CPython's pickle.dumps wrote for the same object (protocol 5).
//
//   bench_encode [--runs N] [--only NAME] DIR
//
// For each workload W in DIR:
//   1. decode W's pickles into documents and build the typed C++ values from them (untimed);
//   2. verify: encode(document) and pickle(typed value) must equal W.pickle byte for byte (every
//      workload here is plain data, for which brine claims byte identity with CPython 3.8-3.14);
//      any difference prints its offset and the program exits 1 without timing anything;
//   3. time: N samples of each path (operations shorter than 0.1 ms repeated within a sample; the
//      pickles made are freed after the clock stops);
//   4. memory: the heap's peak growth during one encode of each path (heap_meter.cpp).
//
// The typed values are what a C++ program would hold: std::vector<std::int64_t>, std::vector<double>,
// std::vector<std::string>, std::tuple, std::map, and small structs with a brine::codec. Where
// CPython's output depends on object identity (dict keys that are interned constants, vocabulary
// words shared by many records, '' and other 1-character strs, tuples referenced many times), the
// codecs say so with typed_encoder::dict_of's keys and brine::interned_list (interned strs),
// fetch_shared / remember_shared and singleton_str, which is what byte identity requires. `nested`
// has no typed form: a C++ type for a 50,000-deep chain would encode recursively (brine's typed
// API recurses along the C++ type).
//
// Output: notes, and one `result kind=encode workload=W ...` line per workload for run.py.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "bench_common.hpp"
#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "brine/encode.hpp"
#include "brine/stdlib.hpp"

// ---------------------------------------------------------------------------------------------
// Typed forms of the workloads

namespace typed {

// A str CPython holds as one object for the whole pickle (an interned dict key, a vocabulary word
// the data shares): written once, then fetched from the memo.
inline void shared_str(brine::typed_encoder& e, const std::string& s) {
  if (e.fetch_shared(s)) return;
  e.str(s);
  e.remember_shared(s);
}

// '' and 1-character latin-1 strs are interpreter singletons in CPython.
inline bool is_singleton_text(const std::string& s) {
  if (s.empty()) return true;
  const auto c0 = static_cast<unsigned char>(s[0]);
  if (s.size() == 1) return c0 < 0x80;
  return s.size() == 2 && (c0 == 0xc2 || c0 == 0xc3);  // U+0080..U+00FF
}
inline void plain_str(brine::typed_encoder& e, const std::string& s) {
  if (is_singleton_text(s)) e.singleton_str(s);
  else e.str(s);
}

struct record {
  std::int64_t id = 0;
  std::string name;
  double score = 0;
  std::array<std::string, 3> tags;
  bool active = false;
};

// A dict in insertion order (std::map would sort the keys; CPython keeps insertion order). With
// `SharedKeys`, the key strs are objects shared with other dicts of the pickle (copies of one dict,
// as pyperformance's group of profiles), so each is written once and fetched after.
template <class V, bool SharedKeys = false>
struct ordered_dict {
  std::vector<std::pair<std::string, V>> items;
};

using profile_value = std::variant<std::int64_t, std::string, std::vector<std::string>, brine::py_date>;

struct shared_item {
  std::string name;
  std::int64_t index = 0;
  double x = 0;
};
struct shared_refs {
  std::vector<shared_item> pool;
  std::vector<std::uint32_t> refs;
};

}  // namespace typed

// A dict display in Python source: its keys are constants every record shares (dict_of's keys);
// its tags are words of a vocabulary, each one object in CPython however many records hold it
// (interned_list).
template <>
struct brine::codec<typed::record> {
  static void encode(brine::typed_encoder& e, const typed::record& r) {
    e.dict_of("id", r.id, "name", r.name, "score", r.score, "tags", brine::interned_list{r.tags}, "active", r.active,
              "parent", nullptr);
  }
};

template <class V, bool SharedKeys>
struct brine::codec<typed::ordered_dict<V, SharedKeys>> {
  static void encode(brine::typed_encoder& e, const typed::ordered_dict<V, SharedKeys>& d) {
    e.dict(d.items.size(), [&](std::size_t i) {
      if constexpr (SharedKeys) typed::shared_str(e, d.items[i].first);
      else e.str(d.items[i].first);
      e.boundary();
      if constexpr (std::is_same_v<V, typed::profile_value>) {
        std::visit(
            [&](const auto& x) {
              using X = std::remove_cvref_t<decltype(x)>;
              if constexpr (std::is_same_v<X, std::string>) {
                typed::plain_str(e, x);
              } else if constexpr (std::is_same_v<X, std::vector<std::string>>) {
                e.list(x.size(), [&](std::size_t k) { typed::plain_str(e, x[k]); });
              } else {
                e.value(x);
              }
            },
            d.items[i].second);
      } else if constexpr (std::is_same_v<V, std::string>) {
        typed::plain_str(e, d.items[i].second);
      } else {
        e.value(d.items[i].second);
      }
    });
  }
};

template <>
struct brine::codec<typed::shared_refs> {
  static void encode(brine::typed_encoder& e, const typed::shared_refs& s) {
    // The pool's tuples are one Python object each: the first reference writes it, the others
    // fetch it by its memo index.
    std::vector<std::uint64_t> memo(s.pool.size(), UINT64_MAX);
    e.list(s.refs.size(), [&](std::size_t k) {
      const std::uint32_t i = s.refs[k];
      if (memo[i] != UINT64_MAX) return e.memo_get(memo[i]);
      const typed::shared_item& item = s.pool[i];
      e.begin_tuple(3);
      e.boundary();
      e.str(item.name);
      e.boundary();
      e.integer(item.index);
      e.boundary();
      e.floating(item.x);
      e.end_tuple(3);
      memo[i] = e.last_memo_index();
    });
  }
};

namespace {

// A workload's typed form: one C++ value per part.
class typed_form {
 public:
  virtual ~typed_form() = default;
  virtual brine::result<std::string> encode(std::size_t part) const = 0;
  virtual std::string type_name() const = 0;
};

template <class... T>
class typed_values final : public typed_form {
 public:
  typed_values(std::string type_name, T... v) : name_(std::move(type_name)), values_(std::move(v)...) {}
  brine::result<std::string> encode(std::size_t part) const override {
    std::optional<brine::result<std::string>> out;
    std::size_t i = 0;
    std::apply([&](const auto&... v) { ((i++ == part ? (void)out.emplace(brine::pickle(v)) : void()), ...); }, values_);
    return std::move(*out);
  }
  std::string type_name() const override { return name_; }

 private:
  std::string name_;
  std::tuple<T...> values_;
};

template <class T>
T must(brine::result<T> r, const char* what) {
  if (!r) {
    std::printf("  FAIL building the typed form (%s): %s\n", what, r.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

std::string text(brine::value v) { return std::string(v.as_str()); }

template <class V, bool SharedKeys = false, class F>
typed::ordered_dict<V, SharedKeys> ordered_from(brine::value d, F&& convert) {
  typed::ordered_dict<V, SharedKeys> out;
  const auto kv = d.pairs();
  for (std::size_t i = 0; i + 1 < kv.size(); i += 2) out.items.emplace_back(text(kv[i]), convert(kv[i + 1]));
  return out;
}

typed::profile_value profile_value_of(brine::value v) {
  switch (v.kind()) {
    case brine::kind::integer: return v.as_int64();
    case brine::kind::str: return text(v);
    case brine::kind::list: return must(brine::from_value<std::vector<std::string>>(v), "profile list");
    default: return must(brine::from_value<brine::py_date>(v), "profile date");
  }
}

// The typed form of workload `name`, built from its decoded documents; null when it has none.
std::unique_ptr<typed_form> typed_form_of(const std::string& name, const std::vector<brine::document>& docs) {
  const brine::value root = docs[0].root();
  if (name == "records") {
    std::vector<typed::record> v;
    for (const brine::value r : root.items()) {
      typed::record x;
      x.id = r.find("id").as_int64();
      x.name = text(r.find("name"));
      x.score = r.find("score").as_double();
      const brine::value tags = r.find("tags");
      for (std::size_t k = 0; k < 3; ++k) x.tags[k] = text(tags[k]);
      x.active = r.find("active").as_bool();
      v.push_back(std::move(x));
    }
    return std::make_unique<typed_values<std::vector<typed::record>>>("std::vector<record> (codec: dict)", std::move(v));
  }
  if (name == "ints")
    return std::make_unique<typed_values<std::vector<std::int64_t>>>("std::vector<std::int64_t>",
                                                                      must(brine::from_value<std::vector<std::int64_t>>(root), name.c_str()));
  if (name == "floats")
    return std::make_unique<typed_values<std::vector<double>>>("std::vector<double>",
                                                                must(brine::from_value<std::vector<double>>(root), name.c_str()));
  if (name == "strs")
    return std::make_unique<typed_values<std::vector<std::string>>>("std::vector<std::string>",
                                                                     must(brine::from_value<std::vector<std::string>>(root), name.c_str()));
  if (name == "dict")
    return std::make_unique<typed_values<typed::ordered_dict<std::int64_t>>>(
        "ordered_dict<std::string, std::int64_t>", ordered_from<std::int64_t>(root, [](brine::value x) { return x.as_int64(); }));
  if (name == "pp_pickle") {
    auto profile = ordered_from<typed::profile_value, true>(root, profile_value_of);
    auto pair = must(brine::from_value<std::tuple<std::vector<std::int64_t>, std::int64_t>>(docs[1].root()), "pp_pickle tuple");
    std::vector<typed::ordered_dict<std::string, true>> group;
    for (const brine::value d : docs[2].root().items()) group.push_back(ordered_from<std::string, true>(d, text));
    return std::make_unique<typed_values<typed::ordered_dict<typed::profile_value, true>, std::tuple<std::vector<std::int64_t>, std::int64_t>,
                                         std::vector<typed::ordered_dict<std::string, true>>>>(
        "ordered_dict<std::string, std::variant<...>>, std::tuple<std::vector<std::int64_t>, std::int64_t>, "
        "std::vector<ordered_dict<std::string, std::string>>",
        std::move(profile), std::move(pair), std::move(group));
  }
  if (name == "pp_list") {
    using T = std::vector<std::vector<std::vector<std::int64_t>>>;
    return std::make_unique<typed_values<T>>("std::vector<std::vector<std::vector<std::int64_t>>>", must(brine::from_value<T>(root), name.c_str()));
  }
  if (name == "pp_dict") {
    using T = std::map<std::int64_t, std::map<std::int64_t, std::optional<std::int64_t>>>;
    return std::make_unique<typed_values<T>>("std::map<std::int64_t, std::map<std::int64_t, std::optional<std::int64_t>>>",
                                             must(brine::from_value<T>(root), name.c_str()));
  }
  if (name == "shared") {
    typed::shared_refs s;
    std::map<std::uint32_t, std::uint32_t> index_of;  // node id -> pool index
    for (const brine::value t : root.items()) {
      auto [it, fresh] = index_of.emplace(t.id(), static_cast<std::uint32_t>(s.pool.size()));
      if (fresh) s.pool.push_back({text(t[0]), t[1].as_int64(), t[2].as_double()});
      s.refs.push_back(it->second);
    }
    return std::make_unique<typed_values<typed::shared_refs>>("shared_refs (codec: list of shared tuples)", std::move(s));
  }
  return nullptr;
}

// The first differing offset, or -1.
long long first_difference(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return static_cast<long long>(i);
  return a.size() == b.size() ? -1 : static_cast<long long>(n);
}

bool same_bytes(const std::string& workload, const char* path, std::size_t part, const brine::result<std::string>& got,
                std::string_view want) {
  if (!got) {
    std::printf("  FAIL %s: %s of part %zu failed: %s\n", workload.c_str(), path, part, got.error().to_string().c_str());
    return false;
  }
  const long long at = first_difference(*got, want);
  if (at < 0) return true;
  std::printf("  FAIL %s: %s of part %zu differs from pickle.dumps at offset %lld (%zu vs %zu bytes)\n", workload.c_str(), path,
              part, at, got->size(), want.size());
  return false;
}

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span<const char>(s.data(), s.size())); }

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_common(argc, argv, "bench_encode [--runs N] [--only NAME] DIR");
  std::printf("bench_encode: %d samples per measurement; per operation: wall-clock median (min), CPU-time median\n", args.runs);
  for (const std::string& name : bench::workload_names(args.dir)) {
    if (!args.wants(name)) continue;
    const bench::workload_data w(args.dir, name);

    // 1. Documents and typed values (untimed).
    std::vector<brine::document> docs;
    for (std::size_t i = 0; i < w.parts.size(); ++i) {
      auto d = brine::decode(as_bytes(w.parts[i]));
      if (!d) {
        std::printf("  FAIL %s: decode failed: %s\n", name.c_str(), d.error().to_string().c_str());
        return 1;
      }
      docs.push_back(std::move(*d));
    }
    const std::unique_ptr<typed_form> typed_value = typed_form_of(name, docs);

    // 2. Verify: byte identity with CPython's pickle.dumps.
    bool ok = true;
    std::string sink_buffer;
    const brine::byte_sink sink = [&](std::span<const std::byte> piece) {
      sink_buffer.append(reinterpret_cast<const char*>(piece.data()), piece.size());
      return true;
    };
    for (std::size_t i = 0; i < w.parts.size(); ++i) {
      ok &= same_bytes(name, "encode", i, brine::encode(docs[i].root()), w.parts[i]);
      sink_buffer.clear();
      const auto n = brine::encode_to(docs[i].root(), sink);
      ok &= same_bytes(name, "encode_to", i, n ? brine::result<std::string>(sink_buffer) : brine::result<std::string>(n.error()), w.parts[i]);
      if (typed_value) ok &= same_bytes(name, "typed pickle", i, typed_value->encode(i), w.parts[i]);
    }
    if (!ok) {
      std::printf("  %s: output differs from CPython's; not timing\n", name.c_str());
      return 1;
    }
    std::printf("  verified %-9s encode, encode_to%s: identical to pickle.dumps (%zu part(s), %zu bytes)%s%s\n", name.c_str(),
                typed_value ? " and typed pickle" : "", w.parts.size(), w.blob.size(), typed_value ? "; typed: " : "",
                typed_value ? typed_value->type_name().c_str() : "");

    // 3. Time.
    std::vector<brine::result<std::string>> kept;
    auto encode_all = [&](int reps, auto&& one) {
      kept.clear();
      kept.reserve(static_cast<std::size_t>(reps) * w.parts.size());
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < w.parts.size(); ++i) kept.push_back(one(i));
      const auto s = bench::stop(t);
      for (const auto& k : kept)
        if (!k) std::abort();
      kept.clear();  // freed after the clock stopped
      return s;
    };
    const bench::timing enc = bench::time_op(args.runs, [&](int reps) {
      return encode_all(reps, [&](std::size_t i) { return brine::encode(docs[i].root()); });
    });
    const bench::timing enc_to = bench::time_op(args.runs, [&](int reps) {
      bool good = true;
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < w.parts.size(); ++i) {
          sink_buffer.clear();  // keeps its capacity: a warm buffer, as a socket's or file's
          good &= brine::encode_to(docs[i].root(), sink).has_value();
        }
      const auto s = bench::stop(t);
      if (!good) std::abort();
      return s;
    });
    bench::timing typ;
    if (typed_value)
      typ = bench::time_op(args.runs, [&](int reps) { return encode_all(reps, [&](std::size_t i) { return typed_value->encode(i); }); });

    brine::release_retained_memory();  // measured from nothing, as the decode peak
    // 4. Memory: peak heap growth of one encode of every part.
    std::int64_t enc_peak = 0, typ_peak = 0;
    {
      const bench::heap_scope heap;
      encode_all(1, [&](std::size_t i) { return brine::encode(docs[i].root()); });
      enc_peak = heap.peak_growth();
    }
    if (typed_value) {
      const bench::heap_scope heap;
      encode_all(1, [&](std::size_t i) { return typed_value->encode(i); });
      typ_peak = heap.peak_growth();
    }

    const double mb = static_cast<double>(w.blob.size()) / 1e6;
    std::printf("  %-9s %8.3f MB  encode %9.4f ms (min %9.4f, cpu %9.4f, %5.0f MB/s)  encode_to %9.4f ms", name.c_str(), mb,
                bench::ms(enc.median_ns), bench::ms(enc.min_ns), bench::ms(enc.cpu_median_ns), mb / (bench::ms(enc.median_ns) / 1e3),
                bench::ms(enc_to.median_ns));
    if (typed_value)
      std::printf("  typed %9.4f ms (min %9.4f, cpu %9.4f)\n", bench::ms(typ.median_ns), bench::ms(typ.min_ns), bench::ms(typ.cpu_median_ns));
    else
      std::printf("  typed n/a\n");
    bench::result_line line("encode", name);
    line.add("pickle_bytes", static_cast<long long>(w.blob.size()))
        .add("parts", static_cast<long long>(w.parts.size()))
        .add("runs", args.runs)
        .add("encode", enc)
        .add("encode_to", enc_to)
        .add("encode_peak_bytes", bench::heap::available() ? enc_peak : -1);
    if (typed_value) line.add("typed", typ).add("typed_peak_bytes", bench::heap::available() ? typ_peak : -1);
    line.print();
  }
  return 0;
}
