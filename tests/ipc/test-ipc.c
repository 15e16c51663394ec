/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-ipc.c — unit tests of the framing (ipc.c) and of the session and control codecs.
 *
 * Table-driven: every message type of both protocols round-trips; every truncation and a trailing
 * byte are refused; each limit is accepted at its value and refused one past it; the incremental
 * decoder gives the same frames at every split point. tests/ipc/test-vdipc.py adds thousands of
 * mutated frames cross-checked against the Python implementation. */
#include <errno.h>
#include <string.h>

#include "control-proto.h"
#include "session-proto.h"

/* --- samples --- */

typedef struct {
    const char *name;
    bool control;
    union {
        VdSessionMsg s;
        VdControlMsg c;
    } m;
    /* Payload is "head + rest": truncations that keep at least min_len bytes stay valid. */
    size_t min_len;
    bool rest_tail; /* a trailing byte is still valid (DATA pieces) */
} Sample;

static uint8_t piece_max[VD_IPC_MAX_PIECE];
static char long_software[VD_IPC_MAX_STRING + 2];
static char long_name[VD_LIMIT_XFER_NAME + 2];
static uint8_t trace_bytes[VD_CONTROL_TRACE_BYTES + 1];

static VdMonitorsConfig sample_monitors(uint32_t count, uint32_t flags)
{
    VdMonitorsConfig c = { .flags = flags, .count = count };
    for (uint32_t i = 0; i < count && i < VD_LIMIT_MONITORS; i++)
        c.monitors[i] = (VdMonitor){ .width = 1920 + i, .height = 1080, .depth = 32, .x = -(int32_t)i,
                                     .y = INT32_MAX - (int32_t)i, .mm_width = 520, .mm_height = UINT16_MAX };
    return c;
}

static GPtrArray *session_samples(void)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    Sample *s;
#define ADD(label, type_)                                                                          \
    (s = g_new0(Sample, 1), g_ptr_array_add(a, s), s->name = label, s->m.s.type = type_, &s->m.s.u)

    ADD("hello", VD_IPC_HELLO)->hello = (VdIpcHello){ VD_SESSION_MAGIC, 1, 0, 0, (char *)"vdagent 0.1.0" };
    ADD("hello at limit", VD_IPC_HELLO)->hello =
        (VdIpcHello){ VD_SESSION_MAGIC, 2, UINT16_MAX, UINT32_MAX, long_software + 1 };
    ADD("hello NULL software", VD_IPC_HELLO)->hello = (VdIpcHello){ VD_SESSION_MAGIC, 1, 0, 0, NULL };
    ADD("error", VD_IPC_ERROR)->error = (VdIpcError){ VD_IPC_ERR_VERSION, (char *)"major 2, want 1" };
    ADD("error last code", VD_IPC_ERROR)->error = (VdIpcError){ VD_IPC_ERR_END - 1, (char *)"" };
    ADD("grab empty", VD_S_CLIPBOARD_GRAB)->grab = (VdClipboardGrab){ .selection = 0, .n_types = 0 };
    VdClipboardGrab *g = &ADD("grab max", VD_S_CLIPBOARD_GRAB)->grab;
    g->selection = VD_SELECTION_END - 1;
    g->n_types = VD_LIMIT_GRAB_TYPES;
    for (uint32_t i = 0; i < g->n_types; i++)
        g->types[i] = 1 + i % (VD_CLIPBOARD_END - 1);
    ADD("request", VD_S_CLIPBOARD_REQUEST)->request = (VdClipboardRequest){ 1, VD_CLIPBOARD_FILE_LIST };
    ADD("release", VD_S_CLIPBOARD_RELEASE)->release.selection = 2;
    ADD("begin", VD_S_CLIPBOARD_BEGIN)->begin.total = VD_LIMIT_STREAMED_MESSAGE;
    s->m.s.u.begin.type = VD_CLIPBOARD_UTF8_TEXT;
    ADD("data 1", VD_S_CLIPBOARD_DATA)->data.data = (const uint8_t *)"x";
    s->m.s.u.data.len = 1;
    s->min_len = 2;
    s->rest_tail = true;
    ADD("data max", VD_S_CLIPBOARD_DATA)->data.data = piece_max;
    s->m.s.u.data.len = VD_IPC_MAX_PIECE;
    s->m.s.u.data.selection = 1;
    s->min_len = 2;
    ADD("abort", VD_S_CLIPBOARD_ABORT)->abort.selection = 1;
    ADD("host state", VD_S_HOST_STATE)->host_state.connected = true;
    s->m.s.u.host_state.caps.words[0] = 0x00035077;
    s->m.s.u.host_state.max_clipboard = -1;
    ADD("host state 8 words", VD_S_HOST_STATE)->host_state.caps.words[7] = 0x80000000u;
    s->m.s.u.host_state.max_clipboard = INT32_MAX;
    ADD("session state", VD_S_SESSION_STATE)->session_state.locked = true;
    ADD("monitors 1", VD_S_MONITORS_CONFIG)->monitors.config = sample_monitors(1, VD_MONITORS_PHYSICAL_SIZE);
    ADD("monitors max", VD_S_MONITORS_CONFIG)->monitors.config = sample_monitors(VD_LIMIT_MONITORS, 3);
    s->m.s.u.monitors.request_id = UINT32_MAX;
    ADD("device info empty", VD_S_DEVICE_INFO)->device_info.count = 0;
    VdGraphicsDeviceInfo *di = &ADD("device info max", VD_S_DEVICE_INFO)->device_info;
    di->count = VD_LIMIT_DEVICE_INFO;
    for (uint32_t i = 0; i < di->count; i++) {
        di->entries[i] = (VdDeviceDisplayInfo){ i, i + 1, i + 2, "" };
        memset(di->entries[i].address, 'a', VD_LIMIT_DEVICE_ADDRESS - 1);
    }
    ADD("xfer start", VD_S_XFER_START)->xfer_start.name = (char *)"report.pdf";
    s->m.s.u.xfer_start.size = UINT64_MAX;
    s->m.s.u.xfer_start.nr = 1;
    s->m.s.u.xfer_start.total = 2;
    ADD("xfer start name max", VD_S_XFER_START)->xfer_start.name = long_name + 1;
    ADD("xfer data", VD_S_XFER_DATA)->xfer_data.data = piece_max;
    s->m.s.u.xfer_data.len = 100;
    s->min_len = 5;
    s->rest_tail = true;
    ADD("xfer cancel", VD_S_XFER_CANCEL)->xfer_cancel.result = VD_XFER_VDAGENT_NOT_CONNECTED;
    ADD("monitors result", VD_S_MONITORS_RESULT)->monitors_result.result = VD_REPLY_ERROR;
    VdLayout *l = &ADD("layout max", VD_S_LAYOUT)->layout;
    l->screen_width = 8192;
    l->count = VD_IPC_MAX_DISPLAYS;
    for (uint32_t i = 0; i < l->count; i++)
        l->displays[i] = (VdDisplayRect){ i, -1, (int32_t)i, 640, 480 };
    ADD("layout empty", VD_S_LAYOUT)->layout.count = 0;
    ADD("xfer status", VD_S_XFER_STATUS)->xfer_status.result = VD_XFER_SUCCESS;
    ADD("xfer status error", VD_S_XFER_STATUS)->xfer_status =
        (VdFileXferStatus){ 7, VD_XFER_ERROR, true, VD_XFER_ERROR_GLIB_IO, 14, 0 };
    ADD("xfer status space", VD_S_XFER_STATUS)->xfer_status =
        (VdFileXferStatus){ 7, VD_XFER_NOT_ENOUGH_SPACE, true, 0, 0, UINT64_MAX };
