#!/usr/bin/python3
"""numpy fixtures for tests/test_numpy.cpp: pickles, and beside each the values numpy computed.

    /usr/bin/python3 tests/numpy/gen_fixtures.py [--corpus DIR] [--out DIR]

Run with Debian's system python3 (it has python3-numpy; pyenv interpreters do not). Writes, into
OUT (default tests/numpy/data/):

  <name>.pkl, <name>.buf<i>   pickles written here: every dtype kind, byte order, layout and pickle
                              form (protocols 0-5, out-of-band buffers, Python 2 era forms built
                              opcode by opcode, numpy 2 module names, the 'K' axis_order form),
                              and n_<name>.pkl inputs brine must reject;
  <name>.expect               what numpy loaded from it (format below);
  corpus/<stem>.expect        the same for every pickle of the conformance corpus's numpy
                              directories (CORPUS, default conformance/corpus/cpython-*-numpy/).

Expectations are computed by numpy loading the very bytes brine reads, never from the objects
that were pickled; two exceptions are documented where they occur: numpy 1.x cannot load numpy
2's names or the 'K' form, so those are loaded with numpy 2's _frombuffer code reproduced below.

.expect format (one record per line, tokens separated by spaces, key=value, strings in hex):

  pickle <path> buffers=<n> encoding=<ascii|latin1|bytes> root=<list|single>
  item <i> array|scalar|dtype dtype=<numpy dtype.str as pickled> shape=<d0,d1,...>
       strides=<s0,...> values=<hex of the C-order elements in native byte order>
       [fields=<name:str:offset[:title]>;...] [text=<hex>,...] [objects=<v>,...]
  field <i> <name hex> dtype=... shape=... strides=... values=...
  error <errc name> <message substring hex>

`dtype=` is the dtype the pickle holds: numpy's loader turns a non-native byte order into the
native one when it copies (array_setstate's "byte-swap on pickle-read"), so the generator records
the dtype from the state before numpy's __setstate__ runs. Object elements: i<int>, s<hex utf-8>,
b<hex>, f<float.hex()>, N, T, F.
"""
import argparse
import glob
import io
import os
import pickle
import struct
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ---- loading with the pickled dtype kept ----------------------------------------------------

def recording(cls):
    """A subclass of an ndarray class whose __setstate__ remembers the dtype the state holds."""
    class Recording(cls):
        def __setstate__(self, state):
            object.__setattr__(self, '_brine_dtype', state[2] if len(state) == 5 else state[1])
            return super().__setstate__(state)
    Recording.__name__ = cls.__name__
    return Recording


RECORDING = {name: recording(getattr(np, name)) for name in ('ndarray', 'matrix', 'memmap', 'recarray')}


def frombuffer_numpy2(buf, dtype, shape, order, axis_order=None):
    """numpy 2's numpy/_core/numeric.py _frombuffer (with numpy PR #28105's axis_order), which
    numpy 1.24 lacks: the expectation for the numpy 2 forms."""
    array = np.frombuffer(buf, dtype=dtype)
    if order == 'K' and axis_order is not None:
        return array.reshape(shape, order='C').transpose(axis_order)
    return array.reshape(shape, order=order)


class Loader(pickle.Unpickler):
    def find_class(self, module, name):
        if module == 'numpy' and name in RECORDING:
            return RECORDING[name]
        if module == 'numpy._core.numeric' and name == '_frombuffer':
            return frombuffer_numpy2
        if module == 'numpy.core.numeric' and name == '_frombuffer':
            return frombuffer_numpy2  # identical to numpy 1.24's for 'C' / 'F'; also reads 'K'
        if module == 'numpy._core.multiarray':
            module = 'numpy.core.multiarray'
        return super().find_class(module, name)


def load(data, buffers, encoding):
    return Loader(io.BytesIO(data), buffers=buffers, encoding=encoding).load()


# ---- describing what numpy loaded -----------------------------------------------------------

def hx(s):
    return (s.encode('utf-8', 'surrogatepass') if isinstance(s, str) else bytes(s)).hex()


