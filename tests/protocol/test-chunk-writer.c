/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-chunk-writer.c — the framing rule checked byte by byte at the chunk boundaries, streaming in
 * any piece sizes giving the same bytes, misuse refused, and writer output read back by the reader. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "chunk-reader.h"
#include "chunk-writer.h"
#include "test-util.h"
#include "vd-limits.h"


static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 31 + 7);
}

static GByteArray *payload_of(uint32_t len)
{
    GByteArray *a = g_byte_array_sized_new(len);

    for (uint32_t i = 0; i < len; i++)
        put8(a, pattern(i));
    return a;
}

/* The rule written out independently: the first chunk holds the 20-byte header and up to 2028
 * payload bytes, the next ones up to 2048, all on port 1. */
static GByteArray *expected_frames(uint32_t type, const GByteArray *payload)
{
    GByteArray *a = g_byte_array_new();
    uint32_t first = MIN(payload->len, 2048u - 20u);
    size_t off;

    put32(a, 1);
    put32(a, 20 + first);
    put32(a, 1);
    put32(a, type);
    put64(a, 0);
    put32(a, payload->len);
    g_byte_array_append(a, payload->data, first);
    for (off = first; off < payload->len; off += 2048) {
        uint32_t n = (uint32_t)MIN((size_t)2048, payload->len - off);
        put32(a, 1);
        put32(a, n);
        g_byte_array_append(a, payload->data + off, n);
    }
    return a;
}

static const uint32_t sizes[] = {
    0, 1, 2027, 2028, 2029, 2047, 2048, 2049, 4075, 4076, 4077, 4096, 6124, 6125, 65536, 100000,
};

static void test_framing(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autoptr(GByteArray) payload = payload_of(sizes[i]);
        g_autoptr(GByteArray) expect = expected_frames(VD_MSG_CLIPBOARD, payload);
        g_autoptr(GByteArray) out = g_byte_array_new();

        g_assert_cmpint(vd_frame_message(out, VD_MSG_CLIPBOARD, payload->data, payload->len), ==, 0);
        assert_bytes_equal(out->data, out->len, expect->data, expect->len);
        g_assert_cmpuint(vd_framed_size(sizes[i]), ==, out->len);
    }
}

static void test_boundaries_literal(void)
{
    /* Spelled out: 0 bytes is one chunk of the bare header. */
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GByteArray) zero = hex("01000000 14000000  01000000 0d000000 0000000000000000 00000000");

    g_assert_cmpint(vd_frame_message(out, VD_MSG_CLIENT_DISCONNECTED, NULL, 0), ==, 0);
    assert_bytes_equal(out->data, out->len, zero->data, zero->len);

    /* 2028: exactly one full chunk. 2029: a full chunk and a 1-byte chunk. 2048: 2028 + 20. */
    static const struct {
        uint32_t len;
        uint32_t chunks[3];
    } b[] = {
        { 2028, { 2048, 0, 0 } },
        { 2029, { 2048, 1, 0 } },
        { 2048, { 2048, 20, 0 } },
        { 4077, { 2048, 2048, 1 } },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(b); i++) {
        g_autoptr(GByteArray) payload = payload_of(b[i].len);
        size_t off = 0;

        g_byte_array_set_size(out, 0);
        g_assert_cmpint(vd_frame_message(out, VD_MSG_CLIPBOARD, payload->data, payload->len), ==, 0);
        for (int c = 0; c < 3 && b[i].chunks[c]; c++) {
            g_assert_cmpuint(off + 8, <=, out->len);
            g_assert_cmpuint(vd_le32(out->data + off), ==, VD_PORT_CLIENT);
            g_assert_cmpuint(vd_le32(out->data + off + 4), ==, b[i].chunks[c]);
            off += 8 + b[i].chunks[c];
        }
        g_assert_cmpuint(off, ==, out->len);
    }
}

