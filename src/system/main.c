/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c — vdagentd: options, the main loop, and the wiring of the modules.
 *
 * vdagentd [--port PATH] [--socket PATH] [--control PATH] [--uinput PATH] [--fake-uinput]
 *          [--session-tracking logind|none] [--qga-port PATH|none] [--allow-rpcs LIST]
 *          [--block-rpcs LIST] [--qga-config PATH] [--foreground] [--debug]… [--version] [--help]
 */
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "qga.h"
#include "router.h"
#include "sd-glue.h"
#include "sessions.h"
#include "uinput.h"

#define DEFAULT_PORT "/dev/virtio-ports/com.redhat.spice.0"
#define DEFAULT_SOCKET "/run/vdagentd/session.sock"
#define DEFAULT_CONTROL "/run/vdagentd/control.sock"
#define DEFAULT_UINPUT "/dev/uinput"
#define DEFAULT_QGA_PORT "/dev/virtio-ports/org.qemu.guest_agent.0"

typedef struct {
    char *port, *socket, *control, *uinput, *tracking, *qga_port, *allow_rpcs, *block_rpcs, *qga_config;
    gboolean fake_uinput, foreground, version;
    int debug;
} Options;

static Options opts;

typedef struct {
    GMainLoop *loop;
    VdRouter *router;
} Daemon;

static gboolean on_debug(const char *name, const char *value, gpointer data, GError **error)
{
    opts.debug++;
    return TRUE;
}

