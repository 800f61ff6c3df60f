# -*- coding: utf-8 -*-
"""Write brine's conformance corpus for the interpreter that runs this file.

Usage: python gen_cases.py OUTDIR [--numpy]

Runs under CPython 2.7 and 3.6 to 3.13 (one source file; generate.py runs it under each installed
interpreter with PYTHONHASHSEED=0). For every case and every protocol the interpreter supports it
writes OUTDIR/<case>.p<proto>.pkl (made by the C pickler, `pickle.dumps` / `cPickle.dumps`), the
description OUTDIR/<case>.p<proto>.desc (docs/DESCRIBE.md) and the out-of-band buffers
OUTDIR/<case>.p<proto>.buf<i>.

The description is made here, by this interpreter, from the object it pickled: `Mirror` repeats the
C pickler's decisions (its `save` dispatch, memo, `__reduce_ex__` / copyreg dispatch table,
`save_reduce`, `save_global` with fix_imports) and builds the graph the unpickler will see, which
`describe_model.describe` then walks. Each written pickle is loaded back once and compared with the
original object.

Environment: BRINE_COMPAT_TABLES names a JSON file with Python 3's `_compat_pickle` load tables
(IMPORT_MAPPING, NAME_MAPPING), written by generate.py; Python 2 has no `_compat_pickle`.
"""
from __future__ import absolute_import, division, print_function

import collections
import datetime
import decimal
import fractions
import functools
import io
import json
import math
import os
import struct
import sys
import types
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import describe_model as dm  # noqa: E402

PY2 = sys.version_info[0] == 2
PYV = sys.version_info[:2]

if PY2:
    import cPickle as cpickle
    import copy_reg as copyreg
    text_type = unicode  # noqa: F821
    int_types = (int, long)  # noqa: F821
    string_types = (str, unicode)  # noqa: F821
    HIGHEST = 2
    PickleBuffer = None
    ClassType = types.ClassType
    InstanceType = types.InstanceType
else:
    import pickle as cpickle
    import copyreg
    import _compat_pickle
    text_type = str
    int_types = (int,)
    string_types = (str,)
    HIGHEST = cpickle.HIGHEST_PROTOCOL
    PickleBuffer = getattr(cpickle, 'PickleBuffer', None)
    ClassType = None
    InstanceType = None
    if hasattr(sys, 'set_int_max_str_digits'):
        sys.set_int_max_str_digits(0)

import codecs  # noqa: E402

sys.setrecursionlimit(20000)

NUMPY = '--numpy' in sys.argv
if NUMPY:
    import numpy as np
else:
    np = None

TABLES = None
if os.environ.get('BRINE_COMPAT_TABLES'):
    with open(os.environ['BRINE_COMPAT_TABLES']) as _f:
        TABLES = dm.load_tables(json.load(_f))


class NotPicklable(Exception):
    """The mirror found something the pickler refuses (the case is skipped at this protocol)."""


# =============================================================================================
# The mirror pickler
# =============================================================================================

def whichmodule(obj, name):
    module = getattr(obj, '__module__', None)
    if module is not None:
        return module
    for modname, mod in list(sys.modules.items()):
        if modname == '__main__' or mod is None:
            continue
        try:
            o = mod
            for part in name.split('.'):
                o = getattr(o, part)
            if o is obj:
                return modname
        except AttributeError:
            pass
    return '__main__'


def _utf8(s):
    if PY2 and isinstance(s, unicode):  # noqa: F821
        return s.encode('utf-8')
    if PY2:
        return s
    return s.encode('utf-8', 'surrogatepass')


