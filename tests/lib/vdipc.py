# SPDX-License-Identifier: GPL-3.0-or-later
"""vdipc — our session and control protocols in Python (stdlib only, /usr/bin/python3).

A second implementation written from docs/protocols.md alone, used by integration tests to play
one end of a socket and, in tests/ipc, cross-checked byte for byte against the C codec.

    frame(msg_type, payload) -> bytes          FrameDecoder().feed(bytes) -> [(type, payload)]
    encode(proto, msg_type, **fields) -> payload bytes (validated: never emits what decode refuses)
    decode(proto, msg_type, payload) -> dict of fields (strict; raises BadMessage / Unsupported)
    proto is SESSION or CONTROL; message types are S_* / C_* constants, HELLO and ERROR shared.

    agent = FakeAgent(path)                     # connects to vdagentd's session socket, HELLO done
    agent.send(S_CLIPBOARD_GRAB, selection=0, types=[1])
    t, msg = agent.recv(timeout=5)             # msg is a dict, e.g. {"selection": 0, "type": 1}
    msg = agent.expect(S_HOST_STATE)

    daemon = FakeDaemon(path); daemon.accept()  # plays vdagentd for the real `vdagent`
    ctl = ControlClient(path); ctl.status()     # -> parsed JSON
"""

import json
import socket
import struct
import time

import unixsock

HEADER_SIZE = 8
MAX_PAYLOAD = 64 * 1024 + 256
MAX_PIECE = 64 * 1024
MAX_STRING = 4096
MAX_JSON = MAX_PAYLOAD - 16
TRACE_BYTES = 1024
LIMIT_GRAB_TYPES = 64
LIMIT_MONITORS = 32
LIMIT_DEVICE_INFO = 32
LIMIT_DEVICE_ADDRESS = 256
LIMIT_XFER_NAME = 1024
MAX_DISPLAYS = 32
LIMIT_AUDIO_CHANNELS = 32
MAX_OUTPUT_NAME = 64
MAX_AUDIO_BACKEND = 32
MAX_AUDIO_ERROR = 256
LIMIT_STREAMED_MESSAGE = 1024 * 1024 * 1024
CAPS_MAX_WORDS = 8

SESSION_MAGIC = 0x53474456
CONTROL_MAGIC = 0x43474456
SESSION_VERSION = (1, 0)
CONTROL_VERSION = (1, 0)

HELLO = 1
ERROR = 2

ERR_VERSION = 1
ERR_PERMISSION = 2
ERR_BAD_FRAME = 3
ERR_LIMIT = 4
ERR_NOT_ACTIVE = 5
ERR_UNSUPPORTED = 6
ERR_NO_HOST = 7
ERR_NO_AGENT = 8
ERR_TIMEOUT = 9
ERR_INTERNAL = 10
ERR_END = 11

S_CLIPBOARD_GRAB = 16
S_CLIPBOARD_REQUEST = 17
S_CLIPBOARD_RELEASE = 18
S_CLIPBOARD_BEGIN = 19
S_CLIPBOARD_DATA = 20
S_CLIPBOARD_ABORT = 21
S_HOST_STATE = 32
S_SESSION_STATE = 33
S_MONITORS_CONFIG = 34
S_DEVICE_INFO = 35
S_XFER_START = 36
S_XFER_DATA = 37
S_XFER_CANCEL = 38
S_VOLUME = 39
S_MONITORS_RESULT = 48
S_LAYOUT = 49
S_XFER_STATUS = 50
S_VOLUME_APPLIED = 51
S_DEVICE_MAP = 52

C_STATUS = 16
C_MONITOR = 17
C_INJECT_MOUSE = 18
C_INJECT_MONITORS = 19
C_CLIPBOARD_SET = 20
C_CLIPBOARD_GET = 21
C_RESULT = 32
C_STATUS_REPLY = 33
C_TRACE = 34
C_CLIPBOARD_REPLY = 35

TRACE_HOST_TO_GUEST = 0
TRACE_GUEST_TO_HOST = 1
TRACE_TO_AGENT = 2
TRACE_FROM_AGENT = 3

MONITORS_USE_POS = 1
MONITORS_PHYSICAL_SIZE = 2
SELECTION_END = 3
CLIPBOARD_END = 7
XFER_CAN_SEND_DATA, XFER_CANCELLED, XFER_ERROR, XFER_SUCCESS, XFER_NOT_ENOUGH_SPACE = 0, 1, 2, 3, 4
XFER_END = 8
REPLY_SUCCESS, REPLY_ERROR = 1, 2
KNOWN_BUTTONS = 0xFE


