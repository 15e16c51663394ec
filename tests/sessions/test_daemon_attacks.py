#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""test_daemon_attacks.py — what local users and a hostile host could do to vdagentd, each
asserted on what the other peers and the journal would see (TAP, suite integration).

The World of tests/lib/sessionworld.py: the real vdagentd with --session-tracking logind on a
private bus (python3-dbusmock's logind), a TestHost on its port, agents as throw-away uids.
- an agent of an inactive session changes no routing state: its CLIPBOARD_BEGIN, ABORT and
  MONITORS_RESULT leave the active agent's clipboard and monitors alone;
- every log line a peer can trigger is rate-limited per peer and cause, with a summary of what
  was suppressed: a connect loop of a user without a session, an accepted agent's frame floods,
  a flood of refused control clients;
- fd exhaustion: accept() failing with EMFILE stops the listeners for a while (said once), costs
  no CPU, and agents connect again as soon as descriptors are free;
- control clients: a non-root one is refused at once (no lingering), an idle one is closed after
  the idle timeout so that idle vdagent-ctl processes cannot lock out the next;
- host CLIPBOARD messages interleaved on ports 1 and 2 never give an agent a second BEGIN;
- a stalled inactive agent does not keep the port paused;
- a refused agent gets our HELLO first, then the ERROR that says why.
Without a built vdagentd, or not as root, every case is reported as SKIP with the reason.
Arguments: case numbers to run only those.
"""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback

import vdipc
import vdwire
from daemon import VDAGENTD
from logind import PrivateBus
from sessionworld import ALICE, BOB, TEXT, World, free_uids, wait_msg
from vdtest import Tap, diag, received_within, wait_for

# The daemon's documented limits (src/system/ratelimit.h, control.h, agents.h, listener.h).
LOG_BURST = 5            # lines per peer and cause in a window
LOG_WINDOW = 3.0         # seconds
# A flood of a few seconds spans at most two windows: per cause, twice the burst and a summary.
WINDOWS = 2
CONTROL_IDLE = 10.0      # seconds
CONTROL_MAX_CLIENTS = 8
NOBODY = free_uids(4)[3]  # a uid with no session at all

FLOOD = r'''
import socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        n += 1
    except OSError:
        pass
    s.close()
print(n)
'''


def flood(w, uid, path, seconds):
    """Connects and hangs up in a loop as uid for seconds; -> the number of connections made."""
    script = os.path.join(w.dir, "flood.py")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(FLOOD)
        os.chmod(script, 0o644)
    p = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
                        "/usr/bin/python3", script, path, str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 30, cwd=w.dir)
    assert p.returncode == 0, p.stderr
    return int(p.stdout)


class LogWatch:
    """The daemon's non-debug log lines written from now on."""

    def __init__(self, w):
        self.w = w
        self.start = len(w.daemon_log_text().encode())

    def lines(self):
        text = self.w.daemon_log_text().encode()[self.start:].decode(errors="replace")
        return [l for l in text.splitlines() if l and not l.startswith("vdagentd: debug:")]

    def wait_summary(self, timeout=LOG_WINDOW + 3, naming=("",)):
        """Waits for "N more ... suppressed" summaries, one naming each of naming, and returns them."""
        def found():
            got = [l for l in self.lines() if "suppressed" in l]
            return got if all(any(n in l for l in got) for n in naming) else None
        return wait_for(found, timeout, what="a summary of the suppressed lines naming %s" % (naming,))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def error_after_hello(conn, timeout=5.0):
    """-> (code, message): the daemon must send its HELLO first, then ERROR, then close."""
    try:
        conn.send(vdipc.HELLO, **vdipc.hello_fields(vdipc.SESSION, "refused-agent"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    frames = conn.wait_closed(timeout)
    types = [t for t, _ in frames]
    assert types[:1] == [vdipc.HELLO], "first frames %r, not HELLO" % [vdipc.type_name(vdipc.SESSION, t) for t in types]
    errors = [vdipc.decode(vdipc.SESSION, t, p) for t, p in frames if t == vdipc.ERROR]
    assert errors, "no ERROR after the HELLO"
    return errors[0]["code"], errors[0]["message"]


# --- 1: an inactive agent changes no routing state ---

def case_inactive_cannot_break_clipboard(w):
    a = w.agent(ALICE, "1")
    b = w.agent(BOB, "2")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    wait_msg(b, vdipc.S_SESSION_STATE, pred=lambda m: not m["active"])
    w.host_clipboard_ready()
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=vdwire.SELECTION_CLIPBOARD, types=[TEXT])
    w.host_wait(vdwire.MSG_CLIPBOARD_GRAB)
    # bob's agent starts data nobody asked for, 1 GiB that never ends, and keeps sending some.
    b.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=TEXT, total=1 << 30)
    b.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=b"x" * 1000)
    for paste in range(3):
        w.host.send_message(vdwire.MSG_CLIPBOARD_REQUEST,
                            vdwire.build_clipboard_request(TEXT, neg=w.host.neg))
        q = wait_msg(a, vdipc.S_CLIPBOARD_REQUEST)
        assert q["type"] == TEXT, q
        # Meanwhile bob's agent aborts "its" data and starts again.
        b.send(vdipc.S_CLIPBOARD_ABORT, selection=0)
        b.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=TEXT, total=1 << 30)
        text = b"paste %d from alice" % paste
        a.send(vdipc.S_CLIPBOARD_BEGIN, selection=0, type=TEXT, total=len(text))
        a.send(vdipc.S_CLIPBOARD_DATA, selection=0, data=text)
        got = vdwire.parse_clipboard(w.host_wait(vdwire.MSG_CLIPBOARD), w.host.neg)
        assert got["data"] == text, got
    # Monitors: bob's result for the request alice got does not answer the host.
    w.host.send_message(vdwire.MSG_MONITORS_CONFIG, vdwire.build_monitors_config([dict(width=800, height=600)]))
    mc = wait_msg(a, vdipc.S_MONITORS_CONFIG)
    b.send(vdipc.S_MONITORS_RESULT, request_id=mc["request_id"], result=vdipc.REPLY_SUCCESS)
    w.host_quiet((vdwire.MSG_REPLY,), 0.5)
    a.send(vdipc.S_MONITORS_RESULT, request_id=mc["request_id"], result=vdipc.REPLY_ERROR)
    rep = vdwire.parse_reply(w.host_wait(vdwire.MSG_REPLY))
    assert rep["error"] == vdwire.REPLY_ERROR, rep


