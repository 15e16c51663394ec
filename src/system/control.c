/* control.c — the vdagent-ctl socket (see control.h). */
#include "control.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-proto.h"
#include "session-proto.h"

typedef struct Client Client;

struct VdControl {
    VdControlConfig config;
    char *path;
    int listen_fd;
    guint listen_id;
    GList *clients; /* of Client* */
    unsigned n_monitoring;
    uint64_t next_id;
    gint64 started_us;
    uint64_t refused, traces_dropped;
};

struct Client {
    VdControl *control;
    uint64_t id;
    int fd;
    guint read_id, write_id, hello_timer;
    VdIpcDecoder *decoder;
    GByteArray *out;
    bool greeted, monitoring, with_bytes, closing;
};

static void client_free(Client *c)
{
    VdControl *control = c->control;
    control->clients = g_list_remove(control->clients, c);
    if (c->monitoring && --control->n_monitoring == 0)
        vd_router_set_trace(control->config.router, NULL, NULL);
    if (c->read_id)
        g_source_remove(c->read_id);
    if (c->write_id)
        g_source_remove(c->write_id);
    if (c->hello_timer)
        g_source_remove(c->hello_timer);
    close(c->fd);
    vd_ipc_decoder_free(c->decoder);
    g_byte_array_unref(c->out);
    g_free(c);
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer user_data);

/* Writes what it can now; the rest waits for POLLOUT. Returns false if the client is gone. */
static bool client_flush(Client *c)
{
    while (c->out->len > 0) {
        ssize_t n = send(c->fd, c->out->data, c->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            g_debug("control client: write failed: %s", g_strerror(errno));
            client_free(c);
            return false;
        }
        g_byte_array_remove_range(c->out, 0, (guint)n);
    }
    if (c->out->len == 0 && c->closing) {
        client_free(c);
        return false;
    }
    if (c->out->len > 0 && !c->write_id)
        c->write_id = g_unix_fd_add(c->fd, G_IO_OUT, on_writable, c);
    return true;
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer user_data)
{
    Client *c = user_data;
    c->write_id = 0;
    client_flush(c);
    return G_SOURCE_REMOVE;
}

static void client_send(Client *c, const VdControlMsg *msg)
{
    if (vd_control_msg_encode(c->out, msg) < 0) {
        /* Only a status document could be too large; say so instead. */
        VdControlMsg err = { .type = VD_C_RESULT };
        err.u.result.code = VD_IPC_ERR_INTERNAL;
        err.u.result.message = (char *)"reply too large for one frame";
        vd_control_msg_encode(c->out, &err);
    }
}

static void client_result(Client *c, uint32_t code, const char *message)
{
    VdControlMsg msg = { .type = VD_C_RESULT };
    msg.u.result.code = code;
    msg.u.result.message = (char *)(message ? message : "");
    client_send(c, &msg);
}

/* Queues ERROR and closes once it is written. */
static void client_refuse(Client *c, uint32_t code, const char *message)
{
    VdControlMsg msg = { .type = VD_IPC_ERROR };
    msg.u.error.code = code;
    msg.u.error.message = (char *)message;
    client_send(c, &msg);
    c->closing = true;
    if (c->read_id) {
        g_source_remove(c->read_id);
        c->read_id = 0;
    }
}

/* --- status --- */

static void build_status(VdControl *control, JsonBuilder *b)
{
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "version");
    json_builder_add_string_value(b, VDAGENT_VERSION);
    json_builder_set_member_name(b, "pid");
    json_builder_add_int_value(b, getpid());
    json_builder_set_member_name(b, "uptime");
    json_builder_add_double_value(b, (double)(g_get_monotonic_time() - control->started_us) / 1e6);
    vd_router_status(control->config.router, b);
    vd_sessions_status(control->config.sessions, b);
    json_builder_set_member_name(b, "qga");
    if (control->config.qga)
        vd_qga_status(control->config.qga, b);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "control");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "clients");
    json_builder_add_int_value(b, g_list_length(control->clients));
    json_builder_set_member_name(b, "watching");
    json_builder_add_int_value(b, control->n_monitoring);
    json_builder_set_member_name(b, "refused");
    json_builder_add_int_value(b, (gint64)control->refused);
    json_builder_set_member_name(b, "traces_dropped");
    json_builder_add_int_value(b, (gint64)control->traces_dropped);
    json_builder_end_object(b);
    json_builder_end_object(b);
}