def native(dt):
    return dt.newbyteorder('=') if dt.byteorder in '<>' or dt.names else dt


def native_values(a):
    a = np.asarray(a)
    if a.dtype.hasobject:
        return ''
    nd = native(a.dtype)
    if nd == a.dtype:  # nothing to swap: the raw bytes, padding included
        return np.ascontiguousarray(a).tobytes().hex()
    out = np.zeros(a.shape, dtype=nd)  # astype would leave padding uninitialized
    out[...] = a
    return out.tobytes().hex()


def object_token(x):
    if x is None:
        return 'N'
    if x is True:
        return 'T'
    if x is False:
        return 'F'
    if type(x) is int:
        return 'i%d' % x
    if type(x) is float:
        return 'f' + x.hex()
    if type(x) is str:
        return 's' + hx(x)
    if type(x) is bytes:
        return 'b' + x.hex()
    raise ValueError('no token for %r' % (x,))


def fields_token(dt):
    if dt.names is None:
        return None
    out = []
    for name in dt.names:
        f = dt.fields[name]
        tok = '%s:%s:%d' % (hx(name), f[0].str, f[1])
        if len(f) == 3 and f[2] is not None:
            tok += ':' + hx(f[2])
        out.append(tok)
    return ';'.join(out)


def array_tokens(a, dt):
    a = np.asarray(a)
    toks = ['dtype=' + dt.str, 'shape=' + ','.join(str(x) for x in a.shape)]
    if a.size:
        toks.append('strides=' + ','.join(str(x) for x in a.strides))
    if dt.hasobject:
        toks.append('objects=' + ','.join(object_token(x) for x in a.ravel(order='C').tolist()))
    else:
        toks.append('values=' + native_values(a))
    if dt.kind in 'US' and dt.names is None:
        toks.append('text=' + ','.join(hx(x) for x in a.ravel(order='C').tolist()))
    f = fields_token(dt)
    if f:
        toks.append('fields=' + f)
    return toks


def describe_item(i, x, lines):
    if isinstance(x, np.dtype):
        toks = ['dtype=' + x.str, 'itemsize=%d' % x.itemsize]
        f = fields_token(x)
        if f:
            toks.append('fields=' + f)
        lines.append(' '.join(['item', str(i), 'dtype'] + toks))
        return
    if isinstance(x, np.ndarray):
        dt = getattr(x, '_brine_dtype', x.dtype)
        lines.append(' '.join(['item', str(i), 'array'] + array_tokens(x, dt)))
        if dt.names:
            for name in dt.names:
                lines.append(' '.join(['field', str(i), hx(name)] + array_tokens(x[name], x[name].dtype)))
        return
    if isinstance(x, np.generic):
        lines.append(' '.join(['item', str(i), 'scalar'] + array_tokens(np.asarray(x), x.dtype)))
        return
    raise ValueError('cannot describe %r' % (x,))


def expectation(path, data, buffers, encoding, root_kind):
    obj = load(data, buffers, encoding)
    lines = ['pickle %s buffers=%d encoding=%s root=%s' % (path, len(buffers or []), encoding, root_kind)]
    items = obj if root_kind == 'list' else [obj]
    for i, x in enumerate(items):
        describe_item(i, x, lines)
    return lines


HEADER = '# brine numpy expectations: tests/numpy/gen_fixtures.py, numpy %s, CPython %s\n' % (
    np.__version__, sys.version.split()[0])


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


# ---- hand-made pickles (Python 2 era forms, corner cases, rejects) ------------------------------

def S(b):
    """Python 2 str: SHORT_BINSTRING / BINSTRING."""
    b = b.encode('latin-1') if isinstance(b, str) else b
    return (b'U' + bytes([len(b)]) + b) if len(b) < 256 else (b'T' + struct.pack('<i', len(b)) + b)


def I(n):
    if 0 <= n < 256:
        return b'K' + bytes([n])
    return b'J' + struct.pack('<i', n)


def G(module, name):
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n'


def T(*items):
    return b'(' + b''.join(items) + b't'


