/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-chunk-reader.c — the chunk reader fed a fuzzed stream twice: whole, and in slices whose
 * lengths come from the input. Both runs must report the same messages (DATA pieces may be cut
 * differently, their bytes may not) and stop with the same error; every event must keep the
 * reader's promises (ports, sizes, offsets, BEGIN/DATA/END order, limits).
 *
 * Input: byte 0 = flags (bits 0-1: reader config; bit 2: a callback resets its port on each
 * BEGIN of port 2), byte 1 = number n of slice lengths (mod 16), then n bytes of slice lengths
 * (1..256, cycled), then the stream. */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk-reader.h"
#include "vd-limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    VdChunkReader *reader;
    const VdChunkReaderConfig *config;
    bool reset_on_begin;
    uint32_t hash;
    bool in_stream[3];
    uint64_t next_offset[3];
} Run;

static void mix(Run *run, const void *p, size_t len)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < len; i++)
        run->hash = (run->hash ^ b[i]) * 16777619u;
}

static void mix_event(Run *run, const VdReadEvent *e)
{
    uint8_t fields[1 + 4 + 4 + 8 + 4];

    fields[0] = (uint8_t)e->kind;
    memcpy(fields + 1, &e->port, 4);
    memcpy(fields + 5, &e->header.type, 4);
    memcpy(fields + 9, &e->header.opaque, 8);
    memcpy(fields + 17, &e->header.size, 4);
    mix(run, fields, sizeof(fields));
}

static bool streamed(const VdChunkReaderConfig *config, uint32_t type)
{
    return type < 32 && (config->stream_mask >> type) & 1u;
}

static int on_event(const VdReadEvent *e, void *user_data)
{
    Run *run = user_data;
    const VdMsgHeader *h = &e->header;
    uint32_t port = e->port;

    if ((port != VD_PORT_CLIENT && port != VD_PORT_SERVER) || h->protocol != VD_PROTOCOL)
        abort();
    /* During a callback the reader reports the state after the event's bytes: a message whose
     * last byte arrived is no longer in progress. */
    bool partial = (e->kind == VD_READ_BEGIN || e->kind == VD_READ_DATA) && e->offset + e->len < h->size;
    if (vd_chunk_reader_in_message(run->reader, port) != partial)
        abort();
    switch (e->kind) {
    case VD_READ_MESSAGE:
        if (run->in_stream[port] || streamed(run->config, h->type) || h->size > run->config->whole_max ||
            e->len != h->size || (e->len && !e->data))
            abort();
        mix_event(run, e);
        mix(run, e->data, e->len);
        break;
    case VD_READ_BEGIN:
        if (run->in_stream[port] || !streamed(run->config, h->type) || h->size > run->config->stream_max ||
            e->len != (h->size < VD_STREAM_HEAD ? h->size : VD_STREAM_HEAD) || e->offset != 0)
            abort();
        run->in_stream[port] = true;
        run->next_offset[port] = e->len;
        mix_event(run, e);
        mix(run, e->data, e->len);
        if (run->reset_on_begin && port == VD_PORT_SERVER) {
            vd_chunk_reader_reset_port(run->reader, port);
            run->in_stream[port] = false;
            if (vd_chunk_reader_in_message(run->reader, port))
                abort();
        }
        break;
    case VD_READ_DATA:
        if (!run->in_stream[port] || e->len == 0 || e->offset != run->next_offset[port] ||
            e->offset + e->len > h->size)
            abort();
        run->next_offset[port] += e->len;
        mix(run, e->data, e->len); /* the bytes, not where the pieces were cut */
        break;
    case VD_READ_END:
        if (!run->in_stream[port] || run->next_offset[port] != h->size || e->len != 0)
            abort();
        run->in_stream[port] = false;
        mix_event(run, e);
        break;
    default:
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VdChunkReaderConfig config;
    size_t n_slices;
    const uint8_t *slices;

    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    n_slices = data[1] % 16;
    if (size < 2 + n_slices)
        return 0;
    slices = data + 2;
    data += 2 + n_slices;
    size -= 2 + n_slices;

    vd_chunk_reader_config_init(&config);
    switch (flags & 3) {
    case 1: /* small limits, so that fuzzed sizes hit them */
        config.whole_max = 64;
        config.stream_max = 4096;
        break;
    case 2:
        config.stream_mask = 0xffffffffu;
        break;
    case 3:
        config.stream_mask = 0;
        break;
    default:
        break;
    }

    Run whole = { .config = &config, .reset_on_begin = flags & 4, .hash = 2166136261u };
    Run split = whole;
    VdReadError whole_error = { 0 }, split_error = { 0 };
    int whole_r, split_r = 0;

    whole.reader = vd_chunk_reader_new(&config);
    split.reader = vd_chunk_reader_new(&config);

    /* Exact-size copies: ASan catches a read past any slice. */
    g_autofree uint8_t *copy = g_malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    whole_r = vd_chunk_reader_feed(whole.reader, copy, size, on_event, &whole, &whole_error);

    for (size_t off = 0, k = 0; off < size && split_r == 0; k++) {
        size_t n = n_slices ? (size_t)slices[k % n_slices] + 1 : 1;
        if (n > size - off)
            n = size - off;
        g_autofree uint8_t *slice = g_memdup2(data + off, n);
        split_r = vd_chunk_reader_feed(split.reader, slice, n, on_event, &split, &split_error);
        off += n;
    }

    if (whole_r != split_r || whole.hash != split.hash)
        abort();
    if (whole_r != 0) {
        if (whole_error.code != split_error.code || whole_error.value != split_error.value ||
            whole_error.port != split_error.port || whole_error.size != split_error.size ||
            strcmp(whole_error.message, split_error.message) != 0 || whole_error.message[0] == '\0')
            abort();
        /* After a reset the reader takes a fresh stream. */
        vd_chunk_reader_reset(whole.reader);
        if (vd_chunk_reader_in_message(whole.reader, VD_PORT_CLIENT) ||
            vd_chunk_reader_in_message(whole.reader, VD_PORT_SERVER))
            abort();
    }

    vd_chunk_reader_free(whole.reader);
    vd_chunk_reader_free(split.reader);
    return 0;
}
