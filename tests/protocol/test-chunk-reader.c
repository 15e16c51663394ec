/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-chunk-reader.c — the chunk reader: the same two-port stream fed at every split point, one
 * byte at a time and in random slices gives the same messages; each error kind; limits hit exactly;
 * a large streamed message passes without being copied. */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "chunk-reader.h"
#include "test-util.h"
#include "vd-limits.h"


/* --- building streams --- */

static void put_chunk_header(GByteArray *a, uint32_t port, uint32_t size)
{
    put32(a, port);
    put32(a, size);
}

static void put_msg_header(GByteArray *a, uint32_t protocol, uint32_t type, uint64_t opaque, uint32_t size)
{
    put32(a, protocol);
    put32(a, type);
    put64(a, opaque);
    put32(a, size);
}

/* A message (header + payload) of one port's byte stream, before chunking; payload a pattern. */
static void put_pattern_message(GByteArray *a, uint32_t type, uint64_t opaque, uint32_t size, uint8_t seed)
{
    put_msg_header(a, VD_PROTOCOL, type, opaque, size);
    for (uint32_t i = 0; i < size; i++)
        put8(a, (uint8_t)(seed + i * 7));
}

/* Interleaves the two ports' streams into chunks of sizes cycling through a list (so chunks end
 * inside headers and carry the end of one message and the start of the next), with an empty chunk
 * now and then. */
static GByteArray *chunk_two_ports(const GByteArray *p1, const GByteArray *p2, const uint32_t *sizes,
                                   size_t n_sizes)
{
    GByteArray *out = g_byte_array_new();
    size_t o1 = 0, o2 = 0, k = 0;

    while (o1 < p1->len || o2 < p2->len) {
        bool port1 = (k % 3 != 2 && o1 < p1->len) || o2 >= p2->len;
        const GByteArray *src = port1 ? p1 : p2;
        size_t *off = port1 ? &o1 : &o2;
        uint32_t n = (uint32_t)MIN((size_t)sizes[k % n_sizes], src->len - *off);

        if (k % 5 == 4)
            put_chunk_header(out, port1 ? VD_PORT_SERVER : VD_PORT_CLIENT, 0);
        put_chunk_header(out, port1 ? VD_PORT_CLIENT : VD_PORT_SERVER, n);
        g_byte_array_append(out, src->data + *off, n);
        *off += n;
        k++;
    }
    return out;
}

/* --- recording events --- */

typedef struct {
    GString *log;          /* normalized: DATA pieces merged, so any split gives the same log */
    GByteArray *stream[3]; /* streamed payload being collected, per port */
    uint64_t next_offset[3];
    bool in_stream[3];
    size_t n_data_events;
    /* For the no-copy check: the slice being fed. */
    const uint8_t *feed_start;
    size_t feed_len;
    bool check_no_copy;
    int abort_at; /* return this at event number abort_after */
    size_t abort_after;
    size_t n_events;
} Recorder;

static void recorder_init(Recorder *r)
{
    memset(r, 0, sizeof(*r));
    r->log = g_string_new(NULL);
    for (int i = 0; i < 3; i++)
        r->stream[i] = g_byte_array_new();
}

static void recorder_clear(Recorder *r)
{
    g_string_free(r->log, TRUE);
    for (int i = 0; i < 3; i++)
        g_byte_array_unref(r->stream[i]);
}

