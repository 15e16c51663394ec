#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vdagentd's guest agent driven by libvirt (issue 13): one TCG guest, started by libvirt's embedded
QEMU driver (`virsh -c qemu:///embed?root=DIR`: a private libvirt inside one virsh process, so no
system libvirtd and nothing under /etc or /run/libvirt), with a QGA channel that libvirt itself
connects to. Each libvirt agent feature is asked through virsh and checked in the guest:
domfsfreeze/domfsthaw, domifaddr --source agent, domfsinfo, guestinfo, domtime (set and --sync),
set-user-password, guestvcpus, get/set-user-sshkeys, dompmsuspend (python3-dbusmock's logind in the
guest really suspends it to RAM) and dompmwakeup.

The guest is tests/vm's (the host's root read-only over 9p), plus an ext4 disk (vda) and 2 vCPUs;
tests/vm/guest/qga-setup.sh starts vdagentd, the four QGA helpers (systemd-socket-activate, as
their units would) and python3-dbusmock's logind on a private system bus."""
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import termios
import time

import vmlib
from vmlib import SOURCE_ROOT, BUILD_ROOT, HERE, VMError, Tap, log, wait_for

DOMAIN = 'vdqga'


class Virsh:
    """One interactive virsh on the embedded QEMU driver: the domain lives as long as it does."""

    def __init__(self, root):
        # virsh's output on a pseudo-terminal: on a pipe it is block-buffered and answers arrive late.
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.proc = subprocess.Popen(['virsh', '-c', 'qemu:///embed?root=%s' % root], stdin=subprocess.PIPE,
                                     stdout=slave, stderr=slave, text=True, bufsize=1)
        os.close(slave)
        self.master = master
        self.buf = b''
        self.n = 0

    def run(self, command, timeout=60):
        """-> (ok, output): ok when virsh printed no error. The end of an answer is the output of an
        `echo MARKER` sent after the command (virsh prints it without a newline)."""
        self.n += 1
        marker = '__vdqga_done_%d__' % self.n
        end = re.compile((r'(?<!echo )%s' % marker).encode())
        self.proc.stdin.write('%s\necho %s\n' % (command, marker))
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while not end.search(self.buf):
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError('virsh %r: no answer in %d s (so far: %r)' % (command, timeout, self.buf[-2000:]))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b''
                if not chunk:
                    raise VMError('virsh exited: %s' % self.buf.decode(errors='replace'))
                self.buf += chunk
        m = end.search(self.buf)
        out, self.buf = self.buf[:m.start()].decode(errors='replace'), self.buf[m.end():]
        out = out.replace('\r', '')
        return 'error:' not in out, out

    def ok(self, command, timeout=60):
        ok, out = self.run(command, timeout)
        if not ok:
            raise VMError('virsh %s:\n%s' % (command, out))
        return out

    def close(self):
        try:
            self.proc.stdin.write('destroy %s\nquit\n' % DOMAIN)
            self.proc.stdin.close()
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class LibvirtGuest(vmlib.Guest):
    """tests/vm's guest, defined as a libvirt domain instead of a QEMU command line."""

    def __init__(self):
        super().__init__('qga-libvirt', host=None, qga=False, smp=2)
        self.lvroot = os.path.join(self.sockdir, 'libvirt')
        os.makedirs(os.path.join(self.lvroot, 'etc'))
        # The embedded driver as root, without the system's virtlogd, cgroups, namespaces or labels.
        with open(os.path.join(self.lvroot, 'etc', 'qemu.conf'), 'w') as f:
            f.write('stdio_handler = "file"\nsecurity_driver = "none"\nuser = "root"\ngroup = "root"\n'
                    'dynamic_ownership = 0\nremember_owner = 0\nnamespaces = [ ]\ncgroup_controllers = [ ]\n')
        self.disk = os.path.join(self.sockdir, 'data.img')
        with open(self.disk, 'wb') as f:
            f.truncate(64 * 1024 * 1024)
        subprocess.run(['mkfs.ext4', '-q', '-F', self.disk], check=True, capture_output=True)
        self.virsh = None

    def xml(self):
        vmlinuz, initrd, _ = vmlib.initramfs(os.path.join(BUILD_ROOT, 'tests', 'vm', 'cache'))
        stage2 = os.path.join(HERE, 'guest', 'stage2')
        append = ('console=ttyS0 loglevel=4 panic=-1 vdtest.stage2=%s vdtest.source=%s vdtest.build=%s'
                  % (stage2, SOURCE_ROOT, BUILD_ROOT))

        def fs(src, tag, ro):
            return ("<filesystem type='mount' accessmode='passthrough' multidevs='remap'><driver type='path'/>"
                    "<source dir='%s'/><target dir='%s'/>%s</filesystem>" % (src, tag, '<readonly/>' if ro else ''))
        return """<domain type='qemu'><name>%s</name><memory unit='MiB'>%d</memory><vcpu>%d</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel><initrd>%s</initrd><cmdline>%s</cmdline></os>
<features><acpi/></features>
<pm><suspend-to-mem enabled='yes'/><suspend-to-disk enabled='no'/></pm>
<on_reboot>destroy</on_reboot>
<devices><emulator>/usr/bin/%s</emulator>
%s%s%s%s
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='vda' bus='virtio'/>
<serial>vdqga-data</serial></disk>
<serial type='file'><source path='%s'/></serial>
<controller type='virtio-serial'/>
<channel type='unix'><source mode='bind' path='%s'/><target type='virtio' name='vdtest.ctl'/></channel>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
<memballoon model='none'/>
</devices></domain>""" % (DOMAIN, self.memory, self.smp, vmlinuz, initrd, append, vmlib.QEMU,
                          fs('/', 'hostroot', True), fs(self.results, 'results', False), fs(SOURCE_ROOT, 'source', True),
                          fs(BUILD_ROOT, 'build', True), self.disk, self.console, self.ctl_path)

    def start(self, env=None):
        path = os.path.join(self.sockdir, 'domain.xml')
        with open(path, 'w') as f:
            f.write(self.xml())
        shutil.copy(path, os.path.join(self.results, 'domain.xml'))
        self.t0 = time.monotonic()
        self.virsh = Virsh(self.lvroot)
        self.virsh.ok('create %s' % path)
        self.proc = self.virsh.proc
        import socket
        deadline = time.monotonic() + vmlib.BOOT_TIMEOUT
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.ctl_path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise VMError("the guest's control socket never appeared")
                time.sleep(0.05)
        self.ctl = s
        hello = self._read_line(deadline)
        if not hello.get('ready'):
            raise VMError('unexpected first line from the guest: %r' % hello)
        log('guest ready in %.1f s' % (time.monotonic() - self.t0))

    def stop(self):
        if self.virsh:
            self.virsh.close()
            for qlog in (os.path.join(self.lvroot, 'log', 'qemu', DOMAIN + '.log'), ):
                if os.path.exists(qlog):
                    shutil.copy(qlog, os.path.join(self.results, 'qemu.log'))
        if self.ctl:
            self.ctl.close()
            self.ctl = None
        shutil.rmtree(self.sockdir, ignore_errors=True)


