#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real vdagent's Wayland backend in a real headless sway 1.7 (as a throw-away user), against a
FakeDaemon playing a connected host, with wl-copy and wl-paste as the applications. TAP; one group
of cases per run:

    test-agent-wayland.py clipboard|layout|gnome

gnome: a headless Mutter 43 with two virtual monitors and its Xwayland (tests/lib/mutterworld.py):
the hybrid (layout from wl_output/xdg-output, clipboard through Xwayland with the X11 backend, one
process) and MONITORS_CONFIG through org.gnome.Mutter.DisplayConfig.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time

import vdipc
from cliplib import (CAP_CLIPBOARD_SELECTION, CLIP_CAPS, CLIPBOARD, IMAGE_BMP, IMAGE_JPG, IMAGE_PNG, IMAGE_TIFF,
                     PRIMARY, SANITIZED, UTF8_TEXT, Tap)
from agentlib import layout_rects, monitor, wakeups
from mutterworld import Mutter
from swayworld import Sway
from vdtest import Skip, wait_for
from wlagent import WlSession

TEXT = "Grüße from the host — 日本語 ✓\nsecond line\n".encode()
MiB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # bytes are bytes: nobody decodes them here


class Env:
    def __init__(self, compositor=Sway, **kw):
        self.sway = compositor(**kw)
        self.s = None
        self.problems = []
        self.restart()

    def restart(self, **kw):
        if self.s:
            problem = self.s.stop()
            if problem:
                self.problems.append(problem)
        self.s = WlSession(self.sway, **kw)
        self.layout = self.settle()
        return self.s

    def settle(self, quiet=0.4, timeout=10):
        """The last LAYOUT until the link is quiet; clipboard messages are kept for the case."""
        conn, last = self.s.conn, None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                t, m = conn.recv(quiet if last else max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return last
            if t == vdipc.S_LAYOUT:
                last = m
            else:
                self.s.pending.append((t, m))
        return last

    def quiet(self):
        """Forgets what earlier cases left on the link (a RELEASE when their owner went away)."""
        self.s.pending = []
        while True:
            try:
                self.s.conn.recv(0.3)
            except TimeoutError:
                return

    def stop(self):
        if self.s:
            problem = self.s.stop()
            if problem:
                self.problems.append(problem)
        self.sway.stop()


def wl_copy(env, data, primary=False, mime=None):
    """A wl-copy owning the selection until stopped (or replaced)."""
    argv = ["wl-copy", "--foreground"] + (["--primary"] if primary else []) + (["--type", mime] if mime else [])
    p = env.sway.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.stdin.write(data)
    p.stdin.close()
    return p


def stop(p, env=None, sel=CLIPBOARD):
    """Stops a wl-copy; with env, the agent must tell the host the selection is gone."""
    if p.poll() is None:
        p.terminate()
    p.wait(10)
    if env:
        env.s.expect(vdipc.S_CLIPBOARD_RELEASE, 10, selection=sel)


def wl_paste_start(env, primary=False, mime=None):
    argv = ["wl-paste", "--no-newline"] + (["--primary"] if primary else []) + (["--type", mime] if mime else [])
    return env.sway.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def host_paste(env, sel, data, mime=None, type_=UTF8_TEXT, timeout=10):
    """The host grabs sel with type_, wl-paste pastes, the daemon answers: -> what wl-paste got."""
    s = env.s
    s.grab(sel, [type_])
    wait_for(lambda: mime_list(env, sel), 5, what="the host's offer in the seat")
    p = wl_paste_start(env, sel == PRIMARY, mime)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, timeout, selection=sel, type=type_)
    s.send_data(sel, type_, data)
    out, err = p.communicate(timeout=60)
    return p.returncode, out


def mime_list(env, sel=CLIPBOARD):
    r = env.sway.run(["wl-paste", "--list-types"] + (["--primary"] if sel == PRIMARY else []), check=False)
    return r.stdout.decode().split() if r.returncode == 0 else []


