/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ratelimit.h — log lines a peer can trigger, limited per peer and cause.
 *
 * Anything a local user or the host can make the daemon say would otherwise let them flood the
 * journal, whose per-service rate limit then drops the daemon's own audit records. Each peer (a
 * connection, a uid at a listening socket, the host) owns a VdLogLimit: per cause (a static
 * string), at most VD_LOG_BURST lines per VD_LOG_WINDOW_MS; past that the lines are counted, and
 * one "N more ... suppressed" summary is logged when the window ends or the peer goes away.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VD_LOG_BURST 5u
#define VD_LOG_WINDOW_MS 3000u
/* Causes tracked at once per peer; a new cause past this reuses the oldest slot. */
#define VD_LOG_CAUSES 8u
/* Uids tracked at once by a VdLogLimits (a listening socket); the least recently used is
 * summarised and forgotten to make room. */
#define VD_LOG_UIDS 16u

typedef struct {
    const char *cause;
    gint64 window_start_us;
    uint32_t logged;
    uint64_t suppressed;
} VdLogSlot;

typedef struct {
    char *peer;
    VdLogSlot slot[VD_LOG_CAUSES];
    guint timer;
} VdLogLimit;

void vd_log_limit_init(VdLogLimit *limit, const char *peer);
/* Logs the pending summaries, then forgets everything (the peer is gone). */
void vd_log_limit_clear(VdLogLimit *limit);
void vd_log_limit_set_peer(VdLogLimit *limit, const char *peer);
/* Whether one more line of cause may be logged now (counts it as suppressed if not). */
bool vd_log_limit_allow(VdLogLimit *limit, const char *cause);

/* Limits per uid, for peers that are only a uid so far (refused at a listening socket). */
typedef struct VdLogLimits VdLogLimits;
VdLogLimits *vd_log_limits_new(const char *what);
void vd_log_limits_free(VdLogLimits *limits);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdLogLimits, vd_log_limits_free)
VdLogLimit *vd_log_limits_for_uid(VdLogLimits *limits, uid_t uid);

/* g_message/g_warning through a limit: cause is a short static description. */
#define vd_limited(limit, level, cause, ...)                                                       \
    do {                                                                                           \
        if (vd_log_limit_allow((limit), (cause)))                                                  \
            g_log(G_LOG_DOMAIN, (level), __VA_ARGS__);                                             \
    } while (0)
#define vd_limited_message(limit, cause, ...) vd_limited(limit, G_LOG_LEVEL_MESSAGE, cause, __VA_ARGS__)
#define vd_limited_warning(limit, cause, ...) vd_limited(limit, G_LOG_LEVEL_WARNING, cause, __VA_ARGS__)