class BadMessage(Exception):
    """A malformed frame or payload (the C side's -EBADMSG)."""


class Unsupported(Exception):
    """A frame type this protocol does not define (the C side's -EOPNOTSUPP)."""


class PeerError(Exception):
    """The peer sent ERROR."""

    def __init__(self, code, message):
        super().__init__("peer error %d (%s): %s" % (code, ERROR_NAMES.get(code, "?"), message))
        self.code = code
        self.message = message


ERROR_NAMES = {1: "VERSION", 2: "PERMISSION", 3: "BAD_FRAME", 4: "LIMIT", 5: "NOT_ACTIVE",
               6: "UNSUPPORTED", 7: "NO_HOST", 8: "NO_AGENT", 9: "TIMEOUT", 10: "INTERNAL"}


# --- framing ---

def frame(msg_type, payload=b""):
    if len(payload) > MAX_PAYLOAD:
        raise BadMessage("payload of %d bytes above %d" % (len(payload), MAX_PAYLOAD))
    return struct.pack("<HHI", msg_type, 0, len(payload)) + bytes(payload)


class FrameDecoder:
    """Incremental: feed() any slices, get whole frames. A bad header (flags != 0, size above the
    maximum) raises BadMessage and the decoder stays failed."""

    def __init__(self, max_payload=MAX_PAYLOAD):
        self.max_payload = min(max_payload, MAX_PAYLOAD)
        self.buf = bytearray()
        self.failed = None

    def pending(self):
        return len(self.buf)

    def feed(self, data):
        if self.failed:
            raise BadMessage(self.failed)
        self.buf += data
        out = []
        while len(self.buf) >= HEADER_SIZE:
            t, flags, size = struct.unpack_from("<HHI", self.buf)
            if flags != 0:
                self.failed = "frame header flags are not 0"
            elif size > self.max_payload:
                self.failed = "frame size above the maximum"
            if self.failed:
                raise BadMessage(self.failed)
            if len(self.buf) < HEADER_SIZE + size:
                break
            out.append((t, bytes(self.buf[HEADER_SIZE:HEADER_SIZE + size])))
            del self.buf[:HEADER_SIZE + size]
        return out


# --- field kinds ---

class _Reader:
    def __init__(self, buf):
        self.buf = bytes(buf)
        self.pos = 0

    def take(self, n):
        if n > len(self.buf) - self.pos:
            raise BadMessage("frame truncated")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]


def _text_ok(b):
    if b"\0" in b:
        return False
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Int:
    def __init__(self, fmt, check=None, what=None):
        self.fmt, self.check, self.what = fmt, check, what

    def enc(self, v):
        return struct.pack(self.fmt, v)

    def dec(self, r):
        v = r.unpack(self.fmt)
        if self.check and not self.check(v):
            raise BadMessage("%s out of range: %d" % (self.what or "field", v))
        return v


class Bool:
    def enc(self, v):
        return struct.pack("<B", 1 if v else 0)

    def dec(self, r):
        v = r.unpack("<B")
        if v > 1:
            raise BadMessage("boolean field is neither 0 nor 1")
        return bool(v)


class String:
    def __init__(self, max_, nonempty=False):
        self.max, self.nonempty = max_, nonempty

    def enc(self, v):
        b = (v or "").encode() if isinstance(v, (str, type(None))) else bytes(v)
        return struct.pack("<I", len(b)) + b

    def dec(self, r):
        n = r.unpack("<I")
        if n > self.max:
            raise BadMessage("length field above its limit")
        b = r.take(n)
        if not _text_ok(b):
            raise BadMessage("string is not UTF-8 or contains NUL")
        if self.nonempty and n == 0:
            raise BadMessage("empty string")
        return b.decode()


class Blob:
    def __init__(self, max_):
        self.max = max_

    def enc(self, v):
        return struct.pack("<I", len(v)) + bytes(v)

    def dec(self, r):
        n = r.unpack("<I")
        if n > self.max:
            raise BadMessage("length field above its limit")
        return r.take(n)


class Rest:
    def __init__(self, min_, max_):
        self.min, self.max = min_, max_

    def enc(self, v):
        return bytes(v)

    def dec(self, r):
        b = r.buf[r.pos:]
        r.pos = len(r.buf)
        if not self.min <= len(b) <= self.max:
            raise BadMessage("data piece empty or above the maximum")
        return b


