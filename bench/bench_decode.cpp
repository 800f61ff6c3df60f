// bench/bench_decode.cpp — times brine::decode, a reused brine::decoder and brine::validate on the
// workloads make_workloads.py wrote, beside a memcpy of the same bytes, after proving that the
// decoded documents hold exactly what CPython pickled (simdjson's rule: a benchmark that does not
// check its result measures nothing).
//
//   bench_decode [--runs N] [--only NAME] DIR
//
// For each workload W in DIR (W.pickle and W.facts; a workload of several objects has one pickle
// per object, decoded one after the other as one operation):
//   1. verify: decode every part once, and twice with a reused brine::decoder, and compare each
//      document's graph digest (kinds, values, order and sharing: bench_common.hpp) with W.facts;
//      for the five large workloads also the root's kind and size, first and last elements, a
//      checksum over every element, and (records) the memo's sharing, element by element.
//      validate must accept the bytes too. A failed check prints what differed and the program
//      exits 1 without timing anything.
//   2. time: N samples each of brine::decode, a reused brine::decoder, brine::validate and a memcpy
//      of the pickle (the floor for any decoder that touches every byte); operations shorter than
//      0.1 ms are repeated within a sample. Documents made by a timed decode are destroyed after the
//      clock stops, as CPython's objects are in bench_cpython.py.
//   3. memory: document::memory_bytes() (what the documents keep; the borrowed pickle is not
//      counted) and the heap's peak growth during one decode (heap_meter.cpp).
//
// Output: human-readable notes, and one `result kind=decode workload=W key=value ...` line per
// workload that run.py parses (units are in the key names: _ns, _bytes).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench_common.hpp"
#include "brine/decode.hpp"

namespace {

using bench::facts;
using bench::float_bits;

// Each string followed by one 0 byte, as make_workloads.py's crc().
std::uint32_t crc_item(std::uint32_t crc, std::string_view s) {
  return bench::crc32_update(bench::crc32_update(crc, s), std::string_view("\0", 1));
}

// ---------------------------------------------------------------------------------------------
// Verification

class verifier {
 public:
  static constexpr std::size_t whole = static_cast<std::size_t>(-1);

  explicit verifier(std::string workload) : workload_(std::move(workload)) {}

  // `what` names the property, `at` the element it was checked on (`whole`: the document). The
  // message is built only on failure. Returns `ok`, so callers can stop walking a wrong structure.
  bool check(bool ok, std::string_view what, std::size_t at = whole) {
    ++checks_;
    if (!ok) fail(what, at, "");
    return ok;
  }
  template <class T>
  bool equal(const T& got, const T& want, std::string_view what) {
    ++checks_;
    if (got == want) return true;
    std::ostringstream s;
    s << " is " << got << ", expected " << want;
    fail(what, whole, s.str());
    return false;
  }
  int failures() const { return failures_; }
  int checks() const { return checks_; }

 private:
  void fail(std::string_view what, std::size_t at, const std::string& detail) {
    if (++failures_ > 10) return;
    std::printf("  FAIL %s: ", workload_.c_str());
    if (at != whole) std::printf("element %zu: ", at);
    std::printf("%.*s%s\n", static_cast<int>(what.size()), what.data(), detail.c_str());
  }

