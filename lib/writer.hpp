// lib/writer.hpp — the pickler's output buffer with CPython's framing (_Pickler_Write,
// _Pickler_CommitFrame, _Pickler_OpcodeBoundary, _Pickler_write_bytes), shared by the document
// encoder (pickler.cpp) and the typed encoder (typed_encoder.cpp), and the opcode primitives both
// write with. The cursor itself and the stores of the hottest opcodes are in
// brine/detail/output.hpp, which the typed encoder's inline paths in brine/convert.hpp use too.
//
// Speed: the encoders call these once or twice per Python object, so the common paths are inline
// and write through a raw cursor: one capacity check per opcode, then plain stores. They write
// into a staging buffer (a std::string whose size is its room) about one frame long, which stays
// in the CPU's cache: each committed frame (or, without frames, each 64 KiB) goes on to the sink,
// or is appended to the output string. So the output is written once, never zero-filled first
// (std::string::resize zero-fills the room it adds, which for a large pickle costs as much as
// writing it). An output that fits the staging buffer is handed over as it is, without a copy.
// reserve() sizes the output up front when the caller can estimate it. Payloads of 64 KiB and
// more go straight to the sink or the output string, one copy.
//
// A large pickle whose size can be estimated before it is written (a decoded document encoded
// again; a typed list of floats) is written into the returned string's own storage instead
// (into_string(), C++23's resize_and_overwrite through lib/string_fill.hpp): no staging, no copy.
// If it outgrows the estimate, what follows is staged and appended as above ("spilling").
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "brine/detail/output.hpp"
#include "brine/detail/pod_vector.hpp"
#include "brine/encode.hpp"
#include "brine/opcodes.hpp"
#include "string_fill.hpp"

namespace brine::detail {

constexpr std::size_t frame_size_min = 4;  // FRAME_SIZE_MIN (bpo-32503)

class writer : public output_cursor {
 public:
  explicit writer(const byte_sink* sink) : sink_(sink) {}

  void start_framing() {
    framing_ = true;
    frame_pending = frame_start_ == no_frame;
  }

  /// Room for `n` more bytes: returns the cursor, valid until the next call on this writer.
  /// Opens a frame first when framing and none is open (CPython opens one on the first write
  /// after a commit). Write at most `n` bytes there, then advance().
  [[gnu::always_inline]] char* room(std::size_t n) {
    if (frame_pending) [[unlikely]]
      open_frame();
    if (n > static_cast<std::size_t>(end - cur)) [[unlikely]]
      grow(n);
    return cur;
  }
  [[gnu::always_inline]] void advance(std::size_t n) { cur += n; }

  void write(const void* p, std::size_t n) {
    char* at = room(n);
    if (n != 0) std::memcpy(at, p, n);
    cur += n;
  }
  [[gnu::always_inline]] void op(std::uint8_t code) {
    char* at = room(1);
    *at = static_cast<char>(code);
    cur += 1;
  }
  void op_arg(std::uint8_t code, const void* arg, std::size_t n) {
    char* at = room(n + 1);
    at[0] = static_cast<char>(code);
    std::memcpy(at + 1, arg, n);
    cur += n + 1;
  }

  bool commit_frame() {
    if (frame_start_ == no_frame) return true;
    char* const start = base + frame_start_;
    const std::size_t len = static_cast<std::size_t>(cur - start) - frame_header_size;
    if (len >= frame_size_min) {
      start[0] = static_cast<char>(op::FRAME);
      const std::uint64_t le = len;
      std::memcpy(start + 1, &le, 8);
    } else {
      std::memmove(start, start + frame_header_size, len);
      cur -= frame_header_size;
    }
    frame_start_ = no_frame;
    frame_limit = no_frame;
    frame_pending = framing_;
    return flush_if_large();
  }

  /// At the start of every save(): a frame that reached the target size is committed.
  [[gnu::always_inline]] bool opcode_boundary() {
    if (frame_full()) [[unlikely]]
      return commit_frame();
    return true;
  }

