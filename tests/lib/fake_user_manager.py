# SPDX-License-Identifier: GPL-3.0-or-later
"""fake_user_manager — stands in for a systemd user manager's private socket
($XDG_RUNTIME_DIR/systemd/private) in tests of the session agent's hand-over (src/session/launch.c):
a peer-to-peer D-Bus server answering org.freedesktop.systemd1.Manager's SetEnvironment,
UnsetAndSetEnvironment and StartUnit, and writing each call it gets as one JSON line to a log. A
real user manager cannot run in the test machine; the booted guest of tests/vm has the real one.

    /usr/bin/python3 fake_user_manager.py SOCKET LOG ok|nosuchunit|masked
    /usr/bin/python3 fake_user_manager.py SOCKET LOG run UNIT-ARGV...

run: the first StartUnit also starts "the unit": UNIT-ARGV, in this process's environment changed
by the environment calls it got (as a manager runs a unit in its own environment), its output to
LOG.unit. Later StartUnits find it running and start nothing, as systemd's do.
"""
import json
import os
import subprocess
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

XML = """<node><interface name="org.freedesktop.systemd1.Manager">
<method name="SetEnvironment"><arg type="as" direction="in"/></method>
<method name="UnsetAndSetEnvironment"><arg type="as" direction="in"/><arg type="as" direction="in"/></method>
<method name="StartUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/>
<arg type="o" direction="out"/></method></interface></node>"""

ERRORS = {"nosuchunit": ("org.freedesktop.systemd1.NoSuchUnit", "Unit vdagent.service not found."),
          "masked": ("org.freedesktop.systemd1.UnitMasked", "Unit vdagent.service is masked.")}


def main():
    path, log_path, mode = sys.argv[1:4]
    unit_argv = sys.argv[4:]
    log = open(log_path, "a", buffering=1)
    iface = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
    environment = dict(os.environ)
    unit = []

    def on_call(conn, sender, obj, iface_name, method, params, invocation):
        args = params.unpack()
        log.write(json.dumps({"path": obj, "method": method, "args": args}) + "\n")
        if method == "UnsetAndSetEnvironment":
            for name in args[0]:
                environment.pop(name, None)
        if method in ("SetEnvironment", "UnsetAndSetEnvironment"):
            for assignment in args[-1]:
                name, _, value = assignment.partition("=")
                environment[name] = value
        if method == "StartUnit" and mode in ERRORS:
            invocation.return_dbus_error(*ERRORS[mode])
        elif method == "StartUnit":
            if mode == "run" and not unit:
                unit.append(subprocess.Popen(unit_argv, env=environment, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=open(log_path + ".unit", "wb")))
            invocation.return_value(GLib.Variant("(o)", ("/org/freedesktop/systemd1/job/42",)))
        else:
            invocation.return_value(None)

    connections = []  # PyGObject drops (and closes) a connection nobody refers to

    def on_connection(server, conn):
        connections.append(conn)
        conn.register_object("/org/freedesktop/systemd1", iface, on_call, None, None)
        return True

    address = "unix:path=" + Gio.dbus_address_escape_value(path)
    server = Gio.DBusServer.new_sync(address, Gio.DBusServerFlags.NONE, Gio.dbus_generate_guid(), None, None)
    server.connect("new-connection", on_connection)
    server.start()
    print("ready", flush=True)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, lambda: loop.quit() or False)
    loop = GLib.MainLoop()
    loop.run()
    for p in unit:  # the manager stops its units when it goes
        p.terminate()
        p.wait(10)


if __name__ == "__main__":
    main()
