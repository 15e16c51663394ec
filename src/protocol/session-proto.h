/* SPDX-License-Identifier: GPL-3.0-or-later */
/* session-proto.h — the daemon <-> session agent protocol (docs/protocols.md, "Session protocol").
 *
 * Over the session socket, framed by ipc.h. Both sides start with HELLO (magic VD_SESSION_MAGIC);
 * nothing else is honoured before it. Symmetric messages (clipboard) use the same type in both
 * directions. Clipboard data and file data travel as a BEGIN with the total size, then DATA pieces
 * of at most VD_IPC_MAX_PIECE bytes adding up to it (the end is implicit), or an ABORT. Grab
 * serials, caps negotiation and framing for the host are the daemon's business, not the agent's.
 */
#pragma once

#include "ipc.h"
#include "vd-messages.h"

#define VD_SESSION_MAGIC 0x53474456u /* "VDGS" */
#define VD_SESSION_VERSION_MAJOR 1
#define VD_SESSION_VERSION_MINOR 2

/* HELLO feature bits (since 1.1): what the agent can do. The daemon announces every bit it can
 * route; the bits in use are the intersection. An agent that sends 0 (built before 1.1) is taken to
 * have every feature: docs/protocols.md, "Session features". */
#define VD_SESSION_FEATURE_CLIPBOARD (1u << 0) /* selections (XFixes) */
#define VD_SESSION_FEATURE_MONITORS (1u << 1)  /* applies MONITORS_CONFIG (RandR >= 1.3) */
#define VD_SESSION_FEATURE_FILES (1u << 2)     /* receives file transfers */
#define VD_SESSION_FEATURE_LAYOUT (1u << 3)    /* reports LAYOUT (RandR) */
#define VD_SESSION_FEATURE_AUDIO (1u << 4)     /* applies VOLUME (since 1.2) */
#define VD_SESSION_FEATURE_REPORTS (1u << 5)   /* VOLUME_APPLIED, DEVICE_MAP: sent / wanted (since 1.2) */
#define VD_SESSION_FEATURES_ALL 0x3fu
/* What an agent that sends 0 (built before 1.1) is taken to do: everything 1.0 had. */
#define VD_SESSION_FEATURES_1_0 0xfu

/* "clipboard", "monitors", "files", "layout" for one bit; NULL for an unknown one. */
const char *vd_session_feature_to_string(uint32_t bit);

typedef enum {
    /* both directions */
    VD_S_CLIPBOARD_GRAB = 16,       /* selection u8, n u32 (<= VD_LIMIT_GRAB_TYPES), types u32[n] */
    VD_S_CLIPBOARD_REQUEST = 17,    /* selection u8, type u32 */
    VD_S_CLIPBOARD_RELEASE = 18,    /* selection u8 */
    VD_S_CLIPBOARD_BEGIN = 19,      /* selection u8, type u32, total u64 */
    VD_S_CLIPBOARD_DATA = 20,       /* selection u8, bytes (rest of frame, <= VD_IPC_MAX_PIECE) */
    VD_S_CLIPBOARD_ABORT = 21,      /* selection u8: the data in progress will not complete */
    /* daemon -> agent */
    VD_S_HOST_STATE = 32,           /* connected u8, negotiated caps, max_clipboard i32 */
    VD_S_SESSION_STATE = 33,        /* active u8, locked u8 */
    VD_S_MONITORS_CONFIG = 34,      /* request_id u32, flags u32, n u32, n x monitor */
    VD_S_DEVICE_INFO = 35,          /* n u32, n x (channel u32, monitor u32, device_display u32, address string) */
    VD_S_XFER_START = 36,           /* id u32, size u64, nr u32, total u32, name string */
    VD_S_XFER_DATA = 37,            /* id u32, bytes (rest of frame, <= VD_IPC_MAX_PIECE) */
    VD_S_XFER_CANCEL = 38,          /* id u32, result u32 (why: CANCELLED, ERROR, VDAGENT_NOT_CONNECTED) */
    VD_S_VOLUME = 39,               /* since 1.2: playback bool, mute bool, n u32 (1..32), volume u16[n] */
    /* agent -> daemon */
    VD_S_MONITORS_RESULT = 48,      /* request_id u32, result u32 (VD_REPLY_SUCCESS / VD_REPLY_ERROR) */
    VD_S_LAYOUT = 49,               /* screen_w u32, screen_h u32, n u32, n x display */
    VD_S_XFER_STATUS = 50,          /* id u32, result u32, has_detail u8, error_type u8, error_code u32, free u64 */
    VD_S_VOLUME_APPLIED = 51,       /* since 1.2: playback, mute, n, volume[n] as VOLUME; backend string, error string */
    VD_S_DEVICE_MAP = 52,           /* since 1.2: n u32, n x (display_id u32, output string, from_device_info bool) */
} VdSessionMsgType;

