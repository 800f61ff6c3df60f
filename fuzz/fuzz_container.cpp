// fuzz/fuzz_container.cpp — property: the container reader (brine/container.hpp) on hostile bytes
// never crashes, and what it accepts is consistent.
//
// The input is a container, read three ways: from memory (open_container_bytes, under each
// verify_policy), from a memfd mapping (open_container_fd) and as a stream (read_container_stream
// over the same memfd). Checksums would stop almost every mutation at the metadata checksum, so
// the input is also read a second time with every checksum recomputed (the header's, and each
// section's whose range lies inside the input): the fuzzer then reaches the layout rules, the
// zstd sections and the pickle. For an accepted container:
//   * every section lies inside the input, aligned, and an uncompressed section's view has
//     exactly the stored bytes (buffers zero-copy, the pickle copied or not);
//   * the memfd mapping and the stream accept it too, with the same pickle and buffers;
//   * decoding it never crashes, and writing its pickle and buffers again gives a container that
//     opens to the same pickle and buffers (the writer and the reader agree).
// Containers the bytes reader rejects must be rejected by the mapping too, with the same code.
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "brine/container.hpp"
#include "fuzz_support.hpp"

namespace {

namespace cf = brine::container_format;

std::uint64_t le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Recompute every checksum the input has room for: sections first, then the metadata.
std::vector<std::uint8_t> with_checksums(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> c(data, data + size);
  if (size < cf::header_size) return c;
  std::uint32_t n = 0;
  std::memcpy(&n, c.data() + cf::at_section_count, 4);
  const std::size_t room = (size - cf::header_size) / cf::entry_size;
  const std::size_t entries = std::min<std::size_t>(n, room);
  for (std::size_t i = 0; i < entries; ++i) {
    std::uint8_t* e = c.data() + cf::header_size + i * cf::entry_size;
    const std::uint64_t off = le64(e + cf::at_offset), stored = le64(e + cf::at_stored_size);
    if (stored <= size && off <= size - stored) put64(e + cf::at_checksum, XXH3_64bits(c.data() + off, stored));
  }
  if (entries == n) {
    std::vector<std::uint8_t> meta(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(cf::at_meta_checksum));
    meta.insert(meta.end(), c.begin() + static_cast<std::ptrdiff_t>(cf::header_size),
                c.begin() + static_cast<std::ptrdiff_t>(cf::header_size + n * cf::entry_size));
    put64(c.data() + cf::at_meta_checksum, XXH3_64bits(meta.data(), meta.size()));
  }
  return c;
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// The same pickle and buffers (contents and read-only flags).
void check_same(const brine::container& a, const brine::container& b) {
  BRINE_FUZZ_CHECK(same_bytes(a.pickle(), b.pickle()));
  BRINE_FUZZ_CHECK(a.buffer_count() == b.buffer_count());
  for (std::size_t i = 0; i < a.buffer_count() && i < b.buffer_count(); ++i) {
    const brine::oob_buffer x = a.buffer(i), y = b.buffer(i);
    BRINE_FUZZ_CHECK(same_bytes(x.data, y.data) && x.readonly == y.readonly);
  }
}

brine::container_open_options open_options(brine::verify_policy verify) {
  brine::container_open_options o;
  o.verify = verify;
  o.bulk_threshold = 64;  // so skip_bulk skips something in small inputs
  o.limits.max_decompressed_bytes = 16u << 20;
  o.limits.max_stream_bytes = 16u << 20;
  return o;
}

void check_accepted(const brine::container& c, std::span<const std::byte> input) {
  const std::size_t n = c.section_count();
  BRINE_FUZZ_CHECK(n >= 1 && c.buffer_count() == n - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const brine::section_info& s = c.section(i);
    BRINE_FUZZ_CHECK(s.stored_size <= input.size() && s.offset <= input.size() - s.stored_size);
    BRINE_FUZZ_CHECK(s.align_log2 >= cf::min_align_log2 && s.align_log2 <= cf::max_align_log2);
    BRINE_FUZZ_CHECK(s.offset % (std::uint64_t{1} << s.align_log2) == 0);
    BRINE_FUZZ_CHECK(s.kind == (i == 0 ? cf::kind_pickle : cf::kind_buffer));
    const std::span<const std::byte> view = i == 0 ? c.pickle() : c.buffer(i - 1).data;
    BRINE_FUZZ_CHECK(view.size() == s.raw_size);
    if (s.codec == cf::codec_none) {
      BRINE_FUZZ_CHECK(s.raw_size == s.stored_size);
      BRINE_FUZZ_CHECK(same_bytes(view, input.subspan(s.offset, s.stored_size)));
    }
    if (i > 0) BRINE_FUZZ_CHECK(c.buffer(i - 1).readonly == s.readonly);
  }
  const auto doc = c.decode();
  if (doc) BRINE_FUZZ_CHECK(doc->buffers_used() <= c.buffer_count());

  // The writer and the reader agree.
  std::vector<brine::container_buffer> bufs;
  for (std::size_t i = 0; i < c.buffer_count(); ++i) bufs.push_back({c.buffer(i).data, c.buffer(i).readonly});
  brine::container_write_options wo;
  wo.compress = brine::compression::never;
  const auto written = brine::write_container_bytes(c.pickle(), bufs, wo);
  BRINE_FUZZ_CHECK(written.has_value());
  const auto again = brine::open_container_bytes(*written);
  BRINE_FUZZ_CHECK(again.has_value());
  check_same(c, *again);
}

// Reads the container from a memfd: mapped, and as a stream.
void check_fd(std::span<const std::byte> input, const brine::result<brine::container>& from_bytes) {
  const int fd = memfd_create("fuzz_container", MFD_CLOEXEC);
  if (fd < 0) return;
  brine::unique_fd owner(fd);
  std::size_t done = 0;
  while (done < input.size()) {
    const ssize_t w = ::write(fd, input.data() + done, input.size() - done);
    if (w <= 0) return;
    done += static_cast<std::size_t>(w);
  }
  const auto mapped = brine::open_container_fd(fd, open_options(brine::verify_policy::all));
  BRINE_FUZZ_CHECK(mapped.has_value() == from_bytes.has_value());
  if (mapped && from_bytes) check_same(*mapped, *from_bytes);
  if (!mapped && !from_bytes) BRINE_FUZZ_CHECK(mapped.error().code == from_bytes.error().code);
  if (::lseek(fd, 0, SEEK_SET) != 0) return;
  const auto streamed = brine::read_container_stream(fd, open_options(brine::verify_policy::all));
  if (from_bytes) {  // a stream reads exactly total_size bytes: what the bytes reader accepts, it accepts
    BRINE_FUZZ_CHECK(streamed.has_value());
    check_same(*streamed, *from_bytes);
  }
}

void read_all_ways(std::span<const std::byte> input) {
  for (const auto verify : {brine::verify_policy::metadata, brine::verify_policy::skip_bulk}) {
    const auto c = brine::open_container_bytes(input, open_options(verify));
    if (c) check_accepted(*c, input);
  }
  const auto c = brine::open_container_bytes(input, open_options(brine::verify_policy::all));
  if (c) check_accepted(*c, input);
  check_fd(input, c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  read_all_ways(brine_fuzz::bytes(data, size));
  const std::vector<std::uint8_t> fixed = with_checksums(data, size);
  if (size >= cf::header_size && std::memcmp(fixed.data(), data, size) != 0) {
    // An exact-size heap copy, as libFuzzer gives the original.
    std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[size]);
    std::memcpy(copy.get(), fixed.data(), size);
    read_all_ways(brine_fuzz::bytes(copy.get(), size));
  }
  return 0;
}
