#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end through the guest daemon: clipboard both ways and a file host -> guest, vdagentd +
vdagent against spice-vdagentd + spice-vdagent 0.22 in the same run, the host played by
vd-bench-host (C, bench/daemon/vd-bench-host.c) on a Unix-socket port. Also the idle footprint of
vdagentd and vdagent (Private_Dirty and PSS, bench/footprint.py).

    bench-daemon.py [--clipboard MIB] [--file MIB] [--repeat N] [--only ours|spice]

host->guest clipboard: from the moment `xclip -o -t UTF8_STRING` starts (the host has grabbed and
  answers the agent's REQUEST at once) until xclip has written the last byte.
guest->host clipboard: from the host's REQUEST until the last byte of the CLIPBOARD message
  (`xclip -i` owns the selection), timed by vd-bench-host.
file: from FILE_XFER_START until the agent's SUCCESS (64 KiB messages in 2048-byte chunks, as
  spice-gtk sends them), timed by vd-bench-host; the file's size is checked on disk.
Prints one line per run and a summary with the ratios; never fails on figures.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("VD_SOURCE_ROOT", os.path.join(HERE, "../.."))
BUILD = os.environ.get("VD_BUILD_ROOT", os.path.join(SRC, "build"))
sys.path[:0] = [os.path.join(SRC, "tests/clipboard"), os.path.join(SRC, "tests/lib"), os.path.join(SRC, "bench")]

import cliplib  # noqa: E402
import footprint  # noqa: E402

MiB = 1024 * 1024
HOST = os.path.join(BUILD, "bench", "daemon", "vd-bench-host")
VDAGENTD = os.path.join(BUILD, "src", "system", "vdagentd")
VDAGENT = os.path.join(BUILD, "src", "session", "vdagent")


