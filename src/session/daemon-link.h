/* SPDX-License-Identifier: GPL-3.0-or-later */
/* daemon-link.h — the session agent's connection to vdagentd (the session socket).
 *
 * Owns the socket: connects (non-blocking), exchanges HELLO, decodes frames strictly (a malformed
 * frame, a frame before HELLO or a wrong magic closes the connection and reconnects), queues
 * outgoing frames without ever blocking, and reconnects with backoff (VD_LINK_BACKOFF_* below) when
 * the daemon is absent, closes, or restarts. The owner is told when the link comes up (HELLO
 * accepted: time to resync), goes down, delivers a message, or drains its queue.
 *
 * A daemon speaking another major version is not retried: the link reports it as fatal, since a
 * running agent can never become compatible (after an upgrade the session restarts the new binary).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "session-proto.h"

/* First retry after a failed connect or a lost link; doubles up to the maximum. Reset once a
 * HELLO is accepted. */
#define VD_LINK_BACKOFF_MIN_MS 500u
#define VD_LINK_BACKOFF_MAX_MS 10000u
/* How long the daemon may take to send its HELLO after accepting us. */
#define VD_LINK_HELLO_TIMEOUT_MS 5000u
/* Bytes read from the socket per read(2). */
#define VD_LINK_READ_SIZE (1024u * 1024u)
/* After the queue went above this, the owner is told (writable) when it falls below it again. */
#define VD_LINK_LOW_WATER (256u * 1024u)
/* Hard cap of the output queue: past it send() fails with -ENOBUFS (a daemon that stops reading
 * must not make us grow without bound; the clipboard paces itself far below this). */
#define VD_LINK_MAX_QUEUED (16u * 1024u * 1024u)

typedef struct VdDaemonLink VdDaemonLink;

typedef struct {
    /* HELLO exchanged: the daemon is there (again). Resync now. */
    void (*up)(void *user_data);
    /* The link went down (daemon closed, error, bad frame). A reconnect is already scheduled. */
    void (*down)(void *user_data);
    /* One decoded message (never HELLO or ERROR: those are the link's). msg is valid during the call. */
    void (*message)(const VdSessionMsg *msg, void *user_data);
    /* Room again: the queue fell below VD_LINK_LOW_WATER after having been above it, or a wait
     * for the socket to take more ended with the queue empty. */
    void (*writable)(void *user_data);
    /* The link cannot work (protocol version mismatch). The link stays closed. */
    void (*fatal)(const char *reason, void *user_data);
} VdDaemonLinkCallbacks;

/* path: the session socket. Nothing happens before vd_daemon_link_start(). */
VdDaemonLink *vd_daemon_link_new(const char *path, const VdDaemonLinkCallbacks *callbacks, void *user_data);
void vd_daemon_link_free(VdDaemonLink *link);
/* What this agent can do (VD_SESSION_FEATURE_* bits), sent in every HELLO from now on. Set it
 * before vd_daemon_link_start(); never 0 (0 means "a 1.0 agent: everything"). */
void vd_daemon_link_set_features(VdDaemonLink *link, uint32_t features);
/* The features the daemon announced in its HELLO (0 while the link is not up). */
uint32_t vd_daemon_link_peer_features(const VdDaemonLink *link);
/* Tries to connect now (and later again, with backoff, until it works). */
void vd_daemon_link_start(VdDaemonLink *link);

/* Whether HELLO was exchanged on the current connection. */
bool vd_daemon_link_is_up(const VdDaemonLink *link);
/* Queues one frame. Returns 0, -ENOTCONN when the link is not up, -ENOBUFS past
 * VD_LINK_MAX_QUEUED, -EMSGSIZE for a frame that cannot be encoded. */
int vd_daemon_link_send(VdDaemonLink *link, const VdSessionMsg *msg);
/* Bytes queued and not yet written. */
size_t vd_daemon_link_queued(const VdDaemonLink *link);
/* Stops (true) or resumes (false) reading from the daemon: backpressure while a consumer (an X
 * client pasting host data) is slower than the daemon. Frames already read are still delivered. */
void vd_daemon_link_set_paused(VdDaemonLink *link, bool paused);
