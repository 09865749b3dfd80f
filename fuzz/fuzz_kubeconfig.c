/* libFuzzer target: kubeconfig parsing (lp_kube_config_from_kubeconfig) on
 * the input written to a private temporary file, once with the current
 * context and once with a context named "other". */
#include "../pkg/kube/config.h"
#include "../pkg/util/buf.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static const char *const contexts[] = {NULL, "other"};
	FILE *f;

	if (size > 128 * 1024)
		return 0;
	if (!path[0]) {
		int fd;
		snprintf(path, sizeof(path), "/tmp/lp-fuzz-kubeconfig.XXXXXX");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	for (size_t i = 0; i < 2; i++) {
		struct lp_kube_config *cfg = NULL;
		struct lp_buf msg;
		lp_buf_init(&msg, 4096);
		if (lp_kube_config_from_kubeconfig(&cfg, path, contexts[i], &msg) == LP_OK) {
			if (!cfg || !cfg->server || !cfg->ns)
				abort(); /* success promises a server and a namespace */
		}
		lp_kube_config_free(cfg);
		lp_buf_free(&msg);
	}
	return 0;
}
