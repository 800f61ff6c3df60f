#!/usr/bin/env python3
"""The CPython half of the differential driver: loads many pickles with CPython's C unpickler and
writes one canonical line per pickle ("brine-differential v1", README.md beside this file).

    python3 cpython_side.py            records on stdin, lines on stdout, until EOF
    python3 cpython_side.py FILE...    one record per file (CPython's pickle.loads defaults)

Records and lines are the same as brine_side.cpp's: a record is a u32 little-endian length n, a
flags byte, a buffer count and n bytes; a line is `A <canonical text>` or `R <exception type>
<message>`.

Nothing is imported or executed. The pickle is loaded by `_pickle.Unpickler` (the C unpickler; the
pure-Python one is never used) through a subclass whose hooks return inert placeholders:

  * find_class returns one placeholder class per (module, name): a class whose metaclass records
    calls (REDUCE, INST, OBJ) and whose __new__ records NEWOBJ / NEWOBJ_EX. It applies what
    CPython's own find_class applies before importing: the fix_imports mapping of the running
    interpreter's _compat_pickle while the stream's protocol is below 3, and the attribute-path
    rules (a dotted name needs protocol 4; '<locals>' and empty components cannot be reached; an
    empty module or name cannot be imported).
  * calls and NEWOBJs return `Obj` records; BUILD, APPEND(S), SETITEM(S) and ADDITEMS on them are
    recorded through __setstate__, append, __setitem__ and add, the methods the C unpickler calls.
  * persistent_load returns a `Pid` record (bit 6 of the flags removes persistent_load, so the C
    unpickler refuses persistent ids as pickle.loads does).
  * EXT codes: every code the stream names is registered in copyreg for the duration of the load
    (as in a program that registered them), resolving to a placeholder class per code.
  * with folding on (flag bit 2), builtins.set / frozenset / bytearray / bytes and _codecs.encode
    called by REDUCE with the argument shapes brine folds (decode.hpp) run the real builtin on
    those arguments, so the result (or CPython's error) is CPython's; any other call is recorded.

The C unpickler does not tell a hook which opcode called it or which protocol is in force, so a
pre-scan of the opcode stream (argument lengths only, as the C reader reads them) lists, in stream
order, the protocol in force at each GLOBAL / STACK_GLOBAL / INST, the opcode of each call
(REDUCE / INST / OBJ) and of each NEWOBJ / NEWOBJ_EX. Every such opcode that succeeds reaches
exactly one hook, in that order, because only placeholders are callable.
"""
import _compat_pickle
import copyreg
import io
import os
import pickle
import pickletools
import struct
import sys

try:
    import _pickle
    CUnpickler = _pickle.Unpickler
except ImportError:  # pragma: no cover - every CPython build has _pickle
    sys.exit("cpython_side: the C unpickler (_pickle) is not available")

ENCODINGS = ("ASCII", "latin1", "utf-8", "bytes")
EXT_MODULE = "\x00brine-ext"  # module name of the placeholder an EXT code resolves to
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# --- the opcode stream pre-scan --------------------------------------------------------------

def _arg_table():
    table = {}
    for op in pickletools.opcodes:
        a = op.arg
        code = ord(op.code) if isinstance(op.code, str) else op.code[0]
        if a is None:
            table[code] = (0, 0, False)
        elif a.name == "stringnl_noescape_pair":
            table[code] = ("lines", 2, False)
        elif a.n >= 0:
            table[code] = ("fixed", a.n, False)
        elif a.n == pickletools.UP_TO_NEWLINE:
            table[code] = ("lines", 1, False)
        elif a.n == pickletools.TAKEN_FROM_ARGUMENT1:
            table[code] = ("counted", 1, False)
        elif a.n == pickletools.TAKEN_FROM_ARGUMENT4:
            table[code] = ("counted", 4, True)
        elif a.n == pickletools.TAKEN_FROM_ARGUMENT4U:
            table[code] = ("counted", 4, False)
        elif a.n == pickletools.TAKEN_FROM_ARGUMENT8U:
            table[code] = ("counted", 8, False)
        else:  # pragma: no cover
            raise RuntimeError("unknown argument kind for %s" % op.name)
    return table


ARGS = _arg_table()
OP_PROTO, OP_STOP = 0x80, ord(".")
OP_GLOBAL, OP_STACK_GLOBAL, OP_INST = ord("c"), 0x93, ord("i")
OP_REDUCE, OP_OBJ = ord("R"), ord("o")
OP_NEWOBJ, OP_NEWOBJ_EX = 0x81, 0x92
OP_EXT = {0x82: 1, 0x83: 2, 0x84: 4}
OP_NEXT_BUFFER = 0x97