  /// Payloads of 64 KiB and more go outside frames; with a sink, without a copy.
  bool write_bytes(const char* header, std::size_t header_size, const std::byte* data, std::size_t size) {
    if (size < frame_size_target) [[likely]] {
      char* at = room(header_size + size);
      std::memcpy(at, header, header_size);
      if (size != 0) std::memcpy(at + header_size, data, size);
      cur += header_size + size;
      return true;
    }
    const bool framing = framing_;
    if (!commit_frame()) return false;
    framing_ = false;
    frame_pending = false;
    write(header, header_size);
    if (!flush() || !emit(data, size)) return false;
    framing_ = framing;
    frame_pending = framing;
    return true;
  }

  /// Raw access for the encoders' hot loops, which keep the cursor in a local (stores through
  /// char pointers would otherwise force the writer's members to be reloaded after every byte):
  /// raw_begin() opens a pending frame (the caller is about to write), the caller writes at
  /// base + pos while pos + n <= cap, calls raw_end() before any other writer call, and checks
  /// pos >= frame_limit where opcode_boundary() would be called (SIZE_MAX without an open frame).
  struct raw_state {
    char* base;
    std::size_t pos;
    std::size_t cap;
    std::size_t frame_limit;
    /// fast_limit(boundary_room), for the loops that check before each opcode.
    std::size_t fast;
    static constexpr std::size_t boundary_room = 16;
    /// The position below which an opcode of at most `max` bytes needs neither a boundary nor
    /// more room: one compare per item in a run instead of two.
    [[gnu::always_inline]] std::size_t fast_limit(std::size_t max) const {
      return std::min(frame_limit, cap >= max ? cap - max + 1 : 0);
    }
    /// Bytes from pos to where the open frame must be committed (no_frame when none is open): the
    /// bulk kernels' `limit`.
    [[gnu::always_inline]] std::size_t frame_room() const { return frame_limit == no_frame ? no_frame : frame_limit - pos; }
    /// How many opcodes of exactly `size` bytes, written one after the other from pos, start below
    /// fast_limit(size): a run written without checks between its items.
    [[gnu::always_inline]] std::size_t fitting(std::size_t size) const {
      const std::size_t limit = fast_limit(size);
      return limit > pos ? (limit - pos + size - 1) / size : 0;
    }
  };
  raw_state raw_begin() {
    if (frame_pending) open_frame();
    raw_state r{base, used(), static_cast<std::size_t>(end - base), frame_limit, 0};
    r.fast = r.fast_limit(raw_state::boundary_room);
    return r;
  }
  void raw_end(const raw_state& r) { cur = base + r.pos; }
  /// The slow path of a raw loop's check before an opcode: commits the open frame if it reached
  /// its target (opcode_boundary()), then grows by `grow` (at least `n`) if fewer than `n` bytes
  /// of room are left. False when committing failed (a sink refused a piece).
  bool raw_settle(raw_state& r, std::size_t n, std::size_t grow) {
    bool ok = true;
    if (r.pos >= r.frame_limit) {
      raw_end(r);
      ok = opcode_boundary();
      r = raw_begin();
    }
    if (r.cap - r.pos < n) r = raw_grow(r, grow);
    return ok;
  }
  /// Room for `n` more bytes at r.pos (r by value, so the caller's copy can stay in registers).
  raw_state raw_grow(raw_state r, std::size_t n) {
    raw_end(r);
    grow(n);
    return raw_begin();
  }

  /// Sizes the output for about `n` bytes in all (an estimate; it still grows as needed): a small
  /// one is the staging buffer's next growth, a larger one the output string's capacity.
  void reserve(std::size_t n) {
    if (sink_ != nullptr || direct_) return;
    if (n <= staging_bytes) {
      if (n > static_cast<std::size_t>(end - base)) hint_ = n;
    } else if (n > out_.capacity()) {
      reserve_out(n, true);
    }
  }

