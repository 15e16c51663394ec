#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vdagentd's command line and its systemd interfaces: --version, --help, bad options, READY=1 on
$NOTIFY_SOCKET, the session socket passed by socket activation ($LISTEN_PID/$LISTEN_FDS); bad
configuration found before detaching and before any socket is opened; who serves the QEMU guest
agent port when qemu-guest-agent is installed."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from daemon import VDAGENTD  # noqa: E402
from vdtest import Tap, need_private_mount_ns  # noqa: E402
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
    # One line saying what is wrong, one pointing at --help.
    for r in (run("--session-tracking", "consolekit"), run("--no-such-option"), run("extra-argument")):
        lines = r.stderr.splitlines()
        assert len(lines) == 2 and lines[1] == "Try 'vdagentd --help' for more information.", r.stderr


def paths(name):
    """A fresh directory and the --socket/--control options into it."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    return d, ["--socket", os.path.join(d, "session.sock"), "--control", os.path.join(d, "control.sock")]


def test_bad_config_before_detaching():
    # Without --foreground: the failure must reach the caller (it used to be the detached child's,
    # with exit status 0 and nothing said), and no socket may have been created.
    d, sockets = paths("badconfig")
    r = run("--qga-config", os.path.join(d, "nonexistent.conf"), "--qga-port", "none", *sockets)
    assert r.returncode == 1 and "nonexistent.conf" in r.stderr, r
    assert os.listdir(d) == [], os.listdir(d)
    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("this is not a key file\n")
    r = run("--qga-config", bad, *sockets)
    assert r.returncode == 1 and "bad.conf" in r.stderr, r
    assert os.listdir(d) == ["bad.conf"], os.listdir(d)


def test_port_regular_file():
    d, sockets = paths("regularport")
    r = run("--port", "/etc/hostname", *sockets)
    assert r.returncode == 1 and r.stderr.strip() == (
        'vdagentd: --port "/etc/hostname" is a regular file, not a virtio port (a character device) or a Unix '
        'socket'), r
    r = run("--port", d, *sockets)
    assert r.returncode == 1 and "is a directory" in r.stderr, r
    assert os.listdir(d) == [], os.listdir(d)


def test_socket_parents_not_created():
    d, sockets = paths("parents")
    missing = os.path.join(d, "no", "such")
    r = run("--socket", os.path.join(missing, "session.sock"), sockets[2], sockets[3])
    assert r.returncode == 1 and 'the directory "%s" does not exist' % missing in r.stderr, r
    r = run(sockets[0], sockets[1], "--control", os.path.join(missing, "control.sock"))
    assert r.returncode == 1 and 'the directory "%s" does not exist' % missing in r.stderr, r
    assert os.listdir(d) == [], os.listdir(d)
    # Something that is not a socket is never replaced.
    keep = os.path.join(d, "precious")
    open(keep, "w").write("data")
    r = run("--socket", keep, sockets[2], sockets[3])
    assert r.returncode == 1 and "is not a socket" in r.stderr and open(keep).read() == "data", r


def test_not_root():
    if os.geteuid() != 0:
        r = run()
    else:
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", VDAGENTD],
                           capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "must run as root" in r.stderr, r


def test_detached_start():
    # The good path without --foreground: the caller gets 0 once the daemon is configured, and
    # the detached daemon serves (its log goes to the journal or syslog, not to our pipe).
    d, argv = daemon_argv("detached")
    argv.remove("--foreground")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stderr == "", r
    control = os.path.join(d, "control.sock")
    deadline = time.monotonic() + 5
    while not os.path.exists(control) and time.monotonic() < deadline:
        time.sleep(0.05)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(control)
    cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    pid = int.from_bytes(cred[:4], "little")
    c.close()
    try:
        cmdline = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
        assert cmdline[0].decode() == VDAGENTD and os.getsid(pid) == pid, (cmdline, os.getsid(pid))
    finally:
        os.kill(pid, 15)


DETACHED_JOURNAL = r"""
import json, os, socket, subprocess, sys, time
argv, out = json.loads(sys.argv[1]), sys.argv[2]
# A private mount namespace (unshare -m): this /run/systemd is ours alone.
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/systemd"], check=True)
os.mkdir("/run/systemd/journal")
j = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
j.bind("/run/systemd/journal/socket")
j.settimeout(0.5)
r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
records, deadline = [], time.monotonic() + 5
while time.monotonic() < deadline and not any(b"running" in x for x in records):
    try:
        records.append(j.recv(65536))
    except socket.timeout:
        pass
