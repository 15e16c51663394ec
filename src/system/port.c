/* SPDX-License-Identifier: GPL-3.0-or-later */
/* port.c — open, read, write and reopen the virtio port (or a Unix socket playing it). */
#include "port.h"

#include "fd-watch.h"
#include "outq.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct VdPort {
    char *path;
    VdPortCallbacks cb;
    void *user_data;
    int fd;
    guint watch;        /* fd watch, for the current condition set */
    GIOCondition watch_cond;
    guint reopen_timer;
    unsigned backoff_ms;
    bool reading;
    bool was_full;
    bool got_data;      /* healthy traffic since the last open: resets the backoff */
    VdOutQueue out;
    uint8_t *rbuf;
    uint64_t bytes_in, bytes_out;
    unsigned opens;
    int last_open_errno;
    int64_t since_us;   /* CLOCK_REALTIME of the last open or close */
    char *last_error;   /* why it last closed or failed to open; NULL if never, or open since */
};

static void set_error(VdPort *p, const char *why)
{
    g_free(p->last_error);
    p->last_error = g_strdup(why);
}

static gboolean on_fd(int fd, GIOCondition cond, gpointer user_data);

static void update_watch(VdPort *p)
{
    if (p->fd < 0)
        return;
    GIOCondition want = G_IO_ERR | G_IO_HUP;
    if (p->reading)
        want |= G_IO_IN;
    if (vd_outq_queued(&p->out) > 0)
        want |= G_IO_OUT;
    if (p->watch && want == p->watch_cond)
        return;
    if (p->watch)
        g_source_remove(p->watch);
    p->watch = vd_fd_watch_add(p->fd, want, on_fd, p);
    p->watch_cond = want;
}

static gboolean on_reopen(gpointer user_data);

static void schedule_reopen(VdPort *p, unsigned delay_ms)
{
    if (p->reopen_timer)
        g_source_remove(p->reopen_timer);
    p->reopen_timer = g_timeout_add(delay_ms, on_reopen, p);
}

static void close_port(VdPort *p, const char *why)
{
    if (p->fd < 0)
        return;
    if (p->watch)
        g_source_remove(p->watch);
    p->watch = 0;
    p->watch_cond = 0;
    close(p->fd);
    p->fd = -1;
    p->since_us = g_get_real_time();
    set_error(p, why);
    vd_outq_reset(&p->out);
    bool was_full = p->was_full;
    p->was_full = false;
    if (p->cb.closed)
        p->cb.closed(why, p->user_data);
    if (was_full && p->cb.drained)
        p->cb.drained(p->user_data);
}

/* Close and retry later, the delay doubling while opens keep failing or the host keeps leaving
 * without sending anything: never a busy loop. */
static void fail(VdPort *p, const char *why)
{
    close_port(p, why);
    if (p->got_data)
        p->backoff_ms = VD_PORT_BACKOFF_MIN_MS;
    p->got_data = false;
    schedule_reopen(p, p->backoff_ms);
    p->backoff_ms = MIN(p->backoff_ms * 2, VD_PORT_BACKOFF_MAX_MS);
}

static int open_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (S_ISSOCK(st.st_mode)) {
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(addr.sun_path))
            return -ENAMETOOLONG;
        strcpy(addr.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        /* A Unix stream connect completes at once or fails (EAGAIN: backlog full): retried later. */
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        return fd;
    }
    if (!S_ISCHR(st.st_mode))
        return -ENOTSUP;
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    return fd < 0 ? -errno : fd;
}

static void try_open(VdPort *p)
{
    int fd = open_path(p->path);
    if (fd < 0) {
        /* Say it once per kind of failure, not on every retry. */
        if (-fd != p->last_open_errno) {
            /* ENOTSUP is ours: the path is there but is neither a device nor a socket. */
            g_autofree char *why = fd == -ENOTSUP
                ? g_strdup("not a virtio port (a character device) or a Unix socket")
                : g_strdup_printf("cannot open: %s", g_strerror(-fd));
            g_message("port \"%s\": %s; retrying", p->path, why);
            set_error(p, why);
        }
        p->last_open_errno = -fd;
        schedule_reopen(p, p->backoff_ms);
        p->backoff_ms = MIN(p->backoff_ms * 2, VD_PORT_BACKOFF_MAX_MS);
        return;
    }
    p->last_open_errno = 0;
    p->fd = fd;
    p->opens++;
    p->since_us = g_get_real_time();
    /* Open now: an error from before is history, not the port's state. */
    set_error(p, NULL);
    p->got_data = false;
    g_message("port \"%s\" open", p->path);
    update_watch(p);
    if (p->cb.opened)
        p->cb.opened(p->user_data);
}

