/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wayland.c — the Wayland backend: the compositor connection in the main loop, its globals, the
 * outputs (wl_output + xdg-output) and the layout report, and the clipboard part
 * (wayland-clipboard.c) when the compositor offers a data-control protocol.
 *
 * The connection is a GSource following libwayland's rules for reading from a loop it does not
 * own: prepare() takes the read intent (or dispatches what is already queued) and flushes our
 * requests, check() reads or cancels, dispatch() dispatches. A compositor that stops reading us
 * only makes the source wait for POLLOUT: nothing blocks. Only the start does round trips (the
 * globals, then the outputs' first state), before the main loop runs.
 */
#include <errno.h>
#include <gio/gio.h>
#include <string.h>

#include "wayland-private.h"
#include "xdg-output-unstable-v1-client-protocol.h"

typedef struct WaylandBackend WaylandBackend;

typedef struct {
    WaylandBackend *wl;
    uint32_t global;          /* the registry name */
    struct wl_output *output;
    struct zxdg_output_v1 *xdg;
    VdWlOutputInfo info;
    int32_t mode_w, mode_h, transform;
    bool have_position, have_size, done;
} WlOutput;

struct WaylandBackend {
    VdBackend base;
    VdBackendHost host;
    void *user_data;
    struct wl_display *display;
    struct wl_registry *registry;
    struct wl_seat *seat;
    uint32_t seat_global;
    struct zxdg_output_manager_v1 *xdg_manager;
    VdDc dc;
    GPtrArray *outputs; /* WlOutput, in registry order */
    VdWlClipboard *clipboard;
    VdWlOutman *outman;
    VdWlMutter *mutter; /* without output management: GNOME's D-Bus API, if Mutter is there */
    bool dead;
    guint layout_idle; /* outputs changed: tell main.c once this batch of events is dispatched */
    GSource *source;
};

typedef struct {
    GSource source;
    WaylandBackend *wl;
    gpointer fd_tag;
    bool reading;  /* we hold libwayland's read intent */
    bool want_out; /* the socket was full: wait for POLLOUT */
} WlSource;

/* --- outputs --- */

static const char *socket_name(const char *display)
{
    if (display)
        return display;
    const char *env = g_getenv("WAYLAND_DISPLAY");
    return env && env[0] ? env : "wayland-0";
}

static gboolean on_layout_idle(gpointer data)
{
    WaylandBackend *wl = data;
    wl->layout_idle = 0;
    if (!wl->dead)
        wl->host.layout_changed(wl->user_data);
    return G_SOURCE_REMOVE;
}

/* A compositor changing several outputs sends each one's events and done in turn: reporting after
 * the whole batch spares the daemon layouts that are half old, half new. */
static void schedule_layout(WaylandBackend *wl)
{
    if (!wl->layout_idle && !wl->dead)
        wl->layout_idle = g_idle_add(on_layout_idle, wl);
}

static void output_changed(WlOutput *o)
{
    WaylandBackend *wl = o->wl;
    o->info.enabled = o->have_position && o->have_size && o->info.width > 0 && o->info.height > 0;
    bool swap = o->transform & 1; /* 90 and 270 degrees, flipped or not */
    o->info.mode_width = swap ? o->mode_h : o->mode_w;
    o->info.mode_height = swap ? o->mode_w : o->mode_h;
    g_debug("wayland: output \"%s\": logical %dx%d at %d,%d, mode %dx%d, scale %d", o->info.name, o->info.width,
            o->info.height, o->info.x, o->info.y, o->info.mode_width, o->info.mode_height, o->info.scale);
    schedule_layout(wl);
}

static void on_output_geometry(void *data, struct wl_output *output, int32_t x, int32_t y, int32_t pw, int32_t ph,
                               int32_t subpixel, const char *make, const char *model, int32_t transform)
{
    WlOutput *o = data;
    o->transform = transform;
}

static void on_output_mode(void *data, struct wl_output *output, uint32_t flags, int32_t w, int32_t h,
                           int32_t refresh)
{
    WlOutput *o = data;
    if (flags & WL_OUTPUT_MODE_CURRENT) {
        o->mode_w = w;
        o->mode_h = h;
    }
}

static void on_output_done(void *data, struct wl_output *output)
{
    WlOutput *o = data;
    o->done = true;
    output_changed(o);
}

static void on_output_scale(void *data, struct wl_output *output, int32_t factor)
{
    WlOutput *o = data;
    o->info.scale = factor;
}

static void on_output_name(void *data, struct wl_output *output, const char *name)
{
    WlOutput *o = data;
    g_strlcpy(o->info.name, name, sizeof(o->info.name));
}

static void on_output_description(void *data, struct wl_output *output, const char *description)
{
}

static const struct wl_output_listener output_listener = {
    .geometry = on_output_geometry,
    .mode = on_output_mode,
    .done = on_output_done,
    .scale = on_output_scale,
    .name = on_output_name,
    .description = on_output_description,
};

static void on_xdg_position(void *data, struct zxdg_output_v1 *xdg, int32_t x, int32_t y)
{
    WlOutput *o = data;
    o->info.x = x;
    o->info.y = y;
    o->have_position = true;
}

static void on_xdg_size(void *data, struct zxdg_output_v1 *xdg, int32_t w, int32_t h)
{
    WlOutput *o = data;
    o->info.width = w;
    o->info.height = h;
    o->have_size = true;
}

static void on_xdg_done(void *data, struct zxdg_output_v1 *xdg)
{
    /* Version 3 leaves atomicity to wl_output.done; older ones end each batch here. */
    WlOutput *o = data;
    if (zxdg_output_v1_get_version(xdg) < 3)
        output_changed(o);
}

static void on_xdg_name(void *data, struct zxdg_output_v1 *xdg, const char *name)
{
    WlOutput *o = data;
    g_strlcpy(o->info.name, name, sizeof(o->info.name));
}

static void on_xdg_description(void *data, struct zxdg_output_v1 *xdg, const char *description)
{
}

static const struct zxdg_output_v1_listener xdg_output_listener = {
    .logical_position = on_xdg_position,
    .logical_size = on_xdg_size,
    .done = on_xdg_done,
    .name = on_xdg_name,
    .description = on_xdg_description,
};

static void output_watch_xdg(WaylandBackend *wl, WlOutput *o)
{
    if (o->xdg || !wl->xdg_manager)
        return;
    o->xdg = zxdg_output_manager_v1_get_xdg_output(wl->xdg_manager, o->output);
    zxdg_output_v1_add_listener(o->xdg, &xdg_output_listener, o);
}

static void output_free(WlOutput *o)
{
    if (!o)
        return;
    if (o->xdg)
        zxdg_output_v1_destroy(o->xdg);
    if (wl_output_get_version(o->output) >= WL_OUTPUT_RELEASE_SINCE_VERSION)
        wl_output_release(o->output);
    else
        wl_output_destroy(o->output);
    g_free(o);
}

/* The outputs in name order: what display ids count in. */
static int cmp_outputs(gconstpointer a, gconstpointer b)
{
    const WlOutput *x = *(WlOutput *const *)a, *y = *(WlOutput *const *)b;
    return vd_wl_output_name_cmp(x->info.name, y->info.name);
}

/* --- the registry --- */

static void on_global(void *data, struct wl_registry *registry, uint32_t name, const char *interface,
                      uint32_t version)
{
    WaylandBackend *wl = data;

    if (strcmp(interface, wl_output_interface.name) == 0) {
        if (wl->outputs->len >= VD_WL_MAX_OUTPUTS) {
            g_message("wayland: more than %u outputs: output global %u ignored", VD_WL_MAX_OUTPUTS, name);
            return;
        }
        WlOutput *o = g_new0(WlOutput, 1);
        o->wl = wl;
        o->global = name;
        o->info.scale = 1;
        g_snprintf(o->info.name, sizeof(o->info.name), "wl_output-%u", name);
        o->output = wl_registry_bind(registry, name, &wl_output_interface, MIN(version, 4u));
        wl_output_add_listener(o->output, &output_listener, o);
        output_watch_xdg(wl, o);
        g_ptr_array_add(wl->outputs, o);
    } else if (strcmp(interface, zxdg_output_manager_v1_interface.name) == 0 && !wl->xdg_manager) {
        wl->xdg_manager = wl_registry_bind(registry, name, &zxdg_output_manager_v1_interface, MIN(version, 3u));
        for (unsigned i = 0; i < wl->outputs->len; i++)
            output_watch_xdg(wl, g_ptr_array_index(wl->outputs, i));
    } else if (strcmp(interface, wl_seat_interface.name) == 0 && !wl->seat) {
        wl->seat = wl_registry_bind(registry, name, &wl_seat_interface, 1);
        wl->seat_global = name;
    } else if (strcmp(interface, "zwlr_output_manager_v1") == 0 && !wl->outman) {
        wl->outman = vd_wl_outman_new(registry, name, version, &wl->host, wl->user_data);
    } else if (!wl->clipboard) {
        (void)vd_dc_bind(&wl->dc, registry, name, interface, version);
    }
}

static void on_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
    WaylandBackend *wl = data;

    for (unsigned i = 0; i < wl->outputs->len; i++) {
        WlOutput *o = g_ptr_array_index(wl->outputs, i);
        if (o->global == name) {
            g_debug("wayland: output \"%s\" removed", o->info.name);
            g_ptr_array_remove_index(wl->outputs, i); /* frees it */
            schedule_layout(wl);
            return;
        }
    }
    if (name == wl->seat_global)
        g_message("wayland: the seat went away: the clipboard stops working");
}

