/* SPDX-License-Identifier: GPL-3.0-or-later */
/* verdict.h — the first line of `vdagent-ctl status`: does the clipboard work, and if not, the
 * first reason why, read from the daemon's status document (docs/vdagent-ctl.md). */
#pragma once

#include <json-glib/json-glib.h>

/* "clipboard: working: …" or "clipboard: unavailable: …", one line without a newline. The checks
 * go from the host towards the session: the port, the host's capabilities, the host's client,
 * the active session, its agent, the agent's clipboard. */
char *vd_ctl_clipboard_verdict(JsonObject *status);
