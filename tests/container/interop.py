#!/usr/bin/env python3
"""Container interop between brine (C++, through container_peer) and CPython (brine_container.py).

Every direction and carrier: C++ -> C++, C++ -> CPython, CPython -> C++, CPython -> CPython,
through a file, a file in /dev/shm, a pipe stream, and a memfd passed over a Unix socket between
two processes. Zero copy is checked on both sides (C++: the decoded buffer lies inside the mapping;
Python: the memoryview's object is the mmap). Then the pure-Python paths (no xxhash, no zstd), the
pure XXH3 against the xxhash module, version skew and corruption seen from both sides.

Run by ctest (tests/container/CMakeLists.txt); by hand:
    python3 tests/container/interop.py --peer BUILD/tests/container/container_peer \\
        --module-dir python --workdir /tmp/brine-interop
Exit status 0 when every check passes; each check prints one line.
"""

import argparse
import os
import pickle
import random
import socket
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def run_peer(args, **kw):
    r = subprocess.run([PEER] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, **kw)
    if r.returncode != 0:
        print("peer %s failed (%d): %s" % (args, r.returncode, r.stderr.decode(errors="replace")))
    return r


# --- summaries in container_peer's format ----------------------------------------------------

def summary_of(obj, container, label=True):
    """The peer's summary of a loaded dict whose buffer values are memoryviews, in pickle order."""
    lines = ["root dict"]
    if label:
        lines.append("label %s" % obj["label"])
        lines.append("n %d" % obj["n"])
    i = 0
    for v in obj.values():
        mv = v if isinstance(v, memoryview) else None
        if mv is None and hasattr(v, "__array_interface__"):  # numpy, when present
            mv = memoryview(v)
        if mv is None:
            continue
        mapped = container is not None and container.mapped and isinstance(v, memoryview) and mv.obj is container.mapping
        lines.append("buffer %d %d %08x %s %s" % (i, mv.nbytes, zlib.crc32(mv.cast("B")) & 0xffffffff,
                                                  "ro" if mv.readonly else "rw", "mapped" if mapped else "owned"))
        i += 1
    return lines


def python_object(numpy_too=True):
    rng = random.Random(5)
    obj = {
        "label": "from CPython",
        "n": 7,
        "w": pickle.PickleBuffer(bytearray(rng.getrandbits(8) for _ in range(200_000))),  # writable
        "r": pickle.PickleBuffer(bytes(rng.getrandbits(8) for _ in range(5_000))),      # read-only
        "z": pickle.PickleBuffer(bytes(100_000)),                                          # compressible
        "e": pickle.PickleBuffer(b""),
    }
    if numpy_too and NUMPY is not None:
        obj["arr"] = NUMPY.arange(30_000, dtype=NUMPY.float64)
    return obj


def expected_for_python_object(obj, carrier_maps, container_bytes):
    """The peer's summary of python_object(), from the sections the container really holds."""
    c = bc.open_bytes(container_bytes, verify="metadata")
    lines = ["root dict", "label %s" % obj["label"], "n %d" % obj["n"]]
    i = 0
    for v in obj.values():
        if isinstance(v, pickle.PickleBuffer):
            mv = v.raw()
        elif hasattr(v, "__array_interface__"):
            mv = memoryview(v).cast("B")
        else:
            continue
        sec = c.sections[i + 1]
        mapped = carrier_maps and sec.codec == bc.CODEC_NONE
        lines.append("buffer %d %d %08x %s %s" % (i, mv.nbytes, zlib.crc32(mv) & 0xffffffff,
                                                  "ro" if mv.readonly else "rw", "mapped" if mapped else "owned"))
        i += 1
    return lines


def lines(r):
    return r.stdout.decode().split("\n")[:-1]


# --- the directions ------------------------------------------------------------------------

