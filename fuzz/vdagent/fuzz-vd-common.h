/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-vd-common.h — what every VDAgent fuzz target checks on a payload: the parser of its type
 * either refuses it with a reason, or accepts it and then the rebuilt payload parses again and
 * rebuilds to the very same bytes (parse and build are inverse on everything the parser lets
 * through). The summary is computed too: it must never fail or overflow. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vd-messages.h"

/* An exact-size heap copy (at least 1 byte allocated, len copied): ASan then catches a read
 * one byte past the payload. */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t len)
{
    uint8_t *p = g_malloc(len ? len : 1);

    if (len)
        memcpy(p, data, len);
    return p;
}

static inline bool fuzz_same(const GByteArray *a, const GByteArray *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Selection prefix and grab serial are negotiated: the first input byte chooses them. */
static inline VdCaps fuzz_neg_from(uint8_t flags)
{
    VdCaps neg = { { 0 } };

    if (flags & 1)
        vd_caps_set(&neg, VD_CAP_CLIPBOARD_SELECTION);
    if (flags & 2)
        vd_caps_set(&neg, VD_CAP_CLIPBOARD_GRAB_SERIAL);
    return neg;
}

/* Parses buf as type; on success appends the rebuilt payload to out. Returns the parser's result
 * and aborts on a contract break (other error code, no reason). */
static inline int fuzz_parse_build(uint32_t type, const VdCaps *neg, const uint8_t *buf, size_t len,
                                   GByteArray *out)
{
    const char *reason = NULL;
    int r;

    switch (type) {
    case VD_MSG_MOUSE_STATE: {
        VdMouseState m;
        if ((r = vd_parse_mouse_state(buf, len, &m, &reason)) == 0)
            vd_build_mouse_state(out, &m);
        break;
    }
    case VD_MSG_MONITORS_CONFIG: {
        g_autofree VdMonitorsConfig *c = g_new(VdMonitorsConfig, 1);
        if ((r = vd_parse_monitors_config(buf, len, c, &reason)) == 0) {
            if (c->count == 0 || c->count > VD_LIMIT_MONITORS)
                abort();
            vd_build_monitors_config(out, c);
        }
        break;
    }
    case VD_MSG_REPLY: {
        VdReply p;
        if ((r = vd_parse_reply(buf, len, &p, &reason)) == 0)
            vd_build_reply(out, p.type, p.error);
        break;
    }
    case VD_MSG_CLIPBOARD: {
        VdClipboard c;
        if ((r = vd_parse_clipboard(buf, len, neg, &c, &reason)) == 0) {
            if (c.data < buf || c.data + c.len != buf + len || c.selection >= VD_SELECTION_END)
                abort();
            vd_build_clipboard_head(out, neg, c.selection, c.type);
            g_byte_array_append(out, c.data, (guint)c.len);
        }
        break;
    }
    case VD_MSG_DISPLAY_CONFIG: {
        VdDisplayConfig d;
        if ((r = vd_parse_display_config(buf, len, &d, &reason)) == 0)
            vd_build_display_config(out, &d);
        break;
    }
    case VD_MSG_ANNOUNCE_CAPABILITIES: {
        VdAnnounceCaps a;
        if ((r = vd_parse_announce_caps(buf, len, &a, &reason)) == 0) {
            if ((size_t)a.n_words * 4 + 4 != len)
                abort();
            /* Trailing zero words are not rebuilt: compare the meaning, not the bytes. */
            vd_build_announce_caps(out, a.request != 0, &a.caps);
        }
        break;
    }
    case VD_MSG_CLIPBOARD_GRAB: {
        VdClipboardGrab g;
        if ((r = vd_parse_clipboard_grab(buf, len, neg, &g, &reason)) == 0) {
            if (g.n_types > VD_LIMIT_GRAB_TYPES)
                abort();
            vd_build_clipboard_grab(out, neg, &g);
        }
        break;
    }
    case VD_MSG_CLIPBOARD_REQUEST: {
        VdClipboardRequest q;
        if ((r = vd_parse_clipboard_request(buf, len, neg, &q, &reason)) == 0)
            vd_build_clipboard_request(out, neg, q.selection, q.type);
        break;
    }
    case VD_MSG_CLIPBOARD_RELEASE: {
        uint8_t sel;
        if ((r = vd_parse_clipboard_release(buf, len, neg, &sel, &reason)) == 0)
            vd_build_clipboard_release(out, neg, sel);
        break;
    }
    case VD_MSG_FILE_XFER_START: {
        g_autofree VdFileXferStart *s = g_new(VdFileXferStart, 1);
        if ((r = vd_parse_file_xfer_start(buf, len, s, &reason)) == 0) {
            size_t n = strnlen(s->name, sizeof(s->name));
            if (n == 0 || n > VD_LIMIT_XFER_NAME || !g_utf8_validate(s->name, (gssize)n, NULL))
                abort();
            vd_build_file_xfer_start(out, s);
        }
        break;
    }
    case VD_MSG_FILE_XFER_STATUS: {
        VdFileXferStatus s;
        if ((r = vd_parse_file_xfer_status(buf, len, &s, &reason)) == 0)
            vd_build_file_xfer_status(out, &s);
        break;
    }
    case VD_MSG_FILE_XFER_DATA: {
        uint32_t id;
        uint64_t size;
        if (len > UINT32_MAX)
            return -EBADMSG;
        r = vd_parse_file_xfer_data_head(buf, len < VD_STREAM_HEAD ? len : VD_STREAM_HEAD, (uint32_t)len, &id,
                                         &size, &reason);
        if (r == 0) {
            if (size != len - VD_FILE_XFER_DATA_HEAD)
                abort();
            vd_build_file_xfer_data_head(out, id, size);
            g_byte_array_append(out, buf + VD_FILE_XFER_DATA_HEAD, (guint)size);
        }
        break;
    }
    case VD_MSG_CLIENT_DISCONNECTED:
        r = vd_parse_client_disconnected(buf, len, &reason);
        break;
    case VD_MSG_MAX_CLIPBOARD: {
        int32_t max;
        if ((r = vd_parse_max_clipboard(buf, len, &max, &reason)) == 0) {
            if (max < -1)
                abort();
            vd_build_max_clipboard(out, max);
        }
        break;
    }
    case VD_MSG_AUDIO_VOLUME_SYNC: {
        g_autofree VdAudioVolumeSync *a = g_new(VdAudioVolumeSync, 1);
        if ((r = vd_parse_audio_volume_sync(buf, len, a, &reason)) == 0)
            vd_build_audio_volume_sync(out, a);
        break;
    }
    case VD_MSG_GRAPHICS_DEVICE_INFO: {
        g_autofree VdGraphicsDeviceInfo *g = g_new(VdGraphicsDeviceInfo, 1);
        if ((r = vd_parse_graphics_device_info(buf, len, g, &reason)) == 0) {
            if (g->count > VD_LIMIT_DEVICE_INFO)
                abort();
            for (uint32_t i = 0; i < g->count; i++)
                if (strnlen(g->entries[i].address, VD_LIMIT_DEVICE_ADDRESS) >= VD_LIMIT_DEVICE_ADDRESS)
                    abort();
            vd_build_graphics_device_info(out, g);
        }
        break;
    }
    default:
        return -EBADMSG;
    }
    if (r != 0 && (r != -EBADMSG || !reason || !reason[0]))
        abort();
    return r;
}

/* The whole check for one payload of type. */
static inline void fuzz_one_payload(uint32_t type, const VdCaps *neg, const uint8_t *buf, size_t len)
{
    g_autoptr(GByteArray) first = g_byte_array_new();
    char summary[512];

    vd_message_summary(type, buf, len, neg, summary, sizeof(summary));
    if (strlen(summary) >= sizeof(summary))
        abort();
    if (fuzz_parse_build(type, neg, buf, len, first) != 0)
        return;

    /* What the parser accepted rebuilds into something it accepts again, to the same bytes. */
    g_autoptr(GByteArray) second = g_byte_array_new();
    g_autofree uint8_t *copy = fuzz_copy(first->data, first->len);
    if (fuzz_parse_build(type, neg, copy, first->len, second) != 0)
        abort();
    if (!fuzz_same(first, second))
        abort();
}
