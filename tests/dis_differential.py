#!/usr/bin/env python3
"""Differential test: `brine dis` against CPython's pickletools.dis on generated pickles.

    python3.11 tests/dis_differential.py BUILD/tools/brine [--cases N] [--seed S]

The corpus: pickle.dumps (C and Python picklers) of varied objects at protocols 0-5, hand-made
edge cases of every argument kind, random mutations of both, and random opcode sequences. For
each pickle the listing `brine dis` writes must equal what pickletools.dis prints up to the point
where it stops, and brine must fail exactly when pickletools raises (except "stack not empty after
STOP", which brine reports without failing). `--annotate` cases compare with pickletools' command
line default, annotate=30.

Needs CPython 3.11 (the pickletools version brine matches). Exit status 1 on any mismatch.
"""
import argparse
import collections
import io
import os
import pickle
import pickletools
import random
import struct
import subprocess
import sys
import tempfile


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Reduce:
    def __reduce__(self):
        return (collections.OrderedDict, ([("a", 1)],), None, None, iter([("b", 2)]))


for _cls in (Point, Reduce):
    _cls.__module__ = "__main__"
    setattr(sys.modules["__main__"], _cls.__name__, _cls)


def valid_pickles():
    rec = []
    rec.append(rec)
    shared = [1, 2]
    objects = [
        None, True, 0, -1, 255, 65536, 2**31, -2**63 - 1, 2**64, 10**100, -(3**1500), 0.0, -0.0, 1.5,
        1e100, 5e-324, float("inf"), float("nan"), 1e16, 1e-5, "", "abc", "it's", "a\"b'", "\n\t\\",
        "\x00\x7f\x80\xa0\xad\xff", "\u20ac\u2028\ufeff", "\U0001f600\U000e0001", "\ud800", "caf\xe9" * 50,
        b"", b"'", bytes(range(256)), bytearray(b"abc"), (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [],
        list(range(1200)), {"a": 1, 2: [3]}, dict.fromkeys(range(1100)), {1, 2}, frozenset({1}),
        set(range(1100)), [shared, shared], rec, Point(1, 2), Reduce(), collections.deque([1]),
        complex(1, 2), range(3), [[[[[[[]]]]]]], [1.5, "x", b"y", None] * 20,
    ]
    out = []
    for obj in objects:
        for proto in range(6):
            for dumps in (pickle.dumps, pickle._dumps):
                try:
                    out.append(dumps(obj, protocol=proto))
                except Exception:  # noqa: BLE001 - not every object pickles at every protocol
                    pass
    return out


def handmade():
    h = []
    for s in [b"0", b"00", b"01", b"010", b" 5 ", b"1_000", b"+5", b"_1", b"1__0", b"5\x00", b"0x10",
              b"", b"9" * 4301, b"-00"]:
        h += [b"I" + s + b"\n.", b"L" + s + b"L\n.", b"Np" + s + b"\n0g" + s + b"\n."]
    for s in [b"1.5", b" 1.5 ", b"1_0", b"1e400", b"-1e-400", b"-Infinity", b"nan", b"1.", b"1._5",
              b"1e", b"nan(1)", b""]:
        h.append(b"F" + s + b"\n.")
    for s in [b"''", b"'", b"'abc", b"abc", b"'\\x41'", b"'\\x4'", b"'\\777'", b"'a\\'", b"'\xe9'"]:
        h += [b"S" + s + b"\n.", b"P" + s + b"\n.", b"c" + s + b"\n" + s + b"\n."]
    for s in [b"\\u00e9", b"\\\\u00e9", b"\\u00", b"\\U00110000", b"\\ud800", b"\xe9", b"\\"]:
        h.append(b"V" + s + b"\n.")
    for s in [b"\xc3\xa9", b"\xed\xa0\x80", b"\xc0\x80", b"\xff", b"\xe2\x82"]:
        h += [b"\x8c" + bytes([len(s)]) + s + b".", b"X" + struct.pack("<I", len(s)) + s + b"."]
    h += [b"T\xff\xff\xff\xff.", b"\x8a\x00.", b"\x8b\xff\xff\xff\xff.",
          b"\x8e" + struct.pack("<Q", 1 << 63) + b"abc", b"\x96" + struct.pack("<Q", 1 << 40) + b"abc",
          b"\x8b" + struct.pack("<i", 1786) + (10**4300).to_bytes(1786, "little", signed=True) + b".",
          b"", b"N", b"\xff", b"a.", b"Na.", b"(e.", b"N(0.", b"(Na(l.", b"(2t.", b"\x94.", b"(\x94.",
          b"Nq\x00q\x00.", b"Nq\x01\x94\x94.", b"Nh\x00.", b"(q\x00.", b"(((N.", b"NN\x93.", b"NNN\x92.",
          b"\x97\x98.", b"NQ.", b"\x8f(K\x01\x90.", b"(K\x01\x91."]
    return h


def mutate(corpus, n, rng):
    out = []
    for _ in range(n):
        b = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 4)):
            if not b:
                break
            i, r = rng.randrange(len(b)), rng.random()
            if r < 0.3:
                b[i] = rng.randrange(256)
            elif r < 0.5:
                del b[i]
            elif r < 0.7:
                b.insert(i, rng.choice(b"()0NKahqe.tul\x94\x85\x86\x87sdRbI\n"))
            elif r < 0.85:
                b = b[:i]
            else:
                b[i:i] = b[rng.randrange(len(b)):][:rng.randint(1, 8)]
        out.append(bytes(b))
    return out


