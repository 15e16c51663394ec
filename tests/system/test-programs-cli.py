#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""test-programs-cli.py — what the three programs have in common on the command line (issue 11):
the same short options for the same meanings (-h help, -V version, -d debug and -x foreground
where they exist), and a usage error is one line saying what is wrong, one line pointing at
--help, and exit status 2."""
import os
import subprocess

from vdtest import Tap  # noqa: E402

BUILD = os.environ["VD_BUILD_ROOT"]
PROGRAMS = {
    "vdagentd": os.path.join(BUILD, "src", "system", "vdagentd"),
    "vdagent": os.path.join(BUILD, "src", "session", "vdagent"),
    "vdagent-ctl": os.path.join(BUILD, "src", "ctl", "vdagent-ctl"),
}
tap = Tap()


def run(name, *args):
    return subprocess.run([PROGRAMS[name]] + list(args), capture_output=True, text=True, timeout=10,
                          env=dict(os.environ, LC_ALL="C"))


def test_version():
    for name in PROGRAMS:
        for opt in ("-V", "--version"):
            r = run(name, opt)
            assert r.returncode == 0 and r.stdout.startswith(name + " "), (name, opt, r)


def test_help():
    for name in PROGRAMS:
        r = run(name, "-h")
        assert r.returncode == 0 and "--version" in r.stdout, (name, r)
    for name in ("vdagentd", "vdagent"):
        out = run(name, "--help").stdout
        for short, long in (("-d", "--debug"), ("-x", "--foreground"), ("-V", "--version")):
            assert "%s, %s" % (short, long) in out, (name, short, long, out)


def check_usage_error(name, args, what):
    r = run(name, *args)
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (name, args, r)
    assert len(lines) == 2 and lines[0].startswith(name + ": ") and what in lines[0], (name, args, r.stderr)
    assert lines[1] == "Try '%s --help' for more information." % name, (name, args, r.stderr)
    assert r.stdout == "", (name, args, r.stdout)


def test_usage_errors():
    for name in PROGRAMS:
        check_usage_error(name, ["--no-such-option"], "no-such-option")
    check_usage_error("vdagentd", ["surplus"], "surplus")
    check_usage_error("vdagent", ["surplus"], "surplus")
    check_usage_error("vdagent-ctl", ["no-such-command"], "no-such-command")
    check_usage_error("vdagentd", ["--session-tracking", "consolekit"], "consolekit")
    check_usage_error("vdagent", ["--audio", "loud"], "loud")
    check_usage_error("vdagent-ctl", ["mouse", "1"], "mouse")


tap.run("-V and --version print the program's name and version", test_version)
tap.run("-h prints help; -d, -x and -V mean the same in vdagentd and vdagent", test_help)
tap.run("a usage error is one line, a hint to --help, and exit status 2, in every program", test_usage_errors)
tap.finish()
