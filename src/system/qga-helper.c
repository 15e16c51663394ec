/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-helper.c — the daemon's side of the privileged QGA helpers (see qga-helper.h): one kept
 * connection per family, one request at a time (the daemon serves requests in order anyway). */
#include "qga-helper.h"

#include <string.h>

#include <gio/gunixsocketaddress.h>

typedef struct {
    const char *family;
    GSocketConnection *conn;
    VdQgaCall *call;       /* the request in flight */
    bool audit;        /* a privileged verb: one audit line with the outcome */
    char *request;         /* its line, sent once connected */
    guint timeout_ms;
    guint timer;
    GByteArray *in;
    guint8 chunk[4096];
    GCancellable *io;      /* cancels this connection's I/O when it is dropped */
} Helper;

static Helper helpers[] = {{"fs"}, {"time"}, {"hotplug"}, {"account"}};

static Helper *helper_get(const char *family)
{
    for (gsize i = 0; i < G_N_ELEMENTS(helpers); i++) {
        if (g_str_equal(helpers[i].family, family))
            return &helpers[i];
    }
    g_assert_not_reached();
}

static char *helper_path(const Helper *h)
{
    const char *dir = g_getenv(VD_QGA_HELPER_DIR_ENV);
    if (!dir || !g_path_is_absolute(dir))
        dir = VD_QGA_HELPER_DIR;
    g_autofree char *name = g_strdup_printf("qga-%s.sock", h->family);
    return g_build_filename(dir, name, NULL);
}

static guint scaled_timeout_ms(guint timeout_ms)
{
    const char *text = g_getenv(VD_QGA_HELPER_TIMEOUT_DIVISOR_ENV);
    guint64 divisor;
    if (!text || !g_getenv(VD_QGA_HELPER_DIR_ENV))
        return timeout_ms;
    if (!g_ascii_string_to_unsigned(text, 10, 2, 60, &divisor, NULL)) {
        g_warning("qga: %s=\"%s\" ignored: not 2 to 60", VD_QGA_HELPER_TIMEOUT_DIVISOR_ENV, text);
        return timeout_ms;
    }
    return timeout_ms / (guint) divisor;
}

static void helper_drop(Helper *h)
{
    if (h->io) {
        g_cancellable_cancel(h->io);
        g_clear_object(&h->io);
    }
    if (h->conn) {
        g_io_stream_close(G_IO_STREAM(h->conn), NULL, NULL);
        g_clear_object(&h->conn);
    }
    if (h->in)
        g_byte_array_set_size(h->in, 0);
}

static void helper_finish_call(Helper *h)
{
    g_clear_handle_id(&h->timer, g_source_remove);
    g_clear_pointer(&h->request, g_free);
    h->call = NULL;
}

static void helper_fail(Helper *h, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void helper_fail(Helper *h, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *why = g_strdup_vprintf(format, ap);
    va_end(ap);
    VdQgaCall *call = h->call;
    if (!call)
        return;
    g_autofree char *verb = g_strdup(vd_qga_call_verb(call));
    g_warning("qga: %s: the %s helper: %s", verb, h->family, why);
    if (h->audit) {
        g_autofree char *line = g_strdup_printf("failed: the %s helper: %s", h->family, why);
        vd_qga_audit(verb, "-", line);
    }
    helper_drop(h);
    helper_finish_call(h);
    vd_qga_call_error(call, VD_QGA_ERROR_GENERIC, "%s: the privileged %s helper failed: %s", verb, h->family, why);
}

static gboolean on_timeout(gpointer user_data)
{
    Helper *h = user_data;
    h->timer = 0;
    helper_fail(h, "no answer within %u s (connection closed)", h->timeout_ms / 1000);
    return G_SOURCE_REMOVE;
}

static void read_more(Helper *h);

/* One complete reply line: pass it on. */
static void deliver(Helper *h, const char *line, gsize len)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    if (!json_parser_load_from_data(parser, line, (gssize) len, &error)) {
        helper_fail(h, "a reply that is not JSON: %s", error->message);
        return;
    }
    JsonNode *root = json_parser_get_root(parser);
    JsonObject *o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonNode *ret = o ? json_object_get_member(o, "return") : NULL;
    JsonNode *err = o ? json_object_get_member(o, "error") : NULL;
    VdQgaCall *call = h->call;
    if (ret) {
        if (h->audit) {
            g_autofree char *text = json_to_string(ret, FALSE);
            g_autofree char *record = g_strdup_printf("done by the %s helper: returned %.200s", h->family, text);
            vd_qga_audit(vd_qga_call_verb(call), "-", record);
        }
        helper_finish_call(h);
        vd_qga_call_return(call, json_node_copy(ret));
        return;
    }
    JsonObject *eo = err && JSON_NODE_HOLDS_OBJECT(err) ? json_node_get_object(err) : NULL;
    const char *cls = eo ? json_object_get_string_member_with_default(eo, "class", NULL) : NULL;
    const char *desc = eo ? json_object_get_string_member_with_default(eo, "desc", NULL) : NULL;
    if (!cls || !desc) {
        helper_fail(h, "a reply without \"return\" or a well-formed \"error\"");
        return;
    }
    if (h->audit) {
        g_autofree char *record = g_strdup_printf("failed in the %s helper: %s", h->family, desc);
        vd_qga_audit(vd_qga_call_verb(call), "-", record);
    }
    g_autofree char *cls_copy = g_strdup(cls);
    g_autofree char *desc_copy = g_strdup(desc);
    helper_finish_call(h);
    vd_qga_call_error(call, cls_copy, "%s", desc_copy);
}

