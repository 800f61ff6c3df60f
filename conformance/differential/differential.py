#!/usr/bin/env python3
"""Differential fuzzing of brine against CPython's C unpickler (README.md beside this file).

    differential.py --brine <brine_differential_side> [--cases N] [--seed S] [--python EXE]
                    [--workdir DIR] [--batch B] [--timeout S] [--regressions DIR] [--quiet]

Mutates valid pickles (the conformance corpus, the fuzz seeds, and pickles generated here with
pickle.dumps), feeds each to brine (brine_differential_side) and to CPython (cpython_side.py, run
by --python, default: this interpreter), both as long-running processes reading length-prefixed
records, and compares the two canonical lines: accept/reject, and when both accept, the canonical
text of the decoded graph. Each input carries its decode options (encoding, folding, fix_imports,
persistent ids, out-of-band buffers), chosen per input and given to both sides.

Every disagreement is classified (CLASSES below). Classes marked `deviation` are deliberate
differences recorded in conformance/DEVIATIONS.md ("Differential testing against CPython");
`open-bug` classes are brine bugs reported with a reproducer in fuzz/corpus/differential/ and not
yet fixed; `unclassified` disagreements, crashes and hangs of either side are findings. The
regression inputs of fuzz/corpus/differential/MANIFEST are replayed first. Results go to
--workdir: summary.json (counts per class), and per class the first examples as <n>.pkl beside
<n>.txt (options and both lines). Exit status: 0 when there is no finding and every regression
input ends as its manifest line says, 1 otherwise, 2 on a usage error, 77 when the CPython is
older than 3.8.
"""
import argparse
import collections
import json
import os
import pickle
import queue
import random
import shutil
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import cpython_side  # noqa: E402  (the pre-scan's opcode table, for the opcode-aware mutators)

# --- records ---------------------------------------------------------------------------------

ENC_ASCII, ENC_LATIN1, ENC_UTF8, ENC_BYTES = 0, 1, 2, 3
F_FOLD, F_FIX_IMPORTS, F_LENIENT_FRAMES, F_LENIENT_NUMBERS, F_NO_PERSID, F_BUFFERS = 4, 8, 16, 32, 64, 128
ENCODING_NAMES = ("ascii", "latin1", "utf8", "bytes")


def record(data, flags, nbuf):
    return struct.pack("<IBB", len(data), flags, nbuf) + data


def describe_flags(flags, nbuf):
    parts = ["encoding=" + ENCODING_NAMES[flags & 3]]
    parts.append("fold" if flags & F_FOLD else "no-fold")
    parts.append("fix_imports" if flags & F_FIX_IMPORTS else "no-fix_imports")
    if flags & F_LENIENT_FRAMES:
        parts.append("lenient-frames")
    if flags & F_LENIENT_NUMBERS:
        parts.append("lenient-numbers")
    if flags & F_NO_PERSID:
        parts.append("no-persistent-load")
    parts.append("buffers=%d" % nbuf if flags & F_BUFFERS else "no-buffers-argument")
    return " ".join(parts)


class Side(object):
    """One describer process: records in, one line per record out."""

    def __init__(self, name, argv, timeout):
        self.name, self.argv, self.timeout = name, argv, timeout
        self.proc = None
        self.restarts = 0

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        threading.Thread(target=self._read_err, args=(self.proc, self.stderr), daemon=True).start()

    @staticmethod
    def _read(proc, lines):
        for line in proc.stdout:
            lines.put(line.rstrip(b"\n").decode("utf-8", "backslashreplace"))
        lines.put(None)

    @staticmethod
    def _read_err(proc, sink):
        for line in proc.stderr:
            if len(sink) < 200:
                sink.append(line.decode("utf-8", "backslashreplace"))

    def stop(self):
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
            self.proc = None

    def send(self, blob):
        def write(proc):
            try:
                proc.stdin.write(blob)
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        t = threading.Thread(target=write, args=(self.proc,), daemon=True)
        t.start()
        return t

    def collect(self, count):
        """Up to `count` lines; stops early (returns fewer) when the process dies or hangs."""
        got = []
        while len(got) < count:
            try:
                line = self.lines.get(timeout=self.timeout)
            except queue.Empty:
                return got, "hang"
            if line is None:
                return got, "crash"
            got.append(line)
        return got, None


# --- seeds -----------------------------------------------------------------------------------

