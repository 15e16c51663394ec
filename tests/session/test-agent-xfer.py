#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""File-transfer options and notifications end to end: a test host (tests/lib/vdwire.py) on the real
vdagentd's port, the real vdagent under Xvfb, a private session bus with python3-dbusmock's
notification_daemon template and a mock org.freedesktop.FileManager1 on it.

--file-dir xdg-desktop / xdg-download / DIR (the XDG directories from the user's user-dirs.dirs);
--no-file-xfer (the daemon announces FILE_XFER_DISABLED and answers DISABLED); notifications: a
completed file says where it is with an "Open folder" action that calls ShowItems; a transfer
longer than 3 s shows its progress in one notification updated at most once a second, then its
completion in the same one; a cancelled one says so; vdagent-ctl status shows percent and rate
meanwhile; --open-dir calls ShowItems once per batch, and without a file manager runs xdg-open
(a stand-in that records its argv)."""

import json
import os
import re
import subprocess
import tempfile
import time

import dbus
import vdwire
import agentlib
from agentlib import Agent
from daemon import VDAGENTD, Vdagentd
from logind import PrivateBus, _die_with_parent
from vdtest import Skip, Tap, wait_for
from xserver import Xvfb

CTL = os.environ.get("VDAGENT_CTL") or os.path.join(os.environ.get("VD_BUILD_ROOT", "build"), "src", "ctl",
                                                    "vdagent-ctl")
NOISE = (vdwire.MSG_ANNOUNCE_CAPABILITIES, vdwire.MSG_CLIPBOARD_GRAB, vdwire.MSG_CLIPBOARD_RELEASE)
MOCK_IFACE = "org.freedesktop.DBus.Mock"
NOTIFY = ("org.freedesktop.Notifications", "/org/freedesktop/Notifications")
FM = ("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1")

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-test-xfer-")
home = os.path.join(tmp, "home")
state = {"next_id": 100}


def mock_service(args, name):
    bus = state["bus"]
    log = open(os.path.join(tmp, name + ".log"), "ab")
    proc = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock"] + args,
                            env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address), stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    wait_for(lambda: bus.has_owner(name), 10.0, what=name + " on the bus")
    return proc


def mock(service):
    return dbus.Interface(state["bus"].conn.get_object(*service, introspect=False), MOCK_IFACE)


def calls(service, method):
    return [list(c[2]) for c in mock(service).GetCalls() if c[1] == method]


def start_file_manager():
    state["fm"] = mock_service(["org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                                "org.freedesktop.FileManager1"], "org.freedesktop.FileManager1")
    mock(FM).AddMethod("", "ShowItems", "ass", "", "")


def start_agent(args=()):
    if "agent" in state:
        state["agent"].cleanup()
    env = dict(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               DBUS_SESSION_BUS_ADDRESS=state["bus"].address, PATH=os.path.join(tmp, "bin") + ":" + os.environ["PATH"])
    state["agent"] = Agent(state["x"].display, state["daemon"].socket, args=list(args), env=env)
    wait_for(lambda: "daemon link: connected to" in state["agent"].log(), 10.0, what="the agent to connect")
    time.sleep(0.3)  # the daemon re-announces its caps for the new agent


def guest_caps_until(pred, timeout=10.0):
    host = state["host"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            payload = host.expect(vdwire.MSG_ANNOUNCE_CAPABILITIES, max(0.05, deadline - time.monotonic()),
                                  skip=(vdwire.MSG_CLIPBOARD_GRAB, vdwire.MSG_CLIPBOARD_RELEASE))
        except TimeoutError:
            break
        if pred(vdwire.Caps(vdwire.parse_announce_caps(payload)["caps"])):
            return
    raise AssertionError("the daemon never announced the expected capabilities")


def start_xfer(name, size):
    state["next_id"] += 1
    xid = state["next_id"]
    host = state["host"]
    host.send_message(vdwire.MSG_FILE_XFER_START, vdwire.build_file_xfer_start(xid, name, size))
    st = vdwire.parse_file_xfer_status(host.expect(vdwire.MSG_FILE_XFER_STATUS, 10.0, skip=NOISE))
    assert st["id"] == xid, st
    return xid, st["result"]


def send_data(xid, data):
    state["host"].send_message(vdwire.MSG_FILE_XFER_DATA, vdwire.build_file_xfer_data(xid, data))


def finish(xid):
    st = vdwire.parse_file_xfer_status(state["host"].expect(vdwire.MSG_FILE_XFER_STATUS, 10.0, skip=NOISE))
    assert st["id"] == xid and st["result"] == vdwire.XFER_SUCCESS, st


def send_file(name, data=b"hello\n"):
    xid, result = start_xfer(name, len(data))
    assert result == vdwire.XFER_CAN_SEND_DATA, result
    send_data(xid, data)
    finish(xid)
    return xid


def notifies(since=0):
    """Notify calls from number since on: dicts of the arguments, plus "nid", the id the
    notification_daemon template answered (it numbers new notifications 1, 2, …)."""
    keys = ("app", "replaces", "icon", "summary", "body", "actions", "hints", "timeout")
    out, fresh = [], 0
    for c in calls(NOTIFY, "Notify"):
        n = dict(zip(keys, c))
        if n["replaces"] == 0:
            fresh += 1
            n["nid"] = fresh
        else:
            n["nid"] = int(n["replaces"])
        out.append(n)
    return out[since:]


def ctl_status():
    r = subprocess.run([CTL, "--control", state["daemon"].control, "--json", "status"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def t_start():
    if not os.access(VDAGENTD, os.X_OK):
        raise Skip("vdagentd is not built")
    try:
        state["bus"] = PrivateBus()
    except (OSError, RuntimeError) as e:
        raise Skip("no dbus-daemon: %s" % e)
    state["notifyd"] = mock_service(["--template", "notification_daemon"], "org.freedesktop.Notifications")
    start_file_manager()
    os.makedirs(os.path.join(home, ".config"))
    with open(os.path.join(home, ".config", "user-dirs.dirs"), "w") as f:
        f.write('XDG_DESKTOP_DIR="$HOME/Bureau"\nXDG_DOWNLOAD_DIR="$HOME/Telechargements"\n')
    os.makedirs(os.path.join(tmp, "bin"))
    with open(os.path.join(tmp, "bin", "xdg-open"), "w") as f:
        f.write('#!/bin/sh\nprintf "%%s\\n" "$@" >> "%s"\n' % os.path.join(tmp, "xdg-open.argv"))
    os.chmod(os.path.join(tmp, "bin", "xdg-open"), 0o755)
    state["x"] = Xvfb(1024, 768)
    host = state["host"] = vdwire.TestHost(os.path.join(tmp, "host.sock"))
    state["daemon"] = Vdagentd(host.path, tmp)
    host.accept(10.0)
    host.negotiate()
    state["daemon"].wait_socket(10.0)


def t_dirs():
    for arg, where in (("xdg-desktop", "Bureau"), ("xdg-download", "Telechargements"),
                       (os.path.join(tmp, "given"), os.path.join(tmp, "given"))):
        start_agent(["--file-dir", arg])
        send_file("in-%s.txt" % os.path.basename(arg))
        path = os.path.join(home, where, "in-%s.txt" % os.path.basename(arg))
        assert open(path, "rb").read() == b"hello\n", path
    start_agent(["-f", "xdg-desktop"])
    send_file("short-option.txt")
    assert os.path.exists(os.path.join(home, "Bureau", "short-option.txt"))


def t_disabled():
    start_agent(["--no-file-xfer"])
    guest_caps_until(lambda c: c.has(vdwire.CAP_FILE_XFER_DISABLED))
    before = sorted(os.listdir(os.path.join(home, "Telechargements")))
    xid, result = start_xfer("refused.txt", 6)
    assert result == vdwire.XFER_DISABLED, result
    assert sorted(os.listdir(os.path.join(home, "Telechargements"))) == before
    assert "file transfer %u refused: DISABLED" % xid in state["daemon"].log_text(), state["daemon"].log_text()[-1500:]


def t_done_notification():
    start_agent()
    mark = len(notifies())
    send_file("note.txt")
    wait_for(lambda: notifies(mark), 5.0, what="a notification")
    n = notifies(mark)
    assert len(n) == 1, n
    n = n[0]
    dl = os.path.join(home, "Telechargements")
    assert n["summary"] == 'Received "note.txt"' and n["body"] == "Saved in " + dl, n
    assert list(n["actions"]) == ["open-folder", "Open folder", "default", "Open folder"], n
    assert n["replaces"] == 0, n
    state["done_nid"] = n["nid"]


def t_action():
    # The notification server answered Notify with an id: invoke its action as a user would.
    nid = state["done_nid"]
    mock(FM).ClearCalls()
    mock(NOTIFY).EmitSignal("org.freedesktop.Notifications", "ActionInvoked", "us",
                            dbus.Array([dbus.UInt32(nid), "open-folder"], signature="v"))
    wait_for(lambda: calls(FM, "ShowItems"), 5.0, what="ShowItems")
    uris, startup = calls(FM, "ShowItems")[0]
    assert list(uris) == ["file://" + os.path.join(home, "Telechargements", "note.txt")], uris
    # An action on someone else's notification does nothing.
    mock(NOTIFY).EmitSignal("org.freedesktop.Notifications", "ActionInvoked", "us",
                            dbus.Array([dbus.UInt32(999), "open-folder"], signature="v"))
    time.sleep(0.3)
    assert len(calls(FM, "ShowItems")) == 1


def t_batch():
    """Three files running at once: one notification when the last arrives; its action shows all three."""
    mark = len(notifies())
    ids = [start_xfer("batch-%d.txt" % i, 2)[0] for i in range(3)]
    for xid in ids:
        send_data(xid, b"b\n")
        finish(xid)
    wait_for(lambda: notifies(mark), 5.0, what="the batch's notification")
    time.sleep(0.5)
    got = notifies(mark)
    dl = os.path.join(home, "Telechargements")
    assert len(got) == 1 and got[0]["summary"] == "Received 3 files" and got[0]["body"] == "Saved in " + dl, got
    mock(FM).ClearCalls()
    mock(NOTIFY).EmitSignal("org.freedesktop.Notifications", "ActionInvoked", "us",
                            dbus.Array([dbus.UInt32(got[0]["nid"]), "open-folder"], signature="v"))
    wait_for(lambda: calls(FM, "ShowItems"), 5.0, what="ShowItems")
    uris = list(calls(FM, "ShowItems")[0][0])
    assert uris == ["file://" + os.path.join(dl, "batch-%d.txt" % i) for i in range(3)], uris


def t_batch_limit():
    """VD_NOTIFY_MAX_BATCH_ITEMS: a batch of 34 is told of as 34 files; Open folder shows the first 32."""
    mark = len(notifies())
    held, _ = start_xfer("batch-held.txt", 2)  # keeps the batch open while 33 others come and go
    for i in range(33):
        send_file("big-batch-%02d.txt" % i)
    assert notifies(mark) == [], "told of a batch before its end"
    send_data(held, b"h\n")
    finish(held)
    wait_for(lambda: notifies(mark), 5.0, what="the batch's notification")
    got = notifies(mark)
    assert len(got) == 1 and got[0]["summary"] == "Received 34 files", got
    mock(FM).ClearCalls()
    mock(NOTIFY).EmitSignal("org.freedesktop.Notifications", "ActionInvoked", "us",
                            dbus.Array([dbus.UInt32(got[0]["nid"]), "default"], signature="v"))
    wait_for(lambda: calls(FM, "ShowItems"), 5.0, what="ShowItems")
    uris = list(calls(FM, "ShowItems")[0][0])
    dl = os.path.join(home, "Telechargements")
    assert uris == ["file://" + os.path.join(dl, "big-batch-%02d.txt" % i) for i in range(32)], uris


def t_progress():
    mark = len(notifies())
    size = 10 * 64 * 1024
    xid, result = start_xfer("slow.bin", size)
    assert result == vdwire.XFER_CAN_SEND_DATA
    piece = os.urandom(64 * 1024)
    t0 = time.monotonic()
    seen_status = None
    for i in range(10):
        send_data(xid, piece)
        time.sleep(0.55)
        if i == 7:
            seen_status = [x for x in ctl_status()["transfers"] if x["id"] == xid]
            plain = subprocess.run([CTL, "--control", state["daemon"].control, "status"], capture_output=True,
                                   text=True, timeout=10).stdout
    finish(xid)
    elapsed = time.monotonic() - t0
    time.sleep(0.5)
    n = notifies(mark)
    progress = [x for x in n if x["summary"] == 'Received "slow.bin"' or x["summary"].startswith("Receiving")]
    assert progress and progress[0]["summary"] == 'Receiving "slow.bin"', n
    ups = [x for x in progress if x["summary"].startswith("Receiving")]
    # First one after 3 s, then at most one a second: in ~5.5 s, 1 to 3 updates.
    assert 1 <= len(ups) <= 1 + int((elapsed - 3.0) / 1.0) + 1, (len(ups), elapsed)
    nid = ups[0]["nid"]
    assert ups[0]["replaces"] == 0 and all(u["replaces"] == nid for u in ups[1:]), [u["replaces"] for u in ups]
    body = ups[0]["body"].replace("\u00a0", " ")  # g_format_size() puts a no-break space before the unit
    assert re.fullmatch(r"\d+ % — [\d.]+ kB of 655\.4 kB, [\d.]+ kB/s", body), body
    assert ups[0]["hints"]["category"] == "transfer" and 0 <= ups[0]["hints"]["value"] <= 100, ups[0]["hints"]
    done = progress[-1]
    assert done["summary"] == 'Received "slow.bin"' and done["replaces"] == nid, done
    # vdagent-ctl status during the transfer: 8 of 10 pieces forwarded.
    assert seen_status and seen_status[0]["percent"] == 80 and seen_status[0]["rate"] > 0, seen_status
    assert seen_status[0]["received"] == 8 * 64 * 1024, seen_status
    # The plain table: id, session, size, received, percent, rate, seconds.
    row = r"(?m)^\s+%d\s+none\s+655360\s+524288\s+80\s+\d+\s+\d+$" % xid
    assert "PERCENT" in plain.upper() and "RATE" in plain.upper() and re.search(row, plain), plain


def t_cancelled():
    mark = len(notifies())
    xid, result = start_xfer("cancelled.bin", 1 << 20)
    send_data(xid, b"x" * 4096)
    time.sleep(3.2)
    send_data(xid, b"x" * 4096)  # past 3 s: the progress shows
    wait_for(lambda: notifies(mark), 5.0, what="the progress notification")
    state["host"].send_message(vdwire.MSG_FILE_XFER_STATUS, vdwire.build_file_xfer_status(xid, vdwire.XFER_CANCELLED))
    wait_for(lambda: len(notifies(mark)) >= 2, 5.0, what="the cancellation notification")
    first, last = notifies(mark)[0], notifies(mark)[-1]
    assert last["summary"] == '"cancelled.bin" was not received' and last["body"] == "cancelled", last
    assert first["replaces"] == 0 and last["replaces"] == first["nid"], (first, last)


def t_notify_timeout():
    """VD_NOTIFY_CALL_TIMEOUT_MS: a notification server that hangs is given up on after 5 s, logged
    once, and the next file's notification goes out."""
    m = mock(NOTIFY)
    # The template's Notify, after a sleep: ids stay the template's numbering (notifies()).
    template = "if args[1]:\n    ret = args[1]\nelse:\n    ret = self.next_id\n    self.next_id += 1\n"
    m.AddMethod("org.freedesktop.Notifications", "Notify", "susssasa{sv}i", "u",
                '__import__("time").sleep(6)\n' + template)
    send_file("hung-server.txt")
    wait_for(lambda: "no notifications (" in state["agent"].log(), 8.0, what="the agent to give up")
    assert "Timeout" in state["agent"].log() or "timed out" in state["agent"].log(), state["agent"].log()[-800:]
    m.AddMethod("org.freedesktop.Notifications", "Notify", "susssasa{sv}i", "u", template)
    time.sleep(1.5)  # the mock finishes its sleep
    mark = len(notifies())
    send_file("after-hang.txt")
    wait_for(lambda: any(n["summary"] == 'Received "after-hang.txt"' for n in notifies(mark)), 5.0,
             what="the next notification")


def t_action_limit():
    """VD_NOTIFY_MAX_ACTIONS: the last 32 completed notifications keep their Open folder action."""
    mark = len(notifies())
    for i in range(33):
        send_file("many-%02d.txt" % i)
    wait_for(lambda: len(notifies(mark)) >= 33, 10.0, what="33 notifications")
    got = notifies(mark)
    first, last = got[0], got[32]
    assert first["summary"] == 'Received "many-00.txt"' and last["summary"] == 'Received "many-32.txt"', got
    mock(FM).ClearCalls()
    for n in (first, last):
        mock(NOTIFY).EmitSignal("org.freedesktop.Notifications", "ActionInvoked", "us",
                                dbus.Array([dbus.UInt32(n["nid"]), "default"], signature="v"))
    wait_for(lambda: calls(FM, "ShowItems"), 5.0, what="ShowItems")
    time.sleep(0.5)
    got = calls(FM, "ShowItems")
    assert [list(c[0]) for c in got] == [["file://" + os.path.join(home, "Telechargements", "many-32.txt")]], got


def t_open_dir():
    start_agent(["--open-dir", "--no-notifications"])
    mock(FM).ClearCalls()
    mark = len(notifies())
    # A batch of two running at once: one ShowItems, for the last to arrive.
    a, _ = start_xfer("batch-a.txt", 2)
    b, _ = start_xfer("batch-b.txt", 2)
    send_data(a, b"a\n")
    finish(a)
    send_data(b, b"b\n")
    finish(b)
    wait_for(lambda: calls(FM, "ShowItems"), 5.0, what="ShowItems")
    time.sleep(0.3)
    got = calls(FM, "ShowItems")
    assert len(got) == 1 and list(got[0][0]) == ["file://" + os.path.join(home, "Telechargements", "batch-b.txt")], got
    assert notifies(mark) == [], "--no-notifications still notified"


def t_open_dir_timeout():
    """VD_OPEN_FOLDER_TIMEOUT_MS: a file manager that does not answer in 5 s is given up for xdg-open."""
    mock(FM).AddMethod("", "ShowItems", "ass", "", '__import__("time").sleep(8)')
    argv_file = os.path.join(tmp, "xdg-open.argv")
    t0 = time.monotonic()
    send_file("slow-fm.txt")
    wait_for(lambda: os.path.exists(argv_file), 12.0, what="xdg-open to run")
    waited = time.monotonic() - t0
    assert 4.5 <= waited <= 9.0, waited
    assert open(argv_file).read() == os.path.join(home, "Telechargements") + "\n"
    os.unlink(argv_file)


def t_open_dir_xdg_open():
    state["fm"].terminate()
    state["fm"].wait(5)
    wait_for(lambda: not state["bus"].has_owner(FM[0]), 5.0, what="the file manager to leave")
    send_file("fallback.txt")
    argv_file = os.path.join(tmp, "xdg-open.argv")
    wait_for(lambda: os.path.exists(argv_file), 10.0, what="xdg-open to run")
    assert open(argv_file).read() == os.path.join(home, "Telechargements") + "\n"
    assert "trying xdg-open" in state["agent"].log()


def t_options_documented():
    source = os.environ.get("VD_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
    helptext = subprocess.run([os.environ.get("VDAGENT", "vdagent"), "--help"], capture_output=True, text=True,
                              timeout=10).stdout
    options = set(re.findall(r"--([a-z][a-z-]+)", helptext)) - {"help"}
    assert {"file-dir", "open-dir", "no-file-xfer", "no-notifications", "audio"} <= options, options
    man = open(os.path.join(source, "docs", "vdagent.1")).read().replace("\\-", "-")
    md = open(os.path.join(source, "docs", "session-agent.md")).read()
    missing = [o for o in sorted(options) if "--" + o not in man or "--" + o not in md]
    assert not missing, "not in vdagent(1) or docs/session-agent.md: %s" % missing


try:
    tap.run_all([
        ("session bus with notification and file manager mocks, Xvfb, vdagentd", t_start),
        ("--file-dir xdg-desktop, xdg-download (user-dirs.dirs), a directory; -f", t_dirs),
        ("--no-file-xfer: FILE_XFER_DISABLED announced, a transfer answered DISABLED", t_disabled),
        ("a completed file: a notification saying where, with an Open folder action", t_done_notification),
        ("Open folder: ShowItems with the file's URI; other notifications' actions ignored", t_action),
        ("a batch of three files: one notification, its action shows the three", t_batch),
        ("a batch of 34: told as 34 files, Open folder shows the first 32", t_batch_limit),
        ("a transfer over 3 s: progress in one notification, at most once a second; ctl status", t_progress),
        ("a cancelled transfer whose progress was shown: the notification says so", t_cancelled),
        ("a notification server that hangs: given up after 5 s, the next file still notified", t_notify_timeout),
        ("the last 32 notifications keep their action, the 33rd oldest not", t_action_limit),
        ("--open-dir: one ShowItems per batch; --no-notifications", t_open_dir),
        ("--open-dir with a file manager that does not answer: xdg-open after 5 s", t_open_dir_timeout),
        ("--open-dir without a file manager: xdg-open DIR", t_open_dir_xdg_open),
        ("every option of vdagent --help is in vdagent(1) and docs/session-agent.md", t_options_documented),
        ("no agent logged a bug (failed argument check, impossible transition)", agentlib.assert_no_bugs),
    ], first_is_setup=True)
finally:
    if "agent" in state:
        state["agent"].cleanup()
    if "daemon" in state:
        state["daemon"].stop()
    for k in ("fm", "notifyd"):
        if k in state and state[k].poll() is None:
            state[k].terminate()
            state[k].wait(5)
    if "bus" in state:
        state["bus"].stop()
