/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga.c — the QEMU guest agent channel: opens (and reopens) the port, splits the stream into
 * requests (qga-framer), parses them with json-glib, applies the allow/block policy, dispatches to
 * the verbs (qga-commands) one at a time, and writes the replies. See qga.h and docs/qga.md. */
#include "qga.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#include "outq.h"
#include "qga-commands.h"
#include "qga-framer.h"

#define VD_QGA_DEFAULT_CONFIG "/etc/vdagentd/qga.conf"
#define VD_QGA_READ_CHUNK 4096
/* Replies to one read chunk's requests at most are queued (nothing is read while replies wait),
 * so this only guards against a bug. */
#define VD_QGA_MAX_OUTPUT (1024 * 1024)
#define VD_QGA_RETRY_MIN_MS 250
#define VD_QGA_RETRY_MAX_MS 2000
#define VD_QGA_RETRY_MISSING_MAX_MS 5000
#define VD_QGA_MAX_POLICY_VERBS 256

typedef enum {
    VD_QGA_STATE_DISABLED,  /* --qga-port none */
    VD_QGA_STATE_STOPPED,   /* not started yet */
    VD_QGA_STATE_MISSING,   /* the port does not exist (yet): retried */
    VD_QGA_STATE_BUSY,      /* another agent holds the port: retried */
    VD_QGA_STATE_RETRYING,  /* closed after an error or hang-up: retried */
    VD_QGA_STATE_CONNECTED, /* serving */
} VdQgaState;

struct VdQgaCall {
    VdQga *qga; /* NULL once the connection it came from is gone */
    const VdQgaCommand *command;
    JsonNode *id;
    GCancellable *cancellable;
    gboolean delimited;
};

struct VdQga {
    char *port_path;
    GDBusConnection *system_bus;
    GHashTable *allowed; /* verb names, NULL: every verb not blocked */
    GHashTable *blocked; /* verb names */
    GHashTable *file_allowed; /* the policy file's allow-rpcs: the only way to enable the shell verbs */

    VdQgaState state;
    int fd;
    gboolean is_socket;
    guint fd_watch;
    GIOCondition watch_condition;
    guint retry_timer;
    guint retry_ms;
    int open_error; /* the last failure to open the port (negative errno), 0 after a success */
    gboolean had_data; /* this connection received bytes: reset the backoff on hang-up */

    VdQgaFramer *framer;
    guint8 in_buf[VD_QGA_READ_CHUNK];
    gsize in_pos, in_len;
    VdOutQueue out;
    VdQgaCall *call;    /* the request being served */
    gboolean in_dispatch;

    guint64 connections, requests, errors, blocked_requests, resyncs;
};

static void qga_process(VdQga *qga);
static void qga_update_watch(VdQga *qga);
static void qga_close(VdQga *qga, VdQgaState next);
static void qga_reconnect(VdQga *qga);

static const char *vd_qga_state_to_string(VdQgaState state)
{
    switch (state) {
    case VD_QGA_STATE_DISABLED: return "disabled";
    case VD_QGA_STATE_STOPPED: return "stopped";
    case VD_QGA_STATE_MISSING: return "waiting-for-port";
    case VD_QGA_STATE_BUSY: return "port-busy";
    case VD_QGA_STATE_RETRYING: return "reconnecting";
    case VD_QGA_STATE_CONNECTED: return "connected";
    }
    return "unknown";
}

void vd_qga_audit(const char *verb, const char *mode, const char *result)
{
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE_ID", VD_QGA_AUDIT_MESSAGE_ID, "QGA_VERB", verb,
                     "QGA_MODE", mode, "QGA_RESULT", result, "MESSAGE", "qga audit: %s mode=%s: %s", verb, mode,
                     result);
}

/* ---- policy ---- */

static gboolean verb_name_valid(const char *name)
{
    if (!*name || strlen(name) > 64)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-' && *p != '_')
            return FALSE;
    }
    return TRUE;
}