def main():
    if not shutil.which('virsh'):
        print('1..0 # SKIP no virsh (libvirt-clients, libvirt-daemon-system)')
        return 0
    cases = 12
    tap = Tap(cases)
    g = LibvirtGuest()
    v = None
    data = '/run/vdtest/qga/data'
    try:
        g.start()
        v = g.virsh
        out = g.sh('%s %s' % (os.path.join(HERE, 'guest', 'qga-setup.sh'), BUILD_ROOT), timeout=60)
        log('guest setup: %s' % out.strip())

        def agent_up():
            return wait_for(lambda: v.run("qemu-agent-command %s '{\"execute\":\"guest-ping\"}' --timeout 5"
                                          % DOMAIN, 15)[0], 30)
        tap.case('libvirt reaches vdagentd over its QGA channel (guest-ping)', agent_up)

        def fsfreeze():
            out = v.ok('domfsfreeze %s' % DOMAIN)
            if 'Froze 1 filesystem' not in out:
                return False, out
            g.run("sh -c 'echo x > %s/written; touch /run/vdtest/results/write.done'" % data, background=True)
            time.sleep(1)
            blocked = not os.path.exists(os.path.join(g.results, 'write.done'))
            thaw = v.ok('domfsthaw %s' % DOMAIN)
            done = wait_for(lambda: os.path.exists(os.path.join(g.results, 'write.done')), 10)
            listed = v.ok('domfsfreeze %s --mountpoint %s' % (DOMAIN, data))
            v.ok('domfsthaw %s' % DOMAIN)
            return (blocked and done and 'Thawed 1 filesystem' in thaw and 'Froze 1 filesystem' in listed,
                    'blocked while frozen: %s, written after the thaw: %s\n%s%s%s' % (blocked, done, out, thaw, listed))
        tap.case('virsh domfsfreeze / domfsthaw (and --mountpoint): the disk really freezes', fsfreeze)

        def ifaddr():
            out = v.ok('domifaddr %s --source agent' % DOMAIN)
            return re.search(r'lo\s+00:00:00:00:00:00\s+ipv4\s+127\.0\.0\.1/8', out) is not None, out
        tap.case('virsh domifaddr --source agent', ifaddr)

        def fsinfo():
            out = v.ok('domfsinfo %s' % DOMAIN)
            return re.search(r'%s\s+vda\s+ext4\s+vda' % re.escape(data), out) is not None, out
        tap.case('virsh domfsinfo: the ext4 disk, matched to its target vda', fsinfo)

        def guestinfo():
            out = v.ok('guestinfo %s' % DOMAIN)
            want = ['hostname\\s*:\\s*vdtest', 'os.id\\s*:', 'timezone.offset\\s*:', 'fs.count\\s*:\\s*1',
                    'fs.0.mountpoint\\s*:\\s*%s' % re.escape(data), 'fs.0.disk.0.alias\\s*:\\s*vda',
                    'user.count\\s*:']
            missing = [w for w in want if not re.search(w, out)]
            return not missing, 'missing %r in:\n%s' % (missing, out)
        tap.case('virsh guestinfo (users, OS, timezone, hostname, filesystems)', guestinfo)

        def domtime():
            v.ok('domtime %s --time 1800000000' % DOMAIN)
            got = int(re.search(r'Time:\s*(\d+)', v.ok('domtime %s' % DOMAIN)).group(1))
            guest = int(g.sh('date +%s').strip())
            # guest-set-time with a time also wrote the RTC (qemu-ga's hwclock -w): --sync reads it back.
            v.ok('domtime %s --sync' % DOMAIN)
            synced = int(re.search(r'Time:\s*(\d+)', v.ok('domtime %s' % DOMAIN)).group(1))
            v.ok('domtime %s --now' % DOMAIN)
            now_guest = int(re.search(r'Time:\s*(\d+)', v.ok('domtime %s' % DOMAIN)).group(1))
            now = int(time.time())
            return (abs(got - 1800000000) < 30 and abs(guest - 1800000000) < 30 and
                    abs(synced - 1800000000) < 30 and abs(now_guest - now) < 30,
                    'after --time: %d (guest date %d); after --sync: %d; after --now: %d, host %d'
                    % (got, guest, synced, now_guest, now))
        tap.case('virsh domtime --time (system clock and RTC), --sync (from the RTC), --now', domtime)

        def password():
            v.ok('set-user-password %s alice "s3cret pass"' % DOMAIN)
            check = ("python3 -W ignore -c \"import crypt,sys; h=[l.split(':')[1] for l in open("
                     "'/run/vdtest/qga/root/etc/shadow') if l.startswith('alice:')][0]; "
                     "sys.exit(crypt.crypt('s3cret pass', h) != h)\"")
            rc, out, err = g.run(check)
            logs = open(os.path.join(g.results, 'vdagentd.log')).read() + \
                open(os.path.join(g.results, 'qga-helper-account.log')).read()
            return rc == 0 and 's3cret' not in logs, 'check rc %d %s%s; password in logs: %s' % (
                rc, out, err, 's3cret' in logs)
        tap.case('virsh set-user-password: the shadow hash verifies, nothing logged', password)

        def vcpus():
            before = v.ok('guestvcpus %s' % DOMAIN)
            v.ok('guestvcpus %s --cpulist 1 --disable' % DOMAIN)
            off = v.ok('guestvcpus %s' % DOMAIN)
            guest_off = g.sh('cat /sys/devices/system/cpu/cpu1/online').strip()
            v.ok('guestvcpus %s --cpulist 1 --enable' % DOMAIN)
            after = v.ok('guestvcpus %s' % DOMAIN)
            ok = re.search(r'online\s*:\s*0-1', before) and re.search(r'online\s*:\s*0\b', off) and \
                guest_off == '0' and re.search(r'online\s*:\s*0-1', after)
            return bool(ok), before + off + after + 'cpu1/online in the guest while disabled: ' + guest_off
        tap.case('virsh guestvcpus: CPU 1 offline and back', vcpus)

        def sshkeys():
            keys = os.path.join(g.sockdir, 'keys')
            with open(keys, 'w') as f:
                f.write('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@host\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABTwo two@host\n')
            v.ok('set-user-sshkeys %s alice --file %s' % (DOMAIN, keys))
            got = v.ok('get-user-sshkeys %s alice' % DOMAIN)
            with open(keys, 'w') as f:
                f.write('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABTwo two@host\n')
            v.ok('set-user-sshkeys %s alice --remove --file %s' % (DOMAIN, keys))
            left = v.ok('get-user-sshkeys %s alice' % DOMAIN)
            owner = g.sh('stat -c %u:%a /run/vdtest/qga/root/home/alice/.ssh/authorized_keys').strip()
            return ('one@host' in got and 'two@host' in got and 'one@host' in left and 'two@host' not in left
                    and owner == '4242:600'), got + left + owner
        tap.case('virsh set-user-sshkeys / get-user-sshkeys (--remove), owned by the user', sshkeys)

        def shell_blocked():
            ok, out = v.run("qemu-agent-command %s '{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\"}}'"
                            % DOMAIN)
            return not ok and 'disabled' in out, out
        tap.case('guest-exec is disabled by default (through libvirt)', shell_blocked)

        def audit():
            text = open(os.path.join(g.results, 'vdagentd.log')).read()
            verbs = ['guest-fsfreeze-freeze', 'guest-fsfreeze-thaw', 'guest-set-time', 'guest-set-user-password',
                     'guest-set-vcpus', 'guest-ssh-add-authorized-keys']
            missing = [x for x in verbs if not re.search(r'qga audit: %s ' % x, text)]
            return not missing, 'no audit line for %r' % missing
        tap.case('every privileged request left an audit line', audit)
        def pmsuspend():
            # Last: the guest is not asked anything after it (its resume from S3 under TCG is slow and
            # not what this checks). libvirt itself reports the guest's suspend (QEMU's SUSPEND event)
            # and its wakeup.
            out = v.ok('dompmsuspend %s mem' % DOMAIN, timeout=90)
            state = wait_for(lambda: 'pmsuspended' in v.ok('domstate %s' % DOMAIN), 30)
            v.ok('dompmwakeup %s' % DOMAIN)
            running = wait_for(lambda: 'running' in v.ok('domstate %s' % DOMAIN), 30)
            calls = open(os.path.join(g.results, 'logind.log')).read()
            audited = re.search(r'qga audit: guest-suspend-ram mode=Suspend: requested through logind',
                                open(os.path.join(g.results, 'vdagentd.log')).read())
            return bool(state and running and audited and re.search(r'CanSuspend\n.*Suspend False', calls)), \
                '%s suspended: %s, running again: %s, audited: %s; logind calls:\n%s' % (
                    out, state, running, bool(audited), calls)
        tap.case('virsh dompmsuspend mem: logind Suspend in the guest, the domain pmsuspended, then woken',
                 pmsuspend)
    except Exception as e:  # noqa: BLE001
        print('# %s: %s' % (type(e).__name__, e), flush=True)
    finally:
        try:
            g.stop()
        finally:
            if tap.failed or tap.n < cases:
                g.dump_logs()
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
