#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The QEMU guest agent protocol of the root daemon, over a real Unix socket (issue 6).

usage: test-qga.py driver PATH     -- tests/qga/qga-driver (src/system/qga.c alone)
       test-qga.py vdagentd PATH   -- the real daemon, its QGA port given with --qga-port

The test plays the host: it listens on a Unix socket that the agent connects to as its QGA port,
sends requests like libvirt does and checks every reply against the shapes of qemu-ga's schema
(QEMU's qga/qapi-schema.json). logind is python3-dbusmock's template on a private bus given as
DBUS_SYSTEM_BUS_ADDRESS; guest-shutdown is checked through the mock's call log. The fallback without
logind runs a harmless script (VDAGENT_POWER_FALLBACK_COMMAND, a test hook) — never a real poweroff.
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dbus
import dbusmock
from daemon import vdagentd_argv
from vdtest import Skip, Tap, diag, stop_process

VERBS = ['guest-sync-delimited', 'guest-sync', 'guest-ping', 'guest-info', 'guest-shutdown',
         'guest-get-osinfo', 'guest-get-host-name', 'guest-get-time', 'guest-get-timezone',
         'guest-get-users', 'guest-get-vcpus', 'guest-network-get-interfaces', 'guest-get-fsinfo',
         'guest-get-disks', 'guest-get-load', 'guest-get-memory-blocks', 'guest-get-memory-block-info',
         'guest-fsfreeze-status', 'guest-fsfreeze-freeze', 'guest-fsfreeze-freeze-list', 'guest-fsfreeze-thaw',
         'guest-fstrim', 'guest-suspend-ram', 'guest-suspend-disk', 'guest-suspend-hybrid', 'guest-set-time',
         'guest-set-vcpus', 'guest-set-memory-blocks', 'guest-set-user-password', 'guest-ssh-get-authorized-keys',
         'guest-ssh-add-authorized-keys', 'guest-ssh-remove-authorized-keys', 'guest-exec', 'guest-exec-status',
         'guest-file-open', 'guest-file-close', 'guest-file-read', 'guest-file-write', 'guest-file-seek',
         'guest-file-flush']
# A root shell for the host: disabled unless the policy file enables them.
SHELL_VERBS = {'guest-exec', 'guest-exec-status', 'guest-file-open', 'guest-file-close', 'guest-file-read',
               'guest-file-write', 'guest-file-seek', 'guest-file-flush'}
NO_SUCCESS_RESPONSE = {'guest-shutdown', 'guest-suspend-ram', 'guest-suspend-disk', 'guest-suspend-hybrid'}
MAX_REQUEST = 64 * 1024
MAX_NESTING = 32
LOGIND_MANAGER = 'org.freedesktop.login1.Manager'


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Host:
    """The host end of one QGA port: a listening Unix socket and the agent connected to it."""

    def __init__(self, sock_path):
        self.path = sock_path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(sock_path)
        self.listener.listen(4)
        self.conn = None
        self.buf = b''

    def accept(self, timeout=10):
        self.listener.settimeout(timeout)
        conn, _ = self.listener.accept()
        conn.settimeout(None)
        self.conn = conn
        self.buf = b''

    def drop(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def close(self):
        self.drop()
        self.listener.close()

    def send(self, data):
        if isinstance(data, dict):
            data = json.dumps(data).encode()
        elif isinstance(data, str):
            data = data.encode()
        self.conn.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure('no reply in time (have %r)' % self.buf[:200])
        r, _, _ = select.select([self.conn], [], [], left)
        if not r:
            raise Failure('no reply in time (have %r)' % self.buf[:200])
        chunk = self.conn.recv(65536)
        if not chunk:
            raise Failure('the agent closed the connection')
        self.buf += chunk

    def reply(self, timeout=10):
        """The next reply: (delimited, object). Each reply ends with a newline."""
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b'\n', 1)
        delimited = line.startswith(b'\xff')
        if delimited:
            line = line[1:]
        check(b'\xff' not in line, 'a 0xFF inside a reply: %r' % line)
        try:
            return delimited, json.loads(line)
        except ValueError as e:
            raise Failure('reply is not JSON: %r (%s)' % (line, e))

    def no_reply(self, wait=0.5):
        r, _, _ = select.select([self.conn], [], [], wait)
        if self.buf or r:
            data = self.buf + (self.conn.recv(65536) if r else b'')
            raise Failure('unexpected reply: %r' % data[:300])

    def call(self, verb, args=None, id=None, timeout=10):
        req = {'execute': verb}
        if args is not None:
            req['arguments'] = args
        if id is not None:
            req['id'] = id
        self.send(req)
        return self.reply(timeout)[1]

    def ret(self, verb, args=None, timeout=10):
        r = self.call(verb, args, timeout=timeout)
        check('return' in r, '%s: expected a return, got %r' % (verb, r))
        check(set(r) == {'return'}, '%s: unexpected members in %r' % (verb, r))
        return r['return']

    def error(self, verb_or_data, cls=None, desc_re=None, id=None):
        if isinstance(verb_or_data, str) and verb_or_data.startswith('guest-'):
            r = self.call(verb_or_data, id=id)
        else:
            self.send(verb_or_data)
            r = self.reply()[1]
        check('error' in r, 'expected an error, got %r' % r)
        err = r['error']
        check(isinstance(err, dict) and set(err) == {'class', 'desc'}, 'bad error shape %r' % r)
        check(isinstance(err['class'], str) and isinstance(err['desc'], str), 'bad error types %r' % r)
        if cls:
            check(err['class'] == cls, 'expected class %s, got %r' % (cls, r))
        if desc_re:
            check(re.search(desc_re, err['desc']), 'desc %r does not match %r' % (err['desc'], desc_re))
        return r

    def ping(self):
        check(self.ret('guest-ping') == {}, 'guest-ping does not return {}')

    def sync(self, value):
        """Like libvirt: 0xFF, then guest-sync-delimited; skip anything before the 0xFF reply."""
        self.send(b'\xff')
        self.send({'execute': 'guest-sync-delimited', 'arguments': {'id': value}})
        for _ in range(100):
            delimited, r = self.reply()
            if delimited:
                check(r == {'return': value}, 'guest-sync-delimited replied %r' % r)
                return
        raise Failure('no delimited reply')


class Agent:
    """The program under test serving the QGA port `port`."""

    def __init__(self, kind, path, port, workdir, extra=(), env=None):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, 'agent-%d.log' % time.monotonic_ns())
        if kind == 'driver':
            argv = [path, '--debug', '--qga-port', port] + list(extra)
        else:
            argv = vdagentd_argv(os.path.join(workdir, 'no-such-port'), os.path.join(workdir, 'agent.sock'),
                                 os.path.join(workdir, 'control.sock'), os.path.join(workdir, 'uinput-events'),
                                 qga_port=port, extra=extra, binary=path)
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, env=env)

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if not stop_process(self.proc, 10):
            raise Failure('the agent did not stop on SIGTERM')
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


