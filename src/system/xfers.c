/* SPDX-License-Identifier: GPL-3.0-or-later */
/* xfers.c — the table of file transfers in flight. */
#include "xfers.h"

#include <errno.h>

struct VdXfers {
    GHashTable *by_id; /* uint32 id -> VdXfer* */
};

VdXfers *vd_xfers_new(void)
{
    VdXfers *x = g_new0(VdXfers, 1);
    x->by_id = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    return x;
}

void vd_xfers_free(VdXfers *x)
{
    if (!x)
        return;
    g_hash_table_unref(x->by_id);
    g_free(x);
}

int vd_xfers_add(VdXfers *x, uint32_t id, VdAgent *agent, uint64_t size)
{
    g_return_val_if_fail(x, -EINVAL);
    if (g_hash_table_contains(x->by_id, GUINT_TO_POINTER(id)))
        return -EEXIST;
    /* CVE-2020-25650: a bounded table; CVE-2020-25651: an id in flight is never taken over. */
    if (g_hash_table_size(x->by_id) >= VD_XFERS_MAX)
        return -ENOSPC;
    VdXfer *xfer = g_new0(VdXfer, 1);
    *xfer = (VdXfer){ .id = id, .agent = agent, .size = size, .started_us = g_get_monotonic_time() };
    g_hash_table_insert(x->by_id, GUINT_TO_POINTER(id), xfer);
    return 0;
}

VdXfer *vd_xfers_get(VdXfers *x, uint32_t id)
{
    g_return_val_if_fail(x, NULL);
    return g_hash_table_lookup(x->by_id, GUINT_TO_POINTER(id));
}

VdXfer *vd_xfers_get_for(VdXfers *x, uint32_t id, const VdAgent *agent)
{
    g_return_val_if_fail(x, NULL);
    VdXfer *xfer = vd_xfers_get(x, id);
    return xfer && xfer->agent == agent ? xfer : NULL;
}

void vd_xfers_remove(VdXfers *x, uint32_t id)
{
    g_return_if_fail(x);
    g_hash_table_remove(x->by_id, GUINT_TO_POINTER(id));
}

unsigned vd_xfers_count(const VdXfers *x)
{
    g_return_val_if_fail(x, 0);
    return g_hash_table_size(x->by_id);
}

GArray *vd_xfers_ids(const VdXfers *x, const VdAgent *agent)
{
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, x->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const VdXfer *xfer = value;
        if (!agent || xfer->agent == agent)
            g_array_append_val(ids, xfer->id);
    }
    return ids;
}

void vd_xfers_status(const VdXfers *x, JsonBuilder *b)
{
    g_return_if_fail(x && b);
    json_builder_set_member_name(b, "transfers");
    json_builder_begin_array(b);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, x->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const VdXfer *xfer = value;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, xfer->id);
        json_builder_set_member_name(b, "session");
        json_builder_add_string_value(b, vd_agent_session(xfer->agent));
        json_builder_set_member_name(b, "size");
        json_builder_add_int_value(b, (gint64)xfer->size);
        json_builder_set_member_name(b, "received");
        json_builder_add_int_value(b, (gint64)xfer->received);
        /* What a user asks first: how far, how fast (bytes passed on to the agent per second). */
        json_builder_set_member_name(b, "percent");
        json_builder_add_int_value(b, xfer->size ? (gint64)(xfer->received * 100 / xfer->size) : 100);
        gint64 elapsed = MAX(g_get_monotonic_time() - xfer->started_us, 1);
        json_builder_set_member_name(b, "rate");
        json_builder_add_int_value(b, (gint64)((double)xfer->received * G_USEC_PER_SEC / (double)elapsed));
        json_builder_set_member_name(b, "seconds");
        json_builder_add_int_value(b, elapsed / G_USEC_PER_SEC);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}
