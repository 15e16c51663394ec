# SPDX-License-Identifier: GPL-3.0-or-later
"""The systemd-booted test guest (tests/vm/test-booted.py): the project installed as a package would install it,
booted the way a machine boots.

On the host: `meson setup --prefix=/usr` of the source tree in its own build directory, `meson install
--destdir`, and a *seed* tree next to it: that install (lib/ merged into usr/lib/, as Debian's /lib is a symlink
into /usr), presets applied offline (`systemctl --root=SEED preset` and `--global preset`), two users, LightDM's
autologin, and what a test machine should not run (masked units, hidden autostart entries). In the guest:
guest/boot-init copies the seed into the tmpfs upper layer of an overlay over the host's root (read-only 9p)
and hands over to systemd. The test talks to the guest through guest/ctl.py, run by the vdtest-ctl.service
written here, on the virtio port vdtest.ctl.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import time

import vmlib
from vmlib import VMError, log

HERE = vmlib.HERE
RESULTS = "/vdtest/results"  # the writable results share, as the booted guest sees it
USERS = {"alice": 2001, "bob": 2002}
# Units of this machine (a container's root) that a test guest has no use for; masked in the guest only.
MASK_SYSTEM = ["postgresql.service", "seatd.service", "e2scrub_reap.service", "e2scrub_all.timer",
               "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "fstrim.timer",
               "man-db.timer", "systemd-timesyncd.service", "systemd-pstore.service", "getty@tty1.service",
               "console-setup.service", "keyboard-setup.service", "networking.service", "ssh.service",
               # spice-vdagent (the reference agent, installed here for the other vm tests) is what this
               # project replaces: a machine would have it uninstalled.
               "spice-vdagentd.service", "spice-vdagentd.socket"]
MASK_USER = ["pipewire.service", "pipewire.socket", "pipewire-pulse.service", "pipewire-pulse.socket",
             "wireplumber.service", "pulseaudio.service", "pulseaudio.socket", "spice-vdagent.service"]
# XDG autostart entries of other packages that only cost time under TCG (and the replaced agent's).
HIDE_AUTOSTART = ["pulseaudio.desktop", "xscreensaver.desktop", "at-spi-dbus-bus.desktop",
                  "spice-vdagent.desktop", "xdg-user-dirs.desktop"]

# A plain i3 configuration, as a user's own: Debian's /etc/i3/config (and the wizard's template) runs
# `dex --autostart`, i.e. XDG autostart, which is exactly what a plain window manager session does not do.
I3_CONFIG = """# vdtest: a plain i3 configuration, no exec lines
font pango:monospace 8
floating_modifier Mod1
bindsym Mod1+Return exec i3-sensible-terminal
bindsym Mod1+Shift+q kill
"""
# Session (c): i3 started as a systemd-managed session, as systemd.special(7) describes for a window
# manager: a session target that binds graphical-session.target, started once the manager has DISPLAY.
I3_SYSTEMD_CONFIG = I3_CONFIG + """exec --no-startup-id systemctl --user start vdtest-i3-session.target
"""
I3_SYSTEMD_TARGET = """[Unit]
Description=i3 session (vdtest): binds graphical-session.target
BindsTo=graphical-session.target
Wants=graphical-session-pre.target
After=graphical-session-pre.target
"""
I3_SYSTEMD_XSESSION = """[Desktop Entry]
Name=i3 (systemd session target, vdtest)
Exec=i3 -c /etc/vdtest/i3-systemd.config
Type=Application
"""

CTL_UNIT = """[Unit]
Description=vdagent test command server (tests/vm/guest/ctl.py) on the virtio port vdtest.ctl
DefaultDependencies=no
After=systemd-udevd.service
Before=shutdown.target
Conflicts=shutdown.target

[Service]
ExecStartPre=/bin/sh -c 'for i in $(seq 1200); do [ -e /dev/virtio-ports/vdtest.ctl ] && exit 0; sleep 0.1; done; exit 1'
ExecStart=/usr/bin/python3 {ctl}
StandardOutput=append:{results}/ctl.log
StandardError=append:{results}/ctl.log

[Install]
WantedBy=sysinit.target
"""


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise VMError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


def package(work):
    """`meson setup --prefix=/usr` + `meson install --destdir` of the source tree: returns the DESTDIR."""
    pkg = os.path.join(work, "pkg-build")
    dest = os.path.join(work, "destdir")
    if not os.path.exists(os.path.join(pkg, "build.ninja")):
        run(["meson", "setup", pkg, vmlib.SOURCE_ROOT, "--prefix=/usr", "--buildtype=debugoptimized"])
    shutil.rmtree(dest, ignore_errors=True)
    run(["meson", "install", "-C", pkg, "--destdir", dest, "--quiet"])
    return dest


def _merge(src, dst):
    """Copies the tree src into dst; Debian's /lib, /bin, /sbin are symlinks into /usr: merged there."""
    for name in os.listdir(src):
        s = os.path.join(src, name)
        target = os.path.join(dst, "usr", name) if name in ("lib", "bin", "sbin", "lib64") else os.path.join(dst, name)
        shutil.copytree(s, target, symlinks=True, dirs_exist_ok=True)


