// bench/transport/bench_transport.cpp — moves one large float64 buffer from one process to another
// and times both ends, for brine's in-band pickle over a Unix socket and brine's container in a
// memfd passed over the same socket, beside a memcpy of the same bytes. run_transport.py adds
// CPython's pickle.dumps / pickle.loads and prints one table.
//
//   bench_transport [--size BYTES] [--runs N] [--only memcpy|inband|container]
//
// BYTES accepts K, M, G suffixes (binary). Default 1G, 5 runs. The receiver is a forked child that
// stays alive across runs; every run creates fresh memory on both sides (nothing is reused, so
// page faults are paid as a real transfer pays them).
//
// Verify, then time (STYLE.md §10): the receiver stops its clock when the decoded document is
// ready, then compares the decoded buffer with the sender's array (memcmp, untimed; after fork the
// child holds the same array) and reports a failure if they differ, or if the buffer of a container
// decode is not inside the mapping (zero copy). Any failure exits 1.
//
// Times (wall clock, CLOCK_MONOTONIC on both sides of the fork, medians over the runs):
//   sender    from the start of serializing to the last byte or the descriptor handed to the socket
//   receiver  from the first byte (in-band) or the descriptor (container) arriving to the decoded
//             document; for containers with verify_policy::metadata (no bulk verification) and
//             verify_policy::all (XXH3 over every byte)
//   total     from the start of serializing to the decoded document
//   teardown  the receiver destroying the document (munmap or free)
//   memcpy    a memcpy of the same bytes into a warm buffer, timed just before every run of every
//             method (the machine's load then affects both alike); memcpy_ratio is the median
//             over runs of receiver / that run's memcpy
// Output: notes, then `row name=... sender_ms=... receiver_ms=... total_ms=... teardown_ms=...
// memcpy_ratio=...` lines that run_transport.py reads.
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "brine/container.hpp"
#include "brine/decode.hpp"
#include "brine/encode.hpp"

