/* SPDX-License-Identifier: GPL-3.0-or-later */
/* session-lookup.c — which logind session a pid belongs to (vd_sessions_lookup_pid_async()).
 *
 * GetSessionByPID; for a pid in no session (a process of the user's service manager, such as the
 * vdagent.service user unit) GetUserByPID and that user's graphical "Display" session. The answer
 * is handed over only once the session table (sessions.c) has read that session's properties, so
 * that the caller's vd_sessions_get() succeeds at once; if it never does (over the cap, invalid),
 * the lookup times out: fail closed.
 *
 * Each lookup is one GTask: it holds the references, delivers the result from the main loop (never
 * from inside the _async call or from inside g_cancellable_cancel()), and reports CANCELLED to a
 * caller who cancelled before the result was delivered, even when logind had answered first. The
 * whole lookup has one timeout (VD_SESSIONS_CALL_TIMEOUT_MS) on top of each call's.
 */
#include <errno.h>
#include <string.h>

#include "logind.h"
#include "sessions-private.h"

/* Our tasks' source tag (a function pointer would not do in ISO C). */
static char lookup_tag;

struct VdSessionLookups {
    VdSessions *table;
    GPtrArray *tasks; /* GTask* in flight, each holding a reference */
};

typedef struct {
    VdSessionLookups *lookups; /* NULL once the table is freed */
    GDBusConnection *bus;
    char *owner;               /* the logind instance asked */
    pid_t pid;
    GCancellable *calls;       /* our D-Bus calls; cancelled once done */
    gulong cancelled_handler;  /* on the task's (the caller's) cancellable */
    GSource *timeout;
    GSource *cancel_idle;
    char *waiting_id;          /* resolved, waiting for the table to read this session */
    char *no_session_why;      /* GetSessionByPID's answer, while asking for the user's display */
    bool done;
} Lookup;

static void lookup_free(Lookup *l)
{
    if (!l)
        return;
    g_clear_object(&l->bus);
    g_clear_object(&l->calls);
    g_clear_pointer(&l->timeout, g_source_unref);
    g_clear_pointer(&l->cancel_idle, g_source_unref);
    g_free(l->owner);
    g_free(l->waiting_id);
    g_free(l->no_session_why);
    g_free(l);
}

static void drop_source(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_clear_pointer(source, g_source_unref);
    }
}

/* Returns the task exactly once; every later event of this lookup is a no-op. */
static void lookup_return(GTask *task, const char *id, GError *error)
{
    Lookup *l = g_task_get_task_data(task);
    if (l->done)
        return;
    l->done = true;
    g_object_ref(task);
    drop_source(&l->timeout);
    drop_source(&l->cancel_idle);
    if (l->cancelled_handler)
        g_cancellable_disconnect(g_task_get_cancellable(task), l->cancelled_handler);
    l->cancelled_handler = 0;
    g_cancellable_cancel(l->calls);
    if (l->lookups && g_ptr_array_remove_fast(l->lookups->tasks, task))
        g_object_unref(task); /* the set's reference; ours keeps it alive */
    l->lookups = NULL;
    if (error)
        g_task_return_error(task, g_error_copy(error));
    else
        g_task_return_pointer(task, g_strdup(id), g_free);
    g_object_unref(task);
}

static void lookup_fail(GTask *task, GQuark domain, int code, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static void lookup_fail(GTask *task, GQuark domain, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autoptr(GError) error = g_error_new_valist(domain, code, fmt, ap);
    va_end(ap);
    lookup_return(task, NULL, error);
}

static gboolean on_timeout(gpointer data)
{
    GTask *task = data;
    Lookup *l = g_task_get_task_data(task);
    lookup_fail(task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "logind did not tell the session of pid %d in time",
                (int)l->pid);
    return G_SOURCE_REMOVE;
}

static gboolean on_cancel_idle(gpointer data)
{
    GTask *task = data;
    Lookup *l = g_task_get_task_data(task);
    lookup_fail(task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "lookup of pid %d cancelled", (int)l->pid);
    return G_SOURCE_REMOVE;
}

static void on_cancelled(GCancellable *cancellable, gpointer data)
{
    GTask *task = data;
    Lookup *l = g_task_get_task_data(task);
    /* Inside g_cancellable_cancel() (or g_cancellable_connect()): complete from the main loop. */
    if (!l->done && !l->cancel_idle) {
        l->cancel_idle = g_idle_source_new();
        g_task_attach_source(task, l->cancel_idle, on_cancel_idle);
    }
}

/* The id is known; hand it over once the table has the session's properties. */
static void lookup_resolved(GTask *task, const char *id)
{
    Lookup *l = g_task_get_task_data(task);
    if (!l->lookups || vd_sessions_get(l->lookups->table, id, NULL) == 0) {
        lookup_return(task, id, NULL);
        return;
    }
    g_free(l->waiting_id);
    l->waiting_id = g_strdup(id);
}

void vd_session_lookups_loaded(VdSessionLookups *lookups, const char *id)
{
    g_return_if_fail(lookups && id);
    /* Collect first: a callback may start another lookup. */
    g_autoptr(GPtrArray) waiting = g_ptr_array_new_with_free_func(g_object_unref);
    for (guint i = 0; i < lookups->tasks->len; i++) {
        GTask *task = lookups->tasks->pdata[i];
        Lookup *l = g_task_get_task_data(task);
        if (l->waiting_id && strcmp(l->waiting_id, id) == 0)
            g_ptr_array_add(waiting, g_object_ref(task));
    }
    for (guint i = 0; i < waiting->len; i++)
        lookup_return(waiting->pdata[i], id, NULL);
}

/* --- the D-Bus calls; each holds a reference on the task --- */

static GVariant *call_finish(GObject *source, GAsyncResult *result, GTask *task, GError **error)
{
    GVariant *reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, error);
    Lookup *l = g_task_get_task_data(task);
    if (l->done)
        g_clear_pointer(&reply, g_variant_unref);
    else if (!reply)
        g_dbus_error_strip_remote_error(*error);
    return reply;
}

