#!/usr/bin/env python3
"""Regenerate brine's conformance corpus (decode side) from every CPython on this machine.

Usage: python3 generate.py [--corpus DIR] [--only 2.7,3.13,numpy] [--no-check]

Finds the interpreters at run time: pyenv's CPython builds (`pyenv versions --bare`, `pyenv
prefix`), else `python2.7` / `python3.X` on PATH; plus Debian's system python3 for the numpy cases.
For each, runs gen_cases.py with PYTHONHASHSEED=0 into corpus/cpython-<X.Y>/ (the numpy cases into
corpus/cpython-<X.Y>-numpy/), after removing what that directory held. Python 3's `_compat_pickle`
load tables (this interpreter's) are handed to every generator, Python 2 included, so that global
names are described as Python 3 resolves them.

Pickles that an older Python 3 writes byte for byte as a newer one does (same case, protocol,
description and buffers) are not kept twice: corpus/cpython-3.13/ holds every Python 3 case and each
older cpython-3.X/ directory only the pickles whose bytes differ from every newer version's. Decoding
is a function of the bytes and the header's options, so the dropped copies would test nothing new.
Python 2.7 and the numpy directory are kept whole.

Then check_corpus.py re-derives every description from the pickle bytes alone and compares (a
cross-check of the generators' mirror pickler), and the corpus size is printed.

Output is deterministic: running this twice gives identical files.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WANTED = ['2.7', '3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']
SYSTEM_PYTHON = '/usr/bin/python3'  # Debian's interpreter, the one with python3-numpy


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, **kw)


def probe(python):
    """(major.minor, full version) of an interpreter, or None when it does not run."""
    try:
        r = run([python, '-c', 'import sys; print("%d.%d %d.%d.%d" % (sys.version_info[:2] + sys.version_info[:3]))'],
                timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    parts = r.stdout.split()
    return (parts[0], parts[1]) if len(parts) == 2 else None


def version_key(v):
    return tuple(int(x) for x in v.split('.'))


def find_pyenv():
    """{minor: python path} from pyenv, newest patch release of each minor version."""
    found = {}
    pyenv = shutil.which('pyenv')
    if not pyenv:
        return found
    r = run([pyenv, 'versions', '--bare'])
    if r.returncode != 0:
        return found
    versions = [v.strip() for v in r.stdout.split() if re.match(r'^\d+\.\d+\.\d+$', v.strip())]
    for v in sorted(versions, key=version_key):
        p = run([pyenv, 'prefix', v])
        if p.returncode != 0:
            continue
        python = os.path.join(p.stdout.strip(), 'bin', 'python')
        info = probe(python)
        if info and info[1] == v:
            found[info[0]] = python  # later (newer) patch releases win
    return found


def find_interpreters():
    found = find_pyenv()
    for minor in WANTED:
        if minor in found:
            continue
        exe = shutil.which('python' + minor)
        if exe:
            info = probe(exe)
            if info and info[0] == minor:
                found[minor] = exe
    return found


def find_numpy_python():
    if not os.path.exists(SYSTEM_PYTHON):
        return None
    r = run([SYSTEM_PYTHON, '-c', 'import numpy'])
    return SYSTEM_PYTHON if r.returncode == 0 else None


def write_tables(path):
    import _compat_pickle
    tables = {
        'IMPORT_MAPPING': dict(sorted(_compat_pickle.IMPORT_MAPPING.items())),
        'NAME_MAPPING': sorted([list(k), list(v)] for k, v in _compat_pickle.NAME_MAPPING.items()),
    }
    with open(path, 'w') as f:
        json.dump(tables, f, indent=0, sort_keys=True)


def generate(python, outdir, tables, numpy=False):
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    os.makedirs(outdir)
    env = dict(os.environ)
    for k in list(env):
        if k.startswith('PYTHON'):
            del env[k]
    env['PYTHONHASHSEED'] = '0'
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env['BRINE_COMPAT_TABLES'] = tables
    cmd = [python, os.path.join(HERE, 'gen_cases.py'), outdir] + (['--numpy'] if numpy else [])
    r = run(cmd, env=env, cwd=HERE)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.returncode == 0


def _desc_body(path):
    with open(path, 'rb') as f:
        head, _, body = f.read().partition(b'\n\n')
    # Everything but the interpreter line must agree.
    return [l for l in head.split(b'\n') if not l.startswith(b'interpreter=')], body


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def dedupe(corpus, minors):
    """Remove from older Python 3 directories the pickles a newer one already holds unchanged."""
    kept = {}  # (case.pN) -> list of (pkl bytes, desc, buffers) already kept
    removed = 0
    for minor in sorted((m for m in minors if m.startswith('3.')), key=version_key, reverse=True):
        d = os.path.join(corpus, 'cpython-' + minor)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith('.pkl'):
                continue
            stem = name[:-4]
            pkl = _read(os.path.join(d, name))
            desc = _desc_body(os.path.join(d, stem + '.desc'))
            bufs = []
            i = 0
            while os.path.exists(os.path.join(d, stem + '.buf%d' % i)):
                bufs.append(_read(os.path.join(d, stem + '.buf%d' % i)))
                i += 1
            entry = (pkl, desc, bufs)
            if entry in kept.setdefault(stem, []):
                for suffix in ['.pkl', '.desc'] + ['.buf%d' % j for j in range(len(bufs))]:
                    os.remove(os.path.join(d, stem + suffix))
                removed += 1
            else:
                kept[stem].append(entry)
        if not os.listdir(d):
            os.rmdir(d)  # every pickle is also a newer version's
    return removed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--corpus', default=os.path.join(HERE, 'corpus'))
    ap.add_argument('--only', default='', help='comma-separated minor versions, or numpy')
    ap.add_argument('--no-check', action='store_true')
    args = ap.parse_args()
    only = set(x for x in args.only.split(',') if x)

    interpreters = find_interpreters()
    numpy_python = find_numpy_python()
    missing = [m for m in WANTED if m not in interpreters]
    if missing:
        print('note: no interpreter found for ' + ', '.join(missing))
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tables = os.path.join(tmp, 'compat_tables.json')
        write_tables(tables)
        for minor in sorted(interpreters, key=version_key):
            if only and minor not in only:
                continue
            ok &= generate(interpreters[minor], os.path.join(args.corpus, 'cpython-' + minor), tables)
        if numpy_python and (not only or 'numpy' in only):
            info = probe(numpy_python)
            ok &= generate(numpy_python, os.path.join(args.corpus, 'cpython-%s-numpy' % info[0]), tables,
                           numpy=True)
        elif not numpy_python:
            print('note: no python3 with numpy at ' + SYSTEM_PYTHON)
        print('dedupe: %d Python 3 pickles identical to a newer version\'s removed'
              % dedupe(args.corpus, list(interpreters)))
        if not args.no_check:
            r = subprocess.run([sys.executable, os.path.join(HERE, 'check_corpus.py'), args.corpus,
                                '--tables', tables])
            ok &= r.returncode == 0
    du = run(['du', '-sh', args.corpus]).stdout.split()
    dua = run(['du', '-sh', '--apparent-size', args.corpus]).stdout.split()
    nfiles = sum(len(files) for _root, _dirs, files in os.walk(args.corpus))
    print('corpus: %s on disk, %s apparent, %d files' % (du[0] if du else '?', dua[0] if dua else '?', nfiles))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