class Suite:
    def __init__(self, kind, path):
        self.kind = kind
        self.path = path
        self.tmp = tempfile.mkdtemp(prefix='vd-qga-')
        self.env = dict(os.environ)
        self.bus_pid = None
        self.logind = None
        self.agents = []
        self.tap = Tap(terse=(Failure,), after_failure=self.agent_log_tail)

    # --- fixtures ---

    def start_bus(self):
        conf = os.path.join(self.tmp, 'bus.conf')
        with open(conf, 'w') as f:
            f.write('''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=%s/bus</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/><allow user="*"/></policy></busconfig>''' % self.tmp)
        self.bus_pid, addr = dbusmock.DBusTestCase.start_dbus(conf)
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = addr
        self.env['DBUS_SYSTEM_BUS_ADDRESS'] = addr

    def start_logind(self):
        proc, obj = dbusmock.DBusTestCase.spawn_server_template('logind', {}, stdout=subprocess.DEVNULL,
                                                                system_bus=True)
        self.logind = proc
        self.mock = dbus.Interface(obj, dbusmock.MOCK_IFACE)
        # The template has no Halt (systemd >= 237 has).
        self.mock.AddMethod(LOGIND_MANAGER, 'Halt', 'b', '', '')
        self.mock.AddUser(dbus.UInt32(1000), 'alice', True)
        self.mock.AddUser(dbus.UInt32(1001), 'bob', False)

    def stop_logind(self):
        if self.logind:
            self.logind.terminate()
            self.logind.wait()
            self.logind = None

    def agent(self, extra=(), env=None, port_name=None):
        port = os.path.join(self.tmp, port_name or 'qga-%d.sock' % len(self.agents))
        host = Host(port)
        agent = Agent(self.kind, self.path, port, self.tmp, extra, env or self.env)
        self.agents.append((agent, host))
        host.accept()
        return agent, host

    def finish(self, agent, host):
        host.close()
        rc = agent.stop()
        check(rc == 0, 'the agent exited with %s' % rc)

    def cleanup(self):
        for agent, host in self.agents:
            host.close()
            if agent.proc.poll() is None:
                agent.proc.kill()
                agent.proc.wait()
        self.stop_logind()
        if self.bus_pid:
            dbusmock.DBusTestCase.stop_dbus(self.bus_pid)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def agent_log_tail(self):
        """The last agent's last stderr lines, after a failure."""
        for agent, _ in self.agents[-1:]:
            diag('\n'.join('  agent: ' + line for line in agent.stderr().splitlines()[-15:]))


# --- the verbs, with qemu-ga's shapes ---

