/* SPDX-License-Identifier: GPL-3.0-or-later */
/* verdict.c — the one-line clipboard verdict of `vdagent-ctl status` (see verdict.h). */
#include "verdict.h"

#include <stdbool.h>
#include <string.h>

/* Members read defensively: the document comes from another program (maybe another version). */
static JsonObject *get_object(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static JsonArray *get_array(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

static const char *get_string(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n)
                                                                                        : NULL;
}

static bool get_bool(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN && json_node_get_boolean(n);
}

static gint64 get_int(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64 ? json_node_get_int(n) : -1;
}

static bool array_has_string(JsonArray *a, const char *s)
{
    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        JsonNode *n = json_array_get_element(a, i);
        if (JSON_NODE_HOLDS_VALUE(n) && g_strcmp0(json_node_get_string(n), s) == 0)
            return true;
    }
    return false;
}

/* The agent serving session id ("none" without session tracking), preferring the active one. */
static JsonObject *agent_for(JsonArray *agents, const char *session)
{
    JsonObject *found = NULL;
    for (guint i = 0; agents && i < json_array_get_length(agents); i++) {
        JsonObject *a = json_array_get_object_element(agents, i);
        if (!a || (session && g_strcmp0(get_string(a, "session"), session) != 0))
            continue;
        if (!found || get_bool(a, "active"))
            found = a;
    }
    return found;
}

/* The active session of a seat; seat0 first, as it is the one with the virtual display. */
static JsonObject *active_session(JsonArray *sessions)
{
    JsonObject *found = NULL;
    for (guint i = 0; sessions && i < json_array_get_length(sessions); i++) {
        JsonObject *s = json_array_get_object_element(sessions, i);
        const char *seat = get_string(s, "seat");
        if (!s || !get_bool(s, "active") || !seat || !*seat)
            continue;
        if (!found || g_strcmp0(seat, "seat0") == 0)
            found = s;
    }
    return found;
}

static char *agent_verdict(JsonObject *agent, const char *where)
{
    const char *state = get_string(agent, "state");
    if (g_strcmp0(state, "ready") != 0)
        return g_strdup_printf("clipboard: unavailable: the session agent for %s is still connecting (%s)", where,
                               state ? state : "unknown state");
    if (!array_has_string(get_array(agent, "features"), "clipboard"))
        return g_strdup_printf("clipboard: unavailable: the session agent for %s has no clipboard (its display "
                               "lacks XFixes, or it cannot serve one)", where);
    return g_strdup_printf("clipboard: working: the session agent for %s (pid %" G_GINT64_FORMAT ")", where,
                           get_int(agent, "pid"));
}

char *vd_ctl_clipboard_verdict(JsonObject *status)
{
    g_return_val_if_fail(status, NULL);
    JsonObject *port = get_object(status, "port");
    if (!get_bool(port, "open")) {
        const char *error = get_string(port, "last_error");
        return g_strdup_printf("clipboard: unavailable: the agent port \"%s\" is not open%s%s",
                               get_string(port, "path") ? get_string(port, "path") : "?", error ? ": " : "",
                               error ? error : "");
    }
    /* The host's own capabilities: ours (and so the negotiated set) offer the clipboard only
     * while an active agent can serve it, which the checks below explain better. */
    JsonArray *host_caps = get_array(get_object(status, "caps"), "host");
    if (!host_caps || json_array_get_length(host_caps) == 0)
        return g_strdup("clipboard: unavailable: the host has not announced its capabilities yet");
    if (!array_has_string(host_caps, "CLIPBOARD_BY_DEMAND"))
        return g_strdup("clipboard: unavailable: the host does not offer the clipboard (no CLIPBOARD_BY_DEMAND)");
    if (!get_bool(get_object(status, "host"), "client_connected"))
        return g_strdup("clipboard: unavailable: no client is connected to the host (no viewer open)");

    JsonArray *agents = get_array(status, "agents");
    if (g_strcmp0(get_string(status, "session_tracking"), "logind") != 0) {
        JsonObject *agent = agent_for(agents, NULL);
        if (!agent)
            return g_strdup("clipboard: unavailable: no session agent is connected");
        return agent_verdict(agent, "the display");
    }
    JsonObject *s = active_session(get_array(status, "sessions"));
    if (!s)
        return g_strdup("clipboard: unavailable: no session is active on any seat (a login screen, or nobody "
                        "logged in)");
    g_autofree char *where = g_strdup_printf("the active session (%s, session %s, %s)", get_string(s, "seat"),
                                             get_string(s, "id") ? get_string(s, "id") : "?",
                                             get_string(s, "user") ? get_string(s, "user") : "?");
    JsonObject *agent = agent_for(agents, get_string(s, "id"));
    if (!agent)
        return g_strdup_printf("clipboard: unavailable: no session agent for %s", where);
    return agent_verdict(agent, where);
}
