/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c — vdagent, the per-session agent: options, choosing the display backend (X11 or Wayland,
 * backend.h), and the wiring between the daemon link and the backend's clipboard and display parts
 * and the file module.
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

#include "backend.h"
#include "daemon-link.h"
#include "device-map.h"
#include "files.h"
#include "launch.h"
#include "log.h"
#include "notify.h"
#include "open-folder.h"
#include "volume.h"

#define VD_SESSION_SOCKET_DEFAULT "/run/vdagentd/session.sock"
#define VD_AGENT_PORT_PATH "/dev/virtio-ports/com.redhat.spice.0"

#define USAGE_HINT "Try 'vdagent --help' for more information.\n"

/* Exit statuses. */
enum {
    VD_EXIT_OK = 0,           /* asked to stop, display gone, or nothing to do on this machine */
    VD_EXIT_FAILURE = 1,      /* cannot start: no display, bad socket path */
    VD_EXIT_USAGE = 2,        /* bad options: one line, a hint to --help */
    VD_EXIT_INCOMPATIBLE = 3, /* the daemon speaks another major protocol version */
};

typedef struct {
    GMainLoop *loop;
    int exit_status;

    bool display_gone;
    VdBackend *backend;      /* the session's display system */
    VdBackend *clip_backend; /* GNOME: the clipboard through Xwayland (X11), else NULL */

    VdDaemonLink *link;
    const VdClipboardOps *clip_ops; /* NULL: no clipboard */
    void *clip;
    const VdDisplayOps *disp_ops;   /* NULL: no layout, no monitors */
    void *disp;
    bool can_apply;
    VdFiles *files;
    VdVolumeSync *volume;
    VdDeviceMap *devmap;    /* display id -> output, for every backend */
    bool file_xfer;         /* --no-file-xfer: false */
    bool open_dir;          /* --open-dir */
    GDBusConnection *bus;   /* the session bus, once connected (NULL: none) */
    VdNotify *notify;       /* NULL with --no-notifications */
    bool map_sent;          /* last_map is what the daemon has */
    VdDeviceMapReport last_map;

    bool layout_sent;      /* last_layout is what the daemon has */
    VdLayout last_layout;
} App;

/* --- reporting to the daemon --- */

