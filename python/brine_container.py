"""brine_container — brine's large-buffer container format for CPython (standard library only).

A container holds one protocol-5 pickle stream and its PEP 574 out-of-band buffers, laid out so a
reader maps the file and hands the buffers to ``pickle.loads`` as memoryview slices of the mapping,
without copying them. The format is specified byte by byte in docs/FORMAT.md and in brine's C++
header include/brine/container.hpp; C++ and CPython read each other's containers.

Writing::

    import brine_container as bc
    bc.dump(obj, "/dev/shm/job-42.brc")            # pickle.dumps(obj, 5, buffer_callback=...)
    fd = bc.dump_memfd(obj)                         # a sealed memfd, for send_container()
    bc.write("x.brc", pickle_bytes, [buf1, buf2])  # any producer: a pickle and its buffers

Reading::

    obj = bc.load("/dev/shm/job-42.brc")            # verify="all" by default
    with bc.open("x.brc", verify="skip_bulk") as c:  # O(1) in the size of the big buffers
        obj = c.load()

Optional accelerators: ``xxhash`` (XXH3-64 checksums at memory speed) and ``zstandard`` (or the
standard library's ``compression.zstd`` on Python 3.14+). Without xxhash, checksums are computed
by a pure-Python XXH3 that is far too slow for large buffers: sections up to
``PURE_PYTHON_HASH_LIMIT`` bytes are still checksummed and verified, larger ones are written with
the ``unchecked`` flag and are not verified on read; each such case emits a
``ChecksumSkippedWarning`` and is reported by ``Section.verified``. Without a zstd module,
containers are written uncompressed, and reading a compressed section raises ContainerError.

Errors: every problem with a container raises ``ContainerError`` (a ValueError) whose ``problem``
is one of "corrupt", "checksum", "unsupported", "truncated", "limit", "io", whose ``field`` names
the field at fault (the same names as brine's C++ ``container_field``) and whose ``offset`` is
the byte offset of that field in the container.

Lifetime: buffers returned by a mapped container are memoryview slices of an ``mmap``; the mapping
lives as long as any of them (or any object built on them, such as a numpy array) does.

Requires Python 3.8+ (memfd_create, F_ADD_SEALS); fd passing uses socket.sendmsg/recvmsg.
"""

import array
import errno
import fcntl
import mmap
import os
import pickle
import socket
import stat
import struct
import warnings
from collections import namedtuple

__all__ = [
    "ContainerError", "ChecksumSkippedWarning", "Section", "Container",
    "write", "dump", "write_memfd", "dump_memfd", "to_bytes",
    "open", "load", "open_bytes", "read_stream",
    "send_container", "receive_container_fd", "receive_container",
    "xxh3_64", "has_xxhash", "has_zstd", "set_accelerators",
    "MAGIC", "VERSION",
]

# --------------------------------------------------------------------------------------------
# Format constants (docs/FORMAT.md)
# --------------------------------------------------------------------------------------------

MAGIC = b"\x89BRN\r\n\x1a\n"
VERSION = 1
HEADER_SIZE = 64
ENTRY_SIZE = 48
MIN_ALIGN_LOG2 = 6
MAX_ALIGN_LOG2 = 30
PAGE_ALIGN_LOG2 = 12
KIND_PICKLE = 1
KIND_BUFFER = 2
CODEC_NONE = 0
CODEC_ZSTD = 1
FLAG_READONLY = 1
FLAG_UNCHECKED = 2
KNOWN_FLAGS = FLAG_READONLY | FLAG_UNCHECKED

# magic, version, header_size, entry_size, reserved, flags, section_count, total_size,
# reserved[24], meta_checksum
_HEADER = struct.Struct("<8sHHHHIIQ24sQ")
# kind, codec, align_log2, reserved, flags, offset, stored_size, raw_size, checksum, reserved
_ENTRY = struct.Struct("<BBBBIQQQQQ")
assert _HEADER.size == HEADER_SIZE and _ENTRY.size == ENTRY_SIZE

# Field offsets, for error reports.
_AT = {"magic": 0, "version": 8, "header_size": 10, "entry_size": 12, "header reserved": 14,
       "flags": 16, "section_count": 20, "total_size": 24, "meta_checksum": 56}
_AT_ENTRY = {"kind": 0, "codec": 1, "align_log2": 2, "entry reserved": 3, "section flags": 4,
             "offset": 8, "stored_size": 16, "raw_size": 24, "checksum": 32}

_FD_TAG = b"BRINEFD1"

#: Without the xxhash module, sections up to this many bytes are still checksummed in pure Python.
PURE_PYTHON_HASH_LIMIT = 1 << 18

_M64 = (1 << 64) - 1


class ContainerError(ValueError):
    """A container that is corrupt, truncated, lying, of an unknown version, or over a limit."""

    def __init__(self, problem, field, offset, message):
        super().__init__("container: %s [%s]" % (message, field))
        self.problem = problem
        self.field = field
        self.offset = offset


class ChecksumSkippedWarning(UserWarning):
    """A checksum was not computed or not verified because the xxhash module is missing."""


Section = namedtuple("Section", "kind codec align_log2 readonly has_checksum verified offset "
                                "stored_size raw_size checksum")

