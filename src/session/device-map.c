/* SPDX-License-Identifier: GPL-3.0-or-later */
/* device-map.c — display ids to outputs through GRAPHICS_DEVICE_INFO and sysfs (see device-map.h). */
#include "device-map.h"

#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool present;
    uint32_t device_display_id;
    char address[VD_LIMIT_DEVICE_ADDRESS];
    char *connector; /* the kernel connector name, NULL if the address did not resolve */
} Entry;

struct VdDeviceMap {
    char *sysfs_root;
    bool has_info;
    bool single_device; /* every entry names the same address */
    Entry entries[VD_LIMIT_MONITORS]; /* by display id */
};

char *vd_device_map_pci_address(const char *device_path)
{
    g_return_val_if_fail(device_path, NULL);
    g_auto(GStrv) parts = g_strsplit(device_path, "/", -1);
    GString *out = NULL;

    for (char **p = parts; *p; p++) {
        unsigned domain, bus, slot, func;
        char end;
        if (!out) {
            if (sscanf(*p, "pci%4x:%2x%c", &domain, &bus, &end) == 2 && strlen(*p) == 10)
                out = g_string_new(NULL), g_string_append_printf(out, "pci/%04x", domain);
            continue;
        }
        if (sscanf(*p, "%4x:%2x:%2x.%1x%c", &domain, &bus, &slot, &func, &end) == 4)
            g_string_append_printf(out, "/%02x.%x", slot, func);
        else
            break; /* past the PCI function: a sub-device (drm/card0…) */
    }
    if (!out || !strchr(out->str + 4, '/')) {
        if (out)
            g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

char *vd_device_map_xorg_name(const char *kernel_name)
{
    g_return_val_if_fail(kernel_name, NULL);
    /* Where the modesetting driver's connector type names differ from the kernel's. */
    static const struct { const char *kernel, *xorg; } renames[] = {
        { "HDMI-A-", "HDMI-" }, { "Component-", "CTV-" }, { "Unknown-", "None-" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(renames); i++)
        if (g_str_has_prefix(kernel_name, renames[i].kernel))
            return g_strconcat(renames[i].xorg, kernel_name + strlen(renames[i].kernel), NULL);
    return NULL;
}

typedef struct {
    unsigned long id;
    char *name;
} Connector;

static int compare_connectors(const void *a, const void *b)
{
    const Connector *x = a, *y = b;

    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The name of connector number index of the card at address, or NULL. */
static char *resolve(const VdDeviceMap *map, const char *address, uint32_t index)
{
    g_autofree char *drm = g_build_filename(map->sysfs_root, "class", "drm", NULL);
    g_autoptr(GDir) dir = g_dir_open(drm, 0, NULL);
    const char *name;
    g_autofree char *card = NULL;

    if (!dir)
        return NULL;
    /* The card whose device is at address. */
    while ((name = g_dir_read_name(dir)) && !card) {
        if (!g_str_has_prefix(name, "card") || strchr(name, '-'))
            continue;
        g_autofree char *link = g_build_filename(drm, name, "device", NULL);
        g_autofree char *real = realpath(link, NULL);
        g_autofree char *addr = real ? vd_device_map_pci_address(real) : NULL;
        if (addr && strcmp(addr, address) == 0)
            card = g_strdup(name);
    }
    if (!card)
        return NULL;
    /* Its connectors, "cardN-NAME", in connector id order (names where the kernel has no id file). */
    g_dir_rewind(dir);
    g_autofree char *prefix = g_strconcat(card, "-", NULL);
    Connector conns[VD_DEVICE_MAP_MAX_CONNECTORS];
    unsigned n = 0;
    while ((name = g_dir_read_name(dir))) {
        if (!g_str_has_prefix(name, prefix))
            continue;
        g_autofree char *idfile = g_build_filename(drm, name, "connector_id", NULL);
        g_autofree char *text = NULL;
        unsigned long id = G_MAXULONG;
        if (g_file_get_contents(idfile, &text, NULL, NULL))
            id = strtoul(text, NULL, 10);
        Connector c = { id, (char *)name + strlen(prefix) };
        if (n < VD_DEVICE_MAP_MAX_CONNECTORS) {
            conns[n++] = (Connector){ id, g_strdup(c.name) };
            continue;
        }
        /* Full: keep the first ones in connector order, whatever order readdir gives. */
        unsigned last = 0;
        for (unsigned i = 1; i < n; i++)
            if (compare_connectors(&conns[i], &conns[last]) > 0)
                last = i;
        if (compare_connectors(&c, &conns[last]) < 0) {
            g_free(conns[last].name);
            conns[last] = (Connector){ id, g_strdup(c.name) };
        }
    }
    qsort(conns, n, sizeof(Connector), compare_connectors);
    char *found = index < n ? g_strdup(conns[index].name) : NULL;
    for (unsigned i = 0; i < n; i++)
        g_free(conns[i].name);
    return found;
}

static void clear_entries(VdDeviceMap *map)
{
    for (unsigned d = 0; d < VD_LIMIT_MONITORS; d++) {
        g_free(map->entries[d].connector);
        map->entries[d] = (Entry){ 0 };
    }
    map->has_info = false;
}

bool vd_device_map_set_info(VdDeviceMap *map, const VdGraphicsDeviceInfo *info)
{
    g_return_val_if_fail(map && info, false);
    Entry before[VD_LIMIT_MONITORS];
    bool had = map->has_info;

    memcpy(before, map->entries, sizeof(before));
    for (unsigned d = 0; d < VD_LIMIT_MONITORS; d++)
        before[d].connector = g_strdup(before[d].connector);
    clear_entries(map);
    map->single_device = true;
    for (uint32_t i = 0; i < info->count && i < VD_LIMIT_DEVICE_INFO; i++) {
        const VdDeviceDisplayInfo *e = &info->entries[i];
        uint64_t display_id = (uint64_t)e->channel_id + e->monitor_id;
        if (display_id >= VD_LIMIT_MONITORS || e->device_display_id >= VD_LIMIT_MONITORS) {
            g_message("device map: entry %u (channel %u, monitor %u -> display %u of \"%s\") out of range: ignored", i,
                      e->channel_id, e->monitor_id, e->device_display_id, e->address);
            continue;
        }
        if (map->has_info) {
            for (unsigned d = 0; d < VD_LIMIT_MONITORS; d++)
                if (map->entries[d].present && strcmp(map->entries[d].address, e->address) != 0)
                    map->single_device = false;
        }
        Entry *x = &map->entries[display_id];
        g_free(x->connector);
        *x = (Entry){ .present = true, .device_display_id = e->device_display_id };
        g_strlcpy(x->address, e->address, sizeof(x->address));
        x->connector = resolve(map, e->address, e->device_display_id);
        map->has_info = true;
        if (x->connector)
            g_message("device map: display %u -> \"%s\" (display %u of the device at \"%s\")", (unsigned)display_id,
                      x->connector, e->device_display_id, e->address);
        else
            g_message("device map: display %u -> display %u of \"%s\", a device without a DRM card here: by its index",
                      (unsigned)display_id, e->device_display_id, e->address);
    }
    bool changed = had != map->has_info;
    for (unsigned d = 0; d < VD_LIMIT_MONITORS; d++) {
        const Entry *a = &before[d], *b = &map->entries[d];
        if (a->present != b->present || a->device_display_id != b->device_display_id ||
            strcmp(a->address, b->address) != 0 || g_strcmp0(a->connector, b->connector) != 0)
            changed = true;
        g_free(before[d].connector);
    }
    return changed;
}

bool vd_device_map_has_info(const VdDeviceMap *map)
{
    return map && map->has_info; /* NULL: no device map, so no info */
}

static int find_name(const char *name, const char *const *outputs, unsigned n)
{
    g_autofree char *xorg = vd_device_map_xorg_name(name);

    for (unsigned i = 0; i < n; i++)
        if (outputs[i] && (strcmp(outputs[i], name) == 0 || (xorg && strcmp(outputs[i], xorg) == 0)))
            return (int)i;
    return -1;
}

/* Where the info sends display_id, or -1 if it says nothing usable about it. */
static int mapped(const VdDeviceMap *map, uint32_t display_id, const char *const *outputs, unsigned n)
{
    const Entry *e = &map->entries[display_id];

    if (!e->present)
        return -1;
    if (e->connector) {
        int i = find_name(e->connector, outputs, n);
        if (i >= 0)
            return i;
    }
    if (map->single_device && e->device_display_id < n)
        return (int)e->device_display_id;
    return -1;
}

int vd_device_map_lookup(const VdDeviceMap *map, uint32_t display_id, const char *const *outputs, unsigned n,
                         bool *ret_by_info)
{
    g_return_val_if_fail(outputs || n == 0, -1); /* map may be NULL: by name only */
    if (ret_by_info)
        *ret_by_info = false;
    if (display_id >= VD_LIMIT_MONITORS)
        return -1;
    if (map && map->has_info) {
        int i = mapped(map, display_id, outputs, n);
        if (i >= 0) {
            if (ret_by_info)
                *ret_by_info = true;
            return i;
        }
        /* Order position, unless a mapped display took that output. */
        for (uint32_t d = 0; d < VD_LIMIT_MONITORS; d++)
            if (d != display_id && mapped(map, d, outputs, n) == (int)display_id)
                return -1;
    }
    return display_id < n ? (int)display_id : -1;
}

void vd_device_map_report(const VdDeviceMap *map, const char *const *outputs, unsigned n, VdDeviceMapReport *ret)
{
    g_return_if_fail(ret && (outputs || n == 0)); /* map may be NULL */
    memset(ret, 0, sizeof(*ret));
    for (uint32_t d = 0; d < VD_LIMIT_MONITORS && ret->count < VD_IPC_MAX_DISPLAYS; d++) {
        bool by_info;
        int i = vd_device_map_lookup(map, d, outputs, n, &by_info);
        if (i < 0 || !outputs[i])
            continue;
        VdDeviceMapEntry *e = &ret->entries[ret->count++];
        e->display_id = d;
        g_strlcpy(e->output, outputs[i], sizeof(e->output));
        e->from_device_info = by_info;
    }
}

VdDeviceMap *vd_device_map_new(const char *sysfs_root)
{
    VdDeviceMap *map = g_new0(VdDeviceMap, 1);

    map->sysfs_root = g_strdup(sysfs_root ? sysfs_root : "/sys");
    return map;
}

void vd_device_map_free(VdDeviceMap *map)
{
    if (!map)
        return;
    clear_entries(map);
    g_free(map->sysfs_root);
    g_free(map);
}
