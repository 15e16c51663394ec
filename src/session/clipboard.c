/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard.c — the clipboard's lifecycle and who owns what.
 *
 * Tracks, per selection (CLIPBOARD, and PRIMARY when CLIPBOARD_SELECTION was negotiated), whether
 * the host or an X client owns it. A host grab makes us the X owner, with a real server timestamp
 * obtained by a PropertyNotify round trip on our own window; an X owner change (XFixes) makes us ask
 * the new owner's TARGETS and announce them to the host. Data moves only on demand, in
 * clipboard-serve.c (host -> guest) and clipboard-fetch.c (guest -> host). Nothing here waits: every
 * reply comes back as an event.
 */
#include "clipboard-private.h"

#include <X11/extensions/Xfixes.h>
#include <gio/gio.h>
#include <errno.h>
#include <string.h>

const char *vd_owner_to_string(VdOwner owner)
{
    switch (owner) {
    case VD_OWNER_NONE:
        return "NONE";
    case VD_OWNER_HOST:
        return "HOST";
    case VD_OWNER_GUEST:
        return "GUEST";
    }
    return "UNKNOWN";
}

bool vd_clip_can_talk(const VdXClipboard *clip)
{
    return clip->link_up && clip->host_connected && clip->active;
}

bool vd_clip_sel_bridged(const VdXClipboard *clip, unsigned sel)
{
    if (sel == VD_SELECTION_CLIPBOARD)
        return true;
    return sel == VD_SELECTION_PRIMARY && vd_caps_has(&clip->caps, VD_CAP_CLIPBOARD_SELECTION);
}

static bool talking(const VdXClipboard *clip, unsigned sel)
{
    return vd_clip_can_talk(clip) && vd_clip_sel_bridged(clip, sel);
}

int vd_clip_send(VdXClipboard *clip, const VdSessionMsg *msg)
{
    if (!clip->link_up)
        return -ENOTCONN;
    int r = clip->sink.send(msg, clip->user_data);
    if (r < 0)
        g_debug("clipboard: could not queue %s for the daemon: %s", vd_session_msg_type_to_string(msg->type),
                g_strerror(-r));
    return r;
}

static int sel_from_atom(const VdXClipboard *clip, Atom atom)
{
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++)
        if (clip->atoms.selection[i] == atom)
            return (int)i;
    return -1;
}

/* --- ownership on behalf of the host --- */

static void request_stamp(VdXClipboard *clip)
{
    if (clip->stamp_pending)
        return;
    /* A zero-length append changes nothing but still produces a PropertyNotify carrying the
     * server's time: the honest timestamp ICCCM asks owners to use. */
    XChangeProperty(clip->dpy, clip->win, clip->atoms.stamp, XA_INTEGER, 32, PropModeAppend, NULL, 0);
    clip->stamp_pending = true;
}

static void give_up_ownership(VdXClipboard *clip, unsigned sel)
{
    VdClipSel *s = &clip->sel[sel];
    s->want_own = false;
    if (s->owner == VD_OWNER_HOST) {
        /* Our own timestamp: if someone took the selection since, this changes nothing. */
        XSetSelectionOwner(clip->dpy, clip->atoms.selection[sel], None, s->own_time);
        s->owner = VD_OWNER_NONE;
    }
    s->n_host_types = 0;
    vd_clip_serve_flush(clip, sel, false);
}

static void take_ownership(VdXClipboard *clip, unsigned sel, Time time)
{
    VdClipSel *s = &clip->sel[sel];
    s->want_own = false;
    Atom atom = clip->atoms.selection[sel];
    XSetSelectionOwner(clip->dpy, atom, clip->win, time);
    if (XGetSelectionOwner(clip->dpy, atom) != clip->win) {
        g_warning("clipboard: could not take the %s selection for the host; its grab is ignored",
                  vd_selection_to_string(sel));
        s->owner = VD_OWNER_NONE;
        s->n_host_types = 0;
        vd_clip_serve_flush(clip, sel, false);
        return;
    }
    s->owner = VD_OWNER_HOST;
    s->own_time = time;
    s->guest_owner = None;
    s->announced = false; /* the host's grab superseded what we announced */
    g_debug("clipboard: own %s for the host (time %lu, %u types)", vd_selection_to_string(sel),
            (unsigned long)time, s->n_host_types);
}