/* Adds the comma- (or semicolon-) separated verbs of list to set. what: for messages. */
static gboolean policy_add(GHashTable *set, const char *list, const char *what, GError **error)
{
    g_auto(GStrv) names = g_strsplit_set(list, ",;", -1);
    for (gsize i = 0; names[i]; i++) {
        char *name = g_strstrip(names[i]);
        if (!*name)
            continue;
        if (!verb_name_valid(name)) {
            g_autofree char *quoted = g_strescape(name, NULL);
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: \"%s\" is not a verb name", what,
                        quoted);
            return FALSE;
        }
        if (g_hash_table_size(set) >= VD_QGA_MAX_POLICY_VERBS) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: more than %d verbs", what,
                        VD_QGA_MAX_POLICY_VERBS);
            return FALSE;
        }
        if (!vd_qga_command_find(name) && !vd_qga_command_is_known_elsewhere(name))
            g_warning("%s: ignoring \"%s\": no such verb", what, name);
        g_hash_table_add(set, g_strdup(name));
    }
    return TRUE;
}

static gboolean load_config(VdQga *qga, const char *path, gboolean explicit_path, GString *allow_list,
                            GError **error)
{
    g_autoptr(GKeyFile) keyfile = g_key_file_new();
    g_autoptr(GError) local_error = NULL;

    if (!g_key_file_load_from_file(keyfile, path, G_KEY_FILE_NONE, &local_error)) {
        if (!explicit_path && g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, local_error->message);
        return FALSE;
    }
    g_auto(GStrv) groups = g_key_file_get_groups(keyfile, NULL);
    for (gsize g = 0; groups[g]; g++) {
        if (!g_str_equal(groups[g], "general")) {
            g_warning("%s: ignoring unknown group [%s]", path, groups[g]);
            continue;
        }
        g_auto(GStrv) keys = g_key_file_get_keys(keyfile, "general", NULL, NULL);
        for (gsize k = 0; keys && keys[k]; k++) {
            g_autofree char *value = g_key_file_get_string(keyfile, "general", keys[k], &local_error);
            g_autofree char *what = g_strdup_printf("%s: %s", path, keys[k]);
            if (!value) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", what, local_error->message);
                return FALSE;
            }
            if (g_str_equal(keys[k], "block-rpcs")) {
                if (!policy_add(qga->blocked, value, what, error))
                    return FALSE;
            } else if (g_str_equal(keys[k], "allow-rpcs")) {
                g_string_append_printf(allow_list, "%s,", value);
                if (!policy_add(qga->file_allowed, value, what, error))
                    return FALSE;
            } else {
                g_warning("%s: ignoring unknown key", what);
            }
        }
    }
    return TRUE;
}

static gboolean verb_enabled(const VdQga *qga, const char *verb)
{
    if (g_hash_table_contains(qga->blocked, verb))
        return FALSE;
    /* guest-exec, guest-file-*: a root shell for the host; only the policy file enables them. */
    if (vd_qga_command_is_shell(verb) && !g_hash_table_contains(qga->file_allowed, verb))
        return FALSE;
    return !qga->allowed || g_hash_table_contains(qga->allowed, verb);
}

/* ---- calls ---- */

const char *vd_qga_call_verb(const VdQgaCall *call)
{
    return call->command->name;
}

GCancellable *vd_qga_call_cancellable(const VdQgaCall *call)
{
    return call->cancellable;
}

GDBusConnection *vd_qga_call_system_bus(const VdQgaCall *call)
{
    return call->qga ? call->qga->system_bus : NULL;
}

void vd_qga_call_set_system_bus(VdQgaCall *call, GDBusConnection *bus)
{
    if (call->qga && !call->qga->system_bus)
        call->qga->system_bus = g_object_ref(bus);
}

gboolean vd_qga_call_verb_enabled(const VdQgaCall *call, const char *verb)
{
    return call->qga ? verb_enabled(call->qga, verb) : FALSE;
}

