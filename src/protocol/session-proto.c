/* SPDX-License-Identifier: GPL-3.0-or-later */
/* session-proto.c — encoding and strict decoding of the daemon <-> session agent messages.
 *
 * The layouts are in session-proto.h and docs/protocols.md. An encoder checks its own output with
 * the decoder, so we never send a frame the peer would refuse: a caller's bad value is -EINVAL here
 * instead of a dropped connection later.
 */
#include "session-proto.h"

#include <errno.h>
#include <string.h>

#include "ipc-fields.h"

const char *vd_session_msg_type_to_string(uint32_t type)
{
    switch (type) {
    case VD_IPC_HELLO: return "HELLO";
    case VD_IPC_ERROR: return "ERROR";
    case VD_S_CLIPBOARD_GRAB: return "CLIPBOARD_GRAB";
    case VD_S_CLIPBOARD_REQUEST: return "CLIPBOARD_REQUEST";
    case VD_S_CLIPBOARD_RELEASE: return "CLIPBOARD_RELEASE";
    case VD_S_CLIPBOARD_BEGIN: return "CLIPBOARD_BEGIN";
    case VD_S_CLIPBOARD_DATA: return "CLIPBOARD_DATA";
    case VD_S_CLIPBOARD_ABORT: return "CLIPBOARD_ABORT";
    case VD_S_HOST_STATE: return "HOST_STATE";
    case VD_S_SESSION_STATE: return "SESSION_STATE";
    case VD_S_MONITORS_CONFIG: return "MONITORS_CONFIG";
    case VD_S_DEVICE_INFO: return "DEVICE_INFO";
    case VD_S_XFER_START: return "XFER_START";
    case VD_S_XFER_DATA: return "XFER_DATA";
    case VD_S_XFER_CANCEL: return "XFER_CANCEL";
    case VD_S_MONITORS_RESULT: return "MONITORS_RESULT";
    case VD_S_LAYOUT: return "LAYOUT";
    case VD_S_XFER_STATUS: return "XFER_STATUS";
    case VD_S_VOLUME: return "VOLUME";
    case VD_S_VOLUME_APPLIED: return "VOLUME_APPLIED";
    case VD_S_DEVICE_MAP: return "DEVICE_MAP";
    default: return "UNKNOWN";
    }
}

const char *vd_session_feature_to_string(uint32_t bit)
{
    switch (bit) {
    case VD_SESSION_FEATURE_CLIPBOARD: return "clipboard";
    case VD_SESSION_FEATURE_MONITORS: return "monitors";
    case VD_SESSION_FEATURE_FILES: return "files";
    case VD_SESSION_FEATURE_LAYOUT: return "layout";
    case VD_SESSION_FEATURE_AUDIO: return "audio";
    case VD_SESSION_FEATURE_REPORTS: return "reports";
    default: return NULL;
    }
}

/* --- decoding --- */

static void get_selection(VdIpcCursor *c, uint8_t *ret)
{
    *ret = vd_ipc_get_u8(c);
    vd_ipc_check_selection(c, *ret);
}

static void get_clipboard_type(VdIpcCursor *c, uint32_t *ret)
{
    *ret = vd_ipc_get_u32(c);
    vd_ipc_check_clipboard_type(c, *ret);
}

/* A DATA piece: the rest of the frame, 1..VD_IPC_MAX_PIECE bytes. */
static const uint8_t *get_piece(VdIpcCursor *c, size_t *ret_len)
{
    const uint8_t *p = vd_ipc_get_rest(c, ret_len);

    if (!c->failed && (*ret_len == 0 || *ret_len > VD_IPC_MAX_PIECE))
        vd_ipc_cursor_fail(c, "data piece empty or above VD_IPC_MAX_PIECE");
    return p;
}

static void get_grab(VdIpcCursor *c, VdClipboardGrab *g)
{
    get_selection(c, &g->selection);
    g->n_types = vd_ipc_get_u32(c);
    if (!c->failed && g->n_types > VD_LIMIT_GRAB_TYPES) {
        vd_ipc_cursor_fail(c, "too many clipboard types in a grab");
        return;
    }
    for (uint32_t i = 0; i < g->n_types && !c->failed; i++)
        get_clipboard_type(c, &g->types[i]);
}

