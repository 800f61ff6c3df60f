// lib/container_format.cpp — header and table bytes → validated section_info, and back; the
// field names; the checksum. Everything here works on local copies, so a field is read once.
#include "container_format.hpp"

#include <array>
#include <cstring>
#include <string>

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>  // XXH3_64bits -> XXH3_64bits_dispatch (AVX2 / AVX-512 at run time)
#else
#include <xxhash.h>
#endif

namespace brine {

namespace {
struct field_row {
  container_field field;
  std::string_view name;
};
constexpr std::array<field_row, 23> field_rows{{
    {container_field::none, "none"},
    {container_field::magic, "magic"},
    {container_field::version, "version"},
    {container_field::header_size, "header_size"},
    {container_field::entry_size, "entry_size"},
    {container_field::header_reserved, "header reserved"},
    {container_field::flags, "flags"},
    {container_field::section_count, "section_count"},
    {container_field::total_size, "total_size"},
    {container_field::meta_checksum, "meta_checksum"},
    {container_field::kind, "kind"},
    {container_field::codec, "codec"},
    {container_field::align_log2, "align_log2"},
    {container_field::entry_reserved, "entry reserved"},
    {container_field::section_flags, "section flags"},
    {container_field::offset, "offset"},
    {container_field::stored_size, "stored_size"},
    {container_field::raw_size, "raw_size"},
    {container_field::checksum, "checksum"},
    {container_field::payload, "payload"},
    {container_field::file, "file"},
    {container_field::seals, "seals"},
    {container_field::socket, "socket"},
}};
}  // namespace

std::string_view container_field_name(container_field f) noexcept {
  for (const auto& r : field_rows)
    if (r.field == f) return r.name;
  return "unknown";
}

namespace detail {

namespace fmt = container_format;

std::uint64_t container_hash(std::span<const std::byte> bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::uint64_t container_hash2(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, a.data(), a.size());
  XXH3_64bits_update(&state, b.data(), b.size());
  return XXH3_64bits_digest(&state);
}

brine::error container_error(container_problem p, container_field f, std::uint64_t offset, std::string message) {
  brine::error e;
  e.code = container_errc(p);
  e.offset = offset;
  e.opcode = -1;
  e.detail = static_cast<std::uint64_t>(f);
  e.message = "container: " + std::move(message) + " [" + std::string(container_field_name(f)) + "]";
  return e;
}

brine::error container_io_error(const char* call, int err, std::string context) {
  brine::error e;
  e.code = errc::io_error;
  e.detail = static_cast<std::uint64_t>(err);
  e.message = "container: ";
  e.message += call;
  e.message += " failed: ";
  e.message += std::strerror(err);
  if (!context.empty()) e.message += " (" + context + ")";
  return e;
}

brine::error container_limit_error(const char* limit_name, std::uint64_t value, std::uint64_t limit,
                                   std::uint64_t offset) {
  brine::error e;
  e.code = errc::limit_exceeded;
  e.offset = offset;
  const std::string_view name(limit_name);
  e.detail = static_cast<std::uint64_t>(name == "max_sections"             ? brine::limit::max_sections
                                        : name == "max_decompressed_bytes" ? brine::limit::max_decompressed_bytes
                                                                           : brine::limit::max_stream_bytes);
  e.message = "container: " + std::to_string(value) + " exceeds container_limits::" + limit_name + " (" +
              std::to_string(limit) + ")";
  return e;
}

void encode_head(std::span<const section_info> sections, std::uint64_t total_size, std::vector<std::byte>& out) {
  out.assign(entry_at(sections.size()), std::byte{0});
  std::byte* h = out.data();
  std::memcpy(h + fmt::at_magic, fmt::magic.data(), fmt::magic.size());
  store_le(h + fmt::at_version, fmt::version, 2);
  store_le(h + fmt::at_header_size, fmt::header_size, 2);
  store_le(h + fmt::at_entry_size, fmt::entry_size, 2);
  store_le(h + fmt::at_flags, 0, 4);
  store_le(h + fmt::at_section_count, sections.size(), 4);
  store_le(h + fmt::at_total_size, total_size, 8);
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const section_info& s = sections[i];
    std::byte* e = h + entry_at(i);
    e[fmt::at_kind] = std::byte{s.kind};
    e[fmt::at_codec] = std::byte{s.codec};
    e[fmt::at_align_log2] = static_cast<std::byte>(s.align_log2);
    std::uint32_t flags = 0;
    if (s.readonly) flags |= fmt::flag_readonly;
    if (!s.has_checksum) flags |= fmt::flag_unchecked;
    store_le(e + fmt::at_section_flags, flags, 4);
    store_le(e + fmt::at_offset, s.offset, 8);
    store_le(e + fmt::at_stored_size, s.stored_size, 8);
    store_le(e + fmt::at_raw_size, s.raw_size, 8);
    store_le(e + fmt::at_checksum, s.has_checksum ? s.checksum : 0, 8);
  }
  const auto all = std::span<const std::byte>(out);
  store_le(h + fmt::at_meta_checksum,
           container_hash2(all.first(fmt::at_meta_checksum), all.subspan(fmt::header_size)), 8);
}

namespace {

bool all_zero(std::span<const std::byte> s) {
  for (std::byte b : s)
    if (b != std::byte{0}) return false;
  return true;
}

std::string hex(std::uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    const auto d = static_cast<unsigned>((v >> shift) & 0xf);
    if (d || started || shift == 0) {
      s += digits[d];
      started = true;
    }
  }
  return s;
}

}  // namespace

