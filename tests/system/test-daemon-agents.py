#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vdagentd between a test host and fake session agents (--session-tracking none).

Clipboard both ways with grab serials, monitors config and its REPLY, the agent's layout driving
the pointer, file transfers bound to their agent, an agent crashing mid-transfer and mid-clipboard,
limits (connections, frames, hello deadline, one agent at a time), and 256 MiB of clipboard each
way with the daemon's peak RSS measured.

Each case runs in a World of its own (a test host, vdagentd, and an active agent made when the case
first asks for one), stopped after it with a check of the daemon's clean exit: nothing is started at
import time and no case sees what another left behind."""
import atexit
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

from daemon import *  # noqa: E402,F401
from vdtest import Tap  # noqa: E402
import vdipc  # noqa: E402
from vdipc import FakeAgent, PeerError  # noqa: E402
from vdwire import *  # noqa: E402,F401


class World:
    """What one case runs against, made for it alone: a test host on a socket port, vdagentd
    connected to it with SPICE_GTK_CAPS negotiated, and in state the case's own objects; reading
    state["agent"] before anything is there connects a fresh active agent (fresh_agent())."""

    class State(dict):
        def __init__(self, w):
            super().__init__()
            self.w = w

        def __missing__(self, key):
            if key != "agent":
                raise KeyError(key)
            return fresh_agent(self.w)

        def pop(self, key, *default):
            if key == "agent" and key not in self and not default:
                self[key]  # a case that takes the agent over expects one
            return super().pop(key, *default)

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="vd-agents-test-")
        self.host = TestHost(os.path.join(self.tmp, "port.sock"))
        self.daemon = Vdagentd(self.host.path, self.tmp)
        self.state = World.State(self)
        self.daemon.wait_socket(5)
        self.host.accept(timeout=10)
        self.host.expect(MSG_ANNOUNCE_CAPABILITIES)
        self.host.negotiate(SPICE_GTK_CAPS)

    def close(self):
        """Stops the daemon and everything of the case; -> the daemon's exit status."""
        for v in self.state.values():
            if isinstance(v, FakeAgent):
                v.close()
        self.daemon.stop()
        self.host.shutdown()
        return self.daemon.returncode


def agent_connect(w):
    a = FakeAgent(w.daemon.socket)
    hs = a.expect(vdipc.S_HOST_STATE)
    ss = a.expect(vdipc.S_SESSION_STATE, skip=(vdipc.S_HOST_STATE,))
    # What an active agent is given at once: cached monitors config, device info, host grabs.
    drain_agent(a, (vdipc.S_MONITORS_CONFIG, vdipc.S_DEVICE_INFO, vdipc.S_CLIPBOARD_GRAB, vdipc.S_HOST_STATE))
    return a, hs, ss


def fresh_agent(w):
    """Replaces the current agent (if any) by a new one, clipboard caps announced again."""
    old = w.state.pop("agent", None)
    if old:
        old.close()
        wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "clipboard caps withdrawn")
    a, _, _ = agent_connect(w)
    wait_caps(w, lambda c: c.has(CAP_CLIPBOARD_BY_DEMAND), "clipboard caps announced")
    w.state["agent"] = a
    return a


