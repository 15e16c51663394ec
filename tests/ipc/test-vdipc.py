#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cross-checks tests/lib/vdipc.py (written from docs/protocols.md) against the C codec.

Every frame goes through `ipc-codec` (the C decoder and encoder): valid messages must come back
byte-identical, and for thousands of malformed ones (each truncation, a trailing byte, single bytes
changed) the C decision — accept, malformed, unknown type — must equal vdipc.py's, with the same
re-encoding when accepted. TAP output."""

import os
import struct
import subprocess
import sys

import vdipc as P
from ipc_samples import MON, control_samples, session_samples
from vdtest import Tap

CODEC = os.environ.get("VD_IPC_CODEC") or sys.argv[1]
REJECT, BAD_HEADER = 0xFFFF, 0xFFFE


def raw(proto, t, **fields):
    """A payload built without the encoder's own check, to make invalid ones."""
    return b"".join(kind.enc(fields[name]) for name, kind in proto[t][1])


def invalid_session():
    """Payloads just past a limit or outside a range: both sides must refuse each."""
    S, R = P.SESSION, lambda t, **f: raw(P.SESSION, t, **f)
    h = P.hello_fields(S)
    yield "software 4097 bytes", P.HELLO, R(P.HELLO, **dict(h, software="x" * 4097))
    yield "software with NUL", P.HELLO, R(P.HELLO, **dict(h, software="a\0b"))
    yield "software not UTF-8", P.HELLO, R(P.HELLO, **dict(h, software=b"\xc3("))
    yield "error code 0", P.ERROR, R(P.ERROR, code=0, message="")
    yield "error code 11", P.ERROR, R(P.ERROR, code=11, message="")
    yield "error message 4097", P.ERROR, R(P.ERROR, code=1, message="m" * 4097)
    yield "grab 65 types", P.S_CLIPBOARD_GRAB, R(P.S_CLIPBOARD_GRAB, selection=0, types=[1] * 65)
    yield "grab type 0", P.S_CLIPBOARD_GRAB, R(P.S_CLIPBOARD_GRAB, selection=0, types=[0])
    yield "grab type 7", P.S_CLIPBOARD_GRAB, R(P.S_CLIPBOARD_GRAB, selection=0, types=[1, 7])
    yield "grab selection 3", P.S_CLIPBOARD_GRAB, R(P.S_CLIPBOARD_GRAB, selection=3, types=[])
    yield "request type 0", P.S_CLIPBOARD_REQUEST, R(P.S_CLIPBOARD_REQUEST, selection=0, type=0)
    yield "release selection 255", P.S_CLIPBOARD_RELEASE, R(P.S_CLIPBOARD_RELEASE, selection=255)
    yield "begin total limit+1", P.S_CLIPBOARD_BEGIN, R(P.S_CLIPBOARD_BEGIN, selection=0, type=1,
                                                        total=P.LIMIT_STREAMED_MESSAGE + 1)
    yield "data empty", P.S_CLIPBOARD_DATA, R(P.S_CLIPBOARD_DATA, selection=0, data=b"")
    yield "data piece limit+1", P.S_CLIPBOARD_DATA, R(P.S_CLIPBOARD_DATA, selection=0,
                                                      data=b"d" * (P.MAX_PIECE + 1))
    yield "abort selection 3", P.S_CLIPBOARD_ABORT, R(P.S_CLIPBOARD_ABORT, selection=3)
    yield "host state bool 2", P.S_HOST_STATE, bytes([2]) + R(P.S_HOST_STATE, connected=0, caps=1,
                                                              max_clipboard=0)[1:]
    yield "host state 9 caps words", P.S_HOST_STATE, (b"\1" + struct.pack("<I", 9) + b"\0" * 36 +
                                                      struct.pack("<i", 0))
    yield "max_clipboard -2", P.S_HOST_STATE, R(P.S_HOST_STATE, connected=1, caps=1, max_clipboard=-2)
    yield "session state bool 2", P.S_SESSION_STATE, b"\1\2"
    yield "monitors 0", P.S_MONITORS_CONFIG, R(P.S_MONITORS_CONFIG, request_id=1, flags=0, monitors=[])
    yield "monitors 33", P.S_MONITORS_CONFIG, R(P.S_MONITORS_CONFIG, request_id=1, flags=0,
                                                monitors=[MON] * 33)
    yield "monitors flag 4", P.S_MONITORS_CONFIG, R(P.S_MONITORS_CONFIG, request_id=1, flags=4,
                                                    monitors=[MON])
    e = dict(channel_id=0, monitor_id=0, device_display_id=0, address="a")
    yield "device info 33", P.S_DEVICE_INFO, R(P.S_DEVICE_INFO, entries=[e] * 33)
    yield "device address 256", P.S_DEVICE_INFO, R(P.S_DEVICE_INFO, entries=[dict(e, address="a" * 256)])
    x = dict(id=1, size=1, nr=0, total=0)
    yield "xfer name empty", P.S_XFER_START, R(P.S_XFER_START, name="", **x)
    yield "xfer name 1025", P.S_XFER_START, R(P.S_XFER_START, name="n" * 1025, **x)
    yield "xfer data empty", P.S_XFER_DATA, R(P.S_XFER_DATA, id=1, data=b"")
    yield "xfer data limit+1", P.S_XFER_DATA, R(P.S_XFER_DATA, id=1, data=b"d" * (P.MAX_PIECE + 1))
    for r in (0, 3, 8):
        yield "cancel result %d" % r, P.S_XFER_CANCEL, R(P.S_XFER_CANCEL, id=1, result=r)
    for r in (0, 3):
        yield "monitors result %d" % r, P.S_MONITORS_RESULT, R(P.S_MONITORS_RESULT, request_id=1, result=r)
    d = dict(display_id=0, x=0, y=0, width=1, height=1)
    yield "layout 33", P.S_LAYOUT, R(P.S_LAYOUT, screen_width=1, screen_height=1, displays=[d] * 33)
    st = dict(id=1, result=0, has_detail=False, error_type=0, error_code=0, free=0)
    yield "status result 8", P.S_XFER_STATUS, R(P.S_XFER_STATUS, **dict(st, result=8))
    yield "status detail on SUCCESS", P.S_XFER_STATUS, R(P.S_XFER_STATUS, **dict(st, result=3, has_detail=1))
    yield "status error_type 1", P.S_XFER_STATUS, R(P.S_XFER_STATUS, **dict(st, result=2, has_detail=1,
                                                                             error_type=1))
    yield "status free with ERROR", P.S_XFER_STATUS, R(P.S_XFER_STATUS, **dict(st, result=2, has_detail=1,
                                                                                free=1))
    yield "status code with SPACE", P.S_XFER_STATUS, R(P.S_XFER_STATUS, **dict(st, result=4, has_detail=1,
                                                                                error_code=1))
    yield "status detail w/o flag", P.S_XFER_STATUS, R(P.S_XFER_STATUS, **dict(st, result=2, error_code=1))
    yield "volume 0 channels", P.S_VOLUME, R(P.S_VOLUME, playback=1, mute=0, volume=[])
    yield "volume 33 channels", P.S_VOLUME, R(P.S_VOLUME, playback=1, mute=0, volume=[1] * 33)
    yield "volume mute 2", P.S_VOLUME, b"\1\2" + R(P.S_VOLUME, playback=1, mute=0, volume=[1])[2:]
    yield "volume short data", P.S_VOLUME, R(P.S_VOLUME, playback=1, mute=0, volume=[1, 2])[:-1]
    va = dict(playback=1, mute=0, volume=[1], error="")
    yield "applied backend 33", P.S_VOLUME_APPLIED, R(P.S_VOLUME_APPLIED, backend="b" * 33, **va)
    yield "device map 33", P.S_DEVICE_MAP, R(P.S_DEVICE_MAP, entries=[
        dict(display_id=0, output="a", from_device_info=0)] * 33)
    yield "device map name 65", P.S_DEVICE_MAP, R(P.S_DEVICE_MAP, entries=[
        dict(display_id=0, output="a" * 65, from_device_info=0)])


