/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-driver.c — runs the root daemon's QEMU guest agent module (src/system/qga.c) alone, with the
 * same --qga-* options as vdagentd, so that its tests do not depend on the rest of the daemon.
 * SIGUSR1 prints vd_qga_status() as one JSON line on stdout; SIGTERM/SIGINT stop it. */
#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>

#include "log.h"
#include "qga.h"

static gboolean on_quit(gpointer user_data)
{
    g_main_loop_quit(user_data);
    return G_SOURCE_CONTINUE;
}

static gboolean on_status(gpointer user_data)
{
    VdQga *qga = user_data;
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "qga");
    vd_qga_status(qga, builder);
    json_builder_end_object(builder);
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autofree char *text = json_to_string(root, FALSE);
    printf("%s\n", text);
    fflush(stdout);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    g_autofree char *port = NULL, *allow = NULL, *block = NULL, *config_path = NULL;
    gboolean debug = FALSE;
    GOptionEntry entries[] = {
        {"qga-port", 0, 0, G_OPTION_ARG_FILENAME, &port, "QGA port (device or Unix socket), or none", "PATH"},
        {"allow-rpcs", 0, 0, G_OPTION_ARG_STRING, &allow, "Allowed verbs", "LIST"},
        {"block-rpcs", 0, 0, G_OPTION_ARG_STRING, &block, "Blocked verbs", "LIST"},
        {"qga-config", 0, 0, G_OPTION_ARG_FILENAME, &config_path, "Policy file", "FILE"},
        {"debug", 'd', 0, G_OPTION_ARG_NONE, &debug, "Debug messages", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new("- serve the QEMU guest agent protocol (test driver)");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        fprintf(stderr, "qga-driver: %s\n", error->message);
        return 2;
    }
    vd_log_init("qga-driver", debug ? 1 : 0);

    VdQgaConfig config = {
        .port_path = port,
        .allow_rpcs = allow,
        .block_rpcs = block,
        .config_path = config_path,
    };
    VdQga *qga = vd_qga_new(&config, &error);
    if (!qga) {
        g_printerr("qga-driver: %s\n", error->message);
        return 1;
    }
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    guint term = g_unix_signal_add(SIGTERM, on_quit, loop);
    guint intr = g_unix_signal_add(SIGINT, on_quit, loop);
    guint usr1 = g_unix_signal_add(SIGUSR1, on_status, qga);
    vd_qga_start(qga);
    g_main_loop_run(loop);
    g_source_remove(term);
    g_source_remove(intr);
    g_source_remove(usr1);
    vd_qga_free(qga);
    return 0;
}
