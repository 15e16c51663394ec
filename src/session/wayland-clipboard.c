/* SPDX-License-Identifier: GPL-3.0-or-later */
/* wayland-clipboard.c — CLIPBOARD and PRIMARY of a Wayland seat over a data-control protocol
 * (wayland-datacontrol.c), bridged to the daemon's clipboard frames.
 *
 * The same protocol with the daemon as the X11 clipboard (docs/clipboard.md), the same limits and
 * timeouts (clipboard-private.h): by demand, one host request per selection at a time, answers in
 * the order the host asked, PRIMARY only with CLIPBOARD_SELECTION.
 *
 * - Guest owner: the device's selection event names an offer with its MIME types; we announce
 *   the VDAgent types they carry (GRAB), or RELEASE when the selection is cleared. A host REQUEST
 *   makes us ask the offer for the best MIME type through a pipe; what the owner writes is read
 *   as it comes (each read within VD_CLIP_OWNER_TIMEOUT_MS), held until EOF because BEGIN carries
 *   the total (bounded by MAX_CLIPBOARD), then sent in pieces paced by the daemon link.
 * - Host owner: a host GRAB becomes a data source offering the MIME types of its types, set as
 *   the selection. Its own selection event (our source is still alive when it comes) is not
 *   announced back. Each send event (a client pasting) becomes a REQUEST; the host's pieces go
 *   straight into the client's pipe, queued only while the pipe is full, and the daemon link is
 *   paused above VD_CLIP_THROTTLE_HIGH: memory follows the slower side, not the size.
 * - A client that closes its pipe or stops reading costs only the rest of that transfer, which
 *   is dropped as it arrives from the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#include "clipboard-common.h" /* the limits, vd_clip_host_tail_keep, vd_clip_grab_add */
#include "wayland-private.h"

/* Bytes read from an owner's pipe per read(2), and the size of the blocks guest data is held in. */
#define VD_WL_READ_BLOCK (256u * VD_KiB)

#define N_SEL 2u

typedef struct {
    struct wl_proxy *proxy;
    GPtrArray *mimes; /* char *, at most VD_WL_MIMES_MAX */
    bool truncated;   /* said once that the rest is ignored */
} WlOffer;

/* A client pasting host data: one send event. */
typedef struct {
    VdWlClipboard *clip;
    unsigned sel;
    int fd;           /* -1 once the client is gone or done */
    uint32_t type;
    char *mime;
    bool begun;
    uint64_t total, received;
    GQueue pieces;    /* GBytes not yet written */
    size_t piece_off, queued;
    guint io_watch;   /* G_IO_OUT on fd while pieces wait */
    guint timer;      /* host silence, or the client not reading */
} WlPaste;

/* The guest owner answering a host request. */
typedef struct {
    unsigned sel;
    uint32_t type;
    int fd;
    guint io_watch;
    guint timer;
    GQueue blocks; /* GByteArray, full ones then the one being filled */
    uint64_t received, sent;
    bool sending;
    GByteArray *cur;
    size_t cur_off;
    guint pace_timer;
} WlFetch;

typedef enum { OWNER_NONE, OWNER_HOST, OWNER_GUEST } Owner;

typedef struct {
    VdWlClipboard *clip;
    unsigned index;
    Owner owner;
    bool talking, announced;
    /* guest side */
    WlOffer *offer;                  /* the current selection's offer (another client's) */
    GQueue host_requests;            /* uint32_t types the host asked for, waiting */
    WlFetch *fetch;
    /* host side */
    struct wl_proxy *source;         /* ours, while the host owns the selection */
    uint32_t host_types[VD_LIMIT_GRAB_TYPES];
    unsigned n_host_types;
    GQueue pastes;                   /* WlPaste waiting for their turn with the host */
    WlPaste *paste;                  /* the one the host is answering */
    uint64_t drain_left;             /* bytes of an abandoned answer still to drop */
    guint drain_timer;               /* an abandoned answer whose BEGIN never comes */
} WlSel;

struct VdWlClipboard {
    VdDc *dc;
    struct wl_proxy *device;
    VdBackendHost host;
    void *user_data;
    bool link_up, host_connected, active;
    VdCaps caps;
    int32_t max_clipboard;
    WlOffer *incoming; /* introduced by data_offer, named by the next selection event */
    WlSel sel[N_SEL];
    GList *delivering;   /* WlPaste the host is done with, still writing to their client */
    size_t queued_total; /* host bytes waiting in pastes' queues */
    bool throttled;
};

/* --- MIME types <-> VDAgent types --- */

static const char *const text_mimes[] = { "text/plain;charset=utf-8", "UTF8_STRING", "text/plain", "TEXT", "STRING" };

static uint32_t mime_to_type(const char *mime)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(text_mimes); i++)
        if (strcmp(mime, text_mimes[i]) == 0)
            return VD_CLIPBOARD_UTF8_TEXT;
    if (strcmp(mime, "image/png") == 0)
        return VD_CLIPBOARD_IMAGE_PNG;
    if (strcmp(mime, "image/bmp") == 0 || strcmp(mime, "image/x-bmp") == 0 || strcmp(mime, "image/x-MS-bmp") == 0)
        return VD_CLIPBOARD_IMAGE_BMP;
    if (strcmp(mime, "image/jpeg") == 0)
        return VD_CLIPBOARD_IMAGE_JPG;
    if (strcmp(mime, "image/tiff") == 0)
        return VD_CLIPBOARD_IMAGE_TIFF;
    return VD_CLIPBOARD_NONE;
}

