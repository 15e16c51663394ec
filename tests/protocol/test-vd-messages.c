/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-vd-messages.c — every VDAgent message parser and builder: a table of good and bad payloads
 * (each good one rebuilt byte for byte, each fixed-size one truncated at every length), limits hit
 * exactly, and samples of what real hosts send. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "test-util.h"
#include "vd-messages.h"

#define SEL (1u << VD_CAP_CLIPBOARD_SELECTION)
#define SERIAL (1u << VD_CAP_CLIPBOARD_GRAB_SERIAL)

static VdCaps caps_word0(uint32_t w)
{
    VdCaps c = { { w } };
    return c;
}

/* Parses buf as a message of type and, on success, appends its rebuilt payload to out. Also checks
 * the parser contract: on failure *ret is untouched and a reason is given. */
static int parse_and_rebuild(uint32_t type, const VdCaps *neg, const uint8_t *buf, size_t len,
                             GByteArray *out)
{
    union {
        VdMouseState mouse;
        VdMonitorsConfig monitors;
        VdReply reply;
        VdClipboard clipboard;
        VdDisplayConfig display;
        VdAnnounceCaps caps;
        VdClipboardGrab grab;
        VdClipboardRequest request;
        uint8_t selection;
        VdFileXferStart start;
        VdFileXferStatus status;
        int32_t max;
        VdAudioVolumeSync audio;
        VdGraphicsDeviceInfo info;
        struct {
            uint32_t id;
            uint64_t size;
        } head;
    } *u = g_malloc(sizeof(*u)), *before = g_malloc(sizeof(*u));
    const char *reason = NULL;
    int r;

    memset(u, 0xa5, sizeof(*u));
    memcpy(before, u, sizeof(*u));
    switch (type) {
    case VD_MSG_MOUSE_STATE:
        r = vd_parse_mouse_state(buf, len, &u->mouse, &reason);
        if (r == 0)
            vd_build_mouse_state(out, &u->mouse);
        break;
    case VD_MSG_MONITORS_CONFIG:
        r = vd_parse_monitors_config(buf, len, &u->monitors, &reason);
        if (r == 0)
            vd_build_monitors_config(out, &u->monitors);
        break;
    case VD_MSG_REPLY:
        r = vd_parse_reply(buf, len, &u->reply, &reason);
        if (r == 0)
            vd_build_reply(out, u->reply.type, u->reply.error);
        break;
    case VD_MSG_CLIPBOARD:
        r = vd_parse_clipboard(buf, len, neg, &u->clipboard, &reason);
        if (r == 0) {
            vd_build_clipboard_head(out, neg, u->clipboard.selection, u->clipboard.type);
            g_byte_array_append(out, u->clipboard.data, (guint)u->clipboard.len);
            g_assert_cmpuint(vd_clipboard_head_size(neg) + u->clipboard.len, ==, len);
        }
        break;
    case VD_MSG_DISPLAY_CONFIG:
        r = vd_parse_display_config(buf, len, &u->display, &reason);
        if (r == 0)
            vd_build_display_config(out, &u->display);
        break;
    case VD_MSG_ANNOUNCE_CAPABILITIES:
        r = vd_parse_announce_caps(buf, len, &u->caps, &reason);
        if (r == 0)
            vd_build_announce_caps(out, u->caps.request != 0, &u->caps.caps);
        break;
    case VD_MSG_CLIPBOARD_GRAB:
        r = vd_parse_clipboard_grab(buf, len, neg, &u->grab, &reason);
        if (r == 0)
            vd_build_clipboard_grab(out, neg, &u->grab);
        break;
    case VD_MSG_CLIPBOARD_REQUEST:
        r = vd_parse_clipboard_request(buf, len, neg, &u->request, &reason);
        if (r == 0)
            vd_build_clipboard_request(out, neg, u->request.selection, u->request.type);
        break;
    case VD_MSG_CLIPBOARD_RELEASE:
        r = vd_parse_clipboard_release(buf, len, neg, &u->selection, &reason);
        if (r == 0)
            vd_build_clipboard_release(out, neg, u->selection);
        break;
    case VD_MSG_FILE_XFER_START:
        r = vd_parse_file_xfer_start(buf, len, &u->start, &reason);
        if (r == 0)
            vd_build_file_xfer_start(out, &u->start);
        break;
    case VD_MSG_FILE_XFER_STATUS:
        r = vd_parse_file_xfer_status(buf, len, &u->status, &reason);
        if (r == 0)
            vd_build_file_xfer_status(out, &u->status);
        break;
    case VD_MSG_FILE_XFER_DATA:
        g_assert_cmpuint(len, <=, UINT32_MAX);
        r = vd_parse_file_xfer_data_head(buf, MIN(len, (size_t)VD_STREAM_HEAD), (uint32_t)len, &u->head.id,
                                         &u->head.size, &reason);
        if (r == 0) {
            vd_build_file_xfer_data_head(out, u->head.id, u->head.size);
            g_byte_array_append(out, buf + VD_FILE_XFER_DATA_HEAD, (guint)(len - VD_FILE_XFER_DATA_HEAD));
        }
        break;
    case VD_MSG_CLIENT_DISCONNECTED:
        r = vd_parse_client_disconnected(buf, len, &reason);
        break;
    case VD_MSG_MAX_CLIPBOARD:
        r = vd_parse_max_clipboard(buf, len, &u->max, &reason);
        if (r == 0)
            vd_build_max_clipboard(out, u->max);
        break;
    case VD_MSG_AUDIO_VOLUME_SYNC:
        r = vd_parse_audio_volume_sync(buf, len, &u->audio, &reason);
        if (r == 0)
            vd_build_audio_volume_sync(out, &u->audio);
        break;
    case VD_MSG_GRAPHICS_DEVICE_INFO:
        r = vd_parse_graphics_device_info(buf, len, &u->info, &reason);
        if (r == 0)
            vd_build_graphics_device_info(out, &u->info);
        break;
    default:
        g_assert_not_reached();
    }
    if (r != 0) {
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_nonnull(reason);
        g_assert_cmpuint(strlen(reason), >, 10);
        g_assert_true(memcmp(u, before, sizeof(*u)) == 0);
    }
    g_free(u);
    g_free(before);
    return r;
}

/* Parses a heap copy of exactly len bytes, so ASan sees any over-read. */
static int parse_exact(uint32_t type, const VdCaps *neg, const uint8_t *buf, size_t len, GByteArray *out)
{
    g_autofree uint8_t *copy = exact_copy(buf, len);
    return parse_and_rebuild(type, neg, copy, len, out);
}

enum {
    OK = 1 << 0,          /* parses */
    EXACT = 1 << 1,       /* rebuilds byte for byte */
    PREFIX_FAIL = 1 << 2, /* every shorter prefix is refused */
};

typedef struct {
    const char *name;
    uint32_t type;
    uint32_t neg; /* negotiated caps, word 0 */
    const char *hex;
    unsigned flags;
} Case;

