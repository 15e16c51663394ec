# SPDX-License-Identifier: GPL-3.0-or-later
"""evdev helpers for the test guest (tests/vm), stdlib only.

  evdev.py record DEVICE SECONDS   prints "ready", then each input event of DEVICE as "type code value"
  evdev.py mirror NAME-REGEX       keeps a stable absolute pointer (vdtest-pointer-mirror) that repeats the
                                   events of the device whose name matches, whenever that one exists
The mirror exists for the reference agent only: spice-vdagentd 0.22 creates its uinput device after a session
agent reports its screen, so X (started before, without udev hotplug) cannot open it; X opens the mirror instead.
"""
import fcntl
import glob
import os
import re
import select
import struct
import sys
import time

EV_SYN, EV_KEY, EV_REL, EV_ABS = 0, 1, 2, 3
ABS_X, ABS_Y = 0, 1
REL_WHEEL, REL_WHEEL_HI_RES = 8, 11
BUTTONS = [0x110, 0x111, 0x112, 0x113, 0x114]  # BTN_LEFT, RIGHT, MIDDLE, SIDE, EXTRA
EVENT = struct.Struct("llHHi")
MIRROR_MAX = 32767


def _ioc(d, t, nr, size):
    return (d << 30) | (size << 16) | (ord(t) << 8) | nr


UI_DEV_CREATE = _ioc(0, "U", 1, 0)
UI_DEV_SETUP = _ioc(1, "U", 3, 92)
UI_ABS_SETUP = _ioc(1, "U", 4, 28)
UI_SET_EVBIT, UI_SET_KEYBIT, UI_SET_RELBIT, UI_SET_ABSBIT = (_ioc(1, "U", n, 4) for n in (100, 101, 102, 103))


def eviocgabs(axis):
    return _ioc(2, "E", 0x40 + axis, 24)


def record(dev, seconds):
    fd = os.open(dev, os.O_RDONLY | os.O_NONBLOCK)
    end = time.monotonic() + float(seconds)
    print("ready", flush=True)
    while (left := end - time.monotonic()) > 0:
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            data = os.read(fd, EVENT.size * 64)
        except BlockingIOError:
            continue
        for off in range(0, len(data) - EVENT.size + 1, EVENT.size):
            _, _, typ, code, value = EVENT.unpack_from(data, off)
            print(typ, code, value, flush=True)


def find(pattern):
    for path in sorted(glob.glob("/sys/class/input/event*/device/name")):
        with open(path) as f:
            if re.search(pattern, f.read().strip()):
                return "/dev/input/" + path.split("/")[4]
    return None


def mirror(pattern):
    ui = os.open("/dev/uinput", os.O_WRONLY)
    fcntl.ioctl(ui, UI_SET_EVBIT, EV_KEY)
    for b in BUTTONS:
        fcntl.ioctl(ui, UI_SET_KEYBIT, b)
    fcntl.ioctl(ui, UI_SET_EVBIT, EV_REL)
    fcntl.ioctl(ui, UI_SET_RELBIT, REL_WHEEL)
    fcntl.ioctl(ui, UI_SET_EVBIT, EV_ABS)
    for axis in (ABS_X, ABS_Y):
        fcntl.ioctl(ui, UI_SET_ABSBIT, axis)
        fcntl.ioctl(ui, UI_ABS_SETUP, struct.pack("HH6i", axis, 0, 0, 0, MIRROR_MAX, 0, 0, 0))
    fcntl.ioctl(ui, UI_DEV_SETUP, struct.pack("HHHH80sI", 6, 1, 1, 1, b"vdtest-pointer-mirror", 0))
    fcntl.ioctl(ui, UI_DEV_CREATE)
    print("mirror created", flush=True)
    while True:
        src = find(pattern)
        if not src:
            time.sleep(0.2)
            continue
        try:
            fd = os.open(src, os.O_RDONLY)
        except OSError:
            time.sleep(0.2)
            continue
        maxes = {}
        for axis in (ABS_X, ABS_Y):
            maxes[axis] = struct.unpack("6i", fcntl.ioctl(fd, eviocgabs(axis), b"\0" * 24))[2]
        print(f"mirroring {src} (max {maxes})", flush=True)
        while True:
            try:
                data = os.read(fd, EVENT.size * 64)
            except OSError:
                data = b""
            if not data:
                break
            out = bytearray()
            for off in range(0, len(data) - EVENT.size + 1, EVENT.size):
                s, us, typ, code, value = EVENT.unpack_from(data, off)
                if typ == EV_ABS and code in maxes:
                    value = -(-value * (MIRROR_MAX + 1) // (maxes[code] + 1))  # ceil: the same X pixel
                if typ == EV_REL and code == REL_WHEEL_HI_RES:
                    continue
                out += EVENT.pack(s, us, typ, code, value)
            os.write(ui, bytes(out))
        os.close(fd)
        print(f"{src} went away", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["record"]:
        record(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["mirror"]:
        mirror(sys.argv[2])
    else:
        sys.exit(__doc__)