def corpus_seeds():
    """(bytes, flags, nbuf, name) for every pickle CPython wrote in conformance/corpus, with the
    options its .desc names, and every fuzz seed (CPython's defaults)."""
    seeds = []
    corpus = os.path.join(ROOT, "conformance", "corpus")
    for d, _, files in sorted(os.walk(corpus)):
        for f in sorted(files):
            if not f.endswith(".pkl"):
                continue
            path = os.path.join(d, f)
            with open(path, "rb") as fh:
                data = fh.read()
            header = {}
            desc = path[:-4] + ".desc"
            if os.path.exists(desc):
                with open(desc, encoding="utf-8") as fh:
                    for line in fh:
                        line = line.strip()
                        if not line:
                            break
                        if "=" in line:
                            k, v = line.split("=", 1)
                            header[k] = v
            enc = ENCODING_NAMES.index(header.get("encoding", "ascii")) if header.get(
                "encoding", "ascii") in ENCODING_NAMES else 0
            nbuf = int(header.get("buffers", "0") or 0)
            flags = enc | F_FOLD | F_FIX_IMPORTS | (F_BUFFERS if "buffers" in header else 0)
            seeds.append((data, flags, nbuf, os.path.relpath(path, ROOT)))
    fuzz = os.path.join(ROOT, "fuzz", "corpus")
    for d, _, files in sorted(os.walk(fuzz)):
        if "fuzz_container" in d:
            continue
        for f in sorted(files):
            if f in ("MANIFEST", "README.md"):
                continue
            path = os.path.join(d, f)
            with open(path, "rb") as fh:
                data = fh.read()
            if len(data) <= 65536:
                seeds.append((data, F_FOLD | F_FIX_IMPORTS, 0, os.path.relpath(path, ROOT)))
    return seeds


class Point(object):
    def __init__(self, x=0, y=0):
        self.x, self.y = x, y


class Reduced(object):
    def __init__(self, v):
        self.v = v

    def __reduce__(self):
        return (Reduced, (self.v,), {"extra": [self.v]})


class WithNewArgsEx(object):
    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, a=0, b=0):
        self.a, self.b = a, b

    def __getnewargs_ex__(self):
        return (self.a,), {"b": self.b}


class ListSub(list):
    pass


class DictSub(dict):
    pass


def random_object(rng, depth=0, pool=None, budget=None):
    """A random picklable object: plain data, shared references, cycles, reductions; at most
    about 80 nodes."""
    if pool is None:
        pool = []
    if budget is None:
        budget = [80]
    budget[0] -= 1
    r = rng.random()
    if depth > 4 or r < 0.35 or budget[0] <= 0:
        choice = rng.randrange(14)
        if choice == 0:
            return None
        if choice == 1:
            return rng.choice([True, False])
        if choice == 2:
            return rng.choice([0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**63, -2**63 - 1,
                               2**64, rng.getrandbits(rng.choice([7, 15, 31, 63, 100, 300]))])
        if choice == 3:
            return rng.choice([0.0, -0.0, 1.5, float("inf"), float("nan"), 1e300, rng.random()])
        if choice == 4:
            return rng.choice(["", "a", "abc", "caf\xe9", "\u20ac", "\U0001f600", "\ud800", "a\nb\\",
                               "x" * rng.randrange(300)])
        if choice == 5:
            return rng.choice([b"", b"\x00", b"abc", bytes(range(rng.randrange(256)))])
        if choice == 6:
            return bytearray(rng.choice([b"", b"xyz"]))
        if choice == 7 and pool:
            return rng.choice(pool)  # shared reference
        if choice == 8:
            return Point(rng.randrange(5), "p")
        if choice == 9:
            return Reduced(rng.randrange(5))
        if choice == 10:
            return WithNewArgsEx(1, 2)
        if choice == 11:
            return rng.choice([len, dict, os.path.join, Ellipsis, NotImplemented, type(None), frozenset])
        if choice == 12:
            return complex(1, 2)
        return rng.randrange(-1000, 1000)
    kind = rng.randrange(8)
    n = rng.randrange(6)
    if kind == 0:
        x = [random_object(rng, depth + 1, pool, budget) for _ in range(n)]
        pool.append(x)
        if rng.random() < 0.2:
            x.append(x)
        return x
    if kind == 1:
        return tuple(random_object(rng, depth + 1, pool, budget) for _ in range(n))
    if kind == 2:
        d = {}
        for _ in range(n):
            k = random_object(rng, 5, pool, budget)
            try:
                d[k] = random_object(rng, depth + 1, pool, budget)
            except TypeError:
                pass
        pool.append(d)
        if rng.random() < 0.2:
            d["self"] = d
        return d
    if kind == 3:
        s = set()
        for _ in range(n):
            try:
                s.add(random_object(rng, 5, pool, budget))
            except TypeError:
                pass
        return s if rng.random() < 0.5 else frozenset(s)
    if kind == 4:
        x = ListSub(random_object(rng, depth + 1, pool, budget) for _ in range(n))
        x.attr = n
        return x
    if kind == 5:
        return DictSub(a=random_object(rng, depth + 1, pool, budget))
    if kind == 6:
        p = Point(random_object(rng, depth + 1, pool, budget), random_object(rng, depth + 1, pool, budget))
        pool.append(p)
        return p
    return [rng.randrange(300) for _ in range(n * 250)]  # long enough for batches of 1000