def wait_caps(w, pred, what):
    """The daemon re-announces (request=0) when what it supports changes."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        caps = parse_announce_caps(w.host.expect(MSG_ANNOUNCE_CAPABILITIES, timeout=5, skip=(
            MSG_CLIPBOARD_RELEASE, MSG_CLIPBOARD, MSG_FILE_XFER_STATUS)))
        assert not caps["request"]
        if pred(caps["caps"]):
            w.host.neg = caps["caps"] & Caps(SPICE_GTK_CAPS)
            return caps["caps"]
    raise AssertionError(what)


def test_agent_connects(w):
    a, hs, ss = agent_connect(w)
    assert hs["connected"], hs
    assert ss["active"] and not ss["locked"], ss
    caps = wait_caps(w, lambda c: c.has(CAP_CLIPBOARD_BY_DEMAND), "clipboard caps announced")
    assert caps.has(CAP_CLIPBOARD_SELECTION) and caps.has(CAP_CLIPBOARD_GRAB_SERIAL)
    assert not caps.has(CAP_FILE_XFER_DISABLED)
    w.state["agent"] = a
    # The agent's HOST_STATE follows the change of negotiated caps.


def test_host_state_follows_our_caps(w):
    """Our clipboard caps appear only once an agent is active: the negotiated set then changes
    although the host said nothing new, and the agent must hear of it (it decides, e.g., whether
    PRIMARY is bridged)."""
    old = w.state.pop("agent")
    old.close()
    wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "clipboard caps withdrawn")
    a = FakeAgent(w.daemon.socket)
    w.state["agent"] = a
    selection = 1 << CAP_CLIPBOARD_SELECTION
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline:
        t, m = a.recv(max(0.1, deadline - time.monotonic()))
        if t == vdipc.S_HOST_STATE:
            seen.append(m["caps"])
            if m["caps"] & selection:
                break
    else:
        raise AssertionError("no HOST_STATE with CLIPBOARD_SELECTION: %r" % [hex(c) for c in seen])
    assert not seen[0] & selection, "the first HOST_STATE already had it: %r" % [hex(c) for c in seen]
    wait_caps(w, lambda c: c.has(CAP_CLIPBOARD_BY_DEMAND), "clipboard caps announced")
    drain_agent(a, (vdipc.S_MONITORS_CONFIG, vdipc.S_DEVICE_INFO, vdipc.S_CLIPBOARD_GRAB, vdipc.S_HOST_STATE,
                    vdipc.S_SESSION_STATE))


def test_second_agent_refused(w):
    w.state["agent"]  # the active one
    try:
        FakeAgent(w.daemon.socket)
    except PeerError as e:
        assert e.code == vdipc.ERR_LIMIT, e
    else:
        raise AssertionError("a second agent was accepted")


def drain_agent(a, types, timeout=0.3):
    try:
        while True:
            t, m = a.recv(timeout)
            if t not in types:
                return t, m
    except TimeoutError:
        return None, None


def test_clipboard_guest_to_host(w):
    a = w.state["agent"]
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT])
    g = parse_clipboard_grab(w.host.expect(MSG_CLIPBOARD_GRAB), w.host.neg)
    assert g["types"] == [CLIPBOARD_UTF8_TEXT] and g["serial"] == 0, g
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=1, types=[CLIPBOARD_UTF8_TEXT])
    g = parse_clipboard_grab(w.host.expect(MSG_CLIPBOARD_GRAB), w.host.neg)
    assert g["selection"] == 1 and g["serial"] == 0, g
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT, CLIPBOARD_IMAGE_PNG])
    g = parse_clipboard_grab(w.host.expect(MSG_CLIPBOARD_GRAB), w.host.neg)
    assert g["serial"] == 1, g
    w.host.send_message(MSG_CLIPBOARD_REQUEST, build_clipboard_request(CLIPBOARD_UTF8_TEXT, w.host.neg, 0))
    req = a.expect(vdipc.S_CLIPBOARD_REQUEST, skip=(vdipc.S_HOST_STATE,))
    assert req == {"selection": 0, "type": CLIPBOARD_UTF8_TEXT}, req
    text = "héllo from the guest ".encode() * 300
    a.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=CLIPBOARD_UTF8_TEXT, total=len(text))
    for i in range(0, len(text), 1000):
        a.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=text[i:i + 1000])
    c = parse_clipboard(w.host.expect(MSG_CLIPBOARD), w.host.neg)
    assert c["type"] == CLIPBOARD_UTF8_TEXT and c["data"] == text, (c["type"], len(c["data"]))
    # An unrequested answer goes nowhere.
    a.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=CLIPBOARD_UTF8_TEXT, total=3)
    a.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=b"abc")
    w.host.assert_quiet(0.3)


def test_clipboard_release_to_host(w):
    a = w.state["agent"]
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=1, types=[CLIPBOARD_UTF8_TEXT])
    w.host.expect(MSG_CLIPBOARD_GRAB)
    a.send(vdipc.S_CLIPBOARD_RELEASE, selection=1)
    r = parse_clipboard_release(w.host.expect(MSG_CLIPBOARD_RELEASE), w.host.neg)
    assert r["selection"] == 1, r


def test_clipboard_host_to_guest(w):
    a = w.state["agent"]
    w.host.send_message(MSG_CLIPBOARD_GRAB, build_clipboard_grab([CLIPBOARD_UTF8_TEXT], w.host.neg, 0, serial=2))
    g = a.expect(vdipc.S_CLIPBOARD_GRAB, skip=(vdipc.S_HOST_STATE,))
    assert g == {"selection": 0, "types": [CLIPBOARD_UTF8_TEXT]}, g
    # A stale grab (serial below the counter) is dropped.
    w.host.send_message(MSG_CLIPBOARD_GRAB, build_clipboard_grab([CLIPBOARD_IMAGE_PNG], w.host.neg, 0, serial=0))
    t, m = drain_agent(a, ())
    assert t is None, (t, m)
    a.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=CLIPBOARD_UTF8_TEXT)
    q = parse_clipboard_request(w.host.expect(MSG_CLIPBOARD_REQUEST), w.host.neg)
    assert q["type"] == CLIPBOARD_UTF8_TEXT, q
    text = bytes(range(256)) * 40  # 10 KiB, 2048-byte chunks
    w.host.send_message(MSG_CLIPBOARD, build_clipboard(CLIPBOARD_UTF8_TEXT, text, w.host.neg, 0), chunk=2048)
    b = a.expect(vdipc.S_CLIPBOARD_BEGIN)
    assert b == {"selection": 0, "type": CLIPBOARD_UTF8_TEXT, "total": len(text)}, b
    got = b""
    while len(got) < len(text):
        got += a.expect(vdipc.S_CLIPBOARD_DATA)["data"]
    assert got == text
    w.host.send_message(MSG_CLIPBOARD_RELEASE, build_clipboard_release(w.host.neg, 0))
    assert a.expect(vdipc.S_CLIPBOARD_RELEASE) == {"selection": 0}


def test_request_without_grab(w):
    a = w.state["agent"]
    # The guest asks for what the host does not hold: the agent is told at once.
    a.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=CLIPBOARD_UTF8_TEXT)
    assert a.expect(vdipc.S_CLIPBOARD_ABORT) == {"selection": 0}
    # The host asks for what the guest does not hold: empty data, as QEMU does.
    w.host.send_message(MSG_CLIPBOARD_REQUEST, build_clipboard_request(CLIPBOARD_UTF8_TEXT, w.host.neg, 2))
    c = parse_clipboard(w.host.expect(MSG_CLIPBOARD), w.host.neg)
    assert c["data"] == b"" and c["selection"] == 2, c


def test_max_clipboard(w):
    a = w.state["agent"]
    w.host.send_message(MSG_MAX_CLIPBOARD, build_max_clipboard(1000))
    hs = a.expect(vdipc.S_HOST_STATE)
    assert hs["max_clipboard"] == 1000, hs
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT])
    w.host.expect(MSG_CLIPBOARD_GRAB)
    w.host.send_message(MSG_CLIPBOARD_REQUEST, build_clipboard_request(CLIPBOARD_UTF8_TEXT, w.host.neg, 0))
    a.expect(vdipc.S_CLIPBOARD_REQUEST)
    a.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=CLIPBOARD_UTF8_TEXT, total=2000)
    a.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=b"x" * 2000)
    c = parse_clipboard(w.host.expect(MSG_CLIPBOARD), w.host.neg)
    assert c["data"] == b"", "over MAX_CLIPBOARD: the host gets nothing"
    w.host.send_message(MSG_MAX_CLIPBOARD, build_max_clipboard(-1))
    assert a.expect(vdipc.S_HOST_STATE)["max_clipboard"] == -1


def test_monitors_config_reply(w):
    a = w.state["agent"]
    w.host.send_message(MSG_MONITORS_CONFIG, build_monitors_config(
        [dict(width=1280, height=800, x=0, y=0), dict(width=1024, height=768, x=1280, y=0)],
        MONITORS_PHYSICAL_SIZE | MONITORS_USE_POS))
    m = a.expect(vdipc.S_MONITORS_CONFIG)
    assert len(m["monitors"]) == 2 and m["monitors"][1]["width"] == 1024, m
    w.host.assert_quiet(0.3)  # no REPLY before the agent answers
    a.send(vdipc.S_MONITORS_RESULT, request_id=m["request_id"], result=REPLY_SUCCESS)
    r = parse_reply(w.host.expect(MSG_REPLY))
    assert r == {"type": MSG_MONITORS_CONFIG, "error": REPLY_SUCCESS}, r
    # A result for another request id is ignored.
    a.send(vdipc.S_MONITORS_RESULT, request_id=m["request_id"] + 7, result=REPLY_SUCCESS)
    w.host.assert_quiet(0.3)


def test_monitors_config_timeout(w):
    a = w.state["agent"]
    w.host.send_message(MSG_MONITORS_CONFIG, build_monitors_config([dict(width=800, height=600, x=0, y=0)],
                                                                 MONITORS_PHYSICAL_SIZE | MONITORS_USE_POS))
    a.expect(vdipc.S_MONITORS_CONFIG)
    t0 = time.monotonic()
    r = parse_reply(w.host.expect(MSG_REPLY, timeout=8))
    assert r["error"] == REPLY_ERROR and 4 <= time.monotonic() - t0 <= 7, (r, time.monotonic() - t0)


def test_agent_layout_drives_pointer(w):
    a = w.state["agent"]
    # The agent's X screen: 3000x1000, display 1 at 2000,0.
    a.send(vdipc.S_LAYOUT, screen_width=3000, screen_height=1000, displays=[
        dict(display_id=0, x=0, y=0, width=2000, height=1000),
        dict(display_id=1, x=2000, y=0, width=1000, height=1000)])
    time.sleep(0.2)
    w.daemon.events()
    w.host.send_message(MSG_MOUSE_STATE, build_mouse_state(999, 500, 0, 1), port=2)
    ev = w.daemon.events(want=2)
    a_ = {c: v for t, c, v in ev if t == EV_ABS}
    assert pixel(a_[ABS_X], 3000) == 2999, ev
    assert pixel(a_[ABS_Y], 1000) == 500, ev


def test_device_info_forwarded(w):
    a = w.state["agent"]
    w.host.send_message(MSG_GRAPHICS_DEVICE_INFO, build_graphics_device_info(
        [(0, 0, 1, "pci/0000/02.0")]))
    d = a.expect(vdipc.S_DEVICE_INFO)
    assert d["entries"][0]["address"] == "pci/0000/02.0", d


def test_file_transfer(w):
    a = w.state["agent"]
    data = os.urandom(200 * 1024)
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(5, "report.pdf", len(data)))
    s = a.expect(vdipc.S_XFER_START)
    assert s["id"] == 5 and s["name"] == "report.pdf" and s["size"] == len(data), s
    a.send(vdipc.S_XFER_STATUS, id=5, result=XFER_CAN_SEND_DATA, has_detail=False, error_type=0, error_code=0, free=0)
    st = parse_file_xfer_status(w.host.expect(MSG_FILE_XFER_STATUS))
    assert st["id"] == 5 and st["result"] == XFER_CAN_SEND_DATA, st
    for i in range(0, len(data), 65536):
        w.host.send_message(MSG_FILE_XFER_DATA, build_file_xfer_data(5, data[i:i + 65536]))
    got = b""
    while len(got) < len(data):
        m = a.expect(vdipc.S_XFER_DATA)
        assert m["id"] == 5
        got += m["data"]
    assert got == data
    a.send(vdipc.S_XFER_STATUS, id=5, result=XFER_SUCCESS, has_detail=False, error_type=0, error_code=0, free=0)
    st = parse_file_xfer_status(w.host.expect(MSG_FILE_XFER_STATUS))
    assert st["result"] == XFER_SUCCESS, st
    # The id is gone: more data and status for it are ignored.
    w.host.send_message(MSG_FILE_XFER_DATA, build_file_xfer_data(5, b"late"))
    a.send(vdipc.S_XFER_STATUS, id=5, result=XFER_SUCCESS, has_detail=False, error_type=0, error_code=0, free=0)
    a.send(vdipc.S_XFER_STATUS, id=99, result=XFER_ERROR, has_detail=False, error_type=0, error_code=0, free=0)
    w.host.assert_quiet(0.3)
    t, m = drain_agent(a, ())
    assert t is None, (t, m)


def test_file_transfer_cancel_by_host(w):
    a = w.state["agent"]
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(6, "a.txt", 10))
    a.expect(vdipc.S_XFER_START)
    w.host.send_message(MSG_FILE_XFER_STATUS, build_file_xfer_status(6, XFER_CANCELLED))
    c = a.expect(vdipc.S_XFER_CANCEL)
    assert c == {"id": 6, "result": XFER_CANCELLED}, c
    # A duplicate START for an id in flight is ignored; START over the cap is refused.
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(7, "b.txt", 10))
    a.expect(vdipc.S_XFER_START)
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(7, "b2.txt", 10))
    t, m = drain_agent(a, ())
    assert t is None, (t, m)
    w.host.send_message(MSG_FILE_XFER_STATUS, build_file_xfer_status(7, XFER_CANCELLED))
    a.expect(vdipc.S_XFER_CANCEL)


def test_file_transfer_limit(w):
    a = w.state["agent"]
    for i in range(64):
        w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(100 + i, "f%d" % i, 1))
    for i in range(64):
        a.expect(vdipc.S_XFER_START)
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(999, "one too many", 1))
    st = parse_file_xfer_status(w.host.expect(MSG_FILE_XFER_STATUS))
    assert st["id"] == 999 and st["result"] == XFER_ERROR, st
    # The client leaving cancels them all towards the agent.
    w.host.send_message(MSG_CLIENT_DISCONNECTED, b"", port=2)
    cancelled = set()
    while len(cancelled) < 64:
        t, m = a.recv()
        if t == vdipc.S_XFER_CANCEL:
            cancelled.add(m["id"])
    assert cancelled == set(range(100, 164))
    hs = a.expect(vdipc.S_HOST_STATE, skip=(vdipc.S_CLIPBOARD_RELEASE,))
    assert not hs["connected"], hs
    w.host.negotiate(SPICE_GTK_CAPS)
    assert a.expect(vdipc.S_HOST_STATE)["connected"]


def test_agent_crash_mid_transfer(w):
    a = w.state["agent"]
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(8, "big.iso", 1 << 20))
    a.expect(vdipc.S_XFER_START)
    a.send(vdipc.S_XFER_STATUS, id=8, result=XFER_CAN_SEND_DATA, has_detail=False, error_type=0, error_code=0, free=0)
    w.host.expect(MSG_FILE_XFER_STATUS)
    w.host.send_message(MSG_FILE_XFER_DATA, build_file_xfer_data(8, b"y" * 65536))
    a.expect(vdipc.S_XFER_DATA)
    a.close()  # crash
    st = parse_file_xfer_status(w.host.expect(MSG_FILE_XFER_STATUS, skip=(MSG_ANNOUNCE_CAPABILITIES,)))
    assert st["id"] == 8 and st["result"] == XFER_VDAGENT_NOT_CONNECTED, st
    caps = wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "clipboard caps withdrawn")
    assert caps.has(CAP_FILE_XFER_DISABLED)
    # The rest of the data goes nowhere, and a new START is refused: no agent.
    w.host.send_message(MSG_FILE_XFER_DATA, build_file_xfer_data(8, b"z" * 1000))
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(9, "x", 1))
    st = parse_file_xfer_status(w.host.expect(MSG_FILE_XFER_STATUS))
    assert st["id"] == 9 and st["result"] == XFER_VDAGENT_NOT_CONNECTED, st
    assert w.daemon.alive()


def test_agent_crash_mid_clipboard(w):
    w.state.pop("agent", None)
    a = fresh_agent(w)
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT])
    w.host.expect(MSG_CLIPBOARD_GRAB)
    w.host.send_message(MSG_CLIPBOARD_REQUEST, build_clipboard_request(CLIPBOARD_UTF8_TEXT, w.host.neg, 0))
    a.expect(vdipc.S_CLIPBOARD_REQUEST)
    a.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=CLIPBOARD_UTF8_TEXT, total=100000)
    a.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=b"q" * 5000)
    time.sleep(0.2)
    a.close()
    w.state.pop("agent", None)
    # The message cannot be completed on the wire: the port is reopened (request=1 again).
    try:
        while True:
            w.host.recv_message(timeout=5)
    except ConnectionError:
        pass
    w.host.accept(timeout=10)
    assert parse_announce_caps(w.host.expect(MSG_ANNOUNCE_CAPABILITIES))["request"]
    w.host.negotiate(SPICE_GTK_CAPS)


def test_malformed_frame(w):
    b = fresh_agent(w)
    w.state.pop("agent")
    b.send_raw(vdipc.frame(vdipc.S_CLIPBOARD_GRAB, b"\x09\x00"))  # selection 9, truncated
    frames = b.wait_closed()
    codes = [vdipc.decode(vdipc.SESSION, t, p)["code"] for t, p in frames if t == vdipc.ERROR]
    assert vdipc.ERR_BAD_FRAME in codes, frames


def test_oversized_frame(w):
    b = fresh_agent(w)
    w.state.pop("agent")
    b.send_raw(struct.pack("<HHI", vdipc.S_CLIPBOARD_DATA, 0, 16 * 1024 * 1024))
    frames = b.wait_closed()
    codes = [vdipc.decode(vdipc.SESSION, t, p)["code"] for t, p in frames if t == vdipc.ERROR]
    assert vdipc.ERR_BAD_FRAME in codes, frames
    wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "agent gone")


def test_bad_hello(w):
    s = socket.socket(socket.AF_UNIX)
    s.connect(w.daemon.socket)
    s.sendall(vdipc.frame(vdipc.S_CLIPBOARD_RELEASE, b"\x00"))
    c = vdipc.Connection(s, vdipc.SESSION)
    frames = c.wait_closed()
    assert any(t == vdipc.ERROR for t, p in frames), frames
    b = FakeAgent(w.daemon.socket, hello=False)
    b.send(vdipc.HELLO, **vdipc.hello_fields(vdipc.SESSION, version=(2, 0)))
    # Our HELLO first (the agent learns which version we speak), then ERROR(VERSION).
    frames = b.wait_closed()
    assert [t for t, _ in frames][:2] == [vdipc.HELLO, vdipc.ERROR], frames
    assert vdipc.decode(vdipc.SESSION, vdipc.ERROR, frames[1][1])["code"] == vdipc.ERR_VERSION, frames


def test_hello_deadline(w):
    s = socket.socket(socket.AF_UNIX)
    s.connect(w.daemon.socket)
    c = vdipc.Connection(s, vdipc.SESSION)
    t0 = time.monotonic()
    frames = c.wait_closed(timeout=10)
    took = time.monotonic() - t0
    assert 4 <= took <= 8, took
    assert [vdipc.decode(vdipc.SESSION, t, p)["code"] for t, p in frames if t == vdipc.ERROR] == [vdipc.ERR_TIMEOUT]


def test_connection_cap(w):
    socks = []
    try:
        for _ in range(40):
            s = socket.socket(socket.AF_UNIX)
            s.connect(w.daemon.socket)
            socks.append(s)
        time.sleep(0.5)
        refused = 0
        for s in socks:
            s.settimeout(0.05)
            try:
                if s.recv(1, socket.MSG_PEEK) == b"" or True:
                    pass
            except socket.timeout:
                continue
            refused += 1
        # 32 slots, one taken by the active agent if there is one: the rest are refused at once.
        assert refused == 40 - 32 + (1 if "agent" in w.state else 0), refused
    finally:
        for s in socks:
            s.close()
    time.sleep(0.3)
    assert w.daemon.alive()


_readable_lib = None


def readable_lib():
    """A world-readable copy of the Python test library: the checkout may sit where other uids
    cannot read (a CI clone under /root), and the processes run_as() starts must import vdipc."""
    global _readable_lib
    if _readable_lib is None:
        _readable_lib = tempfile.mkdtemp(prefix="vdagent-testlib-")
        os.chmod(_readable_lib, 0o755)
        lib = os.path.dirname(os.path.abspath(vdipc.__file__))
        for name in os.listdir(lib):
            if name.endswith(".py"):
                dst = os.path.join(_readable_lib, name)
                shutil.copy(os.path.join(lib, name), dst)
                os.chmod(dst, 0o644)
        atexit.register(shutil.rmtree, _readable_lib, True)
    return _readable_lib


def run_as(uid, code):
    return subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
                           "/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=30,
                          cwd="/", env=dict(os.environ, PYTHONPATH=readable_lib()))


AGENT_AS_USER = """
import sys, vdipc
try:
    a = vdipc.FakeAgent(%r)
    a.expect(vdipc.S_HOST_STATE)
    print("accepted")
