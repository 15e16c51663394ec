#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of tests/lib/vdwire.py, the VDAgent wire format for test hosts: constants checked
against spice-protocol's header, exact byte layouts, the splitter and both reassemblers (and the
framing rule the guest reassembler enforces), and TestHost over a real Unix socket. TAP output."""

import os
import re
import socket
import struct
import tempfile
import threading
import traceback

import vdwire as W
from vdtest import Skip, Tap

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc:
        return True
    raise AssertionError("%s did not raise %s" % (fn.__name__, exc.__name__))


SPICE_HEADER = "/usr/include/spice-1/spice/vd_agent.h"


def spice_enums(path):
    """{name: value} of every enumerator in the header (implicit values counted)."""
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    text = re.sub(r"#if 0.*?#endif", "", text, flags=re.S)
    out = {}
    for body in re.findall(r"enum\s*\w*\s*\{(.*?)\}", text, flags=re.S):
        value = -1
        for item in body.split(","):
            item = item.strip()
            if not item or item.startswith("#"):
                continue
            m = re.match(r"(\w+)\s*(?:=\s*(.+))?$", item, flags=re.S)
            if not m:
                continue
            if m.group(2) is not None:
                expr = m.group(2).strip()
                shift = re.fullmatch(r"\(?\s*1\s*<<\s*(\d+)\s*\)?", expr)
                if shift:
                    value = 1 << int(shift.group(1))
                elif re.fullmatch(r"0x[0-9a-fA-F]+|\d+", expr):
                    value = int(expr, 0)
                else:
                    continue
            else:
                value += 1
            out[m.group(1)] = value
    return out


@test
def constants_match_spice_protocol():
    if not os.path.exists(SPICE_HEADER):
        raise Skip("%s not installed" % SPICE_HEADER)
    enums = spice_enums(SPICE_HEADER)
    pairs = {"VD_AGENT_CAP_": "CAP_", "VD_AGENT_CLIPBOARD_SELECTION_": "SELECTION_",
             "VD_AGENT_FILE_XFER_STATUS_": "XFER_", "VD_AGENT_CLIPBOARD_": "CLIPBOARD_",
             "VD_AGENT_": "MSG_"}
    checked = 0
    for ours in dir(W):
        for theirs_prefix, ours_prefix in pairs.items():
            if not ours.startswith(ours_prefix) or ours.endswith("_END") or ours in ("MSG_HEADER_SIZE",):
                continue
            name = theirs_prefix + ours[len(ours_prefix):]
            if ours_prefix == "XFER_" and ours == "XFER_ERROR_GLIB_IO":
                name = "VD_AGENT_FILE_XFER_STATUS_ERROR_GLIB_IO"
            if name in enums:
                assert enums[name] == getattr(W, ours), "%s = %d, spice says %d" % (ours, getattr(W, ours), enums[name])
                checked += 1
    assert enums["VD_AGENT_END_MESSAGE"] == W.MSG_END
    assert enums["VD_AGENT_END_CAP"] == W.CAP_END
    assert checked >= 16 + 18 + 7 + 3 + 8, "only %d constants matched" % checked
    print("# checked %d" % checked)


@test
def exact_layouts():
    assert W.build_chunk_header(1, 2048) == bytes.fromhex("0100000000080000")
    assert W.build_message_header(6, 8) == bytes.fromhex("01000000" "06000000" "0000000000000000" "08000000")
    assert W.build_announce_caps(W.SPICE_GTK_CAPS) == bytes.fromhex("01000000" "77500300")
    assert W.build_announce_caps(W.Caps.of(33), request=False) == bytes.fromhex("00000000" "00000000" "02000000")
    # MonConfig: height first, then width; MonitorMM: height first
    cfg = W.build_monitors_config([dict(width=1024, height=768, x=-1, y=2, mm_width=300, mm_height=200)])
    assert cfg == bytes.fromhex("01000000" "02000000" "00030000" "00040000" "20000000" "ffffffff" "02000000"
                                "c800" "2c01")
    assert W.build_mouse_state(1, 2, W.BUTTON_LEFT, 3) == bytes.fromhex("01000000020000000200000003")
    sel = W.Caps.of(W.CAP_CLIPBOARD_SELECTION, W.CAP_CLIPBOARD_GRAB_SERIAL)
    assert W.build_clipboard_grab([1, 2], sel, selection=1, serial=7) == bytes.fromhex(
        "01000000" "07000000" "01000000" "02000000")
    assert W.build_clipboard_grab([1], 0) == bytes.fromhex("01000000")
    assert W.build_clipboard(1, b"hi", sel, selection=2) == bytes.fromhex("02000000" "01000000" "6869")
    assert W.build_file_xfer_data(5, b"ab") == bytes.fromhex("05000000" "0200000000000000" "6162")
    assert W.build_graphics_device_info([(0, 1, 2, "pci/0")]) == (
        bytes.fromhex("01000000" "00000000" "01000000" "02000000" "06000000") + b"pci/0\0")
    assert W.build_audio_volume_sync(1, 0, [0x1234, 5]) == bytes.fromhex("010002" "3412" "0500")
    st = W.build_file_xfer_start(3, "a.txt", 10, nr=1, total=2)
    assert st.startswith(bytes.fromhex("03000000") + b"[vdagent-file-xfer]\nname=a.txt\nsize=10\n") and st.endswith(b"\0")


@test
def payload_round_trips():
    sel_serial = W.Caps.of(W.CAP_CLIPBOARD_SELECTION, W.CAP_CLIPBOARD_GRAB_SERIAL)
    for neg in (0, W.Caps.of(W.CAP_CLIPBOARD_SELECTION), sel_serial, W.QEMU_CAPS, W.SPICE_GTK_CAPS):
        has_sel = W.Caps(neg).has(W.CAP_CLIPBOARD_SELECTION)
        s = 1 if has_sel else 0
        g = W.parse_clipboard_grab(W.build_clipboard_grab([1, 2, 6], neg, s, serial=9), neg)
        assert g["selection"] == s and g["types"] == [1, 2, 6]
        assert g["serial"] == (9 if W.Caps(neg).has(W.CAP_CLIPBOARD_GRAB_SERIAL) else None)
        assert W.parse_clipboard_grab(W.build_clipboard_grab([], neg, s), neg)["types"] == []
        assert W.parse_clipboard(W.build_clipboard(2, b"\x89PNG", neg, s), neg) == dict(selection=s, type=2, data=b"\x89PNG")
        assert W.parse_clipboard_request(W.build_clipboard_request(1, neg, s), neg) == dict(selection=s, type=1)
        assert W.parse_clipboard_release(W.build_clipboard_release(neg, s), neg) == dict(selection=s)
    raises(ValueError, W.build_clipboard_request, 1, 0, W.SELECTION_PRIMARY)
    raises(W.WireError, W.parse_clipboard_release, b"\3\0\0\0", W.Caps.of(W.CAP_CLIPBOARD_SELECTION))
    raises(W.WireError, W.parse_clipboard_request, b"\1\0\0\0\0", 0)
    mons = [dict(width=1920, height=1080, depth=32, x=0, y=0, mm_width=500, mm_height=300),
            dict(width=1280, height=1024, depth=32, x=1920, y=-10, mm_width=0, mm_height=0)]
    for flags in (0, W.MONITORS_USE_POS, W.MONITORS_PHYSICAL_SIZE | W.MONITORS_USE_POS):
        p = W.parse_monitors_config(W.build_monitors_config(mons, flags))
        want = [dict(m) for m in mons]
        if not flags & W.MONITORS_PHYSICAL_SIZE:
            for m in want:
                m.update(mm_width=0, mm_height=0)
        assert p == dict(flags=flags, monitors=want), p
    sparse = W.parse_monitors_config(W.build_sparse_monitors_config({0: mons[0], 2: mons[1]}))
    assert len(sparse["monitors"]) == 16 and sparse["monitors"][1]["width"] == 0
    assert sparse["monitors"][2]["x"] == 1920
    raises(W.WireError, W.parse_monitors_config, W.build_monitors_config(mons)[:-1])
    a = W.parse_announce_caps(W.build_announce_caps(W.Caps.of(0, 40, 95), request=False))
    assert a == dict(request=False, caps=W.Caps.of(0, 40, 95), n_words=3)
    raises(W.WireError, W.parse_announce_caps, b"\1\0\0\0\1")
    assert W.parse_mouse_state(W.build_mouse_state(5, 6, 0xFE, 1)) == dict(x=5, y=6, buttons=0xFE, display_id=1)
    raises(W.WireError, W.parse_mouse_state, bytes(14))
    assert W.parse_reply(W.build_reply(2, W.REPLY_ERROR)) == dict(type=2, error=2)
    s = W.parse_file_xfer_status(W.build_file_xfer_status(4, W.XFER_ERROR, W.build_file_xfer_error_detail(13)))
    assert (s["error_type"], s["error_code"]) == (0, 13)
    s = W.parse_file_xfer_status(W.build_file_xfer_status(4, W.XFER_NOT_ENOUGH_SPACE, struct.pack("<Q", 99)))
    assert s["free"] == 99
    assert W.parse_file_xfer_status(W.build_file_xfer_status(4, W.XFER_SUCCESS))["detail"] == b""
    assert W.parse_display_config(W.build_display_config(9, 24)) == dict(flags=9, depth=24)
    st = W.parse_file_xfer_start(W.build_file_xfer_start(3, "a b.txt", 10, nr=1, total=2))
    assert st == dict(id=3, name="a b.txt", size=10, nr=1, total=2, nul=True), st
    st = W.parse_file_xfer_start(W.build_file_xfer_start(4, "x", 0, nul=False))
    assert (st["nr"], st["total"], st["nul"]) == (None, None, False)
    raises(W.WireError, W.parse_file_xfer_start, b"\0\0\0\0[vdagent-file-xfer]\nname=x\n")
    assert W.parse_file_xfer_data(W.build_file_xfer_data(2, b"abc")) == dict(id=2, size=3, data=b"abc")
    raises(W.WireError, W.parse_file_xfer_data, W.build_file_xfer_data(2, b"abc", size=4))
    assert W.parse_max_clipboard(W.build_max_clipboard(-1)) == -1
    assert W.parse_audio_volume_sync(W.build_audio_volume_sync(1, 1, [1, 2, 3])) == dict(
        is_playback=1, mute=1, volumes=[1, 2, 3])
    raises(W.WireError, W.parse_audio_volume_sync, W.build_audio_volume_sync(1, 1, [1])[:-1])
    gdi = [(0, 1, 2, "pci/0000/02.0"), (1, 0, 0, "")]
    assert W.parse_graphics_device_info(W.build_graphics_device_info(gdi)) == gdi
    raises(W.WireError, W.parse_graphics_device_info, W.build_graphics_device_info(gdi)[:-1])
    assert W.parse_payload(W.MSG_CLIENT_DISCONNECTED, b"") == {}
    assert W.parse_payload(W.MSG_REPLY, W.build_reply(1)) == dict(type=1, error=1)
    raises(W.WireError, W.parse_payload, W.MSG_END, b"")
    caps = W.Caps(W.SPICE_GTK_CAPS) & W.QEMU_CAPS
    assert caps == 0x00020061 & 0x00035077 and caps.has(W.CAP_CLIPBOARD_GRAB_SERIAL)


@test
def splitter_and_host_reassembler():
    payload = bytes(range(256)) * 40  # 10240 bytes
    for chunk, port in ((W.CHUNK_MAX_DATA, 1), (W.QEMU_CHUNK, 1), (7, 2), (1, 1), (20, 2)):
        items = W.split_stream(W.MSG_CLIPBOARD, payload, port, chunk, opaque=5)
        total = W.MSG_HEADER_SIZE + len(payload)
        assert len(items) == -(-total // chunk)
        assert all(W.parse_chunk_header(i) == (port, len(i) - 8) and len(i) - 8 <= chunk for i in items)
        stream = b"".join(items)
        r = W.HostReassembler()
        got = []
        for b in range(0, len(stream), 333):
            got += r.feed(stream[b:b + 333])
        assert got == [(port, W.MSG_CLIPBOARD, payload)]
    # interleaved ports reassemble independently
    a = W.split_stream(W.MSG_MOUSE_STATE, W.build_mouse_state(1, 2), 2, 5)
    b = W.split_stream(W.MSG_CLIPBOARD_RELEASE, b"", 1, 5)
    mixed = [x for pair in zip(a, b + [b""] * len(a)) for x in pair]
    got = W.HostReassembler().feed(b"".join(mixed))
    assert sorted(got) == sorted([(2, 1, W.build_mouse_state(1, 2)), (1, 9, b"")])
    raises(W.WireError, W.HostReassembler().feed, W.build_chunk_header(3, 1) + b"x")
    raises(W.WireError, W.HostReassembler().feed, W.build_chunk_header(1, 2049))


@test
def guest_reassembler_accepts_correct_framing_fed_bytewise():
    msgs = [(W.MSG_CLIPBOARD, b"z" * 5000), (W.MSG_REPLY, W.build_reply(2)), (W.MSG_CLIPBOARD_RELEASE, b"")]
    stream = b"".join(W.split_message(t, p, 1, 2048, opaque=i) for i, (t, p) in enumerate(msgs))
    r = W.GuestReassembler()
    got = []
    for i in range(len(stream)):
        got += r.feed(stream[i:i + 1])
    assert got == [(t, p, i) for i, (t, p) in enumerate(msgs)] and r.pending() == 0
    assert r.chunks == 3 + 1 + 1


@test
def guest_reassembler_enforces_the_host_rule():
    ok = W.split_message(W.MSG_REPLY, W.build_reply(2))
    bad = {
        "port 2": W.split_message(W.MSG_REPLY, W.build_reply(2), port=2),
        "chunk 2049": W.build_chunk_header(1, 2049) + W.build_message(W.MSG_CLIPBOARD, b"x" * 2029),
        "header split over chunks": W.split_message(W.MSG_CLIPBOARD, b"x" * 30, chunk=10),
        "two messages in one chunk": (lambda m: W.build_chunk_header(1, len(m)) + m)(
            W.build_message(W.MSG_REPLY, W.build_reply(2)) * 2),
        "protocol 2": (lambda m: W.build_chunk_header(1, len(m)) + m)(
            W.build_message_header(W.MSG_REPLY, 0, protocol=2)),
        "empty chunk": W.build_chunk_header(1, 0),
        "message above max": W.split_message(W.MSG_CLIPBOARD, b"x" * 100),
    }
    for name, data in bad.items():
        r = W.GuestReassembler(max_message=99)
        try:
            r.feed(ok + data)
        except W.WireError:
            continue
        raise AssertionError("GuestReassembler accepted: " + name)


def fake_guest(path, script):
    """Connects to a TestHost like vdagentd would and runs script(sock) in a thread."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    errors = []

    def run():
        try:
            script(s)
        except Exception:
            errors.append(traceback.format_exc())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return s, t, errors


