/* SPDX-License-Identifier: GPL-3.0-or-later */
/* port.h — the virtio port to the host: opens it (a character device, or a Unix socket to connect
 * to, which is how tests and benchmarks play the host), moves bytes, and reopens it with an
 * exponential backoff when the host goes away or the stream is broken.
 *
 * Never blocks and never sleeps: reads are driven by the main loop (one read of at most
 * VD_PORT_READ_SIZE per wakeup), writes go through a queue that is flushed as the fd accepts them.
 * Reading can be paused (backpressure while a session agent cannot keep up). A connected idle
 * port costs no wakeups.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct VdPort VdPort;

/* Bytes read per wakeup; also the largest slice handed to the data callback. */
#define VD_PORT_READ_SIZE (64u * 1024u)
/* Reopen backoff: first delay, doubling up to the maximum. */
#define VD_PORT_BACKOFF_MIN_MS 100u
#define VD_PORT_BACKOFF_MAX_MS 5000u
/* Output queued beyond this is "full": producers (agents streaming data) are paused. */
#define VD_PORT_OUT_HIGH (256u * 1024u)

typedef struct {
    void (*opened)(void *user_data);
    /* Bytes read from the host. */
    void (*data)(const uint8_t *buf, size_t len, void *user_data);
    /* The port was closed (why: for logs); a reopen is scheduled. */
    void (*closed)(const char *why, void *user_data);
    /* The output queue fell below VD_PORT_OUT_HIGH after having been above it. */
    void (*drained)(void *user_data);
} VdPortCallbacks;

VdPort *vd_port_new(const char *path, const VdPortCallbacks *callbacks, void *user_data);
void vd_port_free(VdPort *port);
/* First open attempt (later ones are automatic). */
void vd_port_start(VdPort *port);
bool vd_port_is_open(const VdPort *port);
const char *vd_port_path(const VdPort *port);

/* The queue to append framed bytes to; call vd_port_flush() after appending. Appending while the
 * port is closed is allowed: the bytes are dropped on flush. */
GByteArray *vd_port_out(VdPort *port);
void vd_port_flush(VdPort *port);
size_t vd_port_queued(const VdPort *port);
bool vd_port_full(const VdPort *port);

/* Pause or resume reading (backpressure). */
void vd_port_set_reading(VdPort *port, bool reading);
/* Close now (framing error, a stream that cannot be completed) and reopen after delay_ms, or
 * after the (growing) backoff if delay_ms is 0. */
void vd_port_reset(VdPort *port, const char *why, unsigned delay_ms);
/* The peer sent something valid: the next failure starts the backoff from its minimum again. */
void vd_port_healthy(VdPort *port);

/* Counters for status. */
uint64_t vd_port_bytes_in(const VdPort *port);
uint64_t vd_port_bytes_out(const VdPort *port);
unsigned vd_port_opens(const VdPort *port);
/* CLOCK_REALTIME (µs) of the last open or close; 0 before the first. */
int64_t vd_port_since(const VdPort *port);
/* Why the port last closed or failed to open (NULL if it never did). */
const char *vd_port_last_error(const VdPort *port);
