/* SPDX-License-Identifier: GPL-3.0-or-later */
/* files.c — receiving host -> guest files: safe names, temporaries, atomic no-replace renames. */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Attempts at a fresh temporary name before giving up. */
#define VD_FILES_TEMP_TRIES 64

typedef struct {
    uint32_t id;
    char *name;        /* sanitised */
    uint64_t size, received;
    int dir_fd, fd;
    uint8_t *buf; /* VD_FILES_WRITE_BUFFER bytes, buf_len of them not yet written */
    size_t buf_len;
    char temp[sizeof(VD_FILES_TEMP_PREFIX) + 16 + sizeof(VD_FILES_TEMP_SUFFIX)];
    char *dir_path; /* for the observer */
} Xfer;

struct VdFiles {
    char *dir; /* --file-dir, or NULL: XDG */
    VdFilesStatusFunc send_status;
    void *user_data;
    VdFilesObserver observer;
    void *observer_data;
    GHashTable *xfers; /* id -> Xfer */
};

/* --- names --- */

/* The byte offset of name's extension (its last '.', not the first byte), or strlen(name). */
static size_t ext_offset(const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t len = strlen(name);

    if (!dot || dot == name || (size_t)(name + len - dot) > VD_FILES_MAX_EXT)
        return len;
    return (size_t)(dot - name);
}

/* The longest prefix of s (of s_len bytes) that ends on a UTF-8 character boundary within max bytes. */
static size_t utf8_cut(const char *s, size_t s_len, size_t max)
{
    if (s_len <= max)
        return s_len;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/* stem + middle + ext within VD_FILES_MAX_NAME bytes, shortening the stem. */
static char *compose(const char *name, const char *middle)
{
    size_t ext = ext_offset(name);
    size_t ext_len = strlen(name) - ext, mid_len = strlen(middle);
    size_t budget = VD_FILES_MAX_NAME > ext_len + mid_len ? VD_FILES_MAX_NAME - ext_len - mid_len : 0;
    size_t stem = utf8_cut(name, ext, budget);

    if (stem == 0 && ext_len + mid_len > VD_FILES_MAX_NAME) {
        /* An extension too long to keep (cannot happen with VD_FILES_MAX_EXT, kept for safety). */
        size_t all = utf8_cut(name, strlen(name), VD_FILES_MAX_NAME - mid_len);
        return g_strdup_printf("%.*s%s", (int)all, name, middle);
    }
    return g_strdup_printf("%.*s%s%s", (int)stem, name, middle, name + ext);
}

int vd_files_sanitize_name(const char *name, char **ret)
{
    g_return_val_if_fail(ret, -EINVAL); /* name is the host's: checked below, never asserted */
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/') ||
        !g_utf8_validate(name, -1, NULL) ||
        strncmp(name, VD_FILES_TEMP_PREFIX, strlen(VD_FILES_TEMP_PREFIX)) == 0)
        return -EINVAL;

    GString *s = g_string_sized_new(strlen(name));
    for (const char *p = name; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c))
            g_string_append_c(s, '_');
        else
            g_string_append_len(s, p, g_utf8_next_char(p) - p);
    }
    g_autofree char *clean = g_string_free(s, FALSE);
    *ret = compose(clean, "");
    return 0;
}

char *vd_files_clash_name(const char *name, unsigned n)
{
    g_return_val_if_fail(name, NULL);
    if (n == 0)
        return compose(name, "");
    char middle[32];
    snprintf(middle, sizeof(middle), " (%u)", n);
    return compose(name, middle);
}

static bool is_our_temp(const char *name)
{
    size_t len = strlen(name), pre = strlen(VD_FILES_TEMP_PREFIX), suf = strlen(VD_FILES_TEMP_SUFFIX);

    return len > pre + suf && strncmp(name, VD_FILES_TEMP_PREFIX, pre) == 0 &&
           strcmp(name + len - suf, VD_FILES_TEMP_SUFFIX) == 0;
}

