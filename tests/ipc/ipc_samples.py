# SPDX-License-Identifier: GPL-3.0-or-later
"""Sample messages of every session and control type, at ordinary values and at their limits:
shared by test-vdipc.py and fuzz/ipc/make-corpus.py (the fuzzers' seeds)."""

import vdipc as P

MON = dict(width=1920, height=1080, depth=32, x=-5, y=7, mm_width=520, mm_height=290)
MON0 = dict(width=0, height=0, depth=0, x=0, y=0, mm_width=0, mm_height=0)
MONMAX = dict(width=0xFFFFFFFF, height=1, depth=0xFFFFFFFF, x=-2**31, y=2**31 - 1, mm_width=0xFFFF,
              mm_height=0xFFFF)


def session_samples():
    h = P.hello_fields(P.SESSION, "vdagent 0.1.0")
    yield P.HELLO, h
    yield P.HELLO, dict(h, version_major=7, version_minor=65535, features=0xFFFFFFFF, software="")
    yield P.HELLO, dict(h, software="ü" * 2048)  # 4096 bytes: the limit
    yield P.ERROR, dict(code=P.ERR_VERSION, message="major 2 != 1")
    yield P.ERROR, dict(code=P.ERR_INTERNAL, message="")
    yield P.S_CLIPBOARD_GRAB, dict(selection=0, types=[])
    yield P.S_CLIPBOARD_GRAB, dict(selection=2, types=[1, 2, 3, 4, 5, 6])
    yield P.S_CLIPBOARD_GRAB, dict(selection=1, types=[1] * P.LIMIT_GRAB_TYPES)
    yield P.S_CLIPBOARD_REQUEST, dict(selection=1, type=1)
    yield P.S_CLIPBOARD_REQUEST, dict(selection=2, type=6)
    yield P.S_CLIPBOARD_RELEASE, dict(selection=0)
    yield P.S_CLIPBOARD_BEGIN, dict(selection=0, type=2, total=0)
    yield P.S_CLIPBOARD_BEGIN, dict(selection=2, type=1, total=P.LIMIT_STREAMED_MESSAGE)
    yield P.S_CLIPBOARD_DATA, dict(selection=0, data=b"x")
    yield P.S_CLIPBOARD_DATA, dict(selection=1, data=bytes(range(256)) * 8)
    yield P.S_CLIPBOARD_DATA, dict(selection=2, data=b"\0" * P.MAX_PIECE)
    yield P.S_CLIPBOARD_ABORT, dict(selection=2)
    yield P.S_HOST_STATE, dict(connected=True, caps=0x00035077, max_clipboard=-1)
    yield P.S_HOST_STATE, dict(connected=False, caps=0, max_clipboard=0)
    yield P.S_HOST_STATE, dict(connected=True, caps=(1 << 255) | 5, max_clipboard=2**31 - 1)
    yield P.S_SESSION_STATE, dict(active=True, locked=False)
    yield P.S_SESSION_STATE, dict(active=False, locked=True)
    yield P.S_MONITORS_CONFIG, dict(request_id=1, flags=3, monitors=[MON])
    yield P.S_MONITORS_CONFIG, dict(request_id=2**32 - 1, flags=0, monitors=[MON, MON0] * 16)
    yield P.S_MONITORS_CONFIG, dict(request_id=0, flags=1, monitors=[MONMAX])
    yield P.S_DEVICE_INFO, dict(entries=[])
    yield P.S_DEVICE_INFO, dict(entries=[dict(channel_id=0, monitor_id=1, device_display_id=2,
                                              address="pci/0000/02.0")])
    yield P.S_DEVICE_INFO, dict(entries=[dict(channel_id=i, monitor_id=i, device_display_id=i,
                                              address="a" * 255) for i in range(P.LIMIT_DEVICE_INFO)])
    yield P.S_XFER_START, dict(id=1, size=0, nr=0, total=0, name="a")
    yield P.S_XFER_START, dict(id=9, size=2**64 - 1, nr=3, total=4, name="é" * 512)
    yield P.S_XFER_DATA, dict(id=1, data=b"\xff")
    yield P.S_XFER_DATA, dict(id=7, data=b"d" * P.MAX_PIECE)
    for r in (1, 2, 4, 5, 6, 7):
        yield P.S_XFER_CANCEL, dict(id=r, result=r)
    yield P.S_MONITORS_RESULT, dict(request_id=3, result=1)
    yield P.S_MONITORS_RESULT, dict(request_id=4, result=2)
    yield P.S_LAYOUT, dict(screen_width=0, screen_height=0, displays=[])
    yield P.S_LAYOUT, dict(screen_width=3840, screen_height=1080, displays=[
        dict(display_id=i, x=-i, y=i * 100, width=1920, height=1080) for i in range(P.MAX_DISPLAYS)])
    st = dict(id=1, result=0, has_detail=False, error_type=0, error_code=0, free=0)
    for r in range(P.XFER_END):
        yield P.S_XFER_STATUS, dict(st, result=r)
    yield P.S_XFER_STATUS, dict(st, result=2, has_detail=True, error_code=14)
    yield P.S_XFER_STATUS, dict(st, result=4, has_detail=True, free=2**64 - 1)
    yield P.S_VOLUME, dict(playback=True, mute=False, volume=[0x8000, 0xffff])
    yield P.S_VOLUME, dict(playback=False, mute=True, volume=[0] * P.LIMIT_AUDIO_CHANNELS)
    yield P.S_VOLUME_APPLIED, dict(playback=True, mute=True, volume=[1], backend="pulse", error="")
    yield P.S_VOLUME_APPLIED, dict(playback=False, mute=False, volume=[0xffff] * P.LIMIT_AUDIO_CHANNELS,
                                   backend="a" * P.MAX_AUDIO_BACKEND, error="é" * (P.MAX_AUDIO_ERROR // 2))
    yield P.S_DEVICE_MAP, dict(entries=[])
    yield P.S_DEVICE_MAP, dict(entries=[dict(display_id=0, output="Virtual-1", from_device_info=True)])
    yield P.S_DEVICE_MAP, dict(entries=[dict(display_id=i, output="o" * P.MAX_OUTPUT_NAME, from_device_info=False)
                                        for i in range(P.MAX_DISPLAYS)])


def control_samples():
    yield P.HELLO, P.hello_fields(P.CONTROL, "vdagent-ctl 0.1.0")
    yield P.ERROR, dict(code=P.ERR_PERMISSION, message="not root")
    yield P.C_STATUS, dict()
    yield P.C_MONITOR, dict(with_bytes=True)
    yield P.C_MONITOR, dict(with_bytes=False)
    yield P.C_INJECT_MOUSE, dict(x=10, y=20, buttons=0, display_id=0)
    yield P.C_INJECT_MOUSE, dict(x=2**32 - 1, y=0, buttons=0xFE, display_id=255)
    yield P.C_INJECT_MONITORS, dict(flags=2, monitors=[MON])
    yield P.C_INJECT_MONITORS, dict(flags=3, monitors=[MONMAX] * P.LIMIT_MONITORS)
    yield P.C_CLIPBOARD_SET, dict(selection=0, type=1, data=b"")
    yield P.C_CLIPBOARD_SET, dict(selection=1, type=2, data=b"\x89PNG" * (P.MAX_PIECE // 4))
    yield P.C_CLIPBOARD_GET, dict(selection=2, type=1)
    yield P.C_RESULT, dict(code=0, message="")
    yield P.C_RESULT, dict(code=P.ERR_NO_AGENT, message="no agent in session 3")
    yield P.C_STATUS_REPLY, dict(json='{"host": {"connected": true}}')
    yield P.C_STATUS_REPLY, dict(json="[" + "0," * ((P.MAX_JSON - 2) // 2 - 1) + "0]")
    yield P.C_TRACE, dict(time_us=1, direction=0, port=1, type=1, size=13, peer="", summary="x=1",
                          bytes=b"\x01" * 13)
    yield P.C_TRACE, dict(time_us=2**64 - 1, direction=1, port=2, type=4, size=2**64 - 1, peer="",
                          summary="s" * 4096, bytes=b"b" * P.TRACE_BYTES)
    yield P.C_TRACE, dict(time_us=5, direction=3, port=0, type=16, size=0, peer="c2", summary="",
                          bytes=b"")
    yield P.C_TRACE, dict(time_us=6, direction=2, port=0, type=16, size=3, peer="c2", summary="",
                          bytes=b"abc")
    yield P.C_CLIPBOARD_REPLY, dict(selection=0, type=1, data="héllo".encode())
