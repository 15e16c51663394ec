/* grab-serial.c — not written yet. */
#include "grab-serial.h"
