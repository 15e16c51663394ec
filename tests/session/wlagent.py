# SPDX-License-Identifier: GPL-3.0-or-later
"""wlagent — the real `vdagent` in a headless sway session (tests/lib/swayworld.py) against a
FakeDaemon playing a connected host: the clipboard tests' Session (tests/clipboard/cliplib.py),
with the agent run as the session's user. /usr/bin/python3, stdlib only.
"""

import os
import subprocess
import tempfile

import cliplib
import vdipc
from cliplib import CLIP_CAPS

VDAGENT = cliplib.VDAGENT


class WlSession(cliplib.Session):
    """vdagent on sway's Wayland display (as sway's user), connected to a FakeDaemon."""

    def __init__(self, sway, caps=CLIP_CAPS, max_clipboard=-1, args=(), env=None, debug=True):
        self.x = None
        self.sway = sway
        self.tmp = tempfile.mkdtemp(prefix="vd-wlagent-", dir=sway.dir)
        os.chmod(self.tmp, 0o755)
        self.sock_path = os.path.join(self.tmp, "session.sock")
        self.log_path = os.path.join(self.tmp, "vdagent.log")
        self.daemon = vdipc.FakeDaemon(self.sock_path)
        os.chmod(self.sock_path, 0o777)  # the agent runs as sway's user
        argv = [VDAGENT, "--socket", self.sock_path, "--foreground"] + list(args)
        if debug:
            argv.append("--debug")
        e = dict(sway.env)
        if env:
            e.update(env)
        self.proc = sway.popen(argv, env=e, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=open(self.log_path, "wb"))
        self.conn = self.daemon.accept(timeout=10)
        self.pending = []
        self.host_state(caps, max_clipboard)
        self.conn.send(vdipc.S_SESSION_STATE, active=True, locked=False)
