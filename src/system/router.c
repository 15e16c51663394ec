/* SPDX-License-Identifier: GPL-3.0-or-later */
/* router.c — decides who gets each message (see router.h). */
#include "router.h"

#include <errno.h>
#include <string.h>

#include "router-private.h"

/* --- helpers --- */

static void host_reply(VdRouter *r, uint32_t type, uint32_t error)
{
    if (!vd_caps_has(vd_host_their_caps(r->host), VD_CAP_REPLY))
        return;
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_build_reply(p, type, error);
    host_send(r, VD_MSG_REPLY, p);
}

static void host_xfer_status(VdRouter *r, const VdFileXferStatus *status)
{
    VdFileXferStatus s = *status;
    if (!vd_host_has(r->host, VD_CAP_FILE_XFER_DETAILED_ERRORS))
        s.has_detail = false;
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_build_file_xfer_status(p, &s);
    host_send(r, VD_MSG_FILE_XFER_STATUS, p);
}

static void host_xfer_result(VdRouter *r, uint32_t id, uint32_t result)
{
    VdFileXferStatus s = { .id = id, .result = result };
    host_xfer_status(r, &s);
}

static void send_host_state(VdRouter *r, VdAgent *agent)
{
    VdSessionMsg m = { .type = VD_S_HOST_STATE };
    m.u.host_state.connected = r->client;
    m.u.host_state.caps = *vd_host_negotiated(r->host);
    m.u.host_state.max_clipboard = r->max_clipboard;
    send_agent(agent, &m);
}

static void broadcast_host_state(VdRouter *r)
{
    g_autoptr(GPtrArray) list = vd_agents_list(r->agents);
    for (guint i = 0; i < list->len; i++)
        send_host_state(r, list->pdata[i]);
}

static bool session_info(VdRouter *r, VdAgent *agent, VdSessionInfo *ret)
{
    if (!vd_sessions_tracking(r->sessions)) {
        *ret = (VdSessionInfo){ .active = true };
        return true;
    }
    return vd_sessions_get(r->sessions, vd_agent_session(agent), ret) == 0;
}

static void send_session_state(VdRouter *r, VdAgent *agent)
{
    VdSessionInfo info = { 0 };
    bool known = session_info(r, agent, &info);
    VdSessionMsg m = { .type = VD_S_SESSION_STATE };
    m.u.session_state.active = agent == r->active;
    m.u.session_state.locked = known && info.locked;
    vd_session_info_clear(&info);
    AgentData *d = agent_data(agent);
    if (!d)
        return; /* gone */
    if (d->sent_active == m.u.session_state.active && d->sent_locked == m.u.session_state.locked)
        return;
    d->sent_active = m.u.session_state.active;
    d->sent_locked = m.u.session_state.locked;
    send_agent(agent, &m);
}

static void flush_streams(VdRouter *r);

/* The port was stopped for agent's full queue: nothing it holds up is for anybody else now. */
static void unpause_for(VdRouter *r, VdAgent *agent)
{
    if (agent && r->paused_for == agent) {
        r->paused_for = NULL;
        vd_host_set_reading(r->host, true);
    }
}

/* --- the pointer --- */

static void update_layout(VdRouter *r)
{
    const VdLayoutMap *m = &r->base_map;
    if (r->active && agent_data(r->active)->have_layout)
        m = &agent_data(r->active)->layout;
    else if (r->have_host_map)
        m = &r->host_map;
    if (memcmp(m, &r->map, sizeof(*m)) == 0)
        return;
    r->map = *m;
    r->unknown_displays_logged = 0;
    vd_limited_message(&r->state_log, "pointer layout", "pointer: desktop %ux%u at %d,%d from the %s layout", r->map.width, r->map.height, r->map.origin_x,
              r->map.origin_y, vd_layout_source_to_string(r->map.source));
}

static void on_mouse(const VdMouseState *m, void *user_data)
{
    VdRouter *r = user_data;
    uint32_t ax, ay;
    r->have_last_mouse = true;
    r->last_mouse = *m;
    r->last_mapped = false;
    if (G_UNLIKELY(vd_layout_map_pointer(&r->map, m->display_id, m->x, m->y, &ax, &ay) < 0)) {
        r->unknown_display++;
        uint32_t bit = 1u << (m->display_id % 32);
        if (!(r->unknown_displays_logged & bit)) {
            r->unknown_displays_logged |= bit;
            router_host_log(r, G_LOG_LEVEL_MESSAGE, "pointer: ignoring events for display %u, which the %s layout does not have", m->display_id,
                      vd_layout_source_to_string(r->map.source));
        }
        return;
    }
    r->mouse_events++;
    r->last_mapped = true;
    r->last_axis_x = ax;
    r->last_axis_y = ay;
    if (r->uinput)
        vd_uinput_pointer(r->uinput, ax, ay, m->buttons);
}

static void on_batch_end(void *user_data)
{
    VdRouter *r = user_data;
    flush_streams(r);
    if (r->uinput)
        vd_uinput_flush(r->uinput);
}

/* --- capabilities: announce only what works right now --- */

