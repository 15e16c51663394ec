/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga.h — the QEMU guest agent protocol, served by the root daemon on org.qemu.guest_agent.0.
 *
 * qemu-ga compatible JSON requests/replies (json-glib), a policy of allowed and blocked verbs, and
 * the system tasks themselves (shutdown through logind, time, users, OS info…). See issue 6 and
 * docs/qga.md. Never blocks the main loop.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

typedef struct VdQga VdQga;

typedef struct {
    const char *port_path;   /* --qga-port; NULL or "none": disabled */
    const char *allow_rpcs;  /* --allow-rpcs: comma-separated verbs, NULL = all not blocked */
    const char *block_rpcs;  /* --block-rpcs: comma-separated verbs */
    const char *config_path; /* --qga-config: key file, NULL = default path if it exists */
    GDBusConnection *system_bus; /* for logind (shutdown, users); NULL: connect lazily when needed */
} VdQgaConfig;

/* Returns NULL with error for a bad policy/config; a missing port is not an error (retried later). */
VdQga *vd_qga_new(const VdQgaConfig *config, GError **error);
void vd_qga_free(VdQga *qga);
/* The system bus for logind (shutdown, users), once the daemon has one; ignored if one is set. */
void vd_qga_set_system_bus(VdQga *qga, GDBusConnection *bus);
/* Opens the port (a character device, or a Unix socket to connect to) and starts serving. */
void vd_qga_start(VdQga *qga);
/* The "qga" member of `vdagent-ctl status`: {path, state, requests, errors, blocked: […], …}. */
void vd_qga_status(const VdQga *qga, JsonBuilder *builder);
