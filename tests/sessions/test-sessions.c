/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-sessions.c — src/system/sessions.c against a private dbus-daemon and python3-dbusmock's logind
 * template: the initial list, sessions coming and going, switches of the active session, locking,
 * pid lookups, logind going away and coming back, forged signals, and the limits.
 *
 * The tracker runs on its own connection; the test drives the mock over another one (synchronous
 * calls, which do not run the main loop), then runs the main loop until the tracker has seen the
 * change or a deadline passes. */
#include "sessions.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MOCK_IFACE "org.freedesktop.DBus.Mock"
#define LOGIND "org.freedesktop.login1"
#define MANAGER_PATH "/org/freedesktop/login1"
#define SESSION_PATH "/org/freedesktop/login1/session/"
/* What the tracker promises (src/system/sessions.c). */
#define EXPECTED_MAX_SESSIONS 1024u
#define EXPECTED_MAX_NAME 256u
#define EXPECTED_LOOKUP_TIMEOUT_MS 3000
#define WAIT_MS 10000

static struct {
    char *dir;
    char *address;
    GSubprocess *bus_daemon;
    GSubprocess *mock;
    GDBusConnection *ctl; /* drives the mock */
    GPtrArray *log;       /* messages logged at message level or above */
} env;

typedef struct {
    VdSessions *sessions;
    GDBusConnection *bus;
    guint changes;
} Tracker;

/* --- logging: record warnings so tests can assert on them; criticals stay fatal --- */

static GLogWriterOutput test_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                        gpointer data)
{
    const char *message = "";
    for (gsize i = 0; i < n_fields; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
            message = fields[i].value;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
        g_ptr_array_add(env.log, g_strdup(message));
    if (!(level & G_LOG_LEVEL_DEBUG) || g_getenv("VD_TEST_DEBUG"))
        g_printerr("# %s\n", message);
    return G_LOG_WRITER_HANDLED;
}

static bool log_contains(const char *needle)
{
    for (guint i = 0; i < env.log->len; i++)
        if (strstr(env.log->pdata[i], needle))
            return true;
    return false;
}

/* --- the bus and the mock --- */

static void die_with_parent(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocess *spawn(GSubprocessFlags flags, const char *const *argv)
{
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(flags);
    g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", env.address ? env.address : "", TRUE);
    g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
    g_autoptr(GError) error = NULL;
    GSubprocess *child = g_subprocess_launcher_spawnv(launcher, argv, &error);
    g_assert_no_error(error);
    return child;
}

static GDBusConnection *bus_connect(void)
{
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_for_address_sync(
        env.address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
    g_assert_no_error(error);
    return bus;
}

static void bus_start(void)
{
    const char *root = g_getenv("VD_SOURCE_ROOT") ? g_getenv("VD_SOURCE_ROOT") : ".";
    g_autofree char *conf = g_build_filename(root, "tests", "sessions", "system-bus.conf", NULL);
    g_autofree char *conf_arg = g_strdup_printf("--config-file=%s", conf);
    g_autofree char *address_arg = g_strdup_printf("--address=unix:path=%s/bus", env.dir);
    const char *argv[] = {"dbus-daemon", conf_arg, address_arg, "--print-address", "--nofork", NULL};
    env.bus_daemon = spawn(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, argv);
    g_autoptr(GDataInputStream) out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(env.bus_daemon));
    g_autoptr(GError) error = NULL;
    env.address = g_data_input_stream_read_line(out, NULL, NULL, &error); /* printed once listening */
    g_assert_no_error(error);
    g_assert_nonnull(env.address);
    env.ctl = bus_connect();
}

static bool name_has_owner(const char *name)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        env.ctl, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
        g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
    g_assert_nonnull(reply);
    gboolean has;
    g_variant_get(reply, "(b)", &has);
    return has;
}

static GVariant *call(const char *path, const char *iface, const char *method, GVariant *params)
{
    g_autoptr(GError) error = NULL;
    GVariant *reply = g_dbus_connection_call_sync(env.ctl, LOGIND, path, iface, method, params, NULL,
                                                  G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &error);
    g_assert_no_error(error);
    return reply;
}

/* A call whose answer does not matter (but must not be an error). */
static void mock_do(const char *path, const char *iface, const char *method, GVariant *params)
{
    g_variant_unref(call(path, iface, method, params));
}

static void mock_start(void)
{
    g_autofree char *logfile = g_build_filename(env.dir, "mock.log", NULL);
    const char *argv[] = {"/usr/bin/python3", "-m", "dbusmock", "--system", "--template", "logind",
                          "-l", logfile, NULL};
    env.mock = spawn(G_SUBPROCESS_FLAGS_NONE, argv);
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;
    while (!name_has_owner(LOGIND)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20 * 1000);
    }
    /* GetSessionByPID is not in the template: pids are mapped to sessions with MapPid. A session
     * named SLEEP makes GetSessionByPID hang for 4 s. */
    mock_do(MANAGER_PATH, MOCK_IFACE, "AddMethod",
                                  g_variant_new("(sssss)", "org.vdagent.Test", "MapPid", "us", "",
                                                "self.pids = getattr(self, 'pids', {})\n"
                                                "self.pids[int(args[0])] = args[1]"));
    mock_do(
        MANAGER_PATH, MOCK_IFACE, "AddMethod",
        g_variant_new("(sssss)", LOGIND ".Manager", "GetSessionByPID", "u", "o",
                      "pids = getattr(self, 'pids', {})\n"
                      "if int(args[0]) not in pids:\n"
                      "    raise dbus.exceptions.DBusException('no session for pid', "
                      "name='org.freedesktop.login1.NoSessionForPID')\n"
                      "if pids[int(args[0])] == 'SLEEP':\n"
                      "    import time\n"
                      "    time.sleep(4)\n"
                      "ret = dbus.ObjectPath('/org/freedesktop/login1/session/' + pids[int(args[0])])"));
}

