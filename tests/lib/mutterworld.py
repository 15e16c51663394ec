# SPDX-License-Identifier: GPL-3.0-or-later
"""mutterworld — a private headless Mutter (43) for tests: `mutter --headless --wayland
--virtual-monitor WxH…` with its Xwayland, on a session bus of our own, run as `nobody`.
/usr/bin/python3, stdlib only.

Mutter refuses to run as root. Unlike sway it needs a session bus, and dbus-daemon refuses a user
without a passwd entry, so the throw-away uid of swayworld.py will not do: the compositor and its
clients run as `nobody` (which exists everywhere), with their own XDG_RUNTIME_DIR and HOME. The bus
is a dbus-daemon run by the test (tests/sessions/system-bus.conf: anyone may connect and own names).
Mutter runs a helper once it is up (`-- COMMAND`), which tells us its DISPLAY and WAYLAND_DISPLAY.
"""

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from vdtest import Skip, stop_process, wait_for

SOURCE_ROOT = os.environ.get("VD_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
BUS_CONF = os.path.join(SOURCE_ROOT, "tests/sessions/system-bus.conf")

HELPER = """#!/bin/sh
echo "$$ $WAYLAND_DISPLAY $DISPLAY $XAUTHORITY" > "$1.tmp" && mv "$1.tmp" "$1"
exec sleep 100000
"""


class Mutter:
    def __init__(self, monitors=("1280x800",), x11=True):
        if os.geteuid() != 0:
            raise Skip("needs root, to run mutter as another user")
        for tool in ("mutter", "dbus-daemon", "setpriv", "gdbus"):
            if not shutil.which(tool):
                raise Skip("%s is not installed (tools/deps test)" % tool)
        self.uid = pwd.getpwnam("nobody").pw_uid
        self.gid = pwd.getpwnam("nobody").pw_gid
        self.dir = tempfile.mkdtemp(prefix="vd-mutter-")
        os.chmod(self.dir, 0o755)
        self.runtime = os.path.join(self.dir, "run")
        self.home = os.path.join(self.dir, "home")
        for d in (self.runtime, self.home):
            os.mkdir(d, 0o700)
            os.chown(d, self.uid, self.gid)
        self.procs = []
        self.helper_pid = None
        atexit.register(self.stop)
        self.bus_dir = os.path.join(self.dir, "bus")
        os.mkdir(self.bus_dir, 0o755)
        bus = subprocess.Popen(["dbus-daemon", "--config-file=" + BUS_CONF,
                                "--address=unix:path=%s/bus" % self.bus_dir, "--print-address", "--nofork"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.procs.append(bus)
        self.bus = bus.stdout.readline().decode().strip()
        if not self.bus:
            raise RuntimeError("dbus-daemon did not start")
        helper = os.path.join(self.dir, "helper.sh")
        with open(helper, "w") as f:
            f.write(HELPER)
        os.chmod(helper, 0o755)
        self.wayland_display = "wayland-vd-%d" % os.getpid()
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.home, "XDG_RUNTIME_DIR": self.runtime,
                    "DBUS_SESSION_BUS_ADDRESS": self.bus, "LANG": "C.UTF-8"}
        argv = ["mutter", "--headless", "--wayland", "--wayland-display", self.wayland_display]
        if not x11:
            argv.append("--no-x11")
        for m in monitors:
            argv += ["--virtual-monitor", m]
        info = os.path.join(self.home, "info")
        self.log_path = os.path.join(self.dir, "mutter.log")
        self.proc = subprocess.Popen(self.argv(argv + ["--", helper, info]), env=self.env, cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "wb"))
        self.procs.insert(0, self.proc)
        try:
            wait_for(lambda: os.path.exists(info) or self.proc.poll() is not None, 30, what="mutter")
        except AssertionError:
            raise RuntimeError("mutter did not start; its log:\n" + self.log()[-3000:])
        if self.proc.poll() is not None:
            raise RuntimeError("mutter exited; its log:\n" + self.log()[-3000:])
        with open(info) as f:
            parts = f.read().split()
        self.helper_pid = int(parts[0])
        self.env["WAYLAND_DISPLAY"] = parts[1]
        self.display = parts[2] if len(parts) > 2 else None
        if self.display:
            self.env["DISPLAY"] = self.display
        if len(parts) > 3:
            self.env["XAUTHORITY"] = parts[3]

    def argv(self, argv):
        return ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid, "--clear-groups"] + list(argv)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def popen(self, argv, **kw):
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.dir)
        return subprocess.Popen(self.argv(argv), **kw)

    def run(self, argv, input=None, timeout=30, check=True):
        return subprocess.run(self.argv(argv), input=input, env=self.env, cwd=self.dir, capture_output=True,
                              timeout=timeout, check=check)

    def state(self):
        """GetCurrentState's logical monitors: {connector: (x, y, scale)}, and each monitor's current mode."""
        out = self.run(["gdbus", "call", "--session", "--dest", "org.gnome.Mutter.DisplayConfig",
                        "--object-path", "/org/gnome/Mutter/DisplayConfig",
                        "--method", "org.gnome.Mutter.DisplayConfig.GetCurrentState"]).stdout.decode()
        return out

    def stop(self):
        if self.helper_pid:
            try:
                os.kill(self.helper_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.helper_pid = None
        for p in self.procs:
            stop_process(p, 10)
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)
