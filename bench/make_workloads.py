#!/usr/bin/env python3
"""Write the decode benchmark's workloads: five protocol-5 pickles made by CPython, each with a
facts file that bench_decode checks before it times anything.

    python3 make_workloads.py --out DIR

For every workload W this writes DIR/W.pickle (pickle.dumps(obj, 5)) and DIR/W.facts, then
DIR/stamp last (the build system's output). The objects come from a seeded RNG, so the bytes are
the same on every run with the same CPython.

Facts format: one `key=value` per line. Integers are decimal, floats are their IEEE-754 bits as 16
lower-case hex digits (exact, no rounding question), strings are written as they are (every string
checked here is ASCII without spaces or newlines). Checksums cover every element:

  sum64   wrapping 64-bit sum of ints (two's complement) or of float bit patterns
  crc     CRC-32 (zlib's) of the concatenation of every string's UTF-8 bytes, each followed by
          one 0 byte, in order

The generated files live in the build tree and are never committed.
"""

import argparse
import os
import pickle
import random
import struct
import sys
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


def make_records(rng):
    n = 100_000
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


def make_ints(rng):
    n = 1_000_000
    values = [rng.randint(-(2**40), 2**40) for _ in range(n)]
    facts = {"kind": "list", "size": n, "first": values[0], "last": values[-1],
             "sum64": sum(values) & MASK64}
    return values, facts


def make_floats(rng):
    n = 1_000_000
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


def make_strs(rng):
    n = 1_000_000
    values = [random_word(rng, 5, 12) for _ in range(n)]
    facts = {"kind": "list", "size": n, "first": values[0], "last": values[-1], "crc": crc(values)}
    return values, facts


def make_dict(rng):
    n = 1_000_000
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


WORKLOADS = [
    ("records", make_records),
    ("ints", make_ints),
    ("floats", make_floats),
    ("strs", make_strs),
    ("dict", make_dict),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for the pickles and facts")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, make in WORKLOADS:
        # One RNG per workload, so changing one workload leaves the others' bytes alone.
        rng = random.Random("%d/%s" % (SEED, name))
        obj, facts = make(rng)
        data = pickle.dumps(obj, protocol=5)
        if pickle.loads(data) != obj:
            sys.exit("make_workloads: %s does not round-trip through pickle" % name)
        facts["pickle_bytes"] = len(data)
        facts["python"] = sys.version.split()[0]
        with open(os.path.join(args.out, name + ".pickle"), "wb") as f:
            f.write(data)
        with open(os.path.join(args.out, name + ".facts"), "w", encoding="utf-8") as f:
            for key, value in facts.items():
                f.write("%s=%s\n" % (key, value))
        print("make_workloads: %-8s %10d bytes" % (name, len(data)))
    with open(os.path.join(args.out, "stamp"), "w", encoding="utf-8") as f:
        f.write("%s\n" % " ".join(name for name, _ in WORKLOADS))


if __name__ == "__main__":
    main()