def generated_seed(rng):
    obj = random_object(rng)
    proto = rng.randrange(0, pickle.HIGHEST_PROTOCOL + 1)
    bufs = []
    if proto >= 5 and rng.random() < 0.3:
        obj = [obj, pickle.PickleBuffer(bytearray(b"oob")), pickle.PickleBuffer(b"ro")]
        data = pickle.dumps(obj, protocol=proto, buffer_callback=bufs.append)
    else:
        try:
            data = pickle.dumps(obj, protocol=proto)
        except (pickle.PicklingError, TypeError, ValueError, RecursionError, AttributeError):
            data = pickle.dumps(None, protocol=proto)
    return data, F_FOLD | F_FIX_IMPORTS | (F_BUFFERS if bufs else 0), len(bufs)


# --- mutation --------------------------------------------------------------------------------

def tokens(data):
    """Opcode boundaries [(start, end, opcode)] as the C reader reads them, up to STOP or an
    unreadable opcode."""
    out = []
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        spec = cpython_side.ARGS.get(c)
        if spec is None:
            break
        kind, width, signed = spec
        j = i + 1
        if kind == "fixed":
            j += width
        elif kind == "lines":
            for _ in range(width):
                k = data.find(b"\n", j)
                if k < 0:
                    j = n + 1
                    break
                j = k + 1
        elif kind == "counted":
            if n - j < width:
                break
            length = int.from_bytes(data[j:j + width], "little", signed=signed)
            j += width + max(length, 0)
        if j > n:
            break
        out.append((i, j, c))
        i = j
        if c == ord("."):
            break
    return out


def q8(n):
    return struct.pack("<Q", n)


# Opcodes to insert, with plausible arguments: the stack machine's operations rather than data.
def random_opcode(rng):
    c = rng.randrange(40)
    if c == 0: return b"("
    if c == 1: return b"0"
    if c == 2: return b"1"
    if c == 3: return b"2"
    if c == 4: return b"\x94"
    if c == 5: return b"h" + bytes([rng.randrange(8)])
    if c == 6: return b"q" + bytes([rng.randrange(8)])
    if c == 7: return b"]"
    if c == 8: return b"}"
    if c == 9: return b")"
    if c == 10: return rng.choice([b"\x85", b"\x86", b"\x87", b"t"])
    if c == 11: return rng.choice([b"a", b"e"])
    if c == 12: return rng.choice([b"s", b"u"])
    if c == 13: return b"\x90"
    if c == 14: return b"b"
    if c == 15: return b"R"
    if c == 16: return rng.choice([b"\x81", b"\x92"])
    if c == 17: return b"\x93"
    if c == 18: return rng.choice([b"cbuiltins\nset\n", b"c__builtin__\nset\n", b"cbuiltins\nfrozenset\n",
                                   b"cbuiltins\nbytearray\n", b"c_codecs\nencode\n", b"cbuiltins\nbytes\n",
                                   b"ccopy_reg\n_reconstructor\n", b"cos\nsystem\n", b"cUserList\nUserList\n",
                                   b"cbuiltins\nobject\n", b"cmod\na.b\n"])
    if c == 19: return b"\x95" + q8(rng.choice([0, 1, 2, 5, 9, 20, rng.randrange(64)]))
    if c == 20: return b"\x80" + bytes([rng.randrange(7)])
    if c == 21: return b"N"
    if c == 22: return rng.choice([b"\x88", b"\x89"])
    if c == 23: return b"K" + bytes([rng.randrange(256)])
    if c == 24: return b"\x8c" + rng.choice([b"\x01x", b"\x08builtins", b"\x03set", b"\x06latin1", b"\x00"])
    if c == 25: return b"Q"
    if c == 26: return b"\x97"
    if c == 27: return b"\x98"
    if c == 28: return b"\x82" + bytes([rng.randrange(4)])
    if c == 29: return b"(i__main__\nC\n"
    if c == 30: return b"o"
    if c == 31: return b"."
    if c == 32: return rng.choice([b"I01\n", b"I00\n", b"I7\n", b"I010\n", b"L5L\n", b"F1.5\n", b"Fnan\n"])
    if c == 33: return rng.choice([b"Vx\n", b"V\\u20ac\n", b"S'a'\n", b"Pid\n", b"U\x01\xe9", b"T\x01\x00\x00\x00a"])
    if c == 34: return b"\x8a" + rng.choice([b"\x00", b"\x01\x05", b"\x02\x00\x80", b"\x09" + b"\xff" * 9])
    if c == 35: return rng.choice([b"C\x01a", b"B\x01\x00\x00\x00b", b"\x96\x01" + b"\x00" * 7 + b"c"])
    if c == 36: return b"G" + struct.pack(">d", rng.choice([0.0, -0.0, 1.0, float("nan")]))
    if c == 37: return b"j" + struct.pack("<I", rng.randrange(4))
    if c == 38: return b"r" + struct.pack("<I", rng.randrange(4))
    return bytes([rng.randrange(256)])


