/* daemon-link.c — not written yet. */
#include <glib.h>
