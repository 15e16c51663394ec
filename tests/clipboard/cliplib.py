# SPDX-License-Identifier: GPL-3.0-or-later
"""cliplib — the clipboard tests' and benchmark's harness (/usr/bin/python3, stdlib only).

Runs the real `vdagent` under a private Xvfb against a FakeDaemon (tests/lib/vdipc.py) and drives X
selections with real clients (xclip, xsel, and tests/clipboard/clip-probe for what they cannot ask:
TIMESTAMP, MULTIPLE, exact refusals). TAP, waiting and processes are tests/lib/vdtest.py's, Xvfb
tests/lib/xserver.py's.
"""

import os
import shutil
import subprocess
import tempfile
import time

import vdipc
import vdtest
import xserver
from vdtest import peak_rss_kib, reset_peak_rss, sanitized, stop_process, wait_for  # wait_for: also bench/clipboard's

BUILD_ROOT = os.environ.get("VD_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "../../build"))
VDAGENT = os.environ.get("VDAGENT", os.path.join(BUILD_ROOT, "src/session/vdagent"))
PROBE = os.environ.get("CLIP_PROBE", os.path.join(BUILD_ROOT, "tests/clipboard/clip-probe"))

# Sanitizer builds keep freed memory in quarantine: peak RSS figures mean nothing there.
SANITIZED = sanitized(VDAGENT)

CLIPBOARD, PRIMARY = 0, 1
SEL_NAMES = {CLIPBOARD: "clipboard", PRIMARY: "primary"}
UTF8_TEXT, IMAGE_PNG, IMAGE_BMP, IMAGE_TIFF, IMAGE_JPG = 1, 2, 3, 4, 5

CAP_CLIPBOARD = 3
CAP_CLIPBOARD_BY_DEMAND = 5
CAP_CLIPBOARD_SELECTION = 6
CAP_MAX_CLIPBOARD = 10
CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB = 16
CAP_CLIPBOARD_GRAB_SERIAL = 17
CLIP_CAPS = sum(1 << c for c in (CAP_CLIPBOARD, CAP_CLIPBOARD_BY_DEMAND, CAP_CLIPBOARD_SELECTION, CAP_MAX_CLIPBOARD,
                                 CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB, CAP_CLIPBOARD_GRAB_SERIAL))
CLIP_MSGS = (vdipc.S_CLIPBOARD_GRAB, vdipc.S_CLIPBOARD_REQUEST, vdipc.S_CLIPBOARD_RELEASE, vdipc.S_CLIPBOARD_BEGIN,
             vdipc.S_CLIPBOARD_DATA, vdipc.S_CLIPBOARD_ABORT)


def Tap():
    """The clipboard tests' TAP runner: cases' durations after their names."""
    return vdtest.Tap(timing=True)


class Xvfb(xserver.Xvfb):
    """A private Xvfb at its default screen size on a free display."""

    def __init__(self):
        super().__init__(prefix="vd-clip-x-")


class Session:
    """vdagent on an X display, connected to a FakeDaemon that plays a connected host."""

    def __init__(self, x, caps=CLIP_CAPS, max_clipboard=-1, agent=VDAGENT, debug=True):
        self.x = x
        self.tmp = tempfile.mkdtemp(prefix="vd-clip-")
        self.sock_path = os.path.join(self.tmp, "session.sock")
        self.log_path = os.path.join(self.tmp, "vdagent.log")
        self.daemon = vdipc.FakeDaemon(self.sock_path)
        argv = [agent, "--socket", self.sock_path, "--display", x.display, "--foreground"]
        if debug:
            argv.append("--debug")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "wb"))
        self.conn = self.daemon.accept(timeout=10)
        self.pending = []  # clipboard messages read ahead while waiting for another
        self.host_state(caps, max_clipboard)
        self.conn.send(vdipc.S_SESSION_STATE, active=True, locked=False)

    def reconnect(self, caps=CLIP_CAPS, max_clipboard=-1):
        """The daemon restarts: drop the connection, accept the agent's next one."""
        self.conn.close()
        self.pending = []
        self.conn = self.daemon.accept(timeout=15)
        self.host_state(caps, max_clipboard)
        self.conn.send(vdipc.S_SESSION_STATE, active=True, locked=False)

    def host_state(self, caps=CLIP_CAPS, max_clipboard=-1, connected=True):
        self.conn.send(vdipc.S_HOST_STATE, connected=connected, caps=caps, max_clipboard=max_clipboard)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def vm_hwm_kib(self):
        return peak_rss_kib(self.proc.pid)

    def reset_hwm_kib(self):
        """Restarts the agent's peak RSS from now; -> its RSS now (KiB)."""
        return reset_peak_rss(self.proc.pid)

    def stop(self):
        """Stops the agent; -> a problem (str) if it did not exit cleanly (crash, sanitizer
        report, non-zero status), else None."""
        problem = None
        if not stop_process(self.proc, 20):
            problem = "did not exit on SIGTERM"
        log = self.log()
        # ": critical: " is how our log writer (src/common/log.c) prints a g_critical: a failed
        # argument check or an impossible state transition. "CRITICAL" is GLib's own format.
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:", ": critical: ", "CRITICAL", "g_assert"):
            if bad in log:
                problem = "its log has %r" % bad
        if problem is None and self.proc.returncode != 0:
            problem = "exit status %d" % self.proc.returncode
        if problem:
            problem += "; log tail:\n" + "\n".join(log.splitlines()[-30:])
        self.conn.close()
        self.daemon.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return problem

    # --- the daemon's side ---

    def recv_clip(self, timeout=5.0):
        """The next clipboard message (type, dict); other messages (LAYOUT...) are skipped."""
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no clipboard message from the agent within %.1f s" % timeout)
            t, m = self.conn.recv(left)
            if t in CLIP_MSGS:
                return t, m

    def expect(self, msg_type, timeout=5.0, **want):
        t, m = self.recv_clip(timeout)
        if t != msg_type:
            raise AssertionError("expected %s, got %s %r" % (vdipc.type_name(vdipc.SESSION, msg_type),
                                                            vdipc.type_name(vdipc.SESSION, t), m))
        for k, v in want.items():
            if m[k] != v:
                raise AssertionError("%s: %s is %r, not %r" % (vdipc.type_name(vdipc.SESSION, t), k, m[k], v))
        return m

    def no_clip_message(self, within=0.5):
        try:
            t, m = self.recv_clip(within)
        except TimeoutError:
            return
        raise AssertionError("unexpected %s %r" % (vdipc.type_name(vdipc.SESSION, t), m))

    def grab(self, sel, types):
        self.conn.send(vdipc.S_CLIPBOARD_GRAB, selection=sel, types=list(types))

    def release(self, sel):
        self.conn.send(vdipc.S_CLIPBOARD_RELEASE, selection=sel)

    def request(self, sel, type_):
        self.conn.send(vdipc.S_CLIPBOARD_REQUEST, selection=sel, type=type_)

    def send_data(self, sel, type_, data):
        """BEGIN then DATA pieces, as the daemon streams the host's answer."""
        out = [vdipc.encode_frame(vdipc.SESSION, vdipc.S_CLIPBOARD_BEGIN, selection=sel, type=type_,
                                  total=len(data))]
        mv = memoryview(data)
        for off in range(0, len(data), vdipc.MAX_PIECE):
            piece = bytes(mv[off:off + vdipc.MAX_PIECE])
            out.append(vdipc.frame(vdipc.S_CLIPBOARD_DATA, bytes([sel]) + piece))
            if len(out) >= 64:
                self.conn.send_raw(b"".join(out))
                out = []
        if out:
            self.conn.send_raw(b"".join(out))

    def recv_data(self, sel, timeout=10.0):
        """The agent's answer to a REQUEST: (type, bytes) after BEGIN and all DATA pieces."""
        b = self.expect(vdipc.S_CLIPBOARD_BEGIN, timeout, selection=sel)
        parts = []
        got = 0
        while got < b["total"]:
            t, m = self.recv_clip(timeout)
            if t == vdipc.S_CLIPBOARD_ABORT:
                raise AssertionError("transfer aborted after %d of %d bytes" % (got, b["total"]))
            if t != vdipc.S_CLIPBOARD_DATA:
                raise AssertionError("got %s in the middle of a transfer" % vdipc.type_name(vdipc.SESSION, t))
            if m["selection"] != sel:
                raise AssertionError("DATA of the wrong selection")
            parts.append(m["data"])
            got += len(m["data"])
        if got != b["total"]:
            raise AssertionError("%d bytes of DATA for a total of %d" % (got, b["total"]))
        return b["type"], b"".join(parts)

    def fast_recv_data(self, sel, timeout=10.0):
        """recv_data without the strict decoding of each piece (for benchmarks): -> total bytes."""
        b = self.expect(vdipc.S_CLIPBOARD_BEGIN, timeout, selection=sel)
        got = 0
        while got < b["total"]:
            t, payload = self.conn.recv_frame(timeout)
            if t == vdipc.S_CLIPBOARD_DATA:
                got += len(payload) - 1
            elif t == vdipc.S_CLIPBOARD_ABORT:
                raise AssertionError("transfer aborted")
        return got