static void on_stamp(VdXClipboard *clip, Time time)
{
    clip->stamp_pending = false;
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++)
        if (clip->sel[i].want_own && talking(clip, i))
            take_ownership(clip, i, time);
}

static void on_host_grab(VdXClipboard *clip, const VdClipboardGrab *grab)
{
    unsigned sel = grab->selection;
    if (sel >= VD_CLIP_N_SEL || !talking(clip, sel)) {
        g_debug("clipboard: host grab of %s ignored (not bridged now)", vd_selection_to_string(sel));
        return;
    }
    VdClipSel *s = &clip->sel[sel];
    uint32_t n = 0;
    for (uint32_t i = 0; i < grab->n_types && i < VD_LIMIT_GRAB_TYPES; i++) {
        uint32_t t = grab->types[i];
        if (t == VD_CLIPBOARD_NONE || t >= VD_CLIPBOARD_END || t == VD_CLIPBOARD_FILE_LIST) {
            g_debug("clipboard: host type %u (%s) ignored", t, vd_clipboard_type_to_string(t));
            continue;
        }
        s->host_types[n++] = t;
    }
    if (n == 0) {
        /* QEMU grabs with zero types when its clipboard is empty: nothing to offer. */
        g_debug("clipboard: host grab of %s with nothing we can offer: releasing it",
                vd_selection_to_string(sel));
        give_up_ownership(clip, sel);
        return;
    }
    s->n_host_types = n;
    s->want_own = true;
    request_stamp(clip);
}

static void on_host_release(VdXClipboard *clip, unsigned sel)
{
    if (sel >= VD_CLIP_N_SEL)
        return;
    VdClipSel *s = &clip->sel[sel];
    if (s->owner != VD_OWNER_HOST && !s->want_own) {
        g_debug("clipboard: host release of %s, which it did not own here: ignored", vd_selection_to_string(sel));
        return;
    }
    give_up_ownership(clip, sel);
}

/* Someone else took a selection we owned for the host. */
static void on_selection_clear(VdXClipboard *clip, const XSelectionClearEvent *ev)
{
    int sel = sel_from_atom(clip, ev->selection);
    if (sel < 0)
        return;
    VdClipSel *s = &clip->sel[sel];
    if (s->owner != VD_OWNER_HOST)
        return;
    g_debug("clipboard: lost %s to another X client", vd_selection_to_string((unsigned)sel));
    s->owner = VD_OWNER_NONE;
    s->n_host_types = 0;
    vd_clip_serve_flush(clip, (unsigned)sel, false);
}

/* --- the guest's owners --- */

static void announce_guest_owner(VdXClipboard *clip, unsigned sel, Window owner, Time time)
{
    VdClipSel *s = &clip->sel[sel];
    if (s->owner == VD_OWNER_HOST) {
        /* XFixes told us before SelectionClear did: the host's offer is gone all the same. */
        s->n_host_types = 0;
        vd_clip_serve_flush(clip, sel, false);
    }
    s->owner = VD_OWNER_GUEST;
    s->guest_owner = owner;
    s->guest_time = time;
    s->n_guest_targets = 0;
    if (talking(clip, sel))
        vd_clip_fetch_targets(clip, sel);
}

static void on_owner_gone(VdXClipboard *clip, unsigned sel)
{
    VdClipSel *s = &clip->sel[sel];
    vd_clip_fetch_owner_gone(clip, sel);
    if (s->owner != VD_OWNER_GUEST)
        return;
    s->owner = VD_OWNER_NONE;
    s->guest_owner = None;
    s->n_guest_targets = 0;
    if (s->announced && talking(clip, sel)) {
        VdSessionMsg m = {.type = VD_S_CLIPBOARD_RELEASE};
        m.u.release.selection = (uint8_t)sel;
        vd_clip_send(clip, &m);
    }
    s->announced = false;
}

static void on_fixes_notify(VdXClipboard *clip, const XFixesSelectionNotifyEvent *ev)
{
    int sel = sel_from_atom(clip, ev->selection);
    if (sel < 0)
        return;
    if (ev->owner == clip->win)
        return; /* ourselves, for the host */
    if (ev->subtype == XFixesSetSelectionOwnerNotify && ev->owner != None) {
        g_debug("clipboard: %s now owned by X window 0x%lx (was %s)", vd_selection_to_string((unsigned)sel),
                (unsigned long)ev->owner, vd_owner_to_string(clip->sel[sel].owner));
        announce_guest_owner(clip, (unsigned)sel, ev->owner, ev->selection_timestamp);
    } else {
        g_debug("clipboard: %s has no owner any more (was %s)", vd_selection_to_string((unsigned)sel),
                vd_owner_to_string(clip->sel[sel].owner));
        on_owner_gone(clip, (unsigned)sel);
    }
}

