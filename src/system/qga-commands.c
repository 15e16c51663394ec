/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-commands.c — one handler per QEMU guest agent verb, with qemu-ga's argument and reply shapes
 * (QEMU's qga/qapi-schema.json). See qga-commands.h. */
#include "qga-commands.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "logind.h"
#include "power.h"
#include "qga-helper.h"
#include "qga-shell.h"
#include "qga-verbs.h"


/* --- guest-sync, guest-sync-delimited, guest-ping, guest-info --- */

static void cmd_sync(VdQgaCall *call, JsonObject *args)
{
    JsonNode *id = json_node_copy(json_object_get_member(args, "id"));
    vd_qga_call_return(call, id);
}

static void cmd_sync_delimited(VdQgaCall *call, JsonObject *args)
{
    vd_qga_call_set_delimited(call);
    cmd_sync(call, args);
}

static JsonNode *empty_object(void)
{
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, json_object_new());
    return node;
}

static void cmd_ping(VdQgaCall *call, JsonObject *args)
{
    vd_qga_call_return(call, empty_object());
}

static void cmd_info(VdQgaCall *call, JsonObject *args)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    gsize n;
    const VdQgaCommand *commands = vd_qga_commands(&n);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "version");
    json_builder_add_string_value(b, VDAGENT_VERSION);
    json_builder_set_member_name(b, "supported_commands");
    json_builder_begin_array(b);
    for (gsize i = 0; i < n; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, commands[i].name);
        json_builder_set_member_name(b, "enabled");
        json_builder_add_boolean_value(b, vd_qga_call_verb_enabled(call, commands[i].name));
        json_builder_set_member_name(b, "success-response");
        json_builder_add_boolean_value(b, commands[i].success_response);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    vd_qga_call_return(call, json_builder_get_root(b));
}

/* --- guest-shutdown --- */

typedef struct {
    VdQgaCall *call;
    char *mode;
} ShutdownRequest;

static void on_power_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    ShutdownRequest *req = user_data;
    g_autoptr(GError) error = NULL;
    g_autofree char *via = NULL;

    if (vd_power_request_finish(result, &via, &error)) {
        g_autofree char *line = g_strdup_printf("requested through %s", via);
        vd_qga_audit("guest-shutdown", req->mode, line);
        vd_qga_call_done(req->call);
    } else {
        g_autofree char *line = g_strdup_printf("failed: %s", error->message);
        vd_qga_audit("guest-shutdown", req->mode, line);
        vd_qga_call_error(req->call, VD_QGA_ERROR_GENERIC, "guest-shutdown (%s) failed: %s", req->mode,
                          error->message);
    }
    g_free(req->mode);
    g_free(req);
}

static void cmd_shutdown(VdQgaCall *call, JsonObject *args)
{
    const char *mode = json_object_has_member(args, "mode") ? json_object_get_string_member(args, "mode")
                                                            : "powerdown";
    VdPowerAction action;

    if (g_str_equal(mode, "powerdown")) {
        action = VD_POWER_OFF;
    } else if (g_str_equal(mode, "reboot")) {
        action = VD_POWER_REBOOT;
    } else if (g_str_equal(mode, "halt")) {
        action = VD_POWER_HALT;
    } else {
        g_autofree char *quoted = g_strescape(mode, NULL);
        vd_qga_audit("guest-shutdown", quoted, "refused: invalid mode");
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC,
                          "Parameter 'mode' expects 'halt', 'powerdown' or 'reboot', not \"%s\"", quoted);
        return;
    }
    ShutdownRequest *req = g_new0(ShutdownRequest, 1);
    req->call = call;
    req->mode = g_strdup(mode);
    vd_power_request_async(vd_qga_call_system_bus(call), action, vd_qga_call_cancellable(call), on_power_done, req);
}

/* --- guest-get-osinfo --- */

/* os-release(5) through g_get_os_info(), which reads /etc/os-release, else /usr/lib/os-release. */
static void add_os_release(JsonBuilder *b)
{
    static const struct {
        const char *key;
        const char *member;
    } fields[] = {
        {G_OS_INFO_KEY_ID, "id"},           {G_OS_INFO_KEY_NAME, "name"},
        {G_OS_INFO_KEY_PRETTY_NAME, "pretty-name"}, {G_OS_INFO_KEY_VERSION, "version"},
        {G_OS_INFO_KEY_VERSION_ID, "version-id"},   {"VARIANT", "variant"},
        {"VARIANT_ID", "variant-id"},
    };
    for (gsize f = 0; f < G_N_ELEMENTS(fields); f++) {
        g_autofree char *value = g_get_os_info(fields[f].key);
        if (!value || !g_utf8_validate(value, -1, NULL))
            continue;
        json_builder_set_member_name(b, fields[f].member);
        json_builder_add_string_value(b, value);
    }
}

