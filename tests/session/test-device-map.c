/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of device-map.c: GRAPHICS_DEVICE_INFO as spice-server sends it, resolved against a
 * sysfs tree of the real shape (class/drm/cardN -> devices/pci…; cardN-CONNECTOR with connector_id),
 * and the output-order fallbacks. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "device-map.h"
#include "vd-messages.h"

/* A sysfs root: card0 is virtio-gpu at 0000:00:02.0 (its device link is the virtio device under the
 * PCI function), with Virtual-1 and Virtual-2 and, to prove the order is the connector id's and not
 * the name's, Virtual-10 between them; card1 sits behind a bridge at 00:1e.0, slot 01.0 of bus 01,
 * with HDMI-A-1 and DP-1. */
typedef struct {
    char *root;
} Sysfs;

static void mk(const char *root, const char *rel)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);
    g_assert_cmpint(g_mkdir_with_parents(p, 0755), ==, 0);
}

static void connector(const char *root, const char *name, const char *id)
{
    g_autofree char *dir = g_build_filename("class/drm", name, NULL);
    mk(root, dir);
    g_autofree char *f = g_build_filename(root, dir, "connector_id", NULL);
    g_assert_true(g_file_set_contents(f, id, -1, NULL));
}

static void card(const char *root, const char *name, const char *device)
{
    g_autofree char *dir = g_build_filename("class/drm", name, NULL);
    mk(root, dir);
    mk(root, device);
    g_autofree char *link = g_build_filename(root, dir, "device", NULL);
    g_autofree char *target = g_build_filename(root, device, NULL);
    g_assert_cmpint(symlink(target, link), ==, 0);
}

static void sysfs_setup(Sysfs *s, gconstpointer data)
{
    s->root = g_dir_make_tmp("vd-sysfs-XXXXXX", NULL);
    g_assert_nonnull(s->root);
    card(s->root, "card0", "devices/pci0000:00/0000:00:02.0/virtio1");
    connector(s->root, "card0-Virtual-1", "36\n");
    connector(s->root, "card0-Virtual-10", "38\n");
    connector(s->root, "card0-Virtual-2", "40\n");
    card(s->root, "card1", "devices/pci0000:00/0000:00:1e.0/0000:01:01.0");
    connector(s->root, "card1-HDMI-A-1", "50\n");
    connector(s->root, "card1-DP-1", "55\n");
    mk(s->root, "class/drm/renderD128");
}

static void sysfs_teardown(Sysfs *s, gconstpointer data)
{
    g_autofree char *argv0 = g_find_program_in_path("rm");
    char *argv[] = { argv0, (char *)"-rf", s->root, NULL };
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, NULL, NULL));
    g_free(s->root);
}

/* The payload spice-server's red_qxl_marshall_device_display_info() builds for QEMU's virtio-vga
 * with max_outputs=2: one QXL instance (= channel) per head, monitor 0 each, device display = the
 * head, and the address with its NUL counted in its length. */
static const uint8_t virtio_vga_two_heads[] = {
    0x02, 0x00, 0x00, 0x00,                         /* count 2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* channel 0, monitor 0 */
    0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, /* device display 0, address length 14 */
    'p', 'c', 'i', '/', '0', '0', '0', '0', '/', '0', '2', '.', '0', 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* channel 1, monitor 0 */
    0x01, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, /* device display 1 */
    'p', 'c', 'i', '/', '0', '0', '0', '0', '/', '0', '2', '.', '0', 0x00,
};

static void parse(const uint8_t *bytes, size_t len, VdGraphicsDeviceInfo *ret)
{
    const char *reason = NULL;
    int r = vd_parse_graphics_device_info(bytes, len, ret, &reason);
    g_assert_cmpint(r, ==, 0);
}

static void add(VdGraphicsDeviceInfo *g, uint32_t ch, uint32_t mon, uint32_t dd, const char *addr)
{
    VdDeviceDisplayInfo *e = &g->entries[g->count++];
    *e = (VdDeviceDisplayInfo){ .channel_id = ch, .monitor_id = mon, .device_display_id = dd };
    g_strlcpy(e->address, addr, sizeof(e->address));
}

static void test_pci_address(void)
{
    static const struct { const char *path, *want; } cases[] = {
        { "/sys/devices/pci0000:00/0000:00:02.0", "pci/0000/02.0" },
        { "/sys/devices/pci0000:00/0000:00:02.0/virtio1", "pci/0000/02.0" },
        { "/sys/devices/pci0000:00/0000:00:1e.0/0000:01:01.0/drm/card1", "pci/0000/1e.0/01.0" },
        { "/sys/devices/pci0001:10/0001:10:1f.7", "pci/0001/1f.7" },
        { "/sys/devices/platform/simple-framebuffer.0", NULL },
        { "/sys/devices/pci0000:00", NULL },
        { "", NULL },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = vd_device_map_pci_address(cases[i].path);
        g_assert_cmpstr(got, ==, cases[i].want);
    }
}

