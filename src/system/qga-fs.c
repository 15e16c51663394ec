/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-fs.c — guest-get-fsinfo and guest-get-disks, from /proc/self/mountinfo, statvfs(3) and
 * /sys/block, with qemu-ga 7.2's shapes: a filesystem's "name" is its kernel device name ("vda1",
 * "dm-0"), "disk" lists the real disks under it (device-mapper layers followed, a partition taken
 * as its disk) with their PCI controller, bus type, SCSI address, serial and /dev node. Only
 * mounts of block devices are listed (major number not 0), newest first, as qemu-ga does.
 * The serial is udev's ID_SERIAL (/run/udev/data), else the disk's sysfs "serial" attribute. */
#include "qga-verbs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

/* "0000:00:02.0" */
static gboolean parse_pci(const char *s, int *domain, int *bus, int *slot, int *function)
{
    unsigned d, b, sl, f;
    char end;
    if (strlen(s) != 12 || sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &sl, &f, &end) != 4)
        return FALSE;
    *domain = (int) d;
    *bus = (int) b;
    *slot = (int) sl;
    *function = (int) f;
    return TRUE;
}

/* "0:0:1:0" (host:channel:target:lun) */
static gboolean parse_hctl(const char *s, unsigned *host, unsigned *channel, unsigned *target, unsigned *lun)
{
    char end;
    return sscanf(s, "%u:%u:%u:%u%c", host, channel, target, lun, &end) == 4;
}

static const char *bus_type_of_driver(const char *driver, gboolean has_hctl)
{
    static const struct {
        const char *driver, *bus;
    } map[] = {
        {"ata_piix", "ide"},   {"pata_acpi", "ide"}, {"ahci", "sata"},      {"nvme", "nvme"},
        {"xhci_hcd", "usb"},   {"ehci-pci", "usb"},  {"uhci_hcd", "usb"},   {"ohci-pci", "usb"},
        {"sdhci-pci", "sd"},   {"megaraid_sas", "sas"}, {"mpt3sas", "sas"},
    };
    if (!driver)
        return "unknown";
    if (g_str_equal(driver, "virtio-pci"))
        return has_hctl ? "scsi" : "virtio";
    for (gsize i = 0; i < G_N_ELEMENTS(map); i++) {
        if (g_str_equal(map[i].driver, driver))
            return map[i].bus;
    }
    return has_hctl ? "scsi" : "unknown";
}

static char *udev_serial(const char *dev_numbers)
{
    g_autofree char *path = g_strdup_printf("/run/udev/data/b%s", dev_numbers);
    g_autofree char *text = vd_qga_read_file(path, VD_QGA_MAX_SYSFS_FILE * 4, NULL);
    if (!text)
        return NULL;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (gsize i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "E:ID_SERIAL=") && g_utf8_validate(lines[i], -1, NULL))
            return g_strdup(lines[i] + strlen("E:ID_SERIAL="));
    }
    return NULL;
}

/* The GuestDiskAddress of the disk whose sysfs directory (resolved) is disk_dir, or NULL when it
 * has no PCI controller (a loop device, a ramdisk…): qemu-ga reports none either. */
