// lib/container_reader.cpp — a file, memfd, byte span or stream → a validated container: header
// and table read once into local memory and checked, checksums verified per policy, compressed
// sections decompressed into owned memory, uncompressed buffers viewed in place → the decoder.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "brine/container.hpp"
#include "container_format.hpp"
#include "container_io.hpp"

namespace brine {
namespace detail {

// Everything a container and the documents decoded from it share.
struct container_state {
  container_state() = default;
  container_state(const container_state&) = delete;
  container_state& operator=(const container_state&) = delete;
  ~container_state() {
    if (map) munmap(map, map_len);
  }

  void* map = nullptr;  // a read-only mapping of a file or memfd
  std::size_t map_len = 0;
  owned_bytes region;                      // a streamed container
  std::shared_ptr<const void> keep_alive;  // borrowed bytes' owner
  std::span<const std::byte> all;          // the whole container, wherever it lives

  std::vector<section_info> sections;
  std::vector<std::span<const std::byte>> data;  // each section's bytes, ready to use
  std::vector<owned_bytes> owned;                // copies and decompressed sections
  bool immutable = false;
  bool mapped = false;
};

struct container_access {
  static brine::container make(std::shared_ptr<const container_state> s) { return brine::container(std::move(s)); }
};

namespace {

namespace fmt = container_format;
using P = container_problem;
using F = container_field;

// Where header, table and copies come from: pread on the descriptor when there is one (a file
// truncated under us is then an error, not a SIGBUS), else the bytes themselves.
struct source {
  int fd = -1;
  std::span<const std::byte> mem;

