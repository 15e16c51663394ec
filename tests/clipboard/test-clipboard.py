#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The session agent's clipboard, end to end: the real vdagent under Xvfb, a FakeDaemon playing a
connected host, and real X clients (xclip, xsel, clip-probe). TAP; one group of cases per run:

    test-clipboard.py text|images|incr|timeouts|races|targets
"""

import hashlib
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib

import cliplib
import vdipc
from cliplib import (CAP_CLIPBOARD_SELECTION, CLIP_CAPS, CLIPBOARD, IMAGE_BMP, IMAGE_JPG, IMAGE_PNG, IMAGE_TIFF,
                     PRIMARY, SANITIZED, UTF8_TEXT, Session, Tap, Xvfb, XclipOwner, probe, wait_owned_by_agent,
                     xclip_out, xclip_out_start)
from vdtest import Skip, wait_for

TEXT = "Grüße from the host — 日本語 ✓\nsecond line\n".encode()
MiB = 1024 * 1024


def tiny_png(w=4, h=3):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + bytes((x * 40, y * 60, 128)) * 1 + bytes(3 * (w - 1)) for y in range(h) for x in [0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Env:
    """One Xvfb and one agent session for a group; cases may restart the session."""

    def __init__(self):
        self.x = Xvfb()
        self.s = None
        self.problems = []
        self.restart()

    def restart(self, **kw):
        if self.s:
            problem = self.s.stop()
            if problem:
                self.problems.append(problem)
        self.s = Session(self.x, **kw)
        return self.s

    def stop(self):
        if self.s:
            problem = self.s.stop()
            if problem:
                self.problems.append(problem)
            self.s = None
        self.x.stop()


def host_paste(env, sel, data, target=None, reader="xclip", type_=UTF8_TEXT):
    """Host grabs sel with type_, an X client pastes, the daemon answers: -> what the client got."""
    s, x = env.s, env.x
    s.grab(sel, [type_])
    wait_owned_by_agent(x, sel)
    if reader == "xclip":
        p = xclip_out_start(x, sel, target)
    else:
        p = subprocess.Popen(["xsel", "--output", "--primary" if sel == PRIMARY else "--clipboard"], env=x.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=sel, type=type_)
    s.send_data(sel, type_, data)
    out, _ = p.communicate(timeout=30)
    return p.returncode, out


def guest_copy(env, sel, data, target=None, type_=UTF8_TEXT):
    """An X client takes sel with data; the host asks for type_: -> (owner, bytes the host got)."""
    s, x = env.s, env.x
    owner = XclipOwner(x, data, sel, target)
    g = s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=sel)
    assert type_ in g["types"], "GRAB types %r lack %d" % (g["types"], type_)
    s.request(sel, type_)
    t, got = s.recv_data(sel, 30)
    assert t == type_
    return owner, got


# --- text ---

def case_host_to_guest_clipboard(env):
    rc, out = host_paste(env, CLIPBOARD, TEXT)
    assert rc == 0 and out == TEXT, (rc, out)


def case_host_to_guest_primary_xsel(env):
    rc, out = host_paste(env, PRIMARY, TEXT, reader="xsel")
    assert rc == 0 and out == TEXT, (rc, out)


def case_guest_to_host_clipboard(env):
    owner, got = guest_copy(env, CLIPBOARD, TEXT)
    owner.stop()
    assert got == TEXT, got
    env.s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_guest_to_host_primary_xsel(env):
    s, x = env.s, env.x
    p = subprocess.Popen(["xsel", "--primary", "--input", "--nodetach"], env=x.env, stdin=subprocess.PIPE)
    p.stdin.write(TEXT)
    p.stdin.close()
    try:
        g = s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=PRIMARY)
        assert UTF8_TEXT in g["types"]
        s.request(PRIMARY, UTF8_TEXT)
        t, got = s.recv_data(PRIMARY)
        assert got == TEXT, got
    finally:
        p.terminate()
        p.wait(5)
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=PRIMARY)


def case_regrab_without_release(env):
    s = env.s
    a = XclipOwner(env.x, b"first")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    b = XclipOwner(env.x, b"second")  # takes the selection from a: a exits
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    s.request(CLIPBOARD, UTF8_TEXT)
    assert s.recv_data(CLIPBOARD)[1] == b"second"
    a.stop()
    b.stop()
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_primary_needs_selection_cap(env):
    s = env.restart(caps=CLIP_CAPS & ~(1 << CAP_CLIPBOARD_SELECTION))
    try:
        p = XclipOwner(env.x, b"primary only", PRIMARY)
        s.no_clip_message(1.0)
        c = XclipOwner(env.x, b"clipboard", CLIPBOARD)
        s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
        p.stop()
        c.stop()
        s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)
    finally:
        env.restart()


def case_string_latin1(env):
    s, x = env.s, env.x
    # representable: STRING is Latin-1
    rc, out = host_paste(env, CLIPBOARD, "café ½".encode(), target="STRING")
    assert rc == 0 and out == "café ½".encode("latin-1"), (rc, out)
    # not representable: STRING refused, UTF8_STRING has it
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    res = {}
    t = threading.Thread(target=lambda: res.update(r=probe(x, "get", "CLIPBOARD", "STRING")))
    t.start()
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
    s.send_data(CLIPBOARD, UTF8_TEXT, "日本".encode())
    t.join(20)
    assert res["r"][0] == 2 and "refused" in res["r"][1], res
    assert "Latin-1" in s.log()
    # guest -> host: an owner that only has STRING (Latin-1) gives the host UTF-8
    owner, got = guest_copy(env, CLIPBOARD, "naïve".encode("latin-1"), target="STRING")
    owner.stop()
    assert got == "naïve".encode(), got
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_string_conversion_limit(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    for size, refused in ((4 * MiB, False), (4 * MiB + 1, True)):  # VD_CLIP_CONVERT_MAX
        res = {}
        t = threading.Thread(target=lambda: res.update(r=probe(x, "get", "CLIPBOARD", "STRING")))
        t.start()
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
        s.send_data(CLIPBOARD, UTF8_TEXT, b"s" * size)
        t.join(30)
        rc, out = res["r"]
        if refused:
            assert rc == 2, (rc, out[:200])
            assert "too many to convert" in s.log()
        else:
            assert rc == 0 and "bytes %d" % size in out, (rc, out[:200])


def case_text_terminator(env):
    # Real VNC viewers end their text with a NUL and QEMU passes it on: not part of the X selection.
    rc, out = host_paste(env, CLIPBOARD, b"text\0")
    assert rc == 0 and out == b"text", (rc, out)
    rc, out = host_paste(env, CLIPBOARD, "café\0".encode(), target="STRING")  # converted after the cut
    assert rc == 0 and out == "café".encode("latin-1"), (rc, out)
    # only the one that ends the text: embedded NULs, and all but the last of several, are text
    rc, out = host_paste(env, CLIPBOARD, b"a\0b\0\0")
    assert rc == 0 and out == b"a\0b\0", (rc, out)
    rc, out = host_paste(env, CLIPBOARD, b"\0")
    assert rc == 0 and out == b"", (rc, out)
    # images are bytes: a final NUL stays
    png = tiny_png() + b"\0"
    rc, out = host_paste(env, CLIPBOARD, png, target="image/png", type_=IMAGE_PNG)
    assert rc == 0 and out == png, (rc, len(out))


# --- images ---

def case_png_host_to_guest(env):
    png = tiny_png()
    rc, out = host_paste(env, CLIPBOARD, png, target="image/png", type_=IMAGE_PNG)
    assert rc == 0 and out == png, (rc, len(out))


def case_png_guest_to_host(env):
    png = tiny_png(7, 5)
    owner, got = guest_copy(env, CLIPBOARD, png, target="image/png", type_=IMAGE_PNG)
    owner.stop()
    assert got == png
    env.s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_image_targets(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [IMAGE_BMP, IMAGE_JPG, IMAGE_TIFF])
    wait_owned_by_agent(x)
    rc, out = xclip_out(x, CLIPBOARD, "TARGETS")
    names = out.decode().split()
    for want in ("image/bmp", "image/jpeg", "image/tiff"):
        assert want in names, names
    assert "UTF8_STRING" not in names and "image/png" not in names, names
    # a type the host did not offer is refused without asking the host
    rc, out = probe(x, "get", "CLIPBOARD", "image/png")
    assert rc == 2, (rc, out)
    s.no_clip_message(0.5)
    bmp = b"BM" + os.urandom(3000)
    rc, out = host_paste(env, CLIPBOARD, bmp, target="image/bmp", type_=IMAGE_BMP)
    assert rc == 0 and out == bmp


# --- large transfers (INCR both ways), limits ---

def case_incr_host_to_guest(env):
    s, x = env.s, env.x
    data = os.urandom(32 * MiB - 1) + b"."  # a final NUL would be dropped as a terminator
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    p = xclip_out_start(x, CLIPBOARD)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
    s.send_data(CLIPBOARD, UTF8_TEXT, data)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 0 and len(out) == len(data), (p.returncode, len(out))
    assert hashlib.sha256(out).digest() == hashlib.sha256(data).digest()
    hwm = s.vm_hwm_kib()
    print("# host->guest 32 MiB: agent VmHWM %d KiB" % hwm)
    assert SANITIZED or hwm < 32 * 1024, "agent peak RSS %d KiB for a 32 MiB paste" % hwm


def case_incr_text_terminator(env):
    # INCR: the terminator comes in the host's last piece, after earlier chunks went to the requestor
    s, x = env.s, env.x
    text = (b"0123456789abcdef" * 4095 + b"0123456789abcde\n") * 48  # 3 MiB: 48 whole pieces, INCR
    assert len(text) % vdipc.MAX_PIECE == 0
    # a last piece holding only the NUL; then two NULs (the first is text)
    for tail in (b"\0", b"\0\0"):
        s.grab(CLIPBOARD, [UTF8_TEXT])
        wait_owned_by_agent(x)
        p = xclip_out_start(x, CLIPBOARD)
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
        s.send_data(CLIPBOARD, UTF8_TEXT, text + tail)
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0 and out == text + tail[1:], (p.returncode, len(out), out[-4:])
    # the NUL at the end of a piece that also carries text
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    p = xclip_out_start(x, CLIPBOARD)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
    s.send_data(CLIPBOARD, UTF8_TEXT, text[:-1] + b"\0")
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0 and out == text[:-1], (p.returncode, len(out), out[-4:])


def case_slow_requestor_throttles(env):
    s, x = env.s, env.x
    data = os.urandom(32 * MiB - 1) + b"."  # a final NUL would be dropped as a terminator
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    p = xclip_out_start(x, CLIPBOARD, "text/plain;charset=utf-8")
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
    p.send_signal(signal.SIGSTOP)  # a requestor slower than the host (for 2 s)
    sender = threading.Thread(target=s.send_data, args=(CLIPBOARD, UTF8_TEXT, data), daemon=True)
    sender.start()
    time.sleep(2)
    if "cannot be throttled" in s.log():
        p.kill()
        p.wait()
        raise Skip("main.c does not wire VdXClipboardSink.throttle to the daemon link")
    hwm = s.vm_hwm_kib()
    assert "pausing reading" in s.log()
    p.send_signal(signal.SIGCONT)
    out, _ = p.communicate(timeout=60)
    sender.join(30)
    assert len(out) == len(data) and out == data, len(out)
    print("# 32 MiB to a stalled requestor: agent VmHWM %d KiB while it was stopped" % hwm)
    assert SANITIZED or hwm < 16 * 1024, hwm
    assert "resuming reading" in s.log()


def case_incr_guest_to_host(env):
    s = env.s
    data = os.urandom(32 * MiB)
    # What the paste costs on top of what the agent already held (libraries, earlier cases).
    base = s.reset_hwm_kib()
    owner, got = guest_copy(env, CLIPBOARD, data)
    owner.stop()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), len(got)
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)
    hwm = s.vm_hwm_kib()
    print("# guest->host 32 MiB: agent VmHWM %d KiB, %d KiB over its RSS before" % (hwm, hwm - base))
    assert SANITIZED or hwm - base <= 1.2 * 32 * 1024, "agent peak RSS %d KiB over %d KiB for 32 MiB" % (hwm, base)


def case_max_clipboard(env):
    limit = 1 * MiB
    s = env.restart(max_clipboard=limit)
    try:
        # exactly the limit: sent
        owner, got = guest_copy(env, CLIPBOARD, b"a" * limit)
        assert len(got) == limit
        # one byte more: an empty answer and a log line
        owner2 = XclipOwner(env.x, b"b" * (limit + 1))
        s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
        s.request(CLIPBOARD, UTF8_TEXT)
        b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
        assert b["total"] == 0, b
        wait_for(lambda: "exceeds the limit" in s.log(), 5, what="the refusal's log line")
        # larger than one property: xclip goes INCR, refused the same way
        owner3 = XclipOwner(env.x, b"c" * (20 * MiB))
        s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
        s.request(CLIPBOARD, UTF8_TEXT)
        b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
        assert b["total"] == 0, b
        for o in (owner, owner2, owner3):
            o.stop()
    finally:
        env.restart()


# --- timeouts ---

def case_host_never_answers(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    t0 = time.monotonic()
    p = xclip_out_start(x, CLIPBOARD, "text/plain;charset=utf-8")  # (xclip retries UTF8_STRING as STRING)
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
    out, _ = p.communicate(timeout=30)
    took = time.monotonic() - t0
    assert out == b"", out
    assert 8 <= took <= 14, "xclip got its answer after %.1f s" % took
    assert s.alive()
    assert "did not answer" in s.log()
    # still healthy: the next paste works
    rc, out = host_paste(env, CLIPBOARD, b"after the timeout")
    assert rc == 0 and out == b"after the timeout", (rc, out)


def case_host_aborts(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    p = xclip_out_start(x, CLIPBOARD, "text/plain;charset=utf-8")
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
    s.conn.send(vdipc.S_CLIPBOARD_BEGIN, selection=CLIPBOARD, type=UTF8_TEXT, total=1000)
    s.conn.send(vdipc.S_CLIPBOARD_DATA, selection=CLIPBOARD, data=b"x" * 100)
    s.conn.send(vdipc.S_CLIPBOARD_ABORT, selection=CLIPBOARD)
    out, _ = p.communicate(timeout=10)
    assert p.returncode != 0 and out == b"", (p.returncode, out)
    rc, out = host_paste(env, CLIPBOARD, b"next")
    assert rc == 0 and out == b"next"


def case_x_owner_never_answers(env):
    s = env.s
    owner = XclipOwner(env.x, b"frozen")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    owner.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        s.request(CLIPBOARD, UTF8_TEXT)
        b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
        took = time.monotonic() - t0
        assert b["total"] == 0 and 4 <= took <= 8, (b, took)
    finally:
        owner.proc.send_signal(signal.SIGCONT)
        owner.stop()
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_requestor_stalls(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    p = xclip_out_start(x, CLIPBOARD, "text/plain;charset=utf-8")
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
    p.send_signal(signal.SIGSTOP)  # it will never take the INCR chunks
    s.send_data(CLIPBOARD, UTF8_TEXT, b"z" * (4 * MiB))
    wait_for(lambda: "stopped taking" in s.log(), 10, 0.2, "the requestor timeout")
    p.send_signal(signal.SIGCONT)
    p.kill()
    p.wait()
    assert s.alive()
    rc, out = host_paste(env, CLIPBOARD, b"recovered")
    assert rc == 0 and out == b"recovered"


# --- races and concurrency ---

def case_concurrent_pastes(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    s.grab(PRIMARY, [UTF8_TEXT])
    wait_owned_by_agent(x, CLIPBOARD)
    wait_owned_by_agent(x, PRIMARY)
    procs = [xclip_out_start(x, CLIPBOARD) for _ in range(4)] + [xclip_out_start(x, PRIMARY) for _ in range(2)]
    procs.append(xclip_out_start(x, CLIPBOARD, "image/png"))  # not offered: refused at once
    want = {CLIPBOARD: b"clipboard text " * 5000, PRIMARY: b"primary text"}
    for _ in range(6):
        r = s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
        s.send_data(r["selection"], UTF8_TEXT, want[r["selection"]])
    outs = [p.communicate(timeout=20)[0] for p in procs]
    for i, o in enumerate(outs[:6]):
        assert o == want[CLIPBOARD if i < 4 else PRIMARY], (i, len(o))
    assert procs[6].returncode != 0 and outs[6] == b""


def case_grab_races(env):
    s, x = env.s, env.x
    # host grabs, a guest client takes over right after: the guest's copy wins and is announced
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    owner = XclipOwner(x, b"guest wins")
    g = s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    assert UTF8_TEXT in g["types"]
    time.sleep(0.3)
    rc, out = xclip_out(x, CLIPBOARD)
    assert out == b"guest wins", out
    # the guest copies, the host grabs right after: the host's wins, the guest owner gets cleared
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    owner.proc.wait(5)  # xclip exits when it loses the selection
    rc, out = host_paste(env, CLIPBOARD, b"host wins")
    assert out == b"host wins", out
    # no RELEASE was sent for the guest owner the host replaced
    s.no_clip_message(0.5)
    # host releases: nobody owns it any more
    s.release(CLIPBOARD)
    wait_for(lambda: probe(x, "owner", "CLIPBOARD")[0] == 1, 5, what="the selection to be released")
    # host grab with no types (QEMU's empty clipboard): not owned
    s.grab(CLIPBOARD, [])
    time.sleep(0.3)
    assert probe(x, "owner", "CLIPBOARD")[0] == 1


def host_offer_dropped(env, drop, what):
    """The host's CLIPBOARD offer is owned by the agent until drop(); then nobody owns it (what: the
    wait's description)."""
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    drop()
    wait_for(lambda: probe(x, "owner", "CLIPBOARD")[0] == 1, 5, what=what)


