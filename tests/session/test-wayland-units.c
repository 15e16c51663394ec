/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-wayland-units.c — the Wayland backend's pure parts: the backend choice (backend.c), output
 * name order and the layout report's coordinate space under scaling (wayland-layout.c). */
#include <string.h>

#include "backend.h"
#include "wayland-private.h"

static void test_backend_choice(void)
{
    /* --display wins: a colon means X11 */
    g_assert_cmpint(vd_backend_choose(":1", "wayland-0", "wayland", ":0"), ==, VD_BACKEND_X11);
    g_assert_cmpint(vd_backend_choose("host:0.0", NULL, NULL, NULL), ==, VD_BACKEND_X11);
    g_assert_cmpint(vd_backend_choose("wayland-1", NULL, "x11", ":0"), ==, VD_BACKEND_WAYLAND);
    g_assert_cmpint(vd_backend_choose("/run/user/1000/wayland-1", NULL, NULL, ":0"), ==, VD_BACKEND_WAYLAND);
    /* then WAYLAND_DISPLAY (GNOME sets both it and DISPLAY) */
    g_assert_cmpint(vd_backend_choose(NULL, "wayland-0", "wayland", ":0"), ==, VD_BACKEND_WAYLAND);
    g_assert_cmpint(vd_backend_choose(NULL, "wayland-0", NULL, NULL), ==, VD_BACKEND_WAYLAND);
    g_assert_cmpint(vd_backend_choose("", "wayland-0", NULL, NULL), ==, VD_BACKEND_WAYLAND);
    /* then XDG_SESSION_TYPE */
    g_assert_cmpint(vd_backend_choose(NULL, "", "wayland", ":0"), ==, VD_BACKEND_WAYLAND);
    g_assert_cmpint(vd_backend_choose(NULL, NULL, "x11", ":0"), ==, VD_BACKEND_X11);
    g_assert_cmpint(vd_backend_choose(NULL, NULL, "tty", NULL), ==, VD_BACKEND_X11);
    g_assert_cmpint(vd_backend_choose(NULL, NULL, NULL, NULL), ==, VD_BACKEND_X11);
}

static void test_name_order(void)
{
    g_assert_cmpint(vd_wl_output_name_cmp("HEADLESS-2", "HEADLESS-10"), <, 0);
    g_assert_cmpint(vd_wl_output_name_cmp("HEADLESS-10", "HEADLESS-2"), >, 0);
    g_assert_cmpint(vd_wl_output_name_cmp("Virtual-1", "Virtual-1"), ==, 0);
    g_assert_cmpint(vd_wl_output_name_cmp("DP-1", "HDMI-A-1"), <, 0);
    g_assert_cmpint(vd_wl_output_name_cmp("Meta-0", "Meta-0-1"), <, 0);
    g_assert_cmpint(vd_wl_output_name_cmp("", "A"), <, 0);
    g_assert_cmpint(vd_wl_output_name_cmp("Virtual-007", "Virtual-7"), ==, 0);
}

static VdWlOutputInfo out(const char *name, int x, int y, int w, int h, int mw, int mh)
{
    VdWlOutputInfo o = { .enabled = true, .x = x, .y = y, .width = w, .height = h, .mode_width = mw,
                         .mode_height = mh, .scale = 1 };
    g_strlcpy(o.name, name, sizeof(o.name));
    return o;
}

static void check_rect(const VdLayout *l, unsigned i, uint32_t id, int x, int y, unsigned w, unsigned h)
{
    g_assert_cmpuint(i, <, l->count);
    g_assert_cmpuint(l->displays[i].display_id, ==, id);
    g_assert_cmpint(l->displays[i].x, ==, x);
    g_assert_cmpint(l->displays[i].y, ==, y);
    g_assert_cmpuint(l->displays[i].width, ==, w);
    g_assert_cmpuint(l->displays[i].height, ==, h);
}

