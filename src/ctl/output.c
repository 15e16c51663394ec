/* SPDX-License-Identifier: GPL-3.0-or-later */
/* output.c — plain and JSON rendering for vdagent-ctl. */
#include "output.h"

#include "session-proto.h"

#include <string.h>
#include <time.h>

void vd_ctl_print_json(FILE *out, JsonNode *node)
{
    g_return_if_fail(out && node);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, node);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    fprintf(out, "%s\n", text);
}

/* A scalar, an array of scalars or a small object as one line of text. */
static char *node_to_text(JsonNode *node)
{
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_NULL:
        return g_strdup("-");
    case JSON_NODE_VALUE: {
        GType t = json_node_get_value_type(node);
        if (t == G_TYPE_BOOLEAN)
            return g_strdup(json_node_get_boolean(node) ? "yes" : "no");
        if (t == G_TYPE_INT64)
            return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
        if (t == G_TYPE_DOUBLE)
            return g_strdup_printf("%.3f", json_node_get_double(node));
        const char *s = json_node_get_string(node);
        return g_strdup(s && *s ? s : "-");
    }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(node);
        if (json_array_get_length(a) == 0)
            return g_strdup("none");
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            g_autofree char *item = node_to_text(json_array_get_element(a, i));
            g_string_append_printf(s, "%s%s", i ? " " : "", item);
        }
        return g_string_free(s, FALSE);
    }
    case JSON_NODE_OBJECT: {
        JsonObject *o = json_node_get_object(node);
        if (json_object_get_size(o) == 0)
            return g_strdup("none");
        g_autoptr(GList) members = json_object_get_members(o);
        GString *s = g_string_new(NULL);
        for (GList *l = members; l; l = l->next) {
            g_autofree char *v = node_to_text(json_object_get_member(o, l->data));
            g_string_append_printf(s, "%s%s=%s", s->len ? " " : "", (const char *)l->data, v);
        }
        return g_string_free(s, FALSE);
    }
    }
    return g_strdup("?");
}

/* "since" members are times (seconds since the epoch), "uptime" a duration: shown for people. */
static char *member_to_text(const char *name, JsonNode *node)
{
    bool number = JSON_NODE_HOLDS_VALUE(node) && (json_node_get_value_type(node) == G_TYPE_DOUBLE ||
                                                      json_node_get_value_type(node) == G_TYPE_INT64);
    if (number && g_str_equal(name, "since")) {
        double t = json_node_get_double(node);
        g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local((gint64)t);
        if (!dt)
            return node_to_text(node);
        g_autofree char *when = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
        double ago = (double)g_get_real_time() / 1e6 - t;
        return ago >= 0 ? g_strdup_printf("%s (%.0f s ago)", when, ago) : g_strdup(when);
    }
    if (number && g_str_equal(name, "uptime")) {
        guint64 secs = (guint64)MAX(json_node_get_double(node), 0.0);
        if (secs < 60)
            return g_strdup_printf("%.1f s", json_node_get_double(node));
        if (secs < 3600)
            return g_strdup_printf("%" G_GUINT64_FORMAT " min %02" G_GUINT64_FORMAT " s", secs / 60, secs % 60);
        return g_strdup_printf("%" G_GUINT64_FORMAT " h %02" G_GUINT64_FORMAT " min", secs / 3600, secs / 60 % 60);
    }
    return node_to_text(node);
}

static bool is_flat_object(JsonNode *node)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return false;
    JsonObject *o = json_node_get_object(node);
    g_autoptr(GList) members = json_object_get_members(o);
    for (GList *l = members; l; l = l->next) {
        JsonNode *v = json_object_get_member(o, l->data);
        if (JSON_NODE_HOLDS_OBJECT(v) || JSON_NODE_HOLDS_ARRAY(v))
            return false;
    }
    return true;
}

static guint object_size(JsonNode *node)
{
    return JSON_NODE_HOLDS_OBJECT(node) ? json_object_get_size(json_node_get_object(node)) : 0;
}

/* An object whose members are all flat objects with the same members (counters keyed by message
 * type: {messages, bytes}): a table, one row per member, its name in the first column. Objects
 * with different members (the counters' directions and error kinds, before any traffic) are not
 * one table: that made a 15-column table of dashes. */
static bool is_keyed_table(JsonNode *node)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return false;
    JsonObject *o = json_node_get_object(node);
    g_autoptr(GList) members = json_object_get_members(o);
    JsonObject *first = NULL;
    for (GList *l = members; l; l = l->next) {
        JsonNode *v = json_object_get_member(o, l->data);
        if (!is_flat_object(v) || object_size(v) == 0)
            return false;
        JsonObject *row = json_node_get_object(v);
        if (!first) {
            first = row;
            continue;
        }
        if (json_object_get_size(row) != json_object_get_size(first))
            return false;
        g_autoptr(GList) names = json_object_get_members(row);
        for (GList *n = names; n; n = n->next)
            if (!json_object_has_member(first, n->data))
                return false;
    }
    return members != NULL;
}

