/* Unit tests for pkg/reconcile/desired: the agents' ConfigMaps and credentials
 * Secrets are named by their content (a set never changes under a running
 * pod), and the credentials are split so that no Secret exceeds what a real
 * API server accepts (1 MiB of keys and decoded values). */
#include "lp_test.h"
#include "../../pkg/reconcile/desired.h"
#include "../../pkg/util/mem.h"
#include <jansson.h>
#include <stdlib.h>

static const struct lp_desired_obj *find(const struct lp_desired *d, enum lp_owned_kind k,
                                         const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind == k && !strcmp(d->v[i].name, name))
			return &d->v[i];
	return NULL;
}

static const json_t *pod_spec(const struct lp_desired *d)
{
	const struct lp_desired_obj *ds = find(d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	return ds ? json_object_get(json_object_get(json_object_get(ds->obj, "spec"), "template"),
	                            "spec")
	          : NULL;
}

/* The names the DaemonSet's config volume lists, in order (at most 8). */
static size_t config_parts(const struct lp_desired *d, const char *out[8])
{
	const json_t *v, *src;
	size_t i, j, n = 0;

	json_array_foreach(json_object_get(pod_spec(d), "volumes"), i, v)
	{
		const char *vn = json_string_value(json_object_get(v, "name"));
		if (!vn || strcmp(vn, "config"))
			continue;
		json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), j,
		                   src)
		{
			if (n < 8)
				out[n++] = json_string_value(
				    json_object_get(json_object_get(src, "configMap"), "name"));
		}
	}
	return n;
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789abcdef", s[i]))
			return 0;
	return s[n] == '\0';
}

/* Parts are named base-<10 hex>; a change to one file renames only the part
 * holding it; the entry file's part comes first and is named in
 * shipper_config; the same input gives the same names. */
static void t_content_named_parts(void)
{
	static struct lp_render_file files[3];
	struct lp_rendered r;
	struct lp_desired_input in;
	struct lp_desired a, b, c;
	const char *pa[8], *pb[8], *pc[8];
	size_t big = LP_RENDER_SPLIT_BYTES - 4096, na, nb, nc;
	char *blob = malloc(big + 1), *blob2 = malloc(big + 1);

	LP_CHECK(blob && blob2);
	if (!blob || !blob2)
		goto out;
	memset(blob, 'x', big);
	blob[big] = '\0';
	memset(blob2, 'y', big);
	blob2[big] = '\0';
	memset(&r, 0, sizeof(r));
	memset(&in, 0, sizeof(in));
	files[0] = (struct lp_render_file){"fluent-bit.yaml", "includes: [part-000.yaml]\n", 26};
	files[1] = (struct lp_render_file){"part-000.yaml", blob, big};
	files[2] = (struct lp_render_file){"part-001.yaml", blob, big};
	r.shipper.files = files;
	r.shipper.n_files = 3;
	strcpy(r.shipper.hash, "1");
	in.rendered = &r;
	LP_CHECK_INT(lp_desired_build(&a, &in), LP_OK);
	LP_CHECK_INT(lp_desired_build(&b, &in), LP_OK);
	na = config_parts(&a, pa);
	nb = config_parts(&b, pb);
	/* [entry, part-000] fit in one ConfigMap, part-001 in a second */
	LP_CHECK_INT(na, 2);
	LP_CHECK_INT(nb, 2);
	for (size_t i = 0; i < na && i < nb; i++) {
		size_t bl = strlen(LP_SHIPPER_CONFIG_NAME);
		LP_CHECK(pa[i] && !strncmp(pa[i], LP_SHIPPER_CONFIG_NAME "-", bl + 1) &&
		         is_hex(pa[i] + bl + 1, 10));
		LP_CHECK(find(&a, LP_OWNED_CONFIGMAP, pa[i]) != NULL);
		LP_CHECK_STR(pa[i], pb[i]);
	}
	LP_CHECK_STR(a.shipper_config, na ? pa[0] : "?");
	LP_CHECK(na < 2 || strcmp(pa[0], pa[1]) != 0);
	/* a change to part-001 renames only the second part */
	files[2].data = blob2;
	strcpy(r.shipper.hash, "2");
	LP_CHECK_INT(lp_desired_build(&c, &in), LP_OK);
	nc = config_parts(&c, pc);
	LP_CHECK_INT(nc, 2);
	if (na == 2 && nc == 2) {
		LP_CHECK_STR(pa[0], pc[0]);
		LP_CHECK(strcmp(pa[1], pc[1]) != 0);
		LP_CHECK(find(&c, LP_OWNED_CONFIGMAP, pa[1]) == NULL);
	}
	lp_desired_free(&c);
	lp_desired_free(&a);
	lp_desired_free(&b);
out:
	free(blob);
	free(blob2);
}

