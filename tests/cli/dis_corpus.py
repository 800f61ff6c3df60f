#!/usr/bin/env python3
"""`brine dis` against pickletools.dis on every pickle of the conformance corpus.

    python3 tests/cli/dis_corpus.py BUILD/tools/brine [--corpus DIR]

For each conformance/corpus/**/*.pkl the listing `brine dis FILE` writes must equal what
CPython 3.11's pickletools.dis prints (brine matches 3.11's pickletools; other versions format
some arguments differently), with and without --annotate (pickletools' command-line default,
annotate=30), and brine must fail exactly when pickletools raises (except "stack not empty after
STOP", which brine reports without failing, see include/brine/disassemble.hpp).

Runs under CPython 3.11: when started by another version it re-executes itself under a
python3.11 found on PATH or through pyenv, and exits 77 (skipped) when there is none.
Exit status 1 on any mismatch; the count compared is printed.
"""
import argparse
import io
import os
import pickletools
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.normpath(os.path.join(HERE, "..", "..", "conformance", "corpus"))
SKIP = 77

from corpus_files import corpus_files  # noqa: E402  (beside this script)


def find_python311():
    """A CPython 3.11 interpreter: python3.11 on PATH, else pyenv's newest 3.11."""
    candidates = []
    if shutil.which("python3.11"):
        candidates.append(shutil.which("python3.11"))
    if shutil.which("pyenv"):
        try:
            versions = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True,
                                      timeout=30).stdout.split()
            for v in sorted((v for v in versions if v.startswith("3.11.")), reverse=True):
                prefix = subprocess.run(["pyenv", "prefix", v], capture_output=True, text=True,
                                        timeout=30).stdout.strip()
                if prefix:
                    candidates.append(os.path.join(prefix, "bin", "python3.11"))
        except (OSError, subprocess.TimeoutExpired):
            pass
    for c in candidates:
        try:
            r = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.stdout.strip() == "True":
            return c
    return None


def pickletools_output(data, annotate):
    out = io.StringIO()
    try:
        pickletools.dis(data, out, annotate=annotate)
        return out.getvalue(), "ok"
    except Exception as e:  # noqa: BLE001 - pickletools raises ValueError and others
        return out.getvalue(), "leftover" if "stack not empty after STOP" in str(e) else "error"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("brine", help="path of the brine command-line tool")
    parser.add_argument("--corpus", default=CORPUS)
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        if os.environ.get("BRINE_DIS_CORPUS_REEXEC"):
            print("SKIP: re-executed, but still not CPython 3.11")
            return SKIP
        python = find_python311()
        if python is None:
            print("SKIP: no CPython 3.11 found (PATH, pyenv): pickletools output differs between versions")
            return SKIP
        env = dict(os.environ, BRINE_DIS_CORPUS_REEXEC="1")
        return subprocess.run([python, os.path.abspath(__file__)] + sys.argv[1:], env=env).returncode

    files = corpus_files(args.corpus)
    if not files:
        print("no pickles under %s" % args.corpus)
        return 1
    compared = mismatches = raised = 0
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        for annotate in (0, 30):
            cmd = [args.brine, "dis"] + (["--annotate"] if annotate else []) + [path]
            got = subprocess.run(cmd, capture_output=True, timeout=120)
            expected, status = pickletools_output(data, annotate)
            raised += status != "ok"
            same_text = got.stdout == expected.encode("utf-8")
            same_status = (got.returncode == 0) == (status != "error")
            compared += 1
            if not (same_text and same_status):
                mismatches += 1
                if mismatches <= 10:
                    print("MISMATCH %s (annotate=%d): pickletools %s, brine exit %d %s"
                          % (os.path.relpath(path, args.corpus), annotate, status, got.returncode,
                             got.stderr.decode(errors="replace").strip()))
                    exp_lines, got_lines = expected.splitlines(), got.stdout.decode(errors="replace").splitlines()
                    for i, (a, b) in enumerate(zip(exp_lines, got_lines)):
                        if a != b:
                            print("  line %d\n    pickletools: %s\n    brine:       %s" % (i + 1, a, b))
                            break
                    else:
                        print("  line counts: pickletools %d, brine %d" % (len(exp_lines), len(got_lines)))
    print("%d pickles, %d listings compared (plain and --annotate), %d where pickletools raised, %d mismatches"
          % (len(files), compared, raised, mismatches))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
