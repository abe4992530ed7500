#include <stdio.h>
#include <stdlib.h>

#include "util.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5;
    printf("triangle(%ld) = %ld\n", n, triangle(n));
    return 0;
}
