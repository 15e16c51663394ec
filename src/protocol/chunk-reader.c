/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chunk-reader.c — incremental reassembly of the host's chunk stream (see chunk-reader.h).
 *
 * Two layers of state: the chunk framing of the whole stream (a chunk header being collected, or the
 * bytes left in the current chunk and its port), and per port the message being reassembled (its
 * header being collected, then either a buffer for a whole message or, for a streamed type, the head
 * followed by pass-through pieces). The feed loop advances one step at a time and re-reads the state
 * after every callback, so a callback may reset a port.
 */
#include "chunk-reader.h"

#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "vd-limits.h"

#define N_PORTS 3 /* indexed by port number; 0 unused */

typedef struct {
    uint8_t header_bytes[VD_MSG_HEADER_SIZE];
    uint32_t header_len; /* bytes of header_bytes collected */
    bool in_payload;     /* header complete and validated */
    bool streamed;
    VdMsgHeader header;
    uint64_t received; /* payload bytes received */
    /* Streamed: the head handed over with BEGIN. */
    uint8_t head[VD_STREAM_HEAD];
    uint32_t head_want;
    /* Whole: the payload, buffer kept across messages (at most whole_max bytes). */
    uint8_t *buf;
    size_t buf_size;
    /* Bumped by every reset, so that a callback's reset is noticed (no END after it). */
    uint32_t generation;
} PortState;

struct VdChunkReader {
    VdChunkReaderConfig config;
    uint8_t chunk_header[VD_CHUNK_HEADER_SIZE];
    uint32_t chunk_header_len;
    uint32_t chunk_port; /* port of the current chunk, while chunk_left > 0 */
    uint32_t chunk_left; /* data bytes left in the current chunk */
    bool skip_chunk;     /* the current chunk's port was reset: drop the rest of the chunk */
    PortState ports[N_PORTS];
};

void vd_chunk_reader_config_init(VdChunkReaderConfig *config)
{
    g_return_if_fail(config);
    *config = (VdChunkReaderConfig){
        .whole_max = VD_LIMIT_WHOLE_MESSAGE,
        .stream_max = VD_LIMIT_STREAMED_MESSAGE,
        .stream_mask = 1u << VD_MSG_CLIPBOARD | 1u << VD_MSG_FILE_XFER_DATA,
    };
}

VdChunkReader *vd_chunk_reader_new(const VdChunkReaderConfig *config)
{
    VdChunkReader *reader = g_new0(VdChunkReader, 1);

    if (config)
        reader->config = *config;
    else
        vd_chunk_reader_config_init(&reader->config);
    return reader;
}

void vd_chunk_reader_free(VdChunkReader *reader)
{
    if (!reader)
        return;
    for (size_t i = 0; i < N_PORTS; i++)
        g_free(reader->ports[i].buf);
    g_free(reader);
}

static void port_state_clear(PortState *ps)
{
    uint8_t *buf = ps->buf;
    size_t buf_size = ps->buf_size;
    uint32_t generation = ps->generation;

    *ps = (PortState){ .buf = buf, .buf_size = buf_size, .generation = generation };
}

void vd_chunk_reader_reset_port(VdChunkReader *reader, uint32_t port)
{
    g_return_if_fail(reader);
    PortState *ps;

    if (port != VD_PORT_CLIENT && port != VD_PORT_SERVER)
        return;
    ps = &reader->ports[port];
    /* A reset from a callback in the middle of a chunk of this port: the rest of that chunk
     * belongs to the message being forgotten. (At a message's end nothing is partial, and the
     * rest of the chunk starts the next message.) */
    if (ps->header_len > 0 && reader->chunk_left > 0 && reader->chunk_port == port)
        reader->skip_chunk = true;
    port_state_clear(ps);
    ps->generation++;
}

void vd_chunk_reader_reset(VdChunkReader *reader)
{
    g_return_if_fail(reader);
    for (size_t i = 0; i < N_PORTS; i++) {
        port_state_clear(&reader->ports[i]);
        reader->ports[i].generation++;
    }
    reader->chunk_header_len = 0;
    reader->chunk_port = 0;
    reader->chunk_left = 0;
    reader->skip_chunk = false;
}

bool vd_chunk_reader_in_message(const VdChunkReader *reader, uint32_t port)
{
    g_return_val_if_fail(reader, false);
    if (port != VD_PORT_CLIENT && port != VD_PORT_SERVER)
        return false;
    return reader->ports[port].header_len > 0;
}

