/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard-fetch.c — guest -> host: asking the X owner, and streaming its answer to the daemon.
 *
 * One conversion per selection at a time, on our own window's property for that selection: first
 * TARGETS when the owner changes (then GRAB, or RELEASE when it offers nothing we bridge), then
 * the host's requests in order. A plain answer is read from the X server in slices while it is
 * sent, so it is never held whole; an INCR answer must be (BEGIN carries the total, which INCR
 * only bounds from below), as the chunks the X server handed us, freed as they are sent. Sending
 * is paced by the daemon link's backlog, so memory stays about one payload. Every wait on the
 * owner has a timeout; a host request that cannot be served gets an empty answer (BEGIN with a
 * total of 0), never silence.
 */
#include "clipboard-private.h"

#include <X11/Xlib-xcb.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    VD_FETCH_TARGETS, /* waiting for the owner's TARGETS */
    VD_FETCH_DATA,    /* waiting for the owner's data */
    VD_FETCH_INCR,    /* receiving INCR chunks */
    VD_FETCH_DRAIN,   /* an INCR transfer we refused: taking and dropping its chunks */
    VD_FETCH_SEND,    /* BEGIN sent, DATA pieces paced by the daemon link */
} VdFetchState;

static const char *fetch_state_to_string(VdFetchState state)
{
    switch (state) {
    case VD_FETCH_TARGETS:
        return "TARGETS";
    case VD_FETCH_DATA:
        return "DATA";
    case VD_FETCH_INCR:
        return "INCR";
    case VD_FETCH_DRAIN:
        return "DRAIN";
    case VD_FETCH_SEND:
        return "SEND";
    }
    return "UNKNOWN";
}

typedef struct {
    uint8_t *data;
    size_t len;
    bool x_owned;  /* XFree, else g_free (unless reply) */
    void *reply;   /* an xcb reply that data points into: free() */
} VdChunk;

/* The only ways a conversion moves on; a fetch never goes back to TARGETS, and DRAIN and SEND are
 * ends. INCR -> DATA is how a whole INCR answer that proves too large is answered empty. */
static bool fetch_transition_ok(VdFetchState from, VdFetchState to)
{
    switch (from) {
    case VD_FETCH_TARGETS:
        return false;
    case VD_FETCH_DATA:
        return to == VD_FETCH_INCR || to == VD_FETCH_SEND;
    case VD_FETCH_INCR:
        return to == VD_FETCH_DRAIN || to == VD_FETCH_SEND || to == VD_FETCH_DATA;
    case VD_FETCH_DRAIN:
    case VD_FETCH_SEND:
        return false;
    }
    return false;
}

struct VdFetch {
    VdFetchState state;
    uint32_t type; /* what the host asked for */
    Atom target;
    bool latin1; /* the owner answered STRING: convert to UTF-8 */
    guint timer;
    guint pace_timer;
    GQueue chunks; /* VdChunk, INCR or converted data */
    uint64_t total, sent, received;
    bool from_property; /* the data is still in our property: read it in slices */
    uint64_t prop_read;
    VdChunk *cur;
    size_t cur_pos;
};

static void chunk_free(VdChunk *c)
{
    if (!c)
        return;
    if (c->reply)
        free(c->reply);
    else if (c->x_owned)
        XFree(c->data);
    else
        g_free(c->data);
    g_free(c);
}

void vd_clip_fetch_free(VdFetch *f)
{
    if (!f)
        return;
    g_clear_handle_id(&f->timer, g_source_remove);
    g_clear_handle_id(&f->pace_timer, g_source_remove);
    g_queue_clear_full(&f->chunks, (GDestroyNotify)chunk_free);
    chunk_free(f->cur);
    g_free(f);
}

static uint64_t guest_limit(const VdXClipboard *clip)
{
    if (clip->max_clipboard < 0)
        return VD_CLIP_GUEST_MAX;
    return MIN((uint64_t)clip->max_clipboard, VD_CLIP_GUEST_MAX);
}

