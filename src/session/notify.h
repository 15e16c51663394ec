/* SPDX-License-Identifier: GPL-3.0-or-later */
/* notify.h — desktop notifications for host -> guest file transfers (org.freedesktop.Notifications).
 *
 * A transfer still running VD_NOTIFY_PROGRESS_AFTER_MS after it started gets one notification,
 * updated in place (replaces_id) at most every VD_NOTIFY_UPDATE_INTERVAL_MS with its percentage,
 * bytes and rate, and replaced by its completion. Files received without shown progress are told
 * once per batch (when no other transfer runs): "Received "name"" or "Received N files", saying
 * where, with an "Open folder" action (open-folder.h) that shows them. A failed transfer whose
 * progress was shown is replaced by the reason. Calls are asynchronous and at most one per notification is in flight; without a
 * notification server nothing is shown and one log line says so.
 */
#pragma once

#include <gio/gio.h>
#include <stdint.h>

#define VD_NOTIFY_PROGRESS_AFTER_MS 3000u
#define VD_NOTIFY_UPDATE_INTERVAL_MS 1000u
/* One Notify call; a server that does not answer in time is logged once and the next content is
 * sent. */
#define VD_NOTIFY_CALL_TIMEOUT_MS 5000
/* Completed notifications whose action is remembered (the oldest is forgotten first). */
#define VD_NOTIFY_MAX_ACTIONS 32u
/* Files of one batch that "Open folder" shows (the count in the text has no limit). */
#define VD_NOTIFY_MAX_BATCH_ITEMS 32u

typedef struct VdNotify VdNotify;

VdNotify *vd_notify_new(void);
void vd_notify_free(VdNotify *notify);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdNotify, vd_notify_free)
/* The session bus (NULL: none; nothing is shown). */
void vd_notify_set_bus(VdNotify *notify, GDBusConnection *bus);

/* A VdFilesObserver's events (files.h). */
void vd_notify_started(VdNotify *notify, uint32_t id, const char *name, uint64_t size);
void vd_notify_progress(VdNotify *notify, uint32_t id, uint64_t received, uint64_t size);
/* others_running: transfers still running (0: the batch is over). */
void vd_notify_finished(VdNotify *notify, uint32_t id, const char *name, const char *path, const char *why,
                        unsigned others_running);
