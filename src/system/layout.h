/* SPDX-License-Identifier: GPL-3.0-or-later */
/* layout.h — where each host display lies on the guest desktop, and the mapping of a host pixel
 * onto the absolute axis of the paravirtual pointer.
 *
 * Pure code (no I/O). The axis range is fixed (0..VD_AXIS_MAX) for the pointer's whole life; the
 * layout only changes how a (display_id, x, y) is scaled onto it. X's evdev and libinput map an
 * axis value v onto a desktop of width W as pixel = floor(v * W / (VD_AXIS_MAX + 1)); we choose
 * v = ceil(p * (VD_AXIS_MAX + 1) / W), which lands exactly on p whenever W <= VD_AXIS_MAX + 1
 * (tests/system/test-layout.c checks every pixel of several layouts).
 *
 * Sources, highest priority first: the active session agent's report (x, y of each display on the
 * X screen, and the screen's size), the host's last MONITORS_CONFIG, the size of the primary
 * framebuffer the kernel reports, a fixed default.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "session-proto.h"
#include "vd-messages.h"

#define VD_AXIS_MAX 32767u
#define VD_LAYOUT_DEFAULT_WIDTH 1024u
#define VD_LAYOUT_DEFAULT_HEIGHT 768u

typedef enum {
    VD_LAYOUT_SOURCE_DEFAULT = 0,
    VD_LAYOUT_SOURCE_KERNEL,
    VD_LAYOUT_SOURCE_HOST,
    VD_LAYOUT_SOURCE_AGENT,
} VdLayoutSource;
const char *vd_layout_source_to_string(VdLayoutSource source);

typedef struct {
    bool present;
    int32_t x, y;
    uint32_t width, height;
} VdLayoutRect;

typedef struct {
    VdLayoutSource source;
    /* The desktop the axis spans: origin and size in desktop pixels. */
    int32_t origin_x, origin_y;
    uint32_t width, height;
    VdLayoutRect displays[VD_IPC_MAX_DISPLAYS];
} VdLayoutMap;

/* A single display of width x height (kernel framebuffer or default). */
void vd_layout_map_single(VdLayoutMap *map, VdLayoutSource source, uint32_t width, uint32_t height);
/* From the host's MONITORS_CONFIG: display id = index; without USE_POS displays sit side by side.
 * Returns -EINVAL (map untouched) if no monitor is enabled. */
int vd_layout_map_from_monitors(VdLayoutMap *map, const VdMonitorsConfig *config);
/* From an agent's LAYOUT report: the axis spans its X screen. -EINVAL if unusable. */
int vd_layout_map_from_agent(VdLayoutMap *map, const VdLayout *layout);

/* The axis value for desktop pixel p of a desktop size pixels wide (p clamped into 0..size-1). */
uint32_t vd_layout_axis_value(int64_t p, uint32_t size);

/* Maps a host pointer position; -ENOENT for a display the layout does not have. Positions past
 * the display's edge are clamped onto it. */
int vd_layout_map_pointer(const VdLayoutMap *map, uint32_t display_id, uint32_t x, uint32_t y,
                          uint32_t *ret_axis_x, uint32_t *ret_axis_y);

/* The size of the primary framebuffer (DRM connector modes under sysfs_root/class/drm, else
 * sysfs_root/class/graphics/fb0/virtual_size). 0 or -ENOENT. sysfs_root is "/sys" normally. */
int vd_layout_kernel_size(const char *sysfs_root, uint32_t *ret_width, uint32_t *ret_height);
