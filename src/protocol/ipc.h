/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ipc.h — the framing and field encoding shared by our own two protocols (daemon <-> session agent,
 * daemon <-> vdagent-ctl). See docs/protocols.md for the tables.
 *
 * A frame is an 8-byte header — type u16, flags u16 (reserved, must be 0), size u32 — then size
 * bytes of payload, size <= VD_IPC_MAX_PAYLOAD. All integers little-endian. Fields are read through
 * a cursor that fails (sticky) on any short read; a decoder accepts a frame only if every byte
 * was consumed, so trailing garbage is an error, exactly like a short frame.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vd-limits.h"
#include "vd-proto.h"

#define VD_IPC_HEADER_SIZE 8u

/* Frame types common to both protocols. */
enum {
    VD_IPC_HELLO = 1,
    VD_IPC_ERROR = 2,
};

/* Codes of an ERROR frame. */
typedef enum {
    VD_IPC_ERR_NONE = 0,
    VD_IPC_ERR_VERSION = 1,    /* protocol major version differs: the sender closes */
    VD_IPC_ERR_PERMISSION = 2, /* peer not allowed (not the session owner, not root...) */
    VD_IPC_ERR_BAD_FRAME = 3,  /* malformed frame: the sender closes */
    VD_IPC_ERR_LIMIT = 4,      /* a limit was hit (connections, pending requests, transfers) */
    VD_IPC_ERR_NOT_ACTIVE = 5, /* the session is not the active one */
    VD_IPC_ERR_UNSUPPORTED = 6,/* unknown request type or feature */
    VD_IPC_ERR_NO_HOST = 7,    /* no host/client connected */
    VD_IPC_ERR_NO_AGENT = 8,   /* no session agent to serve the request */
    VD_IPC_ERR_TIMEOUT = 9,
    VD_IPC_ERR_INTERNAL = 10,
    VD_IPC_ERR_END,
} VdIpcErrorCode;
const char *vd_ipc_error_code_to_string(uint32_t code);

/* HELLO: the first frame each side sends. */
typedef struct {
    uint32_t magic;         /* VD_SESSION_MAGIC or VD_CONTROL_MAGIC */
    uint16_t version_major; /* must match exactly, else ERROR(VERSION) and close */
    uint16_t version_minor; /* informational: newer minors only add optional features */
    uint32_t features;      /* optional feature bits; used = intersection of both sides */
    char *software;         /* "vdagent 0.1.0", for logs */
} VdIpcHello;

typedef struct {
    uint32_t code; /* VdIpcErrorCode */
    char *message;
} VdIpcError;

/* --- building ---
 * vd_ipc_frame_begin() appends a header and returns its offset; vd_ipc_frame_end() patches the
 * size in, returning -EMSGSIZE (and removing the frame) if the payload exceeds max_payload. */
size_t vd_ipc_frame_begin(GByteArray *out, uint16_t type);
int vd_ipc_frame_end(GByteArray *out, size_t start, uint32_t max_payload);

/* One whole frame of type whose payload put_body() appends, checked with accepts() (the peer's own
 * decoder) before it is kept: nothing the peer would refuse is ever sent. Returns 0, or the
 * negative errno of put_body, -EMSGSIZE, or -EINVAL (refused by the check); on failure out is left
 * as it was. */
typedef int (*VdIpcPutBody)(GByteArray *out, const void *msg);
typedef bool (*VdIpcAccepts)(uint16_t type, const uint8_t *payload, size_t len);
int vd_ipc_encode_checked(GByteArray *out, uint16_t type, VdIpcPutBody put_body, VdIpcAccepts accepts,
                          const void *msg);
