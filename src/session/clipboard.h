/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard.h — the X11 side of the clipboard in the session agent (Xlib + XFixes, no toolkit).
 *
 * Owns CLIPBOARD and PRIMARY on behalf of the host when the host grabs, announces guest owners to the
 * daemon (by demand: types only, data when someone pastes), answers X requestors (TARGETS,
 * TIMESTAMP, MULTIPLE, INCR), and streams data both ways with bounded memory and timeouts.
 * It talks to the daemon only through the sink below; main.c feeds it X events and daemon messages.
 */
#pragma once

#include <X11/Xlib.h>
#include <glib.h>
#include <stdbool.h>

#include "session-proto.h"

typedef struct VdXClipboard VdXClipboard;

typedef struct {
    /* Queue one frame for the daemon. Returns 0, or a negative errno when the link is down. */
    int (*send)(const VdSessionMsg *msg, void *user_data);
    /* Bytes queued for the daemon and not yet written (to pace large guest->host data). */
    size_t (*queued)(void *user_data);
    /* Optional (may be NULL): stop (true) or resume (false) reading from the daemon while an X
     * client takes host data more slowly than it arrives. Without it, host data ahead of a slow
     * X client is bounded by VD_CLIP_STREAM_BUFFER_MAX (24 MiB) and the paste fails past that. */
    void (*throttle)(bool paused, void *user_data);
} VdXClipboardSink;

/* dpy: the agent's X connection (shared with randr). Fails if XFixes is missing. */
VdXClipboard *vd_xclipboard_new(Display *dpy, const VdXClipboardSink *sink, void *user_data, GError **error);
void vd_xclipboard_free(VdXClipboard *clip);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdXClipboard, vd_xclipboard_free)

/* Offered every X event first; returns true if it was the clipboard's. */
bool vd_xclipboard_handle_event(VdXClipboard *clip, XEvent *event);
/* Clipboard frames from the daemon: VD_S_CLIPBOARD_GRAB/REQUEST/RELEASE/BEGIN/DATA/ABORT. */
void vd_xclipboard_handle_msg(VdXClipboard *clip, const VdSessionMsg *msg);
/* VD_S_HOST_STATE and VD_S_SESSION_STATE: connected, negotiated caps (CLIPBOARD_SELECTION decides
 * whether PRIMARY is bridged), MAX_CLIPBOARD (-1: none); an inactive session owns nothing. */
void vd_xclipboard_set_host_state(VdXClipboard *clip, bool connected, const VdCaps *caps, int32_t max_clipboard);
void vd_xclipboard_set_active(VdXClipboard *clip, bool active);
/* The daemon link went down (forget host-side state, answer pending requestors empty) / came back
 * (re-announce the guest selections we see owned). */
void vd_xclipboard_link_down(VdXClipboard *clip);
void vd_xclipboard_link_up(VdXClipboard *clip);
/* The daemon link's queue drained: continue a paced guest->host transfer. */
void vd_xclipboard_writable(VdXClipboard *clip);
