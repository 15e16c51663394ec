/* SPDX-License-Identifier: GPL-3.0-or-later */
/* backend.h — the seam between main.c (the daemon link, file transfers, layout reports) and a
 * display system: X11 (x11-backend.c) or Wayland (wayland.c).
 *
 * A backend owns its connection and its main-loop source, and offers up to two parts, each behind a
 * small table of operations: the clipboard (selections <-> the session protocol's clipboard
 * frames) and the display (layout reports, MONITORS_CONFIG). Either may be missing (NULL ops),
 * and main.c may combine parts of two backends: under GNOME the display part is Wayland's
 * (Mutter's outputs) while the clipboard part is X11's, through Xwayland.
 *
 * Backends talk back to main.c only through VdBackendHost.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "device-map.h"
#include "session-proto.h"

/* What main.c offers a backend. */
typedef struct {
    /* Queue one frame for the daemon. 0, or a negative errno when the link is down. */
    int (*send)(const VdSessionMsg *msg, void *user_data);
    /* Bytes queued for the daemon and not yet written (to pace large guest->host data). */
    size_t (*queued)(void *user_data);
    /* Stop (true) or resume (false) reading from the daemon while a local client takes host data
     * more slowly than it arrives. */
    void (*throttle)(bool paused, void *user_data);
    /* The outputs may have changed: main.c asks get_layout and reports it if it differs. */
    void (*layout_changed)(void *user_data);
    /* The answer to display apply(): VD_REPLY_SUCCESS or VD_REPLY_ERROR. */
    void (*monitors_done)(uint32_t request_id, uint32_t result, void *user_data);
    /* The display connection is gone: the agent stops. */
    void (*gone)(void *user_data);
    /* Which output each display id goes to (owned by main.c, fed with GRAPHICS_DEVICE_INFO). */
    const VdDeviceMap *devmap;
} VdBackendHost;

/* The clipboard part: the calls main.c makes for the daemon's clipboard-related traffic. */
typedef struct {
    /* VD_S_CLIPBOARD_GRAB/REQUEST/RELEASE/BEGIN/DATA/ABORT. */
    void (*handle_msg)(void *clip, const VdSessionMsg *msg);
    /* VD_S_HOST_STATE: connected, negotiated caps (CLIPBOARD_SELECTION: PRIMARY is bridged),
     * MAX_CLIPBOARD (-1: none). */
    void (*set_host_state)(void *clip, bool connected, const VdCaps *caps, int32_t max_clipboard);
    /* VD_S_SESSION_STATE: an inactive session bridges nothing. */
    void (*set_active)(void *clip, bool active);
    /* The daemon link came up (re-announce what the guest owns) / went down (forget the host). */
    void (*link_up)(void *clip);
    void (*link_down)(void *clip);
    /* The daemon link's queue drained: continue paced guest->host data. */
    void (*writable)(void *clip);
} VdClipboardOps;

/* The display part. */
typedef struct {
    /* Applies a MONITORS_CONFIG; the backend calls host->monitors_done exactly once for it, maybe
     * before returning. */
    void (*apply)(void *disp, uint32_t request_id, const VdMonitorsConfig *config);
    /* Every display id that reaches an output (host->devmap over the current outputs). */
    void (*get_device_map)(void *disp, VdDeviceMapReport *ret);
    /* The current layout; false when there is none to report (yet). */
    bool (*get_layout)(void *disp, VdLayout *ret);
} VdDisplayOps;

typedef struct VdBackend VdBackend;

struct VdBackend {
    const char *name;     /* "X11", "Wayland": for logs */
    char *display_name;   /* what it connected to */
    const VdClipboardOps *clip_ops; /* NULL: no clipboard */
    void *clip;
    const VdDisplayOps *disp_ops;   /* NULL: no layout, no monitors */
    void *disp;
    bool can_apply;       /* disp answers MONITORS_CONFIG (Wayland: always, with an error where nothing applies) */
    void (*free)(VdBackend *backend);
};

void vd_backend_free(VdBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdBackend, vd_backend_free)

/* x11-backend.c: the X display (NULL: $DISPLAY). Fails without an X server. The clipboard part
 * needs XFixes, the display part XRandR 1.3; a missing one is left NULL with a warning. */
VdBackend *vd_x11_backend_new(const char *display, const VdBackendHost *host, void *user_data, GError **error);

/* wayland.c: the compositor (NULL: $WAYLAND_DISPLAY, else "wayland-0"). Fails when it cannot be
 * reached. The clipboard part needs ext-data-control-v1 or zwlr_data_control_manager_v1. */
VdBackend *vd_wayland_backend_new(const char *display, const VdBackendHost *host, void *user_data, GError **error);

/* Which backend a session wants. */
typedef enum {
    VD_BACKEND_X11,
    VD_BACKEND_WAYLAND,
} VdBackendKind;

const char *vd_backend_kind_to_string(VdBackendKind kind);

/* The choice, from --display (display_opt, may be NULL) and the environment values given (any may
 * be NULL): --display wins ("wayland-N" or an absolute path that is a socket name: Wayland; ":N"
 * or "host:N": X11), then WAYLAND_DISPLAY, then XDG_SESSION_TYPE=wayland (with the default
 * socket), then X11. Pure: exposed for tests. */
VdBackendKind vd_backend_choose(const char *display_opt, const char *wayland_display, const char *session_type,
                                const char *x_display);