/* --- the directory --- */

char *vd_files_target_dir(const VdFiles *files)
{
    g_return_val_if_fail(files, NULL);
    if (files->dir && strcmp(files->dir, VD_FILES_DIR_DESKTOP) == 0) {
        /* GLib answers ~/Desktop when user-dirs.dirs names none. */
        const char *xdg = g_get_user_special_dir(G_USER_DIRECTORY_DESKTOP);
        return xdg && *xdg ? g_strdup(xdg) : g_build_filename(g_get_home_dir(), "Desktop", NULL);
    }
    if (files->dir && strcmp(files->dir, VD_FILES_DIR_DOWNLOAD) != 0)
        return g_strdup(files->dir);
    const char *xdg = g_get_user_special_dir(G_USER_DIRECTORY_DOWNLOAD);
    if (xdg && *xdg)
        return g_strdup(xdg);
    return g_build_filename(g_get_home_dir(), "Downloads", NULL);
}

/* Opens the target directory, creating it (not its parents) if missing and create is set.
 * Returns an fd or -errno. */
static int open_target_dir(const VdFiles *files, bool create, char **ret_path)
{
    g_autofree char *path = vd_files_target_dir(files);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT && create && mkdir(path, 0755) == 0) {
        g_message("files: created \"%s\"", path);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        return -errno;
    *ret_path = g_steal_pointer(&path);
    return fd;
}

/* Removes temporaries a crashed agent left: regular files of ours that nobody holds locked. */
static void clean_stale(const VdFiles *files)
{
    g_autofree char *path = NULL;
    int dir_fd = open_target_dir(files, false, &path);

    if (dir_fd < 0)
        return;
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        close(dir_fd);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_our_temp(e->d_name))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (unlinkat(dirfd(d), e->d_name, 0) == 0)
                g_message("files: removed a stale temporary \"%s\" in \"%s\"", e->d_name, path);
        }
        close(fd);
    }
    closedir(d);
}

/* --- transfers --- */

static void send_status(VdFiles *files, uint32_t id, VdXferResult result)
{
    VdFileXferStatus st = { .id = id, .result = result };
    files->send_status(&st, files->user_data);
}

static void send_error(VdFiles *files, uint32_t id, int err_no)
{
    VdFileXferStatus st = {
        .id = id,
        .result = VD_XFER_ERROR,
        .has_detail = true,
        .error_type = VD_XFER_ERROR_GLIB_IO,
        .error_code = (uint32_t)g_io_error_from_errno(err_no),
    };
    files->send_status(&st, files->user_data);
}

static void send_gio_error(VdFiles *files, uint32_t id, GIOErrorEnum code)
{
    VdFileXferStatus st = {
        .id = id,
        .result = VD_XFER_ERROR,
        .has_detail = true,
        .error_type = VD_XFER_ERROR_GLIB_IO,
        .error_code = (uint32_t)code,
    };
    files->send_status(&st, files->user_data);
}

static void xfer_free(Xfer *x)
{
    if (!x)
        return;
    if (x->fd >= 0) {
        close(x->fd);
        if (unlinkat(x->dir_fd, x->temp, 0) < 0 && errno != ENOENT)
            g_message("files: cannot remove the temporary \"%s\": %s", x->temp, g_strerror(errno));
    }
    if (x->dir_fd >= 0)
        close(x->dir_fd);
    g_free(x->buf);
    g_free(x->name);
    g_free(x->dir_path);
    g_free(x);
}

static void xfer_drop(VdFiles *files, Xfer *x)
{
    g_hash_table_remove(files->xfers, GUINT_TO_POINTER(x->id)); /* frees it */
}

/* Tells the observer how x ended (final: its name in dir_path; NULL with why on failure), then
 * drops it. */
