/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard-common.c — the clipboard pieces both backends share (see clipboard-common.h). */
#include "clipboard-common.h"

size_t vd_clip_host_tail_keep(uint32_t type, const uint8_t *tail, size_t len)
{
    if (type == VD_CLIPBOARD_UTF8_TEXT && len > 0 && tail[len - 1] == '\0')
        return len - 1;
    return len;
}

void vd_clip_grab_add(VdClipboardGrab *g, uint32_t type)
{
    if (type == VD_CLIPBOARD_NONE || g->n_types >= VD_LIMIT_GRAB_TYPES)
        return;
    for (uint32_t i = 0; i < g->n_types; i++) {
        if (g->types[i] == type)
            return;
    }
    g->types[g->n_types++] = type;
}
