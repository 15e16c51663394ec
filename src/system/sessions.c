/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sessions.c — follows systemd-logind over D-Bus: which sessions exist, who owns them, which one is
 * active on each seat, which are locked.
 *
 * One source of truth, one ordered stream: everything comes from org.freedesktop.login1 on one
 * GDBusConnection (see docs/sessions.md for why not sd-login). Signals are subscribed to before the
 * initial ListSessions is sent, and a session's GetAll reply is applied over whatever signals came
 * before it: logind answers in order, so a reply is never older than a signal received before it.
 *
 * Security rules that live here:
 * - Only signals whose sender is logind's current unique name count. A unicast signal sent straight
 *   to us by any local process would otherwise pass a match on the well-known name (the class of
 *   CVE-2024-34397 in GLib), and could claim that a session is active or unlocked.
 * - Fail closed: a session whose properties are not (yet) known, invalid or over a limit is not
 *   reported; while logind is gone no session is active; two sessions claiming the same seat give no
 *   active session at all.
 * - Everything a local user can grow is bounded: sessions tracked, string lengths, pending lookups,
 *   and every D-Bus call has a timeout.
 */
#include "sessions-private.h"

#include <errno.h>
#include <string.h>

#include "logind.h"

/* Sessions tracked at once. logind's own default cap is 8192; a local user can create sessions (ssh
 * logins), so beyond this new sessions are ignored (their agents are refused) rather than grown. */
#define VD_SESSIONS_MAX 1024u
/* A session id (logind's are letters and digits, "2", "c1"), in bytes. */
#define VD_SESSIONS_MAX_ID 64u
/* User, seat, class, type and state names, in bytes. */
#define VD_SESSIONS_MAX_NAME 256u
/* A session's object path, in bytes. */
#define VD_SESSIONS_MAX_PATH 512u
/* Sessions whose properties are being read at once (GetAll calls in flight). */
#define VD_SESSIONS_MAX_LOADS 16u
/* Attempts after a timeout: GetAll of one session, and ListSessions (then every few seconds). */
#define VD_SESSIONS_RETRIES 3u
#define VD_SESSIONS_LIST_RETRY_S 2u
/* Signals from impostors logged at warning level; the rest at debug level. */
#define VD_SESSIONS_FORGED_LOGGED 10u


typedef struct {
    VdSessionInfo info;
    char *path;
    guint64 gen;          /* unique per record: replies for a removed record are dropped */
    guint64 seen_epoch;   /* the logind instance that last listed or announced this session */
    bool loaded;          /* GetAll answered and valid: only then is the session reported */
    bool locked_hint;     /* LockedHint */
    bool lock_requested;  /* Lock seen, and neither Unlock nor LockedHint=false since */
    bool queued;          /* in load_queue */
    bool initial_pending; /* from the initial list, not read yet */
    guint load_retries;   /* GetAll timeouts in a row */
} Session;

struct VdSessions {
    bool tracking;
    GDBusConnection *bus;
    VdSessionsChangedFunc changed;
    void *user_data;
    GCancellable *cancellable; /* every call to logind; cancelled on free */
    guint watch_id;
    guint subscriptions[4];
    char *owner;           /* logind's unique name, NULL while it is gone */
    guint64 epoch;         /* bumped on every owner change: older replies are dropped */
    guint64 next_gen;
    bool list_loaded;      /* ListSessions answered for this epoch */
    guint initial_pending; /* sessions of that list not read yet */
    GQueue load_queue;     /* Session* whose properties are to be read */
    guint loads_in_flight; /* GetAll calls out, at most VD_SESSIONS_MAX_LOADS */
    bool ready;
    GHashTable *by_id;     /* id -> Session*, owned */
    GHashTable *by_path;   /* path -> Session*, borrowed */
    bool warned_cap;
    guint64 forged_signals;
    guint notify_id;
    guint list_retry_id;   /* ListSessions failed: the next attempt */
    VdSessionLookups *lookups; /* pid lookups in flight (session-lookup.c) */
};