#undef ADD
    return a;
}

static GPtrArray *control_samples(void)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    Sample *s;
#define ADD(label, type_)                                                                          \
    (s = g_new0(Sample, 1), g_ptr_array_add(a, s), s->name = label, s->control = true,              \
     s->m.c.type = type_, &s->m.c.u)

    ADD("hello", VD_IPC_HELLO)->hello = (VdIpcHello){ VD_CONTROL_MAGIC, 1, 0, 0, (char *)"ctl" };
    ADD("error", VD_IPC_ERROR)->error = (VdIpcError){ VD_IPC_ERR_PERMISSION, (char *)"not root" };
    (void)ADD("status", VD_C_STATUS);
    ADD("monitor", VD_C_MONITOR)->monitor.with_bytes = true;
    ADD("inject mouse", VD_C_INJECT_MOUSE)->mouse =
        (VdMouseState){ UINT32_MAX, 7, VD_BUTTON_LEFT | VD_BUTTON_EXTRA, 255 };
    ADD("inject monitors", VD_C_INJECT_MONITORS)->monitors = sample_monitors(VD_LIMIT_MONITORS, 1);
    ADD("clipboard set", VD_C_CLIPBOARD_SET)->clipboard.data = piece_max;
    s->m.c.u.clipboard.len = VD_IPC_MAX_PIECE;
    s->m.c.u.clipboard.type = VD_CLIPBOARD_IMAGE_PNG;
    ADD("clipboard set empty", VD_C_CLIPBOARD_SET)->clipboard.type = VD_CLIPBOARD_UTF8_TEXT;
    ADD("clipboard get", VD_C_CLIPBOARD_GET)->clipboard_get.selection = 2;
    s->m.c.u.clipboard_get.type = VD_CLIPBOARD_UTF8_TEXT;
    ADD("result ok", VD_C_RESULT)->result.message = (char *)"";
    ADD("result error", VD_C_RESULT)->result.code = VD_IPC_ERR_NO_AGENT;
    ADD("status reply", VD_C_STATUS_REPLY)->status.json = (char *)"{\"host\":{\"connected\":true}}";
    ADD("trace host", VD_C_TRACE)->trace =
        (VdTrace){ 1, VD_TRACE_GUEST_TO_HOST, VD_PORT_SERVER, 4, UINT64_MAX, (char *)"", (char *)"x=1",
                   trace_bytes, VD_CONTROL_TRACE_BYTES };
    ADD("trace agent", VD_C_TRACE)->trace =
        (VdTrace){ 2, VD_TRACE_FROM_AGENT, 0, VD_S_LAYOUT, 3, (char *)"c2", (char *)"", trace_bytes, 3 };
    ADD("clipboard reply", VD_C_CLIPBOARD_REPLY)->clipboard.data = (const uint8_t *)"h\xc3\xa9";
    s->m.c.u.clipboard.len = 3;
    s->m.c.u.clipboard.type = VD_CLIPBOARD_UTF8_TEXT;
#undef ADD
    return a;
}

static int sample_encode(GByteArray *out, const Sample *s)
{
    return s->control ? vd_control_msg_encode(out, &s->m.c) : vd_session_msg_encode(out, &s->m.s);
}

static uint16_t sample_type(const Sample *s)
{
    return s->control ? s->m.c.type : s->m.s.type;
}

/* Decodes and, on success, re-encodes into reencoded (if non-NULL). */
static int decode_as(bool control, uint16_t type, const uint8_t *p, size_t len, GByteArray *reencoded)
{
    const char *reason = NULL;
    int r;

    if (control) {
        VdControlMsg m;
        r = vd_control_msg_decode(type, p, len, &m, &reason);
        if (r == 0 && reencoded)
            g_assert_cmpint(vd_control_msg_encode(reencoded, &m), ==, 0);
        if (r == 0)
            vd_control_msg_clear(&m);
    } else {
        VdSessionMsg m;
        r = vd_session_msg_decode(type, p, len, &m, &reason);
        if (r == 0 && reencoded)
            g_assert_cmpint(vd_session_msg_encode(reencoded, &m), ==, 0);
        if (r == 0)
            vd_session_msg_clear(&m);
    }
    if (r == -EBADMSG)
        g_assert_nonnull(reason);
    return r;
}

static void init_buffers(void)
{
    for (size_t i = 0; i < sizeof(piece_max); i++)
        piece_max[i] = (uint8_t)(i * 7);
    memset(long_software, 'v', VD_IPC_MAX_STRING + 1);
    long_software[VD_IPC_MAX_STRING + 1] = '\0'; /* +1: exactly VD_IPC_MAX_STRING bytes */
    memset(long_name, 'n', VD_LIMIT_XFER_NAME + 1);
    long_name[VD_LIMIT_XFER_NAME + 1] = '\0';
    memset(trace_bytes, 0xAB, sizeof(trace_bytes));
}

/* --- round trips, truncations, trailing bytes --- */