class Mirror(object):
    """Builds the decoded graph for `obj` the way the C pickler of this interpreter writes it."""

    def __init__(self, proto, py2_encoding='ascii', persistent_id=None, oob=False):
        self.proto = proto
        self.py2_encoding = py2_encoding
        self.persistent_id = persistent_id
        self.oob = oob
        self.memo = {}
        self.nbuf = 0

    # --- memo
    def memoize(self, obj, node):
        self.memo[id(obj)] = (obj, node)
        return node

    # --- leaves
    def str_node(self, s):
        """A py3 str / py2 unicode, or a py2 str decoded as the case's `encoding` says."""
        if PY2 and isinstance(s, str):
            enc = self.py2_encoding
            if enc == 'bytes':
                return dm.Node(dm.BYTES, s)
            if enc == 'latin1':
                return dm.Node(dm.STR, s.decode('latin-1').encode('utf-8'))
            s.decode('ascii')  # raises for a case that needs another encoding
            return dm.Node(dm.STR, s)
        return dm.Node(dm.STR, _utf8(s))

    def float_node(self, x):
        if self.proto == 0:
            # FLOAT text: repr() then float(); NaN comes back as CPython 3's canonical NaN.
            if x != x:
                return dm.atom(dm.CANONICAL_NAN)
            return dm.atom(dm.float_token(float(repr(x))))
        return dm.atom(dm.float_token(x))

    # --- dispatch (Modules/_pickle.c save(); Python 2: Modules/cPickle.c save())
    def save(self, obj, pers_save=False):
        if self.persistent_id is not None and not pers_save:
            pid = self.persistent_id(obj)
            if pid is not None:
                return self.save_pers(pid)
        t = type(obj)
        if obj is None:
            return dm.NONE
        if t is bool:
            return dm.TRUE if obj else dm.FALSE
        if t in int_types:
            return dm.atom(dm.int_token(obj))
        if t is float:
            return self.float_node(obj)
        if t is tuple and len(obj) == 0:
            return dm.EMPTY_TUPLE
        if PY2 and t in (str, unicode) and len(obj) < 2:  # noqa: F821
            # cPickle writes 0- and 1-character strings without memo lookup or PUT.
            return self.str_node(obj)
        hit = self.memo.get(id(obj))
        if hit is not None:
            return hit[1]
        if PY2:
            return self.save_py2(obj, t)
        return self.save_py3(obj, t)

    def save_pers(self, pid):
        if self.proto == 0:
            # PERSID: the ASCII text of str(pid); the unpickler makes a fresh str from it.
            text = pid if isinstance(pid, string_types) else str(pid)
            if PY2 and isinstance(text, unicode):  # noqa: F821
                raise NotPicklable('persistent id must be a str at protocol 0')
            text.encode('ascii') if not PY2 else text.decode('ascii')
            return dm.Node(dm.PERSID, items=[dm.Node(dm.STR, _utf8(text))])
        return dm.Node(dm.PERSID, items=[self.save(pid, pers_save=True)])

    def save_py3(self, obj, t):
        if t is bytes:
            if self.proto < 3:
                if len(obj) == 0:
                    return self.save_reduce((bytes, ()), obj)
                return self.save_reduce((codecs.encode, (obj.decode('latin-1'), 'latin1')), obj)
            return self.memoize(obj, dm.Node(dm.BYTES, obj))
        if t is str:
            return self.memoize(obj, self.str_node(obj))
        if t is dict:
            node = self.memoize(obj, dm.Node(dm.DICT))
            for k, v in obj.items():
                node.items.append(self.save(k))
                node.items.append(self.save(v))
            return node
        if t is set:
            if self.proto < 4:
                return self.save_reduce((set, (list(obj),)), obj)
            node = self.memoize(obj, dm.Node(dm.SET))
            for x in obj:
                node.items.append(self.save(x))
            return node
        if t is frozenset:
            if self.proto < 4:
                return self.save_reduce(obj.__reduce__(), obj)
            items = [self.save(x) for x in obj]
            hit = self.memo.get(id(obj))
            if hit is not None:
                return hit[1]
            return self.memoize(obj, dm.Node(dm.FROZENSET, items=items))
        if t is list:
            node = self.memoize(obj, dm.Node(dm.LIST))
            for x in obj:
                node.items.append(self.save(x))
            return node
        if t is tuple:
            items = [self.save(x) for x in obj]
            hit = self.memo.get(id(obj))
            if hit is not None:
                return hit[1]
            return self.memoize(obj, dm.Node(dm.TUPLE, items=items))
        if t is bytearray and PYV >= (3, 8):
            if self.proto < 5:
                if len(obj) == 0:
                    return self.save_reduce((bytearray, ()), obj)
                return self.save_reduce((bytearray, (bytes(obj),)), obj)
            return self.memoize(obj, dm.Node(dm.BYTEARRAY, bytes(obj)))
        if PickleBuffer is not None and t is PickleBuffer:
            return self.save_picklebuffer(obj)
        if t is type:
            if obj is type(None):
                return self.save_reduce((type, (None,)), obj)
            if obj is type(Ellipsis):
                return self.save_reduce((type, (Ellipsis,)), obj)
            if obj is type(NotImplemented):
                return self.save_reduce((type, (NotImplemented,)), obj)
            return self.save_global(obj)
        if t is types.FunctionType:
            return self.save_global(obj)
        reduce = copyreg.dispatch_table.get(t)
        if reduce is not None:
            rv = reduce(obj)
        elif issubclass(t, type):
            return self.save_global(obj)
        else:
            rv = obj.__reduce_ex__(self.proto)
        if isinstance(rv, str):
            return self.save_global(obj, rv)
        return self.save_reduce(rv, obj)

    def save_py2(self, obj, t):
        if t is str or t is unicode:  # noqa: F821
            return self.memoize(obj, self.str_node(obj))
        if t is tuple:
            items = [self.save(x) for x in obj]
            hit = self.memo.get(id(obj))
            if hit is not None:
                return hit[1]
            return self.memoize(obj, dm.Node(dm.TUPLE, items=items))
        if t is list:
            node = self.memoize(obj, dm.Node(dm.LIST))
            for x in obj:
                node.items.append(self.save(x))
            return node
        if t is dict:
            node = self.memoize(obj, dm.Node(dm.DICT))
            for k, v in obj.iteritems():
                node.items.append(self.save(k))
                node.items.append(self.save(v))
            return node
        if t is InstanceType:
            return self.save_inst(obj)
        if t in (ClassType, types.FunctionType, types.BuiltinFunctionType, type):
            return self.save_global(obj)
        reduce = copyreg.dispatch_table.get(t)
        if reduce is not None:
            rv = reduce(obj)
        elif issubclass(t, type):
            return self.save_global(obj)
        else:
            rv = obj.__reduce_ex__(self.proto)
        if isinstance(rv, str):
            return self.save_global(obj, rv)
        return self.save_reduce(rv, obj)

    def save_picklebuffer(self, obj):
        if self.proto < 5:
            raise NotPicklable('PickleBuffer needs protocol 5')
        raw = obj.raw()
        if self.oob:
            index = self.nbuf
            self.nbuf += 1
            return dm.atom('B%d%s' % (index, 'r' if raw.readonly else ''))
        kind = dm.BYTES if raw.readonly else dm.BYTEARRAY
        return self.memoize(obj, dm.Node(kind, raw.tobytes()))

    def save_inst(self, obj):
        """Python 2 old-style instances: INST at protocol 0, OBJ at 1 and 2 (cPickle save_inst)."""
        cls = obj.__class__
        if self.proto >= 1:
            cls_node = self.save(cls)
        args = []
        if hasattr(obj, '__getinitargs__'):
            args = [self.save(a) for a in obj.__getinitargs__()]
        args_node = dm.Node(dm.TUPLE, items=args) if args else dm.EMPTY_TUPLE
        if self.proto >= 1:
            node = dm.Node(dm.OBJECT, 'O', [cls_node, args_node])
        else:
            node = dm.Node(dm.OBJECT, 'I', [self.global_node(whichmodule(cls, cls.__name__), cls.__name__),
                                            args_node])
        self.memoize(obj, node)
        if hasattr(obj, '__getstate__'):
            state = obj.__getstate__()
        else:
            state = obj.__dict__
        node.add_op('b', [self.save(state)])
        return node

    # --- globals
    def global_node(self, module, name):
        """A GLOBAL / STACK_GLOBAL node with the names Python 3 resolves."""
        if not PY2 and self.proto < 3:
            if (module, name) in _compat_pickle.REVERSE_NAME_MAPPING:
                module, name = _compat_pickle.REVERSE_NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.REVERSE_IMPORT_MAPPING:
                module = _compat_pickle.REVERSE_IMPORT_MAPPING[module]
        module, name = dm.map_global_load(module, name, self.proto, TABLES)
        return dm.Node(dm.GLOBAL, (module.encode('utf-8'), name.encode('utf-8')))

    def save_global(self, obj, name=None):
        if name is None:
            name = None if PY2 else getattr(obj, '__qualname__', None)
            if name is None:
                name = obj.__name__
        module_name = whichmodule(obj, name)
        if self.proto >= 2:
            code = copyreg._extension_registry.get((module_name, name))
            if code:
                node = dm.atom('x%d' % code)
                return node if PY2 else self.memoize(obj, node)
        if PY2 or '.' not in name:
            if self.proto >= 4:
                self.save(module_name)
                self.save(name)
            return self.memoize(obj, self.global_node(module_name, name))
        if self.proto >= 4:
            self.save(module_name)
            self.save(name)
            return self.memoize(obj, self.global_node(module_name, name))
        path = name.split('.')
        if PYV >= (3, 13):
            # getattr(getattr(<top>, 'a'), 'b'): the top-level GLOBAL and the argument tuples are
            # written without memo PUTs, so they are fresh nodes.
            g_getattr = None
            for _ in path[1:]:
                g_getattr = self.save(getattr)
            node = self.global_node(module_name, path[0])
            for attr in path[1:]:
                attr_node = self.save(attr)
                node = dm.Node(dm.OBJECT, 'R', [g_getattr, dm.Node(dm.TUPLE, items=[node, attr_node])])
            return self.memoize(obj, node)
        parent = sys.modules[module_name]
        for part in path[:-1]:
            parent = getattr(parent, part)
        node = self.save_reduce((getattr, (parent, path[-1])), None)
        return self.memoize(obj, node)

    # --- save_reduce
    def make_call(self, kind, callable_node, args_node, kwargs_node=None):
        if kind == 'R':
            folded = dm.fold(callable_node, args_node)
            if folded is not None:
                return folded
        items = [callable_node, args_node]
        if kwargs_node is not None:
            items.append(kwargs_node)
        return dm.Node(dm.OBJECT, kind, items)

    def save_reduce(self, rv, obj):
        if not isinstance(rv, tuple) or not 2 <= len(rv) <= 6:
            raise NotPicklable('bad reduce value %r' % (rv,))
        func, args = rv[0], rv[1]
        state = rv[2] if len(rv) > 2 else None
        listitems = rv[3] if len(rv) > 3 else None
        dictitems = rv[4] if len(rv) > 4 else None
        state_setter = rv[5] if len(rv) > 5 else None
        func_name = getattr(func, '__name__', '')
        if self.proto >= 2 and func_name == '__newobj_ex__' and not PY2:
            cls, nargs, kwargs = args
            if self.proto >= 4:
                c = self.save(cls)
                a = self.save(nargs)
                k = self.save(kwargs)
                node = self.make_call('X', c, a, k)
            else:
                f = functools.partial(cls.__new__, cls, *nargs, **kwargs)
                c = self.save(f)
                node = self.make_call('R', c, self.save(()))
        elif self.proto >= 2 and func_name == '__newobj__':
            cls = args[0]
            c = self.save(cls)
            a = self.save(args[1:])
            node = self.make_call('N', c, a)
        else:
            c = self.save(func)
            a = self.save(args)
            node = self.make_call('R', c, a)
        if obj is not None:
            hit = self.memo.get(id(obj))
            if hit is not None and not PY2:
                # Recursive reduce: the C pickler writes POP + GET and stops here.
                return hit[1]
            self.memoize(obj, node)
        if listitems is not None:
            for x in listitems:
                node.add_op('a', [self.save(x)])
        if dictitems is not None:
            for k, v in dictitems:
                kn = self.save(k)
                node.add_op('s', [kn, self.save(v)])
        if state is not None:
            if state_setter is None:
                node.add_op('b', [self.save(state)])
            else:
                # setter(obj, state) via REDUCE, then POP: recorded as a call on the object.
                setter = self.save(state_setter)
                self.save(obj)
                node.add_op('c', [setter, self.save(state)])
        return node