static bool files_allowed(VdRouter *r, uint32_t *ret_refusal)
{
    if (!r->active) {
        *ret_refusal = VD_XFER_VDAGENT_NOT_CONNECTED;
        return false;
    }
    if (!active_can(r, VD_SESSION_FEATURE_FILES)) {
        *ret_refusal = VD_XFER_DISABLED;
        return false;
    }
    VdSessionInfo info = { 0 };
    bool known = session_info(r, r->active, &info);
    bool locked = !known || info.locked;
    bool greeter = known && info.klass && g_strcmp0(info.klass, "user") != 0;
    vd_session_info_clear(&info);
    if (locked) {
        *ret_refusal = VD_XFER_SESSION_LOCKED;
        return false;
    }
    if (greeter) {
        *ret_refusal = VD_XFER_DISABLED;
        return false;
    }
    return true;
}

static void update_caps(VdRouter *r)
{
    VdCaps c = { 0 };
    if (r->uinput)
        vd_caps_set(&c, VD_CAP_MOUSE_STATE);
    static const uint32_t always[] = {
        VD_CAP_MONITORS_CONFIG, VD_CAP_REPLY, VD_CAP_SPARSE_MONITORS_CONFIG,
        VD_CAP_MONITORS_CONFIG_POSITION, VD_CAP_GRAPHICS_DEVICE_INFO,
    };
    static const uint32_t with_clipboard[] = {
        VD_CAP_CLIPBOARD_BY_DEMAND, VD_CAP_CLIPBOARD_SELECTION, VD_CAP_CLIPBOARD_GRAB_SERIAL,
        VD_CAP_MAX_CLIPBOARD, VD_CAP_GUEST_LINEEND_LF,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(always); i++)
        vd_caps_set(&c, always[i]);
    /* The rest only for what the active agent can do (its HELLO features). */
    if (active_can(r, VD_SESSION_FEATURE_CLIPBOARD))
        for (size_t i = 0; i < G_N_ELEMENTS(with_clipboard); i++)
            vd_caps_set(&c, with_clipboard[i]);
    if (active_can(r, VD_SESSION_FEATURE_FILES))
        vd_caps_set(&c, VD_CAP_FILE_XFER_DETAILED_ERRORS);
    if (active_can(r, VD_SESSION_FEATURE_AUDIO))
        vd_caps_set(&c, VD_CAP_AUDIO_VOLUME_SYNC);
    uint32_t refusal;
    if (!files_allowed(r, &refusal))
        vd_caps_set(&c, VD_CAP_FILE_XFER_DISABLED);
    VdCaps before = *vd_host_negotiated(r->host);
    vd_host_set_our_caps(r->host, &c);
    /* The agents act on the negotiated set (e.g. whether PRIMARY is bridged): a set that changed
     * because our own announcement did must reach them, not only one the host announced. */
    if (r->client && memcmp(&before, vd_host_negotiated(r->host), sizeof(before)) != 0)
        broadcast_host_state(r);
}

/* --- host -> agent streams --- */

/* The stream's target is gone or cancelled: what is pending goes nowhere. */
static void in_drop(InStream *in)
{
    in->target = NULL;
    if (in->pending)
        g_byte_array_set_size(in->pending, 0);
}

static void in_reset(InStream *in)
{
    g_clear_pointer(&in->pending, g_byte_array_unref);
    *in = (InStream){ 0 };
}

/* Sends the run of data gathered for in's target as one frame; pauses the port while that agent
 * is behind. */
static void in_flush(VdRouter *r, InStream *in)
{
    if (!in->pending || in->pending->len == 0)
        return;
    if (!in->target) {
        g_byte_array_set_size(in->pending, 0);
        return;
    }
    VdSessionMsg m;
    if (in->type == VD_MSG_CLIPBOARD) {
        m = (VdSessionMsg){ .type = VD_S_CLIPBOARD_DATA };
        m.u.data.selection = in->selection;
        m.u.data.data = in->pending->data;
        m.u.data.len = in->pending->len;
    } else {
        m = (VdSessionMsg){ .type = VD_S_XFER_DATA };
        m.u.xfer_data.id = in->xfer_id;
        m.u.xfer_data.data = in->pending->data;
        m.u.xfer_data.len = in->pending->len;
        VdXfer *x = vd_xfers_get(r->xfers, in->xfer_id);
        if (x)
            x->received += in->pending->len;
    }
    int e = vd_agent_send(in->target, &m);
    g_byte_array_set_size(in->pending, 0);
    if (e < 0) {
        in->target = NULL;
        return;
    }
    if (vd_agent_full(in->target)) {
        r->paused_for = in->target;
        vd_host_set_reading(r->host, false);
    }
}

/* Before anything else reaches an agent, the data gathered so far does (order is kept). */
static void flush_streams(VdRouter *r)
{
    for (guint p = 1; p < 3; p++)
        in_flush(r, &r->in[p]);
}

/* --- transfers --- */