  bool read(std::uint64_t offset, std::byte* dst, std::size_t n, brine::error& err) const {
    if (n == 0) return true;
    if (fd >= 0) return pread_exact(fd, dst, n, offset, err);
    BRINE_ASSERT(offset <= mem.size() && n <= mem.size() - offset);
    std::memcpy(dst, mem.data() + offset, n);
    return true;
  }
};

struct zstd_dctx {
  ZSTD_DCtx* p = ZSTD_createDCtx();
  zstd_dctx() = default;
  zstd_dctx(const zstd_dctx&) = delete;
  zstd_dctx& operator=(const zstd_dctx&) = delete;
  ~zstd_dctx() { ZSTD_freeDCtx(p); }
};

std::string section_name(std::size_t i) {
  return "section " + std::to_string(i) + (i == 0 ? " (pickle)" : " (buffer)");
}

bool should_verify(std::size_t i, const section_info& s, const container_open_options& o) {
  if (!s.has_checksum) return false;
  switch (o.verify) {
    case verify_policy::all: return true;
    case verify_policy::metadata: return false;
    case verify_policy::skip_bulk:
      return i == 0 || s.codec != fmt::codec_none || s.stored_size < o.bulk_threshold;
  }
  return true;
}

bool check_sum(std::size_t i, section_info& s, std::span<const std::byte> stored, brine::error& err) {
  const std::uint64_t h = container_hash(stored);
  if (h != s.checksum) {
    err = container_error(P::checksum, F::checksum, entry_at(i) + fmt::at_checksum,
                          section_name(i) + ": checksum mismatch over " + std::to_string(s.stored_size) +
                              " stored bytes at offset " + std::to_string(s.offset));
    return false;
  }
  s.verified = true;
  return true;
}

// Fault in the pages of a mapped range before hashing it: one pass in the kernel instead of a
// trap per page, and EFAULT instead of SIGBUS when the file was truncated.
bool populate(const container_state& st, std::span<const std::byte> range, brine::error& err) {
#ifdef MADV_POPULATE_READ
  if (!st.mapped || range.empty()) return true;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(range.data()) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(range.data()) + range.size();
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ) != 0 && errno == EFAULT) {
    err = container_io_error("madvise(MADV_POPULATE_READ)", errno, "the file shrank while mapped");
    return false;
  }
#else
  (void)st;
  (void)range;
  (void)err;
#endif
  return true;
}

bool decompress(std::size_t i, const section_info& s, std::span<const std::byte> stored, zstd_dctx& dctx,
                owned_bytes& out, brine::error& err) {
  // Walk the frame headers (bounded by the stored bytes): every frame must be well formed, and
  // when all of them declare their sizes, the sum must be raw_size.
  std::uint64_t declared = 0;
  bool known = true;
  for (std::size_t at = 0; at < stored.size();) {
    const std::size_t frame = ZSTD_findFrameCompressedSize(stored.data() + at, stored.size() - at);
    const unsigned long long content =
        ZSTD_isError(frame) ? ZSTD_CONTENTSIZE_ERROR : ZSTD_getFrameContentSize(stored.data() + at, frame);
    if (content == ZSTD_CONTENTSIZE_ERROR) {
      err = container_error(P::corrupt, F::payload, s.offset + at,
                            section_name(i) + ": the stored bytes are not zstd frames (at byte " + std::to_string(at) + ")");
      return false;
    }
    if (content == ZSTD_CONTENTSIZE_UNKNOWN)
      known = false;
    else if (content > UINT64_MAX - declared)
      declared = UINT64_MAX;
    else
      declared += content;
    at += frame;
  }
  if (known && declared != s.raw_size) {
    err = container_error(P::corrupt, F::raw_size, entry_at(i) + fmt::at_raw_size,
                          section_name(i) + ": raw_size " + std::to_string(s.raw_size) + " but the zstd frames declare " +
                              std::to_string(declared) + " bytes");
    return false;
  }
  if (!out.allocate(static_cast<std::size_t>(s.raw_size), err)) return false;
  // The output buffer is exactly raw_size: a frame that would produce more fails here.
  const std::size_t n = ZSTD_decompressDCtx(dctx.p, out.data(), out.size(), stored.data(), stored.size());
  if (ZSTD_isError(n)) {
    err = container_error(P::corrupt, F::payload, s.offset,
                          section_name(i) + ": zstd: " + ZSTD_getErrorName(n) + " (raw_size " + std::to_string(s.raw_size) + ")");
    return false;
  }
  if (n != s.raw_size) {
    err = container_error(P::corrupt, F::raw_size, entry_at(i) + fmt::at_raw_size,
                          section_name(i) + ": decompresses to " + std::to_string(n) + " bytes, raw_size says " +
                              std::to_string(s.raw_size));
    return false;
  }
  return true;
}

// Header and table from `src` (whose size is st.all.size()), then every section resolved.
bool open_common(container_state& st, const source& src, const container_open_options& o, brine::error& err) {
  const std::uint64_t size = st.all.size();
  if (size < fmt::header_size) {
    err = container_error(P::truncated, F::file, size,
                          "the container has " + std::to_string(size) + " bytes, fewer than the 64-byte header");
    return false;
  }
  std::array<std::byte, fmt::header_size> header;
  if (!src.read(0, header.data(), header.size(), err)) return false;
  header_fields h;
  if (!parse_header(header, o.limits, h, err)) return false;
  if (h.table_end > size) {
    err = container_error(P::truncated, F::section_count, fmt::at_section_count,
                          "the table of " + std::to_string(h.section_count) + " sections ends at " +
                              std::to_string(h.table_end) + ", the container has " + std::to_string(size) + " bytes");
    return false;
  }
  // The metadata checksum before total_size is compared with the file: a flipped size is
  // corruption, a file shorter than an intact header says is truncation.
  std::vector<std::byte> table(h.table_end - fmt::header_size);
  if (!src.read(fmt::header_size, table.data(), table.size(), err)) return false;
  if (!parse_table(header, table, h, st.sections, err)) return false;
  if (h.total_size != size) {
    err = container_error(h.total_size > size ? P::truncated : P::corrupt, F::total_size, fmt::at_total_size,
                          "total_size is " + std::to_string(h.total_size) + " but the container has " + std::to_string(size) +
                              " bytes" + (h.total_size > size ? " (truncated)" : " (trailing bytes)"));
    return false;
  }

  const std::size_t n = st.sections.size();
  st.data.resize(n);
  st.owned.reserve(n);
  std::unique_ptr<zstd_dctx> dctx;
  std::uint64_t decompressed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    section_info& s = st.sections[i];
    const bool verify = should_verify(i, s, o);
    const auto in_place = st.all.subspan(static_cast<std::size_t>(s.offset), static_cast<std::size_t>(s.stored_size));

    if (s.codec == fmt::codec_none && (i != 0 || st.immutable)) {
      // A zero-copy view (buffers always; the pickle when nothing can change it).
      if (verify && ((o.populate && !populate(st, in_place, err)) || !check_sum(i, s, in_place, err))) return false;
      st.data[i] = in_place;
      continue;
    }
    if (s.codec == fmt::codec_none) {
      // The pickle of a mutable mapping: decode a private copy, verified after copying.
      owned_bytes copy;
      if (!copy.allocate(static_cast<std::size_t>(s.stored_size), err)) return false;
      if (!src.read(s.offset, copy.data(), copy.size(), err)) return false;
      if (verify && !check_sum(i, s, copy.span(), err)) return false;
      st.data[i] = copy.span();
      st.owned.push_back(std::move(copy));
      continue;
    }
    // zstd: both sizes bounded (by the entry, checked against the file, and by the caller's
    // limit) before anything is allocated.
    if (s.raw_size > o.limits.max_decompressed_bytes - decompressed) {
      err = container_limit_error("max_decompressed_bytes", s.raw_size, o.limits.max_decompressed_bytes,
                                  entry_at(i) + fmt::at_raw_size);
      err.message = "container: " + section_name(i) + ": raw_size " + std::to_string(s.raw_size) + " after " +
                    std::to_string(decompressed) + " decompressed bytes exceeds container_limits::max_decompressed_bytes (" +
                    std::to_string(o.limits.max_decompressed_bytes) + ")";
      return false;
    }
    decompressed += s.raw_size;
    owned_bytes stored_copy;
    std::span<const std::byte> stored = in_place;
    if (!st.immutable) {
      if (!stored_copy.allocate(static_cast<std::size_t>(s.stored_size), err)) return false;
      if (!src.read(s.offset, stored_copy.data(), stored_copy.size(), err)) return false;
      stored = stored_copy.span();
    }
    if (verify && !check_sum(i, s, stored, err)) return false;
    if (!dctx) dctx = std::make_unique<zstd_dctx>();
    owned_bytes raw;
    if (!decompress(i, s, stored, *dctx, raw, err)) return false;
    st.data[i] = raw.span();
    st.owned.push_back(std::move(raw));
  }
  return true;
}