static void xfer_end(VdFiles *files, Xfer *x, const char *final, const char *why)
{
    if (files->observer.finished) {
        g_autofree char *path = final ? g_build_filename(x->dir_path, final, NULL) : NULL;
        files->observer.finished(x->id, x->name, path, why, g_hash_table_size(files->xfers) - 1,
                                 files->observer_data);
    }
    xfer_drop(files, x);
}

/* Creates the locked temporary. Returns 0 or -errno. */
static int create_temp(Xfer *x)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    for (int attempt = 0; attempt < VD_FILES_TEMP_TRIES; attempt++) {
        char rnd[9];
        for (size_t i = 0; i < sizeof(rnd) - 1; i++)
            rnd[i] = chars[g_random_int_range(0, (gint32)sizeof(chars) - 1)];
        rnd[sizeof(rnd) - 1] = '\0';
        snprintf(x->temp, sizeof(x->temp), VD_FILES_TEMP_PREFIX "%s" VD_FILES_TEMP_SUFFIX, rnd);
        int fd = openat(x->dir_fd, x->temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -errno;
        /* Our mark that the temporary is alive: clean_stale() of another agent leaves it alone. */
        (void)flock(fd, LOCK_EX | LOCK_NB);
        x->fd = fd;
        return 0;
    }
    return -EEXIST;
}

