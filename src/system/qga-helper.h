/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-helper.h — the QGA verbs that need a privilege the daemon does not have run in a separate,
 * sandboxed helper process, one per family of verbs, each with exactly its own privilege:
 *
 *   family  verbs                                              unit's privilege
 *   fs      guest-fsfreeze-*, guest-fstrim, guest-get-fsinfo   CAP_SYS_ADMIN (FIFREEZE, FITHAW, FITRIM)
 *   time    guest-set-time                                     CAP_SYS_TIME, /dev/rtc0
 *   hotplug guest-set-vcpus, guest-set-memory-blocks           none: a writable /sys
 *   account guest-set-user-password, guest-ssh-*-keys          CAP_CHOWN CAP_FOWNER CAP_SETUID CAP_SETGID
 *                                                              CAP_SYS_CHROOT?, a writable /etc and /home
 *
 * Each family is a socket-activated unit pair (vdagentd-qga-FAMILY.socket, Accept=yes, and
 * vdagentd-qga-FAMILY@.service running `vdagentd-qga-helper FAMILY` with the connection as its
 * stdin/stdout). The daemon (qga-helper.c) connects to DIR/qga-FAMILY.sock the first time a verb of
 * the family is called and keeps that connection: one helper process per family serves the daemon
 * for its lifetime, so a freeze and its thaw reach the same process, and the connection closing
 * (the daemon stopped or crashed) makes the helper thaw and exit.
 *
 * The wire: one request per line, {"execute": VERB, "arguments": {…}}, already checked by the
 * daemon; one reply per line, {"return": …} or {"error": {"class", "desc"}}, passed to the host as
 * the helper wrote it. */
#pragma once

#include <stdbool.h>

#include "qga-commands.h"

#define VD_QGA_HELPER_DIR "/run/vdagentd"
/* Test hook: another directory for the helpers' sockets (absolute path). */
#define VD_QGA_HELPER_DIR_ENV "VDAGENT_QGA_HELPER_DIR"
/* Test hook, honoured only together with VD_QGA_HELPER_DIR_ENV: the answer timeouts divided by N
 * (2 to 60), so that a test sees them expire in seconds. */
#define VD_QGA_HELPER_TIMEOUT_DIVISOR_ENV "VDAGENT_QGA_HELPER_TIMEOUT_DIVISOR"

#define VD_QGA_HELPER_MAX_REQUEST (64 * 1024)      /* a request line (the daemon's own limit too) */
#define VD_QGA_HELPER_MAX_REPLY (4 * 1024 * 1024)  /* a reply line */
#define VD_QGA_HELPER_TIMEOUT_MS 60000             /* a helper's answer to most verbs */
#define VD_QGA_HELPER_SLOW_TIMEOUT_MS 600000       /* guest-fstrim: trimming large disks is slow */
#define VD_QGA_FREEZE_TIMEOUT_S 300                /* frozen longer without a thaw: thawed anyway */
#define VD_QGA_HOOK_TIMEOUT_S 60                   /* one fsfreeze hook */
#define VD_QGA_MAX_HOOKS 64                        /* fsfreeze hooks run */

/* Error classes carried through a GError (helper side). */
#define VD_QGA_ERROR vd_qga_error_quark()
GQuark vd_qga_error_quark(void);
typedef enum {
    VD_QGA_ERROR_CODE_GENERIC,           /* GenericError */
    VD_QGA_ERROR_CODE_COMMAND_NOT_FOUND, /* CommandNotFound */
} VdQgaErrorCode;

/* Daemon side: sends the call's request to the family's helper and completes the call with its
 * reply; an unreachable helper, a timeout or a broken reply is a GenericError naming the family.
 * timeout_ms: the helper's answer; then the connection is closed (the helper thaws and exits).
 * audit: a privileged verb, whose outcome leaves one audit line (never its arguments). */
void vd_qga_helper_forward(VdQgaCall *call, JsonObject *args, const char *family, guint timeout_ms,
                           bool audit);
/* Closes every helper connection (daemon exit; the process ending closes them too). */
void vd_qga_helpers_close(void);

/* The table's handler for every verb a helper serves (qga-helper.c routes it to its family). */
void vd_qga_cmd_privileged(VdQgaCall *call, JsonObject *args);
