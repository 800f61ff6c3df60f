// container_peer — the C++ side of the container interop tests (interop.py drives it):
// writes brine's sample object as a container to a path, a stream or a memfd sent over a Unix
// socket, and reads containers back from the same carriers, printing one canonical summary that
// the Python side compares with its own:
//
//   root <kind>
//   label <str>             (root["label"], when the root is a dict)
//   n <int>                 (root["n"])
//   buffer <index> <size> <crc32 hex> <ro|rw> <mapped|owned>
//
// Usage:
//   container_peer write <path> [compress] [floats]   | write-stream [compress] [floats] (stdout)
//   container_peer send-fd <socket-fd> [compress] [floats]
//   container_peer read <path> [verify]  | read-stream [verify] (stdin) | recv-fd <socket-fd> [verify]
//   container_peer rewrite <in> <out> [compress]   (read a container, write its contents again)
//   container_peer expect-error <path>   (exit 0 when opening or decoding fails; prints the error)
// compress: never | auto | always (default auto); verify: all | skip_bulk | metadata.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "brine/container.hpp"
#include "brine/convert.hpp"

namespace {

std::uint32_t crc32(std::span<const std::byte> data) {
  static std::uint32_t table[256];
  static bool ready = false;
  if (!ready) {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = true;
  }
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::byte b : data) c = table[(c ^ static_cast<std::uint32_t>(b)) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct sample {
  std::vector<double> floats;
  std::vector<std::byte> zeros = std::vector<std::byte>(60'000);
  std::vector<std::byte> small;
  std::vector<std::byte> empty;
  std::string pickle;
  std::vector<brine::container_buffer> buffers;

  explicit sample(std::size_t n) : floats(n), small(300) {
    std::mt19937_64 rng(1234);
    for (auto& f : floats) f = std::ldexp(static_cast<double>(rng() >> 11), -40);
    for (std::size_t i = 0; i < small.size(); ++i) small[i] = static_cast<std::byte>(i * 7);
    using item = std::variant<std::string, std::int64_t, brine::out_of_band<double>, brine::out_of_band<std::byte>>;
    std::map<std::string, item> m;
    m["label"] = std::string("from C++");
    m["n"] = std::int64_t{42};
    m["floats"] = brine::out_of_band<double>{floats, true};
    m["zeros"] = brine::out_of_band<std::byte>{zeros, true};
    m["small"] = brine::out_of_band<std::byte>{small, false};
    m["empty"] = brine::out_of_band<std::byte>{empty, true};
    brine::buffer_collector collect;
    brine::encode_options o;
    o.on_buffer = collect.callback();
    auto p = brine::pickle(m, o);
    if (!p) {
      std::fprintf(stderr, "encode: %s\n", p.error().to_string().c_str());
      std::exit(2);
    }
    pickle = std::move(*p);
    buffers = std::move(collect.buffers);
  }
  std::span<const std::byte> bytes() const { return std::as_bytes(std::span(pickle)); }
};

brine::container_write_options write_options(const char* compress) {
  brine::container_write_options o;
  const std::string c = compress ? compress : "auto";
  o.compress = c == "never" ? brine::compression::never
             : c == "always" ? brine::compression::always
                             : brine::compression::automatic;
  return o;
}

brine::container_open_options open_options(const char* verify, brine::container_open_options o = {}) {
  const std::string v = verify ? verify : "all";
  o.verify = v == "metadata" ? brine::verify_policy::metadata
           : v == "skip_bulk" ? brine::verify_policy::skip_bulk
                              : brine::verify_policy::all;
  o.bulk_threshold = 4096;  // small test buffers count as bulk under skip_bulk
  return o;
}

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  const auto p = reinterpret_cast<std::uintptr_t>(part.data());
  const auto w = reinterpret_cast<std::uintptr_t>(whole.data());
  return p >= w && p - w <= whole.size() && part.size() <= whole.size() - (p - w);
}

int fail(const brine::error& e) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return 1;
}

int summarize(const brine::container& c) {
  auto d = c.decode();
  if (!d) return fail(d.error());
  const auto root = d->root();
  std::printf("root %s\n", std::string(brine::kind_name(root.kind())).c_str());
  if (root.is(brine::kind::dict)) {
    const auto label = root.find("label");
    if (label.valid() && label.is(brine::kind::str)) std::printf("label %s\n", std::string(label.as_str()).c_str());
    const auto n = root.find("n");
    if (n.valid() && n.is(brine::kind::integer)) std::printf("n %lld\n", static_cast<long long>(n.as_int64()));
  }
  std::vector<brine::value> bufs;
  for (std::uint32_t id = 0; id < d->node_count(); ++id)
    if (d->node(id).is(brine::kind::buffer)) bufs.push_back(d->node(id));
  std::sort(bufs.begin(), bufs.end(), [](auto a, auto b) { return a.buffer_index() < b.buffer_index(); });
  for (const auto& b : bufs) {
    const auto data = b.as_bytes();
    std::printf("buffer %zu %zu %08x %s %s\n", b.buffer_index(), data.size(), crc32(data), b.readonly() ? "ro" : "rw",
                c.mapped() && inside(data, c.bytes()) ? "mapped" : "owned");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: see the comment at the top of container_peer.cpp\n");
    return 2;
  }
  const std::string cmd = argv[1];
  auto arg = [&](int i) -> const char* { return i < argc ? argv[i] : nullptr; };
  auto floats = [&](int i) { return arg(i) ? static_cast<std::size_t>(std::stoull(arg(i))) : std::size_t{20'000}; };

  if (cmd == "write" && argc >= 3) {
    const sample s(floats(4));
    auto r = brine::write_container_file(argv[2], s.bytes(), s.buffers, write_options(arg(3)));
    return r ? 0 : fail(r.error());
  }
  if (cmd == "write-stream") {
    const sample s(floats(3));
    auto r = brine::write_container(1, s.bytes(), s.buffers, write_options(arg(2)));
    return r ? 0 : fail(r.error());
  }
  if (cmd == "send-fd" && argc >= 3) {
    const sample s(floats(4));
    auto fd = brine::write_container_memfd(s.bytes(), s.buffers, write_options(arg(3)));
    if (!fd) return fail(fd.error());
    auto r = brine::send_container(std::atoi(argv[2]), fd->get());
    return r ? 0 : fail(r.error());
  }
  if (cmd == "read" && argc >= 3) {
    auto c = brine::open_container(argv[2], open_options(arg(3)));
    return c ? summarize(*c) : fail(c.error());
  }
  if (cmd == "read-stream") {
    auto c = brine::read_container_stream(0, open_options(arg(2)));
    return c ? summarize(*c) : fail(c.error());
  }
  if (cmd == "recv-fd" && argc >= 3) {
    auto c = brine::receive_container(std::atoi(argv[2]), open_options(arg(3), brine::receive_options()));
    return c ? summarize(*c) : fail(c.error());
  }
  if (cmd == "rewrite" && argc >= 4) {
    // Read a container and write its pickle and buffers again: writers must agree byte for byte.
    auto c = brine::open_container(argv[2]);
    if (!c) return fail(c.error());
    std::vector<brine::container_buffer> bufs;
    for (const auto& b : c->buffers()) bufs.push_back({b.data, b.readonly});
    auto r = brine::write_container_file(argv[3], c->pickle(), bufs, write_options(arg(4)));
    return r ? 0 : fail(r.error());
  }
  if (cmd == "expect-error" && argc >= 3) {
    auto c = brine::open_container(argv[2], open_options(arg(3)));
    if (!c) {
      std::printf("%s %llu %llu\n", std::string(brine::errc_name(c.error().code)).c_str(),
                  static_cast<unsigned long long>(c.error().detail), static_cast<unsigned long long>(c.error().offset));
      return 0;
    }
    auto d = c->decode();
    if (!d) {
      std::printf("decode %s\n", std::string(brine::errc_name(d.error().code)).c_str());
      return 0;
    }
    return 1;
  }
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 2;
}