# =============================================================================================
# Structural comparison of the original object and the one loaded back
# =============================================================================================

def _float_same(a, b):
    if a != a and b != b:
        return True
    return struct.pack('>d', a) == struct.pack('>d', b)


def _defines_eq(t):
    for cls in t.__mro__:
        if cls is not object and '__eq__' in vars(cls):
            return True
    return False


def same(a, b, seen=None):
    """Deep comparison, cycle-safe; objects compare by type and state."""
    if seen is None:
        seen = set()
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        key = (id(x), id(y))
        if key in seen:
            continue
        seen.add(key)
        if PickleBuffer is not None and (isinstance(x, (PickleBuffer, memoryview))
                                         or isinstance(y, (PickleBuffer, memoryview))):
            if memoryview(x).tobytes() != memoryview(y).tobytes():
                return False
            continue
        if np is not None and isinstance(x, np.ndarray):
            if not (isinstance(y, np.ndarray) and x.shape == y.shape):
                return False
            if x.dtype != y.dtype:
                # numpy loads a '>i4' array written at protocol < 5 as native-endian data.
                if x.dtype.str[1:] != y.dtype.str[1:] or not np.array_equal(x, y):
                    return False
            elif x.dtype.hasobject:
                stack.extend(zip(x.ravel().tolist(), y.ravel().tolist()))
            elif x.tobytes() != y.tobytes():
                return False
            continue
        if type(x) is not type(y):
            return False
        t = type(x)
        if t is float:
            if not _float_same(x, y):
                return False
        elif t is complex:
            if not (_float_same(x.real, y.real) and _float_same(x.imag, y.imag)):
                return False
        elif t in (list, tuple) or (isinstance(x, (list, tuple)) and not hasattr(x, '__dict__')):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif isinstance(x, dict):
            if len(x) != len(y) or list(x.keys()) != list(y.keys()):
                if set(x.keys()) != set(y.keys()):
                    return False
            for k in x:
                stack.append((x[k], y[k]))
            if isinstance(x, collections.defaultdict):
                stack.append((x.default_factory, y.default_factory))
            if hasattr(x, '__dict__'):
                stack.append((x.__dict__, y.__dict__))
        elif isinstance(x, (set, frozenset)):
            if x != y:
                return False
        elif t is decimal.Decimal:
            if str(x) != str(y):
                return False
        elif t is collections.deque:
            if x.maxlen != y.maxlen or len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
            stack.append((x.__dict__, y.__dict__))
        elif PY2 and t is xrange:  # noqa: F821
            if repr(x) != repr(y):
                return False
        elif PY2 and t is InstanceType:
            if x.__class__ is not y.__class__:
                return False
            stack.append((x.__dict__, y.__dict__))
        else:
            try:
                eq = bool(x == y)
            except Exception:  # noqa: BLE001
                eq = False
            if eq and not _defines_eq(t) and hasattr(x, '__dict__'):
                eq = False  # identity equality: compare the state instead
            if eq:
                continue
            slots = [slot for cls in t.__mro__ for slot in getattr(cls, '__slots__', ())
                     if slot not in ('__dict__', '__weakref__')]
            if not hasattr(x, '__dict__') and not slots:
                return False
            if hasattr(x, '__dict__'):
                stack.append((x.__dict__, y.__dict__))
            for slot in slots:
                stack.append((getattr(x, slot, None), getattr(y, slot, None)))
    return True


