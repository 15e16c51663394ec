/* SPDX-License-Identifier: GPL-3.0-or-later */
/* daemon-link.c — connect, HELLO, strict framing, output queue and reconnect to vdagentd. */
#include "daemon-link.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "outq.h"

typedef enum {
    LINK_IDLE,       /* not started, or waiting for the reconnect timer */
    LINK_HELLO_WAIT, /* connected, our HELLO sent, theirs not yet received */
    LINK_UP,         /* HELLO exchanged */
    LINK_DEAD,       /* fatal: never retried */
} LinkState;

static const char *link_state_to_string(LinkState s)
{
    switch (s) {
    case LINK_IDLE: return "IDLE";
    case LINK_HELLO_WAIT: return "HELLO_WAIT";
    case LINK_UP: return "UP";
    case LINK_DEAD: return "DEAD";
    }
    return "UNKNOWN";
}

struct VdDaemonLink {
    char *path;
    VdDaemonLinkCallbacks cb;
    void *user_data;

    LinkState state;
    int fd;
    guint in_watch, out_watch, retry_timer, hello_timer, close_idle;
    unsigned backoff_ms;
    bool announced_absent; /* "daemon not there" logged once per outage */
    uint32_t features;     /* VD_SESSION_FEATURE_* announced in HELLO */
    uint32_t peer_features; /* the daemon's HELLO features, 0 until it came */

    VdIpcDecoder *decoder;
    uint8_t *rbuf;
    VdOutQueue out;
    bool above_low;  /* queue went above VD_LINK_LOW_WATER: tell the owner when it drains */
    char *last_error; /* the daemon's last refusal, reported once until another one or success */
    const char *close_reason; /* set by a frame handler or a failed write: close after the current step */
};

static void link_close(VdDaemonLink *link, const char *reason);
static void link_schedule_retry(VdDaemonLink *link);
static gboolean on_readable(int fd, GIOCondition cond, gpointer data);

static size_t queued(const VdDaemonLink *link)
{
    return vd_outq_queued(&link->out);
}

/* Writes what it can. Returns 0, or -errno on a broken connection. */
static int flush_out(VdDaemonLink *link)
{
    ssize_t n = vd_outq_flush(&link->out, link->fd, true);
    if (n < 0)
        return (int)n;
    return 0;
}

static void update_out_watch(VdDaemonLink *link);

static gboolean on_close_idle(gpointer data)
{
    VdDaemonLink *link = data;

    link->close_idle = 0;
    if (link->close_reason)
        link_close(link, link->close_reason);
    return G_SOURCE_REMOVE;
}

/* Closing from inside a callback the owner is running (send() from a message handler) would pull
 * the connection from under it: defer to an idle. */
static void close_soon(VdDaemonLink *link, const char *reason)
{
    if (!link->close_reason)
        link->close_reason = reason;
    if (!link->close_idle)
        link->close_idle = g_idle_add(on_close_idle, link);
}

static void notify_writable(VdDaemonLink *link)
{
    if (link->state == LINK_UP && !link->close_reason && link->cb.writable)
        link->cb.writable(link->user_data);
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data)
{
    VdDaemonLink *link = data;
    int r = flush_out(link);

    if (r == -EPIPE || r == -ECONNRESET) {
        /* As in queue_frame(): what the daemon said before hanging up is read first. */
        link->out_watch = 0;
        vd_outq_reset(&link->out);
        return G_SOURCE_REMOVE;
    }
    if (r < 0) {
        link->out_watch = 0;
        g_message("daemon link: write failed: %s", g_strerror(-r));
        link_close(link, "write failed");
        return G_SOURCE_REMOVE;
    }
    if (queued(link) > 0) {
        /* Refill before it runs dry, so the socket never idles during a long stream. */
        if (link->above_low && queued(link) < VD_LINK_LOW_WATER) {
            link->above_low = false;
            notify_writable(link);
        }
        return G_SOURCE_CONTINUE;
    }
    /* Whoever paused on queued() at any threshold hears about it here at the latest. */
    link->out_watch = 0;
    link->above_low = false;
    notify_writable(link);
    return G_SOURCE_REMOVE;
}

static void update_out_watch(VdDaemonLink *link)
{
    if (queued(link) > 0 && !link->out_watch && link->fd >= 0)
        link->out_watch = g_unix_fd_add(link->fd, G_IO_OUT, on_writable, link);
}

