/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c — vdagent-ctl: see and steer the running vdagentd. Command-line parsing and one function per
 * command; the protocol is in client.c, the rendering in output.c. */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "output.h"
#include "verdict.h"

#define DEFAULT_CONTROL "/run/vdagentd/control.sock"
#define REPLY_TIMEOUT_MS 5000
/* clipboard get waits for the session agent, which may wait for an X owner. */
#define CLIPBOARD_TIMEOUT_MS 15000

typedef struct {
    const char *control;
    bool json;
    bool hex;
    int display;
    const char *buttons;
    const char *selection;
    GPtrArray *args; /* positional words: the command and its arguments */
} Options;

static const char usage_text[] =
    "Usage: vdagent-ctl [OPTION…] COMMAND [ARG…]\n"
    "\n"
    "See and steer the running vdagentd (the SPICE/QEMU guest agent's root daemon).\n"
    "\n"
    "Commands:\n"
    "  status                    everything the daemon knows: port, host and capabilities, mouse device\n"
    "                            and layout, sessions and their agents, transfers, QGA, counters\n"
    "  sessions                  the sessions and their agents only\n"
    "  caps                      the capabilities only: ours, the host's, the negotiated set\n"
    "  monitor [--hex]           live decoded trace of every message on the port and to the session\n"
    "                            agents, until interrupted; --hex adds the first bytes of each\n"
    "  mouse X Y [--display N] [--buttons LIST]\n"
    "                            inject a MOUSE_STATE as if the host sent it; LIST is comma-separated\n"
    "                            from left,middle,right,up,down,side,extra\n"
    "  monitors WxH+X+Y…         inject a MONITORS_CONFIG with these monitors (\"off\" disables one)\n"
    "  clipboard set TEXT [--selection clipboard|primary]\n"
    "                            offer TEXT to the guest as if the host's clipboard held it\n"
    "  clipboard get [--selection clipboard|primary]\n"
    "                            print the guest's clipboard text, as the host would receive it\n"
    "\n"
    "Options (before or after the command):\n"
    "  --control PATH            the daemon's control socket (default " DEFAULT_CONTROL ")\n"
    "  --json                    machine-readable output (status, sessions, caps: one document;\n"
    "                            monitor: one object per line), described in vdagent-ctl(1)\n"
    "  --hex                     monitor: add a hex dump of each message's first bytes\n"
    "  --display N               mouse: the display X and Y are on (default 0)\n"
    "  --buttons LIST            mouse: the buttons held (all others are released)\n"
    "  --selection NAME          clipboard: clipboard (default) or primary\n"
    "  -h, --help, -V, --version\n"
    "\n"
    "The control socket is for root only. Exit status: 0 success, 1 the daemon refused or failed,\n"
    "2 usage, 3 daemon not running, 4 permission denied, 5 protocol version mismatch,\n"
    "6 protocol error, 7 timeout.\n";

static int fail(GError *error)
{
    fprintf(stderr, "vdagent-ctl: %s\n", error->message);
    return error->domain == VD_CTL_ERROR ? error->code : VD_CTL_ERROR_FAILED;
}

G_GNUC_PRINTF(1, 2) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vdagent-ctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'vdagent-ctl --help' for more information.\n", stderr);
    return VD_CTL_ERROR_USAGE;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *ret)
{
    guint64 v;
    if (!g_ascii_string_to_unsigned(s, 10, 0, max, &v, NULL))
        return false;
    *ret = (uint32_t)v;
    return true;
}

static int parse_selection(const char *name)
{
    if (!name || g_str_equal(name, "clipboard"))
        return VD_SELECTION_CLIPBOARD;
    if (g_str_equal(name, "primary"))
        return VD_SELECTION_PRIMARY;
    return -1;
}