# --- 2: log floods ---

def case_connect_loop_log_bounded(w):
    watch = LogWatch(w)
    n = flood(w, NOBODY, w.socket, 2.0)
    assert n > 200, "only %d connections in the flood" % n
    summary = watch.wait_summary(naming=("uid %d" % NOBODY,))
    lines = [l for l in watch.lines() if "uid %d" % NOBODY in l]
    diag("%d connections: %d log lines" % (n, len(lines)))
    # Causes: refused (no session), the per-user cap, hung up before identification.
    assert len(lines) <= WINDOWS * 3 * (LOG_BURST + 1), "%d lines for %d connections:\n%s" % (
        len(lines), n, "\n".join(lines[:40]))
    assert any("uid %d" % NOBODY in l for l in summary), summary
    # alice's agent is not affected.
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])


def frame_flood(conn, n):
    status = vdipc.encode_frame(vdipc.SESSION, vdipc.S_XFER_STATUS, id=4242, result=vdwire.XFER_ERROR,
                                has_detail=False, error_type=0, error_code=0, free=0)
    layout = vdipc.encode_frame(vdipc.SESSION, vdipc.S_LAYOUT, screen_width=0, screen_height=0, displays=[])
    conn.send_raw((status + layout) * n)


def case_agent_frame_flood_log_bounded(w):
    a = w.agent(ALICE, "1")
    b = w.agent(BOB, "2")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    wait_msg(b, vdipc.S_SESSION_STATE)
    watch = LogWatch(w)
    for conn in (a, b):
        frame_flood(conn, 20000)
    summary = watch.wait_summary(naming=("session 1", "session 2"))
    # Both agents are still served (the frames are valid, only useless).
    w.host_grab()
    wait_msg(a, vdipc.S_CLIPBOARD_GRAB, timeout=10)
    lines = watch.lines()
    diag("80000 frames: %d log lines" % len(lines))
    # Two agents, two causes each (foreign transfer status, unusable layout).
    assert len(lines) <= WINDOWS * 2 * 2 * (LOG_BURST + 1), "%d lines:\n%s" % (len(lines), "\n".join(lines[:40]))
    assert any("session 2" in l for l in summary) and any("session 1" in l for l in summary), summary


def case_control_refusal_flood(w):
    # An administrator widened the control socket's mode: non-root clients are refused at once,
    # without lingering, and the refusals cannot flood the log.
    os.chmod(w.control, 0o666)
    conn = w.connect(NOBODY, None, path=w.control)[0]
    t0 = time.monotonic()
    frames = conn.wait_closed(2.0)
    took = time.monotonic() - t0
    assert took < 0.5, "a refused control client lingered %.1f s" % took
    assert any(t == vdipc.ERROR for t, _ in frames) or not frames, frames
    watch = LogWatch(w)
    n = flood(w, NOBODY, w.control, 2.0)
    watch.wait_summary()
    lines = watch.lines()
    diag("%d control connections: %d log lines" % (n, len(lines)))
    assert n > 200, "only %d connections in the flood" % n
    assert len(lines) <= WINDOWS * (LOG_BURST + 1), "%d lines:\n%s" % (len(lines), "\n".join(lines[:40]))
    with vdipc.ControlClient(w.control) as ctl:
        st = ctl.status()
    assert st["control"]["refused"] >= n, st["control"]


