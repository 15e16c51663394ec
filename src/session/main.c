/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c — vdagent, the per-session agent: options, the X connection in the main loop, and the wiring
 * between the daemon link and the clipboard, monitors and file modules.
 *
 * Whether to run at all: with --socket, always (a daemon is expected there). Without it, the agent
 * exits 0 at once, quietly, when neither the agent port (VD_AGENT_PORT_PATH) nor the default
 * session socket exists: that is a machine without the agent (not a VM, or the channel is not
 * configured), and XDG autostart must be harmless there. If either exists, the agent runs and waits
 * for the daemon as long as it takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <X11/Xlib.h>

#include "clipboard.h"
#include "daemon-link.h"
#include "device-map.h"
#include "files.h"
#include "launch.h"
#include "log.h"
#include "randr.h"
#include "volume.h"

#define VD_SESSION_SOCKET_DEFAULT "/run/vdagentd/session.sock"
#define VD_AGENT_PORT_PATH "/dev/virtio-ports/com.redhat.spice.0"

#define USAGE_HINT "Try 'vdagent --help' for more information.\n"

/* Exit statuses. */
enum {
    VD_EXIT_OK = 0,           /* asked to stop, X server gone, or nothing to do on this machine */
    VD_EXIT_FAILURE = 1,      /* cannot start: no X display, bad socket path */
    VD_EXIT_USAGE = 2,        /* bad options: one line, a hint to --help */
    VD_EXIT_INCOMPATIBLE = 3, /* the daemon speaks another major protocol version */
};

typedef struct {
    GMainLoop *loop;
    int exit_status;

    Display *dpy;
    bool x_dead;
    GSource *x_source;

    VdDaemonLink *link;
    VdXClipboard *clipboard;
    VdRandr *randr;
    VdFiles *files;
    VdVolumeSync *volume;
    VdDeviceMap *devmap;    /* display id -> output, for every backend */
    bool map_sent;          /* last_map is what the daemon has */
    VdDeviceMapReport last_map;

    bool layout_dirty;     /* a RandR event came: compare and report after this batch of events */
    bool layout_sent;      /* last_layout is what the daemon has */
    VdLayout last_layout;
} App;

/* Xlib's I/O error handlers take no user data for the first one: one agent per process. */
static App *the_app;

/* --- reporting to the daemon --- */

static void report_layout(App *app, bool force)
{
    VdSessionMsg msg = { .type = VD_S_LAYOUT };

    if (!app->randr || app->x_dead || !vd_daemon_link_is_up(app->link))
        return;
    vd_randr_get_layout(app->randr, &msg.u.layout);
    if (!force && app->layout_sent && memcmp(&msg.u.layout, &app->last_layout, sizeof(msg.u.layout)) == 0)
        return;
    if (vd_daemon_link_send(app->link, &msg) == 0) {
        app->last_layout = msg.u.layout;
        app->layout_sent = true;
        g_debug("layout reported: screen %ux%u, %u display(s)", msg.u.layout.screen_width,
                msg.u.layout.screen_height, msg.u.layout.count);
    }
}

static void report_device_map(App *app, bool force)
{
    VdSessionMsg msg = { .type = VD_S_DEVICE_MAP };

    if (!app->randr || app->x_dead || !vd_daemon_link_is_up(app->link) ||
        !(vd_daemon_link_peer_features(app->link) & VD_SESSION_FEATURE_REPORTS))
        return;
    vd_randr_get_device_map(app->randr, &msg.u.device_map);
    if (!force && app->map_sent && memcmp(&msg.u.device_map, &app->last_map, sizeof(msg.u.device_map)) == 0)
        return;
    if (vd_daemon_link_send(app->link, &msg) == 0) {
        app->last_map = msg.u.device_map;
        app->map_sent = true;
    }
}

static void send_files_status(const VdFileXferStatus *status, void *user_data)
{
    App *app = user_data;
    VdSessionMsg msg = { .type = VD_S_XFER_STATUS };

    msg.u.xfer_status = *status;
    (void)vd_daemon_link_send(app->link, &msg);
}