def t_sync(h):
    for value in (0, 1, 2**53, -5, 4242):
        r = h.call('guest-sync', {'id': value})
        check(r == {'return': value}, 'guest-sync %d replied %r' % (value, r))
    h.send({'execute': 'guest-sync-delimited', 'arguments': {'id': 77}})
    delimited, r = h.reply()
    check(delimited, 'guest-sync-delimited reply lacks its leading 0xFF')
    check(r == {'return': 77}, 'guest-sync-delimited replied %r' % r)
    h.send({'execute': 'guest-sync', 'arguments': {'id': 78}})
    delimited, r = h.reply()
    check(not delimited, 'guest-sync reply has a 0xFF')


def t_ping_and_id(h):
    h.ping()
    for rid in ('abc', 17, {'a': [1, 2]}, None):
        req = {'execute': 'guest-ping', 'id': rid}
        h.send(req)
        r = h.reply()[1]
        check(r == {'return': {}, 'id': rid}, 'id %r not echoed: %r' % (rid, r))
    r = h.error('guest-no-such-verb', id='x')
    check(r.get('id') == 'x', 'id not echoed on an error: %r' % r)


def t_info(h):
    info = h.ret('guest-info')
    check(set(info) == {'version', 'supported_commands'}, 'guest-info members %r' % list(info))
    check(isinstance(info['version'], str) and info['version'], 'version %r' % info['version'])
    cmds = info['supported_commands']
    check(isinstance(cmds, list), 'supported_commands is not a list')
    names = []
    for c in cmds:
        check(set(c) == {'name', 'enabled', 'success-response'}, 'command info %r' % c)
        check(isinstance(c['enabled'], bool) and isinstance(c['success-response'], bool), 'types %r' % c)
        check(c['enabled'] == (c['name'] not in SHELL_VERBS), '%s: enabled %r without a policy' % (c['name'],
                                                                                              c['enabled']))
        check(c['success-response'] == (c['name'] not in NO_SUCCESS_RESPONSE), 'success-response of %r' % c)
        names.append(c['name'])
    check(sorted(names) == sorted(VERBS), 'verbs %r' % names)


def os_release():
    fields = {}
    for path in ('/etc/os-release', '/usr/lib/os-release'):
        if os.path.exists(path):
            for line in open(path):
                m = re.match(r'([A-Z_]+)=(.*)', line.strip())
                if m:
                    fields[m.group(1)] = m.group(2).strip('"\'')
            break
    return fields


def t_osinfo(h):
    info = h.ret('guest-get-osinfo')
    allowed = {'kernel-release', 'kernel-version', 'machine', 'id', 'name', 'pretty-name', 'version',
               'version-id', 'variant', 'variant-id'}
    check(set(info) <= allowed, 'unknown members %r' % (set(info) - allowed))
    check(all(isinstance(v, str) for v in info.values()), 'non-string values %r' % info)
    u = os.uname()
    check(info.get('kernel-release') == u.release, 'kernel-release %r' % info.get('kernel-release'))
    check(info.get('kernel-version') == u.version, 'kernel-version %r' % info.get('kernel-version'))
    check(info.get('machine') == u.machine, 'machine %r' % info.get('machine'))
    rel = os_release()
    for key, member in (('ID', 'id'), ('PRETTY_NAME', 'pretty-name'), ('VERSION_ID', 'version-id'),
                        ('NAME', 'name')):
        if key in rel:
            check(info.get(member) == rel[key], '%s: %r, os-release says %r' % (member, info.get(member), rel[key]))


def t_host_name(h):
    r = h.ret('guest-get-host-name')
    check(r == {'host-name': socket.gethostname()}, 'guest-get-host-name %r' % r)


def t_time(h):
    before = time.time_ns()
    t = h.ret('guest-get-time')
    after = time.time_ns()
    check(isinstance(t, int), 'guest-get-time is not an integer: %r' % t)
    check(before - 10**9 <= t <= after + 10**9, 'guest-get-time %d not within [%d, %d]' % (t, before, after))


def t_timezone(h):
    tz = h.ret('guest-get-timezone')
    check(set(tz) <= {'zone', 'offset'} and 'offset' in tz, 'guest-get-timezone members %r' % tz)
    check(isinstance(tz['offset'], int), 'offset %r' % tz['offset'])
    check(tz['offset'] == -(time.altzone if time.localtime().tm_isdst > 0 else time.timezone),
          'offset %d, expected %d' % (tz['offset'], -time.timezone))
    if 'zone' in tz:
        check(isinstance(tz['zone'], str) and tz['zone'], 'zone %r' % tz['zone'])


def t_vcpus(h):
    cpus = h.ret('guest-get-vcpus')
    check(isinstance(cpus, list) and cpus, 'guest-get-vcpus %r' % cpus)
    present = sorted(int(m.group(1)) for m in
                     (re.fullmatch(r'cpu(\d+)', d) for d in os.listdir('/sys/devices/system/cpu')) if m)
    check([c['logical-id'] for c in cpus] == present, 'ids %r, /sys has %r' % (cpus, present))
    for c in cpus:
        check(set(c) <= {'logical-id', 'online', 'can-offline'} and {'logical-id', 'online'} <= set(c),
              'vcpu members %r' % c)
        check(isinstance(c['online'], bool), 'online %r' % c)
    online = sum(1 for c in cpus if c['online'])
    check(online == os.cpu_count(), '%d online, os.cpu_count() says %d' % (online, os.cpu_count()))