# =============================================================================================
# Test classes and functions (module level so that they pickle as __main__.<name>)
# =============================================================================================

def module_function(x=1):
    return x


def make_thing(*args):
    return Thing(*args)


class Plain(object):
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Thing(object):
    def __init__(self, *args):
        self.args = args
        self.note = u'state'

    def __reduce__(self):
        return (make_thing, self.args, {'note': u'state'})


class ReduceEx(object):
    def __init__(self, v, proto=None):
        self.v = v

    def __reduce_ex__(self, proto):
        if proto >= 2:
            return (ReduceEx, (self.v,), None, None, None)
        return (ReduceEx, (self.v, proto))


class GetState(object):
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __getstate__(self):
        return (self.a, self.b)

    def __setstate__(self, state):
        self.a, self.b = state


class Slotted(object):
    __slots__ = ('x', 'y')

    def __init__(self, x, y):
        self.x, self.y = x, y


class SlottedWithDict(object):
    __slots__ = ('x', '__dict__')

    def __init__(self, x, **kw):
        self.x = x
        self.__dict__.update(kw)


class NewArgs(object):
    def __new__(cls, a, b):
        self = object.__new__(cls)
        self.a, self.b = a, b
        return self

    def __getnewargs__(self):
        return (self.a, self.b)


class NewArgsEx(object):
    def __new__(cls, a, b=0):
        self = object.__new__(cls)
        self.a, self.b = a, b
        return self

    def __getnewargs_ex__(self):
        return ((self.a,), {'b': self.b})


class MyList(list):
    pass


class MyDict(dict):
    pass


class Singleton(object):
    def __reduce__(self):
        return 'SINGLETON'


SINGLETON = Singleton()


class Outer(object):
    class Inner(object):
        class Deepest(object):
            pass

        def __init__(self, v=0):
            self.v = v

    def method(self):
        return 1


class ItemsReduce(object):
    """A reduce value with listitems and dictitems but an unrelated callable."""

    def __init__(self, fill=True):
        self.items = [1, u'two'] if fill else []
        self.mapping = {u'k': 3} if fill else {}

    def __reduce__(self):
        return (ItemsReduce, (False,), None, iter(self.items), iter(self.mapping.items()))

    def append(self, x):
        self.items.append(x)

    def extend(self, xs):
        self.items.extend(xs)

    def __setitem__(self, k, v):
        self.mapping[k] = v

    def __eq__(self, other):
        return type(other) is ItemsReduce and self.items == other.items and self.mapping == other.mapping

    __hash__ = None


def set_state(obj, state):
    obj.__dict__.update(state)


class WithSetter(object):
    def __init__(self, v):
        self.v = v

    def __reduce__(self):
        return (WithSetter, (0,), {'v': self.v}, None, None, set_state)


def rebuild_recursive(lst):
    r = Recursive.__new__(Recursive)
    r.lst = lst
    return r


class Recursive(object):
    """A reduce whose argument reaches the object itself (the C pickler's POP + GET path)."""

    def __reduce__(self):
        return (rebuild_recursive, (self.lst,), {'x': self.x})


class Ext1(object):
    pass


class Ext2(object):
    pass


class Ext4(object):
    pass


copyreg.add_extension(__name__, 'Ext1', 240)
copyreg.add_extension(__name__, 'Ext2', 0x1234)
copyreg.add_extension(__name__, 'Ext4', 0x12345678)


class Ref(object):
    """An object stored outside the pickle, referenced by persistent id."""

    def __init__(self, key):
        self.key = key

    def __eq__(self, other):
        return type(other) is Ref and other.key == self.key

    __hash__ = None


if PY2:
    exec('''
class OldStyle:
    def __init__(self, a):
        self.a = a

class OldInitArgs:
    def __init__(self, a, b):
        self.a = a
        self.b = b
    def __getinitargs__(self):
        return (self.a, self.b)

class OldGetState:
    def __init__(self):
        self.hidden = (u'state', 2)
    def __getstate__(self):
        return self.hidden
    def __setstate__(self, state):
        self.hidden = state
''')
else:
    import enum

    class Color(enum.Enum):
        RED = 1
        GREEN = u'green'

    class Level(enum.IntEnum):
        LOW = 1
        HIGH = 10


Point = collections.namedtuple('Point', 'x y')


# =============================================================================================
# Cases
# =============================================================================================

class Case(object):
    def __init__(self, name, factory, tags, protos=None, py2=True, py3=True, min_version=None,
                 versions=None, py2_encoding='ascii', pickler='plain', numpy=False, verify=None):
        self.name = name
        self.factory = factory
        self.tags = tags
        self.protos = protos
        self.py2 = py2
        self.py3 = py3
        self.min_version = min_version
        self.versions = versions
        self.py2_encoding = py2_encoding
        self.pickler = pickler
        self.numpy = numpy
        self.verify = verify or (lambda original, loaded, proto: same(original, loaded))

    def applies(self):
        if self.numpy != NUMPY:
            return False
        if PY2 and not self.py2 or not PY2 and not self.py3:
            return False
        if self.min_version is not None and PYV < self.min_version:
            return False
        if self.versions is not None and '%d.%d' % PYV not in self.versions:
            return False
        return True


