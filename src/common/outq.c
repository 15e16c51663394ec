/* SPDX-License-Identifier: GPL-3.0-or-later */
/* outq.c — the non-blocking output queue (see outq.h). */
#include "outq.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

void vd_outq_init(VdOutQueue *q)
{
    g_return_if_fail(q);
    q->buf = g_byte_array_new();
    q->pos = 0;
}

void vd_outq_clear(VdOutQueue *q)
{
    if (!q)
        return;
    g_clear_pointer(&q->buf, g_byte_array_unref);
    q->pos = 0;
}

void vd_outq_reset(VdOutQueue *q)
{
    g_return_if_fail(q && q->buf);
    g_byte_array_set_size(q->buf, 0);
    q->pos = 0;
}

void vd_outq_append(VdOutQueue *q, const void *data, size_t len)
{
    g_return_if_fail(q && q->buf && len <= G_MAXUINT);
    g_byte_array_append(q->buf, data, (guint)len);
}

static void compact(VdOutQueue *q)
{
    if (q->pos == q->buf->len) {
        g_byte_array_set_size(q->buf, 0);
        q->pos = 0;
    } else if (q->pos >= q->buf->len / 2) {
        g_byte_array_remove_range(q->buf, 0, (guint)q->pos);
        q->pos = 0;
    }
}

ssize_t vd_outq_flush(VdOutQueue *q, int fd, bool is_socket)
{
    g_return_val_if_fail(q && q->buf && fd >= 0, -EINVAL);
    size_t written = 0;
    int err = 0;
    while (q->pos < q->buf->len) {
        size_t left = q->buf->len - q->pos;
        ssize_t n = is_socket ? send(fd, q->buf->data + q->pos, left, MSG_NOSIGNAL | MSG_DONTWAIT)
                              : write(fd, q->buf->data + q->pos, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                err = errno;
            break;
        }
        q->pos += (size_t)n;
        written += (size_t)n;
    }
    compact(q);
    return err ? -err : (ssize_t)written;
}
