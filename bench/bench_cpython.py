#!/usr/bin/env python3
"""The CPython baseline: pickle.loads and pickle.dumps (the C accelerator, _pickle) on the same
bytes and objects as brine's benchmarks, in the same run.

    python3 bench_cpython.py [--runs N] [--only NAME] [--bytes-size 256M] [--oob-sizes N,N] DIR

For each workload W in DIR (written by make_workloads.py; a workload of several objects is one
pickle per object, loaded or dumped one after the other as one operation):
  * verify: loads each part, checks the kind and size W.facts records, and checks that
    pickle.dumps(loaded, 5) gives back the very bytes (so both sides work on the same objects;
    the deep checks are bench_decode's);
  * time pickle.loads with the garbage collector enabled (CPython's default, the primary figure:
    the collector runs during a large loads) and disabled, and pickle.dumps(obj, 5). Each sample
    starts after gc.collect(); operations shorter than 0.1 ms are repeated within a sample (the
    count calibrated once) and reported per operation; results are kept until the clock stops and
    freed after it (bench_decode and bench_encode do the same). Two clocks, as in the C++
    benchmarks: wall (perf_counter_ns) and this thread's CPU time (thread_time_ns);
  * memory, with tracemalloc in separate untimed runs: `retained` is what the loaded object keeps,
    `peak` the most allocated during loads (the graph plus the unpickler's stack and memo), and
    `dumps_peak` the most allocated during dumps (the output and the memo).

--bytes-size: a bytes object of that size (DIR/bulk.block repeated, as bench_bulk builds it):
dumps (checked against the layout brine writes: PROTO 5, BINBYTES, the bytes, MEMOIZE, STOP) and
loads. --oob-sizes: for each n, n doubles (array('d'), i * 0.5) dumped as a read-only
PickleBuffer with a buffer_callback that keeps it out-of-band (the pickle is 5 bytes).

Output: human-readable notes, and `result kind=... workload=... key=value ...` lines for run.py.
"""

import argparse
import array
import gc
import os
import pickle
import statistics
import struct
import sys
import threading
import time
import tracemalloc

WORKLOADS_FILE = "stamp"
MIN_SAMPLE_NS = 100_000  # bench_common.hpp has the same; bench/README.md says why 0.1 ms


def read_facts(path):
    facts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                facts[key] = value
    return facts


def read_parts(path, sizes):
    with open(path, "rb") as f:
        blob = f.read()
    parts, at = [], 0
    for n in sizes:
        parts.append(blob[at:at + n])
        at += n
    if at != len(blob):
        sys.exit("bench_cpython: %s: part sizes do not add up to the file" % path)
    return parts