class Host:
    """vd-bench-host: commands on its stdin, answers on its stdout."""

    def __init__(self, port):
        self.proc = subprocess.Popen([HOST, port], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        assert self.line() == "listening"

    def line(self, timeout=120):
        result = []
        t = threading.Thread(target=lambda: result.append(self.proc.stdout.readline().strip()), daemon=True)
        t.start()
        t.join(timeout)
        if not result or not result[0]:
            raise TimeoutError("vd-bench-host said nothing within %d s" % timeout)
        return result[0]

    def cmd(self, text, answer=True, timeout=120):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.line(timeout) if answer else None

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.cmd("quit", answer=False)
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Stack:
    """A guest daemon + its session agent on Xvfb display x, the host on a socket port."""

    def __init__(self, kind, x):
        self.kind = kind
        self.tmp = tempfile.mkdtemp(prefix="vd-bench-daemon-%s-" % kind)
        self.dl = os.path.join(self.tmp, "dl")
        os.mkdir(self.dl)
        port = os.path.join(self.tmp, "port")
        sock = os.path.join(self.tmp, "session.sock")
        uinput = os.path.join(self.tmp, "uinput")
        open(uinput, "wb").close()
        self.log = open(os.path.join(self.tmp, "log"), "wb")
        self.host = Host(port)
        env = dict(os.environ, **footprint.MEASURE_ENV)
        if kind == "ours":
            self.daemon = subprocess.Popen(
                [VDAGENTD, "--foreground", "--port", port, "--socket", sock, "--control",
                 os.path.join(self.tmp, "control.sock"), "--fake-uinput", "--uinput", uinput,
                 "--session-tracking", "none", "--qga-port", "none"], env=env, stdout=self.log, stderr=self.log)
            assert self.host.line(15) == "connected"
            cliplib.wait_for(lambda: os.path.exists(sock), 10, what="vdagentd's socket")
            self.agent = subprocess.Popen([VDAGENT, "--foreground", "--display", x.display, "--socket", sock,
                                           "--file-dir", self.dl], env=dict(env, **x.env),
                                          stdout=self.log, stderr=self.log)
        else:
            self.daemon = subprocess.Popen(["spice-vdagentd", "-x", "-X", "-f", "-u", uinput, "-s", port, "-S", sock],
                                           env=env, stdout=self.log, stderr=self.log)
            cliplib.wait_for(lambda: os.path.exists(sock), 10, what="spice-vdagentd's socket")
            # spice-vdagentd opens the port only once a session agent is there.
            self.agent = subprocess.Popen(["spice-vdagent", "-x", "-s", port, "-S", sock, "--display", x.display,
                                           "-f", self.dl, "-o", "0"], env=dict(env, **x.env),
                                          stdout=self.log, stderr=self.log)
            assert self.host.line(15) == "connected"
        assert self.host.cmd("wait-caps", timeout=15) == "caps"
        time.sleep(0.5)

    def stop(self):
        self.host.stop()
        for p in (self.agent, self.daemon):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host_to_guest(s, x, size):
    assert s.host.cmd("grab") == "ok"
    cliplib.wait_for(lambda: cliplib.probe(x, "owner", "CLIPBOARD")[0] == 0, 10, what="the agent to own")
    s.host.cmd("serve %d" % size, answer=False)
    t0 = time.monotonic()
    p = subprocess.Popen(["xclip", "-o", "-selection", "clipboard", "-t", "UTF8_STRING"], env=x.env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    n = 0
    while True:
        b = p.stdout.read1(1 << 20)
        if not b:
            break
        n += len(b)
    p.wait(120)
    took = time.monotonic() - t0
    s.host.line(30)  # "served ..."
    return took, n


def guest_to_host(s, x, data):
    s.host.cmd("arm", answer=False)
    owner = subprocess.Popen(["xclip", "-i", "-quiet", "-selection", "clipboard"], env=x.env, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    threading.Thread(target=lambda: (owner.stdin.write(data), owner.stdin.close()), daemon=True).start()
    try:
        assert s.host.cmd("wait-grab", timeout=30) == "grabbed"
        got = s.host.cmd("request", timeout=120).split()
        assert got[0] == "got", got
        return float(got[2]), int(got[1])
    finally:
        owner.terminate()
        owner.wait(10)


def file_transfer(s, size):
    got = s.host.cmd("file %d" % size, timeout=600).split()
    if got[0] != "file":
        raise RuntimeError("the agent answered %s" % " ".join(got))
    written = sum(os.path.getsize(os.path.join(s.dl, f)) for f in os.listdir(s.dl))
    for f in os.listdir(s.dl):
        os.unlink(os.path.join(s.dl, f))
    return float(got[2]), written


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clipboard", type=int, default=64, help="MiB of clipboard text each way (default 64)")
    ap.add_argument("--file", type=int, default=1024, help="MiB of the file (default 1024; 0 skips)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("ours", "spice"))
    args = ap.parse_args()
    kinds = [k for k in ("ours", "spice") if args.only in (None, k)]
    if "spice" in kinds and not shutil.which("spice-vdagentd"):
        print("spice-vdagent 0.22 is not installed: measuring ours only", flush=True)
        kinds.remove("spice")
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\n"
    size = args.clipboard * MiB
    data = (line * (size // len(line) + 1))[:size]
    name = {"ours": "vdagentd+vdagent", "spice": "spice-vdagent 0.22"}
    results = {}
    x = cliplib.Xvfb()
    try:
        for kind in kinds:
            s = Stack(kind, x)
            try:
                if kind == "ours":
                    time.sleep(1.0)
                    for who, proc in (("vdagentd", s.daemon), ("vdagent", s.agent)):
                        fp = footprint.footprint(proc.pid)
                        print("%-18s idle %s" % (who, footprint.describe(fp)), flush=True)
                tests = [("clipboard host->guest", lambda: host_to_guest(s, x, size), size),
                         ("clipboard guest->host", lambda: guest_to_host(s, x, data), size)]
                if args.file:
                    tests.append(("file host->guest", lambda: file_transfer(s, args.file * MiB), args.file * MiB))
                for what, fn, want in tests:
                    times = []
                    for i in range(args.repeat):
                        try:
                            c0 = (cpu_s(s.daemon.pid), cpu_s(s.agent.pid))
                            took, n = fn()
                            c1 = (cpu_s(s.daemon.pid), cpu_s(s.agent.pid))
                        except Exception as e:  # noqa: BLE001 - a benchmark reports and goes on
                            print("%-18s %-22s run %d failed: %s" % (name[kind], what, i + 1, e), flush=True)
                            break
                        ok = "" if n == want else "  (got %d bytes of %d!)" % (n, want)
                        print("%-18s %-22s run %d: %.3f s, %.0f MiB/s, CPU daemon %.2f s agent %.2f s%s" % (
                            name[kind], what, i + 1, took, want / MiB / took, c1[0] - c0[0], c1[1] - c0[1], ok),
                            flush=True)
                        times.append(took)
                    if times:
                        results[(kind, what)] = statistics.median(times)
            finally:
                s.stop()
    finally:
        x.stop()
    print("--- medians ---")
    for (kind, what), t in results.items():
        print("%-18s %-22s %.3f s" % (name[kind], what, t))
    for what, target in (("clipboard host->guest", "<= 0.35"), ("clipboard guest->host", "<= 0.35"),
                         ("file host->guest", "<= 0.20")):
        if ("ours", what) in results and ("spice", what) in results:
            r = results[("ours", what)] / results[("spice", what)]
            print("%-22s ours/spice time %.2fx (target %s), throughput %.1fx" % (what, r, target, 1 / r))


if __name__ == "__main__":
    main()