static void mock_stop(void)
{
    g_subprocess_send_signal(env.mock, SIGTERM);
    g_autoptr(GError) error = NULL;
    g_subprocess_wait(env.mock, NULL, &error);
    g_assert_no_error(error);
    g_clear_object(&env.mock);
}

/* --- driving the mock --- */

static void emit(const char *path, const char *iface, const char *name, GVariant *args)
{
    mock_do(path, MOCK_IFACE, "EmitSignal",
                                 g_variant_new("(sss@av)", iface, name, args ? "so" : "",
                                               args ? args : g_variant_new_array(G_VARIANT_TYPE_VARIANT, NULL, 0)));
}

static GVariant *session_new_args(const char *id)
{
    g_autofree char *path = g_strconcat(SESSION_PATH, id, NULL);
    GVariant *items[] = {g_variant_new_variant(g_variant_new_string(id)),
                         g_variant_new_variant(g_variant_new_object_path(path))};
    return g_variant_new_array(G_VARIANT_TYPE_VARIANT, items, 2);
}

/* Adds a session to the mock; announce: emit SessionNew as logind does. */
static void add_session(const char *id, const char *seat, guint32 uid, const char *user, gboolean active,
                        bool announce)
{
    mock_do(MANAGER_PATH, MOCK_IFACE, "AddSession",
                                 g_variant_new("(ssusb)", id, seat, uid, user, active));
    if (announce)
        emit(MANAGER_PATH, LOGIND ".Manager", "SessionNew", session_new_args(id));
}

/* A bare session object with only what the tracker reads (cheap: no seat or user bookkeeping). */
static void add_session_raw(const char *id, const char *seat, guint32 uid, const char *user)
{
    g_autofree char *path = g_strconcat(SESSION_PATH, id, NULL);
    GVariantBuilder props;
    g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&props, "{sv}", "Id", g_variant_new_string(id));
    g_variant_builder_add(&props, "{sv}", "User", g_variant_new("(uo)", uid, "/org/freedesktop/login1/user/1"));
    g_variant_builder_add(&props, "{sv}", "Name", g_variant_new_string(user));
    g_variant_builder_add(&props, "{sv}", "Seat", g_variant_new("(so)", seat, "/"));
    g_variant_builder_add(&props, "{sv}", "Class", g_variant_new_string("user"));
    g_variant_builder_add(&props, "{sv}", "Type", g_variant_new_string("tty"));
    g_variant_builder_add(&props, "{sv}", "State", g_variant_new_string("online"));
    g_variant_builder_add(&props, "{sv}", "Active", g_variant_new_boolean(FALSE));
    g_variant_builder_add(&props, "{sv}", "LockedHint", g_variant_new_boolean(FALSE));
    g_variant_builder_add(&props, "{sv}", "Remote", g_variant_new_boolean(TRUE));
    mock_do(MANAGER_PATH, MOCK_IFACE, "AddObject",
                                 g_variant_new("(ssa{sv}a(ssss))", path, LOGIND ".Session", &props, NULL));
    emit(MANAGER_PATH, LOGIND ".Manager", "SessionNew", session_new_args(id));
}

static void remove_session(const char *id)
{
    g_autofree char *path = g_strconcat(SESSION_PATH, id, NULL);
    mock_do(MANAGER_PATH, MOCK_IFACE, "RemoveObject", g_variant_new("(s)", path));
    emit(MANAGER_PATH, LOGIND ".Manager", "SessionRemoved", session_new_args(id));
}

/* PropertiesChanged with values, as logind sends for Active and LockedHint. */
static void set_prop(const char *id, const char *prop, GVariant *value)
{
    g_autofree char *path = g_strconcat(SESSION_PATH, id, NULL);
    GVariantBuilder props;
    g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&props, "{sv}", prop, value);
    mock_do(path, MOCK_IFACE, "UpdateProperties",
                                 g_variant_new("(sa{sv})", LOGIND ".Session", &props));
}

/* The template's Session.Lock/Unlock emit the Lock/Unlock signals, as logind does. */
static void session_method(const char *id, const char *method)
{
    g_autofree char *path = g_strconcat(SESSION_PATH, id, NULL);
    mock_do(path, LOGIND ".Session", method, NULL);
}

static void map_pid(pid_t pid, const char *id)
{
    mock_do(MANAGER_PATH, "org.vdagent.Test", "MapPid",
                                 g_variant_new("(us)", (guint32)pid, id));
}

/* --- the tracker under test --- */

static void on_changed(VdSessions *sessions, void *data)
{
    Tracker *t = data;
    g_assert_true(sessions == t->sessions);
    t->changes++;
}

