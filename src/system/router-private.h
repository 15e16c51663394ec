/* SPDX-License-Identifier: GPL-3.0-or-later */
/* router-private.h — the router's state, shared by its parts: router.c (who gets what, the
 * active session, monitors, files, streams), router-clipboard.c (the clipboard both ways and
 * vdagent-ctl's), router-status.c (the status document). Not a public interface. */
#pragma once

#include "grab-serial.h"
#include "layout.h"
#include "router.h"
#include "ratelimit.h"
#include "xfers.h"

typedef enum {
    OWNER_NONE = 0,
    OWNER_HOST,  /* the host holds the selection; the guest may request it */
    OWNER_GUEST, /* the active agent holds it; the host may request it */
} Owner;

typedef enum {
    OUT_IDLE = 0,
    OUT_FORWARD, /* agent data -> host stream */
    OUT_DROP,    /* agent data discarded (over MAX_CLIPBOARD, unrequested, host gone) */
    OUT_CTL,     /* agent data collected for vdagent-ctl's clipboard get */
} OutState;

typedef struct {
    Owner owner;
    VdGrabSerial serial;
    uint32_t n_types;                   /* the host's grab, for a newly active agent */
    uint32_t types[VD_LIMIT_GRAB_TYPES];
    VdAgent *requester;                 /* agent waiting for the host's data */
    bool host_waiting;                  /* the host asked the guest for data */
    uint32_t host_waiting_type;
    OutState out;
    uint64_t out_left;
    VdAgent *out_agent;                 /* whose data out is */
    /* vdagent-ctl: data offered as if the host held it (owner HOST), and a pending get. */
    GBytes *ctl_offer;
    VdRouterClipboardFunc ctl_cb;
    void *ctl_data;
    guint ctl_timer;
    uint32_t ctl_type;
    GByteArray *ctl_buf;
} Selection;

typedef struct {
    bool active;
    uint32_t type;       /* CLIPBOARD or FILE_XFER_DATA */
    VdAgent *target;     /* NULL: dropping */
    uint8_t selection;
    uint32_t xfer_id;
    /* Data of consecutive host chunks not yet sent: one frame of up to VD_IPC_MAX_PIECE per run
     * instead of one per 2 KiB chunk (flushed when full, at the end of each read, and before
     * anything else is sent). Allocated while a stream is in progress only. */
    GByteArray *pending;
} InStream;

typedef struct {
    bool have_layout;
    VdLayoutMap layout;
    /* Clipboard data this agent announced that goes nowhere (it is not the active agent, or lost
     * that place mid-answer): counted here so that it changes no selection's state. */
    uint64_t drop_left[VD_SELECTION_END];
    int sent_active, sent_locked; /* last SESSION_STATE sent, -1 = none yet */
    /* what the agent reported (VOLUME_APPLIED per direction: [0] record, [1] playback; DEVICE_MAP) */
    bool have_applied[2];
    VdVolumeApplied applied[2]; /* strings owned */
    gint64 applied_at[2];       /* CLOCK_REALTIME, us */
    bool have_device_map;
    VdDeviceMapReport device_map;
} AgentData;

struct VdRouter {
    VdHost *host;
    VdAgents *agents;
    VdSessions *sessions;
    VdUinput *uinput;
    VdXfers *xfers;
    VdAgent *active;
    bool client;          /* a client announced its caps since the last open/disconnect */
    int32_t max_clipboard;
    /* pointer */
    VdLayoutMap map;
    bool have_host_map;
    VdLayoutMap host_map;
    VdLayoutMap base_map; /* kernel framebuffer or default */
    uint32_t unknown_displays_logged;
    uint64_t mouse_events;
    /* host state cached for agents */
    bool have_monitors;
    VdMonitorsConfig monitors;
    bool have_device_info;
    VdGraphicsDeviceInfo device_info;
    bool have_volume[2]; /* the host's last AUDIO_VOLUME_SYNC per direction: [0] record, [1] playback */
    VdVolume volume[2];
    uint32_t monitors_request_id;
    uint32_t monitors_reply_for; /* request id a host REPLY is owed for, 0 = none */
    guint monitors_timer;
    Selection sel[VD_SELECTION_END];
    InStream in[3];
    uint64_t bad_messages;
    /* status: the last MOUSE_STATE (axis_* valid when last_mapped), and errors by kind */
    bool have_last_mouse, last_mapped;
    VdMouseState last_mouse;
    uint32_t last_axis_x, last_axis_y;
    uint64_t xfer_refused;     /* FILE_XFER_START over VD_XFERS_MAX */
    uint64_t dropped_no_agent; /* host clipboard/monitor/file messages no agent received */
    uint64_t unknown_display;  /* MOUSE_STATE for a display the layout lacks */
    uint64_t over_max_clipboard; /* guest clipboard data over the host's MAX_CLIPBOARD */
    VdAgent *paused_for;  /* the agent whose full queue stopped the port, or NULL */
    VdLogLimit host_log;  /* lines the host's messages make us write */
    VdLogLimit state_log; /* active agent and pointer layout changes, which agents can trigger */
};

