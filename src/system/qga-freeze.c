/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-freeze.c — guest-fsfreeze-* and guest-fstrim, inside the fs helper (CAP_SYS_ADMIN).
 *
 * The filesystems are the mounts of block devices in /proc/self/mountinfo (the helper runs in the
 * machine's mount namespace), one per superblock (a bind mount is not frozen twice). Freezing goes
 * from the last mount to the first, so a filesystem mounted inside another is frozen before it;
 * thawing goes the other way. The hooks in VD_QGA_FSFREEZE_HOOK_DIR (qemu-ga's fsfreeze-hook.d
 * convention) run with "freeze" before the first FIFREEZE and with "thaw" after the last FITHAW.
 * Unlike qemu-ga, a freeze does not outlive its requester: the helper thaws when the daemon's
 * connection closes and after VdQgaFsOptions.freeze_timeout_s without a thaw. */
#include "qga-privileged.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qga-verbs.h"

#define MAX_THAW_ROUNDS 16 /* FITHAW repeated while it succeeds: nested freezes by others */

extern char **environ;

typedef struct {
    char *mountpoint;
    dev_t dev;
} Mount;

typedef struct {
    char *mountpoint;
    int fd;
} Frozen;

static VdQgaFsOptions options;
static GArray *frozen;        /* Frozen, in freezing order; NULL: thawed */
static gint64 thaw_deadline;  /* monotonic µs */

void vd_qga_fs_init(const VdQgaFsOptions *opts)
{
    options = *opts;
    if (!options.hook_dir)
        options.hook_dir = VD_QGA_FSFREEZE_HOOK_DIR;
    if (!options.freeze_timeout_s)
        options.freeze_timeout_s = VD_QGA_FREEZE_TIMEOUT_S;
    if (!options.hook_timeout_s)
        options.hook_timeout_s = VD_QGA_HOOK_TIMEOUT_S;
}

static void mount_clear(gpointer data)
{
    g_free(((Mount *) data)->mountpoint);
}

static char *unescape(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
            g_string_append_c(out, (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0')));
            p += 3;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

static gboolean under(const char *path, const char *dir)
{
    if (!dir)
        return TRUE;
    gsize n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The filesystems in mount order, one per device. */
static GArray *list_mounts(GError **error)
{
    g_autofree char *text = vd_qga_read_file("/proc/self/mountinfo", VD_QGA_MAX_MOUNTINFO, error);
    if (!text)
        return NULL;
    GArray *mounts = g_array_new(FALSE, FALSE, sizeof(Mount));
    g_array_set_clear_func(mounts, mount_clear);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], " ", 6);
        unsigned major, minor;
        char end;
        if (g_strv_length(f) < 6 || sscanf(f[2], "%u:%u%c", &major, &minor, &end) != 2 || major == 0)
            continue;
        if (mounts->len >= VD_QGA_MAX_MOUNTS)
            break;
        Mount m = {unescape(f[4]), makedev(major, minor)};
        gboolean seen = !under(m.mountpoint, options.only_under);
        for (guint j = 0; j < mounts->len && !seen; j++)
            seen = g_array_index(mounts, Mount, j).dev == m.dev;
        if (seen) {
            g_free(m.mountpoint);
            continue;
        }
        g_array_append_val(mounts, m);
    }
    return mounts;
}

static gboolean ignored_hook(const char *name)
{
    static const char *const suffixes[] = {"~", ".bak", ".orig", ".rpmnew", ".rpmorig", ".rpmsave", ".sample",
                                           ".dpkg-old", ".dpkg-new", ".dpkg-tmp", ".dpkg-dist", ".dpkg-bak",
                                           ".dpkg-backup", ".dpkg-remove"};
    if (name[0] == '.')
        return TRUE;
    for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        if (g_str_has_suffix(name, suffixes[i]))
            return TRUE;
    }
    return FALSE;
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Runs each hook with action, in name order, with an argv and no shell. A hook that fails or
 * times out is logged, not fatal, as qemu-ga's own fsfreeze-hook script treats them. */
static void run_hooks(const char *action)
{
    g_autoptr(GDir) dir = g_dir_open(options.hook_dir, 0, NULL);
    if (!dir)
        return;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    guint skipped = 0;
    for (const char *n = g_dir_read_name(dir); n; n = g_dir_read_name(dir)) {
        if (ignored_hook(n))
            continue;
        if (names->len < VD_QGA_MAX_HOOKS) {
            g_ptr_array_add(names, g_strdup(n));
            continue;
        }
        /* Full: keep the first names in name order, whatever order the directory lists them in. */
        skipped++;
        guint last = 0;
        for (guint i = 1; i < names->len; i++) {
            if (strcmp(g_ptr_array_index(names, i), g_ptr_array_index(names, last)) > 0)
                last = i;
        }
        if (strcmp(n, g_ptr_array_index(names, last)) < 0) {
            g_free(g_ptr_array_index(names, last));
            g_ptr_array_index(names, last) = g_strdup(n);
        }
    }
    if (skipped)
        g_warning("fsfreeze hooks in \"%s\" %s: running the first %d by name, %u more skipped", options.hook_dir,
                  action, VD_QGA_MAX_HOOKS, skipped);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(options.hook_dir, g_ptr_array_index(names, i), NULL);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0)
            continue;
        char *argv[] = {path, (char *) action, NULL};
        pid_t pid;
        int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);
        if (rc != 0) {
            g_warning("fsfreeze hook \"%s\" %s: cannot run: %s", path, action, g_strerror(rc));
            continue;
        }
        int status = 0;
        gint64 deadline = g_get_monotonic_time() + (gint64) options.hook_timeout_s * G_USEC_PER_SEC;
        pid_t w;
        while ((w = waitpid(pid, &status, WNOHANG)) == 0 && g_get_monotonic_time() < deadline)
            g_usleep(10000);
        if (w == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_warning("fsfreeze hook \"%s\" %s: killed after %u s", path, action, options.hook_timeout_s);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            g_warning("fsfreeze hook \"%s\" %s: failed (status %d): ignored", path, action, status);
        } else {
            g_message("fsfreeze hook \"%s\" %s: done", path, action);
        }
    }
}

