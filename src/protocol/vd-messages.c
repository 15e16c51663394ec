/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-messages.c — the session-level messages (REPLY, ANNOUNCE_CAPABILITIES, CLIENT_DISCONNECTED,
 * AUDIO_VOLUME_SYNC) and vd_message_summary(). The other types live in vd-msg-display.c,
 * vd-msg-clipboard.c and vd-msg-xfer.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vd-msg-private.h"

#define REPLY_SIZE 8u
#define AUDIO_HEAD_SIZE 3u

int vd_parse_reply(const uint8_t *buf, size_t len, VdReply *ret, const char **reason)
{
    if (len != REPLY_SIZE)
        return vd_msg_fail(reason, "REPLY is not 8 bytes");
    *ret = (VdReply){ .type = vd_le32(buf), .error = vd_le32(buf + 4) };
    return 0;
}

void vd_build_reply(GByteArray *out, uint32_t type, uint32_t error)
{
    vd_msg_put_u32(out, type);
    vd_msg_put_u32(out, error);
}

int vd_parse_announce_caps(const uint8_t *buf, size_t len, VdAnnounceCaps *ret, const char **reason)
{
    size_t n_words;

    if (len < 4)
        return vd_msg_fail(reason, "ANNOUNCE_CAPABILITIES is shorter than its request field");
    if ((len - 4) % 4 != 0)
        return vd_msg_fail(reason, "ANNOUNCE_CAPABILITIES caps are not a whole number of u32");
    n_words = (len - 4) / 4;
    if (n_words > UINT32_MAX)
        return vd_msg_fail(reason, "ANNOUNCE_CAPABILITIES has too many caps words");

    memset(ret, 0, sizeof(*ret));
    ret->request = vd_le32(buf);
    ret->n_words = (uint32_t)n_words;
    for (size_t i = 0; i < MIN(n_words, (size_t)VD_CAPS_MAX_WORDS); i++)
        ret->caps.words[i] = vd_le32(buf + 4 + 4 * i);
    return 0;
}

void vd_build_announce_caps(GByteArray *out, bool request, const VdCaps *caps)
{
    uint32_t n = vd_caps_n_words(caps);

    vd_msg_put_u32(out, request ? 1 : 0);
    for (uint32_t i = 0; i < n; i++)
        vd_msg_put_u32(out, caps->words[i]);
}

int vd_parse_client_disconnected(const uint8_t *buf, size_t len, const char **reason)
{
    if (len != 0)
        return vd_msg_fail(reason, "CLIENT_DISCONNECTED is not empty");
    return 0;
}

int vd_parse_audio_volume_sync(const uint8_t *buf, size_t len, VdAudioVolumeSync *ret, const char **reason)
{
    uint8_t n;

    if (len < AUDIO_HEAD_SIZE)
        return vd_msg_fail(reason, "AUDIO_VOLUME_SYNC is shorter than its 3-byte head");
    n = buf[2];
    if (len < AUDIO_HEAD_SIZE + 2u * n)
        return vd_msg_fail(reason, "AUDIO_VOLUME_SYNC is shorter than its volumes");
    if (len > AUDIO_HEAD_SIZE + 2u * n)
        return vd_msg_fail(reason, "AUDIO_VOLUME_SYNC has bytes past its volumes");

    memset(ret, 0, sizeof(*ret));
    ret->is_playback = buf[0];
    ret->mute = buf[1];
    ret->nchannels = n;
    for (uint32_t i = 0; i < n; i++)
        ret->volume[i] = vd_le16(buf + AUDIO_HEAD_SIZE + 2 * i);
    return 0;
}

void vd_build_audio_volume_sync(GByteArray *out, const VdAudioVolumeSync *a)
{
    vd_msg_put_u8(out, a->is_playback);
    vd_msg_put_u8(out, a->mute);
    vd_msg_put_u8(out, a->nchannels);
    for (uint32_t i = 0; i < a->nchannels; i++)
        vd_msg_put_u16(out, a->volume[i]);
}

/* --- summaries --- */

typedef struct {
    char *buf;
    size_t size, pos;
} Out;

