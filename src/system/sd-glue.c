/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sd-glue.c — readiness notification and socket activation without libsystemd. */
#include "sd-glue.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int vd_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
        return -EINVAL;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t r = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    int e = errno;
    close(fd);
    return r < 0 ? -e : 1;
}

int vd_sd_listen_socket(void)
{
    const char *pid_text = getenv("LISTEN_PID");
    const char *fds_text = getenv("LISTEN_FDS");
    if (!pid_text || !fds_text)
        return 0;
    guint64 pid = 0, n = 0;
    bool mine = g_ascii_string_to_unsigned(pid_text, 10, 1, G_MAXINT, &pid, NULL) && (pid_t)pid == getpid();
    bool parsed = g_ascii_string_to_unsigned(fds_text, 10, 0, 64, &n, NULL);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!mine || !parsed || n == 0)
        return 0;
    for (int fd = 3; fd < 3 + (int)n; fd++)
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (n != 1)
        return -EINVAL;
    int fd = 3, type = 0, listening = 0;
    socklen_t len = sizeof(type);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        return -EINVAL;
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
        return -EINVAL;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || ss.ss_family != AF_UNIX)
        return -EINVAL;
    return fd;
}
