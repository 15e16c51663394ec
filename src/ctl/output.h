/* SPDX-License-Identifier: GPL-3.0-or-later */
/* output.h — how vdagent-ctl shows what the daemon sent: aligned plain text for people, JSON for
 * scripts. The plain renderer walks the status document generically (sections for objects, tables
 * for arrays of objects), so a member the daemon adds later still shows up. */
#pragma once

#include <stdbool.h>

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "control-proto.h"

/* Pretty JSON of node, with a trailing newline. */
void vd_ctl_print_json(FILE *out, JsonNode *node);
/* The plain rendering of a status (sub)document. */
void vd_ctl_print_plain(FILE *out, JsonNode *node);
/* One trace record: a line (plus a hex dump when it carries bytes), or one JSON object per line. */
void vd_ctl_print_trace(FILE *out, const VdTrace *trace, bool json);
