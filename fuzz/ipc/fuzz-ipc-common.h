/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-ipc-common.h — the invariant every ipc fuzz target checks on each frame it decodes:
 * a frame the decoder accepts encodes again, and that encoding decodes and re-encodes to the
 * very same bytes (decode and encode are inverse on everything the decoder lets through). */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control-proto.h"
#include "session-proto.h"

static inline void fuzz_check_reencode(GByteArray *first, bool control, uint16_t type)
{
    g_autoptr(GByteArray) second = g_byte_array_new();
    const uint8_t *p = first->data + VD_IPC_HEADER_SIZE;
    size_t len = first->len - VD_IPC_HEADER_SIZE;

    if (control) {
        VdControlMsg m;
        if (vd_control_msg_decode(type, p, len, &m, NULL) != 0 || vd_control_msg_encode(second, &m) != 0)
            abort();
        vd_control_msg_clear(&m);
    } else {
        VdSessionMsg m;
        if (vd_session_msg_decode(type, p, len, &m, NULL) != 0 || vd_session_msg_encode(second, &m) != 0)
            abort();
        vd_session_msg_clear(&m);
    }
    if (first->len != second->len || memcmp(first->data, second->data, first->len) != 0)
        abort();
}

/* Decodes one payload as the given protocol; on success checks the round trip. */
static inline void fuzz_one_message(bool control, uint16_t type, const uint8_t *payload, size_t len)
{
    g_autoptr(GByteArray) first = g_byte_array_new();
    const char *reason = NULL;
    int r;

    if (control) {
        VdControlMsg m;
        r = vd_control_msg_decode(type, payload, len, &m, &reason);
        if (r == 0) {
            if (vd_control_msg_encode(first, &m) != 0)
                abort();
            vd_control_msg_clear(&m);
        }
    } else {
        VdSessionMsg m;
        r = vd_session_msg_decode(type, payload, len, &m, &reason);
        if (r == 0) {
            if (vd_session_msg_encode(first, &m) != 0)
                abort();
            vd_session_msg_clear(&m);
        }
    }
    if (r == 0)
        fuzz_check_reencode(first, control, type);
    else if ((r != -EBADMSG && r != -EOPNOTSUPP) || !reason)
        abort();
}
