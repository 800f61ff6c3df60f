// tools/cli_demo.cpp — `brine demo`: brine's main job, end to end.
//
// A C++ "service" encodes a realistic payload with brine's typed API (run metadata, a list of
// sensor records, and a large float64 array as a PEP 574 out-of-band buffer), writes it as a
// container into a sealed memfd and passes the descriptor over a Unix socket (SCM_RIGHTS) to a
// CPython process (python/brine_demo_peer.py, with python/brine_container.py). CPython maps it,
// unpickles with the buffers as views of the mapping, computes statistics, a histogram and a
// float32 copy, and replies the same way. The C++ side opens the reply without copying, checks
// every number against its own computation, and prints a report with sizes, zero-copy evidence,
// timings and the reply as `brine show` renders it. Exit 1 when anything disagrees.
//
// Clocks: both sides read CLOCK_MONOTONIC (Python's time.monotonic_ns()), so the peer's stamps
// and the C++ ones are on one time line.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <brine/container.hpp>
#include <brine/convert.hpp>
#include <brine/numpy.hpp>
#include <brine/repr.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"

extern char** environ;

namespace demo {

// --- the payload, as C++ types with codecs (written as the dicts CPython sees)

struct record {
  std::int64_t id = 0;
  std::string name;
  std::string site;
  bool active = false;
  double calibration = 1.0;
  std::vector<std::string> tags;
};

struct meta {
  std::string run = "brine-demo";
  std::string source = "brine demo (C++ typed API)";
  std::string units = "kelvin";
  std::int64_t sample_rate_hz = 1000;
  std::int64_t format_version = 1;
};

}  // namespace demo

template <>
struct brine::codec<demo::record> {
  static void encode(brine::typed_encoder& e, const demo::record& r) {
    e.dict_of("id", r.id, "name", r.name, "site", r.site, "active", r.active, "calibration", r.calibration, "tags", r.tags);
  }
};

template <>
struct brine::codec<demo::meta> {
  static void encode(brine::typed_encoder& e, const demo::meta& m) {
    e.dict_of("run", m.run, "source", m.source, "units", m.units, "sample_rate_hz", m.sample_rate_hz, "format_version",
              m.format_version);
  }
};

namespace demo {

using brine_cli::thousands;

constexpr int bins = 64;
constexpr double tolerance = 1e-9;  // relative, for sums: numpy sums pairwise, C++ compensated

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string ms(std::int64_t ns) {
  char buf[32];
  const double v = static_cast<double>(ns) / 1e6;
  std::snprintf(buf, sizeof buf, v < 1 ? "%.3f ms" : v < 100 ? "%.1f ms" : "%.0f ms", v);
  return buf;
}

// The payload: encoded with out-of-band samples (a numpy array when the peer has numpy, else a
// bare PickleBuffer), which also carries what the encoder needs to stay alive.
struct payload {
  meta m;
  std::vector<record> records;
  std::vector<double> samples;
  bool use_numpy = true;
};

}  // namespace demo

template <>
struct brine::codec<demo::payload> {
  static void encode(brine::typed_encoder& e, const demo::payload& p) {
    const std::span<const double> s(p.samples);
    if (p.use_numpy) {
      brine::numpy::ndarray a = brine::numpy::ndarray::of(s);
      brine::numpy::encode_settings settings;
      settings.readonly = true;  // a sealed memfd is read-only: so is the array CPython gets
      a.set_settings(settings);
      e.dict_of("meta", p.m, "records", p.records, "samples", a);
    } else {
      e.dict_of("meta", p.m, "records", p.records, "samples", brine::out_of_band<double>{s, true});
    }
  }
};