def time_op(runs, op):
    """`op(reps)` runs the operation reps times and returns (wall ns, cpu ns) of the timed part.
    Returns per-operation wall median, min, max, CPU median and the repetitions per sample."""
    reps = 1
    while True:
        wall, _ = op(reps)  # also the warm-up
        if wall >= MIN_SAMPLE_NS or reps >= 1 << 20:
            break
        reps = min(max(reps * 2, MIN_SAMPLE_NS * reps // max(wall, 1) + 1), 1 << 20)
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = op(reps)
        walls.append(wall // reps)
        cpus.append(cpu // reps)
    return int(statistics.median(walls)), min(walls), max(walls), int(statistics.median(cpus)), reps


def timed(fn, args_list, reps, gc_enabled=True):
    """Calls fn(a) for every a in args_list, reps times, between the clocks; frees the results
    after the clocks stop."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.enable() if gc_enabled else gc.disable()
    try:
        kept = []
        keep = kept.append
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        for _ in range(reps):
            for a in args_list:
                keep(fn(a))
        c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
        del kept
    finally:
        gc.enable() if was_enabled else gc.disable()
    return t1 - t0, c1 - c0


def result_line(kind, workload, fields):
    print("result kind=%s workload=%s %s" % (kind, workload, " ".join("%s=%s" % kv for kv in fields.items())))
    sys.stdout.flush()


def add_timing(fields, prefix, t):
    fields[prefix + "_median_ns"], fields[prefix + "_min_ns"], fields[prefix + "_max_ns"], \
        fields[prefix + "_cpu_median_ns"], fields[prefix + "_reps"] = t


def traced(fn):
    gc.collect()
    tracemalloc.start()
    try:
        obj = fn()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return obj, retained, peak


def bench_workload(name, directory, runs):
    facts = read_facts(os.path.join(directory, name + ".facts"))
    parts = read_parts(os.path.join(directory, name + ".pickle"), [int(n) for n in facts["part_bytes"].split(",")])
    objs = [pickle.loads(p) for p in parts]
    for i, (p, o) in enumerate(zip(parts, objs)):
        if pickle.dumps(o, 5) != p:
            sys.exit("bench_cpython: %s: dumps(loads(part %d)) is not the same pickle" % (name, i))
    if len(parts) == 1 and "size" in facts:
        kind = type(objs[0]).__name__
        if kind != facts["kind"] or len(objs[0]) != int(facts["size"]):
            sys.exit("bench_cpython: %s: loaded a %s of %d items; facts say a %s of %s"
                     % (name, kind, len(objs[0]), facts["kind"], facts["size"]))

    loads_t = time_op(runs, lambda reps: timed(pickle.loads, parts, reps, True))
    nogc_t = time_op(runs, lambda reps: timed(pickle.loads, parts, reps, False))
    dumps_t = time_op(runs, lambda reps: timed(lambda o: pickle.dumps(o, 5), objs, reps, True))
    _, retained, peak = traced(lambda: [pickle.loads(p) for p in parts])
    _, _, dumps_peak = traced(lambda: [pickle.dumps(o, 5) for o in objs])

    size = sum(map(len, parts))
    print("  %-9s %8.3f MB  loads %9.4f ms (min %9.4f, cpu %9.4f)  gc off %9.4f ms  dumps %9.4f ms (cpu %9.4f)"
          "  retained %4.2fx pickle, peak %4.2fx"
          % (name, size / 1e6, loads_t[0] / 1e6, loads_t[1] / 1e6, loads_t[3] / 1e6, nogc_t[0] / 1e6,
             dumps_t[0] / 1e6, dumps_t[3] / 1e6, retained / size, peak / size))
    fields = {"pickle_bytes": size, "parts": len(parts), "runs": runs}
    add_timing(fields, "loads", loads_t)
    add_timing(fields, "loads_nogc", nogc_t)
    add_timing(fields, "dumps", dumps_t)
    fields.update(retained_bytes=retained, peak_bytes=peak, dumps_peak_bytes=dumps_peak)
    result_line("cpython", name, fields)


def parse_size(s):
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    s = s.strip().lower()
    if s and s[-1] in mult:
        return int(s[:-1]) * mult[s[-1]]
    return int(s)


def bench_bulk(directory, size, runs):
    with open(os.path.join(directory, "bulk.block"), "rb") as f:
        block = f.read()
    data = (block * (size // len(block) + 1))[:size]
    header = b"\x80\x05" + (b"B" + struct.pack("<I", size) if size <= 0xFFFFFFFF else b"\x8e" + struct.pack("<Q", size))
    p = pickle.dumps(data, 5)
    if p != header + data + b"\x94.":
        sys.exit("bench_cpython: the bytes object's pickle is not PROTO 5, BINBYTES, data, MEMOIZE, STOP")
    if pickle.loads(p) != data:
        sys.exit("bench_cpython: loads of the bytes object's pickle differs")
    dumps_t = time_op(runs, lambda reps: timed(lambda o: pickle.dumps(o, 5), [data], reps))
    loads_t = time_op(runs, lambda reps: timed(pickle.loads, [p], reps))
    _, _, dumps_peak = traced(lambda: pickle.dumps(data, 5))
    _, _, loads_peak = traced(lambda: pickle.loads(p))
    print("  bytes %d MiB: dumps %.2f ms (cpu %.2f)  loads %.2f ms (cpu %.2f)"
          % (size >> 20, dumps_t[0] / 1e6, dumps_t[3] / 1e6, loads_t[0] / 1e6, loads_t[3] / 1e6))
    fields = {"pickle_bytes": len(p), "runs": runs}
    add_timing(fields, "dumps", dumps_t)
    add_timing(fields, "loads", loads_t)
    fields.update(dumps_peak_bytes=dumps_peak, loads_peak_bytes=loads_peak)
    result_line("cpython_bulk", "bytes", fields)


def bench_oob(n, runs):
    values = array.array("d", (i * 0.5 for i in range(n))) if n <= 10_000_000 else None
    if values is None:  # the generator is slow for 10^8 items: fill by doubling
        values = array.array("d", [0.0])
        while len(values) < n:
            values.extend(values[:n - len(values)])
    view = memoryview(values).toreadonly()
    buffers = []

    def dump(_):
        return pickle.dumps(pickle.PickleBuffer(view), protocol=5, buffer_callback=buffers.append)

    p = dump(None)
    if p != b"\x80\x05\x97\x98." or len(buffers) != 1 or buffers[0].raw().nbytes != n * 8:
        sys.exit("bench_cpython: the out-of-band pickle is not NEXT_BUFFER READONLY_BUFFER")
    t = time_op(runs, lambda reps: (buffers.clear(), timed(dump, [None], reps))[1])
    buffers.clear()
    print("  out-of-band %d doubles: dumps %.5f ms (cpu %.5f)" % (n, t[0] / 1e6, t[3] / 1e6))
    fields = {"doubles": n, "data_bytes": n * 8, "runs": runs}
    add_timing(fields, "dumps", t)
    result_line("cpython_oob", str(n), fields)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only")
    parser.add_argument("--bytes-size", default="0", help="size of the bulk bytes object (0: none)")
    parser.add_argument("--oob-sizes", default="", help="comma-separated counts of doubles")
    parser.add_argument("--no-workloads", action="store_true", help="bulk and out-of-band only")
    parser.add_argument("dir")
    args = parser.parse_args()
    runs = max(1, args.runs)

    print("bench_cpython: Python %s (%s), %d samples per measurement, per operation"
          % (sys.version.split()[0], pickle.Pickler.__module__, runs))
    if not args.no_workloads:
        with open(os.path.join(args.dir, WORKLOADS_FILE), encoding="utf-8") as f:
            names = f.read().split()
        for name in names:
            if not args.only or args.only == name:
                bench_workload(name, args.dir, runs)
    if parse_size(args.bytes_size):
        bench_bulk(args.dir, parse_size(args.bytes_size), runs)
    for n in filter(None, args.oob_sizes.split(",")):
        bench_oob(int(n), runs)


def run_with_deep_stack(fn):
    """pickle.dumps and the collector recurse through nested containers: the `nested` workload
    needs a high recursion limit and a large C stack, which only a new thread can get."""
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1 << 30)
    failure = []

    def target():
        try:
            fn()
        except SystemExit as e:
            failure.append(e)
        except BaseException as e:
            failure.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if failure:
        raise failure[0]


if __name__ == "__main__":
    run_with_deep_stack(main)
