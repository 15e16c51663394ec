/* SPDX-License-Identifier: GPL-3.0-or-later */
/* power.c — power off, reboot or halt through logind, else the init system's command. See power.h. */
#include "power.h"

#include "logind.h"

typedef struct {
    VdPowerAction action;
    GDBusConnection *bus;
    GSubprocess *process;
    GCancellable *timeout_cancellable; /* the fallback's wait, cancelled by the timeout */
    guint timeout_id;
    char *via;
} PowerRequest;

static void power_request_free(PowerRequest *req)
{
    g_clear_handle_id(&req->timeout_id, g_source_remove);
    g_clear_object(&req->bus);
    g_clear_object(&req->process);
    g_clear_object(&req->timeout_cancellable);
    g_free(req->via);
    g_free(req);
}

const char *vd_power_action_to_string(VdPowerAction action)
{
    switch (action) {
    case VD_POWER_OFF: return "poweroff";
    case VD_POWER_REBOOT: return "reboot";
    case VD_POWER_HALT: return "halt";
    }
    return "unknown";
}

static const char *logind_method(VdPowerAction action)
{
    switch (action) {
    case VD_POWER_OFF: return "PowerOff";
    case VD_POWER_REBOOT: return "Reboot";
    case VD_POWER_HALT: return "Halt";
    }
    return NULL;
}

static const char *fallback_command(VdPowerAction action)
{
    switch (action) {
    case VD_POWER_OFF: return "/sbin/poweroff";
    case VD_POWER_REBOOT: return "/sbin/reboot";
    case VD_POWER_HALT: return "/sbin/halt";
    }
    return NULL;
}

/* logind is absent (as opposed to refusing): worth trying the init system's own command. */
static bool logind_absent(const GError *error)
{
    return g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
           g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
           g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
           g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE);
}

static gboolean on_fallback_timeout(gpointer user_data)
{
    GTask *task = user_data;
    PowerRequest *req = g_task_get_task_data(task);
    req->timeout_id = 0;
    g_cancellable_cancel(req->timeout_cancellable);
    return G_SOURCE_REMOVE;
}

static void on_fallback_exited(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task = user_data;
    PowerRequest *req = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    if (!g_subprocess_wait_finish(G_SUBPROCESS(source), result, &error)) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !g_task_return_error_if_cancelled(task))
            g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s did not exit within %d ms",
                                    req->via, VD_POWER_TIMEOUT_MS);
        else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    if (!g_subprocess_get_if_exited(req->process)) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s was killed by signal %d", req->via,
                                g_subprocess_get_term_sig(req->process));
        return;
    }
    int status = g_subprocess_get_exit_status(req->process);
    if (status != 0) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s exited with status %d", req->via, status);
        return;
    }
    g_task_return_boolean(task, TRUE);
}

static void run_fallback(GTask *task)
{
    PowerRequest *req = g_task_get_task_data(task);
    const char *hook = g_getenv(VD_POWER_FALLBACK_ENV);
    const char *argv[3] = {NULL, NULL, NULL};
    g_autoptr(GError) error = NULL;

    if (hook && *hook) {
        if (!g_path_is_absolute(hook)) {
            g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "%s must be an absolute path, not \"%s\"", VD_POWER_FALLBACK_ENV, hook);
            g_object_unref(task);
            return;
        }
        argv[0] = hook;
        argv[1] = vd_power_action_to_string(req->action);
    } else {
        argv[0] = fallback_command(req->action);
    }
    g_free(req->via);
    req->via = g_strdup(argv[0]);
    /* stdin is /dev/null; stdout and stderr go where ours go (the journal). */
    req->process = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_NONE, &error);
    if (!req->process) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "logind is not available and %s failed: %s",
                                argv[0], error->message);
        g_object_unref(task);
        return;
    }
    req->timeout_cancellable = g_cancellable_new();
    req->timeout_id = g_timeout_add(VD_POWER_TIMEOUT_MS, on_fallback_timeout, task);
    g_subprocess_wait_async(req->process, req->timeout_cancellable, on_fallback_exited, task);
}

static void on_logind_replied(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GTask *task = user_data;
    PowerRequest *req = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

    if (reply) {
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        return;
    }
    if (g_task_return_error_if_cancelled(task)) {
        g_object_unref(task);
        return;
    }
    if (logind_absent(error)) {
        g_debug("logind cannot %s (%s): using the init system's command", vd_power_action_to_string(req->action),
                error->message);
        run_fallback(task);
        return;
    }
    g_dbus_error_strip_remote_error(error);
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "logind refused %s: %s",
                            logind_method(req->action), error->message);
    g_object_unref(task);
}

static void call_logind(GTask *task)
{
    PowerRequest *req = g_task_get_task_data(task);
    req->via = g_strdup_printf("logind %s", logind_method(req->action));
    g_dbus_connection_call(req->bus, VD_LOGIND_BUS_NAME, VD_LOGIND_PATH, VD_LOGIND_MANAGER, logind_method(req->action),
                           g_variant_new("(b)", FALSE), NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                           VD_POWER_TIMEOUT_MS, g_task_get_cancellable(task), on_logind_replied, task);
}

static void on_bus_ready(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GTask *task = user_data;
    PowerRequest *req = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    req->bus = g_bus_get_finish(result, &error);
    if (!req->bus) {
        if (g_task_return_error_if_cancelled(task)) {
            g_object_unref(task);
            return;
        }
        g_debug("no system bus (%s): using the init system's command", error->message);
        run_fallback(task);
        return;
    }
    /* A bus that goes away must not take the daemon with it. */
    g_dbus_connection_set_exit_on_close(req->bus, FALSE);
    call_logind(task);
}

void vd_power_request_async(GDBusConnection *bus, VdPowerAction action, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    PowerRequest *req = g_new0(PowerRequest, 1);
    req->action = action;
    g_task_set_task_data(task, req, (GDestroyNotify) power_request_free);

    if (bus) {
        req->bus = g_object_ref(bus);
        call_logind(task);
    } else {
        g_bus_get(G_BUS_TYPE_SYSTEM, cancellable, on_bus_ready, task);
    }
}

bool vd_power_request_finish(GAsyncResult *result, char **ret_via, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), false);
    GTask *task = G_TASK(result);
    PowerRequest *req = g_task_get_task_data(task);
    if (ret_via)
        *ret_via = g_strdup(req->via);
    return g_task_propagate_boolean(task, error);
}