static const Case cases[] = {
    /* MOUSE_STATE */
    { "mouse/basic", VD_MSG_MOUSE_STATE, 0, "0a000000 14000000 02000000 00", OK | EXACT | PREFIX_FAIL },
    { "mouse/max", VD_MSG_MOUSE_STATE, 0, "ffffffff ffffffff ffffffff ff", OK | EXACT | PREFIX_FAIL },
    { "mouse/long", VD_MSG_MOUSE_STATE, 0, "0a000000 14000000 02000000 00 00", 0 },
    { "mouse/empty", VD_MSG_MOUSE_STATE, 0, "", 0 },
    /* MONITORS_CONFIG: count, flags, MonConfig(height, width, depth, x, y)... [MonitorMM(height, width)...] */
    { "monitors/one", VD_MSG_MONITORS_CONFIG, 0,
      "01000000 00000000 00030000 00040000 20000000 00000000 00000000", OK | EXACT | PREFIX_FAIL },
    { "monitors/use-pos-negative", VD_MSG_MONITORS_CONFIG, 0,
      "02000000 01000000 00030000 00040000 20000000 00000080 ffffffff"
      "                  ffffffff ffffffff ffffffff ffffff7f 00000000", OK | EXACT | PREFIX_FAIL },
    { "monitors/physical-size", VD_MSG_MONITORS_CONFIG, 0,
      "02000000 03000000 38040000 80070000 20000000 00000000 00000000"
      "                  00000000 00000000 00000000 00000000 00000000"
      "                  0f01 dc01 0000 0000", OK | EXACT | PREFIX_FAIL },
    { "monitors/physical-size-no-tail", VD_MSG_MONITORS_CONFIG, 0,
      "01000000 02000000 00030000 00040000 20000000 00000000 00000000", 0 },
    { "monitors/tail-without-flag", VD_MSG_MONITORS_CONFIG, 0,
      "01000000 00000000 00030000 00040000 20000000 00000000 00000000 0f01dc01", 0 },
    { "monitors/trailing-byte", VD_MSG_MONITORS_CONFIG, 0,
      "01000000 00000000 00030000 00040000 20000000 00000000 00000000 00", 0 },
    { "monitors/zero-count", VD_MSG_MONITORS_CONFIG, 0, "00000000 00000000", 0 },
    { "monitors/count-33", VD_MSG_MONITORS_CONFIG, 0, "21000000 00000000", 0 },
    { "monitors/count-huge", VD_MSG_MONITORS_CONFIG, 0, "ffffffff 02000000", 0 },
    { "monitors/count-says-2-has-1", VD_MSG_MONITORS_CONFIG, 0,
      "02000000 00000000 00030000 00040000 20000000 00000000 00000000", 0 },
    /* REPLY */
    { "reply/success", VD_MSG_REPLY, 0, "02000000 01000000", OK | EXACT | PREFIX_FAIL },
    { "reply/max", VD_MSG_REPLY, 0, "ffffffff ffffffff", OK | EXACT | PREFIX_FAIL },
    { "reply/long", VD_MSG_REPLY, 0, "02000000 01000000 00", 0 },
    /* CLIPBOARD */
    { "clipboard/text", VD_MSG_CLIPBOARD, 0, "01000000 68656c6c6f", OK | EXACT },
    { "clipboard/empty-data", VD_MSG_CLIPBOARD, 0, "01000000", OK | EXACT | PREFIX_FAIL },
    { "clipboard/selection", VD_MSG_CLIPBOARD, SEL, "01000000 01000000 68656c6c6f", OK | EXACT },
    { "clipboard/selection-empty-data", VD_MSG_CLIPBOARD, SEL, "02000000 01000000", OK | EXACT | PREFIX_FAIL },
    { "clipboard/selection-reserved-ignored", VD_MSG_CLIPBOARD, SEL, "00ffffff 01000000 41", OK },
    { "clipboard/selection-unknown", VD_MSG_CLIPBOARD, SEL, "03000000 01000000 41", 0 },
    { "clipboard/short", VD_MSG_CLIPBOARD, 0, "010000", 0 },
    { "clipboard/selection-short", VD_MSG_CLIPBOARD, SEL, "00000000 010000", 0 },
    /* DISPLAY_CONFIG */
    { "display/all", VD_MSG_DISPLAY_CONFIG, 0, "0f000000 20000000", OK | EXACT | PREFIX_FAIL },
    { "display/max", VD_MSG_DISPLAY_CONFIG, 0, "ffffffff ffffffff", OK | EXACT | PREFIX_FAIL },
    { "display/long", VD_MSG_DISPLAY_CONFIG, 0, "0f000000 20000000 00", 0 },
    /* ANNOUNCE_CAPABILITIES */
    { "caps/qemu", VD_MSG_ANNOUNCE_CAPABILITIES, 0, "01000000 61000200", OK | EXACT },
    { "caps/spice-gtk", VD_MSG_ANNOUNCE_CAPABILITIES, 0, "01000000 77500300", OK | EXACT },
    { "caps/request-only", VD_MSG_ANNOUNCE_CAPABILITIES, 0, "00000000", OK | PREFIX_FAIL },
    { "caps/two-words", VD_MSG_ANNOUNCE_CAPABILITIES, 0, "00000000 01000000 01000000", OK | EXACT },
    { "caps/nine-words", VD_MSG_ANNOUNCE_CAPABILITIES, 0,
      "01000000 01000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 ffffffff", OK },
    { "caps/odd", VD_MSG_ANNOUNCE_CAPABILITIES, 0, "01000000 610002", 0 },
    { "caps/short", VD_MSG_ANNOUNCE_CAPABILITIES, 0, "010000", 0 },
    /* CLIPBOARD_GRAB */
    { "grab/text", VD_MSG_CLIPBOARD_GRAB, 0, "01000000", OK | EXACT },
    { "grab/zero-types", VD_MSG_CLIPBOARD_GRAB, 0, "", OK | EXACT },
    { "grab/zero-types-qemu", VD_MSG_CLIPBOARD_GRAB, SEL | SERIAL, "00000000 07000000", OK | EXACT | PREFIX_FAIL },
    { "grab/selection-serial", VD_MSG_CLIPBOARD_GRAB, SEL | SERIAL, "01000000 ffffffff 01000000 02000000",
      OK | EXACT },
    { "grab/serial-only", VD_MSG_CLIPBOARD_GRAB, SERIAL, "05000000 01000000", OK | EXACT },
    { "grab/serial-short", VD_MSG_CLIPBOARD_GRAB, SEL | SERIAL, "00000000 0700", 0 },
    { "grab/selection-short", VD_MSG_CLIPBOARD_GRAB, SEL, "0000", 0 },
    { "grab/odd", VD_MSG_CLIPBOARD_GRAB, 0, "01000000 02", 0 },
    { "grab/selection-unknown", VD_MSG_CLIPBOARD_GRAB, SEL, "ff000000 01000000", 0 },
    /* CLIPBOARD_REQUEST */
    { "request/plain", VD_MSG_CLIPBOARD_REQUEST, 0, "01000000", OK | EXACT | PREFIX_FAIL },
    { "request/selection", VD_MSG_CLIPBOARD_REQUEST, SEL, "01000000 02000000", OK | EXACT | PREFIX_FAIL },
    { "request/selection-unknown", VD_MSG_CLIPBOARD_REQUEST, SEL, "03000000 02000000", 0 },
    { "request/long", VD_MSG_CLIPBOARD_REQUEST, 0, "01000000 00", 0 },
    { "request/no-selection-when-negotiated", VD_MSG_CLIPBOARD_REQUEST, SEL, "01000000", 0 },
    /* CLIPBOARD_RELEASE */
    { "release/plain", VD_MSG_CLIPBOARD_RELEASE, 0, "", OK | EXACT },
    { "release/selection", VD_MSG_CLIPBOARD_RELEASE, SEL, "02000000", OK | EXACT | PREFIX_FAIL },
    { "release/plain-long", VD_MSG_CLIPBOARD_RELEASE, 0, "00", 0 },
    { "release/selection-unknown", VD_MSG_CLIPBOARD_RELEASE, SEL, "03000000", 0 },
    /* FILE_XFER_STATUS */
    { "status/plain", VD_MSG_FILE_XFER_STATUS, 0, "07000000 00000000", OK | EXACT | PREFIX_FAIL },
    { "status/error-detail", VD_MSG_FILE_XFER_STATUS, 0, "07000000 02000000 00 0e000000", OK | EXACT },
    { "status/space-detail", VD_MSG_FILE_XFER_STATUS, 0, "07000000 04000000 ffffffffffffffff", OK | EXACT },
    { "status/error-odd-detail", VD_MSG_FILE_XFER_STATUS, 0, "07000000 02000000 00000000", OK },
    { "status/short", VD_MSG_FILE_XFER_STATUS, 0, "07000000 020000", 0 },
    /* FILE_XFER_DATA (whole payload: head + data) */
    { "data/empty", VD_MSG_FILE_XFER_DATA, 0, "01000000 0000000000000000", OK | EXACT | PREFIX_FAIL },
    { "data/three", VD_MSG_FILE_XFER_DATA, 0, "ffffffff 0300000000000000 616263", OK | EXACT | PREFIX_FAIL },
    { "data/size-too-big", VD_MSG_FILE_XFER_DATA, 0, "01000000 0400000000000000 616263", 0 },
    { "data/size-too-small", VD_MSG_FILE_XFER_DATA, 0, "01000000 0200000000000000 616263", 0 },
    { "data/size-high-bits", VD_MSG_FILE_XFER_DATA, 0, "01000000 0300000001000000 616263", 0 },
    /* CLIENT_DISCONNECTED */
    { "disconnected/empty", VD_MSG_CLIENT_DISCONNECTED, 0, "", OK | EXACT },
    { "disconnected/payload", VD_MSG_CLIENT_DISCONNECTED, 0, "00", 0 },
    /* MAX_CLIPBOARD */
    { "max-clipboard/100MiB", VD_MSG_MAX_CLIPBOARD, 0, "00004006", OK | EXACT | PREFIX_FAIL },
    { "max-clipboard/unlimited", VD_MSG_MAX_CLIPBOARD, 0, "ffffffff", OK | EXACT | PREFIX_FAIL },
    { "max-clipboard/zero", VD_MSG_MAX_CLIPBOARD, 0, "00000000", OK | EXACT | PREFIX_FAIL },
    { "max-clipboard/int-max", VD_MSG_MAX_CLIPBOARD, 0, "ffffff7f", OK | EXACT | PREFIX_FAIL },
    { "max-clipboard/minus-two", VD_MSG_MAX_CLIPBOARD, 0, "feffffff", 0 },
    { "max-clipboard/int-min", VD_MSG_MAX_CLIPBOARD, 0, "00000080", 0 },
    { "max-clipboard/long", VD_MSG_MAX_CLIPBOARD, 0, "ffffffff 00", 0 },
    /* AUDIO_VOLUME_SYNC */
    { "audio/two", VD_MSG_AUDIO_VOLUME_SYNC, 0, "01 00 02 ffff 0080", OK | EXACT | PREFIX_FAIL },
    { "audio/none", VD_MSG_AUDIO_VOLUME_SYNC, 0, "00 01 00", OK | EXACT | PREFIX_FAIL },
    { "audio/short", VD_MSG_AUDIO_VOLUME_SYNC, 0, "01 00 02 ffff 00", 0 },
    { "audio/long", VD_MSG_AUDIO_VOLUME_SYNC, 0, "01 00 01 ffff 00", 0 },
    /* GRAPHICS_DEVICE_INFO: count, {channel, monitor, device_display, address_len, address}... */
    { "device-info/none", VD_MSG_GRAPHICS_DEVICE_INFO, 0, "00000000", OK | EXACT | PREFIX_FAIL },
    { "device-info/one", VD_MSG_GRAPHICS_DEVICE_INFO, 0,
      "01000000 00000000 00000000 01000000 0e000000 7063692f303030302f30322e3000", OK | EXACT | PREFIX_FAIL },
    { "device-info/two", VD_MSG_GRAPHICS_DEVICE_INFO, 0,
      "02000000 00000000 00000000 00000000 02000000 6100"
      "         ffffffff ffffffff ffffffff 01000000 00", OK | EXACT | PREFIX_FAIL },
    { "device-info/no-nul", VD_MSG_GRAPHICS_DEVICE_INFO, 0,
      "01000000 00000000 00000000 01000000 02000000 6162", 0 },
    { "device-info/embedded-nul", VD_MSG_GRAPHICS_DEVICE_INFO, 0,
      "01000000 00000000 00000000 01000000 03000000 610000", 0 },
    { "device-info/empty-address", VD_MSG_GRAPHICS_DEVICE_INFO, 0,
      "01000000 00000000 00000000 01000000 00000000", 0 },
    { "device-info/huge-address-len", VD_MSG_GRAPHICS_DEVICE_INFO, 0,
      "01000000 00000000 00000000 01000000 ffffffff 00", 0 },
    { "device-info/trailing", VD_MSG_GRAPHICS_DEVICE_INFO, 0,
      "01000000 00000000 00000000 01000000 02000000 6100 00", 0 },
    { "device-info/count-huge", VD_MSG_GRAPHICS_DEVICE_INFO, 0, "ffffffff", 0 },
    { "device-info/count-33", VD_MSG_GRAPHICS_DEVICE_INFO, 0, "21000000", 0 },
};

