#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monitors through the real vdagent on Xorg with the dummy driver (16 outputs DUMMY0..15), checked
with `xrandr --query` and the agent's LAYOUT reports: 1, 2 and 4 monitors, USE_POS and left to
right, disabling, spice-gtk's sparse config, CVT modes of ours, device info mapping."""

import os
import subprocess
import tempfile

import vdipc
import agentlib
from agentlib import Agent, apply_config, layout_rects, monitor, settle_layout
from vdtest import Tap
from xserver import XorgDummy, parse_xrandr

USE_POS = vdipc.MONITORS_USE_POS
PHYS = vdipc.MONITORS_PHYSICAL_SIZE

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-test-randr-")
sock_path = os.path.join(tmp, "session.sock")
x = None
agent = None
daemon = vdipc.FakeDaemon(sock_path)
state = {}
req = [0]


def xr():
    return parse_xrandr(x.xrandr("--query"))


def enabled_outputs():
    return {k: v for k, v in xr()[1].items() if v}


def apply(monitors, flags=0):
    req[0] += 1
    return apply_config(state["conn"], monitors, flags, request_id=req[0])


def check(layout, want_outputs, want_screen):
    """want_outputs: {output name: (w, h, x, y)}; the layout must say the same by display id
    (DUMMYn is display n unless device info says otherwise)."""
    screen, outputs = xr()
    got = {k: v for k, v in outputs.items() if v}
    assert got == want_outputs, "xrandr: %r, wanted %r" % (got, want_outputs)
    assert screen == want_screen, "screen %r, wanted %r" % (screen, want_screen)
    assert (layout["screen_width"], layout["screen_height"]) == want_screen, layout


def by_display(want_outputs, mapping=None):
    mapping = mapping or {}
    out = {}
    for name, rect in want_outputs.items():
        idx = int(name[len("DUMMY"):])
        out[mapping.get(idx, idx)] = rect
    return out


def t_start():
    global x, agent
    x = XorgDummy()
    agent = Agent(x.display, sock_path)
    conn = daemon.accept(20.0)
    state["conn"] = conn
    layout = settle_layout(conn, conn.expect(vdipc.S_LAYOUT))
    screen, outputs = xr()
    assert outputs["DUMMY0"] and len(outputs) == 16, outputs
    w, h, _, _ = outputs["DUMMY0"]
    assert layout_rects(layout) == {0: (w, h, 0, 0)}, layout


def t_one():
    result, layout = apply([monitor(1920, 1080)])
    assert result == vdipc.REPLY_SUCCESS
    want = {"DUMMY0": (1920, 1080, 0, 0)}
    check(layout, want, (1920, 1080))
    assert layout_rects(layout) == by_display(want), layout


def t_two_left_to_right():
    result, layout = apply([monitor(1280, 720, x=500, y=500), monitor(1024, 768, x=0, y=0)])
    assert result == vdipc.REPLY_SUCCESS
    want = {"DUMMY0": (1280, 720, 0, 0), "DUMMY1": (1024, 768, 1280, 0)}
    check(layout, want, (2304, 768))
    assert layout_rects(layout) == by_display(want), layout


def t_two_use_pos():
    # Second monitor to the left of and below the first: positions normalised to 0,0.
    result, layout = apply([monitor(1280, 720, x=0, y=0), monitor(1024, 768, x=-1024, y=100)], USE_POS)
    assert result == vdipc.REPLY_SUCCESS
    want = {"DUMMY0": (1280, 720, 1024, 0), "DUMMY1": (1024, 768, 0, 100)}
    check(layout, want, (2304, 868))
    assert layout_rects(layout) == by_display(want), layout


def t_four_grid():
    mons = [monitor(1600, 900, 0, 0), monitor(1600, 900, 1600, 0), monitor(1600, 900, 0, 900),
            monitor(1600, 900, 1600, 900)]
    result, layout = apply(mons, USE_POS)
    assert result == vdipc.REPLY_SUCCESS
    want = {"DUMMY0": (1600, 900, 0, 0), "DUMMY1": (1600, 900, 1600, 0), "DUMMY2": (1600, 900, 0, 900),
            "DUMMY3": (1600, 900, 1600, 900)}
    check(layout, want, (3200, 1800))
    assert layout_rects(layout) == by_display(want), layout


def t_disable_sparse():
    mons = [monitor(1600, 900, 0, 0), monitor(0, 0), monitor(1600, 900, 1600, 0), monitor(0, 0)]
    result, layout = apply(mons, USE_POS)
    assert result == vdipc.REPLY_SUCCESS
    want = {"DUMMY0": (1600, 900, 0, 0), "DUMMY2": (1600, 900, 1600, 0)}
    check(layout, want, (3200, 900))
    assert layout_rects(layout) == by_display(want), layout


