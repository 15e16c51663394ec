# SPDX-License-Identifier: GPL-3.0-or-later
"""vdtest — the plumbing every Python integration test shares (/usr/bin/python3, stdlib only).

- TAP reporting: Tap runs cases in order (or takes ok(cond, name) results) and prints `ok N - name`,
  `not ok N - name` with the traceback as `# ` diagnostics, or `ok N - name # SKIP why` when a case
  raises Skip; diag() prints diagnostics.
- Waiting: wait_for() polls a predicate, wait_path() waits for a socket or file that a child creates,
  received_within() collects what a peer sends within a window.
- Processes: stop_process() ends a child politely, then by force; read_text() reads a child's log.
- /proc figures: proc_status() (VmHWM, VmRSS, Threads, …), peak_rss_kib(), and sanitized(), whether
  memory figures mean anything in this build (VD_SANITIZED from tests/meson.build, else the binary).

Timeouts are the caller's: every helper takes them as arguments.
"""

import os
import signal
import subprocess
import sys
import time
import traceback


class Skip(Exception):
    """Raised by a case that cannot run here; Tap reports it as `ok N - name # SKIP <reason>`."""


def diag(text):
    """Prints text as TAP diagnostics, one `# ` line per line."""
    for line in str(text).splitlines():
        print("# " + line)
    sys.stdout.flush()


class Tap:
    """Runs cases in order, numbering them from 1.

    plan: print `1..plan` now (the count is known up front); else finish() prints `1..N` last.
    timing: append ` (1.2 s)` to the names of passing cases.
    after_failure: called (with no argument) after a failing case's traceback, for more diagnostics.
    terse: exception classes whose message says it all: printed instead of the traceback.
    """

    def __init__(self, plan=None, timing=False, after_failure=None, terse=()):
        self.n = 0
        self.failed = 0
        self.planned = False
        self.timing = timing
        self.after_failure = after_failure
        self.terse = tuple(terse)
        if plan is not None:
            self.plan(plan)

    def plan(self, count):
        """Prints the plan `1..count` now, before the cases; finish() then prints none."""
        self.planned = True
        print("1..%d" % count, flush=True)

    def run(self, name, fn, *args):
        """Runs fn(*args) as case `name`; -> True unless it failed (a SKIP is no failure)."""
        self.n += 1
        t0 = time.monotonic()
        try:
            fn(*args)
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (self.n, name, e), flush=True)
            return True
        except Exception as e:  # noqa: BLE001 - a case's failure, reported, then the next case
            self.failed += 1
            print("not ok %d - %s" % (self.n, name), flush=True)
            diag(str(e) if isinstance(e, self.terse) else traceback.format_exc())
            if self.after_failure:
                self.after_failure()
            return False
        if self.timing:
            print("ok %d - %s (%.1f s)" % (self.n, name, time.monotonic() - t0), flush=True)
        else:
            print("ok %d - %s" % (self.n, name), flush=True)
        return True

    def run_all(self, cases, first_is_setup=False):
        """Runs the (name, fn) cases in order; with first_is_setup, none after a failed first one."""
        for i, (name, fn) in enumerate(cases):
            if not self.run(name, fn) and first_is_setup and i == 0:
                break

    def skip(self, name, why):
        """Reports case `name` as skipped without running it."""
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why), flush=True)

    def ok(self, cond, name, detail=""):
        """Reports case `name` as passed if cond, else failed with detail as diagnostics; -> cond."""
        if cond:
            self.n += 1
            print("ok %d - %s" % (self.n, name), flush=True)
        else:
            self.fail(name, detail)
        return cond

    def fail(self, name, why):
        """Reports case `name` as failed without running it (its setup failed), why as diagnostics."""
        self.n += 1
        self.failed += 1
        print("not ok %d - %s" % (self.n, name), flush=True)
        diag(why)

    def status(self):
        """The exit status for the whole run: 1 if a case failed, else 0."""
        return 1 if self.failed else 0

    def finish(self):
        """Prints the plan if it was not printed first, and exits with status()."""
        if not self.planned:
            print("1..%d" % self.n, flush=True)
        sys.exit(self.status())


def wait_for(pred, timeout=5.0, interval=0.02, what="condition"):
    """Polls pred() every interval seconds until it returns something true, and returns that;
    raises AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def received_within(recv, seconds):
    """Yields what recv(timeout) returns until seconds have passed or recv raises TimeoutError:
    everything a peer sends within a window (to assert that some of it never comes)."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            item = recv(left)
        except TimeoutError:
            return
        yield item


def wait_path(path, proc=None, timeout=10.0, what=None, error=AssertionError):
    """Waits until path exists (a socket or file a child creates); raises error(message) if proc
    exits first or after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise error(what or "%s did not appear" % path)
        time.sleep(0.02)


def stop_process(proc, timeout=10.0, sig=signal.SIGTERM):
    """Sends sig to a running child, waits up to timeout seconds, then kills it.
    -> True if it exited on sig (or had exited already), False if it had to be killed."""
    if proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def read_text(path):
    """A log file's text, undecodable bytes replaced."""
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def proc_status(pid, field):
    """A numeric field of /proc/PID/status (VmHWM, VmRSS in KiB, Threads, …); KeyError if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def root_is_mount_point():
    """Whether this process's / is a mount point. In a chroot (a fresh machine's test run) it is
    not: mountinfo then lists no mount at "/" (os.path.ismount("/") is always true, so it cannot
    tell)."""
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == "/" for line in f if len(line.split()) > 4)
    except OSError:
        return False


def need_private_mount_ns():
    """Skip unless `unshare -m` can make a private mount namespace here. In a chroot (a fresh
    machine's test run) the root is no mount point, and unshare cannot make its propagation
    private: mounting there would reach the machine's own namespace, so such cases do not run."""
    if not root_is_mount_point():
        raise Skip("/ is not a mount point (a chroot): no private mount namespace for this case")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("no private mount namespace: %s" % r.stderr.strip())


def peak_rss_kib(pid):
    """The process's peak resident set size so far (VmHWM), in KiB."""
    return proc_status(pid, "VmHWM")


def reset_peak_rss(pid):
    """Starts pid's VmHWM afresh from its current RSS (writing 5 to /proc/PID/clear_refs, Linux
    >= 4.0); -> that RSS in KiB. A peak measured after it is what one operation cost on top of
    what the process already held: its shared-library pages and earlier allocations do not count."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")
    return proc_status(pid, "VmRSS")


def sanitized(binary=None):
    """Whether this is an ASan build, where RSS figures mean nothing (freed memory sits in
    quarantine): VD_SANITIZED as tests/meson.build sets it, else whether binary links ASan."""
    flag = os.environ.get("VD_SANITIZED")
    if flag in ("0", "1"):
        return flag == "1"
    if binary is None:
        return False
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False
