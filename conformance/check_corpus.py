#!/usr/bin/env python3
"""Cross-check the corpus: re-derive every description from the pickle bytes alone.

Usage: python3 check_corpus.py CORPUS_DIR [--tables compat_tables.json] [-v]

gen_cases.py describes the object it pickled by mirroring the pickler; this script ignores the
object and runs a small symbolic unpickler over the bytes with brine's decode semantics (inert
globals and calls, fix_imports below protocol 3, the builtin folds, Python 2 strings decoded as the
header's `encoding` says, out-of-band buffers as `B<i>`), then walks the result with the same
canonical walk. Agreement of the two is what makes a description trustworthy; brine's runner is
the third, independent party.

Without --tables the load tables come from this interpreter's `_compat_pickle`.
"""
import argparse
import codecs
import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import describe_model as dm  # noqa: E402

if hasattr(sys, 'set_int_max_str_digits'):
    sys.set_int_max_str_digits(0)


class Bad(Exception):
    pass


def read_desc(path):
    with open(path, 'rb') as f:
        text = f.read().decode('ascii')
    head, _, body = text.partition('\n\n')
    header = dict(line.split('=', 1) for line in head.split('\n') if line)
    return header, body.rstrip('\n')


def decode_py2_string(raw, encoding):
    if encoding == 'bytes':
        return dm.Node(dm.BYTES, raw)
    if encoding == 'latin1':
        return dm.Node(dm.STR, raw.decode('latin-1').encode('utf-8'))
    raw.decode('ascii')
    return dm.Node(dm.STR, raw)


def str_node(text):
    return dm.Node(dm.STR, text.encode('utf-8', 'surrogatepass'))