static void cancel_xfers(VdRouter *r, VdAgent *agent, uint32_t to_agent, uint32_t to_host)
{
    g_autoptr(GArray) ids = vd_xfers_ids(r->xfers, agent);
    for (guint i = 0; i < ids->len; i++) {
        uint32_t id = g_array_index(ids, uint32_t, i);
        VdXfer *x = vd_xfers_get(r->xfers, id);
        if (!x)
            continue;
        if (to_agent != VD_XFER_END) {
            VdSessionMsg m = { .type = VD_S_XFER_CANCEL };
            m.u.xfer_cancel.id = id;
            m.u.xfer_cancel.result = to_agent;
            send_agent(x->agent, &m);
        }
        if (to_host != VD_XFER_END)
            host_xfer_result(r, id, to_host);
        for (guint p = 1; p < 3; p++)
            if (r->in[p].active && r->in[p].type == VD_MSG_FILE_XFER_DATA && r->in[p].xfer_id == id)
                in_drop(&r->in[p]);
        vd_xfers_remove(r->xfers, id);
    }
}

/* Forget agent in every host -> guest stream and request (it left or lost the active seat). */
static void detach_agent(VdRouter *r, VdAgent *agent, bool abort_streams)
{
    for (guint p = 1; p < 3; p++) {
        InStream *in = &r->in[p];
        if (in->active && in->target == agent) {
            in_drop(in);
            if (abort_streams && in->type == VD_MSG_CLIPBOARD)
                router_agent_abort_clipboard(agent, in->selection);
        }
    }
    for (unsigned s = 0; s < VD_SELECTION_END; s++)
        if (r->sel[s].requester == agent)
            r->sel[s].requester = NULL;
    unpause_for(r, agent);
}

/* --- active session --- */

static VdAgent *find_active(VdRouter *r)
{
    g_autoptr(GPtrArray) list = vd_agents_list(r->agents);
    if (!vd_sessions_tracking(r->sessions))
        return list->len ? list->pdata[0] : NULL;
    VdAgent *best = NULL;
    for (guint i = 0; i < list->len; i++) {
        VdSessionInfo info = { 0 };
        if (vd_sessions_get(r->sessions, vd_agent_session(list->pdata[i]), &info) < 0)
            continue;
        /* The agent of the session in the foreground of a seat; seat0 (the VM's display) first. */
        bool candidate = info.active && info.seat && info.seat[0];
        bool seat0 = candidate && g_strcmp0(info.seat, "seat0") == 0;
        vd_session_info_clear(&info);
        if (seat0)
            return list->pdata[i];
        if (candidate && !best)
            best = list->pdata[i];
    }
    return best;
}

static void send_monitors(VdRouter *r, VdAgent *agent, bool reply_owed)
{
    VdSessionMsg m = { .type = VD_S_MONITORS_CONFIG };
    m.u.monitors.request_id = ++r->monitors_request_id;
    if (m.u.monitors.request_id == 0)
        m.u.monitors.request_id = ++r->monitors_request_id;
    m.u.monitors.config = r->monitors;
    send_agent(agent, &m);
    if (reply_owed) {
        r->monitors_reply_for = m.u.monitors.request_id;
    }
}

static void send_device_info(VdRouter *r, VdAgent *agent)
{
    VdSessionMsg m = { .type = VD_S_DEVICE_INFO };
    m.u.device_info = r->device_info;
    send_agent(agent, &m);
}

static void send_volume(VdRouter *r, VdAgent *agent, unsigned dir)
{
    if (!agent || !(vd_agent_features(agent) & VD_SESSION_FEATURE_AUDIO))
        return;
    VdSessionMsg m = { .type = VD_S_VOLUME };
    m.u.volume = r->volume[dir];
    send_agent(agent, &m);
}

static void send_cached(VdRouter *r, VdAgent *now)
{
    for (unsigned dir = 0; dir < 2; dir++)
        if (r->have_volume[dir])
            send_volume(r, now, dir);
    if (r->have_monitors && (vd_agent_features(now) & VD_SESSION_FEATURE_MONITORS))
        send_monitors(r, now, false);
    if (r->have_device_info)
        send_device_info(r, now);
    for (unsigned s = 0; s < VD_SELECTION_END; s++) {
        if (r->sel[s].owner != OWNER_HOST)
            continue;
        VdSessionMsg m = { .type = VD_S_CLIPBOARD_GRAB };
        m.u.grab.selection = (uint8_t)s;
        m.u.grab.n_types = r->sel[s].n_types;
        memcpy(m.u.grab.types, r->sel[s].types, sizeof(uint32_t) * r->sel[s].n_types);
        send_agent(now, &m);
    }
}

