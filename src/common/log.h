/* SPDX-License-Identifier: GPL-3.0-or-later */
/* log.h — logging setup shared by vdagentd, vdagent and vdagent-ctl.
 *
 * GLib structured logging. Under systemd (stderr connected to the journal) records go to the
 * journal with their fields; otherwise one line per record on stderr, or, once the program has
 * detached (vd_log_detached), to the journal's socket, else syslog. --debug given n times raises
 * the level; without it debug records are dropped before formatting. */
#pragma once

#include <stdbool.h>

#include <glib.h>

/* program: "vdagentd", "vdagent"…; debug_level: how many --debug were given. */
void vd_log_init(const char *program, int debug_level);
/* Whether records at debug level are being written (to skip building expensive summaries). */
bool vd_log_debug_enabled(void);
/* After daemon(): stderr is /dev/null. Records go to the journal if it runs, else to syslog. */
void vd_log_detached(void);
