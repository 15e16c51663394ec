/* SPDX-License-Identifier: GPL-3.0-or-later */
/* grab-serial.h — the CLIPBOARD_GRAB serial rule, per selection.
 *
 * Counters start at 0 for each new client (caps with request != 0). A side that grabs sends its
 * counter and increments it. A peer's grab with serial S is accepted when S equals our counter
 * (counter becomes S+1) or counter-1 (the peer wins a tie; counter unchanged). Lower serials are
 * stale and dropped. A higher serial means we missed grabs: accepted, counter becomes S+1.
 * Comparison is modulo 2^32 (serial arithmetic), so wrap-around is harmless.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t counter;
} VdGrabSerial;

void vd_grab_serial_reset(VdGrabSerial *serial);
/* The serial to put in our own grab; advances the counter. */
uint32_t vd_grab_serial_next(VdGrabSerial *serial);
/* Whether a peer grab carrying s is to be honoured; updates the counter as described above. */
bool vd_grab_serial_accept(VdGrabSerial *serial, uint32_t s);