static void cmd_get_osinfo(VdQgaCall *call, JsonObject *args)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    struct utsname uts;

    json_builder_begin_object(b);
    if (uname(&uts) == 0) {
        json_builder_set_member_name(b, "kernel-release");
        json_builder_add_string_value(b, uts.release);
        json_builder_set_member_name(b, "kernel-version");
        json_builder_add_string_value(b, uts.version);
        json_builder_set_member_name(b, "machine");
        json_builder_add_string_value(b, uts.machine);
    }
    add_os_release(b);
    json_builder_end_object(b);
    vd_qga_call_return(call, json_builder_get_root(b));
}

/* --- guest-get-host-name, guest-get-time, guest-get-timezone --- */

static void cmd_get_host_name(VdQgaCall *call, JsonObject *args)
{
    char name[HOST_NAME_MAX + 1];
    if (gethostname(name, sizeof(name)) != 0) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "cannot get the host name: %s", g_strerror(errno));
        return;
    }
    name[sizeof(name) - 1] = '\0';
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "host-name");
    json_builder_add_string_value(b, name);
    json_builder_end_object(b);
    vd_qga_call_return(call, json_builder_get_root(b));
}

static void cmd_get_time(VdQgaCall *call, JsonObject *args)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "cannot read the clock: %s", g_strerror(errno));
        return;
    }
    JsonNode *node = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(node, (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec);
    vd_qga_call_return(call, node);
}

static void cmd_get_timezone(VdQgaCall *call, JsonObject *args)
{
    /* A new GTimeZone each time: the zone may have changed since the daemon started. */
    g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(NULL);
    if (!tz)
        tz = g_time_zone_new_utc();
    g_autoptr(GDateTime) now = g_date_time_new_now(tz);
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    const char *abbrev = g_date_time_get_timezone_abbreviation(now);
    if (abbrev && *abbrev) {
        json_builder_set_member_name(b, "zone");
        json_builder_add_string_value(b, abbrev);
    }
    json_builder_set_member_name(b, "offset");
    json_builder_add_int_value(b, g_date_time_get_utc_offset(now) / G_TIME_SPAN_SECOND);
    json_builder_end_object(b);
    vd_qga_call_return(call, json_builder_get_root(b));
}

/* --- guest-get-vcpus --- */

static void cmd_get_vcpus(VdQgaCall *call, JsonObject *args)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    if (n < 1) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "cannot count the CPUs: %s", g_strerror(errno));
        return;
    }
    if (n > VD_QGA_MAX_VCPUS) {
        g_warning("guest-get-vcpus: reporting the first %d of %ld CPUs", VD_QGA_MAX_VCPUS, n);
        n = VD_QGA_MAX_VCPUS;
    }
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (long i = 0; i < n; i++) {
        g_autofree char *dir = g_strdup_printf("/sys/devices/system/cpu/cpu%ld", i);
        g_autofree char *online_path = g_build_filename(dir, "online", NULL);
        gboolean online = TRUE, can_offline = FALSE;
        g_autofree char *text = NULL;

        if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
            continue; /* a gap in the numbering */
        /* No "online" file: a CPU that cannot go offline (often cpu0), hence online. */
        if (g_file_get_contents(online_path, &text, NULL, NULL)) {
            online = g_strstrip(text)[0] == '1';
            can_offline = TRUE;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "logical-id");
        json_builder_add_int_value(b, i);
        json_builder_set_member_name(b, "online");
        json_builder_add_boolean_value(b, online);
        json_builder_set_member_name(b, "can-offline");
        json_builder_add_boolean_value(b, can_offline);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    vd_qga_call_return(call, json_builder_get_root(b));
}

/* --- guest-get-users: logind ListUsers, then each user's Timestamp --- */

typedef struct {
    VdQgaCall *call;
    GDBusConnection *bus;
    guint pending;
    gboolean failed;
    GPtrArray *names;       /* char * */
    GArray *timestamps;     /* guint64 µs since the epoch, 0: unknown */
} UsersRequest;

