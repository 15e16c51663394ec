#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The QGA verbs beyond the first eleven (issue 13), side by side with qemu-ga 7.2.

usage: test-qga-verbs.py driver PATH | vdagentd PATH   (as test-qga.py)

The reference is the real qemu-ga (Debian's qemu-guest-agent), serving the same machine on a Unix
socket (`qemu-ga -m unix-listen`), with every verb that changes the system blocked. Both agents get
the same requests; the replies must have the same shape (members, types) and, where the machine
does not change between the two calls, the same values. A loop-mounted ext4 filesystem gives
guest-get-fsinfo and guest-get-disks a known mount and disk (skipped when we cannot mount: not root).
"""
import fcntl
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from vdtest import Skip, root_is_mount_point

spec = importlib.util.spec_from_file_location('qga_base', os.path.join(os.path.dirname(__file__), 'test-qga.py'))
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)
check, Failure = base.check, base.Failure

# Never given to the reference: it would change this machine (shared by everyone). Its
# guest-fsfreeze-freeze-list is given our loop mount point only, never an empty list;
# guest-set-vcpus and guest-set-memory-blocks only "online": true and indices that do not exist;
# guest-exec only echo, cat and sh printing; guest-file-* only files in our temporary directory.
REFERENCE_BLOCKED = ['guest-fsfreeze-freeze', 'guest-fstrim', 'guest-set-time',
                     'guest-shutdown', 'guest-suspend-disk', 'guest-suspend-ram', 'guest-suspend-hybrid',
                     'guest-set-user-password', 'guest-ssh-add-authorized-keys', 'guest-ssh-remove-authorized-keys']


class Reference:
    """qemu-ga 7.2 on a Unix socket it listens on."""

    def __init__(self, tmp):
        exe = shutil.which('qemu-ga') or '/usr/sbin/qemu-ga'
        if not os.access(exe, os.X_OK):
            raise Skip('no qemu-ga (qemu-guest-agent) installed')
        self.path = os.path.join(tmp, 'reference.sock')
        state = os.path.join(tmp, 'reference-state')
        os.mkdir(state)
        self.log = open(os.path.join(tmp, 'reference.log'), 'w')
        self.proc = subprocess.Popen([exe, '-m', 'unix-listen', '-p', self.path, '-t', state,
                                      '-f', os.path.join(state, 'pid'), '-b', ','.join(REFERENCE_BLOCKED)],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Failure('qemu-ga did not start (see %s)' % self.log.name)
            time.sleep(0.05)
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)
        self.file = self.sock.makefile('rwb')

    def call(self, verb, args=None):
        req = {'execute': verb}
        if args is not None:
            req['arguments'] = args
        self.file.write(json.dumps(req).encode() + b'\n')
        self.file.flush()
        line = self.file.readline()
        check(line, 'qemu-ga closed the connection')
        return json.loads(line)

    def ret(self, verb, args=None):
        r = self.call(verb, args)
        check('return' in r, 'qemu-ga %s: %r' % (verb, r))
        return r['return']

    def stop(self):
        self.file.close()
        self.sock.close()
        base.stop_process(self.proc, 10)
        self.log.close()


def shape(v):
    """The type skeleton of a JSON value: dicts keep their keys, lists the union of their items'."""
    if isinstance(v, bool):
        return 'bool'
    if isinstance(v, int):
        return 'int'
    if isinstance(v, float):
        return 'number'
    if isinstance(v, str):
        return 'str'
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        shapes = []
        for x in v:
            if shape(x) not in shapes:
                shapes.append(shape(x))
        return shapes
    return 'null'


def same_shape(ours, ref, what, extra=()):
    """Same members and types, recursively; `extra`: member names we may add (qemu-ga lacks a source)."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in extra}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    a, b = shape(strip(ours)), shape(strip(ref))
    # An int where qemu-ga has a float (or the reverse) is the same JSON number.
    a_s, b_s = json.dumps(a).replace('"int"', '"number"'), json.dumps(b).replace('"int"', '"number"')
    check(a_s == b_s, '%s: shape %s, qemu-ga %s' % (what, json.dumps(a), json.dumps(b)))


def by(key, items):
    return {i[key]: i for i in items}


# --- read-only verbs ---

def t_interfaces(h, ref):
    want = ref.ret('guest-network-get-interfaces')
    got = h.ret('guest-network-get-interfaces')
    check([i['name'] for i in got] == [i['name'] for i in want], 'names %r, qemu-ga %r' % (got, want))
    for g, w in zip(got, want):
        same_shape(g, w, g['name'])
        check(g.get('hardware-address') == w.get('hardware-address'), 'hardware address %r vs %r' % (g, w))
        check(g.get('ip-addresses') == w.get('ip-addresses'), 'addresses %r vs %r' % (g, w))
        for k, v in g.get('statistics', {}).items():
            # Counters only grow, and ours were read after qemu-ga's.
            check(v >= w['statistics'][k], '%s %s: %d < qemu-ga %d' % (g['name'], k, v, w['statistics'][k]))
    check(any(i['name'] == 'lo' and {'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', 'prefix': 8}
              in i.get('ip-addresses', []) for i in got), 'no lo 127.0.0.1/8: %r' % got)


class LoopMount:
    def __init__(self, tmp):
        if os.geteuid() != 0:
            raise Skip('not root: cannot loop-mount a filesystem')
        self.dir = os.path.join(tmp, 'loop mnt')  # a space: mountinfo escapes it
        self.img = os.path.join(tmp, 'loop.img')
        os.mkdir(self.dir)
        with open(self.img, 'wb') as f:
            f.truncate(32 * 1024 * 1024)
        subprocess.run(['mkfs.ext4', '-q', '-F', self.img], check=True, capture_output=True)
        r = subprocess.run(['mount', '-o', 'loop', self.img, self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip('cannot loop-mount: %s' % r.stderr.strip())
        self.dev = subprocess.run(['findmnt', '-n', '-o', 'SOURCE', self.dir], capture_output=True,
                                  text=True).stdout.strip()

    def umount(self):
        subprocess.run(['umount', self.dir], capture_output=True)


def t_fsinfo(h, ref, loop):
    want = by('mountpoint', ref.ret('guest-get-fsinfo'))
    got = by('mountpoint', h.ret('guest-get-fsinfo'))
    # '/' too where it is a mount point of this root: in a chroot (a fresh machine's test run) it is
    # not, and neither agent can list it.
    points = (loop.dir, '/') if root_is_mount_point() else (loop.dir, )
    for mp in points:
        check(mp in got and mp in want, '%r missing: ours %r, qemu-ga %r' % (mp, list(got), list(want)))
        g, w = got[mp], want[mp]
        same_shape(g, w, mp, extra=('serial',))
        for k in ('name', 'type', 'total-bytes'):
            check(g[k] == w[k], '%s %s: %r, qemu-ga %r' % (mp, k, g[k], w[k]))
        check([dict(d, serial=None) for d in g['disk']] == [dict(d, serial=None) for d in w['disk']],
              '%s disks %r, qemu-ga %r' % (mp, g['disk'], w['disk']))
    loopfs = got[loop.dir]
    check(loopfs['name'] == os.path.basename(loop.dev) and loopfs['type'] == 'ext4' and loopfs['disk'] == [],
          'loop filesystem %r' % loopfs)
    st = os.statvfs(loop.dir)
    check(loopfs['used-bytes'] == (st.f_blocks - st.f_bfree) * st.f_frsize, 'used-bytes %r' % loopfs)
    virtual = {'tmpfs', 'proc', 'sysfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'mqueue', 'overlay'}
    check(not [fs for fs in got.values() if fs['type'] in virtual], 'virtual filesystems listed: %r' % got)


def t_disks(h, ref, loop):
    want = by('name', ref.ret('guest-get-disks'))
    got = by('name', h.ret('guest-get-disks'))
    for name in (loop.dev, ) + tuple(n for n in want if not n.startswith('/dev/loop')):
        check(name in got, '%s missing: %r' % (name, list(got)))
        same_shape(got[name], want[name], name, extra=('serial',))
        g = dict(got[name], address=dict(got[name].get('address', {}), serial=None))
        w = dict(want[name], address=dict(want[name].get('address', {}), serial=None))
        check(g == w, '%s: %r, qemu-ga %r' % (name, got[name], want[name]))


def t_load(h):
    with open('/proc/loadavg') as f:
        before = [float(x) for x in f.read().split()[:3]]
    load = h.ret('guest-get-load')
    check(set(load) == {'load1', 'load5', 'load15'}, 'members %r' % load)
    for k, b in zip(('load1', 'load5', 'load15'), before):
        check(isinstance(load[k], (int, float)) and abs(load[k] - b) < 1.0, '%s %r, /proc says %r' % (k, load, before))


def t_memory_blocks(h, ref):
    want = sorted(ref.ret('guest-get-memory-blocks'), key=lambda b: b['phys-index'])
    got = sorted(h.ret('guest-get-memory-blocks'), key=lambda b: b['phys-index'])
    check(got == want, 'memory blocks differ from qemu-ga: %r… vs %r…' % (got[:3], want[:3]))
    info = h.ret('guest-get-memory-block-info')
    check(info == ref.ret('guest-get-memory-block-info'), 'block info %r' % info)


def t_users_vs_reference(s, ref):
    # Without logind both read the system's utmp.
    s.stop_logind()
    try:
        agent, h = s.agent()
        got, want = h.ret('guest-get-users'), ref.ret('guest-get-users')
        check(got == want, 'users %r, qemu-ga %r' % (got, want))
        s.finish(agent, h)
    finally:
        s.start_logind()


def t_info_lists_new_verbs(h, ref):
    ours = {c['name']: c for c in h.ret('guest-info')['supported_commands']}
    theirs = {c['name']: c for c in ref.ret('guest-info')['supported_commands']}
    for name in ('guest-network-get-interfaces', 'guest-get-fsinfo', 'guest-get-disks', 'guest-get-memory-blocks',
                 'guest-get-memory-block-info'):
        check(ours[name]['enabled'] and ours[name]['success-response'] == theirs[name]['success-response'],
              '%s: %r, qemu-ga %r' % (name, ours[name], theirs[name]))
    check(ours['guest-get-load'] == {'name': 'guest-get-load', 'enabled': True, 'success-response': True},
          'guest-get-load %r' % ours.get('guest-get-load'))


# --- fsfreeze and fstrim: the fs helper, socket-activated as its unit would be ---

FREEZE_TIMEOUT = 2


HELPER = os.path.join(os.environ.get('VD_BUILD_ROOT', ''), 'src', 'system', 'vdagentd-qga-helper')


class Helper:
    """systemd-socket-activate --accept plays vdagentd-qga-FAMILY.socket: each connection gets its own
    `vdagentd-qga-helper FAMILY` with the connection as stdin/stdout."""

    def __init__(self, s, family, args=(), wrapper=()):
        check(os.access(HELPER, os.X_OK), 'no %s' % HELPER)
        ssa = shutil.which('systemd-socket-activate')
        if not ssa:
            raise Skip('no systemd-socket-activate')
        self.dir = os.path.join(s.tmp, 'helpers')
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(s.tmp, '%s-helper.log' % family)
        self.log = open(self.log_path, 'w')
        sock = os.path.join(self.dir, 'qga-%s.sock' % family)
        self.proc = subprocess.Popen([ssa, '--accept', '--inetd', '-l', sock] + list(wrapper) + [HELPER, family] +
                                     list(args), stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            check(self.proc.poll() is None and time.monotonic() < deadline, 'systemd-socket-activate did not start')
            time.sleep(0.05)
        s.env['VDAGENT_QGA_HELPER_DIR'] = self.dir

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        base.stop_process(self.proc, 10)
        self.log.close()


class FsHelper(Helper):
    """The fs helper; --only-under keeps it to our loop mount: this machine's other filesystems are
    never frozen (and a bug would still thaw in 2 s)."""

    def __init__(self, s, loop):
        self.hooks = os.path.join(s.tmp, 'fsfreeze-hook.d')
        os.mkdir(self.hooks)
        self.hook_log = os.path.join(loop.dir, 'hook.log')  # inside the frozen filesystem on purpose
        # A hook writes into the filesystem: it would block (and be killed) if run while frozen.
        for name, body in (('10-record', 'echo "$1" >> "%s"\n' % self.hook_log),
                           ('20-fails', 'exit 3\n'), ('30-record.dpkg-old', 'echo never >> "%s"\n' % self.hook_log)):
            path = os.path.join(self.hooks, name)
            with open(path, 'w') as f:
                f.write('#!/bin/sh\n' + body)
            os.chmod(path, 0o755)
        super().__init__(s, 'fs', ['--hook-dir', self.hooks, '--only-under', os.path.dirname(loop.dir),
                                   '--freeze-timeout', str(FREEZE_TIMEOUT)])


def writer(loop, name):
    """A process writing into the loop filesystem: it blocks while the filesystem is frozen."""
    return subprocess.Popen([sys.executable, '-c', 'import os,sys\nf=open(sys.argv[1],"w")\nf.write("x")\n'
                             'f.flush()\nos.fsync(f.fileno())', os.path.join(loop.dir, name)])


def check_frozen(loop, name):
    w = writer(loop, name)
    time.sleep(0.3)
    check(w.poll() is None, 'a write went through: the filesystem is not frozen')
    return w


def check_thawed(w, what):
    try:
        w.wait(5)
    except subprocess.TimeoutExpired:
        w.kill()
        raise Failure('the write still blocks: not thawed %s' % what)


def hook_calls(helper):
    with open(helper.hook_log) as f:
        return f.read().split()


def t_freeze_thaw(h, loop, helper):
    check(h.ret('guest-fsfreeze-status') == 'thawed', 'status before')
    check(h.ret('guest-fsfreeze-freeze') == 1, 'freeze did not count one filesystem')
    check(h.ret('guest-fsfreeze-status') == 'frozen', 'status after freeze')
    w = check_frozen(loop, 'w1')
    # A second freeze, and fstrim, are refused while frozen, as qemu-ga words it.
    h.error('guest-fsfreeze-freeze', 'CommandNotFound', r'^Command guest-fsfreeze-freeze has been disabled: '
            r'the agent is in frozen state$')
    h.error({'execute': 'guest-fstrim'}, 'CommandNotFound', 'frozen state')
    check(h.ret('guest-fsfreeze-thaw') == 1, 'thaw did not count one filesystem')
    check_thawed(w, 'by guest-fsfreeze-thaw')
    check(h.ret('guest-fsfreeze-status') == 'thawed', 'status after thaw')
    check(h.ret('guest-fsfreeze-thaw') == 0, 'a second thaw counted something')
    # The hooks ran before the freeze and after the thaw (they write into the filesystem); the failing
    # one was logged and ignored, the backup file skipped.
    check(hook_calls(helper) == ['freeze', 'thaw', 'thaw'], 'hooks %r' % hook_calls(helper))
    check('"%s/20-fails" freeze: failed' % helper.hooks in helper.text(), 'no log line for the failing hook')


def t_freeze_list(h, loop, helper, ref):
    check(h.ret('guest-fsfreeze-freeze-list', {'mountpoints': ['/no/such/mount']}) == 0, 'unknown mount point')
    check(h.ret('guest-fsfreeze-status') == 'thawed', 'frozen with nothing frozen')
    check(h.ret('guest-fsfreeze-freeze-list', {'mountpoints': [loop.dir]}) == 1, 'freeze-list')
    w = check_frozen(loop, 'w2')
    check(h.ret('guest-fsfreeze-thaw') == 1, 'thaw after freeze-list')
    check_thawed(w, 'after freeze-list')
    h.error({'execute': 'guest-fsfreeze-freeze-list', 'arguments': {'mountpoints': 'x'}}, 'GenericError',
            "'mountpoints'.*array")
    h.error({'execute': 'guest-fsfreeze-freeze-list', 'arguments': {'mountpoints': [1]}}, 'GenericError',
            "'mountpoints'")
    # qemu-ga, on the same filesystem: the same replies.
    check(ref.ret('guest-fsfreeze-freeze-list', {'mountpoints': [loop.dir]}) == 1, 'qemu-ga freeze-list')
    r = ref.call('guest-fsfreeze-freeze-list', {'mountpoints': [loop.dir]})
    check(ref.ret('guest-fsfreeze-status') == 'frozen', 'qemu-ga status')
    check(ref.ret('guest-fsfreeze-thaw') == 1, 'qemu-ga thaw')
    check(r['error']['desc'] == 'Command guest-fsfreeze-freeze-list has been disabled: the agent is in frozen state',
          'qemu-ga says %r' % r)
    check(h.ret('guest-fsfreeze-freeze-list', {'mountpoints': [loop.dir]}) == 1, 'freeze-list again')
    ours = h.call('guest-fsfreeze-freeze-list', {'mountpoints': [loop.dir]})
    check(ours == r, 'frozen-state error %r, qemu-ga %r' % (ours, r))
    check(h.ret('guest-fsfreeze-thaw') == 1, 'thaw')


def t_freeze_timeout(h, loop, helper):
    check(h.ret('guest-fsfreeze-freeze') == 1, 'freeze')
    w = check_frozen(loop, 'w3')
    check_thawed(w, '%d s after the freeze' % FREEZE_TIMEOUT)
    check(h.ret('guest-fsfreeze-status') == 'thawed', 'status after the timeout')
    check('no guest-fsfreeze-thaw within %d s' % FREEZE_TIMEOUT in helper.text(), 'no log line for the timeout')


def t_freeze_daemon_exit(s, loop, helper):
    for how in ('SIGTERM', 'SIGKILL'):
        agent, h = s.agent()
        check(h.ret('guest-fsfreeze-freeze') == 1, 'freeze')
        w = check_frozen(loop, 'w-' + how)
        if how == 'SIGTERM':
            s.finish(agent, h)
        else:
            agent.proc.kill()
            agent.proc.wait()
            h.close()
        # Well before the helper's own timeout: the closed connection thaws.
        t0 = time.monotonic()
        check_thawed(w, 'after the daemon exited (%s)' % how)
        check(time.monotonic() - t0 < FREEZE_TIMEOUT - 0.5, 'thawed by the timeout, not by the exit')
    check(helper.text().count('the daemon went away with 1 filesystems frozen') == 2, 'log lines')


def t_fstrim(h, loop):
    r = h.ret('guest-fstrim', {'minimum': 0})
    check(set(r) == {'paths'}, 'members %r' % r)
    paths = by('path', r['paths'])
    check(loop.dir in paths, 'the loop filesystem is not trimmed: %r' % r)
    p = paths[loop.dir]
    check(set(p) == {'path', 'trimmed', 'minimum'} and isinstance(p['trimmed'], int), 'result %r' % p)
    h.error({'execute': 'guest-fstrim', 'arguments': {'minimum': 'x'}}, 'GenericError', "'minimum'")


def t_audit(agent):
    log = agent.stderr()
    check(re.search(r'qga audit: guest-fsfreeze-freeze mode=-: done by the fs helper: returned 1', log),
          'no audit line for the freeze')
    check(re.search(r'qga audit: guest-fsfreeze-thaw mode=-: done', log), 'no audit line for the thaw')


def t_no_helper(s):
    agent, h = s.agent(env=dict(s.env, VDAGENT_QGA_HELPER_DIR=os.path.join(s.tmp, 'no-helpers')))
    h.error('guest-fsfreeze-status', 'GenericError', r'vdagentd-qga-fs\.socket')
    h.ping()
    s.finish(agent, h)


# --- set-time, set-vcpus, set-memory-blocks, passwords, keys: the other helpers ---

def t_set_time(h, helper):
    # The time helper runs without CAP_SYS_TIME (setpriv): this machine's clock is never changed,
    # and the refusal proves the request got as far as clock_settime().
    h.error({'execute': 'guest-set-time', 'arguments': {'time': 1700000000 * 10**9}}, 'GenericError',
            r'^Failed to set time to guest: Operation not permitted$')
    h.error({'execute': 'guest-set-time', 'arguments': {'time': -1}}, 'GenericError', r'Invalid time -1')
    h.error({'execute': 'guest-set-time', 'arguments': {'time': 'now'}}, 'GenericError', r"'time'.*integer")
    # Without a time: from the RTC (here a device path that does not exist).
    h.error({'execute': 'guest-set-time', 'arguments': {}}, 'GenericError',
            r'Cannot read the hardware clock .*no-rtc: No such file or directory')


def t_set_vcpus(h, ref):
    cpus = h.ret('guest-get-vcpus')
    # Only ever "online": true (this machine is shared); a CPU already online is not written to.
    req = [{'logical-id': c['logical-id'], 'online': True} for c in cpus]
    check(h.ret('guest-set-vcpus', {'vcpus': req}) == len(req), 'set-vcpus count')
    check(ref.ret('guest-set-vcpus', {'vcpus': req}) == len(req), 'qemu-ga set-vcpus count')
    check(h.ret('guest-get-vcpus') == cpus, 'the CPUs changed')
    for bad in ([{'logical-id': 9999, 'online': True}], ):
        ours, theirs = h.call('guest-set-vcpus', {'vcpus': bad}), ref.call('guest-set-vcpus', {'vcpus': bad})
        check(ours == theirs, 'set-vcpus %r: %r, qemu-ga %r' % (bad, ours, theirs))
    # Stops at the first failure, counting the ones done before it.
    check(h.ret('guest-set-vcpus', {'vcpus': req[:1] + [{'logical-id': 9999, 'online': True}]}) == 1, 'partial')
    fixed = [c['logical-id'] for c in cpus if not c.get('can-offline', True)]
    if fixed:
        h.error({'execute': 'guest-set-vcpus', 'arguments': {'vcpus': [{'logical-id': fixed[0], 'online': False}]}},
                'GenericError', r"^logical processor #%d can't be offlined$" % fixed[0])
    h.error({'execute': 'guest-set-vcpus', 'arguments': {'vcpus': [{'logical-id': 'x'}]}}, 'GenericError', 'vcpus')
    h.error({'execute': 'guest-set-vcpus', 'arguments': {'vcpus': 3}}, 'GenericError', "'vcpus'.*array")


def t_set_memory_blocks(h, ref):
    blocks = h.ret('guest-get-memory-blocks')
    check(blocks, 'no memory blocks')
    req = [{'phys-index': blocks[0]['phys-index'], 'online': True}, {'phys-index': 10**9, 'online': True}]
    ours, theirs = h.ret('guest-set-memory-blocks', {'mem-blks': req}), ref.ret('guest-set-memory-blocks',
                                                                                 {'mem-blks': req})
    check(ours == theirs, 'set-memory-blocks %r, qemu-ga %r' % (ours, theirs))
    check(ours[1] == {'phys-index': 10**9, 'response': 'not-found', 'error-code': 2}, 'not-found %r' % ours)


class FakeRoot:
    """etc/passwd, etc/shadow and /home/alice (uid 4242) under a test directory: the account
    helper's --root. This machine's own accounts are never touched."""

    def __init__(self, tmp):
        os.chmod(tmp, 0o711)  # alice may pass through to her home, not list it
        self.dir = os.path.join(tmp, 'root')
        os.makedirs(os.path.join(self.dir, 'etc'))
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, 'etc'), 0o755)
        self.home = os.path.join(self.dir, 'home', 'alice')
        os.makedirs(self.home)
        os.chmod(os.path.dirname(self.home), 0o755)
        os.chown(self.home, 4242, 4242)
        os.chmod(self.home, 0o700)
        with open(os.path.join(self.dir, 'etc', 'passwd'), 'w') as f:
            f.write('alice:x:4242:4242:Alice:/home/alice:/bin/sh\n')
        with open(os.path.join(self.dir, 'etc', 'group'), 'w') as f:
            f.write('alice:x:4242:\n')
        self.shadow = os.path.join(self.dir, 'etc', 'shadow')
        with open(self.shadow, 'w') as f:
            f.write('alice:*:19000:0:99999:7:::\n')
        os.chmod(self.shadow, 0o640)

    def hash_of(self, user):
        with open(self.shadow) as f:
            for line in f:
                if line.split(':')[0] == user:
                    return line.split(':')[1]
        return None


def b64(text):
    import base64
    return base64.b64encode(text.encode()).decode()


def t_password(s, h, helper, root):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        import crypt
    secret = 'correct horse \u00e9 battery'
    check(h.ret('guest-set-user-password', {'username': 'alice', 'password': b64(secret), 'crypted': False}) == {},
          'plain password')
    stored = root.hash_of('alice')
    check(stored.startswith('$') and crypt.crypt(secret, stored) == stored, 'shadow has %r' % stored)
    hashed = crypt.crypt('other', crypt.mksalt(crypt.METHOD_SHA512))
    check(h.ret('guest-set-user-password', {'username': 'alice', 'password': b64(hashed), 'crypted': True}) == {},
          'crypted password')
    check(root.hash_of('alice') == hashed, 'crypted hash not stored as given')
    for user, pw, crypted, err in (('alice', b64('a\nb'), False, r'^forbidden characters in raw password$'),
                                   ('ali:ce', b64('x'), False, r'^forbidden characters in username$'),
                                   ('bob', b64('x'), False, r"failed to lookup user 'bob'"),
                                   ('alice', 'not base64!', False, r"'password'.*Base64"),
                                   ('alice', b64('x' * 7000), False, r"'password'.*8192"),
                                   ('alice', b64('a:b'), True, r'forbidden characters in crypted password')):
        h.error({'execute': 'guest-set-user-password', 'arguments': {'username': user, 'password': pw,
                                                                      'crypted': crypted}}, 'GenericError', err)
    h.error({'execute': 'guest-set-user-password', 'arguments': {'username': 'alice', 'password': b64('x')}},
            'GenericError', "'crypted' is missing")
    check(root.hash_of('alice') == hashed, 'a refused request changed the password')
    # Never logged, in any form.
    logs = s.agents[-1][0].stderr() + helper.text()
    for leak in (secret, b64(secret), 'other', b64(hashed), hashed):
        check(leak not in logs, 'the password (%r) is in a log' % leak)
    check(re.search(r'qga audit: guest-set-user-password mode=-: done by the account helper', logs), 'no audit line')


def t_ssh_keys(h, root, ref):
    k1, k2, k3 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 one@host', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB two@host', \
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK3 three@host'
    check(h.ret('guest-ssh-get-authorized-keys', {'username': 'alice'}) == {'keys': []}, 'no file: no keys')
    check(h.ret('guest-ssh-add-authorized-keys', {'username': 'alice', 'keys': [k1, k2]}) == {}, 'add')
    check(h.ret('guest-ssh-add-authorized-keys', {'username': 'alice', 'keys': [k1]}) == {}, 'add again')
    check(h.ret('guest-ssh-get-authorized-keys', {'username': 'alice'}) == {'keys': [k1, k2]}, 'keys after add')
    path = os.path.join(root.home, '.ssh', 'authorized_keys')
    st, dst = os.stat(path), os.stat(os.path.dirname(path))
    check((st.st_uid, st.st_gid, st.st_mode & 0o777) == (4242, 4242, 0o600), 'file %o %d' % (st.st_mode, st.st_uid))
    check((dst.st_uid, dst.st_mode & 0o777) == (4242, 0o700), '.ssh %o %d' % (dst.st_mode, dst.st_uid))
    check(h.ret('guest-ssh-remove-authorized-keys', {'username': 'alice', 'keys': [k2, k3]}) == {}, 'remove')
    check(h.ret('guest-ssh-get-authorized-keys', {'username': 'alice'}) == {'keys': [k1]}, 'keys after remove')
    check(h.ret('guest-ssh-add-authorized-keys', {'username': 'alice', 'keys': [k3], 'reset': True}) == {}, 'reset')
    check(h.ret('guest-ssh-get-authorized-keys', {'username': 'alice'}) == {'keys': [k3]}, 'keys after reset')
    h.error({'execute': 'guest-ssh-add-authorized-keys', 'arguments': {'username': 'alice', 'keys': ['a\nb']}},
            'GenericError', 'invalid OpenSSH public key')
    # A blank key is skipped: virsh set-user-sshkeys --file sends the empty line after the last key.
    check(h.ret('guest-ssh-add-authorized-keys', {'username': 'alice', 'keys': ['', k3]}) == {}, 'blank key')
    check(h.ret('guest-ssh-get-authorized-keys', {'username': 'alice'}) == {'keys': [k3]}, 'keys after blank')
    h.error({'execute': 'guest-ssh-add-authorized-keys', 'arguments': {'username': 'alice', 'keys': ['k'] * 1025}},
            'GenericError', 'more than 1024 keys')
    # An unknown user: the same class as qemu-ga.
    r = ref.call('guest-ssh-get-authorized-keys', {'username': 'nosuchuser'})
    h.error({'execute': 'guest-ssh-get-authorized-keys', 'arguments': {'username': 'nosuchuser'}},
            r['error']['class'], r"failed to lookup user 'nosuchuser'")
    # The user's own rights apply: a symlink planted to a root-only file leads nowhere.
    secret = os.path.join(os.path.dirname(root.dir), 'root-only')
    with open(secret, 'w') as f:
        f.write('ssh-rsa ROOTONLY secret\n')
    os.chmod(secret, 0o600)
    os.unlink(path)
    os.symlink(secret, path)
    h.error({'execute': 'guest-ssh-get-authorized-keys', 'arguments': {'username': 'alice'}}, 'GenericError',
            'Permission denied')
    h.ret('guest-ssh-add-authorized-keys', {'username': 'alice', 'keys': [k1], 'reset': True})
    with open(secret) as f:
        check(f.read() == 'ssh-rsa ROOTONLY secret\n', 'the root-only file was changed')


# --- guest-exec, guest-file-*: disabled unless the policy file enables them ---

SHELL_VERBS = ['guest-exec', 'guest-exec-status', 'guest-file-open', 'guest-file-close', 'guest-file-read',
               'guest-file-write', 'guest-file-seek', 'guest-file-flush']


def t_shell_disabled(s):
    agent, h = s.agent(['--allow-rpcs', ','.join(SHELL_VERBS + ['guest-info', 'guest-ping'])])
    for verb in SHELL_VERBS:
        h.error(verb, 'CommandNotFound', r'^Command %s has been disabled' % verb)
    en = {c['name']: c['enabled'] for c in h.ret('guest-info')['supported_commands']}
    check(not any(en[v] for v in SHELL_VERBS) and en['guest-ping'], 'guest-info %r' % en)
    s.finish(agent, h)


def shell_agent(s):
    conf = os.path.join(s.tmp, 'shell.conf')
    with open(conf, 'w') as f:
        f.write('[general]\nallow-rpcs=guest-sync-delimited,guest-sync,guest-ping,guest-info,%s\n' % ','.join(SHELL_VERBS))
    return s.agent(['--qga-config', conf])


def exec_wait(agent_or_ref, args):
    pid = agent_or_ref.ret('guest-exec', args)['pid']
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = agent_or_ref.ret('guest-exec-status', {'pid': pid})
        if st['exited']:
            return st
        time.sleep(0.05)
    raise Failure('%r did not finish' % args)


def t_exec(s, ref):
    agent, h = shell_agent(s)
    import base64
    cases = [
        {'path': '/bin/sh', 'arg': ['-c', 'echo out; echo err >&2; exit 3'], 'capture-output': True},
        {'path': 'cat', 'input-data': base64.b64encode(b'fed through stdin').decode(), 'capture-output': True},
        {'path': '/bin/sh', 'arg': ['-c', 'kill -9 $$'], 'capture-output': True},
        {'path': '/bin/echo', 'arg': ['not captured']},
        {'path': '/usr/bin/env', 'env': ['ONLY=this'], 'capture-output': True},
    ]
    for args in cases:
        ours, theirs = exec_wait(h, args), exec_wait(ref, args)
        check(ours == theirs, 'guest-exec %r: %r, qemu-ga %r' % (args, ours, theirs))
    # Output beyond the limit: truncated, and the child does not block on a full pipe.
    st = exec_wait(h, {'path': '/bin/sh', 'arg': ['-c', 'head -c 300000 /dev/zero'], 'capture-output': True})
    check(st.get('out-truncated') is True and len(base64.b64decode(st['out-data'])) == 256 * 1024, 'truncation %r'
          % {k: (v if k != 'out-data' else len(v)) for k, v in st.items()})
    r, ours = ref.call('guest-exec-status', {'pid': 1}), h.call('guest-exec-status', {'pid': 1})
    check(ours == r, 'unknown pid: %r, qemu-ga %r' % (ours, r))
    h.error({'execute': 'guest-exec', 'arguments': {'path': '/no/such/program'}}, 'GenericError', 'No such file')
    h.error({'execute': 'guest-exec', 'arguments': {'path': '/bin/true', 'arg': [1]}}, 'GenericError', "'arg'")
    log = agent.stderr()
    check(re.search(r'qga audit: guest-exec mode=/bin/sh: started pid \d+ with 2 arguments', log), 'no audit line')
    check('echo out' not in log, 'arguments logged')
    s.finish(agent, h)


def t_file(s, ref):
    agent, h = shell_agent(s)
    import base64
    results = []
    for peer in (h, ref):
        path = os.path.join(s.tmp, 'file-%d' % len(results))
        handle = peer.ret('guest-file-open', {'path': path, 'mode': 'w+'})
        check(isinstance(handle, int), 'handle %r' % handle)
        w = peer.ret('guest-file-write', {'handle': handle, 'buf-b64': base64.b64encode(b'hello world').decode()})
        seek = peer.ret('guest-file-seek', {'handle': handle, 'offset': 6, 'whence': 'set'})
        r1 = peer.ret('guest-file-read', {'handle': handle, 'count': 3})
        r2 = peer.ret('guest-file-read', {'handle': handle})
        seek2 = peer.ret('guest-file-seek', {'handle': handle, 'offset': 0, 'whence': 0})
        flush = peer.ret('guest-file-flush', {'handle': handle})
        close = peer.ret('guest-file-close', {'handle': handle})
        gone = peer.call('guest-file-read', {'handle': handle})
        missing = peer.call('guest-file-open', {'path': os.path.join(s.tmp, 'no-such-file')})
        with open(path, 'rb') as f:
            content = f.read()
        results.append([w, seek, r1, r2, seek2, flush, close, content, gone['error']['class'], missing])
    check(results[0] == results[1], 'file verbs: %r, qemu-ga %r' % tuple(results))
    h.error({'execute': 'guest-file-open', 'arguments': {'path': '/x', 'mode': 'rw'}}, 'GenericError', 'mode')
    handle = h.ret('guest-file-open', {'path': os.path.join(s.tmp, 'file-0')})
    h.error({'execute': 'guest-file-read', 'arguments': {'handle': handle, 'count': 512 * 1024 + 1}},
            'GenericError', 'invalid for argument count')
    handles = [handle] + [h.ret('guest-file-open', {'path': os.path.join(s.tmp, 'file-0')}) for _ in range(63)]
    h.error({'execute': 'guest-file-open', 'arguments': {'path': os.path.join(s.tmp, 'file-0')}}, 'GenericError',
            'more than 64 files open')
    for x in handles:
        h.ret('guest-file-close', {'handle': x})
    check(re.search(r"qga audit: guest-file-open mode=w\+ \S+file-0: handle \d+", agent.stderr()), 'no audit line')
    s.finish(agent, h)


# --- QEMU's tests/unit/test-qga.c: blocked-rpcs and allowed-rpcs, as it runs them ---

def t_qemu_blocked_rpcs(s):
    agent, h = s.agent(['--block-rpcs', 'guest-ping,guest-get-time'])
    h.error('guest-ping', 'CommandNotFound')
    h.error('guest-get-time', 'CommandNotFound')
    h.ret('guest-get-fsinfo')  # "check something work"
    s.finish(agent, h)


def t_qemu_allowed_rpcs(s):
    agent, h = s.agent(['--allow-rpcs', 'guest-ping,guest-get-time'])
    h.ping()
    h.ret('guest-get-time')
    h.error('guest-get-fsinfo', 'CommandNotFound')  # "check something else"
    s.finish(agent, h)


def skip_all(s, names, why):
    for name in names:
        s.tap.run(name, lambda: (_ for _ in ()).throw(Skip(why)))


FS_CASES = ['guest-get-fsinfo as qemu-ga (loop mount and /)', 'guest-get-disks as qemu-ga',
            'fsfreeze: freeze, status, thaw, hooks in order', 'fsfreeze: freeze-list, as qemu-ga',
            'fsfreeze: thawed after the timeout', 'fsfreeze: thawed when the daemon exits or dies',
            'guest-fstrim', 'privileged verbs are audited', 'no helper: a clear error']


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('driver', 'vdagentd'):
        print(__doc__, file=sys.stderr)
        return 2
    # Freezing is machine-wide in one respect: qemu-ga's guest-fsfreeze-thaw thaws every filesystem,
    # including another run's frozen loop mount. Runs of this file (driver and vdagentd, other
    # worktrees) take turns on this lock; nothing else on the machine freezes filesystems.
    lock = open(os.path.join(tempfile.gettempdir(), 'vdagent-qga-fsfreeze.lock'), 'a')
    fcntl.flock(lock, fcntl.LOCK_EX)
    s = base.Suite(sys.argv[1], sys.argv[2])
    ref = loop = helper = None
    helpers = []
    try:
        s.start_bus()
        s.start_logind()
        try:
            ref = Reference(s.tmp)
        except Skip as e:
            print('1..0 # SKIP %s' % e)
            return 0
        try:
            loop = LoopMount(s.tmp)
            helper = FsHelper(s, loop)
        except Skip as e:
            loop_skip = str(e)
        helpers = [helper] if helper else []
        helpers.append(Helper(s, 'time', ['--rtc', os.path.join(s.tmp, 'no-rtc')],
                              ['/usr/bin/setpriv', '--bounding-set=-sys_time', '--inh-caps=-all']))
        helpers.append(Helper(s, 'hotplug'))
        root = FakeRoot(s.tmp)
        helpers.append(Helper(s, 'account', ['--root', root.dir]))
        agent, h = s.agent()
        s.tap.run('guest-network-get-interfaces as qemu-ga', t_interfaces, h, ref)
        s.tap.run('guest-set-time: reaches clock_settime (denied here), RTC, limits', t_set_time, h, helpers[-3])
        s.tap.run('guest-set-vcpus as qemu-ga (online only)', t_set_vcpus, h, ref)
        s.tap.run('guest-set-memory-blocks as qemu-ga (online only)', t_set_memory_blocks, h, ref)
        s.tap.run('guest-set-user-password: plain and crypted, limits, never logged', t_password, s, h,
                  helpers[-1], root)
        s.tap.run('guest-ssh-*-authorized-keys, as the user', t_ssh_keys, h, root, ref)
        if helper:
            s.tap.run(FS_CASES[0], t_fsinfo, h, ref, loop)
            s.tap.run(FS_CASES[1], t_disks, h, ref, loop)
            s.tap.run(FS_CASES[2], t_freeze_thaw, h, loop, helper)
            s.tap.run(FS_CASES[3], t_freeze_list, h, loop, helper, ref)
            s.tap.run(FS_CASES[4], t_freeze_timeout, h, loop, helper)
        else:
            skip_all(s, FS_CASES[:5], loop_skip)
        s.tap.run('guest-get-load from /proc/loadavg', t_load, h)
        s.tap.run('guest-get-memory-blocks and -info as qemu-ga', t_memory_blocks, h, ref)
        s.tap.run('guest-info declares the new verbs', t_info_lists_new_verbs, h, ref)
        if helper:
            s.tap.run(FS_CASES[6], t_fstrim, h, loop)
            s.tap.run(FS_CASES[7], t_audit, agent)
        else:
            skip_all(s, FS_CASES[6:8], loop_skip)
        s.tap.run('the first agent stops cleanly', s.finish, agent, h)
        if helper:
            s.tap.run(FS_CASES[5], t_freeze_daemon_exit, s, loop, helper)
        else:
            skip_all(s, FS_CASES[5:6], loop_skip)
        s.tap.run(FS_CASES[8], t_no_helper, s)
        s.tap.run('guest-get-users from utmp as qemu-ga', t_users_vs_reference, s, ref)
        s.tap.run('guest-exec and guest-file-* disabled unless the policy file enables them', t_shell_disabled, s)
        s.tap.run('guest-exec and -status as qemu-ga (policy file)', t_exec, s, ref)
        s.tap.run('guest-file-* as qemu-ga (policy file)', t_file, s, ref)
        s.tap.run("test-qga.c's blocked-rpcs case", t_qemu_blocked_rpcs, s)
        s.tap.run("test-qga.c's allowed-rpcs case", t_qemu_allowed_rpcs, s)
        s.tap.run('qemu-ga served every request', lambda: check(ref.proc.poll() is None, 'qemu-ga exited'))
    finally:
        for x in helpers:
            x.stop()
        if loop:
            loop.umount()
        if ref:
            ref.stop()
        s.cleanup()
    print('1..%d' % s.tap.n)
    return s.tap.status()


if __name__ == '__main__':
    sys.exit(main())
