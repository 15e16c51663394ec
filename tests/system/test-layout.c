/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-layout.c — the pointer mapping lands every host pixel on exactly that guest pixel.
 *
 * For each layout, every pixel of every display is mapped to an axis value, and the value is put
 * through the reader's formula (X's evdev, libinput: pixel = value * width / (max + 1), rounded
 * down); the result must be the desktop pixel the host meant. */
#include <glib.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "layout.h"

static uint32_t reader_pixel(uint32_t value, uint32_t size)
{
    return (uint32_t)((uint64_t)value * size / (VD_AXIS_MAX + 1u));
}

/* Checks all pixels of all displays of map; returns the number checked. */
static uint64_t check_all(const VdLayoutMap *map)
{
    uint64_t n = 0;
    for (uint32_t id = 0; id < VD_IPC_MAX_DISPLAYS; id++) {
        const VdLayoutRect *r = &map->displays[id];
        if (!r->present)
            continue;
        /* x and y are independent: checking each column and each row covers every pixel. */
        for (uint32_t x = 0; x < r->width; x++) {
            uint32_t ax, ay;
            g_assert_cmpint(vd_layout_map_pointer(map, id, x, 0, &ax, &ay), ==, 0);
            g_assert_cmpuint(ax, <=, VD_AXIS_MAX);
            g_assert_cmpint((int64_t)reader_pixel(ax, map->width), ==, (int64_t)r->x - map->origin_x + x);
            n++;
        }
        for (uint32_t y = 0; y < r->height; y++) {
            uint32_t ax, ay;
            g_assert_cmpint(vd_layout_map_pointer(map, id, 0, y, &ax, &ay), ==, 0);
            g_assert_cmpuint(ay, <=, VD_AXIS_MAX);
            g_assert_cmpint((int64_t)reader_pixel(ay, map->height), ==, (int64_t)r->y - map->origin_y + y);
            n++;
        }
    }
    return n;
}

static void test_single(gconstpointer data)
{
    const uint32_t *wh = data;
    VdLayoutMap map;
    vd_layout_map_single(&map, VD_LAYOUT_SOURCE_KERNEL, wh[0], wh[1]);
    g_assert_cmpuint(check_all(&map), ==, wh[0] + wh[1]);
}

static void add_monitor(VdMonitorsConfig *c, uint32_t w, uint32_t h, int32_t x, int32_t y)
{
    c->monitors[c->count++] = (VdMonitor){ .width = w, .height = h, .x = x, .y = y, .depth = 32 };
}

static void test_two_side_by_side(void)
{
    VdMonitorsConfig c = { .flags = VD_MONITORS_USE_POS };
    add_monitor(&c, 1920, 1080, 0, 0);
    add_monitor(&c, 1280, 1024, 1920, 0);
    VdLayoutMap map;
    g_assert_cmpint(vd_layout_map_from_monitors(&map, &c), ==, 0);
    g_assert_cmpuint(map.width, ==, 3200);
    g_assert_cmpuint(map.height, ==, 1080);
    check_all(&map);
    /* Past the edge of display 1 clamps onto its last pixel, not onto display 0. */
    uint32_t ax, ay;
    g_assert_cmpint(vd_layout_map_pointer(&map, 1, 5000, 5000, &ax, &ay), ==, 0);
    g_assert_cmpuint(reader_pixel(ax, map.width), ==, 3199);
    g_assert_cmpuint(reader_pixel(ay, map.height), ==, 1023);
    g_assert_cmpint(vd_layout_map_pointer(&map, 2, 0, 0, &ax, &ay), ==, -ENOENT);
}

static void test_four_without_positions(void)
{
    /* No USE_POS: side by side in index order; a disabled (sparse) entry in between. */
    VdMonitorsConfig c = { 0 };
    add_monitor(&c, 1024, 768, 0, 0);
    add_monitor(&c, 0, 0, 0, 0);
    add_monitor(&c, 1366, 768, 0, 0);
    add_monitor(&c, 800, 600, 0, 0);
    add_monitor(&c, 1023, 767, 0, 0);
    VdLayoutMap map;
    g_assert_cmpint(vd_layout_map_from_monitors(&map, &c), ==, 0);
    g_assert_cmpuint(map.width, ==, 1024 + 1366 + 800 + 1023);
    g_assert_false(map.displays[1].present);
    check_all(&map);
}

static void test_grid_negative_origin(void)
{
    /* 2x2 grid of odd sizes with a negative origin (a monitor left of the primary). */
    VdMonitorsConfig c = { .flags = VD_MONITORS_USE_POS };
    add_monitor(&c, 1917, 1079, 0, 0);
    add_monitor(&c, 1001, 1079, -1001, 0);
    add_monitor(&c, 1917, 777, 0, 1079);
    add_monitor(&c, 1001, 777, -1001, 1079);
    VdLayoutMap map;
    g_assert_cmpint(vd_layout_map_from_monitors(&map, &c), ==, 0);
    g_assert_cmpint(map.origin_x, ==, -1001);
    g_assert_cmpuint(map.width, ==, 2918);
    g_assert_cmpuint(map.height, ==, 1856);
    check_all(&map);
}