def symbolic_load(data, encoding, tables):
    """The graph brine should build for `data` (first pickle only)."""
    pos = 0
    stack = []
    marks = []
    memo = {}
    proto = 0
    nbuf = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise Bad('truncated')
        b = data[pos:pos + n]
        pos += n
        return b

    def line():
        nonlocal pos
        end = data.index(b'\n', pos)
        b = data[pos:end]
        pos = end + 1
        return b

    def pop_mark():
        m = marks.pop()
        items = stack[m:]
        del stack[m:]
        return items

    def u(fmt, n):
        return struct.unpack(fmt, take(n))[0]

    def make_global(module, name):
        module, name = dm.map_global_load(module, name, proto, tables)
        return dm.Node(dm.GLOBAL, (module.encode('utf-8'), name.encode('utf-8')))

    def tuple_of(items):
        return dm.Node(dm.TUPLE, items=items) if items else dm.EMPTY_TUPLE

    def add(target, op, values):
        k = target.kind
        if op == 'a' and k == dm.LIST or op == 's' and k == dm.DICT or op == 'A' and k in (dm.SET,):
            target.items.extend(values)
        elif k == dm.OBJECT:
            if values:
                target.add_op(op, values)
        else:
            raise Bad('%s on %s' % (op, k))

    op = b''
    while True:
        previous, op = op, take(1)
        if op == b'.':
            return stack[-1]
        if op == b'\x80':
            proto = take(1)[0]
        elif op == b'\x95':
            take(8)
        elif op == b'(':
            marks.append(len(stack))
        elif op == b'0':
            if marks and marks[-1] == len(stack):
                marks.pop()
            else:
                top = stack.pop()
                # REDUCE then POP (a state_setter): the call is an operation on its first argument.
                if previous == b'R' and top.kind == dm.OBJECT and top.data == 'R' and top.items[1].kind == dm.TUPLE:
                    first = top.items[1].items[0]
                    if first.kind in (dm.OBJECT, dm.GLOBAL):
                        first.add_op('c', [top.items[0]] + top.items[1].items[1:])
        elif op == b'1':
            pop_mark()
        elif op == b'2':
            stack.append(stack[-1])
        elif op == b'N':
            stack.append(dm.NONE)
        elif op == b'\x88':
            stack.append(dm.TRUE)
        elif op == b'\x89':
            stack.append(dm.FALSE)
        elif op == b'I':
            t = line()
            if t == b'01':
                stack.append(dm.TRUE)
            elif t == b'00':
                stack.append(dm.FALSE)
            else:
                stack.append(dm.atom(dm.int_token(int(t))))
        elif op == b'J':
            stack.append(dm.atom(dm.int_token(u('<i', 4))))
        elif op == b'K':
            stack.append(dm.atom(dm.int_token(take(1)[0])))
        elif op == b'M':
            stack.append(dm.atom(dm.int_token(u('<H', 2))))
        elif op == b'L':
            t = line()
            if t.endswith(b'L'):
                t = t[:-1]
            stack.append(dm.atom(dm.int_token(int(t))))
        elif op in (b'\x8a', b'\x8b'):
            n = take(1)[0] if op == b'\x8a' else u('<i', 4)
            stack.append(dm.atom(dm.int_token(int.from_bytes(take(n), 'little', signed=True))))
        elif op == b'F':
            x = float(line())
            stack.append(dm.atom(dm.CANONICAL_NAN if math.isnan(x) else dm.float_token(x)))
        elif op == b'G':
            stack.append(dm.atom('f' + take(8).hex()))
        elif op == b'S':
            t = line()
            if len(t) < 2 or t[0] != t[-1] or t[:1] not in (b'"', b"'"):
                raise Bad('STRING not quoted')
            stack.append(decode_py2_string(codecs.escape_decode(t[1:-1])[0], encoding))
        elif op == b'T':
            stack.append(decode_py2_string(take(u('<i', 4)), encoding))
        elif op == b'U':
            stack.append(decode_py2_string(take(take(1)[0]), encoding))
        elif op == b'C':
            stack.append(dm.Node(dm.BYTES, take(take(1)[0])))
        elif op == b'B':
            stack.append(dm.Node(dm.BYTES, take(u('<I', 4))))
        elif op == b'\x8e':
            stack.append(dm.Node(dm.BYTES, take(u('<Q', 8))))
        elif op == b'\x96':
            stack.append(dm.Node(dm.BYTEARRAY, take(u('<Q', 8))))
        elif op == b'V':
            stack.append(str_node(line().decode('raw-unicode-escape')))
        elif op == b'X':
            stack.append(dm.Node(dm.STR, take(u('<I', 4))))
        elif op == b'\x8c':
            stack.append(dm.Node(dm.STR, take(take(1)[0])))
        elif op == b'\x8d':
            stack.append(dm.Node(dm.STR, take(u('<Q', 8))))
        elif op == b'\x97':
            stack.append(dm.atom('B%d' % nbuf))
            nbuf += 1
        elif op == b'\x98':
            top = stack[-1]
            if top.kind == dm.ATOM and top.data.startswith('B') and not top.data.endswith('r'):
                stack[-1] = dm.atom(top.data + 'r')
        elif op == b')':
            stack.append(dm.EMPTY_TUPLE)
        elif op == b't':
            stack.append(tuple_of(pop_mark()))
        elif op in (b'\x85', b'\x86', b'\x87'):
            n = op[0] - 0x84
            items = stack[-n:]
            del stack[-n:]
            stack.append(tuple_of(items))
        elif op == b']':
            stack.append(dm.Node(dm.LIST))
        elif op == b'l':
            stack.append(dm.Node(dm.LIST, items=pop_mark()))
        elif op == b'a':
            v = stack.pop()
            add(stack[-1], 'a', [v])
        elif op == b'e':
            items = pop_mark()
            add(stack[-1], 'a', items)
        elif op == b'}':
            stack.append(dm.Node(dm.DICT))
        elif op == b'd':
            stack.append(dm.Node(dm.DICT, items=pop_mark()))
        elif op == b's':
            v = stack.pop()
            k = stack.pop()
            add(stack[-1], 's', [k, v])
        elif op == b'u':
            items = pop_mark()
            add(stack[-1], 's', items)
        elif op == b'\x8f':
            stack.append(dm.Node(dm.SET))
        elif op == b'\x90':
            items = pop_mark()
            add(stack[-1], 'A', items)
        elif op == b'\x91':
            stack.append(dm.Node(dm.FROZENSET, items=pop_mark()))
        elif op in (b'g', b'h', b'j'):
            idx = int(line()) if op == b'g' else (take(1)[0] if op == b'h' else u('<I', 4))
            stack.append(memo[idx])
        elif op in (b'p', b'q', b'r'):
            idx = int(line()) if op == b'p' else (take(1)[0] if op == b'q' else u('<I', 4))
            memo[idx] = stack[-1]
        elif op == b'\x94':
            memo[len(memo)] = stack[-1]
        elif op == b'c':
            module = line().decode('utf-8')
            name = line().decode('utf-8')
            stack.append(make_global(module, name))
        elif op == b'\x93':
            name = stack.pop()
            module = stack.pop()
            stack.append(make_global(module.data.decode('utf-8'), name.data.decode('utf-8')))
        elif op == b'R':
            args = stack.pop()
            func = stack.pop()
            folded = dm.fold(func, args)
            stack.append(folded if folded is not None else dm.Node(dm.OBJECT, 'R', [func, args]))
        elif op == b'\x81':
            args = stack.pop()
            cls = stack.pop()
            stack.append(dm.Node(dm.OBJECT, 'N', [cls, args]))
        elif op == b'\x92':
            kwargs = stack.pop()
            args = stack.pop()
            cls = stack.pop()
            stack.append(dm.Node(dm.OBJECT, 'X', [cls, args, kwargs]))
        elif op == b'i':
            module = line().decode('ascii')
            name = line().decode('ascii')
            items = pop_mark()
            stack.append(dm.Node(dm.OBJECT, 'I', [make_global(module, name), tuple_of(items)]))
        elif op == b'o':
            items = pop_mark()
            stack.append(dm.Node(dm.OBJECT, 'O', [items[0], tuple_of(items[1:])]))
        elif op == b'b':
            state = stack.pop()
            target = stack[-1]
            if target.kind != dm.OBJECT:
                raise Bad('BUILD on %s' % target.kind)
            target.add_op('b', [state])
        elif op == b'P':
            stack.append(dm.Node(dm.PERSID, items=[str_node(line().decode('ascii'))]))
        elif op == b'Q':
            stack.append(dm.Node(dm.PERSID, items=[stack.pop()]))
        elif op in (b'\x82', b'\x83', b'\x84'):
            code = take(1)[0] if op == b'\x82' else (u('<H', 2) if op == b'\x83' else u('<i', 4))
            stack.append(dm.atom('x%d' % code))
        else:
            raise Bad('opcode %r at %d' % (op, pos - 1))