  /// Ends the pickle: commits the open frame and, with a sink, sends what is left.
  bool finish() { return commit_frame() && (sink_ == nullptr || flush()) && !refused_; }
  /// The output (after finish(), without a sink): the staging buffer trimmed to what was written
  /// when nothing left it, else the output string with the rest appended.
  std::string& buffer() {
    if (out_.empty()) {
      buf_.resize(used());
      base = cur = end = nullptr;
      return buf_;
    }
    emit(base, used());
    cur = base;
    return out_;
  }
  /// Bytes written so far.
  std::size_t total() const { return total_ + used(); }

  /// Runs `body()` (which writes the whole pickle and calls finish(); false on failure) with the
  /// output going into `out`: for an estimate of more than the staging buffer's size, into out's
  /// own storage when the standard library allows (no copy: string_fill.hpp), else as buffer()
  /// hands it over. Without a sink. Returns body()'s result; `out` is empty when it is false.
  template <class Body>
  bool into_string(std::string& out, std::size_t estimate, Body&& body) {
    if (estimate <= staging_bytes || !string_fill_in_place()) {
      const bool ok = body();
      out = ok ? std::move(buffer()) : std::string();
      return ok;
    }
    bool ok = false, spilled = false;
    fill_string(out, estimate, [&](char* p, std::size_t n) -> std::size_t {
      attach(p, n);
      ok = body();
      spilled = !direct_;  // spill() ended writing into the region (maybe before its first byte)
      direct_ = false;
      return ok ? (spilled ? kept_ : used()) : 0;
    });
    if (!ok) {
      out.clear();
      return false;
    }
    if (spilled) {  // the rest was staged
      out.reserve(kept_ + out_.size() + used());
      out.append(out_);
      out.append(base, used());
    }
    // An estimate far above the result (a text pickle re-encoded in binary) would leave the
    // difference allocated for the string's lifetime.
    if (out.capacity() - out.size() > out.capacity() / 4) out.shrink_to_fit();
    return true;
  }

 private:
  // The largest reserve() that sizes the staging buffer rather than the output string.
  static constexpr std::size_t staging_bytes = 4 * frame_size_target;
  std::size_t used() const { return static_cast<std::size_t>(cur - base); }

  void open_frame() {
    frame_pending = false;
    if (frame_header_size > static_cast<std::size_t>(end - cur)) grow(frame_header_size);
    frame_start_ = used();
    frame_limit = frame_start_ + frame_header_size + frame_size_target;
    cur += frame_header_size;  // filled in (or removed) by commit_frame
  }
  void grow(std::size_t n) {
    if (direct_) return spill(n);
    // Between frames, a full staging buffer of 64 KiB or more moves on instead of growing.
    if (frame_start_ == no_frame && used() >= frame_size_target) {
      flush();  // a sink's refusal is remembered for finish()
      if (n <= static_cast<std::size_t>(end - cur)) return;
    }
    resize(std::max({used() + n, 2 * buf_.size(), std::size_t{256}, hint_}));
    hint_ = 0;
  }
  void resize(std::size_t size) {
    const std::size_t u = used();
    buf_.resize(size);
    base = buf_.data();
    cur = base + u;
    end = base + buf_.size();
  }
  // Capacity for `n` bytes of output in the output string; `estimated`: reserve()'s size, which
  // the output will mostly fill, rather than a doubling.
  void reserve_out(std::size_t n, bool estimated = false) {
    if (n >= huge_page_advice_bytes) {
      // Large outputs: allocate, advise huge pages, then touch: page faults dominate writing
      // fresh memory, and a 2 MiB page takes one fault, not 512. An estimated size is faulted in
      // at once, the parts outside whole huge pages included (one call instead of a fault per
      // 4 KiB page when the allocator hands out fresh memory; next to nothing when it is not).
      std::string next;
      next.reserve(n);
      ready_for_writing(next.data(), next.capacity(), estimated ? n : 0);
      next.append(out_);
      out_.swap(next);
    } else {
      out_.reserve(n);
    }
  }
  bool emit(const void* p, std::size_t n) {
    if (direct_) {
      if (n <= static_cast<std::size_t>(end - cur)) {
        if (n != 0) std::memcpy(cur, p, n);
        cur += n;
        return true;
      }
      spill(0);
    }
    total_ += n;
    if (sink_ != nullptr) {
      if (!(*sink_)(std::span<const std::byte>(static_cast<const std::byte*>(p), n))) refused_ = true;
      return !refused_;
    }
    if (n > out_.capacity() - out_.size())
      // Doubling, with room for the few opcodes that usually end a pickle after a large payload
      // (which would otherwise double the string, a second copy of the payload).
      reserve_out(std::max(out_.size() + n + 256, 2 * out_.capacity()));
    out_.append(static_cast<const char*>(p), n);
    return true;
  }
  bool flush() {
    if (cur == base || frame_start_ != no_frame || direct_) return true;
    const bool ok = emit(base, used());
    cur = base;
    return ok;
  }
  bool flush_if_large() { return used() >= frame_size_target ? flush() : true; }

