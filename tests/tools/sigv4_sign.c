#include "sigv4.h"
int main(void) { return 0; }
