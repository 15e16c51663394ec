#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seed corpora of the VDAgent fuzz targets (fuzz/corpus/chunk-reader/ and
fuzz/corpus/msg-<type>/): a few real-looking payloads per message type, as QEMU, spice-server and
spice-gtk send them, and framed streams for the chunk reader. Deterministic; rerun after a change
of the wire format. Seeds stay small (<= 8 KiB) and fewer than 50 per target."""

import hashlib
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))

SEL, SERIAL = 1, 2  # first byte of the clipboard targets: the negotiated layout


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def i32(v): return struct.pack("<i", v)
def u64(v): return struct.pack("<Q", v)


def write(dirname, blobs):
    d = os.path.join(root, "fuzz", "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    seen = []
    for b in blobs:
        assert len(b) <= 8192, (dirname, len(b))
        if b not in seen:
            seen.append(b)
    assert 0 < len(seen) < 50, (dirname, len(seen))
    for b in seen:
        open(os.path.join(d, hashlib.sha1(b).hexdigest()[:16]), "wb").write(b)
    print(f"{dirname}: {len(seen)}")


def monitors(entries, flags, mm=None):
    out = u32(len(entries)) + u32(flags)
    for (w, h, depth, x, y) in entries:
        out += u32(h) + u32(w) + u32(depth) + i32(x) + i32(y)
    if flags & 2:
        for (mw, mh) in (mm or [(0, 0)] * len(entries)):
            out += u16(mh) + u16(mw)
    return out


def start(text, nul=True, xid=1):
    return u32(xid) + text.encode() + (b"\0" if nul else b"")


def device_info(entries):
    out = u32(len(entries))
    for (ch, mon, disp, addr) in entries:
        a = addr.encode() + b"\0"
        out += u32(ch) + u32(mon) + u32(disp) + u32(len(a)) + a
    return out


sparse = [(1920, 1080, 32, 0, 0)] + [(0, 0, 0, 0, 0)] * 15
payloads = {
    "mouse-state": [u32(10) + u32(20) + u32(0) + u8(0), u32(0) + u32(0) + u32(2) + u8(1),
                    u32(0xffffffff) * 3 + u8(255), u32(5) * 3],
    "monitors-config": [monitors([(1024, 768, 32, 0, 0)], 0),
                        monitors(sparse, 3, [(530, 300)] + [(0, 0)] * 15),
                        monitors([(800, 600, 24, 0, 0), (800, 600, 24, 800, 0)], 1),
                        monitors([(640, 480, 32, -10, -20)], 2, [(100, 80)]), u32(0) + u32(0)],
    "reply": [u32(2) + u32(1), u32(5) + u32(2), u32(2)],
    "clipboard": [u8(0) + u32(1) + b"hello", u8(SEL) + u8(0) + bytes(3) + u32(1) + b"hello, world",
                  u8(SEL | SERIAL) + u8(1) + bytes(3) + u32(1), u8(SEL) + u8(0) + bytes(3) + u32(2) + b"\x89PNG\r\n",
                  u8(0) + u32(1)],
    "display-config": [u32(15) + u32(32), u32(8) + u32(24), u32(0) + u32(0)],
    "announce-caps": [u32(1) + u32(0x00020061), u32(1) + u32(0x00035077), u32(0) + u32(0x3ffff),
                      u32(0) + u32(1) + u32(1), u32(1)],
    "clipboard-grab": [u8(SEL | SERIAL) + u8(0) + bytes(3) + u32(0) + u32(1),
                       u8(SEL | SERIAL) + u8(0) + bytes(3) + u32(7),  # QEMU: empty clipboard
                       u8(SEL) + u8(1) + bytes(3) + u32(1) + u32(2) + u32(3),
                       u8(0) + u32(1), u8(SERIAL) + u32(3) + u32(1) + u32(5)],
    "clipboard-request": [u8(0) + u32(1), u8(SEL) + u8(0) + bytes(3) + u32(1), u8(SEL | SERIAL) + u8(1) + bytes(3) + u32(2)],
    "clipboard-release": [u8(0), u8(SEL) + u8(1) + bytes(3), u8(SEL | SERIAL) + u8(2) + bytes(3)],
    "file-xfer-start": [start("[vdagent-file-xfer]\nname=report.pdf\nsize=123456\n"),
                        start("[vdagent-file-xfer]\nname=a b.txt\nsize=0\nfile-xfer-nr=1\nfile-xfer-total=2\n", False),
                        start("[vdagent-file-xfer]\nname=\\sescaped\\\\name\nsize=18446744073709551615\n", True, 9),
                        start("[vdagent-file-xfer]\nname=r\u00e9sum\u00e9.txt\nsize=12\n"),
                        start("[vdagent-file-xfer]\nsize=1\n")],
    "file-xfer-status": [u32(1) + u32(0), u32(1) + u32(3), u32(2) + u32(2) + u8(0) + u32(14),
                         u32(3) + u32(4) + u64(4096), u32(4) + u32(1)],
    "file-xfer-data": [u32(1) + u64(5) + b"hello", u32(2) + u64(0), u32(3) + u64(100) + b"short"],
    "client-disconnected": [b"", b"\0"],
    "max-clipboard": [i32(100 * 1024 * 1024), i32(-1), i32(0), i32(-2)],
    "audio-volume-sync": [u8(1) + u8(0) + u8(2) + u16(0x8000) + u16(0xffff), u8(0) + u8(1) + u8(0),
                          u8(1) + u8(0) + u8(1) + u16(7)],
    "graphics-device-info": [device_info([(0, 0, 0, "pci/0000/02.0")]),
                             device_info([(0, 0, 0, "pci/0000/02.0"), (0, 1, 1, "pci/0000/02.0")]),
                             u32(0), u32(1) + u32(0) * 3 + u32(0)],
}
for name, blobs in payloads.items():
    write("msg-" + name, blobs)


# --- the chunk reader: flags, slice lengths, then a framed stream ---

def message(mtype, payload, protocol=1, opaque=0):
    return u32(protocol) + u32(mtype) + u64(opaque) + u32(len(payload)) + payload


def chunks(port, data, size=2048):
    out = b""
    for i in range(0, len(data), size):
        out += u32(port) + u32(len(data[i:i + size])) + data[i:i + size]
    return out


def framed(port, mtype, payload, **kw):
    """As a host frames one message: the header in the first chunk, chunks of at most 2048."""
    return chunks(port, message(mtype, payload, **kw))


def seed(flags, slices, stream):
    return u8(flags) + u8(len(slices)) + bytes(slices) + stream


mouse = framed(2, 1, payloads["mouse-state"][0][:13])
caps = framed(1, 6, payloads["announce-caps"][1])
text = framed(1, 4, u8(0) + bytes(3) + u32(1) + b"clipboard text " * 20)
big = framed(1, 4, u8(0) + bytes(3) + u32(1) + bytes(range(256)) * 14)
mon = framed(1, 2, payloads["monitors-config"][1])
xfer = framed(1, 10, payloads["file-xfer-start"][0][0:]) + framed(1, 12, u32(1) + u64(300) + b"x" * 300)
# QEMU: 1024-byte chunks, everything on port 1; a message's end and the next one's start share a chunk.
qemu = chunks(1, message(6, u32(1) + u32(0x00020061)) + message(1, u32(1) + u32(2) + u32(0) + u8(0)) +
              message(7, bytes(4) + u32(0) + u32(1)) + message(4, bytes(4) + u32(1) + b"q" * 1500), 1024)
inter = (u32(1) + u32(10) + message(4, bytes(4) + u32(1) + b"abc")[:10] + mouse +
         u32(1) + u32(17) + message(4, bytes(4) + u32(1) + b"abc")[10:])
streams = [
    seed(0, [], caps + mouse + text),
    seed(0, [0, 6, 19, 200], mon + mouse + big),
    seed(0, [2047 % 256, 1, 7], qemu),
    seed(0, [3], inter + framed(2, 13, b"")),
    seed(1, [100], text + framed(1, 3, u32(1) * 30)),            # small limits: TOO_LARGE
    seed(2, [9, 1], caps + mouse + xfer),                        # everything streamed
    seed(3, [], mouse + mon + framed(1, 4, b"x" * 20)),          # nothing streamed
    seed(4, [13], framed(2, 4, b"y" * 40) + framed(2, 1, payloads["mouse-state"][0])),
    seed(0, [], u32(3) + u32(4) + b"abcd"),                      # bad port
    seed(0, [], u32(1) + u32(2049)),                             # chunk too large
    seed(0, [], framed(1, 6, u32(1), protocol=2)),               # bad protocol
    seed(0, [5], u32(1) + u32(0) + caps + u32(2) + u32(0) + mouse),  # empty chunks
]
write("chunk-reader", streams)
