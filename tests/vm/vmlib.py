# SPDX-License-Identifier: GPL-3.0-or-later
"""Host side of the real-QEMU tests (tests/vm): builds the test initramfs, boots a guest, and drives it.

The guest runs the host's own root read-only over 9p, so it executes the binaries just built; commands reach it
through the virtio port vdtest.ctl (guest/ctl.py) and results come back through a writable 9p share.
Every step has a timeout; on failure `Guest.dump_logs()` prints the console and every log in the results share.
"""
import glob
import gzip
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("VD_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.path.abspath(os.environ.get("VD_BUILD_ROOT") or os.path.join(SOURCE_ROOT, "build", "normal"))
QEMU = "qemu-system-x86_64"
# Loaded in this order, each after its own dependencies (modinfo -F depends).
MODULES = ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "uinput", "evdev"]
BUSYBOX = "/bin/busybox"
BOOT_TIMEOUT = float(os.environ.get("VD_VM_BOOT_TIMEOUT", "120"))


class VMError(Exception):
    pass


def log(msg):
    """Progress as TAP comments (every line of a multi-line message)."""
    for line in str(msg).splitlines() or [""]:
        print(f"# {line}", flush=True)


def kernel():
    """(version, vmlinuz path) of the newest kernel in /boot that has its modules in /lib/modules."""
    found = []
    for path in glob.glob("/boot/vmlinuz-*"):
        version = path[len("/boot/vmlinuz-"):]
        if os.path.isdir(f"/lib/modules/{version}"):
            found.append((version, path))
    if not found:
        raise VMError("no kernel in /boot with modules in /lib/modules (install linux-image-amd64)")

    def key(item):
        return [int(x) if x.isdigit() else 0 for x in re.split(r"[.-]", item[0])]
    return sorted(found, key=key)[-1]


def resolve_modules(version, names):
    """[(name, file)] in load order: each module after its dependencies (modinfo -k VERSION -F depends)."""
    order, seen = [], set()

    def visit(name, depth=0):
        name = name.replace("-", "_")
        if name in seen:
            return
        if depth > 32:
            raise VMError(f"module dependency loop at {name}")
        seen.add(name)
        r = subprocess.run(["modinfo", "-k", version, "-F", "filename", name], capture_output=True, text=True)
        filename = r.stdout.strip()
        if r.returncode != 0 or not filename:
            raise VMError(f"modinfo -k {version} {name}: {r.stderr.strip() or 'not found'}")
        if filename == "(builtin)":
            return
        deps = subprocess.run(["modinfo", "-k", version, "-F", "depends", name], capture_output=True,
                              text=True, check=True).stdout.strip()
        for dep in filter(None, deps.split(",")):
            visit(dep, depth + 1)
        order.append((name, filename))

    for n in names:
        visit(n)
    return order