def read_host_messages(sock, n):
    r, got = W.HostReassembler(), []
    while len(got) < n:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("host closed")
        got += r.feed(data)
    return got


@test
def test_host_over_a_socket():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "port")
        with W.TestHost(path) as host:
            guest_caps = W.Caps.of(W.CAP_MOUSE_STATE, W.CAP_CLIPBOARD_BY_DEMAND, W.CAP_CLIPBOARD_SELECTION,
                                   W.CAP_CLIPBOARD_GRAB_SERIAL, W.CAP_MONITORS_CONFIG)

            def guest(sock):
                # like an agent opening the port: caps with request=1, then a grab
                sock.sendall(W.split_message(W.MSG_ANNOUNCE_CAPABILITIES, W.build_announce_caps(guest_caps, True)))
                sock.sendall(W.split_message(W.MSG_CLIPBOARD_GRAB, W.build_clipboard_grab([1])))
                seen = read_host_messages(sock, 2)  # the host's request and its answer to ours
                assert [(p, t) for p, t, _ in seen] == [(1, 6), (1, 6)], seen
                assert W.parse_announce_caps(seen[0][2])["request"]
                assert not W.parse_announce_caps(seen[1][2])["request"]
                sock.sendall(W.split_message(W.MSG_ANNOUNCE_CAPABILITIES, W.build_announce_caps(guest_caps, False)))
                seen = read_host_messages(sock, 1)
                assert seen == [(2, W.MSG_MOUSE_STATE, W.build_mouse_state(3, 4))], seen

            sock, thread, errors = fake_guest(path, guest)
            host.accept(timeout=5)
            neg = host.negotiate(W.SPICE_GTK_CAPS)
            assert neg == guest_caps & W.SPICE_GTK_CAPS and neg.has(W.CAP_CLIPBOARD_SELECTION)
            assert host.guest_caps == guest_caps
            # the grab sent before the caps answer is still there
            assert W.parse_clipboard_grab(host.expect(W.MSG_CLIPBOARD_GRAB), 0)["types"] == [1]
            host.send_message(W.MSG_MOUSE_STATE, W.build_mouse_state(3, 4), port=2, chunk=W.QEMU_CHUNK)
            thread.join(5)
            assert not errors, errors[0]
            raises(TimeoutError, host.recv_message, 0.2)
            host.assert_quiet(0.1)
            sock.close()
            raises(ConnectionError, host.recv_message, 2)

            # reconnect: a new guest connection after the old one closed
            def guest2(s):
                s.sendall(W.split_message(W.MSG_REPLY, W.build_reply(W.MSG_MONITORS_CONFIG, W.REPLY_SUCCESS)))

            sock2, thread2, errors2 = fake_guest(path, guest2)
            host.reaccept(timeout=5)
            assert W.parse_reply(host.expect(W.MSG_REPLY)) == dict(type=2, error=1)
            thread2.join(5)
            assert not errors2, errors2[0]

            # a framing violation from the guest is reported, not swallowed
            sock2.sendall(W.build_chunk_header(2, 4) + b"abcd")
            raises(W.WireError, host.recv_message, 2)
            sock2.close()
        assert not os.path.exists(path)


tap = Tap(plan=len(TESTS))
for fn in TESTS:
    tap.run(fn.__name__, fn)
tap.finish()
