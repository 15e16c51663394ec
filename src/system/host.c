/* SPDX-License-Identifier: GPL-3.0-or-later */
/* host.c — capability negotiation, reassembly and dispatch of the host's messages. */
#include "host.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "chunk-writer.h"
#include "control-proto.h"
#include "port.h"
#include "ratelimit.h"

struct VdHost {
    VdPort *port;
    VdHostHandlers h;
    void *user_data;
    VdChunkReader *reader;
    VdChunkWriter writer;
    uint32_t stream_type;
    uint32_t stream_size;
    GByteArray *pending;      /* framed whole messages waiting for the stream to end */
    bool streaming_in[3];     /* a streamed message is arriving on port 1/2 */
    bool skipping_in[3];      /* one whose head was refused: its pieces are dropped */
    VdLogLimit log;           /* lines the host's messages make us write */
    VdCaps ours, theirs, negotiated;
    bool caps_known;
    VdTraceFunc trace;
    void *trace_data;
    uint64_t messages_in, messages_out;
    /* Per message type (index VD_MSG_END: unknown types), for status. */
    uint64_t count_in[VD_MSG_END + 1], bytes_in[VD_MSG_END + 1];
    uint64_t count_out[VD_MSG_END + 1], bytes_out[VD_MSG_END + 1];
    uint64_t framing_errors, bad_messages, unknown_types;
};

static void count(uint64_t *counts, uint64_t *bytes, uint32_t type, uint64_t size)
{
    uint32_t i = type < VD_MSG_END ? type : VD_MSG_END;
    counts[i]++;
    bytes[i] += size;
}

static void announce(VdHost *host, bool request)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();
    vd_build_announce_caps(payload, request, &host->ours);
    vd_host_send(host, VD_MSG_ANNOUNCE_CAPABILITIES, payload->data, payload->len);
}

static void cut_stream(VdHost *host, uint32_t port)
{
    host->skipping_in[port] = false;
    if (!host->streaming_in[port])
        return;
    host->streaming_in[port] = false;
    if (host->h.stream_cut)
        host->h.stream_cut(port, host->user_data);
}

static void on_opened(void *user_data)
{
    VdHost *host = user_data;
    vd_chunk_reader_reset(host->reader);
    vd_chunk_writer_init(&host->writer);
    g_byte_array_set_size(host->pending, 0);
    memset(&host->theirs, 0, sizeof(host->theirs));
    memset(&host->negotiated, 0, sizeof(host->negotiated));
    host->caps_known = false;
    if (host->h.link)
        host->h.link(true, host->user_data);
    /* QEMU's qemu-vdagent answers only an announcement with request=1, on every open. */
    announce(host, true);
}

static void on_closed(const char *why, void *user_data)
{
    VdHost *host = user_data;
    g_message("host link down: %s", why);
    cut_stream(host, VD_PORT_CLIENT);
    cut_stream(host, VD_PORT_SERVER);
    vd_chunk_reader_reset(host->reader);
    vd_chunk_writer_reset(&host->writer);
    g_byte_array_set_size(host->pending, 0);
    memset(&host->theirs, 0, sizeof(host->theirs));
    memset(&host->negotiated, 0, sizeof(host->negotiated));
    host->caps_known = false;
    if (host->h.link)
        host->h.link(false, host->user_data);
}

static void handle_caps(VdHost *host, const uint8_t *buf, size_t len)
{
    VdAnnounceCaps caps;
    const char *reason = NULL;
    if (vd_parse_announce_caps(buf, len, &caps, &reason) < 0) {
        host->bad_messages++;
        g_warning("host: ignoring a malformed ANNOUNCE_CAPABILITIES: %s", reason);
        return;
    }
    host->theirs = caps.caps;
    host->caps_known = true;
    vd_caps_intersect(&host->ours, &host->theirs, &host->negotiated);
    char a[256], b[256];
    g_message("host caps %s (request=%u); negotiated %s", vd_caps_to_string(&host->theirs, a, sizeof(a)),
              caps.request, vd_caps_to_string(&host->negotiated, b, sizeof(b)));
    if (caps.request)
        announce(host, false);
    if (host->h.caps)
        host->h.caps(caps.request != 0, host->user_data);
}

