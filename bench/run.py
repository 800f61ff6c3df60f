#!/usr/bin/env python3
"""Run every brine benchmark beside its CPython baseline, in one run, on the same data; print the
tables and rewrite bench/RESULTS.md. bench/run (the one command) builds in Release and calls this.

    python3 run.py --bench-decode B --bench-encode B --bench-bulk B --bench-transport B
                   [--bench-torch B] --data DIR [options]

Options:
  --runs N          samples per brine measurement and round (default 11)
  --py-runs N       samples per CPython measurement and round (default 5)
  --rounds N        rounds over the workloads (default 3; 1 with --quick, --smoke): each round runs
                    brine and CPython back to back on every workload, a ratio is computed per round,
                    and the tables show the median of the rounds' ratios
  --quick           fewer samples (7 / 3), 64 MiB bytes, 1M vs 10M out-of-band doubles, 256 MiB transport
  --no-big          no 256 MiB bytes object (16 MiB instead), 1M vs 10M doubles, no 1 GiB transport
  --smoke           small workloads, one sample each, tiny bulk sizes, RESULTS.md untouched (CTest)
  --only NAME       one workload (RESULTS.md untouched)
  --decode-only     the decode table only (RESULTS.md untouched)
  --no-write        print, do not rewrite bench/RESULTS.md
  --strict          exit 1 when a target is missed
  --python PY       the interpreter for the CPython rows (default: the one running this script)
  --module-dir DIR  python/ of the source tree, for the transport benchmark's brine_container.py

Each benchmark verifies what it times first (bench/README.md says what); any failure stops the
run with exit status 1 and no table. Workloads are written into DIR by make_workloads.py when they
are missing or older than it.
"""

import argparse
import datetime
import statistics
import os
import platform
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")

DECODE_TARGET = 20.0        # x CPython pickle.loads, object-heavy workloads
DECODE_GBPS_TARGET = 1.0    # GB/s of pickle input on records
DOC_MEMORY_TARGET = 3.0     # document bytes / pickle bytes
ENCODE_DOC_TARGET = 10.0    # x CPython pickle.dumps, from a document
ENCODE_TYPED_TARGET = 20.0  # x CPython pickle.dumps, from typed C++ values
INBAND_TARGET = 1.5         # bulk bytes in-band: x memcpy
OOB_FLAT_TARGET = 2.0       # out-of-band: time(largest) / time(smallest) at most this

LARGE = ["records", "ints", "floats", "strs", "dict"]
DESCRIPTIONS = {
    "records": "100,000 dicts of 6 keys (int, str, float, list of 3 shared tags, bool, None)",
    "ints": "1,000,000 ints in +-2^40",
    "floats": "1,000,000 floats over 13 orders of magnitude",
    "strs": "1,000,000 ASCII strs of 5-12 characters",
    "dict": "1,000,000 str -> 32-bit int",
    "pp_pickle": "pyperformance pickle / unpickle: a 33-key profile dict, a (list of 20 ints, int) tuple, "
                 "a list of 3 dicts of str (3 pickles)",
    "pp_list": "pyperformance pickle_list / unpickle_list: 10 x [range(10) list, range(10) list]",
    "pp_dict": "pyperformance pickle_dict: {0..99: dict.fromkeys(range(10))}",
    "nested": "dicts and 1-item lists 50,000 containers deep",
    "shared": "1,000,000 references to 1,000 (str, int, float) tuples",
}


def ensure_workloads(data, small):
    stamp = os.path.join(data, "stamp")
    script = os.path.join(HERE, "make_workloads.py")
    marker = os.path.join(data, "small" if small else "full")
    if os.path.exists(stamp) and os.path.exists(marker) and os.path.getmtime(stamp) >= os.path.getmtime(script):
        return
    cmd = [sys.executable, script, "--out", data] + (["--small"] if small else [])
    subprocess.run(cmd, check=True)
    for m in ("small", "full"):
        if os.path.exists(os.path.join(data, m)):
            os.remove(os.path.join(data, m))
    open(marker, "w").close()