static void test_layout_scale(void)
{
    VdLayout l;
    /* scale 1 */
    VdWlOutputInfo one[] = { out("A", 0, 0, 1280, 800, 1280, 800) };
    g_assert_cmpuint(vd_wl_layout_compute(one, 1, NULL, 0, &l), ==, 120);
    check_rect(&l, 0, 0, 0, 0, 1280, 800);
    g_assert_cmpuint(l.screen_width, ==, 1280);
    /* scale 2 on both: rectangles are the modes, positions logical x 2 */
    VdWlOutputInfo two[] = { out("A", 0, 0, 1280, 800, 2560, 1600), out("B", 1280, 0, 960, 540, 1920, 1080) };
    g_assert_cmpuint(vd_wl_layout_compute(two, 2, NULL, 0, &l), ==, 240);
    check_rect(&l, 0, 0, 0, 0, 2560, 1600);
    check_rect(&l, 1, 1, 2560, 0, 1920, 1080);
    g_assert_cmpuint(l.screen_width, ==, 4480);
    g_assert_cmpuint(l.screen_height, ==, 1600);
    /* fractional 1.5: 2880x1800 shown as 1920x1200 logical */
    VdWlOutputInfo frac[] = { out("A", 0, 0, 1920, 1200, 2880, 1800) };
    g_assert_cmpuint(vd_wl_layout_compute(frac, 1, NULL, 0, &l), ==, 180);
    check_rect(&l, 0, 0, 0, 0, 2880, 1800);
    /* mixed scales: the largest wins; the scale-1 output is stretched (documented) */
    VdWlOutputInfo mixed[] = { out("A", 0, 0, 1280, 800, 2560, 1600), out("B", 1280, 0, 1024, 768, 1024, 768) };
    g_assert_cmpuint(vd_wl_layout_compute(mixed, 2, NULL, 0, &l), ==, 240);
    check_rect(&l, 1, 1, 2560, 0, 2048, 1536);
    /* negative positions: shifted so the box starts at 0,0 */
    VdWlOutputInfo neg[] = { out("A", 0, 0, 1024, 768, 1024, 768), out("B", -800, -600, 800, 600, 800, 600) };
    g_assert_cmpuint(vd_wl_layout_compute(neg, 2, NULL, 0, &l), ==, 120);
    check_rect(&l, 0, 0, 800, 600, 1024, 768);
    check_rect(&l, 1, 1, 0, 0, 800, 600);
    g_assert_cmpuint(l.screen_width, ==, 1824);
    g_assert_cmpuint(l.screen_height, ==, 1368);
}

static void test_layout_map(void)
{
    VdLayout l;
    VdWlOutputInfo o[] = { out("A", 0, 0, 1024, 768, 1024, 768), out("B", 1024, 0, 800, 600, 800, 600),
                           out("C", 1824, 0, 640, 480, 640, 480) };
    /* display 0 -> B, display 1 -> nothing, display 2 -> A; C is in no display but in the box */
    int map[] = { 1, -1, 0 };
    g_assert_cmpuint(vd_wl_layout_compute(o, 3, map, 3, &l), ==, 120);
    g_assert_cmpuint(l.count, ==, 2);
    check_rect(&l, 0, 0, 1024, 0, 800, 600);
    check_rect(&l, 1, 2, 0, 0, 1024, 768);
    g_assert_cmpuint(l.screen_width, ==, 2464);
    /* an output without its logical geometry yet counts nowhere; none at all: nothing to report */
    o[0].enabled = o[1].enabled = o[2].enabled = false;
    g_assert_cmpuint(vd_wl_layout_compute(o, 3, NULL, 0, &l), ==, 0);
    g_assert_cmpuint(l.count, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/wayland/backend-choice", test_backend_choice);
    g_test_add_func("/wayland/name-order", test_name_order);
    g_test_add_func("/wayland/layout-scale", test_layout_scale);
    g_test_add_func("/wayland/layout-map", test_layout_map);
    return g_test_run();
}
