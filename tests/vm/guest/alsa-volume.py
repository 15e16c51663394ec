#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""In the test guest (tests/vm): the session agent's ALSA path against a real kernel mixer, snd-dummy's
(loaded by the caller). A fake daemon (tests/lib/vdipc.py) on a socket of its own sends VOLUME to a
second vdagent on :0 run with --audio alsa, and the mixer is read back with amixer. Prints one JSON
object: {"ok": bool, "detail": text}."""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
import vdipc  # noqa: E402

BUILD = os.environ["VD_BUILD_ROOT"]
REPORTS = 0x20


def mixer(control):
    """-> ([percent per channel], [on/off per channel]) from amixer's simple-control view."""
    out = subprocess.run(["amixer", "-c", "Dummy", "sget", control], capture_output=True, text=True,
                         timeout=10).stdout
    return [int(p) for p in re.findall(r"\[(\d+)%\]", out)], re.findall(r"\[(on|off)\]", out), out


def applied(conn):
    while True:
        t, m = conn.recv(20.0)
        if t == vdipc.S_VOLUME_APPLIED:
            return m


def main():
    tmp = tempfile.mkdtemp(prefix="alsa-")
    sock = os.path.join(tmp, "session.sock")
    daemon = vdipc.FakeDaemon(sock)
    log = open(os.path.join(tmp, "vdagent.log"), "wb")
    agent = subprocess.Popen([os.path.join(BUILD, "src", "session", "vdagent"), "--foreground", "--debug",
                              "--socket", sock, "--display", ":0", "--audio", "alsa", "--no-notifications"],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    result = {"ok": False, "detail": ""}
    try:
        conn = daemon.accept(30.0, features=REPORTS)
        conn.send(vdipc.S_VOLUME, playback=True, mute=False, volume=[32768, 16384])
        a = applied(conn)
        pv, _, text = mixer("Master")
        # snd-dummy's Master has a playback volume (range -50..100) and no playback switch; it has
        # no "Capture" control at all (the element spice-vdagent and we use for record): both must
        # be reported, not silently skipped.
        conn.send(vdipc.S_VOLUME, playback=True, mute=True, volume=[65535, 0])
        b = applied(conn)
        pv2, _, text2 = mixer("Master")
        conn.send(vdipc.S_VOLUME, playback=False, mute=True, volume=[26214])
        c = applied(conn)
        ok = (a["backend"] == "alsa" and a["error"] == "" and pv == [50, 25] and pv2 == [100, 0] and
              "no playback switch" in b["error"] and 'no "Capture" control' in c["error"])
        result = {"ok": ok, "detail": "Master %r then %r; reports %r %r %r\n%s%s" % (pv, pv2, a, b, c, text, text2)}
    except Exception as e:  # noqa: BLE001
        result["detail"] = "%s: %s" % (type(e).__name__, e)
    finally:
        agent.terminate()
        agent.wait(10)
        daemon.close()
        result["detail"] += "\n" + open(os.path.join(tmp, "vdagent.log"), errors="replace").read()[-1500:]
    print(json.dumps(result))


main()
