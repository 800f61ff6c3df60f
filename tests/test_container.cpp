// Tests for brine/container.hpp: round trips through every carrier (bytes, file, /dev/shm, memfd,
// pipe stream, memfd passed to a forked process), zero copy, compression decisions, checksum
// policies, one test per validation rule pinning the field and offset, and a corruption sweep
// that flips, truncates and extends containers (run it under -DBRINE_SANITIZE=ON: the bytes form
// borrows an exact-size heap vector, so any read past the end is an ASan error).
#include "brine/container.hpp"  // first: the header compiles alone

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "container_format.hpp"  // tests may use lib/: the problem → errc mapping, field offsets
#include "container_io.hpp"

using brine::container_field;
using brine::errc;
namespace fmt = brine::container_format;
using brine::detail::container_errc;
using brine::detail::container_problem;

// --- Views cannot be taken from a temporary container (STYLE.md §8). The snippet in
// tests/container/compile_fail_view.cpp checks the same with a real compiler run.
template <class C>
concept pickle_from = requires(C&& c) { std::forward<C>(c).pickle(); };
template <class C>
concept buffer_from = requires(C&& c) { std::forward<C>(c).buffer(0); };
template <class C>
concept buffers_from = requires(C&& c) { std::forward<C>(c).buffers(); };
template <class C>
concept bytes_from = requires(C&& c) { std::forward<C>(c).bytes(); };
template <class C>
concept section_from = requires(C&& c) { std::forward<C>(c).section(0); };
static_assert(pickle_from<const brine::container&> && pickle_from<brine::container&>);
static_assert(!pickle_from<brine::container> && !pickle_from<const brine::container>);
static_assert(buffer_from<brine::container&> && !buffer_from<brine::container>);
static_assert(buffers_from<brine::container&> && !buffers_from<brine::container>);
static_assert(bytes_from<brine::container&> && !bytes_from<brine::container>);
static_assert(section_from<brine::container&> && !section_from<brine::container>);
static_assert(!pickle_from<decltype(std::declval<brine::result<brine::container>>().value())>);

namespace {

bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
  return v;
}

// A sample payload: a pickle (from brine's typed encoder) with four out-of-band buffers.
struct sample {
  std::vector<double> floats;       // large enough for page alignment, incompressible-ish
  std::vector<std::byte> zeros;     // compressible
  std::vector<std::byte> small;     // writable
  std::vector<std::byte> empty;
  std::string pickle;
  std::vector<brine::container_buffer> buffers;

  explicit sample(std::size_t nfloats = 20'000) : floats(nfloats), zeros(60'000), small(pattern(300, 7)) {
    // Random bit patterns: incompressible, so the floats stay in place (zero copy).
    const auto noise = pattern(nfloats * sizeof(double), 42);
    std::memcpy(floats.data(), noise.data(), noise.size());
    brine::buffer_collector collect;
    brine::encode_options o;
    o.on_buffer = collect.callback();
    auto t = std::make_tuple(std::string("label"), std::int64_t{42}, brine::out_of_band<double>{floats, true},
                             brine::out_of_band<std::byte>{zeros, true}, brine::out_of_band<std::byte>{small, false},
                             brine::out_of_band<std::byte>{empty, true});
    auto p = brine::pickle(t, o);
    REQUIRE(p.has_value());
    pickle = std::move(*p);
    buffers = std::move(collect.buffers);
    REQUIRE(buffers.size() == 4);
  }
  std::span<const std::byte> pickle_bytes() const { return std::as_bytes(std::span(pickle)); }
};

void check_decoded(const brine::document& doc, const sample& s) {
  const auto root = doc.root();
  REQUIRE(root.is(brine::kind::tuple));
  REQUIRE(root.size() == 6);
  CHECK(root[0].as_str() == "label");
  CHECK(root[1].as_int64() == 42);
  const std::span<const std::byte> want[] = {std::as_bytes(std::span(s.floats)), s.zeros, s.small, s.empty};
  const bool readonly[] = {true, true, false, true};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto b = root[2 + i];
    REQUIRE(b.is(brine::kind::buffer));
    CHECK(b.buffer_index() == i);
    CHECK(b.readonly() == readonly[i]);
    CHECK(same(b.as_bytes(), want[i]));
  }
}

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  const auto p = reinterpret_cast<std::uintptr_t>(part.data());
  const auto w = reinterpret_cast<std::uintptr_t>(whole.data());
  return p >= w && p - w <= whole.size() && part.size() <= whole.size() - (p - w);
}

std::string temp_path(const std::string& dir, const char* name) {
  return dir + "/brine-test-" + std::to_string(getpid()) + "-" + name;
}

