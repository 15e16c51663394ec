# SPDX-License-Identifier: GPL-3.0-or-later
"""agentlib — running the real `vdagent` for tests: the agent process, its /proc figures, and the
fake daemon's side of monitor configs and layouts. /usr/bin/python3, stdlib only. X servers are
tests/lib/xserver.py's, TAP and waiting tests/lib/vdtest.py's.
"""

import atexit
import fcntl
import os
import shutil
import subprocess
import tempfile
import time

import vdipc
from vdtest import proc_status, stop_process, wait_for  # noqa: F401 - proc_status, wait_for: bench/files'
from xserver import Xvfb  # noqa: F401 - bench/files imports it from here

BUILD_ROOT = os.environ.get("VD_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "../../build"))
VDAGENT = os.environ.get("VDAGENT", os.path.join(BUILD_ROOT, "src/session/vdagent"))

# GIOErrorEnum values the agent reports in XFER_STATUS details.
GIO_EXISTS = 2
GIO_INVALID_FILENAME = 10
GIO_NO_SPACE = 12
GIO_TOO_MANY_OPEN_FILES = 31
GIO_INVALID_DATA = 35


_agents = []  # every Agent this run started, for assert_no_bugs()


def bug_lines(log):
    """The lines of an agent's log that are bugs: a failed argument check (GLib's "assertion '...'
    failed") or an impossible state transition ("BUG:"), both logged as critical by
    src/common/log.c. Other critical lines are runtime errors some cases provoke on purpose."""
    return [line for line in log.splitlines()
            if ": critical: " in line and ("BUG:" in line or "assertion '" in line)]


def assert_no_bugs():
    """A case for the end of a suite: no agent it started logged a bug."""
    bugs = [line for a in _agents for line in a.bugs()]
    assert not bugs, "\n".join(bugs)


class Agent:
    """The real vdagent in the foreground, its stderr in a log file."""

    def __init__(self, display, socket_path=None, file_dir=None, args=(), env=None, debug=True):
        _agents.append(self)
        self.seen_bugs = []
        self.tmp = tempfile.mkdtemp(prefix="vd-agent-")
        self.log_path = os.path.join(self.tmp, "vdagent.log")
        argv = [VDAGENT, "--foreground"]
        if display:
            argv += ["--display", display]
        if socket_path:
            argv += ["--socket", socket_path]
        if file_dir:
            argv += ["--file-dir", file_dir]
        if debug:
            argv += ["--debug"]
        argv += list(args)
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "wb"), env=e)
        atexit.register(self.cleanup)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def bugs(self):
        """bug_lines() of the log, remembered once cleanup() has removed it."""
        if os.path.exists(self.log_path):
            self.seen_bugs = bug_lines(self.log())
        return self.seen_bugs

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def stop(self):
        """Terminates the agent; returns its exit status."""
        stop_process(self.proc, 10)
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        self.bugs()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wakeups(pid):
    """Context switches (voluntary + involuntary) of all the process's threads so far."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
    return total


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def recv_until(conn, msg_type, timeout=5.0):
    """Reads messages until one of msg_type comes; returns it and the others seen before it."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        t, m = conn.recv(max(0.01, deadline - time.monotonic()))
        if t == msg_type:
            return m, seen
        seen.append((t, m))


def settle_layout(conn, first=None, quiet=0.3):
    """The last LAYOUT among those arriving until the link is quiet for `quiet` seconds."""
    last = first
    while True:
        try:
            t, m = conn.recv(quiet)
        except TimeoutError:
            return last
        if t == vdipc.S_LAYOUT:
            last = m
        else:
            raise AssertionError("unexpected %s while waiting for layouts: %r" %
                                 (vdipc.type_name(vdipc.SESSION, t), m))


def monitor(width, height, x=0, y=0, mm_width=0, mm_height=0, depth=32):
    return dict(width=width, height=height, depth=depth, x=x, y=y, mm_width=mm_width, mm_height=mm_height)


def apply_config(conn, monitors, flags=0, request_id=1, timeout=10.0):
    """Sends MONITORS_CONFIG; -> (result, settled layout)."""
    conn.send(vdipc.S_MONITORS_CONFIG, request_id=request_id, flags=flags, monitors=monitors)
    m, _ = recv_until(conn, vdipc.S_MONITORS_RESULT, timeout)
    assert m["request_id"] == request_id, m
    layout = conn.expect(vdipc.S_LAYOUT, timeout)
    return m["result"], settle_layout(conn, layout)


def layout_rects(layout):
    return {d["display_id"]: (d["width"], d["height"], d["x"], d["y"]) for d in layout["displays"]}


def lock_file(path):
    """Opens and flocks path (as a live agent would its temporary); returns the fd."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd
