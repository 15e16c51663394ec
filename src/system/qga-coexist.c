/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-coexist.c — is qemu-guest-agent installed (see qga-coexist.h). */
#include <glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qga-coexist.h"

/* systemd's system unit search path (systemd.unit(5)), highest priority first, without the
 * transient, generator and attached directories, which no package installs into. /lib is for
 * distributions that have not merged /usr. */
static const char *const unit_dirs[] = {
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
};

static bool is_masked(const char *full)
{
    struct stat st;

    if (lstat(full, &st) < 0)
        return false;
    if (S_ISLNK(st.st_mode)) {
        g_autofree char *target = g_file_read_link(full, NULL);
        if (target && strcmp(target, "/dev/null") == 0)
            return true;
        /* Any other link: masked if what it points to is /dev/null or empty. */
        if (stat(full, &st) < 0)
            return true; /* dangling: systemd cannot load it either */
    }
    return S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0);
}

bool vd_qga_other_agent_installed(const char *root, char **ret_path)
{
    for (size_t i = 0; i < G_N_ELEMENTS(unit_dirs); i++) {
        g_autofree char *path = g_build_filename(unit_dirs[i], VD_QGA_OTHER_UNIT, NULL);
        g_autofree char *full = g_build_filename(root ? root : "/", path, NULL);
        struct stat st;
        if (lstat(full, &st) < 0)
            continue;
        if (is_masked(full))
            return false;
        if (ret_path)
            *ret_path = g_steal_pointer(&path);
        return true;
    }
    return false;
}
