# SPDX-License-Identifier: GPL-3.0-or-later
"""unixsock — the Unix-socket plumbing under the tests' protocol libraries (vdipc.py, vdwire.py):
a listening socket at a path, accepting with a timeout, and reading until a decoder has a whole
message, each with a deadline. /usr/bin/python3, stdlib only.
"""

import os
import select
import socket
import time


def listen(path, backlog):
    """A Unix stream socket listening at path (a stale file there is removed first)."""
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(backlog)
    return listener


def accept(listener, path, timeout):
    """The next connection to listener; TimeoutError after timeout seconds."""
    r, _, _ = select.select([listener], [], [], timeout)
    if not r:
        raise TimeoutError("no agent connected to %s within %.1fs" % (path, timeout))
    sock, _ = listener.accept()
    return sock


def close_listener(listener, path):
    """Closes listener and removes its path."""
    listener.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_until(sock, ready, feed, timeout, bufsize, none_in_time, eof):
    """Reads sock, handing each chunk to feed(data), until ready() is true. Raises
    TimeoutError(none_in_time) after timeout seconds, ConnectionError(eof) if the peer closes."""
    deadline = time.monotonic() + timeout
    while not ready():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(none_in_time)
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        data = sock.recv(bufsize)
        if not data:
            raise ConnectionError(eof)
        feed(data)
