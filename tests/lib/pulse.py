# SPDX-License-Identifier: GPL-3.0-or-later
"""pulse — a real PulseAudio user daemon for tests (/usr/bin/python3, stdlib only).

PulseServer starts `pulseaudio` in the foreground with its own XDG_RUNTIME_DIR and HOME in a
temporary directory (so it neither sees nor disturbs anyone else's), no autospawn, no D-Bus, no
shared memory, and only a null sink and a null source of 2 channels, which are the defaults.
env() is the environment a client (the agent, pactl) needs to reach it; pactl() runs pactl there.
"""

import os
import re
import shutil
import subprocess
import tempfile

from vdtest import Skip, stop_process, wait_for

PULSEAUDIO = shutil.which("pulseaudio")
PACTL = shutil.which("pactl")
SINK = "vdtest_sink"
SOURCE = "vdtest_source"

CONFIG = """load-module module-native-protocol-unix
load-module module-null-sink sink_name=%s channels=2
load-module module-null-source source_name=%s channels=2
set-default-sink %s
set-default-source %s
""" % (SINK, SOURCE, SINK, SOURCE)


class PulseServer:
    def __init__(self):
        if not PULSEAUDIO or not PACTL:
            raise Skip("pulseaudio or pactl is not installed (tools/deps test)")
        self.tmp = tempfile.mkdtemp(prefix="vd-pulse-")
        self.run = os.path.join(self.tmp, "run")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.run, mode=0o700)
        os.makedirs(self.home)
        self.config = os.path.join(self.tmp, "default.pa")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        self.log_path = os.path.join(self.tmp, "pulseaudio.log")
        self.proc = None
        self.start()

    def env(self):
        return dict(XDG_RUNTIME_DIR=self.run, HOME=self.home, XDG_CONFIG_HOME=os.path.join(self.home, ".config"),
                    PULSE_SERVER="unix:" + os.path.join(self.run, "pulse", "native"))

    def start(self):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(self.env())
        del e["PULSE_SERVER"]
        self.proc = subprocess.Popen(
            [PULSEAUDIO, "-n", "-F", self.config, "--daemonize=no", "--exit-idle-time=-1", "--disable-shm=yes",
             "--use-pid-file=no", "--log-target=stderr"],
            env=e, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"))
        wait_for(lambda: self._answers(), 15.0, interval=0.1, what="pulseaudio to answer")

    def _answers(self):
        assert self.proc.poll() is None, "pulseaudio exited: %s" % open(self.log_path).read()[-2000:]
        r = subprocess.run([PACTL, "info"], env=self._client_env(), capture_output=True)
        return r.returncode == 0

    def _client_env(self):
        e = dict(os.environ)
        e.update(self.env())
        return e

    def pactl(self, *args):
        r = subprocess.run([PACTL] + list(args), env=self._client_env(), capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, "pactl %s: %s" % (" ".join(args), r.stderr)
        return r.stdout

    def volume(self, playback=True):
        """-> ([percent per channel], muted) of the default sink or source, as pactl shows it."""
        kind = "sink" if playback else "source"
        dev = SINK if playback else SOURCE
        vol = self.pactl("get-%s-volume" % kind, dev)
        mute = self.pactl("get-%s-mute" % kind, dev)
        percents = [int(p) for p in re.findall(r"/\s+(\d+)%", vol.splitlines()[0])]
        return percents, "yes" in mute

    def stop(self):
        if self.proc:
            stop_process(self.proc, 10)
            self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class PipeWireServer(PulseServer):
    """PipeWire with pipewire-pulse and WirePlumber (which needs a session bus: a dbus-daemon of its
    own), in the same kind of private XDG_RUNTIME_DIR, with two null sinks made through the Pulse
    protocol: the default sink, and one whose monitor is the default source. Same API as
    PulseServer; pactl talks to pipewire-pulse."""

    PROGRAMS = ("pipewire", "pipewire-pulse", "wireplumber", "dbus-daemon")

    def __init__(self, run_dir=None, home=None):
        if not all(shutil.which(p) for p in self.PROGRAMS) or not PACTL:
            raise Skip("pipewire, pipewire-pulse, wireplumber, dbus-daemon or pactl is not installed")
        self.tmp = tempfile.mkdtemp(prefix="vd-pipewire-")
        self.run = run_dir or os.path.join(self.tmp, "run")
        self.home = home or os.path.join(self.tmp, "home")
        os.makedirs(self.run, mode=0o700, exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        self.log_path = os.path.join(self.tmp, "pipewire.log")
        self.procs = []
        self.proc = None
        self.start()

    def start(self):
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home, "XDG_RUNTIME_DIR": self.run,
                "XDG_CONFIG_HOME": os.path.join(self.home, ".config")}
        log = open(self.log_path, "ab")
        bus = "unix:path=" + os.path.join(self.tmp, "bus")
        self.procs = [subprocess.Popen(["dbus-daemon", "--session", "--address=" + bus, "--nofork"], env=base,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)]
        wait_for(lambda: os.path.exists(os.path.join(self.tmp, "bus")), 10.0, what="dbus-daemon")
        env = dict(base, DBUS_SESSION_BUS_ADDRESS=bus)
        for prog, ready in (("pipewire", "pipewire-0"), ("wireplumber", None), ("pipewire-pulse", "pulse/native")):
            self.procs.append(subprocess.Popen([prog], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log))
            if ready:
                wait_for(lambda: os.path.exists(os.path.join(self.run, ready)), 10.0, what=prog)
        self.proc = self.procs[-1]
        wait_for(lambda: self._answers(), 15.0, interval=0.1, what="pipewire-pulse to answer")
        self.pactl("load-module", "module-null-sink", "sink_name=" + SINK, "channels=2")
        self.pactl("load-module", "module-null-sink", "sink_name=vdtest_source_sink", "channels=2")

        def defaults_set():
            # Until WirePlumber has made its "default" metadata, pipewire-pulse answers "Not
            # supported": a reason to ask again, not a failure.
            try:
                self.pactl("set-default-sink", SINK)
                self.pactl("set-default-source", "vdtest_source_sink.monitor")
            except AssertionError as e:
                if "Not supported" in str(e):
                    return False
                raise
            info = self.pactl("info")
            return "Default Sink: " + SINK in info and "Default Source: vdtest_source_sink.monitor" in info
        wait_for(defaults_set, 15.0, interval=0.2, what="WirePlumber to take the default sink and source")

    def _answers(self):
        assert all(p.poll() is None for p in self.procs), "a PipeWire process exited: %s" % \
            open(self.log_path, errors="replace").read()[-2000:]
        r = subprocess.run([PACTL, "info"], env=self._client_env(), capture_output=True)
        return r.returncode == 0

    def volume(self, playback=True):
        kind = "sink" if playback else "source"
        dev = SINK if playback else "vdtest_source_sink.monitor"
        vol = self.pactl("get-%s-volume" % kind, dev)
        mute = self.pactl("get-%s-mute" % kind, dev)
        percents = [int(p) for p in re.findall(r"/\s+(\d+)%", vol.splitlines()[0])]
        return percents, "yes" in mute

    def stop(self):
        for p in reversed(self.procs):
            stop_process(p, 10)
        self.procs = []
        self.proc = None