def guest_copy_reaches_host(s, owner, data):
    """The guest's copy (owner, offering data) is announced to the host, which reads data; the
    owner's exit is announced as RELEASE."""
    g = s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    assert UTF8_TEXT in g["types"]
    s.request(CLIPBOARD, UTF8_TEXT)
    assert s.recv_data(CLIPBOARD)[1] == data
    owner.stop()
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_host_disconnect(env):
    s, x = env.s, env.x
    host_offer_dropped(env, lambda: s.host_state(connected=False), "the host's selection to be dropped")
    owner = XclipOwner(x, b"while away")
    s.no_clip_message(0.7)  # nothing announced to a host that is not there
    s.host_state()
    guest_copy_reaches_host(s, owner, b"while away")  # re-announced on reconnect


def case_daemon_restart(env):
    s, x = env.s, env.x
    # the daemon goes away: the host's offer with it
    host_offer_dropped(env, s.conn.close, "the host's selection to be dropped")
    owner = XclipOwner(x, b"copied while the daemon was away")
    time.sleep(0.3)
    s.reconnect()
    guest_copy_reaches_host(s, owner, b"copied while the daemon was away")  # resync: announced to the new daemon


def case_daemon_restart_host_offer_wins(env):
    # The new daemon hands over the host's standing offer (a grab it kept while no agent was there)
    # right after HOST_STATE, while the agent asks the X owner it found on reconnecting for TARGETS:
    # the host's grab supersedes that owner, which is not announced (else the daemon would forward a
    # guest grab while the agent takes the selection for the host).
    s, x = env.s, env.x
    owner = XclipOwner(x, b"older guest text")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    s.conn.close()
    time.sleep(0.3)
    owner.proc.send_signal(signal.SIGSTOP)  # it answers TARGETS only after the host's grab
    try:
        s.reconnect()
        s.grab(CLIPBOARD, [UTF8_TEXT])
        wait_owned_by_agent(x)
    finally:
        owner.proc.send_signal(signal.SIGCONT)
    s.no_clip_message(1.0)
    owner.stop()
    rc, out = host_paste(env, CLIPBOARD, b"the host's newer text")
    assert rc == 0 and out == b"the host's newer text", (rc, out)


