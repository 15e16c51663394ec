/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-msg-display.c — the pointer and display messages: MOUSE_STATE, MONITORS_CONFIG, DISPLAY_CONFIG,
 * GRAPHICS_DEVICE_INFO. */
#include <string.h>

#include "vd-msg-private.h"

#define MON_CONFIG_SIZE 20u /* height, width, depth, x, y */
#define MONITOR_MM_SIZE 4u  /* height u16, width u16 */
#define MONITORS_HEAD_SIZE 8u
#define DISPLAY_CONFIG_SIZE 8u
#define DEVICE_INFO_HEAD_SIZE 4u
#define DEVICE_ENTRY_HEAD_SIZE 16u /* channel_id, monitor_id, device_display_id, address_len */

int vd_parse_mouse_state(const uint8_t *buf, size_t len, VdMouseState *ret, const char **reason)
{
    if (len != VD_MOUSE_STATE_SIZE)
        return vd_msg_fail(reason, "MOUSE_STATE is not 13 bytes");
    *ret = (VdMouseState){
        .x = vd_le32(buf),
        .y = vd_le32(buf + 4),
        .buttons = vd_le32(buf + 8),
        .display_id = buf[12],
    };
    return 0;
}

void vd_build_mouse_state(GByteArray *out, const VdMouseState *m)
{
    vd_msg_put_u32(out, m->x);
    vd_msg_put_u32(out, m->y);
    vd_msg_put_u32(out, m->buttons);
    vd_msg_put_u8(out, m->display_id);
}

int vd_parse_monitors_config(const uint8_t *buf, size_t len, VdMonitorsConfig *ret, const char **reason)
{
    uint32_t count, flags;
    size_t entry_size, mm_offset;

    if (len < MONITORS_HEAD_SIZE)
        return vd_msg_fail(reason, "MONITORS_CONFIG is shorter than its 8-byte head");
    count = vd_le32(buf);
    flags = vd_le32(buf + 4);
    if (count == 0)
        return vd_msg_fail(reason, "MONITORS_CONFIG has no monitors");
    if (count > VD_LIMIT_MONITORS)
        return vd_msg_fail(reason, "MONITORS_CONFIG has more monitors than VD_LIMIT_MONITORS");
    entry_size = MON_CONFIG_SIZE + (flags & VD_MONITORS_PHYSICAL_SIZE ? MONITOR_MM_SIZE : 0);
    if (len < MONITORS_HEAD_SIZE + count * entry_size)
        return vd_msg_fail(reason, "MONITORS_CONFIG is shorter than its monitors");
    if (len > MONITORS_HEAD_SIZE + count * entry_size)
        return vd_msg_fail(reason, "MONITORS_CONFIG has bytes past its monitors");

    ret->flags = flags;
    ret->count = count;
    mm_offset = MONITORS_HEAD_SIZE + count * MON_CONFIG_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = buf + MONITORS_HEAD_SIZE + i * MON_CONFIG_SIZE;
        VdMonitor *m = &ret->monitors[i];

        *m = (VdMonitor){
            .height = vd_le32(p),
            .width = vd_le32(p + 4),
            .depth = vd_le32(p + 8),
            .x = (int32_t)vd_le32(p + 12),
            .y = (int32_t)vd_le32(p + 16),
        };
        if (flags & VD_MONITORS_PHYSICAL_SIZE) {
            const uint8_t *mm = buf + mm_offset + i * MONITOR_MM_SIZE;
            m->mm_height = vd_le16(mm);
            m->mm_width = vd_le16(mm + 2);
        }
    }
    memset(ret->monitors + count, 0, (VD_LIMIT_MONITORS - count) * sizeof(ret->monitors[0]));
    return 0;
}

