/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard-serve.c — host -> guest: answering the X clients that paste what the host owns.
 *
 * Each SelectionRequest becomes a VdXReq with one item (or several, for MULTIPLE). TARGETS and
 * TIMESTAMP are answered at once; a data item asks the host (one REQUEST in flight per selection,
 * the other requests wait in order) and the host's BEGIN/DATA pieces go to the requestor as they
 * arrive: small answers (and text to convert) are gathered and written whole, larger ones go INCR
 * (clipboard-incr.c), so memory follows the slower side, never the size of the clipboard. Every
 * wait has a timeout, and a request that cannot be served is refused (property None) rather than
 * left hanging.
 */
#include "clipboard-private.h"


void vd_clip_xreq_free(VdXReq *req)
{
    if (!req)
        return;
    g_clear_handle_id(&req->timer, g_source_remove);
    if (req->buf)
        g_byte_array_unref(req->buf);
    g_queue_clear_full(&req->pieces, (GDestroyNotify)g_bytes_unref);
    g_free(req->chunk);
    g_free(req);
}

void vd_clip_xreq_maybe_free(VdXReq *req)
{
    if (!req->in_host && !req->in_delivery)
        vd_clip_xreq_free(req);
}

void vd_clip_send_notify(VdXClipboard *clip, const VdXReq *req, Atom property)
{
    XEvent ev = {0};
    ev.xselection.type = SelectionNotify;
    ev.xselection.display = clip->dpy;
    ev.xselection.requestor = req->requestor;
    ev.xselection.selection = clip->atoms.selection[req->sel];
    ev.xselection.target = req->target;
    ev.xselection.property = property;
    ev.xselection.time = req->time;
    XSendEvent(clip->dpy, req->requestor, False, NoEventMask, &ev);
}

static void refuse_event(VdXClipboard *clip, const XSelectionRequestEvent *ev)
{
    XEvent out = {0};
    out.xselection.type = SelectionNotify;
    out.xselection.display = clip->dpy;
    out.xselection.requestor = ev->requestor;
    out.xselection.selection = ev->selection;
    out.xselection.target = ev->target;
    out.xselection.property = None;
    out.xselection.time = ev->time;
    XSendEvent(clip->dpy, ev->requestor, False, NoEventMask, &out);
}

/* --- items --- */

static void write_targets(VdXClipboard *clip, VdXReq *req, VdXItem *it)
{
    const VdClipSel *s = &clip->sel[req->sel];
    Atom targets[32];
    unsigned n = vd_clip_targets_for_types(&clip->atoms, s->host_types, s->n_host_types, targets,
                                           G_N_ELEMENTS(targets));
    XChangeProperty(clip->dpy, req->requestor, it->property, XA_ATOM, 32, PropModeReplace,
                    (unsigned char *)targets, (int)n);
    it->ok = true;
}

static void write_timestamp(VdXClipboard *clip, VdXReq *req, VdXItem *it)
{
    long t = (long)clip->sel[req->sel].own_time;
    XChangeProperty(clip->dpy, req->requestor, it->property, XA_INTEGER, 32, PropModeReplace,
                    (unsigned char *)&t, 1);
    it->ok = true;
}

static void write_whole(VdXClipboard *clip, VdXReq *req, VdXItem *it, const uint8_t *data, size_t len)
{
    XChangeProperty(clip->dpy, req->requestor, it->property, it->prop_type, 8, PropModeReplace, data, (int)len);
    it->ok = true;
}