static void test_sample(const void *data)
{
    const Sample *s = data;
    g_autoptr(GByteArray) frame = g_byte_array_new();
    g_autoptr(GByteArray) again = g_byte_array_new();

    g_assert_cmpint(sample_encode(frame, s), ==, 0);
    g_assert_cmpuint(frame->len, >=, VD_IPC_HEADER_SIZE);
    g_assert_cmpuint(frame->data[0] | frame->data[1] << 8, ==, sample_type(s));
    g_assert_cmpuint(frame->data[2] | frame->data[3] << 8, ==, 0);
    const uint8_t *p = frame->data + VD_IPC_HEADER_SIZE;
    size_t len = frame->len - VD_IPC_HEADER_SIZE;
    g_assert_cmpuint(frame->data[4] | frame->data[5] << 8 | frame->data[6] << 16 |
                         (uint32_t)frame->data[7] << 24, ==, len);

    /* decode -> encode gives the same bytes */
    g_assert_cmpint(decode_as(s->control, sample_type(s), p, len, again), ==, 0);
    g_assert_cmpmem(again->data, again->len, frame->data, frame->len);

    /* every truncation fails (except the valid shorter pieces of a data frame) */
    for (size_t n = 0; n < len; n++) {
        int r = decode_as(s->control, sample_type(s), p, n, NULL);
        if (n >= s->min_len && s->min_len)
            g_assert_cmpint(r, ==, 0);
        else
            g_assert_cmpint(r, ==, -EBADMSG);
    }

    /* a trailing byte fails */
    g_autofree uint8_t *longer = g_malloc(len + 1);
    memcpy(longer, p, len);
    longer[len] = 0;
    g_assert_cmpint(decode_as(s->control, sample_type(s), longer, len + 1, NULL), ==,
                    s->rest_tail ? 0 : -EBADMSG);
}

static void test_samples_cover_all_types(void)
{
    static const uint16_t session_types[] = {
        VD_IPC_HELLO, VD_IPC_ERROR, VD_S_CLIPBOARD_GRAB, VD_S_CLIPBOARD_REQUEST, VD_S_CLIPBOARD_RELEASE,
        VD_S_CLIPBOARD_BEGIN, VD_S_CLIPBOARD_DATA, VD_S_CLIPBOARD_ABORT, VD_S_HOST_STATE,
        VD_S_SESSION_STATE, VD_S_MONITORS_CONFIG, VD_S_DEVICE_INFO, VD_S_XFER_START, VD_S_XFER_DATA,
        VD_S_XFER_CANCEL, VD_S_MONITORS_RESULT, VD_S_LAYOUT, VD_S_XFER_STATUS,
    };
    static const uint16_t control_types[] = {
        VD_IPC_HELLO, VD_IPC_ERROR, VD_C_STATUS, VD_C_MONITOR, VD_C_INJECT_MOUSE, VD_C_INJECT_MONITORS,
        VD_C_CLIPBOARD_SET, VD_C_CLIPBOARD_GET, VD_C_RESULT, VD_C_STATUS_REPLY, VD_C_TRACE,
        VD_C_CLIPBOARD_REPLY,
    };
    g_autoptr(GPtrArray) a = session_samples();
    g_autoptr(GPtrArray) b = control_samples();
    for (size_t i = 0; i < G_N_ELEMENTS(session_types); i++) {
        bool found = false;
        for (guint k = 0; k < a->len; k++)
            found |= sample_type(a->pdata[k]) == session_types[i];
        g_assert_true(found);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(control_types); i++) {
        bool found = false;
        for (guint k = 0; k < b->len; k++)
            found |= sample_type(b->pdata[k]) == control_types[i];
        g_assert_true(found);
    }
}

/* Field values survive (not only the bytes). */
static void test_session_fields(void)
{
    VdSessionMsg m = { .type = VD_S_MONITORS_CONFIG };
    m.u.monitors.request_id = 42;
    m.u.monitors.config = sample_monitors(2, VD_MONITORS_USE_POS);
    g_autoptr(GByteArray) f = g_byte_array_new();
    g_assert_cmpint(vd_session_msg_encode(f, &m), ==, 0);
    g_assert_cmpuint(f->len, ==, VD_IPC_HEADER_SIZE + 12 + 2 * 24);

    VdSessionMsg d;
    g_assert_cmpint(vd_session_msg_decode(VD_S_MONITORS_CONFIG, f->data + 8, f->len - 8, &d, NULL), ==, 0);
    g_assert_cmpuint(d.u.monitors.request_id, ==, 42);
    g_assert_cmpmem(&d.u.monitors.config, sizeof(d.u.monitors.config), &m.u.monitors.config,
                    sizeof(m.u.monitors.config));
    vd_session_msg_clear(&d);

    VdSessionMsg h = { .type = VD_IPC_HELLO };
    h.u.hello = (VdIpcHello){ VD_SESSION_MAGIC, 1, 3, 5, (char *)"v\xc3\xa9" };
    g_byte_array_set_size(f, 0);
    g_assert_cmpint(vd_session_msg_encode(f, &h), ==, 0);
    static const uint8_t want[] = { 1, 0, 0, 0, 19, 0, 0, 0, 0x56, 0x44, 0x47, 0x53, 1, 0, 3, 0, 5, 0, 0, 0,
                                    3, 0, 0, 0, 'v', 0xc3, 0xa9 };
    g_assert_cmpmem(f->data, f->len, want, sizeof(want));
    g_assert_cmpint(vd_session_msg_decode(VD_IPC_HELLO, f->data + 8, f->len - 8, &d, NULL), ==, 0);
    g_assert_cmpstr(d.u.hello.software, ==, "v\xc3\xa9");
    g_assert_cmpuint(d.u.hello.version_minor, ==, 3);
    vd_session_msg_clear(&d);
    g_assert_null(d.u.hello.software);
}

/* --- limits and bad values: raw payloads the encoder would refuse --- */

typedef struct {
    const char *name;
    bool control;
    uint16_t type;
    void (*build)(GByteArray *p, uint32_t n); /* n = the limit (valid) or limit + 1 / bad value */
    uint32_t ok, bad;
} Limit;

static void put_zeros(GByteArray *p, size_t n)
{
    guint at = p->len;
    g_byte_array_set_size(p, (guint)(at + n));
    memset(p->data + at, 0, n);
}

