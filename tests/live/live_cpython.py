#!/usr/bin/env python3
"""Live differential test of brine against the CPython interpreters installed on this machine.

    python3 live_cpython.py --helper BUILD/tests/live/brine_roundtrip [--corpus DIR] [--workdir DIR]
                            [--only 2.7,3.13] [--count N] [--seed S] [--jobs J] [--verbose] [--keep]

Interpreters (CPython 2.7 and 3.6 to 3.13, plus 3.14 when present) are found at run time: pyenv's
builds (`pyenv root`, `pyenv versions --bare`; the newest patch release of each minor version),
else pythonX.Y on PATH. Each missing one is reported as "SKIP cpython-X.Y: not installed".

For every interpreter, gen_values.py (run by that interpreter, seeded, deterministic) writes
pickle.dumps(v, p) of fixed edge cases and random values for each protocol p it supports, and
brine_roundtrip (brine's public API) decodes and re-encodes them:

 (a) same protocol: brine's re-encoding must be byte-identical to the interpreter's own pickle.
     Required on 3.8+ (brine's default encoder profile); on 2.7, 3.6 and 3.7, whose picklers write
     some things differently, each difference is attributed to a known cause (listed) and one
     with no known cause fails.
 (b) cross protocol: brine re-encodes each value at every protocol the interpreter supports, from
     the pickle of another protocol (rotating over the values), and the interpreter loads the
     result; it must equal the original value, sharing and cycles included (gen_values.compare).
 (c) out-of-band (3.8+): values with pickle.PickleBuffer pickled at protocol 5 with a
     buffer_callback returning False; brine decodes them with the buffers and re-encodes them with
     its own callback returning False. Pickle and buffers must be byte-identical, and
     pickle.loads(data, buffers=...) must give the value. The in-band form (no callback) likewise.
 (d) corpus: every conformance/corpus/cpython-*/ pickle is re-encoded by brine at its own protocol
     (with its encoding and buffers) and loaded, with the original, by the matching interpreter
     (the newest Python 3 for 2.7 and missing versions) through an Unpickler whose find_class
     returns inert stub classes for everything but a few harmless stdlib names; both loads must be
     equal graphs. Byte identity is required for plain data (tags plain/oob) written by 3.8+
     (encoder profile cpython_3_11 for cpython-3.11), reported for information otherwise.

Prints a summary table; exit status 1 on any failure, 77 when no interpreter at all was found.
"""
import argparse
import collections
import concurrent.futures
import io
import json
import os
import pickletools
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, 'gen_values.py')
WANTED = ['2.7', '3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']
OPTIONAL = ['3.14']
STRICT_FROM = (3, 8)  # byte identity is required from this version on
STEP_TIMEOUT = 170


def vkey(v):
    return tuple(int(x) for x in v.split('.'))


def run(cmd, timeout=STEP_TIMEOUT, env=None):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout, env=env)