static void get_device_info(VdIpcCursor *c, VdGraphicsDeviceInfo *g)
{
    g->count = vd_ipc_get_u32(c);
    if (!c->failed && g->count > VD_LIMIT_DEVICE_INFO) {
        vd_ipc_cursor_fail(c, "too many device info entries");
        return;
    }
    for (uint32_t i = 0; i < g->count && !c->failed; i++) {
        VdDeviceDisplayInfo *e = &g->entries[i];
        e->channel_id = vd_ipc_get_u32(c);
        e->monitor_id = vd_ipc_get_u32(c);
        e->device_display_id = vd_ipc_get_u32(c);
        g_autofree char *address = vd_ipc_get_string(c, VD_LIMIT_DEVICE_ADDRESS - 1);
        if (address)
            memcpy(e->address, address, strlen(address) + 1);
    }
}

static void get_layout(VdIpcCursor *c, VdLayout *l)
{
    l->screen_width = vd_ipc_get_u32(c);
    l->screen_height = vd_ipc_get_u32(c);
    l->count = vd_ipc_get_u32(c);
    if (!c->failed && l->count > VD_IPC_MAX_DISPLAYS) {
        vd_ipc_cursor_fail(c, "too many displays in a layout");
        return;
    }
    for (uint32_t i = 0; i < l->count; i++) {
        VdDisplayRect *r = &l->displays[i];
        r->display_id = vd_ipc_get_u32(c);
        r->x = vd_ipc_get_i32(c);
        r->y = vd_ipc_get_i32(c);
        r->width = vd_ipc_get_u32(c);
        r->height = vd_ipc_get_u32(c);
    }
}

static void get_xfer_status(VdIpcCursor *c, VdFileXferStatus *s)
{
    s->id = vd_ipc_get_u32(c);
    s->result = vd_ipc_get_u32(c);
    s->has_detail = vd_ipc_get_bool(c);
    s->error_type = vd_ipc_get_u8(c);
    s->error_code = vd_ipc_get_u32(c);
    s->free_space = vd_ipc_get_u64(c);
    if (c->failed)
        return;
    if (s->result >= VD_XFER_END)
        vd_ipc_cursor_fail(c, "unknown file transfer result");
    else if (s->has_detail && s->result != VD_XFER_ERROR && s->result != VD_XFER_NOT_ENOUGH_SPACE)
        vd_ipc_cursor_fail(c, "file transfer detail for a result that has none");
    else if (s->has_detail && s->result == VD_XFER_ERROR && (s->error_type != VD_XFER_ERROR_GLIB_IO || s->free_space))
        vd_ipc_cursor_fail(c, "file transfer error detail malformed");
    else if (s->has_detail && s->result == VD_XFER_NOT_ENOUGH_SPACE && (s->error_type || s->error_code))
        vd_ipc_cursor_fail(c, "file transfer space detail malformed");
    else if (!s->has_detail && (s->error_type || s->error_code || s->free_space))
        vd_ipc_cursor_fail(c, "file transfer detail fields set without has_detail");
}

static void get_volume(VdIpcCursor *c, VdVolume *v)
{
    v->playback = vd_ipc_get_bool(c);
    v->mute = vd_ipc_get_bool(c);
    v->count = vd_ipc_get_u32(c);
    if (!c->failed && (v->count == 0 || v->count > VD_LIMIT_AUDIO_CHANNELS)) {
        vd_ipc_cursor_fail(c, "volume channel count not in 1..VD_LIMIT_AUDIO_CHANNELS");
        return;
    }
    for (uint32_t i = 0; i < v->count && !c->failed; i++)
        v->volume[i] = vd_ipc_get_u16(c);
}

static void get_device_map(VdIpcCursor *c, VdDeviceMapReport *m)
{
    m->count = vd_ipc_get_u32(c);
    if (!c->failed && m->count > VD_IPC_MAX_DISPLAYS) {
        vd_ipc_cursor_fail(c, "too many displays in a device map");
        return;
    }
    for (uint32_t i = 0; i < m->count && !c->failed; i++) {
        VdDeviceMapEntry *e = &m->entries[i];
        e->display_id = vd_ipc_get_u32(c);
        g_autofree char *name = vd_ipc_get_string(c, VD_IPC_MAX_OUTPUT_NAME);
        if (name)
            memcpy(e->output, name, strlen(name) + 1);
        e->from_device_info = vd_ipc_get_bool(c);
    }
}

