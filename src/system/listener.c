/* SPDX-License-Identifier: GPL-3.0-or-later */
/* listener.c — accept with backoff and per-uid log limits (see listener.h). */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <unistd.h>

struct VdListener {
    int fd;
    char *what;
    VdListenerFunc func;
    void *user_data;
    guint watch, backoff;
    bool starved; /* out of descriptors was said; "accepting again" not yet */
    VdLogLimits *limits;
};

static gboolean on_listen(int fd, GIOCondition cond, gpointer user_data);

static void watch(VdListener *l)
{
    if (!l->watch)
        l->watch = g_unix_fd_add(l->fd, G_IO_IN, on_listen, l);
}

static gboolean on_backoff(gpointer user_data)
{
    VdListener *l = user_data;
    l->backoff = 0;
    watch(l);
    return G_SOURCE_REMOVE;
}

static void back_off(VdListener *l, int err)
{
    if (!l->starved) {
        l->starved = true;
        g_warning("%s: cannot accept connections: %s (out of file descriptors or memory); trying again every %u ms",
                  l->what, g_strerror(err), VD_LISTENER_BACKOFF_MS);
    }
    g_clear_handle_id(&l->watch, g_source_remove);
    if (!l->backoff)
        l->backoff = g_timeout_add(VD_LISTENER_BACKOFF_MS, on_backoff, l);
}

static gboolean on_listen(int fd, GIOCondition cond, gpointer user_data)
{
    VdListener *l = user_data;
    for (unsigned i = 0; i < VD_LISTENER_BURST; i++) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            int e = errno;
            if (e == EAGAIN || e == EINTR || e == ECONNABORTED)
                break;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                back_off(l, e);
                return G_SOURCE_REMOVE; /* l->watch was cleared */
            }
            vd_limited_warning(vd_listener_log_limit(l, (uid_t)-1), "accept failed", "%s: accept: %s", l->what,
                               g_strerror(e));
            break;
        }
        if (l->starved) {
            l->starved = false;
            g_message("%s: accepting connections again", l->what);
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
            vd_limited_warning(vd_listener_log_limit(l, (uid_t)-1), "no peer credentials",
                               "%s: no peer credentials (%s); connection closed", l->what, g_strerror(errno));
            close(c);
            continue;
        }
        l->func(c, &cred, l->user_data);
    }
    return G_SOURCE_CONTINUE;
}

VdListener *vd_listener_new(int listen_fd, const char *what, VdListenerFunc func, void *user_data)
{
    g_return_val_if_fail(listen_fd >= 0 && what && func, NULL);
    VdListener *l = g_new0(VdListener, 1);
    l->fd = listen_fd;
    l->what = g_strdup(what);
    l->func = func;
    l->user_data = user_data;
    l->limits = vd_log_limits_new(what);
    (void)!fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    watch(l);
    return l;
}

void vd_listener_free(VdListener *l)
{
    if (!l)
        return;
    g_clear_handle_id(&l->watch, g_source_remove);
    g_clear_handle_id(&l->backoff, g_source_remove);
    close(l->fd);
    vd_log_limits_free(l->limits);
    g_free(l->what);
    g_free(l);
}

VdLogLimit *vd_listener_log_limit(VdListener *l, uid_t uid)
{
    g_return_val_if_fail(l, NULL);
    return vd_log_limits_for_uid(l->limits, uid);
}

const char *vd_listener_name(const VdListener *l)
{
    g_return_val_if_fail(l, NULL);
    return l->what;
}
