#!/usr/bin/env python3
"""Run the transport benchmark and its CPython baseline in one run, and print one table.

    python3 run_transport.py --bench PATH/TO/bench_transport [--size 1G] [--runs 5] [--py-runs 3]
                             [--python PYTHON] [--module-dir python/]

Rows (medians; each run moves SIZE bytes of float64 between two processes over a Unix socket):
  memcpy                       memcpy of SIZE bytes into a warm (already faulted) buffer, timed before
                               every C++ run so it sees the same load: the floor
  memcpy_fresh_dst             memcpy into fresh memory: what any copy-based receiver also pays
  cpython_inband               (a) pickle.dumps(arr, 5) -> socket -> pickle.loads (numpy if present)
  cpython_container_noverify   (a') the same array through brine_container.py's memfd (zero copy)
  brine_inband                 (b) brine's in-band pickle (BYTEARRAY8) -> socket -> brine::decode
  brine_container_noverify     (c) write_container_memfd -> SCM_RIGHTS -> open (metadata) + decode
  brine_container_verify_all   (c) the same with verify_policy::all (XXH3 over every byte)
Columns: sender ms (serialize + send), receiver ms (first byte or descriptor -> decoded object),
total ms (sender start -> decoded), teardown ms (receiver frees / unmaps).
Targets: (c) receiver without verification < 1 ms; (c) receiver with full verification within
2x of memcpy (warm). --python picks the interpreter for the CPython rows (numpy makes them a numpy
array; without numpy, array('d')).
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def rows_of(out):
    rows = {}
    for line in out.splitlines():
        if line.startswith("note "):
            print(line[5:])
        if line.startswith("row "):
            fields = dict(kv.split("=", 1) for kv in line[4:].split())
            rows[fields["name"]] = fields
    return rows


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
    if r.returncode:
        print("failed with status %d" % r.returncode)
        sys.exit(1)
    return rows_of(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--py-runs", type=int, default=3)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--module-dir", default=os.path.join(HERE, "..", "..", "python"))
    args = ap.parse_args()

    rows = {}
    rows.update(run([args.python, os.path.join(HERE, "bench_cpython_transport.py"), "--size", args.size,
                     "--runs", str(args.py_runs), "--module-dir", os.path.abspath(args.module_dir)]))
    rows.update(run([args.bench, "--size", args.size, "--runs", str(args.runs)]))

    order = ["memcpy", "memcpy_fresh_dst", "cpython_inband", "cpython_container_noverify", "brine_inband",
             "brine_container_noverify", "brine_container_verify_all"]
    print()
    print("%-28s %12s %12s %12s %12s" % ("method", "sender ms", "receiver ms", "total ms", "teardown ms"))
    for name in order:
        if name not in rows:
            continue
        r = rows[name]
        if name.startswith("memcpy"):
            print("%-28s %12s %12.2f %12s %12s" % (name, "", float(r["receiver_ms"]), "", ""))
        else:
            print("%-28s %12.2f %12.3f %12.2f %12.2f" % (name, float(r["sender_ms"]), float(r["receiver_ms"]),
                                                        float(r["total_ms"]), float(r["teardown_ms"])))
    noverify = float(rows["brine_container_noverify"]["receiver_ms"])
    verify = float(rows["brine_container_verify_all"]["receiver_ms"])
    ratio = float(rows["brine_container_verify_all"]["memcpy_ratio"])
    print()
    print("(c) receiver, no bulk verification: %.3f ms (target < 1 ms): %s"
          % (noverify, "met" if noverify < 1.0 else "MISSED"))
    print("(c) receiver, full XXH3 verification: %.1f ms = %.2fx the memcpy timed before each run "
          "(median of per-run ratios; target <= 2x): %s" % (verify, ratio, "met" if ratio <= 2.0 else "MISSED"))
    if "cpython_inband" in rows:
        print("(a)/(c) receiver: %.0fx; (b)/(c) receiver: %.0fx"
              % (float(rows["cpython_inband"]["receiver_ms"]) / noverify,
                 float(rows["brine_inband"]["receiver_ms"]) / noverify))


if __name__ == "__main__":
    main()