static void get_body(VdIpcCursor *c, VdSessionMsg *m)
{
    switch (m->type) {
    case VD_IPC_HELLO:
        if (vd_ipc_get_hello(c, &m->u.hello) == 0 && m->u.hello.magic != VD_SESSION_MAGIC)
            vd_ipc_cursor_fail(c, "HELLO magic is not the session protocol's");
        break;
    case VD_IPC_ERROR:
        vd_ipc_get_error(c, &m->u.error);
        break;
    case VD_S_CLIPBOARD_GRAB:
        get_grab(c, &m->u.grab);
        break;
    case VD_S_CLIPBOARD_REQUEST:
        get_selection(c, &m->u.request.selection);
        get_clipboard_type(c, &m->u.request.type);
        break;
    case VD_S_CLIPBOARD_RELEASE:
        get_selection(c, &m->u.release.selection);
        break;
    case VD_S_CLIPBOARD_ABORT:
        get_selection(c, &m->u.abort.selection);
        break;
    case VD_S_CLIPBOARD_BEGIN:
        get_selection(c, &m->u.begin.selection);
        get_clipboard_type(c, &m->u.begin.type);
        m->u.begin.total = vd_ipc_get_u64(c);
        if (!c->failed && m->u.begin.total > VD_LIMIT_STREAMED_MESSAGE)
            vd_ipc_cursor_fail(c, "clipboard total above VD_LIMIT_STREAMED_MESSAGE");
        break;
    case VD_S_CLIPBOARD_DATA:
        get_selection(c, &m->u.data.selection);
        m->u.data.data = get_piece(c, &m->u.data.len);
        break;
    case VD_S_HOST_STATE:
        m->u.host_state.connected = vd_ipc_get_bool(c);
        vd_ipc_get_caps(c, &m->u.host_state.caps);
        m->u.host_state.max_clipboard = vd_ipc_get_i32(c);
        if (!c->failed && m->u.host_state.max_clipboard < -1)
            vd_ipc_cursor_fail(c, "max_clipboard below -1");
        break;
    case VD_S_SESSION_STATE:
        m->u.session_state.active = vd_ipc_get_bool(c);
        m->u.session_state.locked = vd_ipc_get_bool(c);
        break;
    case VD_S_MONITORS_CONFIG:
        m->u.monitors.request_id = vd_ipc_get_u32(c);
        vd_ipc_get_monitors(c, &m->u.monitors.config);
        break;
    case VD_S_DEVICE_INFO:
        get_device_info(c, &m->u.device_info);
        break;
    case VD_S_XFER_START:
        m->u.xfer_start.id = vd_ipc_get_u32(c);
        m->u.xfer_start.size = vd_ipc_get_u64(c);
        m->u.xfer_start.nr = vd_ipc_get_u32(c);
        m->u.xfer_start.total = vd_ipc_get_u32(c);
        m->u.xfer_start.name = vd_ipc_get_string(c, VD_LIMIT_XFER_NAME);
        if (!c->failed && m->u.xfer_start.name[0] == '\0')
            vd_ipc_cursor_fail(c, "empty file name");
        break;
    case VD_S_XFER_DATA:
        m->u.xfer_data.id = vd_ipc_get_u32(c);
        m->u.xfer_data.data = get_piece(c, &m->u.xfer_data.len);
        break;
    case VD_S_XFER_CANCEL:
        m->u.xfer_cancel.id = vd_ipc_get_u32(c);
        m->u.xfer_cancel.result = vd_ipc_get_u32(c);
        if (!c->failed && (m->u.xfer_cancel.result >= VD_XFER_END ||
                           m->u.xfer_cancel.result == VD_XFER_CAN_SEND_DATA ||
                           m->u.xfer_cancel.result == VD_XFER_SUCCESS))
            vd_ipc_cursor_fail(c, "file transfer cancel reason is not a failure");
        break;
    case VD_S_MONITORS_RESULT:
        m->u.monitors_result.request_id = vd_ipc_get_u32(c);
        m->u.monitors_result.result = vd_ipc_get_u32(c);
        if (!c->failed && m->u.monitors_result.result != VD_REPLY_SUCCESS &&
            m->u.monitors_result.result != VD_REPLY_ERROR)
            vd_ipc_cursor_fail(c, "monitors result is neither SUCCESS nor ERROR");
        break;
    case VD_S_LAYOUT:
        get_layout(c, &m->u.layout);
        break;
    case VD_S_XFER_STATUS:
        get_xfer_status(c, &m->u.xfer_status);
        break;
    case VD_S_VOLUME:
        get_volume(c, &m->u.volume);
        break;
    case VD_S_VOLUME_APPLIED:
        get_volume(c, &m->u.volume_applied.volume);
        m->u.volume_applied.backend = vd_ipc_get_string(c, VD_IPC_MAX_AUDIO_BACKEND);
        m->u.volume_applied.error = vd_ipc_get_string(c, VD_IPC_MAX_AUDIO_ERROR);
        break;
    case VD_S_DEVICE_MAP:
        get_device_map(c, &m->u.device_map);
        break;
    default:
        g_assert_not_reached();
    }
}