except vdipc.PeerError as e:
    print("refused", e.code)
"""


def test_tracking_none_uid_policy(w):
    if os.getuid() != 0 or not os.path.exists("/usr/bin/setpriv"):
        raise AssertionError("needs root and setpriv")
    old = w.state.pop("agent", None)
    if old:
        old.close()
        wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "agent gone")
    os.chmod(w.daemon.tmp, 0o755)
    code = AGENT_AS_USER % w.daemon.socket
    r = run_as(64000, code)
    assert r.stdout.strip() == "accepted", r  # the first user is pinned as the display owner
    r = run_as(64001, code)
    assert r.stdout.strip() == "refused %d" % vdipc.ERR_PERMISSION, r
    r = run_as(64000, code)
    assert r.stdout.strip() == "accepted", r
    assert "uid 64000 is now the display owner" in w.daemon.log_text()


def pin_display_owner(w):
    """With tracking none the first user whose agent is accepted owns the display: uid 64000."""
    if os.getuid() != 0 or not os.path.exists("/usr/bin/setpriv"):
        raise AssertionError("needs root and setpriv")
    os.chmod(w.daemon.tmp, 0o755)
    r = run_as(64000, AGENT_AS_USER % w.daemon.socket)
    assert r.stdout.strip() == "accepted", r


PER_UID = """
import socket, struct, time, vdipc
socks = []
for i in range(6):
    s = socket.socket(socket.AF_UNIX)
    s.connect(%r)
    socks.append(s)