def case_session_inactive(env):
    s, x = env.s, env.x
    host_offer_dropped(env, lambda: s.conn.send(vdipc.S_SESSION_STATE, active=False, locked=False),
                       "an inactive session to own nothing")
    owner = XclipOwner(x, b"inactive")
    s.no_clip_message(0.5)
    s.conn.send(vdipc.S_SESSION_STATE, active=True, locked=False)
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    owner.stop()
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_host_requests_answered_in_order(env):
    s = env.s
    owner = XclipOwner(env.x, b"in order")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    # no request ids on the wire: the refusal of PNG must not overtake the text before it
    for t in (UTF8_TEXT, IMAGE_PNG, UTF8_TEXT):
        s.request(CLIPBOARD, t)
    assert s.recv_data(CLIPBOARD) == (UTF8_TEXT, b"in order")
    b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
    assert b["type"] == IMAGE_PNG and b["total"] == 0, b
    assert s.recv_data(CLIPBOARD) == (UTF8_TEXT, b"in order")
    owner.stop()
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_host_pending_limit(env):
    s = env.s
    owner = XclipOwner(env.x, b"limit")
    s.expect(vdipc.S_CLIPBOARD_GRAB, 10, selection=CLIPBOARD)
    # one in flight, VD_CLIP_HOST_PENDING_MAX (16) waiting: the 18th is answered empty at once
    s.conn.send_raw(b"".join(vdipc.encode_frame(vdipc.SESSION, vdipc.S_CLIPBOARD_REQUEST, selection=CLIPBOARD,
                                                type=UTF8_TEXT) for _ in range(18)))
    b = s.expect(vdipc.S_CLIPBOARD_BEGIN, 10, selection=CLIPBOARD)
    assert b["total"] == 0, b
    for _ in range(17):
        assert s.recv_data(CLIPBOARD) == (UTF8_TEXT, b"limit")
    assert "already wait" in s.log()
    owner.stop()
    s.expect(vdipc.S_CLIPBOARD_RELEASE, 5, selection=CLIPBOARD)