static bool type_known(uint16_t type)
{
    return !g_str_equal(vd_session_msg_type_to_string(type), "UNKNOWN");
}

int vd_session_msg_decode(uint16_t type, const uint8_t *payload, size_t len, VdSessionMsg *ret,
                          const char **reason)
{
    g_return_val_if_fail((payload || len == 0) && ret, -EINVAL);
    VdSessionMsg m = { .type = type };
    VdIpcCursor c;
    int r;

    if (!type_known(type)) {
        if (reason)
            *reason = "unknown session message type";
        return -EOPNOTSUPP;
    }
    vd_ipc_cursor_init(&c, payload, len);
    get_body(&c, &m);
    r = vd_ipc_cursor_finish(&c, reason);
    if (r < 0) {
        vd_session_msg_clear(&m);
        return r;
    }
    *ret = m;
    return 0;
}

void vd_session_msg_clear(VdSessionMsg *msg)
{
    if (!msg)
        return;
    switch (msg->type) {
    case VD_IPC_HELLO:
        vd_ipc_hello_clear(&msg->u.hello);
        break;
    case VD_IPC_ERROR:
        vd_ipc_error_clear(&msg->u.error);
        break;
    case VD_S_XFER_START:
        g_free(msg->u.xfer_start.name);
        break;
    case VD_S_VOLUME_APPLIED:
        g_free(msg->u.volume_applied.backend);
        g_free(msg->u.volume_applied.error);
        break;
    default:
        break;
    }
    memset(msg, 0, sizeof(*msg));
}

/* --- encoding --- */

static int put_volume(GByteArray *out, const VdVolume *v)
{
    if (v->count > VD_LIMIT_AUDIO_CHANNELS)
        return -EINVAL;
    vd_ipc_put_u8(out, v->playback);
    vd_ipc_put_u8(out, v->mute);
    vd_ipc_put_u32(out, v->count);
    for (uint32_t i = 0; i < v->count; i++)
        vd_ipc_put_u16(out, v->volume[i]);
    return 0;
}

/* Writes the payload of msg; -EINVAL if a count would read past its array, -EOPNOTSUPP for an
 * unknown type. */
