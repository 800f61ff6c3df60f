// lib/container_writer.cpp — a pickle and its buffers → a layout plan (compression decided,
// checksums computed) → gathered writes to a descriptor, a file, a memfd or memory.
//
// The caller's buffers are never copied on the way to the descriptor: the plan holds spans of
// them, and writev sends them from where they are. Only compressed sections are owned.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "brine/container.hpp"
#include "container_format.hpp"
#include "container_io.hpp"

namespace brine {

namespace {

namespace fmt = container_format;
using detail::container_error;
using detail::container_io_error;
using detail::container_problem;

constexpr std::size_t sample_piece = 10'000;  // Dask: five pieces of 10 kB
constexpr std::size_t sample_pieces = 5;
alignas(64) constexpr std::byte zero_page[std::size_t{1} << fmt::page_align_log2] = {};

struct zstd_cctx {
  ZSTD_CCtx* p = ZSTD_createCCtx();
  ~zstd_cctx() { ZSTD_freeCCtx(p); }
  zstd_cctx() = default;
  zstd_cctx(const zstd_cctx&) = delete;
  zstd_cctx& operator=(const zstd_cctx&) = delete;
};

// The container before it is written: header and table bytes, and where each section's stored
// bytes are (the caller's span, or owned compressed bytes).
struct plan {
  std::vector<std::byte> head;
  std::vector<section_info> sections;
  std::vector<std::span<const std::byte>> stored;
  std::vector<std::vector<std::byte>> compressed;  // owned; `stored` points into them
  container_summary summary;
};

bool compress_into(zstd_cctx& cctx, std::span<const std::byte> in, int level, std::vector<std::byte>& out,
                   brine::error& err) {
  out.resize(ZSTD_compressBound(in.size()));
  const std::size_t n = ZSTD_compressCCtx(cctx.p, out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) {
    err = brine::error{};
    err.code = errc::bad_argument;
    err.message = std::string("container: zstd compression failed: ") + ZSTD_getErrorName(n);
    return false;
  }
  out.resize(n);
  return true;
}

// Whether a section of `size` bytes is a candidate at all.
bool may_compress(std::uint64_t size, bool is_buffer, const container_write_options& o) {
  if (o.compress == compression::never || size == 0) return false;
  if (is_buffer && size >= o.zero_copy_threshold && !o.compress_zero_copy) return false;
  if (o.compress == compression::always) return true;
  return size >= o.compress_min_size;
}

// Dask's maybe_compress: compress five 10 kB pieces spread over the data; give up unless they
// shrink to max_ratio. Returns true when the full compression should be tried.
bool sample_pays(zstd_cctx& cctx, std::span<const std::byte> data, const container_write_options& o,
                 brine::error& err, bool& failed) {
  failed = false;
  if (data.size() <= sample_piece * sample_pieces) return true;  // the whole section is the sample
  std::vector<std::byte> sample(sample_piece * sample_pieces);
  const std::size_t span = data.size() - sample_piece;
  for (std::size_t k = 0; k < sample_pieces; ++k) {
    const std::size_t at = span / (sample_pieces - 1) * k;
    std::memcpy(sample.data() + k * sample_piece, data.data() + at, sample_piece);
  }
  std::vector<std::byte> out;
  if (!compress_into(cctx, sample, o.zstd_level, out, err)) {
    failed = true;
    return false;
  }
  return static_cast<double>(out.size()) <= o.compress_max_ratio * static_cast<double>(sample.size());
}

result<plan> make_plan(std::span<const std::byte> pickle, std::span<const container_buffer> buffers,
                       const container_write_options& o) {
  if (buffers.size() >= UINT32_MAX) {
    brine::error e;
    e.code = errc::bad_argument;
    e.message = "container: more than 2^32-2 buffers";
    return e;
  }
  if (o.compress_max_ratio <= 0 || o.compress_max_ratio > 1) {
    brine::error e;
    e.code = errc::bad_argument;
    e.message = "container: compress_max_ratio must be in (0, 1]";
    return e;
  }
  plan p;
  const std::size_t n = buffers.size() + 1;
  p.sections.resize(n);
  p.stored.resize(n);
  p.compressed.reserve(n);
  std::unique_ptr<zstd_cctx> cctx;
  brine::error err;

  std::uint64_t end = detail::entry_at(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::span<const std::byte> data = i == 0 ? pickle : buffers[i - 1].data;
    section_info& s = p.sections[i];
    s.kind = i == 0 ? fmt::kind_pickle : fmt::kind_buffer;
    s.codec = fmt::codec_none;
    s.readonly = i == 0 ? false : buffers[i - 1].readonly;
    s.raw_size = data.size();
    p.stored[i] = data;

    if (may_compress(data.size(), i != 0, o)) {
      if (!cctx) cctx = std::make_unique<zstd_cctx>();
      bool failed = false;
      const bool try_it = o.compress == compression::always || sample_pays(*cctx, data, o, err, failed);
      if (failed) return err;
      if (try_it) {
        std::vector<std::byte> out;
        if (!compress_into(*cctx, data, o.zstd_level, out, err)) return err;
        const bool keep = o.compress == compression::always ||
                          static_cast<double>(out.size()) <= o.compress_max_ratio * static_cast<double>(data.size());
        if (keep) {
          p.compressed.push_back(std::move(out));
          p.stored[i] = p.compressed.back();
          s.codec = fmt::codec_zstd;
          ++p.summary.compressed;
        }
      }
    }
    s.stored_size = p.stored[i].size();
    s.align_log2 = s.stored_size >= o.page_align_threshold ? fmt::page_align_log2 : fmt::min_align_log2;
    s.has_checksum = true;
    s.checksum = detail::container_hash(p.stored[i]);
    std::uint64_t at = 0;
    if (!detail::align_up(end, s.align_log2, at) || s.stored_size > UINT64_MAX - at) {
      brine::error e;
      e.code = errc::length_overflow;
      e.message = "container: sections do not fit in 64-bit offsets";
      return e;
    }
    s.offset = at;
    end = at + s.stored_size;
    p.summary.raw_bytes += s.raw_size;
    p.summary.stored_bytes += s.stored_size;
  }
  p.summary.total_size = end;
  p.summary.sections = n;
  detail::encode_head(p.sections, end, p.head);
  return p;
}

// The gathered pieces: head, then padding and stored bytes for each section.
std::vector<iovec> pieces(const plan& p) {
  std::vector<iovec> iov;
  iov.reserve(1 + 2 * p.sections.size());
  auto add = [&iov](const void* data, std::size_t n) {
    if (n) iov.push_back({const_cast<void*>(data), n});
  };
  add(p.head.data(), p.head.size());
  std::uint64_t at = p.head.size();
  for (std::size_t i = 0; i < p.sections.size(); ++i) {
    const section_info& s = p.sections[i];
    // The layout rule keeps padding below the largest alignment the writer uses.
    BRINE_ASSERT(s.offset - at < sizeof zero_page);
    add(zero_page, s.offset - at);
    add(p.stored[i].data(), p.stored[i].size());
    at = s.offset + s.stored_size;
  }
  return iov;
}

// Reserves the file's blocks up front on files and memfds: one allocation pass instead of one
// fault per page, and ENOSPC (a full /dev/shm) before anything is written.
bool reserve(int fd, std::uint64_t size, brine::error& err) {
  if (size == 0) return true;
  if (fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0) return true;
  if (errno == ENOSPC || errno == EFBIG) {
    err = container_io_error("fallocate", errno, std::to_string(size) + " bytes");
    return false;
  }
  return true;  // not supported here: the writes allocate as they go
}

std::atomic<std::uint64_t> temp_counter{0};

}  // namespace

result<container_summary> write_container(int fd, std::span<const std::byte> pickle,
                                          std::span<const container_buffer> buffers,
                                          const container_write_options& options) {
  auto p = make_plan(pickle, buffers, options);
  if (!p) return std::move(p).error();
  auto iov = pieces(*p);
  brine::error err;
  if (!detail::write_gathered(fd, iov, err)) return err;
  return p->summary;
}

result<container_summary> write_container_file(const std::string& path, std::span<const std::byte> pickle,
                                               std::span<const container_buffer> buffers,
                                               const container_write_options& options) {
  auto p = make_plan(pickle, buffers, options);
  if (!p) return std::move(p).error();
  const std::string temp = path + ".brine-tmp-" + std::to_string(getpid()) + "-" + std::to_string(temp_counter++);
  unique_fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(options.file_mode)));
  if (!fd) return container_io_error("open", errno, temp);
  brine::error err;
  auto iov = pieces(*p);
  bool ok = reserve(fd.get(), p->summary.total_size, err) && detail::write_gathered(fd.get(), iov, err);
  if (ok && ::close(fd.release()) != 0) {
    err = container_io_error("close", errno, temp);
    ok = false;
  }
  if (ok && ::rename(temp.c_str(), path.c_str()) != 0) {
    err = container_io_error("rename", errno, path);
    ok = false;
  }
  if (!ok) {
    fd.reset();
    ::unlink(temp.c_str());
    return err;
  }
  return p->summary;
}