G_GNUC_PRINTF(2, 3)
static void outf(Out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->pos + 1 >= o->size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->pos, o->size - o->pos, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    o->pos += MIN((size_t)n, o->size - o->pos - 1);
}

/* Writes s (from the peer) quoted, with anything outside printable ASCII escaped. */
static void out_quoted(Out *o, const char *s, size_t max)
{
    outf(o, "\"");
    for (size_t i = 0; i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            outf(o, "%c", c);
        else
            outf(o, "\\x%02x", c);
    }
    outf(o, "\"");
}

static void summary_monitors(Out *o, const uint8_t *buf, size_t len, const char **reason)
{
    VdMonitorsConfig c;

    if (vd_parse_monitors_config(buf, len, &c, reason) < 0)
        return;
    outf(o, "count=%u flags=0x%x", c.count, c.flags);
    for (uint32_t i = 0; i < c.count; i++) {
        const VdMonitor *m = &c.monitors[i];
        if (!vd_monitor_enabled(m))
            continue;
        outf(o, " [%u]=%ux%u+%d+%d", i, m->width, m->height, m->x, m->y);
        if (c.flags & VD_MONITORS_PHYSICAL_SIZE)
            outf(o, "(%ux%umm)", m->mm_width, m->mm_height);
    }
}

static void summary_grab(Out *o, const uint8_t *buf, size_t len, const VdCaps *neg, const char **reason)
{
    VdClipboardGrab g;

    if (vd_parse_clipboard_grab(buf, len, neg, &g, reason) < 0)
        return;
    outf(o, "selection=%s", vd_selection_to_string(g.selection));
    if (g.has_serial)
        outf(o, " serial=%u", g.serial);
    outf(o, " types=");
    if (g.n_types == 0)
        outf(o, "none");
    for (uint32_t i = 0; i < g.n_types; i++)
        outf(o, "%s%s", i ? "," : "", vd_clipboard_type_to_string(g.types[i]));
}

static void summary_device_info(Out *o, const uint8_t *buf, size_t len, const char **reason)
{
    /* Large (8 KiB): not on the stack. */
    g_autofree VdGraphicsDeviceInfo *g = g_new(VdGraphicsDeviceInfo, 1);

    if (vd_parse_graphics_device_info(buf, len, g, reason) < 0)
        return;
    outf(o, "count=%u", g->count);
    for (uint32_t i = 0; i < g->count; i++) {
        const VdDeviceDisplayInfo *e = &g->entries[i];
        outf(o, " [channel=%u monitor=%u display=%u address=", e->channel_id, e->monitor_id,
             e->device_display_id);
        out_quoted(o, e->address, sizeof(e->address));
        outf(o, "]");
    }
}

static void summary_xfer_start(Out *o, const uint8_t *buf, size_t len, const char **reason)
{
    g_autofree VdFileXferStart *s = g_new(VdFileXferStart, 1);

    if (vd_parse_file_xfer_start(buf, len, s, reason) < 0)
        return;
    outf(o, "id=%u name=", s->id);
    out_quoted(o, s->name, sizeof(s->name));
    outf(o, " size=%" G_GUINT64_FORMAT, s->size);
    if (s->total)
        outf(o, " nr=%u/%u", s->nr, s->total);
}