/* Brings each selection in line with whether we may talk to the host about it now: drops what
 * the host owned when it went away, re-announces what the guest owns when it comes (back). */
static void resync(VdXClipboard *clip)
{
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++) {
        VdClipSel *s = &clip->sel[i];
        bool now = talking(clip, i);
        if (!now) {
            give_up_ownership(clip, i);
            vd_clip_serve_flush(clip, i, true);
            vd_clip_fetch_cancel(clip, i, vd_clip_can_talk(clip));
            s->announced = false;
            if (s->owner == VD_OWNER_GUEST) {
                s->targets_wanted = false;
            }
        } else if (!s->talking) {
            Window owner = XGetSelectionOwner(clip->dpy, clip->atoms.selection[i]);
            if (owner != None && owner != clip->win)
                announce_guest_owner(clip, i, owner, CurrentTime);
        }
        s->talking = now;
    }
}

/* --- the API --- */

VdXClipboard *vd_xclipboard_new(Display *dpy, const VdXClipboardSink *sink, void *user_data, GError **error)
{
    g_return_val_if_fail(dpy && sink, NULL);
    int event_base, error_base, major = 0, minor = 0;
    if (!XFixesQueryExtension(dpy, &event_base, &error_base) || !XFixesQueryVersion(dpy, &major, &minor) ||
        major < 1) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "the X server has no XFixes extension (version 1 or later): no clipboard");
        return NULL;
    }
    VdXClipboard *clip = g_new0(VdXClipboard, 1);
    clip->dpy = dpy;
    clip->sink = *sink;
    clip->user_data = user_data;
    clip->fixes_event_base = event_base;
    clip->max_clipboard = -1;
    clip->active = true;
    vd_clip_atoms_init(dpy, &clip->atoms);

    /* Whole properties up to the server's request limit (minus the request header), capped. */
    long max_req = XExtendedMaxRequestSize(dpy);
    if (max_req <= 0)
        max_req = XMaxRequestSize(dpy);
    size_t max_bytes = (size_t)max_req * 4u;
    clip->x_chunk = MIN((size_t)VD_CLIP_X_CHUNK, max_bytes > 1024 ? max_bytes - 1024 : 4096);

    Window root = DefaultRootWindow(dpy);
    XSetWindowAttributes attrs = {.event_mask = PropertyChangeMask};
    clip->win = XCreateWindow(dpy, root, -10, -10, 1, 1, 0, 0, InputOnly, CopyFromParent, CWEventMask, &attrs);
    XStoreName(dpy, clip->win, "vdagent clipboard");
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++) {
        VdClipSel *s = &clip->sel[i];
        s->clip = clip;
        s->index = i;
        g_queue_init(&s->xreqs);
        g_queue_init(&s->host_requests);
        XFixesSelectSelectionInput(dpy, root, clip->atoms.selection[i],
                                   XFixesSetSelectionOwnerNotifyMask | XFixesSelectionWindowDestroyNotifyMask |
                                       XFixesSelectionClientCloseNotifyMask);
    }
    XFlush(dpy);
    return clip;
}

void vd_xclipboard_free(VdXClipboard *clip)
{
    if (!clip)
        return;
    /* The link may be gone already: tell it nothing more. */
    clip->link_up = false;
    clip->sink.throttle = NULL;
    for (unsigned i = 0; i < VD_CLIP_N_SEL; i++) {
        vd_clip_fetch_cancel(clip, i, false);
        give_up_ownership(clip, i);
    }
    vd_clip_serve_free_all(clip);
    XDestroyWindow(clip->dpy, clip->win);
    XFlush(clip->dpy);
    g_free(clip);
}

