// brine/container.hpp — the large-buffer transport: one pickle stream and its PEP 574 out-of-band
// buffers in one file, shared-memory file, memfd or byte stream, laid out so that a receiver maps
// it and uses the buffers in place.
//
// A producer pickles with protocol 5 and a buffer callback that keeps the large buffers out of the
// stream (brine's encode_options::on_buffer returning false, or CPython's
// `pickle.dumps(obj, protocol=5, buffer_callback=...)`), then writes the container: the pickle,
// the buffers in NEXT_BUFFER order, and each buffer's read-only flag (PEP 574's triple). A
// consumer maps the container read-only, validates it, and decodes the pickle with zero-copy views
// of the buffers whose lifetime is tied to the mapping. python/brine_container.py speaks the same
// format, so CPython processes write and read containers too.
//
// ============================================================================================
// Format, version 1 (also docs/FORMAT.md). All integers are unsigned little-endian.
// ============================================================================================
//
// The container is a 64-byte header, a table of n 48-byte section entries, then the n sections,
// each at an offset that is a multiple of its alignment.
//
// Header (64 bytes, at offset 0):
//
//   off size field          value
//   ---  ---- ------------- -----------------------------------------------------------------
//     0    8  magic         89 42 52 4E 0D 0A 1A 0A  ("\x89BRN\r\n\x1a\n": the high byte
//                           catches 7-bit channels, CR LF and ^Z catch text-mode mangling)
//     8    2  version       1. A reader rejects any other version (unsupported_version).
//    10    2  header_size   64 in version 1
//    12    2  entry_size    48 in version 1
//    14    2  reserved      0
//    16    4  flags         container features; none is defined in version 1, and a reader
//                           rejects any set bit it does not know (unsupported_version)
//    20    4  section_count n >= 1; section 0 is the pickle, sections 1..n-1 the buffers
//    24    8  total_size    bytes in the container = the end of section n-1 = the file size
//    32   24  reserved      0
//    56    8  meta_checksum XXH3-64 (seed 0) of header bytes 0..55 followed by the whole table
//
// Section entry i (48 bytes, at offset 64 + 48 i):
//
//   off size field          value
//   ---  ---- ------------- -----------------------------------------------------------------
//     0    1  kind          1 = pickle (entry 0, and only entry 0), 2 = buffer
//     1    1  codec         0 = none (the stored bytes are the data), 1 = zstd (one or more
//                           zstd frames whose decompressed bytes are the data)
//     2    1  align_log2    6..30: the section's offset is a multiple of 2^align_log2
//     3    1  reserved      0
//     4    4  flags         bit 0 readonly: the buffer was read-only when pickled (buffers
//                           only); bit 1 unchecked: the writer computed no checksum (the
//                           checksum field is then 0). Other bits: rejected (unsupported).
//     8    8  offset        of the stored bytes, from the container's first byte
//    16    8  stored_size   bytes in the container
//    24    8  raw_size      bytes of the data; equal to stored_size for codec 0
//    32    8  checksum      XXH3-64 (seed 0) of the stored bytes
//    40    8  reserved      0
//
// Layout rule (canonical, so every byte is accounted for): section 0 starts at the first multiple
// of its alignment at or after 64 + 48 n; section i starts at the first multiple of its alignment
// at or after the end of section i-1; total_size is the end of section n-1. Padding bytes are
// written as zero and ignored by readers. brine's writer aligns every section to 64 bytes, and to
// 4096 bytes (the page) when it is at least `page_align_threshold` bytes long; since mappings
// start on a page boundary, a section's address in a mapping has its file offset's alignment.
//
// ============================================================================================
// Reading untrusted containers
// ============================================================================================
//
// The container is hostile and, when mapped, may change while it is read (STYLE.md §8):
//
//  * The header and table are read once (pread, or one copy) into local memory; every field is
//    validated from that copy and never re-read. The metadata checksum is always verified.
//  * Range checks cannot overflow: `offset <= total - stored` after `stored <= total`. Sections
//    must follow the layout rule exactly: in order, non-overlapping, aligned, inside the file.
//  * Section checksums are verified per `verify_policy` before the bytes are used.
//  * Compressed sections are decompressed into owned memory; the raw size is bounded by the entry
//    AND by the caller's limit before anything is allocated; a zstd frame must produce exactly
//    the declared raw size. Their stored bytes are first copied out of the mapping, so a writer
//    changing the file cannot change what was verified.
//  * The pickle section is copied out of the mapping unless the mapping is immutable (a memfd
//    sealed against writes and shrinking, or a streamed container), for the same reason.
//  * Uncompressed buffers are zero-copy views into the read-only mapping.
//  * SIGBUS: if another process truncates a mapped file, touching a page beyond the new end
//    faults. brine's writer seals memfds (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) and
//    `container_open_options::require_seals` refuses unsealed descriptors (the default of
//    `receive_container`); regular files cannot be sealed, so open files only from writers you
//    trust not to truncate them while mapped (as for every mmap reader).
//
// Errors: every failure is a brine::error. Until brine::errc gains container codes (proposed:
// container_corrupt, checksum_mismatch, unsupported_version), a corrupt or lying container,
// a checksum mismatch and an unknown version or feature are errc::bad_argument with `detail` set
// to the `container_field` at fault and `offset` to the byte offset of that field (or of the
// section, for payload problems) in the container; a container shorter than it declares is
// errc::truncated; a caller limit is errc::limit_exceeded (`detail` = limit::max_input_bytes,
// the message names the container limit); a failed system call is errc::io_error with
// `detail` = errno. The message always names the field and the section. `opcode` is -1, except
// for errors of the pickle itself, which are brine::decode's errors with pickle offsets.
//
// Thread-safety: a `container` is immutable after it is opened; any number of threads may read
// it, its views and the documents decoded from it. Functions share nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "brine/decode.hpp"
#include "brine/document.hpp"
#include "brine/encode.hpp"
#include "brine/error.hpp"

