/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vd-limits.h — every limit on what a peer (the host, a session agent, a local user, a file) can make
 * us allocate or wait for. One place, so that each has a name, a reason and a test that hits it. */
#pragma once

#define VD_KiB (1024u)
#define VD_MiB (1024u * 1024u)

/* --- the VDAgent stream (src/protocol, src/system/host) --- */

/* Largest message delivered whole by the chunk reader; bigger ones must be of a streamed type. */
#define VD_LIMIT_WHOLE_MESSAGE (64u * VD_KiB)
/* Largest streamed message (CLIPBOARD, FILE_XFER_DATA): spice-gtk's MAX_CLIPBOARD is 100 MiB; the
 * daemon never holds a streamed payload, so this only bounds what a single message may claim. */
#define VD_LIMIT_STREAMED_MESSAGE (1024u * VD_MiB)
/* First bytes of a streamed payload handed over with its BEGIN event (selection prefix + type, or
 * FILE_XFER_DATA's id + size). */
#define VD_STREAM_HEAD 12u
/* Entries of one MONITORS_CONFIG (spice-gtk sends 16, sparse). */
#define VD_LIMIT_MONITORS 32u
/* Types in one CLIPBOARD_GRAB. */
#define VD_LIMIT_GRAB_TYPES 64u
/* Entries of one GRAPHICS_DEVICE_INFO, and the length of one device address (with its NUL). */
#define VD_LIMIT_DEVICE_INFO 32u
#define VD_LIMIT_DEVICE_ADDRESS 256u
/* The key file of FILE_XFER_START, and the file name in it (bytes, before sanitising). */
#define VD_LIMIT_XFER_START_TEXT (8u * VD_KiB)
#define VD_LIMIT_XFER_NAME 1024u
/* Channels of one AUDIO_VOLUME_SYNC the agent applies: PulseAudio's PA_CHANNELS_MAX (spice-gtk
 * sends 2). The wire format allows 255; more than this is refused as out of range. */
#define VD_LIMIT_AUDIO_CHANNELS 32u

/* --- our own framed protocols (src/protocol/ipc) --- */

/* Largest payload of one frame on the session or control socket. Clipboard and file data travel in
 * pieces of at most VD_IPC_MAX_PIECE. */
#define VD_IPC_MAX_PAYLOAD (64u * VD_KiB + 256u)
#define VD_IPC_MAX_PIECE (64u * VD_KiB)
/* Strings inside frames (names, reasons, summaries), in bytes without NUL. */
#define VD_IPC_MAX_STRING 4096u
/* Entries of a layout report from a session agent. */
#define VD_IPC_MAX_DISPLAYS 32u
/* An output name in a DEVICE_MAP report (XRandR and DRM connector names are short), and the
 * sound backend's name and error text in VOLUME_APPLIED. */
#define VD_IPC_MAX_OUTPUT_NAME 64u
#define VD_IPC_MAX_AUDIO_BACKEND 32u
#define VD_IPC_MAX_AUDIO_ERROR 256u
