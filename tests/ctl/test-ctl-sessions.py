#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vdagent-ctl with logind session tracking: the real vdagentd on a private bus where
python3-dbusmock plays logind (the World of tests/lib/sessionworld.py: alice's
session 1 active, bob's session 2 not), agents connecting as throw-away uids, and the real
vdagent-ctl asked about sessions and agents as they come, switch and lock, and injecting a
clipboard offer that only the active session's agent may see.
Without root or python3-dbusmock every case is reported as SKIP with the reason."""
import json
import os
import re
import subprocess
import sys

import vdipc
import vdwire
from daemon import VDAGENTD
from vdtest import Tap, diag, wait_for

CTL = os.environ.get("VDAGENT_CTL") or os.path.join(os.environ.get("VD_BUILD_ROOT", "build"), "src", "ctl",
                                                    "vdagent-ctl")

try:
    import sessionworld as S
    from logind import PrivateBus
    missing = None
except ImportError as e:  # python3-dbusmock or dbus-python absent
    missing = "cannot load the logind mock: %s" % e


def ctl(world, *args):
    p = subprocess.run([CTL, "--control", world.control] + list(args), capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    return p.stdout


def sessions(world):
    return json.loads(ctl(world, "sessions", "--json"))


def by_id(doc):
    return {s["id"]: s for s in doc["sessions"]}


def case_sessions_listed(world, state):
    doc = wait_for(lambda: (lambda d: d if len(d["sessions"]) == 2 else None)(sessions(world)),
                   5.0, 0.05, "two sessions")
    assert doc["session_tracking"] == "logind" and doc["agents"] == [], doc
    s = by_id(doc)
    assert s["1"]["uid"] == S.ALICE and s["1"]["user"] == "alice" and s["1"]["seat"] == "seat0", s
    assert s["1"]["active"] is True and s["2"]["active"] is False, s
    assert s["1"]["locked"] is False and s["1"]["agent"] is False and s["2"]["agent"] is False, s
    for k in ("class", "type", "state"):
        assert isinstance(s["1"][k], str), s["1"]
    assert isinstance(s["1"]["remote"], bool), s["1"]


def verdict(world):
    out = ctl(world, "status")
    first, blank = out.splitlines()[:2]
    assert blank == "", out
    return first


def case_verdict_no_agent(world, state):
    # The host is there and offers the clipboard; alice's session is active and has no agent.
    assert verdict(world) == "clipboard: unavailable: no session agent for the active session (seat0, session 1, " \
        "alice)", verdict(world)


def case_agent_shows(world, state):
    state["alice"] = world.agent(S.ALICE, "1")
    doc = wait_for(lambda: (lambda d: d if d["agents"] and by_id(d)["1"]["agent"] else None)(sessions(world)),
                   5.0, 0.05, "alice's agent in the status")
    assert not by_id(doc)["2"]["agent"], doc
    a = doc["agents"][0]
    assert a["session"] == "1" and a["uid"] == S.ALICE and a["active"] is True and a["state"] == "ready", a
    assert a["software"] == "test-agent uid %d" % S.ALICE, a
    out = ctl(world, "sessions")
    assert "session_tracking  logind" in out, out
    head = next(l for l in out.splitlines() if l.strip().startswith("ID "))
    cols = head.split()
    assert cols[:4] == ["ID", "UID", "USER", "SEAT"] and "AGENT" in cols and "LOCKED" in cols, head
    row = next(l for l in out.splitlines() if re.match(r"^  1 ", l))
    assert row.split()[cols.index("AGENT")] == "yes" and row.split()[cols.index("USER")] == "alice", (head, row)
    v = wait_for(lambda: (lambda v: v if "working" in v else None)(verdict(world)), 5.0, 0.05, "a working verdict")
    assert v == "clipboard: working: the session agent for the active session (seat0, session 1, alice) (pid %d)" % (
        a["pid"]), v


def case_switch_and_lock(world, state):
    world.logind.set_active("2")
    state["bob"] = world.agent(S.BOB, "2")

    def switched():
        d = sessions(world)
        s = by_id(d)
        active = [a for a in d["agents"] if a["active"]]
        ok = s["2"]["active"] and not s["1"]["active"] and s["2"]["agent"] and s["1"]["agent"]
        return d if ok and len(d["agents"]) == 2 and [a["session"] for a in active] == ["2"] else None
    wait_for(switched, 5.0, 0.05, "session 2 active with both agents")
    assert "(seat0, session 2, bob)" in verdict(world), verdict(world)
    world.logind.set_locked_hint("2", True)
    wait_for(lambda: by_id(sessions(world))["2"]["locked"], 5.0, 0.05, "session 2 locked")
    world.logind.set_locked_hint("2", False)
    wait_for(lambda: not by_id(sessions(world))["2"]["locked"], 5.0, 0.05, "session 2 unlocked")


def case_clipboard_to_active_only(world, state):
    for conn in (state["alice"], state["bob"]):
        try:
            while True:
                conn.recv(0.2)
        except TimeoutError:
            pass
    ctl(world, "clipboard", "set", "for bob")
    g = S.wait_msg(state["bob"], vdipc.S_CLIPBOARD_GRAB)
    assert g == {"selection": 0, "types": [vdwire.CLIPBOARD_UTF8_TEXT]}, g
    try:
        t, m = state["alice"].recv(0.5)
        assert t != vdipc.S_CLIPBOARD_GRAB, ("the inactive session's agent saw the offer", m)
    except TimeoutError:
        pass
    state["bob"].send(vdipc.S_CLIPBOARD_REQUEST, selection=0, type=vdwire.CLIPBOARD_UTF8_TEXT)
    S.wait_msg(state["bob"], vdipc.S_CLIPBOARD_BEGIN)
    assert S.wait_msg(state["bob"], vdipc.S_CLIPBOARD_DATA)["data"] == b"for bob"


def errors(world):
    return json.loads(ctl(world, "status", "--json"))["counters"]["errors"]


def case_refusals_by_reason(world, state):
    """counters.errors: refused_no_session (a process in no logind session), refused_not_owner
    (bob claiming alice's session), refused_duplicate (a second agent for alice's session)."""
    for who, uid, sid, kind, code in (("no session", S.CAROL, None, "refused_no_session", vdipc.ERR_PERMISSION),
                                      ("not owner", S.BOB, "1", "refused_not_owner", vdipc.ERR_PERMISSION),
                                      ("duplicate", S.ALICE, "1", "refused_duplicate", vdipc.ERR_LIMIT)):
        e0 = errors(world)
        try:
            world.agent(uid, sid)
        except vdipc.PeerError as e:
            assert e.code == code, (who, e)
        else:
            raise AssertionError("%s: the agent was accepted" % who)
        e1 = wait_for(lambda: (lambda e: e if e[kind] == e0[kind] + 1 else None)(errors(world)), 5.0, 0.05,
                      "%s counted" % kind)
        assert e1["refused_agent"] == e0["refused_agent"] + 1, (who, e0, e1)
        others = [k for k in ("refused_no_session", "refused_not_owner", "refused_duplicate", "refused_limit")
                  if k != kind]
        assert all(e1[k] == e0[k] for k in others), (who, e0, e1)


CASES = [
    ("sessions --json lists logind's sessions, none with an agent yet", case_sessions_listed),
    ("status's first line: no session agent for the active session", case_verdict_no_agent),
    ("an agent shows in agents and as the session's agent, plain and JSON; the verdict says working",
     case_agent_shows),
    ("a switch and a lock show in sessions", case_switch_and_lock),
    ("clipboard set reaches the active session's agent only", case_clipboard_to_active_only),
    ("errors by reason: no session, not the owner, a second agent", case_refusals_by_reason),
]


def main():
    tap = Tap(plan=len(CASES))
    skip = missing
    if not skip and not os.path.exists(VDAGENTD):
        skip = "vdagentd not built (%s)" % VDAGENTD
    if not skip and os.geteuid() != 0:
        skip = "needs root (agents run as other uids through setpriv)"
    if skip:
        for name, _ in CASES:
            tap.skip(name, skip)
        return 0
    bus = PrivateBus()
    world = None
    state = {}
    try:
        world = S.World(bus)
        tap.after_failure = lambda: diag("--- vdagentd log ---\n" + world.daemon_log_text()[-4000:])
        for name, fn in CASES:
            tap.run(name, fn, world, state)
    finally:
        if world:
            world.close()
        bus.stop()
    return tap.status()


if __name__ == "__main__":
    sys.exit(main())
