/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control.c — the vdagent-ctl socket (see control.h).
 *
 * Each client goes HELLO -> READY, or to LINGER once it is refused: the ERROR is flushed, our side
 * shut down, and what the peer still sends is read and dropped until it hangs up or
 * VD_CONTROL_LINGER_MS pass (so its own HELLO, written before it reads, does not fail with EPIPE
 * and hide our reason). A client whose socket fails is marked dead, its descriptor closed at once,
 * and its memory freed from a high-priority idle callback (before any other source runs), so no
 * caller ever holds a freed client. A non-root peer is refused at once, without lingering: it is
 * not owed an explanation worth a descriptor. A client that sends nothing for
 * VD_CONTROL_IDLE_TIMEOUT_MS while no answer is owed and it is not monitoring is closed.
 */
#include "control.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-proto.h"
#include "listener.h"
#include "outq.h"
#include "session-proto.h"

typedef enum {
    CLIENT_HELLO,  /* waiting for its HELLO */
    CLIENT_READY,  /* answering requests */
    CLIENT_LINGER, /* refused: flushing an ERROR, then draining until EOF */
} ClientState;

static const char *client_state_to_string(ClientState s)
{
    switch (s) {
    case CLIENT_HELLO: return "hello";
    case CLIENT_READY: return "ready";
    case CLIENT_LINGER: return "linger";
    }
    return "?";
}

typedef struct Client Client;

/* The answer a clipboard get waits for. The router owns it until its callback runs; the client only
 * points at it, and clears waiter->client when it goes first. */
typedef struct {
    Client *client;
} Waiter;

struct VdControl {
    VdControlConfig config;
    char *path;
    VdListener *listener;
    GList *clients; /* of Client*, the dead ones included until their idle free */
    unsigned n_clients, n_monitoring;
    gint64 started_us;
    uint64_t accepted, refused, traces, traces_dropped;
};

struct Client {
    VdControl *control;
    int fd;
    uid_t uid;
    pid_t pid;
    ClientState state;
    guint read_id, write_id, timer_id, free_id, idle_id;
    VdIpcDecoder *decoder;
    VdOutQueue out;
    GQueue requests; /* of GBytes (type u16 + payload): received while one was in flight */
    size_t requests_bytes;
    Waiter *waiter;  /* the clipboard get in flight, or NULL */
    bool dispatching, monitoring, with_bytes, dead;
    uint64_t dropped;
};

static size_t queued(const Client *c)
{
    return vd_outq_queued(&c->out);
}

static void client_unwatch(Client *c)
{
    if (c->read_id)
        g_source_remove(c->read_id);
    if (c->write_id)
        g_source_remove(c->write_id);
    if (c->timer_id)
        g_source_remove(c->timer_id);
    c->read_id = c->write_id = c->timer_id = 0;
    g_clear_handle_id(&c->idle_id, g_source_remove);
}

static void client_stop_monitoring(Client *c)
{
    if (!c->monitoring)
        return;
    c->monitoring = false;
    if (--c->control->n_monitoring == 0)
        vd_router_set_trace(c->control->config.router, NULL, NULL);
}

static void client_free(Client *c)
{
    VdControl *control = c->control;
    control->clients = g_list_remove(control->clients, c);
    if (!c->dead)
        control->n_clients--;
    client_stop_monitoring(c);
    client_unwatch(c);
    if (c->free_id)
        g_source_remove(c->free_id);
    if (c->waiter)
        c->waiter->client = NULL;
    if (c->fd >= 0)
        close(c->fd);
    vd_ipc_decoder_free(c->decoder);
    vd_outq_clear(&c->out);
    g_queue_clear_full(&c->requests, (GDestroyNotify)g_bytes_unref);
    g_free(c);
}

static gboolean on_free_idle(gpointer user_data)
{
    Client *c = user_data;
    c->free_id = 0;
    client_free(c);
    return G_SOURCE_REMOVE;
}

/* Stops everything about c now; the memory goes from an idle callback. */
static void client_kill(Client *c, const char *why)
{
    if (c->dead)
        return;
    g_debug("control client (uid %d, pid %d, %s): closing: %s", (int)c->uid, (int)c->pid,
            client_state_to_string(c->state), why);
    c->dead = true;
    c->control->n_clients--;
    client_stop_monitoring(c);
    client_unwatch(c);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->free_id = g_idle_add_full(G_PRIORITY_HIGH, on_free_idle, c, NULL);
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer user_data);
static gboolean on_readable(int fd, GIOCondition cond, gpointer user_data);

