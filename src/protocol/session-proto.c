/* session-proto.c — not written yet. */
#include "session-proto.h"
