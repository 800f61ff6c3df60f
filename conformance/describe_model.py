# -*- coding: utf-8 -*-
"""The graph model and the canonical walk of the "brine-describe v1" format (docs/DESCRIBE.md).

Shared by gen_cases.py (which builds the graph by mirroring the pickler on the object it pickles)
and check_corpus.py (which builds it independently from the pickle bytes). Single source for
Python 2.7 and 3.6+. Kept free of anything interpreter-specific.
"""
from __future__ import absolute_import, division, print_function

import binascii
import struct

# Node kinds. Atoms are written inline; TRACKED kinds are numbered on first arrival.
ATOM = 'atom'   # data: the inline token ('N', 'T', 'F', 'i12', 'f...', 'E', 'x5', 'B0r')
PERSID = 'P'    # items: [pid]; not tracked
STR = 's'       # data: UTF-8 (surrogatepass) bytes
BYTES = 'b'
BYTEARRAY = 'y'
TUPLE = 't'     # items (never empty: the empty tuple is the atom 'E')
LIST = 'l'
DICT = 'd'      # items: k0, v0, k1, v1, ...
SET = 'S'
FROZENSET = 'z'
GLOBAL = 'g'    # data: (module utf-8 bytes, qualname utf-8 bytes)
OBJECT = 'o'    # data: 'R' | 'N' | 'X' | 'I' | 'O'; items: [callable, args(, kwargs)]; ops

TRACKED = frozenset([STR, BYTES, BYTEARRAY, TUPLE, LIST, DICT, SET, FROZENSET, GLOBAL, OBJECT])

_OPEN = {TUPLE: 't(', LIST: 'l[', DICT: 'd{', SET: 'S{', FROZENSET: 'z{'}
_CLOSE = {TUPLE: ')', LIST: ']', DICT: '}', SET: '}', FROZENSET: '}'}
_OP_OPEN = {'a': '.a[', 's': '.s{', 'A': '.A{', 'b': '.b(', 'c': '.c('}
_OP_CLOSE = {'a': ']', 's': '}', 'A': '}', 'b': ')', 'c': ')'}


class Node(object):
    __slots__ = ('kind', 'data', 'items', 'ops', 'num')

    def __init__(self, kind, data=None, items=None):
        self.kind = kind
        self.data = data
        self.items = items if items is not None else []
        self.ops = None
        self.num = 0

    def add_op(self, op, values):
        """Record an operation; consecutive a/s/A operations merge, BUILD ('b') and a discarded
        call ('c') never do."""
        if self.ops is None:
            self.ops = []
        if op not in ('b', 'c') and self.ops and self.ops[-1][0] == op:
            self.ops[-1][1].extend(values)
        else:
            self.ops.append([op, list(values)])


def atom(token):
    return Node(ATOM, token)


NONE = atom('N')
TRUE = atom('T')
FALSE = atom('F')
EMPTY_TUPLE = atom('E')


def hexs(b):
    return binascii.hexlify(b).decode('ascii')


def int_token(v):
    return 'i%d' % v


def float_token(x):
    return 'f' + hexs(struct.pack('>d', x))


CANONICAL_NAN = 'f7ff8000000000000'