def probe(python):
    try:
        r = run([python, '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def find_interpreters():
    """{'X.Y': (path, 'X.Y.Z')} for the interpreters found."""
    candidates = {}
    try:
        root = run(['pyenv', 'root'], timeout=60).stdout.strip()
        versions = run(['pyenv', 'versions', '--bare'], timeout=60).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        root, versions = '', []
    for v in versions:
        m = re.match(r'^(\d+)\.(\d+)\.(\d+)$', v)
        if not m or not root:
            continue
        minor = '%s.%s' % m.group(1, 2)
        for exe in ('python' + minor, 'python'):
            path = os.path.join(root, 'versions', v, 'bin', exe)
            if os.access(path, os.X_OK):
                if minor not in candidates or vkey(v) > vkey(candidates[minor][1]):
                    candidates[minor] = (path, v)
                break
    found = {}
    for minor in WANTED + OPTIONAL:
        paths = []
        if minor in candidates:
            paths.append(candidates[minor][0])
        which = shutil.which('python' + minor)
        if which:
            paths.append(which)
        for path in paths:
            full = probe(path)
            if full and full.startswith(minor + '.'):
                found[minor] = (path, full)
                break
    return found


def gen_env():
    env = dict(os.environ)
    env['PYTHONHASHSEED'] = '0'
    env.pop('PYTHONPATH', None)
    return env


# --- disassembly of a difference ---------------------------------------------------------------------

def first_difference(a, b, start=0):
    """Offset of the first differing byte at or after `start`, None when a == b."""
    n = min(len(a), len(b))
    i = start
    while i < n and a[i:i + 4096] == b[i:i + 4096]:
        i += 4096
    for j in range(i, min(i + 4096, n)):
        if a[j] != b[j]:
            return j
    return n if len(a) != len(b) else None


def dis_window(data, offset, context=7, full=False):
    """pickletools' listing of the opcodes around `offset` (of everything when `full`)."""
    if full:
        out = io.StringIO()
        try:
            pickletools.dis(data, out=out)
        except Exception as e:  # noqa: BLE001 - a listing that stops is still useful
            out.write('      <pickletools.dis stopped: %s: %s>\n' % (type(e).__name__, e))
        return out.getvalue().splitlines()
    before = collections.deque(maxlen=context + 1)
    lines, after = [], 0
    def fmt(op, arg, pos):
        text = '%8d: %-4s %-18s %s' % (pos, repr(op.code)[1:-1], op.name, '' if arg is None else repr(arg))
        return text if len(text) <= 150 else text[:147] + '...'
    try:
        for item in pickletools.genops(data):
            if item[2] <= offset:
                before.append(item)
            else:
                lines.append(fmt(*item))
                after += 1
                if after >= context:
                    lines.append('       ...')
                    break
    except Exception as e:  # noqa: BLE001
        lines.append('      <pickletools stopped: %s: %s>' % (type(e).__name__, e))
    head = ['       ...'] if before and before[0][2] > 0 else []
    return head + [fmt(*item) for item in before] + lines


def describe_difference(label, cpython, brine, verbose):
    off = first_difference(cpython, brine)
    lines = ['%s: first difference at offset %s (CPython %d bytes, brine %d bytes)'
             % (label, off, len(cpython), len(brine))]
    lines.append('    CPython:')
    lines += ['    ' + l for l in dis_window(cpython, off or 0, full=verbose)]
    lines.append('    brine:')
    lines += ['    ' + l for l in dis_window(brine, off or 0, full=verbose)]
    return lines


def op_at(data, offset):
    """(opcode name, argument) of the opcode that covers `offset` (None when pickletools fails)."""
    found = None
    try:
        for op, arg, pos in pickletools.genops(data):
            if pos > offset:
                break
            found = (op.name, arg)
    except Exception:  # noqa: BLE001 - pickletools rejects non-ASCII Python 2 STRING arguments
        return None
    return found


MEMO_OPS = ('PUT', 'BINPUT', 'LONG_BINPUT', 'GET', 'BINGET', 'LONG_BINGET')
GET_OPS = ('GET', 'BINGET', 'LONG_BINGET')
STR_OPS = ('UNICODE', 'BINUNICODE', 'SHORT_BINUNICODE', 'BINUNICODE8')


# Corpus cases whose re-encoding CPython loads to a different object, each listed with its reason
# in conformance/DEVIATIONS.md. Anything else that loads differently fails.
KNOWN_LOSSY = {}  # none now (y_obj_state_setter was, until discarded calls became operations)


def known_issue(cpython, brine):
    """A name for a brine difference already diagnosed (see the report), else None."""
    off = first_difference(cpython, brine)
    c, b = op_at(cpython, off), op_at(brine, off)
    if c and b and c[0] in GET_OPS and b[0] in STR_OPS and len(b[1]) == 1 and ord(b[1]) < 256:
        return ('1-character latin-1 str not shared with the latin-1 text of a protocol<3 bytes object '
                '(CPython: one cached str object, a memo GET)')
    return None

PY2_STR_OPS = ('STRING', 'BINSTRING', 'SHORT_BINSTRING')


def legacy_cause(version, proto, cpython, brine):
    """Why a pre-3.8 pickler's bytes legitimately differ from brine's (those of CPython 3.8+), judged
    by the opcodes at the first difference; None when no known cause applies."""
    off = first_difference(cpython, brine)
    c, b = op_at(cpython, off), op_at(brine, off)
    while c and b and c[0] == b[0] == 'FRAME' and off is not None:  # a length: look further
        off = first_difference(cpython, brine, off + 8)
        c, b = op_at(cpython, off), op_at(brine, off)
    if c is None:
        return 'Python 2 str with non-ASCII bytes (STRING), which pickletools cannot list' if version.startswith('2.') else None
    cn, bn = c[0], (b[0] if b else None)
    if version.startswith('2.'):
        if cn in MEMO_OPS and bn in MEMO_OPS and isinstance(c[1], int) and c[1] == b[1] + 1:
            return 'Python 2 cPickle numbers memo entries from 1'
        if bn in ('PUT', 'BINPUT', 'LONG_BINPUT') and cn not in MEMO_OPS:
            return 'Python 2 cPickle does not memoize an object referenced only by its container (refcount 1)'
        if cn in PY2_STR_OPS:
            return 'Python 2 str is STRING/BINSTRING; brine writes bytes as _codecs.encode(str, "latin1")'
        if cn == 'FLOAT':
            return 'Python 2 writes protocol-0 floats with %.17g, CPython 3 with repr'
        if cn == 'INT' and bn in ('LONG', 'LONG1'):
            return 'Python 2 writes ints beyond 32 bits as INT text, CPython 3 as LONG1 (LONG at protocol 1)'
        if cn in ('LONG', 'LONG1') and bn in ('INT', 'BININT', 'BININT1', 'BININT2'):
            return 'Python 2 long of a small value (LONG/LONG1), an int after loading'
        if cn == 'UNICODE':
            return 'Python 2 escapes only backslash and newline in protocol-0 UNICODE'
        if cn == 'GLOBAL' and c[1] == '__builtin__ bytearray' or bn == 'GLOBAL' and b[1] == '_codecs encode':
            return 'Python 2 bytearray is bytearray(unicode, "latin-1")'
        return None
    if proto == 0 and cn == 'LONG' and bn == 'INT' and version.startswith('3.6'):
        return '3.6 writes protocol-0 ints as LONG text'
    if proto == 0 and cn == 'UNICODE' and version.startswith('3.6'):
        return '3.6 does not escape NUL, CR and 0x1a in protocol-0 UNICODE'
    if proto == 4 and version.startswith('3.6') and 'FRAME' in (cn, bn):
        return '3.6 frames differently (bpo-32503: no tiny frames; bpo-31993: large payloads unframed)'
    if proto < 3 and b'bytearray' in cpython and b'latin-1' in cpython:
        return 'bytearray below protocol 3 is bytearray(str, "latin-1") before 3.8'
    if proto in (3, 4) and cn in ('BINGET', 'LONG_BINGET') and bn == 'SHORT_BINBYTES' and b'bytearray' in cpython:
        return "3.6/3.7 bytearray.__reduce_ex__ returns the cached 1-byte bytes object (a memo GET)"
    return None


# --- one interpreter ---------------------------------------------------------------------------------

class Report(object):
    def __init__(self, label):
        self.label = label
        self.work = None     # scratch directory, removed after a pass unless --keep
        self.lines = []      # printed in order
        self.failures = []   # one line each
        self.rows = {}

    def fail(self, text, detail=None):
        self.failures.append('%s: %s' % (self.label, text))
        self.lines.append('FAIL ' + text)
        if detail:
            self.lines += detail


def run_helper(helper, jobs, path, report):
    """Run brine_roundtrip --batch on `jobs` (lists of args). Returns {job index: error}."""
    with open(path, 'w') as f:
        for j in jobs:
            f.write('\t'.join(j) + '\n')
    try:
        r = run([helper, '--batch', path])
    except subprocess.TimeoutExpired:
        report.fail('brine_roundtrip timed out')
        return dict((i, 'timeout') for i in range(len(jobs)))
    errors = {}
    for line in r.stdout.splitlines():
        m = re.match(r'job (\d+): (.*)$', line)
        if m:
            errors[int(m.group(1)) - 1] = m.group(2)
    if r.returncode != 0 and not errors:
        report.fail('brine_roundtrip failed: %s %s' % (r.stdout.strip(), r.stderr.strip()))
        return dict((i, 'helper failed') for i in range(len(jobs)))
    return errors


def run_json(cmd, report, what):
    try:
        r = run(cmd, env=gen_env())
    except subprocess.TimeoutExpired:
        report.fail('%s timed out' % what)
        return None
    if r.returncode != 0:
        report.fail('%s failed (exit %d)' % (what, r.returncode), ['    ' + l for l in r.stderr.splitlines()[-15:]])
        return None
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        report.fail('%s printed no report' % what, ['    ' + l for l in (r.stdout + r.stderr).splitlines()[-15:]])
        return None


def test_interpreter(minor, python, full, args):
    report = Report('cpython-' + minor)
    strict = vkey(full)[:2] >= STRICT_FROM
    work = os.path.join(args.workdir, 'cpython-' + minor)
    report.work = work
    gen, out = os.path.join(work, 'gen'), os.path.join(work, 'out')
    for d in (gen, out):
        os.makedirs(d)
    seed_args = ['--seed', str(args.seed), '--count', str(args.count)]
    try:
        r = run([python, GEN, 'generate', gen] + seed_args, env=gen_env())
    except subprocess.TimeoutExpired:
        report.fail('gen_values.py generate timed out')
        return report
    if r.returncode != 0:
        report.fail('gen_values.py generate failed', ['    ' + l for l in r.stderr.splitlines()[-20:]])
        return report
    with open(os.path.join(gen, 'manifest.json')) as f:
        manifest = json.load(f)
    for e in manifest['excluded']:
        report.fail('generator: %s' % e)
    highest = manifest['highest']
    enc = manifest['encoding']

    jobs, meta = [], []
    for index, v in enumerate(manifest['values']):
        pickles = dict((int(p), fn) for p, fn in v['pickles'].items())
        pairs = [(p, p) for p in sorted(pickles)]  # (a): every protocol, re-encoded as itself
        for q in range(highest + 1):  # (b): every target protocol, from a rotating other source
            sources = [p for p in sorted(pickles) if p != q]
            if sources:
                pairs.append((sources[index % len(sources)], q))
        for p, q in pairs:
            dst = os.path.join(out, '%s.p%d.q%d.pkl' % (v['name'], p, q))
            jobs.append([os.path.join(gen, pickles[p]), dst, '--protocol', str(q), '--encoding', enc])
            meta.append(('value', v['name'], p, q, dst, None))
    for b in manifest['buffers']:
        bufargs = []
        for fn in b['buffers']:
            bufargs += ['--buffer', os.path.join(gen, fn)]
        dst = os.path.join(out, b['name'] + '.oob.pkl')
        bufdir = os.path.join(out, b['name'] + '.oobdir')
        jobs.append([os.path.join(gen, b['oob']), dst, '--protocol', '5', '--oob', bufdir] + bufargs)
        meta.append(('oob', b['name'], 5, 5, dst, bufdir))
        dst = os.path.join(out, b['name'] + '.inband.pkl')
        jobs.append([os.path.join(gen, b['oob']), dst, '--protocol', '5'] + bufargs)
        meta.append(('inband', b['name'], 5, 5, dst, None))
    errors = run_helper(args.helper, jobs, os.path.join(work, 'jobs.txt'), report)

    same = dict((p, [0, 0]) for p in range(highest + 1))     # identical, total
    cross = dict((q, [0, 0]) for q in range(highest + 1))    # loads equal, total
    oob = {'pickle': [0, 0], 'inband': [0, 0], 'loads': [0, 0]}
    expected_diffs = {}
    checks = []
    by_name = dict((v['name'], v) for v in manifest['values'])
    by_buf = dict((b['name'], b) for b in manifest['buffers'])
    for i, (kind, name, p, q, dst, bufdir) in enumerate(meta):
        if kind == 'value':
            if p == q:
                same[p][1] += 1
            else:
                cross[q][1] += 1
        else:
            oob['loads'][1] += 1
            oob['pickle' if kind == 'oob' else 'inband'][1] += 1
        if i in errors:
            report.fail('brine_roundtrip %s: %s' % (' '.join(os.path.basename(a) for a in jobs[i][:4]), errors[i]))
            continue
        if kind == 'value':
            if p != q:
                checks.append(['value', name, dst, None, q])
                continue
            with open(os.path.join(gen, by_name[name]['pickles'][str(p)]), 'rb') as f:
                cp = f.read()
            with open(dst, 'rb') as f:
                bp = f.read()
            if cp == bp:
                same[p][0] += 1
                continue
            checks.append(['value', name, dst, None, q])
            label = '%s p%d: same-protocol re-encoding differs' % (name, p)
            if strict:
                hint = known_issue(cp, bp)
                report.fail(label + (' [%s]' % hint if hint else ''),
                            describe_difference('    ' + name, cp, bp, args.verbose))
            else:
                cause = legacy_cause(full, p, cp, bp) or 'UNEXPLAINED'
                expected_diffs.setdefault(cause, []).append('%s p%d' % (name, p))
                if cause == 'UNEXPLAINED':
                    report.fail(label + ' (no known pre-3.8 cause)',
                                describe_difference('    ' + name, cp, bp, args.verbose))
                elif args.verbose:
                    report.lines += describe_difference('    ' + name, cp, bp, True)
        else:
            b = by_buf[name]
            checks.append(['buffers', name, dst, bufdir, 5])
            src = b['oob'] if kind == 'oob' else b['inband']
            with open(os.path.join(gen, src), 'rb') as f:
                cp = f.read()
            with open(dst, 'rb') as f:
                bp = f.read()
            problems = []
            if cp != bp:
                problems.append('pickle differs')
            if kind == 'oob':
                theirs = []
                for fn in b['buffers']:
                    with open(os.path.join(gen, fn), 'rb') as f:
                        theirs.append(f.read())
                ours = []
                while os.path.exists(os.path.join(bufdir, 'buf%d' % len(ours))):
                    with open(os.path.join(bufdir, 'buf%d' % len(ours)), 'rb') as f:
                        ours.append(f.read())
                with open(os.path.join(bufdir, 'readonly')) as f:
                    flags = [line.strip() == '1' for line in f if line.strip()]
                if theirs != ours:
                    problems.append('buffers differ (%d from CPython, %d from brine)' % (len(theirs), len(ours)))
                if flags != b['readonly']:
                    problems.append('readonly flags %s, CPython %s' % (flags, b['readonly']))
            if problems:
                report.fail('%s %s: %s' % (name, kind, ', '.join(problems)),
                            describe_difference('    ' + name, cp, bp, args.verbose) if cp != bp else None)
            else:
                oob['pickle' if kind == 'oob' else 'inband'][0] += 1

    checks_path = os.path.join(work, 'checks.json')
    with open(checks_path, 'w') as f:
        json.dump(checks, f)
    res = run_json([python, GEN, 'check', gen, checks_path] + seed_args, report, 'gen_values.py check')
    if res is not None:
        failed = {}
        for path, msg in res['failures']:
            failed[path] = msg
        for kind, name, dst, bufdir, q in checks:
            ok = dst not in failed
            if kind == 'buffers':
                oob['loads'][0] += ok
            elif '.p%d.q%d.' % (q, q) not in dst:
                cross[q][0] += ok
            if not ok:
                report.fail('%s: CPython %s loads brine output %s: %s'
                            % (name, full, os.path.basename(dst), failed[dst]))
    report.rows = {'full': full, 'strict': strict, 'same': same, 'cross': cross, 'oob': oob,
                   'has_oob': bool(manifest['buffers']), 'expected': expected_diffs, 'values': len(manifest['values'])}
    return report


# --- the corpus ----------------------------------------------------------------------------------------

def read_desc(path):
    with open(path, 'rb') as f:
        text = f.read().decode('ascii')
    head = text.split('\n\n', 1)[0]
    return dict(line.split('=', 1) for line in head.split('\n') if line)


def corpus_loader(dirname, interpreters):
    """(minor, python, note) of the interpreter that loads corpus directory `dirname`."""
    m = re.match(r'cpython-(\d+\.\d+)', dirname)
    want = m.group(1) if m else None
    py3 = sorted((k for k in interpreters if not k.startswith('2.') and vkey(k) >= (3, 8)), key=vkey)
    if want in interpreters and not want.startswith('2.'):
        return want, interpreters[want][0], ''
    if not py3:
        return None, None, ''
    note = 'loaded by %s (%s)' % (py3[-1], 'Python 2 corpus' if want and want.startswith('2.') else
                                  'cpython-%s not installed' % want)
    return py3[-1], interpreters[py3[-1]][0], note


def corpus_profile(dirname):
    """brine's encoder profile for pickles CPython X.Y wrote (brine::cpython_profile)."""
    return '3.11' if re.match(r'cpython-3\.11(\D|$)', dirname) else 'default'


def test_corpus(dirname, args, interpreters):
    report = Report('corpus/' + dirname)
    minor, python, note = corpus_loader(dirname, interpreters)
    if python is None:
        report.lines.append('SKIP corpus/%s: no Python 3.8+ interpreter to load it' % dirname)
        report.rows = None
        return report
    src = os.path.join(args.corpus, dirname)
    work = os.path.join(args.workdir, 'corpus', dirname)
    report.work = work
    os.makedirs(work)
    jobs, meta = [], []
    for fn in sorted(os.listdir(src)):
        if not fn.endswith('.pkl'):
            continue
        base = fn[:-4]
        desc = read_desc(os.path.join(src, base + '.desc'))
        proto = int(desc['protocol'])
        nbuf = int(desc.get('buffers', '0'))
        bufs = [os.path.join(src, '%s.buf%d' % (base, i)) for i in range(nbuf)]
        dst = os.path.join(work, fn)
        job = [os.path.join(src, fn), dst, '--protocol', str(proto), '--encoding', desc.get('encoding', 'ascii'),
               '--profile', corpus_profile(dirname)]
        bufdir = None
        if nbuf:
            bufdir = os.path.join(work, base + '.oobdir')
            job += ['--oob', bufdir]
            for b in bufs:
                job += ['--buffer', b]
        jobs.append(job)
        meta.append((fn, proto, desc, bufs, dst, bufdir))
    errors = run_helper(args.helper, jobs, os.path.join(work, 'jobs.txt'), report)
    checks = []
    identical = {}
    m = re.match(r'cpython-(\d+)\.(\d+)', dirname)
    strict_dir = bool(m) and (int(m.group(1)), int(m.group(2))) >= STRICT_FROM
    info = []
    for i, (fn, proto, desc, bufs, dst, bufdir) in enumerate(meta):
        tags = desc.get('tags', '').split(',')[0]
        row = identical.setdefault(tags, [0, 0])
        row[1] += 1
        if i in errors:
            report.fail('brine_roundtrip %s: %s' % (fn, errors[i]))
            continue
        with open(os.path.join(src, fn), 'rb') as f:
            a = f.read()
        with open(dst, 'rb') as f:
            b = f.read()
        row[0] += a == b
        if a != b:
            if strict_dir and tags in ('plain', 'oob'):
                hint = known_issue(a, b)
                report.fail('%s (%s): re-encoding at its own protocol is not byte-identical%s'
                            % (fn, desc.get('tags'), ' [%s]' % hint if hint else ''),
                            describe_difference('    ' + fn, a, b, args.verbose))
            else:
                info.append('%s (%s) at offset %s' % (fn, desc.get('tags'), first_difference(a, b)))
        encoding = {'utf8': 'utf-8'}.get(desc.get('encoding', 'ascii'), desc.get('encoding', 'ascii'))
        checks.append([os.path.join(src, fn), bufs, dst, bufdir, proto, encoding])
    checks_path = os.path.join(work, 'checks.json')
    with open(checks_path, 'w') as f:
        json.dump(checks, f)
    res = run_json([python, GEN, 'corpus-check', checks_path], report, 'gen_values.py corpus-check')
    loaded = skipped = 0
    if res is not None:
        failed = dict((path, msg) for path, msg in res['failures'])
        for c in checks:
            msg = failed.get(c[2])
            if msg is None:
                loaded += 1
            elif msg.startswith('skipped:'):
                skipped += 1
                report.lines.append('SKIP %s: %s' % (os.path.basename(c[2]), msg[len('skipped: '):]))
            elif os.path.basename(c[2]).split('.')[0] in KNOWN_LOSSY:
                case = os.path.basename(c[2]).split('.')[0]
                report.lines.append('KNOWN %s: %s (%s)' % (os.path.basename(c[2]), msg, KNOWN_LOSSY[case]))
            else:
                report.fail('%s: %s' % (os.path.basename(c[2]), msg))
    if info and (strict_dir or args.verbose):
        report.lines.append('not byte-identical (informational: not plain data, or a pre-3.8 pickler):')
        report.lines += ['    ' + line for line in info]
    report.rows = {'pickles': len(meta), 'loader': minor, 'note': note, 'identical': identical,
                   'loaded': loaded, 'skipped': skipped}
    return report


# --- main ----------------------------------------------------------------------------------------------

def frac(pair):
    return '%d/%d' % tuple(pair)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--helper', required=True, help='the brine_roundtrip executable')
    ap.add_argument('--corpus', default=os.path.normpath(os.path.join(HERE, '..', '..', 'conformance', 'corpus')))
    ap.add_argument('--workdir', help='scratch directory (emptied first; default: a temporary one)')
    ap.add_argument('--only', help='comma-separated minor versions, e.g. 2.7,3.13')
    ap.add_argument('--count', type=int, default=160, help='random values per interpreter')
    ap.add_argument('--seed', type=int, default=20240601)
    ap.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument('--no-corpus', action='store_true', help='skip (d)')
    ap.add_argument('--corpus-only', action='store_true', help='only (d)')
    ap.add_argument('--verbose', action='store_true', help='full disassemblies and expected differences')
    ap.add_argument('--keep', action='store_true', help='keep every scratch file (by default only those of failures)')
    args = ap.parse_args()
    args.helper = os.path.abspath(args.helper)
    if not os.access(args.helper, os.X_OK):
        print('live_cpython: no helper at %s' % args.helper)
        return 2
    start = time.time()
    temp = args.workdir is None
    if temp:
        args.workdir = tempfile.mkdtemp(prefix='brine-live-')
    else:
        shutil.rmtree(args.workdir, ignore_errors=True)
        os.makedirs(args.workdir)

    interpreters = find_interpreters()
    wanted = WANTED + OPTIONAL
    if args.only:
        wanted = [v for v in args.only.split(',') if v]
    for minor in wanted:
        if minor not in interpreters:
            print('SKIP cpython-%s: not installed%s' % (minor, ' (optional)' if minor in OPTIONAL else ''))
    selected = [m for m in wanted if m in interpreters]
    for m in selected:
        print('found cpython-%s: %s' % (interpreters[m][1], interpreters[m][0]))
    if not selected:
        print('SKIP live_cpython: no CPython interpreter found (pyenv or pythonX.Y on PATH)')
        return 77

    corpus_dirs = []
    if not args.no_corpus:
        if os.path.isdir(args.corpus):
            corpus_dirs = sorted(d for d in os.listdir(args.corpus) if d.startswith('cpython-'))
        else:
            print('SKIP corpus: %s not found' % args.corpus)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(test_interpreter, m, interpreters[m][0], interpreters[m][1], args)
                   for m in ([] if args.corpus_only else selected)]
        cfutures = [pool.submit(test_corpus, d, args, interpreters) for d in corpus_dirs]
        reports = [f.result() for f in futures]
        creports = [f.result() for f in cfutures]

    failures = []
    for rep in reports + creports:
        if rep.work and not rep.failures and not args.keep:
            shutil.rmtree(rep.work, ignore_errors=True)  # what failed stays for inspection
        if rep.lines:
            print('\n== %s' % rep.label)
            for line in rep.lines:
                print(line)
        failures += rep.failures

    print('\n== (a) same-protocol re-encoding, byte-identical / total')
    print('%-16s %-9s %-9s %-9s %-9s %-9s %-9s %s' % ('interpreter', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5', ''))
    for rep in reports:
        r = rep.rows
        if not r:
            continue
        cells = [frac(r['same'][p]) if p in r['same'] else '-' for p in range(6)]
        note = 'required' if r['strict'] else 'informational (pre-3.8 pickler)'
        print('%-16s %-9s %-9s %-9s %-9s %-9s %-9s %s' % tuple(['cpython-' + r['full']] + cells + [note]))
    for rep in reports:
        r = rep.rows
        if r and r['expected']:
            print('  cpython-%s expected differences:' % r['full'])
            for cause, cases in sorted(r['expected'].items()):
                print('    %d x %s%s' % (len(cases), cause, (': ' + ', '.join(cases[:6]) + (' ...' if len(cases) > 6 else ''))))

    print('\n== (b) brine re-encodes each value at protocol q (from another protocol\'s pickle); CPython loads an equal object')
    print('%-16s %-9s %-9s %-9s %-9s %-9s %-9s' % ('interpreter', 'q0', 'q1', 'q2', 'q3', 'q4', 'q5'))
    for rep in reports:
        r = rep.rows
        if r:
            cells = [frac(r['cross'][q]) if q in r['cross'] else '-' for q in range(6)]
            print('%-16s %-9s %-9s %-9s %-9s %-9s %-9s' % tuple(['cpython-' + r['full']] + cells))

    print('\n== (c) protocol 5 with PickleBuffers: out-of-band pickle+buffers identical, in-band identical, loads equal')
    for rep in reports:
        r = rep.rows
        if r and r['has_oob']:
            o = r['oob']
            print('%-16s out-of-band %-8s in-band %-8s loads %s' % ('cpython-' + r['full'], frac(o['pickle']),
                                                                  frac(o['inband']), frac(o['loads'])))
        elif r:
            print('%-16s n/a (no protocol 5)' % ('cpython-' + r['full']))

    if creports:
        print('\n== (d) conformance corpus re-encoded at its own protocol; loads equal (stub classes)')
        print('%-22s %-8s %-8s %-8s %-8s %s' % ('directory', 'pickles', 'equal', 'skipped', 'loader',
                                              'byte-identical by tag (required: plain/oob from 3.8+)'))
        for rep in creports:
            r = rep.rows
            if not r:
                continue
            ident = ', '.join('%s %s' % (t, frac(v)) for t, v in sorted(r['identical'].items()))
            print('%-22s %-8d %-8d %-8d %-8s %s%s' % (rep.label[len('corpus/'):], r['pickles'], r['loaded'], r['skipped'],
                                                   r['loader'], ident, ('  [' + r['note'] + ']') if r['note'] else ''))

    elapsed = time.time() - start
    if not args.keep and temp and not failures:
        shutil.rmtree(args.workdir, ignore_errors=True)
    elif failures:
        print('scratch files of the failures: %s' % args.workdir)
    print('\n%s: %d failure(s)' % ('FAILED' if failures else 'PASSED', len(failures)))
    for f in failures[:50]:
        print('  ' + f)
    if len(failures) > 50:
        print('  ... %d more' % (len(failures) - 50))
    sys.stdout.flush()
    sys.stderr.write('live_cpython: %.1f s\n' % elapsed)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
