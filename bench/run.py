#!/usr/bin/env python3
"""Run brine's decode benchmark and its CPython baseline in one run, and print one table.

    python3 run.py --bench-decode PATH/TO/bench_decode --data DIR [--runs N] [--py-runs N]

Writes the workloads into DIR first when they are missing or older than make_workloads.py, then
runs bench_decode (which verifies every document before timing it) and bench_cpython.py on the same
files, one after the other, and prints their notes followed by the table. All times are medians.

Columns:
  pickle MB      size of the pickle (10^6 bytes)
  CPython ms     pickle.loads, garbage collector enabled (CPython's default)
  no-gc ms       pickle.loads with gc.disable()
  brine ms       brine::decode (one-shot: a fresh document each time)
  speedup        CPython ms / brine ms, wall clock (target >= 20)
  cpu speedup    the same ratio from thread CPU time: fairer when the machine is loaded
  decoder ms     a reused brine::decoder (tables keep their capacity between calls)
  validate ms    brine::validate (the full machine, no document)
  doc/pickle     document::memory_bytes() / pickle bytes (target <= 3); the document also
                 borrows the pickle itself, which this does not count
  py/pickle      bytes CPython's loaded object keeps (tracemalloc) / pickle bytes

Exit status: 1 when a verification fails; with --strict, also when a target is missed.
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SPEED_TARGET = 20.0
MEMORY_TARGET = 3.0


def ensure_workloads(data):
    stamp = os.path.join(data, "stamp")
    script = os.path.join(HERE, "make_workloads.py")
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(script):
        return
    subprocess.run([sys.executable, script, "--out", data], check=True)


def run_and_parse(command):
    """Runs `command`, echoes its output, and returns {workload: {key: value}} from its result lines."""
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("result "):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            results[fields["workload"]] = fields
        else:
            print(line)
    if proc.returncode != 0:
        sys.exit("run.py: %s failed (exit %d); no table" % (os.path.basename(command[0]), proc.returncode))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-decode", required=True, help="the bench_decode executable")
    parser.add_argument("--data", required=True, help="workload directory (made if missing)")
    parser.add_argument("--runs", type=int, default=15, help="brine runs per measurement")
    parser.add_argument("--py-runs", type=int, default=7, help="CPython runs per measurement")
    parser.add_argument("--only", help="one workload")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    ensure_workloads(args.data)
    only = ["--only", args.only] if args.only else []
    brine = run_and_parse([args.bench_decode, "--runs", str(args.runs)] + only + [args.data])
    cpython = run_and_parse([sys.executable, os.path.join(HERE, "bench_cpython.py"),
                             "--runs", str(args.py_runs)] + only + [args.data])

    header = ("workload", "pickle MB", "CPython ms", "no-gc ms", "brine ms", "speedup", "cpu speedup",
              "decoder ms", "validate ms", "doc/pickle", "py/pickle", "targets")
    rows = []
    missed = []
    for name, b in brine.items():
        c = cpython[name]
        size = int(b["pickle_bytes"])
        py_ms = int(c["loads_median_ns"]) / 1e6
        brine_ms = int(b["decode_median_ns"]) / 1e6
        speedup = py_ms / brine_ms
        cpu_speedup = int(c["loads_cpu_median_ns"]) / int(b["decode_cpu_median_ns"])
        doc_ratio = int(b["doc_bytes"]) / size
        verdict = []
        if speedup < SPEED_TARGET:
            verdict.append("speed")
        if doc_ratio > MEMORY_TARGET:
            verdict.append("memory")
        if verdict:
            missed.append(name)
        rows.append((name, "%.2f" % (size / 1e6), "%.1f" % py_ms, "%.1f" % (int(c["loads_nogc_median_ns"]) / 1e6),
                     "%.2f" % brine_ms, "%.1fx" % speedup, "%.1fx" % cpu_speedup,
                     "%.2f" % (int(b["decoder_median_ns"]) / 1e6), "%.2f" % (int(b["validate_median_ns"]) / 1e6),
                     "%.2f" % doc_ratio, "%.2f" % (int(c["retained_bytes"]) / size),
                     "ok" if not verdict else "MISS " + "+".join(verdict)))

    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print()
    print("brine %d runs, CPython %d runs; medians; targets: speedup >= %gx, doc/pickle <= %g;"
          " load average %.2f on %d CPUs" % (args.runs, args.py_runs, SPEED_TARGET, MEMORY_TARGET,
                                            os.getloadavg()[0], os.cpu_count()))
    for r in [header] + rows:
        print("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    if missed:
        print("targets missed: %s" % ", ".join(missed))
        if args.strict:
            sys.exit(1)


if __name__ == "__main__":
    main()
