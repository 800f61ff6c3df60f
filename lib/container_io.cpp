// lib/container_io.cpp — bytes between memory and descriptors for the container.
#include "container_io.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "brine/container.hpp"
#include "container_format.hpp"

namespace brine::detail {

namespace {
constexpr std::size_t mapping_threshold = std::size_t{1} << 20;

bool is_socket(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}
}  // namespace

bool wait_ready(int fd, short events, brine::error& err) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, -1);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) {
      err = container_io_error("poll", errno);
      return false;
    }
  }
}

bool write_gathered(int fd, std::vector<iovec>& iov, brine::error& err) {
  const bool sock = is_socket(fd);
  std::size_t i = 0;
  while (i < iov.size() && iov[i].iov_len == 0) ++i;
  while (i < iov.size()) {
    const std::size_t n = std::min<std::size_t>(iov.size() - i, IOV_MAX);
    ssize_t w;
    if (sock) {
      msghdr m{};
      m.msg_iov = &iov[i];
      m.msg_iovlen = n;
      w = sendmsg(fd, &m, MSG_NOSIGNAL);
    } else {
      w = writev(fd, &iov[i], static_cast<int>(n));
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait_ready(fd, POLLOUT, err)) return false;
        continue;
      }
      err = container_io_error(sock ? "sendmsg" : "writev", errno);
      return false;
    }
    auto left = static_cast<std::size_t>(w);
    while (i < iov.size() && left >= iov[i].iov_len) {
      left -= iov[i].iov_len;
      ++i;
    }
    if (left > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
    while (i < iov.size() && iov[i].iov_len == 0) ++i;
  }
  return true;
}

bool read_exact(int fd, std::byte* dst, std::size_t n, std::uint64_t base_offset, brine::error& err) {
  std::size_t got = 0;
  while (got < n) {
    // Linux returns at most 0x7ffff000 bytes per read.
    const ssize_t r = read(fd, dst + got, std::min<std::size_t>(n - got, std::size_t{1} << 30));
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait_ready(fd, POLLIN, err)) return false;
        continue;
      }
      err = container_io_error("read", errno);
      return false;
    }
    if (r == 0) {
      err = container_error(container_problem::truncated, container_field::file, base_offset + got,
                            "the stream ended after " + std::to_string(base_offset + got) + " bytes, " +
                                std::to_string(n - got) + " more were declared");
      return false;
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

bool pread_exact(int fd, std::byte* dst, std::size_t n, std::uint64_t offset, brine::error& err) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = pread(fd, dst + got, std::min<std::size_t>(n - got, std::size_t{1} << 30),
                            static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      err = container_io_error("pread", errno);
      return false;
    }
    if (r == 0) {
      err = container_error(container_problem::truncated, container_field::file, offset + got,
                            "the file ends at " + std::to_string(offset + got) + " (it shrank while being read)");
      return false;
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

owned_bytes& owned_bytes::operator=(owned_bytes&& o) noexcept {
  if (this != &o) {
    release();
    p_ = o.p_;
    n_ = o.n_;
    mapped_ = o.mapped_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

bool owned_bytes::allocate(std::size_t n, brine::error& err, bool force_mapping) {
  release();
  if (n == 0) return true;
  if (n >= mapping_threshold || force_mapping) {
    void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      err = container_io_error("mmap", errno, std::to_string(n) + " bytes of owned memory");
      return false;
    }
    p_ = static_cast<std::byte*>(p);
    mapped_ = true;
  } else {
    p_ = static_cast<std::byte*>(::operator new(n, std::align_val_t{64}, std::nothrow));
    if (!p_) {
      err = container_io_error("operator new", ENOMEM, std::to_string(n) + " bytes");
      return false;
    }
    mapped_ = false;
  }
  n_ = n;
  return true;
}

void owned_bytes::protect_read_only() noexcept {
  if (mapped_ && p_) mprotect(p_, n_, PROT_READ);
}

void owned_bytes::release() noexcept {
  if (!p_) return;
  if (mapped_)
    munmap(p_, n_);
  else
    ::operator delete(p_, std::align_val_t{64});
  p_ = nullptr;
  n_ = 0;
}

}  // namespace brine::detail