time.sleep(0.5)
codes = []
for s in socks:
    s.settimeout(0.2)
    try:
        data = s.recv(4096)
    except socket.timeout:
        codes.append(None)
        continue
    frames = vdipc.FrameDecoder().feed(data)
    # A refusal is the daemon's HELLO, then ERROR, in one write.
    codes.append(next((vdipc.decode(vdipc.SESSION, t, p)["code"] for t, p in frames if t == vdipc.ERROR),
                      frames[0][0] if frames else None))
print(codes)
"""


def test_per_uid_cap(w):
    # The pinned user (accepted) may hold 4 connections; the 5th and 6th are refused at once.
    pin_display_owner(w)
    r = run_as(64000, PER_UID % w.daemon.socket)
    codes = eval(r.stdout.strip())
    assert codes == [None] * 4 + [vdipc.ERR_LIMIT] * 2, r


def test_stuck_agent_is_dropped(w):
    """An agent that stops reading stops the port (backpressure), but not forever: after
    VD_AGENT_STALL_MS it is dropped and the port, mouse included, flows again; counters.errors
    counts it once as agent_stalled."""
    import threading
    a = fresh_agent(w)
    e0 = errors(w)
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # A serial far ahead of the daemon's counter is accepted (grabs were missed).
    w.host.send_message(MSG_CLIPBOARD_GRAB, build_clipboard_grab([CLIPBOARD_UTF8_TEXT], w.host.neg, 0, serial=1 << 20))
    a.expect(vdipc.S_CLIPBOARD_GRAB, skip=(vdipc.S_HOST_STATE,))
    a.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=CLIPBOARD_UTF8_TEXT)
    w.host.expect(MSG_CLIPBOARD_REQUEST, skip=(MSG_ANNOUNCE_CAPABILITIES,))
    w.daemon.events()
    # 64 MiB the agent will never read, then a mouse event behind it.
    data = build_clipboard(CLIPBOARD_UTF8_TEXT, b"s" * (64 << 20), w.host.neg, 0)
    wire = split_message(MSG_CLIPBOARD, data) + split_message(MSG_MOUSE_STATE, build_mouse_state(321, 0, 0, 0), port=2)
    t0 = time.monotonic()
    sender = threading.Thread(target=w.host.conn.sendall, args=(wire,))
    sender.start()
    time.sleep(3)
    assert sender.is_alive(), "the daemon kept reading the port although the agent is stuck"
    assert w.daemon.events() == [], "the mouse event overtook the stuck clipboard data"
    sender.join(timeout=30)
    assert not sender.is_alive(), "the port never flowed again"
    took = time.monotonic() - t0
    ev = w.daemon.events(want=2)
    assert ev and ev[-1] == (EV_SYN, SYN_REPORT, 0), ev
    assert 14 <= took <= 25, took
    assert "has not read its socket" in w.daemon.log_text()
    w.state.pop("agent", None)
    wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "stuck agent gone")
    moved(w, "agent_stalled", e0)


def test_host_not_reading(w):
    """A host that stops reading pauses the agents: an agent flooding grabs cannot grow the
    daemon's memory; once the host reads again, everything flows."""
    a = fresh_agent(w)
    rss0 = w.daemon.status("VmRSS")
    frame = vdipc.encode_frame(vdipc.SESSION, vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT])
    w.host.conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.sock.setblocking(False)
    sent = 0
    t_end = time.monotonic() + 4
    blob = frame * 1000
    pending = b""
    while time.monotonic() < t_end:
        if not pending:
            pending = blob
        try:
            k = a.sock.send(pending)
            pending = pending[k:]
            sent += k
        except BlockingIOError:
            time.sleep(0.05)
    a.sock.setblocking(True)
    rss1 = w.daemon.status("VmRSS")
    n_sent = sent // len(frame)
    print("# %d grabs sent while the host did not read; daemon RSS %d -> %d KiB" % (n_sent, rss0, rss1))
    assert n_sent < 200000, "the daemon kept reading the agent"
    assert w.daemon.sanitized() or rss1 - rss0 < 4 * 1024, (rss0, rss1)
    # The host reads again: grabs arrive (serials increasing) and the daemon answers a request.
    got = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            t, _ = w.host.recv_message(timeout=1)
        except TimeoutError:
            break
        got += t == MSG_CLIPBOARD_GRAB
    assert got > 0
    a.close()
    w.state.pop("agent", None)
    wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "agent gone")
    assert w.daemon.alive()


