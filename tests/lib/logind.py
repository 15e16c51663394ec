# SPDX-License-Identifier: GPL-3.0-or-later
"""logind — a private system bus with python3-dbusmock's logind template on it, for tests.

    bus = PrivateBus()                        # dbus-daemon with tests/sessions/system-bus.conf
    logind = LogindMock(bus)                  # python3 -m dbusmock --system --template logind
    logind.add_session("1", "seat0", 1001, "alice", active=True)   # + SessionNew, as logind does
    logind.map_pid(pid, "1")                  # GetSessionByPID(pid) -> session 1
    logind.set_active("2")                    # the switch: old Active=false, new Active=true
    logind.set_locked_hint("2", True)
    logind.stop(); bus.stop()

Processes started with bus.env() see the private bus as their system bus
(DBUS_SYSTEM_BUS_ADDRESS). Needs /usr/bin/python3 with python3-dbusmock (and so dbus-python).
"""

import json
import os
import signal
import subprocess
import tempfile
import time

import dbus

LOGIND = "org.freedesktop.login1"
MANAGER_PATH = "/org/freedesktop/login1"
MANAGER_IFACE = LOGIND + ".Manager"
SESSION_PATH = "/org/freedesktop/login1/session/"
SESSION_IFACE = LOGIND + ".Session"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("VD_SOURCE_ROOT", os.path.join(HERE, "..", ".."))
# Shared with tests/sessions/test-sessions.c, which finds it there.
BUS_CONF = os.path.join(SOURCE_ROOT, "tests", "sessions", "system-bus.conf")
TEMPLATE = os.path.join(HERE, "logind_template.py")


def _die_with_parent():
    # PR_SET_PDEATHSIG through prctl(2): no orphaned daemons if the test dies.
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class PrivateBus:
    """A dbus-daemon of our own, configured like a system bus that lets anyone own any name."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vd-bus-")
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--config-file=" + BUS_CONF, "--address=unix:path=%s/bus" % self.dir,
             "--print-address", "--nofork"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.address = self.proc.stdout.readline().decode().strip()  # printed once it listens
        if not self.address:
            raise RuntimeError("dbus-daemon did not start")
        self.conn = dbus.bus.BusConnection(self.address)

    def env(self, base=None):
        e = dict(os.environ if base is None else base)
        e["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        return e

    def has_owner(self, name):
        return bool(self.conn.name_has_owner(name))

    def stop(self):
        try:
            self.conn.close()
        except Exception:
            pass
        self.proc.terminate()
        self.proc.wait(5)
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)


class LogindMock:
    """python3-dbusmock's logind template with GetSessionByPID (logind_template.py). sessions:
    (id, seat, uid, user, active) tuples present before the mock answers its first call."""

    def __init__(self, bus, sessions=(), timeout=10.0):
        self.bus = bus
        self.log = open(os.path.join(bus.dir, "logind-mock.log"), "ab")
        params = json.dumps({"sessions": [list(s) for s in sessions]})
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "dbusmock", "--system", "--template", TEMPLATE, "-p", params],
            env=bus.env(), stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not bus.has_owner(LOGIND):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the logind mock did not start")
            time.sleep(0.02)
        self.manager = self._obj(MANAGER_PATH)

    def _obj(self, path):
        return self.bus.conn.get_object(LOGIND, path, introspect=False)

    def _mock(self, path):
        return dbus.Interface(self._obj(path), MOCK_IFACE)

    def add_session(self, session_id, seat, uid, user, active=False, announce=True):
        self._mock(MANAGER_PATH).AddSession(session_id, seat, dbus.UInt32(uid), user, active)
        if announce:
            self._mock(MANAGER_PATH).EmitSignal(MANAGER_IFACE, "SessionNew", "so",
                                                [session_id, dbus.ObjectPath(SESSION_PATH + session_id)])

    def remove_session(self, session_id):
        self._mock(MANAGER_PATH).RemoveObject(SESSION_PATH + session_id)
        self._mock(MANAGER_PATH).EmitSignal(MANAGER_IFACE, "SessionRemoved", "so",
                                            [session_id, dbus.ObjectPath(SESSION_PATH + session_id)])

    def set_props(self, session_id, **props):
        # The signature must be given: dbus-python would guess a{sb} from a first boolean.
        self._mock(SESSION_PATH + session_id).UpdateProperties(
            SESSION_IFACE, dbus.Dictionary(props, signature="sv"))

    def set_active(self, session_id, seat="seat0"):
        """Makes session_id the active one of seat, as logind does on a VT switch: the old one
        reports Active=false, then the new one Active=true."""
        seat_obj = self._obj("/org/freedesktop/login1/seat/" + seat)
        for sid, _ in seat_obj.Get(LOGIND + ".Seat", "Sessions", dbus_interface=dbus.PROPERTIES_IFACE):
            if sid != session_id and self._obj(SESSION_PATH + sid).Get(
                    SESSION_IFACE, "Active", dbus_interface=dbus.PROPERTIES_IFACE):
                self.set_props(sid, Active=False, State="online")
        self.set_props(session_id, Active=True, State="active")

    def set_locked_hint(self, session_id, locked):
        self.set_props(session_id, LockedHint=dbus.Boolean(locked))

    def lock(self, session_id):
        """loginctl lock-session: logind emits Lock on the session."""
        dbus.Interface(self._obj(SESSION_PATH + session_id), SESSION_IFACE).Lock()

    def unlock(self, session_id):
        dbus.Interface(self._obj(SESSION_PATH + session_id), SESSION_IFACE).Unlock()

    def map_pid(self, pid, session_id):
        dbus.Interface(self.manager, "org.vdagent.Test").MapPid(dbus.UInt32(pid), session_id)

    def map_user_pid(self, pid, uid):
        """pid is in no session, but belongs to uid (a process of uid's service manager)."""
        dbus.Interface(self.manager, "org.vdagent.Test").MapUserPid(dbus.UInt32(pid), dbus.UInt32(uid))

    def set_user_display(self, uid, session_id):
        """uid's graphical session, as logind's User.Display (None: none)."""
        path = SESSION_PATH + session_id if session_id else "/"
        self._obj("/org/freedesktop/login1/user/%d" % uid).Set(
            LOGIND + ".User", "Display", dbus.Struct((session_id or "", dbus.ObjectPath(path)), signature="so",
                                                     variant_level=1), dbus_interface=dbus.PROPERTIES_IFACE)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.log.close()