static JsonObject *disk_address(const char *disk_dir)
{
    g_auto(GStrv) parts = g_strsplit(disk_dir, "/", -1);
    int domain = 0, bus = 0, slot = 0, function = 0;
    gssize pci_index = -1;
    unsigned h = 0, c = 0, t = 0, l = 0;
    gboolean has_hctl = FALSE;
    for (gsize i = 0; parts[i]; i++) {
        int d, b, s, f;
        if (parse_pci(parts[i], &d, &b, &s, &f)) {
            pci_index = (gssize) i;
            domain = d, bus = b, slot = s, function = f;
            has_hctl = FALSE;
        } else if (pci_index >= 0 && parse_hctl(parts[i], &h, &c, &t, &l)) {
            has_hctl = TRUE;
        }
    }
    if (pci_index < 0)
        return NULL;
    GString *dir = g_string_new(NULL);
    for (gssize i = 0; i <= pci_index; i++)
        g_string_append_printf(dir, "%s%s", i ? "/" : "", parts[i]);
    g_autofree char *driver_link = g_strdup_printf("%s/driver", dir->str);
    g_string_free(dir, TRUE);
    g_autofree char *driver_target = g_file_read_link(driver_link, NULL);
    g_autofree char *driver = driver_target ? g_path_get_basename(driver_target) : NULL;

    JsonObject *pci = json_object_new();
    json_object_set_int_member(pci, "domain", domain);
    json_object_set_int_member(pci, "bus", bus);
    json_object_set_int_member(pci, "slot", slot);
    json_object_set_int_member(pci, "function", function);
    JsonObject *o = json_object_new();
    json_object_set_object_member(o, "pci-controller", pci);
    json_object_set_string_member(o, "bus-type", bus_type_of_driver(driver, has_hctl));
    json_object_set_int_member(o, "bus", has_hctl ? c : 0);
    json_object_set_int_member(o, "target", has_hctl ? t : 0);
    json_object_set_int_member(o, "unit", has_hctl ? l : 0);

    g_autofree char *name = g_path_get_basename(disk_dir);
    g_autofree char *dev_path = g_build_filename(disk_dir, "dev", NULL);
    g_autofree char *numbers = vd_qga_read_attr(dev_path);
    g_autofree char *serial = numbers ? udev_serial(numbers) : NULL;
    if (!serial) {
        g_autofree char *serial_path = g_build_filename(disk_dir, "serial", NULL);
        serial = vd_qga_read_attr(serial_path);
        if (!serial) {
            g_autofree char *device_serial = g_build_filename(disk_dir, "device", "serial", NULL);
            serial = vd_qga_read_attr(device_serial);
        }
    }
    if (serial && *serial && g_utf8_validate(serial, -1, NULL))
        json_object_set_string_member(o, "serial", serial);
    g_autofree char *dev = g_strdup_printf("/dev/%s", name);
    json_object_set_string_member(o, "dev", dev);
    return o;
}

static gboolean is_partition(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "partition", NULL);
    return g_file_test(path, G_FILE_TEST_EXISTS);
}

/* Adds the addresses of the real disks under the block device whose sysfs directory is dir. */
static void collect_disks(const char *dir, int depth, JsonArray *out)
{
    if (depth > VD_QGA_MAX_DISK_DEPTH) {
        g_warning("guest-get-fsinfo: %s: more than %d device layers, not followed further", dir,
                  VD_QGA_MAX_DISK_DEPTH);
        return;
    }
    g_autofree char *slaves = g_build_filename(dir, "slaves", NULL);
    g_autoptr(GDir) d = g_dir_open(slaves, 0, NULL);
    gboolean any = FALSE;
    for (const char *n = d ? g_dir_read_name(d) : NULL; n; n = g_dir_read_name(d)) {
        g_autofree char *link = g_build_filename(slaves, n, NULL);
        g_autofree char *real = realpath(link, NULL);
        if (real) {
            any = TRUE;
            collect_disks(real, depth + 1, out);
        }
    }
    if (any)
        return;
    g_autofree char *disk_dir = is_partition(dir) ? g_path_get_dirname(dir) : g_strdup(dir);
    JsonObject *address = disk_address(disk_dir);
    if (address)
        json_array_add_object_element(out, address);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
            g_string_append_c(out, (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0')));
            p += 3;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

JsonNode *vd_qga_get_fsinfo(JsonObject *args, GError **error)
{
    g_autofree char *text = vd_qga_read_file("/proc/self/mountinfo", VD_QGA_MAX_MOUNTINFO, error);
    if (!text)
        return NULL;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    JsonArray *result = json_array_new();
    guint count = 0;
    for (gssize i = (gssize) g_strv_length(lines) - 1; i >= 0; i--) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPER-OPTIONS */
        g_auto(GStrv) f = g_strsplit(lines[i], " ", -1);
        guint n = g_strv_length(f);
        unsigned major, minor;
        char end;
        if (n < 7 || sscanf(f[2], "%u:%u%c", &major, &minor, &end) != 2 || major == 0)
            continue;
        guint sep = 6;
        while (sep < n && !g_str_equal(f[sep], "-"))
            sep++;
        if (sep + 1 >= n)
            continue;
        if (count >= VD_QGA_MAX_MOUNTS) {
            g_warning("guest-get-fsinfo: reporting the first %d filesystems only", VD_QGA_MAX_MOUNTS);
            break;
        }
        g_autofree char *mountpoint = unescape_octal(f[4]);
        g_autofree char *type = unescape_octal(f[sep + 1]);
        if (!g_utf8_validate(mountpoint, -1, NULL) || !g_utf8_validate(type, -1, NULL))
            continue;
        g_autofree char *sys_link = g_strdup_printf("/sys/dev/block/%u:%u", major, minor);
        g_autofree char *sys_dir = realpath(sys_link, NULL);
        if (!sys_dir)
            continue; /* not a block device after all */
        g_autofree char *name = g_path_get_basename(sys_dir);

        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "name", name);
        json_object_set_string_member(o, "mountpoint", mountpoint);
        json_object_set_string_member(o, "type", type);
        struct statvfs st;
        if (statvfs(mountpoint, &st) == 0) {
            guint64 frsize = st.f_frsize ? st.f_frsize : st.f_bsize;
            json_object_set_int_member(o, "used-bytes", (gint64) ((st.f_blocks - st.f_bfree) * frsize));
            json_object_set_int_member(o, "total-bytes",
                                       (gint64) ((st.f_blocks - st.f_bfree + st.f_bavail) * frsize));
        } else {
            g_debug("guest-get-fsinfo: statvfs \"%s\": %s", mountpoint, g_strerror(errno));
        }
        JsonArray *disks = json_array_new();
        collect_disks(sys_dir, 0, disks);
        json_object_set_array_member(o, "disk", disks);
        json_array_add_object_element(result, o);
        count++;
    }
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, result);
    return node;
}

