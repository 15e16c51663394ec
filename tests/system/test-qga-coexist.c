/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-qga-coexist.c — the rule that decides who serves the QEMU guest agent port when
 * qemu-guest-agent is installed too (src/system/qga-coexist.c), on fake roots. */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "qga-coexist.h"

typedef struct {
    char *root;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->root = g_dir_make_tmp("vd-qga-coexist-XXXXXX", NULL);
    g_assert_nonnull(f->root);
}

static void rm_rf(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                rm_rf(child);
            else
                g_unlink(child);
        }
        g_dir_close(dir);
    }
    g_rmdir(path);
}

static void teardown(Fixture *f, gconstpointer data)
{
    rm_rf(f->root);
    g_free(f->root);
}

/* A unit file with content under root/dir. */
static void put(Fixture *f, const char *dir, const char *content)
{
    g_autofree char *d = g_build_filename(f->root, dir, NULL);
    g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
    g_autofree char *p = g_build_filename(d, VD_QGA_OTHER_UNIT, NULL);
    g_assert_true(g_file_set_contents(p, content, -1, NULL));
}

static void link_to(Fixture *f, const char *dir, const char *target)
{
    g_autofree char *d = g_build_filename(f->root, dir, NULL);
    g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
    g_autofree char *p = g_build_filename(d, VD_QGA_OTHER_UNIT, NULL);
    g_assert_cmpint(symlink(target, p), ==, 0);
}

static void test_absent(Fixture *f, gconstpointer data)
{
    char *path = NULL;
    g_assert_false(vd_qga_other_agent_installed(f->root, &path));
    g_assert_null(path);
}

static void test_installed(Fixture *f, gconstpointer data)
{
    g_autofree char *path = NULL;
    put(f, "usr/lib/systemd/system", "[Service]\nExecStart=/usr/sbin/qemu-ga\n");
    g_assert_true(vd_qga_other_agent_installed(f->root, &path));
    g_assert_cmpstr(path, ==, "/usr/lib/systemd/system/" VD_QGA_OTHER_UNIT);
}

static void test_installed_split_usr(Fixture *f, gconstpointer data)
{
    g_autofree char *path = NULL;
    put(f, "lib/systemd/system", "[Service]\n");
    g_assert_true(vd_qga_other_agent_installed(f->root, &path));
    g_assert_cmpstr(path, ==, "/lib/systemd/system/" VD_QGA_OTHER_UNIT);
}

static void test_masked_by_link(Fixture *f, gconstpointer data)
{
    put(f, "usr/lib/systemd/system", "[Service]\n");
    link_to(f, "etc/systemd/system", "/dev/null");
    g_assert_false(vd_qga_other_agent_installed(f->root, NULL));
}

static void test_masked_at_runtime(Fixture *f, gconstpointer data)
{
    put(f, "usr/lib/systemd/system", "[Service]\n");
    link_to(f, "run/systemd/system", "/dev/null");
    g_assert_false(vd_qga_other_agent_installed(f->root, NULL));
}

static void test_masked_by_empty_file(Fixture *f, gconstpointer data)
{
    put(f, "usr/lib/systemd/system", "[Service]\n");
    put(f, "etc/systemd/system", "");
    g_assert_false(vd_qga_other_agent_installed(f->root, NULL));
}

static void test_etc_copy_wins(Fixture *f, gconstpointer data)
{
    g_autofree char *path = NULL;
    put(f, "usr/lib/systemd/system", "[Service]\n");
    put(f, "etc/systemd/system", "[Service]\nExecStart=/usr/local/bin/qemu-ga\n");
    g_assert_true(vd_qga_other_agent_installed(f->root, &path));
    g_assert_cmpstr(path, ==, "/etc/systemd/system/" VD_QGA_OTHER_UNIT);
}

static void test_dangling_link(Fixture *f, gconstpointer data)
{
    /* A leftover link to a removed package's unit: systemd cannot load it, so nobody serves. */
    link_to(f, "etc/systemd/system", "/nonexistent/qemu-guest-agent.service");
    g_assert_false(vd_qga_other_agent_installed(f->root, NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/qga-coexist/absent", Fixture, NULL, setup, test_absent, teardown);
    g_test_add("/qga-coexist/installed", Fixture, NULL, setup, test_installed, teardown);
    g_test_add("/qga-coexist/installed-split-usr", Fixture, NULL, setup, test_installed_split_usr, teardown);
    g_test_add("/qga-coexist/masked-by-link", Fixture, NULL, setup, test_masked_by_link, teardown);
    g_test_add("/qga-coexist/masked-at-runtime", Fixture, NULL, setup, test_masked_at_runtime, teardown);
    g_test_add("/qga-coexist/masked-by-empty-file", Fixture, NULL, setup, test_masked_by_empty_file, teardown);
    g_test_add("/qga-coexist/etc-copy-wins", Fixture, NULL, setup, test_etc_copy_wins, teardown);
    g_test_add("/qga-coexist/dangling-link", Fixture, NULL, setup, test_dangling_link, teardown);
    return g_test_run();
}
