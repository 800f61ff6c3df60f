// lib/container_io.hpp — bytes between memory and file descriptors for the container: gathered
// writes of the caller's spans, exact reads, owned memory for copies and decompressed sections.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "brine/error.hpp"

namespace brine::detail {

/// Writes every byte of `iov` (in order) to `fd`: writev, or sendmsg with MSG_NOSIGNAL on sockets;
/// partial writes, EINTR and EAGAIN (poll) handled; at most IOV_MAX pieces per call. `iov` is
/// consumed (advanced in place).
bool write_gathered(int fd, std::vector<iovec>& iov, brine::error& err);

/// Reads exactly `n` bytes into `dst`. On EOF before `n`, sets `got` and returns false with
/// errc::truncated (offset = `base_offset` + got); on a failed read, io_error.
bool read_exact(int fd, std::byte* dst, std::size_t n, std::uint64_t base_offset, brine::error& err);

/// Reads exactly `n` bytes at `offset` with pread: for header, table, and copies of sections, so
/// a file truncated under the reader is an error, not a SIGBUS.
bool pread_exact(int fd, std::byte* dst, std::size_t n, std::uint64_t offset, brine::error& err);

/// Waits until `fd` is ready (POLLIN or POLLOUT) after EAGAIN.
bool wait_ready(int fd, short events, brine::error& err);

/// Owned, 64-byte-aligned memory: heap below 1 MiB, an anonymous private mapping above (page
/// aligned, pages committed only when touched). Move-only.
class owned_bytes {
 public:
  owned_bytes() = default;
  owned_bytes(owned_bytes&& o) noexcept : p_(o.p_), n_(o.n_), mapped_(o.mapped_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  owned_bytes& operator=(owned_bytes&& o) noexcept;
  owned_bytes(const owned_bytes&) = delete;
  owned_bytes& operator=(const owned_bytes&) = delete;
  ~owned_bytes() { release(); }

  /// Allocates `n` bytes (n may be 0); false with io_error (ENOMEM) when the system refuses.
  bool allocate(std::size_t n, brine::error& err, bool force_mapping = false);
  /// Makes a mapped region read-only (no-op for heap memory).
  void protect_read_only() noexcept;

  std::byte* data() noexcept { return p_; }
  const std::byte* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  std::span<const std::byte> span() const noexcept { return {p_, n_}; }

 private:
  void release() noexcept;
  std::byte* p_ = nullptr;
  std::size_t n_ = 0;
  bool mapped_ = false;
};

}  // namespace brine::detail
