/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-session-units.c — the session agent's pure helpers: file name sanitising and clash names
 * (files.c), CVT timings (randr.c) against the reference `cvt` tool's modelines. */
#include <errno.h>
#include <string.h>

#include "files.h"
#include "randr.h"

static void check_sanitize(const char *in, const char *want)
{
    g_autofree char *out = NULL;
    int r = vd_files_sanitize_name(in, &out);

    if (!want) {
        g_assert_cmpint(r, ==, -EINVAL);
        g_assert_null(out);
        return;
    }
    g_assert_cmpint(r, ==, 0);
    g_assert_cmpstr(out, ==, want);
}

static void test_refused(void)
{
    const char *bad[] = { "", ".", "..", "/", "/abs", "a/b", "../../etc/x", "x/..", "../", "dir/",
                          ".vdagent-xfer-abc.part", ".vdagent-xfer-", "\xff\xfe", "ok\xc3" };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        check_sanitize(bad[i], NULL);
    check_sanitize(NULL, NULL);
}

static void test_kept(void)
{
    check_sanitize("report.pdf", "report.pdf");
    check_sanitize(".bashrc", ".bashrc");
    check_sanitize("...", "...");
    check_sanitize("a\\b", "a\\b");
    check_sanitize("T\xc3\xa9l\xc3\xa9 \xe2\x82\xac.txt", "T\xc3\xa9l\xc3\xa9 \xe2\x82\xac.txt");
    check_sanitize(".vdagent-xfer", ".vdagent-xfer");
}

static void test_control_chars(void)
{
    check_sanitize("a\x01" "b\tc\nd\x7f" "e.txt", "a_b_c_d_e.txt");
    check_sanitize("x\xc2\x85y", "x_y"); /* U+0085, a C1 control */
    check_sanitize("\x1b[31mred", "_[31mred");
}

static void test_long_ascii(void)
{
    g_autofree char *stem = g_strnfill(300, 'x');
    g_autofree char *name = g_strconcat(stem, ".txt", NULL);
    g_autofree char *out = NULL;

    g_assert_cmpint(vd_files_sanitize_name(name, &out), ==, 0);
    g_assert_cmpuint(strlen(out), ==, VD_FILES_MAX_NAME);
    g_assert_true(g_str_has_suffix(out, ".txt"));
    g_assert_true(g_str_has_prefix(out, "xxxx"));

    /* An "extension" longer than VD_FILES_MAX_EXT is just part of the name. */
    g_autofree char *ext = g_strnfill(100, 'e');
    g_autofree char *name2 = g_strconcat(stem, ".", ext, NULL);
    g_autofree char *out2 = NULL;
    g_assert_cmpint(vd_files_sanitize_name(name2, &out2), ==, 0);
    g_assert_cmpuint(strlen(out2), ==, VD_FILES_MAX_NAME);
    g_assert_true(g_str_has_prefix(out2, "xxxx"));
}

static void test_long_utf8(void)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 100; i++)
        g_string_append(s, "\xe2\x82\xac"); /* 3 bytes each: 300 */
    g_string_append(s, ".tar");
    g_autofree char *out = NULL;

    g_assert_cmpint(vd_files_sanitize_name(s->str, &out), ==, 0);
    g_assert_cmpuint(strlen(out), <=, VD_FILES_MAX_NAME);
    g_assert_cmpuint(strlen(out), >, VD_FILES_MAX_NAME - 3);
    g_assert_true(g_utf8_validate(out, -1, NULL));
    g_assert_true(g_str_has_suffix(out, ".tar"));
    g_string_free(s, TRUE);
}