def prescan(data):
    """(protocols at each find_class, call letters, newobj letters, EXT codes, NEXT_BUFFER count),
    up to STOP or the first opcode the C reader could not read."""
    proto = 0
    finds, calls, news, exts = [], [], [], set()
    next_buffers = 0
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        i += 1
        spec = ARGS.get(c)
        if spec is None:
            break
        kind, width, signed = spec
        start = i
        if kind == "fixed":
            if n - i < width:
                break
            i += width
        elif kind == "lines":
            ok = True
            for _ in range(width):
                j = data.find(b"\n", i)
                if j < 0:
                    ok = False
                    break
                i = j + 1
            if not ok:
                break
        elif kind == "counted":
            if n - i < width:
                break
            length = int.from_bytes(data[i:i + width], "little", signed=signed)
            i += width
            if length < 0 or n - i < length:
                break
            i += length
        if c == OP_PROTO:
            if data[start] > pickle.HIGHEST_PROTOCOL:
                break
            proto = data[start]
        elif c == OP_GLOBAL or c == OP_STACK_GLOBAL:
            finds.append(proto)
        elif c == OP_INST:
            finds.append(proto)
            calls.append("I")
        elif c == OP_REDUCE:
            calls.append("R")
        elif c == OP_OBJ:
            calls.append("O")
        elif c == OP_NEWOBJ:
            news.append("N")
        elif c == OP_NEWOBJ_EX:
            news.append("X")
        elif c in OP_EXT:
            w = OP_EXT[c]
            code = int.from_bytes(data[start:start + w], "little", signed=(w == 4))
            if code > 0:
                exts.add(code)
        elif c == OP_NEXT_BUFFER:
            next_buffers += 1
        elif c == OP_STOP:
            break
    return finds, calls, news, exts, next_buffers


# --- the placeholders ------------------------------------------------------------------------

class Context(object):
    """What the hooks of one load need: the pre-scanned queues and the placeholder classes."""

    def __init__(self, finds, calls, news, fold, fix_imports):
        self.finds, self.calls, self.news = finds, calls, news
        self.fi = self.ci = self.ni = 0
        self.fold, self.fix_imports = fold, fix_imports
        self.classes = {}
        self.rank = 0

    def next_find(self):
        i = self.fi
        self.fi += 1
        return self.finds[i] if i < len(self.finds) else (self.finds[-1] if self.finds else 0)

    def next_call(self):
        i = self.ci
        self.ci += 1
        return self.calls[i] if i < len(self.calls) else "?"

    def next_new(self):
        i = self.ni
        self.ni += 1
        return self.news[i] if i < len(self.news) else "?"


CTX = None


def add_op(ops, group, values):
    if group != "b" and ops and ops[-1][0] == group:
        ops[-1][1].extend(values)
    else:
        ops.append([group, list(values)])


def next_rank():
    CTX.rank += 1
    return CTX.rank


class Obj(object):
    """A recorded object: how ('R', 'N', 'X', 'I', 'O'), the callable, the arguments, the ops, and
    its rank in creation order (set items of the same shape are ordered by it)."""
    __slots__ = ("how", "callable", "args", "kwargs", "ops", "rank", "__weakref__")

    def __init__(self, how, callable_, args, kwargs):
        self.how, self.callable, self.args, self.kwargs, self.ops = how, callable_, args, kwargs, []
        self.rank = next_rank()

    def __call__(self, *args):
        return Obj(CTX.next_call(), self, args, None)

    def __setstate__(self, state):
        add_op(self.ops, "b", (state,))

    def append(self, item):
        add_op(self.ops, "a", (item,))

    def __setitem__(self, key, value):
        add_op(self.ops, "s", (key, value))

    def add(self, item):
        add_op(self.ops, "A", (item,))


class Pid(object):
    """What persistent_load returned for a persistent id: callable, nothing else."""
    __slots__ = ("pid", "rank", "__weakref__")

    def __init__(self, pid):
        self.pid = pid
        self.rank = next_rank()

    def __call__(self, *args):
        return Obj(CTX.next_call(), self, args, None)


NOFOLD = object()