CASES = []


def case(name, tags, **kw):
    def deco(fn):
        CASES.append(Case('y_' + name, fn, tags, **kw))
        return fn
    return deco


SIZES = (0, 1, 2, 3, 4)
BIG_SIZES = (999, 1000, 1001, 2000, 2001)


def _b(s):
    """bytes from a latin-1 text literal (b'' literals cannot hold \\u escapes)."""
    return s.encode('latin-1')


# --- plain data ----------------------------------------------------------------------------------

@case('none_bool', 'plain')
def _c():
    return [None, True, False, (None,), [True, False]]


@case('int_boundaries', 'plain')
def _c():
    xs = []
    for base in (0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31,
                 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 2 ** 64):
        xs.append(base)
        if base:
            xs.append(-base)
    xs.extend([-2 ** 31 - 1, -2 ** 63 - 1, -129, -257, -32769, -65537])
    return xs


@case('int_sign_trim', 'plain')
def _c():
    # LONG1 payloads whose top byte is 0xff / 0x00 only because of the sign.
    xs = []
    for bits in (7, 8, 15, 16, 23, 24, 31, 32, 39, 40, 47, 48, 55, 56, 63, 64, 71, 72):
        xs.extend([-2 ** bits, -2 ** bits + 1, -2 ** bits - 1, 2 ** bits - 1, 2 ** bits])
    return xs


@case('int_long1_long4', 'plain')
def _c():
    # 255-byte payloads are the largest LONG1, 256 bytes the smallest LONG4.
    return [2 ** (8 * 255 - 1) - 1, 2 ** (8 * 255 - 1), -2 ** (8 * 255 - 1), -2 ** (8 * 255 - 1) - 1,
            2 ** (8 * 300), -(2 ** (8 * 300)) + 12345]


@case('int_huge', 'plain')
def _c():
    return [10 ** 1000, -10 ** 1000 - 7]


@case('int_beyond_digit_limit', 'plain', protos=(2, 3, 4, 5))
def _c():
    # 4366 decimal digits: fine in LONG1/LONG4, over the 4300-digit limit of the text opcodes.
    return -(2 ** 14500 + 1)


@case('float_values', 'plain')
def _c():
    return [0.0, -0.0, 1.0, -1.5, 0.1, 1e16, 1e-5, 1e100, 1e22, 1e23, 5e-324, 2.2250738585072014e-308,
            2.225073858507201e-308, 1.7976931348623157e308, 123456789.123456789, 1 / 3.0,
            float('inf'), float('-inf'), float('nan')]


@case('float_nan_payloads', 'plain')
def _c():
    neg_nan = struct.unpack('>d', b'\xff\xf8\x00\x00\x00\x00\x00\x00')[0]
    payload = struct.unpack('>d', b'\x7f\xf8\x00\x00\x00\x00\x00\x2a')[0]
    return [neg_nan, payload]


@case('str_basic', 'plain')
def _c():
    return [u'', u'a', u'hello world', u'caf\xe9', u'\xff\xfe', u'\u20ac uro', u'\u4e2d\u6587',
            u'\U0001f600 grin', u'mixed \x01\x7f\x80\u0800\uffff\U00010000\U0010ffff']


@case('str_surrogates', 'plain')
def _c():
    return [u'\ud800', u'\udc80', u'a\udfffb', u'\udbff x']


@case('str_escapes', 'plain')
def _c():
    # The characters protocol 0 escapes (raw-unicode-escape plus \\, \n, \r, \0, \x1a).
    return [u'line\nbreak', u'back\\slash', u'cr\rhere', u'nul\x00byte', u'sub\x1a', u'\\u0041',
            u'\\U00012345 \\x41', u'tab\t', u'quote\'"', u'\n', u'\\']


@case('str_lengths', 'plain')
def _c():
    return [u'a' * 255, u'b' * 256, u'\xe9' * 128, u'\u20ac' * 85 + u'z']


@case('bytes_basic', 'plain', py2_encoding='bytes')
def _c():
    return [b'', b'a', b'\x00\xff', _b(u''.join(chr(i) if not PY2 else unichr(i) for i in range(256))),  # noqa: F821
            b'\n\r\\']


@case('bytes_lengths', 'plain', py2_encoding='bytes')
def _c():
    return [b'x' * 255, b'y' * 256]


@case('bytearray_basic', 'plain')
def _c():
    return [bytearray(), bytearray(b'a'), bytearray(b'\x00\xff\x80'), bytearray(b'x' * 255),
            bytearray(b'y' * 256)]


@case('big_payloads', 'plain', protos=(4,), py2=False)
def _c():
    # Around FRAME_SIZE_TARGET: payloads of 65536 bytes are written outside frames (3.7+), those of
    # 65535 bytes inside one.
    return [u's' * 65535, u'S' * 65536, b'b' * 65535, b'B' * 65536, 1]


@case('big_bytearray', 'plain', protos=(5,), py2=False)
def _c():
    return [bytearray(b'y' * 65535), bytearray(b'Y' * 65536), 1]


@case('list_sizes', 'plain')
def _c():
    return [list(range(n)) for n in SIZES]


@case('tuple_sizes', 'plain')
def _c():
    return [tuple(range(n)) for n in SIZES]


@case('dict_sizes', 'plain')
def _c():
    return [dict((i, -i) for i in range(n)) for n in SIZES]


@case('set_sizes', 'plain')
def _c():
    return [set(range(n)) for n in SIZES]


@case('frozenset_sizes', 'plain')
def _c():
    return [frozenset(range(n)) for n in SIZES]


@case('list_big', 'plain')
def _c():
    return [[i % 10 for i in range(n)] for n in BIG_SIZES]


@case('tuple_big', 'plain')
def _c():
    return [tuple(i % 10 for i in range(n)) for n in BIG_SIZES]