/* What we accept from the owner: Latin-1 is held whole to be converted, so it has its own bound. */
static uint64_t fetch_limit(const VdXClipboard *clip, const VdFetch *f)
{
    return f->latin1 ? MIN(guest_limit(clip), (uint64_t)VD_CLIP_CONVERT_MAX) : guest_limit(clip);
}

static void reply_empty(VdXClipboard *clip, unsigned sel, uint32_t type)
{
    VdSessionMsg m = {.type = VD_S_CLIPBOARD_BEGIN};
    m.u.begin.selection = (uint8_t)sel;
    m.u.begin.type = type;
    m.u.begin.total = 0;
    vd_clip_send(clip, &m);
}

static void next(VdXClipboard *clip, unsigned sel);

/* Ends the conversion in flight; failed ones that the host waits for get an empty answer. */
static void fetch_end(VdXClipboard *clip, unsigned sel, bool failed)
{
    VdClipSel *s = &clip->sel[sel];
    VdFetch *f = s->fetch;
    if (!f)
        return;
    s->fetch = NULL;
    if (failed) {
        if (f->state == VD_FETCH_DATA || f->state == VD_FETCH_INCR) {
            reply_empty(clip, sel, f->type);
        } else if (f->state == VD_FETCH_SEND && f->sent < f->total) {
            VdSessionMsg m = {.type = VD_S_CLIPBOARD_ABORT};
            m.u.abort.selection = (uint8_t)sel;
            vd_clip_send(clip, &m);
        }
    }
    if (f->state != VD_FETCH_INCR && f->state != VD_FETCH_DRAIN)
        XDeleteProperty(clip->dpy, clip->win, clip->atoms.property[sel]);
    vd_clip_fetch_free(f);
    next(clip, sel);
}

static void on_targets(VdXClipboard *clip, unsigned sel, Atom property);

static gboolean on_owner_timeout(gpointer data)
{
    VdClipSel *s = data;
    VdXClipboard *clip = s->clip;
    VdFetch *f = s->fetch;
    f->timer = 0;
    g_warning("clipboard: the X owner of %s did not answer (%s) within %u s%s", vd_selection_to_string(s->index),
              fetch_state_to_string(f->state), VD_CLIP_OWNER_TIMEOUT_MS / 1000,
              f->state == VD_FETCH_TARGETS ? ": nothing announced" : ": the host gets an empty answer");
    if (f->state == VD_FETCH_TARGETS)
        on_targets(clip, s->index, None); /* no types: a RELEASE if the host had an older offer */
    fetch_end(clip, s->index, true);
    XFlush(clip->dpy);
    return G_SOURCE_REMOVE;
}

static void fetch_set_state(VdFetch *f, unsigned sel, VdFetchState to)
{
    if (!fetch_transition_ok(f->state, to))
        g_critical("clipboard: BUG: %s conversion state %s -> %s", vd_selection_to_string(sel),
                   fetch_state_to_string(f->state), fetch_state_to_string(to));
    f->state = to;
}

static void arm_owner_timer(VdXClipboard *clip, unsigned sel)
{
    VdFetch *f = clip->sel[sel].fetch;
    g_clear_handle_id(&f->timer, g_source_remove);
    f->timer = g_timeout_add(VD_CLIP_OWNER_TIMEOUT_MS, on_owner_timeout, &clip->sel[sel]);
}

static void start_conversion(VdXClipboard *clip, unsigned sel, VdFetchState state, Atom target, uint32_t type)
{
    VdClipSel *s = &clip->sel[sel];
    VdFetch *f = g_new0(VdFetch, 1);
    f->state = state;
    f->target = target;
    f->type = type;
    g_queue_init(&f->chunks);
    s->fetch = f;
    XDeleteProperty(clip->dpy, clip->win, clip->atoms.property[sel]);
    XConvertSelection(clip->dpy, clip->atoms.selection[sel], target, clip->atoms.property[sel], clip->win,
                      s->guest_time);
    arm_owner_timer(clip, sel);
}

