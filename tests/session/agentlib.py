"""agentlib — running the real `vdagent` for tests: X servers (Xvfb, Xorg with the dummy driver),
the agent process, xrandr parsing, and a small TAP runner. /usr/bin/python3, stdlib only.
"""

import atexit
import fcntl
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import vdipc

BUILD_ROOT = os.environ.get("VD_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE_ROOT = os.environ.get("VD_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "../.."))
VDAGENT = os.environ.get("VDAGENT", os.path.join(BUILD_ROOT, "src/session/vdagent"))
XORG_CONF = os.path.join(SOURCE_ROOT, "tests/session/xorg-dummy.conf")

# GIOErrorEnum values the agent reports in XFER_STATUS details.
GIO_EXISTS = 2
GIO_INVALID_FILENAME = 10
GIO_NO_SPACE = 12
GIO_TOO_MANY_OPEN_FILES = 31
GIO_INVALID_DATA = 35


class Skip(Exception):
    pass


class Tap:
    """Runs cases in order; each prints `ok N - name` or `not ok N - name` (+ diagnostics)."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def run(self, name, fn, *args):
        self.n += 1
        try:
            fn(*args)
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (self.n, name, e), flush=True)
            return True
        except Exception:  # noqa: BLE001 - any failure is the case's failure
            self.failed += 1
            print("not ok %d - %s" % (self.n, name), flush=True)
            for line in traceback.format_exc().splitlines():
                print("# " + line, flush=True)
            return False
        print("ok %d - %s" % (self.n, name), flush=True)
        return True

    def finish(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def wait_for(pred, timeout=5.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _read_displayfd(proc, r, timeout, what):
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise RuntimeError("%s did not start" % what)
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 64)
            if not chunk:
                raise RuntimeError("%s closed its display fd" % what)
            buf += chunk
    return ":" + buf.decode().strip()


class XServer:
    def __init__(self):
        self.proc = None
        self.display = None
        self.tmp = tempfile.mkdtemp(prefix="vd-x-")

    def _start(self, argv, what, timeout=15.0):
        r, w = os.pipe()
        self.proc = subprocess.Popen(argv + ["-displayfd", str(w)], pass_fds=(w,), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmp, "stderr"), "wb"))
        os.close(w)
        atexit.register(self.stop)  # even when the test dies before its own cleanup
        try:
            self.display = _read_displayfd(self.proc, r, timeout, what)
        finally:
            os.close(r)

    def env(self):
        e = dict(os.environ)
        e["DISPLAY"] = self.display
        return e

    def xrandr(self, *args):
        return subprocess.run(["xrandr", "--display", self.display] + list(args), check=True,
                              capture_output=True, text=True, timeout=20).stdout

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Xvfb(XServer):
    def __init__(self, width=1920, height=1080):
        super().__init__()
        if not shutil.which("Xvfb"):
            raise Skip("Xvfb is not installed")
        self._start(["Xvfb", "-nolisten", "tcp", "-noreset", "-screen", "0", "%dx%dx24" % (width, height)], "Xvfb")


class XorgDummy(XServer):
    """Xorg with the dummy driver (16 outputs); needs root and xserver-xorg-video-dummy."""

    def __init__(self):
        super().__init__()
        if os.geteuid() != 0:
            raise Skip("Xorg with the dummy driver needs root")
        if not shutil.which("Xorg") or not os.path.exists("/usr/lib/xorg/modules/drivers/dummy_drv.so"):
            raise Skip("Xorg or its dummy driver is not installed")
        self._start(["Xorg", "-config", XORG_CONF, "-noreset", "-nolisten", "tcp", "-novtswitch", "-sharevts",
                     "-logfile", os.path.join(self.tmp, "Xorg.log")], "Xorg (dummy)", timeout=30.0)


def parse_xrandr(text):
    """-> (screen (w, h), {output: (w, h, x, y) or None for off})."""
    screen = None
    outputs = {}
    for line in text.splitlines():
        m = re.match(r"Screen \d+: .*current (\d+) x (\d+)", line)
        if m:
            screen = (int(m.group(1)), int(m.group(2)))
            continue
        m = re.match(r"(\S+) (connected|disconnected)(?: primary)? (\d+)x(\d+)\+(\d+)\+(\d+)", line)
        if m:
            outputs[m.group(1)] = tuple(int(m.group(i)) for i in (3, 4, 5, 6))
            continue
        m = re.match(r"(\S+) (connected|disconnected)", line)
        if m:
            outputs[m.group(1)] = None
    return screen, outputs


class Agent:
    """The real vdagent in the foreground, its stderr in a log file."""

    def __init__(self, display, socket_path=None, file_dir=None, args=(), env=None, debug=True):
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

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def stop(self):
        """Terminates the agent; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
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


def proc_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


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
