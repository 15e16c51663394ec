/* vd-proto.c — not written yet. */
#include "vd-proto.h"