/* Decodes a message the router acts on; a refused one is counted, logged and reported. */
static void dispatch_typed(VdHost *host, uint32_t port, uint32_t type, const uint8_t *buf, size_t len)
{
    g_autofree VdHostMsg *m = g_new0(VdHostMsg, 1); /* the union is ~9 KiB (device info) */
    const VdCaps *neg = &host->negotiated;
    const char *reason = NULL;
    int r;

    m->type = type;
    m->port = port;
    switch (type) {
    case VD_MSG_MONITORS_CONFIG:
        r = vd_parse_monitors_config(buf, len, &m->u.monitors_config, &reason);
        break;
    case VD_MSG_DISPLAY_CONFIG:
        r = vd_parse_display_config(buf, len, &m->u.display_config, &reason);
        break;
    case VD_MSG_CLIPBOARD_GRAB:
        r = vd_parse_clipboard_grab(buf, len, neg, &m->u.clipboard_grab, &reason);
        break;
    case VD_MSG_CLIPBOARD_REQUEST:
        r = vd_parse_clipboard_request(buf, len, neg, &m->u.clipboard_request, &reason);
        break;
    case VD_MSG_CLIPBOARD_RELEASE:
        r = vd_parse_clipboard_release(buf, len, neg, &m->u.clipboard_release, &reason);
        break;
    case VD_MSG_FILE_XFER_START:
        r = vd_parse_file_xfer_start(buf, len, &m->u.file_xfer_start, &reason);
        break;
    case VD_MSG_FILE_XFER_STATUS:
        r = vd_parse_file_xfer_status(buf, len, &m->u.file_xfer_status, &reason);
        break;
    case VD_MSG_MAX_CLIPBOARD:
        r = vd_parse_max_clipboard(buf, len, &m->u.max_clipboard, &reason);
        break;
    case VD_MSG_AUDIO_VOLUME_SYNC:
        r = vd_parse_audio_volume_sync(buf, len, &m->u.audio_volume_sync, &reason);
        break;
    case VD_MSG_GRAPHICS_DEVICE_INFO:
        r = vd_parse_graphics_device_info(buf, len, &m->u.graphics_device_info, &reason);
        break;
    case VD_MSG_CLIPBOARD:
    case VD_MSG_FILE_XFER_DATA:
        /* The reader streams these; whole ones would mean it is configured otherwise. */
        vd_limited_warning(&host->log, "unexpected whole", "host: unexpected whole %s", vd_msg_type_to_string(type));
        return;
    default:
        g_debug("host: ignoring %s (%zu bytes)", vd_msg_type_to_string(type), len);
        return;
    }
    if (r < 0) {
        host->bad_messages++;
        vd_limited_warning(&host->log, vd_msg_type_to_string(type), "host: ignoring a malformed %s: %s",
                           vd_msg_type_to_string(type), reason);
        VdHostBadMsg bad = { .type = type, .reason = reason };
        if (type == VD_MSG_FILE_XFER_START)
            bad.has_xfer_id = vd_peek_file_xfer_id(buf, len, &bad.xfer_id) == 0;
        if (host->h.bad_message)
            host->h.bad_message(&bad, host->user_data);
        return;
    }
    host->h.message(m, host->user_data);
}

/* A streamed message's BEGIN: its head decoded, or the whole stream skipped. */
static void stream_begin(VdHost *host, const VdReadEvent *ev)
{
    VdHostStream s = { .kind = VD_HOST_STREAM_BEGIN, .port = ev->port, .type = ev->header.type };
    const char *reason = NULL;
    size_t consumed;
    int r;
    if (ev->header.type == VD_MSG_CLIPBOARD) {
        r = vd_parse_clipboard_head(ev->data, ev->len, ev->header.size, &host->negotiated, &s.u.clipboard.selection,
                                    &s.u.clipboard.type, &consumed, &reason);
        if (r == 0)
            s.u.clipboard.total = ev->header.size - (uint32_t)consumed;
    } else {
        r = vd_parse_file_xfer_data_head(ev->data, ev->len, ev->header.size, &s.u.xfer.id, &s.u.xfer.size, &reason);
        consumed = VD_FILE_XFER_DATA_HEAD;
    }
    if (r < 0) {
        host->bad_messages++;
        vd_limited_warning(&host->log, vd_msg_type_to_string(ev->header.type), "host: ignoring a malformed %s: %s",
                           vd_msg_type_to_string(ev->header.type), reason);
        host->skipping_in[ev->port] = true;
        return;
    }
    s.data = ev->data + consumed;
    s.len = ev->len - consumed;
    host->streaming_in[ev->port] = true;
    host->h.stream(&s, host->user_data);
}

