/* SPDX-License-Identifier: GPL-3.0-or-later */
/* router-clipboard.c — the clipboard both ways (grabs with serials, requests, data streamed
 * through) and vdagent-ctl's clipboard set/get. Part of the router (router-private.h). */
#include "router-private.h"

#include <string.h>

G_DEFINE_QUARK(vd-router-error-quark, vd_router_error)

const char *router_out_state_to_string(OutState state)
{
    switch (state) {
    case OUT_IDLE: return "idle";
    case OUT_FORWARD: return "forward";
    case OUT_DROP: return "drop";
    case OUT_CTL: return "vdagent-ctl";
    }
    return "?";
}

void router_out_set(Selection *sel, OutState to)
{
    OutState from = sel->out;
    bool ok;
    switch (from) {
    case OUT_IDLE: ok = to == OUT_IDLE || to == OUT_DROP; break;
    case OUT_DROP: ok = to == OUT_FORWARD || to == OUT_CTL || to == OUT_IDLE; break;
    case OUT_CTL:
    case OUT_FORWARD: ok = to == OUT_DROP || to == OUT_IDLE; break;
    default: ok = false; break;
    }
    if (!ok)
        g_critical("router: bug: guest clipboard state %s -> %s", router_out_state_to_string(from),
                   router_out_state_to_string(to));
    sel->out = to;
}

void router_ctl_offer_clear(Selection *sel)
{
    g_clear_pointer(&sel->ctl_offer, g_bytes_unref);
}

void router_host_clipboard_release(VdRouter *r, uint8_t sel)
{
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_build_clipboard_release(p, vd_host_negotiated(r->host), sel);
    host_send(r, VD_MSG_CLIPBOARD_RELEASE, p);
}

/* An empty answer to a host request we cannot serve (what QEMU itself does). */
void router_host_clipboard_empty(VdRouter *r, uint8_t sel, uint32_t type)
{
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_build_clipboard_head(p, vd_host_negotiated(r->host), sel, type);
    host_send(r, VD_MSG_CLIPBOARD, p);
}

void router_agent_abort_clipboard(VdAgent *agent, uint8_t sel)
{
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_ABORT };
    m.u.abort.selection = sel;
    send_agent(agent, &m);
}

void router_host_grab(VdRouter *r, const VdClipboardGrab *g)
{
    if (!selection_ok(r, g->selection))
        return;
    Selection *sel = &r->sel[g->selection];
    if (g->has_serial && !vd_grab_serial_accept(&sel->serial, g->serial)) {
        g_debug("host: dropping a stale grab of %s (serial %u)", vd_selection_to_string(g->selection), g->serial);
        return;
    }
    router_ctl_offer_clear(sel);
    sel->owner = OWNER_HOST;
    sel->n_types = g->n_types;
    memcpy(sel->types, g->types, sizeof(uint32_t) * g->n_types);
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_GRAB };
    m.u.grab = *g;
    m.u.grab.has_serial = false;
    send_agent(r->active, &m);
}

void router_host_request(VdRouter *r, const VdClipboardRequest *req)
{
    VdClipboardRequest q = *req;
    if (!selection_ok(r, q.selection))
        return;
    Selection *sel = &r->sel[q.selection];
    if (sel->owner != OWNER_GUEST || !r->active) {
        router_host_clipboard_empty(r, q.selection, q.type);
        return;
    }
    sel->host_waiting = true;
    sel->host_waiting_type = q.type;
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_REQUEST };
    m.u.request = q;
    send_agent(r->active, &m);
}

void router_host_release(VdRouter *r, uint8_t s)
{
    if (!selection_ok(r, s) || r->sel[s].owner != OWNER_HOST)
        return;
    r->sel[s].owner = OWNER_NONE;
    router_ctl_offer_clear(&r->sel[s]);
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_RELEASE };
    m.u.release.selection = s;
    send_agent(r->active, &m);
}

