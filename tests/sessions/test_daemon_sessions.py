#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""test_daemon_sessions.py — vdagentd's session security, end to end (TAP, suite integration).

The real vdagentd runs with --session-tracking logind against a private system bus where
python3-dbusmock's logind template plays logind, --port to a TestHost (the host end of the agent
port), --fake-uinput, and temporary --socket/--control paths. Test agents connect as two
throw-away uids (agent_proc.py under `setpriv --reuid`), each one's pid registered in the mock as
belonging to its session, so that the daemon's GetSessionByPID answers as logind would (that
World is tests/lib/sessionworld.py's; the mock tests/lib/logind.py's).

Asserted on what each side sees:
- only the active session's agent gets the host's clipboard grabs and monitor configs, and only its
  grabs reach the host;
- switching the active session releases the old session's grabs to the host and sends the cached
  monitor config to the new session's agent;
- a locked session gets no files: the host sees SESSION_LOCKED; unlocked, the same agent gets them;
- an agent whose uid does not own its session is refused; a second agent for a session is refused;
- an agent in no session but its user's (the vdagent.service user unit) serves that user's display
  session, and is refused when the user has none;
- an agent that sends garbage, or never says HELLO, is dropped;
- connections per user are capped, and so are connections in all.
Without a built vdagentd, or not as root, every case is reported as SKIP with the reason.
Arguments: case numbers to run only those (and the cases they continue from).
"""

import os
import sys
import time
import traceback

import vdipc
import vdwire
from logind import LogindMock, PrivateBus
from daemon import VDAGENTD
from sessionworld import ALICE, BOB, CAROL, TEXT, World, wait_msg
from vdtest import Tap, diag, received_within

# The daemon's documented limits (src/system/agents.h).
MAX_PER_UID = 4
MAX_CONNECTIONS = 32
HELLO_TIMEOUT = 5.0


def wait_all(conn, wanted, timeout=5.0):
    """Messages in any order: wanted maps a type to a predicate (or None); -> {type: message}."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(wanted):
        left = deadline - time.monotonic()
        if left <= 0:
            missing = [vdipc.type_name(vdipc.SESSION, t) for t in wanted if t not in got]
            raise AssertionError("the agent did not get %s" % ", ".join(missing))
        t, m = conn.recv(left)
        if t == vdipc.ERROR:
            raise vdipc.PeerError(m["code"], m["message"])
        if t in wanted and t not in got and (wanted[t] is None or wanted[t](m)):
            got[t] = m
    return got


def quiet(conn, types, seconds=0.7):
    """Fails if the agent gets a message of one of types within seconds."""
    for t, m in received_within(conn.recv, seconds):
        assert t not in types, "the agent unexpectedly got %s: %r" % (vdipc.type_name(vdipc.SESSION, t), m)


