/* SPDX-License-Identifier: GPL-3.0-or-later */
/* agents.c — a session agent connection's life: accept, HELLO, framing, queues, close (see
 * agents.h; identification is agents-identify.c, the status document agents-status.c).
 *
 * Defences against the spice-vdagentd flaws of 2020, each where it lives:
 *   CVE-2020-25650 (a local user could make the daemon allocate without bound through file
 *     transfers): xfers.c caps transfers in flight (VD_XFERS_MAX), nothing of a transfer is
 *     buffered (router.c streams it), and every queue here has a hard cap (vd_agent_send()).
 *   CVE-2020-25651 (file data could reach another user's connection, and anyone could cancel a
 *     transfer): files go only to the active session's agent, each id is bound to the agent it
 *     was offered to, a second START for an id in flight is ignored, and status for an id from
 *     any other connection is ignored (router.c agent_xfer_status()).
 *   CVE-2020-25652 (unbounded connections kept the legitimate agent out): at most
 *     VD_AGENTS_MAX_CONNECTIONS, VD_AGENTS_MAX_PER_UID per user, a HELLO deadline, frames of at
 *     most VD_IPC_MAX_PAYLOAD, and only the owner of a session can claim it (on_new_connection(),
 *     agents-identify.c on_lookup()).
 *   CVE-2020-25653 (a race in identifying new connections let a user become the active agent):
 *     nothing of a connection is read until it is identified; its pid is pinned by a pidfd taken
 *     at accept (or its start time where the kernel has no SO_PEERPIDFD) and re-checked after the
 *     asynchronous session lookup (agents-identify.c: on_lookup(), agents_peer_still_there()).
 */
#include "agents-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "control-proto.h"
#include "fd-watch.h"
#include "listener.h"
#include "outq.h"
#include "ratelimit.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static void agent_destroy(VdAgent *agent);
static void defer(VdAgent *agent);
static gboolean on_agent_fd(int fd, GIOCondition cond, gpointer user_data);

static bool tracking(const VdAgents *agents)
{
    return agents->sessions && vd_sessions_tracking(agents->sessions);
}

static void update_name(VdAgent *agent)
{
    g_free(agent->name);
    agent->name = g_strdup_printf("session %s (uid %u, pid %d)", agent->session ? agent->session : "?",
                                  (unsigned)agent->uid, (int)agent->pid);
    g_autofree char *peer = g_strdup_printf("agent %s", agent->name);
    vd_log_limit_set_peer(&agent->log, peer);
}

VdLogLimit *agents_uid_log(VdAgent *agent)
{
    return vd_log_limits_for_uid(agent->agents->uid_log, agent->uid);
}

/* Our HELLO, once: before anything else we send, a refusal included. */
static void queue_hello(VdAgent *agent)
{
    if (agent->hello_sent)
        return;
    agent->hello_sent = true;
    VdSessionMsg reply = { .type = VD_IPC_HELLO };
    reply.u.hello = (VdIpcHello){ .magic = VD_SESSION_MAGIC, .version_major = VD_SESSION_VERSION_MAJOR,
                                  .version_minor = VD_SESSION_VERSION_MINOR,
                                  .features = VD_SESSION_FEATURES_ALL,
                                  .software = (char *)"vdagentd " VDAGENT_VERSION };
    size_t start = vd_outq_buffer(&agent->out)->len;
    if (vd_session_msg_encode(vd_outq_buffer(&agent->out), &reply) == 0)
        count_type(&agent->agents->to_agent, VD_IPC_HELLO, vd_outq_buffer(&agent->out)->len - start - VD_IPC_HEADER_SIZE);
}

static void update_watch(VdAgent *agent)
{
    if (agent->fd < 0)
        return;
    GIOCondition want = G_IO_HUP | G_IO_ERR;
    bool read = agent->lingering || (agent->state != AGENT_IDENTIFYING && !agent->closing &&
                                     (agent->agents->reading || agent->state != AGENT_READY));
    if (read)
        want |= G_IO_IN;
    if (vd_outq_queued(&agent->out) > 0)
        want |= G_IO_OUT;
    if (agent->watch && want == agent->watch_cond)
        return;
    if (agent->watch)
        g_source_remove(agent->watch);
    agent->watch = vd_fd_watch_add(agent->fd, want, on_agent_fd, agent);
    agent->watch_cond = want;
}

