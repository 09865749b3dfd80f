/* logplane: the command-line tool. One subcommand per file. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: logplane <command> [options]\n"
	        "commands:\n"
	        "  validate -f FILE|DIR         check LogPipeline/LogOutput YAML\n"
	        "  render -f FILE|DIR [-o DIR]  validate and render Fluent Bit configs\n"
	        "  tail -n NAMESPACE [filters]   follow logs live through the hub\n"
	        "  iam-policy [--markdown]      print the operator's IAM policy (JSON)\n"
	        "  version, --version           print the version\n"
	        "exit: 0 valid, 1 something invalid (the rest is still rendered), 2 usage or I/O "
	        "error (a missing file, an unwritable -o DIR)\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "validate") == 0)
		return lp_cli_validate(argc - 1, argv + 1);
	if (strcmp(argv[1], "render") == 0)
		return lp_cli_render(argc - 1, argv + 1);
	if (strcmp(argv[1], "iam-policy") == 0)
		return lp_cli_iam_policy(argc - 1, argv + 1);
	if (strcmp(argv[1], "tail") == 0)
		return lp_cli_tail(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "-V") == 0) {
		printf("logplane %s\n", LP_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "logplane: unknown command \"%s\" (try logplane help)\n", argv[1]);
	return 2;
}
