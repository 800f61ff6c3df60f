#!/usr/bin/env python3
"""Regenerate tests/data/dis: pickles and what CPython 3.11's pickletools.dis prints for them.

Each case is <name>.pkl (the input) and <name>.dis (pickletools' output, UTF-8, up to the point
where it raised). MANIFEST has one line per case:

    <name> <annotate> <status> <offset> <opcode>

status is `ok`, `leftover` (pickletools raised "stack not empty after STOP" after printing
everything) or the brine::errc name expected from the ValueError pickletools raised; offset and
opcode (-1 for none) locate the failing opcode as brine reports it. They are derived here from
pickletools' own output and its tokenizer, independently of brine.

Run with CPython 3.11 from the repository root:  python3.11 tests/data/dis/generate.py
"""
import collections
import copyreg
import io
import os
import pickle
import pickletools
import struct
import sys

if sys.version_info[:2] != (3, 11):
    sys.exit("generate.py: run with CPython 3.11, whose pickletools brine matches")

HERE = os.path.dirname(os.path.abspath(__file__))


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Slots:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a, self.b = 1, [2]


class KwArgs:
    def __new__(cls, *a, **k):
        return object.__new__(cls)

    def __getnewargs_ex__(self):
        return ((1, 2), {"flag": True})


class Reduce:
    def __reduce__(self):
        return (collections.OrderedDict, ([("a", 1)],), None, None, iter([("b", 2)]))


for cls in (Point, Slots, KwArgs, Reduce):
    cls.__module__ = "__main__"
    setattr(sys.modules["__main__"], cls.__name__, cls)


def valid_objects():
    rec = []
    rec.append(rec)
    shared = [1, 2]
    tup = ([],)
    tup[0].append(tup)
    return [
        ("none", None), ("bools", [True, False]),
        ("ints", [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, 2**63, -2**63 - 1, 2**64]),
        ("bigint", [10**100, -(3**300)]),
        ("floats", [0.0, -0.0, 1.5, 1e100, 1e-100, 5e-324, float("inf"), float("-inf"), float("nan"),
                    1e16, 1e-5, 0.1, 1234567890123456.0]),
        ("strs", ["", "abc", "it's", 'a"b', "both'\"", "\n\t\r\\", "\x00\x7f\x80\xa0\xad\xff",
                  "\u20ac\u2028\ufeff", "\U0001f600\U000e0001", "\ud800", "x\udfffy", "caf\xe9"]),
        ("bytes", [b"", b"abc", b"'", b"\"'", bytes(range(0, 256, 7))]),
        ("bytearray", [bytearray(), bytearray(b"abc\x00\xff"), bytearray(b"it's")]),
        ("tuples", [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)]),
        ("dicts", [{}, {"a": 1, 2: [3]}, dict.fromkeys(range(3))]),
        ("sets", [set(), {1, 2, 3}, frozenset(), frozenset({1})]),
        ("shared", [shared, shared, {"k": (shared, shared)}]),
        ("recursive_list", rec), ("recursive_tuple", tup),
        ("objects", [Point(1, 2), Slots(), KwArgs(), Reduce()]),
        ("stdlib", [collections.OrderedDict(a=1), collections.deque([1, 2]), complex(1, 2), range(5),
                    slice(1, 2, 3), Ellipsis, int, len]),
        ("nested", [[[[[[[[]]]]]]], {"n": {"d": [({},), {1: 2}]}}]),
        ("batch1001", list(range(1001))),
    ]