size_t agents_queued(const VdAgent *agent)
{
    return vd_outq_queued(&agent->out);
}

/* Only the agent whose queue went over the mark counts: another one that stops reading must not
 * hold up data for this one (it is dropped after VD_AGENT_STALL_MS). */
static void check_drained(VdAgent *agent)
{
    if (!agent->full || agents_queued(agent) >= VD_AGENT_OUT_HIGH)
        return;
    agent->full = false;
    if (agent->agents->h.drained)
        agent->agents->h.drained(agent, agent->agents->user_data);
}

static gboolean on_stall(gpointer user_data)
{
    VdAgent *agent = user_data;
    agent->stall_timer = 0;
    agent->agents->stalled++;
    vd_limited_warning(agents_uid_log(agent), "stalled agent", "agent %s: has not read its socket for %u s; disconnecting it", agent->name,
              VD_AGENT_STALL_MS / 1000);
    agent_destroy(agent);
    return G_SOURCE_REMOVE;
}

/* Returns false if the agent was destroyed. */
static bool do_write(VdAgent *agent)
{
    ssize_t w = vd_outq_flush(&agent->out, agent->fd, true);
    if (w < 0) {
        vd_limited_message(agents_uid_log(agent), "write error", "agent %s: write error: %s; disconnecting it",
                           agent->name, g_strerror((int)-w));
        agent_destroy(agent);
        return false;
    }
    if (agents_queued(agent) >= VD_AGENT_OUT_HIGH) {
        agent->full = true;
        if (!agent->stall_timer)
            agent->stall_timer = g_timeout_add(VD_AGENT_STALL_MS, on_stall, agent);
    } else if (agent->stall_timer) {
        g_source_remove(agent->stall_timer);
        agent->stall_timer = 0;
    }
    if (agent->closing && !agent->lingering && agents_queued(agent) == 0) {
        /* The ERROR is out: let the peer read it (its write of a HELLO would otherwise fail
         * with EPIPE before it looks), discarding what it still sends, for a bounded time. */
        shutdown(agent->fd, SHUT_WR);
        agent->lingering = true;
    }
    update_watch(agent);
    check_drained(agent);
    return true;
}

static void queue_error(VdAgent *agent, uint32_t code, const char *message)
{
    VdSessionMsg msg = { .type = VD_IPC_ERROR };
    msg.u.error.code = code;
    msg.u.error.message = (char *)message;
    queue_hello(agent);
    size_t start = vd_outq_buffer(&agent->out)->len;
    if (vd_session_msg_encode(vd_outq_buffer(&agent->out), &msg) == 0)
        count_type(&agent->agents->to_agent, VD_IPC_ERROR, vd_outq_buffer(&agent->out)->len - start - VD_IPC_HEADER_SIZE);
}

static void agent_retire(VdAgent *agent)
{
    if (agent->retired)
        return;
    agent->retired = true;
    if (agent->state == AGENT_READY) {
        vd_limited_message(agents_uid_log(agent), "disconnected", "agent %s disconnected", agent->name);
        if (agent->agents->h.gone)
            agent->agents->h.gone(agent, agent->agents->user_data);
    }
}

static gboolean on_linger_timeout(gpointer user_data)
{
    VdAgent *agent = user_data;
    agent->linger_timer = 0;
    agent_destroy(agent);
    return G_SOURCE_REMOVE;
}