result<unique_fd> write_container_memfd(std::span<const std::byte> pickle, std::span<const container_buffer> buffers,
                                        const container_write_options& options, container_summary* summary) {
  auto p = make_plan(pickle, buffers, options);
  if (!p) return std::move(p).error();
  unique_fd fd(memfd_create("brine-container", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return container_io_error("memfd_create", errno);
  brine::error err;
  auto iov = pieces(*p);
  if (!reserve(fd.get(), p->summary.total_size, err) || !detail::write_gathered(fd.get(), iov, err)) return err;
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return container_io_error("lseek", errno);
  if (options.seal &&
      fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return container_io_error("fcntl(F_ADD_SEALS)", errno);
  if (summary) *summary = p->summary;
  return fd;
}

result<std::vector<std::byte>> write_container_bytes(std::span<const std::byte> pickle,
                                                     std::span<const container_buffer> buffers,
                                                     const container_write_options& options) {
  auto p = make_plan(pickle, buffers, options);
  if (!p) return std::move(p).error();
  std::vector<std::byte> out(p->summary.total_size);  // zero padding
  std::memcpy(out.data(), p->head.data(), p->head.size());
  for (std::size_t i = 0; i < p->sections.size(); ++i)
    if (!p->stored[i].empty()) std::memcpy(out.data() + p->sections[i].offset, p->stored[i].data(), p->stored[i].size());
  return out;
}

buffer_callback buffer_collector::callback() {
  return [this](value, std::span<const std::byte> data, bool readonly) {
    if (data.size() < min_size_) return true;  // in-band
    buffers.push_back({data, readonly});
    return false;  // out-of-band: NEXT_BUFFER
  };
}

}  // namespace brine