static int cmd_status(VdCtlClient *client, const Options *o, const char *section)
{
    g_autoptr(GError) error = NULL;
    VdControlMsg req = { .type = VD_C_STATUS };
    if (!vd_ctl_client_send(client, &req, &error))
        return fail(error);
    VdControlMsg reply = { 0 };
    if (!vd_ctl_client_recv(client, &reply, REPLY_TIMEOUT_MS, &error))
        return fail(error);
    if (reply.type == VD_C_RESULT && reply.u.result.code != 0) {
        fprintf(stderr, "vdagent-ctl: %s (%s)\n", reply.u.result.message ? reply.u.result.message : "failed",
                vd_ipc_error_code_to_string(reply.u.result.code));
        vd_control_msg_clear(&reply);
        return VD_CTL_ERROR_FAILED;
    }
    if (reply.type != VD_C_STATUS_REPLY) {
        fprintf(stderr, "vdagent-ctl: unexpected %s reply\n", vd_control_msg_type_to_string(reply.type));
        vd_control_msg_clear(&reply);
        return VD_CTL_ERROR_PROTOCOL;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    bool ok = json_parser_load_from_data(parser, reply.u.status.json, -1, &error);
    vd_control_msg_clear(&reply);
    if (!ok || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        fprintf(stderr, "vdagent-ctl: the daemon's status is not a JSON object: %s\n",
                error ? error->message : "wrong type");
        return VD_CTL_ERROR_PROTOCOL;
    }
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));

    g_autoptr(JsonNode) shown = NULL;
    if (!section) {
        shown = json_node_copy(json_parser_get_root(parser));
    } else {
        /* A part of the document: the named members, in this order. */
        const char *sessions[] = { "session_tracking", "sessions", "agents", NULL };
        const char *caps[] = { "caps", NULL };
        const char **names = g_str_equal(section, "sessions") ? sessions : caps;
        g_autoptr(JsonObject) part = json_object_new();
        for (const char **n = names; *n; n++)
            if (json_object_has_member(root, *n))
                json_object_set_member(part, *n, json_node_copy(json_object_get_member(root, *n)));
        shown = json_node_init_object(json_node_alloc(), part);
    }
    if (o->json) {
        vd_ctl_print_json(stdout, shown);
    } else {
        if (!section) {
            /* "Why doesn't my clipboard work?" answered first. */
            g_autofree char *verdict = vd_ctl_clipboard_verdict(root);
            printf("%s\n\n", verdict);
        }
        vd_ctl_print_plain(stdout, shown);
    }
    return 0;
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = sig;
}

static int cmd_monitor(VdCtlClient *client, const Options *o)
{
    g_autoptr(GError) error = NULL;
    VdControlMsg req = { .type = VD_C_MONITOR };
    req.u.monitor.with_bytes = o->hex;
    if (!vd_ctl_client_call(client, &req, REPLY_TIMEOUT_MS, &error))
        return fail(error);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!o->json)
        fprintf(stderr, "vdagent-ctl: tracing; interrupt to stop\n");
    while (!interrupted) {
        VdControlMsg msg = { 0 };
        if (!vd_ctl_client_recv(client, &msg, 500, &error)) {
            if (g_error_matches(error, VD_CTL_ERROR, VD_CTL_ERROR_TIMEOUT)) {
                g_clear_error(&error);
                continue;
            }
            return fail(error);
        }
        if (msg.type == VD_C_TRACE)
            vd_ctl_print_trace(stdout, &msg.u.trace, o->json);
        vd_control_msg_clear(&msg);
    }
    return 0;
}

static int parse_mouse(const Options *o, VdControlMsg *req)
{
    if (o->args->len != 3)
        return usage_error("%s", "mouse takes X and Y");
    *req = (VdControlMsg){ .type = VD_C_INJECT_MOUSE };
    if (!parse_u32(o->args->pdata[1], INT32_MAX, &req->u.mouse.x) ||
        !parse_u32(o->args->pdata[2], INT32_MAX, &req->u.mouse.y))
        return usage_error("%s", "X and Y must be non-negative integers");
    req->u.mouse.display_id = (uint8_t)o->display;
    if (o->buttons && *o->buttons) {
        static const struct { const char *name; uint32_t mask; } names[] = {
            { "left", VD_BUTTON_LEFT }, { "middle", VD_BUTTON_MIDDLE }, { "right", VD_BUTTON_RIGHT },
            { "up", VD_BUTTON_WHEEL_UP }, { "down", VD_BUTTON_WHEEL_DOWN }, { "side", VD_BUTTON_SIDE },
            { "extra", VD_BUTTON_EXTRA },
        };
        g_auto(GStrv) words = g_strsplit(o->buttons, ",", -1);
        for (char **w = words; *w; w++) {
            bool found = false;
            for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
                if (g_str_equal(*w, names[i].name)) {
                    req->u.mouse.buttons |= names[i].mask;
                    found = true;
                }
            if (!found)
                return usage_error("unknown button \"%s\" (left, middle, right, up, down, side, extra)", *w);
        }
    }
    return 0;
}