namespace demo {

void generate(payload& p, std::size_t n_samples, std::size_t n_records) {
  // Deterministic "sensor" data: a daily cycle plus noise (xorshift64*), in kelvin.
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
  };
  std::array<double, 4096> cycle{};
  for (std::size_t i = 0; i < cycle.size(); ++i) cycle[i] = std::sin(6.283185307179586 * static_cast<double>(i) / 4096.0);
  p.samples.resize(n_samples);
  for (std::size_t i = 0; i < n_samples; ++i) {
    const double noise = static_cast<double>(next() >> 11) * 0x1.0p-53 - 0.5;
    p.samples[i] = 293.15 + 8.0 * cycle[i % cycle.size()] + 0.75 * noise;
  }
  static const char* const sites[] = {"east", "lab", "north", "south", "west"};
  static const char* const tag_names[] = {"indoor", "outdoor", "backup", "calibrated"};
  p.records.resize(n_records);
  for (std::size_t i = 0; i < n_records; ++i) {
    const std::uint64_t h = next();
    record& r = p.records[i];
    r.id = static_cast<std::int64_t>(i + 1);
    char name[32];
    std::snprintf(name, sizeof name, "sensor-%05zu", i + 1);
    r.name = name;
    r.site = sites[h % 5];
    r.active = (h >> 8) % 10 < 8;
    r.calibration = 1.0 + static_cast<double>(static_cast<std::int64_t>((h >> 16) % 1001) - 500) * 1e-5;
    r.tags.push_back(tag_names[(h >> 32) % 2]);
    if ((h >> 40) % 3 == 0) r.tags.push_back(tag_names[2 + (h >> 48) % 2]);
  }
}

// What both sides compute from the payload.
struct expected {
  double n = 0, sum = 0, mean = 0, std = 0, min = 0, max = 0;
  std::array<std::int64_t, bins> histogram{};
  std::int64_t records = 0, active = 0;
  std::map<std::string, std::int64_t> by_site;
  double mean_calibration = 0;
};

