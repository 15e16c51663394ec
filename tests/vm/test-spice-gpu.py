#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-QEMU test of GRAPHICS_DEVICE_INFO: a guest with `-device virtio-vga,max_outputs=2` (one SPICE
display channel per head), Xorg's modesetting driver on its DRM card, QEMU's SPICE server and the
spice-gtk test client. QEMU tells spice-server each head's device address and index; the agent must
resolve that address through sysfs to the card and its connectors, and put each display on its own
output (Virtual-1, Virtual-2), checked with xrandr and `vdagent-ctl status`. One guest boot. TAP.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402
from spiceclient import SpiceClient  # noqa: E402
from vmlib import wait_for  # noqa: E402

CASES = 4


def main():
    agent = vmlib.agent_choice()
    tap = vmlib.Tap(CASES)
    exe = os.environ.get("VD_SPICE_CLIENT")
    if not exe or not os.access(exe, os.X_OK):
        for _ in range(CASES):
            tap.skip("SPICE GPU case", "spice-client-glib-2.0 not found at configure time (libspice-client-glib-2.0-dev)")
        return 0
    if agent != "ours":
        for _ in range(CASES):
            tap.skip("SPICE GPU case", "the device map is read from our agent's status")
        return 0
    g = vmlib.Guest("spice-gpu", host="spice", display="virtio-vga,max_outputs=2")
    work = g.results
    client = None
    t0 = time.monotonic()
    ctl = os.path.join(vmlib.BUILD_ROOT, "src", "ctl", "vdagent-ctl")

    def status():
        rc, out, err = g.run(f"{ctl} --control /run/vdagentd/control.sock --json status", timeout=30)
        return json.loads(out) if rc == 0 else {}

    def device_map():
        return {e["display_id"]: (e["output"], e["by"]) for e in status().get("device_map", [])}

    def outputs():
        rc, out, _ = g.x("xrandr --current", timeout=20)
        return {m[0]: tuple(int(v) for v in m[1:])
                for m in re.findall(r"^(\S+) (?:dis)?connected (?:primary )?(\d+)x(\d+)\+(\d+)\+(\d+)", out, re.M)}

    try:
        def boot():
            g.start(env={"VD_VM_AGENT": agent, "VD_BUILD_ROOT": vmlib.BUILD_ROOT})
            g.sh("modprobe virtio_gpu", timeout=60)
            vmlib.log(g.agents("start-daemon").strip())
            vmlib.log(g.agents("start-x-kms").strip())
            g.agents("start-session")
            return True
        if not tap.case("guest with virtio-vga (2 heads) boots; Xorg modesetting, daemon and agent start", boot):
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

        def mapped():
            want = {0: ("Virtual-1", "device-info"), 1: ("Virtual-2", "device-info")}
            got = {}

            def ok():
                got.update(device_map())
                return all(got.get(d) == w for d, w in want.items())
            res = wait_for(ok, 60, interval=1)
            rc, log, _ = g.run("grep 'device map:' /run/vdtest/results/vdagent.log", timeout=20)
            resolved = re.search(r'device map: display 1 -> "Virtual-2" \(display 1 of the device at "pci/0000/'
                                 r'[0-9a-f]{2}\.[0-7]"\)', log)
            return res and bool(resolved), f"status device_map {got}; agent log:\n{log}"
        tap.case("QEMU's device info resolved through sysfs: display 0 on Virtual-1, 1 on Virtual-2", mapped)

        def pointer_on_head_2():
            # With virtio-gpu, QEMU applies the client's monitors config itself (new preferred modes
            # and connector states, as a desktop would then use); the agent's part is the pointer:
            # the client's positions on display 1 must land on head 2's output, wherever that is.
            client.cmd("monitors 1024x768+0+0 800x600+1024+0")
            wait_for(lambda: g.x("xrandr | grep -q '^Virtual-2 connected'", timeout=20)[0] == 0, 40, interval=1)
            rc, out, err = g.x("xrandr --output Virtual-1 --mode 1024x768 --pos 0x0 "
                               "--output Virtual-2 --mode 800x600 --pos 1024x0", timeout=30)
            if rc != 0:
                return False, f"xrandr: {out}{err}"
            # The pointer follows the agent's layout report: wait until the daemon has it (a position
            # sent before is dropped for a display the layout lacks, and the client sends it once).
            want_layout = [dict(display_id=0, x=0, y=0, width=1024, height=768),
                           dict(display_id=1, x=1024, y=0, width=800, height=600)]
            if not wait_for(lambda: status().get("mouse", {}).get("layout") == want_layout, 30, interval=0.5):
                return False, f"the daemon's layout: {status().get('mouse')}"
            client.cmd("mouse-mode", timeout=30)
            bad = []
            for display, x, y, want in [(1, 100, 50, (1124, 50)), (0, 10, 700, (10, 700)),
                                        (1, 799, 599, (1823, 599))]:
                client.cmd(f"position {display} {x} {y}")
                at = [None]

                def landed():
                    rc, out, _ = g.x("xdotool getmouselocation", timeout=10)
                    m = re.match(r"x:(\d+) y:(\d+)", out)
                    at[0] = (int(m.group(1)), int(m.group(2))) if m else out
                    return at[0] == want
                if not wait_for(landed, 20):
                    bad.append(f"display {display} ({x},{y}): X pointer at {at[0]}, wanted {want}")
            return not bad, "\n".join(bad) + f"\nxrandr {outputs()}; status layout {status().get('mouse')}"
        tap.case("client-mode mouse on display 1 lands on head 2's output (Virtual-2)", pointer_on_head_2)
    except Exception as e:  # noqa: BLE001
        tap.ok(False, f"test harness error: {type(e).__name__}: {e}")
    finally:
        if tap.failed:
            g.dump_logs()
        if client:
            client.close()
        g.stop()
        vmlib.log(f"wall time {time.monotonic() - t0:.1f} s")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