NONE = b'N'


def py2_dtype(typestr, endian, state_tail=None, version=3):
    """dtype the way numpy 1.x on Python 2 wrote it: ('f8', 0, 1) and an 8-tuple state."""
    if state_tail is None:
        state_tail = [NONE, NONE, NONE, I(-1), I(-1), I(0)]
    return (G('numpy', 'dtype') + S(typestr) + I(0) + I(1) + b'\x87R'
            + T(I(version), S(endian), *state_tail) + b'b')


def py2_array(arr, with_version=True, module='numpy.core.multiarray'):
    """An ndarray as numpy 1.x on Python 2 pickled it at protocol 2 (Python 2 strs throughout)."""
    dt = arr.dtype
    fortran = arr.flags.f_contiguous and not arr.flags.c_contiguous
    raw = arr.tobytes(order='F' if fortran else 'C')
    shape = T(*[I(x) for x in arr.shape])
    state = [shape, py2_dtype(dt.str[1:], dt.str[0]), b'\x88' if fortran else b'\x89', S(raw)]
    if with_version:
        state.insert(0, I(1))
    return (b'\x80\x02' + G(module, '_reconstruct') + G('numpy', 'ndarray') + I(0) + b'\x85' + S('b') + b'\x87R'
            + T(*state) + b'b.')


def with_names(data, names):
    """Re-pickle-free renaming of GLOBAL lines (protocols 0-3)."""
    for old, new in names:
        data = data.replace(b'c' + old + b'\n', b'c' + new + b'\n')
    return data


class Numpy2Names(pickle.Pickler):
    """A pickler writing numpy 2's module names (numpy._core.*), through stand-in functions that
    Loader maps back; for the fixtures only."""

    def __init__(self, f, proto):
        super().__init__(f, proto)
        self.proto = proto

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            r = obj.__reduce_ex__(self.proto)
            fn = {'_frombuffer': FROMBUFFER2, '_reconstruct': RECONSTRUCT2}[r[0].__name__]
            return (fn,) + tuple(r[1:])
        return NotImplemented


def _stand_in(module, name, target):
    def f(*args):
        return target(*args)
    f.__module__, f.__qualname__, f.__name__ = module, name, name
    mod = sys.modules.setdefault(module, types.ModuleType(module))
    setattr(mod, name, f)
    return f


FROMBUFFER2 = _stand_in('numpy._core.numeric', '_frombuffer', frombuffer_numpy2)
RECONSTRUCT2 = _stand_in('numpy._core.multiarray', '_reconstruct', np.core.multiarray._reconstruct)


def k_form(arr, axis_order, proto=5, oob=False):
    """numpy 2.3's 'K' form: _frombuffer(buffer, dtype, physical C shape, 'K', axis_order)."""
    phys = np.ascontiguousarray(np.transpose(arr, np.argsort(axis_order)))
    assert np.array_equal(phys.transpose(axis_order), arr)

    class K(pickle.Pickler):
        def reducer_override(self, obj):
            if obj is arr:
                return (FROMBUFFER2, (pickle.PickleBuffer(phys), phys.dtype, phys.shape, 'K', tuple(axis_order)))
            return NotImplemented
    bufs = []
    f = io.BytesIO()
    K(f, proto, buffer_callback=(lambda b: bufs.append(b.raw().tobytes()) or False) if oob else None).dump(arr)
    return f.getvalue(), bufs


# ---- the fixture set ---------------------------------------------------------------------------

