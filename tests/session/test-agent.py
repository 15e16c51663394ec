#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real vdagent under Xvfb against a fake daemon: HELLO and LAYOUT, the daemon link (restart,
malformed frames, version mismatch), monitors on Xvfb's single output, X server loss, idle
footprint, and the quiet exit on a machine without the agent."""

import os
import struct
import subprocess
import tempfile
import time

import vdipc
import agentlib
from agentlib import Agent, apply_config, layout_rects, monitor, settle_layout, threads, wakeups, VDAGENT
from footprint import MEASURE_ENV, VDAGENT_IDLE_PRIVATE_DIRTY_KIB, describe, footprint
from vdtest import Skip, Tap, sanitized
from xserver import Xvfb, parse_xrandr

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-test-agent-")
sock_path = os.path.join(tmp, "session.sock")
x = Xvfb(1920, 1080)
daemon = vdipc.FakeDaemon(sock_path)
agent = Agent(x.display, sock_path, file_dir=tmp)
state = {}


def connect(timeout=10.0):
    conn = daemon.accept(timeout)
    layout = conn.expect(vdipc.S_LAYOUT, 5.0)
    return conn, settle_layout(conn, layout)


def t_hello():
    conn, layout = connect()
    state["conn"], state["layout"] = conn, layout
    h = conn.peer_hello
    assert h["magic"] == vdipc.SESSION_MAGIC and h["version_major"] == vdipc.SESSION_VERSION[0], h
    assert h["software"].startswith("vdagent "), h


def t_initial_layout():
    layout = state["layout"]
    assert (layout["screen_width"], layout["screen_height"]) == (1920, 1080), layout
    assert layout_rects(layout) == {0: (1920, 1080, 0, 0)}, layout
    screen, outputs = parse_xrandr(x.xrandr("--query"))
    assert screen == (1920, 1080) and outputs["screen"] == (1920, 1080, 0, 0), (screen, outputs)


def t_one_monitor():
    conn = state["conn"]
    result, layout = apply_config(conn, [monitor(1280, 720)], request_id=11)
    assert result == vdipc.REPLY_SUCCESS, result
    assert layout_rects(layout) == {0: (1280, 720, 0, 0)}, layout
    assert (layout["screen_width"], layout["screen_height"]) == (1280, 720), layout
    text = x.xrandr("--query")
    screen, outputs = parse_xrandr(text)
    assert screen == (1280, 720) and outputs["screen"] == (1280, 720, 0, 0), text
    assert "vdagent-1280x720" in text, text


def t_stale_mode_removed():
    conn = state["conn"]
    result, layout = apply_config(conn, [monitor(1366, 768)], request_id=12)
    assert result == vdipc.REPLY_SUCCESS, result
    text = x.xrandr("--query")
    assert "vdagent-1366x768" in text and "vdagent-1280x720" not in text, text
    assert parse_xrandr(text)[1]["screen"] == (1366, 768, 0, 0), text


def t_degraded_two_monitors():
    """Xvfb has one output: the first monitor is applied, the second reported as an error."""
    conn = state["conn"]
    result, layout = apply_config(conn, [monitor(1024, 768), monitor(800, 600)], request_id=13)
    assert result == vdipc.REPLY_ERROR, result
    assert layout_rects(layout) == {0: (1024, 768, 0, 0)}, layout
    assert parse_xrandr(x.xrandr("--query"))[1]["screen"] == (1024, 768, 0, 0)
    assert "has no output" in agent.log()


def t_spice_gtk_sparse():
    """What spice-gtk 0.42 really sends: 16 entries, disabled ones all zero, PHYSICAL_SIZE tail."""
    conn = state["conn"]
    mons = [monitor(1600, 900, mm_width=423, mm_height=238)] + [monitor(0, 0, depth=0)] * 15
    result, layout = apply_config(conn, mons, flags=vdipc.MONITORS_USE_POS | vdipc.MONITORS_PHYSICAL_SIZE,
                                  request_id=14)
    assert result == vdipc.REPLY_SUCCESS, result
    assert layout_rects(layout) == {0: (1600, 900, 0, 0)}, layout
    dims = subprocess.run(["xdpyinfo", "-display", x.display], capture_output=True, text=True).stdout
    assert "1600x900 pixels (423x238 millimeters)" in dims, [l for l in dims.splitlines() if "dimensions" in l]


def t_too_big():
    conn = state["conn"]
    result, layout = apply_config(conn, [monitor(4096, 2160)], request_id=15)
    assert result == vdipc.REPLY_ERROR, result
    assert layout_rects(layout) == {0: (1600, 900, 0, 0)}, layout


def t_limits_refused():
    """Sides above VD_RANDR_MAX_MONITOR_SIDE and positions beyond +-65535 are refused whole."""
    conn = state["conn"]
    result, layout = apply_config(conn, [monitor(16385, 600)], request_id=17)
    assert result == vdipc.REPLY_ERROR, result
    result, layout = apply_config(conn, [monitor(800, 600, x=70000)], flags=vdipc.MONITORS_USE_POS,
                                  request_id=18)
    assert result == vdipc.REPLY_ERROR, result
    assert layout_rects(layout) == {0: (1600, 900, 0, 0)}, layout
    assert "larger than 16384" in agent.log() and "position is out of range" in agent.log()


def t_nothing_enabled():
    conn = state["conn"]
    result, layout = apply_config(conn, [monitor(0, 0), monitor(0, 0)], request_id=16)
    assert result == vdipc.REPLY_ERROR, result
    assert layout_rects(layout) == {0: (1600, 900, 0, 0)}, layout


def t_external_change_reported():
    conn = state["conn"]
    x.xrandr("--output", "screen", "--mode", "1920x1080")
    layout = conn.expect(vdipc.S_LAYOUT, 5.0)
    layout = settle_layout(conn, layout)
    assert layout_rects(layout) == {0: (1920, 1080, 0, 0)}, layout
    assert (layout["screen_width"], layout["screen_height"]) == (1920, 1080), layout


def t_idle_footprint():
    """Connected and idle: no wakeups at all, and Private_Dirty <= 2 MiB (bench/footprint.py).
    An agent of its own, without meson's MALLOC_PERTURB_ (MEASURE_ENV)."""
    fp_sock = os.path.join(tmp, "footprint.sock")
    fp_daemon = vdipc.FakeDaemon(fp_sock)
    fp_agent = Agent(x.display, fp_sock, file_dir=tmp, env=MEASURE_ENV, debug=False)
    try:
        conn = fp_daemon.accept(10.0)
        settle_layout(conn, conn.expect(vdipc.S_LAYOUT, 5.0))
        pid = fp_agent.pid
        time.sleep(0.5)
        before = wakeups(pid)
        time.sleep(3.0)
        after = wakeups(pid)
        fp = footprint(pid)
        print("# idle: %d context switches in 3 s (%d threads), %s" % (after - before, threads(pid), describe(fp)))
        assert after == before, "the idle agent woke up %d times" % (after - before)
        if not sanitized(VDAGENT):
            assert fp["private_dirty_kib"] <= VDAGENT_IDLE_PRIVATE_DIRTY_KIB, fp
        conn.close()
    finally:
        fp_agent.cleanup()
        fp_daemon.close()