class CapsField:
    """An int bit mask; sent as the fewest words that hold it, at least one."""

    def enc(self, v):
        n = max(1, (int(v).bit_length() + 31) // 32)
        if n > CAPS_MAX_WORDS:
            raise ValueError("caps too wide")
        return struct.pack("<I", n) + b"".join(struct.pack("<I", (v >> (32 * i)) & 0xFFFFFFFF)
                                               for i in range(n))

    def dec(self, r):
        n = r.unpack("<I")
        if n > CAPS_MAX_WORDS:
            raise BadMessage("too many capability words")
        return sum(r.unpack("<I") << (32 * i) for i in range(n))


class Struct:
    def __init__(self, *fields):
        self.fields = fields

    def enc(self, v):
        return b"".join(kind.enc(v[name]) for name, kind in self.fields)

    def dec(self, r):
        return {name: kind.dec(r) for name, kind in self.fields}


class Array:
    """n u32 (min..max), then n elements."""

    def __init__(self, elem, max_, min_=0, what="entries"):
        self.elem, self.max, self.min, self.what = elem, max_, min_, what

    def enc(self, v):
        return struct.pack("<I", len(v)) + b"".join(self.elem.enc(e) for e in v)

    def dec(self, r):
        n = r.unpack("<I")
        if not self.min <= n <= self.max:
            raise BadMessage("%s count out of range: %d" % (self.what, n))
        return [self.elem.dec(r) for _ in range(n)]


U8, U16, U32, I32, U64 = Int("<B"), Int("<H"), Int("<I"), Int("<i"), Int("<Q")
SELECTION = Int("<B", lambda v: v < SELECTION_END, "selection")
CLIP_TYPE = Int("<I", lambda v: 1 <= v < CLIPBOARD_END, "clipboard type")
MONITOR = Struct(("width", U32), ("height", U32), ("depth", U32), ("x", I32), ("y", I32),
                 ("mm_width", U16), ("mm_height", U16))
MONITORS = [("flags", Int("<I", lambda v: v & ~(MONITORS_USE_POS | MONITORS_PHYSICAL_SIZE) == 0,
                          "monitors config flags")),
            ("monitors", Array(MONITOR, LIMIT_MONITORS, 1, "monitor"))]
HELLO_FIELDS = [("magic", U32), ("version_major", U16), ("version_minor", U16), ("features", U32),
                ("software", String(MAX_STRING))]
ERROR_FIELDS = [("code", Int("<I", lambda v: 1 <= v < ERR_END, "error code")),
                ("message", String(MAX_STRING))]


VOLUME_FIELDS = [("playback", Bool()), ("mute", Bool()),
                 ("volume", Array(U16, LIMIT_AUDIO_CHANNELS, 1, "volume channel"))]


def _check_xfer_status(m):
    if m["result"] >= XFER_END:
        raise BadMessage("unknown file transfer result")
    if m["has_detail"]:
        if m["result"] == XFER_ERROR:
            if m["error_type"] != 0 or m["free"]:
                raise BadMessage("file transfer error detail malformed")
        elif m["result"] == XFER_NOT_ENOUGH_SPACE:
            if m["error_type"] or m["error_code"]:
                raise BadMessage("file transfer space detail malformed")
        else:
            raise BadMessage("file transfer detail for a result that has none")
    elif m["error_type"] or m["error_code"] or m["free"]:
        raise BadMessage("file transfer detail fields set without has_detail")


def _check_trace(m):
    if m["direction"] > TRACE_FROM_AGENT:
        raise BadMessage("unknown trace direction")
    host = m["direction"] in (TRACE_HOST_TO_GUEST, TRACE_GUEST_TO_HOST)
    if (m["port"] not in (1, 2)) if host else m["port"] != 0:
        raise BadMessage("trace port does not fit its direction")
    if len(m["bytes"]) > m["size"]:
        raise BadMessage("trace carries more bytes than the message has")


# name, fields, check(dict) or None
SESSION_MESSAGES = {
    HELLO: ("HELLO", HELLO_FIELDS, lambda m: _magic(m, SESSION_MAGIC)),
    ERROR: ("ERROR", ERROR_FIELDS, None),
    S_CLIPBOARD_GRAB: ("CLIPBOARD_GRAB", [("selection", SELECTION),
                                          ("types", Array(CLIP_TYPE, LIMIT_GRAB_TYPES, 0, "type"))], None),
    S_CLIPBOARD_REQUEST: ("CLIPBOARD_REQUEST", [("selection", SELECTION), ("type", CLIP_TYPE)], None),
    S_CLIPBOARD_RELEASE: ("CLIPBOARD_RELEASE", [("selection", SELECTION)], None),
    S_CLIPBOARD_BEGIN: ("CLIPBOARD_BEGIN", [("selection", SELECTION), ("type", CLIP_TYPE),
                                            ("total", Int("<Q", lambda v: v <= LIMIT_STREAMED_MESSAGE,
                                                          "clipboard total"))], None),
    S_CLIPBOARD_DATA: ("CLIPBOARD_DATA", [("selection", SELECTION), ("data", Rest(1, MAX_PIECE))], None),
    S_CLIPBOARD_ABORT: ("CLIPBOARD_ABORT", [("selection", SELECTION)], None),
    S_HOST_STATE: ("HOST_STATE", [("connected", Bool()), ("caps", CapsField()),
                                  ("max_clipboard", Int("<i", lambda v: v >= -1, "max_clipboard"))], None),
    S_SESSION_STATE: ("SESSION_STATE", [("active", Bool()), ("locked", Bool())], None),
    S_MONITORS_CONFIG: ("MONITORS_CONFIG", [("request_id", U32)] + MONITORS, None),
    S_DEVICE_INFO: ("DEVICE_INFO", [("entries", Array(
        Struct(("channel_id", U32), ("monitor_id", U32), ("device_display_id", U32),
               ("address", String(LIMIT_DEVICE_ADDRESS - 1))), LIMIT_DEVICE_INFO, 0, "device info"))], None),
    S_XFER_START: ("XFER_START", [("id", U32), ("size", U64), ("nr", U32), ("total", U32),
                                  ("name", String(LIMIT_XFER_NAME, nonempty=True))], None),
    S_XFER_DATA: ("XFER_DATA", [("id", U32), ("data", Rest(1, MAX_PIECE))], None),
    S_XFER_CANCEL: ("XFER_CANCEL", [("id", U32), ("result", Int(
        "<I", lambda v: v < XFER_END and v not in (XFER_CAN_SEND_DATA, XFER_SUCCESS), "cancel reason"))], None),
    S_MONITORS_RESULT: ("MONITORS_RESULT", [("request_id", U32), ("result", Int(
        "<I", lambda v: v in (REPLY_SUCCESS, REPLY_ERROR), "monitors result"))], None),
    S_LAYOUT: ("LAYOUT", [("screen_width", U32), ("screen_height", U32), ("displays", Array(
        Struct(("display_id", U32), ("x", I32), ("y", I32), ("width", U32), ("height", U32)),
        MAX_DISPLAYS, 0, "display"))], None),
    S_XFER_STATUS: ("XFER_STATUS", [("id", U32), ("result", U32), ("has_detail", Bool()),
                                    ("error_type", U8), ("error_code", U32), ("free", U64)],
                    _check_xfer_status),
    S_VOLUME: ("VOLUME", VOLUME_FIELDS, None),
    S_VOLUME_APPLIED: ("VOLUME_APPLIED", VOLUME_FIELDS + [("backend", String(MAX_AUDIO_BACKEND)),
                                                          ("error", String(MAX_AUDIO_ERROR))], None),
    S_DEVICE_MAP: ("DEVICE_MAP", [("entries", Array(
        Struct(("display_id", U32), ("output", String(MAX_OUTPUT_NAME)), ("from_device_info", Bool())),
        MAX_DISPLAYS, 0, "display"))], None),
}

CONTROL_MESSAGES = {
    HELLO: ("HELLO", HELLO_FIELDS, lambda m: _magic(m, CONTROL_MAGIC)),
    ERROR: ("ERROR", ERROR_FIELDS, None),
    C_STATUS: ("STATUS", [], None),
    C_MONITOR: ("MONITOR", [("with_bytes", Bool())], None),
    C_INJECT_MOUSE: ("INJECT_MOUSE", [("x", U32), ("y", U32), ("buttons", Int(
        "<I", lambda v: v & ~KNOWN_BUTTONS == 0, "mouse buttons")), ("display_id", U8)], None),
    C_INJECT_MONITORS: ("INJECT_MONITORS", MONITORS, None),
    C_CLIPBOARD_SET: ("CLIPBOARD_SET", [("selection", SELECTION), ("type", CLIP_TYPE),
                                        ("data", Blob(MAX_PIECE))], None),
    C_CLIPBOARD_GET: ("CLIPBOARD_GET", [("selection", SELECTION), ("type", CLIP_TYPE)], None),
    C_RESULT: ("RESULT", [("code", Int("<I", lambda v: v < ERR_END, "result code")),
                          ("message", String(MAX_STRING))], None),
    C_STATUS_REPLY: ("STATUS_REPLY", [("json", String(MAX_JSON))], None),
    C_TRACE: ("TRACE", [("time_us", U64), ("direction", U8), ("port", U8), ("type", U32), ("size", U64),
                        ("peer", String(MAX_STRING)), ("summary", String(MAX_STRING)),
                        ("bytes", Blob(TRACE_BYTES))], _check_trace),
    C_CLIPBOARD_REPLY: ("CLIPBOARD_REPLY", [("selection", SELECTION), ("type", CLIP_TYPE),
                                            ("data", Blob(MAX_PIECE))], None),
}


def _magic(m, want):
    if m["magic"] != want:
        raise BadMessage("HELLO magic is not this protocol's")


SESSION = SESSION_MESSAGES
CONTROL = CONTROL_MESSAGES


def type_name(proto, msg_type):
    return proto.get(msg_type, ("UNKNOWN",))[0]


def decode(proto, msg_type, payload):
    """Strict decode of one payload -> dict. Raises Unsupported or BadMessage."""
    if msg_type not in proto:
        raise Unsupported("unknown message type %d" % msg_type)
    _, fields, check = proto[msg_type]
    r = _Reader(payload)
    out = {}
    for name, kind in fields:
        out[name] = kind.dec(r)
    if r.pos != len(r.buf):
        raise BadMessage("trailing bytes after the message")
    if check:
        check(out)
    return out


def encode(proto, msg_type, **fields):
    """Payload bytes; raises KeyError for a missing field and BadMessage for a value the peer
    would refuse (the payload is checked by decoding it)."""
    if msg_type not in proto:
        raise Unsupported("unknown message type %d" % msg_type)
    _, spec, _ = proto[msg_type]
    unknown = set(fields) - {n for n, _ in spec}
    if unknown:
        raise TypeError("unknown fields for %s: %s" % (type_name(proto, msg_type), sorted(unknown)))
    payload = b"".join(kind.enc(fields[name]) for name, kind in spec)
    if len(payload) > MAX_PAYLOAD:
        raise BadMessage("payload of %d bytes above %d" % (len(payload), MAX_PAYLOAD))
    decode(proto, msg_type, payload)
    return payload


def encode_frame(proto, msg_type, **fields):
    return frame(msg_type, encode(proto, msg_type, **fields))


def hello_fields(proto, software="vdipc.py", version=None, features=0):
    magic = SESSION_MAGIC if proto is SESSION else CONTROL_MAGIC
    major, minor = version or (SESSION_VERSION if proto is SESSION else CONTROL_VERSION)
    return dict(magic=magic, version_major=major, version_minor=minor, features=features,
                software=software)


# --- connections ---

class Connection:
    """One end of a session or control socket: typed send/recv over the framing."""

    def __init__(self, sock, proto):
        self.sock = sock
        self.proto = proto
        self.decoder = FrameDecoder()
        self.queue = []
        self.peer_hello = None

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, msg_type, **fields):
        self.sock.sendall(encode_frame(self.proto, msg_type, **fields))

    def send_error(self, code, message=""):
        self.send(ERROR, code=code, message=message)

    def hello(self, software="vdipc.py", version=None, features=0, timeout=5.0):
        """Sends our HELLO and reads the peer's; raises PeerError if the peer answers ERROR."""
        self.send(HELLO, **hello_fields(self.proto, software, version, features))
        self.peer_hello = self.expect(HELLO, timeout)
        # vdagentd refuses with its HELLO and the ERROR in one write: both are here already.
        if self.queue and self.queue[0][0] == ERROR:
            m = decode(self.proto, ERROR, self.queue.pop(0)[1])
            raise PeerError(m["code"], m["message"])
        return self.peer_hello

    def recv_frame(self, timeout=5.0):
        """-> (type, payload bytes); TimeoutError, ConnectionError on EOF."""
        unixsock.read_until(self.sock, lambda: self.queue, lambda data: self.queue.extend(self.decoder.feed(data)),
                            timeout, 256 * 1024, "no frame within %.1fs" % timeout, "peer closed the connection")
        return self.queue.pop(0)

    def recv(self, timeout=5.0):
        """-> (type, dict) decoded strictly."""
        t, payload = self.recv_frame(timeout)
        return t, decode(self.proto, t, payload)

    def expect(self, msg_type, timeout=5.0, skip=()):
        """The next message of msg_type as a dict (types in skip are dropped; ERROR raises)."""
        while True:
            t, m = self.recv(timeout)
            if t in skip:
                continue
            if t == ERROR and msg_type != ERROR:
                raise PeerError(m["code"], m["message"])
            if t != msg_type:
                raise AssertionError("expected %s, got %s: %r" % (
                    type_name(self.proto, msg_type), type_name(self.proto, t), m))
            return m

    def wait_closed(self, timeout=5.0):
        """Reads until EOF; returns the frames received meanwhile."""
        frames = []
        try:
            while True:
                frames.append(self.recv_frame(timeout))
        except ConnectionError:
            return frames

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _connect(path, timeout):
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


