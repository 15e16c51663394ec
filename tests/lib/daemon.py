# SPDX-License-Identifier: GPL-3.0-or-later
"""daemon — the real vdagentd for integration tests (/usr/bin/python3, stdlib only): the one launcher.

vdagentd_argv() builds the usual command line: in the foreground with --debug, the agent port given
(a TestHost's socket, tests/lib/vdwire.py), the session and control sockets and --fake-uinput's file
in a temporary directory, session tracking off and no QGA port unless told. vdagentd_env() is the
one environment every test gives it. Vdagentd starts that command with its output in a log file,
waits for its session socket, reads the input events it writes, and stops it.

    host = vdwire.TestHost(os.path.join(tmp, "port.sock"))
    d = Vdagentd(host.path, tmp)             # or Vdagentd(..., tracking="logind", env=bus.env())
    d.wait_socket()
    host.accept(10); host.negotiate()
    ...
    d.stop()

run_cases() runs a daemon suite's case list with vdtest.Tap and checks the clean exit at the end.
"""

import os
import shutil
import struct
import subprocess
import tempfile
import time

from vdtest import read_text, sanitized, stop_process, wait_path

BUILD_ROOT = os.environ.get("VD_BUILD_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build"))
VDAGENTD = os.environ.get("VDAGENTD") or os.path.join(BUILD_ROOT, "src", "system", "vdagentd")

# struct input_event on 64-bit Linux: timeval (2 x long), type u16, code u16, value s32 (--fake-uinput).
EVENT = struct.Struct("<qqHHi")
EV_SYN, EV_KEY, EV_REL, EV_ABS = 0, 1, 2, 3
SYN_REPORT = 0
ABS_X, ABS_Y = 0, 1
REL_WHEEL, REL_WHEEL_HI_RES = 8, 11
BTN_LEFT, BTN_RIGHT, BTN_MIDDLE, BTN_SIDE, BTN_EXTRA = 0x110, 0x111, 0x112, 0x113, 0x114
AXIS_MAX = 32767


def pixel(value, size):
    """What X's evdev and libinput make of an axis value."""
    return value * size // (AXIS_MAX + 1)


def vdagentd_argv(port, socket, control, uinput, tracking="none", qga_port="none", extra=(), binary=VDAGENTD):
    """vdagentd's command line with the options every test gives it."""
    return [binary, "--foreground", "--debug", "--port", port, "--socket", socket, "--control", control,
            "--fake-uinput", "--uinput", uinput, "--session-tracking", tracking,
            "--qga-port", qga_port] + list(extra)


def vdagentd_env(env=None):
    """The test's environment without systemd's variables (they would be taken for the daemon's own),
    undefined behaviour fatal in sanitizer builds, then env's entries on top."""
    e = dict(os.environ)
    for name in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        e.pop(name, None)
    e.setdefault("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1")
    if env:
        e.update(env)
    return e


class Vdagentd:
    """vdagentd run by vdagentd_argv() with its files in directory tmp (session.sock, control.sock,
    uinput.events; its stdout and stderr in vdagentd.log, appended to across restarts). Without tmp
    it makes a temporary directory of its own, which cleanup() removes."""

    def __init__(self, port, tmp=None, tracking="none", qga_port="none", extra=(), env=None, binary=VDAGENTD):
        self.owns_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix="vdagentd-test-")
        self.port = port
        self.binary = binary
        self.socket = os.path.join(self.tmp, "session.sock")
        self.control = os.path.join(self.tmp, "control.sock")
        self.uinput = os.path.join(self.tmp, "uinput.events")
        self.log_path = os.path.join(self.tmp, "vdagentd.log")
        self.log = open(self.log_path, "ab")
        self.events_read = 0
        self.proc = subprocess.Popen(
            vdagentd_argv(port, self.socket, self.control, self.uinput, tracking, qga_port, extra, binary),
            env=vdagentd_env(env), stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

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

    def events(self, want=None, timeout=3.0):
        """New input_event records (type, code, value) since the last call; with want, waits until
        at least that many arrived."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.uinput, "rb") as f:
                f.seek(self.events_read * EVENT.size)
                data = f.read()
            n = len(data) // EVENT.size
            if want is None or n >= want or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.events_read += n
        out = []
        for i in range(n):
            sec, usec, t, c, v = EVENT.unpack_from(data, i * EVENT.size)
            out.append((t, c, v))
        return out

    def status(self, key):
        """A numeric field of /proc/PID/status (VmHWM, voluntary_ctxt_switches, …)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sanitized(self):
        """Whether memory figures mean nothing (an ASan build keeps freed memory in quarantine)."""
        return sanitized(self.binary)

    def criticals(self):
        """The log's critical lines ("vdagentd: critical: ..."): a failed argument check or a state
        transition that is a bug (g_critical). A suite asserts there are none."""
        return [line for line in self.log_text().splitlines() if ": critical: " in line]

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout seconds; -> True if it exited on SIGTERM. Its exit
        status is then in returncode."""
        clean = stop_process(self.proc, timeout)
        self.log.close()
        return clean

    @property
    def returncode(self):
        """Its exit status once it has exited (negative: the signal that ended it), else None."""
        return self.proc.poll()

    def cleanup(self):
        """stop(), and the temporary directory removed if it is ours."""
        self.stop()
        if self.owns_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def run_cases(tap, cases, daemon, host):
    """Runs (name, fn) cases against one daemon and test host, then checks that the daemon exits
    cleanly on SIGTERM; after any failure, the tail of its log goes out as TAP comments."""
    def exits_cleanly():
        assert rc == 0, "exit status %r" % rc
        assert not daemon.criticals(), daemon.criticals()

    try:
        for name, fn in cases:
            tap.run(name, fn)
    finally:
        daemon.stop()
        rc = daemon.returncode
        tap.run("exits cleanly on SIGTERM, no critical line in its log", exits_cleanly)
        if tap.failed:
            for line in daemon.log_text().splitlines()[-80:]:
                print("# log: " + line)
        daemon.cleanup()
        host.shutdown()
    tap.finish()
