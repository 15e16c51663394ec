/* main.c — not written yet. */
#include <glib.h>
int main(void) { return 0; }