/* The MIME types we offer for a host type (text: all the UTF-8 names; they all carry UTF-8 here). */
static unsigned type_to_mimes(uint32_t type, const char **out)
{
    switch (type) {
    case VD_CLIPBOARD_UTF8_TEXT:
        for (unsigned i = 0; i < G_N_ELEMENTS(text_mimes); i++)
            out[i] = text_mimes[i];
        return G_N_ELEMENTS(text_mimes);
    case VD_CLIPBOARD_IMAGE_PNG:
        out[0] = "image/png";
        return 1;
    case VD_CLIPBOARD_IMAGE_BMP:
        out[0] = "image/bmp";
        return 1;
    case VD_CLIPBOARD_IMAGE_JPG:
        out[0] = "image/jpeg";
        return 1;
    case VD_CLIPBOARD_IMAGE_TIFF:
        out[0] = "image/tiff";
        return 1;
    }
    return 0;
}

/* The offer's best MIME type for type, in our order of preference; NULL if none. */
static const char *best_mime(const WlOffer *offer, uint32_t type)
{
    static const char *const bmp[] = { "image/bmp", "image/x-bmp", "image/x-MS-bmp" };
    const char *const *pref;
    unsigned n;
    const char *one[G_N_ELEMENTS(text_mimes)]; /* type_to_mimes() writes up to this many */
    if (type == VD_CLIPBOARD_UTF8_TEXT) {
        pref = text_mimes;
        n = G_N_ELEMENTS(text_mimes);
    } else if (type == VD_CLIPBOARD_IMAGE_BMP) {
        pref = bmp;
        n = G_N_ELEMENTS(bmp);
    } else {
        n = type_to_mimes(type, one);
        pref = one;
    }
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < offer->mimes->len; j++)
            if (strcmp(pref[i], g_ptr_array_index(offer->mimes, j)) == 0)
                return g_ptr_array_index(offer->mimes, j);
    return NULL;
}

/* --- state --- */

static bool can_talk(const VdWlClipboard *clip)
{
    return clip->link_up && clip->host_connected && clip->active;
}

static bool bridged(const VdWlClipboard *clip, unsigned sel)
{
    if (sel == VD_SELECTION_CLIPBOARD)
        return true;
    return sel == VD_SELECTION_PRIMARY && vd_caps_has(&clip->caps, VD_CAP_CLIPBOARD_SELECTION) &&
           vd_dc_has_primary(clip->dc);
}

static bool talking(const VdWlClipboard *clip, unsigned sel)
{
    return can_talk(clip) && bridged(clip, sel);
}

static int send_msg(VdWlClipboard *clip, const VdSessionMsg *msg)
{
    if (!clip->link_up)
        return -ENOTCONN;
    int r = clip->host.send(msg, clip->user_data);
    if (r < 0)
        g_debug("clipboard: could not queue %s for the daemon: %s", vd_session_msg_type_to_string(msg->type),
                g_strerror(-r));
    return r;
}

static void reply_empty(VdWlClipboard *clip, unsigned sel, uint32_t type)
{
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_BEGIN };
    m.u.begin.selection = (uint8_t)sel;
    m.u.begin.type = type;
    send_msg(clip, &m);
}

static uint64_t guest_limit(const VdWlClipboard *clip)
{
    if (clip->max_clipboard < 0)
        return VD_CLIP_GUEST_MAX;
    return MIN((uint64_t)clip->max_clipboard, VD_CLIP_GUEST_MAX);
}

static void offer_free(WlOffer *offer)
{
    if (!offer)
        return;
    vd_dc_offer_destroy(offer->proxy);
    g_ptr_array_free(offer->mimes, TRUE);
    g_free(offer);
}

static void update_throttle(VdWlClipboard *clip)
{
    bool want = clip->queued_total > VD_CLIP_THROTTLE_HIGH || (clip->throttled && clip->queued_total > VD_CLIP_THROTTLE_LOW);
    if (want != clip->throttled) {
        clip->throttled = want;
        if (clip->host.throttle)
            clip->host.throttle(want, clip->user_data);
    }
}

/* ============ host -> guest: our source, pastes ============ */

static void paste_next(VdWlClipboard *clip, unsigned sel);

static void paste_drop_pieces(VdWlClipboard *clip, WlPaste *p)
{
    g_queue_clear_full(&p->pieces, (GDestroyNotify)g_bytes_unref);
    clip->queued_total -= p->queued;
    p->queued = 0;
    p->piece_off = 0;
    update_throttle(clip);
}

static void paste_close_fd(WlPaste *p)
{
    g_clear_handle_id(&p->io_watch, g_source_remove);
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
}

static void paste_free(VdWlClipboard *clip, WlPaste *p)
{
    if (!p)
        return;
    clip->delivering = g_list_remove(clip->delivering, p);
    paste_drop_pieces(clip, p);
    paste_close_fd(p);
    g_clear_handle_id(&p->timer, g_source_remove);
    g_free(p->mime);
    g_free(p);
}

/* The current paste is over for the host side (all data, or failed); the client may still be
 * taking queued pieces. */
static void paste_host_done(VdWlClipboard *clip, unsigned sel)
{
    WlSel *s = &clip->sel[sel];
    WlPaste *p = s->paste;
    if (!p)
        return;
    s->paste = NULL;
    if (p->fd >= 0 && !g_queue_is_empty(&p->pieces)) {
        /* Left to finish writing: paste_write frees it once the queue is empty. */
        clip->delivering = g_list_prepend(clip->delivering, p);
    } else {
        paste_free(clip, p);
    }
    paste_next(clip, sel);
}

static gboolean on_paste_timeout(gpointer data);

static gboolean on_drain_timeout(gpointer data)
{
    WlSel *s = data;
    s->drain_timer = 0;
    g_message("clipboard: the host never answered an abandoned %s paste: its answer is no longer awaited",
              vd_selection_to_string(s->index));
    s->drain_left = 0;
    paste_next(s->clip, s->index);
    return G_SOURCE_REMOVE;
}

