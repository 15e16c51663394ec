#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""test-agent-autostart.py — the installed sway drop-in (data/sway, docs/autostart.md) starts the
session agent by itself in a real headless sway 1.7, as a throw-away user, and that agent serves
the clipboard both ways with wl-copy and wl-paste. TAP.

sway runs without -c: it reads this machine's Debian /etc/sway/config, whose
`include /etc/sway/config.d/*` is what the package relies on. It runs in a private mount namespace
(unshare, root) where three paths are stood in, nothing else, and nothing outside it changes:
/etc/sway/config.d holds only the drop-in as `meson install --destdir` installed it (not Debian's
50-systemd-user.conf); the drop-in's vdagent path (the build's prefix, /usr/local/bin by default) is
a link to the build's vdagent; /run/vdagentd holds a FakeDaemon (tests/lib/vdipc.py) playing a
connected host in place of vdagentd's socket.

Cases: no user manager (the drop-in's detached vdagent runs by itself and serves), and a user
manager (tests/lib/fake_user_manager.py in `run` mode stands in for it: the drop-in's vdagent must
hand over WAYLAND_DISPLAY and start vdagent.service; the stand-in then runs the unit's
`vdagent --foreground`, with --socket to the FakeDaemon since it runs outside the namespace, in
the environment it was given — so the agent finds sway only if the hand-over carried the display).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import cliplib
import vdipc
from cliplib import CLIP_CAPS, CLIPBOARD, UTF8_TEXT
from swayworld import Sway, need_sway
from vdtest import Skip, Tap, need_private_mount_ns, wait_for

VDAGENT = os.environ["VDAGENT"]
BUILD_ROOT = os.environ["VD_BUILD_ROOT"]
FAKE_MANAGER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "fake_user_manager.py")
TEXT = "from the drop-in's agent — ✓\n".encode()

# Run as root in the new mount namespace, then exec's sway's setpriv line ("$@" after shift 4).
NS_SETUP = ('[ -d /run/vdagentd ] || { mount -t tmpfs vd-run /run && mkdir /run/vdagentd; } && '
            'mount --bind "$1" /run/vdagentd && mount --bind "$2" /etc/sway/config.d && '
            'mount -t tmpfs vd-bin "$3" && ln -s "$4" "$3/vdagent" && shift 4 && exec "$@"')


class Installed:
    """`meson install --destdir`: the drop-in and the vdagent path it runs."""

    def __init__(self):
        need_sway()
        for tool in ("unshare", "mount"):
            if not shutil.which(tool):
                raise Skip("%s is not installed" % tool)
        if not os.path.isdir("/etc/sway/config.d"):
            raise Skip("this sway has no /etc/sway/config.d")
        need_private_mount_ns()
        self.root = tempfile.mkdtemp(prefix="vd-autostart-")
        r = subprocess.run(["meson", "install", "-C", BUILD_ROOT, "--no-rebuild", "--quiet", "--destdir", self.root],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        self.confd = os.path.join(self.root, "etc", "sway", "config.d")
        if not os.path.isfile(os.path.join(self.confd, "90-vdagent.conf")):
            raise Skip("built with -Dswayconfigdir= other than /etc/sway/config.d")
        text = open(os.path.join(self.confd, "90-vdagent.conf")).read()
        m = re.search(r"^exec (/\S+)/vdagent$", text, re.M)
        assert m, text
        self.bindir = m.group(1)
        if os.path.exists(os.path.join(self.bindir, "sway")) or os.path.exists(os.path.join(self.bindir, "sh")):
            raise Skip("the drop-in's vdagent is in %s, which the namespace cannot replace" % self.bindir)

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


class HostSide(cliplib.Session):
    """The FakeDaemon's end of an agent's connection (the agent was started by sway, not by us)."""

    def __init__(self, daemon, conn):
        self.daemon, self.conn, self.pending, self.proc = daemon, conn, [], None
        self.host_state(CLIP_CAPS, -1)
        self.conn.send(vdipc.S_SESSION_STATE, active=True, locked=False)


class World:
    def __init__(self, inst, manager):
        self.daemon_dir = tempfile.mkdtemp(prefix="vd-autostart-daemon-")
        os.chmod(self.daemon_dir, 0o755)
        self.sock = os.path.join(self.daemon_dir, "session.sock")
        self.daemon = vdipc.FakeDaemon(self.sock)
        os.chmod(self.sock, 0o777)  # the agent runs as sway's user
        self.manager = None
        wrap = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", NS_SETUP, "sh",
                self.daemon_dir, inst.confd, inst.bindir, VDAGENT]
        self.sway = Sway(system_config=True, wrap=wrap, before_start=self.start_manager if manager else None)
        self.host = None

    def start_manager(self, sway):
        """The user manager is up before the session starts, as pam_systemd makes it."""
        os.makedirs(os.path.join(sway.runtime, "systemd"), mode=0o700)
        os.chown(os.path.join(sway.runtime, "systemd"), sway.uid, sway.uid)
        self.calls_path = os.path.join(sway.runtime, "manager-calls.log")
        env = {k: sway.env[k] for k in ("PATH", "HOME", "XDG_RUNTIME_DIR", "LANG")}  # no display: only the hand-over's
        # sway's uid may not reach the source tree (a checkout under /root): it runs a copy.
        copy_dir = tempfile.mkdtemp(prefix="vd-autostart-manager-")
        os.chmod(copy_dir, 0o755)
        manager = shutil.copy(FAKE_MANAGER, copy_dir)
        os.chmod(manager, 0o644)
        self.manager = sway.popen(["/usr/bin/python3", manager, os.path.join(sway.runtime, "systemd", "private"),
                                   self.calls_path, "run", VDAGENT, "--foreground", "--debug", "--socket", self.sock],
                                  env=env, stdout=subprocess.PIPE, text=True)
        assert self.manager.stdout.readline().strip() == "ready"

    def calls(self):
        return [json.loads(line) for line in open(self.calls_path)]

    def unit_log(self):
        try:
            return open(self.calls_path + ".unit", errors="replace").read()
        except OSError:
            return ""

    def accept(self):
        try:
            conn = self.daemon.accept(timeout=20)
        except Exception as e:
            raise AssertionError("no agent connected to the daemon's socket (%s); sway's log:\n%s\nunit:\n%s"
                                 % (e, self.sway.log()[-3000:], self.unit_log()[-2000:] if self.manager else ""))
        self.host = HostSide(self.daemon, conn)
        return self.host

    def close(self):
        if self.host:
            self.host.conn.close()
        if self.manager:
            self.manager.terminate()
            self.manager.wait(15)
        self.sway.stop()
        self.daemon.close()
        shutil.rmtree(self.daemon_dir, ignore_errors=True)