static void test_streamed_pieces(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autoptr(GByteArray) payload = payload_of(sizes[i]);
        g_autoptr(GByteArray) expect = expected_frames(VD_MSG_FILE_XFER_DATA, payload);

        for (int trial = 0; trial < 5; trial++) {
            g_autoptr(GByteArray) out = g_byte_array_new();
            VdChunkWriter w;
            size_t off = 0;

            vd_chunk_writer_init(&w);
            g_assert_false(vd_chunk_writer_busy(&w));
            g_assert_cmpint(vd_chunk_writer_begin(&w, out, VD_MSG_FILE_XFER_DATA, payload->len), ==, 0);
            g_assert_cmpint(vd_chunk_writer_busy(&w), ==, payload->len > 0);
            while (off < payload->len) {
                /* Pieces from 0 bytes to more than a chunk; trial 0 writes 1 byte at a time. */
                size_t n = trial == 0 ? 1 : (size_t)g_rand_int_range(rand, 0, 5000);
                n = MIN(n, payload->len - off);
                g_assert_cmpint(vd_chunk_writer_write(&w, out, payload->data + off, n), ==, 0);
                off += n;
            }
            g_assert_false(vd_chunk_writer_busy(&w));
            assert_bytes_equal(out->data, out->len, expect->data, expect->len);
        }
    }
}

static void test_misuse(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    VdChunkWriter w;
    uint8_t buf[16] = { 0 };
    guint len;

    vd_chunk_writer_init(&w);
    g_assert_cmpuint(w.port, ==, VD_PORT_CLIENT);
    /* Writing without a message. */
    g_assert_cmpint(vd_chunk_writer_write(&w, out, buf, 1), ==, -EINVAL);
    g_assert_cmpuint(out->len, ==, 0);
    g_assert_cmpint(vd_chunk_writer_begin(&w, out, VD_MSG_CLIPBOARD, 10), ==, 0);
    len = out->len;
    /* A second message while the first still owes bytes. */
    g_assert_cmpint(vd_chunk_writer_begin(&w, out, VD_MSG_REPLY, 8), ==, -EBUSY);
    g_assert_cmpuint(out->len, ==, len);
    /* More than owed: refused, nothing appended, the message continues. */
    g_assert_cmpint(vd_chunk_writer_write(&w, out, buf, 11), ==, -EMSGSIZE);
    g_assert_cmpuint(out->len, ==, len);
    g_assert_cmpint(vd_chunk_writer_write(&w, out, buf, 6), ==, 0);
    g_assert_cmpint(vd_chunk_writer_write(&w, out, buf, 5), ==, -EMSGSIZE);
    g_assert_cmpint(vd_chunk_writer_write(&w, out, buf, 0), ==, 0);
    g_assert_cmpint(vd_chunk_writer_write(&w, out, buf, 4), ==, 0);
    g_assert_false(vd_chunk_writer_busy(&w));
    g_assert_cmpint(vd_chunk_writer_write(&w, out, buf, 1), ==, -EINVAL);
    g_assert_cmpuint(out->len, ==, 8 + 20 + 10);
    /* reset drops a half-written message (the port was closed). */
    g_assert_cmpint(vd_chunk_writer_begin(&w, out, VD_MSG_CLIPBOARD, 10), ==, 0);
    g_assert_true(vd_chunk_writer_busy(&w));
    vd_chunk_writer_reset(&w);
    g_assert_false(vd_chunk_writer_busy(&w));
    g_assert_cmpuint(w.port, ==, VD_PORT_CLIENT);
    g_assert_cmpint(vd_chunk_writer_begin(&w, out, VD_MSG_REPLY, 0), ==, 0);
    g_assert_false(vd_chunk_writer_busy(&w));
}

static void test_framed_size(void)
{
    g_assert_cmpuint(vd_framed_size(0), ==, 28);
    g_assert_cmpuint(vd_framed_size(2028), ==, 2056);
    g_assert_cmpuint(vd_framed_size(2029), ==, 2056 + 9);
    /* The largest message: no overflow. */
    uint64_t total = 20ull + UINT32_MAX;
    g_assert_cmpuint(vd_framed_size(UINT32_MAX), ==, total + 8 * ((total + 2047) / 2048));
}

/* --- writer output through the reader --- */

typedef struct {
    GByteArray *got;
    uint64_t base; /* payload offset of got->data[0] */
    uint32_t type;
    int n_begin, n_end, n_message;
} Collect;

static int collect(const VdReadEvent *e, void *user_data)
{
    Collect *c = user_data;

    g_assert_cmpuint(e->port, ==, VD_PORT_CLIENT);
    c->type = e->header.type;
    switch (e->kind) {
    case VD_READ_MESSAGE:
        c->n_message++;
        g_byte_array_append(c->got, e->data, (guint)e->len);
        break;
    case VD_READ_BEGIN:
        c->n_begin++;
        G_GNUC_FALLTHROUGH;
    case VD_READ_DATA:
        g_assert_cmpuint(e->offset, ==, c->base + c->got->len);
        if (e->len)
            g_byte_array_append(c->got, e->data, (guint)e->len);
        break;
    case VD_READ_END:
        c->n_end++;
        g_assert_cmpuint(c->base + c->got->len, ==, e->header.size);
        break;
    }
    return 0;
}