def initramfs(cache_dir, init=None, modules=None):
    """Builds (or reuses, keyed on the kernel version and inputs) the initramfs: (vmlinuz, path, version).
    init: the script that becomes /init (default guest/init); modules: what it loads (default MODULES)."""
    version, vmlinuz = kernel()
    init = init or os.path.join(HERE, "guest", "init")
    mods = resolve_modules(version, modules or MODULES)
    h = hashlib.sha256(init.encode() + b"\n")
    with open(init, "rb") as f:
        h.update(f.read())
    h.update(f"{os.path.getsize(BUSYBOX)}:{os.path.getmtime(BUSYBOX)}\n".encode())
    for name, path in mods:
        h.update(f"{name}:{path}:{os.path.getmtime(path)}\n".encode())
    out = os.path.join(cache_dir, f"initramfs-{version}-{h.hexdigest()[:12]}.cpio.gz")
    if os.path.exists(out):
        return vmlinuz, out, version
    if not os.path.exists(BUSYBOX):
        raise VMError(f"{BUSYBOX} missing (install busybox-static)")
    os.makedirs(cache_dir, exist_ok=True)
    stage = tempfile.mkdtemp(prefix="initramfs-", dir=cache_dir)
    try:
        for d in ("bin", "dev", "proc", "sys", "modules", "newroot"):
            os.makedirs(os.path.join(stage, d))
        shutil.copy2(BUSYBOX, os.path.join(stage, "bin", "busybox"))
        os.symlink("busybox", os.path.join(stage, "bin", "sh"))
        shutil.copy2(init, os.path.join(stage, "init"))
        for name, path in mods:
            dst = os.path.join(stage, "modules", name + ".ko")
            if path.endswith(".ko"):
                shutil.copy2(path, dst)
            elif path.endswith(".ko.xz"):
                with open(dst, "wb") as f:
                    subprocess.run(["xz", "-dc", path], stdout=f, check=True)
            elif path.endswith(".ko.zst"):
                subprocess.run(["zstd", "-qdf", path, "-o", dst], check=True)
            else:
                raise VMError(f"unknown module format: {path}")
        with open(os.path.join(stage, "modules.order"), "w") as f:
            f.write("\n".join(n for n, _ in mods) + "\n")
        files = subprocess.run("find . -print0 | sort -z", shell=True, cwd=stage, capture_output=True,
                               check=True).stdout
        cpio = subprocess.run(["cpio", "--null", "-o", "-H", "newc", "--quiet"], input=files, cwd=stage,
                              capture_output=True, check=True).stdout
        tmp = f"{out}.{os.getpid()}.tmp"
        with gzip.open(tmp, "wb", compresslevel=1) as f:
            f.write(cpio)
        os.rename(tmp, out)
        log(f"built {out} ({len(mods)} modules: {' '.join(n for n, _ in mods)})")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return vmlinuz, out, version