static int put_body(GByteArray *out, const VdSessionMsg *m)
{
    switch (m->type) {
    case VD_IPC_HELLO:
        vd_ipc_put_hello(out, &m->u.hello);
        return 0;
    case VD_IPC_ERROR:
        vd_ipc_put_error(out, &m->u.error);
        return 0;
    case VD_S_CLIPBOARD_GRAB:
        if (m->u.grab.n_types > VD_LIMIT_GRAB_TYPES)
            return -EINVAL;
        vd_ipc_put_u8(out, m->u.grab.selection);
        vd_ipc_put_u32(out, m->u.grab.n_types);
        for (uint32_t i = 0; i < m->u.grab.n_types; i++)
            vd_ipc_put_u32(out, m->u.grab.types[i]);
        return 0;
    case VD_S_CLIPBOARD_REQUEST:
        vd_ipc_put_u8(out, m->u.request.selection);
        vd_ipc_put_u32(out, m->u.request.type);
        return 0;
    case VD_S_CLIPBOARD_RELEASE:
        vd_ipc_put_u8(out, m->u.release.selection);
        return 0;
    case VD_S_CLIPBOARD_ABORT:
        vd_ipc_put_u8(out, m->u.abort.selection);
        return 0;
    case VD_S_CLIPBOARD_BEGIN:
        vd_ipc_put_u8(out, m->u.begin.selection);
        vd_ipc_put_u32(out, m->u.begin.type);
        vd_ipc_put_u64(out, m->u.begin.total);
        return 0;
    case VD_S_CLIPBOARD_DATA:
        if (m->u.data.len > VD_IPC_MAX_PIECE)
            return -EMSGSIZE;
        vd_ipc_put_u8(out, m->u.data.selection);
        if (m->u.data.len)
            g_byte_array_append(out, m->u.data.data, (guint)m->u.data.len);
        return 0;
    case VD_S_HOST_STATE:
        vd_ipc_put_u8(out, m->u.host_state.connected);
        vd_ipc_put_caps(out, &m->u.host_state.caps);
        vd_ipc_put_i32(out, m->u.host_state.max_clipboard);
        return 0;
    case VD_S_SESSION_STATE:
        vd_ipc_put_u8(out, m->u.session_state.active);
        vd_ipc_put_u8(out, m->u.session_state.locked);
        return 0;
    case VD_S_MONITORS_CONFIG:
        vd_ipc_put_u32(out, m->u.monitors.request_id);
        return vd_ipc_put_monitors(out, &m->u.monitors.config);
    case VD_S_DEVICE_INFO:
        if (m->u.device_info.count > VD_LIMIT_DEVICE_INFO)
            return -EINVAL;
        vd_ipc_put_u32(out, m->u.device_info.count);
        for (uint32_t i = 0; i < m->u.device_info.count; i++) {
            const VdDeviceDisplayInfo *e = &m->u.device_info.entries[i];
            if (!memchr(e->address, '\0', sizeof(e->address)))
                return -EINVAL;
            vd_ipc_put_u32(out, e->channel_id);
            vd_ipc_put_u32(out, e->monitor_id);
            vd_ipc_put_u32(out, e->device_display_id);
            vd_ipc_put_string(out, e->address);
        }
        return 0;
    case VD_S_XFER_START:
        vd_ipc_put_u32(out, m->u.xfer_start.id);
        vd_ipc_put_u64(out, m->u.xfer_start.size);
        vd_ipc_put_u32(out, m->u.xfer_start.nr);
        vd_ipc_put_u32(out, m->u.xfer_start.total);
        vd_ipc_put_string(out, m->u.xfer_start.name);
        return 0;
    case VD_S_XFER_DATA:
        if (m->u.xfer_data.len > VD_IPC_MAX_PIECE)
            return -EMSGSIZE;
        vd_ipc_put_u32(out, m->u.xfer_data.id);
        if (m->u.xfer_data.len)
            g_byte_array_append(out, m->u.xfer_data.data, (guint)m->u.xfer_data.len);
        return 0;
    case VD_S_XFER_CANCEL:
        vd_ipc_put_u32(out, m->u.xfer_cancel.id);
        vd_ipc_put_u32(out, m->u.xfer_cancel.result);
        return 0;
    case VD_S_MONITORS_RESULT:
        vd_ipc_put_u32(out, m->u.monitors_result.request_id);
        vd_ipc_put_u32(out, m->u.monitors_result.result);
        return 0;
    case VD_S_LAYOUT:
        if (m->u.layout.count > VD_IPC_MAX_DISPLAYS)
            return -EINVAL;
        vd_ipc_put_u32(out, m->u.layout.screen_width);
        vd_ipc_put_u32(out, m->u.layout.screen_height);
        vd_ipc_put_u32(out, m->u.layout.count);
        for (uint32_t i = 0; i < m->u.layout.count; i++) {
            const VdDisplayRect *r = &m->u.layout.displays[i];
            vd_ipc_put_u32(out, r->display_id);
            vd_ipc_put_i32(out, r->x);
            vd_ipc_put_i32(out, r->y);
            vd_ipc_put_u32(out, r->width);
            vd_ipc_put_u32(out, r->height);
        }
        return 0;
    case VD_S_XFER_STATUS: {
        const VdFileXferStatus *s = &m->u.xfer_status;
        vd_ipc_put_u32(out, s->id);
        vd_ipc_put_u32(out, s->result);
        vd_ipc_put_u8(out, s->has_detail);
        vd_ipc_put_u8(out, s->error_type);
        vd_ipc_put_u32(out, s->error_code);
        vd_ipc_put_u64(out, s->free_space);
        return 0;
    }
    case VD_S_VOLUME:
        return put_volume(out, &m->u.volume);
    case VD_S_VOLUME_APPLIED: {
        int r = put_volume(out, &m->u.volume_applied.volume);
        if (r < 0)
            return r;
        vd_ipc_put_string(out, m->u.volume_applied.backend ? m->u.volume_applied.backend : "");
        vd_ipc_put_string(out, m->u.volume_applied.error ? m->u.volume_applied.error : "");
        return 0;
    }
    case VD_S_DEVICE_MAP:
        if (m->u.device_map.count > VD_IPC_MAX_DISPLAYS)
            return -EINVAL;
        vd_ipc_put_u32(out, m->u.device_map.count);
        for (uint32_t i = 0; i < m->u.device_map.count; i++) {
            const VdDeviceMapEntry *e = &m->u.device_map.entries[i];
            if (!memchr(e->output, '\0', sizeof(e->output)))
                return -EINVAL;
            vd_ipc_put_u32(out, e->display_id);
            vd_ipc_put_string(out, e->output);
            vd_ipc_put_u8(out, e->from_device_info);
        }
        return 0;
    default:
        return -EOPNOTSUPP;
    }
}

