/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-suspend.c — guest-suspend-ram, -disk and -hybrid through logind: CanSuspend (CanHibernate,
 * CanHybridSleep) first, then Suspend (Hibernate, HybridSleep) with interactive=false. Like
 * guest-shutdown: no reply on success, one audit line per request, no capability needed. */
#include "logind.h"
#include "qga-verbs.h"

typedef struct {
    VdQgaCall *call;       /* freed once completed */
    char *verb;
    GDBusConnection *bus;
    const char *method;     /* Suspend, Hibernate, HybridSleep */
    const char *can_method; /* CanSuspend… */
} SuspendRequest;

static void suspend_finish(SuspendRequest *req, const char *result)
{
    vd_qga_audit(req->verb, req->method, result);
    g_free(req->verb);
    g_clear_object(&req->bus);
    g_free(req);
}

static void suspend_fail(SuspendRequest *req, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void suspend_fail(SuspendRequest *req, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *desc = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_autofree char *result = g_strdup_printf("failed: %s", desc);
    vd_qga_call_error(req->call, VD_QGA_ERROR_GENERIC, "%s", desc);
    suspend_finish(req, result);
}

static void on_suspended(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SuspendRequest *req = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    if (!reply) {
        g_dbus_error_strip_remote_error(error);
        suspend_fail(req, "logind %s failed: %s", req->method, error->message);
        return;
    }
    g_autofree char *done = g_strdup_printf("requested through logind %s", req->method);
    vd_qga_call_done(req->call);
    suspend_finish(req, done);
}

static void on_can(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SuspendRequest *req = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    if (!reply) {
        g_dbus_error_strip_remote_error(error);
        suspend_fail(req, "cannot ask logind whether the guest can sleep (%s): %s", req->can_method, error->message);
        return;
    }
    const char *answer;
    g_variant_get(reply, "(&s)", &answer);
    /* "challenge" means polkit would ask: root is not asked. */
    if (!g_str_equal(answer, "yes") && !g_str_equal(answer, "challenge")) {
        g_autofree char *quoted = g_strescape(answer, NULL);
        suspend_fail(req, "The requested suspend mode is not supported by the guest (logind %s: \"%s\")",
                     req->can_method, quoted);
        return;
    }
    g_dbus_connection_call(req->bus, VD_LOGIND_BUS_NAME, VD_LOGIND_PATH, VD_LOGIND_MANAGER, req->method,
                           g_variant_new("(b)", FALSE), NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_QGA_DBUS_TIMEOUT_MS,
                           vd_qga_call_cancellable(req->call), on_suspended, req);
}

static void suspend_start(SuspendRequest *req)
{
    g_dbus_connection_call(req->bus, VD_LOGIND_BUS_NAME, VD_LOGIND_PATH, VD_LOGIND_MANAGER, req->can_method, NULL,
                           G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_QGA_DBUS_TIMEOUT_MS,
                           vd_qga_call_cancellable(req->call), on_can, req);
}

static void on_bus(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SuspendRequest *req = user_data;
    g_autoptr(GError) error = NULL;
    req->bus = g_bus_get_finish(result, &error);
    if (!req->bus) {
        suspend_fail(req, "cannot reach logind: no system bus: %s", error->message);
        return;
    }
    g_dbus_connection_set_exit_on_close(req->bus, FALSE);
    vd_qga_call_set_system_bus(req->call, req->bus);
    suspend_start(req);
}

static void suspend(VdQgaCall *call, const char *method, const char *can_method)
{
    SuspendRequest *req = g_new0(SuspendRequest, 1);
    req->call = call;
    req->verb = g_strdup(vd_qga_call_verb(call));
    req->method = method;
    req->can_method = can_method;
    GDBusConnection *bus = vd_qga_call_system_bus(call);
    if (bus) {
        req->bus = g_object_ref(bus);
        suspend_start(req);
    } else {
        g_bus_get(G_BUS_TYPE_SYSTEM, vd_qga_call_cancellable(call), on_bus, req);
    }
}

void vd_qga_cmd_suspend_ram(VdQgaCall *call, JsonObject *args)
{
    suspend(call, "Suspend", "CanSuspend");
}

void vd_qga_cmd_suspend_disk(VdQgaCall *call, JsonObject *args)
{
    suspend(call, "Hibernate", "CanHibernate");
}

void vd_qga_cmd_suspend_hybrid(VdQgaCall *call, JsonObject *args)
{
    suspend(call, "HybridSleep", "CanHybridSleep");
}
