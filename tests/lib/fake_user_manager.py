# SPDX-License-Identifier: GPL-3.0-or-later
"""fake_user_manager — stands in for a systemd user manager's private socket
($XDG_RUNTIME_DIR/systemd/private) in tests of the session agent's hand-over (src/session/launch.c):
a peer-to-peer D-Bus server answering org.freedesktop.systemd1.Manager's SetEnvironment and
StartUnit, and writing each call it gets as one JSON line to a log. A real user manager cannot run
in the test machine; the booted guest of tests/vm has the real one.

    /usr/bin/python3 fake_user_manager.py SOCKET LOG ok|nosuchunit|masked
"""
import json
import os
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

XML = """<node><interface name="org.freedesktop.systemd1.Manager">
<method name="SetEnvironment"><arg type="as" direction="in"/></method>
<method name="StartUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/>
<arg type="o" direction="out"/></method></interface></node>"""

ERRORS = {"nosuchunit": ("org.freedesktop.systemd1.NoSuchUnit", "Unit vdagent.service not found."),
          "masked": ("org.freedesktop.systemd1.UnitMasked", "Unit vdagent.service is masked.")}


def main():
    path, log_path, mode = sys.argv[1:4]
    log = open(log_path, "a", buffering=1)
    iface = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]

    def on_call(conn, sender, obj, iface_name, method, params, invocation):
        log.write(json.dumps({"path": obj, "method": method, "args": params.unpack()}) + "\n")
        if method == "StartUnit" and mode in ERRORS:
            invocation.return_dbus_error(*ERRORS[mode])
        elif method == "StartUnit":
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
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
