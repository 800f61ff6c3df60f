// bench/bench_common.hpp — what the C++ benchmarks share: the workloads and their facts (written
// by make_workloads.py), two clocks per sample, medians, the heap meter (heap_meter.cpp), and the
// graph digest that checks a decoded document against the object CPython pickled.
//
// Verify, then time (STYLE.md practice 10): every benchmark checks what it is about to time
// against the facts first, and exits 1 without timing anything when a check fails.
//
// Timing: each sample reads the wall clock (what a caller waits) and this thread's CPU clock (what
// the work costs; other processes taking the CPU away do not count). Operations shorter than
// 0.1 ms are repeated within a sample (the repetition count is calibrated once, then fixed) and
// reported per operation. Results of timed operations are kept until the clock stops and destroyed
// after it, as bench_cpython.py does with CPython's objects, with the same 0.1 ms rule: an
// operation of 0.1 ms or more is one to a sample on both sides, so both keep one result alive at a
// time (bench/README.md, "Reading the tables").
#pragma once

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
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "brine/document.hpp"

namespace bench {

// ---------------------------------------------------------------------------------------------
// Inputs

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bench: cannot read %s (run make_workloads.py first)\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (std::size_t start = 0;;) {
    const std::size_t end = s.find(sep, start);
    out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
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
  bool has(const std::string& key) const { return map_.count(key) != 0; }
  const std::string& str(const std::string& key) const {
    const auto it = map_.find(key);
    if (it == map_.end()) {
      std::fprintf(stderr, "bench: facts file lacks '%s'\n", key.c_str());
      std::exit(2);
    }
    return it->second;
  }
  std::uint64_t u64(const std::string& key) const { return std::stoull(str(key)); }
  std::int64_t i64(const std::string& key) const { return std::stoll(str(key)); }
  std::uint64_t bits(const std::string& key) const { return std::stoull(str(key), nullptr, 16); }
  std::vector<std::string> list(const std::string& key) const { return split(str(key), ','); }

 private:
  std::map<std::string, std::string> map_;
};

/// The workload names, in order, from DIR/stamp (make_workloads.py writes it last).
inline std::vector<std::string> workload_names(const std::string& dir) {
  std::vector<std::string> names;
  for (auto& n : split(read_file(dir + "/stamp"), ' ')) {
    while (!n.empty() && (n.back() == '\n' || n.back() == '\r')) n.pop_back();
    if (!n.empty()) names.push_back(n);
  }
  return names;
}

/// One workload: the pickle of each of its objects (views into `blob`) and the facts.
struct workload_data {
  std::string name;
  std::string blob;                     // W.pickle (or W.p2.pickle): the parts, one after the other
  std::vector<std::string_view> parts;  // one pickle per object
  facts f;

