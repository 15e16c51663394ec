#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The proof that the installed project works on a machine that boots: one systemd-booted TCG guest (booted.py),
the project installed with `meson install --prefix=/usr` and its presets applied, QEMU's SPICE server with the
spice-client-glib test client, the QGA channel, the real systemd-logind and LightDM with autologin. Nothing in
the guest is started by hand: the test only changes LightDM's configuration and restarts it, as an
administrator would, and asks LightDM to log a second user in, as a "switch user" menu does.

Sessions, one after another in the same boot: (a) Xfce, which runs XDG autostart; (b) i3 with a plain
configuration (no dex, so no XDG autostart): only the Xsession.d hook can start the agent; (c) i3 with a
session target that binds graphical-session.target (systemd.special(7)): the vdagent.service user unit.
In each: the agent runs in that session, the host's clipboard reaches it, the pointer lands on the exact pixel,
and a monitor change applies. Then two users on two VTs with chvt, vdagentd restarted, the agent killed,
qemu-guest-agent alongside, and a guest-shutdown over QGA. TAP, one line per case.
"""
import os
import re
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import booted  # noqa: E402
import vmlib  # noqa: E402
from spiceclient import SpiceClient  # noqa: E402
from vmlib import VMError, wait_for  # noqa: E402

CASES = 22
AGENT_TIMEOUT = 180  # a session's autostart under TCG on a loaded 2-core machine
# (session, label, how many detached vdagent starts hand the display to the user manager: Xfce's XDG autostart
# and the Xsession.d hook; the hook alone; the hook, while graphical-session.target starts the unit itself)
SESSIONS = [("xfce", "Xfce (XDG autostart)", 2), ("i3", "i3, plain configuration (Xsession.d hook)", 1),
            ("i3-systemd", "i3 with graphical-session.target (user unit)", 1)]
HANDED = "handed to the systemd user manager"


def main():
    tap = vmlib.Tap(CASES)
    exe = os.environ.get("VD_SPICE_CLIENT")
    if not exe or not os.access(exe, os.X_OK):
        for _ in range(CASES):
            tap.skip("booted case", "spice-client-glib-2.0 not found at configure time (libspice-client-glib-2.0-dev)")
        return 0
    if vmlib.agent_choice() != "ours":
        for _ in range(CASES):
            tap.skip("booted case", "the booted guest tests this project's installation only (VD_VM_AGENT=ours)")
        return 0
    missing = [p for p in ("/usr/sbin/lightdm", "/usr/bin/xfce4-session", "/usr/bin/i3") if not os.path.exists(p)]
    if missing:
        for _ in range(CASES):
            tap.skip("booted case", f"missing {' '.join(missing)} (tools/deps test)")
        return 0
    t0 = time.monotonic()
    seed, _ = booted.prepare("xfce")
    g = booted.BootedGuest("booted", seed)
    client = None
    state = {"clip": 0}

    def sh(cmd, timeout=30):
        return g.sh(cmd, timeout=timeout)

    def x(display, cmd, timeout=30):
        """A command as root on an X display LightDM runs (its server authority file)."""
        return g.run(f"DISPLAY={display} XAUTHORITY=/var/run/lightdm/root/{display} {cmd}", timeout=timeout)

    def user_clip(user, display):
        rc, out, _ = g.run(f"runuser -u {user} -- env DISPLAY={display} XAUTHORITY=/home/{user}/.Xauthority "
                           "xclip -o -selection clipboard", timeout=20)
        return out if rc == 0 else None

    def sessions():
        """{id: {Name, Type, State, Active, Display, VTNr}} of logind's x11 sessions."""
        out = sh("for s in $(loginctl list-sessions --no-legend | awk '{print $1}'); do "
                 "echo \"== $s\"; loginctl show-session $s -p Name -p Type -p State -p Active -p Display -p VTNr; done")
        found, cur = {}, None
        for line in out.splitlines():
            if line.startswith("== "):
                cur = found.setdefault(line[3:], {})
            elif "=" in line and cur is not None:
                k, v = line.split("=", 1)
                cur[k] = v
        return {k: v for k, v in found.items() if v.get("Type") == "x11"}

    def new_session(user, old_ids, timeout=120):
        """Waits for an active x11 session of user that is not in old_ids; returns (id, props)."""
        def find():
            for sid, p in sessions().items():
                if p.get("Name") == user and sid not in old_ids and p.get("Active") == "yes" and p.get("State") == "active":
                    return sid, p
            return None
        r = wait_for(find, timeout, interval=2)
        if not r:
            raise VMError(f"no new active x11 session of {user} in {timeout} s: {sessions()}")
        return r

    def agents_of(user):
        """{pid: 'session N' or the user unit it runs in} of user's vdagent processes."""
        out = sh(f"for p in $(pgrep -u {user} -x vdagent); do echo \"$p $(ps -o lsession=,uunit= -p $p)\"; done")
        found = {}
        for line in out.splitlines():
            w = line.split()
            if len(w) >= 2:
                found[int(w[0])] = f"session {w[1]}" if w[1] != "-" else w[-1]
        return found

    def display_of(sid, props):
        """The X display of a session: logind's Display, else the LightDM X server on the session's VT."""
        if props.get("Display"):
            return props["Display"]
        out = sh("ps -C Xorg -o args=")
        m = re.search(rf"(:\d+) .*\bvt{props.get('VTNr')}\b", out)
        if not m:
            raise VMError(f"no X server on vt{props.get('VTNr')} for session {sid}: {out}")
        return m.group(1)

    def paste(text):
        state["clip"] += 1
        path = os.path.join(g.results, f"host-clip-{state['clip']}")
        with open(path, "w") as f:
            f.write(text)
        client.cmd(f"grab 0 {path}")

    def clipboard_reaches(user, display):
        data = f"host clipboard for {user} on {display} #{state['clip'] + 1} ✓"
        paste(data)
        ok = wait_for(lambda: user_clip(user, display) == data, 40, interval=1)
        return ok, f"{user}'s clipboard on {display}: {user_clip(user, display)!r}, wanted {data!r}"

    def screen(display):
        rc, out, _ = x(display, "xrandr --current")
        m = re.search(r"current (\d+) x (\d+)", out)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def pointer(display):
        rc, out, _ = x(display, "xdotool getmouselocation")
        m = re.match(r"x:(\d+) y:(\d+)", out)
        return (int(m.group(1)), int(m.group(2))) if m else out

    def pointer_lands(display):
        w, h = screen(display) or (0, 0)
        bad = []
        for px, py in [(17, 23), (w - 1, h - 1), (w // 2 + 3, h // 3 + 1)]:
            client.cmd(f"position 0 {px} {py}")
            if not wait_for(lambda: pointer(display) == (px, py), 15, interval=0.5):
                bad.append(f"({px},{py}) on {w}x{h}: X pointer at {pointer(display)}")
        return not bad, "\n".join(bad)

    def monitors_apply(display, size):
        client.cmd(f"monitors {size[0]}x{size[1]}+0+0")
        ok = wait_for(lambda: screen(display) == size, 40, interval=1)
        return ok, f"{display} is {screen(display)}, wanted {size}"

    cur = {"user": "alice", "sid": None, "display": None}
    try:
        def boot():
            g.start()
            out = sh("systemctl is-system-running --wait; ps -o comm= -p 1; systemd-detect-virt; "
                     "systemd-analyze | head -n 1", timeout=300)
            vmlib.log(f"booted in {time.monotonic() - g.t0:.1f} s: {' | '.join(out.split(chr(10)))}")
            lines = out.splitlines()
            return lines[0] == "running" and lines[1] == "systemd" and lines[2] == "qemu", out
        if not tap.case("guest boots with systemd as PID 1; every unit started (is-system-running)", boot):
            g.dump_logs()
            return tap.finish("the guest did not boot")

        def installed():
            dev = "/dev/virtio-ports/com.redhat.spice.0"
            out = sh("systemctl is-enabled vdagentd.socket vdagentd.service; systemctl --global is-enabled vdagent.service;"
                     " systemctl show -p WantedBy --value vdagentd.service;"
                     " systemctl is-active vdagentd.service; ls /etc/X11/Xsession.d/ | grep -c vdagent")
            lines = out.splitlines()
            want = ["enabled", "disabled", "enabled"]
            # the spice port's device unit (udev's SYSTEMD_WANTS) wants it
            # (the sysfs device unit, whose name ends in the port's kernel name: -vport4p2.device)
            port_dev = "-" + sh(f"basename \"$(readlink -f {dev})\"").strip() + ".device"
            ok = lines[:3] == want and port_dev in lines[3] and lines[4] == "active" and lines[5] == "1"
            if not ok:
                lines.append(g.run(f"udevadm info {dev}; systemctl status --no-pager {dev} vdagentd.service; "
                                   "journalctl -b --no-pager | grep -E 'vdagentd|virtio' | head -n 30")[1])
            return ok, f"is-enabled {lines[:3]} (wanted {want}); vdagentd.service WantedBy={lines[3]} (wanted {port_dev}); " \
                       f"vdagentd {lines[4]}; Xsession.d hooks {lines[5]}" + "\n".join(lines[6:])
        tap.case("presets applied (vdagentd.socket, user unit enabled; vdagentd.service left to udev); "
                 "udev's device unit wants vdagentd and it runs", installed)

        def connect():
            nonlocal client
            client = SpiceClient(exe, f"spice+unix://{g.spice_path}", os.path.join(g.results, "spice-client.log"))
            client.cmd("connect")
            client.cmd("wait-agent 60", timeout=70)
            return True

        sizes = iter([(1024, 768), (1152, 864), (1280, 720), (1280, 800)])
        def handovers(user):
            """The detached starts of vdagent in user's current X session (Xsession's ~/.xsession-errors)."""
            rc, out, _ = g.run(f"grep -c '{HANDED}' /home/{user}/.xsession-errors")
            return int(out.strip() or 0)

        for name, label, starts in SESSIONS:
            def start_session(name=name, starts=starts):
                old = set()  # the first one: LightDM's autologin at boot
                if cur["sid"] is not None:
                    old = set(sessions())
                    g.sh(f"printf '%s' {shlex.quote(booted.lightdm_conf(name))} "
                         ">/etc/lightdm/lightdm.conf.d/50-vdtest.conf && systemctl restart lightdm")
                try:
                    sid, p = new_session("alice", old, timeout=90)
                except VMError as e:
                    # Seen once on a machine at load average 5-6: LightDM showed its greeter (session of user
                    # lightdm) instead of the autologin session. Keep its logs and give it one more start.
                    g.run(f"mkdir -p {booted.RESULTS}/lightdm-{name} && cp -r /var/log/lightdm/. "
                          f"/var/log/Xorg.*.log {booted.RESULTS}/lightdm-{name}/", timeout=30)
                    vmlib.log(f"LightDM did not log alice in ({e}); its logs are in lightdm-{name}/; restarting it once")
                    old = set(sessions())
                    sh("systemctl restart lightdm")
                    sid, p = new_session("alice", old)
                cur.update(sid=sid, display=display_of(sid, p))
                pids = wait_for(lambda: agents_of("alice"), AGENT_TIMEOUT, interval=2)
                if not pids:
                    return False, f"no vdagent in session {sid} after {AGENT_TIMEOUT} s\n" + \
                        g.run("ps -eo user,pid,lsession,args | grep -v ' \\[' ; "
                              f"tail -n 20 /home/alice/.xsession-errors")[1]
                if client is None:
                    connect()
                    client.cmd("mouse-mode", timeout=30)
                # every entry point of this kind of session fired, and they converged on one agent of the user
                handed = wait_for(lambda: handovers("alice") >= starts, 90, interval=2) and handovers("alice")
                time.sleep(3)
                pids = agents_of("alice")
                via = g.run("systemctl --user -M alice@ is-active vdagent.service graphical-session.target")[1].split()
                vmlib.log(f"session {sid} ({name}) on {cur['display']} vt{p['VTNr']}: agents {pids}; "
                          f"user unit / graphical-session.target: {via}; detached starts handed over: {handed}")
                return len(pids) == 1 and handed == starts, \
                    f"alice's agents: {pids}; detached starts handed to the user manager: {handovers('alice')}, " \
                    f"wanted {starts}\n" + g.run("tail -n 30 /home/alice/.xsession-errors")[1]
            if not tap.case(f"({name}) {label}: LightDM logs alice in; its entry points start exactly one agent",
                            start_session):
                for _ in range(3):
                    tap.ok(False, f"({name}) not run: no agent in the session")
                continue
            tap.case(f"({name}) the host's clipboard reaches the session",
                     lambda: clipboard_reaches("alice", cur["display"]))
            size = next(sizes)
            tap.case(f"({name}) a monitor change from the client applies ({size[0]}x{size[1]})",
                     lambda: monitors_apply(cur["display"], size))
            tap.case(f"({name}) the pointer lands on the exact pixel", lambda: pointer_lands(cur["display"]))

        alice = dict(cur)

        def second_user():
            old = set(sessions())
            sh("busctl call org.freedesktop.DisplayManager /org/freedesktop/DisplayManager/Seat0 "
               "org.freedesktop.DisplayManager.Seat SwitchToUser ss bob i3")
            sid, p = new_session("bob", old)
            cur.update(user="bob", sid=sid, display=display_of(sid, p))
            if not wait_for(lambda: agents_of("bob"), AGENT_TIMEOUT, interval=2):
                return False, f"no agent in bob's session {sid}"
            before = user_clip("alice", alice["display"])
            ok, detail = clipboard_reaches("bob", cur["display"])
            after = user_clip("alice", alice["display"])
            vt = sh("cat /sys/class/tty/tty0/active").strip()
            return ok and before == after and vt == f"tty{p['VTNr']}", \
                f"{detail}; alice's clipboard before {before!r} after {after!r}; active {vt}, bob on vt{p['VTNr']}"
        tap.case("a second user (bob) logs in on another VT: his agent starts, the host's paste goes to him only",
                 second_user)

        def switch_back():
            vt = sessions()[alice["sid"]]["VTNr"]
            sh(f"chvt {vt}")
            if not wait_for(lambda: sessions().get(alice["sid"], {}).get("Active") == "yes", 30, interval=1):
                return False, f"alice's session {alice['sid']} not active after chvt {vt}: {sessions()}"
            bob_before = user_clip("bob", cur["display"])
            ok, detail = clipboard_reaches("alice", alice["display"])
            bob_after = user_clip("bob", cur["display"])
            return ok and bob_before == bob_after, f"{detail}; bob's clipboard before {bob_before!r} after {bob_after!r}"
        tap.case("chvt back to alice's VT: the host's paste goes to alice only", switch_back)
        cur.update(alice)

        def restart_daemon():
            before = agents_of("alice")
            sh("systemctl restart vdagentd")
            client.cmd("wait-agent 60", timeout=70)
            ok, detail = clipboard_reaches("alice", cur["display"])
            after = agents_of("alice")
            return ok and after == before, f"{detail}; agents before {before} after {after}"
        tap.case("systemctl restart vdagentd during the session: the agent reconnects (clipboard works)", restart_daemon)

        def kill_agent():
            before = agents_of("alice")
            sh(f"kill -KILL {' '.join(map(str, before))}")
            back = wait_for(lambda: [p for p in agents_of("alice") if p not in before], 60, interval=2)
            if not back:
                return False, f"no agent of alice within 60 s of killing {before}"
            vmlib.log(f"agents of alice after the kill: {agents_of('alice')}")
            return clipboard_reaches("alice", cur["display"])
        tap.case("kill -9 the session agent: it comes back (clipboard works)", kill_agent)

        def hotplug():
            # With vdagentd and its socket stopped, QEMU unplugs the SPICE port and plugs it in again: only udev
            # (70-vdagentd.rules, on the port's add or change event) can start vdagentd now.
            sh("systemctl stop vdagentd.socket vdagentd.service")
            g.qmp("device_del", {"id": "vdaport"})
            if not wait_for(lambda: g.run("test -e /dev/virtio-ports/com.redhat.spice.0")[0] != 0, 30, interval=0.5):
                return False, "the port did not go away after device_del"
            mon = f"{booted.RESULTS}/udev-monitor.log"
            mon_pid = g.run("udevadm monitor --kernel --udev --subsystem-match=virtio-ports", background=True, log=mon)
            time.sleep(1)
            g.qmp("device_add", {"driver": "virtserialport", "chardev": "vdagent", "name": "com.redhat.spice.0",
                                 "id": "vdaport", "bus": "vser.0"})
            active = wait_for(lambda: g.run("systemctl is-active vdagentd.service")[1].strip() == "active", 60, interval=1)
            g.run(f"kill {mon_pid}; true")
            with open(os.path.join(g.results, "udev-monitor.log"), errors="replace") as f:
                events = re.findall(r"^(KERNEL|UDEV)\s*\[[\d.]+\]\s+(\w+)\s+\S+", f.read(), re.M)
            vmlib.log(f"port events after device_add: {events}")
            if not active:
                return False, f"vdagentd not started by udev within 60 s; events {events}"
            client.cmd("wait-agent 60", timeout=70)
            return clipboard_reaches("alice", cur["display"])
        tap.case("the SPICE port unplugged and plugged in again (QMP) with vdagentd stopped: udev starts it, "
                 "the agent reconnects", hotplug)

        g.run(f"journalctl -b --no-pager -o short-monotonic > {booted.RESULTS}/journal-before-shutdown.log", timeout=60)
        qga = vmlib.QGA(g.qga_path)

        def qga_owner():
            return sh("for p in $(pgrep -x qemu-ga) $(pgrep -x vdagentd); do "
                      "ls -l /proc/$p/fd 2>/dev/null | grep -q \"$(readlink -f /dev/virtio-ports/org.qemu.guest_agent.0)\" "
                      "&& cat /proc/$p/comm; done; true").split()

        def with_qemu_ga():
            owner = wait_for(qga_owner, 20, interval=1)
            if not qga.sync():
                return False, f"no answer to guest-sync; port held by {owner}"
            info = qga.call("guest-info")
            version = info.get("return", {}).get("version", "")
            left = g.run("journalctl -b -u vdagentd | grep -c 'left to qemu-guest-agent'")[1].strip()
            return owner == ["qemu-ga"] and version.startswith("7.") and left not in ("", "0"), \
                f"port held by {owner} (documented: qemu-ga); guest-info version {version!r}; " \
                f"vdagentd's 'left to qemu-guest-agent' lines: {left}"
        tap.case("qemu-guest-agent installed alongside: it owns org.qemu.guest_agent.0, vdagentd leaves it",
                 with_qemu_ga)

        def without_qemu_ga():
            # as docs/qga.md says: mask it, and vdagentd (restarted) serves the port
            sh("systemctl mask --now qemu-guest-agent.service && systemctl restart vdagentd")
            owner = wait_for(lambda: qga_owner() == ["vdagentd"] and qga_owner(), 30, interval=1)
            synced = qga.sync(30)
            info = qga.call("guest-info") if synced else {}
            version = info.get("return", {}).get("version", "")
            return owner == ["vdagentd"] and synced and not version.startswith("7."), \
                f"port held by {qga_owner()}; guest-sync {'answered' if synced else 'unanswered'}; version {version!r}"
        tap.case("qemu-guest-agent masked, vdagentd restarted: vdagentd takes the QGA port and answers", without_qemu_ga)

        def shutdown():
            qga.call("guest-shutdown", {"mode": "powerdown"}, reply=False)
            rc = g.wait_exit(120)
            if rc is None:
                return False, "QEMU still running 120 s after guest-shutdown"
            with open(g.console, errors="replace") as f:
                console = f.read()
            needed = ["System is powering down", "Reached target poweroff.target", "reboot: Power down"]
            missing = [n for n in needed if n not in console]
            tail = console[console.find("System is powering down"):] if "System is powering down" in console else ""
            # the system manager's failures; a user service's exit status at logout is not the machine's
            bad = [l for l in tail.splitlines()
                   if re.search(r"systemd\[1\]: .*(Failed|[Tt]imed out)|Failed to unmount|watchdog", l)]
            return rc == 0 and not missing and not bad, \
                f"QEMU exit {rc}; missing in the journal/console: {missing}; bad lines: {bad[:10]}"
        tap.case("guest-shutdown over QGA: powered off through logind, QEMU exits, clean shutdown in the journal",
                 shutdown)
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
