/* SPDX-License-Identifier: GPL-3.0-or-later */
/* clip-probe.c — a small X requestor for the clipboard tests: asks what xclip and xsel cannot
 * (TIMESTAMP, MULTIPLE, the exact refusal), and prints the answer in a form tests can parse.
 *
 *   clip-probe [--display D] owner SELECTION            "0xWINDOW NAME", exit 1 if unowned
 *   clip-probe [--display D] get SELECTION TARGET       the answer (see print_property), exit 2 if refused
 *   clip-probe [--display D] multiple SELECTION T1 T2…  MULTIPLE with one property per target
 *   clip-probe [--display D] servertime                 the X server's current time
 *
 * Answers: a line "type NAME format F bytes N" then, for ATOM, one "atom NAME" line per atom;
 * for INTEGER "int V" lines; for 8-bit data one "hex …" line (INCR answers are reassembled).
 * A test tool: it may wait (with a 15 s deadline) where the agent never does.
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEADLINE_MS 15000

static Display *dpy;
static Window win;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next event matching type (and window), or false at the deadline. */
static bool next_event(int type, XEvent *ev, long long deadline)
{
    for (;;) {
        while (XPending(dpy)) {
            XNextEvent(dpy, ev);
            if (ev->type == type)
                return true;
        }
        long long left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = ConnectionNumber(dpy), .events = POLLIN};
        poll(&p, 1, (int)left);
    }
}

static Time server_time(void)
{
    Atom a = XInternAtom(dpy, "_CLIP_PROBE_TIME", False);
    XChangeProperty(dpy, win, a, XA_INTEGER, 32, PropModeAppend, NULL, 0);
    XEvent ev;
    long long deadline = now_ms() + DEADLINE_MS;
    while (next_event(PropertyNotify, &ev, deadline))
        if (ev.xproperty.atom == a)
            return ev.xproperty.time;
    return CurrentTime;
}

static void print_atom(const char *prefix, Atom a)
{
    char *name = a == None ? NULL : XGetAtomName(dpy, a);
    printf("%s%s\n", prefix, name ? name : "None");
    if (name)
        XFree(name);
}

/* Reads (and deletes) property, following INCR; prints it. Returns false on failure. */
static bool print_property(Atom property)
{
    Atom type, incr = XInternAtom(dpy, "INCR", False);
    int format;
    unsigned long n, after;
    unsigned char *data = NULL;
    if (XGetWindowProperty(dpy, win, property, 0, 0x1fffffff, True, AnyPropertyType, &type, &format, &n, &after,
                           &data) != Success)
        return false;
    unsigned char *all = NULL;
    size_t len = 0;
    if (type == incr) {
        XFree(data);
        format = 8;
        type = None;
        long long deadline = now_ms() + DEADLINE_MS;
        for (;;) {
            XEvent ev;
            if (!next_event(PropertyNotify, &ev, deadline))
                return false;
            if (ev.xproperty.atom != property || ev.xproperty.state != PropertyNewValue)
                continue;
            Atom t;
            if (XGetWindowProperty(dpy, win, property, 0, 0x1fffffff, True, AnyPropertyType, &t, &format, &n, &after,
                                   &data) != Success)
                return false;
            if (type == None)
                type = t;
            if (n == 0) {
                XFree(data);
                break;
            }
            all = realloc(all, len + n);
            memcpy(all + len, data, n);
            len += n;
            XFree(data);
            deadline = now_ms() + DEADLINE_MS;
        }
        n = len;
        data = all;
    }
    char *tname = type == None ? NULL : XGetAtomName(dpy, type);
    size_t bytes = format == 8 ? n : format == 16 ? n * 2 : n * 4;
    printf("type %s format %d bytes %zu\n", tname ? tname : "None", format, bytes);
    if (tname)
        XFree(tname);
    if (format == 32) {
        const long *v = (const long *)data;
        for (unsigned long i = 0; i < n; i++) {
            if (type == XA_ATOM || type == XInternAtom(dpy, "ATOM_PAIR", False))
                print_atom("atom ", (Atom)v[i]);
            else
                printf("int %lu\n", (unsigned long)v[i]);
        }
    } else if (format == 8) {
        printf("hex ");
        for (unsigned long i = 0; i < n; i++)
            printf("%02x", data[i]);
        printf("\n");
    }
    if (all)
        free(all);
    else if (data)
        XFree(data);
    return true;
}