void vd_ipc_put_u8(GByteArray *out, uint8_t v);
void vd_ipc_put_u16(GByteArray *out, uint16_t v);
void vd_ipc_put_u32(GByteArray *out, uint32_t v);
void vd_ipc_put_i32(GByteArray *out, int32_t v);
void vd_ipc_put_u64(GByteArray *out, uint64_t v);
/* u32 length, then the bytes (no NUL). NULL is written as the empty string. */
void vd_ipc_put_string(GByteArray *out, const char *s);
/* u32 length, then the bytes. */
void vd_ipc_put_blob(GByteArray *out, const void *data, uint32_t len);
/* u32 count (<= VD_CAPS_MAX_WORDS), then the words. */
void vd_ipc_put_caps(GByteArray *out, const VdCaps *caps);

/* --- reading --- */
typedef struct {
    const uint8_t *p;
    size_t len, pos;
    bool failed;
    const char *reason; /* first failure, static */
} VdIpcCursor;
void vd_ipc_cursor_init(VdIpcCursor *c, const uint8_t *payload, size_t len);
uint8_t vd_ipc_get_u8(VdIpcCursor *c);
uint16_t vd_ipc_get_u16(VdIpcCursor *c);
uint32_t vd_ipc_get_u32(VdIpcCursor *c);
int32_t vd_ipc_get_i32(VdIpcCursor *c);
uint64_t vd_ipc_get_u64(VdIpcCursor *c);
/* A string of at most max bytes (<= VD_IPC_MAX_STRING), valid UTF-8, no NUL: g_malloc'ed, NUL-
 * terminated; NULL (and the cursor failed) otherwise. */
char *vd_ipc_get_string(VdIpcCursor *c, uint32_t max);
/* A blob of at most max bytes; points into the payload. */
const uint8_t *vd_ipc_get_blob(VdIpcCursor *c, uint32_t max, uint32_t *ret_len);
/* All that is left of the payload (may be empty); points into the payload. */
const uint8_t *vd_ipc_get_rest(VdIpcCursor *c, size_t *ret_len);
void vd_ipc_get_caps(VdIpcCursor *c, VdCaps *ret);
/* Marks the cursor failed with reason (for semantic checks: counts, enum ranges). */
void vd_ipc_cursor_fail(VdIpcCursor *c, const char *reason);
/* 0 if nothing failed and every byte was read, else -EBADMSG with *reason set. */
int vd_ipc_cursor_finish(VdIpcCursor *c, const char **reason);

/* Hello and error payloads, shared by both protocols. */
void vd_ipc_put_hello(GByteArray *out, const VdIpcHello *h);
int vd_ipc_get_hello(VdIpcCursor *c, VdIpcHello *ret);
void vd_ipc_hello_clear(VdIpcHello *h); /* NULL is fine */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VdIpcHello, vd_ipc_hello_clear)
void vd_ipc_put_error(GByteArray *out, const VdIpcError *e);
int vd_ipc_get_error(VdIpcCursor *c, VdIpcError *ret);
void vd_ipc_error_clear(VdIpcError *e); /* NULL is fine */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VdIpcError, vd_ipc_error_clear)

/* --- incremental frame decoding over a stream socket --- */
typedef struct VdIpcDecoder VdIpcDecoder;
/* Returns non-zero to stop the feed (-ECANCELED from feed). payload valid only during the call. */
typedef int (*VdIpcFrameCallback)(uint16_t type, const uint8_t *payload, size_t len, void *user_data);
VdIpcDecoder *vd_ipc_decoder_new(uint32_t max_payload);
void vd_ipc_decoder_free(VdIpcDecoder *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdIpcDecoder, vd_ipc_decoder_free)
/* Consumes buf; calls back once per complete frame. Returns 0, -EBADMSG for a bad header (flags
 * != 0, size > max; *reason set), or -ECANCELED when the callback stopped it (the rest of buf is
 * then dropped: callers stop to close). A bad header is sticky: every later feed fails too. */
int vd_ipc_decoder_feed(VdIpcDecoder *d, const uint8_t *buf, size_t len, VdIpcFrameCallback cb,
                        void *user_data, const char **reason);
/* Bytes of an incomplete frame held (0 at a frame boundary). */
size_t vd_ipc_decoder_pending(const VdIpcDecoder *d);