void vd_qga_call_set_delimited(VdQgaCall *call)
{
    call->delimited = TRUE;
}

static void call_free(VdQgaCall *call)
{
    if (call->id)
        json_node_unref(call->id);
    g_object_unref(call->cancellable);
    g_free(call);
}

/* Queues {"return"|"error": value, "id": id} and a newline, preceded by 0xFF when delimited. */
static void qga_send(VdQga *qga, const char *member, JsonNode *value, JsonNode *id, gboolean delimited)
{
    g_autoptr(JsonObject) reply = json_object_new();
    json_object_set_member(reply, member, value);
    if (id)
        json_object_set_member(reply, "id", json_node_copy(id));
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(root, reply);
    g_autofree char *text = json_to_string(root, FALSE);

    if (qga->state != VD_QGA_STATE_CONNECTED)
        return;
    if (vd_outq_queued(&qga->out) + strlen(text) + 2 > VD_QGA_MAX_OUTPUT) {
        g_warning("qga: %s: more than %d bytes of replies are not read by the host: reconnecting", qga->port_path,
                  VD_QGA_MAX_OUTPUT);
        qga_reconnect(qga);
        return;
    }
    if (delimited) {
        static const guint8 delimiter = 0xFF;
        vd_outq_append(&qga->out, &delimiter, 1);
    }
    vd_outq_append(&qga->out, text, strlen(text));
    vd_outq_append(&qga->out, "\n", 1);
    qga_update_watch(qga);
}

static void qga_send_error(VdQga *qga, JsonNode *id, const char *error_class, const char *desc)
{
    JsonObject *error = json_object_new();
    json_object_set_string_member(error, "class", error_class);
    json_object_set_string_member(error, "desc", desc);
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, error);
    qga->errors++;
    g_debug("qga: error reply: %s: %s", error_class, desc);
    qga_send(qga, "error", node, id, FALSE);
}

static void qga_send_errorf(VdQga *qga, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void qga_send_errorf(VdQga *qga, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *desc = g_strdup_vprintf(format, ap);
    va_end(ap);
    qga_send_error(qga, NULL, VD_QGA_ERROR_GENERIC, desc);
}

/* Ends the call: when it completed outside qga_dispatch(), serving resumes with the next request. */
static void call_complete(VdQgaCall *call)
{
    VdQga *qga = call->qga;
    if (qga) {
        g_assert(qga->call == call);
        qga->call = NULL;
        if (!qga->in_dispatch) {
            qga_process(qga);
            qga_update_watch(qga);
        }
    }
    call_free(call);
}

void vd_qga_call_return(VdQgaCall *call, JsonNode *value)
{
    if (call->qga)
        qga_send(call->qga, "return", value, call->id, call->delimited);
    else
        json_node_unref(value);
    call_complete(call);
}

void vd_qga_call_error(VdQgaCall *call, const char *error_class, const char *format, ...)
{
    if (call->qga) {
        va_list ap;
        va_start(ap, format);
        g_autofree char *desc = g_strdup_vprintf(format, ap);
        va_end(ap);
        qga_send_error(call->qga, call->id, error_class, desc);
    }
    call_complete(call);
}

void vd_qga_call_done(VdQgaCall *call)
{
    call_complete(call);
}

/* ---- requests ---- */

/* Names of the members whose value is an integer literal outside int64. json-glib wraps such a
 * literal silently (10^23 reads as -1); qemu-ga refuses it as "Invalid parameter type ... expected:
 * integer", and so do we. The request was parsed as valid JSON already: this only scans it. */
static GPtrArray *overflowing_members(const char *data, gsize len)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *last_string = NULL;
    g_autofree char *key = NULL;
    for (gsize i = 0; i < len; i++) {
        char ch = data[i];
        if (ch == '"') {
            gsize start = ++i;
            while (i < len && data[i] != '"')
                i += data[i] == '\\' ? 2 : 1;
            g_free(last_string);
            last_string = g_strndup(data + start, MIN(i, len) - start);
        } else if (ch == ':') {
            g_free(key);
            key = g_steal_pointer(&last_string);
        } else if (ch == '-' || g_ascii_isdigit(ch)) {
            gsize start = i;
            gboolean integer = TRUE;
            while (i + 1 < len && data[i + 1] && (g_ascii_isdigit(data[i + 1]) || strchr("+-.eE", data[i + 1]))) {
                integer = integer && !strchr(".eE", data[i + 1]);
                i++;
            }
            g_autofree char *literal = g_strndup(data + start, i + 1 - start);
            if (integer && key && !g_ascii_string_to_signed(literal, 10, G_MININT64, G_MAXINT64, NULL, NULL))
                g_ptr_array_add(names, g_strdup(key));
        } else if (g_ascii_isalpha(ch)) {
            while (i + 1 < len && g_ascii_isalpha(data[i + 1]))
                i++; /* true, false, null */
        }
    }
    return names;
}