/* "1920x1080+0+0", "1280x1024+1920+0", "off" */
static bool parse_monitor(const char *spec, VdMonitor *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (g_str_equal(spec, "off"))
        return true;
    unsigned w, h;
    int x, y, n = 0;
    if (sscanf(spec, "%ux%u%d%d%n", &w, &h, &x, &y, &n) != 4 || spec[n] != '\0' || w == 0 || h == 0 ||
        w > 16384 || h > 16384)
        return false;
    *ret = (VdMonitor){ .width = w, .height = h, .depth = 32, .x = x, .y = y };
    return true;
}

static int parse_monitors(const Options *o, VdControlMsg *req)
{
    if (o->args->len < 2)
        return usage_error("%s", "monitors takes at least one WxH+X+Y");
    if (o->args->len - 1 > VD_LIMIT_MONITORS)
        return usage_error("at most %u monitors", VD_LIMIT_MONITORS);
    *req = (VdControlMsg){ .type = VD_C_INJECT_MONITORS };
    req->u.monitors.flags = VD_MONITORS_USE_POS;
    for (guint i = 1; i < o->args->len; i++)
        if (!parse_monitor(o->args->pdata[i], &req->u.monitors.monitors[req->u.monitors.count++]))
            return usage_error("bad monitor \"%s\" (want WxH+X+Y or off)", (const char *)o->args->pdata[i]);
    return 0;
}

static int parse_clipboard(const Options *o, VdControlMsg *req)
{
    int selection = parse_selection(o->selection);
    if (selection < 0)
        return usage_error("unknown selection \"%s\" (clipboard or primary)", o->selection);
    const char *verb = o->args->len >= 2 ? o->args->pdata[1] : "";
    if (g_str_equal(verb, "set") && o->args->len == 3) {
        const char *text = o->args->pdata[2];
        if (!g_utf8_validate(text, -1, NULL))
            return usage_error("%s", "TEXT must be UTF-8");
        if (strlen(text) > VD_IPC_MAX_PIECE)
            return usage_error("TEXT is longer than %u bytes", VD_IPC_MAX_PIECE);
        *req = (VdControlMsg){ .type = VD_C_CLIPBOARD_SET };
        req->u.clipboard.selection = (uint8_t)selection;
        req->u.clipboard.type = VD_CLIPBOARD_UTF8_TEXT;
        req->u.clipboard.data = (const uint8_t *)text;
        req->u.clipboard.len = (uint32_t)strlen(text);
        return 0;
    }
    if (g_str_equal(verb, "get") && o->args->len == 2) {
        *req = (VdControlMsg){ .type = VD_C_CLIPBOARD_GET };
        req->u.clipboard_get.selection = (uint8_t)selection;
        req->u.clipboard_get.type = VD_CLIPBOARD_UTF8_TEXT;
        return 0;
    }
    return usage_error("%s", "clipboard set TEXT | clipboard get");
}

static int cmd_clipboard_get(VdCtlClient *client, const VdControlMsg *req)
{
    g_autoptr(GError) error = NULL;
    if (!vd_ctl_client_send(client, req, &error))
        return fail(error);
    VdControlMsg reply = { 0 };
    if (!vd_ctl_client_recv(client, &reply, CLIPBOARD_TIMEOUT_MS, &error))
        return fail(error);
    int rc = 0;
    if (reply.type == VD_C_CLIPBOARD_REPLY) {
        fwrite(reply.u.clipboard.data, 1, reply.u.clipboard.len, stdout);
        if (isatty(STDOUT_FILENO) && reply.u.clipboard.len)
            fputc('\n', stdout);
    } else if (reply.type == VD_C_RESULT && reply.u.result.code != 0) {
        fprintf(stderr, "vdagent-ctl: %s (%s)\n", reply.u.result.message ? reply.u.result.message : "failed",
                vd_ipc_error_code_to_string(reply.u.result.code));
        rc = VD_CTL_ERROR_FAILED;
    } else {
        fprintf(stderr, "vdagent-ctl: unexpected %s reply\n", vd_control_msg_type_to_string(reply.type));
        rc = VD_CTL_ERROR_PROTOCOL;
    }
    vd_control_msg_clear(&reply);
    return rc;
}