/* --- VdSessionInfo --- */

void vd_session_info_clear(VdSessionInfo *info)
{
    if (!info)
        return;
    g_clear_pointer(&info->id, g_free);
    g_clear_pointer(&info->user, g_free);
    g_clear_pointer(&info->seat, g_free);
    g_clear_pointer(&info->klass, g_free);
    g_clear_pointer(&info->type, g_free);
    g_clear_pointer(&info->state, g_free);
    *info = (VdSessionInfo){0};
}

void vd_session_info_copy(const VdSessionInfo *src, VdSessionInfo *dst)
{
    g_return_if_fail(src && dst);
    *dst = *src;
    dst->id = g_strdup(src->id);
    dst->user = g_strdup(src->user);
    dst->seat = g_strdup(src->seat);
    dst->klass = g_strdup(src->klass);
    dst->type = g_strdup(src->type);
    dst->state = g_strdup(src->state);
}

static void session_info_free(VdSessionInfo *info)
{
    vd_session_info_clear(info);
    g_free(info);
}

static bool info_equal(const VdSessionInfo *a, const VdSessionInfo *b)
{
    return g_strcmp0(a->id, b->id) == 0 && a->uid == b->uid && g_strcmp0(a->user, b->user) == 0 &&
           g_strcmp0(a->seat, b->seat) == 0 && g_strcmp0(a->klass, b->klass) == 0 &&
           g_strcmp0(a->type, b->type) == 0 && g_strcmp0(a->state, b->state) == 0 &&
           a->active == b->active && a->locked == b->locked && a->remote == b->remote;
}

/* logind's rule (session_id_valid): letters and digits only. */
bool vd_session_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > VD_SESSIONS_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(id[i]))
            return false;
    return true;
}

/* Numeric ids in numeric order ("2" < "10"), then the others ("c1") in byte order. */
static int session_id_compare(const char *a, const char *b)
{
    bool da = a[strspn(a, "0123456789")] == '\0';
    bool db = b[strspn(b, "0123456789")] == '\0';
    if (da != db)
        return da ? -1 : 1;
    if (da && strlen(a) != strlen(b))
        return strlen(a) < strlen(b) ? -1 : 1;
    return strcmp(a, b);
}

/* --- sessions table --- */

static void session_free(Session *s)
{
    vd_session_info_clear(&s->info);
    g_free(s->path);
    g_free(s);
}

static void notify_changed(VdSessions *self);
static void update_ready(VdSessions *self);

static gboolean notify_idle(gpointer data)
{
    VdSessions *self = data;
    self->notify_id = 0;
    if (self->changed)
        self->changed(self, self->user_data);
    return G_SOURCE_REMOVE;
}

/* Coalesces: however many updates one main-loop iteration applies, one callback follows. */
static void notify_changed(VdSessions *self)
{
    if (self->notify_id == 0)
        self->notify_id = g_idle_add(notify_idle, self);
}

static void session_remove(VdSessions *self, Session *s, const char *why)
{
    g_debug("logind: session \"%s\" %s", s->info.id, why);
    bool was_loaded = s->loaded;
    if (s->queued)
        g_queue_remove(&self->load_queue, s);
    bool was_initial = s->initial_pending;
    g_hash_table_remove(self->by_path, s->path);
    g_hash_table_remove(self->by_id, s->info.id); /* frees s */
    if (g_hash_table_size(self->by_id) < VD_SESSIONS_MAX)
        self->warned_cap = false; /* warn again the next time the cap is hit */
    if (was_loaded)
        notify_changed(self);
    if (was_initial) {
        self->initial_pending--;
        update_ready(self);
    }
}

static void session_load(VdSessions *self, Session *s, bool initial);

