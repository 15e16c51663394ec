/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control-proto.c — encoding and strict decoding of the daemon <-> vdagent-ctl messages.
 *
 * Layouts in control-proto.h and docs/protocols.md. As in session-proto.c, an encoder checks its
 * output with the decoder and returns -EINVAL rather than emit a frame the peer would refuse.
 */
#include "control-proto.h"

#include <errno.h>
#include <string.h>

#include "ipc-fields.h"

/* Every MOUSE_STATE button bit VDAgent defines. */
#define KNOWN_BUTTONS                                                                              \
    (VD_BUTTON_LEFT | VD_BUTTON_MIDDLE | VD_BUTTON_RIGHT | VD_BUTTON_WHEEL_UP |                    \
     VD_BUTTON_WHEEL_DOWN | VD_BUTTON_SIDE | VD_BUTTON_EXTRA)

const char *vd_control_msg_type_to_string(uint32_t type)
{
    switch (type) {
    case VD_IPC_HELLO: return "HELLO";
    case VD_IPC_ERROR: return "ERROR";
    case VD_C_STATUS: return "STATUS";
    case VD_C_MONITOR: return "MONITOR";
    case VD_C_INJECT_MOUSE: return "INJECT_MOUSE";
    case VD_C_INJECT_MONITORS: return "INJECT_MONITORS";
    case VD_C_CLIPBOARD_SET: return "CLIPBOARD_SET";
    case VD_C_CLIPBOARD_GET: return "CLIPBOARD_GET";
    case VD_C_RESULT: return "RESULT";
    case VD_C_STATUS_REPLY: return "STATUS_REPLY";
    case VD_C_TRACE: return "TRACE";
    case VD_C_CLIPBOARD_REPLY: return "CLIPBOARD_REPLY";
    default: return "UNKNOWN";
    }
}

const char *vd_trace_direction_to_string(uint32_t dir)
{
    switch (dir) {
    case VD_TRACE_HOST_TO_GUEST: return "HOST_TO_GUEST";
    case VD_TRACE_GUEST_TO_HOST: return "GUEST_TO_HOST";
    case VD_TRACE_TO_AGENT: return "TO_AGENT";
    case VD_TRACE_FROM_AGENT: return "FROM_AGENT";
    default: return "UNKNOWN";
    }
}

/* --- decoding --- */

static void get_selection_and_type(VdIpcCursor *c, uint8_t *ret_selection, uint32_t *ret_type)
{
    *ret_selection = vd_ipc_get_u8(c);
    vd_ipc_check_selection(c, *ret_selection);
    *ret_type = vd_ipc_get_u32(c);
    vd_ipc_check_clipboard_type(c, *ret_type);
}

static void get_trace(VdIpcCursor *c, VdTrace *t)
{
    t->time_us = vd_ipc_get_u64(c);
    t->direction = vd_ipc_get_u8(c);
    t->port = vd_ipc_get_u8(c);
    t->type = vd_ipc_get_u32(c);
    t->size = vd_ipc_get_u64(c);
    if (c->failed)
        return;
    if (t->direction >= VD_TRACE_END) {
        vd_ipc_cursor_fail(c, "unknown trace direction");
        return;
    }
    bool host = t->direction == VD_TRACE_HOST_TO_GUEST || t->direction == VD_TRACE_GUEST_TO_HOST;
    if (host ? (t->port != VD_PORT_CLIENT && t->port != VD_PORT_SERVER) : t->port != 0) {
        vd_ipc_cursor_fail(c, "trace port does not fit its direction");
        return;
    }
    t->peer = vd_ipc_get_string(c, VD_IPC_MAX_STRING);
    t->summary = vd_ipc_get_string(c, VD_IPC_MAX_STRING);
    t->bytes = vd_ipc_get_blob(c, VD_CONTROL_TRACE_BYTES, &t->n_bytes);
    if (!c->failed && t->n_bytes > t->size)
        vd_ipc_cursor_fail(c, "trace carries more bytes than the message has");
}

static void get_body(VdIpcCursor *c, VdControlMsg *m)
{
    switch (m->type) {
    case VD_IPC_HELLO:
        if (vd_ipc_get_hello(c, &m->u.hello) == 0 && m->u.hello.magic != VD_CONTROL_MAGIC)
            vd_ipc_cursor_fail(c, "HELLO magic is not the control protocol's");
        break;
    case VD_IPC_ERROR:
        vd_ipc_get_error(c, &m->u.error);
        break;
    case VD_C_STATUS:
        break;
    case VD_C_MONITOR:
        m->u.monitor.with_bytes = vd_ipc_get_bool(c);
        break;
    case VD_C_INJECT_MOUSE:
        m->u.mouse.x = vd_ipc_get_u32(c);
        m->u.mouse.y = vd_ipc_get_u32(c);
        m->u.mouse.buttons = vd_ipc_get_u32(c);
        m->u.mouse.display_id = vd_ipc_get_u8(c);
        if (!c->failed && (m->u.mouse.buttons & ~(uint32_t)KNOWN_BUTTONS))
            vd_ipc_cursor_fail(c, "unknown mouse button bits");
        break;
    case VD_C_INJECT_MONITORS:
        vd_ipc_get_monitors(c, &m->u.monitors);
        break;
    case VD_C_CLIPBOARD_SET:
    case VD_C_CLIPBOARD_REPLY:
        get_selection_and_type(c, &m->u.clipboard.selection, &m->u.clipboard.type);
        m->u.clipboard.data = vd_ipc_get_blob(c, VD_IPC_MAX_PIECE, &m->u.clipboard.len);
        break;
    case VD_C_CLIPBOARD_GET:
        get_selection_and_type(c, &m->u.clipboard_get.selection, &m->u.clipboard_get.type);
        break;
    case VD_C_RESULT:
        m->u.result.code = vd_ipc_get_u32(c);
        if (!c->failed && m->u.result.code >= VD_IPC_ERR_END)
            vd_ipc_cursor_fail(c, "unknown result code");
        m->u.result.message = vd_ipc_get_string(c, VD_IPC_MAX_STRING);
        break;
    case VD_C_STATUS_REPLY:
        m->u.status.json = vd_ipc_get_text(c, VD_CONTROL_MAX_JSON);
        break;
    case VD_C_TRACE:
        get_trace(c, &m->u.trace);
        break;
    default:
        g_assert_not_reached();
    }
}

