/* SPDX-License-Identifier: GPL-3.0-or-later */
/* agents.h — the session agents' socket: accepting, identifying and talking to session agents.
 *
 * A connection is identified before any of its bytes is read: peer credentials (SO_PEERCRED, and
 * a pidfd from SO_PEERPIDFD where the kernel has it), the logind session of that pid, and that
 * session's owner, who must be the peer's uid (root may connect for the session its process is in).
 * Only then is the HELLO read; then the agent is "ready" and the router routes to it. One agent per
 * session; every resource a connection can make us hold is capped (limits below, enforced here).
 * With session tracking "none": one agent at a time, from root or from the uid of the first agent
 * accepted (pinned for the daemon's life); everybody else is refused.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "session-proto.h"
#include "sessions.h"
#include "ratelimit.h"
#include "trace.h"

/* Connections at once (identified or not), and per non-root uid (CVE-2020-25652: a local user
 * opening connections until the daemon runs out of memory or descriptors). */
#define VD_AGENTS_MAX_CONNECTIONS 32u
#define VD_AGENTS_MAX_PER_UID 4u
/* From accept to a valid HELLO, session lookup included. */
#define VD_AGENTS_HELLO_TIMEOUT_MS 5000u
/* How long a refused or closed connection may take to read our ERROR and leave. */
#define VD_AGENTS_LINGER_MS 1000u
/* Output queued for one agent: above HIGH the port stops being read (backpressure); an agent that
 * stays above HIGH for STALL_MS, or whose queue would pass MAX, is disconnected. */
#define VD_AGENT_OUT_HIGH (256u * 1024u)
#define VD_AGENT_OUT_MAX (4u * 1024u * 1024u)
#define VD_AGENT_STALL_MS 15000u
/* Bytes read from an agent per wakeup. */
#define VD_AGENT_READ_SIZE (64u * 1024u)

typedef struct VdAgents VdAgents;
typedef struct VdAgent VdAgent;

typedef struct {
    /* Identified and greeted: the router may use it now. */
    void (*ready)(VdAgent *agent, void *user_data);
    /* About to be freed (disconnected, refused after a session change, protocol error). */
    void (*gone)(VdAgent *agent, void *user_data);
    /* One decoded message (never HELLO/ERROR) of a ready agent. */
    void (*message)(VdAgent *agent, const VdSessionMsg *msg, void *user_data);
    /* This agent's output queue, which went over VD_AGENT_OUT_HIGH, is below it again. */
    void (*drained)(VdAgent *agent, void *user_data);
} VdAgentsHandlers;

VdAgents *vd_agents_new(VdSessions *sessions, const VdAgentsHandlers *handlers, void *user_data);
void vd_agents_free(VdAgents *agents);
/* Uses the socket systemd passed (socket activation) if there is one, else binds path. */
bool vd_agents_listen(VdAgents *agents, const char *path, GError **error);
/* Logind said something changed: drop agents whose session vanished or changed owner. */
void vd_agents_sessions_changed(VdAgents *agents);
/* Pause/resume reading from every agent (the host's output queue is full). */
void vd_agents_set_reading(VdAgents *agents, bool reading);
/* Ready agents, in connection order (borrowed pointers). */
GPtrArray *vd_agents_list(const VdAgents *agents);
void vd_agents_set_trace(VdAgents *agents, VdTraceFunc func, void *user_data);
/* Member "agents" of the status: one {session, pid, uid, state, active, features, …} per
 * connection. Counters for "counters"."errors". */
void vd_agents_status(const VdAgents *agents, const VdAgent *active, JsonBuilder *builder);
uint64_t vd_agents_refused(const VdAgents *agents);
uint64_t vd_agents_protocol_errors(const VdAgents *agents);
/* Inside "counters": members "to_agent" and "from_agent", {messages, bytes} by session message
 * type name. */
void vd_agents_counters(const VdAgents *agents, JsonBuilder *builder);
/* Inside "counters"."errors": "refused_not_owner", "refused_duplicate", "refused_limit",
 * "refused_no_session", "agent_stalled". */
void vd_agents_errors(const VdAgents *agents, JsonBuilder *builder);

/* Encodes and queues msg. -ENOBUFS when the queue is over its hard limit (the agent is then
 * disconnected, later, from the main loop), -EMSGSIZE for a frame too large. */
int vd_agent_send(VdAgent *agent, const VdSessionMsg *msg);
/* Queues ERROR(code, message) and closes once it is written. */
void vd_agent_close(VdAgent *agent, uint32_t code, const char *message);
bool vd_agent_full(const VdAgent *agent);
/* The session the agent serves ("none" without session tracking). */
const char *vd_agent_session(const VdAgent *agent);
uid_t vd_agent_uid(const VdAgent *agent);
/* VD_SESSION_FEATURE_* bits in use (every one for an agent that announced none: a 1.0 build). */
uint32_t vd_agent_features(const VdAgent *agent);
pid_t vd_agent_pid(const VdAgent *agent);
/* A short name for logs: "session 2 (uid 1000, pid 1234)". */
const char *vd_agent_name(const VdAgent *agent);
/* The log limit for lines its messages make the router write. */
VdLogLimit *vd_agent_log_limit(VdAgent *agent);
/* Per-agent data for the router. */
void vd_agent_set_data(VdAgent *agent, void *data);
void *vd_agent_get_data(const VdAgent *agent);
