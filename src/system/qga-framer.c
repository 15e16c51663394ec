/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-framer.c — finds request object boundaries in the QEMU guest agent stream. See qga-framer.h. */
#include "qga-framer.h"

#include <stdbool.h>

typedef enum {
    FRAMER_IDLE,    /* between objects */
    FRAMER_JUNK,    /* inside a run of bytes that are not an object */
    FRAMER_OBJECT,  /* inside an object, keeping its bytes */
    FRAMER_DISCARD, /* inside an object that broke a limit, dropping its bytes */
} FramerState;

struct VdQgaFramer {
    gsize max_size;
    guint max_nesting;
    FramerState state;
    guint depth;
    bool in_string;
    bool escape;
    GByteArray *object;
};

const char *vd_qga_frame_event_to_string(VdQgaFrameEvent event)
{
    switch (event) {
    case VD_QGA_FRAME_NONE: return "none";
    case VD_QGA_FRAME_OBJECT: return "object";
    case VD_QGA_FRAME_JUNK: return "junk";
    case VD_QGA_FRAME_TOO_BIG: return "too-big";
    case VD_QGA_FRAME_TOO_DEEP: return "too-deep";
    case VD_QGA_FRAME_RESYNC: return "resync";
    }
    return "unknown";
}

VdQgaFramer *vd_qga_framer_new(gsize max_size, guint max_nesting)
{
    VdQgaFramer *framer = g_new0(VdQgaFramer, 1);
    framer->max_size = max_size;
    framer->max_nesting = max_nesting;
    framer->object = g_byte_array_new();
    return framer;
}

void vd_qga_framer_free(VdQgaFramer *framer)
{
    if (!framer)
        return;
    g_byte_array_unref(framer->object);
    g_free(framer);
}

static void framer_restart(VdQgaFramer *framer, FramerState state)
{
    framer->state = state;
    framer->depth = 0;
    framer->in_string = false;
    framer->escape = false;
    g_byte_array_set_size(framer->object, 0);
}

void vd_qga_framer_reset(VdQgaFramer *framer)
{
    g_return_if_fail(framer);
    framer_restart(framer, FRAMER_IDLE);
    /* A new connection should not keep the last one's largest buffer around. */
    g_byte_array_unref(framer->object);
    framer->object = g_byte_array_new();
}

/* Tracks strings and nesting for one byte of an object (kept or discarded). Returns true when the
 * byte closed the top-level object. Sets *deeper when the byte opened one more level. */
static bool framer_track(VdQgaFramer *framer, guint8 byte, bool *deeper)
{
    *deeper = false;
    if (framer->in_string) {
        if (framer->escape)
            framer->escape = false;
        else if (byte == '\\')
            framer->escape = true;
        else if (byte == '"')
            framer->in_string = false;
        return false;
    }
    switch (byte) {
    case '"':
        framer->in_string = true;
        return false;
    case '{':
    case '[':
        framer->depth++;
        *deeper = true;
        return false;
    case '}':
    case ']':
        /* Mismatched brackets are json-glib's to report: only the count matters here. */
        framer->depth--;
        return framer->depth == 0;
    default:
        return false;
    }
}

gsize vd_qga_framer_feed(VdQgaFramer *framer, const guint8 *data, gsize len, VdQgaFrameEvent *ret_event)
{
    /* A previous OBJECT event's bytes are no longer needed. */
    if (framer->state == FRAMER_IDLE)
        g_byte_array_set_size(framer->object, 0);

    for (gsize i = 0; i < len; i++) {
        guint8 byte = data[i];
        bool deeper, closed;

        if (byte == 0xFF) {
            framer_restart(framer, FRAMER_IDLE);
            *ret_event = VD_QGA_FRAME_RESYNC;
            return i + 1;
        }
        switch (framer->state) {
        case FRAMER_IDLE:
        case FRAMER_JUNK:
            if (byte == '{') {
                framer_restart(framer, FRAMER_OBJECT);
                framer->depth = 1;
                g_byte_array_append(framer->object, &byte, 1);
                break;
            }
            if (framer->state == FRAMER_IDLE && !g_ascii_isspace(byte)) {
                framer->state = FRAMER_JUNK;
                *ret_event = VD_QGA_FRAME_JUNK;
                return i + 1;
            }
            break;
        case FRAMER_OBJECT:
            closed = framer_track(framer, byte, &deeper);
            if (framer->object->len + 1 > framer->max_size) {
                framer->state = FRAMER_DISCARD;
                g_byte_array_set_size(framer->object, 0);
                if (closed)
                    framer_restart(framer, FRAMER_IDLE);
                *ret_event = VD_QGA_FRAME_TOO_BIG;
                return i + 1;
            }
            if (deeper && framer->depth > framer->max_nesting) {
                framer->state = FRAMER_DISCARD;
                g_byte_array_set_size(framer->object, 0);
                *ret_event = VD_QGA_FRAME_TOO_DEEP;
                return i + 1;
            }
            g_byte_array_append(framer->object, &byte, 1);
            if (closed) {
                framer->state = FRAMER_IDLE;
                *ret_event = VD_QGA_FRAME_OBJECT;
                return i + 1;
            }
            break;
        case FRAMER_DISCARD:
            if (framer_track(framer, byte, &deeper))
                framer_restart(framer, FRAMER_IDLE);
            break;
        }
    }
    *ret_event = VD_QGA_FRAME_NONE;
    return len;
}

const char *vd_qga_framer_object(const VdQgaFramer *framer, gsize *ret_len)
{
    g_return_val_if_fail(framer, NULL);
    *ret_len = framer->object->len;
    return (const char *) framer->object->data;
}
