/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chunk-writer.h — framing our messages for the host.
 *
 * The rule both host implementations enforce: one message per chunk sequence, the whole 20-byte
 * header inside the first chunk, chunks of at most VD_CHUNK_MAX_DATA bytes, on port 1. The writer
 * appends framed bytes to a GByteArray (the caller's output queue) and can stream a large payload
 * piece by piece: begin() with the total size, then any number of write() calls adding up to it.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t port;       /* VD_PORT_CLIENT for everything we send */
    uint32_t remaining;  /* payload bytes still owed for the current message */
    uint32_t chunk_left; /* bytes left in the chunk currently being filled */
    bool active;
} VdChunkWriter;

void vd_chunk_writer_init(VdChunkWriter *writer);

/* Starts a message of type with size payload bytes: appends the first chunk header and the
 * message header. Returns -EBUSY if a message is still incomplete. */
int vd_chunk_writer_begin(VdChunkWriter *writer, GByteArray *out, uint32_t type, uint32_t size);
/* Appends len more payload bytes. Returns -EMSGSIZE (and appends nothing) if that is more than
 * the message still owes, -EINVAL if no message was begun. The message ends by itself when all
 * size bytes were written. */
int vd_chunk_writer_write(VdChunkWriter *writer, GByteArray *out, const void *data, size_t len);
/* True while a begun message still owes payload. */
bool vd_chunk_writer_busy(const VdChunkWriter *writer);
/* Abandoning a message half-way is impossible on the wire; this only resets local state after the
 * port was closed. */
void vd_chunk_writer_reset(VdChunkWriter *writer);

/* One whole message in one call (begin + write). */
int vd_frame_message(GByteArray *out, uint32_t type, const void *payload, uint32_t len);
/* Bytes on the wire for a message of payload len. */
uint64_t vd_framed_size(uint32_t len);