static Tracker *tracker_new(void)
{
    Tracker *t = g_new0(Tracker, 1);
    t->bus = bus_connect();
    t->sessions = vd_sessions_new_logind(t->bus, on_changed, t);
    g_assert_nonnull(t->sessions);
    return t;
}

static void tracker_free(Tracker *t)
{
    vd_sessions_free(t->sessions);
    g_dbus_connection_close_sync(t->bus, NULL, NULL);
    g_object_unref(t->bus);
    g_free(t);
}

typedef bool (*Condition)(Tracker *t, const void *arg);

static void iterate(void)
{
    if (!g_main_context_iteration(NULL, FALSE))
        g_usleep(1000);
}

static bool wait_for(Tracker *t, Condition cond, const void *arg)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;
    while (!cond(t, arg)) {
        if (g_get_monotonic_time() > deadline)
            return false;
        iterate();
    }
    return true;
}

/* Runs the loop for a while: for asserting that something does NOT happen. */
static void settle(int ms)
{
    gint64 until = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < until)
        iterate();
}

static bool is_ready(Tracker *t, const void *arg)
{
    return vd_sessions_ready(t->sessions) == (arg != NULL);
}

static bool has_session(Tracker *t, const void *id)
{
    return vd_sessions_get(t->sessions, id, NULL) == 0;
}

static bool lacks_session(Tracker *t, const void *id)
{
    return vd_sessions_get(t->sessions, id, NULL) == -ENOENT;
}

static bool active_is(Tracker *t, const void *id)
{
    return g_strcmp0(vd_sessions_active_on_seat(t->sessions, "seat0"), id) == 0;
}

typedef struct {
    const char *id;
    bool value;
} Flag;

typedef enum { FIELD_ACTIVE, FIELD_LOCKED, FIELD_REMOTE } Field;

static bool field_is(Tracker *t, const Flag *f, Field field)
{
    VdSessionInfo info = {0};
    if (vd_sessions_get(t->sessions, f->id, &info) != 0)
        return false;
    bool value = field == FIELD_ACTIVE ? info.active : field == FIELD_LOCKED ? info.locked : info.remote;
    vd_session_info_clear(&info);
    return value == f->value;
}

static bool locked_is(Tracker *t, const void *arg)
{
    return field_is(t, arg, FIELD_LOCKED);
}

static bool info_active_is(Tracker *t, const void *arg)
{
    return field_is(t, arg, FIELD_ACTIVE);
}

static bool remote_is(Tracker *t, const void *arg)
{
    return field_is(t, arg, FIELD_REMOTE);
}

/* A fresh logind with no sessions. */
static void reset_mock(void)
{
    if (env.mock)
        mock_stop();
    mock_start();
    g_ptr_array_set_size(env.log, 0);
}

/* Two users on seat0 (alice active), as most cases start. */
static Tracker *two_users(void)
{
    reset_mock();
    add_session("1", "seat0", 1001, "alice", TRUE, false);
    add_session("2", "seat0", 1002, "bob", FALSE, false);
    Tracker *t = tracker_new();
    g_assert_true(wait_for(t, is_ready, t));
    return t;
}

/* --- cases --- */

static void test_none(void)
{
    VdSessions *none = vd_sessions_new_none();
    g_assert_true(vd_sessions_ready(none));
    g_assert_false(vd_sessions_tracking(none));
    g_assert_cmpint(vd_sessions_get(none, "1", NULL), ==, -ENOENT);
    g_assert_null(vd_sessions_active_on_seat(none, "seat0"));
    g_autoptr(GPtrArray) list = vd_sessions_list(none);
    g_assert_cmpuint(list->len, ==, 0);
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    vd_sessions_status(none, builder);
    json_builder_end_object(builder);
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autofree char *json = json_to_string(root, FALSE);
    g_assert_cmpstr(json, ==, "{\"session_tracking\":\"none\",\"sessions\":[]}");

    vd_sessions_free(none);
    vd_sessions_free(NULL);
}

