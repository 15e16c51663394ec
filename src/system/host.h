/* SPDX-License-Identifier: GPL-3.0-or-later */
/* host.h — the link to the host over the port: capability negotiation, the chunk reader and
 * writer, and dispatch of what the host sends.
 *
 * On every open it announces our capabilities with request=1 (QEMU stays silent otherwise) and
 * answers every announcement that asks for ours; negotiated = ours ∩ the host's. Mouse events go
 * straight to their handler (the hot path); CLIENT_DISCONNECTED resets the client port's reassembly.
 * Every other message is decoded here by its parser in src/protocol (with the negotiated caps) and
 * handed on as a VdHostMsg; one its parser refuses is counted, logged (rate-limited) and reported as
 * a VdHostBadMsg. Streamed types (CLIPBOARD, FILE_XFER_DATA) pass through piece by piece after their
 * head is decoded (VdHostStream); a stream whose head is refused is skipped whole. Nothing past this
 * module reads the host's bytes, except the payload of streams. A framing error closes the port and
 * reopens it with backoff.
 *
 * Outgoing: whole messages (vd_host_send) or one streamed message at a time (vd_host_stream_*).
 * The wire cannot interleave messages, so whole messages sent during a stream wait (bounded by
 * VD_HOST_PENDING_MAX) until it ends. vd_host_inject() feeds a message through the same dispatch
 * as one read from the port (vdagent-ctl inject).
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "chunk-reader.h"
#include "trace.h"
#include "vd-messages.h"

typedef struct VdHost VdHost;

/* A whole message from the host, decoded. */
typedef struct {
    uint32_t type; /* VD_MSG_*: one of the members below */
    uint32_t port;
    union {
        VdMonitorsConfig monitors_config;
        VdDisplayConfig display_config;
        VdClipboardGrab clipboard_grab;
        VdClipboardRequest clipboard_request;
        uint8_t clipboard_release; /* the selection */
        VdFileXferStart file_xfer_start;
        VdFileXferStatus file_xfer_status;
        int32_t max_clipboard;
        VdAudioVolumeSync audio_volume_sync;
        VdGraphicsDeviceInfo graphics_device_info;
    } u;
} VdHostMsg;

/* A message of one of those types that its parser refused (already counted and logged). */
typedef struct {
    uint32_t type;
    const char *reason;
    bool has_xfer_id; /* FILE_XFER_START long enough to name its transfer */
    uint32_t xfer_id;
} VdHostBadMsg;

/* A streamed message, in order: BEGIN (head decoded), DATA…, END. */
typedef enum {
    VD_HOST_STREAM_BEGIN,
    VD_HOST_STREAM_DATA,
    VD_HOST_STREAM_END,
} VdHostStreamKind;

typedef struct {
    VdHostStreamKind kind;
    uint32_t port;
    uint32_t type; /* VD_MSG_CLIPBOARD or VD_MSG_FILE_XFER_DATA */
    union {        /* BEGIN only */
        struct {
            uint8_t selection;
            uint32_t type;
            uint32_t total; /* the data's bytes, without the head */
        } clipboard;
        struct {
            uint32_t id;
            uint64_t size;
        } xfer;
    } u;
    const uint8_t *data; /* BEGIN, DATA: payload bytes after the head */
    size_t len;
} VdHostStream;

/* Whole messages queued behind a stream in progress. */
#define VD_HOST_PENDING_MAX (256u * 1024u)
/* Output queued for a host that does not read: past this, whole messages are dropped (producers
 * are paused long before, at VD_PORT_OUT_HIGH; this only bounds a misbehaving agent's grabs). */
#define VD_HOST_OUT_MAX (2u * 1024u * 1024u)

typedef struct {
    /* The port opened (true; caps not yet known) or closed (false). */
    void (*link)(bool open, void *user_data);
    /* The host announced its caps; new_client when it asked for ours (a new client: reset serials). */
    void (*caps)(bool new_client, void *user_data);
    void (*client_disconnected)(void *user_data);
    void (*mouse)(const VdMouseState *mouse, void *user_data);
    /* Called once after each batch of input (one read): flush what the batch produced. */
    void (*batch_end)(void *user_data);
    /* Any other whole message we act on, decoded; or one of those refused by its parser. */
    void (*message)(const VdHostMsg *msg, void *user_data);
    void (*bad_message)(const VdHostBadMsg *bad, void *user_data);
    /* Streamed messages: BEGIN, DATA…, END; cut (no END will come) when the port closed or the
     * client left mid-message. */
    void (*stream)(const VdHostStream *stream, void *user_data);
    void (*stream_cut)(uint32_t port, void *user_data);
    /* The output queue has room again (resume agents paused for backpressure). */
    void (*drained)(void *user_data);
} VdHostHandlers;

VdHost *vd_host_new(const char *port_path, const VdHostHandlers *handlers, void *user_data);
void vd_host_free(VdHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdHost, vd_host_free)
void vd_host_start(VdHost *host);

bool vd_host_connected(const VdHost *host);
/* What we announce; re-announced (request=0) when it changes while the port is open. */
void vd_host_set_our_caps(VdHost *host, const VdCaps *caps);
const VdCaps *vd_host_our_caps(const VdHost *host);
const VdCaps *vd_host_their_caps(const VdHost *host);
const VdCaps *vd_host_negotiated(const VdHost *host);
bool vd_host_has(const VdHost *host, uint32_t cap); /* negotiated */

/* Frames and queues one whole message. Returns 0, -ENOTCONN (port closed: dropped) or -ENOBUFS. */
int vd_host_send(VdHost *host, uint32_t type, const void *payload, uint32_t len);
/* One streamed message of size bytes. begin returns -EBUSY while another one is in progress. */
int vd_host_stream_begin(VdHost *host, uint32_t type, uint32_t size);
int vd_host_stream_write(VdHost *host, const void *data, size_t len);
bool vd_host_streaming(const VdHost *host);
/* A stream cannot be cut on the wire: closes and reopens the port (the host sees the agent leave). */
void vd_host_stream_abort(VdHost *host, const char *why);
/* Backpressure: true while the port's output queue is above its mark. */
bool vd_host_full(const VdHost *host);
void vd_host_set_reading(VdHost *host, bool reading);

/* Dispatches a message as if the host had sent it on port (whole messages only). */
void vd_host_inject(VdHost *host, uint32_t port, uint32_t type, const uint8_t *payload, size_t len);

void vd_host_set_trace(VdHost *host, VdTraceFunc func, void *user_data);

/* For `vdagent-ctl status` (docs/vdagent-ctl.md): members "port" {path, open, since, reopens,
 * last_error} and "caps" {ours, host, negotiated}; inside "counters", members "host_to_guest" and
 * "guest_to_host" keyed by message type. */
void vd_host_status(const VdHost *host, JsonBuilder *builder);
void vd_host_counters(const VdHost *host, JsonBuilder *builder);
uint64_t vd_host_framing_errors(const VdHost *host);
uint64_t vd_host_bad_messages(const VdHost *host); /* well framed, but refused by its parser */
uint64_t vd_host_unknown_types(const VdHost *host); /* well framed, of a type we do not know: skipped */
const char *vd_host_port_path(const VdHost *host);
uint64_t vd_host_messages_in(const VdHost *host);
uint64_t vd_host_messages_out(const VdHost *host);
uint64_t vd_host_bytes_in(const VdHost *host);
uint64_t vd_host_bytes_out(const VdHost *host);
unsigned vd_host_opens(const VdHost *host);