void router_agent_grab(VdRouter *r, VdAgent *agent, const VdClipboardGrab *g)
{
    if (agent != r->active || !by_demand(r) || !selection_ok(r, g->selection))
        return;
    Selection *sel = &r->sel[g->selection];
    VdClipboardGrab out = *g;
    out.has_serial = vd_host_has(r->host, VD_CAP_CLIPBOARD_GRAB_SERIAL);
    out.serial = out.has_serial ? vd_grab_serial_next(&sel->serial) : 0;
    sel->owner = OWNER_GUEST;
    router_ctl_offer_clear(sel);
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_build_clipboard_grab(p, vd_host_negotiated(r->host), &out);
    host_send(r, VD_MSG_CLIPBOARD_GRAB, p);
}

/* Answers an agent's request from what vdagent-ctl offered. */
static void serve_ctl_offer(VdRouter *r, VdAgent *agent, uint8_t s, uint32_t type)
{
    Selection *sel = &r->sel[s];
    if (type != sel->types[0]) {
        router_agent_abort_clipboard(agent, s);
        return;
    }
    gsize len;
    const uint8_t *data = g_bytes_get_data(sel->ctl_offer, &len);
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_BEGIN };
    m.u.begin.selection = s;
    m.u.begin.type = type;
    m.u.begin.total = len;
    send_agent(agent, &m);
    for (gsize off = 0; off < len; off += VD_IPC_MAX_PIECE) {
        VdSessionMsg d = { .type = VD_S_CLIPBOARD_DATA };
        d.u.data.selection = s;
        d.u.data.data = data + off;
        d.u.data.len = MIN(len - off, (gsize)VD_IPC_MAX_PIECE);
        send_agent(agent, &d);
    }
}

void router_agent_request(VdRouter *r, VdAgent *agent, const VdClipboardRequest *q)
{
    if (agent == r->active && q->selection < VD_SELECTION_END && r->sel[q->selection].ctl_offer) {
        serve_ctl_offer(r, agent, q->selection, q->type);
        return;
    }
    if (agent != r->active || !by_demand(r) || !selection_ok(r, q->selection) ||
        r->sel[q->selection].owner != OWNER_HOST) {
        router_agent_abort_clipboard(agent, q->selection);
        return;
    }
    /* One request per selection in flight: a newer one replaces the older (the host answers in
     * order, and the agent only waits for its latest). */
    r->sel[q->selection].requester = agent;
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_build_clipboard_request(p, vd_host_negotiated(r->host), q->selection, q->type);
    host_send(r, VD_MSG_CLIPBOARD_REQUEST, p);
}

void router_agent_release(VdRouter *r, VdAgent *agent, uint8_t s)
{
    if (agent != r->active || !selection_ok(r, s) || r->sel[s].owner != OWNER_GUEST)
        return;
    r->sel[s].owner = OWNER_NONE;
    if (by_demand(r))
        router_host_clipboard_release(r, s);
}