def mutate(rng, data, others):
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        toks = tokens(bytes(data))
        m = rng.randrange(16)
        if m <= 5 and toks:  # opcode level
            a, b, _ = rng.choice(toks)
            if m == 0:
                del data[a:b]
            elif m == 1:
                data[a:a] = data[a:b]
            elif m == 2:
                data[a:a] = random_opcode(rng)
            elif m == 3 and len(toks) > 1:
                k = rng.randrange(len(toks) - 1)
                (a1, b1, _), (a2, b2, _) = toks[k], toks[k + 1]
                data[a1:b2] = data[a2:b2] + data[a1:b1]
            elif m == 4:
                data[a:b] = random_opcode(rng)
            else:  # change an argument byte
                if b - a > 1:
                    i = rng.randrange(a + 1, b)
                    data[i] = rng.choice([0, 1, 2, 0x7f, 0x80, 0xff, rng.randrange(256), (data[i] + 1) & 0xff,
                                          (data[i] - 1) & 0xff])
        elif m == 6 and data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif m == 7 and data:
            i = rng.randrange(len(data))
            data[i] = rng.randrange(256)
        elif m == 8 and data:
            i = rng.randrange(len(data))
            del data[i:i + rng.randrange(1, 9)]
        elif m == 9:
            i = rng.randrange(len(data) + 1)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
        elif m == 10 and data:
            a = rng.randrange(len(data))
            b = min(len(data), a + rng.randrange(1, 32))
            i = rng.randrange(len(data) + 1)
            data[i:i] = data[a:b]
        elif m == 11 and others:  # splice from another seed
            other = rng.choice(others)[0]
            if other:
                a = rng.randrange(len(other))
                b = min(len(other), a + rng.randrange(1, 64))
                i = rng.randrange(len(data) + 1)
                data[i:i + rng.randrange(0, 8)] = other[a:b]
        elif m == 12 and toks:  # memo index
            cands = [(a, b) for a, b, c in toks if c in (ord("h"), ord("q"), ord("j"), ord("r"))]
            if cands:
                a, b = rng.choice(cands)
                data[a + 1] = rng.randrange(4)
        elif m == 13 and toks:  # the protocol
            cands = [a for a, b, c in toks if c == 0x80]
            if cands:
                data[cands[0] + 1] = rng.randrange(7)
            else:
                data[0:0] = b"\x80" + bytes([rng.randrange(6)])
        elif m == 14 and len(data) > 1:
            del data[rng.randrange(1, len(data)):]
        else:
            i = rng.randrange(len(data) + 1)
            data[i:i] = random_opcode(rng)
    return bytes(data)


def choose_options(rng, data, flags, nbuf):
    """Per-input options: mostly the seed's, sometimes others (both sides get the same)."""
    r = rng.random()
    if r < 0.15:
        flags = (flags & ~3) | rng.randrange(4)
    if rng.random() < 0.2:
        flags &= ~F_FOLD
    if rng.random() < 0.1:
        flags &= ~F_FIX_IMPORTS
    if rng.random() < 0.08:
        flags |= F_NO_PERSID
    wanted = min(data.count(b"\x97"), 8)  # NEXT_BUFFER opcodes, or more: extra buffers are unused
    if wanted or flags & F_BUFFERS:
        r = rng.random()
        if r < 0.8:
            flags |= F_BUFFERS
            nbuf = max(wanted, nbuf)
        elif r < 0.9:
            flags |= F_BUFFERS
            nbuf = rng.randrange(0, max(wanted, 1) + 2)
        else:
            flags &= ~F_BUFFERS
            nbuf = 0
    return flags, min(nbuf, 255)


# --- classification --------------------------------------------------------------------------