class FakeAgent(Connection):
    """A session agent: connects to the daemon's session socket and (unless hello=False) does
    the HELLO exchange."""

    def __init__(self, path, software="fake-agent", hello=True, connect_timeout=5.0, **hello_kw):
        super().__init__(_connect(path, connect_timeout), SESSION)
        if hello:
            self.hello(software, **hello_kw)


class FakeDaemon:
    """Plays vdagentd for the real `vdagent`: listens on a session socket path and accepts agents."""

    def __init__(self, path):
        self.path = path
        self.listener = unixsock.listen(path, 8)

    def accept(self, timeout=10.0, hello=True, software="fake-daemon", **hello_kw):
        conn = Connection(unixsock.accept(self.listener, self.path, timeout), SESSION)
        if hello:
            conn.hello(software, **hello_kw)
        return conn

    def close(self):
        unixsock.close_listener(self.listener, self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ControlClient(Connection):
    """vdagent-ctl's side of the control socket."""

    def __init__(self, path, software="vdipc-ctl", hello=True, connect_timeout=5.0, **hello_kw):
        super().__init__(_connect(path, connect_timeout), CONTROL)
        if hello:
            self.hello(software, **hello_kw)

    def _result(self, timeout):
        m = self.expect(C_RESULT, timeout)
        if m["code"] != 0:
            raise PeerError(m["code"], m["message"])
        return m

    def status(self, timeout=5.0):
        self.send(C_STATUS)
        return json.loads(self.expect(C_STATUS_REPLY, timeout)["json"])

    def monitor(self, with_bytes=False, timeout=5.0):
        """After this, next_trace() returns TRACE dicts."""
        self.send(C_MONITOR, with_bytes=with_bytes)
        return self._result(timeout)

    def next_trace(self, timeout=5.0):
        return self.expect(C_TRACE, timeout)

    def inject_mouse(self, x, y, buttons=0, display_id=0, timeout=5.0):
        self.send(C_INJECT_MOUSE, x=x, y=y, buttons=buttons, display_id=display_id)
        return self._result(timeout)

    def inject_monitors(self, monitors, flags=0, timeout=5.0):
        """monitors: dicts width, height, [depth=32, x=0, y=0, mm_width=0, mm_height=0]."""
        full = [dict(dict(depth=32, x=0, y=0, mm_width=0, mm_height=0), **m) for m in monitors]
        self.send(C_INJECT_MONITORS, flags=flags, monitors=full)
        return self._result(timeout)

    def clipboard_set(self, data, type_=1, selection=0, timeout=5.0):
        self.send(C_CLIPBOARD_SET, selection=selection, type=type_, data=bytes(data))
        return self._result(timeout)

    def clipboard_get(self, type_=1, selection=0, timeout=10.0):
        self.send(C_CLIPBOARD_GET, selection=selection, type=type_)
        t, m = self.recv(timeout)
        if t == C_RESULT and m["code"] != 0:
            raise PeerError(m["code"], m["message"])
        if t == ERROR:
            raise PeerError(m["code"], m["message"])
        if t != C_CLIPBOARD_REPLY:
            raise AssertionError("expected CLIPBOARD_REPLY, got %s: %r" % (type_name(self.proto, t), m))
        return m["data"]
