"""End-to-end tests of the brine command-line tool (run by ctest as cli_tests).

The tool is found through the BRINE environment variable. Expected outputs come from the CPython
running this script (pickle, pickletools), in the same run.
"""
import io
import os
import pickle
import pickletools
import subprocess
import sys
import tempfile
import unittest

BRINE = os.environ.get("BRINE", "brine")
HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "examples", "demo.pkl")


def run(*args, stdin=None):
    p = subprocess.run([BRINE, *args], input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class Check(unittest.TestCase):
    def test_valid_file(self):
        rc, out, err = run("check", DEMO)
        self.assertEqual(rc, 0, err)
        self.assertIn(b"valid pickle, protocol 5", out)

    def test_invalid_from_stdin(self):
        rc, out, err = run("check", "-", stdin=b"\x80\x04.")
        self.assertEqual(rc, 1)
        self.assertEqual(err.decode().strip(),
                         "brine: -: stack_underflow at offset 2 (opcode STOP): unpickling stack underflow")

    def test_usage(self):
        self.assertEqual(run("check")[0], 2)
        self.assertEqual(run("check", "--no-such-flag", DEMO)[0], 2)
        self.assertEqual(run("frobnicate")[0], 2)
        self.assertEqual(run()[0], 2)

    def test_help_on_every_command(self):
        for cmd in ("check", "show", "dis", "convert"):
            rc, out, _ = run(cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            self.assertIn(b"usage: brine " + cmd.encode(), out)

    def test_limits(self):
        rc, out, _ = run("check", "--limits")
        self.assertEqual(rc, 0)
        self.assertIn(b"max_memo_entries", out)
        rc, _, err = run("check", "--max-stack", "2", "-", stdin=b"NNN.")
        self.assertEqual(rc, 1)
        self.assertIn(b"limit_exceeded", err)

    def test_missing_file(self):
        rc, _, err = run("check", os.path.join(HERE, "no-such-file.pkl"))
        self.assertEqual(rc, 1)
        self.assertIn(b"No such file", err)

    def test_hostile_inputs_never_crash(self):
        bombs = [
            b"\x8e" + (1 << 40).to_bytes(8, "little") + b"abc",
            b"Nr\xff\xff\xff\x7f.",
            b"(" * 100000 + b"N.",
            b"]" * 100000 + b"a" * 99999 + b".",
            b"\x80\x05\x95" + (2).to_bytes(8, "little") + b"J\x07\x00\x00\x00.",
        ]
        for data in bombs:
            for cmd in ("check", "show", "dis"):
                rc, _, err = run(cmd, "-", stdin=data)
                self.assertIn(rc, (0, 1), (cmd, data[:20], err))
                self.assertNotIn(b"AddressSanitizer", err)


class Show(unittest.TestCase):
    def test_plain_data_matches_python_repr(self):
        obj = [1, "two", 3.5, None, True, b"\x00", (4,), {"k": [5]}, {6}, frozenset({7})]
        rc, out, err = run("show", "--python", "--width", "0", "-", stdin=pickle.dumps(obj, 5))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode().strip(), repr(obj))

    def test_sharing_is_labelled_not_expanded(self):
        shared = [1, 2]
        rc, out, _ = run("show", "--width", "0", "-", stdin=pickle.dumps([shared, shared], 4))
        self.assertEqual(rc, 0)
        self.assertEqual(out.decode().strip(), "[<#1>[1, 2], <@1>]")

    def test_billion_laughs_is_budgeted(self):
        laughs = (b"\x80\x04]\x940" + b"".join(b"(" + (b"h" + bytes([i])) * 10 + b"l\x940" for i in range(9))
                  + b"h\x09.")
        rc, out, err = run("show", "--python", "--budget", "10000", "-", stdin=laughs)
        self.assertEqual(rc, 0)
        self.assertLess(len(out), 200000)
        self.assertIn(b"truncated", err)


class Dis(unittest.TestCase):
    def test_identical_to_pickletools(self):
        for proto in range(6):
            for obj in ([1, "a", (2.5, None, True), {"k": b"xx"}, 10 ** 30], {"nested": [[], {}], "s": {1, 2}}):
                data = pickle.dumps(obj, proto)
                expected = io.StringIO()
                pickletools.dis(data, expected)
                rc, out, err = run("dis", "-", stdin=data)
                self.assertEqual(rc, 0, err)
                self.assertEqual(out.decode(), expected.getvalue(), (proto, obj))

    def test_demo_identical_to_pickletools(self):
        with open(DEMO, "rb") as f:
            data = f.read()
        expected = io.StringIO()
        pickletools.dis(data, expected)
        rc, out, _ = run("dis", DEMO)
        self.assertEqual(rc, 0)
        self.assertEqual(out.decode(), expected.getvalue())


class Convert(unittest.TestCase):
    def test_byte_identical_to_pickle_dumps(self):
        obj = {"ints": list(range(1500)), "text": ["a", "b" * 300], "t": (1, 2, 3, 4), "f": 2.5,
               "set": set(range(10)), "bytes": b"x" * 70000, "nested": [[[]]]}
        for src in range(6):
            for dst in range(6):
                with tempfile.TemporaryDirectory() as d:
                    inp, outp = os.path.join(d, "in.pkl"), os.path.join(d, "out.pkl")
                    with open(inp, "wb") as f:
                        f.write(pickle.dumps(obj, src))
                    rc, _, err = run("convert", "--protocol", str(dst), inp, outp)
                    self.assertEqual(rc, 0, err)
                    with open(outp, "rb") as f:
                        got = f.read()
                    self.assertEqual(got, pickle.dumps(pickle.loads(got), dst), (src, dst))
                    self.assertEqual(pickle.loads(got), obj)

    def test_stdout(self):
        rc, out, _ = run("convert", "--protocol", "2", "-", "-", stdin=pickle.dumps([1, 2], 5))
        self.assertEqual(rc, 0)
        self.assertEqual(out, pickle.dumps([1, 2], 2))


if __name__ == "__main__":
    unittest.main(verbosity=2)