# class name -> (kind, description). kind: "deviation" (deliberate, DEVIATIONS.md) or "finding".
CLASSES = {
    "strict-frames": ("deviation", "brine rejects an opcode straddling a frame end or a frame inside a frame (gh-154848); CPython's C unpickler accepts; with strict_frames off brine agrees"),
    "strict-numbers": ("deviation", "brine's strict_numbers rejects INT/LONG/GET/PUT text CPython parses with strtol quirks (I010, I0x10, I+5, I 5, I1_000); with strict_numbers off brine agrees"),
    "inert-call-of-non-type": ("deviation", "NEWOBJ/NEWOBJ_EX whose class is a recorded call, persistent id or extension: brine records it (at run time it may be a type), CPython's placeholders are not types"),
    "newobj-ex-kwargs-keys": ("deviation", "NEWOBJ_EX kwargs with non-str keys: brine records the call, CPython raises 'keywords must be strings' when it makes the call"),
    "fold-declined": ("deviation", "a folded builtin called with arguments CPython's builtin rejects (bytearray(str, 'latin-1') / _codecs.encode(str, 'latin1') beyond latin-1): brine keeps the inert call, CPython raises"),
    "build-on-data-slotstate": ("deviation", "BUILD of (None, None) or (None, {}) on plain data: CPython's default __setstate__ path is a no-op, brine rejects every non-None state on plain data"),
    "numbers-nul": ("deviation", "an INT / LONG / FLOAT / GET / PUT text argument with a NUL byte: CPython's C parsers stop at the NUL and accept what precedes it; brine rejects the text in strict and compat mode"),
    "native-container-methods": ("deviation", "APPEND(S) / SETITEM(S) / ADDITEMS on a native object of another kind (a bytearray's append, a list's or bytearray's __setitem__, an out-of-band buffer): CPython calls the method and succeeds when the items fit; brine rejects (HARDENING.md section 7 row 56)"),
    "buffer-hashability": ("deviation", "an out-of-band buffer (or a read-only view of one) as a dict key or set item: hashability depends on the object the caller passed (a read-only memoryview over a bytearray is unhashable); brine treats buffers as hashable"),
    "cpython-memory": ("deviation", "CPython raises MemoryError (allocation sized by the input: the memo of gh-115952, declared lengths); brine stays within its limits and decodes or fails as the stream says"),
    "build-on-extension": ("deviation", "BUILD on an EXT placeholder: CPython records it on the class the code names, brine rejects BUILD on an extension node"),
    "bug-frame-end-argument": ("finding", "brine rejects (truncated) an opcode whose argument starts exactly at the end of a frame, which both CPython unpicklers read after the frame: a fixed bug is back (fuzz/corpus/differential/regression-frame-end-argument*)"),
    "bug-readonly-bytearray-hashable": ("finding", "READONLY_BUFFER on a bytearray gives a hashable node; CPython's read-only memoryview over a bytearray is unhashable: a fixed bug is back (fuzz/corpus/differential/regression-readonly-bytearray-hashable)"),
    "bug-compat-numbers": ("finding", "with strict_numbers off brine differs from C's INT parsing (0x_1f; `I0 \\n` read as a bool): a fixed bug is back (fuzz/corpus/differential/regression-compat-numbers*)"),
    "bug-minus-zero": ("finding", "strict numbers read a negative zero differently from C (`I-0\\n` must be False, `p-0\\n` / `g-0\\n` index 0): a fixed bug is back (fuzz/corpus/differential/regression-minus-zero*)"),
    "brine-crash": ("finding", "brine_differential_side died (crash, sanitizer report, abort)"),
    "brine-hang": ("finding", "brine_differential_side did not answer in time"),
    "cpython-crash": ("finding", "the CPython side died (a crash in CPython's C unpickler)"),
    "cpython-hang": ("finding", "the CPython side did not answer in time"),
    "unclassified": ("finding", "a disagreement no rule explains"),
}


def minus_zero_offsets(data):
    """The offsets of the INT / GET / PUT opcodes whose text argument is a negative zero (`-0`,
    `-00`, ...)."""
    found = set()
    for a, b, c in tokens(data):
        if c in (ord("I"), ord("g"), ord("p")):
            text = data[a + 1:b - 1]
            if len(text) > 1 and text[:1] == b"-" and text[1:].strip(b"0") == b"":
                found.add(a)
    return found


def class_kind(name):
    """deviation, open-bug or finding; a composite "a+b" is a finding if any part is, else an
    open bug if any part is one."""
    kinds = [CLASSES.get(part, ("finding",))[0] for part in name.split("+")]
    return "finding" if "finding" in kinds else "open-bug" if "open-bug" in kinds else "deviation"


