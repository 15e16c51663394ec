/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-cpumem.c — guest-get-load (/proc/loadavg), guest-get-memory-blocks and
 * guest-get-memory-block-info (/sys/devices/system/memory), with qemu-ga's shapes. */
#include "qga-verbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MEMORY_DIR "/sys/devices/system/memory"

JsonNode *vd_qga_get_load(JsonObject *args, GError **error)
{
    g_autofree char *text = vd_qga_read_file("/proc/loadavg", VD_QGA_MAX_SYSFS_FILE, error);
    if (!text)
        return NULL;
    double load[3];
    char *p = text, *end;
    for (int i = 0; i < 3; i++) {
        load[i] = g_ascii_strtod(p, &end);
        if (end == p) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "cannot parse /proc/loadavg");
            return NULL;
        }
        p = end;
    }
    JsonObject *o = json_object_new();
    json_object_set_double_member(o, "load1", load[0]);
    json_object_set_double_member(o, "load5", load[1]);
    json_object_set_double_member(o, "load15", load[2]);
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, o);
    return node;
}

JsonNode *vd_qga_get_memory_blocks(JsonObject *args, GError **error)
{
    GError *local = NULL;
    g_autoptr(GDir) d = g_dir_open(MEMORY_DIR, 0, &local);
    if (!d) {
        g_propagate_prefixed_error(error, local, "cannot list memory blocks: ");
        return NULL;
    }
    JsonArray *result = json_array_new();
    for (const char *n = g_dir_read_name(d); n; n = g_dir_read_name(d)) {
        guint64 index;
        if (!g_str_has_prefix(n, "memory") || !g_ascii_string_to_unsigned(n + 6, 10, 0, G_MAXINT64, &index, NULL))
            continue;
        if (json_array_get_length(result) >= VD_QGA_MAX_MEMORY_BLOCKS) {
            g_warning("guest-get-memory-blocks: reporting the first %d blocks only", VD_QGA_MAX_MEMORY_BLOCKS);
            break;
        }
        g_autofree char *online_path = g_strdup_printf(MEMORY_DIR "/%s/online", n);
        g_autofree char *removable_path = g_strdup_printf(MEMORY_DIR "/%s/removable", n);
        g_autofree char *online = vd_qga_read_attr(online_path);
        g_autofree char *removable = vd_qga_read_attr(removable_path);
        JsonObject *o = json_object_new();
        json_object_set_int_member(o, "phys-index", (gint64) index);
        json_object_set_boolean_member(o, "online", online && g_str_equal(online, "1"));
        json_object_set_boolean_member(o, "can-offline", removable && g_str_equal(removable, "1"));
        json_array_add_object_element(result, o);
    }
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, result);
    return node;
}

JsonNode *vd_qga_get_memory_block_info(JsonObject *args, GError **error)
{
    g_autofree char *text = vd_qga_read_file(MEMORY_DIR "/block_size_bytes", VD_QGA_MAX_SYSFS_FILE, error);
    if (!text)
        return NULL;
    guint64 size;
    if (!g_ascii_string_to_unsigned(g_strstrip(text), 16, 1, G_MAXINT64, &size, NULL)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "cannot parse " MEMORY_DIR "/block_size_bytes");
        return NULL;
    }
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "size", (gint64) size);
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, o);
    return node;
}
