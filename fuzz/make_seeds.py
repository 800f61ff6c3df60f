#!/usr/bin/env python3
"""Write brine's fuzz seed corpus.

    python3 fuzz/make_seeds.py

corpus/shared/ (rewritten from scratch; every target starts from it, CTest replays it):
    p<proto>-<name>   pickle.dumps of varied objects at protocols 0-5 (frames, memo, sharing,
                      cycles, reductions, NEWOBJ_EX, out-of-band buffers, Python 2 name mapping)
    c<row>-<i>        every byte vector of the bad-input catalogue, HARDENING.md section 7 (rows 62-65
                      and 68 scaled down; row 67 is about ZIP containers, not pickle bytes)
    d-<name>          the C-vs-Python differentials of HARDENING.md section 4 not already in section 7
    h-<name>          hand-written pickles for opcodes and paths dumps() never writes (text opcodes,
                      Python 2 strings, EXT, PERSID, LONG_BINGET, the reductions brine folds)
corpus/<target>/seed-<name>  inputs aimed at one target's property. Files named otherwise there
                      (regression-<short>: reproducers of fixed bugs) are kept as they are.

The output is deterministic for one Python version (string sets use PYTHONHASHSEED=0). The seeds
are committed; rerun this after changing it and commit the result.
"""
import collections
import datetime
import decimal
import fractions
import os
import pickle
import shutil
import struct
import sys

if os.environ.get("PYTHONHASHSEED") != "0":  # set iteration order must not depend on the run
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def q(n):
    return struct.pack("<Q", n)


def long1(x):
    n = (x.bit_length() + 8) // 8 if x else 0
    return b"\x8a" + bytes([n]) + x.to_bytes(n, "little", signed=True)


# --- objects for pickle.dumps ----------------------------------------------------------------------

class Plain:
    def __init__(self):
        self.a = 1
        self.b = [2, "three"]


class Slots:
    __slots__ = ("x", "y")

    def __init__(self):
        self.x = 1
        self.y = (2,)


class WithState:
    def __init__(self):
        self.v = 5

    def __getstate__(self):
        return ("state", self.v)

    def __setstate__(self, state):
        self.v = state[1]


class KwNew:
    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)

    def __init__(self, a=1, k=2):
        self.a, self.k = a, k

    def __getnewargs_ex__(self):
        return (self.a,), {"k": self.k}


class ListSub(list):
    pass


class DictSub(dict):
    pass


class SetSub(set):
    pass


def objects():
    shared_str = "shared"
    shared_list = [1]
    cyclic_list = []
    cyclic_list.append(cyclic_list)
    cyclic_dict = {}
    cyclic_dict["self"] = cyclic_dict
    inner = []
    tuple_cycle = (inner,)
    inner.append(tuple_cycle)
    nested = []
    for _ in range(40):
        nested = [nested]
    ls = ListSub([1, 2])
    ls.attr = "x"
    ds = DictSub(a=1)
    yield from [
        ("none", None),
        ("bools", [True, False]),
        ("ints", [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, 2**63 - 1, -2**63, 2**64]),
        ("bigints", [2**100, -(2**200), 10**50, 2**64 - 1]),
        ("floats", [0.0, -0.0, 1.5, -2.25e-300, float("inf"), float("-inf"), float("nan"), 1e300]),
        ("strs", ["", "a", "hello world", "caf\xe9", "\u20ac", "\U0001f600", "a\nb\\c'\"", "\x00\x7f"]),
        ("surrogate", "\ud800x\udfff"),
        ("long-str", "x" * 300),
        ("bytes", [b"", b"\x00\xff", bytes(range(256))]),
        ("long-bytes", b"y" * 300),
        ("bytearray", [bytearray(b"abc"), bytearray()]),
        ("tuples", [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)]),
        ("list", [1, "a", None, 2.5]),
        ("dict", {"a": 1, "b": [2], 3: "c", (1, 2): None}),
        ("sets", [set(), {1, 2, 3}, frozenset(), frozenset({1, 2}), {"x", "y"}]),
        ("nested", nested),
        ("sharing", [shared_str, shared_str, shared_list, shared_list, (shared_list, shared_list)]),
        ("cyclic-list", cyclic_list),
        ("cyclic-dict", cyclic_dict),
        ("tuple-cycle", tuple_cycle),
        ("stdlib", [complex(1, 2), range(3), slice(1, 2, None), collections.OrderedDict(a=1),
                    collections.defaultdict(list, {"k": [1]}), collections.Counter("aab"),
                    datetime.datetime(2020, 1, 2, 3, 4, 5), datetime.date(2020, 1, 2),
                    decimal.Decimal("1.5"), fractions.Fraction(1, 3)]),
        ("callables", [len, str, dict, os.path.join, Ellipsis, NotImplemented, type(None)]),
        ("plain", Plain()),
        ("slots", Slots()),
        ("state", WithState()),
        ("newobj-ex", KwNew(3, k=4)),
        ("subclasses", [ls, ds, SetSub({1, 2})]),
    ]


