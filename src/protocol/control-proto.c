/* control-proto.c — not written yet. */
#include "control-proto.h"
