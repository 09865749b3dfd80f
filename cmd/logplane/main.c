#include <stdio.h>
int main(void)
{
	fprintf(stderr, "logplane: not yet\n");
	return 2;
}
