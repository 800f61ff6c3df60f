#!/usr/bin/env python3
"""Generate brine's fix_imports tables from CPython's Lib/_compat_pickle.py.

CPYTHON.md §5: the tables must be vendored as data generated from CPython, one table set per
distinct content, never hand-copied. This script asks every installed CPython 3.8-3.13 for the four
mappings of its own `_compat_pickle` module (IMPORT_MAPPING, NAME_MAPPING, REVERSE_IMPORT_MAPPING,
REVERSE_NAME_MAPPING), groups the interpreters by table content, checks the groups and sizes against
what brine expects, and writes

  lib/compat_tables.cpp          sorted constexpr arrays + binary-search lookups (generated)
  tests/data/compat_tables.txt   every mapping as probe -> expected result, for the exhaustive test

Interpreters are found with `pyenv root` / `pyenv versions --bare`, then `pythonX.Y` on PATH, then
any `--python EXE` given on the command line. Each one found must agree with the others of its
group; each group needs at least one interpreter. Output never names a path of this machine.

Usage:  tools/gen_compat_tables.py [--check] [--python EXE ...]
  --check   regenerate in memory and fail (exit 1) if the committed files differ.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_CPP = os.path.join("lib", "compat_tables.cpp")
OUT_DATA = os.path.join("tests", "data", "compat_tables.txt")

# The table sets brine ships, in the order of `enum class compat_tables` (lib/compat_tables.hpp),
# with the CPython minor versions each covers and the sizes CPYTHON.md §5 documents:
# (IMPORT_MAPPING, NAME_MAPPING, REVERSE_IMPORT_MAPPING, REVERSE_NAME_MAPPING).
TABLE_SETS = [
    ("cpython_3_8_to_3_12", [(3, 8), (3, 9), (3, 10), (3, 11), (3, 12)], (55, 88, 47, 112)),
    ("cpython_3_13", [(3, 13)], (54, 88, 46, 112)),
]
TABLES = ["IMPORT_MAPPING", "NAME_MAPPING", "REVERSE_IMPORT_MAPPING", "REVERSE_NAME_MAPPING"]

# Run inside each interpreter: its version and its own _compat_pickle tables, as JSON.
PROBE = r"""
import _compat_pickle as c, hashlib, json, sys
with open(c.__file__, 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
def pairs(d):
    return sorted([list(k) if isinstance(k, tuple) else k, list(v) if isinstance(v, tuple) else v]
                  for k, v in d.items())
print(json.dumps({
    'version': '%d.%d.%d' % sys.version_info[:3],
    'sha256': digest,
    'IMPORT_MAPPING': pairs(c.IMPORT_MAPPING),
    'NAME_MAPPING': pairs(c.NAME_MAPPING),
    'REVERSE_IMPORT_MAPPING': pairs(c.REVERSE_IMPORT_MAPPING),
    'REVERSE_NAME_MAPPING': pairs(c.REVERSE_NAME_MAPPING),
}))
"""


def fail(msg):
    sys.exit("gen_compat_tables: error: " + msg)


def find_interpreters(extra):
    """Candidate executables, most specific first; duplicates are removed after probing."""
    found = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            root = subprocess.run([pyenv, "root"], capture_output=True, text=True,
                                  check=True).stdout.strip()
            names = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True,
                                   check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError):
            root, names = "", []
        for name in names:
            m = re.fullmatch(r"(3)\.(\d+)\.\d+", name)
            if not m:
                continue
            exe = os.path.join(root, "versions", name, "bin", "python%s.%s" % m.groups())
            if os.access(exe, os.X_OK):
                found.append(exe)
    for _, minors, _ in TABLE_SETS:
        for major, minor in minors:
            exe = shutil.which("python%d.%d" % (major, minor))
            if exe:
                found.append(exe)
    return found + list(extra)


def probe(exe):
    try:
        r = subprocess.run([exe, "-I", "-c", PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None  # e.g. a pyenv shim for a version that is not active
    return json.loads(r.stdout)


def group_of(version):
    major, minor = (int(x) for x in version.split(".")[:2])
    for name, minors, _ in TABLE_SETS:
        if (major, minor) in minors:
            return name
    return None


def tables_key(info):
    return json.dumps([info[t] for t in TABLES])


def collect(extra):
    by_version = {}
    for exe in find_interpreters(extra):
        info = probe(exe)
        if info is None or info["version"] in by_version:
            continue
        if group_of(info["version"]) is None:
            print("gen_compat_tables: ignoring CPython %s (no table set covers it)" % info["version"],
                  file=sys.stderr)
            continue
        by_version[info["version"]] = info
    groups = {}
    for name, minors, sizes in TABLE_SETS:
        members = sorted((v for v in by_version if group_of(v) == name),
                         key=lambda v: tuple(int(x) for x in v.split(".")))
        if not members:
            fail("no CPython interpreter found for table set %s (%s)" % (
                name, ", ".join("%d.%d" % mv for mv in minors)))
        missing = [mv for mv in minors
                   if not any(tuple(int(x) for x in v.split(".")[:2]) == mv for v in members)]
        if missing:
            print("gen_compat_tables: warning: table set %s built without CPython %s" % (
                name, ", ".join("%d.%d" % mv for mv in missing)), file=sys.stderr)
        first = by_version[members[0]]
        for v in members[1:]:
            if tables_key(by_version[v]) != tables_key(first):
                fail("CPython %s and %s disagree although both belong to %s" % (
                    members[0], v, name))
        got = tuple(len(first[t]) for t in TABLES)
        if got != sizes:
            fail("table set %s: sizes %s, CPYTHON.md §5 says %s" % (name, got, sizes))
        groups[name] = {"versions": members, "info": first}
    keys = [tables_key(groups[name]["info"]) for name, _, _ in TABLE_SETS]
    if len(set(keys)) != len(keys):
        fail("two table sets have identical content: merge them instead")
    return groups


# --- lookups, exactly as CPython applies them (Lib/pickle.py, Modules/_pickle.c) ---------------

def map_for_load(t, module, name):
    """_Unpickler.find_class with fix_imports at proto < 3."""
    if (module, name) in t["NAME_MAPPING"]:
        return t["NAME_MAPPING"][(module, name)]
    if module in t["IMPORT_MAPPING"]:
        return (t["IMPORT_MAPPING"][module], name)
    return None


def map_for_dump(t, module, name):
    """_Pickler.save_global with fix_imports at proto < 3."""
    if (module, name) in t["REVERSE_NAME_MAPPING"]:
        return t["REVERSE_NAME_MAPPING"][(module, name)]
    if module in t["REVERSE_IMPORT_MAPPING"]:
        return (t["REVERSE_IMPORT_MAPPING"][module], name)
    return None


def as_dicts(info):
    out = {}
    for t in TABLES:
        out[t] = {(tuple(k) if isinstance(k, list) else k): (tuple(v) if isinstance(v, list) else v)
                  for k, v in info[t]}
    return out


def check_names(groups):
    for g in groups.values():
        for t in TABLES:
            for k, v in g["info"][t]:
                for s in (k if isinstance(k, list) else [k]) + (v if isinstance(v, list) else [v]):
                    if not s or not s.isascii() or any(c in s for c in ' \t\n"\\'):
                        fail("unexpected character in table entry %r" % (s,))


# --- C++ --------------------------------------------------------------------------------------

def cpp_str(s):
    return '"%s"' % s  # check_names() guarantees nothing needs escaping


def emit_cpp(groups):
    versions = []
    for name, _, _ in TABLE_SETS:
        versions.append("%s: CPython %s" % (name, ", ".join(groups[name]["versions"])))
    digests = sorted({groups[name]["info"]["sha256"] for name, _, _ in TABLE_SETS})
    out = []
    w = out.append
    w("// GENERATED by tools/gen_compat_tables.py from CPython's Lib/_compat_pickle.py. Do not edit;")
    w("// run `python3 tools/gen_compat_tables.py` to regenerate, `--check` to verify.")
    w("//")
    w("// Produced from the installed interpreters:")
    for v in versions:
        w("//   %s" % v)
    w("// _compat_pickle.py SHA-256: %s" % ", ".join(d[:16] for d in digests))
    w("//")
    w("// The table contents are derived from CPython, Copyright (c) 2001 Python Software Foundation;")
    w("// All Rights Reserved; used under the PSF License Agreement.")
    w("")
    w('#include "compat_tables.hpp"')
    w("")
    w("#include <algorithm>")
    w("#include <array>")
    w("#include <cstddef>")
    w("#include <span>")
    w("")
    w("namespace brine::detail {")
    w("namespace {")
    w("")
    w("struct module_pair {")
    w("  std::string_view from, to;")
    w("};")
    w("struct name_pair {")
    w("  qualified_name from, to;")
    w("};")
    w("")
    w("constexpr bool less(const qualified_name& a, const qualified_name& b) noexcept {")
    w("  return a.module < b.module || (a.module == b.module && a.name < b.name);")
    w("}")
    w("template <std::size_t N>")
    w("constexpr bool strictly_sorted(const std::array<module_pair, N>& t) {")
    w("  for (std::size_t i = 1; i < N; ++i)")
    w("    if (!(t[i - 1].from < t[i].from)) return false;")
    w("  return true;")
    w("}")
    w("template <std::size_t N>")
    w("constexpr bool strictly_sorted(const std::array<name_pair, N>& t) {")
    w("  for (std::size_t i = 1; i < N; ++i)")
    w("    if (!less(t[i - 1].from, t[i].from)) return false;")
    w("  return true;")
    w("}")
    w("")

    # Emit each distinct table once; table sets refer to them by name.
    emitted = {}  # content key -> C++ identifier
    refs = {}     # (set name, table) -> identifier
    for name, _, _ in TABLE_SETS:
        info = groups[name]["info"]
        for t in TABLES:
            key = t + json.dumps(info[t])
            if key not in emitted:
                owners = [n for n, _, _ in TABLE_SETS
                          if t + json.dumps(groups[n]["info"][t]) == key]
                suffix = ("all" if len(owners) == len(TABLE_SETS)
                          else "_".join(o.replace("cpython_", "") for o in owners))
                ident = "%s_%s" % (t.lower(), suffix)
                emitted[key] = ident
                entries = info[t]
                is_name = t.endswith("NAME_MAPPING")
                w("// %s (%d entries), sorted by key; shared by %s." % (
                    t, len(entries), ", ".join(owners)))
                w("constexpr std::array<%s, %d> %s{{" % (
                    "name_pair" if is_name else "module_pair", len(entries), ident))
                for k, v in entries:
                    if is_name:
                        line = "    {{%s, %s}, {%s, %s}}," % (cpp_str(k[0]), cpp_str(k[1]),
                                                            cpp_str(v[0]), cpp_str(v[1]))
                        if len(line) > 100:
                            line = "    {{%s, %s},\n     {%s, %s}}," % (
                                cpp_str(k[0]), cpp_str(k[1]), cpp_str(v[0]), cpp_str(v[1]))
                        w(line)
                    else:
                        w("    {%s, %s}," % (cpp_str(k), cpp_str(v)))
                w("}};")
                w("static_assert(strictly_sorted(%s));" % ident)
                w("")
            refs[(name, t)] = emitted[key]

    for name, _, sizes in TABLE_SETS:
        idents = [refs[(name, t)] for t in TABLES]
        w("// CPYTHON.md §5 sizes for %s." % name)
        w("static_assert(%s);" % " &&\n              ".join(
            "%s.size() == %d" % (i, s) for i, s in zip(idents, sizes)))
    w("")
    w("struct table_set {")
    w("  std::span<const module_pair> import_mapping;")
    w("  std::span<const name_pair> name_mapping;")
    w("  std::span<const module_pair> reverse_import_mapping;")
    w("  std::span<const name_pair> reverse_name_mapping;")
    w("};")
    w("")
    w("// Indexed by compat_tables.")
    w("constexpr std::array<table_set, %d> table_sets{{" % len(TABLE_SETS))
    for name, _, _ in TABLE_SETS:
        w("    // %s" % name)
        w("    {%s}," % (",\n     ".join(refs[(name, t)] for t in TABLES)))
    w("}};")
    for i, (name, _, _) in enumerate(TABLE_SETS):
        w("static_assert(static_cast<std::size_t>(compat_tables::%s) == %d);" % (name, i))
    w("")
    w("constexpr const char* versions_text =")
    w("\n".join('    "%s%s"' % (v, "; " if i + 1 < len(versions) else "")
                for i, v in enumerate(versions)) + ";")
    w("")
    w("const table_set& tables_of(compat_tables t) noexcept {")
    w("  const auto i = static_cast<std::size_t>(t);")
    w("  return table_sets[i < table_sets.size() ? i : table_sets.size() - 1];")
    w("}")
    w("")
    w("bool key_less(const module_pair& e, std::string_view k) noexcept { return e.from < k; }")
    w("bool key_less(const name_pair& e, const qualified_name& k) noexcept {")
    w("  return less(e.from, k);")
    w("}")
    w("")
    w("template <class Entry, class Key>")
    w("const Entry* find(std::span<const Entry> t, const Key& key) noexcept {")
    w("  const auto it = std::lower_bound(t.begin(), t.end(), key,")
    w("                                   [](const Entry& e, const Key& k) { return key_less(e, k); });")
    w("  return it != t.end() && it->from == key ? &*it : nullptr;")
    w("}")
    w("")
    w("std::optional<qualified_name> lookup(std::span<const name_pair> names,")
    w("                                     std::span<const module_pair> modules, std::string_view module,")
    w("                                     std::string_view name) noexcept {")
    w("  if (const auto* e = find(names, qualified_name{module, name})) return e->to;")
    w("  if (const auto* e = find(modules, module)) return qualified_name{e->to, name};")
    w("  return std::nullopt;")
    w("}")
    w("")
    w("}  // namespace")
    w("")
    w("std::optional<qualified_name> map_for_load(std::string_view module, std::string_view name,")
    w("                                           compat_tables t) noexcept {")
    w("  const auto& s = tables_of(t);")
    w("  return lookup(s.name_mapping, s.import_mapping, module, name);")
    w("}")
    w("")
    w("std::optional<qualified_name> map_for_dump(std::string_view module, std::string_view name,")
    w("                                           compat_tables t) noexcept {")
    w("  const auto& s = tables_of(t);")
    w("  return lookup(s.reverse_name_mapping, s.reverse_import_mapping, module, name);")
    w("}")
    w("")
    w("compat_table_sizes table_sizes(compat_tables t) noexcept {")
    w("  const auto& s = tables_of(t);")
    w("  return {s.import_mapping.size(), s.name_mapping.size(), s.reverse_import_mapping.size(),")
    w("          s.reverse_name_mapping.size()};")
    w("}")
    w("")
    w("std::string_view compat_tables_versions() noexcept { return versions_text; }")
    w("")
    w("}  // namespace brine::detail")
    return "\n".join(out) + "\n"


# --- test data --------------------------------------------------------------------------------

def probes(groups):
    """Queries for both directions: every key of every set, the module alone, and near misses
    on both sides of each key (they exercise the ends of the binary search)."""
    load, dump = set(), set()
    for g in groups.values():
        d = as_dicts(g["info"])
        for m, n in d["NAME_MAPPING"]:
            load.update({(m, n), (m, n + "_"), (m[:-1], n)})
        for m in d["IMPORT_MAPPING"]:
            load.update({(m, "__brine_probe__"), (m + "_", "x"), (m[:-1], "x")})
        for m, n in d["REVERSE_NAME_MAPPING"]:
            dump.update({(m, n), (m, n + "_"), (m[:-1], n)})
        for m in d["REVERSE_IMPORT_MAPPING"]:
            dump.update({(m, "__brine_probe__"), (m + "_", "x"), (m[:-1], "x")})
    load.update({("", ""), ("builtins", "range"), ("~", "~")})
    dump.update({("", ""), ("__builtin__", "xrange"), ("~", "~")})
    return sorted(load), sorted(dump)


def emit_data(groups):
    out = []
    w = out.append
    w("# GENERATED by tools/gen_compat_tables.py; do not edit.")
    w("# Expected fix_imports mappings computed from CPython's Lib/_compat_pickle.py with the lookup")
    w("# rules of Lib/pickle.py (NAME_MAPPING before IMPORT_MAPPING on load, REVERSE_NAME_MAPPING")
    w("# before REVERSE_IMPORT_MAPPING on dump). Data derived from CPython, Copyright (c) 2001 Python")
    w("# Software Foundation; PSF License Agreement.")
    w("#")
    w("# sizes <set> <IMPORT> <NAME> <REVERSE_IMPORT> <REVERSE_NAME>")
    w("# <load|dump> <set> <module> <name> <mapped module> <mapped name>   ('-' '-': nothing maps)")
    w("# An empty module or name is written as '<empty>'.")
    for name, _, _ in TABLE_SETS:
        w("# %s: CPython %s" % (name, ", ".join(groups[name]["versions"])))
    load, dump = probes(groups)

    def f(s):
        return s if s else "<empty>"

    for name, _, sizes in TABLE_SETS:
        w("sizes %s %d %d %d %d" % ((name,) + sizes))
    for name, _, _ in TABLE_SETS:
        d = as_dicts(groups[name]["info"])
        for what, queries, fn in (("load", load, map_for_load), ("dump", dump, map_for_dump)):
            for m, n in queries:
                r = fn(d, m, n)
                w("%s %s %s %s %s %s" % (what, name, f(m), f(n), *(map(f, r) if r else ("-", "-"))))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed files differ")
    ap.add_argument("--python", action="append", default=[], help="an extra interpreter to ask")
    args = ap.parse_args()
    groups = collect(args.python)
    check_names(groups)
    outputs = {OUT_CPP: emit_cpp(groups), OUT_DATA: emit_data(groups)}
    stale = []
    for rel, text in outputs.items():
        path = os.path.join(ROOT, rel)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old == text:
            continue
        if args.check:
            stale.append(rel)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("gen_compat_tables: wrote %s" % rel)
    for name, _, _ in TABLE_SETS:
        print("gen_compat_tables: %s from CPython %s" % (name, ", ".join(groups[name]["versions"])))
    if stale:
        fail("out of date: %s (rerun tools/gen_compat_tables.py)" % ", ".join(stale))


if __name__ == "__main__":
    main()
