/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ratelimit.c — log lines a peer can trigger, limited per peer and cause (see ratelimit.h). */
#include "ratelimit.h"

#include <string.h>

static void summarise(VdLogLimit *limit, VdLogSlot *s)
{
    if (!s->suppressed)
        return;
    g_message("%s: %" G_GUINT64_FORMAT " more \"%s\" lines suppressed", limit->peer ? limit->peer : "peer",
              s->suppressed, s->cause);
    s->suppressed = 0;
}

static gboolean on_window_end(gpointer user_data)
{
    VdLogLimit *limit = user_data;
    limit->timer = 0;
    gint64 now = g_get_monotonic_time();
    bool pending = false;
    for (unsigned i = 0; i < VD_LOG_CAUSES; i++) {
        VdLogSlot *s = &limit->slot[i];
        if (!s->suppressed)
            continue;
        if (now - s->window_start_us >= (gint64)VD_LOG_WINDOW_MS * 1000) {
            summarise(limit, s);
            s->window_start_us = now;
            s->logged = 0;
        } else {
            pending = true;
        }
    }
    if (pending)
        limit->timer = g_timeout_add(VD_LOG_WINDOW_MS / 4, on_window_end, limit);
    return G_SOURCE_REMOVE;
}

void vd_log_limit_init(VdLogLimit *limit, const char *peer)
{
    g_return_if_fail(limit);
    memset(limit, 0, sizeof(*limit));
    limit->peer = g_strdup(peer);
}

void vd_log_limit_set_peer(VdLogLimit *limit, const char *peer)
{
    g_return_if_fail(limit);
    g_free(limit->peer);
    limit->peer = g_strdup(peer);
}

void vd_log_limit_clear(VdLogLimit *limit)
{
    if (!limit)
        return;
    for (unsigned i = 0; i < VD_LOG_CAUSES; i++)
        summarise(limit, &limit->slot[i]);
    g_clear_handle_id(&limit->timer, g_source_remove);
    g_clear_pointer(&limit->peer, g_free);
    memset(limit->slot, 0, sizeof(limit->slot));
}

bool vd_log_limit_allow(VdLogLimit *limit, const char *cause)
{
    g_return_val_if_fail(limit && cause, false);
    gint64 now = g_get_monotonic_time();
    VdLogSlot *s = NULL, *oldest = &limit->slot[0];
    for (unsigned i = 0; i < VD_LOG_CAUSES && !s; i++) {
        VdLogSlot *c = &limit->slot[i];
        if (c->cause == cause || (c->cause && strcmp(c->cause, cause) == 0))
            s = c;
        else if (!c->cause || (oldest->cause && c->window_start_us < oldest->window_start_us))
            oldest = c;
    }
    if (!s) {
        s = oldest;
        summarise(limit, s);
        *s = (VdLogSlot){ .cause = cause, .window_start_us = now };
    }
    if (now - s->window_start_us >= (gint64)VD_LOG_WINDOW_MS * 1000) {
        summarise(limit, s);
        s->window_start_us = now;
        s->logged = 0;
    }
    if (s->logged < VD_LOG_BURST) {
        s->logged++;
        return true;
    }
    s->suppressed++;
    if (!limit->timer) {
        gint64 left_ms = ((gint64)VD_LOG_WINDOW_MS * 1000 - (now - s->window_start_us)) / 1000 + 1;
        limit->timer = g_timeout_add((guint)CLAMP(left_ms, 1, (gint64)VD_LOG_WINDOW_MS), on_window_end, limit);
    }
    return false;
}

typedef struct {
    uid_t uid;
    gint64 used_us;
    VdLogLimit limit;
} UidLimit;

struct VdLogLimits {
    char *what;
    UidLimit uids[VD_LOG_UIDS];
    unsigned n;
};

VdLogLimits *vd_log_limits_new(const char *what)
{
    VdLogLimits *limits = g_new0(VdLogLimits, 1);
    limits->what = g_strdup(what);
    return limits;
}

void vd_log_limits_free(VdLogLimits *limits)
{
    if (!limits)
        return;
    for (unsigned i = 0; i < limits->n; i++)
        vd_log_limit_clear(&limits->uids[i].limit);
    g_free(limits->what);
    g_free(limits);
}

VdLogLimit *vd_log_limits_for_uid(VdLogLimits *limits, uid_t uid)
{
    g_return_val_if_fail(limits, NULL);
    gint64 now = g_get_monotonic_time();
    UidLimit *u = NULL;
    for (unsigned i = 0; i < limits->n && !u; i++)
        if (limits->uids[i].uid == uid)
            u = &limits->uids[i];
    if (!u) {
        if (limits->n < VD_LOG_UIDS) {
            u = &limits->uids[limits->n++];
        } else {
            u = &limits->uids[0];
            for (unsigned i = 1; i < limits->n; i++)
                if (limits->uids[i].used_us < u->used_us)
                    u = &limits->uids[i];
            vd_log_limit_clear(&u->limit);
        }
        u->uid = uid;
        g_autofree char *peer = g_strdup_printf("%s (uid %u)", limits->what, (unsigned)uid);
        vd_log_limit_init(&u->limit, peer);
    }
    u->used_us = now;
    return &u->limit;
}