static void paste_arm(WlPaste *p, unsigned ms)
{
    g_clear_handle_id(&p->timer, g_source_remove);
    p->timer = g_timeout_add(ms, on_paste_timeout, p);
}

/* Gives up on the client (gone, or not reading): the rest of the host's answer is dropped. */
static void paste_abandon(VdWlClipboard *clip, WlPaste *p, const char *why)
{
    WlSel *s = &clip->sel[p->sel];
    g_message("clipboard: %s paste of %s abandoned after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes: %s",
              vd_selection_to_string(p->sel), vd_clipboard_type_to_string(p->type), p->received - p->queued,
              p->total, why);
    paste_drop_pieces(clip, p);
    paste_close_fd(p);
    if (s->paste == p) {
        if (p->begun) {
            s->drain_left = p->total - p->received;
        } else {
            /* The BEGIN is still to come: drop its data too, if it comes at all. */
            s->drain_left = UINT64_MAX;
            s->drain_timer = g_timeout_add(VD_CLIP_HOST_TIMEOUT_MS, on_drain_timeout, s);
        }
        paste_host_done(clip, p->sel);
    } else {
        g_clear_handle_id(&p->timer, g_source_remove);
        paste_free(clip, p);
    }
}

static gboolean on_paste_writable(gint fd, GIOCondition cond, gpointer data);

/* Writes what the pipe takes. Returns false when p was freed. */
static bool paste_write(VdWlClipboard *clip, WlPaste *p)
{
    while (!g_queue_is_empty(&p->pieces)) {
        GBytes *b = g_queue_peek_head(&p->pieces);
        gsize len;
        const uint8_t *data = g_bytes_get_data(b, &len);
        ssize_t n = write(p->fd, data + p->piece_off, len - p->piece_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            paste_abandon(clip, p, errno == EPIPE ? "the client closed its pipe" : g_strerror(errno));
            return false;
        }
        p->piece_off += (size_t)n;
        p->queued -= (size_t)n;
        clip->queued_total -= (size_t)n;
        if (p->piece_off == len) {
            g_bytes_unref(g_queue_pop_head(&p->pieces));
            p->piece_off = 0;
        }
    }
    update_throttle(clip);
    bool host_done = clip->sel[p->sel].paste != p;
    if (g_queue_is_empty(&p->pieces)) {
        g_clear_handle_id(&p->io_watch, g_source_remove);
        if (host_done) {
            g_debug("clipboard: %s paste of %" G_GUINT64_FORMAT " bytes delivered", vd_selection_to_string(p->sel),
                    p->total);
            paste_free(clip, p);
            return false;
        }
    } else {
        if (!p->io_watch)
            p->io_watch = g_unix_fd_add(p->fd, G_IO_OUT | G_IO_ERR | G_IO_HUP, on_paste_writable, p);
        /* The client has VD_CLIP_REQUESTOR_TIMEOUT_MS to take each pipe's worth. */
        paste_arm(p, VD_CLIP_REQUESTOR_TIMEOUT_MS);
    }
    return true;
}

static gboolean on_paste_writable(gint fd, GIOCondition cond, gpointer data)
{
    WlPaste *p = data;
    p->io_watch = 0;
    paste_write(p->clip, p);
    return G_SOURCE_REMOVE;
}

static gboolean on_paste_timeout(gpointer data)
{
    WlPaste *p = data;
    VdWlClipboard *clip = p->clip;
    p->timer = 0;
    if (clip->sel[p->sel].paste == p && g_queue_is_empty(&p->pieces)) {
        g_warning("clipboard: the host did not answer a %s paste within %u s: the client gets %s",
                  vd_selection_to_string(p->sel), VD_CLIP_HOST_TIMEOUT_MS / 1000,
                  p->begun ? "a truncated answer" : "nothing");
        paste_abandon(clip, p, "the host is silent");
    } else {
        char why[64];
        g_snprintf(why, sizeof(why), "the client took nothing for %u s", VD_CLIP_REQUESTOR_TIMEOUT_MS / 1000);
        paste_abandon(clip, p, why);
    }
    return G_SOURCE_REMOVE;
}

/* Sends the next waiting paste's REQUEST, if the host is free. */
static void paste_next(VdWlClipboard *clip, unsigned sel)
{
    WlSel *s = &clip->sel[sel];
    while (!s->paste && s->drain_left == 0 && !g_queue_is_empty(&s->pastes)) {
        WlPaste *p = g_queue_pop_head(&s->pastes);
        if (p->fd < 0 || !talking(clip, sel)) {
            paste_free(clip, p);
            continue;
        }
        VdSessionMsg m = { .type = VD_S_CLIPBOARD_REQUEST };
        m.u.request.selection = (uint8_t)sel;
        m.u.request.type = p->type;
        if (send_msg(clip, &m) < 0) {
            paste_free(clip, p);
            continue;
        }
        s->paste = p;
        paste_arm(p, VD_CLIP_HOST_TIMEOUT_MS);
    }
}

/* Closes every paste of sel: those waiting and (all) the one with the host. */
static void paste_flush(VdWlClipboard *clip, unsigned sel)
{
    WlSel *s = &clip->sel[sel];
    WlPaste *p;
    while ((p = g_queue_pop_head(&s->pastes)))
        paste_free(clip, p);
    if (s->paste) {
        p = s->paste;
        s->paste = NULL;
        paste_free(clip, p);
    }
    s->drain_left = 0;
    g_clear_handle_id(&s->drain_timer, g_source_remove);
}

