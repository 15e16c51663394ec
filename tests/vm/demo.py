#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The README's demo (run through tools/demo): boots a guest with the freshly built agent and QEMU's own host
side, and shows — step by step, with each result — that the agent works: text copied on the host side
appears in the guest clipboard and back, the host's mouse moves the guest pointer, and the guest shuts down
when the host asks (QEMU guest agent). Exit status 0 only if every step worked.

  demo.py [--spice] [--keep] [--reference]
    --spice      QEMU's SPICE server and a spice-client-glib client instead of qemu-vdagent + VNC
    --keep       leave the VM running at the end and print how to connect a real viewer; Ctrl-C shuts it down
    --reference  run Debian's spice-vdagent 0.22 in the guest instead of ours (for comparison)
"""
import argparse
import os
import re
import shlex
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rfb  # noqa: E402
import vmlib  # noqa: E402
from vmlib import QGA, VMError, wait_for  # noqa: E402

BOLD, GREEN, RED, RESET = ("\033[1m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() else ("",) * 4
results = []


def say(msg):
    print(f"{BOLD}==>{RESET} {msg}", flush=True)


def result(ok, msg):
    results.append(ok)
    mark = f"{GREEN}✓{RESET}" if ok else f"{RED}✗{RESET}"
    print(f"    {mark} {msg}", flush=True)
    return ok


def pointer_at(g):
    _, out, _ = g.x("xdotool getmouselocation", timeout=10)
    m = re.match(r"x:(\d+) y:(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def guest_clipboard(g):
    rc, out, _ = g.x("xclip -o -selection clipboard", timeout=15)
    return out.rstrip("\0") if rc == 0 else None


def demo_vnc(g):
    say("Connecting a VNC client (a small RFB client) to QEMU's VNC server")
    vnc = rfb.Client(g.vnc_path)
    if not result(vnc.wait(lambda: vnc.server_caps is not None, 10),
                  f"connected to '{vnc.name}' ({vnc.width}x{vnc.height}), extended clipboard on"):
        return vnc
    text = "Hello from the host! — copied in the VNC client"
    say(f"Copying {text!r} on the host side")

    def landed():
        if guest_clipboard(g) == text:
            return True
        vnc.copy(text)  # QEMU 7.2 ignores a viewer's clipboard for its first seconds: copy again
        return False
    vnc.copy(text)
    ok = wait_for(landed, 30, interval=2)
    result(ok, f"the guest's clipboard (xclip -o) holds: {guest_clipboard(g)!r}")

    back = "Hello from the guest! — copied with xclip"
    say(f"Copying {back!r} inside the guest")
    vnc.texts.clear()
    g.x(f"printf %s {shlex.quote(back)} | xclip -i -selection clipboard >/dev/null 2>&1", timeout=15)
    ok = vnc.wait_text(back, 20)
    result(ok, f"the VNC client received: {vnc.texts[-1] if vnc.texts else None!r}")

    for vx, vy in [(200, 150), (600, 350)]:
        say(f"Moving the host mouse to ({vx}, {vy}) in the VNC window")
        vnc.pointer(vx, vy)
        want = (vx - 1, vy - 1)  # QEMU 7.2 hands the agent the VNC coordinate minus one
        ok = wait_for(lambda: pointer_at(g) == want, 15)
        result(ok, f"the guest's X pointer (xdotool getmouselocation) is at {pointer_at(g)} "
                   f"(QEMU 7.2 sends the VNC position minus one, so {want} is exact)")
    return vnc


def demo_spice(g):
    from spiceclient import SpiceClient
    exe = os.environ.get("VD_SPICE_CLIENT") or os.path.join(vmlib.BUILD_ROOT, "tests", "vm", "spice-client")
    say("Connecting a SPICE client (spice-client-glib, as remote-viewer uses) to QEMU's SPICE server")
    client = SpiceClient(exe, f"spice+unix://{g.spice_path}", os.path.join(g.results, "spice-client.log"))
    client.cmd("connect")
    try:
        client.cmd("wait-agent 60", timeout=70)
        result(True, "connected; the guest agent is there")
    except VMError as e:
        result(False, str(e))
        return client
    text = "Hello from the host! — copied in the SPICE client"
    say(f"Copying {text!r} on the host side")
    path = os.path.join(g.results, "demo-host-clip")
    with open(path, "w") as f:
        f.write(text)
    client.cmd(f"grab 0 {path}")
    ok = wait_for(lambda: guest_clipboard(g) == text, 30, interval=1)
    result(ok, f"the guest's clipboard (xclip -o) holds: {guest_clipboard(g)!r}")

    back = "Hello from the guest! — copied with xclip"
    say(f"Copying {back!r} inside the guest")
    client.clear_events()
    g.x(f"printf %s {shlex.quote(back)} | xclip -i -selection clipboard >/dev/null 2>&1", timeout=15)
    got = None
    if client.wait_event(lambda e: e[0] == "grab" and e[1] == "0", 20):
        client.cmd("request 0")
        ev = client.wait_event(lambda e: e[0] == "data" and e[1] == "0", 20)
        got = bytes.fromhex(ev[5]).decode() if ev and len(ev) > 5 else None
    result(got == back, f"the SPICE client received: {got!r}")

    say("Switching the SPICE client to client mouse mode")
    try:
        client.cmd("mouse-mode", timeout=30)
        result(True, "client mouse mode")
    except VMError as e:
        result(False, str(e))
    for x, y in [(200, 150), (700, 500)]:
        say(f"Moving the host mouse to ({x}, {y}) in the SPICE window")
        client.cmd(f"position 0 {x} {y}")
        ok = wait_for(lambda: pointer_at(g) == (x, y), 15)
        result(ok, f"the guest's X pointer (xdotool getmouselocation) is at {pointer_at(g)}")
    return client


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spice", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--reference", action="store_true")
    args = ap.parse_args()
    agent = "reference" if args.reference else "ours"
    host = "spice" if args.spice else "vnc"
    # with --keep the user ends the demo with Ctrl-C: QEMU must survive it to be shut down cleanly
    g = vmlib.Guest(f"demo-{host}", host=host, qga=True, own_session=args.keep)
    peer = None
    try:
        say(f"Booting a Debian guest under QEMU (TCG) with {'our' if agent == 'ours' else 'the reference'} "
            f"agent and QEMU's {'SPICE server' if args.spice else 'qemu-vdagent + VNC'} host side")
        t = time.monotonic()
        g.start(env={"VD_VM_AGENT": agent, "VD_BUILD_ROOT": vmlib.BUILD_ROOT})
        result(True, f"the guest is up in {time.monotonic() - t:.0f} s (its root is this machine's, read-only)")
        say("Starting the agent's system daemon, an X server and the session agent in the guest")
        dev = g.agents("start-daemon").strip()
        g.agents("start-qga")
        g.agents("start-x")
        g.agents("start-session")
        result(True, f"vdagentd is running; its pointer device: {dev}")
        peer = demo_spice(g) if args.spice else demo_vnc(g)

        say("Asking the guest agent (QEMU guest agent protocol) who it is")
        qga = QGA(g.qga_path)
        ok = qga.sync()
        info = qga.call("guest-info") if ok else {}
        result(ok and "return" in info, f"guest-info: version {info.get('return', {}).get('version')!r}, "
                                        f"{len(info.get('return', {}).get('supported_commands', []))} commands")
        if args.keep:
            print()
            if args.spice:
                print(f"The VM keeps running. Connect a real viewer:\n    remote-viewer spice+unix://{g.spice_path}")
            else:
                print(f"The VM keeps running. QEMU's VNC server listens on {g.vnc_path}; connect a real viewer\n"
                      f"through a local TCP port:\n"
                      f"    socat TCP-LISTEN:5901,bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:{g.vnc_path} &\n"
                      f"    remote-viewer vnc://127.0.0.1:5901      (or any VNC client: vncviewer 127.0.0.1::5901)")
            print(f"The QEMU guest agent socket: {g.qga_path}\nLogs: {g.results}\nPress Ctrl-C to shut it down.")
            try:
                while g.proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                print()
        say("Asking the guest to shut down (QEMU guest agent: guest-shutdown)")
        qga.call("guest-shutdown", {"mode": "powerdown"}, reply=False)
        rc = g.wait_exit(60)
        result(rc is not None, "the guest powered off and QEMU exited" if rc is not None
               else "QEMU is still running 60 s later")
    except (VMError, OSError, ValueError, rfb.RFBError) as e:
        result(False, f"{type(e).__name__}: {e}")
    finally:
        if peer:
            peer.close()
        if results and not all(results):
            print("\nThe guest's logs:")
            g.dump_logs(lines=25)
        g.stop()
    ok = bool(results) and all(results)
    print(f"\n{GREEN + 'The demo worked: every step passed.' if ok else RED + 'The demo failed.'}{RESET}"
          f" ({sum(results)} of {len(results)} steps)")
    return 0 if ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