brine::error open_error(const std::vector<std::byte>& bytes, const brine::container_open_options& o = {}) {
  auto r = brine::open_container_bytes(bytes, o);
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

void check_error(const std::vector<std::byte>& bytes, container_problem p, container_field f, std::uint64_t offset,
                 const brine::container_open_options& o = {}) {
  const auto e = open_error(bytes, o);
  CAPTURE(e.to_string());
  CHECK(e.code == container_errc(p));
  if (p != container_problem::limit && p != container_problem::io) CHECK(e.detail == static_cast<std::uint64_t>(f));
  CHECK(e.offset == offset);
  CHECK(e.opcode == -1);
  if (f != container_field::none) CHECK(e.message.find(brine::container_field_name(f)) != std::string::npos);
}

// Rewrites the metadata checksum after a deliberate change: a liar that knows the format.
void reseal(std::vector<std::byte>& c) {
  const auto n = brine::detail::load_le(c.data() + fmt::at_section_count, 4);
  const std::span<const std::byte> all(c);
  const std::size_t table = std::min<std::size_t>(n * fmt::entry_size, c.size() - fmt::header_size);
  brine::detail::store_le(c.data() + fmt::at_meta_checksum,
                          brine::detail::container_hash2(all.first(fmt::at_meta_checksum), all.subspan(fmt::header_size, table)), 8);
}

void put(std::vector<std::byte>& c, std::size_t at, std::uint64_t v, std::size_t n) {
  brine::detail::store_le(c.data() + at, v, n);
}
std::uint64_t get(const std::vector<std::byte>& c, std::size_t at, std::size_t n) {
  return brine::detail::load_le(c.data() + at, n);
}

std::vector<std::byte> build(const sample& s, const brine::container_write_options& o = {}) {
  auto r = brine::write_container_bytes(s.pickle_bytes(), s.buffers, o);
  REQUIRE(r.has_value());
  return std::move(*r);
}

}  // namespace

