/* SPDX-License-Identifier: GPL-3.0-or-later */
/* router.h — who gets each message: the host link, the session agents, the pointer.
 *
 * Owns the host link (host.c), the session agents (agents.c) and the transfers table (xfers.c).
 * Only the active session's agent gets clipboard, monitor configs and files; on a change of active
 * session the old one's clipboard grabs are released towards the host, its transfers cancelled, and
 * the new one gets the cached monitor config, device info and the host's grabs. The daemon owns
 * the clipboard grab serials. Large payloads stream through piece by piece with backpressure both
 * ways. The mouse goes from the host straight to layout + uinput.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "agents.h"
#include "host.h"
#include "sessions.h"
#include "uinput.h"

/* How long the agent may take to answer vdagent-ctl's clipboard get. */
#define VD_ROUTER_CTL_CLIPBOARD_TIMEOUT_MS 10000u
/* How long the agent may take to apply a MONITORS_CONFIG before the host gets REPLY(ERROR). */
#define VD_ROUTER_MONITORS_TIMEOUT_MS 5000u

typedef struct VdRouter VdRouter;

typedef struct {
    const char *port_path;
    VdSessions *sessions; /* borrowed; vd_sessions_new_none() without session tracking */
    VdUinput *uinput;     /* borrowed; NULL without a pointer device (MOUSE_STATE not announced) */
    const char *sysfs_root; /* for the framebuffer size; NULL = "/sys" */
} VdRouterConfig;

VdRouter *vd_router_new(const VdRouterConfig *config);
void vd_router_free(VdRouter *router);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdRouter, vd_router_free)
/* Listens for agents (or takes systemd's socket) and opens the port. */
bool vd_router_start(VdRouter *router, const char *socket_path, GError **error);
/* Logind reported a change (wire to vd_sessions_new_logind's callback). */
void vd_router_sessions_changed(VdRouter *router);

/* For vdagent-ctl: the host link (vd_host_inject), tracing of every message, and status. */
VdHost *vd_router_host(VdRouter *router);
void vd_router_set_trace(VdRouter *router, VdTraceFunc func, void *user_data);
/* Members "port", "caps", "host", "mouse", "agents", "transfers", "counters" of the status
 * document (docs/vdagent-ctl.md). */
void vd_router_status(VdRouter *router, JsonBuilder *builder);

/* vdagent-ctl's clipboard. Errors are in this domain, with VdIpcErrorCode codes. */
GQuark vd_router_error_quark(void);
/* Offers data (at most VD_IPC_MAX_PIECE bytes) on selection to the active agent as if the host
 * held it; the agent's requests are answered from it until the host or the guest grabs. */
bool vd_router_clipboard_set(VdRouter *router, uint8_t selection, uint32_t type, const uint8_t *data,
                             uint32_t len, GError **error);
/* Asks the active agent for its data on selection as if the host did. The callback runs once:
 * with the data (at most VD_IPC_MAX_PIECE bytes), or with an error (possibly before this returns). */
typedef void (*VdRouterClipboardFunc)(uint8_t selection, uint32_t type, const uint8_t *data, size_t len,
                                      const GError *error, void *user_data);
void vd_router_clipboard_get(VdRouter *router, uint8_t selection, uint32_t type,
                             VdRouterClipboardFunc callback, void *user_data);