/* The host's data for the current item is all in req->buf: convert it and answer. */
static void finish_item(VdXClipboard *clip, VdXReq *req)
{
    VdXItem *it = &req->items[req->cur];
    const uint8_t *data = req->buf->data;
    size_t len = req->buf->len;
    g_autofree uint8_t *converted = NULL;
    if (it->conv == VD_CONV_LATIN1) {
        converted = g_malloc(MAX(len, 1));
        gssize r = vd_clip_utf8_to_latin1(data, len, converted);
        if (r < 0) {
            g_message("clipboard: host text does not fit in Latin-1: STRING refused (UTF8_STRING has it)");
            return;
        }
        data = converted;
        len = (size_t)r;
    }
    if (len <= clip->x_chunk) {
        write_whole(clip, req, it, data, len);
    } else if (!req->multiple) {
        /* Converted text larger than one request: deliver it INCR from memory. */
        vd_clip_pieces_push(req, converted ? g_bytes_new_take(g_steal_pointer(&converted), len)
                                   : g_byte_array_free_to_bytes(g_steal_pointer(&req->buf)));
        req->host_done = true;
        vd_clip_delivery_start(req, len);
        it->ok = true;
    } else {
        g_message("clipboard: %zu bytes are too large for one MULTIPLE item: refused", len);
    }
}

static gboolean on_host_timeout(gpointer data);

static void arm_host_timer(VdXClipboard *clip, unsigned sel)
{
    VdClipSel *s = &clip->sel[sel];
    g_clear_handle_id(&s->host_timer, g_source_remove);
    s->host_timer = g_timeout_add(VD_CLIP_HOST_TIMEOUT_MS, on_host_timeout, s);
}

static void stop_host_timer(VdClipSel *s)
{
    g_clear_handle_id(&s->host_timer, g_source_remove);
}

static bool host_offers(const VdClipSel *s, uint32_t type)
{
    for (uint32_t i = 0; i < s->n_host_types; i++)
        if (s->host_types[i] == type)
            return true;
    return false;
}

/* Runs the items of req from cur on. Returns true when req waits for the host. */
static bool req_advance(VdXClipboard *clip, VdXReq *req)
{
    VdClipSel *s = &clip->sel[req->sel];
    for (; req->cur < req->n_items; req->cur++) {
        VdXItem *it = &req->items[req->cur];
        if (it->ok || it->property == None)
            continue;
        if (it->target == clip->atoms.targets) {
            write_targets(clip, req, it);
        } else if (it->target == clip->atoms.timestamp) {
            write_timestamp(clip, req, it);
        } else if (it->type != VD_CLIPBOARD_NONE && s->owner == VD_OWNER_HOST && host_offers(s, it->type) &&
                   vd_clip_can_talk(clip)) {
            VdSessionMsg m = {.type = VD_S_CLIPBOARD_REQUEST};
            m.u.request.selection = (uint8_t)req->sel;
            m.u.request.type = it->type;
            if (vd_clip_send(clip, &m) < 0)
                continue;
            req->begun = false;
            req->discard = false;
            req->total = req->received = 0;
            req->in_host = true;
            s->host_req = req;
            arm_host_timer(clip, req->sel);
            return true;
        }
    }
    return false;
}

/* All items done: tell the requestor (unless an INCR delivery already did). */
static void req_complete(VdXClipboard *clip, VdXReq *req)
{
    if (req->multiple) {
        long pairs[2 * VD_CLIP_MULTIPLE_MAX];
        for (unsigned i = 0; i < req->n_items; i++) {
            pairs[2 * i] = req->items[i].ok ? (long)req->items[i].target : (long)None;
            pairs[2 * i + 1] = (long)req->items[i].property;
        }
        XChangeProperty(clip->dpy, req->requestor, req->property, clip->atoms.atom_pair, 32, PropModeReplace,
                        (unsigned char *)pairs, (int)(2 * req->n_items));
        vd_clip_send_notify(clip, req, req->property);
    } else if (!req->incr) {
        vd_clip_send_notify(clip, req, req->items[0].ok ? req->items[0].property : None);
    }
    vd_clip_xreq_maybe_free(req);
}

/* Starts waiting requests until one waits for the host. */
static void pump(VdXClipboard *clip, unsigned sel)
{
    VdClipSel *s = &clip->sel[sel];
    while (!s->host_req) {
        VdXReq *req = g_queue_pop_head(&s->xreqs);
        if (!req)
            return;
        if (!req_advance(clip, req))
            req_complete(clip, req);
    }
}