static const struct wl_registry_listener registry_listener = {
    .global = on_global,
    .global_remove = on_global_remove,
};

/* --- the display part --- */

static void disp_apply(void *disp, uint32_t request_id, const VdMonitorsConfig *config)
{
    WaylandBackend *wl = disp;
    if (wl->outman) {
        vd_wl_outman_apply(wl->outman, request_id, config);
    } else if (vd_wl_mutter_present(wl->mutter)) {
        vd_wl_mutter_apply(wl->mutter, request_id, config);
    } else {
        g_message("monitors config %u refused: this compositor offers no output management", request_id);
        wl->host.monitors_done(request_id, VD_REPLY_ERROR, wl->user_data);
    }
}

/* The outputs in name order, the names display ids count in (the heads' when output management
 * tells them, disabled ones included; else the outputs'), and the display id -> output map. */
static unsigned sorted_outputs(WaylandBackend *wl, VdWlOutputInfo *infos, const char **names, unsigned *ret_n_names,
                               int *map)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_copy(wl->outputs, NULL, NULL);

    g_ptr_array_set_free_func(sorted, NULL); /* the copy does not own the outputs */
    g_ptr_array_sort(sorted, cmp_outputs);
    for (unsigned i = 0; i < sorted->len; i++) {
        WlOutput *o = g_ptr_array_index(sorted, i);
        infos[i] = o->info;
        infos[i].enabled = infos[i].enabled && o->done;
    }
    unsigned n_names = wl->outman ? vd_wl_outman_names(wl->outman, names, VD_WL_MAX_OUTPUTS) : 0;
    if (n_names == 0) {
        for (unsigned i = 0; i < sorted->len; i++)
            names[i] = infos[i].name;
        n_names = sorted->len;
    }
    for (unsigned id = 0; id < VD_IPC_MAX_DISPLAYS; id++) {
        int idx = vd_device_map_lookup(wl->host.devmap, id, names, n_names, NULL);
        map[id] = -1;
        for (unsigned i = 0; idx >= 0 && i < sorted->len; i++)
            if (strcmp(infos[i].name, names[idx]) == 0)
                map[id] = (int)i;
    }
    *ret_n_names = n_names;
    return sorted->len;
}

