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
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "qga-coexist.h"
#include "qga.h"
#include "router.h"
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
      "The QEMU guest agent port, or none (default " DEFAULT_QGA_PORT ", unless qemu-guest-agent is installed)",
      "PATH|none" },
    { "allow-rpcs", 0, 0, G_OPTION_ARG_STRING, &opts.allow_rpcs,
      "Guest agent verbs allowed (comma-separated; default: all not blocked)", "LIST" },
    { "block-rpcs", 0, 0, G_OPTION_ARG_STRING, &opts.block_rpcs, "Guest agent verbs blocked (comma-separated)",
      "LIST" },
    { "qga-config", 0, 0, G_OPTION_ARG_FILENAME, &opts.qga_config, "Guest agent policy file", "PATH" },
    { "foreground", 'x', 0, G_OPTION_ARG_NONE, &opts.foreground, "Do not detach from the terminal", NULL },
    { "debug", 'd', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer)on_debug,
      "Log details (repeat for more)", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &opts.version, "Print the version and exit", NULL },
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

/* What --port may name: a character device (the virtio port) or a Unix socket (tests, QEMU's
 * chardev seen from outside); a missing path is waited for. */
static bool check_port_path(const char *option, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return true;
    if (S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode))
        return true;
    fprintf(stderr, "vdagentd: %s \"%s\" is a %s, not a virtio port (a character device) or a Unix socket\n",
            option, path, S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "regular file" : "special file");
    return false;
}

/* Sockets we create: the directory must be there already (we never create a path's parents:
 * a typo must not leave directories behind), except our own default /run/vdagentd, made here
 * when systemd has not made it (run by hand). */
static bool check_socket_path(const char *option, const char *path, const char *default_path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    struct stat st;

    if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        fprintf(stderr, "vdagentd: %s \"%s\" is too long for a Unix socket\n", option, path);
        return false;
    }
    if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "vdagentd: %s \"%s\" exists and is not a socket; not replacing it\n", option, path);
        return false;
    }
    if (strcmp(path, default_path) == 0 && mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "vdagentd: cannot create \"%s\": %s\n", dir, g_strerror(errno));
        return false;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vdagentd: %s \"%s\": the directory \"%s\" does not exist\n", option, path, dir);
        return false;
    }
    return true;
}

/* The QEMU guest agent port: given, never, or by default ours unless qemu-guest-agent is
 * installed (qga-coexist.h). */
static const char *choose_qga_port(void)
{
    if (opts.qga_port)
        return opts.qga_port;
    g_autofree char *other = NULL;
    if (vd_qga_other_agent_installed("/", &other)) {
        g_message("the QEMU guest agent port is left to qemu-guest-agent (%s is installed); "
                  "--qga-port %s serves it here", other, DEFAULT_QGA_PORT);
        return "none";
    }
    return DEFAULT_QGA_PORT;
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
        fprintf(stderr, "vdagentd: %s\nTry 'vdagentd --help' for more information.\n", error->message);
        return 2;
    }
    if (opts.version) {
        printf("vdagentd %s\n", VDAGENT_VERSION);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "vdagentd: unexpected argument \"%s\"\nTry 'vdagentd --help' for more information.\n",
                argv[1]);
        return 2;
    }
    const char *tracking = opts.tracking ? opts.tracking : "logind";
    if (g_strcmp0(tracking, "logind") != 0 && g_strcmp0(tracking, "none") != 0) {
        fprintf(stderr, "vdagentd: --session-tracking must be logind or none, not \"%s\"\n"
                        "Try 'vdagentd --help' for more information.\n", tracking);
        return 2;
    }
    vd_log_init("vdagentd", opts.debug);

    /* Everything that can be wrong with the configuration is found here, on the terminal (or in
     * the unit's journal), before detaching and before any socket is opened: a detached child
     * that fails leaves nothing behind but a zero exit status. */
    const char *socket_path = opts.socket ? opts.socket : DEFAULT_SOCKET;
    const char *control_path = opts.control ? opts.control : DEFAULT_CONTROL;
    if (geteuid() != 0 && (!opts.socket || !opts.control)) {
        fprintf(stderr, "vdagentd: must run as root (the default sockets are in /run/vdagentd; "
                        "--socket and --control choose others)\n");
        return 1;
    }
    if (!check_port_path("--port", opts.port ? opts.port : DEFAULT_PORT))
        return 1;
    /* With socket activation the session socket is systemd's: nothing to check. */
    bool activated = g_getenv("LISTEN_FDS") != NULL;
    if (!activated && !check_socket_path("--socket", socket_path, DEFAULT_SOCKET))
        return 1;
    if (!check_socket_path("--control", control_path, DEFAULT_CONTROL))
        return 1;
    /* A --qga-port that is not a port yet is qga.c's to report and retry (docs/qga.md). */
    const char *qga_port = choose_qga_port();
    VdQgaConfig qc = {
        .port_path = qga_port,
        .allow_rpcs = opts.allow_rpcs,
        .block_rpcs = opts.block_rpcs,
        .config_path = opts.qga_config,
    };
    /* The policy is read even with the port off: a broken file is an error either way. */
    VdQga *qga = vd_qga_new(&qc, &error);
    if (!qga) {
        fprintf(stderr, "vdagentd: guest agent configuration: %s\n", error->message);
        return 1;
    }
    if (g_strcmp0(qga_port, "none") == 0)
        g_clear_pointer(&qga, vd_qga_free);

    /* Detach before any thread exists (GDBus starts one). Under systemd (Type=notify) we are
     * started with --foreground. From here on stderr is /dev/null: logs go to the journal, or
     * to syslog without one. */
    if (!opts.foreground) {
        if (daemon(0, 0) < 0) {
            fprintf(stderr, "vdagentd: cannot detach: %s\n", g_strerror(errno));
            vd_qga_free(qga);
            return 1;
        }
        vd_log_detached();
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
            vd_qga_free(qga);
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
    if (!vd_router_start(d.router, socket_path, &error)) {
        g_critical("%s", error->message);
        vd_qga_free(qga);
        vd_router_free(d.router);
        vd_uinput_free(uinput);
        vd_sessions_free(sessions);
        return 1;
    }
    if (qga) {
        /* Shutdown and users go through logind on this connection (or one made when needed). */
        vd_qga_set_system_bus(qga, bus);
        vd_qga_start(qga);
    }

    /* vdagent-ctl: status, traces (vd_router_set_trace) and injection (vd_host_inject), through
     * the same code paths as the host's own messages. Not essential: the daemon runs without it. */
    VdControlConfig cc = { .router = d.router, .sessions = sessions, .qga = qga, .uinput = uinput };
    VdControl *control = vd_control_new(&cc);
    g_clear_error(&error);
    if (!vd_control_listen(control, control_path, &error)) {
        g_warning("no control socket: %s", error->message);
        vd_control_free(control);
        control = NULL;
    }

    (void)sd_notify(0, "READY=1"); /* no-op without $NOTIFY_SOCKET */
    g_message("vdagentd %s running", VDAGENT_VERSION);
    g_main_loop_run(d.loop);
    (void)sd_notify(0, "STOPPING=1");

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
