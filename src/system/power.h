/* SPDX-License-Identifier: GPL-3.0-or-later */
/* power.h — powering the machine off, rebooting or halting it, for the root daemon.
 *
 * Through logind (org.freedesktop.login1.Manager PowerOff/Reboot/Halt, interactive=false) over the
 * system bus; only when logind is absent (no system bus, nobody owns org.freedesktop.login1, or an
 * old logind without the method) through the init system's own command, spawned with an argv:
 * /sbin/poweroff, /sbin/reboot, /sbin/halt. Asynchronous, with a timeout: never blocks the caller.
 *
 * Test hook: when the environment variable VDAGENT_POWER_FALLBACK_COMMAND holds an absolute path,
 * the fallback runs that program with the action's name ("poweroff", "reboot", "halt") as its one
 * argument instead of the real command. */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>

#define VD_POWER_TIMEOUT_MS 10000 /* logind call, or the fallback command to exit */
#define VD_POWER_FALLBACK_ENV "VDAGENT_POWER_FALLBACK_COMMAND"

typedef enum {
    VD_POWER_OFF,
    VD_POWER_REBOOT,
    VD_POWER_HALT,
} VdPowerAction;

/* "poweroff", "reboot", "halt". */
const char *vd_power_action_to_string(VdPowerAction action);

/* bus: the system bus, or NULL to get it. The result says how the request was carried out. */
void vd_power_request_async(GDBusConnection *bus, VdPowerAction action, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
/* Returns true once logind accepted the request or the fallback command exited with status 0;
 * *ret_via (optional) names the way: "logind PowerOff", "/sbin/poweroff"… */
bool vd_power_request_finish(GAsyncResult *result, char **ret_via, GError **error);
