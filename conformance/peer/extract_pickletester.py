#!/usr/bin/env python3
"""Extract CPython's own pickle test vectors into brine's peer suite (HARDENING.md §8).

Reads the installed `Lib/test/pickletester.py` of the running interpreter (CPython 3.11 is the
reference) and, when one is installed, also 3.13's copy for the tests 3.11 lacks. The file is never
imported: an AST walk with a tiny evaluator (bytes literals, `+`, `*`, `.replace`, `.encode`,
`str()`, `struct.pack`, `pickle.<OPCODE>`, loops over literal lists) expands every byte string
passed to `self.loads`, `check_unpickling_error`, `assertRaises(..., self.loads, ...)`.

Each vector is then loaded by the running CPython's C unpickler (`pickle.loads`, from memory) in an
environment like the one the test sets up (stub `__main__.C`, `locking_import`, `mödule`). The
outcome is written down:

  accept: the description of the decoded graph in brine-describe v1 format (docs/DESCRIBE.md),
          made by an inert recording unpickler (globals, calls, BUILD... are recorded, nothing is
          imported or run; the builtin folds of brine/decode.hpp are applied);
  reject: the exception type and message of the C unpickler, plus the inert description when
          the recorder accepts (the rejection needed imports or execution, which brine never does).

Output (conformance/peer/): one tab-separated data file per group, and dis/DATAn.dis with
`pickletools.dis(DATAn)` (equal to pickletester's `DATAn_DIS` for DATA0 and DATA1; the others are
stale in CPython's file and never compared there). Rerun after a CPython upgrade; `--check`
reports stale files.
"""

import argparse
import ast
import io
import os
import re
import pickle
import struct
import subprocess
import sys
import types
import hashlib

HERE = os.path.dirname(os.path.abspath(__file__))

# Group (output file) of each test method; methods not listed go to other.txt.
GROUPS = {
    "bad_stack": ["test_bad_stack"],
    "bad_mark": ["test_bad_mark"],
    "truncated": ["test_truncated_data", "test_incomplete_input"],
    "strings": ["test_badly_quoted_string", "test_badly_escaped_string",
                "test_correctly_quoted_string", "test_load_python2_str_as_bytes",
                "test_load_python2_unicode_as_str", "test_load_long_python2_str_as_bytes",
                "test_empty_bytestring", "test_short_binbytes", "test_binbytes",
                "test_short_binunicode", "test_binbytes8", "test_binunicode8", "test_bytearray8"],
    "misc": ["test_negative_put", "test_misc_get", "test_maxint64", "test_bad_reduce",
             "test_bad_newobj", "test_bad_newobj_ex", "test_bad_ext_code", "test_load_global",
             "test_load_stack_global", "test_constants", "test_frame_readline",
             "test_negative_32b_binbytes", "test_negative_32b_binunicode",
             "test_large_32b_binbytes8", "test_large_32b_bytearray8",
             "test_large_32b_binunicode8", "test_negative_32b_binput"],
    "data": ["test_load_from_data0", "test_load_from_data1", "test_load_from_data2",
             "test_load_from_data3", "test_load_from_data4"],
    "py2compat": ["test_unpickle_from_2x", "test_compat_unpickle", "test_load_classic_instance",
                  "test_unpickle_module_race"],
    "sharing": ["test_get", "test_binget", "test_long_binget", "test_dup"],
}
GROUP_OF = {t: g for g, ts in GROUPS.items() for t in ts}

# Test methods walked: all of AbstractUnpickleTests, plus these from other classes.
EXTRA_METHODS = {"AbstractPickleModuleTests": ["test_incomplete_input"]}


# --- the evaluator --------------------------------------------------------------------------------

class Unevaluable(Exception):
    pass


class Sym:
    """A name the evaluator does not know (a class or exception): only its __name__ is used."""

    def __init__(self, name):
        self.__name__ = name

    def __repr__(self):
        return self.__name__


SAFE_METHODS = {"replace", "encode", "decode", "join", "ljust", "rjust"}
SAFE_FUNCS = {"str": str, "bytes": bytes, "len": len, "int": int}