def dumps_seeds():
    seeds = {}
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        for name, obj in objects():
            try:
                seeds[f"p{proto}-{name}"] = pickle.dumps(obj, protocol=proto)
            except (TypeError, pickle.PicklingError):  # e.g. __slots__ below protocol 2
                pass
    # PEP 574: in-band bytearray (BYTEARRAY8) and out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER).
    seeds["p5-picklebuffer-inband"] = pickle.dumps(pickle.PickleBuffer(bytearray(b"abc")), protocol=5)
    oob = []
    seeds["p5-picklebuffer-oob"] = pickle.dumps(
        [pickle.PickleBuffer(bytearray(b"abc")), pickle.PickleBuffer(b"xyz")], protocol=5,
        buffer_callback=oob.append)
    return seeds


# --- HARDENING.md section 7, the bad-input catalogue -----------------------------------------------

def hidden_payload_poc(fill):
    hidden = b"cbuiltins\nstr\nVHIDDEN-CALL\n\x85R"
    return (b"\x80\x05NV" + b"a" * fill + b"\n0(\x95" + q(2)
            + b"B\x07\x01\x00\x00\x00\x00" + (hidden + b"(").ljust(261, b"N") + b"1.")


def billion_laughs():
    return (b"\x80\x04]\x940" + b"".join(b"(" + (b"h" + bytes([i])) * 10 + b"l\x940" for i in range(9))
            + b"h\x09.")