static void dispatch_whole(VdHost *host, uint32_t port, uint32_t type, const uint8_t *buf, size_t len)
{
    host->messages_in++;
    count(host->count_in, host->bytes_in, type, len);
    if (G_UNLIKELY(host->trace))
        host->trace(VD_TRACE_HOST_TO_GUEST, port, type, len, "", buf, len, host->trace_data);
    switch (type) {
    case VD_MSG_MOUSE_STATE: {
        VdMouseState m;
        const char *reason = NULL;
        if (vd_parse_mouse_state(buf, len, &m, &reason) < 0) {
            host->bad_messages++;
            g_debug("host: ignoring a malformed MOUSE_STATE: %s", reason);
            return;
        }
        host->h.mouse(&m, host->user_data);
        return;
    }
    case VD_MSG_ANNOUNCE_CAPABILITIES:
        handle_caps(host, buf, len);
        return;
    case VD_MSG_CLIENT_DISCONNECTED: {
        const char *reason = NULL;
        if (vd_parse_client_disconnected(buf, len, &reason) < 0)
            g_warning("host: CLIENT_DISCONNECTED with a payload (%s); handled anyway", reason);
        g_message("host: the client disconnected");
        /* Whatever the client was sending on port 1 will never be completed. */
        cut_stream(host, VD_PORT_CLIENT);
        vd_chunk_reader_reset_port(host->reader, VD_PORT_CLIENT);
        if (host->h.client_disconnected)
            host->h.client_disconnected(host->user_data);
        return;
    }
    default:
        if (G_UNLIKELY(type == 0 || type >= VD_MSG_END)) {
            /* A newer host's message, or garbage: skipped (the wire allows new types). */
            host->unknown_types++;
            g_debug("host: skipping a message of unknown type %u (%zu bytes)", type, len);
            return;
        }
        dispatch_typed(host, port, type, buf, len);
        return;
    }
}

static int on_event(const VdReadEvent *ev, void *user_data)
{
    VdHost *host = user_data;
    switch (ev->kind) {
    case VD_READ_MESSAGE:
        dispatch_whole(host, ev->port, ev->header.type, ev->data, ev->len);
        break;
    case VD_READ_BEGIN:
        host->messages_in++;
        count(host->count_in, host->bytes_in, ev->header.type, ev->header.size);
        if (G_UNLIKELY(host->trace))
            host->trace(VD_TRACE_HOST_TO_GUEST, ev->port, ev->header.type, ev->header.size, "", ev->data, ev->len,
                        host->trace_data);
        stream_begin(host, ev);
        break;
    case VD_READ_DATA:
        if (host->streaming_in[ev->port]) {
            VdHostStream s = { .kind = VD_HOST_STREAM_DATA, .port = ev->port, .type = ev->header.type,
                               .data = ev->data, .len = ev->len };
            host->h.stream(&s, host->user_data);
        }
        break;
    case VD_READ_END:
        host->skipping_in[ev->port] = false;
        if (host->streaming_in[ev->port]) {
            host->streaming_in[ev->port] = false;
            VdHostStream s = { .kind = VD_HOST_STREAM_END, .port = ev->port, .type = ev->header.type };
            host->h.stream(&s, host->user_data);
        }
        break;
    }
    return 0;
}

static void on_data(const uint8_t *buf, size_t len, void *user_data)
{
    VdHost *host = user_data;
    VdReadError err;
    int r = vd_chunk_reader_feed(host->reader, buf, len, on_event, host, &err);
    if (host->h.batch_end)
        host->h.batch_end(host->user_data);
    if (r < 0) {
        host->framing_errors++;
        g_warning("host: framing error (%s): %s; reopening the port", vd_read_error_code_to_string(err.code),
                  err.message);
        vd_port_reset(host->port, "framing error", 0);
        return;
    }
    vd_port_healthy(host->port);
}

static void on_drained(void *user_data)
{
    VdHost *host = user_data;
    if (host->h.drained)
        host->h.drained(host->user_data);
}

VdHost *vd_host_new(const char *port_path, const VdHostHandlers *handlers, void *user_data)
{
    g_return_val_if_fail(handlers, NULL);
    VdHost *host = g_new0(VdHost, 1);
    host->h = *handlers;
    host->user_data = user_data;
    host->reader = vd_chunk_reader_new(NULL);
    host->pending = g_byte_array_new();
    vd_log_limit_init(&host->log, "host");
    vd_chunk_writer_init(&host->writer);
    static const VdPortCallbacks cb = {
        .opened = on_opened, .data = on_data, .closed = on_closed, .drained = on_drained };
    host->port = vd_port_new(port_path, &cb, host);
    return host;
}