def number_text_with_nul(data):
    """True when an INT / LONG / FLOAT / GET / PUT text argument holds a NUL byte: C's parsers
    stop there (strtol, PyLong_FromString, PyOS_string_to_double take C strings)."""
    for a, b, c in tokens(data):
        if c in (ord("I"), ord("L"), ord("F"), ord("g"), ord("p")) and b"\x00" in data[a + 1:b]:
            return True
    return False


def classify(data, flags, nbuf, brine, cpy, rerun):
    """The class of a disagreement. `rerun(flags)` answers (brine line, cpython line) for the
    same input with other flags."""
    b_ok, c_ok = brine.startswith("A "), cpy.startswith("A ")
    bparts = brine.split(" ", 3)
    berr = bparts[1] if not b_ok and len(bparts) > 1 else ""
    bmsg = bparts[3] if not b_ok and len(bparts) > 3 else ""
    cparts = cpy.split(" ", 2)
    cerr = cparts[1] if not c_ok and len(cparts) > 1 else ""
    cmsg = cparts[2] if not c_ok and len(cparts) > 2 else ""

    def agree(b2, c2):
        return b2 == c2 or (b2[:2] == "R " and c2[:2] == "R ")


    # The minus-zero bug shows as brine reading a negative zero (accepting it differently, or
    # failing on it); a rejection elsewhere (`I010` before an `I-0`) is another class.
    minus_zero = minus_zero_offsets(data)
    boffset = int(bparts[2]) if not b_ok and len(bparts) > 2 and bparts[2].isdigit() else None
    if (minus_zero and (b_ok or boffset in minus_zero) and not flags & F_LENIENT_NUMBERS
            and agree(*rerun(flags | F_LENIENT_NUMBERS))):
        return "bug-minus-zero"
    if not b_ok:
        # brine's strict defaults: does relaxing strict_frames and/or strict_numbers agree?
        has_frame = any(c == 0x95 for _, _, c in tokens(data))
        frames_name = "strict-frames" if berr == "frame_violation" else "bug-frame-end-argument"
        if has_frame and not flags & F_LENIENT_FRAMES:
            if agree(*rerun(flags | F_LENIENT_FRAMES)):
                return frames_name
        if not flags & F_LENIENT_NUMBERS and (berr == "bad_number" or has_frame):
            b_n, c_n = rerun(flags | F_LENIENT_NUMBERS)
            if agree(b_n, c_n):
                return "strict-numbers"
            if has_frame and not flags & F_LENIENT_FRAMES and agree(*rerun(flags | F_LENIENT_FRAMES | F_LENIENT_NUMBERS)):
                err_n = b_n.split(" ", 2)[1] if b_n.startswith("R ") else ""
                return ("strict-frames" if err_n == "frame_violation" else "bug-frame-end-argument") + "+strict-numbers"
        # (A text too long for brine's digit limit fails on that before its NUL is seen.)
        if (berr == "bad_number" or (berr == "limit_exceeded" and "max_int_digits" in bmsg)) and number_text_with_nul(data):
            return "numbers-nul"
        if berr == "bad_number" and c_ok:
            if flags & F_LENIENT_NUMBERS:
                return "bug-compat-numbers"
            b2, c2 = rerun(flags | F_LENIENT_NUMBERS)
            if c2.startswith("A ") and b2 != c2:  # compat mode still rejects, or reads another value
                return "bug-compat-numbers"
        if berr == "frame_violation" and not flags & F_LENIENT_FRAMES:
            b2, c2 = rerun(flags | F_LENIENT_FRAMES)
            return "strict-frames+" + classify(data, flags | F_LENIENT_FRAMES, nbuf, b2, c2, rerun)
        if berr == "type_mismatch" and c_ok and re_native_method(bmsg):
            return "native-container-methods"
        if berr == "type_mismatch" and c_ok and "has no attribute '__dict__'" in bmsg:
            return "build-on-extension" if bmsg.startswith("'extension'") else "build-on-data-slotstate"
    if b_ok and c_ok and flags & F_LENIENT_NUMBERS and any(c == ord("I") for _, _, c in tokens(data)):
        b2, c2 = rerun(flags & ~F_LENIENT_NUMBERS)  # strict numbers: does brine then agree or reject?
        if b2 == c2 or b2.startswith("R bad_number"):
            return "bug-compat-numbers"
    if b_ok and not c_ok:
        if cerr == "TypeError" and "unhashable type: 'bytearray'" in cmsg:
            if b"\x97" in data:
                return "buffer-hashability"
            if b"\x98" in data:
                return "bug-readonly-bytearray-hashable"
        if cerr == "MemoryError":
            return "cpython-memory"
        if cerr == "UnpicklingError" and "class argument must be a type" in cmsg:
            return "inert-call-of-non-type"
        if cerr == "TypeError" and "keywords must be strings" in cmsg:
            return "newobj-ex-kwargs-keys"
        if cerr == "UnicodeEncodeError" and flags & F_FOLD:
            return "fold-declined"
    return "unclassified"