class Evaluator:
    def __init__(self, module_env):
        self.env = dict(module_env)

    def eval(self, node, env):
        try:
            return self._eval(node, env)
        except (TypeError, ValueError, AttributeError, IndexError, struct.error) as e:
            raise Unevaluable(ast.unparse(node)) from e

    def _eval(self, node, env):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in env:
                v = env[node.id]
                if v is Unevaluable:
                    raise Unevaluable(node.id)
                return v
            return Sym(node.id)
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.eval(e, env) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.BinOp):
            a, b = self.eval(node.left, env), self.eval(node.right, env)
            ops = {ast.Add: lambda: a + b, ast.Mult: lambda: a * b, ast.Sub: lambda: a - b,
                   ast.LShift: lambda: a << b, ast.Pow: lambda: a ** b}
            if type(node.op) in ops and not isinstance(a, Sym) and not isinstance(b, Sym):
                return ops[type(node.op)]()
            raise Unevaluable(ast.unparse(node))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.eval(node.operand, env)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "pickle":
                v = getattr(pickle, node.attr, None)
                if isinstance(v, (bytes, int)):
                    return v
                raise Unevaluable(ast.unparse(node))
            base = self.eval(node.value, env)
            if node.attr == "__name__" and isinstance(base, Sym):
                return base.__name__
            raise Unevaluable(ast.unparse(node))
        if isinstance(node, ast.Call):
            f = node.func
            if node.keywords:
                raise Unevaluable(ast.unparse(node))
            args = [self.eval(a, env) for a in node.args]
            if isinstance(f, ast.Name) and f.id in SAFE_FUNCS:
                return SAFE_FUNCS[f.id](*args)
            if isinstance(f, ast.Attribute):
                if isinstance(f.value, ast.Name) and f.value.id == "struct" and f.attr == "pack":
                    return struct.pack(*args)
                if isinstance(f.value, ast.Name) and f.value.id == "io" and \
                        f.attr == "BytesIO" and len(args) == 1:
                    return args[0]  # test_incomplete_input loads from a BytesIO
                if f.attr in SAFE_METHODS:
                    base = self.eval(f.value, env)
                    if isinstance(base, (bytes, str)):
                        return getattr(base, f.attr)(*args)
            raise Unevaluable(ast.unparse(node))
        raise Unevaluable(ast.unparse(node))


def module_constants(tree):
    """Module-level NAME = <evaluable> assignments (DATA0, exception_pickle, ...)."""
    ev = Evaluator({})
    env = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name):
            try:
                env[stmt.targets[0].id] = ev.eval(stmt.value, env)
            except Unevaluable:
                pass
    return env


def is_self_attr(node, *names):
    return (isinstance(node, ast.Attribute) and node.attr in names and
            isinstance(node.value, ast.Name) and node.value.id in ("self", "pickle"))


