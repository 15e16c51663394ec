/* SPDX-License-Identifier: GPL-3.0-or-later */
/* uinput.h — the paravirtual pointer: one absolute uinput device, created once at start and kept
 * for the daemon's life (never recreated on a resize: that would be a hotplug every desktop sees).
 *
 * Axes ABS_X/ABS_Y over 0..VD_AXIS_MAX (layout.h), buttons left/middle/right/side/extra, the wheel
 * as REL_WHEEL plus REL_WHEEL_HI_RES (120 per notch). Events are collected by vd_uinput_pointer()
 * and leave in one write() per vd_uinput_flush(), so a burst of MOUSE_STATE messages read in one go
 * costs one system call. With fake = true the same struct input_event records are written to a
 * file or FIFO instead (tests, benchmarks), with zero timestamps, as the kernel receives them.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct VdUinput VdUinput;

#define VD_UINPUT_NAME "vdagent paravirtual tablet"
/* Events buffered before a flush is forced (one MOUSE_STATE makes at most 12). */
#define VD_UINPUT_BUFFER_EVENTS 1024u

VdUinput *vd_uinput_new(const char *path, bool fake, GError **error);
void vd_uinput_free(VdUinput *uinput);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdUinput, vd_uinput_free)
/* Queues the events that move the pointer to (axis_x, axis_y) with buttons (VD_BUTTON_* bits, the
 * whole current state). Only changes produce events. */
void vd_uinput_pointer(VdUinput *uinput, uint32_t axis_x, uint32_t axis_y, uint32_t buttons);
/* Writes what was queued, in one write(). */
void vd_uinput_flush(VdUinput *uinput);
/* Counters for status: events and writes so far. */
uint64_t vd_uinput_events(const VdUinput *uinput);
uint64_t vd_uinput_writes(const VdUinput *uinput);
/* Writes that failed or were short (their events were dropped). */
uint64_t vd_uinput_failed_writes(const VdUinput *uinput);
bool vd_uinput_fake(const VdUinput *uinput);
/* "/dev/input/eventN" of the device, or NULL (fake, or not found). */
const char *vd_uinput_event_node(const VdUinput *uinput);