static void put_hello_software(GByteArray *p, uint32_t n)
{
    g_autofree char *sw = g_strnfill(n, 's');
    vd_ipc_put_hello(p, &(VdIpcHello){ VD_SESSION_MAGIC, 1, 0, 0, sw });
}
static void put_error_code(GByteArray *p, uint32_t n)
{
    vd_ipc_put_error(p, &(VdIpcError){ n, NULL });
}
static void put_grab(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, 0);
    vd_ipc_put_u32(p, n);
    for (uint32_t i = 0; i < n; i++)
        vd_ipc_put_u32(p, 1);
}
static void put_grab_type(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, 0);
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, n);
}
static void put_request_selection(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, (uint8_t)n);
    vd_ipc_put_u32(p, 1);
}
static void put_begin_total(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, 0);
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u64(p, (uint64_t)VD_LIMIT_STREAMED_MESSAGE + n);
}
static void put_data(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, 0);
    put_zeros(p, n);
}
static void put_host_state_words(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, 1);
    vd_ipc_put_u32(p, n);
    for (uint32_t i = 0; i < n; i++)
        vd_ipc_put_u32(p, 1);
    vd_ipc_put_i32(p, 0);
}
static void put_host_state_bool(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, (uint8_t)n);
    vd_ipc_put_caps(p, &(VdCaps){ 0 });
    vd_ipc_put_i32(p, 0);
}
static void put_host_state_max(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, 1);
    vd_ipc_put_caps(p, &(VdCaps){ 0 });
    vd_ipc_put_i32(p, -(int32_t)n);
}
static void put_monitor_entries(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_u32(p, n);
    put_zeros(p, 24 * n);
}
static void put_monitors(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 9);
    put_monitor_entries(p, n);
}
static void put_monitors_flags(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 9);
    vd_ipc_put_u32(p, n);
    vd_ipc_put_u32(p, 1);
    put_zeros(p, 24);
}
static void put_device_info(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, n);
    for (uint32_t i = 0; i < n; i++) {
        vd_ipc_put_u32(p, 0);
        vd_ipc_put_u32(p, 0);
        vd_ipc_put_u32(p, 0);
        vd_ipc_put_string(p, "pci/0000/02.0");
    }
}
static void put_device_address(GByteArray *p, uint32_t n)
{
    g_autofree char *addr = g_strnfill(n, 'a');
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_string(p, addr);
}
static void put_xfer_name(GByteArray *p, uint32_t n)
{
    g_autofree char *name = g_strnfill(n, 'f');
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u64(p, 10);
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_string(p, name);
}
static void put_xfer_data(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 1);
    put_zeros(p, n);
}
static void put_cancel(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, n);
}
static void put_layout(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, n);
    put_zeros(p, 20 * n);
}
static void put_status_result(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, n);
    put_zeros(p, 1 + 1 + 4 + 8);
}
static void put_status_detail(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, n); /* ERROR (2) has a detail, SUCCESS (3) has not */
    vd_ipc_put_u8(p, 1);
    vd_ipc_put_u8(p, 0);
    vd_ipc_put_u32(p, 5);
    vd_ipc_put_u64(p, 0);
}
static void put_mouse_buttons(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_u32(p, 0);
    vd_ipc_put_u32(p, n);
    vd_ipc_put_u8(p, 0);
}
static void put_clipboard_blob(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u8(p, 0);
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u32(p, n);
    put_zeros(p, n);
}
static void put_result_code(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, n);
    vd_ipc_put_string(p, "");
}
static void put_json(GByteArray *p, uint32_t n)
{
    vd_ipc_put_u32(p, n);
    guint at = p->len;
    put_zeros(p, n);
    memset(p->data + at, ' ', n);
}
static void put_trace(GByteArray *p, uint8_t direction, uint8_t port, uint64_t size, uint32_t n_bytes)
{
    vd_ipc_put_u64(p, 0);
    vd_ipc_put_u8(p, direction);
    vd_ipc_put_u8(p, port);
    vd_ipc_put_u32(p, 1);
    vd_ipc_put_u64(p, size);
    vd_ipc_put_string(p, "");
    vd_ipc_put_string(p, "");
    vd_ipc_put_u32(p, n_bytes);
    put_zeros(p, n_bytes);
}
static void put_trace_bytes(GByteArray *p, uint32_t n)
{
    put_trace(p, 0, 1, UINT64_MAX, n);
}
static void put_trace_direction(GByteArray *p, uint32_t n)
{
    put_trace(p, (uint8_t)n, 0, 0, 0);
}
static void put_trace_host_port(GByteArray *p, uint32_t n)
{
    put_trace(p, 1, (uint8_t)n, 0, 0);
}
static void put_trace_size(GByteArray *p, uint32_t n)
{
    put_trace(p, 2, 0, 10, n);
}