static void test_initial_list(void)
{
    reset_mock();
    add_session("2", "seat0", 1002, "bob", FALSE, false);
    add_session("10", "seat0", 1003, "carol", FALSE, false);
    add_session("1", "seat0", 1001, "alice", TRUE, false);
    add_session("c1", "seat1", 1001, "alice", TRUE, false);
    Tracker *t = tracker_new();
    g_assert_false(vd_sessions_ready(t->sessions));
    g_assert_true(vd_sessions_tracking(t->sessions));
    g_assert_true(wait_for(t, is_ready, t));
    settle(50);
    g_assert_cmpuint(t->changes, >=, 1);

    g_autoptr(GPtrArray) list = vd_sessions_list(t->sessions);
    g_assert_cmpuint(list->len, ==, 4);
    const char *order[] = {"1", "2", "10", "c1"};
    for (guint i = 0; i < 4; i++)
        g_assert_cmpstr(((VdSessionInfo *)list->pdata[i])->id, ==, order[i]);

    VdSessionInfo info = {0};
    g_assert_cmpint(vd_sessions_get(t->sessions, "2", &info), ==, 0);
    g_assert_cmpstr(info.id, ==, "2");
    g_assert_cmpuint(info.uid, ==, 1002);
    g_assert_cmpstr(info.user, ==, "bob");
    g_assert_cmpstr(info.seat, ==, "seat0");
    g_assert_cmpstr(info.klass, ==, "user");
    g_assert_cmpstr(info.type, ==, "test");
    g_assert_cmpstr(info.state, ==, "online");
    g_assert_false(info.active);
    g_assert_false(info.locked);
    g_assert_false(info.remote);
    vd_session_info_clear(&info);
    g_assert_cmpint(vd_sessions_get(t->sessions, "3", &info), ==, -ENOENT);
    g_assert_null(info.id);

    g_assert_cmpstr(vd_sessions_active_on_seat(t->sessions, "seat0"), ==, "1");
    g_assert_cmpstr(vd_sessions_active_on_seat(t->sessions, "seat1"), ==, "c1");
    g_assert_null(vd_sessions_active_on_seat(t->sessions, "seat2"));
    g_assert_null(vd_sessions_active_on_seat(t->sessions, ""));
    g_assert_null(vd_sessions_active_on_seat(t->sessions, NULL));

    /* The status JSON of vdagent-ctl. */
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    vd_sessions_status(t->sessions, builder);
    json_builder_end_object(builder);
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    JsonObject *obj = json_node_get_object(root);
    g_assert_cmpstr(json_object_get_string_member(obj, "session_tracking"), ==, "logind");
    JsonArray *arr = json_object_get_array_member(obj, "sessions");
    g_assert_cmpuint(json_array_get_length(arr), ==, 4);
    JsonObject *first = json_array_get_object_element(arr, 0);
    g_assert_cmpstr(json_object_get_string_member(first, "id"), ==, "1");
    g_assert_cmpint(json_object_get_int_member(first, "uid"), ==, 1001);
    g_assert_cmpstr(json_object_get_string_member(first, "user"), ==, "alice");
    g_assert_cmpstr(json_object_get_string_member(first, "seat"), ==, "seat0");
    g_assert_cmpstr(json_object_get_string_member(first, "class"), ==, "user");
    g_assert_cmpstr(json_object_get_string_member(first, "type"), ==, "test");
    g_assert_cmpstr(json_object_get_string_member(first, "state"), ==, "active");
    g_assert_true(json_object_get_boolean_member(first, "active"));
    g_assert_false(json_object_get_boolean_member(first, "locked"));
    g_assert_false(json_object_get_boolean_member(first, "remote"));
    tracker_free(t);
}

static void test_session_new(void)
{
    Tracker *t = two_users();
    settle(20);
    guint before = t->changes;
    add_session("3", "seat0", 1003, "carol", FALSE, true);
    g_assert_true(wait_for(t, has_session, "3"));
    settle(20);
    g_assert_cmpuint(t->changes, >, before);
    VdSessionInfo info = {0};
    g_assert_cmpint(vd_sessions_get(t->sessions, "3", &info), ==, 0);
    g_assert_cmpuint(info.uid, ==, 1003);
    g_assert_cmpstr(info.user, ==, "carol");
    vd_session_info_clear(&info);
    g_assert_cmpstr(vd_sessions_active_on_seat(t->sessions, "seat0"), ==, "1");
    tracker_free(t);
}

static void test_switch(void)
{
    Tracker *t = two_users();
    settle(20);
    g_assert_cmpstr(vd_sessions_active_on_seat(t->sessions, "seat0"), ==, "1");
    /* Mid-switch both claim seat0: neither is trusted. */
    guint before = t->changes;
    set_prop("2", "Active", g_variant_new_boolean(TRUE));
    g_assert_true(wait_for(t, info_active_is, &(Flag){"2", true}));
    g_assert_null(vd_sessions_active_on_seat(t->sessions, "seat0"));
    set_prop("1", "Active", g_variant_new_boolean(FALSE));
    g_assert_true(wait_for(t, active_is, "2"));
    settle(20);
    g_assert_cmpuint(t->changes, >, before);
    /* And back, in the other order: briefly no active session. */
    set_prop("2", "Active", g_variant_new_boolean(FALSE));
    g_assert_true(wait_for(t, active_is, NULL));
    set_prop("1", "Active", g_variant_new_boolean(TRUE));
    g_assert_true(wait_for(t, active_is, "1"));
    /* Many changes in one go: at least one callback, never more than one per change. */
    settle(20);
    before = t->changes;
    for (int i = 0; i < 20; i++)
        set_prop("2", "Remote", g_variant_new_boolean(i % 2 == 1));
    g_assert_true(wait_for(t, remote_is, &(Flag){"2", true}));
    settle(50);
    g_test_message("20 changes, %u callbacks", t->changes - before);
    g_assert_cmpuint(t->changes - before, >=, 1);
    g_assert_cmpuint(t->changes - before, <=, 20);
    /* A change that changes nothing calls nobody. */
    before = t->changes;
    set_prop("2", "Remote", g_variant_new_boolean(TRUE));
    settle(100);
    g_assert_cmpuint(t->changes, ==, before);
    tracker_free(t);
}