void router_agent_clipboard_begin(VdRouter *r, VdAgent *agent, uint8_t s, uint32_t type, uint64_t total)
{
    if (s >= VD_SELECTION_END)
        return;
    Selection *sel = &r->sel[s];
    AgentData *d = agent_data(agent);
    if (d->drop_left[s] > 0) {
        vd_agent_close(agent, VD_IPC_ERR_BAD_FRAME, "clipboard data begun twice");
        return;
    }
    if (agent != r->active) {
        /* Nobody asked a background session for anything: whatever it sends is its own business
         * and must not touch the selection, which belongs to the active agent's exchanges. */
        vd_limited_message(vd_agent_log_limit(agent), "unrequested clipboard data",
                           "agent %s: clipboard data of %" G_GUINT64_FORMAT " bytes from an inactive session: dropped",
                           vd_agent_name(agent), total);
        d->drop_left[s] = total;
        return;
    }
    if (sel->out != OUT_IDLE) {
        vd_agent_close(agent, VD_IPC_ERR_BAD_FRAME, "clipboard data begun twice");
        return;
    }
    router_out_set(sel, OUT_DROP);
    sel->out_left = total;
    sel->out_agent = agent;
    if (agent == r->active && sel->ctl_cb) {
        /* vdagent-ctl asked before the host did (requests are answered in order). */
        if (total > VD_IPC_MAX_PIECE) {
            router_ctl_get_finish(r, s, NULL, 0, VD_IPC_ERR_LIMIT, "the guest's data is larger than 64 KiB");
        } else {
            router_out_set(sel, OUT_CTL);
            sel->ctl_buf = g_byte_array_sized_new((guint)total);
        }
    } else if (!sel->host_waiting || !by_demand(r) || !selection_ok(r, s)) {
        g_debug("agent %s: clipboard data nobody asked for: dropped", vd_agent_name(agent));
    } else {
        sel->host_waiting = false;
        uint64_t head = vd_clipboard_head_size(vd_host_negotiated(r->host));
        uint64_t limit = r->max_clipboard >= 0 ? (uint64_t)r->max_clipboard : VD_LIMIT_STREAMED_MESSAGE;
        if (total + head > limit || total + head > VD_LIMIT_STREAMED_MESSAGE) {
            r->over_max_clipboard++;
            vd_limited_message(vd_agent_log_limit(agent), "clipboard over the host's limit",
                               "agent %s: clipboard data of %" G_GUINT64_FORMAT " bytes is over the host's limit of %"
                               G_GUINT64_FORMAT ": the host gets none",
                               vd_agent_name(agent), total, limit);
            router_host_clipboard_empty(r, s, type);
        } else if (vd_host_streaming(r->host)) {
            vd_limited_message(vd_agent_log_limit(agent), "clipboard while streaming",
                               "agent %s: clipboard data for %s while other data is being sent: dropped",
                               vd_agent_name(agent), vd_selection_to_string(s));
            router_host_clipboard_empty(r, s, type);
        } else if (vd_host_stream_begin(r->host, VD_MSG_CLIPBOARD, (uint32_t)(total + head)) == 0) {
            g_autoptr(GByteArray) p = g_byte_array_new();
            vd_build_clipboard_head(p, vd_host_negotiated(r->host), s, type);
            vd_host_stream_write(r->host, p->data, p->len);
            router_out_set(sel, OUT_FORWARD);
        }
    }
    if (sel->out_left == 0) {
        if (sel->out == OUT_CTL)
            router_ctl_get_finish(r, s, sel->ctl_buf->data, sel->ctl_buf->len, 0, NULL);
        router_out_set(sel, OUT_IDLE);
    }
}

void router_agent_clipboard_data(VdRouter *r, VdAgent *agent, uint8_t s, const uint8_t *data, size_t len)
{
    if (s >= VD_SELECTION_END)
        return;
    Selection *sel = &r->sel[s];
    AgentData *d = agent_data(agent);
    if (d->drop_left[s] > 0 && len <= d->drop_left[s]) {
        d->drop_left[s] -= len;
        return;
    }
    if (sel->out == OUT_IDLE || sel->out_agent != agent || len > sel->out_left) {
        vd_agent_close(agent, VD_IPC_ERR_BAD_FRAME, "clipboard data past its announced size");
        return;
    }
    sel->out_left -= len;
    if (sel->out == OUT_FORWARD) {
        vd_host_stream_write(r->host, data, len);
        if (vd_host_full(r->host))
            vd_agents_set_reading(r->agents, false);
    } else if (sel->out == OUT_CTL) {
        g_byte_array_append(sel->ctl_buf, data, (guint)len);
    }
    if (sel->out_left == 0) {
        if (sel->out == OUT_CTL)
            router_ctl_get_finish(r, s, sel->ctl_buf->data, sel->ctl_buf->len, 0, NULL);
        router_out_set(sel, OUT_IDLE);
    }
}

void router_abort_out(VdRouter *r, uint8_t s, const char *why)
{
    Selection *sel = &r->sel[s];
    if (sel->out == OUT_FORWARD && sel->out_left > 0)
        vd_host_stream_abort(r->host, why);
    if (sel->ctl_cb)
        router_ctl_get_finish(r, s, NULL, 0, VD_IPC_ERR_NO_AGENT, why);
    router_out_set(sel, OUT_IDLE);
    sel->out_left = 0;
    sel->out_agent = NULL;
}