static bool client_full(const Client *c)
{
    return queued(c) > VD_CONTROL_OUT_MAX;
}

/* Writes what it can now; the rest waits for POLLOUT. A client whose replies pile up unread is not
 * read from until they drain, so what it can make us queue stays bounded. */
static void client_flush(Client *c)
{
    if (c->dead)
        return;
    ssize_t n = vd_outq_flush(&c->out, c->fd, true);
    if (n < 0) {
        client_kill(c, g_strerror((int)-n));
        return;
    }
    if (queued(c) > 0 && !c->write_id)
        c->write_id = g_unix_fd_add(c->fd, G_IO_OUT, on_writable, c);
    if (c->state == CLIENT_LINGER && queued(c) == 0)
        shutdown(c->fd, SHUT_WR);
    bool full = client_full(c) && c->state != CLIENT_LINGER;
    if (full && c->read_id) {
        g_source_remove(c->read_id);
        c->read_id = 0;
    } else if (!full && !c->read_id) {
        c->read_id = g_unix_fd_add(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, c);
    }
}

static void client_dispatch(Client *c);

/* Answers held requests and writes, for as long as writing makes room for more answers. */
static void client_pump(Client *c)
{
    if (c->dispatching)
        return; /* the dispatch loop up the stack goes on */
    do {
        client_dispatch(c);
        client_flush(c);
    } while (!c->dead && !c->waiter && c->state == CLIENT_READY && !client_full(c) &&
             !g_queue_is_empty(&c->requests));
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer user_data)
{
    Client *c = user_data;
    c->write_id = 0;
    client_pump(c);
    return G_SOURCE_REMOVE;
}

static void client_send(Client *c, const VdControlMsg *msg)
{
    if (vd_control_msg_encode(vd_outq_buffer(&c->out), msg) < 0) {
        /* Only a status document could be too large; say so instead. */
        VdControlMsg err = { .type = VD_C_RESULT };
        err.u.result.code = VD_IPC_ERR_INTERNAL;
        err.u.result.message = (char *)"reply too large for one frame";
        vd_control_msg_encode(vd_outq_buffer(&c->out), &err);
    }
}

static void client_result(Client *c, uint32_t code, const char *message)
{
    VdControlMsg msg = { .type = VD_C_RESULT };
    msg.u.result.code = code;
    msg.u.result.message = (char *)(message ? message : "");
    client_send(c, &msg);
}

static gboolean on_linger_timeout(gpointer user_data)
{
    Client *c = user_data;
    c->timer_id = 0;
    client_kill(c, "refused peer did not hang up");
    return G_SOURCE_REMOVE;
}

/* Queues ERROR, answers nothing more, and closes once the peer has had time to read it. */
static void client_refuse(Client *c, uint32_t code, const char *message)
{
    if (c->dead || c->state == CLIENT_LINGER)
        return;
    VdControlMsg msg = { .type = VD_IPC_ERROR };
    msg.u.error.code = code;
    msg.u.error.message = (char *)message;
    client_send(c, &msg);
    c->state = CLIENT_LINGER;
    client_stop_monitoring(c);
    g_queue_clear_full(&c->requests, (GDestroyNotify)g_bytes_unref);
    c->requests_bytes = 0;
    if (c->timer_id)
        g_source_remove(c->timer_id);
    c->timer_id = g_timeout_add(VD_CONTROL_LINGER_MS, on_linger_timeout, c);
}

/* --- status --- */

/* Adds to each session "agent": whether a session agent of that session is connected. */
static void join_agents(JsonObject *root)
{
    JsonArray *sessions = json_object_has_member(root, "sessions") ? json_object_get_array_member(root, "sessions")
                                                                   : NULL;
    JsonArray *agents = json_object_has_member(root, "agents") ? json_object_get_array_member(root, "agents")
                                                               : NULL;
    if (!sessions)
        return;
    for (guint i = 0; i < json_array_get_length(sessions); i++) {
        JsonObject *s = json_array_get_object_element(sessions, i);
        const char *id = s ? json_object_get_string_member_with_default(s, "id", NULL) : NULL;
        bool connected = false;
        for (guint j = 0; id && agents && j < json_array_get_length(agents); j++) {
            JsonObject *a = json_array_get_object_element(agents, j);
            connected |= a && g_strcmp0(json_object_get_string_member_with_default(a, "session", NULL), id) == 0;
        }
        if (s)
            json_object_set_boolean_member(s, "agent", connected);
    }
}