def invalid_control():
    C, R = P.CONTROL, lambda t, **f: raw(P.CONTROL, t, **f)
    yield "status with a byte", P.C_STATUS, b"\0"
    yield "monitor bool 2", P.C_MONITOR, b"\2"
    m = dict(x=0, y=0, display_id=0)
    yield "buttons bit 0", P.C_INJECT_MOUSE, R(P.C_INJECT_MOUSE, buttons=1, **m)
    yield "buttons bit 8", P.C_INJECT_MOUSE, R(P.C_INJECT_MOUSE, buttons=0x100, **m)
    yield "inject 33 monitors", P.C_INJECT_MONITORS, R(P.C_INJECT_MONITORS, flags=0, monitors=[MON] * 33)
    yield "set blob limit+1", P.C_CLIPBOARD_SET, R(P.C_CLIPBOARD_SET, selection=0, type=1,
                                                   data=b"x" * (P.MAX_PIECE + 1))
    yield "set selection 3", P.C_CLIPBOARD_SET, R(P.C_CLIPBOARD_SET, selection=3, type=1, data=b"")
    yield "get type 7", P.C_CLIPBOARD_GET, R(P.C_CLIPBOARD_GET, selection=0, type=7)
    yield "result code 11", P.C_RESULT, R(P.C_RESULT, code=11, message="")
    yield "json limit+1", P.C_STATUS_REPLY, R(P.C_STATUS_REPLY, json="0" * (P.MAX_JSON + 1))
    yield "json with NUL", P.C_STATUS_REPLY, R(P.C_STATUS_REPLY, json="{}\0")
    t = dict(time_us=0, direction=0, port=1, type=1, size=2000, peer="", summary="", bytes=b"")
    yield "trace bytes limit+1", P.C_TRACE, R(P.C_TRACE, **dict(t, bytes=b"b" * 1025))
    yield "trace bytes > size", P.C_TRACE, R(P.C_TRACE, **dict(t, size=2, bytes=b"abc"))
    yield "trace direction 4", P.C_TRACE, R(P.C_TRACE, **dict(t, direction=4))
    yield "trace host port 0", P.C_TRACE, R(P.C_TRACE, **dict(t, port=0))
    yield "trace host port 3", P.C_TRACE, R(P.C_TRACE, **dict(t, port=3))
    yield "trace agent port 1", P.C_TRACE, R(P.C_TRACE, **dict(t, direction=2, port=1))
    yield "trace summary 4097", P.C_TRACE, R(P.C_TRACE, **dict(t, summary="s" * 4097))