void vd_agent_close(VdAgent *agent, uint32_t code, const char *message)
{
    if (agent->closing)
        return;
    vd_limited_message(agents_uid_log(agent), "closing", "agent %s: closing: %s (%s)", agent->name, message,
                       vd_ipc_error_code_to_string(code));
    queue_error(agent, code, message);
    agent->closing = true;
    if (agent->hello_timer) {
        g_source_remove(agent->hello_timer);
        agent->hello_timer = 0;
    }
    agent->linger_timer = g_timeout_add(VD_AGENTS_LINGER_MS, on_linger_timeout, agent);
    if (agent->in_dispatch) {
        agent->doomed = true;
        return;
    }
    if (agent->in_send) {
        defer(agent);
        return;
    }
    agent_retire(agent);
    do_write(agent);
}

static gboolean on_deferred(gpointer user_data)
{
    VdAgent *agent = user_data;
    agent->defer_id = 0;
    if (agent->doomed && !agent->closing) {
        agent->doomed = false;
        agent_destroy(agent);
    } else {
        agent->doomed = false;
        agent_retire(agent);
        do_write(agent);
    }
    return G_SOURCE_REMOVE;
}

static gboolean on_deferred(gpointer user_data);

/* Finish closing or destroying from the main loop: the caller is the router, mid-operation. */
static void defer(VdAgent *agent)
{
    if (!agent->defer_id)
        agent->defer_id = g_idle_add(on_deferred, agent);
}

static void agent_destroy(VdAgent *agent)
{
    if (agent->in_dispatch) {
        agent->doomed = true;
        return;
    }
    if (agent->in_send) {
        agent->doomed = true;
        defer(agent);
        return;
    }
    VdAgents *agents = agent->agents;
    agents->all = g_list_remove(agents->all, agent);
    agent_retire(agent);
    if (agent->lookup) {
        g_cancellable_cancel(agent->lookup);
        g_object_unref(agent->lookup);
    }
    if (agent->watch)
        g_source_remove(agent->watch);
    if (agent->hello_timer)
        g_source_remove(agent->hello_timer);
    if (agent->stall_timer)
        g_source_remove(agent->stall_timer);
    if (agent->linger_timer)
        g_source_remove(agent->linger_timer);
    if (agent->defer_id)
        g_source_remove(agent->defer_id);
    if (agent->fd >= 0)
        close(agent->fd);
    if (agent->pidfd >= 0)
        close(agent->pidfd);
    vd_ipc_decoder_free(agent->decoder);
    vd_outq_clear(&agent->out);
    g_free(agent->session);
    g_free(agent->name);
    g_free(agent->software);
    vd_log_limit_clear(&agent->log);
    g_free(agent);
}

static VdAgent *agent_for_session(VdAgents *agents, const char *session, const VdAgent *except)
{
    for (GList *l = agents->all; l; l = l->next) {
        VdAgent *a = l->data;
        if (a != except && a->state == AGENT_READY && !a->closing && g_strcmp0(a->session, session) == 0)
            return a;
    }
    return NULL;
}

void agents_refuse(VdAgent *agent, uint32_t code, Refusal reason, const char *why)
{
    if (code == VD_IPC_ERR_BAD_FRAME) {
        agent->agents->protocol_errors++;
    } else {
        agent->agents->refused++;
        agent->agents->refused_by[reason]++;
    }
    vd_agent_close(agent, code, why);
}

/* Identification done (session known and checked): now, and only now, its bytes are read. */
void agents_identified(VdAgent *agent, const char *session)
{
    g_free(agent->session);
    agent->session = g_strdup(session);
    update_name(agent);
    agent->state = AGENT_HELLO;
    update_watch(agent);
}

static gboolean on_hello_timeout(gpointer user_data)
{
    VdAgent *agent = user_data;
    agent->hello_timer = 0;
    agents_refuse(agent, VD_IPC_ERR_TIMEOUT, REFUSED_OTHER, "no HELLO in time");
    return G_SOURCE_REMOVE;
}

