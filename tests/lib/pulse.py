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