def rss_hwm_reset(w):
    # Writing 5 to clear_refs resets VmHWM to the current RSS.
    with open("/proc/%d/clear_refs" % w.daemon.pid, "w") as f:
        f.write("5")


def test_big_clipboard_host_to_guest(w):
    a = fresh_agent(w)
    w.host.send_message(MSG_CLIPBOARD_GRAB, build_clipboard_grab([CLIPBOARD_UTF8_TEXT], w.host.neg, 0, serial=0))
    a.expect(vdipc.S_CLIPBOARD_GRAB)
    a.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=CLIPBOARD_UTF8_TEXT)
    w.host.expect(MSG_CLIPBOARD_REQUEST)
    total = 256 * 1024 * 1024
    rss_hwm_reset(w)
    prefix = selection_prefix(w.host.neg, 0)
    head = build_message_header(MSG_CLIPBOARD, len(prefix) + 4 + total) + prefix + struct.pack("<I", 1)
    block = bytes(range(256)) * 8  # 2048
    w.host.conn.setblocking(True)
    got = 0
    sent_head = False
    import select as sel
    pending = b""
    remaining = total
    while got < total:
        if not sent_head:
            pending = build_chunk_header(1, len(head)) + head
            sent_head = True
        if not pending and remaining:
            n = 0
            parts = []
            while remaining and n < 64:
                k = min(2048, remaining)
                parts.append(build_chunk_header(1, k) + block[:k])
                remaining -= k
                n += 1
            pending = b"".join(parts)
        r, wr, _ = sel.select([a.sock], [w.host.conn] if pending else [], [], 10)
        if not r and not wr:
            raise AssertionError("stalled at %d bytes" % got)
        if wr:
            k = w.host.conn.send(pending)
            pending = pending[k:]
        if r:
            data = a.sock.recv(1 << 20)
            assert data
            for t, p in a.decoder.feed(data):
                if t == vdipc.S_CLIPBOARD_BEGIN:
                    assert vdipc.decode(vdipc.SESSION, t, p)["total"] == total
                elif t == vdipc.S_CLIPBOARD_DATA:
                    got += len(p) - 1
    hwm = w.daemon.status("VmHWM")
    print("# host->guest 256 MiB: daemon VmHWM %d KiB" % hwm)
    assert w.daemon.sanitized() or hwm < 16 * 1024, hwm