const char *vd_read_error_code_to_string(VdReadErrorCode code)
{
    switch (code) {
    case VD_READ_OK: return "OK";
    case VD_READ_ERR_PORT: return "ERR_PORT";
    case VD_READ_ERR_CHUNK_SIZE: return "ERR_CHUNK_SIZE";
    case VD_READ_ERR_PROTOCOL: return "ERR_PROTOCOL";
    case VD_READ_ERR_TOO_LARGE: return "ERR_TOO_LARGE";
    case VD_READ_ERR_ABORTED: return "ERR_ABORTED";
    }
    return "UNKNOWN";
}

G_GNUC_PRINTF(6, 7)
static int fail(VdReadError *error, VdReadErrorCode code, uint32_t port, uint32_t value, uint64_t size,
                const char *fmt, ...)
{
    if (error) {
        va_list ap;

        error->code = code;
        error->port = port;
        error->value = value;
        error->size = size;
        va_start(ap, fmt);
        vsnprintf(error->message, sizeof(error->message), fmt, ap);
        va_end(ap);
    }
    return code == VD_READ_ERR_ABORTED ? -ECANCELED : -EBADMSG;
}

typedef struct {
    VdReadCallback callback;
    void *user_data;
    VdReadError *error;
} FeedCtx;

static int emit(const FeedCtx *ctx, VdReadEventKind kind, uint32_t port, const VdMsgHeader *header,
                const uint8_t *data, size_t len, uint64_t offset)
{
    VdReadEvent event = {
        .kind = kind,
        .port = port,
        .header = *header,
        .data = data,
        .len = len,
        .offset = offset,
    };
    int r = ctx->callback(&event, ctx->user_data);

    if (r != 0)
        return fail(ctx->error, VD_READ_ERR_ABORTED, port, (uint32_t)r, 0,
                    "port %u: the %s handler stopped the feed (%d)", port,
                    vd_msg_type_to_string(header->type), r);
    return 0;
}

/* Emits the event carrying a streamed message's last bytes, then its END, unless the callback
 * reset the port meanwhile (a message cut off by a reset gets no END). */
static int emit_last(VdChunkReader *reader, uint32_t port, VdReadEventKind kind, const VdMsgHeader *h,
                     const uint8_t *data, size_t len, uint64_t offset, const FeedCtx *ctx)
{
    uint32_t generation = reader->ports[port].generation;
    int r = emit(ctx, kind, port, h, data, len, offset);

    if (r < 0 || reader->ports[port].generation != generation)
        return r;
    return emit(ctx, VD_READ_END, port, h, NULL, 0, h->size);
}

static bool type_streamed(const VdChunkReaderConfig *config, uint32_t type)
{
    return type < 32 && (config->stream_mask >> type) & 1u;
}

/* The header of a message on port is complete: validate it and start the payload. */
static int start_message(VdChunkReader *reader, uint32_t port, const FeedCtx *ctx)
{
    PortState *ps = &reader->ports[port];
    VdMsgHeader h = {
        .protocol = vd_le32(ps->header_bytes),
        .type = vd_le32(ps->header_bytes + 4),
        .opaque = vd_le64(ps->header_bytes + 8),
        .size = vd_le32(ps->header_bytes + 16),
    };

    if (h.protocol != VD_PROTOCOL)
        return fail(ctx->error, VD_READ_ERR_PROTOCOL, port, h.protocol, 0,
                    "port %u: message header has protocol %u, expected %u", port, h.protocol, VD_PROTOCOL);

    ps->header = h;
    ps->streamed = type_streamed(&reader->config, h.type);
    if (ps->streamed && h.size > reader->config.stream_max)
        return fail(ctx->error, VD_READ_ERR_TOO_LARGE, port, h.type, h.size,
                    "port %u: %s (type %u) of %u bytes exceeds the streamed limit of %" G_GUINT64_FORMAT,
                    port, vd_msg_type_to_string(h.type), h.type, h.size, reader->config.stream_max);
    if (!ps->streamed && h.size > reader->config.whole_max)
        return fail(ctx->error, VD_READ_ERR_TOO_LARGE, port, h.type, h.size,
                    "port %u: %s (type %u) of %u bytes exceeds the limit of %u", port,
                    vd_msg_type_to_string(h.type), h.type, h.size, reader->config.whole_max);

    ps->in_payload = true;
    ps->received = 0;
    if (ps->streamed) {
        ps->head_want = MIN(h.size, VD_STREAM_HEAD);
    } else if (h.size > ps->buf_size) {
        /* Grow only: a port's buffer is bounded by whole_max and reused across messages. */
        g_free(ps->buf);
        ps->buf = g_malloc(h.size);
        ps->buf_size = h.size;
    }

    if (h.size > 0)
        return 0;
    /* Empty message: complete already. */
    port_state_clear(ps);
    if (!type_streamed(&reader->config, h.type))
        return emit(ctx, VD_READ_MESSAGE, port, &h, NULL, 0, 0);
    return emit_last(reader, port, VD_READ_BEGIN, &h, NULL, 0, 0, ctx);
}

