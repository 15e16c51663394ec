/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-worker.c — runs the verbs that only read the system in a worker thread (see qga-verbs.h). */
#include "qga-verbs.h"


typedef struct {
    VdQgaCall *call;
    VdQgaSyncFunc func;
    char *args_json; /* JsonObject is not thread-safe: the worker parses its own copy */
} WorkerJob;

static void worker_job_free(gpointer data)
{
    WorkerJob *job = data;
    g_free(job->args_json);
    g_free(job);
}

static void worker_run(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    WorkerJob *job = task_data;
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *error = NULL;
    if (!json_parser_load_from_data(parser, job->args_json, -1, &error)) {
        g_task_return_error(task, error);
        return;
    }
    JsonNode *value = job->func(json_node_get_object(json_parser_get_root(parser)), &error);
    if (value)
        g_task_return_pointer(task, value, (GDestroyNotify) json_node_unref);
    else
        g_task_return_error(task, error);
}

static void worker_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WorkerJob *job = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    JsonNode *value = g_task_propagate_pointer(G_TASK(result), &error);
    if (value)
        vd_qga_call_return(job->call, value);
    else
        vd_qga_call_error(job->call, VD_QGA_ERROR_GENERIC, "%s", error->message);
}

void vd_qga_call_run_in_thread(VdQgaCall *call, JsonObject *args, VdQgaSyncFunc func)
{
    WorkerJob *job = g_new0(WorkerJob, 1);
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(node, args);
    job->call = call;
    job->func = func;
    job->args_json = json_to_string(node, FALSE);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, worker_done, NULL);
    g_task_set_task_data(task, job, worker_job_free);
    g_task_run_in_thread(task, worker_run);
}

/* The table's handlers for the verbs that run in a worker (see qga-commands.c). */
#define VD_QGA_THREADED(fn)                                                                                  \
    void vd_qga_cmd_##fn(VdQgaCall *call, JsonObject *args)                                                  \
    {                                                                                                        \
        vd_qga_call_run_in_thread(call, args, vd_qga_##fn);                                                  \
    }
VD_QGA_THREADED(network_get_interfaces)
VD_QGA_THREADED(get_disks)
VD_QGA_THREADED(get_load)
VD_QGA_THREADED(get_memory_blocks)
VD_QGA_THREADED(get_memory_block_info)

static JsonNode *users_from_system_utmp(JsonObject *args, GError **error)
{
    /* Test hook: VDAGENT_QGA_UTMP names another utmp file (absolute path only). */
    const char *path = g_getenv("VDAGENT_QGA_UTMP");
    return vd_qga_users_from_utmp(path && g_path_is_absolute(path) ? path : NULL, error);
}

void vd_qga_cmd_users_from_utmp(VdQgaCall *call)
{
    g_autoptr(JsonObject) args = json_object_new();
    vd_qga_call_run_in_thread(call, args, users_from_system_utmp);
}