static void disp_get_device_map(void *disp, VdDeviceMapReport *ret)
{
    WaylandBackend *wl = disp;
    VdWlOutputInfo infos[VD_WL_MAX_OUTPUTS];
    const char *names[VD_WL_MAX_OUTPUTS];
    int map[VD_IPC_MAX_DISPLAYS];
    unsigned n_names;
    (void)sorted_outputs(wl, infos, names, &n_names, map);

    vd_device_map_report(wl->host.devmap, names, n_names, ret);
}

static bool disp_get_layout(void *disp, VdLayout *ret)
{
    WaylandBackend *wl = disp;
    VdWlOutputInfo infos[VD_WL_MAX_OUTPUTS];
    const char *names[VD_WL_MAX_OUTPUTS];
    int map[VD_IPC_MAX_DISPLAYS];
    unsigned n_names;
    unsigned n = sorted_outputs(wl, infos, names, &n_names, map);
    unsigned k = vd_wl_layout_compute(infos, n, map, VD_IPC_MAX_DISPLAYS, ret);
    if (k == 0)
        return false;
    g_debug("wayland: layout of %u display(s), %ux%u host pixels, scale %.3f", ret->count, ret->screen_width,
            ret->screen_height, k / 120.0);
    return true;
}

static const VdDisplayOps wayland_display_ops = {
    .apply = disp_apply,
    .get_device_map = disp_get_device_map,
    .get_layout = disp_get_layout,
};

