/* SPDX-License-Identifier: GPL-3.0-or-later */
/* randr.c — applying MONITORS_CONFIG with XRandR 1.3 and reporting the layout. */
#include "randr.h"

#include <errno.h>
#include <libxcvt/libxcvt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/extensions/Xrandr.h>

/* Positions the host may ask for (beyond any X screen anyway). */
#define VD_RANDR_MAX_POS 65535
#define VD_RANDR_REFRESH_HZ 60.0
/* The DPI used for the screen's size in millimetres when the host sends no physical size. */
#define VD_RANDR_DEFAULT_DPI 96.0

struct VdRandr {
    Display *dpy;
    Window root;
    int event_base, error_base;
    const VdDeviceMap *devmap; /* display id -> output (the agent's, shared by backends), or NULL */
};

static GQuark vd_randr_error_quark(void)
{
    return g_quark_from_static_string("vd-randr-error");
}

/* --- X errors during a sequence of requests, without disturbing whoever else handles them --- */

static int trapped_errors;

static int trap_handler(Display *dpy, XErrorEvent *e)
{
    char text[128];

    XGetErrorText(dpy, e->error_code, text, sizeof(text));
    g_message("randr: the X server refused request %u.%u: %s", e->request_code, e->minor_code, text);
    trapped_errors++;
    return 0;
}

typedef int (*XErrorHandlerFn)(Display *, XErrorEvent *);

static XErrorHandlerFn trap_push(Display *dpy)
{
    XSync(dpy, False);
    trapped_errors = 0;
    return XSetErrorHandler(trap_handler);
}

static int trap_pop(Display *dpy, XErrorHandlerFn old)
{
    XSync(dpy, False);
    XSetErrorHandler(old);
    return trapped_errors;
}

/* --- CVT --- */

int vd_cvt_timings(unsigned width, unsigned height, double refresh_hz, VdCvtTimings *ret)
{
    g_return_val_if_fail(ret, -EINVAL);
    if (width == 0 || height == 0 || width > VD_RANDR_MAX_MONITOR_SIDE || height > VD_RANDR_MAX_MONITOR_SIDE)
        return -EINVAL;
    /* libxcvt rounds a width down to a whole 8-pixel cell; the X server's cvt rounded it up, which
     * keeps the sync after the visible part: ask for the rounded-up width. Below 640x480 libxcvt's
     * clock rounds to 0 or its blanking collapses (measured over every size), so a smaller monitor
     * gets a 640x480 signal. The mode keeps the exact size the host asked for either way. */
    unsigned cvt_width = MAX((width + 7u) / 8u * 8u, VD_RANDR_CVT_MIN_WIDTH);
    unsigned cvt_height = MAX(height, VD_RANDR_CVT_MIN_HEIGHT);
    struct libxcvt_mode_info *m = libxcvt_gen_mode_info((int)cvt_width, (int)cvt_height, (float)refresh_hz,
                                                        false, false);
    if (!m)
        return -ENOMEM;
    VdCvtTimings t = {
        .dot_clock = (unsigned long)m->dot_clock * 1000ul, /* kHz */
        .hdisplay = width,
        .hsync_start = m->hsync_start,
        .hsync_end = m->hsync_end,
        .htotal = m->htotal,
        .vdisplay = height,
        .vsync_start = m->vsync_start,
        .vsync_end = m->vsync_end,
        .vtotal = m->vtotal,
        .hsync_negative = (m->mode_flags & LIBXCVT_MODE_FLAG_HSYNC_NEGATIVE) != 0,
        .vsync_positive = (m->mode_flags & LIBXCVT_MODE_FLAG_VSYNC_POSITIVE) != 0,
    };
    free(m);
    if (t.dot_clock == 0 || t.hsync_start < width || t.hsync_end <= t.hsync_start || t.htotal <= t.hsync_end ||
        t.vsync_start <= height || t.vsync_end <= t.vsync_start || t.vtotal <= t.vsync_end) {
        g_debug("randr: libxcvt gave no usable timings for %ux%u", width, height);
        return -EINVAL;
    }
    *ret = t;
    return 0;
}

/* --- display ids and outputs --- */