  workload_data(const std::string& dir, const std::string& n, bool protocol2 = false)
      : name(n), blob(read_file(dir + "/" + n + (protocol2 ? ".p2.pickle" : ".pickle"))), f(dir + "/" + n + ".facts") {
    std::size_t at = 0;
    for (const auto& s : f.list(protocol2 ? "p2_part_bytes" : "part_bytes")) {
      const std::size_t len = std::stoull(s);
      if (at + len > blob.size()) {
        std::fprintf(stderr, "bench: %s: part sizes exceed the file\n", n.c_str());
        std::exit(2);
      }
      parts.emplace_back(blob.data() + at, len);
      at += len;
    }
    if (at != blob.size()) {
      std::fprintf(stderr, "bench: %s: part sizes do not add up to the file\n", n.c_str());
      std::exit(2);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Checksums

// zlib's CRC-32 (reflected 0xEDB88320), streaming: crc32(crc32(0, a), b) == crc32(0, a + b).
inline std::uint32_t crc32_update(std::uint32_t crc, std::string_view s) {
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

inline std::uint64_t float_bits(double d) { return std::bit_cast<std::uint64_t>(d); }

/// `crc32:length` of the token stream of make_workloads.py's digest(): a pre-order walk that
/// records kinds and values and, unless `by_value`, marks the second visit of every object
/// pickle memoizes (so sharing is checked too). Iterative: any depth.
std::string digest_of(brine::value root, bool by_value = false);

// ---------------------------------------------------------------------------------------------
// Heap meter (heap_meter.cpp): live and peak bytes of the process heap (malloc and operator new).
// Unavailable (zeros) in sanitizer builds, whose runtime owns malloc.

namespace heap {
bool available() noexcept;
std::int64_t live() noexcept;
std::int64_t peak() noexcept;
/// Peak := live.
void reset_peak() noexcept;
}  // namespace heap

/// Peak heap growth over what was live when the scope began.
class heap_scope {
 public:
  heap_scope() : start_(heap::live()) { heap::reset_peak(); }
  std::int64_t peak_growth() const { return heap::peak() - start_; }

 private:
  std::int64_t start_;
};

// ---------------------------------------------------------------------------------------------
// Timing

struct sample {
  std::int64_t wall_ns = 0;
  std::int64_t cpu_ns = 0;
};

struct stopwatch {
  std::chrono::steady_clock::time_point wall;
  std::int64_t cpu = 0;
};

inline std::int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline stopwatch start() { return {std::chrono::steady_clock::now(), thread_cpu_ns()}; }

inline sample stop(const stopwatch& s) {
  const std::int64_t cpu = thread_cpu_ns();
  const auto wall = std::chrono::steady_clock::now();
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(wall - s.wall).count(), cpu - s.cpu};
}

/// Per operation: wall-clock median, minimum and maximum over the samples, CPU-time median.
struct timing {
  std::int64_t median_ns = 0;
  std::int64_t min_ns = 0;
  std::int64_t max_ns = 0;
  std::int64_t cpu_median_ns = 0;
  int reps = 1;  // operations per sample
};

inline std::int64_t median_of(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// `run(reps)` performs the operation `reps` times and returns the sample of the timed part.
/// `reps` is chosen once so that a sample lasts at least `min_sample_ns` (1 for long operations).
inline timing time_op(int runs, const std::function<sample(int)>& run, std::int64_t min_sample_ns = 100'000) {
  int reps = 1;
  for (;;) {
    const sample s = run(reps);  // also the warm-up
    if (s.wall_ns >= min_sample_ns || reps >= (1 << 20)) break;
    const std::int64_t want = s.wall_ns <= 0 ? std::int64_t{reps} * 100 : min_sample_ns * reps / s.wall_ns + 1;
    reps = static_cast<int>(std::min<std::int64_t>(std::max<std::int64_t>(want, std::int64_t{reps} * 2), 1 << 20));
  }
  std::vector<std::int64_t> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const sample s = run(reps);
    wall.push_back(s.wall_ns / reps);
    cpu.push_back(s.cpu_ns / reps);
  }
  timing t;
  t.median_ns = median_of(wall);
  t.min_ns = *std::min_element(wall.begin(), wall.end());
  t.max_ns = *std::max_element(wall.begin(), wall.end());
  t.cpu_median_ns = median_of(cpu);
  t.reps = reps;
  return t;
}

inline double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

/// One `result key=value ...` line for run.py; times as `<prefix>_median_ns` and friends.
class result_line {
 public:
  explicit result_line(std::string_view kind, std::string_view workload) {
    s_ = "result kind=";
    s_ += kind;
    s_ += " workload=";
    s_ += workload;
  }
  result_line& add(std::string_view key, long long v) { return raw(key, std::to_string(v)); }
  result_line& add(std::string_view key, std::string_view v) { return raw(key, std::string(v)); }
  result_line& add(std::string_view key, const timing& t) {
    const std::string k(key);
    add(k + "_median_ns", t.median_ns);
    add(k + "_min_ns", t.min_ns);
    add(k + "_max_ns", t.max_ns);
    add(k + "_cpu_median_ns", t.cpu_median_ns);
    return add(k + "_reps", t.reps);
  }
  void print() const {
    std::printf("%s\n", s_.c_str());
    std::fflush(stdout);
  }

 private:
  result_line& raw(std::string_view key, const std::string& v) {
    s_ += ' ';
    s_ += key;
    s_ += '=';
    s_ += v;
    return *this;
  }
  std::string s_;
};

/// Parses `--runs N`, `--only NAME` and the workload directory, which every benchmark takes;
/// other options must be `--flag` or `--key=value`.
struct common_args {
  int runs = 15;
  std::string only;
  std::string dir;
  std::vector<std::string> rest;  // `--flag` / `--key=value` options the caller handles

  bool wants(const std::string& name) const { return only.empty() || only == name; }
  bool flag(std::string_view name) const {
    return std::find(rest.begin(), rest.end(), std::string(name)) != rest.end();
  }
  std::string option(std::string_view name, std::string fallback) const {
    const std::string prefix = std::string(name) + "=";
    for (const auto& r : rest)
      if (r.compare(0, prefix.size(), prefix) == 0) return r.substr(prefix.size());
    return fallback;
  }
};

inline common_args parse_common(int argc, char** argv, const char* usage) {
  common_args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view s = argv[i];
    if (s == "--runs" && i + 1 < argc) {
      a.runs = std::max(1, std::atoi(argv[++i]));
    } else if (s == "--only" && i + 1 < argc) {
      a.only = argv[++i];
    } else if (s.size() > 2 && s.substr(0, 2) == "--") {
      a.rest.emplace_back(s);  // --flag or --key=value
    } else if (!s.empty() && s[0] != '-' && a.dir.empty()) {
      a.dir = argv[i];
    } else {
      std::fprintf(stderr, "usage: %s\n", usage);
      std::exit(2);
    }
  }
  if (a.dir.empty()) {
    std::fprintf(stderr, "usage: %s\n", usage);
    std::exit(2);
  }
  return a;
}

}  // namespace bench
