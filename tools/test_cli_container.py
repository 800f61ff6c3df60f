"""End-to-end tests of the container side of the brine tool (run by ctest as cli_container_tests):
`brine pack`, `brine unpack`, every command reading a container, hostile containers,
`brine convert --optimize` against pickletools.optimize, every command's --help, and `brine demo`.

The tool is found through the BRINE environment variable. Expected results come from the CPython
running this script (pickle, pickletools) and from python/brine_container.py, in the same run.
"""
import glob
import io
import json
import os
import pickle
import pickletools
import random
import struct
import subprocess
import sys
import tempfile
import unittest

BRINE = os.environ.get("BRINE", "brine")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
PYDIR = os.path.join(ROOT, "python")
CORPUS = os.path.join(ROOT, "conformance", "corpus")
# The sanitizer build runs the per-pickle corpus loop on every Nth pickle, and the hostile-container
# catalogue through one command per case instead of all six (tools/CMakeLists.txt).
STRIDE = int(os.environ.get("BRINE_CORPUS_STRIDE", "1"))
sys.path.insert(0, PYDIR)
import brine_container as bc  # noqa: E402

COMMANDS = ("check", "show", "dis", "convert", "scan", "json", "stats", "pack", "unpack", "demo")


def run(*args, stdin=None, timeout=300):
    p = subprocess.run([BRINE, *args], input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def oob_pickle(obj):
    """pickle.dumps(obj, 5) with every PickleBuffer out of band: (pickle, [raw buffers])."""
    buffers = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=lambda b: buffers.append(b) or False)
    return data, buffers


def sample_object():
    ro = pickle.PickleBuffer(random.Random(5).randbytes(76_800))  # read-only, incompressible
    rw = pickle.PickleBuffer(bytearray(b"\x01\x02\x03" * 10))     # writable, 30 bytes
    return {"label": "from CPython", "n": 42, "ro": ro, "rw": rw, "list": [1.5, None, "x"]}


class Temp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def sample_files(self):
        """x.pkl, x.buf0, x.buf1 as CPython's buffer_callback produced them."""
        data, buffers = oob_pickle(sample_object())
        self.write("x.pkl", data)
        for i, b in enumerate(buffers):
            self.write("x.buf%d" % i, b.raw().tobytes())
        return data, buffers

    def sample_container(self, name="x.brc", *extra):
        data, buffers = self.sample_files()
        rc, out, err = run("pack", *extra, "-o", self.path(name), self.path("x.pkl"), self.path("x.buf0"),
                           self.path("x.buf1"))
        self.assertEqual(rc, 0, err)
        return data, buffers


def one_error_line(test, rc, err, prefix):
    test.assertEqual(rc, 1, err)
    lines = err.decode(errors="replace").splitlines()
    test.assertEqual(len(lines), 1, lines)
    test.assertTrue(lines[0].startswith(prefix), lines[0])
    test.assertNotIn("Sanitizer", lines[0])
    return lines[0]