static void handle_hello(VdAgent *agent, const VdSessionMsg *msg)
{
    VdAgents *agents = agent->agents;
    const VdIpcHello *hello = &msg->u.hello;
    if (hello->magic != VD_SESSION_MAGIC || hello->version_major != VD_SESSION_VERSION_MAJOR) {
        agents_refuse(agent, VD_IPC_ERR_VERSION, REFUSED_OTHER, "unsupported session protocol");
        return;
    }
    if (agent->hello_timer) {
        g_source_remove(agent->hello_timer);
        agent->hello_timer = 0;
    }
    agent->software = g_strdup(hello->software);
    /* Features in use: the intersection; 0 is an agent from before they existed (1.0), which
     * did everything. */
    agent->features = hello->features ? hello->features & VD_SESSION_FEATURES_ALL : VD_SESSION_FEATURES_1_0;
    /* One agent per session (without tracking: one at all), checked as it becomes routable. An
     * earlier agent whose process is gone is replaced; a live one keeps its place. */
    VdAgent *other = agent_for_session(agents, agent->session, agent);
    if (other) {
        if (agents_peer_still_there(other)) {
            agents_refuse(agent, VD_IPC_ERR_LIMIT, REFUSED_DUPLICATE, "another agent already serves this session");
            return;
        }
        g_message("agent %s replaces %s, whose process is gone", agent->name, other->name);
        agent_destroy(other);
    }
    if (!tracking(agents)) {
        if (agent->uid != 0 && !agents->pinned) {
            agents->pinned = true;
            agents->pinned_uid = agent->uid;
            g_message("session tracking is off: uid %u is now the display owner", (unsigned)agent->uid);
        }
    }
    queue_hello(agent);
    agent->state = AGENT_READY;
    /* Audit: a user process now receives clipboard, monitor and file data. */
    vd_limited_message(agents_uid_log(agent), "accepted", "agent %s accepted (\"%s\")", agent->name,
                       agent->software ? agent->software : "");
    if (agents->h.ready)
        agents->h.ready(agent, agents->user_data);
}

static int on_frame(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    VdAgent *agent = user_data;
    VdAgents *agents = agent->agents;
    if (agent->closing || agent->doomed)
        return 1;
    agent->frames_in++;
    count_type(&agents->from_agent, type, len);
    if (G_UNLIKELY(agents->trace))
        agents->trace(VD_TRACE_FROM_AGENT, 0, type, len, agent->session ? agent->session : "", payload, len,
                      agents->trace_data);
    VdSessionMsg msg;
    const char *reason = NULL;
    int r = vd_session_msg_decode(type, payload, len, &msg, &reason);
    if (r == -EOPNOTSUPP) {
        g_debug("agent %s: ignoring unknown message type %u", agent->name, type);
        return 0;
    }
    if (r < 0) {
        g_autofree char *why = g_strdup_printf("malformed %s: %s", vd_session_msg_type_to_string(type), reason);
        agents_refuse(agent, VD_IPC_ERR_BAD_FRAME, REFUSED_OTHER, why);
        return 1;
    }
    if (agent->state == AGENT_HELLO) {
        if (type == VD_IPC_HELLO)
            handle_hello(agent, &msg);
        else
            agents_refuse(agent, VD_IPC_ERR_BAD_FRAME, REFUSED_OTHER, "the first message must be HELLO");
    } else if (type == VD_IPC_HELLO) {
        agents_refuse(agent, VD_IPC_ERR_BAD_FRAME, REFUSED_OTHER, "a second HELLO");
    } else if (type == VD_IPC_ERROR) {
        vd_limited_message(&agent->log, "error report", "agent %s reports an error: %s (%s)", agent->name,
                           msg.u.error.message,
                  vd_ipc_error_code_to_string(msg.u.error.code));
    } else if (agents->h.message) {
        agents->h.message(agent, &msg, agents->user_data);
    }
    vd_session_msg_clear(&msg);
    return (agent->closing || agent->doomed) ? 1 : 0;
}