def error_code(conn, timeout=5.0, hello=True):
    """-> (code, message) of the ERROR the daemon closes conn with; fails if it accepts conn or
    closes it without saying why."""
    if hello:
        try:
            conn.send(vdipc.HELLO, **vdipc.hello_fields(vdipc.SESSION, "refused-agent"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it read our HELLO: its ERROR is still there to read
    try:
        frames = conn.wait_closed(timeout)
    except TimeoutError:
        raise AssertionError("the daemon kept the connection open")
    for t, payload in frames:
        if t == vdipc.ERROR:
            m = vdipc.decode(vdipc.SESSION, t, payload)
            return m["code"], m["message"]
    raise AssertionError("the daemon closed the connection without an ERROR")


# --- cases ---

MONITORS = [dict(width=1280, height=800), dict(width=1024, height=768, x=1280)]


def case_only_active_gets_host_data(w, state):
    a = w.agent(ALICE, "1")
    b = w.agent(BOB, "2")
    sa = wait_msg(a, vdipc.S_SESSION_STATE)
    sb = wait_msg(b, vdipc.S_SESSION_STATE)
    assert sa["active"] and not sa["locked"], sa
    assert not sb["active"], sb
    w.host_grab()
    g = wait_msg(a, vdipc.S_CLIPBOARD_GRAB)
    assert g["types"] == [TEXT], g
    w.host.send_message(vdwire.MSG_MONITORS_CONFIG, vdwire.build_monitors_config(MONITORS))
    mc = wait_msg(a, vdipc.S_MONITORS_CONFIG)
    assert [(m["width"], m["height"]) for m in mc["monitors"]] == [(1280, 800), (1024, 768)], mc
    a.send(vdipc.S_MONITORS_RESULT, request_id=mc["request_id"], result=vdipc.REPLY_SUCCESS)
    w.host_wait(vdwire.MSG_REPLY)
    quiet(b, (vdipc.S_CLIPBOARD_GRAB, vdipc.S_MONITORS_CONFIG, vdipc.S_XFER_START))
    state.update(a=a, b=b)


def case_only_active_grabs_reach_host(w, state):
    a, b = state["a"], state["b"]
    b.send(vdipc.S_CLIPBOARD_GRAB, selection=vdwire.SELECTION_CLIPBOARD, types=[TEXT])
    w.host_quiet((vdwire.MSG_CLIPBOARD_GRAB,))
    a.send(vdipc.S_CLIPBOARD_GRAB, selection=vdwire.SELECTION_CLIPBOARD, types=[TEXT])
    g = vdwire.parse_clipboard_grab(w.host_wait(vdwire.MSG_CLIPBOARD_GRAB), w.host.neg)
    assert g["types"] == [TEXT], g


def case_switch(w, state):
    a, b = state["a"], state["b"]
    w.logind.set_active("2")
    rel = vdwire.parse_clipboard_release(w.host_wait(vdwire.MSG_CLIPBOARD_RELEASE), w.host.neg)
    assert rel["selection"] == vdwire.SELECTION_CLIPBOARD, rel
    got = wait_all(b, {vdipc.S_SESSION_STATE: lambda m: m["active"], vdipc.S_MONITORS_CONFIG: None})
    mc = got[vdipc.S_MONITORS_CONFIG]
    assert [(m["width"], m["height"]) for m in mc["monitors"]] == [(1280, 800), (1024, 768)], mc
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: not m["active"])
    # From now on the host's data goes to bob's agent only.
    w.host_grab()
    wait_msg(b, vdipc.S_CLIPBOARD_GRAB)
    quiet(a, (vdipc.S_CLIPBOARD_GRAB, vdipc.S_MONITORS_CONFIG))


def xfer_start(w, id_):
    w.host.send_message(vdwire.MSG_FILE_XFER_START,
                        vdwire.build_file_xfer_start(id_, "report.txt", 5, nr=1, total=1))


def case_locked_gets_no_files(w, state):
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    w.logind.set_locked_hint("1", True)
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["locked"])
    xfer_start(w, 7)
    st = vdwire.parse_file_xfer_status(w.host_wait(vdwire.MSG_FILE_XFER_STATUS))
    assert (st["id"], st["result"]) == (7, vdwire.XFER_SESSION_LOCKED), st
    quiet(a, (vdipc.S_XFER_START,))
    # Locked through logind's Lock signal (loginctl lock-session) too.
    w.logind.set_locked_hint("1", False)
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: not m["locked"])
    w.logind.lock("1")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["locked"])
    xfer_start(w, 8)
    st = vdwire.parse_file_xfer_status(w.host_wait(vdwire.MSG_FILE_XFER_STATUS))
    assert (st["id"], st["result"]) == (8, vdwire.XFER_SESSION_LOCKED), st
    # Unlocked, the same agent is offered the next file.
    w.logind.unlock("1")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: not m["locked"])
    xfer_start(w, 9)
    m = wait_msg(a, vdipc.S_XFER_START)
    assert m["id"] == 9 and m["name"] == "report.txt" and m["size"] == 5, m


def case_not_owner_refused(w, state):
    # alice's process claims to be in bob's session (logind says so): not alice's session.
    conn = w.connect(ALICE, "2")[0]
    code, message = error_code(conn)
    assert code == vdipc.ERR_PERMISSION, (code, message)
    # A process in no session at all.
    conn = w.connect(ALICE, None)[0]
    code, message = error_code(conn)
    assert code == vdipc.ERR_PERMISSION, (code, message)
    # bob's own agent is still accepted afterwards.
    b = w.agent(BOB, "2")
    wait_msg(b, vdipc.S_SESSION_STATE)


