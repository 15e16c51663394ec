# SPDX-License-Identifier: GPL-3.0-or-later
"""The test guest's command server (tests/vm): one JSON object per line on the virtio port vdtest.ctl.

Request:  {"id": N, "argv": [...], "timeout": S, "env": {...}, "stdin": "text", "background": bool, "log": PATH}
Reply:    {"id": N, "rc": R, "out": "...", "err": "..."}  (rc -1: timed out); background: {"id": N, "pid": P}
The request argv ["exit"] ends the server (the guest then powers off). The first line the guest writes is
{"ready": true, "uptime": U}.
"""
import json
import os
import subprocess
import sys
import time

PORT = "/dev/virtio-ports/vdtest.ctl"
MAX_OUTPUT = 1 << 20


def run(req):
    env = dict(os.environ)
    env.update(req.get("env") or {})
    argv = req["argv"]
    if req.get("background"):
        with open(req.get("log") or "/dev/null", "ab") as f:
            p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                 start_new_session=True)
        return {"pid": p.pid}
    try:
        p = subprocess.run(argv, env=env, input=(req.get("stdin") or "").encode(),
                           capture_output=True, timeout=req.get("timeout", 30))
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = -1, e.stdout or b"", (e.stderr or b"") + b"\n[timed out]"
    except OSError as e:
        rc, out, err = 127, b"", str(e).encode()
    return {"rc": rc, "out": out[:MAX_OUTPUT].decode(errors="replace"),
            "err": err[:MAX_OUTPUT].decode(errors="replace")}


def main():
    fd = os.open(PORT, os.O_RDWR)

    def send(obj):
        data = (json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(fd, data):]

    with open("/proc/uptime") as f:
        send({"ready": True, "uptime": float(f.read().split()[0])})
    buf = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            time.sleep(0.2)  # the host end is closed: a virtio port reads EOF until it reopens
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                req = json.loads(line)
            except ValueError:
                send({"error": "bad request"})
                continue
            if req.get("argv") == ["exit"]:
                send({"id": req.get("id"), "rc": 0, "out": "", "err": ""})
                return 0
            rep = run(req)
            rep["id"] = req.get("id")
            send(rep)


if __name__ == "__main__":
    sys.exit(main())