def merge_rounds(rounds):
    """One fields dict per (kind, workload) from the rounds' results: the median of the rounds'
    medians and other numbers (the lower one of an even count, so they stay integers), the least
    minimum and the greatest maximum."""
    merged = {}
    for key in rounds[0]:
        each = [r[key] for r in rounds if key in r]
        fields = dict(each[0])
        for name in fields:
            values = [f[name] for f in each if name in f]
            if not all(re.fullmatch(r"-?\d+", v) for v in values):
                continue
            ints = [int(v) for v in values]
            if name.endswith("_min_ns"):
                fields[name] = str(min(ints))
            elif name.endswith("_max_ns"):
                fields[name] = str(max(ints))
            else:
                fields[name] = str(statistics.median_low(ints))
        merged[key] = fields
    return merged


def run_and_parse(command, results, echo=True):
    """Runs `command`, echoes its notes, and adds its `result kind=K workload=W ...` lines to
    results[(K, W)]. Exits when it fails."""
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("result "):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            results[(fields["kind"], fields["workload"])] = fields
        elif echo:
            print(line)
    sys.stdout.flush()
    if proc.returncode != 0:
        sys.exit("run.py: %s failed (exit %d); no table" % (os.path.basename(command[0]), proc.returncode))
    return proc.stdout


def num(fields, key):
    return int(fields[key])


def ms(ns):
    if ns < 1e5:
        return "%.4f" % (ns / 1e6)
    return "%.3f" % (ns / 1e6) if ns < 1e8 else "%.1f" % (ns / 1e6)


def spread(f, prefix):
    """median [min-max] in ms."""
    return "%s [%s-%s]" % (ms(num(f, prefix + "_median_ns")), ms(num(f, prefix + "_min_ns")), ms(num(f, prefix + "_max_ns")))


def mb(n):
    if n < 0:
        return "n/a"
    return "%.1f" % (n / 1e6) if n >= 1e7 else "%.3f" % (n / 1e6)


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def rounds_note(each):
    """The rounds' ratios behind a median, when there was more than one round."""
    return "; rounds %s" % each if "/" in each else ""


def fmt_ratio(r):
    return "%.1fx" % r if r < 100 else "%.0fx" % r