def dtype_zoo():
    yield 'bool', np.array([True, False, True])
    for t in ('i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8'):
        yield t, np.array([0, 1, -1 if t[0] == 'i' else 200, 7, 100], dtype=t)
    yield 'f2', np.array([1.5, -0.0, np.inf, 65504.0], dtype='f2')
    yield 'f4', np.array([1.25, np.nan, -3e38], dtype='f4')
    yield 'f8', np.array([np.pi, -0.0, 1e300, np.nan], dtype='f8')
    yield 'f16', np.array([1.5, -2.25], dtype=np.longdouble)
    yield 'c8', np.array([1 + 2j, -3.5j], dtype='c8')
    yield 'c16', np.array([1 + 2j, np.inf - 1j], dtype='c16')
    yield 'be_f8', np.array([1.5, -2.0, 3.25], dtype='>f8')
    yield 'be_i2', np.array([1, -2, 300], dtype='>i2')
    yield 'be_c16', np.array([1 + 2j], dtype='>c16')
    yield 'be_u8', np.array([2 ** 63 + 5], dtype='>u8')
    yield 'U3', np.array(['ab', 'xyz', '', '\u00e9\u4e2d\U0001f600'[:3]], dtype='U3')
    yield 'be_U2', np.array(['hi', '\u00e9'], dtype='>U2')
    yield 'S4', np.array([b'ab', b'abcd', b''], dtype='S4')
    yield 'V3', np.array([b'\x01\x02\x03', b'\xff\x00\x10'], dtype='V3')
    yield 'struct', np.array([(1, 2.5), (-3, 1e10)], dtype=[('a', 'i1'), ('b', '<f8')])
    yield 'struct_aligned', np.array([(1, 2.5, 'x')], dtype=np.dtype([('a', 'i4'), ('b', 'f8'), ('c', 'U2')], align=True))
    yield 'struct_titles', np.array([(7, [[1, 2, 3], [4, 5, 6]])], dtype=[(('T', 'a'), '<i4'), ('bc', '<f4', (2, 3))])
    yield 'struct_nested', np.array([((1, 2), b'zz'), ((3, -4), b'y')], dtype=[('n', [('p', '<u2'), ('q', '>i8')]), ('s', 'S2')])
    yield 'struct_offsets', np.zeros(2, dtype={'names': ['x', 'y'], 'formats': ['u1', '>f4'], 'offsets': [0, 4], 'itemsize': 12})
    yield 'M8_ns', np.array(['2020-01-01T00:00:00.123456789', 'NaT'], dtype='M8[ns]')
    yield 'm8_2s', np.array([4, -6], dtype='m8[2s]')
    yield 'M8_generic', np.array(['NaT'], dtype='M8')
    yield 'object', np.array([1, 'x', None, 2.5, b'b', True], dtype=object)


def layout_zoo():
    a = np.arange(24, dtype='<i4').reshape(2, 3, 4)
    yield 'c3d', a
    yield 'f3d', np.asfortranarray(a)
    yield 'transposed3d', a.transpose(1, 0, 2)  # neither C nor F: the _reconstruct form, C order
    yield 'strided', a[:, ::2, 1:3]
    yield 'zero_d', np.array(2.5)
    yield 'empty', np.zeros((0,), dtype='f8')
    yield 'empty2d', np.zeros((3, 0), dtype='i2')
    yield 'f_of_struct', np.asfortranarray(np.zeros((2, 2), dtype=[('a', 'i2'), ('b', 'S1')]))
    yield 'ones', np.ones((1, 5, 1), dtype='u2')
    yield 'object2d_f', np.asfortranarray(np.array([[1, 'a'], [None, 2.0]], dtype=object))


def scalar_zoo():
    return [np.float64(1.5), np.int8(-3), np.uint64(2 ** 64 - 1), np.bool_(True), np.float16(0.5), np.complex64(1 - 1j),
            np.str_('ab\u00e9'), np.bytes_(b'xy'), np.void(b'\x01\x02'), np.datetime64('2020-02-03', 'D'),
            np.array([(1, 2.0)], dtype=[('a', 'i1'), ('b', '>f8')])[0]]


