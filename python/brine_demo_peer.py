"""brine_demo_peer — the CPython side of `brine demo` (tools/cli_demo.cpp starts it).

    python3 brine_demo_peer.py --fd N [--verify all|skip_bulk]

N is a connected Unix stream socket inherited from brine. The peer receives one container as a
sealed memfd (brine_container.receive_container: SCM_RIGHTS), maps it and unpickles it with its
out-of-band buffers as views of the mapping (no copy), checks that the samples array really lies
inside the mapping, computes summary statistics, a 64-bin histogram and a float32 copy of the
samples, and replies with its own container (pickle protocol 5, the two arrays out of band) in a
sealed memfd over the same socket.

The request is a dict: 'meta' (a dict), 'records' (a list of dicts: id, name, site, active,
calibration, tags) and 'samples' (a float64 numpy array, or a PickleBuffer when the interpreter
has no numpy). The reply: 'peer', 'zero_copy', 'stats', 'records', 'histogram', 'float32' and
'timings_ns' (time.monotonic_ns() stamps, the clock brine's C++ side reads too).

Works with the standard library alone (slowly, on memoryviews); numpy and xxhash make it fast.
Any failure is one line on standard error and exit status 1.
"""
import argparse
import math
import os
import pickle
import socket
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brine_container as bc  # noqa: E402

try:
    import numpy as np
except ImportError:  # the standard-library path below
    np = None

BINS = 64


def inside_mapping(obj, mapping):
    """True when the data of `obj` (a numpy array or a memoryview) lies inside `mapping`."""
    if np is not None and isinstance(obj, np.ndarray):
        base = np.frombuffer(mapping, dtype=np.uint8).__array_interface__["data"][0]
        addr = obj.__array_interface__["data"][0]
        return base <= addr and addr + obj.nbytes <= base + len(mapping)
    return isinstance(obj, memoryview) and obj.obj is mapping


def stats_numpy(x):
    mn, mx = float(x.min()), float(x.max())
    total = float(x.sum())
    n = int(x.size)
    hist = np.zeros(BINS, dtype=np.int64)
    if n and mx > mn:
        # The same IEEE operations, in the same order, as the C++ side: identical bins.
        idx = ((x - mn) * (BINS / (mx - mn))).astype(np.int64)
        np.minimum(idx, BINS - 1, out=idx)
        hist = np.bincount(idx, minlength=BINS).astype(np.int64)
    elif n:
        hist[0] = n
    stats = {"n": n, "sum": total, "mean": total / n if n else math.nan, "std": float(x.std()) if n else math.nan,
             "min": mn, "max": mx}
    return stats, hist, x.astype(np.float32)


def stats_pure(view):
    import array
    x = view.cast("B").cast("d") if view.format != "d" else view
    n = len(x)
    mn, mx = (min(x), max(x)) if n else (math.nan, math.nan)
    total = math.fsum(x)
    mean = total / n if n else math.nan
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / n) if n else math.nan
    hist = array.array("q", [0] * BINS)
    if n and mx > mn:
        scale = BINS / (mx - mn)
        for v in x:
            hist[min(int((v - mn) * scale), BINS - 1)] += 1
    elif n:
        hist[0] = n
    f32 = array.array("f", x)
    stats = {"n": n, "sum": total, "mean": mean, "std": std, "min": mn, "max": mx}
    return stats, pickle.PickleBuffer(hist), pickle.PickleBuffer(f32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--verify", default="all", choices=("all", "skip_bulk", "metadata"))
    args = parser.parse_args()
    warnings.simplefilter("ignore", bc.ChecksumSkippedWarning)  # reported in the reply instead
    t = {"ready": time.monotonic_ns()}
    sock = socket.socket(fileno=args.fd)
    try:
        c = bc.receive_container(sock, verify=args.verify)
        t["received"] = time.monotonic_ns()
        request = c.load()
        t["loaded"] = time.monotonic_ns()

        samples, records, meta = request["samples"], request["records"], request["meta"]
        zero_copy = inside_mapping(samples, c.mapping)
        if np is not None:
            stats, hist, f32 = stats_numpy(samples)
        else:
            stats, hist, f32 = stats_pure(samples)
        by_site = {}
        active = 0
        calibration = []
        for r in records:
            by_site[r["site"]] = by_site.get(r["site"], 0) + 1
            active += bool(r["active"])
            calibration.append(r["calibration"])
        t["computed"] = time.monotonic_ns()

        reply = {
            "peer": {
                "python": "%d.%d.%d" % sys.version_info[:3],
                "numpy": np.__version__ if np is not None else None,
                "xxhash": bc.has_xxhash(),
                "zstandard": bc.has_zstd(),
                "verify": args.verify,
                "run": meta.get("run"),
            },
            "zero_copy": zero_copy,
            "stats": stats,
            "records": {
                "count": len(records),
                "active": active,
                "by_site": dict(sorted(by_site.items())),
                "mean_calibration": math.fsum(calibration) / len(calibration) if calibration else math.nan,
            },
            "histogram": hist,
            "float32": f32,
            "timings_ns": t,
        }
        t["replying"] = time.monotonic_ns()
        fd = bc.dump_memfd(reply)  # every PickleBuffer out of band, sealed
        try:
            bc.send_container(sock, fd)
        finally:
            os.close(fd)
        del request, samples, records
        c.close()
    finally:
        sock.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - one line for brine's report, whatever failed
        print("brine_demo_peer: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