def run_codec(proto_name, frames):
    out = subprocess.run([CODEC, proto_name], input=b"".join(frames), stdout=subprocess.PIPE,
                         check=True, timeout=120).stdout
    return P.FrameDecoder().feed(out)


def python_verdict(proto, t, payload):
    """What vdipc.py does with a frame: ('ok', re-encoded frame) or ('reject', kind)."""
    try:
        fields = P.decode(proto, t, payload)
    except P.BadMessage:
        return ("reject", 1)
    except P.Unsupported:
        return ("reject", 2)
    return ("ok", P.encode_frame(proto, t, **fields))


def c_verdict(answer):
    t, payload = answer
    if t == REJECT:
        return ("reject", struct.unpack_from("<I", payload)[0])
    if t == BAD_HEADER:
        return ("bad-header", None)
    return ("ok", P.frame(t, payload))


tap = Tap()


def check(name, cond, detail=""):
    tap.ok(bool(cond), name, detail)


def mutations(payload):
    """Truncations, one trailing byte, and single bytes replaced by 0xFF and by their value ± 1."""
    for n in range(len(payload)):
        if len(payload) > 512 and n % 61 and n < len(payload) - 64:
            continue  # long payloads: a sample of cut points, all of them near the end
        yield payload[:n]
    yield payload + b"\0"
    for i in range(min(len(payload), 96)):
        for v in (0xFF, (payload[i] + 1) & 0xFF, (payload[i] - 1) & 0xFF):
            if v != payload[i]:
                yield payload[:i] + bytes([v]) + payload[i + 1:]