/* Moves the complete temporary to its final name, never replacing a file. Returns 0 or -errno. */
static int publish(Xfer *x, char **ret_final)
{
    for (unsigned n = 0; n <= VD_FILES_MAX_CLASH; n++) {
        g_autofree char *final = vd_files_clash_name(x->name, n);
        int r = renameat2(x->dir_fd, x->temp, x->dir_fd, final, RENAME_NOREPLACE);
        if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
            /* A filesystem without RENAME_NOREPLACE: a hard link is just as exclusive. */
            r = linkat(x->dir_fd, x->temp, x->dir_fd, final, 0);
            if (r == 0)
                (void)unlinkat(x->dir_fd, x->temp, 0);
        }
        if (r == 0) {
            *ret_final = g_steal_pointer(&final);
            return 0;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

static void xfer_complete(VdFiles *files, Xfer *x)
{
    g_autofree char *final = NULL;
    int r = publish(x, &final);

    if (r < 0) {
        g_message("files: transfer %u: cannot move \"%s\" into place: %s", x->id, x->name, g_strerror(-r));
        uint32_t id = x->id;
        xfer_end(files, x, NULL, g_strerror(-r));
        send_error(files, id, -r);
        return;
    }
    close(x->fd);
    x->fd = -1; /* published: nothing to unlink */
    g_message("files: transfer %u: received \"%s\" (%" G_GUINT64_FORMAT " bytes)", x->id, final, x->size);
    uint32_t id = x->id;
    xfer_end(files, x, final, NULL);
    send_status(files, id, VD_XFER_SUCCESS);
}

static void handle_start(VdFiles *files, uint32_t id, uint64_t size, const char *host_name)
{
    if (g_hash_table_contains(files->xfers, GUINT_TO_POINTER(id))) {
        g_message("files: transfer %u started twice: the second start refused", id);
        send_gio_error(files, id, G_IO_ERROR_EXISTS);
        return;
    }
    if (g_hash_table_size(files->xfers) >= VD_FILES_MAX_XFERS) {
        g_message("files: transfer %u refused: %u transfers already running", id, VD_FILES_MAX_XFERS);
        send_gio_error(files, id, G_IO_ERROR_TOO_MANY_OPEN_FILES);
        return;
    }
    g_autofree char *name = NULL;
    if (vd_files_sanitize_name(host_name, &name) < 0) {
        g_autofree char *shown = g_strescape(host_name ? host_name : "", NULL);
        g_message("files: transfer %u refused: \"%s\" cannot be a file name", id, shown);
        send_gio_error(files, id, G_IO_ERROR_INVALID_FILENAME);
        return;
    }

    g_autofree char *dir = NULL;
    int dir_fd = open_target_dir(files, true, &dir);
    if (dir_fd < 0) {
        g_autofree char *want = vd_files_target_dir(files);
        g_message("files: transfer %u refused: cannot open \"%s\": %s", id, want, g_strerror(-dir_fd));
        send_error(files, id, -dir_fd);
        return;
    }
    struct statvfs vfs;
    if (fstatvfs(dir_fd, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (size > avail) {
            g_message("files: transfer %u (\"%s\", %" G_GUINT64_FORMAT " bytes) refused: %" G_GUINT64_FORMAT
                      " bytes free in \"%s\"",
                      id, name, size, avail, dir);
            VdFileXferStatus st = {
                .id = id, .result = VD_XFER_NOT_ENOUGH_SPACE, .has_detail = true, .free_space = avail
            };
            files->send_status(&st, files->user_data);
            close(dir_fd);
            return;
        }
    }

    Xfer *x = g_new0(Xfer, 1);
    x->id = id;
    x->name = g_steal_pointer(&name);
    x->size = size;
    x->dir_fd = dir_fd;
    x->fd = -1;
    /* A small file never holds more than its size in the buffer (handle_data refuses extra bytes). */
    x->buf = size > 0 ? g_malloc(MIN(size, (uint64_t)VD_FILES_WRITE_BUFFER)) : NULL;
    int r = create_temp(x);
    if (r < 0) {
        g_message("files: transfer %u: cannot create a temporary file in \"%s\": %s", id, dir, g_strerror(-r));
        xfer_free(x);
        send_error(files, id, -r);
        return;
    }
    /* Reserve the space now: the check above is a snapshot, and another writer must not make the
     * transfer fail half-way. Filesystems without fallocate just skip this. */
    if (size > 0) {
        r = fallocate(x->fd, 0, 0, (off_t)MIN(size, (uint64_t)G_MAXINT64));
        if (r < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)) {
            int err = errno;
            g_message("files: transfer %u (\"%s\", %" G_GUINT64_FORMAT " bytes) refused: %s", id, x->name, size,
                      g_strerror(err));
            xfer_free(x);
            send_error(files, id, err);
            return;
        }
    }
    x->dir_path = g_strdup(dir);
    g_hash_table_insert(files->xfers, GUINT_TO_POINTER(id), x);
    if (files->observer.started)
        files->observer.started(id, x->name, size, files->observer_data);
    g_message("files: transfer %u: receiving \"%s\" (%" G_GUINT64_FORMAT " bytes) into \"%s\"", id, x->name, size, dir);
    send_status(files, id, VD_XFER_CAN_SEND_DATA);
    if (size == 0)
        xfer_complete(files, x);
}

/* Writes all of data. Returns 0 or -errno. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int flush_buffer(Xfer *x)
{
    int r = write_all(x->fd, x->buf, x->buf_len);

    x->buf_len = 0;
    return r;
}

/* Small pieces (vdagentd forwards each 2048-byte chunk as it comes) are gathered into
 * VD_FILES_WRITE_BUFFER-sized writes; big ones go straight to the file. */
static int store(Xfer *x, const uint8_t *data, size_t len)
{
    int r = 0;

    while (len > 0 && r == 0) {
        if (x->buf_len == 0 && len >= VD_FILES_WRITE_BUFFER)
            return write_all(x->fd, data, len);
        size_t n = MIN(len, VD_FILES_WRITE_BUFFER - x->buf_len);
        memcpy(x->buf + x->buf_len, data, n);
        x->buf_len += n;
        data += n;
        len -= n;
        if (x->buf_len == VD_FILES_WRITE_BUFFER)
            r = flush_buffer(x);
    }
    return r;
}

static void handle_data(VdFiles *files, uint32_t id, const uint8_t *data, size_t len)
{
    Xfer *x = g_hash_table_lookup(files->xfers, GUINT_TO_POINTER(id));

    if (!x) {
        g_debug("files: %zu bytes for transfer %u, which is not running: ignored", len, id);
        return;
    }
    if (len > x->size - x->received) {
        g_message("files: transfer %u: more data than the %" G_GUINT64_FORMAT " bytes announced: aborted", id, x->size);
        xfer_end(files, x, NULL, "the host sent more data than announced");
        send_gio_error(files, id, G_IO_ERROR_INVALID_DATA);
        return;
    }
    x->received += len;
    int r = store(x, data, len);
    if (r == 0 && x->received == x->size)
        r = flush_buffer(x);
    if (r < 0) {
        g_message("files: transfer %u: writing \"%s\" failed: %s: aborted", id, x->name, g_strerror(-r));
        xfer_end(files, x, NULL, g_strerror(-r));
        send_error(files, id, -r);
        return;
    }
    if (x->received == x->size)
        xfer_complete(files, x);
    else if (files->observer.progress)
        files->observer.progress(id, x->received, x->size, files->observer_data);
}

static void handle_cancel(VdFiles *files, uint32_t id, uint32_t result)
{
    Xfer *x = g_hash_table_lookup(files->xfers, GUINT_TO_POINTER(id));

    if (!x) {
        g_debug("files: %s for transfer %u, which is not running: ignored", vd_xfer_result_to_string(result), id);
        return;
    }
    g_message("files: transfer %u (\"%s\") ended by the host (%s) after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
              " bytes",
              id, x->name, vd_xfer_result_to_string(result), x->received, x->size);
    xfer_end(files, x, NULL, result == VD_XFER_CANCELLED ? "cancelled" : vd_xfer_result_to_string(result));
}

void vd_files_handle_msg(VdFiles *files, const VdSessionMsg *msg)
{
    g_return_if_fail(files && msg);
    switch (msg->type) {
    case VD_S_XFER_START:
        handle_start(files, msg->u.xfer_start.id, msg->u.xfer_start.size, msg->u.xfer_start.name);
        break;
    case VD_S_XFER_DATA:
        handle_data(files, msg->u.xfer_data.id, msg->u.xfer_data.data, msg->u.xfer_data.len);
        break;
    case VD_S_XFER_CANCEL:
        handle_cancel(files, msg->u.xfer_cancel.id, msg->u.xfer_cancel.result);
        break;
    default:
        break;
    }
}

void vd_files_abort_all(VdFiles *files)
{
    if (!files || g_hash_table_size(files->xfers) == 0)
        return;
    g_message("files: %u transfer(s) abandoned", g_hash_table_size(files->xfers));
    g_autoptr(GList) all = g_hash_table_get_values(files->xfers);
    for (GList *l = all; l; l = l->next)
        xfer_end(files, l->data, NULL, "the connection to vdagentd was lost");
}

unsigned vd_files_active(const VdFiles *files)
{
    g_return_val_if_fail(files, 0);
    return g_hash_table_size(files->xfers);
}

VdFiles *vd_files_new(const char *dir, VdFilesStatusFunc send_status_fn, void *user_data)
{
    g_return_val_if_fail(send_status_fn, NULL);
    VdFiles *files = g_new0(VdFiles, 1);

    files->dir = g_strdup(dir);
    files->send_status = send_status_fn;
    files->user_data = user_data;
    files->xfers = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)xfer_free);
    clean_stale(files);
    return files;
}

void vd_files_set_observer(VdFiles *files, const VdFilesObserver *observer, void *user_data)
{
    g_return_if_fail(files && observer);
    files->observer = observer ? *observer : (VdFilesObserver){ 0 };
    files->observer_data = user_data;
}

void vd_files_free(VdFiles *files)
{
    if (!files)
        return;
    g_hash_table_unref(files->xfers);
    g_free(files->dir);
    g_free(files);
}