static void test_case(gconstpointer data)
{
    const Case *c = data;
    VdCaps neg = caps_word0(c->neg);
    g_autoptr(GByteArray) in = hex(c->hex);
    g_autoptr(GByteArray) out = g_byte_array_new();
    int r = parse_exact(c->type, &neg, in->data, in->len, out);

    if (!(c->flags & OK)) {
        g_assert_cmpint(r, ==, -EBADMSG);
        return;
    }
    g_assert_cmpint(r, ==, 0);

    if (c->flags & EXACT) {
        assert_bytes_equal(out->data, out->len, in->data, in->len);
    } else {
        /* Not canonical on the wire, but what it means survives a round trip. */
        g_autoptr(GByteArray) again = g_byte_array_new();
        g_assert_cmpint(parse_exact(c->type, &neg, out->data, out->len, again), ==, 0);
        assert_bytes_equal(again->data, again->len, out->data, out->len);
    }

    if (c->flags & PREFIX_FAIL) {
        for (size_t n = 0; n < in->len; n++) {
            g_autoptr(GByteArray) junk = g_byte_array_new();
            if (parse_exact(c->type, &neg, in->data, n, junk) != -EBADMSG)
                g_error("%s: prefix of %zu of %u bytes parsed", c->name, n, in->len);
        }
    } else {
        /* Still no crash, over-read or contract break on any prefix. */
        for (size_t n = 0; n < in->len; n++) {
            g_autoptr(GByteArray) junk = g_byte_array_new();
            parse_exact(c->type, &neg, in->data, n, junk);
        }
    }
}

/* --- specific decodes and limits --- */

