/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spice-client.c — a headless SPICE client for the VM tests, on spice-client-glib-2.0 (what virt-manager and
 * remote-viewer use). It plays the viewer against QEMU's SPICE server so the test can check what reaches the
 * agent in the guest. Driven by a line protocol: one command per line on stdin, one reply per command on
 * stdout ("ok …" or "err …"), and asynchronous "event …" lines whenever something arrives from the guest.
 *
 *   spice-client URI            e.g. spice+unix:///tmp/x/spice.sock
 *
 * Commands:
 *   connect                     connect the session (main + inputs channels)
 *   wait-agent SECONDS          wait until the guest agent is connected and its capabilities known
 *   grab SEL FILE               own selection SEL (0 CLIPBOARD, 1 PRIMARY) with the bytes of FILE as UTF8_TEXT
 *   release SEL                 release selection SEL
 *   request SEL                 ask the guest for SEL's text: the data comes as an "event data" line
 *   save-next FILE              write the next clipboard data received from the guest to FILE
 *   monitors WxH+X+Y …          send a monitors config (display ids in order, others disabled)
 *   mouse-mode                  request client mouse mode: "ok mode=N" once the server switched
 *   position DISPLAY X Y        client-mode pointer position on display DISPLAY
 *   click BUTTON DISPLAY X Y    press and release BUTTON (1 left, 2 middle, 3 right, 4/5 wheel) there
 *   copy-file FILE              spice_main_channel_file_copy_async: "ok" when the agent reported success
 *   disconnect                  disconnect the session ("ok" once the main channel closed)
 *   quit
 * Events:
 *   event agent CONNECTED       the agent connected (1) or went away (0)
 *   event grab SEL TYPES…       the guest grabbed a selection
 *   event release SEL           the guest released it
 *   event data SEL TYPE SIZE SHA256 [HEX]   data from the guest (HEX of the bytes when SIZE <= 256)
 *   event request SEL TYPE      the guest asked for our selection (answered from the grab's file)
 *   event mouse-mode N
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib-unix.h>
#include <spice-client.h>

/* VD_AGENT_CLIPBOARD_UTF8_TEXT (spice/vd_agent.h is not -Wpedantic clean, so not included) */
#define CLIPBOARD_UTF8_TEXT 1

#define MAX_SELECTIONS 2
#define MAX_MONITORS 16
#define HEX_LIMIT 256

typedef struct {
    GMainLoop *loop;
    char *uri;
    SpiceSession *session;
    SpiceMainChannel *main;
    SpiceInputsChannel *inputs;
    GBytes *owned[MAX_SELECTIONS];
    char *save_next;
    guint agent_poll;
    gint64 agent_deadline;
    guint button_state;
    /* ids of commands whose reply waits for something (0: none) */
    guint64 agent_id;
    guint64 mouse_id;
    guint64 disconnect_id;
} Client;

typedef struct {
    Client *client;
    guint64 id;
} CopyTask;

static void emit(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void reply(guint64 id, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* An "event …" line (or "ready"). */
static void emit(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* The reply to command ID: "ID ok …" / "ID err …". */
static void reply(guint64 id, const char *fmt, ...)
{
    va_list ap;

    printf("%" G_GUINT64_FORMAT " ", id);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static char *bytes_hex(const guint8 *data, gsize size)
{
    GString *s = g_string_sized_new(size * 2 + 1);

    for (gsize i = 0; i < size; i++)
        g_string_append_printf(s, "%02x", data[i]);
    return g_string_free(s, FALSE);
}

/* -- main channel signals ---------------------------------------------------------------------------------- */

static void on_agent_update(SpiceChannel *channel, gpointer user_data)
{
    gboolean connected = FALSE;

    g_object_get(channel, "agent-connected", &connected, NULL);
    emit("event agent %d", connected ? 1 : 0);
}

static gboolean on_selection_grab(SpiceMainChannel *main, guint selection, guint32 *types, guint ntypes,
                                  gpointer user_data)
{
    g_autoptr(GString) line = g_string_new(NULL);

    g_string_printf(line, "event grab %u", selection);
    for (guint i = 0; i < ntypes; i++)
        g_string_append_printf(line, " %u", types[i]);
    emit("%s", line->str);
    return TRUE;
}

static void on_selection_release(SpiceMainChannel *main, guint selection, gpointer user_data)
{
    emit("event release %u", selection);
}

static void on_selection_data(SpiceMainChannel *main, guint selection, guint type, const guint8 *data,
                              guint size, gpointer user_data)
{
    Client *c = user_data;
    g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);

    if (c->save_next) {
        g_autoptr(GError) error = NULL;

        if (!g_file_set_contents(c->save_next, (const char *)data, size, &error))
            emit("event save-failed %s", error->message);
        g_clear_pointer(&c->save_next, g_free);
    }
    if (size <= HEX_LIMIT) {
        g_autofree char *hex = bytes_hex(data, size);

        emit("event data %u %u %u %s %s", selection, type, size, sum, hex);
    } else {
        emit("event data %u %u %u %s", selection, type, size, sum);
    }
}

static gboolean on_selection_request(SpiceMainChannel *main, guint selection, guint type, gpointer user_data)
{
    Client *c = user_data;

    emit("event request %u %u", selection, type);
    if (selection >= MAX_SELECTIONS || !c->owned[selection] || type != CLIPBOARD_UTF8_TEXT)
        return FALSE;
    gsize size = 0;
    const guchar *data = g_bytes_get_data(c->owned[selection], &size);
    spice_main_channel_clipboard_selection_notify(main, selection, type, data, size);
    return TRUE;
}

static void on_mouse_update(SpiceChannel *channel, gpointer user_data)
{
    Client *c = user_data;
    int mode = 0;

    g_object_get(channel, "mouse-mode", &mode, NULL);
    emit("event mouse-mode %d", mode);
    if (c->mouse_id && mode == SPICE_MOUSE_MODE_CLIENT) {
        reply(c->mouse_id, "ok mode=%d", mode);
        c->mouse_id = 0;
    }
}

static void on_channel_event(SpiceChannel *channel, SpiceChannelEvent event, gpointer user_data)
{
    Client *c = user_data;

    if (event == SPICE_CHANNEL_CLOSED && c->disconnect_id && SPICE_IS_MAIN_CHANNEL(channel)) {
        reply(c->disconnect_id, "ok");
        c->disconnect_id = 0;
    } else if (event != SPICE_CHANNEL_OPENED && event != SPICE_CHANNEL_CLOSED) {
        emit("event channel-error %d", (int)event);
    }
}

static void on_channel_new(SpiceSession *session, SpiceChannel *channel, gpointer user_data)
{
    Client *c = user_data;

    if (SPICE_IS_MAIN_CHANNEL(channel)) {
        c->main = SPICE_MAIN_CHANNEL(channel);
        g_signal_connect(channel, "main-agent-update", G_CALLBACK(on_agent_update), c);
        g_signal_connect(channel, "main-clipboard-selection-grab", G_CALLBACK(on_selection_grab), c);
        g_signal_connect(channel, "main-clipboard-selection-release", G_CALLBACK(on_selection_release), c);
        g_signal_connect(channel, "main-clipboard-selection", G_CALLBACK(on_selection_data), c);
        g_signal_connect(channel, "main-clipboard-selection-request", G_CALLBACK(on_selection_request), c);
        g_signal_connect(channel, "main-mouse-update", G_CALLBACK(on_mouse_update), c);
        g_signal_connect(channel, "channel-event", G_CALLBACK(on_channel_event), c);
    } else if (SPICE_IS_INPUTS_CHANNEL(channel)) {
        c->inputs = SPICE_INPUTS_CHANNEL(channel);
        spice_channel_connect(channel);
    }
    /* Display, cursor, audio…: never connected — nothing here looks at them. */
}

static void on_channel_destroy(SpiceSession *session, SpiceChannel *channel, gpointer user_data)
{
    Client *c = user_data;

    if (SPICE_CHANNEL(c->main) == channel) {
        if (c->disconnect_id) {
            reply(c->disconnect_id, "ok");
            c->disconnect_id = 0;
        }
        c->main = NULL;
    }
    if (SPICE_CHANNEL(c->inputs) == channel)
        c->inputs = NULL;
}

/* -- commands ---------------------------------------------------------------------------------------------- */

/* Ready when the agent is connected and its capabilities arrived: spice-gtk drops a clipboard grab sent
 * before it knows the agent's caps. */
static gboolean agent_ready(Client *c)
{
    gboolean connected = FALSE;

    if (!c->main)
        return FALSE;
    g_object_get(c->main, "agent-connected", &connected, NULL);
    return connected && spice_main_channel_agent_test_capability(c->main, 5 /* CLIPBOARD_BY_DEMAND */);
}

static gboolean agent_poll(gpointer user_data)
{
    Client *c = user_data;

    if (agent_ready(c)) {
        reply(c->agent_id, "ok");
    } else if (g_get_monotonic_time() < c->agent_deadline) {
        return G_SOURCE_CONTINUE;
    } else {
        reply(c->agent_id, "err the agent did not connect in time");
    }
    c->agent_id = 0;
    c->agent_poll = 0;
    return G_SOURCE_REMOVE;
}

static void cmd_connect(Client *c, guint64 id)
{
    if (c->session) {
        g_signal_handlers_disconnect_by_data(c->session, c);
        g_clear_object(&c->session);
    }
    c->main = NULL;
    c->inputs = NULL;
    c->session = spice_session_new();
    g_object_set(c->session, "uri", c->uri, "enable-audio", FALSE, "enable-usbredir", FALSE, NULL);
    g_signal_connect(c->session, "channel-new", G_CALLBACK(on_channel_new), c);
    g_signal_connect(c->session, "channel-destroy", G_CALLBACK(on_channel_destroy), c);
    if (!spice_session_connect(c->session))
        reply(id, "err spice_session_connect failed");
    else
        reply(id, "ok");
}

static void cmd_wait_agent(Client *c, guint64 id, const char *arg)
{
    guint seconds = arg ? (guint)strtoul(arg, NULL, 10) : 30;

    if (c->agent_id) {
        reply(id, "err already waiting for the agent");
        return;
    }
    c->agent_id = id;
    c->agent_deadline = g_get_monotonic_time() + (gint64)(seconds ? seconds : 30) * G_USEC_PER_SEC;
    c->agent_poll = g_timeout_add(100, agent_poll, c);
}

static gboolean parse_selection(const char *arg, guint *ret)
{
    if (!arg || (strcmp(arg, "0") != 0 && strcmp(arg, "1") != 0))
        return FALSE;
    *ret = (guint)(arg[0] - '0');
    return TRUE;
}

static void cmd_grab(Client *c, guint64 id, char **argv)
{
    guint sel;
    g_autofree char *data = NULL;
    gsize size = 0;
    g_autoptr(GError) error = NULL;
    guint32 type = CLIPBOARD_UTF8_TEXT;

    if (!c->main || !parse_selection(argv[1], &sel) || !argv[2]) {
        reply(id, "err usage: grab SEL FILE (connected)");
        return;
    }
    if (!g_file_get_contents(argv[2], &data, &size, &error)) {
        reply(id, "err %s", error->message);
        return;
    }
    g_clear_pointer(&c->owned[sel], g_bytes_unref);
    c->owned[sel] = g_bytes_new_take(g_steal_pointer(&data), size);
    spice_main_channel_clipboard_selection_grab(c->main, sel, &type, 1);
    reply(id, "ok");
}

static void cmd_release(Client *c, guint64 id, const char *arg)
{
    guint sel;

    if (!c->main || !parse_selection(arg, &sel)) {
        reply(id, "err usage: release SEL (connected)");
        return;
    }
    g_clear_pointer(&c->owned[sel], g_bytes_unref);
    spice_main_channel_clipboard_selection_release(c->main, sel);
    reply(id, "ok");
}

static void cmd_request(Client *c, guint64 id, const char *arg)
{
    guint sel;

    if (!c->main || !parse_selection(arg, &sel)) {
        reply(id, "err usage: request SEL (connected)");
        return;
    }
    spice_main_channel_clipboard_selection_request(c->main, sel, CLIPBOARD_UTF8_TEXT);
    reply(id, "ok");
}

static void cmd_monitors(Client *c, guint64 id, char **argv)
{
    int n = 0;

    if (!c->main) {
        reply(id, "err not connected");
        return;
    }
    for (int i = 1; argv[i]; i++, n++) {
        int w, h, x, y;
        char extra;

        if (n >= MAX_MONITORS || sscanf(argv[i], "%dx%d+%d+%d%c", &w, &h, &x, &y, &extra) != 4 || w <= 0 ||
            h <= 0) {
            reply(id, "err bad monitor '%s' (WxH+X+Y, at most %d)", argv[i], MAX_MONITORS);
            return;
        }
        spice_main_channel_update_display_enabled(c->main, n, TRUE, FALSE);
        spice_main_channel_update_display(c->main, n, x, y, w, h, FALSE);
    }
    for (int i = n; i < MAX_MONITORS; i++)
        spice_main_channel_update_display_enabled(c->main, i, FALSE, FALSE);
    if (!spice_main_channel_send_monitor_config(c->main))
        reply(id, "err spice_main_channel_send_monitor_config refused");
    else
        reply(id, "ok");
}

static void cmd_mouse_mode(Client *c, guint64 id)
{
    int mode = 0;

    if (!c->main) {
        reply(id, "err not connected");
        return;
    }
    g_object_get(c->main, "mouse-mode", &mode, NULL);
    if (mode == SPICE_MOUSE_MODE_CLIENT) {
        reply(id, "ok mode=%d", mode);
        return;
    }
    c->mouse_id = id;
    spice_main_channel_request_mouse_mode(c->main, SPICE_MOUSE_MODE_CLIENT);
}

static gboolean parse_int(const char *s, int *ret)
{
    char *end = NULL;
    long v;

    if (!s)
        return FALSE;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < -65536 || v > 65536)
        return FALSE;
    *ret = (int)v;
    return TRUE;
}

static void cmd_position(Client *c, guint64 id, char **argv)
{
    int display, x, y;

    if (!c->inputs || !parse_int(argv[1], &display) || !parse_int(argv[2], &x) || !parse_int(argv[3], &y)) {
        reply(id, "err usage: position DISPLAY X Y (inputs channel connected)");
        return;
    }
    spice_inputs_channel_position(c->inputs, x, y, display, (gint)c->button_state);
    reply(id, "ok");
}

static void cmd_click(Client *c, guint64 id, char **argv)
{
    int button, display, x, y;

    if (!c->inputs || !parse_int(argv[1], &button) || button < 1 || button > 5 || !parse_int(argv[2], &display) ||
        !parse_int(argv[3], &x) || !parse_int(argv[4], &y)) {
        reply(id, "err usage: click BUTTON DISPLAY X Y (inputs channel connected)");
        return;
    }
    spice_inputs_channel_position(c->inputs, x, y, display, 0);
    /* SPICE buttons: 1 left, 2 middle, 3 right, 4 up, 5 down; masks are 1 << (button - 1) */
    spice_inputs_channel_button_press(c->inputs, button, 1 << (button - 1));
    spice_inputs_channel_button_release(c->inputs, button, 0);
    reply(id, "ok");
}

static void on_file_copied(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autofree CopyTask *task = user_data;
    g_autoptr(GError) error = NULL;

    if (spice_main_channel_file_copy_finish(SPICE_MAIN_CHANNEL(source), result, &error))
        reply(task->id, "ok");
    else
        reply(task->id, "err %s", error ? error->message : "file copy failed");
}

static void cmd_copy_file(Client *c, guint64 id, const char *path)
{
    if (!c->main || !path) {
        reply(id, "err usage: copy-file FILE (connected)");
        return;
    }
    GFile *files[2] = { g_file_new_for_path(path), NULL };
    CopyTask *task = g_new0(CopyTask, 1);

    task->client = c;
    task->id = id;
    spice_main_channel_file_copy_async(c->main, files, G_FILE_COPY_NONE, NULL, NULL, NULL, on_file_copied, task);
    g_object_unref(files[0]);
}

static void cmd_disconnect(Client *c, guint64 id)
{
    if (!c->session || !c->main) {
        reply(id, "err not connected");
        return;
    }
    c->disconnect_id = id;
    spice_session_disconnect(c->session);
}

static void handle_line(Client *c, char *line)
{
    g_auto(GStrv) words = NULL;
    guint64 id;
    char *end = NULL;

    g_strstrip(line);
    if (!*line)
        return;
    words = g_strsplit(line, " ", -1);
    id = g_ascii_strtoull(words[0], &end, 10);
    if (!end || *end || id == 0 || !words[1]) {
        emit("event bad-line %s", line);
        return;
    }
    char **argv = words + 1;
    const char *cmd = argv[0];
    guint argc = g_strv_length(argv);

    if (strcmp(cmd, "connect") == 0)
        cmd_connect(c, id);
    else if (strcmp(cmd, "wait-agent") == 0)
        cmd_wait_agent(c, id, argv[1]);
    else if (strcmp(cmd, "grab") == 0 && argc == 3)
        cmd_grab(c, id, argv);
    else if (strcmp(cmd, "release") == 0)
        cmd_release(c, id, argv[1]);
    else if (strcmp(cmd, "request") == 0)
        cmd_request(c, id, argv[1]);
    else if (strcmp(cmd, "save-next") == 0 && argc == 2) {
        g_free(c->save_next);
        c->save_next = g_strdup(argv[1]);
        reply(id, "ok");
    } else if (strcmp(cmd, "monitors") == 0)
        cmd_monitors(c, id, argv);
    else if (strcmp(cmd, "mouse-mode") == 0)
        cmd_mouse_mode(c, id);
    else if (strcmp(cmd, "position") == 0 && argc == 4)
        cmd_position(c, id, argv);
    else if (strcmp(cmd, "click") == 0 && argc == 5)
        cmd_click(c, id, argv);
    else if (strcmp(cmd, "copy-file") == 0 && argc == 2)
        cmd_copy_file(c, id, argv[1]);
    else if (strcmp(cmd, "disconnect") == 0)
        cmd_disconnect(c, id);
    else if (strcmp(cmd, "quit") == 0)
        g_main_loop_quit(c->loop);
    else
        reply(id, "err unknown command or wrong arguments: '%s'", cmd);
}

static gboolean on_stdin(GIOChannel *io, GIOCondition cond, gpointer user_data)
{
    Client *c = user_data;
    g_autofree char *line = NULL;
    g_autoptr(GError) error = NULL;

    switch (g_io_channel_read_line(io, &line, NULL, NULL, &error)) {
    case G_IO_STATUS_NORMAL:
        handle_line(c, line);
        return G_SOURCE_CONTINUE;
    case G_IO_STATUS_AGAIN:
        return G_SOURCE_CONTINUE;
    default:
        g_main_loop_quit(c->loop); /* stdin closed: the test is over */
        return G_SOURCE_REMOVE;
    }
}

int main(int argc, char **argv)
{
    Client c = { 0 };

    if (argc != 2) {
        fprintf(stderr, "usage: %s spice+unix:///PATH\n", argv[0]);
        return 2;
    }
    c.uri = argv[1];
    c.loop = g_main_loop_new(NULL, FALSE);
    GIOChannel *io = g_io_channel_unix_new(0);
    g_io_add_watch(io, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &c);
    emit("ready");
    g_main_loop_run(c.loop);
    if (c.agent_poll)
        g_source_remove(c.agent_poll);
    if (c.session) {
        spice_session_disconnect(c.session);
        g_signal_handlers_disconnect_by_data(c.session, &c);
        g_object_unref(c.session);
    }
    for (int i = 0; i < MAX_SELECTIONS; i++)
        g_clear_pointer(&c.owned[i], g_bytes_unref);
    g_free(c.save_next);
    g_io_channel_unref(io);
    g_main_loop_unref(c.loop);
    return 0;
}