static gboolean on_agent_fd(int fd, GIOCondition cond, gpointer user_data)
{
    VdAgent *agent = user_data;
    VdAgents *agents = agent->agents;
    if (cond & G_IO_OUT) {
        if (!do_write(agent))
            return G_SOURCE_CONTINUE; /* destroyed, source removed */
    }
    if (!(cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
        return G_SOURCE_CONTINUE;
    if (!(agent->watch_cond & G_IO_IN)) {
        /* Not reading (identifying, paused): only a hang-up matters. */
        if (cond & (G_IO_HUP | G_IO_ERR)) {
            if (agent->state == AGENT_IDENTIFYING)
                vd_limited_message(agents_uid_log(agent), "hung up early", "agent %s hung up before it was identified",
                                   agent->name);
            agent_destroy(agent);
        }
        return G_SOURCE_CONTINUE;
    }
    ssize_t n = recv(fd, agents->rbuf, VD_AGENT_READ_SIZE, MSG_DONTWAIT);
    if (agent->lingering) {
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            agent_destroy(agent);
        return G_SOURCE_CONTINUE;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        if (vd_ipc_decoder_pending(agent->decoder))
            vd_limited_message(agents_uid_log(agent), "left mid-frame", "agent %s left in the middle of a frame",
                               agent->name);
        agent_destroy(agent);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0)
        return G_SOURCE_CONTINUE;
    const char *reason = NULL;
    agent->in_dispatch = true;
    int r = vd_ipc_decoder_feed(agent->decoder, agents->rbuf, (size_t)n, on_frame, agent, &reason);
    agent->in_dispatch = false;
    if (r == -EBADMSG) {
        g_autofree char *why = g_strdup_printf("bad frame: %s", reason);
        agents_refuse(agent, VD_IPC_ERR_BAD_FRAME, REFUSED_OTHER, why);
    }
    if (agent->doomed) {
        agent->doomed = false;
        if (!agent->closing) {
            agent_destroy(agent);
        } else {
            agent_retire(agent);
            do_write(agent);
        }
        return G_SOURCE_CONTINUE;
    }
    do_write(agent);
    return G_SOURCE_CONTINUE;
}

static unsigned connections_of(const VdAgents *agents, uid_t uid)
{
    unsigned n = 0;
    for (GList *l = agents->all; l; l = l->next)
        n += ((VdAgent *)l->data)->uid == uid;
    return n;
}

static void reject_fd(int fd, const char *why)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    VdSessionMsg hello = { .type = VD_IPC_HELLO };
    hello.u.hello = (VdIpcHello){ .magic = VD_SESSION_MAGIC, .version_major = VD_SESSION_VERSION_MAJOR,
                                  .version_minor = VD_SESSION_VERSION_MINOR,
                                  .features = VD_SESSION_FEATURES_ALL,
                                  .software = (char *)"vdagentd " VDAGENT_VERSION };
    vd_session_msg_encode(out, &hello);
    VdSessionMsg msg = { .type = VD_IPC_ERROR };
    msg.u.error.code = VD_IPC_ERR_LIMIT;
    msg.u.error.message = (char *)why;
    vd_session_msg_encode(out, &msg);
    (void)!send(fd, out->data, out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static void on_new_connection(int fd, const struct ucred *credp, void *user_data)
{
    VdAgents *agents = user_data;
    struct ucred cred = *credp;
    socklen_t len;
    /* CVE-2020-25652: bounded connections, overall and per user (root is exempt from the latter:
     * it can exhaust the daemon in many other ways). */
    if (g_list_length(agents->all) >= VD_AGENTS_MAX_CONNECTIONS) {
        agents->refused++;
        agents->refused_by[REFUSED_LIMIT]++;
        vd_limited_warning(vd_log_limits_for_uid(agents->uid_log, cred.uid), "connection limit",
                           "session socket: %u connections already; refusing pid %d (uid %u)",
                           VD_AGENTS_MAX_CONNECTIONS, cred.pid, (unsigned)cred.uid);
        reject_fd(fd, "too many connections");
        return;
    }
    if (cred.uid != 0 && connections_of(agents, cred.uid) >= VD_AGENTS_MAX_PER_UID) {
        agents->refused++;
        agents->refused_by[REFUSED_LIMIT]++;
        vd_limited_warning(vd_log_limits_for_uid(agents->uid_log, cred.uid), "per-user limit",
                           "session socket: uid %u has %u connections already; refusing pid %d",
                           (unsigned)cred.uid, VD_AGENTS_MAX_PER_UID, cred.pid);
        reject_fd(fd, "too many connections for this user");
        return;
    }
    VdAgent *agent = g_new0(VdAgent, 1);
    agent->agents = agents;
    agent->serial = ++agents->next_serial;
    agent->fd = fd;
    agent->uid = cred.uid;
    agent->pid = cred.pid;
    agent->pidfd = -1;
    vd_log_limit_init(&agent->log, NULL);
    int pidfd = -1;
    len = sizeof(pidfd);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
        agent->pidfd = pidfd;
    else
        agent->start_time = agents_proc_start_time(cred.pid);
    agent->decoder = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
    vd_outq_init(&agent->out);
    agent->state = AGENT_IDENTIFYING;
    update_name(agent);
    agents->all = g_list_append(agents->all, agent);
    agents->accepted++;
    agent->hello_timer = g_timeout_add(VD_AGENTS_HELLO_TIMEOUT_MS, on_hello_timeout, agent);
    update_watch(agent);
    g_debug("session socket: connection from uid %u pid %d", (unsigned)cred.uid, cred.pid);
    if (!tracking(agents)) {
        agents_identify_none(agent);
        return;
    }
    agents_identify_logind(agent);
}

VdAgents *vd_agents_new(VdSessions *sessions, const VdAgentsHandlers *handlers, void *user_data)
{
    VdAgents *agents = g_new0(VdAgents, 1);
    agents->sessions = sessions;
    agents->h = *handlers;
    agents->user_data = user_data;
    agents->reading = true;
    agents->uid_log = vd_log_limits_new("session socket");
    agents->rbuf = g_malloc(VD_AGENT_READ_SIZE);
    return agents;
}

void vd_agents_free(VdAgents *agents)
{
    if (!agents)
        return;
    while (agents->all) {
        VdAgent *a = agents->all->data;
        a->in_dispatch = false;
        agent_destroy(a);
    }
    /* Lookups still in flight call back into nothing (and free themselves). */
    for (GList *l = agents->lookups; l; l = l->next)
        ((Lookup *)l->data)->agents = NULL;
    g_list_free(agents->lookups);
    vd_listener_free(agents->listener);
    vd_log_limits_free(agents->uid_log);
    if (agents->socket_path)
        g_unlink(agents->socket_path);
    g_free(agents->socket_path);
    g_free(agents->rbuf);
    g_free(agents);
}

bool vd_agents_listen(VdAgents *agents, const char *path, GError **error)
{
    /* Socket activation: sd_listen_fds() unsets $LISTEN_* and marks the fds O_CLOEXEC. */
    int n = sd_listen_fds(1);
    if (n > 0)
        n = n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0 ? SD_LISTEN_FDS_START : -1;
    if (n < 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "systemd passed sockets, but not exactly one listening Unix stream socket");
        return false;
    }
    int listen_fd;
    if (n > 0) {
        listen_fd = n;
        g_message("session socket from systemd");
    } else {
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(addr.sun_path)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG, "socket path \"%s\" too long", path);
            return false;
        }
        strcpy(addr.sun_path, path);
        /* The directory is there: main.c checked (it never creates a path's parents). */
        struct stat st;
        /* Remove a stale socket of an earlier run, never anything else. */
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            chmod(path, 0666) < 0 || listen(fd, 64) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot listen on \"%s\": %s", path,
                        g_strerror(e));
            return false;
        }
        /* Any local user may connect: who they are is checked per connection, not by file mode. */
        listen_fd = fd;
        agents->socket_path = g_strdup(path);
        g_message("listening for session agents on \"%s\"", path);
    }
    agents->listener = vd_listener_new(listen_fd, "session socket", on_new_connection, agents);
    return true;
}