static void on_read(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* dropped: h may be serving another call already */
    Helper *h = user_data;
    if (n < 0) {
        helper_fail(h, "reading: %s", error->message);
        return;
    }
    if (n == 0) {
        helper_fail(h, "it closed the connection");
        return;
    }
    g_byte_array_append(h->in, h->chunk, (guint) n);
    guint8 *nl = memchr(h->in->data, '\n', h->in->len);
    if (!nl) {
        if (h->in->len > VD_QGA_HELPER_MAX_REPLY)
            helper_fail(h, "a reply over %d bytes", VD_QGA_HELPER_MAX_REPLY);
        else
            read_more(h);
        return;
    }
    gsize len = (gsize) (nl - h->in->data);
    if (len > VD_QGA_HELPER_MAX_REPLY) { /* the newline came in the same read as the excess */
        helper_fail(h, "a reply over %d bytes", VD_QGA_HELPER_MAX_REPLY);
        return;
    }
    if (len + 1 != h->in->len) {
        helper_fail(h, "more than one reply to one request");
        return;
    }
    g_autofree char *line = g_strndup((const char *) h->in->data, len);
    g_byte_array_set_size(h->in, 0);
    deliver(h, line, len);
}

static void read_more(Helper *h)
{
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(h->conn)), h->chunk, sizeof(h->chunk),
                              G_PRIORITY_DEFAULT, h->io, on_read, h);
}

static void on_written(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error)) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            helper_fail(user_data, "writing: %s", error->message);
        return;
    }
}

static void send_request(Helper *h)
{
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(h->conn));
    g_output_stream_write_all_async(out, h->request, strlen(h->request), G_PRIORITY_DEFAULT, h->io, on_written, h);
    read_more(h);
}

static void on_connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    GSocketConnection *conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    Helper *h = user_data;
    if (!conn) {
        g_autofree char *path = helper_path(h);
        helper_fail(h, "cannot connect to %s (is vdagentd-qga-%s.socket enabled?): %s", path, h->family,
                    error->message);
        return;
    }
    h->conn = conn;
    send_request(h);
}

void vd_qga_helper_forward(VdQgaCall *call, JsonObject *args, const char *family, guint timeout_ms, bool audit)
{
    Helper *h = helper_get(family);
    g_assert(!h->call);
    g_autoptr(JsonObject) req = json_object_new();
    json_object_set_string_member(req, "execute", vd_qga_call_verb(call));
    json_object_set_object_member(req, "arguments", json_object_ref(args));
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(node, req);
    g_autofree char *text = json_to_string(node, FALSE);

    h->call = call;
    h->request = g_strdup_printf("%s\n", text);
    h->timeout_ms = scaled_timeout_ms(timeout_ms);
    h->audit = audit;
    h->timer = g_timeout_add(h->timeout_ms, on_timeout, h);
    if (!h->in)
        h->in = g_byte_array_new();
    if (h->conn) {
        send_request(h);
        return;
    }
    h->io = g_cancellable_new();
    g_autofree char *path = helper_path(h);
    g_autoptr(GSocketAddress) address = g_unix_socket_address_new(path);
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_socket_client_connect_async(client, G_SOCKET_CONNECTABLE(address), h->io, on_connected, h);
}

void vd_qga_helpers_close(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(helpers); i++) {
        helper_drop(&helpers[i]);
        if (helpers[i].in)
            g_byte_array_unref(g_steal_pointer(&helpers[i].in));
    }
}

/* Which helper serves which verb. audit: the verb changes the system. */
static const struct {
    const char *verb, *family;
    guint timeout_ms;
    bool audit;
} routes[] = {
    {"guest-get-fsinfo", "fs", VD_QGA_HELPER_TIMEOUT_MS, false},
    {"guest-fsfreeze-status", "fs", VD_QGA_HELPER_TIMEOUT_MS, false},
    {"guest-fsfreeze-freeze", "fs", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-fsfreeze-freeze-list", "fs", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-fsfreeze-thaw", "fs", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-fstrim", "fs", VD_QGA_HELPER_SLOW_TIMEOUT_MS, true},
    {"guest-set-time", "time", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-set-vcpus", "hotplug", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-set-memory-blocks", "hotplug", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-set-user-password", "account", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-ssh-get-authorized-keys", "account", VD_QGA_HELPER_TIMEOUT_MS, false},
    {"guest-ssh-add-authorized-keys", "account", VD_QGA_HELPER_TIMEOUT_MS, true},
    {"guest-ssh-remove-authorized-keys", "account", VD_QGA_HELPER_TIMEOUT_MS, true},
};

void vd_qga_cmd_privileged(VdQgaCall *call, JsonObject *args)
{
    const char *verb = vd_qga_call_verb(call);
    for (gsize i = 0; i < G_N_ELEMENTS(routes); i++) {
        if (g_str_equal(routes[i].verb, verb)) {
            vd_qga_helper_forward(call, args, routes[i].family, routes[i].timeout_ms, routes[i].audit);
            return;
        }
    }
    g_assert_not_reached();
}
