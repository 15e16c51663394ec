/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-hotplug.c — guest-set-vcpus and guest-set-memory-blocks, inside the hotplug helper: no
 * capability, but a writable /sys (the daemon's is read-only, ProtectKernelTunables). As qemu-ga:
 * a CPU or block already in the asked state is not written to; set-vcpus stops at the first
 * failure and returns how many were processed (the error when none was); set-memory-blocks answers
 * per block. */
#include "qga-privileged.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "qga-verbs.h"

#define CPU_DIR "/sys/devices/system/cpu"
#define MEMORY_DIR "/sys/devices/system/memory"

static gboolean write_attr(const char *path, const char *value, int *ret_errno)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        *ret_errno = errno;
        return FALSE;
    }
    ssize_t n = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    if (n != (ssize_t) strlen(value)) {
        *ret_errno = n < 0 ? e : EIO;
        return FALSE;
    }
    return TRUE;
}

/* Each element an object with an integer `index_name` and a boolean "online". */
static gboolean check_list(JsonArray *list, const char *param, const char *index_name, guint max, GError **error)
{
    if (json_array_get_length(list) > max) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "Parameter '%s': more than %u entries", param,
                    max);
        return FALSE;
    }
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonNode *e = json_array_get_element(list, i);
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : NULL;
        JsonNode *idx = o ? json_object_get_member(o, index_name) : NULL;
        JsonNode *online = o ? json_object_get_member(o, "online") : NULL;
        if (!idx || !online || !JSON_NODE_HOLDS_VALUE(idx) || json_node_get_value_type(idx) != G_TYPE_INT64 ||
            !JSON_NODE_HOLDS_VALUE(online) || json_node_get_value_type(online) != G_TYPE_BOOLEAN ||
            json_node_get_int(idx) < 0) {
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                        "Parameter '%s': element %u needs '%s' (a non-negative integer) and 'online' (a boolean)",
                        param, i, index_name);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean set_vcpu(gint64 id, gboolean online, GError **error)
{
    g_autofree char *dir = g_strdup_printf(CPU_DIR "/cpu%" G_GINT64_FORMAT "/", id);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "open(\"%s\"): %s", dir, g_strerror(ENOENT));
        return FALSE;
    }
    g_autofree char *path = g_strconcat(dir, "online", NULL);
    g_autofree char *state = vd_qga_read_attr(path);
    if (!state) {
        /* No "online" file: a CPU that cannot go offline (often cpu0). */
        if (!online) {
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                        "logical processor #%" G_GINT64_FORMAT " can't be offlined", id);
            return FALSE;
        }
        return TRUE;
    }
    if ((g_str_equal(state, "1")) == online)
        return TRUE;
    int e;
    if (!write_attr(path, online ? "1" : "0", &e)) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "failed to write \"%s\" to %s: %s",
                    online ? "1" : "0", path, g_strerror(e));
        return FALSE;
    }
    g_message("guest-set-vcpus: CPU %" G_GINT64_FORMAT " %s", id, online ? "online" : "offline");
    return TRUE;
}

JsonNode *vd_qga_set_vcpus(JsonObject *args, GError **error)
{
    JsonArray *list = json_node_get_array(json_object_get_member(args, "vcpus"));
    if (!check_list(list, "vcpus", "logical-id", VD_QGA_MAX_VCPUS, error))
        return NULL;
    gint64 processed = 0;
    GError *local = NULL;
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *o = json_array_get_object_element(list, i);
        if (!set_vcpu(json_object_get_int_member(o, "logical-id"), json_object_get_boolean_member(o, "online"),
                      &local))
            break;
        processed++;
    }
    if (local && processed == 0) {
        g_propagate_error(error, local);
        return NULL;
    }
    if (local) {
        g_warning("guest-set-vcpus: stopped after %" G_GINT64_FORMAT ": %s", processed, local->message);
        g_error_free(local);
    }
    JsonNode *node = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(node, processed);
    return node;
}

/* -> "success", "not-found", "operation-not-supported" or "operation-failed"; *ret_errno when failed. */
static const char *set_block(gint64 index, gboolean online, int *ret_errno)
{
    g_autofree char *dir = g_strdup_printf(MEMORY_DIR "/memory%" G_GINT64_FORMAT, index);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        *ret_errno = ENOENT;
        return "not-found";
    }
    g_autofree char *state_path = g_build_filename(dir, "state", NULL);
    g_autofree char *state = vd_qga_read_attr(state_path);
    if (!state) {
        *ret_errno = errno ? errno : EIO;
        return "operation-failed";
    }
    gboolean is_online = !g_str_equal(state, "offline");
    if (is_online == online)
        return "success";
    if (!online) {
        g_autofree char *removable_path = g_build_filename(dir, "removable", NULL);
        g_autofree char *removable = vd_qga_read_attr(removable_path);
        if (!removable || !g_str_equal(removable, "1"))
            return "operation-not-supported";
    }
    if (!write_attr(state_path, online ? "online" : "offline", ret_errno))
        return "operation-failed";
    g_message("guest-set-memory-blocks: block %" G_GINT64_FORMAT " %s", index, online ? "online" : "offline");
    return "success";
}

JsonNode *vd_qga_set_memory_blocks(JsonObject *args, GError **error)
{
    JsonArray *list = json_node_get_array(json_object_get_member(args, "mem-blks"));
    if (!check_list(list, "mem-blks", "phys-index", VD_QGA_MAX_MEMORY_BLOCKS, error))
        return NULL;
    JsonArray *result = json_array_new();
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *o = json_array_get_object_element(list, i);
        gint64 index = json_object_get_int_member(o, "phys-index");
        int e = 0;
        const char *response = set_block(index, json_object_get_boolean_member(o, "online"), &e);
        JsonObject *r = json_object_new();
        json_object_set_int_member(r, "phys-index", index);
        json_object_set_string_member(r, "response", response);
        if (e)
            json_object_set_int_member(r, "error-code", e);
        json_array_add_object_element(result, r);
    }
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, result);
    return node;
}