static gboolean check_args(const VdQgaCommand *command, JsonObject *args, GPtrArray *overflowing, char **ret_desc)
{
    g_autoptr(GList) members = json_object_get_members(args);
    for (GList *l = members; l; l = l->next) {
        gboolean known = FALSE;
        for (const VdQgaArg *a = command->args; a && a->name; a++)
            known = known || g_str_equal(a->name, l->data);
        if (!known) {
            g_autofree char *quoted = g_strescape(l->data, NULL);
            *ret_desc = g_strdup_printf("Parameter '%s' is unexpected", quoted);
            return FALSE;
        }
    }
    for (const VdQgaArg *a = command->args; a && a->name; a++) {
        JsonNode *node = json_object_get_member(args, a->name);
        if (!node) {
            if (a->optional)
                continue;
            *ret_desc = g_strdup_printf("Parameter '%s' is missing", a->name);
            return FALSE;
        }
        static const char *const expected[] = {"integer", "string", "boolean", "array", "any"};
        gboolean ok;
        if (a->type == VD_QGA_ARG_ANY) {
            ok = TRUE;
        } else if (a->type == VD_QGA_ARG_ARRAY) {
            ok = JSON_NODE_HOLDS_ARRAY(node);
        } else {
            GType want = a->type == VD_QGA_ARG_INT ? G_TYPE_INT64
                         : a->type == VD_QGA_ARG_BOOL ? G_TYPE_BOOLEAN : G_TYPE_STRING;
            ok = JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == want;
        }
        /* json-glib wraps an integer literal outside int64 (10^23 reads as -1). */
        if (a->type == VD_QGA_ARG_INT && g_ptr_array_find_with_equal_func(overflowing, a->name, g_str_equal, NULL))
            ok = FALSE;
        if (!ok) {
            *ret_desc = g_strdup_printf("Invalid parameter type for '%s', expected: %s", a->name, expected[a->type]);
            return FALSE;
        }
    }
    return TRUE;
}