TEST_CASE("layout: header, table, alignment, compression decisions") {
  const sample s;
  const auto c = build(s);
  CHECK(std::memcmp(c.data(), fmt::magic.data(), 8) == 0);
  CHECK(get(c, fmt::at_version, 2) == 1);
  CHECK(get(c, fmt::at_section_count, 4) == 5);
  CHECK(get(c, fmt::at_total_size, 8) == c.size());
  auto r = brine::open_container_bytes(c);
  REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
  const auto& k = *r;
  REQUIRE(k.section_count() == 5);
  CHECK(k.buffer_count() == 4);
  // 160 000 bytes of floats: page aligned (>= 64 KiB), incompressible enough to stay as is.
  CHECK(k.section(1).align_log2 == 12);
  CHECK(k.section(1).offset % 4096 == 0);
  CHECK(k.section(1).codec == fmt::codec_none);
  // 60 000 zero bytes: compressed (Dask's rule), 64-byte aligned.
  CHECK(k.section(2).codec == fmt::codec_zstd);
  CHECK(k.section(2).stored_size < 1000);
  CHECK(k.section(2).raw_size == 60'000);
  CHECK(k.section(3).codec == fmt::codec_none);  // 300 bytes: below the minimum
  CHECK(k.section(3).readonly == false);
  CHECK(k.section(4).stored_size == 0);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(k.section(i).offset % 64 == 0);
    CHECK(k.section(i).verified);  // verify_policy::all
  }
  auto doc = k.decode();
  REQUIRE_MESSAGE(doc.has_value(), doc.error().to_string());
  check_decoded(*doc, s);

  SUBCASE("never compress") {
    brine::container_write_options o;
    o.compress = brine::compression::never;
    auto r2 = brine::open_container_bytes(build(s, o));
    REQUIRE(r2.has_value());
    for (std::size_t i = 0; i < 5; ++i) CHECK(r2->section(i).codec == fmt::codec_none);
  }
  SUBCASE("zero-copy buffers stay uncompressed unless asked") {
    const std::vector<std::byte> big(2u << 20);  // zeros: very compressible, but meant for mapping
    const std::string pk = "\x80\x05\x97.";
    const brine::container_buffer one{big, true};
    auto kept = brine::write_container_bytes(std::as_bytes(std::span(pk)), {&one, 1});
    REQUIRE(kept.has_value());
    CHECK(get(*kept, brine::detail::entry_at(1) + fmt::at_codec, 1) == fmt::codec_none);
    brine::container_write_options o;
    o.compress_zero_copy = true;
    auto squeezed = brine::write_container_bytes(std::as_bytes(std::span(pk)), {&one, 1}, o);
    REQUIRE(squeezed.has_value());
    CHECK(get(*squeezed, brine::detail::entry_at(1) + fmt::at_codec, 1) == fmt::codec_zstd);
    CHECK(squeezed->size() < 4096 * 2);
    auto back = brine::open_container_bytes(*squeezed);
    REQUIRE(back.has_value());
    CHECK(back->buffer(0).data.size() == big.size());
  }
  SUBCASE("random data is not compressed: the sample does not pay") {
    const auto noise = pattern(200'000, 3);
    const std::string pk = "\x80\x05\x97.";
    const brine::container_buffer one{noise, true};
    brine::container_write_options o;
    o.zero_copy_threshold = UINT64_MAX;
    auto bytes = brine::write_container_bytes(std::as_bytes(std::span(pk)), {&one, 1}, o);
    REQUIRE(bytes.has_value());
    CHECK(get(*bytes, brine::detail::entry_at(1) + fmt::at_codec, 1) == fmt::codec_none);
  }
  SUBCASE("always compresses small sections too") {
    brine::container_write_options o;
    o.compress = brine::compression::always;
    auto r2 = brine::open_container_bytes(build(s, o));
    REQUIRE(r2.has_value());
    CHECK(r2->section(0).codec == fmt::codec_zstd);
    CHECK(r2->section(3).codec == fmt::codec_zstd);
    CHECK(r2->section(4).codec == fmt::codec_none);  // empty
    auto d = r2->decode();
    REQUIRE(d.has_value());
    check_decoded(*d, s);
  }
}

TEST_CASE("round trips: bytes, file, /dev/shm, memfd, pipe stream") {
  const sample s;
  SUBCASE("file") {
    const auto dir = std::filesystem::temp_directory_path().string();
    const auto path = temp_path(dir, "file.brc");
    auto w = brine::write_container_file(path, s.pickle_bytes(), s.buffers);
    REQUIRE_MESSAGE(w.has_value(), w.error().to_string());
    CHECK(std::filesystem::file_size(path) == w->total_size);
    auto doc = brine::open_document(path);
    std::filesystem::remove(path);  // the mapping outlives the name
    REQUIRE_MESSAGE(doc.has_value(), doc.error().to_string());
    check_decoded(*doc, s);
  }
  SUBCASE("/dev/shm") {
    if (!std::filesystem::is_directory("/dev/shm")) return;
    const auto path = temp_path("/dev/shm", "shm.brc");
    auto w = brine::write_container_file(path, s.pickle_bytes(), s.buffers);
    REQUIRE_MESSAGE(w.has_value(), w.error().to_string());
    auto c = brine::open_container(path);
    std::filesystem::remove(path);
    REQUIRE_MESSAGE(c.has_value(), c.error().to_string());
    CHECK(c->mapped());
    CHECK_FALSE(c->immutable());
    auto doc = c->decode();
    REQUIRE(doc.has_value());
    check_decoded(*doc, s);
  }
  SUBCASE("memfd, zero copy, the document keeps the mapping alive") {
    brine::container_summary sum;
    auto fd = brine::write_container_memfd(s.pickle_bytes(), s.buffers, {}, &sum);
    REQUIRE_MESSAGE(fd.has_value(), fd.error().to_string());
    CHECK((fcntl(fd->get(), F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_SHRINK)) == (F_SEAL_WRITE | F_SEAL_SHRINK));
    brine::document doc;
    std::span<const std::byte> mapping;
    {
      auto c = brine::open_container_fd(fd->get(), brine::receive_options());
      REQUIRE_MESSAGE(c.has_value(), c.error().to_string());
      CHECK(c->immutable());
      mapping = c->bytes();
      CHECK(mapping.size() == sum.total_size);
      CHECK(inside(c->pickle(), mapping));  // sealed: the pickle is not copied either
      auto d = c->decode();
      REQUIRE(d.has_value());
      doc = std::move(*d);
    }
    fd->reset();  // the container object and the descriptor are gone; the document holds the mapping
    check_decoded(doc, s);
    const auto floats = doc.root()[2].as_bytes();
    CHECK(inside(floats, mapping));  // zero copy: the decoded buffer lies inside the mapping
    CHECK(reinterpret_cast<std::uintptr_t>(floats.data()) % 4096 == 0);
    CHECK(inside(doc.root()[4].as_bytes(), mapping));
    CHECK_FALSE(inside(doc.root()[3].as_bytes(), mapping));  // the compressed one is owned
  }
  SUBCASE("an unsealed file copies the pickle, never the buffers") {
    auto fd = brine::write_container_memfd(s.pickle_bytes(), s.buffers, [] {
      brine::container_write_options o;
      o.seal = false;
      return o;
    }());
    REQUIRE(fd.has_value());
    auto c = brine::open_container_fd(fd->get());
    REQUIRE(c.has_value());
    CHECK_FALSE(c->immutable());
    CHECK_FALSE(inside(c->pickle(), c->bytes()));
    CHECK(inside(c->buffer(0).data, c->bytes()));
    auto refused = brine::open_container_fd(fd->get(), brine::receive_options());
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().detail == static_cast<std::uint64_t>(container_field::seals));
  }
  SUBCASE("pipe stream, two containers back to back") {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    brine::unique_fd rd(p[0]), wr(p[1]);
    std::thread writer([&] {
      auto a = brine::write_container(wr.get(), s.pickle_bytes(), s.buffers);
      auto b = brine::write_container(wr.get(), s.pickle_bytes(), s.buffers);
      CHECK(a.has_value());
      CHECK(b.has_value());
      wr.reset();
    });
    auto c1 = brine::read_container_stream(rd.get());
    auto c2 = brine::read_container_stream(rd.get());
    auto c3 = brine::read_container_stream(rd.get());  // EOF at the first byte
    writer.join();
    REQUIRE_MESSAGE(c1.has_value(), c1.error().to_string());
    REQUIRE_MESSAGE(c2.has_value(), c2.error().to_string());
    CHECK(c1->immutable());
    CHECK_FALSE(c1->mapped());
    auto d = c2->decode();
    REQUIRE(d.has_value());
    check_decoded(*d, s);
    REQUIRE_FALSE(c3.has_value());
    CHECK(c3.error().code == errc::truncated);
    CHECK(c3.error().offset == 0);
  }
  SUBCASE("stream limits and truncation") {
    const auto bytes = build(s);
    for (std::size_t cut : {std::size_t{10}, std::size_t{64}, std::size_t{100}, bytes.size() - 1}) {
      int p[2];
      REQUIRE(pipe2(p, O_CLOEXEC) == 0);
      brine::unique_fd rd(p[0]), wr(p[1]);
      std::thread writer([&] {
        std::vector<iovec> iov{{const_cast<std::byte*>(bytes.data()), cut}};
        brine::error e;
        brine::detail::write_gathered(wr.get(), iov, e);
        wr.reset();
      });
      auto c = brine::read_container_stream(rd.get());
      writer.join();
      REQUIRE_FALSE(c.has_value());
      CHECK(c.error().code == errc::truncated);
      CHECK(c.error().offset == cut);
    }
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    brine::unique_fd rd(p[0]), wr(p[1]);
    REQUIRE(write(wr.get(), bytes.data(), 64 + 5 * 48) == 64 + 5 * 48);
    brine::container_open_options o;
    o.limits.max_stream_bytes = bytes.size() - 1;
    auto c = brine::read_container_stream(rd.get(), o);
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error().code == errc::limit_exceeded);
    CHECK(c.error().offset == fmt::at_total_size);
  }
}

