#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""test-agent-ext-datacontrol.py — the real vdagent's ext-data-control-v1 path, which no Debian 12
compositor offers, against tests/session/wl-dc-server.c: a test-only Wayland server (libwayland-
server) with one wl_seat and ext_data_control_manager_v1, keeping a clipboard and a primary
selection as a compositor does. TAP.

Stood in: the compositor (the server offers no outputs, no input, no surfaces) and the other
applications (the server's own selections play a copying application; its `paste` command plays a
pasting one); the protocol XML is the project's copy (src/session/protocols, Debian 12's
wayland-protocols 1.31 predates ext-data-control-v1), so the server checks the agent against the
same reading of the protocol. Real: the agent, libwayland on both sides and the wire between them,
and the agent's link to a FakeDaemon playing a connected host.

Also the limit VD_WL_MIMES_MAX (256 MIME types kept per offer): an offer whose text type is the
257th is not announced to the host as text, one whose text type is the 256th is.
"""

import os
import shutil
import subprocess
import tempfile

import vdipc
from cliplib import CLIPBOARD, PRIMARY, UTF8_TEXT, Tap
from vdtest import wait_for
from wlagent import WlSession

SERVER = os.environ["WL_DC_SERVER"]
TEXT_MIME = "text/plain;charset=utf-8"
SELS = {CLIPBOARD: "clipboard", PRIMARY: "primary"}


class DcServer:
    """wl-dc-server on a private XDG_RUNTIME_DIR; offers what WlSession needs of a compositor (dir,
    env, popen)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vd-extdc-")
        self.runtime = os.path.join(self.dir, "run")
        os.mkdir(self.runtime, 0o700)
        self.display = "wayland-extdc-%d" % os.getpid()
        self.env = {"PATH": "/usr/bin:/bin", "HOME": self.dir, "XDG_RUNTIME_DIR": self.runtime,
                    "WAYLAND_DISPLAY": self.display, "LANG": "C.UTF-8"}
        self.proc = subprocess.Popen([SERVER, self.display], env=self.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout.readline().strip() == "ready"

    def popen(self, argv, **kw):
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.dir)
        return subprocess.Popen(argv, **kw)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def line(self, prefix):
        """The server's next output line starting with prefix (others are skipped)."""
        while True:
            got = self.proc.stdout.readline()
            assert got, "wl-dc-server exited"
            if got.startswith(prefix):
                return got.rstrip("\n")

    def copy(self, sel, data, mimes):
        """-> the server's lines before it said it copied ("cancelled" when a source lost)."""
        self.send("copy %s %s %s" % (SELS[sel], data.hex(), " ".join(mimes)))
        before = []
        while True:
            got = self.proc.stdout.readline()
            assert got, "wl-dc-server exited"
            if got.startswith("copied "):
                return before
            before.append(got.rstrip("\n"))

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Env:
    def __init__(self):
        self.server = DcServer()
        self.s = WlSession(self.server)

    def stop(self):
        problem = self.s.stop()
        self.server.stop()
        assert problem is None, problem


def quiet(s):
    s.pending = []
    while True:
        try:
            s.conn.recv(0.3)
        except TimeoutError:
            return


def case_binds_ext(env):
    wait_for(lambda: "clipboard through ext-data-control-v1 version 1" in env.s.log(), 5,
             what="the agent's choice of data control")


def app_to_host(env, sel):
    data = ("an application's %s — ✓\n" % SELS[sel]).encode()
    env.server.copy(sel, data, [TEXT_MIME, "text/plain"])
    g = env.s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=sel)
    assert UTF8_TEXT in g["types"], g
    env.s.request(sel, UTF8_TEXT)
    assert env.s.recv_data(sel, 10) == (UTF8_TEXT, data)


def host_to_app(env, sel):
    data = ("the host's %s ✓" % SELS[sel]).encode()
    env.s.grab(sel, [UTF8_TEXT])
    offered = env.server.line("selection %s" % SELS[sel]).split()[2:]
    assert TEXT_MIME in offered, offered
    env.server.send("paste %s %s" % (SELS[sel], TEXT_MIME))
    env.s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=sel, type=UTF8_TEXT)
    env.s.send_data(sel, UTF8_TEXT, data)
    pasted = env.server.line("pasted %s" % SELS[sel]).split()
    assert len(pasted) == 3 and bytes.fromhex(pasted[2]) == data, pasted


def case_clipboard_both_ways(env):
    app_to_host(env, CLIPBOARD)
    host_to_app(env, CLIPBOARD)


def case_primary_both_ways(env):
    app_to_host(env, PRIMARY)
    host_to_app(env, PRIMARY)


def case_replaced(env):
    """The host's selection, replaced by an application's: the agent's source is cancelled and the
    host hears of the new owner; cleared, the host hears RELEASE."""
    env.s.grab(CLIPBOARD, [UTF8_TEXT])
    env.server.line("selection clipboard")
    quiet(env.s)
    assert "cancelled" in env.server.copy(CLIPBOARD, b"newer", [TEXT_MIME])
    g = env.s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    assert UTF8_TEXT in g["types"], g
    env.server.send("clear clipboard")
    env.s.expect(vdipc.S_CLIPBOARD_RELEASE, 10, selection=CLIPBOARD)


def junk(n):
    return ["application/x-vd-test-%d" % i for i in range(n)]


def case_mimes_limit(env):
    """256 MIME types are kept per offer: text as the 256th is announced, as the 257th it is not
    (and the agent says once what it ignored)."""
    quiet(env.s)
    env.server.copy(CLIPBOARD, b"kept", junk(255) + [TEXT_MIME])
    g = env.s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    assert UTF8_TEXT in g["types"], g
    assert "more than 256 MIME types" not in env.s.log()
    env.server.copy(CLIPBOARD, b"lost", junk(256) + [TEXT_MIME] + junk(43))
    # Nothing bridgeable is left in the first 256: the host hears the selection went away.
    env.s.expect(vdipc.S_CLIPBOARD_RELEASE, 10, selection=CLIPBOARD)
    wait_for(lambda: 'more than 256 MIME types: "%s" and the rest ignored' % TEXT_MIME in env.s.log(), 5,
             what="the agent's log line")
    assert env.s.log().count("more than 256 MIME types") == 1, env.s.log().count("more than 256 MIME types")


tap = Tap()
env = Env()
try:
    for name, fn in [("the agent takes ext-data-control-v1", case_binds_ext),
                     ("clipboard: application -> host and host -> application", case_clipboard_both_ways),
                     ("PRIMARY: application -> host and host -> application", case_primary_both_ways),
                     ("the host's selection replaced by an application's, then cleared", case_replaced),
                     ("VD_WL_MIMES_MAX: the 256th MIME type counts, the 257th is ignored", case_mimes_limit)]:
        tap.run(name, fn, env)
finally:
    env.stop()
tap.finish()
