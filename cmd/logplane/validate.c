/* Placeholder until the validate command lands. */
#include <stdio.h>
#include "cli.h"
int lp_cli_validate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "logplane validate: not yet\n");
	return 2;
}
