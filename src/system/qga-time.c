/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-time.c — guest-set-time, inside the time helper (CAP_SYS_TIME and the RTC device only).
 *
 * With a time: the system clock is set to it, then the RTC to the system clock (qemu-ga runs
 * `hwclock -w`). Without: the system clock is set from the RTC (qemu-ga's `hwclock -s`), which is
 * what libvirt's `virsh domtime --sync` asks after a resume. The RTC is read and written with the
 * RTC_RD_TIME/RTC_SET_TIME ioctls, no program spawned; it keeps UTC unless /etc/adjtime's third
 * line says LOCAL, as hwclock(8) decides. */
#include "qga-privileged.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/rtc.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "qga-verbs.h"

static const char *rtc_path = VD_QGA_RTC_DEVICE;

void vd_qga_time_init(const char *rtc)
{
    if (rtc)
        rtc_path = rtc;
}

static gboolean rtc_is_local(void)
{
    g_autofree char *text = vd_qga_read_file("/etc/adjtime", VD_QGA_MAX_SYSFS_FILE, NULL);
    if (!text)
        return FALSE;
    g_auto(GStrv) lines = g_strsplit(text, "\n", 4);
    return g_strv_length(lines) >= 3 && g_str_equal(g_strstrip(lines[2]), "LOCAL");
}

static JsonNode *null_node(void)
{
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, json_object_new());
    return node;
}

static gboolean set_system_time(gint64 sec, long nsec, GError **error)
{
    struct timespec ts = {.tv_sec = (time_t) sec, .tv_nsec = nsec};
    if (clock_settime(CLOCK_REALTIME, &ts) != 0) {
        int e = errno;
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "Failed to set time to guest: %s",
                    g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

JsonNode *vd_qga_set_time(JsonObject *args, GError **error)
{
    JsonNode *t = json_object_get_member(args, "time");
    gboolean local = rtc_is_local();
    if (t) {
        gint64 ns = json_node_get_int(t);
        /* Any non-negative int64 of nanoseconds (up to 2262) fits a 64-bit time_t and the RTC. */
        if (ns < 0) {
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                        "Invalid time %" G_GINT64_FORMAT ": before the epoch", ns);
            return NULL;
        }
        if (!set_system_time(ns / 1000000000, (long) (ns % 1000000000), error))
            return NULL;
        g_message("guest-set-time: system clock set to %" G_GINT64_FORMAT " ns since the epoch", ns);
        int fd = open(rtc_path, O_RDWR | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            g_warning("guest-set-time: no RTC at %s: only the system clock was set", rtc_path);
            return null_node();
        }
        time_t sec = (time_t) (ns / 1000000000);
        struct tm tm;
        if (local)
            localtime_r(&sec, &tm);
        else
            gmtime_r(&sec, &tm);
        struct rtc_time rtc = {tm.tm_sec, tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon, tm.tm_year, 0, 0, 0};
        if (fd < 0 || ioctl(fd, RTC_SET_TIME, &rtc) != 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                        "The system clock was set, but not the hardware clock %s: %s", rtc_path, g_strerror(e));
            return NULL;
        }
        close(fd);
        return null_node();
    }
    int fd = open(rtc_path, O_RDONLY | O_CLOEXEC);
    struct rtc_time rtc;
    if (fd < 0 || ioctl(fd, RTC_RD_TIME, &rtc) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "Cannot read the hardware clock %s: %s",
                    rtc_path, g_strerror(e));
        return NULL;
    }
    close(fd);
    struct tm tm = {.tm_sec = rtc.tm_sec, .tm_min = rtc.tm_min, .tm_hour = rtc.tm_hour, .tm_mday = rtc.tm_mday,
                    .tm_mon = rtc.tm_mon, .tm_year = rtc.tm_year, .tm_isdst = -1};
    time_t sec = local ? mktime(&tm) : timegm(&tm);
    if (sec == (time_t) -1) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "The hardware clock %s holds an invalid time",
                    rtc_path);
        return NULL;
    }
    if (!set_system_time(sec, 0, error))
        return NULL;
    g_message("guest-set-time: system clock set from %s (%s): %lld", rtc_path, local ? "local time" : "UTC",
              (long long) sec);
    return null_node();
}