static void test_agent_layout(void)
{
    /* The agent's X screen is larger than the displays: the axis spans the screen. */
    VdLayout l = { .screen_width = 4000, .screen_height = 2200, .count = 2 };
    l.displays[0] = (VdDisplayRect){ .display_id = 0, .x = 0, .y = 0, .width = 1920, .height = 1080 };
    l.displays[1] = (VdDisplayRect){ .display_id = 1, .x = 1920, .y = 100, .width = 2080, .height = 2100 };
    VdLayoutMap map;
    g_assert_cmpint(vd_layout_map_from_agent(&map, &l), ==, 0);
    g_assert_cmpuint(map.width, ==, 4000);
    check_all(&map);
}

static void test_widest_exact(void)
{
    /* The widest desktop the fixed axis still maps exactly: max + 1 pixels. */
    VdLayoutMap map;
    vd_layout_map_single(&map, VD_LAYOUT_SOURCE_HOST, VD_AXIS_MAX + 1u, 1);
    check_all(&map);
}

static void test_bad_configs(void)
{
    VdMonitorsConfig c = { 0 };
    add_monitor(&c, 0, 0, 0, 0);
    VdLayoutMap map;
    vd_layout_map_single(&map, VD_LAYOUT_SOURCE_DEFAULT, 0, 0);
    g_assert_cmpint(vd_layout_map_from_monitors(&map, &c), ==, -EINVAL);
    g_assert_cmpuint(map.width, ==, VD_LAYOUT_DEFAULT_WIDTH); /* untouched */
    VdLayout l = { .count = 1 };
    l.displays[0] = (VdDisplayRect){ .display_id = 40, .width = 10, .height = 10 };
    g_assert_cmpint(vd_layout_map_from_agent(&map, &l), ==, -EINVAL);
    g_assert_cmpuint(vd_layout_axis_value(-5, 100), ==, 0);
    g_assert_cmpuint(vd_layout_axis_value(500, 100), ==, vd_layout_axis_value(99, 100));
}

static void test_kernel_size(void)
{
    g_autofree char *root = g_dir_make_tmp("vd-sysfs-XXXXXX", NULL);
    g_autofree char *fbdir = g_build_filename(root, "class", "graphics", "fb0", NULL);
    g_autofree char *drmdir = g_build_filename(root, "class", "drm", "card0-Virtual-1", NULL);
    uint32_t w = 0, h = 0;
    g_assert_cmpint(vd_layout_kernel_size(root, &w, &h), ==, -ENOENT);
    g_assert_cmpint(g_mkdir_with_parents(fbdir, 0700), ==, 0);
    g_autofree char *vs = g_build_filename(fbdir, "virtual_size", NULL);
    g_assert_true(g_file_set_contents(vs, "1280,800\n", -1, NULL));
    g_assert_cmpint(vd_layout_kernel_size(root, &w, &h), ==, 0);
    g_assert_cmpuint(w, ==, 1280);
    g_assert_cmpuint(h, ==, 800);
    /* A connected DRM connector wins over fbdev. */
    g_assert_cmpint(g_mkdir_with_parents(drmdir, 0700), ==, 0);
    g_autofree char *st = g_build_filename(drmdir, "status", NULL);
    g_autofree char *modes = g_build_filename(drmdir, "modes", NULL);
    g_assert_true(g_file_set_contents(st, "connected\n", -1, NULL));
    g_assert_true(g_file_set_contents(modes, "1920x1200\n1024x768\n", -1, NULL));
    g_assert_cmpint(vd_layout_kernel_size(root, &w, &h), ==, 0);
    g_assert_cmpuint(w, ==, 1920);
    g_assert_cmpuint(h, ==, 1200);
    g_assert_cmpint(remove(st), ==, 0);
    g_assert_cmpint(remove(modes), ==, 0);
    g_assert_cmpint(remove(drmdir), ==, 0);
    g_assert_cmpint(remove(vs), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    static const uint32_t sizes[][2] = {
        { 1024, 768 }, { 1920, 1080 }, { 3840, 2160 }, { 1366, 768 }, { 641, 479 }, { 1, 1 }, { 7680, 4320 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *name = g_strdup_printf("/layout/single/%ux%u", sizes[i][0], sizes[i][1]);
        g_test_add_data_func(name, sizes[i], test_single);
    }
    g_test_add_func("/layout/two-side-by-side", test_two_side_by_side);
    g_test_add_func("/layout/four-without-positions", test_four_without_positions);
    g_test_add_func("/layout/grid-negative-origin", test_grid_negative_origin);
    g_test_add_func("/layout/agent", test_agent_layout);
    g_test_add_func("/layout/widest-exact", test_widest_exact);
    g_test_add_func("/layout/bad-configs", test_bad_configs);
    g_test_add_func("/layout/kernel-size", test_kernel_size);
    return g_test_run();
}
