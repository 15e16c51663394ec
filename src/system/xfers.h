/* SPDX-License-Identifier: GPL-3.0-or-later */
/* xfers.h — file transfers in flight: each id bound to the agent that was offered it.
 *
 * The host chooses ids; an id is accepted only if no transfer with it is in flight, and at most
 * VD_XFERS_MAX run at once (CVE-2020-25650/25651: no unbounded table, no status from a connection
 * that does not own the id). Nothing is buffered here: data streams through (router.c).
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "agents.h"

#define VD_XFERS_MAX 64u

typedef struct VdXfers VdXfers;

typedef struct {
    uint32_t id;
    VdAgent *agent;
    uint64_t size;     /* announced by START */
    uint64_t received; /* data bytes passed on */
    bool accepted;     /* the agent said CAN_SEND_DATA */
    gint64 started_us; /* monotonic, at START: for the status's rate */
} VdXfer;

VdXfers *vd_xfers_new(void);
void vd_xfers_free(VdXfers *xfers);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdXfers, vd_xfers_free)
/* -EEXIST (id in flight), -ENOSPC (VD_XFERS_MAX), 0. */
int vd_xfers_add(VdXfers *xfers, uint32_t id, VdAgent *agent, uint64_t size);
VdXfer *vd_xfers_get(VdXfers *xfers, uint32_t id);
/* The transfer if agent owns it, else NULL (a status from anyone else is ignored). */
VdXfer *vd_xfers_get_for(VdXfers *xfers, uint32_t id, const VdAgent *agent);
void vd_xfers_remove(VdXfers *xfers, uint32_t id);
unsigned vd_xfers_count(const VdXfers *xfers);
/* The ids of agent's transfers (all of them when agent is NULL), to cancel them. */
GArray *vd_xfers_ids(const VdXfers *xfers, const VdAgent *agent);
void vd_xfers_status(const VdXfers *xfers, JsonBuilder *builder);
