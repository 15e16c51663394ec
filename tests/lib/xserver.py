# SPDX-License-Identifier: GPL-3.0-or-later
"""xserver — private X servers for tests (/usr/bin/python3, stdlib only): Xvfb, and Xorg with the
dummy driver for several monitors, each on a free display it picks itself (-displayfd), stopped at
exit even if the test dies first; plus parse_xrandr() for `xrandr --query` output.

    x = Xvfb(1920, 1080)         # or Xvfb() for Xvfb's default screen
    subprocess.run(["xclip", ...], env=x.env)
    screen, outputs = parse_xrandr(x.xrandr("--query"))
    x.stop()
"""

import atexit
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

from vdtest import Skip, stop_process

SOURCE_ROOT = os.environ.get("VD_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
XORG_DUMMY_CONF = os.path.join(SOURCE_ROOT, "tests/session/xorg-dummy.conf")
XORG_DUMMY_DRIVER = "/usr/lib/xorg/modules/drivers/dummy_drv.so"


def _read_displayfd(proc, r, timeout, what):
    """The display number the server writes on its -displayfd pipe once it accepts clients."""
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise RuntimeError("%s did not start" % what)
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 64)
            if not chunk:
                raise RuntimeError("%s closed its display fd" % what)
            buf += chunk
    return ":" + buf.decode().strip()


class XServer:
    """An X server child; display (":N") and env (os.environ with DISPLAY) once started."""

    def __init__(self, prefix="vd-x-"):
        self.proc = None
        self.display = None
        self.env = None
        self.tmp = tempfile.mkdtemp(prefix=prefix)

    def _start(self, argv, what, timeout=15.0):
        r, w = os.pipe()
        self.proc = subprocess.Popen(argv + ["-displayfd", str(w)], pass_fds=(w,), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmp, "stderr"), "wb"))
        os.close(w)
        atexit.register(self.stop)  # even when the test dies before its own cleanup
        try:
            self.display = _read_displayfd(self.proc, r, timeout, what)
        finally:
            os.close(r)
        self.env = dict(os.environ, DISPLAY=self.display)

    def xrandr(self, *args):
        """Runs xrandr on this display; -> its stdout."""
        return subprocess.run(["xrandr", "--display", self.display] + list(args), check=True,
                              capture_output=True, text=True, timeout=20).stdout

    def stop(self):
        if self.proc:
            stop_process(self.proc, 10)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Xvfb(XServer):
    """Xvfb; with width and height, one screen of that size at depth 24, else Xvfb's default."""

    def __init__(self, width=None, height=None, prefix="vd-x-"):
        if not shutil.which("Xvfb"):
            raise Skip("Xvfb is not installed")
        super().__init__(prefix)
        argv = ["Xvfb", "-nolisten", "tcp", "-noreset"]
        if width and height:
            argv += ["-screen", "0", "%dx%dx24" % (width, height)]
        self._start(argv, "Xvfb")


class XorgDummy(XServer):
    """Xorg with the dummy driver (16 outputs); needs root and xserver-xorg-video-dummy."""

    def __init__(self, conf=XORG_DUMMY_CONF):
        if os.geteuid() != 0:
            raise Skip("Xorg with the dummy driver needs root")
        if not shutil.which("Xorg") or not os.path.exists(XORG_DUMMY_DRIVER):
            raise Skip("Xorg or its dummy driver is not installed")
        super().__init__()
        self._start(["Xorg", "-config", conf, "-noreset", "-nolisten", "tcp", "-novtswitch", "-sharevts",
                     "-logfile", os.path.join(self.tmp, "Xorg.log")], "Xorg (dummy)", timeout=30.0)


def parse_xrandr(text):
    """-> (screen (w, h), {output: (w, h, x, y) or None for off})."""
    screen = None
    outputs = {}
    for line in text.splitlines():
        m = re.match(r"Screen \d+: .*current (\d+) x (\d+)", line)
        if m:
            screen = (int(m.group(1)), int(m.group(2)))
            continue
        m = re.match(r"(\S+) (connected|disconnected)(?: primary)? (\d+)x(\d+)\+(\d+)\+(\d+)", line)
        if m:
            outputs[m.group(1)] = tuple(int(m.group(i)) for i in (3, 4, 5, 6))
            continue
        m = re.match(r"(\S+) (connected|disconnected)", line)
        if m:
            outputs[m.group(1)] = None
    return screen, outputs
