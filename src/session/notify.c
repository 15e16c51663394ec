/* SPDX-License-Identifier: GPL-3.0-or-later */
/* notify.c — file transfer notifications (see notify.h). */
#include "notify.h"

#include <stdbool.h>

#include "open-folder.h"

#define NOTIFY_NAME "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"
#define ACTION_OPEN "open-folder"

typedef enum {
    SHOW_NONE = 0,
    SHOW_PROGRESS,
    SHOW_DONE,
    SHOW_FAILED,
} Show;

/* One transfer's notification. */
typedef struct {
    VdNotify *notify;
    uint32_t id;
    char *name;
    uint64_t size, received;
    gint64 start_us, shown_us;
    uint32_t nid;    /* the server's id, 0 before the first reply */
    bool in_flight;
    Show pending;    /* what to send when the call in flight returns */
    bool finished;
    bool orphan;     /* replaced by a new transfer with the same id while a call was in flight */
    bool standalone; /* a batch's notification: in no table, freed after its last reply */
    char **paths;    /* done: the file(s) (NULL-terminated) */
    unsigned n_files; /* done: how many files it tells of (paths keeps at most VD_NOTIFY_MAX_BATCH_ITEMS) */
    char *why;       /* failed: why */
} Note;

struct VdNotify {
    GDBusConnection *bus;
    guint action_sub, closed_sub;
    GHashTable *notes;   /* transfer id -> Note */
    GHashTable *actions; /* notification id -> paths (g_strfreev) */
    GQueue action_order; /* notification ids, oldest first */
    bool warned;
    GPtrArray *batch;    /* received files not told of yet (at most VD_NOTIFY_MAX_BATCH_ITEMS) */
    unsigned batch_count;
};

static void note_free(Note *n)
{
    if (!n)
        return;
    g_free(n->name);
    g_strfreev(n->paths);
    g_free(n->why);
    g_free(n);
}

static void remember_action(VdNotify *v, uint32_t nid, char **paths)
{
    if (g_hash_table_contains(v->actions, GUINT_TO_POINTER(nid)))
        g_queue_remove(&v->action_order, GUINT_TO_POINTER(nid));
    g_hash_table_insert(v->actions, GUINT_TO_POINTER(nid), g_strdupv(paths));
    g_queue_push_tail(&v->action_order, GUINT_TO_POINTER(nid));
    while (g_queue_get_length(&v->action_order) > VD_NOTIFY_MAX_ACTIONS)
        g_hash_table_remove(v->actions, g_queue_pop_head(&v->action_order));
}

static void send_note(Note *n, Show what);

static void on_notified(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Note *n = user_data;
    VdNotify *v = n->notify;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

    n->in_flight = false;
    if (n->orphan) {
        uint32_t nid = 0;
        if (ret)
            g_variant_get(ret, "(u)", &nid);
        if (nid && n->paths)
            remember_action(v, nid, n->paths);
        note_free(n);
        return;
    }
    if (ret) {
        g_variant_get(ret, "(u)", &n->nid);
    } else if (!v->warned) {
        v->warned = true;
        g_message("notify: no notifications (%s)", error->message);
    }
    if (n->pending != SHOW_NONE) {
        Show what = n->pending;
        n->pending = SHOW_NONE;
        send_note(n, what);
        return;
    }
    if (n->finished) {
        if (n->paths && n->nid)
            remember_action(v, n->nid, n->paths);
        if (n->standalone)
            note_free(n);
        else
            g_hash_table_remove(v->notes, GUINT_TO_POINTER(n->id)); /* frees n */
    }
}

