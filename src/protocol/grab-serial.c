/* SPDX-License-Identifier: GPL-3.0-or-later */
/* grab-serial.c — the CLIPBOARD_GRAB serial rule (see grab-serial.h). */
#include "grab-serial.h"

void vd_grab_serial_reset(VdGrabSerial *serial)
{
    serial->counter = 0;
}

uint32_t vd_grab_serial_next(VdGrabSerial *serial)
{
    return serial->counter++;
}

bool vd_grab_serial_accept(VdGrabSerial *serial, uint32_t s)
{
    /* Serial arithmetic: the signed distance from our counter decides, so wrap-around is harmless. */
    int32_t delta = (int32_t)(s - serial->counter);

    if (delta == -1)
        return true; /* the peer grabbed at the same time as we did and wins the tie */
    if (delta < 0)
        return false; /* stale */
    serial->counter = s + 1;
    return true;
}