  std::string workload_;
  int failures_ = 0;
  int checks_ = 0;
};

bool is_list_of(verifier& v, brine::value root, const facts& f) {
  return v.check(root.kind() == brine::kind::list, "root is a list") &&
         v.equal<std::uint64_t>(root.size(), f.u64("size"), "root size");
}

void verify_records(verifier& v, brine::value root, const facts& f) {
  if (!is_list_of(v, root, f)) return;
  static constexpr std::string_view key_names[6] = {"id", "name", "score", "tags", "active", "parent"};
  const auto records = root.items();
  std::uint32_t key_ids[6] = {};
  std::uint64_t id_sum = 0, score_sum = 0, active = 0;
  std::uint32_t name_crc = 0, tag_crc = 0;
  std::vector<std::uint32_t> tag_ids;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const brine::value r = records[i];
    if (!v.check(r.kind() == brine::kind::dict && r.size() == 6, "record is a 6-entry dict", i)) return;
    const auto kv = r.pairs();
    for (std::size_t k = 0; k < 6; ++k) {
      const brine::value key = kv[2 * k];
      if (i == 0) {
        if (!v.check(key.kind() == brine::kind::str && key.as_str() == key_names[k], "keys in order id, name, score, tags, active, parent", i)) return;
        key_ids[k] = key.id();
      } else if (!v.check(key.id() == key_ids[k], "keys are record 0's key nodes (memo sharing)", i)) {
        return;
      }
    }
    const brine::value id = kv[1], name = kv[3], score = kv[5], tags = kv[7], act = kv[9], parent = kv[11];
    if (!v.check(id.kind() == brine::kind::integer && id.fits_int64() && name.kind() == brine::kind::str &&
                     score.kind() == brine::kind::floating && tags.kind() == brine::kind::list &&
                     tags.size() == 3 && act.kind() == brine::kind::boolean && parent.is_none(),
                 "value kinds are int, str, float, list of 3, bool, None", i))
      return;
    id_sum += static_cast<std::uint64_t>(id.as_int64());
    score_sum += float_bits(score.as_double());
    name_crc = crc_item(name_crc, name.as_str());
    active += act.as_bool() ? 1u : 0u;
    std::string joined;
    for (const brine::value t : tags.items()) {
      if (!v.check(t.kind() == brine::kind::str, "tags are str", i)) return;
      tag_crc = crc_item(tag_crc, t.as_str());
      tag_ids.push_back(t.id());
      if (!joined.empty()) joined += ',';
      joined += t.as_str();
    }
    if (i == 0 || i + 1 == records.size()) {
      const std::string which = i == 0 ? "first_" : "last_";
      v.equal<std::int64_t>(id.as_int64(), f.i64(which + "id"), which + "id");
      v.equal<std::string>(std::string(name.as_str()), f.str(which + "name"), which + "name");
      v.equal<std::uint64_t>(float_bits(score.as_double()), f.bits(which + "score"), which + "score bits");
      v.equal<std::string>(joined, f.str(which + "tags"), which + "tags");
      v.equal<std::uint64_t>(act.as_bool() ? 1 : 0, f.u64(which + "active"), which + "active");
    }
  }
  v.equal<std::uint64_t>(id_sum, f.u64("id_sum64"), "sum of ids");
  v.equal<std::uint64_t>(score_sum, f.u64("score_sum64"), "sum of score bits");
  v.equal<std::uint64_t>(name_crc, f.u64("name_crc"), "crc of names");
  v.equal<std::uint64_t>(tag_crc, f.u64("tag_crc"), "crc of tags");
  v.equal<std::uint64_t>(active, f.u64("active_count"), "active count");
  // CPython's memo wrote each vocabulary word once: one node per distinct word.
  std::sort(tag_ids.begin(), tag_ids.end());
  const auto distinct = static_cast<std::uint64_t>(std::unique(tag_ids.begin(), tag_ids.end()) - tag_ids.begin());
  v.equal<std::uint64_t>(distinct, f.u64("distinct_tags"), "distinct tag nodes");
}

void verify_ints(verifier& v, brine::value root, const facts& f) {
  if (!is_list_of(v, root, f)) return;
  const auto items = root.items();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const brine::value x = items[i];
    if (!v.check(x.kind() == brine::kind::integer && x.fits_int64(), "is an int64", i)) return;
    sum += static_cast<std::uint64_t>(x.as_int64());
  }
  v.equal<std::int64_t>(items[0].as_int64(), f.i64("first"), "first");
  v.equal<std::int64_t>(items[items.size() - 1].as_int64(), f.i64("last"), "last");
  v.equal<std::uint64_t>(sum, f.u64("sum64"), "sum");
}

void verify_floats(verifier& v, brine::value root, const facts& f) {
  if (!is_list_of(v, root, f)) return;
  const auto items = root.items();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const brine::value x = items[i];
    if (!v.check(x.kind() == brine::kind::floating, "is a float", i)) return;
    sum += float_bits(x.as_double());
  }
  v.equal<std::uint64_t>(float_bits(items[0].as_double()), f.bits("first"), "first bits");
  v.equal<std::uint64_t>(float_bits(items[items.size() - 1].as_double()), f.bits("last"), "last bits");
  v.equal<std::uint64_t>(sum, f.u64("sum64"), "sum of bits");
}