static const Limit limits[] = {
    { "software length", false, VD_IPC_HELLO, put_hello_software, VD_IPC_MAX_STRING, VD_IPC_MAX_STRING + 1 },
    { "error code", false, VD_IPC_ERROR, put_error_code, VD_IPC_ERR_END - 1, VD_IPC_ERR_END },
    { "error code 0", false, VD_IPC_ERROR, put_error_code, 1, 0 },
    { "grab types", false, VD_S_CLIPBOARD_GRAB, put_grab, VD_LIMIT_GRAB_TYPES, VD_LIMIT_GRAB_TYPES + 1 },
    { "grab type", false, VD_S_CLIPBOARD_GRAB, put_grab_type, VD_CLIPBOARD_END - 1, VD_CLIPBOARD_END },
    { "grab type NONE", false, VD_S_CLIPBOARD_GRAB, put_grab_type, 1, VD_CLIPBOARD_NONE },
    { "selection", false, VD_S_CLIPBOARD_REQUEST, put_request_selection, VD_SELECTION_END - 1, VD_SELECTION_END },
    { "begin total", false, VD_S_CLIPBOARD_BEGIN, put_begin_total, 0, 1 },
    { "data piece", false, VD_S_CLIPBOARD_DATA, put_data, VD_IPC_MAX_PIECE, VD_IPC_MAX_PIECE + 1 },
    { "data empty", false, VD_S_CLIPBOARD_DATA, put_data, 1, 0 },
    { "caps words", false, VD_S_HOST_STATE, put_host_state_words, VD_CAPS_MAX_WORDS, VD_CAPS_MAX_WORDS + 1 },
    { "bool", false, VD_S_HOST_STATE, put_host_state_bool, 1, 2 },
    { "max_clipboard", false, VD_S_HOST_STATE, put_host_state_max, 1, 2 },
    { "monitors", false, VD_S_MONITORS_CONFIG, put_monitors, VD_LIMIT_MONITORS, VD_LIMIT_MONITORS + 1 },
    { "monitors 0", false, VD_S_MONITORS_CONFIG, put_monitors, 1, 0 },
    { "monitors flags", false, VD_S_MONITORS_CONFIG, put_monitors_flags, 3, 4 },
    { "device info", false, VD_S_DEVICE_INFO, put_device_info, VD_LIMIT_DEVICE_INFO, VD_LIMIT_DEVICE_INFO + 1 },
    { "device address", false, VD_S_DEVICE_INFO, put_device_address, VD_LIMIT_DEVICE_ADDRESS - 1,
      VD_LIMIT_DEVICE_ADDRESS },
    { "xfer name", false, VD_S_XFER_START, put_xfer_name, VD_LIMIT_XFER_NAME, VD_LIMIT_XFER_NAME + 1 },
    { "xfer name empty", false, VD_S_XFER_START, put_xfer_name, 1, 0 },
    { "xfer data", false, VD_S_XFER_DATA, put_xfer_data, VD_IPC_MAX_PIECE, VD_IPC_MAX_PIECE + 1 },
    { "xfer data empty", false, VD_S_XFER_DATA, put_xfer_data, 1, 0 },
    { "cancel result", false, VD_S_XFER_CANCEL, put_cancel, VD_XFER_END - 1, VD_XFER_END },
    { "cancel SUCCESS", false, VD_S_XFER_CANCEL, put_cancel, VD_XFER_CANCELLED, VD_XFER_SUCCESS },
    { "monitors result", false, VD_S_MONITORS_RESULT, put_cancel, VD_REPLY_ERROR, VD_REPLY_ERROR + 1 },
    { "layout", false, VD_S_LAYOUT, put_layout, VD_IPC_MAX_DISPLAYS, VD_IPC_MAX_DISPLAYS + 1 },
    { "status result", false, VD_S_XFER_STATUS, put_status_result, VD_XFER_END - 1, VD_XFER_END },
    { "status detail", false, VD_S_XFER_STATUS, put_status_detail, VD_XFER_ERROR, VD_XFER_SUCCESS },
    { "mouse buttons", true, VD_C_INJECT_MOUSE, put_mouse_buttons, 0xFE, 0x1FE },
    { "mouse button 0", true, VD_C_INJECT_MOUSE, put_mouse_buttons, 2, 1 },
    { "inject monitors", true, VD_C_INJECT_MONITORS, put_monitor_entries, VD_LIMIT_MONITORS,
      VD_LIMIT_MONITORS + 1 },
    { "clipboard blob", true, VD_C_CLIPBOARD_SET, put_clipboard_blob, VD_IPC_MAX_PIECE, VD_IPC_MAX_PIECE + 1 },
    { "reply blob", true, VD_C_CLIPBOARD_REPLY, put_clipboard_blob, VD_IPC_MAX_PIECE, VD_IPC_MAX_PIECE + 1 },
    { "result code", true, VD_C_RESULT, put_result_code, VD_IPC_ERR_END - 1, VD_IPC_ERR_END },
    { "json", true, VD_C_STATUS_REPLY, put_json, VD_CONTROL_MAX_JSON, VD_CONTROL_MAX_JSON + 1 },
    { "trace bytes", true, VD_C_TRACE, put_trace_bytes, VD_CONTROL_TRACE_BYTES, VD_CONTROL_TRACE_BYTES + 1 },
    { "trace direction", true, VD_C_TRACE, put_trace_direction, VD_TRACE_END - 1, VD_TRACE_END },
    { "trace host port", true, VD_C_TRACE, put_trace_host_port, VD_PORT_SERVER, VD_PORT_SERVER + 1 },
    { "trace host port 0", true, VD_C_TRACE, put_trace_host_port, VD_PORT_CLIENT, 0 },
    { "trace bytes over size", true, VD_C_TRACE, put_trace_size, 10, 11 },
};

static void test_limit(const void *data)
{
    const Limit *l = data;
    g_autoptr(GByteArray) ok = g_byte_array_new();
    g_autoptr(GByteArray) bad = g_byte_array_new();
    g_autoptr(GByteArray) again = g_byte_array_new();

    l->build(ok, l->ok);
    l->build(bad, l->bad);
    g_assert_cmpint(decode_as(l->control, l->type, ok->data, ok->len, again), ==, 0);
    /* the encoder emits exactly what it was given */
    g_assert_cmpmem(again->data + VD_IPC_HEADER_SIZE, again->len - VD_IPC_HEADER_SIZE, ok->data, ok->len);
    g_assert_cmpint(decode_as(l->control, l->type, bad->data, bad->len, NULL), ==, -EBADMSG);
}

static void test_strings(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        bool ok;
    } cases[] = {
        { "", 0, true },          { "abc", 3, true },      { "\xc3\xa9", 2, true },
        { "a\0b", 3, false },     { "\xc3", 1, false },    { "\xff", 1, false },
        { "\xed\xa0\x80", 3, false }, /* a UTF-16 surrogate */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) p = g_byte_array_new();
        VdIpcCursor c;
        vd_ipc_put_blob(p, cases[i].bytes, (uint32_t)cases[i].len);
        vd_ipc_cursor_init(&c, p->data, p->len);
        g_autofree char *s = vd_ipc_get_string(&c, 100);
        g_assert_cmpint(s != NULL, ==, cases[i].ok);
        g_assert_cmpint(vd_ipc_cursor_finish(&c, NULL), ==, cases[i].ok ? 0 : -EBADMSG);
    }

    /* max is the caller's limit, and never above VD_IPC_MAX_STRING */
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_ipc_put_string(p, "abcd");
    VdIpcCursor c;
    vd_ipc_cursor_init(&c, p->data, p->len);
    g_assert_null(vd_ipc_get_string(&c, 3));
    const char *reason = NULL;
    g_assert_cmpint(vd_ipc_cursor_finish(&c, &reason), ==, -EBADMSG);
    g_assert_cmpstr(reason, ==, "length field above its limit");
}