CATALOGUE = {
    1: [b""],
    2: [b"\x80\x04K\x01"],
    3: [b"\x80\x04."],
    4: [b"\xff", b"\x80\x05\x99."],
    5: [b"\x80\x06N.", b"\x80\xffN."],
    6: [b"N0\x80\x04N.", b"\x80\x02\x80\x05N."],
    7: [b"K\x01.GARBAGE", b"K\x01.K\x02."],
    8: [b"K\x01K\x02.", b"(K\x01."],
    9: [b"R", b")R", b"Na", b"NNs", b"\x93", b"\x94"],
    10: [b"t", b"d", b"l", b"1", b"\x91"],
    11: [b"N(\x85", b"]N(a", b"N(."],
    12: [b"J\x00\x00\x00", b"G" + b"\x00" * 7, b"M\x00"],
    13: [b"X\x03\x00\x00\x00ab", b"\x8c\x03ab", b"\x8e\x03" + b"\x00" * 7 + b"ab"],
    14: [b"(cbuiltins\nlist", b"Vabc", b"L10"],
    15: [b"\x8e" + q(1 << 40) + b"abc"],
    16: [b"\x80\x05\x96" + q(1 << 40) + b"abc"],
    17: [b"\x8d" + q(1 << 40) + b"abc"],
    18: [b"\x8e" + q(1 << 63) + b"abc"],
    19: [b"\x8b\xff\xff\xff\xff\x01."],
    20: [b"\x8b\xff\xff\xff\x7f\x01"],
    21: [b"L" + b"1" * 4301 + b"L\n.", b"I" + b"1" * 4301 + b"\n."],
    22: [b"I010\n.", b"I9223372036854775807JUNK\n.", b"I\n."],
    23: [b"L123LL\n."],
    24: [b"F1_0\n.", b"F 1.5\n.", b"F1e400\n.", b"F1.5x\n."],
    25: [b"h\x05.", b"j\xff\xff\xff\xff.", b"g-1\n."],
    26: [b"Va\np-1\n.", b"Np99999999999999999999999\n."],
    27: [b"Nr\xff\xff\xff\x7f.", b"Np1000000000000\n.", b"]replace."],
    28: [b"\x94.", b"(\x94.", b"N(q\x00"],
    29: [b"K\x01q\x00K\x02q\x00h\x00."],
    30: [b"\x80\x04\x95" + q(10) + b"N.", b"\x80\x04\x95" + q(2**64 - 1) + b"N."],
    31: [b"\x80\x05\x95" + q(2) + b"J\x07\x00\x00\x00.", b"\x80\x05\x95" + q(5) + b"Vhello world\n."],
    32: [b"\x80\x05\x95" + q(11) + b"N\x95" + q(2) + b"N."],
    # As published (a 128 KiB UNICODE fills CPython's read-ahead), and the same frames with a short
    # UNICODE, small enough for libFuzzer to mutate.
    33: [hidden_payload_poc(131072 - 17), hidden_payload_poc(15)],
    34: [b"X\x02\x00\x00\x00\xc3\x28.", b"X\x02\x00\x00\x00\xc0\xaf."],
    35: [b"X\x03\x00\x00\x00\xed\xa0\x80."],
    36: [b"V\\u12\n.", b"V\\U00110000\n."],
    37: [b"S'\n.", b'S" \n.', b"S\n.", b"S'\\'\n."],
    38: [b"U\x01\xff."],
    39: [b"c\xff\nlog\n.", b"c\nlog\n.", b"cmath\n\n."],
    40: [b"\x80\x04K\x01K\x02\x93.", b"\x80\x04C\x08builtinsC\x03str\x93."],
    41: [b"U\x08builtinsU\x03str\x93.", b"S'os'\nS'system'\n\x93S'ls'\n\x85R."],
    42: [b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vid\ntR."],
    43: [b"\x80\x04ctempfile\n_os.system\n.", b"\x80\x04cbuiltins\nstr.__class__.__name__\n."],
    44: [b"ccommands\ngetoutput\n.", b"ccPickle\nloads\n.", b"c__builtin__\neval\n."],
    45: [b"\x80\x04cbuiltins\nstr.<locals>.x\n."],
    46: [b"(i\xc3\xa9\nx\n."],
    47: [b"(S'x'\ni__builtin__\nexec\n.", b'(cos\nsystem\nS"id"\no.'],
    48: [b"\x80\x04(\x8c\x07smtplib\x8c\x04SMTP\x93\x8c\t127.0.0.1o0N."],
    49: [b"N)R.", b"cbuiltins\nint\n]R.", b"cbuiltins\nobject\n]\x81.", b"K\x01)\x81."],
    50: [b"\x82\x00.", b"\x84\xff\xff\xff\xff.", b"\x80\x02\x82\x01."],
    51: [b"Pabc\n.", b"NQ."],
    # BUILD on an int; BUILD on the module attribute torch._utils (overwrites _rebuild_tensor).
    52: [b"K\x01}b.",
         b"\x80\x04\x8c\x05torch\x8c\x06_utils\x93}\x8c\x0f_rebuild_tensorcbuiltins\neval\nsb."],
    53: [b"cbuiltins\nobject\n)\x81K\x05b."],
    54: [b"(K\x01d.", b"}(K\x01u.", b"}(Nu"],
    55: [b"(]K\x01d.", b"}]K\x01s.", b"\x80\x04(]\x91."],
    56: [b"]K\x00K\x01s.", b"NNN\x87K\x00K\x01s.", b"K\x01K\x02a."],
    57: [b"K\x01(e.", b"\x80\x04K\x01(\x90."],
    58: [b"\x80\x05\x97.", b"\x80\x05\x97\x97\x86.", b"\x80\x05K\x01\x98."],
    59: [b"\x80\x05\x98."],
    60: [b"(]q\x00h\x00ah\x00t.", b"(Nq\x00h\x00t."],
    61: [billion_laughs()],
    # Rows 62-65 scaled down (10**6 -> 10**4, 16000 keys -> 200, 10k entries -> 100) to keep the
    # corpus small; the full sizes belong in the decoder's tests.
    62: [b"]" * 10**4 + b"a" * (10**4 - 1) + b".", b"N" + b"\x85" * 10**4 + b"."],
    63: [b"N" * 10**4 + b".", b"]" + b"2" * 5 * 10**3 + b".", b"(" * 10**4 + b"N."],
    64: [b"\x80\x02}(" + b"".join(long1(k * (2**61 - 1)) + b"N" for k in range(1, 201)) + b"u."],
    65: [b"\x80\x02}q\x00(" + b"".join(b"M" + struct.pack("<H", i) + b"N" for i in range(100)) + b"u"
         + b"cbuiltins\nobject\n)\x81" + b"h\x00b" * 100 + b"."],
    66: [b"cos\nsystem\n(Vid\ntR\xff"],
    # 67: ZIP container quirks: not pickle bytes, nothing for the decoder.
    # 68, scaled down: legacy torch.save, a magic number computed by REDUCE, then more pickles.
    68: [b"\x80\x02c__builtin__\neval\nX\x16\x00\x00\x000x1950A86A20F9469CFC6C\x85R."
         + b"\x80\x02M\xe9\x03." + b"\x80\x02}q\x00." + b"\x80\x02]q\x00X\x01\x00\x00\x000a."
         + b"\x00" * 16],
    69: [b"\x80\x04K\x01q\x05K\x02\x94h\x01."],
}

# HARDENING.md section 4 rows that section 7 does not already hold.
DIFFERENTIALS = {
    "int-hex": b"I0x10\n.",
    "int-underscore": b"I1_000\n.",
    "int-space": b"I 5\n.",
    "int-plus": b"I+5\n.",
    "global-truncated": b"cos",
    "proto4-op-after-proto2": b"\x80\x02\x8c\x01a.",
}

# Opcodes and paths pickle.dumps never writes.
HANDMADE = {
    "py2-strings": b"(lp0\nS'abc'\np1\naS'\\xe9\\n'\np2\naU\x03abcq\x03aT\x02\x00\x00\x00\xe9\xffq\x04a.",
    "py2-set": b"c__builtin__\nset\np0\n((lp1\nI1\naI2\natp2\nRp3\n.",
    "py2-bytearray": b"c__builtin__\nbytearray\np0\n(V\xe9\np1\nS'latin-1'\np2\ntp3\nRp4\n.",
    "codecs-encode": b"c_codecs\nencode\n(V\xff\nVlatin1\ntR.",
    "fold-frozenset": b"\x80\x04\x8c\x08builtins\x8c\tfrozenset\x93]K\x01a\x85R.",
    "fold-bytes": b"\x80\x04\x8c\x08builtins\x8c\x05bytes\x93)R.",
    "text-ints": b"(I12345678901234567890\nL-123456789012345678901234567890L\nI00\nI01\nI-7\nL0\nt.",
    "text-floats": b"(F-1.5e-10\nFinf\nFnan\nF0\nt.",
    "text-memo": b"(Va\np0\n0g0\ng0\nl.",
    "string-escapes": b"S'a\\x41\\n\\'\\\\\\t'\n.",
    "string-bad-hex": b"S'\\x4'\n.",
    "unicode-escapes": b"V\\u20ac\\U0001f600\\\\x\\ud800\n.",
    "dup-pop-mark": b"K\x012(K\x02K\x031\x86.",
    "ext-codes": b"\x80\x02\x82\x01\x83\x01\x01\x84\x01\x00\x00\x00\x87.",
    "long-memo": b"\x80\x02Nr\x00\x00\x00\x00j\x00\x00\x00\x00\x86.",
    "binstring-negative": b"T\xff\xff\xff\xffabc.",
    "long1-nonminimal": b"\x80\x02\x8a\x0a\x01" + b"\x00" * 9 + b".",
    "long4-big": b"\x80\x02\x8b\x14\x00\x00\x00" + bytes(range(1, 21)) + b".",
    "persid-text": b"(Pabc\nNQ\x86l.",
    "inst-obj": b"(i__main__\nC\n(cbuiltins\nobject\noK\x01}b\x86.",
    "newobj-ex": b"\x80\x04\x8c\x08builtins\x8c\x06object\x93)}\x92}b.",
    "frames-two": b"\x80\x04\x95\x02" + b"\x00" * 7 + b"N0\x95\x01" + b"\x00" * 7 + b"\x29.",
    "frame-zero": b"\x80\x04\x95" + q(0) + b"N.",
}

# --- containers (brine/container.hpp, docs/FORMAT.md) for fuzz_container ------------------------

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import brine_container  # noqa: E402  (XXH3-64, pure Python when xxhash is missing: same values)


def zstd_raw(data):
    """One zstd frame holding `data` in a raw block (written by hand, so the seeds do not depend on
    a zstd library): magic, single-segment descriptor with a 1-byte content size, last raw block."""
    assert len(data) < 256
    n = len(data)
    return b"\x28\xb5\x2f\xfd\x20" + bytes([n]) + (1 | n << 3).to_bytes(3, "little") + data


def zstd_rle(byte, n):
    """One zstd frame of `n` copies of `byte` (an RLE block; 2-byte content size field)."""
    assert 256 <= n < 65536 + 256
    return (b"\x28\xb5\x2f\xfd\x60" + (n - 256).to_bytes(2, "little")
            + (1 | 1 << 1 | n << 3).to_bytes(3, "little") + bytes([byte]))


def container(sections, flags=0, version=1):
    """A container by the layout rule. sections: [(kind, codec, align_log2, section_flags, stored,
    raw_size)]; checksums computed unless the unchecked flag (2) is set."""
    n = len(sections)
    at = 64 + 48 * n
    table, body = b"", b""
    for kind, codec, align, sflags, stored, raw in sections:
        start = -(-at // (1 << align)) * (1 << align)
        body += b"\x00" * (start - at) + stored
        checksum = 0 if sflags & 2 else brine_container.xxh3_64(stored)
        table += struct.pack("<BBBBIQQQQQ", kind, codec, align, 0, sflags, start, len(stored), raw, checksum, 0)
        at = start + len(stored)
    head = brine_container.MAGIC + struct.pack("<HHHHIIQ", version, 64, 48, 0, flags, n, at) + b"\x00" * 24
    meta = brine_container.xxh3_64(head + table)
    return head + struct.pack("<Q", meta) + table + body


def container_seeds():
    p_none = b"\x80\x05N."
    p_two = b"\x80\x05\x97\x97\x98\x86."
    p_list = pickle.dumps([1, "two", 3.0, None], protocol=5)
    return {
        "pickle-only": container([(1, 0, 6, 0, p_none, len(p_none))]),
        "two-buffers": container([(1, 0, 6, 0, p_two, len(p_two)), (2, 0, 6, 1, b"abc", 3),
                                  (2, 0, 6, 0, b"xyz", 3)]),
        "empty-buffer": container([(1, 0, 6, 0, p_two, len(p_two)), (2, 0, 6, 0, b"", 0),
                                   (2, 0, 12, 1, b"z" * 100, 100)]),
        "zstd-pickle": container([(1, 1, 6, 0, zstd_raw(p_list), len(p_list))]),
        "zstd-buffers": container([(1, 0, 6, 0, p_two, len(p_two)), (2, 1, 6, 0, zstd_raw(b"oob-data"), 8),
                                   (2, 1, 6, 1, zstd_rle(0x41, 1000), 1000)]),
        "zstd-two-frames": container([(1, 0, 6, 0, p_two, len(p_two)),
                                      (2, 1, 6, 0, zstd_raw(b"ab") + zstd_raw(b"cd"), 4), (2, 0, 6, 0, b"", 0)]),
        "unchecked": container([(1, 0, 6, 2, p_list, len(p_list))]),
        "page-aligned": container([(1, 0, 12, 0, p_none, len(p_none))]),
        "bad-pickle": container([(1, 0, 6, 0, b"\x80\x05\x97\x97\x97.", 6), (2, 0, 6, 0, b"a", 1)]),
    }


# One directory per target (a new target adds its entry here): inputs aimed at its property.
TARGET_SEEDS = {
    "fuzz_decode": {
        # every accessor: buffers (the compat profile supplies two), read-only views, ops on
        # objects and globals, persistent ids, extensions, big ints, duplicate keys, surrogates
        "buffers": b"\x80\x05\x97\x97\x98\x86.",
        "readonly-bytearray": b"\x80\x05\x96\x03" + b"\x00" * 7 + b"abc\x98.",
        "global-build": b"\x80\x04\x8c\x05torch\x8c\x06_utils\x93}(\x8c\x01xK\x01ub.",
        "object-ops": (b"\x80\x04cbuiltins\nobject\n)RK\x01a(K\x02K\x03eK\x04K\x05s(K\x06K\x07u"
                       b"(K\x08\x90}b."),
        "persid-ext": b"\x80\x02(Pabc\nNQ\x82\x01\x83\x01\x01\x84\xff\xff\xff\x7ft.",
        "bigints": (b"\x80\x02(\x8a\x09" + b"\xff" * 8 + b"\x7f\x8b\x14\x00\x00\x00" + b"\x80" * 20
                    + b"L123456789012345678901234567890L\nI-9223372036854775809\nt."),
        "dict-duplicate-keys": b"}(Vk\nK\x01Vk\nK\x02Vj\nK\x03u.",
        "surrogates": b"(X\x03\x00\x00\x00\xed\xa0\x80V\\udfff\nt.",
        "latin1-py2": b"(U\x02\xe9\xffS'\\xe9'\nT\x01\x00\x00\x00\x80t.",
    },
    "fuzz_validate_agrees": {
        # where validate (no items stored) must still see what decode sees: folds of lists
        # holding unhashable items, bytearrays turned read-only, warnings, limits
        "fold-set-unhashable": b"cbuiltins\nset\n]]a\x85R.",
        "fold-frozenset-tuple": b"cbuiltins\nfrozenset\n(]\x85l\x85R.",
        "fold-snapshot": b"]q\x00K\x01acbuiltins\nset\nh\x00\x85R0h\x00]a.",
        "fold-appends": b"cbuiltins\nset\n](K\x01}e\x85R.",
        "bytearray-key": b"\x80\x05}\x96\x01" + b"\x00" * 7 + b"aK\x01s.",
        "readonly-key": b"\x80\x05}\x96\x01" + b"\x00" * 7 + b"a\x98K\x01s.",
        "warnings": b"K\x01q\x00K\x02q\x00(\x80\x02N.xx",
        "marks-limit": b"(((((((((N.",
        "copied-limit": b"]" + b"K\x01a" * 20 + b"q\x00cbuiltins\nset\nh\x00\x85R.",
        "memo-limit": b"".join(b"Nq" + bytes([i]) for i in range(20)) + b".",
    },
    "fuzz_roundtrip": {
        # what re-encoding must keep: NaN payloads and -0.0 (text floats at protocol 0 cannot),
        # names fix_imports maps (not a bijection), NEWOBJ and NEWOBJ_EX below their protocols,
        # out-of-band buffers, sets of equal items (BUILD on a global and ints beyond 4300 digits:
        # the regression-* files of the directory)
        "floats": b"\x80\x02(G\x7f\xf8\x00\x00\x00\x00\x00\x2aG\xff\xf8" + b"\x00" * 6 + b"G\x80" + b"\x00" * 7 + b"t.",
        "functools-reduce": b"\x80\x03c_functools\nreduce\ncfunctools\nreduce\n\x86.",
        "newobj-ex": b"\x80\x04\x8c\x03mod\x8c\x01C\x93K\x01\x85}\x8c\x01kK\x02s\x92}b.",
        "buffers": b"\x80\x05(\x97\x97\x98\x97t.",
        "equal-keys": b"\x80\x02}(K\x01K\x02\x88K\x03G\x3f\xf0" + b"\x00" * 6 + b"K\x04u.",
        "set-equal-items": b"\x80\x04(K\x01\x88G\x3f\xf0" + b"\x00" * 6 + b"\x8c\x01a\x8c\x01a\x90.",
    },
    "fuzz_truncation": {
        # every kind of argument cut short: lines, counted data, 8-byte lengths, frames
        "lines": b"(I12\nL34L\nF1.5\nVab\nS'c'\ncmod\nname\ng0\np1\nPid\nt.",
        "counted": b"\x80\x04(X\x02\x00\x00\x00abB\x01\x00\x00\x00cC\x01d\x8c\x01e\x8a\x01\x05\x8b\x01\x00\x00\x00\x06t.",
        "lengths8": b"\x80\x05(\x8d\x01" + b"\x00" * 7 + b"a\x8e\x01" + b"\x00" * 7 + b"b\x96\x01" + b"\x00" * 7 + b"ct.",
        "frames": b"\x80\x04\x95\x05" + b"\x00" * 7 + b"]K\x01a0\x95\x02" + b"\x00" * 7 + b"N.",
    },
    "fuzz_scan": {
        # clean-looking inputs that are not: concatenations, trailing bytes, a broken tail, a
        # container signature, a nested pickle passed to a loader, frames, buffers
        "concatenated": b"\x80\x04K\x01.\x80\x04K\x02.",
        "trailing": b"\x80\x04K\x01.\x00\x01garbage",
        "broken-tail": b"\x80\x04]K\x01a.\x80\x04]\xff",
        "zip-after": b"\x80\x04N.PK\x03\x04" + b"\x00" * 26,
        "nested": b"\x80\x04\x8c\x06pickle\x8c\x05loads\x93C\x04K\x01N.\x85R.",
        "frames": b"\x80\x04\x95\x03" + b"\x00" * 7 + b"K\x01.",
        "buffers": b"\x80\x05\x97\x98\x97\x86.",
        "allowed": b"\x80\x04\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R.",
    },
    "fuzz_container": container_seeds(),
    "fuzz_equivalent": {
        # sharing against equal copies, cycles through lists and tuples, floats compared by bits
        "shared-vs-copies": b"\x80\x04(\x8c\x01a\x94h\x00\x8c\x01at.",
        "tuple-sharing": b"\x80\x02K\x01\x85q\x00h\x00h\x00\x87.",
        "empty-tuple-shared": b"\x80\x02)q\x00h\x00\x86.",
        "floats": b"\x80\x02G\x7f\xf8" + b"\x00" * 6 + b"G\x80" + b"\x00" * 7 + b"G" + b"\x00" * 8 + b"\x87.",
        "self-build": b"cbuiltins\nobject\n)Rq\x00h\x00b.",
        "list-tuple-cycle": b"]q\x00h\x00\x85q\x01ah\x01.",
        "dict-cycle": b"}q\x00K\x01h\x00s.",
    },
}


def write(directory, name, data):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    shared = os.path.join(CORPUS, "shared")
    shutil.rmtree(shared, ignore_errors=True)
    os.makedirs(shared)
    for name, data in dumps_seeds().items():
        write(shared, name, data)
    for row, vectors in CATALOGUE.items():
        for i, data in enumerate(vectors):
            write(shared, f"c{row:02d}-{i}", data)
    for name, data in DIFFERENTIALS.items():
        write(shared, f"d-{name}", data)
    for name, data in HANDMADE.items():
        write(shared, f"h-{name}", data)
    for target, seeds in TARGET_SEEDS.items():
        directory = os.path.join(CORPUS, target)
        os.makedirs(directory, exist_ok=True)
        for old in os.listdir(directory):
            if old.startswith("seed-"):
                os.remove(os.path.join(directory, old))
        for name, data in seeds.items():
            write(directory, f"seed-{name}", data)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    count = sum(len(fs) for _, _, fs in os.walk(CORPUS))
    print(f"{count} files, {total} bytes under {os.path.relpath(CORPUS)}")


if __name__ == "__main__":
    main()
