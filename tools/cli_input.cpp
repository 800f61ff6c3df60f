// tools/cli_input.cpp — reading the tool's inputs: mapped files, standard input, containers.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli_common.hpp"

namespace brine_cli {

namespace {

// A read-only private mapping of a whole file, unmapped by the last owner.
struct mapping {
  void* base = MAP_FAILED;
  std::size_t size = 0;
  mapping() = default;
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  ~mapping() {
    if (base != MAP_FAILED) ::munmap(base, size);
  }
};

std::string errno_text(const std::string& path) { return path + ": " + std::strerror(errno); }

// Reads everything from `fd` (standard input, a pipe, a character device) into owned memory.
bool read_all(int fd, const std::string& path, std::string& out, std::string& why) {
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = errno_text(path);
      return false;
    }
    if (n == 0) return true;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// The bytes of `path` ('-': standard input): a mapping for a non-empty regular file, owned memory
// otherwise. `fd_out` receives the open descriptor of a regular file (to open a container from).
bool acquire(const std::string& path, std::shared_ptr<const void>& owner, std::span<const std::byte>& bytes,
             int& fd_out, std::string& why) {
  fd_out = -1;
  int fd = 0;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      why = errno_text(path);
      return false;
    }
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = errno_text(path);
    if (fd != 0) ::close(fd);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    why = path + ": is a directory";
    if (fd != 0) ::close(fd);
    return false;
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0 && path != "-") {
    auto m = std::make_shared<mapping>();
    m->size = static_cast<std::size_t>(st.st_size);
    m->base = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->base == MAP_FAILED) {
      why = errno_text(path);
      ::close(fd);
      return false;
    }
    ::madvise(m->base, m->size, MADV_SEQUENTIAL);
    bytes = {static_cast<const std::byte*>(m->base), m->size};
    owner = std::move(m);
    fd_out = fd;
    return true;
  }
  auto data = std::make_shared<std::string>();
  const bool ok = read_all(fd, path, *data, why);
  if (fd != 0) ::close(fd);
  if (!ok) return false;
  bytes = std::as_bytes(std::span<const char>(data->data(), data->size()));
  owner = std::move(data);
  return true;
}

}  // namespace

bool has_container_magic(std::span<const std::byte> bytes) noexcept {
  const auto& magic = brine::container_format::magic;
  if (bytes.size() < magic.size()) return false;
  for (std::size_t i = 0; i < magic.size(); ++i)
    if (bytes[i] != static_cast<std::byte>(magic[i])) return false;
  return true;
}

bool container_flags::parse(std::string_view arg, const std::function<std::string_view()>& next) {
  if (arg != "--verify") return false;
  const std::string_view v = next();
  if (v == "all") open.verify = brine::verify_policy::all;
  else if (v == "skip-bulk" || v == "skip_bulk") open.verify = brine::verify_policy::skip_bulk;
  else if (v == "metadata") open.verify = brine::verify_policy::metadata;
  else throw usage_error{"--verify takes all, skip-bulk or metadata"};
  return true;
}

bool load_bytes(const std::string& path, std::shared_ptr<const void>& owner, std::span<const std::byte>& bytes,
                std::string& why) {
  int fd = -1;
  if (!acquire(path, owner, bytes, fd, why)) return false;
  if (fd >= 0) ::close(fd);
  return true;
}

bool load_input(const std::string& path, const container_flags& flags, input& out, std::string& why) {
  out = input{};
  out.name = path;
  std::shared_ptr<const void> owner;
  std::span<const std::byte> bytes;
  int fd = -1;
  if (!acquire(path, owner, bytes, fd, why)) return false;
  if (!has_container_magic(bytes)) {
    if (fd >= 0) ::close(fd);
    out.owner = std::move(owner);
    out.pickle = bytes;
    return true;
  }
  // A container: the library validates the header, the table and the layout, and verifies the
  // checksums before anything is used. Files are opened through their descriptor (the library
  // maps them itself); standard input is validated in memory.
  auto opened = fd >= 0 ? brine::open_container_fd(fd, flags.open) : brine::open_container_bytes(bytes, flags.open, owner);
  if (fd >= 0) ::close(fd);
  if (!opened) {
    why = path + ": " + opened.error().to_string();
    return false;
  }
  out.box.emplace(std::move(*opened));
  out.owner = out.box->owner();
  out.pickle = out.box->pickle();
  out.buffers = out.box->buffers();
  return true;
}

brine::decode_options input::with_buffers(brine::decode_options options) const {
  if (is_container()) {
    options.buffers = buffers;
    options.buffers_given = true;
  }
  return options;
}

std::string input::container_summary() const {
  if (!is_container()) return {};
  const auto& c = *box;
  std::uint64_t buffer_bytes = 0, raw = 0, stored = 0;
  std::size_t compressed = 0, verified = 0, checksummed = 0;
  for (std::size_t i = 0; i < c.section_count(); ++i) {
    const auto& s = c.section(i);
    if (i > 0) buffer_bytes += s.raw_size;
    if (s.codec != brine::container_format::codec_none) {
      ++compressed;
      raw += s.raw_size;
      stored += s.stored_size;
    }
    checksummed += s.has_checksum;
    verified += s.verified;
  }
  const std::size_t n = c.buffer_count();
  std::string out = "container: " + thousands(c.bytes().size()) + " bytes, pickle " + thousands(c.section(0).raw_size) +
                    " bytes + " + std::to_string(n) + (n == 1 ? " out-of-band buffer (" : " out-of-band buffers (") +
                    thousands(buffer_bytes) + " bytes)";
  if (compressed > 0)
    out += ", " + std::to_string(compressed) + (compressed == 1 ? " section" : " sections") + " zstd-compressed (" +
           thousands(raw) + " -> " + thousands(stored) + " bytes)";
  out += ", " + std::to_string(verified) + " of " + std::to_string(c.section_count()) + " sections checksum-verified";
  if (checksummed < c.section_count()) out += " (" + std::to_string(c.section_count() - checksummed) + " without checksum)";
  return out;
}

bool write_all(std::FILE* f, std::span<const std::byte> data) {
  // Large buffers are written in pieces so that a short write is noticed early.
  constexpr std::size_t piece = std::size_t{1} << 24;
  for (std::size_t at = 0; at < data.size(); at += piece) {
    const std::size_t n = std::min(piece, data.size() - at);
    if (std::fwrite(data.data() + at, 1, n, f) != n) return false;
  }
  return true;
}

bool write_output(const std::string& path, std::span<const std::byte> data, std::string& why) {
  std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    why = errno_text(path);
    return false;
  }
  const bool ok = write_all(f, data);
  const bool closed = f == stdout ? std::fflush(f) == 0 : std::fclose(f) == 0;
  if (!ok || !closed) {
    why = path + ": write error";
    return false;
  }
  return true;
}

bool write_output(const std::string& path, const std::string& data, std::string& why) {
  return write_output(path, std::as_bytes(std::span<const char>(data.data(), data.size())), why);
}

void report_error(const std::string& file, const brine::error& e) {
  std::cerr << "brine: " << file << ": " << e.to_string() << "\n";
}

std::string thousands(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::uint64_t parse_number(std::string_view text, std::string_view option) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty())
    throw usage_error{"expected a number after " + std::string(option)};
  return n;
}

}  // namespace brine_cli