static void test_mouse_fields(void)
{
    g_autoptr(GByteArray) in = hex("0a000000 14000000 0a000000 03");
    VdMouseState m;

    g_assert_cmpint(vd_parse_mouse_state(in->data, in->len, &m, NULL), ==, 0);
    g_assert_cmpuint(m.x, ==, 10);
    g_assert_cmpuint(m.y, ==, 20);
    g_assert_cmpuint(m.buttons, ==, VD_BUTTON_LEFT | VD_BUTTON_RIGHT);
    g_assert_cmpuint(m.display_id, ==, 3);
}

/* spice-gtk 0.42 with SPARSE_MONITORS_CONFIG: 16 entries, the disabled ones all zero, and the
 * MonitorMM tail because it always sets PHYSICAL_SIZE. */
static GByteArray *spice_gtk_monitors(void)
{
    GByteArray *a = g_byte_array_new();

    put32(a, 16);
    put32(a, VD_MONITORS_USE_POS | VD_MONITORS_PHYSICAL_SIZE);
    for (int i = 0; i < 16; i++) {
        bool on = i == 0 || i == 2;
        put32(a, on ? 1080 : 0);     /* height */
        put32(a, on ? 1920 : 0);     /* width */
        put32(a, on ? 32 : 0);       /* depth */
        put32(a, i == 2 ? 1920 : 0); /* x */
        put32(a, 0);                 /* y */
    }
    for (int i = 0; i < 16; i++) {
        bool on = i == 0 || i == 2;
        put16(a, on ? 300 : 0); /* mm height */
        put16(a, on ? 530 : 0); /* mm width */
    }
    return a;
}

static void test_monitors_spice_gtk(void)
{
    g_autoptr(GByteArray) in = spice_gtk_monitors();
    g_autoptr(GByteArray) out = g_byte_array_new();
    VdMonitorsConfig c;

    g_assert_cmpuint(in->len, ==, 8 + 16 * 24);
    g_assert_cmpint(vd_parse_monitors_config(in->data, in->len, &c, NULL), ==, 0);
    g_assert_cmpuint(c.count, ==, 16);
    g_assert_cmpuint(c.flags, ==, VD_MONITORS_USE_POS | VD_MONITORS_PHYSICAL_SIZE);
    g_assert_true(vd_monitor_enabled(&c.monitors[0]));
    g_assert_false(vd_monitor_enabled(&c.monitors[1]));
    g_assert_true(vd_monitor_enabled(&c.monitors[2]));
    g_assert_cmpuint(c.monitors[2].width, ==, 1920);
    g_assert_cmpuint(c.monitors[2].height, ==, 1080);
    g_assert_cmpuint(c.monitors[2].depth, ==, 32);
    g_assert_cmpint(c.monitors[2].x, ==, 1920);
    g_assert_cmpuint(c.monitors[2].mm_width, ==, 530);
    g_assert_cmpuint(c.monitors[2].mm_height, ==, 300);
    for (int i = 3; i < 16; i++)
        g_assert_false(vd_monitor_enabled(&c.monitors[i]));
    vd_build_monitors_config(out, &c);
    assert_bytes_equal(out->data, out->len, in->data, in->len);
    /* Any truncation, at any point of the entries or the tail, is refused. */
    for (size_t n = 0; n < in->len; n++) {
        g_autofree uint8_t *p = exact_copy(in->data, n);
        g_assert_cmpint(vd_parse_monitors_config(p, n, &c, NULL), ==, -EBADMSG);
    }
}

static GByteArray *monitors_of(uint32_t count, uint32_t flags)
{
    GByteArray *a = g_byte_array_new();

    put32(a, count);
    put32(a, flags);
    for (uint32_t i = 0; i < count; i++) {
        put32(a, 600);
        put32(a, 800);
        put32(a, 24);
        put32(a, 800 * i);
        put32(a, 0);
    }
    if (flags & VD_MONITORS_PHYSICAL_SIZE)
        for (uint32_t i = 0; i < count; i++)
            put32(a, 0x00c80100);
    return a;
}

static void test_monitors_limit(void)
{
    for (uint32_t flags = 0; flags <= 3; flags++) {
        g_autoptr(GByteArray) ok = monitors_of(VD_LIMIT_MONITORS, flags);
        g_autoptr(GByteArray) over = monitors_of(VD_LIMIT_MONITORS + 1, flags);
        VdMonitorsConfig c;
        const char *reason = NULL;

        g_assert_cmpint(vd_parse_monitors_config(ok->data, ok->len, &c, NULL), ==, 0);
        g_assert_cmpuint(c.count, ==, VD_LIMIT_MONITORS);
        g_assert_cmpint(c.monitors[VD_LIMIT_MONITORS - 1].x, ==, 800 * (VD_LIMIT_MONITORS - 1));
        g_assert_cmpint(vd_parse_monitors_config(over->data, over->len, &c, &reason), ==, -EBADMSG);
        g_assert_nonnull(strstr(reason, "VD_LIMIT_MONITORS"));
    }
}

static void test_caps_real_hosts(void)
{
    VdAnnounceCaps qemu, gtk;
    VdCaps ours = { { 0 } }, neg;
    g_autoptr(GByteArray) q = hex("01000000 61000200");
    g_autoptr(GByteArray) g = hex("01000000 77500300");

    g_assert_cmpint(vd_parse_announce_caps(q->data, q->len, &qemu, NULL), ==, 0);
    g_assert_cmpuint(qemu.request, ==, 1);
    g_assert_cmpuint(qemu.n_words, ==, 1);
    g_assert_cmpuint(qemu.caps.words[0], ==, 0x00020061);
    g_assert_true(vd_caps_has(&qemu.caps, VD_CAP_MOUSE_STATE));
    g_assert_true(vd_caps_has(&qemu.caps, VD_CAP_CLIPBOARD_BY_DEMAND));
    g_assert_true(vd_caps_has(&qemu.caps, VD_CAP_CLIPBOARD_SELECTION));
    g_assert_true(vd_caps_has(&qemu.caps, VD_CAP_CLIPBOARD_GRAB_SERIAL));
    g_assert_false(vd_caps_has(&qemu.caps, VD_CAP_MONITORS_CONFIG));
    g_assert_false(vd_caps_has(&qemu.caps, 40)); /* past the words received */

    g_assert_cmpint(vd_parse_announce_caps(g->data, g->len, &gtk, NULL), ==, 0);
    g_assert_cmpuint(gtk.caps.words[0], ==, 0x00035077);
    g_assert_true(vd_caps_has(&gtk.caps, VD_CAP_MONITORS_CONFIG));
    g_assert_true(vd_caps_has(&gtk.caps, VD_CAP_FILE_XFER_DETAILED_ERRORS));
    g_assert_true(vd_caps_has(&gtk.caps, VD_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB));
    g_assert_false(vd_caps_has(&gtk.caps, VD_CAP_SPARSE_MONITORS_CONFIG));

    /* What we negotiate with each decides the clipboard layouts. */
    vd_caps_set(&ours, VD_CAP_CLIPBOARD_BY_DEMAND);
    vd_caps_set(&ours, VD_CAP_CLIPBOARD_SELECTION);
    vd_caps_set(&ours, VD_CAP_CLIPBOARD_GRAB_SERIAL);
    vd_caps_intersect(&ours, &qemu.caps, &neg);
    g_assert_cmpuint(vd_selection_prefix_size(&neg), ==, 4);
    g_assert_cmpuint(vd_clipboard_head_size(&neg), ==, 8);
    vd_caps_clear(&ours, VD_CAP_CLIPBOARD_SELECTION);
    vd_caps_intersect(&ours, &gtk.caps, &neg);
    g_assert_cmpuint(vd_selection_prefix_size(&neg), ==, 0);
    g_assert_cmpuint(vd_selection_prefix_size(NULL), ==, 0);
}