/* Starts the next conversion the selection needs, if none is in flight. */
static void next(VdXClipboard *clip, unsigned sel)
{
    VdClipSel *s = &clip->sel[sel];
    while (!s->fetch) {
        if (s->owner != VD_OWNER_GUEST || !vd_clip_can_talk(clip) || !vd_clip_sel_bridged(clip, sel)) {
            s->targets_wanted = false;
            if (!g_queue_is_empty(&s->host_requests))
                g_message("clipboard: the host asked for %s data, which the guest does not own now: empty answer",
                          vd_selection_to_string(sel));
            while (!g_queue_is_empty(&s->host_requests))
                reply_empty(clip, sel, GPOINTER_TO_UINT(g_queue_pop_head(&s->host_requests)));
            return;
        }
        if (s->targets_wanted) {
            s->targets_wanted = false;
            start_conversion(clip, sel, VD_FETCH_TARGETS, clip->atoms.targets, VD_CLIPBOARD_NONE);
            return;
        }
        if (g_queue_is_empty(&s->host_requests))
            return;
        uint32_t type = GPOINTER_TO_UINT(g_queue_pop_head(&s->host_requests));
        Atom target;
        if (!vd_clip_best_target(&clip->atoms, s->guest_targets, s->n_guest_targets, type, &target)) {
            g_message("clipboard: the host asked for %s, which the %s owner does not offer: empty answer",
                      vd_clipboard_type_to_string(type), vd_selection_to_string(sel));
            reply_empty(clip, sel, type);
            continue;
        }
        start_conversion(clip, sel, VD_FETCH_DATA, target, type);
    }
}

void vd_clip_fetch_targets(VdXClipboard *clip, unsigned sel)
{
    clip->sel[sel].targets_wanted = true;
    next(clip, sel);
}

void vd_clip_fetch_host_request(VdXClipboard *clip, unsigned sel, uint32_t type)
{
    VdClipSel *s = &clip->sel[sel];
    /* Answers carry no request id: they must leave in the order the host asked, so even one we
     * will refuse waits its turn behind the conversion in flight (next() decides). */
    if (g_queue_get_length(&s->host_requests) >= VD_CLIP_HOST_PENDING_MAX) {
        g_message("clipboard: %u host requests for %s already wait: one more answered empty at once",
                  VD_CLIP_HOST_PENDING_MAX, vd_selection_to_string(sel));
        reply_empty(clip, sel, type);
        return;
    }
    g_queue_push_tail(&s->host_requests, GUINT_TO_POINTER(type));
    next(clip, sel);
}

/* --- TARGETS --- */

static void on_targets(VdXClipboard *clip, unsigned sel, Atom property)
{
    VdClipSel *s = &clip->sel[sel];
    s->n_guest_targets = 0;
    if (property != None) {
        Atom type;
        int format;
        unsigned long n = 0, after;
        unsigned char *data = NULL;
        if (XGetWindowProperty(clip->dpy, clip->win, property, 0, VD_CLIP_TARGETS_MAX, True, AnyPropertyType,
                               &type, &format, &n, &after, &data) == Success &&
            data && format == 32) {
            const long *atoms = (const long *)data;
            for (unsigned long i = 0; i < n && s->n_guest_targets < VD_CLIP_TARGETS_MAX; i++)
                s->guest_targets[s->n_guest_targets++] = (Atom)atoms[i];
        }
        if (data)
            XFree(data);
    }
    if (s->want_own || s->owner == VD_OWNER_HOST) {
        /* A host grab came while the owner was asked (typically the daemon's standing offer, right
         * after we announced an owner found on reconnecting): it supersedes this owner, which is not
         * announced, so the daemon and we agree that the host holds the selection. */
        g_debug("clipboard: the host took %s while its X owner was asked: owner not announced",
                vd_selection_to_string(sel));
        return;
    }
    VdClipboardGrab g = {.selection = (uint8_t)sel};
    for (unsigned i = 0; i < s->n_guest_targets; i++)
        vd_clip_grab_add(&g, vd_clip_target_to_type(&clip->atoms, s->guest_targets[i]));
    if (g.n_types > 0) {
        VdSessionMsg m = {.type = VD_S_CLIPBOARD_GRAB};
        m.u.grab = g;
        /* No RELEASE first: a GRAB replaces what we announced before (NO_RELEASE_ON_REGRAB). */
        if (vd_clip_send(clip, &m) == 0)
            s->announced = true;
        g_debug("clipboard: announced %s with %u types", vd_selection_to_string(sel), g.n_types);
    } else if (s->announced) {
        VdSessionMsg m = {.type = VD_S_CLIPBOARD_RELEASE};
        m.u.release.selection = (uint8_t)sel;
        vd_clip_send(clip, &m);
        s->announced = false;
        g_debug("clipboard: the new %s owner offers nothing we bridge: released", vd_selection_to_string(sel));
    }
}

