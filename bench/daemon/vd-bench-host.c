/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-bench-host.c — the host end of an agent port, in C, for end-to-end benchmarks through a
 * guest daemon (vdagentd or spice-vdagentd): fast enough that the figures measure the guest.
 *
 *     vd-bench-host PORT_SOCKET
 *
 * Listens on PORT_SOCKET (the daemon's --port / -s connects to it), accepts one connection,
 * announces spice-gtk's capabilities without grab serials (request=1) and answers the guest's
 * requests for ours. Then reads commands on stdin, one per line, and answers on stdout:
 *
 *   grab          host grabs CLIPBOARD (UTF8_TEXT)                       -> "ok"
 *   serve N       the next CLIPBOARD_REQUEST is answered with N bytes of
 *                 text in 2048-byte chunks, as fast as the port takes it -> "served SECONDS"
 *   wait-caps     until the guest announces the clipboard (by demand)   -> "caps"
 *   arm           forget the guest's grabs so far
 *   wait-grab     until the guest has grabbed CLIPBOARD (since arm)     -> "grabbed"
 *   request       asks for the guest's CLIPBOARD text                    -> "got BYTES SECONDS"
 *   file N        FILE_XFER_START, then (on CAN_SEND_DATA) N bytes in
 *                 64 KiB FILE_XFER_DATA messages, until the status      -> "file BYTES SECONDS" or
 *                                                                           "file-error RESULT"
 *   quit
 *
 * Reading is lenient: a chunk of any size is accepted (spice-vdagentd 0.22 writes a large
 * clipboard as one chunk); clipboard payloads are counted, never stored.
 */
#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vd-messages.h"
#include "vd-proto.h"

#define CHUNK 2048u
#define HOST_CAPS_WORD 0x00015077u /* spice-gtk 0.42's, grab serials left out */
#define FILE_PIECE (64u * 1024u)

typedef struct {
    uint8_t head[20];
    size_t head_have;
    uint32_t type;
    uint64_t left;
    GByteArray *body; /* small messages only */
    uint64_t counted; /* CLIPBOARD payload bytes */
} PortIn;

static int fd = -1;
static VdCaps ours, neg;
static PortIn in[3];
static bool guest_grabbed, want_grab, want_caps, requested, file_running;
static uint64_t serve_size, file_size;
static double t_request, t_file;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_all(const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "vd-bench-host: write: %s\n", g_strerror(errno));
            exit(1);
        }
        p += n;
        len -= (size_t)n;
    }
}

/* One whole message of our own (small), in chunks on port 1. */
static void send_message(uint32_t type, const GByteArray *payload)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    size_t total = 20 + payload->len;
    uint8_t head[20] = { 0 };
    uint32_t proto = 1, size = payload->len;
    memcpy(head, &proto, 4);
    memcpy(head + 4, &type, 4);
    memcpy(head + 16, &size, 4);
    g_autoptr(GByteArray) msg = g_byte_array_sized_new((guint)total);
    g_byte_array_append(msg, head, 20);
    g_byte_array_append(msg, payload->data, payload->len);
    for (size_t off = 0; off < msg->len; off += CHUNK) {
        uint32_t ch[2] = { 1, (uint32_t)MIN((size_t)CHUNK, msg->len - off) };
        g_byte_array_append(out, (const uint8_t *)ch, 8);
        g_byte_array_append(out, msg->data + off, ch[1]);
    }
    write_all(out->data, out->len);
}

/* A large message: head (the type's own header fields) then n bytes of text, streamed in chunks
 * through a 1 MiB buffer. */
static void stream_message(uint32_t type, const GByteArray *head_fields, uint64_t n)
{
    static const char line[] = "The quick brown fox jumps over the lazy dog 0123456789.\n";
    const size_t line_len = sizeof(line) - 1;
    static uint8_t pattern[CHUNK + sizeof(line)];
    if (!pattern[0])
        for (size_t i = 0; i < sizeof(pattern); i++)
            pattern[i] = (uint8_t)line[i % line_len];
    g_autoptr(GByteArray) buf = g_byte_array_sized_new(1u << 20);
    uint8_t chunk[CHUNK];
    size_t fill = 0;
    uint64_t text_pos = 0;
    uint8_t head[20] = { 0 };
    uint32_t proto = 1, size = (uint32_t)(head_fields->len + n);
    memcpy(head, &proto, 4);
    memcpy(head + 4, &type, 4);
    memcpy(head + 16, &size, 4);
    memcpy(chunk, head, 20);
    memcpy(chunk + 20, head_fields->data, head_fields->len);
    fill = 20 + head_fields->len;
    uint64_t left = n;
    for (;;) {
        size_t room = CHUNK - fill;
        size_t take = (size_t)MIN((uint64_t)room, left);
        memcpy(chunk + fill, pattern + text_pos % line_len, take);
        text_pos += take;
        fill += take;
        left -= take;
        uint32_t ch[2] = { 1, (uint32_t)fill };
        g_byte_array_append(buf, (const uint8_t *)ch, 8);
        g_byte_array_append(buf, chunk, (guint)fill);
        fill = 0;
        if (buf->len >= (1u << 20) - CHUNK - 8 || left == 0) {
            write_all(buf->data, buf->len);
            g_byte_array_set_size(buf, 0);
        }
        if (left == 0)
            break;
    }
}

