/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wayland-datacontrol.c — one face for ext-data-control-v1 and zwlr-data-control-unstable-v1.
 *
 * The two protocols have the same objects, requests and events in the same order (ext is the
 * standardised copy of wlr's version 2); only the interface names differ. So the clipboard speaks
 * to plain wl_proxy objects through these few functions, which marshal the shared opcodes with
 * the right interface for new objects. The opcodes are the generated ones, and checked equal.
 */
#include <string.h>

#include "ext-data-control-v1-client-protocol.h"
#include "wlr-data-control-unstable-v1-client-protocol.h"
#include "wayland-private.h"

_Static_assert(EXT_DATA_CONTROL_MANAGER_V1_CREATE_DATA_SOURCE == ZWLR_DATA_CONTROL_MANAGER_V1_CREATE_DATA_SOURCE &&
                   EXT_DATA_CONTROL_MANAGER_V1_GET_DATA_DEVICE == ZWLR_DATA_CONTROL_MANAGER_V1_GET_DATA_DEVICE &&
                   EXT_DATA_CONTROL_MANAGER_V1_DESTROY == ZWLR_DATA_CONTROL_MANAGER_V1_DESTROY,
               "manager opcodes");
_Static_assert(EXT_DATA_CONTROL_DEVICE_V1_SET_SELECTION == ZWLR_DATA_CONTROL_DEVICE_V1_SET_SELECTION &&
                   EXT_DATA_CONTROL_DEVICE_V1_DESTROY == ZWLR_DATA_CONTROL_DEVICE_V1_DESTROY &&
                   EXT_DATA_CONTROL_DEVICE_V1_SET_PRIMARY_SELECTION ==
                       ZWLR_DATA_CONTROL_DEVICE_V1_SET_PRIMARY_SELECTION,
               "device opcodes");
_Static_assert(EXT_DATA_CONTROL_SOURCE_V1_OFFER == ZWLR_DATA_CONTROL_SOURCE_V1_OFFER &&
                   EXT_DATA_CONTROL_SOURCE_V1_DESTROY == ZWLR_DATA_CONTROL_SOURCE_V1_DESTROY &&
                   EXT_DATA_CONTROL_OFFER_V1_RECEIVE == ZWLR_DATA_CONTROL_OFFER_V1_RECEIVE &&
                   EXT_DATA_CONTROL_OFFER_V1_DESTROY == ZWLR_DATA_CONTROL_OFFER_V1_DESTROY,
               "source and offer opcodes");
/* Our listeners stand for the generated ones: same number of events, same order. */
_Static_assert(sizeof(VdDcDeviceListener) == sizeof(struct ext_data_control_device_v1_listener) &&
                   sizeof(VdDcDeviceListener) == sizeof(struct zwlr_data_control_device_v1_listener) &&
                   sizeof(VdDcSourceListener) == sizeof(struct ext_data_control_source_v1_listener) &&
                   sizeof(VdDcSourceListener) == sizeof(struct zwlr_data_control_source_v1_listener) &&
                   sizeof(VdDcOfferListener) == sizeof(struct ext_data_control_offer_v1_listener) &&
                   sizeof(VdDcOfferListener) == sizeof(struct zwlr_data_control_offer_v1_listener),
               "listener layouts");

const char *vd_dc_kind_to_string(VdDcKind kind)
{
    switch (kind) {
    case VD_DC_NONE:
        return "none";
    case VD_DC_EXT:
        return "ext-data-control-v1";
    case VD_DC_WLR:
        return "zwlr-data-control-v1";
    }
    return "UNKNOWN";
}

bool vd_dc_bind(VdDc *dc, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version)
{
    g_return_val_if_fail(dc && registry && interface, false);
    if (strcmp(interface, ext_data_control_manager_v1_interface.name) == 0) {
        if (dc->kind == VD_DC_WLR) { /* ext is preferred: drop wlr's */
            wl_proxy_marshal_flags(dc->manager, ZWLR_DATA_CONTROL_MANAGER_V1_DESTROY, NULL, dc->version,
                                   WL_MARSHAL_FLAG_DESTROY);
        }
        dc->kind = VD_DC_EXT;
        dc->version = 1;
        dc->manager = wl_registry_bind(registry, name, &ext_data_control_manager_v1_interface, 1);
        return true;
    }
    if (strcmp(interface, zwlr_data_control_manager_v1_interface.name) == 0) {
        if (dc->kind == VD_DC_EXT)
            return true;
        dc->kind = VD_DC_WLR;
        dc->version = MIN(version, 2u);
        dc->manager = wl_registry_bind(registry, name, &zwlr_data_control_manager_v1_interface, dc->version);
        return true;
    }
    return false;
}

bool vd_dc_has_primary(const VdDc *dc)
{
    g_return_val_if_fail(dc, false);
    return dc->kind == VD_DC_EXT || (dc->kind == VD_DC_WLR && dc->version >= 2);
}

static const struct wl_interface *iface(const VdDc *dc, const struct wl_interface *ext, const struct wl_interface *wlr)
{
    return dc->kind == VD_DC_EXT ? ext : wlr;
}

struct wl_proxy *vd_dc_get_device(VdDc *dc, struct wl_seat *seat, const VdDcDeviceListener *listener, void *data)
{
    g_return_val_if_fail(dc && listener, NULL);
    const struct wl_interface *i =
        iface(dc, &ext_data_control_device_v1_interface, &zwlr_data_control_device_v1_interface);
    struct wl_proxy *device = wl_proxy_marshal_flags(dc->manager, EXT_DATA_CONTROL_MANAGER_V1_GET_DATA_DEVICE, i,
                                                     dc->version, 0, NULL, seat);
    if (device)
        wl_proxy_add_listener(device, (void (**)(void))listener, data);
    return device;
}

struct wl_proxy *vd_dc_create_source(VdDc *dc, const VdDcSourceListener *listener, void *data)
{
    g_return_val_if_fail(dc && listener, NULL);
    const struct wl_interface *i =
        iface(dc, &ext_data_control_source_v1_interface, &zwlr_data_control_source_v1_interface);
    struct wl_proxy *source =
        wl_proxy_marshal_flags(dc->manager, EXT_DATA_CONTROL_MANAGER_V1_CREATE_DATA_SOURCE, i, dc->version, 0, NULL);
    if (source)
        wl_proxy_add_listener(source, (void (**)(void))listener, data);
    return source;
}

void vd_dc_source_offer(struct wl_proxy *source, const char *mime_type)
{
    g_return_if_fail(source && mime_type);
    wl_proxy_marshal_flags(source, EXT_DATA_CONTROL_SOURCE_V1_OFFER, NULL, wl_proxy_get_version(source), 0,
                           mime_type);
}

void vd_dc_device_set(struct wl_proxy *device, bool primary, struct wl_proxy *source)
{
    g_return_if_fail(device);
    wl_proxy_marshal_flags(device,
                           primary ? EXT_DATA_CONTROL_DEVICE_V1_SET_PRIMARY_SELECTION
                                   : EXT_DATA_CONTROL_DEVICE_V1_SET_SELECTION,
                           NULL, wl_proxy_get_version(device), 0, source);
}

void vd_dc_offer_listen(struct wl_proxy *offer, const VdDcOfferListener *listener, void *data)
{
    g_return_if_fail(offer && listener);
    wl_proxy_add_listener(offer, (void (**)(void))listener, data);
}

void vd_dc_offer_receive(struct wl_proxy *offer, const char *mime_type, int fd)
{
    g_return_if_fail(offer && mime_type);
    wl_proxy_marshal_flags(offer, EXT_DATA_CONTROL_OFFER_V1_RECEIVE, NULL, wl_proxy_get_version(offer), 0,
                           mime_type, fd);
}

static void destroy(struct wl_proxy *proxy, uint32_t opcode)
{
    if (proxy)
        wl_proxy_marshal_flags(proxy, opcode, NULL, wl_proxy_get_version(proxy), WL_MARSHAL_FLAG_DESTROY);
}

void vd_dc_device_destroy(struct wl_proxy *device)
{
    destroy(device, EXT_DATA_CONTROL_DEVICE_V1_DESTROY);
}

void vd_dc_source_destroy(struct wl_proxy *source)
{
    destroy(source, EXT_DATA_CONTROL_SOURCE_V1_DESTROY);
}

void vd_dc_offer_destroy(struct wl_proxy *offer)
{
    destroy(offer, EXT_DATA_CONTROL_OFFER_V1_DESTROY);
}

void vd_dc_clear(VdDc *dc)
{
    if (!dc)
        return;
    destroy(dc->manager, EXT_DATA_CONTROL_MANAGER_V1_DESTROY);
    dc->manager = NULL;
    dc->kind = VD_DC_NONE;
}
