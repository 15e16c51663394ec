/* SPDX-License-Identifier: GPL-3.0-or-later */
/* x11-backend.c — the X11 backend: the X connection in the main loop, the XFixes clipboard
 * (clipboard*.c) and XRandR monitors (randr.c) behind backend.h's operations.
 *
 * The X connection is a GSource rather than a plain fd watch: Xlib may read events into its own
 * queue during any request with a reply (made by the clipboard or randr outside this source), and
 * those would otherwise sit there until the next byte arrives on the socket. prepare() flushes our
 * requests and looks at that queue without reading.
 */
#include <errno.h>
#include <gio/gio.h>

#include <X11/Xlib.h>

#include "backend.h"
#include "clipboard.h"
#include "randr.h"

typedef struct {
    VdBackend base;
    VdBackendHost host;
    void *user_data;
    Display *dpy;
    bool dead;
    bool layout_dirty; /* a RandR event came: the host is told after this batch of events */
    GSource *source;
    gpointer fd_tag;
    VdXClipboard *clipboard;
    VdRandr *randr;
} X11Backend;

/* Xlib's first I/O error handler takes no user data: one X backend per process. */
static X11Backend *the_x11;

/* --- the clipboard and display parts --- */

static void clip_handle_msg(void *clip, const VdSessionMsg *msg)
{
    X11Backend *x = clip;
    if (!x->dead)
        vd_xclipboard_handle_msg(x->clipboard, msg);
}

static void clip_set_host_state(void *clip, bool connected, const VdCaps *caps, int32_t max_clipboard)
{
    X11Backend *x = clip;
    if (!x->dead)
        vd_xclipboard_set_host_state(x->clipboard, connected, caps, max_clipboard);
}

static void clip_set_active(void *clip, bool active)
{
    X11Backend *x = clip;
    if (!x->dead)
        vd_xclipboard_set_active(x->clipboard, active);
}

static void clip_link_up(void *clip)
{
    X11Backend *x = clip;
    if (!x->dead)
        vd_xclipboard_link_up(x->clipboard);
}

static void clip_link_down(void *clip)
{
    X11Backend *x = clip;
    if (!x->dead)
        vd_xclipboard_link_down(x->clipboard);
}

static void clip_writable(void *clip)
{
    X11Backend *x = clip;
    if (!x->dead)
        vd_xclipboard_writable(x->clipboard);
}

static const VdClipboardOps x11_clipboard_ops = {
    .handle_msg = clip_handle_msg,
    .set_host_state = clip_set_host_state,
    .set_active = clip_set_active,
    .link_up = clip_link_up,
    .link_down = clip_link_down,
    .writable = clip_writable,
};

static void disp_apply(void *disp, uint32_t request_id, const VdMonitorsConfig *config)
{
    X11Backend *x = disp;
    int r = x->dead ? -ENOTCONN : vd_randr_apply(x->randr, config);
    x->host.monitors_done(request_id, r == 0 ? VD_REPLY_SUCCESS : VD_REPLY_ERROR, x->user_data);
}

static void disp_get_device_map(void *disp, VdDeviceMapReport *ret)
{
    X11Backend *x = disp;
    vd_randr_get_device_map(x->randr, ret);
}

static bool disp_get_layout(void *disp, VdLayout *ret)
{
    X11Backend *x = disp;
    if (x->dead)
        return false;
    vd_randr_get_layout(x->randr, ret);
    return true;
}

static const VdDisplayOps x11_display_ops = {
    .apply = disp_apply,
    .get_device_map = disp_get_device_map,
    .get_layout = disp_get_layout,
};

/* --- X in the main loop --- */

typedef struct {
    GSource source;
    X11Backend *x;
} XSource;

static gboolean x_source_prepare(GSource *source, gint *timeout)
{
    X11Backend *x = ((XSource *)source)->x;

    *timeout = -1;
    if (x->dead)
        return FALSE;
    XFlush(x->dpy);
    return !x->dead && XEventsQueued(x->dpy, QueuedAlready) > 0;
}

static gboolean x_source_check(GSource *source)
{
    X11Backend *x = ((XSource *)source)->x;

    if (x->dead)
        return FALSE;
    return g_source_query_unix_fd(source, x->fd_tag) != 0 || XEventsQueued(x->dpy, QueuedAlready) > 0;
}

