/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-net.c — guest-network-get-interfaces: getifaddrs(3) for the names, link-layer addresses and
 * IP addresses (in its order, as qemu-ga), /sys/class/net/NAME/statistics for the counters. Like
 * qemu-ga 7.2, "ip-addresses" and "statistics" are present only for an interface that has an IP
 * address; "hardware-address" only for one with a link-layer address. */
#include "qga-verbs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>

typedef struct {
    char *name;
    char *hw_address;   /* NULL: none */
    JsonArray *addresses; /* GuestIpAddress objects */
} Interface;

static void interface_free(gpointer data)
{
    Interface *iface = data;
    g_free(iface->name);
    g_free(iface->hw_address);
    json_array_unref(iface->addresses);
    g_free(iface);
}

static Interface *interface_get(GPtrArray *list, const char *name)
{
    for (guint i = 0; i < list->len; i++) {
        Interface *iface = g_ptr_array_index(list, i);
        if (g_str_equal(iface->name, name))
            return iface;
    }
    if (list->len >= VD_QGA_MAX_INTERFACES)
        return NULL;
    Interface *iface = g_new0(Interface, 1);
    iface->name = g_strdup(name);
    iface->addresses = json_array_new();
    g_ptr_array_add(list, iface);
    return iface;
}

static int prefix_length(const guint8 *mask, gsize len)
{
    int bits = 0;
    for (gsize i = 0; i < len; i++)
        bits += __builtin_popcount(mask[i]);
    return bits;
}

static void add_address(Interface *iface, const struct ifaddrs *ifa)
{
    int family = ifa->ifa_addr->sa_family;
    char text[INET6_ADDRSTRLEN];
    const void *addr, *mask = NULL;
    gsize mask_len;

    if (family == AF_INET) {
        addr = &((const struct sockaddr_in *) ifa->ifa_addr)->sin_addr;
        if (ifa->ifa_netmask)
            mask = &((const struct sockaddr_in *) ifa->ifa_netmask)->sin_addr;
        mask_len = 4;
    } else {
        addr = &((const struct sockaddr_in6 *) ifa->ifa_addr)->sin6_addr;
        if (ifa->ifa_netmask)
            mask = &((const struct sockaddr_in6 *) ifa->ifa_netmask)->sin6_addr;
        mask_len = 16;
    }
    if (!inet_ntop(family, addr, text, sizeof(text)))
        return;
    if (json_array_get_length(iface->addresses) >= VD_QGA_MAX_IF_ADDRESSES) {
        g_warning("guest-network-get-interfaces: \"%s\": reporting the first %d addresses only", iface->name,
                  VD_QGA_MAX_IF_ADDRESSES);
        return;
    }
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "ip-address-type", family == AF_INET ? "ipv4" : "ipv6");
    json_object_set_string_member(o, "ip-address", text);
    json_object_set_int_member(o, "prefix", mask ? prefix_length(mask, mask_len) : (family == AF_INET ? 32 : 128));
    json_array_add_object_element(iface->addresses, o);
}

static JsonObject *statistics(const char *name)
{
    static const struct {
        const char *file, *member;
    } counters[] = {
        {"rx_bytes", "rx-bytes"},     {"rx_packets", "rx-packets"}, {"rx_errors", "rx-errs"},
        {"rx_dropped", "rx-dropped"}, {"tx_bytes", "tx-bytes"},     {"tx_packets", "tx-packets"},
        {"tx_errors", "tx-errs"},     {"tx_dropped", "tx-dropped"},
    };
    JsonObject *o = json_object_new();
    for (gsize i = 0; i < G_N_ELEMENTS(counters); i++) {
        g_autofree char *path = g_strdup_printf("/sys/class/net/%s/statistics/%s", name, counters[i].file);
        g_autofree char *text = vd_qga_read_attr(path);
        guint64 value;
        if (!text || !g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT64, &value, NULL)) {
            json_object_unref(o);
            return NULL;
        }
        json_object_set_int_member(o, counters[i].member, (gint64) value);
    }
    return o;
}

JsonNode *vd_qga_network_get_interfaces(JsonObject *args, GError **error)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "getifaddrs failed: %s", g_strerror(e));
        return NULL;
    }
    g_autoptr(GPtrArray) interfaces = g_ptr_array_new_with_free_func(interface_free);
    gboolean truncated = FALSE;
    for (const struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_name || !g_utf8_validate(ifa->ifa_name, -1, NULL))
            continue;
        Interface *iface = interface_get(interfaces, ifa->ifa_name);
        if (!iface) {
            truncated = TRUE;
            continue;
        }
        if (!ifa->ifa_addr)
            continue;
        switch (ifa->ifa_addr->sa_family) {
        case AF_PACKET: {
            const struct sockaddr_ll *ll = (const struct sockaddr_ll *) ifa->ifa_addr;
            if (!iface->hw_address && ll->sll_halen > 0 && ll->sll_halen <= sizeof(ll->sll_addr)) {
                GString *s = g_string_new(NULL);
                for (int i = 0; i < ll->sll_halen; i++)
                    g_string_append_printf(s, "%s%02x", i ? ":" : "", ll->sll_addr[i]);
                iface->hw_address = g_string_free(s, FALSE);
            }
            break;
        }
        case AF_INET:
        case AF_INET6:
            add_address(iface, ifa);
            break;
        default:
            break;
        }
    }
    freeifaddrs(list);
    if (truncated)
        g_warning("guest-network-get-interfaces: reporting the first %d interfaces only", VD_QGA_MAX_INTERFACES);

    JsonArray *result = json_array_new();
    for (guint i = 0; i < interfaces->len; i++) {
        Interface *iface = g_ptr_array_index(interfaces, i);
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "name", iface->name);
        if (iface->hw_address)
            json_object_set_string_member(o, "hardware-address", iface->hw_address);
        if (json_array_get_length(iface->addresses) > 0) {
            json_object_set_array_member(o, "ip-addresses", json_array_ref(iface->addresses));
            JsonObject *stats = statistics(iface->name);
            if (stats)
                json_object_set_object_member(o, "statistics", stats);
        }
        json_array_add_object_element(result, o);
    }
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, result);
    return node;
}