json.dump({"rc": r.returncode, "stderr": r.stderr, "records": [x.decode("utf-8", "replace") for x in records]},
          open(out, "w"))
"""


def test_detached_logs_to_journal():
    # Detached, stderr is /dev/null: the log must reach the journal's socket. A journal socket of
    # our own, in a private mount namespace (the machine's /run is untouched).
    if os.geteuid() != 0:
        raise AssertionError("needs root (a mount namespace)")
    need_private_mount_ns()
    d, argv = daemon_argv("journal")
    argv.remove("--foreground")
    out = os.path.join(d, "result.json")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "/usr/bin/python3", "-c", DETACHED_JOURNAL,
                        json.dumps(argv), out], capture_output=True, text=True, timeout=30)
    control = os.path.join(d, "control.sock")
    try:
        assert r.returncode == 0, r
        res = json.load(open(out))
        assert res["rc"] == 0 and res["stderr"] == "", res
        running = [x for x in res["records"] if "MESSAGE=vdagentd" in x and "running" in x]
        assert running and "PRIORITY=5" in running[0], res["records"]
    finally:
        if os.path.exists(control):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(control)
            pid = int.from_bytes(c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)[:4], "little")
            c.close()
            os.kill(pid, 15)


QGA_UNIT_INSTALLED = any(os.path.exists(os.path.join(d, "qemu-guest-agent.service")) for d in (
    "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",
    "/lib/systemd/system"))


def test_qga_left_to_qemu_ga():
    # This machine's qemu-guest-agent (tools/deps installs it) decides the default; the rule
    # itself, masked and all, is test-qga-coexist.c's on fake roots.
    d, argv = daemon_argv("qgadefault")
    i = argv.index("--qga-port")
    del argv[i:i + 2]
    p = subprocess.Popen(argv + ["--debug"], stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
    finally:
        p.terminate()
        err = p.communicate(timeout=5)[1]
    left = "left to qemu-guest-agent" in err
    assert left == QGA_UNIT_INSTALLED, (QGA_UNIT_INSTALLED, err)
    if left:
        assert "org.qemu.guest_agent.0" not in err.replace("--qga-port /dev/virtio-ports/org.qemu.guest_agent.0", ""), err


def test_qga_explicit_port_served():
    # Given explicitly, the port is ours even with qemu-guest-agent installed.
    d, argv = daemon_argv("qgaexplicit")
    qga = os.path.join(d, "qga.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(qga)
    listener.listen(1)
    listener.settimeout(10)
    argv[argv.index("--qga-port") + 1] = qga
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        conn, _ = listener.accept()
        conn.settimeout(10)
        conn.sendall(b'{"execute": "guest-ping"}\n')
        assert conn.recv(4096).startswith(b'{"return"'), "no reply to guest-ping"
        conn.close()
    finally:
        p.terminate()
        err = p.communicate(timeout=5)[1]
    assert "left to qemu-guest-agent" not in err, err


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
tap.run("bad configuration fails before detaching, with no socket created", test_bad_config_before_detaching)
tap.run("--port naming a regular file or a directory says what is wrong", test_port_regular_file)
tap.run("missing parent directories of --socket/--control are an error, never created", test_socket_parents_not_created)
tap.run("not root: \"must run as root\"", test_not_root)
tap.run("without --foreground: exit 0 once configured, the detached daemon serves", test_detached_start)
tap.run("detached: the log goes to the journal's socket", test_detached_logs_to_journal)
tap.run("by default the guest agent port is left to an installed qemu-guest-agent", test_qga_left_to_qemu_ga)
tap.run("--qga-port given: vdagentd serves it", test_qga_explicit_port_served)
tap.run("READY=1 and STOPPING=1 on $NOTIFY_SOCKET", test_notify_ready)
tap.run("socket activation: the passed socket serves agents", test_socket_activation)
tap.run("without a uinput device: runs, MOUSE_STATE not announced", test_no_uinput)
tap.run("--fake-uinput into a FIFO", test_fake_uinput_fifo)
tap.finish()