static void set_frozen_error(GError **error, const char *verb)
{
    g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_COMMAND_NOT_FOUND,
                "Command %s has been disabled: the agent is in frozen state", verb);
}

/* FITHAW on fd until it fails (EINVAL: not frozen): -> whether it thawed at least once. */
static gboolean thaw_fd(int fd, const char *mountpoint)
{
    gboolean thawed = FALSE;
    for (int round = 0; round < MAX_THAW_ROUNDS; round++) {
        if (ioctl(fd, FITHAW) != 0) {
            if (errno != EINVAL)
                g_warning("FITHAW \"%s\": %s", mountpoint, g_strerror(errno));
            break;
        }
        thawed = TRUE;
    }
    return thawed;
}

/* -> how many of ours thawed. */
static guint thaw_ours(void)
{
    guint n = 0;
    for (guint i = frozen->len; i-- > 0;) {
        Frozen *f = &g_array_index(frozen, Frozen, i);
        n += thaw_fd(f->fd, f->mountpoint);
        close(f->fd);
        g_free(f->mountpoint);
    }
    g_clear_pointer(&frozen, g_array_unref);
    return n;
}

static JsonNode *int_node(gint64 v)
{
    JsonNode *node = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(node, v);
    return node;
}

static JsonNode *do_freeze(const char *verb, JsonArray *only, GError **error)
{
    if (frozen) {
        set_frozen_error(error, verb);
        return NULL;
    }
    g_autoptr(GArray) mounts = list_mounts(error);
    if (!mounts)
        return NULL;
    run_hooks("freeze");
    GArray *done = g_array_new(FALSE, FALSE, sizeof(Frozen));
    for (guint i = mounts->len; i-- > 0;) {
        const Mount *m = &g_array_index(mounts, Mount, i);
        if (only) {
            gboolean listed = FALSE;
            for (guint j = 0; j < json_array_get_length(only) && !listed; j++)
                listed = g_str_equal(json_array_get_string_element(only, j), m->mountpoint);
            if (!listed)
                continue;
        }
        int fd = open(m->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            g_warning("%s: cannot open \"%s\": %s: skipped", verb, m->mountpoint, g_strerror(errno));
            continue;
        }
        if (ioctl(fd, FIFREEZE) != 0) {
            int e = errno;
            close(fd);
            if (e == EOPNOTSUPP)
                continue; /* cannot be frozen: nothing to do, as qemu-ga */
            /* Undo: a half-frozen guest is the worst outcome. */
            frozen = done;
            thaw_ours();
            run_hooks("thaw");
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "failed to freeze %s: %s", m->mountpoint,
                        g_strerror(e));
            return NULL;
        }
        Frozen f = {g_strdup(m->mountpoint), fd};
        g_array_append_val(done, f);
    }
    gint64 n = done->len;
    if (n == 0) {
        g_array_unref(done);
        run_hooks("thaw");
    } else {
        frozen = done;
        thaw_deadline = g_get_monotonic_time() + (gint64) options.freeze_timeout_s * G_USEC_PER_SEC;
        g_message("%s: froze %" G_GINT64_FORMAT " filesystems; thawed in %u s unless thawed before", verb, n,
                  options.freeze_timeout_s);
    }
    return int_node(n);
}