static void send_volume_applied(const VdVolumeApplied *applied, void *user_data)
{
    App *app = user_data;
    VdSessionMsg msg = { .type = VD_S_VOLUME_APPLIED };

    if (!(vd_daemon_link_peer_features(app->link) & VD_SESSION_FEATURE_REPORTS))
        return;
    msg.u.volume_applied = *applied;
    (void)vd_daemon_link_send(app->link, &msg);
}

/* The clipboard's way to the daemon. */
static int clipboard_send(const VdSessionMsg *msg, void *user_data)
{
    App *app = user_data;
    return vd_daemon_link_send(app->link, msg);
}

static size_t clipboard_queued(void *user_data)
{
    App *app = user_data;
    return vd_daemon_link_queued(app->link);
}

static void clipboard_throttle(bool paused, void *user_data)
{
    App *app = user_data;
    vd_daemon_link_set_paused(app->link, paused);
}

static const VdXClipboardSink clipboard_sink = {
    .send = clipboard_send,
    .queued = clipboard_queued,
    .throttle = clipboard_throttle,
};

static void apply_monitors(App *app, const VdSessionMsg *in)
{
    VdSessionMsg out = { .type = VD_S_MONITORS_RESULT };
    int r = -ENODEV;

    if (app->randr)
        r = vd_randr_apply(app->randr, &in->u.monitors.config);
    else
        g_message("monitors config %u ignored: no usable XRandR", in->u.monitors.request_id);
    out.u.monitors_result.request_id = in->u.monitors.request_id;
    out.u.monitors_result.result = r == 0 ? VD_REPLY_SUCCESS : VD_REPLY_ERROR;
    (void)vd_daemon_link_send(app->link, &out);
    report_layout(app, true);
}

/* --- the daemon link's callbacks --- */

static void on_link_up(void *user_data)
{
    App *app = user_data;

    app->layout_sent = false;
    app->map_sent = false;
    if (app->x_dead)
        return;
    if (app->clipboard)
        vd_xclipboard_link_up(app->clipboard);
    report_layout(app, true);
    report_device_map(app, true);
}

static void on_link_down(void *user_data)
{
    App *app = user_data;

    app->layout_sent = false;
    vd_files_abort_all(app->files);
    if (app->clipboard && !app->x_dead)
        vd_xclipboard_link_down(app->clipboard);
}

static void on_link_message(const VdSessionMsg *msg, void *user_data)
{
    App *app = user_data;

    if (app->x_dead)
        return;
    switch ((VdSessionMsgType)msg->type) {
    case VD_S_CLIPBOARD_GRAB:
    case VD_S_CLIPBOARD_REQUEST:
    case VD_S_CLIPBOARD_RELEASE:
    case VD_S_CLIPBOARD_BEGIN:
    case VD_S_CLIPBOARD_DATA:
    case VD_S_CLIPBOARD_ABORT:
        if (app->clipboard)
            vd_xclipboard_handle_msg(app->clipboard, msg);
        break;
    case VD_S_HOST_STATE:
        if (app->clipboard)
            vd_xclipboard_set_host_state(app->clipboard, msg->u.host_state.connected, &msg->u.host_state.caps,
                                         msg->u.host_state.max_clipboard);
        break;
    case VD_S_SESSION_STATE:
        if (app->clipboard)
            vd_xclipboard_set_active(app->clipboard, msg->u.session_state.active);
        break;
    case VD_S_MONITORS_CONFIG:
        apply_monitors(app, msg);
        break;
    case VD_S_DEVICE_INFO:
        if (vd_device_map_set_info(app->devmap, &msg->u.device_info) && app->randr) {
            report_layout(app, false);
            report_device_map(app, false);
        }
        break;
    case VD_S_XFER_START:
    case VD_S_XFER_DATA:
    case VD_S_XFER_CANCEL:
        vd_files_handle_msg(app->files, msg);
        break;
    case VD_S_VOLUME:
        vd_volume_sync_set(app->volume, &msg->u.volume);
        break;
    case VD_S_MONITORS_RESULT:
    case VD_S_LAYOUT:
    case VD_S_XFER_STATUS:
    case VD_S_VOLUME_APPLIED:
    case VD_S_DEVICE_MAP:
        g_warning("daemon sent %s, a message only agents send: ignored", vd_session_msg_type_to_string(msg->type));
        break;
    }
}