def test_big_clipboard_guest_to_host(w):
    a = w.state["agent"]
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT])
    w.host.expect(MSG_CLIPBOARD_GRAB)
    w.host.send_message(MSG_CLIPBOARD_REQUEST, build_clipboard_request(CLIPBOARD_UTF8_TEXT, w.host.neg, 0))
    a.expect(vdipc.S_CLIPBOARD_REQUEST)
    total = 256 * 1024 * 1024
    rss_hwm_reset(w)
    piece = vdipc.frame(vdipc.S_CLIPBOARD_DATA, b"\x00" + bytes(range(256)) * 256)  # 64 KiB
    a.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=CLIPBOARD_UTF8_TEXT, total=total)
    import select as sel
    sent = 0
    out = b""
    got = 0
    reader = GuestReassembler(max_message=1 << 31)
    host_pending = 0
    hdr = None
    seen = 0
    # Count payload bytes by parsing chunk headers ourselves (no reassembly in memory).
    buf = b""
    chunk_left = 0
    msg_header_needed = True
    while seen < total + 4 + len(selection_prefix(w.host.neg, 0)):
        if not out and sent < total:
            out = piece
            sent += 65536
        r, wr, _ = sel.select([w.host.conn], [a.sock] if out else [], [], 10)
        if not r and not wr:
            raise AssertionError("stalled at %d bytes" % seen)
        if wr:
            k = a.sock.send(out)
            out = out[k:]
        if r:
            data = w.host.conn.recv(1 << 20)
            assert data
            buf += data
            while True:
                if chunk_left == 0:
                    if len(buf) < 8:
                        break
                    port, size = struct.unpack_from("<II", buf)
                    assert port == 1 and size <= 2048
                    buf = buf[8:]
                    chunk_left = size
                    if msg_header_needed:
                        assert size >= 20
                k = min(chunk_left, len(buf))
                if k == 0:
                    break
                take = buf[:k]
                buf = buf[k:]
                chunk_left -= k
                if msg_header_needed:
                    proto, type_, _, msize = struct.unpack_from("<IIQI", take)
                    assert type_ == MSG_CLIPBOARD, type_
                    take = take[20:]
                    msg_header_needed = False
                seen += len(take)
    hwm = w.daemon.status("VmHWM")
    print("# guest->host 256 MiB: daemon VmHWM %d KiB" % hwm)
    assert w.daemon.sanitized() or hwm < 16 * 1024, hwm


# --- counters.errors in the status document (docs/vdagent-ctl.md), each provoked here ---

ERROR_KINDS = ("refused_not_owner", "refused_duplicate", "refused_limit", "refused_no_session", "agent_stalled",
               "unknown_type", "uinput_write", "xfer_refused", "dropped_no_agent", "unknown_display",
               "max_clipboard")


def daemon_status(w, d=None):
    c = vdipc.ControlClient(os.path.join((d or w.daemon).tmp, "control.sock"))
    try:
        return c.status()
    finally:
        c.close()


def errors(w, d=None):
    return daemon_status(w, d)["counters"]["errors"]


def moved(w, kind, before, by=1, d=None, timeout=3.0):
    """Waits until counters.errors[kind] is before[kind] + by; returns the errors object."""
    deadline = time.monotonic() + timeout
    while True:
        e = errors(w, d)
        if e[kind] == before[kind] + by:
            return e
        assert e[kind] < before[kind] + by and time.monotonic() < deadline, (kind, before[kind], e)
        time.sleep(0.05)


def test_errors_start_at_zero(w):
    e = errors(w)
    for kind in ERROR_KINDS:
        assert e[kind] == 0, (kind, e)
    w.state["errors0"] = e


def test_count_refused_duplicate(w):
    e0 = errors(w)
    test_second_agent_refused(w)
    e = moved(w, "refused_duplicate", e0)
    assert e["refused_agent"] == e0["refused_agent"] + 1, (e0, e)
    assert e["refused_limit"] == e0["refused_limit"] and e["refused_not_owner"] == e0["refused_not_owner"], e


def test_count_max_clipboard(w):
    e0 = errors(w)
    test_max_clipboard(w)
    moved(w, "max_clipboard", e0)


def test_count_xfer_refused(w):
    e0 = errors(w)
    test_file_transfer_limit(w)
    moved(w, "xfer_refused", e0)


def test_count_refused_limit(w):
    e0 = errors(w)
    test_connection_cap(w)
    moved(w, "refused_limit", e0, by=40 - 32 + (1 if "agent" in w.state else 0))


def test_count_refused_not_owner(w):
    """Once uid 64000 owns the display, another user is refused."""
    pin_display_owner(w)
    e0 = errors(w)
    r = run_as(64001, AGENT_AS_USER % w.daemon.socket)
    assert r.stdout.strip() == "refused %d" % vdipc.ERR_PERMISSION, r
    moved(w, "refused_not_owner", e0)
    e0 = errors(w)
    test_per_uid_cap(w)
    moved(w, "refused_limit", e0, by=2)


def test_count_dropped_no_agent(w):
    """With no agent: the host's MONITORS_CONFIG is answered by the daemon, FILE_XFER_START refused;
    neither reached an agent."""
    old = w.state.pop("agent", None)
    if old:
        old.close()
        wait_caps(w, lambda c: not c.has(CAP_CLIPBOARD_BY_DEMAND), "agent gone")
    deadline = time.monotonic() + 3
    while daemon_status(w)["agents"]:
        assert time.monotonic() < deadline, "the agent did not leave"
        time.sleep(0.05)
    e0 = errors(w)
    w.host.send_message(MSG_MONITORS_CONFIG, build_monitors_config([dict(width=1024, height=768)]))
    assert parse_reply(w.host.expect(MSG_REPLY, skip=(MSG_ANNOUNCE_CAPABILITIES,)))["error"] == REPLY_SUCCESS
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(4242, "nobody.txt", 1))
    st = parse_file_xfer_status(w.host.expect(MSG_FILE_XFER_STATUS, skip=(MSG_ANNOUNCE_CAPABILITIES,)))
    assert st["id"] == 4242 and st["result"] == XFER_VDAGENT_NOT_CONNECTED, st
    moved(w, "dropped_no_agent", e0, by=2)
    fresh_agent(w)


def test_count_unknown_type_and_display(w):
    e0 = errors(w)
    w.host.send_message(0x7ff0, b"a message of a later protocol")
    moved(w, "unknown_type", e0)
    w.host.send_message(MSG_MOUSE_STATE, build_mouse_state(5, 5, 0, 17), port=2)
    moved(w, "unknown_display", e0)
    e = errors(w)
    assert e["framing"] == e0["framing"] and e["bad_message"] == e0["bad_message"], (e0, e)


def test_count_uinput_write(w):
    """A device that refuses writes (/dev/full): each failed write is counted, the daemon lives."""
    h2 = TestHost(os.path.join(w.tmp, "port2.sock"))
    d2 = Vdagentd(h2.path, extra=("--uinput", "/dev/full"))
    d2.wait_socket(5)
    try:
        h2.accept(timeout=10)
        h2.expect(MSG_ANNOUNCE_CAPABILITIES)
        h2.negotiate(SPICE_GTK_CAPS)
        e0 = errors(w, d2)
        assert e0["uinput_write"] == 0, e0
        h2.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 10, 0, 0), port=2)
        moved(w, "uinput_write", e0, d=d2)
        h2.send_message(MSG_MOUSE_STATE, build_mouse_state(20, 20, 0, 0), port=2)
        moved(w, "uinput_write", e0, by=2, d=d2)
        assert d2.alive()
    finally:
        d2.stop()
        assert d2.returncode == 0, d2.log_text()
        d2.cleanup()
        h2.shutdown()