/* --- the connection in the main loop --- */

static void connection_lost(WaylandBackend *wl, const char *what)
{
    if (wl->dead)
        return;
    wl->dead = true;
    int err = wl_display_get_error(wl->display);
    if (err == EPROTO) {
        const struct wl_interface *iface = NULL;
        uint32_t id = 0;
        uint32_t code = wl_display_get_protocol_error(wl->display, &iface, &id);
        g_warning("the compositor closed the connection: protocol error %u on %s@%u", code,
                  iface ? iface->name : "?", id);
    } else {
        g_message("the Wayland compositor went away (%s: %s): exiting", what, g_strerror(err ? err : errno));
    }
    wl->host.gone(wl->user_data);
}

static void source_flush(WlSource *s)
{
    WaylandBackend *wl = s->wl;
    bool out = false;
    if (wl_display_flush(wl->display) < 0) {
        if (errno == EAGAIN)
            out = true;
        else if (errno != EPIPE)
            connection_lost(wl, "flush");
    }
    if (out != s->want_out) {
        s->want_out = out;
        g_source_modify_unix_fd(&s->source, s->fd_tag, G_IO_IN | G_IO_ERR | G_IO_HUP | (out ? G_IO_OUT : 0));
    }
}

static gboolean wl_source_prepare(GSource *source, gint *timeout)
{
    WlSource *s = (WlSource *)source;
    WaylandBackend *wl = s->wl;

    *timeout = -1;
    if (wl->dead)
        return FALSE;
    if (!s->reading) {
        if (wl_display_prepare_read(wl->display) != 0)
            return TRUE; /* events already queued: dispatch them first */
        s->reading = true;
    }
    source_flush(s);
    return FALSE;
}

static gboolean wl_source_check(GSource *source)
{
    WlSource *s = (WlSource *)source;
    WaylandBackend *wl = s->wl;
    GIOCondition revents = g_source_query_unix_fd(source, s->fd_tag);

    if (!s->reading)
        return FALSE;
    s->reading = false;
    if (revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)) {
        if (wl_display_read_events(wl->display) < 0) {
            connection_lost(wl, "read");
            return FALSE;
        }
        return TRUE;
    }
    wl_display_cancel_read(wl->display);
    if (revents & G_IO_OUT)
        source_flush(s);
    return FALSE;
}

static gboolean wl_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    WlSource *s = (WlSource *)source;
    WaylandBackend *wl = s->wl;

    if (!wl->dead && wl_display_dispatch_pending(wl->display) < 0)
        connection_lost(wl, "dispatch");
    if (!wl->dead)
        source_flush(s);
    return G_SOURCE_CONTINUE;
}

static void wl_source_finalize(GSource *source)
{
    WlSource *s = (WlSource *)source;
    if (s->reading)
        wl_display_cancel_read(s->wl->display);
    s->reading = false;
}

static GSourceFuncs wl_source_funcs = {
    .prepare = wl_source_prepare,
    .check = wl_source_check,
    .dispatch = wl_source_dispatch,
    .finalize = wl_source_finalize,
};