void verify_strs(verifier& v, brine::value root, const facts& f) {
  if (!is_list_of(v, root, f)) return;
  const auto items = root.items();
  std::uint32_t crc = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const brine::value x = items[i];
    if (!v.check(x.kind() == brine::kind::str, "is a str", i)) return;
    crc = crc_item(crc, x.as_str());
  }
  v.equal<std::string>(std::string(items[0].as_str()), f.str("first"), "first");
  v.equal<std::string>(std::string(items[items.size() - 1].as_str()), f.str("last"), "last");
  v.equal<std::uint64_t>(crc, f.u64("crc"), "crc");
}

void verify_dict(verifier& v, brine::value root, const facts& f) {
  if (!v.check(root.kind() == brine::kind::dict, "root is a dict") ||
      !v.equal<std::uint64_t>(root.size(), f.u64("size"), "root size"))
    return;
  const auto kv = root.pairs();
  std::uint32_t crc = 0;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kv.size(); i += 2) {
    const brine::value key = kv[i], val = kv[i + 1];
    if (!v.check(key.kind() == brine::kind::str && val.kind() == brine::kind::integer && val.fits_int64(),
                 "pair is str -> int64", i / 2))
      return;
    crc = crc_item(crc, key.as_str());
    sum += static_cast<std::uint64_t>(val.as_int64());
  }
  v.equal<std::string>(std::string(kv[0].as_str()), f.str("first_key"), "first key");
  v.equal<std::int64_t>(kv[1].as_int64(), f.i64("first_value"), "first value");
  v.equal<std::string>(std::string(kv[kv.size() - 2].as_str()), f.str("last_key"), "last key");
  v.equal<std::int64_t>(kv[kv.size() - 1].as_int64(), f.i64("last_value"), "last value");
  v.equal<std::uint64_t>(crc, f.u64("key_crc"), "crc of keys");
  v.equal<std::uint64_t>(sum, f.u64("value_sum64"), "sum of values");
  const brine::value probe = root.find(f.str("probe_key"));
  if (v.check(probe.valid() && probe.kind() == brine::kind::integer, "find(probe_key) is an int"))
    v.equal<std::int64_t>(probe.as_int64(), f.i64("probe_value"), "find(probe_key)");
}

struct deep_check {
  const char* name;
  void (*verify)(verifier&, brine::value, const facts&);
};

// The element-by-element checks of the five large workloads (part 0, their only part).
constexpr deep_check deep_checks[] = {
    {"records", verify_records}, {"ints", verify_ints}, {"floats", verify_floats},
    {"strs", verify_strs},       {"dict", verify_dict},
};

