// brine/detail/output.hpp — the encoders' output cursor and the opcode stores their hot paths
// inline. Not part of the API: brine/convert.hpp includes it so that typed_encoder's scalars,
// memo stores and container headers compile, in the codec that calls them, to a room check and a
// few plain stores (lib/writer.hpp's writer owns the buffer behind the cursor and does everything
// else out of line: growing, framing, flushing to the sink).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "brine/opcodes.hpp"

namespace brine::detail {

inline constexpr std::size_t frame_size_target = 65536;  // FRAME_SIZE_TARGET
inline constexpr std::size_t frame_header_size = 9;      // FRAME + 8-byte length
inline constexpr std::size_t batch_size = 1000;          // BATCHSIZE
inline constexpr std::size_t no_frame = static_cast<std::size_t>(-1);

/// Where the next opcode goes: [cur, end) is room already allocated in a buffer starting at
/// `base`. Owned by one writer, used by one encode on one thread.
struct output_cursor {
  char* base = nullptr;
  char* cur = nullptr;
  char* end = nullptr;
  /// Offset from `base` at which CPython's opcode boundary commits the open frame (no_frame when
  /// none is open).
  std::size_t frame_limit = no_frame;
  /// Framing and no frame open: the next write opens one (which only the writer does).
  bool frame_pending = false;

  /// Whether `n` bytes fit at `cur` without the writer's help (no frame to open, room left).
  [[gnu::always_inline]] bool fits(std::size_t n) const noexcept {
    return !frame_pending && n <= static_cast<std::size_t>(end - cur);
  }
  /// At an opcode boundary: the open frame reached its target size and must be committed.
  [[gnu::always_inline]] bool frame_full() const noexcept { return static_cast<std::size_t>(cur - base) >= frame_limit; }
};

/// memcpy for the short payloads of most strs: fixed-size loads and stores that stay inside
/// [src, src + n) and [dst, dst + n) (overlapping when n is not a power of two), without a call.
[[gnu::always_inline]] inline void copy_small(char* dst, const void* src_, std::size_t n) {
  const char* src = static_cast<const char*>(src_);
  if (n >= 16) {
    if (n > 32) {
      std::memcpy(dst, src, n);
      return;
    }
    char a[16], b[16];
    std::memcpy(a, src, 16);
    std::memcpy(b, src + n - 16, 16);
    std::memcpy(dst, a, 16);
    std::memcpy(dst + n - 16, b, 16);
  } else if (n >= 8) {
    std::uint64_t a, b;
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n != 0) {
    const char a = src[0], b = src[n >> 1], c = src[n - 1];
    dst[0] = a;
    dst[n >> 1] = b;
    dst[n - 1] = c;
  }
}

/// save_long's binary forms for an int64 at `at` (10 bytes of room): BININT1 / BININT2 / BININT
/// (protocol 1+), or LONG1 outside 32 bits (protocol 2+; the caller checks). Returns the bytes
/// written.
[[gnu::always_inline]] inline std::size_t put_int(char* at, std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  if (u <= 0xff) {
    at[0] = static_cast<char>(op::BININT1);
    at[1] = static_cast<char>(u);
    return 2;
  }
  if (u <= 0xffff) {
    at[0] = static_cast<char>(op::BININT2);
    const auto h = static_cast<std::uint16_t>(u);
    std::memcpy(at + 1, &h, 2);
    return 3;
  }
  if (v >= INT32_MIN && v <= INT32_MAX) {
    at[0] = static_cast<char>(op::BININT);
    const auto i = static_cast<std::int32_t>(v);
    std::memcpy(at + 1, &i, 4);
    return 5;
  }
  // LONG1 with the minimal two's complement (what save_long's byte count and sign trim give):
  // the value's significant bits plus a sign bit, in whole bytes.
  const std::uint64_t magnitude = v < 0 ? ~u : u;
  const auto bytes = static_cast<std::size_t>((64 - std::countl_zero(magnitude) + 1 + 7) / 8);
  at[0] = static_cast<char>(op::LONG1);
  at[1] = static_cast<char>(bytes);
  std::memcpy(at + 2, &u, 8);  // little-endian hosts (static_assert in lib): the low bytes first
  return 2 + bytes;
}

/// A str of at most 255 UTF-8 bytes that is not a singleton, at protocol 4+, and its memo store:
/// SHORT_BINUNICODE and MEMOIZE at `at` (n + 3 bytes of room). Returns n + 3.
[[gnu::always_inline]] inline std::size_t put_short_str(char* at, const void* p, std::size_t n) {
  at[0] = static_cast<char>(op::SHORT_BINUNICODE);
  at[1] = static_cast<char>(n);
  copy_small(at + 2, p, n);
  at[2 + n] = static_cast<char>(op::MEMOIZE);
  return n + 3;
}

/// The bytes put_int writes for `v` (2, 3, 5, or 3 to 10 for LONG1).
[[gnu::always_inline]] inline std::size_t int_size(std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  if (u <= 0xffff) return u <= 0xff ? 2 : 3;
  if (v >= INT32_MIN && v <= INT32_MAX) return 5;
  const std::uint64_t magnitude = v < 0 ? ~u : u;
  return 2 + static_cast<std::size_t>((64 - std::countl_zero(magnitude) + 1 + 7) / 8);
}

/// save_float at protocol 1+ at `at` (9 bytes of room): BINFLOAT, big-endian.
[[gnu::always_inline]] inline std::size_t put_float(char* at, double v) {
  at[0] = static_cast<char>(op::BINFLOAT);
  const std::uint64_t be = __builtin_bswap64(std::bit_cast<std::uint64_t>(v));
  std::memcpy(at + 1, &be, 8);
  return 9;
}

/// A memo opcode with an index at `at` (5 bytes of room): the 1-byte form below 256, else the
/// 4-byte one.
[[gnu::always_inline]] inline std::size_t put_indexed(char* at, std::uint8_t short_op, std::uint8_t long_op, std::uint64_t index) {
  if (index < 256) {
    at[0] = static_cast<char>(short_op);
    at[1] = static_cast<char>(index);
    return 2;
  }
  at[0] = static_cast<char>(long_op);
  const auto v = static_cast<std::uint32_t>(index);
  std::memcpy(at + 1, &v, 4);
  return 5;
}
/// A memo fetch at protocol 1+: BINGET / LONG_BINGET.
[[gnu::always_inline]] inline std::size_t put_get(char* at, std::uint64_t index) {
  return put_indexed(at, op::BINGET, op::LONG_BINGET, index);
}
/// A memo store at protocols 1-3: BINPUT / LONG_BINPUT. (Protocol 4+ stores with MEMOIZE, which
/// takes no index.)
[[gnu::always_inline]] inline std::size_t put_binput(char* at, std::uint64_t index) {
  return put_indexed(at, op::BINPUT, op::LONG_BINPUT, index);
}

/// '' and the 1-character latin-1 strs, as UTF-8: one object each in CPython (so one memo entry
/// per pickle).
[[gnu::always_inline]] inline bool singleton_text(const char* p, std::size_t n) noexcept {
  if (n == 0) return true;
  const auto c0 = static_cast<unsigned char>(p[0]);
  if (n == 1) return c0 < 0x80;
  return n == 2 && (c0 == 0xc2 || c0 == 0xc3);  // U+0080..U+00FF
}

}  // namespace brine::detail