/* What reached the pointer device: input_event records and the write()s that carried them. */
static void add_uinput_counters(VdControl *control, JsonObject *root)
{
    JsonObject *mouse = json_object_has_member(root, "mouse") ? json_object_get_object_member(root, "mouse") : NULL;
    if (!mouse || !control->config.uinput)
        return;
    json_object_set_int_member(mouse, "input_events", (gint64)vd_uinput_events(control->config.uinput));
    json_object_set_int_member(mouse, "writes", (gint64)vd_uinput_writes(control->config.uinput));
}

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
    json_builder_set_member_name(b, "path");
    json_builder_add_string_value(b, control->path ? control->path : "");
    json_builder_set_member_name(b, "clients");
    json_builder_add_int_value(b, control->n_clients);
    json_builder_set_member_name(b, "watching");
    json_builder_add_int_value(b, control->n_monitoring);
    json_builder_set_member_name(b, "accepted");
    json_builder_add_int_value(b, (gint64)control->accepted);
    json_builder_set_member_name(b, "refused");
    json_builder_add_int_value(b, (gint64)control->refused);
    json_builder_set_member_name(b, "traces");
    json_builder_add_int_value(b, (gint64)control->traces);
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
    join_agents(json_node_get_object(root));
    add_uinput_counters(c->control, json_node_get_object(root));
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_root(gen, root);
    g_autofree char *json = json_generator_to_data(gen, NULL);
    VdControlMsg msg = { .type = VD_C_STATUS_REPLY };
    msg.u.status.json = json;
    client_send(c, &msg);
}

/* --- trace --- */

static void on_trace(unsigned direction, uint32_t port, uint32_t type, uint64_t size, const char *peer,
                     const uint8_t *bytes, size_t len, void *user_data)
{
    VdControl *control = user_data;
    char summary[512];
    if (direction == VD_TRACE_HOST_TO_GUEST || direction == VD_TRACE_GUEST_TO_HOST) {
        VdHost *host = vd_router_host(control->config.router);
        vd_message_summary(type, bytes, len, vd_host_negotiated(host), summary, sizeof(summary));
    } else {
        vd_session_msg_summary(type, bytes, len, summary, sizeof(summary));
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
    control->traces++;
    for (GList *l = control->clients; l; l = l->next) {
        Client *c = l->data;
        if (!c->monitoring || c->dead)
            continue;
        if (queued(c) > VD_CONTROL_OUT_MAX) {
            c->dropped++;
            control->traces_dropped++;
            continue;
        }
        t->bytes = c->with_bytes ? bytes : NULL;
        t->n_bytes = c->with_bytes ? (uint32_t)MIN(len, VD_CONTROL_TRACE_BYTES) : 0;
        client_send(c, &msg);
        /* Written from the main loop, not from inside the module that traced: a burst of
         * messages leaves in a few large writes, and nothing here re-enters the router. */
        if (!c->write_id)
            c->write_id = g_unix_fd_add(c->fd, G_IO_OUT, on_writable, c);
    }
}

/* --- requests --- */

static void on_clipboard_got(uint8_t selection, uint32_t type, const uint8_t *data, size_t len,
                             const GError *error, void *user_data)
{
    g_autofree Waiter *w = user_data;
    Client *c = w->client;
    if (!c)
        return; /* it left meanwhile */
    c->waiter = NULL;
    if (c->dead || c->state != CLIENT_READY)
        return;
    if (error) {
        uint32_t code = error->domain == vd_router_error_quark() && error->code > 0 && error->code < VD_IPC_ERR_END
                            ? (uint32_t)error->code
                            : VD_IPC_ERR_INTERNAL;
        client_result(c, code, error->message);
    } else {
        VdControlMsg msg = { .type = VD_C_CLIPBOARD_REPLY };
        msg.u.clipboard.selection = selection;
        msg.u.clipboard.type = type;
        msg.u.clipboard.data = data;
        msg.u.clipboard.len = (uint32_t)len;
        client_send(c, &msg);
    }
    /* Synchronous answers are flushed and followed up by the dispatch loop that asked. */
    client_pump(c);
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
            g_message("vdagent-ctl (uid %d, pid %d) is tracing messages", (int)c->uid, (int)c->pid);
        }
        c->with_bytes = msg->u.monitor.with_bytes;
        client_result(c, 0, "tracing");
        break;
    case VD_C_INJECT_MOUSE: {
        char buttons[128];
        g_message("vdagent-ctl (pid %d): injecting MOUSE_STATE x=%u y=%u buttons=%s display=%u", (int)c->pid,
                  msg->u.mouse.x, msg->u.mouse.y, vd_buttons_to_string(msg->u.mouse.buttons, buttons, sizeof(buttons)),
                  msg->u.mouse.display_id);
        vd_build_mouse_state(payload, &msg->u.mouse);
        vd_host_inject(host, VD_PORT_SERVER, VD_MSG_MOUSE_STATE, payload->data, payload->len);
        client_result(c, 0, "injected");
        break;
    }
    case VD_C_INJECT_MONITORS:
        g_message("vdagent-ctl (pid %d): injecting MONITORS_CONFIG with %u monitors", (int)c->pid,
                  msg->u.monitors.count);
        vd_build_monitors_config(payload, &msg->u.monitors);
        vd_host_inject(host, VD_PORT_CLIENT, VD_MSG_MONITORS_CONFIG, payload->data, payload->len);
        client_result(c, 0, "injected");
        break;
    case VD_C_CLIPBOARD_SET:
        g_message("vdagent-ctl (pid %d): offering %u bytes of %s on %s as if from the host", (int)c->pid,
                  msg->u.clipboard.len, vd_clipboard_type_to_string(msg->u.clipboard.type),
                  vd_selection_to_string(msg->u.clipboard.selection));
        if (vd_router_clipboard_set(control->config.router, msg->u.clipboard.selection, msg->u.clipboard.type,
                                    msg->u.clipboard.data, msg->u.clipboard.len, &error))
            client_result(c, 0, "offered");
        else
            client_result(c, error->code > 0 && error->code < VD_IPC_ERR_END ? (uint32_t)error->code
                                                                             : VD_IPC_ERR_INTERNAL,
                          error->message);
        break;
    case VD_C_CLIPBOARD_GET: {
        g_message("vdagent-ctl (pid %d): asking the session agent for its %s on %s", (int)c->pid,
                  vd_clipboard_type_to_string(msg->u.clipboard_get.type),
                  vd_selection_to_string(msg->u.clipboard_get.selection));
        Waiter *w = g_new0(Waiter, 1);
        w->client = c;
        c->waiter = w;
        vd_router_clipboard_get(control->config.router, msg->u.clipboard_get.selection, msg->u.clipboard_get.type,
                                on_clipboard_got, w);
        break;
    }
    default:
        client_result(c, VD_IPC_ERR_UNSUPPORTED, "not a request");
        break;
    }
}

