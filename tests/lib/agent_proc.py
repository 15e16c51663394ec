# SPDX-License-Identifier: GPL-3.0-or-later
"""agent_proc — connects to vdagentd's session socket as whoever runs it, and hands the connections
to the test that started it.

    setpriv --reuid=UID --regid=GID --clear-groups /usr/bin/python3 agent_proc.py SOCKET [N]

Standard input is a Unix socket to the test. The test first maps our pid to a logind session in
the mock, then writes one line; we connect N times (default 1) and send the connected sockets
back over standard input (SCM_RIGHTS). Then we wait until the test closes its end, so that the
daemon keeps seeing us, the peer, alive. Stdlib only: this runs as a throw-away uid.
"""

import array
import socket
import sys


def main():
    path = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    ctl = socket.socket(fileno=0)
    if not ctl.recv(64):
        return 1
    conns = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        conns.append(s)
    fds = array.array("i", [s.fileno() for s in conns])
    ctl.sendmsg([b"%d" % count], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    for s in conns:
        s.close()  # the test holds them now
    while ctl.recv(64):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