/* A session announced by ListSessions or SessionNew. */
static void session_seen(VdSessions *self, const char *id, const char *path, bool initial)
{
    if (!vd_session_id_valid(id) || strlen(path) > VD_SESSIONS_MAX_PATH) {
        g_warning("logind: ignoring session with invalid id \"%.64s\" or path \"%.64s\"", id, path);
        return;
    }
    Session *s = g_hash_table_lookup(self->by_id, id);
    if (s && g_strcmp0(s->path, path) != 0) {
        /* The same id at another path: logind restarted and reused it. Start over. */
        session_remove(self, s, "changed its object path");
        s = NULL;
    }
    if (!s) {
        if (g_hash_table_size(self->by_id) >= VD_SESSIONS_MAX) {
            if (!self->warned_cap)
                g_warning("logind: more than %u sessions; ignoring session \"%s\" and any further ones",
                          VD_SESSIONS_MAX, id);
            self->warned_cap = true;
            return;
        }
        s = g_new0(Session, 1);
        s->info.id = g_strdup(id);
        s->path = g_strdup(path);
        s->gen = ++self->next_gen;
        g_hash_table_insert(self->by_id, s->info.id, s);
        g_hash_table_insert(self->by_path, s->path, s);
    }
    s->seen_epoch = self->epoch;
    session_load(self, s, initial);
}

/* --- properties --- */

static bool take_name(GVariant *value, char **field, const char *prop, const char *id)
{
    const char *str = g_variant_get_string(value, NULL);
    if (strlen(str) > VD_SESSIONS_MAX_NAME) {
        g_warning("logind: session \"%s\": %s longer than %u bytes", id, prop, VD_SESSIONS_MAX_NAME);
        return false;
    }
    g_free(*field);
    *field = g_strdup(str);
    return true;
}

/* Applies one property; false if it is of the wrong type or over a limit (the value is then
 * ignored). from_signal: a PropertiesChanged, as opposed to a full GetAll. */
static bool session_apply(Session *s, const char *prop, GVariant *value, bool from_signal)
{
    const char *id = s->info.id;
#define IS(t) g_variant_is_of_type(value, G_VARIANT_TYPE(t))
    if (strcmp(prop, "Id") == 0) {
        if (!IS("s") || strcmp(g_variant_get_string(value, NULL), id) != 0) {
            g_warning("logind: session \"%s\": its Id property does not match", id);
            return false;
        }
        return true;
    }
    if (strcmp(prop, "User") == 0) {
        if (!IS("(uo)"))
            goto bad_type;
        guint32 uid;
        g_variant_get(value, "(u&o)", &uid, NULL);
        s->info.uid = (uid_t)uid;
        return true;
    }
    if (strcmp(prop, "Seat") == 0) {
        if (!IS("(so)"))
            goto bad_type;
        g_autoptr(GVariant) seat = g_variant_get_child_value(value, 0);
        return take_name(seat, &s->info.seat, prop, id);
    }
    char **str = strcmp(prop, "Name") == 0    ? &s->info.user
                 : strcmp(prop, "Class") == 0 ? &s->info.klass
                 : strcmp(prop, "Type") == 0  ? &s->info.type
                 : strcmp(prop, "State") == 0 ? &s->info.state
                                              : NULL;
    if (str) {
        if (!IS("s"))
            goto bad_type;
        return take_name(value, str, prop, id);
    }
    bool *flag = strcmp(prop, "Active") == 0       ? &s->info.active
                 : strcmp(prop, "Remote") == 0     ? &s->info.remote
                 : strcmp(prop, "LockedHint") == 0 ? &s->locked_hint
                                                   : NULL;
    if (flag) {
        if (!IS("b"))
            goto bad_type;
        *flag = g_variant_get_boolean(value);
        /* The session reports it was unlocked (a true -> false change): that ends an earlier Lock
         * request too, or a locker that never sent Unlock would keep the session locked forever. */
        if (flag == &s->locked_hint && from_signal && !*flag)
            s->lock_requested = false;
        s->info.locked = s->locked_hint || s->lock_requested;
        return true;
    }
#undef IS
    return true; /* a property we do not follow */
bad_type:
    g_warning("logind: session \"%s\": property %s has unexpected type %s; ignored", id, prop,
              g_variant_get_type_string(value));
    return false;
}