def cpp_to_cpp_and_python(workdir, shm):
    # Without a zstd module here, the C++ side writes uncompressed containers for us.
    compress = "auto" if bc.has_zstd() else "never"
    path = os.path.join(workdir, "cpp.brc")
    check(run_peer(["write", path, compress]).returncode == 0, "C++ writes a container file (compress=%s)" % compress)
    cpp = lines(run_peer(["read", path]))
    check(len(cpp) == 7 and cpp[0] == "root dict" and cpp[1] == "label from C++", "C++ -> C++ through a file: %s" % cpp[:3])
    check(cpp[4].endswith("mapped") and cpp[6].endswith("owned" if compress == "auto" else "mapped"),
          "C++ -> C++: floats mapped (zero copy), zeros %s" % ("decompressed" if compress == "auto" else "mapped"))

    with bc.open(path) as c:
        obj = c.load()
        got = summary_of(obj, c)
        check(got == cpp, "C++ -> CPython through a file: the same summary")
        floats = obj["floats"]
        check(floats.obj is c.mapping and c.mapping is not None, "CPython: the float buffer is a slice of the mmap (zero copy)")
        check(all(s.verified for s in c.sections if s.stored_size), "CPython: every section verified (%s)"
              % ("xxhash" if bc.has_xxhash() else "pure XXH3"))
        del obj, floats

    if shm:
        spath = os.path.join(shm, "brine-interop-%d.brc" % os.getpid())
        try:
            check(run_peer(["write", spath, compress]).returncode == 0, "C++ writes into /dev/shm")
            c = bc.open(spath, verify="skip_bulk", bulk_threshold=4096)
            obj = c.load()
            check(summary_of(obj, c) == cpp, "C++ -> CPython through /dev/shm (skip_bulk)")
            check(not c.sections[2].verified and c.sections[0].verified, "skip_bulk: the bulk buffer is not verified, the pickle is")
            del obj
            c.close()
        finally:
            os.unlink(spath)

    # Stream: the peer writes to a pipe, Python reads in order.
    p = subprocess.Popen([PEER, "write-stream", compress], stdout=subprocess.PIPE)
    c = bc.read_stream(p.stdout)
    p.wait(timeout=60)
    obj = c.load()
    stream_expected = [l.replace(" mapped", " owned") for l in cpp]
    check(summary_of(obj, c) == stream_expected, "C++ -> CPython through a pipe stream")
    del obj

    # memfd over a Unix socket, between two processes.
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    p = subprocess.Popen([PEER, "send-fd", str(b.fileno()), compress], pass_fds=[b.fileno()])
    b.close()
    c = bc.receive_container(a)
    p.wait(timeout=60)
    a.close()
    obj = c.load()
    check(c.immutable, "CPython: the received memfd is sealed")
    check(summary_of(obj, c) == cpp, "C++ -> CPython: memfd over a Unix socket (SCM_RIGHTS)")
    check(obj["floats"].obj is c.mapping, "CPython: the received buffer is a slice of the mapping (zero copy)")
    del obj
    return cpp