const char *vd_session_msg_type_to_string(uint32_t type);

/* A display as the agent reports it: where display_id's pixels are on the X screen. */
typedef struct {
    uint32_t display_id;
    int32_t x, y;
    uint32_t width, height;
} VdDisplayRect;

typedef struct {
    uint32_t screen_width, screen_height;
    uint32_t count;
    VdDisplayRect displays[VD_IPC_MAX_DISPLAYS];
} VdLayout;

/* The host's volume for one direction, as the agent is asked to apply it (VD_S_VOLUME). */
typedef struct {
    bool playback; /* false: record */
    bool mute;
    uint32_t count;
    uint16_t volume[VD_LIMIT_AUDIO_CHANNELS];
} VdVolume;

/* What the agent did with the last VOLUME of one direction. */
typedef struct {
    VdVolume volume;
    char *backend; /* "pulse", "alsa", or "" when none could be used */
    char *error;   /* "" when applied */
} VdVolumeApplied;

/* One display id and the output it is sent to (VD_S_DEVICE_MAP). */
typedef struct {
    uint32_t display_id;
    char output[VD_IPC_MAX_OUTPUT_NAME + 1];
    bool from_device_info; /* false: by output order */
} VdDeviceMapEntry;

typedef struct {
    uint32_t count;
    VdDeviceMapEntry entries[VD_IPC_MAX_DISPLAYS];
} VdDeviceMapReport;

/* One decoded frame. Pointers (data) point into the payload it was decoded from; strings are
 * owned (vd_session_msg_clear frees them). */
typedef struct {
    uint16_t type;
    union {
        VdIpcHello hello;
        VdIpcError error;
        VdClipboardGrab grab;            /* has_serial false */
        VdClipboardRequest request;
        struct { uint8_t selection; } release, abort;
        struct { uint8_t selection; uint32_t type; uint64_t total; } begin;
        struct { uint8_t selection; const uint8_t *data; size_t len; } data;
        struct { bool connected; VdCaps caps; int32_t max_clipboard; } host_state;
        struct { bool active, locked; } session_state;
        struct { uint32_t request_id; VdMonitorsConfig config; } monitors;
        VdGraphicsDeviceInfo device_info;
        struct { uint32_t id; uint64_t size; uint32_t nr, total; char *name; } xfer_start;
        struct { uint32_t id; const uint8_t *data; size_t len; } xfer_data;
        struct { uint32_t id; uint32_t result; } xfer_cancel;
        struct { uint32_t request_id; uint32_t result; } monitors_result;
        VdLayout layout;
        VdFileXferStatus xfer_status;
        VdVolume volume;
        VdVolumeApplied volume_applied;
        VdDeviceMapReport device_map;
    } u;
} VdSessionMsg;

/* Strict decode of one frame's payload: every field checked (selection < VD_SELECTION_END, counts
 * bounded, enums in range, strings valid UTF-8), no trailing bytes. Returns 0 or -EBADMSG (*reason).
 * Unknown types are -EOPNOTSUPP, so a newer peer's additions can be told from garbage. */
int vd_session_msg_decode(uint16_t type, const uint8_t *payload, size_t len, VdSessionMsg *ret,
                          const char **reason);
/* Appends one whole frame. Returns 0 or -EMSGSIZE. */
int vd_session_msg_encode(GByteArray *out, const VdSessionMsg *msg);
void vd_session_msg_clear(VdSessionMsg *msg); /* NULL is fine */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VdSessionMsg, vd_session_msg_clear)

/* One line for vdagent-ctl's trace, the session-protocol counterpart of vd_message_summary(): the
 * decoded fields of a frame's payload, "(undecodable: reason)" for a frame the decoder refuses, ""
 * for a type without fields. Always NUL-terminates out (size >= 1); truncates to fit. */
void vd_session_msg_summary(uint32_t type, const uint8_t *payload, size_t len, char *out, size_t size);