static void test_caps_words(void)
{
    VdAnnounceCaps a;
    VdCaps c = { { 0 } };
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GByteArray) many = g_byte_array_new();

    /* Words past VD_CAPS_MAX_WORDS are counted, not stored. */
    put32(many, 0);
    for (uint32_t i = 0; i < 100; i++)
        put32(many, 0xffffffff);
    g_assert_cmpint(vd_parse_announce_caps(many->data, many->len, &a, NULL), ==, 0);
    g_assert_cmpuint(a.n_words, ==, 100);
    for (uint32_t i = 0; i < VD_CAPS_MAX_WORDS; i++)
        g_assert_cmpuint(a.caps.words[i], ==, 0xffffffff);

    /* The builder sends as many words as the highest set bit needs, at least one. */
    vd_build_announce_caps(out, true, &c);
    g_assert_cmpuint(out->len, ==, 8);
    vd_caps_set(&c, 33);
    g_byte_array_set_size(out, 0);
    vd_build_announce_caps(out, false, &c);
    g_assert_cmpuint(out->len, ==, 12);
    g_assert_cmpuint(vd_le32(out->data), ==, 0);
    g_assert_cmpuint(vd_le32(out->data + 8), ==, 2);
    vd_caps_set(&c, 32 * VD_CAPS_MAX_WORDS - 1);
    g_assert_cmpuint(vd_caps_n_words(&c), ==, VD_CAPS_MAX_WORDS);
    vd_caps_set(&c, 32 * VD_CAPS_MAX_WORDS); /* out of range: ignored */
    g_assert_false(vd_caps_has(&c, 32 * VD_CAPS_MAX_WORDS));
}

static GByteArray *grab_of(uint32_t n, bool prefix, bool serial)
{
    GByteArray *a = g_byte_array_new();

    if (prefix)
        put32(a, VD_SELECTION_PRIMARY);
    if (serial)
        put32(a, 42);
    for (uint32_t i = 0; i < n; i++)
        put32(a, i % VD_CLIPBOARD_END);
    return a;
}

static void test_grab_limit(void)
{
    for (int layout = 0; layout < 4; layout++) {
        bool prefix = layout & 1, serial = layout & 2;
        VdCaps neg = caps_word0((prefix ? SEL : 0) | (serial ? SERIAL : 0));
        g_autoptr(GByteArray) ok = grab_of(VD_LIMIT_GRAB_TYPES, prefix, serial);
        g_autoptr(GByteArray) over = grab_of(VD_LIMIT_GRAB_TYPES + 1, prefix, serial);
        g_autoptr(GByteArray) out = g_byte_array_new();
        VdClipboardGrab g;
        const char *reason = NULL;

        g_assert_cmpint(vd_parse_clipboard_grab(ok->data, ok->len, &neg, &g, NULL), ==, 0);
        g_assert_cmpuint(g.n_types, ==, VD_LIMIT_GRAB_TYPES);
        g_assert_cmpuint(g.selection, ==, prefix ? VD_SELECTION_PRIMARY : VD_SELECTION_CLIPBOARD);
        g_assert_cmpint(g.has_serial, ==, serial);
        g_assert_cmpuint(g.serial, ==, serial ? 42 : 0);
        vd_build_clipboard_grab(out, &neg, &g);
        assert_bytes_equal(out->data, out->len, ok->data, ok->len);
        g_assert_cmpint(vd_parse_clipboard_grab(over->data, over->len, &neg, &g, &reason), ==, -EBADMSG);
        g_assert_nonnull(strstr(reason, "VD_LIMIT_GRAB_TYPES"));
    }
}

