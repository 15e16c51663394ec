/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-msg.c — one libFuzzer target per VDAgent message parser: this file is built once per type
 * with FUZZ_MSG_TYPE set (fuzz-msg-mouse-state, fuzz-msg-monitors-config, …).
 *
 * Input: for the clipboard types, whose layout depends on what was negotiated, the first byte
 * chooses the negotiated caps (bit 0 CLIPBOARD_SELECTION, bit 1 CLIPBOARD_GRAB_SERIAL); the rest,
 * or for the other types the whole input, is the payload. */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz-vd-common.h"

#ifndef FUZZ_MSG_TYPE
#error "FUZZ_MSG_TYPE must name the message type"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool layout_negotiated(uint32_t type)
{
    return type == VD_MSG_CLIPBOARD || type == VD_MSG_CLIPBOARD_GRAB || type == VD_MSG_CLIPBOARD_REQUEST ||
           type == VD_MSG_CLIPBOARD_RELEASE;
}

/* The streamed head parser agrees with the whole-message parser. */
static void check_clipboard_head(const VdCaps *neg, const uint8_t *buf, size_t len)
{
    VdClipboard whole;
    uint8_t selection;
    uint32_t type;
    size_t consumed;
    size_t head_len = len < VD_STREAM_HEAD ? len : VD_STREAM_HEAD;
    g_autofree uint8_t *head = fuzz_copy(buf, head_len);

    if (len > UINT32_MAX)
        return;
    int w = vd_parse_clipboard(buf, len, neg, &whole, NULL);
    int h = vd_parse_clipboard_head(head, head_len, (uint32_t)len, neg, &selection, &type, &consumed, NULL);
    if ((w == 0) != (h == 0))
        abort();
    if (w == 0 && (whole.selection != selection || whole.type != type || consumed != len - whole.len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint32_t type = FUZZ_MSG_TYPE;
    VdCaps neg = { { 0 } };

    if (layout_negotiated(type)) {
        if (size < 1)
            return 0;
        neg = fuzz_neg_from(data[0]);
        data++;
        size--;
    }
    /* An exact-size copy: ASan then catches a read one byte past the payload. */
    g_autofree uint8_t *buf = fuzz_copy(data, size);
    fuzz_one_payload(type, &neg, buf, size);
    if (type == VD_MSG_CLIPBOARD)
        check_clipboard_head(&neg, buf, size);
    return 0;
}