bool vd_xclipboard_handle_event(VdXClipboard *clip, XEvent *ev)
{
    g_return_val_if_fail(clip && ev, false);
    bool mine = true;
    if (ev->type == clip->fixes_event_base + XFixesSelectionNotify) {
        on_fixes_notify(clip, (XFixesSelectionNotifyEvent *)ev);
    } else {
        switch (ev->type) {
        case SelectionRequest:
            mine = ev->xselectionrequest.owner == clip->win;
            if (mine)
                vd_clip_serve_request(clip, &ev->xselectionrequest);
            break;
        case SelectionNotify:
            mine = ev->xselection.requestor == clip->win;
            if (mine)
                vd_clip_fetch_selection_notify(clip, &ev->xselection);
            break;
        case SelectionClear:
            mine = ev->xselectionclear.window == clip->win;
            if (mine)
                on_selection_clear(clip, &ev->xselectionclear);
            break;
        case PropertyNotify:
            if (ev->xproperty.window == clip->win) {
                if (ev->xproperty.atom == clip->atoms.stamp)
                    on_stamp(clip, ev->xproperty.time);
                else
                    vd_clip_fetch_property(clip, &ev->xproperty);
            } else {
                mine = vd_clip_serve_property(clip, &ev->xproperty);
            }
            break;
        default:
            mine = false;
            break;
        }
    }
    if (mine)
        XFlush(clip->dpy);
    return mine;
}

void vd_xclipboard_handle_msg(VdXClipboard *clip, const VdSessionMsg *msg)
{
    g_return_if_fail(clip && msg);
    switch (msg->type) {
    case VD_S_CLIPBOARD_GRAB:
        on_host_grab(clip, &msg->u.grab);
        break;
    case VD_S_CLIPBOARD_RELEASE:
        on_host_release(clip, msg->u.release.selection);
        break;
    case VD_S_CLIPBOARD_REQUEST:
        if (msg->u.request.selection < VD_CLIP_N_SEL) {
            vd_clip_fetch_host_request(clip, msg->u.request.selection, msg->u.request.type);
        } else {
            VdSessionMsg m = {.type = VD_S_CLIPBOARD_BEGIN};
            m.u.begin.selection = msg->u.request.selection;
            m.u.begin.type = msg->u.request.type;
            vd_clip_send(clip, &m);
        }
        break;
    case VD_S_CLIPBOARD_BEGIN:
    case VD_S_CLIPBOARD_DATA:
    case VD_S_CLIPBOARD_ABORT:
        vd_clip_serve_host_msg(clip, msg);
        break;
    default:
        g_debug("clipboard: %s is not a clipboard message: ignored", vd_session_msg_type_to_string(msg->type));
        break;
    }
    XFlush(clip->dpy);
}

void vd_xclipboard_set_host_state(VdXClipboard *clip, bool connected, const VdCaps *caps, int32_t max_clipboard)
{
    g_return_if_fail(clip);
    bool was_primary = vd_caps_has(&clip->caps, VD_CAP_CLIPBOARD_SELECTION);
    if (caps)
        clip->caps = *caps;
    else
        memset(&clip->caps, 0, sizeof(clip->caps));
    clip->max_clipboard = max_clipboard;
    if (clip->host_connected != connected || was_primary != vd_caps_has(&clip->caps, VD_CAP_CLIPBOARD_SELECTION))
        g_debug("clipboard: host %s, PRIMARY %s, max %d", connected ? "connected" : "gone",
                vd_clip_sel_bridged(clip, VD_SELECTION_PRIMARY) ? "bridged" : "not bridged", max_clipboard);
    clip->host_connected = connected;
    resync(clip);
    XFlush(clip->dpy);
}

void vd_xclipboard_set_active(VdXClipboard *clip, bool active)
{
    g_return_if_fail(clip);
    clip->active = active;
    resync(clip);
    XFlush(clip->dpy);
}

void vd_xclipboard_link_down(VdXClipboard *clip)
{
    g_return_if_fail(clip);
    clip->link_up = false;
    /* A new daemon tells us the host's state afresh. */
    clip->host_connected = false;
    resync(clip);
    XFlush(clip->dpy);
}

void vd_xclipboard_link_up(VdXClipboard *clip)
{
    g_return_if_fail(clip);
    clip->link_up = true;
    resync(clip);
    XFlush(clip->dpy);
}

void vd_xclipboard_writable(VdXClipboard *clip)
{
    g_return_if_fail(clip);
    vd_clip_fetch_writable(clip);
    XFlush(clip->dpy);
}