/* The outputs' names, in the server's order (g_strfreev). */
static char **output_names(VdRandr *r, XRRScreenResources *res)
{
    char **names = g_new0(char *, (gsize)res->noutput + 1);

    for (int o = 0; o < res->noutput; o++) {
        XRROutputInfo *oi = XRRGetOutputInfo(r->dpy, res, res->outputs[o]);
        names[o] = g_strdup(oi && oi->name ? oi->name : "");
        if (oi)
            XRRFreeOutputInfo(oi);
    }
    return names;
}

static int output_for_display(const VdRandr *r, unsigned display_id, char **names, int n_outputs)
{
    return vd_device_map_lookup(r->devmap, display_id, (const char *const *)names, (unsigned)n_outputs, NULL);
}

void vd_randr_set_device_map(VdRandr *r, const VdDeviceMap *map)
{
    g_return_if_fail(r); /* map may be NULL: no device map */
    r->devmap = map;
}

void vd_randr_get_device_map(VdRandr *r, VdDeviceMapReport *ret)
{
    g_return_if_fail(r && ret);
    XRRScreenResources *res = XRRGetScreenResourcesCurrent(r->dpy, r->root);

    memset(ret, 0, sizeof(*ret));
    if (!res)
        return;
    g_auto(GStrv) names = output_names(r, res);
    vd_device_map_report(r->devmap, (const char *const *)names, (unsigned)res->noutput, ret);
    XRRFreeScreenResources(res);
}

/* --- layout --- */

static void crtc_size(const XRRCrtcInfo *ci, unsigned *w, unsigned *h)
{
    bool swapped = ci->rotation & (RR_Rotate_90 | RR_Rotate_270);

    *w = swapped ? ci->height : ci->width;
    *h = swapped ? ci->width : ci->height;
}

static void screen_size(VdRandr *r, unsigned *w, unsigned *h)
{
    Window root;
    int x, y;
    unsigned bw, depth;

    if (!XGetGeometry(r->dpy, r->root, &root, &x, &y, w, h, &bw, &depth)) {
        *w = (unsigned)DisplayWidth(r->dpy, DefaultScreen(r->dpy));
        *h = (unsigned)DisplayHeight(r->dpy, DefaultScreen(r->dpy));
    }
}

void vd_randr_get_layout(VdRandr *r, VdLayout *ret)
{
    g_return_if_fail(r && ret);
    XRRScreenResources *res = XRRGetScreenResourcesCurrent(r->dpy, r->root);
    unsigned w, h;

    memset(ret, 0, sizeof(*ret));
    screen_size(r, &w, &h);
    ret->screen_width = w;
    ret->screen_height = h;
    if (!res)
        return;
    g_auto(GStrv) names = output_names(r, res);
    for (unsigned d = 0; d < VD_LIMIT_MONITORS && ret->count < VD_IPC_MAX_DISPLAYS; d++) {
        int idx = output_for_display(r, d, names, res->noutput);
        if (idx < 0)
            continue;
        XRROutputInfo *oi = XRRGetOutputInfo(r->dpy, res, res->outputs[idx]);
        if (oi && oi->crtc) {
            XRRCrtcInfo *ci = XRRGetCrtcInfo(r->dpy, res, oi->crtc);
            if (ci && ci->mode != None) {
                VdDisplayRect *rect = &ret->displays[ret->count++];
                rect->display_id = d;
                rect->x = ci->x;
                rect->y = ci->y;
                crtc_size(ci, &rect->width, &rect->height);
            }
            if (ci)
                XRRFreeCrtcInfo(ci);
        }
        if (oi)
            XRRFreeOutputInfo(oi);
    }
    XRRFreeScreenResources(res);
}

/* --- applying --- */

typedef struct {
    bool enabled;
    unsigned display_id;
    unsigned width, height;
    int x, y;
    RRMode mode;
    RRCrtc crtc;
    RROutput output;
    XRROutputInfo *info;
} Target;

static const XRRModeInfo *find_mode_info(const XRRScreenResources *res, RRMode id)
{
    for (int i = 0; i < res->nmode; i++)
        if (res->modes[i].id == id)
            return &res->modes[i];
    return NULL;
}