namespace {
// Resident kB of the mapping that starts at `base`, from /proc/self/smaps: the pages this process
// has touched (a memfd's pages exist in memory anyway; Rss counts those mapped here).
long resident_kib(const void* base) {
  FILE* f = std::fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  char line[512];
  bool in = false;
  long rss = -1;
  const auto want = reinterpret_cast<std::uintptr_t>(base);
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, '-') < std::strchr(line, ' ')) {
      in = lo == want;
      continue;
    }
    if (in && std::sscanf(line, "Rss: %ld kB", &rss) == 1) break;
  }
  std::fclose(f);
  return rss;
}
}  // namespace

TEST_CASE("opening and decoding is O(1) in the bulk buffers without their verification") {
  // 32 MiB out of band: with verify_policy::metadata or skip_bulk, open + decode touch the
  // header, the table and the pickle only; the buffer's pages stay unmapped in this process.
  std::vector<std::byte> big(32u << 20);
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<std::byte>(i >> 12);
  const std::string pk = "\x80\x05\x97\x98.";
  const brine::container_buffer one{big, true};
  auto fd = brine::write_container_memfd(std::as_bytes(std::span(pk)), {&one, 1});
  REQUIRE(fd.has_value());
  for (auto policy : {brine::verify_policy::metadata, brine::verify_policy::skip_bulk, brine::verify_policy::all}) {
    brine::container_open_options o;
    o.verify = policy;
    auto c = brine::open_container_fd(fd->get(), o);
    REQUIRE(c.has_value());
    auto d = c->decode();
    REQUIRE(d.has_value());
    CHECK(inside(d->root().as_bytes(), c->bytes()));
    const long kib = resident_kib(c->bytes().data());
    CAPTURE(static_cast<int>(policy));
    CAPTURE(kib);
    if (kib < 0) continue;  // no smaps
    if (policy == brine::verify_policy::all)
      CHECK(kib >= 32 * 1024);  // hashed: every page was touched
    else
      CHECK(kib <= 256);  // header, table, pickle, and the kernel's fault-around (64 KiB)
  }
}

