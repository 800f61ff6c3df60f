// bench/bench_decode.cpp — times brine::decode and brine::validate on the workloads that
// make_workloads.py wrote, after proving that the decoded documents hold exactly what CPython
// pickled (simdjson's rule: a benchmark that does not check its result measures nothing).
//
//   bench_decode [--runs N] [--only NAME] DIR
//
// For each workload W in DIR (W.pickle and W.facts):
//   1. verify: decode once, and twice with a reused brine::decoder, and check each document's
//      root kind and size, first and last elements and a checksum over every element against
//      W.facts (make_workloads.py documents the format); validate must accept the bytes too. A
//      failed check prints what differed and the program exits 1 without timing anything.
//   2. time: N runs each of brine::decode, a reused brine::decoder, brine::validate and a memcpy
//      of the pickle (the floor for any decoder that touches every byte); the wall-clock median
//      and minimum and the thread-CPU-time median of each. The document made by a timed decode is
//      destroyed after the clock stops, as CPython's object is in bench_cpython.py.
//   3. memory: document::memory_bytes(), what the document keeps (the borrowed pickle is not
//      counted).
//
// Output: human-readable notes, and one `result key=value ...` line per workload that run.py
// parses (units are in the key names: _ns, _bytes).
#include <time.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "brine/decode.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Inputs

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bench_decode: cannot read %s (run make_workloads.py first)\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

// W.facts: `key=value` lines written by make_workloads.py.
class facts {
 public:
  explicit facts(const std::string& path) {
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line)) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) map_[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  const std::string& str(const std::string& key) const {
    const auto it = map_.find(key);
    if (it == map_.end()) {
      std::fprintf(stderr, "bench_decode: facts file lacks '%s'\n", key.c_str());
      std::exit(2);
    }
    return it->second;
  }
  std::uint64_t u64(const std::string& key) const { return std::stoull(str(key)); }
  std::int64_t i64(const std::string& key) const { return std::stoll(str(key)); }
  std::uint64_t bits(const std::string& key) const { return std::stoull(str(key), nullptr, 16); }

 private:
  std::map<std::string, std::string> map_;
};