static void test_lock(void)
{
    Tracker *t = two_users();
    /* LockedHint, as a screen locker sets it. */
    set_prop("1", "LockedHint", g_variant_new_boolean(TRUE));
    g_assert_true(wait_for(t, locked_is, &(Flag){"1", true}));
    set_prop("1", "LockedHint", g_variant_new_boolean(FALSE));
    g_assert_true(wait_for(t, locked_is, &(Flag){"1", false}));
    /* Lock and Unlock signals (loginctl lock-session / unlock-session). */
    settle(20);
    guint before = t->changes;
    session_method("1", "Lock");
    g_assert_true(wait_for(t, locked_is, &(Flag){"1", true}));
    settle(20);
    g_assert_cmpuint(t->changes, >, before);
    /* Still locked while only unrelated properties change. */
    set_prop("1", "Remote", g_variant_new_boolean(TRUE));
    g_assert_true(wait_for(t, remote_is, &(Flag){"1", true}));
    g_assert_true(locked_is(t, &(Flag){"1", true}));
    session_method("1", "Unlock");
    g_assert_true(wait_for(t, locked_is, &(Flag){"1", false}));
    /* Lock, then the locker engages and is unlocked by the user, who never sends Unlock. */
    session_method("2", "Lock");
    g_assert_true(wait_for(t, locked_is, &(Flag){"2", true}));
    set_prop("2", "LockedHint", g_variant_new_boolean(TRUE));
    settle(20);
    g_assert_true(locked_is(t, &(Flag){"2", true}));
    set_prop("2", "LockedHint", g_variant_new_boolean(FALSE));
    g_assert_true(wait_for(t, locked_is, &(Flag){"2", false}));
    /* The other session was not affected. */
    g_assert_true(locked_is(t, &(Flag){"1", false}));
    tracker_free(t);
}

static void test_session_removed(void)
{
    Tracker *t = two_users();
    settle(20);
    guint before = t->changes;
    remove_session("2");
    g_assert_true(wait_for(t, lacks_session, "2"));
    settle(20);
    g_assert_cmpuint(t->changes, >, before);
    g_autoptr(GPtrArray) list = vd_sessions_list(t->sessions);
    g_assert_cmpuint(list->len, ==, 1);
    /* The active one goes: no active session on the seat. */
    remove_session("1");
    g_assert_true(wait_for(t, active_is, NULL));
    g_assert_true(lacks_session(t, "1"));
    tracker_free(t);
}

typedef struct {
    bool done;
    char *id;
    GError *error;
    gint64 finished;
} LookupResult;

static void on_lookup(const char *session_id, const GError *error, void *data)
{
    LookupResult *r = data;
    g_assert_false(r->done); /* exactly once */
    g_assert_true((session_id == NULL) != (error == NULL));
    r->done = true;
    r->id = g_strdup(session_id);
    r->error = error ? g_error_copy(error) : NULL;
    r->finished = g_get_monotonic_time();
}

static bool lookup_done(Tracker *t, const void *arg)
{
    return ((const LookupResult *)arg)->done;
}

static void lookup_result_clear(LookupResult *r)
{
    g_free(r->id);
    g_clear_error(&r->error);
    *r = (LookupResult){0};
}

static void test_lookup_none(void)
{
    VdSessions *none = vd_sessions_new_none();
    LookupResult r = {0};
    vd_sessions_lookup_pid(none, getpid(), NULL, on_lookup, &r);
    g_assert_false(r.done); /* never from inside the call */
    while (!r.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    lookup_result_clear(&r);
    vd_sessions_free(none);
}

static void test_lookup_pid(void)
{
    Tracker *t = two_users();
    map_pid(4242, "2");
    map_pid(getpid(), "1");
    LookupResult r = {0};
    vd_sessions_lookup_pid(t->sessions, 4242, NULL, on_lookup, &r);
    g_assert_false(r.done); /* never from inside the call */
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_no_error(r.error);
    g_assert_cmpstr(r.id, ==, "2");
    lookup_result_clear(&r);

    vd_sessions_lookup_pid(t->sessions, getpid(), NULL, on_lookup, &r);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_cmpstr(r.id, ==, "1");
    lookup_result_clear(&r);

    /* A pid without a session. */
    vd_sessions_lookup_pid(t->sessions, 4343, NULL, on_lookup, &r);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(r.error->message, "no session for pid 4343"));
    lookup_result_clear(&r);

    /* pid 0 would ask for our own session: refused without asking. */
    vd_sessions_lookup_pid(t->sessions, 0, NULL, on_lookup, &r);
    g_assert_false(r.done);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    lookup_result_clear(&r);
    vd_sessions_lookup_pid(t->sessions, -1, NULL, on_lookup, &r);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_nonnull(r.error);
    lookup_result_clear(&r);

    /* A session logind has not announced yet: the answer waits until the tracker knows it, so
     * that vd_sessions_get() on the id succeeds at once. */
    add_session("7", "seat0", 1007, "dave", FALSE, false);
    map_pid(4444, "7");
    vd_sessions_lookup_pid(t->sessions, 4444, NULL, on_lookup, &r);
    settle(200);
    g_assert_false(r.done);
    emit(MANAGER_PATH, LOGIND ".Manager", "SessionNew", session_new_args("7"));
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_cmpstr(r.id, ==, "7");
    g_assert_cmpint(vd_sessions_get(t->sessions, "7", NULL), ==, 0);
    lookup_result_clear(&r);

    /* Cancelled by the caller: called back with CANCELLED, once. */
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    vd_sessions_lookup_pid(t->sessions, 4242, cancel, on_lookup, &r);
    g_cancellable_cancel(cancel);
    g_assert_false(r.done);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    settle(100);
    lookup_result_clear(&r);
    /* Already cancelled before the call. */
    vd_sessions_lookup_pid(t->sessions, 4242, cancel, on_lookup, &r);
    g_assert_false(r.done);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    lookup_result_clear(&r);

    /* The tracker freed while a lookup is in flight: the lookup still finishes, by itself. */
    vd_sessions_lookup_pid(t->sessions, 4242, NULL, on_lookup, &r);
    vd_sessions_free(t->sessions);
    t->sessions = NULL;
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_cmpstr(r.id, ==, "2");
    lookup_result_clear(&r);
    tracker_free(t);
}