# --------------------------------------------------------------------------------------------
# XXH3-64, seed 0: the xxhash module when present, else a pure-Python implementation
# --------------------------------------------------------------------------------------------

_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
    "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e")
_P32_1, _P32_2, _P32_3 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D
_P64_1, _P64_2, _P64_3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_P64_4, _P64_5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _r64(b, i):
    return _U64.unpack_from(b, i)[0]


def _r32(b, i):
    return _U32.unpack_from(b, i)[0]


def _xxh64_avalanche(h):
    h ^= h >> 33
    h = (h * _P64_2) & _M64
    h ^= h >> 29
    h = (h * _P64_3) & _M64
    return h ^ (h >> 32)


def _xxh3_avalanche(h):
    h ^= h >> 37
    h = (h * 0x165667919E3779F9) & _M64
    return h ^ (h >> 32)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _M64


def _fold(a, b):
    p = a * b
    return (p & _M64) ^ (p >> 64)


def _mix16(data, i, s):
    return _fold(_r64(data, i) ^ _r64(_SECRET, s), _r64(data, i + 8) ^ _r64(_SECRET, s + 8))


def _swap64(x):
    return int.from_bytes(x.to_bytes(8, "little"), "big")


def _xxh3_long(data, n):
    acc = [_P32_3, _P64_1, _P64_2, _P64_3, _P64_4, _P32_2, _P64_5, _P32_1]
    keys = [[_r64(_SECRET, s * 8 + 8 * k) for k in range(8)] for s in range(17)]
    last_keys = [_r64(_SECRET, 192 - 64 - 7 + 8 * k) for k in range(8)]
    scramble_keys = [_r64(_SECRET, 192 - 64 + 8 * k) for k in range(8)]
    stripes_per_block = (192 - 64) // 8  # 16
    block = 64 * stripes_per_block
    nb_blocks = (n - 1) // block
    words = struct.Struct("<%dQ" % (8 * stripes_per_block))

    def accumulate(lanes, first, count):
        for s in range(count):
            key = keys[s]
            for k in range(8):
                v = lanes[first + s * 8 + k]
                dk = v ^ key[k]
                acc[k ^ 1] = (acc[k ^ 1] + v) & _M64
                acc[k] = (acc[k] + (dk & 0xFFFFFFFF) * (dk >> 32)) & _M64

    for b in range(nb_blocks):
        accumulate(words.unpack_from(data, b * block), 0, stripes_per_block)
        for k in range(8):
            a = acc[k]
            a ^= a >> 47
            a ^= scramble_keys[k]
            acc[k] = (a * _P32_1) & _M64
    tail_stripes = ((n - 1) - block * nb_blocks) // 64
    if tail_stripes:
        lanes = struct.unpack_from("<%dQ" % (8 * tail_stripes), data, nb_blocks * block)
        accumulate(lanes, 0, tail_stripes)
    last = struct.unpack_from("<8Q", data, n - 64)
    for k in range(8):
        v = last[k]
        dk = v ^ last_keys[k]
        acc[k ^ 1] = (acc[k ^ 1] + v) & _M64
        acc[k] = (acc[k] + (dk & 0xFFFFFFFF) * (dk >> 32)) & _M64
    result = (n * _P64_1) & _M64
    for k in range(4):
        result += _fold(acc[2 * k] ^ _r64(_SECRET, 11 + 16 * k), acc[2 * k + 1] ^ _r64(_SECRET, 11 + 16 * k + 8))
    return _xxh3_avalanche(result & _M64)