static void qga_dispatch(VdQga *qga, const char *data, gsize len)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) error = NULL;

    qga->requests++;
    if (!json_parser_load_from_data(parser, data, (gssize) len, &error)) {
        g_autofree char *desc = g_strdup_printf("Invalid JSON: %s", error->message);
        qga_send_error(qga, NULL, VD_QGA_ERROR_GENERIC, desc);
        return;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        qga_send_error(qga, NULL, VD_QGA_ERROR_GENERIC, "QMP input must be a JSON object");
        return;
    }
    JsonObject *request = json_node_get_object(root);
    JsonNode *id = json_object_get_member(request, "id");
    JsonNode *execute = json_object_get_member(request, "execute");
    JsonNode *arguments = json_object_get_member(request, "arguments");

    g_autoptr(GList) members = json_object_get_members(request);
    for (GList *l = members; l; l = l->next) {
        if (!g_str_equal(l->data, "execute") && !g_str_equal(l->data, "arguments") && !g_str_equal(l->data, "id")) {
            g_autofree char *quoted = g_strescape(l->data, NULL);
            g_autofree char *desc = g_strdup_printf("QMP input member '%s' is unexpected", quoted);
            qga_send_error(qga, id, VD_QGA_ERROR_GENERIC, desc);
            return;
        }
    }
    if (!execute) {
        qga_send_error(qga, id, VD_QGA_ERROR_GENERIC, "QMP input lacks member 'execute'");
        return;
    }
    if (!JSON_NODE_HOLDS_VALUE(execute) || json_node_get_value_type(execute) != G_TYPE_STRING) {
        qga_send_error(qga, id, VD_QGA_ERROR_GENERIC, "QMP input member 'execute' must be a string");
        return;
    }
    if (arguments && !JSON_NODE_HOLDS_OBJECT(arguments)) {
        qga_send_error(qga, id, VD_QGA_ERROR_GENERIC, "QMP input member 'arguments' must be an object");
        return;
    }
    const char *verb = json_node_get_string(execute);
    const VdQgaCommand *command = vd_qga_command_find(verb);
    if (!command) {
        g_autofree char *quoted = g_strescape(verb, NULL);
        g_autofree char *desc = g_strdup_printf("The command %s has not been found", quoted);
        qga_send_error(qga, id, VD_QGA_ERROR_COMMAND_NOT_FOUND, desc);
        return;
    }
    if (!verb_enabled(qga, verb)) {
        /* Class and wording as qemu-ga's for a disabled command, with the reason. */
        g_autofree char *desc = g_strdup_printf("Command %s has been disabled: blocked by policy", verb);
        qga->blocked_requests++;
        if (command->privileged)
            vd_qga_audit(verb, "-", "refused: blocked by policy");
        else
            g_info("qga: refused %s: blocked by policy", verb);
        qga_send_error(qga, id, VD_QGA_ERROR_COMMAND_NOT_FOUND, desc);
        return;
    }
    g_autoptr(JsonObject) args = arguments ? json_object_ref(json_node_get_object(arguments)) : json_object_new();
    g_autofree char *desc = NULL;
    g_autoptr(GPtrArray) overflowing = overflowing_members(data, len);
    if (!check_args(command, args, overflowing, &desc)) {
        qga_send_error(qga, id, VD_QGA_ERROR_GENERIC, desc);
        return;
    }

    VdQgaCall *call = g_new0(VdQgaCall, 1);
    call->qga = qga;
    call->command = command;
    call->id = id ? json_node_copy(id) : NULL;
    call->cancellable = g_cancellable_new();
    qga->call = call;
    g_debug("qga: %s", verb);
    command->handler(call, args);
}

/* Serves the bytes already read, until they run out or a request goes asynchronous. */
static void qga_process(VdQga *qga)
{
    qga->in_dispatch = TRUE;
    while (qga->state == VD_QGA_STATE_CONNECTED && !qga->call && qga->in_pos < qga->in_len) {
        VdQgaFrameEvent event;
        qga->in_pos += vd_qga_framer_feed(qga->framer, qga->in_buf + qga->in_pos, qga->in_len - qga->in_pos, &event);
        switch (event) {
        case VD_QGA_FRAME_NONE:
            break;
        case VD_QGA_FRAME_OBJECT: {
            gsize len;
            const char *data = vd_qga_framer_object(qga->framer, &len);
            qga_dispatch(qga, data, len);
            break;
        }
        case VD_QGA_FRAME_JUNK:
            qga->requests++;
            qga_send_error(qga, NULL, VD_QGA_ERROR_GENERIC, "Invalid JSON: expected a request object");
            break;
        case VD_QGA_FRAME_TOO_BIG:
            qga->requests++;
            qga_send_errorf(qga, "Request too large: over %d bytes", VD_QGA_MAX_REQUEST_SIZE);
            break;
        case VD_QGA_FRAME_TOO_DEEP:
            qga->requests++;
            qga_send_errorf(qga, "Request nested too deeply: over %d levels", VD_QGA_MAX_NESTING);
            break;
        case VD_QGA_FRAME_RESYNC:
            qga->resyncs++;
            break;
        }
    }
    qga->in_dispatch = FALSE;
}