def t_users(h):
    users = h.ret('guest-get-users')
    check(isinstance(users, list), 'guest-get-users %r' % users)
    for u in users:
        check(set(u) <= {'user', 'login-time', 'domain'} and {'user', 'login-time'} <= set(u), 'user %r' % u)
        check(isinstance(u['login-time'], float), 'login-time not a number: %r' % u)
    # The logind template gives every user Timestamp = 42 µs.
    got = sorted((u['user'], u['login-time']) for u in users)
    check(got == [('alice', 42e-6), ('bob', 42e-6)], 'users %r' % got)


def utmp_record(ut_type, user, sec, usec, line='pts/0'):
    """One glibc struct utmp (x86-64 and the other 64-bit ABIs: 384 bytes)."""
    return struct.pack('hxxi32s4s32s256shhiii16s20x', ut_type, 4242, line.encode(), b'ts/0', user.encode(),
                       b'host', 0, 0, 0, sec, usec, b'')


def t_users_no_logind(s):
    # Without logind (nobody owns its name, or no bus at all), utmp answers, as in qemu-ga:
    # USER_PROCESS records only, one entry per user with the earliest login.
    utmp = os.path.join(s.tmp, 'utmp')
    USER_PROCESS, DEAD_PROCESS, LOGIN_PROCESS = 7, 8, 6
    with open(utmp, 'wb') as f:
        f.write(utmp_record(USER_PROCESS, 'carol', 1700000100, 500000))
        f.write(utmp_record(USER_PROCESS, 'dave', 1700000200, 0, 'tty1'))
        f.write(utmp_record(USER_PROCESS, 'carol', 1700000050, 250000, 'pts/1'))
        f.write(utmp_record(DEAD_PROCESS, 'erin', 1700000300, 0, 'pts/2'))
        f.write(utmp_record(LOGIN_PROCESS, 'LOGIN', 1700000300, 0, 'tty2'))
    s.stop_logind()
    try:
        for extra in ({}, {'DBUS_SYSTEM_BUS_ADDRESS': 'unix:path=' + os.path.join(s.tmp, 'no-bus')}):
            agent, h = s.agent(env=dict(s.env, VDAGENT_QGA_UTMP=utmp, **extra))
            users = h.ret('guest-get-users')
            check(users == [{'user': 'carol', 'login-time': 1700000050.25},
                            {'user': 'dave', 'login-time': 1700000200.0}], 'users from utmp %r' % users)
            h.ping()
            s.finish(agent, h)
    finally:
        s.start_logind()


# --- requests and the stream ---

def t_bad_requests(h):
    h.error('guest-no-such-verb', 'CommandNotFound', 'guest-no-such-verb')
    h.error({'execute': 'guest-sync'}, 'GenericError', "'id' is missing")
    h.error({'execute': 'guest-sync', 'arguments': {'id': 'x'}}, 'GenericError', "'id'.*integer")
    h.error({'execute': 'guest-sync', 'arguments': {'id': 1.5}}, 'GenericError', "'id'")
    # Integers outside int64 are refused as qemu-ga 7.2 does, not wrapped (10^23 was answered -1).
    for big in ('100000000000000000000000', '9223372036854775808', '-9223372036854775809'):
        h.error('{"execute": "guest-sync", "arguments": {"id": %s}}' % big, 'GenericError', "'id'.*integer")
    for edge in (2**63 - 1, -2**63):
        r = h.call('guest-sync', {'id': edge})
        check(r == {'return': edge}, 'guest-sync %d replied %r' % (edge, r))
    h.error({'execute': 'guest-ping', 'arguments': {'x': 1}}, 'GenericError', "'x' is unexpected")
    h.error({'execute': 'guest-ping', 'arguments': []}, 'GenericError', 'arguments')
    h.error({'execute': 42}, 'GenericError', 'execute')
    h.error({'arguments': {}}, 'GenericError', 'execute')
    h.error({'execute': 'guest-ping', 'extra': 1}, 'GenericError', "'extra' is unexpected")
    h.ping()


def t_malformed(h):
    for junk in ('{"execute": }', '{"execute": "guest-ping",}', '{"execute" "guest-ping"}', '{]',
                 '{"execute": "guest-\\u12"}'):
        h.error(junk, 'GenericError', 'JSON')
        h.ping()
    # Text outside objects: one error per run, then the stream goes on.
    h.error('this is not json\n', 'GenericError', 'JSON')
    h.ping()
    h.error('[1, 2]', 'GenericError')
    h.ping()