def guest_copy(env, sel, data, mime=None, type_=UTF8_TEXT):
    s = env.s
    owner = wl_copy(env, data, sel == PRIMARY, mime)
    g = s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=sel)
    assert type_ in g["types"], "GRAB types %r lack %d" % (g["types"], type_)
    s.request(sel, type_)
    t, got = s.recv_data(sel, 30)
    assert t == type_
    return owner, got


# --- clipboard ---

def case_guest_to_host_clipboard(env):
    owner, got = guest_copy(env, CLIPBOARD, TEXT)
    assert got == TEXT, got
    env.sway.run(["wl-copy", "--clear"])
    env.s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)
    stop(owner)


def case_host_to_guest_clipboard(env):
    rc, out = host_paste(env, CLIPBOARD, TEXT)
    assert rc == 0 and out == TEXT, (rc, out)


def case_own_offer_not_echoed(env):
    s = env.s
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: "UTF8_STRING" in mime_list(env), 5, what="our offer")
    s.no_clip_message(1.0)  # the agent's own offer comes back as a selection event: not a GRAB
    owner = wl_copy(env, b"then a client copies")  # a real owner right after is announced
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    stop(owner)


def case_primary_both_ways(env):
    owner, got = guest_copy(env, PRIMARY, TEXT)
    assert got == TEXT, got
    stop(owner, env, PRIMARY)
    rc, out = host_paste(env, PRIMARY, b"primary from the host")
    assert rc == 0 and out == b"primary from the host", (rc, out)


def case_primary_needs_selection_cap(env):
    s = env.restart(caps=CLIP_CAPS & ~(1 << CAP_CLIPBOARD_SELECTION))
    try:
        p = wl_copy(env, b"primary only", primary=True)
        s.no_clip_message(1.0)
        c = wl_copy(env, b"clipboard")
        s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
        stop(p)
        stop(c)
    finally:
        env.restart()


def case_text_mime_types(env):
    s = env.s
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: mime_list(env), 5)
    types = mime_list(env)
    for m in ("text/plain;charset=utf-8", "UTF8_STRING", "TEXT", "STRING", "text/plain"):
        assert m in types, types
    for m in ("UTF8_STRING", "TEXT", "STRING"):
        p = wl_paste_start(env, mime=m)
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
        s.send_data(CLIPBOARD, UTF8_TEXT, "ça ✓".encode())
        out, _ = p.communicate(timeout=20)
        assert out == "ça ✓".encode(), (m, out)
    # guest -> host: an owner offering only one of them
    for m in ("UTF8_STRING", "STRING", "TEXT"):
        owner, got = guest_copy(env, CLIPBOARD, "naïve".encode(), mime=m)
        assert got == "naïve".encode(), (m, got)
        stop(owner, env)


def case_text_terminator(env):
    # A NUL ending host text is a C-string terminator, not text (as in the X11 backend).
    rc, out = host_paste(env, CLIPBOARD, b"text\0")
    assert rc == 0 and out == b"text", (rc, out)


def case_images(env):
    for type_, mime in ((IMAGE_PNG, "image/png"), (IMAGE_BMP, "image/bmp"), (IMAGE_JPG, "image/jpeg"),
                        (IMAGE_TIFF, "image/tiff")):
        data = PNG + mime.encode()
        rc, out = host_paste(env, CLIPBOARD, data, mime=mime, type_=type_)
        assert rc == 0 and out == data, (mime, rc, len(out))
        assert mime_list(env) == [mime], mime_list(env)
        owner, got = guest_copy(env, CLIPBOARD, data, mime=mime, type_=type_)
        assert got == data, (mime, len(got))
        stop(owner, env)
    owner, got = guest_copy(env, CLIPBOARD, PNG, mime="image/x-MS-bmp", type_=IMAGE_BMP)
    assert got == PNG
    stop(owner, env)


def case_large_host_to_guest(env):
    # 48 MiB through a pipe: streamed and throttled, never held whole.
    s = env.s
    data = bytes(range(251)) * (48 * MiB // 251)
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: mime_list(env), 5)
    p = env.sway.popen(["sh", "-c", "wl-paste --no-newline | sha256sum"], stdout=subprocess.PIPE)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
    s.send_data(CLIPBOARD, UTF8_TEXT, data)
    out, _ = p.communicate(timeout=120)
    assert out.split()[0].decode() == hashlib.sha256(data).hexdigest()
    if not SANITIZED:
        hwm = s.vm_hwm_kib()
        assert hwm < 32 * 1024, "peak RSS %d KiB for a 48 MiB paste" % hwm