/* ---- the channel ---- */

static gboolean on_retry(gpointer user_data);

static void qga_schedule_retry(VdQga *qga, guint max_ms)
{
    if (qga->retry_timer)
        return;
    qga->retry_ms = CLAMP(qga->retry_ms * 2, VD_QGA_RETRY_MIN_MS, max_ms);
    qga->retry_timer = g_timeout_add(qga->retry_ms, on_retry, qga);
}

static void qga_close(VdQga *qga, VdQgaState next)
{
    if (qga->fd_watch) {
        g_source_remove(qga->fd_watch);
        qga->fd_watch = 0;
    }
    if (qga->fd >= 0) {
        close(qga->fd);
        qga->fd = -1;
    }
    if (qga->call) {
        /* The reply has nowhere to go: the handler's completion will only free the call. */
        qga->call->qga = NULL;
        g_cancellable_cancel(qga->call->cancellable);
        qga->call = NULL;
    }
    vd_outq_reset(&qga->out);
    qga->in_pos = qga->in_len = 0;
    if (qga->framer)
        vd_qga_framer_reset(qga->framer);
    qga->watch_condition = 0;
    qga->state = next;
}

static void qga_reconnect(VdQga *qga)
{
    qga_close(qga, VD_QGA_STATE_RETRYING);
    qga_schedule_retry(qga, VD_QGA_RETRY_MAX_MS);
}

/* Returns FALSE (and closes) when the connection broke. */
static gboolean qga_flush(VdQga *qga)
{
    /* On a socket, MSG_NOSIGNAL: a host that went away must not kill the daemon with SIGPIPE. */
    ssize_t n = vd_outq_flush(&qga->out, qga->fd, qga->is_socket);
    if (n < 0) {
        g_info("qga: %s: write failed: %s: reconnecting", qga->port_path, g_strerror((int) -n));
        qga_reconnect(qga);
        return FALSE;
    }
    return TRUE;
}

static gboolean on_fd(int fd, GIOCondition condition, gpointer user_data)
{
    VdQga *qga = user_data;

    if ((condition & G_IO_OUT) && !qga_flush(qga))
        return G_SOURCE_REMOVE; /* qga_close removed this source */
    /* Read only between requests and with no reply pending: the host reads replies in order. */
    if ((condition & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && !qga->call && vd_outq_queued(&qga->out) == 0 &&
        qga->in_pos == qga->in_len) {
        ssize_t n;
        do {
            n = read(qga->fd, qga->in_buf, sizeof(qga->in_buf));
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            qga->in_pos = 0;
            qga->in_len = (gsize) n;
            if (!qga->had_data) {
                qga->had_data = TRUE;
                qga->retry_ms = 0;
            }
            qga_process(qga);
        } else if (n == 0 || errno != EAGAIN) {
            if (n == 0)
                g_debug("qga: %s: hang-up: reopening", qga->port_path);
            else
                g_info("qga: %s: read failed: %s: reopening", qga->port_path, g_strerror(errno));
            qga_reconnect(qga);
            return G_SOURCE_REMOVE;
        }
    } else if (condition & (G_IO_HUP | G_IO_ERR)) {
        /* The host went away with a request or replies pending: they have nowhere to go. */
        g_debug("qga: %s: hang-up with a request or replies pending: reopening", qga->port_path);
        qga_reconnect(qga);
        return G_SOURCE_REMOVE;
    }
    if (qga->state != VD_QGA_STATE_CONNECTED)
        return G_SOURCE_REMOVE;
    if (vd_outq_queued(&qga->out) > 0 && !qga_flush(qga))
        return G_SOURCE_REMOVE;
    qga_update_watch(qga);
    return G_SOURCE_CONTINUE;
}

/* Watches for what the connection waits for now: room for replies, else (between requests) input. */
static void qga_update_watch(VdQga *qga)
{
    if (qga->state != VD_QGA_STATE_CONNECTED)
        return;
    GIOCondition condition = G_IO_HUP | G_IO_ERR;
    if (vd_outq_queued(&qga->out) > 0)
        condition |= G_IO_OUT;
    else if (!qga->call && qga->in_pos == qga->in_len)
        condition |= G_IO_IN;
    if (qga->fd_watch && condition == qga->watch_condition)
        return;
    if (qga->fd_watch)
        g_source_remove(qga->fd_watch);
    qga->fd_watch = g_unix_fd_add(qga->fd, condition, on_fd, qga);
    qga->watch_condition = condition;
}

static int open_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static int open_port(const char *path, gboolean *ret_is_socket)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    *ret_is_socket = S_ISSOCK(st.st_mode);
    if (*ret_is_socket)
        return open_socket(path);
    if (!S_ISCHR(st.st_mode))
        return -ENODEV; /* neither a port nor a socket: reported once, then looked at again */
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    return fd < 0 ? -errno : fd;
}