namespace brine {

/// Constants of the byte format described above.
namespace container_format {
inline constexpr std::array<unsigned char, 8> magic{0x89, 0x42, 0x52, 0x4E, 0x0D, 0x0A, 0x1A, 0x0A};
inline constexpr std::uint16_t version = 1;
inline constexpr std::size_t header_size = 64;
inline constexpr std::size_t entry_size = 48;
inline constexpr unsigned min_align_log2 = 6;
inline constexpr unsigned max_align_log2 = 30;
inline constexpr unsigned page_align_log2 = 12;

inline constexpr std::uint8_t kind_pickle = 1;
inline constexpr std::uint8_t kind_buffer = 2;
inline constexpr std::uint8_t codec_none = 0;
inline constexpr std::uint8_t codec_zstd = 1;
inline constexpr std::uint32_t flag_readonly = 1u << 0;
inline constexpr std::uint32_t flag_unchecked = 1u << 1;
inline constexpr std::uint32_t known_section_flags = flag_readonly | flag_unchecked;

// Byte offsets of the header fields.
inline constexpr std::size_t at_magic = 0;
inline constexpr std::size_t at_version = 8;
inline constexpr std::size_t at_header_size = 10;
inline constexpr std::size_t at_entry_size = 12;
inline constexpr std::size_t at_header_reserved0 = 14;
inline constexpr std::size_t at_flags = 16;
inline constexpr std::size_t at_section_count = 20;
inline constexpr std::size_t at_total_size = 24;
inline constexpr std::size_t at_header_reserved = 32;
inline constexpr std::size_t at_meta_checksum = 56;

// Byte offsets of the fields inside a section entry.
inline constexpr std::size_t at_kind = 0;
inline constexpr std::size_t at_codec = 1;
inline constexpr std::size_t at_align_log2 = 2;
inline constexpr std::size_t at_entry_reserved0 = 3;
inline constexpr std::size_t at_section_flags = 4;
inline constexpr std::size_t at_offset = 8;
inline constexpr std::size_t at_stored_size = 16;
inline constexpr std::size_t at_raw_size = 24;
inline constexpr std::size_t at_checksum = 32;
inline constexpr std::size_t at_entry_reserved = 40;
}  // namespace container_format

/// The field an error is about: the `detail` of container errors. Stable numbers.
enum class container_field : std::uint16_t {
  none = 0,
  // Header.
  magic = 1,
  version = 2,
  header_size = 3,
  entry_size = 4,
  header_reserved = 5,
  flags = 6,
  section_count = 7,
  total_size = 8,
  meta_checksum = 9,
  // Section entries.
  kind = 16,
  codec = 17,
  align_log2 = 18,
  entry_reserved = 19,
  section_flags = 20,
  offset = 21,
  stored_size = 22,
  raw_size = 23,
  checksum = 24,
  // Section payloads and the carriers.
  payload = 32,   ///< a zstd section that does not decompress to its raw size
  file = 33,      ///< the file or descriptor itself (size, type, mapping)
  seals = 34,     ///< a descriptor without the seals `require_seals` asks for
  socket = 35,    ///< the fd-passing message
};

/// Name of a field ("stored_size"), for messages and logs.
std::string_view container_field_name(container_field f) noexcept;

/// What a section holds, as read from its entry (no pointers: safe to copy anywhere).
struct section_info {
  std::uint8_t kind = 0;    ///< container_format::kind_pickle or kind_buffer
  std::uint8_t codec = 0;   ///< container_format::codec_none or codec_zstd
  unsigned align_log2 = 0;
  bool readonly = false;    ///< buffers: PEP 574's writable flag, inverted
  bool has_checksum = true; ///< false when the writer set `unchecked`
  bool verified = false;    ///< the checksum was verified when the container was opened
  std::uint64_t offset = 0;
  std::uint64_t stored_size = 0;
  std::uint64_t raw_size = 0;
  std::uint64_t checksum = 0;
};

// ============================================================================================
// Owning a file descriptor
// ============================================================================================

/// Owns one file descriptor; closes it on destruction. Move-only.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  /// Gives up ownership without closing.
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  /// Closes the owned descriptor (if any) and owns `fd`.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// ============================================================================================
// Writing
// ============================================================================================

/// One out-of-band buffer to store: the bytes (borrowed until the write returns) and PEP 574's
/// flag. A buffer pickled as NEXT_BUFFER READONLY_BUFFER is read-only.
struct container_buffer {
  std::span<const std::byte> data;
  bool readonly = true;
};

/// When the writer compresses a section with zstd.
enum class compression : std::uint8_t {
  never,
  /// Dask's rule: only sections of at least `compress_min_size` bytes; five pieces of 10,000
  /// bytes spread over the section are compressed first, and the section is compressed only if
  /// they shrink to `compress_max_ratio` of their size or less; the result is kept only if the
  /// whole section shrinks to that ratio too. Never buffers meant for zero-copy mapping (at least
  /// `zero_copy_threshold` bytes) unless `compress_zero_copy`.
  automatic,
  /// Every non-empty section (except zero-copy buffers unless `compress_zero_copy`), whatever it
  /// saves: for bandwidth-bound links, and for tests.
  always,
};

struct container_write_options {
  compression compress = compression::automatic;
  int zstd_level = 3;                          ///< Dask's level
  std::uint64_t compress_min_size = 10'000;    ///< Dask's minimum
  double compress_max_ratio = 0.7;             ///< Dask's ratio
  /// Buffers of at least this many bytes are meant to be used in place: never compressed unless
  /// `compress_zero_copy` (a compressed buffer must be copied out of the mapping).
  std::uint64_t zero_copy_threshold = 1u << 20;
  bool compress_zero_copy = false;
  /// Sections of at least this many bytes start on a 4096-byte boundary (others on 64 bytes), so
  /// that large buffers own their pages (madvise, huge pages, independent unmapping).
  std::uint64_t page_align_threshold = 1u << 16;
  /// memfds: seal against writing, shrinking and growing (and further sealing) once written, so
  /// receivers may rely on the contents and never fault on a truncated mapping.
  bool seal = true;
  /// Files created by write_container_file.
  unsigned file_mode = 0600;
};

/// What a write produced.
struct container_summary {
  std::uint64_t total_size = 0;     ///< bytes in the container
  std::size_t sections = 0;         ///< the pickle + the buffers
  std::size_t compressed = 0;       ///< sections stored with zstd
  std::uint64_t raw_bytes = 0;      ///< sum of raw sizes
  std::uint64_t stored_bytes = 0;   ///< sum of stored sizes
};

/// Write a container to `fd` from its current position, in order (header, table, sections): for
/// regular files, pipes and sockets (the stream form is the file form). Buffers go from the
/// caller's memory to the descriptor with writev (compressed sections from owned memory); nothing
/// else is copied. Partial writes, EINTR and non-blocking descriptors (EAGAIN: poll) are handled;
/// sockets are written with MSG_NOSIGNAL, but a pipe whose reader is gone raises SIGPIPE unless
/// the process ignores it (as any write to it does).
/// Errors: io_error (detail = errno); bad_argument for more than 2^32-2 buffers.
result<container_summary> write_container(int fd, std::span<const std::byte> pickle,
                                          std::span<const container_buffer> buffers,
                                          const container_write_options& options = {});

/// Write a container to `path` (a regular file, or a file in /dev/shm for shared memory): written
/// to a temporary file beside it, then renamed over `path`, so readers never see a partial
/// container.
result<container_summary> write_container_file(const std::string& path, std::span<const std::byte> pickle,
                                               std::span<const container_buffer> buffers,
                                               const container_write_options& options = {});

/// Write a container into a new memfd (memfd_create, close-on-exec), sealed per `options.seal`,
/// with its file offset at 0. Pass it to another process with `send_container`.
result<unique_fd> write_container_memfd(std::span<const std::byte> pickle, std::span<const container_buffer> buffers,
                                        const container_write_options& options = {},
                                        container_summary* summary = nullptr);

/// The container as bytes in memory (for embedding in another transport, and for tests).
result<std::vector<std::byte>> write_container_bytes(std::span<const std::byte> pickle,
                                                     std::span<const container_buffer> buffers,
                                                     const container_write_options& options = {});

/// Collects out-of-band buffers while encoding: pass `callback()` as encode_options::on_buffer
/// (or to brine::pickle's options); every buffer of at least `min_size` bytes goes out-of-band
/// (NEXT_BUFFER) and is appended to `buffers` in stream order, the others stay in-band. The spans
/// borrow the encoded values' memory. The callback refers to this collector: keep it alive and in
/// place until the encode returns.
class buffer_collector {
 public:
  explicit buffer_collector(std::uint64_t min_size = 0) : min_size_(min_size) {}
  buffer_callback callback();
  std::vector<container_buffer> buffers;

