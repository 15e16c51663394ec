/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clipboard-private.h — what the clipboard's files share: the per-selection state, the limits and
 * timeouts, and the entry points each file offers the others.
 *
 *   clipboard.c          lifecycle, event dispatch, ownership (host grabs, guest owners, timestamps)
 *   clipboard-serve.c    host -> guest: answering X requestors (TARGETS, TIMESTAMP, MULTIPLE)
 *   clipboard-incr.c     host -> guest: INCR deliveries, the queue of host pieces, throttling
 *   clipboard-fetch.c    guest -> host: converting from the X owner (INCR in), paced sending
 *   clipboard-targets.c  atoms, X target <-> VDAgent type mapping, text conversions
 */
#pragma once

#include <X11/Xatom.h>
#include <X11/Xlib.h>

#include "clipboard-common.h" /* the limits both backends enforce, the NUL terminator, GRABs */
#include "clipboard.h"
#include "vd-limits.h"

/* --- the X side's own limits (each has a test in tests/clipboard/) --- */

/* Largest property we write at once (also capped by the server's maximum request size); more
 * goes INCR. */
#define VD_CLIP_X_CHUNK (1u * VD_MiB)
/* Host text that must be converted (to Latin-1 for STRING) is held whole: at most this much. */
#define VD_CLIP_CONVERT_MAX (4u * VD_MiB)
/* Pairs in one MULTIPLE request. */
#define VD_CLIP_MULTIPLE_MAX 32u
/* Targets read from an owner's TARGETS answer. */
#define VD_CLIP_TARGETS_MAX 256u
/* Property bytes read from the X server per round trip when sending guest data. */
#define VD_CLIP_READ_SLICE (1u * VD_MiB)

#define VD_CLIP_N_SEL 2u /* CLIPBOARD and PRIMARY, indexed by VdSelection */

typedef struct {
    Atom selection[VD_CLIP_N_SEL];
    Atom property[VD_CLIP_N_SEL]; /* where owners put what we convert */
    Atom stamp;                   /* appended to for a server timestamp */
    Atom targets, timestamp, multiple, incr, atom_pair, integer, atom;
    Atom utf8_string, text_plain_utf8, string, text, text_plain, compound_text;
    Atom png, bmp, x_bmp, x_ms_bmp, jpeg, tiff;
} VdClipAtoms;

/* How host (UTF-8) bytes become what an X target asks for. */
typedef enum {
    VD_CONV_NONE,   /* the bytes as they are */
    VD_CONV_LATIN1, /* UTF-8 -> ISO 8859-1, refused if any character does not fit */
} VdConv;

typedef struct VdXReq VdXReq;
typedef struct VdFetch VdFetch;

typedef enum {
    VD_OWNER_NONE,  /* nobody we know of (or an owner with nothing to bridge) */
    VD_OWNER_HOST,  /* we own it on behalf of the host */
    VD_OWNER_GUEST, /* an X client owns it */
} VdOwner;

typedef struct {
    VdXClipboard *clip;
    unsigned index; /* VdSelection */
    bool talking;   /* bridged to a connected host at the last resync */
    VdOwner owner;
    /* host side: what the host offers, our ownership */
    uint32_t host_types[VD_LIMIT_GRAB_TYPES];
    uint32_t n_host_types;
    bool want_own; /* a timestamp is on its way to take ownership with */
    Time own_time;
    GQueue xreqs;     /* VdXReq waiting for their turn with the host */
    VdXReq *host_req; /* the request the host is answering */
    guint host_timer;
    uint64_t drain_left; /* bytes of an abandoned host transfer still to drop */
    /* guest side: the X owner, what we announced, conversions */
    Window guest_owner;
    Time guest_time;
    bool announced;
    bool targets_wanted;
    Atom guest_targets[VD_CLIP_TARGETS_MAX];
    unsigned n_guest_targets;
    GQueue host_requests; /* VdClipboardType (as pointers) the host asked for, waiting */
    VdFetch *fetch;       /* the conversion in flight */
} VdClipSel;

struct VdXClipboard {
    Display *dpy;
    Window win;
    VdXClipboardSink sink;
    void *user_data;
    int fixes_event_base;
    VdClipAtoms atoms;
    size_t x_chunk;
    bool link_up, host_connected, active;
    VdCaps caps;
    int32_t max_clipboard;
    bool stamp_pending;
    VdClipSel sel[VD_CLIP_N_SEL];
    GList *deliveries; /* VdXReq in INCR delivery to a requestor */
    unsigned n_over;   /* deliveries above VD_CLIP_THROTTLE_HIGH: the sink is throttled while > 0 */
};

/* clipboard.c */
bool vd_clip_can_talk(const VdXClipboard *clip);
bool vd_clip_sel_bridged(const VdXClipboard *clip, unsigned sel);
int vd_clip_send(VdXClipboard *clip, const VdSessionMsg *msg);
const char *vd_owner_to_string(VdOwner owner);

/* clipboard-targets.c */
void vd_clip_atoms_init(Display *dpy, VdClipAtoms *atoms);
/* The VDAgent type an X target carries, or VD_CLIPBOARD_NONE. */
uint32_t vd_clip_target_to_type(const VdClipAtoms *atoms, Atom target);
/* Targets we offer for the host's types (no duplicates), TARGETS/TIMESTAMP/MULTIPLE first. */
unsigned vd_clip_targets_for_types(const VdClipAtoms *atoms, const uint32_t *types, uint32_t n, Atom *out,
                                   unsigned max);
