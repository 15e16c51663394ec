/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wl-pointer-probe.c — a Wayland client for the vm suite's sway guest: one xdg toplevel (which sway,
 * with no borders, tiles over the whole output it opens on) that prints every pointer position it
 * gets, in surface coordinates, as "pointer X Y" lines on standard output. The test reads the last
 * line: where the compositor put the paravirtual pointer, as an application sees it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm_base;
static struct wl_seat *seat;
static struct wl_surface *surface;
static struct wl_buffer *buffer;
static int32_t width = 64, height = 64;

static void print_pos(wl_fixed_t x, wl_fixed_t y)
{
    printf("pointer %.2f %.2f\n", wl_fixed_to_double(x), wl_fixed_to_double(y));
    fflush(stdout);
}

static void on_enter(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s, wl_fixed_t x,
                     wl_fixed_t y)
{
    print_pos(x, y);
}

static void on_leave(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s)
{
    printf("leave\n");
    fflush(stdout);
}

static void on_motion(void *data, struct wl_pointer *p, uint32_t time, wl_fixed_t x, wl_fixed_t y)
{
    print_pos(x, y);
}

static void on_button(void *data, struct wl_pointer *p, uint32_t serial, uint32_t time, uint32_t button,
                      uint32_t state)
{
}

static void on_axis(void *data, struct wl_pointer *p, uint32_t time, uint32_t axis, wl_fixed_t value)
{
}

static const struct wl_pointer_listener pointer_listener = {
    .enter = on_enter, .leave = on_leave, .motion = on_motion, .button = on_button, .axis = on_axis,
};

static void on_caps(void *data, struct wl_seat *s, uint32_t caps)
{
    static struct wl_pointer *pointer;
    if ((caps & WL_SEAT_CAPABILITY_POINTER) && !pointer) {
        pointer = wl_seat_get_pointer(s);
        wl_pointer_add_listener(pointer, &pointer_listener, NULL);
    }
}

static void on_seat_name(void *data, struct wl_seat *s, const char *name)
{
}

static const struct wl_seat_listener seat_listener = { .capabilities = on_caps, .name = on_seat_name };

static void on_ping(void *data, struct xdg_wm_base *b, uint32_t serial)
{
    xdg_wm_base_pong(b, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = { .ping = on_ping };

/* A white buffer of the configured size. */
static void draw(void)
{
    size_t stride = (size_t)width * 4, size = stride * (size_t)height;
    int fd = memfd_create("probe", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
        exit(1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        exit(1);
    memset(p, 0xff, size);
    munmap(p, size);
    struct wl_shm_pool *pool = wl_shm_create_pool(shm, fd, (int32_t)size);
    if (buffer)
        wl_buffer_destroy(buffer);
    buffer = wl_shm_pool_create_buffer(pool, 0, width, height, (int32_t)stride, WL_SHM_FORMAT_XRGB8888);
    wl_shm_pool_destroy(pool);
    close(fd);
    wl_surface_attach(surface, buffer, 0, 0);
    wl_surface_damage(surface, 0, 0, width, height);
    wl_surface_commit(surface);
}

static void on_surface_configure(void *data, struct xdg_surface *s, uint32_t serial)
{
    xdg_surface_ack_configure(s, serial);
    draw();
}

static const struct xdg_surface_listener surface_listener = { .configure = on_surface_configure };

static void on_toplevel_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h, struct wl_array *states)
{
    if (w > 0 && h > 0) {
        width = w;
        height = h;
        printf("size %d %d\n", w, h);
        fflush(stdout);
    }
}

static void on_toplevel_close(void *data, struct xdg_toplevel *t)
{
    exit(0);
}

static const struct xdg_toplevel_listener toplevel_listener = {
    .configure = on_toplevel_configure, .close = on_toplevel_close,
};

static void on_global(void *data, struct wl_registry *r, uint32_t name, const char *iface, uint32_t version)
{
    if (strcmp(iface, wl_compositor_interface.name) == 0)
        compositor = wl_registry_bind(r, name, &wl_compositor_interface, 4);
    else if (strcmp(iface, wl_shm_interface.name) == 0)
        shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
    else if (strcmp(iface, xdg_wm_base_interface.name) == 0)
        wm_base = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
    else if (strcmp(iface, wl_seat_interface.name) == 0 && !seat)
        seat = wl_registry_bind(r, name, &wl_seat_interface, 1);
}

static void on_global_remove(void *data, struct wl_registry *r, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = { .global = on_global, .global_remove = on_global_remove };

int main(void)
{
    struct wl_display *d = wl_display_connect(NULL);
    if (!d) {
        fprintf(stderr, "wl-pointer-probe: no compositor: %s\n", strerror(errno));
        return 1;
    }
    wl_registry_add_listener(wl_display_get_registry(d), &registry_listener, NULL);
    wl_display_roundtrip(d);
    if (!compositor || !shm || !wm_base || !seat) {
        fprintf(stderr, "wl-pointer-probe: missing globals\n");
        return 1;
    }
    xdg_wm_base_add_listener(wm_base, &wm_base_listener, NULL);
    wl_seat_add_listener(seat, &seat_listener, NULL);
    surface = wl_compositor_create_surface(compositor);
    struct xdg_surface *xs = xdg_wm_base_get_xdg_surface(wm_base, surface);
    xdg_surface_add_listener(xs, &surface_listener, NULL);
    struct xdg_toplevel *top = xdg_surface_get_toplevel(xs);
    xdg_toplevel_add_listener(top, &toplevel_listener, NULL);
    xdg_toplevel_set_app_id(top, "vdtest-probe");
    wl_surface_commit(surface);
    while (wl_display_dispatch(d) >= 0) {
    }
    return 0;
}