def t_resync(h):
    # Half a request, then garbage: libvirt's 0xFF + guest-sync-delimited gets the stream back.
    h.send('{"execute": "guest-sync", "arguments": {"id": "')
    h.send(b'\x00\x01garbage}}}}')
    h.sync(123456)
    h.ping()
    # A 0xFF in the middle of a request drops it without a reply.
    h.send(b'{"execute": "guest-get-time"\xff')
    h.send({'execute': 'guest-ping', 'id': 'after'})
    r = h.reply()[1]
    check(r == {'return': {}, 'id': 'after'}, 'after resync: %r' % r)
    h.no_reply()


def t_stream(h):
    # Several requests in one write, without separators, and one split byte by byte.
    h.send(''.join(json.dumps({'execute': 'guest-sync', 'arguments': {'id': i}}) for i in range(20)))
    for i in range(20):
        r = h.reply()[1]
        check(r == {'return': i}, 'reply %d: %r' % (i, r))
    for b in json.dumps({'execute': 'guest-sync', 'arguments': {'id': 99}}).encode():
        h.send(bytes([b]))
    check(h.reply()[1] == {'return': 99}, 'byte-wise request')
    # Whitespace between requests is fine.
    h.send(' \r\n\t{"execute":"guest-ping"}\n\n')
    check(h.reply()[1] == {'return': {}}, 'whitespace')


def t_limits(h):
    # Just under the limit: served (the id is echoed back in full).
    overhead = len(json.dumps({'execute': 'guest-ping', 'id': ''}))
    big = 'x' * (MAX_REQUEST - overhead)
    h.send({'execute': 'guest-ping', 'id': big})
    r = h.reply()[1]
    check(r == {'return': {}, 'id': big}, 'a request of exactly %d bytes was not served' % MAX_REQUEST)
    # One byte over: an error, the rest of the object is skipped, the stream stays usable.
    h.send({'execute': 'guest-ping', 'id': big + 'y'})
    r = h.reply()[1]
    check('error' in r and 'too large' in r['error']['desc'], 'oversized request: %r' % r)
    h.no_reply(0.3)
    h.ping()
    # Far over (1 MiB, with braces in strings): still one error, and the agent's memory stays bounded.
    h.send(b'{"execute": "guest-ping", "id": "' + b'}{' * (512 * 1024) + b'"}')
    r = h.reply()[1]
    check('error' in r and 'too large' in r['error']['desc'], 'huge request: %r' % r)
    h.no_reply(0.3)
    h.ping()
    # Nesting.
    ok = {'execute': 'guest-ping', 'id': json.loads('[' * (MAX_NESTING - 1) + ']' * (MAX_NESTING - 1))}
    h.send(ok)
    check(h.reply()[1].get('return') == {}, 'nesting of %d levels refused' % MAX_NESTING)
    deep = '{"execute": "guest-ping", "id": ' + '[' * MAX_NESTING + ']' * MAX_NESTING + '}'
    h.send(deep)
    r = h.reply()[1]
    check('error' in r and 'nested' in r['error']['desc'], 'deep request: %r' % r)
    h.ping()


def t_reconnect(s):
    agent, h = s.agent()
    h.ping()
    h.drop()
    h.accept(timeout=10)
    h.ping()
    # A request in flight when the host goes away is dropped; the next connection is served.
    h.send('{"execute": "guest-ping"')
    h.drop()
    h.accept(timeout=10)
    h.ping()
    s.finish(agent, h)


def serve_late_port(s, port, wait, before_listening=None):
    """Starts an agent on port before anything listens there, checks that it is still running
    after wait seconds, calls before_listening(), then listens and expects to be served.
    -> (the stopped agent, its exit status)."""
    agent = Agent(s.kind, s.path, port, s.tmp, (), s.env)
    host = None
    try:
        time.sleep(wait)
        check(agent.proc.poll() is None, 'the agent exited' if before_listening else
              'the agent exited without its port')
        if before_listening:
            before_listening()
        host = Host(port)
        host.accept(timeout=10)
        host.ping()
    finally:
        if host:
            host.close()
        rc = agent.stop()
    return agent, rc


def t_port_appears(s):
    agent, rc = serve_late_port(s, os.path.join(s.tmp, 'late.sock'), 0.7)
    check(rc == 0, 'exit status %s' % rc)
    check(agent.stderr().count('not there') <= 1, 'a missing port is reported more than once')


def t_port_not_a_port(s):
    port = os.path.join(s.tmp, 'regular-file')
    open(port, 'w').close()
    agent, rc = serve_late_port(s, port, 1.5, lambda: os.unlink(port))
    check(rc == 0, 'exit status %s' % rc)
    check(agent.stderr().count('not a character device or a Unix socket') == 1,
          'expected one warning: %r' % agent.stderr())


def status_of(s, agent):
    if s.kind == 'driver':
        agent.proc.send_signal(signal.SIGUSR1)
        return json.loads(agent.proc.stdout.readline())['qga']
    ctl = os.path.join(os.environ.get('VD_BUILD_ROOT', ''), 'src', 'ctl', 'vdagent-ctl')
    if not os.access(ctl, os.X_OK):
        raise Skip('no vdagent-ctl')
    r = subprocess.run([ctl, '--control', os.path.join(s.tmp, 'control.sock'), '--json', 'status'],
                       capture_output=True, text=True, timeout=20)
    if r.returncode == 3:
        raise Skip('vdagentd does not serve its control socket yet')
    check(r.returncode == 0, 'vdagent-ctl status: %d %s' % (r.returncode, r.stderr))
    doc = json.loads(r.stdout)
    if 'qga' not in doc:
        raise Skip('the status document has no "qga" member yet')
    return doc['qga']


