/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control.h — the vdagent-ctl socket: status, the live trace and injection of host messages.
 *
 * A root-only Unix socket (mode 0600, and every peer's SO_PEERCRED uid must be 0: the socket's
 * mode alone is not trusted). Both sides say HELLO; then requests are answered one at a time, in
 * order (control-proto.h): a request that must wait (clipboard get) holds the ones behind it, at
 * most VD_CONTROL_MAX_QUEUED bytes of them. A client that leaves its replies unread past
 * VD_CONTROL_OUT_MAX is not read from (nor answered) until they drain. Tracing is switched on only
 * while at least one client watches; a client that reads too slowly loses trace records (counted),
 * never slows the daemon.
 */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>

#include "qga.h"
#include "router.h"
#include "sessions.h"

/* Clients at once; output queued for one client before trace records are dropped (requests are
 * small and answered one at a time, so only traces can grow it). */
#define VD_CONTROL_MAX_CLIENTS 8u
#define VD_CONTROL_OUT_MAX (1024u * 1024u)
/* Bytes of requests a client may send ahead while one waits for its answer (or while its replies
 * pile up unread: reading is paused then, so one read at most). Four 64 KiB clipboard offers. */
#define VD_CONTROL_MAX_QUEUED (256u * 1024u)
#define VD_CONTROL_HELLO_TIMEOUT_MS 5000u
/* A client that sends nothing for this long, while no answer is owed and it is not monitoring, is
 * closed: idle vdagent-ctl processes must not hold every place. Non-root peers get none at all
 * (refused at once, no lingering). */
#define VD_CONTROL_IDLE_TIMEOUT_MS 10000u
/* After an ERROR, how long a refused client may take to read it before it is cut off. */
#define VD_CONTROL_LINGER_MS 2000u

typedef struct VdControl VdControl;

typedef struct {
    VdRouter *router;     /* borrowed */
    VdSessions *sessions; /* borrowed */
    VdQga *qga;           /* borrowed, may be NULL (--qga-port none) */
    VdUinput *uinput;     /* borrowed */
} VdControlConfig;

VdControl *vd_control_new(const VdControlConfig *config);
void vd_control_free(VdControl *control);
/* Binds path (its directory is created 0755 if missing; a stale socket is replaced). */
bool vd_control_listen(VdControl *control, const char *path, GError **error);
