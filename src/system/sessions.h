/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sessions.h — who is logged in where, and which session is active on each seat.
 *
 * Backed by systemd-logind over D-Bus (GIO, asynchronous; works against the real logind and against
 * python3-dbusmock's logind template on a private bus): Manager.ListSessions / GetSessionByPID,
 * SessionNew / SessionRemoved, each Session's properties (Id, User, Name, Seat, Class, Type, State,
 * Active, LockedHint, Remote) with PropertiesChanged, and Lock / Unlock. Or nothing at all
 * (vd_sessions_new_none): then there are no sessions and lookups fail with -ENOENT.
 * Never blocks the main loop: lookups of a pid's session are asynchronous.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct VdSessions VdSessions;

typedef struct {
    char *id;      /* logind session id, e.g. "2" */
    uid_t uid;
    char *user;    /* user name */
    char *seat;    /* "seat0", or "" for sessions without a seat */
    char *klass;   /* "user", "greeter", "lock-screen", "background"… */
    char *type;    /* "x11", "wayland", "tty", "unspecified"… */
    char *state;   /* "online", "active", "closing" */
    bool active;   /* the foreground session of its seat */
    bool locked;   /* LockedHint, or Lock() seen without a later Unlock() */
    bool remote;
} VdSessionInfo;

void vd_session_info_clear(VdSessionInfo *info);
void vd_session_info_copy(const VdSessionInfo *src, VdSessionInfo *dst);

/* Called (from the main loop) after anything changed: a session appeared or went, the active
 * session of a seat changed, a session was locked or unlocked. Cheap to query from inside. */
typedef void (*VdSessionsChangedFunc)(VdSessions *sessions, void *user_data);

/* Follows logind on bus (the system bus in production, a private bus in tests). The initial list is
 * loaded asynchronously; until it is, vd_sessions_ready() is false. */
VdSessions *vd_sessions_new_logind(GDBusConnection *bus, VdSessionsChangedFunc changed, void *user_data);
VdSessions *vd_sessions_new_none(void);
void vd_sessions_free(VdSessions *sessions);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdSessions, vd_sessions_free)
bool vd_sessions_ready(const VdSessions *sessions);
bool vd_sessions_tracking(const VdSessions *sessions); /* false for _new_none */

/* Copy of what is known about session id; 0, or -ENOENT. */
int vd_sessions_get(const VdSessions *sessions, const char *id, VdSessionInfo *ret);
/* The id of the active session on seat (NULL if none); valid until the next change callback. */
const char *vd_sessions_active_on_seat(const VdSessions *sessions, const char *seat);
/* All known sessions, in id order: a GPtrArray of VdSessionInfo* (free with g_ptr_array_unref). */
GPtrArray *vd_sessions_list(const VdSessions *sessions);

/* Asks logind which session pid belongs to (GetSessionByPID; for a pid in no session, its user's
 * display session), in session-lookup.c. _finish gives the session id (g_free), or NULL and an error:
 * no session, logind gone, refused (no tracking, pid <= 0, VD_SESSIONS_MAX_LOOKUPS in flight),
 * CANCELLED, or a timeout (every lookup finishes within a few seconds, even after vd_sessions_free).
 * The callback runs from the main loop, never from inside the call. When it succeeds,
 * vd_sessions_get() on the id succeeds too. The caller must then check that pid still is its peer
 * (pidfd): this only maps pid -> session. */
void vd_sessions_lookup_pid_async(VdSessions *sessions, pid_t pid, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
char *vd_sessions_lookup_pid_finish(VdSessions *sessions, GAsyncResult *result, GError **error);
/* The same with a plain callback (session_id NULL on error). */
typedef void (*VdSessionLookupFunc)(const char *session_id, const GError *error, void *user_data);
void vd_sessions_lookup_pid(VdSessions *sessions, pid_t pid, GCancellable *cancellable,
                            VdSessionLookupFunc callback, void *user_data);

/* The sessions part of `vdagent-ctl status`: appends member "sessions": [ {id, uid, user, seat,
 * class, type, state, active, locked, remote}, … ] and "session_tracking": "logind"|"none". */
void vd_sessions_status(const VdSessions *sessions, JsonBuilder *builder);