def fixtures():
    """Yields (name, pickle bytes, buffers or None, encoding, root kind)."""
    for tag, arrays in (('dtypes', list(dtype_zoo())), ('layouts', list(layout_zoo()))):
        objs = [a for _, a in arrays]
        for proto in (0, 1, 2, 3, 4, 5):
            yield '%s_p%d' % (tag, proto), pickle.dumps(objs, proto), None, 'ascii', 'list'
        bufs = []
        data = pickle.dumps(objs, 5, buffer_callback=lambda b: bufs.append(b.raw().tobytes()) or False)
        yield '%s_oob' % tag, data, bufs, 'ascii', 'list'
    for proto in (2, 4, 5):
        yield 'scalars_p%d' % proto, pickle.dumps(scalar_zoo(), proto), None, 'ascii', 'list'
        yield 'dtypes_only_p%d' % proto, pickle.dumps([a.dtype for _, a in dtype_zoo()], proto), None, 'ascii', 'list'
    # A read-only array (bytes in-band, READONLY_BUFFER out-of-band) and a matrix subclass.
    ro = np.arange(4, dtype='<f4')
    ro.flags.writeable = False
    yield 'readonly_p5', pickle.dumps(ro, 5), None, 'ascii', 'single'
    bufs = []
    yield 'readonly_oob', pickle.dumps(ro, 5, buffer_callback=lambda b: bufs.append(b.raw().tobytes()) or False), bufs, 'ascii', 'single'
    yield 'matrix_p4', pickle.dumps(np.matrix([[1, 2], [3, 4]], dtype='i8'), 4), None, 'ascii', 'single'
    yield 'recarray_p2', pickle.dumps(np.rec.array([(1, 2.0)], dtype=[('a', 'i4'), ('b', 'f8')]), 2), None, 'ascii', 'single'
    # numpy 2's module names, written through stand-ins (numpy 1.24 cannot write them).
    for proto in (4, 5):
        f = io.BytesIO()
        Numpy2Names(f, proto).dump([np.arange(6, dtype='<i8').reshape(2, 3), np.asfortranarray(np.ones((2, 2)))])
        yield 'numpy2_names_p%d' % proto, f.getvalue(), None, 'ascii', 'list'
    yield 'internal_reconstruct_p2', with_names(pickle.dumps(np.arange(3, dtype='i2'), 2),
                                                [(b'numpy.core.multiarray\n_reconstruct', b'numpy.core._internal\n_reconstruct')]), \
        None, 'ascii', 'single'
    # The 'K' form (numpy PR #28105): in-band and out-of-band.
    base = np.arange(24, dtype='<f8').reshape(2, 3, 4)
    data, _ = k_form(base.transpose(2, 0, 1), (2, 0, 1))
    yield 'k_order_p5', data, None, 'ascii', 'single'
    data, bufs = k_form(base.transpose(1, 2, 0), (1, 2, 0), oob=True)
    yield 'k_order_oob', data, bufs, 'ascii', 'single'
    # Python 2 era: Python 2 strs for typestr, byte order and rawdata; ('f8', 0, 1).
    for name, arr in (('f8', np.array([1.5, -2.0, 1e-300])), ('be_i4', np.array([1, 2, 70000], dtype='>i4')),
                      ('f_order', np.asfortranarray(np.arange(6, dtype='<u2').reshape(2, 3))),
                      ('u1_high', np.array([0, 127, 128, 255], dtype='u1'))):
        yield 'py2_%s_latin1' % name, py2_array(arr), None, 'latin1', 'single'
    yield 'py2_f8_bytes', py2_array(np.array([1.5, 2.5])), None, 'bytes', 'single'
    yield 'py2_no_version', py2_array(np.array([3, 4], dtype='<i2'), with_version=False), None, 'latin1', 'single'
    # Old dtype states: version 1 with 6 items (names under fields[-1]), and 5 items (no version).
    raw = np.array([1.0, 2.0]).tobytes()
    for tag, state in (('dtype_v1_6', [I(1), S('<'), NONE, NONE, I(-1), I(-1)]),
                       ('dtype_v0_5', [S('<'), NONE, NONE, I(-1), I(-1)])):
        dt = G('numpy', 'dtype') + S('f8') + I(0) + I(1) + b'\x87R' + b'(' + b''.join(state) + b'tb'
        data = (b'\x80\x02' + G('numpy.core.multiarray', '_reconstruct') + G('numpy', 'ndarray') + I(0) + b'\x85' + S('b')
                + b'\x87R' + T(I(1), T(I(2)), dt, b'\x89', S(raw)) + b'b.')
        yield tag, data, None, 'latin1', 'single'
    # A version 1 structured dtype: names as fields[-1].
    fields = (b'}(' + S('a') + T(py2_dtype('i1', '|'), I(0)) + S('b') + T(py2_dtype('f8', '<'), I(1))
              + I(-1) + T(S('a'), S('b')) + b'u')
    dt = G('numpy', 'dtype') + S('V9') + I(0) + I(1) + b'\x87R' + T(I(1), S('|'), NONE, fields, I(9), I(1)) + b'b'
    raw = np.array([(5, 0.25)], dtype=[('a', 'i1'), ('b', '<f8')]).tobytes()
    data = (b'\x80\x02' + G('numpy.core.multiarray', '_reconstruct') + G('numpy', 'ndarray') + I(0) + b'\x85' + S('b')
            + b'\x87R' + T(I(1), T(I(1)), dt, b'\x89', S(raw)) + b'b.')
    yield 'dtype_v1_struct', data, None, 'latin1', 'single'


