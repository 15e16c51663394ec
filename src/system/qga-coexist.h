/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-coexist.h — who serves the QEMU guest agent port when qemu-guest-agent is installed too.
 *
 * Both agents would open org.qemu.guest_agent.0 and the first to start would win, so the host's
 * abilities (fsfreeze for backups, network details) would depend on boot timing. The rule is
 * fixed instead: without an explicit --qga-port, vdagentd leaves the port to qemu-guest-agent
 * whenever that unit is installed and not masked (docs/autostart.md). Pure file checks, no I/O
 * beyond stat/readlink, so that the rule is unit-tested on a fake root.
 */
#pragma once

#include <stdbool.h>

#define VD_QGA_OTHER_UNIT "qemu-guest-agent.service"

/* Whether VD_QGA_OTHER_UNIT is installed and not masked under root ("/" on a real system):
 * the first unit directory of systemd's search order that has the name decides; a symlink to
 * /dev/null or an empty file there means masked. On true, *ret_path (if not NULL) gets the unit
 * file found (newly allocated, without root). */
bool vd_qga_other_agent_installed(const char *root, char **ret_path);
