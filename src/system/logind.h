/* SPDX-License-Identifier: GPL-3.0-or-later */
/* logind.h — the names of systemd-logind's D-Bus API, for every module that calls it: sessions.c
 * (the session table and pid lookups), power.c (PowerOff/Reboot/Halt), qga-commands.c
 * (guest-get-users), qga-suspend.c (Suspend/Hibernate). See org.freedesktop.login1(5).
 *
 * Why D-Bus and not sd-login, where both would do: docs/sessions.md, "Why D-Bus alone". */
#pragma once

#define VD_LOGIND_BUS_NAME "org.freedesktop.login1"
#define VD_LOGIND_PATH "/org/freedesktop/login1"
#define VD_LOGIND_MANAGER VD_LOGIND_BUS_NAME ".Manager"
#define VD_LOGIND_SESSION VD_LOGIND_BUS_NAME ".Session"
#define VD_LOGIND_USER VD_LOGIND_BUS_NAME ".User"
#define VD_DBUS_PROPERTIES "org.freedesktop.DBus.Properties"
