#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vdagentd's command line and its systemd interfaces: --version, --help, bad options, READY=1 on
$NOTIFY_SOCKET, the session socket passed by socket activation ($LISTEN_PID/$LISTEN_FDS)."""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemonlib import VDAGENTD, Tap  # noqa: E402
import vdipc  # noqa: E402
from vdwire import TestHost, MSG_ANNOUNCE_CAPABILITIES, parse_announce_caps  # noqa: E402

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-cli-test-")


def run(*args):
    return subprocess.run([VDAGENTD] + list(args), capture_output=True, text=True, timeout=10)


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("vdagentd "), r


def test_help():
    r = run("--help")
    assert r.returncode == 0, r
    for opt in ("--port", "--socket", "--control", "--uinput", "--fake-uinput", "--session-tracking", "--qga-port",
                "--foreground", "--debug", "--version"):
        assert opt in r.stdout, opt


def test_bad_options():
    r = run("--session-tracking", "consolekit")
    assert r.returncode == 2 and "logind or none" in r.stderr, r
    r = run("--no-such-option")
    assert r.returncode == 2, r
    r = run("extra-argument")
    assert r.returncode == 2, r


def daemon_argv(name):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    return d, [VDAGENTD, "--port", os.path.join(d, "port.sock"), "--socket", os.path.join(d, "session.sock"),
               "--control", os.path.join(d, "control.sock"), "--fake-uinput", "--uinput",
               os.path.join(d, "events"), "--session-tracking", "none", "--qga-port", "none", "--foreground"]


def test_notify_ready():
    d, argv = daemon_argv("notify")
    path = os.path.join(d, "notify.sock")
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n.bind(path)
    n.settimeout(5)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    p = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    try:
        msg = n.recv(4096).decode()
        assert "READY=1" in msg, msg
        # By then the session socket listens (agents may connect at once).
        assert os.path.exists(os.path.join(d, "session.sock"))
    finally:
        p.terminate()
        p.wait(5)
    msg = n.recv(4096).decode()
    assert "STOPPING=1" in msg, msg
    assert p.returncode == 0


def test_socket_activation():
    d, argv = daemon_argv("activation")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    activated = os.path.join(d, "activated.sock")
    listener.bind(activated)
    listener.listen(8)
    host = TestHost(os.path.join(d, "port.sock"))
    fd = listener.fileno()

    def child():
        # What systemd does between fork and exec: the socket as fd 3, the variables naming us.
        os.dup2(fd, 3)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = "1"

    p = subprocess.Popen(argv, preexec_fn=child, pass_fds=(fd,), stderr=subprocess.DEVNULL)
    try:
        host.accept(timeout=10)
        host.expect(MSG_ANNOUNCE_CAPABILITIES)
        host.negotiate()
        a = vdipc.FakeAgent(activated)
        hs = a.expect(vdipc.S_HOST_STATE)
        assert hs["connected"], hs
        assert not os.path.exists(os.path.join(d, "session.sock")), "--socket must not be bound when activated"
        a.close()
    finally:
        p.terminate()
        p.wait(5)
        host.shutdown()
    # The socket belongs to systemd: vdagentd must not unlink it.
    assert os.path.exists(activated)


def test_no_uinput():
    d, argv = daemon_argv("nouinput")
    i = argv.index("--fake-uinput")
    argv[i:i + 3] = ["--uinput", os.path.join(d, "no", "such", "uinput")]
    host = TestHost(os.path.join(d, "port.sock"))
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        host.accept(timeout=10)
        caps = parse_announce_caps(host.expect(MSG_ANNOUNCE_CAPABILITIES))["caps"]
        # Without a pointer device the host must keep its own pointer: no MOUSE_STATE cap.
        assert not caps.has(0) and caps.has(1), caps
    finally:
        p.terminate()
        err = p.communicate(timeout=5)[1]
        host.shutdown()
    assert "no paravirtual mouse" in err, err
    assert p.returncode == 0


def test_fake_uinput_fifo():
    import struct as st
    from vdwire import MSG_MOUSE_STATE, build_mouse_state, build_monitors_config, MSG_MONITORS_CONFIG, MSG_REPLY
    d, argv = daemon_argv("fifo")
    fifo = os.path.join(d, "events.fifo")
    os.mkfifo(fifo)
    argv[argv.index(os.path.join(d, "events"))] = fifo
    host = TestHost(os.path.join(d, "port.sock"))
    p = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        host.accept(timeout=10)
        host.expect(MSG_ANNOUNCE_CAPABILITIES)
        host.negotiate()
        host.send_message(MSG_MONITORS_CONFIG, build_monitors_config([dict(width=800, height=600, x=0, y=0)], 3))
        host.expect(MSG_REPLY)
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        host.send_message(MSG_MOUSE_STATE, build_mouse_state(400, 300, 0, 0), port=2)
        deadline = time.monotonic() + 5
        data = b""
        while len(data) < 3 * 24 and time.monotonic() < deadline:
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.02)
        os.close(fd)
        recs = [st.unpack_from("<qqHHi", data, i)[2:] for i in range(0, len(data), 24)]
        assert recs[-1] == (0, 0, 0) and recs[0][:2] == (3, 0) and recs[0][2] * 800 // 32768 == 400, recs
    finally:
        p.terminate()
        p.wait(5)
        host.shutdown()
    assert p.returncode == 0


tap.run("--version", test_version)
tap.run("--help lists the contract's options", test_help)
tap.run("bad options exit with status 2", test_bad_options)
tap.run("READY=1 and STOPPING=1 on $NOTIFY_SOCKET", test_notify_ready)
tap.run("socket activation: the passed socket serves agents", test_socket_activation)
tap.run("without a uinput device: runs, MOUSE_STATE not announced", test_no_uinput)
tap.run("--fake-uinput into a FIFO", test_fake_uinput_fifo)
tap.done()
