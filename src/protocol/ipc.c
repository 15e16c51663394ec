/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ipc.c — framing, field encoding and the incremental frame decoder of our own protocols.
 *
 * Nothing here knows a message type beyond HELLO and ERROR: session-proto.c and control-proto.c
 * build on the cursor and put functions. Every read is bounds-checked against the payload and a
 * failure is sticky, so a decoder can read a whole layout and check the cursor once at the end.
 */
#include "ipc.h"

#include <errno.h>
#include <string.h>

#include "bytes.h"

const char *vd_ipc_error_code_to_string(uint32_t code)
{
    static const char *const names[] = {
        [VD_IPC_ERR_NONE] = "NONE",
        [VD_IPC_ERR_VERSION] = "VERSION",
        [VD_IPC_ERR_PERMISSION] = "PERMISSION",
        [VD_IPC_ERR_BAD_FRAME] = "BAD_FRAME",
        [VD_IPC_ERR_LIMIT] = "LIMIT",
        [VD_IPC_ERR_NOT_ACTIVE] = "NOT_ACTIVE",
        [VD_IPC_ERR_UNSUPPORTED] = "UNSUPPORTED",
        [VD_IPC_ERR_NO_HOST] = "NO_HOST",
        [VD_IPC_ERR_NO_AGENT] = "NO_AGENT",
        [VD_IPC_ERR_TIMEOUT] = "TIMEOUT",
        [VD_IPC_ERR_INTERNAL] = "INTERNAL",
    };
    if (code < G_N_ELEMENTS(names) && names[code])
        return names[code];
    return "UNKNOWN";
}

/* --- building --- */

size_t vd_ipc_frame_begin(GByteArray *out, uint16_t type)
{
    size_t start = out->len;
    uint8_t header[VD_IPC_HEADER_SIZE];

    vd_put_le16(header, type);
    vd_put_le16(header + 2, 0);
    vd_put_le32(header + 4, 0);
    g_byte_array_append(out, header, sizeof(header));
    return start;
}

int vd_ipc_frame_end(GByteArray *out, size_t start, uint32_t max_payload)
{
    g_assert(start + VD_IPC_HEADER_SIZE <= out->len);
    size_t payload = out->len - start - VD_IPC_HEADER_SIZE;

    if (payload > max_payload || payload > VD_IPC_MAX_PAYLOAD) {
        g_byte_array_set_size(out, (guint)start);
        return -EMSGSIZE;
    }
    vd_put_le32(out->data + start + 4, (uint32_t)payload);
    return 0;
}

void vd_ipc_put_u8(GByteArray *out, uint8_t v)
{
    g_byte_array_append(out, &v, 1);
}

void vd_ipc_put_u16(GByteArray *out, uint16_t v)
{
    uint8_t b[2];

    vd_put_le16(b, v);
    g_byte_array_append(out, b, sizeof(b));
}

void vd_ipc_put_u32(GByteArray *out, uint32_t v)
{
    uint8_t b[4];

    vd_put_le32(b, v);
    g_byte_array_append(out, b, sizeof(b));
}

void vd_ipc_put_i32(GByteArray *out, int32_t v)
{
    vd_ipc_put_u32(out, (uint32_t)v);
}

void vd_ipc_put_u64(GByteArray *out, uint64_t v)
{
    uint8_t b[8];

    vd_put_le64(b, v);
    g_byte_array_append(out, b, sizeof(b));
}

void vd_ipc_put_string(GByteArray *out, const char *s)
{
    size_t len = s ? strlen(s) : 0;

    /* An oversized string makes an oversized frame, which vd_ipc_frame_end() refuses. */
    vd_ipc_put_u32(out, (uint32_t)MIN(len, (size_t)UINT32_MAX));
    if (len)
        g_byte_array_append(out, (const guint8 *)s, (guint)len);
}

void vd_ipc_put_blob(GByteArray *out, const void *data, uint32_t len)
{
    vd_ipc_put_u32(out, len);
    if (len)
        g_byte_array_append(out, data, len);
}

/* Canonical form: trailing zero words are not sent, but at least one word is. */
static uint32_t caps_words_to_send(const VdCaps *caps)
{
    uint32_t n = VD_CAPS_MAX_WORDS;

    while (n > 1 && caps->words[n - 1] == 0)
        n--;
    return n;
}

void vd_ipc_put_caps(GByteArray *out, const VdCaps *caps)
{
    uint32_t n = caps_words_to_send(caps);

    vd_ipc_put_u32(out, n);
    for (uint32_t i = 0; i < n; i++)
        vd_ipc_put_u32(out, caps->words[i]);
}

/* --- reading --- */

void vd_ipc_cursor_init(VdIpcCursor *c, const uint8_t *payload, size_t len)
{
    *c = (VdIpcCursor){ .p = payload, .len = len };
}

void vd_ipc_cursor_fail(VdIpcCursor *c, const char *reason)
{
    if (!c->failed) {
        c->failed = true;
        c->reason = reason;
    }
}