static void qga_open(VdQga *qga)
{
    gboolean is_socket = FALSE;
    int fd = open_port(qga->port_path, &is_socket);
    if (fd < 0) {
        /* Each problem is told once, until the port has been opened again. */
        gboolean tell = fd != qga->open_error;
        qga->open_error = fd;
        if (fd == -ENOENT || fd == -ECONNREFUSED) {
            if (tell)
                g_info("qga: %s is not there (yet): waiting for it", qga->port_path);
            qga->state = VD_QGA_STATE_MISSING;
        } else if (fd == -EBUSY) {
            if (tell)
                g_message("qga: %s is held by another agent (qemu-ga?): not serving it until it is free",
                          qga->port_path);
            qga->state = VD_QGA_STATE_BUSY;
        } else {
            if (tell)
                g_warning("qga: cannot open %s: %s: retrying", qga->port_path,
                          fd == -ENODEV ? "not a character device or a Unix socket" : g_strerror(-fd));
            qga->state = VD_QGA_STATE_RETRYING;
        }
        qga_schedule_retry(qga, VD_QGA_RETRY_MISSING_MAX_MS);
        return;
    }
    /* Reopening after each hang-up of a host that is not connected is routine: not worth a line. */
    if (qga->open_error != 0 || qga->connections == 0)
        g_message("qga: serving the QEMU guest agent protocol on %s", qga->port_path);
    qga->open_error = 0;
    qga->fd = fd;
    qga->is_socket = is_socket;
    qga->state = VD_QGA_STATE_CONNECTED;
    qga->had_data = FALSE;
    qga->connections++;
    qga_update_watch(qga);
}

static gboolean on_retry(gpointer user_data)
{
    VdQga *qga = user_data;
    qga->retry_timer = 0;
    qga_open(qga);
    return G_SOURCE_REMOVE;
}

/* ---- public ---- */