static void test_grab_serial_only_when_negotiated(void)
{
    /* The same bytes mean different things depending on what was negotiated. */
    g_autoptr(GByteArray) in = hex("01000000 07000000 01000000");
    VdCaps none = caps_word0(0), serial = caps_word0(SERIAL), sel_serial = caps_word0(SEL | SERIAL);
    VdClipboardGrab g;

    g_assert_cmpint(vd_parse_clipboard_grab(in->data, in->len, &none, &g, NULL), ==, 0);
    g_assert_false(g.has_serial);
    g_assert_cmpuint(g.n_types, ==, 3);
    g_assert_cmpint(vd_parse_clipboard_grab(in->data, in->len, &serial, &g, NULL), ==, 0);
    g_assert_true(g.has_serial);
    g_assert_cmpuint(g.serial, ==, 1);
    g_assert_cmpuint(g.n_types, ==, 2);
    g_assert_cmpint(vd_parse_clipboard_grab(in->data, in->len, &sel_serial, &g, NULL), ==, 0);
    g_assert_cmpuint(g.selection, ==, VD_SELECTION_PRIMARY);
    g_assert_cmpuint(g.serial, ==, 7);
    g_assert_cmpuint(g.n_types, ==, 1);
    g_assert_cmpuint(g.types[0], ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpint(vd_parse_clipboard_grab(in->data, in->len, NULL, &g, NULL), ==, 0);
    g_assert_false(g.has_serial);
}

static void test_clipboard_head(void)
{
    VdCaps sel = caps_word0(SEL), none = caps_word0(0);
    g_autoptr(GByteArray) h = hex("01000000 01000000 68656c6c");
    uint8_t selection = 0xff;
    uint32_t type = 0;
    size_t consumed = 0;
    const char *reason = NULL;

    g_assert_cmpint(vd_parse_clipboard_head(h->data, h->len, 1000, &sel, &selection, &type, &consumed, NULL),
                    ==, 0);
    g_assert_cmpuint(selection, ==, VD_SELECTION_PRIMARY);
    g_assert_cmpuint(type, ==, VD_CLIPBOARD_UTF8_TEXT);
    g_assert_cmpuint(consumed, ==, 8);
    g_assert_cmpint(vd_parse_clipboard_head(h->data, h->len, 1000, &none, &selection, &type, &consumed, NULL),
                    ==, 0);
    g_assert_cmpuint(selection, ==, VD_SELECTION_CLIPBOARD);
    g_assert_cmpuint(type, ==, 1);
    g_assert_cmpuint(consumed, ==, 4);
    /* The message is shorter than its prefix and type. */
    g_assert_cmpint(vd_parse_clipboard_head(h->data, 7, 7, &sel, &selection, &type, &consumed, &reason), ==,
                    -EBADMSG);
    g_assert_nonnull(reason);
    /* The head does not hold them although the message would. */
    g_assert_cmpint(vd_parse_clipboard_head(h->data, 7, 1000, &sel, &selection, &type, &consumed, NULL), ==,
                    -EBADMSG);
    /* Exactly prefix + type: no data. */
    g_assert_cmpint(vd_parse_clipboard_head(h->data, 8, 8, &sel, &selection, &type, &consumed, NULL), ==, 0);
    /* A head claiming more than the message. */
    g_assert_cmpint(vd_parse_clipboard_head(h->data, 12, 8, &sel, &selection, &type, &consumed, NULL), ==,
                    -EBADMSG);
    /* Builder and size agree. */
    g_autoptr(GByteArray) out = g_byte_array_new();
    vd_build_clipboard_head(out, &sel, VD_SELECTION_PRIMARY, VD_CLIPBOARD_UTF8_TEXT);
    assert_bytes_equal(out->data, out->len, h->data, 8);
    g_assert_cmpuint(vd_clipboard_head_size(&sel), ==, 8);
}

static void test_file_xfer_data_head(void)
{
    g_autoptr(GByteArray) h = hex("05000000 00000040 00000000");
    uint32_t id = 0;
    uint64_t size = 0;

    /* 1 GiB of data: the head checks the claim against the message size. */
    g_assert_cmpint(vd_parse_file_xfer_data_head(h->data, h->len, 12u + (1u << 30), &id, &size, NULL), ==, 0);
    g_assert_cmpuint(id, ==, 5);
    g_assert_cmpuint(size, ==, 1u << 30);
    g_assert_cmpint(vd_parse_file_xfer_data_head(h->data, h->len, 11u + (1u << 30), &id, &size, NULL), ==,
                    -EBADMSG);
    g_assert_cmpint(vd_parse_file_xfer_data_head(h->data, 11, 12u + (1u << 30), &id, &size, NULL), ==,
                    -EBADMSG);
    g_assert_cmpint(vd_parse_file_xfer_data_head(h->data, h->len, 11, &id, &size, NULL), ==, -EBADMSG);
    /* size at its limit: the largest a u32 message can carry. */
    g_autoptr(GByteArray) max = g_byte_array_new();
    vd_build_file_xfer_data_head(max, UINT32_MAX, UINT32_MAX - 12u);
    g_assert_cmpint(vd_parse_file_xfer_data_head(max->data, max->len, UINT32_MAX, &id, &size, NULL), ==, 0);
    g_assert_cmpuint(id, ==, UINT32_MAX);
    g_assert_cmpuint(size, ==, UINT32_MAX - 12u);
}

/* --- FILE_XFER_START --- */

static GByteArray *start_of(uint32_t id, const char *text, bool nul)
{
    GByteArray *a = g_byte_array_new();

    put32(a, id);
    putstr(a, text);
    if (nul)
        put8(a, 0);
    return a;
}

static int parse_start(const char *text, bool nul, VdFileXferStart *ret, const char **reason)
{
    g_autoptr(GByteArray) a = start_of(7, text, nul);
    g_autofree uint8_t *p = exact_copy(a->data, a->len);
    return vd_parse_file_xfer_start(p, a->len, ret, reason);
}

static void test_start_spice_gtk(void)
{
    /* As spice-gtk sends it (g_key_file_to_data, then the NUL), and without the NUL. */
    const char *text = "[vdagent-file-xfer]\nname=report 2024.pdf\nsize=123456\nfile-xfer-nr=2\n"
                       "file-xfer-total=3\n";
    g_autofree VdFileXferStart *s = g_new0(VdFileXferStart, 1);

    for (int nul = 0; nul < 2; nul++) {
        g_assert_cmpint(parse_start(text, nul, s, NULL), ==, 0);
        g_assert_cmpuint(s->id, ==, 7);
        g_assert_cmpstr(s->name, ==, "report 2024.pdf");
        g_assert_cmpuint(s->size, ==, 123456);
        g_assert_cmpuint(s->nr, ==, 2);
        g_assert_cmpuint(s->total, ==, 3);
    }
    g_assert_cmpint(parse_start("[vdagent-file-xfer]\nname=a\nsize=0", false, s, NULL), ==, 0);
    g_assert_cmpuint(s->nr, ==, 0);
    g_assert_cmpuint(s->total, ==, 0);
    g_assert_cmpuint(s->size, ==, 0);
    /* Key-file escapes are decoded (spice-gtk writes the name with g_key_file_set_string). */
    g_assert_cmpint(parse_start("[vdagent-file-xfer]\nname=\\sa\\\\b\nsize=1\n", true, s, NULL), ==, 0);
    g_assert_cmpstr(s->name, ==, " a\\b");
    /* UTF-8 names pass as sent. */
    g_assert_cmpint(parse_start("[vdagent-file-xfer]\nname=r\xc3\xa9sum\xc3\xa9.txt\nsize=1\n", true, s, NULL),
                    ==, 0);
    g_assert_cmpstr(s->name, ==, "r\xc3\xa9sum\xc3\xa9.txt");
}

typedef struct {
    const char *name;
    const char *text;
} BadStart;

static const BadStart bad_starts[] = {
    { "no-name", "[vdagent-file-xfer]\nsize=1\n" },
    { "empty-name", "[vdagent-file-xfer]\nname=\nsize=1\n" },
    { "no-size", "[vdagent-file-xfer]\nname=a\n" },
    { "size-empty", "[vdagent-file-xfer]\nname=a\nsize=\n" },
    { "size-word", "[vdagent-file-xfer]\nname=a\nsize=abc\n" },
    { "size-negative", "[vdagent-file-xfer]\nname=a\nsize=-1\n" },
    { "size-plus", "[vdagent-file-xfer]\nname=a\nsize=+5\n" },
    { "size-hex", "[vdagent-file-xfer]\nname=a\nsize=0x10\n" },
    { "size-trailing", "[vdagent-file-xfer]\nname=a\nsize=10kB\n" },
    { "size-over-u64", "[vdagent-file-xfer]\nname=a\nsize=18446744073709551616\n" },
    { "nr-word", "[vdagent-file-xfer]\nname=a\nsize=1\nfile-xfer-nr=x\n" },
    { "total-over-u32", "[vdagent-file-xfer]\nname=a\nsize=1\nfile-xfer-total=4294967296\n" },
    { "wrong-group", "[file]\nname=a\nsize=1\n" },
    { "no-group", "name=a\nsize=1\n" },
    { "garbage", "\x01\x02\x03" },
    { "invalid-utf8", "[vdagent-file-xfer]\nname=\xff\xfe\nsize=1\n" },
    { "bad-escape", "[vdagent-file-xfer]\nname=a\\x\nsize=1\n" },
    { "escape-at-end", "[vdagent-file-xfer]\nname=a\\\nsize=1\n" },
    { "empty", "" },
};

static void test_start_bad(void)
{
    g_autofree VdFileXferStart *s = g_new0(VdFileXferStart, 1);

    for (size_t i = 0; i < G_N_ELEMENTS(bad_starts); i++) {
        for (int nul = 0; nul < 2; nul++) {
            const char *reason = NULL;
            if (parse_start(bad_starts[i].text, nul, s, &reason) != -EBADMSG)
                g_error("FILE_XFER_START %s (nul=%d) was accepted", bad_starts[i].name, nul);
            g_assert_nonnull(reason);
        }
    }
    /* Embedded NUL, and a short id. */
    g_autoptr(GByteArray) emb = start_of(1, "[vdagent-file-xfer]\nname=a", false);
    put8(emb, 0);
    putstr(emb, "\nsize=1\n");
    g_assert_cmpint(vd_parse_file_xfer_start(emb->data, emb->len, s, NULL), ==, -EBADMSG);
    for (size_t n = 0; n < 4; n++)
        g_assert_cmpint(vd_parse_file_xfer_start(emb->data, n, s, NULL), ==, -EBADMSG);
}

static void test_start_limits(void)
{
    g_autofree VdFileXferStart *s = g_new0(VdFileXferStart, 1);
    g_autofree char *name_ok = g_strnfill(VD_LIMIT_XFER_NAME, 'n');
    g_autofree char *name_over = g_strnfill(VD_LIMIT_XFER_NAME + 1, 'n');
    g_autofree char *t_ok = g_strdup_printf("[vdagent-file-xfer]\nname=%s\nsize=18446744073709551615\n", name_ok);
    g_autofree char *t_over = g_strdup_printf("[vdagent-file-xfer]\nname=%s\nsize=1\n", name_over);
    const char *reason = NULL;

    g_assert_cmpint(parse_start(t_ok, true, s, NULL), ==, 0);
    g_assert_cmpuint(strlen(s->name), ==, VD_LIMIT_XFER_NAME);
    g_assert_cmpuint(s->size, ==, UINT64_MAX);
    g_assert_cmpint(parse_start(t_over, true, s, &reason), ==, -EBADMSG);
    g_assert_nonnull(strstr(reason, "VD_LIMIT_XFER_NAME"));

    /* The whole text at VD_LIMIT_XFER_START_TEXT (padded with a comment), then one byte more. */
    const char *body = "[vdagent-file-xfer]\nname=a\nsize=1\n#";
    size_t pad = VD_LIMIT_XFER_START_TEXT - strlen(body) - 1;
    g_autofree char *fill = g_strnfill(pad, 'x');
    g_autofree char *at = g_strdup_printf("%s%s\n", body, fill);
    g_autofree char *over = g_strdup_printf("%s%sx\n", body, fill);
    g_assert_cmpuint(strlen(at), ==, VD_LIMIT_XFER_START_TEXT);
    for (int nul = 0; nul < 2; nul++) {
        g_assert_cmpint(parse_start(at, nul, s, NULL), ==, 0);
        g_assert_cmpint(parse_start(over, nul, s, &reason), ==, -EBADMSG);
        g_assert_nonnull(strstr(reason, "VD_LIMIT_XFER_START_TEXT"));
    }
}

static void test_start_round_trip(void)
{
    g_autofree VdFileXferStart *in = g_new0(VdFileXferStart, 1);
    g_autofree VdFileXferStart *out = g_new0(VdFileXferStart, 1);
    g_autoptr(GByteArray) a = g_byte_array_new();

    in->id = UINT32_MAX;
    g_strlcpy(in->name, " tricky\tname\\with [brackets]=and#hash\n", sizeof(in->name));
    in->size = UINT64_MAX;
    in->nr = 1;
    in->total = UINT32_MAX;
    vd_build_file_xfer_start(a, in);
    g_assert_cmpuint(a->data[a->len - 1], ==, 0); /* NUL-terminated like spice-gtk */
    g_assert_cmpint(vd_parse_file_xfer_start(a->data, a->len, out, NULL), ==, 0);
    g_assert_cmpuint(out->id, ==, in->id);
    g_assert_cmpstr(out->name, ==, in->name);
    g_assert_cmpuint(out->size, ==, in->size);
    g_assert_cmpuint(out->nr, ==, in->nr);
    g_assert_cmpuint(out->total, ==, in->total);
}

static void test_status_details(void)
{
    VdFileXferStatus s;
    g_autoptr(GByteArray) e = hex("09000000 02000000 00 0e000000");
    g_autoptr(GByteArray) n = hex("09000000 04000000 0010000000000000");
    g_autoptr(GByteArray) x = hex("09000000 03000000 00 0e000000");

    g_assert_cmpint(vd_parse_file_xfer_status(e->data, e->len, &s, NULL), ==, 0);
    g_assert_true(s.has_detail);
    g_assert_cmpuint(s.error_type, ==, VD_XFER_ERROR_GLIB_IO);
    g_assert_cmpuint(s.error_code, ==, 14);
    g_assert_cmpint(vd_parse_file_xfer_status(n->data, n->len, &s, NULL), ==, 0);
    g_assert_true(s.has_detail);
    g_assert_cmpuint(s.free_space, ==, 4096);
    /* Detail bytes that do not fit the result are ignored. */
    g_assert_cmpint(vd_parse_file_xfer_status(x->data, x->len, &s, NULL), ==, 0);
    g_assert_false(s.has_detail);
    g_assert_cmpuint(s.result, ==, VD_XFER_SUCCESS);
    /* Only ERROR and NOT_ENOUGH_SPACE carry a detail when built. */
    g_autoptr(GByteArray) out = g_byte_array_new();
    VdFileXferStatus ok = { .id = 1, .result = VD_XFER_SUCCESS, .has_detail = true, .error_code = 3 };
    vd_build_file_xfer_status(out, &ok);
    g_assert_cmpuint(out->len, ==, 8);
}

static void test_audio_limit(void)
{
    g_autoptr(GByteArray) a = g_byte_array_new();
    g_autofree VdAudioVolumeSync *v = g_new0(VdAudioVolumeSync, 1);
    g_autoptr(GByteArray) out = g_byte_array_new();

    put8(a, 1);
    put8(a, 1);
    put8(a, 255);
    for (int i = 0; i < 255; i++)
        put16(a, (uint16_t)(i * 257));
    g_assert_cmpint(vd_parse_audio_volume_sync(a->data, a->len, v, NULL), ==, 0);
    g_assert_cmpuint(v->nchannels, ==, 255);
    g_assert_cmpuint(v->volume[254], ==, 254 * 257);
    vd_build_audio_volume_sync(out, v);
    assert_bytes_equal(out->data, out->len, a->data, a->len);
    g_assert_cmpint(vd_parse_audio_volume_sync(a->data, a->len - 1, v, NULL), ==, -EBADMSG);
}

static GByteArray *device_info_of(uint32_t count, uint32_t address_len)
{
    GByteArray *a = g_byte_array_new();

    put32(a, count);
    for (uint32_t i = 0; i < count; i++) {
        put32(a, 0);
        put32(a, i);
        put32(a, i);
        put32(a, address_len);
        for (uint32_t j = 0; j + 1 < address_len; j++)
            put8(a, (uint8_t)('a' + j % 26));
        put8(a, 0);
    }
    return a;
}

static void test_device_info_limits(void)
{
    g_autofree VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);
    g_autoptr(GByteArray) ok = device_info_of(VD_LIMIT_DEVICE_INFO, VD_LIMIT_DEVICE_ADDRESS);
    g_autoptr(GByteArray) many = device_info_of(VD_LIMIT_DEVICE_INFO + 1, 14);
    g_autoptr(GByteArray) longer = device_info_of(1, VD_LIMIT_DEVICE_ADDRESS + 1);
    g_autoptr(GByteArray) out = g_byte_array_new();
    const char *reason = NULL;

    g_assert_cmpint(vd_parse_graphics_device_info(ok->data, ok->len, g, NULL), ==, 0);
    g_assert_cmpuint(g->count, ==, VD_LIMIT_DEVICE_INFO);
    g_assert_cmpuint(strlen(g->entries[VD_LIMIT_DEVICE_INFO - 1].address), ==, VD_LIMIT_DEVICE_ADDRESS - 1);
    g_assert_cmpuint(g->entries[VD_LIMIT_DEVICE_INFO - 1].monitor_id, ==, VD_LIMIT_DEVICE_INFO - 1);
    vd_build_graphics_device_info(out, g);
    assert_bytes_equal(out->data, out->len, ok->data, ok->len);
    g_assert_cmpint(vd_parse_graphics_device_info(many->data, many->len, g, &reason), ==, -EBADMSG);
    g_assert_nonnull(strstr(reason, "VD_LIMIT_DEVICE_INFO"));
    g_assert_cmpint(vd_parse_graphics_device_info(longer->data, longer->len, g, &reason), ==, -EBADMSG);
    g_assert_nonnull(strstr(reason, "VD_LIMIT_DEVICE_ADDRESS"));
}

