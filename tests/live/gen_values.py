# -*- coding: utf-8 -*-
"""Values for the live CPython differential test; runs under CPython 2.7 and 3.6 to 3.13.

    python gen_values.py generate OUTDIR [--seed S] [--count N]
    python gen_values.py check OUTDIR CHECKS.json [--seed S] [--count N]
    python3 gen_values.py corpus-check CHECKS.json

generate: builds the values (fixed edge cases, then N random ones from a seeded RNG: same seed,
same interpreter, same values), and for each value and each protocol this interpreter supports
writes OUTDIR/<name>.p<proto>.pkl = pickle.dumps(value, proto). On 3.8+ a value holding bytes or
bytearray also gets a PEP 574 variant in which some of them are wrapped in pickle.PickleBuffer:
OUTDIR/<name>.oob.pkl (buffer_callback returning False, buffers in OUTDIR/<name>.oob.buf<i>) and
OUTDIR/<name>.inband.pkl (no callback). OUTDIR/manifest.json lists everything. (The PickleBuffer
variants are loaded back first; one CPython itself cannot round-trip is not written.)

check: regenerates the same values and, for each entry of CHECKS.json (written by
live_cpython.py), loads brine's output with this interpreter and compares it with the value; the
comparison (`compare`) checks types, values (NaN equals NaN, -0.0 differs from 0.0) and the
sharing structure (the identity pattern, cycles included). A mismatch is re-tried with CPython's
own dumps/loads at that protocol, and the report says when CPython fails the same way. Prints a
JSON report.

corpus-check: for conformance-corpus pickles, loads the original and brine's re-encoding with an
Unpickler whose find_class returns the real object only for a short list of harmless stdlib
names and an inert stub class for everything else (classes of the generator's __main__, numpy,
...), then compares the two loaded graphs, stubs included (their constructor arguments, what
BUILD/APPEND(S)/SETITEM(S)/ADDITEMS applied to them and the stub calls they were passed to, which
is where a state_setter's effect shows).

On Python 2 the values include Python 2 `str`; live_cpython.py has brine decode those pickles with
encoding='bytes', so they come back as `str` through _codecs.encode(unicode, 'latin1').

Environment: run with PYTHONHASHSEED=0 (sets and dicts of ints do not depend on it; the values
avoid sets of str).
"""
from __future__ import absolute_import, division, print_function

import io
import json
import math
import os
import pickle
import random
import struct
import sys

PY2 = sys.version_info[0] == 2
if PY2:
    import cPickle as pickle  # noqa: F811 - the C pickler, as pickle.dumps is on Python 3
HAS_PB = hasattr(pickle, 'PickleBuffer')  # 3.8+

if PY2:
    text_type = unicode  # noqa: F821
    bytes_type = str
    int_types = (int, long)  # noqa: F821
    unichr_ = unichr  # noqa: F821
else:
    text_type = str
    bytes_type = bytes
    int_types = (int,)
    unichr_ = chr

if hasattr(sys, 'set_int_max_str_digits'):
    sys.set_int_max_str_digits(0)

HIGHEST = pickle.HIGHEST_PROTOCOL
DEFAULT_SEED = 20240601
DEFAULT_COUNT = 160


def to_int(v):
    """An int of the interpreter's natural type (Python 2: int when it fits, long otherwise)."""
    return int(v)


# --- generation ------------------------------------------------------------------------------------