static void retire_active(VdRouter *r, VdAgent *old)
{
    /* Its grabs die with its turn: the host must not request data from a background session. */
    for (unsigned s = 0; s < VD_SELECTION_END; s++) {
        Selection *sel = &r->sel[s];
        if (sel->owner == OWNER_GUEST) {
            if (by_demand(r))
                router_host_clipboard_release(r, (uint8_t)s);
            sel->owner = OWNER_NONE;
        }
        if (sel->host_waiting && sel->out == OUT_IDLE) {
            router_host_clipboard_empty(r, (uint8_t)s, sel->host_waiting_type);
            sel->host_waiting = false;
        }
        /* An answer it is still sending is cut; the rest of it goes nowhere, and the selection is
         * free for the new active agent. */
        if (sel->out != OUT_IDLE && sel->out_agent == old) {
            AgentData *d = agent_data(old);
            if (d)
                d->drop_left[s] = sel->out_left;
            router_abort_out(r, (uint8_t)s, "the agent's session is no longer the active one");
        }
    }
    cancel_xfers(r, old, VD_XFER_CANCELLED, VD_XFER_CANCELLED);
    detach_agent(r, old, true);
}

static void update_active(VdRouter *r)
{
    VdAgent *old = r->active, *now = find_active(r);
    if (now != old) {
        vd_limited_message(&r->state_log, "active agent", "active session agent: %s (was %s)", now ? vd_agent_name(now) : "none",
                  old ? vd_agent_name(old) : "none");
        r->active = now;
        if (old)
            retire_active(r, old);
    }
    /* Active and locked flags may change without a change of agent; each agent learns its own
     * state before the data that comes with being active. */
    g_autoptr(GPtrArray) list = vd_agents_list(r->agents);
    for (guint i = 0; i < list->len; i++)
        send_session_state(r, list->pdata[i]);
    if (now && now != old)
        send_cached(r, now);
    update_layout(r);
    update_caps(r);
}

void vd_router_sessions_changed(VdRouter *r)
{
    g_return_if_fail(r);
    vd_agents_sessions_changed(r->agents);
    update_active(r);
}

/* --- from the host --- */

static void on_link(bool open, void *user_data)
{
    VdRouter *r = user_data;
    flush_streams(r);
    if (open)
        return; /* nothing to tell until the client's caps arrive */
    bool had_client = r->client;
    r->client = false;
    for (unsigned s = 0; s < VD_SELECTION_END; s++) {
        Selection *sel = &r->sel[s];
        if (sel->owner == OWNER_HOST) {
            VdSessionMsg m = { .type = VD_S_CLIPBOARD_RELEASE };
            m.u.release.selection = (uint8_t)s;
            send_agent(r->active, &m);
        }
        sel->owner = OWNER_NONE;
        router_ctl_offer_clear(sel);
        sel->requester = NULL;
        sel->host_waiting = false;
        /* The wire message died with the port: the rest of the agent's data goes nowhere. */
        if (sel->out == OUT_FORWARD)
            router_out_set(sel, OUT_DROP);
    }
    cancel_xfers(r, NULL, VD_XFER_CANCELLED, VD_XFER_END);
    g_clear_handle_id(&r->monitors_timer, g_source_remove);
    r->monitors_reply_for = 0;
    if (had_client)
        broadcast_host_state(r);
}

static void on_caps(bool new_client, void *user_data)
{
    VdRouter *r = user_data;
    flush_streams(r);
    if (new_client)
        for (unsigned s = 0; s < VD_SELECTION_END; s++)
            vd_grab_serial_reset(&r->sel[s].serial);
    r->client = true;
    broadcast_host_state(r);
}

static void on_client_disconnected(void *user_data)
{
    VdRouter *r = user_data;
    /* Same as losing the port, except the port stays open. */
    on_link(false, r);
    r->max_clipboard = -1;
}

static gboolean on_monitors_timeout(gpointer user_data)
{
    VdRouter *r = user_data;
    r->monitors_timer = 0;
    if (r->monitors_reply_for) {
        g_message("monitors config: the session agent did not answer in %u ms", VD_ROUTER_MONITORS_TIMEOUT_MS);
        r->monitors_reply_for = 0;
        host_reply(r, VD_MSG_MONITORS_CONFIG, VD_REPLY_ERROR);
    }
    return G_SOURCE_REMOVE;
}

static void host_monitors_config(VdRouter *r, const VdMonitorsConfig *c)
{
    r->monitors = *c;
    r->have_monitors = true;
    r->have_host_map = vd_layout_map_from_monitors(&r->host_map, c) == 0;
    update_layout(r);
    if (r->monitors_reply_for) {
        /* Superseded before the agent answered: this one is owed its REPLY now. */
        r->monitors_reply_for = 0;
        host_reply(r, VD_MSG_MONITORS_CONFIG, VD_REPLY_SUCCESS);
    }
    if (!active_can(r, VD_SESSION_FEATURE_MONITORS)) {
        /* Nobody to apply it; the pointer follows it, which is all that can be done. */
        r->dropped_no_agent++;
        host_reply(r, VD_MSG_MONITORS_CONFIG, VD_REPLY_SUCCESS);
        return;
    }
    send_monitors(r, r->active, true);
    g_clear_handle_id(&r->monitors_timer, g_source_remove);
    r->monitors_timer = g_timeout_add(VD_ROUTER_MONITORS_TIMEOUT_MS, on_monitors_timeout, r);
}