static void on_link_writable(void *user_data)
{
    App *app = user_data;

    if (app->clipboard && !app->x_dead)
        vd_xclipboard_writable(app->clipboard);
}

static void on_link_fatal(const char *reason, void *user_data)
{
    App *app = user_data;

    g_critical("cannot work with this daemon (%s): exiting", reason);
    app->exit_status = VD_EXIT_INCOMPATIBLE;
    g_main_loop_quit(app->loop);
}

/* --- X in the main loop ---
 * A GSource rather than a plain fd watch: Xlib may read events into its own queue during any
 * request with a reply (made by the clipboard or randr outside this source), and those would
 * otherwise sit there until the next byte arrives on the socket. prepare() flushes our requests
 * and looks at that queue without reading. */

typedef struct {
    GSource source;
    App *app;
    gpointer fd_tag;
} XSource;

static gboolean x_source_prepare(GSource *source, gint *timeout)
{
    XSource *xs = (XSource *)source;
    App *app = xs->app;

    *timeout = -1;
    if (app->x_dead)
        return FALSE;
    XFlush(app->dpy);
    return !app->x_dead && XEventsQueued(app->dpy, QueuedAlready) > 0;
}

static gboolean x_source_check(GSource *source)
{
    XSource *xs = (XSource *)source;
    App *app = xs->app;

    if (app->x_dead)
        return FALSE;
    return g_source_query_unix_fd(source, xs->fd_tag) != 0 || XEventsQueued(app->dpy, QueuedAlready) > 0;
}

static void handle_x_event(App *app, XEvent *ev)
{
    if (app->clipboard && vd_xclipboard_handle_event(app->clipboard, ev))
        return;
    if (app->randr && vd_randr_handle_event(app->randr, ev))
        app->layout_dirty = true;
}

