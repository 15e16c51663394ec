/* SPDX-License-Identifier: GPL-3.0-or-later */
/* agents-status.c — the session agents' part of vdagentd's status document (see agents.h and
 * docs/vdagent-ctl.md): one object per connection, and the counters by message type and by
 * refusal. */
#include "agents-private.h"

static const char *agent_state_to_string(AgentState s)
{
    switch (s) {
    case AGENT_IDENTIFYING: return "identifying";
    case AGENT_HELLO: return "hello";
    case AGENT_READY: return "ready";
    }
    return "unknown";
}

void vd_agents_status(const VdAgents *agents, const VdAgent *active, JsonBuilder *b)
{
    json_builder_set_member_name(b, "agents");
    json_builder_begin_array(b);
    for (GList *l = agents->all; l; l = l->next) {
        const VdAgent *a = l->data;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "session");
        if (a->session)
            json_builder_add_string_value(b, a->session);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "pid");
        json_builder_add_int_value(b, a->pid);
        json_builder_set_member_name(b, "uid");
        json_builder_add_int_value(b, a->uid);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, a->closing ? "closing" : agent_state_to_string(a->state));
        json_builder_set_member_name(b, "active");
        json_builder_add_boolean_value(b, a == active);
        json_builder_set_member_name(b, "features");
        json_builder_begin_array(b);
        for (uint32_t bit = 1; bit & VD_SESSION_FEATURES_ALL; bit <<= 1)
            if (a->features & bit)
                json_builder_add_string_value(b, vd_session_feature_to_string(bit));
        json_builder_end_array(b);
        json_builder_set_member_name(b, "software");
        json_builder_add_string_value(b, a->software ? a->software : "");
        json_builder_set_member_name(b, "queued");
        json_builder_add_int_value(b, (gint64)agents_queued(a));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_type_counters(JsonBuilder *b, const char *name, const TypeCounters *c)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    /* Types this build does not know (a newer peer's) are summed under "UNKNOWN". */
    uint64_t unknown_messages = 0, unknown_bytes = 0;
    for (unsigned t = 0; t < AGENT_COUNTED_TYPES; t++) {
        if (!c->messages[t])
            continue;
        const char *type_name = vd_session_msg_type_to_string(t);
        if (t == AGENT_COUNTED_TYPES - 1 || g_str_equal(type_name, "UNKNOWN")) {
            unknown_messages += c->messages[t];
            unknown_bytes += c->bytes[t];
            continue;
        }
        json_builder_set_member_name(b, type_name);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "messages");
        json_builder_add_int_value(b, (gint64)c->messages[t]);
        json_builder_set_member_name(b, "bytes");
        json_builder_add_int_value(b, (gint64)c->bytes[t]);
        json_builder_end_object(b);
    }
    if (unknown_messages) {
        json_builder_set_member_name(b, "UNKNOWN");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "messages");
        json_builder_add_int_value(b, (gint64)unknown_messages);
        json_builder_set_member_name(b, "bytes");
        json_builder_add_int_value(b, (gint64)unknown_bytes);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
}

void vd_agents_counters(const VdAgents *agents, JsonBuilder *b)
{
    add_type_counters(b, "to_agent", &agents->to_agent);
    add_type_counters(b, "from_agent", &agents->from_agent);
}

void vd_agents_errors(const VdAgents *agents, JsonBuilder *b)
{
    static const char *const names[REFUSED_END] = {
        [REFUSED_NOT_OWNER] = "refused_not_owner",
        [REFUSED_DUPLICATE] = "refused_duplicate",
        [REFUSED_LIMIT] = "refused_limit",
        [REFUSED_NO_SESSION] = "refused_no_session",
    };
    for (unsigned i = 0; i < REFUSED_END; i++) {
        if (!names[i])
            continue;
        json_builder_set_member_name(b, names[i]);
        json_builder_add_int_value(b, (gint64)agents->refused_by[i]);
    }
    json_builder_set_member_name(b, "agent_stalled");
    json_builder_add_int_value(b, (gint64)agents->stalled);
}

uint64_t vd_agents_refused(const VdAgents *agents)
{
    return agents->refused;
}

uint64_t vd_agents_protocol_errors(const VdAgents *agents)
{
    return agents->protocol_errors;
}