def test_host_grab_kept_until_agent(w):
    """QEMU 7.2's qemu-vdagent: its clipboard peer outlives a restart of the daemon, so it grabs while
    the new daemon announces no clipboard yet (no agent), in the format of those caps (no selection,
    no serial), and never repeats that grab once the clipboard is announced. The daemon keeps it for
    the agent that comes, which can then ask for the data; a release meanwhile is kept too."""
    h2 = TestHost(os.path.join(w.tmp, "port-qemu.sock"))
    d2 = Vdagentd(h2.path)
    d2.wait_socket(5)
    a = None
    try:
        h2.accept(timeout=10)
        first = parse_announce_caps(h2.expect(MSG_ANNOUNCE_CAPABILITIES))
        assert first["request"] and not first["caps"].has(CAP_CLIPBOARD_BY_DEMAND), first
        h2.announce_caps(QEMU_CAPS, request=False)  # QEMU answers request=1 only, with request=0
        h2.neg = first["caps"] & Caps(QEMU_CAPS)
        # a grab and its release with nobody there: nothing for the agent
        h2.send_message(MSG_CLIPBOARD_GRAB, build_clipboard_grab([CLIPBOARD_UTF8_TEXT], h2.neg))
        h2.send_message(MSG_CLIPBOARD_RELEASE, build_clipboard_release(h2.neg))
        a = FakeAgent(d2.socket)
        a.expect(vdipc.S_SESSION_STATE, skip=(vdipc.S_HOST_STATE,))
        try:
            t = a.expect(vdipc.S_CLIPBOARD_GRAB, 0.5, skip=(vdipc.S_HOST_STATE, vdipc.S_DEVICE_INFO))
            raise AssertionError("the agent got a released grab: %r" % (t,))
        except TimeoutError:
            pass
        a.close()
        parse_announce_caps(h2.expect(MSG_ANNOUNCE_CAPABILITIES))  # clipboard announced
        caps = parse_announce_caps(h2.expect(MSG_ANNOUNCE_CAPABILITIES))  # and withdrawn
        assert not caps["caps"].has(CAP_CLIPBOARD_BY_DEMAND), caps
        # the grab that matters: before the agent, never repeated after
        h2.send_message(MSG_CLIPBOARD_GRAB, build_clipboard_grab([CLIPBOARD_UTF8_TEXT], h2.neg))
        time.sleep(0.2)
        a = FakeAgent(d2.socket)
        g = a.expect(vdipc.S_CLIPBOARD_GRAB, skip=(vdipc.S_HOST_STATE, vdipc.S_SESSION_STATE, vdipc.S_DEVICE_INFO))
        assert g["selection"] == SELECTION_CLIPBOARD and g["types"] == [CLIPBOARD_UTF8_TEXT], g
        caps = parse_announce_caps(h2.expect(MSG_ANNOUNCE_CAPABILITIES))
        assert caps["caps"].has(CAP_CLIPBOARD_BY_DEMAND) and not caps["request"], caps
        h2.neg = caps["caps"] & Caps(QEMU_CAPS)
        a.send(vdipc.S_CLIPBOARD_REQUEST, selection=SELECTION_CLIPBOARD, type=CLIPBOARD_UTF8_TEXT)
        q = parse_clipboard_request(h2.expect(MSG_CLIPBOARD_REQUEST), h2.neg)
        assert q == dict(selection=SELECTION_CLIPBOARD, type=CLIPBOARD_UTF8_TEXT), q
        h2.send_message(MSG_CLIPBOARD, build_clipboard(CLIPBOARD_UTF8_TEXT, b"kept", h2.neg))
        # (a HOST_STATE with the new negotiated set may come first)
        b = a.expect(vdipc.S_CLIPBOARD_BEGIN, skip=(vdipc.S_HOST_STATE,))
        assert b["total"] == 4, b
        assert a.expect(vdipc.S_CLIPBOARD_DATA)["data"] == b"kept"
    finally:
        if a:
            a.close()
        d2.stop()
        assert d2.returncode == 0, d2.log_text()
        d2.cleanup()
        h2.shutdown()


# VD_SESSION_FEATURE_* (docs/protocols.md, "Session features").
F_CLIPBOARD, F_MONITORS, F_FILES, F_LAYOUT = 1, 2, 4, 8
CLIPBOARD_CAPS = (CAP_CLIPBOARD_BY_DEMAND, CAP_CLIPBOARD_SELECTION, CAP_CLIPBOARD_GRAB_SERIAL, CAP_MAX_CLIPBOARD,
                  CAP_GUEST_LINEEND_LF)


def agent_with_features(w, features):
    """Replaces the agent by one announcing features; returns it and the caps then announced."""
    old = w.state.pop("agent", None)
    if old:
        old.close()
    deadline = time.monotonic() + 3
    while daemon_status(w)["agents"]:
        assert time.monotonic() < deadline, "the agent did not leave"
        time.sleep(0.05)
    host_drain_all(w)
    a = FakeAgent(w.daemon.socket, features=features)
    a.expect(vdipc.S_HOST_STATE)
    a.expect(vdipc.S_SESSION_STATE, skip=(vdipc.S_HOST_STATE,))
    drain_agent(a, (vdipc.S_MONITORS_CONFIG, vdipc.S_DEVICE_INFO, vdipc.S_CLIPBOARD_GRAB, vdipc.S_HOST_STATE))
    deadline = time.monotonic() + 3
    while True:
        st = daemon_status(w)
        if st["agents"] and st["agents"][0]["state"] == "ready" and st["agents"][0]["active"]:
            break
        assert time.monotonic() < deadline, st["agents"]
        time.sleep(0.05)
    host_drain_all(w)
    return a, st


def host_drain_all(w):
    try:
        while True:
            w.host.recv_message(0.3)
    except (TimeoutError, WireError):
        pass


def ours(st):
    return set(st["caps"]["ours"])


def cap_name(cap):
    return next(k[4:] for k, v in globals().items() if k.startswith("CAP_") and v == cap and k != "CAP_END")


