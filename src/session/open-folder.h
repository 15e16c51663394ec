/* SPDX-License-Identifier: GPL-3.0-or-later */
/* open-folder.h — showing a received file in the user's file manager.
 *
 * org.freedesktop.FileManager1.ShowItems on the session bus (the folder opens with the file
 * selected; D-Bus activation starts a file manager that is installed but not running). Where no
 * file manager answers, `xdg-open DIR` is spawned with an argv (never a shell) and reaped. Never
 * blocks: the D-Bus call and the process are asynchronous.
 */
#pragma once

#include <gio/gio.h>

/* Timeout of the ShowItems call before falling back to xdg-open. */
#define VD_OPEN_FOLDER_TIMEOUT_MS 5000

/* bus: the session bus, or NULL (then only xdg-open). path: the received file. */
void vd_open_folder(GDBusConnection *bus, const char *path);
/* The same for several files (NULL-terminated, at least one): the file manager shows them all;
 * xdg-open opens the first one's folder. */
void vd_open_folder_items(GDBusConnection *bus, const char *const *paths);