@case('dict_big', 'plain')
def _c():
    return [dict((i, None) for i in range(n)) for n in BIG_SIZES]


@case('set_big', 'plain')
def _c():
    return [set(range(n)) for n in BIG_SIZES]


@case('frozenset_big', 'plain')
def _c():
    return [frozenset(range(n)) for n in BIG_SIZES]


@case('set_of_str', 'plain,strset')
def _c():
    return [set([u'a', u'b', u'c', u'hello', u'']), frozenset([u'x', u'y', u'zz'])]


@case('set_mixed', 'plain,strset')
def _c():
    return set([1, 2.5, (1, 2), u'', frozenset([3]), -7])


@case('dict_keys', 'plain')
def _c():
    d = {True: 1, 2.5: 2, (1, u'a'): 3, u'k': 4, frozenset([1]): 5, -7: 6, 10 ** 30: 7}
    if not PY2:
        d[None] = 8  # hash(None) is address-based: Python 2 dict order would not be deterministic
        d[b'k'] = 9
    return d


@case('memo_many', 'plain')
def _c():
    # More than 256 memo entries: LONG_BINPUT / LONG_BINGET at protocols 1-3, long text PUT/GET at 0.
    strs = [u's%d' % i for i in range(300)]
    return strs + strs[::-1]


@case('frames_multi', 'plain', protos=(4,), py2=False)
def _c():
    # About 80 kB of opcodes: more than one FRAME.
    return [i % 10 for i in range(40000)]


@case('nesting', 'plain')
def _c():
    return {u'a': [1, (2, 3, [4, {u'b': (5,)}]), set([6])], u'c': {u'd': {u'e': [[], [[]], ()]}},
            u'f': (((1,),),), 7: [frozenset([(8, 9)])]}


@case('deep_list', 'plain')
def _c():
    root = []
    cur = root
    for i in range(300):
        nxt = [i]
        cur.append(nxt)
        cur = nxt
    return root


@case('deep_tuple_dict', 'plain')
def _c():
    x = u'leaf'
    for i in range(150):
        x = (i, {u'k': x}) if i % 2 else (x,)
    return x


@case('shared_str', 'plain')
def _c():
    s = u'shared string'
    other = u''.join([u'shared', u' string'])  # equal but distinct
    return [s, s, other, (s, other), {s: other}]


@case('shared_containers', 'plain')
def _c():
    lst = [1]
    tup = (1, u'x')
    dct = {u'k': 1}
    st = set([1, 2])
    fs = frozenset([3])
    return [lst, lst, [1], tup, tup, dct, dct, st, st, fs, fs, (lst, dct), [tup, fs]]


@case('shared_bytes', 'plain', py2_encoding='bytes')
def _c():
    b = b'shared bytes'
    return [b, b, b'shared' + b' bytes', b'', b'']


@case('shared_bytearray', 'plain')
def _c():
    b = bytearray(b'shared')
    e = bytearray()
    return [b, b, e, e, bytearray(b'shared')]


@case('cycle_list', 'plain,recursive')
def _c():
    lst = [1]
    lst.append(lst)
    return lst


@case('cycle_dict', 'plain,recursive')
def _c():
    d = {u'x': 1}
    d[u'self'] = d
    return d


@case('cycle_tuple', 'plain,recursive')
def _c():
    t = ([],)
    t[0].append(t)
    return t


@case('cycle_tuple3', 'plain,recursive')
def _c():
    inner = []
    t = (1, inner, 2)
    inner.append(t)
    big = (inner, 1, 2, 3, 4)
    inner.append(big)
    return [t, big]


@case('cycle_mutual', 'plain,recursive')
def _c():
    a = []
    b = {u'a': a}
    a.append(b)
    a.append(a)
    return (a, b)


# --- custom classes ------------------------------------------------------------------------------

@case('obj_plain', 'custom')
def _c():
    return [Plain(a=1, b=u'x'), Plain(), Plain(nested=Plain(z=[1, 2]))]


@case('obj_reduce', 'custom')
def _c():
    return [Thing(1, u'a'), Thing(), Thing(Thing(2))]


@case('obj_reduce_ex', 'custom')
def _c():
    return [ReduceEx(1), ReduceEx(u'v')]


@case('obj_getstate', 'custom')
def _c():
    return [GetState(1, [2]), GetState(None, u's')]


@case('obj_slots', 'custom')
def _c():
    return [Slotted(1, u'y'), SlottedWithDict(2, extra=3)]


@case('obj_getnewargs', 'custom')
def _c():
    return [NewArgs(1, u'b'), NewArgs((), [])]


@case('obj_getnewargs_ex', 'custom', py2=False)
def _c():
    return [NewArgsEx(1, b=2), NewArgsEx(u'a')]


@case('obj_list_dict_subclass', 'custom')
def _c():
    ml = MyList([1, 2, 3])
    ml.attr = u'listattr'
    md = MyDict(a=1)
    md.attr = 5
    return [ml, MyList(), md, MyDict(), MyList(range(1001))]


class MyStr(text_type):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyTuple(tuple):
    pass


class MySet(set):
    pass


class MyFrozenSet(frozenset):
    pass


class MyBytes(bytes):
    pass


@case('obj_builtin_subclasses', 'custom')
def _c():
    ms = MyStr(u'text')
    ms.attr = 1
    return [ms, MyInt(-5), MyFloat(2.5), MyTuple((1, u'a')), MySet([3]), MyFrozenSet([4]),
            MyBytes(b'raw'), MyTuple()]


@case('obj_reduce_global_name', 'custom')
def _c():
    return [SINGLETON, SINGLETON, Singleton]


@case('obj_nested_class', 'custom', py2=False)
def _c():
    return [Outer.Inner, Outer.Inner(3), Outer.Inner.Deepest, Outer, Outer.Inner(4), Outer.method]


@case('obj_items_reduce', 'custom')
def _c():
    return ItemsReduce()


@case('obj_state_setter', 'custom', min_version=(3, 8))
def _c():
    shared = {u'v': 1}
    return [WithSetter(shared), shared]


@case('obj_recursive_reduce', 'custom,recursive', py2=False)
def _c():
    r = Recursive()
    r.lst = [r]
    r.x = 1
    return r