static gboolean on_idle_timeout(gpointer user_data)
{
    Client *c = user_data;
    c->idle_id = 0;
    if (c->monitoring || c->waiter || c->state != CLIENT_READY) {
        c->idle_id = g_timeout_add(VD_CONTROL_IDLE_TIMEOUT_MS, on_idle_timeout, c);
        return G_SOURCE_REMOVE;
    }
    g_debug("control client (pid %d): idle for %u ms", (int)c->pid, VD_CONTROL_IDLE_TIMEOUT_MS);
    client_refuse(c, VD_IPC_ERR_TIMEOUT, "idle for too long");
    client_flush(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_hello_timeout(gpointer user_data)
{
    Client *c = user_data;
    c->timer_id = 0;
    g_message("control client (uid %d, pid %d): no HELLO in %u ms", (int)c->uid, (int)c->pid,
              VD_CONTROL_HELLO_TIMEOUT_MS);
    client_refuse(c, VD_IPC_ERR_TIMEOUT, "no HELLO in time");
    client_flush(c);
    return G_SOURCE_REMOVE;
}

static void handle_hello(Client *c, const VdControlMsg *msg)
{
    const VdIpcHello *h = &msg->u.hello;
    if (h->version_major != VD_CONTROL_VERSION_MAJOR) {
        g_autofree char *why = g_strdup_printf("control protocol %u.%u is not spoken here (%u.%u is)",
                                               h->version_major, h->version_minor, VD_CONTROL_VERSION_MAJOR,
                                               VD_CONTROL_VERSION_MINOR);
        g_message("control client (uid %d, pid %d, \"%s\"): %s", (int)c->uid, (int)c->pid,
                  h->software ? h->software : "", why);
        client_refuse(c, VD_IPC_ERR_VERSION, why);
        return;
    }
    if (h->version_minor != VD_CONTROL_VERSION_MINOR)
        g_debug("control client \"%s\" speaks %u.%u, we %u.%u", h->software ? h->software : "", h->version_major,
                h->version_minor, VD_CONTROL_VERSION_MAJOR, VD_CONTROL_VERSION_MINOR);
    g_source_remove(c->timer_id);
    c->timer_id = 0;
    c->state = CLIENT_READY;
}

/* One frame, in order. Returns false when the client must not be given more (refused). */
static bool handle_frame(Client *c, uint16_t type, const uint8_t *payload, size_t len)
{
    VdControlMsg msg = { 0 };
    const char *reason = NULL;
    int r = vd_control_msg_decode(type, payload, len, &msg, &reason);
    if (r == -EOPNOTSUPP && c->state == CLIENT_READY) {
        client_result(c, VD_IPC_ERR_UNSUPPORTED, "unknown request type");
        return true;
    }
    if (r < 0) {
        g_message("control client (uid %d, pid %d): malformed %s frame: %s", (int)c->uid, (int)c->pid,
                  vd_control_msg_type_to_string(type), reason ? reason : g_strerror(-r));
        client_refuse(c, VD_IPC_ERR_BAD_FRAME, reason ? reason : "malformed frame");
        return false;
    }
    if (c->state == CLIENT_HELLO) {
        if (msg.type == VD_IPC_HELLO)
            handle_hello(c, &msg);
        else
            client_refuse(c, VD_IPC_ERR_BAD_FRAME, "the first message must be HELLO");
    } else if (msg.type == VD_IPC_HELLO) {
        client_refuse(c, VD_IPC_ERR_BAD_FRAME, "a second HELLO");
    } else if (msg.type == VD_IPC_ERROR) {
        g_message("control client (pid %d) says: %s \"%s\"", (int)c->pid, vd_ipc_error_code_to_string(msg.u.error.code),
                  msg.u.error.message ? msg.u.error.message : "");
        client_kill(c, "it sent ERROR");
    } else {
        handle_request(c, &msg);
    }
    vd_control_msg_clear(&msg);
    return !c->dead && c->state != CLIENT_LINGER;
}

/* Handles queued requests until one must wait for its answer. */
static void client_dispatch(Client *c)
{
    c->dispatching = true;
    while (!c->waiter && !c->dead && c->state != CLIENT_LINGER && !client_full(c) &&
           !g_queue_is_empty(&c->requests)) {
        g_autoptr(GBytes) frame = g_queue_pop_head(&c->requests);
        gsize len;
        const uint8_t *p = g_bytes_get_data(frame, &len);
        c->requests_bytes -= len;
        uint16_t type;
        memcpy(&type, p, sizeof(type));
        handle_frame(c, type, p + sizeof(type), len - sizeof(type));
    }
    c->dispatching = false;
}

static int on_frame(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    Client *c = user_data;
    if (c->state == CLIENT_LINGER)
        return 1; /* refused: what it still sends is dropped */
    if (!c->waiter && !client_full(c) && g_queue_is_empty(&c->requests))
        return handle_frame(c, type, payload, len) ? 0 : 1;
    if (c->requests_bytes + len + sizeof(type) > VD_CONTROL_MAX_QUEUED) {
        g_message("control client (uid %d, pid %d): more than %u bytes of requests waiting", (int)c->uid,
                  (int)c->pid, VD_CONTROL_MAX_QUEUED);
        client_refuse(c, VD_IPC_ERR_LIMIT, "too many requests waiting (for a clipboard answer, or for you to read)");
        return 1;
    }
    GByteArray *frame = g_byte_array_sized_new((guint)(len + sizeof(type)));
    g_byte_array_append(frame, (const guint8 *)&type, sizeof(type));
    g_byte_array_append(frame, payload, (guint)len);
    c->requests_bytes += frame->len;
    g_queue_push_tail(&c->requests, g_byte_array_free_to_bytes(frame));
    return 0;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer user_data)
{
    Client *c = user_data;
    uint8_t buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        c->read_id = 0;
        client_kill(c, n < 0 ? g_strerror(errno) : "hung up");
        return G_SOURCE_REMOVE;
    }
    if (c->state != CLIENT_LINGER) {
        g_clear_handle_id(&c->idle_id, g_source_remove);
        c->idle_id = g_timeout_add(VD_CONTROL_IDLE_TIMEOUT_MS, on_idle_timeout, c);
        const char *reason = NULL;
        c->dispatching = true;
        int r = vd_ipc_decoder_feed(c->decoder, buf, (size_t)n, on_frame, c, &reason);
        c->dispatching = false;
        if (r == -EBADMSG) {
            g_message("control client (uid %d, pid %d): bad frame header: %s", (int)c->uid, (int)c->pid,
                      reason ? reason : "?");
            client_refuse(c, VD_IPC_ERR_BAD_FRAME, reason ? reason : "bad frame");
        }
    }
    client_pump(c);
    return G_SOURCE_CONTINUE;
}

static Client *client_new(VdControl *control, int fd)
{
    Client *c = g_new0(Client, 1);
    c->control = control;
    c->fd = fd;
    c->uid = (uid_t)-1;
    c->pid = -1;
    c->decoder = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
    vd_outq_init(&c->out);
    g_queue_init(&c->requests);
    control->clients = g_list_prepend(control->clients, c);
    control->n_clients++;
    c->read_id = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, c);
    return c;
}

