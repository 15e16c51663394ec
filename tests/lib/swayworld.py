# SPDX-License-Identifier: GPL-3.0-or-later
"""swayworld — a private headless sway (1.7) for tests, as a throw-away uid, and Wayland clients
(wl-copy, wl-paste, swaymsg) run as that uid in its session. /usr/bin/python3, stdlib only.

Compositors refuse to run as root, so the compositor and everything that talks to it (the agent
under test too) runs as `uid` through setpriv, with its own XDG_RUNTIME_DIR (0700, owned by uid).
Needs root (to switch uids); tests skip without it or without sway.

    sway = Sway(outputs=["HEADLESS-1 resolution 1280x800 position 0 0"])
    sway.run(["wl-copy", "text"])
    sway.stop()
"""

import atexit
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from vdtest import Skip, stop_process, wait_for


def free_uid(start=61300):
    """A uid with no passwd entry (a throw-away identity), not used by a running process."""
    used = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                used.add(os.stat("/proc/" + pid).st_uid)
            except OSError:
                pass
    uid = start + os.getpid() % 500
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in used:
                return uid
        uid += 1


def need_sway():
    if os.geteuid() != 0:
        raise Skip("needs root, to run sway as a throw-away user")
    for tool in ("sway", "swaymsg", "wl-copy", "wl-paste", "setpriv"):
        if not shutil.which(tool):
            raise Skip("%s is not installed (tools/deps test)" % tool)


class Sway:
    """sway -c CONFIG on the headless backend, as a throw-away uid. outputs: config lines after
    "output " (the headless backend names its outputs HEADLESS-1, HEADLESS-2…); n_outputs: how many
    headless outputs it starts with (WLR_HEADLESS_OUTPUTS). system_config: no -c, so sway reads the
    system's /etc/sway/config (outputs and xwayland are then ignored); wrap: argv that runs sway's
    setpriv line as root first (a mount namespace, say); before_start(sway): called once the runtime
    directory and env exist, before sway starts (to put a user manager there)."""

    def __init__(self, outputs=(), n_outputs=1, xwayland=False, system_config=False, wrap=(), before_start=None):
        need_sway()
        self.uid = free_uid()
        self.dir = tempfile.mkdtemp(prefix="vd-sway-")
        os.chmod(self.dir, 0o755)  # the agent's socket directory lives here too
        self.runtime = os.path.join(self.dir, "run")
        os.mkdir(self.runtime, 0o700)
        os.chown(self.runtime, self.uid, self.uid)
        self.home = os.path.join(self.dir, "home")
        os.mkdir(self.home, 0o700)
        os.chown(self.home, self.uid, self.uid)
        self.config = os.path.join(self.dir, "config")
        with open(self.config, "w") as f:
            f.write("xwayland %s\n" % ("enable" if xwayland else "disable"))
            for line in outputs:
                f.write("output %s\n" % line)
        os.chmod(self.config, 0o644)
        self.display = "wayland-vd-%d" % os.getpid()
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.home,
            "XDG_RUNTIME_DIR": self.runtime,
            "WAYLAND_DISPLAY": self.display,
            "LANG": "C.UTF-8",
        }
        senv = dict(self.env, WLR_BACKENDS="headless", WLR_RENDERER="pixman", WLR_LIBINPUT_NO_DEVICES="1",
                    WLR_HEADLESS_OUTPUTS=str(n_outputs))
        del senv["WAYLAND_DISPLAY"]
        self.log_path = os.path.join(self.dir, "sway.log")
        # sway names its socket itself (wayland-N): a wrapper gives it ours through WAYLAND_DISPLAY of
        # the clients only, so we read the name it picked from its IPC socket's environment instead.
        sway = ["sway"] if system_config else ["sway", "-c", self.config]
        self.proc = None
        atexit.register(self.stop)
        if before_start:
            before_start(self)
        self.proc = subprocess.Popen(list(wrap) + self.argv(sway), env=senv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"), cwd=self.dir)
        try:
            wait_for(lambda: self._find_sockets(), 20, what="sway's sockets")
        except AssertionError:
            raise RuntimeError("sway did not start; its log:\n" + self.log()[-3000:])

    def _find_sockets(self):
        if self.proc.poll() is not None:
            raise RuntimeError("sway exited (%d); its log:\n%s" % (self.proc.returncode, self.log()[-3000:]))
        names = os.listdir(self.runtime)
        ways = [n for n in names if n.startswith("wayland-") and not n.endswith(".lock")]
        ipc = [n for n in names if n.startswith("sway-ipc.")]
        if not ways or not ipc:
            return False
        self.display = ways[0]
        self.env["WAYLAND_DISPLAY"] = self.display
        self.env["SWAYSOCK"] = os.path.join(self.runtime, ipc[0])
        return True

    def argv(self, argv):
        return ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.uid, "--clear-groups"] + list(argv)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def popen(self, argv, **kw):
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.dir)
        return subprocess.Popen(self.argv(argv), **kw)

    def run(self, argv, input=None, timeout=30, check=True):
        """Runs a client as the session's user; -> CompletedProcess (bytes)."""
        return subprocess.run(self.argv(argv), input=input, env=self.env, cwd=self.dir, capture_output=True,
                              timeout=timeout, check=check)

    def swaymsg(self, *args):
        return self.run(["swaymsg"] + list(args)).stdout.decode()

    def outputs(self):
        return json.loads(self.run(["swaymsg", "-r", "-t", "get_outputs"]).stdout)

    def leftovers(self):
        """Pids of processes still running as the throw-away uid (sway's children: swaybar,
        swaybg, a detached agent)."""
        pids = []
        for pid in os.listdir("/proc"):
            try:
                if pid.isdigit() and os.stat("/proc/" + pid).st_uid == self.uid:
                    pids.append(int(pid))
            except OSError:
                pass
        return pids

    def stop(self):
        if self.proc:
            stop_process(self.proc, 10)
            self.proc = None
            # The uid is ours alone (free_uid): whatever still runs as it was started here.
            for pid in self.leftovers():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                wait_for(lambda: not self.leftovers(), 5, what="the session's processes to go")
            except AssertionError:
                pass  # reported by nobody: a stuck process must not fail the case that is over
        shutil.rmtree(self.dir, ignore_errors=True)