int vd_control_msg_decode(uint16_t type, const uint8_t *payload, size_t len, VdControlMsg *ret,
                          const char **reason)
{
    g_return_val_if_fail((payload || len == 0) && ret, -EINVAL);
    VdControlMsg m = { .type = type };
    VdIpcCursor c;
    int r;

    if (g_str_equal(vd_control_msg_type_to_string(type), "UNKNOWN")) {
        if (reason)
            *reason = "unknown control message type";
        return -EOPNOTSUPP;
    }
    vd_ipc_cursor_init(&c, payload, len);
    get_body(&c, &m);
    r = vd_ipc_cursor_finish(&c, reason);
    if (r < 0) {
        vd_control_msg_clear(&m);
        return r;
    }
    *ret = m;
    return 0;
}

void vd_control_msg_clear(VdControlMsg *msg)
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
    case VD_C_RESULT:
        g_free(msg->u.result.message);
        break;
    case VD_C_STATUS_REPLY:
        g_free(msg->u.status.json);
        break;
    case VD_C_TRACE:
        g_free(msg->u.trace.peer);
        g_free(msg->u.trace.summary);
        break;
    default:
        break;
    }
    memset(msg, 0, sizeof(*msg));
}

/* --- encoding --- */

static int put_body(GByteArray *out, const VdControlMsg *m)
{
    switch (m->type) {
    case VD_IPC_HELLO:
        vd_ipc_put_hello(out, &m->u.hello);
        return 0;
    case VD_IPC_ERROR:
        vd_ipc_put_error(out, &m->u.error);
        return 0;
    case VD_C_STATUS:
        return 0;
    case VD_C_MONITOR:
        vd_ipc_put_u8(out, m->u.monitor.with_bytes);
        return 0;
    case VD_C_INJECT_MOUSE:
        vd_ipc_put_u32(out, m->u.mouse.x);
        vd_ipc_put_u32(out, m->u.mouse.y);
        vd_ipc_put_u32(out, m->u.mouse.buttons);
        vd_ipc_put_u8(out, m->u.mouse.display_id);
        return 0;
    case VD_C_INJECT_MONITORS:
        return vd_ipc_put_monitors(out, &m->u.monitors);
    case VD_C_CLIPBOARD_SET:
    case VD_C_CLIPBOARD_REPLY:
        if (m->u.clipboard.len > VD_IPC_MAX_PIECE)
            return -EMSGSIZE;
        vd_ipc_put_u8(out, m->u.clipboard.selection);
        vd_ipc_put_u32(out, m->u.clipboard.type);
        vd_ipc_put_blob(out, m->u.clipboard.data, m->u.clipboard.len);
        return 0;
    case VD_C_CLIPBOARD_GET:
        vd_ipc_put_u8(out, m->u.clipboard_get.selection);
        vd_ipc_put_u32(out, m->u.clipboard_get.type);
        return 0;
    case VD_C_RESULT:
        vd_ipc_put_u32(out, m->u.result.code);
        vd_ipc_put_string(out, m->u.result.message);
        return 0;
    case VD_C_STATUS_REPLY:
        if (m->u.status.json && strlen(m->u.status.json) > VD_CONTROL_MAX_JSON)
            return -EMSGSIZE;
        vd_ipc_put_string(out, m->u.status.json);
        return 0;
    case VD_C_TRACE: {
        const VdTrace *t = &m->u.trace;
        if (t->n_bytes > VD_CONTROL_TRACE_BYTES)
            return -EINVAL;
        vd_ipc_put_u64(out, t->time_us);
        vd_ipc_put_u8(out, t->direction);
        vd_ipc_put_u8(out, t->port);
        vd_ipc_put_u32(out, t->type);
        vd_ipc_put_u64(out, t->size);
        vd_ipc_put_string(out, t->peer);
        vd_ipc_put_string(out, t->summary);
        vd_ipc_put_blob(out, t->bytes, t->n_bytes);
        return 0;
    }
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
    VdControlMsg check;
    if (vd_control_msg_decode(type, payload, len, &check, NULL) < 0)
        return false;
    vd_control_msg_clear(&check);
    return true;
}

int vd_control_msg_encode(GByteArray *out, const VdControlMsg *msg)
{
    g_return_val_if_fail(out && msg, -EINVAL);
    return vd_ipc_encode_checked(out, msg->type, put_body_any, accepts, msg);
}
