/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control-proto.h — the daemon <-> vdagent-ctl protocol (docs/protocols.md, "Control protocol").
 *
 * Over the root-only control socket, framed by ipc.h. Both sides start with HELLO (magic
 * VD_CONTROL_MAGIC). Requests are answered in order by exactly one reply (RESULT, STATUS, CLIPBOARD
 * or ERROR), except MONITOR, after which the daemon streams TRACE frames until the client leaves.
 * Status travels as a JSON document whose shape is documented in docs/vdagent-ctl.md.
 */
#pragma once

#include "ipc.h"
#include "vd-messages.h"

#define VD_CONTROL_MAGIC 0x43474456u /* "VDGC" */
#define VD_CONTROL_VERSION_MAJOR 1
#define VD_CONTROL_VERSION_MINOR 0

/* Largest status document, and how much of a message a TRACE frame carries. */
#define VD_CONTROL_MAX_JSON (VD_IPC_MAX_PAYLOAD - 16u)
#define VD_CONTROL_TRACE_BYTES 1024u

typedef enum {
    /* ctl -> daemon */
    VD_C_STATUS = 16,          /* (empty) -> STATUS_REPLY */
    VD_C_MONITOR = 17,         /* with_bytes u8 -> RESULT, then TRACE frames */
    VD_C_INJECT_MOUSE = 18,    /* x u32, y u32, buttons u32, display u8 -> RESULT */
    VD_C_INJECT_MONITORS = 19, /* flags u32, n u32, n x monitor -> RESULT */
    VD_C_CLIPBOARD_SET = 20,   /* selection u8, type u32, data blob -> RESULT */
    VD_C_CLIPBOARD_GET = 21,   /* selection u8, type u32 -> CLIPBOARD_REPLY or ERROR */
    /* daemon -> ctl */
    VD_C_RESULT = 32,          /* code u32 (0 = ok, else VdIpcErrorCode), message string */
    VD_C_STATUS_REPLY = 33,    /* json string (<= VD_CONTROL_MAX_JSON) */
    VD_C_TRACE = 34,           /* see VdTrace */
    VD_C_CLIPBOARD_REPLY = 35, /* selection u8, type u32, data blob */
} VdControlMsgType;

const char *vd_control_msg_type_to_string(uint32_t type);

/* Where a traced message travelled. */
typedef enum {
    VD_TRACE_HOST_TO_GUEST = 0, /* read from the virtio port */
    VD_TRACE_GUEST_TO_HOST = 1, /* written to the virtio port */
    VD_TRACE_TO_AGENT = 2,      /* daemon -> session agent */
    VD_TRACE_FROM_AGENT = 3,    /* session agent -> daemon */
    VD_TRACE_END,
} VdTraceDirection;
const char *vd_trace_direction_to_string(uint32_t dir);

typedef struct {
    uint64_t time_us;      /* CLOCK_REALTIME, microseconds */
    uint8_t direction;     /* VdTraceDirection */
    uint8_t port;          /* chunk port for host traffic, 0 for agents */
    uint32_t type;         /* VdMsgType for host traffic, VdSessionMsgType for agents */
    uint64_t size;         /* payload size of the whole message */
    char *peer;            /* session id for agent traffic, "" otherwise */
    char *summary;         /* decoded one-liner */
    const uint8_t *bytes;  /* first <= VD_CONTROL_TRACE_BYTES bytes of the payload, if asked for */
    uint32_t n_bytes;
} VdTrace;

typedef struct {
    uint16_t type;
    union {
        VdIpcHello hello;
        VdIpcError error;
        struct { bool with_bytes; } monitor;
        VdMouseState mouse;
        VdMonitorsConfig monitors;
        struct { uint8_t selection; uint32_t type; const uint8_t *data; uint32_t len; } clipboard; /* SET, REPLY */
        struct { uint8_t selection; uint32_t type; } clipboard_get;
        struct { uint32_t code; char *message; } result;
        struct { char *json; } status;
        VdTrace trace;
    } u;
} VdControlMsg;

/* Strict decode (as vd_session_msg_decode); -EOPNOTSUPP for unknown types. */
int vd_control_msg_decode(uint16_t type, const uint8_t *payload, size_t len, VdControlMsg *ret,
                          const char **reason);
int vd_control_msg_encode(GByteArray *out, const VdControlMsg *msg);
void vd_control_msg_clear(VdControlMsg *msg); /* NULL is fine */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VdControlMsg, vd_control_msg_clear)
