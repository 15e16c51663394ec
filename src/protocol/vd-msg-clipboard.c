/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-msg-clipboard.c — the clipboard messages: CLIPBOARD (whole and streamed head), CLIPBOARD_GRAB,
 * CLIPBOARD_REQUEST, CLIPBOARD_RELEASE, MAX_CLIPBOARD, and the selection prefix they share. */
#include <string.h>

#include "vd-msg-private.h"

#define SELECTION_PREFIX_SIZE 4u /* selection u8, 3 reserved */

size_t vd_selection_prefix_size(const VdCaps *neg)
{
    return vd_msg_neg_has(neg, VD_CAP_CLIPBOARD_SELECTION) ? SELECTION_PREFIX_SIZE : 0;
}

/* Reads the prefix (if negotiated) at buf; len was checked to hold it. */
static int parse_selection(const uint8_t *buf, const VdCaps *neg, uint8_t *ret, const char **reason)
{
    if (vd_selection_prefix_size(neg) == 0) {
        *ret = VD_SELECTION_CLIPBOARD;
        return 0;
    }
    if (buf[0] >= VD_SELECTION_END)
        return vd_msg_fail(reason, "unknown clipboard selection");
    *ret = buf[0];
    return 0;
}

static void put_selection(GByteArray *out, const VdCaps *neg, uint8_t selection)
{
    static const uint8_t reserved[SELECTION_PREFIX_SIZE - 1];

    if (vd_selection_prefix_size(neg) == 0)
        return;
    vd_msg_put_u8(out, selection);
    g_byte_array_append(out, reserved, sizeof(reserved));
}

size_t vd_clipboard_head_size(const VdCaps *neg)
{
    return vd_selection_prefix_size(neg) + 4;
}

int vd_parse_clipboard(const uint8_t *buf, size_t len, const VdCaps *neg, VdClipboard *ret,
                       const char **reason)
{
    size_t head = vd_clipboard_head_size(neg);
    uint8_t selection;

    if (len < head)
        return vd_msg_fail(reason, "CLIPBOARD is shorter than its selection and type");
    if (parse_selection(buf, neg, &selection, reason) < 0)
        return -EBADMSG;
    *ret = (VdClipboard){
        .selection = selection,
        .type = vd_le32(buf + head - 4),
        .data = buf + head,
        .len = len - head,
    };
    return 0;
}

int vd_parse_clipboard_head(const uint8_t *head, size_t head_len, uint32_t total, const VdCaps *neg,
                            uint8_t *ret_selection, uint32_t *ret_type, size_t *ret_consumed,
                            const char **reason)
{
    size_t need = vd_clipboard_head_size(neg);
    uint8_t selection;

    if (total < need)
        return vd_msg_fail(reason, "CLIPBOARD is shorter than its selection and type");
    if (head_len < need)
        return vd_msg_fail(reason, "CLIPBOARD head does not hold the selection and type");
    if (head_len > total)
        return vd_msg_fail(reason, "CLIPBOARD head is longer than the message");
    if (parse_selection(head, neg, &selection, reason) < 0)
        return -EBADMSG;
    *ret_selection = selection;
    *ret_type = vd_le32(head + need - 4);
    *ret_consumed = need;
    return 0;
}

void vd_build_clipboard_head(GByteArray *out, const VdCaps *neg, uint8_t selection, uint32_t type)
{
    put_selection(out, neg, selection);
    vd_msg_put_u32(out, type);
}

static size_t grab_fixed_size(const VdCaps *neg)
{
    return vd_selection_prefix_size(neg) + (vd_msg_neg_has(neg, VD_CAP_CLIPBOARD_GRAB_SERIAL) ? 4 : 0);
}