static void users_request_finish(UsersRequest *req)
{
    if (req->failed) {
        /* the error was sent already */
    } else {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_array(b);
        for (guint i = 0; i < req->names->len; i++) {
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "user");
            json_builder_add_string_value(b, g_ptr_array_index(req->names, i));
            json_builder_set_member_name(b, "login-time");
            json_builder_add_double_value(b, (double) g_array_index(req->timestamps, guint64, i) / G_USEC_PER_SEC);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        vd_qga_call_return(req->call, json_builder_get_root(b));
    }
    g_clear_object(&req->bus);
    g_ptr_array_unref(req->names);
    g_array_unref(req->timestamps);
    g_free(req);
}

typedef struct {
    UsersRequest *req;
    guint index;
} UserTimestamp;

static void on_user_timestamp(GObject *source, GAsyncResult *result, gpointer user_data)
{
    UserTimestamp *ut = user_data;
    UsersRequest *req = ut->req;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

    if (reply) {
        g_autoptr(GVariant) value = NULL;
        g_variant_get(reply, "(v)", &value);
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64))
            g_array_index(req->timestamps, guint64, ut->index) = g_variant_get_uint64(value);
    } else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* The user may have logged out meanwhile: report without a time rather than fail. */
        g_debug("guest-get-users: no timestamp for \"%s\": %s",
                (const char *) g_ptr_array_index(req->names, ut->index), error->message);
    }
    g_free(ut);
    if (--req->pending == 0)
        users_request_finish(req);
}

static void on_list_users(GObject *source, GAsyncResult *result, gpointer user_data)
{
    UsersRequest *req = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

    if (!reply) {
        g_dbus_error_strip_remote_error(error);
        g_info("guest-get-users: logind cannot list users (%s): reading utmp", error->message);
        vd_qga_cmd_users_from_utmp(req->call);
        req->failed = TRUE;
        users_request_finish(req);
        return;
    }
    g_autoptr(GVariantIter) iter = NULL;
    guint32 uid;
    const char *name, *path;
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_variant_get(reply, "(a(uso))", &iter);
    while (g_variant_iter_next(iter, "(u&s&o)", &uid, &name, &path)) {
        if (req->names->len >= VD_QGA_MAX_USERS) {
            g_warning("guest-get-users: reporting the first %d users only", VD_QGA_MAX_USERS);
            break;
        }
        if (!g_utf8_validate(name, -1, NULL))
            continue;
        g_ptr_array_add(req->names, g_strdup(name));
        g_ptr_array_add(paths, g_strdup(path));
    }
    g_array_set_size(req->timestamps, req->names->len);
    if (req->names->len == 0) {
        users_request_finish(req);
        return;
    }
    req->pending = req->names->len;
    for (guint i = 0; i < paths->len; i++) {
        UserTimestamp *ut = g_new0(UserTimestamp, 1);
        ut->req = req;
        ut->index = i;
        g_dbus_connection_call(req->bus, VD_LOGIND_BUS_NAME, g_ptr_array_index(paths, i),
                               VD_DBUS_PROPERTIES, "Get",
                               g_variant_new("(ss)", VD_LOGIND_USER, "Timestamp"), G_VARIANT_TYPE("(v)"),
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_QGA_DBUS_TIMEOUT_MS,
                               vd_qga_call_cancellable(req->call), on_user_timestamp, ut);
    }
}

static void users_start(UsersRequest *req)
{
    g_dbus_connection_call(req->bus, VD_LOGIND_BUS_NAME, VD_LOGIND_PATH, VD_LOGIND_MANAGER, "ListUsers", NULL,
                           G_VARIANT_TYPE("(a(uso))"), G_DBUS_CALL_FLAGS_NO_AUTO_START, VD_QGA_DBUS_TIMEOUT_MS,
                           vd_qga_call_cancellable(req->call), on_list_users, req);
}

static void on_users_bus(GObject *source, GAsyncResult *result, gpointer user_data)
{
    UsersRequest *req = user_data;
    g_autoptr(GError) error = NULL;
    req->bus = g_bus_get_finish(result, &error);
    if (!req->bus) {
        g_info("guest-get-users: no system bus (%s): reading utmp", error->message);
        vd_qga_cmd_users_from_utmp(req->call);
        req->failed = TRUE;
        users_request_finish(req);
        return;
    }
    g_dbus_connection_set_exit_on_close(req->bus, FALSE);
    vd_qga_call_set_system_bus(req->call, req->bus);
    users_start(req);
}

static void cmd_get_users(VdQgaCall *call, JsonObject *args)
{
    UsersRequest *req = g_new0(UsersRequest, 1);
    req->call = call;
    req->names = g_ptr_array_new_with_free_func(g_free);
    req->timestamps = g_array_new(FALSE, TRUE, sizeof(guint64));
    GDBusConnection *bus = vd_qga_call_system_bus(call);
    if (bus) {
        req->bus = g_object_ref(bus);
        users_start(req);
    } else {
        g_bus_get(G_BUS_TYPE_SYSTEM, vd_qga_call_cancellable(call), on_users_bus, req);
    }
}

