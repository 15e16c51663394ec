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
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time

from vdtest import Skip

spec = importlib.util.spec_from_file_location('qga_base', os.path.join(os.path.dirname(__file__), 'test-qga.py'))
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)
check, Failure = base.check, base.Failure

# Never given to the reference: it would change this machine (shared by everyone).
REFERENCE_BLOCKED = ['guest-fsfreeze-freeze', 'guest-fsfreeze-freeze-list', 'guest-fstrim', 'guest-set-time',
                     'guest-shutdown', 'guest-suspend-disk', 'guest-suspend-ram', 'guest-suspend-hybrid',
                     'guest-set-user-password', 'guest-set-vcpus', 'guest-set-memory-blocks', 'guest-exec',
                     'guest-file-open', 'guest-ssh-add-authorized-keys', 'guest-ssh-remove-authorized-keys']


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
    for mp in (loop.dir, '/'):
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


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('driver', 'vdagentd'):
        print(__doc__, file=sys.stderr)
        return 2
    s = base.Suite(sys.argv[1], sys.argv[2])
    ref = loop = None
    try:
        s.start_bus()
        s.start_logind()
        try:
            ref = Reference(s.tmp)
        except Skip as e:
            print('1..0 # SKIP %s' % e)
            return 0
        agent, h = s.agent()
        s.tap.plan(11)
        s.tap.run('guest-network-get-interfaces as qemu-ga', t_interfaces, h, ref)
        try:
            loop = LoopMount(s.tmp)
            s.tap.run('guest-get-fsinfo as qemu-ga (loop mount and /)', t_fsinfo, h, ref, loop)
            s.tap.run('guest-get-disks as qemu-ga', t_disks, h, ref, loop)
        except Skip as e:
            for name in ('guest-get-fsinfo', 'guest-get-disks'):
                s.tap.run(name, lambda: (_ for _ in ()).throw(Skip(str(e))))
        s.tap.run('guest-get-load from /proc/loadavg', t_load, h)
        s.tap.run('guest-get-memory-blocks and -info as qemu-ga', t_memory_blocks, h, ref)
        s.tap.run('guest-info declares the new verbs', t_info_lists_new_verbs, h, ref)
        s.tap.run('the first agent stops cleanly', s.finish, agent, h)
        s.tap.run('guest-get-users from utmp as qemu-ga', t_users_vs_reference, s, ref)
        s.tap.run("test-qga.c's blocked-rpcs case", t_qemu_blocked_rpcs, s)
        s.tap.run("test-qga.c's allowed-rpcs case", t_qemu_allowed_rpcs, s)
        s.tap.run('qemu-ga served every request', lambda: check(ref.proc.poll() is None, 'qemu-ga exited'))
    finally:
        if loop:
            loop.umount()
        if ref:
            ref.stop()
        s.cleanup()
    return s.tap.status()


if __name__ == '__main__':
    sys.exit(main())
