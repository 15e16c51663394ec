/* SPDX-License-Identifier: GPL-3.0-or-later */
/* randr.h — monitors of the X screen through XRandR >= 1.3: apply the host's MONITORS_CONFIG, report
 * the layout (where each display id's pixels are) that places the mouse.
 *
 * Display ids are the indices of the host's MONITORS_CONFIG entries. Which RandR output each goes to
 * is the device map's decision (device-map.h: GRAPHICS_DEVICE_INFO, else the order XRandR lists
 * the outputs in).
 * The module touches only CRTCs, the screen size, and modes it created itself (named
 * "vdagent-WxH"): never the user's desktop configuration files.
 */
#pragma once

#include <X11/Xlib.h>
#include <glib.h>
#include <stdbool.h>

#include "device-map.h"
#include "session-proto.h"

/* Prefix of the modes we create; modes named so are ours to remove when unused. */
#define VD_RANDR_MODE_PREFIX "vdagent-"
/* Largest width/height of one monitor we accept from the host (before the screen's own limits). */
#define VD_RANDR_MAX_MONITOR_SIDE 16384u
/* The smallest signal we ask libxcvt for: below it its clock rounds to 0 (vd_cvt_timings()). */
#define VD_RANDR_CVT_MIN_WIDTH 640u
#define VD_RANDR_CVT_MIN_HEIGHT 480u

typedef struct VdRandr VdRandr;

/* Fails (NULL, error set) without XRandR 1.3. Selects RandR events on the root window. */
VdRandr *vd_randr_new(Display *dpy, GError **error);
void vd_randr_free(VdRandr *randr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdRandr, vd_randr_free)

/* Offered each X event; returns true if it was a RandR event (the layout may have changed: call
 * vd_randr_get_layout and report it if it differs). */
bool vd_randr_handle_event(VdRandr *randr, XEvent *event);

/* Applies a config. Returns 0 when everything asked for was applied. Nothing is changed for
 * -EINVAL (unusable config: no monitor enabled, absurd sizes) and -E2BIG (larger than the screen
 * may be). What fits is applied for -ENXIO (some displays have no output or CRTC, e.g. on Xvfb)
 * and -EIO (the X server refused part of it). */
int vd_randr_apply(VdRandr *randr, const VdMonitorsConfig *config);

/* The display id -> output map to consult (borrowed; NULL: output order). */
void vd_randr_set_device_map(VdRandr *randr, const VdDeviceMap *map);
/* Where each display id goes now, by output name (VD_S_DEVICE_MAP). */
void vd_randr_get_device_map(VdRandr *randr, VdDeviceMapReport *ret);

/* The current layout: enabled outputs that map to a display id, by display id. */
void vd_randr_get_layout(VdRandr *randr, VdLayout *ret);

/* --- pure helpers, exposed for tests --- */

/* A CVT (VESA Coordinated Video Timings 1.1, normal blanking) mode for width x height at refresh_hz,
 * from libxcvt: the timings of the width rounded up to 8 pixels (as the X server's `cvt` tool does)
 * and at least VD_RANDR_CVT_MIN_WIDTH x VD_RANDR_CVT_MIN_HEIGHT, with the exact visible size. Returns
 * 0, -EINVAL for a side of 0 or above VD_RANDR_MAX_MONITOR_SIDE (or timings libxcvt got wrong), or
 * -ENOMEM; *ret is written only on success. */
typedef struct {
    unsigned long dot_clock;
    unsigned int hdisplay, hsync_start, hsync_end, htotal;
    unsigned int vdisplay, vsync_start, vsync_end, vtotal;
    bool hsync_negative, vsync_positive;
} VdCvtTimings;
int vd_cvt_timings(unsigned width, unsigned height, double refresh_hz, VdCvtTimings *ret);