def test_features_files_only(w):
    """An agent without clipboard and monitors: no clipboard caps for the host, the daemon answers
    MONITORS_CONFIG itself and the agent never sees one; files still work."""
    a, st = agent_with_features(w, F_FILES)
    assert st["agents"][0]["features"] == ["files"], st["agents"]
    caps = ours(st)
    assert not caps & {cap_name(c) for c in CLIPBOARD_CAPS}, caps
    assert {"FILE_XFER_DETAILED_ERRORS", "MONITORS_CONFIG", "MOUSE_STATE"} <= caps, caps
    assert "FILE_XFER_DISABLED" not in caps, caps
    w.host.send_message(MSG_MONITORS_CONFIG, build_monitors_config([dict(width=800, height=600)]))
    assert parse_reply(w.host.expect(MSG_REPLY, skip=(MSG_ANNOUNCE_CAPABILITIES,)))["error"] == REPLY_SUCCESS
    t, m = drain_agent(a, (vdipc.S_HOST_STATE,))
    assert t != vdipc.S_MONITORS_CONFIG, "an agent without the monitors feature got MONITORS_CONFIG"
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(5150, "f.txt", 1))
    assert a.expect(vdipc.S_XFER_START, skip=(vdipc.S_HOST_STATE,))["id"] == 5150
    w.host.send_message(MSG_FILE_XFER_STATUS, build_file_xfer_status(5150, XFER_CANCELLED))
    a.expect(vdipc.S_XFER_CANCEL, skip=(vdipc.S_HOST_STATE,))
    w.state["agent"] = a


def test_features_clipboard_only(w):
    """An agent without files: FILE_XFER_DISABLED announced, a transfer refused with DISABLED."""
    a, st = agent_with_features(w, F_CLIPBOARD)
    assert st["agents"][0]["features"] == ["clipboard"], st["agents"]
    caps = ours(st)
    assert {cap_name(c) for c in CLIPBOARD_CAPS} <= caps, caps
    assert "FILE_XFER_DISABLED" in caps and "FILE_XFER_DETAILED_ERRORS" not in caps, caps
    w.host.send_message(MSG_FILE_XFER_START, build_file_xfer_start(5151, "f.txt", 1))
    st = parse_file_xfer_status(w.host.expect(MSG_FILE_XFER_STATUS, skip=(MSG_ANNOUNCE_CAPABILITIES,)))
    assert st["id"] == 5151 and st["result"] == XFER_DISABLED, st
    w.state["agent"] = a


def test_features_zero_is_everything(w):
    """An agent from before session protocol 1.1 (features 0) is taken to do everything."""
    a, st = agent_with_features(w, 0)
    assert st["agents"][0]["features"] == ["clipboard", "monitors", "files", "layout"], st["agents"]
    caps = ours(st)
    assert {cap_name(c) for c in CLIPBOARD_CAPS} <= caps and "FILE_XFER_DISABLED" not in caps, caps
    w.state["agent"] = a
    a.close()
    w.state.pop("agent")
    fresh_agent(w)


tests = [
    ("an agent connects: HOST_STATE, SESSION_STATE, clipboard caps announced", test_agent_connects),
    ("errors: every counter starts at 0", test_errors_start_at_zero),
    ("the agent's HOST_STATE follows a change of our own caps", test_host_state_follows_our_caps),
    ("a second agent is refused with ERROR(LIMIT)", test_second_agent_refused),
    ("errors: refused_duplicate", test_count_refused_duplicate),
    ("clipboard guest -> host with grab serials", test_clipboard_guest_to_host),
    ("clipboard release guest -> host", test_clipboard_release_to_host),
    ("clipboard host -> guest, stale grab dropped", test_clipboard_host_to_guest),
    ("requests for what the other side does not hold", test_request_without_grab),
    ("MAX_CLIPBOARD enforced for guest data", test_max_clipboard),
    ("errors: max_clipboard", test_count_max_clipboard),
    ("MONITORS_CONFIG to the agent, REPLY after its result", test_monitors_config_reply),
    ("MONITORS_CONFIG REPLY(ERROR) on timeout", test_monitors_config_timeout),
    ("the agent's layout drives the pointer", test_agent_layout_drives_pointer),
    ("GRAPHICS_DEVICE_INFO forwarded", test_device_info_forwarded),
    ("file transfer routed both ways, stale ids ignored", test_file_transfer),
    ("file transfer cancelled by the host, duplicate START ignored", test_file_transfer_cancel_by_host),
    ("64 transfers at most; client disconnect cancels them", test_file_transfer_limit),
    ("errors: xfer_refused", test_count_xfer_refused),
    ("agent crash mid-transfer", test_agent_crash_mid_transfer),
    ("agent crash mid-clipboard reopens the port", test_agent_crash_mid_clipboard),
    ("malformed frame: ERROR(BAD_FRAME) and closed", test_malformed_frame),
    ("oversized frame: ERROR(BAD_FRAME) and closed", test_oversized_frame),
    ("no HELLO first, wrong version", test_bad_hello),
    ("HELLO deadline", test_hello_deadline),
    ("connection cap", test_connection_cap),
    ("errors: refused_limit (connection cap)", test_count_refused_limit),
    ("256 MiB clipboard host -> guest under 16 MiB peak RSS", test_big_clipboard_host_to_guest),
    ("256 MiB clipboard guest -> host under 16 MiB peak RSS", test_big_clipboard_guest_to_host),
    ("tracking none: only root and the pinned display owner", test_tracking_none_uid_policy),
    ("at most 4 connections per user", test_per_uid_cap),
    ("errors: refused_not_owner, refused_limit (per user)", test_count_refused_not_owner),
    ("a stuck agent stops the port, then is dropped; errors: agent_stalled", test_stuck_agent_is_dropped),
    ("a host that does not read pauses the agents", test_host_not_reading),
    ("errors: dropped_no_agent (MONITORS_CONFIG, FILE_XFER_START)", test_count_dropped_no_agent),
    ("errors: unknown_type, unknown_display", test_count_unknown_type_and_display),
    ("errors: uinput_write with a device that refuses writes", test_count_uinput_write),
    ("a host grab with no agent (QEMU after a restart) is kept for the next agent", test_host_grab_kept_until_agent),
    ("features: files only: no clipboard caps, monitors answered by the daemon", test_features_files_only),
    ("features: clipboard only: FILE_XFER_DISABLED, transfers refused", test_features_clipboard_only),
    ("features: 0 (a 1.0 agent) means every feature", test_features_zero_is_everything),
]


def run_case(fn):
    """fn(w) in a World of its own, then the daemon must exit cleanly on SIGTERM with no critical line
    (a bug: tests/lib/daemon.py, criticals()) in its log; after a failure
    the tail of its log goes out as TAP comments."""
    w = World()
    try:
        try:
            fn(w)
        except BaseException:
            w.close()
            for line in w.daemon.log_text().splitlines()[-60:]:
                print("# log: " + line)
            raise
        rc = w.close()
        assert rc == 0, "vdagentd's exit status on SIGTERM: %r" % rc
        assert not w.daemon.criticals(), w.daemon.criticals()
    finally:
        shutil.rmtree(w.tmp, ignore_errors=True)


def main():
    tap = Tap()
    for name, fn in tests:
        tap.run(name, run_case, fn)
    tap.finish()


if __name__ == "__main__":
    main()