void vd_host_free(VdHost *host)
{
    if (!host)
        return;
    vd_port_free(host->port);
    vd_log_limit_clear(&host->log);
    vd_chunk_reader_free(host->reader);
    g_byte_array_unref(host->pending);
    g_free(host);
}

void vd_host_start(VdHost *host)
{
    g_return_if_fail(host);
    vd_port_start(host->port);
}

bool vd_host_connected(const VdHost *host)
{
    g_return_val_if_fail(host, false);
    return vd_port_is_open(host->port);
}

void vd_host_set_our_caps(VdHost *host, const VdCaps *caps)
{
    g_return_if_fail(host && caps);
    if (memcmp(&host->ours, caps, sizeof(*caps)) == 0)
        return;
    host->ours = *caps;
    vd_caps_intersect(&host->ours, &host->theirs, &host->negotiated);
    if (vd_port_is_open(host->port))
        announce(host, false);
}

const VdCaps *vd_host_our_caps(const VdHost *host)
{
    g_return_val_if_fail(host, NULL);
    return &host->ours;
}

const VdCaps *vd_host_their_caps(const VdHost *host)
{
    g_return_val_if_fail(host, NULL);
    return &host->theirs;
}

const VdCaps *vd_host_negotiated(const VdHost *host)
{
    g_return_val_if_fail(host, NULL);
    return &host->negotiated;
}

bool vd_host_has(const VdHost *host, uint32_t cap)
{
    g_return_val_if_fail(host, false);
    return vd_caps_has(&host->negotiated, cap);
}

int vd_host_send(VdHost *host, uint32_t type, const void *payload, uint32_t len)
{
    if (!vd_port_is_open(host->port))
        return -ENOTCONN;
    if (G_UNLIKELY(host->trace))
        host->trace(VD_TRACE_GUEST_TO_HOST, VD_PORT_CLIENT, type, len, "", payload, len, host->trace_data);
    host->messages_out++;
    count(host->count_out, host->bytes_out, type, len);
    if (vd_chunk_writer_busy(&host->writer)) {
        if (host->pending->len + vd_framed_size(len) > VD_HOST_PENDING_MAX) {
            g_warning("host: %s dropped: %u bytes already wait behind a stream", vd_msg_type_to_string(type),
                      host->pending->len);
            return -ENOBUFS;
        }
        vd_frame_message(host->pending, type, payload, len);
        return 0;
    }
    if (vd_port_queued(host->port) + vd_framed_size(len) > VD_HOST_OUT_MAX) {
        g_warning("host: %s dropped: the host has not read %zu bytes", vd_msg_type_to_string(type),
                  vd_port_queued(host->port));
        return -ENOBUFS;
    }
    vd_frame_message(vd_port_out(host->port), type, payload, len);
    vd_port_flush(host->port);
    return 0;
}

int vd_host_stream_begin(VdHost *host, uint32_t type, uint32_t size)
{
    if (!vd_port_is_open(host->port))
        return -ENOTCONN;
    if (vd_chunk_writer_busy(&host->writer))
        return -EBUSY;
    if (G_UNLIKELY(host->trace))
        host->trace(VD_TRACE_GUEST_TO_HOST, VD_PORT_CLIENT, type, size, "", NULL, 0, host->trace_data);
    host->messages_out++;
    count(host->count_out, host->bytes_out, type, size);
    int r = vd_chunk_writer_begin(&host->writer, vd_port_out(host->port), type, size);
    if (r < 0)
        return r;
    vd_port_flush(host->port);
    return 0;
}

int vd_host_stream_write(VdHost *host, const void *data, size_t len)
{
    if (!vd_port_is_open(host->port))
        return -ENOTCONN;
    int r = vd_chunk_writer_write(&host->writer, vd_port_out(host->port), data, len);
    if (r < 0)
        return r;
    if (!vd_chunk_writer_busy(&host->writer) && host->pending->len) {
        g_byte_array_append(vd_port_out(host->port), host->pending->data, host->pending->len);
        g_byte_array_set_size(host->pending, 0);
    }
    vd_port_flush(host->port);
    return 0;
}

bool vd_host_streaming(const VdHost *host)
{
    g_return_val_if_fail(host, false);
    return vd_chunk_writer_busy(&host->writer);
}

