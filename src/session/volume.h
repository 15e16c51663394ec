/* SPDX-License-Identifier: GPL-3.0-or-later */
/* volume.h — the host's playback and record volume (VD_S_VOLUME), applied to the session's sound.
 *
 * Owns when and through what a volume is applied. The last volume of each direction wins: a
 * flood of VOLUME messages (a slider dragged on the host) is coalesced, and at most one volume is
 * applied per VD_VOLUME_MIN_INTERVAL_MS. The backend is libpulse (PulseAudio or pipewire-pulse)
 * and, where no sound server answers, the ALSA mixer (VD_AUDIO_AUTO); or one of them only. Each
 * application is reported through a callback (VD_S_VOLUME_APPLIED for the daemon's status).
 */
#pragma once

#include <stdbool.h>

#include "session-proto.h"

/* At most one application per this many ms (4 per second). */
#define VD_VOLUME_MIN_INTERVAL_MS 250u

typedef enum {
    VD_AUDIO_AUTO = 0, /* libpulse, else ALSA */
    VD_AUDIO_PULSE,
    VD_AUDIO_ALSA,
    VD_AUDIO_OFF,      /* volumes are not applied; the agent does not announce the feature */
} VdAudioMode;

/* "auto", "pulse", "alsa", "off" -> 0 and *ret; -EINVAL otherwise. */
int vd_audio_mode_from_string(const char *s, VdAudioMode *ret);
const char *vd_audio_mode_to_string(VdAudioMode mode);

typedef void (*VdVolumeReportFunc)(const VdVolumeApplied *applied, void *user_data);

typedef struct VdVolumeSync VdVolumeSync;

VdVolumeSync *vd_volume_sync_new(VdAudioMode mode, VdVolumeReportFunc report, void *user_data);
void vd_volume_sync_free(VdVolumeSync *vs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVolumeSync, vd_volume_sync_free)
/* The host's latest volume for v->playback's direction; applied now or when the interval allows. */
void vd_volume_sync_set(VdVolumeSync *vs, const VdVolume *v);
