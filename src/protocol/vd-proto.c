/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-proto.c — names of the VDAgent protocol's numbers, and capability-set helpers. */
#include "vd-proto.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

static const char *name_or_unknown(const char *const *names, size_t n, uint32_t value)
{
    if (value < n && names[value])
        return names[value];
    return "UNKNOWN";
}

const char *vd_msg_type_to_string(uint32_t type)
{
    static const char *const names[] = {
        [VD_MSG_MOUSE_STATE] = "MOUSE_STATE",
        [VD_MSG_MONITORS_CONFIG] = "MONITORS_CONFIG",
        [VD_MSG_REPLY] = "REPLY",
        [VD_MSG_CLIPBOARD] = "CLIPBOARD",
        [VD_MSG_DISPLAY_CONFIG] = "DISPLAY_CONFIG",
        [VD_MSG_ANNOUNCE_CAPABILITIES] = "ANNOUNCE_CAPABILITIES",
        [VD_MSG_CLIPBOARD_GRAB] = "CLIPBOARD_GRAB",
        [VD_MSG_CLIPBOARD_REQUEST] = "CLIPBOARD_REQUEST",
        [VD_MSG_CLIPBOARD_RELEASE] = "CLIPBOARD_RELEASE",
        [VD_MSG_FILE_XFER_START] = "FILE_XFER_START",
        [VD_MSG_FILE_XFER_STATUS] = "FILE_XFER_STATUS",
        [VD_MSG_FILE_XFER_DATA] = "FILE_XFER_DATA",
        [VD_MSG_CLIENT_DISCONNECTED] = "CLIENT_DISCONNECTED",
        [VD_MSG_MAX_CLIPBOARD] = "MAX_CLIPBOARD",
        [VD_MSG_AUDIO_VOLUME_SYNC] = "AUDIO_VOLUME_SYNC",
        [VD_MSG_GRAPHICS_DEVICE_INFO] = "GRAPHICS_DEVICE_INFO",
    };
    return name_or_unknown(names, G_N_ELEMENTS(names), type);
}

const char *vd_cap_to_string(uint32_t cap)
{
    static const char *const names[] = {
        [VD_CAP_MOUSE_STATE] = "MOUSE_STATE",
        [VD_CAP_MONITORS_CONFIG] = "MONITORS_CONFIG",
        [VD_CAP_REPLY] = "REPLY",
        [VD_CAP_CLIPBOARD] = "CLIPBOARD",
        [VD_CAP_DISPLAY_CONFIG] = "DISPLAY_CONFIG",
        [VD_CAP_CLIPBOARD_BY_DEMAND] = "CLIPBOARD_BY_DEMAND",
        [VD_CAP_CLIPBOARD_SELECTION] = "CLIPBOARD_SELECTION",
        [VD_CAP_SPARSE_MONITORS_CONFIG] = "SPARSE_MONITORS_CONFIG",
        [VD_CAP_GUEST_LINEEND_LF] = "GUEST_LINEEND_LF",
        [VD_CAP_GUEST_LINEEND_CRLF] = "GUEST_LINEEND_CRLF",
        [VD_CAP_MAX_CLIPBOARD] = "MAX_CLIPBOARD",
        [VD_CAP_AUDIO_VOLUME_SYNC] = "AUDIO_VOLUME_SYNC",
        [VD_CAP_MONITORS_CONFIG_POSITION] = "MONITORS_CONFIG_POSITION",
        [VD_CAP_FILE_XFER_DISABLED] = "FILE_XFER_DISABLED",
        [VD_CAP_FILE_XFER_DETAILED_ERRORS] = "FILE_XFER_DETAILED_ERRORS",
        [VD_CAP_GRAPHICS_DEVICE_INFO] = "GRAPHICS_DEVICE_INFO",
        [VD_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB] = "CLIPBOARD_NO_RELEASE_ON_REGRAB",
        [VD_CAP_CLIPBOARD_GRAB_SERIAL] = "CLIPBOARD_GRAB_SERIAL",
    };
    return name_or_unknown(names, G_N_ELEMENTS(names), cap);
}

const char *vd_clipboard_type_to_string(uint32_t type)
{
    static const char *const names[] = {
        [VD_CLIPBOARD_NONE] = "NONE",
        [VD_CLIPBOARD_UTF8_TEXT] = "UTF8_TEXT",
        [VD_CLIPBOARD_IMAGE_PNG] = "IMAGE_PNG",
        [VD_CLIPBOARD_IMAGE_BMP] = "IMAGE_BMP",
        [VD_CLIPBOARD_IMAGE_TIFF] = "IMAGE_TIFF",
        [VD_CLIPBOARD_IMAGE_JPG] = "IMAGE_JPG",
        [VD_CLIPBOARD_FILE_LIST] = "FILE_LIST",
    };
    return name_or_unknown(names, G_N_ELEMENTS(names), type);
}

const char *vd_selection_to_string(uint32_t selection)
{
    static const char *const names[] = {
        [VD_SELECTION_CLIPBOARD] = "CLIPBOARD",
        [VD_SELECTION_PRIMARY] = "PRIMARY",
        [VD_SELECTION_SECONDARY] = "SECONDARY",
    };
    return name_or_unknown(names, G_N_ELEMENTS(names), selection);
}