result<brine::container> finish(std::shared_ptr<container_state> st, const source& src, const container_open_options& o) {
  brine::error err;
  if (!open_common(*st, src, o, err)) return err;
  return container_access::make(std::move(st));
}

}  // namespace
}  // namespace detail

// --- container

namespace {
const detail::container_state& state_of(const std::shared_ptr<const detail::container_state>& s) {
  static const detail::container_state empty;
  return s ? *s : empty;
}
}  // namespace

std::size_t container::section_count() const noexcept { return state_of(state_).sections.size(); }

const section_info& container::section(std::size_t i) const& {
  BRINE_ASSERT(i < section_count());
  return state_->sections[i];
}

std::size_t container::buffer_count() const noexcept {
  const std::size_t n = section_count();
  return n ? n - 1 : 0;
}

std::span<const std::byte> container::pickle() const& noexcept {
  const auto& d = state_of(state_).data;
  return d.empty() ? std::span<const std::byte>() : d[0];
}

oob_buffer container::buffer(std::size_t i) const& {
  BRINE_ASSERT(i < buffer_count());
  return {state_->data[i + 1], state_->sections[i + 1].readonly};
}

std::vector<oob_buffer> container::buffers() const& {
  std::vector<oob_buffer> out;
  out.reserve(buffer_count());
  for (std::size_t i = 0; i < buffer_count(); ++i) out.push_back(buffer(i));
  return out;
}

std::span<const std::byte> container::bytes() const& noexcept { return state_of(state_).all; }
bool container::immutable() const noexcept { return state_of(state_).immutable; }
bool container::mapped() const noexcept { return state_of(state_).mapped; }
std::shared_ptr<const void> container::owner() const noexcept { return state_; }