bool parse_header(std::span<const std::byte> header, const container_limits& limits, header_fields& out,
                  brine::error& err) {
  using P = container_problem;
  using F = container_field;
  BRINE_ASSERT(header.size() == fmt::header_size);
  const std::byte* h = header.data();
  if (std::memcmp(h + fmt::at_magic, fmt::magic.data(), fmt::magic.size()) != 0) {
    err = container_error(P::corrupt, F::magic, fmt::at_magic,
                          "bad magic: not a brine container (expected 89 42 52 4E 0D 0A 1A 0A)");
    return false;
  }
  // The version first: a future version may change every other field.
  const auto version = load_le(h + fmt::at_version, 2);
  if (version != fmt::version) {
    err = container_error(P::unsupported, F::version, fmt::at_version,
                          "unsupported container version " + std::to_string(version) +
                              " (this reader understands version " + std::to_string(fmt::version) + ")");
    return false;
  }
  const auto flags = load_le(h + fmt::at_flags, 4);
  if (flags != 0) {
    err = container_error(P::unsupported, F::flags, fmt::at_flags,
                          "unsupported container flags " + hex(flags) + " (version 1 defines none)");
    return false;
  }
  const auto header_size = load_le(h + fmt::at_header_size, 2);
  if (header_size != fmt::header_size) {
    err = container_error(P::corrupt, F::header_size, fmt::at_header_size,
                          "header_size is " + std::to_string(header_size) + ", version 1 has 64");
    return false;
  }
  const auto entry_size = load_le(h + fmt::at_entry_size, 2);
  if (entry_size != fmt::entry_size) {
    err = container_error(P::corrupt, F::entry_size, fmt::at_entry_size,
                          "entry_size is " + std::to_string(entry_size) + ", version 1 has 48");
    return false;
  }
  if (!all_zero(header.subspan(fmt::at_header_reserved0, 2))) {
    err = container_error(P::corrupt, F::header_reserved, fmt::at_header_reserved0, "reserved header bytes 14..15 are not zero");
    return false;
  }
  if (!all_zero(header.subspan(fmt::at_header_reserved, fmt::at_meta_checksum - fmt::at_header_reserved))) {
    err = container_error(P::corrupt, F::header_reserved, fmt::at_header_reserved, "reserved header bytes 32..55 are not zero");
    return false;
  }
  const auto count = load_le(h + fmt::at_section_count, 4);
  if (count == 0) {
    err = container_error(P::corrupt, F::section_count, fmt::at_section_count,
                          "section_count is 0 (a container holds at least the pickle)");
    return false;
  }
  if (count > limits.max_sections) {
    err = container_limit_error("max_sections", count, limits.max_sections, fmt::at_section_count);
    return false;
  }
  const std::uint64_t table_end = entry_at(count);  // count < 2^32: cannot overflow
  const auto total = load_le(h + fmt::at_total_size, 8);
  if (total < table_end) {
    err = container_error(P::corrupt, F::total_size, fmt::at_total_size,
                          "total_size " + std::to_string(total) + " is smaller than the header and table of " +
                              std::to_string(count) + " sections (" + std::to_string(table_end) + " bytes)");
    return false;
  }
  out.section_count = static_cast<std::uint32_t>(count);
  out.total_size = total;
  out.table_end = table_end;
  return true;
}