static void on_lookup_async(GObject *source, GAsyncResult *result, gpointer data)
{
    LookupResult *r = data;
    g_assert_false(r->done);
    r->id = vd_sessions_lookup_pid_finish(NULL, result, &r->error);
    g_assert_true((r->id == NULL) != (r->error == NULL));
    r->done = true;
}

/* The GTask form: the id, then an error, each delivered from the main loop. */
static void test_lookup_async(void)
{
    Tracker *t = two_users();
    map_pid(4242, "2");
    LookupResult r = {0};
    vd_sessions_lookup_pid_async(t->sessions, 4242, NULL, on_lookup_async, &r);
    g_assert_false(r.done);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_no_error(r.error);
    g_assert_cmpstr(r.id, ==, "2");
    lookup_result_clear(&r);

    vd_sessions_lookup_pid_async(t->sessions, 0, NULL, on_lookup_async, &r);
    g_assert_false(r.done);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    lookup_result_clear(&r);
    tracker_free(t);
}

static void test_lookup_timeout(void)
{
    Tracker *t = two_users();
    map_pid(4545, "SLEEP");
    LookupResult r = {0};
    gint64 start = g_get_monotonic_time();
    vd_sessions_lookup_pid(t->sessions, 4545, NULL, on_lookup, &r);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    gint64 took_ms = (r.finished - start) / 1000;
    g_test_message("lookup gave up after %" G_GINT64_FORMAT " ms", took_ms);
    g_assert_cmpint(took_ms, >=, EXPECTED_LOOKUP_TIMEOUT_MS - 100);
    g_assert_cmpint(took_ms, <, EXPECTED_LOOKUP_TIMEOUT_MS + 900);
    lookup_result_clear(&r);
    tracker_free(t);
}