static void announce(bool request)
{
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_build_announce_caps(p, request, &ours);
    send_message(VD_MSG_ANNOUNCE_CAPABILITIES, p);
}

static void send_file(void)
{
    for (uint64_t off = 0; off < file_size; off += FILE_PIECE) {
        uint64_t n = MIN((uint64_t)FILE_PIECE, file_size - off);
        g_autoptr(GByteArray) head = g_byte_array_new();
        vd_build_file_xfer_data_head(head, 1, n);
        stream_message(VD_MSG_FILE_XFER_DATA, head, n);
    }
}

static void on_message(uint32_t type, const uint8_t *p, size_t len)
{
    const char *reason = NULL;
    if (type == VD_MSG_ANNOUNCE_CAPABILITIES) {
        VdAnnounceCaps a;
        if (vd_parse_announce_caps(p, len, &a, &reason) < 0)
            return;
        for (unsigned w = 0; w < VD_CAPS_MAX_WORDS; w++)
            neg.words[w] = ours.words[w] & a.caps.words[w];
        if (a.request)
            announce(false);
        if (want_caps && vd_caps_has(&neg, VD_CAP_CLIPBOARD_BY_DEMAND)) {
            want_caps = false;
            printf("caps\n");
            fflush(stdout);
        }
    } else if (type == VD_MSG_CLIPBOARD_GRAB) {
        guest_grabbed = true;
        if (want_grab) {
            want_grab = false;
            printf("grabbed\n");
            fflush(stdout);
        }
    } else if (type == VD_MSG_CLIPBOARD_REQUEST && serve_size) {
        double t0 = now();
        g_autoptr(GByteArray) head = g_byte_array_new();
        vd_build_clipboard_head(head, &neg, VD_SELECTION_CLIPBOARD, VD_CLIPBOARD_UTF8_TEXT);
        stream_message(VD_MSG_CLIPBOARD, head, serve_size);
        serve_size = 0;
        printf("served %.3f\n", now() - t0);
        fflush(stdout);
    } else if (type == VD_MSG_FILE_XFER_STATUS && file_running) {
        VdFileXferStatus s;
        if (vd_parse_file_xfer_status(p, len, &s, &reason) < 0 || s.id != 1)
            return;
        if (s.result == VD_XFER_CAN_SEND_DATA) {
            send_file();
            return;
        }
        file_running = false;
        if (s.result == VD_XFER_SUCCESS)
            printf("file %" G_GUINT64_FORMAT " %.3f\n", file_size, now() - t_file);
        else
            printf("file-error %u\n", s.result);
        fflush(stdout);
    }
}

static void on_clipboard_end(PortIn *pi)
{
    if (!requested)
        return;
    requested = false;
    uint64_t head = vd_caps_has(&neg, VD_CAP_CLIPBOARD_SELECTION) ? 8 : 4;
    printf("got %" G_GUINT64_FORMAT " %.3f\n", pi->counted > head ? pi->counted - head : 0, now() - t_request);
    fflush(stdout);
}

/* Payload bytes of port p's stream. */
static void feed_port(unsigned p, const uint8_t *data, size_t len)
{
    PortIn *pi = &in[p];
    while (len > 0) {
        if (pi->head_have < 20) {
            size_t n = MIN(len, 20 - pi->head_have);
            memcpy(pi->head + pi->head_have, data, n);
            pi->head_have += n;
            data += n;
            len -= n;
            if (pi->head_have < 20)
                return;
            uint32_t size;
            memcpy(&pi->type, pi->head + 4, 4);
            memcpy(&size, pi->head + 16, 4);
            pi->left = size;
            pi->counted = 0;
            g_byte_array_set_size(pi->body, 0);
        }
        size_t n = (size_t)MIN((uint64_t)len, pi->left);
        if (pi->type == VD_MSG_CLIPBOARD)
            pi->counted += n;
        else if (pi->body->len + n <= (1u << 20))
            g_byte_array_append(pi->body, data, (guint)n);
        pi->left -= n;
        data += n;
        len -= n;
        if (pi->left == 0) {
            pi->head_have = 0;
            if (pi->type == VD_MSG_CLIPBOARD)
                on_clipboard_end(pi);
            else
                on_message(pi->type, pi->body->data, pi->body->len);
        }
    }
}

