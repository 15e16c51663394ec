#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Clipboard throughput and memory: N MiB of text host->guest and guest->host through a session
agent, timed, with the agent's peak RSS (VmHWM).

    bench-clipboard.py [--size MIB] [--repeat N] [--agent ours|spice|wayland|both|all]

ours:  the real vdagent under Xvfb against a FakeDaemon (tests/lib/vdipc.py).
wayland: the real vdagent in a headless sway 1.7 (as a throw-away user, tests/lib/swayworld.py)
       against a FakeDaemon, with wl-copy/wl-paste as the applications (root only); also its idle
       wakeups and Private_Dirty.
spice: Debian's spice-vdagent 0.22 + spice-vdagentd (-X, fake uinput) on a Unix-socket port,
       driven by vdwire.TestHost playing spice-gtk (tests/lib/vdwire.py).
Both directions are timed the same way:
  host->guest: from the moment `xclip -o` (`wl-paste`) starts (the host already grabbed) until it
               has written the last byte (the agent asks the host, which answers at once);
  guest->host: from the host's REQUEST until its last byte arrived (`xclip -i` or `wl-copy` owns
               the selection).
Prints one line per run and a summary; never fails on figures.
"""

import argparse
import os
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("VD_SOURCE_ROOT", os.path.join(HERE, "../.."))
sys.path[:0] = [os.path.join(SRC, "tests/clipboard"), os.path.join(SRC, "tests/lib"), os.path.join(SRC, "tests/session")]

import cliplib  # noqa: E402
import vdipc  # noqa: E402
import vdwire  # noqa: E402

MiB = 1024 * 1024


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Reader(threading.Thread):
    """Counts what an `xclip -o` writes."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc = proc
        self.n = 0
        self.start()

    def run(self):
        while True:
            b = self.proc.stdout.read1(1 << 20)
            if not b:
                break
            self.n += len(b)


