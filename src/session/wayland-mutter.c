/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wayland-mutter.c — the host's MONITORS_CONFIG under GNOME: org.gnome.Mutter.DisplayConfig on the
 * session bus (Mutter offers no Wayland output-management protocol).
 *
 * All asynchronous: GetCurrentState (serial, monitors with their modes, logical monitors, layout
 * mode), then ApplyMonitorsConfig with method 1 (temporary: nothing is written to the user's
 * monitors.xml, and Mutter shows no confirmation dialog). Display ids go to monitors by connector
 * name, in name order, through the device map (as heads under wlroots). Mutter has no custom
 * modes: each enabled display needs a mode of exactly its size among its monitor's; if none has it,
 * the config is refused whole. Monitors without an enabled entry are left out (disabled). Each
 * logical monitor keeps the scale it has (1 for one being enabled); positions are the host's,
 * divided by the scale when Mutter's layout mode is logical. Each call has VD_WL_APPLY_TIMEOUT_MS;
 * one config in flight, a newer one waits, a third supersedes the waiting one (answered error).
 */
#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "wayland-private.h"

#define MUTTER_NAME "org.gnome.Mutter.DisplayConfig"
#define MUTTER_PATH "/org/gnome/Mutter/DisplayConfig"
#define MUTTER_METHOD_TEMPORARY 1u
#define MUTTER_LAYOUT_LOGICAL 1u

typedef struct {
    uint32_t request_id;
    VdMonitorsConfig config;
} MutterPending;

struct VdWlMutter {
    VdBackendHost host;
    void *user_data;
    GCancellable *cancel;
    GDBusConnection *bus;
    guint watch;
    bool present; /* Mutter owns its name on the bus */
    bool busy;
    uint32_t request_id;
    VdMonitorsConfig config;
    MutterPending *waiting;
};

static void start_next(VdWlMutter *mu);

static void finish(VdWlMutter *mu, uint32_t result, const char *why)
{
    if (result == VD_REPLY_SUCCESS)
        g_message("monitors config %u applied through Mutter's DisplayConfig", mu->request_id);
    else
        g_message("monitors config %u not applied: %s", mu->request_id, why);
    mu->busy = false;
    mu->host.monitors_done(mu->request_id, result, mu->user_data);
    start_next(mu);
}

typedef struct {
    char *connector;
    GPtrArray *mode_ids; /* char *, with their sizes below */
    GArray *sizes;       /* int32 pairs */
    GArray *refresh;     /* double */
    double scale;        /* of its logical monitor, 1 if none */
} MutterMonitor;

static void monitor_free(MutterMonitor *m)
{
    if (!m)
        return;
    g_free(m->connector);
    g_ptr_array_free(m->mode_ids, TRUE);
    g_array_free(m->sizes, TRUE);
    g_array_free(m->refresh, TRUE);
    g_free(m);
}

static int cmp_monitors(gconstpointer a, gconstpointer b)
{
    const MutterMonitor *x = *(MutterMonitor *const *)a, *y = *(MutterMonitor *const *)b;
    return vd_wl_output_name_cmp(x->connector, y->connector);
}

static void on_applied(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    VdWlMutter *mu = data;
    if (!reply) {
        g_autofree char *why = g_strdup_printf("Mutter refused it: %s", error->message);
        finish(mu, VD_REPLY_ERROR, why);
        return;
    }
    finish(mu, VD_REPLY_SUCCESS, NULL);
}