/* Consumes a prefix of data (len > 0) of a chunk of port: one step of that port's message. */
static int port_step(VdChunkReader *reader, uint32_t port, const uint8_t *data, size_t len, size_t *ret_used,
                     const FeedCtx *ctx)
{
    PortState *ps = &reader->ports[port];
    size_t n;

    if (!ps->in_payload) {
        n = MIN(len, (size_t)(VD_MSG_HEADER_SIZE - ps->header_len));
        memcpy(ps->header_bytes + ps->header_len, data, n);
        ps->header_len += (uint32_t)n;
        *ret_used = n;
        if (ps->header_len < VD_MSG_HEADER_SIZE)
            return 0;
        return start_message(reader, port, ctx);
    }

    VdMsgHeader h = ps->header;
    uint64_t left = h.size - ps->received;

    n = (size_t)MIN((uint64_t)len, left);
    *ret_used = n;

    if (!ps->streamed) {
        memcpy(ps->buf + ps->received, data, n);
        ps->received += n;
        if (ps->received < h.size)
            return 0;
        port_state_clear(ps);
        /* port_state_clear keeps the buffer: data stays valid through the callback. */
        return emit(ctx, VD_READ_MESSAGE, port, &h, ps->buf, h.size, 0);
    }

    if (ps->received < ps->head_want) {
        n = MIN(n, (size_t)(ps->head_want - ps->received));
        memcpy(ps->head + ps->received, data, n);
        ps->received += n;
        *ret_used = n;
        if (ps->received < ps->head_want)
            return 0;
        uint8_t head[VD_STREAM_HEAD];
        uint32_t head_len = ps->head_want;
        memcpy(head, ps->head, head_len);
        if (ps->received < h.size)
            return emit(ctx, VD_READ_BEGIN, port, &h, head, head_len, 0);
        port_state_clear(ps);
        return emit_last(reader, port, VD_READ_BEGIN, &h, head, head_len, 0, ctx);
    }

    uint64_t offset = ps->received;
    ps->received += n;
    if (ps->received < h.size)
        return emit(ctx, VD_READ_DATA, port, &h, data, n, offset);
    port_state_clear(ps);
    return emit_last(reader, port, VD_READ_DATA, &h, data, n, offset, ctx);
}

int vd_chunk_reader_feed(VdChunkReader *reader, const uint8_t *buf, size_t len, VdReadCallback callback,
                         void *user_data, VdReadError *error)
{
    g_return_val_if_fail(reader && (buf || len == 0) && callback, -EINVAL);
    const FeedCtx ctx = { callback, user_data, error };

    while (len > 0) {
        if (reader->chunk_left == 0) {
            size_t n = MIN(len, (size_t)(VD_CHUNK_HEADER_SIZE - reader->chunk_header_len));
            memcpy(reader->chunk_header + reader->chunk_header_len, buf, n);
            reader->chunk_header_len += (uint32_t)n;
            buf += n;
            len -= n;
            if (reader->chunk_header_len < VD_CHUNK_HEADER_SIZE)
                break;
            reader->chunk_header_len = 0;

            uint32_t port = vd_le32(reader->chunk_header);
            uint32_t size = vd_le32(reader->chunk_header + 4);
            if (port != VD_PORT_CLIENT && port != VD_PORT_SERVER)
                return fail(error, VD_READ_ERR_PORT, port, port, 0,
                            "chunk on invalid port %u (of %u bytes)", port, size);
            if (size > VD_CHUNK_MAX_DATA)
                return fail(error, VD_READ_ERR_CHUNK_SIZE, port, size, 0,
                            "port %u: chunk of %u bytes exceeds the limit of %u", port, size,
                            VD_CHUNK_MAX_DATA);
            /* An empty chunk is harmless: nothing to do. */
            reader->chunk_port = port;
            reader->chunk_left = size;
            reader->skip_chunk = false;
            continue;
        }

        size_t avail = MIN(len, (size_t)reader->chunk_left);
        size_t used = avail;
        if (!reader->skip_chunk) {
            int r = port_step(reader, reader->chunk_port, buf, avail, &used, &ctx);
            if (r < 0)
                return r;
        }
        buf += used;
        len -= used;
        /* MIN: a callback that reset the whole reader (not allowed, see the header) must not wrap. */
        reader->chunk_left -= MIN((uint32_t)used, reader->chunk_left);
    }
    return 0;
}
