#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-QEMU test of the Wayland backend: a guest running sway on its virtio-gpu DRM card, with
libinput on our uinput device (through udev and seatd), QEMU's SPICE server and the spice-gtk test
client. Our agent runs in the sway session. Clipboard both ways and PRIMARY (wl-copy/wl-paste), two
monitors applied through wlroots output management, the pointer on the exact pixel of monitor 2 as a
Wayland client sees it (wl-pointer-probe), a file transfer. One guest boot. TAP.

With virtio-gpu, QEMU's SPICE server hands the client's monitors config to the GPU (a hotplug with
new preferred modes), not to the agent: sway enables the new head at its preferred mode where it
likes. The agent's output management is then driven with the same config injected through the daemon
(`vdagent-ctl monitors`, which the daemon forwards exactly as a host's MONITORS_CONFIG).
"""
import hashlib
import json
import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402
from spiceclient import SpiceClient  # noqa: E402
from vmlib import wait_for  # noqa: E402

CASES = 9
HERE = os.path.dirname(os.path.abspath(__file__))
SWAY_SH = os.path.join(HERE, "guest", "sway.sh")


def main():
    agent = vmlib.agent_choice()
    tap = vmlib.Tap(CASES)
    exe = os.environ.get("VD_SPICE_CLIENT")
    probe = os.environ.get("VD_WL_POINTER_PROBE")
    if not exe or not os.access(exe, os.X_OK):
        for _ in range(CASES):
            tap.skip("SPICE sway case", "spice-client-glib-2.0 not found at configure time (libspice-client-glib-2.0-dev)")
        return 0
    if agent != "ours":
        for _ in range(CASES):
            tap.skip("SPICE sway case", "spice-vdagent has no Wayland backend")
        return 0
    g = vmlib.Guest("spice-sway", host="spice", display="virtio-vga,max_outputs=2")
    work = g.results
    client = None
    t0 = time.monotonic()

    def session(cmd, timeout=30):
        return g.run(f"{shlex.quote(SWAY_SH)} run sh -c {shlex.quote(cmd)}", timeout=timeout)

    def paste(primary):
        rc, out, _ = session(f"wl-paste --no-newline {'--primary' if primary else ''} | od -An -v -tx1")
        return bytes(int(h, 16) for h in out.split()) if rc == 0 else None

    def outputs():
        rc, out, _ = session("swaymsg -r -t get_outputs")
        if rc != 0:
            return {}
        return {o["name"]: (o["rect"]["width"], o["rect"]["height"], o["rect"]["x"], o["rect"]["y"])
                for o in json.loads(out) if o.get("active")}

    try:
        def boot():
            g.start(env={"VD_VM_AGENT": agent, "VD_BUILD_ROOT": vmlib.BUILD_ROOT})
            vmlib.log(g.agents("start-daemon").strip())
            vmlib.log(g.sh(f"{shlex.quote(SWAY_SH)} start", timeout=120).strip())
            return True
        if not tap.case("guest boots; daemon, sway (DRM + libinput on our device) and the agent start", boot):
            g.dump_logs()
            return tap.finish("the guest did not come up")

        def connect():
            nonlocal client
            client = SpiceClient(exe, f"spice+unix://{g.spice_path}", os.path.join(work, "spice-client.log"))
            client.cmd("connect")
            client.cmd("wait-agent 60", timeout=70)
            return True
        if not tap.case("spice-gtk client connects and sees the guest agent", connect):
            g.dump_logs()
            return tap.finish("no SPICE client")

        def host_to_guest(sel_no, primary, data, label):
            def case():
                path = os.path.join(work, f"host-clip-{label}")
                with open(path, "wb") as f:
                    f.write(data)
                client.cmd(f"grab {sel_no} {path}")
                ok = wait_for(lambda: paste(primary) == data, 30, interval=0.5)
                return ok, f"wl-paste{' -p' if primary else ''}: {paste(primary)!r}, wanted {data!r}"
            return case
        tap.case("client -> guest CLIPBOARD (wl-paste)",
                 host_to_guest(0, False, f"spice → sway clipboard ✓ {os.getpid()}".encode(), "c"))
        tap.case("client -> guest PRIMARY (wl-paste -p)",
                 host_to_guest(1, True, f"spice → sway primary ✓ {os.getpid()}".encode(), "p"))

        def guest_to_host(sel_no, primary, data, label):
            def case():
                path = os.path.join(work, f"guest-clip-{label}")
                with open(path, "wb") as f:
                    f.write(data)
                client.clear_events()
                session(f"wl-copy {'--primary' if primary else ''} <{shlex.quote(path)} >/dev/null 2>&1")
                ev = client.wait_event(lambda e: e[0] == "grab" and e[1] == str(sel_no), 20)
                if not ev:
                    return False, "no grab from the guest"
                client.cmd(f"request {sel_no}")
                ev = client.wait_event(lambda e: e[0] == "data" and e[1] == str(sel_no), 20)
                if not ev:
                    return False, "no data from the guest"
                got = bytes.fromhex(ev[5]) if len(ev) > 5 else b""
                return int(ev[3]) == len(data) and got == data, f"got {ev[2:]} wanted {data!r}"
            return case
        tap.case("guest CLIPBOARD (wl-copy) -> client",
                 guest_to_host(0, False, f"sway → spice clipboard ü {time.time()}".encode(), "c"))
        tap.case("guest PRIMARY (wl-copy -p) -> client",
                 guest_to_host(1, True, f"sway → spice primary ü {time.time()}".encode(), "p"))

        layout = [(1024, 768, 0, 0), (800, 600, 1024, 0)]

        def monitors():
            spec = " ".join(f"{w}x{h}+{x}+{y}" for w, h, x, y in layout)
            client.cmd("monitors " + spec)
            if not wait_for(lambda: "Virtual-2" in outputs(), 60, interval=1):
                return False, f"the second head never came: sway outputs {outputs()}"
            ctl = os.path.join(vmlib.BUILD_ROOT, "src", "ctl", "vdagent-ctl")
            g.sh(f"{ctl} --control /run/vdagentd/control.sock monitors {spec}", timeout=30)
            want = {"Virtual-1": layout[0], "Virtual-2": layout[1]}
            ok = wait_for(lambda: outputs() == want, 60, interval=1)
            return ok, f"sway outputs {outputs()}, wanted {want}"
        tap.case("two-monitor config (client hotplug, then the daemon's MONITORS_CONFIG): sway shows the geometry", monitors)

        def pointer_second_monitor():
            session("swaymsg focus output Virtual-2")
            pid = g.run(f"{shlex.quote(SWAY_SH)} run {shlex.quote(probe)}", background=True,
                        log="/run/vdtest/results/probe.log")
            probe_log = os.path.join(work, "probe.log")
            if not wait_for(lambda: "size 800 600" in open(probe_log).read() if os.path.exists(probe_log) else False,
                            30):
                return False, "the probe's window never covered monitor 2"
            client.cmd("mouse-mode", timeout=30)
            bad = []
            for x, y in [(100, 50), (799, 599), (0, 0), (333, 444)]:
                client.cmd(f"position 1 {x} {y}")
                # libinput hands over fractions of the axis step: the pixel is the whole part
                want = (x, y)

                def landed():
                    lines = [l.split() for l in open(probe_log).read().splitlines() if l.startswith("pointer")]
                    return lines and (int(float(lines[-1][1])), int(float(lines[-1][2]))) == want
                if not wait_for(landed, 15):
                    last = [l for l in open(probe_log).read().splitlines() if l.startswith("pointer")][-1:]
                    bad.append(f"display 1 ({x},{y}): the probe saw {last}, wanted {want!r}")
            g.run(f"kill {pid}")
            return not bad, "\n".join(bad)
        tap.case("client-mode mouse on monitor 2: a Wayland client sees the exact pixel", pointer_second_monitor)

        def file_copy():
            data = os.urandom(300 * 1024 + 17)
            path = os.path.join(work, "vdtest-file.bin")
            with open(path, "wb") as f:
                f.write(data)
            client.cmd(f"copy-file {path}", timeout=120)
            rc, out, _ = g.run("sha256sum /run/vdtest/sway/downloads/vdtest-file.bin", timeout=30)
            want = hashlib.sha256(data).hexdigest()
            return rc == 0 and out.split()[0] == want, f"guest: {out.strip()} (rc {rc}), wanted {want}"
        tap.case("file copy lands in the agent's download dir with the right bytes", file_copy)
    finally:
        if client:
            client.close()
        if tap.failed:
            g.dump_logs()
        g.stop()
        vmlib.log(f"spice-sway: {time.monotonic() - t0:.1f} s")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