def _write(seed, path, text, mode=0o644):
    full = os.path.join(seed, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)
    os.chmod(full, mode)


def _mask(seed, unitdir, units):
    d = os.path.join(seed, unitdir.lstrip("/"))
    os.makedirs(d, exist_ok=True)
    for u in units:
        p = os.path.join(d, u)
        if not os.path.lexists(p):
            os.symlink("/dev/null", p)


def _units(seed, kind):
    found = []
    for d in (f"usr/lib/systemd/{kind}", f"etc/systemd/{kind}"):
        for p in glob.glob(os.path.join(seed, d, "*")):
            if os.path.isfile(p) and not os.path.islink(p) and p.rsplit(".", 1)[-1] in (
                    "service", "socket", "target", "path", "timer"):
                found.append(os.path.basename(p))
    return sorted(set(found))


def seed_tree(work, dest, autologin_session):
    """The tree boot-init copies into the overlay's upper layer. Returns its path."""
    seed = os.path.join(work, "seed")
    shutil.rmtree(seed, ignore_errors=True)
    os.makedirs(seed)
    _merge(dest, seed)
    installed = {"system": _units(seed, "system"), "user": _units(seed, "user")}

    # Presets, offline, as a package's postinst applies them: systemctl --root reads the preset files under
    # the root only, so the distribution's own ones come along (they are the same files the guest has).
    for kind in ("system", "user"):
        for d in (f"/usr/lib/systemd/{kind}-preset", f"/lib/systemd/{kind}-preset", f"/etc/systemd/{kind}-preset"):
            if os.path.isdir(d):
                for p in glob.glob(os.path.join(d, "*.preset")):
                    dst = os.path.join(seed, "usr/lib/systemd" if d.startswith(("/usr", "/lib")) else "etc/systemd",
                                       f"{kind}-preset", os.path.basename(p))
                    if not os.path.exists(dst):  # the project's own preset wins over nothing: never overwritten
                        os.makedirs(os.path.dirname(dst), exist_ok=True)
                        shutil.copy2(p, dst)
    if installed["system"]:
        run(["systemctl", f"--root={seed}", "preset", *installed["system"]])
    if installed["user"]:
        run(["systemctl", f"--root={seed}", "--global", "preset", *installed["user"]])

    # Users: alice (LightDM's autologin) and bob (logs in later through LightDM's SwitchToUser); no
    # password (pam_unix nullok), so LightDM needs no greeter to log bob in.
    passwd = open("/etc/passwd").read()
    group = open("/etc/group").read()
    shadow = open("/etc/shadow").read()
    for name, uid in USERS.items():
        passwd += f"{name}:x:{uid}:{uid}:{name}:/home/{name}:/bin/bash\n"
        group += f"{name}:x:{uid}:\n"
        shadow += f"{name}::19000:0:99999:7:::\n"
        home = os.path.join(seed, "home", name)
        os.makedirs(home)
        os.chown(home, uid, uid)
        os.chmod(home, 0o700)
        for d in (".config", ".config/i3"):
            os.makedirs(os.path.join(home, d), exist_ok=True)
            os.chown(os.path.join(home, d), uid, uid)
        _write(seed, f"/home/{name}/.config/i3/config", I3_CONFIG)
        os.chown(os.path.join(home, ".config/i3/config"), uid, uid)
    _write(seed, "/etc/passwd", passwd)
    _write(seed, "/etc/group", group)
    _write(seed, "/etc/shadow", shadow, 0o640)
    os.chown(os.path.join(seed, "etc/shadow"), 0, int(run(["getent", "group", "shadow"]).split(":")[2]))

    _write(seed, "/etc/lightdm/lightdm.conf.d/50-vdtest.conf", lightdm_conf(autologin_session))
    _write(seed, "/etc/vdtest/i3-systemd.config", I3_SYSTEMD_CONFIG)
    _write(seed, "/etc/systemd/user/vdtest-i3-session.target", I3_SYSTEMD_TARGET)
    _write(seed, "/usr/share/xsessions/i3-systemd.desktop", I3_SYSTEMD_XSESSION)
    _mask(seed, "/etc/systemd/system", MASK_SYSTEM)
    _mask(seed, "/etc/systemd/user", MASK_USER)
    _mask(seed, "/etc/udev/rules.d", ["70-spice-vdagentd.rules"])
    for name in HIDE_AUTOSTART:
        _write(seed, f"/etc/xdg/autostart/{name}", "[Desktop Entry]\nType=Application\nName=hidden\nHidden=true\n")
    # The journal also goes to the serial console (console.log on the host): the only record of the shutdown.
    _write(seed, "/etc/systemd/journald.conf.d/vdtest.conf",
           "[Journal]\nStorage=volatile\nForwardToConsole=yes\nTTYPath=/dev/ttyS0\nMaxLevelConsole=info\n")
    _write(seed, "/etc/systemd/system/vdtest-ctl.service",
           CTL_UNIT.format(ctl=os.path.join(HERE, "guest", "ctl.py"), results=RESULTS))
    os.makedirs(os.path.join(seed, "etc/systemd/system/sysinit.target.wants"), exist_ok=True)
    os.symlink("/etc/systemd/system/vdtest-ctl.service",
               os.path.join(seed, "etc/systemd/system/sysinit.target.wants/vdtest-ctl.service"))
    return seed, installed


