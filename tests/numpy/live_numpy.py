#!/usr/bin/env python3
"""Live numpy test: numpy loads what brine writes, and brine writes what numpy writes.

    python3 live_numpy.py --helper PATH/brine_numpy_live --workdir DIR

Needs an interpreter with numpy. When the one running this has none, the script re-runs itself
with $BRINE_NUMPY_PYTHON, else with Debian's system interpreter (python3-numpy), the one the
fixtures come from; with none found it prints "SKIP: ..." and exits 77 (CTest's skip code).

Checks:
  typed      arrays built in C++ (bool, int8-64, uint8-64, float32/64, complex64/128; 1-D, 2-D and
             3-D in C and Fortran order, 0-d, empty), protocols 0-5 and out-of-band at 5: numpy
             loads each to an array equal to the one Python builds from the same formula, with the
             same dtype, shape and memory order, and brine's bytes equal pickle.dumps(that array)
             (out-of-band: the same pickle and the same buffers).
  roundtrip  numpy arrays of every other dtype numpy pickles as data (float16, longdouble,
             big-endian, unicode, bytes, void, structured with titles, nested, padded, aligned and
             sub-array fields, datetime64, timedelta64; C, Fortran and non-contiguous layouts),
             pickled by numpy, decoded by brine and re-encoded at protocols 0-5 and out-of-band:
             numpy loads equal arrays; byte identity with numpy's own pickle is counted.
  readme     the README snippet answers np.arange(6.).reshape(2, 3) with the doubled array.
"""
import argparse
import os
import pickle
import shutil
import subprocess
import sys

SKIP = 77
SYSTEM_PYTHON = '/usr/bin/python3'  # Debian's interpreter with python3-numpy (as conformance/generate.py)

try:
    import numpy as np
except ImportError:
    np = None


def reexec_or_skip():
    for candidate in (os.environ.get('BRINE_NUMPY_PYTHON'), SYSTEM_PYTHON):
        if not candidate or os.path.realpath(candidate) == os.path.realpath(sys.executable) or not os.path.exists(candidate):
            continue
        if subprocess.run([candidate, '-c', 'import numpy'], capture_output=True).returncode == 0:
            os.execv(candidate, [candidate, os.path.abspath(__file__)] + sys.argv[1:])
    print('SKIP: numpy is not importable from %s, $BRINE_NUMPY_PYTHON or %s' % (sys.executable, SYSTEM_PYTHON))
    sys.exit(SKIP)


# ---- typed arrays: the formula of numpy_live_helper.cpp's value_of ----------------------------

TYPES = [('b1', '?'), ('i1', 'i1'), ('i2', '<i2'), ('i4', '<i4'), ('i8', '<i8'), ('u1', 'u1'), ('u2', '<u2'), ('u4', '<u4'),
         ('u8', '<u8'), ('f4', '<f4'), ('f8', '<f8'), ('c8', '<c8'), ('c16', '<c16')]
LAYOUTS = {'1d': ((7,), 'C'), 'c2d': ((2, 3), 'C'), 'f2d': ((2, 3), 'F'), 'f3d': ((2, 3, 4), 'F'), 'c3d': ((2, 3, 4), 'C'),
           '0d': ((), 'C'), 'empty': ((0,), 'C'), 'empty2d': ((3, 0), 'C')}


def value_of(dt, k):
    if dt.kind == 'b':
        return k % 3 == 0
    if dt.kind in 'iu':
        v = (k * 37 + 5) % 200
        if dt.itemsize == 8:
            v *= 2 ** 40
        return v - 100 if dt.kind == 'i' else v
    if dt.kind == 'f':
        return k * 0.5 - 3.25
    return complex(k * 0.5 - 1.0, k * 0.25)


def typed_expected(tag, layout):
    dt = np.dtype(dict(TYPES)[tag])
    shape, order = LAYOUTS[layout]
    n = int(np.prod(shape)) if shape else 1
    a = np.array([value_of(dt, k) for k in range(n)], dtype=dt).reshape(shape)
    return np.asfortranarray(a) if order == 'F' and a.ndim > 1 else a


def load(path, nbuf=0):
    data = open(path, 'rb').read()
    buffers = None
    if nbuf is not None and path.endswith('.oob.pkl'):
        stem = path[:-4]
        buffers = [bytearray(open('%s.buf%d' % (stem, i), 'rb').read()) for i in range(nbuf)]
    return data, buffers, pickle.loads(data, buffers=buffers) if buffers is not None else pickle.loads(data)