void verify_document(verifier& v, const bench::workload_data& w, std::size_t part, const brine::document& doc) {
  v.equal<int>(doc.protocol(), 5, "protocol");
  v.check(doc.warnings().empty(), "no warnings");
  v.equal<std::string>(bench::digest_of(doc.root()), w.f.list("digest").at(part), "graph digest of part " + std::to_string(part));
  if (part != 0) return;
  for (const deep_check& d : deep_checks)
    if (w.name == d.name) d.verify(v, doc.root(), w.f);
}

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span<const char>(s.data(), s.size())); }

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_common(argc, argv, "bench_decode [--runs N] [--only NAME] DIR");
  std::printf("bench_decode: %d samples per measurement; per operation: wall-clock median (min), CPU-time median\n", args.runs);
  for (const std::string& name : bench::workload_names(args.dir)) {
    if (!args.wants(name)) continue;
    const bench::workload_data w(args.dir, name);
    verifier v(name);
    v.equal<std::uint64_t>(w.blob.size(), w.f.u64("pickle_bytes"), "pickle size");

    // 1. Verify what each timed entry point produces (this is also the warm-up).
    std::size_t doc_bytes = 0, nodes = 0;
    std::int64_t peak = 0;
    {
      // Tables retained from the previous workload would make this decode's growth look small:
      // the peak is what a decode allocates from nothing.
      brine::release_retained_memory();
      const bench::heap_scope heap;
      std::vector<brine::document> docs;
      for (std::size_t i = 0; i < w.parts.size(); ++i) {
        auto doc = brine::decode(as_bytes(w.parts[i]));
        if (!doc) {
          std::printf("  FAIL %s: decode of part %zu failed: %s\n", name.c_str(), i, doc.error().to_string().c_str());
          return 1;
        }
        docs.push_back(std::move(*doc));
      }
      peak = heap.peak_growth();
      for (std::size_t i = 0; i < docs.size(); ++i) {
        verify_document(v, w, i, docs[i]);
        doc_bytes += docs[i].memory_bytes();
        nodes += docs[i].node_count();
      }
    }

    // brine::decoder keeps its tables between calls: verify its second decode, the reused case.
    brine::decoder reused;
    for (std::size_t i = 0; i < w.parts.size(); ++i) {
      for (int k = 0; k < 2; ++k) {
        auto r = reused.decode(as_bytes(w.parts[i]));
        if (!r) {
          std::printf("  FAIL %s: decoder failed: %s\n", name.c_str(), r.error().to_string().c_str());
          return 1;
        }
        if (k == 1) verify_document(v, w, i, **r);
      }
      auto validated = brine::validate(as_bytes(w.parts[i]));
      if (!validated) {
        std::printf("  FAIL %s: validate failed: %s\n", name.c_str(), validated.error().to_string().c_str());
        return 1;
      }
      v.check(validated->warnings.empty() && validated->protocol == 5, "validate: protocol 5, no warnings");
    }
    if (v.failures() != 0) {
      std::printf("  %s: %d of %d checks failed; not timing\n", name.c_str(), v.failures(), v.checks());
      return 1;
    }
    std::printf("  verified %-9s %d checks ok, %zu part(s), %zu nodes\n", name.c_str(), v.checks(), w.parts.size(), nodes);

    // 2. Time. A failure now would mean the library is not deterministic: abort.
    std::vector<std::optional<brine::result<brine::document>>> kept;
    const bench::timing dec = bench::time_op(args.runs, [&](int reps) {
      kept.clear();
      kept.reserve(static_cast<std::size_t>(reps) * w.parts.size());
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (const auto part : w.parts) kept.emplace_back(brine::decode(as_bytes(part)));
      const auto s = bench::stop(t);
      for (const auto& d : kept)
        if (!*d) std::abort();
      kept.clear();  // the documents are destroyed here, after the clock stopped
      return s;
    });
    const bench::timing reuse = bench::time_op(args.runs, [&](int reps) {
      bool ok = true;
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (const auto part : w.parts) ok &= reused.decode(as_bytes(part)).has_value();
      const auto s = bench::stop(t);
      if (!ok) std::abort();
      return s;
    });
    const bench::timing val = bench::time_op(args.runs, [&](int reps) {
      bool ok = true;
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (const auto part : w.parts) ok &= brine::validate(as_bytes(part)).has_value();
      const auto s = bench::stop(t);
      if (!ok) std::abort();
      return s;
    });
    std::vector<char> copy(w.blob.size());
    const bench::timing cpy = bench::time_op(args.runs, [&](int reps) {
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r) {
        std::memcpy(copy.data(), w.blob.data(), w.blob.size());
        asm volatile("" : : "r"(copy.data()) : "memory");  // the copy is observed
      }
      return bench::stop(t);
    });

    const double mb = static_cast<double>(w.blob.size()) / 1e6;
    std::printf("  %-9s %8.3f MB  decode %9.4f ms (min %9.4f, cpu %9.4f, %5.0f MB/s)  decoder %9.4f ms"
                "  validate %9.4f ms  memcpy %8.4f ms  document %4.2fx pickle\n",
                name.c_str(), mb, bench::ms(dec.median_ns), bench::ms(dec.min_ns), bench::ms(dec.cpu_median_ns),
                mb / (bench::ms(dec.median_ns) / 1e3), bench::ms(reuse.median_ns), bench::ms(val.median_ns),
                bench::ms(cpy.median_ns), static_cast<double>(doc_bytes) / static_cast<double>(w.blob.size()));
    bench::result_line("decode", name)
        .add("pickle_bytes", static_cast<long long>(w.blob.size()))
        .add("parts", static_cast<long long>(w.parts.size()))
        .add("runs", args.runs)
        .add("decode", dec)
        .add("decoder", reuse)
        .add("validate", val)
        .add("memcpy", cpy)
        .add("nodes", static_cast<long long>(nodes))
        .add("doc_bytes", static_cast<long long>(doc_bytes))
        .add("peak_bytes", bench::heap::available() ? peak : -1)
        .print();
  }
  return 0;
}
