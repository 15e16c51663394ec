/* SPDX-License-Identifier: GPL-3.0-or-later */
/* client.h — vdagent-ctl's side of the control protocol: connect to the daemon's control socket, say
 * hello, send requests and read replies. A CLI may block, but never forever: every read has a
 * deadline, except the open-ended trace of `monitor`. */
#pragma once

#include <stdbool.h>

#include <gio/gio.h>

#include "control-proto.h"

#define VD_CTL_ERROR (vd_ctl_error_quark())
GQuark vd_ctl_error_quark(void);

/* Error codes double as exit statuses (docs/vdagent-ctl.md). */
typedef enum {
    VD_CTL_ERROR_FAILED = 1,       /* the daemon refused or failed the request */
    VD_CTL_ERROR_USAGE = 2,        /* bad command line */
    VD_CTL_ERROR_NOT_RUNNING = 3,  /* no daemon listening on the control socket */
    VD_CTL_ERROR_PERMISSION = 4,   /* not allowed to talk to it (root only) */
    VD_CTL_ERROR_VERSION = 5,      /* protocol major version mismatch */
    VD_CTL_ERROR_PROTOCOL = 6,     /* malformed or unexpected reply, or the daemon hung up */
    VD_CTL_ERROR_TIMEOUT = 7,      /* no reply in time */
} VdCtlError;

typedef struct VdCtlClient VdCtlClient;

/* Connects and exchanges HELLO. */
VdCtlClient *vd_ctl_client_connect(const char *path, int timeout_ms, GError **error);
void vd_ctl_client_free(VdCtlClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdCtlClient, vd_ctl_client_free)

bool vd_ctl_client_send(VdCtlClient *client, const VdControlMsg *msg, GError **error);
/* Reads the next frame; timeout_ms < 0 waits indefinitely. An ERROR frame becomes a GError
 * (VERSION, PERMISSION or FAILED) and FALSE. ret must be cleared with vd_control_msg_clear; its
 * blobs (clipboard data, trace bytes) point into the frame, valid until the next recv. */
bool vd_ctl_client_recv(VdCtlClient *client, VdControlMsg *ret, int timeout_ms, GError **error);
/* send + recv, expecting a RESULT frame with code 0 (else FALSE with the daemon's message). */
bool vd_ctl_client_call(VdCtlClient *client, const VdControlMsg *request, int timeout_ms, GError **error);