static void test_device_info_spice_server(void)
{
    g_autoptr(GByteArray) in = hex("01000000 00000000 00000000 00000000 0e000000 7063692f303030302f30322e3000");
    g_autofree VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);

    g_assert_cmpint(vd_parse_graphics_device_info(in->data, in->len, g, NULL), ==, 0);
    g_assert_cmpuint(g->count, ==, 1);
    g_assert_cmpstr(g->entries[0].address, ==, "pci/0000/02.0");
}

/* --- summaries --- */

typedef struct {
    uint32_t type;
    uint32_t neg;
    const char *hex;
    const char *expect;
} SummaryCase;

static const SummaryCase summaries[] = {
    { VD_MSG_MOUSE_STATE, 0, "0a000000 14000000 0a000000 01", "x=10 y=20 buttons=LEFT|RIGHT display=1" },
    { VD_MSG_MOUSE_STATE, 0, "0a000000", "undecodable (MOUSE_STATE is not 13 bytes), 4 bytes" },
    { VD_MSG_REPLY, 0, "02000000 01000000", "type=MONITORS_CONFIG error=SUCCESS" },
    { VD_MSG_CLIPBOARD, SEL, "01000000 01000000 6869", "selection=PRIMARY type=UTF8_TEXT" },
    { VD_MSG_CLIPBOARD_GRAB, SEL | SERIAL, "00000000 05000000 01000000 02000000",
      "selection=CLIPBOARD serial=5 types=UTF8_TEXT,IMAGE_PNG" },
    { VD_MSG_CLIPBOARD_GRAB, SEL | SERIAL, "00000000 05000000", "selection=CLIPBOARD serial=5 types=none" },
    { VD_MSG_CLIPBOARD_REQUEST, 0, "01000000", "selection=CLIPBOARD type=UTF8_TEXT" },
    { VD_MSG_CLIPBOARD_RELEASE, SEL, "01000000", "selection=PRIMARY" },
    { VD_MSG_ANNOUNCE_CAPABILITIES, 0, "01000000 61000200",
      "request=1 words=1 caps=MOUSE_STATE|CLIPBOARD_BY_DEMAND|CLIPBOARD_SELECTION|CLIPBOARD_GRAB_SERIAL" },
    { VD_MSG_DISPLAY_CONFIG, 0, "08000000 20000000", "flags=0x8 depth=32" },
    { VD_MSG_FILE_XFER_STATUS, 0, "03000000 02000000 00 0e000000", "id=3 result=ERROR error_type=0 error_code=14" },
    { VD_MSG_FILE_XFER_DATA, 0, "03000000 0004000000000000", "id=3 size=1024" },
    { VD_MSG_CLIENT_DISCONNECTED, 0, "", "(empty)" },
    { VD_MSG_MAX_CLIPBOARD, 0, "ffffffff", "max=-1" },
    { VD_MSG_AUDIO_VOLUME_SYNC, 0, "01 00 02 0100 0200", "playback=1 mute=0 channels=2 volume=1,2" },
    { VD_MSG_GRAPHICS_DEVICE_INFO, 0, "01000000 00000000 01000000 02000000 03000000 612200",
      "count=1 [channel=0 monitor=1 display=2 address=\"a\\x22\"]" },
    { VD_MSG_MONITORS_CONFIG, 0, "01000000 01000000 00030000 00040000 20000000 0a000000 f6ffffff",
      "count=1 flags=0x1 [0]=1024x768+10+-10" },
    { 99, 0, "0102", "unknown type 99, 2 bytes" },
};

