/* SPDX-License-Identifier: GPL-3.0-or-later */
/* device-map.h — which output each display id goes to, for every display backend (X11's randr.c,
 * and any other: the backend passes its outputs' names and gets an index back).
 *
 * A display id is the index of an entry in the host's MONITORS_CONFIG. Without GRAPHICS_DEVICE_INFO
 * display n goes to the backend's n-th output. With it, an entry (channel c, monitor m, device
 * display d, device address A) sends display c + m to the d-th connector of the DRM device at A:
 * the address ("pci/DDDD/SS.F[/SS.F…]", bridges first) is resolved through sysfs to a card, whose
 * connectors (/sys/class/drm/cardN-NAME, ordered by connector id) give the name. The output of that
 * name is looked up among the backend's — kernel names as Wayland compositors use them, and the
 * X modesetting driver's spelling (HDMI-A-1 is HDMI-1 there). When the address does not resolve or
 * no output has the name, and the info names a single device, the d-th output is used (drivers
 * list their connectors in order); else the display falls back to the output order. Display ids
 * the info does not mention keep their order position unless a mapped id took that output.
 */
#pragma once

#include <stdbool.h>

#include "session-proto.h"

/* Connectors considered per DRM card. */
#define VD_DEVICE_MAP_MAX_CONNECTORS 32u

typedef struct VdDeviceMap VdDeviceMap;

/* sysfs_root: "/sys" normally (NULL), a directory of the same shape in tests. */
VdDeviceMap *vd_device_map_new(const char *sysfs_root);
void vd_device_map_free(VdDeviceMap *map);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdDeviceMap, vd_device_map_free)

/* Replaces the host's info (count 0: back to output order). Addresses are resolved now. Returns
 * true if the mapping changed. */
bool vd_device_map_set_info(VdDeviceMap *map, const VdGraphicsDeviceInfo *info);
bool vd_device_map_has_info(const VdDeviceMap *map);

/* The index in outputs[0..n) that display_id goes to, or -1. *ret_by_info (may be NULL) says
 * whether GRAPHICS_DEVICE_INFO decided it. */
int vd_device_map_lookup(const VdDeviceMap *map, uint32_t display_id, const char *const *outputs, unsigned n,
                         bool *ret_by_info);

/* Every display id (0..VD_IPC_MAX_DISPLAYS) that reaches one of outputs, for VD_S_DEVICE_MAP. */
void vd_device_map_report(const VdDeviceMap *map, const char *const *outputs, unsigned n, VdDeviceMapReport *ret);

/* --- pure helpers, exposed for tests --- */

/* "pci/0000/02.0" from a sysfs device path ".../pci0000:00/0000:00:1e.0/0000:01:02.0"; NULL if the
 * path is not a PCI device's. */
char *vd_device_map_pci_address(const char *device_path);
/* The X modesetting driver's name for a kernel connector name ("HDMI-A-1" -> "HDMI-1"); NULL if
 * it spells it the same. */
char *vd_device_map_xorg_name(const char *kernel_name);
