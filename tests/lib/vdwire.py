# SPDX-License-Identifier: GPL-3.0-or-later
"""vdwire — the VDAgent wire format for test hosts (stdlib only, /usr/bin/python3).

A second, independent implementation of the VDAgent wire protocol (spice/vd_agent.h and the notes on
real hosts in the shared vdagent-protocol.md), for tests that play the host side of the virtio port:

    host = TestHost(path)            # listen; start vdagentd with --port PATH (or -s PATH)
    host.accept(timeout=10)
    host.announce_caps(SPICE_GTK_CAPS, request=True)
    t, payload = host.recv_message(timeout=5)   # asserts the guest's framing rule
    caps = parse_announce_caps(payload)
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 20, BUTTON_LEFT, 0), port=2, chunk=1024)

Everything is little-endian and packed. Builders return bytes; parsers take bytes and raise
WireError on anything malformed. `neg` arguments are the negotiated capability set (a Caps, or an
int bit mask): only CLIPBOARD_SELECTION and CLIPBOARD_GRAB_SERIAL change payload layouts.
"""

import struct

import unixsock

# --- framing ---
PORT_CLIENT = 1
PORT_SERVER = 2
PROTOCOL = 1
CHUNK_HEADER_SIZE = 8
MSG_HEADER_SIZE = 20
CHUNK_MAX_DATA = 2048
QEMU_CHUNK = 1024

# --- message types ---
MSG_MOUSE_STATE = 1
MSG_MONITORS_CONFIG = 2
MSG_REPLY = 3
MSG_CLIPBOARD = 4
MSG_DISPLAY_CONFIG = 5
MSG_ANNOUNCE_CAPABILITIES = 6
MSG_CLIPBOARD_GRAB = 7
MSG_CLIPBOARD_REQUEST = 8
MSG_CLIPBOARD_RELEASE = 9
MSG_FILE_XFER_START = 10
MSG_FILE_XFER_STATUS = 11
MSG_FILE_XFER_DATA = 12
MSG_CLIENT_DISCONNECTED = 13
MSG_MAX_CLIPBOARD = 14
MSG_AUDIO_VOLUME_SYNC = 15
MSG_GRAPHICS_DEVICE_INFO = 16
MSG_END = 17

MSG_NAMES = {v: k[4:] for k, v in list(globals().items()) if k.startswith("MSG_") and k not in ("MSG_END", "MSG_HEADER_SIZE")
             and isinstance(v, int)}

# --- capabilities ---
CAP_MOUSE_STATE = 0
CAP_MONITORS_CONFIG = 1
CAP_REPLY = 2
CAP_CLIPBOARD = 3
CAP_DISPLAY_CONFIG = 4
CAP_CLIPBOARD_BY_DEMAND = 5
CAP_CLIPBOARD_SELECTION = 6
CAP_SPARSE_MONITORS_CONFIG = 7
CAP_GUEST_LINEEND_LF = 8
CAP_GUEST_LINEEND_CRLF = 9
CAP_MAX_CLIPBOARD = 10
CAP_AUDIO_VOLUME_SYNC = 11
CAP_MONITORS_CONFIG_POSITION = 12
CAP_FILE_XFER_DISABLED = 13
CAP_FILE_XFER_DETAILED_ERRORS = 14
CAP_GRAPHICS_DEVICE_INFO = 15
CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB = 16
CAP_CLIPBOARD_GRAB_SERIAL = 17
CAP_END = 18

# What the real hosts announce (request=1), see vdagent-protocol.md.
SPICE_GTK_CAPS = 0x00035077
QEMU_CAPS = 0x00020061

# --- clipboard ---
CLIPBOARD_NONE = 0
CLIPBOARD_UTF8_TEXT = 1
CLIPBOARD_IMAGE_PNG = 2
CLIPBOARD_IMAGE_BMP = 3
CLIPBOARD_IMAGE_TIFF = 4
CLIPBOARD_IMAGE_JPG = 5
CLIPBOARD_FILE_LIST = 6
CLIPBOARD_END = 7

SELECTION_CLIPBOARD = 0
SELECTION_PRIMARY = 1
SELECTION_SECONDARY = 2
SELECTION_END = 3