def fold(which, args):
    """CPython's result for the calls brine folds (decode.hpp `fold_builtins`), else NOFOLD."""
    n = len(args)
    if which in ("set", "frozenset"):
        make = set if which == "set" else frozenset
        if n == 0:
            return make()
        if n == 1 and type(args[0]) is list:
            return make(args[0])
    elif which == "bytearray":
        if n == 0:
            return bytearray()
        if n == 1 and type(args[0]) is bytes:
            return bytearray(args[0])
        if n == 2 and type(args[0]) is str and type(args[1]) is str and args[1] in ("latin-1", "latin1"):
            return bytearray(args[0], args[1])
    elif which == "encode":
        if n == 2 and type(args[0]) is str and type(args[1]) is str and args[1] in ("latin-1", "latin1"):
            return args[0].encode(args[1])
    elif which == "bytes":
        if n == 0:
            return b""
    return NOFOLD


FOLDS = {("builtins", "set"): "set", ("builtins", "frozenset"): "frozenset",
         ("builtins", "bytearray"): "bytearray", ("builtins", "bytes"): "bytes",
         ("_codecs", "encode"): "encode"}


class Placeholder(type):
    """Metaclass of the placeholder classes: calling one records a call; BUILD records a BUILD."""

    def __call__(cls, *args):
        how = CTX.next_call()
        which = cls.__dict__.get("_pl_fold")
        if which is not None and how == "R":
            result = fold(which, args)
            if result is not NOFOLD:
                return result
        return Obj(how, cls, args, None)

    def __setstate__(cls, state):
        add_op(cls.__dict__["_pl_ops"], "b", (state,))


def _new(cls, *args, **kwargs):
    how = CTX.next_new()
    return Obj(how, cls, args, kwargs if how == "X" else None)


def placeholder(module, name, ext=None):
    key = (module, name)
    cls = CTX.classes.get(key)
    if cls is None:
        body = {"__new__": _new, "__getinitargs__": None, "_pl_module": module, "_pl_name": name,
                "_pl_ops": [], "_pl_ext": ext, "__slots__": ()}
        if CTX.fold and ext is None and key in FOLDS:
            body["_pl_fold"] = FOLDS[key]
        cls = Placeholder("placeholder", (object,), body)
        CTX.classes[key] = cls
    return cls


class Loader(CUnpickler):
    def find_class(self, module, name):
        if module == EXT_MODULE:
            return placeholder(module, name, int(name))
        proto = CTX.next_find()
        if proto < 3 and CTX.fix_imports:
            mapped = _compat_pickle.NAME_MAPPING.get((module, name))
            if mapped is not None:
                module, name = mapped
            else:
                module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if not module:
            raise ValueError("Empty module name")
        if not name:
            raise AttributeError("module %r has no attribute ''" % module)
        if "." in name:
            if proto < 4:
                raise AttributeError("Can't get attribute %r on module %r" % (name, module))
            for part in name.split("."):
                if part == "<locals>":
                    raise AttributeError("Can't get local attribute %r on module %r" % (name, module))
                if not part:
                    raise AttributeError("Can't get attribute %r on module %r" % (name, module))
        return placeholder(module, name)

    def persistent_load(self, pid):
        return Pid(pid)


# Without persistent_load the C unpickler refuses persistent ids, as pickle.loads does.
LoaderNoPersistent = type("LoaderNoPersistent", (CUnpickler,), {"find_class": Loader.find_class})


# --- the canonical text ------------------------------------------------------------------------

def int_token(x):
    if INT64_MIN <= x <= INT64_MAX:
        return "i%d" % x
    return "i-0x%x" % -x if x < 0 else "i0x%x" % x


def float_token(x):
    return "f" + struct.pack(">d", x).hex()


def str_hex(s):
    return s.encode("utf-8", "surrogatepass").hex()


