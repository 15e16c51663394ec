/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-clipboard-targets.c — the clipboard's pure parts (src/session/clipboard-targets.c): which X
 * targets carry which VDAgent type, what we offer for the host's types, which target we ask an
 * owner for, and the two text conversions (UTF-8 <-> Latin-1), including every refusal; and the
 * pieces both backends share (clipboard-common.c): the host text's NUL, building a GRAB. */
#include "clipboard-private.h"

#include <errno.h>
#include <string.h>

/* Distinct fake atoms: the mapping never asks the X server. */
static VdClipAtoms fake_atoms(void)
{
    VdClipAtoms a;
    Atom *p = (Atom *)&a;
    for (size_t i = 0; i < sizeof(a) / sizeof(Atom); i++)
        p[i] = 100 + i;
    return a;
}

static void test_target_to_type(void)
{
    VdClipAtoms a = fake_atoms();
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.utf8_string), ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.text_plain_utf8), ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.string), ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.text), ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.text_plain), ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.png), ==, VD_CLIPBOARD_IMAGE_PNG);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.bmp), ==, VD_CLIPBOARD_IMAGE_BMP);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.x_ms_bmp), ==, VD_CLIPBOARD_IMAGE_BMP);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.jpeg), ==, VD_CLIPBOARD_IMAGE_JPG);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.tiff), ==, VD_CLIPBOARD_IMAGE_TIFF);
    /* not data: never announced */
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.targets), ==, VD_CLIPBOARD_NONE);
    g_assert_cmpuint(vd_clip_target_to_type(&a, a.compound_text), ==, VD_CLIPBOARD_NONE);
    g_assert_cmpuint(vd_clip_target_to_type(&a, None), ==, VD_CLIPBOARD_NONE);
    g_assert_cmpuint(vd_clip_target_to_type(&a, 99999), ==, VD_CLIPBOARD_NONE);
}

static bool has(const Atom *list, unsigned n, Atom a)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i] == a)
            return true;
    return false;
}

static void test_targets_for_types(void)
{
    VdClipAtoms a = fake_atoms();
    Atom out[32];
    uint32_t text_png[] = {VD_CLIPBOARD_UTF8_TEXT, VD_CLIPBOARD_IMAGE_PNG, VD_CLIPBOARD_UTF8_TEXT,
                           VD_CLIPBOARD_FILE_LIST, 77};
    unsigned n = vd_clip_targets_for_types(&a, text_png, G_N_ELEMENTS(text_png), out, G_N_ELEMENTS(out));
    g_assert_cmpuint(n, ==, 3 + 5 + 1); /* meta targets, the five text targets once, image/png */
    g_assert_true(out[0] == a.targets && out[1] == a.timestamp && out[2] == a.multiple);
    g_assert_true(has(out, n, a.utf8_string) && has(out, n, a.string) && has(out, n, a.png));
    g_assert_false(has(out, n, a.bmp));
    /* bounded by the caller's array */
    n = vd_clip_targets_for_types(&a, text_png, G_N_ELEMENTS(text_png), out, 4);
    g_assert_cmpuint(n, ==, 4);
}

static void test_target_plan(void)
{
    VdClipAtoms a = fake_atoms();
    uint32_t type;
    Atom prop_type;
    VdConv conv;
    g_assert_true(vd_clip_target_plan(&a, a.string, &type, &prop_type, &conv));
    g_assert_true(type == VD_CLIPBOARD_UTF8_TEXT && prop_type == a.string && conv == VD_CONV_LATIN1);
    g_assert_true(vd_clip_target_plan(&a, a.text, &type, &prop_type, &conv));
    g_assert_true(prop_type == a.utf8_string && conv == VD_CONV_NONE);
    g_assert_true(vd_clip_target_plan(&a, a.png, &type, &prop_type, &conv));
    g_assert_true(type == VD_CLIPBOARD_IMAGE_PNG && prop_type == a.png && conv == VD_CONV_NONE);
    g_assert_false(vd_clip_target_plan(&a, a.compound_text, &type, &prop_type, &conv));
    g_assert_false(vd_clip_target_plan(&a, a.timestamp, &type, &prop_type, &conv));
}

static void test_best_target(void)
{
    VdClipAtoms a = fake_atoms();
    Atom t;
    Atom latin_only[] = {a.targets, a.string};
    g_assert_true(vd_clip_best_target(&a, latin_only, 2, VD_CLIPBOARD_UTF8_TEXT, &t));
    g_assert_true(t == a.string);
    Atom both[] = {a.string, a.text, a.utf8_string};
    g_assert_true(vd_clip_best_target(&a, both, 3, VD_CLIPBOARD_UTF8_TEXT, &t));
    g_assert_true(t == a.utf8_string); /* UTF-8 first, whatever the owner's order */
    Atom msbmp[] = {a.x_ms_bmp};
    g_assert_true(vd_clip_best_target(&a, msbmp, 1, VD_CLIPBOARD_IMAGE_BMP, &t));
    g_assert_true(t == a.x_ms_bmp);
    g_assert_false(vd_clip_best_target(&a, both, 3, VD_CLIPBOARD_IMAGE_PNG, &t));
    g_assert_false(vd_clip_best_target(&a, both, 3, VD_CLIPBOARD_FILE_LIST, &t));
    g_assert_false(vd_clip_best_target(&a, NULL, 0, VD_CLIPBOARD_UTF8_TEXT, &t));
}