def case_large_guest_to_host(env):
    data = os.urandom(1024) * (24 * 1024)  # 24 MiB
    owner, got = guest_copy(env, CLIPBOARD, data)
    stop(owner)
    assert got == data
    if not SANITIZED:
        hwm = env.s.vm_hwm_kib()
        assert hwm < 1.2 * 24 * 1024 + 8 * 1024, "peak RSS %d KiB for 24 MiB" % hwm


def case_max_clipboard(env):
    s = env.restart(max_clipboard=1000)
    try:
        owner, got = guest_copy(env, CLIPBOARD, b"x" * 1000)
        assert got == b"x" * 1000
        stop(owner, env)
        owner = wl_copy(env, b"y" * 1001)
        s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
        s.request(CLIPBOARD, UTF8_TEXT)
        b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
        assert b["total"] == 0, b
        assert "exceeds the limit" in s.log()
        stop(owner)
    finally:
        env.restart()


def case_client_dies_mid_paste(env):
    s = env.s
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: mime_list(env), 5)
    p = env.sway.popen(["sh", "-c", "wl-paste --no-newline | head -c 1000 > /dev/null"], stdout=subprocess.DEVNULL)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
    s.send_data(CLIPBOARD, UTF8_TEXT, b"z" * (8 * MiB))  # the reader is gone after 1000 bytes
    p.wait(20)
    wait_for(lambda: "abandoned" in s.log(), 10, what="the abandoned paste's log line")
    rc, out = host_paste(env, CLIPBOARD, b"next paste")  # the rest was dropped: the next one works
    assert rc == 0 and out == b"next paste", (rc, out)


def case_owner_dies_mid_copy(env):
    s = env.s
    # A client that announces text, then dies without writing a byte: the host gets empty data.
    owner = wl_copy(env, b"short-lived")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    owner.send_signal(signal.SIGSTOP)
    s.request(CLIPBOARD, UTF8_TEXT)
    time.sleep(0.3)
    owner.kill()
    owner.wait(5)
    b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
    assert b["total"] == 0, b  # it wrote nothing before dying
    assert s.alive()
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 10, selection=CLIPBOARD)


def case_host_silent(env):
    # Every wait has a timeout: a host that never answers leaves the client with nothing after 10 s.
    s = env.s
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: mime_list(env), 5)
    p = wl_paste_start(env)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
    t0 = time.monotonic()
    out, _ = p.communicate(timeout=30)
    assert 9 < time.monotonic() - t0 < 20 and out == b"", (time.monotonic() - t0, out)
    assert "did not answer" in s.log()
    # The late answer is still awaited for another 10 s (it would be taken for the next one's).
    rc, out = host_paste(env, CLIPBOARD, b"after the silence", timeout=20)
    assert rc == 0 and out == b"after the silence", (rc, out)


def case_owner_silent(env):
    # An owner that never writes: VD_CLIP_OWNER_TIMEOUT_MS (5 s), then an empty answer. Meanwhile the
    # host's requests queue up to VD_CLIP_HOST_PENDING_MAX (16); one more is answered empty at once.
    s = env.s
    owner = wl_copy(env, b"never written")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    owner.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        for _ in range(1 + 16 + 1):  # the one in flight, 16 waiting, one too many
            s.request(CLIPBOARD, UTF8_TEXT)
        b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 3, selection=CLIPBOARD)
        assert b["total"] == 0 and time.monotonic() - t0 < 2, b
        assert "16 host requests for CLIPBOARD already wait" in s.log()
        b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
        assert b["total"] == 0 and 4.5 < time.monotonic() - t0 < 8, (b, time.monotonic() - t0)
        assert "sent nothing for 5 s" in s.log()
    finally:
        owner.send_signal(signal.SIGCONT)
    # the 16 waiting ones are then asked in turn: the owner answers now
    for _ in range(16):
        t, got = s.recv_data(CLIPBOARD, 10)
        assert got == b"never written", got
    stop(owner, env)