def same_array(a, b):
    return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
            and a.flags.c_contiguous == b.flags.c_contiguous and a.flags.f_contiguous == b.flags.f_contiguous)


def numpy_pickle(a, proto, oob):
    if not oob:
        return pickle.dumps(a, proto), []
    bufs = []
    return pickle.dumps(a, 5, buffer_callback=lambda b: bufs.append(b.raw().tobytes()) or False), bufs


def manifest_entries(d):
    for line in open(os.path.join(d, 'manifest.txt')):
        w = line.split()
        if w[1] == 'oob':
            yield w[0], 5, True, int(w[2]), os.path.join(d, w[0] + '.oob.pkl')
        else:
            yield w[0], int(w[1][1:]), False, 0, os.path.join(d, '%s.%s.pkl' % (w[0], w[1]))


def check_typed(helper, work, report):
    out = os.path.join(work, 'typed')
    subprocess.run([helper, 'typed', out], check=True)
    for name, proto, oob, nbuf, path in manifest_entries(out):
        tag, layout = name.split('_', 1)
        want = typed_expected(tag, layout)
        data, bufs, got = load(path, nbuf)
        where = '%s %s' % (name, 'oob' if oob else 'p%d' % proto)
        if not same_array(got, want):
            report['fail'].append('typed %s: numpy loaded %r, expected %r' % (where, got, want))
            continue
        ref, ref_bufs = numpy_pickle(want, proto, oob)
        if data != ref or [bytes(b) for b in (bufs or [])] != ref_bufs:
            report['fail'].append('typed %s: loads equal but bytes differ from pickle.dumps' % where)
            continue
        report['typed'] += 1


# ---- roundtrip: numpy's pickles of every dtype, through brine -----------------------------------

def roundtrip_arrays():
    a = np.arange(24, dtype='<i4').reshape(2, 3, 4)
    yield 'f2', np.array([1.5, -0.0, np.inf, 65504.0], dtype='<f2')
    yield 'f16', np.array([1.5, -2.25], dtype=np.longdouble)
    yield 'c32', np.array([1 + 2j], dtype=np.clongdouble)
    yield 'be_f8', np.array([1.5, -2.0, np.nan], dtype='>f8')
    yield 'be_i2_f', np.asfortranarray(np.arange(6, dtype='>i2').reshape(2, 3))
    yield 'be_c16', np.array([1 + 2j, -1j], dtype='>c16')
    yield 'U3', np.array(['ab', 'xyz', '', '\u00e9\u4e2d'], dtype='<U3')
    yield 'be_U2', np.array(['hi', '\u00e9'], dtype='>U2')
    yield 'S4', np.array([b'ab', b'abcd', b''], dtype='S4')
    yield 'V3', np.array([b'\x01\x02\x03', b'\xff\x00\x10'], dtype='V3')
    yield 'struct', np.array([(1, 2.5), (-3, 1e10)], dtype=[(chr(97), 'i1'), (chr(98), '<f8')])
    yield 'struct_be', np.array([(1, 2.5)], dtype=[('a', '>i4'), ('b', '>f8')])
    yield 'struct_aligned', np.array([(1, 2.5, 'x')], dtype=np.dtype([('a', 'i4'), ('b', 'f8'), ('c', 'U2')], align=True))
    yield 'struct_titles', np.array([(7, [[1, 2, 3], [4, 5, 6]])], dtype=[(('T', 'a'), '<i4'), ('bc', '<f4', (2, 3))])
    yield 'struct_nested', np.array([((1, 2), b'zz')], dtype=[('n', [('p', '<u2'), ('q', '>i8')]), ('s', 'S2')])
    yield 'struct_padded', np.zeros(2, dtype={'names': ['x', 'y'], 'formats': ['u1', '>f4'], 'offsets': [0, 4], 'itemsize': 12})
    yield 'M8_ns', np.array(['2020-01-01T00:00:00.123456789', 'NaT'], dtype='M8[ns]')
    yield 'M8_D', np.array(['2020-01-01'], dtype='M8[D]')
    yield 'm8_2s', np.array([4, -6], dtype='m8[2s]')
    yield 'M8_generic', np.array(['NaT'], dtype='M8')
    yield 'c3d', a
    yield 'f3d', np.asfortranarray(a)
    yield 'transposed', a.transpose(1, 0, 2)
    yield 'strided', a[:, ::2, 1:3]
    yield 'bool_0d', np.array(True)
    yield 'record', np.rec.array([(1, 2.0)], dtype=[('a', 'i4'), ('b', 'f8')]).view(np.ndarray)


