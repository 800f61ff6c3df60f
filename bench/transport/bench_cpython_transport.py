#!/usr/bin/env python3
"""CPython baseline for bench_transport: move one float64 array to another process.

    python3 bench_cpython_transport.py [--size BYTES] [--runs N] [--module-dir DIR]

(a) in-band: the sender runs pickle.dumps(arr, protocol=5) (the array's bytes in the pickle) and
sends it over a Unix socket with an 8-byte length; the receiver reads it into a fresh bytearray
and runs pickle.loads, which builds a new array. (a') the same array through brine's container
from Python (brine_container.py, when --module-dir is given): dump_memfd + send_container, then
receive_container (no bulk verification) + load, a zero-copy numpy view of the mapping.

The array is numpy's when numpy is importable, else the standard library's array('d') (its pickle
is also in-band bytes). Times as in bench_transport.cpp (CLOCK_MONOTONIC, medians); the receiver
verifies the loaded array against the sender's after its clock stops (the forked child holds the
same array). Output: `row ...` lines, like bench_transport.
"""

import argparse
import os
import pickle
import socket
import struct
import sys
import time

try:
    import numpy
except ImportError:
    numpy = None


def now_ms():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1e6


def parse_size(s):
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    s = s.strip().lower()
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = sock.recv_into(view[got:])
        if not r:
            raise EOFError("stream ended")
        got += r
    return buf


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else 0.0


def make_array(n):
    if numpy is not None:
        i = numpy.arange(n, dtype=numpy.float64)
        return i * 0.5 + 1.0 / (i + 1)
    import array
    return array.array("d", (k * 0.5 + 1.0 / (k + 1) for k in range(n)))


def same(a, b):
    if numpy is not None:
        return isinstance(a, numpy.ndarray) and a.shape == b.shape and bool(numpy.array_equal(a, b))
    return a == b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--module-dir", default=None)
    args = ap.parse_args()
    size = parse_size(args.size) & ~7
    n = size // 8
    bc = None
    if args.module_dir:
        sys.path.insert(0, args.module_dir)
        import brine_container as bc
    arr = make_array(n)
    print("note cpython %s, %s, %d bytes, %d runs" % (sys.version.split()[0],
          "numpy %s" % numpy.__version__ if numpy else "array('d') (no numpy)", size, args.runs), flush=True)

    data, data_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # the receiver
        data.close(), ctl.close()
        while True:
            m = ctl_child.recv(1)
            if m in (b"q", b""):
                os._exit(0)
            if m == b"i":
                (length,) = struct.unpack("<Q", recv_exact(data_child, 8))
                start = now_ms()
                buf = recv_exact(data_child, length)
                obj = pickle.loads(buf)
                done = now_ms()
                ok = same(obj, arr)
                t = now_ms()
                del obj, buf
                teardown = now_ms() - t
            else:
                fd = bc.receive_container_fd(data_child)
                start = now_ms()
                c = bc.open(fd, verify="metadata", require_seals=True)
                os.close(fd)
                obj = c.load()
                done = now_ms()
                ok = same(obj, arr) and (numpy is None or not obj.flags.owndata)
                t = now_ms()
                del obj
                c.close()
                teardown = now_ms() - t
            ctl_child.sendall(struct.pack("<dddi", start, done, teardown, int(ok)))
    data_child.close(), ctl_child.close()

    def collect(t0, t1):
        start, done, teardown, ok = struct.unpack("<dddi", recv_exact(ctl, struct.calcsize("<dddi")))
        if not ok:
            print("FAIL: the received array differs", file=sys.stderr)
            sys.exit(1)
        return t1 - t0, done - start, done - t0, teardown

    def report(name, rows):
        s, r, tot, td = zip(*rows)
        print("row name=%s size=%d sender_ms=%.3f receiver_ms=%.3f total_ms=%.3f teardown_ms=%.3f runs=%d"
              % (name, size, median(s), median(r), median(tot), median(td), len(rows)), flush=True)

    rows = []
    for _ in range(args.runs):
        ctl.sendall(b"i")
        t0 = now_ms()
        payload = pickle.dumps(arr, protocol=5)
        data.sendall(struct.pack("<Q", len(payload)))
        data.sendall(payload)
        t1 = now_ms()
        del payload
        rows.append(collect(t0, t1))
    report("cpython_inband", rows)

    if bc is not None and numpy is not None:
        rows = []
        for _ in range(args.runs):
            ctl.sendall(b"c")
            t0 = now_ms()
            fd = bc.dump_memfd(arr, compress="never")
            bc.send_container(data, fd)
            t1 = now_ms()
            os.close(fd)
            rows.append(collect(t0, t1))
        report("cpython_container_noverify", rows)

    ctl.sendall(b"q")
    os.waitpid(pid, 0)
    print("note every received array equalled the sender's", flush=True)


if __name__ == "__main__":
    main()
