#!/usr/bin/env python3
"""The CPython baseline for bench_decode: pickle.loads on the same bytes, in the same run.

    python3 bench_cpython.py [--runs N] [--only NAME] DIR

For each workload W in DIR (written by make_workloads.py):
  * check that loads gives an object of the kind and size W.facts records (the deep checks are
    bench_decode's; this one proves both sides read the same file);
  * time pickle.loads N times after one warm-up, with the garbage collector enabled (CPython's
    default, and the primary figure: the collector runs during a large loads) and then disabled.
    Each run starts after gc.collect(); the clocks cover loads only, and the object is freed
    after they stop (bench_decode does the same with its document). Two clocks, as in
    bench_decode: wall (perf_counter_ns) and this thread's CPU time (thread_time_ns);
  * measure the memory of the loaded object with tracemalloc, in a separate untimed load:
    `retained` is what is still allocated once loads returns (the object graph), `peak` the most
    allocated during loads (the graph plus the unpickler's stack and memo).

Output: human-readable notes, and one `result key=value ...` line per workload that run.py parses.
"""

import argparse
import gc
import os
import pickle
import statistics
import sys
import time
import tracemalloc

WORKLOADS = ["records", "ints", "floats", "strs", "dict"]


def read_facts(path):
    facts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                facts[key] = value
    return facts


def time_loads(data, runs, gc_enabled):
    """Wall-clock median and minimum, and thread-CPU-time median, of pickle.loads(data) in ns."""
    was_enabled = gc.isenabled()
    times = []
    cpu_times = []
    try:
        gc.enable() if gc_enabled else gc.disable()
        obj = pickle.loads(data)  # warm-up
        del obj
        for _ in range(runs):
            gc.collect()
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            obj = pickle.loads(data)
            c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
            del obj
            times.append(t1 - t0)
            cpu_times.append(c1 - c0)
    finally:
        gc.enable() if was_enabled else gc.disable()
    return int(statistics.median(times)), min(times), int(statistics.median(cpu_times))


def measure_memory(data):
    gc.collect()
    tracemalloc.start()
    try:
        obj = pickle.loads(data)
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del obj
    return retained, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--only")
    parser.add_argument("dir")
    args = parser.parse_args()
    runs = max(1, args.runs)

    print("bench_cpython: Python %s, %d runs per measurement, median and min" % (sys.version.split()[0], runs))
    for name in WORKLOADS:
        if args.only and args.only != name:
            continue
        base = os.path.join(args.dir, name)
        with open(base + ".pickle", "rb") as f:
            data = f.read()
        facts = read_facts(base + ".facts")

        obj = pickle.loads(data)
        kind = type(obj).__name__
        if len(data) != int(facts["pickle_bytes"]) or kind != facts["kind"] or len(obj) != int(facts["size"]):
            sys.exit("bench_cpython: %s: loaded a %s of %d items from %d bytes; facts say a %s of %s from %s"
                     % (name, kind, len(obj), len(data), facts["kind"], facts["size"], facts["pickle_bytes"]))
        del obj

        gc_median, gc_min, gc_cpu = time_loads(data, runs, True)
        nogc_median, nogc_min, nogc_cpu = time_loads(data, runs, False)
        retained, peak = measure_memory(data)
        print("  %-8s %6.2f MB  loads %8.3f ms (min %8.3f, cpu %8.3f)  gc off %8.3f ms (cpu %8.3f)"
              "  retained %4.2fx pickle, peak %4.2fx"
              % (name, len(data) / 1e6, gc_median / 1e6, gc_min / 1e6, gc_cpu / 1e6, nogc_median / 1e6,
                 nogc_cpu / 1e6, retained / len(data), peak / len(data)))
        print("result workload=%s pickle_bytes=%d runs=%d loads_median_ns=%d loads_min_ns=%d"
              " loads_cpu_median_ns=%d loads_nogc_median_ns=%d loads_nogc_min_ns=%d"
              " loads_nogc_cpu_median_ns=%d retained_bytes=%d peak_bytes=%d"
              % (name, len(data), runs, gc_median, gc_min, gc_cpu, nogc_median, nogc_min, nogc_cpu,
                 retained, peak))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