@case('obj_self_reference', 'custom,recursive')
def _c():
    a = Plain(x=1)
    a.me = a
    b = Plain(peer=a)
    a.peer = b
    return [a, b, a]


@case('obj_extension_codes', 'custom')
def _c():
    return [Ext1, Ext2, Ext4, Ext1(), Ext1]


@case('globals_by_reference', 'stdlib')
def _c():
    xs = [len, int, collections.OrderedDict, module_function, Plain, object, dict, getattr,
          math.sqrt, codecs.encode, functools.reduce, len]
    if not PY2:
        xs += [type(None), type(Ellipsis), type(NotImplemented), str.upper, Ellipsis, NotImplemented,
               range, str, ValueError, collections.UserDict, Outer().method,
               functools.partial(module_function, 1, x=2)]
    else:
        xs += [unicode, xrange, ValueError]  # noqa: F821
    return xs


def _same_exceptions(original, loaded, proto):
    # fix_imports loads ModuleNotFoundError written at protocols < 3 as ImportError.
    return [e.args for e in original] == [e.args for e in loaded]


@case('exceptions', 'stdlib', verify=_same_exceptions)
def _c():
    xs = [ValueError(u'bad'), KeyError(1)]
    if not PY2:
        xs.append(ModuleNotFoundError(u'x'))
    return xs


# --- stdlib values -------------------------------------------------------------------------------

@case('datetime', 'stdlib', py2_encoding='latin1')
def _c():
    xs = [datetime.date(2024, 2, 29), datetime.time(12, 30, 45, 123456),
          datetime.datetime(2024, 2, 29, 12, 30, 45, 123456), datetime.timedelta(-1, 5, 7),
          datetime.date(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)]
    if not PY2:
        tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30), u'IST')
        xs += [datetime.timezone.utc, tz, datetime.datetime(2020, 1, 1, tzinfo=tz),
               datetime.datetime(2021, 11, 7, 1, 30, fold=1) if PYV >= (3, 6) else None]
    return xs


@case('py2_datetime_bytes', 'py2,stdlib', py3=False, py2_encoding='bytes')
def _c():
    return [datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 12, 30, 45, 123456)]


@case('decimal_fraction_complex', 'stdlib')
def _c():
    return [decimal.Decimal(u'1.1'), decimal.Decimal(u'-0'), decimal.Decimal(u'NaN'),
            decimal.Decimal(u'1E+1000'), fractions.Fraction(1, 3), fractions.Fraction(-7, 2),
            complex(1, 2), complex(-0.0, float('inf'))]


@case('uuid', 'stdlib')
def _c():
    return uuid.UUID(u'12345678-1234-5678-1234-567812345678')


@case('collections', 'stdlib')
def _c():
    xs = [collections.OrderedDict([(u'b', 1), (u'a', 2)]), collections.OrderedDict(),
          collections.defaultdict(list, {u'x': [1]}), collections.deque([1, 2, 3]),
          collections.deque([u'a'], 5), collections.Counter({u'a': 2, u'b': 1}), Point(1, u'y')]
    return xs


@case('enum_members', 'stdlib', py2=False)
def _c():
    return [Color.RED, Color.GREEN, Level.HIGH, Color.RED, Color]


@case('range_slice', 'stdlib')
def _c():
    xs = [slice(1, None, 2), slice(None)]
    if not PY2:
        xs += [range(1, 10, 3), range(0)]
    else:
        xs += [xrange(1, 10, 3)]  # noqa: F821
    return xs


# --- persistent ids ------------------------------------------------------------------------------

@case('persistent_ids', 'custom', pickler='persid')
def _c():
    r1 = Ref(u'one')
    return [r1, Ref(u'two'), r1, {u'k': Ref(u'three')}, u'not a ref']


# --- out-of-band buffers (no numpy) --------------------------------------------------------------

@case('picklebuffer_inband', 'plain', protos=(5,), min_version=(3, 8), py2=False)
def _c():
    pw = PickleBuffer(bytearray(b'writable'))
    pr = PickleBuffer(b'readonly')
    return [pw, pr, pw, PickleBuffer(bytearray())]


@case('picklebuffer_oob', 'oob', protos=(5,), min_version=(3, 8), py2=False, pickler='oob')
def _c():
    pw = PickleBuffer(bytearray(b'writable'))
    pr = PickleBuffer(b'readonly')
    return [pw, pr, pw, [pr], PickleBuffer(bytearray())]


# --- Python 2 only -------------------------------------------------------------------------------

@case('py2_old_style', 'py2,custom', py3=False)
def _c():
    a = OldStyle(1)  # noqa: F821
    return [a, OldInitArgs(u'x', [2]), OldGetState(), a, OldStyle]  # noqa: F821


@case('py2_str_ascii', 'py2', py3=False)
def _c():
    return ['', 'a', 'ascii text', 'with\nnewline\\ and \'quote"', u'unicode \xe9', 'x' * 300]


@case('py2_str_latin1', 'py2', py3=False, py2_encoding='latin1')
def _c():
    return ['caf\xe9', '\x00\xff\x80', u'unicode \u20ac', 'plain']


@case('py2_str_bytes', 'py2', py3=False, py2_encoding='bytes')
def _c():
    return ['caf\xe9', '\x00\xff\x80', u'unicode \u20ac', 'plain', 'x' * 300]


@case('py2_int_long', 'py2', py3=False)
def _c():
    return [long(1), 2 ** 40, -2 ** 40, 2 ** 62, long(2 ** 100), -long(2 ** 64), sys.maxint, -sys.maxint - 1]  # noqa: F821


# --- numpy (Debian's python3 with python3-numpy) ------------------------------------------------

def _np_arrays():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    ro = np.arange(6, dtype=np.int16)
    ro.flags.writeable = False
    return [
        np.arange(5, dtype=np.int32),
        a,
        np.asfortranarray(a),
        np.array(3.5),
        np.zeros((0,), dtype=np.int64),
        np.zeros((2, 0), dtype=np.float32),
        a[:, ::2],
        np.array([True, False]),
        np.array([1 + 2j], dtype=np.complex128),
        np.array([1, 2], dtype='>i4'),
        np.array([u'ab', u'c'], dtype='U2'),
        np.array([b'ab'], dtype='S2'),
        np.array([(1, 2.0)], dtype=[('a', 'i1'), ('b', '<f8')]),
        np.array([1, u'x', None], dtype=object),
        np.array(['2020-01-01'], dtype='datetime64[D]'),
        ro,
    ]