/* The host side of s->host_req is over (all data, an abort, a timeout, or given up). */
void vd_clip_serve_host_done(VdXClipboard *clip, unsigned sel, const char *failure)
{
    VdClipSel *s = &clip->sel[sel];
    VdXReq *req = s->host_req;
    stop_host_timer(s);
    s->host_req = NULL;
    if (!req)
        return;
    req->in_host = false;
    if (req->incr) {
        req->host_done = true;
        if (!req->in_delivery)
            vd_clip_xreq_free(req);
        else if (failure)
            vd_clip_delivery_abandon(req, failure);
        else if (!req->waiting_delete)
            vd_clip_delivery_write(req);
    } else {
        if (!failure && !req->discard)
            finish_item(clip, req);
        else if (failure)
            g_message("clipboard: %s paste to X window 0x%lx refused: %s", vd_selection_to_string(sel),
                      (unsigned long)req->requestor, failure);
        if (req->incr) {
            /* finish_item started an INCR delivery of converted text from memory */
        } else {
            if (req->buf) {
                g_byte_array_unref(req->buf);
                req->buf = NULL;
            }
            req->cur++;
            if (req_advance(clip, req))
                return; /* the next item of a MULTIPLE waits for the host */
            req_complete(clip, req);
        }
    }
    pump(clip, sel);
}

static gboolean on_host_timeout(gpointer data)
{
    VdClipSel *s = data;
    VdXClipboard *clip = s->clip;
    s->host_timer = 0;
    if (s->host_req) {
        g_warning("clipboard: the host did not answer a %s paste within %u s: answered empty",
                  vd_selection_to_string(s->index), VD_CLIP_HOST_TIMEOUT_MS / 1000);
        vd_clip_serve_host_done(clip, s->index, "the host stopped sending");
        XFlush(clip->dpy);
    }
    return G_SOURCE_REMOVE;
}

static void on_begin(VdXClipboard *clip, unsigned sel, uint32_t type, uint64_t total)
{
    VdClipSel *s = &clip->sel[sel];
    VdXReq *req = s->host_req;
    if (s->drain_left)
        g_message("clipboard: the host started a new %s transfer before ending the last one",
                  vd_selection_to_string(sel));
    s->drain_left = 0;
    if (!req || req->begun) {
        g_message("clipboard: unexpected BEGIN for %s from the daemon: its data is dropped",
                  vd_selection_to_string(sel));
        s->drain_left = total;
        return;
    }
    VdXItem *it = &req->items[req->cur];
    req->begun = true;
    req->total = total;
    req->received = 0;
    bool refuse = true;
    if (type != it->type)
        g_message("clipboard: host sent %s where %s was asked: refused", vd_clipboard_type_to_string(type),
                  vd_clipboard_type_to_string(it->type));
    else if (total == 0)
        g_debug("clipboard: the host has no %s data: refused", vd_clipboard_type_to_string(type));
    else if (it->conv != VD_CONV_NONE && total > VD_CLIP_CONVERT_MAX)
        g_message("clipboard: %" G_GUINT64_FORMAT " bytes of text are too many to convert to STRING: refused",
                  total);
    else if (req->multiple && total > clip->x_chunk)
        g_message("clipboard: %" G_GUINT64_FORMAT " bytes are too large for one MULTIPLE item: refused", total);
    else
        refuse = false;
    if (refuse) {
        /* Answer the requestor now; the host's bytes are dropped as they come. */
        req->discard = true;
        s->drain_left = total;
        vd_clip_serve_host_done(clip, sel, NULL);
        return;
    }
    if (it->conv == VD_CONV_NONE && total > clip->x_chunk)
        vd_clip_delivery_start(req, total - (it->type == VD_CLIPBOARD_UTF8_TEXT)); /* a lower bound */
    else
        req->buf = g_byte_array_sized_new((guint)total); /* bounded above: x_chunk or CONVERT_MAX */
    arm_host_timer(clip, sel);
}