def t_status(s):
    agent, h = s.agent(['--block-rpcs', 'guest-get-time'])
    h.ping()
    h.error('guest-get-time', 'CommandNotFound')
    st = status_of(s, agent)
    check(st['state'] == 'connected' and st['path'] == h.path, 'status %r' % st)
    check(st['requests'] == 2 and st['errors'] == 1 and st['blocked_requests'] == 1, 'counters %r' % st)
    check(st['blocked'][0] == 'guest-get-time' and set(st['blocked'][1:]) == SHELL_VERBS, 'blocked %r' % st['blocked'])
    s.finish(agent, h)


# --- policy ---

def enabled_map(h):
    return {c['name']: c['enabled'] for c in h.ret('guest-info')['supported_commands']}


def t_block_flag(s):
    agent, h = s.agent(['--block-rpcs', 'guest-get-time,guest-shutdown'])
    h.error('guest-get-time', 'CommandNotFound', 'disabled.*policy')
    h.error('guest-shutdown', 'CommandNotFound', 'disabled.*policy')
    en = enabled_map(h)
    check(not en['guest-get-time'] and not en['guest-shutdown'] and en['guest-ping'], 'guest-info %r' % en)
    h.ping()
    check(s.mock.GetMethodCalls('PowerOff') == [], 'a blocked guest-shutdown reached logind')
    check(re.search(r'audit: guest-shutdown .*refused', agent.stderr()), 'no audit line for the refusal')
    s.finish(agent, h)


def t_allow_flag(s):
    agent, h = s.agent(['--allow-rpcs', 'guest-ping,guest-info,guest-sync-delimited'])
    h.ping()
    h.error('guest-get-time', 'CommandNotFound', 'disabled')
    h.error('guest-sync', 'CommandNotFound', 'disabled')
    h.sync(5)
    en = enabled_map(h)
    check([v for v, e in en.items() if e] == ['guest-sync-delimited', 'guest-ping', 'guest-info'],
          'guest-info %r' % en)
    s.finish(agent, h)


def t_config_file(s):
    conf = os.path.join(s.tmp, 'qga.conf')
    with open(conf, 'w') as f:
        f.write('[general]\nblock-rpcs=guest-get-users;guest-get-vcpus\n# qemu-ga names too\n'
                'allow-rpcs=guest-ping,guest-info,guest-get-users,guest-get-vcpus,guest-get-time,guest-exec\n')
    agent, h = s.agent(['--qga-config', conf, '--block-rpcs', 'guest-get-time'])
    h.ping()
    for verb in ('guest-get-users', 'guest-get-vcpus', 'guest-get-time', 'guest-get-host-name'):
        h.error(verb, 'CommandNotFound', 'disabled')
    s.finish(agent, h)
    # --allow-rpcs replaces the file's allow list.
    agent, h = s.agent(['--qga-config', conf, '--allow-rpcs', 'guest-get-host-name,guest-get-vcpus'])
    h.ret('guest-get-host-name')
    h.error('guest-get-vcpus', 'CommandNotFound', 'disabled')
    h.error('guest-ping', 'CommandNotFound', 'disabled')
    s.finish(agent, h)


def t_example_config(s):
    example = os.path.join(os.environ.get('VD_SOURCE_ROOT', ''), 'data', 'qga', 'qga.conf')
    check(os.path.exists(example), 'no %s' % example)
    agent, h = s.agent(['--qga-config', example])
    check(all(e for v, e in enabled_map(h).items() if v not in SHELL_VERBS), 'the example policy disables verbs')
    s.finish(agent, h)
    check(not re.search(r'warning|ignor', agent.stderr()), 'warnings: %r' % agent.stderr())
    # Uncommented, its lines are valid too.
    active = os.path.join(s.tmp, 'example-active.conf')
    with open(example) as f, open(active, 'w') as out:
        out.write(re.sub(r'^#((allow|block)-rpcs=)', r'\1', f.read(), flags=re.M))
    agent, h = s.agent(['--qga-config', active])
    en = enabled_map(h)
    check(not en['guest-shutdown'] and not en['guest-get-users'] and en['guest-get-time'], 'policy %r' % en)
    s.finish(agent, h)
    check(not re.search(r'warning|ignor', agent.stderr()), 'warnings: %r' % agent.stderr())