static void test_clash_names(void)
{
    struct { const char *name; unsigned n; const char *want; } cases[] = {
        { "doc.txt", 0, "doc.txt" },
        { "doc.txt", 1, "doc (1).txt" },
        { "doc.txt", 42, "doc (42).txt" },
        { "noext", 2, "noext (2)" },
        { ".hidden", 1, ".hidden (1)" },
        { "archive.tar.gz", 1, "archive.tar (1).gz" },
        { "trailingdot.", 1, "trailingdot (1)." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *out = vd_files_clash_name(cases[i].name, cases[i].n);
        g_assert_cmpstr(out, ==, cases[i].want);
    }

    g_autofree char *stem = g_strnfill(VD_FILES_MAX_NAME - 4, 'y');
    g_autofree char *name = g_strconcat(stem, ".txt", NULL);
    g_autofree char *out = vd_files_clash_name(name, VD_FILES_MAX_CLASH);
    g_assert_cmpuint(strlen(out), ==, VD_FILES_MAX_NAME);
    g_assert_true(g_str_has_suffix(out, " (999).txt"));
}

typedef struct {
    unsigned w, h;
    double mhz;
    unsigned hss, hse, ht, vss, vse, vt;
} CvtRef;

static void test_cvt(void)
{
    /* `cvt W H` (xserver-xorg-core 21.1) modelines, which libxcvt must reproduce. cvt rounds 1366 up
     * to 1368; we keep the exact width and the same blanking. */
    static const CvtRef refs[] = {
        { 1920, 1080, 173.00, 2048, 2248, 2576, 1083, 1088, 1120 },
        { 1024, 768, 63.50, 1072, 1176, 1328, 771, 775, 798 },
        { 1366, 768, 85.25, 1440, 1576, 1784, 771, 781, 798 },
        { 1280, 1024, 109.00, 1368, 1496, 1712, 1027, 1034, 1063 },
        { 2560, 1600, 348.50, 2760, 3032, 3504, 1603, 1609, 1658 },
        { 800, 600, 38.25, 832, 912, 1024, 603, 607, 624 },
        { 3840, 2160, 712.75, 4160, 4576, 5312, 2163, 2168, 2237 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(refs); i++) {
        const CvtRef *r = &refs[i];
        VdCvtTimings t;
        g_assert_cmpint(vd_cvt_timings(r->w, r->h, 60.0, &t), ==, 0);
        g_assert_cmpuint(t.hdisplay, ==, r->w);
        g_assert_cmpuint(t.vdisplay, ==, r->h);
        g_assert_cmpuint(t.dot_clock, ==, (unsigned long)(r->mhz * 1000000.0 + 0.5));
        g_assert_cmpuint(t.hsync_start, ==, r->hss);
        g_assert_cmpuint(t.hsync_end, ==, r->hse);
        g_assert_cmpuint(t.htotal, ==, r->ht);
        g_assert_cmpuint(t.vsync_start, ==, r->vss);
        g_assert_cmpuint(t.vsync_end, ==, r->vse);
        g_assert_cmpuint(t.vtotal, ==, r->vt);
        g_assert_true(t.hsync_negative && t.vsync_positive);
    }
}

static void test_cvt_extremes(void)
{
    VdCvtTimings t;

    g_assert_cmpint(vd_cvt_timings(1, 1, 60.0, &t), ==, 0);
    g_assert_cmpuint(t.hsync_start, >=, t.hdisplay);
    g_assert_cmpuint(t.htotal, >, t.hsync_end);
    g_assert_cmpint(vd_cvt_timings(VD_RANDR_MAX_MONITOR_SIDE, VD_RANDR_MAX_MONITOR_SIDE, 60.0, &t), ==, 0);
    g_assert_cmpuint(t.hsync_start, >=, t.hdisplay);
    g_assert_cmpuint(t.vsync_start, >, t.vdisplay);
    g_assert_cmpuint(t.dot_clock, >, 0);
    g_assert_cmpuint(t.htotal, >, t.hsync_end);
    g_assert_cmpuint(t.vtotal, >, t.vsync_end);

    /* every size we accept gets usable timings (a sparse grid over the whole range, dense at the
     * small end where libxcvt alone would give a zero clock) */
    for (unsigned w = 1; w <= VD_RANDR_MAX_MONITOR_SIDE; w += w < 1024 ? 1 : 61)
        for (unsigned h = 1; h <= VD_RANDR_MAX_MONITOR_SIDE; h += h < 32 ? 1 : 257) {
            g_assert_cmpint(vd_cvt_timings(w, h, 60.0, &t), ==, 0);
            g_assert_cmpuint(t.hdisplay, ==, w);
            g_assert_cmpuint(t.vdisplay, ==, h);
            g_assert_cmpuint(t.dot_clock, >, 0);
            g_assert_cmpuint(t.hsync_start, >=, w);
            g_assert_cmpuint(t.hsync_end, >, t.hsync_start);
            g_assert_cmpuint(t.htotal, >, t.hsync_end);
            g_assert_cmpuint(t.vsync_start, >, h);
            g_assert_cmpuint(t.vsync_end, >, t.vsync_start);
            g_assert_cmpuint(t.vtotal, >, t.vsync_end);
        }

    /* outside our limit: refused, *ret untouched */
    VdCvtTimings before = t;
    g_assert_cmpint(vd_cvt_timings(0, 768, 60.0, &t), ==, -EINVAL);
    g_assert_cmpint(vd_cvt_timings(1024, VD_RANDR_MAX_MONITOR_SIDE + 1, 60.0, &t), ==, -EINVAL);
    g_assert_cmpmem(&t, sizeof(t), &before, sizeof(before));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/session/files/refused", test_refused);
    g_test_add_func("/session/files/kept", test_kept);
    g_test_add_func("/session/files/control-chars", test_control_chars);
    g_test_add_func("/session/files/long-ascii", test_long_ascii);
    g_test_add_func("/session/files/long-utf8", test_long_utf8);
    g_test_add_func("/session/files/clash-names", test_clash_names);
    g_test_add_func("/session/randr/cvt", test_cvt);
    g_test_add_func("/session/randr/cvt-extremes", test_cvt_extremes);
    return g_test_run();
}
