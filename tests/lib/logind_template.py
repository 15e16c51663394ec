# SPDX-License-Identifier: GPL-3.0-or-later
'''python3-dbusmock's logind template, plus what our tests need from logind:

- sessions present from the start (parameter "sessions": [[id, seat, uid, user, active], …]), as
  a restarted logind has its sessions before it takes its bus name (the mock takes the name before
  loading the template, but answers no call before the template is loaded);
- Manager.GetSessionByPID, answered from a pid map set with org.vdagent.Test.MapPid(pid, id);
- Manager.GetUserByPID, answered from a pid map set with org.vdagent.Test.MapUserPid(pid, uid), for
  processes in no session (those of the user's service manager, such as the vdagent.service unit).

Used as `/usr/bin/python3 -m dbusmock --system --template tests/lib/logind_template.py -p JSON`
(tests/lib/logind.py's LogindMock).
'''

import dbus

# Everything of the stock template: its constants, its methods, its Mock convenience methods.
from dbusmock.templates.logind import *  # noqa: F401,F403 pylint: disable=wildcard-import,unused-wildcard-import
from dbusmock.templates import logind as _stock

TEST_IFACE = 'org.vdagent.Test'


def load(mock, parameters):
    _stock.load(mock, parameters)
    mock.vd_pids = {}
    for session_id, seat, uid, user, active in parameters.get('sessions', []):
        mock.AddSession(session_id, seat, dbus.UInt32(uid), user, active)


@dbus.service.method(_stock.MAIN_IFACE, in_signature='u', out_signature='o')
def GetSessionByPID(self, pid):
    session_id = getattr(self, 'vd_pids', {}).get(int(pid))
    if session_id is None:
        raise dbus.exceptions.DBusException(f'PID {pid} does not belong to any known session',
                                            name='org.freedesktop.login1.NoSessionForPID')
    return dbus.ObjectPath('/org/freedesktop/login1/session/' + session_id)


@dbus.service.method(TEST_IFACE, in_signature='us', out_signature='')
def MapPid(self, pid, session_id):
    if not hasattr(self, 'vd_pids'):
        self.vd_pids = {}
    self.vd_pids[int(pid)] = str(session_id)


@dbus.service.method(_stock.MAIN_IFACE, in_signature='u', out_signature='o')
def GetUserByPID(self, pid):
    uid = getattr(self, 'vd_user_pids', {}).get(int(pid))
    if uid is None:
        raise dbus.exceptions.DBusException(f'PID {pid} does not belong to any known or logged in user',
                                            name='org.freedesktop.login1.NoUserForPID')
    return dbus.ObjectPath(f'/org/freedesktop/login1/user/{uid}')


@dbus.service.method(TEST_IFACE, in_signature='uu', out_signature='')
def MapUserPid(self, pid, uid):
    if not hasattr(self, 'vd_user_pids'):
        self.vd_user_pids = {}
    self.vd_user_pids[int(pid)] = int(uid)