static void on_source_send(void *data, struct wl_proxy *source, const char *mime_type, int32_t fd)
{
    WlSel *s = data;
    VdWlClipboard *clip = s->clip;
    uint32_t type = mime_to_type(mime_type);
    bool offered = false;
    for (unsigned i = 0; i < s->n_host_types; i++)
        offered |= s->host_types[i] == type;
    if (source != s->source || type == VD_CLIPBOARD_NONE || !offered || !talking(clip, s->index)) {
        g_message("clipboard: a client asked our %s offer for \"%s\", which we cannot serve now: closed",
                  vd_selection_to_string(s->index), mime_type);
        close(fd);
        return;
    }
    if (g_queue_get_length(&s->pastes) >= VD_CLIP_PENDING_MAX) {
        g_message("clipboard: %u %s pastes already wait for the host: one more refused", VD_CLIP_PENDING_MAX,
                  vd_selection_to_string(s->index));
        close(fd);
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        close(fd);
        return;
    }
    WlPaste *p = g_new0(WlPaste, 1);
    p->clip = clip;
    p->sel = s->index;
    p->fd = fd;
    p->type = type;
    p->mime = g_strdup(mime_type);
    g_queue_init(&p->pieces);
    g_debug("clipboard: a client pastes %s as \"%s\"", vd_selection_to_string(s->index), mime_type);
    g_queue_push_tail(&s->pastes, p);
    paste_next(clip, s->index);
}

static void on_source_cancelled(void *data, struct wl_proxy *source)
{
    WlSel *s = data;
    if (source != s->source) {
        vd_dc_source_destroy(source);
        return;
    }
    g_debug("clipboard: our %s offer was replaced", vd_selection_to_string(s->index));
    vd_dc_source_destroy(s->source);
    s->source = NULL;
    if (s->owner == OWNER_HOST)
        s->owner = OWNER_NONE;
    s->n_host_types = 0;
    /* Pastes already asked for still get their data: the client asked while we were the owner. */
}

static const VdDcSourceListener source_listener = {
    .send = on_source_send,
    .cancelled = on_source_cancelled,
};

/* Stops offering sel for the host; clear: also empty the selection if it is still ours. */
static void drop_source(VdWlClipboard *clip, unsigned sel, bool clear)
{
    WlSel *s = &clip->sel[sel];
    if (s->source) {
        if (clear)
            vd_dc_device_set(clip->device, sel == VD_SELECTION_PRIMARY, NULL);
        vd_dc_source_destroy(s->source);
        s->source = NULL;
    }
    if (s->owner == OWNER_HOST)
        s->owner = OWNER_NONE;
    s->n_host_types = 0;
}

static void on_host_grab(VdWlClipboard *clip, const VdClipboardGrab *grab)
{
    unsigned sel = grab->selection;
    if (sel >= N_SEL || !talking(clip, sel)) {
        g_debug("clipboard: host grab of %s ignored (not bridged now)", vd_selection_to_string(sel));
        return;
    }
    WlSel *s = &clip->sel[sel];
    uint32_t types[VD_LIMIT_GRAB_TYPES];
    unsigned n = 0;
    for (uint32_t i = 0; i < grab->n_types && i < VD_LIMIT_GRAB_TYPES; i++) {
        const char *mimes[8];
        if (type_to_mimes(grab->types[i], mimes) == 0) {
            g_debug("clipboard: host type %u (%s) ignored", grab->types[i], vd_clipboard_type_to_string(grab->types[i]));
            continue;
        }
        types[n++] = grab->types[i];
    }
    if (n == 0) {
        g_debug("clipboard: host grab of %s with nothing we can offer: clearing it", vd_selection_to_string(sel));
        drop_source(clip, sel, s->owner == OWNER_HOST);
        return;
    }
    struct wl_proxy *source = vd_dc_create_source(clip->dc, &source_listener, s);
    for (unsigned i = 0; i < n; i++) {
        const char *mimes[8];
        unsigned m = type_to_mimes(types[i], mimes);
        for (unsigned j = 0; j < m; j++)
            vd_dc_source_offer(source, mimes[j]);
    }
    /* The old source (if any) stays until the compositor cancels it: destroying it while it is
     * the selection would clear the selection first, for every client to see. */
    s->source = source;
    memcpy(s->host_types, types, n * sizeof(types[0]));
    s->n_host_types = n;
    s->owner = OWNER_HOST;
    s->announced = false;
    if (s->offer) {
        offer_free(s->offer);
        s->offer = NULL;
    }
    vd_dc_device_set(clip->device, sel == VD_SELECTION_PRIMARY, source);
    g_debug("clipboard: offer %s for the host (%u types)", vd_selection_to_string(sel), n);
}