/* A mode of exactly width x height: the output's own (in its order of preference), else one of
 * ours already known to the server (added to the output), else a new CVT mode of ours. */
typedef struct {
    unsigned width, height;
    RRMode mode;
} NewMode;

/* created: the modes made earlier in this apply (res does not list them). */
static RRMode mode_for(VdRandr *r, XRRScreenResources *res, RROutput output, const XRROutputInfo *oi,
                       unsigned width, unsigned height, NewMode *created, unsigned *n_created)
{
    for (int i = 0; i < oi->nmode; i++) {
        const XRRModeInfo *mi = find_mode_info(res, oi->modes[i]);
        if (mi && mi->width == width && mi->height == height && !(mi->modeFlags & RR_Interlace))
            return mi->id;
    }

    char name[64];
    snprintf(name, sizeof(name), VD_RANDR_MODE_PREFIX "%ux%u", width, height);
    RRMode mode = None;
    for (int i = 0; i < res->nmode; i++)
        if (strcmp(res->modes[i].name, name) == 0 && res->modes[i].width == width && res->modes[i].height == height)
            mode = res->modes[i].id;
    for (unsigned i = 0; i < *n_created && mode == None; i++)
        if (created[i].width == width && created[i].height == height)
            mode = created[i].mode;
    if (mode == None) {
        VdCvtTimings t;
        if (vd_cvt_timings(width, height, VD_RANDR_REFRESH_HZ, &t) < 0) {
            g_warning("randr: no CVT mode for %ux%u; not applied", width, height);
            return None;
        }
        XRRModeInfo mi = {
            .width = width,
            .height = height,
            .dotClock = t.dot_clock,
            .hSyncStart = t.hsync_start,
            .hSyncEnd = t.hsync_end,
            .hTotal = t.htotal,
            .vSyncStart = t.vsync_start,
            .vSyncEnd = t.vsync_end,
            .vTotal = t.vtotal,
            .name = name,
            .nameLength = (unsigned)strlen(name),
            .modeFlags = (t.hsync_negative ? RR_HSyncNegative : RR_HSyncPositive) |
                         (t.vsync_positive ? RR_VSyncPositive : RR_VSyncNegative),
        };
        mode = XRRCreateMode(r->dpy, r->root, &mi);
        g_debug("randr: created mode \"%s\" (0x%lx)", name, mode);
        if (mode != None && *n_created < VD_LIMIT_MONITORS)
            created[(*n_created)++] = (NewMode){ width, height, mode };
    }
    if (mode != None)
        XRRAddOutputMode(r->dpy, output, mode);
    return mode;
}

/* Removes modes of ours that no CRTC uses any more. */
static void remove_stale_modes(VdRandr *r)
{
    XRRScreenResources *res = XRRGetScreenResourcesCurrent(r->dpy, r->root);

    if (!res)
        return;
    for (int m = 0; m < res->nmode; m++) {
        const XRRModeInfo *mi = &res->modes[m];
        if (strncmp(mi->name, VD_RANDR_MODE_PREFIX, strlen(VD_RANDR_MODE_PREFIX)) != 0)
            continue;
        bool used = false;
        for (int c = 0; c < res->ncrtc && !used; c++) {
            XRRCrtcInfo *ci = XRRGetCrtcInfo(r->dpy, res, res->crtcs[c]);
            used = ci && ci->mode == mi->id;
            if (ci)
                XRRFreeCrtcInfo(ci);
        }
        if (used)
            continue;
        for (int o = 0; o < res->noutput; o++) {
            XRROutputInfo *oi = XRRGetOutputInfo(r->dpy, res, res->outputs[o]);
            for (int k = 0; oi && k < oi->nmode; k++)
                if (oi->modes[k] == mi->id)
                    XRRDeleteOutputMode(r->dpy, res->outputs[o], mi->id);
            if (oi)
                XRRFreeOutputInfo(oi);
        }
        XRRDestroyMode(r->dpy, mi->id);
        g_debug("randr: removed unused mode \"%s\"", mi->name);
    }
    XRRFreeScreenResources(res);
}

static bool crtc_in_list(RRCrtc crtc, const RRCrtc *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] == crtc)
            return true;
    return false;
}