def head_reconstruct(dt_pickle, shape, raw, fortran=b'\x89', version=1):
    state = [T(*[I(x) for x in shape]), dt_pickle, fortran, S(raw)]
    if version is not None:
        state.insert(0, I(version))
    return (b'\x80\x02' + G('numpy.core.multiarray', '_reconstruct') + G('numpy', 'ndarray') + I(0) + b'\x85' + S('b')
            + b'\x87R' + T(*state) + b'b.')


def rejects():
    """(name, pickle, encoding, errc name, message substring, whether numpy may load it)."""
    f8 = py2_dtype('f8', '<')
    yield 'n_size_mismatch', head_reconstruct(f8, (3,), b'\0' * 16), 'latin1', 'type_mismatch', 'buffer size does not match', True
    yield 'n_bad_typestr', head_reconstruct(py2_dtype('x4', '<'), (1,), b'\0' * 4), 'latin1', 'type_mismatch', 'unknown dtype typestr', True
    yield 'n_bad_endian', head_reconstruct(py2_dtype('f8', '?'), (1,), b'\0' * 8), 'latin1', 'type_mismatch', 'byte order', False  # numpy takes any character
    yield 'n_array_version', head_reconstruct(f8, (1,), b'\0' * 8, version=2), 'latin1', 'type_mismatch', "can't handle version 2", True
    yield 'n_dtype_version', head_reconstruct(py2_dtype('f8', '<', version=7), (1,), b'\0' * 8), 'latin1', 'type_mismatch', "can't handle version 7", True
    yield 'n_negative_dim', head_reconstruct(f8, (1,), b'\0' * 8).replace(b'(K\x01t', b'(J\xff\xff\xff\xfft', 1), 'latin1', \
        'type_mismatch', 'impossible dimension', True
    yield 'n_not_numpy', b'\x80\x02' + G('collections', 'OrderedDict') + b')R.', 'ascii', 'type_mismatch', \
        'expected a numpy array', False
    obj = G('numpy', 'dtype') + S('O8') + I(0) + I(1) + b'\x87R' + T(I(3), S('|'), NONE, NONE, NONE, I(-1), I(-1), I(63)) + b'b'
    yield 'n_object_not_list', head_reconstruct(obj, (1,), b'\0' * 8), 'latin1', 'type_mismatch', \
        'object pickle not returning list', True
    # A field past the itemsize: numpy 1.24 accepts this dtype (and reads past the element).
    bad = (G('numpy', 'dtype') + S('V4') + I(0) + I(1) + b'\x87R'
           + T(I(3), S('|'), NONE, T(S('a')), b'}' + S('a') + T(f8, I(0)) + b's', I(4), I(1), I(16)) + b'b')
    yield 'n_field_past_itemsize', head_reconstruct(bad, (1,), b'\0' * 4), 'latin1', 'type_mismatch', 'extends past', False
    # Nesting deeper than limits::max_dtype_depth (numpy accepts it).
    dt = py2_dtype('i1', '|')
    for _ in range(40):
        dt = (G('numpy', 'dtype') + S('V1') + I(0) + I(1) + b'\x87R'
              + T(I(3), S('|'), NONE, T(S('a')), b'}' + S('a') + T(dt, I(0)) + b's', I(1), I(1), I(16)) + b'b')
    yield 'n_dtype_depth', head_reconstruct(dt, (1,), b'\0'), 'latin1', 'limit_exceeded', 'nesting deeper', False
    # A dtype DAG: every level has two fields of the level below (2^20 fields counted with repetition).
    dt = py2_dtype('i1', '|') + b'q\x01'
    for k in range(2, 22):
        dt = (G('numpy', 'dtype') + S('V1') + I(0) + I(1) + b'\x87R'
              + T(I(3), S('|'), NONE, T(S('a'), S('b')),
                  b'}(' + S('a') + T(dt, I(0)) + S('b') + T(b'h' + bytes([k - 1]), I(0)) + b'u', I(1), I(1), I(16))
              + b'b' + b'q' + bytes([k]))
    yield 'n_dtype_dag', head_reconstruct(dt, (1,), b'\0'), 'latin1', 'limit_exceeded', 'fields counted with repetition', False
    a = np.arange(6, dtype='<f8')
    yield 'n_frombuffer_shape', pickle.dumps(a, 5).replace(b'K\x06\x85', b'K\x07\x85'), 'ascii', 'type_mismatch', 'cannot reshape', True
    yield 'n_frombuffer_order', pickle.dumps(a, 5).replace(b'\x8c\x01C', b'\x8c\x01Z'), 'ascii', 'type_mismatch', "order is not 'C', 'F' or 'K'", True
    data, _ = k_form(np.arange(6.0).reshape(2, 3).T, (1, 0))
    yield 'n_k_axes', data.replace(b'K\x01K\x00\x86', b'K\x01K\x01\x86'), 'ascii', 'type_mismatch', "axes don't match array", True
    yield 'n_frombuffer_object', pickle.dumps(a, 5).replace(b'\x8c\x02f8', b'\x8c\x02O8'), 'ascii', 'type_mismatch', 'OBJECT array', False  # numpy trusts the pickled flags (0): pointers from bytes