static void on_host_data(VdWlClipboard *clip, const VdSessionMsg *msg)
{
    unsigned sel = msg->type == VD_S_CLIPBOARD_BEGIN ? msg->u.begin.selection
                   : msg->type == VD_S_CLIPBOARD_DATA ? msg->u.data.selection
                                                      : msg->u.abort.selection;
    if (sel >= N_SEL)
        return;
    WlSel *s = &clip->sel[sel];
    if (s->drain_left) {
        /* The rest of an answer whose client is gone. */
        g_clear_handle_id(&s->drain_timer, g_source_remove);
        if (msg->type == VD_S_CLIPBOARD_BEGIN)
            s->drain_left = msg->u.begin.total;
        else if (msg->type == VD_S_CLIPBOARD_DATA)
            s->drain_left -= MIN(s->drain_left, (uint64_t)msg->u.data.len);
        else
            s->drain_left = 0;
        if (s->drain_left == 0)
            paste_next(clip, sel);
        return;
    }
    WlPaste *p = s->paste;
    if (!p) {
        g_debug("clipboard: host %s for %s, which nobody asked for: ignored", vd_session_msg_type_to_string(msg->type),
                vd_selection_to_string(sel));
        return;
    }
    switch (msg->type) {
    case VD_S_CLIPBOARD_BEGIN:
        if (p->begun) {
            g_message("clipboard: a second BEGIN in the middle of a %s paste: paste abandoned", vd_selection_to_string(sel));
            s->drain_left = 0;
            paste_abandon(clip, p, "the host started over");
            return;
        }
        if (msg->u.begin.type != p->type) {
            g_message("clipboard: the host answered %s with %s, not %s: nothing pasted", vd_selection_to_string(sel),
                      vd_clipboard_type_to_string(msg->u.begin.type), vd_clipboard_type_to_string(p->type));
            p->begun = true;
            p->total = msg->u.begin.total;
            paste_abandon(clip, p, "wrong type");
            return;
        }
        p->begun = true;
        p->total = msg->u.begin.total;
        if (p->total == 0) {
            g_message("clipboard: the host has no %s data for a %s paste: the client gets nothing",
                      vd_clipboard_type_to_string(p->type), vd_selection_to_string(sel));
            paste_close_fd(p);
            paste_host_done(clip, sel);
            return;
        }
        paste_arm(p, VD_CLIP_HOST_TIMEOUT_MS);
        return;
    case VD_S_CLIPBOARD_DATA: {
        if (!p->begun || msg->u.data.len > p->total - p->received) {
            g_message("clipboard: host data for %s %s: paste abandoned", vd_selection_to_string(sel),
                      p->begun ? "beyond its announced size" : "before its BEGIN");
            p->begun = true;
            p->total = p->received;
            paste_abandon(clip, p, "bad host data");
            return;
        }
        size_t len = msg->u.data.len;
        p->received += len;
        bool last = p->received == p->total;
        if (last)
            len = vd_clip_host_tail_keep(p->type, msg->u.data.data, len);
        if (p->fd >= 0 && len > 0) {
            const uint8_t *data = msg->u.data.data;
            size_t off = 0;
            if (g_queue_is_empty(&p->pieces)) {
                /* Straight into the pipe when it takes it: no copy. */
                while (off < len) {
                    ssize_t n = write(p->fd, data + off, len - off);
                    if (n < 0 && errno == EINTR)
                        continue;
                    if (n < 0 && errno == EAGAIN)
                        break;
                    if (n < 0) {
                        paste_abandon(clip, p, errno == EPIPE ? "the client closed its pipe" : g_strerror(errno));
                        return;
                    }
                    off += (size_t)n;
                }
            }
            if (off < len) {
                g_queue_push_tail(&p->pieces, g_bytes_new(data + off, len - off));
                p->queued += len - off;
                clip->queued_total += len - off;
                if (clip->queued_total > VD_CLIP_STREAM_BUFFER_MAX && !clip->host.throttle) {
                    paste_abandon(clip, p, "too much host data ahead of the client");
                    return;
                }
            }
        }
        if (last) {
            bool pending = p->fd >= 0 && !g_queue_is_empty(&p->pieces);
            paste_host_done(clip, sel); /* frees p unless pending */
            if (pending)
                paste_write(clip, p); /* arms the watch and the client's timer */
        } else if (p->fd >= 0 && !g_queue_is_empty(&p->pieces)) {
            paste_write(clip, p);
        } else {
            paste_arm(p, VD_CLIP_HOST_TIMEOUT_MS);
        }
        update_throttle(clip);
        return;
    }
    case VD_S_CLIPBOARD_ABORT:
        g_message("clipboard: the host aborted a %s paste after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                  vd_selection_to_string(sel), p->received, p->total);
        paste_drop_pieces(clip, p);
        paste_close_fd(p);
        paste_host_done(clip, sel);
        return;
    default:
        /* The message dispatch sends only the three above here. */
        g_critical("clipboard: BUG: %s reached the host data path", vd_session_msg_type_to_string(msg->type));
        return;
    }
}

/* ============ guest -> host: offers, fetches ============ */

static void fetch_next(VdWlClipboard *clip, unsigned sel);

static void fetch_free(WlFetch *f)
{
    if (!f)
        return;
    g_clear_handle_id(&f->io_watch, g_source_remove);
    g_clear_handle_id(&f->timer, g_source_remove);
    g_clear_handle_id(&f->pace_timer, g_source_remove);
    if (f->fd >= 0)
        close(f->fd);
    g_queue_clear_full(&f->blocks, (GDestroyNotify)g_byte_array_unref);
    if (f->cur)
        g_byte_array_unref(f->cur);
    g_free(f);
}

/* Ends the fetch in flight; failed ones the host waits for get an empty answer (or an ABORT). */
static void fetch_end(VdWlClipboard *clip, unsigned sel, bool failed)
{
    WlSel *s = &clip->sel[sel];
    WlFetch *f = s->fetch;
    if (!f)
        return;
    s->fetch = NULL;
    if (failed) {
        if (!f->sending) {
            reply_empty(clip, sel, f->type);
        } else {
            VdSessionMsg m = { .type = VD_S_CLIPBOARD_ABORT };
            m.u.abort.selection = (uint8_t)sel;
            send_msg(clip, &m);
        }
    }
    fetch_free(f);
    fetch_next(clip, sel);
}

static void fetch_pump(VdWlClipboard *clip, unsigned sel);

static gboolean on_fetch_pace(gpointer data)
{
    WlSel *s = data;
    if (s->fetch)
        s->fetch->pace_timer = 0;
    fetch_pump(s->clip, s->index);
    return G_SOURCE_REMOVE;
}

static void fetch_pump(VdWlClipboard *clip, unsigned sel)
{
    WlSel *s = &clip->sel[sel];
    WlFetch *f = s->fetch;
    if (!f || !f->sending)
        return;
    while (f->sent < f->received) {
        if (clip->host.queued(clip->user_data) >= VD_CLIP_SEND_QUEUE_MAX) {
            /* writable() resumes us; the timer only guards against a lost wakeup. */
            if (!f->pace_timer)
                f->pace_timer = g_timeout_add(100, on_fetch_pace, s);
            return;
        }
        if (!f->cur || f->cur_off == f->cur->len) {
            if (f->cur)
                g_byte_array_unref(f->cur);
            f->cur = g_queue_pop_head(&f->blocks);
            f->cur_off = 0;
            if (!f->cur)
                break;
            continue;
        }
        size_t piece = MIN(f->cur->len - f->cur_off, (size_t)VD_IPC_MAX_PIECE);
        VdSessionMsg m = { .type = VD_S_CLIPBOARD_DATA };
        m.u.data.selection = (uint8_t)sel;
        m.u.data.data = f->cur->data + f->cur_off;
        m.u.data.len = piece;
        if (send_msg(clip, &m) < 0) {
            fetch_end(clip, sel, false);
            return;
        }
        f->cur_off += piece;
        f->sent += piece;
    }
    g_debug("clipboard: sent %" G_GUINT64_FORMAT " bytes of %s to the host", f->sent, vd_selection_to_string(sel));
    fetch_end(clip, sel, false);
}

static void fetch_send(VdWlClipboard *clip, unsigned sel)
{
    WlFetch *f = clip->sel[sel].fetch;
    g_clear_handle_id(&f->io_watch, g_source_remove);
    g_clear_handle_id(&f->timer, g_source_remove);
    close(f->fd);
    f->fd = -1;
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_BEGIN };
    m.u.begin.selection = (uint8_t)sel;
    m.u.begin.type = f->type;
    m.u.begin.total = f->received;
    if (send_msg(clip, &m) < 0) {
        fetch_end(clip, sel, false);
        return;
    }
    f->sending = true;
    fetch_pump(clip, sel);
}

