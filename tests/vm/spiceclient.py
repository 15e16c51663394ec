# SPDX-License-Identifier: GPL-3.0-or-later
"""Drives tests/vm/spice-client (a headless spice-client-glib-2.0 viewer) over its line protocol."""
import subprocess
import threading
import time

from vmlib import VMError


class SpiceClient:
    """tests/vm/spice-client driven over its stdin/stdout line protocol."""

    def __init__(self, exe, uri, log_path):
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen([exe, uri], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1)
        self.lines = []
        self.events = []
        self.closed = False
        self.next_id = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()
        if self._wait_line(lambda l: l == "ready", 10) is None:
            raise VMError("spice-client did not start")

    def _reader(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.log.write(f"< {line}\n")
            self.log.flush()
            with self.cond:
                if line.startswith("event "):
                    self.events.append(line[6:].split(" "))
                else:
                    self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _wait_line(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, line in enumerate(self.lines):
                    if pred(line):
                        return self.lines.pop(i)
                left = deadline - time.monotonic()
                if self.closed:
                    raise VMError("spice-client exited")
                if left <= 0:
                    return None
                self.cond.wait(left)

    def cmd(self, line, timeout=30):
        """Sends a command; returns the text after 'ok', raises VMError on 'err' or no reply in time."""
        self.next_id += 1
        cid = str(self.next_id)
        self.log.write(f"> {cid} {line}\n")
        self.log.flush()
        self.proc.stdin.write(f"{cid} {line}\n")
        self.proc.stdin.flush()
        r = self._wait_line(lambda l: l.split(" ", 1)[0] == cid, timeout)
        if r is None:
            raise VMError(f"spice-client: no reply to '{line[:60]}' in {timeout} s")
        r = r.split(" ", 1)[1] if " " in r else ""
        if r.startswith("ok"):
            return r[2:].strip()
        raise VMError(f"spice-client {line.split()[0]}: {r}")

    def wait_event(self, pred, timeout):
        """Waits for an event (list of words) matching pred; returns it or None. Consumes it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, ev in enumerate(self.events):
                    if pred(ev):
                        return self.events.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def clear_events(self):
        with self.cond:
            self.events.clear()

    def close(self):
        try:
            self.proc.stdin.write("999999 quit\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
