/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-spice-header.c — every constant and wire size of ours against spice-protocol's own
 * spice/vd_agent.h (Debian's libspice-protocol-dev), and our parsers reading bytes laid out by the
 * official packed structs. Built only when pkg-config finds spice-protocol. */
#include <glib.h>
#include <stddef.h>
#include <string.h>

#include <spice/vd_agent.h>

#include "chunk-reader.h"
#include "chunk-writer.h"
#include "vd-messages.h"


#define EQ(ours, theirs) g_assert_cmpint((gint64)(ours), ==, (gint64)(theirs))

static void test_framing_constants(void)
{
    EQ(VD_PORT_CLIENT, VDP_CLIENT_PORT);
    EQ(VD_PORT_SERVER, VDP_SERVER_PORT);
    EQ(VD_PORT_SERVER + 1, VDP_END_PORT);
    EQ(VD_PROTOCOL, VD_AGENT_PROTOCOL);
    EQ(VD_CHUNK_MAX_DATA, VD_AGENT_MAX_DATA_SIZE);
    EQ(VD_CHUNK_HEADER_SIZE, sizeof(VDIChunkHeader));
    EQ(VD_MSG_HEADER_SIZE, sizeof(VDAgentMessage));
    EQ(offsetof(VDIChunkHeader, size), 4);
    EQ(offsetof(VDAgentMessage, type), 4);
    EQ(offsetof(VDAgentMessage, opaque), 8);
    EQ(offsetof(VDAgentMessage, size), 16);
}

static void test_message_types(void)
{
    EQ(VD_MSG_MOUSE_STATE, VD_AGENT_MOUSE_STATE);
    EQ(VD_MSG_MONITORS_CONFIG, VD_AGENT_MONITORS_CONFIG);
    EQ(VD_MSG_REPLY, VD_AGENT_REPLY);
    EQ(VD_MSG_CLIPBOARD, VD_AGENT_CLIPBOARD);
    EQ(VD_MSG_DISPLAY_CONFIG, VD_AGENT_DISPLAY_CONFIG);
    EQ(VD_MSG_ANNOUNCE_CAPABILITIES, VD_AGENT_ANNOUNCE_CAPABILITIES);
    EQ(VD_MSG_CLIPBOARD_GRAB, VD_AGENT_CLIPBOARD_GRAB);
    EQ(VD_MSG_CLIPBOARD_REQUEST, VD_AGENT_CLIPBOARD_REQUEST);
    EQ(VD_MSG_CLIPBOARD_RELEASE, VD_AGENT_CLIPBOARD_RELEASE);
    EQ(VD_MSG_FILE_XFER_START, VD_AGENT_FILE_XFER_START);
    EQ(VD_MSG_FILE_XFER_STATUS, VD_AGENT_FILE_XFER_STATUS);
    EQ(VD_MSG_FILE_XFER_DATA, VD_AGENT_FILE_XFER_DATA);
    EQ(VD_MSG_CLIENT_DISCONNECTED, VD_AGENT_CLIENT_DISCONNECTED);
    EQ(VD_MSG_MAX_CLIPBOARD, VD_AGENT_MAX_CLIPBOARD);
    EQ(VD_MSG_AUDIO_VOLUME_SYNC, VD_AGENT_AUDIO_VOLUME_SYNC);
    EQ(VD_MSG_GRAPHICS_DEVICE_INFO, VD_AGENT_GRAPHICS_DEVICE_INFO);
    EQ(VD_MSG_END, VD_AGENT_END_MESSAGE);
}

static void test_capabilities(void)
{
    EQ(VD_CAP_MOUSE_STATE, VD_AGENT_CAP_MOUSE_STATE);
    EQ(VD_CAP_MONITORS_CONFIG, VD_AGENT_CAP_MONITORS_CONFIG);
    EQ(VD_CAP_REPLY, VD_AGENT_CAP_REPLY);
    EQ(VD_CAP_CLIPBOARD, VD_AGENT_CAP_CLIPBOARD);
    EQ(VD_CAP_DISPLAY_CONFIG, VD_AGENT_CAP_DISPLAY_CONFIG);
    EQ(VD_CAP_CLIPBOARD_BY_DEMAND, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    EQ(VD_CAP_CLIPBOARD_SELECTION, VD_AGENT_CAP_CLIPBOARD_SELECTION);
    EQ(VD_CAP_SPARSE_MONITORS_CONFIG, VD_AGENT_CAP_SPARSE_MONITORS_CONFIG);
    EQ(VD_CAP_GUEST_LINEEND_LF, VD_AGENT_CAP_GUEST_LINEEND_LF);
    EQ(VD_CAP_GUEST_LINEEND_CRLF, VD_AGENT_CAP_GUEST_LINEEND_CRLF);
    EQ(VD_CAP_MAX_CLIPBOARD, VD_AGENT_CAP_MAX_CLIPBOARD);
    EQ(VD_CAP_AUDIO_VOLUME_SYNC, VD_AGENT_CAP_AUDIO_VOLUME_SYNC);
    EQ(VD_CAP_MONITORS_CONFIG_POSITION, VD_AGENT_CAP_MONITORS_CONFIG_POSITION);
    EQ(VD_CAP_FILE_XFER_DISABLED, VD_AGENT_CAP_FILE_XFER_DISABLED);
    EQ(VD_CAP_FILE_XFER_DETAILED_ERRORS, VD_AGENT_CAP_FILE_XFER_DETAILED_ERRORS);
    EQ(VD_CAP_GRAPHICS_DEVICE_INFO, VD_AGENT_CAP_GRAPHICS_DEVICE_INFO);
    EQ(VD_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB, VD_AGENT_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB);
    EQ(VD_CAP_CLIPBOARD_GRAB_SERIAL, VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL);
    EQ(VD_CAP_END, VD_AGENT_END_CAP);
    /* Our set holds every capability the header knows, and agrees with its macros. */
    g_assert_cmpuint(VD_CAPS_MAX_WORDS, >=, VD_AGENT_CAPS_SIZE);
    for (uint32_t c = 0; c < VD_AGENT_END_CAP; c++) {
        VdCaps ours = { { 0 } };
        uint32_t theirs[VD_AGENT_CAPS_SIZE] = { 0 };
        VD_AGENT_SET_CAPABILITY(theirs, c);
        vd_caps_set(&ours, c);
        g_assert_cmpmem(ours.words, sizeof(theirs), theirs, sizeof(theirs));
        g_assert_true(VD_AGENT_HAS_CAPABILITY(ours.words, VD_AGENT_CAPS_SIZE, c));
    }
    EQ(sizeof(VDAgentAnnounceCapabilities), 4);
    EQ(VD_AGENT_CAPS_SIZE_FROM_MSG_SIZE(12), 2);
}

static void test_value_enums(void)
{
    EQ(VD_CLIPBOARD_NONE, VD_AGENT_CLIPBOARD_NONE);
    EQ(VD_CLIPBOARD_UTF8_TEXT, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    EQ(VD_CLIPBOARD_IMAGE_PNG, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    EQ(VD_CLIPBOARD_IMAGE_BMP, VD_AGENT_CLIPBOARD_IMAGE_BMP);
    EQ(VD_CLIPBOARD_IMAGE_TIFF, VD_AGENT_CLIPBOARD_IMAGE_TIFF);
    EQ(VD_CLIPBOARD_IMAGE_JPG, VD_AGENT_CLIPBOARD_IMAGE_JPG);
    EQ(VD_CLIPBOARD_FILE_LIST, VD_AGENT_CLIPBOARD_FILE_LIST);
    EQ(VD_SELECTION_CLIPBOARD, VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD);
    EQ(VD_SELECTION_PRIMARY, VD_AGENT_CLIPBOARD_SELECTION_PRIMARY);
    EQ(VD_SELECTION_SECONDARY, VD_AGENT_CLIPBOARD_SELECTION_SECONDARY);
    EQ(VD_XFER_CAN_SEND_DATA, VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA);
    EQ(VD_XFER_CANCELLED, VD_AGENT_FILE_XFER_STATUS_CANCELLED);
    EQ(VD_XFER_ERROR, VD_AGENT_FILE_XFER_STATUS_ERROR);
    EQ(VD_XFER_SUCCESS, VD_AGENT_FILE_XFER_STATUS_SUCCESS);
    EQ(VD_XFER_NOT_ENOUGH_SPACE, VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE);
    EQ(VD_XFER_SESSION_LOCKED, VD_AGENT_FILE_XFER_STATUS_SESSION_LOCKED);
    EQ(VD_XFER_VDAGENT_NOT_CONNECTED, VD_AGENT_FILE_XFER_STATUS_VDAGENT_NOT_CONNECTED);
    EQ(VD_XFER_DISABLED, VD_AGENT_FILE_XFER_STATUS_DISABLED);
    EQ(VD_XFER_ERROR_GLIB_IO, VD_AGENT_FILE_XFER_STATUS_ERROR_GLIB_IO);
    EQ(VD_REPLY_SUCCESS, VD_AGENT_SUCCESS);
    EQ(VD_REPLY_ERROR, VD_AGENT_ERROR);
    EQ(VD_BUTTON_LEFT, VD_AGENT_LBUTTON_MASK);
    EQ(VD_BUTTON_MIDDLE, VD_AGENT_MBUTTON_MASK);
    EQ(VD_BUTTON_RIGHT, VD_AGENT_RBUTTON_MASK);
    EQ(VD_BUTTON_WHEEL_UP, VD_AGENT_UBUTTON_MASK);
    EQ(VD_BUTTON_WHEEL_DOWN, VD_AGENT_DBUTTON_MASK);
    EQ(VD_BUTTON_SIDE, VD_AGENT_SBUTTON_MASK);
    EQ(VD_BUTTON_EXTRA, VD_AGENT_EBUTTON_MASK);
    EQ(VD_MONITORS_USE_POS, VD_AGENT_CONFIG_MONITORS_FLAG_USE_POS);
    EQ(VD_MONITORS_PHYSICAL_SIZE, VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE);
    EQ(VD_DISPLAY_DISABLE_WALLPAPER, VD_AGENT_DISPLAY_CONFIG_FLAG_DISABLE_WALLPAPER);
    EQ(VD_DISPLAY_DISABLE_FONT_SMOOTH, VD_AGENT_DISPLAY_CONFIG_FLAG_DISABLE_FONT_SMOOTH);
    EQ(VD_DISPLAY_DISABLE_ANIMATION, VD_AGENT_DISPLAY_CONFIG_FLAG_DISABLE_ANIMATION);
    EQ(VD_DISPLAY_SET_COLOR_DEPTH, VD_AGENT_DISPLAY_CONFIG_FLAG_SET_COLOR_DEPTH);
}

static void test_struct_sizes(void)
{
    EQ(VD_MOUSE_STATE_SIZE, sizeof(VDAgentMouseState));
    EQ(VD_FILE_XFER_DATA_HEAD, sizeof(VDAgentFileXferDataMessage));
    EQ(VD_FILE_XFER_DATA_HEAD, offsetof(VDAgentFileXferDataMessage, data));
    EQ(20, sizeof(VDAgentMonConfig));
    EQ(8, sizeof(VDAgentMonitorsConfig));
    EQ(4, sizeof(VDAgentMonitorMM));
    EQ(8, sizeof(VDAgentReply));
    EQ(8, sizeof(VDAgentDisplayConfig));
    EQ(4, sizeof(VDAgentMaxClipboard));
    EQ(3, sizeof(VDAgentAudioVolumeSync));
    EQ(16, sizeof(VDAgentDeviceDisplayInfo));
    EQ(4, sizeof(VDAgentGraphicsDeviceInfo));
    EQ(8, sizeof(VDAgentFileXferStatusMessage));
    EQ(5, sizeof(VDAgentFileXferStatusError));
    EQ(8, sizeof(VDAgentFileXferStatusNotEnoughSpace));
    EQ(4, sizeof(VDAgentFileXferStartMessage));
    /* Without the selection prefix and the serial, as the header spells them. */
    VdCaps none = { { 0 } };
    EQ(vd_clipboard_head_size(&none), sizeof(VDAgentClipboard));
    EQ(vd_clipboard_head_size(&none), sizeof(VDAgentClipboardRequest));
    EQ(vd_selection_prefix_size(&none), sizeof(VDAgentClipboardRelease));
    EQ(0, sizeof(VDAgentClipboardGrab));
}

/* Our parsers read what the official structs lay out (the structs are host-endian; this test only
 * runs on little-endian hosts, where that is the wire format). */
static void test_parse_official_layouts(void)
{
    if (G_BYTE_ORDER != G_LITTLE_ENDIAN) {
        g_test_skip("the official structs are host-endian");
        return;
    }

    VDAgentMouseState ms = { .x = 1234, .y = 567, .buttons = VD_AGENT_LBUTTON_MASK, .display_id = 2 };
    VdMouseState m;
    g_assert_cmpint(vd_parse_mouse_state((const uint8_t *)&ms, sizeof(ms), &m, NULL), ==, 0);
    g_assert_cmpuint(m.x, ==, 1234);
    g_assert_cmpuint(m.y, ==, 567);
    g_assert_cmpuint(m.buttons, ==, VD_BUTTON_LEFT);
    g_assert_cmpuint(m.display_id, ==, 2);
    g_autoptr(GByteArray) out = g_byte_array_new();
    vd_build_mouse_state(out, &m);
    g_assert_cmpmem(out->data, out->len, &ms, sizeof(ms));

    struct __attribute__((packed)) {
        VDAgentMonitorsConfig head;
        VDAgentMonConfig mon[2];
        VDAgentMonitorMM mm[2];
    } mc = {
        .head = { .num_of_monitors = 2, .flags = VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE },
        .mon = { { .height = 768, .width = 1024, .depth = 32, .x = -5, .y = 7 }, { 0 } },
        .mm = { { .height = 200, .width = 300 }, { 0 } },
    };
    VdMonitorsConfig c;
    g_assert_cmpint(vd_parse_monitors_config((const uint8_t *)&mc, sizeof(mc), &c, NULL), ==, 0);
    g_assert_cmpuint(c.count, ==, 2);
    g_assert_cmpuint(c.monitors[0].width, ==, 1024);
    g_assert_cmpuint(c.monitors[0].height, ==, 768);
    g_assert_cmpint(c.monitors[0].x, ==, -5);
    g_assert_cmpint(c.monitors[0].y, ==, 7);
    g_assert_cmpuint(c.monitors[0].mm_width, ==, 300);
    g_assert_cmpuint(c.monitors[0].mm_height, ==, 200);
    g_assert_false(vd_monitor_enabled(&c.monitors[1]));
    g_byte_array_set_size(out, 0);
    vd_build_monitors_config(out, &c);
    g_assert_cmpmem(out->data, out->len, &mc, sizeof(mc));

    VDAgentReply rp = { .type = VD_AGENT_MONITORS_CONFIG, .error = VD_AGENT_SUCCESS };
    g_byte_array_set_size(out, 0);
    vd_build_reply(out, VD_MSG_MONITORS_CONFIG, VD_REPLY_SUCCESS);
    g_assert_cmpmem(out->data, out->len, &rp, sizeof(rp));

    struct __attribute__((packed)) {
        VDAgentFileXferStatusMessage head;
        VDAgentFileXferStatusError error;
    } st = { { .id = 9, .result = VD_AGENT_FILE_XFER_STATUS_ERROR }, { .error_type = 0, .error_code = 14 } };
    VdFileXferStatus s = { .id = 9, .result = VD_XFER_ERROR, .has_detail = true, .error_code = 14 };
    g_byte_array_set_size(out, 0);
    vd_build_file_xfer_status(out, &s);
    g_assert_cmpmem(out->data, out->len, &st, sizeof(st));

    VDAgentFileXferDataMessage dm = { .id = 3, .size = 100 };
    uint32_t id;
    uint64_t size;
    g_assert_cmpint(vd_parse_file_xfer_data_head((const uint8_t *)&dm, sizeof(dm), sizeof(dm) + 100, &id, &size,
                                                 NULL), ==, 0);
    g_assert_cmpuint(id, ==, 3);
    g_assert_cmpuint(size, ==, 100);

    VDAgentMaxClipboard mx = { .max = -1 };
    int32_t max;
    g_assert_cmpint(vd_parse_max_clipboard((const uint8_t *)&mx, sizeof(mx), &max, NULL), ==, 0);
    g_assert_cmpint(max, ==, -1);

    VDAgentDisplayConfig dc = { .flags = VD_AGENT_DISPLAY_CONFIG_FLAG_SET_COLOR_DEPTH, .depth = 24 };
    VdDisplayConfig d;
    g_assert_cmpint(vd_parse_display_config((const uint8_t *)&dc, sizeof(dc), &d, NULL), ==, 0);
    g_assert_cmpuint(d.flags, ==, VD_DISPLAY_SET_COLOR_DEPTH);
    g_assert_cmpuint(d.depth, ==, 24);

    struct __attribute__((packed)) {
        VDAgentGraphicsDeviceInfo head;
        VDAgentDeviceDisplayInfo entry;
        char address[14];
    } gi = { { .count = 1 }, { .channel_id = 0, .monitor_id = 1, .device_display_id = 2, .device_address_len = 14 },
             "pci/0000/02.0" };
    g_autofree VdGraphicsDeviceInfo *g = g_new0(VdGraphicsDeviceInfo, 1);
    g_assert_cmpint(vd_parse_graphics_device_info((const uint8_t *)&gi, sizeof(gi), g, NULL), ==, 0);
    g_assert_cmpstr(g->entries[0].address, ==, "pci/0000/02.0");
    g_assert_cmpuint(g->entries[0].device_display_id, ==, 2);
}

static int expect_reply(const VdReadEvent *e, void *user_data)
{
    int *n = user_data;

    g_assert_cmpint(e->kind, ==, VD_READ_MESSAGE);
    g_assert_cmpuint(e->header.type, ==, VD_AGENT_REPLY);
    g_assert_cmpuint(e->header.opaque, ==, 0x0102030405060708ull);
    g_assert_cmpuint(e->len, ==, sizeof(VDAgentReply));
    (*n)++;
    return 0;
}

/* The reader takes a chunk and message laid out by the official headers; the writer produces one. */
static void test_frames_official_layout(void)
{
    if (G_BYTE_ORDER != G_LITTLE_ENDIAN) {
        g_test_skip("the official structs are host-endian");
        return;
    }

    struct __attribute__((packed)) {
        VDIChunkHeader chunk;
        VDAgentMessage msg;
        VDAgentReply reply;
    } f = {
        .chunk = { .port = VDP_SERVER_PORT, .size = sizeof(VDAgentMessage) + sizeof(VDAgentReply) },
        .msg = { .protocol = VD_AGENT_PROTOCOL, .type = VD_AGENT_REPLY, .opaque = 0x0102030405060708ull,
                 .size = sizeof(VDAgentReply) },
        .reply = { .type = 1, .error = VD_AGENT_SUCCESS },
    };
    g_autoptr(VdChunkReader) reader = vd_chunk_reader_new(NULL);
    VdReadError error;
    int n = 0;
    g_assert_cmpint(vd_chunk_reader_feed(reader, (const uint8_t *)&f, sizeof(f), expect_reply, &n, &error), ==, 0);
    g_assert_cmpint(n, ==, 1);

    g_autoptr(GByteArray) out = g_byte_array_new();
    f.chunk.port = VDP_CLIENT_PORT;
    f.msg.opaque = 0;
    g_assert_cmpint(vd_frame_message(out, VD_MSG_REPLY, &f.reply, sizeof(f.reply)), ==, 0);
    g_assert_cmpmem(out->data, out->len, &f, sizeof(f));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/spice-header/framing", test_framing_constants);
    g_test_add_func("/spice-header/message-types", test_message_types);
    g_test_add_func("/spice-header/capabilities", test_capabilities);
    g_test_add_func("/spice-header/value-enums", test_value_enums);
    g_test_add_func("/spice-header/struct-sizes", test_struct_sizes);
    g_test_add_func("/spice-header/parse-official-layouts", test_parse_official_layouts);
    g_test_add_func("/spice-header/frames-official-layout", test_frames_official_layout);
    return g_test_run();
}
