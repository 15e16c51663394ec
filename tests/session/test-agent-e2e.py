#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end: a test host (tests/lib/vdwire.py) on a socket port, the real vdagentd, the real vdagent
under Xvfb. What spice-gtk 0.42 sends (16 sparse monitors with the physical-size tail, files in
64 KiB messages cut into 2048-byte chunks) must come out right, also after vdagentd restarts."""

import os
import shutil
import tempfile
import time

import vdwire
import agentlib
from agentlib import Agent
from daemon import VDAGENTD, Vdagentd
from vdtest import Skip, Tap, wait_for
from xserver import Xvfb, parse_xrandr

NOISE = (vdwire.MSG_ANNOUNCE_CAPABILITIES, vdwire.MSG_CLIPBOARD_GRAB, vdwire.MSG_CLIPBOARD_RELEASE)

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-test-e2e-")
dl = os.path.join(tmp, "dl")
os.makedirs(dl)
paths = {"host.sock": os.path.join(tmp, "host.sock"), "session.sock": os.path.join(tmp, "session.sock")}
state = {}


def start_daemon():
    state["daemon"] = Vdagentd(paths["host.sock"], tmp)
    state["host"].accept(10.0)
    state["host"].negotiate()


def stop_daemon():
    d = state.get("daemon")
    if d:
        assert d.stop(10), "vdagentd did not exit on SIGTERM"


def agent_connected():
    return state["agent"].log().count("daemon link: connected to") >= state["connections"]


def spice_gtk_monitors(w, h, mm_w, mm_h):
    return [dict(width=w, height=h, x=0, y=0, mm_width=mm_w, mm_height=mm_h)] + \
        [dict(width=0, height=0, depth=0)] * 15


def send_monitors(w, h):
    host = state["host"]
    host.send_message(vdwire.MSG_MONITORS_CONFIG, vdwire.build_monitors_config(
        spice_gtk_monitors(w, h, 300, 200), vdwire.MONITORS_PHYSICAL_SIZE | vdwire.MONITORS_USE_POS))
    reply = vdwire.parse_reply(host.expect(vdwire.MSG_REPLY, 10.0, skip=NOISE))
    assert reply == dict(type=vdwire.MSG_MONITORS_CONFIG, error=vdwire.REPLY_SUCCESS), reply
    screen, outputs = parse_xrandr(state["x"].xrandr("--query"))
    assert screen == (w, h) and outputs["screen"] == (w, h, 0, 0), (screen, outputs)


def t_start():
    if not os.access(VDAGENTD, os.X_OK):
        raise Skip("vdagentd is not built")
    state["x"] = Xvfb(1920, 1080)
    state["host"] = vdwire.TestHost(paths["host.sock"])
    start_daemon()
    wait_for(lambda: os.path.exists(paths["session.sock"]), 10.0, what="the session socket")
    state["agent"] = Agent(state["x"].display, paths["session.sock"], file_dir=dl)
    state["connections"] = 1
    wait_for(agent_connected, 10.0, what="the agent to connect")


def t_monitors():
    time.sleep(0.5)  # the daemon announces the agent's caps to the host first
    send_monitors(1280, 720)


def t_file():
    host = state["host"]
    data = os.urandom(2 * 1024 * 1024 + 5)
    host.send_message(vdwire.MSG_FILE_XFER_START, vdwire.build_file_xfer_start(7, "e2e.bin", len(data), 1, 1))
    st = vdwire.parse_file_xfer_status(host.expect(vdwire.MSG_FILE_XFER_STATUS, 10.0, skip=NOISE))
    assert st["id"] == 7 and st["result"] == vdwire.XFER_CAN_SEND_DATA, st
    for off in range(0, len(data), 64 * 1024):
        host.send_message(vdwire.MSG_FILE_XFER_DATA, vdwire.build_file_xfer_data(7, data[off:off + 64 * 1024]),
                          chunk=vdwire.CHUNK_MAX_DATA)
    st = vdwire.parse_file_xfer_status(host.expect(vdwire.MSG_FILE_XFER_STATUS, 20.0, skip=NOISE))
    assert st["id"] == 7 and st["result"] == vdwire.XFER_SUCCESS, st
    with open(os.path.join(dl, "e2e.bin"), "rb") as f:
        assert f.read() == data


def t_hostile_name():
    host = state["host"]
    before = sorted(os.listdir(dl))
    host.send_message(vdwire.MSG_FILE_XFER_START, vdwire.build_file_xfer_start(8, "../escape.txt", 4))
    st = vdwire.parse_file_xfer_status(host.expect(vdwire.MSG_FILE_XFER_STATUS, 10.0, skip=NOISE))
    assert st["id"] == 8 and st["result"] == vdwire.XFER_ERROR, st
    assert sorted(os.listdir(dl)) == before and not os.path.exists(os.path.join(tmp, "escape.txt"))


def t_daemon_restart():
    stop_daemon()
    state["host"].close()
    state["connections"] += 1
    start_daemon()
    wait_for(agent_connected, 15.0, what="the agent to reconnect")
    time.sleep(0.5)
    send_monitors(1600, 900)


try:
    tap.run_all([
        ("vdagentd and vdagent start, agent connects", t_start),
        ("spice-gtk monitors config through vdagentd: REPLY success, screen set", t_monitors),
        ("file in 64 KiB messages of 2048-byte chunks through vdagentd", t_file),
        ("hostile file name through vdagentd: ERROR, nothing written", t_hostile_name),
        ("vdagentd restarts: the agent reconnects and works", t_daemon_restart),
        ("no agent logged a bug (failed argument check, impossible transition)", agentlib.assert_no_bugs),
    ], first_is_setup=True)
finally:
    if "agent" in state:
        state["agent"].cleanup()
    stop_daemon()
    if "host" in state:
        state["host"].shutdown()
    if "x" in state:
        state["x"].stop()
    shutil.rmtree(tmp, ignore_errors=True)
tap.finish()
