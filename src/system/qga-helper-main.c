/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-helper-main.c — vdagentd-qga-helper FAMILY: serves one family of privileged QGA verbs to the
 * daemon over its stdin/stdout (a socket-activated connection, see qga-helper.h), one request per
 * line, until the connection closes; then it undoes what must not outlive the daemon (a freeze). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "qga-privileged.h"
#include "qga-verbs.h"

typedef JsonNode *(*HelperFunc)(JsonObject *args, GError **error);

static const struct {
    const char *family, *verb;
    HelperFunc func;
} verbs[] = {
    {"fs", "guest-get-fsinfo", vd_qga_get_fsinfo},
    {"fs", "guest-fsfreeze-status", vd_qga_fsfreeze_status},
    {"fs", "guest-fsfreeze-freeze", vd_qga_fsfreeze_freeze},
    {"fs", "guest-fsfreeze-freeze-list", vd_qga_fsfreeze_freeze_list},
    {"fs", "guest-fsfreeze-thaw", vd_qga_fsfreeze_thaw},
    {"fs", "guest-fstrim", vd_qga_fstrim},
    {"time", "guest-set-time", vd_qga_set_time},
    {"hotplug", "guest-set-vcpus", vd_qga_set_vcpus},
    {"hotplug", "guest-set-memory-blocks", vd_qga_set_memory_blocks},
    {"account", "guest-set-user-password", vd_qga_set_user_password},
    {"account", "guest-ssh-get-authorized-keys", vd_qga_ssh_get_authorized_keys},
    {"account", "guest-ssh-add-authorized-keys", vd_qga_ssh_add_authorized_keys},
    {"account", "guest-ssh-remove-authorized-keys", vd_qga_ssh_remove_authorized_keys},
};

static const char *family;
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    stopping = sig;
}

static char *serve(const char *line, gsize len)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonObject) reply = json_object_new();
    JsonObject *req = NULL;
    if (json_parser_load_from_data(parser, line, (gssize) len, &error)) {
        JsonNode *root = json_parser_get_root(parser);
        req = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    }
    const char *verb = req ? json_object_get_string_member_with_default(req, "execute", NULL) : NULL;
    JsonNode *args_node = req ? json_object_get_member(req, "arguments") : NULL;
    JsonObject *args = args_node && JSON_NODE_HOLDS_OBJECT(args_node) ? json_node_get_object(args_node) : NULL;
    HelperFunc func = NULL;
    for (gsize i = 0; verb && i < G_N_ELEMENTS(verbs) && !func; i++) {
        if (g_str_equal(verbs[i].family, family) && g_str_equal(verbs[i].verb, verb))
            func = verbs[i].func;
    }
    JsonNode *value = NULL;
    g_clear_error(&error);
    if (!verb || !args) {
        g_warning("a request that is not {\"execute\": VERB, \"arguments\": {…}}: ignored");
        g_set_error(&error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "malformed request to the %s helper", family);
    } else if (!func) {
        g_autofree char *quoted = g_strescape(verb, NULL);
        g_warning("\"%s\" is not a verb of family %s", quoted, family);
        g_set_error(&error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_COMMAND_NOT_FOUND, "The command %s has not been found",
                    quoted);
    } else {
        value = func(args, &error);
    }
    if (value) {
        json_object_set_member(reply, "return", value);
    } else {
        JsonObject *e = json_object_new();
        json_object_set_string_member(e, "class", error->code == VD_QGA_ERROR_CODE_COMMAND_NOT_FOUND
                                                      ? VD_QGA_ERROR_COMMAND_NOT_FOUND
                                                      : VD_QGA_ERROR_GENERIC);
        json_object_set_string_member(e, "desc", error->message);
        json_object_set_object_member(reply, "error", e);
    }
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(node, reply);
    g_autofree char *text = json_to_string(node, FALSE);
    return g_strdup_printf("%s\n", text);
}

static gboolean write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        data += n;
        len -= (gsize) n;
    }
    return TRUE;
}

static void cleanup(void)
{
    if (g_str_equal(family, "fs"))
        vd_qga_fs_cleanup();
}