def clipboard_both_ways(w):
    """A wl-copy in the session reaches the host, and the host's text reaches a wl-paste."""
    host, sway = w.host, w.sway
    owner = sway.popen(["wl-copy", "--foreground"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    owner.stdin.write(TEXT)
    owner.stdin.close()
    try:
        grab = host.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
        assert UTF8_TEXT in grab["types"], grab
        host.request(CLIPBOARD, UTF8_TEXT)
        assert host.recv_data(CLIPBOARD, 10) == (UTF8_TEXT, TEXT)
    finally:
        owner.terminate()
        owner.wait(10)
    host.expect(vdipc.S_CLIPBOARD_RELEASE, 10, selection=CLIPBOARD)
    back = "from the host\n".encode()
    host.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: b"text/plain" in sway.run(["wl-paste", "--list-types"], check=False).stdout, 10,
             what="the host's offer in sway's seat")
    paste = sway.popen(["wl-paste", "--no-newline"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    host.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
    host.send_data(CLIPBOARD, UTF8_TEXT, back)
    out, err = paste.communicate(timeout=30)
    assert out == back, (out, err)


def agent_pids(sway):
    def runs_vdagent(pid):
        try:
            return os.readlink("/proc/%d/exe" % pid) == os.path.realpath(VDAGENT)
        except OSError:  # gone meanwhile (the drop-in's vdagent after its hand-over)
            return False
    return [p for p in sway.leftovers() if runs_vdagent(p)]


def test_no_manager(inst):
    w = World(inst, manager=False)
    try:
        w.accept()
        # Started by sway through the drop-in, detached: not a child of ours, one process.
        pids = agent_pids(w.sway)
        assert len(pids) == 1, pids
        clipboard_both_ways(w)
    finally:
        w.close()


def test_user_manager(inst):
    w = World(inst, manager=True)
    try:
        w.accept()
        calls = w.calls()
        assert [c["method"] for c in calls] == ["UnsetAndSetEnvironment", "StartUnit"], calls
        assert "WAYLAND_DISPLAY=" + w.sway.display in calls[0]["args"][1], calls
        assert calls[1]["args"] == ["vdagent.service", "replace"], calls
        # The drop-in's own vdagent exited after the hand-over: the one agent is the unit's.
        wait_for(lambda: len(agent_pids(w.sway)) == 1, 10, what="one agent")
        assert 'started on Wayland display "%s"' % w.sway.display in w.unit_log(), w.unit_log()
        clipboard_both_ways(w)
    finally:
        w.close()


CASES = [("sway's drop-in starts the agent by itself (no user manager); it serves the clipboard", test_no_manager),
         ("sway's drop-in hands WAYLAND_DISPLAY to the user manager's vdagent.service, which serves the clipboard",
          test_user_manager)]
tap = Tap()
try:
    installed = Installed()
except Skip as e:
    for name, _ in CASES:
        tap.skip(name, str(e))
else:
    try:
        for name, fn in CASES:
            tap.run(name, fn, installed)
    finally:
        installed.close()
tap.finish()