/* The chunk stream, leniently: any chunk size. */
static void on_input(const uint8_t *data, size_t len)
{
    static uint8_t chead[8];
    static size_t chead_have;
    static uint32_t cport, cleft;
    while (len > 0) {
        if (cleft == 0 && chead_have < 8) {
            size_t n = MIN(len, 8 - chead_have);
            memcpy(chead + chead_have, data, n);
            chead_have += n;
            data += n;
            len -= n;
            if (chead_have < 8)
                return;
            memcpy(&cport, chead, 4);
            memcpy(&cleft, chead + 4, 4);
            chead_have = 0;
            if (cport < 1 || cport > 2) {
                fprintf(stderr, "vd-bench-host: chunk for port %u\n", cport);
                exit(1);
            }
            continue;
        }
        size_t n = MIN(len, (size_t)cleft);
        feed_port(cport, data, n);
        cleft -= (uint32_t)n;
        data += n;
        len -= n;
    }
}

static void on_command(char *line)
{
    g_strstrip(line);
    if (g_str_equal(line, "grab")) {
        VdClipboardGrab g = { .selection = VD_SELECTION_CLIPBOARD, .n_types = 1,
                              .types = { VD_CLIPBOARD_UTF8_TEXT } };
        g_autoptr(GByteArray) p = g_byte_array_new();
        vd_build_clipboard_grab(p, &neg, &g);
        send_message(VD_MSG_CLIPBOARD_GRAB, p);
        printf("ok\n");
    } else if (g_str_has_prefix(line, "serve ")) {
        serve_size = g_ascii_strtoull(line + 6, NULL, 10);
        return;
    } else if (g_str_equal(line, "wait-caps")) {
        if (vd_caps_has(&neg, VD_CAP_CLIPBOARD_BY_DEMAND))
            printf("caps\n");
        else
            want_caps = true;
    } else if (g_str_equal(line, "arm")) {
        guest_grabbed = false;
        return;
    } else if (g_str_equal(line, "wait-grab")) {
        if (guest_grabbed)
            printf("grabbed\n");
        else
            want_grab = true;
    } else if (g_str_equal(line, "request")) {
        g_autoptr(GByteArray) p = g_byte_array_new();
        vd_build_clipboard_request(p, &neg, VD_SELECTION_CLIPBOARD, VD_CLIPBOARD_UTF8_TEXT);
        requested = true;
        t_request = now();
        send_message(VD_MSG_CLIPBOARD_REQUEST, p);
        return;
    } else if (g_str_has_prefix(line, "file ")) {
        file_size = g_ascii_strtoull(line + 5, NULL, 10);
        VdFileXferStart st = { .id = 1, .size = file_size, .nr = 1, .total = 1 };
        g_strlcpy(st.name, "vd-bench.bin", sizeof(st.name));
        g_autoptr(GByteArray) p = g_byte_array_new();
        vd_build_file_xfer_start(p, &st);
        file_running = true;
        t_file = now();
        send_message(VD_MSG_FILE_XFER_START, p);
        return;
    } else if (g_str_equal(line, "quit")) {
        exit(0);
    } else {
        printf("error unknown command\n");
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vd-bench-host PORT_SOCKET\n");
        return 2;
    }
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof(addr.sun_path))
        return 2;
    strcpy(addr.sun_path, argv[1]);
    unlink(argv[1]);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1) < 0) {
        fprintf(stderr, "vd-bench-host: cannot listen on %s: %s\n", argv[1], g_strerror(errno));
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return 1;
    close(lfd);
    int sz = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    for (unsigned p = 0; p < 3; p++)
        in[p].body = g_byte_array_new();
    ours.words[0] = HOST_CAPS_WORD;
    announce(true);
    printf("connected\n");
    fflush(stdout);

    static uint8_t buf[1u << 20];
    GString *cmd = g_string_new(NULL);
    for (;;) {
        struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (pfd[0].revents) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n <= 0) {
                fprintf(stderr, "vd-bench-host: the guest closed the port\n");
                return 1;
            }
            on_input(buf, (size_t)n);
        }
        if (pfd[1].revents) {
            char c[4096];
            ssize_t n = read(0, c, sizeof(c));
            if (n <= 0)
                return 0;
            g_string_append_len(cmd, c, n);
            char *nl;
            while ((nl = strchr(cmd->str, '\n'))) {
                g_autofree char *one = g_strndup(cmd->str, (gsize)(nl - cmd->str));
                g_string_erase(cmd, 0, nl - cmd->str + 1);
                on_command(one);
            }
        }
    }
}