TEST_CASE("a memfd passed to a forked process over a Unix socket") {
  const sample s;
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  brine::unique_fd parent(sv[0]), child_end(sv[1]);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: receive, validate, decode, check, and report through the exit status.
    parent.reset();
    auto c = brine::receive_container(child_end.get());
    if (!c) _exit(2);
    auto d = c->decode();
    if (!d) _exit(3);
    const auto root = d->root();
    if (!root.is(brine::kind::tuple) || root.size() != 6) _exit(4);
    const auto f = root[2].as_bytes();
    if (f.size() != s.floats.size() * sizeof(double) || std::memcmp(f.data(), s.floats.data(), f.size()) != 0) _exit(5);
    if (!inside(f, c->bytes())) _exit(6);
    _exit(0);
  }
  child_end.reset();
  auto fd = brine::write_container_memfd(s.pickle_bytes(), s.buffers);
  REQUIRE(fd.has_value());
  auto sent = brine::send_container(parent.get(), fd->get());
  REQUIRE_MESSAGE(sent.has_value(), sent.error().to_string());
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("fd passing rejects what a hostile peer sends") {
  auto send_raw = [](int sock, const void* msg, std::size_t n, const std::vector<int>& fds) {
    iovec iov{const_cast<void*>(msg), n};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (!fds.empty()) {
      m.msg_control = control.data();
      m.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    REQUIRE(sendmsg(sock, &m, 0) == static_cast<ssize_t>(n));
  };
  const sample s;
  auto fd = brine::write_container_memfd(s.pickle_bytes(), s.buffers);
  REQUIRE(fd.has_value());
  struct stat st {};
  REQUIRE(fstat(fd->get(), &st) == 0);
  std::vector<std::byte> msg(16);
  std::memcpy(msg.data(), "BRINEFD1", 8);
  brine::detail::store_le(msg.data() + 8, static_cast<std::uint64_t>(st.st_size), 8);

  auto expect = [&](const std::vector<std::byte>& m, const std::vector<int>& fds, const char* what) {
    CAPTURE(what);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    brine::unique_fd a(sv[0]), b(sv[1]);
    send_raw(a.get(), m.data(), m.size(), fds);
    auto r = brine::receive_container(b.get());
    REQUIRE_FALSE(r.has_value());
    CAPTURE(r.error().to_string());
    CHECK(r.error().detail == static_cast<std::uint64_t>(container_field::socket));
  };
  expect(msg, {}, "no descriptor");
  expect(msg, {fd->get(), fd->get()}, "two descriptors");
  auto wrong = msg;
  wrong[0] = std::byte{'X'};
  expect(wrong, {fd->get()}, "wrong tag");
  auto lie = msg;
  brine::detail::store_le(lie.data() + 8, static_cast<std::uint64_t>(st.st_size) + 1, 8);
  expect(lie, {fd->get()}, "wrong size");
  expect({msg.begin(), msg.begin() + 8}, {fd->get()}, "short datagram");
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  brine::unique_fd pr(p[0]), pw(p[1]);
  expect(msg, {pr.get()}, "a pipe, not a file");

  // An unsealed memfd is refused by receive_container's defaults.
  brine::container_write_options o;
  o.seal = false;
  auto loose = brine::write_container_memfd(s.pickle_bytes(), s.buffers, o);
  REQUIRE(loose.has_value());
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  brine::unique_fd a(sv[0]), b(sv[1]);
  REQUIRE(brine::send_container(a.get(), loose->get()).has_value());
  auto r = brine::receive_container(b.get());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().detail == static_cast<std::uint64_t>(container_field::seals));
}

TEST_CASE("checksum policies") {
  const sample s;
  brine::container_write_options wo;
  wo.page_align_threshold = 4096;
  auto c = build(s, wo);
  // Corrupt one byte inside the float buffer (section 1, 160 000 bytes, uncompressed).
  brine::container_open_options probe;
  auto ok = brine::open_container_bytes(c, probe);
  REQUIRE(ok.has_value());
  const auto at = ok->section(1).offset + 1000;
  c[at] ^= std::byte{0x40};

  brine::container_open_options all;
  check_error(c, container_problem::checksum, container_field::checksum, brine::detail::entry_at(1) + fmt::at_checksum, all);

  brine::container_open_options skip;
  skip.verify = brine::verify_policy::skip_bulk;
  skip.bulk_threshold = 100'000;
  auto r = brine::open_container_bytes(c, skip);
  REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
  CHECK_FALSE(r->section(1).verified);
  CHECK(r->section(0).verified);  // the pickle always
  CHECK(r->section(2).verified);  // compressed: read anyway
  CHECK(r->section(3).verified);  // small
  skip.bulk_threshold = 1'000'000'000;
  check_error(c, container_problem::checksum, container_field::checksum, brine::detail::entry_at(1) + fmt::at_checksum, skip);

  brine::container_open_options meta;
  meta.verify = brine::verify_policy::metadata;
  auto m = brine::open_container_bytes(c, meta);
  REQUIRE(m.has_value());
  for (std::size_t i = 0; i < m->section_count(); ++i) CHECK_FALSE(m->section(i).verified);
  // The metadata checksum is verified under every policy.
  c[fmt::at_total_size + 7] ^= std::byte{1};
  const auto e = open_error(c, meta);
  CHECK(e.code == errc::checksum_mismatch);
}

