/* SPDX-License-Identifier: GPL-3.0-or-later */
/* backend.c — choosing a backend for the session, and what all backends share. */
#include <string.h>

#include "backend.h"

void vd_backend_free(VdBackend *backend)
{
    if (backend)
        backend->free(backend);
}

const char *vd_backend_kind_to_string(VdBackendKind kind)
{
    switch (kind) {
    case VD_BACKEND_X11:
        return "X11";
    case VD_BACKEND_WAYLAND:
        return "Wayland";
    }
    return "UNKNOWN";
}

static bool set(const char *value)
{
    return value && value[0];
}

VdBackendKind vd_backend_choose(const char *display_opt, const char *wayland_display, const char *session_type,
                                const char *x_display)
{
    /* An X display name always has a colon (":0", "host:0.0"); a Wayland socket name never needs
     * one ("wayland-0", "/run/user/1000/wayland-1"). */
    if (set(display_opt))
        return strchr(display_opt, ':') ? VD_BACKEND_X11 : VD_BACKEND_WAYLAND;
    if (set(wayland_display))
        return VD_BACKEND_WAYLAND;
    if (g_strcmp0(session_type, "wayland") == 0)
        return VD_BACKEND_WAYLAND;
    return VD_BACKEND_X11;
}
