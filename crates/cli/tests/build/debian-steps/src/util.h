long triangle(long n);
