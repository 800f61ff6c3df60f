#!/usr/bin/env python3
"""`brine dis` and `brine scan` against CPython's pickletools.dis on a ~100 MB pickle, same run.

    python3 bench/cli/bench_cli.py --brine BUILD/tools/brine [--mb 100] [--runs 5] [--py-runs 3]
                                   [--workdir DIR]

Builds (once per size, cached in --workdir) a realistic pickle: many records (dicts of ints,
floats, bools, short and long strings, tag lists, nested [time, value] histories, a few shared
objects), pickled by CPython with pickle.dumps(protocol=4) (the default of CPython 3.8-3.13;
protocol 5 writes the same opcodes for such data). Then, one after the other on the same file:

  brine dis FILE > /dev/null     the full listing, byte-identical to pickletools.dis (checked
                                  first: the two listings are compared on a prefix of the data)
  brine scan FILE > /dev/null    the security report (symbolic execution of the whole stream)
  pickletools.dis(data, out)      in this process, `data` already in memory, `out` a writer that
                                  discards everything: CPython's cost without start-up or I/O

brine is timed as a whole process (start-up, mapping the file, writing the output), wall clock,
median of --runs; pickletools as the median of --py-runs; CPU time (user + system) is reported
beside the wall clock, since a loaded machine slows whichever runs while it is busy. Prints one
table with both speedups (target: 20x for both commands). Exit status 1 when the listings differ;
with --strict, also below 20x.
"""
import argparse
import io
import os
import pickle
import pickletools
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 20.0


class NullWriter:
    """A text stream that discards what it is given (pickletools.dis prints to it)."""

    def write(self, s):
        return len(s)

    def flush(self):
        pass


def make_records(n, seed=7):
    rng = random.Random(seed)
    sites = ["north", "south", "east", "west", "lab"]
    shared_unit = {"name": "kelvin", "scale": 1.0}  # one object referenced by every record
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    out = []
    for i in range(n):
        out.append({
            "id": i,
            "user": "user%07d" % i,
            "email": "user%07d@example.org" % i,
            "site": sites[i % 5],
            "active": rng.random() < 0.8,
            "score": rng.random() * 100,
            "balance": rng.randrange(-10**6, 10**6),
            "big": 2**70 + i if i % 50 == 0 else i * 1000,
            "tags": rng.sample(words, rng.randrange(1, 4)),
            "history": [[1700000000 + 60 * k, rng.random()] for k in range(rng.randrange(2, 8))],
            "note": " ".join(rng.choice(words) for _ in range(rng.randrange(3, 12))),
            "unit": shared_unit,
            "flags": (i % 3 == 0, i % 7 == 0),
            "raw": bytes(rng.randrange(256) for _ in range(16)),
        })
    return out


def build_pickle(path, mb):
    """Pickles enough records to pass `mb` MB (10^6 bytes)."""
    probe = pickle.dumps(make_records(2000), protocol=4)
    per_record = len(probe) / 2000
    n = int(mb * 1e6 / per_record) + 1
    print("building a %d MB pickle: %d records ..." % (mb, n), flush=True)
    data = pickle.dumps({"schema": "bench-cli-1", "records": make_records(n)}, protocol=4)
    with open(path, "wb") as f:
        f.write(data)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_process(cmd, runs):
    """Median wall-clock and CPU (user + system) seconds of `cmd`, and every wall time."""
    times, cpu = [], []
    for _ in range(runs):
        with open(os.devnull, "wb") as null:
            c0 = children_cpu()
            t0 = time.perf_counter()
            r = subprocess.run(cmd, stdout=null, stderr=subprocess.PIPE)
            times.append(time.perf_counter() - t0)
            cpu.append(children_cpu() - c0)
        if r.returncode not in (0, 3):  # scan exits 3 when something is flagged
            sys.exit("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.decode(errors="replace")))
    return statistics.median(times), statistics.median(cpu), times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brine", required=True, help="the brine command-line tool")
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--runs", type=int, default=5, help="runs of each brine command (median)")
    ap.add_argument("--py-runs", type=int, default=3, help="runs of pickletools.dis (median)")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "brine-bench-cli"))
    ap.add_argument("--strict", action="store_true", help="exit 1 below the 20x target")
    args = ap.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    path = os.path.join(args.workdir, "records-%gMB.pkl" % args.mb)
    if not os.path.exists(path):
        build_pickle(path, args.mb)
    with open(path, "rb") as f:
        data = f.read()

    # Verify before timing: the listing of a prefix (the first 2 MB of records, re-pickled) must
    # be pickletools' own.
    sample = pickle.dumps(pickle.loads(data)["records"][:5000], protocol=4)
    sample_path = os.path.join(args.workdir, "sample.pkl")
    with open(sample_path, "wb") as f:
        f.write(sample)
    expected = io.StringIO()
    pickletools.dis(sample, expected)
    got = subprocess.run([args.brine, "dis", sample_path], capture_output=True)
    if got.returncode != 0 or got.stdout != expected.getvalue().encode():
        print("brine dis differs from pickletools.dis on the sample: not timing")
        return 1
    opcodes = sum(1 for _ in pickletools.genops(data))

    print("pickle: %s, %.1f MB, %d opcodes, protocol 4; CPython %s" % (
        path, len(data) / 1e6, opcodes, sys.version.split()[0]), flush=True)
    dis_t, dis_cpu, dis_all = time_process([args.brine, "dis", path], args.runs)
    scan_t, scan_cpu, scan_all = time_process([args.brine, "scan", path], args.runs)
    py, py_cpu = [], []
    for _ in range(args.py_runs):
        c0, t0 = time.process_time(), time.perf_counter()
        pickletools.dis(data, NullWriter())
        py.append(time.perf_counter() - t0)
        py_cpu.append(time.process_time() - c0)
        print("  pickletools.dis run: %.1f s" % py[-1], flush=True)
    py_t, py_c = statistics.median(py), statistics.median(py_cpu)

    mb = len(data) / 1e6
    print()
    print("%-38s %9s %9s %8s %9s %8s" % ("command", "median s", "MB/s", "speedup", "CPU s", "speedup"))
    print("%-38s %9.3f %9.1f %8s %9.3f %8s" % ("pickletools.dis(data, null writer)", py_t, mb / py_t, "1.0x", py_c, "1.0x"))
    for name, t, c in (("brine dis FILE > /dev/null", dis_t, dis_cpu), ("brine scan FILE > /dev/null", scan_t, scan_cpu)):
        print("%-38s %9.3f %9.1f %7.1fx %9.3f %7.1fx" % (name, t, mb / t, py_t / t, c, py_c / c))
    print()
    print("wall-clock runs (s): brine dis %s; brine scan %s; pickletools %s" % (
        " ".join("%.3f" % t for t in dis_all), " ".join("%.3f" % t for t in scan_all), " ".join("%.1f" % t for t in py)))
    print("CPU: user + system time of the brine processes; process_time() of pickletools.dis (fairer on a "
          "loaded machine)")
    below = [name for name, t, c in (("dis", dis_t, dis_cpu), ("scan", scan_t, scan_cpu))
             if min(py_t / t, py_c / c) < TARGET]
    if below:
        print("below the %gx target: %s" % (TARGET, ", ".join(below)))
        return 1 if args.strict else 0
    print("both at or above the %gx target" % TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
