#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host -> guest file transfers through the real vdagent (under Xvfb) from a fake daemon: bytes
compared, hostile names, clashes, a full disk, cancel, the daemon dying mid-way, stale temporaries,
limits, and the XDG download directory."""

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile

import vdipc
import agentlib
from agentlib import (GIO_EXISTS, GIO_INVALID_DATA, GIO_INVALID_FILENAME, GIO_NO_SPACE, GIO_TOO_MANY_OPEN_FILES,
                      Agent, settle_layout)
from vdtest import Skip, Tap, wait_for
from xserver import Xvfb

PIECE = 64 * 1024
MAX_XFERS = 16

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-test-files-")
sock_path = os.path.join(tmp, "session.sock")
# Nested, so that an escape by "../" would land inside tmp where it can be seen.
dl = os.path.join(tmp, "a", "b", "dl")
os.makedirs(dl)
x = Xvfb(1024, 768)
daemon = vdipc.FakeDaemon(sock_path)

# A stale temporary from a "crashed" agent, one held locked by a "live" one, and a look-alike.
STALE = ".vdagent-xfer-Zz9stale.part"
LIVE = ".vdagent-xfer-Zz9alive.part"
OTHER = ".vdagent-xfer-notours.txt"
for n in (STALE, LIVE, OTHER):
    with open(os.path.join(dl, n), "wb") as f:
        f.write(b"x" * 100)
live_fd = os.open(os.path.join(dl, LIVE), os.O_RDONLY)
fcntl.flock(live_fd, fcntl.LOCK_EX)

agent = Agent(x.display, sock_path, file_dir=dl)
conn = None
next_id = [100]


def new_id():
    next_id[0] += 1
    return next_id[0]


def all_files(root=tmp):
    out = set()
    for d, _, fs in os.walk(root):
        for f in fs:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def listing():
    return sorted(os.listdir(dl))


def temps():
    return [n for n in listing() if n.startswith(".vdagent-xfer-") and n.endswith(".part")]


def status(timeout=10.0):
    return conn.expect(vdipc.S_XFER_STATUS, timeout, skip=(vdipc.S_LAYOUT,))


def start(name, size, id_=None):
    id_ = id_ or new_id()
    conn.send(vdipc.S_XFER_START, id=id_, size=size, nr=1, total=1, name=name)
    return id_


def send_file(name, data, id_=None):
    """A whole transfer; -> (id, final status)."""
    id_ = start(name, len(data), id_)
    st = status()
    assert st["id"] == id_, st
    if st["result"] != vdipc.XFER_CAN_SEND_DATA:
        return id_, st
    for off in range(0, len(data), PIECE):
        conn.send(vdipc.S_XFER_DATA, id=id_, data=data[off:off + PIECE])
    st = status()
    assert st["id"] == id_, st
    return id_, st


def t_connect():
    global conn
    conn = daemon.accept(10.0)
    settle_layout(conn, conn.expect(vdipc.S_LAYOUT))


def t_stale_cleaned():
    names = listing()
    assert STALE not in names, names
    assert LIVE in names and OTHER in names, names
    assert "stale temporary" in agent.log()
    os.close(live_fd)
    os.unlink(os.path.join(dl, LIVE))
    os.unlink(os.path.join(dl, OTHER))


def t_normal():
    data = os.urandom(3 * 1024 * 1024 + 123)
    _, st = send_file("report.pdf", data)
    assert st["result"] == vdipc.XFER_SUCCESS, st
    with open(os.path.join(dl, "report.pdf"), "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
    assert temps() == [], listing()


def t_odd_pieces():
    """Pieces of every size, small ones gathered by the agent and big ones written through."""
    import random
    rnd = random.Random(4)
    data = os.urandom(5 * 1024 * 1024 + 77)
    id_ = start("pieces.bin", len(data))
    assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
    off = 0
    while off < len(data):
        n = rnd.choice([1, 7, 2048, 4000, PIECE - 1, PIECE, rnd.randint(1, PIECE)])
        conn.send(vdipc.S_XFER_DATA, id=id_, data=data[off:off + n])
        off += n
    st = status()
    assert st["id"] == id_ and st["result"] == vdipc.XFER_SUCCESS, st
    with open(os.path.join(dl, "pieces.bin"), "rb") as f:
        assert f.read() == data


def t_zero_size():
    _, st = send_file("empty.txt", b"")
    assert st["result"] == vdipc.XFER_SUCCESS, st
    assert os.path.getsize(os.path.join(dl, "empty.txt")) == 0


def t_hostile_names():
    before = all_files()
    for name in ["../../etc/x", "/abs", "a/b", "..", ".", "../", "x/..", "/", ".vdagent-xfer-evil.part"]:
        _, st = send_file(name, b"evil")
        assert st["result"] == vdipc.XFER_ERROR and st["has_detail"] and st["error_code"] == GIO_INVALID_FILENAME, \
            (name, st)
    assert all_files() == before, all_files() ^ before
    assert temps() == []


def t_symlink_in_the_way():
    """A symlink already named like the file is a clash, never followed."""
    outside = os.path.join(tmp, "outside.txt")
    with open(outside, "wb") as f:
        f.write(b"untouched")
    os.symlink(outside, os.path.join(dl, "link.txt"))
    _, st = send_file("link.txt", b"new data")
    assert st["result"] == vdipc.XFER_SUCCESS, st
    with open(outside, "rb") as f:
        assert f.read() == b"untouched"
    assert os.path.islink(os.path.join(dl, "link.txt"))
    with open(os.path.join(dl, "link (1).txt"), "rb") as f:
        assert f.read() == b"new data"
    os.unlink(os.path.join(dl, "link.txt"))
    os.unlink(outside)


def t_empty_name():
    """An empty name is not even a valid frame: the agent refuses it and reconnects."""
    global conn
    before = all_files()
    payload = vdipc.struct.pack("<IQII", new_id(), 4, 1, 1) + vdipc.struct.pack("<I", 0)
    conn.send_raw(vdipc.frame(vdipc.S_XFER_START, payload))
    conn.wait_closed(5.0)
    conn.close()
    conn = daemon.accept(10.0)
    settle_layout(conn, conn.expect(vdipc.S_LAYOUT))
    assert all_files() == before


def t_control_chars():
    _, st = send_file("a\x01b\tc\x7fd\u0085e.txt", b"ctl")
    assert st["result"] == vdipc.XFER_SUCCESS, st
    assert os.path.exists(os.path.join(dl, "a_b_c_d_e.txt")), listing()


def t_long_names():
    long_ascii = "x" * 296 + ".txt"
    _, st = send_file(long_ascii, b"long")
    assert st["result"] == vdipc.XFER_SUCCESS, st
    got = [n for n in listing() if n.startswith("xxxx")]
    assert len(got) == 1 and len(got[0].encode()) <= 255 and got[0].endswith(".txt"), got
    long_utf8 = "\u00e9" * 200 + ".tar"  # 404 bytes, 2-byte characters
    _, st = send_file(long_utf8, b"utf8")
    assert st["result"] == vdipc.XFER_SUCCESS, st
    got = [n for n in os.listdir(dl.encode()) if n.startswith("\u00e9".encode())]
    assert len(got) == 1 and len(got[0]) <= 255 and got[0].endswith(b".tar"), got
    got[0].decode("utf-8")  # still valid UTF-8
    # And its clash name stays within the limit too.
    _, st = send_file(long_utf8, b"utf8-2")
    assert st["result"] == vdipc.XFER_SUCCESS, st
    got = sorted(n for n in os.listdir(dl.encode()) if n.startswith("\u00e9".encode()))
    assert len(got) == 2 and all(len(n) <= 255 for n in got) and any(n.endswith(b" (1).tar") for n in got), got


def t_clashes():
    for i, want in enumerate(["doc.txt", "doc (1).txt", "doc (2).txt"]):
        _, st = send_file("doc.txt", b"version %d" % i)
        assert st["result"] == vdipc.XFER_SUCCESS, st
        with open(os.path.join(dl, want), "rb") as f:
            assert f.read() == b"version %d" % i, want
    _, st = send_file("noext", b"1")
    _, st = send_file("noext", b"2")
    assert os.path.exists(os.path.join(dl, "noext (1)")), listing()
    _, st = send_file(".hidden", b"1")
    _, st = send_file(".hidden", b"2")
    assert os.path.exists(os.path.join(dl, ".hidden (1)")), listing()


def t_clash_limit():
    """After name (999).ext the agent gives up with EXISTS rather than loop on."""
    names = ["c.txt"] + ["c (%d).txt" % i for i in range(1, 1000)]
    for n in names:
        open(os.path.join(dl, n), "wb").close()
    before = listing()
    _, st = send_file("c.txt", b"one more")
    assert st["result"] == vdipc.XFER_ERROR and st["error_code"] == GIO_EXISTS, st
    assert listing() == before
    for n in names:
        os.unlink(os.path.join(dl, n))


def t_cancel():
    before = listing()
    id_ = start("cancelled.bin", 10 * PIECE)
    assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
    for _ in range(3):
        conn.send(vdipc.S_XFER_DATA, id=id_, data=os.urandom(PIECE))
    wait_for(lambda: temps(), 5.0, what="the temporary")
    conn.send(vdipc.S_XFER_CANCEL, id=id_, result=vdipc.XFER_CANCELLED)
    wait_for(lambda: listing() == before, 5.0, what="the temporary to go")
    # Data after the cancel is ignored, and there is no status for a cancelled transfer.
    conn.send(vdipc.S_XFER_DATA, id=id_, data=b"late")
    try:
        t, m = conn.recv(0.5)
        assert t == vdipc.S_LAYOUT, (t, m)
    except TimeoutError:
        pass
    assert listing() == before


def t_too_much_data():
    before = listing()
    id_ = start("overflow.bin", 10)
    assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
    conn.send(vdipc.S_XFER_DATA, id=id_, data=b"0123456789ABC")
    st = status()
    assert st["result"] == vdipc.XFER_ERROR and st["error_code"] == GIO_INVALID_DATA, st
    assert listing() == before


def t_duplicate_id():
    before = listing()
    id_ = start("dup.bin", 4)
    assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
    start("dup2.bin", 4, id_)
    st = status()
    assert st["id"] == id_ and st["result"] == vdipc.XFER_ERROR and st["error_code"] == GIO_EXISTS, st
    conn.send(vdipc.S_XFER_DATA, id=id_, data=b"abcd")
    assert status()["result"] == vdipc.XFER_SUCCESS
    assert sorted(set(listing()) - set(before)) == ["dup.bin"], listing()


def t_limit_concurrent():
    before = listing()
    ids = []
    for i in range(MAX_XFERS):
        ids.append(start("many%d" % i, 100))
        assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
    extra = start("one-too-many", 100)
    st = status()
    assert st["id"] == extra and st["result"] == vdipc.XFER_ERROR and \
        st["error_code"] == GIO_TOO_MANY_OPEN_FILES, st
    assert len(temps()) == MAX_XFERS
    for i in ids:
        conn.send(vdipc.S_XFER_CANCEL, id=i, result=vdipc.XFER_CANCELLED)
    wait_for(lambda: listing() == before, 5.0, what="all temporaries to go")


def t_full_disk():
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    small = os.path.join(tmp, "small")
    os.makedirs(small)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "vdtest", small], check=True)
    a = None
    global conn
    try:
        old = conn
        a = Agent(x.display, sock_path, file_dir=small)
        conn = daemon.accept(10.0)
        settle_layout(conn, conn.expect(vdipc.S_LAYOUT))
        # Refused up front, with the free space.
        _, st = send_file("big.bin", b"")  # warm-up: a zero-byte file works
        assert st["result"] == vdipc.XFER_SUCCESS, st
        os.unlink(os.path.join(small, "big.bin"))
        id_ = start("big.bin", 2 * 1024 * 1024)
        st = status()
        assert st["id"] == id_ and st["result"] == vdipc.XFER_NOT_ENOUGH_SPACE and st["has_detail"], st
        assert 512 * 1024 <= st["free"] <= 1024 * 1024, st
        assert os.listdir(small) == []
        # Accepted: the space is reserved, so someone else filling the disk meanwhile does not
        # break the transfer (the other writer gets ENOSPC instead).
        data = os.urandom(768 * 1024)
        id_ = start("fits.bin", len(data))
        assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
        filler_failed = False
        with open(os.path.join(small, "filler"), "wb") as f:
            try:
                f.write(b"f" * (700 * 1024))
                f.flush()
            except OSError:
                filler_failed = True
        assert filler_failed, "the disk did not fill up"
        for off in range(0, len(data), PIECE):
            conn.send(vdipc.S_XFER_DATA, id=id_, data=data[off:off + PIECE])
        st = status()
        assert st["result"] == vdipc.XFER_SUCCESS, st
        with open(os.path.join(small, "fits.bin"), "rb") as f:
            assert f.read() == data
        os.unlink(os.path.join(small, "fits.bin"))
        os.unlink(os.path.join(small, "filler"))
        assert sorted(os.listdir(small)) == [], os.listdir(small)
    finally:
        if a:
            a.cleanup()
        conn = old
        subprocess.run(["umount", small], check=False)


def t_daemon_dies():
    """The daemon goes away mid-transfer: no file, no temporary; the agent reconnects."""
    global conn
    before = listing()
    id_ = start("orphan.bin", 10 * PIECE)
    assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
    conn.send(vdipc.S_XFER_DATA, id=id_, data=os.urandom(PIECE))
    wait_for(lambda: temps(), 5.0, what="the temporary")
    conn.close()
    wait_for(lambda: listing() == before, 5.0, what="the temporary to go")
    conn = daemon.accept(10.0)
    settle_layout(conn, conn.expect(vdipc.S_LAYOUT))
    # The old id means nothing now.
    conn.send(vdipc.S_XFER_DATA, id=id_, data=b"late")
    assert listing() == before


def t_agent_killed():
    """Even SIGKILL mid-transfer leaves only a temporary, and the next agent removes it."""
    global conn, agent
    before = listing()
    id_ = start("killed.bin", 10 * PIECE)
    assert status()["result"] == vdipc.XFER_CAN_SEND_DATA
    conn.send(vdipc.S_XFER_DATA, id=id_, data=os.urandom(PIECE))
    wait_for(lambda: temps(), 5.0, what="the temporary")
    agent.proc.kill()
    agent.proc.wait()
    assert "killed.bin" not in listing()
    conn.close()
    agent.cleanup()
    agent = Agent(x.display, sock_path, file_dir=dl)
    conn = daemon.accept(10.0)
    settle_layout(conn, conn.expect(vdipc.S_LAYOUT))
    assert listing() == before, listing()


def t_xdg_download_dir():
    """Without --file-dir: XDG_DOWNLOAD_DIR from user-dirs.dirs, else ~/Downloads."""
    global conn
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, ".config"))
    with open(os.path.join(home, ".config", "user-dirs.dirs"), "w") as f:
        f.write('XDG_DOWNLOAD_DIR="$HOME/T\u00e9l\u00e9chargements"\n')
    os.makedirs(os.path.join(home, "T\u00e9l\u00e9chargements"))
    old = conn
    env = dict(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"))

    def lands_in(directory, name, data):
        """A new agent without --file-dir stores a file sent to it in directory."""
        global conn
        a = Agent(x.display, sock_path, env=env)
        try:
            conn = daemon.accept(10.0)
            settle_layout(conn, conn.expect(vdipc.S_LAYOUT))
            _, st = send_file(name, data)
            assert st["result"] == vdipc.XFER_SUCCESS, st
            assert os.path.exists(os.path.join(directory, name))
            conn.close()
        finally:
            a.cleanup()

    try:
        lands_in(os.path.join(home, "T\u00e9l\u00e9chargements"), "xdg.txt", b"xdg")
        os.unlink(os.path.join(home, ".config", "user-dirs.dirs"))
        lands_in(os.path.join(home, "Downloads"), "plain.txt", b"plain")
    finally:
        conn = old


try:
    tap.run_all([
        ("agent connects", t_connect),
        ("stale temporaries cleaned at start (locked ones kept)", t_stale_cleaned),
        ("normal transfer, bytes equal, no temporary left", t_normal),
        ("pieces of odd sizes (gathered writes)", t_odd_pieces),
        ("zero-byte file", t_zero_size),
        ("hostile names refused, nothing written anywhere", t_hostile_names),
        ("a symlink in the way is a clash, never followed", t_symlink_in_the_way),
        ("empty name: frame refused, agent reconnects", t_empty_name),
        ("control characters sanitised", t_control_chars),
        ("over-long names shortened, extension and UTF-8 kept", t_long_names),
        ("clashes: name (1).ext, name (2).ext", t_clashes),
        ("clashes end at (999): ERROR EXISTS", t_clash_limit),
        ("cancel mid-way: no file, no temporary", t_cancel),
        ("more data than announced: ERROR INVALID_DATA", t_too_much_data),
        ("duplicate transfer id refused", t_duplicate_id),
        ("at most 16 transfers at once", t_limit_concurrent),
        ("full disk: NOT_ENOUGH_SPACE with free bytes; space reserved once accepted", t_full_disk),
        ("daemon dies mid-transfer: nothing left, reconnect", t_daemon_dies),
        ("agent killed mid-transfer: temporary removed by the next one", t_agent_killed),
        ("XDG download directory, then ~/Downloads", t_xdg_download_dir),
        ("no agent logged a bug (failed argument check, impossible transition)", agentlib.assert_no_bugs),
    ])
finally:
    agent.cleanup()
    daemon.close()
    x.stop()
    shutil.rmtree(tmp, ignore_errors=True)
tap.finish()