class VectorCollector:
    """Walks one test method, symbolically executing the statements that build vectors."""

    def __init__(self, evaluator, test, source):
        self.ev = evaluator
        self.test = test
        self.source = source
        self.found = []     # (data, options dict, expects 'ok' | 'raise')
        self.skipped = []   # unparsed calls that could not be evaluated

    def bind(self, target, value, env):
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(value, (tuple, list)) or len(value) != len(target.elts):
                raise Unevaluable("unpack")
            for t, v in zip(target.elts, value):
                self.bind(t, v, env)
        else:
            raise Unevaluable("target")

    def record(self, data_node, kw_nodes, env, expects):
        try:
            data = self.ev.eval(data_node, env)
            opts = {k.arg: self.ev.eval(k.value, env) for k in kw_nodes}
        except Unevaluable:
            self.skipped.append(ast.unparse(data_node))
            return
        if not isinstance(data, bytes):
            self.skipped.append(ast.unparse(data_node))
            return
        self.found.append((data, opts, expects))

    def scan_expr(self, node, env, raising):
        """Find loads calls inside one expression (not inside nested lambdas)."""
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Call):
            f = node.func
            if is_self_attr(f, "check_unpickling_error") and len(node.args) == 2:
                self.record(node.args[1], node.keywords, env, "raise")
                return
            if is_self_attr(f, "assertRaises") and len(node.args) >= 3 and \
                    is_self_attr(node.args[1], "loads", "load"):
                self.record(node.args[2], node.keywords, env, "raise")
                return
            if is_self_attr(f, "loads", "load") and node.args:
                self.record(node.args[0], node.keywords, env, "raise" if raising else "ok")
                return
        for child in ast.iter_child_nodes(node):
            self.scan_expr(child, env, raising)

    def run(self, body, env, raising=False):
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                self.scan_expr(stmt.value, env, raising)
                try:
                    value = self.ev.eval(stmt.value, env)
                except Unevaluable:
                    value = Unevaluable
                for t in stmt.targets:
                    try:
                        self.bind(t, value, env)
                    except Unevaluable:
                        pass
            elif isinstance(stmt, ast.For):
                try:
                    items = self.ev.eval(stmt.iter, env)
                except Unevaluable:
                    self.skipped.append("for " + ast.unparse(stmt.iter))
                    continue
                for item in items:
                    inner = dict(env)
                    self.bind(stmt.target, item, inner)
                    self.run(stmt.body, inner, raising)
            elif isinstance(stmt, ast.With):
                r = raising or any(
                    isinstance(i.context_expr, ast.Call) and
                    is_self_attr(i.context_expr.func, "assertRaises")
                    for i in stmt.items)
                self.run(stmt.body, env, r)
            elif isinstance(stmt, ast.Try):
                self.run(stmt.body, env, raising)
            elif isinstance(stmt, ast.FunctionDef):
                self.run(stmt.body, dict(env), raising)  # e.g. the thread body of a race test
            elif isinstance(stmt, (ast.Expr, ast.Return)) and stmt.value is not None:
                self.scan_expr(stmt.value, env, raising)


def collect_vectors(path, label):
    with open(path, encoding="utf-8") as f:
        src = f.read()
    tree = ast.parse(src)
    ev = Evaluator({})
    consts = module_constants(tree)
    out = {}  # test -> VectorCollector
    dis = {k[:-len("_DIS")]: (consts[k[:-len("_DIS")]], v) for k, v in consts.items()
           if k.endswith("_DIS") and isinstance(v, str) and
           isinstance(consts.get(k[:-len("_DIS")]), bytes)}
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        wanted = None if cls.name == "AbstractUnpickleTests" else EXTRA_METHODS.get(cls.name)
        if cls.name != "AbstractUnpickleTests" and not wanted:
            continue
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test_"):
                continue
            if wanted is not None and fn.name not in wanted:
                continue
            c = VectorCollector(ev, fn.name, label)
            env = dict(consts)
            env["self"] = Unevaluable
            c.run(fn.body, env)
            if c.found or c.skipped:
                out[fn.name] = c
    return out, dis, hashlib.sha256(src.encode("utf-8")).hexdigest()


# --- CPython's outcome ----------------------------------------------------------------------------

class _StubC:
    """Stands in for pickletester's C/D/E classes, which it installs in __main__."""


def install_test_environment():
    main = sys.modules["__main__"]
    for name in ("C", "D", "E"):
        cls = type(name, (_StubC,), {"__module__": "__main__"})
        setattr(main, name, cls)
    race = types.ModuleType("locking_import")
    race.ToBeUnpickled = type("ToBeUnpickled", (), {"__module__": "locking_import"})
    sys.modules["locking_import"] = race
    sys.modules["mödule"] = types.SimpleNamespace(glöbal=42)


def cpython_outcome(data, opts):
    """('accept', value) or ('reject', type name, message) from the C unpickler in memory."""
    try:
        return ("accept", pickle.loads(data, **opts))
    except BaseException as e:  # noqa: BLE001 - every failure is data here
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return ("reject", type(e).__name__, str(e))