/* A non-root peer: HELLO and ERROR in one write if the socket takes it, then closed at once. */
static void refuse_at_once(VdControl *control, int fd, const struct ucred *cred)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    VdControlMsg hello = { .type = VD_IPC_HELLO };
    hello.u.hello.magic = VD_CONTROL_MAGIC;
    hello.u.hello.version_major = VD_CONTROL_VERSION_MAJOR;
    hello.u.hello.version_minor = VD_CONTROL_VERSION_MINOR;
    hello.u.hello.software = (char *)"vdagentd " VDAGENT_VERSION;
    vd_control_msg_encode(out, &hello);
    VdControlMsg err = { .type = VD_IPC_ERROR };
    err.u.error.code = VD_IPC_ERR_PERMISSION;
    err.u.error.message = (char *)"vdagentd's control socket is for root only";
    vd_control_msg_encode(out, &err);
    (void)!send(fd, out->data, out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
    control->refused++;
    vd_limited_message(vd_listener_log_limit(control->listener, cred->uid), "refused",
                       "control socket: refused uid %u (pid %d): root only", (unsigned)cred->uid, (int)cred->pid);
}

static void on_accept(int cfd, const struct ucred *cred, void *user_data)
{
    VdControl *control = user_data;
    /* The socket is 0600 root, but its mode is not the check: the peer's credentials are. */
    if (cred->uid != 0) {
        refuse_at_once(control, cfd, cred);
        return;
    }
    Client *c = client_new(control, cfd);
    c->uid = cred->uid;
    c->pid = cred->pid;
    if (control->n_clients > VD_CONTROL_MAX_CLIENTS) {
        control->refused++;
        vd_limited_message(vd_listener_log_limit(control->listener, cred->uid), "client limit",
                           "control socket: refused pid %d: already %u clients", (int)cred->pid,
                           VD_CONTROL_MAX_CLIENTS);
        client_refuse(c, VD_IPC_ERR_LIMIT, "too many vdagent-ctl clients");
        client_flush(c);
        return;
    }
    control->accepted++;
    g_debug("control socket: client pid %d", (int)cred->pid);
    /* Both sides say HELLO without waiting for the other's (docs/protocols.md). */
    VdControlMsg hello = { .type = VD_IPC_HELLO };
    hello.u.hello.magic = VD_CONTROL_MAGIC;
    hello.u.hello.version_major = VD_CONTROL_VERSION_MAJOR;
    hello.u.hello.version_minor = VD_CONTROL_VERSION_MINOR;
    hello.u.hello.software = (char *)"vdagentd " VDAGENT_VERSION;
    client_send(c, &hello);
    c->timer_id = g_timeout_add(VD_CONTROL_HELLO_TIMEOUT_MS, on_hello_timeout, c);
    c->idle_id = g_timeout_add(VD_CONTROL_IDLE_TIMEOUT_MS, on_idle_timeout, c);
    client_flush(c);
}

VdControl *vd_control_new(const VdControlConfig *config)
{
    VdControl *control = g_new0(VdControl, 1);
    control->config = *config;
    control->started_us = g_get_monotonic_time();
    return control;
}

void vd_control_free(VdControl *control)
{
    if (!control)
        return;
    while (control->clients)
        client_free(control->clients->data);
    if (control->listener) {
        vd_listener_free(control->listener);
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
    /* The directory is there: main.c checked (it never creates a path's parents). */
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
    control->path = g_strdup(path);
    control->listener = vd_listener_new(fd, "control socket", on_accept, control);
    g_debug("control socket on \"%s\"", path);
    return true;
}
