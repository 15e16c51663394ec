/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wl-dc-server.c — a test-only Wayland server offering what no Debian 12 compositor offers:
 * ext_data_control_manager_v1 (version 1), next to one wl_seat. It stands in for a compositor in
 * tests/session/test-agent-ext-datacontrol.py; the agent on the other side is the real one,
 * speaking the real wire protocol through libwayland. It keeps a clipboard and a primary
 * selection the way a compositor does: a data-control source set by a client, or a selection of
 * its own that the test gives it (playing another application); every data-control device hears
 * each change (data_offer, the offer's MIME types, then selection or primary_selection).
 *
 *     wl-dc-server SOCKET-NAME      (in $XDG_RUNTIME_DIR)
 *
 * Commands on stdin, one a line:
 *     copy clipboard|primary HEXDATA MIME...   a selection of the server's own, with these types
 *     paste clipboard|primary MIME             asks the client's source for MIME (send event)
 *     clear clipboard|primary                  no selection
 * Lines on stdout: "ready", "selection clipboard|primary MIME..." when a client sets one (nothing
 * after the name: cleared), "pasted clipboard|primary HEXDATA" (empty: nothing came),
 * "cancelled" when a client's source is replaced, "error ..." for a bad command.
 *
 * Deliberately simple: blocking writes and reads of small payloads (a test's), no keyboard focus.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wayland-server.h>

#include "ext-data-control-v1-server-protocol.h"

enum { SEL_CLIPBOARD, SEL_PRIMARY, SEL_COUNT };

typedef struct {
    struct wl_array mimes; /* char *, strdup'ed */
} MimeList;

typedef struct Source {
    struct wl_resource *resource;
    MimeList mimes;
} Source;

typedef struct {
    Source *source;          /* a client's, or NULL */
    MimeList own_mimes;      /* the server's own selection, when source is NULL and own is set */
    char *own_data;          /* bytes, own_len of them */
    size_t own_len;
    int own;
} Selection;

typedef struct {
    struct wl_display *display;
    struct wl_list devices; /* wl_resource links */
    Selection sel[SEL_COUNT];
    char line[1 << 20];
    size_t line_len;
} Server;

static Server server;

static const char *sel_name(int which)
{
    return which == SEL_PRIMARY ? "primary" : "clipboard";
}

static void mimes_add(MimeList *list, const char *mime)
{
    char **slot = wl_array_add(&list->mimes, sizeof(char *));
    *slot = strdup(mime);
}

static void mimes_clear(MimeList *list)
{
    char **m;
    wl_array_for_each(m, &list->mimes) free(*m);
    wl_array_release(&list->mimes);
    wl_array_init(&list->mimes);
}

/* --- offers: one per device per change; the offer knows which selection it shows --- */

typedef struct {
    int which;
    Source *source; /* the source it showed (NULL: the server's own); checked still current */
} Offer;

static void offer_receive(struct wl_client *client, struct wl_resource *resource, const char *mime, int32_t fd)
{
    (void)client;
    Offer *offer = wl_resource_get_user_data(resource);
    Selection *sel = &server.sel[offer->which];
    if (sel->source && sel->source == offer->source) {
        ext_data_control_source_v1_send_send(sel->source->resource, mime, fd);
    } else if (!sel->source && sel->own && !offer->source) {
        size_t off = 0;
        while (off < sel->own_len) {
            ssize_t n = write(fd, sel->own_data + off, sel->own_len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    close(fd);
}

static void resource_destroy(struct wl_client *client, struct wl_resource *resource)
{
    (void)client;
    wl_resource_destroy(resource);
}

static const struct ext_data_control_offer_v1_interface offer_impl = {
    .receive = offer_receive,
    .destroy = resource_destroy,
};

static void offer_free(struct wl_resource *resource)
{
    free(wl_resource_get_user_data(resource));
}

static void announce(struct wl_resource *device, int which)
{
    Selection *sel = &server.sel[which];
    struct wl_resource *offer_res = NULL;
    if (sel->source || sel->own) {
        Offer *offer = calloc(1, sizeof(*offer));
        offer->which = which;
        offer->source = sel->source;
        offer_res = wl_resource_create(wl_resource_get_client(device), &ext_data_control_offer_v1_interface,
                                       wl_resource_get_version(device), 0);
        wl_resource_set_implementation(offer_res, &offer_impl, offer, offer_free);
        ext_data_control_device_v1_send_data_offer(device, offer_res);
        MimeList *list = sel->source ? &sel->source->mimes : &sel->own_mimes;
        char **m;
        wl_array_for_each(m, &list->mimes) ext_data_control_offer_v1_send_offer(offer_res, *m);
    }
    if (which == SEL_PRIMARY)
        ext_data_control_device_v1_send_primary_selection(device, offer_res);
    else
        ext_data_control_device_v1_send_selection(device, offer_res);
}

static void announce_all(int which)
{
    struct wl_resource *device;
    wl_resource_for_each(device, &server.devices) announce(device, which);
    wl_display_flush_clients(server.display);
}

static void drop_own(Selection *sel)
{
    sel->own = 0;
    mimes_clear(&sel->own_mimes);
    free(sel->own_data);
    sel->own_data = NULL;
    sel->own_len = 0;
}

/* A new selection replaces the old: a client's old source hears cancelled. */
static void set_source(int which, Source *source)
{
    Selection *sel = &server.sel[which];
    if (sel->source && sel->source != source) {
        ext_data_control_source_v1_send_cancelled(sel->source->resource);
        printf("cancelled\n");
    }
    sel->source = source;
    drop_own(sel);
}

/* --- sources --- */

static void source_offer(struct wl_client *client, struct wl_resource *resource, const char *mime)
{
    (void)client;
    Source *source = wl_resource_get_user_data(resource);
    mimes_add(&source->mimes, mime);
}

static const struct ext_data_control_source_v1_interface source_impl = {
    .offer = source_offer,
    .destroy = resource_destroy,
};

static void source_free(struct wl_resource *resource)
{
    Source *source = wl_resource_get_user_data(resource);
    for (int which = 0; which < SEL_COUNT; which++) {
        if (server.sel[which].source == source) {
            server.sel[which].source = NULL;
            printf("selection %s\n", sel_name(which));
            fflush(stdout);
            announce_all(which);
        }
    }
    mimes_clear(&source->mimes);
    free(source);
}

/* --- devices --- */

static void device_set(struct wl_resource *source_res, int which)
{
    Source *source = source_res ? wl_resource_get_user_data(source_res) : NULL;
    set_source(which, source);
    printf("selection %s", sel_name(which));
    if (source) {
        char **m;
        wl_array_for_each(m, &source->mimes.mimes) printf(" %s", *m);
    }
    printf("\n");
    fflush(stdout);
    announce_all(which);
}

static void device_set_selection(struct wl_client *client, struct wl_resource *resource, struct wl_resource *source)
{
    (void)client;
    (void)resource;
    device_set(source, SEL_CLIPBOARD);
}

static void device_set_primary(struct wl_client *client, struct wl_resource *resource, struct wl_resource *source)
{
    (void)client;
    (void)resource;
    device_set(source, SEL_PRIMARY);
}

static const struct ext_data_control_device_v1_interface device_impl = {
    .set_selection = device_set_selection,
    .destroy = resource_destroy,
    .set_primary_selection = device_set_primary,
};

static void device_free(struct wl_resource *resource)
{
    wl_list_remove(wl_resource_get_link(resource));
}

/* --- the manager --- */

static void manager_create_source(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
    Source *source = calloc(1, sizeof(*source));
    wl_array_init(&source->mimes.mimes);
    source->resource =
        wl_resource_create(client, &ext_data_control_source_v1_interface, wl_resource_get_version(resource), id);
    wl_resource_set_implementation(source->resource, &source_impl, source, source_free);
}

static void manager_get_device(struct wl_client *client, struct wl_resource *resource, uint32_t id,
                               struct wl_resource *seat)
{
    (void)seat; /* one seat */
    struct wl_resource *device =
        wl_resource_create(client, &ext_data_control_device_v1_interface, wl_resource_get_version(resource), id);
    wl_resource_set_implementation(device, &device_impl, NULL, device_free);
    wl_list_insert(&server.devices, wl_resource_get_link(device));
    /* A new device hears the current selections at once, as from a compositor. */
    announce(device, SEL_CLIPBOARD);
    announce(device, SEL_PRIMARY);
}

static const struct ext_data_control_manager_v1_interface manager_impl = {
    .create_data_source = manager_create_source,
    .get_data_device = manager_get_device,
    .destroy = resource_destroy,
};

static void manager_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
    (void)data;
    struct wl_resource *res = wl_resource_create(client, &ext_data_control_manager_v1_interface, (int)version, id);
    wl_resource_set_implementation(res, &manager_impl, NULL, NULL);
}

/* --- the seat: only its name and no capabilities (the agent binds it for data control) --- */

static void seat_get_nothing(struct wl_client *client, struct wl_resource *resource, uint32_t id)
{
    (void)id;
    (void)client;
    wl_resource_post_error(resource, WL_DISPLAY_ERROR_INVALID_METHOD, "this test seat has no input devices");
}

static const struct wl_seat_interface seat_impl = {
    .get_pointer = seat_get_nothing,
    .get_keyboard = seat_get_nothing,
    .get_touch = seat_get_nothing,
};

static void seat_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
    (void)data;
    struct wl_resource *res = wl_resource_create(client, &wl_seat_interface, (int)version, id);
    wl_resource_set_implementation(res, &seat_impl, NULL, NULL);
    wl_seat_send_capabilities(res, 0);
}

/* --- the test's commands --- */

static int which_of(const char *word)
{
    if (word && strcmp(word, "clipboard") == 0)
        return SEL_CLIPBOARD;
    if (word && strcmp(word, "primary") == 0)
        return SEL_PRIMARY;
    return -1;
}

static void print_hex(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", (unsigned char)data[i]);
}

static void command(char *line)
{
    char *save = NULL;
    char *verb = strtok_r(line, " ", &save);
    int which = which_of(strtok_r(NULL, " ", &save));
    if (!verb || which < 0) {
        printf("error bad command\n");
        return;
    }
    if (strcmp(verb, "copy") == 0) {
        const char *hex = strtok_r(NULL, " ", &save);
        size_t n = hex ? strlen(hex) / 2 : 0;
        char *data = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&data[i]);
        set_source(which, NULL);
        Selection *sel = &server.sel[which];
        sel->own = 1;
        sel->own_data = data;
        sel->own_len = n;
        for (const char *m; (m = strtok_r(NULL, " ", &save));)
            mimes_add(&sel->own_mimes, m);
        announce_all(which);
        printf("copied %s\n", sel_name(which));
    } else if (strcmp(verb, "clear") == 0) {
        set_source(which, NULL);
        announce_all(which);
        printf("cleared %s\n", sel_name(which));
    } else if (strcmp(verb, "paste") == 0) {
        const char *mime = strtok_r(NULL, " ", &save);
        Source *source = server.sel[which].source;
        int fds[2];
        if (!mime || !source || pipe2(fds, O_CLOEXEC) < 0) {
            printf("error nothing to paste\n");
            return;
        }
        ext_data_control_source_v1_send_send(source->resource, mime, fds[1]);
        close(fds[1]);
        wl_display_flush_clients(server.display);
        /* Blocking: the client answers without us (it writes into the pipe itself). */
        char *got = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
            if (len == cap) {
                cap = cap ? cap * 2 : 4096;
                got = realloc(got, cap);
            }
            ssize_t r = read(fds[0], got + len, cap - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            len += (size_t)r;
        }
        close(fds[0]);
        printf("pasted %s ", sel_name(which));
        print_hex(got, len);
        printf("\n");
        free(got);
    } else {
        printf("error unknown command\n");
    }
}

static int on_stdin(int fd, uint32_t mask, void *data)
{
    (void)data;
    if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
        wl_display_terminate(server.display);
        return 0;
    }
    ssize_t n = read(fd, server.line + server.line_len, sizeof(server.line) - 1 - server.line_len);
    if (n <= 0) {
        wl_display_terminate(server.display);
        return 0;
    }
    server.line_len += (size_t)n;
    char *nl;
    while ((nl = memchr(server.line, '\n', server.line_len))) {
        *nl = '\0';
        command(server.line);
        fflush(stdout);
        size_t used = (size_t)(nl - server.line) + 1;
        memmove(server.line, nl + 1, server.line_len - used);
        server.line_len -= used;
    }
    if (server.line_len == sizeof(server.line) - 1) {
        fprintf(stderr, "wl-dc-server: command line too long\n");
        wl_display_terminate(server.display);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: wl-dc-server SOCKET-NAME\n");
        return 2;
    }
    server.display = wl_display_create();
    wl_list_init(&server.devices);
    for (int i = 0; i < SEL_COUNT; i++)
        wl_array_init(&server.sel[i].own_mimes.mimes);
    if (wl_display_add_socket(server.display, argv[1]) < 0) {
        fprintf(stderr, "wl-dc-server: cannot listen on \"%s\": %s\n", argv[1], strerror(errno));
        return 1;
    }
    wl_global_create(server.display, &wl_seat_interface, 1, NULL, seat_bind);
    wl_global_create(server.display, &ext_data_control_manager_v1_interface, 1, NULL, manager_bind);
    wl_event_loop_add_fd(wl_display_get_event_loop(server.display), STDIN_FILENO, WL_EVENT_READABLE, on_stdin,
                         NULL);
    printf("ready\n");
    fflush(stdout);
    wl_display_run(server.display);
    wl_display_destroy_clients(server.display);
    wl_display_destroy(server.display);
    return 0;
}