JsonNode *vd_qga_fsfreeze_freeze(JsonObject *args, GError **error)
{
    return do_freeze("guest-fsfreeze-freeze", NULL, error);
}

JsonNode *vd_qga_fsfreeze_freeze_list(JsonObject *args, GError **error)
{
    JsonNode *list = json_object_get_member(args, "mountpoints");
    if (!list)
        return do_freeze("guest-fsfreeze-freeze-list", NULL, error);
    JsonArray *a = JSON_NODE_HOLDS_ARRAY(list) ? json_node_get_array(list) : NULL;
    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
            a = NULL;
    }
    if (!a) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                    "Invalid parameter type for 'mountpoints', expected: array of strings");
        return NULL;
    }
    return do_freeze("guest-fsfreeze-freeze-list", a, error);
}

JsonNode *vd_qga_fsfreeze_thaw(JsonObject *args, GError **error)
{
    /* Like qemu-ga, every filesystem gets FITHAW, not only ours: after a crash of an agent
     * that froze them, the host's thaw must still work. */
    g_autoptr(GArray) mounts = list_mounts(error);
    if (!mounts)
        return NULL;
    gint64 n = frozen ? thaw_ours() : 0;
    for (guint i = 0; i < mounts->len; i++) {
        const Mount *m = &g_array_index(mounts, Mount, i);
        int fd = open(m->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n += thaw_fd(fd, m->mountpoint);
        close(fd);
    }
    run_hooks("thaw");
    return int_node(n);
}

JsonNode *vd_qga_fsfreeze_status(JsonObject *args, GError **error)
{
    JsonNode *node = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(node, frozen ? "frozen" : "thawed");
    return node;
}

JsonNode *vd_qga_fstrim(JsonObject *args, GError **error)
{
    if (frozen) {
        set_frozen_error(error, "guest-fstrim");
        return NULL;
    }
    guint64 minimum = 0;
    JsonNode *min = json_object_get_member(args, "minimum");
    if (min) {
        gint64 v = json_node_get_int(min);
        if (v < 0) {
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "Parameter 'minimum' must not be negative");
            return NULL;
        }
        minimum = (guint64) v;
    }
    g_autoptr(GArray) mounts = list_mounts(error);
    if (!mounts)
        return NULL;
    JsonArray *paths = json_array_new();
    for (guint i = 0; i < mounts->len; i++) {
        const Mount *m = &g_array_index(mounts, Mount, i);
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "path", m->mountpoint);
        int fd = open(m->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct fstrim_range range = {.start = 0, .len = G_MAXUINT64, .minlen = minimum};
        if (fd < 0) {
            g_autofree char *e = g_strdup_printf("failed to open: %s", g_strerror(errno));
            json_object_set_string_member(o, "error", e);
        } else if (ioctl(fd, FITRIM, &range) != 0) {
            if (errno == ENOTTY || errno == EOPNOTSUPP) {
                json_object_set_string_member(o, "error", "trim not supported");
            } else {
                g_autofree char *e = g_strdup_printf("failed to trim: %s", g_strerror(errno));
                json_object_set_string_member(o, "error", e);
            }
        } else {
            json_object_set_int_member(o, "trimmed", (gint64) range.len);
            json_object_set_int_member(o, "minimum", (gint64) range.minlen);
        }
        if (fd >= 0)
            close(fd);
        json_array_add_object_element(paths, o);
    }
    JsonObject *result = json_object_new();
    json_object_set_array_member(result, "paths", paths);
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, result);
    return node;
}

int vd_qga_fs_timeout_ms(void)
{
    if (!frozen)
        return -1;
    gint64 left = thaw_deadline - g_get_monotonic_time();
    return left <= 0 ? 0 : (int) MIN(left / 1000 + 1, G_MAXINT);
}

void vd_qga_fs_expire(void)
{
    if (!frozen)
        return;
    g_warning("no guest-fsfreeze-thaw within %u s: thawing %u filesystems", options.freeze_timeout_s, frozen->len);
    thaw_ours();
    run_hooks("thaw");
}

void vd_qga_fs_cleanup(void)
{
    if (!frozen)
        return;
    g_warning("the daemon went away with %u filesystems frozen: thawing them", frozen->len);
    thaw_ours();
    run_hooks("thaw");
}
