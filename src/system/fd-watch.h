/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fd-watch.h — a GLib fd watch for the hot paths.
 *
 * Like g_unix_fd_add(), but the source may "recurse": GLib then skips blocking it around each
 * dispatch, which otherwise removes and re-adds its poll record and signals the context's wakeup
 * fd twice per event (two eventfd writes, one extra poll and one read per message: half the cost
 * of a mouse event). We never run nested main loops, so recursion cannot happen. */
#pragma once

#include <glib-unix.h>

static inline guint vd_fd_watch_add(int fd, GIOCondition cond, GUnixFDSourceFunc func, gpointer user_data)
{
    GSource *source = g_unix_fd_source_new(fd, cond);
    g_source_set_can_recurse(source, TRUE);
    g_source_set_callback(source, G_SOURCE_FUNC(func), user_data, NULL);
    guint id = g_source_attach(source, NULL);
    g_source_unref(source);
    return id;
}
