/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ipc-codec.c — the C codec as a filter, for cross-checking tests/lib/vdipc.py against it.
 *
 *   ipc-codec session|control < frames > answers
 *
 * Reads a stream of frames from stdin through the incremental decoder (fed in slices of varying
 * sizes) and answers each frame with one frame on stdout: the message decoded and encoded again if
 * the decoder accepted it, else a REJECT frame (type 0xFFFF: kind u32 — 1 malformed, 2 unknown
 * type — then the reason). A bad frame header ends the stream with a BAD_HEADER frame (0xFFFE). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control-proto.h"
#include "session-proto.h"

#define REJECT 0xFFFFu
#define BAD_HEADER 0xFFFEu

typedef struct {
    bool control;
    GByteArray *out;
} Codec;

static void put_reject(GByteArray *out, uint16_t type, uint32_t kind, const char *reason)
{
    size_t start = vd_ipc_frame_begin(out, type);
    vd_ipc_put_u32(out, kind);
    vd_ipc_put_string(out, reason ? reason : "");
    g_assert(vd_ipc_frame_end(out, start, VD_IPC_MAX_PAYLOAD) == 0);
}

static int on_frame(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    Codec *codec = user_data;
    const char *reason = NULL;
    int r;

    if (codec->control) {
        VdControlMsg m;
        r = vd_control_msg_decode(type, payload, len, &m, &reason);
        if (r == 0) {
            g_assert(vd_control_msg_encode(codec->out, &m) == 0);
            vd_control_msg_clear(&m);
        }
    } else {
        VdSessionMsg m;
        r = vd_session_msg_decode(type, payload, len, &m, &reason);
        if (r == 0) {
            g_assert(vd_session_msg_encode(codec->out, &m) == 0);
            vd_session_msg_clear(&m);
        }
    }
    if (r == -EBADMSG)
        put_reject(codec->out, REJECT, 1, reason);
    else if (r == -EOPNOTSUPP)
        put_reject(codec->out, REJECT, 2, reason);
    else
        g_assert(r == 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "session") != 0 && strcmp(argv[1], "control") != 0)) {
        fprintf(stderr, "usage: %s session|control < frames\n", argv[0]);
        return 2;
    }
    Codec codec = { .control = strcmp(argv[1], "control") == 0, .out = g_byte_array_new() };
    g_autoptr(GByteArray) in = g_byte_array_new();
    uint8_t buf[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
        g_byte_array_append(in, buf, (guint)n);
    if (n < 0) {
        perror("read");
        return 1;
    }

    VdIpcDecoder *d = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
    size_t pos = 0, step = 1;
    const char *reason = NULL;
    while (pos < in->len) {
        size_t take = MIN(step, in->len - pos);
        if (vd_ipc_decoder_feed(d, in->data + pos, take, on_frame, &codec, &reason) < 0) {
            put_reject(codec.out, BAD_HEADER, 1, reason);
            break;
        }
        pos += take;
        step = step * 3 % 1021 + 1; /* 1, 4, 13, 40, …: slices that cut headers and payloads */
    }
    vd_ipc_decoder_free(d);

    for (size_t off = 0; off < codec.out->len;) {
        n = write(STDOUT_FILENO, codec.out->data + off, codec.out->len - off);
        if (n <= 0) {
            perror("write");
            return 1;
        }
        off += (size_t)n;
    }
    g_byte_array_free(codec.out, TRUE);
    return 0;
}