 private:
  std::uint64_t min_size_;
};

// ============================================================================================
// Reading
// ============================================================================================

/// Which checksums are verified when a container is opened. The metadata checksum (header and
/// table) is always verified: it costs O(sections).
enum class verify_policy : std::uint8_t {
  /// Every section that carries a checksum (the default).
  all,
  /// All but uncompressed buffer sections of at least `bulk_threshold` bytes: the pickle, small
  /// buffers and compressed sections (which are read in full anyway) are verified. Opening and
  /// decoding then costs O(1) in the size of the bulk buffers, whose pages are never touched.
  skip_bulk,
  /// No section checksum; the structure is still validated in full.
  metadata,
};

/// Limits for hostile containers; each is checked before anything is allocated.
struct container_limits {
  /// Section entries. Stops a huge table from being read and kept (each costs 48 + ~80 bytes).
  std::uint64_t max_sections = 1u << 20;
  /// Sum of the raw sizes of compressed sections. Stops decompression bombs.
  std::uint64_t max_decompressed_bytes = std::uint64_t{1} << 30;
  /// Streams only: total_size of a streamed container. Stops a peer from making the reader
  /// reserve memory it never fills (reserved memory is only touched as bytes arrive, but the
  /// address space is still committed to it).
  std::uint64_t max_stream_bytes = std::uint64_t{1} << 30;
};

struct container_open_options {
  verify_policy verify = verify_policy::all;
  /// With verify_policy::skip_bulk: the size from which a buffer section is bulk.
  std::uint64_t bulk_threshold = 1u << 20;
  container_limits limits;
  /// Refuse a descriptor unless it is sealed against writing and shrinking (F_SEAL_WRITE and
  /// F_SEAL_SHRINK): its contents cannot change and its pages cannot disappear (no SIGBUS). Off
  /// for files opened by path (files cannot be sealed); on in `receive_options()`.
  bool require_seals = false;
  /// Prefault the pages of the sections being verified (MADV_POPULATE_READ) before hashing
  /// them: batches page faults, and reports a concurrently truncated file as io_error (EFAULT)
  /// instead of SIGBUS.
  bool populate = true;
};

namespace detail {
struct container_state;
struct container_access;
}  // namespace detail

/// An opened, validated container: the pickle and the buffers, ready to decode.
///
/// Lifetime: the container shares its mapping (or owned memory) with every document decoded from
/// it and with every `owner()`; the mapping is unmapped when the last of them is gone. Moving a
/// container keeps views valid. Views (`pickle()`, `buffer()`, `buffers()`, `bytes()`,
/// `section()`) are valid while the container or a document decoded from it lives; they cannot be
/// taken from a temporary container (the && overloads are deleted), since that temporary may be
/// the mapping's last owner.
class container {
 public:
  container() = default;

