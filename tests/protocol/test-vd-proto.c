/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-vd-proto.c — names of every protocol number, the capability-set helpers, and the
 * CLIPBOARD_GRAB serial rule. */
#include <glib.h>
#include <string.h>

#include "grab-serial.h"
#include "vd-proto.h"

typedef const char *(*NameFn)(uint32_t);

typedef struct {
    const char *what;
    NameFn fn;
    uint32_t first, end; /* valid values: [first, end) */
    uint32_t sample;
    const char *sample_name;
} NameTable;

static const NameTable names[] = {
    { "message type", vd_msg_type_to_string, VD_MSG_MOUSE_STATE, VD_MSG_END, VD_MSG_GRAPHICS_DEVICE_INFO,
      "GRAPHICS_DEVICE_INFO" },
    { "capability", vd_cap_to_string, 0, VD_CAP_END, VD_CAP_CLIPBOARD_GRAB_SERIAL, "CLIPBOARD_GRAB_SERIAL" },
    { "clipboard type", vd_clipboard_type_to_string, 0, VD_CLIPBOARD_END, VD_CLIPBOARD_FILE_LIST, "FILE_LIST" },
    { "selection", vd_selection_to_string, 0, VD_SELECTION_END, VD_SELECTION_PRIMARY, "PRIMARY" },
    { "xfer result", vd_xfer_result_to_string, 0, VD_XFER_END, VD_XFER_NOT_ENOUGH_SPACE, "NOT_ENOUGH_SPACE" },
    { "reply error", vd_reply_error_to_string, VD_REPLY_SUCCESS, VD_REPLY_ERROR + 1, VD_REPLY_ERROR, "ERROR" },
    { "port", vd_port_to_string, VD_PORT_CLIENT, VD_PORT_SERVER + 1, VD_PORT_SERVER, "SERVER" },
};

static void test_names(gconstpointer data)
{
    const NameTable *t = data;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (uint32_t v = t->first; v < t->end; v++) {
        const char *s = t->fn(v);
        g_assert_nonnull(s);
        if (strcmp(s, "UNKNOWN") == 0)
            g_error("%s %u has no name", t->what, v);
        g_assert_false(g_hash_table_contains(seen, s));
        g_hash_table_add(seen, (gpointer)s);
        for (const char *p = s; *p; p++)
            g_assert_true(g_ascii_isupper(*p) || g_ascii_isdigit(*p) || *p == '_');
    }
    if (t->first > 0)
        g_assert_cmpstr(t->fn(t->first - 1), ==, "UNKNOWN");
    g_assert_cmpstr(t->fn(t->end), ==, "UNKNOWN");
    g_assert_cmpstr(t->fn(UINT32_MAX), ==, "UNKNOWN");
    g_assert_cmpstr(t->fn(t->sample), ==, t->sample_name);
}

static void test_buttons(void)
{
    char buf[128];

    g_assert_cmpstr(vd_buttons_to_string(0, buf, sizeof(buf)), ==, "none");
    g_assert_cmpstr(vd_buttons_to_string(VD_BUTTON_LEFT | VD_BUTTON_RIGHT | VD_BUTTON_WHEEL_UP, buf, sizeof(buf)),
                    ==, "LEFT|RIGHT|WHEEL_UP");
    g_assert_cmpstr(vd_buttons_to_string(0xfe, buf, sizeof(buf)), ==,
                    "LEFT|MIDDLE|RIGHT|WHEEL_UP|WHEEL_DOWN|SIDE|EXTRA");
    g_assert_cmpstr(vd_buttons_to_string(1u | VD_BUTTON_MIDDLE | 1u << 31, buf, sizeof(buf)), ==,
                    "0x1|MIDDLE|0x80000000");
    /* Truncated to fit, always terminated. */
    g_assert_cmpstr(vd_buttons_to_string(0xfe, buf, 8), ==, "LEFT|MI");
    g_assert_cmpstr(vd_buttons_to_string(0xfe, buf, 1), ==, "");
}