bool parse_table(std::span<const std::byte> header, std::span<const std::byte> table, const header_fields& h,
                 std::vector<section_info>& out, brine::error& err) {
  using P = container_problem;
  using F = container_field;
  BRINE_ASSERT(table.size() == std::size_t{h.section_count} * fmt::entry_size);
  const auto stored_meta = load_le(header.data() + fmt::at_meta_checksum, 8);
  const auto meta = container_hash2(header.first(fmt::at_meta_checksum), table);
  if (meta != stored_meta) {
    err = container_error(P::checksum, F::meta_checksum, fmt::at_meta_checksum,
                          "metadata checksum mismatch: header and table hash to " + hex(meta) + ", the header says " +
                              hex(stored_meta));
    return false;
  }
  out.clear();
  out.reserve(h.section_count);
  std::uint64_t prev_end = h.table_end;
  for (std::size_t i = 0; i < h.section_count; ++i) {
    const std::byte* e = table.data() + i * fmt::entry_size;
    const std::uint64_t at = entry_at(i);
    const std::string who = "section " + std::to_string(i) + (i == 0 ? " (pickle)" : " (buffer)") + ": ";
    section_info s;
    s.kind = static_cast<std::uint8_t>(e[fmt::at_kind]);
    s.codec = static_cast<std::uint8_t>(e[fmt::at_codec]);
    s.align_log2 = static_cast<unsigned>(e[fmt::at_align_log2]);
    const auto reserved0 = static_cast<unsigned>(e[fmt::at_entry_reserved0]);
    const auto flags = load_le(e + fmt::at_section_flags, 4);
    s.offset = load_le(e + fmt::at_offset, 8);
    s.stored_size = load_le(e + fmt::at_stored_size, 8);
    s.raw_size = load_le(e + fmt::at_raw_size, 8);
    s.checksum = load_le(e + fmt::at_checksum, 8);
    const auto reserved = load_le(e + fmt::at_entry_reserved, 8);

    if (s.kind != fmt::kind_pickle && s.kind != fmt::kind_buffer) {
      err = container_error(P::unsupported, F::kind, at + fmt::at_kind,
                            who + "unknown kind " + std::to_string(s.kind) + " (1 = pickle, 2 = buffer)");
      return false;
    }
    const std::uint8_t want = i == 0 ? fmt::kind_pickle : fmt::kind_buffer;
    if (s.kind != want) {
      err = container_error(P::corrupt, F::kind, at + fmt::at_kind,
                            who + "kind " + std::to_string(s.kind) + ", but " +
                                (i == 0 ? "section 0 must be the pickle" : "only section 0 is a pickle"));
      return false;
    }
    if (s.codec != fmt::codec_none && s.codec != fmt::codec_zstd) {
      err = container_error(P::unsupported, F::codec, at + fmt::at_codec,
                            who + "unknown codec " + std::to_string(s.codec) + " (0 = none, 1 = zstd)");
      return false;
    }
    if (s.align_log2 < fmt::min_align_log2 || s.align_log2 > fmt::max_align_log2) {
      err = container_error(P::corrupt, F::align_log2, at + fmt::at_align_log2,
                            who + "align_log2 " + std::to_string(s.align_log2) + " is outside 6..30");
      return false;
    }
    if (reserved0 != 0 || reserved != 0) {
      err = container_error(P::corrupt, F::entry_reserved, at + (reserved0 != 0 ? fmt::at_entry_reserved0 : fmt::at_entry_reserved),
                            who + "reserved entry bytes are not zero");
      return false;
    }
    if ((flags & ~std::uint64_t{fmt::known_section_flags}) != 0) {
      err = container_error(P::unsupported, F::section_flags, at + fmt::at_section_flags,
                            who + "unknown section flags " + hex(flags & ~std::uint64_t{fmt::known_section_flags}));
      return false;
    }
    s.readonly = (flags & fmt::flag_readonly) != 0;
    s.has_checksum = (flags & fmt::flag_unchecked) == 0;
    if (i == 0 && s.readonly) {
      err = container_error(P::corrupt, F::section_flags, at + fmt::at_section_flags,
                            who + "the readonly flag applies to buffers only");
      return false;
    }
    if (!s.has_checksum && s.checksum != 0) {
      err = container_error(P::corrupt, F::checksum, at + fmt::at_checksum,
                            who + "an unchecked section must have checksum 0");
      return false;
    }
    // The layout rule: exactly at the end of the previous section, aligned.
    const std::uint64_t align = std::uint64_t{1} << s.align_log2;
    if (s.offset % align != 0) {
      err = container_error(P::corrupt, F::offset, at + fmt::at_offset,
                            who + "offset " + std::to_string(s.offset) + " is not a multiple of " + std::to_string(align) +
                                " (align_log2 " + std::to_string(s.align_log2) + ")");
      return false;
    }
    std::uint64_t expected = 0;
    if (!align_up(prev_end, s.align_log2, expected) || s.offset != expected) {
      err = container_error(P::corrupt, F::offset, at + fmt::at_offset,
                            who + "offset " + std::to_string(s.offset) +
                                (s.offset < prev_end ? " overlaps what precedes it" : " leaves a gap") + " (expected " +
                                std::to_string(expected) + ", the end of " +
                                (i == 0 ? std::string("the table") : "section " + std::to_string(i - 1)) + " aligned to " +
                                std::to_string(align) + ")");
      return false;
    }
    if (s.offset > h.total_size) {
      err = container_error(P::corrupt, F::offset, at + fmt::at_offset,
                            who + "offset " + std::to_string(s.offset) + " is beyond total_size " + std::to_string(h.total_size));
      return false;
    }
    if (s.stored_size > h.total_size - s.offset) {  // cannot overflow: offset <= total
      err = container_error(P::corrupt, F::stored_size, at + fmt::at_stored_size,
                            who + "stored_size " + std::to_string(s.stored_size) + " at offset " + std::to_string(s.offset) +
                                " runs past total_size " + std::to_string(h.total_size));
      return false;
    }
    if (s.codec == fmt::codec_none && s.raw_size != s.stored_size) {
      err = container_error(P::corrupt, F::raw_size, at + fmt::at_raw_size,
                            who + "raw_size " + std::to_string(s.raw_size) + " differs from stored_size " +
                                std::to_string(s.stored_size) + " without a codec");
      return false;
    }
    if (s.codec == fmt::codec_zstd && s.stored_size == 0) {
      err = container_error(P::corrupt, F::stored_size, at + fmt::at_stored_size, who + "an empty zstd section");
      return false;
    }
    prev_end = s.offset + s.stored_size;
    out.push_back(s);
  }
  if (prev_end != h.total_size) {
    err = container_error(P::corrupt, F::total_size, fmt::at_total_size,
                          "total_size " + std::to_string(h.total_size) + " but the last section ends at " +
                              std::to_string(prev_end));
    return false;
  }
  return true;
}

}  // namespace detail
}  // namespace brine