void vd_message_summary(uint32_t type, const uint8_t *buf, size_t len, const VdCaps *neg, char *out,
                        size_t size)
{
    Out o = { out, size, 0 };
    const char *reason = NULL;
    char tmp[160];

    if (!out || size == 0)
        return;
    out[0] = '\0';

    switch (type) {
    case VD_MSG_MOUSE_STATE: {
        VdMouseState m;
        if (vd_parse_mouse_state(buf, len, &m, &reason) == 0)
            outf(&o, "x=%u y=%u buttons=%s display=%u", m.x, m.y,
                 vd_buttons_to_string(m.buttons, tmp, sizeof(tmp)), m.display_id);
        break;
    }
    case VD_MSG_MONITORS_CONFIG:
        summary_monitors(&o, buf, len, &reason);
        break;
    case VD_MSG_REPLY: {
        VdReply r;
        if (vd_parse_reply(buf, len, &r, &reason) == 0)
            outf(&o, "type=%s error=%s", vd_msg_type_to_string(r.type), vd_reply_error_to_string(r.error));
        break;
    }
    case VD_MSG_CLIPBOARD: {
        VdClipboard c;
        /* Usually given only the head: the data's length is the header's business. */
        if (vd_parse_clipboard(buf, len, neg, &c, &reason) == 0)
            outf(&o, "selection=%s type=%s", vd_selection_to_string(c.selection),
                 vd_clipboard_type_to_string(c.type));
        break;
    }
    case VD_MSG_DISPLAY_CONFIG: {
        VdDisplayConfig d;
        if (vd_parse_display_config(buf, len, &d, &reason) == 0)
            outf(&o, "flags=0x%x depth=%u", d.flags, d.depth);
        break;
    }
    case VD_MSG_ANNOUNCE_CAPABILITIES: {
        VdAnnounceCaps a;
        if (vd_parse_announce_caps(buf, len, &a, &reason) == 0)
            outf(&o, "request=%u words=%u caps=%s", a.request, a.n_words,
                 vd_caps_to_string(&a.caps, tmp, sizeof(tmp)));
        break;
    }
    case VD_MSG_CLIPBOARD_GRAB:
        summary_grab(&o, buf, len, neg, &reason);
        break;
    case VD_MSG_CLIPBOARD_REQUEST: {
        VdClipboardRequest r;
        if (vd_parse_clipboard_request(buf, len, neg, &r, &reason) == 0)
            outf(&o, "selection=%s type=%s", vd_selection_to_string(r.selection),
                 vd_clipboard_type_to_string(r.type));
        break;
    }
    case VD_MSG_CLIPBOARD_RELEASE: {
        uint8_t sel;
        if (vd_parse_clipboard_release(buf, len, neg, &sel, &reason) == 0)
            outf(&o, "selection=%s", vd_selection_to_string(sel));
        break;
    }
    case VD_MSG_FILE_XFER_START:
        summary_xfer_start(&o, buf, len, &reason);
        break;
    case VD_MSG_FILE_XFER_STATUS: {
        VdFileXferStatus s;
        if (vd_parse_file_xfer_status(buf, len, &s, &reason) == 0) {
            outf(&o, "id=%u result=%s", s.id, vd_xfer_result_to_string(s.result));
            if (s.has_detail && s.result == VD_XFER_ERROR)
                outf(&o, " error_type=%u error_code=%u", s.error_type, s.error_code);
            else if (s.has_detail)
                outf(&o, " free=%" G_GUINT64_FORMAT, s.free_space);
        }
        break;
    }
    case VD_MSG_FILE_XFER_DATA:
        /* Usually a head only: decode id and size without checking them against a total. */
        if (len >= VD_FILE_XFER_DATA_HEAD)
            outf(&o, "id=%u size=%" G_GUINT64_FORMAT, vd_le32(buf), vd_le64(buf + 4));
        else
            reason = "FILE_XFER_DATA is shorter than its id and size";
        break;
    case VD_MSG_CLIENT_DISCONNECTED:
        if (vd_parse_client_disconnected(buf, len, &reason) == 0)
            outf(&o, "(empty)");
        break;
    case VD_MSG_MAX_CLIPBOARD: {
        int32_t max;
        if (vd_parse_max_clipboard(buf, len, &max, &reason) == 0)
            outf(&o, "max=%d", max);
        break;
    }
    case VD_MSG_AUDIO_VOLUME_SYNC: {
        g_autofree VdAudioVolumeSync *a = g_new(VdAudioVolumeSync, 1);
        if (vd_parse_audio_volume_sync(buf, len, a, &reason) == 0) {
            outf(&o, "playback=%u mute=%u channels=%u", a->is_playback, a->mute, a->nchannels);
            for (uint32_t i = 0; i < a->nchannels; i++)
                outf(&o, "%s%u", i ? "," : " volume=", a->volume[i]);
        }
        break;
    }
    case VD_MSG_GRAPHICS_DEVICE_INFO:
        summary_device_info(&o, buf, len, &reason);
        break;
    default:
        outf(&o, "unknown type %u, %zu bytes", type, len);
        return;
    }
    if (reason)
        outf(&o, "undecodable (%s), %zu bytes", reason, len);
}
