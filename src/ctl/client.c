/* SPDX-License-Identifier: GPL-3.0-or-later */
/* client.c — the control-protocol client of vdagent-ctl. */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

G_DEFINE_QUARK(vd-ctl-error-quark, vd_ctl_error)

struct VdCtlClient {
    int fd;
    VdIpcDecoder *decoder;
    GQueue frames; /* of GBytes: type u16 (host order) + payload, decoded but not yet returned */
    GBytes *current; /* the frame last returned: its message's data and bytes point into it */
};

void vd_ctl_client_free(VdCtlClient *client)
{
    if (!client)
        return;
    if (client->fd >= 0)
        close(client->fd);
    vd_ipc_decoder_free(client->decoder);
    g_queue_clear_full(&client->frames, (GDestroyNotify)g_bytes_unref);
    g_clear_pointer(&client->current, g_bytes_unref);
    g_free(client);
}

static bool write_all(VdCtlClient *client, const guint8 *buf, gsize len, GError **error)
{
    while (len > 0) {
        ssize_t n = send(client->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PROTOCOL, "writing to the daemon: %s",
                        g_strerror(errno));
            return false;
        }
        buf += n;
        len -= (gsize)n;
    }
    return true;
}

bool vd_ctl_client_send(VdCtlClient *client, const VdControlMsg *msg, GError **error)
{
    g_return_val_if_fail(client && msg, false);
    g_autoptr(GByteArray) out = g_byte_array_new();
    if (vd_control_msg_encode(out, msg) < 0) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_USAGE, "request too large for one frame");
        return false;
    }
    g_autoptr(GError) write_error = NULL;
    if (write_all(client, out->data, out->len, &write_error))
        return true;
    /* A daemon that refuses us says why and hangs up at once: the reason, if it is here, is
     * better news than EPIPE. */
    for (int i = 0; i < 4 && write_error; i++) {
        VdControlMsg early = { 0 };
        g_autoptr(GError) why = NULL;
        if (vd_ctl_client_recv(client, &early, 200, &why)) {
            vd_control_msg_clear(&early);
            continue;
        }
        if (why->code == VD_CTL_ERROR_VERSION || why->code == VD_CTL_ERROR_PERMISSION ||
            why->code == VD_CTL_ERROR_FAILED) {
            g_propagate_error(error, g_steal_pointer(&why));
            return false;
        }
        break;
    }
    g_propagate_error(error, g_steal_pointer(&write_error));
    return false;
}

static int queue_frame(uint16_t type, const uint8_t *payload, size_t len, void *user_data)
{
    VdCtlClient *client = user_data;
    GByteArray *frame = g_byte_array_sized_new((guint)len + 2);
    g_byte_array_append(frame, (const guint8 *)&type, 2);
    g_byte_array_append(frame, payload, (guint)len);
    g_queue_push_tail(&client->frames, g_byte_array_free_to_bytes(frame));
    return 0;
}

static bool error_from_frame(const VdControlMsg *msg, GError **error)
{
    const VdIpcError *e = &msg->u.error;
    int code = e->code == VD_IPC_ERR_VERSION      ? VD_CTL_ERROR_VERSION
               : e->code == VD_IPC_ERR_PERMISSION ? VD_CTL_ERROR_PERMISSION
                                                  : VD_CTL_ERROR_FAILED;
    g_set_error(error, VD_CTL_ERROR, code, "the daemon says: %s (%s)", e->message ? e->message : "",
                vd_ipc_error_code_to_string(e->code));
    return false;
}

bool vd_ctl_client_recv(VdCtlClient *client, VdControlMsg *ret, int timeout_ms, GError **error)
{
    g_return_val_if_fail(client && ret, false);
    gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (g_queue_is_empty(&client->frames)) {
        int wait = -1;
        if (deadline >= 0) {
            gint64 left = deadline - g_get_monotonic_time();
            if (left <= 0) {
                g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_TIMEOUT, "no reply from the daemon in %d ms",
                            timeout_ms);
                return false;
            }
            wait = (int)((left + 999) / 1000);
        }
        struct pollfd pfd = { .fd = client->fd, .events = POLLIN };
        int r = poll(&pfd, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PROTOCOL, "poll: %s", g_strerror(errno));
            return false;
        }
        if (r == 0)
            continue;
        guint8 buf[16384];
        ssize_t n = recv(client->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PROTOCOL, "the daemon closed the connection%s%s",
                        n < 0 ? ": " : "", n < 0 ? g_strerror(errno) : "");
            return false;
        }
        const char *reason = NULL;
        if (vd_ipc_decoder_feed(client->decoder, buf, (size_t)n, queue_frame, client, &reason) < 0) {
            g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PROTOCOL, "malformed frame from the daemon: %s",
                        reason ? reason : "?");
            return false;
        }
    }

    g_clear_pointer(&client->current, g_bytes_unref);
    GBytes *frame = client->current = g_queue_pop_head(&client->frames);
    gsize len;
    const guint8 *p = g_bytes_get_data(frame, &len);
    uint16_t type;
    memcpy(&type, p, 2);
    const char *reason = NULL;
    int r = vd_control_msg_decode(type, p + 2, len - 2, ret, &reason);
    if (r < 0) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PROTOCOL, "bad %s frame from the daemon: %s",
                    vd_control_msg_type_to_string(type), reason ? reason : g_strerror(-r));
        return false;
    }
    if (ret->type == VD_IPC_ERROR) {
        error_from_frame(ret, error);
        vd_control_msg_clear(ret);
        return false;
    }
    return true;
}

