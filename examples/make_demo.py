"""Writes demo.pkl: a pickle CPython writes for a small but realistic object graph.

Run with any CPython 3.8+: python3 examples/make_demo.py examples/demo.pkl
The file is checked in, so the demo needs no Python.
"""
import collections
import datetime
import decimal
import pickle
import sys


class Sensor:
    def __init__(self, name, unit):
        self.name = name
        self.unit = unit


def main(path):
    celsius = Sensor("thermo-1", "C")
    readings = [20.5, 21.0, float("nan"), -0.0, 1e300]
    tags = ["lab", "north", "lab"]
    doc = {
        "id": 2**70 + 12345,
        "sensor": celsius,
        "readings": readings,
        "same_readings": readings,           # shared: one object, two references
        "tags": tags,
        "raw": b"\x00\x01\xfe\xff",
        "buffer": bytearray(b"grow me"),
        "taken": datetime.datetime(2026, 11, 26, 12, 30, 5, 250000),
        "price": decimal.Decimal("19.99"),
        "counts": collections.OrderedDict([("a", 1), ("b", 2)]),
        "flags": {True, False},
        "text": "caf\u00e9 \u2603 \U0001f40d",
        "nothing": None,
    }
    doc["self"] = doc                         # a cycle
    with open(path, "wb") as f:
        pickle.dump(doc, f, protocol=5)


if __name__ == "__main__":
    Sensor.__module__ = "lab.sensors"         # as if imported from a real module
    Sensor.__qualname__ = "Sensor"
    sys.modules["lab.sensors"] = sys.modules[__name__]
    sys.modules["lab"] = sys.modules[__name__]
    setattr(sys.modules[__name__], "sensors", sys.modules[__name__])
    main(sys.argv[1] if len(sys.argv) > 1 else "demo.pkl")