static void host_xfer_start(VdRouter *r, const VdFileXferStart *st)
{
    uint32_t refusal;
    if (!files_allowed(r, &refusal)) {
        router_host_log(r, G_LOG_LEVEL_MESSAGE, "host: file transfer %u refused: %s", st->id, vd_xfer_result_to_string(refusal));
        host_xfer_result(r, st->id, refusal);
        return;
    }
    int e = vd_xfers_add(r->xfers, st->id, r->active, st->size);
    if (e == -EEXIST) {
        router_host_log(r, G_LOG_LEVEL_WARNING, "host: ignoring a second FILE_XFER_START for transfer %u, which is in progress", st->id);
    } else if (e < 0) {
        r->xfer_refused++;
        router_host_log(r, G_LOG_LEVEL_WARNING, "host: file transfer %u refused: %u transfers already in progress", st->id, VD_XFERS_MAX);
        host_xfer_result(r, st->id, VD_XFER_ERROR);
    } else {
        VdSessionMsg m = { .type = VD_S_XFER_START };
        m.u.xfer_start.id = st->id;
        m.u.xfer_start.size = st->size;
        m.u.xfer_start.nr = st->nr;
        m.u.xfer_start.total = st->total;
        m.u.xfer_start.name = (char *)st->name;
        send_agent(r->active, &m);
    }
}

/* Checked here, so that the agent gets only what it can apply (docs/protocols.md, VOLUME). */
static void host_volume(VdRouter *r, const VdAudioVolumeSync *a)
{
    const char *reason = NULL;
    if (a->nchannels == 0)
        reason = "no channels";
    else if (a->nchannels > VD_LIMIT_AUDIO_CHANNELS)
        reason = "more channels than VD_LIMIT_AUDIO_CHANNELS (32)";
    if (reason) {
        r->bad_messages++;
        router_host_log(r, G_LOG_LEVEL_WARNING, "host: ignoring an AUDIO_VOLUME_SYNC: %s", reason);
        return;
    }
    /* Both are C booleans to the host: spice-gtk sends a gboolean mute that is not always 0 or 1
     * (seen from spice-gtk 0.42 over QEMU's SPICE server), and spice-vdagent reads any non-zero
     * as true. */
    if (a->is_playback > 1 || a->mute > 1)
        g_debug("host: AUDIO_VOLUME_SYNC with is_playback %u, mute %u: taken as booleans", a->is_playback, a->mute);
    unsigned dir = a->is_playback != 0;
    VdVolume *v = &r->volume[dir];
    *v = (VdVolume){ .playback = dir, .mute = a->mute != 0, .count = a->nchannels };
    memcpy(v->volume, a->volume, sizeof(uint16_t) * a->nchannels);
    r->have_volume[dir] = true;
    if (!active_can(r, VD_SESSION_FEATURE_AUDIO)) {
        r->dropped_no_agent++;
        return;
    }
    send_volume(r, r->active, dir);
}

static void host_xfer_status_msg(VdRouter *r, const VdFileXferStatus *st)
{
    VdFileXferStatus s = *st;
    VdXfer *x = vd_xfers_get(r->xfers, s.id);
    if (!x) {
        g_debug("host: status %s for transfer %u, which is not in progress: ignored",
                vd_xfer_result_to_string(s.result), s.id);
        return;
    }
    VdSessionMsg m = { .type = VD_S_XFER_CANCEL };
    m.u.xfer_cancel.id = s.id;
    m.u.xfer_cancel.result = s.result == VD_XFER_SUCCESS || s.result >= VD_XFER_END ? VD_XFER_CANCELLED : s.result;
    send_agent(x->agent, &m);
    for (guint p = 1; p < 3; p++)
        if (r->in[p].active && r->in[p].type == VD_MSG_FILE_XFER_DATA && r->in[p].xfer_id == s.id)
            in_drop(&r->in[p]);
    vd_xfers_remove(r->xfers, s.id);
}