def case_requestor_stalls(env):
    # A pasting client that stops reading: VD_CLIP_REQUESTOR_TIMEOUT_MS (5 s) after its pipe filled up,
    # the paste is abandoned and the rest of the host's answer dropped; the next paste works.
    s = env.s
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: mime_list(env), 5)
    p = wl_paste_start(env)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
    p.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    s.send_data(CLIPBOARD, UTF8_TEXT, b"q" * (2 * MiB))
    wait_for(lambda: "the client took nothing for 5 s" in s.log(), 10, what="the requestor timeout")
    assert 4.5 < time.monotonic() - t0 < 9, time.monotonic() - t0
    p.kill()
    p.wait(5)
    rc, out = host_paste(env, CLIPBOARD, b"after the stall")
    assert rc == 0 and out == b"after the stall", (rc, out)


def case_paste_limit(env):
    # VD_CLIP_PENDING_MAX (32) pastes wait per selection behind the one with the host; one more is
    # refused at once (its pipe closed: the client gets nothing). All the others are served, in order.
    s = env.s
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_for(lambda: mime_list(env), 5)
    base = s.log().count("a client pastes CLIPBOARD")  # the log holds the earlier cases' pastes too
    first = wl_paste_start(env)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
    waiting = [wl_paste_start(env) for _ in range(32)]
    wait_for(lambda: s.log().count("a client pastes CLIPBOARD") >= base + 33, 20, what="33 pastes")
    extra = wl_paste_start(env)
    out, _ = extra.communicate(timeout=10)
    assert out == b"", out
    assert s.log().count("32 CLIPBOARD pastes already wait for the host: one more refused") == 1
    s.send_data(CLIPBOARD, UTF8_TEXT, b"paste 0")
    for i in range(32):
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
        s.send_data(CLIPBOARD, UTF8_TEXT, b"paste %d" % (i + 1))
    got = sorted(p.communicate(timeout=20)[0] for p in [first] + waiting)
    assert got == sorted(b"paste %d" % i for i in range(33)), got


def case_reconnect_reannounces(env):
    s = env.s
    owner = wl_copy(env, b"owned before the daemon restarts")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    s.reconnect()
    g = s.expect(vdipc.S_CLIPBOARD_GRAB, 15, selection=CLIPBOARD)
    assert UTF8_TEXT in g["types"]
    stop(owner)


CLIPBOARD_CASES = [
    ("guest to host: clipboard, release on clear", case_guest_to_host_clipboard),
    ("host to guest: clipboard", case_host_to_guest_clipboard),
    ("own offer not echoed to the host", case_own_offer_not_echoed),
    ("primary both ways", case_primary_both_ways),
    ("primary needs CLIPBOARD_SELECTION", case_primary_needs_selection_cap),
    ("text MIME types both ways", case_text_mime_types),
    ("host text terminator dropped", case_text_terminator),
    ("images both ways", case_images),
    ("48 MiB host to guest, streamed", case_large_host_to_guest),
    ("24 MiB guest to host, bounded", case_large_guest_to_host),
    ("MAX_CLIPBOARD", case_max_clipboard),
    ("a client dies mid-paste", case_client_dies_mid_paste),
    ("an owner dies mid-copy", case_owner_dies_mid_copy),
    ("host silent: timeout", case_host_silent),
    ("owner silent: timeout; host requests limit", case_owner_silent),
    ("pasting client stalls: timeout", case_requestor_stalls),
    ("32 pastes waiting behind one: one more refused", case_paste_limit),
    ("daemon restart: owner re-announced", case_reconnect_reannounces),
]


# --- layout ---

def case_one_output(env):
    assert env.layout["screen_width"] == 1280 and env.layout["screen_height"] == 800, env.layout
    assert layout_rects(env.layout) == {0: (1280, 800, 0, 0)}, env.layout