static uint32_t checksum(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int record(const VdReadEvent *e, void *user_data)
{
    Recorder *r = user_data;
    uint32_t port = e->port;
    const VdMsgHeader *h = &e->header;

    g_assert_true(port == VD_PORT_CLIENT || port == VD_PORT_SERVER);
    g_assert_cmpuint(h->protocol, ==, VD_PROTOCOL);
    r->n_events++;
    switch (e->kind) {
    case VD_READ_MESSAGE:
        g_assert_false(r->in_stream[port]);
        g_assert_cmpuint(e->len, ==, h->size);
        g_assert_cmpuint(e->offset, ==, 0);
        g_string_append_printf(r->log, "MESSAGE port=%u type=%u opaque=%" G_GUINT64_FORMAT " size=%u sum=%08x\n",
                               port, h->type, h->opaque, h->size, checksum(e->data, e->len));
        break;
    case VD_READ_BEGIN:
        g_assert_false(r->in_stream[port]);
        g_assert_cmpuint(e->len, ==, MIN(h->size, VD_STREAM_HEAD));
        g_assert_cmpuint(e->offset, ==, 0);
        r->in_stream[port] = true;
        g_byte_array_set_size(r->stream[port], 0);
        if (e->len)
            g_byte_array_append(r->stream[port], e->data, (guint)e->len);
        r->next_offset[port] = e->len;
        g_string_append_printf(r->log, "BEGIN port=%u type=%u opaque=%" G_GUINT64_FORMAT " size=%u head=%08x\n",
                               port, h->type, h->opaque, h->size, checksum(e->data, e->len));
        break;
    case VD_READ_DATA:
        g_assert_true(r->in_stream[port]);
        g_assert_cmpuint(e->len, >, 0);
        g_assert_cmpuint(e->offset, ==, r->next_offset[port]);
        g_assert_cmpuint(e->offset + e->len, <=, h->size);
        if (r->check_no_copy) {
            /* The piece is a slice of what was fed, not a copy. */
            g_assert_true(e->data >= r->feed_start && e->data + e->len <= r->feed_start + r->feed_len);
        } else {
            g_byte_array_append(r->stream[port], e->data, (guint)e->len);
        }
        r->next_offset[port] += e->len;
        r->n_data_events++;
        break;
    case VD_READ_END:
        g_assert_true(r->in_stream[port]);
        g_assert_cmpuint(e->len, ==, 0);
        g_assert_cmpuint(r->next_offset[port], ==, h->size);
        r->in_stream[port] = false;
        g_string_append_printf(r->log, "END port=%u type=%u size=%u sum=%08x\n", port, h->type, h->size,
                               r->check_no_copy ? 0 : checksum(r->stream[port]->data, r->stream[port]->len));
        break;
    default:
        g_assert_not_reached();
    }
    if (r->abort_at && r->n_events == r->abort_after)
        return r->abort_at;
    return 0;
}

/* Feeds buf in slices (exact-size copies) ending at the given cut points. */
static int feed_cuts(VdChunkReader *reader, const GByteArray *buf, const size_t *cuts, size_t n_cuts,
                     Recorder *r, VdReadError *error)
{
    size_t start = 0;

    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : buf->len;
        g_autofree uint8_t *slice = exact_copy(buf->data + start, end - start);
        r->feed_start = slice;
        r->feed_len = end - start;
        int ret = vd_chunk_reader_feed(reader, slice, end - start, record, r, error);
        if (ret < 0)
            return ret;
        start = end;
    }
    return 0;
}

static char *log_of(const GByteArray *buf, const size_t *cuts, size_t n_cuts)
{
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    Recorder r;
    VdReadError error;

    recorder_init(&r);
    g_assert_cmpint(feed_cuts(reader, buf, cuts, n_cuts, &r, &error), ==, 0);
    g_assert_false(vd_chunk_reader_in_message(reader, VD_PORT_CLIENT));
    g_assert_false(vd_chunk_reader_in_message(reader, VD_PORT_SERVER));
    char *log = g_strdup(r.log->str);
    recorder_clear(&r);
    return log;
}

/* Port 1: a client's burst (caps, a streamed CLIPBOARD spanning several chunks, a zero-size
 * CLIPBOARD, FILE_XFER_DATA shorter than, equal to and longer than the head, an unknown type, a
 * whole MONITORS_CONFIG larger than a chunk); port 2: the server's mouse and device info. */
static GByteArray *sample_stream(void)
{
    g_autoptr(GByteArray) p1 = g_byte_array_new();
    g_autoptr(GByteArray) p2 = g_byte_array_new();
    static const uint32_t sizes[] = { 7, 2048, 1, 20, 300, 13, 1024, 2, 999 };

    put_pattern_message(p1, VD_MSG_ANNOUNCE_CAPABILITIES, 0, 8, 1);
    put_pattern_message(p1, VD_MSG_CLIPBOARD, 0x1122334455667788ull, 5000, 2);
    put_pattern_message(p1, VD_MSG_CLIPBOARD, 0, 0, 3);
    put_pattern_message(p1, VD_MSG_FILE_XFER_DATA, 0, 5, 4);
    put_pattern_message(p1, VD_MSG_FILE_XFER_DATA, 0, 12, 5);
    put_pattern_message(p1, VD_MSG_FILE_XFER_DATA, 0, 13, 6);
    put_pattern_message(p1, 99, 0, 3, 7);
    put_pattern_message(p1, VD_MSG_MONITORS_CONFIG, 0, 2500, 8);
    put_pattern_message(p1, VD_MSG_CLIENT_DISCONNECTED, 0, 0, 9);
    for (int i = 0; i < 4; i++)
        put_pattern_message(p2, VD_MSG_MOUSE_STATE, (uint64_t)i, 13, (uint8_t)(10 + i));
    put_pattern_message(p2, VD_MSG_GRAPHICS_DEVICE_INFO, 0, 34, 20);
    return chunk_two_ports(p1, p2, sizes, G_N_ELEMENTS(sizes));
}

