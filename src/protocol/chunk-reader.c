/* chunk-reader.c — not written yet. */
#include "chunk-reader.h"