TEST_CASE("validation: one case per rule, pinning the field and its offset") {
  const sample s;
  brine::container_write_options wo;
  wo.compress = brine::compression::automatic;
  const auto good = build(s, wo);
  auto e1 = [](std::size_t i, std::size_t field) { return brine::detail::entry_at(i) + field; };
  using P = container_problem;
  using F = container_field;

  SUBCASE("header") {
    auto c = good;
    c[0] = std::byte{'B'};
    check_error(c, P::corrupt, F::magic, 0);
    c = good;
    put(c, fmt::at_version, 2, 2);  // version skew wins over everything after the magic
    put(c, fmt::at_header_size, 80, 2);
    check_error(c, P::unsupported, F::version, fmt::at_version);
    c = good;
    put(c, fmt::at_flags, 4, 4);
    check_error(c, P::unsupported, F::flags, fmt::at_flags);
    c = good;
    put(c, fmt::at_header_size, 65, 2);
    check_error(c, P::corrupt, F::header_size, fmt::at_header_size);
    c = good;
    put(c, fmt::at_entry_size, 64, 2);
    check_error(c, P::corrupt, F::entry_size, fmt::at_entry_size);
    c = good;
    c[14] = std::byte{1};
    check_error(c, P::corrupt, F::header_reserved, 14);
    c = good;
    c[40] = std::byte{1};
    check_error(c, P::corrupt, F::header_reserved, 32);
    c = good;
    put(c, fmt::at_section_count, 0, 4);
    check_error(c, P::corrupt, F::section_count, fmt::at_section_count);
    c = good;
    put(c, fmt::at_total_size, 100, 8);
    check_error(c, P::corrupt, F::total_size, fmt::at_total_size);
    c = good;
    put(c, fmt::at_meta_checksum, get(c, fmt::at_meta_checksum, 8) + 1, 8);
    check_error(c, P::checksum, F::meta_checksum, fmt::at_meta_checksum);
    brine::container_open_options few;
    few.limits.max_sections = 4;
    check_error(good, P::limit, F::none, fmt::at_section_count, few);
  }
  SUBCASE("sizes of the container itself") {
    std::vector<std::byte> tiny(good.begin(), good.begin() + 63);
    check_error(tiny, P::truncated, F::file, 63);
    std::vector<std::byte> cut(good.begin(), good.end() - 1);
    check_error(cut, P::truncated, F::total_size, fmt::at_total_size);
    auto longer = good;
    longer.push_back(std::byte{0});
    check_error(longer, P::corrupt, F::total_size, fmt::at_total_size);
  }
  SUBCASE("table entries (forged: the metadata checksum is recomputed)") {
    auto forged = [&](std::size_t at, std::uint64_t v, std::size_t n) {
      auto c = good;
      put(c, at, v, n);
      reseal(c);
      return c;
    };
    check_error(forged(e1(0, fmt::at_kind), 2, 1), P::corrupt, F::kind, e1(0, fmt::at_kind));
    check_error(forged(e1(2, fmt::at_kind), 1, 1), P::corrupt, F::kind, e1(2, fmt::at_kind));
    check_error(forged(e1(2, fmt::at_kind), 9, 1), P::unsupported, F::kind, e1(2, fmt::at_kind));
    check_error(forged(e1(1, fmt::at_codec), 7, 1), P::unsupported, F::codec, e1(1, fmt::at_codec));
    check_error(forged(e1(1, fmt::at_align_log2), 5, 1), P::corrupt, F::align_log2, e1(1, fmt::at_align_log2));
    check_error(forged(e1(1, fmt::at_align_log2), 31, 1), P::corrupt, F::align_log2, e1(1, fmt::at_align_log2));
    check_error(forged(e1(1, fmt::at_entry_reserved0), 1, 1), P::corrupt, F::entry_reserved, e1(1, fmt::at_entry_reserved0));
    check_error(forged(e1(3, fmt::at_entry_reserved), 1, 8), P::corrupt, F::entry_reserved, e1(3, fmt::at_entry_reserved));
    check_error(forged(e1(1, fmt::at_section_flags), 4, 4), P::unsupported, F::section_flags, e1(1, fmt::at_section_flags));
    check_error(forged(e1(0, fmt::at_section_flags), 1, 4), P::corrupt, F::section_flags, e1(0, fmt::at_section_flags));
    check_error(forged(e1(3, fmt::at_section_flags), fmt::flag_unchecked, 4), P::corrupt, F::checksum, e1(3, fmt::at_checksum));
    // Offsets: misaligned, overlapping, leaving a gap, beyond the end.
    const auto off1 = get(good, e1(1, fmt::at_offset), 8);
    check_error(forged(e1(1, fmt::at_offset), off1 + 8, 8), P::corrupt, F::offset, e1(1, fmt::at_offset));
    check_error(forged(e1(1, fmt::at_offset), off1 - 4096, 8), P::corrupt, F::offset, e1(1, fmt::at_offset));
    check_error(forged(e1(1, fmt::at_offset), off1 + 4096, 8), P::corrupt, F::offset, e1(1, fmt::at_offset));
    check_error(forged(e1(0, fmt::at_offset), UINT64_MAX - 63, 8), P::corrupt, F::offset, e1(0, fmt::at_offset));
    // Sizes: past the end (with overflow bait), raw != stored without codec.
    check_error(forged(e1(3, fmt::at_stored_size), UINT64_MAX, 8), P::corrupt, F::stored_size, e1(3, fmt::at_stored_size));
    check_error(forged(e1(3, fmt::at_raw_size), 301, 8), P::corrupt, F::raw_size, e1(3, fmt::at_raw_size));
    // A longer section pushes the next one: the next offset is then wrong.
    const auto st2 = get(good, e1(2, fmt::at_stored_size), 8);
    check_error(forged(e1(2, fmt::at_stored_size), st2 + 64, 8), P::corrupt, F::offset, e1(3, fmt::at_offset));
    const auto st3 = get(good, e1(3, fmt::at_stored_size), 8);
    check_error(forged(e1(3, fmt::at_stored_size), st3 + 64, 8), P::corrupt, F::stored_size, e1(3, fmt::at_stored_size));
    // The last section must end the container.
    const auto st4 = get(good, e1(4, fmt::at_stored_size), 8);
    check_error(forged(e1(4, fmt::at_stored_size), st4 + 1, 8), P::corrupt, F::stored_size, e1(4, fmt::at_stored_size));
    // Checksums of sections.
    check_error(forged(e1(3, fmt::at_checksum), 12345, 8), P::checksum, F::checksum, e1(3, fmt::at_checksum));
    check_error(forged(e1(0, fmt::at_checksum), 12345, 8), P::checksum, F::checksum, e1(0, fmt::at_checksum));
  }
  SUBCASE("zstd sections that lie") {
    auto r = brine::open_container_bytes(good);
    REQUIRE(r.has_value());
    REQUIRE(r->section(2).codec == fmt::codec_zstd);
    const auto raw = r->section(2).raw_size;
    auto forged = [&](std::uint64_t new_raw) {
      auto c = good;
      put(c, e1(2, fmt::at_raw_size), new_raw, 8);
      reseal(c);
      return c;
    };
    check_error(forged(raw + 1), P::corrupt, F::raw_size, e1(2, fmt::at_raw_size));
    check_error(forged(raw - 1), P::corrupt, F::raw_size, e1(2, fmt::at_raw_size));
    check_error(forged(UINT64_MAX), P::limit, F::none, e1(2, fmt::at_raw_size));
    brine::container_open_options small;
    small.limits.max_decompressed_bytes = raw - 1;
    check_error(good, P::limit, F::none, e1(2, fmt::at_raw_size), small);
    // Garbage instead of frames, with a checksum that matches the garbage.
    auto c = good;
    const auto off = r->section(2).offset;
    for (std::size_t k = 0; k < 4; ++k) c[off + k] = std::byte{0x55};
    put(c, e1(2, fmt::at_checksum),
        brine::detail::container_hash(std::span<const std::byte>(c).subspan(off, r->section(2).stored_size)), 8);
    reseal(c);
    check_error(c, P::corrupt, F::payload, off);
  }
  SUBCASE("the pickle itself is decoded by brine::decode, with its own errors") {
    const std::string bad_pickle = "\x80\x05\x97\x97.";  // two NEXT_BUFFER, one buffer
    std::vector<std::byte> one(8);
    const brine::container_buffer b{one, true};
    auto c = brine::write_container_bytes(std::as_bytes(std::span(bad_pickle)), {&b, 1});
    REQUIRE(c.has_value());
    auto k = brine::open_container_bytes(*c);
    REQUIRE(k.has_value());
    auto d = k->decode();
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::buffers_exhausted);
    CHECK(d.error().offset == 3);
  }
}

