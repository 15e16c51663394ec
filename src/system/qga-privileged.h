/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-privileged.h — the verbs that run inside vdagentd-qga-helper (see qga-helper.h), one file per
 * family. Each is a plain function: the reply value, or NULL with a VD_QGA_ERROR error. They run in
 * the helper's single thread, one request at a time. */
#pragma once

#include "qga-helper.h"

typedef struct {
    const char *hook_dir;   /* fsfreeze hooks: executables run with "freeze" / "thaw" */
    const char *only_under; /* test hook: only mounts at or below this directory (NULL: all) */
    guint freeze_timeout_s; /* thaw by itself after this long frozen */
} VdQgaFsOptions;

#define VD_QGA_FSFREEZE_HOOK_DIR "/etc/qemu/fsfreeze-hook.d" /* qemu-ga's convention */

void vd_qga_fs_init(const VdQgaFsOptions *options);
JsonNode *vd_qga_fsfreeze_status(JsonObject *args, GError **error);
JsonNode *vd_qga_fsfreeze_freeze(JsonObject *args, GError **error);
JsonNode *vd_qga_fsfreeze_freeze_list(JsonObject *args, GError **error);
JsonNode *vd_qga_fsfreeze_thaw(JsonObject *args, GError **error);
JsonNode *vd_qga_fstrim(JsonObject *args, GError **error);
/* Milliseconds until the frozen filesystems must be thawed by the timeout; -1: not frozen. */
int vd_qga_fs_timeout_ms(void);
/* The timeout passed: thaw. */
void vd_qga_fs_expire(void);
/* The daemon went away (or the helper stops): thaw whatever we froze. */
void vd_qga_fs_cleanup(void);