static void test_summary(void)
{
    char out[256];

    for (size_t i = 0; i < G_N_ELEMENTS(summaries); i++) {
        const SummaryCase *c = &summaries[i];
        VdCaps neg = caps_word0(c->neg);
        g_autoptr(GByteArray) in = hex(c->hex);
        vd_message_summary(c->type, in->data, in->len, &neg, out, sizeof(out));
        g_assert_cmpstr(out, ==, c->expect);
    }
    /* A tiny buffer truncates, NUL-terminated. */
    g_autoptr(GByteArray) m = hex("0a000000 14000000 0a000000 01");
    vd_message_summary(VD_MSG_MOUSE_STATE, m->data, m->len, NULL, out, 5);
    g_assert_cmpstr(out, ==, "x=10");
    vd_message_summary(VD_MSG_MOUSE_STATE, m->data, m->len, NULL, out, 1);
    g_assert_cmpstr(out, ==, "");

    g_autoptr(GByteArray) start = start_of(4, "[vdagent-file-xfer]\nname=a\"b\nsize=10\n", true);
    vd_message_summary(VD_MSG_FILE_XFER_START, start->data, start->len, NULL, out, sizeof(out));
    g_assert_cmpstr(out, ==, "id=4 name=\"a\\x22b\" size=10");

    /* Every table input, at every length, gives some text and never reads too far. */
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        VdCaps neg = caps_word0(cases[i].neg);
        g_autoptr(GByteArray) in = hex(cases[i].hex);
        for (size_t n = 0; n <= in->len; n++) {
            g_autofree uint8_t *p = exact_copy(in->data, n);
            vd_message_summary(cases[i].type, p, n, &neg, out, sizeof(out));
            g_assert_cmpuint(strlen(out), >, 0);
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/vd-messages/table/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], test_case);
    }
    g_test_add_func("/vd-messages/mouse/fields", test_mouse_fields);
    g_test_add_func("/vd-messages/monitors/spice-gtk-sparse", test_monitors_spice_gtk);
    g_test_add_func("/vd-messages/monitors/limit", test_monitors_limit);
    g_test_add_func("/vd-messages/caps/real-hosts", test_caps_real_hosts);
    g_test_add_func("/vd-messages/caps/words", test_caps_words);
    g_test_add_func("/vd-messages/grab/limit", test_grab_limit);
    g_test_add_func("/vd-messages/grab/negotiated-layout", test_grab_serial_only_when_negotiated);
    g_test_add_func("/vd-messages/clipboard/head", test_clipboard_head);
    g_test_add_func("/vd-messages/file-xfer-data/head", test_file_xfer_data_head);
    g_test_add_func("/vd-messages/file-xfer-start/spice-gtk", test_start_spice_gtk);
    g_test_add_func("/vd-messages/file-xfer-start/bad", test_start_bad);
    g_test_add_func("/vd-messages/file-xfer-start/limits", test_start_limits);
    g_test_add_func("/vd-messages/file-xfer-start/round-trip", test_start_round_trip);
    g_test_add_func("/vd-messages/file-xfer-status/details", test_status_details);
    g_test_add_func("/vd-messages/audio/limit", test_audio_limit);
    g_test_add_func("/vd-messages/device-info/limits", test_device_info_limits);
    g_test_add_func("/vd-messages/device-info/spice-server", test_device_info_spice_server);
    g_test_add_func("/vd-messages/summary", test_summary);
    return g_test_run();
}
