/* SPDX-License-Identifier: GPL-3.0-or-later */
/* layout.c — display layouts and the pixel -> axis mapping of the paravirtual pointer. */
#include "layout.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

const char *vd_layout_source_to_string(VdLayoutSource source)
{
    switch (source) {
    case VD_LAYOUT_SOURCE_DEFAULT: return "default";
    case VD_LAYOUT_SOURCE_KERNEL: return "framebuffer";
    case VD_LAYOUT_SOURCE_HOST: return "host";
    case VD_LAYOUT_SOURCE_AGENT: return "agent";
    }
    return "unknown";
}

void vd_layout_map_single(VdLayoutMap *map, VdLayoutSource source, uint32_t width, uint32_t height)
{
    g_return_if_fail(map);
    *map = (VdLayoutMap){ .source = source };
    map->width = width ? width : VD_LAYOUT_DEFAULT_WIDTH;
    map->height = height ? height : VD_LAYOUT_DEFAULT_HEIGHT;
    map->displays[0] = (VdLayoutRect){ .present = true, .width = map->width, .height = map->height };
}

/* Sets the desktop to the bounding box of the present displays. */
static int bound(VdLayoutMap *map)
{
    int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = INT64_MIN, y1 = INT64_MIN;
    for (unsigned i = 0; i < VD_IPC_MAX_DISPLAYS; i++) {
        const VdLayoutRect *r = &map->displays[i];
        if (!r->present)
            continue;
        x0 = MIN(x0, r->x);
        y0 = MIN(y0, r->y);
        x1 = MAX(x1, (int64_t)r->x + r->width);
        y1 = MAX(y1, (int64_t)r->y + r->height);
    }
    if (x0 == INT64_MAX || x1 - x0 > UINT32_MAX || y1 - y0 > UINT32_MAX)
        return -EINVAL;
    map->origin_x = (int32_t)x0;
    map->origin_y = (int32_t)y0;
    map->width = (uint32_t)(x1 - x0);
    map->height = (uint32_t)(y1 - y0);
    return 0;
}

int vd_layout_map_from_monitors(VdLayoutMap *map, const VdMonitorsConfig *config)
{
    g_return_val_if_fail(map && config, -EINVAL);
    VdLayoutMap m = { .source = VD_LAYOUT_SOURCE_HOST };
    int64_t next_x = 0;
    for (uint32_t i = 0; i < config->count && i < VD_IPC_MAX_DISPLAYS; i++) {
        const VdMonitor *mon = &config->monitors[i];
        if (!vd_monitor_enabled(mon))
            continue;
        VdLayoutRect *r = &m.displays[i];
        r->present = true;
        r->width = mon->width;
        r->height = mon->height;
        if (config->flags & VD_MONITORS_USE_POS) {
            r->x = mon->x;
            r->y = mon->y;
        } else {
            /* Without positions, guests lay the monitors out left to right in index order. */
            if (next_x > INT32_MAX)
                return -EINVAL;
            r->x = (int32_t)next_x;
            next_x += mon->width;
        }
    }
    if (bound(&m) < 0)
        return -EINVAL;
    *map = m;
    return 0;
}

int vd_layout_map_from_agent(VdLayoutMap *map, const VdLayout *layout)
{
    g_return_val_if_fail(map && layout, -EINVAL);
    VdLayoutMap m = { .source = VD_LAYOUT_SOURCE_AGENT };
    bool any = false;
    for (uint32_t i = 0; i < layout->count && i < VD_IPC_MAX_DISPLAYS; i++) {
        const VdDisplayRect *d = &layout->displays[i];
        if (d->display_id >= VD_IPC_MAX_DISPLAYS || d->width == 0 || d->height == 0)
            continue;
        m.displays[d->display_id] = (VdLayoutRect){
            .present = true, .x = d->x, .y = d->y, .width = d->width, .height = d->height };
        any = true;
    }
    if (!any)
        return -EINVAL;
    if (layout->screen_width && layout->screen_height) {
        /* The axis spans the whole X screen (the root window), whatever the displays cover. */
        m.origin_x = 0;
        m.origin_y = 0;
        m.width = layout->screen_width;
        m.height = layout->screen_height;
    } else if (bound(&m) < 0) {
        return -EINVAL;
    }
    *map = m;
    return 0;
}

uint32_t vd_layout_axis_value(int64_t p, uint32_t size)
{
    if (size == 0 || p <= 0)
        return 0;
    if (p >= size)
        p = size - 1;
    /* ceil(p * (max+1) / size): the smallest value the reader's floor(v * size / (max+1)) maps
     * back onto p. Exact for size <= max+1; wider desktops lose precision, never range. */
    uint64_t num = (uint64_t)p * (VD_AXIS_MAX + 1u);
    uint64_t v = (num + size - 1) / size;
    return v > VD_AXIS_MAX ? VD_AXIS_MAX : (uint32_t)v;
}

int vd_layout_map_pointer(const VdLayoutMap *map, uint32_t display_id, uint32_t x, uint32_t y,
                          uint32_t *ret_axis_x, uint32_t *ret_axis_y)
{
    g_return_val_if_fail(map, -EINVAL);
    if (display_id >= VD_IPC_MAX_DISPLAYS || !map->displays[display_id].present)
        return -ENOENT;
    const VdLayoutRect *r = &map->displays[display_id];
    int64_t px = (int64_t)r->x + MIN(x, r->width - 1) - map->origin_x;
    int64_t py = (int64_t)r->y + MIN(y, r->height - 1) - map->origin_y;
    *ret_axis_x = vd_layout_axis_value(px, map->width);
    *ret_axis_y = vd_layout_axis_value(py, map->height);
    return 0;
}

static int parse_size(const char *text, char sep, uint32_t *ret_w, uint32_t *ret_h)
{
    unsigned w, h;
    char s;
    if (sscanf(text, "%u%c%u", &w, &s, &h) != 3 || s != sep || w == 0 || h == 0 || w > 65536 || h > 65536)
        return -EINVAL;
    *ret_w = w;
    *ret_h = h;
    return 0;
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

int vd_layout_kernel_size(const char *sysfs_root, uint32_t *ret_width, uint32_t *ret_height)
{
    /* DRM: the first connected connector's preferred (first listed) mode, in name order. */
    g_autofree char *drm = g_build_filename(sysfs_root, "class", "drm", NULL);
    g_autoptr(GDir) dir = g_dir_open(drm, 0, NULL);
    if (dir) {
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        while ((name = g_dir_read_name(dir)))
            if (strchr(name, '-'))
                g_ptr_array_add(names, g_strdup(name));
        g_ptr_array_sort(names, compare_names);
        for (guint i = 0; i < names->len; i++) {
            g_autofree char *status_path = g_build_filename(drm, names->pdata[i], "status", NULL);
            g_autofree char *modes_path = g_build_filename(drm, names->pdata[i], "modes", NULL);
            g_autofree char *status = NULL, *modes = NULL;
            if (!g_file_get_contents(status_path, &status, NULL, NULL) || !g_str_has_prefix(status, "connected"))
                continue;
            if (!g_file_get_contents(modes_path, &modes, NULL, NULL))
                continue;
            if (parse_size(modes, 'x', ret_width, ret_height) == 0)
                return 0;
        }
    }
    g_autofree char *fb = g_build_filename(sysfs_root, "class", "graphics", "fb0", "virtual_size", NULL);
    g_autofree char *text = NULL;
    if (g_file_get_contents(fb, &text, NULL, NULL) && parse_size(text, ',', ret_width, ret_height) == 0)
        return 0;
    return -ENOENT;
}
