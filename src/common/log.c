/* SPDX-License-Identifier: GPL-3.0-or-later */
/* log.c — GLib structured logging for our programs: the journal's native protocol when stderr is
 * connected to it (systemd sets JOURNAL_STREAM), else one plain line per record on stderr. */
#include "log.h"

#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

static const char *log_program = "vdagent";
static int log_debug_level;
static bool log_to_journal;
static bool log_to_syslog;

bool vd_log_debug_enabled(void)
{
    return log_debug_level > 0;
}

static const char *level_name(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return "error";
    if (level & G_LOG_LEVEL_CRITICAL)
        return "critical";
    if (level & G_LOG_LEVEL_WARNING)
        return "warning";
    if (level & G_LOG_LEVEL_MESSAGE)
        return NULL; /* the normal case needs no prefix */
    if (level & G_LOG_LEVEL_INFO)
        return "info";
    return "debug";
}

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                   gpointer user_data)
{
    if ((level & G_LOG_LEVEL_DEBUG) && log_debug_level == 0)
        return G_LOG_WRITER_HANDLED;
    if (log_to_journal && g_log_writer_journald(level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;

    const char *message = NULL;
    for (gsize i = 0; i < n_fields; i++) {
        if (g_strcmp0(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0) {
            message = fields[i].value;
            break;
        }
    }
    if (log_to_syslog) {
        int priority = (level & G_LOG_LEVEL_ERROR)      ? LOG_ERR
                       : (level & G_LOG_LEVEL_CRITICAL) ? LOG_CRIT
                       : (level & G_LOG_LEVEL_WARNING)  ? LOG_WARNING
                       : (level & G_LOG_LEVEL_MESSAGE)  ? LOG_NOTICE
                       : (level & G_LOG_LEVEL_INFO)     ? LOG_INFO
                                                        : LOG_DEBUG;
        syslog(priority, "%s", message ? message : "(no message)");
        return G_LOG_WRITER_HANDLED;
    }
    const char *name = level_name(level);
    /* One fprintf per record so that lines of concurrent writers do not interleave. */
    if (name)
        fprintf(stderr, "%s: %s: %s\n", log_program, name, message ? message : "(no message)");
    else
        fprintf(stderr, "%s: %s\n", log_program, message ? message : "(no message)");
    fflush(stderr);
    return G_LOG_WRITER_HANDLED;
}

void vd_log_init(const char *program, int debug_level)
{
    log_program = program;
    log_debug_level = debug_level < 0 ? 0 : debug_level;
    log_to_journal = g_log_writer_is_journald(STDERR_FILENO);
    if (log_debug_level > 0)
        g_log_set_debug_enabled(TRUE);
    g_log_set_writer_func(log_writer, NULL, NULL);
}

void vd_log_detached(void)
{
    /* g_log_writer_journald() sends to this socket whatever stderr is. */
    log_to_journal = access("/run/systemd/journal/socket", W_OK) == 0;
    if (!log_to_journal) {
        openlog(log_program, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_to_syslog = true;
    }
}