/* --- the table --- */

static const VdQgaArg sync_args[] = {{"id", VD_QGA_ARG_INT, FALSE}, {NULL}};
static const VdQgaArg shutdown_args[] = {{"mode", VD_QGA_ARG_STRING, TRUE}, {NULL}};
static const VdQgaArg freeze_list_args[] = {{"mountpoints", VD_QGA_ARG_ARRAY, TRUE}, {NULL}};
static const VdQgaArg fstrim_args[] = {{"minimum", VD_QGA_ARG_INT, TRUE}, {NULL}};
static const VdQgaArg set_time_args[] = {{"time", VD_QGA_ARG_INT, TRUE}, {NULL}};
static const VdQgaArg set_vcpus_args[] = {{"vcpus", VD_QGA_ARG_ARRAY, FALSE}, {NULL}};
static const VdQgaArg set_memory_blocks_args[] = {{"mem-blks", VD_QGA_ARG_ARRAY, FALSE}, {NULL}};
static const VdQgaArg set_password_args[] = {
    {"username", VD_QGA_ARG_STRING, FALSE}, {"password", VD_QGA_ARG_STRING, FALSE}, {"crypted", VD_QGA_ARG_BOOL, FALSE},
    {NULL}};
static const VdQgaArg exec_args[] = {
    {"path", VD_QGA_ARG_STRING, FALSE}, {"arg", VD_QGA_ARG_ARRAY, TRUE}, {"env", VD_QGA_ARG_ARRAY, TRUE},
    {"input-data", VD_QGA_ARG_STRING, TRUE}, {"capture-output", VD_QGA_ARG_BOOL, TRUE}, {NULL}};
static const VdQgaArg exec_status_args[] = {{"pid", VD_QGA_ARG_INT, FALSE}, {NULL}};
static const VdQgaArg file_open_args[] = {{"path", VD_QGA_ARG_STRING, FALSE}, {"mode", VD_QGA_ARG_STRING, TRUE}, {NULL}};
static const VdQgaArg handle_args[] = {{"handle", VD_QGA_ARG_INT, FALSE}, {NULL}};
static const VdQgaArg file_read_args[] = {{"handle", VD_QGA_ARG_INT, FALSE}, {"count", VD_QGA_ARG_INT, TRUE}, {NULL}};
static const VdQgaArg file_write_args[] = {
    {"handle", VD_QGA_ARG_INT, FALSE}, {"buf-b64", VD_QGA_ARG_STRING, FALSE}, {"count", VD_QGA_ARG_INT, TRUE}, {NULL}};
static const VdQgaArg file_seek_args[] = {
    {"handle", VD_QGA_ARG_INT, FALSE}, {"offset", VD_QGA_ARG_INT, FALSE}, {"whence", VD_QGA_ARG_ANY, FALSE}, {NULL}};
static const VdQgaArg ssh_get_args[] = {{"username", VD_QGA_ARG_STRING, FALSE}, {NULL}};
static const VdQgaArg ssh_add_args[] = {
    {"username", VD_QGA_ARG_STRING, FALSE}, {"keys", VD_QGA_ARG_ARRAY, FALSE}, {"reset", VD_QGA_ARG_BOOL, TRUE}, {NULL}};
static const VdQgaArg ssh_remove_args[] = {
    {"username", VD_QGA_ARG_STRING, FALSE}, {"keys", VD_QGA_ARG_ARRAY, FALSE}, {NULL}};

