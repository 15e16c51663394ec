# SPDX-License-Identifier: GPL-3.0-or-later
"""sessionworld — vdagentd with logind session tracking and agents of several users, for tests.

World: the real vdagentd (tests/lib/daemon.py) with --session-tracking logind against a private
system bus where python3-dbusmock plays logind (tests/lib/logind.py), its port to a TestHost
(tests/lib/vdwire.py); test agents connect as throw-away uids (agent_proc.py under
`setpriv --reuid`), each one's pid mapped in the mock to its session, so that the daemon's
GetSessionByPID answers as logind would. Shared by tests/sessions and tests/ctl; needs root to
switch uids and python3-dbusmock.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import vdipc
import vdwire
from daemon import Vdagentd
from logind import LogindMock
from vdtest import received_within

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT_PROC = os.path.join(HERE, "agent_proc.py")
# What the host announces: spice-gtk's capabilities without grab serials (their rule is tested
# elsewhere; here it would only add bookkeeping).
HOST_CAPS = vdwire.SPICE_GTK_CAPS & ~(1 << vdwire.CAP_CLIPBOARD_GRAB_SERIAL)
TEXT = vdwire.CLIPBOARD_UTF8_TEXT


def free_uids(n, start=61001):
    """n uids with no passwd entry: throw-away identities for the test agents."""
    out = []
    uid = start
    while len(out) < n:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            out.append(uid)
        uid += 1
    return out


ALICE, BOB, CAROL = free_uids(3)


class World:
    """One daemon, one host, one logind mock with two users on seat0: alice (session 1, active)
    and bob (session 2)."""

    def __init__(self, bus, sessions=(("1", ALICE, "alice", True), ("2", BOB, "bob", False))):
        self.bus = bus
        self.children = []
        self.conns = []
        self.dir = tempfile.mkdtemp(prefix="vd-sessions-")
        os.chmod(self.dir, 0o755)  # the agents' uids must reach the socket
        # The agents' uids may not reach the source tree (a checkout under /root): run a copy.
        self.agent_proc = os.path.join(self.dir, "agent_proc.py")
        shutil.copy(AGENT_PROC, self.agent_proc)
        os.chmod(self.agent_proc, 0o644)
        self.sessions = [(sid, "seat0", uid, name, active) for sid, uid, name, active in sessions]
        self.logind = LogindMock(bus, self.sessions)
        self.host = vdwire.TestHost(os.path.join(self.dir, "port.sock"))
        self.daemon = Vdagentd(self.host.path, self.dir, tracking="logind", env=bus.env())
        self.socket = self.daemon.socket
        self.control = self.daemon.control
        self.host.accept(10)
        self.host.negotiate(HOST_CAPS)
        self.daemon.wait_socket(10)

    # --- agents ---

    def connect(self, uid, session_id, count=1, user_service=False, path=None):
        """count connections to the session socket (or to path) from one new process running as
        uid, whose pid logind (the mock) says is in session_id (None: in no session). user_service:
        in no session, but uid's (as a process of uid's service manager is)."""
        ours, theirs = socket.socketpair()
        argv = ["/usr/bin/python3", self.agent_proc, path or self.socket, str(count)]
        if uid != 0:
            argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + argv
        child = subprocess.Popen(argv, stdin=theirs.fileno(), close_fds=True, cwd=self.dir)
        theirs.close()
        self.children.append((child, ours))
        if session_id is not None:
            self.logind.map_pid(child.pid, session_id)
        if user_service:
            self.logind.map_user_pid(child.pid, uid)
        ours.settimeout(10)
        ours.sendall(b"go\n")
        _, anc, _, _ = ours.recvmsg(16, socket.CMSG_SPACE(4 * count))
        fds = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(memoryview(data).cast("i"))
        assert len(fds) == count, "agent_proc sent %d sockets, not %d" % (len(fds), count)
        conns = [vdipc.Connection(socket.socket(fileno=fd), vdipc.SESSION) for fd in fds]
        self.conns += conns
        return conns

    def agent(self, uid, session_id):
        """A greeted agent; raises vdipc.PeerError if the daemon refuses it."""
        conn = self.connect(uid, session_id)[0]
        conn.hello(software="test-agent uid %d" % uid)
        return conn

    # --- host side ---

    def _host_caps(self, payload):
        """The guest (re)announced its capabilities: answer a request, follow the negotiation."""
        caps = vdwire.parse_announce_caps(payload)
        self.host.guest_caps = caps["caps"]
        self.host.neg = caps["caps"] & vdwire.Caps(HOST_CAPS)
        if caps["request"]:
            self.host.announce_caps(HOST_CAPS, request=False)

    def host_wait(self, type_, timeout=5.0, pred=None):
        """The host's next message of type_ (for which pred holds), answering capability
        announcements on the way."""
        deadline = time.monotonic() + timeout
        while True:
            t, payload = self.host.recv_message(max(0.01, deadline - time.monotonic()))
            if t == vdwire.MSG_ANNOUNCE_CAPABILITIES:
                self._host_caps(payload)
                if type_ != t:
                    continue
            if t == type_ and (pred is None or pred(payload)):
                return payload

    def host_clipboard_ready(self, timeout=5.0):
        """Waits until the daemon announces clipboard support (it does once an agent of the active
        session is there), so that host messages are framed as negotiated."""
        if self.host.neg.has(vdwire.CAP_CLIPBOARD_BY_DEMAND):
            return
        self.host_wait(vdwire.MSG_ANNOUNCE_CAPABILITIES, timeout,
                       lambda p: vdwire.parse_announce_caps(p)["caps"].has(vdwire.CAP_CLIPBOARD_BY_DEMAND))

    def host_quiet(self, types, seconds=0.7):
        """Fails if the host receives a message of one of types within seconds."""
        for t, payload in received_within(self.host.recv_message, seconds):
            if t == vdwire.MSG_ANNOUNCE_CAPABILITIES:
                self._host_caps(payload)
            assert t not in types, "the host unexpectedly got %s" % vdwire.MSG_NAMES.get(t, t)

    def host_grab(self, types=(TEXT,)):
        self.host_clipboard_ready()
        self.host.send_message(vdwire.MSG_CLIPBOARD_GRAB,
                               vdwire.build_clipboard_grab(list(types), neg=self.host.neg))

    def daemon_log_text(self):
        return self.daemon.log_text()

    def close(self):
        for c in self.conns:
            c.close()
        for child, ours in self.children:
            ours.close()
        for child, _ in self.children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.daemon.stop(10)
        self.host.shutdown()
        self.logind.stop()
        for f in os.listdir(self.dir):
            try:
                os.unlink(os.path.join(self.dir, f))
            except OSError:
                pass
        os.rmdir(self.dir)


# --- agent side helpers ---

def wait_msg(conn, type_, timeout=5.0, pred=None):
    """The agent's next message of type_ (matching pred), skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        t, m = conn.recv(max(0.01, deadline - time.monotonic()))
        if t == vdipc.ERROR:
            raise vdipc.PeerError(m["code"], m["message"])
        if t == type_ and (pred is None or pred(m)):
            return m
