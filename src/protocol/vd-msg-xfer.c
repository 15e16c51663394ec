/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-msg-xfer.c — the file-transfer messages: FILE_XFER_START (id + key file), FILE_XFER_STATUS,
 * FILE_XFER_DATA's head. */
#include <string.h>

#include "vd-msg-private.h"

#define XFER_GROUP "vdagent-file-xfer"
#define XFER_STATUS_SIZE 8u
#define XFER_ERROR_DETAIL_SIZE 5u  /* error_type u8, error_code u32 */
#define XFER_SPACE_DETAIL_SIZE 8u  /* free u64 */

/* A strict decimal: digits only (no sign, no blanks, no base prefix), within max. */
static bool parse_decimal(const char *s, uint64_t max, uint64_t *ret)
{
    guint64 v;

    if (!s || !g_ascii_isdigit(s[0]))
        return false;
    if (!g_ascii_string_to_unsigned(s, 10, 0, max, &v, NULL))
        return false;
    *ret = v;
    return true;
}

/* Reads an optional u32 key: absent is 0, present must be a decimal. */
static bool get_optional_u32(GKeyFile *kf, const char *key, uint32_t *ret)
{
    g_autofree char *value = g_key_file_get_value(kf, XFER_GROUP, key, NULL);
    uint64_t v;

    if (!value) {
        *ret = 0;
        return true;
    }
    if (!parse_decimal(value, UINT32_MAX, &v))
        return false;
    *ret = (uint32_t)v;
    return true;
}

int vd_parse_file_xfer_start(const uint8_t *buf, size_t len, VdFileXferStart *ret, const char **reason)
{
    g_autoptr(GKeyFile) kf = NULL;
    g_autofree char *name = NULL;
    g_autofree char *size_text = NULL;
    g_autoptr(GError) error = NULL;
    const char *text;
    size_t text_len;
    uint64_t size;
    uint32_t nr, total;

    if (len < 4)
        return vd_msg_fail(reason, "FILE_XFER_START is shorter than its id");
    text = (const char *)buf + 4;
    text_len = len - 4;
    /* spice-gtk ends the text with a NUL; the protocol does not promise it. */
    if (text_len > 0 && text[text_len - 1] == '\0')
        text_len--;
    if (text_len == 0)
        return vd_msg_fail(reason, "FILE_XFER_START has no key file");
    if (text_len > VD_LIMIT_XFER_START_TEXT)
        return vd_msg_fail(reason, "FILE_XFER_START key file is longer than VD_LIMIT_XFER_START_TEXT");
    if (memchr(text, '\0', text_len))
        return vd_msg_fail(reason, "FILE_XFER_START key file has an embedded NUL");

    kf = g_key_file_new();
    if (!g_key_file_load_from_data(kf, text, text_len, G_KEY_FILE_NONE, NULL))
        return vd_msg_fail(reason, "FILE_XFER_START key file does not parse");
    if (!g_key_file_has_group(kf, XFER_GROUP))
        return vd_msg_fail(reason, "FILE_XFER_START key file has no [vdagent-file-xfer] group");
    /* On a bad escape GLib returns a (partly decoded) string and an error: the error decides. */
    name = g_key_file_get_string(kf, XFER_GROUP, "name", &error);
    if (!name || error)
        return vd_msg_fail(reason, "FILE_XFER_START has no valid name key");
    if (name[0] == '\0')
        return vd_msg_fail(reason, "FILE_XFER_START name is empty");
    if (strlen(name) > VD_LIMIT_XFER_NAME)
        return vd_msg_fail(reason, "FILE_XFER_START name is longer than VD_LIMIT_XFER_NAME");
    if (!g_utf8_validate(name, -1, NULL))
        return vd_msg_fail(reason, "FILE_XFER_START name is not valid UTF-8");
    size_text = g_key_file_get_value(kf, XFER_GROUP, "size", NULL);
    if (!size_text)
        return vd_msg_fail(reason, "FILE_XFER_START has no size key");
    if (!parse_decimal(size_text, UINT64_MAX, &size))
        return vd_msg_fail(reason, "FILE_XFER_START size is not a decimal u64");
    if (!get_optional_u32(kf, "file-xfer-nr", &nr))
        return vd_msg_fail(reason, "FILE_XFER_START file-xfer-nr is not a decimal u32");
    if (!get_optional_u32(kf, "file-xfer-total", &total))
        return vd_msg_fail(reason, "FILE_XFER_START file-xfer-total is not a decimal u32");

    memset(ret, 0, sizeof(*ret));
    ret->id = vd_le32(buf);
    memcpy(ret->name, name, strlen(name) + 1);
    ret->size = size;
    ret->nr = nr;
    ret->total = total;
    return 0;
}