static bool is_table(JsonNode *node)
{
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return false;
    JsonArray *a = json_node_get_array(node);
    for (guint i = 0; i < json_array_get_length(a); i++)
        if (!JSON_NODE_HOLDS_OBJECT(json_array_get_element(a, i)))
            return false;
    return json_array_get_length(a) > 0;
}

/* rows: flat objects; names: when not NULL, the first column (titled key_title) of each row. */
static void print_rows(FILE *out, JsonObject **rows, const char **names, guint n_rows, const char *key_title,
                       int indent)
{
    g_autoptr(GPtrArray) columns = g_ptr_array_new();
    for (guint r = 0; r < n_rows; r++) {
        g_autoptr(GList) members = json_object_get_members(rows[r]);
        for (GList *l = members; l; l = l->next)
            if (!g_ptr_array_find_with_equal_func(columns, l->data, g_str_equal, NULL))
                g_ptr_array_add(columns, l->data);
    }
    guint n_cols = columns->len + (names ? 1 : 0);
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    g_autofree size_t *width = g_new0(size_t, n_cols);
    for (guint c = 0; c < n_cols; c++)
        g_ptr_array_add(cells, g_ascii_strup(names && c == 0 ? key_title : columns->pdata[c - (names ? 1 : 0)], -1));
    for (guint r = 0; r < n_rows; r++) {
        for (guint c = 0; c < n_cols; c++) {
            if (names && c == 0) {
                g_ptr_array_add(cells, g_strdup(names[r]));
                continue;
            }
            const char *name = columns->pdata[c - (names ? 1 : 0)];
            JsonNode *v = json_object_get_member(rows[r], name);
            g_ptr_array_add(cells, v ? member_to_text(name, v) : g_strdup("-"));
        }
    }
    for (guint i = 0; i < cells->len; i++)
        width[i % n_cols] = MAX(width[i % n_cols], (size_t)g_utf8_strlen(cells->pdata[i], -1));
    for (guint r = 0; r <= n_rows; r++) {
        fprintf(out, "%*s", indent, "");
        for (guint c = 0; c < n_cols; c++) {
            const char *text = cells->pdata[r * n_cols + c];
            int pad = c + 1 < n_cols ? (int)(width[c] - (size_t)g_utf8_strlen(text, -1)) : 0;
            fprintf(out, "%s%*s%s", text, pad, "", c + 1 < n_cols ? "  " : "\n");
        }
    }
}

static void print_table(FILE *out, JsonArray *array, int indent)
{
    guint n = json_array_get_length(array);
    g_autofree JsonObject **rows = g_new0(JsonObject *, n + 1);
    for (guint i = 0; i < n; i++)
        rows[i] = json_array_get_object_element(array, i);
    print_rows(out, rows, NULL, n, NULL, indent);
}

static void print_keyed_table(FILE *out, JsonObject *obj, const char *key_title, int indent)
{
    g_autoptr(GList) members = json_object_get_members(obj);
    guint n = g_list_length(members), i = 0;
    g_autofree JsonObject **rows = g_new0(JsonObject *, n + 1);
    g_autofree const char **names = g_new0(const char *, n + 1);
    for (GList *l = members; l; l = l->next, i++) {
        names[i] = l->data;
        rows[i] = json_object_get_object_member(obj, l->data);
    }
    print_rows(out, rows, names, n, key_title, indent);
}

/* Long word lists (capabilities) wrap under their first word. */
#define PLAIN_WIDTH 100

