/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-commands.h — the verbs of the QEMU guest agent protocol, between qga.c (channel, framing,
 * policy, dispatch) and qga-commands.c (one handler per verb).
 *
 * qga.c validates a request's arguments against the verb's table entry, then calls its handler with
 * a VdQgaCall. The handler completes the call exactly once — now or later, from an async callback —
 * with vd_qga_call_return(), vd_qga_call_error() or vd_qga_call_done(). Requests are served one
 * at a time, in order, like qemu-ga: the next is read only once the current one completed. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

/* Error classes of QEMU's QAPI, as qemu-ga sends them. */
#define VD_QGA_ERROR_GENERIC "GenericError"
#define VD_QGA_ERROR_COMMAND_NOT_FOUND "CommandNotFound"

/* Bounds on what the system may make a verb allocate. */
#define VD_QGA_MAX_USERS 1024            /* guest-get-users: logind users reported */
#define VD_QGA_MAX_VCPUS 8192            /* guest-get-vcpus: CPUs reported */
#define VD_QGA_DBUS_TIMEOUT_MS 10000      /* each logind call */

typedef struct VdQgaCall VdQgaCall;

typedef enum {
    VD_QGA_ARG_INT,
    VD_QGA_ARG_STRING,
    VD_QGA_ARG_BOOL,
    VD_QGA_ARG_ARRAY, /* any array: the handler checks its elements */
    VD_QGA_ARG_ANY,   /* any JSON value: the handler checks it */
} VdQgaArgType;

typedef struct {
    const char *name;
    VdQgaArgType type;
    gboolean optional;
} VdQgaArg;

typedef void (*VdQgaHandler)(VdQgaCall *call, JsonObject *args);

typedef struct {
    const char *name;
    VdQgaHandler handler;
    const VdQgaArg *args;       /* terminated by a {NULL} entry; NULL: takes no arguments */
    gboolean success_response;  /* FALSE: no reply on success (guest-shutdown) */
    gboolean privileged;        /* changes the system: one audit line per request */
} VdQgaCommand;

/* The verbs, in the order guest-info lists them. */
const VdQgaCommand *vd_qga_commands(gsize *ret_n);
const VdQgaCommand *vd_qga_command_find(const char *name);
/* Names qemu-ga knows but we do not implement: accepted in policies without a warning. */
gboolean vd_qga_command_is_known_elsewhere(const char *name);
/* guest-exec, guest-exec-status, guest-file-*: they hand the host a root shell, so they are
 * disabled unless the policy file's allow-rpcs names them (--allow-rpcs alone does not). */
gboolean vd_qga_command_is_shell(const char *name);

/* Accessors for handlers. */
const char *vd_qga_call_verb(const VdQgaCall *call);
/* Cancelled when the connection goes away or the daemon stops: the completion is then dropped. */
GCancellable *vd_qga_call_cancellable(const VdQgaCall *call);
/* The system bus given in VdQgaConfig or obtained earlier; NULL: get it, then remember it. */
GDBusConnection *vd_qga_call_system_bus(const VdQgaCall *call);
void vd_qga_call_set_system_bus(VdQgaCall *call, GDBusConnection *bus);
/* guest-info needs the policy. */
gboolean vd_qga_call_verb_enabled(const VdQgaCall *call, const char *verb);
/* guest-sync-delimited: precede the reply with a 0xFF byte. */
void vd_qga_call_set_delimited(VdQgaCall *call);

/* The audit record of a privileged verb: one line, MESSAGE_ID=VD_QGA_AUDIT_MESSAGE_ID, with fields
 * QGA_VERB, QGA_MODE and QGA_RESULT. */
#define VD_QGA_AUDIT_MESSAGE_ID "6c3f8f2ea8a54a5c9a2b0e6d1f4d7b21"
void vd_qga_audit(const char *verb, const char *mode, const char *result);

/* Completions: each frees the call. value: transfer full. */
void vd_qga_call_return(VdQgaCall *call, JsonNode *value);
void vd_qga_call_error(VdQgaCall *call, const char *error_class, const char *format, ...) G_GNUC_PRINTF(3, 4);
/* Success of a verb without success-response: nothing is sent. */
void vd_qga_call_done(VdQgaCall *call);