/* Lays the enabled monitors out: their own positions (USE_POS, shifted so the top-left one is at
 * 0,0), or left to right in display id order. Returns the bounding box. */
static void place_monitors(const VdMonitorsConfig *c, int *xs, int *ys, unsigned *ret_w, unsigned *ret_h)
{
    bool use_pos = c->flags & VD_MONITORS_USE_POS;
    int64_t min_x = INT64_MAX, min_y = INT64_MAX, next_x = 0;
    int64_t max_x = 0, max_y = 0;

    for (uint32_t i = 0; i < c->count; i++) {
        if (!vd_monitor_enabled(&c->monitors[i]))
            continue;
        if (use_pos) {
            min_x = MIN(min_x, c->monitors[i].x);
            min_y = MIN(min_y, c->monitors[i].y);
        }
    }
    for (uint32_t i = 0; i < c->count; i++) {
        const VdMonitor *m = &c->monitors[i];
        if (!vd_monitor_enabled(m))
            continue;
        if (use_pos) {
            xs[i] = (int)(m->x - min_x);
            ys[i] = (int)(m->y - min_y);
        } else {
            xs[i] = (int)next_x;
            ys[i] = 0;
            next_x += m->width;
        }
        max_x = MAX(max_x, (int64_t)xs[i] + m->width);
        max_y = MAX(max_y, (int64_t)ys[i] + m->height);
    }
    *ret_w = (unsigned)MIN(max_x, (int64_t)UINT32_MAX);
    *ret_h = (unsigned)MIN(max_y, (int64_t)UINT32_MAX);
}

static int check_config(const VdMonitorsConfig *c, const char **reason)
{
    unsigned enabled = 0;

    if (c->count > VD_LIMIT_MONITORS) {
        *reason = "too many monitors";
        return -EINVAL;
    }
    for (uint32_t i = 0; i < c->count; i++) {
        const VdMonitor *m = &c->monitors[i];
        if (!vd_monitor_enabled(m))
            continue;
        enabled++;
        if (m->width > VD_RANDR_MAX_MONITOR_SIDE || m->height > VD_RANDR_MAX_MONITOR_SIDE) {
            *reason = "a monitor is larger than " G_STRINGIFY(VD_RANDR_MAX_MONITOR_SIDE) " pixels";
            return -EINVAL;
        }
        if ((c->flags & VD_MONITORS_USE_POS) &&
            (m->x < -VD_RANDR_MAX_POS || m->x > VD_RANDR_MAX_POS || m->y < -VD_RANDR_MAX_POS || m->y > VD_RANDR_MAX_POS)) {
            *reason = "a monitor position is out of range";
            return -EINVAL;
        }
    }
    if (enabled == 0) {
        *reason = "no monitor is enabled";
        return -EINVAL;
    }
    return 0;
}

/* The screen's size in millimetres: from the host's physical size of the first monitor that has
 * one (RandR has no way to set an output's size, only the screen's), else VD_RANDR_DEFAULT_DPI. */
static void screen_mm(const VdMonitorsConfig *c, unsigned w, unsigned h, int *mm_w, int *mm_h)
{
    double px_per_mm_x = VD_RANDR_DEFAULT_DPI / 25.4, px_per_mm_y = VD_RANDR_DEFAULT_DPI / 25.4;

    if (c->flags & VD_MONITORS_PHYSICAL_SIZE) {
        for (uint32_t i = 0; i < c->count; i++) {
            const VdMonitor *m = &c->monitors[i];
            if (vd_monitor_enabled(m) && m->mm_width > 0 && m->mm_height > 0) {
                px_per_mm_x = (double)m->width / m->mm_width;
                px_per_mm_y = (double)m->height / m->mm_height;
                break;
            }
        }
    }
    *mm_w = MAX(1, (int)lround(w / px_per_mm_x));
    *mm_h = MAX(1, (int)lround(h / px_per_mm_y));
}

