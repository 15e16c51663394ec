/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-ipc-decoder — the incremental frame decoder over a stream cut at input-chosen points.
 *
 * Input: byte 0 picks the protocol (bit 0) and the decoder's max payload (bits 1-2); bytes 1-8 are
 * slice lengths used in turn; the rest is the stream. Every frame delivered is decoded as a
 * message and checked like fuzz-session-msg / fuzz-control-msg; the frames delivered must add up
 * to the bytes fed, minus what is still pending. */
#include "fuzz-ipc-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    bool control;
    size_t delivered;
} State;

static int on_frame(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    State *s = user_data;
    s->delivered += VD_IPC_HEADER_SIZE + len;
    fuzz_one_message(s->control, type, payload, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t max_payloads[] = { VD_IPC_MAX_PAYLOAD, 0, 64, 4096 };
    if (size < 9)
        return 0;
    State s = { .control = data[0] & 1 };
    VdIpcDecoder *d = vd_ipc_decoder_new(max_payloads[(data[0] >> 1) & 3]);
    const uint8_t *splits = data + 1, *stream = data + 9;
    size_t len = size - 9, pos = 0, fed = 0;
    const char *reason = NULL;
    int r = 0;

    for (unsigned i = 0; pos < len && r == 0; i++) {
        size_t n = MIN((size_t)splits[i % 8] + 1, len - pos);
        r = vd_ipc_decoder_feed(d, stream + pos, n, on_frame, &s, &reason);
        pos += n;
        fed = pos;
    }
    if (r == 0 && s.delivered + vd_ipc_decoder_pending(d) != fed)
        abort();
    if (r != 0 && (r != -EBADMSG || !reason))
        abort();
    vd_ipc_decoder_free(d);
    return 0;
}