/* Builds ApplyMonitorsConfig's arguments from GetCurrentState's reply. NULL and *why on failure. */
static GVariant *build_apply(VdWlMutter *mu, GVariant *state, const char **why)
{
    const VdMonitorsConfig *c = &mu->config;
    uint32_t serial;
    g_autoptr(GVariantIter) monitors = NULL, logical = NULL;
    g_autoptr(GVariant) props = NULL;
    g_variant_get(state, "(ua((ssss)a(siiddada{sv})a{sv})a(iiduba(ssss)a{sv})@a{sv})", &serial, &monitors, &logical,
                  &props);
    uint32_t layout_mode = MUTTER_LAYOUT_LOGICAL;
    g_variant_lookup(props, "layout-mode", "u", &layout_mode);

    g_autoptr(GPtrArray) mons = g_ptr_array_new_with_free_func((GDestroyNotify)monitor_free);
    GVariant *mv;
    while ((mv = g_variant_iter_next_value(monitors))) {
        g_autoptr(GVariant) m = mv;
        const char *connector;
        g_autoptr(GVariant) modes = NULL;
        g_variant_get(m, "((&s&s&s&s)@a(siiddada{sv})@a{sv})", &connector, NULL, NULL, NULL, &modes, NULL);
        MutterMonitor *mm = g_new0(MutterMonitor, 1);
        mm->connector = g_strdup(connector);
        mm->mode_ids = g_ptr_array_new_with_free_func(g_free);
        mm->sizes = g_array_new(FALSE, FALSE, sizeof(int32_t));
        mm->refresh = g_array_new(FALSE, FALSE, sizeof(double));
        mm->scale = 1;
        GVariantIter it;
        const char *id;
        int32_t w, h;
        double refresh;
        g_variant_iter_init(&it, modes);
        while (g_variant_iter_next(&it, "(&siid@d@ad@a{sv})", &id, &w, &h, &refresh, NULL, NULL, NULL)) {
            g_ptr_array_add(mm->mode_ids, g_strdup(id));
            g_array_append_val(mm->sizes, w);
            g_array_append_val(mm->sizes, h);
            g_array_append_val(mm->refresh, refresh);
        }
        if (mons->len < VD_IPC_MAX_DISPLAYS)
            g_ptr_array_add(mons, mm);
        else
            monitor_free(mm);
    }
    /* Each monitor keeps the scale of the logical monitor it is in. */
    GVariant *lv;
    while ((lv = g_variant_iter_next_value(logical))) {
        g_autoptr(GVariant) lm = lv;
        double lscale;
        g_autoptr(GVariant) specs = NULL;
        g_variant_get(lm, "(iidub@a(ssss)@a{sv})", NULL, NULL, &lscale, NULL, NULL, &specs, NULL);
        GVariantIter it;
        const char *conn;
        g_variant_iter_init(&it, specs);
        while (g_variant_iter_next(&it, "(&s&s&s&s)", &conn, NULL, NULL, NULL))
            for (unsigned i = 0; i < mons->len; i++)
                if (strcmp(((MutterMonitor *)g_ptr_array_index(mons, i))->connector, conn) == 0)
                    ((MutterMonitor *)g_ptr_array_index(mons, i))->scale = lscale;
    }
    g_ptr_array_sort(mons, cmp_monitors);
    const char *names[VD_IPC_MAX_DISPLAYS];
    for (unsigned i = 0; i < mons->len; i++)
        names[i] = ((MutterMonitor *)g_ptr_array_index(mons, i))->connector;

    int entry_of[VD_IPC_MAX_DISPLAYS];
    for (unsigned i = 0; i < mons->len; i++)
        entry_of[i] = -1;
    int64_t min_x = INT64_MAX, min_y = INT64_MAX;
    for (uint32_t id = 0; id < c->count && id < VD_LIMIT_MONITORS; id++) {
        if (!vd_monitor_enabled(&c->monitors[id]))
            continue;
        int idx = vd_device_map_lookup(mu->host.devmap, id, names, mons->len, NULL);
        if (idx < 0 || entry_of[idx] >= 0) {
            *why = "a display has no monitor of its own";
            return NULL;
        }
        entry_of[idx] = (int)id;
        min_x = MIN(min_x, c->monitors[id].x);
        min_y = MIN(min_y, c->monitors[id].y);
    }

    GVariantBuilder lb;
    g_variant_builder_init(&lb, G_VARIANT_TYPE("a(iiduba(ssa{sv}))"));
    bool primary = true;
    double next_x = 0;
    for (uint32_t id = 0; id < c->count && id < VD_LIMIT_MONITORS; id++) {
        for (unsigned i = 0; i < mons->len; i++) {
            if (entry_of[i] != (int)id)
                continue;
            MutterMonitor *mm = g_ptr_array_index(mons, i);
            const VdMonitor *m = &c->monitors[id];
            int best = -1;
            for (unsigned k = 0; k < mm->mode_ids->len; k++) {
                int32_t w = g_array_index(mm->sizes, int32_t, 2 * k), h = g_array_index(mm->sizes, int32_t, 2 * k + 1);
                if (w == (int32_t)m->width && h == (int32_t)m->height &&
                    (best < 0 || g_array_index(mm->refresh, double, k) > g_array_index(mm->refresh, double, best)))
                    best = (int)k;
            }
            if (best < 0) {
                g_message("monitors config: monitor \"%s\" has no %ux%u mode (Mutter has no custom modes)",
                          mm->connector, m->width, m->height);
                g_variant_builder_clear(&lb);
                *why = "a monitor has no mode of the size asked";
                return NULL;
            }
            double div = layout_mode == MUTTER_LAYOUT_LOGICAL ? mm->scale : 1;
            int32_t x, y;
            if (c->flags & VD_MONITORS_USE_POS) {
                x = (int32_t)lround((m->x - min_x) / div);
                y = (int32_t)lround((m->y - min_y) / div);
            } else {
                x = (int32_t)lround(next_x);
                y = 0;
                next_x += m->width / div;
            }
            GVariantBuilder mb;
            g_variant_builder_init(&mb, G_VARIANT_TYPE("a(ssa{sv})"));
            g_variant_builder_add(&mb, "(ss@a{sv})", mm->connector, (const char *)g_ptr_array_index(mm->mode_ids, best),
                                  g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
            g_variant_builder_add(&lb, "(iidub@a(ssa{sv}))", x, y, mm->scale, 0u, primary, g_variant_builder_end(&mb));
            g_debug("monitors config: Mutter monitor \"%s\" mode \"%s\" at %d,%d, scale %.2f%s", mm->connector,
                    (const char *)g_ptr_array_index(mm->mode_ids, best), x, y, mm->scale, primary ? ", primary" : "");
            primary = false;
        }
    }
    return g_variant_new("(uu@a(iiduba(ssa{sv}))@a{sv})", serial, MUTTER_METHOD_TEMPORARY, g_variant_builder_end(&lb),
                         g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
}

static void on_state(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) state = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    VdWlMutter *mu = data;
    if (!state) {
        g_autofree char *why = g_strdup_printf("GetCurrentState failed: %s", error->message);
        finish(mu, VD_REPLY_ERROR, why);
        return;
    }
    const char *why = NULL;
    GVariant *args = build_apply(mu, state, &why);
    if (!args) {
        finish(mu, VD_REPLY_ERROR, why);
        return;
    }
    g_dbus_connection_call(mu->bus, MUTTER_NAME, MUTTER_PATH, MUTTER_NAME, "ApplyMonitorsConfig", args, NULL,
                           G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_WL_APPLY_TIMEOUT_MS, mu->cancel, on_applied, mu);
}

static void start(VdWlMutter *mu, uint32_t request_id, const VdMonitorsConfig *config)
{
    mu->busy = true;
    mu->request_id = request_id;
    mu->config = *config;
    const char *why = vd_wl_monitors_config_check(config);
    if (why) {
        finish(mu, VD_REPLY_ERROR, why);
        return;
    }
    g_dbus_connection_call(mu->bus, MUTTER_NAME, MUTTER_PATH, MUTTER_NAME, "GetCurrentState", NULL,
                           G_VARIANT_TYPE("(ua((ssss)a(siiddada{sv})a{sv})a(iiduba(ssss)a{sv})a{sv})"),
                           G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_WL_APPLY_TIMEOUT_MS, mu->cancel, on_state, mu);
}

static void start_next(VdWlMutter *mu)
{
    MutterPending *p = mu->waiting;
    if (!p)
        return;
    mu->waiting = NULL;
    start(mu, p->request_id, &p->config);
    g_free(p);
}

bool vd_wl_mutter_present(const VdWlMutter *mu)
{
    return mu && mu->present;
}

void vd_wl_mutter_apply(VdWlMutter *mu, uint32_t request_id, const VdMonitorsConfig *config)
{
    g_return_if_fail(mu && config);
    if (!mu->busy) {
        start(mu, request_id, config);
        return;
    }
    if (mu->waiting) {
        g_message("monitors config %u superseded by %u before it was applied", mu->waiting->request_id, request_id);
        mu->host.monitors_done(mu->waiting->request_id, VD_REPLY_ERROR, mu->user_data);
        g_free(mu->waiting);
    }
    mu->waiting = g_new0(MutterPending, 1);
    mu->waiting->request_id = request_id;
    mu->waiting->config = *config;
}

static void on_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
    VdWlMutter *mu = data;
    if (!mu->present)
        g_message("wayland: monitors configs through Mutter's DisplayConfig (%s)", owner);
    mu->present = true;
}