static void test_cursor(void)
{
    static const uint8_t b[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xff, 0xff, 0xff, 0xff };
    VdIpcCursor c;
    const char *reason = NULL;

    vd_ipc_cursor_init(&c, b, sizeof(b));
    g_assert_cmpuint(vd_ipc_get_u8(&c), ==, 1);
    g_assert_cmpuint(vd_ipc_get_u16(&c), ==, 0x0302);
    g_assert_cmpuint(vd_ipc_get_u32(&c), ==, 0x07060504);
    g_assert_cmpuint(vd_ipc_get_u16(&c), ==, 0x0908);
    g_assert_cmpint(vd_ipc_get_i32(&c), ==, -1);
    g_assert_cmpint(vd_ipc_cursor_finish(&c, &reason), ==, 0);

    vd_ipc_cursor_init(&c, b, sizeof(b));
    g_assert_cmpuint(vd_ipc_get_u64(&c), ==, 0x0807060504030201ull);
    g_assert_cmpuint(vd_ipc_get_u64(&c), ==, 0); /* short: fails, sticky */
    g_assert_true(c.failed);
    g_assert_cmpuint(vd_ipc_get_u8(&c), ==, 0);
    g_assert_cmpint(vd_ipc_cursor_finish(&c, &reason), ==, -EBADMSG);
    g_assert_cmpstr(reason, ==, "frame truncated");

    vd_ipc_cursor_init(&c, b, sizeof(b));
    vd_ipc_get_u8(&c);
    g_assert_cmpint(vd_ipc_cursor_finish(&c, &reason), ==, -EBADMSG);
    g_assert_cmpstr(reason, ==, "trailing bytes after the message");

    size_t n;
    vd_ipc_cursor_init(&c, b, sizeof(b));
    vd_ipc_get_u32(&c);
    g_assert_true(vd_ipc_get_rest(&c, &n) == b + 4);
    g_assert_cmpuint(n, ==, sizeof(b) - 4);
    g_assert_cmpint(vd_ipc_cursor_finish(&c, NULL), ==, 0);

    /* the first failure's reason is kept */
    vd_ipc_cursor_init(&c, b, 0);
    vd_ipc_cursor_fail(&c, "first");
    vd_ipc_cursor_fail(&c, "second");
    g_assert_cmpint(vd_ipc_cursor_finish(&c, &reason), ==, -EBADMSG);
    g_assert_cmpstr(reason, ==, "first");

    /* caps: canonical words, 0..8 accepted */
    VdCaps caps = { .words = { 5, 0, 1 } }, back;
    g_autoptr(GByteArray) p = g_byte_array_new();
    vd_ipc_put_caps(p, &caps);
    g_assert_cmpuint(p->len, ==, 4 + 3 * 4);
    vd_ipc_cursor_init(&c, p->data, p->len);
    vd_ipc_get_caps(&c, &back);
    g_assert_cmpint(vd_ipc_cursor_finish(&c, NULL), ==, 0);
    g_assert_cmpmem(&back, sizeof(back), &caps, sizeof(caps));
    g_byte_array_set_size(p, 0);
    vd_ipc_put_caps(p, &(VdCaps){ 0 });
    g_assert_cmpuint(p->len, ==, 8);
    static const uint8_t zero_words[] = { 0, 0, 0, 0 };
    vd_ipc_cursor_init(&c, zero_words, sizeof(zero_words));
    vd_ipc_get_caps(&c, &back);
    g_assert_cmpint(vd_ipc_cursor_finish(&c, NULL), ==, 0);
}

static void test_frame_end(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_byte_array_append(out, (const guint8 *)"keep", 4);

    size_t start = vd_ipc_frame_begin(out, 77);
    g_assert_cmpuint(start, ==, 4);
    vd_ipc_put_u32(out, 1);
    g_assert_cmpint(vd_ipc_frame_end(out, start, 3), ==, -EMSGSIZE);
    g_assert_cmpuint(out->len, ==, 4); /* removed */
    start = vd_ipc_frame_begin(out, 77);
    vd_ipc_put_u32(out, 1);
    g_assert_cmpint(vd_ipc_frame_end(out, start, 4), ==, 0);
    static const uint8_t want[] = { 'k', 'e', 'e', 'p', 77, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0 };
    g_assert_cmpmem(out->data, out->len, want, sizeof(want));
}

static void test_encode_refuses(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_byte_array_append(out, (const guint8 *)"x", 1);

    VdSessionMsg s = { .type = VD_S_CLIPBOARD_DATA };
    s.u.data.data = piece_max;
    s.u.data.len = VD_IPC_MAX_PIECE + 1;
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EMSGSIZE);
    s.u.data.len = 0;
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EINVAL); /* empty piece */
    s = (VdSessionMsg){ .type = VD_S_CLIPBOARD_RELEASE };
    s.u.release.selection = VD_SELECTION_END;
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EINVAL);
    s = (VdSessionMsg){ .type = VD_S_CLIPBOARD_GRAB };
    s.u.grab.n_types = VD_LIMIT_GRAB_TYPES + 1;
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EINVAL);
    s = (VdSessionMsg){ .type = VD_S_LAYOUT };
    s.u.layout.count = VD_IPC_MAX_DISPLAYS + 1;
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EINVAL);
    s = (VdSessionMsg){ .type = VD_S_DEVICE_INFO };
    s.u.device_info.count = 1;
    memset(s.u.device_info.entries[0].address, 'a', VD_LIMIT_DEVICE_ADDRESS); /* no NUL */
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EINVAL);
    s = (VdSessionMsg){ .type = VD_S_MONITORS_CONFIG };
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EINVAL); /* 0 monitors */
    s = (VdSessionMsg){ .type = VD_IPC_HELLO };
    s.u.hello.magic = VD_CONTROL_MAGIC;
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EINVAL);
    s = (VdSessionMsg){ .type = 99 };
    g_assert_cmpint(vd_session_msg_encode(out, &s), ==, -EOPNOTSUPP);

    VdControlMsg c = { .type = VD_C_TRACE };
    c.u.trace.n_bytes = VD_CONTROL_TRACE_BYTES + 1;
    g_assert_cmpint(vd_control_msg_encode(out, &c), ==, -EINVAL);
    c = (VdControlMsg){ .type = VD_C_STATUS_REPLY };
    g_autofree char *json = g_strnfill(VD_CONTROL_MAX_JSON + 1, ' ');
    c.u.status.json = json;
    g_assert_cmpint(vd_control_msg_encode(out, &c), ==, -EMSGSIZE);
    c = (VdControlMsg){ .type = VD_C_RESULT };
    g_autofree char *msg = g_strnfill(VD_IPC_MAX_STRING + 1, 'm');
    c.u.result.message = msg;
    g_assert_cmpint(vd_control_msg_encode(out, &c), ==, -EINVAL);
    c = (VdControlMsg){ .type = 0 };
    g_assert_cmpint(vd_control_msg_encode(out, &c), ==, -EOPNOTSUPP);

    g_assert_cmpuint(out->len, ==, 1); /* nothing appended by any failure */
}

static void test_unknown_types(void)
{
    static const uint16_t session_unknown[] = { 0, 3, 15, 22, 31, 40, 47, 53, UINT16_MAX };
    static const uint16_t control_unknown[] = { 0, 3, 15, 22, 31, 36, UINT16_MAX };
    const char *reason = NULL;
    VdSessionMsg s;
    VdControlMsg c;

    for (size_t i = 0; i < G_N_ELEMENTS(session_unknown); i++)
        g_assert_cmpint(vd_session_msg_decode(session_unknown[i], NULL, 0, &s, &reason), ==, -EOPNOTSUPP);
    for (size_t i = 0; i < G_N_ELEMENTS(control_unknown); i++)
        g_assert_cmpint(vd_control_msg_decode(control_unknown[i], NULL, 0, &c, &reason), ==, -EOPNOTSUPP);
    g_assert_cmpstr(vd_session_msg_type_to_string(VD_S_LAYOUT), ==, "LAYOUT");
    g_assert_cmpstr(vd_session_msg_type_to_string(99), ==, "UNKNOWN");
    g_assert_cmpstr(vd_control_msg_type_to_string(VD_C_TRACE), ==, "TRACE");
    g_assert_cmpstr(vd_trace_direction_to_string(VD_TRACE_FROM_AGENT), ==, "FROM_AGENT");
    g_assert_cmpstr(vd_trace_direction_to_string(VD_TRACE_END), ==, "UNKNOWN");
    g_assert_cmpstr(vd_ipc_error_code_to_string(VD_IPC_ERR_NO_HOST), ==, "NO_HOST");
    g_assert_cmpstr(vd_ipc_error_code_to_string(VD_IPC_ERR_END), ==, "UNKNOWN");
}