def table(header, rows):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = []
    for r in [header] + rows:
        lines.append("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def machine_description(build_dir):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = ", %.0f GiB RAM" % (kb / 2**20)
    except (OSError, ValueError, IndexError):
        pass
    osname = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    compiler, build_type = "", ""
    cache = os.path.join(build_dir, "CMakeCache.txt") if build_dir else ""
    if cache and os.path.exists(cache):
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    cxx = line.split("=", 1)[1].strip()
                    try:
                        compiler = subprocess.run([cxx, "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
                    except (OSError, IndexError):
                        compiler = os.path.basename(cxx)
                elif line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip()
    return cpu, os.cpu_count(), mem, osname, compiler, build_type


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for b in ("decode", "encode", "bulk", "transport", "torch"):
        ap.add_argument("--bench-" + b)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--py-runs", type=int)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-big", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only")
    ap.add_argument("--decode-only", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--module-dir", default=os.path.join(HERE, "..", "python"))
    ap.add_argument("--build-type", default="")
    ap.add_argument("--command", default="", help="the command line to quote in RESULTS.md")
    args = ap.parse_args()

    runs, py_runs, rounds = 11, 5, 3
    bytes_size, oob_sizes, transport_size, transport_runs = "256M", "1000000,100000000", "1G", (5, 3)
    if args.quick:
        runs, py_runs, rounds = 7, 3, 1
        bytes_size, oob_sizes, transport_size = "64M", "1000000,10000000", "256M"
    if args.no_big:
        bytes_size, oob_sizes, transport_size = "16M", "1000000,10000000", None
    if args.smoke:
        runs, py_runs, rounds = 1, 1, 1
        bytes_size, oob_sizes, transport_size, transport_runs = "1M", "1000,100000", "8M", (1, 1)
    runs = args.runs or runs
    py_runs = args.py_runs or py_runs
    rounds = args.rounds or rounds
    write = not (args.no_write or args.smoke or args.only or args.decode_only)
    build_dir = os.path.dirname(os.path.dirname(os.path.abspath(args.bench_decode))) if args.bench_decode else ""
    cpu, ncpu, mem, osname, compiler, build_type = machine_description(build_dir)
    build_type = args.build_type or build_type
    if build_type and build_type != "Release" and not args.smoke:
        print("run.py: WARNING: a %s build; only Release numbers mean anything" % build_type)

    load_before = os.getloadavg()
    started = datetime.datetime.now()
    ensure_workloads(args.data, args.smoke)
    # One workload at a time, brine and CPython back to back: on a shared machine the speed of
    # memory-bound code drifts over minutes (other tenants, and phases in which this VM runs up to
    # 2x slower), and a ratio of two measurements taken minutes apart would carry that drift. The
    # workloads are run in rounds, a ratio taken per round and the median of those kept, so that a
    # slow phase covering one side of one round does not decide a verdict.
    py_base = [args.python, os.path.join(HERE, "bench_cpython.py"), "--runs", str(py_runs)]
    by_round = []
    for r in range(rounds):
        if rounds > 1:
            print("\n=== round %d of %d" % (r + 1, rounds), flush=True)
        got = {}
        for w in [args.only] if args.only else list(DESCRIPTIONS):
            only = ["--only", w]
            run_and_parse([args.bench_decode, "--runs", str(runs)] + only + [args.data], got)
            if not args.decode_only:
                run_and_parse([args.bench_encode, "--runs", str(runs)] + only + [args.data], got)
            run_and_parse(py_base + only + [args.data], got)
        by_round.append(got)
    res = merge_rounds(by_round)

    def paired(w, top_kind, top_key, bottom_kind, bottom_key):
        """The median over the rounds of top / bottom (each round's own pair), and the rounds'
        values as text."""
        each = [ratio(num(g[(top_kind, w)], top_key), num(g[(bottom_kind, w)], bottom_key)) for g in by_round
                if (top_kind, w) in g and (bottom_kind, w) in g and top_key in g[(top_kind, w)] and bottom_key in g[(bottom_kind, w)]]
        return statistics.median(each), "/".join(fmt_ratio(x) for x in each)
    if not args.decode_only:
        if not args.only:
            run_and_parse([args.bench_bulk, "--runs", str(max(3, runs // 3) if not args.smoke else 1),
                           "--bytes-size=" + bytes_size, "--oob-sizes=" + oob_sizes, args.data], res)
            run_and_parse(py_base + ["--no-workloads", "--bytes-size", bytes_size, "--oob-sizes", oob_sizes, args.data], res)
        if args.bench_torch:
            run_and_parse([args.bench_torch, "--runs", str(runs)] + (["--only", args.only] if args.only else [])
                          + [args.data], res)
    transport_out = ""
    if transport_size and not args.decode_only and not args.only and args.bench_transport:
        cmd = [sys.executable, os.path.join(HERE, "transport", "run_transport.py"), "--bench", args.bench_transport,
               "--size", transport_size, "--runs", str(transport_runs[0]), "--py-runs", str(transport_runs[1]),
               "--python", args.python, "--module-dir", os.path.abspath(args.module_dir)]
        print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        print(proc.stdout)
        if proc.returncode != 0:
            sys.exit("run.py: the transport benchmark failed; no table")
        at = proc.stdout.find("\nmethod")
        transport_out = proc.stdout[at + 1:].rstrip() if at >= 0 else proc.stdout.rstrip()
    load_after = os.getloadavg()

    names = [w for (k, w) in res if k == "decode"]
    verdicts = []  # (target, met, detail)

    # ---- decode
    rows = []
    for w in names:
        b, c = res[("decode", w)], res[("cpython", w)]
        size = num(b, "pickle_bytes")
        sp, _ = paired(w, "cpython", "loads_median_ns", "decode", "decode_median_ns")
        cpu_sp, cpu_rounds = paired(w, "cpython", "loads_cpu_median_ns", "decode", "decode_cpu_median_ns")
        rows.append((w, "%.3f" % (size / 1e6), spread(c, "loads"), ms(num(c, "loads_nogc_median_ns")), spread(b, "decode"),
                     "%.0f" % (size * 1e3 / max(num(b, "decode_median_ns"), 1)),
                     fmt_ratio(sp), fmt_ratio(cpu_sp), ms(num(b, "decoder_median_ns")), ms(num(b, "validate_median_ns")),
                     ms(num(b, "memcpy_median_ns")), "%.2f" % (num(b, "doc_bytes") / size), mb(num(b, "peak_bytes")),
                     mb(num(c, "peak_bytes")), "%.2f" % (num(c, "retained_bytes") / size)))
        if w in LARGE or w in ("pp_pickle", "pp_list", "pp_dict", "nested", "shared"):
            verdicts.append(("decode %s >= %gx pickle.loads (cpu)" % (w, DECODE_TARGET), cpu_sp >= DECODE_TARGET,
                             "%s (wall %s)%s" % (fmt_ratio(cpu_sp), fmt_ratio(sp), rounds_note(cpu_rounds))))
        verdicts.append(("decode %s: document <= %gx pickle" % (w, DOC_MEMORY_TARGET),
                         num(b, "doc_bytes") / size <= DOC_MEMORY_TARGET, "%.2fx" % (num(b, "doc_bytes") / size)))
        if w == "records":
            gbps = size / max(num(b, "decode_cpu_median_ns"), 1)
            verdicts.append(("decode records >= %g GB/s (cpu)" % DECODE_GBPS_TARGET, gbps >= DECODE_GBPS_TARGET, "%.2f GB/s" % gbps))
    decode_table = table(("workload", "pickle MB", "CPython loads ms [min-max]", "no-gc ms", "brine decode ms [min-max]",
                          "MB/s", "speedup", "cpu speedup", "decoder ms", "validate ms", "memcpy ms", "doc/pickle",
                          "brine peak MB", "CPython peak MB", "py/pickle"), rows)

    # ---- encode
    encode_table = ""
    if not args.decode_only:
        rows = []
        for w in names:
            if ("encode", w) not in res:
                continue
            e, c = res[("encode", w)], res[("cpython", w)]
            size = num(e, "pickle_bytes")
            sp, _ = paired(w, "cpython", "dumps_median_ns", "encode", "encode_median_ns")
            cpu_sp, cpu_rounds = paired(w, "cpython", "dumps_cpu_median_ns", "encode", "encode_cpu_median_ns")
            typed = "typed_median_ns" in e
            tsp, _ = paired(w, "cpython", "dumps_median_ns", "encode", "typed_median_ns") if typed else (0, "")
            tcpu, tcpu_rounds = paired(w, "cpython", "dumps_cpu_median_ns", "encode", "typed_cpu_median_ns") if typed else (0, "")
            rows.append((w, "%.3f" % (size / 1e6), spread(c, "dumps"), spread(e, "encode"),
                         "%.0f" % (size * 1e3 / max(num(e, "encode_median_ns"), 1)), fmt_ratio(sp), fmt_ratio(cpu_sp),
                         ms(num(e, "encode_to_median_ns")), spread(e, "typed") if typed else "n/a",
                         fmt_ratio(tsp) if typed else "n/a", fmt_ratio(tcpu) if typed else "n/a", "yes",
                         mb(num(e, "encode_peak_bytes")), mb(num(e, "typed_peak_bytes")) if typed else "n/a",
                         mb(num(c, "dumps_peak_bytes"))))
            verdicts.append(("encode %s from a document >= %gx pickle.dumps (cpu)" % (w, ENCODE_DOC_TARGET),
                             cpu_sp >= ENCODE_DOC_TARGET, "%s (wall %s)%s" % (fmt_ratio(cpu_sp), fmt_ratio(sp), rounds_note(cpu_rounds))))
            if typed:
                verdicts.append(("encode %s from typed values >= %gx pickle.dumps (cpu)" % (w, ENCODE_TYPED_TARGET),
                                 tcpu >= ENCODE_TYPED_TARGET, "%s (wall %s)%s" % (fmt_ratio(tcpu), fmt_ratio(tsp), rounds_note(tcpu_rounds))))
        encode_table = table(("workload", "pickle MB", "CPython dumps ms [min-max]", "brine encode ms [min-max]", "MB/s",
                              "speedup", "cpu speedup", "encode_to ms", "typed ms [min-max]", "typed speedup",
                              "typed cpu speedup", "identical", "encode peak MB", "typed peak MB", "CPython peak MB"), rows)

    # ---- bulk and out-of-band
    bulk_table = oob_table = ""
    if ("bulk", "bytes") in res and ("cpython_bulk", "bytes") in res:
        b, c = res[("bulk", "bytes")], res[("cpython_bulk", "bytes")]
        size = num(b, "pickle_bytes")
        cpy, fresh = num(b, "memcpy_median_ns"), num(b, "memcpy_fresh_median_ns")
        cpy_cpu, fresh_cpu = num(b, "memcpy_cpu_median_ns"), num(b, "memcpy_fresh_cpu_median_ns")

        def row(name, f, prefix, peak=None):
            t = num(f, prefix + "_median_ns")
            return (name, spread(f, prefix), ms(num(f, prefix + "_cpu_median_ns")), "%.0f" % (size * 1e3 / max(t, 1)),
                    "%.2fx" % ratio(t, cpy), "%.2fx" % ratio(t, fresh), "%.2fx" % ratio(num(f, prefix + "_cpu_median_ns"), fresh_cpu),
                    mb(num(f, peak)) if peak else "")
        rows = [row("memcpy (warm destination)", b, "memcpy"), row("memcpy into fresh memory", b, "memcpy_fresh"),
                row("CPython pickle.dumps", c, "dumps", "dumps_peak_bytes"), row("CPython pickle.loads", c, "loads", "loads_peak_bytes"),
                row("brine encode (document)", b, "encode", "encode_peak_bytes"), row("brine pickle (typed bytes_view)", b, "typed", "typed_peak_bytes"),
                row("brine encode_to (sink, no copy)", b, "encode_to"), row("brine decode (views the input)", b, "decode")]
        bulk_table = table(("%s MiB bytes, in-band" % (size >> 20), "ms [min-max]", "cpu ms", "MB/s", "/ memcpy", "/ fresh memcpy",
                            "cpu / fresh memcpy", "peak MB"), rows)
        enc_fresh = ratio(num(b, "encode_cpu_median_ns"), fresh_cpu)
        typ_fresh = ratio(num(b, "typed_cpu_median_ns"), fresh_cpu)
        verdicts.append(("bytes in-band: encode within %gx of memcpy into fresh memory (cpu)" % INBAND_TARGET,
                         enc_fresh <= INBAND_TARGET, "%.2fx (typed %.2fx; %.2fx a warm memcpy)" % (
                             enc_fresh, typ_fresh, ratio(num(b, "encode_cpu_median_ns"), cpy_cpu))))
        oobs = sorted((num(f, "doubles"), f) for (k, w), f in res.items() if k == "oob")
        if oobs:
            rows = []
            for n, f in oobs:
                c = res.get(("cpython_oob", str(n)))
                rows.append(("%d doubles (%s MB)" % (n, mb(n * 8)), spread(c, "dumps") if c else "n/a", spread(f, "typed"),
                             ms(num(f, "typed_cpu_median_ns")), spread(f, "encode"), ms(num(f, "encode_cpu_median_ns"))))
            oob_table = table(("out-of-band buffer", "CPython dumps ms", "brine typed ms", "typed cpu ms", "brine encode ms",
                               "encode cpu ms"), rows)
            small, large = oobs[0][1], oobs[-1][1]
            flat = max(ratio(num(large, "typed_cpu_median_ns"), num(small, "typed_cpu_median_ns")),
                       ratio(num(large, "encode_cpu_median_ns"), num(small, "encode_cpu_median_ns")))
            verdicts.append(("out-of-band: O(1) in the data size (time for %d vs %d doubles, cpu)" % (oobs[-1][0], oobs[0][0]),
                             flat <= OOB_FLAT_TARGET, "%.2fx" % flat))

    # ---- torch
    torch_table = ""
    torch_rows = [(w, f) for (k, w), f in res.items() if k == "torch"]
    if torch_rows:
        rows = []
        for w, f in torch_rows:
            if "unsupported" in f:
                rows.append((w, "cannot read", "", "", "", "", "", "", ""))
                continue
            un, dec = num(f, "torch_unpickle_median_ns"), num(f, "brine_decode_median_ns")
            pk, enc = num(f, "torch_pickle_median_ns"), num(f, "brine_encode_median_ns")
            cpu_r = ratio(num(f, "torch_unpickle_cpu_median_ns"), num(f, "brine_decode_cpu_median_ns"))
            rows.append((w, spread(f, "torch_unpickle"), spread(f, "brine_decode"), fmt_ratio(ratio(un, dec)), fmt_ratio(cpu_r),
                         spread(f, "torch_pickle"), spread(f, "brine_encode"), fmt_ratio(ratio(pk, enc)),
                         "%s / %s" % (mb(num(f, "torch_peak_bytes")), mb(num(f, "brine_peak_bytes")))))
            verdicts.append(("decode %s faster than PyTorch's unpickler (cpu)" % w, cpu_r > 1.0, fmt_ratio(cpu_r)))
        torch_table = table(("workload (protocol 2)", "torch unpickle ms", "brine decode ms", "brine faster", "cpu",
                             "torch pickle ms", "brine encode ms", "brine faster", "peak MB torch / brine"), rows)

    # ---- print
    header = ("%d round(s); brine %d samples, CPython %d samples per measurement and round; medians per operation "
              "[min-max]; ratios: the median of the rounds' ratios; load average %.2f before, %.2f after, on %d CPUs"
              % (rounds, runs, py_runs, load_before[0], load_after[0], ncpu))
    sections = [("Decode", decode_table), ("Encode", encode_table), ("Bulk bytes", bulk_table), ("Out-of-band", oob_table),
                ("PyTorch", torch_table), ("Transport", transport_out)]
    print()
    print(header)
    for title, t in sections:
        if t:
            print("\n" + title + "\n" + t)
    missed = [v for v in verdicts if not v[1]]
    print("\nTargets: %d met, %d missed" % (len(verdicts) - len(missed), len(missed)))
    for target, met, detail in verdicts:
        print("  %-6s %s: %s" % ("met" if met else "MISSED", target, detail))

    if write:
        write_results(args, started, load_before, load_after, (cpu, ncpu, mem, osname, compiler, build_type),
                      runs, py_runs, rounds, names, sections, verdicts, res)
        print("\nwrote %s" % RESULTS)
    if missed and args.strict:
        sys.exit(1)


def write_results(args, started, load_before, load_after, machine, runs, py_runs, rounds, names, sections, verdicts, res):
    cpu, ncpu, mem, osname, compiler, build_type = machine
    pyver = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"], stdout=subprocess.PIPE,
                           text=True).stdout.strip()
    command = args.command or "bench/run"
    out = []
    out.append("# Benchmark results\n")
    out.append("Written by `%s` (bench/run.py) on %s. Do not edit by hand: the next run rewrites it; the "
               "analysis lives in [`README.md`](README.md).\n" % (command, started.strftime("%Y-%m-%d %H:%M")))
    out.append("- Machine: %s, %d CPUs%s, %s" % (cpu, ncpu, mem, osname))
    out.append("- Build: %s, %s" % (build_type or "unknown build type", compiler or "unknown compiler"))
    out.append("- CPython: %s (`pickle`'s C accelerator), the `python3` found on PATH" % pyver)
    out.append("- Load average: %.2f / %.2f / %.2f before, %.2f / %.2f / %.2f after. On a loaded machine the wall clock "
               "includes time spent waiting for a CPU: trust the `cpu` columns (thread CPU time on both sides) more "
               "than wall-clock medians; targets are judged on CPU time." % (load_before + load_after))
    out.append("- Samples: %d round(s) over the workloads, brine and CPython back to back on each; brine %d, CPython %d "
               "samples per measurement and round. Times are medians per operation (the median of the rounds' "
               "medians), [min-max] over all samples; a speedup is the median of the rounds' ratios, each taken "
               "within one round. Every benchmark verified its results before timing them (bench/README.md)."
               % (rounds, runs, py_runs))
    out.append("")
    out.append("## Workloads\n")
    out.append("| name | object |")
    out.append("| --- | --- |")
    for w in names:
        out.append("| `%s` | %s |" % (w, DESCRIPTIONS.get(w, "")))
    out.append("")
    notes = {
        "Decode": "brine::decode (a fresh document each time) against pickle.loads (collector on; `no-gc`: off). "
                  "`decoder`: a reused brine::decoder; `validate`: brine::validate. `doc/pickle`: document bytes "
                  "over pickle bytes (the borrowed pickle not counted); `peak`: heap growth during one decode "
                  "(brine: malloc, CPython: tracemalloc); `py/pickle`: what the loaded object keeps.",
        "Encode": "brine::encode from the decoded document, brine::encode_to into a reused buffer, and brine::pickle "
                  "from typed C++ values (bench_encode.cpp lists the types), against pickle.dumps(obj, 5). `identical`: "
                  "every brine output was checked byte for byte against CPython's before timing.",
        "Bulk bytes": "A bytes object pickled in-band (BINBYTES) and loaded. Ratios against memcpy into a warm "
                      "buffer and into fresh memory (what any writer returning a new buffer pays in page faults).",
        "Out-of-band": "float64 arrays as PEP 574 buffers through the buffer callback (NEXT_BUFFER, READONLY_BUFFER): "
                       "nothing is copied, so the time must not grow with the data.",
        "PyTorch": "PyTorch's C++ unpickler and pickler (torch::jit::unpickle / torch::jit::pickle, what "
                   "torch::pickle_load / pickle_save run inside their zip archive) on CPython's protocol-2 pickles of "
                   "the same objects, the only protocol it reads.",
        "Transport": "bench/transport: one float64 array between two processes (bench/transport/README.md).",
    }
    for title, t in sections:
        if not t:
            continue
        out.append("## %s\n" % title)
        out.append(notes[title] + "\n")
        out.append("```")
        out.append(t)
        out.append("```\n")
    missed = [v for v in verdicts if not v[1]]
    out.append("## Targets (issues 3, 5 and 8)\n")
    out.append("%d met, %d missed. Why the misses happen, and what profiling showed: [`README.md`](README.md#what-profiling-shows).\n"
               % (len(verdicts) - len(missed), len(missed)))
    out.append("| target | result | measured |")
    out.append("| --- | --- | --- |")
    for target, met, detail in verdicts:
        out.append("| %s | %s | %s |" % (target, "met" if met else "**missed**", detail))
    out.append("")
    with open(RESULTS, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