static void on_session_id(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) task = data;
    Lookup *l = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = call_finish(source, result, task, &error);
    if (l->done)
        return;
    g_autoptr(GVariant) value = NULL;
    if (reply)
        g_variant_get(reply, "(v)", &value);
    if (!reply)
        lookup_fail(task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "cannot read the session id of pid %d: %s", (int)l->pid,
                    error->message);
    else if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) ||
             !vd_session_id_valid(g_variant_get_string(value, NULL)))
        lookup_fail(task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "logind gave an invalid session id for pid %d",
                    (int)l->pid);
    else
        lookup_resolved(task, g_variant_get_string(value, NULL));
}

static void on_user_display(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) task = data;
    Lookup *l = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = call_finish(source, result, task, &error);
    if (l->done)
        return;
    g_autoptr(GVariant) value = NULL;
    const char *id = NULL;
    if (reply) {
        g_variant_get(reply, "(v)", &value);
        if (g_variant_is_of_type(value, G_VARIANT_TYPE("(so)")))
            g_variant_get(value, "(&s&o)", &id, NULL);
    }
    if (!reply) {
        lookup_fail(task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no session for pid %d: %s; its user's: %s", (int)l->pid,
                    l->no_session_why, error->message);
    } else if (!id || !*id) {
        lookup_fail(task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "no session for pid %d: %s, and its user has no graphical session", (int)l->pid,
                    l->no_session_why);
    } else if (!vd_session_id_valid(id)) {
        lookup_fail(task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "logind gave an invalid display session for pid %d",
                    (int)l->pid);
    } else {
        g_debug("pid %d is in no session: serving its user's display session %s", (int)l->pid, id);
        lookup_resolved(task, id);
    }
}

static void on_user_by_pid(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) task = data;
    Lookup *l = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = call_finish(source, result, task, &error);
    if (l->done)
        return;
    if (!reply) {
        bool timed_out = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        lookup_fail(task, G_IO_ERROR, timed_out ? G_IO_ERROR_TIMED_OUT : G_IO_ERROR_NOT_FOUND,
                    "no session for pid %d: %s; no user either: %s", (int)l->pid, l->no_session_why, error->message);
        return;
    }
    const char *path;
    g_variant_get(reply, "(&o)", &path);
    g_dbus_connection_call(l->bus, l->owner, path, VD_DBUS_PROPERTIES, "Get",
                           g_variant_new("(ss)", VD_LOGIND_USER, "Display"), G_VARIANT_TYPE("(v)"),
                           G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_SESSIONS_CALL_TIMEOUT_MS, l->calls, on_user_display,
                           g_steal_pointer(&task));
}