static void on_host_message(const VdHostMsg *msg, void *user_data)
{
    VdRouter *r = user_data;
    flush_streams(r);
    uint32_t type = msg->type;
    if (G_UNLIKELY(!r->active) && (type == VD_MSG_CLIPBOARD_GRAB || type == VD_MSG_CLIPBOARD_REQUEST ||
                                   type == VD_MSG_CLIPBOARD_RELEASE || type == VD_MSG_FILE_XFER_START))
        r->dropped_no_agent++;
    switch (type) {
    case VD_MSG_MONITORS_CONFIG:
        host_monitors_config(r, &msg->u.monitors_config);
        break;
    case VD_MSG_DISPLAY_CONFIG:
        /* Wallpaper and font smoothing are the desktop's business; acknowledged, not applied. */
        host_reply(r, VD_MSG_DISPLAY_CONFIG, VD_REPLY_SUCCESS);
        break;
    case VD_MSG_CLIPBOARD_GRAB:
        /* Grabs are kept even while the clipboard is not negotiated (no active
         * agent): QEMU's qemu-vdagent, whose clipboard peer outlives our restarts, keeps sending
         * them (in the format of the caps we last announced) and never repeats one when we
         * announce the clipboard again. send_cached() hands the grab to the next active agent. */
        if (r->client)
            router_host_grab(r, &msg->u.clipboard_grab);
        break;
    case VD_MSG_CLIPBOARD_REQUEST:
        if (by_demand(r))
            router_host_request(r, &msg->u.clipboard_request);
        break;
    case VD_MSG_CLIPBOARD_RELEASE:
        /* Without the clipboard negotiated, only to forget a kept grab: QEMU also echoes our own
         * releases, and one sent before it read our new caps is in the old format. */
        if (by_demand(r) || (r->client && r->sel[VD_SELECTION_CLIPBOARD].owner == OWNER_HOST))
            router_host_release(r, msg->u.clipboard_release);
        break;
    case VD_MSG_FILE_XFER_START:
        host_xfer_start(r, &msg->u.file_xfer_start);
        break;
    case VD_MSG_FILE_XFER_STATUS:
        host_xfer_status_msg(r, &msg->u.file_xfer_status);
        break;
    case VD_MSG_MAX_CLIPBOARD:
        r->max_clipboard = msg->u.max_clipboard;
        broadcast_host_state(r);
        break;
    case VD_MSG_AUDIO_VOLUME_SYNC:
        host_volume(r, &msg->u.audio_volume_sync);
        break;
    case VD_MSG_GRAPHICS_DEVICE_INFO:
        r->device_info = msg->u.graphics_device_info;
        r->have_device_info = true;
        send_device_info(r, r->active);
        break;
    default:
        /* host.c hands on only the types above. */
        g_critical("router: host message of type %s, which host.c does not hand on", vd_msg_type_to_string(type));
        break;
    }
}

/* host.c has counted and logged it; what the host is owed for it. */
static void on_host_bad_message(const VdHostBadMsg *bad, void *user_data)
{
    VdRouter *r = user_data;
    if (bad->type == VD_MSG_MONITORS_CONFIG || bad->type == VD_MSG_DISPLAY_CONFIG)
        host_reply(r, bad->type, VD_REPLY_ERROR);
    else if (bad->type == VD_MSG_FILE_XFER_START && bad->has_xfer_id)
        host_xfer_result(r, bad->xfer_id, VD_XFER_ERROR);
}

/* Gathers a piece of host data for in's target. */
static void forward_piece(VdRouter *r, InStream *in, const uint8_t *data, size_t len)
{
    if (!in->target || len == 0)
        return;
    if (!in->pending)
        in->pending = g_byte_array_sized_new(VD_IPC_MAX_PIECE);
    while (len > 0 && in->target) {
        size_t n = MIN(len, (size_t)VD_IPC_MAX_PIECE - in->pending->len);
        g_byte_array_append(in->pending, data, (guint)n);
        data += n;
        len -= n;
        if (in->pending->len == VD_IPC_MAX_PIECE)
            in_flush(r, in);
    }
}

static void on_stream(const VdHostStream *ev, void *user_data)
{
    VdRouter *r = user_data;
    InStream *in = &r->in[ev->port];
    if (ev->kind != VD_HOST_STREAM_DATA)
        flush_streams(r);
    switch (ev->kind) {
    case VD_HOST_STREAM_BEGIN:
        in_reset(in);
        *in = (InStream){ .active = true, .type = ev->type };
        if (!r->active)
            r->dropped_no_agent++;
        if (ev->type == VD_MSG_CLIPBOARD) {
            uint8_t sel = ev->u.clipboard.selection;
            if (!by_demand(r)) {
                router_host_log(r, G_LOG_LEVEL_WARNING, "host: ignoring a CLIPBOARD: %s", "no clipboard negotiated");
                return;
            }
            if (!selection_ok(r, sel))
                return;
            /* The data goes to whoever asked; unrequested data to the active agent. */
            VdAgent *target = r->sel[sel].requester ? r->sel[sel].requester : r->active;
            InStream *other = &r->in[ev->port == 1 ? 2 : 1];
            if (target && other->active && other->target == target && other->type == VD_MSG_CLIPBOARD &&
                other->selection == sel) {
                /* The agent may get one answer per selection at a time (docs/protocols.md). */
                router_host_log(r, G_LOG_LEVEL_WARNING,
                                "host: CLIPBOARD for %s on port %u while one is still arriving on the other port: dropped",
                                vd_selection_to_string(sel), ev->port);
                return;
            }
            in->selection = sel;
            in->target = target;
            r->sel[sel].requester = NULL;
            if (!in->target)
                return;
            VdSessionMsg m = { .type = VD_S_CLIPBOARD_BEGIN };
            m.u.begin.selection = sel;
            m.u.begin.type = ev->u.clipboard.type;
            m.u.begin.total = ev->u.clipboard.total;
            (void)vd_agent_send(in->target, &m);
            forward_piece(r, in, ev->data, ev->len);
        } else {
            uint32_t id = ev->u.xfer.id;
            VdXfer *x = vd_xfers_get(r->xfers, id);
            if (!x || !x->accepted) {
                g_debug("host: data for transfer %u, which is not in progress: ignored", id);
                return;
            }
            in->xfer_id = id;
            in->target = x->agent;
            forward_piece(r, in, ev->data, ev->len);
        }
        break;
    case VD_HOST_STREAM_DATA:
        if (in->active && in->target)
            forward_piece(r, in, ev->data, ev->len);
        break;
    case VD_HOST_STREAM_END:
        in_reset(in);
        break;
    }
}

