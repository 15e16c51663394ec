/* SPDX-License-Identifier: GPL-3.0-or-later */
/* audio-pulse.c — the host's volume applied through libpulse (PulseAudio or pipewire-pulse). */
#include "audio.h"

#include <errno.h>
#include <glib.h>
#include <pulse/glib-mainloop.h>
#include <pulse/pulseaudio.h>

typedef enum {
    PULSE_IDLE,       /* no context */
    PULSE_CONNECTING,
    PULSE_READY,
} PulseState;

struct VdAudioPulse {
    pa_glib_mainloop *ml;
    pa_context *ctx;
    pa_context *dead;     /* failed inside its own callback: unreferenced later */
    PulseState state;
    /* the job in progress */
    bool busy;
    VdVolume job;
    VdAudioDoneFunc done;
    void *user_data;
    unsigned ops_left;
    char *error;          /* the first failure of the job */
    guint finish_source;  /* done() is called from an idle source when the job fails early */
    int finish_err;
    guint job_timer;      /* VD_AUDIO_PULSE_TIMEOUT_MS per job */
};

static void finish(VdAudioPulse *p, int err, const char *text)
{
    VdAudioDoneFunc done = p->done;
    void *user_data = p->user_data;
    g_autofree char *owned = g_strdup(text);

    p->busy = false;
    p->done = NULL;
    g_clear_pointer(&p->error, g_free);
    g_clear_handle_id(&p->job_timer, g_source_remove);
    g_clear_handle_id(&p->finish_source, g_source_remove);
    if (done)
        done(err, owned, user_data);
}

static gboolean on_finish_idle(gpointer user_data)
{
    VdAudioPulse *p = user_data;
    g_autofree char *text = g_steal_pointer(&p->error);

    p->finish_source = 0;
    finish(p, p->finish_err, text);
    return G_SOURCE_REMOVE;
}

/* Ends the job from the main loop (done() must never run inside vd_audio_pulse_apply). */
static void finish_later(VdAudioPulse *p, int err, const char *text)
{
    g_free(p->error);
    p->error = g_strdup(text);
    p->finish_err = err;
    if (!p->finish_source)
        p->finish_source = g_idle_add(on_finish_idle, p);
}

static void fail_job(VdAudioPulse *p, const char *what)
{
    if (!p->error)
        p->error = g_strdup_printf("%s: %s", what, pa_strerror(pa_context_errno(p->ctx)));
}

static void op_done(VdAudioPulse *p)
{
    if (--p->ops_left > 0)
        return;
    g_autofree char *text = g_steal_pointer(&p->error);
    finish(p, text ? -EIO : 0, text);
}

static void on_success(pa_context *c, int success, void *user_data)
{
    VdAudioPulse *p = user_data;

    if (!success)
        fail_job(p, p->job.playback ? "setting the default sink" : "setting the default source");
    op_done(p);
}

/* The host's channels onto the device's: one to one when the counts agree, else every device
 * channel gets the loudest host channel (a balance cannot be mapped between different layouts). */
static void make_cvolume(const VdVolume *v, uint8_t channels, pa_cvolume *ret)
{
    uint16_t loudest = 0;

    for (uint32_t i = 0; i < v->count; i++)
        loudest = MAX(loudest, v->volume[i]);
    pa_cvolume_init(ret);
    ret->channels = channels;
    for (uint8_t i = 0; i < channels; i++) {
        uint16_t host = v->count == channels ? v->volume[i] : loudest;
        ret->values[i] = (pa_volume_t)((uint64_t)host * PA_VOLUME_NORM / 65535u);
    }
}

static void set_device(VdAudioPulse *p, uint32_t index, uint8_t channels, const char *name)
{
    pa_cvolume cv;
    pa_operation *o1, *o2;

    make_cvolume(&p->job, channels, &cv);
    if (p->job.playback) {
        o1 = pa_context_set_sink_volume_by_index(p->ctx, index, &cv, on_success, p);
        o2 = pa_context_set_sink_mute_by_index(p->ctx, index, p->job.mute, on_success, p);
    } else {
        o1 = pa_context_set_source_volume_by_index(p->ctx, index, &cv, on_success, p);
        o2 = pa_context_set_source_mute_by_index(p->ctx, index, p->job.mute, on_success, p);
    }
    g_debug("audio: pulse: %s \"%s\" (%u channel(s)) <- %u host channel(s), mute %d",
            p->job.playback ? "sink" : "source", name, channels, p->job.count, p->job.mute);
    p->ops_left = (o1 != NULL) + (o2 != NULL);
    if (!o1 || !o2)
        fail_job(p, "sending the volume");
    if (o1)
        pa_operation_unref(o1);
    if (o2)
        pa_operation_unref(o2);
    if (p->ops_left == 0) {
        p->ops_left = 1;
        op_done(p);
    }
}

/* The info callbacks run once with the device, then once with eol = 1 (or eol < 0 on error). */
static void on_sink_info(pa_context *c, const pa_sink_info *info, int eol, void *user_data)
{
    VdAudioPulse *p = user_data;

    if (info) {
        set_device(p, info->index, info->channel_map.channels, info->name);
        return;
    }
    if (eol < 0) {
        fail_job(p, "no default sink");
        p->ops_left = 1;
        op_done(p);
    }
}