static int queue_frame(VdDaemonLink *link, const VdSessionMsg *msg)
{
    bool was_empty = queued(link) == 0;
    int r = vd_session_msg_encode(vd_outq_buffer(&link->out), msg);

    if (r < 0)
        return r;
    if (was_empty) {
        r = flush_out(link);
        if (r == -EPIPE || r == -ECONNRESET) {
            /* The daemon hung up, maybe after saying why (a refusal): read that first; EOF
             * brings the link down. */
            g_debug("daemon link: write failed: %s; reading what the daemon said", g_strerror(-r));
            vd_outq_reset(&link->out);
            return 0;
        }
        if (r < 0) {
            g_message("daemon link: write failed: %s", g_strerror(-r));
            close_soon(link, "write failed");
            return 0; /* queued as far as the caller is concerned; the link is going down */
        }
    }
    if (queued(link) >= VD_LINK_LOW_WATER)
        link->above_low = true;
    update_out_watch(link);
    return 0;
}

static void send_error(VdDaemonLink *link, uint32_t code, const char *message)
{
    VdSessionMsg msg = { .type = VD_IPC_ERROR };

    msg.u.error.code = code;
    msg.u.error.message = (char *)message;
    (void)queue_frame(link, &msg);
    (void)flush_out(link);
}

static void link_close(VdDaemonLink *link, const char *reason)
{
    bool was_up = link->state == LINK_UP;

    if (link->fd < 0)
        return;
    g_debug("daemon link: closing (%s) in state %s", reason, link_state_to_string(link->state));
    g_clear_handle_id(&link->in_watch, g_source_remove);
    g_clear_handle_id(&link->out_watch, g_source_remove);
    g_clear_handle_id(&link->hello_timer, g_source_remove);
    g_clear_handle_id(&link->close_idle, g_source_remove);
    link->close_reason = NULL;
    close(link->fd);
    link->fd = -1;
    vd_outq_reset(&link->out);
    link->above_low = false;
    vd_ipc_decoder_free(link->decoder);
    link->decoder = NULL;
    if (link->state != LINK_DEAD) {
        link->state = LINK_IDLE;
        link_schedule_retry(link);
    }
    if (was_up) {
        /* After a refusal, the refusal was the news (said once, handle_error()). */
        g_log(G_LOG_DOMAIN, link->last_error ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_MESSAGE,
              "daemon link: connection to the daemon lost (%s); reconnecting", reason);
        if (link->cb.down)
            link->cb.down(link->user_data);
    }
}

static void link_fatal(VdDaemonLink *link, const char *reason)
{
    bool was_up = link->state == LINK_UP;

    link->state = LINK_DEAD;
    link_close(link, reason);
    g_clear_handle_id(&link->retry_timer, g_source_remove);
    if (was_up && link->cb.down)
        link->cb.down(link->user_data);
    if (link->cb.fatal)
        link->cb.fatal(reason, link->user_data);
}

static int handle_hello(VdDaemonLink *link, const VdSessionMsg *msg)
{
    const VdIpcHello *h = &msg->u.hello;

    if (link->state != LINK_HELLO_WAIT) {
        link->close_reason = "a second HELLO";
        return -1;
    }
    if (h->magic != VD_SESSION_MAGIC) {
        g_warning("daemon link: peer on \"%s\" is not a vdagentd session socket (magic 0x%08x)", link->path,
                  h->magic);
        link->close_reason = "wrong magic";
        return -1;
    }
    if (h->version_major != VD_SESSION_VERSION_MAJOR) {
        g_critical("daemon link: the daemon (\"%s\") speaks session protocol %u.%u, this agent %u.%u: "
                   "incompatible, giving up (restart the session after an upgrade)",
                   h->software ? h->software : "", h->version_major, h->version_minor,
                   VD_SESSION_VERSION_MAJOR, VD_SESSION_VERSION_MINOR);
        send_error(link, VD_IPC_ERR_VERSION, "session protocol major version differs");
        return 1; /* fatal */
    }
    g_clear_handle_id(&link->hello_timer, g_source_remove);
    link->state = LINK_UP;
    link->peer_features = h->features;
    /* After a refusal (HELLO, then ERROR) the backoff keeps growing until a message shows that
     * we were accepted: a daemon that refuses us must not be asked again every half second. */
    if (!link->last_error)
        link->backoff_ms = VD_LINK_BACKOFF_MIN_MS;
    link->announced_absent = false;
    g_log(G_LOG_DOMAIN, link->last_error ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_MESSAGE,
          "daemon link: connected to \"%s\" (protocol %u.%u)", h->software ? h->software : "",
          h->version_major, h->version_minor);
    if (link->cb.up)
        link->cb.up(link->user_data);
    return 0;
}

static int handle_error(VdDaemonLink *link, const VdSessionMsg *msg)
{
    const VdIpcError *e = &msg->u.error;
    g_autofree char *text = g_strdup_printf("%s: \"%s\"", vd_ipc_error_code_to_string(e->code),
                                            e->message ? e->message : "");

    /* Said once: a refused agent retries with backoff, and would repeat it on every attempt. */
    if (g_strcmp0(text, link->last_error) != 0) {
        g_warning("daemon link: the daemon reports %s", text);
        g_free(link->last_error);
        link->last_error = g_steal_pointer(&text);
    } else {
        g_debug("daemon link: the daemon reports %s", text);
    }
    if (e->code == VD_IPC_ERR_VERSION)
        return 1;
    /* Other errors are informational unless the daemon closes (which it does for BAD_FRAME,
     * PERMISSION): then EOF brings the link down. */
    return 0;
}