static bool is_followed_property(const char *prop)
{
    static const char *const followed[] = {"Id", "User", "Name", "Seat", "Class", "Type", "State",
                                           "Active", "LockedHint", "Remote"};
    for (size_t i = 0; i < G_N_ELEMENTS(followed); i++)
        if (strcmp(prop, followed[i]) == 0)
            return true;
    return false;
}

typedef struct {
    VdSessions *self; /* valid while the call's cancellable is not cancelled */
    char *id;
    guint64 gen;
    guint64 epoch;
} LoadCall;

static void load_call_free(LoadCall *call)
{
    g_free(call->id);
    g_free(call);
}

static void loads_pump(VdSessions *self);

/* A GetAll reply for s: all properties, newer than any signal received before it. */
static void session_loaded(VdSessions *self, Session *s, GVariant *reply, GError *error)
{
    if (!reply) {
        /* logind busy: ask again, a few times. Any other error (the session has gone): drop it. */
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) && s->load_retries < VD_SESSIONS_RETRIES) {
            s->load_retries++;
            g_message("logind: reading session \"%s\" timed out; trying again", s->info.id);
            session_load(self, s, false);
            return;
        }
        g_dbus_error_strip_remote_error(error);
        g_message("logind: cannot read session \"%s\": %s; not tracked", s->info.id, error->message);
        session_remove(self, s, "could not be read");
        return;
    }
    s->load_retries = 0;
    VdSessionInfo before = {0};
    vd_session_info_copy(&s->info, &before);
    bool was_loaded = s->loaded;
    bool have_user = false, have_seat = false, have_active = false, valid = true;
    g_autoptr(GVariant) props = g_variant_get_child_value(reply, 0);
    GVariantIter iter;
    const char *prop;
    GVariant *value;
    g_variant_iter_init(&iter, props);
    while (g_variant_iter_loop(&iter, "{&sv}", &prop, &value)) {
        if (!session_apply(s, prop, value, false)) {
            valid = false;
            continue;
        }
        have_user |= strcmp(prop, "User") == 0;
        have_seat |= strcmp(prop, "Seat") == 0;
        have_active |= strcmp(prop, "Active") == 0;
    }
    if (!valid || !have_user || !have_seat || !have_active) {
        g_warning("logind: session \"%s\" has invalid or missing properties; not tracked", s->info.id);
        vd_session_info_clear(&before);
        session_remove(self, s, "is invalid");
        return;
    }
    s->loaded = true;
    if (!was_loaded || !info_equal(&before, &s->info)) {
        g_debug("logind: session \"%s\" uid %u seat \"%s\" class \"%s\" %s%s", s->info.id,
                (unsigned)s->info.uid, s->info.seat ? s->info.seat : "", s->info.klass ? s->info.klass : "",
                s->info.active ? "active" : "inactive", s->info.locked ? " locked" : "");
        notify_changed(self);
    }
    vd_session_info_clear(&before);
    if (s->initial_pending) {
        s->initial_pending = false;
        self->initial_pending--;
        update_ready(self);
    }
    vd_session_lookups_loaded(self->lookups, s->info.id);
}

static void on_get_all(GObject *source, GAsyncResult *result, gpointer data)
{
    LoadCall *call = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    VdSessions *self = call->self;
    /* Cancelled: the tracker is gone. Another epoch: from a logind instance that has gone since. */
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && call->epoch == self->epoch) {
        self->loads_in_flight--;
        Session *s = g_hash_table_lookup(self->by_id, call->id);
        if (s && s->gen == call->gen)
            session_loaded(self, s, reply, error);
        loads_pump(self);
    }
    load_call_free(call);
}

/* Reads sessions' properties a few at a time: the bus caps the replies a connection may await
 * (dbus-daemon's max_replies_per_connection), and a thousand sessions must not hit that cap. */