static gboolean x_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    XSource *xs = (XSource *)source;
    App *app = xs->app;

    /* XPending reads what the socket has (or notices the server is gone: then the I/O error
     * handlers mark x_dead and quit the loop). It never blocks. */
    while (!app->x_dead && XPending(app->dpy) > 0) {
        XEvent ev;
        XNextEvent(app->dpy, &ev);
        handle_x_event(app, &ev);
    }
    if (app->layout_dirty && !app->x_dead) {
        app->layout_dirty = false;
        report_layout(app, false);
        report_device_map(app, false);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs x_source_funcs = {
    .prepare = x_source_prepare,
    .check = x_source_check,
    .dispatch = x_source_dispatch,
};

static GSource *x_source_new(App *app)
{
    GSource *source = g_source_new(&x_source_funcs, sizeof(XSource));
    XSource *xs = (XSource *)source;

    xs->app = app;
    xs->fd_tag = g_source_add_unix_fd(source, ConnectionNumber(app->dpy), G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_name(source, "X11");
    return source;
}

static int on_x_io_error(Display *dpy)
{
    if (the_app && !the_app->x_dead)
        g_message("the X server went away: exiting");
    if (the_app)
        the_app->x_dead = true;
    return 0;
}

/* Called after on_x_io_error instead of exit(): Xlib marks the display dead and every later call
 * returns at once, so we only have to leave the loop. */
static void on_x_io_error_exit(Display *dpy, void *user_data)
{
    App *app = user_data;

    app->x_dead = true;
    if (app->loop)
        g_main_loop_quit(app->loop);
}

static int on_x_error(Display *dpy, XErrorEvent *e)
{
    char text[128];

    XGetErrorText(dpy, e->error_code, text, sizeof(text));
    g_debug("X error ignored: %s (request %u.%u, resource 0x%lx)", text, e->request_code, e->minor_code,
            e->resourceid);
    return 0;
}

static gboolean on_signal(gpointer user_data)
{
    App *app = user_data;

    g_message("terminating on a signal");
    g_main_loop_quit(app->loop);
    return G_SOURCE_CONTINUE;
}

/* --- options --- */

static int debug_level;

static gboolean on_debug_option(const char *name, const char *value, gpointer data, GError **error)
{
    debug_level++;
    return TRUE;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Leaves the terminal / the session manager's process (not under systemd: --foreground). */
static int daemonize(void)
{
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(VD_EXIT_OK);
    if (setsid() < 0)
        return -errno;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        (void)dup2(fd, STDIN_FILENO);
        if (fd != STDIN_FILENO)
            close(fd);
    }
    return 0;
}

int main(int argc, char **argv)
{
    g_autofree char *socket_path = NULL;
    g_autofree char *display_name = NULL;
    g_autofree char *file_dir = NULL;
    g_autofree char *audio = NULL;
    g_autofree char *sysfs_root = NULL;
    gboolean foreground = FALSE, version = FALSE;
    /* -x and -d mean what they mean to spice-vdagent. GOption stores callbacks in a gpointer; a union avoids the function-to-object pointer cast. */
    union { GOptionArgFunc fn; gpointer ptr; } debug_cb = { .fn = on_debug_option };
    GOptionEntry entries[] = {
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path,
          "The daemon's session socket (default " VD_SESSION_SOCKET_DEFAULT ")", "PATH" },
        { "display", 0, 0, G_OPTION_ARG_STRING, &display_name, "The X display (default $DISPLAY)", "DISPLAY" },
        { "file-dir", 0, 0, G_OPTION_ARG_FILENAME, &file_dir,
          "Where received files go (default: the XDG download directory)", "DIR" },
        { "audio", 0, 0, G_OPTION_ARG_STRING, &audio,
          "How to apply the host's volume: auto (PulseAudio or PipeWire, else the ALSA mixer), pulse, alsa "
          "or off (default auto)", "MODE" },
        { "sysfs-root", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &sysfs_root,
          "Where sysfs is, for the device map (tests)", "DIR" },
        { "foreground", 'x', 0, G_OPTION_ARG_NONE, &foreground, "Do not detach", NULL },
        { "debug", 'd', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, debug_cb.ptr,
          "More logging (repeat for more)", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the spice/QEMU guest agent of an X session");
    g_autoptr(GError) error = NULL;

    setlocale(LC_ALL, "");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Bridges the clipboard, monitors and file transfers of this X session "
                                      "to the host, through vdagentd.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "vdagent: %s\n" USAGE_HINT, error->message);
        return VD_EXIT_USAGE;
    }
    if (argc > 1) {
        fprintf(stderr, "vdagent: unexpected argument \"%s\"\n" USAGE_HINT, argv[1]);
        return VD_EXIT_USAGE;
    }
    if (version) {
        printf("vdagent %s\n", VDAGENT_VERSION);
        return VD_EXIT_OK;
    }
    VdAudioMode audio_mode = VD_AUDIO_AUTO;
    if (audio && vd_audio_mode_from_string(audio, &audio_mode) < 0) {
        fprintf(stderr, "vdagent: --audio must be auto, pulse, alsa or off, not \"%s\"\n" USAGE_HINT, audio);
        return VD_EXIT_USAGE;
    }
    vd_log_init("vdagent", debug_level);

    /* Started detached (XDG autostart, the Xsession hook, by hand) for the default daemon: where
     * the user has a systemd manager, the vdagent.service unit runs the agent instead, so that a
     * session has one agent whichever ways started it, and systemd restarts it (launch.h). Before
     * the check below, which the unit's agent makes again. */
    if (!foreground && !socket_path && !g_getenv("INVOCATION_ID")) {
        VdLaunchResult launched = vd_launch_via_user_manager(display_name ? display_name : g_getenv("DISPLAY"));
        if (launched != VD_LAUNCH_RUN_HERE) {
            g_debug("start handed over: %s", vd_launch_result_to_string(launched));
            return VD_EXIT_OK;
        }
    }

    if (!socket_path) {
        if (!path_exists(VD_AGENT_PORT_PATH) && !path_exists(VD_SESSION_SOCKET_DEFAULT)) {
            g_debug("neither %s nor %s exists: no agent on this machine, nothing to do", VD_AGENT_PORT_PATH,
                    VD_SESSION_SOCKET_DEFAULT);
            return VD_EXIT_OK;
        }
        socket_path = g_strdup(VD_SESSION_SOCKET_DEFAULT);
    }

    if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        g_critical("the socket path \"%s\" is too long for a Unix socket", socket_path);
        return VD_EXIT_FAILURE;
    }

    App app = { .exit_status = VD_EXIT_OK };
    the_app = &app;
    signal(SIGPIPE, SIG_IGN);

    XSetIOErrorHandler(on_x_io_error);
    XSetErrorHandler(on_x_error);
    app.dpy = XOpenDisplay(display_name);
    if (!app.dpy) {
        g_critical("cannot open the X display \"%s\"", XDisplayName(display_name));
        return VD_EXIT_FAILURE;
    }
    XSetIOErrorExitHandler(app.dpy, on_x_io_error_exit, &app);

    if (!foreground) {
        int r = daemonize();
        if (r < 0) {
            g_critical("cannot detach: %s", g_strerror(-r));
            XCloseDisplay(app.dpy);
            return VD_EXIT_FAILURE;
        }
    }

    app.loop = g_main_loop_new(NULL, FALSE);
    app.devmap = vd_device_map_new(sysfs_root);
    app.randr = vd_randr_new(app.dpy, &error);
    if (!app.randr) {
        g_warning("monitors configuration disabled: %s", error->message);
        g_clear_error(&error);
    } else {
        vd_randr_set_device_map(app.randr, app.devmap);
    }
    app.link = vd_daemon_link_new(socket_path,
                                  &(VdDaemonLinkCallbacks){
                                      .up = on_link_up,
                                      .down = on_link_down,
                                      .message = on_link_message,
                                      .writable = on_link_writable,
                                      .fatal = on_link_fatal,
                                  },
                                  &app);
    app.clipboard = vd_xclipboard_new(app.dpy, &clipboard_sink, &app, &error);
    if (!app.clipboard) {
        g_warning("clipboard disabled: %s", error->message);
        g_clear_error(&error);
    }
    app.files = vd_files_new(file_dir, send_files_status, &app);
    app.volume = vd_volume_sync_new(audio_mode, send_volume_applied, &app);
    /* Tell the daemon what works on this display, so that it offers the host only that. */
    uint32_t features = VD_SESSION_FEATURE_FILES | VD_SESSION_FEATURE_REPORTS;
    if (app.clipboard)
        features |= VD_SESSION_FEATURE_CLIPBOARD;
    if (app.randr)
        features |= VD_SESSION_FEATURE_MONITORS | VD_SESSION_FEATURE_LAYOUT; /* vd_randr_new wants RandR 1.3 */
    if (audio_mode != VD_AUDIO_OFF)
        features |= VD_SESSION_FEATURE_AUDIO;
    vd_daemon_link_set_features(app.link, features);

    app.x_source = x_source_new(&app);
    g_source_attach(app.x_source, NULL);
    g_unix_signal_add(SIGTERM, on_signal, &app);
    g_unix_signal_add(SIGINT, on_signal, &app);
    g_unix_signal_add(SIGHUP, on_signal, &app);

    g_message("vdagent %s started on display \"%s\", daemon socket \"%s\"", VDAGENT_VERSION,
              DisplayString(app.dpy), socket_path);
    vd_daemon_link_start(app.link);
    if (!app.x_dead)
        g_main_loop_run(app.loop);

    vd_daemon_link_free(app.link);
    vd_files_free(app.files);
    vd_volume_sync_free(app.volume);
    vd_xclipboard_free(app.clipboard);
    vd_randr_free(app.randr);
    vd_device_map_free(app.devmap);
    g_source_destroy(app.x_source);
    g_source_unref(app.x_source);
    XCloseDisplay(app.dpy);
    g_main_loop_unref(app.loop);
    the_app = NULL;
    return app.exit_status;
}