def t_daemon_restart():
    """The daemon goes away and comes back: the agent reconnects and resyncs (HELLO + LAYOUT)."""
    global daemon
    state["conn"].close()
    daemon.close()
    time.sleep(1.0)  # the agent retries with backoff meanwhile
    daemon = vdipc.FakeDaemon(sock_path)
    t0 = time.monotonic()
    conn, layout = connect(timeout=15.0)
    state["conn"] = conn
    print("# reconnected %.2f s after the daemon came back" % (time.monotonic() - t0))
    assert layout_rects(layout) == {0: (1920, 1080, 0, 0)}, layout
    assert agent.proc.poll() is None


def t_malformed_frame():
    """A malformed frame (trailing bytes after SESSION_STATE) closes the link; the agent comes back."""
    conn = state["conn"]
    conn.send_raw(vdipc.frame(vdipc.S_SESSION_STATE, b"\x01\x00\xff"))
    frames = conn.wait_closed(5.0)
    assert any(t == vdipc.ERROR for t, _ in frames), frames
    conn.close()
    state["conn"], _ = connect()
    assert "malformed SESSION_STATE" in agent.log()


def t_bad_header():
    conn = state["conn"]
    conn.send_raw(struct.pack("<HHI", vdipc.S_SESSION_STATE, 7, 2) + b"\x01\x00")
    conn.wait_closed(5.0)
    conn.close()
    state["conn"], _ = connect()


