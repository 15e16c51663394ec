# SPDX-License-Identifier: GPL-3.0-or-later
"""daemon — the real vdagentd for integration tests (/usr/bin/python3, stdlib only).

vdagentd_argv() builds the usual command line: in the foreground with --debug, the agent port given
(a TestHost's socket, tests/lib/vdwire.py), the session and control sockets and --fake-uinput's file
in a temporary directory, session tracking off and no QGA port unless told. Vdagentd starts that
command with its output in a log file, waits for its session socket and stops it.

    host = vdwire.TestHost(os.path.join(tmp, "port.sock"))
    d = Vdagentd(host.path, tmp)             # or Vdagentd(..., tracking="logind", env=bus.env())
    host.accept(10); host.negotiate()
    d.wait_socket(10)
    ...
    d.stop()
"""

import os
import subprocess

from vdtest import read_text, stop_process, wait_path

BUILD_ROOT = os.environ.get("VD_BUILD_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build"))
VDAGENTD = os.environ.get("VDAGENTD") or os.path.join(BUILD_ROOT, "src", "system", "vdagentd")


def vdagentd_argv(port, socket, control, uinput, tracking="none", qga_port="none", extra=(), binary=VDAGENTD):
    """vdagentd's command line with the options every test gives it."""
    return [binary, "--foreground", "--debug", "--port", port, "--socket", socket, "--control", control,
            "--fake-uinput", "--uinput", uinput, "--session-tracking", tracking,
            "--qga-port", qga_port] + list(extra)


class Vdagentd:
    """vdagentd run by vdagentd_argv() with its files in directory tmp (session.sock, control.sock,
    uinput.events; its stdout and stderr in vdagentd.log, appended to across restarts)."""

    def __init__(self, port, tmp, tracking="none", qga_port="none", extra=(), env=None, binary=VDAGENTD):
        self.tmp = tmp
        self.socket = os.path.join(tmp, "session.sock")
        self.control = os.path.join(tmp, "control.sock")
        self.uinput = os.path.join(tmp, "uinput.events")
        self.log_path = os.path.join(tmp, "vdagentd.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            vdagentd_argv(port, self.socket, self.control, self.uinput, tracking, qga_port, extra, binary),
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def wait_socket(self, timeout=10.0, what="vdagentd did not listen on its session socket"):
        """Until the session socket exists; AssertionError(what) if the daemon exits or times out."""
        wait_path(self.socket, self.proc, timeout, what)

    def log_text(self):
        """Its log so far, plus its exit status once it has exited."""
        if not self.log.closed:
            self.log.flush()
        text = read_text(self.log_path)
        status = self.proc.poll()
        if status is not None:
            text += "\n(vdagentd has exited with status %d)" % status
        return text

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout seconds; -> True if it exited on SIGTERM."""
        clean = stop_process(self.proc, timeout)
        self.log.close()
        return clean