/* --- data --- */

static void pump(VdXClipboard *clip, unsigned sel);

static void begin_send(VdXClipboard *clip, unsigned sel)
{
    VdFetch *f = clip->sel[sel].fetch;
    fetch_set_state(f, sel, VD_FETCH_SEND);
    g_clear_handle_id(&f->timer, g_source_remove);
    VdSessionMsg m = {.type = VD_S_CLIPBOARD_BEGIN};
    m.u.begin.selection = (uint8_t)sel;
    m.u.begin.type = f->type;
    m.u.begin.total = f->total;
    if (vd_clip_send(clip, &m) < 0) {
        fetch_end(clip, sel, false);
        return;
    }
    pump(clip, sel);
}

static void refuse_too_large(VdXClipboard *clip, unsigned sel, uint64_t size)
{
    const VdFetch *f = clip->sel[sel].fetch;
    g_message("clipboard: %s data of %s%" G_GUINT64_FORMAT " bytes exceeds the limit of %" G_GUINT64_FORMAT
              " bytes (%s): the host gets an empty answer",
              vd_selection_to_string(sel), f->state == VD_FETCH_INCR ? "at least " : "", size, fetch_limit(clip, f),
              f->latin1 && fetch_limit(clip, f) < guest_limit(clip) ? "Latin-1 conversion" : "MAX_CLIPBOARD");
}

/* Moves the latin1 chunks into one converted chunk. */
static void convert_chunks(VdFetch *f)
{
    g_autoptr(GByteArray) all = g_byte_array_sized_new((guint)MIN(f->received, (uint64_t)G_MAXUINT32));
    VdChunk *c;
    while ((c = g_queue_pop_head(&f->chunks))) {
        g_byte_array_append(all, c->data, (guint)c->len);
        chunk_free(c);
    }
    VdChunk *out = g_new0(VdChunk, 1);
    out->data = vd_clip_latin1_to_utf8(all->data, all->len, &out->len);
    g_queue_push_tail(&f->chunks, out);
    f->total = out->len;
}