static void loads_pump(VdSessions *self)
{
    Session *s;
    while (self->owner && self->loads_in_flight < VD_SESSIONS_MAX_LOADS &&
           (s = g_queue_pop_head(&self->load_queue))) {
        s->queued = false;
        LoadCall *call = g_new0(LoadCall, 1);
        call->self = self;
        call->id = g_strdup(s->info.id);
        call->gen = s->gen;
        call->epoch = self->epoch;
        self->loads_in_flight++;
        g_dbus_connection_call(self->bus, self->owner, s->path, VD_DBUS_PROPERTIES, "GetAll",
                               g_variant_new("(s)", VD_LOGIND_SESSION), G_VARIANT_TYPE("(a{sv})"),
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_SESSIONS_CALL_TIMEOUT_MS,
                               self->cancellable, on_get_all, call);
    }
}

/* initial: part of the initial list, which must be read before the tracker is ready. */
static void session_load(VdSessions *self, Session *s, bool initial)
{
    if (initial && !s->initial_pending) {
        s->initial_pending = true;
        self->initial_pending++;
    }
    if (!s->queued) {
        s->queued = true;
        g_queue_push_tail(&self->load_queue, s);
    }
    loads_pump(self);
}

/* A new logind instance, or none: forget what was in flight for the old one. */
static void loads_reset(VdSessions *self)
{
    GHashTableIter hi;
    Session *s;
    g_hash_table_iter_init(&hi, self->by_id);
    while (g_hash_table_iter_next(&hi, NULL, (gpointer *)&s))
        s->queued = s->initial_pending = false;
    g_queue_clear(&self->load_queue);
    self->loads_in_flight = 0;
    self->initial_pending = 0;
}

static void update_ready(VdSessions *self)
{
    bool ready = self->owner && self->list_loaded && self->initial_pending == 0;
    if (ready == self->ready)
        return;
    self->ready = ready;
    if (ready)
        g_message("logind: tracking %u session(s)", g_hash_table_size(self->by_id));
    notify_changed(self);
}

/* --- signals --- */

/* Only logind's current owner speaks for logind: see the top of this file. */
static bool from_logind(VdSessions *self, const char *sender, const char *what)
{
    if (self->owner && g_strcmp0(sender, self->owner) == 0)
        return true;
    /* A flood of forged signals must not become a flood of log lines. */
    if (self->forged_signals++ >= VD_SESSIONS_FORGED_LOGGED) {
        g_debug("logind: ignoring %s from \"%s\", which is not logind", what, sender ? sender : "");
        return false;
    }
    g_warning("logind: ignoring %s from \"%s\", which is not logind (%s)", what, sender ? sender : "",
              self->owner ? self->owner : "absent");
    return false;
}

static void on_manager_signal(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                              const char *member, GVariant *params, gpointer data)
{
    VdSessions *self = data;
    if (!from_logind(self, sender, member))
        return;
    if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(so)")))
        return;
    const char *id, *session_path;
    g_variant_get(params, "(&s&o)", &id, &session_path);
    if (strcmp(member, "SessionNew") == 0) {
        session_seen(self, id, session_path, false);
    } else if (strcmp(member, "SessionRemoved") == 0) {
        Session *s = g_hash_table_lookup(self->by_id, id);
        if (s)
            session_remove(self, s, "removed");
    }
}

static void on_properties_changed(GDBusConnection *bus, const char *sender, const char *path,
                                  const char *iface, const char *member, GVariant *params, gpointer data)
{
    VdSessions *self = data;
    if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sa{sv}as)")))
        return;
    Session *s = g_hash_table_lookup(self->by_path, path);
    if (!s || !from_logind(self, sender, "PropertiesChanged"))
        return;
    g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
    g_autoptr(GVariant) invalidated = g_variant_get_child_value(params, 2);
    VdSessionInfo before = {0};
    vd_session_info_copy(&s->info, &before);
    GVariantIter iter;
    const char *prop;
    GVariant *value;
    g_variant_iter_init(&iter, changed);
    while (g_variant_iter_loop(&iter, "{&sv}", &prop, &value))
        session_apply(s, prop, value, true);
    if (s->loaded && !info_equal(&before, &s->info)) {
        g_debug("logind: session \"%s\" now %s%s", s->info.id, s->info.active ? "active" : "inactive",
                s->info.locked ? ", locked" : "");
        notify_changed(self);
    }
    vd_session_info_clear(&before);
    /* Properties sent without their value: read them all again. */
    g_variant_iter_init(&iter, invalidated);
    while (g_variant_iter_next(&iter, "&s", &prop)) {
        if (is_followed_property(prop)) {
            session_load(self, s, false);
            break;
        }
    }
}

