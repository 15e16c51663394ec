/* SPDX-License-Identifier: GPL-3.0-or-later */
/* trace.h — the message trace hook (for `vdagent-ctl monitor`).
 *
 * One function pointer per module, checked once per message: when nobody listens it costs a
 * predictable branch. direction is a VdTraceDirection (control-proto.h); peer is a session id for
 * agent traffic, "" for host traffic; bytes/len are the payload (or the head of a streamed one),
 * valid only during the call, and size the payload size of the whole message. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef void (*VdTraceFunc)(unsigned direction, uint32_t port, uint32_t type, uint64_t size, const char *peer,
                            const uint8_t *bytes, size_t len, void *user_data);