const char *vd_xfer_result_to_string(uint32_t result)
{
    static const char *const names[] = {
        [VD_XFER_CAN_SEND_DATA] = "CAN_SEND_DATA",
        [VD_XFER_CANCELLED] = "CANCELLED",
        [VD_XFER_ERROR] = "ERROR",
        [VD_XFER_SUCCESS] = "SUCCESS",
        [VD_XFER_NOT_ENOUGH_SPACE] = "NOT_ENOUGH_SPACE",
        [VD_XFER_SESSION_LOCKED] = "SESSION_LOCKED",
        [VD_XFER_VDAGENT_NOT_CONNECTED] = "VDAGENT_NOT_CONNECTED",
        [VD_XFER_DISABLED] = "DISABLED",
    };
    return name_or_unknown(names, G_N_ELEMENTS(names), result);
}

const char *vd_reply_error_to_string(uint32_t error)
{
    static const char *const names[] = {
        [VD_REPLY_SUCCESS] = "SUCCESS",
        [VD_REPLY_ERROR] = "ERROR",
    };
    return name_or_unknown(names, G_N_ELEMENTS(names), error);
}

const char *vd_port_to_string(uint32_t port)
{
    static const char *const names[] = {
        [VD_PORT_CLIENT] = "CLIENT",
        [VD_PORT_SERVER] = "SERVER",
    };
    return name_or_unknown(names, G_N_ELEMENTS(names), port);
}

/* Appends s to buf (of size, holding *pos bytes), truncating; keeps buf NUL-terminated. */
static void append(char *buf, size_t size, size_t *pos, const char *s)
{
    if (*pos + 1 >= size)
        return;
    int n = snprintf(buf + *pos, size - *pos, "%s", s);
    if (n < 0)
        return;
    *pos += (size_t)n < size - *pos ? (size_t)n : size - *pos - 1;
}

static const char *bits_to_string(const uint32_t *words, uint32_t n_words, const char *(*name)(uint32_t),
                                  uint32_t n_known, char *buf, size_t size)
{
    size_t pos = 0;

    if (!buf || size == 0)
        return "";
    buf[0] = '\0';
    for (uint32_t w = 0; w < n_words; w++) {
        for (uint32_t b = 0; b < 32; b++) {
            if (!((words[w] >> b) & 1u))
                continue;
            uint32_t bit = w * 32 + b;
            char tmp[16];
            const char *s;
            if (bit < n_known && strcmp(name(bit), "UNKNOWN") != 0) {
                s = name(bit);
            } else {
                snprintf(tmp, sizeof(tmp), "%u", bit);
                s = tmp;
            }
            if (pos > 0)
                append(buf, size, &pos, "|");
            append(buf, size, &pos, s);
        }
    }
    if (pos == 0)
        append(buf, size, &pos, "none");
    return buf;
}

static const char *button_name(uint32_t bit)
{
    switch (1u << bit) {
    case VD_BUTTON_LEFT: return "LEFT";
    case VD_BUTTON_MIDDLE: return "MIDDLE";
    case VD_BUTTON_RIGHT: return "RIGHT";
    case VD_BUTTON_WHEEL_UP: return "WHEEL_UP";
    case VD_BUTTON_WHEEL_DOWN: return "WHEEL_DOWN";
    case VD_BUTTON_SIDE: return "SIDE";
    case VD_BUTTON_EXTRA: return "EXTRA";
    default: return "UNKNOWN";
    }
}

const char *vd_buttons_to_string(uint32_t buttons, char *buf, size_t size)
{
    size_t pos = 0;

    if (!buf || size == 0)
        return "";
    buf[0] = '\0';
    for (uint32_t b = 0; b < 32; b++) {
        if (!((buttons >> b) & 1u))
            continue;
        const char *s = button_name(b);
        char tmp[16];
        if (strcmp(s, "UNKNOWN") == 0) {
            snprintf(tmp, sizeof(tmp), "0x%x", 1u << b);
            s = tmp;
        }
        if (pos > 0)
            append(buf, size, &pos, "|");
        append(buf, size, &pos, s);
    }
    if (pos == 0)
        append(buf, size, &pos, "none");
    return buf;
}

void vd_caps_intersect(const VdCaps *a, const VdCaps *b, VdCaps *ret)
{
    for (uint32_t i = 0; i < VD_CAPS_MAX_WORDS; i++)
        ret->words[i] = a->words[i] & b->words[i];
}

uint32_t vd_caps_n_words(const VdCaps *caps)
{
    uint32_t n = VD_CAPS_MAX_WORDS;

    while (n > 1 && caps->words[n - 1] == 0)
        n--;
    return n;
}

const char *vd_caps_to_string(const VdCaps *caps, char *buf, size_t size)
{
    return bits_to_string(caps->words, VD_CAPS_MAX_WORDS, vd_cap_to_string, VD_CAP_END, buf, size);
}