# --- file transfer ---
XFER_CAN_SEND_DATA = 0
XFER_CANCELLED = 1
XFER_ERROR = 2
XFER_SUCCESS = 3
XFER_NOT_ENOUGH_SPACE = 4
XFER_SESSION_LOCKED = 5
XFER_VDAGENT_NOT_CONNECTED = 6
XFER_DISABLED = 7
XFER_END = 8
XFER_ERROR_GLIB_IO = 0

REPLY_SUCCESS = 1
REPLY_ERROR = 2

BUTTON_LEFT = 1 << 1
BUTTON_MIDDLE = 1 << 2
BUTTON_RIGHT = 1 << 3
BUTTON_WHEEL_UP = 1 << 4
BUTTON_WHEEL_DOWN = 1 << 5
BUTTON_SIDE = 1 << 6
BUTTON_EXTRA = 1 << 7

MONITORS_USE_POS = 1 << 0
MONITORS_PHYSICAL_SIZE = 1 << 1

DISPLAY_DISABLE_WALLPAPER = 1 << 0
DISPLAY_DISABLE_FONT_SMOOTH = 1 << 1
DISPLAY_DISABLE_ANIMATION = 1 << 2
DISPLAY_SET_COLOR_DEPTH = 1 << 3


class WireError(Exception):
    """Malformed bytes, or a framing rule broken."""


# --- capability sets ---