  /// Sections: 0 is the pickle, 1..n-1 the buffers.
  std::size_t section_count() const noexcept;
  const section_info& section(std::size_t i) const&;
  const section_info& section(std::size_t i) const&& = delete;

  /// Number of out-of-band buffers (section_count() - 1).
  std::size_t buffer_count() const noexcept;

  /// The pickle stream (a copy in owned memory unless the mapping is immutable; decompressed
  /// when stored with zstd).
  std::span<const std::byte> pickle() const& noexcept;
  std::span<const std::byte> pickle() const&& = delete;

  /// Buffer i (0-based, NEXT_BUFFER order) with its read-only flag: a zero-copy view into the
  /// mapping, or into owned memory for a compressed section.
  oob_buffer buffer(std::size_t i) const&;
  oob_buffer buffer(std::size_t i) const&& = delete;
  std::vector<oob_buffer> buffers() const&;
  std::vector<oob_buffer> buffers() const&& = delete;

  /// The whole container as mapped (or held in owned memory for streams).
  std::span<const std::byte> bytes() const& noexcept;
  std::span<const std::byte> bytes() const&& = delete;

  /// True when the contents cannot change: a sealed memfd, or a streamed container.
  bool immutable() const noexcept;
  /// True when the container is a mapping of a file or memfd (false for streams and bytes).
  bool mapped() const noexcept;

