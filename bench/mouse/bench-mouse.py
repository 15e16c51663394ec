#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench-mouse — CPU time per MOUSE_STATE in vdagentd, and in Debian's spice-vdagentd 0.22 in the
same harness; idle wakeups and footprint (Private_Dirty, PSS: bench/footprint.py) with a connected host.

Each daemon connects to a test host on a Unix socket (its "virtio port") and writes its input
events to a fake uinput file. 100 000 MOUSE_STATE messages (spice-server style: port 2, one chunk
each, every message moving the pointer) are fed in two ways: "burst" (sent as fast as the socket
takes them) and "paced" (one message per send, about 20 000 per second, so that the daemon wakes up
for nearly every message, as with a real pointer). CPU time is the daemon's utime+stime from
/proc/PID/stat; "per event" is per MOUSE_STATE message.

    bench-mouse.py [--vdagentd PATH] [--spice-vdagentd PATH] [--messages N] [--json]
"""
import argparse
import glob
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from footprint import MEASURE_ENV, footprint  # noqa: E402
from vdwire import (MSG_MOUSE_STATE, PORT_SERVER, SPICE_GTK_CAPS, TestHost, build_mouse_state,  # noqa: E402
                    split_message)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rusage_us(pid):
    """utime+stime in µs with better resolution than clock ticks: schedstat's run time (ns)."""
    try:
        total = 0
        for task in glob.glob("/proc/%d/task/*/schedstat" % pid):
            with open(task) as f:
                total += int(f.read().split()[0])
        return total / 1000.0
    except OSError:
        return cpu_seconds(pid) * 1e6


def wakeups(pid):
    total = 0
    for task in glob.glob("/proc/%d/task/*/status" % pid):
        with open(task) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def messages(n):
    out = []
    for i in range(n):
        out.append(split_message(MSG_MOUSE_STATE, build_mouse_state(i % 1000, (i * 7) % 700, 0, 0), port=PORT_SERVER))
    return out


def settle(pid, path, quiet=0.3, limit=60):
    """Waits until the daemon stops using CPU and its output stops growing."""
    deadline = time.monotonic() + limit
    last = (-1, -1)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        now = (rusage_us(pid), os.path.getsize(path))
        if now != last:
            last = now
            stable_since = time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            return
        time.sleep(0.05)


def spice_session_agent(path):
    """spice-vdagentd opens its port only once a session agent has reported the X screen: play
    that agent (its udscs header: type, arg1, arg2, size; then GUEST_XORG_RESOLUTION's array of
    {width, height, x, y, display_id})."""
    deadline = time.monotonic() + 5
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    res = struct.pack("<iiiii", 1024, 768, 0, 0, 0)
    s.sendall(struct.pack("<IIII", 0, 1024, 768, len(res)) + res)
    return s


def run(name, argv, host, uinput, n, tmp, session_socket=None):
    log = open(os.path.join(tmp, name + ".log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    agent = None
    try:
        if session_socket:
            agent = spice_session_agent(session_socket)
        host.accept(timeout=10)
        host.announce_caps(SPICE_GTK_CAPS, request=True)
        time.sleep(0.5)
        # drain whatever the daemon announced
        host.conn.setblocking(False)
        try:
            while host.conn.recv(65536):
                pass
        except BlockingIOError:
            pass
        host.conn.setblocking(True)
        msgs = messages(n)
        result = {"daemon": name}

        # idle first, with a connected host
        time.sleep(0.5)
        w0 = wakeups(proc.pid)
        time.sleep(5.0)
        result["idle_wakeups_per_s"] = (wakeups(proc.pid) - w0) / 5.0
        fp = footprint(proc.pid)
        result["idle_private_dirty_kib"] = fp["private_dirty_kib"]
        result["idle_pss_kib"] = fp["pss_kib"]
        result["idle_rss_kib"] = fp["rss_kib"]

        # burst: batches of 100 messages per send
        settle(proc.pid, uinput)
        c0 = rusage_us(proc.pid)
        for i in range(0, n, 100):
            host.conn.sendall(b"".join(msgs[i:i + 100]))
        settle(proc.pid, uinput)
        result["burst_us_per_event"] = (rusage_us(proc.pid) - c0) / n

        # paced: one message per send, ~20k/s
        c0 = rusage_us(proc.pid)
        t0 = time.monotonic()
        for i, m in enumerate(msgs):
            host.conn.sendall(m)
            target = t0 + i / 20000.0
            while time.monotonic() < target:
                pass
        settle(proc.pid, uinput)
        result["paced_us_per_event"] = (rusage_us(proc.pid) - c0) / n
        result["events_bytes"] = os.path.getsize(uinput)
        result["rss_after_kib"] = status_kib(proc.pid, "VmRSS")
        return result
    finally:
        if agent:
            agent.close()
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        host.close()
        log.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--vdagentd", default=os.environ.get("VDAGENTD") or os.path.join(
        os.environ.get("VD_BUILD_ROOT", os.path.join(here, "..", "..", "build")), "src", "system", "vdagentd"))
    ap.add_argument("--spice-vdagentd", default=shutil.which("spice-vdagentd") or "/usr/sbin/spice-vdagentd")
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.update(MEASURE_ENV)  # footprint of what a user runs, not of meson's perturbed malloc

    tmp = tempfile.mkdtemp(prefix="bench-mouse-")
    results = []
    try:
        port = os.path.join(tmp, "port.sock")
        host = TestHost(port)
        uinput = os.path.join(tmp, "ours.events")
        results.append(run("vdagentd", [args.vdagentd, "--port", port, "--socket", os.path.join(tmp, "s.sock"),
                                        "--control", os.path.join(tmp, "c.sock"), "--fake-uinput", "--uinput",
                                        uinput, "--session-tracking", "none", "--qga-port", "none",
                                        "--foreground"], host, uinput, args.messages, tmp))
        if os.path.exists(args.spice_vdagentd):
            uinput = os.path.join(tmp, "spice.events")
            open(uinput, "w").close()
            spice_sock = os.path.join(tmp, "spice.sock")
            results.append(run("spice-vdagentd", [args.spice_vdagentd, "-x", "-X", "-f", "-s", port, "-S",
                                                  spice_sock, "-u", uinput],
                               host, uinput, args.messages, tmp, session_socket=spice_sock))
        host.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    cols = ["daemon", "burst_us_per_event", "paced_us_per_event", "idle_wakeups_per_s", "idle_private_dirty_kib",
            "idle_pss_kib", "idle_rss_kib", "events_bytes"]
    print("%-16s %12s %12s %14s %17s %10s %10s %12s" % (
        "daemon", "burst µs/ev", "paced µs/ev", "idle wakeups/s", "idle Priv_Dirty", "idle PSS", "idle RSS",
        "event bytes"))
    for r in results:
        print("%-16s %12.3f %12.3f %14.2f %13d KiB %6d KiB %6d KiB %12d" % tuple(r[c] for c in cols))
    if len(results) == 2:
        for mode in ("burst", "paced"):
            a, b = results[0][mode + "_us_per_event"], results[1][mode + "_us_per_event"]
            print("%s: vdagentd uses %.1f%% of spice-vdagentd's CPU per event (target: at most 20%%)" % (
                mode, 100.0 * a / b if b else 0))


if __name__ == "__main__":
    main()