def first_difference(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('corpus')
    ap.add_argument('--tables')
    ap.add_argument('-v', action='store_true')
    args = ap.parse_args()
    if args.tables:
        with open(args.tables) as f:
            tables = dm.load_tables(json.load(f))
    else:
        import _compat_pickle
        tables = dm.load_tables({'IMPORT_MAPPING': _compat_pickle.IMPORT_MAPPING,
                                 'NAME_MAPPING': [[list(k), list(v)] for k, v in _compat_pickle.NAME_MAPPING.items()]})
    total = 0
    failures = []
    for root, _dirs, files in sorted(os.walk(args.corpus)):
        for name in sorted(files):
            if not name.endswith('.pkl') or name.startswith('n_'):
                continue
            path = os.path.join(root, name)
            desc_path = path[:-4] + '.desc'
            if not os.path.exists(desc_path):
                continue
            total += 1
            header, expected = read_desc(desc_path)
            nbuf = int(header.get('buffers', '0'))
            for i in range(nbuf):
                if not os.path.exists(path[:-4] + '.buf%d' % i):
                    failures.append('%s: missing .buf%d' % (path, i))
            with open(path, 'rb') as f:
                data = f.read()
            try:
                got = dm.describe(symbolic_load(data, header.get('encoding', 'ascii'), tables))
            except Exception as e:  # noqa: BLE001
                failures.append('%s: %s: %s' % (path, type(e).__name__, e))
                continue
            if got != expected:
                i = first_difference(got, expected)
                failures.append('%s: differs at %d\n  desc:  ...%s\n  bytes: ...%s' % (
                    path, i, expected[max(0, i - 60):i + 60], got[max(0, i - 60):i + 60]))
            elif args.v:
                print('ok ' + path)
    for f in failures:
        print('MISMATCH ' + f)
    print('check_corpus: %d descriptions, %d agree with the bytes, %d do not'
          % (total, total - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