def handmade():
    cases = []
    add = lambda name, data: cases.append((name, data))
    for i, s in enumerate([b"0", b"-1", b"00", b"01", b"010", b" 5 ", b"1_000", b"+5", b"-0", b"_1", b"1__0",
                           b"\t5\x0b", b"5\x00", b"0x10", b"", b"9" * 4300, b"9" * 4301, b"0" * 4301,
                           b"123456789012345678901234567890", b"True"]):
        add("int_text_%02d" % i, b"I" + s + b"\n.")
        add("long_text_%02d" % i, b"L" + s + b"L\n.")
    for i, s in enumerate([b"0", b"00", b"01", b"-1", b"99999999999999999999999", b"x"]):
        add("memo_text_%02d" % i, b"Np" + s + b"\n0g" + s + b"\n.")
    for i, s in enumerate([b"1.5", b" 1.5 ", b"1_0", b"1e400", b"-1e400", b"-1e-400", b"inf", b"-Infinity",
                           b"nan", b"1.", b".5", b"1_0.5_5e1_0", b"1._5", b"1e", b"nan(1)", b"0x1p3",
                           b"\x0c1\x0c", b"", b"0." + b"0" * 400 + b"1", b"2.5e-324"]):
        add("float_text_%02d" % i, b"F" + s + b"\n.")
    for i, s in enumerate([b"''", b"'", b"\"abc\"", b"'abc", b"abc", b"'a\\nb'", b"'\\x41'", b"'\\x4'",
                           b"'\\777'", b"'\\q'", b"'a\\'", b"'\xe9'", b"'\\xe9'", b"'\\t\\r\\v\\a\\b\\f\\0'",
                           b"'it\\'s'"]):
        add("string_%02d" % i, b"S" + s + b"\n.")
        add("persid_%02d" % i, b"P" + s + b"\n.")
        add("global_%02d" % i, b"c" + s + b"\n" + s + b"\n.")
    for i, s in enumerate([b"abc", b"\\u00e9", b"\\\\u00e9", b"\\\\\\u00e9", b"\\u00", b"\\U00110000",
                           b"\\ud800", b"\xe9", b"\\U0001F600", b"\\", b"\\u0027\\u0022", b"\\ud83d\\ude00"]):
        add("unicode_%02d" % i, b"V" + s + b"\n.")
    for i, s in enumerate([b"abc", b"\xc3\xa9", b"\xed\xa0\x80", b"\xc0\x80", b"\xff", b"\xf4\x90\x80\x80",
                           b"\xe2\x82", b"\xf0\x9f\x98\x80"]):
        add("binunicode1_%02d" % i, b"\x8c" + bytes([len(s)]) + s + b".")
        add("binunicode8_%02d" % i, b"\x8d" + struct.pack("<Q", len(s)) + s + b".")
    for i, s in enumerate([b"abc", b"\xe9\x80\xa0\xad", b"'", b"\"'"]):
        add("binstring_%02d" % i, b"T" + struct.pack("<i", len(s)) + s + b".")
    big = lambda v: b"\x8b" + struct.pack("<i", 1786) + v.to_bytes(1786, "little", signed=True) + b"."
    for name, data in [
        ("binstring_negative", b"T\xff\xff\xff\xff."), ("long1_empty", b"\x8a\x00."),
        ("long4_negative", b"\x8b\xff\xff\xff\xff."), ("long4_short", b"\x8b\x05\x00\x00\x00abc"),
        ("long4_4300_digits", big(10**4300 - 1)), ("long4_4301_digits", big(10**4300)),
        ("long4_neg_4301_digits", big(-(10**4300))), ("long4_neg_4300_digits", big(-(10**4300) + 1)),
        ("long4_huge", b"\x8b" + struct.pack("<i", 1800) + b"\x01" * 1800 + b"."),
        ("binbytes8_2_63", b"\x8e" + struct.pack("<Q", 1 << 63) + b"abc"),
        ("binbytes8_2_63_minus_1", b"\x8e" + struct.pack("<Q", (1 << 63) - 1) + b"abc"),
        ("bytearray8_2_40", b"\x96" + struct.pack("<Q", 1 << 40) + b"abc"),
        ("binunicode8_max", b"\x8d" + struct.pack("<Q", 2**64 - 1)), ("binbytes_short", b"B\xff\xff\xff\xff"),
        ("frame_max", b"\x95" + struct.pack("<Q", 2**64 - 1) + b"N."), ("binint_short", b"J\xff"),
        ("binint2_short", b"M\x01"), ("binint1_short", b"K"), ("binfloat_short", b"G\x00"), ("proto_short", b"\x80"),
        ("empty", b""), ("no_stop", b"N"), ("unknown_ff", b"\xff"), ("unknown_99", b"\x80\x05\x99."),
        ("stop_only", b"."), ("two_items", b"NN."), ("mark_left", b"(."), ("append_empty", b"a."),
        ("append_one", b"Na."), ("appends_no_mark", b"e."), ("appends_mark_only", b"(e."), ("pop_mark", b"(N0."),
        ("pop_of_mark", b"N(0."), ("pop_mark_op", b"(N1."), ("pop_mark_no_mark", b"N1."),
        ("mark_eaten_by_append", b"(Na(l."), ("mark_eaten_then_tuple", b"N((a(l."), ("tuple_no_mark", b"(N\x85t."),
        ("dict_odd", b"(Nd."), ("memoize_empty", b"\x94."), ("memoize_mark", b"(\x94."),
        ("memoize_twice", b"N\x94\x94."), ("binput_twice", b"Nq\x00q\x00."), ("binget_miss", b"Nq\x00h\x00h\x01."),
        ("put_false_then_0", b"Np00\np0\n."), ("put_true_get_1", b"Np01\nh\x01."), ("put_neg", b"Np-1\ng-1\n."),
        ("long_binput_max", b"Nr\xff\xff\xff\xff."), ("memoize_after_put1", b"Nq\x01\x94\x94."),
        ("put_mark", b"(q\x00."), ("put_empty", b"q\x00."), ("dup_mark", b"(2t."), ("stack_global_short", b"N\x93."),
        ("obj", b"(\x8c\x01a\x8c\x01b\x93o."), ("inst", b"(cfoo\nbar\ni."), ("inst_bad", b"(i\nfoo\nbar\n."),
        ("newobj_ex", b"NNN\x92."), ("buffers", b"\x97\x98."), ("binpersid", b"NQ."), ("persid", b"Pabc\n."),
        ("additems", b"\x8f(K\x01\x90."), ("frozenset", b"(K\x01\x91."), ("deep_marks", b"(" * 11 + b"N" + b"t" * 11 + b"."),
        ("proto_late", b"\x80\x05\x80\x04N."), ("proto_6", b"\x80\x06N."), ("setitems_odd", b"}(NNNu."),
        ("memo_redefined", b"K\x01q\x00K\x02q\x00h\x00."),
    ]:
        add(name, data)
    return cases