@case('numpy_arrays', 'numpy', protos=(2, 4, 5), numpy=True, py2=False)
def _c():
    return _np_arrays()


@case('numpy_arrays_oob', 'numpy,oob', protos=(5,), numpy=True, py2=False, pickler='oob')
def _c():
    return _np_arrays()


@case('numpy_scalars_dtypes', 'numpy', protos=(2, 4, 5), numpy=True, py2=False)
def _c():
    return [np.float64(1.5), np.int8(-3), np.bool_(True), np.dtype('f8'), np.dtype('>u2'),
            np.dtype([('x', 'i4'), ('y', 'f2')]), np.dtype('U3')]


@case('numpy_shared', 'numpy', protos=(2, 4, 5), numpy=True, py2=False)
def _c():
    a = np.arange(4, dtype=np.uint8)
    return [a, a, a.dtype, np.arange(3, dtype=np.uint8)]


# =============================================================================================
# Picklers and the driver
# =============================================================================================

def persistent_id_for(proto):
    def persistent_id(obj):
        if type(obj) is Ref:
            if proto == 0:
                return str('ref:') + str(obj.key)
            return (u'ref', obj.key)
        return None
    return persistent_id


def persistent_load(pid):
    if isinstance(pid, tuple):
        return Ref(pid[1])
    if not PY2 and isinstance(pid, bytes):
        pid = pid.decode('ascii')
    return Ref(text_type(pid.split(':', 1)[1]))


def dump(obj, proto, c):
    """Pickle `obj` with the C pickler. Returns (pickle bytes, out-of-band buffers)."""
    buffers = []
    if c.pickler == 'persid':
        f = io.BytesIO()
        if PY2:
            p = cpickle.Pickler(f, proto)
            p.persistent_id = persistent_id_for(proto)
        else:
            pid_func = persistent_id_for(proto)

            class P(cpickle.Pickler):
                def persistent_id(self, o):
                    return pid_func(o)
            p = P(f, proto)
        p.dump(obj)
        return f.getvalue(), buffers
    if c.pickler == 'oob':
        def callback(pb):
            buffers.append(pb)
            return False
        return cpickle.dumps(obj, proto, buffer_callback=callback), buffers
    return cpickle.dumps(obj, proto), buffers


def load(data, c, buffers):
    if PY2:
        f = io.BytesIO(data)
        u = cpickle.Unpickler(f)
        if c.pickler == 'persid':
            u.persistent_load = persistent_load
        return u.load()
    kw = {}
    if c.py2_encoding != 'ascii':
        kw['encoding'] = 'latin1' if c.py2_encoding == 'latin1' else 'bytes'
    if c.pickler == 'oob':
        kw['buffers'] = buffers
    if c.pickler == 'persid':
        class U(cpickle.Unpickler):
            def persistent_load(self, pid):
                return persistent_load(pid)
        return U(io.BytesIO(data), **kw).load()
    return cpickle.loads(data, **kw)


def interpreter_label():
    v = sys.version_info
    return 'cpython-%d.%d.%d' % (v[0], v[1], v[2])


def write_file(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def run_case(c, proto, outdir):
    obj = c.factory()
    data, buffers = dump(obj, proto, c)
    mirror = Mirror(proto, py2_encoding=c.py2_encoding if PY2 else 'ascii',
                    persistent_id=persistent_id_for(proto) if c.pickler == 'persid' else None,
                    oob=c.pickler == 'oob')
    root = mirror.save(obj)
    desc = dm.describe(root)
    if mirror.nbuf != len(buffers):
        raise AssertionError('%s p%d: mirror saw %d buffers, pickler %d' % (c.name, proto, mirror.nbuf, len(buffers)))
    raw_buffers = [pb.raw().tobytes() for pb in buffers]
    load_buffers = [bytearray(b) if not pb.raw().readonly else b for pb, b in zip(buffers, raw_buffers)]
    loaded = load(data, c, load_buffers)
    if not c.verify(obj, loaded, proto):
        raise AssertionError('%s p%d: the loaded object differs from the original' % (c.name, proto))
    base = os.path.join(outdir, '%s.p%d' % (c.name, proto))
    write_file(base + '.pkl', data)
    header = [
        'interpreter=' + interpreter_label(),
        'protocol=%d' % proto,
        'encoding=' + (c.py2_encoding if PY2 else 'ascii'),
        'buffers=%d' % len(buffers),
        'tags=' + c.tags,
    ]
    write_file(base + '.desc', ('\n'.join(header) + '\n\n' + desc + '\n').encode('ascii'))
    for i, b in enumerate(raw_buffers):
        write_file(base + '.buf%d' % i, b)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    outdir = args[0]
    if not os.path.isdir(outdir):
        os.makedirs(outdir)
    written = 0
    skipped = []
    failures = []
    for c in CASES:
        if not c.applies():
            continue
        for proto in range(HIGHEST + 1):
            if c.protos is not None and proto not in c.protos:
                continue
            try:
                run_case(c, proto, outdir)
                written += 1
            except (cpickle.PicklingError, NotPicklable, TypeError) as e:
                # What this interpreter cannot pickle at this protocol is skipped; the mirror and
                # the pickler must agree about it (a mirror-only failure is a bug).
                try:
                    dump(c.factory(), proto, c)
                except Exception:
                    skipped.append('%s p%d' % (c.name, proto))
                    continue
                failures.append('%s p%d: %s: %s' % (c.name, proto, type(e).__name__, e))
            except Exception as e:  # noqa: BLE001 - reported, and the run fails
                failures.append('%s p%d: %s: %s' % (c.name, proto, type(e).__name__, e))
    print('%s: %d pickles written, %d skipped%s' % (interpreter_label(), written, len(skipped),
                                                   (' (' + ', '.join(skipped) + ')') if skipped else ''))
    for f in failures:
        print('FAIL ' + f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