  // A large output's storage, before it is written: huge pages advised for its `capacity` bytes,
  // its first `fill` bytes (what an estimate says will be written) faulted in at once.
  static void ready_for_writing(char* p, std::size_t capacity, std::size_t fill) {
    advise_huge_pages(p, capacity);
    if (fill != 0) prefault_for_writing(p, fill);
  }
  // into_string(): writing into the output string's storage, [p, p + n).
  void attach(char* p, std::size_t n) {
    if (n >= huge_page_advice_bytes) ready_for_writing(p, n, n);
    // What was written before (nothing, or a few opcodes) moves into the region.
    const std::size_t u = used();
    if (u != 0) std::memcpy(p, base, u);
    base = p;
    cur = p + u;
    end = p + n;
    direct_ = true;
    kept_ = 0;
  }
  // The region is full: everything from the open frame on (or nothing, between frames) moves to
  // the staging buffer, with room for `n` more bytes, and writing goes on there as without
  // into_string(). The region keeps what was before it (kept_ bytes).
  void spill(std::size_t n) {
    const std::size_t keep = frame_start_ != no_frame ? frame_start_ : used();
    const std::size_t moving = used() - keep;
    direct_ = false;
    kept_ = keep;
    total_ = keep;
    buf_.resize(std::max({moving + n, staging_bytes, buf_.size()}));
    if (moving != 0) std::memcpy(buf_.data(), base + keep, moving);
    base = buf_.data();
    cur = base + moving;
    end = base + buf_.size();
    if (frame_start_ != no_frame) {
      frame_start_ -= keep;
      frame_limit -= keep;
    }
  }

