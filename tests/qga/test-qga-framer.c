/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-qga-framer.c — unit tests of the QEMU guest agent stream splitter (src/system/qga-framer.c). */
#include <string.h>

#include "qga-framer.h"

typedef struct {
    VdQgaFrameEvent event;
    char *object; /* for VD_QGA_FRAME_OBJECT */
} Event;

/* Feeds text in chunks of chunk bytes and records every event. */
static GArray *feed_all(VdQgaFramer *framer, const char *text, gsize len, gsize chunk)
{
    GArray *events = g_array_new(FALSE, TRUE, sizeof(Event));
    for (gsize off = 0; off < len;) {
        gsize n = MIN(chunk, len - off);
        gsize pos = 0;
        while (pos < n) {
            VdQgaFrameEvent ev;
            gsize used = vd_qga_framer_feed(framer, (const guint8 *) text + off + pos, n - pos, &ev);
            g_assert_cmpuint(used, >, 0);
            g_assert_cmpuint(used, <=, n - pos);
            pos += used;
            if (ev == VD_QGA_FRAME_NONE) {
                g_assert_cmpuint(pos, ==, n);
                continue;
            }
            Event e = {ev, NULL};
            if (ev == VD_QGA_FRAME_OBJECT) {
                gsize olen;
                const char *data = vd_qga_framer_object(framer, &olen);
                e.object = g_strndup(data, olen);
            }
            g_array_append_val(events, e);
        }
        off += n;
    }
    return events;
}

static void free_events(GArray *events)
{
    for (guint i = 0; i < events->len; i++)
        g_free(g_array_index(events, Event, i).object);
    g_array_unref(events);
}

static void check(const char *text, gsize len, gsize max_size, const char *expect)
{
    /* Every chunking must give the same events. */
    for (gsize chunk = 1; chunk <= len + 1; chunk = chunk < 8 ? chunk + 1 : chunk * 3) {
        g_autoptr(VdQgaFramer) framer = vd_qga_framer_new(max_size, 4);
        GArray *events = feed_all(framer, text, len, chunk);
        g_autoptr(GString) got = g_string_new(NULL);
        for (guint i = 0; i < events->len; i++) {
            Event *e = &g_array_index(events, Event, i);
            if (got->len)
                g_string_append_c(got, ' ');
            if (e->event == VD_QGA_FRAME_OBJECT)
                g_string_append(got, e->object);
            else
                g_string_append(got, vd_qga_frame_event_to_string(e->event));
        }
        g_assert_cmpstr(got->str, ==, expect);
        free_events(events);
    }
}

#define CHECK(text, max, expect) check(text, sizeof(text) - 1, max, expect)

static void test_objects(void)
{
    CHECK("{\"a\":1}", 100, "{\"a\":1}");
    CHECK("{\"a\":1}{\"b\":[2,{}]}\n", 100, "{\"a\":1} {\"b\":[2,{}]}");
    CHECK("  \n\t{}\r\n{ }", 100, "{} { }");
    /* Braces and quotes inside strings do not count. */
    CHECK("{\"x\":\"}{\\\"}\"}{}", 100, "{\"x\":\"}{\\\"}\"} {}");
    /* Incomplete object: no event yet. */
    CHECK("{\"a\":", 100, "");
}

static void test_junk(void)
{
    /* One JUNK per run, whatever its length; the object after it is found. */
    CHECK("garbage here{}", 100, "junk {}");
    CHECK("x{}y{}", 100, "junk {} junk {}");
    CHECK("[1]{}", 100, "junk {}");
    CHECK("}}", 100, "junk");
}

static void test_resync(void)
{
    CHECK("{\"a\":\xff{}", 100, "resync {}");
    CHECK("junk\xff{}", 100, "junk resync {}");
    /* 0xFF inside a string resets too (it is never valid UTF-8). */
    CHECK("{\"s\":\"ab\xff{\"b\":1}", 100, "resync {\"b\":1}");
    CHECK("\xff\xff{}", 100, "resync resync {}");
}

static void test_limits(void)
{
    /* The limit counts the whole object: 10 bytes fit, 11 do not. */
    CHECK("{\"a\":\"12\"}", 10, "{\"a\":\"12\"}");
    CHECK("{\"a\":\"123\"}{}", 10, "too-big {}");
    /* The rest of an oversized object is skipped to its end, strings and all. */
    CHECK("{\"a\":\"}}}}}}}}}}}}}}}}}}}}}\",\"b\":{}}{}", 10, "too-big {}");
    /* …or to a 0xFF. */
    CHECK("{\"a\":\"0123456789\xff{}", 10, "too-big resync {}");
    /* Nesting: 4 levels fit, 5 do not. */
    CHECK("{\"a\":[[[1]]]}", 100, "{\"a\":[[[1]]]}");
    CHECK("{\"a\":[[[[1]]]]}{}", 100, "too-deep {}");
}

static void test_reset(void)
{
    g_autoptr(VdQgaFramer) framer = vd_qga_framer_new(100, 4);
    VdQgaFrameEvent ev;
    vd_qga_framer_feed(framer, (const guint8 *) "{\"a\":", 5, &ev);
    g_assert_cmpint(ev, ==, VD_QGA_FRAME_NONE);
    vd_qga_framer_reset(framer);
    gsize used = vd_qga_framer_feed(framer, (const guint8 *) "{}", 2, &ev);
    g_assert_cmpuint(used, ==, 2);
    g_assert_cmpint(ev, ==, VD_QGA_FRAME_OBJECT);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qga-framer/objects", test_objects);
    g_test_add_func("/qga-framer/junk", test_junk);
    g_test_add_func("/qga-framer/resync", test_resync);
    g_test_add_func("/qga-framer/limits", test_limits);
    g_test_add_func("/qga-framer/reset", test_reset);
    return g_test_run();
}
