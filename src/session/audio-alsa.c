/* SPDX-License-Identifier: GPL-3.0-or-later */
/* audio-alsa.c — the host's volume applied to the ALSA mixer, where no sound server runs. */
#include "audio.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <glib.h>

/* spice-vdagent's choice of elements, so that a guest behaves as it did with it. */
#define VD_ALSA_PLAYBACK_ELEMENT "Master"
#define VD_ALSA_RECORD_ELEMENT "Capture"

static long scale(uint16_t v, long min, long max)
{
    return min + (long)(((int64_t)(max - min) * v) / 65535);
}

static int set_element(snd_mixer_elem_t *e, const VdVolume *v, char **ret_text)
{
    long min = 0, max = 0;
    uint16_t loudest = 0;
    int r;

    for (uint32_t i = 0; i < v->count; i++)
        loudest = MAX(loudest, v->volume[i]);
    if (v->playback) {
        if (snd_mixer_selem_has_playback_volume(e)) {
            snd_mixer_selem_get_playback_volume_range(e, &min, &max);
            for (int ch = 0; ch <= SND_MIXER_SCHN_LAST; ch++) {
                if (!snd_mixer_selem_has_playback_channel(e, (snd_mixer_selem_channel_id_t)ch))
                    continue;
                uint16_t host = (uint32_t)ch < v->count ? v->volume[ch] : loudest;
                r = snd_mixer_selem_set_playback_volume(e, (snd_mixer_selem_channel_id_t)ch, scale(host, min, max));
                if (r < 0)
                    goto fail;
            }
        }
        if (snd_mixer_selem_has_playback_switch(e)) {
            if ((r = snd_mixer_selem_set_playback_switch_all(e, !v->mute)) < 0)
                goto fail;
        } else if (v->mute) {
            *ret_text = g_strdup_printf("\"%s\" has no playback switch: the volume is set, mute is not",
                                        snd_mixer_selem_get_name(e));
            return -EOPNOTSUPP;
        }
    } else {
        if (snd_mixer_selem_has_capture_volume(e)) {
            snd_mixer_selem_get_capture_volume_range(e, &min, &max);
            for (int ch = 0; ch <= SND_MIXER_SCHN_LAST; ch++) {
                if (!snd_mixer_selem_has_capture_channel(e, (snd_mixer_selem_channel_id_t)ch))
                    continue;
                uint16_t host = (uint32_t)ch < v->count ? v->volume[ch] : loudest;
                r = snd_mixer_selem_set_capture_volume(e, (snd_mixer_selem_channel_id_t)ch, scale(host, min, max));
                if (r < 0)
                    goto fail;
            }
        }
        if (snd_mixer_selem_has_capture_switch(e)) {
            if ((r = snd_mixer_selem_set_capture_switch_all(e, !v->mute)) < 0)
                goto fail;
        } else if (v->mute) {
            *ret_text = g_strdup_printf("\"%s\" has no capture switch: the volume is set, mute is not",
                                        snd_mixer_selem_get_name(e));
            return -EOPNOTSUPP;
        }
    }
    return 0;
fail:
    *ret_text = g_strdup_printf("setting \"%s\": %s", snd_mixer_selem_get_name(e), snd_strerror(r));
    return r;
}

int vd_audio_alsa_apply(const char *card, const VdVolume *v, char **ret_text)
{
    g_return_val_if_fail(v && ret_text, -EINVAL);
    const char *element = v->playback ? VD_ALSA_PLAYBACK_ELEMENT : VD_ALSA_RECORD_ELEMENT;
    snd_mixer_t *mixer = NULL;
    snd_mixer_selem_id_t *sid;
    int r;

    if (!card)
        card = "default";
    if ((r = snd_mixer_open(&mixer, 0)) < 0) {
        *ret_text = g_strdup_printf("cannot open a mixer: %s", snd_strerror(r));
        return r;
    }
    if ((r = snd_mixer_attach(mixer, card)) < 0 || (r = snd_mixer_selem_register(mixer, NULL, NULL)) < 0 ||
        (r = snd_mixer_load(mixer)) < 0) {
        *ret_text = g_strdup_printf("cannot use the mixer of \"%s\": %s", card, snd_strerror(r));
        snd_mixer_close(mixer);
        return r;
    }
    snd_mixer_selem_id_alloca(&sid);
    snd_mixer_selem_id_set_index(sid, 0);
    snd_mixer_selem_id_set_name(sid, element);
    snd_mixer_elem_t *e = snd_mixer_find_selem(mixer, sid);
    if (!e) {
        *ret_text = g_strdup_printf("the mixer of \"%s\" has no \"%s\" control", card, element);
        snd_mixer_close(mixer);
        return -ENOENT;
    }
    r = set_element(e, v, ret_text);
    snd_mixer_close(mixer);
    return r;
}