# --- X clients ---

def xclip_out(x, sel=CLIPBOARD, target=None, timeout=30):
    """-> (returncode, stdout bytes)."""
    argv = ["xclip", "-o", "-selection", SEL_NAMES[sel]]
    if target:
        argv += ["-t", target]
    p = subprocess.run(argv, env=x.env, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout


def xclip_out_start(x, sel=CLIPBOARD, target=None):
    argv = ["xclip", "-o", "-selection", SEL_NAMES[sel]]
    if target:
        argv += ["-t", target]
    return subprocess.Popen(argv, env=x.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class XclipOwner:
    """`xclip -i` in the foreground, owning a selection until stopped (or until it loses it)."""

    def __init__(self, x, data, sel=CLIPBOARD, target=None):
        argv = ["xclip", "-i", "-quiet", "-selection", SEL_NAMES[sel]]
        if target:
            argv += ["-t", target]
        self.proc = subprocess.Popen(argv, env=x.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.proc.stdin.write(data)
        self.proc.stdin.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def probe(x, *args, timeout=30):
    """tests/clipboard/clip-probe: -> (returncode, stdout text)."""
    p = subprocess.run([PROBE, "--display", x.display] + list(args), capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


def wait_owned_by_agent(x, sel=CLIPBOARD, timeout=5.0):
    """Until the agent answers TARGETS for sel (it owns it for the host)."""
    def owned():
        rc, out = probe(x, "owner", SEL_NAMES[sel].upper())
        return rc == 0 and "vdagent" in out
    wait_for(owned, timeout, 0.05, "the agent to own %s" % SEL_NAMES[sel])
