/* SPDX-License-Identifier: GPL-3.0-or-later */
/* agents-private.h — the session agents' state, shared by agents.c (a connection's life: accept,
 * HELLO, framing, queues, close), agents-identify.c (who the peer is) and agents-status.c (the
 * status document). Not a public interface. */
#pragma once

#include "agents.h"
#include "listener.h"
#include "outq.h"
#include "ratelimit.h"

/* Why a connection was refused, for status ("counters"."errors"). */
typedef enum {
    REFUSED_OTHER = 0,  /* hello timeout, version, the peer vanished while identified */
    REFUSED_NOT_OWNER,  /* the session (or the pinned display) belongs to another user */
    REFUSED_DUPLICATE,  /* another live agent serves the session */
    REFUSED_LIMIT,      /* connection limits */
    REFUSED_NO_SESSION, /* no logind session, or it ended */
    REFUSED_END,
} Refusal;

/* Per session message type counters; types past the table share the last slot. */
#define AGENT_COUNTED_TYPES 64u

typedef struct {
    uint64_t messages[AGENT_COUNTED_TYPES];
    uint64_t bytes[AGENT_COUNTED_TYPES];
} TypeCounters;

static inline void count_type(TypeCounters *c, uint16_t type, size_t len)
{
    unsigned i = type < AGENT_COUNTED_TYPES ? type : AGENT_COUNTED_TYPES - 1;
    c->messages[i]++;
    c->bytes[i] += len;
}

typedef enum {
    AGENT_IDENTIFYING, /* peer credentials known, session lookup running; nothing is read */
    AGENT_HELLO,       /* identified; waiting for its HELLO */
    AGENT_READY,
} AgentState;

struct VdAgent {
    VdAgents *agents;
    uint64_t serial;
    int fd;
    int pidfd;                   /* -1 where the kernel has no SO_PEERPIDFD */
    unsigned long long start_time; /* of pid, when there is no pidfd */
    uid_t uid;
    pid_t pid;
    AgentState state;
    char *session;
    char *name;
    char *software;
    uint32_t features; /* in use: the HELLO's ∩ ours, every one for a pre-1.1 agent's 0 */
    guint watch;
    GIOCondition watch_cond;
    guint hello_timer;
    guint stall_timer;
    GCancellable *lookup;
    VdIpcDecoder *decoder;
    VdOutQueue out;
    bool in_dispatch;
    bool in_send;   /* inside vd_agent_send(): the router is mid-operation, never call it back */
    guint defer_id;
    bool doomed;    /* destroy when the dispatch in progress returns */
    bool closing;   /* an ERROR was queued: read nothing more, deliver it, then linger */
    bool retired;   /* the router was told it is gone */
    bool lingering; /* ERROR delivered, write side shut: waiting for the peer to read it and leave */
    bool full;       /* its queue went over VD_AGENT_OUT_HIGH: drained() is owed */
    bool hello_sent; /* our HELLO is queued: a refusal comes after it, so the peer can read why */
    VdLogLimit log;  /* what its frames make the router say */
    guint linger_timer;
    void *data;
    uint64_t frames_in, frames_out;
};

struct VdAgents {
    VdSessions *sessions;
    VdAgentsHandlers h;
    void *user_data;
    VdListener *listener;
    VdLogLimits *uid_log; /* lines about connections, per uid: a connect loop is one peer */
    char *socket_path;  /* bound by us: unlinked at exit */
    GList *all;         /* VdAgent*, connection order */
    uint64_t next_serial;
    bool reading;
    bool pinned;        /* tracking none: the uid of the first agent */
    uid_t pinned_uid;
    uint8_t *rbuf;
    VdTraceFunc trace;
    void *trace_data;
    uint64_t accepted, refused, protocol_errors, stalled;
    uint64_t refused_by[REFUSED_END];
    TypeCounters to_agent, from_agent;
    GList *lookups;     /* Lookup*, outstanding session lookups */
};

/* A session lookup in flight. It names its agent by serial, never by pointer: the agent may be
 * gone (and its memory reused) by the time logind answers, even after a cancel. */
typedef struct {
    VdAgents *agents; /* NULL once the agents are freed */
    uint64_t serial;
} Lookup;

/* agents.c */
VdLogLimit *agents_uid_log(VdAgent *agent);
size_t agents_queued(const VdAgent *agent);
/* Counts the refusal (or protocol error) and closes with ERROR(code, why). */
void agents_refuse(VdAgent *agent, uint32_t code, Refusal reason, const char *why);
/* The session is known and checked: its bytes are read from now on. */
void agents_identified(VdAgent *agent, const char *session);

/* agents-identify.c */
unsigned long long agents_proc_start_time(pid_t pid);
/* Whether the process that connected is still the one with this pid. */
bool agents_peer_still_there(const VdAgent *agent);
/* Starts the asynchronous logind lookup of the agent's pid. */
void agents_identify_logind(VdAgent *agent);
/* Without session tracking: the pinned display owner or root, else refused. */
void agents_identify_none(VdAgent *agent);
