/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-exec.c — guest-exec and guest-exec-status, with qemu-ga's shapes. Disabled unless the policy
 * file enables them (vd_qga_command_is_shell). The program runs as a child of vdagentd, inside its
 * sandbox: root without any capability, a read-only system, no home directories. Output is
 * captured up to VD_QGA_EXEC_MAX_OUTPUT per stream (then "out-truncated"/"err-truncated"); a
 * finished process is forgotten once its status was reported. */
#include "qga-shell.h"

#include <string.h>
#include <sys/wait.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>

typedef struct {
    GByteArray *data;
    gboolean truncated, done;
    guint8 chunk[16384];
} Capture;

typedef struct {
    gint64 pid;
    GCancellable *cancel;
    GInputStream *out_stream, *err_stream;
    GOutputStream *in_stream;
    GBytes *input;
    Capture out, err;
    gboolean capture, exited;
    int wait_status;
} Job;

static GList *jobs; /* Job */

static void job_free(Job *job)
{
    g_cancellable_cancel(job->cancel);
    g_clear_object(&job->cancel);
    g_clear_object(&job->out_stream);
    g_clear_object(&job->err_stream);
    g_clear_object(&job->in_stream);
    g_clear_pointer(&job->input, g_bytes_unref);
    g_clear_pointer(&job->out.data, g_byte_array_unref);
    g_clear_pointer(&job->err.data, g_byte_array_unref);
    g_free(job);
}

static void read_more(GInputStream *stream, Capture *c, Job *job);

typedef struct {
    Capture *c;
    Job *job;
} ReadCtx;

static void on_read(GObject *source, GAsyncResult *result, gpointer user_data)
{
    ReadCtx *ctx = user_data;
    g_autoptr(GError) error = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_free(ctx);
        return; /* the job is gone */
    }
    Capture *c = ctx->c;
    Job *job = ctx->job;
    g_free(ctx);
    if (n <= 0) {
        c->done = TRUE;
        return;
    }
    gsize room = VD_QGA_EXEC_MAX_OUTPUT - c->data->len;
    if ((gsize) n > room)
        c->truncated = TRUE; /* the rest is read and dropped, so the child never blocks */
    g_byte_array_append(c->data, c->chunk, (guint) MIN((gsize) n, room));
    read_more(G_INPUT_STREAM(source), c, job);
}

static void read_more(GInputStream *stream, Capture *c, Job *job)
{
    ReadCtx *ctx = g_new0(ReadCtx, 1);
    ctx->c = c;
    ctx->job = job;
    g_input_stream_read_async(stream, c->chunk, sizeof(c->chunk), G_PRIORITY_DEFAULT, job->cancel, on_read, ctx);
}

static void on_exited(GPid pid, gint wait_status, gpointer user_data)
{
    Job *job = user_data;
    job->exited = TRUE;
    job->wait_status = wait_status;
    g_spawn_close_pid(pid);
}

static void on_input_written(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    /* A child that exits without reading its input is not an error of ours. */
    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error) &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    g_output_stream_close(G_OUTPUT_STREAM(source), NULL, NULL);
}

static gboolean string_list(JsonObject *args, const char *name, GPtrArray *out, GError **error)
{
    JsonNode *node = json_object_get_member(args, name);
    if (!node)
        return TRUE;
    JsonArray *a = json_node_get_array(node);
    if (json_array_get_length(a) > VD_QGA_EXEC_MAX_ARGS) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Parameter '%s': more than %d entries", name,
                    VD_QGA_EXEC_MAX_ARGS);
        return FALSE;
    }
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "Invalid parameter type for '%s', expected: array of strings", name);
            return FALSE;
        }
        g_ptr_array_add(out, g_strdup(json_node_get_string(e)));
    }
    return TRUE;
}

