/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-framer.h — splits the QEMU guest agent byte stream into top-level JSON objects.
 *
 * Pure code (no I/O, no logging): a small brace- and string-aware scanner that only finds where each
 * request object starts and ends; json-glib parses the objects. It enforces the request size and
 * nesting limits, drops bytes outside objects, and restarts on a 0xFF byte (which never occurs in
 * UTF-8 text; qemu-ga's clients send it to resynchronise the stream). */
#pragma once

#include <glib.h>

/* Largest request object accepted; a longer one is answered with an error and skipped. */
#define VD_QGA_MAX_REQUEST_SIZE (64 * 1024)
/* Deepest nesting of objects/arrays in a request (json-glib's parser recurses). */
#define VD_QGA_MAX_NESTING 32

typedef enum {
    VD_QGA_FRAME_NONE,     /* all bytes consumed, the current object (if any) is incomplete */
    VD_QGA_FRAME_OBJECT,   /* a complete top-level object: vd_qga_framer_object() */
    VD_QGA_FRAME_JUNK,     /* a run of bytes outside any object starts here (dropped) */
    VD_QGA_FRAME_TOO_BIG,  /* the current object went over the size limit: its rest is dropped */
    VD_QGA_FRAME_TOO_DEEP, /* the current object went over the nesting limit: its rest is dropped */
    VD_QGA_FRAME_RESYNC,   /* a 0xFF byte: the scanner restarted, dropping any partial object */
} VdQgaFrameEvent;

const char *vd_qga_frame_event_to_string(VdQgaFrameEvent event);

typedef struct VdQgaFramer VdQgaFramer;

VdQgaFramer *vd_qga_framer_new(gsize max_size, guint max_nesting);
void vd_qga_framer_free(VdQgaFramer *framer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdQgaFramer, vd_qga_framer_free)

/* Forgets any partial object (a new connection). */
void vd_qga_framer_reset(VdQgaFramer *framer);

/* Scans data up to and including the first byte that produces an event; returns how many bytes
 * were consumed (len when the event is VD_QGA_FRAME_NONE). Call again with the rest. */
gsize vd_qga_framer_feed(VdQgaFramer *framer, const guint8 *data, gsize len, VdQgaFrameEvent *ret_event);

/* After VD_QGA_FRAME_OBJECT: the object's bytes (not NUL-terminated), valid until the next feed. */
const char *vd_qga_framer_object(const VdQgaFramer *framer, gsize *ret_len);