/* Returns a pointer to the next n bytes and advances, or NULL (cursor failed). */
static const uint8_t *take(VdIpcCursor *c, size_t n)
{
    if (c->failed)
        return NULL;
    if (n > c->len - c->pos) {
        vd_ipc_cursor_fail(c, "frame truncated");
        return NULL;
    }
    const uint8_t *p = c->p + c->pos;
    c->pos += n;
    return p;
}

uint8_t vd_ipc_get_u8(VdIpcCursor *c)
{
    const uint8_t *p = take(c, 1);
    return p ? p[0] : 0;
}

uint16_t vd_ipc_get_u16(VdIpcCursor *c)
{
    const uint8_t *p = take(c, 2);
    return p ? vd_le16(p) : 0;
}

uint32_t vd_ipc_get_u32(VdIpcCursor *c)
{
    const uint8_t *p = take(c, 4);
    return p ? vd_le32(p) : 0;
}

int32_t vd_ipc_get_i32(VdIpcCursor *c)
{
    return (int32_t)vd_ipc_get_u32(c);
}

uint64_t vd_ipc_get_u64(VdIpcCursor *c)
{
    const uint8_t *p = take(c, 8);
    return p ? vd_le64(p) : 0;
}

const uint8_t *vd_ipc_get_blob(VdIpcCursor *c, uint32_t max, uint32_t *ret_len)
{
    uint32_t len = vd_ipc_get_u32(c);
    const uint8_t *p;

    *ret_len = 0;
    if (c->failed)
        return NULL;
    if (len > max) {
        vd_ipc_cursor_fail(c, "length field above its limit");
        return NULL;
    }
    p = take(c, len);
    if (p)
        *ret_len = len;
    return p;
}

static bool text_valid(const uint8_t *p, size_t len)
{
    return memchr(p, '\0', len) == NULL && g_utf8_validate_len((const char *)p, len, NULL);
}

char *vd_ipc_get_string(VdIpcCursor *c, uint32_t max)
{
    uint32_t len;
    const uint8_t *p = vd_ipc_get_blob(c, MIN(max, VD_IPC_MAX_STRING), &len);

    if (!p)
        return NULL;
    if (!text_valid(p, len)) {
        vd_ipc_cursor_fail(c, "string is not UTF-8 or contains NUL");
        return NULL;
    }
    return g_strndup((const char *)p, len);
}

const uint8_t *vd_ipc_get_rest(VdIpcCursor *c, size_t *ret_len)
{
    *ret_len = 0;
    if (c->failed)
        return NULL;
    const uint8_t *p = c->p + c->pos;
    *ret_len = c->len - c->pos;
    c->pos = c->len;
    return p;
}

