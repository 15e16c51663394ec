/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-proto.h — the VDAgent wire protocol's constants.
 *
 * Numbers as spice-protocol 0.14.3's spice/vd_agent.h defines them (tests/protocol/test-spice-header.c
 * cross-checks every one), with *_to_string() for logs. Everything on the wire is little-endian
 * and packed; nothing here maps a struct onto a buffer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Chunk ports. 0 and 3+ are invalid. */
enum {
    VD_PORT_CLIENT = 1,
    VD_PORT_SERVER = 2,
};

#define VD_PROTOCOL 1u
#define VD_CHUNK_HEADER_SIZE 8u   /* port u32, size u32 */
#define VD_MSG_HEADER_SIZE 20u    /* protocol u32, type u32, opaque u64, size u32 */
#define VD_CHUNK_MAX_DATA 2048u   /* largest chunk payload either side may send */

typedef enum {
    VD_MSG_MOUSE_STATE = 1,
    VD_MSG_MONITORS_CONFIG = 2,
    VD_MSG_REPLY = 3,
    VD_MSG_CLIPBOARD = 4,
    VD_MSG_DISPLAY_CONFIG = 5,
    VD_MSG_ANNOUNCE_CAPABILITIES = 6,
    VD_MSG_CLIPBOARD_GRAB = 7,
    VD_MSG_CLIPBOARD_REQUEST = 8,
    VD_MSG_CLIPBOARD_RELEASE = 9,
    VD_MSG_FILE_XFER_START = 10,
    VD_MSG_FILE_XFER_STATUS = 11,
    VD_MSG_FILE_XFER_DATA = 12,
    VD_MSG_CLIENT_DISCONNECTED = 13,
    VD_MSG_MAX_CLIPBOARD = 14,
    VD_MSG_AUDIO_VOLUME_SYNC = 15,
    VD_MSG_GRAPHICS_DEVICE_INFO = 16,
    VD_MSG_END = 17, /* first invalid type */
} VdMsgType;

typedef enum {
    VD_CAP_MOUSE_STATE = 0,
    VD_CAP_MONITORS_CONFIG = 1,
    VD_CAP_REPLY = 2,
    VD_CAP_CLIPBOARD = 3,
    VD_CAP_DISPLAY_CONFIG = 4,
    VD_CAP_CLIPBOARD_BY_DEMAND = 5,
    VD_CAP_CLIPBOARD_SELECTION = 6,
    VD_CAP_SPARSE_MONITORS_CONFIG = 7,
    VD_CAP_GUEST_LINEEND_LF = 8,
    VD_CAP_GUEST_LINEEND_CRLF = 9,
    VD_CAP_MAX_CLIPBOARD = 10,
    VD_CAP_AUDIO_VOLUME_SYNC = 11,
    VD_CAP_MONITORS_CONFIG_POSITION = 12,
    VD_CAP_FILE_XFER_DISABLED = 13,
    VD_CAP_FILE_XFER_DETAILED_ERRORS = 14,
    VD_CAP_GRAPHICS_DEVICE_INFO = 15,
    VD_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB = 16,
    VD_CAP_CLIPBOARD_GRAB_SERIAL = 17,
    VD_CAP_END = 18, /* first unknown capability */
} VdCap;

typedef enum {
    VD_CLIPBOARD_NONE = 0,
    VD_CLIPBOARD_UTF8_TEXT = 1,
    VD_CLIPBOARD_IMAGE_PNG = 2,
    VD_CLIPBOARD_IMAGE_BMP = 3,
    VD_CLIPBOARD_IMAGE_TIFF = 4,
    VD_CLIPBOARD_IMAGE_JPG = 5,
    VD_CLIPBOARD_FILE_LIST = 6,
    VD_CLIPBOARD_END = 7,
} VdClipboardType;

typedef enum {
    VD_SELECTION_CLIPBOARD = 0,
    VD_SELECTION_PRIMARY = 1,
    VD_SELECTION_SECONDARY = 2,
    VD_SELECTION_END = 3,
} VdSelection;