TEST_CASE("corruption sweep: flips, truncations, extensions never crash or read outside") {
  const sample s(2'000);  // small, so the sweep stays fast
  brine::container_write_options wo;
  wo.page_align_threshold = 4096;
  wo.compress_min_size = 1000;
  const auto good = build(s, wo);
  auto reference = brine::open_container_bytes(good);
  REQUIRE(reference.has_value());
  std::vector<brine::section_info> sections;
  for (std::size_t i = 0; i < reference->section_count(); ++i) sections.push_back(reference->section(i));
  const std::size_t table_end = brine::detail::entry_at(sections.size());

  // Opens a mutated container; when it opens, every section the policy verified must be intact
  // and the decode must succeed exactly as before, or fail with an error; sections that were not
  // verified may differ, but only where the mutation touched them.
  std::size_t errors = 0, opened = 0;
  auto attempt = [&](const std::vector<std::byte>& c, const brine::container_open_options& o, const char* what,
                     std::size_t where) {
    CAPTURE(what);
    CAPTURE(where);
    auto r = brine::open_container_bytes(c, o);
    if (!r) {
      ++errors;
      CHECK(r.error().code != errc::ok);
      CHECK_FALSE(r.error().message.empty());
      return;
    }
    ++opened;
    REQUIRE(r->section_count() == sections.size());
    for (std::size_t i = 1; i < sections.size(); ++i) {
      const auto& info = r->section(i);
      const bool touched = where >= info.offset && where < info.offset + info.stored_size;
      if (info.verified || !touched) {
        CHECK(same(r->buffer(i - 1).data, reference->buffer(i - 1).data));
      }
    }
    auto d = r->decode();
    const bool pickle_touched = where >= sections[0].offset && where < sections[0].offset + sections[0].stored_size;
    if (d && (r->section(0).verified || !pickle_touched)) {
      // The pickle is intact: same structure, and each buffer value is the container's buffer
      // (the flags are metadata a forger may have changed; the contents were checked above).
      const auto root = d->root();
      REQUIRE(root.is(brine::kind::tuple));
      REQUIRE(root.size() == 6);
      CHECK(root[0].as_str() == "label");
      CHECK(root[1].as_int64() == 42);
      for (std::size_t i = 0; i < 4; ++i) CHECK(root[2 + i].as_bytes().data() == r->buffer(i).data.data());
    }
  };
  brine::container_open_options all, meta;
  meta.verify = brine::verify_policy::metadata;

  // Every bit of the header and the table, and every byte set to 0x00 and 0xff.
  for (std::size_t at = 0; at < table_end; ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      auto c = good;
      c[at] ^= static_cast<std::byte>(1u << bit);
      attempt(c, all, "header/table bit flip", at);
    }
    for (std::byte v : {std::byte{0}, std::byte{0xff}}) {
      auto c = good;
      if (c[at] == v) continue;
      c[at] = v;
      attempt(c, all, "header/table byte set", at);
      reseal(c);
      attempt(c, meta, "forged header/table byte", at);  // past the metadata checksum
    }
  }
  // A sample of payload bytes (every section, its first and last bytes, padding), both policies.
  std::mt19937 rng(1);
  std::vector<std::size_t> spots;
  for (const auto& sec : sections) {
    if (sec.stored_size == 0) continue;
    spots.push_back(sec.offset);
    spots.push_back(sec.offset + sec.stored_size - 1);
    for (int k = 0; k < 24; ++k) spots.push_back(sec.offset + rng() % sec.stored_size);
  }
  spots.push_back(table_end);  // padding before section 0 (ignored by readers)
  for (std::size_t at : spots) {
    auto c = good;
    c[at] ^= std::byte{0x5a};
    attempt(c, all, "payload flip", at);
    attempt(c, meta, "payload flip, no section checksums", at);
  }
  // Truncations at every length through the table, then a sample; extensions.
  for (std::size_t n = 0; n < good.size(); n += (n < table_end + 64 ? 1 : 97)) {
    std::vector<std::byte> c(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = brine::open_container_bytes(c);
    CHECK_FALSE(r.has_value());
  }
  for (std::size_t extra : {1u, 63u, 64u, 4096u}) {
    auto c = good;
    c.insert(c.end(), extra, std::byte{0});
    CHECK_FALSE(brine::open_container_bytes(c).has_value());
    // Extended with a total_size that agrees (forged): the last section must still end the file.
    put(c, fmt::at_total_size, c.size(), 8);
    reseal(c);
    CHECK_FALSE(brine::open_container_bytes(c).has_value());
  }
  // The stream reader runs the same validation on bytes read in order: a sample of flipped
  // header and table bytes, and truncations, through a pipe (the container fits its buffer).
  REQUIRE(good.size() < 65536);
  std::size_t stream_errors = 0;
  auto through_pipe = [&](const std::vector<std::byte>& c) {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    brine::unique_fd rd(p[0]), wr(p[1]);
    REQUIRE(write(wr.get(), c.data(), c.size()) == static_cast<ssize_t>(c.size()));
    wr.reset();
    auto r = brine::read_container_stream(rd.get());
    if (!r) {
      ++stream_errors;
      return;
    }
    auto d = r->decode();
    if (d) CHECK(d->root().is(brine::kind::tuple));
  };
  for (std::size_t at = 0; at < table_end; at += 3) {
    auto c = good;
    c[at] ^= std::byte{0x81};
    through_pipe(c);
  }
  for (std::size_t n = 0; n < good.size(); n += 211) through_pipe({good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)});
  CHECK(stream_errors > 0);
  MESSAGE("corruption sweep: " << errors << " rejected, " << opened << " opened; streams: " << stream_errors << " rejected");
  CHECK(errors > 0);
}
