#!/usr/bin/env python3
"""`brine convert --protocol 5` on every pickle of the conformance corpus, checked by CPython.

    python3 tests/cli/convert_corpus.py BUILD/tools/brine [--corpus DIR]

For each conformance/corpus/**/*.pkl that this CPython loads (the corpus' classes come from
conformance/gen_cases.py, which the generator ran as __main__; persistent ids load as inert
placeholders that pickle back to the same ids; Python 2 str that are not ASCII are read as
latin-1 by both sides; numpy cases need numpy):
  - brine converts it to protocol 5 (exit 0);
  - CPython loads brine's output to an object equal to the original's, sharing included:
    pickle.dumps(loads(brine's), 5) == pickle.dumps(loads(original), 5) — its own pickler is the
    judge, so NaN, recursive structures and classes without __eq__ compare too;
  - for plain data (None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set and
    frozenset without str inside sets, whose order depends on the hash seed) brine's bytes are
    identical to pickle.dumps(loads(original), 5).
Prints the counts; exit status 1 on any failure other than the known one below (and when a
known failure starts passing, so the list stays true).

Known failures: none (KNOWN is empty). `y_obj_state_setter` was one until brine recorded
`state_setter(obj, state)`, a REDUCE whose result is POPped, as an operation on `obj`.
"""
import argparse
import os
import pickle
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE = os.path.normpath(os.path.join(HERE, "..", "..", "conformance"))
sys.path.insert(0, CONFORMANCE)
from corpus_files import corpus_files  # noqa: E402  (beside this script)

class PersistentId:
    """An inert stand-in for what persistent_load would return; pickles back to its id."""

    def __init__(self, pid):
        self.pid = pid


class Loader(pickle.Unpickler):
    def persistent_load(self, pid):
        return PersistentId(pid)


class Dumper(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, PersistentId) else None


def loads(data, encoding):
    import io
    return Loader(io.BytesIO(data), encoding=encoding).load()


def dumps(obj):
    import io
    out = io.BytesIO()
    Dumper(out, 5).dump(obj)
    return out.getvalue()


KNOWN: set = set()

PLAIN = (type(None), bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset)


def plain(obj):
    """Only builtin data, and no str inside a set (walked iteratively, cycles allowed)."""
    seen, todo = set(), [obj]
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if type(x) not in PLAIN:
            return False
        if isinstance(x, (set, frozenset)):
            if any(isinstance(i, str) for i in x):
                return False
            todo.extend(x)
        elif isinstance(x, (list, tuple)):
            todo.extend(x)
        elif isinstance(x, dict):
            todo.extend(x.keys())
            todo.extend(x.values())
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("brine")
    ap.add_argument("--corpus", default=os.path.join(CONFORMANCE, "corpus"))
    args = ap.parse_args()
    try:
        import gen_cases  # registers the corpus' classes and extension codes
    except Exception as e:  # pragma: no cover
        print(f"cannot import conformance/gen_cases.py: {e}")
        return 1
    import __main__
    for attr in dir(gen_cases):
        if not attr.startswith("__"):
            setattr(__main__, attr, getattr(gen_cases, attr))
    files = corpus_files(args.corpus)
    counts = dict(files=len(files), loaded=0, equal=0, plain=0, identical=0, skipped=0)
    failures = []
    known_seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "out.pkl")
        for path in files:
            name = os.path.relpath(path, args.corpus)
            with open(path, "rb") as f:
                original = f.read()
            encoding = "ASCII"
            try:
                try:
                    a = loads(original, encoding)
                except UnicodeDecodeError:
                    encoding = "latin1"
                    a = loads(original, encoding)
                want = dumps(a)
            except Exception:
                counts["skipped"] += 1  # CPython itself cannot load (or re-pickle) it here
                continue
            counts["loaded"] += 1
            r = subprocess.run([args.brine, "convert", "--protocol", "5", "--encoding", encoding.lower(), path, out_path],
                               capture_output=True)
            if r.returncode != 0:
                failures.append(f"{name}: brine convert exit {r.returncode}: {r.stderr.decode().strip()}")
                continue
            with open(out_path, "rb") as f:
                got = f.read()
            try:
                b = loads(got, "ASCII")
                again = dumps(b)
            except Exception as e:
                failures.append(f"{name}: CPython cannot load brine's output: {e!r}")
                continue
            case = os.path.basename(path).split(".")[0]
            if again != want:
                if case in KNOWN:
                    known_seen.add(name)
                else:
                    failures.append(f"{name}: CPython loads a different object from brine's output")
                continue
            if case in KNOWN:
                failures.append(f"{name}: listed as a known failure but now equal: update KNOWN")
            counts["equal"] += 1
            if plain(a):
                counts["plain"] += 1
                if got == want:
                    counts["identical"] += 1
                else:
                    failures.append(f"{name}: plain data, but not byte-identical to pickle.dumps(obj, 5)")
    print("convert --protocol 5 over the corpus: {files} pickles, {loaded} loaded by CPython {v} "
          "({skipped} not loadable here), {equal} equal after brine's conversion; plain data: "
          "{identical}/{plain} byte-identical; known failures: {known}".format(
              v=sys.version.split()[0], known=len(known_seen), **counts))
    for line in failures[:40]:
        print("FAIL", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