static void test_whole_feed(void)
{
    g_autoptr(GByteArray) s = sample_stream();
    g_autofree char *log = log_of(s, NULL, 0);
    g_auto(GStrv) lines = g_strsplit(log, "\n", -1);

    /* 14 messages, 5 of them streamed (one more line each), and the empty string after the last \n. */
    g_assert_cmpuint(g_strv_length(lines), ==, 14 + 5 + 1);
    g_assert_true(g_str_has_prefix(log, "MESSAGE port=1 type=6 opaque=0 size=8"));
    g_assert_nonnull(strstr(log, "BEGIN port=1 type=4 opaque=1234605616436508552 size=5000"));
    g_assert_nonnull(strstr(log, "BEGIN port=1 type=4 opaque=0 size=0 head=811c9dc5\nEND port=1 type=4 size=0"));
    g_assert_nonnull(strstr(log, "MESSAGE port=1 type=99"));
    g_assert_nonnull(strstr(log, "MESSAGE port=1 type=2 opaque=0 size=2500"));
    g_assert_nonnull(strstr(log, "MESSAGE port=2 type=1 opaque=3 size=13"));
    g_assert_nonnull(strstr(log, "MESSAGE port=1 type=13 opaque=0 size=0"));
    if (g_test_verbose())
        g_printerr("%s", log);
}

static void test_every_split(void)
{
    g_autoptr(GByteArray) s = sample_stream();
    g_autofree char *expect = log_of(s, NULL, 0);

    for (size_t cut = 0; cut <= s->len; cut++) {
        g_autofree char *log = log_of(s, &cut, 1);
        if (strcmp(log, expect) != 0)
            g_error("split at %zu of %u gives a different event sequence", cut, s->len);
    }
}

static void test_every_two_splits_near_headers(void)
{
    g_autoptr(GByteArray) s = sample_stream();
    g_autofree char *expect = log_of(s, NULL, 0);

    /* Every way of cutting the first chunk header, message header and payload start in three. */
    for (size_t a = 0; a < 64; a++) {
        for (size_t b = a; b < 64; b++) {
            size_t cuts[2] = { a, b };
            g_autofree char *log = log_of(s, cuts, 2);
            g_assert_cmpstr(log, ==, expect);
        }
    }
}

static void test_byte_at_a_time(void)
{
    g_autoptr(GByteArray) s = sample_stream();
    g_autofree char *expect = log_of(s, NULL, 0);
    g_autofree size_t *cuts = g_new(size_t, s->len);

    for (size_t i = 0; i < s->len; i++)
        cuts[i] = i;
    g_autofree char *log = log_of(s, cuts, s->len);
    g_assert_cmpstr(log, ==, expect);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void test_random_splits(void)
{
    g_autoptr(GByteArray) s = sample_stream();
    g_autofree char *expect = log_of(s, NULL, 0);
    g_autoptr(GRand) rand = g_rand_new_with_seed(20261128);

    for (int trial = 0; trial < 300; trial++) {
        size_t n = (size_t)g_rand_int_range(rand, 1, 200);
        g_autofree size_t *cuts = g_new(size_t, n);
        for (size_t i = 0; i < n; i++)
            cuts[i] = (size_t)g_rand_int_range(rand, 0, (gint32)s->len + 1);
        qsort(cuts, n, sizeof(*cuts), cmp_size);
        g_autofree char *log = log_of(s, cuts, n);
        g_assert_cmpstr(log, ==, expect);
    }
}

/* A header split byte by byte across 1-byte chunks, with the other port's message in between. */
static void test_header_split_across_chunks(void)
{
    g_autoptr(GByteArray) msg = g_byte_array_new();
    g_autoptr(GByteArray) mouse = g_byte_array_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree char *expect = NULL;

    put_pattern_message(msg, VD_MSG_REPLY, 5, 8, 1);
    put_pattern_message(mouse, VD_MSG_MOUSE_STATE, 0, 13, 2);
    for (guint i = 0; i < msg->len; i++) {
        put_chunk_header(s, VD_PORT_CLIENT, 1);
        put8(s, msg->data[i]);
        if (i == 3) {
            put_chunk_header(s, VD_PORT_SERVER, mouse->len);
            g_byte_array_append(s, mouse->data, mouse->len);
        }
    }
    expect = g_strdup_printf("MESSAGE port=2 type=1 opaque=0 size=13 sum=%08x\n"
                             "MESSAGE port=1 type=3 opaque=5 size=8 sum=%08x\n",
                             checksum(mouse->data + 20, 13), checksum(msg->data + 20, 8));
    g_autofree char *log = log_of(s, NULL, 0);
    g_assert_cmpstr(log, ==, expect);
}

static void test_empty_chunks(void)
{
    /* Empty chunks on either port, anywhere between chunks, change nothing. */
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GByteArray) m = g_byte_array_new();
    g_autofree char *expect = NULL;

    put_pattern_message(m, VD_MSG_REPLY, 0, 8, 1);
    for (guint i = 0; i < m->len; i += 4) {
        put_chunk_header(s, VD_PORT_CLIENT, 0);
        put_chunk_header(s, VD_PORT_SERVER, 0);
        put_chunk_header(s, VD_PORT_CLIENT, 4);
        g_byte_array_append(s, m->data + i, 4);
    }
    put_chunk_header(s, VD_PORT_CLIENT, 0);
    expect = g_strdup_printf("MESSAGE port=1 type=3 opaque=0 size=8 sum=%08x\n", checksum(m->data + 20, 8));
    g_autofree char *log = log_of(s, NULL, 0);
    g_assert_cmpstr(log, ==, expect);
}