/* For a target asked by an X requestor: the VDAgent type to ask the host, the property type to
 * answer with, and the conversion. false if we do not serve that target. */
bool vd_clip_target_plan(const VdClipAtoms *atoms, Atom target, uint32_t *ret_type, Atom *ret_prop_type,
                         VdConv *ret_conv);
/* For a host request: the best target the owner offers for type, and whether its bytes are
 * Latin-1 (to convert to UTF-8). false if the owner offers nothing for it. */
bool vd_clip_best_target(const VdClipAtoms *atoms, const Atom *targets, unsigned n, uint32_t type,
                         Atom *ret_target);
/* UTF-8 -> Latin-1 into out (len bytes at most). Returns the length, or -EILSEQ when the input is
 * not valid UTF-8 or holds a character above U+00FF. */
gssize vd_clip_utf8_to_latin1(const uint8_t *in, size_t len, uint8_t *out);
/* Latin-1 -> UTF-8, g_malloc'ed. */
uint8_t *vd_clip_latin1_to_utf8(const uint8_t *in, size_t len, size_t *ret_len);
char *vd_clip_atom_name(Display *dpy, Atom atom); /* g_malloc'ed, "None" / "?" never NULL */

/* --- host -> guest requests (clipboard-serve.c, clipboard-incr.c) --- */

/* One (target, property) pair asked by an X requestor; MULTIPLE has several. */
typedef struct {
    Atom target, property;
    uint32_t type; /* VD_CLIPBOARD_NONE for TARGETS, TIMESTAMP, and refused items */
    Atom prop_type;
    VdConv conv;
    bool ok;
} VdXItem;

/* One SelectionRequest: served item by item, data items with the host one at a time per selection. */
struct VdXReq {
    VdXClipboard *clip;
    unsigned sel;
    Window requestor;
    Atom target, property; /* as asked: MULTIPLE's property holds the pairs */
    Time time;
    bool multiple;
    VdXItem items[VD_CLIP_MULTIPLE_MAX];
    unsigned n_items, cur;
    /* the host's answer for items[cur] */
    bool begun, discard;
    uint64_t total, received;
    GByteArray *buf; /* whole answers (small, or to be converted) */
    /* INCR delivery: host pieces waiting for the requestor, and the chunk being assembled */
    GQueue pieces; /* GBytes */
    size_t piece_off, queued;
    uint8_t *chunk;
    bool over; /* queued above the high-water mark: counted in clip->n_over */
    /* who still holds the request: the host side (it is sel->host_req), the INCR delivery */
    bool in_host, in_delivery;
    /* INCR delivery */
    bool incr, waiting_delete, host_done;
    long saved_mask; /* our event mask on the requestor's window before the delivery */
    guint timer;
};


/* clipboard-serve.c */
void vd_clip_serve_request(VdXClipboard *clip, const XSelectionRequestEvent *ev);
bool vd_clip_serve_property(VdXClipboard *clip, const XPropertyEvent *ev);
void vd_clip_serve_host_msg(VdXClipboard *clip, const VdSessionMsg *msg);
/* Refuse everything waiting on sel (the host is gone or released); deliveries in progress end. */
void vd_clip_serve_flush(VdXClipboard *clip, unsigned sel, bool all);
void vd_clip_serve_free_all(VdXClipboard *clip);
/* The host side of sel's current request is over (all data, or failure != NULL). May free it. */
void vd_clip_serve_host_done(VdXClipboard *clip, unsigned sel, const char *failure);
void vd_clip_send_notify(VdXClipboard *clip, const VdXReq *req, Atom property);
void vd_clip_xreq_free(VdXReq *req); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdXReq, vd_clip_xreq_free)
/* Frees req when neither the host side nor a delivery holds it any more. */
void vd_clip_xreq_maybe_free(VdXReq *req);

/* clipboard-incr.c */
/* Writes the INCR property, notifies the requestor, and waits for it to take chunks. */
void vd_clip_delivery_start(VdXReq *req, uint64_t size_hint);
/* Writes the next chunk if the requestor is ready (the empty end once the host is done). */
void vd_clip_delivery_write(VdXReq *req);
/* Stops delivering (done, or given up): restores the window's event mask; may free req. */
void vd_clip_delivery_end(VdXReq *req);
/* Gives up without the empty end chunk (a truncated paste must not look whole); may free req. */
void vd_clip_delivery_abandon(VdXReq *req, const char *why);
void vd_clip_pieces_push(VdXReq *req, GBytes *bytes);
/* Asks the sink to pause / resume the daemon link as req's queue crosses the marks. */
void vd_clip_delivery_update_throttle(VdXReq *req);

/* clipboard-fetch.c */
void vd_clip_fetch_free(VdFetch *f); /* accepts NULL; does not detach it from its selection */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdFetch, vd_clip_fetch_free)
void vd_clip_fetch_targets(VdXClipboard *clip, unsigned sel);
void vd_clip_fetch_host_request(VdXClipboard *clip, unsigned sel, uint32_t type);
bool vd_clip_fetch_selection_notify(VdXClipboard *clip, const XSelectionEvent *ev);
bool vd_clip_fetch_property(VdXClipboard *clip, const XPropertyEvent *ev);
void vd_clip_fetch_owner_gone(VdXClipboard *clip, unsigned sel);
void vd_clip_fetch_writable(VdXClipboard *clip);
/* Drop conversions and the host's waiting requests (answered empty when reply is true). */
void vd_clip_fetch_cancel(VdXClipboard *clip, unsigned sel, bool reply);