def case_x_pending_limit(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    # one paste with the host, VD_CLIP_PENDING_MAX (32) waiting, two more refused at once
    procs = [subprocess.Popen([cliplib.PROBE, "--display", x.display, "get", "CLIPBOARD", "text/plain"],
                              stdout=subprocess.PIPE) for _ in range(35)]
    s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
    wait_for(lambda: sum(p.poll() is not None for p in procs) >= 2, 10, 0.05, "two refusals")
    s.send_data(CLIPBOARD, UTF8_TEXT, b"queued")
    for _ in range(32):
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10)
        s.send_data(CLIPBOARD, UTF8_TEXT, b"queued")
    outs = [(p.wait(20), p.stdout.read().decode()) for p in procs]
    refused = [o for o in outs if o[0] == 2]
    served = [o for o in outs if o[0] == 0 and "hex " + b"queued".hex() in o[1]]
    assert len(refused) == 2 and len(served) == 33, outs
    assert "already wait for the host" in s.log()


# --- TARGETS, TIMESTAMP, MULTIPLE ---

def case_targets(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT, IMAGE_PNG])
    wait_owned_by_agent(x)
    rc, out = xclip_out(x, CLIPBOARD, "TARGETS")
    names = out.decode().split()
    for want in ("TARGETS", "TIMESTAMP", "MULTIPLE", "UTF8_STRING", "text/plain;charset=utf-8", "STRING", "TEXT",
                 "text/plain", "image/png"):
        assert want in names, (want, names)
    assert len(names) == len(set(names)), names
    s.no_clip_message(0.3)  # TARGETS is answered without the host