static void on_data_answer(VdXClipboard *clip, unsigned sel, Atom property)
{
    VdFetch *f = clip->sel[sel].fetch;
    if (property == None) {
        g_message("clipboard: the %s owner refused %s: the host gets an empty answer", vd_selection_to_string(sel),
                  vd_clipboard_type_to_string(f->type));
        fetch_end(clip, sel, true);
        return;
    }
    Atom type;
    int format;
    unsigned long n = 0, after = 0;
    unsigned char *data = NULL;
    if (XGetWindowProperty(clip->dpy, clip->win, property, 0, 1, False, AnyPropertyType, &type, &format, &n,
                           &after, &data) != Success ||
        type == None) {
        if (data)
            XFree(data);
        g_message("clipboard: the %s owner answered with no data: the host gets an empty answer",
                  vd_selection_to_string(sel));
        fetch_end(clip, sel, true);
        return;
    }
    long first = (data && n > 0 && format == 32) ? ((long *)data)[0] : 0;
    uint64_t size = (uint64_t)n * (uint64_t)(format / 8) + after;
    if (data)
        XFree(data);
    if (type == clip->atoms.incr) {
        fetch_set_state(f, sel, VD_FETCH_INCR);
        f->latin1 = false;
        if (first > 0 && (uint64_t)first > guest_limit(clip)) {
            refuse_too_large(clip, sel, (uint64_t)first);
            reply_empty(clip, sel, f->type);
            fetch_set_state(f, sel, VD_FETCH_DRAIN);
        }
        /* Deleting the INCR property asks the owner for the first chunk. */
        XDeleteProperty(clip->dpy, clip->win, property);
        arm_owner_timer(clip, sel);
        return;
    }
    if (format != 8 || type == clip->atoms.compound_text) {
        g_autofree char *name = vd_clip_atom_name(clip->dpy, type);
        g_message("clipboard: the %s owner answered in \"%s\" (format %d), which we do not convert: the host "
                  "gets an empty answer",
                  vd_selection_to_string(sel), name, format);
        fetch_end(clip, sel, true);
        return;
    }
    f->latin1 = type == clip->atoms.string;
    if (size > fetch_limit(clip, f)) {
        refuse_too_large(clip, sel, size);
        fetch_end(clip, sel, true);
        return;
    }
    if (f->latin1) {
        if (XGetWindowProperty(clip->dpy, clip->win, property, 0, (long)((size + 3) / 4), True, AnyPropertyType,
                               &type, &format, &n, &after, &data) != Success ||
            !data) {
            fetch_end(clip, sel, true);
            return;
        }
        VdChunk *c = g_new0(VdChunk, 1);
        c->data = data;
        c->len = n;
        c->x_owned = true;
        g_queue_push_tail(&f->chunks, c);
        f->received = n;
        convert_chunks(f);
        if (f->total > guest_limit(clip)) {
            refuse_too_large(clip, sel, f->total);
            fetch_end(clip, sel, true);
            return;
        }
    } else {
        f->total = size;
        f->from_property = true;
    }
    begin_send(clip, sel);
}

static void on_incr_chunk(VdXClipboard *clip, unsigned sel)
{
    VdFetch *f = clip->sel[sel].fetch;
    /* Read whole and delete: the deletion asks the owner for the next chunk. Through xcb, not
     * XGetWindowProperty: the chunk is kept in the reply the data arrived in, where Xlib would copy
     * every chunk (the whole INCR answer) once more into a buffer of its own. */
    xcb_connection_t *xc = XGetXCBConnection(clip->dpy);
    xcb_get_property_cookie_t cookie = xcb_get_property(xc, 1, (xcb_window_t)clip->win,
                                                        (xcb_atom_t)clip->atoms.property[sel],
                                                        XCB_GET_PROPERTY_TYPE_ANY, 0, 0x1fffffff);
    xcb_generic_error_t *err = NULL;
    xcb_get_property_reply_t *reply = xcb_get_property_reply(xc, cookie, &err);
    if (!reply) {
        if (err)
            g_message("clipboard: reading the %s INCR chunk failed (X error %u)", vd_selection_to_string(sel),
                      err->error_code);
        free(err);
        fetch_end(clip, sel, true);
        return;
    }
    if (reply->type == XCB_NONE) { /* not there (any more): a stale notification */
        free(reply);
        return;
    }
    Atom type = reply->type;
    int format = reply->format;
    unsigned char *data = xcb_get_property_value(reply);
    size_t len = (size_t)xcb_get_property_value_length(reply);
    if (len == 0) {
        free(reply);
        if (f->state == VD_FETCH_DRAIN) {
            fetch_end(clip, sel, false);
            return;
        }
        if (f->latin1)
            convert_chunks(f);
        else
            f->total = f->received;
        if (f->total > guest_limit(clip)) {
            refuse_too_large(clip, sel, f->total);
            fetch_set_state(f, sel, VD_FETCH_DATA); /* not sent yet: fetch_end answers empty */
            fetch_end(clip, sel, true);
            return;
        }
        begin_send(clip, sel);
        return;
    }
    arm_owner_timer(clip, sel);
    if (f->state == VD_FETCH_DRAIN) {
        free(reply);
        return;
    }
    if (f->received == 0)
        f->latin1 = type == clip->atoms.string;
    if (format != 8) {
        free(reply);
        g_message("clipboard: the %s owner sent INCR data of format %d: the host gets an empty answer",
                  vd_selection_to_string(sel), format);
        reply_empty(clip, sel, f->type);
        fetch_set_state(f, sel, VD_FETCH_DRAIN);
        return;
    }
    if (f->received + len > fetch_limit(clip, f)) {
        free(reply);
        refuse_too_large(clip, sel, f->received + len);
        reply_empty(clip, sel, f->type);
        g_queue_clear_full(&f->chunks, (GDestroyNotify)chunk_free);
        fetch_set_state(f, sel, VD_FETCH_DRAIN);
        return;
    }
    VdChunk *c = g_new0(VdChunk, 1);
    c->data = data;
    c->len = len;
    c->reply = reply;
    g_queue_push_tail(&f->chunks, c);
    f->received += len;
}

