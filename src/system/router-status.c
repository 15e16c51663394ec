/* SPDX-License-Identifier: GPL-3.0-or-later */
/* router-status.c — the router's part of `vdagent-ctl status` (docs/vdagent-ctl.md). */
#include "router-private.h"

const char *router_owner_to_string(Owner o)
{
    switch (o) {
    case OWNER_NONE: return "none";
    case OWNER_HOST: return "host";
    case OWNER_GUEST: return "guest";
    }
    return "unknown";
}

static void volume_members(JsonBuilder *b, const VdVolume *v)
{
    json_builder_set_member_name(b, "volume");
    json_builder_begin_array(b);
    for (uint32_t i = 0; i < v->count; i++)
        json_builder_add_int_value(b, v->volume[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "percent");
    json_builder_begin_array(b);
    for (uint32_t i = 0; i < v->count; i++)
        json_builder_add_int_value(b, (v->volume[i] * 100 + 32767) / 65535);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "mute");
    json_builder_add_boolean_value(b, v->mute);
}

/* The host's last volumes and what the active agent did with them; the active agent's device map. */
static void agent_reports(VdRouter *r, JsonBuilder *b)
{
    AgentData *d = r->active ? agent_data(r->active) : NULL;

    json_builder_set_member_name(b, "audio");
    json_builder_begin_object(b);
    for (int dir = 1; dir >= 0; dir--) {
        json_builder_set_member_name(b, dir ? "playback" : "record");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "host");
        if (r->have_volume[dir]) {
            json_builder_begin_object(b);
            volume_members(b, &r->volume[dir]);
            json_builder_end_object(b);
        } else {
            json_builder_add_null_value(b);
        }
        json_builder_set_member_name(b, "applied");
        if (d && d->have_applied[dir]) {
            const VdVolumeApplied *a = &d->applied[dir];
            json_builder_begin_object(b);
            volume_members(b, &a->volume);
            json_builder_set_member_name(b, "backend");
            json_builder_add_string_value(b, a->backend);
            json_builder_set_member_name(b, "error");
            if (a->error && a->error[0])
                json_builder_add_string_value(b, a->error);
            else
                json_builder_add_null_value(b);
            json_builder_set_member_name(b, "at");
            g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(d->applied_at[dir] / G_USEC_PER_SEC);
            g_autofree char *iso = t ? g_date_time_format_iso8601(t) : NULL;
            json_builder_add_string_value(b, iso ? iso : "");
            json_builder_end_object(b);
        } else {
            json_builder_add_null_value(b);
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "device_map");
    json_builder_begin_array(b);
    for (uint32_t i = 0; d && d->have_device_map && i < d->device_map.count; i++) {
        const VdDeviceMapEntry *e = &d->device_map.entries[i];
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "display_id");
        json_builder_add_int_value(b, e->display_id);
        json_builder_set_member_name(b, "output");
        json_builder_add_string_value(b, e->output);
        json_builder_set_member_name(b, "by");
        json_builder_add_string_value(b, e->from_device_info ? "device-info" : "order");
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

void vd_router_status(VdRouter *r, JsonBuilder *b)
{
    g_return_if_fail(r && b);
    vd_host_status(r->host, b);

    json_builder_set_member_name(b, "host");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "client_connected");
    json_builder_add_boolean_value(b, r->client);
    json_builder_set_member_name(b, "max_clipboard");
    json_builder_add_int_value(b, r->max_clipboard);
    json_builder_set_member_name(b, "clipboard");
    json_builder_begin_object(b);
    for (unsigned s = 0; s < VD_SELECTION_END; s++) {
        json_builder_set_member_name(b, vd_selection_to_string(s));
        json_builder_add_string_value(b, r->sel[s].ctl_offer ? "vdagent-ctl"
                                                             : router_owner_to_string(r->sel[s].owner));
    }
    json_builder_end_object(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "mouse");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "device");
    if (r->uinput)
        json_builder_add_string_value(b, VD_UINPUT_NAME);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "event_node");
    if (r->uinput && vd_uinput_event_node(r->uinput))
        json_builder_add_string_value(b, vd_uinput_event_node(r->uinput));
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "fake");
    json_builder_add_boolean_value(b, r->uinput && vd_uinput_fake(r->uinput));
    json_builder_set_member_name(b, "layout_source");
    json_builder_add_string_value(b, vd_layout_source_to_string(r->map.source));
    json_builder_set_member_name(b, "layout");
    json_builder_begin_array(b);
    for (uint32_t id = 0; id < VD_IPC_MAX_DISPLAYS; id++) {
        const VdLayoutRect *d = &r->map.displays[id];
        if (!d->present)
            continue;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "display_id");
        json_builder_add_int_value(b, id);
        json_builder_set_member_name(b, "x");
        json_builder_add_int_value(b, d->x);
        json_builder_set_member_name(b, "y");
        json_builder_add_int_value(b, d->y);
        json_builder_set_member_name(b, "width");
        json_builder_add_int_value(b, d->width);
        json_builder_set_member_name(b, "height");
        json_builder_add_int_value(b, d->height);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "events");
    json_builder_add_int_value(b, (gint64)r->mouse_events);
    json_builder_set_member_name(b, "last");
    if (r->have_last_mouse) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "x");
        json_builder_add_int_value(b, r->last_mouse.x);
        json_builder_set_member_name(b, "y");
        json_builder_add_int_value(b, r->last_mouse.y);
        json_builder_set_member_name(b, "buttons");
        json_builder_add_int_value(b, r->last_mouse.buttons);
        json_builder_set_member_name(b, "display_id");
        json_builder_add_int_value(b, r->last_mouse.display_id);
        json_builder_set_member_name(b, "axis_x");
        if (r->last_mapped)
            json_builder_add_int_value(b, r->last_axis_x);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "axis_y");
        if (r->last_mapped)
            json_builder_add_int_value(b, r->last_axis_y);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);

    vd_agents_status(r->agents, r->active, b);
    vd_xfers_status(r->xfers, b);
    agent_reports(r, b);

    json_builder_set_member_name(b, "counters");
    json_builder_begin_object(b);
    vd_host_counters(r->host, b);
    vd_agents_counters(r->agents, b);
    json_builder_set_member_name(b, "errors");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "framing");
    json_builder_add_int_value(b, (gint64)vd_host_framing_errors(r->host));
    json_builder_set_member_name(b, "bad_message");
    json_builder_add_int_value(b, (gint64)(vd_host_bad_messages(r->host) + r->bad_messages));
    json_builder_set_member_name(b, "agent_protocol");
    json_builder_add_int_value(b, (gint64)vd_agents_protocol_errors(r->agents));
    json_builder_set_member_name(b, "refused_agent");
    json_builder_add_int_value(b, (gint64)vd_agents_refused(r->agents));
    vd_agents_errors(r->agents, b);
    json_builder_set_member_name(b, "unknown_type");
    json_builder_add_int_value(b, (gint64)vd_host_unknown_types(r->host));
    json_builder_set_member_name(b, "uinput_write");
    json_builder_add_int_value(b, r->uinput ? (gint64)vd_uinput_failed_writes(r->uinput) : 0);
    json_builder_set_member_name(b, "xfer_refused");
    json_builder_add_int_value(b, (gint64)r->xfer_refused);
    json_builder_set_member_name(b, "dropped_no_agent");
    json_builder_add_int_value(b, (gint64)r->dropped_no_agent);
    json_builder_set_member_name(b, "unknown_display");
    json_builder_add_int_value(b, (gint64)r->unknown_display);
    json_builder_set_member_name(b, "max_clipboard");
    json_builder_add_int_value(b, (gint64)r->over_max_clipboard);
    json_builder_end_object(b);
    json_builder_end_object(b);
}