def norm(fields):
    return {k: (bytes(v) if isinstance(v, (bytes, bytearray)) else v) for k, v in fields.items()}


for proto_name, proto, samples in (("session", P.SESSION, list(session_samples())),
                                   ("control", P.CONTROL, list(control_samples()))):
    types_seen = {t for t, _ in samples}
    check("%s: samples cover every message type" % proto_name, types_seen == set(proto),
          "missing %s" % sorted(set(proto) - types_seen))

    bad = [P.type_name(proto, t) for t, f in samples
           if P.decode(proto, t, P.encode(proto, t, **f)) != norm(f)]
    check("%s: vdipc.py decode(encode(x)) == x for %d samples" % (proto_name, len(samples)), not bad,
          str(bad))

    frames = [P.encode_frame(proto, t, **f) for t, f in samples]
    answers = run_codec(proto_name, frames)
    diffs = [P.type_name(proto, samples[i][0]) for i, (a, f) in enumerate(zip(answers, frames))
             if c_verdict(a) != ("ok", f)]
    check("%s: C codec accepts and re-encodes %d valid frames byte-identically" % (proto_name, len(frames)),
          len(answers) == len(frames) and not diffs, "%d answers, differing: %s" % (len(answers), diffs))

    cases = [(t, m) for t, f in samples for m in mutations(P.encode(proto, t, **f))]
    answers = run_codec(proto_name, [P.frame(t, m) for t, m in cases])
    disagree = []
    for (t, m), a in zip(cases, answers):
        pv, cv = python_verdict(proto, t, m), c_verdict(a)
        if pv != cv:
            disagree.append("%s %s: python %s, C %s" % (P.type_name(proto, t), m.hex()[:80], pv[0], cv[0]))
    n_rejected = sum(1 for a in answers if a[0] == REJECT)
    check("%s: C and vdipc.py agree on %d truncated/extended/mutated frames (%d rejected)"
          % (proto_name, len(cases), n_rejected),
          len(answers) == len(cases) and not disagree and n_rejected > len(cases) // 3,
          "%d answers; %s" % (len(answers), disagree[:5]))

    invalid = list(invalid_session() if proto is P.SESSION else invalid_control())
    answers = run_codec(proto_name, [P.frame(t, m) for _, t, m in invalid])
    wrong = [name for (name, t, m), a in zip(invalid, answers)
             if c_verdict(a) != ("reject", 1) or python_verdict(proto, t, m) != ("reject", 1)]
    check("%s: %d values just past a limit or out of range refused by both" % (proto_name, len(invalid)),
          len(answers) == len(invalid) and not wrong, "accepted by one side: %s" % wrong)

    unknown = [0, 3, 15, 22, 31, 40, 47, 53, 0xFFFD]
    answers = run_codec(proto_name, [P.frame(t, b"abc") for t in unknown])
    check("%s: unknown types are refused as unsupported by both" % proto_name,
          [c_verdict(a) for a in answers] == [("reject", 2)] * len(unknown) and
          all(python_verdict(proto, t, b"abc") == ("reject", 2) for t in unknown))

    other = P.CONTROL if proto is P.SESSION else P.SESSION
    wrong = P.encode(other, P.HELLO, **P.hello_fields(other))
    answers = run_codec(proto_name, [P.frame(P.HELLO, wrong)])
    check("%s: HELLO with the other protocol's magic refused by both" % proto_name,
          [c_verdict(a) for a in answers] == [("reject", 1)] and
          python_verdict(proto, P.HELLO, wrong) == ("reject", 1))

ok_frame = P.encode_frame(P.SESSION, P.S_CLIPBOARD_RELEASE, selection=0)
for name, hdr in (("flags != 0", struct.pack("<HHI", 18, 1, 1) + b"\0"),
                  ("size > max", struct.pack("<HHI", 18, 0, P.MAX_PAYLOAD + 1))):
    answers = run_codec("session", [ok_frame, hdr, ok_frame])
    try:
        P.FrameDecoder().feed(ok_frame + hdr + ok_frame)
        py_failed = False
    except P.BadMessage:
        py_failed = True
    check("framing: %s stops the C and the Python decoder" % name,
          [c_verdict(a)[0] for a in answers] == ["ok", "bad-header"] and py_failed)