int vd_parse_clipboard_grab(const uint8_t *buf, size_t len, const VdCaps *neg, VdClipboardGrab *ret,
                            const char **reason)
{
    size_t fixed = grab_fixed_size(neg);
    bool has_serial = vd_msg_neg_has(neg, VD_CAP_CLIPBOARD_GRAB_SERIAL);
    uint8_t selection;
    size_t n_types;

    if (len < fixed)
        return vd_msg_fail(reason, has_serial ? "CLIPBOARD_GRAB is shorter than its selection and serial"
                                              : "CLIPBOARD_GRAB is shorter than its selection");
    if ((len - fixed) % 4 != 0)
        return vd_msg_fail(reason, "CLIPBOARD_GRAB types are not a whole number of u32");
    n_types = (len - fixed) / 4;
    if (n_types > VD_LIMIT_GRAB_TYPES)
        return vd_msg_fail(reason, "CLIPBOARD_GRAB has more types than VD_LIMIT_GRAB_TYPES");
    if (parse_selection(buf, neg, &selection, reason) < 0)
        return -EBADMSG;

    memset(ret, 0, sizeof(*ret));
    ret->selection = selection;
    ret->has_serial = has_serial;
    if (has_serial)
        ret->serial = vd_le32(buf + fixed - 4);
    ret->n_types = (uint32_t)n_types;
    for (size_t i = 0; i < n_types; i++)
        ret->types[i] = vd_le32(buf + fixed + 4 * i);
    return 0;
}

void vd_build_clipboard_grab(GByteArray *out, const VdCaps *neg, const VdClipboardGrab *g)
{
    uint32_t n = MIN(g->n_types, VD_LIMIT_GRAB_TYPES);

    put_selection(out, neg, g->selection);
    if (vd_msg_neg_has(neg, VD_CAP_CLIPBOARD_GRAB_SERIAL))
        vd_msg_put_u32(out, g->serial);
    for (uint32_t i = 0; i < n; i++)
        vd_msg_put_u32(out, g->types[i]);
}

int vd_parse_clipboard_request(const uint8_t *buf, size_t len, const VdCaps *neg, VdClipboardRequest *ret,
                               const char **reason)
{
    size_t need = vd_clipboard_head_size(neg);
    uint8_t selection;

    if (len != need)
        return vd_msg_fail(reason, need == 4 ? "CLIPBOARD_REQUEST is not 4 bytes"
                                             : "CLIPBOARD_REQUEST is not 8 bytes (selection, type)");
    if (parse_selection(buf, neg, &selection, reason) < 0)
        return -EBADMSG;
    *ret = (VdClipboardRequest){ .selection = selection, .type = vd_le32(buf + need - 4) };
    return 0;
}

void vd_build_clipboard_request(GByteArray *out, const VdCaps *neg, uint8_t selection, uint32_t type)
{
    put_selection(out, neg, selection);
    vd_msg_put_u32(out, type);
}

int vd_parse_clipboard_release(const uint8_t *buf, size_t len, const VdCaps *neg, uint8_t *ret_selection,
                               const char **reason)
{
    size_t need = vd_selection_prefix_size(neg);

    if (len != need)
        return vd_msg_fail(reason, need == 0 ? "CLIPBOARD_RELEASE is not empty"
                                             : "CLIPBOARD_RELEASE is not 4 bytes (selection)");
    return parse_selection(buf, neg, ret_selection, reason);
}

void vd_build_clipboard_release(GByteArray *out, const VdCaps *neg, uint8_t selection)
{
    put_selection(out, neg, selection);
}

int vd_parse_max_clipboard(const uint8_t *buf, size_t len, int32_t *ret_max, const char **reason)
{
    int32_t max;

    if (len != 4)
        return vd_msg_fail(reason, "MAX_CLIPBOARD is not 4 bytes");
    max = (int32_t)vd_le32(buf);
    if (max < -1)
        return vd_msg_fail(reason, "MAX_CLIPBOARD is negative but not -1");
    *ret_max = max;
    return 0;
}

void vd_build_max_clipboard(GByteArray *out, int32_t max)
{
    vd_msg_put_u32(out, (uint32_t)max);
}