# --- the inert recorder ---------------------------------------------------------------------------

class RStr(str):
    """A str with its own identity (CPython caches 1-character strings; pickled ones are distinct)."""


class RBytes(bytes):
    pass


class GlobalRec:
    def __init__(self, module, name, mapped_module, mapped_name):
        self.module, self.name = module, name
        self.mapped_module, self.mapped_name = mapped_module, mapped_name


class ObjRec:
    def __init__(self, kind, callable_, args, kwargs=None):
        self.kind, self.callable, self.args, self.kwargs = kind, callable_, args, kwargs
        self.ops = []  # [letter, payload]; letters a/s/A merge with a previous op of that letter

    def op(self, letter, values):
        if letter != "b" and self.ops and self.ops[-1][0] == letter:
            self.ops[-1][1].extend(values)
        else:
            self.ops.append([letter, list(values)])


class SetRec:
    """set / frozenset in stream order (DESCRIBE.md: iteration order = stream order)."""

    def __init__(self, letter, items=()):
        self.letter, self.items, self._seen = letter, [], set()
        for x in items:
            self.add(x)

    def add(self, x):
        if x not in self._seen:  # TypeError for unhashable items, as in CPython
            self._seen.add(x)
            self.items.append(x)

    def __hash__(self):
        if self.letter != "z":
            raise TypeError("unhashable type: 'set'")
        return hash(frozenset(self._seen))

    def __eq__(self, other):
        return isinstance(other, SetRec) and self.letter == other.letter and \
            self._seen == other._seen


class PersRec:
    def __init__(self, pid, binary):
        self.pid, self.binary = pid, binary


class ExtRec:
    def __init__(self, code):
        self.code = code


# Opcodes that push a fresh str or bytes (STRING, BINSTRING, SHORT_BINSTRING, UNICODE, BINUNICODE,
# SHORT_BINUNICODE, BINUNICODE8, BINBYTES, SHORT_BINBYTES, BINBYTES8).
WRAP_OPS = set(b"STUVX\x8c\x8dBC\x8e")


