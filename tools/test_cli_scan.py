"""End-to-end tests of `brine scan`, `brine json`, `brine stats` and `brine convert --from-json`
(run by ctest as cli_scan_tests).

The tool is found through the BRINE environment variable. Expected results come from the CPython
running this script (pickle, pickletools, json) or are computed here independently of brine: the
corpus verdicts from each case's .desc file and a Python reading of tools/allowlist.txt.
"""
import base64
import collections
import datetime
import decimal
import glob
import json
import math
import os
import pickle
import pickletools
import re
import subprocess
import sys
import tempfile
import unittest

BRINE = os.environ.get("BRINE", "brine")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
CORPUS = os.path.join(ROOT, "conformance", "corpus")
# The sanitizer build runs the per-pickle corpus loops on every Nth pickle (tools/CMakeLists.txt),
# and the JSON round trip, five processes a pickle, on every 3Nth.
STRIDE = int(os.environ.get("BRINE_CORPUS_STRIDE", "1"))
ROUND_TRIP_STRIDE = STRIDE * 3 if STRIDE > 1 else 1

EXIT_CLEAN, EXIT_MALFORMED, EXIT_USAGE, EXIT_FLAGGED = 0, 1, 2, 3


def run(*args, stdin=None):
    p = subprocess.run([BRINE, *args], input=stdin, capture_output=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def json_lines(out):
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


class Temp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, data):
        path = os.path.join(self.tmp.name, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path


# --- a Python reading of the allowlist format, independent of brine's

def load_allowlist(text):
    entries = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            entries.add((line[0], line[1]))
    return entries


def allowed(entries, module, qualname):
    if (module, qualname) in entries:
        return True
    if "." not in qualname:
        return (module, "*") in entries
    return (module, qualname.rsplit(".", 1)[0] + ".*") in entries


DEFAULT_ALLOW = load_allowlist(open(os.path.join(HERE, "allowlist.txt")).read())


def describe(desc_text):
    header, _, model = desc_text.partition("\n\n")
    meta = dict(line.split("=", 1) for line in header.splitlines())
    names = [(bytes.fromhex(m).decode("utf-8", "surrogatepass"), bytes.fromhex(q).decode("utf-8", "surrogatepass"))
             for m, q in re.findall(r"g\(([0-9a-f]*),([0-9a-f]*)\)", model)]
    has_ext = re.search(r"x[0-9]", model) is not None
    return meta, names, has_ext


class Scan(Temp):
    def test_verdicts_and_exit_status(self):
        clean = self.write("clean.pkl", pickle.dumps([collections.OrderedDict(a=1), datetime.date(2024, 1, 2),
                                                     decimal.Decimal("1.5"), {1, 2}, b"x"], protocol=4))
        rc, out, err = run("scan", clean)
        self.assertEqual(rc, EXIT_CLEAN, out + err)
        self.assertIn(b": clean", out)
        self.assertIn(b"collections.OrderedDict", out)

        rc, out, _ = run("scan", "-", stdin=b"cos\nsystem\n(Vid\ntR.")
        self.assertEqual(rc, EXIT_FLAGGED)
        self.assertIn(b"global os.system (GLOBAL) is not in the allowlist", out)
        self.assertIn(b"call of os.system (REDUCE)", out)

        rc, out, _ = run("scan", "-", stdin=b"\x80\x04K\x01")
        self.assertEqual(rc, EXIT_MALFORMED)
        self.assertIn(b"malformed", out)

        # HARDENING.md row 66: the malicious prefix before a broken tail is reported.
        rc, out, _ = run("scan", "-", stdin=b"cos\nsystem\n(Vid\ntR\xff")
        self.assertEqual(rc, EXIT_FLAGGED)
        self.assertIn(b"call of os.system (REDUCE), before the decode error", out)
        self.assertIn(b"invalid_opcode", out)

    def test_json_report(self):
        rc, out, _ = run("scan", "--json", "-", stdin=b"\x80\x04ctempfile\n_os.system\n.")
        self.assertEqual(rc, EXIT_FLAGGED)
        [r] = json_lines(out)
        self.assertEqual(r["file"], "-")
        self.assertEqual(r["verdict"], "flagged")
        [g] = r["globals"]
        self.assertEqual((g["module"], g["name"], g["components"], g["allowed"]), ("tempfile", "_os.system", ["_os", "system"], False))
        self.assertEqual(r["findings"][0]["kind"], "global")
        self.assertEqual(r["findings"][0]["offset"], 2)

        # fix_imports: raw and mapped names.
        rc, out, _ = run("scan", "--json", "-", stdin=b"ccommands\ngetoutput\n.")
        [g] = json_lines(out)[0]["globals"]
        self.assertEqual((g["module"], g["mapped_module"], g["mapped_name"]), ("commands", "subprocess", "getoutput"))

        # STACK_GLOBAL operands from the memo; a POPped call.
        data = b"Vos\np2\n0Vsystem\np3\n0g2\ng3\n\x93(Vid\ntR0N."
        rc, out, _ = run("scan", "--json", "-", stdin=data)
        r = json_lines(out)[0]
        [g] = r["globals"]
        self.assertEqual(g["module_operands"], {"memo": 1})
        self.assertEqual(g["name_operands"], {"memo": 1})
        [c] = r["calls"]
        self.assertEqual((c["callable"], c["how"], c["discarded"]), ("os.system", "REDUCE", 1))

    def test_concatenated_and_trailing(self):
        rc, out, _ = run("scan", "--json", "-", stdin=b"K\x01.K\x02.")
        r = json_lines(out)[0]
        self.assertEqual(rc, EXIT_CLEAN)
        self.assertEqual([(p["start"], p["end"]) for p in r["pickles"]], [(0, 3), (3, 6)])
        rc, out, _ = run("scan", "--json", "-", stdin=b"K\x01.cos\nsystem\n)R.")
        self.assertEqual(rc, EXIT_FLAGGED)
        rc, out, _ = run("scan", "--json", "-", stdin=b"K\x01.\x00\x01")
        self.assertEqual(rc, EXIT_FLAGGED)
        r = json_lines(out)[0]
        self.assertIn("trailing_data", [f["kind"] for f in r["findings"]])
        self.assertEqual(r["stopped_at"], 3)

    def test_directories_allowlists_and_quiet(self):
        self.write("d/a.pkl", pickle.dumps({"a": 1}))
        self.write("d/sub/evil.pkl", b"cos\nsystem\n(Vid\ntR.")
        self.write("d/readme.md", "# not a pickle\n")
        rc, out, _ = run("scan", "-q", os.path.join(self.tmp.name, "d"))
        self.assertEqual(rc, EXIT_FLAGGED)
        lines = out.decode().splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].endswith("a.pkl: clean (1 pickle)"))
        self.assertIn("evil.pkl: flagged", lines[1])

        rc, out, _ = run("scan", "--json", os.path.join(self.tmp.name, "d"))
        verdicts = {os.path.basename(r["file"]): r["verdict"] for r in json_lines(out)}
        self.assertEqual(verdicts, {"a.pkl": "clean", "evil.pkl": "flagged", "readme.md": "skipped"})

        allow = self.write("allow.txt", "# allow it\nos system\n")
        rc, _, _ = run("scan", "--allow", allow, os.path.join(self.tmp.name, "d", "sub", "evil.pkl"))
        self.assertEqual(rc, EXIT_CLEAN)
        bad = self.write("bad.txt", "os\n")
        rc, _, err = run("scan", "--allow", bad, "-", stdin=b"N.")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn(b"allowlist line 1", err)
        rc, _, _ = run("scan", "--no-default-allowlist", "-", stdin=b"cbuiltins\nset\n)R.")
        self.assertEqual(rc, EXIT_FLAGGED)
        rc, _, _ = run("scan", "-", stdin=b"cbuiltins\nset\n)R.")
        self.assertEqual(rc, EXIT_CLEAN)

    def test_print_allowlist_is_the_shipped_file(self):
        rc, out, _ = run("scan", "--print-allowlist")
        self.assertEqual(rc, 0)
        with open(os.path.join(HERE, "allowlist.txt"), "rb") as f:
            self.assertEqual(out, f.read())

    def test_unreadable_and_usage(self):
        rc, _, err = run("scan", os.path.join(self.tmp.name, "missing.pkl"))
        self.assertEqual(rc, EXIT_MALFORMED)
        self.assertIn(b"No such file", err)
        self.assertEqual(run("scan")[0], EXIT_USAGE)
        self.assertEqual(run("scan", "--frobnicate", "x")[0], EXIT_USAGE)
        for cmd in ("scan", "json", "stats"):
            rc, out, _ = run(cmd, "--help")
            self.assertEqual(rc, 0)
            self.assertIn(b"usage: brine " + cmd.encode(), out)

    def test_zip_is_flagged(self):
        import zipfile
        path = os.path.join(self.tmp.name, "model.pt")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
        rc, out, _ = run("scan", path)
        self.assertEqual(rc, EXIT_FLAGGED)
        self.assertIn(b"ZIP archive", out)

    def test_corpus_verdicts(self):
        """Every CPython-written corpus pickle: clean exactly when the globals its description
        names are all in tools/allowlist.txt (read here by Python) and it has no extension code."""
        by_encoding = collections.defaultdict(list)
        expected = {}
        for pkl in sorted(glob.glob(os.path.join(CORPUS, "**", "y_*.pkl"), recursive=True)):
            with open(pkl[:-4] + ".desc") as f:
                meta, names, has_ext = describe(f.read())
            ok = not has_ext and all(allowed(DEFAULT_ALLOW, m, q) for m, q in names)
            expected[pkl] = "clean" if ok else "flagged"
            by_encoding[meta["encoding"]].append(pkl)
        self.assertGreater(len(expected), 600)
        seen = 0
        for encoding, files in by_encoding.items():
            rc, out, err = run("scan", "--json", "--encoding", encoding, *files)
            for r in json_lines(out):
                seen += 1
                self.assertEqual(r["verdict"], expected[r["file"]], r["file"])
                self.assertEqual(r["stopped_at"], r["size"], r["file"])
        self.assertEqual(seen, len(expected))