# ---- encode vectors: arrays test_numpy.cpp builds from C++ data, as numpy pickles them ----------

def encode_cases():
    """(name, array); test_numpy.cpp builds the same arrays from C++ values (keep in sync)."""
    six = np.arange(6, dtype='<f8') * 1.5
    yield 'f8_c', six.reshape(2, 3)
    yield 'f8_f', np.asfortranarray(six.reshape(2, 3))
    yield 'i4_1d', np.arange(5, dtype='<i4') - 2
    yield 'u1_1d', np.array([0, 1, 128, 255], dtype='u1')
    yield 'b1_1d', np.array([True, False, True])
    yield 'c16_1d', np.array([1 + 2j, -0.5j], dtype='<c16')
    yield 'c8_2d_f', np.asfortranarray(np.array([[1 + 1j, 2], [3, 4j]], dtype='<c8'))
    yield 'f4_0d', np.array(2.5, dtype='<f4')
    yield 'i8_empty', np.zeros((0,), dtype='<i8')
    yield 'i2_2x0', np.zeros((2, 0), dtype='<i2')
    yield 'u8_3d_f', np.asfortranarray(np.arange(24, dtype='<u8').reshape(2, 3, 4))
    yield 'i1_1d', np.array([-128, 0, 127], dtype='i1')
    yield 'u2_1d', np.array([1, 65535], dtype='<u2')
    # chr() gives CPython's 1-character singletons, which brine writes once (as the corpus shows);
    # a literal 'b' may be another object, depending on the interpreter's interning history.
    yield 'struct_ib', np.array([(1, 2.5), (-3, 1e10)], dtype=[(chr(97), 'i1'), (chr(98), '<f8')])
    yield 'U3_1d', np.array(['ab', 'xyz'], dtype='<U3')
    yield 'M8_D', np.array(['2020-01-01', '1970-01-02'], dtype='<M8[D]')
    yield 'be_f8', np.array([1.5, -2.0], dtype='>f8')


