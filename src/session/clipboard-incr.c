/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard-incr.c — host -> guest INCR deliveries: a paste larger than one property goes to the
 * requestor chunk by chunk, each written when the requestor has deleted the last one (ICCCM 2.7.2).
 *
 * Host pieces that arrive ahead of the requestor wait in a queue of GBytes (no copy but one into
 * the chunk when a chunk spans pieces). Above VD_CLIP_THROTTLE_HIGH queued bytes the sink is asked
 * to stop reading from the daemon, below VD_CLIP_THROTTLE_LOW to resume; without a throttle the
 * queue may reach VD_CLIP_STREAM_BUFFER_MAX and the paste is abandoned. A requestor that stops
 * taking chunks for VD_CLIP_REQUESTOR_TIMEOUT_MS is dropped. The request objects (VdXReq) belong to
 * clipboard-serve.c; a delivery only holds one while it runs (in_delivery).
 */
#include "clipboard-private.h"

#include <string.h>

static void pieces_clear(VdXReq *req);

/* Another delivery to the same window (its saved event mask is the one to restore). */
static const VdXReq *other_delivery(VdXClipboard *clip, const VdXReq *req)
{
    for (GList *l = clip->deliveries; l; l = l->next) {
        const VdXReq *o = l->data;
        if (o != req && o->requestor == req->requestor)
            return o;
    }
    return NULL;
}

void vd_clip_delivery_end(VdXReq *req)
{
    VdXClipboard *clip = req->clip;
    if (!req->in_delivery)
        return;
    g_clear_handle_id(&req->timer, g_source_remove);
    clip->deliveries = g_list_remove(clip->deliveries, req);
    req->in_delivery = false;
    pieces_clear(req);
    if (!other_delivery(clip, req))
        XSelectInput(clip->dpy, req->requestor, req->saved_mask);
    if (req->in_host) {
        /* The rest of the host's data has nowhere to go: drop it as it comes. */
        VdClipSel *s = &clip->sel[req->sel];
        s->drain_left = req->begun ? req->total - req->received : 0;
        req->discard = true;
        vd_clip_serve_host_done(clip, req->sel, NULL); /* frees req */
        return;
    }
    vd_clip_xreq_maybe_free(req);
}

static gboolean on_requestor_timeout(gpointer data)
{
    VdXReq *req = data;
    VdXClipboard *clip = req->clip;
    req->timer = 0;
    g_warning("clipboard: X window 0x%lx stopped taking %s data for %u s: transfer dropped",
              (unsigned long)req->requestor, vd_selection_to_string(req->sel), VD_CLIP_REQUESTOR_TIMEOUT_MS / 1000);
    vd_clip_delivery_end(req);
    XFlush(clip->dpy);
    return G_SOURCE_REMOVE;
}

static void arm_requestor_timer(VdXReq *req)
{
    g_clear_handle_id(&req->timer, g_source_remove);
    req->timer = g_timeout_add(VD_CLIP_REQUESTOR_TIMEOUT_MS, on_requestor_timeout, req);
}

/* Asks the link to stop (or resume) reading from the daemon while a requestor lags behind. */
void vd_clip_delivery_update_throttle(VdXReq *req)
{
    VdXClipboard *clip = req->clip;
    size_t mark = req->over ? VD_CLIP_THROTTLE_LOW : VD_CLIP_THROTTLE_HIGH; /* hysteresis */
    bool over = req->in_delivery && req->queued > mark;
    if (over == req->over)
        return;
    req->over = over;
    clip->n_over += over ? 1 : -1;
    if (clip->n_over != (over ? 1u : 0u))
        return;
    if (clip->sink.throttle) {
        g_debug("clipboard: %s reading from the daemon (an X client is %zu bytes behind)",
                over ? "pausing" : "resuming", req->queued);
        clip->sink.throttle(over, clip->user_data);
    } else if (over) {
        g_debug("clipboard: an X client lags behind and the daemon link cannot be throttled: buffering up to "
                "%u MiB", VD_CLIP_STREAM_BUFFER_MAX / VD_MiB);
    }
}

void vd_clip_pieces_push(VdXReq *req, GBytes *bytes)
{
    req->queued += g_bytes_get_size(bytes);
    g_queue_push_tail(&req->pieces, bytes);
}

static void pieces_clear(VdXReq *req)
{
    g_queue_clear_full(&req->pieces, (GDestroyNotify)g_bytes_unref);
    req->piece_off = 0;
    req->queued = 0;
    vd_clip_delivery_update_throttle(req);
}

/* The next n bytes of the queued pieces, contiguous: straight from the head piece when it holds
 * them, else assembled in req->chunk. Consumes them. */