def case_timestamp(env):
    s, x = env.s, env.x
    before = int(probe(x, "servertime")[1])
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    after = int(probe(x, "servertime")[1])
    rc, out = probe(x, "get", "CLIPBOARD", "TIMESTAMP")
    assert rc == 0 and "type INTEGER format 32" in out, out
    stamp = int(out.split("int ")[1].split()[0])
    assert before <= stamp <= after and stamp != 0, (before, stamp, after)


def case_multiple(env):
    s, x = env.s, env.x
    s.grab(CLIPBOARD, [UTF8_TEXT])
    wait_owned_by_agent(x)
    res = {}
    t = threading.Thread(target=lambda: res.update(r=probe(
        x, "multiple", "CLIPBOARD", "TARGETS", "UTF8_STRING", "TIMESTAMP", "image/gif", "STRING")))
    t.start()
    for _ in range(2):  # UTF8_STRING, then STRING: one host request each, in order
        s.expect(vdipc.S_CLIPBOARD_REQUEST, 10, selection=CLIPBOARD, type=UTF8_TEXT)
        s.send_data(CLIPBOARD, UTF8_TEXT, "multi ö".encode())
    t.join(20)
    rc, out = res["r"]
    assert rc == 0, out
    items = out.split("item ")[1:]
    assert items[0].startswith("0 TARGETS") and "atom UTF8_STRING" in items[0], items[0]
    assert items[1].startswith("1 UTF8_STRING") and "hex " + "multi ö".encode().hex() in items[1], items[1]
    assert items[2].startswith("2 TIMESTAMP") and "int " in items[2], items[2]
    assert items[3].startswith("3 None"), items[3]
    assert items[4].startswith("4 STRING") and "hex " + "multi ö".encode("latin-1").hex() in items[4], items[4]


