/* SPDX-License-Identifier: GPL-3.0-or-later */
/* launch.c — handing the session agent over to the user's systemd manager (see launch.h). */
#include <gio/gio.h>
#include <sys/stat.h>

#include "launch.h"

#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
/* GDBus's own default. At login the user manager is busy starting the session's units: in the booted
 * vm guest under load it took more than 5 s to answer SetEnvironment, and the agent that then ran here
 * was a second one for the session, which vdagentd refused (tests/vm/test-booted.py). */
#define LAUNCH_CALL_TIMEOUT_MS 25000

const char *vd_launch_result_to_string(VdLaunchResult result)
{
    switch (result) {
    case VD_LAUNCH_RUN_HERE: return "run_here";
    case VD_LAUNCH_HANDED_OVER: return "handed_over";
    case VD_LAUNCH_MASKED: return "masked";
    }
    return "unknown";
}

static GDBusConnection *connect_manager(const char *runtime_dir)
{
    g_autofree char *path = g_build_filename(runtime_dir, "systemd", "private", NULL);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        g_debug("no systemd user manager at \"%s\"", path);
        return NULL;
    }
    g_autofree char *escaped = g_dbus_address_escape_value(path);
    g_autofree char *address = g_strconcat("unix:path=", escaped, NULL);
    g_autoptr(GError) error = NULL;
    /* The manager's own socket, peer to peer: the session bus may be another daemon
     * (dbus-launch) that systemd is not on. */
    GDBusConnection *conn = g_dbus_connection_new_for_address_sync(
        address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, NULL, &error);
    if (!conn)
        g_message("cannot reach the systemd user manager at \"%s\": %s; running here", path, error->message);
    return conn;
}

static void add_assignment(GPtrArray *set, const char *name, const char *value)
{
    g_ptr_array_add(set, g_strconcat(name, "=", value, NULL));
}

VdLaunchResult vd_launch_via_user_manager(VdBackendKind kind, const char *display)
{
    const char *runtime_dir = g_getenv("XDG_RUNTIME_DIR");
    if (!runtime_dir || !*runtime_dir || !display || !*display)
        return VD_LAUNCH_RUN_HERE;
    g_autoptr(GDBusConnection) conn = connect_manager(runtime_dir);
    if (!conn)
        return VD_LAUNCH_RUN_HERE;

    /* The unit's agent chooses its backend from the manager's environment as main.c does here:
     * WAYLAND_DISPLAY first. So the display goes in the variable of its kind, and a name this
     * session does not have is unset: a WAYLAND_DISPLAY left from an earlier sway login would
     * otherwise take an X session's agent to a dead compositor. */
    g_autoptr(GPtrArray) unset = g_ptr_array_new();
    g_autoptr(GPtrArray) set = g_ptr_array_new_with_free_func(g_free);
    const char *x_display = g_getenv("DISPLAY");
    if (kind == VD_BACKEND_WAYLAND) {
        add_assignment(set, "WAYLAND_DISPLAY", display);
        /* Xwayland's, for a compositor without data-control (main.c takes the clipboard there). */
        if (x_display && *x_display)
            add_assignment(set, "DISPLAY", x_display);
        else
            g_ptr_array_add(unset, (char *)"DISPLAY");
    } else {
        add_assignment(set, "DISPLAY", display);
        g_ptr_array_add(unset, (char *)"WAYLAND_DISPLAY");
    }
    const char *xauthority = g_getenv("XAUTHORITY");
    if (xauthority && *xauthority)
        add_assignment(set, "XAUTHORITY", xauthority);
    g_ptr_array_add(unset, NULL); /* "^as" takes NULL-terminated arrays */
    g_ptr_array_add(set, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        conn, NULL, SYSTEMD_PATH, SYSTEMD_MANAGER, "UnsetAndSetEnvironment",
        g_variant_new("(^as^as)", (char **)unset->pdata, (char **)set->pdata), NULL, G_DBUS_CALL_FLAGS_NONE,
        LAUNCH_CALL_TIMEOUT_MS, NULL, &error);
    if (!reply) {
        g_dbus_error_strip_remote_error(error);
        g_message("the systemd user manager did not take the display: %s; running here", error->message);
        return VD_LAUNCH_RUN_HERE;
    }
    g_clear_pointer(&reply, g_variant_unref);
    reply = g_dbus_connection_call_sync(conn, NULL, SYSTEMD_PATH, SYSTEMD_MANAGER, "StartUnit",
                                        g_variant_new("(ss)", VD_LAUNCH_UNIT, "replace"), G_VARIANT_TYPE("(o)"),
                                        G_DBUS_CALL_FLAGS_NONE, LAUNCH_CALL_TIMEOUT_MS, NULL, &error);
    if (!reply) {
        g_autofree char *name = g_dbus_error_get_remote_error(error);
        g_dbus_error_strip_remote_error(error);
        if (g_strcmp0(name, "org.freedesktop.systemd1.UnitMasked") == 0) {
            g_message("%s is masked for this user: no session agent", VD_LAUNCH_UNIT);
            return VD_LAUNCH_MASKED;
        }
        if (g_strcmp0(name, "org.freedesktop.systemd1.NoSuchUnit") == 0)
            g_debug("the systemd user manager has no %s: running here", VD_LAUNCH_UNIT);
        else
            g_message("cannot start %s: %s; running here", VD_LAUNCH_UNIT, error->message);
        return VD_LAUNCH_RUN_HERE;
    }
    g_message("%s display \"%s\" handed to the systemd user manager's %s", vd_backend_kind_to_string(kind), display,
              VD_LAUNCH_UNIT);
    return VD_LAUNCH_HANDED_OVER;
}