static gboolean on_fetch_timeout(gpointer data)
{
    WlSel *s = data;
    WlFetch *f = s->fetch;
    f->timer = 0;
    g_warning("clipboard: the %s owner sent nothing for %u s (%" G_GUINT64_FORMAT " bytes so far): the host gets an "
              "empty answer",
              vd_selection_to_string(s->index), VD_CLIP_OWNER_TIMEOUT_MS / 1000, f->received);
    fetch_end(s->clip, s->index, true);
    return G_SOURCE_REMOVE;
}

static gboolean on_fetch_readable(gint fd, GIOCondition cond, gpointer data)
{
    WlSel *s = data;
    VdWlClipboard *clip = s->clip;
    WlFetch *f = s->fetch;
    for (;;) {
        GByteArray *b = g_queue_peek_tail(&f->blocks);
        if (!b || b->len == VD_WL_READ_BLOCK) {
            b = g_byte_array_sized_new(VD_WL_READ_BLOCK);
            g_queue_push_tail(&f->blocks, b);
        }
        size_t room = VD_WL_READ_BLOCK - b->len;
        ssize_t n = read(fd, b->data + b->len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            g_message("clipboard: reading the %s owner's data failed: %s: the host gets an empty answer",
                      vd_selection_to_string(s->index), g_strerror(errno));
            f->io_watch = 0;
            fetch_end(clip, s->index, true);
            return G_SOURCE_REMOVE;
        }
        if (n == 0) {
            f->io_watch = 0;
            fetch_send(clip, s->index);
            return G_SOURCE_REMOVE;
        }
        g_byte_array_set_size(b, b->len + (guint)n);
        f->received += (uint64_t)n;
        if (f->received > guest_limit(clip)) {
            g_message("clipboard: %s data of more than %" G_GUINT64_FORMAT " bytes exceeds the limit (MAX_CLIPBOARD): "
                      "the host gets an empty answer",
                      vd_selection_to_string(s->index), guest_limit(clip));
            f->io_watch = 0;
            fetch_end(clip, s->index, true);
            return G_SOURCE_REMOVE;
        }
    }
    g_clear_handle_id(&f->timer, g_source_remove);
    f->timer = g_timeout_add(VD_CLIP_OWNER_TIMEOUT_MS, on_fetch_timeout, s);
    return G_SOURCE_CONTINUE;
}

/* Starts the next host request the owner can answer, if none is in flight. */
static void fetch_next(VdWlClipboard *clip, unsigned sel)
{
    WlSel *s = &clip->sel[sel];
    while (!s->fetch && !g_queue_is_empty(&s->host_requests)) {
        uint32_t type = GPOINTER_TO_UINT(g_queue_pop_head(&s->host_requests));
        if (s->owner != OWNER_GUEST || !s->offer || !talking(clip, sel)) {
            g_message("clipboard: the host asked for %s data, which the guest does not own now: empty answer",
                      vd_selection_to_string(sel));
            reply_empty(clip, sel, type);
            continue;
        }
        const char *mime = best_mime(s->offer, type);
        if (!mime) {
            g_message("clipboard: the host asked for %s, which the %s owner does not offer: empty answer",
                      vd_clipboard_type_to_string(type), vd_selection_to_string(sel));
            reply_empty(clip, sel, type);
            continue;
        }
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
            g_warning("clipboard: no pipe for a %s transfer: %s", vd_selection_to_string(sel), g_strerror(errno));
            reply_empty(clip, sel, type);
            continue;
        }
        vd_dc_offer_receive(s->offer->proxy, mime, fds[1]);
        close(fds[1]); /* the owner has its copy once the request is flushed (prepare() does) */
        WlFetch *f = g_new0(WlFetch, 1);
        f->sel = sel;
        f->type = type;
        f->fd = fds[0];
        g_queue_init(&f->blocks);
        f->io_watch = g_unix_fd_add(f->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_fetch_readable, s);
        f->timer = g_timeout_add(VD_CLIP_OWNER_TIMEOUT_MS, on_fetch_timeout, s);
        s->fetch = f;
        g_debug("clipboard: asked the %s owner for \"%s\"", vd_selection_to_string(sel), mime);
    }
}

