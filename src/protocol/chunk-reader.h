/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chunk-reader.h — incremental reassembly of the host's chunk stream.
 *
 * Fed arbitrary slices of the byte stream (one byte at a time works as well as a megabyte), it keeps
 * reassembly state per chunk port (ports 1 and 2 may interleave) and reports each message through a
 * callback:
 *   - a message of a type outside the config's stream_mask, of at most whole_max bytes, arrives
 *     whole as one VD_READ_MESSAGE event;
 *   - a message of a type in stream_mask arrives as VD_READ_BEGIN (carrying the payload's first
 *     min(size, VD_STREAM_HEAD) bytes), then VD_READ_DATA pieces (slices of the input, no copy), then
 *     VD_READ_END — so a 200 MiB CLIPBOARD passes without ever being held whole.
 * A chunk may end inside a message header or carry the end of one message and the start of the next.
 * Errors (bad port, chunk over 2048 bytes, protocol != 1, size over the limit) stop the feed and
 * name what was wrong; the caller decides whether to reset and resync or to reopen.
 * Pure code: no I/O, no globals, no logging.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vd-proto.h"

typedef struct {
    uint32_t protocol;
    uint32_t type;
    uint64_t opaque;
    uint32_t size; /* payload bytes */
} VdMsgHeader;

typedef enum {
    VD_READ_MESSAGE, /* whole message: data/len is the complete payload */
    VD_READ_BEGIN,   /* streamed message starts: data/len is its head (first ≤ VD_STREAM_HEAD bytes) */
    VD_READ_DATA,    /* next piece of the streamed payload, after the head: data/len, at offset */
    VD_READ_END,     /* streamed message complete (len 0) */
} VdReadEventKind;

typedef struct {
    VdReadEventKind kind;
    uint32_t port;
    VdMsgHeader header;
    const uint8_t *data; /* valid only during the callback */
    size_t len;
    uint64_t offset; /* of data within the payload */
} VdReadEvent;

typedef enum {
    VD_READ_OK = 0,
    VD_READ_ERR_PORT,        /* chunk port not 1 or 2 */
    VD_READ_ERR_CHUNK_SIZE,  /* chunk larger than VD_CHUNK_MAX_DATA (or 0, see below) */
    VD_READ_ERR_PROTOCOL,    /* message protocol field != VD_PROTOCOL */
    VD_READ_ERR_TOO_LARGE,   /* message size above the configured limit for its kind */
    VD_READ_ERR_ABORTED,     /* the callback returned non-zero */
} VdReadErrorCode;

typedef struct {
    VdReadErrorCode code;
    uint32_t port;      /* port of the offending chunk, when known */
    uint32_t value;     /* the offending value (port number, chunk size, protocol, message type) */
    uint64_t size;      /* for TOO_LARGE: the size the message claimed */
    char message[160];  /* human-readable, names what was wrong */
} VdReadError;

typedef struct {
    uint32_t whole_max;   /* largest non-streamed message (default VD_LIMIT_WHOLE_MESSAGE) */
    uint64_t stream_max;  /* largest streamed message (default VD_LIMIT_STREAMED_MESSAGE) */
    uint32_t stream_mask; /* bit t set: type t is streamed (default: CLIPBOARD and FILE_XFER_DATA) */
} VdChunkReaderConfig;

typedef struct VdChunkReader VdChunkReader;

/* Returns non-zero to stop the feed (reported as VD_READ_ERR_ABORTED with that value). */
typedef int (*VdReadCallback)(const VdReadEvent *event, void *user_data);

void vd_chunk_reader_config_init(VdChunkReaderConfig *config);
/* config may be NULL for the defaults. */
VdChunkReader *vd_chunk_reader_new(const VdChunkReaderConfig *config);
void vd_chunk_reader_free(VdChunkReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdChunkReader, vd_chunk_reader_free)

/* Consumes all of buf unless an error stops it. Returns 0, or -EBADMSG with *error filled (for
 * ABORTED: -ECANCELED). After an error the reader's state is undefined until a reset. */
int vd_chunk_reader_feed(VdChunkReader *reader, const uint8_t *buf, size_t len,
                         VdReadCallback callback, void *user_data, VdReadError *error);

/* Forget partial state: of one port (e.g. on CLIENT_DISCONNECTED) or of everything (reopen). A
 * streamed message cut off by a reset gets no END event: the caller drops what it forwarded.
 * reset_port() may be called from a callback (in the middle of a message it also drops the rest of
 * the current chunk); reset() and free() may not. */
void vd_chunk_reader_reset_port(VdChunkReader *reader, uint32_t port);
void vd_chunk_reader_reset(VdChunkReader *reader);

/* True while a message on port is partly received (for status and for cancelling forwards). Inside
 * a callback it counts the event's bytes: false once the message's last byte has arrived. */
bool vd_chunk_reader_in_message(const VdChunkReader *reader, uint32_t port);

const char *vd_read_error_code_to_string(VdReadErrorCode code);
