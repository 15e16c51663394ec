/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-verbs.h — the QEMU guest agent verbs added after the first eleven, one file per family:
 * qga-net.c (interfaces), qga-fs.c (filesystems and disks), qga-cpumem.c (load, memory blocks),
 * qga-users.c (utmp), qga-suspend.c (logind). Their table entries are in qga-commands.c.
 *
 * Most of them only read /proc and /sys: they are plain functions (VdQgaSyncFunc) that run in a
 * worker thread through vd_qga_call_run_in_thread(), so that a slow filesystem (statvfs on a hung
 * NFS mount) never blocks the daemon's main loop. */
#pragma once

#include "qga-commands.h"

/* Bounds on what the system may make these verbs allocate (see also qga-commands.h). */
#define VD_QGA_MAX_INTERFACES 1024      /* guest-network-get-interfaces: interfaces reported */
#define VD_QGA_MAX_IF_ADDRESSES 256     /* ... and addresses per interface */
#define VD_QGA_MAX_MOUNTS 4096          /* guest-get-fsinfo: mounts reported */
#define VD_QGA_MAX_DISKS 4096           /* guest-get-disks: disks and partitions reported */
#define VD_QGA_MAX_DISK_DEPTH 8         /* device-mapper layers followed down to the real disks */
#define VD_QGA_MAX_MEMORY_BLOCKS 65536  /* guest-get-memory-blocks: blocks reported */
#define VD_QGA_MAX_UTMP_ENTRIES 65536   /* guest-get-users: utmp records read */
#define VD_QGA_MAX_SYSFS_FILE 4096      /* one sysfs/procfs attribute */
#define VD_QGA_MAX_MOUNTINFO (4 * 1024 * 1024) /* /proc/self/mountinfo */

/* The reply value, or NULL with error (sent as GenericError with error->message). */
typedef JsonNode *(*VdQgaSyncFunc)(JsonObject *args, GError **error);

/* Runs func(args) in a worker thread and completes call with its result in the main context. */
void vd_qga_call_run_in_thread(VdQgaCall *call, JsonObject *args, VdQgaSyncFunc func);

/* Small file helpers shared by the families: the whole file, NUL-terminated, at most max bytes
 * (an error beyond). Trailing whitespace stripped for the _attr variant. */
char *vd_qga_read_file(const char *path, gsize max, GError **error);
char *vd_qga_read_attr(const char *path);

JsonNode *vd_qga_network_get_interfaces(JsonObject *args, GError **error);
/* Runs in the fs helper (qga-helper.h): it must read the machine's mount namespace, not the
 * daemon's private one. */
JsonNode *vd_qga_get_fsinfo(JsonObject *args, GError **error);
JsonNode *vd_qga_get_disks(JsonObject *args, GError **error);
JsonNode *vd_qga_get_load(JsonObject *args, GError **error);
JsonNode *vd_qga_get_memory_blocks(JsonObject *args, GError **error);
JsonNode *vd_qga_get_memory_block_info(JsonObject *args, GError **error);
/* guest-get-users as qemu-ga answers it: USER_PROCESS records of utmp, one per user, with the
 * earliest login time. path: the utmp file (NULL: the system's). */
JsonNode *vd_qga_users_from_utmp(const char *path, GError **error);

/* Table handlers (qga-worker.c): each runs the function above of the same name in a worker. */
void vd_qga_cmd_network_get_interfaces(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_get_disks(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_get_load(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_get_memory_blocks(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_get_memory_block_info(VdQgaCall *call, JsonObject *args);
/* qga-suspend.c: through logind, like guest-shutdown (no reply on success). */
void vd_qga_cmd_suspend_ram(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_suspend_disk(VdQgaCall *call, JsonObject *args);
void vd_qga_cmd_suspend_hybrid(VdQgaCall *call, JsonObject *args);
/* guest-get-users when logind cannot answer: completes call from utmp (VDAGENT_QGA_UTMP: a test
 * hook naming another utmp file). */
void vd_qga_cmd_users_from_utmp(VdQgaCall *call);
