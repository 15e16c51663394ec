/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-msg-private.h — helpers shared by the vd-msg-*.c parsers and builders. Not a public contract. */
#pragma once

#include <errno.h>
#include <glib.h>

#include "bytes.h"
#include "vd-messages.h"

/* Every parser failure goes through here: one static sentence, -EBADMSG. */
static inline int vd_msg_fail(const char **reason, const char *why)
{
    if (reason)
        *reason = why;
    return -EBADMSG;
}

static inline void vd_msg_put_u8(GByteArray *out, uint8_t v)
{
    g_byte_array_append(out, &v, 1);
}

static inline void vd_msg_put_u16(GByteArray *out, uint16_t v)
{
    uint8_t b[2];

    vd_put_le16(b, v);
    g_byte_array_append(out, b, sizeof(b));
}

static inline void vd_msg_put_u32(GByteArray *out, uint32_t v)
{
    uint8_t b[4];

    vd_put_le32(b, v);
    g_byte_array_append(out, b, sizeof(b));
}

static inline void vd_msg_put_u64(GByteArray *out, uint64_t v)
{
    uint8_t b[8];

    vd_put_le64(b, v);
    g_byte_array_append(out, b, sizeof(b));
}

static inline bool vd_msg_neg_has(const VdCaps *neg, uint32_t cap)
{
    return neg && vd_caps_has(neg, cap);
}