def random_program(rng):
    noarg = b"()0N.12\x85\x86\x87\x88\x89]}ablmtuRebsd\x8f\x90\x91\x92\x93\x94\x97\x98Q"
    parts = []
    for _ in range(rng.randint(1, 25)):
        r = rng.random()
        if r < 0.55:
            parts.append(bytes([rng.choice(noarg)]))
        elif r < 0.65:
            parts.append(b"q" + bytes([rng.randrange(4)]))
        elif r < 0.75:
            parts.append(b"h" + bytes([rng.randrange(4)]))
        elif r < 0.85:
            parts.append(b"p%d\n" % rng.randrange(4))
        else:
            parts.append(b"\x8c\x01" + bytes([rng.randrange(32, 127)]))
    return b"".join(parts) + b"."


def pickletools_output(data, annotate):
    out = io.StringIO()
    try:
        pickletools.dis(data, out, annotate=annotate)
        return out.getvalue(), "ok"
    except Exception as e:  # noqa: BLE001
        return out.getvalue(), "leftover" if "stack not empty after STOP" in str(e) else "error"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("brine", help="path of the brine command-line tool")
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        sys.exit("dis_differential.py: run with CPython 3.11")
    rng = random.Random(args.seed)
    base = valid_pickles() + handmade()
    corpus = base + mutate(base, args.cases // 2, rng) + [random_program(rng) for _ in range(args.cases // 4)]
    rng.shuffle(corpus)
    corpus = corpus[:args.cases]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.pkl")
        for n, data in enumerate(corpus):
            annotate = 30 if n % 10 == 0 else 0
            with open(path, "wb") as f:
                f.write(data)
            cmd = [args.brine, "dis"] + (["--annotate"] if annotate else []) + [path]
            got = subprocess.run(cmd, capture_output=True)
            expected, status = pickletools_output(data, annotate)
            same_text = got.stdout == expected.encode("utf-8")
            same_status = (got.returncode == 0) == (status != "error")
            if not (same_text and same_status):
                failures += 1
                if failures <= 10:
                    print("MISMATCH for %r (annotate=%d): pickletools %s, brine exit %d"
                          % (data[:80], annotate, status, got.returncode))
                    if not same_text:
                        print("  pickletools: %r\n  brine:       %r" % (expected[-300:], got.stdout[-300:]))
    print("%d cases, %d mismatches" % (len(corpus), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
