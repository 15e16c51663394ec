/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-file.c — guest-file-open, -read, -write, -seek, -flush, -close with qemu-ga's shapes and
 * texts. Disabled unless the policy file enables them (qga-shell.h). Files are opened
 * O_NONBLOCK (as qemu-ga), so a FIFO or a device never stalls the daemon. */
#include "qga-shell.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    gint64 handle;
    int fd;
    gboolean eof;
} File;

static GArray *files; /* File */
static gint64 next_handle = 1000;

static File *file_get(VdQgaCall *call, JsonObject *args)
{
    gint64 h = json_object_get_int_member(args, "handle");
    for (guint i = 0; files && i < files->len; i++) {
        if (g_array_index(files, File, i).handle == h)
            return &g_array_index(files, File, i);
    }
    vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "handle '%" G_GINT64_FORMAT "' has not been found", h);
    return NULL;
}

static JsonNode *object_node(JsonObject *o)
{
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, o);
    return node;
}

static gboolean mode_flags(const char *mode, int *ret)
{
    static const struct {
        const char *mode;
        int flags;
    } modes[] = {
        {"r", O_RDONLY}, {"rb", O_RDONLY}, {"r+", O_RDWR}, {"r+b", O_RDWR}, {"rb+", O_RDWR},
        {"w", O_WRONLY | O_CREAT | O_TRUNC}, {"wb", O_WRONLY | O_CREAT | O_TRUNC},
        {"w+", O_RDWR | O_CREAT | O_TRUNC}, {"w+b", O_RDWR | O_CREAT | O_TRUNC}, {"wb+", O_RDWR | O_CREAT | O_TRUNC},
        {"a", O_WRONLY | O_CREAT | O_APPEND}, {"ab", O_WRONLY | O_CREAT | O_APPEND},
        {"a+", O_RDWR | O_CREAT | O_APPEND}, {"a+b", O_RDWR | O_CREAT | O_APPEND}, {"ab+", O_RDWR | O_CREAT | O_APPEND},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (g_str_equal(modes[i].mode, mode)) {
            *ret = modes[i].flags;
            return TRUE;
        }
    }
    return FALSE;
}

void vd_qga_cmd_file_open(VdQgaCall *call, JsonObject *args)
{
    const char *path = json_object_get_string_member(args, "path");
    const char *mode = json_object_get_string_member_with_default(args, "mode", "r");
    g_autofree char *qpath = g_strescape(path, NULL);
    g_autofree char *qmode = g_strescape(mode, NULL);
    int flags;
    if (!mode_flags(mode, &flags)) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "invalid file open mode '%s'", qmode);
        return;
    }
    if (!files)
        files = g_array_new(FALSE, FALSE, sizeof(File));
    if (files->len >= VD_QGA_FILE_MAX_HANDLES) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "more than %d files open: close some first",
                          VD_QGA_FILE_MAX_HANDLES);
        return;
    }
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
    g_autofree char *mode_text = g_strdup_printf("%s %s", qmode, qpath);
    if (fd < 0) {
        int e = errno;
        g_autofree char *result = g_strdup_printf("failed: %s", g_strerror(e));
        vd_qga_audit("guest-file-open", mode_text, result);
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "failed to open file '%s' (mode: '%s'): %s", path, mode,
                          g_strerror(e));
        return;
    }
    File f = {next_handle++, fd, FALSE};
    g_array_append_val(files, f);
    g_autofree char *result = g_strdup_printf("handle %" G_GINT64_FORMAT, f.handle);
    vd_qga_audit("guest-file-open", mode_text, result);
    JsonNode *node = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(node, f.handle);
    vd_qga_call_return(call, node);
}

void vd_qga_cmd_file_close(VdQgaCall *call, JsonObject *args)
{
    File *f = file_get(call, args);
    if (!f)
        return;
    close(f->fd);
    g_array_remove_index(files, (guint) (f - (File *) (void *) files->data));
    vd_qga_call_return(call, object_node(json_object_new()));
}

void vd_qga_cmd_file_read(VdQgaCall *call, JsonObject *args)
{
    File *f = file_get(call, args);
    if (!f)
        return;
    gint64 count = json_object_get_int_member_with_default(args, "count", VD_QGA_FILE_DEFAULT_READ);
    if (count < 0 || count > VD_QGA_FILE_MAX_READ) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "value '%" G_GINT64_FORMAT "' is invalid for argument count"
                          " (at most %d)", count, VD_QGA_FILE_MAX_READ);
        return;
    }
    g_autofree guint8 *buf = g_malloc(count ? (gsize) count : 1);
    ssize_t n = read(f->fd, buf, (size_t) count);
    if (n < 0) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "failed to read file: %s", g_strerror(errno));
        return;
    }
    f->eof = n < count; /* a short read: the end of the file (or of what a FIFO has now) */
    g_autofree char *b64 = g_base64_encode(buf, (gsize) n);
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "count", n);
    json_object_set_string_member(o, "buf-b64", b64);
    json_object_set_boolean_member(o, "eof", f->eof);
    vd_qga_call_return(call, object_node(o));
}

void vd_qga_cmd_file_write(VdQgaCall *call, JsonObject *args)
{
    File *f = file_get(call, args);
    if (!f)
        return;
    gsize len;
    g_autofree guchar *data = g_base64_decode(json_object_get_string_member(args, "buf-b64"), &len);
    gint64 count = json_object_get_int_member_with_default(args, "count", (gint64) len);
    if (count < 0 || (gsize) count > len) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "value '%" G_GINT64_FORMAT "' is invalid for argument count",
                          count);
        return;
    }
    ssize_t n = write(f->fd, data, (size_t) count);
    if (n < 0) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "failed to write to file: %s", g_strerror(errno));
        return;
    }
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "count", n);
    json_object_set_boolean_member(o, "eof", f->eof);
    vd_qga_call_return(call, object_node(o));
}

void vd_qga_cmd_file_seek(VdQgaCall *call, JsonObject *args)
{
    File *f = file_get(call, args);
    if (!f)
        return;
    JsonNode *w = json_object_get_member(args, "whence");
    int whence = -1;
    if (JSON_NODE_HOLDS_VALUE(w) && json_node_get_value_type(w) == G_TYPE_INT64) {
        /* QGA_SEEK_SET/CUR/END are 0, 1, 2, as on Linux */
        gint64 v = json_node_get_int(w);
        whence = v == 0 ? SEEK_SET : v == 1 ? SEEK_CUR : v == 2 ? SEEK_END : -1;
    } else if (JSON_NODE_HOLDS_VALUE(w) && json_node_get_value_type(w) == G_TYPE_STRING) {
        const char *s = json_node_get_string(w);
        whence = g_str_equal(s, "set") ? SEEK_SET : g_str_equal(s, "cur") ? SEEK_CUR : g_str_equal(s, "end") ? SEEK_END : -1;
    }
    if (whence < 0) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "Invalid parameter 'whence'");
        return;
    }
    off_t pos = lseek(f->fd, (off_t) json_object_get_int_member(args, "offset"), whence);
    if (pos < 0) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "failed to seek file: %s", g_strerror(errno));
        return;
    }
    f->eof = FALSE;
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "position", pos);
    json_object_set_boolean_member(o, "eof", FALSE);
    vd_qga_call_return(call, object_node(o));
}

void vd_qga_cmd_file_flush(VdQgaCall *call, JsonObject *args)
{
    File *f = file_get(call, args);
    if (!f)
        return;
    /* No stdio buffer here: everything written is in the kernel already. */
    vd_qga_call_return(call, object_node(json_object_new()));
}