static void test_read_back(void)
{
    static const uint32_t types[] = { VD_MSG_CLIPBOARD, VD_MSG_REPLY, VD_MSG_FILE_XFER_DATA, 77 };

    for (size_t t = 0; t < G_N_ELEMENTS(types); t++) {
        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
            g_autoptr(GByteArray) payload = payload_of(sizes[i]);
            g_autoptr(GByteArray) out = g_byte_array_new();
            g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
            g_autoptr(GByteArray) got = g_byte_array_new();
            Collect c = { .got = got };
            VdReadError error;
            bool streamed = types[t] == VD_MSG_CLIPBOARD || types[t] == VD_MSG_FILE_XFER_DATA;

            g_assert_cmpint(vd_frame_message(out, types[t], payload->data, payload->len), ==, 0);
            if (!streamed && sizes[i] > VD_LIMIT_WHOLE_MESSAGE) {
                g_assert_cmpint(vd_chunk_reader_feed(reader, out->data, out->len, collect, &c, &error), ==,
                                -EBADMSG);
                g_assert_cmpint(error.code, ==, VD_READ_ERR_TOO_LARGE);
                continue;
            }
            g_assert_cmpint(vd_chunk_reader_feed(reader, out->data, out->len, collect, &c, &error), ==, 0);
            g_assert_cmpuint(c.type, ==, types[t]);
            g_assert_cmpint(c.n_message, ==, streamed ? 0 : 1);
            g_assert_cmpint(c.n_begin, ==, streamed ? 1 : 0);
            g_assert_cmpint(c.n_end, ==, streamed ? 1 : 0);
            assert_bytes_equal(got->data, got->len, payload->data, payload->len);
        }
    }
}

/* 8 MiB streamed through writer and reader in 64 KiB pieces: neither side holds it whole. */
static void test_read_back_8mib(void)
{
    const uint32_t size = 8 * VD_MiB;
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GByteArray) piece = g_byte_array_new();
    g_autoptr(GByteArray) got = g_byte_array_new();
    Collect c = { .got = got };
    VdChunkWriter w;
    VdReadError error;
    uint64_t framed = 0;

    g_byte_array_set_size(piece, 64 * VD_KiB);
    vd_chunk_writer_init(&w);
    g_assert_cmpint(vd_chunk_writer_begin(&w, out, VD_MSG_CLIPBOARD, size), ==, 0);
    for (uint32_t off = 0; off < size; off += piece->len) {
        for (guint i = 0; i < piece->len; i++)
            piece->data[i] = pattern(off + i);
        g_assert_cmpint(vd_chunk_writer_write(&w, out, piece->data, piece->len), ==, 0);
        /* The writer's output for one piece stays about one piece. */
        g_assert_cmpuint(out->len, <=, piece->len + 20 + 8 * (piece->len / 2048 + 2));
        framed += out->len;
        g_assert_cmpint(vd_chunk_reader_feed(reader, out->data, out->len, collect, &c, &error), ==, 0);
        g_byte_array_set_size(out, 0);
        /* Check and drop what arrived so far: the test does not hold it either. */
        for (guint i = 0; i < got->len; i++)
            if (got->data[i] != pattern(c.base + i))
                g_error("byte %" G_GUINT64_FORMAT " differs", c.base + i);
        c.base += got->len;
        g_byte_array_set_size(got, 0);
    }
    g_assert_false(vd_chunk_writer_busy(&w));
    g_assert_cmpint(c.n_begin, ==, 1);
    g_assert_cmpint(c.n_end, ==, 1);
    g_assert_cmpuint(c.base, ==, size);
    g_assert_cmpuint(framed, ==, vd_framed_size(size));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chunk-writer/framing", test_framing);
    g_test_add_func("/chunk-writer/boundaries", test_boundaries_literal);
    g_test_add_func("/chunk-writer/streamed-pieces", test_streamed_pieces);
    g_test_add_func("/chunk-writer/misuse", test_misuse);
    g_test_add_func("/chunk-writer/framed-size", test_framed_size);
    g_test_add_func("/chunk-writer/read-back", test_read_back);
    g_test_add_func("/chunk-writer/read-back-8mib", test_read_back_8mib);
    return g_test_run();
}