bool vd_ctl_client_call(VdCtlClient *client, const VdControlMsg *request, int timeout_ms, GError **error)
{
    g_return_val_if_fail(client && request, false);
    if (!vd_ctl_client_send(client, request, error))
        return false;
    VdControlMsg reply = { 0 };
    if (!vd_ctl_client_recv(client, &reply, timeout_ms, error))
        return false;
    bool ok = true;
    if (reply.type != VD_C_RESULT) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PROTOCOL, "expected RESULT, the daemon sent %s",
                    vd_control_msg_type_to_string(reply.type));
        ok = false;
    } else if (reply.u.result.code != 0) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_FAILED, "%s (%s)",
                    reply.u.result.message ? reply.u.result.message : "failed",
                    vd_ipc_error_code_to_string(reply.u.result.code));
        ok = false;
    }
    vd_control_msg_clear(&reply);
    return ok;
}

static int connect_socket(const char *path, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_USAGE, "socket path too long: \"%s\"", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_FAILED, "socket: %s", g_strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        close(fd);
        if (e == EACCES || e == EPERM)
            g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PERMISSION,
                        "permission denied on \"%s\" (the control socket is root only)", path);
        else if (e == ENOENT || e == ECONNREFUSED)
            g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_NOT_RUNNING,
                        "vdagentd is not running (nothing listens on \"%s\")", path);
        else
            g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_FAILED, "connecting to \"%s\": %s", path,
                        g_strerror(e));
        return -1;
    }
    return fd;
}

VdCtlClient *vd_ctl_client_connect(const char *path, int timeout_ms, GError **error)
{
    g_return_val_if_fail(path, NULL);
    int fd = connect_socket(path, error);
    if (fd < 0)
        return NULL;
    g_autoptr(VdCtlClient) client = g_new0(VdCtlClient, 1);
    client->fd = fd;
    client->decoder = vd_ipc_decoder_new(VD_IPC_MAX_PAYLOAD);
    g_queue_init(&client->frames);

    VdControlMsg hello = { .type = VD_IPC_HELLO };
    hello.u.hello.magic = VD_CONTROL_MAGIC;
    hello.u.hello.version_major = VD_CONTROL_VERSION_MAJOR;
    hello.u.hello.version_minor = VD_CONTROL_VERSION_MINOR;
    hello.u.hello.software = (char *)"vdagent-ctl " VDAGENT_VERSION;
    g_autoptr(GError) send_error = NULL;
    if (!vd_ctl_client_send(client, &hello, &send_error)) {
        /* A daemon that refuses us says why (after its HELLO) and hangs up at once, maybe before
         * our HELLO is out. */
        for (int i = 0; i < 2; i++) {
            VdControlMsg early = { 0 };
            g_autoptr(GError) why = NULL;
            if (vd_ctl_client_recv(client, &early, 500, &why)) {
                bool greeted = early.type == VD_IPC_HELLO;
                vd_control_msg_clear(&early);
                if (greeted)
                    continue;
            } else if (why->code == VD_CTL_ERROR_VERSION || why->code == VD_CTL_ERROR_PERMISSION ||
                       why->code == VD_CTL_ERROR_FAILED) {
                g_propagate_error(error, g_steal_pointer(&why));
            }
            break;
        }
        if (error && !*error)
            g_propagate_error(error, g_steal_pointer(&send_error));
        return NULL;
    }

    VdControlMsg reply = { 0 };
    if (!vd_ctl_client_recv(client, &reply, timeout_ms, error))
        return NULL;
    bool ok = true;
    if (reply.type != VD_IPC_HELLO || reply.u.hello.magic != VD_CONTROL_MAGIC) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_PROTOCOL,
                    "\"%s\" does not speak the vdagentd control protocol", path);
        ok = false;
    } else if (reply.u.hello.version_major != VD_CONTROL_VERSION_MAJOR) {
        g_set_error(error, VD_CTL_ERROR, VD_CTL_ERROR_VERSION,
                    "control protocol version mismatch: the daemon speaks %u.%u, this vdagent-ctl %u.%u",
                    reply.u.hello.version_major, reply.u.hello.version_minor, VD_CONTROL_VERSION_MAJOR,
                    VD_CONTROL_VERSION_MINOR);
        ok = false;
    }
    vd_control_msg_clear(&reply);
    return ok ? g_steal_pointer(&client) : NULL;
}
