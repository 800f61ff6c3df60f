#!/usr/bin/env python3
"""Write the benchmark workloads: protocol-5 pickles made by CPython, each with a facts file that
the C++ benchmarks check before they time anything.

    python3 make_workloads.py --out DIR [--small]

For every workload W this writes DIR/W.pickle (pickle.dumps(obj, 5); for workloads of several
objects, their pickles one after the other), DIR/W.p2.pickle (the same objects at protocol 2, the
only protocol PyTorch's C++ unpickler reads), DIR/W.facts, DIR/bulk.block (64 KiB of random bytes
that bench_bulk and bench_cpython.py tile into the 256 MiB bytes object), and DIR/stamp last (the
build system's output; it lists the workloads). The objects come from a seeded RNG, so the bytes are
the same on every run with the same CPython. --small writes the same shapes with fewer elements
(the CTest smoke run).

Facts format: one `key=value` per line. Integers are decimal, floats are their IEEE-754 bits as 16
lower-case hex digits (exact, no rounding question), strings are written as they are (every string
checked here is ASCII without spaces or newlines). Checksums cover every element:

  sum64   wrapping 64-bit sum of ints (two's complement) or of float bits
  crc     CRC-32 (zlib's) of the concatenation of every string's UTF-8 bytes, each followed by
          one 0 byte, in order

Every workload also has:

  part_bytes / p2_part_bytes   the size of each object's pickle, comma-separated
  digest    per part, `crc32:length` of the graph's token stream (below), sharing included
  vdigest   the same with sharing expanded (every reference walked as a copy), for readers that
            do not keep identity (PyTorch)

The token stream is a pre-order walk, the same in bench_common.hpp (digest_of):

  None N   bool T/F   int I<decimal>;   float D<8 bytes, little-endian IEEE-754>
  str S<utf-8 length>:<utf-8>   bytes B<length>:<bytes>
  tuple U<n>; items   list L<n>; items   dict M<n>; key value ...
  other objects O<module>.<qualname>; then the arguments of their reduction (a tuple)
  a second visit of an object pickle memoizes (str, bytes, list, dict, non-empty tuple, other
  objects): R<index of its first visit>;

The generated files live in the build tree and are never committed.
"""

import argparse
import datetime
import os
import pickle
import random
import struct
import sys
import threading
import zlib

SEED = 20240611
MASK64 = (1 << 64) - 1

# A small vocabulary, as tags in real data are: CPython's memo pickles each word once and every
# later use is a BINGET, so the decoded graph must share one node per word.
TAG_VOCABULARY = [
    "admin", "beta", "billing", "blocked", "core", "dev", "east", "enterprise", "free", "gold",
    "internal", "legacy", "mobile", "north", "ops", "partner", "pro", "south", "trial", "west",
]


def crc(strings):
    return zlib.crc32(b"".join(s.encode("utf-8") + b"\0" for s in strings))


def float_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def hex_bits(x):
    return "%016x" % float_bits(x)


def make_records(rng, small):
    n = 1_000 if small else 100_000
    records = []
    for _ in range(n):
        records.append({
            "id": rng.randrange(1, 2**31),
            "name": "user_%d" % rng.randrange(100_000),
            "score": round(rng.uniform(0.0, 100.0), 2),
            "tags": rng.sample(TAG_VOCABULARY, 3),  # the vocabulary's own str objects
            "active": rng.random() < 0.7,
            "parent": None,
        })
    id_sum = score_sum = 0
    for r in records:
        id_sum = (id_sum + r["id"]) & MASK64
        score_sum = (score_sum + float_bits(r["score"])) & MASK64
    tags = [t for r in records for t in r["tags"]]
    first, last = records[0], records[-1]
    facts = {
        "kind": "list",
        "size": n,
        "first_id": first["id"], "first_name": first["name"], "first_score": hex_bits(first["score"]),
        "first_tags": ",".join(first["tags"]), "first_active": int(first["active"]),
        "last_id": last["id"], "last_name": last["name"], "last_score": hex_bits(last["score"]),
        "last_tags": ",".join(last["tags"]), "last_active": int(last["active"]),
        "id_sum64": id_sum, "score_sum64": score_sum,
        "name_crc": crc(r["name"] for r in records), "tag_crc": crc(tags),
        "active_count": sum(r["active"] for r in records),
        "distinct_tags": len(set(tags)),
    }
    return records, facts


def make_ints(rng, small):
    n = 10_000 if small else 1_000_000
    values = [rng.randint(-(2**40), 2**40) for _ in range(n)]
    facts = {"kind": "list", "size": n, "first": values[0], "last": values[-1],
             "sum64": sum(values) & MASK64}
    return values, facts


