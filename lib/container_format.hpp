// lib/container_format.hpp — the container's header and table as bytes: encoding them (writer),
// validating them (map, bytes and stream readers), and the one place where container failures
// become brine::error values. Knows core and xxHash only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "brine/container.hpp"
#include "brine/error.hpp"

namespace brine::detail {

// --- little-endian fields (converted byte by byte: any host), from and to local copies only

inline std::uint64_t load_le(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}
inline void store_le(std::byte* p, std::uint64_t v, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}

/// XXH3-64 with seed 0 (the runtime-dispatched SIMD variant where the library provides one).
std::uint64_t container_hash(std::span<const std::byte> bytes) noexcept;
/// XXH3-64 of `a` followed by `b` (the metadata checksum: header bytes 0..55, then the table).
std::uint64_t container_hash2(std::span<const std::byte> a, std::span<const std::byte> b) noexcept;

// --- errors: the single place that maps container problems to codes

enum class container_problem : std::uint8_t {
  corrupt,      ///< a field contradicts the format or another field
  checksum,     ///< a checksum does not match
  unsupported,  ///< a version, feature, kind or codec this reader does not know
  truncated,    ///< fewer bytes than declared
  limit,        ///< a caller limit
  io,           ///< a system call failed (detail = errno)
};

/// errc for each problem. Proposed dedicated codes (brine/error.hpp is append-only):
/// container_corrupt = 30, checksum_mismatch = 31, unsupported_version = 32. Until they exist,
/// the three map to bad_argument and the field in `detail` tells them apart.
constexpr errc container_errc(container_problem p) noexcept {
  switch (p) {
    case container_problem::corrupt: return errc::container_corrupt;
    case container_problem::checksum: return errc::checksum_mismatch;
    case container_problem::unsupported: return errc::unsupported_version;
    case container_problem::truncated: return errc::truncated;
    case container_problem::limit: return errc::limit_exceeded;
    case container_problem::io: return errc::io_error;
  }
  return errc::bad_argument;
}

/// A container error: `offset` is the byte offset of the field (or section) in the container,
/// `detail` the container_field (errno for io, the limit for limits).
brine::error container_error(container_problem p, container_field f, std::uint64_t offset, std::string message);
/// An io_error naming the call ("mmap", "pread", ...) with errno in `detail`.
brine::error container_io_error(const char* call, int err, std::string context = {});
/// A limit error; the message names the container limit.
brine::error container_limit_error(const char* limit_name, std::uint64_t value, std::uint64_t limit, std::uint64_t offset);

// --- layout

/// Rounds `v` up to a multiple of 2^log2; false when the result does not fit in 64 bits.
inline bool align_up(std::uint64_t v, unsigned log2, std::uint64_t& out) noexcept {
  const std::uint64_t a = std::uint64_t{1} << log2;
  if (v > UINT64_MAX - (a - 1)) return false;
  out = (v + (a - 1)) & ~(a - 1);
  return true;
}

inline constexpr std::size_t entry_at(std::size_t i) noexcept {
  return container_format::header_size + i * container_format::entry_size;
}

// --- writing

/// Encodes the header and the table (whose entries come from `sections`) into `out`, resized to
/// 64 + 48 n bytes, with the metadata checksum.
void encode_head(std::span<const section_info> sections, std::uint64_t total_size, std::vector<std::byte>& out);

// --- reading

/// What the header says, after validation.
struct header_fields {
  std::uint32_t section_count = 0;
  std::uint64_t total_size = 0;
  std::uint64_t table_end = 0;  ///< 64 + 48 n
};

/// Validates the 64 header bytes (a local copy). Version skew is reported before anything else
/// that a future version may change. Does not check the metadata checksum (the table is needed).
bool parse_header(std::span<const std::byte> header, const container_limits& limits, header_fields& out,
                  brine::error& err);

/// Verifies the metadata checksum over the local copies of the header and the table, then
/// validates every entry and the layout rule, filling `out` (verified = false everywhere).
bool parse_table(std::span<const std::byte> header, std::span<const std::byte> table, const header_fields& h,
                 std::vector<section_info>& out, brine::error& err);

}  // namespace brine::detail
