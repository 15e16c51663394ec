/* SPDX-License-Identifier: GPL-3.0-or-later */
/* uinput.c — the one absolute pointer device (or its fake: raw records to a file). */
#include "uinput.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <linux/input.h>
#include <linux/uinput.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "vd-proto.h"

struct VdUinput {
    int fd;
    bool fake;
    char *path;
    char *event_node; /* /dev/input/eventN of the real device */
    bool have_state;
    uint32_t x, y, buttons;
    struct input_event buf[VD_UINPUT_BUFFER_EVENTS];
    size_t n;
    uint64_t events, writes, dropped, failed_writes;
};

static const struct {
    uint32_t vd_bit;
    uint16_t code;
} button_map[] = {
    { VD_BUTTON_LEFT, BTN_LEFT },
    { VD_BUTTON_MIDDLE, BTN_MIDDLE },
    { VD_BUTTON_RIGHT, BTN_RIGHT },
    { VD_BUTTON_SIDE, BTN_SIDE },
    { VD_BUTTON_EXTRA, BTN_EXTRA },
};

static int setup_device(int fd)
{
    static const int rels[] = { REL_WHEEL, REL_WHEEL_HI_RES };
    if (ioctl(fd, UI_SET_EVBIT, EV_KEY) < 0 || ioctl(fd, UI_SET_EVBIT, EV_ABS) < 0 ||
        ioctl(fd, UI_SET_EVBIT, EV_REL) < 0 || ioctl(fd, UI_SET_EVBIT, EV_SYN) < 0)
        return -errno;
    for (size_t i = 0; i < G_N_ELEMENTS(button_map); i++)
        if (ioctl(fd, UI_SET_KEYBIT, button_map[i].code) < 0)
            return -errno;
    for (size_t i = 0; i < G_N_ELEMENTS(rels); i++)
        if (ioctl(fd, UI_SET_RELBIT, rels[i]) < 0)
            return -errno;
    /* An absolute pointer that maps onto the screen: libinput and X's evdev treat a device with
     * absolute axes and mouse buttons as an absolute mouse; DIRECT says it is screen-mapped. */
    if (ioctl(fd, UI_SET_PROPBIT, INPUT_PROP_DIRECT) < 0)
        return -errno;
    for (int axis = ABS_X; axis <= ABS_Y; axis++) {
        struct uinput_abs_setup abs = { .code = (uint16_t)axis };
        abs.absinfo.minimum = 0;
        abs.absinfo.maximum = VD_AXIS_MAX;
        if (ioctl(fd, UI_SET_ABSBIT, axis) < 0 || ioctl(fd, UI_ABS_SETUP, &abs) < 0)
            return -errno;
    }
    struct uinput_setup setup = { .id = { .bustype = BUS_VIRTUAL, .vendor = 0x1af4, .product = 0x0003, .version = 1 } };
    g_strlcpy(setup.name, VD_UINPUT_NAME, sizeof(setup.name));
    if (ioctl(fd, UI_DEV_SETUP, &setup) < 0 || ioctl(fd, UI_DEV_CREATE) < 0)
        return -errno;
    return 0;
}

/* The evdev node the kernel made for our device (for status and logs). */
static char *find_event_node(int fd)
{
    char sysname[64] = "";
    if (ioctl(fd, UI_GET_SYSNAME(sizeof(sysname)), sysname) < 0)
        return NULL;
    g_autofree char *dir = g_build_filename("/sys/devices/virtual/input", sysname, NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)))
        if (g_str_has_prefix(name, "event"))
            return g_build_filename("/dev/input", name, NULL);
    return NULL;
}

VdUinput *vd_uinput_new(const char *path, bool fake, GError **error)
{
    int fd;
    if (fake) {
        struct stat st;
        /* A FIFO is opened read-write so that opening never waits for a reader; a full FIFO drops
         * events (counted) rather than blocking the main loop. */
        if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
            fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        else
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
    } else {
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot open \"%s\": %s", path, g_strerror(e));
        return NULL;
    }
    if (!fake) {
        int r = setup_device(fd);
        if (r < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "cannot create the uinput device on \"%s\": %s",
                        path, g_strerror(-r));
            close(fd);
            return NULL;
        }
    }
    VdUinput *u = g_new0(VdUinput, 1);
    u->fd = fd;
    u->fake = fake;
    u->path = g_strdup(path);
    if (!fake) {
        u->event_node = find_event_node(fd);
        g_message("pointer: \"%s\" created%s%s", VD_UINPUT_NAME, u->event_node ? " as " : "",
                  u->event_node ? u->event_node : "");
    }
    return u;
}