static void on_session_signal(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                              const char *member, GVariant *params, gpointer data)
{
    VdSessions *self = data;
    bool lock = strcmp(member, "Lock") == 0;
    if (!lock && strcmp(member, "Unlock") != 0)
        return;
    Session *s = g_hash_table_lookup(self->by_path, path);
    if (!s || !from_logind(self, sender, member))
        return;
    s->lock_requested = lock;
    bool locked = s->locked_hint || s->lock_requested;
    if (locked != s->info.locked) {
        s->info.locked = locked;
        g_debug("logind: session \"%s\" %s", s->info.id, lock ? "locked" : "unlocked");
        if (s->loaded)
            notify_changed(self);
    }
}

/* --- logind coming and going --- */

static gboolean list_retry(gpointer data);

static void on_list_sessions(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    LoadCall *call = data;
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        load_call_free(call);
        return;
    }
    VdSessions *self = call->self;
    guint64 epoch = call->epoch;
    load_call_free(call);
    if (epoch != self->epoch)
        return;
    if (!reply) {
        /* Not ready (agents are refused) until a later attempt succeeds. */
        g_dbus_error_strip_remote_error(error);
        g_warning("logind: ListSessions failed: %s; trying again in %u s", error->message,
                  VD_SESSIONS_LIST_RETRY_S);
        self->list_retry_id = g_timeout_add_seconds(VD_SESSIONS_LIST_RETRY_S, list_retry, self);
        return;
    }
    g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
    GVariantIter iter;
    const char *id, *path;
    g_variant_iter_init(&iter, list);
    while (g_variant_iter_next(&iter, "(&su&s&s&o)", &id, NULL, NULL, NULL, &path))
        session_seen(self, id, path, true);

    /* Sessions that were there before logind went away and are not any more. */
    GHashTableIter hi;
    Session *s;
    g_autoptr(GPtrArray) gone = g_ptr_array_new();
    g_hash_table_iter_init(&hi, self->by_id);
    while (g_hash_table_iter_next(&hi, NULL, (gpointer *)&s))
        if (s->seen_epoch != self->epoch)
            g_ptr_array_add(gone, s);
    for (guint i = 0; i < gone->len; i++)
        session_remove(self, gone->pdata[i], "is gone after logind came back");

    self->list_loaded = true;
    update_ready(self);
}

static void list_sessions(VdSessions *self)
{
    LoadCall *call = g_new0(LoadCall, 1);
    call->self = self;
    call->epoch = self->epoch;
    g_dbus_connection_call(self->bus, self->owner, VD_LOGIND_PATH, VD_LOGIND_MANAGER, "ListSessions", NULL,
                           G_VARIANT_TYPE("(a(susso))"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                           VD_SESSIONS_CALL_TIMEOUT_MS, self->cancellable, on_list_sessions, call);
}

static gboolean list_retry(gpointer data)
{
    VdSessions *self = data;
    self->list_retry_id = 0;
    if (self->owner)
        list_sessions(self);
    return G_SOURCE_REMOVE;
}

static void on_logind_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
    VdSessions *self = data;
    g_message("logind: present as %s", owner);
    self->epoch++;
    g_free(self->owner);
    self->owner = g_strdup(owner);
    self->list_loaded = false;
    g_clear_handle_id(&self->list_retry_id, g_source_remove);
    loads_reset(self);
    update_ready(self);
    list_sessions(self);
}

