/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wayland-layout.c — the layout report of a Wayland session (pure code).
 *
 * Which pixels the host's pointer positions are in: the host sees each display's framebuffer, so
 * its positions are the output's own (hardware) pixels, mode-sized. The compositor maps our
 * absolute device onto the bounding box of the outputs in logical coordinates (libinput does not
 * know about scale). The daemon maps (display, x, y) linearly onto that bounding box with the
 * rectangles we report. So we report the logical layout multiplied by one factor k, the scale of
 * the outputs: an output of scale k then has a rectangle exactly its mode's size, and the host's
 * pixel p lands on logical x + p / k, which the compositor draws on hardware pixel p. Exact when
 * all enabled outputs share a scale (the usual case); with mixed scales k is the largest, and on
 * the outputs of smaller scale the host's positions are stretched by k / their scale (the
 * protocol has one rectangle per display, not a scale). docs/wayland.md says so.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wayland-private.h"

int vd_wl_output_name_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (g_ascii_isdigit(*a) && g_ascii_isdigit(*b)) {
            char *ea, *eb;
            unsigned long long na = strtoull(a, &ea, 10), nb = strtoull(b, &eb, 10);
            if (na != nb)
                return na < nb ? -1 : 1;
            a = ea;
            b = eb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

static double output_scale(const VdWlOutputInfo *o)
{
    /* The mode over the logical size is the real scale, fractional ones included. */
    if (o->mode_width > 0 && o->width > 0)
        return (double)o->mode_width / (double)o->width;
    return o->scale > 0 ? o->scale : 1;
}

unsigned vd_wl_layout_compute(const VdWlOutputInfo *outputs, unsigned n, const int *map, unsigned n_map,
                              VdLayout *ret)
{
    g_return_val_if_fail(ret && (outputs || n == 0), 0);
    VdLayout l = { 0 };
    double k = 0;
    int64_t min_x = INT64_MAX, min_y = INT64_MAX, max_x = INT64_MIN, max_y = INT64_MIN;
    unsigned ids = map ? MIN(n_map, (unsigned)VD_IPC_MAX_DISPLAYS) : MIN(n, (unsigned)VD_IPC_MAX_DISPLAYS);

    for (unsigned i = 0; i < n; i++)
        if (outputs[i].enabled && outputs[i].width > 0 && outputs[i].height > 0)
            k = MAX(k, output_scale(&outputs[i]));
    if (k <= 0) {
        *ret = l;
        return 0;
    }
    /* The compositor's box holds every enabled output, mapped to a display id or not. */
    for (unsigned i = 0; i < n; i++) {
        const VdWlOutputInfo *o = &outputs[i];
        if (!o->enabled || o->width <= 0 || o->height <= 0)
            continue;
        min_x = MIN(min_x, llround(o->x * k));
        min_y = MIN(min_y, llround(o->y * k));
        max_x = MAX(max_x, llround(((double)o->x + o->width) * k));
        max_y = MAX(max_y, llround(((double)o->y + o->height) * k));
    }
    for (unsigned id = 0; id < ids; id++) {
        int idx = map ? map[id] : (int)id;
        if (idx < 0 || (unsigned)idx >= n)
            continue;
        const VdWlOutputInfo *o = &outputs[idx];
        if (!o->enabled || o->width <= 0 || o->height <= 0)
            continue;
        VdDisplayRect *r = &l.displays[l.count++];
        int64_t x0 = llround(o->x * k), y0 = llround(o->y * k);
        int64_t x1 = llround(((double)o->x + o->width) * k), y1 = llround(((double)o->y + o->height) * k);
        r->display_id = id;
        r->x = (int32_t)x0;
        r->y = (int32_t)y0;
        r->width = (uint32_t)(x1 - x0);
        r->height = (uint32_t)(y1 - y0);
    }
    if (l.count == 0) {
        *ret = l;
        return 0;
    }
    for (unsigned i = 0; i < l.count; i++) {
        l.displays[i].x -= (int32_t)min_x;
        l.displays[i].y -= (int32_t)min_y;
    }
    l.screen_width = (uint32_t)(max_x - min_x);
    l.screen_height = (uint32_t)(max_y - min_y);
    *ret = l;
    return (unsigned)lround(k * 120.0);
}

const char *vd_wl_monitors_config_check(const VdMonitorsConfig *c)
{
    unsigned enabled = 0;
    for (uint32_t i = 0; i < c->count && i < VD_LIMIT_MONITORS; i++) {
        const VdMonitor *m = &c->monitors[i];
        if (!vd_monitor_enabled(m))
            continue;
        enabled++;
        if (m->width > VD_WL_MAX_MONITOR_SIDE || m->height > VD_WL_MAX_MONITOR_SIDE)
            return "a monitor is larger than " G_STRINGIFY(VD_WL_MAX_MONITOR_SIDE) " pixels";
        if ((c->flags & VD_MONITORS_USE_POS) && (m->x < -VD_WL_MAX_POS || m->x > VD_WL_MAX_POS ||
                                                 m->y < -VD_WL_MAX_POS || m->y > VD_WL_MAX_POS))
            return "a monitor position is out of range";
    }
    return enabled == 0 ? "no monitor is enabled" : NULL;
}