static int parse_args(int argc, char **argv, Options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        bool takes_value = g_str_equal(a, "--control") || g_str_equal(a, "--display") ||
                               g_str_equal(a, "--buttons") || g_str_equal(a, "--selection");
        if (takes_value) {
            if (i + 1 >= argc)
                return usage_error("%s needs a value", a);
            value = argv[++i];
        }
        if (g_str_equal(a, "--help") || g_str_equal(a, "-h")) {
            fputs(usage_text, stdout);
            exit(0);
        } else if (g_str_equal(a, "--version") || g_str_equal(a, "-V")) {
            printf("vdagent-ctl %s\n", VDAGENT_VERSION);
            exit(0);
        } else if (g_str_equal(a, "--json")) {
            o->json = true;
        } else if (g_str_equal(a, "--hex")) {
            o->hex = true;
        } else if (g_str_equal(a, "--control")) {
            o->control = value;
        } else if (g_str_equal(a, "--display")) {
            uint32_t d;
            if (!parse_u32(value, 255, &d))
                return usage_error("bad display \"%s\"", value);
            o->display = (int)d;
        } else if (g_str_equal(a, "--buttons")) {
            o->buttons = value;
        } else if (g_str_equal(a, "--selection")) {
            o->selection = value;
        } else if (g_str_equal(a, "--")) {
            for (i++; i < argc; i++)
                g_ptr_array_add(o->args, argv[i]);
        } else if (a[0] == '-' && a[1] != '\0' && !g_ascii_isdigit(a[1])) {
            return usage_error("unknown option \"%s\"", a);
        } else {
            g_ptr_array_add(o->args, (char *)a);
        }
    }
    return 0;
}

/* Options that only make sense with some commands. */
static int check_options(const char *cmd, const Options *o)
{
    bool reader = g_str_equal(cmd, "status") || g_str_equal(cmd, "sessions") || g_str_equal(cmd, "caps") ||
                      g_str_equal(cmd, "monitor");
    if (o->json && !reader)
        return usage_error("--json is for status, sessions, caps and monitor, not %s", cmd);
    if (o->hex && !g_str_equal(cmd, "monitor"))
        return usage_error("--hex is for monitor, not %s", cmd);
    if ((o->display >= 0 || o->buttons) && !g_str_equal(cmd, "mouse"))
        return usage_error("--display and --buttons are for mouse, not %s", cmd);
    if (o->selection && !g_str_equal(cmd, "clipboard"))
        return usage_error("--selection is for clipboard, not %s", cmd);
    if (reader && o->args->len != 1)
        return usage_error("%s takes no arguments", cmd);
    return 0;
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    Options o = { .control = DEFAULT_CONTROL, .args = args, .display = -1 };
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (args->len == 0)
        return usage_error("%s", "no command given");
    const char *cmd = args->pdata[0];
    static const char *const known[] = { "status", "sessions", "caps", "monitor", "mouse", "monitors",
                                         "clipboard", NULL };
    if (!g_strv_contains(known, cmd))
        return usage_error("unknown command \"%s\"", cmd);
    rc = check_options(cmd, &o);
    if (rc)
        return rc;
    if (o.display < 0)
        o.display = 0;

    /* The whole command line is checked before the daemon is asked anything. */
    VdControlMsg req = { 0 };
    if (g_str_equal(cmd, "mouse"))
        rc = parse_mouse(&o, &req);
    else if (g_str_equal(cmd, "monitors"))
        rc = parse_monitors(&o, &req);
    else if (g_str_equal(cmd, "clipboard"))
        rc = parse_clipboard(&o, &req);
    if (rc)
        return rc;

    g_autoptr(GError) error = NULL;
    g_autoptr(VdCtlClient) client = vd_ctl_client_connect(o.control, REPLY_TIMEOUT_MS, &error);
    if (!client)
        return fail(error);

    if (g_str_equal(cmd, "status"))
        return cmd_status(client, &o, NULL);
    if (g_str_equal(cmd, "sessions") || g_str_equal(cmd, "caps"))
        return cmd_status(client, &o, cmd);
    if (g_str_equal(cmd, "monitor"))
        return cmd_monitor(client, &o);
    if (req.type == VD_C_CLIPBOARD_GET)
        return cmd_clipboard_get(client, &req);
    if (!vd_ctl_client_call(client, &req, REPLY_TIMEOUT_MS, &error))
        return fail(error);
    return 0;
}