def t_bad_policy(s):
    cases = [
        (['--block-rpcs', 'guest-ping,BAD NAME'], 'BAD NAME'),
        (['--qga-config', os.path.join(s.tmp, 'no-such.conf')], 'no-such.conf'),
    ]
    broken = os.path.join(s.tmp, 'broken.conf')
    with open(broken, 'w') as f:
        f.write('this is [not a key file\n')
    cases.append((['--qga-config', broken], 'broken.conf'))
    for extra, needle in cases:
        port = os.path.join(s.tmp, 'unused.sock')
        agent = Agent(s.kind, s.path, port, s.tmp, extra, s.env)
        try:
            rc = agent.proc.wait(10)
        except subprocess.TimeoutExpired:
            agent.stop()
            raise Failure('%r: the agent started with a bad policy' % extra)
        agent.stop()
        check(rc != 0, '%r: exit status 0' % extra)
        check(needle in agent.stderr(), '%r: the error does not name %r: %r' % (extra, needle, agent.stderr()))
    # An unknown (but well-formed) verb is only a warning: qemu-ga configs list verbs we lack.
    agent, h = s.agent(['--block-rpcs', 'guest-exec,guest-made-up'])
    h.ping()
    s.finish(agent, h)
    check('guest-made-up' in agent.stderr() and 'guest-exec' not in agent.stderr(), 'warnings %r' % agent.stderr())


# --- guest-shutdown ---

def t_shutdown_logind(s):
    agent, h = s.agent()
    for mode, method in ((None, 'PowerOff'), ('powerdown', 'PowerOff'), ('reboot', 'Reboot'), ('halt', 'Halt')):
        s.mock.ClearCalls()
        h.send({'execute': 'guest-shutdown', 'arguments': {'mode': mode} if mode else {}, 'id': 'sd'})
        # No reply on success, like qemu-ga: the next reply is the ping's.
        h.send({'execute': 'guest-ping', 'id': 'after'})
        r = h.reply()[1]
        check(r == {'return': {}, 'id': 'after'}, 'after guest-shutdown %s: %r' % (mode, r))
        calls = [(name, [bool(a) for a in args]) for _, name, args in s.mock.GetCalls()]
        check(calls == [(method, [False])], 'mode %s: logind calls %r' % (mode, calls))
    h.error({'execute': 'guest-shutdown', 'arguments': {'mode': 'explode'}}, 'GenericError', 'mode')
    h.error({'execute': 'guest-shutdown', 'arguments': {'mode': 3}}, 'GenericError', 'mode')
    log = agent.stderr()
    check(len(re.findall(r'qga audit: guest-shutdown mode=\S+: requested through logind', log)) == 4,
          'audit lines: %r' % log)
    check(re.search(r'audit: guest-shutdown mode=explode: refused', log), 'no audit line for a bad mode')
    s.finish(agent, h)


def t_shutdown_logind_refuses(s):
    s.mock.AddMethod(LOGIND_MANAGER, 'Reboot', 'b', '',
                     'raise dbus.exceptions.DBusException("not now", name="org.freedesktop.DBus.Error.AccessDenied")')
    try:
        script, out = fallback_script(s, 0)
        env = dict(s.env, VDAGENT_POWER_FALLBACK_COMMAND=script)
        agent, h = s.agent(env=env)
        h.error({'execute': 'guest-shutdown', 'arguments': {'mode': 'reboot'}}, 'GenericError', 'not now')
        check(not os.path.exists(out), 'logind refused, yet the fallback ran')
        check(re.search(r'audit: guest-shutdown mode=reboot: failed', agent.stderr()), 'no audit line')
        s.finish(agent, h)
    finally:
        s.mock.AddMethod(LOGIND_MANAGER, 'Reboot', 'b', '', '')


def t_suspend_logind(s):
    agent, h = s.agent()
    for verb, can, method in (('guest-suspend-ram', 'CanSuspend', 'Suspend'),
                              ('guest-suspend-disk', 'CanHibernate', 'Hibernate'),
                              ('guest-suspend-hybrid', 'CanHybridSleep', 'HybridSleep')):
        s.mock.ClearCalls()
        h.send({'execute': verb, 'id': 'sleep'})
        # No reply on success, like qemu-ga: the next reply is the ping's.
        h.send({'execute': 'guest-ping', 'id': 'after'})
        r = h.reply()[1]
        check(r == {'return': {}, 'id': 'after'}, 'after %s: %r' % (verb, r))
        calls = [(name, [bool(a) for a in args]) for _, name, args in s.mock.GetCalls()]
        check(calls == [(can, []), (method, [False])], '%s: logind calls %r' % (verb, calls))
        check(re.search(r'qga audit: %s mode=%s: requested through logind' % (verb, method), agent.stderr()),
              'no audit line for %s' % verb)
    # A guest that cannot hibernate: qemu-ga's error, and logind's Hibernate is never called.
    s.mock.AddMethod(LOGIND_MANAGER, 'CanHibernate', '', 's', 'ret = "na"')
    try:
        s.mock.ClearCalls()
        h.error('guest-suspend-disk', 'GenericError', 'suspend mode is not supported.*"na"')
        check([name for _, name, _ in s.mock.GetCalls()] == ['CanHibernate'], 'calls %r' % s.mock.GetCalls())
        check(re.search(r'qga audit: guest-suspend-disk mode=Hibernate: failed', agent.stderr()), 'no audit line')
    finally:
        s.mock.AddMethod(LOGIND_MANAGER, 'CanHibernate', '', 's', 'ret = "yes"')
    s.mock.AddMethod(LOGIND_MANAGER, 'Suspend', 'b', '',
                     'raise dbus.exceptions.DBusException("inhibited", name="org.freedesktop.DBus.Error.AccessDenied")')
    try:
        h.error('guest-suspend-ram', 'GenericError', 'logind Suspend failed: inhibited')
    finally:
        s.mock.AddMethod(LOGIND_MANAGER, 'Suspend', 'b', '', '')
    s.finish(agent, h)