static void on_logind_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
    VdSessions *self = data;
    if (self->owner)
        g_warning("logind: gone; no session is active until it is back");
    else
        g_message("logind: not running; no session is active until it starts");
    self->epoch++;
    g_clear_pointer(&self->owner, g_free);
    self->list_loaded = false;
    g_clear_handle_id(&self->list_retry_id, g_source_remove);
    loads_reset(self);
    /* Keep the sessions (a restart of logind must not disconnect every agent) but let none be
     * active: nobody can tell us about a switch or a lock meanwhile. */
    GHashTableIter hi;
    Session *s;
    g_hash_table_iter_init(&hi, self->by_id);
    while (g_hash_table_iter_next(&hi, NULL, (gpointer *)&s)) {
        if (s->info.active && s->loaded)
            notify_changed(self);
        s->info.active = false;
    }
    update_ready(self);
}

/* --- life cycle and queries --- */

static VdSessions *sessions_alloc(void)
{
    VdSessions *self = g_new0(VdSessions, 1);
    self->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)session_free);
    self->by_path = g_hash_table_new(g_str_hash, g_str_equal);
    self->lookups = vd_session_lookups_new(self);
    self->cancellable = g_cancellable_new();
    return self;
}

VdSessions *vd_sessions_new_none(void)
{
    VdSessions *self = sessions_alloc();
    self->ready = true;
    return self;
}

VdSessions *vd_sessions_new_logind(GDBusConnection *bus, VdSessionsChangedFunc changed, void *user_data)
{
    g_return_val_if_fail(G_IS_DBUS_CONNECTION(bus), NULL);
    VdSessions *self = sessions_alloc();
    self->tracking = true;
    self->bus = g_object_ref(bus);
    self->changed = changed;
    self->user_data = user_data;
    /* Subscribe first, then list: no change can fall between the two. The sender is the well-known
     * name (the bus filters broadcasts by its owner); from_logind() checks the unique name. */
    self->subscriptions[0] = g_dbus_connection_signal_subscribe(bus, VD_LOGIND_BUS_NAME, VD_LOGIND_MANAGER, NULL,
                                                                VD_LOGIND_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                                on_manager_signal, self, NULL);
    self->subscriptions[1] = g_dbus_connection_signal_subscribe(bus, VD_LOGIND_BUS_NAME, VD_DBUS_PROPERTIES,
                                                                "PropertiesChanged", NULL, VD_LOGIND_SESSION,
                                                                G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed,
                                                                self, NULL);
    self->subscriptions[2] = g_dbus_connection_signal_subscribe(bus, VD_LOGIND_BUS_NAME, VD_LOGIND_SESSION, "Lock", NULL,
                                                                NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                                on_session_signal, self, NULL);
    self->subscriptions[3] = g_dbus_connection_signal_subscribe(bus, VD_LOGIND_BUS_NAME, VD_LOGIND_SESSION, "Unlock",
                                                                NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                                on_session_signal, self, NULL);
    self->watch_id = g_bus_watch_name_on_connection(bus, VD_LOGIND_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    on_logind_appeared, on_logind_vanished, self, NULL);
    return self;
}

void vd_sessions_free(VdSessions *self)
{
    if (!self)
        return;
    g_cancellable_cancel(self->cancellable);
    if (self->watch_id)
        g_bus_unwatch_name(self->watch_id);
    for (size_t i = 0; i < G_N_ELEMENTS(self->subscriptions); i++)
        if (self->subscriptions[i])
            g_dbus_connection_signal_unsubscribe(self->bus, self->subscriptions[i]);
    g_clear_handle_id(&self->notify_id, g_source_remove);
    g_clear_handle_id(&self->list_retry_id, g_source_remove);
    /* Lookups in flight go on without us and still call back (a waiting one on its timeout). */
    vd_session_lookups_free(self->lookups);
    g_queue_clear(&self->load_queue);
    g_hash_table_unref(self->by_path);
    g_hash_table_unref(self->by_id);
    g_clear_object(&self->cancellable);
    g_clear_object(&self->bus);
    g_free(self->owner);
    g_free(self);
}

GDBusConnection *vd_sessions_bus(const VdSessions *sessions)
{
    return sessions ? sessions->bus : NULL;
}