def t_fewer_entries_disable_rest():
    result, layout = apply([monitor(1024, 768)])
    assert result == vdipc.REPLY_SUCCESS
    check(layout, {"DUMMY0": (1024, 768, 0, 0)}, (1024, 768))


def t_spice_gtk_sparse():
    mons = [monitor(1920, 1080, 0, 0, 509, 286), monitor(0, 0, depth=0), monitor(1366, 768, 1920, 0, 344, 193)]
    mons += [monitor(0, 0, depth=0)] * (16 - len(mons))
    result, layout = apply(mons, USE_POS | PHYS)
    assert result == vdipc.REPLY_SUCCESS
    want = {"DUMMY0": (1920, 1080, 0, 0), "DUMMY2": (1366, 768, 1920, 0)}
    check(layout, want, (3286, 1080))
    text = x.xrandr("--query")
    assert "vdagent-1366x768" in text, text  # not a multiple of 8 wide: a CVT mode of ours, exact
    dims = subprocess.run(["xdpyinfo", "-display", x.display], capture_output=True, text=True).stdout
    # 1920 px over 509 mm: the whole screen's millimetres at that density
    assert "3286x1080 pixels (871x286 millimeters)" in dims, [l for l in dims.splitlines() if "dimensions" in l]


def t_modes_cleaned():
    result, layout = apply([monitor(1024, 768), monitor(800, 600)])
    assert result == vdipc.REPLY_SUCCESS
    text = x.xrandr("--query")
    assert "vdagent-" not in text, text


def t_device_info_map():
    conn = state["conn"]
    conn.send(vdipc.S_DEVICE_INFO, entries=[
        dict(channel_id=0, monitor_id=0, device_display_id=3, address="pci/0000/02.0"),
        dict(channel_id=0, monitor_id=1, device_display_id=0, address="pci/0000/02.0")])
    settle_layout(conn)
    result, layout = apply([monitor(1280, 1024), monitor(1024, 768)])
    assert result == vdipc.REPLY_SUCCESS
    want = {"DUMMY3": (1280, 1024, 0, 0), "DUMMY0": (1024, 768, 1280, 0)}
    check(layout, want, (2304, 1024))
    assert layout_rects(layout) == {0: (1280, 1024, 0, 0), 1: (1024, 768, 1280, 0)}, layout
    conn.send(vdipc.S_DEVICE_INFO, entries=[])
    settle_layout(conn)


def t_more_displays_than_outputs():
    mons = [monitor(800, 600)] + [monitor(0, 0)] * 16 + [monitor(640, 480)]
    result, layout = apply(mons)
    assert result == vdipc.REPLY_ERROR
    check(layout, {"DUMMY0": (800, 600, 0, 0)}, (800, 600))


def t_external_change():
    conn = state["conn"]
    x.xrandr("--output", "DUMMY1", "--mode", "1024x768", "--right-of", "DUMMY0")
    layout = settle_layout(conn, conn.expect(vdipc.S_LAYOUT, 5.0))
    assert layout_rects(layout) == {0: (800, 600, 0, 0), 1: (1024, 768, 800, 0)}, layout


def t_eight():
    mons = [monitor(640, 480, 640 * (i % 4), 480 * (i // 4)) for i in range(8)]
    result, layout = apply(mons, USE_POS)
    assert result == vdipc.REPLY_SUCCESS
    assert len(enabled_outputs()) == 8
    assert layout_rects(layout) == {i: (640, 480, 640 * (i % 4), 480 * (i // 4)) for i in range(8)}, layout


try:
    tap.run_all([
        ("Xorg dummy: agent starts, initial LAYOUT", t_start),
        ("one monitor", t_one),
        ("two monitors left to right (positions ignored without USE_POS)", t_two_left_to_right),
        ("two monitors with USE_POS, negative positions normalised", t_two_use_pos),
        ("four monitors in a grid", t_four_grid),
        ("sparse entries disable outputs", t_disable_sparse),
        ("outputs past the config are disabled", t_fewer_entries_disable_rest),
        ("spice-gtk 0.42: 16 sparse + PHYSICAL_SIZE, odd width, screen mm", t_spice_gtk_sparse),
        ("our unused modes are removed", t_modes_cleaned),
        ("GRAPHICS_DEVICE_INFO maps display ids to outputs", t_device_info_map),
        ("a display past the outputs: error, the rest applied", t_more_displays_than_outputs),
        ("a change made with xrandr is reported", t_external_change),
        ("eight monitors", t_eight),
        ("no agent logged a bug (failed argument check, impossible transition)", agentlib.assert_no_bugs),
    ], first_is_setup=True)
finally:
    if agent:
        agent.cleanup()
    daemon.close()
    if x:
        x.stop()
tap.finish()
