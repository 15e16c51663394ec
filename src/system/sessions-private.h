/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sessions-private.h — what the session table (sessions.c) and the pid lookups (session-lookup.c)
 * share. Not a public interface: callers use sessions.h. */
#pragma once

#include "sessions.h"

/* Timeout of every D-Bus call to logind, and of a whole pid lookup. */
#define VD_SESSIONS_CALL_TIMEOUT_MS 3000
/* Pid lookups in flight at once (one per connecting agent; the agent socket caps connections too). */
#define VD_SESSIONS_MAX_LOOKUPS 64u

/* logind's session ids are letters and digits ("2", "c1"), at most VD_SESSIONS_MAX_ID bytes. */
bool vd_session_id_valid(const char *id);

/* --- the table, for the lookups --- */

GDBusConnection *vd_sessions_bus(const VdSessions *sessions);
/* logind's unique name, NULL while it is gone. */
const char *vd_sessions_owner(const VdSessions *sessions);
/* The id of the session the table holds at object path, whether its properties are read yet or
 * not; NULL if none. */
const char *vd_sessions_id_at_path(const VdSessions *sessions, const char *path);

/* --- the lookups, for the table --- */

typedef struct VdSessionLookups VdSessionLookups;

VdSessionLookups *vd_session_lookups_new(VdSessions *table);
/* Lookups in flight go on without the table and still complete (a waiting one on its timeout). */
void vd_session_lookups_free(VdSessionLookups *lookups);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdSessionLookups, vd_session_lookups_free)
/* The table has just read the properties of session id: lookups waiting for it complete. */
void vd_session_lookups_loaded(VdSessionLookups *lookups, const char *id);
VdSessionLookups *vd_sessions_lookups(const VdSessions *sessions);