static void test_hello_magic(void)
{
    g_autoptr(GByteArray) p = g_byte_array_new();
    VdSessionMsg s;
    VdControlMsg c;

    vd_ipc_put_hello(p, &(VdIpcHello){ VD_CONTROL_MAGIC, 1, 0, 0, "ctl" });
    g_assert_cmpint(vd_session_msg_decode(VD_IPC_HELLO, p->data, p->len, &s, NULL), ==, -EBADMSG);
    g_assert_cmpint(vd_control_msg_decode(VD_IPC_HELLO, p->data, p->len, &c, NULL), ==, 0);
    vd_control_msg_clear(&c);
    /* any version decodes: the receiver, not the decoder, answers ERROR(VERSION) */
    g_byte_array_set_size(p, 0);
    vd_ipc_put_hello(p, &(VdIpcHello){ VD_SESSION_MAGIC, 9, 9, 0, "future" });
    g_assert_cmpint(vd_session_msg_decode(VD_IPC_HELLO, p->data, p->len, &s, NULL), ==, 0);
    g_assert_cmpuint(s.u.hello.version_major, ==, 9);
    vd_session_msg_clear(&s);
}

/* --- the incremental decoder --- */

typedef struct {
    GByteArray *frames; /* each frame re-framed, concatenated */
    guint count, stop_after;
} Collect;

static int collect(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    Collect *c = user_data;
    size_t start = vd_ipc_frame_begin(c->frames, type);
    g_byte_array_append(c->frames, payload, (guint)len);
    g_assert_cmpint(vd_ipc_frame_end(c->frames, start, VD_IPC_MAX_PAYLOAD), ==, 0);
    c->count++;
    return c->stop_after && c->count == c->stop_after;
}

static GByteArray *small_stream(guint *ret_count)
{
    g_autoptr(GPtrArray) a = session_samples();
    g_autoptr(GPtrArray) b = control_samples();
    GByteArray *stream = g_byte_array_new();
    guint n = 0;

    for (guint k = 0; k < 2; k++) {
        GPtrArray *set = k ? b : a;
        for (guint i = 0; i < set->len; i++) {
            guint before = stream->len;
            g_assert_cmpint(sample_encode(stream, set->pdata[i]), ==, 0);
            if (stream->len - before > 600)
                g_byte_array_set_size(stream, before); /* keep the split test quadratic-cheap */
            else
                n++;
        }
    }
    *ret_count = n;
    return stream;
}

static void test_decoder_splits(void)
{
    guint n_frames;
    g_autoptr(GByteArray) stream = small_stream(&n_frames);
    g_assert_cmpuint(n_frames, >=, 30);

    /* every split point, and every pair of split points 7 bytes apart */
    for (size_t cut = 0; cut <= stream->len; cut++) {
        for (size_t gap = 0; gap <= 7; gap += 7) {
            size_t cut2 = MIN(cut + gap, stream->len);
            g_autoptr(GByteArray) got = g_byte_array_new();
            Collect c = { .frames = got };
            VdIpcDecoder *d = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
            g_assert_cmpint(vd_ipc_decoder_feed(d, stream->data, cut, collect, &c, NULL), ==, 0);
            g_assert_cmpint(vd_ipc_decoder_feed(d, stream->data + cut, cut2 - cut, collect, &c, NULL), ==, 0);
            g_assert_cmpint(vd_ipc_decoder_feed(d, stream->data + cut2, stream->len - cut2, collect, &c, NULL), ==, 0);
            g_assert_cmpuint(c.count, ==, n_frames);
            g_assert_cmpuint(vd_ipc_decoder_pending(d), ==, 0);
            g_assert_cmpmem(got->data, got->len, stream->data, stream->len);
            vd_ipc_decoder_free(d);
        }
    }
}

static void test_decoder_bytewise_and_big(void)
{
    g_autoptr(GPtrArray) a = session_samples();
    g_autoptr(GByteArray) stream = g_byte_array_new();
    for (guint i = 0; i < a->len; i++)
        g_assert_cmpint(sample_encode(stream, a->pdata[i]), ==, 0);

    g_autoptr(GByteArray) got = g_byte_array_new();
    Collect c = { .frames = got };
    VdIpcDecoder *d = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
    for (guint i = 0; i < stream->len; i++) {
        g_assert_cmpint(vd_ipc_decoder_feed(d, stream->data + i, 1, collect, &c, NULL), ==, 0);
        if (i == 3)
            g_assert_cmpuint(vd_ipc_decoder_pending(d), ==, 4);
    }
    g_assert_cmpuint(c.count, ==, a->len);
    g_assert_cmpmem(got->data, got->len, stream->data, stream->len);
    vd_ipc_decoder_free(d);
}

