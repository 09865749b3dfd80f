/* libFuzzer target: the watch stream. The input is a watch response body cut
 * into pieces where the fuzzer puts a 0xFF byte (the network splits anywhere);
 * the pieces go through the informer's own framing, event parsing and cache
 * (lp_kube_informer_feed_watch), then the cache is walked. An informer stops
 * reading a watch at the first error, so the same does this. */
#include "../pkg/kube/client.h"
#include "../pkg/kube/config.h"
#include "../pkg/kube/informer.h"
#include "../pkg/util/loop.h"
#include "../pkg/util/mem.h"
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct counts {
	size_t upserts, deletes, kept, seen;
};

static void *transform(void *arg, const char *key, json_t *obj, lp_err *err)
{
	struct counts *c = arg;
	char *k = lp_strdup(key);
	(void)obj;
	if (!k)
		*err = LP_ERR_NOMEM;
	else
		c->kept++;
	return k;
}

static void free_kept(void *arg, void *kept)
{
	struct counts *c = arg;
	c->kept--;
	lp_free(kept);
}

static void on_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old)
{
	struct counts *c = arg;
	(void)obj;
	(void)old;
	if (kept && strcmp(key, kept) != 0)
		abort(); /* the kept thing belongs to another key */
	c->upserts++;
}

static void on_delete(void *arg, const char *key, void *kept)
{
	struct counts *c = arg;
	if (kept && strcmp(key, kept) != 0)
		abort();
	c->deletes++;
}

static int each(void *arg, const char *key, void *kept)
{
	struct counts *c = arg;
	if (kept && strcmp(key, kept) != 0)
		abort();
	c->seen += kept != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lp_loop *loop;
	static struct lp_kube_client *client;
	static struct lp_kube_config cfg;
	struct lp_kube_informer *inf = NULL;
	struct lp_kube_informer_opts opts = {.path = "/api/v1/namespaces/x/configmaps"};
	struct lp_kube_informer_ops ops = {.transform = transform,
	                                   .free_kept = free_kept,
	                                   .on_upsert = on_upsert,
	                                   .on_delete = on_delete};
	struct counts c = {0, 0, 0, 0};
	size_t start = 0;

	if (size > 256 * 1024)
		return 0;
	if (!loop) { /* one loop and client for the process: nothing is ever sent */
		static char server[] = "http://127.0.0.1:9";
		static char ns[] = "default";
		cfg.server = server;
		cfg.ns = ns;
		if (lp_loop_new(&loop, NULL) != LP_OK || lp_kube_client_new(&client, loop, &cfg))
			abort();
	}
	if (lp_kube_informer_new(&inf, client, &opts, &ops, &c) != LP_OK)
		return 0;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != 0xFF)
			continue;
		if (lp_kube_informer_feed_watch(inf, (const char *)data + start, i - start) !=
		    LP_OK)
			break;
		start = i + 1;
	}
	lp_kube_informer_foreach(inf, each, &c);
	if (c.seen != c.kept)
		abort(); /* the cache and the kept things disagree */
	lp_kube_informer_free(inf);
	if (c.kept != 0)
		abort(); /* a kept thing leaked past free */
	return 0;
}