static void handle_status(Client *c)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    build_status(c->control, b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_root(gen, root);
    g_autofree char *json = json_generator_to_data(gen, NULL);
    VdControlMsg msg = { .type = VD_C_STATUS_REPLY };
    msg.u.status.json = json;
    client_send(c, &msg);
}

/* --- trace --- */

static void summarize_session_msg(uint32_t type, const uint8_t *bytes, size_t len, char *out, size_t size)
{
    VdSessionMsg m = { 0 };
    const char *reason = NULL;
    if (vd_session_msg_decode((uint16_t)type, bytes, len, &m, &reason) < 0) {
        g_snprintf(out, size, "(undecodable: %s)", reason ? reason : "?");
        return;
    }
    switch (m.type) {
    case VD_S_CLIPBOARD_GRAB: {
        GString *s = g_string_new(vd_selection_to_string(m.u.grab.selection));
        for (uint32_t i = 0; i < m.u.grab.n_types; i++)
            g_string_append_printf(s, " %s", vd_clipboard_type_to_string(m.u.grab.types[i]));
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_S_CLIPBOARD_REQUEST:
        g_snprintf(out, size, "%s %s", vd_selection_to_string(m.u.request.selection),
                   vd_clipboard_type_to_string(m.u.request.type));
        break;
    case VD_S_CLIPBOARD_RELEASE:
    case VD_S_CLIPBOARD_ABORT:
        g_snprintf(out, size, "%s", vd_selection_to_string(m.u.release.selection));
        break;
    case VD_S_CLIPBOARD_BEGIN:
        g_snprintf(out, size, "%s %s total=%" G_GUINT64_FORMAT, vd_selection_to_string(m.u.begin.selection),
                   vd_clipboard_type_to_string(m.u.begin.type), m.u.begin.total);
        break;
    case VD_S_CLIPBOARD_DATA:
        g_snprintf(out, size, "%s %zu bytes", vd_selection_to_string(m.u.data.selection), m.u.data.len);
        break;
    case VD_S_HOST_STATE: {
        char caps[256];
        g_snprintf(out, size, "connected=%d max_clipboard=%d caps=%s", m.u.host_state.connected,
                   m.u.host_state.max_clipboard, vd_caps_to_string(&m.u.host_state.caps, caps, sizeof(caps)));
        break;
    }
    case VD_S_SESSION_STATE:
        g_snprintf(out, size, "active=%d locked=%d", m.u.session_state.active, m.u.session_state.locked);
        break;
    case VD_S_MONITORS_CONFIG: {
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "request=%u", m.u.monitors.request_id);
        for (uint32_t i = 0; i < m.u.monitors.config.count; i++) {
            const VdMonitor *mon = &m.u.monitors.config.monitors[i];
            g_string_append_printf(s, " %ux%u%+d%+d", mon->width, mon->height, mon->x, mon->y);
        }
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_S_MONITORS_RESULT:
        g_snprintf(out, size, "request=%u %s", m.u.monitors_result.request_id,
                   vd_reply_error_to_string(m.u.monitors_result.result));
        break;
    case VD_S_LAYOUT: {
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "screen=%ux%u", m.u.layout.screen_width, m.u.layout.screen_height);
        for (uint32_t i = 0; i < m.u.layout.count; i++) {
            const VdDisplayRect *d = &m.u.layout.displays[i];
            g_string_append_printf(s, " %u:%ux%u%+d%+d", d->display_id, d->width, d->height, d->x, d->y);
        }
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_S_DEVICE_INFO:
        g_snprintf(out, size, "%u entries", m.u.device_info.count);
        break;
    case VD_S_XFER_START:
        g_snprintf(out, size, "id=%u size=%" G_GUINT64_FORMAT " name=\"%s\"", m.u.xfer_start.id,
                   m.u.xfer_start.size, m.u.xfer_start.name);
        break;
    case VD_S_XFER_DATA:
        g_snprintf(out, size, "id=%u %zu bytes", m.u.xfer_data.id, m.u.xfer_data.len);
        break;
    case VD_S_XFER_CANCEL:
        g_snprintf(out, size, "id=%u %s", m.u.xfer_cancel.id, vd_xfer_result_to_string(m.u.xfer_cancel.result));
        break;
    case VD_S_XFER_STATUS:
        g_snprintf(out, size, "id=%u %s", m.u.xfer_status.id, vd_xfer_result_to_string(m.u.xfer_status.result));
        break;
    case VD_IPC_HELLO:
        g_snprintf(out, size, "version %u.%u \"%s\"", m.u.hello.version_major, m.u.hello.version_minor,
                   m.u.hello.software ? m.u.hello.software : "");
        break;
    case VD_IPC_ERROR:
        g_snprintf(out, size, "%s \"%s\"", vd_ipc_error_code_to_string(m.u.error.code),
                   m.u.error.message ? m.u.error.message : "");
        break;
    default:
        out[0] = '\0';
    }
    vd_session_msg_clear(&m);
}

static void on_trace(unsigned direction, uint32_t port, uint32_t type, uint64_t size, const char *peer,
                     const uint8_t *bytes, size_t len, void *user_data)
{
    VdControl *control = user_data;
    char summary[512];
    if (direction == VD_TRACE_HOST_TO_GUEST || direction == VD_TRACE_GUEST_TO_HOST) {
        VdHost *host = vd_router_host(control->config.router);
        vd_message_summary(type, bytes, len, vd_host_negotiated(host), summary, sizeof(summary));
    } else {
        summarize_session_msg(type, bytes, len, summary, sizeof(summary));
    }
    VdControlMsg msg = { .type = VD_C_TRACE };
    VdTrace *t = &msg.u.trace;
    t->time_us = (uint64_t)g_get_real_time();
    t->direction = (uint8_t)direction;
    t->port = (uint8_t)port;
    t->type = type;
    t->size = size;
    t->peer = (char *)(peer ? peer : "");
    t->summary = summary;
    for (GList *l = control->clients, *next; l; l = next) {
        next = l->next;
        Client *c = l->data;
        if (!c->monitoring || c->closing)
            continue;
        if (c->out->len > VD_CONTROL_OUT_MAX) {
            control->traces_dropped++;
            continue;
        }
        t->bytes = c->with_bytes ? bytes : NULL;
        t->n_bytes = c->with_bytes ? (uint32_t)MIN(len, VD_CONTROL_TRACE_BYTES) : 0;
        client_send(c, &msg);
        client_flush(c);
    }
}

/* --- requests --- */

typedef struct {
    VdControl *control;
    uint64_t client_id;
} Pending;

static Client *find_client(VdControl *control, uint64_t id)
{
    for (GList *l = control->clients; l; l = l->next)
        if (((Client *)l->data)->id == id)
            return l->data;
    return NULL;
}

static void on_clipboard_got(uint8_t selection, uint32_t type, const uint8_t *data, size_t len,
                             const GError *error, void *user_data)
{
    g_autofree Pending *p = user_data;
    Client *c = find_client(p->control, p->client_id);
    if (!c)
        return;
    if (error) {
        client_result(c, error->code ? (uint32_t)error->code : VD_IPC_ERR_INTERNAL, error->message);
    } else {
        VdControlMsg msg = { .type = VD_C_CLIPBOARD_REPLY };
        msg.u.clipboard.selection = selection;
        msg.u.clipboard.type = type;
        msg.u.clipboard.data = data;
        msg.u.clipboard.len = (uint32_t)len;
        client_send(c, &msg);
    }
    client_flush(c);
}

static void handle_request(Client *c, const VdControlMsg *msg)
{
    VdControl *control = c->control;
    VdHost *host = vd_router_host(control->config.router);
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autoptr(GError) error = NULL;

    switch (msg->type) {
    case VD_C_STATUS:
        handle_status(c);
        break;
    case VD_C_MONITOR:
        if (!c->monitoring) {
            c->monitoring = true;
            if (control->n_monitoring++ == 0)
                vd_router_set_trace(control->config.router, on_trace, control);
        }
        c->with_bytes = msg->u.monitor.with_bytes;
        client_result(c, 0, "tracing");
        break;
    case VD_C_INJECT_MOUSE:
        g_message("vdagent-ctl: injecting MOUSE_STATE x=%u y=%u buttons=0x%x display=%u", msg->u.mouse.x,
                  msg->u.mouse.y, msg->u.mouse.buttons, msg->u.mouse.display_id);
        vd_build_mouse_state(payload, &msg->u.mouse);
        vd_host_inject(host, VD_PORT_SERVER, VD_MSG_MOUSE_STATE, payload->data, payload->len);
        client_result(c, 0, "injected");
        break;
    case VD_C_INJECT_MONITORS:
        g_message("vdagent-ctl: injecting MONITORS_CONFIG with %u monitors", msg->u.monitors.count);
        vd_build_monitors_config(payload, &msg->u.monitors);
        vd_host_inject(host, VD_PORT_CLIENT, VD_MSG_MONITORS_CONFIG, payload->data, payload->len);
        client_result(c, 0, "injected");
        break;
    case VD_C_CLIPBOARD_SET:
        g_message("vdagent-ctl: offering %u bytes of %s on %s as if from the host", msg->u.clipboard.len,
                  vd_clipboard_type_to_string(msg->u.clipboard.type),
                  vd_selection_to_string(msg->u.clipboard.selection));
        if (vd_router_clipboard_set(control->config.router, msg->u.clipboard.selection, msg->u.clipboard.type,
                                    msg->u.clipboard.data, msg->u.clipboard.len, &error))
            client_result(c, 0, "offered");
        else
            client_result(c, (uint32_t)error->code, error->message);
        break;
    case VD_C_CLIPBOARD_GET: {
        Pending *p = g_new0(Pending, 1);
        p->control = control;
        p->client_id = c->id;
        vd_router_clipboard_get(control->config.router, msg->u.clipboard_get.selection,
                                msg->u.clipboard_get.type, on_clipboard_got, p);
        break;
    }
    default:
        client_result(c, VD_IPC_ERR_UNSUPPORTED, "not a request");
        break;
    }
}

static int on_frame(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    Client *c = user_data;
    VdControlMsg msg = { 0 };
    const char *reason = NULL;
    int r = vd_control_msg_decode(type, payload, len, &msg, &reason);
    if (r == -EOPNOTSUPP && c->greeted) {
        client_result(c, VD_IPC_ERR_UNSUPPORTED, "unknown request type");
        return 0;
    }
    if (r < 0) {
        g_message("control client: malformed %s frame: %s", vd_control_msg_type_to_string(type),
                  reason ? reason : "?");
        client_refuse(c, VD_IPC_ERR_BAD_FRAME, reason ? reason : "malformed frame");
        return 1;
    }
    if (!c->greeted) {
        bool ok = msg.type == VD_IPC_HELLO && msg.u.hello.magic == VD_CONTROL_MAGIC;
        if (!ok) {
            client_refuse(c, VD_IPC_ERR_BAD_FRAME, "HELLO expected first");
        } else if (msg.u.hello.version_major != VD_CONTROL_VERSION_MAJOR) {
            g_autofree char *why = g_strdup_printf("control protocol %u.x is not spoken here (%u.%u is)",
                                                   msg.u.hello.version_major, VD_CONTROL_VERSION_MAJOR,
                                                   VD_CONTROL_VERSION_MINOR);
            client_refuse(c, VD_IPC_ERR_VERSION, why);
            ok = false;
        } else {
            VdControlMsg hello = { .type = VD_IPC_HELLO };
            hello.u.hello.magic = VD_CONTROL_MAGIC;
            hello.u.hello.version_major = VD_CONTROL_VERSION_MAJOR;
            hello.u.hello.version_minor = VD_CONTROL_VERSION_MINOR;
            hello.u.hello.software = (char *)"vdagentd " VDAGENT_VERSION;
            client_send(c, &hello);
            c->greeted = true;
            g_source_remove(c->hello_timer);
            c->hello_timer = 0;
        }
        vd_control_msg_clear(&msg);
        return ok ? 0 : 1;
    }
    handle_request(c, &msg);
    vd_control_msg_clear(&msg);
    return 0;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer user_data)
{
    Client *c = user_data;
    uint8_t buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        c->read_id = 0;
        client_free(c);
        return G_SOURCE_REMOVE;
    }
    const char *reason = NULL;
    int r = vd_ipc_decoder_feed(c->decoder, buf, (size_t)n, on_frame, c, &reason);
    if (r == -EBADMSG) {
        g_message("control client: bad frame header: %s", reason ? reason : "?");
        client_refuse(c, VD_IPC_ERR_BAD_FRAME, reason ? reason : "bad frame");
    }
    bool reading = c->read_id != 0;
    if (!reading)
        c->read_id = 0; /* removed by client_refuse: do not remove twice */
    client_flush(c);
    return reading ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean on_hello_timeout(gpointer user_data)
{
    Client *c = user_data;
    c->hello_timer = 0;
    g_message("control client: no HELLO in %u ms, closing", VD_CONTROL_HELLO_TIMEOUT_MS);
    client_free(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_accept(int fd, GIOCondition cond, gpointer user_data)
{
    VdControl *control = user_data;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            g_warning("control socket: accept: %s", g_strerror(errno));
        return G_SOURCE_CONTINUE;
    }
    Client *c = g_new0(Client, 1);
    c->control = control;
    c->id = ++control->next_id;
    c->fd = cfd;
    c->decoder = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
    c->out = g_byte_array_new();
    control->clients = g_list_prepend(control->clients, c);

    /* The socket is 0600 root, but its mode is not the check: the peer's credentials are. */
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != 0) {
        control->refused++;
        g_message("control socket: refusing uid %d (pid %d): root only", cl ? (int)cred.uid : -1,
                  cl ? (int)cred.pid : -1);
        client_refuse(c, VD_IPC_ERR_PERMISSION, "vdagentd's control socket is for root only");
        client_flush(c);
        return G_SOURCE_CONTINUE;
    }
    if (g_list_length(control->clients) > VD_CONTROL_MAX_CLIENTS) {
        control->refused++;
        client_refuse(c, VD_IPC_ERR_LIMIT, "too many vdagent-ctl clients");
        client_flush(c);
        return G_SOURCE_CONTINUE;
    }
    c->read_id = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, c);
    c->hello_timer = g_timeout_add(VD_CONTROL_HELLO_TIMEOUT_MS, on_hello_timeout, c);
    return G_SOURCE_CONTINUE;
}