/* --- errors --- */

static int feed_with(const VdChunkReaderConfig *config, const GByteArray *s, VdReadError *error, Recorder *r)
{
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(config);
    return feed_cuts(reader, s, NULL, 0, r, error);
}

static void test_error_port(void)
{
    static const uint32_t bad[] = { 0, 3, 4, 0xffffffff };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GByteArray) s = g_byte_array_new();
        g_autofree char *want = g_strdup_printf("invalid port %u", bad[i]);
        Recorder r;
        VdReadError error = { 0 };

        put_chunk_header(s, bad[i], 4);
        put32(s, 0);
        recorder_init(&r);
        g_assert_cmpint(feed_with(NULL, s, &error, &r), ==, -EBADMSG);
        g_assert_cmpint(error.code, ==, VD_READ_ERR_PORT);
        g_assert_cmpuint(error.value, ==, bad[i]);
        g_assert_cmpuint(error.port, ==, bad[i]);
        g_assert_nonnull(strstr(error.message, want));
        g_assert_cmpuint(r.n_events, ==, 0);
        recorder_clear(&r);
    }
}

static void test_error_chunk_size(void)
{
    /* 2048 is the largest chunk; 2049 is refused as soon as its header is complete. */
    g_autoptr(GByteArray) ok = g_byte_array_new();
    g_autoptr(GByteArray) bad = g_byte_array_new();
    Recorder r;
    VdReadError error = { 0 };

    put_chunk_header(ok, VD_PORT_CLIENT, VD_CHUNK_MAX_DATA);
    put_pattern_message(ok, VD_MSG_CLIPBOARD, 0, VD_CHUNK_MAX_DATA - VD_MSG_HEADER_SIZE, 1);
    recorder_init(&r);
    g_assert_cmpint(feed_with(NULL, ok, &error, &r), ==, 0);
    g_assert_cmpuint(r.n_events, ==, 3);
    recorder_clear(&r);

    put_chunk_header(bad, VD_PORT_SERVER, VD_CHUNK_MAX_DATA + 1);
    recorder_init(&r);
    g_assert_cmpint(feed_with(NULL, bad, &error, &r), ==, -EBADMSG);
    g_assert_cmpint(error.code, ==, VD_READ_ERR_CHUNK_SIZE);
    g_assert_cmpuint(error.value, ==, VD_CHUNK_MAX_DATA + 1);
    g_assert_cmpuint(error.port, ==, VD_PORT_SERVER);
    g_assert_nonnull(strstr(error.message, "2049"));
    recorder_clear(&r);
}