static void on_stream_cut(uint32_t port, void *user_data)
{
    VdRouter *r = user_data;
    InStream *in = &r->in[port];
    in_flush(r, in);
    if (in->active && in->target && in->type == VD_MSG_CLIPBOARD)
        router_agent_abort_clipboard(in->target, in->selection);
    in_reset(in);
}

static void on_host_drained(void *user_data)
{
    VdRouter *r = user_data;
    vd_agents_set_reading(r->agents, true);
}

/* --- from the agents --- */

static void agent_xfer_status(VdRouter *r, VdAgent *agent, const VdFileXferStatus *s)
{
    /* CVE-2020-25651: only the agent the transfer was given to may speak for it. */
    VdXfer *x = vd_xfers_get_for(r->xfers, s->id, agent);
    if (!x) {
        router_agent_log(agent, "agent %s: status for transfer %u, which is not its own: ignored", vd_agent_name(agent),
                         s->id);
        return;
    }
    host_xfer_status(r, s);
    if (s->result == VD_XFER_CAN_SEND_DATA)
        x->accepted = true;
    else
        vd_xfers_remove(r->xfers, s->id);
}

static void on_agent_message(VdAgent *agent, const VdSessionMsg *msg, void *user_data)
{
    VdRouter *r = user_data;
    switch (msg->type) {
    case VD_S_CLIPBOARD_GRAB:
        router_agent_grab(r, agent, &msg->u.grab);
        break;
    case VD_S_CLIPBOARD_REQUEST:
        router_agent_request(r, agent, &msg->u.request);
        break;
    case VD_S_CLIPBOARD_RELEASE:
        router_agent_release(r, agent, msg->u.release.selection);
        break;
    case VD_S_CLIPBOARD_BEGIN:
        router_agent_clipboard_begin(r, agent, msg->u.begin.selection, msg->u.begin.type, msg->u.begin.total);
        break;
    case VD_S_CLIPBOARD_DATA:
        router_agent_clipboard_data(r, agent, msg->u.data.selection, msg->u.data.data, msg->u.data.len);
        break;
    case VD_S_CLIPBOARD_ABORT:
        if (msg->u.abort.selection < VD_SELECTION_END) {
            Selection *sel = &r->sel[msg->u.abort.selection];
            agent_data(agent)->drop_left[msg->u.abort.selection] = 0;
            if (sel->host_waiting && agent == r->active) {
                sel->host_waiting = false;
                router_host_clipboard_empty(r, msg->u.abort.selection, sel->host_waiting_type);
            }
            if (sel->out_agent == agent)
                router_abort_out(r, msg->u.abort.selection, "the agent aborted its clipboard data");
            if (sel->ctl_cb && agent == r->active)
                router_ctl_get_finish(r, msg->u.abort.selection, NULL, 0, VD_IPC_ERR_NO_AGENT,
                               "the session agent has no such data");
        }
        break;
    case VD_S_MONITORS_RESULT:
        if (agent == r->active && r->monitors_reply_for && msg->u.monitors_result.request_id == r->monitors_reply_for) {
            r->monitors_reply_for = 0;
            g_clear_handle_id(&r->monitors_timer, g_source_remove);
            host_reply(r, VD_MSG_MONITORS_CONFIG, msg->u.monitors_result.result);
        }
        break;
    case VD_S_LAYOUT: {
        AgentData *d = agent_data(agent);
        d->have_layout = vd_layout_map_from_agent(&d->layout, &msg->u.layout) == 0;
        if (!d->have_layout)
            router_agent_log(agent, "agent %s: unusable layout report ignored", vd_agent_name(agent));
        if (agent == r->active)
            update_layout(r);
        break;
    }
    case VD_S_XFER_STATUS:
        agent_xfer_status(r, agent, &msg->u.xfer_status);
        break;
    case VD_S_VOLUME_APPLIED: {
        AgentData *d = agent_data(agent);
        const VdVolumeApplied *a = &msg->u.volume_applied;
        unsigned dir = a->volume.playback;
        g_free(d->applied[dir].backend);
        g_free(d->applied[dir].error);
        d->applied[dir] = (VdVolumeApplied){ .volume = a->volume, .backend = g_strdup(a->backend),
                                             .error = g_strdup(a->error) };
        d->applied_at[dir] = g_get_real_time();
        d->have_applied[dir] = true;
        break;
    }
    case VD_S_DEVICE_MAP: {
        AgentData *d = agent_data(agent);
        d->device_map = msg->u.device_map;
        d->have_device_map = true;
        break;
    }
    default:
        g_debug("agent %s: ignoring %s", vd_agent_name(agent), vd_session_msg_type_to_string(msg->type));
        break;
    }
}

static void on_agent_ready(VdAgent *agent, void *user_data)
{
    VdRouter *r = user_data;
    AgentData *d = g_new0(AgentData, 1);
    d->sent_active = d->sent_locked = -1;
    vd_agent_set_data(agent, d);
    send_host_state(r, agent);
    update_active(r);
}