static JsonArray *dependencies(const char *dir)
{
    JsonArray *deps = json_array_new();
    g_autofree char *slaves = g_build_filename(dir, "slaves", NULL);
    g_autoptr(GDir) d = g_dir_open(slaves, 0, NULL);
    for (const char *n = d ? g_dir_read_name(d) : NULL; n; n = g_dir_read_name(d)) {
        if (json_array_get_length(deps) >= VD_QGA_MAX_DISKS)
            break;
        g_autofree char *dev = g_strdup_printf("/dev/%s", n);
        json_array_add_string_element(deps, dev);
    }
    return deps;
}

static gboolean has_size(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "size", NULL);
    g_autofree char *text = vd_qga_read_attr(path);
    return text && !g_str_equal(text, "0");
}

/* /sys/block in its order: each disk with a size, then its partitions, as qemu-ga lists them. */
JsonNode *vd_qga_get_disks(JsonObject *args, GError **error)
{
    GError *local = NULL;
    g_autoptr(GDir) d = g_dir_open("/sys/block", 0, &local);
    if (!d) {
        g_propagate_prefixed_error(error, local, "cannot list disks: ");
        return NULL;
    }
    JsonArray *result = json_array_new();
    for (const char *n = g_dir_read_name(d); n; n = g_dir_read_name(d)) {
        g_autofree char *link = g_build_filename("/sys/block", n, NULL);
        g_autofree char *dir = realpath(link, NULL);
        if (!dir || !has_size(dir) || !g_utf8_validate(n, -1, NULL))
            continue;
        if (json_array_get_length(result) >= VD_QGA_MAX_DISKS) {
            g_warning("guest-get-disks: reporting the first %d disks and partitions only", VD_QGA_MAX_DISKS);
            break;
        }
        g_autofree char *dev = g_strdup_printf("/dev/%s", n);
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "name", dev);
        json_object_set_boolean_member(o, "partition", FALSE);
        json_object_set_array_member(o, "dependencies", dependencies(dir));
        JsonObject *address = disk_address(dir);
        if (address)
            json_object_set_object_member(o, "address", address);
        g_autofree char *dm_name_path = g_build_filename(dir, "dm", "name", NULL);
        g_autofree char *alias = vd_qga_read_attr(dm_name_path);
        if (alias && *alias && g_utf8_validate(alias, -1, NULL))
            json_object_set_string_member(o, "alias", alias);
        json_array_add_object_element(result, o);

        g_autoptr(GDir) parts = g_dir_open(dir, 0, NULL);
        for (const char *p = parts ? g_dir_read_name(parts) : NULL; p; p = g_dir_read_name(parts)) {
            g_autofree char *part_dir = g_build_filename(dir, p, NULL);
            if (!is_partition(part_dir) || !g_utf8_validate(p, -1, NULL))
                continue;
            if (json_array_get_length(result) >= VD_QGA_MAX_DISKS)
                break;
            g_autofree char *part_dev = g_strdup_printf("/dev/%s", p);
            JsonObject *po = json_object_new();
            json_object_set_string_member(po, "name", part_dev);
            json_object_set_boolean_member(po, "partition", TRUE);
            JsonArray *deps = json_array_new();
            json_array_add_string_element(deps, dev);
            json_object_set_array_member(po, "dependencies", deps);
            json_array_add_object_element(result, po);
        }
    }
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, result);
    return node;
}
