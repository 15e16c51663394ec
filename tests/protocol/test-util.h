/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-util.h — small helpers shared by the protocol unit tests: hex literals, byte builders, and
 * exact-size copies (so that ASan catches a parser reading one byte too far). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"

/* "01 02 0a0b" -> bytes; blanks ignored. Aborts the test on a malformed literal. */
static inline GByteArray *hex(const char *text)
{
    GByteArray *out = g_byte_array_new();
    int nibble = -1;

    for (const char *p = text; *p; p++) {
        if (g_ascii_isspace(*p))
            continue;
        int v = g_ascii_xdigit_value(*p);
        g_assert_cmpint(v, >=, 0);
        if (nibble < 0) {
            nibble = v;
        } else {
            uint8_t b = (uint8_t)(nibble << 4 | v);
            g_byte_array_append(out, &b, 1);
            nibble = -1;
        }
    }
    g_assert_cmpint(nibble, ==, -1);
    return out;
}

static inline void put8(GByteArray *a, uint8_t v)
{
    g_byte_array_append(a, &v, 1);
}

static inline void put16(GByteArray *a, uint16_t v)
{
    uint8_t b[2];
    vd_put_le16(b, v);
    g_byte_array_append(a, b, 2);
}

static inline void put32(GByteArray *a, uint32_t v)
{
    uint8_t b[4];
    vd_put_le32(b, v);
    g_byte_array_append(a, b, 4);
}

static inline void put64(GByteArray *a, uint64_t v)
{
    uint8_t b[8];
    vd_put_le64(b, v);
    g_byte_array_append(a, b, 8);
}

static inline void putstr(GByteArray *a, const char *s)
{
    g_byte_array_append(a, (const uint8_t *)s, (guint)strlen(s));
}

/* An exact-size heap copy of buf[0..len): reading past it is an ASan error. len 0 gives a
 * non-NULL pointer to a 1-byte allocation that must not be read. */
static inline uint8_t *exact_copy(const uint8_t *buf, size_t len)
{
    uint8_t *p = g_malloc(len ? len : 1);
    if (len)
        memcpy(p, buf, len);
    return p;
}

static inline void assert_bytes_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    g_assert_cmpmem(a, alen, b, blen);
}
