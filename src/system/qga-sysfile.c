/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-sysfile.c — reading /proc and /sys files with a size limit, and the error domain, for the
 * verbs in the daemon and in the helper alike (see qga-verbs.h, qga-helper.h). */
#include "qga-helper.h"
#include "qga-verbs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK(vd-qga-error-quark, vd_qga_error)

char *vd_qga_read_file(const char *path, gsize max, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot open %s: %s", path, g_strerror(e));
        return NULL;
    }
    g_autoptr(GByteArray) buf = g_byte_array_new();
    guint8 chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot read %s: %s", path, g_strerror(e));
            return NULL;
        }
        if (n == 0)
            break;
        if (buf->len + (gsize) n > max) {
            close(fd);
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s is larger than %zu bytes", path, max);
            return NULL;
        }
        g_byte_array_append(buf, chunk, (guint) n);
    }
    close(fd);
    g_byte_array_append(buf, (const guint8 *) "", 1);
    return (char *) g_byte_array_free(g_steal_pointer(&buf), FALSE);
}

char *vd_qga_read_attr(const char *path)
{
    char *text = vd_qga_read_file(path, VD_QGA_MAX_SYSFS_FILE, NULL);
    return text ? g_strchomp(text) : NULL;
}