typedef enum {
    VD_XFER_CAN_SEND_DATA = 0,
    VD_XFER_CANCELLED = 1,
    VD_XFER_ERROR = 2,
    VD_XFER_SUCCESS = 3,
    VD_XFER_NOT_ENOUGH_SPACE = 4,
    VD_XFER_SESSION_LOCKED = 5,
    VD_XFER_VDAGENT_NOT_CONNECTED = 6,
    VD_XFER_DISABLED = 7,
    VD_XFER_END = 8,
} VdXferResult;

/* Detail kinds of a FILE_XFER_STATUS ERROR (error_type). */
enum { VD_XFER_ERROR_GLIB_IO = 0 };

/* REPLY's error field. */
typedef enum {
    VD_REPLY_SUCCESS = 1,
    VD_REPLY_ERROR = 2,
} VdReplyError;

/* MOUSE_STATE buttons: the whole current state, one bit each. */
enum {
    VD_BUTTON_LEFT = 1u << 1,
    VD_BUTTON_MIDDLE = 1u << 2,
    VD_BUTTON_RIGHT = 1u << 3,
    VD_BUTTON_WHEEL_UP = 1u << 4,
    VD_BUTTON_WHEEL_DOWN = 1u << 5,
    VD_BUTTON_SIDE = 1u << 6,
    VD_BUTTON_EXTRA = 1u << 7,
};

/* MONITORS_CONFIG flags. */
enum {
    VD_MONITORS_USE_POS = 1u << 0,
    VD_MONITORS_PHYSICAL_SIZE = 1u << 1,
};

/* DISPLAY_CONFIG flags. */
enum {
    VD_DISPLAY_DISABLE_WALLPAPER = 1u << 0,
    VD_DISPLAY_DISABLE_FONT_SMOOTH = 1u << 1,
    VD_DISPLAY_DISABLE_ANIMATION = 1u << 2,
    VD_DISPLAY_SET_COLOR_DEPTH = 1u << 3,
};

/* Each returns a static upper-case name, or "UNKNOWN" for values outside the enum. */
const char *vd_msg_type_to_string(uint32_t type);
const char *vd_cap_to_string(uint32_t cap);
const char *vd_clipboard_type_to_string(uint32_t type);
const char *vd_selection_to_string(uint32_t selection);
const char *vd_xfer_result_to_string(uint32_t result);
const char *vd_reply_error_to_string(uint32_t error);
const char *vd_port_to_string(uint32_t port);
/* Writes "LEFT|RIGHT|WHEEL_UP" style names of the set bits (unknown bits as 0x..) into buf. */
const char *vd_buttons_to_string(uint32_t buttons, char *buf, size_t size);

/* A capability set: bit n of word n/32. Bits past the words received are absent. */
#define VD_CAPS_MAX_WORDS 8u
typedef struct {
    uint32_t words[VD_CAPS_MAX_WORDS];
} VdCaps;

static inline bool vd_caps_has(const VdCaps *caps, uint32_t cap)
{
    return cap < 32u * VD_CAPS_MAX_WORDS && (caps->words[cap / 32] >> (cap % 32)) & 1u;
}

static inline void vd_caps_set(VdCaps *caps, uint32_t cap)
{
    if (cap < 32u * VD_CAPS_MAX_WORDS)
        caps->words[cap / 32] |= 1u << (cap % 32);
}

static inline void vd_caps_clear(VdCaps *caps, uint32_t cap)
{
    if (cap < 32u * VD_CAPS_MAX_WORDS)
        caps->words[cap / 32] &= ~(1u << (cap % 32));
}

/* ret = a & b: what both sides announced. */
void vd_caps_intersect(const VdCaps *a, const VdCaps *b, VdCaps *ret);
/* Number of words needed to carry caps (at least 1). */
uint32_t vd_caps_n_words(const VdCaps *caps);
/* "MOUSE_STATE|REPLY|…" of the set bits, unknown ones as numbers; truncated to fit buf. */
const char *vd_caps_to_string(const VdCaps *caps, char *buf, size_t size);