void vd_agents_sessions_changed(VdAgents *agents)
{
    if (!tracking(agents))
        return;
    for (GList *l = agents->all, *next; l; l = next) {
        next = l->next;
        VdAgent *agent = l->data;
        if (agent->state == AGENT_IDENTIFYING || agent->closing)
            continue;
        VdSessionInfo info = { 0 };
        if (vd_sessions_get(agents->sessions, agent->session, &info) < 0) {
            agents_refuse(agent, VD_IPC_ERR_NOT_ACTIVE, REFUSED_NO_SESSION, "its session ended");
            continue;
        }
        bool ok = info.uid == agent->uid || agent->uid == 0;
        vd_session_info_clear(&info);
        if (!ok)
            agents_refuse(agent, VD_IPC_ERR_PERMISSION, REFUSED_NOT_OWNER, "its session now belongs to another user");
    }
}

void vd_agents_set_reading(VdAgents *agents, bool reading)
{
    if (agents->reading == reading)
        return;
    agents->reading = reading;
    for (GList *l = agents->all; l; l = l->next)
        update_watch(l->data);
}

GPtrArray *vd_agents_list(const VdAgents *agents)
{
    GPtrArray *list = g_ptr_array_new();
    for (GList *l = agents->all; l; l = l->next)
        if (((VdAgent *)l->data)->state == AGENT_READY && !((VdAgent *)l->data)->closing &&
            !((VdAgent *)l->data)->retired)
            g_ptr_array_add(list, l->data);
    return list;
}