/* Next bytes to send: the current chunk, else the next queued chunk, else the next property slice. */
static bool refill(VdXClipboard *clip, unsigned sel, VdFetch *f)
{
    chunk_free(f->cur);
    f->cur = NULL;
    f->cur_pos = 0;
    if (!f->from_property) {
        f->cur = g_queue_pop_head(&f->chunks);
        return f->cur != NULL;
    }
    Atom type;
    int format;
    unsigned long n = 0, after = 0;
    unsigned char *data = NULL;
    if (XGetWindowProperty(clip->dpy, clip->win, clip->atoms.property[sel], (long)(f->prop_read / 4),
                           VD_CLIP_READ_SLICE / 4, False, AnyPropertyType, &type, &format, &n, &after,
                           &data) != Success ||
        !data || n == 0 || format != 8) {
        if (data)
            XFree(data);
        return false;
    }
    f->prop_read += n;
    f->cur = g_new0(VdChunk, 1);
    f->cur->data = data;
    f->cur->len = n;
    f->cur->x_owned = true;
    return true;
}

static gboolean on_pace(gpointer data)
{
    VdClipSel *s = data;
    if (s->fetch)
        s->fetch->pace_timer = 0;
    pump(s->clip, s->index);
    XFlush(s->clip->dpy);
    return G_SOURCE_REMOVE;
}

static void pump(VdXClipboard *clip, unsigned sel)
{
    VdClipSel *s = &clip->sel[sel];
    VdFetch *f = s->fetch;
    if (!f || f->state != VD_FETCH_SEND)
        return;
    while (f->sent < f->total) {
        if (clip->sink.queued(clip->user_data) >= VD_CLIP_SEND_QUEUE_MAX) {
            /* vd_xclipboard_writable() resumes us; the timer only guards against a lost wakeup. */
            if (!f->pace_timer)
                f->pace_timer = g_timeout_add(100, on_pace, s);
            return;
        }
        if ((!f->cur || f->cur_pos == f->cur->len) && !refill(clip, sel, f)) {
            g_warning("clipboard: %s data ended early (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                      " bytes): transfer aborted",
                      vd_selection_to_string(sel), f->sent, f->total);
            fetch_end(clip, sel, true);
            return;
        }
        size_t piece = MIN(f->cur->len - f->cur_pos, (size_t)VD_IPC_MAX_PIECE);
        piece = (size_t)MIN((uint64_t)piece, f->total - f->sent);
        VdSessionMsg m = {.type = VD_S_CLIPBOARD_DATA};
        m.u.data.selection = (uint8_t)sel;
        m.u.data.data = f->cur->data + f->cur_pos;
        m.u.data.len = piece;
        if (vd_clip_send(clip, &m) < 0) {
            fetch_end(clip, sel, false);
            return;
        }
        f->cur_pos += piece;
        f->sent += piece;
    }
    g_debug("clipboard: sent %" G_GUINT64_FORMAT " bytes of %s to the host", f->total, vd_selection_to_string(sel));
    fetch_end(clip, sel, false);
}

