/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ipc-fields.c — field groups shared by the session and control protocols. */
#include "ipc-fields.h"

#include <errno.h>
#include <string.h>

int vd_ipc_put_monitors(GByteArray *out, const VdMonitorsConfig *c)
{
    if (c->count == 0 || c->count > VD_LIMIT_MONITORS)
        return -EINVAL;
    vd_ipc_put_u32(out, c->flags);
    vd_ipc_put_u32(out, c->count);
    for (uint32_t i = 0; i < c->count; i++) {
        const VdMonitor *m = &c->monitors[i];
        vd_ipc_put_u32(out, m->width);
        vd_ipc_put_u32(out, m->height);
        vd_ipc_put_u32(out, m->depth);
        vd_ipc_put_i32(out, m->x);
        vd_ipc_put_i32(out, m->y);
        vd_ipc_put_u16(out, m->mm_width);
        vd_ipc_put_u16(out, m->mm_height);
    }
    return 0;
}

void vd_ipc_get_monitors(VdIpcCursor *c, VdMonitorsConfig *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->flags = vd_ipc_get_u32(c);
    ret->count = vd_ipc_get_u32(c);
    if (c->failed)
        return;
    if (ret->flags & ~(uint32_t)VD_IPC_MONITORS_FLAGS) {
        vd_ipc_cursor_fail(c, "unknown monitors config flags");
        return;
    }
    if (ret->count == 0 || ret->count > VD_LIMIT_MONITORS) {
        vd_ipc_cursor_fail(c, "monitor count out of range");
        return;
    }
    for (uint32_t i = 0; i < ret->count; i++) {
        VdMonitor *m = &ret->monitors[i];
        m->width = vd_ipc_get_u32(c);
        m->height = vd_ipc_get_u32(c);
        m->depth = vd_ipc_get_u32(c);
        m->x = vd_ipc_get_i32(c);
        m->y = vd_ipc_get_i32(c);
        m->mm_width = vd_ipc_get_u16(c);
        m->mm_height = vd_ipc_get_u16(c);
    }
}

char *vd_ipc_get_text(VdIpcCursor *c, uint32_t max)
{
    uint32_t len;
    const uint8_t *p = vd_ipc_get_blob(c, max, &len);

    if (!p)
        return NULL;
    if (memchr(p, '\0', len) || !g_utf8_validate_len((const char *)p, len, NULL)) {
        vd_ipc_cursor_fail(c, "text is not UTF-8 or contains NUL");
        return NULL;
    }
    return g_strndup((const char *)p, len);
}

void vd_ipc_check_selection(VdIpcCursor *c, uint8_t selection)
{
    if (!c->failed && selection >= VD_SELECTION_END)
        vd_ipc_cursor_fail(c, "unknown selection");
}

void vd_ipc_check_clipboard_type(VdIpcCursor *c, uint32_t type)
{
    if (!c->failed && (type == VD_CLIPBOARD_NONE || type >= VD_CLIPBOARD_END))
        vd_ipc_cursor_fail(c, "unknown clipboard type");
}

bool vd_ipc_get_bool(VdIpcCursor *c)
{
    uint8_t v = vd_ipc_get_u8(c);

    if (v > 1)
        vd_ipc_cursor_fail(c, "boolean field is neither 0 nor 1");
    return v == 1;
}