def expected(data, annotate):
    out = io.StringIO()
    exc = None
    try:
        pickletools.dis(data, out, annotate=annotate)
    except Exception as e:  # noqa: BLE001 - every failure is a case
        exc = e
    text = out.getvalue()
    if exc is None:
        return text, "ok", 0, -1
    msg = str(exc)
    if "stack not empty after STOP" in msg:
        return text, "leftover", 0, -1
    # Locate the failing opcode from pickletools' own output and tokenizer.
    lines = text.split("\n")
    dangling = lines[-1]  # "%5d: " when pickletools died while formatting the line
    complete = lines[:-1]
    ops = []
    try:
        for _op, _arg, pos, end in pickletools._genops(data, yield_end_pos=True):
            ops.append((pos, end))
    except Exception:  # noqa: BLE001
        pass
    if dangling:
        offset = int(dangling.strip().rstrip(":"))
    elif complete and isinstance(exc, ValueError) and (
            "MARK" in msg or "memo" in msg or "tries to pop" in msg):
        offset = ops[len(complete) - 1][0]
    else:
        offset = ops[len(complete) - 1][1] if complete else 0
    table = [
        ("pickle exhausted before seeing STOP", "truncated"), ("unknown", "invalid_opcode"),
        ("not enough data", "truncated"), ("but only", "truncated"), ("no newline found", "truncated"),
        ("byte count < 0", "negative_length"), ("sys.maxsize", "length_overflow"),
        ("string quotes", "bad_string_quote"), ("strinq quote", "bad_string_quote"),
        ("\\x escape", "bad_escape"), ("Trailing \\", "bad_escape"), ("'ascii' codec", "decode_error"),
        ("'utf-8' codec", "invalid_utf8"), ("rawunicodeescape", "bad_escape"),
        ("invalid literal for int", "bad_number"), ("could not convert string to float", "bad_number"),
        ("Exceeds the limit", "limit_exceeded"), ("no MARK exists", "mark_not_found"),
        ("list index out of range", "mark_not_found"), ("tries to pop", "stack_underflow"),
        ("already defined", "bad_memo_index"), ("never been stored", "memo_miss"),
        ("stack is empty", "stack_underflow"), ("markobject in the memo", "unexpected_mark"),
    ]
    for needle, code in table:
        if needle in msg:
            if code == "truncated" and needle == "pickle exhausted before seeing STOP":
                offset = len(data)
            return text, code, offset, data[offset] if offset < len(data) else -1
    raise SystemExit("generate.py: unclassified pickletools error %r for %r" % (exc, data))


def main():
    cases = []
    for name, obj in valid_objects():
        for proto in (2,) if name == "batch1001" else range(6):
            try:
                cases.append(("%s_p%d" % (name, proto), pickle.dumps(obj, protocol=proto), 0))
            except TypeError:  # e.g. __slots__ without __getstate__ below protocol 2
                pass
    cases.append(("python_pickler_p4", pickle._dumps(valid_objects()[4][1], protocol=4), 0))
    copyreg.add_extension("__main__", "Point", 0x7F)
    copyreg.add_extension("__main__", "Slots", 0x1234)
    copyreg.add_extension("__main__", "KwArgs", 0x7FFFFFFF)
    cases.append(("ext_codes_p2", pickle.dumps([Point, Slots, KwArgs], protocol=2), 0))
    bufs = []
    cases.append(("oob_p5", pickle.dumps([pickle.PickleBuffer(b"abc"), pickle.PickleBuffer(bytearray(b"xy"))],
                                         protocol=5, buffer_callback=bufs.append), 0))
    cases += [(name, data, 0) for name, data in handmade()]
    for name in ("strs_p0", "strs_p4", "objects_p2", "dicts_p5"):
        cases.append((name + "_annotate30", dict((n, d) for n, d, _ in cases)[name], 30))
    cases.append(("floats_p1_annotate1", dict((n, d) for n, d, _ in cases)["floats_p1"], 1))

    for f in os.listdir(HERE):
        if f.endswith((".pkl", ".dis")) or f == "MANIFEST":
            os.remove(os.path.join(HERE, f))
    manifest = []
    for name, data, annotate in cases:
        text, status, offset, opcode = expected(data, annotate)
        with open(os.path.join(HERE, name + ".pkl"), "wb") as f:
            f.write(data)
        with open(os.path.join(HERE, name + ".dis"), "wb") as f:
            f.write(text.encode("utf-8"))
        manifest.append("%s %d %s %d %d" % (name, annotate, status, offset, opcode))
    with open(os.path.join(HERE, "MANIFEST"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print("%d cases" % len(cases))


if __name__ == "__main__":
    main()