def encode_vectors(out):
    lines = ['// Generated by tests/numpy/gen_fixtures.py: numpy %s, CPython %s pickle.dumps; name, protocol, oob, hex.'
             % (np.__version__, sys.version.split()[0])]
    for name, a in encode_cases():
        for proto in range(6):
            lines.append('    {"%s", %d, false, "%s"},' % (name, proto, pickle.dumps(a, proto).hex()))
        lines.append('    {"%s", 5, true, "%s"},' % (name, pickle.dumps(a, 5, buffer_callback=lambda b: False).hex()))
    write(out, ('\n'.join(lines) + '\n').encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(HERE, 'data'))
    ap.add_argument('--corpus', default=os.path.join(ROOT, 'conformance', 'corpus'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for old in set(glob.glob(os.path.join(args.out, '*.pkl')) + glob.glob(os.path.join(args.out, '*.buf*')) + \
            glob.glob(os.path.join(args.out, '*.expect')) + glob.glob(os.path.join(args.out, 'corpus', '*.expect')) + \
            glob.glob(os.path.join(args.out, '*.inc')) + glob.glob(os.path.join(args.out, 'readme_*'))):
        os.remove(old)

    count = 0
    for name, data, bufs, encoding, root_kind in fixtures():
        write(os.path.join(args.out, name + '.pkl'), data)
        for i, b in enumerate(bufs or []):
            write(os.path.join(args.out, '%s.buf%d' % (name, i)), b)
        lines = expectation('tests/numpy/data/%s.pkl' % name, data, bufs, encoding, root_kind)
        write(os.path.join(args.out, name + '.expect'), (HEADER + '\n'.join(lines) + '\n').encode())
        count += 1

    for rej in rejects():
        name, data, encoding, code, message, numpy_may_load = rej
        if numpy_may_load:
            try:
                load(data, None, encoding)
            except Exception:
                pass
            else:
                raise SystemExit('numpy loads %s, which brine must reject' % name)
        write(os.path.join(args.out, name + '.pkl'), data)
        lines = ['pickle tests/numpy/data/%s.pkl buffers=0 encoding=%s root=single' % (name, encoding),
                 'error %s %s' % (code, hx(message))]
        write(os.path.join(args.out, name + '.expect'), (HEADER + '\n'.join(lines) + '\n').encode())
        count += 1

    # The conformance corpus: expectations for every numpy pickle in it.
    os.makedirs(os.path.join(args.out, 'corpus'), exist_ok=True)
    for d in sorted(glob.glob(os.path.join(args.corpus, 'cpython-*-numpy'))):
        for pkl in sorted(glob.glob(os.path.join(d, '*.pkl'))):
            stem = os.path.basename(pkl)[:-4]
            data = open(pkl, 'rb').read()
            bufs = [open(b, 'rb').read() for b in sorted(glob.glob(pkl[:-4] + '.buf*'), key=lambda p: int(p.rsplit('buf', 1)[1]))]
            rel = os.path.relpath(pkl, ROOT)
            lines = expectation(rel, data, [bytearray(b) for b in bufs] if bufs else None, 'ascii', 'list')
            out = os.path.join(args.out, 'corpus', '%s-%s.expect' % (os.path.basename(d), stem))
            write(out, (HEADER + '\n'.join(lines) + '\n').encode())
            count += 1
    encode_vectors(os.path.join(args.out, 'encode_vectors.inc'))
    # The README snippet's request (what a Python client sends) and numpy's pickle of its answer.
    request = np.arange(6, dtype='<f8').reshape(2, 3)
    write(os.path.join(args.out, 'readme_request.pkl'), pickle.dumps(request, protocol=5))
    write(os.path.join(args.out, 'readme_reply.pkl'), pickle.dumps(request * 2, protocol=5))
    print('wrote %d expectation files and encode_vectors.inc' % count)


if __name__ == '__main__':
    main()