def pointer_logical(layout, display_id, px, py):
    """Where the daemon's mapping (src/system/layout.c) and libinput's (the axis over the bounding box)
    put host pixel (px, py) of display_id, in the box's logical coordinates times the scale."""
    d = {r["display_id"]: r for r in layout["displays"]}[display_id]
    w, h = layout["screen_width"], layout["screen_height"]
    ax = -(-(d["x"] + px) * 32768 // w)
    ay = -(-(d["y"] + py) * 32768 // h)
    return ax * w // 32768, ay * h // 32768


def case_scale_two_outputs(env):
    s, sway = env.s, env.sway
    sway.swaymsg("output", "HEADLESS-1", "resolution", "2560x1600", "scale", "2", "position", "0", "0")
    layout = env.settle(quiet=0.5)
    # scale 2: the host's pixels are the mode's; the rectangle is mode-sized
    assert layout_rects(layout) == {0: (2560, 1600, 0, 0)}, layout
    sway.swaymsg("create_output")
    wait_for(lambda: len(sway.outputs()) == 2, 10)
    sway.swaymsg("output", "HEADLESS-2", "resolution", "1920x1080", "scale", "2", "position", "1280", "0")
    layout = env.settle(quiet=0.5)
    outs = {o["name"]: o["rect"] for o in sway.outputs()}
    assert outs["HEADLESS-2"] == {"x": 1280, "y": 0, "width": 960, "height": 540}, outs
    assert layout_rects(layout) == {0: (2560, 1600, 0, 0), 1: (1920, 1080, 2560, 0)}, layout
    assert (layout["screen_width"], layout["screen_height"]) == (4480, 1600), layout
    # Every host pixel of display 1 lands on its own hardware pixel: logical 1280 + p / 2.
    for px, py in ((0, 0), (1, 1), (777, 333), (1919, 1079)):
        x2, y2 = pointer_logical(layout, 1, px, py)
        assert (x2, y2) == (2 * 1280 + px, py), ((px, py), (x2, y2))


def apply(env, monitors, flags=0, request_id=1):
    """MONITORS_CONFIG -> (result, the settled layout's rectangles, sway's outputs by name)."""
    s = env.s
    s.conn.send(vdipc.S_MONITORS_CONFIG, request_id=request_id, flags=flags, monitors=monitors)
    while True:
        t, m = s.conn.recv(15)
        if t == vdipc.S_MONITORS_RESULT:
            break
        if t != vdipc.S_LAYOUT:
            s.pending.append((t, m))
    assert m["request_id"] == request_id, m
    layout = env.settle(quiet=0.5)
    outs = {o["name"]: (o["rect"]["width"], o["rect"]["height"], o["rect"]["x"], o["rect"]["y"]) if o["active"]
            else None for o in env.sway.outputs()}
    return m["result"], layout_rects(layout), outs


def case_monitors_left_to_right(env):
    sway = env.sway
    for o in sway.outputs():
        sway.swaymsg("output", o["name"], "scale", "1")
    env.settle()
    r, rects, outs = apply(env, [monitor(1024, 768), monitor(800, 600)], request_id=21)
    assert r == vdipc.REPLY_SUCCESS, r
    assert outs == {"HEADLESS-1": (1024, 768, 0, 0), "HEADLESS-2": (800, 600, 1024, 0)}, outs
    assert rects == {0: (1024, 768, 0, 0), 1: (800, 600, 1024, 0)}, rects


def case_monitors_use_pos_custom_mode(env):
    # spice-gtk's odd widths need a custom mode; USE_POS: the host's positions, top-left at 0,0
    r, rects, outs = apply(env, [monitor(1366, 768, x=100, y=-768), monitor(1280, 720, x=100, y=0)],
                           flags=vdipc.MONITORS_USE_POS, request_id=22)
    assert r == vdipc.REPLY_SUCCESS, r
    assert outs == {"HEADLESS-1": (1366, 768, 0, 0), "HEADLESS-2": (1280, 720, 0, 768)}, outs
    assert rects == {0: (1366, 768, 0, 0), 1: (1280, 720, 0, 768)}, rects


def case_monitors_disable(env):
    # A shorter config (and spice-gtk's sparse entries) asks to turn the other heads off. sway 1.7's
    # headless backend cannot disable an output at all (`swaymsg output HEADLESS-2 disable` fails
    # the same way): the agent's configuration reaches sway, which fails it, and the host hears so.
    r, rects, outs = apply(env, [monitor(1024, 768), monitor(0, 0)], request_id=23)
    assert r == vdipc.REPLY_ERROR, r
    assert "Failed to commit output HEADLESS-2" in env.sway.log()
    assert 'head "HEADLESS-2" disabled' in env.s.log() and "23 not applied: the compositor refused it" in env.s.log()
    # sway keeps what it could commit (HEADLESS-1's new mode); the report follows what it has
    assert outs["HEADLESS-2"] is not None, outs
    assert rects == {0: outs["HEADLESS-1"], 1: outs["HEADLESS-2"]}, (rects, outs)
    r, rects, outs = apply(env, [monitor(1024, 768), monitor(640, 480)], request_id=24)
    assert r == vdipc.REPLY_SUCCESS and outs["HEADLESS-2"] == (640, 480, 1024, 0), (r, outs)
    assert rects == {0: (1024, 768, 0, 0), 1: (640, 480, 1024, 0)}, rects


def case_monitors_errors(env):
    before = env.sway.outputs()
    # nothing enabled, or too large: refused whole, nothing changes
    for mons in ([monitor(0, 0)], [monitor(20000, 768)]):
        r, _, _ = apply(env, mons, request_id=25)
        assert r == vdipc.REPLY_ERROR, r
    assert [o["rect"] for o in env.sway.outputs()] == [o["rect"] for o in before]
    # a display without a head: error, what fits applied
    r, rects, outs = apply(env, [monitor(800, 600), monitor(800, 600), monitor(800, 600)], request_id=26)
    assert r == vdipc.REPLY_ERROR, r
    assert outs == {"HEADLESS-1": (800, 600, 0, 0), "HEADLESS-2": (800, 600, 800, 0)}, outs
    assert "display 2 has no head" in env.s.log()


def case_monitors_compositor_silent(env):
    # One configuration in flight; a silent compositor answers nothing: VD_WL_APPLY_TIMEOUT_MS (5 s).
    # A config arriving meanwhile waits; a third replaces the waiting one, which hears an error at once.
    s, sway = env.s, env.sway
    sway.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        for rid, w in ((31, 800), (32, 900), (33, 1000)):
            s.conn.send(vdipc.S_MONITORS_CONFIG, request_id=rid, flags=0,
                        monitors=[monitor(w, 600), monitor(640, 480)])
        results = {}
        while 31 not in results:
            t, m = s.conn.recv(10)
            if t == vdipc.S_MONITORS_RESULT:
                results[m["request_id"]] = (m["result"], time.monotonic() - t0)
        assert results[32][0] == vdipc.REPLY_ERROR and results[32][1] < 1, results
        assert results[31][0] == vdipc.REPLY_ERROR and 4.5 < results[31][1] < 8, results
        assert "superseded by 33" in s.log() and "no answer from the compositor" in s.log()
    finally:
        sway.proc.send_signal(signal.SIGCONT)
    while True:
        t, m = s.conn.recv(10)
        if t == vdipc.S_MONITORS_RESULT:
            break
    assert m["request_id"] == 33 and m["result"] == vdipc.REPLY_SUCCESS, m
    # sway took 31 late (when it woke up), so 33, made against the old state, was cancelled once
    # and sent again against the new one
    assert "33 cancelled by the compositor (outputs changed): trying again" in s.log()
    env.settle()
    assert {o["name"]: o["rect"]["width"] for o in sway.outputs()}["HEADLESS-1"] == 1000


def case_idle(env):
    s = env.s
    time.sleep(0.5)
    before = wakeups(s.proc.pid)
    time.sleep(3)
    after = wakeups(s.proc.pid)
    assert after - before == 0, "%d wakeups in 3 s idle" % (after - before)
    with open("/proc/%d/smaps_rollup" % s.proc.pid) as f:
        dirty = sum(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))
    if not SANITIZED:
        assert dirty <= 2048, "Private_Dirty %d KiB" % dirty


def case_backend_choice(env):
    sway = env.sway
    # --display names the socket (no WAYLAND_DISPLAY needed); a colon would mean X11
    r = sway.run([os.environ["VDAGENT"], "--socket", "/nonexistent/sock", "--foreground", "--display",
                  "wayland-nothing-here"], check=False, timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 1 and 'cannot connect to the Wayland compositor "wayland-nothing-here"' in err, err
    e = dict(sway.env, XDG_SESSION_TYPE="wayland")
    del e["WAYLAND_DISPLAY"]
    r = subprocess.run(sway.argv([os.environ["VDAGENT"], "--socket", "/nonexistent/sock", "--foreground"]), env=e,
                       capture_output=True, timeout=20)
    assert r.returncode == 1 and '"wayland-0"' in r.stderr.decode(), r.stderr
    s = env.restart(args=["--display", sway.display], env={"WAYLAND_DISPLAY": "", "DISPLAY": ":99"})
    assert 'started on Wayland display "%s"' % sway.display in s.log(), s.log()


def case_compositor_gone(env):
    s = env.s
    env.sway.proc.kill()
    env.sway.proc.wait(10)
    rc = s.proc.wait(10)
    assert rc == 0, rc
    assert "went away" in s.log(), s.log()[-2000:]


LAYOUT_CASES = [
    ("one output", case_one_output),
    ("scale 2, two outputs, pointer on the exact pixel", case_scale_two_outputs),
    ("monitors config: left to right", case_monitors_left_to_right),
    ("monitors config: USE_POS, custom mode", case_monitors_use_pos_custom_mode),
    ("monitors config: disabling a head (refused by headless sway)", case_monitors_disable),
    ("monitors config: refused, partial", case_monitors_errors),
    ("monitors config: compositor silent, superseded", case_monitors_compositor_silent),
    ("idle: 0 wakeups, Private_Dirty", case_idle),
    ("backend choice: --display, XDG_SESSION_TYPE", case_backend_choice),
    ("compositor gone: exit 0", case_compositor_gone),
]


# --- GNOME (Mutter) ---

def mutter_logical(env):
    """{connector: (x, y)} of Mutter's logical monitors, from GetCurrentState."""
    import re
    out = env.sway.state()
    return {m[2]: (int(m[0]), int(m[1])) for m in
            re.findall(r"\((-?\d+), (-?\d+), [\d.]+, (?:uint32 )?\d+, (?:true|false), \[\('([^']+)'", out)}


def case_gnome_hybrid(env):
    log = env.s.log()
    assert "clipboard through Xwayland" in log and 'started on Wayland display' in log, log
    assert layout_rects(env.layout) == {0: (1280, 800, 0, 0), 1: (1024, 768, 1280, 0)}, env.layout


def case_gnome_clipboard(env):
    s, m = env.s, env.sway
    owner = m.popen(["xclip", "-i", "-selection", "clipboard"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
    owner.stdin.write(TEXT)
    owner.stdin.close()
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    s.request(CLIPBOARD, UTF8_TEXT)
    assert s.recv_data(CLIPBOARD)[1] == TEXT
    s.grab(CLIPBOARD, [UTF8_TEXT])
    # Mutter's own X client asks too, at once (its clipboard manager keeps a copy of text selections,
    # and its bridge serves Wayland clients): the host answers every request, in order, while xclip
    # waits for the agent to own the selection and then pastes.
    data = "from the host, into Xwayland ✓".encode()
    p = None
    deadline = time.monotonic() + 20
    while (p is None or p.poll() is None) and time.monotonic() < deadline:
        try:
            s.expect(vdipc.S_CLIPBOARD_REQUEST, 0.3, selection=CLIPBOARD, type=UTF8_TEXT)
            s.send_data(CLIPBOARD, UTF8_TEXT, data)
        except TimeoutError:
            pass
        if p is None and b"UTF8_STRING" in m.run(["xclip", "-o", "-selection", "clipboard", "-t", "TARGETS"],
                                                 check=False).stdout:
            p = m.popen(["xclip", "-o", "-selection", "clipboard", "-t", "UTF8_STRING"], stdout=subprocess.PIPE)
    assert p, "the agent never owned the X selection"
    out, _ = p.communicate(timeout=5)
    assert out == data, out
    owner.wait(10)  # xclip -i exits when the agent takes the selection


def case_gnome_monitors_use_pos(env):
    r, rects, _ = apply_mutter(env, [monitor(1280, 800, 0, 0), monitor(1024, 768, 0, 800)],
                               flags=vdipc.MONITORS_USE_POS, request_id=41)
    assert r == vdipc.REPLY_SUCCESS, r
    assert mutter_logical(env) == {"Meta-0": (0, 0), "Meta-1": (0, 800)}, env.sway.state()
    assert rects == {0: (1280, 800, 0, 0), 1: (1024, 768, 0, 800)}, rects
    r, rects, _ = apply_mutter(env, [monitor(1280, 800), monitor(1024, 768)], request_id=42)
    assert r == vdipc.REPLY_SUCCESS, r
    assert mutter_logical(env) == {"Meta-0": (0, 0), "Meta-1": (1280, 0)}, env.sway.state()


def case_gnome_monitors_no_mode(env):
    before = env.sway.state()
    r, rects, _ = apply_mutter(env, [monitor(1366, 768), monitor(1024, 768)], request_id=43)
    assert r == vdipc.REPLY_ERROR, r
    assert "has no 1366x768 mode (Mutter has no custom modes)" in env.s.log()
    assert env.sway.state() == before
    assert rects == {0: (1280, 800, 0, 0), 1: (1024, 768, 1280, 0)}, rects  # the layout report goes on


def case_gnome_monitors_disable(env):
    r, rects, _ = apply_mutter(env, [monitor(1280, 800), monitor(0, 0)], request_id=44)
    assert r == vdipc.REPLY_SUCCESS, r
    assert mutter_logical(env) == {"Meta-0": (0, 0)}, env.sway.state()
    assert rects == {0: (1280, 800, 0, 0)}, rects


def case_gnome_nothing_to_apply(env):
    # Without Mutter's D-Bus API (no session bus here) the compositor offers no way to configure
    # outputs: the host hears an error, and the layout report keeps working.
    env.restart(env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
    try:
        r, rects, _ = apply_mutter(env, [monitor(1280, 800)], request_id=45)
        assert r == vdipc.REPLY_ERROR, r
        assert "monitors config 45 refused: this compositor offers no output management" in env.s.log()
        assert rects == {0: (1280, 800, 0, 0)}, rects
    finally:
        env.restart()


def apply_mutter(env, monitors, flags=0, request_id=1):
    s = env.s
    s.conn.send(vdipc.S_MONITORS_CONFIG, request_id=request_id, flags=flags, monitors=monitors)
    while True:
        t, m = s.conn.recv(15)
        if t == vdipc.S_MONITORS_RESULT:
            break
        if t != vdipc.S_LAYOUT:
            s.pending.append((t, m))
    assert m["request_id"] == request_id, m
    layout = env.settle(quiet=0.5)
    return m["result"], layout_rects(layout), None


GNOME_CASES = [
    ("hybrid: Wayland layout, X11 clipboard, one process", case_gnome_hybrid),
    ("clipboard both ways through Xwayland", case_gnome_clipboard),
    ("DisplayConfig: USE_POS, then left to right", case_gnome_monitors_use_pos),
    ("DisplayConfig: no such mode: error, layout kept", case_gnome_monitors_no_mode),
    ("DisplayConfig: a monitor disabled", case_gnome_monitors_disable),
    ("no DisplayConfig: error, layout still reported", case_gnome_nothing_to_apply),
]


def main():
    group = sys.argv[1] if len(sys.argv) > 1 else "clipboard"
    cases = {"clipboard": CLIPBOARD_CASES, "layout": LAYOUT_CASES, "gnome": GNOME_CASES}[group]
    tap = Tap()
    try:
        if group == "gnome":
            env = Env(Mutter, monitors=("1280x800", "1024x768"))
        else:
            env = Env(outputs=["HEADLESS-1 resolution 1280x800 position 0 0"])
    except Skip as e:
        print("1..0 # SKIP %s" % e)
        return 0
    try:
        for name, fn in cases:
            env.quiet()
            tap.run(name, fn, env)
    finally:
        env.stop()
    for p in env.problems:
        tap.fail("agent exited cleanly", p)
    tap.finish()


if __name__ == "__main__":
    sys.exit(main())