static void fetch_cancel(VdWlClipboard *clip, unsigned sel, bool reply)
{
    WlSel *s = &clip->sel[sel];
    WlFetch *f = s->fetch;
    if (f) {
        s->fetch = NULL;
        if (reply) {
            if (f->sending) {
                VdSessionMsg m = { .type = VD_S_CLIPBOARD_ABORT };
                m.u.abort.selection = (uint8_t)sel;
                send_msg(clip, &m);
            } else {
                reply_empty(clip, sel, f->type);
            }
        }
        fetch_free(f);
    }
    while (!g_queue_is_empty(&s->host_requests)) {
        uint32_t type = GPOINTER_TO_UINT(g_queue_pop_head(&s->host_requests));
        if (reply)
            reply_empty(clip, sel, type);
    }
}

static void on_host_request(VdWlClipboard *clip, unsigned sel, uint32_t type)
{
    if (sel >= N_SEL) {
        reply_empty(clip, sel, type);
        return;
    }
    WlSel *s = &clip->sel[sel];
    if (g_queue_get_length(&s->host_requests) >= VD_CLIP_HOST_PENDING_MAX) {
        g_message("clipboard: %u host requests for %s already wait: one more answered empty at once",
                  VD_CLIP_HOST_PENDING_MAX, vd_selection_to_string(sel));
        reply_empty(clip, sel, type);
        return;
    }
    g_queue_push_tail(&s->host_requests, GUINT_TO_POINTER(type));
    fetch_next(clip, sel);
}

/* Tells the host what the guest's offer on sel carries. */
static void announce(VdWlClipboard *clip, unsigned sel)
{
    WlSel *s = &clip->sel[sel];
    VdClipboardGrab g = { .selection = (uint8_t)sel };
    for (unsigned i = 0; s->offer && i < s->offer->mimes->len; i++)
        vd_clip_grab_add(&g, mime_to_type(g_ptr_array_index(s->offer->mimes, i)));
    if (g.n_types > 0) {
        VdSessionMsg m = { .type = VD_S_CLIPBOARD_GRAB };
        m.u.grab = g;
        /* No RELEASE first: a GRAB replaces what we announced before (NO_RELEASE_ON_REGRAB). */
        if (send_msg(clip, &m) == 0)
            s->announced = true;
        g_debug("clipboard: announced %s with %u types", vd_selection_to_string(sel), g.n_types);
    } else if (s->announced) {
        VdSessionMsg m = { .type = VD_S_CLIPBOARD_RELEASE };
        m.u.release.selection = (uint8_t)sel;
        send_msg(clip, &m);
        s->announced = false;
        g_debug("clipboard: the new %s owner offers nothing we bridge: released", vd_selection_to_string(sel));
    }
}

static void on_offer_mime(void *data, struct wl_proxy *proxy, const char *mime_type)
{
    WlOffer *offer = data;
    if (offer->mimes->len >= VD_WL_MIMES_MAX) {
        if (!offer->truncated)
            g_message("clipboard: an offer with more than %u MIME types: \"%s\" and the rest ignored",
                      VD_WL_MIMES_MAX, mime_type);
        offer->truncated = true;
        return;
    }
    g_ptr_array_add(offer->mimes, g_strdup(mime_type));
}

static const VdDcOfferListener offer_listener = {
    .offer = on_offer_mime,
};

static void on_data_offer(void *data, struct wl_proxy *device, struct wl_proxy *proxy)
{
    VdWlClipboard *clip = data;
    WlOffer *offer = g_new0(WlOffer, 1);
    offer->proxy = proxy;
    offer->mimes = g_ptr_array_new_with_free_func(g_free);
    vd_dc_offer_listen(proxy, &offer_listener, offer);
    offer_free(clip->incoming); /* never named by a selection event: not ours to keep */
    clip->incoming = offer;
}

static void on_selection_change(VdWlClipboard *clip, unsigned sel, struct wl_proxy *proxy)
{
    WlOffer *offer = NULL;
    if (proxy && clip->incoming && clip->incoming->proxy == proxy) {
        offer = clip->incoming;
        clip->incoming = NULL;
    } else if (proxy) {
        /* An offer we were not introduced to cannot be read: treat it as unknown. */
        g_debug("clipboard: %s selection names an unknown offer: ignored", vd_selection_to_string(sel));
        return;
    }
    WlSel *s = &clip->sel[sel];
    if (sel >= N_SEL) {
        offer_free(offer);
        return;
    }
    if (s->source) {
        /* Our source is the selection (the compositor cancels it before announcing another
         * client's): this is our own offer echoed back, or an older event our set_selection
         * overtook. The host owns the selection: nothing to announce. */
        offer_free(offer);
        return;
    }
    /* Another client's selection (or none): what the host offered is gone. */
    if (s->owner == OWNER_HOST)
        drop_source(clip, sel, false);
    fetch_cancel(clip, sel, talking(clip, sel));
    offer_free(s->offer);
    s->offer = offer;
    if (offer) {
        s->owner = OWNER_GUEST;
        g_debug("clipboard: %s now owned by a client (%u MIME types)", vd_selection_to_string(sel), offer->mimes->len);
        if (talking(clip, sel))
            announce(clip, sel);
    } else {
        s->owner = OWNER_NONE;
        g_debug("clipboard: %s cleared", vd_selection_to_string(sel));
        if (s->announced && talking(clip, sel)) {
            VdSessionMsg m = { .type = VD_S_CLIPBOARD_RELEASE };
            m.u.release.selection = (uint8_t)sel;
            send_msg(clip, &m);
        }
        s->announced = false;
    }
}