static void on_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
    VdWlMutter *mu = data;
    if (mu->present)
        g_message("wayland: Mutter's DisplayConfig left the bus");
    mu->present = false;
}

static void on_bus(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_bus_get_finish(res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    VdWlMutter *mu = data;
    if (!bus) {
        g_debug("wayland: no session bus (%s): no Mutter DisplayConfig", error->message);
        return;
    }
    mu->bus = bus;
    mu->watch = g_bus_watch_name_on_connection(bus, MUTTER_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, on_appeared,
                                               on_vanished, mu, NULL);
}

VdWlMutter *vd_wl_mutter_new(const VdBackendHost *host, void *user_data)
{
    g_return_val_if_fail(host, NULL);
    VdWlMutter *mu = g_new0(VdWlMutter, 1);
    mu->host = *host;
    mu->user_data = user_data;
    mu->cancel = g_cancellable_new();
    g_bus_get(G_BUS_TYPE_SESSION, mu->cancel, on_bus, mu);
    return mu;
}

void vd_wl_mutter_free(VdWlMutter *mu)
{
    if (!mu)
        return;
    g_cancellable_cancel(mu->cancel);
    g_object_unref(mu->cancel);
    if (mu->watch)
        g_bus_unwatch_name(mu->watch);
    g_clear_object(&mu->bus);
    g_free(mu->waiting);
    g_free(mu);
}
