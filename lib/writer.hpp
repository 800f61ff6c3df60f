// lib/writer.hpp — the pickler's output buffer with CPython's framing (_Pickler_Write,
// _Pickler_CommitFrame, _Pickler_OpcodeBoundary, _Pickler_write_bytes), shared by the document
// encoder (pickler.cpp) and the typed encoder (typed_encoder.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "brine/encode.hpp"
#include "brine/opcodes.hpp"

namespace brine::detail {

constexpr std::size_t frame_size_target = 65536;  // FRAME_SIZE_TARGET
constexpr std::size_t frame_size_min = 4;          // FRAME_SIZE_MIN (bpo-32503)
constexpr std::size_t batch_size = 1000;           // BATCHSIZE
constexpr std::size_t no_frame = static_cast<std::size_t>(-1);

class writer {
 public:
  explicit writer(const byte_sink* sink) : sink_(sink) {}

  void start_framing() { framing_ = true; }

  void write(const void* p, std::size_t n) {
    if (framing_ && frame_start_ == no_frame) {
      frame_start_ = buf_.size();
      buf_.append(9, '\0');
    }
    buf_.append(static_cast<const char*>(p), n);
  }
  void op(std::uint8_t code) { write(&code, 1); }
  void op_arg(std::uint8_t code, const void* arg, std::size_t n) {
    char tmp[16];
    tmp[0] = static_cast<char>(code);
    std::memcpy(tmp + 1, arg, n);
    write(tmp, n + 1);
  }

  bool commit_frame() {
    if (frame_start_ == no_frame) return true;
    const std::size_t len = buf_.size() - frame_start_ - 9;
    if (len >= frame_size_min) {
      buf_[frame_start_] = static_cast<char>(op::FRAME);
      const std::uint64_t le = len;
      std::memcpy(buf_.data() + frame_start_ + 1, &le, 8);
    } else {
      buf_.erase(frame_start_, 9);
    }
    frame_start_ = no_frame;
    return flush_if_large();
  }

  // At the start of every save(): a frame that reached the target size is committed.
  bool opcode_boundary() {
    if (framing_ && frame_start_ != no_frame && buf_.size() - frame_start_ - 9 >= frame_size_target) return commit_frame();
    return true;
  }

  // Payloads of 64 KiB and more go outside frames; with a sink, without a copy.
  bool write_bytes(const char* header, std::size_t header_size, const std::byte* data, std::size_t size) {
    const bool bypass = size >= frame_size_target;
    const bool framing = framing_;
    if (bypass) {
      if (!commit_frame()) return false;
      framing_ = false;
    }
    write(header, header_size);
    if (bypass && sink_ != nullptr) {
      if (!flush() || !emit(data, size)) return false;
    } else if (size != 0) {
      write(data, size);
    }
    framing_ = framing;
    return true;
  }

  bool finish() { return commit_frame() && flush(); }
  std::string& buffer() { return buf_; }
  std::size_t total() const { return total_ + buf_.size(); }

 private:
  bool emit(const void* p, std::size_t n) {
    total_ += n;
    return (*sink_)(std::span<const std::byte>(static_cast<const std::byte*>(p), n));
  }
  bool flush() {
    if (sink_ == nullptr || buf_.empty() || frame_start_ != no_frame) return true;
    const bool ok = emit(buf_.data(), buf_.size());
    buf_.clear();
    return ok;
  }
  bool flush_if_large() { return buf_.size() >= frame_size_target ? flush() : true; }

  const byte_sink* sink_;
  std::string buf_;
  bool framing_ = false;
  std::size_t frame_start_ = no_frame;
  std::size_t total_ = 0;
};

// ---- Opcode primitives: what CPython's save_* functions write for one scalar or string. They
// take the writer and the protocol; memo bookkeeping stays with the caller.

enum class emit_status { ok, too_large, io };

/// The memo store for entry `index`: MEMOIZE (4+), BINPUT / LONG_BINPUT (1-3), PUT text (0).
void emit_put(writer& w, int proto, std::uint64_t index);
/// The memo fetch: BINGET / LONG_BINGET (1+), GET text (0).
void emit_get(writer& w, int proto, std::uint64_t index);
void emit_bool(writer& w, int proto, bool v);
/// save_long for an int64: BININT1/BININT2/BININT, or INT text; LONG1 / LONG text outside 32 bits.
void emit_int(writer& w, int proto, std::int64_t v);
/// An int given as minimal little-endian two's complement: LONG1/LONG4 (2+), LONG text (0-1).
template <class Decimal>
void emit_big_int(writer& w, int proto, const std::string& le, Decimal&& decimal) {
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
    const std::string s = "L" + decimal() + "L\n";
    w.write(s.data(), s.size());
  }
}
/// save_float: BINFLOAT (big-endian) or FLOAT repr text.
void emit_float(writer& w, int proto, double v);
/// save_unicode: SHORT_BINUNICODE / BINUNICODE / BINUNICODE8, or UNICODE raw-unicode-escape text.
emit_status emit_str(writer& w, int proto, std::string_view utf8);
/// save_bytes at protocol 3+: SHORT_BINBYTES / BINBYTES / BINBYTES8.
emit_status emit_bytes(writer& w, int proto, std::span<const std::byte> data);
/// save_bytearray at protocol 5: BYTEARRAY8.
emit_status emit_bytearray8(writer& w, std::span<const std::byte> data);

}  // namespace brine::detail