static void on_selection(void *data, struct wl_proxy *device, struct wl_proxy *offer)
{
    on_selection_change(data, VD_SELECTION_CLIPBOARD, offer);
}

static void on_primary_selection(void *data, struct wl_proxy *device, struct wl_proxy *offer)
{
    on_selection_change(data, VD_SELECTION_PRIMARY, offer);
}

static void on_device_finished(void *data, struct wl_proxy *device)
{
    VdWlClipboard *clip = data;
    g_message("clipboard: the compositor ended our data-control device (the seat is gone): no more clipboard");
    for (unsigned i = 0; i < N_SEL; i++) {
        fetch_cancel(clip, i, true);
        paste_flush(clip, i);
        drop_source(clip, i, false);
        offer_free(clip->sel[i].offer);
        clip->sel[i].offer = NULL;
        clip->sel[i].owner = OWNER_NONE;
    }
    vd_dc_device_destroy(clip->device);
    clip->device = NULL;
}

static const VdDcDeviceListener device_listener = {
    .data_offer = on_data_offer,
    .selection = on_selection,
    .finished = on_device_finished,
    .primary_selection = on_primary_selection,
};

/* Brings each selection in line with whether we may talk to the host about it now. */
static void resync(VdWlClipboard *clip)
{
    for (unsigned i = 0; i < N_SEL; i++) {
        WlSel *s = &clip->sel[i];
        bool now = talking(clip, i) && clip->device;
        if (!now) {
            if (s->owner == OWNER_HOST)
                drop_source(clip, i, true);
            paste_flush(clip, i);
            fetch_cancel(clip, i, can_talk(clip));
            s->announced = false;
        } else if (!s->talking && s->owner == OWNER_GUEST) {
            announce(clip, i);
        }
        s->talking = now;
    }
    update_throttle(clip);
}

/* --- the operations --- */

static void op_handle_msg(void *data, const VdSessionMsg *msg)
{
    VdWlClipboard *clip = data;
    if (!clip->device)
        return;
    switch (msg->type) {
    case VD_S_CLIPBOARD_GRAB:
        on_host_grab(clip, &msg->u.grab);
        break;
    case VD_S_CLIPBOARD_RELEASE:
        if (msg->u.release.selection < N_SEL) {
            WlSel *s = &clip->sel[msg->u.release.selection];
            if (s->owner == OWNER_HOST)
                drop_source(clip, msg->u.release.selection, true);
            paste_flush(clip, msg->u.release.selection);
        }
        break;
    case VD_S_CLIPBOARD_REQUEST:
        on_host_request(clip, msg->u.request.selection, msg->u.request.type);
        break;
    case VD_S_CLIPBOARD_BEGIN:
    case VD_S_CLIPBOARD_DATA:
    case VD_S_CLIPBOARD_ABORT:
        on_host_data(clip, msg);
        break;
    default:
        break;
    }
}

static void op_set_host_state(void *data, bool connected, const VdCaps *caps, int32_t max_clipboard)
{
    VdWlClipboard *clip = data;
    if (caps)
        clip->caps = *caps;
    else
        memset(&clip->caps, 0, sizeof(clip->caps));
    clip->max_clipboard = max_clipboard;
    clip->host_connected = connected;
    g_debug("clipboard: host %s, PRIMARY %s, max %d", connected ? "connected" : "gone",
            bridged(clip, VD_SELECTION_PRIMARY) ? "bridged" : "not bridged", max_clipboard);
    resync(clip);
}

static void op_set_active(void *data, bool active)
{
    VdWlClipboard *clip = data;
    clip->active = active;
    resync(clip);
}

static void op_link_up(void *data)
{
    VdWlClipboard *clip = data;
    clip->link_up = true;
    resync(clip);
}

static void op_link_down(void *data)
{
    VdWlClipboard *clip = data;
    clip->link_up = false;
    clip->host_connected = false; /* a new daemon tells us afresh */
    resync(clip);
}

static void op_writable(void *data)
{
    VdWlClipboard *clip = data;
    for (unsigned i = 0; i < N_SEL; i++)
        fetch_pump(clip, i);
}

const VdClipboardOps vd_wl_clipboard_ops = {
    .handle_msg = op_handle_msg,
    .set_host_state = op_set_host_state,
    .set_active = op_set_active,
    .link_up = op_link_up,
    .link_down = op_link_down,
    .writable = op_writable,
};

VdWlClipboard *vd_wl_clipboard_new(VdDc *dc, struct wl_seat *seat, const VdBackendHost *host, void *user_data)
{
    g_return_val_if_fail(dc && host, NULL);
    VdWlClipboard *clip = g_new0(VdWlClipboard, 1);
    clip->dc = dc;
    clip->host = *host;
    clip->user_data = user_data;
    clip->max_clipboard = -1;
    clip->active = true;
    for (unsigned i = 0; i < N_SEL; i++) {
        clip->sel[i].clip = clip;
        clip->sel[i].index = i;
        g_queue_init(&clip->sel[i].host_requests);
        g_queue_init(&clip->sel[i].pastes);
    }
    clip->device = vd_dc_get_device(dc, seat, &device_listener, clip);
    return clip;
}

void vd_wl_clipboard_free(VdWlClipboard *clip)
{
    if (!clip)
        return;
    clip->link_up = false;
    clip->host.throttle = NULL;
    for (unsigned i = 0; i < N_SEL; i++) {
        fetch_cancel(clip, i, false);
        paste_flush(clip, i);
        drop_source(clip, i, false);
        offer_free(clip->sel[i].offer);
    }
    while (clip->delivering)
        paste_free(clip, clip->delivering->data);
    offer_free(clip->incoming);
    vd_dc_device_destroy(clip->device);
    g_free(clip);
}
