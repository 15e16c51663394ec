/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-shell.h — guest-exec, guest-exec-status (qga-exec.c) and guest-file-* (qga-file.c): the verbs
 * that hand the host a root shell. Disabled unless the policy file's allow-rpcs names them; when
 * enabled they act from vdagentd itself, inside its sandbox (no capability, read-only system, no
 * homes, private /tmp), which bounds what that shell can do. Limits are smaller than qemu-ga's
 * because one reply is at most 1 MiB (qga.c). */
#pragma once

#include "qga-commands.h"

#define VD_QGA_EXEC_MAX_JOBS 16                /* processes running or not yet reported */
#define VD_QGA_EXEC_MAX_ARGS 256               /* arg and env entries each */
#define VD_QGA_EXEC_MAX_OUTPUT (256 * 1024)    /* captured bytes per stream (then *-truncated) */
#define VD_QGA_FILE_MAX_HANDLES 64             /* open guest-file handles */
#define VD_QGA_FILE_MAX_READ (512 * 1024)      /* guest-file-read count */
#define VD_QGA_FILE_DEFAULT_READ 4096          /* guest-file-read without count, as qemu-ga */

void vd_qga_cmd_exec(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_exec_status(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_file_open(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_file_close(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_file_read(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_file_write(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_file_seek(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_file_flush(VdQgaCall *call, JsonObject *args);
