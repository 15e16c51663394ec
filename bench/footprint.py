#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""footprint — what a process really costs in memory, from /proc/PID/smaps_rollup.

Private_Dirty is the memory only this process holds and the kernel cannot drop: its heap, its stacks,
written data pages. Shared-library text and clean file pages are left out, as they are by the idle
targets (vdagentd <= 1 MiB, vdagent <= 2 MiB Private_Dirty). PSS, the process's proportional share of
everything it maps, is reported beside it. VmRSS would count every library page the process touches,
which says more about the machine than about us.

As a module (bench/ and the tests both import it):
    footprint(pid) -> {"private_dirty_kib": int, "pss_kib": int, "rss_kib": int}
As a command:
    footprint.py PID...      one line per process
"""
import sys

# The bounds the idle footprint tests assert and the benchmarks report against (KiB).
VDAGENTD_IDLE_PRIVATE_DIRTY_KIB = 1024
VDAGENT_IDLE_PRIVATE_DIRTY_KIB = 2048

# The environment a measured process needs on top of its own: meson test sets MALLOC_PERTURB_, which
# makes glibc fill every block it hands out, so memory allocated but never touched (a read buffer of
# 1 MiB in the session agent, measured 2026-12-05) becomes Private_Dirty: 2.1 MiB instead of 1.05.
MEASURE_ENV = {"MALLOC_PERTURB_": "0"}

_FIELDS = {"Private_Dirty:": "private_dirty_kib", "Pss:": "pss_kib", "Rss:": "rss_kib"}


def footprint(pid):
    """The process's Private_Dirty, Pss and Rss in KiB. Raises OSError if it is gone and ValueError
    if the kernel's smaps_rollup lacks a field (Linux < 4.14)."""
    found = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] in _FIELDS and parts[2] == "kB":
                found[_FIELDS[parts[0]]] = int(parts[1])
    missing = set(_FIELDS.values()) - set(found)
    if missing:
        raise ValueError("/proc/%d/smaps_rollup has no %s" % (pid, ", ".join(sorted(missing))))
    return found


def describe(fp):
    """One line for a footprint(): "Private_Dirty 452 KiB, PSS 1203 KiB (RSS 6120 KiB)"."""
    return "Private_Dirty %d KiB, PSS %d KiB (RSS %d KiB)" % (fp["private_dirty_kib"], fp["pss_kib"],
                                                            fp["rss_kib"])


def main(argv):
    if len(argv) < 2 or not all(a.isdigit() for a in argv[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    for a in argv[1:]:
        print("%s: %s" % (a, describe(footprint(int(a)))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