void router_ctl_get_finish(VdRouter *r, uint8_t s, const uint8_t *data, size_t len, uint32_t code,
                           const char *message)
{
    Selection *sel = &r->sel[s];
    VdRouterClipboardFunc cb = sel->ctl_cb;
    void *cb_data = sel->ctl_data;
    uint32_t type = sel->ctl_type;
    /* Freed after the callback: data may point into it. */
    GByteArray *buf = g_steal_pointer(&sel->ctl_buf);
    /* Whatever of the agent's answer is still to come is dropped. */
    if (sel->out == OUT_CTL)
        router_out_set(sel, OUT_DROP);
    sel->ctl_cb = NULL;
    sel->ctl_data = NULL;
    g_clear_handle_id(&sel->ctl_timer, g_source_remove);
    if (cb && code) {
        g_autoptr(GError) error = g_error_new_literal(vd_router_error_quark(), (int)code, message);
        cb(s, type, NULL, 0, error, cb_data);
    } else if (cb) {
        cb(s, type, data, len, NULL, cb_data);
    }
    if (buf)
        g_byte_array_unref(buf);
}

typedef struct {
    VdRouter *router;
    uint8_t selection;
} CtlTimeout;

static gboolean on_ctl_timeout(gpointer user_data)
{
    CtlTimeout *t = user_data;
    Selection *sel = &t->router->sel[t->selection];
    sel->ctl_timer = 0;
    /* Data that still arrives for it is dropped (OUT_CTL without a callback). */
    router_ctl_get_finish(t->router, t->selection, NULL, 0, VD_IPC_ERR_TIMEOUT, "the session agent did not answer");
    return G_SOURCE_REMOVE;
}

bool vd_router_clipboard_set(VdRouter *r, uint8_t s, uint32_t type, const uint8_t *data, uint32_t len,
                             GError **error)
{
    g_return_val_if_fail(r, false);
    if (s >= VD_SELECTION_END || len > VD_IPC_MAX_PIECE) {
        g_set_error(error, vd_router_error_quark(), VD_IPC_ERR_UNSUPPORTED, "bad selection or size");
        return false;
    }
    if (!r->active) {
        g_set_error(error, vd_router_error_quark(), VD_IPC_ERR_NO_AGENT, "no active session agent");
        return false;
    }
    Selection *sel = &r->sel[s];
    /* The guest's own grab is superseded: the host must stop asking the guest for it. */
    if (sel->owner == OWNER_GUEST && by_demand(r))
        router_host_clipboard_release(r, s);
    router_ctl_offer_clear(sel);
    sel->ctl_offer = g_bytes_new(data, len);
    sel->owner = OWNER_HOST;
    sel->n_types = 1;
    sel->types[0] = type;
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_GRAB };
    m.u.grab.selection = s;
    m.u.grab.n_types = 1;
    m.u.grab.types[0] = type;
    send_agent(r->active, &m);
    return true;
}

void vd_router_clipboard_get(VdRouter *r, uint8_t s, uint32_t type, VdRouterClipboardFunc callback,
                             void *user_data)
{
    g_return_if_fail(r);
    const char *refusal = NULL;
    uint32_t code = 0;
    if (s >= VD_SELECTION_END) {
        code = VD_IPC_ERR_UNSUPPORTED;
        refusal = "no such selection";
    } else if (!r->active) {
        code = VD_IPC_ERR_NO_AGENT;
        refusal = "no active session agent";
    } else if (r->sel[s].owner != OWNER_GUEST) {
        code = VD_IPC_ERR_NO_AGENT;
        refusal = "the guest holds nothing on this selection";
    } else if (r->sel[s].ctl_cb || r->sel[s].host_waiting || r->sel[s].out != OUT_IDLE) {
        code = VD_IPC_ERR_LIMIT;
        refusal = "a request for this selection is in progress";
    }
    if (code) {
        g_autoptr(GError) error = g_error_new_literal(vd_router_error_quark(), (int)code, refusal);
        callback(s, type, NULL, 0, error, user_data);
        return;
    }
    Selection *sel = &r->sel[s];
    sel->ctl_cb = callback;
    sel->ctl_data = user_data;
    sel->ctl_type = type;
    CtlTimeout *t = g_new0(CtlTimeout, 1);
    t->router = r;
    t->selection = s;
    sel->ctl_timer = g_timeout_add_full(G_PRIORITY_DEFAULT, VD_ROUTER_CTL_CLIPBOARD_TIMEOUT_MS, on_ctl_timeout, t,
                                        g_free);
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_REQUEST };
    m.u.request.selection = s;
    m.u.request.type = type;
    send_agent(r->active, &m);
}