static int put_body_any(GByteArray *out, const void *msg)
{
    return put_body(out, msg);
}

static bool accepts(uint16_t type, const uint8_t *payload, size_t len)
{
    VdSessionMsg check;
    if (vd_session_msg_decode(type, payload, len, &check, NULL) < 0)
        return false;
    vd_session_msg_clear(&check);
    return true;
}

int vd_session_msg_encode(GByteArray *out, const VdSessionMsg *msg)
{
    g_return_val_if_fail(out && msg, -EINVAL);
    return vd_ipc_encode_checked(out, msg->type, put_body_any, accepts, msg);
}

/* --- one-line summaries (vdagent-ctl trace) --- */

void vd_session_msg_summary(uint32_t type, const uint8_t *bytes, size_t len, char *out, size_t size)
{
    VdSessionMsg m = { 0 };
    const char *reason = NULL;
    if (!out || size == 0)
        return;
    if (type > UINT16_MAX) {
        g_snprintf(out, size, "(undecodable: type %u)", type);
        return;
    }
    if (vd_session_msg_decode((uint16_t)type, bytes, len, &m, &reason) < 0) {
        g_snprintf(out, size, "(undecodable: %s)", reason ? reason : "?");
        return;
    }
    switch (m.type) {
    case VD_S_CLIPBOARD_GRAB: {
        GString *s = g_string_new(vd_selection_to_string(m.u.grab.selection));
        for (uint32_t i = 0; i < m.u.grab.n_types; i++)
            g_string_append_printf(s, " %s", vd_clipboard_type_to_string(m.u.grab.types[i]));
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_S_CLIPBOARD_REQUEST:
        g_snprintf(out, size, "%s %s", vd_selection_to_string(m.u.request.selection),
                   vd_clipboard_type_to_string(m.u.request.type));
        break;
    case VD_S_CLIPBOARD_RELEASE:
    case VD_S_CLIPBOARD_ABORT:
        g_snprintf(out, size, "%s", vd_selection_to_string(m.u.release.selection));
        break;
    case VD_S_CLIPBOARD_BEGIN:
        g_snprintf(out, size, "%s %s total=%" G_GUINT64_FORMAT, vd_selection_to_string(m.u.begin.selection),
                   vd_clipboard_type_to_string(m.u.begin.type), m.u.begin.total);
        break;
    case VD_S_CLIPBOARD_DATA:
        g_snprintf(out, size, "%s %zu bytes", vd_selection_to_string(m.u.data.selection), m.u.data.len);
        break;
    case VD_S_HOST_STATE: {
        char caps[256];
        g_snprintf(out, size, "connected=%d max_clipboard=%d caps=%s", m.u.host_state.connected,
                   m.u.host_state.max_clipboard, vd_caps_to_string(&m.u.host_state.caps, caps, sizeof(caps)));
        break;
    }
    case VD_S_SESSION_STATE:
        g_snprintf(out, size, "active=%d locked=%d", m.u.session_state.active, m.u.session_state.locked);
        break;
    case VD_S_MONITORS_CONFIG: {
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "request=%u", m.u.monitors.request_id);
        for (uint32_t i = 0; i < m.u.monitors.config.count; i++) {
            const VdMonitor *mon = &m.u.monitors.config.monitors[i];
            g_string_append_printf(s, " %ux%u%+d%+d", mon->width, mon->height, mon->x, mon->y);
        }
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_S_MONITORS_RESULT:
        g_snprintf(out, size, "request=%u %s", m.u.monitors_result.request_id,
                   vd_reply_error_to_string(m.u.monitors_result.result));
        break;
    case VD_S_LAYOUT: {
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "screen=%ux%u", m.u.layout.screen_width, m.u.layout.screen_height);
        for (uint32_t i = 0; i < m.u.layout.count; i++) {
            const VdDisplayRect *d = &m.u.layout.displays[i];
            g_string_append_printf(s, " %u:%ux%u%+d%+d", d->display_id, d->width, d->height, d->x, d->y);
        }
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_S_DEVICE_INFO:
        g_snprintf(out, size, "%u entries", m.u.device_info.count);
        break;
    case VD_S_XFER_START:
        g_snprintf(out, size, "id=%u size=%" G_GUINT64_FORMAT " name=\"%s\"", m.u.xfer_start.id,
                   m.u.xfer_start.size, m.u.xfer_start.name);
        break;
    case VD_S_XFER_DATA:
        g_snprintf(out, size, "id=%u %zu bytes", m.u.xfer_data.id, m.u.xfer_data.len);
        break;
    case VD_S_XFER_CANCEL:
        g_snprintf(out, size, "id=%u %s", m.u.xfer_cancel.id, vd_xfer_result_to_string(m.u.xfer_cancel.result));
        break;
    case VD_S_XFER_STATUS:
        g_snprintf(out, size, "id=%u %s", m.u.xfer_status.id, vd_xfer_result_to_string(m.u.xfer_status.result));
        break;
    case VD_S_VOLUME:
    case VD_S_VOLUME_APPLIED: {
        const VdVolume *v = m.type == VD_S_VOLUME ? &m.u.volume : &m.u.volume_applied.volume;
        GString *s = g_string_new(v->playback ? "playback" : "record");
        for (uint32_t i = 0; i < v->count; i++)
            g_string_append_printf(s, "%s%u", i ? "," : " volume=", v->volume[i]);
        g_string_append_printf(s, " mute=%d", v->mute);
        if (m.type == VD_S_VOLUME_APPLIED)
            g_string_append_printf(s, " backend=%s%s%s", m.u.volume_applied.backend,
                                   m.u.volume_applied.error[0] ? " error=" : "", m.u.volume_applied.error);
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_S_DEVICE_MAP: {
        GString *s = g_string_new(NULL);
        for (uint32_t i = 0; i < m.u.device_map.count; i++) {
            const VdDeviceMapEntry *e = &m.u.device_map.entries[i];
            g_string_append_printf(s, "%s%u:%s(%s)", i ? " " : "", e->display_id, e->output,
                                   e->from_device_info ? "device-info" : "order");
        }
        g_strlcpy(out, s->str, size);
        g_string_free(s, TRUE);
        break;
    }
    case VD_IPC_HELLO:
        g_snprintf(out, size, "version %u.%u \"%s\"", m.u.hello.version_major, m.u.hello.version_minor,
                   m.u.hello.software ? m.u.hello.software : "");
        break;
    case VD_IPC_ERROR:
        g_snprintf(out, size, "%s \"%s\"", vd_ipc_error_code_to_string(m.u.error.code),
                   m.u.error.message ? m.u.error.message : "");
        break;
    default:
        out[0] = '\0';
    }
    vd_session_msg_clear(&m);
}