VdQga *vd_qga_new(const VdQgaConfig *config, GError **error)
{
    g_autoptr(GString) allow_list = g_string_new(NULL);
    VdQga *qga = g_new0(VdQga, 1);
    qga->fd = -1;
    qga->blocked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    qga->file_allowed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vd_outq_init(&qga->out);
    qga->state = VD_QGA_STATE_STOPPED;

    if (!config->port_path || g_str_equal(config->port_path, "none") || !*config->port_path)
        qga->state = VD_QGA_STATE_DISABLED;
    else
        qga->port_path = g_strdup(config->port_path);
    if (config->system_bus)
        qga->system_bus = g_object_ref(config->system_bus);

    const char *config_path = config->config_path ? config->config_path : VD_QGA_DEFAULT_CONFIG;
    if (!load_config(qga, config_path, config->config_path != NULL, allow_list, error))
        goto fail;
    if (config->block_rpcs && !policy_add(qga->blocked, config->block_rpcs, "--block-rpcs", error))
        goto fail;
    /* --allow-rpcs replaces the file's allow-rpcs. */
    if (config->allow_rpcs) {
        g_string_assign(allow_list, config->allow_rpcs);
        if (!*config->allow_rpcs)
            g_string_assign(allow_list, ",");
    }
    if (allow_list->len > 0) {
        qga->allowed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (!policy_add(qga->allowed, allow_list->str, config->allow_rpcs ? "--allow-rpcs" : config_path, error))
            goto fail;
    }
    qga->framer = vd_qga_framer_new(VD_QGA_MAX_REQUEST_SIZE, VD_QGA_MAX_NESTING);
    return qga;

fail:
    vd_qga_free(qga);
    return NULL;
}

void vd_qga_set_system_bus(VdQga *qga, GDBusConnection *bus)
{
    if (bus && !qga->system_bus)
        qga->system_bus = g_object_ref(bus);
}

void vd_qga_start(VdQga *qga)
{
    if (qga->state == VD_QGA_STATE_DISABLED)
        g_info("qga: the QEMU guest agent protocol is off (--qga-port none)");
    if (qga->state != VD_QGA_STATE_STOPPED)
        return;
    qga_open(qga);
}

void vd_qga_free(VdQga *qga)
{
    if (!qga)
        return;
    qga_close(qga, VD_QGA_STATE_STOPPED);
    if (qga->retry_timer)
        g_source_remove(qga->retry_timer);
    vd_qga_framer_free(qga->framer);
    vd_outq_clear(&qga->out);
    if (qga->allowed)
        g_hash_table_unref(qga->allowed);
    g_hash_table_unref(qga->file_allowed);
    g_hash_table_unref(qga->blocked);
    g_clear_object(&qga->system_bus);
    g_free(qga->port_path);
    g_free(qga);
}

static void add_verb_list(JsonBuilder *builder, const VdQga *qga, gboolean enabled)
{
    gsize n;
    const VdQgaCommand *commands = vd_qga_commands(&n);
    json_builder_begin_array(builder);
    for (gsize i = 0; i < n; i++) {
        if (verb_enabled(qga, commands[i].name) == enabled)
            json_builder_add_string_value(builder, commands[i].name);
    }
    json_builder_end_array(builder);
}

/* Adds one object value: the caller has set the member name ("qga"). */
void vd_qga_status(const VdQga *qga, JsonBuilder *builder)
{
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "path");
    if (qga->port_path)
        json_builder_add_string_value(builder, qga->port_path);
    else
        json_builder_add_null_value(builder);
    json_builder_set_member_name(builder, "state");
    json_builder_add_string_value(builder, vd_qga_state_to_string(qga->state));
    json_builder_set_member_name(builder, "connections");
    json_builder_add_int_value(builder, (gint64) qga->connections);
    json_builder_set_member_name(builder, "requests");
    json_builder_add_int_value(builder, (gint64) qga->requests);
    json_builder_set_member_name(builder, "errors");
    json_builder_add_int_value(builder, (gint64) qga->errors);
    json_builder_set_member_name(builder, "blocked_requests");
    json_builder_add_int_value(builder, (gint64) qga->blocked_requests);
    json_builder_set_member_name(builder, "resyncs");
    json_builder_add_int_value(builder, (gint64) qga->resyncs);
    json_builder_set_member_name(builder, "enabled");
    add_verb_list(builder, qga, TRUE);
    json_builder_set_member_name(builder, "blocked");
    add_verb_list(builder, qga, FALSE);
    json_builder_end_object(builder);
}