static void on_session_by_pid(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) task = data;
    Lookup *l = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = call_finish(source, result, task, &error);
    if (l->done)
        return;
    if (!reply) {
        bool timed_out = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        if (!timed_out) {
            /* Not in a session scope: a process of the user's service manager (the vdagent.service
             * user unit) is in none. Its user's graphical ("display") session is the one it serves. */
            g_free(l->no_session_why);
            l->no_session_why = g_strdup(error->message);
            g_dbus_connection_call(l->bus, l->owner, VD_LOGIND_PATH, VD_LOGIND_MANAGER, "GetUserByPID",
                                   g_variant_new("(u)", (guint32)l->pid), G_VARIANT_TYPE("(o)"),
                                   G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_SESSIONS_CALL_TIMEOUT_MS, l->calls,
                                   on_user_by_pid, g_steal_pointer(&task));
            return;
        }
        lookup_fail(task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no session for pid %d: %s", (int)l->pid,
                    error->message);
        return;
    }
    const char *path;
    g_variant_get(reply, "(&o)", &path);
    const char *known = l->lookups ? vd_sessions_id_at_path(l->lookups->table, path) : NULL;
    if (known) {
        lookup_resolved(task, known);
        return;
    }
    /* Not a session we know (yet): ask it for its id. The path is not the id: logind escapes it. */
    g_dbus_connection_call(l->bus, l->owner, path, VD_DBUS_PROPERTIES, "Get",
                           g_variant_new("(ss)", VD_LOGIND_SESSION, "Id"), G_VARIANT_TYPE("(v)"),
                           G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_SESSIONS_CALL_TIMEOUT_MS, l->calls, on_session_id,
                           g_steal_pointer(&task));
}

/* --- public --- */

void vd_sessions_lookup_pid_async(VdSessions *sessions, pid_t pid, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, &lookup_tag);
    Lookup *l = g_new0(Lookup, 1);
    l->pid = pid;
    l->calls = g_cancellable_new();
    g_task_set_task_data(task, l, (GDestroyNotify)lookup_free);

    const char *refusal = NULL;
    VdSessionLookups *lookups = sessions ? vd_sessions_lookups(sessions) : NULL;
    if (!vd_sessions_tracking(sessions) || !lookups)
        refusal = "no session tracking";
    else if (pid <= 0) /* GetSessionByPID(0) would answer with the caller's, our own, session */
        refusal = "invalid pid";
    else if (!vd_sessions_owner(sessions))
        refusal = "logind is not running";
    else if (lookups->tasks->len >= VD_SESSIONS_MAX_LOOKUPS)
        refusal = "too many session lookups in flight";
    if (refusal) {
        /* GTask delivers this from the main loop, never from inside this call. */
        lookup_fail(task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "cannot look up the session of pid %d: %s", (int)pid,
                    refusal);
        return;
    }
    l->lookups = lookups;
    l->bus = g_object_ref(vd_sessions_bus(sessions));
    l->owner = g_strdup(vd_sessions_owner(sessions));
    g_ptr_array_add(lookups->tasks, g_object_ref(task));
    l->timeout = g_timeout_source_new(VD_SESSIONS_CALL_TIMEOUT_MS);
    g_task_attach_source(task, l->timeout, on_timeout);
    if (cancellable)
        l->cancelled_handler = g_cancellable_connect(cancellable, G_CALLBACK(on_cancelled), task, NULL);
    g_dbus_connection_call(l->bus, l->owner, VD_LOGIND_PATH, VD_LOGIND_MANAGER, "GetSessionByPID",
                           g_variant_new("(u)", (guint32)pid), G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                           VD_SESSIONS_CALL_TIMEOUT_MS, l->calls, on_session_by_pid, g_object_ref(task));
}

char *vd_sessions_lookup_pid_finish(VdSessions *sessions, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == &lookup_tag, NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

typedef struct {
    VdSessionLookupFunc callback;
    void *user_data;
} Closure;

static void on_lookup_done(GObject *source, GAsyncResult *result, gpointer data)
{
    Closure *c = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *id = vd_sessions_lookup_pid_finish(NULL, result, &error);
    c->callback(id, error, c->user_data);
    g_free(c);
}

void vd_sessions_lookup_pid(VdSessions *sessions, pid_t pid, GCancellable *cancellable,
                            VdSessionLookupFunc callback, void *user_data)
{
    g_return_if_fail(callback);
    Closure *c = g_new(Closure, 1);
    *c = (Closure){ callback, user_data };
    vd_sessions_lookup_pid_async(sessions, pid, cancellable, on_lookup_done, c);
}

/* --- the set, owned by the table --- */

VdSessionLookups *vd_session_lookups_new(VdSessions *table)
{
    VdSessionLookups *lookups = g_new0(VdSessionLookups, 1);
    lookups->table = table;
    lookups->tasks = g_ptr_array_new();
    return lookups;
}

void vd_session_lookups_free(VdSessionLookups *lookups)
{
    if (!lookups)
        return;
    for (guint i = 0; i < lookups->tasks->len; i++) {
        GTask *task = lookups->tasks->pdata[i];
        Lookup *l = g_task_get_task_data(task);
        l->lookups = NULL;
        g_object_unref(task);
    }
    g_ptr_array_unref(lookups->tasks);
    g_free(lookups);
}