def shape(x, depth, bufs):
    """A numbering-free shape for ordering set items (README.md "shape")."""
    t = type(x)
    d = depth - 1
    if x is None:
        return "N"
    if t is bool:
        return "T" if x else "F"
    if t is int:
        return int_token(x)
    if t is float:
        return float_token(x)
    if t is str:
        return "s" + str_hex(x) + ";"
    if t is bytes:
        return "b" + x.hex() + ";"
    if t is memoryview:
        i = next((k for k, b in enumerate(bufs) if x.obj is b), None)
        if i is None:
            return "b" + x.tobytes().hex() + ";"
        return "B%d%s" % (i % (len(bufs) // 2), "r" if x.readonly else "")
    if t is pickle.PickleBuffer:
        return "B%d" % next(k for k, b in enumerate(bufs) if x is b)
    if t is bytearray:
        return "y" + x.hex() + ";"
    if t is Placeholder:
        if x._pl_ext is not None:
            return "x%d" % x._pl_ext
        return "g(%s,%s)" % (str_hex(x._pl_module), str_hex(x._pl_name))
    if t is Pid:
        return "P(" + (shape(x.pid, d, bufs) if depth > 0 else "") + ")"
    if t is Obj:
        if depth == 0:
            return "o" + x.how + "()"
        s = "o" + x.how + "(" + shape(x.callable, d, bufs) + ",(" + ",".join(shape(i, d, bufs) for i in x.args) + ")"
        if x.kwargs is not None:
            s += ",{" + ",".join(shape(k, d, bufs) + ":" + shape(v, d, bufs) for k, v in x.kwargs.items()) + "}"
        for group, values in x.ops:
            for v in values:
                s += "." + group + shape(v, d, bufs)
        return s + ")"
    if t is tuple or t is list:
        if t is tuple and not x:
            return "E"
        s = "t" if t is tuple else "l"
        if depth == 0:
            return s
        return s + "(" + ",".join(shape(i, d, bufs) for i in x) + ")"
    if t is dict:
        if depth == 0:
            return "d"
        return "d{" + ",".join(shape(k, d, bufs) + ":" + shape(v, d, bufs) for k, v in x.items()) + "}"
    if t is set or t is frozenset:
        s = "S" if t is set else "z"
        if depth == 0:
            return s
        return s + "{" + ",".join(sorted(shape(i, d, bufs) for i in x)) + "}"
    return "?" + t.__name__


SHAPE_DEPTH = 4
OPEN = {"a": ".a[", "s": ".s{", "A": ".A{", "b": ".b("}
CLOSE = {"a": "]", "s": "}", "A": "}", "b": ")"}


class Lit(str):
    """A piece of output text on the walk stack (str subclass, so str values stay values)."""
    __slots__ = ()


class Args(object):
    __slots__ = ("items", "kwargs")

    def __init__(self, items, kwargs):
        self.items, self.kwargs = items, kwargs


def canonical(root, bufs):
    out = []
    numbers = {}
    keep = []  # keeps numbered objects alive, so id() stays unique during the walk
    stack = [root]
    n = len(bufs) // 2  # the PickleBuffers, then the bytearrays they export (memoryview.obj)
    buf_index = {id(b): i % n for i, b in enumerate(bufs)} if n else {}

    def push_items(body, items, sep=","):
        for i, v in enumerate(items):
            if i:
                body.append(Lit(sep))
            body.append(v)

    def push_ops(body, ops):
        for group, values in ops:
            if not values:
                continue
            body.append(Lit(OPEN[group]))
            for i, v in enumerate(values):
                if i:
                    body.append(Lit(":" if group == "s" and i % 2 == 1 else ","))
                body.append(v)
            body.append(Lit(CLOSE[group]))

    while stack:
        x = stack.pop()
        t = type(x)
        if t is Lit:
            out.append(x)
            continue
        if t is Args:
            body = [Lit("(")]
            push_items(body, x.items)
            body.append(Lit(")"))
            if x.kwargs is not None:
                body.append(Lit(",{"))
                for i, (k, v) in enumerate(x.kwargs.items()):
                    if i:
                        body.append(Lit(","))
                    body += [k, Lit(":"), v]
                body.append(Lit("}"))
            stack.extend(reversed(body))
            continue
        if x is None:
            out.append("N")
            continue
        if t is bool:
            out.append("T" if x else "F")
            continue
        if t is int:
            out.append(int_token(x))
            continue
        if t is float:
            out.append(float_token(x))
            continue
        if t is str:
            out.append("s" + str_hex(x) + ";")
            continue
        if t is bytes:
            out.append("b" + x.hex() + ";")
            continue
        if t is memoryview:
            i = buf_index.get(id(x.obj))
            if i is not None:
                out.append("B%d%s" % (i, "r" if x.readonly else ""))
            else:
                out.append("b" + x.tobytes().hex() + ";")
            continue
        if t is pickle.PickleBuffer:
            out.append("B%d" % buf_index[id(x)])
            continue
        if t is tuple and not x:
            out.append("E")
            continue
        if t is Pid:
            out.append("P(")
            stack.append(Lit(")"))
            stack.append(x.pid)
            continue
        if t is Placeholder and x._pl_ext is not None:
            out.append("x%d" % x._pl_ext)
            continue
        n = numbers.get(id(x))
        if n is not None:
            out.append("@%d" % n)
            continue
        n = len(numbers) + 1
        numbers[id(x)] = n
        keep.append(x)
        out.append("#%d=" % n)
        body = []
        if t is bytearray:
            out.append("y" + x.hex() + ";")
            continue
        elif t is tuple:
            body.append(Lit("t("))
            push_items(body, x)
            body.append(Lit(")"))
        elif t is list:
            body.append(Lit("l["))
            push_items(body, x)
            body.append(Lit("]"))
        elif t is dict:
            body.append(Lit("d{"))
            for i, (k, v) in enumerate(x.items()):
                if i:
                    body.append(Lit(","))
                body += [k, Lit(":"), v]
            body.append(Lit("}"))
        elif t is set or t is frozenset:
            body.append(Lit("S{" if t is set else "z{"))
            push_items(body, sorted(x, key=lambda item: (shape(item, SHAPE_DEPTH, bufs),
                                                         getattr(item, "rank", 0) if type(item) in (Obj, Pid) else 0)))
            body.append(Lit("}"))
        elif t is Placeholder:
            out.append("g(%s,%s)" % (str_hex(x._pl_module), str_hex(x._pl_name)))
            push_ops(body, x._pl_ops)
        elif t is Obj:
            body.append(Lit("o" + x.how + "("))
            body.append(x.callable)
            body.append(Lit(","))
            body.append(Args(x.args, x.kwargs))
            body.append(Lit(")"))
            push_ops(body, x.ops)
        else:
            out.append("?" + t.__name__)
        stack.extend(reversed(body))
    return "".join(out)


class OneShot(object):
    """A file whose first read() returns the whole pickle: the C unpickler then holds all of it in
    its input buffer, exactly as pickle.loads(bytes) does (a real file makes it read piecewise,
    and the C reader then treats frames differently: HARDENING.md row 33)."""

    def __init__(self, data):
        self.data = data

    def read(self, n=-1):
        data, self.data = self.data, b""
        return data

    def readline(self):
        return b""


# --- one record ------------------------------------------------------------------------------

def answer(data, flags, nbuffers):
    global CTX
    finds, calls, news, exts, _ = prescan(data)
    CTX = Context(finds, calls, news, fold=bool(flags & 4), fix_imports=bool(flags & 8))
    # Out-of-band buffers as a consumer passes them: PickleBuffer objects over writable memory.
    raw = [bytearray(b"buf%d" % i) for i in range(nbuffers)] if flags & 128 else []
    bufs = [pickle.PickleBuffer(b) for b in raw] if flags & 128 else None
    cls = LoaderNoPersistent if flags & 64 else Loader
    registered = []
    for code in exts:
        if code not in copyreg._inverted_registry:
            copyreg._inverted_registry[code] = (EXT_MODULE, str(code))
            registered.append(code)
    try:
        u = cls(OneShot(data), fix_imports=False, encoding=ENCODINGS[flags & 3], errors="strict",
                buffers=bufs)
        obj = u.load()
        del u
        return "A " + canonical(obj, (bufs or []) + raw)
    except Exception as e:  # every failure of the load is an answer
        return "R %s %s" % (type(e).__name__, str(e)[:300].replace("\n", " ").replace("\r", " "))
    finally:
        for code in registered:
            del copyreg._inverted_registry[code]
        copyreg._extension_cache.clear()
        CTX = None


def main(argv):
    try:  # a pickle that makes the C unpickler allocate by a declared size fails, not the machine
        import resource
        limit = int(os.environ.get("BRINE_DIFF_AS_LIMIT", str(6 << 30)))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    out = sys.stdout.buffer
    if len(argv) > 1:
        for path in argv[1:]:
            with open(path, "rb") as f:
                line = answer(f.read(), 4 | 8, 0)
            out.write(line.encode("utf-8", "backslashreplace") + b"\n")
        return 0
    inp = sys.stdin.buffer
    while True:
        head = inp.read(6)
        if not head:
            return 0
        if len(head) != 6:
            sys.stderr.write("cpython_side: truncated record header\n")
            return 2
        n = int.from_bytes(head[:4], "little")
        data = inp.read(n)
        if len(data) != n:
            sys.stderr.write("cpython_side: truncated record\n")
            return 2
        line = answer(data, head[4], head[5])
        out.write(line.encode("utf-8", "backslashreplace") + b"\n")
        out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
