/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-qga-framer.c — feeds the QGA framer arbitrary bytes in arbitrary slices and parses every
 * object it yields with json-glib, checking the framer's own promises on the way. */
#include <json-glib/json-glib.h>
#include <stdint.h>
#include <string.h>

#include "qga-framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* First byte: the slice length (1..256), so every split pattern gets explored. */
    size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    g_autoptr(VdQgaFramer) framer = vd_qga_framer_new(1024, 8);
    size_t off = 0;
    while (off < size) {
        size_t len = MIN(step, size - off);
        const guint8 *p = data + off;
        while (len > 0) {
            VdQgaFrameEvent ev;
            gsize used = vd_qga_framer_feed(framer, p, len, &ev);
            if (used == 0 && ev == VD_QGA_FRAME_NONE)
                __builtin_trap(); /* no progress */
            if (used > len)
                __builtin_trap();
            if (ev == VD_QGA_FRAME_OBJECT) {
                gsize n;
                const char *obj = vd_qga_framer_object(framer, &n);
                /* The scanner counts brackets without matching their kinds: json-glib refuses a mismatch. */
                if (n == 0 || n > 1024 || obj[0] != '{' || (obj[n - 1] != '}' && obj[n - 1] != ']'))
                    __builtin_trap();
                g_autoptr(JsonParser) parser = json_parser_new();
                (void)json_parser_load_from_data(parser, obj, (gssize)n, NULL);
            }
            p += used;
            len -= used;
        }
        off += MIN(step, size - off);
    }
    return 0;
}