def re_native_method(msg):
    return any("has no attribute '%s'" % m in msg for m in ("append", "__setitem__", "add"))


# --- the run ---------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--brine", required=True, help="the brine_differential_side executable")
    ap.add_argument("--python", default=sys.executable, help="the CPython that loads the pickles")
    ap.add_argument("--cases", type=int, default=20000, help="mutated inputs to compare")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    ap.add_argument("--batch", type=int, default=2000, help="records per round trip")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds a side may take for one record")
    ap.add_argument("--workdir", default=None, help="results (default: build-differential/ in the tree)")
    ap.add_argument("--examples", type=int, default=20, help="examples kept per class")
    ap.add_argument("--regressions", default=os.path.join(ROOT, "fuzz", "corpus", "differential"),
                    help="directory with a MANIFEST of regression inputs, replayed first ('' to skip)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    workdir = args.workdir or os.path.join(ROOT, "build-differential")
    if os.path.isdir(workdir):
        shutil.rmtree(workdir)
    os.makedirs(workdir)

    seeds = corpus_seeds()
    if not seeds:
        print("differential: no seeds found under conformance/corpus and fuzz/corpus", file=sys.stderr)
        return 2
    small_seeds = [s for s in seeds if len(s[0]) <= 4096]
    brine = Side("brine", [args.brine], args.timeout)
    cpy = Side("cpython", [args.python, os.path.join(HERE, "cpython_side.py")], args.timeout)
    info = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                          capture_output=True, text=True).stdout.strip()
    if tuple(int(x) for x in (info.split(".")[:2] or ["0"]) if x.isdigit()) < (3, 8):
        print("differential: SKIP: %s is CPython %s; the CPython side needs 3.8+ (PEP 574 buffers)" % (
            args.python, info or "?"))
        return 77
    brine.start()
    cpy.start()

    counts = collections.Counter()
    examples = collections.defaultdict(int)
    total = agree_accept = agree_reject = 0
    started = time.time()
    last_report = started

    def keep(cls, data, flags, nbuf, bl, cl):
        examples[cls] += 1
        if examples[cls] > args.examples:
            return
        d = os.path.join(workdir, cls)
        os.makedirs(d, exist_ok=True)
        n = examples[cls]
        with open(os.path.join(d, "%d.pkl" % n), "wb") as f:
            f.write(data)
        with open(os.path.join(d, "%d.txt" % n), "w", encoding="utf-8") as f:
            f.write("options: %s\nhex: %s\nbrine:   %s\ncpython: %s\n" % (
                describe_flags(flags, nbuf), data.hex(), bl[:2000], cl[:2000]))

    def begin(items):
        """Start feeding both sides; they work in parallel while the caller makes the next batch."""
        blob = b"".join(record(*item) for item in items)
        return [side.send(blob) for side in (brine, cpy)]

    def finish(items, writers):
        """Lines of both sides for the items begun; a side that dies or hangs is restarted, the
        input it stopped on is answered `X <side>-crash|hang <stderr>`, and the rest is resent."""
        outs = []
        for side, writer in zip((brine, cpy), writers):
            out = [None] * len(items)
            todo = list(range(len(items)))
            while True:
                got, failure = side.collect(len(todo))
                writer.join(1)
                for k, line in enumerate(got):
                    out[todo[k]] = line
                if failure is None:
                    break
                bad = todo[len(got)]
                err = "".join(side.stderr[-40:])
                side.stop()
                side.restarts += 1
                side.start()
                out[bad] = "X %s-%s %s" % (side.name, failure, err.replace("\n", " | ")[:3000])
                todo = todo[len(got) + 1:]
                if not todo:
                    break
                writer = side.send(b"".join(record(*items[i]) for i in todo))
            outs.append(out)
        return outs

    def ask(items):
        return finish(items, begin(items))

    def rerun_one(data, nbuf):
        def rerun(flags):
            b, c = ask([(data, flags, nbuf)])
            return b[0], c[0]
        return rerun

    def outcome(data, flags, nbuf, bl, cl):
        if bl.startswith("X ") or cl.startswith("X "):
            return (bl if bl.startswith("X ") else cl).split(" ", 2)[1]
        if bl == cl or (bl.startswith("R ") and cl.startswith("R ")):
            return "agree"
        return classify(data, flags, nbuf, bl, cl, rerun_one(data, nbuf))

    # The regression inputs first: each must still end as its MANIFEST line says.
    regressions = {"inputs": 0, "failed": [], "fixed": []}
    manifest = os.path.join(args.regressions, "MANIFEST") if args.regressions else ""
    if manifest and os.path.exists(manifest):
        entries = []
        with open(manifest, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].split()
                if len(line) == 4:
                    with open(os.path.join(args.regressions, line[0]), "rb") as fh:
                        entries.append((line[0], fh.read(), int(line[1]), int(line[2]), line[3]))
        out_b, out_c = ask([(d, fl, nb) for _, d, fl, nb, _ in entries])
        for (name, data, flags, nbuf, expect), bl, cl in zip(entries, out_b, out_c):
            got = outcome(data, flags, nbuf, bl, cl)
            regressions["inputs"] += 1
            if got == expect:
                continue
            if got == "agree" and CLASSES.get(expect, ("",))[0] == "open-bug":
                regressions["fixed"].append(name)
                continue
            regressions["failed"].append(name)
            print("differential: regression %s: expected %s, got %s\n  brine:   %s\n  cpython: %s" % (
                name, expect, got, bl[:300], cl[:300]))
        for name in regressions["fixed"]:
            print("differential: %s now agrees with CPython: the bug looks fixed; set `agree` in %s and "
                  "drop its class from CLASSES" % (name, manifest))

    def make_batch(count):
        batch = []
        while len(batch) < count:
            if rng.random() < 0.7:
                # Mostly small seeds: mutations of a large pickle rarely reach more code, and
                # both sides' cost grows with the size.
                data, flags, nbuf, _ = rng.choice(small_seeds if rng.random() < 0.97 else seeds)
            else:
                data, flags, nbuf = generated_seed(rng)
            data = mutate(rng, data, seeds)
            flags, nbuf = choose_options(rng, data, flags, nbuf)
            batch.append((data, flags, nbuf))
        return batch

    produced = 0
    upcoming = make_batch(min(args.batch, args.cases))
    while upcoming:
        batch = upcoming
        produced += len(batch)
        writers = begin(batch)
        upcoming = make_batch(min(args.batch, args.cases - produced))  # while both sides work
        out_b, out_c = finish(batch, writers)
        for (data, flags, nbuf), bl, cl in zip(batch, out_b, out_c):
            total += 1
            if bl.startswith("X ") or cl.startswith("X "):
                cls = (bl if bl.startswith("X ") else cl).split(" ", 2)[1]
                counts[cls] += 1
                keep(cls, data, flags, nbuf, bl, cl)
                continue
            if bl == cl:
                agree_accept += 1
                continue
            if bl.startswith("R ") and cl.startswith("R "):
                agree_reject += 1
                continue
            cls = classify(data, flags, nbuf, bl, cl, rerun_one(data, nbuf))
            counts[cls] += 1
            keep(cls, data, flags, nbuf, bl, cl)
        now = time.time()
        if not args.quiet and now - last_report > 10:
            last_report = now
            rate = total / (now - started)
            print("differential: %d inputs, %d disagreements, %.0f inputs/s" % (
                total, sum(counts.values()), rate), flush=True)

    brine.stop()
    cpy.stop()
    elapsed = time.time() - started
    findings = {c: n for c, n in counts.items() if class_kind(c) == "finding"}
    summary = {
        "cpython": info, "seed": seed, "inputs": total, "seconds": round(elapsed, 1),
        "inputs_per_second": round(total / elapsed, 1) if elapsed else None,
        "both_accept_same_graph": agree_accept, "both_reject": agree_reject,
        "disagreements": sum(counts.values()), "classes": dict(counts.most_common()),
        "findings": findings, "seeds": len(seeds), "regressions": regressions,
        "restarts": {"brine": brine.restarts, "cpython": cpy.restarts},
    }
    with open(os.path.join(workdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print("differential: CPython %s, seed %d: %d inputs in %.0f s (%.0f/s); both accept, same graph: %d; "
          "both reject: %d; disagreements: %d" % (info, seed, total, elapsed, total / max(elapsed, 1e-9),
                                                   agree_accept, agree_reject, sum(counts.values())))
    for cls, n in counts.most_common():
        kind = class_kind(cls)
        text = " / ".join(CLASSES.get(part, ("", "?"))[1].split(";")[0].split(":")[0] for part in cls.split("+"))
        print("  %-28s %8d  %-9s %s" % (cls, n, kind, text))
    print("differential: %d regression inputs, %d as expected" % (
        regressions["inputs"], regressions["inputs"] - len(regressions["failed"])))
    if findings or regressions["failed"]:
        print("differential: FINDINGS (examples under %s)" % workdir)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