/* GOption stores callbacks in its gpointer field, which ISO C does not bless (POSIX does). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
static const GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_FILENAME, &opts.port,
      "The virtio port to the host, or a Unix socket to connect to (default " DEFAULT_PORT ")", "PATH" },
    { "socket", 0, 0, G_OPTION_ARG_FILENAME, &opts.socket,
      "The session agents' socket (default " DEFAULT_SOCKET "; systemd's socket when activated)", "PATH" },
    { "control", 0, 0, G_OPTION_ARG_FILENAME, &opts.control,
      "The vdagent-ctl socket, root only (default " DEFAULT_CONTROL ")", "PATH" },
    { "uinput", 0, 0, G_OPTION_ARG_FILENAME, &opts.uinput,
      "The uinput device (default " DEFAULT_UINPUT ")", "PATH" },
    { "fake-uinput", 0, 0, G_OPTION_ARG_NONE, &opts.fake_uinput,
      "Create no device: write the raw input events to the --uinput path (a file or FIFO)", NULL },
    { "session-tracking", 0, 0, G_OPTION_ARG_STRING, &opts.tracking,
      "logind (default) or none: one session agent, from root or the first agent's user", "logind|none" },
    { "qga-port", 0, 0, G_OPTION_ARG_FILENAME, &opts.qga_port,
      "The QEMU guest agent port, or none (default " DEFAULT_QGA_PORT ")", "PATH|none" },
    { "allow-rpcs", 0, 0, G_OPTION_ARG_STRING, &opts.allow_rpcs,
      "Guest agent verbs allowed (comma-separated; default: all not blocked)", "LIST" },
    { "block-rpcs", 0, 0, G_OPTION_ARG_STRING, &opts.block_rpcs, "Guest agent verbs blocked (comma-separated)",
      "LIST" },
    { "qga-config", 0, 0, G_OPTION_ARG_FILENAME, &opts.qga_config, "Guest agent policy file", "PATH" },
    { "foreground", 0, 0, G_OPTION_ARG_NONE, &opts.foreground, "Do not detach from the terminal", NULL },
    { "debug", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer)on_debug,
      "Log details (repeat for more)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opts.version, "Print the version and exit", NULL },
    { NULL },
};
#pragma GCC diagnostic pop

static gboolean on_quit_signal(gpointer user_data)
{
    Daemon *d = user_data;
    g_message("stopping on a signal");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

static void on_sessions_changed(VdSessions *sessions, void *user_data)
{
    Daemon *d = user_data;
    if (d->router)
        vd_router_sessions_changed(d->router);
}

int main(int argc, char **argv)
{
    /* No setlocale(): nothing here is translated, logs are UTF-8 as received, and the locale
     * tables would cost idle memory. */
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_option_context_set_summary(ctx, "The vdagent system daemon: the host link, the paravirtual mouse and the "
                                      "session agents' router.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "vdagentd: %s (see --help)\n", error->message);
        return 2;
    }
    if (opts.version) {
        printf("vdagentd %s\n", VDAGENT_VERSION);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "vdagentd: unexpected argument \"%s\" (see --help)\n", argv[1]);
        return 2;
    }
    const char *tracking = opts.tracking ? opts.tracking : "logind";
    if (g_strcmp0(tracking, "logind") != 0 && g_strcmp0(tracking, "none") != 0) {
        fprintf(stderr, "vdagentd: --session-tracking must be logind or none, not \"%s\"\n", tracking);
        return 2;
    }
    vd_log_init("vdagentd", opts.debug);
    /* Detach before any thread exists (GDBus starts one). Under systemd (Type=notify) we are
     * started with --foreground. */
    if (!opts.foreground && daemon(0, 0) < 0) {
        g_critical("cannot detach: %s", g_strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    Daemon d = { .loop = g_main_loop_new(NULL, FALSE) };
    /* Before anything can be observed from outside (the port opening): a stop request that
     * arrives during start-up must still end in an orderly exit. */
    g_unix_signal_add(SIGTERM, on_quit_signal, &d);
    g_unix_signal_add(SIGINT, on_quit_signal, &d);
    g_autoptr(GDBusConnection) bus = NULL;
    VdSessions *sessions;
    if (g_strcmp0(tracking, "logind") == 0) {
        /* DBUS_SYSTEM_BUS_ADDRESS is honoured by GIO: tests point it at a private bus. */
        bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
        if (!bus) {
            g_critical("cannot connect to the system bus for logind: %s", error->message);
            return 1;
        }
        sessions = vd_sessions_new_logind(bus, on_sessions_changed, &d);
    } else {
        g_message("session tracking is off: one session agent, from root or the display owner");
        sessions = vd_sessions_new_none();
    }

    const char *uinput_path = opts.uinput ? opts.uinput : DEFAULT_UINPUT;
    VdUinput *uinput = vd_uinput_new(uinput_path, opts.fake_uinput, &error);
    if (!uinput) {
        /* Clipboard, displays and files still work; MOUSE_STATE is then not announced, so the
         * client keeps its own pointer (server mouse mode). */
        g_warning("no paravirtual mouse: %s", error->message);
        g_clear_error(&error);
    }

    VdRouterConfig rc = {
        .port_path = opts.port ? opts.port : DEFAULT_PORT,
        .sessions = sessions,
        .uinput = uinput,
    };
    d.router = vd_router_new(&rc);
    if (!vd_router_start(d.router, opts.socket ? opts.socket : DEFAULT_SOCKET, &error)) {
        g_critical("%s", error->message);
        vd_router_free(d.router);
        vd_uinput_free(uinput);
        vd_sessions_free(sessions);
        return 1;
    }
    VdQga *qga = NULL;
    const char *qga_port = opts.qga_port ? opts.qga_port : DEFAULT_QGA_PORT;
    if (g_strcmp0(qga_port, "none") != 0) {
        VdQgaConfig qc = {
            .port_path = qga_port,
            .allow_rpcs = opts.allow_rpcs,
            .block_rpcs = opts.block_rpcs,
            .config_path = opts.qga_config,
            .system_bus = bus,
        };
        qga = vd_qga_new(&qc, &error);
        if (!qga) {
            g_critical("guest agent: %s", error->message);
            vd_router_free(d.router);
            vd_uinput_free(uinput);
            vd_sessions_free(sessions);
            return 1;
        }
        vd_qga_start(qga);
    }

    /* vdagent-ctl: status, traces (vd_router_set_trace) and injection (vd_host_inject), through
     * the same code paths as the host's own messages. Not essential: the daemon runs without it. */
    VdControlConfig cc = { .router = d.router, .sessions = sessions, .qga = qga, .uinput = uinput };
    VdControl *control = vd_control_new(&cc);
    g_clear_error(&error);
    if (!vd_control_listen(control, opts.control ? opts.control : DEFAULT_CONTROL, &error)) {
        g_warning("no control socket: %s", error->message);
        vd_control_free(control);
        control = NULL;
    }

    vd_sd_notify("READY=1");
    g_message("vdagentd %s running", VDAGENT_VERSION);
    g_main_loop_run(d.loop);
    vd_sd_notify("STOPPING=1");

    vd_control_free(control);
    vd_qga_free(qga);
    vd_router_free(d.router);
    d.router = NULL;
    vd_uinput_free(uinput);
    vd_sessions_free(sessions);
    g_main_loop_unref(d.loop);
    g_free(opts.port);
    g_free(opts.socket);
    g_free(opts.control);
    g_free(opts.uinput);
    g_free(opts.tracking);
    g_free(opts.qga_port);
    g_free(opts.allow_rpcs);
    g_free(opts.block_rpcs);
    g_free(opts.qga_config);
    return 0;
}