static const VdQgaCommand commands[] = {
    {"guest-sync-delimited", cmd_sync_delimited, sync_args, TRUE, FALSE},
    {"guest-sync", cmd_sync, sync_args, TRUE, FALSE},
    {"guest-ping", cmd_ping, NULL, TRUE, FALSE},
    {"guest-info", cmd_info, NULL, TRUE, FALSE},
    {"guest-shutdown", cmd_shutdown, shutdown_args, FALSE, TRUE},
    {"guest-get-osinfo", cmd_get_osinfo, NULL, TRUE, FALSE},
    {"guest-get-host-name", cmd_get_host_name, NULL, TRUE, FALSE},
    {"guest-get-time", cmd_get_time, NULL, TRUE, FALSE},
    {"guest-get-timezone", cmd_get_timezone, NULL, TRUE, FALSE},
    {"guest-get-users", cmd_get_users, NULL, TRUE, FALSE},
    {"guest-get-vcpus", cmd_get_vcpus, NULL, TRUE, FALSE},
    /* qga-verbs.h */
    {"guest-network-get-interfaces", vd_qga_cmd_network_get_interfaces, NULL, TRUE, FALSE},
    {"guest-get-fsinfo", vd_qga_cmd_privileged, NULL, TRUE, FALSE},
    {"guest-get-disks", vd_qga_cmd_get_disks, NULL, TRUE, FALSE},
    {"guest-get-load", vd_qga_cmd_get_load, NULL, TRUE, FALSE},
    {"guest-get-memory-blocks", vd_qga_cmd_get_memory_blocks, NULL, TRUE, FALSE},
    {"guest-get-memory-block-info", vd_qga_cmd_get_memory_block_info, NULL, TRUE, FALSE},
    {"guest-suspend-ram", vd_qga_cmd_suspend_ram, NULL, FALSE, TRUE},
    {"guest-suspend-disk", vd_qga_cmd_suspend_disk, NULL, FALSE, TRUE},
    {"guest-suspend-hybrid", vd_qga_cmd_suspend_hybrid, NULL, FALSE, TRUE},
    /* qga-helper.h: the fs helper */
    {"guest-fsfreeze-status", vd_qga_cmd_privileged, NULL, TRUE, FALSE},
    {"guest-fsfreeze-freeze", vd_qga_cmd_privileged, NULL, TRUE, TRUE},
    {"guest-fsfreeze-freeze-list", vd_qga_cmd_privileged, freeze_list_args, TRUE, TRUE},
    {"guest-fsfreeze-thaw", vd_qga_cmd_privileged, NULL, TRUE, TRUE},
    {"guest-fstrim", vd_qga_cmd_privileged, fstrim_args, TRUE, TRUE},
    {"guest-set-time", vd_qga_cmd_privileged, set_time_args, TRUE, TRUE},
    {"guest-set-vcpus", vd_qga_cmd_privileged, set_vcpus_args, TRUE, TRUE},
    {"guest-set-memory-blocks", vd_qga_cmd_privileged, set_memory_blocks_args, TRUE, TRUE},
    {"guest-set-user-password", vd_qga_cmd_privileged, set_password_args, TRUE, TRUE},
    {"guest-ssh-get-authorized-keys", vd_qga_cmd_privileged, ssh_get_args, TRUE, FALSE},
    {"guest-ssh-add-authorized-keys", vd_qga_cmd_privileged, ssh_add_args, TRUE, TRUE},
    {"guest-ssh-remove-authorized-keys", vd_qga_cmd_privileged, ssh_remove_args, TRUE, TRUE},
    /* qga-shell.h: disabled unless the policy file enables them */
    {"guest-exec", vd_qga_cmd_exec, exec_args, TRUE, TRUE},
    {"guest-exec-status", vd_qga_cmd_exec_status, exec_status_args, TRUE, FALSE},
    {"guest-file-open", vd_qga_cmd_file_open, file_open_args, TRUE, TRUE},
    {"guest-file-close", vd_qga_cmd_file_close, handle_args, TRUE, FALSE},
    {"guest-file-read", vd_qga_cmd_file_read, file_read_args, TRUE, FALSE},
    {"guest-file-write", vd_qga_cmd_file_write, file_write_args, TRUE, TRUE},
    {"guest-file-seek", vd_qga_cmd_file_seek, file_seek_args, TRUE, FALSE},
    {"guest-file-flush", vd_qga_cmd_file_flush, handle_args, TRUE, FALSE},
};

const VdQgaCommand *vd_qga_commands(gsize *ret_n)
{
    *ret_n = G_N_ELEMENTS(commands);
    return commands;
}

const VdQgaCommand *vd_qga_command_find(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_str_equal(commands[i].name, name))
            return &commands[i];
    }
    return NULL;
}

gboolean vd_qga_command_is_shell(const char *name)
{
    return g_str_equal(name, "guest-exec") || g_str_equal(name, "guest-exec-status") ||
           g_str_has_prefix(name, "guest-file-");
}

gboolean vd_qga_command_is_known_elsewhere(const char *name)
{
    /* qemu-ga's other verbs, which administrators often list in allow/block policies. */
    static const char *const others[] = {
        "guest-get-devices", "guest-get-diskstats", "guest-get-cpustats", "guest-network-get-route",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(others); i++) {
        if (g_str_equal(others[i], name))
            return TRUE;
    }
    return FALSE;
}