void vd_uinput_free(VdUinput *uinput)
{
    if (!uinput)
        return;
    if (!uinput->fake)
        (void)ioctl(uinput->fd, UI_DEV_DESTROY);
    close(uinput->fd);
    g_free(uinput->event_node);
    g_free(uinput->path);
    g_free(uinput);
}

static void push(VdUinput *u, uint16_t type, uint16_t code, int32_t value)
{
    if (u->n == VD_UINPUT_BUFFER_EVENTS)
        vd_uinput_flush(u);
    u->buf[u->n++] = (struct input_event){ .type = type, .code = code, .value = value };
}

void vd_uinput_pointer(VdUinput *u, uint32_t x, uint32_t y, uint32_t buttons)
{
    g_return_if_fail(u);
    /* Flush early rather than split one report across two writes. */
    if (u->n + 12 > VD_UINPUT_BUFFER_EVENTS)
        vd_uinput_flush(u);
    size_t start = u->n;
    if (!u->have_state || x != u->x)
        push(u, EV_ABS, ABS_X, (int32_t)x);
    if (!u->have_state || y != u->y)
        push(u, EV_ABS, ABS_Y, (int32_t)y);
    uint32_t old = u->have_state ? u->buttons : 0;
    for (size_t i = 0; i < G_N_ELEMENTS(button_map); i++) {
        uint32_t bit = button_map[i].vd_bit;
        if ((old ^ buttons) & bit)
            push(u, EV_KEY, button_map[i].code, (buttons & bit) ? 1 : 0);
    }
    /* The wheel "buttons" are pressed and released per notch: a notch is the press. */
    if ((buttons & ~old) & VD_BUTTON_WHEEL_UP) {
        push(u, EV_REL, REL_WHEEL, 1);
        push(u, EV_REL, REL_WHEEL_HI_RES, 120);
    }
    if ((buttons & ~old) & VD_BUTTON_WHEEL_DOWN) {
        push(u, EV_REL, REL_WHEEL, -1);
        push(u, EV_REL, REL_WHEEL_HI_RES, -120);
    }
    u->have_state = true;
    u->x = x;
    u->y = y;
    u->buttons = buttons;
    if (u->n != start)
        push(u, EV_SYN, SYN_REPORT, 0);
}

void vd_uinput_flush(VdUinput *u)
{
    g_return_if_fail(u);
    if (u->n == 0)
        return;
    size_t bytes = u->n * sizeof(struct input_event);
    ssize_t w;
    do
        w = write(u->fd, u->buf, bytes);
    while (w < 0 && errno == EINTR);
    u->writes++;
    if (w == (ssize_t)bytes) {
        u->events += u->n;
    } else {
        /* uinput takes whole records or nothing; a fake FIFO may be full. Never block for it. */
        if (u->dropped == 0 || (u->dropped & (u->dropped - 1)) == 0)
            g_warning("uinput \"%s\": could not write %zu events (%s); dropped", u->path, u->n,
                      w < 0 ? g_strerror(errno) : "short write");
        u->dropped += u->n;
        u->failed_writes++;
    }
    u->n = 0;
}

uint64_t vd_uinput_events(const VdUinput *u)
{
    g_return_val_if_fail(u, 0);
    return u->events;
}

uint64_t vd_uinput_failed_writes(const VdUinput *u)
{
    g_return_val_if_fail(u, 0);
    return u->failed_writes;
}

uint64_t vd_uinput_writes(const VdUinput *u)
{
    g_return_val_if_fail(u, 0);
    return u->writes;
}

bool vd_uinput_fake(const VdUinput *u)
{
    g_return_val_if_fail(u, false);
    return u->fake;
}

const char *vd_uinput_event_node(const VdUinput *u)
{
    g_return_val_if_fail(u, NULL);
    return u->event_node;
}
