/* SPDX-License-Identifier: GPL-3.0-or-later */
/* agents-identify.c — who a session agent connection is, before any of its bytes is read: the
 * peer's pid pinned (pidfd, or its start time), its logind session and that session's owner, or
 * without session tracking the pinned display owner (see agents.h).
 *
 * CVE-2020-25653 (a race in identifying new connections let a user become the active agent):
 * nothing of a connection is read until it is identified; its pid is pinned by a pidfd taken at
 * accept (or its start time where the kernel has no SO_PEERPIDFD) and re-checked after the
 * asynchronous session lookup (on_lookup(), agents_peer_still_there()). */
#include "agents-private.h"

#include <string.h>

unsigned long long agents_proc_start_time(pid_t pid)
{
    char path[64];
    g_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    /* Field 22, counted after the command name, which may contain anything but ends at the last ')'. */
    const char *p = strrchr(text, ')');
    if (!p)
        return 0;
    unsigned long long start = 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (field == 22)
        start = g_ascii_strtoull(p, NULL, 10);
    return start;
}

/* Whether the process that connected is still the one with this pid. */
bool agents_peer_still_there(const VdAgent *agent)
{
    if (agent->pidfd >= 0) {
        char path[64];
        g_snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", agent->pidfd);
        g_autofree char *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, NULL))
            return false;
        const char *line = strstr(text, "\nPid:");
        if (!line)
            return false;
        /* "Pid: -1" once the process has exited. */
        return g_ascii_strtoll(line + 5, NULL, 10) == agent->pid;
    }
    return agent->start_time != 0 && agents_proc_start_time(agent->pid) == agent->start_time;
}

static void on_lookup(const char *session_id, const GError *error, void *user_data)
{
    g_autofree Lookup *lookup = user_data;
    if (!lookup->agents)
        return;
    lookup->agents->lookups = g_list_remove(lookup->agents->lookups, lookup);
    VdAgent *agent = NULL;
    for (GList *l = lookup->agents->all; l; l = l->next)
        if (((VdAgent *)l->data)->serial == lookup->serial)
            agent = l->data;
    if (!agent)
        return; /* gone meanwhile */
    g_clear_object(&agent->lookup);
    if (!session_id) {
        g_autofree char *why = g_strdup_printf("no logind session: %s", error ? error->message : "unknown");
        agents_refuse(agent, VD_IPC_ERR_PERMISSION, REFUSED_NO_SESSION, why);
        return;
    }
    /* CVE-2020-25653: the lookup mapped a pid to a session; make sure that pid is still the
     * process that connected (not a later one that reused the number). */
    if (!agents_peer_still_there(agent)) {
        agents_refuse(agent, VD_IPC_ERR_PERMISSION, REFUSED_OTHER, "the connecting process exited before it was identified");
        return;
    }
    VdSessionInfo info = { 0 };
    if (vd_sessions_get(agent->agents->sessions, session_id, &info) < 0) {
        agents_refuse(agent, VD_IPC_ERR_PERMISSION, REFUSED_NO_SESSION, "its session is not known to logind");
        return;
    }
    bool ok = info.uid == agent->uid || agent->uid == 0;
    vd_session_info_clear(&info);
    if (!ok) {
        agents_refuse(agent, VD_IPC_ERR_PERMISSION, REFUSED_NOT_OWNER, "the session belongs to another user");
        return;
    }
    agents_identified(agent, session_id);
}

void agents_identify_none(VdAgent *agent)
{
    VdAgents *agents = agent->agents;
    /* Without logind nobody can say which user owns the display. The first agent's uid is pinned
     * (the owner of the X display that agent serves, in the one-user setups this mode is for);
     * after that only root and that uid are accepted. Deny by default. */
    if (agent->uid != 0 && agents->pinned && agent->uid != agents->pinned_uid) {
        agents_refuse(agent, VD_IPC_ERR_PERMISSION, REFUSED_NOT_OWNER,
               "session tracking is off and this is not the display owner");
        return;
    }
    agents_identified(agent, "none");
}

void agents_identify_logind(VdAgent *agent)
{
    VdAgents *agents = agent->agents;
    agent->lookup = g_cancellable_new();
    Lookup *lookup = g_new0(Lookup, 1);
    lookup->agents = agents;
    lookup->serial = agent->serial;
    agents->lookups = g_list_prepend(agents->lookups, lookup);
    vd_sessions_lookup_pid(agents->sessions, agent->pid, agent->lookup, on_lookup, lookup);
}