static void test_utf8_to_latin1(void)
{
    uint8_t out[64];
    const char *ok = "caf\xc3\xa9 \xc2\xbd\xc3\xbf\n\t";
    gssize n = vd_clip_utf8_to_latin1((const uint8_t *)ok, strlen(ok), out);
    g_assert_cmpint(n, ==, 9);
    g_assert_cmpmem(out, 9, "caf\xe9 \xbd\xff\n\t", 9);
    g_assert_cmpint(vd_clip_utf8_to_latin1((const uint8_t *)"", 0, out), ==, 0);
    /* refused: above U+00FF, a truncated sequence, a stray continuation, an overlong form */
    const char *bad[] = {"\xe6\x97\xa5", "ab\xc3", "\x80", "\xc0\x80", "\xc3\x28", "\xf0\x9f\x98\x80"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_cmpint(vd_clip_utf8_to_latin1((const uint8_t *)bad[i], strlen(bad[i]), out), ==, -EILSEQ);
}

static void test_latin1_to_utf8(void)
{
    size_t len;
    g_autofree uint8_t *out = vd_clip_latin1_to_utf8((const uint8_t *)"na\xefve \xff", 7, &len);
    g_assert_cmpmem(out, len, "na\xc3\xafve \xc3\xbf", 9);
    g_autofree uint8_t *empty = vd_clip_latin1_to_utf8((const uint8_t *)"", 0, &len);
    g_assert_cmpuint(len, ==, 0);
    /* every byte survives the round trip */
    uint8_t all[256], back[256];
    for (unsigned i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    g_autofree uint8_t *u = vd_clip_latin1_to_utf8(all, 256, &len);
    g_assert_true(g_utf8_validate((const char *)u + 1, (gssize)len - 1, NULL)); /* (GLib refuses the NUL) */
    g_assert_cmpint(vd_clip_utf8_to_latin1(u, len, back), ==, 256);
    g_assert_cmpmem(all, 256, back, 256);
}

static void test_host_tail_keep(void)
{
    /* the NUL that ends text goes, one only; embedded NULs stay; other types are bytes */
    g_assert_cmpuint(vd_clip_host_tail_keep(VD_CLIPBOARD_UTF8_TEXT, (const uint8_t *)"text", 5), ==, 4);
    g_assert_cmpuint(vd_clip_host_tail_keep(VD_CLIPBOARD_UTF8_TEXT, (const uint8_t *)"a\0\0", 3), ==, 2);
    g_assert_cmpuint(vd_clip_host_tail_keep(VD_CLIPBOARD_UTF8_TEXT, (const uint8_t *)"a\0b", 3), ==, 3);
    g_assert_cmpuint(vd_clip_host_tail_keep(VD_CLIPBOARD_UTF8_TEXT, (const uint8_t *)"", 1), ==, 0);
    g_assert_cmpuint(vd_clip_host_tail_keep(VD_CLIPBOARD_UTF8_TEXT, (const uint8_t *)"", 0), ==, 0);
    g_assert_cmpuint(vd_clip_host_tail_keep(VD_CLIPBOARD_IMAGE_PNG, (const uint8_t *)"png", 4), ==, 4);
    g_assert_cmpuint(vd_clip_host_tail_keep(VD_CLIPBOARD_IMAGE_BMP, (const uint8_t *)"", 1), ==, 1);
}

static void test_grab_add(void)
{
    /* nothing bridged, duplicates and types beyond the message's capacity are left out */
    VdClipboardGrab g = { .selection = VD_SELECTION_CLIPBOARD };
    vd_clip_grab_add(&g, VD_CLIPBOARD_NONE);
    g_assert_cmpuint(g.n_types, ==, 0);
    vd_clip_grab_add(&g, VD_CLIPBOARD_UTF8_TEXT);
    vd_clip_grab_add(&g, VD_CLIPBOARD_IMAGE_PNG);
    vd_clip_grab_add(&g, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(g.n_types, ==, 2);
    g_assert_cmpuint(g.types[0], ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(g.types[1], ==, VD_CLIPBOARD_IMAGE_PNG);
    for (uint32_t t = 1000; t < 1000 + 2 * VD_LIMIT_GRAB_TYPES; t++)
        vd_clip_grab_add(&g, t);
    g_assert_cmpuint(g.n_types, ==, VD_LIMIT_GRAB_TYPES);
    g_assert_cmpuint(g.types[VD_LIMIT_GRAB_TYPES - 1], ==, 1000 + VD_LIMIT_GRAB_TYPES - 3);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/clipboard/target-to-type", test_target_to_type);
    g_test_add_func("/clipboard/targets-for-types", test_targets_for_types);
    g_test_add_func("/clipboard/target-plan", test_target_plan);
    g_test_add_func("/clipboard/best-target", test_best_target);
    g_test_add_func("/clipboard/utf8-to-latin1", test_utf8_to_latin1);
    g_test_add_func("/clipboard/latin1-to-utf8", test_latin1_to_utf8);
    g_test_add_func("/clipboard/host-tail-keep", test_host_tail_keep);
    g_test_add_func("/clipboard/grab-add", test_grab_add);
    return g_test_run();
}
