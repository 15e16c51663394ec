#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The units of vdagentd's privileged QGA helpers (issue 13): systemd-analyze verify, and
`systemd-analyze security --offline=yes` at most 3.0 for them and for vdagentd.service itself,
whose sandbox they exist to keep narrow; each helper unit holds exactly its family's capabilities."""
import os
import re
import subprocess
import sys
import tempfile

from vdtest import Tap

build_root = os.environ['VD_BUILD_ROOT']
unit_dir = os.path.join(build_root, 'data', 'systemd')
helper = os.path.join(build_root, 'src', 'system', 'vdagentd-qga-helper')
MAX_EXPOSURE = 3.0
# family -> the capabilities its unit may hold
FAMILIES = {'fs': {'CAP_SYS_ADMIN'}, 'time': {'CAP_SYS_TIME'}, 'hotplug': set(),
            'account': {'CAP_CHOWN', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID'}}


def prepared(tmp, name):
    """The unit with ExecStart pointed at the binaries just built (verify wants them to exist)."""
    text = open(os.path.join(unit_dir, name)).read()
    text = re.sub(r'^ExecStart=\S*/vdagentd-qga-helper', 'ExecStart=' + helper, text, flags=re.M)
    text = re.sub(r'^ExecStart=\S*/vdagentd ', 'ExecStart=' + os.environ.get('VDAGENTD', '/bin/true') + ' ', text,
                  flags=re.M)
    path = os.path.join(tmp, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def exposure(path):
    r = subprocess.run(['systemd-analyze', 'security', '--offline=yes', '--no-pager', path],
                       capture_output=True, text=True, env=dict(os.environ, SYSTEMD_LOG_LEVEL='err'))
    m = re.search(r'Overall exposure level for \S+: ([0-9.]+)', r.stdout + r.stderr)
    return float(m.group(1)) if m else None, r.stdout + r.stderr


def main():
    tap = Tap()
    with tempfile.TemporaryDirectory() as tmp:
        units = {}
        for family in FAMILIES:
            units[family] = (prepared(tmp, 'vdagentd-qga-%s@.service' % family),
                             prepared(tmp, 'vdagentd-qga-%s.socket' % family))
        vdagentd = prepared(tmp, 'vdagentd.service')

        def verify(family):
            service, socket_unit = units[family]
            r = subprocess.run(['systemd-analyze', 'verify', '--man=no', socket_unit], capture_output=True,
                               text=True, cwd=tmp, env=dict(os.environ, SYSTEMD_LOG_LEVEL='notice'))
            ours = [line for line in (r.stdout + r.stderr).splitlines() if 'vdagentd-qga' in line]
            assert r.returncode == 0 and not ours, r.stdout + r.stderr

        def secure(path):
            # The template is scored as an instance.
            if path.endswith('@.service'):
                inst = path.replace('@.service', '@0.service')
                os.link(path, inst)
                path = inst
            level, out = exposure(path)
            assert level is not None, out
            assert level <= MAX_EXPOSURE, 'exposure %.1f > %.1f:\n%s' % (level, MAX_EXPOSURE, out)
            print('# %s: exposure %.1f' % (os.path.basename(path), level))

        def capabilities(family):
            text = open(units[family][0]).read()
            caps = set()
            for m in re.finditer(r'^CapabilityBoundingSet=(.*)$', text, flags=re.M):
                caps |= set(m.group(1).split())
            assert caps == FAMILIES[family], 'capabilities %r, expected %r' % (caps, FAMILIES[family])
            assert re.search(r'^AmbientCapabilities=$', text, flags=re.M), 'ambient capabilities'
            assert 'StandardInput=socket' in text and 'Accept=yes' in open(units[family][1]).read()

        for family in FAMILIES:
            tap.run('systemd-analyze verify vdagentd-qga-%s.socket and its service' % family, verify, family)
            tap.run('vdagentd-qga-%s@.service: exposure <= %.1f' % (family, MAX_EXPOSURE), secure, units[family][0])
            tap.run('vdagentd-qga-%s@.service holds exactly %s' % (family, ' '.join(sorted(FAMILIES[family])) or 'nothing'),
                    capabilities, family)
        tap.run('vdagentd.service: exposure <= %.1f' % MAX_EXPOSURE, secure, vdagentd)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