static void wayland_backend_free(VdBackend *b)
{
    WaylandBackend *wl = (WaylandBackend *)b;

    wl->dead = true;
    g_clear_handle_id(&wl->layout_idle, g_source_remove);
    if (wl->source) {
        g_source_destroy(wl->source);
        g_source_unref(wl->source);
    }
    vd_wl_clipboard_free(wl->clipboard);
    vd_wl_outman_free(wl->outman);
    vd_wl_mutter_free(wl->mutter);
    vd_dc_clear(&wl->dc);
    g_ptr_array_free(wl->outputs, TRUE);
    if (wl->xdg_manager)
        zxdg_output_manager_v1_destroy(wl->xdg_manager);
    if (wl->seat)
        wl_seat_destroy(wl->seat);
    if (wl->registry)
        wl_registry_destroy(wl->registry);
    wl_display_flush(wl->display);
    wl_display_disconnect(wl->display);
    g_free(wl->base.display_name);
    g_free(wl);
}

VdBackend *vd_wayland_backend_new(const char *display, const VdBackendHost *host, void *user_data, GError **error)
{
    g_return_val_if_fail(host, NULL);
    struct wl_display *dpy = wl_display_connect(display);
    if (!dpy) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "cannot connect to the Wayland compositor \"%s\": %s",
                    socket_name(display), g_strerror(e));
        return NULL;
    }
    WaylandBackend *wl = g_new0(WaylandBackend, 1);
    wl->base.name = "Wayland";
    wl->base.display_name = g_strdup(socket_name(display));
    wl->base.free = wayland_backend_free;
    wl->host = *host;
    wl->user_data = user_data;
    wl->display = dpy;
    wl->outputs = g_ptr_array_new_with_free_func((GDestroyNotify)output_free);
    /* Startup only: the globals, then what binding them sends (outputs' state, current selections). */
    wl->dead = true; /* no callbacks into main.c before it has the backend */
    wl->registry = wl_display_get_registry(dpy);
    wl_registry_add_listener(wl->registry, &registry_listener, wl);
    if (wl_display_roundtrip(dpy) < 0 || wl_display_roundtrip(dpy) < 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the Wayland compositor \"%s\" failed at the start: %s",
                    wl->base.display_name, g_strerror(wl_display_get_error(dpy)));
        wayland_backend_free(&wl->base);
        return NULL;
    }
    wl->dead = false;

    wl->base.disp_ops = &wayland_display_ops;
    wl->base.disp = wl;
    /* The backend answers every config itself: an error when the compositor offers no way to apply
     * it, so that the host hears that rather than the daemon's "no agent to ask" success. */
    wl->base.can_apply = true;
    if (!wl->outman)
        wl->mutter = vd_wl_mutter_new(&wl->host, wl->user_data);
    if (!wl->xdg_manager)
        g_warning("wayland: the compositor has no xdg-output: no layout report (the pointer follows the host's "
                  "monitors config)");
    if (wl->dc.kind != VD_DC_NONE && wl->seat) {
        g_message("wayland: clipboard through %s version %u%s", vd_dc_kind_to_string(wl->dc.kind), wl->dc.version,
                  vd_dc_has_primary(&wl->dc) ? "" : " (no PRIMARY)");
        wl->clipboard = vd_wl_clipboard_new(&wl->dc, wl->seat, host, user_data);
        wl->base.clip_ops = &vd_wl_clipboard_ops;
        wl->base.clip = wl->clipboard;
    } else {
        g_message("wayland: no data-control protocol (ext-data-control-v1, zwlr-data-control-v1)%s: no Wayland "
                  "clipboard", wl->seat ? "" : " or no seat");
    }

    WlSource *s = (WlSource *)g_source_new(&wl_source_funcs, sizeof(WlSource));
    s->wl = wl;
    s->fd_tag = g_source_add_unix_fd(&s->source, wl_display_get_fd(dpy), G_IO_IN | G_IO_ERR | G_IO_HUP);
    g_source_set_name(&s->source, "Wayland");
    g_source_attach(&s->source, NULL);
    wl->source = &s->source;
    return &wl->base;
}