static int convert(Atom selection, Atom target, Atom property, Time t)
{
    XConvertSelection(dpy, selection, target, property, win, t);
    XEvent ev;
    long long deadline = now_ms() + DEADLINE_MS;
    while (next_event(SelectionNotify, &ev, deadline)) {
        if (ev.xselection.selection != selection)
            continue;
        if (ev.xselection.property == None) {
            printf("refused\n");
            return 2;
        }
        return 0;
    }
    printf("timeout\n");
    return 3;
}

int main(int argc, char **argv)
{
    const char *display = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--display") == 0) {
        display = argv[i + 1];
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: clip-probe [--display D] owner|get|multiple|servertime …\n");
        return 64;
    }
    dpy = XOpenDisplay(display);
    if (!dpy) {
        fprintf(stderr, "clip-probe: cannot open display\n");
        return 69;
    }
    XSetWindowAttributes attrs = {.event_mask = PropertyChangeMask};
    win = XCreateWindow(dpy, DefaultRootWindow(dpy), 0, 0, 1, 1, 0, 0, InputOnly, CopyFromParent, CWEventMask, &attrs);
    const char *cmd = argv[i++];
    if (strcmp(cmd, "servertime") == 0) {
        printf("%lu\n", (unsigned long)server_time());
        return 0;
    }
    if (i >= argc)
        return 64;
    Atom selection = XInternAtom(dpy, argv[i++], False);
    if (strcmp(cmd, "owner") == 0) {
        Window owner = XGetSelectionOwner(dpy, selection);
        if (owner == None)
            return 1;
        char *name = NULL;
        XFetchName(dpy, owner, &name);
        printf("0x%lx %s\n", (unsigned long)owner, name ? name : "");
        if (name)
            XFree(name);
        return 0;
    }
    Time t = server_time();
    if (strcmp(cmd, "get") == 0 && i < argc) {
        Atom prop = XInternAtom(dpy, "_CLIP_PROBE", False);
        int r = convert(selection, XInternAtom(dpy, argv[i], False), prop, t);
        if (r != 0)
            return r;
        return print_property(prop) ? 0 : 4;
    }
    if (strcmp(cmd, "multiple") == 0 && i < argc) {
        int n = argc - i;
        long *pairs = calloc((size_t)n * 2, sizeof(long));
        Atom *props = calloc((size_t)n, sizeof(Atom));
        for (int k = 0; k < n; k++) {
            char name[32];
            snprintf(name, sizeof(name), "_CLIP_PROBE_%d", k);
            props[k] = XInternAtom(dpy, name, False);
            pairs[2 * k] = (long)XInternAtom(dpy, argv[i + k], False);
            pairs[2 * k + 1] = (long)props[k];
        }
        Atom mprop = XInternAtom(dpy, "_CLIP_PROBE_MULTIPLE", False);
        XChangeProperty(dpy, win, mprop, XInternAtom(dpy, "ATOM_PAIR", False), 32, PropModeReplace,
                        (unsigned char *)pairs, n * 2);
        int r = convert(selection, XInternAtom(dpy, "MULTIPLE", False), mprop, t);
        if (r != 0)
            return r;
        Atom type;
        int format;
        unsigned long got, after;
        unsigned char *data = NULL;
        XGetWindowProperty(dpy, win, mprop, 0, 1024, True, AnyPropertyType, &type, &format, &got, &after, &data);
        const long *back = (const long *)data;
        for (int k = 0; k < n && (unsigned long)(2 * k + 1) < got; k++) {
            printf("item %d ", k);
            print_atom("", (Atom)back[2 * k]);
            if ((Atom)back[2 * k] != None)
                print_property(props[k]);
        }
        if (data)
            XFree(data);
        free(pairs);
        free(props);
        return 0;
    }
    fprintf(stderr, "clip-probe: unknown command\n");
    return 64;
}
