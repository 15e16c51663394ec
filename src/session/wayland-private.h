/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wayland-private.h — what the Wayland backend's files share.
 *
 *   wayland.c            the connection in the main loop, globals, outputs and the layout report
 *   wayland-layout.c     pure: outputs (logical geometry, scale) -> the layout the daemon maps the mouse with
 *   wayland-clipboard.c  CLIPBOARD and PRIMARY over ext-data-control-v1 or zwlr-data-control v2
 *   wayland-datacontrol.c one face for the two data-control protocols (same shape, other names)
 *   wayland-outman.c     MONITORS_CONFIG through zwlr_output_manager_v1 (wlroots)
 *   wayland-mutter.c     MONITORS_CONFIG through org.gnome.Mutter.DisplayConfig (GNOME)
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <wayland-client.h>

#include "backend.h"

/* --- limits and timeouts (docs/wayland.md; each has a test in tests/session/test-agent-wayland.py) --- */

/* Outputs we track; more are ignored with a log line. */
#define VD_WL_MAX_OUTPUTS VD_IPC_MAX_DISPLAYS
/* The longest output name we keep (xdg-output names are short: "HEADLESS-1", "Virtual-1"). */
#define VD_WL_MAX_NAME 64u

/* How long the compositor may take to answer an output configuration. */
#define VD_WL_APPLY_TIMEOUT_MS 5000
/* The largest monitor and position we ask for (as randr.c's). */
#define VD_WL_MAX_MONITOR_SIDE 16384
#define VD_WL_MAX_POS 65535

/* --- the layout (wayland-layout.c, pure) --- */

typedef struct {
    char name[VD_WL_MAX_NAME];
    bool enabled;             /* has a logical geometry (xdg-output) */
    int32_t x, y;             /* logical position */
    int32_t width, height;    /* logical size */
    int32_t mode_width, mode_height; /* current mode, in the output's pixels, after its transform */
    int32_t scale;            /* wl_output's integer scale (1 when not said) */
} VdWlOutputInfo;

/* Sorts outputs by name, numbers compared as numbers ("HEADLESS-2" before "HEADLESS-10"). */
int vd_wl_output_name_cmp(const char *a, const char *b);

/* Why the host's monitors config c cannot be applied by any Wayland backend (a size or position
 * past the limits above, or no monitor enabled); NULL if it can. */
const char *vd_wl_monitors_config_check(const VdMonitorsConfig *c);

/* The layout of n outputs (in name order; map[i] = output index for display id i, or -1; NULL:
 * display id i is output i). Rects are in "host pixels": logical coordinates times the largest scale
 * among the enabled outputs, shifted so the bounding box starts at 0,0; screen = the bounding box.
 * Returns the scale used (in 1/120ths, as wp_fractional_scale does), 0 if nothing is enabled. */
unsigned vd_wl_layout_compute(const VdWlOutputInfo *outputs, unsigned n, const int *map, unsigned n_map,
                              VdLayout *ret);

/* --- the data-control protocols (wayland-datacontrol.c) --- */

typedef enum {
    VD_DC_NONE,
    VD_DC_EXT,  /* ext_data_control_manager_v1 */
    VD_DC_WLR,  /* zwlr_data_control_manager_v1 */
} VdDcKind;

const char *vd_dc_kind_to_string(VdDcKind kind);

/* The device's and the source's events, in the order both protocols define them. */
typedef struct {
    void (*data_offer)(void *data, struct wl_proxy *device, struct wl_proxy *offer);
    void (*selection)(void *data, struct wl_proxy *device, struct wl_proxy *offer);
    void (*finished)(void *data, struct wl_proxy *device);
    void (*primary_selection)(void *data, struct wl_proxy *device, struct wl_proxy *offer);
} VdDcDeviceListener;

typedef struct {
    void (*send)(void *data, struct wl_proxy *source, const char *mime_type, int32_t fd);
    void (*cancelled)(void *data, struct wl_proxy *source);
} VdDcSourceListener;

typedef struct {
    void (*offer)(void *data, struct wl_proxy *offer, const char *mime_type);
} VdDcOfferListener;

typedef struct {
    VdDcKind kind;
    struct wl_proxy *manager;
    uint32_t version;
} VdDc;

/* Binds the manager from a registry global (interface name as announced). false if it is neither. */
bool vd_dc_bind(VdDc *dc, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version);
bool vd_dc_has_primary(const VdDc *dc);
struct wl_proxy *vd_dc_get_device(VdDc *dc, struct wl_seat *seat, const VdDcDeviceListener *listener, void *data);
struct wl_proxy *vd_dc_create_source(VdDc *dc, const VdDcSourceListener *listener, void *data);
void vd_dc_source_offer(struct wl_proxy *source, const char *mime_type);
/* primary: set_primary_selection (vd_dc_has_primary must hold). source NULL clears. */
void vd_dc_device_set(struct wl_proxy *device, bool primary, struct wl_proxy *source);
void vd_dc_offer_listen(struct wl_proxy *offer, const VdDcOfferListener *listener, void *data);
void vd_dc_offer_receive(struct wl_proxy *offer, const char *mime_type, int fd);
/* The protocol's destroy request of each object. NULL is fine. */
void vd_dc_device_destroy(struct wl_proxy *device);
void vd_dc_source_destroy(struct wl_proxy *source);
void vd_dc_offer_destroy(struct wl_proxy *offer);
/* Destroys the manager and forgets the kind; dc itself is embedded, not freed. NULL is fine. */
void vd_dc_clear(VdDc *dc);

/* --- output management (wayland-outman.c) --- */

typedef struct VdWlOutman VdWlOutman;

VdWlOutman *vd_wl_outman_new(struct wl_registry *registry, uint32_t name, uint32_t version,
                             const VdBackendHost *host, void *user_data);
void vd_wl_outman_free(VdWlOutman *om);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdWlOutman, vd_wl_outman_free)
/* Applies config; host->monitors_done answers it (maybe before returning). */
void vd_wl_outman_apply(VdWlOutman *om, uint32_t request_id, const VdMonitorsConfig *config);
/* The heads' names in name order (what display ids count in, disabled heads included). */
unsigned vd_wl_outman_names(VdWlOutman *om, const char **names, unsigned max);

/* --- Mutter's DisplayConfig (wayland-mutter.c) --- */

typedef struct VdWlMutter VdWlMutter;

/* Watches the session bus for org.gnome.Mutter.DisplayConfig (asynchronously). */
VdWlMutter *vd_wl_mutter_new(const VdBackendHost *host, void *user_data);
void vd_wl_mutter_free(VdWlMutter *mu);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdWlMutter, vd_wl_mutter_free)
bool vd_wl_mutter_present(const VdWlMutter *mu);
void vd_wl_mutter_apply(VdWlMutter *mu, uint32_t request_id, const VdMonitorsConfig *config);

/* --- the clipboard (wayland-clipboard.c) --- */

typedef struct VdWlClipboard VdWlClipboard;

extern const VdClipboardOps vd_wl_clipboard_ops;

/* dc: a bound manager (taken over). seat: the seat whose selections are bridged. */
VdWlClipboard *vd_wl_clipboard_new(VdDc *dc, struct wl_seat *seat, const VdBackendHost *host, void *user_data);
void vd_wl_clipboard_free(VdWlClipboard *clip);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdWlClipboard, vd_wl_clipboard_free)