int vd_randr_apply(VdRandr *r, const VdMonitorsConfig *c)
{
    g_return_val_if_fail(r && c, -EINVAL);
    const char *reason = NULL;
    int ret = check_config(c, &reason);

    if (ret < 0) {
        g_message("randr: monitors config refused: %s", reason);
        return ret;
    }

    int xs[VD_LIMIT_MONITORS] = { 0 }, ys[VD_LIMIT_MONITORS] = { 0 };
    unsigned want_w, want_h;
    place_monitors(c, xs, ys, &want_w, &want_h);

    int min_w, min_h, max_w, max_h;
    if (!XRRGetScreenSizeRange(r->dpy, r->root, &min_w, &min_h, &max_w, &max_h)) {
        g_message("randr: cannot read the screen size range");
        return -EIO;
    }
    if (want_w > (unsigned)max_w || want_h > (unsigned)max_h) {
        g_message("randr: monitors config refused: %ux%u is larger than the screen may be (%dx%d)", want_w, want_h,
                  max_w, max_h);
        return -E2BIG;
    }

    XRRScreenResources *res = XRRGetScreenResourcesCurrent(r->dpy, r->root);
    if (!res)
        return -EIO;
    int n = res->noutput;
    g_auto(GStrv) names = output_names(r, res);
    Target *targets = g_new0(Target, MAX(n, 1));
    for (int o = 0; o < n; o++) {
        targets[o].output = res->outputs[o];
        targets[o].info = XRRGetOutputInfo(r->dpy, res, res->outputs[o]);
    }

    /* What goes where. Displays beyond our outputs are reported as an error, the rest applied. */
    unsigned screen_w = 0, screen_h = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        const VdMonitor *m = &c->monitors[i];
        if (!vd_monitor_enabled(m))
            continue;
        int o = output_for_display(r, i, names, n);
        if (o < 0 || !targets[o].info || targets[o].enabled) {
            g_message("randr: display %u (%ux%u) has no output to show it on: ignored", i, m->width, m->height);
            ret = -ENXIO;
            continue;
        }
        targets[o] = (Target){
            .enabled = true,
            .display_id = i,
            .width = m->width,
            .height = m->height,
            .x = xs[i],
            .y = ys[i],
            .output = targets[o].output,
            .info = targets[o].info,
        };
        screen_w = MAX(screen_w, (unsigned)xs[i] + m->width);
        screen_h = MAX(screen_h, (unsigned)ys[i] + m->height);
    }
    if (screen_w == 0) {
        /* Nothing can be shown: leave the screen as it is rather than turn everything off. */
        ret = -ENXIO;
        goto out;
    }
    screen_w = MAX(screen_w, (unsigned)min_w);
    screen_h = MAX(screen_h, (unsigned)min_h);

    XGrabServer(r->dpy);
    XErrorHandlerFn old = trap_push(r->dpy);

    /* Modes, and a CRTC for each enabled output: its current one, else a free one it can use. */
    RRCrtc *used = g_new0(RRCrtc, MAX(res->ncrtc, 1));
    int n_used = 0;
    NewMode created[VD_LIMIT_MONITORS];
    unsigned n_created = 0;
    for (int o = 0; o < n; o++) {
        Target *t = &targets[o];
        if (!t->enabled)
            continue;
        t->mode = mode_for(r, res, res->outputs[o], t->info, t->width, t->height, created, &n_created);
        if (t->info->crtc) {
            t->crtc = t->info->crtc;
            used[n_used++] = t->crtc;
        }
    }
    for (int o = 0; o < n; o++) {
        Target *t = &targets[o];
        if (!t->enabled || t->crtc)
            continue;
        for (int k = 0; k < t->info->ncrtc; k++) {
            if (!crtc_in_list(t->info->crtcs[k], used, n_used)) {
                t->crtc = t->info->crtcs[k];
                used[n_used++] = t->crtc;
                break;
            }
        }
        if (!t->crtc) {
            g_message("randr: no free CRTC for output \"%s\" (display %u): ignored", t->info->name, t->display_id);
            t->enabled = false;
            ret = -ENXIO;
        }
    }

    /* Turn off every CRTC that changes (or goes), so that none lies outside the screen while it
     * is resized; then size the screen; then turn the new ones on. */
    for (int k = 0; k < res->ncrtc; k++) {
        XRRCrtcInfo *ci = XRRGetCrtcInfo(r->dpy, res, res->crtcs[k]);
        if (!ci)
            continue;
        if (ci->mode != None) {
            const Target *t = NULL;
            for (int o = 0; o < n && !t; o++)
                if (targets[o].enabled && targets[o].crtc == res->crtcs[k])
                    t = &targets[o];
            bool same = t && ci->mode == t->mode && ci->x == t->x && ci->y == t->y && ci->rotation == RR_Rotate_0 &&
                        ci->noutput == 1 && ci->outputs[0] == t->output &&
                        (unsigned)(ci->x + (int)ci->width) <= screen_w && (unsigned)(ci->y + (int)ci->height) <= screen_h;
            if (!same)
                XRRSetCrtcConfig(r->dpy, res, res->crtcs[k], CurrentTime, 0, 0, None, RR_Rotate_0, NULL, 0);
        }
        XRRFreeCrtcInfo(ci);
    }

    unsigned cur_w, cur_h;
    screen_size(r, &cur_w, &cur_h);
    if (cur_w != screen_w || cur_h != screen_h) {
        int mm_w, mm_h;
        screen_mm(c, screen_w, screen_h, &mm_w, &mm_h);
        XRRSetScreenSize(r->dpy, r->root, (int)screen_w, (int)screen_h, mm_w, mm_h);
        g_debug("randr: screen %ux%u (%dx%d mm)", screen_w, screen_h, mm_w, mm_h);
    }

    for (int o = 0; o < n; o++) {
        Target *t = &targets[o];
        if (!t->enabled)
            continue;
        Status s = XRRSetCrtcConfig(r->dpy, res, t->crtc, CurrentTime, t->x, t->y, t->mode, RR_Rotate_0, &t->output, 1);
        if (s != RRSetConfigSuccess) {
            g_message("randr: setting %ux%u+%d+%d on output \"%s\" failed (status %d)", t->width, t->height, t->x,
                      t->y, t->info->name, s);
            ret = -EIO;
        } else {
            g_debug("randr: display %u on \"%s\": %ux%u+%d+%d", t->display_id, t->info->name, t->width, t->height,
                    t->x, t->y);
        }
    }
    g_free(used);

    if (trap_pop(r->dpy, old) > 0 && ret == 0)
        ret = -EIO;
    XUngrabServer(r->dpy);

    old = trap_push(r->dpy);
    remove_stale_modes(r);
    trap_pop(r->dpy, old);