static void test_error_protocol(void)
{
    static const uint32_t bad[] = { 0, 2, 0xffffffff };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GByteArray) s = g_byte_array_new();
        g_autofree char *want = g_strdup_printf("protocol %u", bad[i]);
        Recorder r;
        VdReadError error = { 0 };

        put_chunk_header(s, VD_PORT_CLIENT, 20);
        put_msg_header(s, bad[i], VD_MSG_REPLY, 0, 0);
        recorder_init(&r);
        g_assert_cmpint(feed_with(NULL, s, &error, &r), ==, -EBADMSG);
        g_assert_cmpint(error.code, ==, VD_READ_ERR_PROTOCOL);
        g_assert_cmpuint(error.value, ==, bad[i]);
        g_assert_cmpuint(error.port, ==, VD_PORT_CLIENT);
        g_assert_nonnull(strstr(error.message, want));
        g_assert_cmpuint(r.n_events, ==, 0);
        recorder_clear(&r);
    }
}

/* A message header alone (in one chunk, no payload): 0 if accepted so far. */
static int header_only(const VdChunkReaderConfig *config, uint32_t type, uint32_t size, VdReadError *error)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    Recorder r;
    int ret;

    put_chunk_header(s, VD_PORT_SERVER, 20);
    put_msg_header(s, VD_PROTOCOL, type, 0, size);
    recorder_init(&r);
    ret = feed_with(config, s, error, &r);
    recorder_clear(&r);
    return ret;
}

static void test_limits_default(void)
{
    VdReadError error = { 0 };

    g_assert_cmpint(header_only(NULL, VD_MSG_MONITORS_CONFIG, VD_LIMIT_WHOLE_MESSAGE, &error), ==, 0);
    g_assert_cmpint(header_only(NULL, VD_MSG_MONITORS_CONFIG, VD_LIMIT_WHOLE_MESSAGE + 1, &error), ==, -EBADMSG);
    g_assert_cmpint(error.code, ==, VD_READ_ERR_TOO_LARGE);
    g_assert_cmpuint(error.value, ==, VD_MSG_MONITORS_CONFIG);
    g_assert_cmpuint(error.size, ==, VD_LIMIT_WHOLE_MESSAGE + 1);
    g_assert_cmpuint(error.port, ==, VD_PORT_SERVER);
    g_assert_nonnull(strstr(error.message, "MONITORS_CONFIG"));
    g_assert_nonnull(strstr(error.message, "65537"));

    static const uint32_t streamed[] = { VD_MSG_CLIPBOARD, VD_MSG_FILE_XFER_DATA };
    for (size_t i = 0; i < G_N_ELEMENTS(streamed); i++) {
        uint32_t type = streamed[i];
        g_assert_cmpint(header_only(NULL, type, VD_LIMIT_STREAMED_MESSAGE, &error), ==, 0);
        g_assert_cmpint(header_only(NULL, type, VD_LIMIT_STREAMED_MESSAGE + 1, &error), ==, -EBADMSG);
        g_assert_cmpint(error.code, ==, VD_READ_ERR_TOO_LARGE);
        g_assert_cmpuint(error.value, ==, type);
        g_assert_cmpuint(error.size, ==, VD_LIMIT_STREAMED_MESSAGE + 1);
        g_assert_nonnull(strstr(error.message, vd_msg_type_to_string(type)));
    }
    /* Unknown types are whole messages too. */
    g_assert_cmpint(header_only(NULL, 1000, VD_LIMIT_WHOLE_MESSAGE + 1, &error), ==, -EBADMSG);
    g_assert_cmpuint(error.value, ==, 1000);
    g_assert_cmpint(header_only(NULL, 31, UINT32_MAX, &error), ==, -EBADMSG);
}

