/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-messages.h — one parser and one builder per VDAgent message type.
 *
 * Parsers take the payload exactly as received (buf, len), check every length against len before
 * reading, bound every count (vd-limits.h), honour what was negotiated, and write *ret only on success.
 * They return 0 or -EBADMSG, and on failure point *reason (if non-NULL) at a static sentence naming
 * what was wrong. Builders append a payload (not framed: see chunk-writer.h) to a GByteArray.
 * `neg` is the negotiated capability set (both sides announced); only CLIPBOARD_SELECTION and
 * CLIPBOARD_GRAB_SERIAL change the layout of messages.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vd-limits.h"
#include "vd-proto.h"

/* --- MOUSE_STATE (1) --- */
typedef struct {
    uint32_t x, y, buttons;
    uint8_t display_id;
} VdMouseState;
#define VD_MOUSE_STATE_SIZE 13u
int vd_parse_mouse_state(const uint8_t *buf, size_t len, VdMouseState *ret, const char **reason);
void vd_build_mouse_state(GByteArray *out, const VdMouseState *m);

/* --- MONITORS_CONFIG (2) ---
 * Accepts what real hosts send: the MonitorMM tail when PHYSICAL_SIZE is set (spice-gtk always),
 * sparse entries (width = height = 0: disabled), and trailing bytes past the known layout are
 * refused. Count bounded by VD_LIMIT_MONITORS. */
typedef struct {
    uint32_t width, height, depth;
    int32_t x, y;
    uint16_t mm_width, mm_height; /* 0 when not sent */
} VdMonitor;
typedef struct {
    uint32_t flags; /* VD_MONITORS_USE_POS, VD_MONITORS_PHYSICAL_SIZE */
    uint32_t count;
    VdMonitor monitors[VD_LIMIT_MONITORS];
} VdMonitorsConfig;
static inline bool vd_monitor_enabled(const VdMonitor *m)
{
    return m->width != 0 && m->height != 0;
}
int vd_parse_monitors_config(const uint8_t *buf, size_t len, VdMonitorsConfig *ret, const char **reason);
void vd_build_monitors_config(GByteArray *out, const VdMonitorsConfig *c);

/* --- REPLY (3) --- */
typedef struct {
    uint32_t type;  /* the message answered */
    uint32_t error; /* VD_REPLY_SUCCESS / VD_REPLY_ERROR */
} VdReply;
int vd_parse_reply(const uint8_t *buf, size_t len, VdReply *ret, const char **reason);
void vd_build_reply(GByteArray *out, uint32_t type, uint32_t error);

/* --- selection prefix, shared by CLIPBOARD, GRAB, REQUEST, RELEASE ---
 * Present (4 bytes: selection u8, 3 reserved) only when CLIPBOARD_SELECTION was negotiated;
 * otherwise the selection is CLIPBOARD. */
size_t vd_selection_prefix_size(const VdCaps *neg);

/* --- CLIPBOARD (4) ---
 * Whole form (small messages) and streamed form (head + pieces). */
typedef struct {
    uint8_t selection;
    uint32_t type;
    const uint8_t *data; /* points into buf */
    size_t len;
} VdClipboard;
int vd_parse_clipboard(const uint8_t *buf, size_t len, const VdCaps *neg, VdClipboard *ret,
                       const char **reason);
/* Streamed: head is the BEGIN event's data (min(size, VD_STREAM_HEAD) bytes), total the message's
 * payload size. On success *ret_consumed is the prefix+type size: head bytes after it are data. */
int vd_parse_clipboard_head(const uint8_t *head, size_t head_len, uint32_t total, const VdCaps *neg,
                            uint8_t *ret_selection, uint32_t *ret_type, size_t *ret_consumed,
                            const char **reason);
/* Appends prefix and type; the caller appends (or streams) the data. */
void vd_build_clipboard_head(GByteArray *out, const VdCaps *neg, uint8_t selection, uint32_t type);
size_t vd_clipboard_head_size(const VdCaps *neg);

/* --- DISPLAY_CONFIG (5) --- */
typedef struct {
    uint32_t flags, depth;
} VdDisplayConfig;
int vd_parse_display_config(const uint8_t *buf, size_t len, VdDisplayConfig *ret, const char **reason);
void vd_build_display_config(GByteArray *out, const VdDisplayConfig *d);

/* --- ANNOUNCE_CAPABILITIES (6) ---
 * Words past VD_CAPS_MAX_WORDS are accepted and ignored; at least the request field must be
 * present, and the size must be 4 + 4k. */
typedef struct {
    uint32_t request;
    VdCaps caps;
    uint32_t n_words; /* words received (may exceed VD_CAPS_MAX_WORDS) */
} VdAnnounceCaps;
int vd_parse_announce_caps(const uint8_t *buf, size_t len, VdAnnounceCaps *ret, const char **reason);
void vd_build_announce_caps(GByteArray *out, bool request, const VdCaps *caps);

/* --- CLIPBOARD_GRAB (7) ---
 * Zero types is valid (QEMU: the clipboard is empty). */
typedef struct {
    uint8_t selection;
    bool has_serial;
    uint32_t serial;
    uint32_t n_types;
    uint32_t types[VD_LIMIT_GRAB_TYPES];
} VdClipboardGrab;
int vd_parse_clipboard_grab(const uint8_t *buf, size_t len, const VdCaps *neg, VdClipboardGrab *ret,
                            const char **reason);