def t_oversized_frame():
    conn = state["conn"]
    conn.send_raw(struct.pack("<HHI", vdipc.S_XFER_DATA, 0, vdipc.MAX_PAYLOAD + 1))
    conn.wait_closed(5.0)
    conn.close()
    state["conn"], _ = connect()


def t_hello_timeout():
    """A daemon that accepts but never says HELLO is left after VD_LINK_HELLO_TIMEOUT_MS (5 s)."""
    state["conn"].close()
    conn = daemon.accept(10.0, hello=False)
    t0 = time.monotonic()
    frames = conn.wait_closed(10.0)
    waited = time.monotonic() - t0
    assert [t for t, _ in frames] == [vdipc.HELLO], frames
    assert 4.5 <= waited <= 7.0, waited
    conn.close()
    state["conn"], _ = connect()


def t_frame_before_hello():
    state["conn"].close()
    conn = daemon.accept(10.0, hello=False)
    conn.send(vdipc.S_SESSION_STATE, active=True, locked=False)
    frames = conn.wait_closed(5.0)
    assert [t for t, _ in frames] == [vdipc.HELLO], frames
    conn.close()
    state["conn"], _ = connect()


def t_unknown_type_ignored():
    conn = state["conn"]
    conn.send_raw(vdipc.frame(200, b"future"))
    conn.send(vdipc.S_MONITORS_CONFIG, request_id=99, flags=0, monitors=[monitor(1920, 1080)])
    m = conn.expect(vdipc.S_MONITORS_RESULT, 5.0)
    assert m["request_id"] == 99 and m["result"] == vdipc.REPLY_SUCCESS, m
    settle_layout(conn)


def t_x_server_gone():
    x.stop()
    status = agent.wait(10.0)
    assert status == 0, "exit status %d\n%s" % (status, agent.log())
    assert "X server went away" in agent.log()


def t_version_mismatch():
    x2 = Xvfb(800, 600)
    try:
        state["conn"].close()
        a = Agent(x2.display, sock_path)
        try:
            conn = daemon.accept(10.0, hello=False)
            conn.send(vdipc.HELLO, **vdipc.hello_fields(vdipc.SESSION, version=(2, 0)))
            frames = conn.wait_closed(5.0)
            status = a.wait(10.0)
            assert status == 3, "exit status %d" % status
            assert any(t == vdipc.ERROR and vdipc.decode(vdipc.SESSION, t, p)["code"] == vdipc.ERR_VERSION
                       for t, p in frames), frames
            assert "incompatible" in a.log(), a.log()
        finally:
            a.cleanup()
    finally:
        x2.stop()


def refuse(conn, code, message, hello=True):
    """Plays vdagentd refusing an agent: HELLO (unless not), ERROR, hang up."""
    if hello:
        conn.send(vdipc.HELLO, **vdipc.hello_fields(vdipc.SESSION, "fake-daemon"))
    conn.send(vdipc.ERROR, code=code, message=message)
    conn.close()


def t_refused_backs_off():
    """A daemon that says HELLO, then refuses (another agent serves the session): the agent says why
    once and retries with a growing delay, not every half second."""
    x2 = Xvfb(800, 600)
    try:
        a = Agent(x2.display, sock_path)
        try:
            why = "another agent already serves this session"
            t0 = time.monotonic()
            times = []
            while time.monotonic() - t0 < 4.0:
                try:
                    conn = daemon.accept(max(0.1, 4.0 - (time.monotonic() - t0)), hello=False)
                except TimeoutError:
                    break
                times.append(time.monotonic() - t0)
                refuse(conn, vdipc.ERR_LIMIT, why)
            assert 2 <= len(times) <= 4, "connected at %s" % ["%.1f" % t for t in times]
            assert a.proc.poll() is None, a.log()
            lines = [l for l in a.log().splitlines() if why in l and "debug" not in l]
            assert len(lines) == 1, a.log()
        finally:
            a.cleanup()
            drain_backlog()
    finally:
        x2.stop()


def drain_backlog():
    """Connections of an agent that is gone, still waiting to be accepted."""
    while True:
        try:
            daemon.accept(0.2, hello=False).close()
        except TimeoutError:
            return