// Neumaier's compensated sum: close to math.fsum and to numpy's pairwise sum.
struct compensated {
  double s = 0, c = 0;
  void add(double x) {
    const double t = s + x;
    c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  double value() const { return s + c; }
};

expected compute(const payload& p) {
  expected e;
  const auto& x = p.samples;
  e.n = static_cast<double>(x.size());
  compensated sum;
  e.min = x.empty() ? NAN : x[0];
  e.max = e.min;
  for (double v : x) {
    sum.add(v);
    e.min = std::min(e.min, v);
    e.max = std::max(e.max, v);
  }
  e.sum = sum.value();
  e.mean = e.sum / e.n;
  compensated sq;
  for (double v : x) sq.add((v - e.mean) * (v - e.mean));
  e.std = std::sqrt(sq.value() / e.n);
  if (e.max > e.min) {
    // numpy: ((x - mn) * (BINS / (mx - mn))).astype(int64), clipped to BINS - 1.
    const double scale = static_cast<double>(bins) / (e.max - e.min);
    for (double v : x) {
      auto i = static_cast<std::int64_t>((v - e.min) * scale);
      ++e.histogram[static_cast<std::size_t>(std::min<std::int64_t>(i, bins - 1))];
    }
  } else if (!x.empty()) {
    e.histogram[0] = static_cast<std::int64_t>(x.size());
  }
  compensated cal;
  for (const auto& r : p.records) {
    ++e.records;
    e.active += r.active;
    ++e.by_site[r.site];
    cal.add(r.calibration);
  }
  e.mean_calibration = cal.value() / static_cast<double>(p.records.size());
  return e;
}

// --- processes

// Runs `argv` and returns its standard output (standard error discarded), or nullopt when it
// cannot be started or fails.
std::optional<std::string> capture(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

struct interpreter {
  std::string path;     // as given or found ("python3", or a path)
  std::string version;  // "3.11.2"
  std::string numpy;    // version, or empty
  bool xxhash = false, zstandard = false;
  int score() const { return (numpy.empty() ? 0 : 2) + (xxhash ? 1 : 0); }
};

std::optional<interpreter> probe(const std::string& python) {
  static const char* const code =
      "import sys\n"
      "if sys.version_info < (3, 8): sys.exit(1)\n"
      "def v(m):\n"
      "    try: return getattr(__import__(m), '__version__', 'yes')\n"
      "    except Exception: return '-'\n"
      "print('%d.%d.%d' % sys.version_info[:3], v('numpy'), v('xxhash'), v('zstandard'))\n";
  auto out = capture({python, "-c", code});
  if (!out) return std::nullopt;
  char ver[64] = {}, np[64] = {}, xx[64] = {}, zs[64] = {};
  if (std::sscanf(out->c_str(), "%63s %63s %63s %63s", ver, np, xx, zs) != 4) return std::nullopt;
  interpreter it;
  it.path = python;
  it.version = ver;
  it.numpy = std::string(np) == "-" ? "" : np;
  it.xxhash = std::string(xx) != "-";
  it.zstandard = std::string(zs) != "-";
  return it;
}

// The interpreter to run the peer with: --python, else the best of python3 on PATH and Debian's
// python3 (numpy first, then xxhash: the module works without either, only slower).
std::optional<interpreter> choose_python(const std::string& requested, std::string& why) {
  if (!requested.empty()) {
    auto it = probe(requested);
    if (!it) why = requested + " does not run as CPython 3.8 or later";
    return it;
  }
  std::optional<interpreter> best;
  for (const char* candidate : {"python3", "/usr/bin/python3"}) {
    auto it = probe(candidate);
    if (it && (!best || it->score() > best->score())) best = it;
  }
  if (!best) why = "no CPython 3.8 or later found (python3 on PATH, /usr/bin/python3); install python3 or pass --python PATH";
  return best;
}

// The peer script: --peer, $BRINE_DEMO_PEER, beside an installed brine, then the source tree.
std::string find_peer(const std::string& requested, const char* argv0, std::string& why) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (!requested.empty()) {
    candidates.emplace_back(requested);
  } else {
    if (const char* env = std::getenv("BRINE_DEMO_PEER"); env && *env) candidates.emplace_back(env);
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) exe = argv0;
    candidates.push_back(exe.parent_path() / ".." / "share" / "brine" / "python" / "brine_demo_peer.py");
#ifdef BRINE_PYTHON_DIR
    candidates.push_back(fs::path(BRINE_PYTHON_DIR) / "brine_demo_peer.py");
#endif
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec).string();
  }
  why = requested.empty() ? "brine_demo_peer.py not found (set BRINE_DEMO_PEER or pass --peer PATH)"
                          : requested + ": not found";
  return {};
}

struct child {
  pid_t pid = -1;
  // Exit status, or -1 when it could not be collected.
  int wait() {
    if (pid < 0) return -1;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return -1;
    }
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  ~child() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      wait();
    }
  }
};

// --- reading the reply

// The bytes of an array in the reply: a numpy array (the _frombuffer form) with the expected
// dtype kind and item size, or a bare out-of-band buffer.
std::optional<std::span<const std::byte>> array_bytes(brine::value v, char kind, std::size_t itemsize, std::string& why) {
  if (!v.valid()) {
    why = "missing";
    return std::nullopt;
  }
  if (v.is(brine::kind::buffer)) {
    const auto b = v.as_bytes();
    if (b.size() % itemsize != 0) {
      why = "a buffer of " + std::to_string(b.size()) + " bytes";
      return std::nullopt;
    }
    return b;
  }
  auto a = brine::numpy::to_ndarray(v);
  if (!a) {
    why = a.error().to_string();
    return std::nullopt;
  }
  if (a->type().kind != kind || a->type().itemsize != itemsize || !a->c_contiguous()) {
    why = "an array of another dtype or layout";
    return std::nullopt;
  }
  return a->data().first(a->nbytes());
}

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  const auto p = reinterpret_cast<std::uintptr_t>(part.data());
  const auto w = reinterpret_cast<std::uintptr_t>(whole.data());
  return p >= w && p - w <= whole.size() && part.size() <= whole.size() - (p - w);
}

