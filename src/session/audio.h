/* SPDX-License-Identifier: GPL-3.0-or-later */
/* audio.h — the sound backends that apply the host's volume (volume.c decides when and which).
 *
 * audio-pulse.c talks to the session's sound server through libpulse on the GLib main loop:
 * PulseAudio, or PipeWire through pipewire-pulse. It changes the default sink (playback) or the
 * default source (record), asynchronously, one job at a time. audio-alsa.c sets the ALSA mixer
 * ("Master" / "Capture" of the "default" card) where no sound server runs; ALSA mixer calls are
 * ioctls on the control device and return at once.
 *
 * Volumes: the host's 0..65535 maps linearly onto the backend's range — PulseAudio's
 * 0..PA_VOLUME_NORM (65535 is 100 %), ALSA's element range (min..max).
 */
#pragma once

#include <stdbool.h>

#include "session-proto.h"

/* err 0: applied. -EHOSTDOWN: no sound server could be reached (the caller may use ALSA);
 * another -errno with a human-readable text otherwise. */
typedef void (*VdAudioDoneFunc)(int err, const char *text, void *user_data);

/* One job (connecting if needed, asking for the default device, setting it) must end within this;
 * else the connection is dropped and the job fails with -ETIMEDOUT. */
#define VD_AUDIO_PULSE_TIMEOUT_MS 5000u

typedef struct VdAudioPulse VdAudioPulse;

VdAudioPulse *vd_audio_pulse_new(void);
void vd_audio_pulse_free(VdAudioPulse *pulse);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdAudioPulse, vd_audio_pulse_free)
/* Connects if needed (never autospawning a server) and applies v to the default sink or source.
 * done is called exactly once, from the main loop, never from inside this call. At most one job at
 * a time: -EBUSY if one is running. */
int vd_audio_pulse_apply(VdAudioPulse *pulse, const VdVolume *v, VdAudioDoneFunc done, void *user_data);

/* Applies v to the ALSA mixer of card (NULL: "default"). Returns 0, or -errno and *ret_text
 * (g_free) saying what failed. */
int vd_audio_alsa_apply(const char *card, const VdVolume *v, char **ret_text);