static gboolean x_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    X11Backend *x = ((XSource *)source)->x;

    /* XPending reads what the socket has (or notices the server is gone: then the I/O error
     * handlers mark the display dead and tell main.c). It never blocks. */
    while (!x->dead && XPending(x->dpy) > 0) {
        XEvent ev;
        XNextEvent(x->dpy, &ev);
        if (x->clipboard && vd_xclipboard_handle_event(x->clipboard, &ev))
            continue;
        if (x->randr && vd_randr_handle_event(x->randr, &ev))
            x->layout_dirty = true;
    }
    if (x->layout_dirty && !x->dead) {
        x->layout_dirty = false;
        x->host.layout_changed(x->user_data);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs x_source_funcs = {
    .prepare = x_source_prepare,
    .check = x_source_check,
    .dispatch = x_source_dispatch,
};

static int on_x_io_error(Display *dpy)
{
    if (the_x11 && !the_x11->dead)
        g_message("the X server went away: exiting");
    if (the_x11)
        the_x11->dead = true;
    return 0;
}

/* Called after on_x_io_error instead of exit(): Xlib marks the display dead and every later call
 * returns at once, so we only have to tell main.c. */
static void on_x_io_error_exit(Display *dpy, void *user_data)
{
    X11Backend *x = user_data;

    x->dead = true;
    x->host.gone(x->user_data);
}

static int on_x_error(Display *dpy, XErrorEvent *e)
{
    char text[128];

    XGetErrorText(dpy, e->error_code, text, sizeof(text));
    g_debug("X error ignored: %s (request %u.%u, resource 0x%lx)", text, e->request_code, e->minor_code,
            e->resourceid);
    return 0;
}

static void x11_backend_free(VdBackend *b)
{
    X11Backend *x = (X11Backend *)b;

    vd_xclipboard_free(x->clipboard);
    vd_randr_free(x->randr);
    if (x->source) {
        g_source_destroy(x->source);
        g_source_unref(x->source);
    }
    XCloseDisplay(x->dpy);
    if (the_x11 == x)
        the_x11 = NULL;
    g_free(x->base.display_name);
    g_free(x);
}

VdBackend *vd_x11_backend_new(const char *display, const VdBackendHost *host, void *user_data, GError **error)
{
    g_return_val_if_fail(host, NULL);
    g_autoptr(GError) local = NULL;

    if (the_x11) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "only one X connection per process");
        return NULL;
    }
    XSetIOErrorHandler(on_x_io_error);
    XSetErrorHandler(on_x_error);
    Display *dpy = XOpenDisplay(display);
    if (!dpy) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "cannot open the X display \"%s\"",
                    XDisplayName(display));
        return NULL;
    }
    X11Backend *x = g_new0(X11Backend, 1);
    x->base.name = "X11";
    x->base.display_name = g_strdup(DisplayString(dpy));
    x->base.free = x11_backend_free;
    x->host = *host;
    x->user_data = user_data;
    x->dpy = dpy;
    the_x11 = x;
    XSetIOErrorExitHandler(dpy, on_x_io_error_exit, x);

    x->randr = vd_randr_new(dpy, &local);
    if (x->randr) {
        vd_randr_set_device_map(x->randr, host->devmap);
        x->base.disp_ops = &x11_display_ops;
        x->base.disp = x;
        x->base.can_apply = true;
    } else {
        g_warning("monitors configuration disabled: %s", local->message);
        g_clear_error(&local);
    }
    x->clipboard = vd_xclipboard_new(dpy,
                                     &(VdXClipboardSink){
                                         .send = host->send,
                                         .queued = host->queued,
                                         .throttle = host->throttle,
                                     },
                                     user_data, &local);
    if (x->clipboard) {
        x->base.clip_ops = &x11_clipboard_ops;
        x->base.clip = x;
    } else {
        g_warning("clipboard disabled: %s", local->message);
        g_clear_error(&local);
    }

    x->source = g_source_new(&x_source_funcs, sizeof(XSource));
    ((XSource *)x->source)->x = x;
    x->fd_tag = g_source_add_unix_fd(x->source, ConnectionNumber(dpy), G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_name(x->source, "X11");
    g_source_attach(x->source, NULL);
    return &x->base;
}