def describe(root):
    """The canonical walk, iterative: returns the description string."""
    out = []
    counter = [0]
    stack = [root]
    push = stack.append
    while stack:
        x = stack.pop()
        if not isinstance(x, Node):
            out.append(x)
            continue
        k = x.kind
        if k == ATOM:
            out.append(x.data)
            continue
        if k == PERSID:
            push(')')
            push(x.items[0])
            out.append('P(')
            continue
        if x.num:
            out.append('@%d' % x.num)
            continue
        counter[0] += 1
        x.num = counter[0]
        out.append('#%d=' % x.num)
        if k in (STR, BYTES, BYTEARRAY):
            out.append(k + hexs(x.data) + ';')
        elif k == GLOBAL:
            out.append('g(' + hexs(x.data[0]) + ',' + hexs(x.data[1]) + ')')
        elif k == OBJECT:
            parts = ['o' + x.data + '(']
            for i, item in enumerate(x.items):
                if i:
                    parts.append(',')
                parts.append(item)
            parts.append(')')
            for op, values in (x.ops or ()):
                parts.append(_OP_OPEN[op])
                _append_items(parts, values, op == 's')
                parts.append(_OP_CLOSE[op])
            for p in reversed(parts):
                push(p)
        else:
            parts = [_OPEN[k]]
            _append_items(parts, x.items, k == DICT)
            parts.append(_CLOSE[k])
            for p in reversed(parts):
                push(p)
    return ''.join(out)


def _append_items(parts, values, pairs):
    for i, v in enumerate(values):
        if i:
            parts.append(':' if (pairs and i % 2 == 1) else ',')
        parts.append(v)


def reset_numbers(root):
    """Clear the walk numbers so a graph can be described again."""
    stack = [root]
    while stack:
        x = stack.pop()
        if x.kind in TRACKED:
            if not x.num:
                continue
            x.num = 0
        stack.extend(x.items)
        for _op, values in (x.ops or ()):
            stack.extend(values)


# --- builtin folds (decode.hpp `fold_builtins`): what brine turns into native nodes ------------

def _latin1(node):
    try:
        return node.data.decode('utf-8', 'surrogatepass' if str is not bytes else 'strict').encode('latin-1')
    except (UnicodeError, ValueError):
        return None


def fold(callable_node, args_node):
    """Return the native node brine builds for `callable(*args)`, or None when it stays a call."""
    if callable_node.kind != GLOBAL:
        return None
    name = callable_node.data
    if args_node.kind == ATOM and args_node.data == 'E':
        args = []
    elif args_node.kind == TUPLE:
        args = args_node.items
    else:
        return None
    if name in ((b'builtins', b'set'), (b'builtins', b'frozenset')):
        kind = SET if name[1] == b'set' else FROZENSET
        if not args:
            return Node(kind)
        if len(args) == 1 and args[0].kind == LIST:
            return Node(kind, items=list(args[0].items))
        return None
    if name == (b'builtins', b'bytearray'):
        if not args:
            return Node(BYTEARRAY, b'')
        if len(args) == 1 and args[0].kind == BYTES:
            return Node(BYTEARRAY, args[0].data)
        if (len(args) == 2 and args[0].kind == STR and args[1].kind == STR
                and args[1].data in (b'latin-1', b'latin1')):
            raw = _latin1(args[0])
            return None if raw is None else Node(BYTEARRAY, raw)
        return None
    if name == (b'_codecs', b'encode'):
        if (len(args) == 2 and args[0].kind == STR and args[1].kind == STR
                and args[1].data in (b'latin-1', b'latin1')):
            raw = _latin1(args[0])
            return None if raw is None else Node(BYTES, raw)
        return None
    if name == (b'builtins', b'bytes') and not args:
        return Node(BYTES, b'')
    return None


def map_global_load(module, name, proto, tables):
    """CPython's find_class renaming for protocols < 3 (fix_imports), with py3's load tables."""
    if proto < 3 and tables is not None:
        key = module + '\0' + name
        hit = tables['name'].get(key)
        if hit is not None:
            return hit[0], hit[1]
        module = tables['import'].get(module, module)
    return module, name


def load_tables(obj):
    """Normalise the JSON form written by generate.py: {'IMPORT_MAPPING': {..},
    'NAME_MAPPING': [[[m, n], [m2, n2]], ...]}."""
    return {
        'import': dict((str(k), str(v)) for k, v in obj['IMPORT_MAPPING'].items()),
        'name': dict((str(a[0]) + '\0' + str(a[1]), (str(b[0]), str(b[1])))
                     for a, b in obj['NAME_MAPPING']),
    }