class Guest:
    """One QEMU guest. host: 'vnc' (qemu-vdagent + VNC), 'spice' (QEMU's SPICE server) or None;
    qga: add the QEMU guest agent channel (a Unix socket on the host)."""

    def __init__(self, name, host="vnc", qga=False, memory=1024, smp=None, own_session=False, display="VGA"):
        self.own_session = own_session  # QEMU out of our process group: a terminal's Ctrl-C does not kill it
        self.name = name
        self.display = display  # the -device of the graphics card, e.g. "virtio-vga,max_outputs=2"
        self.host = host
        self.qga = qga
        self.memory = memory
        self.smp = smp or int(os.environ.get("VD_VM_SMP", "1"))
        self.results = os.path.join(BUILD_ROOT, "tests", "vm", "results", name)
        shutil.rmtree(self.results, ignore_errors=True)
        os.makedirs(self.results)
        os.chmod(self.results, 0o777)
        # Unix socket paths must stay short (108 bytes): they live in their own directory under /tmp.
        self.sockdir = tempfile.mkdtemp(prefix="vdvm-")
        self.ctl_path = os.path.join(self.sockdir, "ctl.sock")
        self.vnc_path = os.path.join(self.sockdir, "vnc.sock")
        self.spice_path = os.path.join(self.sockdir, "spice.sock")
        self.qga_path = os.path.join(self.sockdir, "qga.sock")
        self.console = os.path.join(self.results, "console.log")
        self.proc = None
        self.ctl = None
        self.buf = b""
        self.next_id = 1

    def command(self):
        vmlinuz, initrd, _ = initramfs(os.path.join(BUILD_ROOT, "tests", "vm", "cache"))
        stage2 = os.path.join(HERE, "guest", "stage2")
        append = (f"console=ttyS0 loglevel=4 panic=-1 vdtest.stage2={stage2} vdtest.source={SOURCE_ROOT} "
                  f"vdtest.build={BUILD_ROOT}")
        fs = "security_model=none,multidevs=remap"
        cmd = [QEMU, "-accel", "tcg", "-m", str(self.memory), "-smp", str(self.smp), "-nographic",
               "-serial", f"file:{self.console}", "-monitor", "none", "-no-reboot",
               "-kernel", vmlinuz, "-initrd", initrd, "-append", append,
               "-virtfs", f"local,path=/,mount_tag=hostroot,readonly=on,{fs}",
               "-virtfs", f"local,path={self.results},mount_tag=results,{fs}",
               "-virtfs", f"local,path={SOURCE_ROOT},mount_tag=source,readonly=on,{fs}",
               "-virtfs", f"local,path={BUILD_ROOT},mount_tag=build,readonly=on,{fs}",
               "-vga", "none", "-device", self.display,
               "-device", "virtio-serial-pci",
               "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off",
               "-device", "virtserialport,chardev=ctl,name=vdtest.ctl"]
        if os.environ.get("VD_VM_TRACE"):
            # QEMU's own view of the agent channel (qemu.log): e.g. VD_VM_TRACE='vdagent_*,clipboard_*'
            for pattern in os.environ["VD_VM_TRACE"].split(","):
                cmd += ["-trace", pattern]
        if self.host == "vnc":
            cmd += ["-chardev", "qemu-vdagent,id=vda,name=vdagent,clipboard=on,mouse=on",
                    "-device", "virtserialport,chardev=vda,name=com.redhat.spice.0",
                    "-vnc", f"unix:{self.vnc_path}"]
        elif self.host == "spice":
            cmd += ["-spice", f"unix=on,addr={self.spice_path},disable-ticketing=on",
                    "-chardev", "spicevmc,id=vdagent,name=vdagent",
                    "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0"]
        if self.qga:
            cmd += ["-chardev", f"socket,id=qga,path={self.qga_path},server=on,wait=off",
                    "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0"]
        return cmd

    def start(self, env=None):
        """Boots the guest and waits for its command server."""
        cmd = self.command()
        with open(os.path.join(self.results, "guest.env"), "w") as f:
            for k, v in (env or {}).items():
                f.write(f"{k}={shlex.quote(str(v))}\n")
        with open(os.path.join(self.results, "qemu.cmd"), "w") as f:
            f.write(shlex.join(cmd) + "\n")
        self.t0 = time.monotonic()
        self.qemu_log = open(os.path.join(self.results, "qemu.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.qemu_log,
                                     stderr=self.qemu_log, start_new_session=self.own_session)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise VMError(f"QEMU exited with {self.proc.returncode} during boot")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.ctl_path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise VMError("QEMU's control socket never appeared")
                time.sleep(0.05)
        self.ctl = s
        hello = self._read_line(deadline)
        if not hello.get("ready"):
            raise VMError(f"unexpected first line from the guest: {hello}")
        log(f"{self.name}: guest ready in {time.monotonic() - self.t0:.1f} s")

    def _read_line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError("timed out waiting for the guest's command server")
            if self.proc.poll() is not None:
                raise VMError(f"QEMU exited with {self.proc.returncode}")
            self.ctl.settimeout(min(left, 0.5))
            try:
                data = self.ctl.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise VMError("the guest's command channel closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def run(self, cmd, timeout=30, env=None, stdin=None, background=False, log=None):
        """Runs a shell command in the guest: (rc, stdout, stderr), rc -1 when it timed out in the guest.
        background=True: starts it detached (output to the guest file `log`) and returns its pid."""
        argv = ["exit"] if cmd == "exit" else ["/bin/sh", "-c", cmd]
        req = {"id": self.next_id, "argv": argv, "timeout": timeout, "env": env or {},
               "stdin": stdin or "", "background": background, "log": log}
        self.next_id += 1
        self.ctl.sendall((json.dumps(req) + "\n").encode())
        rep = self._read_line(time.monotonic() + timeout + 15)
        if rep.get("id") != req["id"]:
            raise VMError(f"reply for the wrong request: {rep}")
        if background:
            return rep["pid"]
        return rep["rc"], rep["out"], rep["err"]

    def sh(self, cmd, timeout=30, **kw):
        """Like run() but raises VMError on a non-zero exit status; returns stdout."""
        rc, out, err = self.run(cmd, timeout=timeout, **kw)
        if rc != 0:
            raise VMError(f"guest command failed (rc {rc}): {cmd}\n{out}{err}")
        return out

    def agents(self, *args, timeout=60):
        """tests/vm/guest/agents.sh SUBCOMMAND… in the guest; returns its stdout."""
        return self.sh(shlex.join([os.path.join(HERE, "guest", "agents.sh"), *args]), timeout=timeout)

    def x(self, cmd, timeout=30, **kw):
        """A command in the guest's X session (DISPLAY=:0): (rc, stdout, stderr)."""
        return self.run(cmd, timeout=timeout, env={"DISPLAY": ":0", "HOME": "/run/vdtest/home"}, **kw)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.run("exit", timeout=5)
            except (VMError, OSError, ValueError):
                pass
            if self.wait_exit(15) is None:
                self.proc.kill()
                self.proc.wait()
        if self.ctl:
            self.ctl.close()
            self.ctl = None
        shutil.rmtree(self.sockdir, ignore_errors=True)

    def dump_logs(self, out=sys.stdout, lines=60):
        """Prints the guest console and every log in the results share as TAP comments."""
        for path in sorted(glob.glob(os.path.join(self.results, "*.log"))):
            try:
                with open(path, errors="replace") as f:
                    text = [line for line in f.read().splitlines() if line.strip()]
            except OSError:
                continue
            out.write(f"# ---- {os.path.basename(path)} ({len(text)} lines, last {lines}) ----\n")
            for line in text[-lines:]:
                out.write(f"#   {line[:300]}\n")
        out.flush()


class QGA:
    """The host end of QEMU's socket chardev for org.qemu.guest_agent.0."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""

    def call(self, execute, arguments=None, timeout=10, reply=True):
        req = {"execute": execute}
        if arguments:
            req["arguments"] = arguments
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        if not reply:
            return None
        return self._read_reply(execute, timeout)

    def _read_reply(self, what, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError(f"no QGA reply to {what} in {timeout} s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise VMError("QGA socket closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line.lstrip(b"\xff"))

    def sync(self, timeout=20):
        """guest-sync until the agent answers, then nothing stale is left to read.

        Each try sends a fresh id and reads replies until that id comes back, skipping the replies to
        earlier tries (an agent that was slow, or read its port late, answers them in order first), so
        the next call never reads a stale guest-sync answer."""
        deadline = time.monotonic() + timeout
        token = int(time.time() * 1000) % 2**31
        while time.monotonic() < deadline:
            token = (token + 1) % 2**31
            self.call("guest-sync", {"id": token}, reply=False)
            try_deadline = min(deadline, time.monotonic() + 2)
            while time.monotonic() < try_deadline:
                try:
                    r = self._read_reply("guest-sync", max(0.05, try_deadline - time.monotonic()))
                except VMError as e:
                    if "closed" in str(e):
                        raise
                    break
                if isinstance(r, dict) and r.get("return") == token:
                    return True
        return False


class Tap:
    """TAP output, one line per case; a case that raises or returns false fails without stopping the rest."""

    def __init__(self, planned):
        self.planned = planned
        self.n = 0
        self.failed = 0
        print(f"1..{planned}", flush=True)

    def ok(self, cond, name, detail=""):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {name}", flush=True)
        if not cond:
            self.failed += 1
            for line in str(detail).splitlines():
                print(f"#   {line}", flush=True)
        return cond

    def skip(self, name, why):
        self.n += 1
        print(f"ok {self.n} - {name} # SKIP {why}", flush=True)

    def case(self, name, fn):
        """fn() returns True, False, or (bool, detail); an exception is a failure with its text."""
        t = time.monotonic()
        try:
            r = fn()
            cond, detail = r if isinstance(r, tuple) else (r, "")
        except Exception as e:  # noqa: BLE001 — a failing case must not stop the others
            cond, detail = False, f"{type(e).__name__}: {e}"
        return self.ok(bool(cond), f"{name} ({time.monotonic() - t:.1f} s)", detail)

    def finish(self, reason="an earlier step failed"):
        while self.n < self.planned:
            self.ok(False, f"not run ({reason})")
        return 1 if self.failed else 0


def wait_for(fn, timeout, interval=0.25):
    """Calls fn() until it returns a true value or timeout seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def agent_choice():
    """VD_VM_AGENT: 'ours' (default) or 'reference' (Debian's spice-vdagent 0.22 in the guest)."""
    a = os.environ.get("VD_VM_AGENT", "ours")
    if a not in ("ours", "reference"):
        raise VMError(f"VD_VM_AGENT must be 'ours' or 'reference', not {a!r}")
    return a