void vd_build_monitors_config(GByteArray *out, const VdMonitorsConfig *c)
{
    uint32_t count = MIN(c->count, VD_LIMIT_MONITORS);

    vd_msg_put_u32(out, count);
    vd_msg_put_u32(out, c->flags);
    for (uint32_t i = 0; i < count; i++) {
        const VdMonitor *m = &c->monitors[i];
        vd_msg_put_u32(out, m->height);
        vd_msg_put_u32(out, m->width);
        vd_msg_put_u32(out, m->depth);
        vd_msg_put_u32(out, (uint32_t)m->x);
        vd_msg_put_u32(out, (uint32_t)m->y);
    }
    if (c->flags & VD_MONITORS_PHYSICAL_SIZE) {
        for (uint32_t i = 0; i < count; i++) {
            vd_msg_put_u16(out, c->monitors[i].mm_height);
            vd_msg_put_u16(out, c->monitors[i].mm_width);
        }
    }
}

int vd_parse_display_config(const uint8_t *buf, size_t len, VdDisplayConfig *ret, const char **reason)
{
    if (len != DISPLAY_CONFIG_SIZE)
        return vd_msg_fail(reason, "DISPLAY_CONFIG is not 8 bytes");
    *ret = (VdDisplayConfig){ .flags = vd_le32(buf), .depth = vd_le32(buf + 4) };
    return 0;
}

void vd_build_display_config(GByteArray *out, const VdDisplayConfig *d)
{
    vd_msg_put_u32(out, d->flags);
    vd_msg_put_u32(out, d->depth);
}

int vd_parse_graphics_device_info(const uint8_t *buf, size_t len, VdGraphicsDeviceInfo *ret,
                                  const char **reason)
{
    uint32_t count;
    size_t pos = DEVICE_INFO_HEAD_SIZE;

    if (len < DEVICE_INFO_HEAD_SIZE)
        return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO is shorter than its count");
    count = vd_le32(buf);
    if (count > VD_LIMIT_DEVICE_INFO)
        return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO has more entries than VD_LIMIT_DEVICE_INFO");

    /* Validate everything first: *ret is written only on success. */
    for (uint32_t i = 0; i < count; i++) {
        uint32_t address_len;

        if (len - pos < DEVICE_ENTRY_HEAD_SIZE)
            return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO entry is truncated");
        address_len = vd_le32(buf + pos + 12);
        pos += DEVICE_ENTRY_HEAD_SIZE;
        if (address_len == 0)
            return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO address is empty (no NUL)");
        if (address_len > VD_LIMIT_DEVICE_ADDRESS)
            return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO address is longer than VD_LIMIT_DEVICE_ADDRESS");
        if (len - pos < address_len)
            return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO address is truncated");
        if (buf[pos + address_len - 1] != '\0')
            return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO address is not NUL-terminated");
        if (memchr(buf + pos, '\0', address_len - 1))
            return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO address has an embedded NUL");
        pos += address_len;
    }
    if (pos != len)
        return vd_msg_fail(reason, "GRAPHICS_DEVICE_INFO has bytes past its entries");

    memset(ret, 0, sizeof(*ret));
    ret->count = count;
    pos = DEVICE_INFO_HEAD_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        VdDeviceDisplayInfo *e = &ret->entries[i];
        uint32_t address_len = vd_le32(buf + pos + 12);

        e->channel_id = vd_le32(buf + pos);
        e->monitor_id = vd_le32(buf + pos + 4);
        e->device_display_id = vd_le32(buf + pos + 8);
        pos += DEVICE_ENTRY_HEAD_SIZE;
        memcpy(e->address, buf + pos, address_len);
        pos += address_len;
    }
    return 0;
}

void vd_build_graphics_device_info(GByteArray *out, const VdGraphicsDeviceInfo *g)
{
    uint32_t count = MIN(g->count, VD_LIMIT_DEVICE_INFO);

    vd_msg_put_u32(out, count);
    for (uint32_t i = 0; i < count; i++) {
        const VdDeviceDisplayInfo *e = &g->entries[i];
        size_t n = strnlen(e->address, VD_LIMIT_DEVICE_ADDRESS - 1);

        vd_msg_put_u32(out, e->channel_id);
        vd_msg_put_u32(out, e->monitor_id);
        vd_msg_put_u32(out, e->device_display_id);
        vd_msg_put_u32(out, (uint32_t)n + 1);
        g_byte_array_append(out, (const uint8_t *)e->address, (guint)n);
        vd_msg_put_u8(out, 0);
    }
}