static void on_data(VdXClipboard *clip, unsigned sel, const uint8_t *data, size_t len)
{
    VdClipSel *s = &clip->sel[sel];
    if (s->drain_left) {
        size_t d = (size_t)MIN((uint64_t)len, s->drain_left);
        s->drain_left -= d;
        data += d;
        len -= d;
        if (len == 0)
            return;
    }
    VdXReq *req = s->host_req;
    if (!req || !req->begun) {
        g_debug("clipboard: DATA for %s without a transfer: ignored", vd_selection_to_string(sel));
        return;
    }
    uint64_t left = req->total - req->received;
    if (len > left) {
        g_message("clipboard: the host sent %zu bytes more than announced for %s: ignored", (size_t)(len - left),
                  vd_selection_to_string(sel));
        len = (size_t)left;
    }
    req->received += len;
    /* BEGIN carried the total, so the transfer's last byte is known as it arrives: a NUL ending
     * text is dropped there, before it can reach a property (vd_clip_host_tail_keep). */
    if (req->received == req->total)
        len = vd_clip_host_tail_keep(req->items[req->cur].type, data, len);
    if (!req->incr) {
        g_byte_array_append(req->buf, data, (guint)len);
    } else if (len > 0) {
        vd_clip_pieces_push(req, g_bytes_new(data, len));
        vd_clip_delivery_update_throttle(req);
    }
    if (req->incr && req->queued > VD_CLIP_STREAM_BUFFER_MAX) {
        s->drain_left = req->total - req->received;
        vd_clip_serve_host_done(clip, sel, "the X client reads too slowly");
        return;
    }
    if (req->incr && !req->waiting_delete)
        vd_clip_delivery_write(req);
    if (req->received == req->total)
        vd_clip_serve_host_done(clip, sel, NULL);
    else
        arm_host_timer(clip, sel);
}

void vd_clip_serve_host_msg(VdXClipboard *clip, const VdSessionMsg *msg)
{
    switch (msg->type) {
    case VD_S_CLIPBOARD_BEGIN:
        if (msg->u.begin.selection < VD_CLIP_N_SEL)
            on_begin(clip, msg->u.begin.selection, msg->u.begin.type, msg->u.begin.total);
        break;
    case VD_S_CLIPBOARD_DATA:
        if (msg->u.data.selection < VD_CLIP_N_SEL)
            on_data(clip, msg->u.data.selection, msg->u.data.data, msg->u.data.len);
        break;
    case VD_S_CLIPBOARD_ABORT:
        if (msg->u.abort.selection < VD_CLIP_N_SEL && clip->sel[msg->u.abort.selection].host_req) {
            g_message("clipboard: the host aborted a %s transfer", vd_selection_to_string(msg->u.abort.selection));
            vd_clip_serve_host_done(clip, msg->u.abort.selection, "the host aborted");
        }
        break;
    default:
        /* vd_xclipboard_handle_msg() sends only the three above here. */
        g_critical("clipboard: BUG: %s reached the host data path", vd_session_msg_type_to_string(msg->type));
        break;
    }
}

/* --- requests --- */

static void plan_item(VdXClipboard *clip, VdXItem *it, Atom target, Atom property)
{
    it->target = target;
    it->property = property;
    it->type = VD_CLIPBOARD_NONE;
    if (target == clip->atoms.targets || target == clip->atoms.timestamp || property == None)
        return;
    if (!vd_clip_target_plan(&clip->atoms, target, &it->type, &it->prop_type, &it->conv))
        it->type = VD_CLIPBOARD_NONE;
}