class Recorder(pickle._Unpickler):
    """pickle._Unpickler with every opcode that would import or run code made inert."""

    def __init__(self, data, **kw):
        super().__init__(io.BytesIO(data), **kw)
        d = dict(pickle._Unpickler.dispatch)
        for op in WRAP_OPS:
            d[op] = self._wrapping(d[op])
        ops = {
            pickle.GLOBAL: Recorder.r_global, pickle.STACK_GLOBAL: Recorder.r_stack_global,
            pickle.INST: Recorder.r_inst, pickle.OBJ: Recorder.r_obj,
            pickle.REDUCE: Recorder.r_reduce, pickle.NEWOBJ: Recorder.r_newobj,
            pickle.NEWOBJ_EX: Recorder.r_newobj_ex, pickle.BUILD: Recorder.r_build,
            pickle.APPEND: Recorder.r_append, pickle.APPENDS: Recorder.r_appends,
            pickle.SETITEM: Recorder.r_setitem, pickle.SETITEMS: Recorder.r_setitems,
            pickle.ADDITEMS: Recorder.r_additems, pickle.EMPTY_SET: Recorder.r_empty_set,
            pickle.FROZENSET: Recorder.r_frozenset, pickle.PERSID: Recorder.r_persid,
            pickle.BINPERSID: Recorder.r_binpersid,
        }
        for k, f in ops.items():
            d[k[0]] = f
        self.dispatch = d

    @staticmethod
    def _wrapping(f):
        def g(self):
            f(self)
            top = self.stack[-1]
            if type(top) is str:
                self.stack[-1] = RStr(top)
            elif type(top) is bytes:
                self.stack[-1] = RBytes(top)
        return g

    def find_class(self, module, name):
        m, n = module, name
        if self.proto < 3 and self.fix_imports:
            import _compat_pickle as c
            if (m, n) in c.NAME_MAPPING:
                m, n = c.NAME_MAPPING[(m, n)]
            elif m in c.IMPORT_MAPPING:
                m = c.IMPORT_MAPPING[m]
        return GlobalRec(RStr(module), RStr(name), RStr(m), RStr(n))

    def get_extension(self, code):
        if code <= 0:
            raise pickle.UnpicklingError("EXT specifies code <= 0")
        self.append(ExtRec(code))

    def r_global(self):
        module = self.readline()[:-1].decode("utf-8")
        name = self.readline()[:-1].decode("utf-8")
        self.append(self.find_class(module, name))

    def r_stack_global(self):
        name = self.stack.pop()
        module = self.stack.pop()
        if not isinstance(name, str) or not isinstance(module, str):
            raise pickle.UnpicklingError("STACK_GLOBAL requires str")
        self.append(self.find_class(str(module), str(name)))

    def r_inst(self):
        module = self.readline()[:-1].decode("ascii")
        name = self.readline()[:-1].decode("ascii")
        cls = self.find_class(module, name)
        args = tuple(self.pop_mark())  # pop_mark rebinds self.append: call it first
        self.append(ObjRec("I", cls, args))

    def r_obj(self):
        args = self.pop_mark()
        cls = args.pop(0)
        self.append(ObjRec("O", cls, tuple(args)))

    def r_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        self.stack[-1] = fold(func, args)

    def r_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(ObjRec("N", cls, args))

    def r_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(ObjRec("X", cls, args, kwargs))

    def r_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, ObjRec):
            raise pickle.UnpicklingError("BUILD on a non-object")
        inst.op("b", [state])

    def _extend(self, target, items):
        if type(target) is list:
            target.extend(items)
        elif isinstance(target, ObjRec):
            target.op("a", items)
        elif items:  # C: APPENDS of nothing is a no-op on anything (gh-135573)
            raise pickle.UnpicklingError("APPEND on a non-list")

    def r_append(self):
        value = self.stack.pop()
        self._extend(self.stack[-1], [value])

    def r_appends(self):
        items = self.pop_mark()
        self._extend(self.stack[-1], items)

    def _setitems(self, target, pairs):
        if type(target) is dict:
            for i in range(0, len(pairs), 2):
                target[pairs[i]] = pairs[i + 1]
        elif isinstance(target, ObjRec):
            target.op("s", pairs)
        elif pairs:
            raise pickle.UnpicklingError("SETITEM on a non-dict")

    def r_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._setitems(self.stack[-1], [key, value])

    def r_setitems(self):
        items = self.pop_mark()
        if len(items) % 2:
            raise pickle.UnpicklingError("odd number of items for SETITEMS")
        self._setitems(self.stack[-1], items)

    def r_additems(self):
        items = self.pop_mark()
        target = self.stack[-1]
        if isinstance(target, SetRec) and target.letter == "S":
            for x in items:
                target.add(x)
        elif isinstance(target, ObjRec):
            target.op("A", items)
        elif items:
            raise pickle.UnpicklingError("ADDITEMS on a non-set")

    def r_empty_set(self):
        self.append(SetRec("S"))

    def r_frozenset(self):
        items = self.pop_mark()
        self.append(SetRec("z", items))

    def r_persid(self):
        self.append(PersRec(RStr(self.readline()[:-1].decode("ascii")), False))

    def r_binpersid(self):
        self.append(PersRec(self.stack.pop(), True))


def fold(func, args):
    """REDUCE, with the builtin folds brine/decode.hpp documents (fold_builtins)."""
    if isinstance(func, GlobalRec) and type(args) is tuple:
        q = (func.mapped_module, func.mapped_name)
        if q in (("builtins", "set"), ("builtins", "frozenset")) and len(args) == 1 and \
                type(args[0]) is list:
            return SetRec("S" if q[1] == "set" else "z", args[0])
        if q == ("builtins", "bytearray") and (
                args == () or (len(args) == 1 and isinstance(args[0], bytes))):
            return bytearray(args[0] if args else b"")
        if q == ("builtins", "bytes") and args == ():
            return RBytes(b"")
        if q == ("_codecs", "encode") and len(args) == 2 and isinstance(args[0], str) and \
                args[1] == "latin1":
            try:
                return RBytes(str(args[0]).encode("latin1"))
            except UnicodeEncodeError:
                pass
    return ObjRec("R", func, args)