VdControl *vd_control_new(const VdControlConfig *config)
{
    VdControl *control = g_new0(VdControl, 1);
    control->config = *config;
    control->listen_fd = -1;
    control->started_us = g_get_monotonic_time();
    return control;
}

void vd_control_free(VdControl *control)
{
    if (!control)
        return;
    while (control->clients)
        client_free(control->clients->data);
    if (control->listen_id)
        g_source_remove(control->listen_id);
    if (control->listen_fd >= 0) {
        close(control->listen_fd);
        unlink(control->path);
    }
    g_free(control->path);
    g_free(control);
}

bool vd_control_listen(VdControl *control, const char *path, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "control socket path too long: \"%s\"", path);
        return false;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot create \"%s\": %s", dir,
                    g_strerror(errno));
        return false;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socket: %s", g_strerror(errno));
        return false;
    }
    /* Only a socket may be replaced: never unlink a regular file someone pointed us at. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (r < 0 || listen(fd, 8) < 0) {
        int e = errno;
        close(fd);
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot listen on \"%s\": %s", path,
                    g_strerror(e));
        return false;
    }
    control->listen_fd = fd;
    control->path = g_strdup(path);
    control->listen_id = g_unix_fd_add(fd, G_IO_IN, on_accept, control);
    return true;
}
