// lib/fd_passing.cpp — a container's memfd → SCM_RIGHTS over a Unix domain socket → the receiving
// process, which checks the message, keeps exactly one descriptor and maps it.
//
// The message is 16 bytes: "BRINEFD1" then the container size (u64 LE). Ancillary data carries
// the descriptor. A hostile peer may send several descriptors, none, a truncated control message,
// a pipe instead of a file, or a size that does not match: each is an error, and every descriptor
// received is closed unless it is the one returned.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "brine/container.hpp"
#include "container_format.hpp"
#include "container_io.hpp"

namespace brine {
namespace {

constexpr std::array<char, 8> fd_tag{'B', 'R', 'I', 'N', 'E', 'F', 'D', '1'};
constexpr std::size_t message_size = 16;
constexpr std::size_t max_fds = 8;  // room to see (and close) extra descriptors

brine::error socket_error(std::string message) {
  return detail::container_error(detail::container_problem::corrupt, container_field::socket, 0, std::move(message));
}

}  // namespace

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

result<std::uint64_t> send_container(int socket, int container_fd) {
  struct stat st {};
  if (fstat(container_fd, &st) != 0) return detail::container_io_error("fstat", errno);
  if (!S_ISREG(st.st_mode)) return socket_error("send_container: the descriptor is not a regular file or memfd");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::array<std::byte, message_size> msg;
  std::memcpy(msg.data(), fd_tag.data(), fd_tag.size());
  detail::store_le(msg.data() + 8, size, 8);

  iovec iov{msg.data(), msg.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &container_fd, sizeof(int));

  ssize_t w;
  brine::error err;
  for (;;) {
    w = sendmsg(socket, &m, MSG_NOSIGNAL);
    if (w >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!detail::wait_ready(socket, POLLOUT, err)) return err;
      continue;
    }
    return detail::container_io_error("sendmsg", errno);
  }
  // The descriptor travelled with the first byte; a stream socket may take the rest later.
  if (static_cast<std::size_t>(w) < msg.size()) {
    std::vector<iovec> rest{{msg.data() + w, msg.size() - static_cast<std::size_t>(w)}};
    if (!detail::write_gathered(socket, rest, err)) return err;
  }
  return size;
}

result<unique_fd> receive_container_fd(int socket) {
  std::array<std::byte, message_size> msg{};
  iovec iov{msg.data(), msg.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * max_fds)> control{};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  brine::error err;
  ssize_t r;
  for (;;) {
    r = recvmsg(socket, &m, MSG_CMSG_CLOEXEC);
    if (r >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!detail::wait_ready(socket, POLLIN, err)) return err;
      continue;
    }
    return detail::container_io_error("recvmsg", errno);
  }

  // Take ownership of every descriptor that arrived before judging the message.
  std::vector<unique_fd> fds;
  bool foreign = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      foreign = true;
      continue;
    }
    const std::size_t bytes = c->cmsg_len - CMSG_LEN(0);
    for (std::size_t k = 0; k < bytes / sizeof(int); ++k) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if (r == 0) return socket_error("the peer closed the socket before sending a container");
  if (m.msg_flags & MSG_CTRUNC) return socket_error("the control message was truncated (too many descriptors)");
  if (foreign) return socket_error("unexpected ancillary data");
  if (fds.size() != 1) return socket_error("expected exactly one descriptor, received " + std::to_string(fds.size()));
  if (static_cast<std::size_t>(r) < msg.size()) {
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(socket, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type != SOCK_STREAM)
      return socket_error("a " + std::to_string(r) + "-byte message, expected 16");
    if (!detail::read_exact(socket, msg.data() + r, msg.size() - static_cast<std::size_t>(r), static_cast<std::uint64_t>(r), err))
      return err;
  }
  if (std::memcmp(msg.data(), fd_tag.data(), fd_tag.size()) != 0) return socket_error("the message does not start with BRINEFD1");
  const std::uint64_t size = detail::load_le(msg.data() + 8, 8);
  struct stat st {};
  if (fstat(fds[0].get(), &st) != 0) return detail::container_io_error("fstat", errno);
  if (!S_ISREG(st.st_mode)) return socket_error("the received descriptor is not a regular file or memfd");
  if (static_cast<std::uint64_t>(st.st_size) != size)
    return socket_error("the received file has " + std::to_string(st.st_size) + " bytes, the message announced " +
                        std::to_string(size));
  return std::move(fds[0]);
}

container_open_options receive_options() {
  container_open_options o;
  o.require_seals = true;
  return o;
}

result<container> receive_container(int socket, const container_open_options& options) {
  auto fd = receive_container_fd(socket);
  if (!fd) return std::move(fd).error();
  return open_container_fd(fd->get(), options);
}

}  // namespace brine