typedef struct {
    VdDaemonLink *link;
    bool fatal;
} FeedCtx;

static int on_frame(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    FeedCtx *ctx = user_data;
    VdDaemonLink *link = ctx->link;
    VdSessionMsg msg;
    const char *reason = NULL;
    int r = vd_session_msg_decode(type, payload, len, &msg, &reason);

    if (r == -EOPNOTSUPP) {
        g_debug("daemon link: ignoring unknown frame type %u (%zu bytes) from a newer daemon", type, len);
        return 0;
    }
    if (r < 0) {
        g_warning("daemon link: malformed %s frame (%zu bytes) from the daemon: %s; reconnecting",
                  vd_session_msg_type_to_string(type), len, reason ? reason : "bad message");
        send_error(link, VD_IPC_ERR_BAD_FRAME, reason ? reason : "bad message");
        link->close_reason = "malformed frame";
        return -1;
    }

    int ret = 0;
    if (type == VD_IPC_HELLO) {
        ret = handle_hello(link, &msg);
    } else if (type == VD_IPC_ERROR) {
        /* Before HELLO too: a daemon of another version may refuse us without one. */
        ret = handle_error(link, &msg);
        if (link->state != LINK_UP && ret == 0)
            link->close_reason = "refused";
    } else if (link->state != LINK_UP) {
        g_warning("daemon link: %s frame before HELLO; reconnecting", vd_session_msg_type_to_string(type));
        link->close_reason = "frame before HELLO";
        ret = -1;
    } else if (link->cb.message) {
        if (G_UNLIKELY(link->last_error)) {
            link->backoff_ms = VD_LINK_BACKOFF_MIN_MS;
            g_clear_pointer(&link->last_error, g_free);
        }
        link->cb.message(&msg, link->user_data);
    }
    vd_session_msg_clear(&msg);
    if (ret > 0)
        ctx->fatal = true;
    /* Stop on errors, and whenever a callback asked for the link to be closed. */
    return ret != 0 || link->close_reason != NULL || link->state == LINK_DEAD;
}

/* on_readable is about to stop its own source. A frame handler may have paused and resumed reading
 * meanwhile (vd_daemon_link_set_paused), replacing the watch: forget the id only if it is still
 * this source's, so that link_close() removes a replacement instead of leaking it. */
