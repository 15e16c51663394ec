# SPDX-License-Identifier: GPL-3.0-or-later
"""daemonlib — the names the daemon suites used before tests/lib became the one place for them.

The launcher is tests/lib/daemon.py (Vdagentd) and the TAP runner tests/lib/vdtest.py (Tap); this
module only maps the old names onto them, for tests written against it while that moved. New tests
import daemon and vdtest."""
import vdtest
from daemon import *  # noqa: F401,F403
from daemon import Vdagentd


class Tap(vdtest.Tap):
    def done(self):
        self.finish()


def Daemon(port, tracking="none", extra=(), env=None, tmp=None):  # noqa: N802 - the old class name
    """A started Vdagentd whose session socket exists."""
    d = Vdagentd(port, tmp, tracking, extra=extra, env=env)
    d.wait_socket(5)
    return d