def _xxh3_pure(data):
    data = memoryview(data).cast("B")
    n = len(data)
    if n == 0:
        return _xxh64_avalanche(_r64(_SECRET, 56) ^ _r64(_SECRET, 64))
    if n <= 3:
        combined = (data[0] << 16) | (data[n >> 1] << 24) | data[n - 1] | (n << 8)
        return _xxh64_avalanche(combined ^ (_r32(_SECRET, 0) ^ _r32(_SECRET, 4)))
    if n <= 8:
        in64 = _r32(data, n - 4) + (_r32(data, 0) << 32)
        h = in64 ^ (_r64(_SECRET, 8) ^ _r64(_SECRET, 16))
        h ^= _rotl(h, 49) ^ _rotl(h, 24)
        h = (h * 0x9FB21C651E98DF25) & _M64
        h ^= (h >> 35) + n
        h = (h * 0x9FB21C651E98DF25) & _M64
        return h ^ (h >> 28)
    if n <= 16:
        lo = _r64(data, 0) ^ (_r64(_SECRET, 24) ^ _r64(_SECRET, 32))
        hi = _r64(data, n - 8) ^ (_r64(_SECRET, 40) ^ _r64(_SECRET, 48))
        return _xxh3_avalanche((n + _swap64(lo) + hi + _fold(lo, hi)) & _M64)
    if n <= 128:
        acc = n * _P64_1
        if n > 32:
            if n > 64:
                if n > 96:
                    acc += _mix16(data, 48, 96) + _mix16(data, n - 64, 112)
                acc += _mix16(data, 32, 64) + _mix16(data, n - 48, 80)
            acc += _mix16(data, 16, 32) + _mix16(data, n - 32, 48)
        acc += _mix16(data, 0, 0) + _mix16(data, n - 16, 16)
        return _xxh3_avalanche(acc & _M64)
    if n <= 240:
        acc = n * _P64_1
        for i in range(8):
            acc += _mix16(data, 16 * i, 16 * i)
        acc = _xxh3_avalanche(acc & _M64)
        for i in range(8, n // 16):
            acc += _mix16(data, 16 * i, 16 * (i - 8) + 3)
        acc += _mix16(data, n - 16, 136 - 17)
        return _xxh3_avalanche(acc & _M64)
    return _xxh3_long(data, n)


try:
    import xxhash as _xxhash
    _xxh3_fast = _xxhash.xxh3_64_intdigest
except Exception:  # pragma: no cover - depends on the machine
    _xxhash = None
    _xxh3_fast = None

_zstd_compress = _zstd_decompress = None
try:
    import zstandard as _zstandard

    def _zstd_compress(data, level):
        return _zstandard.ZstdCompressor(level=level).compress(data)

    def _zstd_decompress(data, limit):
        # At most limit bytes are produced, whatever the frames declare.
        reader = _zstandard.ZstdDecompressor().stream_reader(bytes(data), read_across_frames=True)
        return reader.read(limit)
except Exception:  # pragma: no cover
    try:
        from compression import zstd as _stdzstd  # Python 3.14+

        def _zstd_compress(data, level):
            return _stdzstd.compress(data, level=level)

        def _zstd_decompress(data, limit):
            out = bytearray()
            rest = bytes(data)
            while rest and len(out) < limit:
                d = _stdzstd.ZstdDecompressor()
                out += d.decompress(rest, max_length=limit - len(out))
                if not d.eof:
                    break
                rest = d.unused_data
            return bytes(out)
    except Exception:
        pass

_use_xxhash = _xxh3_fast is not None
_use_zstd = _zstd_compress is not None


def has_xxhash():
    """True when checksums run at memory speed (the xxhash module is present and enabled)."""
    return _use_xxhash


def has_zstd():
    return _use_zstd


def set_accelerators(xxhash=True, zstd=True):
    """Enable or disable the optional modules (tests use this to exercise the pure paths)."""
    global _use_xxhash, _use_zstd
    _use_xxhash = bool(xxhash) and _xxh3_fast is not None
    _use_zstd = bool(zstd) and _zstd_compress is not None


def xxh3_64(data):
    """XXH3-64 with seed 0 of a bytes-like object."""
    if _use_xxhash:
        return _xxh3_fast(data)
    return _xxh3_pure(data)


def _can_hash(n):
    return _use_xxhash or n <= PURE_PYTHON_HASH_LIMIT


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def _as_bytes_view(b):
    """A 1-D unsigned-byte memoryview of a buffer (PickleBuffer, memoryview, bytes, array...)."""
    if isinstance(b, pickle.PickleBuffer):
        mv = b.raw()
    else:
        mv = memoryview(b)
        if not mv.c_contiguous:
            raise ValueError("container buffers must be contiguous")
        mv = mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv
    return mv


def _sample_pays(mv, level, max_ratio):
    piece, pieces = 10_000, 5
    if len(mv) <= piece * pieces:
        return True
    span = len(mv) - piece
    sample = b"".join(bytes(mv[span // (pieces - 1) * k: span // (pieces - 1) * k + piece]) for k in range(pieces))
    return len(_zstd_compress(sample, level)) <= max_ratio * len(sample)


class _Plan:
    __slots__ = ("head", "sections", "stored", "total")


def _plan(pickle_data, buffers, readonly, compress, level, min_size, max_ratio, zero_copy_threshold,
          compress_zero_copy, page_align_threshold):
    if compress not in ("auto", "never", "always"):
        raise ValueError("compress must be 'auto', 'never' or 'always'")
    views = [_as_bytes_view(pickle_data)] + [_as_bytes_view(b) for b in buffers]
    if readonly is None:
        flags = [False] + [v.readonly for v in views[1:]]
    else:
        flags = [False] + [bool(r) for r in readonly]
        if len(flags) != len(views):
            raise ValueError("one readonly flag per buffer")
    n = len(views)
    end = HEADER_SIZE + ENTRY_SIZE * n
    sections, stored = [], []
    for i, mv in enumerate(views):
        codec, data = CODEC_NONE, mv
        size = len(mv)
        candidate = _use_zstd and compress != "never" and size > 0 and not (
            i > 0 and size >= zero_copy_threshold and not compress_zero_copy)
        if candidate and compress == "auto":
            candidate = size >= min_size and _sample_pays(mv, level, max_ratio)
        if candidate:
            z = _zstd_compress(mv, level)
            if compress == "always" or len(z) <= max_ratio * size:
                codec, data = CODEC_ZSTD, memoryview(z)
        stored_size = len(data)
        align = PAGE_ALIGN_LOG2 if stored_size >= page_align_threshold else MIN_ALIGN_LOG2
        offset = (end + (1 << align) - 1) & ~((1 << align) - 1)
        if _can_hash(stored_size):
            checked, checksum = True, xxh3_64(data)
        else:
            warnings.warn("section %d (%d bytes) written without a checksum: install xxhash" % (i, stored_size),
                          ChecksumSkippedWarning, stacklevel=4)
            checked, checksum = False, 0
        sec_flags = (FLAG_READONLY if flags[i] else 0) | (0 if checked else FLAG_UNCHECKED)
        sections.append((KIND_PICKLE if i == 0 else KIND_BUFFER, codec, align, sec_flags, offset, stored_size,
                         size, checksum))
        stored.append(data)
        end = offset + stored_size
    head = bytearray(HEADER_SIZE + ENTRY_SIZE * n)
    _HEADER.pack_into(head, 0, MAGIC, VERSION, HEADER_SIZE, ENTRY_SIZE, 0, 0, n, end, bytes(24), 0)
    for i, (kind, codec, align, sec_flags, offset, stored_size, raw, checksum) in enumerate(sections):
        _ENTRY.pack_into(head, HEADER_SIZE + ENTRY_SIZE * i, kind, codec, align, 0, sec_flags, offset, stored_size,
                         raw, checksum, 0)
    meta = xxh3_64(bytes(head[:56]) + bytes(head[HEADER_SIZE:]))  # small: pure Python is fine
    struct.pack_into("<Q", head, 56, meta)
    p = _Plan()
    p.head, p.sections, p.stored, p.total = bytes(head), sections, stored, end
    return p


def _pieces(p):
    out = [p.head]
    at = len(p.head)
    for sec, data in zip(p.sections, p.stored):
        offset, stored_size = sec[4], sec[5]
        if offset > at:
            out.append(bytes(offset - at))
        if stored_size:
            out.append(data)
        at = offset + stored_size
    return out


def _write_all(fd, pieces, sock=None):
    """writev / sendmsg every piece, handling partial writes and the IOV_MAX limit."""
    pieces = [memoryview(x).cast("B") for x in pieces if len(x)]
    i = 0
    while i < len(pieces):
        batch = pieces[i:i + 512]
        n = sock.sendmsg(batch) if sock is not None else os.writev(fd, batch)
        while n and i < len(pieces):
            if n >= len(pieces[i]):
                n -= len(pieces[i])
                i += 1
            else:
                pieces[i] = pieces[i][n:]
                n = 0


_WRITE_DEFAULTS = dict(readonly=None, compress="auto", level=3, min_size=10_000, max_ratio=0.7,
                       zero_copy_threshold=1 << 20, compress_zero_copy=False, page_align_threshold=1 << 16)


def _options(kw, extra=()):
    opts = dict(_WRITE_DEFAULTS)
    for k, v in kw.items():
        if k not in opts and k not in extra:
            raise TypeError("unexpected option %r" % k)
        opts[k] = v
    return opts


def write(dest, pickle_data, buffers=(), **options):
    """Write a container; returns its size in bytes.

    ``dest``: a path (str or PathLike; written to a temporary file beside it, then renamed), an
    int file descriptor or an object with ``fileno()`` (flushed, then written in order from the
    descriptor's current position: files, pipes), or a ``socket.socket``. ``buffers``: buffer objects in NEXT_BUFFER
    order (PickleBuffer, memoryview, bytes, bytearray, numpy arrays); their memory goes to the
    file with writev, without a copy. ``readonly``: one flag per buffer (default: each buffer's
    own ``readonly``). Options (defaults as brine's C++ writer): compress="auto" | "never" |
    "always", level=3, min_size=10_000, max_ratio=0.7, zero_copy_threshold=1 MiB (buffers at
    least this big are never compressed unless compress_zero_copy=True), page_align_threshold=64
    KiB, mode=0o600 (new files).
    """
    opts = _options(options, extra=("mode",))
    mode = opts.pop("mode", 0o600)
    p = _plan(pickle_data, buffers, **opts)
    pieces = _pieces(p)
    if isinstance(dest, socket.socket):
        _write_all(dest.fileno(), pieces, sock=dest)
    elif isinstance(dest, int):
        _write_all(dest, pieces)
    elif hasattr(dest, "fileno") and not isinstance(dest, (str, bytes, os.PathLike)):
        if hasattr(dest, "flush"):
            dest.flush()
        _write_all(dest.fileno(), pieces)
    else:
        path = os.fspath(dest)
        temp = "%s.brine-tmp-%d-%d" % (path, os.getpid(), id(p))
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            try:
                if p.total:
                    os.posix_fallocate(fd, 0, p.total)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EFBIG):
                    raise
            _write_all(fd, pieces)
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        os.replace(temp, path)
    return p.total


def _pickle_oob(obj, protocol=5, min_size=0):
    buffers = []

    def callback(pb):
        if len(pb.raw()) < min_size:
            return True  # in-band
        buffers.append(pb)
        return False

    return pickle.dumps(obj, protocol=protocol, buffer_callback=callback), buffers


def dump(obj, dest, *, oob_min_size=0, **options):
    """pickle.dumps(obj, protocol=5, buffer_callback=...) and write the container to ``dest``.

    Every PickleBuffer of at least ``oob_min_size`` bytes goes out-of-band.
    """
    data, buffers = _pickle_oob(obj, min_size=oob_min_size)
    return write(dest, data, buffers, **options)


def write_memfd(pickle_data, buffers=(), *, seal=True, name="brine-container", **options):
    """Write a container into a new memfd (close-on-exec, file offset 0) and return the fd.

    With ``seal`` (default) the memfd is sealed against writing, shrinking and growing, as brine's
    receivers require by default. The caller owns (and closes) the descriptor.
    """
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        p = _plan(pickle_data, buffers, **_options(options))
        total = p.total
        if total:
            try:
                os.posix_fallocate(fd, 0, total)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EFBIG):
                    raise
        _write_all(fd, _pieces(p))
        os.lseek(fd, 0, os.SEEK_SET)
        if seal:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    except BaseException:
        os.close(fd)
        raise
    return fd


def dump_memfd(obj, *, oob_min_size=0, **options):
    data, buffers = _pickle_oob(obj, min_size=oob_min_size)
    return write_memfd(data, buffers, **options)


def to_bytes(pickle_data, buffers=(), **options):
    """The container as one bytes object (copies; for tests and other transports)."""
    p = _plan(pickle_data, buffers, **_options(options))
    out = bytearray(p.total)
    out[:len(p.head)] = p.head
    for sec, data in zip(p.sections, p.stored):
        out[sec[4]:sec[4] + sec[5]] = data
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def _err(problem, field, offset, message):
    return ContainerError(problem, field, offset, message)


def _parse_header(h, max_sections):
    magic, version, header_size, entry_size, r0, flags, count, total, reserved, meta = _HEADER.unpack(h)
    if magic != MAGIC:
        raise _err("corrupt", "magic", 0, "bad magic: not a brine container")
    if version != VERSION:
        raise _err("unsupported", "version", 8,
                   "unsupported container version %d (this reader understands version %d)" % (version, VERSION))
    if flags:
        raise _err("unsupported", "flags", 16, "unsupported container flags %#x (version 1 defines none)" % flags)
    if header_size != HEADER_SIZE:
        raise _err("corrupt", "header_size", 10, "header_size is %d, version 1 has 64" % header_size)
    if entry_size != ENTRY_SIZE:
        raise _err("corrupt", "entry_size", 12, "entry_size is %d, version 1 has 48" % entry_size)
    if r0:
        raise _err("corrupt", "header reserved", 14, "reserved header bytes 14..15 are not zero")
    if any(reserved):
        raise _err("corrupt", "header reserved", 32, "reserved header bytes 32..55 are not zero")
    if count == 0:
        raise _err("corrupt", "section_count", 20, "section_count is 0 (a container holds at least the pickle)")
    if count > max_sections:
        raise _err("limit", "section_count", 20, "%d sections exceed max_sections (%d)" % (count, max_sections))
    table_end = HEADER_SIZE + ENTRY_SIZE * count
    if total < table_end:
        raise _err("corrupt", "total_size", 24,
                   "total_size %d is smaller than the header and table (%d bytes)" % (total, table_end))
    return count, total, table_end, meta


def _parse_table(header, table, count, total, table_end, meta):
    got = xxh3_64(bytes(header[:56]) + bytes(table))
    if got != meta:
        raise _err("checksum", "meta_checksum", 56,
                   "metadata checksum mismatch: header and table hash to %#x, the header says %#x" % (got, meta))
    out = []
    prev_end = table_end
    for i in range(count):
        at = HEADER_SIZE + ENTRY_SIZE * i
        kind, codec, align, r0, flags, offset, stored, raw, checksum, r1 = _ENTRY.unpack_from(table, at - HEADER_SIZE)
        who = "section %d (%s): " % (i, "pickle" if i == 0 else "buffer")
        if kind not in (KIND_PICKLE, KIND_BUFFER):
            raise _err("unsupported", "kind", at, who + "unknown kind %d" % kind)
        if kind != (KIND_PICKLE if i == 0 else KIND_BUFFER):
            raise _err("corrupt", "kind", at, who + "kind %d in the wrong place" % kind)
        if codec not in (CODEC_NONE, CODEC_ZSTD):
            raise _err("unsupported", "codec", at + 1, who + "unknown codec %d" % codec)
        if not MIN_ALIGN_LOG2 <= align <= MAX_ALIGN_LOG2:
            raise _err("corrupt", "align_log2", at + 2, who + "align_log2 %d is outside 6..30" % align)
        if r0 or r1:
            raise _err("corrupt", "entry reserved", at + (3 if r0 else 40), who + "reserved entry bytes are not zero")
        if flags & ~KNOWN_FLAGS:
            raise _err("unsupported", "section flags", at + 4, who + "unknown section flags %#x" % (flags & ~KNOWN_FLAGS))
        readonly = bool(flags & FLAG_READONLY)
        has_checksum = not flags & FLAG_UNCHECKED
        if i == 0 and readonly:
            raise _err("corrupt", "section flags", at + 4, who + "the readonly flag applies to buffers only")
        if not has_checksum and checksum:
            raise _err("corrupt", "checksum", at + 32, who + "an unchecked section must have checksum 0")
        a = 1 << align
        expected = (prev_end + a - 1) & ~(a - 1)
        if offset % a or offset != expected:
            raise _err("corrupt", "offset", at + 8, who + "offset %d, expected %d (aligned to %d)" % (offset, expected, a))
        if offset > total:
            raise _err("corrupt", "offset", at + 8, who + "offset %d is beyond total_size %d" % (offset, total))
        if stored > total - offset:
            raise _err("corrupt", "stored_size", at + 16,
                       who + "stored_size %d at offset %d runs past total_size %d" % (stored, offset, total))
        if codec == CODEC_NONE and raw != stored:
            raise _err("corrupt", "raw_size", at + 24, who + "raw_size %d differs from stored_size %d" % (raw, stored))
        if codec == CODEC_ZSTD and stored == 0:
            raise _err("corrupt", "stored_size", at + 16, who + "an empty zstd section")
        prev_end = offset + stored
        out.append(Section(kind, codec, align, readonly, has_checksum, False, offset, stored, raw, checksum))
    if prev_end != total:
        raise _err("corrupt", "total_size", 24, "total_size %d but the last section ends at %d" % (total, prev_end))
    return out


class Container:
    """An opened, validated container.

    ``pickle``: the pickle stream (a memoryview); ``buffers``: the out-of-band buffers in
    NEXT_BUFFER order (memoryview slices of the mapping for uncompressed sections, new bytes for
    compressed ones); ``sections``: Section tuples (0 is the pickle); ``mapping``: the mmap (None
    for streams read into memory). ``load()`` unpickles with the buffers.
    """

    def __init__(self, mapping, sections, pickle_view, buffers, immutable, mapped):
        self.mapping = mapping
        self.sections = sections
        self.pickle = pickle_view
        self.buffers = buffers
        self.immutable = immutable
        #: True for a mapped file or memfd (False for streams and bytes).
        self.mapped = mapped

    @property
    def readonly(self):
        return [s.readonly for s in self.sections[1:]]

    def load(self, **kwargs):
        """pickle.loads(self.pickle, buffers=self.buffers, **kwargs)."""
        return pickle.loads(self.pickle, buffers=self.buffers, **kwargs)

    def close(self):
        """Drop this object's references; the mapping closes when no buffer uses it any more."""
        self.pickle = None
        self.buffers = []
        m, self.mapping = self.mapping, None
        if m is not None:
            try:
                m.close()
            except BufferError:
                pass  # views are alive: the mapping goes with the last of them

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_POLICIES = ("all", "skip_bulk", "metadata")
_WRITABLE = ("cow", "readonly", "copy")


def _should_verify(i, s, verify, bulk_threshold):
    if not s.has_checksum or verify == "metadata":
        return False
    if verify == "skip_bulk":
        return i == 0 or s.codec != CODEC_NONE or s.stored_size < bulk_threshold
    return True


def _verify(i, s, data):
    if not _can_hash(s.stored_size):
        warnings.warn("section %d (%d bytes) not verified: install xxhash" % (i, s.stored_size),
                      ChecksumSkippedWarning, stacklevel=4)
        return s
    if xxh3_64(data) != s.checksum:
        raise _err("checksum", "checksum", HEADER_SIZE + ENTRY_SIZE * i + 32,
                   "section %d: checksum mismatch over %d stored bytes at offset %d" % (i, s.stored_size, s.offset))
    return s._replace(verified=True)


def _decompress(i, s, stored):
    if not _use_zstd:
        raise _err("unsupported", "codec", HEADER_SIZE + ENTRY_SIZE * i + 1,
                   "section %d is zstd-compressed: install zstandard (or use Python 3.14+)" % i)
    try:
        out = _zstd_decompress(stored, s.raw_size + 1)
    except Exception as e:
        raise _err("corrupt", "payload", s.offset, "section %d: zstd: %s" % (i, e)) from None
    if len(out) != s.raw_size:
        raise _err("corrupt", "raw_size", HEADER_SIZE + ENTRY_SIZE * i + 24,
                   "section %d: decompresses to %s bytes, raw_size says %d"
                   % (i, "more than %d" % s.raw_size if len(out) > s.raw_size else len(out), s.raw_size))
    return out


def _finish(view, read_at, size, immutable, mapping, verify, bulk_threshold, writable, max_sections,
            max_decompressed, mapped=False):
    """Validate the container whose bytes are `view` (read header/table/copies with read_at)."""
    if verify not in _POLICIES:
        raise ValueError("verify must be one of %s" % (_POLICIES,))
    if writable not in _WRITABLE:
        raise ValueError("writable must be one of %s" % (_WRITABLE,))
    if size < HEADER_SIZE:
        raise _err("truncated", "file", size, "the container has %d bytes, fewer than the 64-byte header" % size)
    header = read_at(0, HEADER_SIZE)
    count, total, table_end, meta = _parse_header(header, max_sections)
    if table_end > size:
        raise _err("truncated", "section_count", 20,
                   "the table of %d sections ends at %d, the container has %d bytes" % (count, table_end, size))
    table = read_at(HEADER_SIZE, table_end - HEADER_SIZE)
    sections = _parse_table(header, table, count, total, table_end, meta)
    if total != size:
        raise _err("truncated" if total > size else "corrupt", "total_size", 24,
                   "total_size is %d but the container has %d bytes" % (total, size))
    decompressed = 0
    pickle_view, buffers = None, []
    for i, s in enumerate(sections):
        check = _should_verify(i, s, verify, bulk_threshold)
        if s.codec == CODEC_NONE and (i > 0 or immutable):
            data = view[s.offset:s.offset + s.stored_size]
            if check:
                s = _verify(i, s, data)
        elif s.codec == CODEC_NONE:
            data = memoryview(read_at(s.offset, s.stored_size))  # a private copy of the pickle
            if check:
                s = _verify(i, s, data)
        else:
            if s.raw_size > max_decompressed - decompressed:
                raise _err("limit", "raw_size", HEADER_SIZE + ENTRY_SIZE * i + 24,
                           "section %d: raw_size %d exceeds max_decompressed (%d, %d used)"
                           % (i, s.raw_size, max_decompressed, decompressed))
            decompressed += s.raw_size
            stored = view[s.offset:s.offset + s.stored_size] if immutable else read_at(s.offset, s.stored_size)
            if check:
                s = _verify(i, s, stored)
            raw = _decompress(i, s, stored)
            data = memoryview(bytearray(raw) if (i > 0 and not s.readonly and writable != "readonly") else raw)
        sections[i] = s
        if i == 0:
            pickle_view = data
            continue
        if s.readonly or writable == "readonly":
            data = data.toreadonly()
        elif data.readonly or (writable == "copy" and s.codec == CODEC_NONE):
            # Writable as pickled, but the source is read-only (bytes, a read-only mapping), or
            # Dask's rule was asked for: a private copy.
            data = memoryview(bytearray(data))
        buffers.append(data)
    return Container(mapping, sections, pickle_view, buffers, immutable, mapped)


_DEFAULT_LIMITS = dict(max_sections=1 << 20, max_decompressed=1 << 30)


def _seals(fd):
    try:
        return fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    except OSError:
        return 0


def open(source, *, verify="all", bulk_threshold=1 << 20, writable="cow", require_seals=False,
         max_sections=1 << 20, max_decompressed=1 << 30):
    """Map and validate a container: a path, or a file descriptor (a file or memfd, mapped from
    offset 0; the descriptor is not taken).

    ``verify``: "all" (default), "skip_bulk" (not the uncompressed buffers of ``bulk_threshold``
    bytes or more: O(1) in their size), "metadata" (header and table only; always checked).
    ``writable``: what buffers pickled as writable become: "cow" (default: writable views of a
    private copy-on-write mapping, zero copy until written; the file never changes), "readonly"
    (read-only views, as Ray does), "copy" (bytearray copies, as Dask does). Buffers pickled
    read-only are always read-only views. ``require_seals``: refuse a descriptor that is not
    sealed against writing and shrinking (a peer could otherwise truncate it under the mapping).
    """
    if isinstance(source, int):
        return _open_fd(source, verify, bulk_threshold, writable, require_seals, max_sections, max_decompressed)
    fd = os.open(os.fspath(source), os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _open_fd(fd, verify, bulk_threshold, writable, require_seals, max_sections, max_decompressed)
    finally:
        os.close(fd)


def _open_fd(fd, verify, bulk_threshold, writable, require_seals, max_sections, max_decompressed):
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise _err("corrupt", "file", 0, "not a regular file or memfd (for pipes and sockets use read_stream)")
    seals = _seals(fd)
    immutable = bool(seals & fcntl.F_SEAL_WRITE) and bool(seals & fcntl.F_SEAL_SHRINK)
    if require_seals and not immutable:
        raise _err("corrupt", "seals", 0, "the descriptor is not sealed against writing and shrinking")
    size = st.st_size
    if size < HEADER_SIZE:
        raise _err("truncated", "file", size, "the container has %d bytes, fewer than the 64-byte header" % size)
    mapping = None
    if writable == "cow":
        try:
            mapping = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
        except (OSError, PermissionError):
            mapping = None  # e.g. old kernels refusing private writable maps of sealed memfds
    if mapping is None:
        mapping = mmap.mmap(fd, size, access=mmap.ACCESS_READ)

    def read_at(offset, n):
        data = os.pread(fd, n, offset)
        if len(data) != n:
            raise _err("truncated", "file", offset + len(data), "the file shrank while being read")
        return data

    view = memoryview(mapping)
    try:
        return _finish(view, read_at, size, immutable, mapping, verify, bulk_threshold, writable, max_sections,
                       max_decompressed, mapped=True)
    except BaseException:
        try:
            view.release()
            mapping.close()
        except BufferError:
            pass  # slices made before the error still refer to it; the collector unmaps it
        raise


def load(source, *, verify="all", writable="cow", **kwargs):
    """Open a container and unpickle it with its buffers."""
    return open(source, verify=verify, writable=writable, **kwargs).load()


def open_bytes(data, *, verify="all", bulk_threshold=1 << 20, writable="cow", max_sections=1 << 20,
               max_decompressed=1 << 30):
    """Validate a container held in a bytes-like object (buffers are slices of it)."""
    view = memoryview(data).cast("B")

    def read_at(offset, n):
        return bytes(view[offset:offset + n])

    return _finish(view, read_at, len(view), False, None, verify, bulk_threshold, writable, max_sections,
                   max_decompressed)


def _read_exact(read_into, n, base):
    """Read exactly n bytes (n is small and already bounded) with read_into(memoryview) -> count."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = read_into(view[got:])
        if not r:
            raise _err("truncated", "file", base + got,
                       "the stream ended after %d bytes, %d more were declared" % (base + got, n - got))
        got += r
    return bytes(buf)


def read_stream(source, *, verify="all", bulk_threshold=1 << 20, writable="cow", max_size=1 << 30,
                max_sections=1 << 20, max_decompressed=1 << 30):
    """Read one container from a pipe, socket, file descriptor or binary file object, in order,
    into owned memory (an anonymous mapping, committed as bytes arrive): the header, the table
    (validated before anything else is reserved), then exactly total_size bytes in all.
    ``max_size`` bounds total_size.
    """
    if isinstance(source, socket.socket):
        read_into = source.recv_into
    elif isinstance(source, int):
        def read_into(mv, fd=source):
            return os.readv(fd, [mv])
    elif hasattr(source, "readinto"):
        read_into = source.readinto
    else:
        raise TypeError("read_stream needs a socket, a file descriptor or a binary file object")
    header = _read_exact(read_into, HEADER_SIZE, 0)
    count, total, table_end, meta = _parse_header(header, max_sections)
    table = _read_exact(read_into, table_end - HEADER_SIZE, HEADER_SIZE)
    _parse_table(header, table, count, total, table_end, meta)
    if total > max_size:
        raise _err("limit", "total_size", 24, "total_size %d exceeds max_size (%d)" % (total, max_size))
    region = mmap.mmap(-1, total)  # anonymous, lazily committed
    region[:HEADER_SIZE] = header
    region[HEADER_SIZE:table_end] = table
    view = memoryview(region)
    got = table_end
    while got < total:
        r = read_into(view[got:total])
        if not r:
            view.release()
            raise _err("truncated", "file", got, "the stream ended after %d bytes, %d more were declared"
                       % (got, total - got))
        got += r

    def read_at(offset, n):
        return bytes(view[offset:offset + n])

    return _finish(view, read_at, total, True, region, verify, bulk_threshold, writable, max_sections,
                   max_decompressed)


# --------------------------------------------------------------------------------------------
# fd passing (SCM_RIGHTS), compatible with brine::send_container / receive_container
# --------------------------------------------------------------------------------------------

def send_container(sock, fd):
    """Send the container in ``fd`` (a memfd or file) over a Unix domain socket: a 16-byte message
    b"BRINEFD1" + size (u64 LE) with the descriptor as SCM_RIGHTS. Returns the size."""
    size = os.fstat(fd).st_size
    msg = _FD_TAG + struct.pack("<Q", size)
    sent = sock.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
    if sent < len(msg):
        sock.sendall(msg[sent:])
    return size


def receive_container_fd(sock):
    """Receive one descriptor sent by send_container; returns it (the caller closes it)."""
    fds = array.array("i")
    msg, anc, flags, _ = sock.recvmsg(16, socket.CMSG_SPACE(8 * fds.itemsize), getattr(socket, "MSG_CMSG_CLOEXEC", 0))
    foreign = False
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        else:
            foreign = True
    try:
        if not msg:
            raise _err("corrupt", "socket", 0, "the peer closed the socket before sending a container")
        if flags & socket.MSG_CTRUNC:
            raise _err("corrupt", "socket", 0, "the control message was truncated (too many descriptors)")
        if foreign:
            raise _err("corrupt", "socket", 0, "unexpected ancillary data")
        if len(fds) != 1:
            raise _err("corrupt", "socket", 0, "expected exactly one descriptor, received %d" % len(fds))
        while len(msg) < 16:
            if sock.type != socket.SOCK_STREAM:
                raise _err("corrupt", "socket", 0, "a %d-byte message, expected 16" % len(msg))
            more = sock.recv(16 - len(msg))
            if not more:
                raise _err("truncated", "socket", len(msg), "the message ended early")
            msg += more
        if msg[:8] != _FD_TAG:
            raise _err("corrupt", "socket", 0, "the message does not start with BRINEFD1")
        size = struct.unpack("<Q", msg[8:16])[0]
        st = os.fstat(fds[0])
        if not stat.S_ISREG(st.st_mode):
            raise _err("corrupt", "socket", 0, "the received descriptor is not a regular file or memfd")
        if st.st_size != size:
            raise _err("corrupt", "socket", 0, "the received file has %d bytes, the message announced %d"
                       % (st.st_size, size))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    os.set_inheritable(fds[0], False)
    return fds[0]


def receive_container(sock, *, require_seals=True, **kwargs):
    """receive_container_fd, then open (seals required by default, as in brine's C++)."""
    fd = receive_container_fd(sock)
    try:
        return open(fd, require_seals=require_seals, **kwargs)
    finally:
        os.close(fd)