def start_owner(x, data):
    """`xclip -i` owning CLIPBOARD with data (fed from a thread)."""
    p = subprocess.Popen(["xclip", "-i", "-quiet", "-selection", "clipboard"], env=x.env, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def feed():
        p.stdin.write(data)
        p.stdin.close()
    threading.Thread(target=feed, daemon=True).start()
    return p


def paste_start(x):
    return subprocess.Popen(["xclip", "-o", "-selection", "clipboard", "-t", "UTF8_STRING"], env=x.env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


# --- ours ---

def ours_host_to_guest(x, data):
    s = cliplib.Session(x, debug=False)
    try:
        frames = [vdipc.encode_frame(vdipc.SESSION, vdipc.S_CLIPBOARD_BEGIN, selection=0, type=1, total=len(data))]
        mv = memoryview(data)
        frames += [vdipc.frame(vdipc.S_CLIPBOARD_DATA, b"\0" + bytes(mv[o:o + vdipc.MAX_PIECE]))
                   for o in range(0, len(data), vdipc.MAX_PIECE)]
        blob = b"".join(frames)
        del frames
        s.grab(0, [1])
        cliplib.wait_owned_by_agent(x)
        t0 = time.monotonic()
        p = paste_start(x)
        r = Reader(p)
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
        s.conn.send_raw(blob)
        p.wait(120)
        r.join()
        took = time.monotonic() - t0
        return took, r.n, vm_hwm_kib(s.proc.pid)
    finally:
        s.stop()


def ours_guest_to_host(x, data):
    s = cliplib.Session(x, debug=False)
    try:
        owner = start_owner(x, data)
        s.expect(vdipc.S_CLIPBOARD_GRAB, 30)
        t0 = time.monotonic()
        s.request(0, 1)
        n = s.fast_recv_data(0, 60)
        took = time.monotonic() - t0
        hwm = vm_hwm_kib(s.proc.pid)
        owner.terminate()
        owner.wait(10)
        return took, n, hwm
    finally:
        s.stop()


# --- ours, on Wayland (sway) ---

def wl_host_to_guest(sway, data):
    import wlagent
    s = wlagent.WlSession(sway, debug=False)
    try:
        frames = [vdipc.encode_frame(vdipc.SESSION, vdipc.S_CLIPBOARD_BEGIN, selection=0, type=1, total=len(data))]
        mv = memoryview(data)
        frames += [vdipc.frame(vdipc.S_CLIPBOARD_DATA, b"\0" + bytes(mv[o:o + vdipc.MAX_PIECE]))
                   for o in range(0, len(data), vdipc.MAX_PIECE)]
        blob = b"".join(frames)
        del frames
        s.grab(0, [1])
        cliplib.wait_for(lambda: sway.run(["wl-paste", "--list-types"], check=False).returncode == 0, 10,
                         what="the agent's offer")
        t0 = time.monotonic()
        p = sway.popen(["wl-paste", "--no-newline", "--type", "text/plain;charset=utf-8"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
        r = Reader(p)
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
        s.conn.send_raw(blob)
        p.wait(120)
        r.join()
        took = time.monotonic() - t0
        return took, r.n, vm_hwm_kib(s.proc.pid)
    finally:
        s.stop()


def wl_guest_to_host(sway, data):
    import wlagent
    s = wlagent.WlSession(sway, debug=False)
    try:
        owner = sway.popen(["wl-copy", "--foreground", "--type", "text/plain;charset=utf-8"], stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def feed():
            owner.stdin.write(data)
            owner.stdin.close()
        threading.Thread(target=feed, daemon=True).start()
        s.expect(vdipc.S_CLIPBOARD_GRAB, 30)
        t0 = time.monotonic()
        s.request(0, 1)
        n = s.fast_recv_data(0, 60)
        took = time.monotonic() - t0
        hwm = vm_hwm_kib(s.proc.pid)
        owner.terminate()
        owner.wait(10)
        return took, n, hwm
    finally:
        s.stop()


def wl_idle(sway):
    """An idle agent on sway: wakeups over 5 s, Private_Dirty (smaps_rollup)."""
    import agentlib
    import wlagent
    s = wlagent.WlSession(sway, debug=False)
    try:
        time.sleep(1)
        w0 = agentlib.wakeups(s.proc.pid)
        time.sleep(5)
        w1 = agentlib.wakeups(s.proc.pid)
        with open("/proc/%d/smaps_rollup" % s.proc.pid) as f:
            dirty = sum(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))
        return w1 - w0, dirty
    finally:
        s.stop()


# --- spice-vdagent 0.22 ---

class Spice:
    """spice-vdagentd on a Unix-socket port (vdwire.TestHost plays spice-gtk) + spice-vdagent."""

    def __init__(self, x):
        for prog in ("spice-vdagentd", "spice-vdagent"):
            if not shutil.which(prog):
                raise RuntimeError("%s is not installed" % prog)
        self.tmp = tempfile.mkdtemp(prefix="vd-bench-spice-")
        port = os.path.join(self.tmp, "port")
        sock = os.path.join(self.tmp, "vdagentd.sock")
        self.host = vdwire.TestHost(port, max_message=512 * MiB)
        log = open(os.path.join(self.tmp, "log"), "wb")
        uinput = os.path.join(self.tmp, "uinput")  # -f: a plain file stands in for /dev/uinput
        open(uinput, "wb").close()
        self.daemon = subprocess.Popen(["spice-vdagentd", "-x", "-X", "-f", "-u", uinput, "-s", port, "-S", sock],
                                       stdout=log, stderr=log)
        cliplib.wait_for(lambda: os.path.exists(sock), 10, what="spice-vdagentd's socket")
        # The daemon opens the port only once a session agent is there.
        self.agent = subprocess.Popen(["spice-vdagent", "-x", "-s", port, "-S", sock, "--display", x.display],
                                      env=x.env, stdout=log, stderr=log)
        self.host.accept(15)
        self.neg = self.host.negotiate(vdwire.SPICE_GTK_CAPS, 10)
        self.serial = 0
        time.sleep(0.5)

    def recv(self, want, timeout=30):
        while True:
            t, payload = self.host.recv_message(timeout)
            if t == want:
                return payload

    def recv_lenient(self, want, timeout=30):
        """Like recv, but accepts what spice-vdagentd 0.22 really writes: a large message in one
        chunk far above 2048 bytes (which vdwire's strict reassembler refuses)."""
        assert self.host.reader.pending() == 0
        conn = self.host.conn
        stream = bytearray()  # chunk payloads, concatenated
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            while len(buf) >= 8:
                port, size = struct.unpack_from("<II", buf)
                if len(buf) < 8 + size:
                    break
                stream += buf[8:8 + size]
                del buf[:8 + size]
            while len(stream) >= 20:
                _, type_, _, size = struct.unpack_from("<IIQI", stream)
                if len(stream) < 20 + size:
                    break
                payload = bytes(stream[20:20 + size])
                del stream[:20 + size]
                if type_ == want:
                    return payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message %d from spice-vdagentd" % want)
            if select.select([conn], [], [], left)[0]:
                data = conn.recv(1 << 20)
                if not data:
                    raise ConnectionError("spice-vdagentd closed the port")
                buf += data

    def stop(self):
        for p in (self.agent, self.daemon):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.host.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def spice_host_to_guest(x, data):
    sp = Spice(x)
    try:
        msg = vdwire.split_message(vdwire.MSG_CLIPBOARD, vdwire.build_clipboard(1, data, sp.neg))
        sp.host.send_message(vdwire.MSG_CLIPBOARD_GRAB, vdwire.build_clipboard_grab([1], sp.neg, serial=sp.serial))
        sp.serial += 1
        cliplib.wait_for(lambda: cliplib.probe(x, "owner", "CLIPBOARD")[0] == 0, 10, what="spice-vdagent to own")
        t0 = time.monotonic()
        p = paste_start(x)
        r = Reader(p)
        sp.recv(vdwire.MSG_CLIPBOARD_REQUEST)
        sp.host.send_raw(msg)
        p.wait(120)
        r.join()
        took = time.monotonic() - t0
        return took, r.n, vm_hwm_kib(sp.agent.pid)
    finally:
        sp.stop()


def spice_guest_to_host(x, data):
    sp = Spice(x)
    try:
        owner = start_owner(x, data)
        sp.recv(vdwire.MSG_CLIPBOARD_GRAB)
        t0 = time.monotonic()
        sp.host.send_message(vdwire.MSG_CLIPBOARD_REQUEST, vdwire.build_clipboard_request(1, sp.neg))
        payload = sp.recv_lenient(vdwire.MSG_CLIPBOARD, 120)
        took = time.monotonic() - t0
        n = len(vdwire.parse_clipboard(payload, sp.neg)["data"])
        hwm = vm_hwm_kib(sp.agent.pid)
        owner.terminate()
        owner.wait(10)
        return took, n, hwm
    finally:
        sp.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64, help="MiB (default 64)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--agent", choices=("ours", "spice", "wayland", "both", "all"), default="both")
    args = ap.parse_args()
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\n"
    data = (line * (args.size * MiB // len(line) + 1))[:args.size * MiB]
    runs = []
    if args.agent in ("ours", "both", "all"):
        runs += [("vdagent", "host->guest", ours_host_to_guest), ("vdagent", "guest->host", ours_guest_to_host)]
    sway = None
    if args.agent in ("wayland", "all"):
        import swayworld
        try:
            sway = swayworld.Sway(outputs=["HEADLESS-1 resolution 1280x800 position 0 0"])
        except Exception as e:  # noqa: BLE001 - no sway, or not root: the X11 figures still come
            print("vdagent/sway   skipped: %s" % e, flush=True)
        if sway:
            runs += [("vdagent/sway", "host->guest", lambda x, d: wl_host_to_guest(sway, d)),
                     ("vdagent/sway", "guest->host", lambda x, d: wl_guest_to_host(sway, d))]
    if args.agent in ("spice", "both", "all"):
        runs += [("spice-vdagent", "host->guest", spice_host_to_guest),
                 ("spice-vdagent", "guest->host", spice_guest_to_host)]
    x = cliplib.Xvfb()
    try:
        for agent, direction, fn in runs:
            times, hwms = [], []
            for i in range(args.repeat):
                try:
                    took, n, hwm = fn(x, data)
                except Exception as e:  # noqa: BLE001 - a benchmark reports and goes on
                    print("%-14s %-12s run %d failed: %s" % (agent, direction, i + 1, e), flush=True)
                    break
                ok = "" if n == len(data) else "  (got %d bytes!)" % n
                print("%-14s %-12s run %d: %.3f s, %.0f MiB/s, peak RSS %.1f MiB (%.2fx payload)%s" % (
                    agent, direction, i + 1, took, args.size / took, hwm / 1024, hwm / 1024 / args.size, ok),
                    flush=True)
                times.append(took)
                hwms.append(hwm)
            if times:
                print("%-14s %-12s median %.3f s, peak RSS max %.1f MiB" % (
                    agent, direction, statistics.median(times), max(hwms) / 1024), flush=True)
        if sway:
            w, dirty = wl_idle(sway)
            print("vdagent/sway   idle: %d wakeups in 5 s, Private_Dirty %d KiB" % (w, dirty), flush=True)
    finally:
        x.stop()
        if sway:
            sway.stop()


if __name__ == "__main__":
    main()