static void send_note(Note *n, Show what)
{
    VdNotify *v = n->notify;
    g_autofree char *summary = NULL, *body = NULL;
    GVariantBuilder actions, hints;

    if (n->in_flight) {
        /* One call at a time per notification: the newest content goes out when it returns. */
        if (what > n->pending)
            n->pending = what;
        return;
    }
    g_variant_builder_init(&actions, G_VARIANT_TYPE("as"));
    g_variant_builder_init(&hints, G_VARIANT_TYPE("a{sv}"));
    switch (what) {
    case SHOW_PROGRESS: {
        gint64 elapsed = MAX(g_get_monotonic_time() - n->start_us, 1);
        int percent = n->size ? (int)(n->received * 100 / n->size) : 100;
        g_autofree char *got = g_format_size(n->received), *all = g_format_size(n->size);
        g_autofree char *rate = g_format_size((guint64)((double)n->received * G_USEC_PER_SEC / (double)elapsed));
        summary = g_strdup_printf("Receiving \"%s\"", n->name);
        body = g_strdup_printf("%d %% — %s of %s, %s/s", percent, got, all, rate);
        g_variant_builder_add(&hints, "{sv}", "category", g_variant_new_string("transfer"));
        g_variant_builder_add(&hints, "{sv}", "value", g_variant_new_int32(percent));
        g_variant_builder_add(&hints, "{sv}", "urgency", g_variant_new_byte(0));
        break;
    }
    case SHOW_DONE: {
        const char *last = n->paths[g_strv_length(n->paths) - 1];
        g_autofree char *dir = g_path_get_dirname(last), *base = g_path_get_basename(last);
        if (n->n_files > 1)
            summary = g_strdup_printf("Received %u files", n->n_files);
        else
            summary = g_strdup_printf("Received \"%s\"", base);
        body = g_strdup_printf("Saved in %s", dir);
        g_variant_builder_add(&actions, "s", ACTION_OPEN);
        g_variant_builder_add(&actions, "s", "Open folder");
        g_variant_builder_add(&actions, "s", "default");
        g_variant_builder_add(&actions, "s", "Open folder");
        g_variant_builder_add(&hints, "{sv}", "category", g_variant_new_string("transfer.complete"));
        break;
    }
    case SHOW_FAILED:
        summary = g_strdup_printf("\"%s\" was not received", n->name);
        body = g_strdup(n->why ? n->why : "the transfer failed");
        g_variant_builder_add(&hints, "{sv}", "category", g_variant_new_string("transfer.error"));
        break;
    case SHOW_NONE:
        return;
    }
    n->in_flight = true;
    n->shown_us = g_get_monotonic_time();
    g_dbus_connection_call(v->bus, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_IFACE, "Notify",
                           g_variant_new("(susssasa{sv}i)", "vdagent", n->nid, "folder-download", summary, body,
                                         &actions, &hints, -1),
                           G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, VD_NOTIFY_CALL_TIMEOUT_MS, NULL, on_notified,
                           n);
}

void vd_notify_started(VdNotify *v, uint32_t id, const char *name, uint64_t size)
{
    if (!v || !v->bus)
        return;
    Note *old = g_hash_table_lookup(v->notes, GUINT_TO_POINTER(id));
    if (old && old->in_flight) {
        g_hash_table_steal(v->notes, GUINT_TO_POINTER(id));
        old->orphan = true; /* on_notified frees it */
    }
    Note *n = g_new0(Note, 1);
    n->notify = v;
    n->id = id;
    n->name = g_strdup(name);
    n->size = size;
    n->start_us = g_get_monotonic_time();
    g_hash_table_replace(v->notes, GUINT_TO_POINTER(id), n);
}

void vd_notify_progress(VdNotify *v, uint32_t id, uint64_t received, uint64_t size)
{
    Note *n = v && v->bus ? g_hash_table_lookup(v->notes, GUINT_TO_POINTER(id)) : NULL;

    if (!n || n->finished)
        return;
    n->received = received;
    gint64 now = g_get_monotonic_time();
    if (now - n->start_us < (gint64)VD_NOTIFY_PROGRESS_AFTER_MS * 1000)
        return;
    if (n->shown_us && now - n->shown_us < (gint64)VD_NOTIFY_UPDATE_INTERVAL_MS * 1000)
        return;
    send_note(n, SHOW_PROGRESS);
}

/* Tells of the files received since the last batch ended, in one notification. */
static void flush_batch(VdNotify *v)
{
    if (v->batch_count == 0)
        return;
    Note *b = g_new0(Note, 1);
    b->notify = v;
    b->standalone = true;
    b->finished = true;
    b->n_files = v->batch_count;
    g_ptr_array_add(v->batch, NULL);
    b->paths = (char **)g_ptr_array_steal(v->batch, NULL);
    v->batch_count = 0;
    send_note(b, SHOW_DONE);
}