int vd_peek_file_xfer_id(const uint8_t *buf, size_t len, uint32_t *ret_id)
{
    if (!buf || len < 4)
        return -EBADMSG;
    *ret_id = vd_le32(buf);
    return 0;
}

void vd_build_file_xfer_start(GByteArray *out, const VdFileXferStart *s)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *name = g_strndup(s->name, VD_LIMIT_XFER_NAME);
    g_autofree char *text = NULL;
    gsize text_len;

    g_key_file_set_string(kf, XFER_GROUP, "name", name);
    g_key_file_set_uint64(kf, XFER_GROUP, "size", s->size);
    if (s->nr != 0 || s->total != 0) {
        g_key_file_set_uint64(kf, XFER_GROUP, "file-xfer-nr", s->nr);
        g_key_file_set_uint64(kf, XFER_GROUP, "file-xfer-total", s->total);
    }
    text = g_key_file_to_data(kf, &text_len, NULL);
    vd_msg_put_u32(out, s->id);
    /* With the NUL, as spice-gtk sends it. */
    g_byte_array_append(out, (const uint8_t *)text, (guint)text_len + 1);
}

int vd_parse_file_xfer_status(const uint8_t *buf, size_t len, VdFileXferStatus *ret, const char **reason)
{
    VdFileXferStatus s = { 0 };
    size_t detail;

    if (len < XFER_STATUS_SIZE)
        return vd_msg_fail(reason, "FILE_XFER_STATUS is shorter than its id and result");
    s.id = vd_le32(buf);
    s.result = vd_le32(buf + 4);
    detail = len - XFER_STATUS_SIZE;
    if (s.result == VD_XFER_ERROR && detail == XFER_ERROR_DETAIL_SIZE) {
        s.has_detail = true;
        s.error_type = buf[8];
        s.error_code = vd_le32(buf + 9);
    } else if (s.result == VD_XFER_NOT_ENOUGH_SPACE && detail == XFER_SPACE_DETAIL_SIZE) {
        s.has_detail = true;
        s.free_space = vd_le64(buf + 8);
    }
    *ret = s;
    return 0;
}

void vd_build_file_xfer_status(GByteArray *out, const VdFileXferStatus *s)
{
    vd_msg_put_u32(out, s->id);
    vd_msg_put_u32(out, s->result);
    if (!s->has_detail)
        return;
    if (s->result == VD_XFER_ERROR) {
        vd_msg_put_u8(out, s->error_type);
        vd_msg_put_u32(out, s->error_code);
    } else if (s->result == VD_XFER_NOT_ENOUGH_SPACE) {
        vd_msg_put_u64(out, s->free_space);
    }
}

int vd_parse_file_xfer_data_head(const uint8_t *head, size_t head_len, uint32_t total, uint32_t *ret_id,
                                 uint64_t *ret_size, const char **reason)
{
    uint64_t size;

    if (total < VD_FILE_XFER_DATA_HEAD)
        return vd_msg_fail(reason, "FILE_XFER_DATA is shorter than its id and size");
    if (head_len < VD_FILE_XFER_DATA_HEAD)
        return vd_msg_fail(reason, "FILE_XFER_DATA head does not hold the id and size");
    if (head_len > total)
        return vd_msg_fail(reason, "FILE_XFER_DATA head is longer than the message");
    size = vd_le64(head + 4);
    if (size != total - VD_FILE_XFER_DATA_HEAD)
        return vd_msg_fail(reason, "FILE_XFER_DATA size does not match its payload");
    *ret_id = vd_le32(head);
    *ret_size = size;
    return 0;
}

void vd_build_file_xfer_data_head(GByteArray *out, uint32_t id, uint64_t size)
{
    vd_msg_put_u32(out, id);
    vd_msg_put_u64(out, size);
}
