#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""test-agent-launch.py — the session agent hands a detached start over to the user's systemd
manager (src/session/launch.c, docs/autostart.md): the real vdagent against a stand-in for the
manager's private socket (tests/lib/fake_user_manager.py), which records the calls it gets.

Asserted: a detached start passes the display (and XAUTHORITY) with UnsetAndSetEnvironment, an X
display as DISPLAY and a Wayland one as WAYLAND_DISPLAY, unsetting the other kind's name when the
session has none; it starts vdagent.service and exits 0; a manager without the unit, or no manager at all, leaves the agent
running where it was started; a masked unit means no agent; --foreground, --socket and a start by
systemd itself ($INVOCATION_ID) never ask the manager."""
import json
import os
import subprocess
import sys
import tempfile
import time

from vdtest import Tap

VDAGENT = os.environ["VDAGENT"]
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "fake_user_manager.py")
tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-launch-")


class Manager:
    def __init__(self, name, mode):
        self.runtime = os.path.join(tmp, name)
        os.makedirs(os.path.join(self.runtime, "systemd"), mode=0o700)
        self.log = os.path.join(self.runtime, "calls.log")
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE, os.path.join(self.runtime, "systemd", "private"),
                                      self.log, mode], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def calls(self):
        if not os.path.exists(self.log):
            return []
        return [json.loads(line) for line in open(self.log)]

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


def agent(runtime, *args, **env):
    base = {"PATH": "/usr/bin:/bin", "HOME": tmp, "DISPLAY": ":77", "XDG_RUNTIME_DIR": runtime}
    base.update(env)
    return subprocess.run([VDAGENT, "--debug"] + list(args), capture_output=True, text=True, timeout=20,
                          env={k: v for k, v in base.items() if v is not None})


def test_handed_over():
    m = Manager("ok", "ok")
    try:
        t0 = time.monotonic()
        r = agent(m.runtime, XAUTHORITY="/home/alice/.Xauthority")
        took = time.monotonic() - t0
        calls = m.calls()
    finally:
        m.close()
    assert r.returncode == 0, r
    assert [c["method"] for c in calls] == ["UnsetAndSetEnvironment", "StartUnit"], calls
    assert calls[0]["path"] == "/org/freedesktop/systemd1", calls
    assert calls[0]["args"] == [["WAYLAND_DISPLAY"], ["DISPLAY=:77", "XAUTHORITY=/home/alice/.Xauthority"]], calls
    assert calls[1]["args"] == ["vdagent.service", "replace"], calls
    assert 'X11 display ":77" handed to the systemd user manager\'s vdagent.service' in r.stderr, r.stderr
    # It never got as far as the X display (there is none at :77).
    assert "X display" not in r.stderr and took < 5, (r.stderr, took)


def test_display_option():
    m = Manager("display", "ok")
    try:
        r = agent(m.runtime, "--display", ":5", DISPLAY=None)
        calls = m.calls()
    finally:
        m.close()
    assert r.returncode == 0 and calls and calls[0]["args"] == [["WAYLAND_DISPLAY"], ["DISPLAY=:5"]], (r, calls)


def test_wayland():
    """A Wayland session's start (sway's drop-in: WAYLAND_DISPLAY, no Xwayland) hands over its
    socket as WAYLAND_DISPLAY and unsets a DISPLAY the manager may hold from another session."""
    m = Manager("wayland", "ok")
    try:
        r = agent(m.runtime, DISPLAY=None, WAYLAND_DISPLAY="wayland-3")
        calls = m.calls()
    finally:
        m.close()
    assert r.returncode == 0 and [c["method"] for c in calls] == ["UnsetAndSetEnvironment", "StartUnit"], (r, calls)
    assert calls[0]["args"] == [["DISPLAY"], ["WAYLAND_DISPLAY=wayland-3"]], calls
    assert 'Wayland display "wayland-3" handed to the systemd user manager\'s vdagent.service' in r.stderr, r.stderr


def test_wayland_display_option():
    """--display with a Wayland socket name goes over as WAYLAND_DISPLAY, never as DISPLAY; the
    session's X display (Xwayland's) goes with it."""
    m = Manager("wldisplay", "ok")
    try:
        r = agent(m.runtime, "--display", "wayland-7")
        calls = m.calls()
    finally:
        m.close()
    assert r.returncode == 0 and calls, (r, calls)
    assert calls[0]["args"] == [[], ["WAYLAND_DISPLAY=wayland-7", "DISPLAY=:77"]], calls


def test_no_unit_runs_here():
    m = Manager("nounit", "nosuchunit")
    try:
        r = agent(m.runtime)
        calls = m.calls()
    finally:
        m.close()
    assert [c["method"] for c in calls] == ["UnsetAndSetEnvironment", "StartUnit"], calls
    assert "has no vdagent.service: running here" in r.stderr, r.stderr
    # Running here, on this machine without the agent's port or daemon: the usual quiet exit.
    assert r.returncode == 0 and "no agent on this machine" in r.stderr, r


def test_masked():
    m = Manager("masked", "masked")
    try:
        r = agent(m.runtime)
    finally:
        m.close()
    assert r.returncode == 0 and "vdagent.service is masked for this user: no session agent" in r.stderr, r
    assert "no agent on this machine" not in r.stderr, r.stderr


def test_no_manager_runs_here():
    runtime = os.path.join(tmp, "nomanager")
    os.makedirs(runtime, mode=0o700)
    r = agent(runtime)
    assert r.returncode == 0 and "no systemd user manager" in r.stderr and "no agent on this machine" in r.stderr, r


def test_not_asked():
    m = Manager("notasked", "ok")
    try:
        for args, env in ((["--foreground"], {}), ([], {"INVOCATION_ID": "0123456789abcdef0123456789abcdef"}),
                          (["--socket", os.path.join(tmp, "none.sock")], {})):
            r = agent(m.runtime, *args, **env)
            assert m.calls() == [], (args, env, m.calls(), r.stderr)
    finally:
        m.close()


def test_own_options_run_here():
    m = Manager("options", "ok")
    try:
        r = agent(m.runtime, "--open-dir", "-f", "xdg-desktop")
        calls = m.calls()
    finally:
        m.close()
    assert calls == [], calls
    assert "--file-dir given: running here, not handing over to the systemd user manager's vdagent.service" \
        in r.stderr, r.stderr
    assert r.returncode == 0 and "no agent on this machine" in r.stderr, r


tap.run("a detached start hands the display to the user manager and starts vdagent.service", test_handed_over)
tap.run("--display is the display handed over", test_display_option)
tap.run("a Wayland session's start hands over WAYLAND_DISPLAY and unsets DISPLAY", test_wayland)
tap.run("--display wayland-N is handed over as WAYLAND_DISPLAY, with Xwayland's DISPLAY", test_wayland_display_option)
tap.run("a manager without vdagent.service: the agent runs where it was started", test_no_unit_runs_here)
tap.run("vdagent.service masked: no agent at all", test_masked)
tap.run("no user manager: the agent runs where it was started", test_no_manager_runs_here)
tap.run("--foreground, --socket, or started by systemd: the manager is not asked", test_not_asked)
tap.run("options the unit would not see (-f, --open-dir …): the agent runs where it was started", test_own_options_run_here)
tap.finish()