static void on_source_info(pa_context *c, const pa_source_info *info, int eol, void *user_data)
{
    VdAudioPulse *p = user_data;

    if (info) {
        set_device(p, info->index, info->channel_map.channels, info->name);
        return;
    }
    if (eol < 0) {
        fail_job(p, "no default source");
        p->ops_left = 1;
        op_done(p);
    }
}

static void start_job(VdAudioPulse *p)
{
    pa_operation *o;

    if (p->job.playback)
        o = pa_context_get_sink_info_by_name(p->ctx, "@DEFAULT_SINK@", on_sink_info, p);
    else
        o = pa_context_get_source_info_by_name(p->ctx, "@DEFAULT_SOURCE@", on_source_info, p);
    if (!o) {
        fail_job(p, "asking for the default device");
        g_autofree char *text = g_steal_pointer(&p->error);
        finish_later(p, -EIO, text);
        return;
    }
    pa_operation_unref(o);
}

static void drop_context(VdAudioPulse *p)
{
    if (p->dead) {
        pa_context_unref(p->dead);
        p->dead = NULL;
    }
    if (!p->ctx)
        return;
    pa_context_set_state_callback(p->ctx, NULL, NULL);
    pa_context_disconnect(p->ctx);
    pa_context_unref(p->ctx);
    p->ctx = NULL;
    p->state = PULSE_IDLE;
}

/* From the context's own state callback: libpulse still uses it until the callback returns. */
static void retire_context(VdAudioPulse *p)
{
    pa_context_set_state_callback(p->ctx, NULL, NULL);
    if (p->dead)
        pa_context_unref(p->dead);
    p->dead = p->ctx;
    p->ctx = NULL;
    p->state = PULSE_IDLE;
}

static void on_state(pa_context *c, void *user_data)
{
    VdAudioPulse *p = user_data;

    switch (pa_context_get_state(c)) {
    case PA_CONTEXT_READY:
        g_message("audio: connected to the sound server \"%s\"", pa_context_get_server(c));
        p->state = PULSE_READY;
        if (p->busy)
            start_job(p);
        break;
    case PA_CONTEXT_FAILED:
    case PA_CONTEXT_TERMINATED: {
        bool was_ready = p->state == PULSE_READY;
        g_autofree char *why = g_strdup(pa_strerror(pa_context_errno(c)));
        if (was_ready)
            g_message("audio: lost the sound server: %s", why);
        else
            g_debug("audio: no sound server: %s", why);
        retire_context(p);
        if (p->busy) {
            g_autofree char *text = g_strdup_printf("sound server: %s", why);
            /* Refused before it was ready: nobody listens (the caller falls back to ALSA). */
            finish_later(p, was_ready ? -EPIPE : -EHOSTDOWN, text);
        }
        break;
    }
    default:
        break;
    }
}

/* A server that accepts and then says nothing must not hold the volume back forever. */
static gboolean on_job_timeout(gpointer user_data)
{
    VdAudioPulse *p = user_data;

    p->job_timer = 0;
    g_message("audio: the sound server did not answer in %u ms: disconnecting", VD_AUDIO_PULSE_TIMEOUT_MS);
    drop_context(p); /* cancels the operations in flight: their callbacks do not run */
    g_autofree char *text = g_strdup_printf("the sound server did not answer in %u ms", VD_AUDIO_PULSE_TIMEOUT_MS);
    finish(p, -ETIMEDOUT, text);
    return G_SOURCE_REMOVE;
}

int vd_audio_pulse_apply(VdAudioPulse *p, const VdVolume *v, VdAudioDoneFunc done, void *user_data)
{
    g_return_val_if_fail(p && v, -EINVAL);
    if (p->busy)
        return -EBUSY;
    p->job_timer = g_timeout_add(VD_AUDIO_PULSE_TIMEOUT_MS, on_job_timeout, p);
    p->busy = true;
    p->job = *v;
    p->done = done;
    p->user_data = user_data;
    p->ops_left = 0;
    switch (p->state) {
    case PULSE_READY:
        start_job(p);
        break;
    case PULSE_CONNECTING:
        break;
    case PULSE_IDLE:
        drop_context(p);
        p->ctx = pa_context_new(pa_glib_mainloop_get_api(p->ml), "vdagent");
        if (!p->ctx) {
            finish_later(p, -ENOMEM, "cannot create a libpulse context");
            break;
        }
        pa_context_set_state_callback(p->ctx, on_state, p);
        p->state = PULSE_CONNECTING;
        if (pa_context_connect(p->ctx, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0) {
            /* libpulse may have reported the failure through on_state already, which retired the
             * context and scheduled the job's end with the real reason. */
            if (!p->ctx)
                break;
            g_autofree char *text = g_strdup_printf("sound server: %s", pa_strerror(pa_context_errno(p->ctx)));
            drop_context(p);
            finish_later(p, -EHOSTDOWN, text);
        }
        break;
    }
    return 0;
}

VdAudioPulse *vd_audio_pulse_new(void)
{
    VdAudioPulse *p = g_new0(VdAudioPulse, 1);

    p->ml = pa_glib_mainloop_new(NULL);
    return p;
}

void vd_audio_pulse_free(VdAudioPulse *p)
{
    if (!p)
        return;
    g_clear_handle_id(&p->finish_source, g_source_remove);
    g_clear_handle_id(&p->job_timer, g_source_remove);
    drop_context(p);
    pa_glib_mainloop_free(p->ml);
    g_free(p->error);
    g_free(p);
}
