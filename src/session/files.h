/* SPDX-License-Identifier: GPL-3.0-or-later */
/* files.h — host -> guest file transfers into the user's download directory.
 *
 * Receives VD_S_XFER_START / DATA / CANCEL and answers VD_S_XFER_STATUS through a callback. The name
 * the host sends is only a name: see vd_files_sanitize_name(). Data goes, piece by piece as it
 * arrives, into a hidden temporary file in the target directory (VD_FILES_TEMP_PREFIX…
 * VD_FILES_TEMP_SUFFIX, locked with flock while in use) and is renamed into place, never replacing
 * anything, only when complete with the announced size. Cancel, error and link loss unlink the
 * temporary; temporaries left by a crash are removed when the module starts. Memory does not grow
 * with the file size (at most VD_FILES_WRITE_BUFFER per transfer); at most VD_FILES_MAX_XFERS
 * transfers run at once.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session-proto.h"

#define VD_FILES_MAX_XFERS 16u
/* Pieces smaller than this are gathered into writes of this size (per transfer). */
#define VD_FILES_WRITE_BUFFER (64u * 1024u)
/* Bytes of a file name (NAME_MAX); longer names are shortened, keeping the extension. */
#define VD_FILES_MAX_NAME 255u
/* Extensions longer than this (bytes, with the dot) are not treated as extensions when shortening. */
#define VD_FILES_MAX_EXT 32u
/* "name (1).ext" … "name (N).ext" tried before giving up with EXISTS. */
#define VD_FILES_MAX_CLASH 999u
#define VD_FILES_TEMP_PREFIX ".vdagent-xfer-"
#define VD_FILES_TEMP_SUFFIX ".part"
/* Directory keywords, as spice-vdagent's -f takes them. */
#define VD_FILES_DIR_DESKTOP "xdg-desktop"
#define VD_FILES_DIR_DOWNLOAD "xdg-download"

typedef struct VdFiles VdFiles;

/* Sends one VD_S_XFER_STATUS (the message's u.xfer_status). */
typedef void (*VdFilesStatusFunc)(const VdFileXferStatus *status, void *user_data);

/* dir: where files go: a path; VD_FILES_DIR_DESKTOP for the XDG desktop directory (then ~/Desktop);
 * NULL or VD_FILES_DIR_DOWNLOAD for the XDG download directory (then ~/Downloads). Removes stale
 * temporaries of ours from the directory. */
VdFiles *vd_files_new(const char *dir, VdFilesStatusFunc send_status, void *user_data);
void vd_files_free(VdFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdFiles, vd_files_free)

/* VD_S_XFER_START, VD_S_XFER_DATA, VD_S_XFER_CANCEL; other types are ignored. */
void vd_files_handle_msg(VdFiles *files, const VdSessionMsg *msg);
/* The daemon is gone: every transfer is abandoned (temporaries removed, no status sent). */
void vd_files_abort_all(VdFiles *files);
/* What happens to transfers, for notifications and --open-dir. started: accepted (name
 * sanitised); progress: after each piece written (not for the last); finished: exactly once per
 * started transfer, path the received file (NULL on failure, then why says what happened),
 * others_running the transfers still running. All optional. */
typedef struct {
    void (*started)(uint32_t id, const char *name, uint64_t size, void *user_data);
    void (*progress)(uint32_t id, uint64_t received, uint64_t size, void *user_data);
    void (*finished)(uint32_t id, const char *name, const char *path, const char *why, unsigned others_running,
                     void *user_data);
} VdFilesObserver;
void vd_files_set_observer(VdFiles *files, const VdFilesObserver *observer, void *user_data);

/* Transfers in progress. */
unsigned vd_files_active(const VdFiles *files);

/* The directory a transfer would go to now (g_free). */
char *vd_files_target_dir(const VdFiles *files);

/* Turns a host-supplied name into a safe file name, or fails (-EINVAL) for names that cannot be one:
 * empty, ".", "..", containing '/' or NUL, or our temporaries' prefix. Control characters become
 * '_'; invalid UTF-8 is refused; names over VD_FILES_MAX_NAME bytes are shortened on a UTF-8
 * boundary, keeping the extension. Returns 0 and *ret (g_free) on success. */
int vd_files_sanitize_name(const char *name, char **ret);
/* "stem (n).ext" for clash number n (n = 0: the name itself), within VD_FILES_MAX_NAME bytes. */
char *vd_files_clash_name(const char *name, unsigned n);