def describe(root):
    """brine-describe v1 (docs/DESCRIBE.md) of a recorded graph."""
    numbers = {}
    out = []

    def hexs(s):
        return s.encode("utf-8", "surrogatepass").hex()

    def walk(v):
        if v is None:
            out.append("N")
            return
        if v is True or v is False:
            out.append("T" if v else "F")
            return
        if isinstance(v, int):
            out.append("i%d" % v)
            return
        if isinstance(v, float):
            out.append("f" + struct.pack(">d", v).hex())
            return
        if isinstance(v, tuple) and not v:
            out.append("E")
            return
        if isinstance(v, (PersRec,)):
            out.append("P(")
            walk(v.pid)
            out.append(")")
            return
        if isinstance(v, ExtRec):
            out.append("x%d" % v.code)
            return
        if id(v) in numbers:
            out.append("@%d" % numbers[id(v)])
            return
        numbers[id(v)] = len(numbers) + 1
        out.append("#%d=" % numbers[id(v)])

        def seq(items, open_, close, sep=","):
            out.append(open_)
            for i, x in enumerate(items):
                if i:
                    out.append(sep)
                walk(x)
            out.append(close)

        def pairs(flat, open_, close):
            out.append(open_)
            for i in range(0, len(flat), 2):
                if i:
                    out.append(",")
                walk(flat[i])
                out.append(":")
                walk(flat[i + 1])
            out.append(close)

        if isinstance(v, str):
            out.append("s%s;" % hexs(v))
        elif isinstance(v, bytes):
            out.append("b%s;" % v.hex())
        elif isinstance(v, bytearray):
            out.append("y%s;" % v.hex())
        elif isinstance(v, tuple):
            seq(v, "t(", ")")
        elif isinstance(v, list):
            seq(v, "l[", "]")
        elif isinstance(v, dict):
            pairs([x for kv in v.items() for x in kv], "d{", "}")
        elif isinstance(v, SetRec):
            seq(v.items, v.letter + "{", "}")
        elif isinstance(v, GlobalRec):
            out.append("g(%s,%s)" % (hexs(v.mapped_module), hexs(v.mapped_name)))
        elif isinstance(v, ObjRec):
            out.append("o%s(" % v.kind)
            walk(v.callable)
            out.append(",")
            walk(v.args)
            if v.kind == "X":
                out.append(",")
                walk(v.kwargs)
            out.append(")")
            for letter, vals in v.ops:
                if letter == "b":
                    out.append(".b(")
                    walk(vals[0])
                    out.append(")")
                elif letter == "a":
                    seq(vals, ".a[", "]")
                elif letter == "A":
                    seq(vals, ".A{", "}")
                else:
                    pairs(vals, ".s{", "}")
        else:
            raise TypeError("cannot describe %r" % type(v))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    walk(root)
    return "".join(out)


def record(data, opts):
    try:
        return describe(Recorder(data, **opts).load())
    except Exception:  # noqa: BLE001 - a recorder failure just means "no inert description"
        return None