def lightdm_conf(session):
    return ("[Seat:*]\n"
            "autologin-user=alice\n"
            "autologin-user-timeout=0\n"
            f"autologin-session={session}\n")


class BootedGuest(vmlib.Guest):
    """A guest whose PID 1 is systemd, with QEMU's SPICE server, the QGA channel and the vdtest.ctl port."""

    MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]

    def __init__(self, name, seed, memory=2048, smp=2):
        super().__init__(name, host="spice", qga=True, memory=memory, smp=smp)
        self.seed = seed
        self.qmp_path = os.path.join(self.sockdir, "qmp.sock")
        self._qmp = None

    def qmp(self, execute, arguments=None, timeout=20):
        """One QMP command on QEMU's monitor socket; returns its "return" (events in between are skipped)."""
        if self._qmp is None:
            self._qmp = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._qmp.connect(self.qmp_path)
            self._qmp_buf = b""
            self._qmp_read(timeout)  # the greeting
            self._qmp.sendall(b'{"execute": "qmp_capabilities"}\n')
            self._qmp_read(timeout)
        req = {"execute": execute}
        if arguments:
            req["arguments"] = arguments
        self._qmp.sendall(json.dumps(req).encode() + b"\n")
        r = self._qmp_read(timeout)
        if "error" in r:
            raise VMError(f"QMP {execute}: {r['error']}")
        return r.get("return")

    def _qmp_read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._qmp_buf:
                line, self._qmp_buf = self._qmp_buf.split(b"\n", 1)
                msg = json.loads(line)
                if "event" not in msg:
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError("no QMP reply in time")
            self._qmp.settimeout(left)
            data = self._qmp.recv(65536)
            if not data:
                raise VMError("QMP socket closed")
            self._qmp_buf += data

    def command(self):
        vmlinuz, initrd, _ = vmlib.initramfs(os.path.join(vmlib.BUILD_ROOT, "tests", "vm", "cache"),
                                             init=os.path.join(HERE, "guest", "boot-init"), modules=self.MODULES)
        append = (f"console=ttyS0 loglevel=4 panic=-1 vdtest.seed={self.seed} vdtest.source={vmlib.SOURCE_ROOT} "
                  f"vdtest.build={vmlib.BUILD_ROOT} systemd.show_status=auto")
        fs = "security_model=none,multidevs=remap"
        return [vmlib.QEMU, "-accel", "tcg", "-m", str(self.memory), "-smp", str(self.smp), "-nographic",
                "-serial", f"file:{self.console}", "-monitor", "none", "-no-reboot",
                "-kernel", vmlinuz, "-initrd", initrd, "-append", append,
                "-virtfs", f"local,path=/,mount_tag=hostroot,readonly=on,{fs}",
                "-virtfs", f"local,path={self.results},mount_tag=results,{fs}",
                "-virtfs", f"local,path={vmlib.SOURCE_ROOT},mount_tag=source,readonly=on,{fs}",
                "-virtfs", f"local,path={vmlib.BUILD_ROOT},mount_tag=build,readonly=on,{fs}",
                "-vga", "none", "-device", "VGA",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-device", "virtio-serial-pci,id=vser",
                "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off",
                "-device", "virtserialport,chardev=ctl,name=vdtest.ctl",
                "-spice", f"unix=on,addr={self.spice_path},disable-ticketing=on",
                "-chardev", "spicevmc,id=vdagent,name=vdagent",
                "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0,id=vdaport,bus=vser.0",
                "-chardev", f"socket,id=qga,path={self.qga_path},server=on,wait=off",
                "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0"]

    def stop(self):
        """Powers the guest off the hard way if it is still running (the test's last case shuts it down)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.ctl:
            self.ctl.close()
            self.ctl = None
        if self._qmp:
            self._qmp.close()
            self._qmp = None
        shutil.rmtree(self.sockdir, ignore_errors=True)


def prepare(autologin_session="xfce"):
    """Builds the package and the seed tree; returns (seed, installed units)."""
    work = os.path.join(vmlib.BUILD_ROOT, "tests", "vm", "booted")
    os.makedirs(work, exist_ok=True)
    dest = package(work)
    seed, installed = seed_tree(work, dest, autologin_session)
    log(f"seed {seed}: system units {installed['system']}, user units {installed['user']}")
    return seed, installed