static void test_limits_config(void)
{
    VdChunkReaderConfig config;
    VdReadError error = { 0 };
    g_autoptr(GByteArray) s = g_byte_array_new();
    Recorder r;

    vd_chunk_reader_config_init(&config);
    g_assert_cmpuint(config.whole_max, ==, VD_LIMIT_WHOLE_MESSAGE);
    g_assert_cmpuint(config.stream_max, ==, VD_LIMIT_STREAMED_MESSAGE);
    g_assert_cmpuint(config.stream_mask, ==, 1u << VD_MSG_CLIPBOARD | 1u << VD_MSG_FILE_XFER_DATA);

    config.whole_max = 100;
    config.stream_max = 1000;
    config.stream_mask = 1u << VD_MSG_CLIPBOARD | 1u << 31;
    g_assert_cmpint(header_only(&config, VD_MSG_REPLY, 100, &error), ==, 0);
    g_assert_cmpint(header_only(&config, VD_MSG_REPLY, 101, &error), ==, -EBADMSG);
    g_assert_cmpint(header_only(&config, VD_MSG_FILE_XFER_DATA, 101, &error), ==, -EBADMSG);
    g_assert_cmpint(header_only(&config, VD_MSG_CLIPBOARD, 1000, &error), ==, 0);
    g_assert_cmpint(header_only(&config, VD_MSG_CLIPBOARD, 1001, &error), ==, -EBADMSG);
    g_assert_cmpint(header_only(&config, 31, 1000, &error), ==, 0);
    g_assert_cmpint(header_only(&config, 32, 101, &error), ==, -EBADMSG);

    /* A whole message of exactly whole_max is delivered whole. */
    put_chunk_header(s, VD_PORT_CLIENT, 120);
    put_pattern_message(s, VD_MSG_REPLY, 0, 100, 1);
    recorder_init(&r);
    g_assert_cmpint(feed_with(&config, s, &error, &r), ==, 0);
    g_assert_true(g_str_has_prefix(r.log->str, "MESSAGE port=1 type=3 opaque=0 size=100"));
    recorder_clear(&r);
}

static void test_error_aborted(void)
{
    g_autoptr(GByteArray) s = sample_stream();
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    Recorder r;
    VdReadError error = { 0 };

    recorder_init(&r);
    r.abort_at = 7;
    r.abort_after = 3;
    g_assert_cmpint(feed_cuts(reader, s, NULL, 0, &r, &error), ==, -ECANCELED);
    g_assert_cmpint(error.code, ==, VD_READ_ERR_ABORTED);
    g_assert_cmpuint(error.value, ==, 7);
    g_assert_cmpuint(r.n_events, ==, 3);
    g_assert_cmpuint(strlen(error.message), >, 0);
    recorder_clear(&r);
}

static void test_error_strings(void)
{
    for (int c = VD_READ_OK; c <= VD_READ_ERR_ABORTED; c++)
        g_assert_cmpstr(vd_read_error_code_to_string((VdReadErrorCode)c), !=, "UNKNOWN");
    g_assert_cmpstr(vd_read_error_code_to_string(VD_READ_ERR_TOO_LARGE), ==, "ERR_TOO_LARGE");
    g_assert_cmpstr(vd_read_error_code_to_string((VdReadErrorCode)99), ==, "UNKNOWN");
}

/* After an error, a reset makes the reader usable again. */
static void test_reset_after_error(void)
{
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    g_autoptr(GByteArray) bad = g_byte_array_new();
    g_autoptr(GByteArray) good = sample_stream();
    g_autofree char *expect = log_of(good, NULL, 0);
    Recorder r;
    VdReadError error;

    /* A message cut short by a chunk on an invalid port. */
    put_chunk_header(bad, VD_PORT_CLIENT, 24);
    put_pattern_message(bad, VD_MSG_REPLY, 0, 8, 1);
    g_byte_array_set_size(bad, bad->len - 4);
    put_chunk_header(bad, 9, 1);
    recorder_init(&r);
    g_assert_cmpint(feed_cuts(reader, bad, NULL, 0, &r, &error), ==, -EBADMSG);
    g_assert_cmpint(error.code, ==, VD_READ_ERR_PORT);
    g_assert_true(vd_chunk_reader_in_message(reader, VD_PORT_CLIENT));
    vd_chunk_reader_reset(reader);
    g_assert_false(vd_chunk_reader_in_message(reader, VD_PORT_CLIENT));
    g_string_truncate(r.log, 0);
    g_assert_cmpint(feed_cuts(reader, good, NULL, 0, &r, &error), ==, 0);
    g_assert_cmpstr(r.log->str, ==, expect);
    recorder_clear(&r);
}