class Pack(Temp):
    def test_pack_records_buffers_and_readonly_flags(self):
        data, buffers = self.sample_files()
        out = self.path("x.brc")
        rc, stdout, err = run("pack", "-o", out, self.path("x.pkl"), self.path("x.buf0"), self.path("x.buf1"))
        self.assertEqual(rc, 0, err)
        size = os.path.getsize(out)
        self.assertEqual(stdout.decode(), "%s: container of %s bytes: pickle %d bytes + 2 out-of-band buffers "
                         "(76,830 bytes)\n" % (out, format(size, ","), len(data)))
        with bc.open(out) as c:
            self.assertEqual(bytes(c.pickle), data)
            self.assertEqual([bytes(b) for b in c.buffers], [b.raw().tobytes() for b in buffers])
            self.assertEqual(c.readonly, [True, False])  # READONLY_BUFFER follows the first NEXT_BUFFER only
            obj = c.load()
        self.assertEqual(bytes(obj["ro"]), random.Random(5).randbytes(76_800))
        self.assertEqual(obj["label"], "from CPython")

    def test_same_bytes_as_the_python_writer(self):
        data, buffers = self.sample_container("x.brc", "--compress", "never")
        py = bc.to_bytes(data, buffers, compress="never")
        self.assertEqual(self.read("x.brc"), py)

    def test_buffer_count_must_match(self):
        self.sample_files()
        pkl, b0, b1 = self.path("x.pkl"), self.path("x.buf0"), self.path("x.buf1")
        second = [pos for op, _, pos in pickletools.genops(self.read("x.pkl")) if op.name == "NEXT_BUFFER"][1]
        rc, _, err = run("pack", "-o", self.path("o.brc"), pkl, b0)
        self.assertEqual(one_error_line(self, rc, err, "brine: "),
                         "brine: %s: the pickle has more NEXT_BUFFER opcodes than the 1 buffer file given "
                         "(buffers_exhausted at offset %d (opcode NEXT_BUFFER): not enough out-of-band buffers)"
                         % (pkl, second))
        rc, _, err = run("pack", "-o", self.path("o.brc"), pkl, b0, b1, b1)
        self.assertEqual(one_error_line(self, rc, err, "brine: "),
                         "brine: %s: the pickle uses 2 out-of-band buffers, 3 buffer files given" % pkl)
        self.assertFalse(os.path.exists(self.path("o.brc")))

    def test_plain_pickle_and_stdin_and_stdout(self):
        data = pickle.dumps({"a": [1, 2, 3]}, 5)
        rc, out, err = run("pack", "-o", "-", "-", stdin=data)
        self.assertEqual(rc, 0, err)
        self.assertTrue(err.decode().startswith("-: container of "), err)  # the report goes to stderr
        with bc.open_bytes(out) as c:
            self.assertEqual(bytes(c.pickle), data)
            self.assertEqual(c.buffers, [])

    def test_repack_with_compression(self):
        self.sample_container("x.brc", "--compress", "never")
        rc, out, err = run("pack", "--compress", "always", "--compress-zero-copy", "-o", self.path("z.brc"),
                           self.path("x.brc"))
        self.assertEqual(rc, 0, err)
        self.assertIn(b"3 sections compressed", out)
        rc, out, err = run("check", self.path("z.brc"))
        self.assertEqual(rc, 0, err)
        self.assertIn(b"3 sections zstd-compressed", out)
        rc, _, err = run("pack", "-o", self.path("y.brc"), self.path("x.brc"), self.path("x.buf0"))
        self.assertEqual(one_error_line(self, rc, err, "brine: "),
                         "brine: %s: is already a container; BUFFER files cannot be added to it" % self.path("x.brc"))

    def test_usage_errors(self):
        self.sample_files()
        for args in (["pack", self.path("x.pkl")], ["pack", "-o", self.path("o.brc")],
                     ["pack", "--compress", "sometimes", "-o", "o", "x"], ["pack", "--level", "0", "-o", "o", "x"],
                     ["pack", "--max-ratio", "2", "-o", "o", "x"], ["pack", "--bogus", "-o", "o", "x"],
                     ["unpack", "x"], ["unpack", "--raw", "x", "-"], ["demo", "--size", "0"], ["demo", "extra"]):
            rc, _, err = run(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertTrue(err.startswith(b"brine: "), err)


class Unpack(Temp):
    def test_inline_is_what_cpython_writes(self):
        data, buffers = self.sample_container()
        rc, out, err = run("unpack", self.path("x.brc"), self.path("in.pkl"))
        self.assertEqual(rc, 0, err)
        got = self.read("in.pkl")
        self.assertEqual(out.decode(), "%s: pickle of %s bytes, protocol 5, 2 buffers inlined\n"
                         % (self.path("in.pkl"), format(len(got), ",")))
        # What CPython writes when the buffers are in band: bytes for the read-only one, a
        # bytearray for the writable one, memoized (the second reference is a GET).
        expected = pickle.dumps(pickle.loads(data, buffers=[b.raw().tobytes() if b.raw().readonly
                                                            else bytearray(b.raw()) for b in buffers]), 5)
        self.assertEqual(got, expected)
        obj = pickle.loads(got)
        self.assertEqual(obj["ro"], random.Random(5).randbytes(76_800))
        self.assertIsInstance(obj["rw"], bytearray)

    def test_inline_to_stdout(self):
        self.sample_container()
        rc, out, err = run("unpack", self.path("x.brc"), "-")
        self.assertEqual(rc, 0, err)
        self.assertEqual(pickle.loads(out)["n"], 42)
        self.assertIn(b"2 buffers inlined", err)

    def test_raw_round_trip(self):
        data, buffers = self.sample_container()
        os.mkdir(self.path("out"))
        rc, out, err = run("unpack", "--raw", self.path("x.brc"), self.path("out/y.pkl"))
        self.assertEqual(rc, 0, err)
        stem = self.path("out/y")
        self.assertEqual(out.decode(), "%s.pkl: pickle of %d bytes; buffers in %s.buf0 to %s.buf1 (2 files)\n"
                         % (stem, len(data), stem, stem))
        self.assertEqual(self.read("out/y.pkl"), data)
        for i, b in enumerate(buffers):
            self.assertEqual(self.read("out/y.buf%d" % i), b.raw().tobytes())
        rc, _, err = run("pack", "-o", self.path("again.brc"), stem + ".pkl", stem + ".buf0", stem + ".buf1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.read("again.brc"), self.read("x.brc"))

    def test_not_a_container(self):
        p = self.write("p.pkl", pickle.dumps(1, 5))
        rc, _, err = run("unpack", p, self.path("o.pkl"))
        self.assertEqual(one_error_line(self, rc, err, "brine: "),
                         "brine: %s: not a brine container (it does not start with \\x89BRN\\r\\n\\x1a\\n)" % p)

    def test_container_without_buffers(self):
        data = pickle.dumps([1, 2], 2)
        c = self.write("c.brc", bc.to_bytes(data))
        rc, out, err = run("unpack", c, self.path("o.pkl"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.read("o.pkl"), data)
        self.assertIn(b"(the container has no buffers)", out)


class EveryCommandReadsContainers(Temp):
    def setUp(self):
        super().setUp()
        self.data, self.buffers = self.sample_container()
        self.brc = self.path("x.brc")
        self.raw = [b.raw().tobytes() for b in self.buffers]

    def summary(self, compressed=""):
        size = os.path.getsize(self.brc)
        return ("container: %s bytes, pickle %d bytes + 2 out-of-band buffers (76,830 bytes)%s, "
                "3 of 3 sections checksum-verified" % (format(size, ","), len(self.data), compressed))

    def test_check(self):
        rc, out, err = run("check", self.brc)
        self.assertEqual(rc, 0, err)
        ops = list(pickletools.genops(self.data))
        memo = sum(1 for op, _, _ in ops if op.name == "MEMOIZE")
        self.assertEqual(out.decode(), "%s: valid pickle, protocol 5, %d opcodes, %d memo entries, STOP at offset %d\n"
                         "  %s\n" % (self.brc, len(ops), memo, ops[-1][2], self.summary()))

    def test_check_from_stdin(self):
        rc, out, err = run("check", "-", stdin=self.read("x.brc"))
        self.assertEqual(rc, 0, err)
        self.assertIn(b"-: valid pickle, protocol 5", out)

    def test_dis_is_the_pickle_sections_listing(self):
        expected = io.StringIO()
        pickletools.dis(self.data, expected)
        rc, out, err = run("dis", self.brc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode(), expected.getvalue())

    def test_show_labels_the_buffers(self):
        rc, out, err = run("show", "--width", "0", self.brc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode(), "{'label': 'from CPython', 'n': 42, 'ro': <buffer #0 readonly>, "
                         "'rw': <buffer #1>, 'list': [1.5, None, 'x']}\n")

    def test_convert_inlines_the_buffers(self):
        rc, out, err = run("convert", self.brc, "-")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, pickle.dumps(pickle.loads(self.data, buffers=[self.raw[0], bytearray(self.raw[1])]), 5))

    def test_json(self):
        import base64
        rc, out, err = run("json", self.brc)  # plain JSON has no PickleBuffer
        offset = [pos for op, _, pos in pickletools.genops(self.data) if op.name == "NEXT_BUFFER"][0]
        self.assertEqual(one_error_line(self, rc, err, "brine: "), "brine: %s: PickleBuffer at offset %d is not JSON "
                         "data (--lossless writes every kind)" % (self.brc, offset))
        rc, out, err = run("json", "--lossless", self.brc)
        self.assertEqual(rc, 0, err)
        found = {}
        for key, value in json.loads(out)["$dict"]:
            found[key] = value
        self.assertEqual(base64.b64decode(found["ro"]["$buffer"]), self.raw[0])
        self.assertEqual(base64.b64decode(found["rw"]["$buffer"]), self.raw[1])

    def test_scan_is_clean_with_the_container_line(self):
        rc, out, err = run("scan", self.brc)
        self.assertEqual(rc, 0, err)
        lines = out.decode().splitlines()
        self.assertEqual(lines[0], "%s: clean (1 pickle)" % self.brc)
        self.assertEqual(lines[1], "  " + self.summary())
        rc, out, err = run("scan", "--json", self.brc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["verdict"], "clean")

    def test_stats(self):
        rc, out, err = run("stats", self.brc)
        self.assertEqual(rc, 0, err)
        lines = out.decode().splitlines()
        self.assertEqual(lines[1], self.summary())
        self.assertTrue(lines[2].startswith("pickle 0: bytes 0..%d, protocol 5" % len(self.data)), lines[2])

    def test_compressed_container(self):
        rc, _, err = run("pack", "--compress", "always", "-o", self.path("z.brc"), self.brc)
        self.assertEqual(rc, 0, err)
        rc, out, err = run("show", "--width", "0", self.path("z.brc"))
        self.assertEqual(rc, 0, err)
        self.assertIn(b"<buffer #0 readonly>", out)
        rc, out, err = run("convert", self.path("z.brc"), "-")
        self.assertEqual(rc, 0, err)
        self.assertEqual(pickle.loads(out)["ro"], self.raw[0])


def corruptions(blob):
    """(name, bytes) for a catalogue of broken containers: truncations, each header field and
    table entry changed, flipped payload bytes (first, middle and last byte of every section;
    padding is ignored by design), trailing bytes."""
    out = [("empty magic only", blob[:8]), ("header only", blob[:64]), ("half table", blob[:100]),
           ("one byte short", blob[:-1]), ("trailing byte", blob + b"\0")]
    n = struct.unpack_from("<I", blob, 20)[0]
    for off in list(range(8, 64)) + list(range(64, 64 + 48 * n)):
        b = bytearray(blob)
        b[off] ^= 0x41
        out.append(("byte %d flipped" % off, bytes(b)))
    with bc.open_bytes(blob) as c:
        sections = list(c.sections)
    payload = sorted({o for sec in sections if sec.stored_size
                      for o in (sec.offset, sec.offset + sec.stored_size // 2, sec.offset + sec.stored_size - 1)})
    for off in payload:
        b = bytearray(blob)
        b[off] ^= 1
        out.append(("payload byte %d flipped" % off, bytes(b)))
    return out


class HostileContainers(Temp):
    def test_exact_messages(self):
        self.sample_container()
        blob = self.read("x.brc")
        cases = {
            "short.brc": (blob[:8], "truncated at offset 8: container: the container has 8 bytes, fewer than the "
                                    "64-byte header [file]"),
            "version.brc": (blob[:8] + b"\x09" + blob[9:], "unsupported_version at offset 8: container: unsupported "
                                                           "container version 9 (this reader understands version 1) [version]"),
            "trailing.brc": (blob + b"\0", "container_corrupt at offset 24: container: total_size is %d but the "
                                           "container has %d bytes (trailing bytes) [total_size]" % (len(blob), len(blob) + 1)),
        }
        for name, (data, message) in cases.items():
            p = self.write(name, data)
            for cmd in ("check", "show", "dis", "json", "stats", "scan"):
                rc, _, err = run(cmd, p)
                self.assertEqual(one_error_line(self, rc, err, "brine: "), "brine: %s: %s" % (p, message), cmd)

    def test_catalogue_one_line_exit_1(self):
        self.sample_container()
        blob = self.read("x.brc")
        catalogue = corruptions(blob)
        seen = 0
        for i, (name, data) in enumerate(catalogue):
            p = self.write("bad.brc", data)
            commands = (["check", p], ["show", p], ["dis", p], ["scan", p], ["unpack", p, self.path("o.pkl")],
                        ["convert", p, self.path("o.pkl")])
            # Under the sanitizers (a stride above 1) each case goes to one command in turn, so that
            # every command still meets a sixth of the catalogue: an ASan process start costs
            # about 0.2 s here, and the catalogue times six commands is over a thousand of them.
            for args in commands if STRIDE == 1 else commands[i % len(commands):][:1]:
                rc, out, err = run(*args)
                if rc == 0:
                    # Only a change the format ignores may pass: none in this catalogue.
                    self.fail("%s: %s accepted" % (name, args[0]))
                line = one_error_line(self, rc, err, "brine: %s: " % p)
                self.assertRegex(line, r"\[[a-z_ ]+\]$|at offset \d+", (name, line))
                seen += 1
        self.assertGreater(len(catalogue), 200)
        self.assertEqual(seen, len(catalogue) * (6 if STRIDE == 1 else 1))

    def test_checksum_policy(self):
        self.sample_container("x.brc", "--compress", "never")
        blob = bytearray(self.read("x.brc"))
        blob[-1] ^= 1  # the last byte of the last (small) buffer
        p = self.write("flip.brc", bytes(blob))
        rc, _, err = run("check", p)
        self.assertIn(b"checksum_mismatch", err)
        rc, out, err = run("check", "--verify", "metadata", p)
        self.assertEqual(rc, 0, err)
        self.assertIn(b"0 of 3 sections checksum-verified", out)
        rc, _, err = run("check", "--verify", "sometimes", p)
        self.assertEqual(rc, 2)

    def test_stdin(self):
        rc, _, err = run("show", "-", stdin=bc.MAGIC + b"\0" * 10)
        self.assertEqual(one_error_line(self, rc, err, "brine: -: "),
                         "brine: -: truncated at offset 18: container: the container has 18 bytes, fewer than the "
                         "64-byte header [file]")


# --- convert --optimize

class Point:
    def __init__(self):
        self.x = [1, 2]
        self.y = self.x


def optimize_cases():
    shared = [1, 2]
    rec = []
    rec.append(rec)
    objects = [None, [1, 2, 3], {"a": [shared, shared], "b": "x" * 70000, "c": b"y" * 100000},
               list(range(2000)), [str(i) for i in range(600)], [[str(i)] * 2 for i in range(400)], rec,
               (1, (2, 3)), {1, 2, 3}, frozenset([1]), Point(), [bytearray(b"ab")] * 2,
               {"k%d" % i: ("v", i) for i in range(300)}, [b"z" * 70000] * 2]
    for obj in objects:
        for proto in range(6):
            for dumps in (pickle.dumps, pickle._dumps):
                yield obj, proto, dumps(obj, proto)


class Optimize(Temp):
    def test_identical_to_pickletools_optimize(self):
        n = 0
        for obj, proto, data in optimize_cases():
            rc, out, err = run("convert", "--optimize", "-", "-", stdin=data)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, pickletools.optimize(data), (proto, repr(obj)[:60]))
            n += 1
        self.assertEqual(n, 168)

    def test_reencoded_then_optimized(self):
        for obj, proto, data in optimize_cases():
            if proto not in (0, 2, 5):
                continue
            rc, out, err = run("convert", "--optimize", "--protocol", str(proto), "-", "-", stdin=data)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, pickletools.optimize(pickle.dumps(pickle.loads(data), proto)))

    def test_corpus(self):
        identical = refused_both = beyond = 0
        for path in sorted(glob.glob(os.path.join(CORPUS, "**", "*.pkl"), recursive=True))[::STRIDE]:
            with open(path, "rb") as f:
                data = f.read()
            rc, out, err = run("convert", "--optimize", path, "-")
            try:
                expected = pickletools.optimize(data)
            except UnicodeDecodeError:
                # Python 2 STRING arguments pickletools cannot decode as ASCII: brine copies them
                # as they are; the result loads to what the original loads to.
                self.assertEqual(rc, 0, (path, err))
                self.assertEqual(pickle.loads(out, encoding="latin1"), pickle.loads(data, encoding="latin1"), path)
                beyond += 1
                continue
            except ValueError:  # ints beyond the 4300-digit limit: refused by both
                self.assertEqual(rc, 1, path)
                refused_both += 1
                continue
            self.assertEqual(rc, 0, (path, err))
            self.assertEqual(out, expected, path)
            identical += 1
        self.assertGreater(identical, 600 // STRIDE)
        print("\ncorpus: %d optimized byte-identical to pickletools.optimize, %d that pickletools cannot "
              "optimize (non-ASCII Python 2 STRING) load equal, %d refused by both"
              % (identical, beyond, refused_both), file=sys.stderr)

    def test_container_input(self):
        data, buffers = oob_pickle(sample_object())
        p = self.write("x.brc", bc.to_bytes(data, buffers))
        rc, out, err = run("convert", "--optimize", p, "-")
        self.assertEqual(rc, 0, err)
        raw = [b.raw().tobytes() if b.raw().readonly else bytearray(b.raw()) for b in buffers]
        self.assertEqual(out, pickletools.optimize(pickle.dumps(pickle.loads(data, buffers=raw), 5)))

    def test_invalid_pickle_refused(self):
        rc, _, err = run("convert", "--optimize", "-", "-", stdin=b"\x80\x04(q\x00.")
        self.assertEqual(one_error_line(self, rc, err, "brine: -: "),
                         "brine: -: unexpected_mark at offset 3 (opcode BINPUT): unexpected MARK found")


class Help(unittest.TestCase):
    def test_every_command(self):
        for cmd in COMMANDS:
            rc, out, err = run(cmd, "--help")
            self.assertEqual(rc, 0, (cmd, err))
            self.assertTrue(out.startswith(b"usage: brine " + cmd.encode()), (cmd, out[:60]))
            self.assertEqual(err, b"")
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        for cmd in COMMANDS:
            self.assertIn(("  %s " % cmd).encode(), out)


class Demo(Temp):
    def test_demo_agrees_and_keeps_the_containers(self):
        prefix = self.path("demo")
        rc, out, err = run("demo", "--size", "4", "--records", "300", "--keep", prefix, timeout=600)
        text = out.decode()
        if rc != 0 and b"no CPython 3.8 or later found" in err:
            self.skipTest("no python3 for the demo")
        self.assertEqual(rc, 0, err)
        self.assertIn("OK: CPython and C++ agree", text)
        self.assertIn("lies inside the mapping", text)
        self.assertIn("300 records + 524,288 float64 samples (4.0 MiB", text)
        for name in ("demo.request.brc", "demo.reply.brc"):
            rc, out, err = run("check", self.path(name))
            self.assertEqual(rc, 0, err)
        rc, out, err = run("unpack", self.path("demo.request.brc"), self.path("request.pkl"))
        self.assertEqual(rc, 0, err)

    def test_without_numpy(self):
        # The interpreter running this test, when it has no numpy: samples as a bare PickleBuffer.
        try:
            import numpy  # noqa: F401
            self.skipTest("this interpreter has numpy")
        except ImportError:
            pass
        rc, out, err = run("demo", "--size", "1", "--records", "300", "--python", sys.executable, timeout=600)
        self.assertEqual(rc, 0, err)
        self.assertIn(b"no numpy", out)
        self.assertIn(b"a PickleBuffer out of band", out)
        self.assertIn(b"OK: CPython and C++ agree", out)

    def test_mismatch_is_reported(self):
        fake = self.write("fake_peer.py", (
            "import sys\nsys.path.insert(0, %r)\nimport brine_demo_peer as p\n"
            "def wrap(f):\n"
            "    def g(x):\n"
            "        s, h, f32 = f(x)\n"
            "        s['max'] += 1.0\n"
            "        return s, h, f32\n"
            "    return g\n"
            "p.stats_numpy, p.stats_pure = wrap(p.stats_numpy), wrap(p.stats_pure)\n"
            "p.main()\n" % PYDIR).encode())
        rc, out, err = run("demo", "--size", "1", "--records", "10", "--peer", fake, timeout=600)
        self.assertEqual(rc, 1, err)
        lines = err.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"^brine: demo: mismatch: max: C\+\+ [0-9.]+, CPython [0-9.]+$")
        self.assertIn(b"MISMATCH", out)

    def test_failures_are_one_line(self):
        rc, _, err = run("demo", "--size", "1", "--python", self.path("no-such-python"))
        self.assertEqual(one_error_line(self, rc, err, "brine: demo: "),
                         "brine: demo: %s does not run as CPython 3.8 or later" % self.path("no-such-python"))
        rc, _, err = run("demo", "--size", "1", "--peer", self.path("missing.py"))
        self.assertEqual(one_error_line(self, rc, err, "brine: demo: "),
                         "brine: demo: %s: not found" % self.path("missing.py"))
        crash = self.write("crash.py", b"import sys\nprint('brine_demo_peer: RuntimeError: boom', file=sys.stderr)\n"
                                       b"sys.exit(1)\n")
        rc, _, err = run("demo", "--size", "1", "--peer", crash)
        self.assertEqual(one_error_line(self, rc, err, "brine: demo: "),
                         "brine: demo: the Python peer failed (exit status 1): brine_demo_peer: RuntimeError: boom")


if __name__ == "__main__":
    unittest.main(verbosity=2)