void vd_notify_finished(VdNotify *v, uint32_t id, const char *name, const char *path, const char *why,
                        unsigned others_running)
{
    Note *n = v && v->bus ? g_hash_table_lookup(v->notes, GUINT_TO_POINTER(id)) : NULL;

    if (!n)
        return;
    bool shown = n->nid || n->in_flight;
    n->finished = true;
    n->why = g_strdup(why);
    if (path && shown) {
        /* Its progress was shown: its completion replaces it. */
        n->paths = g_new0(char *, 2);
        n->paths[0] = g_strdup(path);
        n->n_files = 1;
        send_note(n, SHOW_DONE);
    } else if (path) {
        if (v->batch->len < VD_NOTIFY_MAX_BATCH_ITEMS)
            g_ptr_array_add(v->batch, g_strdup(path));
        v->batch_count++;
        g_hash_table_remove(v->notes, GUINT_TO_POINTER(id));
    } else if (shown) {
        send_note(n, SHOW_FAILED); /* its progress was shown: say how it ended */
    } else {
        g_hash_table_remove(v->notes, GUINT_TO_POINTER(id));
    }
    if (others_running == 0)
        flush_batch(v);
}

static void on_action(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer user_data)
{
    VdNotify *v = user_data;
    uint32_t nid;
    const char *key;

    if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(us)")))
        return;
    g_variant_get(params, "(u&s)", &nid, &key);
    char **files = g_hash_table_lookup(v->actions, GUINT_TO_POINTER(nid));
    if (!files)
        return; /* another program's notification */
    if (g_strcmp0(key, ACTION_OPEN) != 0 && g_strcmp0(key, "default") != 0) {
        g_autofree char *shown = g_strescape(key, NULL);
        g_message("notify: unknown action \"%s\" ignored", shown);
        return;
    }
    vd_open_folder_items(bus, (const char *const *)files);
}

static void on_closed(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer user_data)
{
    VdNotify *v = user_data;
    uint32_t nid, reason;

    if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(uu)")))
        return;
    g_variant_get(params, "(uu)", &nid, &reason);
    if (g_hash_table_remove(v->actions, GUINT_TO_POINTER(nid)))
        g_queue_remove(&v->action_order, GUINT_TO_POINTER(nid));
}

void vd_notify_set_bus(VdNotify *v, GDBusConnection *bus)
{
    g_return_if_fail(v); /* bus may be NULL: no notifications */
    if (v->bus) {
        g_dbus_connection_signal_unsubscribe(v->bus, v->action_sub);
        g_dbus_connection_signal_unsubscribe(v->bus, v->closed_sub);
        g_clear_object(&v->bus);
    }
    if (!bus)
        return;
    v->bus = g_object_ref(bus);
    v->action_sub = g_dbus_connection_signal_subscribe(bus, NOTIFY_NAME, NOTIFY_IFACE, "ActionInvoked", NOTIFY_PATH,
                                                       NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_action, v, NULL);
    v->closed_sub = g_dbus_connection_signal_subscribe(bus, NOTIFY_NAME, NOTIFY_IFACE, "NotificationClosed",
                                                       NOTIFY_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_closed, v, NULL);
}

VdNotify *vd_notify_new(void)
{
    VdNotify *v = g_new0(VdNotify, 1);

    v->notes = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)note_free);
    v->actions = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)g_strfreev);
    v->batch = g_ptr_array_new_with_free_func(g_free);
    g_queue_init(&v->action_order);
    return v;
}

void vd_notify_free(VdNotify *v)
{
    if (!v)
        return;
    vd_notify_set_bus(v, NULL);
    /* Calls in flight hold Note pointers: they must not outlive us. The agent frees this only when
     * exiting, after the loop has stopped, so their callbacks never run. */
    g_hash_table_unref(v->notes);
    g_hash_table_unref(v->actions);
    g_ptr_array_unref(v->batch);
    g_queue_clear(&v->action_order);
    g_free(v);
}
