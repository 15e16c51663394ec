/* chunk-writer.c — not written yet. */
#include "chunk-writer.h"
