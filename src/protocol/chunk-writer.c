/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chunk-writer.c — frames our messages into chunks for the host (see chunk-writer.h for the rule). */
#include "chunk-writer.h"

#include <errno.h>

#include "bytes.h"
#include "vd-proto.h"

void vd_chunk_writer_init(VdChunkWriter *writer)
{
    g_return_if_fail(writer);
    *writer = (VdChunkWriter){ .port = VD_PORT_CLIENT };
}

static void append_chunk_header(GByteArray *out, uint32_t port, uint32_t size)
{
    uint8_t hdr[VD_CHUNK_HEADER_SIZE];

    vd_put_le32(hdr, port);
    vd_put_le32(hdr + 4, size);
    g_byte_array_append(out, hdr, sizeof(hdr));
}

int vd_chunk_writer_begin(VdChunkWriter *writer, GByteArray *out, uint32_t type, uint32_t size)
{
    g_return_val_if_fail(writer && out, -EINVAL);
    uint8_t hdr[VD_MSG_HEADER_SIZE];
    uint32_t first;

    if (writer->active)
        return -EBUSY;

    /* The first chunk carries the whole message header and as much payload as fits. */
    first = MIN(size, VD_CHUNK_MAX_DATA - VD_MSG_HEADER_SIZE);
    append_chunk_header(out, writer->port, VD_MSG_HEADER_SIZE + first);
    vd_put_le32(hdr, VD_PROTOCOL);
    vd_put_le32(hdr + 4, type);
    vd_put_le64(hdr + 8, 0);
    vd_put_le32(hdr + 16, size);
    g_byte_array_append(out, hdr, sizeof(hdr));

    writer->remaining = size;
    writer->chunk_left = first;
    writer->active = size > 0;
    return 0;
}

int vd_chunk_writer_write(VdChunkWriter *writer, GByteArray *out, const void *data, size_t len)
{
    g_return_val_if_fail(writer && out && (data || len == 0), -EINVAL);
    const uint8_t *p = data;

    if (!writer->active)
        return len == 0 ? 0 : -EINVAL;
    if (len > writer->remaining)
        return -EMSGSIZE;

    while (len > 0) {
        if (writer->chunk_left == 0) {
            /* Chunk headers are written in advance for the whole next chunk: its size depends only on
             * what the message still owes, never on how the caller splits its writes. */
            uint32_t next = MIN(writer->remaining, VD_CHUNK_MAX_DATA);
            append_chunk_header(out, writer->port, next);
            writer->chunk_left = next;
        }
        uint32_t n = (uint32_t)MIN((size_t)writer->chunk_left, len);
        g_byte_array_append(out, p, n);
        p += n;
        len -= n;
        writer->chunk_left -= n;
        writer->remaining -= n;
    }
    if (writer->remaining == 0)
        writer->active = false;
    return 0;
}

bool vd_chunk_writer_busy(const VdChunkWriter *writer)
{
    g_return_val_if_fail(writer, false);
    return writer->active;
}

void vd_chunk_writer_reset(VdChunkWriter *writer)
{
    g_return_if_fail(writer);
    uint32_t port = writer->port;

    *writer = (VdChunkWriter){ .port = port ? port : VD_PORT_CLIENT };
}

int vd_frame_message(GByteArray *out, uint32_t type, const void *payload, uint32_t len)
{
    g_return_val_if_fail(out && (payload || len == 0), -EINVAL);
    VdChunkWriter writer;
    int r;

    vd_chunk_writer_init(&writer);
    r = vd_chunk_writer_begin(&writer, out, type, len);
    if (r < 0)
        return r;
    return vd_chunk_writer_write(&writer, out, payload, len);
}

uint64_t vd_framed_size(uint32_t len)
{
    uint64_t total = (uint64_t)VD_MSG_HEADER_SIZE + len;
    uint64_t chunks = (total + VD_CHUNK_MAX_DATA - 1) / VD_CHUNK_MAX_DATA;

    return total + chunks * VD_CHUNK_HEADER_SIZE;
}
