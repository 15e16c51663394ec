# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by the vdagentd integration tests: start the real daemon on a test host's socket port,
read what it writes to --fake-uinput, count TAP results, look at its /proc figures."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

VDAGENTD = os.environ.get("VDAGENTD") or os.path.join(os.environ.get("VD_BUILD_ROOT", "build"),
                                                      "src", "system", "vdagentd")

# struct input_event on 64-bit Linux: timeval (2 x long), type u16, code u16, value s32.
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


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def run(self, name, fn, *args):
        self.n += 1
        try:
            fn(*args)
        except Exception:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        else:
            print("ok %d - %s" % (self.n, name))
        sys.stdout.flush()

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why))

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


class Daemon:
    """vdagentd with --fake-uinput, session tracking off unless told, no qga, in a temp dir."""

    def __init__(self, port, tracking="none", extra=(), env=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="vdagentd-test-")
        self.port = port
        self.socket = os.path.join(self.tmp, "session.sock")
        self.uinput = os.path.join(self.tmp, "uinput.events")
        self.log_path = os.path.join(self.tmp, "vdagentd.log")
        self.log = open(self.log_path, "w")
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        e.pop("LISTEN_FDS", None)
        # In sanitizer builds, undefined behaviour must fail the test, not just print.
        e.setdefault("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1")
        if env:
            e.update(env)
        argv = [VDAGENTD, "--port", port, "--socket", self.socket, "--fake-uinput", "--uinput", self.uinput,
                "--session-tracking", tracking, "--qga-port", "none", "--control",
                os.path.join(self.tmp, "control.sock"), "--foreground", "--debug"] + list(extra)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=e)
        self.events_read = 0
        deadline = time.monotonic() + 5
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("vdagentd did not start:\n" + self.log_text())
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

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
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def sanitized(self):
        """ASan keeps freed memory in quarantine: RSS figures mean nothing then."""
        with open("/proc/%d/maps" % self.pid) as f:
            return "libasan" in f.read()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_cases(tap, cases, daemon, host):
    """Runs (name, fn) cases against one daemon and test host, then checks that the daemon exits
    cleanly on SIGTERM; after any failure, the tail of its log goes out as TAP comments."""
    def exits_cleanly():
        assert rc == 0, "exit status %r" % rc

    try:
        for name, fn in cases:
            tap.run(name, fn)
    finally:
        rc = daemon.stop()
        tap.run("exits cleanly on SIGTERM", exits_cleanly)
        if tap.failed:
            for line in daemon.log_text().splitlines()[-80:]:
                print("# log: " + line)
        daemon.cleanup()
        host.shutdown()
    tap.done()
