#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host -> guest file transfer through the real vdagent: a fake daemon (tests/lib/vdipc.py) feeds
XFER_DATA frames of 64 KiB (what spice-gtk sends, re-framed by vdagentd) as fast as the agent takes
them; prints throughput and the agent's peak RSS. Then the idle footprint: Private_Dirty and PSS
(bench/footprint.py) and wakeups (voluntary + involuntary context switches) of a connected agent over 10 s.

    bench-files.py [--size MiB] [--dir DIR] [--idle SECONDS] [--e2e]

--e2e puts the real vdagentd in between: a test host (tests/lib/vdwire.py) sends FILE_XFER_DATA
messages of 64 KiB cut into 2048-byte chunks, as spice-gtk does, on vdagentd's socket port.

Prints figures; never fails on them (exit 1 only if the transfer itself fails).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/session"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import subprocess  # noqa: E402

import vdipc  # noqa: E402
import vdwire  # noqa: E402
from agentlib import BUILD_ROOT, wait_for  # noqa: E402
from agentlib import Agent, Xvfb, proc_status, settle_layout, threads, wakeups  # noqa: E402
from footprint import MEASURE_ENV, describe, footprint  # noqa: E402

PIECE = 64 * 1024


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def transfer(conn, agent, size, name):
    cpu0 = cpu_seconds(agent.pid)
    data = os.urandom(PIECE)
    frame = vdipc.encode_frame(vdipc.SESSION, vdipc.S_XFER_DATA, id=1, data=data)
    t0 = time.monotonic()
    conn.send(vdipc.S_XFER_START, id=1, size=size, nr=1, total=1, name=name)
    st = conn.expect(vdipc.S_XFER_STATUS, 10.0)
    if st["result"] != vdipc.XFER_CAN_SEND_DATA:
        raise RuntimeError("transfer refused: %r" % st)
    full, rest = divmod(size, PIECE)
    # Batches of frames per sendall: the socket's backpressure paces us to the agent.
    batch = frame * 16
    for _ in range(full // 16):
        conn.sock.sendall(batch)
    for _ in range(full % 16):
        conn.sock.sendall(frame)
    if rest:
        conn.send(vdipc.S_XFER_DATA, id=1, data=data[:rest])
    st = conn.expect(vdipc.S_XFER_STATUS, 120.0)
    elapsed = time.monotonic() - t0
    if st["result"] != vdipc.XFER_SUCCESS:
        raise RuntimeError("transfer failed: %r" % st)
    return elapsed, proc_status(agent.pid, "VmHWM"), cpu_seconds(agent.pid) - cpu0, data


def verify(path, size, data):
    """Every piece of the file is the piece sent (the file's size alone proves nothing: the agent
    reserves the whole size up front)."""
    with open(path, "rb") as f:
        left = size
        while left:
            want = data[:min(PIECE, left)]
            if f.read(len(want)) != want:
                raise RuntimeError("the file differs from what was sent at offset %d" % (size - left))
            left -= len(want)
        if f.read(1):
            raise RuntimeError("the file is longer than what was sent")


def transfer_e2e(host, agent, size, name):
    """Through vdagentd: -> (seconds, agent VmHWM KiB, agent CPU s, piece)."""
    noise = (vdwire.MSG_ANNOUNCE_CAPABILITIES, vdwire.MSG_CLIPBOARD_GRAB, vdwire.MSG_CLIPBOARD_RELEASE)
    data = os.urandom(PIECE)
    # Every 64 KiB message is the same bytes: cut it into chunks once.
    wire = vdwire.split_message(vdwire.MSG_FILE_XFER_DATA, vdwire.build_file_xfer_data(1, data),
                                chunk=vdwire.CHUNK_MAX_DATA)
    cpu0 = cpu_seconds(agent.pid)
    t0 = time.monotonic()
    host.send_message(vdwire.MSG_FILE_XFER_START, vdwire.build_file_xfer_start(1, name, size, 1, 1))
    st = vdwire.parse_file_xfer_status(host.expect(vdwire.MSG_FILE_XFER_STATUS, 10.0, skip=noise))
    if st["result"] != vdwire.XFER_CAN_SEND_DATA:
        raise RuntimeError("transfer refused: %r" % st)
    if size % PIECE:
        raise RuntimeError("--e2e sizes are whole 64 KiB pieces")
    batch = wire * 16
    for _ in range(size // PIECE // 16):
        host.conn.sendall(batch)
    for _ in range(size // PIECE % 16):
        host.conn.sendall(wire)
    st = vdwire.parse_file_xfer_status(host.expect(vdwire.MSG_FILE_XFER_STATUS, 300.0, skip=noise))
    elapsed = time.monotonic() - t0
    if st["result"] != vdwire.XFER_SUCCESS:
        raise RuntimeError("transfer failed: %r" % st)
    return elapsed, proc_status(agent.pid, "VmHWM"), cpu_seconds(agent.pid) - cpu0, data


def main_e2e(args):
    vdagentd = os.environ.get("VDAGENTD", os.path.join(BUILD_ROOT, "src/system/vdagentd"))
    tmp = tempfile.mkdtemp(prefix="vd-bench-files-e2e-")
    out_dir = args.dir or os.path.join(tmp, "dl")
    os.makedirs(out_dir, exist_ok=True)
    p = {n: os.path.join(tmp, n) for n in ("host.sock", "session.sock", "control.sock", "uinput")}
    x = Xvfb(1024, 768)
    host = vdwire.TestHost(p["host.sock"])
    daemon = subprocess.Popen([vdagentd, "--port", p["host.sock"], "--socket", p["session.sock"], "--control",
                               p["control.sock"], "--session-tracking", "none", "--fake-uinput", "--uinput",
                               p["uinput"], "--qga-port", "none", "--foreground"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(tmp, "vdagentd.log"), "wb"))
    agent = None
    ok = True
    try:
        host.accept(10.0)
        host.negotiate()
        wait_for(lambda: os.path.exists(p["session.sock"]), 10.0, what="the session socket")
        agent = Agent(x.display, p["session.sock"], file_dir=out_dir, debug=False)
        wait_for(lambda: "connected to" in agent.log(), 10.0, what="the agent to connect")
        time.sleep(0.5)
        size = args.size * 1024 * 1024
        elapsed, hwm_kib, cpu, data = transfer_e2e(host, agent, size, "big.bin")
        verify(os.path.join(out_dir, "big.bin"), size, data)
        print("host->guest file through vdagentd: %d MiB in 64 KiB messages of 2048-byte chunks to %s: %.2f s, "
              "%.0f MB/s, agent peak RSS %.1f MiB, agent CPU %.2f s, vdagentd peak RSS %.1f MiB"
              % (args.size, out_dir, elapsed, size / elapsed / 1e6, hwm_kib / 1024.0, cpu,
                 proc_status(daemon.pid, "VmHWM") / 1024.0))
        os.unlink(os.path.join(out_dir, "big.bin"))
    except Exception as e:  # noqa: BLE001
        print("bench-files: %s" % e)
        if agent:
            print(agent.log()[-2000:])
        ok = False
    finally:
        if agent:
            agent.cleanup()
        daemon.terminate()
        daemon.wait(10)
        host.shutdown()
        x.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024, help="MiB to send (default 1024)")
    ap.add_argument("--dir", help="where the agent writes (default: a new directory in $TMPDIR)")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    ap.add_argument("--e2e", action="store_true", help="through the real vdagentd and a test host")
    args = ap.parse_args()
    os.environ.update(MEASURE_ENV)  # footprint of what a user runs, not of meson's perturbed malloc
    if args.e2e:
        return main_e2e(args)

    tmp = tempfile.mkdtemp(prefix="vd-bench-files-")
    out_dir = args.dir or os.path.join(tmp, "dl")
    os.makedirs(out_dir, exist_ok=True)
    sock_path = os.path.join(tmp, "session.sock")
    x = Xvfb(1024, 768)
    daemon = vdipc.FakeDaemon(sock_path)
    agent = Agent(x.display, sock_path, file_dir=out_dir, debug=False)
    ok = True
    try:
        conn = daemon.accept(10.0)
        settle_layout(conn, conn.expect(vdipc.S_LAYOUT))

        # Idle first: connected, nothing happening.
        time.sleep(1.0)
        pid = agent.pid
        sw0 = wakeups(pid)
        time.sleep(args.idle)
        sw1 = wakeups(pid)
        print("idle agent: %s, %d wakeups in %.0f s (%d threads)" % (
            describe(footprint(pid)), sw1 - sw0, args.idle, threads(pid)))

        size = args.size * 1024 * 1024
        elapsed, hwm_kib, cpu, data = transfer(conn, agent, size, "big.bin")
        verify(os.path.join(out_dir, "big.bin"), size, data)
        print("host->guest file: %d MiB in 64 KiB DATA frames to %s: %.2f s, %.0f MB/s, agent peak RSS %.1f MiB, "
              "agent CPU %.2f s" % (args.size, out_dir, elapsed, size / elapsed / 1e6, hwm_kib / 1024.0, cpu))
        os.unlink(os.path.join(out_dir, "big.bin"))
    except Exception as e:  # noqa: BLE001
        print("bench-files: %s" % e)
        print(agent.log()[-2000:])
        ok = False
    finally:
        agent.cleanup()
        daemon.close()
        x.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