static void report_layout(App *app, bool force)
{
    VdSessionMsg msg = { .type = VD_S_LAYOUT };

    if (!app->disp_ops || app->display_gone || !vd_daemon_link_is_up(app->link))
        return;
    if (!app->disp_ops->get_layout(app->disp, &msg.u.layout))
        return;
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

    if (!app->disp_ops || app->display_gone || !vd_daemon_link_is_up(app->link) ||
        !(vd_daemon_link_peer_features(app->link) & VD_SESSION_FEATURE_REPORTS))
        return;
    app->disp_ops->get_device_map(app->disp, &msg.u.device_map);
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

/* --- file transfer events: notifications and --open-dir --- */

static void on_xfer_started(uint32_t id, const char *name, uint64_t size, void *user_data)
{
    App *app = user_data;
    vd_notify_started(app->notify, id, name, size);
}

static void on_xfer_progress(uint32_t id, uint64_t received, uint64_t size, void *user_data)
{
    App *app = user_data;
    vd_notify_progress(app->notify, id, received, size);
}

static void on_xfer_finished(uint32_t id, const char *name, const char *path, const char *why,
                             unsigned others_running, void *user_data)
{
    App *app = user_data;

    vd_notify_finished(app->notify, id, name, path, why, others_running);
    /* Once per batch: when the last running transfer has arrived. */
    if (path && app->open_dir && others_running == 0)
        vd_open_folder(app->bus, path);
}

static const VdFilesObserver files_observer = {
    .started = on_xfer_started,
    .progress = on_xfer_progress,
    .finished = on_xfer_finished,
};

static void on_bus(GObject *source, GAsyncResult *res, gpointer user_data)
{
    App *app = user_data;
    g_autoptr(GError) error = NULL;

    app->bus = g_bus_get_finish(res, &error);
    if (!app->bus) {
        g_message("no session bus (%s): no notifications%s", error->message,
                  app->open_dir ? "; folders open with xdg-open" : "");
        return;
    }
    if (app->notify)
        vd_notify_set_bus(app->notify, app->bus);
}

/* A session bus we can reach without autolaunching one (GLib's fallback would run dbus-launch). */
static bool session_bus_known(void)
{
    if (g_getenv("DBUS_SESSION_BUS_ADDRESS"))
        return true;
    g_autofree char *bus = g_build_filename(g_get_user_runtime_dir(), "bus", NULL);
    return g_file_test(bus, G_FILE_TEST_EXISTS);
}

static void refuse_xfer(App *app, const VdSessionMsg *msg)
{
    VdSessionMsg out = { .type = VD_S_XFER_STATUS };

    if (msg->type != VD_S_XFER_START)
        return;
    g_message("files: transfer %u refused: file transfer is off (--no-file-xfer)", msg->u.xfer_start.id);
    out.u.xfer_status = (VdFileXferStatus){ .id = msg->u.xfer_start.id, .result = VD_XFER_DISABLED };
    (void)vd_daemon_link_send(app->link, &out);
}

/* --- what backends call --- */

static int backend_send(const VdSessionMsg *msg, void *user_data)
{
    App *app = user_data;
    return vd_daemon_link_send(app->link, msg);
}

static size_t backend_queued(void *user_data)
{
    App *app = user_data;
    return vd_daemon_link_queued(app->link);
}

static void backend_throttle(bool paused, void *user_data)
{
    App *app = user_data;
    vd_daemon_link_set_paused(app->link, paused);
}

static void backend_layout_changed(void *user_data)
{
    report_layout(user_data, false);
    report_device_map(user_data, false);
}

static void backend_monitors_done(uint32_t request_id, uint32_t result, void *user_data)
{
    App *app = user_data;
    VdSessionMsg out = { .type = VD_S_MONITORS_RESULT };

    out.u.monitors_result.request_id = request_id;
    out.u.monitors_result.result = result;
    (void)vd_daemon_link_send(app->link, &out);
    report_layout(app, true);
}

static void backend_gone(void *user_data)
{
    App *app = user_data;

    app->display_gone = true;
    if (app->loop)
        g_main_loop_quit(app->loop);
}

static void apply_monitors(App *app, const VdSessionMsg *in)
{
    if (!app->can_apply) {
        g_message("monitors config %u refused: this display has no way to configure outputs",
                  in->u.monitors.request_id);
        backend_monitors_done(in->u.monitors.request_id, VD_REPLY_ERROR, app);
        return;
    }
    app->disp_ops->apply(app->disp, in->u.monitors.request_id, &in->u.monitors.config);
}

/* --- the daemon link's callbacks --- */

static void on_link_up(void *user_data)
{
    App *app = user_data;

    app->layout_sent = false;
    app->map_sent = false;
    if (app->display_gone)
        return;
    if (app->clip_ops)
        app->clip_ops->link_up(app->clip);
    report_layout(app, true);
    report_device_map(app, true);
}

static void on_link_down(void *user_data)
{
    App *app = user_data;

    app->layout_sent = false;
    vd_files_abort_all(app->files);
    if (app->clip_ops && !app->display_gone)
        app->clip_ops->link_down(app->clip);
}

static void on_link_message(const VdSessionMsg *msg, void *user_data)
{
    App *app = user_data;

    if (app->display_gone)
        return;
    switch ((VdSessionMsgType)msg->type) {
    case VD_S_CLIPBOARD_GRAB:
    case VD_S_CLIPBOARD_REQUEST:
    case VD_S_CLIPBOARD_RELEASE:
    case VD_S_CLIPBOARD_BEGIN:
    case VD_S_CLIPBOARD_DATA:
    case VD_S_CLIPBOARD_ABORT:
        if (app->clip_ops)
            app->clip_ops->handle_msg(app->clip, msg);
        break;
    case VD_S_HOST_STATE:
        if (app->clip_ops)
            app->clip_ops->set_host_state(app->clip, msg->u.host_state.connected, &msg->u.host_state.caps,
                                          msg->u.host_state.max_clipboard);
        break;
    case VD_S_SESSION_STATE:
        if (app->clip_ops)
            app->clip_ops->set_active(app->clip, msg->u.session_state.active);
        break;
    case VD_S_MONITORS_CONFIG:
        apply_monitors(app, msg);
        break;
    case VD_S_DEVICE_INFO:
        if (vd_device_map_set_info(app->devmap, &msg->u.device_info) && app->disp_ops) {
            report_layout(app, false);
            report_device_map(app, false);
        }
        break;
    case VD_S_XFER_START:
    case VD_S_XFER_DATA:
    case VD_S_XFER_CANCEL:
        if (app->file_xfer)
            vd_files_handle_msg(app->files, msg);
        else
            refuse_xfer(app, msg); /* a daemon that ignores our features */
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

    if (app->clip_ops && !app->display_gone)
        app->clip_ops->writable(app->clip);
}

static void on_link_fatal(const char *reason, void *user_data)
{
    App *app = user_data;

    g_critical("cannot work with this daemon (%s): exiting", reason);
    app->exit_status = VD_EXIT_INCOMPATIBLE;
    g_main_loop_quit(app->loop);
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

static const char *env_text(const char *name)
{
    const char *v = g_getenv(name);
    return v ? v : "";
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
    gboolean foreground = FALSE, version = FALSE, no_file_xfer = FALSE, open_dir = FALSE, no_notifications = FALSE;
    /* -x and -d mean what they mean to spice-vdagent. GOption stores callbacks in a gpointer; a union avoids the function-to-object pointer cast. */
    union { GOptionArgFunc fn; gpointer ptr; } debug_cb = { .fn = on_debug_option };
    GOptionEntry entries[] = {
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path,
          "The daemon's session socket (default " VD_SESSION_SOCKET_DEFAULT ")", "PATH" },
        { "display", 0, 0, G_OPTION_ARG_STRING, &display_name,
          "The X display (\":N\") or Wayland socket (\"wayland-N\"); default: the session's", "DISPLAY" },
        { "file-dir", 'f', 0, G_OPTION_ARG_FILENAME, &file_dir,
          "Where received files go: a directory, xdg-desktop or xdg-download (default)", "DIR" },
        { "open-dir", 'o', 0, G_OPTION_ARG_NONE, &open_dir,
          "Show the folder in the file manager when a transfer (the last of a batch) completes", NULL },
        { "no-file-xfer", 0, 0, G_OPTION_ARG_NONE, &no_file_xfer,
          "Refuse file transfers (the host is told they are disabled)", NULL },
        { "no-notifications", 0, 0, G_OPTION_ARG_NONE, &no_notifications,
          "No desktop notifications for file transfers", NULL },
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
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the spice/QEMU guest agent of an X11 or Wayland session");
    g_autoptr(GError) error = NULL;

    setlocale(LC_ALL, "");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Bridges the clipboard, monitors and file transfers of this session "
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
    /* The unit runs `vdagent --foreground`: options of ours given here would be lost on the way. */
    const char *local_option = file_dir           ? "--file-dir"
                               : open_dir         ? "--open-dir"
                               : no_file_xfer     ? "--no-file-xfer"
                               : no_notifications ? "--no-notifications"
                               : audio            ? "--audio"
                                                  : NULL;
    if (!foreground && !socket_path && !g_getenv("INVOCATION_ID") && local_option)
        g_message("%s given: running here, not handing over to the systemd user manager's %s, which would not "
                  "see it",
                  local_option, VD_LAUNCH_UNIT);
    else if (!foreground && !socket_path && !g_getenv("INVOCATION_ID")) {
        /* The display this agent would serve, as the one below chooses it. */
        VdBackendKind launch_kind = vd_backend_choose(display_name, g_getenv("WAYLAND_DISPLAY"),
                                                      g_getenv("XDG_SESSION_TYPE"), g_getenv("DISPLAY"));
        const char *launch_display = display_name ? display_name
                                     : launch_kind == VD_BACKEND_WAYLAND ? g_getenv("WAYLAND_DISPLAY")
                                                                         : g_getenv("DISPLAY");
        VdLaunchResult launched = vd_launch_via_user_manager(launch_kind, launch_display);
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
    signal(SIGPIPE, SIG_IGN);

    VdBackendKind kind = vd_backend_choose(display_name, g_getenv("WAYLAND_DISPLAY"), g_getenv("XDG_SESSION_TYPE"),
                                           g_getenv("DISPLAY"));
    g_debug("display backend: %s (--display %s%s%s, WAYLAND_DISPLAY \"%s\", XDG_SESSION_TYPE \"%s\", DISPLAY \"%s\")",
            vd_backend_kind_to_string(kind), display_name ? "\"" : "", display_name ? display_name : "not given",
            display_name ? "\"" : "", env_text("WAYLAND_DISPLAY"), env_text("XDG_SESSION_TYPE"), env_text("DISPLAY"));
    app.loop = g_main_loop_new(NULL, FALSE);
    app.devmap = vd_device_map_new(sysfs_root);
    VdBackendHost host = {
        .send = backend_send,
        .queued = backend_queued,
        .throttle = backend_throttle,
        .layout_changed = backend_layout_changed,
        .monitors_done = backend_monitors_done,
        .gone = backend_gone,
        .devmap = app.devmap,
    };
    if (kind == VD_BACKEND_WAYLAND)
        app.backend = vd_wayland_backend_new(display_name, &host, &app, &error);
    else
        app.backend = vd_x11_backend_new(display_name, &host, &app, &error);
    if (!app.backend) {
        g_critical("%s", error->message);
        vd_device_map_free(app.devmap);
        g_main_loop_unref(app.loop);
        return VD_EXIT_FAILURE;
    }
    app.clip_ops = app.backend->clip_ops;
    app.clip = app.backend->clip;
    app.disp_ops = app.backend->disp_ops;
    app.disp = app.backend->disp;
    app.can_apply = app.backend->can_apply;
    if (!app.clip_ops && kind == VD_BACKEND_WAYLAND && g_getenv("DISPLAY") && g_getenv("DISPLAY")[0]) {
        /* GNOME: Mutter has no data-control protocol but bridges its Xwayland's selections. */
        app.clip_backend = vd_x11_backend_new(NULL, &host, &app, &error);
        if (app.clip_backend && app.clip_backend->clip_ops) {
            g_message("clipboard through Xwayland (X display \"%s\"): the compositor has no data-control protocol",
                      app.clip_backend->display_name);
            app.clip_ops = app.clip_backend->clip_ops;
            app.clip = app.clip_backend->clip;
        } else if (!app.clip_backend) {
            g_warning("clipboard disabled: no data-control protocol, and %s", error->message);
            g_clear_error(&error);
        }
    }

    if (!foreground) {
        int r = daemonize();
        if (r < 0) {
            g_critical("cannot detach: %s", g_strerror(-r));
            vd_backend_free(app.clip_backend);
            vd_backend_free(app.backend);
            vd_device_map_free(app.devmap);
            return VD_EXIT_FAILURE;
        }
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
    app.files = vd_files_new(file_dir, send_files_status, &app);
    app.file_xfer = !no_file_xfer;
    app.open_dir = open_dir;
    if (!no_notifications)
        app.notify = vd_notify_new();
    vd_files_set_observer(app.files, &files_observer, &app);
    if (app.file_xfer && (app.notify || app.open_dir)) {
        if (session_bus_known())
            g_bus_get(G_BUS_TYPE_SESSION, NULL, on_bus, &app);
        else
            g_message("no session bus: no notifications%s", app.open_dir ? "; folders open with xdg-open" : "");
    }
    app.volume = vd_volume_sync_new(audio_mode, send_volume_applied, &app);
    /* Tell the daemon what works on this display, so that it offers the host only that. */
    uint32_t features = VD_SESSION_FEATURE_REPORTS;
    if (app.file_xfer)
        features |= VD_SESSION_FEATURE_FILES;
    if (app.clip_ops)
        features |= VD_SESSION_FEATURE_CLIPBOARD;
    if (app.disp_ops)
        features |= VD_SESSION_FEATURE_LAYOUT;
    if (app.can_apply)
        features |= VD_SESSION_FEATURE_MONITORS;
    if (audio_mode != VD_AUDIO_OFF)
        features |= VD_SESSION_FEATURE_AUDIO;
    vd_daemon_link_set_features(app.link, features);

    g_unix_signal_add(SIGTERM, on_signal, &app);
    g_unix_signal_add(SIGINT, on_signal, &app);
    g_unix_signal_add(SIGHUP, on_signal, &app);

    g_message("vdagent %s started on %s display \"%s\", daemon socket \"%s\"", VDAGENT_VERSION, app.backend->name,
              app.backend->display_name, socket_path);
    vd_daemon_link_start(app.link);
    if (!app.display_gone)
        g_main_loop_run(app.loop);

    vd_daemon_link_free(app.link);
    vd_files_free(app.files);
    vd_notify_free(app.notify);
    g_clear_object(&app.bus);
    vd_volume_sync_free(app.volume);
    vd_backend_free(app.clip_backend);
    vd_backend_free(app.backend);
    vd_device_map_free(app.devmap);
    g_main_loop_unref(app.loop);
    return app.exit_status;
}
