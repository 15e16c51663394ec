/* ipc.c — not written yet. */
#include "ipc.h"