def check_roundtrip(helper, work, report):
    src = os.path.join(work, 'roundtrip_in')
    out = os.path.join(work, 'roundtrip_out')
    os.makedirs(src)
    originals = {}
    for name, arr in roundtrip_arrays():
        originals[name] = arr
        # brine reads numpy's protocol 5 (with its out-of-band buffers) and protocol 2 forms.
        with open(os.path.join(src, name + '_p5.pkl'), 'wb') as f:
            bufs = []
            f.write(pickle.dumps(arr, 5, buffer_callback=lambda b: bufs.append(b.raw().tobytes()) or False))
        for i, b in enumerate(bufs):
            with open(os.path.join(src, '%s_p5.buf%d' % (name, i)), 'wb') as f:
                f.write(b)
        with open(os.path.join(src, name + '_p2.pkl'), 'wb') as f:
            f.write(pickle.dumps(arr, 2))
    subprocess.run([helper, 'roundtrip', src, out], check=True)
    for name, proto, oob, nbuf, path in manifest_entries(out):
        base, src_proto = name.rsplit('_', 1)
        orig = originals[base]
        data, bufs, got = load(path, nbuf)
        where = '%s (read from numpy %s) written %s' % (base, src_proto, 'oob' if oob else 'p%d' % proto)
        # numpy's loader turns non-native byte orders native when it copies (protocols < 5): compare
        # values in the pickled dtype's terms.
        want = orig
        if got.dtype != orig.dtype and got.dtype == orig.dtype.newbyteorder('='):
            want = orig.astype(got.dtype)
        equal = (got.dtype == want.dtype and got.shape == want.shape
                 and np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes())
        if not equal:
            report['fail'].append('roundtrip %s: numpy loaded %r, expected %r' % (where, got, orig))
            continue
        report['roundtrip'] += 1
        if not orig.flags.c_contiguous and not orig.flags.f_contiguous:
            continue  # brine keeps the C-order copy numpy made; numpy's own pickle of it is the reference below
        ref, ref_bufs = numpy_pickle(orig, proto, oob)
        if data == ref and [bytes(b) for b in (bufs or [])] == ref_bufs:
            report['identical'] += 1
        else:
            report['different'].append(where)


def check_readme(helper, work, report):
    req = np.arange(6, dtype='<f8').reshape(2, 3)
    request = os.path.join(work, 'readme_request.pkl')
    reply = os.path.join(work, 'readme_reply.pkl')
    with open(request, 'wb') as f:
        f.write(pickle.dumps(req, protocol=5))
    subprocess.run([helper, 'readme', request, reply], check=True)
    got = pickle.loads(open(reply, 'rb').read())
    if not same_array(got, req * 2):
        report['fail'].append('readme: reply %r' % (got,))
    elif open(reply, 'rb').read() != pickle.dumps(req * 2, protocol=5):
        report['fail'].append('readme: reply loads equal but differs from pickle.dumps')
    else:
        report['readme'] = 'ok'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--helper', required=True)
    ap.add_argument('--workdir', required=True)
    args = ap.parse_args()
    if np is None:
        reexec_or_skip()
    if os.path.exists(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    report = {'typed': 0, 'roundtrip': 0, 'identical': 0, 'different': [], 'fail': [], 'readme': 'not run'}
    check_typed(args.helper, args.workdir, report)
    check_roundtrip(args.helper, args.workdir, report)
    check_readme(args.helper, args.workdir, report)
    print('numpy %s, CPython %s (%s)' % (np.__version__, sys.version.split()[0], sys.executable))
    print('typed: %d pickles load equal and are byte-identical to pickle.dumps' % report['typed'])
    print('roundtrip: %d pickles load equal; %d byte-identical to numpy\'s, %d not:'
          % (report['roundtrip'], report['identical'], len(report['different'])))
    for d in report['different']:
        print('  differs: ' + d)
    print('readme: ' + report['readme'])
    for f in report['fail']:
        print('FAIL ' + f)
    return 1 if report['fail'] else 0


if __name__ == '__main__':
    sys.exit(main())
