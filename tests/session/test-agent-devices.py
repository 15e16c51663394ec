#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""GRAPHICS_DEVICE_INFO end to end: a test host (tests/lib/vdwire.py) sends the bytes spice-server
sends for QEMU's virtio-vga with max_outputs=2 to the real vdagentd; the real vdagent on Xorg with
the dummy driver (16 outputs DUMMY0..15, as root) resolves the device address through a sysfs tree
of the real shape (--sysfs-root: card0 at 0000:00:02.0 whose connectors, by connector id, are DUMMY2
then DUMMY1) and applies the host's monitors config to those outputs, checked with xrandr.
`vdagent-ctl status` shows the device map; an empty info restores the output order; a malformed
one is dropped by the daemon."""

import json
import os
import subprocess
import tempfile
import time

import vdwire
import agentlib
from agentlib import Agent
from daemon import VDAGENTD, Vdagentd
from vdtest import Skip, Tap, wait_for
from xserver import XorgDummy, parse_xrandr

CTL = os.environ.get("VDAGENT_CTL") or os.path.join(os.environ.get("VD_BUILD_ROOT", "build"), "src", "ctl",
                                                    "vdagent-ctl")
NOISE = (vdwire.MSG_ANNOUNCE_CAPABILITIES, vdwire.MSG_CLIPBOARD_GRAB, vdwire.MSG_CLIPBOARD_RELEASE)

# spice-server's red_qxl_marshall_device_display_info() for two heads of one virtio-vga: channel n,
# monitor 0, device display n, address length 14 (NUL included).
TWO_HEADS = bytes.fromhex(
    "02000000"
    "00000000" "00000000" "00000000" "0e000000") + b"pci/0000/02.0\0" + bytes.fromhex(
    "01000000" "00000000" "01000000" "0e000000") + b"pci/0000/02.0\0"

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-test-devices-")
state = {}


def make_sysfs(root):
    drm = os.path.join(root, "class", "drm")
    dev = os.path.join(root, "devices", "pci0000:00", "0000:00:02.0", "virtio1")
    os.makedirs(dev)
    os.makedirs(os.path.join(drm, "card0"))
    os.symlink(dev, os.path.join(drm, "card0", "device"))
    for name, cid in (("DUMMY2", 31), ("DUMMY1", 32), ("DUMMY0", 33)):
        d = os.path.join(drm, "card0-" + name)
        os.makedirs(d)
        with open(os.path.join(d, "connector_id"), "w") as f:
            f.write("%d\n" % cid)


def ctl_status():
    r = subprocess.run([CTL, "--control", state["daemon"].control, "--json", "status"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def device_map():
    return {e["display_id"]: (e["output"], e["by"]) for e in ctl_status()["device_map"]}


def wait_map(pred, what):
    got = {}

    def ok():
        got["m"] = device_map()
        return pred(got["m"])
    try:
        wait_for(ok, 10.0, interval=0.1, what=what)
    except AssertionError:
        raise AssertionError("%s: status shows %r" % (what, got.get("m")))


def send_monitors(monitors):
    host = state["host"]
    host.send_message(vdwire.MSG_MONITORS_CONFIG, vdwire.build_monitors_config(monitors, vdwire.MONITORS_USE_POS))
    reply = vdwire.parse_reply(host.expect(vdwire.MSG_REPLY, 10.0, skip=NOISE))
    assert reply == dict(type=vdwire.MSG_MONITORS_CONFIG, error=vdwire.REPLY_SUCCESS), reply


def enabled():
    return {k: v for k, v in parse_xrandr(state["x"].xrandr("--query"))[1].items() if v}


def t_start():
    if not os.access(VDAGENTD, os.X_OK):
        raise Skip("vdagentd is not built")
    state["x"] = XorgDummy()
    sysfs = os.path.join(tmp, "sys")
    make_sysfs(sysfs)
    host = state["host"] = vdwire.TestHost(os.path.join(tmp, "host.sock"))
    state["daemon"] = Vdagentd(host.path, tmp)
    host.accept(10.0)
    host.negotiate()
    state["daemon"].wait_socket(10.0)
    state["agent"] = Agent(state["x"].display, state["daemon"].socket, args=["--sysfs-root", sysfs])
    wait_for(lambda: "daemon link: connected to" in state["agent"].log(), 10.0, what="the agent to connect")
    wait_map(lambda m: len(m) == 16 and all(m[i] == ("DUMMY%d" % i, "order") for i in range(16)),
             "the output order before any device info")


def t_two_heads():
    state["host"].send_message(vdwire.MSG_GRAPHICS_DEVICE_INFO, TWO_HEADS)
    wait_map(lambda m: m.get(0) == ("DUMMY2", "device-info") and m.get(1) == ("DUMMY1", "device-info"),
             "display 0 on DUMMY2, 1 on DUMMY1")
    send_monitors([dict(width=1024, height=768, x=0, y=0), dict(width=800, height=600, x=1024, y=0)])
    got = enabled()
    assert got == {"DUMMY2": (1024, 768, 0, 0), "DUMMY1": (800, 600, 1024, 0)}, got
    m = device_map()
    # Display 2 would be DUMMY2 by order, which display 0 took; the rest keep their order.
    assert 2 not in m and m[3] == ("DUMMY3", "order"), m
    assert "device map: display 0 -> \"DUMMY2\"" in state["agent"].log()


def t_malformed():
    log0 = len(state["daemon"].log_text())
    bad = TWO_HEADS[:4 + 16] + b"pci/0000/02.0"  # the address runs past the message
    state["host"].send_message(vdwire.MSG_GRAPHICS_DEVICE_INFO, bad)
    wait_for(lambda: "malformed GRAPHICS_DEVICE_INFO" in state["daemon"].log_text()[log0:], 5.0,
             what="the daemon's log line")
    time.sleep(0.3)
    assert device_map()[0] == ("DUMMY2", "device-info")


def t_empty():
    state["host"].send_message(vdwire.MSG_GRAPHICS_DEVICE_INFO, bytes(4))
    wait_map(lambda m: m.get(0) == ("DUMMY0", "order") and m.get(2) == ("DUMMY2", "order"), "the output order again")
    send_monitors([dict(width=1024, height=768, x=0, y=0), dict(width=800, height=600, x=1024, y=0)])
    got = enabled()
    assert got == {"DUMMY0": (1024, 768, 0, 0), "DUMMY1": (800, 600, 1024, 0)}, got


try:
    tap.run_all([
        ("Xorg (dummy), vdagentd, vdagent with a sysfs tree; status shows the output order", t_start),
        ("spice-server's two-head virtio-vga info: each head on its connector's output", t_two_heads),
        ("a malformed GRAPHICS_DEVICE_INFO is dropped, the map stays", t_malformed),
        ("an empty GRAPHICS_DEVICE_INFO restores the output order", t_empty),
        ("no agent logged a bug (failed argument check, impossible transition)", agentlib.assert_no_bugs),
    ], first_is_setup=True)
finally:
    if "agent" in state:
        state["agent"].cleanup()
    if "daemon" in state:
        state["daemon"].stop()
    if "x" in state:
        state["x"].stop()
