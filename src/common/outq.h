/* SPDX-License-Identifier: GPL-3.0-or-later */
/* outq.h — the non-blocking output queue every connection of the daemons uses (the agent port,
 * session agents, control clients, the QGA port, the session agent's daemon link).
 *
 * Bytes are appended at the tail (encoders write into vd_outq_buffer()) and written from the head
 * as the fd accepts them. One compaction rule: an emptied queue starts over at the front; otherwise
 * the written head is dropped once it is at least half of the buffer, so each byte is moved at most
 * once on average and a queue that never empties does not creep. The queue has no limit of its
 * own: each owner bounds it by its policy (vd_outq_queued()).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    GByteArray *buf;
    size_t pos; /* bytes of buf already written */
} VdOutQueue;

void vd_outq_init(VdOutQueue *q);
/* Frees the buffer (the queue may be initialised again). Accepts a queue never initialised. */
void vd_outq_clear(VdOutQueue *q);
/* Drops everything queued. */
void vd_outq_reset(VdOutQueue *q);

static inline size_t vd_outq_queued(const VdOutQueue *q)
{
    return q->buf ? q->buf->len - q->pos : 0;
}

/* Where to append (an encoder's output array). */
static inline GByteArray *vd_outq_buffer(VdOutQueue *q)
{
    return q->buf;
}

void vd_outq_append(VdOutQueue *q, const void *data, size_t len);

/* Writes what the fd takes now (send() with MSG_NOSIGNAL on a socket, else write()). Returns the
 * bytes written (0 when the fd is full or nothing was queued), or -errno when the fd failed. */
ssize_t vd_outq_flush(VdOutQueue *q, int fd, bool is_socket);