static void test_reset_port(void)
{
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    g_autoptr(GByteArray) part = g_byte_array_new();
    g_autoptr(GByteArray) mouse = g_byte_array_new();
    g_autoptr(GByteArray) reply = g_byte_array_new();
    g_autoptr(GByteArray) rest = g_byte_array_new();
    g_autofree char *expect = NULL;
    Recorder r;
    VdReadError error;

    g_assert_false(vd_chunk_reader_in_message(reader, 0));
    g_assert_false(vd_chunk_reader_in_message(reader, 3));
    /* Port 1: part of a streamed CLIPBOARD; port 2: half of a mouse message header. */
    put_chunk_header(part, VD_PORT_CLIENT, 100);
    put_msg_header(part, VD_PROTOCOL, VD_MSG_CLIPBOARD, 0, 1000);
    for (int i = 0; i < 80; i++)
        put8(part, 0x55);
    put_pattern_message(mouse, VD_MSG_MOUSE_STATE, 0, 13, 3);
    put_chunk_header(part, VD_PORT_SERVER, 10);
    g_byte_array_append(part, mouse->data, 10);
    recorder_init(&r);
    g_assert_cmpint(feed_cuts(reader, part, NULL, 0, &r, &error), ==, 0);
    g_assert_true(vd_chunk_reader_in_message(reader, VD_PORT_CLIENT));
    g_assert_true(vd_chunk_reader_in_message(reader, VD_PORT_SERVER));
    g_assert_true(r.in_stream[VD_PORT_CLIENT]);

    /* The client went away: forget port 1 only (no END). Port 2 carries on. */
    vd_chunk_reader_reset_port(reader, VD_PORT_CLIENT);
    vd_chunk_reader_reset_port(reader, 7); /* ignored */
    r.in_stream[VD_PORT_CLIENT] = false;
    g_assert_false(vd_chunk_reader_in_message(reader, VD_PORT_CLIENT));
    g_assert_true(vd_chunk_reader_in_message(reader, VD_PORT_SERVER));
    put_chunk_header(rest, VD_PORT_SERVER, mouse->len - 10);
    g_byte_array_append(rest, mouse->data + 10, mouse->len - 10);
    put_pattern_message(reply, VD_MSG_REPLY, 9, 8, 1);
    put_chunk_header(rest, VD_PORT_CLIENT, reply->len);
    g_byte_array_append(rest, reply->data, reply->len);
    g_string_truncate(r.log, 0);
    g_assert_cmpint(feed_cuts(reader, rest, NULL, 0, &r, &error), ==, 0);
    expect = g_strdup_printf("MESSAGE port=2 type=1 opaque=0 size=13 sum=%08x\n"
                             "MESSAGE port=1 type=3 opaque=9 size=8 sum=%08x\n",
                             checksum(mouse->data + 20, 13), checksum(reply->data + 20, 8));
    g_assert_cmpstr(r.log->str, ==, expect);
    recorder_clear(&r);
}

/* A callback that resets its own port mid-chunk: the rest of that chunk is dropped, the next chunk
 * starts a fresh message. */
typedef struct {
    VdChunkReader *reader;
    GString *log;
} ResetCtx;

static int reset_on_begin(const VdReadEvent *e, void *user_data)
{
    ResetCtx *ctx = user_data;

    g_string_append_printf(ctx->log, "%d:%u ", e->kind, e->header.type);
    if (e->kind == VD_READ_BEGIN)
        vd_chunk_reader_reset_port(ctx->reader, e->port);
    return 0;
}

static void test_reset_port_in_callback(void)
{
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GString) log = g_string_new(NULL);
    ResetCtx ctx = { reader, log };
    VdReadError error;

    put_chunk_header(s, VD_PORT_CLIENT, 100);
    put_msg_header(s, VD_PROTOCOL, VD_MSG_CLIPBOARD, 0, 1000);
    for (int i = 0; i < 80; i++)
        put8(s, 0x55);
    put_chunk_header(s, VD_PORT_CLIENT, 28);
    put_pattern_message(s, VD_MSG_REPLY, 0, 8, 1);
    g_assert_cmpint(vd_chunk_reader_feed(reader, s->data, s->len, reset_on_begin, &ctx, &error), ==, 0);
    g_assert_cmpstr(log->str, ==, "1:4 0:3 ");
    g_assert_false(vd_chunk_reader_in_message(reader, VD_PORT_CLIENT));
}

/* A reset from the callback of a message's last bytes: no END follows, and the next message in
 * the same chunk is still read (nothing partial was forgotten). */
static void test_reset_port_at_message_end(void)
{
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    g_autoptr(GByteArray) msgs = g_byte_array_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GString) log = g_string_new(NULL);
    ResetCtx ctx = { reader, log };
    VdReadError error;

    put_pattern_message(msgs, VD_MSG_CLIPBOARD, 0, 0, 1);  /* BEGIN, (END) */
    put_pattern_message(msgs, VD_MSG_CLIPBOARD, 0, 5, 2);  /* BEGIN with all 5 bytes, (END) */
    put_pattern_message(msgs, VD_MSG_REPLY, 0, 8, 3);
    put_chunk_header(s, VD_PORT_CLIENT, msgs->len);
    g_byte_array_append(s, msgs->data, msgs->len);
    g_assert_cmpint(vd_chunk_reader_feed(reader, s->data, s->len, reset_on_begin, &ctx, &error), ==, 0);
    g_assert_cmpstr(log->str, ==, "1:4 1:4 0:3 ");
}