class Gen(object):
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.pool = []  # shareable objects already made (str, bytes, bytearray, tuples, lists, dicts)

    # scalars
    def int_(self):
        r = self.rng
        k = r.randrange(12)
        if k == 0:
            return to_int(r.randrange(256))
        if k == 1:
            return to_int(r.randrange(256, 65536))
        if k == 2:
            return to_int(r.randrange(65536, 2 ** 31))
        if k == 3:
            return to_int(-r.randrange(1, 2 ** 31 + 1))
        if k == 4:
            return to_int(r.choice([0, 1, -1, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -2 ** 31,
                                    -2 ** 31 - 1, 2 ** 32, 2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1,
                                    2 ** 64, -2 ** 64, 2 ** 2000, -2 ** 2000, 2 ** 2040 - 1]))
        if k == 5:
            return to_int(r.randrange(2 ** 31, 2 ** 63) * r.choice([1, -1]))
        if k == 6:
            return to_int(r.getrandbits(r.randrange(64, 300)) * r.choice([1, -1]))
        if k == 7:
            return to_int(r.getrandbits(r.randrange(300, 2100)) * r.choice([1, -1]))
        if k == 8:  # sign-trim cases: -(256**n)/2 and neighbours
            n = r.randrange(1, 40)
            return to_int(-(256 ** n) // 2 + r.choice([-1, 0, 1]))
        if k == 9:
            n = r.randrange(1, 300)
            return to_int((256 ** n) // 2 + r.choice([-1, 0, 1]))
        return to_int(r.randrange(-1000, 1000))

    def float_(self):
        r = self.rng
        k = r.randrange(10)
        if k == 0:
            return r.choice([float('nan'), float('inf'), float('-inf'), -0.0, 0.0])
        if k == 1:
            return r.choice([5e-324, -5e-324, 2.2250738585072009e-308, 2.2250738585072014e-308,
                             1.7976931348623157e308, 1e16, 1e-5, 0.1, 1.0 / 3, 1e100, 123456789.0])
        if k == 2:  # random subnormal
            return struct.unpack('>d', struct.pack('>Q', r.getrandbits(52) | (r.getrandbits(1) << 63)))[0]
        if k == 3:  # random finite bits
            while True:
                x = struct.unpack('>d', struct.pack('>Q', r.getrandbits(64)))[0]
                if not (math.isnan(x) or math.isinf(x)):
                    return x
        if k == 4:
            return float(r.randrange(-10 ** 6, 10 ** 6))
        return r.uniform(-1e6, 1e6) * r.choice([1, 1e-300, 1e300, 1e-10])

    def text(self, n=None):
        r = self.rng
        if n is None:
            n = r.choice([0, 1, 1, 2, 3, 5, 8, 13, 40, r.randrange(250, 260), r.randrange(0, 600)])
        kinds = ['ascii', 'ascii', 'special', 'latin1', 'bmp', 'astral']
        if not PY2:
            kinds.append('surrogate')
        style = r.choice(kinds + ['mixed'])
        chars = []
        for _ in range(n):
            s = style if style != 'mixed' else r.choice(kinds)
            if s == 'ascii':
                c = r.randrange(0x20, 0x7f)
            elif s == 'special':
                c = r.choice([0, 10, 13, 0x1a, 0x5c, 0x27, 0x22, 9, 0x7f, 0x20])
            elif s == 'latin1':
                c = r.randrange(0x80, 0x100)
            elif s == 'bmp':
                c = r.randrange(0x100, 0x10000)
                while 0xd800 <= c < 0xe000:
                    c = r.randrange(0x100, 0x10000)
            elif s == 'astral':
                c = r.randrange(0x10000, 0x110000)
            else:
                c = r.randrange(0xd800, 0xe000)
            chars.append(unichr_(c))
        t = u''.join(chars)
        self.pool.append(t)
        return t

    def bytes_(self, n=None):
        r = self.rng
        if n is None:
            n = r.choice([0, 1, 2, 3, 10, 40, r.randrange(250, 260), r.randrange(0, 600)])
        b = bytes_type(bytearray(r.getrandbits(8) for _ in range(n)))
        self.pool.append(b)
        return b

    def bytearray_(self):
        r = self.rng
        n = r.choice([0, 1, 5, 300])
        b = bytearray(r.getrandbits(8) for _ in range(n))
        self.pool.append(b)
        return b

    def leaf(self):
        r = self.rng
        k = r.randrange(11)
        if k == 0:
            return None
        if k == 1:
            return r.choice([True, False])
        if k in (2, 3):
            return self.int_()
        if k == 4:
            return self.float_()
        if k in (5, 6):
            return self.text()
        if k == 7:
            return self.bytes_()
        if k == 8:
            return self.bytearray_()
        if k == 9 and self.pool:
            return r.choice(self.pool)  # sharing
        return self.text(r.randrange(0, 4))

    def key(self, depth=0):
        """A hashable value (no NaN: it would not find itself)."""
        r = self.rng
        k = r.randrange(8)
        if k == 0:
            return None
        if k == 1:
            return r.choice([True, False])
        if k == 2:
            return self.int_()
        if k == 3:
            x = self.float_()
            return 0.5 if math.isnan(x) else x
        if k == 4:
            return self.bytes_(r.randrange(0, 8))
        if k == 5 and depth < 2:
            return tuple(self.key(depth + 1) for _ in range(r.randrange(0, 4)))
        if k == 6 and depth < 2:
            return frozenset(self.int_() for _ in range(r.randrange(0, 4)))
        return self.text(r.randrange(0, 12))

    def int_set(self, big=False):
        r = self.rng
        n = r.choice([1000, 1001, 2000]) if big else r.choice([0, 1, 2, 3, 7, 20])
        items = [self.int_() if r.random() < 0.8 else r.randrange(-5, 5) for _ in range(n)]
        if big:
            items = [to_int(i) for i in range(n)]
        if r.random() < 0.3 and not big:
            items += [frozenset(self.int_() for _ in range(r.randrange(0, 3)))]
        return items

    def value(self, depth):
        r = self.rng
        if depth <= 0 or r.random() < 0.25:
            return self.leaf()
        k = r.randrange(12)
        if k == 0 and self.pool:
            return r.choice(self.pool)
        if k in (1, 2):
            n = r.choice([0, 1, 2, 3, 4, 5, 8])
            t = tuple(self.value(depth - 1) for _ in range(n))
            if t:
                self.pool.append(t)
            return t
        if k in (3, 4, 5):
            n = r.choice([0, 1, 2, 3, 5, 9, 12])
            lst = [self.value(depth - 1) for _ in range(n)]
            self.pool.append(lst)
            return lst
        if k in (6, 7, 8):
            d = {}
            for _ in range(r.choice([0, 1, 2, 3, 6, 10])):
                d[self.key()] = self.value(depth - 1)
            self.pool.append(d)
            return d
        if k == 9:
            s = set(self.int_set())
            self.pool.append(s)
            return s
        if k == 10:
            s = frozenset(self.int_set())
            self.pool.append(s)
            return s
        if k == 11 and r.random() < 0.3:  # big containers (batching: 1000 per batch)
            kind = r.randrange(5)
            if kind == 0:
                return list(range(r.choice([999, 1000, 1001, 2000, 2001])))
            if kind == 1:
                return dict((to_int(i), None) for i in range(r.choice([999, 1000, 1001, 2000])))
            if kind == 2:
                return set(self.int_set(big=True))
            if kind == 3:
                return frozenset(self.int_set(big=True))
            return [self.value(depth - 1) for _ in range(r.randrange(20, 60))]
        return self.leaf()

    def add_cycles(self, v):
        """Make some lists/dicts of `v` refer to themselves, to `v`, or through a tuple."""
        r = self.rng
        lists, dicts = [], []
        collect(v, lists, dicts)
        if lists and r.random() < 0.5:
            x = r.choice(lists)
            x.append(r.choice([x, v]))
        if dicts and r.random() < 0.5:
            x = r.choice(dicts)
            x[u'self'] = r.choice([x, v])
        if lists and r.random() < 0.3:
            x = r.choice(lists)
            t = (x, r.choice([1, u'a', None]))
            x.append(t)  # recursive tuple: list -> tuple -> list
        return v


def collect(v, lists, dicts):
    seen = set()
    stack = [v]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        t = type(x)
        if t is list:
            if len(x) < 100:
                lists.append(x)
            stack.extend(x)
        elif t is dict:
            if len(x) < 100:
                dicts.append(x)
            stack.extend(x.values())
        elif t is tuple:
            stack.extend(x)


def fixed_values():
    """Hand-picked edge cases (name, value)."""
    out = []
    add = lambda name, v: out.append((name, v))  # noqa: E731
    add('none', None)
    add('bools', [True, False])
    ints = [0, 1, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -1, -255, -256, -2 ** 31, -2 ** 31 - 1,
            2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1, 2 ** 64, -2 ** 64, 2 ** 64 - 1, 2 ** 2000,
            -2 ** 2000, 256 ** 255 - 1, 256 ** 255, -(256 ** 255), -(256 ** 256) // 2, -128, -129, 127,
            128, -32768, -32769]
    add('ints', [to_int(i) for i in ints])
    add('int_huge', to_int(2 ** 2000))
    add('int_huge_neg', to_int(-2 ** 2000))
    add('floats', [0.0, -0.0, float('nan'), float('inf'), float('-inf'), 5e-324, -5e-324,
                   2.2250738585072009e-308, 1.7976931348623157e308, 0.1, 1e16, 1e-5, 1.5, -2.5e-300])
    s = u'a<\n>\\\x00\r\x1a\u1234' + unichr_(0x12345) + u"'\"\t\x7f\x80\xff"
    add('str_escapes', s)
    add('str_lengths', [u'', u'x', u'y' * 255, u'z' * 256, u'\xe9' * 128, u'\u20ac' * 85, u'\u20ac' * 86])
    if not PY2:
        add('str_surrogates', [u'\ud800', u'\udfff', u'a\udc80b', u'\ud83d\ude00', u'\ude00\ud83d'])
    add('bytes_lengths', [bytes_type(b''), bytes_type(b'x'), bytes_type(b'y' * 255), bytes_type(b'z' * 256),
                          bytes_type(bytearray(range(256)))])
    add('bytearrays', [bytearray(), bytearray(b'ab'), bytearray(range(256)) * 2])
    add('empties', [(), [], {}, set(), frozenset(), u'', bytes_type(b''), bytearray()])
    add('tuples', [(1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((),), (((1,),),)])
    sh = u'shared string'
    shl = [1, 2]
    shd = {u'k': shl}
    sht = (sh, shl)
    shb = bytes_type(b'shared bytes')
    add('sharing', [sh, sh, shl, shd, sht, shl, sht, shd, shb, shb, [shl, shl], (sh, sh)])
    rec = []
    rec.append(rec)
    add('cycle_list', rec)
    d = {}
    d[u'me'] = d
    add('cycle_dict', d)
    t = ([],)
    t[0].append(t)
    add('cycle_tuple', t)
    t3 = ([], 1, 2)
    t3[0].append(t3)
    add('cycle_tuple3', [t3, t3])
    t4 = ([], 1, 2, 3)
    t4[0].append(t4)
    add('cycle_tuple4', t4)
    a, b = [], []
    a.append(b)
    b.append(a)
    add('cycle_mutual', [a, b])
    dl = {}
    dl[u'l'] = [dl, (dl,)]
    add('cycle_dict_list_tuple', dl)
    add('list_sizes', [list(range(n)) for n in (0, 1, 2, 999, 1000, 1001, 2000, 2001)])
    add('dict_sizes', [dict((to_int(i), i) for i in range(n)) for n in (0, 1, 2, 999, 1000, 1001, 2000)])
    add('set_sizes', [set(range(n)) for n in (0, 1, 2, 999, 1000, 1001, 2000)])
    add('frozenset_sizes', [frozenset(range(n)) for n in (0, 1, 2, 1000, 1001)])
    add('memo_many', [u'm%d' % i for i in range(300)])
    add('memo_shared_many', [[u'm%d' % i for i in range(300)]] * 3)
    add('deep', nested(90))
    add('big_bytes', [bytes_type(b'x' * 65535), bytes_type(b'y' * 65536), 1])
    add('big_str', [u'a' * 65536, u'\u20ac' * 30000, 2])
    add('big_bytearray', [bytearray(b'q' * 70000), 3])
    add('frames_many', list(range(30000)))
    add('frames_mixed', [u'%d' % i for i in range(12000)])
    add('dict_keys', {None: 1, True: 2, 3: 3, 2.5: 4, u's': 5, bytes_type(b'b'): 6, (1, u'x'): 7,
                      frozenset([1, 2]): 8, -2 ** 70: 9, (): 10})
    return out


def nested(n):
    v = []
    for i in range(n):
        v = [v] if i % 3 else {u'k': v} if i % 3 == 1 else (v, i)
    return v


def make_values(seed, count):
    values = fixed_values()
    g = Gen(seed)
    for i in range(count):
        g.pool = g.pool[-30:]
        v = g.value(g.rng.randrange(1, 6))
        if g.rng.random() < 0.35:
            v = g.add_cycles(v)
        values.append(('r%03d' % i, v))
    return values


def with_buffers(v, seed):
    """A copy of `v` in which some bytes/bytearray items of lists and dict values are wrapped in
    PickleBuffer (bytes: read-only, bytearray: writable). Sharing and cycles are kept; every
    wrapped occurrence gets its own PickleBuffer. Returns (copy, number of wrapped items)."""
    rng = random.Random(seed)
    memo = {}
    count = [0]

    def leaf_in_container(x):
        if type(x) in (bytes_type, bytearray) and rng.random() < 0.7:
            count[0] += 1
            return pickle.PickleBuffer(x)
        return cp(x)

    def cp(x):
        t = type(x)
        if t not in (list, dict, tuple):
            return x
        if id(x) in memo:
            return memo[id(x)]
        if t is list:
            y = []
            memo[id(x)] = y
            y.extend(leaf_in_container(i) for i in x)
            return y
        if t is dict:
            y = {}
            memo[id(x)] = y
            for k, val in x.items():
                y[k] = leaf_in_container(val)
            return y
        items = [cp(i) for i in x]
        if id(x) in memo:  # made while copying the items (a recursive tuple)
            return memo[id(x)]
        y = tuple(items)
        memo[id(x)] = y
        return y

    return cp(v), count[0]


def fixed_buffer_values():
    if not HAS_PB:
        return []
    PB = pickle.PickleBuffer
    ro, rw = b'read-only bytes', bytearray(b'writable bytes')
    big = b'B' * 70000
    return [
        ('pb_basic', [PB(ro), PB(rw), PB(ro), PB(b''), PB(bytearray())]),
        ('pb_big', [PB(big), PB(bytearray(big)), PB(b'x' * 65535), 1]),
        ('pb_nested', {u'a': [PB(ro)], u'b': (PB(rw), 2)}),
    ]


def buffer_variants(values, seed):
    """[(name, value with PickleBuffers)] for the PEP 574 checks."""
    if not HAS_PB:
        return []
    out = []
    for i, (name, v) in enumerate(values):
        w, n = with_buffers(v, seed * 1000 + i)
        if n:
            out.append((name, w))
    return out + fixed_buffer_values()


# --- comparison ------------------------------------------------------------------------------------

def _is_tracked(x):
    t = type(x)
    if t in _UNTRACKED:
        return False
    if t is tuple and not x:
        return False  # () is never memoized
    if t in (text_type, bytes_type) and len(x) <= 1:
        return False  # the interpreter caches these: loads may merge equal ones
    if HAS_PB and t is pickle.PickleBuffer:
        return False  # out-of-band buffers are never memoized
    return True


def _float_same(x, y):
    if math.isnan(x) and math.isnan(y):
        return True
    return struct.pack('>d', x) == struct.pack('>d', y)


def _buffer_info(x):
    """(bytes, readonly) of a PickleBuffer, bytes, bytearray or memoryview."""
    m = memoryview(x.raw()) if HAS_PB and type(x) is pickle.PickleBuffer else memoryview(x)
    return m.tobytes(), m.readonly


def _short(x):
    r = repr(x)
    return r if len(r) < 80 else r[:77] + '...'


class Mismatch(Exception):
    pass


def where(path):
    """Format a lazy path: None (the root) or (parent, format, argument)."""
    parts = []
    while path is not None:
        path, fmt, arg = path
        parts.append(fmt % (_short(arg),) if '%' in fmt else fmt)
    return 'root' + ''.join(reversed(parts))


def at(path, text):
    return Mismatch('%s: %s' % (where(path), text))


_SCALARS = frozenset([type(None), bool] + list(int_types))
_UNTRACKED = frozenset([type(None), bool, float] + list(int_types))


def _plain_scalars(x, y):
    """True when x and y (lists or tuples) hold only None/bool/int and are equal, types included."""
    tx = set(map(type, x))
    if not tx <= _SCALARS or set(map(type, y)) != tx:
        return False
    if len(tx) > 1 and list(map(type, x)) != list(map(type, y)):
        return False
    return x == y


def compare(a, b, extra=None):
    """None when `b` is `a` as pickle would rebuild it (types, values, sharing, cycles), else a
    message naming the first difference. `extra(x, y, path, push)` compares types this function
    does not know; it returns True when it handled the pair."""
    amap, bmap = {}, {}
    stack = [(a, b, None)]
    push = stack.append
    alive = []  # temporaries made by `extra` must outlive the comparison: ids are compared

    try:
        while stack:
            item = stack.pop()
            alive.append(item)
            x, y, path = item
            if (type(x) not in _UNTRACKED or type(y) not in _UNTRACKED) and (_is_tracked(x) or _is_tracked(y)):
                ix, iy = id(x), id(y)
                mx, my = amap.get(ix), bmap.get(iy)
                if mx is not None or my is not None:
                    if mx != iy or my != ix:
                        raise Mismatch('sharing differs at %s' % where(path))
                    continue
                amap[ix] = iy
                bmap[iy] = ix
            _compare_one(x, y, path, push, extra)
    except Mismatch as e:
        return str(e)
    return None


def _compare_one(x, y, path, push, extra):
    t = type(x)
    if HAS_PB and t is pickle.PickleBuffer:
        if type(y) not in (bytes, bytearray, memoryview):
            raise at(path, 'PickleBuffer loaded as %s' % type(y).__name__)
        bx, rx = _buffer_info(x)
        by, ry = _buffer_info(y)
        if bx != by:
            raise at(path, 'buffer contents differ')
        if rx != ry:
            raise at(path, 'buffer readonly %s, loaded %s' % (rx, ry))
        return
    if PY2 and t in int_types and type(y) in int_types:
        if x != y:
            raise at(path, '%s != %s' % (_short(x), _short(y)))
        return
    if t is not type(y):
        if t is memoryview or type(y) is memoryview:
            if _buffer_info(x) == _buffer_info(y):
                return
        raise at(path, 'type %s, loaded %s (%s)' % (t.__name__, type(y).__name__, _short(y)))
    if t is float:
        if not _float_same(x, y):
            raise at(path, 'float %r, loaded %r' % (x, y))
        return
    if x is None or t is bool or t in int_types or t in (text_type, bytes_type, bytearray):
        if x != y:
            raise at(path, '%s, loaded %s' % (_short(x), _short(y)))
        return
    if t in (tuple, list):
        if len(x) != len(y):
            raise at(path, 'length %d, loaded %d' % (len(x), len(y)))
        if _plain_scalars(x, y):
            return
        for i in range(len(x) - 1, -1, -1):
            push((x[i], y[i], (path, '[%s]', i)))
        return
    if t is dict:
        _compare_dict(x, y, path, push)
        return
    if t in (set, frozenset):
        _compare_set(x, y, path, push)
        return
    if t is memoryview:
        if _buffer_info(x) != _buffer_info(y):
            raise at(path, 'memoryview differs')
        return
    if extra is not None and extra(x, y, path, push):
        return
    raise at(path, 'cannot compare type %s' % t.__name__)


def _compare_dict(x, y, path, push):
    if len(x) != len(y):
        raise at(path, 'dict size %d, loaded %d' % (len(x), len(y)))
    if not PY2 and _plain_scalars(list(x), list(y)) and _plain_scalars(list(x.values()), list(y.values())):
        return
    if not PY2:
        pairs = list(zip(x.items(), y.items()))
        for i in range(len(pairs) - 1, -1, -1):
            (kx, vx), (ky, vy) = pairs[i]
            push((vx, vy, (path, '[%s]', kx)))
            push((kx, ky, (path, '.key%s', i)))
        return
    # Python 2 dicts are unordered: pair the items by key.
    index = {}
    for k, v in y.items():
        index[k] = (k, v)
    for k, v in x.items():
        if k not in index:
            raise at(path, 'key %s missing after load' % _short(k))
        ky, vy = index[k]
        push((v, vy, (path, '[%s]', k)))
        push((k, ky, (path, '.key(%s)', k)))


def _compare_set(x, y, path, push):
    if len(x) != len(y):
        raise at(path, 'set size %d, loaded %d' % (len(x), len(y)))
    if set(map(type, x)) <= _SCALARS and set(map(type, y)) <= _SCALARS:
        if x != y:
            raise at(path, 'set items differ')
        return
    index = dict((e, e) for e in y)
    for e in x:
        if e not in index:
            raise at(path, 'item %s missing after load' % _short(e))
        push((e, index[e], (path, '{%s}', e)))


# --- subcommands -----------------------------------------------------------------------------------

def write_file(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def self_check(v, data, **kw):
    """Does this interpreter load its own pickle back as `v`? (None when it does)."""
    try:
        loaded = pickle.loads(data, **kw) if kw else pickle.loads(data)
    except Exception as e:  # noqa: BLE001
        return '%s: %s' % (type(e).__name__, e)
    return compare(v, loaded)


def cmd_generate(outdir, seed, count):
    if not os.path.isdir(outdir):
        os.makedirs(outdir)
    values = make_values(seed, count)
    manifest = {
        'version': '%d.%d.%d' % sys.version_info[:3],
        'highest': HIGHEST,
        'encoding': 'bytes' if PY2 else 'ascii',
        'values': [],
        'buffers': [],
        'excluded': [],
    }
    for name, v in values:
        entry = {'name': name, 'pickles': {}}
        for proto in range(HIGHEST + 1):
            try:
                data = pickle.dumps(v, proto)
            except Exception as e:  # noqa: BLE001
                manifest['excluded'].append('%s p%d: dumps: %s: %s' % (name, proto, type(e).__name__, e))
                continue
            fn = '%s.p%d.pkl' % (name, proto)
            write_file(os.path.join(outdir, fn), data)
            entry['pickles'][str(proto)] = fn
        manifest['values'].append(entry)
    for name, v in buffer_variants(values, seed):
        bufs = []

        def callback(pb):
            bufs.append(pb)
            return False
        data = pickle.dumps(v, 5, buffer_callback=callback)
        raws = [pb.raw() for pb in bufs]
        blobs = [m.tobytes() for m in raws]
        problem = self_check(v, data, buffers=[bytearray(b) for b in blobs])
        inband = pickle.dumps(v, 5)
        problem = problem or self_check(v, inband)
        if problem:
            manifest['excluded'].append('%s oob: CPython round trip: %s' % (name, problem))
            continue
        entry = {'name': name, 'oob': name + '.oob.pkl', 'inband': name + '.inband.pkl',
                 'buffers': [], 'readonly': [bool(m.readonly) for m in raws]}
        write_file(os.path.join(outdir, entry['oob']), data)
        write_file(os.path.join(outdir, entry['inband']), inband)
        for i, b in enumerate(blobs):
            fn = '%s.oob.buf%d' % (name, i)
            write_file(os.path.join(outdir, fn), b)
            entry['buffers'].append(fn)
        manifest['buffers'].append(entry)
    with open(os.path.join(outdir, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=0, sort_keys=True)
    return 0


def cmd_check(outdir, checks_path, seed, count):
    """CHECKS.json: [[kind, name, pickle path, buffer dir or null, protocol], ...]; kind 'value'
    compares with the value, 'buffers' with its PickleBuffer variant (loading with the buffers of
    the directory, every one passed writable so that READONLY_BUFFER alone makes one read-only)."""
    with open(checks_path) as f:
        checks = json.load(f)
    values = make_values(seed, count)
    by_name = dict(values)
    by_name_pb = dict(buffer_variants(values, seed)) if HAS_PB else {}
    failures = []
    done = 0
    for kind, name, path, bufdir, proto in checks:
        expected = by_name[name] if kind == 'value' else by_name_pb[name]
        try:
            data = read_file(path)
            if bufdir is not None:
                bufs = []
                i = 0
                while os.path.exists(os.path.join(bufdir, 'buf%d' % i)):
                    bufs.append(bytearray(read_file(os.path.join(bufdir, 'buf%d' % i))))
                    i += 1
                loaded = pickle.loads(data, buffers=bufs)
            else:
                loaded = pickle.loads(data)
        except Exception as e:  # noqa: BLE001
            failures.append([path, 'load failed: %s: %s' % (type(e).__name__, e)])
            continue
        problem = compare(expected, loaded)
        if problem:
            if kind == 'value':  # is it CPython's own limit? (then brine is not to blame)
                own = self_check(expected, pickle.dumps(expected, proto))
                if own:
                    problem += " (CPython's own dumps/loads at protocol %d fails too: %s)" % (proto, own)
            failures.append([path, problem])
        done += 1
    sys.stdout.write(json.dumps({'checked': done, 'failures': failures}) + '\n')
    return 0


# --- corpus: stub unpickler ------------------------------------------------------------------------

REAL_GLOBALS = {
    'builtins': set(['bytes', 'bytearray', 'complex', 'dict', 'float', 'int', 'list', 'object', 'range',
                     'slice', 'str', 'tuple', 'set', 'frozenset', 'type', 'Ellipsis', 'NotImplemented',
                     'len', 'ValueError', 'KeyError', 'ImportError', 'ModuleNotFoundError', 'TypeError',
                     'Exception', 'bool']),
    'collections': set(['OrderedDict', 'Counter', 'UserDict', 'UserList', 'UserString', 'defaultdict',
                        'deque']),
    'datetime': set(['date', 'datetime', 'time', 'timedelta', 'timezone', 'tzinfo']),
    'decimal': set(['Decimal']),
    'fractions': set(['Fraction']),
    'uuid': set(['UUID', 'SafeUUID']),
    'functools': set(['partial', 'reduce']),
    '_functools': set(['reduce']),
    'math': set(['sqrt']),
    '_codecs': set(['encode']),
}


class StubMeta(type):
    """Metaclass of the stub classes: an unknown attribute of a stub class is a nested stub class
    (`getattr(Outer, 'Inner')` for nested qualnames)."""

    def __getattr__(cls, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return cls._stub_registry.get(cls._stub_module, cls._stub_name + '.' + name)


def _stub_ops(self):
    return self.__dict__.setdefault('_stub_ops', [])


class StubBase(object):
    """Records what the unpickler does: __new__ / __init__ arguments (NEWOBJ calls only the first,
    REDUCE both), BUILD (__setstate__), APPEND(S) (extend), SETITEM(S), ADDITEMS (add)."""

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.__dict__['_stub_new'] = (args, kwargs)
        _note_passed(cls, args, kwargs)
        return self

    def __init__(self, *args, **kwargs):
        self.__dict__['_stub_init'] = (args, kwargs)

    def __setstate__(self, state):
        _stub_ops(self).append(('build', state))

    def extend(self, items):
        o = _stub_ops(self)
        if o and o[-1][0] == 'items':
            o[-1][1].extend(items)
        else:
            o.append(('items', list(items)))

    def append(self, item):
        self.extend([item])

    def __setitem__(self, key, value):
        _stub_ops(self).append(('setitem', key, value))

    def add(self, item):
        _stub_ops(self).append(('add', item))

    def __call__(self, *args, **kwargs):
        _note_passed(self, args, kwargs)
        return StubCall(self, args, kwargs)

    def __getattr__(self, name):  # only for attributes not found otherwise (a bound method, ...)
        if name.startswith('_'):
            raise AttributeError(name)
        return StubAttr(self, name)


class StubCall(object):
    def __init__(self, callee, args, kwargs):
        self.callee, self.args, self.kwargs = callee, args, kwargs


class StubAttr(object):
    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __call__(self, *args, **kwargs):
        _note_passed(self, args, kwargs)
        return StubCall(self, args, kwargs)


def _note_passed(callee, args, kwargs):
    """Record on every stub object passed directly to a stub callable that it was: a call made
    only for its side effect (a state_setter: `setter obj state TUPLE2 REDUCE POP`) leaves no
    other trace in the loaded graph."""
    for i, a in enumerate(args):
        if isinstance(a, StubBase):
            _stub_ops(a).append(('passed to', callee, i))
    for k in sorted(kwargs):
        if isinstance(kwargs[k], StubBase):
            _stub_ops(kwargs[k]).append(('passed to', callee, k))


class PersId(object):
    def __init__(self, pid):
        self.pid = pid


class StubRegistry(object):
    def __init__(self):
        self.classes = {}

    def get(self, module, name):
        key = (module, name)
        if key not in self.classes:
            ns = {'_stub_module': module, '_stub_name': name, '_stub_registry': self,
                  '__module__': 'stub:' + module}
            self.classes[key] = StubMeta(str('Stub_' + name.replace('.', '_')), (StubBase,), ns)
        return self.classes[key]


def safe_getattr(obj, name, *default):
    """builtins.getattr for the stub unpickler: anything on stubs, no private names elsewhere."""
    if isinstance(obj, (StubMeta, StubBase)) or (name == '__new__' and isinstance(obj, type)):
        return getattr(obj, name, *default)
    if name.startswith('_'):
        raise AttributeError('live test: getattr(%r, %r) refused' % (obj, name))
    return getattr(obj, name, *default)


def make_stub_unpickler():
    """An Unpickler class (Python 3 only) with its own registry of stub classes."""
    import _compat_pickle
    registry = StubRegistry()

    class StubUnpickler(pickle.Unpickler):
        proto = 0

        def find_class(self, module, name):
            if self.proto < 3:
                if (module, name) in _compat_pickle.NAME_MAPPING:
                    module, name = _compat_pickle.NAME_MAPPING[(module, name)]
                elif module in _compat_pickle.IMPORT_MAPPING:
                    module = _compat_pickle.IMPORT_MAPPING[module]
            if module == 'builtins' and name == 'getattr':
                return safe_getattr
            if name in REAL_GLOBALS.get(module, ()):
                __import__(module)
                return getattr(sys.modules[module], name)
            return registry.get(module, name)

        def persistent_load(self, pid):
            return PersId(pid)

    return StubUnpickler, stub_extra


def stub_extra(x, y, path, push):
    """compare() for what the stub unpickler makes: stubs, globals, stdlib objects."""
    import collections
    import functools
    tx = type(x)
    if tx is not type(y):
        return False
    if isinstance(tx, StubMeta):
        dx, dy = dict(x.__dict__), dict(y.__dict__)
        for k in ('_stub_new', '_stub_init', '_stub_ops'):
            push((dx.pop(k, None), dy.pop(k, None), (path, '.' + k, None)))
        push((dx, dy, (path, '.__dict__', None)))
        return True
    if tx is StubCall:
        push(((x.callee, x.args, x.kwargs), (y.callee, y.args, y.kwargs), (path, '()', None)))
        return True
    if tx is StubAttr:
        push(((x.owner, x.name), (y.owner, y.name), (path, '.<attr>', None)))
        return True
    if tx is PersId:
        push((x.pid, y.pid, (path, '.pid', None)))
        return True
    if isinstance(x, type) or (callable(x) and not hasattr(x, '__dict__') and hasattr(x, '__name__')):
        if x is not y:
            raise at(path, '%r is not %r' % (x, y))
        return True
    if x is Ellipsis or x is NotImplemented:
        return True
    if isinstance(x, dict):
        push((dict(x), dict(y), (path, '(dict)', None)))
    elif isinstance(x, list):
        push((list(x), list(y), (path, '(list)', None)))
    elif isinstance(x, (set, frozenset)):
        push((set(x), set(y), (path, '(set)', None)))
    elif isinstance(x, collections.deque):
        push(((list(x), x.maxlen), (list(y), y.maxlen), (path, '(deque)', None)))
    elif isinstance(x, functools.partial):
        push(((x.func, x.args, x.keywords), (y.func, y.args, y.keywords), (path, '(partial)', None)))
    elif isinstance(x, BaseException):
        push((x.args, y.args, (path, '.args', None)))
    else:
        same = False
        try:
            same = bool(x == y)
        except Exception:  # noqa: BLE001
            pass
        if not same and repr(x) != repr(y):
            raise at(path, '%s != %s' % (_short(x), _short(y)))
    if hasattr(x, '__dict__') and not isinstance(x, type):
        push((dict(x.__dict__), dict(y.__dict__), (path, '.__dict__', None)))
    return True


def register_extension_codes(data):
    """Give every EXT code of `data` a name in copyreg, so that both loads resolve it alike, and
    empty the unpickler's extension cache (it would keep a previous pair's stub class)."""
    import copyreg
    import pickletools
    copyreg._extension_cache.clear()
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ('EXT1', 'EXT2', 'EXT4') and arg not in copyreg._inverted_registry:
                copyreg.add_extension('brine_live_ext', 'ext%d' % arg, arg)
    except Exception:  # noqa: BLE001 - pickletools rejects non-ASCII Python 2 STRING arguments
        pass


def cmd_corpus_check(checks_path):
    """CHECKS.json: [[original.pkl, [original buffers], brine.pkl, brine buffer dir or null,
    protocol, encoding], ...]."""
    with open(checks_path) as f:
        checks = json.load(f)
    failures = []
    done = 0
    for orig, orig_bufs, out, out_bufdir, proto, encoding in checks:
        Unpickler, extra = make_stub_unpickler()  # a fresh stub registry per pair
        results = []
        out_bufs = None
        if out_bufdir is not None:
            out_bufs = []
            while os.path.exists(os.path.join(out_bufdir, 'buf%d' % len(out_bufs))):
                out_bufs.append(read_file(os.path.join(out_bufdir, 'buf%d' % len(out_bufs))))
        orig_data = [read_file(b) for b in orig_bufs] if orig_bufs else None
        for path, bufs in ((orig, orig_data), (out, out_bufs)):
            try:
                data = read_file(path)
                register_extension_codes(data)
                kw = {'encoding': encoding}
                if bufs is not None:
                    kw['buffers'] = [bytearray(b) for b in bufs]
                u = Unpickler(io.BytesIO(data), **kw)
                u.proto = proto
                results.append(('ok', u.load()))
            except Exception as e:  # noqa: BLE001
                results.append(('error', '%s: %s' % (type(e).__name__, e)))
        (sa, a), (sb, b) = results
        if sa == 'error' and sb == 'error':
            if a != b:
                failures.append([out, 'original fails (%s), brine output fails differently (%s)' % (a, b)])
            else:
                failures.append([out, 'skipped: the original does not load with stubs (%s)' % a])
        elif sa == 'error':
            failures.append([out, 'skipped: the original does not load with stubs (%s)' % a])
        elif sb == 'error':
            failures.append([out, 'brine output does not load: %s' % b])
        else:
            problem = compare(a, b, extra)
            if problem:
                if '._stub_ops' in problem:
                    problem += (' (what was applied to the object differs: BUILD, APPEND(S), SETITEM(S),'
                                ' ADDITEMS, or a call it was passed to, e.g. a state_setter)')
                failures.append([out, problem])
        done += 1
    sys.stdout.write(json.dumps({'checked': done, 'failures': failures}) + '\n')
    return 0


def main(argv):
    args = [a for a in argv if not a.startswith('--')]
    opts = {}
    i = 0
    while i < len(argv):
        if argv[i] in ('--seed', '--count'):
            opts[argv[i][2:]] = int(argv[i + 1])
            args.remove(argv[i + 1])
            i += 2
        else:
            i += 1
    seed = opts.get('seed', DEFAULT_SEED)
    count = opts.get('count', DEFAULT_COUNT)
    if len(args) >= 2 and args[0] == 'generate':
        return cmd_generate(args[1], seed, count)
    if len(args) >= 3 and args[0] == 'check':
        return cmd_check(args[1], args[2], seed, count)
    if len(args) >= 2 and args[0] == 'corpus-check':
        return cmd_corpus_check(args[1])
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
