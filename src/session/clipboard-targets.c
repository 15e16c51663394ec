/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard-targets.c — the names things have on each side: X atoms and targets, VDAgent clipboard
 * types, and the two honest text conversions between UTF-8 (what the host speaks) and Latin-1 (X's
 * STRING). No state, no I/O beyond interning atoms. */
#include "clipboard-private.h"

#include <errno.h>

void vd_clip_atoms_init(Display *dpy, VdClipAtoms *a)
{
    static const char *names[] = {
        "CLIPBOARD", "PRIMARY", "_VDAGENT_CLIPBOARD", "_VDAGENT_PRIMARY", "_VDAGENT_TIMESTAMP",
        "TARGETS", "TIMESTAMP", "MULTIPLE", "INCR", "ATOM_PAIR", "INTEGER", "ATOM",
        "UTF8_STRING", "text/plain;charset=utf-8", "STRING", "TEXT", "text/plain", "COMPOUND_TEXT",
        "image/png", "image/bmp", "image/x-bmp", "image/x-MS-bmp", "image/jpeg", "image/tiff",
    };
    Atom r[G_N_ELEMENTS(names)];
    /* One round trip for all of them. */
    XInternAtoms(dpy, (char **)names, G_N_ELEMENTS(names), False, r);
    unsigned i = 0;
    a->selection[VD_SELECTION_CLIPBOARD] = r[i++];
    a->selection[VD_SELECTION_PRIMARY] = r[i++];
    a->property[VD_SELECTION_CLIPBOARD] = r[i++];
    a->property[VD_SELECTION_PRIMARY] = r[i++];
    a->stamp = r[i++];
    a->targets = r[i++];
    a->timestamp = r[i++];
    a->multiple = r[i++];
    a->incr = r[i++];
    a->atom_pair = r[i++];
    a->integer = r[i++];
    a->atom = r[i++];
    a->utf8_string = r[i++];
    a->text_plain_utf8 = r[i++];
    a->string = r[i++];
    a->text = r[i++];
    a->text_plain = r[i++];
    a->compound_text = r[i++];
    a->png = r[i++];
    a->bmp = r[i++];
    a->x_bmp = r[i++];
    a->x_ms_bmp = r[i++];
    a->jpeg = r[i++];
    a->tiff = r[i++];
    g_assert(i == G_N_ELEMENTS(names));
}

uint32_t vd_clip_target_to_type(const VdClipAtoms *a, Atom t)
{
    if (t == None)
        return VD_CLIPBOARD_NONE;
    if (t == a->utf8_string || t == a->text_plain_utf8 || t == a->string || t == a->text || t == a->text_plain)
        return VD_CLIPBOARD_UTF8_TEXT;
    if (t == a->png)
        return VD_CLIPBOARD_IMAGE_PNG;
    if (t == a->bmp || t == a->x_bmp || t == a->x_ms_bmp)
        return VD_CLIPBOARD_IMAGE_BMP;
    if (t == a->jpeg)
        return VD_CLIPBOARD_IMAGE_JPG;
    if (t == a->tiff)
        return VD_CLIPBOARD_IMAGE_TIFF;
    return VD_CLIPBOARD_NONE;
}

static unsigned add_unique(Atom *out, unsigned n, unsigned max, Atom atom)
{
    for (unsigned i = 0; i < n; i++)
        if (out[i] == atom)
            return n;
    if (n < max)
        out[n++] = atom;
    return n;
}

unsigned vd_clip_targets_for_types(const VdClipAtoms *a, const uint32_t *types, uint32_t n_types, Atom *out,
                                   unsigned max)
{
    unsigned n = 0;
    n = add_unique(out, n, max, a->targets);
    n = add_unique(out, n, max, a->timestamp);
    n = add_unique(out, n, max, a->multiple);
    for (uint32_t i = 0; i < n_types; i++) {
        switch (types[i]) {
        case VD_CLIPBOARD_UTF8_TEXT:
            n = add_unique(out, n, max, a->utf8_string);
            n = add_unique(out, n, max, a->text_plain_utf8);
            n = add_unique(out, n, max, a->string);
            n = add_unique(out, n, max, a->text);
            n = add_unique(out, n, max, a->text_plain);
            break;
        case VD_CLIPBOARD_IMAGE_PNG:
            n = add_unique(out, n, max, a->png);
            break;
        case VD_CLIPBOARD_IMAGE_BMP:
            n = add_unique(out, n, max, a->bmp);
            break;
        case VD_CLIPBOARD_IMAGE_JPG:
            n = add_unique(out, n, max, a->jpeg);
            break;
        case VD_CLIPBOARD_IMAGE_TIFF:
            n = add_unique(out, n, max, a->tiff);
            break;
        default:
            break; /* FILE_LIST and unknown types have no X form here */
        }
    }
    return n;
}