  /// Decode the pickle with the buffers (the options' `buffers` are replaced). The document holds
  /// the container's storage alive (`keep_alive`), so it may outlive this object. Decoding costs
  /// O(pickle), never O(buffers).
  result<document> decode(const decode_options& options = {}) const;

  /// A shared owner of the storage, to pass as `keep_alive` to brine::decode or to hold views.
  std::shared_ptr<const void> owner() const noexcept;

 private:
  explicit container(std::shared_ptr<const detail::container_state> s) : state_(std::move(s)) {}
  friend struct detail::container_access;
  std::shared_ptr<const detail::container_state> state_;
};

/// Open and map the container at `path` (read-only, MAP_SHARED).
result<container> open_container(const std::string& path, const container_open_options& options = {});

/// Map the container in `fd` (a regular file or memfd, from offset 0 to its end). The descriptor
/// is not taken: the mapping stays valid after the caller closes it.
result<container> open_container_fd(int fd, const container_open_options& options = {});

/// Validate a container held in memory. Borrows `bytes` (the caller keeps them alive and
/// unchanged for the container's lifetime, unless `keep_alive` owns them). Views are aligned in
/// memory only as well as `bytes.data()` is.
result<container> open_container_bytes(std::span<const std::byte> bytes, const container_open_options& options = {},
                                       std::shared_ptr<const void> keep_alive = nullptr);

/// Read one container from a pipe, socket or file, from its current position, where mapping is
/// impossible: the header, the table, then the sections in order, into owned memory. Exactly
/// total_size bytes are consumed (a stream may carry several containers). The same validation
/// as for mappings runs before anything is reserved, total_size must not exceed
/// `limits.max_stream_bytes`, and memory is reserved without being touched, so a peer that
/// declares a large container and sends nothing costs address space, not memory. EOF before the
/// end is errc::truncated; EAGAIN on a non-blocking descriptor waits (poll).
result<container> read_container_stream(int fd, const container_open_options& options = {});

/// Open, decode with the buffers, and return the document, which keeps the mapping alive.
result<document> open_document(const std::string& path, const container_open_options& options = {},
                               const decode_options& decode = {});

// ============================================================================================
// Passing a memfd to another process
// ============================================================================================

/// Send `container_fd` over the Unix domain socket `socket` (SCM_RIGHTS), with a 16-byte message:
/// "BRINEFD1" and the container's size (u64 LE, from fstat). The socket may be a stream, datagram
/// or seqpacket socket. The descriptor stays open in the sender. Returns the size sent.
result<std::uint64_t> send_container(int socket, int container_fd);

/// Receive one descriptor sent by `send_container` (or the Python module's send_container):
/// exactly one SCM_RIGHTS descriptor is accepted (extra ones are closed, and the message
/// rejected), received close-on-exec; the message must match and the descriptor must be a
/// regular file of the announced size.
result<unique_fd> receive_container_fd(int socket);

/// Options for containers received from another process: seals required.
container_open_options receive_options();

/// receive_container_fd, then open_container_fd.
result<container> receive_container(int socket, const container_open_options& options = receive_options());

}  // namespace brine
