/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard-common.h — what the X11 clipboard (clipboard*.c) and the Wayland clipboard
 * (wayland-clipboard.c) share, free of any display system's headers: the limits and timeouts both
 * enforce, the handling of a host text's NUL terminator, and building the GRAB that announces a
 * guest owner's types to the host.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session-proto.h"
#include "vd-limits.h"

/* --- limits and timeouts (each has a test in tests/clipboard/ or tests/session/) --- */

/* The host: from REQUEST to BEGIN, and between two DATA pieces. */
#define VD_CLIP_HOST_TIMEOUT_MS 10000u
/* A guest owner (an X owner converting, each step of an INCR transfer to us; a Wayland source
 * writing into our pipe). */
#define VD_CLIP_OWNER_TIMEOUT_MS 5000u
/* A guest requestor taking what we give it (an X requestor deleting each INCR chunk; a Wayland
 * client reading its pipe). */
#define VD_CLIP_REQUESTOR_TIMEOUT_MS 5000u
/* Host data received ahead of a slow requestor: above HIGH the sink is asked to stop reading from
 * the daemon, below LOW to resume; beyond MAX (a sink that cannot throttle) the paste is abandoned
 * rather than letting memory follow the clipboard's size. */
#define VD_CLIP_THROTTLE_HIGH (4u * VD_MiB)
#define VD_CLIP_THROTTLE_LOW (1u * VD_MiB)
#define VD_CLIP_STREAM_BUFFER_MAX (24u * VD_MiB)
/* Guest pastes waiting for the host, per selection; more are refused at once. */
#define VD_CLIP_PENDING_MAX 32u
/* Host requests waiting for the guest owner, per selection; more are answered empty at once. */
#define VD_CLIP_HOST_PENDING_MAX 16u
/* Bytes queued on the daemon link before a guest -> host stream pauses until it drains. */
#define VD_CLIP_SEND_QUEUE_MAX (1u * VD_MiB)
/* Guest data sent to a host without MAX_CLIPBOARD: what one streamed message may claim. */
#define VD_CLIP_GUEST_MAX ((uint64_t)VD_LIMIT_STREAMED_MESSAGE - 16u)
/* MIME types read from one Wayland offer (the X11 side's counterpart is VD_CLIP_TARGETS_MAX). */
#define VD_WL_MIMES_MAX 256u

/* How many of the len bytes that end a host transfer of type (the last DATA piece) to keep: a NUL
 * ending UTF8_TEXT is a C-string terminator, not text (real VNC viewers send one and QEMU passes it
 * on), and neither an X selection nor a Wayland pipe carries one. Everything else, embedded NULs
 * included, is kept. */
size_t vd_clip_host_tail_keep(uint32_t type, const uint8_t *tail, size_t len);

/* Adds type to the GRAB g announcing a guest owner, unless it is VD_CLIPBOARD_NONE (nothing we
 * bridge), already there, or g holds VD_LIMIT_GRAB_TYPES types. */
void vd_clip_grab_add(VdClipboardGrab *g, uint32_t type);
