/* SPDX-License-Identifier: GPL-3.0-or-later */
/* open-folder.c — a received file shown in the file manager (see open-folder.h). */
#include "open-folder.h"

static void on_exited(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    GSubprocess *proc = G_SUBPROCESS(source);

    if (!g_subprocess_wait_finish(proc, res, &error))
        g_message("open folder: waiting for xdg-open: %s", error->message);
    else if (!g_subprocess_get_successful(proc))
        g_message("open folder: xdg-open failed (status %d)", g_subprocess_get_status(proc));
    g_object_unref(proc);
}

static void spawn_xdg_open(const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_path_get_dirname(path);
    const char *argv[] = { "xdg-open", dir, NULL };
    GSubprocess *proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_NONE, &error);

    if (!proc) {
        g_message("open folder: cannot run xdg-open for \"%s\": %s", dir, error->message);
        return;
    }
    g_message("open folder: \"%s\" with xdg-open", dir);
    g_subprocess_wait_async(proc, NULL, on_exited, NULL); /* reaped there */
}

static void on_shown(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autofree char *path = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

    if (ret) {
        g_message("open folder: \"%s\" shown by the file manager", path);
        return;
    }
    g_message("open folder: no file manager on the session bus (%s): trying xdg-open", error->message);
    spawn_xdg_open(path);
}

void vd_open_folder_items(GDBusConnection *bus, const char *const *paths)
{
    if (!paths || !paths[0])
        return;
    if (!bus) {
        spawn_xdg_open(paths[0]);
        return;
    }
    g_autoptr(GPtrArray) uris = g_ptr_array_new_with_free_func(g_free);
    for (const char *const *p = paths; *p; p++) {
        char *uri = g_filename_to_uri(*p, NULL, NULL);
        if (uri)
            g_ptr_array_add(uris, uri);
    }
    if (uris->len == 0) {
        spawn_xdg_open(paths[0]);
        return;
    }
    g_ptr_array_add(uris, NULL);
    g_dbus_connection_call(bus, "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                           "org.freedesktop.FileManager1", "ShowItems",
                           g_variant_new("(^ass)", (const char *const *)uris->pdata, ""), NULL,
                           G_DBUS_CALL_FLAGS_NONE, VD_OPEN_FOLDER_TIMEOUT_MS, NULL, on_shown, g_strdup(paths[0]));
}

void vd_open_folder(GDBusConnection *bus, const char *path)
{
    const char *paths[] = { path, NULL };
    vd_open_folder_items(bus, paths);
}