void vd_agents_set_trace(VdAgents *agents, VdTraceFunc func, void *user_data)
{
    agents->trace = func;
    agents->trace_data = user_data;
}

uint32_t vd_agent_features(const VdAgent *agent)
{
    return agent->features;
}

int vd_agent_send(VdAgent *agent, const VdSessionMsg *msg)
{
    VdAgents *agents = agent->agents;
    if (agent->closing || agent->state != AGENT_READY)
        return -ENOTCONN;
    if (agents_queued(agent) >= VD_AGENT_OUT_MAX) {
        /* Closed from the main loop, not from inside whoever is sending (in_send). */
        agent->in_send = true;
        agents->stalled++;
        agents_refuse(agent, VD_IPC_ERR_LIMIT, REFUSED_OTHER, "its output queue is full");
        agent->in_send = false;
        return -ENOBUFS;
    }
    size_t start = vd_outq_buffer(&agent->out)->len;
    int r = vd_session_msg_encode(vd_outq_buffer(&agent->out), msg);
    if (r < 0)
        return r;
    agent->frames_out++;
    count_type(&agents->to_agent, msg->type, vd_outq_buffer(&agent->out)->len - start - VD_IPC_HEADER_SIZE);
    if (G_UNLIKELY(agents->trace)) {
        size_t len = vd_outq_buffer(&agent->out)->len - start - VD_IPC_HEADER_SIZE;
        agents->trace(VD_TRACE_TO_AGENT, 0, msg->type, len, agent->session,
                      vd_outq_buffer(&agent->out)->data + start + VD_IPC_HEADER_SIZE, len, agents->trace_data);
    }
    if (agent->in_dispatch) {
        update_watch(agent);
    } else {
        agent->in_send = true;
        bool alive = do_write(agent);
        agent->in_send = false;
        if (!alive)
            return -EPIPE;
    }
    if (agents_queued(agent) >= VD_AGENT_OUT_HIGH)
        agent->full = true;
    return 0;
}

bool vd_agent_full(const VdAgent *agent)
{
    return agents_queued(agent) >= VD_AGENT_OUT_HIGH;
}

const char *vd_agent_session(const VdAgent *agent)
{
    return agent->session;
}

uid_t vd_agent_uid(const VdAgent *agent)
{
    return agent->uid;
}

pid_t vd_agent_pid(const VdAgent *agent)
{
    return agent->pid;
}

const char *vd_agent_name(const VdAgent *agent)
{
    return agent->name;
}

void vd_agent_set_data(VdAgent *agent, void *data)
{
    agent->data = data;
}

void *vd_agent_get_data(const VdAgent *agent)
{
    return agent->data;
}

VdLogLimit *vd_agent_log_limit(VdAgent *agent)
{
    g_return_val_if_fail(agent, NULL);
    return &agent->log;
}
