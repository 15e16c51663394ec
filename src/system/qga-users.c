/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-users.c — guest-get-users from utmp, as qemu-ga answers it: the USER_PROCESS records, one
 * entry per user name with its earliest login time (seconds since the epoch, a float). Used when
 * logind cannot answer (no system bus, or nobody owns org.freedesktop.login1). */
#include "qga-verbs.h"

#include <string.h>
#include <utmpx.h>

JsonNode *vd_qga_users_from_utmp(const char *path, GError **error)
{
    /* getutxent() keeps static state: this runs in one worker at a time (requests are serial). */
    if (path && utmpxname(path) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot use utmp file %s", path);
        return NULL;
    }
    setutxent();
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(double));
    guint records = 0;
    for (struct utmpx *u = getutxent(); u; u = getutxent()) {
        if (++records > VD_QGA_MAX_UTMP_ENTRIES) {
            g_warning("guest-get-users: reading the first %d utmp records only", VD_QGA_MAX_UTMP_ENTRIES);
            break;
        }
        if (u->ut_type != USER_PROCESS)
            continue;
        g_autofree char *name = g_strndup(u->ut_user, sizeof(u->ut_user));
        if (!*name || !g_utf8_validate(name, -1, NULL))
            continue;
        double t = (double) u->ut_tv.tv_sec + (double) u->ut_tv.tv_usec / G_USEC_PER_SEC;
        guint i;
        for (i = 0; i < names->len; i++) {
            if (g_str_equal(g_ptr_array_index(names, i), name))
                break;
        }
        if (i < names->len) {
            if (t < g_array_index(times, double, i))
                g_array_index(times, double, i) = t;
        } else if (names->len < VD_QGA_MAX_USERS) {
            g_ptr_array_add(names, g_steal_pointer(&name));
            g_array_append_val(times, t);
        }
    }
    endutxent();
    if (path)
        utmpxname(_PATH_UTMPX);
    JsonArray *result = json_array_new();
    for (guint i = 0; i < names->len; i++) {
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "user", g_ptr_array_index(names, i));
        json_object_set_double_member(o, "login-time", g_array_index(times, double, i));
        json_array_add_object_element(result, o);
    }
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, result);
    return node;
}