static void on_agent_gone(VdAgent *agent, void *user_data)
{
    VdRouter *r = user_data;
    /* A stream it was feeding to the host cannot be completed. */
    for (unsigned s = 0; s < VD_SELECTION_END; s++)
        if (r->sel[s].out != OUT_IDLE && r->sel[s].out_agent == agent)
            router_abort_out(r, (uint8_t)s, "the agent left in the middle of its clipboard data");
    cancel_xfers(r, agent, VD_XFER_END, VD_XFER_VDAGENT_NOT_CONNECTED);
    detach_agent(r, agent, false);
    AgentData *d = agent_data(agent);
    for (unsigned dir = 0; d && dir < 2; dir++) {
        g_free(d->applied[dir].backend);
        g_free(d->applied[dir].error);
    }
    g_free(d);
    vd_agent_set_data(agent, NULL);
    if (agent == r->active) {
        r->active = NULL;
        for (unsigned s = 0; s < VD_SELECTION_END; s++) {
            Selection *sel = &r->sel[s];
            if (sel->owner == OWNER_GUEST) {
                if (by_demand(r))
                    router_host_clipboard_release(r, (uint8_t)s);
                sel->owner = OWNER_NONE;
            }
            if (sel->host_waiting) {
                router_host_clipboard_empty(r, (uint8_t)s, sel->host_waiting_type);
                sel->host_waiting = false;
            }
            if (sel->ctl_cb)
                router_ctl_get_finish(r, (uint8_t)s, NULL, 0, VD_IPC_ERR_NO_AGENT, "the session agent left");
        }
        if (r->monitors_reply_for) {
            r->monitors_reply_for = 0;
            host_reply(r, VD_MSG_MONITORS_CONFIG, VD_REPLY_ERROR);
        }
    }
    /* It has left the agents' list already. */
    update_active(r);
}

static void on_agents_drained(VdAgent *agent, void *user_data)
{
    unpause_for(user_data, agent);
}

/* --- lifecycle --- */

VdRouter *vd_router_new(const VdRouterConfig *config)
{
    VdRouter *r = g_new0(VdRouter, 1);
    r->sessions = config->sessions;
    r->uinput = config->uinput;
    r->max_clipboard = -1;
    r->xfers = vd_xfers_new();
    vd_log_limit_init(&r->host_log, "host");
    vd_log_limit_init(&r->state_log, "router");
    uint32_t w = 0, h = 0;
    if (vd_layout_kernel_size(config->sysfs_root ? config->sysfs_root : "/sys", &w, &h) == 0)
        vd_layout_map_single(&r->base_map, VD_LAYOUT_SOURCE_KERNEL, w, h);
    else
        vd_layout_map_single(&r->base_map, VD_LAYOUT_SOURCE_DEFAULT, 0, 0);
    static const VdHostHandlers hh = {
        .link = on_link,
        .caps = on_caps,
        .client_disconnected = on_client_disconnected,
        .mouse = on_mouse,
        .batch_end = on_batch_end,
        .message = on_host_message,
        .bad_message = on_host_bad_message,
        .stream = on_stream,
        .stream_cut = on_stream_cut,
        .drained = on_host_drained,
    };
    r->host = vd_host_new(config->port_path, &hh, r);
    static const VdAgentsHandlers ah = {
        .ready = on_agent_ready,
        .gone = on_agent_gone,
        .message = on_agent_message,
        .drained = on_agents_drained,
    };
    r->agents = vd_agents_new(config->sessions, &ah, r);
    update_layout(r);
    update_caps(r);
    return r;
}

void vd_router_free(VdRouter *r)
{
    if (!r)
        return;
    g_clear_handle_id(&r->monitors_timer, g_source_remove);
    for (unsigned s = 0; s < VD_SELECTION_END; s++) {
        if (r->sel[s].ctl_cb)
            router_ctl_get_finish(r, (uint8_t)s, NULL, 0, VD_IPC_ERR_INTERNAL, "the daemon is stopping");
        router_ctl_offer_clear(&r->sel[s]);
    }
    vd_agents_free(r->agents);
    vd_host_free(r->host);
    vd_xfers_free(r->xfers);
    vd_log_limit_clear(&r->host_log);
    vd_log_limit_clear(&r->state_log);
    for (guint p = 0; p < G_N_ELEMENTS(r->in); p++)
        in_reset(&r->in[p]);
    g_free(r);
}

bool vd_router_start(VdRouter *r, const char *socket_path, GError **error)
{
    if (!vd_agents_listen(r->agents, socket_path, error))
        return false;
    vd_host_start(r->host);
    return true;
}

VdHost *vd_router_host(VdRouter *r)
{
    g_return_val_if_fail(r, NULL);
    return r->host;
}

void vd_router_set_trace(VdRouter *r, VdTraceFunc func, void *user_data)
{
    g_return_if_fail(r);
    vd_host_set_trace(r->host, func, user_data);
    vd_agents_set_trace(r->agents, func, user_data);
}