struct checker {
  std::vector<std::string> failures;
  std::vector<std::string> exact, close;

  void same(const std::string& what, double cpp, double py) {
    if (cpp == py || (std::isnan(cpp) && std::isnan(py))) exact.push_back(what);
    else failures.push_back(what + ": C++ " + fmt(cpp) + ", CPython " + fmt(py));
  }
  void near(const std::string& what, double cpp, double py) {
    const double scale = std::max(std::fabs(cpp), std::fabs(py));
    if (std::fabs(cpp - py) <= tolerance * scale) close.push_back(what);
    else failures.push_back(what + ": C++ " + fmt(cpp) + ", CPython " + fmt(py) + " (beyond 1e-9 relative)");
  }
  void fail(const std::string& what) { failures.push_back(what); }
  static std::string fmt(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
};

template <class T>
std::optional<T> field(brine::value dict, std::string_view key, checker& check) {
  if (!dict.valid() || !dict.is(brine::kind::dict)) {
    check.fail("the reply has no dict around '" + std::string(key) + "'");
    return std::nullopt;
  }
  const brine::value v = dict.find(key);
  if (!v.valid()) {
    check.fail("reply['" + std::string(key) + "'] is missing");
    return std::nullopt;
  }
  auto r = brine::from_value<T>(v);
  if (!r) {
    check.fail("reply['" + std::string(key) + "']: " + r.error().message);
    return std::nullopt;
  }
  return std::move(*r);
}

const char* const usage =
    "usage: brine demo [--size MiB] [--records N] [--python PATH] [--keep PREFIX]\n"
    "\n"
    "brine's main job, end to end. The C++ side encodes run metadata, N sensor records and\n"
    "MiB mebibytes of float64 samples with brine's typed API (the samples as a numpy array\n"
    "sent out of band, PEP 574), writes them as a brine container into a sealed memfd and\n"
    "passes it over a Unix socket (SCM_RIGHTS) to a CPython process running\n"
    "python/brine_demo_peer.py. CPython maps it and unpickles with the buffers as views of the\n"
    "mapping (zero copy), computes statistics, a histogram and a float32 copy, and replies the\n"
    "same way. The C++ side opens the reply without copying, checks every number against its\n"
    "own computation and prints sizes, zero-copy evidence, timings and the reply as\n"
    "`brine show` renders it.\n"
    "\n"
    "The interpreter: --python, else the best of python3 on PATH and /usr/bin/python3 (numpy and\n"
    "xxhash preferred; without numpy the samples travel as a bare PickleBuffer and CPython\n"
    "computes on memoryviews, slowly).\n"
    "\n"
    "  --size MiB        float64 samples to send (default 64)\n"
    "  --records N       sensor records to send (default 10000)\n"
    "  --python PATH     the CPython interpreter to run\n"
    "  --peer SCRIPT     brine_demo_peer.py (default: found beside brine, or $BRINE_DEMO_PEER)\n"
    "  --keep PREFIX     also write the two containers to PREFIX.request.brc and\n"
    "                    PREFIX.reply.brc, for `brine show`, `brine unpack` and the others\n"
    "  --width N         width of the reply's rendering (default 100)\n"
    "\n"
    "Exit status: 0 when every number agrees, 1 on any disagreement or failure, 2 usage.\n";

}  // namespace demo

