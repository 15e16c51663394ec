#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The limits of the QGA verbs of issue 13, each hit at N and just past it.

usage: test-qga-limits.py driver PATH | vdagentd PATH   (as test-qga.py)

- guest-network-get-interfaces: 1024 interfaces, 256 addresses each (qga-verbs.h) — real bridge
  interfaces in a network namespace of our own (as root: the script re-runs itself under
  `unshare --net`; skipped otherwise). The machine's own interfaces are never touched.
- guest-get-fsinfo: 4096 filesystems — bind mounts of a loop filesystem, in the mount namespace
  of our own the same `unshare` gives (`--mount`: nothing reaches the machine's mounts).
- guest-get-disks: 4096 disks — a tmpfs over /sys/block in that mount namespace, with a size each.
- guest-get-memory-blocks: 65536 blocks — a tmpfs over /sys/devices/system/memory likewise; such a
  reply is over the port's 1 MiB of unread replies, so the host sees a reconnection either way.
- guest-get-users from utmp: 65536 records — a utmp file of ours (VDAGENT_QGA_UTMP).
- fsfreeze hooks: 64 run, each killed after its timeout (scaled down with the helper's hidden
  --hook-timeout test hook) — the fs helper with a hook directory of ours and `--only-under` an
  empty directory, so guest-fsfreeze-freeze freezes nothing (and needs no lock) but runs the hooks.
- A helper's answer timeouts, 60 s and 600 s for guest-fstrim, divided by 20
  (VDAGENT_QGA_HELPER_TIMEOUT_DIVISOR, a test hook honoured with VDAGENT_QGA_HELPER_DIR only).
- A helper's reply line: 4 MiB (qga-helper.h) — the test plays the fs helper on its socket
  (VDAGENT_QGA_HELPER_DIR) and answers with lines of exactly 4 MiB and one byte more.
Past a limit the user sees a truncated reply (or the helper's GenericError) and one clear log line.
"""
import ctypes
import importlib.util
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

from vdtest import Skip, root_is_mount_point



def load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


base = load('qga_base', 'test-qga.py')
verbs = load('qga_verbs', 'test-qga-verbs.py')  # its Helper: systemd-socket-activate as the unit would
check, Failure = base.check, base.Failure

MAX_INTERFACES = 1024    # VD_QGA_MAX_INTERFACES
MAX_IF_ADDRESSES = 256   # VD_QGA_MAX_IF_ADDRESSES
MAX_UTMP_ENTRIES = 65536  # VD_QGA_MAX_UTMP_ENTRIES
MAX_REPLY = 4 * 1024 * 1024  # VD_QGA_HELPER_MAX_REPLY
MAX_HOOKS = 64           # VD_QGA_MAX_HOOKS
TIMEOUT_DIVISOR = 20     # VDAGENT_QGA_HELPER_TIMEOUT_DIVISOR: 60 s -> 3 s, 600 s -> 30 s
MAX_MOUNTS = 4096        # VD_QGA_MAX_MOUNTS
MAX_DISKS = 4096         # VD_QGA_MAX_DISKS
MAX_MEMORY_BLOCKS = 65536  # VD_QGA_MAX_MEMORY_BLOCKS
HOOK_TIMEOUT = 2         # --hook-timeout (VD_QGA_HOOK_TIMEOUT_S is 60)
NS_MARK = 'VD_QGA_LIMITS_NETNS'


def in_own_netns():
    return os.environ.get(NS_MARK) == '1'


def ip_batch(lines):
    r = subprocess.run(['ip', '-batch', '-'], input='\n'.join(lines) + '\n', capture_output=True, text=True)
    check(r.returncode == 0, 'ip -batch: %s' % r.stderr[-500:])


def warnings_of(agent, text):
    return [line for line in agent.stderr().splitlines() if text in line]


def interfaces(h):
    return {i['name']: i for i in h.ret('guest-network-get-interfaces', timeout=60)}


def t_addresses(s):
    if not in_own_netns():
        raise Skip('needs root for a network namespace of its own')
    ip_batch(['link add vdlim0 type bridge'] +
             ['address add 10.77.%d.%d/32 dev vdlim0' % (i // 256, i % 256) for i in range(MAX_IF_ADDRESSES)])
    agent, h = s.agent()
    line = '"vdlim0": reporting the first %d addresses only' % MAX_IF_ADDRESSES
    try:
        got = interfaces(h)['vdlim0'].get('ip-addresses', [])
        check(len(got) == MAX_IF_ADDRESSES, 'at the limit: %d addresses' % len(got))
        check(not warnings_of(agent, line), 'a truncation warning at the limit')
        ip_batch(['address add 10.77.200.1/32 dev vdlim0'])
        got = interfaces(h)['vdlim0'].get('ip-addresses', [])
        check(len(got) == MAX_IF_ADDRESSES, 'past the limit: %d addresses' % len(got))
        check('10.77.200.1' not in [a['ip-address'] for a in got], 'the address past the limit is reported')
        check(len(warnings_of(agent, line)) == 1, 'no clear log line past the limit:\n%s' % agent.stderr()[-800:])
        h.ping()
        s.finish(agent, h)
    finally:
        ip_batch(['link del vdlim0'])


def t_interfaces(s):
    if not in_own_netns():
        raise Skip('needs root for a network namespace of its own')
    have = len(socket.if_nameindex())  # lo (/sys/class/net is the machine's: sysfs is not remounted)
    names = ['vdl%d' % i for i in range(MAX_INTERFACES - have + 1)]
    ip_batch(['link add %s type bridge' % n for n in names[:-1]])
    agent, h = s.agent()
    line = 'reporting the first %d interfaces only' % MAX_INTERFACES
    try:
        got = interfaces(h)
        check(len(got) == MAX_INTERFACES and names[-2] in got, 'at the limit: %d interfaces' % len(got))
        check(not warnings_of(agent, line), 'a truncation warning at the limit')
        ip_batch(['link add %s type bridge' % names[-1]])
        got = interfaces(h)
        check(len(got) == MAX_INTERFACES, 'past the limit: %d interfaces' % len(got))
        check(names[-1] not in got, 'the interface past the limit (the newest) is reported')
        check(len(warnings_of(agent, line)) == 1, 'no clear log line past the limit:\n%s' % agent.stderr()[-800:])
        h.ping()
        s.finish(agent, h)
    finally:
        ip_batch(['link del %s' % n for n in names if os.path.exists('/sys/class/net/' + n)])


def utmp_record(ut_type, user='', seconds=0):
    """glibc's struct utmpx on 64-bit Linux (384 bytes)."""
    return struct.pack('<hxxi32s4s32s256shhiii16s20x', ut_type, 4242, b'pts/9', b'9', user.encode(), b'',
                       0, 0, 0, seconds, 0, b'')


def t_utmp(s):
    check(len(utmp_record(7)) == 384, 'utmpx layout')
    path = os.path.join(s.tmp, 'utmp')
    dead = utmp_record(8)  # DEAD_PROCESS: read, counted, not a user
    line = 'reading the first %d utmp records only' % MAX_UTMP_ENTRIES
    env = dict(s.env, VDAGENT_QGA_UTMP=path, DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + os.path.join(s.tmp, 'no-bus'))
    for extra in (0, 1):
        with open(path, 'wb') as f:
            f.write(dead * (MAX_UTMP_ENTRIES - 1 + extra) + utmp_record(7, 'lastone', 1000))
        agent, h = s.agent(env=env)
        got = h.ret('guest-get-users', timeout=60)
        if extra == 0:
            check(got == [{'user': 'lastone', 'login-time': 1000.0}], 'at the limit: %r' % got)
            check(not warnings_of(agent, line), 'a truncation warning at the limit')
        else:
            check(got == [], 'past the limit, the last record is read: %r' % got)
            check(len(warnings_of(agent, line)) == 1, 'no clear log line past the limit:\n%s' % agent.stderr()[-800:])
        s.finish(agent, h)


class FakeFsHelper:
    """Plays vdagentd-qga-fs.socket: each request line read gets the next of `replies`: bytes, or
    (seconds, bytes) sent after a delay, or None: no answer at all."""

    def __init__(self, directory, replies):
        os.makedirs(directory, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(os.path.join(directory, 'qga-fs.sock'))
        self.sock.listen(4)
        self.replies = list(replies)
        self.errors = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            while self.replies:
                conn, _ = self.sock.accept()
                with conn, conn.makefile('rb') as f:
                    # The daemon keeps its connection between requests, and drops it after a bad reply.
                    while self.replies and f.readline():
                        reply = self.replies.pop(0)
                        if isinstance(reply, tuple):
                            time.sleep(reply[0])
                            reply = reply[1]
                        if reply is not None:
                            conn.sendall(reply)
        except OSError as e:
            self.errors.append(e)

    def stop(self):
        self.sock.close()


def reply_line(size):
    """{"return": "xx…"} of exactly `size` bytes."""
    head, tail = b'{"return": "', b'"}'
    return head + b'x' * (size - len(head) - len(tail)) + tail


def t_helper_reply(s):
    directory = os.path.join(s.tmp, 'fake-helpers')
    over_nl = reply_line(MAX_REPLY + 1) + b'\n'  # the excess and the newline may come in one read
    over = reply_line(MAX_REPLY + 1)              # no newline at all
    helper = FakeFsHelper(directory, [reply_line(MAX_REPLY) + b'\n', over_nl, over])
    agent, h = s.agent(env=dict(s.env, VDAGENT_QGA_HELPER_DIR=directory))
    line = 'guest-fsfreeze-status: the fs helper: a reply over %d bytes' % MAX_REPLY
    try:
        # At the limit the helper layer passes the line on; but the port itself keeps at most
        # VD_QGA_MAX_OUTPUT (1 MiB) of replies the host has not read, so the host is reconnected.
        h.send({'execute': 'guest-fsfreeze-status'})
        try:
            r = h.reply(timeout=60)[1]
            raise Failure('a reply through the 1 MiB port limit: %.200r' % r)
        except Failure as e:
            check('closed the connection' in str(e), str(e))
        check(not warnings_of(agent, line), 'the helper layer refused a reply of exactly 4 MiB')
        check(warnings_of(agent, 'bytes of replies are not read by the host: reconnecting'),
              'no port-limit log line:\n%s' % agent.stderr()[-800:])
        h.drop()
        h.accept(timeout=30)
        for n in (1, 2):
            h.error('guest-fsfreeze-status', 'GenericError',
                    r'^guest-fsfreeze-status: the privileged fs helper failed: a reply over %d bytes$' % MAX_REPLY)
            check(len(warnings_of(agent, line)) == n, 'no clear log line past the limit:\n%s' % agent.stderr()[-800:])
        h.ping()
        s.finish(agent, h)
        check(not helper.errors, 'fake helper: %r' % helper.errors)
    finally:
        helper.stop()


def t_hooks(s):
    hooks = os.path.join(s.tmp, 'hooks')
    nothing = os.path.join(s.tmp, 'no-mounts')
    os.mkdir(hooks)
    os.mkdir(nothing)
    log = os.path.join(s.tmp, 'hooks.log')
    names = ['h%02d' % i for i in range(MAX_HOOKS + 1)]

    def add(name, before=''):
        path = os.path.join(hooks, name)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\n%secho "${0##*/} $1" >> "%s"\n' % (before, log))
        os.chmod(path, 0o755)

    for name in reversed(names[:-1]):
        add(name)
    helper = verbs.Helper(s, 'fs', ['--hook-dir', hooks, '--only-under', nothing, '--hook-timeout', str(HOOK_TIMEOUT)])
    env = dict(s.env)
    line = 'running the first %d by name, 1 more skipped' % MAX_HOOKS
    agent, h = s.agent(env=env)
    try:
        for extra in (0, 1):
            if extra:
                add(names[-1])
            if os.path.exists(log):
                os.unlink(log)
            check(h.ret('guest-fsfreeze-freeze', timeout=60) == 0, 'froze something')
            with open(log) as f:
                ran = f.read().split('\n')
            want = ['%s freeze' % n for n in names[:MAX_HOOKS]] + ['%s thaw' % n for n in names[:MAX_HOOKS]] + ['']
            check(ran == want, '%d hooks in the directory: ran %r' % (MAX_HOOKS + extra, ran[:3] + ['…'] + ran[-3:]))
            warned = [x for x in helper.text().splitlines() if line in x]
            check(len(warned) == 2 * extra, 'log lines %r:\n%s' % (warned, helper.text()[-800:]))
        # The timeout (--hook-timeout: the 60 s default scaled down): a hook finishing just within it
        # runs to its end; one that takes longer is killed, logged, and the next hook still runs.
        for name in names:
            os.unlink(os.path.join(hooks, name))
        add('h00', 'sleep %s\n' % (HOOK_TIMEOUT - 1))
        add('h01', 'exec sleep 30\n')  # exec: the process killed is the sleep itself
        add('h02')
        os.unlink(log)
        start = time.monotonic()
        check(h.ret('guest-fsfreeze-freeze', timeout=60) == 0, 'froze something')
        took = time.monotonic() - start
        with open(log) as f:
            ran = f.read().split('\n')
        check(ran == ['h00 freeze', 'h02 freeze', 'h00 thaw', 'h02 thaw', ''], 'ran %r' % ran)
        check(2 * (2 * HOOK_TIMEOUT - 1) <= took < 25, 'took %.1f s' % took)
        killed = [x for x in helper.text().splitlines() if '/h01" ' in x and 'killed after %d s' % HOOK_TIMEOUT in x]
        check(len(killed) == 2, 'killed: %r:\n%s' % (killed, helper.text()[-800:]))
        s.finish(agent, h)
    finally:
        helper.stop()


def block_mounts():
    """The mounts guest-get-fsinfo counts: a device with a major number and a /sys/dev/block entry."""
    n = 0
    with open('/proc/self/mountinfo') as f:
        for line in f:
            major, minor = line.split()[2].split(':')
            n += major != '0' and os.path.exists('/sys/dev/block/%s:%s' % (major, minor))
    return n


def t_mounts(s):
    if not in_own_netns():
        raise Skip('needs root for a mount namespace of its own')
    loop = verbs.LoopMount(s.tmp)  # in our mount namespace: gone with it
    libc = ctypes.CDLL(None, use_errno=True)
    base_dir = os.path.join(s.tmp, 'binds')
    os.mkdir(base_dir)

    def bind(i):
        target = os.path.join(base_dir, 'm%d' % i)
        os.mkdir(target)
        if libc.mount(loop.dir.encode(), target.encode(), None, 4096, None) != 0:  # MS_BIND
            raise Failure('bind mount: %s' % os.strerror(ctypes.get_errno()))
        return target

    have = block_mounts()
    check(have < MAX_MOUNTS, '%d block mounts already' % have)
    last = [bind(i) for i in range(MAX_MOUNTS - have)][-1]
    sock = os.path.join(s.tmp, 'helpers', 'qga-fs.sock')
    if os.path.exists(sock):
        os.unlink(sock)
    helper = verbs.Helper(s, 'fs', ['--only-under', os.path.join(s.tmp, 'nothing-frozen')])
    line = 'guest-get-fsinfo: reporting the first %d filesystems only' % MAX_MOUNTS
    agent, h = s.agent(env=dict(s.env))
    try:
        got = h.ret('guest-get-fsinfo', timeout=60)
        check(len(got) == MAX_MOUNTS and got[0]['mountpoint'] == last, 'at the limit: %d, first %r' % (
            len(got), got[0] if got else None))
        check(line not in helper.text(), 'a warning at the limit')
        newest = bind(MAX_MOUNTS)
        got = h.ret('guest-get-fsinfo', timeout=60)
        check(len(got) == MAX_MOUNTS and got[0]['mountpoint'] == newest, 'past the limit: %d, first %r' % (
            len(got), got[0] if got else None))
        check(helper.text().count(line) == 1, 'no clear log line:\n%s' % helper.text()[-800:])
        s.finish(agent, h)
    finally:
        helper.stop()


def t_disks(s):
    if not in_own_netns():
        raise Skip('needs root for a mount namespace of its own')
    # 4097 block devices are not cheap: a tmpfs over /sys/block in our mount namespace only, with
    # the attributes guest-get-disks reads (a size; no partitions, no device-mapper slaves).
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b'vd-qga-limits', b'/sys/block', b'tmpfs', 0, b'mode=0755') != 0:
        raise Failure('tmpfs on /sys/block: %s' % os.strerror(ctypes.get_errno()))

    def disk(i):
        os.mkdir('/sys/block/vdl%d' % i)
        with open('/sys/block/vdl%d/size' % i, 'w') as f:
            f.write('8\n')

    line = 'guest-get-disks: reporting the first %d disks and partitions only' % MAX_DISKS
    try:
        for i in range(MAX_DISKS):
            disk(i)
        agent, h = s.agent()
        got = {d['name'] for d in h.ret('guest-get-disks', timeout=60)}
        check(got == {'/dev/vdl%d' % i for i in range(MAX_DISKS)}, 'at the limit: %d disks' % len(got))
        check(not warnings_of(agent, line), 'a warning at the limit')
        disk(MAX_DISKS)
        got = h.ret('guest-get-disks', timeout=60)
        check(len(got) == MAX_DISKS, 'past the limit: %d disks' % len(got))
        check(len(warnings_of(agent, line)) == 1, 'no clear log line:\n%s' % agent.stderr()[-800:])
        s.finish(agent, h)
    finally:
        libc.umount2(b'/sys/block', 2)  # MNT_DETACH


def t_memory_blocks(s):
    if not in_own_netns():
        raise Skip('needs root for a mount namespace of its own')
    # A tmpfs over /sys/devices/system/memory in our mount namespace: memoryN directories only
    # (no online/removable attributes: offline, cannot be offlined).
    memory = b'/sys/devices/system/memory'
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b'vd-qga-limits', memory, b'tmpfs', 0, b'mode=0755') != 0:
        raise Failure('tmpfs on %s: %s' % (memory, os.strerror(ctypes.get_errno())))
    line = 'guest-get-memory-blocks: reporting the first %d blocks only' % MAX_MEMORY_BLOCKS
    port_line = 'bytes of replies are not read by the host: reconnecting'
    try:
        for i in range(MAX_MEMORY_BLOCKS):
            os.mkdir('/sys/devices/system/memory/memory%d' % i)
        agent, h = s.agent()
        # 65536 blocks are ~3.4 MB of reply: more than the port's 1 MiB of unread replies
        # (VD_QGA_MAX_OUTPUT), so the host is reconnected instead; the worker's own limit is not hit.
        for extra, want in ((0, 0), (1, 1)):
            if extra:
                os.mkdir('/sys/devices/system/memory/memory%d' % MAX_MEMORY_BLOCKS)
            h.send({'execute': 'guest-get-memory-blocks'})
            try:
                r = h.reply(timeout=60)[1]
                raise Failure('a reply through the 1 MiB port limit: %.200r' % r)
            except Failure as e:
                check('closed the connection' in str(e), str(e))
            check(len(warnings_of(agent, line)) == want, '%d blocks: truncation lines %r' % (
                MAX_MEMORY_BLOCKS + extra, warnings_of(agent, line)))
            check(len(warnings_of(agent, port_line)) == extra + 1, 'no port-limit line:\n%s' % agent.stderr()[-800:])
            h.drop()
            h.accept(timeout=30)
        h.ping()
        s.finish(agent, h)
    finally:
        libc.umount2(memory, 2)  # MNT_DETACH


def t_helper_timeouts(s):
    directory = os.path.join(s.tmp, 'slow-helpers')
    regular, slow = 60 // TIMEOUT_DIVISOR, 600 // TIMEOUT_DIVISOR
    helper = FakeFsHelper(directory, [(regular - 1, b'{"return": "thawed"}\n'), None,
                                      (regular + 1, b'{"return": {"paths": []}}\n')])
    agent, h = s.agent(env=dict(s.env, VDAGENT_QGA_HELPER_DIR=directory,
                                VDAGENT_QGA_HELPER_TIMEOUT_DIVISOR=str(TIMEOUT_DIVISOR)))
    line = 'guest-fsfreeze-status: the fs helper: no answer within %d s (connection closed)' % regular
    try:
        check(h.ret('guest-fsfreeze-status', timeout=30) == 'thawed', 'an answer just within the timeout')
        start = time.monotonic()
        h.error('guest-fsfreeze-status', 'GenericError',
                r'^guest-fsfreeze-status: the privileged fs helper failed: no answer within %d s \(connection closed\)$'
                % regular)
        took = time.monotonic() - start
        check(regular - 0.5 <= took < regular + 5, 'the timeout took %.1f s' % took)
        check(len(warnings_of(agent, line)) == 1, 'no clear log line:\n%s' % agent.stderr()[-800:])
        # guest-fstrim has the long timeout: an answer after the regular one still arrives.
        check(h.ret('guest-fstrim', timeout=slow) == {'paths': []}, 'fstrim past the regular timeout')
        h.ping()
        s.finish(agent, h)
        check(not helper.errors, 'fake helper: %r' % helper.errors)
    finally:
        helper.stop()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('driver', 'vdagentd'):
        print(__doc__, file=sys.stderr)
        return 2
    unshare = shutil.which('unshare')
    # In a chroot (a fresh machine's test run) / is no mount point and `unshare --mount` cannot make
    # the namespace private: the namespace cases then skip rather than mount where it could leak.
    if os.geteuid() == 0 and not in_own_netns() and unshare and shutil.which('ip') and root_is_mount_point():
        os.environ[NS_MARK] = '1'
        os.execv(unshare, [unshare, '--net', '--mount', sys.executable] + sys.argv)
    s = base.Suite(sys.argv[1], sys.argv[2])
    try:
        s.tap.run('guest-network-get-interfaces: %d addresses per interface, then truncated and logged'
                  % MAX_IF_ADDRESSES, t_addresses, s)
        s.tap.run('guest-network-get-interfaces: %d interfaces, then truncated and logged' % MAX_INTERFACES,
                  t_interfaces, s)
        s.tap.run('guest-get-users: %d utmp records read, then logged' % MAX_UTMP_ENTRIES, t_utmp, s)
        s.tap.run('fsfreeze hooks: %d run in name order, then the rest skipped and logged; killed after the timeout' % MAX_HOOKS, t_hooks, s)
        s.tap.run('guest-get-fsinfo: %d filesystems, then truncated and logged' % MAX_MOUNTS, t_mounts, s)
        s.tap.run('guest-get-disks: %d disks, then truncated and logged' % MAX_DISKS, t_disks, s)
        s.tap.run('guest-get-memory-blocks: %d blocks, then truncated and logged (the port limit comes first)'
                  % MAX_MEMORY_BLOCKS, t_memory_blocks, s)
        s.tap.run('helper answers: within the 60 s (fstrim 600 s) timeouts, and past them (divided by %d)'
                  % TIMEOUT_DIVISOR, t_helper_timeouts, s)
        s.tap.run('a helper reply of 4 MiB passes the helper layer; one byte more: GenericError and logged', t_helper_reply, s)
    finally:
        s.cleanup()
    print('1..%d' % s.tap.n)
    return s.tap.status()


if __name__ == '__main__':
    sys.exit(main())
