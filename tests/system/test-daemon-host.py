#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vdagentd and the host: the real daemon, a test host on a Unix-socket port, --fake-uinput.

Caps both ways, the mouse record by record (ports 1 and 2, 1024- and 2048-byte chunks), layouts,
client disconnect, host disconnect and reconnect with backoff, malformed and oversized input."""
import os
import socket
import struct
import tempfile
import time

from daemon import *  # noqa: E402,F401
from vdtest import Tap  # noqa: E402
from vdwire import *  # noqa: E402,F401
from footprint import MEASURE_ENV, VDAGENTD_IDLE_PRIVATE_DIRTY_KIB, describe, footprint  # noqa: E402

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-host-test-")
host = TestHost(os.path.join(tmp, "port.sock"))
daemon = Vdagentd(host.path)
daemon.wait_socket(5)


def connect():
    host.accept(timeout=10)
    caps = parse_announce_caps(host.expect(MSG_ANNOUNCE_CAPABILITIES))
    return caps


def test_announce_on_open():
    caps = connect()
    assert caps["request"], "the first announcement must ask for the host's caps"
    c = caps["caps"]
    for cap in (CAP_MOUSE_STATE, CAP_MONITORS_CONFIG, CAP_REPLY):
        assert c.has(cap), "cap %d missing in %r" % (cap, c)
    # Nothing works for the clipboard or files without a session agent: not announced.
    assert not c.has(CAP_CLIPBOARD_BY_DEMAND), c
    assert c.has(CAP_FILE_XFER_DISABLED), c


def test_answer_caps_request():
    neg = host.negotiate(SPICE_GTK_CAPS)
    assert neg.has(CAP_MOUSE_STATE) and neg.has(CAP_REPLY)
    # request=0 from the host gets no answer
    host.announce_caps(SPICE_GTK_CAPS, request=False)
    host.assert_quiet(0.3)


def set_layout(monitors, flags=MONITORS_PHYSICAL_SIZE | MONITORS_USE_POS):
    host.send_message(MSG_MONITORS_CONFIG, build_monitors_config(monitors, flags))
    reply = parse_reply(host.expect(MSG_REPLY))
    assert reply["type"] == MSG_MONITORS_CONFIG and reply["error"] == REPLY_SUCCESS, reply


def abs_events(events):
    return {c: v for t, c, v in events if t == EV_ABS}


def test_mouse_single_display():
    set_layout([dict(width=1024, height=768, x=0, y=0)])
    want = [(0, 0), (1023, 767), (512, 384), (1, 1), (1000, 3)]
    for x, y in want:
        host.send_message(MSG_MOUSE_STATE, build_mouse_state(x, y, 0, 0), port=PORT_SERVER, chunk=2048)
        ev = daemon.events(want=1)
        assert ev[-1] == (EV_SYN, SYN_REPORT, 0), ev
        a = abs_events(ev)
        if ABS_X in a:
            assert pixel(a[ABS_X], 1024) == x, (x, a)
        if ABS_Y in a:
            assert pixel(a[ABS_Y], 768) == y, (y, a)
        assert ABS_X in a or ABS_Y in a, ev


def test_mouse_record_by_record():
    # Port 1 in 1024-byte chunks (QEMU's qemu-vdagent), a press, a release, each a report.
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 20, 0, 0), port=PORT_CLIENT, chunk=1024)
    ev = daemon.events(want=3)
    assert ev == [(EV_ABS, ABS_X, ev[0][2]), (EV_ABS, ABS_Y, ev[1][2]), (EV_SYN, SYN_REPORT, 0)], ev
    assert pixel(ev[0][2], 1024) == 10 and pixel(ev[1][2], 768) == 20
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 20, BUTTON_LEFT | BUTTON_SIDE, 0), port=1, chunk=1024)
    ev = daemon.events(want=3)
    assert ev == [(EV_KEY, BTN_LEFT, 1), (EV_KEY, BTN_SIDE, 1), (EV_SYN, SYN_REPORT, 0)], ev
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 20, BUTTON_RIGHT | BUTTON_MIDDLE | BUTTON_EXTRA, 0),
                      port=2)
    ev = daemon.events(want=6)
    assert ev == [(EV_KEY, BTN_LEFT, 0), (EV_KEY, BTN_MIDDLE, 1), (EV_KEY, BTN_RIGHT, 1), (EV_KEY, BTN_SIDE, 0),
                  (EV_KEY, BTN_EXTRA, 1), (EV_SYN, SYN_REPORT, 0)], ev
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 20, 0, 0), port=2)
    ev = daemon.events(want=4)
    assert ev == [(EV_KEY, BTN_MIDDLE, 0), (EV_KEY, BTN_RIGHT, 0), (EV_KEY, BTN_EXTRA, 0), (EV_SYN, SYN_REPORT, 0)], ev


def test_wheel():
    for bit, sign in ((BUTTON_WHEEL_UP, 1), (BUTTON_WHEEL_DOWN, -1)):
        host.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 20, bit, 0), port=2)
        host.send_message(MSG_MOUSE_STATE, build_mouse_state(10, 20, 0, 0), port=2)
        ev = daemon.events(want=3)
        assert ev == [(EV_REL, REL_WHEEL, sign), (EV_REL, REL_WHEEL_HI_RES, 120 * sign), (EV_SYN, SYN_REPORT, 0)], ev


def test_burst_one_write():
    # 200 events sent in one go all arrive (the daemon writes a read's worth at once).
    data = b"".join(split_message(MSG_MOUSE_STATE, build_mouse_state(i % 1024, i % 768, 0, 0), port=2)
                    for i in range(200))
    host.send_raw(data)
    ev = daemon.events(want=3 * 199)
    syn = [e for e in ev if e == (EV_SYN, SYN_REPORT, 0)]
    assert len(syn) == 200, len(syn)
    last = abs_events(ev[-3:])
    assert pixel(last[ABS_X], 1024) == 199 and pixel(last[ABS_Y], 768) == 199, last


def test_two_monitors():
    set_layout([dict(width=1920, height=1080, x=0, y=0), dict(width=1280, height=1024, x=1920, y=0)])
    for disp, x, y, px, py in ((1, 0, 0, 1920, 0), (1, 1279, 1023, 3199, 1023), (0, 1919, 1079, 1919, 1079)):
        host.send_message(MSG_MOUSE_STATE, build_mouse_state(x, y, 0, disp), port=2)
        ev = daemon.events(want=2)
        a = abs_events(ev)
        assert ev[-1] == (EV_SYN, SYN_REPORT, 0)
        if ABS_X in a:
            assert pixel(a[ABS_X], 3200) == px, (disp, x, a)
        if ABS_Y in a:
            assert pixel(a[ABS_Y], 1080) == py, (disp, y, a)


def test_unknown_display_logged_once():
    for _ in range(5):
        host.send_message(MSG_MOUSE_STATE, build_mouse_state(5, 5, 0, 7), port=2)
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(3, 3, 0, 0), port=2)
    ev = daemon.events(want=3)
    assert pixel(abs_events(ev)[ABS_X], 3200) == 3, ev  # only the known display moved
    assert daemon.log_text().count("display 7") == 1, daemon.log_text()


def test_malformed_mouse_ignored():
    host.send_message(MSG_MOUSE_STATE, b"\x01\x02\x03", port=2)
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(4, 4, 0, 0), port=2)
    ev = daemon.events(want=3)
    assert pixel(abs_events(ev)[ABS_X], 3200) == 4, ev
    assert daemon.alive()


def test_interleaved_ports():
    # A message on port 1 cut in pieces with port-2 mouse chunks in between.
    msg = build_message(MSG_MONITORS_CONFIG, build_monitors_config([dict(width=800, height=600, x=0, y=0)],
                                                                   MONITORS_PHYSICAL_SIZE | MONITORS_USE_POS))
    mid = 10
    host.send_raw(build_chunk_header(1, mid) + msg[:mid])
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(100, 100, 0, 0), port=2)
    host.send_raw(build_chunk_header(1, len(msg) - mid) + msg[mid:])
    reply = parse_reply(host.expect(MSG_REPLY))
    assert reply["error"] == REPLY_SUCCESS
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(799, 599, 0, 0), port=2)
    ev = daemon.events(want=6)
    a = abs_events(ev[-3:])
    assert pixel(a[ABS_X], 800) == 799 and pixel(a[ABS_Y], 600) == 599, ev


def test_client_disconnected_resets_port1():
    # Half a message on port 1, then the client leaves: the next port-1 message must parse.
    msg = build_message(MSG_MONITORS_CONFIG, build_monitors_config([dict(width=640, height=480, x=0, y=0)],
                                                                   MONITORS_PHYSICAL_SIZE | MONITORS_USE_POS))
    host.send_raw(build_chunk_header(1, 30) + msg[:30])
    host.send_message(MSG_CLIENT_DISCONNECTED, b"", port=2)
    time.sleep(0.2)
    host.negotiate(SPICE_GTK_CAPS)
    host.send_message(MSG_MONITORS_CONFIG, build_monitors_config([dict(width=640, height=480, x=0, y=0)],
                                                                 MONITORS_PHYSICAL_SIZE | MONITORS_USE_POS))
    assert parse_reply(host.expect(MSG_REPLY))["error"] == REPLY_SUCCESS
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(639, 0, 0, 0), port=1)
    ev = daemon.events(want=2)
    assert pixel(abs_events(ev)[ABS_X], 640) == 639, ev
    assert daemon.alive()


def expect_reopen(what):
    """The daemon must close the port, then come back announcing request=1."""
    t0 = time.monotonic()
    try:
        while True:
            host.recv_message(timeout=5)
    except ConnectionError:
        pass
    caps = connect()
    assert caps["request"], what
    host.negotiate(SPICE_GTK_CAPS)
    assert daemon.alive()
    return time.monotonic() - t0


def test_bad_port():
    host.send_raw(build_chunk_header(3, 4) + b"abcd")
    expect_reopen("bad port")
    assert "framing error" in daemon.log_text()


def test_oversized_chunk():
    host.send_raw(build_chunk_header(1, 4096) + bytes(4096))
    expect_reopen("oversized chunk")


def test_bad_protocol():
    payload = build_mouse_state(1, 1)
    host.send_raw(build_chunk_header(2, 20 + len(payload)) + build_message_header(MSG_MOUSE_STATE, len(payload),
                                                                                  protocol=2) + payload)
    expect_reopen("protocol 2")


def test_oversized_message():
    # A whole (non-streamed) message claiming 100 MiB is refused before anything is buffered.
    host.send_raw(build_chunk_header(1, 20) + build_message_header(MSG_MONITORS_CONFIG, 100 * 1024 * 1024))
    expect_reopen("oversized message")


def test_host_reconnect():
    host.close()
    t = time.monotonic()
    caps = connect()
    assert caps["request"]
    assert time.monotonic() - t < 3, "reconnect took too long"
    host.negotiate(SPICE_GTK_CAPS)
    # The mouse still works on the same device: same file, no new device.
    set_layout([dict(width=1024, height=768, x=0, y=0)])
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(77, 0, 0, 0), port=2)
    ev = daemon.events(want=2)
    assert pixel(abs_events(ev)[ABS_X], 1024) == 77, ev


def test_backoff():
    # A host that hangs up at once, again and again: the daemon must back off, not spin.
    host.close()
    accepts = 0
    t_end = time.monotonic() + 3.0
    host.listener.settimeout(0.1)
    while time.monotonic() < t_end:
        try:
            c, _ = host.listener.accept()
        except socket.timeout:
            continue
        accepts += 1
        c.close()
    host.listener.settimeout(None)
    # 100, 200, 400, 800, 1600 ms: about 5-6 attempts in 3 s; a busy loop would make thousands.
    assert 2 <= accepts <= 8, accepts
    cpu = daemon.cpu_seconds()
    assert cpu < 2, cpu
    connect()
    host.negotiate(SPICE_GTK_CAPS)


def test_stale_burst_after_reopen():
    # QEMU replays queued messages after a reopen; they are handled like any other.
    host.close()
    host.accept(timeout=10)
    host.send_message(MSG_MOUSE_STATE, build_mouse_state(5, 6, 0, 0), port=1, chunk=1024)
    host.send_message(MSG_CLIENT_DISCONNECTED, b"", port=2)
    caps = parse_announce_caps(host.expect(MSG_ANNOUNCE_CAPABILITIES))
    assert caps["request"]
    host.negotiate(QEMU_CAPS)
    daemon.events(want=2)
    assert daemon.alive()


def test_idle_no_wakeups():
    time.sleep(0.3)
    before = daemon.status("voluntary_ctxt_switches") + daemon.status("nonvoluntary_ctxt_switches")
    time.sleep(2.0)
    after = daemon.status("voluntary_ctxt_switches") + daemon.status("nonvoluntary_ctxt_switches")
    assert after - before <= 1, "%d wakeups in 2 s while idle" % (after - before)


def test_idle_footprint():
    # A daemon of its own, idle with a connected host, without meson's MALLOC_PERTURB_ (MEASURE_ENV).
    if daemon.sanitized():
        print("# sanitizer build: memory figures not meaningful")
        return
    fp_host = TestHost(os.path.join(tmp, "footprint-port.sock"))
    d = Vdagentd(fp_host.path, env=MEASURE_ENV)
    d.wait_socket(5)
    try:
        fp_host.accept(timeout=10)
        fp_host.expect(MSG_ANNOUNCE_CAPABILITIES)
        fp_host.negotiate()
        time.sleep(1.0)
        fp = footprint(d.pid)
        print("# idle: %s" % describe(fp))
        # Private_Dirty is what only this process holds (bench/footprint.py); shared library pages and
        # clean file pages, most of VmRSS and part of PSS, are not ours to count.
        assert fp["private_dirty_kib"] <= VDAGENTD_IDLE_PRIVATE_DIRTY_KIB, fp
        assert d.alive()
    finally:
        d.cleanup()
        fp_host.shutdown()


tests = [
    ("announces caps with request=1 on open, no clipboard without an agent", test_announce_on_open),
    ("answers a caps request", test_answer_caps_request),
    ("mouse on one display, every corner", test_mouse_single_display),
    ("mouse record by record, buttons, ports 1 and 2, 1024-byte chunks", test_mouse_record_by_record),
    ("wheel as REL_WHEEL and REL_WHEEL_HI_RES", test_wheel),
    ("a burst of 200 MOUSE_STATE", test_burst_one_write),
    ("two monitors side by side", test_two_monitors),
    ("unknown display id logged once", test_unknown_display_logged_once),
    ("malformed MOUSE_STATE ignored", test_malformed_mouse_ignored),
    ("ports 1 and 2 interleaved", test_interleaved_ports),
    ("CLIENT_DISCONNECTED resets port 1", test_client_disconnected_resets_port1),
    ("chunk on port 3 reopens the port", test_bad_port),
    ("4096-byte chunk reopens the port", test_oversized_chunk),
    ("protocol 2 reopens the port", test_bad_protocol),
    ("100 MiB whole message reopens the port", test_oversized_message),
    ("host disconnect and reconnect", test_host_reconnect),
    ("reopen backs off exponentially", test_backoff),
    ("stale burst after reopen is harmless", test_stale_burst_after_reopen),
    ("idle with a connected host: no wakeups", test_idle_no_wakeups),
    ("idle footprint: Private_Dirty <= 1 MiB", test_idle_footprint),
]
run_cases(tap, tests, daemon, host)
