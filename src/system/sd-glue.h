/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sd-glue.h — the two pieces of the systemd service protocol the daemon speaks: readiness
 * notification ($NOTIFY_SOCKET) and socket activation ($LISTEN_PID/$LISTEN_FDS). Both are small
 * documented interfaces (sd_notify(3), sd_listen_fds(3)); speaking them here keeps libsystemd
 * and its dependencies (about 1 MiB resident) out of a daemon whose idle budget is 5 MiB. */
#pragma once

/* Sends state (e.g. "READY=1") if $NOTIFY_SOCKET is set. 0, 1 (sent), or negative errno. */
int vd_sd_notify(const char *state);
/* The one listening Unix stream socket passed by systemd: its fd (>= 3), 0 when none was passed,
 * or negative errno (-EINVAL: several, or not such a socket). Unsets the variables. */
int vd_sd_listen_socket(void);