namespace {

double now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bench_transport: %s (%s)\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void die(const brine::error& e) {
  std::fprintf(stderr, "bench_transport: %s\n", e.to_string().c_str());
  std::exit(1);
}

void write_all(int fd, const void* p, std::size_t n) {
  const auto* b = static_cast<const char*>(p);
  while (n) {
    const ssize_t w = send(fd, b, std::min<std::size_t>(n, 1u << 30), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("send");
    }
    b += w;
    n -= static_cast<std::size_t>(w);
  }
}

void read_all(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n) {
    const ssize_t r = read(fd, b, std::min<std::size_t>(n, 1u << 30));
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (r == 0) die("unexpected end of stream");
    b += r;
    n -= static_cast<std::size_t>(r);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::uint64_t parse_size(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  switch (end && *end ? *end : ' ') {
    case 'k': case 'K': v *= 1024.0; break;
    case 'm': case 'M': v *= 1024.0 * 1024; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
    default: break;
  }
  return static_cast<std::uint64_t>(v);
}

// Fresh, untouched memory for one run (page faults are part of what a transfer costs).
struct fresh {
  void* p = nullptr;
  std::size_t n = 0;
  explicit fresh(std::size_t size) : n(size) {
    p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
  }
  ~fresh() { munmap(p, n); }
  fresh(const fresh&) = delete;
  fresh& operator=(const fresh&) = delete;
  std::byte* data() { return static_cast<std::byte*>(p); }
};

// The one-buffer document every method sends: a PickleBuffer over the caller's floats.
brine::document buffer_document(std::span<const std::byte> data) {
  brine::decode_options o;
  o.buffers = {{data, false}};
  o.buffers_given = true;
  auto d = brine::decode(std::string_view("\x80\x05\x97.", 4), o);
  if (!d) die(d.error());
  return std::move(*d);
}

struct report {
  double receiver_start = 0, receiver_done = 0, teardown_ms = 0;
  int ok = 0;
};

enum class method : int { inband = 1, container_metadata = 2, container_all = 3, quit = 9 };

// --- the receiving child

void receiver_loop(int sock, int results, std::span<const std::byte> expected) {
  for (;;) {
    int m = 0;
    read_all(results, &m, sizeof m);  // the parent says what comes next (results is a socketpair)
    if (m == static_cast<int>(method::quit)) _exit(0);
    report r;
    if (m == static_cast<int>(method::inband)) {
      std::uint64_t len = 0;
      read_all(sock, &len, sizeof len);
      r.receiver_start = now_ms();
      auto buf = std::make_unique<fresh>(len);
      read_all(sock, buf->data(), len);
      auto d = brine::decode(std::span<const std::byte>(buf->data(), len));
      if (!d) die(d.error());
      const auto got = d->root().as_bytes();
      r.receiver_done = now_ms();
      r.ok = got.size() == expected.size() && std::memcmp(got.data(), expected.data(), got.size()) == 0;
      const double t = now_ms();
      d = brine::error{};
      buf.reset();
      r.teardown_ms = now_ms() - t;
    } else {
      brine::container_open_options o = brine::receive_options();
      o.verify = m == static_cast<int>(method::container_all) ? brine::verify_policy::all : brine::verify_policy::metadata;
      auto fd = brine::receive_container_fd(sock);
      r.receiver_start = now_ms();
      if (!fd) die(fd.error());
      auto c = brine::open_container_fd(fd->get(), o);
      if (!c) die(c.error());
      auto d = c->decode();
      if (!d) die(d.error());
      const auto got = d->root().as_bytes();
      r.receiver_done = now_ms();
      const auto whole = c->bytes();
      const bool zero_copy = got.data() >= whole.data() && got.data() + got.size() <= whole.data() + whole.size();
      r.ok = zero_copy && got.size() == expected.size() && std::memcmp(got.data(), expected.data(), got.size()) == 0;
      fd->reset();
      const double t = now_ms();
      d = brine::error{};
      c = brine::error{};
      r.teardown_ms = now_ms() - t;
    }
    write_all(results, &r, sizeof r);
  }
}

struct row {
  std::vector<double> sender, receiver, total, teardown;
  std::vector<double> ratio;  // receiver / the memcpy timed just before the run
};

void print_row(const char* name, const row& r, std::uint64_t size) {
  std::printf("row name=%s size=%llu sender_ms=%.3f receiver_ms=%.3f total_ms=%.3f teardown_ms=%.3f "
              "memcpy_ratio=%.4f runs=%zu\n",
              name, static_cast<unsigned long long>(size), median(r.sender), median(r.receiver), median(r.total),
              median(r.teardown), median(r.ratio), r.receiver.size());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t size = std::uint64_t{1} << 30;
  int runs = 5;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) size = parse_size(argv[++i]);
    else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_transport [--size BYTES] [--runs N] [--only memcpy|inband|container]\n");
      return 2;
    }
  }
  size &= ~std::uint64_t{7};
  const std::size_t n = size / sizeof(double);
  std::printf("note bench_transport: %llu bytes (%.1f MiB) of float64, %d runs, medians\n",
              static_cast<unsigned long long>(size), static_cast<double>(size) / (1 << 20), runs);

  // The sender's array, touched once before anything is timed.
  fresh src_mem(size);
  auto* src = reinterpret_cast<double*>(src_mem.data());
  for (std::size_t i = 0; i < n; ++i) src[i] = static_cast<double>(i) * 0.5 + 1.0 / static_cast<double>(i + 1);
  const std::span<const std::byte> src_bytes(src_mem.data(), size);

  // memcpy into a warm buffer is timed once before every run of every method, so that the
  // baseline sees the same machine load as the runs it is compared with (ratios are per run).
  fresh warm_dst(size);
  std::memset(warm_dst.data(), 1, size);
  row warm;
  auto time_memcpy = [&] {
    const double t = now_ms();
    std::memcpy(warm_dst.data(), src_bytes.data(), size);
    const double d = now_ms() - t;
    warm.receiver.push_back(d);
    return d;
  };
  {
    row cold;
    for (int r = 0; r < runs; ++r) {
      time_memcpy();
      fresh fresh_dst(size);
      const double t = now_ms();
      std::memcpy(fresh_dst.data(), src_bytes.data(), size);
      cold.receiver.push_back(now_ms() - t);
    }
    if (std::memcmp(warm_dst.data(), src_bytes.data(), size) != 0) die("memcpy check");
    print_row("memcpy_fresh_dst", cold, size);
  }
  if (only == "memcpy") {
    print_row("memcpy", warm, size);
    return 0;
  }

  int data_sv[2], ctl_sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data_sv) != 0) die("socketpair");
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl_sv) != 0) die("socketpair");
  const pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(data_sv[0]);
    close(ctl_sv[0]);
    receiver_loop(data_sv[1], ctl_sv[1], src_bytes);
  }
  close(data_sv[1]);
  close(ctl_sv[1]);
  const int sock = data_sv[0], ctl = ctl_sv[0];
  auto doc = buffer_document(src_bytes);
  int failures = 0;

  auto collect = [&](row& rw, double t0, double sent, double memcpy_ms) {
    report r;
    read_all(ctl, &r, sizeof r);
    if (!r.ok) ++failures;
    rw.sender.push_back(sent - t0);
    rw.receiver.push_back(r.receiver_done - r.receiver_start);
    rw.total.push_back(r.receiver_done - t0);
    rw.teardown.push_back(r.teardown_ms);
    rw.ratio.push_back((r.receiver_done - r.receiver_start) / memcpy_ms);
  };

  if (only.empty() || only == "inband") {
    // brine's in-band pickle: BYTEARRAY8 with the payload written from the array itself
    // (encode_to's sink receives it as one piece: no copy on the sending side).
    row rw;
    for (int r = 0; r < runs; ++r) {
      const double base = time_memcpy();
      const int m = static_cast<int>(method::inband);
      write_all(ctl, &m, sizeof m);
      const double t0 = now_ms();
      std::uint64_t len = 0;
      auto counted = brine::encode_to(doc.root(), [&](std::span<const std::byte> s) {
        len += s.size();
        return true;
      });
      if (!counted) die(counted.error());
      write_all(sock, &len, sizeof len);
      auto sent = brine::encode_to(doc.root(), [&](std::span<const std::byte> s) {
        write_all(sock, s.data(), s.size());
        return true;
      });
      if (!sent) die(sent.error());
      collect(rw, t0, now_ms(), base);
    }
    print_row("brine_inband", rw, size);
  }

  if (only.empty() || only == "container") {
    row meta, all;
    for (int r = 0; r < 2 * runs; ++r) {
      const bool verify_all = r % 2 == 1;
      const double base = time_memcpy();
      const int m = static_cast<int>(verify_all ? method::container_all : method::container_metadata);
      write_all(ctl, &m, sizeof m);
      const double t0 = now_ms();
      brine::buffer_collector collect_buffers;
      brine::encode_options eo;
      eo.on_buffer = collect_buffers.callback();
      auto pickle = brine::encode(doc.root(), eo);
      if (!pickle) die(pickle.error());
      auto fd = brine::write_container_memfd(std::as_bytes(std::span(*pickle)), collect_buffers.buffers);
      if (!fd) die(fd.error());
      auto sent = brine::send_container(sock, fd->get());
      if (!sent) die(sent.error());
      const double t1 = now_ms();
      fd->reset();  // the receiver holds its own descriptor
      collect(verify_all ? all : meta, t0, t1, base);
    }
    print_row("brine_container_noverify", meta, size);
    print_row("brine_container_verify_all", all, size);
  }

  print_row("memcpy", warm, size);
  const int quit = static_cast<int>(method::quit);
  write_all(ctl, &quit, sizeof quit);
  int status = 0;
  waitpid(child, &status, 0);
  if (failures) {
    std::fprintf(stderr, "bench_transport: %d runs failed verification\n", failures);
    return 1;
  }
  std::printf("note every decoded buffer equalled the sender's array; container buffers were inside the mapping\n");
  return 0;
}