/* Base64 of n bytes of 'v' (n a multiple of 3). */
static char *b64_of(size_t n)
{
	char *s = malloc(n / 3 * 4 + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n / 3 * 4; i += 4)
		memcpy(s + i, "dnZ2", 4); /* "vvv" */
	s[n / 3 * 4] = '\0';
	return s;
}

/* Bytes a real API server counts for a Secret: keys + decoded values. */
static size_t secret_size(const json_t *obj)
{
	const char *k;
	const json_t *v;
	size_t n = 0;

	json_object_foreach((json_t *)json_object_get(obj, "data"), k, v)
	{
		size_t l = strlen(json_string_value(v));
		n += strlen(k) + l / 4 * 3;
	}
	return n;
}

/* Two tenants' ~700 KB values: two credentials Secrets, each under 1 MiB,
 * each env var referring to the one holding its key; a value larger than a
 * Secret holds is left out (counted), and nothing refers to it. */
static void t_credentials_split(void)
{
	struct lp_render_file file = {"fluent-bit.yaml", "service: {}\n", 12};
	struct lp_render_env env[3] = {
	    {"LP_SECRET_A", "team-a", "big", "v"},
	    {"LP_SECRET_B", "team-b", "big", "v"},
	    {"LP_SECRET_C", "team-c", "small", "v"},
	};
	char *va = b64_of(700 * 1024 + 2), *vb = b64_of(700 * 1024 + 2),
	     *huge = b64_of(1100 * 1024);
	struct lp_test_secret secrets[] = {
	    {"team-a", "big", "v", va},
	    {"team-b", "big", "v", vb},
	    {"team-c", "small", "v", "c21hbGw="},
	    {NULL, NULL, NULL, NULL},
	};
	struct lp_rendered r;
	struct lp_desired_input in;
	struct lp_desired d;
	size_t n_secrets = 0, total = 0;
	const json_t *e, *c;
	size_t i;

	LP_CHECK(va && vb && huge);
	if (!va || !vb || !huge)
		goto out;
	memset(&r, 0, sizeof(r));
	memset(&in, 0, sizeof(in));
	r.shipper.files = &file;
	r.shipper.n_files = 1;
	r.env = env;
	r.n_env = 3;
	in.rendered = &r;
	in.secret_value = lp_test_secret_lookup;
	in.secret_ctx = secrets;
	LP_CHECK_INT(lp_desired_build(&d, &in), LP_OK);
	LP_CHECK_INT(d.n_missing_secrets, 0);
	for (i = 0; i < d.n; i++) {
		if (d.v[i].kind != LP_OWNED_SECRET)
			continue;
		n_secrets++;
		LP_CHECK(!strncmp(d.v[i].name, LP_CREDENTIALS_NAME "-",
		                  strlen(LP_CREDENTIALS_NAME) + 1));
		LP_CHECK(secret_size(d.v[i].obj) <= 1024 * 1024);
		total += secret_size(d.v[i].obj);
	}
	LP_CHECK_INT(n_secrets, 2);
	LP_CHECK(total > 1024 * 1024); /* one Secret would not have done */
	c = json_array_get(json_object_get(pod_spec(&d), "containers"), 0);
	json_array_foreach(json_object_get(c, "env"), i, e)
	{
		const json_t *ref =
		    json_object_get(json_object_get(e, "valueFrom"), "secretKeyRef");
		const struct lp_desired_obj *s;
		if (!ref)
			continue;
		s = find(&d, LP_OWNED_SECRET, json_string_value(json_object_get(ref, "name")));
		LP_CHECK(s != NULL);
		LP_CHECK(s && json_object_get(json_object_get(s->obj, "data"),
		                              json_string_value(json_object_get(ref, "key"))));
	}
	lp_desired_free(&d);
	/* a value over the limit alone: left out, counted, not referred to */
	secrets[1].value = huge;
	LP_CHECK_INT(lp_desired_build(&d, &in), LP_OK);
	LP_CHECK_INT(d.n_missing_secrets, 1);
	LP_CHECK_INT(d.n_creds_too_large, 1);
	c = json_array_get(json_object_get(pod_spec(&d), "containers"), 0);
	json_array_foreach(json_object_get(c, "env"), i, e)
	    LP_CHECK(strcmp(json_string_value(json_object_get(e, "name")), "LP_SECRET_B") != 0);
	for (i = 0; i < d.n; i++)
		if (d.v[i].kind == LP_OWNED_SECRET)
			LP_CHECK(secret_size(d.v[i].obj) <= 1024 * 1024);
	lp_desired_free(&d);
out:
	free(va);
	free(vb);
	free(huge);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"content_named_parts", t_content_named_parts},
	    {"credentials_split", t_credentials_split},
	};
	return lp_test_main("reconcile_parts", tests, LP_TEST_COUNT(tests));
}