static gboolean on_reopen(gpointer user_data)
{
    VdPort *p = user_data;
    p->reopen_timer = 0;
    if (p->fd < 0)
        try_open(p);
    return G_SOURCE_REMOVE;
}

static void do_write(VdPort *p)
{
    if (p->fd < 0)
        return;
    ssize_t w = vd_outq_flush(&p->out, p->fd, false);
    if (w < 0) {
        g_autofree char *why = g_strdup_printf("write error: %s", g_strerror((int)-w));
        fail(p, why);
        return;
    }
    p->bytes_out += (uint64_t)w;
    bool full = vd_port_full(p);
    if (p->was_full && !full) {
        p->was_full = false;
        if (p->cb.drained)
            p->cb.drained(p->user_data);
    }
    p->was_full = p->was_full || full;
    update_watch(p);
}

static gboolean on_fd(int fd, GIOCondition cond, gpointer user_data)
{
    VdPort *p = user_data;
    if (cond & G_IO_OUT) {
        do_write(p);
        if (p->fd < 0)
            return G_SOURCE_CONTINUE; /* closed: the source is already destroyed */
    }
    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        if (!p->reading && !(cond & (G_IO_HUP | G_IO_ERR)))
            return G_SOURCE_CONTINUE;
        ssize_t n = read(fd, p->rbuf, VD_PORT_READ_SIZE);
        if (n > 0) {
            p->bytes_in += (uint64_t)n;
            if (p->cb.data)
                p->cb.data(p->rbuf, (size_t)n, p->user_data);
        } else if (n == 0) {
            fail(p, "the host closed the port");
        } else if (errno != EAGAIN && errno != EINTR) {
            g_autofree char *why = g_strdup_printf("read error: %s", g_strerror(errno));
            fail(p, why);
        } else if (cond & (G_IO_HUP | G_IO_ERR)) {
            fail(p, "the host hung up");
        }
    }
    /* The callbacks may have closed the port (and removed this source) or changed the watch. */
    return G_SOURCE_CONTINUE;
}

VdPort *vd_port_new(const char *path, const VdPortCallbacks *callbacks, void *user_data)
{
    VdPort *p = g_new0(VdPort, 1);
    p->path = g_strdup(path);
    p->cb = *callbacks;
    p->user_data = user_data;
    p->fd = -1;
    p->reading = true;
    p->backoff_ms = VD_PORT_BACKOFF_MIN_MS;
    vd_outq_init(&p->out);
    p->rbuf = g_malloc(VD_PORT_READ_SIZE);
    return p;
}

void vd_port_free(VdPort *p)
{
    if (!p)
        return;
    if (p->reopen_timer)
        g_source_remove(p->reopen_timer);
    if (p->watch)
        g_source_remove(p->watch);
    if (p->fd >= 0)
        close(p->fd);
    vd_outq_clear(&p->out);
    g_free(p->rbuf);
    g_free(p->last_error);
    g_free(p->path);
    g_free(p);
}

void vd_port_start(VdPort *p)
{
    if (p->fd < 0 && !p->reopen_timer)
        try_open(p);
}

bool vd_port_is_open(const VdPort *p)
{
    return p->fd >= 0;
}

const char *vd_port_path(const VdPort *p)
{
    return p->path;
}

GByteArray *vd_port_out(VdPort *p)
{
    return vd_outq_buffer(&p->out);
}

void vd_port_flush(VdPort *p)
{
    if (p->fd < 0) {
        vd_outq_reset(&p->out);
        return;
    }
    do_write(p);
}

size_t vd_port_queued(const VdPort *p)
{
    return vd_outq_queued(&p->out);
}

bool vd_port_full(const VdPort *p)
{
    return vd_port_queued(p) >= VD_PORT_OUT_HIGH;
}

void vd_port_set_reading(VdPort *p, bool reading)
{
    if (p->reading == reading)
        return;
    p->reading = reading;
    update_watch(p);
}

void vd_port_reset(VdPort *p, const char *why, unsigned delay_ms)
{
    g_message("port \"%s\": closing: %s", p->path, why);
    close_port(p, why);
    p->got_data = false;
    if (delay_ms == 0) {
        delay_ms = p->backoff_ms;
        p->backoff_ms = MIN(p->backoff_ms * 2, VD_PORT_BACKOFF_MAX_MS);
    }
    schedule_reopen(p, delay_ms);
}

void vd_port_healthy(VdPort *p)
{
    p->got_data = true;
}

uint64_t vd_port_bytes_in(const VdPort *p)
{
    return p->bytes_in;
}

uint64_t vd_port_bytes_out(const VdPort *p)
{
    return p->bytes_out;
}

unsigned vd_port_opens(const VdPort *p)
{
    return p->opens;
}

int64_t vd_port_since(const VdPort *p)
{
    return p->since_us;
}

const char *vd_port_last_error(const VdPort *p)
{
    return p->last_error;
}
