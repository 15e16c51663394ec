/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ipc-fields.h — field groups shared by the session and control protocols (docs/protocols.md,
 * "Common fields"): a monitor configuration, long text, and the range checks of VDAgent enums.
 * Internal to src/protocol. */
#pragma once

#include "ipc.h"
#include "vd-messages.h"

/* Monitor entry on our sockets: width u32, height u32, depth u32, x i32, y i32, mm_width u16,
 * mm_height u16. */
#define VD_IPC_MONITOR_SIZE 24u
/* Flags a monitor configuration may carry. */
#define VD_IPC_MONITORS_FLAGS (VD_MONITORS_USE_POS | VD_MONITORS_PHYSICAL_SIZE)

/* flags u32, n u32 (1..VD_LIMIT_MONITORS), n entries. Encoding returns -EINVAL if count is out of
 * range (nothing appended). */
int vd_ipc_put_monitors(GByteArray *out, const VdMonitorsConfig *c);
void vd_ipc_get_monitors(VdIpcCursor *c, VdMonitorsConfig *ret);

/* Like vd_ipc_get_string() but for longer text (a JSON document): u32 length <= max, UTF-8, no NUL. */
char *vd_ipc_get_text(VdIpcCursor *c, uint32_t max);

/* Range checks that fail the cursor with a reason naming the field. */
void vd_ipc_check_selection(VdIpcCursor *c, uint8_t selection);
/* A real clipboard type: UTF8_TEXT .. FILE_LIST (NONE is not a type one can hold or ask for). */
void vd_ipc_check_clipboard_type(VdIpcCursor *c, uint32_t type);
/* A bool on the wire: 0 or 1. */
bool vd_ipc_get_bool(VdIpcCursor *c);
