/* SPDX-License-Identifier: GPL-3.0-or-later */
/* listener.h — one listening Unix socket: accept, peer credentials, backoff when out of
 * descriptors, and log limits per uid for what its peers make us say.
 *
 * When accept() fails for lack of descriptors (EMFILE, ENFILE) or memory, the socket stays
 * readable: watching it would spin at 100 % CPU and starve everything else, including the code
 * that frees descriptors. So the listener stops watching it for VD_LISTENER_BACKOFF_MS at a time,
 * says so once, and says once when it accepts again. Connections wait in the kernel's backlog
 * meanwhile.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ratelimit.h"

#define VD_LISTENER_BACKOFF_MS 250u
/* Connections taken per wakeup, so that a flood cannot starve the other sources. */
#define VD_LISTENER_BURST 16u

typedef struct VdListener VdListener;

/* A new connection (non-blocking, close-on-exec) and its peer's credentials; the callee owns fd. */
typedef void (*VdListenerFunc)(int fd, const struct ucred *cred, void *user_data);

/* Takes listen_fd (made non-blocking); what names the socket in logs ("session socket"). */
VdListener *vd_listener_new(int listen_fd, const char *what, VdListenerFunc func, void *user_data);
/* Closes the listening socket (the path, if any, is the owner's to unlink). */
void vd_listener_free(VdListener *listener);
/* The log limit for lines about uid's connections. */
VdLogLimit *vd_listener_log_limit(VdListener *listener, uid_t uid);
const char *vd_listener_name(const VdListener *listener);