void vd_ipc_get_caps(VdIpcCursor *c, VdCaps *ret)
{
    uint32_t n = vd_ipc_get_u32(c);

    memset(ret, 0, sizeof(*ret));
    if (c->failed)
        return;
    if (n > VD_CAPS_MAX_WORDS) {
        vd_ipc_cursor_fail(c, "too many capability words");
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        ret->words[i] = vd_ipc_get_u32(c);
}

int vd_ipc_cursor_finish(VdIpcCursor *c, const char **reason)
{
    if (!c->failed && c->pos != c->len)
        vd_ipc_cursor_fail(c, "trailing bytes after the message");
    if (c->failed) {
        if (reason)
            *reason = c->reason;
        return -EBADMSG;
    }
    return 0;
}

/* --- HELLO and ERROR --- */

void vd_ipc_put_hello(GByteArray *out, const VdIpcHello *h)
{
    g_return_if_fail(out && h);
    vd_ipc_put_u32(out, h->magic);
    vd_ipc_put_u16(out, h->version_major);
    vd_ipc_put_u16(out, h->version_minor);
    vd_ipc_put_u32(out, h->features);
    vd_ipc_put_string(out, h->software);
}

int vd_ipc_get_hello(VdIpcCursor *c, VdIpcHello *ret)
{
    g_return_val_if_fail(c && ret, -EINVAL);
    VdIpcHello h = { 0 };

    h.magic = vd_ipc_get_u32(c);
    h.version_major = vd_ipc_get_u16(c);
    h.version_minor = vd_ipc_get_u16(c);
    h.features = vd_ipc_get_u32(c);
    h.software = vd_ipc_get_string(c, VD_IPC_MAX_STRING);
    if (c->failed) {
        g_free(h.software);
        return -EBADMSG;
    }
    *ret = h;
    return 0;
}

void vd_ipc_hello_clear(VdIpcHello *h)
{
    if (!h)
        return;
    g_clear_pointer(&h->software, g_free);
}

void vd_ipc_put_error(GByteArray *out, const VdIpcError *e)
{
    g_return_if_fail(out && e);
    vd_ipc_put_u32(out, e->code);
    vd_ipc_put_string(out, e->message);
}

int vd_ipc_get_error(VdIpcCursor *c, VdIpcError *ret)
{
    g_return_val_if_fail(c && ret, -EINVAL);
    VdIpcError e = { 0 };

    e.code = vd_ipc_get_u32(c);
    if (!c->failed && (e.code == VD_IPC_ERR_NONE || e.code >= VD_IPC_ERR_END))
        vd_ipc_cursor_fail(c, "unknown error code");
    e.message = vd_ipc_get_string(c, VD_IPC_MAX_STRING);
    if (c->failed) {
        g_free(e.message);
        return -EBADMSG;
    }
    *ret = e;
    return 0;
}

void vd_ipc_error_clear(VdIpcError *e)
{
    if (!e)
        return;
    g_clear_pointer(&e->message, g_free);
}

/* --- the incremental decoder --- */

struct VdIpcDecoder {
    uint32_t max_payload;
    uint8_t header[VD_IPC_HEADER_SIZE];
    size_t header_len;   /* bytes of the current header held */
    uint16_t type;       /* of the current frame, once its header is complete */
    uint32_t size;
    uint8_t *payload;    /* g_malloc(size) while a split payload is being collected */
    size_t payload_len;
    const char *failure; /* sticky: a bad header leaves the stream unsynchronised */
};

VdIpcDecoder *vd_ipc_decoder_new(uint32_t max_payload)
{
    VdIpcDecoder *d = g_new0(VdIpcDecoder, 1);

    d->max_payload = MIN(max_payload, VD_IPC_MAX_PAYLOAD);
    return d;
}

void vd_ipc_decoder_free(VdIpcDecoder *d)
{
    if (!d)
        return;
    g_free(d->payload);
    g_free(d);
}

size_t vd_ipc_decoder_pending(const VdIpcDecoder *d)
{
    g_return_val_if_fail(d, 0);
    return d->header_len + d->payload_len;
}

static void decoder_reset_frame(VdIpcDecoder *d)
{
    d->header_len = 0;
    d->payload_len = 0;
    g_clear_pointer(&d->payload, g_free);
}

/* Checks a complete header; sets d->type and d->size. */
static int decoder_check_header(VdIpcDecoder *d)
{
    uint16_t flags = vd_le16(d->header + 2);

    d->type = vd_le16(d->header);
    d->size = vd_le32(d->header + 4);
    if (flags != 0)
        d->failure = "frame header flags are not 0";
    else if (d->size > d->max_payload)
        d->failure = "frame size above the maximum";
    return d->failure ? -EBADMSG : 0;
}

int vd_ipc_decoder_feed(VdIpcDecoder *d, const uint8_t *buf, size_t len, VdIpcFrameCallback cb,
                        void *user_data, const char **reason)
{
    g_return_val_if_fail(d && (buf || len == 0) && cb, -EINVAL);
    size_t pos = 0;

    for (;;) {
        if (d->failure) {
            if (reason)
                *reason = d->failure;
            return -EBADMSG;
        }
        if (d->header_len < VD_IPC_HEADER_SIZE) {
            size_t n = MIN(VD_IPC_HEADER_SIZE - d->header_len, len - pos);
            if (n == 0)
                return 0;
            memcpy(d->header + d->header_len, buf + pos, n);
            d->header_len += n;
            pos += n;
            if (d->header_len < VD_IPC_HEADER_SIZE)
                return 0;
            if (decoder_check_header(d) < 0)
                continue;
        }

        const uint8_t *payload;
        if (d->payload_len == 0 && len - pos >= d->size) {
            /* The whole payload is in buf: no copy. */
            payload = buf + pos;
            pos += d->size;
        } else {
            size_t n = MIN(d->size - d->payload_len, len - pos);
            if (!d->payload)
                d->payload = g_malloc(d->size);
            memcpy(d->payload + d->payload_len, buf + pos, n);
            d->payload_len += n;
            pos += n;
            if (d->payload_len < d->size)
                return 0;
            payload = d->payload;
        }

        /* The frame is complete: reset before the callback so it may free or re-feed safely. */
        uint8_t *owned = g_steal_pointer(&d->payload);
        uint16_t type = d->type;
        uint32_t size = d->size;
        decoder_reset_frame(d);
        int r = cb(type, payload, size, user_data);
        g_free(owned);
        if (r != 0)
            return -ECANCELED;
    }
}

int vd_ipc_encode_checked(GByteArray *out, uint16_t type, VdIpcPutBody put_body, VdIpcAccepts accepts,
                          const void *msg)
{
    size_t start = vd_ipc_frame_begin(out, type);
    int r = put_body(out, msg);
    if (r == 0)
        r = vd_ipc_frame_end(out, start, VD_IPC_MAX_PAYLOAD); /* removes the frame itself on failure */
    else
        g_byte_array_set_size(out, (guint)start);
    if (r < 0)
        return r;
    if (!accepts(type, out->data + start + VD_IPC_HEADER_SIZE, out->len - start - VD_IPC_HEADER_SIZE)) {
        g_byte_array_set_size(out, (guint)start);
        return -EINVAL;
    }
    return 0;
}