static void test_lookup_cap(void)
{
    Tracker *t = two_users();
    map_pid(4545, "SLEEP");
    enum { N = 70 };
    LookupResult r[N] = {0};
    for (int i = 0; i < N; i++)
        vd_sessions_lookup_pid(t->sessions, 4545, NULL, on_lookup, &r[i]);
    unsigned refused = 0, timed_out = 0;
    for (int i = 0; i < N; i++) {
        g_assert_true(wait_for(t, lookup_done, &r[i]));
        if (g_error_matches(r[i].error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            timed_out++;
        else if (r[i].error && strstr(r[i].error->message, "too many session lookups"))
            refused++;
        lookup_result_clear(&r[i]);
    }
    g_assert_cmpuint(timed_out, ==, 64);
    g_assert_cmpuint(refused, ==, N - 64);
    tracker_free(t);
}

static void test_logind_restart(void)
{
    Tracker *t = two_users();
    session_method("2", "Lock");
    g_assert_true(wait_for(t, locked_is, &(Flag){"2", true}));
    mock_stop();
    /* Gone: sessions are kept, none is active, lookups fail at once. */
    g_assert_true(wait_for(t, is_ready, NULL));
    g_assert_true(wait_for(t, active_is, NULL));
    g_assert_true(has_session(t, "1"));
    g_assert_true(has_session(t, "2"));
    g_assert_false(info_active_is(t, &(Flag){"1", true}));
    g_assert_true(log_contains("logind: gone"));
    LookupResult r = {0};
    vd_sessions_lookup_pid(t->sessions, getpid(), NULL, on_lookup, &r);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_nonnull(r.error);
    lookup_result_clear(&r);

    /* Back, with bob active, alice's session gone and a new one: the view follows. */
    settle(20);
    guint before = t->changes;
    mock_start();
    add_session("2", "seat0", 1002, "bob", TRUE, false);
    add_session("5", "seat0", 1005, "erin", FALSE, false);
    g_assert_true(wait_for(t, is_ready, t));
    g_assert_true(wait_for(t, active_is, "2"));
    g_assert_true(lacks_session(t, "1"));
    g_assert_true(has_session(t, "5"));
    settle(20);
    g_assert_cmpuint(t->changes, >, before);
    /* A Lock seen before the restart still holds: nothing said Unlock. */
    g_assert_true(locked_is(t, &(Flag){"2", true}));
    map_pid(getpid(), "2");
    vd_sessions_lookup_pid(t->sessions, getpid(), NULL, on_lookup, &r);
    g_assert_true(wait_for(t, lookup_done, &r));
    g_assert_cmpstr(r.id, ==, "2");
    lookup_result_clear(&r);
    tracker_free(t);
}

/* logind too busy to answer: the tracker asks again rather than giving up. */
static void test_retries(void)
{
    reset_mock();
    add_session("1", "seat0", 1001, "alice", TRUE, false);
    /* The first ListSessions fails. */
    mock_do(
        MANAGER_PATH, MOCK_IFACE, "AddMethod",
        g_variant_new("(sssss)", LOGIND ".Manager", "ListSessions", "", "a(susso)",
                      "self.vd_lists = getattr(self, 'vd_lists', 0) + 1\n"
                      "if self.vd_lists == 1:\n"
                      "    raise dbus.exceptions.DBusException('busy', name='org.freedesktop.DBus.Error.Failed')\n"
                      "ret = [(k.split('/')[-1], o.Get('org.freedesktop.login1.Session', 'User')[0],\n"
                      "        o.Get('org.freedesktop.login1.Session', 'Name'),\n"
                      "        o.Get('org.freedesktop.login1.Session', 'Seat')[0], k)\n"
                      "       for k, o in objects.items() if '/session/' in k]"));
    Tracker *t = tracker_new();
    g_assert_true(wait_for(t, is_ready, t));
    g_assert_true(log_contains("ListSessions failed"));
    g_assert_true(active_is(t, "1"));

    /* A GetAll that times out (the mock is stuck in a slow call) is sent again. */
    map_pid(4545, "SLEEP");
    add_session("2", "seat0", 1002, "bob", FALSE, true);
    LookupResult lr = {0};
    vd_sessions_lookup_pid(t->sessions, 4545, NULL, on_lookup, &lr); /* the mock sleeps 4 s */
    g_assert_true(wait_for(t, has_session, "2"));
    g_assert_true(log_contains("reading session \"2\" timed out; trying again"));
    g_assert_true(wait_for(t, lookup_done, &lr));
    lookup_result_clear(&lr);
    tracker_free(t);
}

static void test_logind_absent_at_start(void)
{
    reset_mock();
    mock_stop();
    Tracker *t = tracker_new();
    settle(200);
    g_assert_false(vd_sessions_ready(t->sessions));
    g_autoptr(GPtrArray) list = vd_sessions_list(t->sessions);
    g_assert_cmpuint(list->len, ==, 0);
    mock_start();
    add_session("1", "seat0", 1001, "alice", TRUE, true);
    g_assert_true(wait_for(t, is_ready, t));
    g_assert_true(wait_for(t, active_is, "1"));
    tracker_free(t);
}

static void count_signal(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                         const char *member, GVariant *params, gpointer data)
{
    (*(guint *)data)++;
}

/* Anyone on the bus can send a signal addressed to the tracker: only logind's own count. */
static void test_forged_signals(void)
{
    Tracker *t = two_users();
    g_autoptr(GDBusConnection) forger = bus_connect();
    const char *victim = g_dbus_connection_get_unique_name(t->bus);
    /* Proof that the forged signals do reach the tracker's connection. */
    guint delivered = 0;
    guint sub = g_dbus_connection_signal_subscribe(t->bus, g_dbus_connection_get_unique_name(forger), NULL,
                                                   NULL, NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE, count_signal,
                                                   &delivered, NULL);
    g_autoptr(GError) error = NULL;
    GVariantBuilder props;
    g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&props, "{sv}", "Active", g_variant_new_boolean(TRUE));
    g_variant_builder_add(&props, "{sv}", "LockedHint", g_variant_new_boolean(FALSE));
    g_dbus_connection_emit_signal(forger, victim, SESSION_PATH "2", "org.freedesktop.DBus.Properties",
                                  "PropertiesChanged",
                                  g_variant_new("(sa{sv}as)", LOGIND ".Session", &props, NULL), &error);
    g_assert_no_error(error);
    g_dbus_connection_emit_signal(forger, victim, SESSION_PATH "1", LOGIND ".Session", "Lock", NULL, &error);
    g_assert_no_error(error);
    g_dbus_connection_emit_signal(forger, victim, MANAGER_PATH, LOGIND ".Manager", "SessionRemoved",
                                  g_variant_new("(so)", "1", SESSION_PATH "1"), &error);
    g_assert_no_error(error);
    /* Broadcast too. */
    g_dbus_connection_emit_signal(forger, NULL, MANAGER_PATH, LOGIND ".Manager", "SessionRemoved",
                                  g_variant_new("(so)", "1", SESSION_PATH "1"), &error);
    g_assert_no_error(error);
    g_dbus_connection_flush_sync(forger, NULL, &error);
    g_assert_no_error(error);
    /* A real change after the forged ones: once it is seen, the forged ones have been handled. */
    set_prop("2", "Remote", g_variant_new_boolean(TRUE));
    g_assert_true(wait_for(t, remote_is, &(Flag){"2", true}));
    settle(50);
    g_assert_cmpstr(vd_sessions_active_on_seat(t->sessions, "seat0"), ==, "1");
    g_assert_true(info_active_is(t, &(Flag){"2", false}));
    g_assert_true(locked_is(t, &(Flag){"1", false}));
    g_assert_true(has_session(t, "1"));
    g_assert_cmpuint(delivered, >=, 3);
    g_dbus_connection_signal_unsubscribe(t->bus, sub);
    /* GLib itself drops unicast signals from non-owners since the fix for CVE-2024-34397; where it
     * does not, the tracker's own check logs them. Either way they had no effect (asserted above). */
    g_test_message("forged signals %s", log_contains("which is not logind") ? "rejected by the tracker"
                                                                             : "dropped by GDBus already");
    tracker_free(t);
}

static void test_limits(void)
{
    Tracker *t = two_users();
    /* A name over the limit: not tracked at all, rather than cut. */
    g_autofree char *long_name = g_strnfill(EXPECTED_MAX_NAME + 1, 'x');
    g_autofree char *max_name = g_strnfill(EXPECTED_MAX_NAME, 'y');
    add_session_raw("20", "seat0", 2000, long_name);
    add_session_raw("21", "seat0", 2001, max_name);
    /* An id logind would never make (letters and digits only). */
    add_session_raw("a_b", "seat0", 2002, "mallory");
    g_assert_true(wait_for(t, has_session, "21"));
    settle(100);
    g_assert_true(lacks_session(t, "20"));
    g_assert_true(lacks_session(t, "a_b"));
    g_assert_true(log_contains("longer than 256 bytes"));
    g_assert_true(log_contains("invalid id"));
    /* A property of the wrong type is ignored. */
    set_prop("21", "Active", g_variant_new_string("yes"));
    set_prop("21", "Remote", g_variant_new_boolean(FALSE));
    g_assert_true(wait_for(t, remote_is, &(Flag){"21", false}));
    g_assert_true(info_active_is(t, &(Flag){"21", false}));
    g_assert_true(log_contains("unexpected type"));

    /* The number of sessions. Sessions that failed validation do not count. */
    g_autoptr(GPtrArray) before = vd_sessions_list(t->sessions);
    guint have = before->len;
    g_assert_cmpuint(have, ==, 3);
    for (guint i = have; i < EXPECTED_MAX_SESSIONS + 10; i++) {
        g_autofree char *id = g_strdup_printf("%u", 100 + i);
        add_session_raw(id, "", 3000 + i, "ssh-user");
    }
    g_autofree char *last_kept = g_strdup_printf("%u", 100 + EXPECTED_MAX_SESSIONS - 1);
    g_autofree char *first_dropped = g_strdup_printf("%u", 100 + EXPECTED_MAX_SESSIONS);
    g_assert_true(wait_for(t, has_session, last_kept));
    settle(300);
    g_autoptr(GPtrArray) list = vd_sessions_list(t->sessions);
    g_assert_cmpuint(list->len, ==, EXPECTED_MAX_SESSIONS);
    g_assert_true(lacks_session(t, first_dropped));
    g_assert_true(log_contains("more than 1024 sessions"));
    /* Room again once sessions go. */
    for (guint i = 0; i < 5; i++) {
        g_autofree char *id = g_strdup_printf("%u", 100 + have + i);
        remove_session(id);
    }
    add_session("9000", "seat0", 9000, "late", FALSE, true);
    g_assert_true(wait_for(t, has_session, "9000"));
    tracker_free(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
    env.log = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(test_log_writer, NULL, NULL);
    g_autoptr(GError) error = NULL;
    env.dir = g_dir_make_tmp("vd-sessions-XXXXXX", &error);
    g_assert_no_error(error);
    bus_start();

    g_test_add_func("/sessions/none", test_none);
    g_test_add_func("/sessions/lookup-without-tracking", test_lookup_none);
    g_test_add_func("/sessions/initial-list", test_initial_list);
    g_test_add_func("/sessions/session-new", test_session_new);
    g_test_add_func("/sessions/active-switch", test_switch);
    g_test_add_func("/sessions/lock-unlock", test_lock);
    g_test_add_func("/sessions/session-removed", test_session_removed);
    g_test_add_func("/sessions/lookup-pid", test_lookup_pid);
    g_test_add_func("/sessions/lookup-async", test_lookup_async);
    g_test_add_func("/sessions/lookup-timeout", test_lookup_timeout);
    g_test_add_func("/sessions/lookup-cap", test_lookup_cap);
    g_test_add_func("/sessions/logind-gone-and-back", test_logind_restart);
    g_test_add_func("/sessions/logind-absent-at-start", test_logind_absent_at_start);
    g_test_add_func("/sessions/retries", test_retries);
    g_test_add_func("/sessions/forged-signals", test_forged_signals);
    g_test_add_func("/sessions/limits", test_limits);
    int status = g_test_run();

    if (env.mock)
        mock_stop();
    g_object_unref(env.ctl);
    g_subprocess_send_signal(env.bus_daemon, SIGTERM);
    g_subprocess_wait(env.bus_daemon, NULL, NULL);
    g_object_unref(env.bus_daemon);
    g_autofree char *logfile = g_build_filename(env.dir, "mock.log", NULL);
    g_autofree char *socket = g_build_filename(env.dir, "bus", NULL);
    unlink(logfile);
    unlink(socket);
    rmdir(env.dir);
    g_free(env.dir);
    g_free(env.address);
    g_ptr_array_unref(env.log);
    return status;
}