answers = run_codec("session", [struct.pack("<HHI", 18, 0, P.MAX_PAYLOAD) + b"\0" * P.MAX_PAYLOAD])
check("framing: a frame of exactly the maximum size passes the framing (its payload is then refused)",
      [c_verdict(a) for a in answers] == [("reject", 1)])



def clients_talk():
    """FakeAgent against FakeDaemon, and ControlClient against a scripted daemon, over real sockets."""
    import socket
    import tempfile
    import threading

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "session")
        with P.FakeDaemon(path) as daemon:
            box = {}
            t = threading.Thread(target=lambda: box.setdefault("agent", P.FakeAgent(path, "agent-x")))
            t.start()
            conn = daemon.accept(timeout=5)
            t.join(5)
            agent = box["agent"]
            assert conn.peer_hello["software"] == "agent-x" and agent.peer_hello["software"] == "fake-daemon"
            conn.send(P.S_HOST_STATE, connected=True, caps=0x35077, max_clipboard=-1)
            conn.send(P.S_CLIPBOARD_DATA, selection=1, data=b"y" * P.MAX_PIECE)
            assert agent.expect(P.S_HOST_STATE) == dict(connected=True, caps=0x35077, max_clipboard=-1)
            assert agent.expect(P.S_CLIPBOARD_DATA)["data"] == b"y" * P.MAX_PIECE
            agent.send(P.S_LAYOUT, screen_width=1, screen_height=2, displays=[])
            assert conn.expect(P.S_LAYOUT)["screen_height"] == 2
            # a peer's ERROR surfaces as PeerError; EOF as ConnectionError
            conn.send_error(P.ERR_VERSION, "major 2 != 1")
            try:
                agent.expect(P.S_HOST_STATE)
                raise AssertionError("no PeerError")
            except P.PeerError as e:
                assert e.code == P.ERR_VERSION
            conn.close()
            assert agent.wait_closed(5) == []
            agent.close()

        # a wrong-major peer: hello() raises PeerError with what the daemon said
        path = os.path.join(d, "control")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)

        def scripted_daemon():
            s, _ = srv.accept()
            c = P.Connection(s, P.CONTROL)
            c.send(P.HELLO, **P.hello_fields(P.CONTROL, "vdagentd"))
            assert c.expect(P.HELLO)["magic"] == P.CONTROL_MAGIC
            assert c.expect(P.C_STATUS) == {}
            c.send(P.C_STATUS_REPLY, json='{"ok": [1, 2]}')
            assert c.expect(P.C_INJECT_MOUSE) == dict(x=5, y=6, buttons=2, display_id=1)
            c.send(P.C_RESULT, code=0, message="")
            assert c.expect(P.C_CLIPBOARD_GET) == dict(selection=0, type=1)
            c.send(P.C_CLIPBOARD_REPLY, selection=0, type=1, data=b"hi")
            assert c.expect(P.C_INJECT_MONITORS)["monitors"][0]["depth"] == 32
            c.send(P.C_RESULT, code=P.ERR_NO_AGENT, message="no agent")
            c.close()

        errors = []

        def run_daemon():
            try:
                scripted_daemon()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        t = threading.Thread(target=run_daemon)
        t.start()
        ctl = P.ControlClient(path)
        assert ctl.status() == {"ok": [1, 2]}
        ctl.inject_mouse(5, 6, buttons=2, display_id=1)
        assert ctl.clipboard_get() == b"hi"
        try:
            ctl.inject_monitors([dict(width=800, height=600)])
            raise AssertionError("no PeerError")
        except P.PeerError as e:
            assert e.code == P.ERR_NO_AGENT
        t.join(5)
        assert not errors, errors
        ctl.close()
        srv.close()
    return True


try:
    check("clients: FakeAgent/FakeDaemon/ControlClient over real sockets", clients_talk())
except Exception:  # noqa: BLE001
    import traceback
    check("clients: FakeAgent/FakeDaemon/ControlClient over real sockets", False, traceback.format_exc())

tap.finish()