/* Reads MULTIPLE's pairs from the requestor's property. */
static bool read_multiple(VdXClipboard *clip, VdXReq *req)
{
    Atom type;
    int format;
    unsigned long n, after;
    unsigned char *data = NULL;
    if (XGetWindowProperty(clip->dpy, req->requestor, req->property, 0, 2 * VD_CLIP_MULTIPLE_MAX, False,
                           AnyPropertyType, &type, &format, &n, &after, &data) != Success)
        return false;
    bool ok = data && format == 32 && n >= 2 && n % 2 == 0 && after == 0;
    if (ok) {
        const long *pairs = (const long *)data;
        req->n_items = (unsigned)(n / 2);
        for (unsigned i = 0; i < req->n_items; i++) {
            Atom target = (Atom)pairs[2 * i];
            if (target == clip->atoms.multiple)
                target = None; /* no MULTIPLE inside MULTIPLE */
            plan_item(clip, &req->items[i], target, target == None ? None : (Atom)pairs[2 * i + 1]);
        }
    } else {
        g_message("clipboard: malformed MULTIPLE request from X window 0x%lx: refused",
                  (unsigned long)req->requestor);
    }
    if (data)
        XFree(data);
    return ok;
}

void vd_clip_serve_request(VdXClipboard *clip, const XSelectionRequestEvent *ev)
{
    int sel = -1;
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++)
        if (clip->atoms.selection[i] == ev->selection)
            sel = (int)i;
    if (sel < 0) {
        refuse_event(clip, ev);
        return;
    }
    VdClipSel *s = &clip->sel[sel];
    /* A request older than our ownership was meant for a previous owner (X times wrap: compare
     * the difference). */
    if (s->owner != VD_OWNER_HOST || (ev->time != CurrentTime && (int32_t)(uint32_t)(ev->time - s->own_time) < 0)) {
        refuse_event(clip, ev);
        return;
    }
    if (g_queue_get_length(&s->xreqs) >= VD_CLIP_PENDING_MAX) {
        g_message("clipboard: %u pastes of %s already wait for the host: one more refused", VD_CLIP_PENDING_MAX,
                  vd_selection_to_string((unsigned)sel));
        refuse_event(clip, ev);
        return;
    }
    VdXReq *req = g_new0(VdXReq, 1);
    req->clip = clip;
    req->sel = (unsigned)sel;
    req->requestor = ev->requestor;
    req->target = ev->target;
    /* ICCCM: a property of None comes from an obsolete client; use the target as property. */
    req->property = ev->property != None ? ev->property : ev->target;
    req->time = ev->time;
    if (ev->target == clip->atoms.multiple) {
        req->multiple = true;
        if (ev->property == None || !read_multiple(clip, req)) {
            refuse_event(clip, ev);
            g_free(req);
            return;
        }
    } else {
        req->n_items = 1;
        plan_item(clip, &req->items[0], ev->target, req->property);
    }
    g_queue_push_tail(&s->xreqs, req);
    pump(clip, (unsigned)sel);
}

void vd_clip_serve_flush(VdXClipboard *clip, unsigned sel, bool all)
{
    VdClipSel *s = &clip->sel[sel];
    VdXReq *req;
    /* Waiting requests are refused (their items fail: the host's data is gone). */
    while ((req = g_queue_pop_head(&s->xreqs))) {
        req->cur = req->n_items;
        req_complete(clip, req);
    }
    if (all && s->host_req)
        vd_clip_serve_host_done(clip, sel, "the host went away");
}

void vd_clip_serve_free_all(VdXClipboard *clip)
{
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++) {
        VdClipSel *s = &clip->sel[i];
        g_queue_clear_full(&s->xreqs, (GDestroyNotify)vd_clip_xreq_free);
        stop_host_timer(s);
        if (s->host_req) {
            VdXReq *req = s->host_req;
            s->host_req = NULL;
            req->in_host = false;
            if (req->in_delivery)
                req->host_done = true;
            else
                vd_clip_xreq_free(req);
        }
    }
    while (clip->deliveries)
        vd_clip_delivery_end(clip->deliveries->data);
}