result<document> container::decode(const decode_options& options) const {
  if (!state_) {
    brine::error e;
    e.code = errc::bad_argument;
    e.message = "container: decode on an empty container";
    return e;
  }
  decode_options o = options;
  o.buffers = buffers();
  o.buffers_given = true;
  return brine::decode(pickle(), o, state_);
}

// --- opening

result<container> open_container_fd(int fd, const container_open_options& options) {
  using detail::container_error;
  struct stat st {};
  if (fstat(fd, &st) != 0) return detail::container_io_error("fstat", errno);
  if (!S_ISREG(st.st_mode))
    return container_error(detail::container_problem::corrupt, container_field::file, 0,
                           "not a regular file or memfd (for pipes and sockets use read_container_stream)");
  const int seals = fcntl(fd, F_GET_SEALS);
  const bool immutable = seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SHRINK);
  if (options.require_seals && !immutable)
    return container_error(detail::container_problem::corrupt, container_field::seals, 0,
                           "the descriptor is not sealed against writing and shrinking (F_SEAL_WRITE | F_SEAL_SHRINK), "
                           "as require_seals asks");
  if (st.st_size < static_cast<off_t>(container_format::header_size))
    return container_error(detail::container_problem::truncated, container_field::file, static_cast<std::uint64_t>(st.st_size),
                           "the container has " + std::to_string(st.st_size) + " bytes, fewer than the 64-byte header");
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return detail::container_io_error("mmap", errno, std::to_string(size) + " bytes");
  auto state = std::make_shared<detail::container_state>();
  state->map = map;
  state->map_len = size;
  state->all = {static_cast<const std::byte*>(map), size};
  state->immutable = immutable;
  state->mapped = true;
  detail::source src;
  src.fd = fd;
  src.mem = state->all;
  return detail::finish(std::move(state), src, options);
}

result<container> open_container(const std::string& path, const container_open_options& options) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return detail::container_io_error("open", errno, path);
  return open_container_fd(fd.get(), options);
}

result<container> open_container_bytes(std::span<const std::byte> bytes, const container_open_options& options,
                                       std::shared_ptr<const void> keep_alive) {
  auto state = std::make_shared<detail::container_state>();
  state->keep_alive = std::move(keep_alive);
  state->all = bytes;
  state->immutable = false;  // the caller may change them: copy the pickle, as for files
  detail::source src;
  src.mem = bytes;
  return detail::finish(std::move(state), src, options);
}

result<container> read_container_stream(int fd, const container_open_options& options) {
  namespace fmt = container_format;
  brine::error err;
  std::array<std::byte, fmt::header_size> header;
  if (!detail::read_exact(fd, header.data(), header.size(), 0, err)) return err;
  detail::header_fields h;
  if (!detail::parse_header(header, options.limits, h, err)) return err;
  // The table (at most max_sections entries) is validated (checksum, layout) before the rest
  // is reserved.
  std::vector<std::byte> table(h.table_end - fmt::header_size);
  if (!detail::read_exact(fd, table.data(), table.size(), fmt::header_size, err)) return err;
  std::vector<section_info> sections;
  if (!detail::parse_table(header, table, h, sections, err)) return err;
  if (h.total_size > options.limits.max_stream_bytes)
    return detail::container_limit_error("max_stream_bytes", h.total_size, options.limits.max_stream_bytes,
                                         fmt::at_total_size);

  auto state = std::make_shared<detail::container_state>();
  // Reserved, not touched: pages are committed as the bytes arrive.
  if (!state->region.allocate(static_cast<std::size_t>(h.total_size), err)) return err;
  std::byte* base = state->region.data();
  std::memcpy(base, header.data(), header.size());
  std::memcpy(base + fmt::header_size, table.data(), table.size());
  if (!detail::read_exact(fd, base + h.table_end, static_cast<std::size_t>(h.total_size - h.table_end), h.table_end, err))
    return err;
  state->region.protect_read_only();
  state->all = state->region.span();
  state->immutable = true;  // nobody else can write owned memory
  detail::source src;
  src.mem = state->all;
  return detail::finish(std::move(state), src, options);
}

result<document> open_document(const std::string& path, const container_open_options& options,
                               const decode_options& decode) {
  auto c = open_container(path, options);
  if (!c) return std::move(c).error();
  return c->decode(decode);
}

}  // namespace brine
