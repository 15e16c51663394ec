#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-QEMU end-to-end test with QEMU's SPICE server and a client on spice-client-glib-2.0 (spice-client.c,
the library virt-manager and remote-viewer use). The guest runs the agent under test (VD_VM_AGENT=ours|
reference), Xorg with the dummy driver (16 RandR outputs) and the agent's uinput device as its pointer, and
real X clients (xclip, xrandr, xdotool). TAP, one line per case.
"""
import hashlib
import os
import re
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402
from spiceclient import SpiceClient  # noqa: E402
from vmlib import VMError, wait_for  # noqa: E402

CASES = 16
BIG = 8 << 20
DOWNLOADS = "/run/vdtest/downloads"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def main():
    agent = vmlib.agent_choice()
    tap = vmlib.Tap(CASES)
    exe = os.environ.get("VD_SPICE_CLIENT")
    if not exe or not os.access(exe, os.X_OK):
        for _ in range(CASES):
            tap.skip("SPICE case", "spice-client-glib-2.0 not found at configure time (libspice-client-glib-2.0-dev)")
        return 0
    vmlib.log(f"agent under test: {agent}")
    g = vmlib.Guest(f"spice-{agent}", host="spice")
    work = g.results  # host-side files the guest can read too (the host root is its root)
    client = None
    t0 = time.monotonic()

    def guest_sel(sel):
        rc, out, err = g.x(f"xclip -o -selection {sel} | od -An -v -tx1", timeout=30)
        return bytes(int(h, 16) for h in out.split()) if rc == 0 else None

    def guest_sel_sha(sel):
        rc, out, _ = g.x(f"xclip -o -selection {sel} | sha256sum", timeout=60)
        return out.split()[0] if rc == 0 and out else None

    def guest_copy_file(path, sel):
        g.x(f"xclip -i -selection {sel} {shlex.quote(path)} >/dev/null 2>&1 </dev/null", timeout=30)

    def host_grab(data, sel_no, name):
        path = os.path.join(work, f"host-clip-{name}")
        with open(path, "wb") as f:
            f.write(data)
        client.cmd(f"grab {sel_no} {path}")
        return path

    try:
        def boot():
            g.start(env={"VD_VM_AGENT": agent, "VD_BUILD_ROOT": vmlib.BUILD_ROOT})
            vmlib.log(g.agents("start-daemon").strip())
            vmlib.log(g.agents("start-x").strip())
            g.agents("start-session")
            return True
        if not tap.case("guest boots; daemon, Xorg and session agent start", boot):
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

        def host_to_guest(sel_no, sel, data, label):
            def case():
                host_grab(data, sel_no, label)
                got = wait_for(lambda: guest_sel(sel) == data, 30, interval=0.5)
                return got, f"guest {sel}: {guest_sel(sel)!r}, wanted {data!r}"
            return case
        tap.case("client -> guest CLIPBOARD (xclip -o)",
                 host_to_guest(0, "clipboard", f"spice → guest clipboard ✓ {os.getpid()}".encode(), "c"))
        tap.case("client -> guest PRIMARY (xclip -o)",
                 host_to_guest(1, "primary", f"spice → guest primary ✓ {os.getpid()}".encode(), "p"))

        def guest_to_host(sel_no, sel, data, label):
            def case():
                path = os.path.join(work, f"guest-clip-{label}")
                with open(path, "wb") as f:
                    f.write(data)
                client.clear_events()
                guest_copy_file(path, sel)
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
        tap.case("guest CLIPBOARD (xclip -i) -> client",
                 guest_to_host(0, "clipboard", f"guest → spice clipboard ü {time.time()}".encode(), "c"))
        tap.case("guest PRIMARY (xclip -i) -> client",
                 guest_to_host(1, "primary", f"guest → spice primary ü {time.time()}".encode(), "p"))

        big = (b"".join(b"%07d vdtest 8 MiB clipboard line\n" % i for i in range(BIG // 32)))[:BIG]

        def big_host_to_guest():
            host_grab(big, 0, "big")
            want = sha256(big)
            got = wait_for(lambda: guest_sel_sha("clipboard") == want, 120, interval=2)
            return got, f"guest sha256 {guest_sel_sha('clipboard')}, wanted {want}"
        tap.case("8 MiB client -> guest CLIPBOARD", big_host_to_guest)

        def big_guest_to_host():
            path = os.path.join(work, "guest-clip-big")
            with open(path, "wb") as f:
                f.write(big)
            client.clear_events()
            guest_copy_file(path, "clipboard")
            if not client.wait_event(lambda e: e[0] == "grab" and e[1] == "0", 30):
                return False, "no grab from the guest"
            client.cmd("request 0")
            ev = client.wait_event(lambda e: e[0] == "data" and e[1] == "0", 120)
            return bool(ev) and ev[3] == str(len(big)) and ev[4] == sha256(big), f"got {ev and ev[2:5]}"
        tap.case("8 MiB guest CLIPBOARD -> client", big_guest_to_host)

        def empty_host_to_guest():
            host_grab(b"", 0, "empty")
            ok = wait_for(lambda: guest_sel("clipboard") == b"", 30, interval=0.5)
            return ok, f"guest clipboard: {guest_sel('clipboard')!r}, wanted b''"
        tap.case("0-byte client -> guest CLIPBOARD", empty_host_to_guest)

        def empty_guest_to_host():
            client.clear_events()
            g.x("printf '' | xclip -i -selection clipboard >/dev/null 2>&1", timeout=15)
            if not client.wait_event(lambda e: e[0] == "grab" and e[1] == "0", 20):
                return False, "no grab from the guest"
            client.cmd("request 0")
            ev = client.wait_event(lambda e: e[0] == "data" and e[1] == "0", 20)
            return bool(ev) and ev[3] == "0", f"got {ev}"
        tap.case("0-byte guest CLIPBOARD -> client", empty_guest_to_host)

        layout = [(1024, 768, 0, 0), (800, 600, 1024, 0)]

        def outputs():
            rc, out, _ = g.x("xrandr --current", timeout=20)
            return re.findall(r"^(\S+) (?:dis)?connected (?:primary )?(\d+)x(\d+)\+(\d+)\+(\d+)", out, re.M)

        def monitors():
            client.cmd("monitors " + " ".join(f"{w}x{h}+{x}+{y}" for w, h, x, y in layout))
            want = sorted(layout)

            def geometry():
                return sorted(tuple(int(v) for v in o[1:]) for o in outputs())
            ok = wait_for(lambda: geometry() == want, 40, interval=1)
            return ok, f"xrandr outputs {outputs()}, wanted {layout}"
        tap.case("two-monitor config from the client: xrandr shows both at the requested geometry", monitors)

        def mouse_second_monitor():
            client.cmd("mouse-mode", timeout=30)
            bad = []
            for display, x, y in [(1, 100, 50), (1, 799, 599), (0, 10, 700)]:
                client.cmd(f"position {display} {x} {y}")
                want = (x + layout[display][2], y + layout[display][3])
                at = [None]

                def landed():
                    rc, out, _ = g.x("xdotool getmouselocation", timeout=10)
                    m = re.match(r"x:(\d+) y:(\d+)", out)
                    at[0] = (int(m.group(1)), int(m.group(2))) if m else out
                    return at[0] == want
                if not wait_for(landed, 15):
                    bad.append(f"display {display} ({x},{y}): X pointer at {at[0]}, wanted {want}")
            return not bad, "\n".join(bad)
        tap.case("client-mode mouse on monitor 2 lands on the right X pixel", mouse_second_monitor)

        def file_copy():
            data = os.urandom(300 * 1024 + 17)
            path = os.path.join(work, "vdtest-file.bin")
            with open(path, "wb") as f:
                f.write(data)
            client.cmd(f"copy-file {path}", timeout=120)
            rc, out, _ = g.run(f"sha256sum {DOWNLOADS}/vdtest-file.bin", timeout=30)
            return rc == 0 and out.split()[0] == sha256(data), f"guest: {out.strip()} (rc {rc}), wanted {sha256(data)}"
        tap.case("file copy lands in the download dir with the right bytes", file_copy)

        def hostile_name():
            # spice-gtk sends the basename: a name can still carry backslashes, dots, control characters
            name = "..\\..\\..\\run\\vdtest\\escaped\x01\n.txt"
            hdir = os.path.join(work, "hostile")
            os.makedirs(hdir, exist_ok=True)
            path = os.path.join(hdir, name)
            with open(path, "wb") as f:
                f.write(b"hostile\n")
            before = g.sh("find /run /tmp /var/tmp /var/log /root /home /dev/shm -newer /run/vdtest/results/guest.env -type f 2>/dev/null | sort; true",
                          timeout=60)
            try:
                client.cmd(f"copy-file {path}", timeout=60)
                accepted = True
            except VMError:
                accepted = False  # refusing the name is fine too
            after = g.sh("find /run /tmp /var/tmp /var/log /root /home /dev/shm -newer /run/vdtest/results/guest.env -type f 2>/dev/null | sort; true",
                         timeout=60)
            new = sorted(set(after.splitlines()) - set(before.splitlines()))
            outside = [p for p in new if not p.startswith(DOWNLOADS + "/") and "/run/vdtest/results" not in p]
            _, listing, _ = g.run(f"ls -la {DOWNLOADS}")
            return not outside, f"accepted={accepted}; new files outside the download dir: {outside}\n{listing}"
        tap.case("a hostile file name does not escape the download dir", hostile_name)

        def reconnect():
            client.cmd("disconnect", timeout=30)
            time.sleep(2)
            client.cmd("connect")
            client.cmd("wait-agent 60", timeout=70)
            data = f"after reconnect ✓ {time.time()}".encode()
            host_grab(data, 0, "reconnect")
            ok1 = wait_for(lambda: guest_sel("clipboard") == data, 30, interval=0.5)
            back = f"guest after reconnect {time.time()}".encode()
            path = os.path.join(work, "guest-clip-reconnect")
            with open(path, "wb") as f:
                f.write(back)
            client.clear_events()
            guest_copy_file(path, "clipboard")
            ok2 = bool(client.wait_event(lambda e: e[0] == "grab" and e[1] == "0", 20))
            if ok2:
                client.cmd("request 0")
                ev = client.wait_event(lambda e: e[0] == "data" and e[1] == "0", 20)
                ok2 = bool(ev) and len(ev) > 5 and bytes.fromhex(ev[5]) == back
            return ok1 and ok2, f"client->guest {'ok' if ok1 else 'FAILED'}; guest->client {'ok' if ok2 else 'FAILED'}"
        tap.case("client disconnects and reconnects: clipboard both ways works again", reconnect)

        def mouse_after_reconnect():
            client.cmd("mouse-mode", timeout=30)
            client.cmd("position 1 321 123")
            want = (1024 + 321, 123)
            ok = wait_for(lambda: g.x("xdotool getmouselocation")[1].startswith(f"x:{want[0]} y:{want[1]} "), 15)
            return ok, f"X pointer: {g.x('xdotool getmouselocation')[1].strip()}, wanted {want}"
        tap.case("client-mode mouse works after the reconnect", mouse_after_reconnect)
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