void vd_clip_fetch_writable(VdXClipboard *clip)
{
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++)
        pump(clip, i);
}

/* --- events --- */

bool vd_clip_fetch_selection_notify(VdXClipboard *clip, const XSelectionEvent *ev)
{
    int sel = -1;
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++)
        if (clip->atoms.selection[i] == ev->selection)
            sel = (int)i;
    if (sel < 0)
        return false;
    VdFetch *f = clip->sel[sel].fetch;
    if (!f || (f->state != VD_FETCH_TARGETS && f->state != VD_FETCH_DATA) || ev->target != f->target) {
        g_debug("clipboard: stale SelectionNotify for %s ignored", vd_selection_to_string((unsigned)sel));
        return true;
    }
    if (ev->property != None && ev->property != clip->atoms.property[sel]) {
        g_message("clipboard: the %s owner answered in a property we did not ask for: treated as a refusal",
                  vd_selection_to_string((unsigned)sel));
    }
    Atom property = ev->property == clip->atoms.property[sel] ? ev->property : None;
    if (f->state == VD_FETCH_TARGETS) {
        on_targets(clip, (unsigned)sel, property);
        fetch_end(clip, (unsigned)sel, false);
    } else {
        on_data_answer(clip, (unsigned)sel, property);
    }
    return true;
}

bool vd_clip_fetch_property(VdXClipboard *clip, const XPropertyEvent *ev)
{
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++) {
        if (ev->atom != clip->atoms.property[i])
            continue;
        VdFetch *f = clip->sel[i].fetch;
        if (ev->state == PropertyNewValue && f && (f->state == VD_FETCH_INCR || f->state == VD_FETCH_DRAIN))
            on_incr_chunk(clip, i);
        return true;
    }
    return false;
}

void vd_clip_fetch_owner_gone(VdXClipboard *clip, unsigned sel)
{
    VdClipSel *s = &clip->sel[sel];
    VdFetch *f = s->fetch;
    s->targets_wanted = false;
    /* The host's answers go in the order it asked: the one in flight first, then the waiting. */
    GQueue waiting = G_QUEUE_INIT;
    while (!g_queue_is_empty(&s->host_requests))
        g_queue_push_tail(&waiting, g_queue_pop_head(&s->host_requests));
    if (f && f->state != VD_FETCH_SEND)
        fetch_end(clip, sel, true); /* no one will answer: fail now rather than at the timeout */
    while (!g_queue_is_empty(&waiting))
        reply_empty(clip, sel, GPOINTER_TO_UINT(g_queue_pop_head(&waiting)));
}

void vd_clip_fetch_cancel(VdXClipboard *clip, unsigned sel, bool reply)
{
    VdClipSel *s = &clip->sel[sel];
    VdFetch *f = s->fetch;
    s->targets_wanted = false;
    if (f) {
        if (reply && f->state == VD_FETCH_SEND && f->sent < f->total) {
            VdSessionMsg m = {.type = VD_S_CLIPBOARD_ABORT};
            m.u.abort.selection = (uint8_t)sel;
            vd_clip_send(clip, &m);
        } else if (reply && (f->state == VD_FETCH_DATA || f->state == VD_FETCH_INCR)) {
            reply_empty(clip, sel, f->type);
        }
        s->fetch = NULL;
        XDeleteProperty(clip->dpy, clip->win, clip->atoms.property[sel]);
        vd_clip_fetch_free(f);
    }
    while (!g_queue_is_empty(&s->host_requests)) {
        uint32_t type = GPOINTER_TO_UINT(g_queue_pop_head(&s->host_requests));
        if (reply)
            reply_empty(clip, sel, type);
    }
}