void vd_host_stream_abort(VdHost *host, const char *why)
{
    if (!vd_chunk_writer_busy(&host->writer))
        return;
    g_autofree char *msg = g_strdup_printf("a message to the host cannot be completed (%s)", why);
    vd_port_reset(host->port, msg, VD_PORT_BACKOFF_MIN_MS);
}

bool vd_host_full(const VdHost *host)
{
    g_return_val_if_fail(host, false);
    return vd_port_full(host->port);
}

void vd_host_set_reading(VdHost *host, bool reading)
{
    g_return_if_fail(host);
    vd_port_set_reading(host->port, reading);
}

void vd_host_inject(VdHost *host, uint32_t port, uint32_t type, const uint8_t *payload, size_t len)
{
    g_return_if_fail(host);
    dispatch_whole(host, port, type, payload, len);
    if (host->h.batch_end)
        host->h.batch_end(host->user_data);
}

void vd_host_set_trace(VdHost *host, VdTraceFunc func, void *user_data)
{
    g_return_if_fail(host);
    host->trace = func;
    host->trace_data = user_data;
}

const char *vd_host_port_path(const VdHost *host)
{
    g_return_val_if_fail(host, NULL);
    return vd_port_path(host->port);
}

uint64_t vd_host_messages_in(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return host->messages_in;
}

uint64_t vd_host_messages_out(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return host->messages_out;
}

uint64_t vd_host_bytes_in(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return vd_port_bytes_in(host->port);
}

uint64_t vd_host_bytes_out(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return vd_port_bytes_out(host->port);
}

unsigned vd_host_opens(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return vd_port_opens(host->port);
}

static void add_caps(JsonBuilder *b, const char *name, const VdCaps *caps)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_array(b);
    for (uint32_t cap = 0; cap < 32u * VD_CAPS_MAX_WORDS; cap++) {
        if (!vd_caps_has(caps, cap))
            continue;
        if (cap < VD_CAP_END) {
            json_builder_add_string_value(b, vd_cap_to_string(cap));
        } else {
            char num[16];
            g_snprintf(num, sizeof(num), "%u", cap);
            json_builder_add_string_value(b, num);
        }
    }
    json_builder_end_array(b);
}

void vd_host_status(const VdHost *host, JsonBuilder *b)
{
    g_return_if_fail(host && b);
    json_builder_set_member_name(b, "port");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "path");
    json_builder_add_string_value(b, vd_port_path(host->port));
    json_builder_set_member_name(b, "open");
    json_builder_add_boolean_value(b, vd_port_is_open(host->port));
    json_builder_set_member_name(b, "since");
    /* null until the port first opens or fails after an open: no epoch dates for "never". */
    if (vd_port_since(host->port) > 0)
        json_builder_add_double_value(b, (double)vd_port_since(host->port) / 1e6);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "reopens");
    unsigned opens = vd_port_opens(host->port);
    json_builder_add_int_value(b, opens ? opens - 1 : 0);
    json_builder_set_member_name(b, "last_error");
    if (vd_port_last_error(host->port))
        json_builder_add_string_value(b, vd_port_last_error(host->port));
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "caps");
    json_builder_begin_object(b);
    add_caps(b, "ours", &host->ours);
    add_caps(b, "host", &host->theirs);
    add_caps(b, "negotiated", &host->negotiated);
    json_builder_end_object(b);
}

static void add_counters(JsonBuilder *b, const char *name, const uint64_t *counts, const uint64_t *bytes)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    for (uint32_t t = 0; t <= VD_MSG_END; t++) {
        if (!counts[t])
            continue;
        json_builder_set_member_name(b, t < VD_MSG_END ? vd_msg_type_to_string(t) : "UNKNOWN");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "messages");
        json_builder_add_int_value(b, (gint64)counts[t]);
        json_builder_set_member_name(b, "bytes");
        json_builder_add_int_value(b, (gint64)bytes[t]);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
}

void vd_host_counters(const VdHost *host, JsonBuilder *b)
{
    g_return_if_fail(host && b);
    add_counters(b, "host_to_guest", host->count_in, host->bytes_in);
    add_counters(b, "guest_to_host", host->count_out, host->bytes_out);
}

uint64_t vd_host_unknown_types(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return host->unknown_types;
}

uint64_t vd_host_framing_errors(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return host->framing_errors;
}

uint64_t vd_host_bad_messages(const VdHost *host)
{
    g_return_val_if_fail(host, 0);
    return host->bad_messages;
}