static void print_value(FILE *out, const char *text, size_t column)
{
    size_t pos = column;
    const char *p = text;
    while (*p) {
        const char *space = strchr(p, ' ');
        size_t word = space ? (size_t)(space - p) : strlen(p);
        if (p != text && pos + 1 + word > PLAIN_WIDTH) {
            fprintf(out, "\n%*s", (int)column, "");
            pos = column;
        } else if (p != text) {
            fputc(' ', out);
            pos++;
        }
        fwrite(p, 1, word, out);
        pos += word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

/* An empty object is a scalar line, "none", not an empty section. */
static bool is_section(JsonNode *v)
{
    return (JSON_NODE_HOLDS_OBJECT(v) && object_size(v) > 0) || is_table(v);
}

static void print_object(FILE *out, JsonObject *obj, int indent)
{
    g_autoptr(GList) members = json_object_get_members(obj);
    size_t key_width = 0;
    for (GList *l = members; l; l = l->next)
        if (!is_section(json_object_get_member(obj, l->data)))
            key_width = MAX(key_width, strlen(l->data));
    /* Scalars first, aligned; then sub-sections and tables. */
    for (GList *l = members; l; l = l->next) {
        JsonNode *v = json_object_get_member(obj, l->data);
        if (is_section(v))
            continue;
        g_autofree char *text = member_to_text(l->data, v);
        fprintf(out, "%*s%-*s  ", indent, "", (int)key_width, (const char *)l->data);
        print_value(out, text, (size_t)indent + key_width + 2);
    }
    for (GList *l = members; l; l = l->next) {
        JsonNode *v = json_object_get_member(obj, l->data);
        if (!is_section(v))
            continue;
        fprintf(out, "%s%*s%s:\n", indent == 0 ? "\n" : "", indent, "", (const char *)l->data);
        if (is_keyed_table(v))
            /* Counters per direction are keyed by message type. */
            print_keyed_table(out, json_node_get_object(v), strstr(l->data, "_to_") ? "type" : "name", indent + 2);
        else if (JSON_NODE_HOLDS_OBJECT(v))
            print_object(out, json_node_get_object(v), indent + 2);
        else
            print_table(out, json_node_get_array(v), indent + 2);
    }
}

void vd_ctl_print_plain(FILE *out, JsonNode *node)
{
    g_return_if_fail(out && node);
    if (JSON_NODE_HOLDS_OBJECT(node))
        print_object(out, json_node_get_object(node), 0);
    else if (is_table(node))
        print_table(out, json_node_get_array(node), 0);
    else {
        g_autofree char *text = node_to_text(node);
        fprintf(out, "%s\n", text);
    }
}

static void print_hex(FILE *out, const uint8_t *p, uint32_t n)
{
    for (uint32_t off = 0; off < n; off += 16) {
        fprintf(out, "    %04x ", off);
        for (uint32_t i = 0; i < 16; i++) {
            if (off + i < n)
                fprintf(out, " %02x", p[off + i]);
            else
                fputs("   ", out);
        }
        fputs("  ", out);
        for (uint32_t i = 0; i < 16 && off + i < n; i++)
            fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', out);
        fputc('\n', out);
    }
}

static const char *direction_label(uint32_t direction)
{
    switch (direction) {
    case VD_TRACE_HOST_TO_GUEST: return "host→guest";
    case VD_TRACE_GUEST_TO_HOST: return "guest→host";
    case VD_TRACE_TO_AGENT: return "to-agent";
    case VD_TRACE_FROM_AGENT: return "from-agent";
    }
    return "?";
}

void vd_ctl_print_trace(FILE *out, const VdTrace *t, bool json)
{
    g_return_if_fail(out && t);
    bool host = t->direction == VD_TRACE_HOST_TO_GUEST || t->direction == VD_TRACE_GUEST_TO_HOST;
    const char *type_name = host ? vd_msg_type_to_string(t->type) : vd_session_msg_type_to_string(t->type);
    if (json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "time_us");
        json_builder_add_int_value(b, (gint64)t->time_us);
        json_builder_set_member_name(b, "direction");
        json_builder_add_string_value(b, vd_trace_direction_to_string(t->direction));
        json_builder_set_member_name(b, "port");
        json_builder_add_int_value(b, t->port);
        json_builder_set_member_name(b, "peer");
        json_builder_add_string_value(b, t->peer ? t->peer : "");
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, type_name);
        json_builder_set_member_name(b, "size");
        json_builder_add_int_value(b, (gint64)t->size);
        json_builder_set_member_name(b, "summary");
        json_builder_add_string_value(b, t->summary ? t->summary : "");
        if (t->n_bytes) {
            g_autofree char *hex = g_malloc(t->n_bytes * 2 + 1);
            for (uint32_t i = 0; i < t->n_bytes; i++)
                g_snprintf(hex + 2 * i, 3, "%02x", t->bytes[i]);
            json_builder_set_member_name(b, "bytes");
            json_builder_add_string_value(b, hex);
        }
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        g_autoptr(JsonGenerator) gen = json_generator_new();
        json_generator_set_root(gen, root);
        g_autofree char *text = json_generator_to_data(gen, NULL);
        fprintf(out, "%s\n", text);
    } else {
        time_t secs = (time_t)(t->time_us / 1000000);
        struct tm tm;
        localtime_r(&secs, &tm);
        char when[16];
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
        g_autofree char *where = host ? g_strdup_printf("port %u", t->port)
                                      : g_strdup_printf("session %s", t->peer && *t->peer ? t->peer : "?");
        /* The arrow is one column but three bytes: pad by hand. */
        const char *dir = direction_label(t->direction);
        int dir_pad = 11 - (int)g_utf8_strlen(dir, -1);
        fprintf(out, "%s.%06u %s%*s %-14s %-22s %8" G_GUINT64_FORMAT " B  %s\n", when,
                (unsigned)(t->time_us % 1000000), dir, MAX(dir_pad, 0), "", where, type_name, t->size,
                t->summary ? t->summary : "");
        if (t->n_bytes)
            print_hex(out, t->bytes, t->n_bytes);
    }
    fflush(out);
}