int main(int argc, char **argv)
{
    g_autofree char *hook_dir = NULL, *only_under = NULL, *rtc = NULL, *root = NULL;
    int freeze_timeout = 0, hook_timeout = 0, debug = 0;
    gboolean debug_flag = FALSE;
    GOptionEntry entries[] = {
        {"hook-dir", 0, 0, G_OPTION_ARG_FILENAME, &hook_dir, "fsfreeze hooks (default " VD_QGA_FSFREEZE_HOOK_DIR ")",
         "DIR"},
        {"freeze-timeout", 0, 0, G_OPTION_ARG_INT, &freeze_timeout, "Thaw after this long frozen", "SECONDS"},
        {"hook-timeout", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &hook_timeout,
         "Test hook: kill an fsfreeze hook after this long (at most the default)", "SECONDS"},
        {"only-under", 0, 0, G_OPTION_ARG_FILENAME, &only_under, "Test hook: only mounts below DIR", "DIR"},
        {"rtc", 0, 0, G_OPTION_ARG_FILENAME, &rtc, "The RTC device (default " VD_QGA_RTC_DEVICE ")", "PATH"},
        {"root", 0, 0, G_OPTION_ARG_FILENAME, &root, "Test hook: passwd, shadow and homes below DIR", "DIR"},
        {"debug", 'd', 0, G_OPTION_ARG_NONE, &debug_flag, "Debug messages", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new("FAMILY - privileged QGA verbs for vdagentd");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error) || argc != 2) {
        fprintf(stderr, "vdagentd-qga-helper: %s\n", error ? error->message : "expected one FAMILY argument");
        return 2;
    }
    debug = debug_flag ? 1 : 0;
    vd_log_init("vdagentd-qga-helper", debug);
    family = argv[1];
    if (g_str_equal(family, "fs")) {
        if (freeze_timeout < 0 || freeze_timeout > 24 * 3600) {
            g_printerr("vdagentd-qga-helper: --freeze-timeout: 1 to 86400 seconds\n");
            return 2;
        }
        if (hook_timeout < 0 || hook_timeout > VD_QGA_HOOK_TIMEOUT_S) {
            g_printerr("vdagentd-qga-helper: --hook-timeout: 1 to %d seconds\n", VD_QGA_HOOK_TIMEOUT_S);
            return 2;
        }
        VdQgaFsOptions fs = {hook_dir, only_under, (guint) freeze_timeout, (guint) hook_timeout};
        vd_qga_fs_init(&fs);
    } else if (g_str_equal(family, "time")) {
        vd_qga_time_init(rtc);
    } else if (g_str_equal(family, "account")) {
        vd_qga_account_init(root);
    } else if (!g_str_equal(family, "hotplug")) {
        g_autofree char *quoted = g_strescape(family, NULL);
        g_printerr("vdagentd-qga-helper: unknown family \"%s\"\n", quoted);
        return 2;
    }

    /* Stopped by the service manager: thaw first (no SA_RESTART: poll() returns EINTR). */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    g_autoptr(GByteArray) in = g_byte_array_new();
    while (!stopping) {
        int timeout = g_str_equal(family, "fs") ? vd_qga_fs_timeout_ms() : -1;
        struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        int r = poll(&pfd, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && timeout >= 0) {
            vd_qga_fs_expire();
            continue;
        }
        guint8 chunk[4096];
        ssize_t n = r < 0 ? -1 : read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                g_warning("reading the daemon's requests: %s", g_strerror(errno));
            break;
        }
        g_byte_array_append(in, chunk, (guint) n);
        guint8 *nl;
        while ((nl = memchr(in->data, '\n', in->len))) {
            gsize len = (gsize) (nl - in->data);
            g_autofree char *reply = serve((const char *) in->data, len);
            g_byte_array_remove_range(in, 0, (guint) len + 1);
            if (!write_all(STDOUT_FILENO, reply, strlen(reply))) {
                g_warning("writing to the daemon: %s", g_strerror(errno));
                cleanup();
                return 1;
            }
        }
        if (in->len > VD_QGA_HELPER_MAX_REQUEST) {
            g_warning("a request over %d bytes: closing", VD_QGA_HELPER_MAX_REQUEST);
            cleanup();
            return 1;
        }
    }
    if (stopping)
        g_message("stopping on signal %d", (int) stopping);
    cleanup();
    return 0;
}