def python_to_cpp(workdir, shm):
    obj = python_object()
    data, bufs = bc._pickle_oob(obj)
    blob = bc.to_bytes(data, bufs)

    path = os.path.join(workdir, "py.brc")
    bc.dump(obj, path)
    want = expected_for_python_object(obj, True, blob)
    got = lines(run_peer(["read", path]))
    check(got == want, "CPython -> C++ through a file%s" % (" (with a numpy array)" if NUMPY else ""))
    if got != want:
        print("  want %s\n  got  %s" % (want, got))

    if shm:
        spath = os.path.join(shm, "brine-interop-py-%d.brc" % os.getpid())
        try:
            bc.dump(obj, spath)
            check(lines(run_peer(["read", spath, "skip_bulk"])) == want, "CPython -> C++ through /dev/shm (skip_bulk)")
        finally:
            os.unlink(spath)

    p = subprocess.Popen([PEER, "read-stream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    bc.dump(obj, p.stdin)
    p.stdin.close()
    out = p.stdout.read().decode().split("\n")[:-1]
    p.wait(timeout=60)
    check(out == expected_for_python_object(obj, False, blob), "CPython -> C++ through a pipe stream")

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    p = subprocess.Popen([PEER, "recv-fd", str(b.fileno())], pass_fds=[b.fileno()], stdout=subprocess.PIPE)
    b.close()
    fd = bc.dump_memfd(obj)
    bc.send_container(a, fd)
    os.close(fd)
    out = p.stdout.read().decode().split("\n")[:-1]
    p.wait(timeout=60)
    a.close()
    check(out == want, "CPython -> C++: sealed memfd over a Unix socket, mapped by the other process")

    # An unsealed memfd is refused by the C++ receiver's defaults.
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    p = subprocess.Popen([PEER, "recv-fd", str(b.fileno())], pass_fds=[b.fileno()], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    b.close()
    fd = bc.write_memfd(data, bufs, seal=False)
    bc.send_container(a, fd)
    os.close(fd)
    _, err = p.communicate(timeout=60)
    a.close()
    check(p.returncode != 0 and b"[seals]" in err, "C++ refuses an unsealed memfd from CPython")


def identical_writers(workdir):
    """C++ and Python write byte-identical containers from the same pickle and buffers."""
    for compress in ("never", "auto"):
        if compress == "auto" and not bc.has_zstd():
            continue
        obj = python_object(numpy_too=False)
        src = os.path.join(workdir, "same-py-%s.brc" % compress)
        out = os.path.join(workdir, "same-cpp-%s.brc" % compress)
        bc.dump(obj, src, compress=compress)
        r = run_peer(["rewrite", src, out, compress])
        with open(src, "rb") as a, open(out, "rb") as b:
            same = a.read() == b.read()
        check(r.returncode == 0 and same, "C++ and Python write the same bytes (compress=%s)" % compress)


def python_to_python(workdir):
    obj = python_object()
    path = os.path.join(workdir, "pp.brc")
    bc.dump(obj, path)
    with bc.open(path) as c:
        back = c.load()
        w = back["w"]
        check(bytes(w) == bytes(obj["w"].raw()) and not w.readonly, "CPython -> CPython: a writable buffer stays writable (cow)")
        check(w.obj is c.mapping, "cow: zero copy until written")
        w[0] ^= 0xff  # private: the file does not change
        check(back["r"].readonly, "a read-only buffer stays read-only")
        if NUMPY is not None:
            arr = back["arr"]
            check(isinstance(arr, NUMPY.ndarray) and (arr == obj["arr"]).all() and arr.flags.writeable,
                  "numpy array round trip, writable, zero copy")
        del back, w
    with bc.open(path, writable="readonly") as c:
        back = c.load()
        check(back["w"].readonly and bytes(back["w"]) == bytes(obj["w"].raw()), "writable='readonly': Ray's rule, file unchanged")
        del back
    with bc.open(path, writable="copy") as c:
        back = c.load()
        check(isinstance(back["w"].obj, bytearray), "writable='copy': Dask's rule (a bytearray copy)")
        del back
    for compress in ("never", "always"):
        blob = bc.to_bytes(*bc._pickle_oob(obj), compress=compress)
        c = bc.open_bytes(blob)
        check(summary_of(c.load(), None) == summary_of(bc.open_bytes(bc.to_bytes(*bc._pickle_oob(obj))).load(), None),
              "compress=%s round trip" % compress)


def pure_paths(workdir):
    if bc.has_xxhash():
        import xxhash
        rng = random.Random(9)
        ok = True
        for n in list(range(0, 260)) + [rng.randrange(260, 5000) for _ in range(40)] + [1024, 1025, 65536 + 3]:
            d = bytes(rng.getrandbits(8) for _ in range(n))
            ok = ok and bc._xxh3_pure(d) == xxhash.xxh3_64_intdigest(d)
        check(ok, "pure-Python XXH3-64 equals xxhash's on 300 lengths")
    bc.set_accelerators(xxhash=False, zstd=False)
    try:
        path = os.path.join(workdir, "cpp-never.brc")
        run_peer(["write", path, "never"])
        cpp = lines(run_peer(["read", path]))
        c = bc.open(path)
        check(summary_of(c.load(), c) == cpp and all(s.verified for s in c.sections if s.stored_size),
              "pure Python reads and verifies a C++ container (no xxhash, no zstd)")
        c.close()
        path = os.path.join(workdir, "cpp-auto.brc")
        run_peer(["write", path, "auto"])
        try:
            bc.open(path)
            check(False, "a zstd section without a zstd module is an error")
        except bc.ContainerError as e:
            check(e.problem == "unsupported" and e.field == "codec", "a zstd section without a zstd module: %s" % e)
        big = {"label": "big", "n": 1, "b": pickle.PickleBuffer(bytes(range(256)) * 2048)}  # 512 KiB
        path = os.path.join(workdir, "pure-big.brc")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            bc.dump(big, path)
        check(any(issubclass(x.category, bc.ChecksumSkippedWarning) for x in w),
              "pure Python: a section above the pure-hash limit is written unchecked, with a warning")
        out = lines(run_peer(["read", path]))
        check(out[:3] == ["root dict", "label big", "n 1"] and out[3].startswith("buffer 0 524288"),
              "C++ reads the unchecked section written by pure Python")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            c = bc.open(path)
        check(not c.sections[1].has_checksum and not c.sections[1].verified, "Section reports the missing checksum")
        c.close()
        bc.dump(python_object(numpy_too=False), os.path.join(workdir, "pure.brc"))
        out = lines(run_peer(["read", os.path.join(workdir, "pure.brc")]))
        check(out[:3] == ["root dict", "label from CPython", "n 7"] and len(out) == 7,
              "CPython (pure) -> C++: checksummed in pure Python, verified in C++")
    finally:
        bc.set_accelerators()


def skew_and_corruption(workdir):
    obj = python_object(numpy_too=False)
    blob = bytearray(bc.to_bytes(*bc._pickle_oob(obj)))
    path = os.path.join(workdir, "bad.brc")

    def both(mutated, what, problem, field, offset):
        with open(path, "wb") as f:
            f.write(mutated)
        r = run_peer(["expect-error", path])
        out = r.stdout.decode().split()
        try:
            bc.open_bytes(bytes(mutated))
            py = None
        except bc.ContainerError as e:
            py = (e.problem, e.field, e.offset)
        check(r.returncode == 0 and py is not None and py[1:] == (field, offset) and (py[0] == problem),
              "%s: C++ %s, CPython %s" % (what, " ".join(out), py))
        return out

    v2 = bytearray(blob)
    v2[8] = 2
    out = both(v2, "version 2", "unsupported", "version", 8)
    check(out[1:] == ["2", "8"], "C++ names the version field (detail 2) at offset 8")
    bad = bytearray(blob)
    bad[0] ^= 1
    both(bad, "bad magic", "corrupt", "magic", 0)
    bad = bytearray(blob)
    bad[64 + 48 + 9] ^= 1  # entry 1, offset field
    both(bad, "a table flip", "checksum", "meta_checksum", 56)
    c = bc.open_bytes(bytes(blob))
    bad = bytearray(blob)
    bad[c.sections[1].offset + 17] ^= 0x20
    both(bad, "a payload flip", "checksum", "checksum", 64 + 48 + 32)
    both(blob[:-1], "truncated by one byte", "truncated", "total_size", 24)
    both(blob + b"\0", "extended by one byte", "corrupt", "total_size", 24)


def main():
    global PEER, bc, NUMPY
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--module-dir", required=True)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--also-accelerated", action="store_true",
                    help="when this interpreter lacks xxhash or zstandard, run again under a python3 on PATH that has them")
    args = ap.parse_args()
    PEER = os.path.abspath(args.peer)
    args.module_dir = os.path.abspath(args.module_dir)
    sys.path.insert(0, args.module_dir)
    import brine_container
    bc = brine_container
    try:
        import numpy
        NUMPY = numpy
    except ImportError:
        NUMPY = None
    print("python %s; xxhash %s; zstd %s; numpy %s" % (sys.version.split()[0], bc.has_xxhash(), bc.has_zstd(),
                                                        NUMPY.__version__ if NUMPY else None))
    workdir = args.workdir or tempfile.mkdtemp(prefix="brine-interop-")
    os.makedirs(workdir, exist_ok=True)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    t0 = time.time()
    cpp_to_cpp_and_python(workdir, shm)
    python_to_cpp(workdir, shm)
    python_to_python(workdir)
    identical_writers(workdir)
    pure_paths(workdir)
    skew_and_corruption(workdir)
    print("%d failures, %.1f s" % (len(FAILURES), time.time() - t0))
    if args.also_accelerated and not (bc.has_xxhash() and bc.has_zstd()):
        other = accelerated_python()
        if other:
            print("--- again with %s (it has xxhash and zstandard)" % other)
            r = subprocess.run([other, os.path.abspath(__file__), "--peer", PEER, "--module-dir", args.module_dir,
                                "--workdir", os.path.join(workdir, "accelerated")], timeout=120)
            if r.returncode:
                FAILURES.append("the run with %s" % other)
        else:
            print("note: no python3 on PATH has xxhash and zstandard; only the pure paths ran")
    return 1 if FAILURES else 0


def accelerated_python():
    """Another python3 on PATH with xxhash and zstandard (Debian's python3-xxhash, ...), if any."""
    seen = {os.path.realpath(sys.executable)}
    for d in os.environ.get("PATH", "").split(os.pathsep):
        cand = os.path.join(d, "python3")
        if not os.access(cand, os.X_OK) or os.path.realpath(cand) in seen:
            continue
        seen.add(os.path.realpath(cand))
        try:
            r = subprocess.run([cand, "-c", "import sys, xxhash, zstandard; print(sys.executable)"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        exe = r.stdout.decode().strip()
        if r.returncode == 0 and os.path.realpath(exe) != os.path.realpath(sys.executable):
            return exe
    return None


PEER = bc = NUMPY = None

if __name__ == "__main__":
    sys.exit(main())
