/* vd-messages.c — not written yet. */
#include "vd-messages.h"