out:
    for (int o = 0; o < n; o++)
        if (targets[o].info)
            XRRFreeOutputInfo(targets[o].info);
    g_free(targets);
    XRRFreeScreenResources(res);
    XFlush(r->dpy);
    return ret;
}

/* --- lifecycle --- */

VdRandr *vd_randr_new(Display *dpy, GError **error)
{
    g_return_val_if_fail(dpy, NULL);
    int event_base, error_base, major = 0, minor = 0;

    if (!XRRQueryExtension(dpy, &event_base, &error_base) || !XRRQueryVersion(dpy, &major, &minor) ||
        major < 1 || (major == 1 && minor < 3)) {
        g_set_error(error, vd_randr_error_quark(), 0, "the X server has no XRandR 1.3 (has %d.%d)", major, minor);
        return NULL;
    }

    VdRandr *r = g_new0(VdRandr, 1);
    r->dpy = dpy;
    r->root = DefaultRootWindow(dpy);
    r->event_base = event_base;
    r->error_base = error_base;
    XRRSelectInput(dpy, r->root, RRScreenChangeNotifyMask | RRCrtcChangeNotifyMask | RROutputChangeNotifyMask);
    /* One full probe at start so the resources are current; later reads use the cheap variant. */
    XRRScreenResources *res = XRRGetScreenResources(dpy, r->root);
    if (res)
        XRRFreeScreenResources(res);
    g_debug("randr: XRandR %d.%d", major, minor);
    return r;
}

void vd_randr_free(VdRandr *r)
{
    g_free(r);
}

bool vd_randr_handle_event(VdRandr *r, XEvent *event)
{
    g_return_val_if_fail(r && event, false);
    if (event->type == r->event_base + RRScreenChangeNotify || event->type == r->event_base + RRNotify) {
        XRRUpdateConfiguration(event);
        return true;
    }
    return false;
}
