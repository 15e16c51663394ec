/* SPDX-License-Identifier: GPL-3.0-or-later */
/* launch.h — handing the session agent over to the user's systemd manager.
 *
 * The agent is started in several ways: XDG autostart, the Xsession hook, the vdagent.service
 * user unit (docs/autostart.md). Where the user has a systemd manager, every way ends in that one
 * unit: a detached start tells the manager the display (UnsetAndSetEnvironment) and starts
 * vdagent.service, then exits. So a session never gets two agents, and systemd restarts the
 * agent if it dies. Without a manager, or without the unit, the agent runs where it was started.
 */
#pragma once

#include "backend.h"

#define VD_LAUNCH_UNIT "vdagent.service"

typedef enum {
    VD_LAUNCH_RUN_HERE,     /* no manager, no unit, or it failed: run in this process */
    VD_LAUNCH_HANDED_OVER,  /* the unit is started (or was running): exit */
    VD_LAUNCH_MASKED,       /* the user masked the unit: they do not want an agent; exit */
} VdLaunchResult;

const char *vd_launch_result_to_string(VdLaunchResult result);

/* Asks the manager behind $XDG_RUNTIME_DIR/systemd/private, synchronously (at start-up, once,
 * each call bounded by a timeout). display is the display to serve, of the kind vd_backend_choose()
 * picked: an X display goes to the manager as DISPLAY (and WAYLAND_DISPLAY is unset there), a
 * Wayland socket as WAYLAND_DISPLAY (with this process's DISPLAY, Xwayland's, when set; else
 * DISPLAY is unset there). XAUTHORITY is passed on when set. No display: VD_LAUNCH_RUN_HERE. */
VdLaunchResult vd_launch_via_user_manager(VdBackendKind kind, const char *display);