static void forget_current_watch(VdDaemonLink *link)
{
    GSource *current = g_main_current_source();
    if (current && link->in_watch == g_source_get_id(current))
        link->in_watch = 0;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer data)
{
    VdDaemonLink *link = data;
    ssize_t n;

    do {
        n = read(fd, link->rbuf, VD_LINK_READ_SIZE);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        forget_current_watch(link);
        if (n < 0)
            g_message("daemon link: read failed: %s", g_strerror(errno));
        else if (link->state == LINK_HELLO_WAIT)
            g_message("daemon link: the daemon closed the connection before HELLO");
        link_close(link, n == 0 ? "closed by the daemon" : "read failed");
        return G_SOURCE_REMOVE;
    }

    FeedCtx ctx = { .link = link };
    const char *reason = NULL;
    int r = vd_ipc_decoder_feed(link->decoder, link->rbuf, (size_t)n, on_frame, &ctx, &reason);
    if (ctx.fatal) {
        forget_current_watch(link);
        link_fatal(link, "protocol version mismatch");
        return G_SOURCE_REMOVE;
    }
    if (r == -EBADMSG) {
        g_warning("daemon link: bad frame header from the daemon: %s; reconnecting", reason ? reason : "?");
        send_error(link, VD_IPC_ERR_BAD_FRAME, reason ? reason : "bad frame header");
        link->close_reason = "bad frame header";
    }
    if (link->close_reason) {
        forget_current_watch(link);
        link_close(link, link->close_reason);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_hello_timeout(gpointer data)
{
    VdDaemonLink *link = data;

    link->hello_timer = 0;
    g_warning("daemon link: no HELLO from the daemon within %u ms; reconnecting", VD_LINK_HELLO_TIMEOUT_MS);
    link_close(link, "HELLO timeout");
    return G_SOURCE_REMOVE;
}

static void link_connect(VdDaemonLink *link)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen(link->path) >= sizeof(sa.sun_path)) {
        link_fatal(link, "socket path too long");
        return;
    }
    memcpy(sa.sun_path, link->path, strlen(link->path) + 1);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_warning("daemon link: socket(): %s", g_strerror(errno));
        link_schedule_retry(link);
        return;
    }
    /* A Unix stream connect either completes or fails at once; EAGAIN (a full backlog) is
     * treated like an absent daemon. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        if (!link->announced_absent) {
            g_message("daemon link: cannot connect to \"%s\": %s; retrying", link->path, g_strerror(err));
            link->announced_absent = true;
        } else {
            g_debug("daemon link: cannot connect to \"%s\": %s", link->path, g_strerror(err));
        }
        link_schedule_retry(link);
        return;
    }

    link->fd = fd;
    link->state = LINK_HELLO_WAIT;
    link->decoder = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
    link->in_watch = g_unix_fd_add(fd, G_IO_IN, on_readable, link);
    link->hello_timer = g_timeout_add(VD_LINK_HELLO_TIMEOUT_MS, on_hello_timeout, link);

    VdSessionMsg hello = { .type = VD_IPC_HELLO };
    hello.u.hello.magic = VD_SESSION_MAGIC;
    hello.u.hello.version_major = VD_SESSION_VERSION_MAJOR;
    hello.u.hello.version_minor = VD_SESSION_VERSION_MINOR;
    hello.u.hello.features = link->features;
    hello.u.hello.software = (char *)"vdagent " VDAGENT_VERSION;
    (void)queue_frame(link, &hello);
    g_debug("daemon link: connected to \"%s\", HELLO sent", link->path);
}

static gboolean on_retry(gpointer data)
{
    VdDaemonLink *link = data;

    link->retry_timer = 0;
    if (link->state == LINK_IDLE)
        link_connect(link);
    return G_SOURCE_REMOVE;
}

static void link_schedule_retry(VdDaemonLink *link)
{
    if (link->retry_timer || link->state == LINK_DEAD)
        return;
    link->retry_timer = g_timeout_add(link->backoff_ms, on_retry, link);
    link->backoff_ms = MIN(link->backoff_ms * 2, VD_LINK_BACKOFF_MAX_MS);
}

VdDaemonLink *vd_daemon_link_new(const char *path, const VdDaemonLinkCallbacks *callbacks, void *user_data)
{
    VdDaemonLink *link = g_new0(VdDaemonLink, 1);

    link->path = g_strdup(path);
    link->cb = *callbacks;
    link->user_data = user_data;
    link->features = VD_SESSION_FEATURES_ALL;
    link->fd = -1;
    link->backoff_ms = VD_LINK_BACKOFF_MIN_MS;
    link->rbuf = g_malloc(VD_LINK_READ_SIZE);
    vd_outq_init(&link->out);
    return link;
}

void vd_daemon_link_free(VdDaemonLink *link)
{
    if (!link)
        return;
    link->state = LINK_DEAD; /* no retry, no callbacks from here on */
    link->cb = (VdDaemonLinkCallbacks){ 0 };
    link_close(link, "shutting down");
    g_clear_handle_id(&link->retry_timer, g_source_remove);
    vd_outq_clear(&link->out);
    g_free(link->last_error);
    g_free(link->rbuf);
    g_free(link->path);
    g_free(link);
}

uint32_t vd_daemon_link_peer_features(const VdDaemonLink *link)
{
    return link->state == LINK_UP ? link->peer_features : 0;
}

void vd_daemon_link_set_features(VdDaemonLink *link, uint32_t features)
{
    link->features = features;
}

void vd_daemon_link_start(VdDaemonLink *link)
{
    if (link->state == LINK_IDLE && link->fd < 0 && !link->retry_timer)
        link_connect(link);
}

bool vd_daemon_link_is_up(const VdDaemonLink *link)
{
    return link->state == LINK_UP && !link->close_reason;
}

int vd_daemon_link_send(VdDaemonLink *link, const VdSessionMsg *msg)
{
    if (!vd_daemon_link_is_up(link))
        return -ENOTCONN;
    if (queued(link) >= VD_LINK_MAX_QUEUED) {
        g_warning("daemon link: output queue full (%zu bytes): dropping a %s frame", queued(link),
                  vd_session_msg_type_to_string(msg->type));
        return -ENOBUFS;
    }
    int r = queue_frame(link, msg);
    if (r < 0)
        g_warning("daemon link: cannot encode a %s frame: %s", vd_session_msg_type_to_string(msg->type),
                  g_strerror(-r));
    return r;
}

size_t vd_daemon_link_queued(const VdDaemonLink *link)
{
    return link->fd >= 0 ? queued(link) : 0;
}

void vd_daemon_link_set_paused(VdDaemonLink *link, bool paused)
{
    if (paused)
        g_clear_handle_id(&link->in_watch, g_source_remove);
    else if (!link->in_watch && link->fd >= 0)
        link->in_watch = g_unix_fd_add(link->fd, G_IO_IN, on_readable, link);
}
