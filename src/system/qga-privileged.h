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
    guint hook_timeout_s;   /* test hook: kill a hook after this long (0: VD_QGA_HOOK_TIMEOUT_S) */
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

/* time (qga-time.c): CAP_SYS_TIME. rtc: the RTC device (NULL: VD_QGA_RTC_DEVICE). */
#define VD_QGA_RTC_DEVICE "/dev/rtc0"
void vd_qga_time_init(const char *rtc);
JsonNode *vd_qga_set_time(JsonObject *args, GError **error);

/* hotplug (qga-hotplug.c): a writable /sys. */
JsonNode *vd_qga_set_vcpus(JsonObject *args, GError **error);
JsonNode *vd_qga_set_memory_blocks(JsonObject *args, GError **error);

/* account (qga-account.c). root: test hook, a directory holding etc/passwd, etc/shadow and the
 * homes (NULL: the system's). */
#define VD_QGA_CHPASSWD "/usr/sbin/chpasswd"
#define VD_QGA_CHPASSWD_TIMEOUT_S 30
#define VD_QGA_MAX_USERNAME 256
#define VD_QGA_MAX_PASSWORD_BASE64 8192           /* the password argument, Base64 */
#define VD_QGA_MAX_AUTHORIZED_KEYS 1024           /* keys in one request */
#define VD_QGA_MAX_AUTHORIZED_KEY (16 * 1024)     /* one key line */
#define VD_QGA_MAX_AUTHORIZED_KEYS_FILE (1024 * 1024)
void vd_qga_account_init(const char *root);
JsonNode *vd_qga_set_user_password(JsonObject *args, GError **error);
JsonNode *vd_qga_ssh_get_authorized_keys(JsonObject *args, GError **error);
JsonNode *vd_qga_ssh_add_authorized_keys(JsonObject *args, GError **error);
JsonNode *vd_qga_ssh_remove_authorized_keys(JsonObject *args, GError **error);
