#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vdagent-ctl against the real vdagentd: a test host on the daemon's port, a fake session agent
(--session-tracking none), --fake-uinput to a file, and the real vdagent-ctl binary.

Status (plain and JSON, against docs/vdagent-ctl.md), sessions, caps, the live monitor (plain, --hex,
--json), each injection's effect (pointer events, MONITORS_CONFIG and its REPLY, clipboard both
ways), exit codes (not running, permission by SO_PEERCRED, version mismatch, usage, protocol,
timeout), the control socket's limits, and a monitor that stops reading while 20 000 mouse events
go through."""
import json
import os
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

from daemon import *  # noqa: E402,F401
import vdipc  # noqa: E402
from vdipc import ControlClient, FakeAgent, PeerError  # noqa: E402
from vdwire import *  # noqa: E402,F401
from vdtest import Tap, diag, sanitized, wait_for  # noqa: E402

CTL = os.environ.get("VDAGENT_CTL") or os.path.join(os.environ.get("VD_BUILD_ROOT", "build"), "src", "ctl",
                                                    "vdagent-ctl")
SOURCE = os.environ.get("VD_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
COMPLETION = os.path.join(SOURCE, "src", "ctl", "vdagent-ctl.bash")
# Under ASan freed memory sits in quarantine: RSS says nothing about what the daemon holds.
SANITIZED = sanitized(VDAGENTD)

if os.geteuid() != 0:
    # The control socket is root only, which is the point of several cases.
    print("1..0 # SKIP needs root (the control socket is root only)")
    sys.exit(0)

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-ctl-test-")
os.chmod(tmp, 0o755)  # the permission test runs vdagent-ctl as nobody: it must reach the socket
host = TestHost(os.path.join(tmp, "port.sock"))
daemon = Vdagentd(host.path, tmp)
daemon.wait_socket(5)
CONTROL = os.path.join(tmp, "control.sock")
host.accept(timeout=10)
host.expect(MSG_ANNOUNCE_CAPABILITIES)
host.negotiate(SPICE_GTK_CAPS)
agent = FakeAgent(daemon.socket)


def drain(conn, timeout=0.3):
    """Everything conn has to say within timeout, as (type, message) pairs."""
    out = []
    try:
        while True:
            out.append(conn.recv(timeout))
    except TimeoutError:
        return out


def host_drain(timeout=0.3):
    out = []
    try:
        while True:
            out.append(host.recv_message(timeout))
    except (TimeoutError, WireError):
        return out


def ctl(*args, control=CONTROL, timeout=20, preexec=None, prefix=()):
    """Runs the real vdagent-ctl -> (exit code, stdout, stderr)."""
    argv = list(prefix) + [CTL] + (["--control", control] if control else []) + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)
    return p.returncode, p.stdout, p.stderr


def ctl_ok(*args):
    rc, out, err = ctl(*args)
    assert rc == 0, (args, rc, out, err)
    return out


def status():
    return json.loads(ctl_ok("status", "--json"))


def settle():
    """The agent's welcome (HOST_STATE, SESSION_STATE, …) is consumed, and the daemon's caps
    re-announcement (clipboard caps, now that an agent is there) sets what the host negotiated."""
    time.sleep(0.3)
    drain(agent, 0.2)
    for t, payload in host_drain(0.3):
        if t == MSG_ANNOUNCE_CAPABILITIES:
            host.neg = parse_announce_caps(payload)["caps"] & Caps(SPICE_GTK_CAPS)
    assert host.neg.has(CAP_CLIPBOARD_GRAB_SERIAL), host.neg


settle()


# --- status, sessions, caps ---

def aligned(block):
    """Within each run of `name  value` lines at one indentation, the values start in one column."""
    runs, cur, cur_indent = [], [], None
    for line in block.splitlines():
        m = re.match(r"^( *)(\S+)( {2,})(\S.*)$", line)
        if not m or line.rstrip().endswith(":") or m.group(2).isupper():
            if cur:
                runs.append(cur)
            cur, cur_indent = [], None
            continue
        indent = len(m.group(1))
        if indent != cur_indent and cur:
            runs.append(cur)
            cur = []
        cur_indent = indent
        cur.append(len(m.group(1)) + len(m.group(2)) + len(m.group(3)))
    if cur:
        runs.append(cur)
    for r in runs:
        assert len(set(r)) == 1, (r, block)
    return len(runs)


def test_status_plain():
    out = ctl_ok("status")
    # The answer to "why doesn't my clipboard work?" first.
    assert out.startswith("clipboard: working: the session agent for the display (pid %d)\n\n" % agent_pid()), out
    assert "\n  path        %s\n" % host.path in out, out
    assert re.search(r"^  open +yes$", out, re.M), out
    assert re.search(r"^  since +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\)$", out, re.M), out
    assert re.search(r"^  reopens +0$", out, re.M), out
    assert re.search(r"^  client_connected +yes$", out, re.M), out
    for cap in ("MOUSE_STATE", "CLIPBOARD_GRAB_SERIAL", "SPARSE_MONITORS_CONFIG"):
        assert cap in out, (cap, out)
    assert re.search(r"^  negotiated +MOUSE_STATE ", out, re.M), out
    # The agent as a table row; counters per type as a table; error kinds.
    assert re.search(r"^  SESSION +PID +UID +STATE +ACTIVE", out, re.M), out
    assert re.search(r"^  none +%d +0 +ready +yes" % agent_pid(), out, re.M), out
    assert re.search(r"^    TYPE +MESSAGES +BYTES$", out, re.M), out
    assert re.search(r"^    ANNOUNCE_CAPABILITIES +\d+ +\d+$", out, re.M), out
    assert re.search(r"^    framing +0$", out, re.M), out
    assert re.search(r"^  device +vdagent paravirtual tablet$", out, re.M), out
    assert "DISPLAY_ID" in out and "session_tracking  none" in out, out
    assert aligned(out) >= 5
    # Table columns line up: each row's cells start where the titles do.
    lines = out.splitlines()
    i = next(n for n, l in enumerate(lines) if l.strip().startswith("SESSION "))
    starts = [m.start() for m in re.finditer(r"\S+", lines[i])]
    row = lines[i + 1]
    for s in starts:
        assert row[s] != " " and (s == 0 or row[s - 1] == " "), (lines[i], row)
    assert max(len(l) for l in lines) <= 120, max(lines, key=len)


def test_status_port_never_opened():
    """A daemon whose port is not there yet: the verdict names the port and why; no epoch date;
    empty counters are not a table. Then the port appears: open, and the old error is gone."""
    d = tempfile.mkdtemp(prefix="vd-ctl-noport-", dir=tmp)
    port = os.path.join(d, "port.sock")
    other = Vdagentd(port, d)
    other.wait_socket(5)
    control = os.path.join(d, "control.sock")
    late = None
    try:
        wait_for_path(control)
        rc, out, err = ctl("status", control=control)
        assert rc == 0, (rc, out, err)
        lines = out.splitlines()
        assert lines[0] == 'clipboard: unavailable: the agent port "%s" is not open: cannot open: No such file ' \
            'or directory' % port and lines[1] == "", out
        assert re.search(r"^  since +-$", out, re.M) and "1970" not in out, out
        assert re.search(r"^  host_to_guest +none$", out, re.M), out
        # (The verdict holds a path: only the rendering below it is bounded.)
        assert max(len(l) for l in lines[2:]) <= 100 and "FRAMING" not in out, max(lines[2:], key=len)
        st = json.loads(ctl("status", "--json", control=control)[1])
        assert st["port"]["since"] is None and st["port"]["open"] is False, st["port"]
        assert st["port"]["last_error"] == "cannot open: No such file or directory", st["port"]
        late = TestHost(port)
        late.accept(timeout=10)

        def opened():
            p = json.loads(ctl("status", "--json", control=control)[1])["port"]
            return p if p["open"] else None
        p = wait_for(opened, 10.0, 0.05, "the port open")
        assert p["last_error"] is None and abs(p["since"] - time.time()) < 60, p
        rc, out, err = ctl("status", control=control)
        assert out.startswith("clipboard: unavailable: the host has not announced its capabilities yet\n"), out
    finally:
        other.stop()
        if late:
            late.shutdown()


def wait_for_path(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "no %s" % path
        time.sleep(0.02)


def agent_pid():
    return os.getpid()


TYPES = {"string": str, "int": int, "float": (float, int), "bool": bool, "object": dict, "array": list,
         "string|null": (str, type(None)), "object|null": (dict, type(None)), "float|null": (float, int, type(None))}

# What docs/vdagent-ctl.md promises, member by member.
SHAPE = {
    "version": "string", "pid": "int", "uptime": "float", "port": "object", "host": "object", "caps": "object",
    "mouse": "object", "session_tracking": "string", "sessions": "array", "agents": "array",
    "transfers": "array", "qga": "object|null", "counters": "object", "control": "object",
}
PORT = {"path": "string", "open": "bool", "since": "float|null", "reopens": "int", "last_error": "string|null"}
HOST = {"client_connected": "bool", "max_clipboard": "int", "clipboard": "object"}
MOUSE = {"device": "string", "event_node": "string|null", "fake": "bool", "layout_source": "string",
         "layout": "array", "events": "int", "input_events": "int", "writes": "int"}
AGENT = {"session": "string", "pid": "int", "uid": "int", "state": "string", "active": "bool", "features": "array",
         "software": "string", "queued": "int"}
CONTROL_MEMBERS = {"path": "string", "clients": "int", "watching": "int", "accepted": "int", "refused": "int",
                   "traces": "int", "traces_dropped": "int"}


def check_shape(obj, shape, where):
    for name, kind in shape.items():
        assert name in obj, "%s: no member %r in %r" % (where, name, obj)
        assert isinstance(obj[name], TYPES[kind]) and not (kind in ("int", "float") and isinstance(
            obj[name], bool)), "%s.%s: %r is not %s" % (where, name, obj[name], kind)


def test_status_json():
    st = status()
    check_shape(st, SHAPE, "status")
    assert st["pid"] == daemon.pid, st["pid"]
    check_shape(st["port"], PORT, "port")
    assert st["port"]["path"] == host.path and st["port"]["open"] is True and st["port"]["reopens"] == 0
    assert abs(st["port"]["since"] - time.time()) < 60, st["port"]
    check_shape(st["host"], HOST, "host")
    assert st["host"]["client_connected"] is True
    for k in ("ours", "host", "negotiated"):
        assert isinstance(st["caps"][k], list) and all(isinstance(c, str) for c in st["caps"][k]), st["caps"]
    assert set(st["caps"]["negotiated"]) == set(st["caps"]["ours"]) & set(st["caps"]["host"]), st["caps"]
    assert set(st["caps"]["host"]) == {CAP_NAMES[b] for b in range(CAP_END) if SPICE_GTK_CAPS >> b & 1}
    check_shape(st["mouse"], MOUSE, "mouse")
    assert st["mouse"]["fake"] is True and st["mouse"]["event_node"] is None
    assert st["mouse"]["layout_source"] in ("agent", "host", "framebuffer", "default"), st["mouse"]
    for d in st["mouse"]["layout"]:
        check_shape(d, {"display_id": "int", "x": "int", "y": "int", "width": "int", "height": "int"}, "layout")
    assert st["session_tracking"] == "none" and st["sessions"] == []
    assert len(st["agents"]) == 1, st["agents"]
    check_shape(st["agents"][0], AGENT, "agents[0]")
    assert st["agents"][0]["software"] == "fake-agent" and st["agents"][0]["active"] is True
    assert st["qga"] is None  # --qga-port none
    for d in ("host_to_guest", "guest_to_host"):
        for name, c in st["counters"][d].items():
            assert name in MSG_NAME_SET, name
            check_shape(c, {"messages": "int", "bytes": "int"}, "counters.%s.%s" % (d, name))
    assert st["counters"]["host_to_guest"]["ANNOUNCE_CAPABILITIES"]["messages"] >= 1
    for kind in ("framing", "bad_message", "agent_protocol", "refused_agent"):
        assert isinstance(st["counters"]["errors"][kind], int), st["counters"]["errors"]
    check_shape(st["control"], CONTROL_MEMBERS, "control")
    assert st["control"]["path"] == CONTROL and st["control"]["clients"] == 1, st["control"]


def documented_members():
    """docs/vdagent-ctl.md's status table: member -> the text of its row."""
    with open(os.path.join(SOURCE, "docs", "vdagent-ctl.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## The status document", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([a-z_]+)` \| ([^|]+) \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = m.group(3)
    return rows


def test_status_matches_docs():
    """Every member the daemon sends is documented, and every documented member is sent."""
    st = status()
    rows = documented_members()
    assert list(rows) == list(st), ("documented", list(rows), "sent", list(st))
    for name, value in st.items():
        subs = set()
        if isinstance(value, dict):
            subs = set(value)
            if name == "counters":
                subs = {"host_to_guest", "guest_to_host", "errors"} | set(value["errors"])
            if name == "host":
                subs |= set(value["clipboard"])
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            subs = set(value[0])
        for sub in subs:
            assert "`%s`" % sub in rows[name], "member %s.%s is not documented" % (name, sub)
    for sub in ("display_id", "width"):
        assert "`%s`" % sub in rows["mouse"] or sub in rows["mouse"], sub


CAP_NAMES = {v: k[4:] for k, v in dict(globals()).items() if k.startswith("CAP_") and k != "CAP_END"}
MSG_NAME_SET = {k[4:] for k, v in dict(globals()).items() if k.startswith("MSG_") and isinstance(v, int)}


def test_sessions_and_caps():
    j = json.loads(ctl_ok("sessions", "--json"))
    assert set(j) == {"session_tracking", "sessions", "agents"}, j
    assert j["agents"][0]["software"] == "fake-agent"
    out = ctl_ok("sessions")
    assert "session_tracking  none" in out and "fake-agent" in out and "caps:" not in out, out
    c = json.loads(ctl_ok("caps", "--json"))
    assert set(c) == {"caps"} and set(c["caps"]) == {"ours", "host", "negotiated"}, c
    out = ctl_ok("caps")
    assert re.search(r"^  ours +MOUSE_STATE", out, re.M) and "agents:" not in out, out
    aligned(out)


# --- monitor ---

class Monitor:
    """vdagent-ctl monitor as a subprocess; lines collected by a thread."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([CTL, "--control", CONTROL, "monitor"] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        # Tracing is on once the daemon counts a watcher.
        deadline = time.monotonic() + 5
        while status()["control"]["watching"] < 1:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.proc.stderr.read()
            time.sleep(0.05)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pred, what, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if pred(line):
                    return line
            time.sleep(0.05)
        raise AssertionError("no %s in monitor output:\n%s" % (what, "\n".join(self.lines)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(5)
        self.thread.join(5)
        err = self.proc.stderr.read()
        assert rc == 0, (rc, err)
        return err


def drive_traffic():
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(321, 123, BUTTON_LEFT, 0), port=PORT_SERVER)
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(321, 123, 0, 0), port=PORT_SERVER)
    host.send_message(MSG_CLIPBOARD_GRAB, build_clipboard_grab([CLIPBOARD_UTF8_TEXT], host.neg, 0,
                                                               serial=next_serial()))
    g = agent.expect(vdipc.S_CLIPBOARD_GRAB, skip=(vdipc.S_HOST_STATE,))
    assert g == {"selection": 0, "types": [CLIPBOARD_UTF8_TEXT]}, g
    daemon.events(want=1)


serial = [100]


def next_serial():
    serial[0] += 1
    return serial[0]


def test_monitor_plain():
    with Monitor() as m:
        monitor_plain(m)
    assert status()["control"]["watching"] == 0


def monitor_plain(m):
    drive_traffic()
    line = m.wait_for(lambda l: "MOUSE_STATE" in l and "x=321" in l, "host MOUSE_STATE")
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{6} host→guest +port 2 +MOUSE_STATE +\d+ B  .*x=321 y=123", line), line
    assert "LEFT" in line and "display=0" in line, line
    line = m.wait_for(lambda l: "CLIPBOARD_GRAB" in l and "host→guest" in l, "host CLIPBOARD_GRAB")
    assert "UTF8_TEXT" in line and "port 1" in line, line
    line = m.wait_for(lambda l: "to-agent" in l and "CLIPBOARD_GRAB" in l, "CLIPBOARD_GRAB to the agent")
    assert re.search(r"to-agent +session none +CLIPBOARD_GRAB +\d+ B  CLIPBOARD UTF8_TEXT$", line), line
    # The agent's side too, and what the daemon makes of it for the host.
    agent.send(vdipc.S_CLIPBOARD_GRAB, selection=1, types=[CLIPBOARD_UTF8_TEXT, CLIPBOARD_IMAGE_PNG])
    line = m.wait_for(lambda l: "from-agent" in l and "CLIPBOARD_GRAB" in l, "GRAB from the agent")
    assert line.endswith("PRIMARY UTF8_TEXT IMAGE_PNG"), line
    line = m.wait_for(lambda l: "guest→host" in l and "CLIPBOARD_GRAB" in l, "GRAB to the host")
    assert "PRIMARY" in line and "UTF8_TEXT" in line and "port 1" in line, line
    agent.send(vdipc.S_CLIPBOARD_RELEASE, selection=1)
    m.wait_for(lambda l: "from-agent" in l and "CLIPBOARD_RELEASE" in l, "RELEASE from the agent")
    m.wait_for(lambda l: "guest→host" in l and "CLIPBOARD_RELEASE" in l, "RELEASE to the host")
    host_drain()
    # Columns line up: the size column ends in the same place on every line.
    ends = {l.index(" B  ") for l in m.lines if " B  " in l}
    assert len(ends) == 1, m.lines
    assert not any(re.match(r"^ +0000 ", l) for l in m.lines), m.lines  # no bytes without --hex
    m.stop()


def test_monitor_hex():
    with Monitor("--hex") as m:
        monitor_hex(m)


def monitor_hex(m):
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(0x41, 0x42, 0, 0), port=PORT_SERVER)
    m.wait_for(lambda l: "MOUSE_STATE" in l and "x=65" in l, "MOUSE_STATE")
    # MOUSE_STATE payload: x u32, y u32, buttons u32, display u8.
    dump = m.wait_for(lambda l: l.startswith("    0000 "), "hex dump")
    assert dump.split()[1:14] == "41 00 00 00 42 00 00 00 00 00 00 00 00".split(), dump
    m.stop()
    daemon.events(want=1)


def test_monitor_json():
    with Monitor("--json") as m:
        monitor_json(m)
    with Monitor("--json", "--hex") as m:
        monitor_json_hex(m)


def monitor_json(m):
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(77, 88, BUTTON_RIGHT, 0), port=PORT_SERVER)
    line = m.wait_for(lambda l: '"MOUSE_STATE"' in l, "MOUSE_STATE record")
    r = json.loads(line)
    assert set(r) == {"time_us", "direction", "port", "peer", "type", "size", "summary"}, r
    assert r["direction"] == "HOST_TO_GUEST" and r["port"] == 2 and r["peer"] == "" and r["size"] == 13, r
    assert "x=77" in r["summary"] and abs(r["time_us"] / 1e6 - time.time()) < 60, r
    m.stop()
    for l in m.lines:
        json.loads(l)


def monitor_json_hex(m):
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(78, 88, 0, 0), port=PORT_SERVER)
    r = json.loads(m.wait_for(lambda l: '"MOUSE_STATE"' in l, "MOUSE_STATE record"))
    assert r["bytes"] == "4e000000580000000000000000", r
    m.stop()
    daemon.events(want=2)


# --- injection ---

def abs_of(events):
    return {c: v for t, c, v in events if t == EV_ABS}


def keys_of(events):
    return [(c, v) for t, c, v in events if t == EV_KEY]


def test_inject_mouse():
    st = status()["mouse"]
    assert st["layout_source"] == "default", st
    w, h = st["layout"][0]["width"], st["layout"][0]["height"]
    daemon.events()
    ctl_ok("mouse", "200", "100", "--display", "0", "--buttons", "left")
    ev = daemon.events(want=4)
    a = abs_of(ev)
    assert pixel(a[ABS_X], w) == 200 and pixel(a[ABS_Y], h) == 100, (ev, w, h)
    assert keys_of(ev) == [(BTN_LEFT, 1)], ev
    assert ev[-1] == (EV_SYN, SYN_REPORT, 0), ev
    ctl_ok("mouse", "200", "100")
    ev = daemon.events(want=2)
    assert keys_of(ev) == [(BTN_LEFT, 0)] and not abs_of(ev), ev
    # The same code path as the host's: the host's identical message gives identical records.
    ctl_ok("mouse", "10", "10", "--buttons", "right,middle")
    ctl_ok("mouse", "10", "10")
    daemon.events(want=4)
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(200, 100, BUTTON_LEFT, 0), port=PORT_SERVER)
    from_host = daemon.events(want=4)
    ctl_ok("mouse", "10", "10")
    daemon.events(want=2)
    ctl_ok("mouse", "200", "100", "--buttons", "left")
    from_ctl = daemon.events(want=4)
    assert from_host == from_ctl, (from_host, from_ctl)
    ctl_ok("mouse", "200", "100")
    daemon.events(want=2)
    st = status()
    assert st["counters"]["host_to_guest"]["MOUSE_STATE"]["messages"] >= 1
    # Every record the test read from the fake device is counted, in fewer writes than records.
    assert st["mouse"]["input_events"] == daemon.events_read, (st["mouse"], daemon.events_read)
    assert 0 < st["mouse"]["writes"] < st["mouse"]["input_events"], st["mouse"]


def test_inject_mouse_layout():
    # With the agent's two-display layout, --display 1 lands on the second display.
    agent.send(vdipc.S_LAYOUT, screen_width=1824, screen_height=768, displays=[
        dict(display_id=0, x=0, y=0, width=1024, height=768),
        dict(display_id=1, x=1024, y=0, width=800, height=600)])
    deadline = time.monotonic() + 3
    while status()["mouse"]["layout_source"] != "agent":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    daemon.events()
    ctl_ok("mouse", "100", "50", "--display", "1", "--buttons", "left,right")
    ev = daemon.events(want=5)
    a = abs_of(ev)
    assert pixel(a[ABS_X], 1824) == 1124 and pixel(a[ABS_Y], 768) == 50, ev
    assert sorted(keys_of(ev)) == [(BTN_LEFT, 1), (BTN_RIGHT, 1)], ev
    ctl_ok("mouse", "100", "50", "--display", "1")
    daemon.events(want=3)
    st = status()["mouse"]
    assert [d["display_id"] for d in st["layout"]] == [0, 1] and st["layout"][1]["x"] == 1024, st


def test_status_agent_counters_and_mouse_last():
    """counters.to_agent/from_agent by session message type, agents[].features as names, and
    mouse.last with the axis values of the last MOUSE_STATE; all documented."""
    st = status()
    rows = documented_members()
    for d in ("to_agent", "from_agent"):
        assert "`%s`" % d in rows["counters"], d
        assert st["counters"][d], (d, st["counters"][d])
        for name, c in st["counters"][d].items():
            assert name in SESSION_NAME_SET or name == "UNKNOWN", (d, name)
            check_shape(c, {"messages": "int", "bytes": "int"}, "counters.%s.%s" % (d, name))
    # Each side's HELLO (the daemon's 17-byte software string and up), then the welcome.
    assert st["counters"]["from_agent"]["HELLO"]["messages"] >= 1, st["counters"]["from_agent"]
    assert st["counters"]["to_agent"]["HOST_STATE"]["messages"] >= 1, st["counters"]["to_agent"]
    before = st["counters"]["from_agent"].get("LAYOUT", {"messages": 0, "bytes": 0})
    layout = dict(screen_width=1024, screen_height=768, displays=[dict(display_id=0, x=0, y=0, width=1024,
                                                                       height=768)])
    agent.send(vdipc.S_LAYOUT, **layout)
    deadline = time.monotonic() + 3
    while status()["counters"]["from_agent"].get("LAYOUT", {"messages": 0})["messages"] == before["messages"]:
        assert time.monotonic() < deadline, "LAYOUT not counted"
        time.sleep(0.05)
    after = status()["counters"]["from_agent"]["LAYOUT"]
    # LAYOUT with one display: 12 + 20 bytes of payload (docs/protocols.md).
    assert after == {"messages": before["messages"] + 1, "bytes": before["bytes"] + 32}, (before, after)
    assert "`last`" in rows["mouse"] and "`features`" in rows["agents"]
    assert st["agents"][0]["features"] == ["clipboard", "monitors", "files", "layout"], st["agents"]
    ctl_ok("mouse", "300", "200", "--display", "0", "--buttons", "left")
    ctl_ok("mouse", "300", "200", "--display", "0")
    last = status()["mouse"]["last"]
    check_shape(last, {"x": "int", "y": "int", "buttons": "int", "display_id": "int", "axis_x": "int",
                       "axis_y": "int"}, "mouse.last")
    assert (last["x"], last["y"], last["buttons"], last["display_id"]) == (300, 200, 0, 0), last
    assert pixel(last["axis_x"], 1024) == 300 and pixel(last["axis_y"], 768) == 200, last
    daemon.events()


def errors():
    return status()["counters"]["errors"]


def test_errors_unknown_type_and_display():
    """counters.errors.unknown_type: a host message of a type we do not know is skipped;
    unknown_display: a MOUSE_STATE for a display the layout lacks is ignored."""
    e0 = errors()
    host.send_message(200, b"from a newer host")
    ctl_ok("mouse", "10", "10", "--display", "9")
    deadline = time.monotonic() + 3
    while True:
        e1 = errors()
        if e1["unknown_type"] == e0["unknown_type"] + 1 and e1["unknown_display"] == e0["unknown_display"] + 1:
            break
        assert time.monotonic() < deadline, (e0, e1)
        time.sleep(0.05)
    assert e1["framing"] == e0["framing"] and e1["bad_message"] == e0["bad_message"], (e0, e1)
    st = status()
    assert st["port"]["reopens"] == 0, "an unknown type must not reset the port"
    assert st["mouse"]["last"]["display_id"] == 9 and st["mouse"]["last"]["axis_x"] is None, st["mouse"]
    assert daemon.events() == [], "an event for an unknown display reached the device"


SESSION_NAME_SET = {k[2:] for k, v in vars(vdipc).items() if k.startswith("S_") and isinstance(v, int)} | {
    "HELLO", "ERROR"}


def test_inject_monitors():
    drain(agent, 0.1)
    ctl_ok("monitors", "1024x768+0+0", "800x600+1024+0")
    m = agent.expect(vdipc.S_MONITORS_CONFIG, skip=(vdipc.S_HOST_STATE,))
    mons = [(x["width"], x["height"], x["x"], x["y"]) for x in m["monitors"]]
    assert mons == [(1024, 768, 0, 0), (800, 600, 1024, 0)], m
    agent.send(vdipc.S_MONITORS_RESULT, request_id=m["request_id"], result=REPLY_SUCCESS)
    r = parse_reply(host.expect(MSG_REPLY, timeout=5))
    assert r == {"type": MSG_MONITORS_CONFIG, "error": REPLY_SUCCESS}, r


def test_clipboard_set():
    drain(agent, 0.1)
    text = "héllo from vdagent-ctl"
    ctl_ok("clipboard", "set", text)
    g = agent.expect(vdipc.S_CLIPBOARD_GRAB, skip=(vdipc.S_HOST_STATE,))
    assert g == {"selection": 0, "types": [CLIPBOARD_UTF8_TEXT]}, g
    assert status()["host"]["clipboard"]["CLIPBOARD"] == "vdagent-ctl"
    agent.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=CLIPBOARD_UTF8_TEXT)
    b = agent.expect(vdipc.S_CLIPBOARD_BEGIN)
    assert b == {"selection": 0, "type": CLIPBOARD_UTF8_TEXT, "total": len(text.encode())}, b
    d = agent.expect(vdipc.S_CLIPBOARD_DATA)
    assert d["data"] == text.encode(), d
    # The host never saw a request: it is not involved.
    assert not [t for t, _ in host_drain() if t == MSG_CLIPBOARD_REQUEST]
    ctl_ok("clipboard", "set", "primary text", "--selection", "primary")
    g = agent.expect(vdipc.S_CLIPBOARD_GRAB, skip=(vdipc.S_HOST_STATE,))
    assert g["selection"] == 1, g


def test_clipboard_get():
    agent.send(vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT])
    host.expect(MSG_CLIPBOARD_GRAB, skip=(MSG_CLIPBOARD_RELEASE,))
    p = subprocess.Popen([CTL, "--control", CONTROL, "clipboard", "get"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    q = agent.expect(vdipc.S_CLIPBOARD_REQUEST, timeout=5)
    assert q == {"selection": 0, "type": CLIPBOARD_UTF8_TEXT}, q
    text = "the guest's clipboard ✓".encode()
    agent.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=CLIPBOARD_UTF8_TEXT, total=len(text))
    agent.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=text[:5])
    agent.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=text[5:])
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0 and out == text, (p.returncode, out, err)
    assert not [t for t, _ in host_drain() if t == MSG_CLIPBOARD]  # the answer went to vdagent-ctl only
    # The agent aborts: exit 1 with the daemon's reason.
    p = subprocess.Popen([CTL, "--control", CONTROL, "clipboard", "get"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    agent.expect(vdipc.S_CLIPBOARD_REQUEST, timeout=5)
    agent.send(vdipc.S_CLIPBOARD_ABORT, selection=0)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 1 and out == "" and err.startswith("vdagent-ctl: "), (p.returncode, out, err)


def test_clipboard_get_requests_wait_in_order():
    """While a clipboard get waits, later requests wait behind it; past the limit the client is cut."""
    agent.send(vdipc.S_CLIPBOARD_GRAB, selection=0, types=[CLIPBOARD_UTF8_TEXT])
    host.expect(MSG_CLIPBOARD_GRAB, skip=(MSG_CLIPBOARD_RELEASE,))
    c = ControlClient(CONTROL)
    c.send(vdipc.C_CLIPBOARD_GET, selection=0, type=CLIPBOARD_UTF8_TEXT)
    c.send(vdipc.C_STATUS)
    agent.expect(vdipc.S_CLIPBOARD_REQUEST, timeout=5)
    try:
        t, m = c.recv(0.3)
        raise AssertionError("answered out of order: %r" % ((t, m),))
    except TimeoutError:
        pass
    agent.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=CLIPBOARD_UTF8_TEXT, total=2)
    agent.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=b"ok")
    assert c.expect(vdipc.C_CLIPBOARD_REPLY)["data"] == b"ok"
    assert json.loads(c.expect(vdipc.C_STATUS_REPLY)["json"])["pid"] == daemon.pid
    # VD_CONTROL_MAX_QUEUED = 256 KiB of requests may wait: three 64 KiB offers do, five do not.
    c.send(vdipc.C_CLIPBOARD_GET, selection=0, type=CLIPBOARD_UTF8_TEXT)
    agent.expect(vdipc.S_CLIPBOARD_REQUEST, timeout=5)
    for _ in range(3):
        c.send(vdipc.C_CLIPBOARD_SET, selection=1, type=CLIPBOARD_UTF8_TEXT, data=b"x" * 65536)
    try:
        t, m = c.recv(0.3)
        raise AssertionError("answered out of order: %r" % ((t, m),))
    except TimeoutError:
        pass
    for _ in range(2):
        c.send(vdipc.C_CLIPBOARD_SET, selection=1, type=CLIPBOARD_UTF8_TEXT, data=b"x" * 65536)
    try:
        c.expect(vdipc.C_CLIPBOARD_REPLY, timeout=5)
        raise AssertionError("no LIMIT")
    except PeerError as e:
        assert e.code == vdipc.ERR_LIMIT, e
    c.wait_closed()
    c.close()
    agent.send(vdipc.S_CLIPBOARD_ABORT, selection=0)
    assert status()["pid"] == daemon.pid


# --- errors and exit codes ---

def test_not_running():
    rc, out, err = ctl("status", control=os.path.join(tmp, "nothing-here.sock"))
    assert rc == 3 and "not running" in err and out == "", (rc, out, err)
    # A socket file nobody listens on (a crashed daemon's leftover).
    stale = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    rc, out, err = ctl("status", control=stale)
    assert rc == 3 and "not running" in err, (rc, out, err)
    rc, out, err = ctl("--json", "status", control=None, prefix=("env",))
    assert rc in (3, 4), (rc, err)  # the default path: no daemon there (3), or not ours to reach (4)


NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def test_permission_denied():
    refused = status()["control"]["refused"]
    mode = stat.S_IMODE(os.stat(CONTROL).st_mode)
    assert mode == 0o600, oct(mode)
    # The socket's mode keeps nobody out...
    rc, out, err = ctl("status", prefix=NOBODY)
    assert rc == 4 and "permission denied" in err.lower(), (rc, out, err)
    # ...but it is not the check: with the mode opened up, the daemon still refuses by SO_PEERCRED.
    os.chmod(CONTROL, 0o777)
    try:
        for cmd in (("status",), ("mouse", "1", "1"), ("clipboard", "set", "x")):
            rc, out, err = ctl(*cmd, prefix=NOBODY)
            assert rc == 4 and "root only" in err, (cmd, rc, out, err)
    finally:
        os.chmod(CONTROL, 0o600)
    assert status()["control"]["refused"] == refused + 3
    assert "refused uid 65534" in daemon.log_text()


def test_version_mismatch_daemon():
    c = ControlClient(CONTROL, hello=False)
    c.send(vdipc.HELLO, **vdipc.hello_fields(vdipc.CONTROL, "future-ctl", version=(2, 0)))
    h = c.expect(vdipc.HELLO)
    assert (h["version_major"], h["version_minor"]) == vdipc.CONTROL_VERSION, h
    e = c.expect(vdipc.ERROR)
    assert e["code"] == vdipc.ERR_VERSION and "2.0" in e["message"] and "1.0" in e["message"], e
    c.wait_closed()
    c.close()
    # A newer minor is fine.
    c = ControlClient(CONTROL, version=(1, 7))
    assert c.status()["pid"] == daemon.pid
    c.close()


class FakeControlDaemon:
    """Listens on a control socket path and answers each client with script(conn)."""

    def __init__(self, script):
        self.path = os.path.join(tmp, "fake-%d.sock" % id(script))
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(4)
        self.script = script
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        r, _, _ = select.select([self.listener], [], [], 10)
        if not r:
            return
        sock, _ = self.listener.accept()
        conn = vdipc.Connection(sock, vdipc.CONTROL)
        try:
            self.script(conn)
        except Exception:
            pass
        finally:
            time.sleep(0.2)
            sock.close()

    def close(self):
        self.thread.join(15)
        self.listener.close()
        os.unlink(self.path)


def test_version_mismatch_cli():
    def newer(conn):
        conn.send(vdipc.HELLO, **vdipc.hello_fields(vdipc.CONTROL, "vdagentd 9", version=(2, 3)))
        conn.expect(vdipc.HELLO)
    f = FakeControlDaemon(newer)
    rc, out, err = ctl("status", control=f.path)
    f.close()
    assert rc == 5 and "version mismatch" in err and "2.3" in err and "1.0" in err, (rc, out, err)

    def refuses(conn):
        conn.expect(vdipc.HELLO)
        conn.send_error(vdipc.ERR_VERSION, "control protocol 1.0 is not spoken here (2.0 is)")
    f = FakeControlDaemon(refuses)
    rc, out, err = ctl("caps", control=f.path)
    f.close()
    assert rc == 5 and "not spoken here" in err, (rc, out, err)


def test_protocol_error_and_timeout():
    def garbage(conn):
        conn.send_raw(b"\x01\x00\x07\x00\x00\x00\x00\x00")  # flags != 0
        time.sleep(0.5)
    f = FakeControlDaemon(garbage)
    rc, out, err = ctl("status", control=f.path)
    f.close()
    assert rc == 6 and "malformed" in err, (rc, out, err)

    def wrong_reply(conn):
        conn.hello("fake-vdagentd")
        conn.expect(vdipc.C_STATUS)
        conn.send(vdipc.C_RESULT, code=0, message="not a status")
    f = FakeControlDaemon(wrong_reply)
    rc, out, err = ctl("status", control=f.path)
    f.close()
    assert rc == 6 and "unexpected RESULT" in err, (rc, out, err)

    def silent(conn):
        conn.hello("fake-vdagentd")
        conn.expect(vdipc.C_INJECT_MOUSE)
        time.sleep(6)
    f = FakeControlDaemon(silent)
    t0 = time.monotonic()
    rc, out, err = ctl("mouse", "1", "2", control=f.path)
    f.close()
    assert rc == 7 and "no reply" in err and 4.5 < time.monotonic() - t0 < 8, (rc, out, err)


def test_refused_request():
    """The daemon refuses (exit 1, its message printed): clipboard get when the guest holds nothing."""
    agent.send(vdipc.S_CLIPBOARD_RELEASE, selection=0)
    time.sleep(0.2)
    rc, out, err = ctl("clipboard", "get")
    assert rc == 1 and out == "" and len(err.strip()) > 15, (rc, out, err)


USAGE = [
    (), ("bogus",), ("status", "extra"), ("mouse",), ("mouse", "1"), ("mouse", "x", "1"), ("mouse", "-1", "1"),
    ("mouse", "1", "1", "--buttons", "left,thumb"), ("mouse", "1", "1", "--display", "256"),
    ("mouse", "1", "1", "--display"), ("monitors",), ("monitors", "10x"), ("monitors", "0x10+0+0"),
    ("monitors",) + ("640x480+0+0",) * 33, ("clipboard",), ("clipboard", "set"), ("clipboard", "put", "x"),
    ("clipboard", "get", "--selection", "secondary-ish"), ("--frobnicate", "status"), ("monitor", "--hexx"),
]


def test_usage_errors():
    # Usage errors are found before connecting: a missing daemon would be exit 3.
    for args in USAGE:
        rc, out, err = ctl(*args, control=os.path.join(tmp, "nothing-here.sock"))
        assert rc == 2 and "vdagent-ctl --help" in err and out == "", (args, rc, out, err)
    rc, out, err = ctl("--help", control=None)
    assert rc == 0 and "Exit status" in out, (rc, out, err)
    for cmd in ("status", "sessions", "caps", "monitor", "mouse", "monitors", "clipboard set", "--json"):
        assert cmd in out, cmd
    rc, out, err = ctl("--version", control=None)
    assert rc == 0 and re.match(r"^vdagent-ctl \S+\n$", out), out


# --- limits ---

def test_client_limit():
    clients = [ControlClient(CONTROL) for _ in range(8)]
    try:
        rc, out, err = ctl("status")
        assert rc == 1 and "too many" in err, (rc, out, err)
    finally:
        for c in clients:
            c.close()
    deadline = time.monotonic() + 3
    while True:
        rc, out, err = ctl("status")
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rc == 0, (rc, err)


def test_hello_deadline_and_bad_frames():
    c = ControlClient(CONTROL, hello=False)
    c.expect(vdipc.HELLO)  # the daemon speaks first (or at once)
    t0 = time.monotonic()
    e = c.expect(vdipc.ERROR, timeout=8)
    assert e["code"] == vdipc.ERR_TIMEOUT and 4 < time.monotonic() - t0 < 7, (e, time.monotonic() - t0)
    c.wait_closed()
    c.close()
    c = ControlClient(CONTROL, hello=False)
    c.send(vdipc.C_STATUS)
    c.expect(vdipc.HELLO)
    assert c.expect(vdipc.ERROR)["code"] == vdipc.ERR_BAD_FRAME
    c.close()
    c = ControlClient(CONTROL)
    c.send_raw(b"\x10\x00\x01\x00\x00\x00\x00\x00")
    assert c.expect(vdipc.ERROR)["code"] == vdipc.ERR_BAD_FRAME
    c.close()
    c = ControlClient(CONTROL)
    c.send_raw(vdipc.frame(99))  # an unknown request: UNSUPPORTED, the connection stays
    assert c.expect(vdipc.C_RESULT)["code"] == vdipc.ERR_UNSUPPORTED
    assert c.status()["pid"] == daemon.pid
    c.close()
    assert daemon.alive()


def test_monitor_keeps_up():
    """A monitor that reads gets every message of a burst: nothing dropped."""
    before = status()["control"]["traces_dropped"]
    n = 5000
    with Monitor("--json") as m:
        host.send_raw(b"".join(split_message(MSG_MOUSE_STATE, build_mouse_state(i % 500, 7, 0, 0),
                                             port=PORT_SERVER) for i in range(n)))
        deadline = time.monotonic() + 20
        while sum('"MOUSE_STATE"' in l for l in list(m.lines)) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        m.stop()
    xs = [json.loads(l)["summary"].split()[0] for l in m.lines if '"MOUSE_STATE"' in l]
    assert xs == ["x=%d" % (i % 500) for i in range(n)], (len(xs), xs[:3], xs[-3:])
    assert status()["control"]["traces_dropped"] == before
    daemon.events(want=1)


def test_unread_replies_are_bounded():
    """A client that sends requests and never reads the replies is not read from past 1 MiB of
    them: the daemon's memory stays bounded, others are served, and nothing is lost once it reads."""
    rss0 = daemon.status("VmRSS")
    c = ControlClient(CONTROL)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    n = 3000
    c.sock.setblocking(False)
    pending = vdipc.frame(vdipc.C_STATUS) * n
    deadline = time.monotonic() + 5
    while pending and time.monotonic() < deadline:
        try:
            pending = pending[c.sock.send(pending):]
        except BlockingIOError:
            time.sleep(0.01)
    c.sock.setblocking(True)
    time.sleep(0.5)
    rss1 = daemon.status("VmRSS")
    assert ctl("status")[0] == 0
    # A status reply is a few KiB: the 3000 of them (> 4 MiB) are not all queued in the daemon.
    size = len(json.dumps(status()))
    assert n * size > 4 * 1024 * 1024, size
    assert SANITIZED or rss1 - rss0 < 3 * 1024, (rss0, rss1)
    got = 0
    while got < n:
        t, m = c.recv(10)
        assert t == vdipc.C_STATUS_REPLY, t
        got += 1
    print("# %d status replies of %d bytes left unread: daemon RSS %d -> %d KiB; all delivered later" % (
        n, size, rss0, rss1))
    c.close()


def test_slow_monitor_does_not_stall():
    """A monitor that stops reading loses traces (counted); the daemon and the pointer go on."""
    before = status()["control"]["traces_dropped"]
    slow = ControlClient(CONTROL)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.send(vdipc.C_MONITOR, with_bytes=True)
    slow.expect(vdipc.C_RESULT)
    daemon.events()
    n = 20000
    blob = b"".join(split_message(MSG_MOUSE_STATE, build_mouse_state(i % 1000, i % 700, 0, 0), port=PORT_SERVER)
                    for i in range(n))
    t0 = time.monotonic()
    sender = threading.Thread(target=host.send_raw, args=(blob,), daemon=True)
    sender.start()
    # The daemon answers while the burst goes through.
    rc, out, err = ctl("status", "--json", timeout=10)
    assert rc == 0, (rc, err)
    sender.join(30)
    assert not sender.is_alive()
    # The last position reached the pointer.
    last = (n - 1) % 1000, (n - 1) % 700
    layout = status()["mouse"]["layout"]
    w = max(d["x"] + d["width"] for d in layout)
    h = max(d["y"] + d["height"] for d in layout)
    deadline = time.monotonic() + 20
    got = []
    while time.monotonic() < deadline:
        got += daemon.events()
        a = [v for t, c, v in got if t == EV_ABS and c == ABS_X]
        b = [v for t, c, v in got if t == EV_ABS and c == ABS_Y]
        if a and b and pixel(a[-1], w) == last[0] and pixel(b[-1], h) == last[1]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the pointer did not reach %r" % (last,))
    elapsed = time.monotonic() - t0
    st = status()
    dropped = st["control"]["traces_dropped"] - before
    assert dropped > 0, st["control"]
    assert st["control"]["watching"] == 1
    print("# %d mouse events through a stalled monitor in %.2f s; %d traces dropped" % (n, elapsed, dropped))
    slow.close()
    deadline = time.monotonic() + 3
    while status()["control"]["watching"] != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)


# --- bash completion ---

BASH_COMPLETION_LIB = "/usr/share/bash-completion/bash_completion"
completion_lib = [None]


def complete(words):
    """COMPREPLY of _vdagent_ctl for the command line `words` (the last one being completed), with
    bash-completion's library loaded (completion_lib[0]) or without it (the script's fallback)."""
    script = ('[ -n "$1" ] && source "$1"; source "$2"; shift 2; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); '
              'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _vdagent_ctl; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", completion_lib[0] or "",
                        COMPLETION] + list(words), capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return sorted(w for w in p.stdout.split("\n") if w)


def test_bash_completion():
    completion_lib[0] = None
    check_completion()
    if os.path.exists(BASH_COMPLETION_LIB):
        completion_lib[0] = BASH_COMPLETION_LIB
        check_completion()
    else:
        print("# bash-completion is not installed: only the script's own fallback was tried")


def check_completion():
    assert complete(["vdagent-ctl", ""]) == sorted(
        ["status", "sessions", "caps", "monitor", "mouse", "monitors", "clipboard", "--json", "--control",
         "--help", "--version"]), complete(["vdagent-ctl", ""])
    assert complete(["vdagent-ctl", "mon"]) == ["monitor", "monitors"]
    assert complete(["vdagent-ctl", "--json", "st"]) == ["status"]
    assert complete(["vdagent-ctl", "clipboard", ""]) == ["get", "set"]
    assert complete(["vdagent-ctl", "clipboard", "get", ""]) == ["--selection"]
    assert complete(["vdagent-ctl", "mouse", "1", "2", "--buttons", "left,mi"]) == ["left,middle"]
    assert complete(["vdagent-ctl", "status", "--"]) == ["--json"]
    assert complete(["vdagent-ctl", "clipboard", "get", "--selection", "p"]) == ["primary"]
    assert complete(["vdagent-ctl", "mouse", "1", "2", "--buttons", ""]) == sorted(
        ["left", "middle", "right", "up", "down", "side", "extra"])
    assert complete(["vdagent-ctl", "monitor", "--h"]) == ["--hex"]
    assert complete(["vdagent-ctl", "--control", tmp + "/control.s"]) == [CONTROL]
    assert complete(["vdagent-ctl", "--control", CONTROL, "ca"]) == ["caps"]


for name, fn in [
    ("status: plain output, aligned, with port, caps, agents, counters", test_status_plain),
    ("status --json: every documented member with its type", test_status_json),
    ("status with a port never opened: the verdict names it, no epoch date, no empty table; opened: no stale error",
     test_status_port_never_opened),
    ("status --json has exactly the members docs/vdagent-ctl.md lists, in order", test_status_matches_docs),
    ("sessions and caps, plain and --json", test_sessions_and_caps),
    ("monitor: decoded lines for host and agent traffic", test_monitor_plain),
    ("monitor --hex: the payload's bytes", test_monitor_hex),
    ("monitor --json: one JSON object per line", test_monitor_json),
    ("mouse: the host's code path, the layout's axis values, buttons", test_inject_mouse),
    ("mouse --display 1 on the agent's layout", test_inject_mouse_layout),
    ("status: agent traffic counters, agent features, mouse.last", test_status_agent_counters_and_mouse_last),
    ("errors: unknown_type (host), unknown_display (mouse)", test_errors_unknown_type_and_display),
    ("monitors: MONITORS_CONFIG to the agent, REPLY to the host", test_inject_monitors),
    ("clipboard set: the agent sees a grab and gets the text", test_clipboard_set),
    ("clipboard get: the agent's data is printed", test_clipboard_get),
    ("control requests wait in order behind a clipboard get (limit 256 KiB)",
     test_clipboard_get_requests_wait_in_order),
    ("exit 3: the daemon is not running", test_not_running),
    ("exit 4: permission denied, by SO_PEERCRED even with a 0777 socket", test_permission_denied),
    ("version mismatch: the daemon's ERROR(VERSION)", test_version_mismatch_daemon),
    ("exit 5: the CLI against a daemon of another major version", test_version_mismatch_cli),
    ("exit 6 and 7: protocol error, timeout", test_protocol_error_and_timeout),
    ("exit 1: the daemon refuses a request", test_refused_request),
    ("exit 2: usage errors, before connecting; --help, --version", test_usage_errors),
    ("limit: 8 control clients", test_client_limit),
    ("limit: HELLO deadline, bad frames, unknown requests", test_hello_deadline_and_bad_frames),
    ("monitor keeps up with a burst of 5000 messages, in order", test_monitor_keeps_up),
    ("limit: replies left unread stop the daemon reading, nothing lost", test_unread_replies_are_bounded),
    ("a stalled monitor does not stall 20000 mouse events", test_slow_monitor_does_not_stall),
    ("bash completion", test_bash_completion),
]:
    tap.run(name, fn)



def test_clean_exit():
    assert daemon.alive(), daemon.log_text()
    agent.close()
    daemon.stop()
    assert daemon.returncode == 0, daemon.log_text()
    assert not os.path.exists(CONTROL), "the control socket is left behind"


tap.run("the daemon is still alive, exits cleanly and removes its control socket", test_clean_exit)
if tap.failed:
    diag("daemon log:\n" + "\n".join(daemon.log_text().splitlines()[-80:]))
host.close()
daemon.cleanup()
tap.finish()