class Caps:
    """A capability set: bit n of word n // 32. Accepts an int mask or a list of words."""

    def __init__(self, value=0):
        if isinstance(value, Caps):
            value = value.mask
        elif isinstance(value, (list, tuple)):
            value = sum(w << (32 * i) for i, w in enumerate(value))
        self.mask = int(value)

    @classmethod
    def of(cls, *caps):
        return cls(sum(1 << c for c in set(caps)))

    def has(self, cap):
        return bool(self.mask >> cap & 1)

    def words(self):
        """At least one word, as many as the highest set bit needs."""
        n = max(1, (self.mask.bit_length() + 31) // 32)
        return [(self.mask >> (32 * i)) & 0xFFFFFFFF for i in range(n)]

    def __and__(self, other):
        return Caps(self.mask & Caps(other).mask)

    def __eq__(self, other):
        return isinstance(other, (Caps, int)) and self.mask == Caps(other).mask

    def __hash__(self):
        return hash(self.mask)

    def __repr__(self):
        return "Caps(0x%x)" % self.mask


def _caps(neg):
    return neg if isinstance(neg, Caps) else Caps(neg or 0)


# --- headers ---

def build_chunk_header(port, size):
    return struct.pack("<II", port, size)


def parse_chunk_header(buf):
    if len(buf) < CHUNK_HEADER_SIZE:
        raise WireError("chunk header truncated")
    return struct.unpack_from("<II", buf)


def build_message_header(type_, size, opaque=0, protocol=PROTOCOL):
    return struct.pack("<IIQI", protocol, type_, opaque, size)


def parse_message_header(buf):
    """-> (protocol, type, opaque, size)"""
    if len(buf) < MSG_HEADER_SIZE:
        raise WireError("message header truncated")
    return struct.unpack_from("<IIQI", buf)


def build_message(type_, payload, opaque=0):
    return build_message_header(type_, len(payload), opaque) + bytes(payload)


def split_message(type_, payload, port=PORT_CLIENT, chunk=CHUNK_MAX_DATA, opaque=0):
    """The chunk stream carrying one message: header + payload cut into chunks of <= chunk bytes."""
    if chunk < 1:
        raise ValueError("chunk size must be positive")
    msg = build_message(type_, payload, opaque)
    out = bytearray()
    for off in range(0, len(msg), chunk):
        piece = msg[off:off + chunk]
        out += build_chunk_header(port, len(piece)) + piece
    return bytes(out)


def split_stream(type_, payload, port=PORT_CLIENT, chunk=CHUNK_MAX_DATA, opaque=0):
    """As split_message, but a list of (chunk header + data) items, one per chunk."""
    data = split_message(type_, payload, port, chunk, opaque)
    items, off = [], 0
    while off < len(data):
        _, size = parse_chunk_header(data[off:])
        items.append(data[off:off + CHUNK_HEADER_SIZE + size])
        off += CHUNK_HEADER_SIZE + size
    return items


class GuestReassembler:
    """Reassembles what the guest writes, asserting the rule real hosts enforce on it:
    every chunk on port 1, 1..2048 data bytes, one message per chunk sequence (a message
    ends exactly at a chunk end), the whole 20-byte header inside a message's first chunk,
    protocol 1, and a size within max_message."""

    def __init__(self, max_message=256 * 1024 * 1024, port=PORT_CLIENT):
        self.max_message = max_message
        self.port = port
        self._buf = bytearray()
        self._msg = None  # [type, opaque, size, bytearray payload]
        self.chunks = 0

    def pending(self):
        return len(self._buf) + (0 if self._msg is None else 1)

    def feed(self, data):
        """Returns a list of (type, payload bytes, opaque) completed by data."""
        self._buf += data
        out = []
        while len(self._buf) >= CHUNK_HEADER_SIZE:
            port, size = parse_chunk_header(self._buf)
            if port != self.port:
                raise WireError("guest chunk on port %d, expected %d" % (port, self.port))
            if size > CHUNK_MAX_DATA:
                raise WireError("guest chunk of %d bytes (> %d)" % (size, CHUNK_MAX_DATA))
            if size == 0:
                raise WireError("guest sent an empty chunk")
            if len(self._buf) < CHUNK_HEADER_SIZE + size:
                break
            data = bytes(self._buf[CHUNK_HEADER_SIZE:CHUNK_HEADER_SIZE + size])
            del self._buf[:CHUNK_HEADER_SIZE + size]
            self.chunks += 1
            if self._msg is None:
                if size < MSG_HEADER_SIZE:
                    raise WireError("first chunk of a message (%d bytes) does not hold the "
                                    "whole message header" % size)
                protocol, type_, opaque, msize = parse_message_header(data)
                if protocol != PROTOCOL:
                    raise WireError("message protocol %d" % protocol)
                if msize > self.max_message:
                    raise WireError("message of %d bytes above %d" % (msize, self.max_message))
                self._msg = [type_, opaque, msize, bytearray(data[MSG_HEADER_SIZE:])]
            else:
                self._msg[3] += data
            type_, opaque, msize, body = self._msg
            if len(body) > msize:
                raise WireError("a chunk carries past the end of a %s message (one message per "
                                "chunk sequence)" % MSG_NAMES.get(type_, type_))
            if len(body) == msize:
                out.append((type_, bytes(body), opaque))
                self._msg = None
        return out


class HostReassembler:
    """Per-port reassembly of what a host sends (no rule beyond chunk <= 2048): for checking
    streams produced by split_message, or a guest-side implementation."""

    def __init__(self):
        self._buf = bytearray()
        self._msgs = {}

    def feed(self, data):
        """Returns a list of (port, type, payload) completed by data."""
        self._buf += data
        out = []
        while len(self._buf) >= CHUNK_HEADER_SIZE:
            port, size = parse_chunk_header(self._buf)
            if port not in (PORT_CLIENT, PORT_SERVER) or size > CHUNK_MAX_DATA:
                raise WireError("bad chunk header port=%d size=%d" % (port, size))
            if len(self._buf) < CHUNK_HEADER_SIZE + size:
                break
            data = bytes(self._buf[CHUNK_HEADER_SIZE:CHUNK_HEADER_SIZE + size])
            del self._buf[:CHUNK_HEADER_SIZE + size]
            acc = self._msgs.setdefault(port, bytearray())
            acc += data
            while len(acc) >= MSG_HEADER_SIZE:
                _, type_, _, msize = parse_message_header(acc)
                if len(acc) < MSG_HEADER_SIZE + msize:
                    break
                out.append((port, type_, bytes(acc[MSG_HEADER_SIZE:MSG_HEADER_SIZE + msize])))
                del acc[:MSG_HEADER_SIZE + msize]
        return out


# --- payloads ---

def _need(buf, n, what):
    if len(buf) < n:
        raise WireError("%s truncated (%d < %d bytes)" % (what, len(buf), n))


def _exact(buf, n, what):
    if len(buf) != n:
        raise WireError("%s: %d bytes, expected %d" % (what, len(buf), n))


def build_mouse_state(x, y, buttons=0, display_id=0):
    return struct.pack("<IIIB", x, y, buttons, display_id)


def parse_mouse_state(buf):
    """-> dict(x, y, buttons, display_id)"""
    _exact(buf, 13, "MOUSE_STATE")
    x, y, b, d = struct.unpack("<IIIB", buf)
    return dict(x=x, y=y, buttons=b, display_id=d)


def build_monitors_config(monitors, flags=MONITORS_PHYSICAL_SIZE):
    """monitors: list of dicts width, height, [depth=32, x=0, y=0, mm_width=0, mm_height=0].
    With PHYSICAL_SIZE the MonitorMM tail follows (as spice-gtk always sends)."""
    out = struct.pack("<II", len(monitors), flags)
    for m in monitors:
        out += struct.pack("<IIIii", m["height"], m["width"], m.get("depth", 32), m.get("x", 0),
                           m.get("y", 0))
    if flags & MONITORS_PHYSICAL_SIZE:
        for m in monitors:
            out += struct.pack("<HH", m.get("mm_height", 0), m.get("mm_width", 0))
    return out


def build_sparse_monitors_config(enabled, total=16, flags=MONITORS_PHYSICAL_SIZE | MONITORS_USE_POS):
    """spice-gtk's shape: `total` entries, those not in `enabled` (dict index -> monitor) zero."""
    mons = [enabled.get(i, dict(width=0, height=0, depth=0, x=0, y=0)) for i in range(total)]
    return build_monitors_config(mons, flags)


def parse_monitors_config(buf):
    """-> dict(flags, monitors=[dict(width, height, depth, x, y, mm_width, mm_height)])"""
    _need(buf, 8, "MONITORS_CONFIG")
    n, flags = struct.unpack_from("<II", buf)
    size = 8 + 20 * n + (4 * n if flags & MONITORS_PHYSICAL_SIZE else 0)
    _exact(buf, size, "MONITORS_CONFIG")
    mons = []
    for i in range(n):
        h, w, d, x, y = struct.unpack_from("<IIIii", buf, 8 + 20 * i)
        mons.append(dict(width=w, height=h, depth=d, x=x, y=y, mm_width=0, mm_height=0))
    if flags & MONITORS_PHYSICAL_SIZE:
        for i in range(n):
            mh, mw = struct.unpack_from("<HH", buf, 8 + 20 * n + 4 * i)
            mons[i].update(mm_width=mw, mm_height=mh)
    return dict(flags=flags, monitors=mons)


def build_reply(type_, error=REPLY_SUCCESS):
    return struct.pack("<II", type_, error)


def parse_reply(buf):
    """-> dict(type, error)"""
    _exact(buf, 8, "REPLY")
    t, e = struct.unpack("<II", buf)
    if e not in (REPLY_SUCCESS, REPLY_ERROR):
        raise WireError("REPLY error %d" % e)
    return dict(type=t, error=e)


def selection_prefix(neg, selection=SELECTION_CLIPBOARD):
    if _caps(neg).has(CAP_CLIPBOARD_SELECTION):
        return struct.pack("<Bxxx", selection)
    if selection != SELECTION_CLIPBOARD:
        raise ValueError("selection %d without CLIPBOARD_SELECTION" % selection)
    return b""


def _parse_prefix(buf, neg, what):
    """-> (selection, rest)"""
    if not _caps(neg).has(CAP_CLIPBOARD_SELECTION):
        return SELECTION_CLIPBOARD, buf
    _need(buf, 4, what)
    if buf[0] >= SELECTION_END:
        raise WireError("%s: selection %d" % (what, buf[0]))
    return buf[0], buf[4:]


def build_clipboard(type_, data, neg=0, selection=SELECTION_CLIPBOARD):
    return selection_prefix(neg, selection) + struct.pack("<I", type_) + bytes(data)


def parse_clipboard(buf, neg=0):
    """-> dict(selection, type, data)"""
    sel, rest = _parse_prefix(buf, neg, "CLIPBOARD")
    _need(rest, 4, "CLIPBOARD")
    return dict(selection=sel, type=struct.unpack_from("<I", rest)[0], data=bytes(rest[4:]))


def build_display_config(flags, depth=0):
    return struct.pack("<II", flags, depth)


def parse_display_config(buf):
    """-> dict(flags, depth)"""
    _exact(buf, 8, "DISPLAY_CONFIG")
    f, d = struct.unpack("<II", buf)
    return dict(flags=f, depth=d)


def build_announce_caps(caps, request=True):
    words = _caps(caps).words()
    return struct.pack("<I%dI" % len(words), 1 if request else 0, *words)


def parse_announce_caps(buf):
    """-> dict(request: bool, caps: Caps, n_words)"""
    _need(buf, 4, "ANNOUNCE_CAPABILITIES")
    if (len(buf) - 4) % 4:
        raise WireError("ANNOUNCE_CAPABILITIES size %d is not 4 + 4k" % len(buf))
    n = (len(buf) - 4) // 4
    req, *words = struct.unpack("<I%dI" % n, buf)
    return dict(request=req != 0, caps=Caps(list(words)), n_words=n)


def build_clipboard_grab(types, neg=0, selection=SELECTION_CLIPBOARD, serial=0):
    out = selection_prefix(neg, selection)
    if _caps(neg).has(CAP_CLIPBOARD_GRAB_SERIAL):
        out += struct.pack("<I", serial)
    return out + struct.pack("<%dI" % len(types), *types)


def parse_clipboard_grab(buf, neg=0):
    """-> dict(selection, serial (None without GRAB_SERIAL), types)"""
    sel, rest = _parse_prefix(buf, neg, "CLIPBOARD_GRAB")
    serial = None
    if _caps(neg).has(CAP_CLIPBOARD_GRAB_SERIAL):
        _need(rest, 4, "CLIPBOARD_GRAB")
        serial = struct.unpack_from("<I", rest)[0]
        rest = rest[4:]
    if len(rest) % 4:
        raise WireError("CLIPBOARD_GRAB types not a multiple of 4 bytes")
    return dict(selection=sel, serial=serial, types=list(struct.unpack("<%dI" % (len(rest) // 4), rest)))


def build_clipboard_request(type_, neg=0, selection=SELECTION_CLIPBOARD):
    return selection_prefix(neg, selection) + struct.pack("<I", type_)


def parse_clipboard_request(buf, neg=0):
    """-> dict(selection, type)"""
    sel, rest = _parse_prefix(buf, neg, "CLIPBOARD_REQUEST")
    _exact(rest, 4, "CLIPBOARD_REQUEST")
    return dict(selection=sel, type=struct.unpack("<I", rest)[0])


def build_clipboard_release(neg=0, selection=SELECTION_CLIPBOARD):
    return selection_prefix(neg, selection)


def parse_clipboard_release(buf, neg=0):
    """-> dict(selection)"""
    sel, rest = _parse_prefix(buf, neg, "CLIPBOARD_RELEASE")
    _exact(rest, 0, "CLIPBOARD_RELEASE")
    return dict(selection=sel)


def build_file_xfer_start(id_, name, size, nr=None, total=None, nul=True):
    """spice-gtk's key file (NUL-terminated when nul)."""
    text = "[vdagent-file-xfer]\nname=%s\nsize=%d\n" % (name, size)
    if nr is not None:
        text += "file-xfer-nr=%d\n" % nr
    if total is not None:
        text += "file-xfer-total=%d\n" % total
    return struct.pack("<I", id_) + text.encode() + (b"\0" if nul else b"")


def parse_file_xfer_start(buf):
    """-> dict(id, name, size, nr, total, nul) from the key file (nr/total None when absent)."""
    _need(buf, 4, "FILE_XFER_START")
    id_ = struct.unpack_from("<I", buf)[0]
    text = bytes(buf[4:])
    nul = text.endswith(b"\0")
    keys, group = {}, None
    for line in text.rstrip(b"\0").decode("utf-8").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
        elif "=" in line and group == "vdagent-file-xfer":
            k, v = line.split("=", 1)
            keys[k.strip()] = v.strip()
    if "name" not in keys or "size" not in keys:
        raise WireError("FILE_XFER_START without name or size")
    opt = lambda k: int(keys[k]) if k in keys else None  # noqa: E731
    return dict(id=id_, name=keys["name"], size=int(keys["size"]), nr=opt("file-xfer-nr"),
                total=opt("file-xfer-total"), nul=nul)


def build_file_xfer_status(id_, result, detail=b""):
    return struct.pack("<II", id_, result) + bytes(detail)


def build_file_xfer_error_detail(code, error_type=XFER_ERROR_GLIB_IO):
    return struct.pack("<BI", error_type, code)


def parse_file_xfer_status(buf):
    """-> dict(id, result, detail: bytes, error_type, error_code, free) (decoded when sized right)"""
    _need(buf, 8, "FILE_XFER_STATUS")
    id_, result = struct.unpack_from("<II", buf)
    detail = bytes(buf[8:])
    out = dict(id=id_, result=result, detail=detail, error_type=None, error_code=None, free=None)
    if result == XFER_ERROR and len(detail) == 5:
        out["error_type"], out["error_code"] = struct.unpack("<BI", detail)
    elif result == XFER_NOT_ENOUGH_SPACE and len(detail) == 8:
        out["free"] = struct.unpack("<Q", detail)[0]
    return out


def build_file_xfer_data(id_, data, size=None):
    """size defaults to len(data); pass another value to build a lying message."""
    return struct.pack("<IQ", id_, len(data) if size is None else size) + bytes(data)


def parse_file_xfer_data(buf):
    """-> dict(id, size, data); size must match the data."""
    _need(buf, 12, "FILE_XFER_DATA")
    id_, size = struct.unpack_from("<IQ", buf)
    if size != len(buf) - 12:
        raise WireError("FILE_XFER_DATA size %d but %d bytes" % (size, len(buf) - 12))
    return dict(id=id_, size=size, data=bytes(buf[12:]))


def build_max_clipboard(max_):
    return struct.pack("<i", max_)


def parse_max_clipboard(buf):
    _exact(buf, 4, "MAX_CLIPBOARD")
    return struct.unpack("<i", buf)[0]


def build_audio_volume_sync(is_playback, mute, volumes):
    return struct.pack("<BBB%dH" % len(volumes), is_playback, mute, len(volumes), *volumes)


def parse_audio_volume_sync(buf):
    """-> dict(is_playback, mute, volumes)"""
    _need(buf, 3, "AUDIO_VOLUME_SYNC")
    p, m, n = struct.unpack_from("<BBB", buf)
    _exact(buf, 3 + 2 * n, "AUDIO_VOLUME_SYNC")
    return dict(is_playback=p, mute=m, volumes=list(struct.unpack_from("<%dH" % n, buf, 3)))


def build_graphics_device_info(entries):
    """entries: list of (channel_id, monitor_id, device_display_id, address str)."""
    out = struct.pack("<I", len(entries))
    for ch, mon, dd, addr in entries:
        a = addr.encode() + b"\0"
        out += struct.pack("<IIII", ch, mon, dd, len(a)) + a
    return out


def parse_graphics_device_info(buf):
    """-> list of (channel_id, monitor_id, device_display_id, address str)"""
    _need(buf, 4, "GRAPHICS_DEVICE_INFO")
    n = struct.unpack_from("<I", buf)[0]
    off, out = 4, []
    for _ in range(n):
        _need(buf[off:], 16, "GRAPHICS_DEVICE_INFO entry")
        ch, mon, dd, alen = struct.unpack_from("<IIII", buf, off)
        off += 16
        _need(buf[off:], alen, "GRAPHICS_DEVICE_INFO address")
        addr = bytes(buf[off:off + alen])
        if not addr.endswith(b"\0"):
            raise WireError("device address not NUL-terminated")
        out.append((ch, mon, dd, addr[:-1].decode()))
        off += alen
    _exact(buf, off, "GRAPHICS_DEVICE_INFO")
    return out


def parse_client_disconnected(buf):
    _exact(buf, 0, "CLIENT_DISCONNECTED")
    return {}


def parse_payload(type_, buf, neg=0):
    """Any message's payload by type (what the guest may send, and what a host sends)."""
    with_neg = {MSG_CLIPBOARD: parse_clipboard, MSG_CLIPBOARD_GRAB: parse_clipboard_grab,
                MSG_CLIPBOARD_REQUEST: parse_clipboard_request, MSG_CLIPBOARD_RELEASE: parse_clipboard_release}
    plain = {MSG_MOUSE_STATE: parse_mouse_state, MSG_MONITORS_CONFIG: parse_monitors_config,
             MSG_REPLY: parse_reply, MSG_DISPLAY_CONFIG: parse_display_config,
             MSG_ANNOUNCE_CAPABILITIES: parse_announce_caps, MSG_FILE_XFER_START: parse_file_xfer_start,
             MSG_FILE_XFER_STATUS: parse_file_xfer_status, MSG_FILE_XFER_DATA: parse_file_xfer_data,
             MSG_CLIENT_DISCONNECTED: parse_client_disconnected, MSG_MAX_CLIPBOARD: parse_max_clipboard,
             MSG_AUDIO_VOLUME_SYNC: parse_audio_volume_sync,
             MSG_GRAPHICS_DEVICE_INFO: parse_graphics_device_info}
    if type_ in with_neg:
        return with_neg[type_](buf, neg)
    if type_ in plain:
        return plain[type_](buf)
    raise WireError("unknown message type %d" % type_)


# --- a host on a Unix socket ---

class TestHost:
    """The host end of the agent port: listens on a Unix socket path that vdagentd's --port
    connects to, accepts one connection at a time, and speaks chunks on it.

    recv_message() asserts the guest framing rule (GuestReassembler) and skips nothing: every
    message the guest writes is returned in order."""

    __test__ = False  # not a pytest class

    def __init__(self, path, max_message=256 * 1024 * 1024):
        self.path = path
        self.listener = unixsock.listen(path, 4)
        self.conn = None
        self.max_message = max_message
        self.reader = None
        self._queue = []
        self.neg = Caps(0)  # set by negotiate()

    # connection
    def accept(self, timeout=10.0):
        self.conn = unixsock.accept(self.listener, self.path, timeout)
        self.reader = GuestReassembler(self.max_message)
        self._queue = []
        return self

    def close(self):
        """Drops the current connection (the guest sees the port close)."""
        if self.conn:
            self.conn.close()
            self.conn = None

    def reaccept(self, timeout=10.0):
        self.close()
        return self.accept(timeout)

    def shutdown(self):
        self.close()
        unixsock.close_listener(self.listener, self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    # sending
    def send_raw(self, data):
        self.conn.sendall(data)

    def send_message(self, type_, payload=b"", port=PORT_CLIENT, chunk=CHUNK_MAX_DATA, opaque=0):
        self.conn.sendall(split_message(type_, payload, port, chunk, opaque))

    def announce_caps(self, caps=SPICE_GTK_CAPS, request=True, **kw):
        self.send_message(MSG_ANNOUNCE_CAPABILITIES, build_announce_caps(caps, request), **kw)

    # receiving
    def recv_message(self, timeout=5.0):
        """-> (type, payload) of the next message the guest sent; TimeoutError if none arrives."""
        unixsock.read_until(self.conn, lambda: self._queue, lambda data: self._queue.extend(self.reader.feed(data)),
                            timeout, 65536, "no message from the guest within %.1fs" % timeout,
                            "the guest closed the port")
        type_, payload, _ = self._queue.pop(0)
        return type_, payload

    def expect(self, type_, timeout=5.0, skip=()):
        """The next message, which must be of type_ (types in skip are dropped first)."""
        while True:
            t, payload = self.recv_message(timeout)
            if t in skip:
                continue
            if t != type_:
                raise AssertionError("expected %s, got %s (%d bytes)" % (
                    MSG_NAMES.get(type_, type_), MSG_NAMES.get(t, t), len(payload)))
            return payload

    def assert_quiet(self, seconds=0.5):
        """Fails if the guest sends anything within seconds."""
        try:
            t, payload = self.recv_message(seconds)
        except TimeoutError:
            return
        raise AssertionError("unexpected %s from the guest" % MSG_NAMES.get(t, t))

    def negotiate(self, caps=SPICE_GTK_CAPS, timeout=5.0):
        """Announces caps with request=1 and waits for the agent's answer (request=0), answering
        any request=1 announce of the guest on the way as real hosts do. Sets and returns self.neg
        (the intersection); self.guest_caps is what the guest announced. Other messages that
        arrive meanwhile stay queued for recv_message()."""
        self.announce_caps(caps, request=True)
        kept = []
        try:
            while True:
                t, payload = self.recv_message(timeout)
                if t != MSG_ANNOUNCE_CAPABILITIES:
                    kept.append((t, payload, 0))
                    continue
                guest = parse_announce_caps(payload)
                self.guest_caps = guest["caps"]
                if not guest["request"]:
                    break
                self.announce_caps(caps, request=False)
        finally:
            self._queue[:0] = kept
        self.neg = self.guest_caps & Caps(caps)
        return self.neg