/* --- streaming a large message without holding it --- */

static void test_stream_8mib(void)
{
    const uint32_t size = 8 * VD_MiB;
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    g_autoptr(GByteArray) s = g_byte_array_new();
    Recorder r;
    VdReadError error;
    uint32_t written = 0;
    uint32_t sum = 2166136261u;

    /* The framed stream: header in the first chunk, then 2048-byte chunks. */
    put_chunk_header(s, VD_PORT_CLIENT, VD_CHUNK_MAX_DATA);
    put_msg_header(s, VD_PROTOCOL, VD_MSG_CLIPBOARD, 0, size);
    while (written < size) {
        uint32_t room = written == 0 ? VD_CHUNK_MAX_DATA - VD_MSG_HEADER_SIZE : VD_CHUNK_MAX_DATA;
        uint32_t n = MIN(size - written, room);
        if (written > 0)
            put_chunk_header(s, VD_PORT_CLIENT, n);
        for (uint32_t i = 0; i < n; i++)
            put8(s, (uint8_t)((written + i) * 13));
        written += n;
    }
    for (uint32_t i = 0; i < VD_STREAM_HEAD; i++)
        sum = (sum ^ (uint8_t)(i * 13)) * 16777619u;

    recorder_init(&r);
    r.check_no_copy = true;
    for (size_t off = 0; off < s->len; off += 64 * VD_KiB) {
        size_t n = MIN((size_t)64 * VD_KiB, s->len - off);
        r.feed_start = s->data + off;
        r.feed_len = n;
        g_assert_cmpint(vd_chunk_reader_feed(reader, s->data + off, n, record, &r, &error), ==, 0);
        if (off + n < s->len)
            g_assert_true(vd_chunk_reader_in_message(reader, VD_PORT_CLIENT));
    }
    g_assert_false(r.in_stream[VD_PORT_CLIENT]);
    g_assert_cmpuint(r.next_offset[VD_PORT_CLIENT], ==, size);
    /* About one piece per chunk, never one per byte. */
    g_assert_cmpuint(r.n_data_events, >=, size / VD_CHUNK_MAX_DATA);
    g_assert_cmpuint(r.n_data_events, <=, size / VD_CHUNK_MAX_DATA + s->len / (64 * VD_KiB) + 2);
    g_autofree char *expect = g_strdup_printf("BEGIN port=1 type=4 opaque=0 size=8388608 head=%08x\n"
                                              "END port=1 type=4 size=8388608 sum=00000000\n", sum);
    g_assert_cmpstr(r.log->str, ==, expect);
    recorder_clear(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chunk-reader/stream/whole", test_whole_feed);
    g_test_add_func("/chunk-reader/stream/every-split", test_every_split);
    g_test_add_func("/chunk-reader/stream/two-splits-near-headers", test_every_two_splits_near_headers);
    g_test_add_func("/chunk-reader/stream/byte-at-a-time", test_byte_at_a_time);
    g_test_add_func("/chunk-reader/stream/random-splits", test_random_splits);
    g_test_add_func("/chunk-reader/stream/header-across-chunks", test_header_split_across_chunks);
    g_test_add_func("/chunk-reader/stream/empty-chunks", test_empty_chunks);
    g_test_add_func("/chunk-reader/error/port", test_error_port);
    g_test_add_func("/chunk-reader/error/chunk-size", test_error_chunk_size);
    g_test_add_func("/chunk-reader/error/protocol", test_error_protocol);
    g_test_add_func("/chunk-reader/error/aborted", test_error_aborted);
    g_test_add_func("/chunk-reader/error/strings", test_error_strings);
    g_test_add_func("/chunk-reader/limits/default", test_limits_default);
    g_test_add_func("/chunk-reader/limits/config", test_limits_config);
    g_test_add_func("/chunk-reader/reset/after-error", test_reset_after_error);
    g_test_add_func("/chunk-reader/reset/port", test_reset_port);
    g_test_add_func("/chunk-reader/reset/port-in-callback", test_reset_port_in_callback);
    g_test_add_func("/chunk-reader/reset/port-at-message-end", test_reset_port_at_message_end);
    g_test_add_func("/chunk-reader/stream-8mib-no-copy", test_stream_8mib);
    return g_test_run();
}