def t_version_error_without_hello():
    """An older or newer daemon may refuse a version it does not speak with ERROR(VERSION) alone,
    or after its HELLO: either way the agent exits 3 (incompatible) at once instead of retrying forever."""
    for hello in (False, True):
        x2 = Xvfb(800, 600)
        try:
            a = Agent(x2.display, sock_path)
            try:
                conn = daemon.accept(10.0, hello=False)
                refuse(conn, vdipc.ERR_VERSION, "unsupported session protocol", hello=hello)
                status = a.wait(10.0)
                assert status == 3, "exit status %d\n%s" % (status, a.log())
            finally:
                a.cleanup()
        finally:
            x2.stop()


def t_no_port_quiet():
    """Without --socket, on a machine with neither the agent port nor the daemon's socket."""
    if os.path.exists("/dev/virtio-ports/com.redhat.spice.0") or os.path.exists("/run/vdagentd/session.sock"):
        raise Skip("this machine has an agent port or a running vdagentd")
    p = subprocess.run([VDAGENT, "--foreground", "--display", ":4242"], capture_output=True, timeout=10,
                       env=dict(os.environ, DISPLAY=""))
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b"", p


def t_explicit_socket_waits():
    """--socket given: a daemon is expected, so the agent runs and keeps retrying."""
    x3 = Xvfb(640, 480)
    try:
        a = Agent(x3.display, os.path.join(tmp, "nobody-here.sock"))
        try:
            time.sleep(1.5)
            assert a.proc.poll() is None, a.log()
            assert "cannot connect" in a.log()
            assert a.stop() == 0
        finally:
            a.cleanup()
    finally:
        x3.stop()


def t_command_line():
    p = subprocess.run([VDAGENT, "--version"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and p.stdout.startswith("vdagent "), p
    p = subprocess.run([VDAGENT, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "--file-dir" in p.stdout and "--socket" in p.stdout, p
    p = subprocess.run([VDAGENT, "--no-such-option"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "no-such-option" in p.stderr, p
    p = subprocess.run([VDAGENT, "--foreground", "--socket", "/nonexistent", "--display", ":4243"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and "cannot open the X display" in p.stderr, p
    p = subprocess.run([VDAGENT, "--foreground", "--socket", "/tmp/" + "x" * 120], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 1 and "too long" in p.stderr, p


try:
    tap.run_all([
        ("HELLO from the agent", t_hello),
        ("initial LAYOUT matches xrandr", t_initial_layout),
        ("one monitor: CVT mode of ours, screen resized", t_one_monitor),
        ("our stale modes are removed", t_stale_mode_removed),
        ("Xvfb, two monitors: first applied, error reported", t_degraded_two_monitors),
        ("spice-gtk 0.42 config: 16 sparse entries + PHYSICAL_SIZE", t_spice_gtk_sparse),
        ("a config larger than the screen may be is refused", t_too_big),
        ("a config with nothing enabled is refused", t_nothing_enabled),
        ("absurd sizes and positions are refused", t_limits_refused),
        ("a RandR change by someone else is reported", t_external_change_reported),
        ("idle: zero wakeups, Private_Dirty <= 2 MiB", t_idle_footprint),
        ("daemon restart: reconnect, HELLO, LAYOUT", t_daemon_restart),
        ("malformed frame: ERROR, close, reconnect", t_malformed_frame),
        ("bad frame header: close, reconnect", t_bad_header),
        ("oversized frame: close, reconnect", t_oversized_frame),
        ("frame before HELLO: close, reconnect", t_frame_before_hello),
        ("no HELLO from the daemon within 5 s: close, reconnect", t_hello_timeout),
        ("unknown frame types are skipped", t_unknown_type_ignored),
        ("X server gone: exit 0", t_x_server_gone),
        ("daemon of another major version: ERROR, exit 2", t_version_mismatch),
        ("refused after HELLO: the reason said once, retries back off", t_refused_backs_off),
        ("ERROR(VERSION) with or without the daemon's HELLO: exit 3 (incompatible)", t_version_error_without_hello),
        ("no agent port, no socket: exit 0 quietly", t_no_port_quiet),
        ("--socket given: waits for the daemon", t_explicit_socket_waits),
        ("command line: --version, --help, bad option, no display", t_command_line),
        ("no agent logged a bug (failed argument check, impossible transition)", agentlib.assert_no_bugs),
    ])
finally:
    agent.cleanup()
    daemon.close()
    x.stop()
tap.finish()