  const byte_sink* sink_;
  bool direct_ = false;    // into_string(): base..end is the output string's storage
  std::size_t kept_ = 0;   // into_string(), after spilling: bytes left in the output string
  std::string buf_;  // staging
  std::string out_;  // the output without a sink, once the staging buffer was flushed
  bool framing_ = false;
  bool refused_ = false;     // the sink returned false once: the encode fails
  std::size_t frame_start_ = no_frame;
  std::size_t total_ = 0;
  std::size_t hint_ = 0;  // reserve(): the size of the staging buffer's next growth
};

// ---- Opcode primitives: what CPython's save_* functions write for one scalar or string. They
// take the writer and the protocol; memo bookkeeping stays with the caller. The binary forms are
// inline (the hot paths); the text forms of protocols 0 and 1 live in writer.cpp.

enum class emit_status { ok, too_large, io };

void emit_put_text(writer& w, std::uint64_t index);
void emit_get_text(writer& w, std::uint64_t index);
void emit_int_text(writer& w, int proto, std::int64_t v);
void emit_float_text(writer& w, double v);
emit_status emit_str_text(writer& w, std::string_view utf8);
emit_status emit_counted(writer& w, std::uint8_t op1, std::uint8_t op4, std::uint8_t op8, int proto,
                         std::span<const std::byte> data);

/// The memo store for entry `index`: MEMOIZE (4+), BINPUT / LONG_BINPUT (1-3), PUT text (0).
[[gnu::always_inline]] inline void emit_put(writer& w, int proto, std::uint64_t index) {
  if (proto >= 4) {
    w.op(op::MEMOIZE);
  } else if (proto >= 1) {
    w.advance(put_binput(w.room(5), index));
  } else {
    emit_put_text(w, index);
  }
}

/// The memo fetch: BINGET / LONG_BINGET (1+), GET text (0).
[[gnu::always_inline]] inline void emit_get(writer& w, int proto, std::uint64_t index) {
  if (proto >= 1) [[likely]] {
    w.advance(put_get(w.room(5), index));
  } else {
    emit_get_text(w, index);
  }
}

inline void emit_bool(writer& w, int proto, bool v) {
  if (proto >= 2) w.op(v ? op::NEWTRUE : op::NEWFALSE);
  else w.write(v ? "I01\n" : "I00\n", 4);
}

/// save_long for an int64: BININT1/BININT2/BININT, or INT text; LONG1 (2+) / LONG text (0-1)
/// outside 32 bits.
[[gnu::always_inline]] inline void emit_int(writer& w, int proto, std::int64_t v) {
  if (proto < 1 || ((v < INT32_MIN || v > INT32_MAX) && proto < 2)) [[unlikely]] {
    emit_int_text(w, proto, v);
    return;
  }
  w.advance(put_int(w.room(10), v));
}

/// CPython's default limit on int-to-str conversion (sys.get_int_max_str_digits()): its pickler
/// raises ValueError for an int with more digits at protocols 0-1, which write LONG text.
inline constexpr std::size_t int_max_str_digits = 4300;

/// An int given as minimal little-endian two's complement: LONG1/LONG4 (2+), LONG text (0-1).
/// too_large (nothing written) for LONG text beyond int_max_str_digits, as CPython refuses it.
template <class Decimal>
[[nodiscard]] emit_status emit_big_int(writer& w, int proto, const std::string& le, Decimal&& decimal) {
  if (proto >= 2) {
    if (le.size() < 256) {
      const auto len = static_cast<std::uint8_t>(le.size());
      w.op_arg(op::LONG1, &len, 1);
    } else {
      const auto len = static_cast<std::int32_t>(le.size());
      w.op_arg(op::LONG4, &len, 4);
    }
    w.write(le.data(), le.size());
  } else {
    const std::string d = decimal();
    if (d.size() - (!d.empty() && d[0] == '-' ? 1 : 0) > int_max_str_digits) return emit_status::too_large;
    const std::string s = "L" + d + "L\n";
    w.write(s.data(), s.size());
  }
  return emit_status::ok;
}

/// save_float: BINFLOAT (big-endian) or FLOAT repr text.
[[gnu::always_inline]] inline void emit_float(writer& w, int proto, double v) {
  if (proto < 1) [[unlikely]] {
    emit_float_text(w, v);
    return;
  }
  w.advance(put_float(w.room(9), v));
}

/// save_unicode: SHORT_BINUNICODE / BINUNICODE / BINUNICODE8, or UNICODE raw-unicode-escape text.
[[gnu::always_inline]] inline emit_status emit_str(writer& w, int proto, std::string_view utf8) {
  const std::size_t n = utf8.size();
  if (proto >= 4 && n <= 0xff) [[likely]] {
    char* at = w.room(2 + n);
    at[0] = static_cast<char>(op::SHORT_BINUNICODE);
    at[1] = static_cast<char>(n);
    copy_small(at + 2, utf8.data(), n);
    w.advance(2 + n);
    return emit_status::ok;
  }
  if (proto == 0) return emit_str_text(w, utf8);
  // SHORT_BINUNICODE exists from protocol 4; below, short strings use BINUNICODE too.
  return emit_counted(w, proto >= 4 ? op::SHORT_BINUNICODE : 0, op::BINUNICODE, op::BINUNICODE8, proto,
                      std::as_bytes(std::span<const char>(utf8.data(), utf8.size())));
}

/// save_bytes at protocol 3+: SHORT_BINBYTES / BINBYTES / BINBYTES8.
inline emit_status emit_bytes(writer& w, int proto, std::span<const std::byte> data) {
  return emit_counted(w, op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8, proto, data);
}

/// save_bytearray at protocol 5: BYTEARRAY8.
emit_status emit_bytearray8(writer& w, std::span<const std::byte> data);

}  // namespace brine::detail