def jsonable(x):
    """What plain `brine json` should print for a data-only value, as json.loads reads it."""
    if isinstance(x, (bytes, bytearray)):
        return base64.b64encode(bytes(x)).decode()
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    return x


class Json(Temp):
    DATA = {"none": None, "t": True, "f": False, "int": -12, "big": 2 ** 100, "neg_big": -(2 ** 80), "float": 2.5,
            "tiny": 5e-324, "str": "h\u00e9\u20ac\U0001f600\n\"\\", "bytes": b"\x00\xff", "ba": bytearray(b"ab"),
            "list": [1, [2, [3]]], "tuple": (1, "x"), "empty": [[], {}, ()], "nested": {"k": {"k2": [None]}}}

    def test_plain_matches_python(self):
        for proto in range(0, 6):
            path = self.write("d%d.pkl" % proto, pickle.dumps(self.DATA, protocol=proto))
            rc, out, err = run("json", path)
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out), jsonable(self.DATA), proto)

    def test_shared_values_are_expanded(self):
        shared = [1, 2]
        path = self.write("s.pkl", pickle.dumps({"a": shared, "b": shared}, protocol=4))
        self.assertEqual(json.loads(run("json", path)[1]), {"a": [1, 2], "b": [1, 2]})

    def test_errors_name_the_node(self):
        for value, what in (({1, 2}, b"set at offset"), ({1: 2}, b"dict key int at offset"),
                            ([float("nan")], b"float nan at offset"), ([float("inf")], b"float inf at offset"),
                            (datetime.date(2024, 1, 1), b"object at offset")):
            path = self.write("e.pkl", pickle.dumps(value, protocol=4))
            rc, out, err = run("json", path)
            self.assertEqual(rc, 1, value)
            self.assertIn(what, err)
        cyc = []
        cyc.append(cyc)
        rc, _, err = run("json", self.write("c.pkl", pickle.dumps(cyc)))
        self.assertEqual(rc, 1)
        self.assertIn(b"contains itself", err)

    def test_billion_laughs_hits_the_budget(self):
        laughs = b"\x80\x04]\x940" + b"".join(b"(" + (b"h" + bytes([i])) * 10 + b"l\x940" for i in range(9)) + b"h\x09."
        rc, _, err = run("json", "-", stdin=laughs)
        self.assertEqual(rc, 1)
        self.assertIn(b"--budget", err)
        rc, out, _ = run("json", "--lossless", "-", stdin=laughs)
        self.assertEqual(rc, 0)
        self.assertLess(len(out), 2000)

    def test_lossless_round_trip_through_convert(self):
        value = [collections.OrderedDict(a=1), {1, 2}, frozenset([3]), (1,), b"b", bytearray(b"y"), 2 ** 70,
                 float("nan"), float("-inf"), -0.0, "\udc80"]
        value.append(value)
        src = self.write("v.pkl", pickle.dumps(value, protocol=4))
        rc, lossless, err = run("json", "--lossless", src)
        self.assertEqual(rc, 0, err)
        jpath = self.write("v.json", lossless)
        out = os.path.join(self.tmp.name, "v2.pkl")
        rc, _, err = run("convert", "--from-json", jpath, out)
        self.assertEqual(rc, 0, err)
        with open(out, "rb") as f:
            back = pickle.load(f)
        self.assertIs(back[-1], back)
        self.assertEqual(back[:7], value[:7])
        self.assertTrue(math.isnan(back[7]))
        self.assertEqual((back[8], math.copysign(1, back[9]), back[10]), (float("-inf"), -1.0, "\udc80"))

    def test_from_plain_json(self):
        jpath = self.write("p.json", '{"a": [1, 2.5, "x", null, true], "b": {"c": []}}')
        out = os.path.join(self.tmp.name, "p.pkl")
        self.assertEqual(run("convert", "--from-json", "--protocol", "2", jpath, out)[0], 0)
        with open(out, "rb") as f:
            self.assertEqual(pickle.load(f), {"a": [1, 2.5, "x", None, True], "b": {"c": []}})
        bad = self.write("bad.json", '{"$list": [1], "$set": [2]}')
        rc, _, err = run("convert", "--from-json", bad, out)
        self.assertEqual(rc, 1)
        self.assertIn(b"two tags", err)

    def test_corpus_round_trip(self):
        """Lossless JSON -> convert --from-json gives the graph `convert` gives from the pickle
        (compared as lossless JSON, a canonical form of the graph). Protocols 0, 2 and 5."""
        count = 0
        raw = re.compile(rb',"raw":\["(?:[^"\\]|\\.)*","(?:[^"\\]|\\.)*"\]')
        for pkl in sorted(glob.glob(os.path.join(CORPUS, "**", "y_*.pkl"), recursive=True))[::ROUND_TRIP_STRIDE]:
            with open(pkl[:-4] + ".desc") as f:
                meta, _, _ = describe(f.read())
            if meta["buffers"] != "0" or meta["protocol"] not in ("0", "2", "5"):
                continue
            p, e = meta["protocol"], meta["encoding"]
            a = os.path.join(self.tmp.name, "a.pkl")
            b = os.path.join(self.tmp.name, "b.pkl")
            j = os.path.join(self.tmp.name, "j.json")
            self.assertEqual(run("convert", "--encoding", e, "--protocol", p, pkl, a)[0], 0, pkl)
            rc, lossless, err = run("json", "--lossless", "--encoding", e, pkl)
            self.assertEqual(rc, 0, (pkl, err))
            with open(j, "wb") as f:
                f.write(lossless)
            rc, _, err = run("convert", "--from-json", "--protocol", p, j, b)
            self.assertEqual(rc, 0, (pkl, err))
            ja, jb = run("json", "--lossless", a)[1], run("json", "--lossless", b)[1]
            self.assertEqual(raw.sub(b"", ja), raw.sub(b"", jb), pkl)
            count += 1
        self.assertGreater(count, 250 // ROUND_TRIP_STRIDE)


class Stats(Temp):
    def test_histogram_matches_pickletools(self):
        value = {"s": "x" * 300, "b": b"y" * 70000, "l": list(range(20)), "t": (1, 2), "d": datetime.date(2024, 1, 1)}
        for proto in (0, 2, 4, 5):
            data = pickle.dumps(value, protocol=proto)
            path = self.write("s%d.pkl" % proto, data)
            rc, out, err = run("stats", "--json", path)
            self.assertEqual(rc, 0, err)
            [p] = json.loads(out)["pickles"]
            ops = [op for op, _, _ in pickletools.genops(data)]
            self.assertEqual(p["opcode_counts"], dict(collections.Counter(op.name for op in ops)), proto)
            self.assertEqual(p["opcodes"], len(ops))
            self.assertEqual(p["frames"], sum(op.name == "FRAME" for op in ops))
            self.assertEqual(p["protocol"], proto if proto >= 2 else 0)
            # (below protocol 3 bytes travel as a latin-1 str argument of _codecs.encode)
            self.assertIn(300, [x["size"] for x in p["largest_str"]])
            self.assertEqual(p["largest_bytes"][0]["size"], 70000)
            self.assertEqual(p["node_kinds"]["list"], 1)
        rc, out, _ = run("stats", path)
        self.assertEqual(rc, 0)
        self.assertIn(b"opcodes:", out)
        self.assertIn(b"BININT1", out)
        self.assertIn(b"largest 70000 at", out)

    def test_broken_pickle_still_has_stats(self):
        rc, out, err = run("stats", "-", stdin=b"\x80\x04K\x01K\x02")
        self.assertEqual(rc, 1)
        self.assertIn(b"BININT1", out)
        self.assertIn(b"truncated", err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