def case_second_agent_refused(w, state):
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE)
    conn = w.connect(ALICE, "1")[0]
    code, message = error_code(conn)
    assert code == vdipc.ERR_LIMIT, (code, message)
    # The first one still works.
    w.host_grab()
    wait_msg(a, vdipc.S_CLIPBOARD_GRAB)


def case_user_service_agent(w, state):
    # The vdagent.service user unit runs in the user's service manager, in no session: the daemon
    # takes its user's graphical session (logind's User.Display), and still checks the owner.
    w.logind.set_user_display(ALICE, "1")
    a = w.connect(ALICE, None, user_service=True)[0]
    a.hello(software="test-agent from user@.service")
    m = wait_msg(a, vdipc.S_SESSION_STATE)
    assert m["active"], m
    w.host_grab()
    wait_msg(a, vdipc.S_CLIPBOARD_GRAB)
    # bob's manager while bob has no graphical session: refused, and told why.
    conn = w.connect(BOB, None, user_service=True)[0]
    code, message = error_code(conn)
    assert code == vdipc.ERR_PERMISSION and "no graphical session" in w.daemon_log_text(), (code, message)


def case_garbage_dropped(w, state):
    # Garbage instead of HELLO.
    conn = w.connect(ALICE, "1")[0]
    conn.send_raw(b"\xff" * 64)
    code, message = error_code(conn, hello=False)
    assert code == vdipc.ERR_BAD_FRAME, (code, message)
    # A greeted agent that then sends a frame claiming a huge payload.
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE)
    a.send_raw(b"\x10\x00\x00\x00\xff\xff\xff\x7f")
    code, message = error_code(a, hello=False)
    assert code == vdipc.ERR_BAD_FRAME, (code, message)
    # A well-framed message that is not valid (selection out of range).
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE)
    a.send_raw(vdipc.frame(vdipc.S_CLIPBOARD_RELEASE, b"\x09"))
    code, message = error_code(a, hello=False)
    assert code == vdipc.ERR_BAD_FRAME, (code, message)


def case_no_hello_dropped(w, state):
    conn = w.connect(ALICE, "1")[0]
    start = time.monotonic()
    code, message = error_code(conn, timeout=HELLO_TIMEOUT + 5, hello=False)
    took = time.monotonic() - start
    assert code == vdipc.ERR_TIMEOUT, (code, message)
    assert HELLO_TIMEOUT - 0.5 <= took <= HELLO_TIMEOUT + 3, "dropped after %.1f s" % took
    # The session is free again for a real agent.
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE)


def case_per_uid_cap(w, state):
    # carol has MAX_PER_UID + 1 sessions, each with its own agent process.
    for i in range(MAX_PER_UID + 1):
        w.logind.add_session("3%d" % i, "seat0", CAROL, "carol", False)
    agents = [w.agent(CAROL, "3%d" % i) for i in range(MAX_PER_UID)]
    for a in agents:
        wait_msg(a, vdipc.S_SESSION_STATE)
    conn = w.connect(CAROL, "3%d" % MAX_PER_UID)[0]
    code, message = error_code(conn, hello=False)
    assert code == vdipc.ERR_LIMIT, (code, message)
    # Other users are not affected.
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE)
    # One of carol's agents leaves: room again.
    agents[0].close()
    time.sleep(0.3)
    conn = w.connect(CAROL, "3%d" % MAX_PER_UID)[0]
    conn.hello(software="carol again")
    wait_msg(conn, vdipc.S_SESSION_STATE)


def case_total_cap(w, state):
    # Root's connections are not capped per uid, only in all: MAX_CONNECTIONS root agents, each in
    # its own session, then one more connection from anybody is refused.
    for i in range(MAX_CONNECTIONS):
        w.logind.add_session("9%02d" % i, "seat0", 0, "root", False)
    agents = []
    for i in range(MAX_CONNECTIONS):
        agents.append(w.agent(0, "9%02d" % i))
    conn = w.connect(ALICE, "1")[0]
    code, message = error_code(conn, hello=False)
    assert code == vdipc.ERR_LIMIT, (code, message)
    agents[0].close()
    time.sleep(0.3)
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE)


