"""Write the pickle fixtures of internal/pickle (run by hand: /usr/bin/python3 tools/oracle/pickle_fixtures.py).

One value that needs most opcodes is pickled with every protocol from 0 to 5; the Go scanner must accept each
file. Protocol 5 also stores two out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER). Only the standard library
is used.
"""
import collections
import pathlib
import pickle

OUT = pathlib.Path(__file__).resolve().parents[2] / "internal" / "pickle" / "testdata"


def value():
    shared = ["shared"]  # referenced twice: memo PUT/GET
    return {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31, 2**63, -(2**70), 2**2100],
        "float": 1.5,
        "str": ["", "short", "é" * 300],
        "bytes": [b"", b"xy", bytes(range(256)) + b"z" * 50],
        "bytearray": bytearray(b"abc"),
        "consts": (None, True, False),
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "set": {1, 2}, "empty_set": set(), "frozenset": frozenset({3}),
        "ordered": collections.OrderedDict([("a", 1)]),
        "shared": [shared, shared],
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for proto in range(6):
        data = pickle.dumps(value(), protocol=proto)
        (OUT / f"proto{proto}.pkl").write_bytes(data)
    oob = [pickle.PickleBuffer(bytearray(b"writable")), pickle.PickleBuffer(b"readonly")]
    data = pickle.dumps(oob, protocol=5, buffer_callback=lambda b: None)
    (OUT / "proto5_oob.pkl").write_bytes(data)
    print("wrote", sorted(p.name for p in OUT.glob("*.pkl")))


if __name__ == "__main__":
    main()