// zlib's CRC-32 (reflected 0xEDB88320), streaming: crc32(crc32(0, a), b) == crc32(0, a + b).
std::uint32_t crc32_update(std::uint32_t crc, std::string_view s) {
  static const auto table = [] {
    std::vector<std::uint32_t> t(256);
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (const char ch : s) crc = table[(crc ^ static_cast<unsigned char>(ch)) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

// Each string followed by one 0 byte, as make_workloads.py's crc().
std::uint32_t crc_item(std::uint32_t crc, std::string_view s) {
  return crc32_update(crc32_update(crc, s), std::string_view("\0", 1));
}

std::uint64_t float_bits(double d) { return std::bit_cast<std::uint64_t>(d); }

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

struct workload {
  const char* name;
  void (*verify)(verifier&, brine::value, const facts&);
};

constexpr workload workloads[] = {
    {"records", verify_records}, {"ints", verify_ints}, {"floats", verify_floats},
    {"strs", verify_strs},       {"dict", verify_dict},
};

// ---------------------------------------------------------------------------------------------
// Timing. Each run reads two clocks: the wall clock (what a caller waits) and this thread's CPU
// clock (what the work costs, unaffected by other processes taking the CPU away; on a loaded
// machine the two differ and the CPU figures are the fairer comparison).

struct sample {
  std::int64_t wall_ns = 0;
  std::int64_t cpu_ns = 0;
};

struct stopwatch {
  clock_type::time_point wall;
  std::int64_t cpu = 0;
};

std::int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

stopwatch start() { return {clock_type::now(), thread_cpu_ns()}; }

sample stop(const stopwatch& s) {
  const std::int64_t cpu = thread_cpu_ns();
  const auto wall = clock_type::now();
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(wall - s.wall).count(), cpu - s.cpu};
}

struct timing {
  std::int64_t median_ns = 0;  // wall
  std::int64_t min_ns = 0;     // wall
  std::int64_t cpu_median_ns = 0;
};

std::int64_t median_of(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// `run` returns the sample of the part it timed (so setup and teardown stay outside).
timing time_runs(int runs, const std::function<sample()>& run) {
  std::vector<std::int64_t> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const sample s = run();
    wall.push_back(s.wall_ns);
    cpu.push_back(s.cpu_ns);
  }
  if (wall.empty()) return {};
  return {median_of(wall), *std::min_element(wall.begin(), wall.end()), median_of(cpu)};
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: bench_decode [--runs N] [--only NAME] DIR\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 21;
  std::string only, dir;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (!a.empty() && a[0] != '-' && dir.empty()) dir = argv[i];
    else usage();
  }
  if (dir.empty()) usage();

  std::printf("bench_decode: %d runs per measurement; wall-clock median (min), CPU-time median\n", runs);
  for (const workload& w : workloads) {
    if (!only.empty() && only != w.name) continue;
    const std::string base = dir + "/" + w.name;
    const std::string pickle = read_file(base + ".pickle");
    const facts f(base + ".facts");
    const auto bytes = std::as_bytes(std::span<const char>(pickle.data(), pickle.size()));

    // 1. Verify what each timed entry point produces (this is also the warm-up).
    auto doc = brine::decode(bytes);
    if (!doc) {
      std::printf("  FAIL %s: decode failed: %s\n", w.name, doc.error().to_string().c_str());
      return 1;
    }
    verifier v(w.name);
    v.equal<std::uint64_t>(pickle.size(), f.u64("pickle_bytes"), "pickle size");
    v.check(doc->warnings().empty(), "no warnings");
    v.equal<int>(doc->protocol(), 5, "protocol");
    w.verify(v, doc->root(), f);
    const std::size_t doc_bytes = doc->memory_bytes();
    const std::size_t nodes = doc->node_count();
    doc = brine::error{};  // free it before timing

    // brine::decoder keeps its tables between calls: verify its second decode, the reused case.
    brine::decoder reused;
    for (int i = 0; i < 2; ++i) {
      auto r = reused.decode(bytes);
      if (!r) {
        std::printf("  FAIL %s: decoder failed: %s\n", w.name, r.error().to_string().c_str());
        return 1;
      }
      if (i == 1) w.verify(v, (*r)->root(), f);
    }

    auto validated = brine::validate(bytes);
    if (!validated) {
      std::printf("  FAIL %s: validate failed: %s\n", w.name, validated.error().to_string().c_str());
      return 1;
    }
    v.check(validated->warnings.empty() && validated->protocol == 5, "validate: protocol 5, no warnings");
    if (v.failures() != 0) {
      std::printf("  %s: %d of %d checks failed; not timing\n", w.name, v.failures(), v.checks());
      return 1;
    }
    std::printf("  verified %-8s %d checks ok, %zu nodes\n", w.name, v.checks(), nodes);

    // 2. Time. A failure now would mean the library is not deterministic: abort.
    const timing dec = time_runs(runs, [&] {
      const stopwatch t = start();
      auto r = brine::decode(bytes);
      const sample s = stop(t);
      if (!r) std::abort();
      return s;  // the document is destroyed here, after the clock stopped
    });
    const timing reuse = time_runs(runs, [&] {
      const stopwatch t = start();
      auto r = reused.decode(bytes);
      const sample s = stop(t);
      if (!r) std::abort();
      return s;
    });
    const timing val = time_runs(runs, [&] {
      const stopwatch t = start();
      auto r = brine::validate(bytes);
      const sample s = stop(t);
      if (!r) std::abort();
      return s;
    });
    std::vector<char> copy(pickle.size());
    const timing cpy = time_runs(runs, [&] {
      const stopwatch t = start();
      std::memcpy(copy.data(), pickle.data(), pickle.size());
      asm volatile("" : : "r"(copy.data()) : "memory");  // the copy is observed
      return stop(t);
    });

    const double mb = static_cast<double>(pickle.size()) / 1e6;
    const double size = static_cast<double>(pickle.size());
    std::printf("  %-8s %6.2f MB  decode %8.3f ms (min %8.3f, cpu %8.3f, %5.0f MB/s)  decoder %8.3f ms"
                "  validate %8.3f ms  memcpy %6.3f ms  document %4.2fx pickle\n",
                w.name, mb, ms(dec.median_ns), ms(dec.min_ns), ms(dec.cpu_median_ns), mb / (ms(dec.median_ns) / 1e3),
                ms(reuse.median_ns), ms(val.median_ns), ms(cpy.median_ns), static_cast<double>(doc_bytes) / size);
    std::printf("result workload=%s pickle_bytes=%zu runs=%d decode_median_ns=%lld decode_min_ns=%lld"
                " decode_cpu_median_ns=%lld decoder_median_ns=%lld decoder_cpu_median_ns=%lld"
                " validate_median_ns=%lld validate_cpu_median_ns=%lld memcpy_median_ns=%lld nodes=%zu"
                " doc_bytes=%zu\n",
                w.name, pickle.size(), runs, static_cast<long long>(dec.median_ns),
                static_cast<long long>(dec.min_ns), static_cast<long long>(dec.cpu_median_ns),
                static_cast<long long>(reuse.median_ns), static_cast<long long>(reuse.cpu_median_ns),
                static_cast<long long>(val.median_ns), static_cast<long long>(val.cpu_median_ns),
                static_cast<long long>(cpy.median_ns), nodes, doc_bytes);
    std::fflush(stdout);
  }
  return 0;
}