def case_session_end_drops_agent(w, state):
    a = w.agent(ALICE, "1")
    b = w.agent(BOB, "2")
    wait_msg(b, vdipc.S_SESSION_STATE)
    w.logind.remove_session("2")
    code, message = error_code(b, hello=False)
    assert code == vdipc.ERR_NOT_ACTIVE, (code, message)
    # alice's agent is not affected.
    w.host_grab()
    wait_msg(a, vdipc.S_CLIPBOARD_GRAB)


def case_logind_restart(w, state):
    a = w.agent(ALICE, "1")
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"])
    w.host_clipboard_ready()
    # logind gone: nobody can say who is in front, so nobody is (fail closed); agents stay.
    w.logind.stop()
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: not m["active"])
    w.host_grab()
    quiet(a, (vdipc.S_CLIPBOARD_GRAB,))
    # Back, with the same sessions: alice's agent is the active one again, without reconnecting.
    w.logind = LogindMock(w.bus, w.sessions)
    wait_msg(a, vdipc.S_SESSION_STATE, pred=lambda m: m["active"], timeout=10)
    w.host_grab()
    wait_msg(a, vdipc.S_CLIPBOARD_GRAB)


# (name, function, world: "new" for a fresh daemon, "same" to continue the previous case's)
CASES = [
    ("agents of both users accepted; only the active session's agent gets host grabs and monitor "
     "configs", case_only_active_gets_host_data, "new"),
    ("only the active session's grabs reach the host", case_only_active_grabs_reach_host, "same"),
    ("switching the active session releases the old grabs to the host and sends the cached monitor "
     "config to the new agent", case_switch, "same"),
    ("a locked session gets no files (host sees SESSION_LOCKED); unlocked it does", case_locked_gets_no_files, "new"),
    ("an agent whose uid does not own its session is refused", case_not_owner_refused, "new"),
    ("a second agent for the same session is refused", case_second_agent_refused, "new"),
    ("an agent of the user's service manager serves the user's display session", case_user_service_agent, "new"),
    ("an agent that sends garbage is dropped", case_garbage_dropped, "new"),
    ("an agent that never says HELLO is dropped after the deadline", case_no_hello_dropped, "new"),
    ("an agent whose session ends is dropped", case_session_end_drops_agent, "new"),
    ("logind gone: no session is active, agents stay; back: the active one gets data again",
     case_logind_restart, "new"),
    ("connections per user are capped at %d" % MAX_PER_UID, case_per_uid_cap, "new"),
    ("connections in all are capped at %d" % MAX_CONNECTIONS, case_total_cap, "new"),
]


def main():
    tap = Tap(plan=len(CASES))
    if not os.path.exists(VDAGENTD):
        for name, _, _ in CASES:
            tap.skip(name, "vdagentd not built (%s)" % VDAGENTD)
        return 0
    if os.geteuid() != 0:
        for name, _, _ in CASES:
            tap.skip(name, "needs root (agents run as other uids through setpriv)")
        return 0
    bus = PrivateBus()
    world = None
    state = {}
    broken = None  # why the current world cannot go on
    tap.after_failure = lambda: diag("--- vdagentd log ---\n" + world.daemon_log_text()[-6000:])
    try:
        only = {int(a) for a in sys.argv[1:]}  # case numbers, for debugging
        for i, (name, fn, kind) in enumerate(CASES, 1):
            if only and i not in only and not any(j > i and CASES[j - 1][2] == "same" and
                                                  all(CASES[k - 1][2] == "same" for k in range(i + 1, j + 1))
                                                  for j in only):
                tap.skip(name, "not selected")
                continue
            if kind == "new" or world is None:
                if world:
                    world.close()
                world, state, broken = None, {}, None
                try:
                    world = World(bus)
                except Exception as e:
                    broken = "setup failed: %s" % e
                    diag(traceback.format_exc())
            if broken:
                tap.fail(name, broken)
                continue
            if not tap.run(name, fn, world, state):
                broken = "an earlier step of this scenario failed"
    finally:
        if world:
            world.close()
        bus.stop()
    return tap.status()


if __name__ == "__main__":
    sys.exit(main())
