/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wayland-outman.c — the host's MONITORS_CONFIG through wlroots' output management
 * (zwlr_output_manager_v1): custom modes, positions, enabling and disabling heads.
 *
 * Heads are the compositor's output devices, on or off. Display ids go to heads as to outputs
 * (device-map.c over the heads' names, in name order). A config becomes one whole configuration:
 * each head mapped to an enabled entry is enabled with a mode of exactly that size (one it has,
 * else a custom mode) at its position; every other head is disabled. Positions are logical: the
 * host's pixels divided by the head's scale, so that the layout report (logical times the scale,
 * wayland-layout.c) gives the host back its own numbers. One configuration is in flight at a
 * time; the compositor's answer (succeeded, failed, cancelled) or VD_WL_APPLY_TIMEOUT_MS answers
 * the host. A config arriving meanwhile waits; a third one replaces the waiting one, which is
 * answered with an error.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "wayland-private.h"
#include "wlr-output-management-unstable-v1-client-protocol.h"

typedef struct {
    VdWlOutman *om;
    struct zwlr_output_mode_v1 *proxy;
    int32_t width, height, refresh;
} WlMode;

typedef struct {
    VdWlOutman *om;
    struct zwlr_output_head_v1 *proxy;
    char name[VD_WL_MAX_NAME];
    bool enabled;
    int32_t x, y;
    double scale;
    GPtrArray *modes; /* WlMode */
} WlHead;

typedef struct {
    uint32_t request_id;
    VdMonitorsConfig config;
} WlPending;

struct VdWlOutman {
    struct zwlr_output_manager_v1 *manager;
    VdBackendHost host;
    void *user_data;
    GPtrArray *heads; /* WlHead */
    uint32_t serial;
    bool have_serial;
    /* the configuration in flight */
    struct zwlr_output_configuration_v1 *config;
    GPtrArray *config_heads; /* its zwlr_output_configuration_head_v1 proxies */
    uint32_t config_request;
    bool config_partial; /* some displays had no head: an error for the host even if applied */
    VdMonitorsConfig config_wanted;
    uint32_t config_serial; /* the serial it was made against */
    bool retried;           /* cancelled once (outputs changed meanwhile) and sent again */
    bool retry_on_done;     /* cancelled before the new state came: send again at the next done */
    guint config_timer;
    WlPending *waiting;
};

/* --- modes and heads --- */

static void mode_free(WlMode *m)
{
    if (!m)
        return;
    zwlr_output_mode_v1_destroy(m->proxy); /* version 2 has no release request */
    g_free(m);
}

static void on_mode_size(void *data, struct zwlr_output_mode_v1 *mode, int32_t w, int32_t h)
{
    WlMode *m = data;
    m->width = w;
    m->height = h;
}

static void on_mode_refresh(void *data, struct zwlr_output_mode_v1 *mode, int32_t refresh)
{
    WlMode *m = data;
    m->refresh = refresh;
}

static void on_mode_preferred(void *data, struct zwlr_output_mode_v1 *mode)
{
}

static void on_mode_finished(void *data, struct zwlr_output_mode_v1 *mode)
{
    WlMode *m = data;
    for (unsigned i = 0; i < m->om->heads->len; i++) {
        WlHead *h = g_ptr_array_index(m->om->heads, i);
        if (g_ptr_array_remove(h->modes, m))
            return;
    }
}

static const struct zwlr_output_mode_v1_listener mode_listener = {
    .size = on_mode_size,
    .refresh = on_mode_refresh,
    .preferred = on_mode_preferred,
    .finished = on_mode_finished,
};

static void head_free(WlHead *h)
{
    if (!h)
        return;
    g_ptr_array_free(h->modes, TRUE);
    zwlr_output_head_v1_destroy(h->proxy);
    g_free(h);
}

static void on_head_name(void *data, struct zwlr_output_head_v1 *head, const char *name)
{
    WlHead *h = data;
    g_strlcpy(h->name, name, sizeof(h->name));
}

static void on_head_description(void *data, struct zwlr_output_head_v1 *head, const char *description)
{
}

static void on_head_physical_size(void *data, struct zwlr_output_head_v1 *head, int32_t w, int32_t h)
{
}

static void on_head_mode(void *data, struct zwlr_output_head_v1 *head, struct zwlr_output_mode_v1 *mode)
{
    WlHead *h = data;
    WlMode *m = g_new0(WlMode, 1);
    m->proxy = mode;
    m->om = h->om;
    zwlr_output_mode_v1_add_listener(mode, &mode_listener, m);
    g_ptr_array_add(h->modes, m);
}

static void on_head_enabled(void *data, struct zwlr_output_head_v1 *head, int32_t enabled)
{
    WlHead *h = data;
    h->enabled = enabled != 0;
}

static void on_head_current_mode(void *data, struct zwlr_output_head_v1 *head, struct zwlr_output_mode_v1 *mode)
{
}

static void on_head_position(void *data, struct zwlr_output_head_v1 *head, int32_t x, int32_t y)
{
    WlHead *h = data;
    h->x = x;
    h->y = y;
}

static void on_head_transform(void *data, struct zwlr_output_head_v1 *head, int32_t transform)
{
}

static void on_head_scale(void *data, struct zwlr_output_head_v1 *head, wl_fixed_t scale)
{
    WlHead *h = data;
    h->scale = wl_fixed_to_double(scale);
}

static void on_head_finished(void *data, struct zwlr_output_head_v1 *head)
{
    WlHead *h = data;
    g_debug("wayland: head \"%s\" gone", h->name);
    g_ptr_array_remove(h->om->heads, h);
}

static void on_head_string(void *data, struct zwlr_output_head_v1 *head, const char *text)
{
}

static const struct zwlr_output_head_v1_listener head_listener = {
    .name = on_head_name,
    .description = on_head_description,
    .physical_size = on_head_physical_size,
    .mode = on_head_mode,
    .enabled = on_head_enabled,
    .current_mode = on_head_current_mode,
    .position = on_head_position,
    .transform = on_head_transform,
    .scale = on_head_scale,
    .finished = on_head_finished,
    .make = on_head_string,
    .model = on_head_string,
    .serial_number = on_head_string,
};

static void on_manager_head(void *data, struct zwlr_output_manager_v1 *manager, struct zwlr_output_head_v1 *head)
{
    VdWlOutman *om = data;
    WlHead *h = g_new0(WlHead, 1);
    h->om = om;
    h->proxy = head;
    h->scale = 1;
    h->modes = g_ptr_array_new_with_free_func((GDestroyNotify)mode_free);
    zwlr_output_head_v1_add_listener(head, &head_listener, h);
    g_ptr_array_add(om->heads, h);
}

static void resend(VdWlOutman *om);

static void on_manager_done(void *data, struct zwlr_output_manager_v1 *manager, uint32_t serial)
{
    VdWlOutman *om = data;
    om->serial = serial;
    om->have_serial = true;
    if (om->retry_on_done) {
        om->retry_on_done = false;
        resend(om);
    }
}

static void on_manager_finished(void *data, struct zwlr_output_manager_v1 *manager)
{
    VdWlOutman *om = data;
    g_message("wayland: the compositor stopped output management: monitors configs are refused from now on");
    om->have_serial = false;
}

static const struct zwlr_output_manager_v1_listener manager_listener = {
    .head = on_manager_head,
    .done = on_manager_done,
    .finished = on_manager_finished,
};

/* --- applying --- */

/* Ends the configuration in flight on our side. Its head objects have no destructor request: the
 * compositor forgets them with the configuration, the client frees their proxies itself. */
static void config_drop(VdWlOutman *om)
{
    if (om->config) {
        zwlr_output_configuration_v1_destroy(om->config);
        om->config = NULL;
    }
    if (om->config_heads)
        g_ptr_array_set_size(om->config_heads, 0);
}

static void config_enable_head(VdWlOutman *om, WlHead *h, struct zwlr_output_configuration_head_v1 **ret)
{
    struct zwlr_output_configuration_head_v1 *ch = zwlr_output_configuration_v1_enable_head(om->config, h->proxy);
    g_ptr_array_add(om->config_heads, ch);
    if (ret)
        *ret = ch;
}

static int cmp_heads(gconstpointer a, gconstpointer b)
{
    const WlHead *x = *(WlHead *const *)a, *y = *(WlHead *const *)b;
    return vd_wl_output_name_cmp(x->name, y->name);
}

static void start_next(VdWlOutman *om);

static void config_done(VdWlOutman *om, uint32_t result, const char *what)
{
    g_clear_handle_id(&om->config_timer, g_source_remove);
    config_drop(om);
    om->retry_on_done = false;
    if (result == VD_REPLY_SUCCESS && om->config_partial) {
        g_message("monitors config %u applied, but not every display has a head: error", om->config_request);
        result = VD_REPLY_ERROR;
    } else if (result == VD_REPLY_SUCCESS)
        g_message("monitors config %u applied", om->config_request);
    else
        g_message("monitors config %u not applied: %s", om->config_request, what);
    om->host.monitors_done(om->config_request, result, om->user_data);
    start_next(om);
}

static void on_config_succeeded(void *data, struct zwlr_output_configuration_v1 *config)
{
    config_done(data, VD_REPLY_SUCCESS, NULL);
}

static void on_config_failed(void *data, struct zwlr_output_configuration_v1 *config)
{
    config_done(data, VD_REPLY_ERROR, "the compositor refused it");
}

static void on_config_cancelled(void *data, struct zwlr_output_configuration_v1 *config)
{
    VdWlOutman *om = data;
    if (om->retried) {
        config_done(om, VD_REPLY_ERROR, "the outputs changed meanwhile, twice (cancelled)");
        return;
    }
    /* The outputs changed since the state the configuration was made for: once more, against the
     * new state (the protocol's own advice), within the same timeout. */
    om->retried = true;
    config_drop(om);
    g_debug("monitors config %u cancelled by the compositor (outputs changed): trying again", om->config_request);
    if (om->serial != om->config_serial)
        resend(om);
    else
        om->retry_on_done = true;
}

static const struct zwlr_output_configuration_v1_listener config_listener = {
    .succeeded = on_config_succeeded,
    .failed = on_config_failed,
    .cancelled = on_config_cancelled,
};

static gboolean on_config_timeout(gpointer data)
{
    VdWlOutman *om = data;
    om->config_timer = 0;
    config_done(om, VD_REPLY_ERROR, "no answer from the compositor within " G_STRINGIFY(VD_WL_APPLY_TIMEOUT_MS) " ms");
    return G_SOURCE_REMOVE;
}

/* Builds and applies the configuration for c. Returns NULL, or why nothing was sent. */
static const char *send_config(VdWlOutman *om, const VdMonitorsConfig *c, bool *ret_partial)
{
    const char *why = vd_wl_monitors_config_check(c);
    if (why)
        return why;
    if (!om->have_serial)
        return "output management is not ready";
    unsigned n = om->heads->len;
    g_autoptr(GPtrArray) sorted = g_ptr_array_copy(om->heads, NULL, NULL);
    g_ptr_array_set_free_func(sorted, NULL);
    g_ptr_array_sort(sorted, cmp_heads);
    const char *names[VD_IPC_MAX_DISPLAYS];
    n = MIN(n, (unsigned)VD_IPC_MAX_DISPLAYS);
    for (unsigned i = 0; i < n; i++)
        names[i] = ((WlHead *)g_ptr_array_index(sorted, i))->name;

    /* Which entry each head shows, and where. */
    int entry_of[VD_IPC_MAX_DISPLAYS];
    for (unsigned i = 0; i < n; i++)
        entry_of[i] = -1;
    bool partial = false;
    int64_t min_x = INT64_MAX, min_y = INT64_MAX;
    for (uint32_t id = 0; id < c->count && id < VD_LIMIT_MONITORS; id++) {
        if (!vd_monitor_enabled(&c->monitors[id]))
            continue;
        int idx = vd_device_map_lookup(om->host.devmap, id, names, n, NULL);
        if (idx < 0 || entry_of[idx] >= 0) {
            g_message("monitors config: display %u has no head of its own: not shown", id);
            partial = true;
            continue;
        }
        entry_of[idx] = (int)id;
        min_x = MIN(min_x, c->monitors[id].x);
        min_y = MIN(min_y, c->monitors[id].y);
    }
    bool any = false;
    for (unsigned i = 0; i < n; i++)
        any |= entry_of[i] >= 0;
    if (!any)
        return "no display of the config has a head";

    om->config_serial = om->serial;
    om->config = zwlr_output_manager_v1_create_configuration(om->manager, om->serial);
    zwlr_output_configuration_v1_add_listener(om->config, &config_listener, om);
    /* Without USE_POS, left to right in display-id order, top-aligned (as under X11). */
    double next_x = 0;
    for (uint32_t id = 0; id < c->count && id < VD_LIMIT_MONITORS; id++) {
        for (unsigned i = 0; i < n; i++) {
            if (entry_of[i] != (int)id)
                continue;
            WlHead *h = g_ptr_array_index(sorted, i);
            const VdMonitor *m = &c->monitors[id];
            double scale = h->scale > 0 ? h->scale : 1;
            int32_t x, y;
            if (c->flags & VD_MONITORS_USE_POS) {
                x = (int32_t)lround((m->x - min_x) / scale);
                y = (int32_t)lround((m->y - min_y) / scale);
            } else {
                x = (int32_t)lround(next_x);
                y = 0;
                next_x += m->width / scale;
            }
            struct zwlr_output_configuration_head_v1 *ch;
            config_enable_head(om, h, &ch);
            WlMode *best = NULL;
            for (unsigned k = 0; k < h->modes->len; k++) {
                WlMode *md = g_ptr_array_index(h->modes, k);
                if (md->width == (int32_t)m->width && md->height == (int32_t)m->height &&
                    (!best || md->refresh > best->refresh))
                    best = md;
            }
            if (best)
                zwlr_output_configuration_head_v1_set_mode(ch, best->proxy);
            else
                zwlr_output_configuration_head_v1_set_custom_mode(ch, (int32_t)m->width, (int32_t)m->height, 0);
            zwlr_output_configuration_head_v1_set_position(ch, x, y);
            g_debug("monitors config: head \"%s\" %ux%u (%s mode) at logical %d,%d", h->name, m->width, m->height,
                    best ? "its own" : "a custom", x, y);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (entry_of[i] < 0) {
            WlHead *h = g_ptr_array_index(sorted, i);
            zwlr_output_configuration_v1_disable_head(om->config, h->proxy);
            g_debug("monitors config: head \"%s\" disabled", h->name);
        }
    }
    /* Heads past what we track (more than VD_IPC_MAX_DISPLAYS) stay as they are: every head must
     * be named, so they are enabled again unchanged. */
    for (unsigned i = n; i < sorted->len; i++) {
        WlHead *h = g_ptr_array_index(sorted, i);
        if (h->enabled)
            config_enable_head(om, h, NULL);
        else
            zwlr_output_configuration_v1_disable_head(om->config, h->proxy);
    }
    zwlr_output_configuration_v1_apply(om->config);
    *ret_partial = partial;
    return NULL;
}

static void resend(VdWlOutman *om)
{
    bool partial = false;
    const char *why = send_config(om, &om->config_wanted, &partial);
    if (why)
        config_done(om, VD_REPLY_ERROR, why);
    else
        om->config_partial = partial;
}

static void start(VdWlOutman *om, uint32_t request_id, const VdMonitorsConfig *config)
{
    bool partial = false;
    om->config_request = request_id;
    om->config_wanted = *config;
    om->retried = false;
    om->retry_on_done = false;
    const char *why = send_config(om, config, &partial);
    if (why) {
        g_message("monitors config %u refused: %s", request_id, why);
        om->host.monitors_done(request_id, VD_REPLY_ERROR, om->user_data);
        return;
    }
    /* A display left without a head is an error for the host, but what fits is applied. */
    om->config_partial = partial;
    om->config_timer = g_timeout_add(VD_WL_APPLY_TIMEOUT_MS, on_config_timeout, om);
}

static void start_next(VdWlOutman *om)
{
    WlPending *p = om->waiting;
    if (!p)
        return;
    om->waiting = NULL;
    start(om, p->request_id, &p->config);
    g_free(p);
}

void vd_wl_outman_apply(VdWlOutman *om, uint32_t request_id, const VdMonitorsConfig *config)
{
    g_return_if_fail(om && config);
    if (!om->config && !om->config_timer) {
        start(om, request_id, config);
        return;
    }
    if (om->waiting) {
        g_message("monitors config %u superseded by %u before it was applied", om->waiting->request_id, request_id);
        om->host.monitors_done(om->waiting->request_id, VD_REPLY_ERROR, om->user_data);
        g_free(om->waiting);
    }
    om->waiting = g_new0(WlPending, 1);
    om->waiting->request_id = request_id;
    om->waiting->config = *config;
}

unsigned vd_wl_outman_names(VdWlOutman *om, const char **names, unsigned max)
{
    g_return_val_if_fail(om && (names || max == 0), 0);
    g_autoptr(GPtrArray) sorted = g_ptr_array_copy(om->heads, NULL, NULL);
    g_ptr_array_set_free_func(sorted, NULL);
    g_ptr_array_sort(sorted, cmp_heads);
    unsigned n = MIN(sorted->len, max);
    for (unsigned i = 0; i < n; i++)
        names[i] = ((WlHead *)g_ptr_array_index(sorted, i))->name;
    return n;
}

VdWlOutman *vd_wl_outman_new(struct wl_registry *registry, uint32_t name, uint32_t version,
                             const VdBackendHost *host, void *user_data)
{
    g_return_val_if_fail(registry && host, NULL);
    VdWlOutman *om = g_new0(VdWlOutman, 1);
    om->host = *host;
    om->user_data = user_data;
    om->heads = g_ptr_array_new_with_free_func((GDestroyNotify)head_free);
    om->config_heads = g_ptr_array_new_with_free_func((GDestroyNotify)wl_proxy_destroy);
    om->manager = wl_registry_bind(registry, name, &zwlr_output_manager_v1_interface, MIN(version, 2u));
    zwlr_output_manager_v1_add_listener(om->manager, &manager_listener, om);
    return om;
}

void vd_wl_outman_free(VdWlOutman *om)
{
    if (!om)
        return;
    g_clear_handle_id(&om->config_timer, g_source_remove);
    config_drop(om);
    g_ptr_array_free(om->config_heads, TRUE);
    g_free(om->waiting);
    g_ptr_array_free(om->heads, TRUE);
    zwlr_output_manager_v1_destroy(om->manager);
    g_free(om);
}