# --- 3: descriptors ---

def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def case_fd_exhaustion(w):
    pid = w.daemon.pid
    w.logind.add_session("90", "seat0", 0, "root", False)
    # Room for two more connections (a socket and a pidfd each), not more.
    limit = open_fds(pid) + 4
    subprocess.run(["prlimit", "--pid", str(pid), "--nofile=%d:%d" % (limit, limit)], check=True)
    watch = LogWatch(w)
    hogs = w.connect(0, "90", count=2)
    time.sleep(0.3)
    # More connections wait in the backlog: accept() fails with EMFILE for them.
    waiting = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(10)]
    for s in waiting:
        s.connect(w.socket)
    with vdipc.ControlClient(w.control, hello=False) as _ctl_waiting:
        time.sleep(0.3)
        cpu0 = cpu_seconds(pid)
        time.sleep(2.0)
        used = cpu_seconds(pid) - cpu0
        lines = watch.lines()
        diag("EMFILE for 2 s: %.2f s of CPU, %d log lines" % (used, len(lines)))
        assert used < 0.3, "the daemon used %.2f s of CPU in 2 s while out of descriptors" % used
        emfile = [l for l in lines if "descriptors" in l or "Too many open files" in l]
        assert 1 <= len(emfile) <= 4, "out-of-descriptor lines:\n%s" % "\n".join(lines[:40])
    for s in waiting:
        s.close()
    for c in hogs:
        c.close()
    # Freed at once, and the listener is back within its backoff: alice's agent gets in.
    t0 = time.monotonic()
    deadline = t0 + 5
    while True:
        try:
            a = w.agent(ALICE, "1")
            wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
            break
        except (vdipc.PeerError, ConnectionError, TimeoutError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    diag("an agent got in %.1f s after the descriptors were free" % (time.monotonic() - t0))


def case_control_idle_timeout(w):
    monitor = vdipc.ControlClient(w.control)
    monitor.monitor()
    idle = [vdipc.ControlClient(w.control) for _ in range(CONTROL_MAX_CLIENTS - 1)]
    ninth = vdipc.ControlClient(w.control, hello=False)
    try:
        ninth.hello()
        raise AssertionError("a ninth control client was accepted")
    except (vdipc.PeerError, ConnectionError):
        pass
    t0 = time.monotonic()
    for c in idle:
        c.wait_closed(CONTROL_IDLE + 5)
    took = time.monotonic() - t0
    for c in idle + [ninth]:
        c.close()
    assert CONTROL_IDLE - 1 <= took <= CONTROL_IDLE + 3, "idle clients closed after %.1f s" % took
    # The monitoring one stays, and traces still flow to it; the places are free again.
    ctl = wait_for(lambda: try_control(w.control), 2.0, what="a control client accepted again")
    with ctl:
        ctl.inject_mouse(10, 10)
    tr = monitor.next_trace()
    assert tr["direction"] == vdipc.TRACE_HOST_TO_GUEST, tr
    monitor.close()


def try_control(path):
    try:
        return vdipc.ControlClient(path)
    except (vdipc.PeerError, ConnectionError):
        return None


# --- 4: smaller defects ---

def case_interleaved_ports(w):
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    w.host_grab()
    wait_msg(a, vdipc.S_CLIPBOARD_GRAB)
    a.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=TEXT)
    w.host_wait(vdwire.MSG_CLIPBOARD_REQUEST)
    one = b"1" * 20000
    two = b"2" * 20000
    s1 = vdwire.split_stream(vdwire.MSG_CLIPBOARD, vdwire.build_clipboard(TEXT, one, w.host.neg), port=1)
    s2 = vdwire.split_stream(vdwire.MSG_CLIPBOARD, vdwire.build_clipboard(TEXT, two, w.host.neg), port=2)
    out = bytearray()
    for i in range(max(len(s1), len(s2))):
        if i < len(s1):
            out += s1[i]
        if i < len(s2):
            out += s2[i]
    w.host.send_raw(bytes(out))
    left = None
    got = bytearray()
    for t, m in received_within(a.recv, 1.5):
        if t == vdipc.S_CLIPBOARD_BEGIN:
            assert left in (None, 0), "a second CLIPBOARD_BEGIN with %d bytes of the first to come" % left
            left = m["total"]
        elif t == vdipc.S_CLIPBOARD_DATA:
            assert left is not None and len(m["data"]) <= left, "data outside a BEGIN"
            left -= len(m["data"])
            got += m["data"]
    assert left == 0 and bytes(got[:len(one)]) == one, (left, len(got))
    # The stream goes on: the next paste works.
    a.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=TEXT)
    w.host_wait(vdwire.MSG_CLIPBOARD_REQUEST)
    w.host.send_message(vdwire.MSG_CLIPBOARD, vdwire.build_clipboard(TEXT, b"next", w.host.neg))
    m = wait_msg(a, vdipc.S_CLIPBOARD_BEGIN)
    assert m["total"] == 4, m