static inline AgentData *agent_data(VdAgent *agent)
{
    return vd_agent_get_data(agent);
}

static inline bool by_demand(VdRouter *r)
{
    return r->client && vd_host_has(r->host, VD_CAP_CLIPBOARD_BY_DEMAND);
}

/* VD_SESSION_FEATURE_* of the active agent (none without one). */
static inline bool active_can(VdRouter *r, uint32_t feature)
{
    return r->active && (vd_agent_features(r->active) & feature);
}

static inline bool selection_ok(VdRouter *r, uint8_t sel)
{
    return sel < VD_SELECTION_END &&
           (sel == VD_SELECTION_CLIPBOARD || vd_host_has(r->host, VD_CAP_CLIPBOARD_SELECTION));
}

static inline void send_agent(VdAgent *agent, const VdSessionMsg *msg)
{
    if (agent)
        (void)vd_agent_send(agent, msg);
}

/* Built payload -> host, whole. */
static inline void host_send(VdRouter *r, uint32_t type, GByteArray *payload)
{
    (void)vd_host_send(r->host, type, payload->data, payload->len);
    /* A host that does not read pauses the agents, whatever they send. */
    if (vd_host_full(r->host))
        vd_agents_set_reading(r->agents, false);
}

/* A line the host's messages trigger: limited per format (ratelimit.h). */
#define router_host_log(r, level, fmt, ...) vd_limited(&(r)->host_log, (level), fmt, fmt, __VA_ARGS__)
/* A line an agent's messages trigger: limited per agent and format. */
#define router_agent_log(agent, fmt, ...)                                                          \
    vd_limited(vd_agent_log_limit(agent), G_LOG_LEVEL_MESSAGE, fmt, fmt, __VA_ARGS__)

/* Owner names for status. */
const char *router_owner_to_string(Owner owner);

/* --- router-clipboard.c --- */
void router_ctl_offer_clear(Selection *sel);
const char *router_out_state_to_string(OutState state);
/* The guest -> host clipboard state machine's one way of changing state: IDLE -> DROP when data
 * begins, DROP -> FORWARD or CTL once its destination is known, CTL or FORWARD -> DROP when that
 * destination goes away, anything -> IDLE when the data ends or is aborted. Any other transition
 * is a bug: logged as one (g_critical), and made anyway so that the selection cannot stay stuck. */
void router_out_set(Selection *sel, OutState to);
void router_ctl_get_finish(VdRouter *r, uint8_t s, const uint8_t *data, size_t len, uint32_t code,
                           const char *message);
void router_host_clipboard_release(VdRouter *r, uint8_t sel);
void router_host_clipboard_empty(VdRouter *r, uint8_t sel, uint32_t type);
void router_agent_abort_clipboard(VdAgent *agent, uint8_t sel);
void router_host_grab(VdRouter *r, const VdClipboardGrab *g);
void router_host_request(VdRouter *r, const VdClipboardRequest *q);
void router_host_release(VdRouter *r, uint8_t s);
void router_agent_grab(VdRouter *r, VdAgent *agent, const VdClipboardGrab *g);
void router_agent_request(VdRouter *r, VdAgent *agent, const VdClipboardRequest *q);
void router_agent_release(VdRouter *r, VdAgent *agent, uint8_t s);
void router_agent_clipboard_begin(VdRouter *r, VdAgent *agent, uint8_t s, uint32_t type, uint64_t total);
void router_agent_clipboard_data(VdRouter *r, VdAgent *agent, uint8_t s, const uint8_t *data, size_t len);
void router_abort_out(VdRouter *r, uint8_t s, const char *why);