const char *vd_sessions_owner(const VdSessions *sessions)
{
    return sessions ? sessions->owner : NULL;
}

VdSessionLookups *vd_sessions_lookups(const VdSessions *sessions)
{
    return sessions ? sessions->lookups : NULL;
}

const char *vd_sessions_id_at_path(const VdSessions *sessions, const char *path)
{
    const Session *s = sessions && path ? g_hash_table_lookup(sessions->by_path, path) : NULL;
    return s ? s->info.id : NULL;
}

bool vd_sessions_ready(const VdSessions *sessions)
{
    return sessions && sessions->ready;
}

bool vd_sessions_tracking(const VdSessions *sessions)
{
    return sessions && sessions->tracking;
}

int vd_sessions_get(const VdSessions *sessions, const char *id, VdSessionInfo *ret)
{
    if (!sessions || !id)
        return -ENOENT;
    const Session *s = g_hash_table_lookup(sessions->by_id, id);
    if (!s || !s->loaded)
        return -ENOENT;
    if (ret)
        vd_session_info_copy(&s->info, ret);
    return 0;
}

const char *vd_sessions_active_on_seat(const VdSessions *sessions, const char *seat)
{
    /* Seatless sessions (ssh, remote) are "active" for logind but never the active one of a seat. */
    if (!sessions || !seat || !*seat)
        return NULL;
    const char *active = NULL;
    GHashTableIter hi;
    const Session *s;
    g_hash_table_iter_init(&hi, sessions->by_id);
    while (g_hash_table_iter_next(&hi, NULL, (gpointer *)&s)) {
        if (!s->loaded || !s->info.active || g_strcmp0(s->info.seat, seat) != 0)
            continue;
        if (active)
            return NULL; /* two claim the seat (mid-switch): neither is trusted */
        active = s->info.id;
    }
    return active;
}

static int info_compare(gconstpointer a, gconstpointer b)
{
    const VdSessionInfo *ia = *(VdSessionInfo *const *)a;
    const VdSessionInfo *ib = *(VdSessionInfo *const *)b;
    return session_id_compare(ia->id, ib->id);
}

GPtrArray *vd_sessions_list(const VdSessions *sessions)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)session_info_free);
    if (!sessions)
        return list;
    GHashTableIter hi;
    const Session *s;
    g_hash_table_iter_init(&hi, sessions->by_id);
    while (g_hash_table_iter_next(&hi, NULL, (gpointer *)&s)) {
        if (!s->loaded)
            continue;
        VdSessionInfo *info = g_new0(VdSessionInfo, 1);
        vd_session_info_copy(&s->info, info);
        g_ptr_array_add(list, info);
    }
    g_ptr_array_sort(list, info_compare);
    return list;
}

static void add_string(JsonBuilder *builder, const char *name, const char *value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_string_value(builder, value ? value : "");
}

static void add_bool(JsonBuilder *builder, const char *name, bool value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_boolean_value(builder, value);
}

void vd_sessions_status(const VdSessions *sessions, JsonBuilder *builder)
{
    g_return_if_fail(builder);
    add_string(builder, "session_tracking", vd_sessions_tracking(sessions) ? "logind" : "none");
    json_builder_set_member_name(builder, "sessions");
    json_builder_begin_array(builder);
    g_autoptr(GPtrArray) list = vd_sessions_list(sessions);
    for (guint i = 0; i < list->len; i++) {
        const VdSessionInfo *info = list->pdata[i];
        json_builder_begin_object(builder);
        add_string(builder, "id", info->id);
        json_builder_set_member_name(builder, "uid");
        json_builder_add_int_value(builder, info->uid);
        add_string(builder, "user", info->user);
        add_string(builder, "seat", info->seat);
        add_string(builder, "class", info->klass);
        add_string(builder, "type", info->type);
        add_string(builder, "state", info->state);
        add_bool(builder, "active", info->active);
        add_bool(builder, "locked", info->locked);
        add_bool(builder, "remote", info->remote);
        json_builder_end_object(builder);
    }
    json_builder_end_array(builder);
}