void vd_qga_cmd_exec(VdQgaCall *call, JsonObject *args)
{
    const char *path = json_object_get_string_member(args, "path");
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_ptr_array_add(argv, g_strdup(path));
    if (!string_list(args, "arg", argv, &error) || !string_list(args, "env", env, &error)) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "%s", error->message);
        return;
    }
    g_ptr_array_add(argv, NULL);
    g_ptr_array_add(env, NULL);
    if (g_list_length(jobs) >= VD_QGA_EXEC_MAX_JOBS) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC,
                          "guest-exec: %d processes are running or unreported already: ask guest-exec-status first",
                          VD_QGA_EXEC_MAX_JOBS);
        return;
    }
    g_autoptr(GBytes) input = NULL;
    JsonNode *input_node = json_object_get_member(args, "input-data");
    if (input_node) {
        gsize len;
        guchar *raw = g_base64_decode(json_node_get_string(input_node), &len);
        input = g_bytes_new_take(raw, len);
    }
    JsonNode *capture_node = json_object_get_member(args, "capture-output");
    gboolean capture = capture_node && json_node_get_boolean(capture_node);

    GSpawnFlags sflags = G_SPAWN_DO_NOT_REAP_CHILD | (env->len > 1 ? G_SPAWN_SEARCH_PATH_FROM_ENVP : G_SPAWN_SEARCH_PATH);
    if (!capture)
        sflags |= G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL;
    if (!input)
        sflags |= G_SPAWN_STDIN_FROM_DEV_NULL;
    GPid pid;
    int in_fd = -1, out_fd = -1, err_fd = -1;
    g_autofree char *quoted = g_strescape(path, NULL);
    if (!g_spawn_async_with_pipes_and_fds(NULL, (const char *const *) argv->pdata,
                                          env->len > 1 ? (const char *const *) env->pdata : NULL, sflags, NULL, NULL,
                                          -1, -1, -1, NULL, NULL, 0, &pid, input ? &in_fd : NULL,
                                          capture ? &out_fd : NULL, capture ? &err_fd : NULL, &error)) {
        g_autofree char *result = g_strdup_printf("failed: %s", error->message);
        vd_qga_audit("guest-exec", quoted, result);
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "Guest agent command failed, error was '%s'", error->message);
        return;
    }
    Job *job = g_new0(Job, 1);
    job->pid = pid;
    job->cancel = g_cancellable_new();
    job->capture = capture;
    job->out.data = g_byte_array_new();
    job->err.data = g_byte_array_new();
    jobs = g_list_append(jobs, job);
    g_child_watch_add(pid, on_exited, job);
    if (input) {
        g_unix_set_fd_nonblocking(in_fd, TRUE, NULL);
        job->in_stream = g_unix_output_stream_new(in_fd, TRUE);
        job->input = g_steal_pointer(&input);
        g_output_stream_write_all_async(job->in_stream, g_bytes_get_data(job->input, NULL),
                                        g_bytes_get_size(job->input), G_PRIORITY_DEFAULT, job->cancel,
                                        on_input_written, job);
    }
    if (capture) {
        job->out_stream = g_unix_input_stream_new(out_fd, TRUE);
        job->err_stream = g_unix_input_stream_new(err_fd, TRUE);
        read_more(job->out_stream, &job->out, job);
        read_more(job->err_stream, &job->err, job);
    } else {
        job->out.done = job->err.done = TRUE;
    }
    g_autofree char *result = g_strdup_printf("started pid %" G_GINT64_FORMAT " with %u arguments", job->pid,
                                              argv->len - 2);
    vd_qga_audit("guest-exec", quoted, result);
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "pid", job->pid);
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, o);
    vd_qga_call_return(call, node);
}

void vd_qga_cmd_exec_status(VdQgaCall *call, JsonObject *args)
{
    gint64 pid = json_object_get_int_member(args, "pid");
    GList *l;
    for (l = jobs; l && ((Job *) l->data)->pid != pid; l = l->next)
        ;
    if (!l) {
        vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "Invalid parameter 'pid'");
        return;
    }
    Job *job = l->data;
    JsonObject *o = json_object_new();
    gboolean finished = job->exited && job->out.done && job->err.done;
    json_object_set_boolean_member(o, "exited", finished);
    if (finished) {
        if (WIFEXITED(job->wait_status))
            json_object_set_int_member(o, "exitcode", WEXITSTATUS(job->wait_status));
        else if (WIFSIGNALED(job->wait_status))
            json_object_set_int_member(o, "signal", WTERMSIG(job->wait_status));
        if (job->capture) {
            /* As qemu-ga: each *-truncated only beside its *-data. */
            if (job->out.data->len) {
                g_autofree char *b = g_base64_encode(job->out.data->data, job->out.data->len);
                json_object_set_string_member(o, "out-data", b);
                json_object_set_boolean_member(o, "out-truncated", job->out.truncated);
            }
            if (job->err.data->len) {
                g_autofree char *b = g_base64_encode(job->err.data->data, job->err.data->len);
                json_object_set_string_member(o, "err-data", b);
                json_object_set_boolean_member(o, "err-truncated", job->err.truncated);
            }
        }
        jobs = g_list_delete_link(jobs, l);
        job_free(job);
    }
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, o);
    vd_qga_call_return(call, node);
}
