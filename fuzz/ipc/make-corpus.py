#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seed corpora of the ipc fuzz targets (fuzz/corpus/{ipc-decoder,session-msg,control-msg}/)
from tests/ipc/ipc_samples.py, encoded by tests/lib/vdipc.py. Run from anywhere;
rerun after a protocol change. Seeds stay small (<= 4 KiB) and fewer than 50 per target."""

import hashlib
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path[:0] = [os.path.join(root, "tests", "lib"), os.path.join(root, "tests", "ipc")]
import ipc_samples  # noqa: E402
import vdipc as P  # noqa: E402


def write(dirname, blobs):
    d = os.path.join(root, "fuzz", "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    seen = set()
    for b in blobs:
        if len(b) > 4096 or b in seen:
            continue
        seen.add(b)
        open(os.path.join(d, hashlib.sha1(b).hexdigest()[:16]), "wb").write(b)
    assert len(seen) < 50, (dirname, len(seen))
    print(dirname, len(seen))


session = [(t, P.encode(P.SESSION, t, **f)) for t, f in ipc_samples.session_samples()]
control = [(t, P.encode(P.CONTROL, t, **f)) for t, f in ipc_samples.control_samples()]
write("session-msg", [struct.pack("<H", t) + p for t, p in session][:48])
write("control-msg", [struct.pack("<H", t) + p for t, p in control][:48])

small_s = [P.frame(t, p) for t, p in session if len(p) < 300]
small_c = [P.frame(t, p) for t, p in control if len(p) < 300]
streams = []
for i in range(0, len(small_s), 4):
    streams.append(bytes([0]) + bytes([0, 7, 1, 200, 3, 12, 255, 5]) + b"".join(small_s[i:i + 4]))
for i in range(0, len(small_c), 4):
    streams.append(bytes([1]) + bytes([19, 2, 0, 64, 8, 1, 33, 100]) + b"".join(small_c[i:i + 4]))
streams.append(bytes([0]) + bytes(8) + struct.pack("<HHI", 16, 1, 0))            # flags != 0
streams.append(bytes([6]) + bytes(8) + struct.pack("<HHI", 16, 0, 4097) + b"x")  # size > small max
write("ipc-decoder", streams)