static void test_decoder_bad_headers(void)
{
    static const struct {
        const char *name;
        uint8_t header[8];
        uint32_t max;
    } cases[] = {
        { "flags 1", { 16, 0, 1, 0, 0, 0, 0, 0 }, VD_IPC_MAX_PAYLOAD },
        { "flags 0x8000", { 16, 0, 0, 0x80, 0, 0, 0, 0 }, VD_IPC_MAX_PAYLOAD },
        { "size max+1", { 16, 0, 0, 0, 0x01, 0x01, 0x01, 0 }, VD_IPC_MAX_PAYLOAD }, /* 65793 */
        { "size 4 GiB-1", { 16, 0, 0, 0, 0xff, 0xff, 0xff, 0xff }, VD_IPC_MAX_PAYLOAD },
        { "size over a small max", { 16, 0, 0, 0, 11, 0, 0, 0 }, 10 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) got = g_byte_array_new();
        Collect c = { .frames = got };
        const char *reason = NULL;
        VdIpcDecoder *d = vd_ipc_decoder_new(cases[i].max);
        g_test_message("%s", cases[i].name);
        g_assert_cmpint(vd_ipc_decoder_feed(d, cases[i].header, 7, collect, &c, &reason), ==, 0);
        g_assert_cmpint(vd_ipc_decoder_feed(d, cases[i].header + 7, 1, collect, &c, &reason), ==, -EBADMSG);
        g_assert_nonnull(reason);
        reason = NULL;
        /* sticky */
        g_assert_cmpint(vd_ipc_decoder_feed(d, (const uint8_t *)"", 0, collect, &c, &reason), ==, -EBADMSG);
        g_assert_nonnull(reason);
        g_assert_cmpuint(c.count, ==, 0);
        vd_ipc_decoder_free(d);
    }

    /* size exactly the maximum passes the framing */
    static const uint8_t at_max[] = { 16, 0, 0, 0, 10, 0, 0, 0 };
    g_autoptr(GByteArray) got = g_byte_array_new();
    Collect c = { .frames = got };
    VdIpcDecoder *d = vd_ipc_decoder_new(10);
    g_assert_cmpint(vd_ipc_decoder_feed(d, at_max, sizeof(at_max), collect, &c, NULL), ==, 0);
    g_assert_cmpuint(vd_ipc_decoder_pending(d), ==, 8);
    g_assert_cmpint(vd_ipc_decoder_feed(d, piece_max, 10, collect, &c, NULL), ==, 0);
    g_assert_cmpuint(c.count, ==, 1);
    vd_ipc_decoder_free(d);
    vd_ipc_decoder_free(NULL);
}

static void test_decoder_cancel(void)
{
    guint n_frames;
    g_autoptr(GByteArray) stream = small_stream(&n_frames);
    g_autoptr(GByteArray) got = g_byte_array_new();
    Collect c = { .frames = got, .stop_after = 2 };
    VdIpcDecoder *d = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);

    g_assert_cmpint(vd_ipc_decoder_feed(d, stream->data, stream->len, collect, &c, NULL), ==, -ECANCELED);
    g_assert_cmpuint(c.count, ==, 2);
    g_assert_cmpuint(vd_ipc_decoder_pending(d), ==, 0);
    vd_ipc_decoder_free(d);
}

static void add_sample_tests(GPtrArray *samples)
{
    for (guint i = 0; i < samples->len; i++) {
        const Sample *s = samples->pdata[i];
        g_autofree char *path = g_strdup_printf("/ipc/%s/round-trip/%s", s->control ? "control" : "session", s->name);
        g_strdelimit(path + 5, " ", '-');
        g_test_add_data_func(path, s, test_sample);
    }
}

/* --- trace summaries (vd_session_msg_summary) --- */

static void summarize(const VdSessionMsg *m, char *out, size_t size)
{
    g_autoptr(GByteArray) frame = g_byte_array_new();
    g_assert_cmpint(vd_session_msg_encode(frame, m), ==, 0);
    vd_session_msg_summary(m->type, frame->data + VD_IPC_HEADER_SIZE, frame->len - VD_IPC_HEADER_SIZE, out,
                           size);
}

static void test_session_summary(void)
{
    char out[512];
    VdSessionMsg m = { .type = VD_S_CLIPBOARD_BEGIN };
    m.u.begin.selection = 1;
    m.u.begin.type = VD_CLIPBOARD_UTF8_TEXT;
    m.u.begin.total = 3000000;
    summarize(&m, out, sizeof(out));
    g_assert_cmpstr(out, ==, "PRIMARY UTF8_TEXT total=3000000");

    m = (VdSessionMsg){ .type = VD_S_SESSION_STATE };
    m.u.session_state.active = 1;
    summarize(&m, out, sizeof(out));
    g_assert_cmpstr(out, ==, "active=1 locked=0");

    m = (VdSessionMsg){ .type = VD_S_XFER_START };
    m.u.xfer_start.id = 7;
    m.u.xfer_start.size = 12;
    m.u.xfer_start.name = (char *)"a b.txt";
    summarize(&m, out, sizeof(out));
    g_assert_cmpstr(out, ==, "id=7 size=12 name=\"a b.txt\"");

    /* truncated to the buffer, always terminated */
    summarize(&m, out, 6);
    g_assert_cmpstr(out, ==, "id=7 ");

    /* a frame the decoder refuses says why; an unknown type has no fields */
    static const uint8_t short_begin[] = { 0 };
    vd_session_msg_summary(VD_S_CLIPBOARD_BEGIN, short_begin, sizeof(short_begin), out, sizeof(out));
    g_assert_true(g_str_has_prefix(out, "(undecodable: "));
    vd_session_msg_summary(0x7fff, short_begin, sizeof(short_begin), out, sizeof(out));
    g_assert_true(g_str_has_prefix(out, "(undecodable: "));
    vd_session_msg_summary(0x10000, NULL, 0, out, sizeof(out));
    g_assert_cmpstr(out, ==, "(undecodable: type 65536)");
    vd_session_msg_summary(VD_S_CLIPBOARD_BEGIN, NULL, 0, NULL, 0); /* no buffer: nothing written */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    init_buffers();
    /* Kept for the whole run: the test cases point into them. */
    g_autoptr(GPtrArray) session = session_samples();
    g_autoptr(GPtrArray) control = control_samples();
    add_sample_tests(session);
    add_sample_tests(control);
    g_test_add_func("/ipc/samples-cover-all-types", test_samples_cover_all_types);
    for (size_t i = 0; i < G_N_ELEMENTS(limits); i++) {
        g_autofree char *path = g_strdup_printf("/ipc/limit/%s", limits[i].name);
        g_strdelimit(path + 5, " ", '-');
        g_test_add_data_func(path, &limits[i], test_limit);
    }
    g_test_add_func("/ipc/session/fields", test_session_fields);
    g_test_add_func("/ipc/strings", test_strings);
    g_test_add_func("/ipc/cursor", test_cursor);
    g_test_add_func("/ipc/frame-end", test_frame_end);
    g_test_add_func("/ipc/encode-refuses", test_encode_refuses);
    g_test_add_func("/ipc/unknown-types", test_unknown_types);
    g_test_add_func("/ipc/hello-magic", test_hello_magic);
    g_test_add_func("/ipc/decoder/splits", test_decoder_splits);
    g_test_add_func("/ipc/decoder/bytewise", test_decoder_bytewise_and_big);
    g_test_add_func("/ipc/decoder/bad-headers", test_decoder_bad_headers);
    g_test_add_func("/ipc/decoder/cancel", test_decoder_cancel);
    g_test_add_func("/ipc/session/summary", test_session_summary);
    return g_test_run();
}