def plain(v):
    """The recorder's graph as ordinary Python values, for the C-vs-recorder sanity check."""
    if isinstance(v, (GlobalRec, ObjRec, PersRec, ExtRec)):
        raise TypeError
    if isinstance(v, RStr):
        return str(v)
    if isinstance(v, RBytes):
        return bytes(v)
    if isinstance(v, SetRec):
        return (set if v.letter == "S" else frozenset)(plain(x) for x in v.items)
    if isinstance(v, tuple):
        return tuple(plain(x) for x in v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {plain(k): plain(x) for k, x in v.items()}
    return v


# --- output ---------------------------------------------------------------------------------------

def escape(s):
    # Module reprs name the file they were loaded from: keep no path of this machine.
    s = re.sub(r"(<module '[^']*') from '[^']*'>", r"\1>", s)
    return s.encode("ascii", "backslashreplace").decode("ascii") \
        .replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def find_other_pickletester(minor):
    """(version, path) of another installed CPython's pickletester.py, or None."""
    candidates = []
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=True).stdout.strip()
        names = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True,
                               check=True).stdout.split()
        for n in names:
            if n.startswith("3.%d." % minor):
                candidates.append(os.path.join(root, "versions", n, "bin", "python3.%d" % minor))
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates.append("python3.%d" % minor)
    for exe in candidates:
        try:
            r = subprocess.run([exe, "-I", "-c",
                                "import sys, sysconfig; print('%d.%d.%d' % sys.version_info[:3]);"
                                "print(sysconfig.get_paths()['stdlib'])"],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            version, stdlib = r.stdout.split("\n")[:2]
            path = os.path.join(stdlib, "test", "pickletester.py")
            if os.path.exists(path):
                return version, path
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed files differ")
    ap.add_argument("--no-extra", action="store_true", help="do not read 3.13's pickletester.py")
    ap.add_argument("--any-python", action="store_true",
                    help="allow a reference interpreter other than CPython 3.11")
    args = ap.parse_args()

    import sysconfig
    if sys.version_info[:2] != (3, 11) and not args.any_python:
        sys.exit("extract_pickletester: run with CPython 3.11 (messages are 3.11's), "
                 "or pass --any-python")
    if sys.implementation.name != "cpython" or pickle.loads.__module__ != "_pickle":
        sys.exit("extract_pickletester: needs CPython's C unpickler")
    try:  # CPython 3.11 allocates before reading (gh-115952): keep MemoryError a quick answer
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, resource.RLIM_INFINITY))
    except (ImportError, ValueError, OSError):
        pass

    ref_version = "%d.%d.%d" % sys.version_info[:3]
    ref_path = os.path.join(sysconfig.get_paths()["stdlib"], "test", "pickletester.py")
    if not os.path.exists(ref_path):
        sys.exit("extract_pickletester: no test/pickletester.py in this interpreter's stdlib "
                 "(Debian: install libpython3.11-testsuite, or use a pyenv build)")
    sources = [("CPython %s" % ref_version, ref_path)]
    if not args.no_extra:
        other = find_other_pickletester(13)
        if other:
            sources.append(("CPython %s" % other[0], other[1]))
        else:
            print("extract_pickletester: note: no CPython 3.13 found; 3.13-only tests skipped",
                  file=sys.stderr)

    install_test_environment()
    vectors = {}     # (test, data, opts tuple) -> (source label, expects)
    order = []
    dis = {}
    digests = []
    for label, path in sources:
        found, d, digest = collect_vectors(path, label)
        digests.append("%s sha256 %s" % (label, digest[:16]))
        for k, v in d.items():
            dis.setdefault(k, (label, v))
        for test, c in found.items():
            for s in c.skipped:
                print("extract_pickletester: %s: %s: not evaluable: %s" % (label, test, s),
                      file=sys.stderr)
            if test not in GROUP_OF:
                if c.found:
                    print("extract_pickletester: %s: %s: not in a group, skipped" % (label, test),
                          file=sys.stderr)
                continue
            for data, opts, expects in c.found:
                key = (test, data, tuple(sorted(opts.items())))
                if key not in vectors:
                    vectors[key] = (label, expects)
                    order.append(key)

    groups = {}
    problems = []
    for key in order:
        test, data, opts_t = key
        label, expects = vectors[key]
        opts = dict(opts_t)
        outcome = cpython_outcome(data, opts)
        inert = record(data, opts)
        optstr = ",".join("%s=%s" % kv for kv in opts_t) or "-"
        if outcome[0] == "accept":
            if inert is None:
                problems.append("%s %r: C accepts, recorder fails" % (test, data))
                continue
            try:  # where the result is plain data, the recorder must agree with the C unpickler
                same = plain(Recorder(data, **opts).load()) == outcome[1]
                if not same and outcome[1] == outcome[1]:
                    problems.append("%s %r: recorder disagrees with C" % (test, data))
            except TypeError:
                pass
            fields = [test, data.hex(), optstr, "accept", inert]
        else:
            fields = [test, data.hex(), optstr, "reject", outcome[1], escape(outcome[2])]
            if inert is not None:
                fields.append(inert)
        if (expects == "raise") != (outcome[0] == "reject"):
            print("extract_pickletester: note: %s %r: test expects %s, C %ss" % (
                test, data, expects, outcome[0]), file=sys.stderr)
        groups.setdefault(GROUP_OF.get(test, "other"), []).append((label, fields))
    if problems:
        sys.exit("extract_pickletester: " + "\n  ".join(problems))

    outputs = {}
    header_common = [
        "# brine peer suite: CPython's own pickle test vectors (HARDENING.md §8).",
        "# GENERATED by conformance/peer/extract_pickletester.py; do not edit, rerun it instead.",
        "# Vectors: Lib/test/pickletester.py of %s." % " and ".join(l for l, _ in sources),
        "#   (%s)" % "; ".join(digests),
        "# Outcomes: CPython %s C unpickler, pickle.loads(data, **options) from memory." %
        ref_version,
        "# Copyright (c) 2001 Python Software Foundation; All Rights Reserved. The vectors are",
        "# taken from CPython's test suite under the PSF License Agreement (version 2).",
        "#",
        "# One vector per line, tab-separated:",
        "#   <test>  <hex>  <options|->  accept  <brine-describe v1 description>",
        "#   <test>  <hex>  <options|->  reject  <exception type>  <message>  [<inert description>]",
        "# The inert description is what a decoder that imports and runs nothing should build when",
        "# CPython's rejection came from importing or calling (docs/DESCRIBE.md).",
    ]
    for g, rows in sorted(groups.items()):
        lines = list(header_common)
        extra = sorted({l for l, _ in rows if l != sources[0][0]})
        if extra:
            tests = sorted({f[0] for l, f in rows if l != sources[0][0]})
            lines.append("# From %s only: %s." % (", ".join(extra), ", ".join(tests)))
        lines += ["\t".join(f) for _, f in rows]
        outputs[os.path.join(HERE, g + ".txt")] = "\n".join(lines) + "\n"
    import pickletools
    for name, (label, (data, text)) in sorted(dis.items()):
        listing = io.StringIO()
        pickletools.dis(data, listing)
        same = listing.getvalue() == text
        head = [
            "# %s from Lib/test/pickletester.py of %s (PSF License Agreement)." % (name, label),
            "# GENERATED by conformance/peer/extract_pickletester.py; do not edit.",
            "# Below the comment lines: pickletools.dis(%s) of CPython %s, verbatim." % (
                name, ref_version),
            "# pickletester's %s_DIS is %s" % (name, "identical (CPython compares it)." if same else
                                              "stale (CPython never compares it): it predates"),
        ]
        if not same:
            head.append("# MEMOIZE's \"(as N)\" and writes opcode bytes >= 0x80 as raw characters.")
        head.append("# hex: " + data.hex())
        outputs[os.path.join(HERE, "dis", name + ".dis")] = \
            "\n".join(head) + "\n" + listing.getvalue()

    for path, text in outputs.items():
        for secret in {sys.prefix, sys.base_prefix, os.path.expanduser("~"), HERE}:
            if len(secret) > 1 and secret in text:
                sys.exit("extract_pickletester: %s would contain a local path" % path)
    stale = []
    for path, text in outputs.items():
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old == text:
            continue
        if args.check:
            stale.append(os.path.relpath(path, HERE))
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    for g, rows in sorted(groups.items()):
        acc = sum(1 for _, f in rows if f[3] == "accept")
        print("extract_pickletester: %-10s %3d vectors (%d accept, %d reject)" % (
            g, len(rows), acc, len(rows) - acc))
    if stale:
        sys.exit("extract_pickletester: out of date: " + ", ".join(stale))


if __name__ == "__main__":
    main()