static void test_caps_helpers(void)
{
    VdCaps a = { { 0 } }, b = { { 0 } }, r;
    char buf[512];

    g_assert_cmpuint(vd_caps_n_words(&a), ==, 1);
    g_assert_cmpstr(vd_caps_to_string(&a, buf, sizeof(buf)), ==, "none");
    for (uint32_t c = 0; c < VD_CAP_END; c++) {
        g_assert_false(vd_caps_has(&a, c));
        vd_caps_set(&a, c);
        g_assert_true(vd_caps_has(&a, c));
    }
    g_assert_cmpuint(a.words[0], ==, (1u << VD_CAP_END) - 1);
    vd_caps_set(&b, VD_CAP_CLIPBOARD_SELECTION);
    vd_caps_set(&b, VD_CAP_CLIPBOARD_GRAB_SERIAL);
    vd_caps_set(&b, 200);
    vd_caps_intersect(&a, &b, &r);
    g_assert_cmpuint(r.words[0], ==, 1u << VD_CAP_CLIPBOARD_SELECTION | 1u << VD_CAP_CLIPBOARD_GRAB_SERIAL);
    g_assert_false(vd_caps_has(&r, 200));
    g_assert_cmpuint(vd_caps_n_words(&r), ==, 1);
    g_assert_cmpuint(vd_caps_n_words(&b), ==, 200 / 32 + 1);
    g_assert_cmpstr(vd_caps_to_string(&b, buf, sizeof(buf)), ==, "CLIPBOARD_SELECTION|CLIPBOARD_GRAB_SERIAL|200");
    vd_caps_clear(&b, 200);
    vd_caps_clear(&b, 5000); /* out of range: ignored */
    g_assert_cmpuint(vd_caps_n_words(&b), ==, 1);
    vd_caps_set(&b, VD_CAP_END);
    g_assert_cmpstr(vd_caps_to_string(&b, buf, sizeof(buf)), ==, "CLIPBOARD_SELECTION|CLIPBOARD_GRAB_SERIAL|18");
    g_assert_cmpstr(vd_caps_to_string(&b, buf, 10), ==, "CLIPBOARD");
    /* Every name of a full set fits a modest buffer. */
    g_assert_cmpuint(strlen(vd_caps_to_string(&a, buf, sizeof(buf))), <, 400);
    g_assert_true(g_str_has_prefix(buf, "MOUSE_STATE|MONITORS_CONFIG|REPLY|"));
}

typedef struct {
    uint32_t counter;
    uint32_t serial;
    bool accept;
    uint32_t counter_after;
} SerialCase;

static const SerialCase serial_cases[] = {
    { 0, 0, true, 1 },                     /* the peer's next grab */
    { 5, 5, true, 6 },
    { 5, 4, true, 5 },                     /* tie: we grabbed with 4 meanwhile, the peer wins */
    { 5, 3, false, 5 },                    /* stale */
    { 5, 0, false, 5 },
    { 5, 9, true, 10 },                    /* we missed grabs */
    { 0, UINT32_MAX, true, 0 },            /* counter-1 across the wrap: a tie */
    { UINT32_MAX, UINT32_MAX, true, 0 },   /* the counter wraps */
    { UINT32_MAX, 2, true, 3 },            /* ahead across the wrap */
    { 2, UINT32_MAX - 1, false, 2 },       /* behind across the wrap: stale */
    { 0, 0x7fffffff, true, 0x80000000 },   /* farthest ahead */
    { 0, 0x80000000, false, 0 },           /* half the space away counts as behind */
};

static void test_grab_serial_rule(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(serial_cases); i++) {
        const SerialCase *c = &serial_cases[i];
        VdGrabSerial s = { c->counter };
        if (vd_grab_serial_accept(&s, c->serial) != c->accept)
            g_error("counter %u serial %u: expected %s", c->counter, c->serial, c->accept ? "accept" : "drop");
        g_assert_cmpuint(s.counter, ==, c->counter_after);
    }
}

static void test_grab_serial_exchange(void)
{
    VdGrabSerial agent, client;

    vd_grab_serial_reset(&agent);
    vd_grab_serial_reset(&client);
    g_assert_cmpuint(agent.counter, ==, 0);
    /* Alternating grabs: each side accepts the other's. */
    for (int i = 0; i < 10; i++) {
        VdGrabSerial *from = i % 2 ? &agent : &client, *to = i % 2 ? &client : &agent;
        uint32_t s = vd_grab_serial_next(from);
        g_assert_cmpuint(s, ==, (uint32_t)i);
        g_assert_true(vd_grab_serial_accept(to, s));
        g_assert_cmpuint(from->counter, ==, to->counter);
    }
    /* Both grab at once with the same serial: each accepts the other's (counter-1). Our next grab
     * then carries a serial the peer accepts. */
    uint32_t a = vd_grab_serial_next(&agent), c = vd_grab_serial_next(&client);
    g_assert_cmpuint(a, ==, c);
    g_assert_true(vd_grab_serial_accept(&agent, c));
    g_assert_true(vd_grab_serial_accept(&client, a));
    g_assert_true(vd_grab_serial_accept(&client, vd_grab_serial_next(&agent)));
    /* A replayed old grab is dropped. */
    g_assert_false(vd_grab_serial_accept(&client, a - 1));
    /* reset starts over for a new client. */
    vd_grab_serial_reset(&agent);
    g_assert_cmpuint(vd_grab_serial_next(&agent), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_strdup_printf("/vd-proto/names/%s", names[i].what);
        g_strdelimit(path, " ", '-');
        g_test_add_data_func(path, &names[i], test_names);
    }
    g_test_add_func("/vd-proto/buttons", test_buttons);
    g_test_add_func("/vd-proto/caps", test_caps_helpers);
    g_test_add_func("/grab-serial/rule", test_grab_serial_rule);
    g_test_add_func("/grab-serial/exchange", test_grab_serial_exchange);
    return g_test_run();
}