static void test_xorg_names(void)
{
    g_autofree char *hdmi = vd_device_map_xorg_name("HDMI-A-1");
    g_autofree char *virt = vd_device_map_xorg_name("Virtual-1");
    g_assert_cmpstr(hdmi, ==, "HDMI-1");
    g_assert_null(virt);
}

/* Real bytes, real shape: each head goes to its connector by name, whatever the backend's order. */
static void test_virtio_vga(Sysfs *s, gconstpointer data)
{
    VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);
    parse(virtio_vga_two_heads, sizeof(virtio_vga_two_heads), g);
    VdDeviceMap *m = vd_device_map_new(s->root);
    g_assert_true(vd_device_map_set_info(m, g));
    g_assert_false(vd_device_map_set_info(m, g)); /* the same again: no change */

    const char *backwards[] = { "Virtual-2", "Virtual-10", "Virtual-1" };
    bool by_info = false;
    g_assert_cmpint(vd_device_map_lookup(m, 0, backwards, 3, &by_info), ==, 2);
    g_assert_true(by_info);
    /* device display 1 is the second connector by id: Virtual-10 (id 38), not Virtual-2 (id 40) */
    g_assert_cmpint(vd_device_map_lookup(m, 1, backwards, 3, &by_info), ==, 1);
    g_assert_true(by_info);
    /* display 2: not in the info; its order position (2) was taken by display 0 */
    g_assert_cmpint(vd_device_map_lookup(m, 2, backwards, 3, &by_info), ==, -1);

    VdDeviceMapReport rep;
    vd_device_map_report(m, backwards, 3, &rep);
    g_assert_cmpuint(rep.count, ==, 2);
    g_assert_cmpstr(rep.entries[0].output, ==, "Virtual-1");
    g_assert_true(rep.entries[0].from_device_info);
    g_assert_cmpstr(rep.entries[1].output, ==, "Virtual-10");
    vd_device_map_free(m);
    g_free(g);
}

/* Two devices: a display of the bridged card found under the X modesetting driver's name. */
static void test_two_devices(Sysfs *s, gconstpointer data)
{
    VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);
    add(g, 0, 0, 0, "pci/0000/02.0");
    add(g, 1, 0, 0, "pci/0000/1e.0/01.0");
    add(g, 1, 1, 1, "pci/0000/1e.0/01.0");
    VdDeviceMap *m = vd_device_map_new(s->root);
    vd_device_map_set_info(m, g);
    const char *xorg[] = { "Virtual-1", "Virtual-10", "Virtual-2", "HDMI-1", "DP-1" };
    const char *wayland[] = { "DP-1", "HDMI-A-1", "Virtual-1" };
    g_assert_cmpint(vd_device_map_lookup(m, 0, xorg, 5, NULL), ==, 0);
    g_assert_cmpint(vd_device_map_lookup(m, 1, xorg, 5, NULL), ==, 3);
    g_assert_cmpint(vd_device_map_lookup(m, 2, xorg, 5, NULL), ==, 4);
    g_assert_cmpint(vd_device_map_lookup(m, 0, wayland, 3, NULL), ==, 2);
    g_assert_cmpint(vd_device_map_lookup(m, 1, wayland, 3, NULL), ==, 1);
    g_assert_cmpint(vd_device_map_lookup(m, 2, wayland, 3, NULL), ==, 0);
    vd_device_map_free(m);
    g_free(g);
}

/* No card at the address (Xvfb, the dummy driver, a container): a single device's display d is the
 * d-th output; with several devices nothing can be inferred, so the output order is kept. */
static void test_unresolved(Sysfs *s, gconstpointer data)
{
    const char *outs[] = { "DUMMY0", "DUMMY1", "DUMMY2", "DUMMY3" };
    VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);
    add(g, 0, 0, 3, "pci/0000/09.0");
    add(g, 0, 1, 0, "pci/0000/09.0");
    VdDeviceMap *m = vd_device_map_new(s->root);
    vd_device_map_set_info(m, g);
    bool by_info;
    g_assert_cmpint(vd_device_map_lookup(m, 0, outs, 4, &by_info), ==, 3);
    g_assert_true(by_info);
    g_assert_cmpint(vd_device_map_lookup(m, 1, outs, 4, NULL), ==, 0);
    g_assert_cmpint(vd_device_map_lookup(m, 2, outs, 4, NULL), ==, 2);
    g_assert_cmpint(vd_device_map_lookup(m, 3, outs, 4, NULL), ==, -1); /* display 0 has output 3 */

    g->count = 0;
    add(g, 0, 0, 1, "pci/0000/09.0");
    add(g, 1, 0, 0, "pci/0000/0a.0");
    vd_device_map_set_info(m, g);
    g_assert_cmpint(vd_device_map_lookup(m, 0, outs, 4, &by_info), ==, 0);
    g_assert_false(by_info);
    g_assert_cmpint(vd_device_map_lookup(m, 1, outs, 4, &by_info), ==, 1);
    g_assert_false(by_info);

    /* An empty info restores the order. */
    g->count = 0;
    g_assert_true(vd_device_map_set_info(m, g));
    g_assert_false(vd_device_map_has_info(m));
    g_assert_cmpint(vd_device_map_lookup(m, 3, outs, 4, NULL), ==, 3);
    vd_device_map_free(m);
    g_free(g);
}