/* Writes the serial only when GRAB_SERIAL is negotiated. */
void vd_build_clipboard_grab(GByteArray *out, const VdCaps *neg, const VdClipboardGrab *g);

/* --- CLIPBOARD_REQUEST (8) --- */
typedef struct {
    uint8_t selection;
    uint32_t type;
} VdClipboardRequest;
int vd_parse_clipboard_request(const uint8_t *buf, size_t len, const VdCaps *neg,
                               VdClipboardRequest *ret, const char **reason);
void vd_build_clipboard_request(GByteArray *out, const VdCaps *neg, uint8_t selection, uint32_t type);

/* --- CLIPBOARD_RELEASE (9) --- */
int vd_parse_clipboard_release(const uint8_t *buf, size_t len, const VdCaps *neg, uint8_t *ret_selection,
                               const char **reason);
void vd_build_clipboard_release(GByteArray *out, const VdCaps *neg, uint8_t selection);

/* --- FILE_XFER_START (10) ---
 * id, then a key file: group [vdagent-file-xfer], keys name (required, non-empty UTF-8 without
 * control characters is NOT checked here: the agent sanitises) and size (required), optional
 * file-xfer-nr and file-xfer-total. With or without a trailing NUL; bounded by
 * VD_LIMIT_XFER_START_TEXT, name by VD_LIMIT_XFER_NAME. */
typedef struct {
    uint32_t id;
    char name[VD_LIMIT_XFER_NAME + 1]; /* as sent, NUL-terminated, valid UTF-8 */
    uint64_t size;
    uint32_t nr, total; /* 0 when absent */
} VdFileXferStart;
int vd_parse_file_xfer_start(const uint8_t *buf, size_t len, VdFileXferStart *ret, const char **reason);
/* Only the id of a FILE_XFER_START (for answering one that vd_parse_file_xfer_start refused):
 * 0, or -EBADMSG when len < 4. */
int vd_peek_file_xfer_id(const uint8_t *buf, size_t len, uint32_t *ret_id);
void vd_build_file_xfer_start(GByteArray *out, const VdFileXferStart *s);

/* --- FILE_XFER_STATUS (11) ---
 * Detail decoded when its length fits the result: ERROR with 5 bytes (error_type u8, code u32),
 * NOT_ENOUGH_SPACE with 8 bytes (free u64). Other detail bytes are ignored (has_detail false). */
typedef struct {
    uint32_t id;
    uint32_t result;
    bool has_detail;
    uint8_t error_type;
    uint32_t error_code;
    uint64_t free_space;
} VdFileXferStatus;
int vd_parse_file_xfer_status(const uint8_t *buf, size_t len, VdFileXferStatus *ret, const char **reason);
/* Appends the detail only if has_detail (callers set it only when the client has DETAILED_ERRORS). */
void vd_build_file_xfer_status(GByteArray *out, const VdFileXferStatus *s);

/* --- FILE_XFER_DATA (12) ---
 * id u32, size u64, then exactly size bytes: size must equal the payload length minus 12. */
#define VD_FILE_XFER_DATA_HEAD 12u
int vd_parse_file_xfer_data_head(const uint8_t *head, size_t head_len, uint32_t total, uint32_t *ret_id,
                                 uint64_t *ret_size, const char **reason);
void vd_build_file_xfer_data_head(GByteArray *out, uint32_t id, uint64_t size);

/* --- CLIENT_DISCONNECTED (13): empty; any payload is refused. --- */
int vd_parse_client_disconnected(const uint8_t *buf, size_t len, const char **reason);

/* --- MAX_CLIPBOARD (14): max i32, -1 = no limit; other negatives refused. --- */
int vd_parse_max_clipboard(const uint8_t *buf, size_t len, int32_t *ret_max, const char **reason);
void vd_build_max_clipboard(GByteArray *out, int32_t max);

/* --- AUDIO_VOLUME_SYNC (15) --- */
typedef struct {
    uint8_t is_playback, mute, nchannels;
    uint16_t volume[255];
} VdAudioVolumeSync;
int vd_parse_audio_volume_sync(const uint8_t *buf, size_t len, VdAudioVolumeSync *ret, const char **reason);
void vd_build_audio_volume_sync(GByteArray *out, const VdAudioVolumeSync *a);

/* --- GRAPHICS_DEVICE_INFO (16) ---
 * Addresses must be NUL-terminated inside address_len (the NUL is not stored twice) and shorter
 * than VD_LIMIT_DEVICE_ADDRESS; count bounded by VD_LIMIT_DEVICE_INFO. */
typedef struct {
    uint32_t channel_id, monitor_id, device_display_id;
    char address[VD_LIMIT_DEVICE_ADDRESS];
} VdDeviceDisplayInfo;
typedef struct {
    uint32_t count;
    VdDeviceDisplayInfo entries[VD_LIMIT_DEVICE_INFO];
} VdGraphicsDeviceInfo;
int vd_parse_graphics_device_info(const uint8_t *buf, size_t len, VdGraphicsDeviceInfo *ret,
                                  const char **reason);
void vd_build_graphics_device_info(GByteArray *out, const VdGraphicsDeviceInfo *g);

/* A one-line decoded summary of a whole message for traces and logs ("x=10 y=20 buttons=LEFT
 * display=0"); for streamed types pass the head. Never fails: undecodable payloads say so. */
void vd_message_summary(uint32_t type, const uint8_t *buf, size_t len, const VdCaps *neg, char *out,
                        size_t size);
