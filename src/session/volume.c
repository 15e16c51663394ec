/* SPDX-License-Identifier: GPL-3.0-or-later */
/* volume.c — coalescing the host's volumes and choosing the sound backend (see volume.h). */
#include "volume.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "audio.h"

struct VdVolumeSync {
    VdAudioMode mode;
    VdAudioPulse *pulse;
    VdVolumeReportFunc report;
    void *user_data;
    /* the newest volume per direction not applied yet: [0] record, [1] playback */
    bool have_pending[2];
    VdVolume pending[2];
    uint64_t superseded[2]; /* volumes replaced before they were applied */
    bool in_flight;
    VdVolume flight;
    gint64 last_start_us;
    guint timer;
};

int vd_audio_mode_from_string(const char *s, VdAudioMode *ret)
{
    g_return_val_if_fail(ret, -EINVAL);
    static const char *const names[] = { "auto", "pulse", "alsa", "off" };

    for (unsigned i = 0; i < G_N_ELEMENTS(names); i++)
        if (g_strcmp0(s, names[i]) == 0) {
            *ret = (VdAudioMode)i;
            return 0;
        }
    return -EINVAL;
}

const char *vd_audio_mode_to_string(VdAudioMode mode)
{
    switch (mode) {
    case VD_AUDIO_AUTO: return "auto";
    case VD_AUDIO_PULSE: return "pulse";
    case VD_AUDIO_ALSA: return "alsa";
    case VD_AUDIO_OFF: return "off";
    }
    return "unknown";
}

static char *describe(const VdVolume *v)
{
    GString *s = g_string_new(v->playback ? "playback" : "record");

    for (uint32_t i = 0; i < v->count; i++)
        g_string_append_printf(s, "%s%.0f%%", i ? "/" : " ", v->volume[i] * 100.0 / 65535.0);
    if (v->mute)
        g_string_append(s, " muted");
    return g_string_free(s, FALSE);
}

static void kick(VdVolumeSync *vs);

static void applied(VdVolumeSync *vs, const char *backend, int err, const char *text)
{
    g_autofree char *what = describe(&vs->flight);
    VdVolumeApplied a = {
        .volume = vs->flight,
        .backend = (char *)backend,
        .error = (char *)(err < 0 ? (text ? text : g_strerror(-err)) : ""),
    };

    if (err < 0)
        g_message("audio: cannot apply the host's %s volume through %s: %s", what, backend[0] ? backend : "any backend",
                  a.error);
    else
        g_message("audio: %s applied through %s", what, backend);
    vs->in_flight = false;
    if (vs->report)
        vs->report(&a, vs->user_data);
    kick(vs);
}

static void apply_alsa(VdVolumeSync *vs)
{
    g_autofree char *text = NULL;
    int r = vd_audio_alsa_apply(NULL, &vs->flight, &text);

    applied(vs, "alsa", r, text);
}

static void on_pulse_done(int err, const char *text, void *user_data)
{
    VdVolumeSync *vs = user_data;

    if (err == -EHOSTDOWN && vs->mode == VD_AUDIO_AUTO) {
        g_debug("audio: %s: using the ALSA mixer", text);
        apply_alsa(vs);
        return;
    }
    applied(vs, "pulse", err, text);
}

static gboolean on_timer(gpointer user_data)
{
    VdVolumeSync *vs = user_data;

    vs->timer = 0;
    kick(vs);
    return G_SOURCE_REMOVE;
}

/* Starts the next application if one is pending and the interval allows it. */
static void kick(VdVolumeSync *vs)
{
    if (vs->in_flight || vs->timer)
        return;
    int dir = vs->have_pending[1] ? 1 : vs->have_pending[0] ? 0 : -1;
    if (dir < 0)
        return;
    gint64 now = g_get_monotonic_time();
    gint64 wait_us = vs->last_start_us + (gint64)VD_VOLUME_MIN_INTERVAL_MS * 1000 - now;
    if (vs->last_start_us && wait_us > 0) {
        vs->timer = g_timeout_add((guint)((wait_us + 999) / 1000), on_timer, vs);
        return;
    }
    vs->last_start_us = now;
    vs->flight = vs->pending[dir];
    vs->have_pending[dir] = false;
    vs->in_flight = true;
    if (vs->superseded[dir])
        g_debug("audio: %" G_GUINT64_FORMAT " earlier %s volume(s) superseded", vs->superseded[dir],
                dir ? "playback" : "record");
    vs->superseded[dir] = 0;
    if (vs->mode == VD_AUDIO_ALSA) {
        apply_alsa(vs);
        return;
    }
    if (vd_audio_pulse_apply(vs->pulse, &vs->flight, on_pulse_done, vs) < 0)
        applied(vs, "pulse", -EBUSY, "the sound server is still busy");
}

void vd_volume_sync_set(VdVolumeSync *vs, const VdVolume *v)
{
    g_return_if_fail(vs && v);
    if (vs->mode == VD_AUDIO_OFF) {
        g_debug("audio: volume ignored (--audio off)");
        return;
    }
    int dir = v->playback ? 1 : 0;
    if (vs->have_pending[dir])
        vs->superseded[dir]++;
    vs->pending[dir] = *v;
    vs->have_pending[dir] = true;
    kick(vs);
}

VdVolumeSync *vd_volume_sync_new(VdAudioMode mode, VdVolumeReportFunc report, void *user_data)
{
    VdVolumeSync *vs = g_new0(VdVolumeSync, 1);

    vs->mode = mode;
    vs->report = report;
    vs->user_data = user_data;
    if (mode == VD_AUDIO_AUTO || mode == VD_AUDIO_PULSE)
        vs->pulse = vd_audio_pulse_new();
    return vs;
}

void vd_volume_sync_free(VdVolumeSync *vs)
{
    if (!vs)
        return;
    g_clear_handle_id(&vs->timer, g_source_remove);
    vd_audio_pulse_free(vs->pulse);
    g_free(vs);
}