bool vd_clip_target_plan(const VdClipAtoms *a, Atom target, uint32_t *ret_type, Atom *ret_prop_type,
                         VdConv *ret_conv)
{
    uint32_t type = vd_clip_target_to_type(a, target);
    if (type == VD_CLIPBOARD_NONE)
        return false;
    Atom prop_type = target;
    VdConv conv = VD_CONV_NONE;
    if (target == a->string)
        conv = VD_CONV_LATIN1;
    else if (target == a->text)
        prop_type = a->utf8_string; /* TEXT lets the owner choose the encoding */
    *ret_type = type;
    *ret_prop_type = prop_type;
    *ret_conv = conv;
    return true;
}

static bool offers(const Atom *targets, unsigned n, Atom t)
{
    for (unsigned i = 0; i < n; i++)
        if (targets[i] == t)
            return true;
    return false;
}

bool vd_clip_best_target(const VdClipAtoms *a, const Atom *targets, unsigned n, uint32_t type, Atom *ret_target)
{
    Atom pref[6] = {None};
    switch (type) {
    case VD_CLIPBOARD_UTF8_TEXT:
        /* UTF-8 first; STRING (Latin-1, converted) and the locale-dependent ones last. */
        pref[0] = a->utf8_string;
        pref[1] = a->text_plain_utf8;
        pref[2] = a->string;
        pref[3] = a->text_plain;
        pref[4] = a->text;
        break;
    case VD_CLIPBOARD_IMAGE_PNG:
        pref[0] = a->png;
        break;
    case VD_CLIPBOARD_IMAGE_BMP:
        pref[0] = a->bmp;
        pref[1] = a->x_bmp;
        pref[2] = a->x_ms_bmp;
        break;
    case VD_CLIPBOARD_IMAGE_JPG:
        pref[0] = a->jpeg;
        break;
    case VD_CLIPBOARD_IMAGE_TIFF:
        pref[0] = a->tiff;
        break;
    default:
        return false;
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(pref) && pref[i] != None; i++) {
        if (offers(targets, n, pref[i])) {
            *ret_target = pref[i];
            return true;
        }
    }
    return false;
}

gssize vd_clip_utf8_to_latin1(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = in[i];
        if (c < 0x80) {
            out[o++] = c;
            i++;
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < len && (in[i + 1] & 0xc0) == 0x80) {
            /* U+0080..U+00FF: the only multi-byte sequences Latin-1 can hold */
            out[o++] = (uint8_t)(((c & 0x03) << 6) | (in[i + 1] & 0x3f));
            i += 2;
        } else {
            return -EILSEQ;
        }
    }
    return (gssize)o;
}

uint8_t *vd_clip_latin1_to_utf8(const uint8_t *in, size_t len, size_t *ret_len)
{
    size_t extra = 0;
    for (size_t i = 0; i < len; i++)
        extra += in[i] >= 0x80;
    uint8_t *out = g_malloc(len + extra + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] < 0x80) {
            out[o++] = in[i];
        } else {
            out[o++] = (uint8_t)(0xc0 | (in[i] >> 6));
            out[o++] = (uint8_t)(0x80 | (in[i] & 0x3f));
        }
    }
    *ret_len = o;
    return out;
}

char *vd_clip_atom_name(Display *dpy, Atom atom)
{
    if (atom == None)
        return g_strdup("None");
    char *name = XGetAtomName(dpy, atom);
    if (!name)
        return g_strdup("?");
    char *copy = g_strdup(name);
    XFree(name);
    return copy;
}