GROUPS = {
    "text": [case_host_to_guest_clipboard, case_host_to_guest_primary_xsel, case_guest_to_host_clipboard,
             case_guest_to_host_primary_xsel, case_regrab_without_release, case_primary_needs_selection_cap,
             case_string_latin1, case_string_conversion_limit, case_text_terminator],
    "images": [case_png_host_to_guest, case_png_guest_to_host, case_image_targets],
    "incr": [case_incr_host_to_guest, case_incr_text_terminator, case_slow_requestor_throttles, case_incr_guest_to_host, case_max_clipboard],
    "timeouts": [case_host_never_answers, case_host_aborts, case_x_owner_never_answers, case_requestor_stalls],
    "races": [case_concurrent_pastes, case_grab_races, case_host_disconnect, case_daemon_restart,
              case_daemon_restart_host_offer_wins, case_session_inactive,
              case_host_requests_answered_in_order,
              case_host_pending_limit, case_x_pending_limit],
    "targets": [case_targets, case_timestamp, case_multiple],
}


def main():
    group = sys.argv[1] if len(sys.argv) > 1 else "text"
    tap = Tap()
    try:
        env = Env()
    except Skip as e:
        print("1..0 # SKIP %s" % e)
        return
    def checked(case):
        def run(env):
            n0 = len(env.problems)
            try:
                case(env)
            finally:
                if not env.s.alive():
                    env.restart()  # records the crash in env.problems
            assert len(env.problems) == n0, "the agent did not survive: " + env.problems[-1]
        return run

    try:
        for case in GROUPS[group]:
            if not tap.run(case.__name__[5:].replace("_", " "), checked(case), env) and env.s:
                print("# agent log (last 40 lines):")
                for line in env.s.log().splitlines()[-40:]:
                    print("# " + line)
            env.s.pending.clear()
    finally:
        n_before = len(env.problems)
        env.stop()

    def clean_exit():
        assert len(env.problems) == n_before, env.problems[-1]
    tap.run("agent exits cleanly (no crash, sanitizer report or error status)", clean_exit)
    tap.finish()


if __name__ == "__main__":
    main()
