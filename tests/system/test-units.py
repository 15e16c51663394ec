#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd-analyze verify on the units we install (as configured by meson), with ExecStart
pointed at the binaries just built (verify insists that they exist)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

build_root = os.environ["VD_BUILD_ROOT"]
unit_dir = os.path.join(build_root, "data", "systemd")
src_dir = os.path.join(os.environ["VD_SOURCE_ROOT"], "data", "systemd")
vdagentd = os.environ["VDAGENTD"]
vdagent = os.path.join(build_root, "src", "session", "vdagent")
if not os.path.exists(vdagent):
    vdagent = "/bin/true"

n = 0
failed = 0


def check(name, ok, detail=""):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, name))
    if detail and not ok:
        for line in detail.splitlines():
            print("# " + line)


with tempfile.TemporaryDirectory() as tmp:
    system = os.path.join(tmp, "system")
    user = os.path.join(tmp, "user")
    os.makedirs(system)
    os.makedirs(user)
    for name, dest in (("vdagentd.service", system), ("vdagent.service", user)):
        text = open(os.path.join(unit_dir, name)).read()
        text = re.sub(r"^ExecStart=\S*/vdagentd", "ExecStart=" + vdagentd, text, flags=re.M)
        text = re.sub(r"^ExecStart=\S*/vdagent ", "ExecStart=" + vdagent + " ", text, flags=re.M)
        open(os.path.join(dest, name), "w").write(text)
    shutil.copy(os.path.join(src_dir, "vdagentd.socket"), system)

    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice")
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        os.path.join(system, "vdagentd.service"), os.path.join(system, "vdagentd.socket")],
                       capture_output=True, text=True, env=env, cwd=system)
    out = (r.stdout + r.stderr).strip()
    # Complaints about units we do not ship (the host's own unit files) are not ours.
    ours = [l for l in out.splitlines() if "vdagent" in l]
    check("systemd-analyze verify vdagentd.service vdagentd.socket", r.returncode == 0 and not ours, out)

    runtime = os.path.join(tmp, "runtime")
    os.makedirs(runtime, mode=0o700)
    user_env = dict(env, XDG_RUNTIME_DIR=runtime)
    r = subprocess.run(["systemd-analyze", "--user", "verify", "--man=no", os.path.join(user, "vdagent.service")],
                       capture_output=True, text=True, env=user_env, cwd=user)
    out = (r.stdout + r.stderr).strip()
    ours = [l for l in out.splitlines() if "vdagent" in l]
    # Without a user manager (CI containers) --user verify cannot run at all: say so, not pass.
    if "Failed to" in out and "user" in out.lower() and not ours:
        print("ok %d - systemd-analyze --user verify vdagent.service # SKIP no user manager: %s" % (n + 1, out.splitlines()[0]))
        n += 1
    else:
        check("systemd-analyze --user verify vdagent.service", r.returncode == 0 and not ours, out)

    service = open(os.path.join(system, "vdagentd.service")).read()
    check("vdagentd.service is Type=notify and restarts on failure",
          "Type=notify" in service and "Restart=on-failure" in service)
    check("vdagentd.service runs vdagentd in the foreground", "--foreground" in service)
    user_unit = open(os.path.join(user, "vdagent.service")).read()
    check("vdagent.service belongs to graphical-session.target",
          "WantedBy=graphical-session.target" in user_unit and "Restart=on-failure" in user_unit)
    rules = open(os.path.join(src_dir, "70-vdagentd.rules")).read()
    check("the udev rule starts vdagentd for the agent port",
          'ATTR{name}=="com.redhat.spice.0"' in rules and 'SYSTEMD_WANTS}+="vdagentd.service"' in rules)

print("1..%d" % n)
sys.exit(1 if failed else 0)