def make_floats(rng, small):
    n = 10_000 if small else 1_000_000
    # Spread over magnitudes, as measurements are: most digits are significant.
    values = [rng.uniform(-1.0, 1.0) * 10.0 ** rng.randint(-6, 6) for _ in range(n)]
    total = 0
    for v in values:
        total = (total + float_bits(v)) & MASK64
    facts = {"kind": "list", "size": n, "first": hex_bits(values[0]), "last": hex_bits(values[-1]),
             "sum64": total}
    return values, facts


ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def random_word(rng, lo, hi):
    return "".join(rng.choices(ALPHABET, k=rng.randint(lo, hi)))


def make_strs(rng, small):
    n = 10_000 if small else 1_000_000
    values = [random_word(rng, 5, 12) for _ in range(n)]
    facts = {"kind": "list", "size": n, "first": values[0], "last": values[-1], "crc": crc(values)}
    return values, facts


def make_dict(rng, small):
    n = 10_000 if small else 1_000_000
    d = {}
    while len(d) < n:
        d["k_" + random_word(rng, 6, 12)] = rng.randint(-(2**31), 2**31 - 1)
    keys = list(d)
    total = sum(d.values()) & MASK64
    facts = {"kind": "dict", "size": n, "first_key": keys[0], "first_value": d[keys[0]],
             "last_key": keys[-1], "last_value": d[keys[-1]], "key_crc": crc(keys), "value_sum64": total,
             # A key from the middle, for a lookup through value::find.
             "probe_key": keys[n // 2], "probe_value": d[keys[n // 2]]}
    return d, facts


# ---- pyperformance's pickle benchmarks (bm_pickle): the same data shapes, written here from scratch.
# `pickle` and `unpickle` use three objects: a 33-entry user profile (small ints, short and empty
# strs, a 40-bit int, a date, a list of seven 1-character strs), a (list of 20 ints, int) tuple and
# a list of three copies of the profile whose values were all replaced by str(random float), so
# the three share the key objects. `pickle_list` / `unpickle_list` use a 10 x 2 list of
# range(10) lists; `pickle_dict` a dict of 100 int keys to dict.fromkeys(range(10)).

def pp_profile():
    return {
        "account_flags": 0, "age_years": 27, "born_on": datetime.date(1991, 3, 14),
        "posts_count": 0, "replies_count": 0, "region": "NZ", "public_key": "Qk7vTz1pLbe",
        "likes_count": 11, "given_name": "", "feature_bits": 550829555712, "followers": 0,
        "pronoun": "f", "pronoun_display": "Female", "user_id": 418221907, "has_avatar": 0,
        "family_name": "", "language": "en_NZ", "is_member": 0,
        "labels": ["h", "i", "j", "k", "l", "m", "n"], "avatar_id": 736402215,
        "private_key": "Rw_kkp3eLz9XmQcvbhn2Ta", "session_seq": 3, "signup_source": "317-40211-118",
        "state": "B", "color_scheme": 2, "created_at": 1318950211, "updated_at": 1320459930,
        "unread_count": 0, "cohort": "1", "handle": "marigold_tern", "plays": 14, "views": 5,
        "postcode": "",
    }


def make_pp_pickle(rng, small):
    profile = pp_profile()
    ids = [rng.randrange(265_000_000, 267_000_000) for _ in range(20)]
    ids[11] = rng.randrange(40_000_000, 50_000_000)
    pair = (ids, 60)
    group = []
    for _ in range(3):
        copy = dict(profile)
        for key in copy:
            copy[key] = str(rng.random() * sys.maxsize)
        group.append(copy)
    return [profile, pair, group], {"kind": "parts"}


def make_pp_list(rng, small):
    return [[list(range(10)), list(range(10))] for _ in range(10)], {"kind": "list"}


def make_pp_dict(rng, small):
    return {key: dict.fromkeys(range(10)) for key in range(100)}, {"kind": "dict"}


def make_nested(rng, small):
    """A chain of dicts and one-item lists, 50,000 containers deep: {"depth": 0, "name": "n0",
    "child": [{"depth": 1, ...}]}. CPython pickles it recursively (main() raises the limits)."""
    depth = 100 if small else 25_000
    node = []
    for level in reversed(range(depth)):
        node = {"depth": level, "name": "n%d" % rng.randrange(10**9), "child": [node]}
    return node, {"kind": "dict", "depth": depth}


def make_shared(rng, small):
    """1,000,000 references to 1,000 tuples (str, int, float): almost every item is a memo GET."""
    distinct, n = (100, 10_000) if small else (1_000, 1_000_000)
    pool = [("item_%d" % i, i, rng.random()) for i in range(distinct)]
    refs = [pool[rng.randrange(distinct)] for _ in range(n)]
    return refs, {"kind": "list", "size": n, "distinct": distinct}


WORKLOADS = [
    ("records", make_records),
    ("ints", make_ints),
    ("floats", make_floats),
    ("strs", make_strs),
    ("dict", make_dict),
    ("pp_pickle", make_pp_pickle),
    ("pp_list", make_pp_list),
    ("pp_dict", make_pp_dict),
    ("nested", make_nested),
    ("shared", make_shared),
]

# Workloads made of several objects, each pickled on its own (pyperformance times one dumps or
# loads per object).
MULTI_PART = {"pp_pickle"}


def digest(obj, by_value=False):
    """`crc32:length` of the token stream described in the module docstring."""
    out = bytearray()
    crc = 0
    length = 0
    seen = {}
    keep = []  # reduction tuples made here: alive until the end, so their ids stay unique
    stack = [obj]
    pack_double = struct.Struct("<d").pack
    while stack:
        o = stack.pop()
        t = type(o)
        if o is None:
            out += b"N"
        elif t is bool:
            out += b"T" if o else b"F"
        elif t is int:
            out += b"I%d;" % o
        elif t is float:
            out += b"D" + pack_double(o)
        else:
            if not by_value and not (t is tuple and not o):
                index = seen.get(id(o))
                if index is not None:
                    out += b"R%d;" % index
                    continue
                seen[id(o)] = len(seen)
            if t is str:
                b = o.encode("utf-8", "surrogatepass")
                out += b"S%d:" % len(b)
                out += b
            elif t is bytes:
                out += b"B%d:" % len(o)
                out += o
            elif t is list:
                out += b"L%d;" % len(o)
                stack.extend(reversed(o))
            elif t is tuple:
                out += b"U%d;" % len(o)
                stack.extend(reversed(o))
            elif t is dict:
                out += b"M%d;" % len(o)
                for k, v in reversed(list(o.items())):
                    stack.append(v)
                    stack.append(k)
            else:
                rv = o.__reduce_ex__(5)
                keep.append(rv)
                out += b"O%s.%s;" % (rv[0].__module__.encode(), rv[0].__qualname__.encode())
                stack.append(rv[1])
        if len(out) >= 1 << 20:
            crc = zlib.crc32(out, crc)
            length += len(out)
            out.clear()
    crc = zlib.crc32(out, crc)
    length += len(out)
    return "%d:%d" % (crc, length)


def write_workload(out, name, make, small):
    # One RNG per workload, so changing one workload leaves the others' bytes alone.
    rng = random.Random("%d/%s" % (SEED, name))
    obj, facts = make(rng, small)
    parts = obj if name in MULTI_PART else [obj]
    blobs, blobs2 = [], []
    for part in parts:
        data = pickle.dumps(part, protocol=5)
        if pickle.loads(data) != part or pickle.dumps(pickle.loads(data), protocol=5) != data:
            sys.exit("make_workloads: %s does not round-trip through pickle" % name)
        blobs.append(data)
        blobs2.append(pickle.dumps(part, protocol=2))
    facts["parts"] = len(parts)
    facts["pickle_bytes"] = sum(map(len, blobs))
    facts["part_bytes"] = ",".join(str(len(b)) for b in blobs)
    facts["p2_part_bytes"] = ",".join(str(len(b)) for b in blobs2)
    facts["digest"] = ",".join(digest(p) for p in parts)
    facts["vdigest"] = ",".join(digest(p, by_value=True) for p in parts)
    facts["python"] = sys.version.split()[0]
    with open(os.path.join(out, name + ".pickle"), "wb") as f:
        f.write(b"".join(blobs))
    with open(os.path.join(out, name + ".p2.pickle"), "wb") as f:
        f.write(b"".join(blobs2))
    with open(os.path.join(out, name + ".facts"), "w", encoding="utf-8") as f:
        for key, value in facts.items():
            f.write("%s=%s\n" % (key, value))
    print("make_workloads: %-9s %10d bytes" % (name, facts["pickle_bytes"]), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for the pickles and facts")
    parser.add_argument("--small", action="store_true", help="small sizes (the CTest smoke run)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    stamp = os.path.join(args.out, "stamp")
    if os.path.exists(stamp):
        os.remove(stamp)
    for name, make in WORKLOADS:
        write_workload(args.out, name, make, args.small)
    with open(os.path.join(args.out, "bulk.block"), "wb") as f:
        f.write(random.Random("%d/bulk" % SEED).randbytes(65536))
    with open(stamp, "w", encoding="utf-8") as f:
        f.write("%s\n" % " ".join(name for name, _ in WORKLOADS))


def run_with_deep_stack(fn):
    """CPython pickles, compares and frees nested containers recursively: `nested` needs a high
    recursion limit and a large C stack, which only a new thread can get."""
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1 << 30)
    failure = []

    def target():
        try:
            fn()
        except BaseException as e:  # re-raised in the main thread
            failure.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if failure:
        raise failure[0]


if __name__ == "__main__":
    run_with_deep_stack(main)