static const uint8_t *pieces_take(VdXReq *req, size_t n)
{
    GBytes *head = g_queue_peek_head(&req->pieces);
    size_t size;
    const uint8_t *p = g_bytes_get_data(head, &size);
    if (size - req->piece_off >= n) {
        p += req->piece_off;
        req->piece_off += n;
        req->queued -= n;
        return p; /* valid until the piece is dropped: after the write, below */
    }
    if (!req->chunk)
        req->chunk = g_malloc(req->clip->x_chunk);
    size_t got = 0;
    while (got < n) {
        head = g_queue_peek_head(&req->pieces);
        p = g_bytes_get_data(head, &size);
        size_t take = MIN(size - req->piece_off, n - got);
        memcpy(req->chunk + got, p + req->piece_off, take);
        got += take;
        req->piece_off += take;
        if (req->piece_off == size) {
            g_bytes_unref(g_queue_pop_head(&req->pieces));
            req->piece_off = 0;
        }
    }
    req->queued -= n;
    return req->chunk;
}

static void pieces_drop_used(VdXReq *req)
{
    GBytes *head = g_queue_peek_head(&req->pieces);
    if (head && req->piece_off == g_bytes_get_size(head)) {
        g_bytes_unref(g_queue_pop_head(&req->pieces));
        req->piece_off = 0;
    }
}

/* Writes the next chunk, or the empty property that ends the transfer. */
void vd_clip_delivery_write(VdXReq *req)
{
    VdXClipboard *clip = req->clip;
    const VdXItem *it = &req->items[0];
    if (req->queued == 0 && !req->host_done)
        return; /* wait for the host */
    size_t n = MIN(req->queued, clip->x_chunk);
    const uint8_t *data = n ? pieces_take(req, n) : (const uint8_t *)"";
    XChangeProperty(clip->dpy, req->requestor, it->property, it->prop_type, 8, PropModeReplace, data, (int)n);
    pieces_drop_used(req);
    vd_clip_delivery_update_throttle(req);
    if (n == 0) {
        g_debug("clipboard: INCR delivery of %s to 0x%lx complete", vd_selection_to_string(req->sel),
                (unsigned long)req->requestor);
        vd_clip_delivery_end(req);
        return;
    }
    req->waiting_delete = true;
    arm_requestor_timer(req);
}

void vd_clip_delivery_start(VdXReq *req, uint64_t size_hint)
{
    VdXClipboard *clip = req->clip;
    const VdXItem *it = &req->items[0];
    req->incr = true;
    req->in_delivery = true;
    clip->deliveries = g_list_prepend(clip->deliveries, req);
    /* Select first, so that the requestor's deletion of the INCR property cannot be missed; keep
     * what we already selected on that window (it may be the root window) to restore it after. */
    const VdXReq *other = other_delivery(clip, req);
    if (other) {
        req->saved_mask = other->saved_mask;
    } else {
        XWindowAttributes wa;
        req->saved_mask = XGetWindowAttributes(clip->dpy, req->requestor, &wa) ? wa.your_event_mask : NoEventMask;
        XSelectInput(clip->dpy, req->requestor, req->saved_mask | PropertyChangeMask);
    }
    long lower_bound = (long)MIN(size_hint, (uint64_t)G_MAXINT32);
    XChangeProperty(clip->dpy, req->requestor, it->property, clip->atoms.incr, 32, PropModeReplace,
                    (unsigned char *)&lower_bound, 1);
    vd_clip_send_notify(clip, req, it->property);
    req->waiting_delete = true;
    arm_requestor_timer(req);
}

/* Gives a delivery up. ICCCM has no way to fail an INCR transfer, and an empty chunk would make
 * the requestor paste a truncated text as if it were whole: we stop writing instead, so the paste
 * fails by the requestor's own timeout. */
void vd_clip_delivery_abandon(VdXReq *req, const char *why)
{
    g_warning("clipboard: %s paste to X window 0x%lx abandoned after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
              " bytes: %s",
              vd_selection_to_string(req->sel), (unsigned long)req->requestor, req->received - req->queued,
              req->total, why);
    vd_clip_delivery_end(req);
}

bool vd_clip_serve_property(VdXClipboard *clip, const XPropertyEvent *ev)
{
    bool mine = false;
    for (GList *l = clip->deliveries; l; l = l->next) {
        VdXReq *req = l->data;
        if (req->requestor != ev->window)
            continue;
        mine = true; /* we selected PropertyChangeMask there: its other changes are ours to drop */
        if (ev->atom != req->items[0].property || ev->state != PropertyDelete || !req->waiting_delete)
            continue;
        req->waiting_delete = false;
        g_clear_handle_id(&req->timer, g_source_remove);
        vd_clip_delivery_write(req); /* may end (and free) req: the list is not used after this */
        return true;
    }
    return mine;
}