namespace brine_cli {

int cmd_demo(std::vector<std::string_view> args, const char* argv0) {
  using namespace demo;
  std::uint64_t size_mib = 64, n_records = 10'000, width = 100;
  std::string python, peer_arg, keep;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage;
      return exit_ok;
    }
    if (a == "--size") size_mib = parse_number(next(), a);
    else if (a == "--records") n_records = parse_number(next(), a);
    else if (a == "--python") python = next();
    else if (a == "--peer") peer_arg = next();
    else if (a == "--keep") keep = next();
    else if (a == "--width") width = parse_number(next(), a);
    else throw usage_error{"unknown argument " + std::string(a)};
  }
  if (size_mib < 1 || size_mib > 65536) throw usage_error{"--size takes 1 to 65536 (MiB)"};
  if (n_records < 1 || n_records > 100'000'000) throw usage_error{"--records takes 1 to 100000000"};
  ::signal(SIGPIPE, SIG_IGN);  // a peer that dies turns into an error, not a signal

  auto fail = [](const std::string& message) {
    std::cout.flush();
    std::cerr << "brine: demo: " << message << "\n";
    return exit_invalid;
  };

  std::string why;
  const std::string peer_script = find_peer(peer_arg, argv0, why);
  if (peer_script.empty()) return fail(why);
  const auto py = choose_python(python, why);
  if (!py) return fail(why);

  std::cout << "brine demo: C++ and CPython exchange pickles with large out-of-band buffers through\n"
               "brine containers in sealed memfds passed over a Unix socket, zero copy both ways.\n\n";
  std::cout << "  peer      " << py->path << ": CPython " << py->version
            << (py->numpy.empty() ? ", no numpy" : ", numpy " + py->numpy) << (py->xxhash ? ", xxhash" : ", no xxhash")
            << (py->zstandard ? ", zstandard" : "") << "\n"
            << std::flush;

  // The peer starts while the data is generated (interpreter start-up and numpy's import take
  // longer than anything else here).
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return fail(std::string("socketpair: ") + std::strerror(errno));
  brine::unique_fd mine(sv[0]), theirs(sv[1]);
  ::fcntl(mine.get(), F_SETFD, FD_CLOEXEC);
  const std::string verify = py->xxhash ? "all" : "skip_bulk";  // pure-Python XXH3 runs at ~1.5 MB/s
  std::vector<std::string> argv_s = {py->path, peer_script, "--fd", std::to_string(theirs.get()), "--verify", verify};
  std::vector<char*> argv_c;
  for (auto& s : argv_s) argv_c.push_back(s.data());
  argv_c.push_back(nullptr);
  // The peer's standard error goes to a memfd: its last line joins brine's one-line error when
  // it fails, and anything it printed is passed on when it succeeds.
  brine::unique_fd peer_err(::memfd_create("brine-demo-peer-stderr", MFD_CLOEXEC));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (peer_err) posix_spawn_file_actions_adddup2(&fa, peer_err.get(), 2);
  child peer;
  const std::int64_t t_spawn = now_ns();
  const int spawned = ::posix_spawnp(&peer.pid, argv_c[0], &fa, nullptr, argv_c.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (spawned != 0) {
    peer.pid = -1;
    return fail(py->path + ": " + std::strerror(spawned));
  }
  theirs.reset();
  auto peer_stderr = [&]() {
    std::string text;
    if (!peer_err) return text;
    char buf[4096];
    ssize_t n;
    off_t at = 0;
    while ((n = ::pread(peer_err.get(), buf, sizeof buf, at)) > 0 && text.size() < (1u << 20)) {
      text.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
    return text;
  };
  auto peer_failed = [&](int status) {
    std::string text = peer_stderr(), last;
    std::size_t end = text.size();
    while (end > 0 && last.empty()) {
      const std::size_t start = text.rfind('\n', end - 1);
      const std::size_t from = start == std::string::npos ? 0 : start + 1;
      last = text.substr(from, end - from);
      end = start == std::string::npos ? 0 : start;
    }
    return fail("the Python peer failed (exit status " + std::to_string(status) + ")" + (last.empty() ? "" : ": " + last));
  };

  // 1. The payload, encoded with the typed API; the samples go out of band.
  payload p;
  p.use_numpy = !py->numpy.empty();
  const std::size_t n_samples = static_cast<std::size_t>(size_mib) * (std::size_t{1} << 20) / sizeof(double);
  std::int64_t t0 = now_ns();
  generate(p, n_samples, static_cast<std::size_t>(n_records));
  const std::int64_t t_generated = now_ns();
  brine::buffer_collector collect;
  brine::encode_options eo;
  eo.on_buffer = collect.callback();
  auto pickled = brine::pickle(p, eo);
  if (!pickled) return fail("encode: " + pickled.error().to_string());
  const std::int64_t t_encoded = now_ns();
  const auto pickle_bytes = std::as_bytes(std::span<const char>(pickled->data(), pickled->size()));
  brine::container_summary request_summary;
  brine::container_write_options wo;
  if (!py->zstandard) wo.compress = brine::compression::never;  // the peer could not read zstd sections
  auto memfd = brine::write_container_memfd(pickle_bytes, collect.buffers, wo, &request_summary);
  if (!memfd) return fail("writing the request container: " + memfd.error().to_string());
  const std::int64_t t_written = now_ns();
  std::uint64_t buffer_bytes = 0;
  for (const auto& b : collect.buffers) buffer_bytes += b.data.size();
  std::cout << "  request   " << thousands(n_records) << " records + " << thousands(n_samples) << " float64 samples ("
            << human_bytes(n_samples * sizeof(double)) << ", " << (p.use_numpy ? "a numpy array" : "a PickleBuffer")
            << " out of band)\n"
            << "            pickle " << thousands(pickled->size()) << " bytes + " << collect.buffers.size()
            << (collect.buffers.size() == 1 ? " buffer of " : " buffers of ") << thousands(buffer_bytes)
            << " bytes -> container of " << thousands(request_summary.total_size) << " bytes in a sealed memfd\n"
            << std::flush;

  // 2. Send it; wait for the reply.
  const std::int64_t t_send = now_ns();
  if (auto sent = brine::send_container(mine.get(), memfd->get()); !sent) {
    if (const int status = peer.wait(); status > 0) return peer_failed(status);
    return fail("sending the request: " + sent.error().to_string());
  }
  pollfd pfd{mine.get(), POLLIN, 0};
  int polled = 0;
  while ((polled = ::poll(&pfd, 1, 600'000)) < 0 && errno == EINTR) {}
  if (polled == 0) return fail("no reply from the Python peer within 600 s");
  const std::int64_t t_reply_ready = now_ns();
  auto reply = brine::receive_container(mine.get());
  const std::int64_t t_received = now_ns();
  if (!reply) {
    const int status = peer.wait();
    if (status > 0) return peer_failed(status);
    return fail("receiving the reply: " + reply.error().to_string());
  }
  auto doc = reply->decode();
  const std::int64_t t_decoded = now_ns();
  if (!doc) return fail("decoding the reply: " + doc.error().to_string());
  if (const int status = peer.wait(); status != 0) return peer_failed(status);
  if (const std::string text = peer_stderr(); !text.empty()) std::cerr << text << std::flush;
  std::uint64_t reply_buffers = 0;
  for (const auto& b : reply->buffers()) reply_buffers += b.data.size();

  // 3. Check every number against the C++ side's own computation.
  const std::int64_t t_check = now_ns();
  const expected want = compute(p);
  checker check;
  const brine::value root = doc->root();
  const auto stats = field<std::map<std::string, double>>(root, "stats", check);
  const auto recs = root.valid() && root.is(brine::kind::dict) ? root.find("records") : brine::value();
  const auto zero_copy = field<bool>(root, "zero_copy", check);
  const auto timings = field<std::map<std::string, std::int64_t>>(root, "timings_ns", check);
  if (stats) {
    auto get = [&](const char* k) {
      auto it = stats->find(k);
      if (it == stats->end()) check.fail(std::string("reply['stats']['") + k + "'] missing");
      return it == stats->end() ? NAN : it->second;
    };
    check.same("n", want.n, get("n"));
    check.same("min", want.min, get("min"));
    check.same("max", want.max, get("max"));
    check.near("sum", want.sum, get("sum"));
    check.near("mean", want.mean, get("mean"));
    check.near("std", want.std, get("std"));
  }
  if (auto count = field<std::int64_t>(recs, "count", check)) check.same("records", static_cast<double>(want.records), static_cast<double>(*count));
  if (auto active = field<std::int64_t>(recs, "active", check)) check.same("active", static_cast<double>(want.active), static_cast<double>(*active));
  if (auto by_site = field<std::map<std::string, std::int64_t>>(recs, "by_site", check)) {
    if (*by_site == want.by_site) check.exact.push_back("records by site");
    else check.fail("records by site differ");
  }
  if (auto cal = field<double>(recs, "mean_calibration", check)) check.near("mean calibration", want.mean_calibration, *cal);
  std::string array_why;
  const auto hist = array_bytes(root.valid() && root.is(brine::kind::dict) ? root.find("histogram") : brine::value(), 'i', 8, array_why);
  if (!hist) {
    check.fail("reply['histogram']: " + array_why);
  } else if (hist->size() != bins * sizeof(std::int64_t)) {
    check.fail("reply['histogram'] has " + std::to_string(hist->size() / 8) + " bins");
  } else {
    std::array<std::int64_t, bins> got{};
    std::memcpy(got.data(), hist->data(), hist->size());
    if (got == want.histogram) check.exact.push_back("histogram (" + std::to_string(bins) + " bins)");
    else check.fail("histogram differs");
  }
  const auto f32 = array_bytes(root.valid() && root.is(brine::kind::dict) ? root.find("float32") : brine::value(), 'f', 4, array_why);
  bool f32_in_mapping = false;
  if (!f32) {
    check.fail("reply['float32']: " + array_why);
  } else if (f32->size() != n_samples * sizeof(float)) {
    check.fail("reply['float32'] has " + thousands(f32->size() / 4) + " values");
  } else {
    f32_in_mapping = reply->mapped() && inside(*f32, reply->bytes());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n_samples; ++i) {
      float v;
      std::memcpy(&v, f32->data() + i * sizeof(float), sizeof v);
      const float w = static_cast<float>(p.samples[i]);
      bad += std::memcmp(&v, &w, sizeof v) != 0;
    }
    if (bad == 0) check.exact.push_back(thousands(n_samples) + " float32 values");
    else check.fail(thousands(bad) + " float32 values differ");
  }
  if (zero_copy && !*zero_copy) check.fail("CPython's samples array does not lie inside its mapping (copied?)");
  if (f32 && !f32_in_mapping) check.fail("the reply's float32 data does not lie inside the reply's mapping (copied?)");
  const std::int64_t t_checked = now_ns();

  // 4. The report.
  std::cout << "  CPython   received the memfd, mapped it and unpickled with the buffers: the samples' data "
            << (zero_copy && *zero_copy ? "lies inside\n            the mapping (zero copy)" : "is NOT inside the mapping")
            << "; computed statistics, a " << bins << "-bin histogram and a float32 copy\n";
  std::cout << "  reply     pickle " << thousands(reply->pickle().size()) << " bytes + " << reply->buffer_count()
            << (reply->buffer_count() == 1 ? " buffer of " : " buffers of ") << thousands(reply_buffers) << " bytes -> container of "
            << thousands(reply->bytes().size()) << " bytes in a sealed memfd\n";
  if (f32) {
    char where[128];
    const auto base = reinterpret_cast<std::uintptr_t>(reply->bytes().data());
    std::snprintf(where, sizeof where, "0x%jx lies %s the mapping [0x%jx, +%s)",
                  static_cast<std::uintmax_t>(reinterpret_cast<std::uintptr_t>(f32->data())), f32_in_mapping ? "inside" : "OUTSIDE",
                  static_cast<std::uintmax_t>(base), thousands(reply->bytes().size()).c_str());
    std::cout << "  C++       opened the reply: the float32 data at " << where << "\n";
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  };
  if (!check.exact.empty()) std::cout << "  check     identical: " << join(check.exact) << "\n";
  if (!check.close.empty())
    std::cout << "            within 1e-9 relative: " << join(check.close) << " (numpy sums pairwise, C++ compensated)\n";
  std::cout << "            " << (check.failures.empty() ? "OK: CPython and C++ agree" : "MISMATCH") << "\n";

  std::cout << "\n  timings                                          C++     CPython\n";
  auto row = [](const std::string& what, std::optional<std::int64_t> cpp, std::optional<std::int64_t> pyv) {
    char line[200];
    std::snprintf(line, sizeof line, "    %-42s %9s %11s", what.c_str(), cpp ? ms(*cpp).c_str() : "", pyv ? ms(*pyv).c_str() : "");
    std::string text = line;
    text.erase(text.find_last_not_of(' ') + 1);
    std::cout << text << "\n";
  };
  auto stamp = [&](const char* k) -> std::optional<std::int64_t> {
    if (!timings) return std::nullopt;
    auto it = timings->find(k);
    return it == timings->end() ? std::nullopt : std::optional<std::int64_t>(it->second);
  };
  const auto ready = stamp("ready"), received = stamp("received"), loaded = stamp("loaded"),
             computed = stamp("computed"), replying = stamp("replying");
  row("generate the data", t_generated - t0, std::nullopt);
  row("encode (typed API, samples out of band)", t_encoded - t_generated, std::nullopt);
  row("write the container into a memfd", t_written - t_encoded, std::nullopt);
  if (ready) row(p.use_numpy ? "start the interpreter, import numpy" : "start the interpreter", std::nullopt, *ready - t_spawn);
  if (ready && received) row(verify == "all" ? "send -> mapped, XXH3-verified" : "send -> mapped", std::nullopt, *received - std::max(t_send, *ready));
  if (received && loaded) row("pickle.loads(..., buffers=...)", std::nullopt, *loaded - *received);
  if (loaded && computed) row(p.use_numpy ? "compute (numpy)" : "compute (memoryviews)", std::nullopt, *computed - *loaded);
  if (replying) row("pickle + write + send the reply", std::nullopt, t_reply_ready - *replying);
  std::size_t verified = 0;
  for (std::size_t i = 0; i < reply->section_count(); ++i) verified += reply->section(i).verified;
  row(verified == reply->section_count() ? "receive + open the reply (XXH3-verified)"
                                         : "receive + open the reply (" + std::to_string(verified) + " of " +
                                               std::to_string(reply->section_count()) + " verified)",
      t_received - t_reply_ready, std::nullopt);
  row("decode the reply (zero copy)", t_decoded - t_received, std::nullopt);
  row("check against the C++ computation", t_checked - t_check, std::nullopt);
  if (ready) row("round trip: send -> reply decoded", t_decoded - std::max(t_send, *ready), std::nullopt);
  std::cout.flush();

  if (!keep.empty()) {
    const std::string req = keep + ".request.brc", rep = keep + ".reply.brc";
    auto w = brine::write_container_file(req, pickle_bytes, collect.buffers, wo);
    if (!w) return fail(req + ": " + w.error().to_string());
    if (!write_output(rep, reply->bytes(), why)) return fail(why);
    std::cout << "\n  kept      " << req << " and " << rep << " (try: brine show " << rep << ")\n";
  }

  brine::repr_options ro;
  ro.sharing = brine::repr_sharing::labels;
  ro.max_width = static_cast<std::size_t>(width);
  std::cout << "\n$ brine show " << (keep.empty() ? std::string("<the reply>") : keep + ".reply.brc") << "\n"
            << brine::repr(root, ro).text << "\n";
  if (!check.failures.empty()) {
    std::cout.flush();
    for (const auto& f : check.failures) std::cerr << "brine: demo: mismatch: " << f << "\n";
    return exit_invalid;
  }
  return exit_ok;
}

}  // namespace brine_cli