/* Limits: display ids and device displays at VD_LIMIT_MONITORS are ignored; a device display past
 * the card's connectors falls back like an unresolved one. */
static void test_limits(Sysfs *s, gconstpointer data)
{
    const char *outs[] = { "Virtual-1", "Virtual-10", "Virtual-2" };
    VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);
    add(g, VD_LIMIT_MONITORS, 0, 0, "pci/0000/02.0");
    add(g, 0, 0, VD_LIMIT_MONITORS, "pci/0000/02.0");
    VdDeviceMap *m = vd_device_map_new(s->root);
    vd_device_map_set_info(m, g);
    g_assert_false(vd_device_map_has_info(m));
    g_assert_cmpint(vd_device_map_lookup(m, VD_LIMIT_MONITORS, outs, 3, NULL), ==, -1);

    g->count = 0;
    add(g, 0, 0, 5, "pci/0000/02.0"); /* the card has 3 connectors */
    vd_device_map_set_info(m, g);
    g_assert_cmpint(vd_device_map_lookup(m, 0, outs, 3, NULL), ==, 0);
    vd_device_map_free(m);
    g_free(g);
}

/* VD_DEVICE_MAP_MAX_CONNECTORS: a card with more connectors keeps the first ones in connector id
 * order, whatever order the directory lists them in; the last device display id there can be
 * (VD_LIMIT_MONITORS - 1) still reaches its connector. */
static void test_connector_limit(Sysfs *s, gconstpointer data)
{
    enum { N = VD_DEVICE_MAP_MAX_CONNECTORS + 8 };
    card(s->root, "card2", "devices/pci0000:00/0000:00:05.0");
    const char *outs[N];
    char names[N][32];
    for (unsigned i = 0; i < N; i++) {
        g_snprintf(names[i], sizeof(names[i]), "card2-Virtual-%u", i + 1);
        g_autofree char *id = g_strdup_printf("%u\n", 100 + i);
        connector(s->root, names[i], id);
        outs[N - 1 - i] = names[i] + strlen("card2-"); /* the backend lists them backwards */
    }
    G_STATIC_ASSERT(VD_LIMIT_MONITORS <= VD_DEVICE_MAP_MAX_CONNECTORS);
    VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);
    add(g, 0, 0, VD_LIMIT_MONITORS - 1, "pci/0000/05.0");
    add(g, 1, 0, 0, "pci/0000/05.0");
    VdDeviceMap *m = vd_device_map_new(s->root);
    vd_device_map_set_info(m, g);
    bool by_info;
    /* device display 31 is Virtual-32 (id 131): output N - 32 in the backwards list */
    g_assert_cmpint(vd_device_map_lookup(m, 0, outs, N, &by_info), ==, N - (int)VD_LIMIT_MONITORS);
    g_assert_true(by_info);
    g_assert_cmpint(vd_device_map_lookup(m, 1, outs, N, NULL), ==, N - 1); /* Virtual-1 */
    vd_device_map_free(m);
    g_free(g);
}

/* No info at all, and no sysfs: the output order. */
static void test_order(void)
{
    const char *outs[] = { "a", "b" };
    VdDeviceMap *m = vd_device_map_new("/nonexistent");
    g_assert_cmpint(vd_device_map_lookup(m, 1, outs, 2, NULL), ==, 1);
    g_assert_cmpint(vd_device_map_lookup(m, 2, outs, 2, NULL), ==, -1);
    g_assert_cmpint(vd_device_map_lookup(NULL, 0, outs, 2, NULL), ==, 0);
    vd_device_map_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
    g_test_add_func("/device-map/pci-address", test_pci_address);
    g_test_add_func("/device-map/xorg-names", test_xorg_names);
    g_test_add_func("/device-map/order", test_order);
    g_test_add("/device-map/virtio-vga-two-heads", Sysfs, NULL, sysfs_setup, test_virtio_vga, sysfs_teardown);
    g_test_add("/device-map/two-devices", Sysfs, NULL, sysfs_setup, test_two_devices, sysfs_teardown);
    g_test_add("/device-map/unresolved", Sysfs, NULL, sysfs_setup, test_unresolved, sysfs_teardown);
    g_test_add("/device-map/limits", Sysfs, NULL, sysfs_setup, test_limits, sysfs_teardown);
    g_test_add("/device-map/connector-limit", Sysfs, NULL, sysfs_setup, test_connector_limit, sysfs_teardown);
    return g_test_run();
}
