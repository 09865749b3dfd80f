/* Placeholder until the render command lands. */
#include <stdio.h>
#include "cli.h"
int lp_cli_render(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "logplane render: not yet\n");
	return 2;
}