def case_stalled_inactive_agent(w):
    a = w.agent(ALICE, "1")
    b = w.agent(BOB, "2")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    w.logind.set_active("2")
    wait_msg(b, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    w.host_grab()
    wait_msg(b, vdipc.S_CLIPBOARD_GRAB)
    b.send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=TEXT)
    w.host_wait(vdwire.MSG_CLIPBOARD_REQUEST)
    # 4 MiB for bob's agent, which does not read: the port pauses.
    big = vdwire.split_message(vdwire.MSG_CLIPBOARD, vdwire.build_clipboard(TEXT, b"b" * (3 << 20), w.host.neg))
    sender = threading.Thread(target=lambda: w.host.send_raw(big), daemon=True)
    sender.start()
    time.sleep(1.0)
    # alice's session becomes the active one: bob's queue no longer holds the port.
    w.logind.set_active("1")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    t0 = time.monotonic()
    sender.join(10)
    assert not sender.is_alive(), "the host could not send for 10 s"
    w.host_grab()
    wait_msg(a, vdipc.S_CLIPBOARD_GRAB, timeout=5)
    took = time.monotonic() - t0
    assert took < 5, "the port stayed paused for %.1f s" % took


def case_refused_gets_hello_first(w):
    # Not the owner of the session.
    conn = w.connect(ALICE, "2")[0]
    code, message = error_after_hello(conn)
    assert code == vdipc.ERR_PERMISSION, (code, message)
    # A second agent for a session.
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE)
    conn = w.connect(ALICE, "1")[0]
    code, message = error_after_hello(conn)
    assert code == vdipc.ERR_LIMIT and "another agent" in message, (code, message)
    # Over the per-user cap (refused at accept).
    conns = w.connect(ALICE, "1", count=5)
    codes = []
    for c in conns[1:]:
        try:
            codes.append(error_after_hello(c, 7)[0])
        except AssertionError:
            raise
    assert vdipc.ERR_LIMIT in codes, codes


CASES = [
    ("an inactive session's agent cannot change the active one's clipboard or monitor replies",
     case_inactive_cannot_break_clipboard),
    ("a connect loop of a user without a session: log lines bounded, suppressed ones summarised",
     case_connect_loop_log_bounded),
    ("floods of useless frames from accepted agents: log lines bounded per agent",
     case_agent_frame_flood_log_bounded),
    ("a control socket opened to all: non-root refused at once, log lines bounded",
     case_control_refusal_flood),
    ("out of descriptors: listeners back off (said once, no CPU), agents get in once fds are free",
     case_fd_exhaustion),
    ("idle control clients are closed after %d s; a monitoring one stays" % CONTROL_IDLE,
     case_control_idle_timeout),
    ("CLIPBOARD interleaved on host ports 1 and 2: never a second BEGIN", case_interleaved_ports),
    ("a stalled agent that lost the active seat does not keep the port paused",
     case_stalled_inactive_agent),
    ("a refused agent gets HELLO, then an ERROR that says why", case_refused_gets_hello_first),
]


def main():
    tap = Tap(plan=len(CASES), timing=True)
    if not os.path.exists(VDAGENTD):
        for name, _ in CASES:
            tap.skip(name, "vdagentd not built (%s)" % VDAGENTD)
        return 0
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("prlimit"):
        for name, _ in CASES:
            tap.skip(name, "needs root, setpriv and prlimit")
        return 0
    bus = PrivateBus()
    world = None
    tap.after_failure = lambda: diag("--- vdagentd log ---\n" + world.daemon_log_text()[-6000:])
    try:
        only = {int(a) for a in sys.argv[1:]}
        for i, (name, fn) in enumerate(CASES, 1):
            if only and i not in only:
                tap.skip(name, "not selected")
                continue
            if world:
                world.close()
                world = None
            try:
                world = World(bus)
            except Exception as e:  # noqa: BLE001
                diag(traceback.format_exc())
                tap.fail(name, "setup failed: %s" % e)
                continue
            tap.run(name, fn, world)
    finally:
        if world:
            world.close()
        bus.stop()
    return tap.status()


if __name__ == "__main__":
    sys.exit(main())