def fallback_script(s, status):
    out = os.path.join(s.tmp, 'fallback-%d.out' % time.monotonic_ns())
    script = os.path.join(s.tmp, 'fallback-%d.sh' % time.monotonic_ns())
    with open(script, 'w') as f:
        f.write('#!/bin/sh\necho "$@" >> %s\nexit %d\n' % (out, status))
    os.chmod(script, 0o755)
    return script, out


def t_shutdown_fallback(s):
    s.stop_logind()
    try:
        for env_extra in ({}, {'DBUS_SYSTEM_BUS_ADDRESS': 'unix:path=' + os.path.join(s.tmp, 'no-bus')}):
            script, out = fallback_script(s, 0)
            env = dict(s.env, VDAGENT_POWER_FALLBACK_COMMAND=script, **env_extra)
            agent, h = s.agent(env=env)
            for mode in ('powerdown', 'reboot', 'halt'):
                h.send({'execute': 'guest-shutdown', 'arguments': {'mode': mode}})
                h.ping()
            with open(out) as f:
                check(f.read().split() == ['poweroff', 'reboot', 'halt'], 'fallback commands %r' % out)
            check(len(re.findall(r'audit: guest-shutdown .*requested through ' + re.escape(script),
                                 agent.stderr())) == 3, 'audit lines')
            s.finish(agent, h)
        script, out = fallback_script(s, 3)
        agent, h = s.agent(env=dict(s.env, VDAGENT_POWER_FALLBACK_COMMAND=script))
        h.error('guest-shutdown', 'GenericError', 'status 3')
        s.finish(agent, h)
    finally:
        s.start_logind()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('driver', 'vdagentd'):
        print(__doc__, file=sys.stderr)
        return 2
    kind, path = sys.argv[1], sys.argv[2]
    s = Suite(kind, path)
    try:
        s.start_bus()
        s.start_logind()
        agent, h = s.agent()
        tests = [
            ('guest-sync and guest-sync-delimited', t_sync, h),
            ('guest-ping; ids echoed', t_ping_and_id, h),
            ('guest-info', t_info, h),
            ('guest-get-osinfo', t_osinfo, h),
            ('guest-get-host-name', t_host_name, h),
            ('guest-get-time', t_time, h),
            ('guest-get-timezone', t_timezone, h),
            ('guest-get-vcpus', t_vcpus, h),
            ('guest-get-users from logind', t_users, h),
            ('bad requests and unknown verbs', t_bad_requests, h),
            ('malformed JSON keeps the stream usable', t_malformed, h),
            ('0xFF resync after garbage', t_resync, h),
            ('several requests per write, split requests', t_stream, h),
            ('request size and nesting limits', t_limits, h),
        ]
        s.tap.plan(len(tests) + 15)
        for name, fn, arg in tests:
            s.tap.run(name, fn, arg)
        s.tap.run('the first agent stops cleanly', s.finish, agent, h)
        s.tap.run('guest-get-users without logind: utmp', t_users_no_logind, s)
        s.tap.run('reconnects after the host goes away', t_reconnect, s)
        s.tap.run('waits for the port to appear', t_port_appears, s)
        s.tap.run('a port that is a regular file: one warning, then served once fixed', t_port_not_a_port, s)
        s.tap.run('status', t_status, s)
        s.tap.run('--block-rpcs', t_block_flag, s)
        s.tap.run('--allow-rpcs', t_allow_flag, s)
        s.tap.run('policy file', t_config_file, s)
        s.tap.run('the example policy file (data/qga/qga.conf)', t_example_config, s)
        s.tap.run('bad policies are refused at start', t_bad_policy, s)
        s.tap.run('guest-shutdown through logind (PowerOff/Reboot/Halt), audited', t_shutdown_logind, s)
        s.tap.run('guest-shutdown when logind refuses', t_shutdown_logind_refuses, s)
        s.tap.run('guest-shutdown fallback without logind (test hook)', t_shutdown_fallback, s)
        s.tap.run('guest-suspend-ram/-disk/-hybrid through logind, audited', t_suspend_logind, s)
    finally:
        s.cleanup()
    return s.tap.status()


if __name__ == '__main__':
    sys.exit(main())
