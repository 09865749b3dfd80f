/* Unit tests for pkg/reconcile/desired: rendered config -> owned objects. */
#include "lp_test.h"
#include "../../pkg/reconcile/desired.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/mem.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>

/* A hand-built rendered config: one file, one env var. */
struct fixture {
	struct lp_render_file files[3];
	struct lp_render_env env[1];
	struct lp_rendered r;
	struct lp_test_secret secrets[2];
	struct lp_desired_input in;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->files[0].name = "fluent-bit.yaml";
	f->files[0].data = "service: {flush: 1}\n";
	f->files[0].len = strlen(f->files[0].data);
	f->env[0].var = "LP_SECRET_ABC";
	f->env[0].secret_ns = "team-a";
	f->env[0].secret_name = "aws-creds";
	f->env[0].secret_key = "AWS_SECRET_ACCESS_KEY";
	f->r.shipper.files = f->files;
	f->r.shipper.n_files = 1;
	strcpy(f->r.shipper.hash, "1111");
	f->r.env = f->env;
	f->r.n_env = 1;
	f->secrets[0] =
	    (struct lp_test_secret){"team-a", "aws-creds", "AWS_SECRET_ACCESS_KEY", "c2VjcmV0"};
	f->in.rendered = &f->r;
	f->in.secret_value = lp_test_secret_lookup;
	f->in.secret_ctx = f->secrets;
}

static const struct lp_desired_obj *find(const struct lp_desired *d, enum lp_owned_kind k,
                                         const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind == k && !strcmp(d->v[i].name, name))
			return &d->v[i];
	return NULL;
}

/* The n-th (from 1) content-named object of base: a config part in the
 * order its workload's projected volume lists it (shipper: the DaemonSet,
 * aggregator: the StatefulSet), or the n-th credentials Secret by name. */
static const struct lp_desired_obj *find_part(const struct lp_desired *d, const char *base,
                                              size_t n)
{
	int creds = !strcmp(base, LP_CREDENTIALS_NAME);
	const struct lp_desired_obj *w = find(
	    d, strcmp(base, LP_AGGREGATOR_CONFIG_NAME) ? LP_OWNED_DAEMONSET : LP_OWNED_STATEFULSET,
	    strcmp(base, LP_AGGREGATOR_CONFIG_NAME) ? LP_SHIPPER_NAME : LP_AGGREGATOR_NAME);
	const json_t *vols, *v, *src;
	size_t i, j, k = 0;

	if (creds) {
		for (i = 0; i < d->n; i++)
			if (d->v[i].kind == LP_OWNED_SECRET &&
			    !strncmp(d->v[i].name, base, strlen(base)) &&
			    strlen(d->v[i].name) == strlen(base) + 11 && ++k == n)
				return &d->v[i];
		return NULL;
	}
	vols = w ? json_object_get(
	               json_object_get(json_object_get(json_object_get(w->obj, "spec"), "template"),
	                               "spec"),
	               "volumes")
	         : NULL;
	json_array_foreach(vols, i, v)
	{
		json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), j,
		                   src)
		{
			const char *name = json_string_value(
			    json_object_get(json_object_get(src, "configMap"), "name"));
			if (name && !strncmp(name, base, strlen(base)) &&
			    strlen(name) == strlen(base) + 11 && ++k == n)
				return find(d, LP_OWNED_CONFIGMAP, name);
		}
	}
	return NULL;
}

static const char *jpath_str(const json_t *o, const char *p1, const char *p2, const char *p3)
{
	const json_t *v = json_object_get(o, p1);
	if (p2)
		v = json_object_get(v, p2);
	if (p3)
		v = json_object_get(v, p3);
	return json_string_value(v);
}

static void t_basic_objects(void)
{
	struct fixture f;
	struct lp_desired d;
	const struct lp_desired_obj *o;

	fixture_init(&f);
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	/* Secret, ConfigMap, SA, ClusterRole, ClusterRoleBinding, DaemonSet */
	LP_CHECK_INT(d.n, 6);
	for (size_t i = 1; i < d.n; i++)
		LP_CHECK(d.v[i - 1].kind <= d.v[i].kind); /* apply order */
	LP_CHECK_INT(d.v[0].kind, LP_OWNED_SECRET);
	LP_CHECK_INT(d.v[d.n - 1].kind, LP_OWNED_DAEMONSET);
	for (size_t i = 0; i < d.n; i++) {
		const json_t *meta = json_object_get(d.v[i].obj, "metadata");
		LP_CHECK_STR(jpath_str(meta, "labels", LP_MANAGED_BY_LABEL, NULL), "logplane");
		LP_CHECK_STR(jpath_str(meta, "annotations", LP_APPLIED_HASH_ANNOTATION, NULL),
		             d.v[i].hash);
		LP_CHECK_INT(strlen(d.v[i].hash), 64);
		if (lp_owned_kind_info(d.v[i].kind)->namespaced) {
			LP_CHECK_STR(jpath_str(meta, "namespace", NULL, NULL), "logplane-system");
			LP_CHECK_STR(d.v[i].ns, "logplane-system");
		} else {
			LP_CHECK(json_object_get(meta, "namespace") == NULL);
			LP_CHECK(d.v[i].ns == NULL);
		}
	}
	o = find_part(&d, LP_SHIPPER_CONFIG_NAME, 1);
	LP_CHECK(o != NULL);
	if (o)
		LP_CHECK_STR(jpath_str(o->obj, "data", "fluent-bit.yaml", NULL),
		             "service: {flush: 1}\n");
	o = find_part(&d, LP_CREDENTIALS_NAME, 1);
	LP_CHECK(o != NULL);
	if (o)
		LP_CHECK_STR(jpath_str(o->obj, "data", "LP_SECRET_ABC", NULL), "c2VjcmV0");
	o = find(&d, LP_OWNED_CLUSTERROLE, LP_SHIPPER_NAME);
	LP_CHECK(o != NULL);
	if (o) {
		char *s = json_dumps(json_object_get(o->obj, "rules"), JSON_COMPACT);
		LP_CHECK_STR(s, "[{\"apiGroups\":[\"\"],\"resources\":[\"namespaces\",\"pods\"],"
		                "\"verbs\":[\"get\",\"list\",\"watch\"]}]");
		free(s);
	}
	o = find(&d, LP_OWNED_CLUSTERROLEBINDING, LP_SHIPPER_NAME);
	LP_CHECK(o != NULL);
	if (o)
		LP_CHECK_STR(
		    json_string_value(json_object_get(
		        json_array_get(json_object_get(o->obj, "subjects"), 0), "namespace")),
		    "logplane-system");
	LP_CHECK(find(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME) == NULL);
	LP_CHECK_INT(d.n_missing_secrets, 0);
	lp_desired_free(&d);
}

static const json_t *ds_container(const struct lp_desired *d)
{
	const struct lp_desired_obj *o = find(d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	const json_t *spec;
	if (!o)
		return NULL;
	spec =
	    json_object_get(json_object_get(json_object_get(o->obj, "spec"), "template"), "spec");
	return json_array_get(json_object_get(spec, "containers"), 0);
}

static const json_t *find_named(const json_t *arr, const char *name)
{
	size_t i;
	const json_t *v;
	json_array_foreach(arr, i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && !strcmp(n, name))
			return v;
	}
	return NULL;
}

/* The probes of an agent container: GET /metrics on its declared port
 * lp-metrics (2021), no port 2020 (nothing listens there). */
static void check_probes(const json_t *c, const char *what)
{
	const char *kinds[] = {"livenessProbe", "readinessProbe"};
	const json_t *port = find_named(json_object_get(c, "ports"), "lp-metrics");
	size_t i;
	const json_t *e;

	for (size_t k = 0; k < 2; k++) {
		const char *path = jpath_str(c, kinds[k], "httpGet", "path");
		const char *pname = jpath_str(c, kinds[k], "httpGet", "port");
		if (!path || strcmp(path, "/metrics") != 0 || !pname ||
		    !find_named(json_object_get(c, "ports"), pname) || strcmp(pname, "lp-metrics"))
			lp_test_fail(__FILE__, __LINE__, "%s %s: GET %s on port %s", what, kinds[k],
			             path ? path : "-", pname ? pname : "-");
	}
	LP_CHECK_INT(json_integer_value(json_object_get(port, "containerPort")), 2021);
	json_array_foreach(json_object_get(c, "ports"), i, e)
	{
		if (json_integer_value(json_object_get(e, "containerPort")) == 2020)
			lp_test_fail(__FILE__, __LINE__, "%s declares port 2020", what);
	}
}

static void t_daemonset(void)
{
	struct fixture f;
	struct lp_desired d;
	const json_t *c, *e, *tmpl_ann, *pod;
	const struct lp_desired_obj *ds;

	fixture_init(&f);
	f.in.fluentbit_image = "example.com/fb:1";
	f.in.control_ns = "ops";
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	c = ds_container(&d);
	LP_CHECK(c != NULL);
	LP_CHECK_STR(json_string_value(json_object_get(c, "image")), "example.com/fb:1");
	e = find_named(json_object_get(c, "env"), "LP_SECRET_ABC");
	LP_CHECK(e != NULL);
	LP_CHECK(find_part(&d, LP_CREDENTIALS_NAME, 1) != NULL);
	LP_CHECK_STR(jpath_str(e, "valueFrom", "secretKeyRef", "name"),
	             find_part(&d, LP_CREDENTIALS_NAME, 1)
	                 ? find_part(&d, LP_CREDENTIALS_NAME, 1)->name
	                 : "?");
	LP_CHECK_STR(jpath_str(e, "valueFrom", "secretKeyRef", "key"), "LP_SECRET_ABC");
	e = find_named(json_object_get(c, "env"), "NODE_NAME");
	LP_CHECK_STR(jpath_str(e, "valueFrom", "fieldRef", "fieldPath"), "spec.nodeName");
	e = find_named(json_object_get(c, "env"), "NODE_IP");
	LP_CHECK_STR(jpath_str(e, "valueFrom", "fieldRef", "fieldPath"), "status.hostIP");
	/* Fluent Bit's built-in HTTP server is off: the probes ask the
	 * prometheus_exporter, served on the engine's event loop */
	check_probes(c, "shipper");
	/* the prometheus_exporter: a named port the PodMonitor scrapes */
	LP_CHECK_INT(json_integer_value(json_object_get(
	                 find_named(json_object_get(c, "ports"), "lp-metrics"), "containerPort")),
	             2021);
	LP_CHECK(json_is_false(
	    json_object_get(json_object_get(c, "securityContext"), "allowPrivilegeEscalation")));
	LP_CHECK_STR(json_string_value(json_array_get(json_object_get(c, "args"), 1)),
	             "/fluent-bit/etc/fluent-bit.yaml");
	LP_CHECK(find_named(json_object_get(c, "volumeMounts"), "varlog") != NULL);
	LP_CHECK(find_named(json_object_get(c, "volumeMounts"), "state") != NULL);
	ds = find(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	LP_CHECK(ds != NULL);
	if (ds) {
		LP_CHECK_STR(ds->ns, "ops");
		pod = json_object_get(json_object_get(ds->obj, "spec"), "template");
		tmpl_ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
		LP_CHECK_STR(
		    json_string_value(json_object_get(tmpl_ann, LP_CONFIG_HASH_ANNOTATION)),
		    d.config_hash);
		LP_CHECK_STR(
		    jpath_str(json_object_get(pod, "spec"), "serviceAccountName", NULL, NULL),
		    LP_SHIPPER_NAME);
		LP_CHECK_STR(
		    jpath_str(find_named(json_object_get(json_object_get(pod, "spec"), "volumes"),
		                         "varlog"),
		              "hostPath", "path", NULL),
		    "/var/log");
	}
	lp_desired_free(&d);
}

/* Same input -> same hashes; a Secret value change changes only the Secret and
 * the DaemonSet (template hash), not the ConfigMap. */
static void t_hash_stability(void)
{
	struct fixture f;
	struct lp_desired a, b;
	const struct lp_desired_obj *x, *y;

	fixture_init(&f);
	LP_CHECK_INT(lp_desired_build(&a, &f.in), LP_OK);
	LP_CHECK_INT(lp_desired_build(&b, &f.in), LP_OK);
	LP_CHECK_INT(a.n, b.n);
	for (size_t i = 0; i < a.n && i < b.n; i++)
		LP_CHECK_STR(a.v[i].hash, b.v[i].hash);
	LP_CHECK_STR(a.config_hash, b.config_hash);
	lp_desired_free(&b);
	f.secrets[0].value = "b3RoZXI=";
	LP_CHECK_INT(lp_desired_build(&b, &f.in), LP_OK);
	LP_CHECK(strcmp(a.config_hash, b.config_hash) != 0);
	x = find_part(&a, LP_SHIPPER_CONFIG_NAME, 1);
	y = find_part(&b, LP_SHIPPER_CONFIG_NAME, 1);
	LP_CHECK(x && y && strcmp(x->hash, y->hash) == 0);
	x = find(&a, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	y = find(&b, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	LP_CHECK(x && y && strcmp(x->hash, y->hash) != 0);
	x = find(&a, LP_OWNED_SERVICEACCOUNT, LP_SHIPPER_NAME);
	y = find(&b, LP_OWNED_SERVICEACCOUNT, LP_SHIPPER_NAME);
	LP_CHECK(x && y && strcmp(x->hash, y->hash) == 0);
	lp_desired_free(&b);
	/* a config change changes the ConfigMap and the DaemonSet */
	strcpy(f.r.shipper.hash, "2222");
	f.files[0].data = "service: {flush: 2}\n";
	f.secrets[0].value = "c2VjcmV0";
	LP_CHECK_INT(lp_desired_build(&b, &f.in), LP_OK);
	x = find_part(&a, LP_SHIPPER_CONFIG_NAME, 1);
	y = find_part(&b, LP_SHIPPER_CONFIG_NAME, 1);
	LP_CHECK(x && y && strcmp(x->hash, y->hash) != 0);
	LP_CHECK(strcmp(a.config_hash, b.config_hash) != 0);
	lp_desired_free(&a);
	lp_desired_free(&b);
}

/* The applied hash ignores itself, and differs when anything else differs. */
static void t_object_hash(void)
{
	json_t *o = json_pack("{s:s, s:{s:s}}", "kind", "ConfigMap", "metadata", "name", "x");
	char h1[65], h2[65], h3[65];

	LP_CHECK_INT(lp_desired_hash(h1, o), LP_OK);
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
	                    json_pack("{s:s}", LP_APPLIED_HASH_ANNOTATION, "zzz"));
	LP_CHECK_INT(lp_desired_hash(h2, o), LP_OK);
	json_object_set_new(json_object_get(o, "metadata"), "name", json_string("y"));
	LP_CHECK_INT(lp_desired_hash(h3, o), LP_OK);
	LP_CHECK_STR(h1, h2);
	LP_CHECK(strcmp(h1, h3) != 0);
	json_decref(o);
	lp_sha256_hex(h1, "abc", 3);
	LP_CHECK_STR(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The reference: SHA-256 of the canonical text, the annotation dropped from a
 * deep copy (and an empty annotations map with it). */
static void hash_by_text(char out[65], const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	json_t *meta = json_object_get(copy, "metadata");
	json_t *ann = json_object_get(meta, "annotations");
	char *text;

	if (json_is_object(ann)) {
		json_object_del(ann, LP_APPLIED_HASH_ANNOTATION);
		if (json_object_size(ann) == 0)
			json_object_del(meta, "annotations");
	}
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	lp_sha256_hex(out, text ? text : "", text ? strlen(text) : 0);
	free(text);
	json_decref(copy);
}

/* The applied hash is streamed into the digest: the same value as hashing the
 * whole text (so an upgrade rewrites nothing), for a ConfigMap larger than the
 * stream's buffer, with escapes and non-ASCII text, with and without
 * annotations; and the object hashed is left as it was. */
static void t_object_hash_stream(void)
{
	struct lp_buf big;
	json_t *o, *ann;
	char got[65], want[65], *before, *after;

	lp_buf_init(&big, 0);
	for (int i = 0; i < 20000; i++)
		LP_CHECK_INT(
		    lp_buf_addf(&big, "line %d: \"quoted\"\t\xc3\xa9t\xc3\xa9 \xe2\x82\xac\n", i),
		    LP_OK);
	o = json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "kind", "ConfigMap", "metadata", "name",
	              "x", "namespace", "ns", "data", "fluent-bit.yaml", lp_buf_str(&big), "b",
	              "c");
	LP_CHECK(o != NULL && big.len > 100000);
	if (!o) {
		lp_buf_free(&big);
		return;
	}
	for (int round = 0; round < 4; round++) {
		json_t *meta = json_object_get(o, "metadata");
		if (round == 1) /* an empty map counts as none */
			json_object_set_new(meta, "annotations", json_object());
		if (round == 2)
			json_object_set_new(meta, "annotations",
			                    json_pack("{s:s}", LP_APPLIED_HASH_ANNOTATION, "zzz"));
		if (round == 3) {
			ann = json_object_get(meta, "annotations");
			json_object_set_new(ann, "other", json_string("kept"));
		}
		before = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		LP_CHECK_INT(lp_desired_hash(got, o), LP_OK);
		after = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		hash_by_text(want, o);
		LP_CHECK_STR(got, want);
		LP_CHECK(before && after && strcmp(before, after) == 0);
		free(before);
		free(after);
	}
	json_decref(o);
	lp_buf_free(&big);
}

/* Files larger than one object's budget are split across ConfigMaps named
 * base, base-2, ... and all land in one projected volume. */
static void t_split(void)
{
	struct fixture f;
	struct lp_desired d;
	size_t big = 500 * 1024, n_cm = 0;
	char *blob = malloc(big + 1);
	const json_t *vols, *cfg;

	fixture_init(&f);
	memset(blob, 'x', big);
	blob[big] = '\0';
	f.files[1] = (struct lp_render_file){"part-001.yaml", blob, big};
	f.files[2] = (struct lp_render_file){"part-002.yaml", blob, big};
	f.r.shipper.n_files = 3;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	for (size_t i = 0; i < d.n; i++)
		n_cm += d.v[i].kind == LP_OWNED_CONFIGMAP;
	LP_CHECK_INT(n_cm, 2);
	LP_CHECK(find_part(&d, LP_SHIPPER_CONFIG_NAME, 1) != NULL);
	LP_CHECK(find_part(&d, LP_SHIPPER_CONFIG_NAME, 2) != NULL);
	for (size_t i = 0; i < d.n; i++) {
		if (d.v[i].kind != LP_OWNED_CONFIGMAP)
			continue;
		char *s = json_dumps(d.v[i].obj, JSON_COMPACT);
		LP_CHECK(s && strlen(s) < 1024 * 1024);
		free(s);
	}
	{
		const struct lp_desired_obj *ds = find(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
		vols = ds ? json_object_get(
		                json_object_get(
		                    json_object_get(json_object_get(ds->obj, "spec"), "template"),
		                    "spec"),
		                "volumes")
		          : NULL;
		cfg = find_named(vols, "config");
		LP_CHECK_INT(
		    json_array_size(json_object_get(json_object_get(cfg, "projected"), "sources")),
		    2);
	}
	lp_desired_free(&d);
	free(blob);
}

static void t_aggregator_and_files(void)
{
	struct fixture f;
	struct lp_desired d;
	struct lp_pipeline p1, p2, p3;
	struct lp_in_file files[2];
	const struct lp_pipeline *pl[3] = {&p3, &p1, &p2};
	struct lp_render_file agg_file = {"fluent-bit.yaml", "pipeline: {}\n", 13};
	const struct lp_desired_obj *sts;
	const json_t *c;

	fixture_init(&f);
	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	p1.meta.ns = "logplane-system";
	p1.meta.name = "p1";
	p1.aggregator.enabled = 1;
	p1.aggregator.replicas = 3;
	p1.aggregator.storage_size = "5Gi";
	p2.meta.ns = "logplane-system";
	p2.meta.name = "p0";
	p2.aggregator.enabled = 1;
	p2.aggregator.storage_size = "20Gi";
	files[0] = (struct lp_in_file){"app", "/opt/app/logs/*.log", NULL};
	files[1] = (struct lp_in_file){"audit", "/var/log/audit/*.log", NULL};
	p1.files = files;
	p1.n_files = 2;
	p2.http.enabled = 1;
	p2.http.port = 9880;
	/* a tenant asking for more changes nothing: the aggregator is shared */
	memset(&p3, 0, sizeof(p3));
	p3.meta.ns = "aaa-tenant";
	p3.meta.name = "a";
	p3.aggregator.enabled = 1;
	p3.aggregator.replicas = 20;
	p3.aggregator.storage_size = "64Ti";
	f.in.pipelines = pl;
	f.in.n_pipelines = 3;
	f.r.has_aggregator = 1;
	f.r.aggregator.files = &agg_file;
	f.r.aggregator.n_files = 1;
	strcpy(f.r.aggregator.hash, "3333");
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	LP_CHECK(find_part(&d, LP_AGGREGATOR_CONFIG_NAME, 1) != NULL);
	LP_CHECK(find(&d, LP_OWNED_SERVICE, LP_AGGREGATOR_NAME) != NULL);
	LP_CHECK(find(&d, LP_OWNED_PDB, LP_AGGREGATOR_NAME) != NULL);
	sts = find(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	LP_CHECK(sts != NULL);
	if (sts) {
		const json_t *spec = json_object_get(sts->obj, "spec");
		LP_CHECK_INT(json_integer_value(json_object_get(spec, "replicas")), 3);
		/* storage from the first pipeline by namespace/name: logplane-system/p0 */
		LP_CHECK_STR(
		    jpath_str(json_object_get(
		                  json_array_get(json_object_get(spec, "volumeClaimTemplates"), 0),
		                  "spec"),
		              "resources", "requests", "storage"),
		    "20Gi");
		LP_CHECK_STR(jpath_str(spec, "serviceName", NULL, NULL), LP_AGGREGATOR_NAME);
		check_probes(
		    json_array_get(
		        json_object_get(json_object_get(json_object_get(spec, "template"), "spec"),
		                        "containers"),
		        0),
		    "aggregator");
	}
	c = ds_container(&d);
	LP_CHECK(find_named(json_object_get(c, "volumeMounts"), "hostfiles-1") != NULL);
	LP_CHECK_STR(jpath_str(find_named(json_object_get(c, "volumeMounts"), "hostfiles-1"),
	                       "mountPath", NULL, NULL),
	             "/opt/app/logs");
	LP_CHECK(find_named(json_object_get(c, "volumeMounts"), "hostfiles-2") == NULL);
	LP_CHECK(find_named(json_object_get(c, "ports"), "in-9880") != NULL);
	lp_desired_free(&d);
}

/* The Fluentd aggregator: its image, command and a TCP probe on forward. */
static void t_fluentd_aggregator(void)
{
	struct fixture f;
	struct lp_desired d;
	struct lp_render_file agg_file = {"fluent.conf", "<source>\n</source>\n", 19};
	const struct lp_desired_obj *sts;
	const json_t *c;

	fixture_init(&f);
	f.r.has_aggregator = 1;
	f.r.aggregator_engine = LP_ENGINE_FLUENTD;
	f.r.aggregator.files = &agg_file;
	f.r.aggregator.n_files = 1;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	sts = find(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	LP_CHECK(sts != NULL);
	if (sts) {
		const json_t *spec = json_object_get(
		    json_object_get(json_object_get(sts->obj, "spec"), "template"), "spec");
		c = json_array_get(json_object_get(spec, "containers"), 0);
		LP_CHECK_STR(jpath_str(c, "image", NULL, NULL), LP_DEFAULT_FLUENTD_IMAGE);
		LP_CHECK_STR(json_string_value(json_array_get(json_object_get(c, "command"), 2)),
		             "/fluentd/etc/fluent.conf");
		LP_CHECK_STR(jpath_str(c, "readinessProbe", "tcpSocket", "port"), "forward");
		/* Fluentd serves no metrics on lp-metrics: not declared (a scrape
		 * target nothing answers would read as down) */
		LP_CHECK(find_named(json_object_get(c, "ports"), "forward") != NULL);
		LP_CHECK(find_named(json_object_get(c, "ports"), "lp-metrics") == NULL);
		LP_CHECK_INT(json_array_size(json_object_get(c, "ports")), 1);
		LP_CHECK_INT(json_integer_value(
		                 json_object_get(json_object_get(sts->obj, "spec"), "replicas")),
		             2);
	}
	lp_desired_free(&d);
	f.in.aggregator_image = "example.com/fd:2";
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	sts = find(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	c = sts ? json_array_get(
	              json_object_get(
	                  json_object_get(
	                      json_object_get(json_object_get(sts->obj, "spec"), "template"),
	                      "spec"),
	                  "containers"),
	              0)
	        : NULL;
	LP_CHECK_STR(jpath_str(c, "image", NULL, NULL), "example.com/fd:2");
	lp_desired_free(&d);
}

/* A split aggregator config (Fluentd: fluent.conf @including part-NNN.conf):
 * its files spread over ConfigMaps that all land in the one directory the
 * command's entry file is in, so the relative includes resolve. */
static void t_aggregator_split(void)
{
	struct fixture f;
	struct lp_desired d;
	size_t big = 600 * 1024;
	char *blob = malloc(big + 1);
	struct lp_render_file agg[3] = {
	    {"fluent.conf", "@include part-001.conf\n@include part-002.conf\n", 46},
	    {"part-001.conf", blob, big},
	    {"part-002.conf", blob, big},
	};
	const struct lp_desired_obj *sts;
	const json_t *spec, *c, *vol;
	size_t n_cm = 0;

	LP_CHECK(blob != NULL);
	if (!blob)
		return;
	memset(blob, 'x', big);
	blob[big] = '\0';
	fixture_init(&f);
	f.r.has_aggregator = 1;
	f.r.aggregator_engine = LP_ENGINE_FLUENTD;
	f.r.aggregator.files = agg;
	f.r.aggregator.n_files = 3;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	for (size_t i = 0; i < d.n; i++)
		n_cm += d.v[i].kind == LP_OWNED_CONFIGMAP &&
		        !strncmp(json_string_value(json_object_get(
		                     json_object_get(d.v[i].obj, "metadata"), "name")),
		                 LP_AGGREGATOR_CONFIG_NAME, strlen(LP_AGGREGATOR_CONFIG_NAME));
	LP_CHECK_INT(n_cm, 2);
	LP_CHECK(find_part(&d, LP_AGGREGATOR_CONFIG_NAME, 2) != NULL);
	sts = find(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	LP_CHECK(sts != NULL);
	spec = sts ? json_object_get(json_object_get(json_object_get(sts->obj, "spec"), "template"),
	                             "spec")
	           : NULL;
	c = json_array_get(json_object_get(spec, "containers"), 0);
	LP_CHECK_STR(json_string_value(json_array_get(json_object_get(c, "command"), 2)),
	             "/fluentd/etc/fluent.conf");
	LP_CHECK_STR(jpath_str(find_named(json_object_get(c, "volumeMounts"), "config"),
	                       "mountPath", NULL, NULL),
	             "/fluentd/etc");
	vol = find_named(json_object_get(spec, "volumes"), "config");
	LP_CHECK_INT(json_array_size(json_object_get(json_object_get(vol, "projected"), "sources")),
	             2);
	lp_desired_free(&d);
	free(blob);
}

/* A Secret key the config reads as a file (a CA bundle) is copied into the
 * credentials Secret and mounted at its path. */
static void t_secret_file_mounts(void)
{
	struct fixture f;
	struct lp_desired d, d2;
	struct lp_render_mount m = {"/etc/logplane/ca/team-a.ca/ca.crt", "team-a", "ca", "ca.crt"};
	struct lp_test_secret secrets[3];
	const struct lp_desired_obj *sec;
	const json_t *c, *vm;
	const char *sub;

	fixture_init(&f);
	secrets[0] = f.secrets[0];
	secrets[1] = (struct lp_test_secret){"team-a", "ca", "ca.crt", "Q0FEQVRB"};
	secrets[2] = (struct lp_test_secret){NULL, NULL, NULL, NULL};
	f.in.secret_ctx = secrets;
	f.r.mounts = &m;
	f.r.n_mounts = 1;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	c = ds_container(&d);
	vm = NULL;
	{
		size_t i;
		const json_t *v;
		json_array_foreach(json_object_get(c, "volumeMounts"), i, v)
		{
			const char *mp = json_string_value(json_object_get(v, "mountPath"));
			if (mp && !strcmp(mp, m.path))
				vm = v;
		}
	}
	LP_CHECK(vm != NULL);
	sub = json_string_value(json_object_get(vm, "subPath"));
	LP_CHECK(sub != NULL && !strncmp(sub, "file-", 5));
	sec = find_part(&d, LP_CREDENTIALS_NAME, 1);
	LP_CHECK(sec != NULL);
	if (sec && sub)
		LP_CHECK_STR(jpath_str(sec->obj, "data", sub, NULL), "Q0FEQVRB");
	/* a new CA rolls the pods */
	secrets[1].value = "T1RIRVI=";
	LP_CHECK_INT(lp_desired_build(&d2, &f.in), LP_OK);
	LP_CHECK(strcmp(d.config_hash, d2.config_hash) != 0);
	lp_desired_free(&d);
	lp_desired_free(&d2);
}

static const json_t *find_mount(const json_t *c, const char *path)
{
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(c, "volumeMounts"), i, v)
	{
		const char *mp = json_string_value(json_object_get(v, "mountPath"));
		if (mp && !strcmp(mp, path))
			return v;
	}
	return NULL;
}

static char *b64dec(const char *in)
{
	size_t n = in ? strlen(in) : 0;
	unsigned char *o = calloc(1, n + 4);
	int len = in && o ? EVP_DecodeBlock(o, (const unsigned char *)in, (int)n) : -1;
	if (len < 0) {
		free(o);
		return NULL;
	}
	while (len > 0 && n > 0 && in[n - 1] == '=') {
		len--;
		n--;
	}
	o[len] = 0;
	return (char *)o;
}

/* Two AWS profiles from two Secrets in two namespaces: one shared credentials
 * file in the credentials Secret, mounted read-only with the env var naming
 * it; no AWS_ACCESS_KEY_ID anywhere; a rotated key changes the config hash. */
static void t_aws_profiles(void)
{
	struct fixture f;
	struct lp_desired d, d2;
	struct lp_render_aws_profile prof[2] = {
	    {"lp-aaaaaaaaaaaa", "team-a", "aws-a", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	     NULL},
	    {"lp-bbbbbbbbbbbb", "team-b", "aws-b", "id", "secret", "token"},
	};
	/* base64 of AKIDA, secret-a, AKIDB, secret-b, tok-b */
	struct lp_test_secret secrets[] = {
	    {"team-a", "aws-a", "AWS_ACCESS_KEY_ID", "QUtJREE="},
	    {"team-a", "aws-a", "AWS_SECRET_ACCESS_KEY", "c2VjcmV0LWE="},
	    {"team-b", "aws-b", "id", "QUtJREI="},
	    {"team-b", "aws-b", "secret", "c2VjcmV0LWI="},
	    {"team-b", "aws-b", "token", "dG9rLWI="},
	    {NULL, NULL, NULL, NULL},
	};
	const struct lp_desired_obj *sec, *ds;
	const json_t *c, *vm, *e;
	char *text;

	fixture_init(&f);
	f.r.n_env = 0;
	f.r.aws_profiles = prof;
	f.r.n_aws_profiles = 2;
	f.in.secret_ctx = secrets;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	LP_CHECK_INT(d.n_missing_secrets, 0);
	sec = find_part(&d, LP_CREDENTIALS_NAME, 1);
	LP_CHECK(sec != NULL);
	text = sec ? b64dec(jpath_str(sec->obj, "data", LP_AWS_CREDENTIALS_KEY, NULL)) : NULL;
	LP_CHECK_STR(text, "[lp-aaaaaaaaaaaa]\naws_access_key_id = AKIDA\n"
	                   "aws_secret_access_key = secret-a\n"
	                   "[lp-bbbbbbbbbbbb]\naws_access_key_id = AKIDB\n"
	                   "aws_secret_access_key = secret-b\naws_session_token = tok-b\n");
	free(text);
	c = ds_container(&d);
	vm = find_mount(c, LP_RENDER_AWS_CREDENTIALS_PATH);
	LP_CHECK(vm != NULL);
	LP_CHECK_STR(jpath_str(vm, "subPath", NULL, NULL), LP_AWS_CREDENTIALS_KEY);
	LP_CHECK(json_is_true(json_object_get(vm, "readOnly")));
	e = find_named(json_object_get(c, "env"), LP_RENDER_AWS_CREDENTIALS_ENV);
	LP_CHECK_STR(jpath_str(e, "value", NULL, NULL), LP_RENDER_AWS_CREDENTIALS_PATH);
	LP_CHECK(find_named(json_object_get(c, "env"), "AWS_ACCESS_KEY_ID") == NULL);
	LP_CHECK(find_named(json_object_get(c, "env"), "AWS_SECRET_ACCESS_KEY") == NULL);
	ds = find(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	if (ds) {
		const json_t *vol = find_named(
		    json_object_get(
		        json_object_get(
		            json_object_get(json_object_get(ds->obj, "spec"), "template"), "spec"),
		        "volumes"),
		    "credential-files");
		const json_t *src = json_array_get(
		    json_object_get(json_object_get(vol, "projected"), "sources"), 0);
		LP_CHECK_STR(jpath_str(src, "secret", "name", NULL), sec ? sec->name : "?");
		LP_CHECK_STR(
		    jpath_str(
		        json_array_get(json_object_get(json_object_get(src, "secret"), "items"), 0),
		        "key", NULL, NULL),
		    LP_AWS_CREDENTIALS_KEY);
	}
	/* rotation: team-b's secret key changes */
	secrets[3].value = "c2VjcmV0LWMy";
	LP_CHECK_INT(lp_desired_build(&d2, &f.in), LP_OK);
	LP_CHECK(strcmp(d.config_hash, d2.config_hash) != 0);
	lp_desired_free(&d2);
	/* a value that could open another profile is left out and counted */
	secrets[3].value = "YQpbZGVmYXVsdF0="; /* "a\n[default]" */
	LP_CHECK_INT(lp_desired_build(&d2, &f.in), LP_OK);
	LP_CHECK_INT(d2.n_missing_secrets, 1);
	sec = find_part(&d2, LP_CREDENTIALS_NAME, 1);
	text = sec ? b64dec(jpath_str(sec->obj, "data", LP_AWS_CREDENTIALS_KEY, NULL)) : NULL;
	LP_CHECK(text && strstr(text, "lp-aaaaaaaaaaaa") && !strstr(text, "lp-bbbbbbbbbbbb") &&
	         !strstr(text, "default"));
	free(text);
	lp_desired_free(&d2);
	/* a missing Secret: likewise */
	secrets[0].ns = "elsewhere";
	secrets[3].value = "c2VjcmV0LWI=";
	LP_CHECK_INT(lp_desired_build(&d2, &f.in), LP_OK);
	LP_CHECK_INT(d2.n_missing_secrets, 1);
	lp_desired_free(&d2);
	lp_desired_free(&d);
}

static const json_t *pod_spec_of(const struct lp_desired *d, enum lp_owned_kind k, const char *name)
{
	const struct lp_desired_obj *o = find(d, k, name);
	return o ? json_object_get(json_object_get(json_object_get(o->obj, "spec"), "template"),
	                           "spec")
	         : NULL;
}

/* The chart's agents file (as helm renders it, with some values set) applied
 * to the DaemonSet, ServiceAccount and aggregator StatefulSet. */
static void t_agent_config(void)
{
	static const char json[] =
	    "{\"aggregator\": {\"fluentdImage\": \"reg/fluentd:1\", \"image\": \"reg/fb-agg:2\","
	    " \"imagePullPolicy\": \"Always\", \"nodeSelector\": {\"pool\": \"logs\"},"
	    " \"resources\": {\"limits\": {\"memory\": \"1Gi\"}, \"requests\": {\"cpu\": 1}},"
	    " \"storageClassName\": \"gp3\", \"storageSize\": \"30Gi\", \"tolerations\": []},"
	    " \"fluentBit\": {\"hostPath\": \"/data/logplane\", \"image\": \"reg/fb:3\","
	    " \"imagePullPolicy\": \"Never\", \"nodeSelector\": {}, \"priorityClassName\": \"\","
	    " \"resources\": {\"limits\": {\"memory\": \"256Mi\"}, \"requests\": {\"cpu\": "
	    "\"100m\"}},"
	    " \"serviceAccountAnnotations\": {\"eks.amazonaws.com/role-arn\": "
	    "\"arn:aws:iam::1:role/x\"},"
	    " \"tolerations\": [{\"key\": \"dedicated\", \"operator\": \"Exists\"}],"
	    " \"totalLimitSize\": \"1G\"}}";
	struct lp_agent_config ac;
	struct fixture f;
	struct lp_desired d, d0;
	struct lp_pipeline p1;
	const struct lp_pipeline *pl[1] = {&p1};
	struct lp_render_file agg_file = {"fluent-bit.yaml", "pipeline: {}\n", 13};
	const json_t *c, *spec, *sts_spec;
	const struct lp_desired_obj *o;
	char msg[256];

	msg[0] = 0;
	LP_CHECK_INT(lp_agent_config_parse(&ac, json, strlen(json), msg, sizeof(msg)), LP_OK);
	LP_CHECK_STR(msg, "");
	fixture_init(&f);
	memset(&p1, 0, sizeof(p1));
	p1.meta.ns = "a";
	p1.meta.name = "p";
	p1.aggregator.enabled = 1;
	f.in.pipelines = pl;
	f.in.n_pipelines = 1;
	f.r.has_aggregator = 1;
	f.r.aggregator.files = &agg_file;
	f.r.aggregator.n_files = 1;
	f.in.fluentbit_image = "flag/fb:1";
	LP_CHECK_INT(lp_desired_build(&d0, &f.in), LP_OK);
	f.in.agents = &ac;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	c = ds_container(&d);
	LP_CHECK_STR(jpath_str(c, "image", NULL, NULL), "reg/fb:3");
	LP_CHECK_STR(jpath_str(c, "imagePullPolicy", NULL, NULL), "Never");
	LP_CHECK_STR(jpath_str(c, "resources", "limits", "memory"), "256Mi");
	LP_CHECK_STR(jpath_str(c, "resources", "requests", "cpu"), "100m");
	spec = pod_spec_of(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	LP_CHECK(json_object_get(spec, "containers") != NULL);
	LP_CHECK(json_object_get(spec, "priorityClassName") == NULL);
	LP_CHECK(json_object_get(spec, "nodeSelector") == NULL);
	LP_CHECK_STR(
	    jpath_str(json_array_get(json_object_get(spec, "tolerations"), 0), "key", NULL, NULL),
	    "dedicated");
	LP_CHECK_STR(jpath_str(find_named(json_object_get(spec, "volumes"), "state"), "hostPath",
	                       "path", NULL),
	             "/data/logplane");
	o = find(&d, LP_OWNED_SERVICEACCOUNT, LP_SHIPPER_NAME);
	LP_CHECK(o != NULL);
	if (o)
		LP_CHECK_STR(
		    jpath_str(o->obj, "metadata", "annotations", "eks.amazonaws.com/role-arn"),
		    "arn:aws:iam::1:role/x");
	spec = pod_spec_of(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	c = json_array_get(json_object_get(spec, "containers"), 0);
	LP_CHECK_STR(jpath_str(c, "image", NULL, NULL), "reg/fb-agg:2");
	LP_CHECK_STR(jpath_str(c, "imagePullPolicy", NULL, NULL), "Always");
	LP_CHECK_INT(json_integer_value(json_object_get(
	                 json_object_get(json_object_get(c, "resources"), "requests"), "cpu")),
	             1);
	LP_CHECK_STR(jpath_str(spec, "nodeSelector", "pool", NULL), "logs");
	LP_CHECK_INT(json_array_size(json_object_get(spec, "tolerations")), 0);
	o = find(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);
	sts_spec = o ? json_object_get(o->obj, "spec") : NULL;
	sts_spec = json_object_get(
	    json_array_get(json_object_get(sts_spec, "volumeClaimTemplates"), 0), "spec");
	LP_CHECK_STR(jpath_str(sts_spec, "storageClassName", NULL, NULL), "gp3");
	LP_CHECK_STR(jpath_str(sts_spec, "resources", "requests", "storage"), "30Gi");
	/* the settings change the workloads (they roll), not the config hash */
	LP_CHECK_STR(d.config_hash, d0.config_hash);
	LP_CHECK(strcmp(find(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME)->hash,
	                find(&d0, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME)->hash) != 0);
	/* without the file: built-in defaults */
	c = ds_container(&d0);
	LP_CHECK_STR(jpath_str(c, "image", NULL, NULL), "flag/fb:1");
	LP_CHECK_STR(jpath_str(pod_spec_of(&d0, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME),
	                       "priorityClassName", NULL, NULL),
	             "system-node-critical");
	lp_desired_free(&d);
	lp_desired_free(&d0);
	/* the Fluentd engine takes fluentdImage */
	f.r.aggregator_engine = LP_ENGINE_FLUENTD;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	c = json_array_get(
	    json_object_get(pod_spec_of(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME),
	                    "containers"),
	    0);
	LP_CHECK_STR(jpath_str(c, "image", NULL, NULL), "reg/fluentd:1");
	lp_desired_free(&d);
	lp_agent_config_free(&ac);
	lp_agent_config_free(NULL);
}

/* Bad files: one message naming the field; nothing returned. */
static void t_agent_config_errors(void)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
	    {"{", "not JSON"},
	    {"[]", "must be a JSON object"},
	    {"{\"fluentbit\": {}}", "fluentbit: unknown key"},
	    {"{\"fluentBit\": []}", "fluentBit: must be an object"},
	    {"{\"fluentBit\": {\"tolerations\": {}}}", "fluentBit.tolerations: must be an array"},
	    {"{\"fluentBit\": {\"tolerations\": [1]}}",
	     "fluentBit.tolerations[0]: must be an object"},
	    {"{\"fluentBit\": {\"resources\": {\"requests\": {\"cpu\": \"lots\"}}}}",
	     "fluentBit.resources.requests.cpu: must be a quantity"},
	    {"{\"fluentBit\": {\"resources\": {\"request\": {}}}}",
	     "fluentBit.resources.request: unknown key"},
	    {"{\"fluentBit\": {\"hostPath\": \"var/lib\"}}",
	     "fluentBit.hostPath: must be an absolute"},
	    {"{\"fluentBit\": {\"image\": \"\"}}", "fluentBit.image: must be a non-empty string"},
	    {"{\"fluentBit\": {\"imagePullPolicy\": \"Sometimes\"}}",
	     "fluentBit.imagePullPolicy: must be Always"},
	    {"{\"fluentBit\": {\"nodeSelector\": {\"a\": 1}}}",
	     "fluentBit.nodeSelector.a: must be a string"},
	    {"{\"fluentBit\": {\"storageSize\": \"1Gi\"}}", "fluentBit.storageSize: unknown key"},
	    {"{\"aggregator\": {\"storageSize\": \"big\"}}",
	     "aggregator.storageSize: must be a quantity"},
	    {"{\"aggregator\": {\"hostPath\": \"/x\"}}", "aggregator.hostPath: unknown key"},
	    {"{\"fluentBit\": {\"totalLimitSize\": \"1.5G\"}}",
	     "fluentBit.totalLimitSize: must be a size such as 512M"},
	    {"{\"fluentBit\": {\"totalLimitSize\": \"0\"}}",
	     "fluentBit.totalLimitSize: must be a size"},
	};
	struct lp_agent_config ac;
	char msg[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&ac, 0x5a, sizeof(ac));
		msg[0] = 0;
		LP_CHECK_INT(lp_agent_config_parse(&ac, cases[i].json, strlen(cases[i].json), msg,
		                                   sizeof(msg)),
		             LP_ERR_PARSE);
		LP_CHECK_HAS(msg, cases[i].want);
		LP_CHECK(((unsigned char *)&ac)[0] == 0x5a); /* untouched */
	}
	LP_CHECK_INT(lp_agent_config_parse(&ac, "{}", 2, NULL, 0), LP_OK);
	LP_CHECK(ac.fluent_bit.image == NULL && ac.aggregator.resources == NULL);
	lp_agent_config_free(&ac);
	LP_CHECK_INT(lp_agent_config_load(&ac, "/nonexistent/agents.json", msg, sizeof(msg)),
	             LP_ERR_NOTFOUND);
	LP_CHECK_HAS(msg, "/nonexistent/agents.json");
}

static void t_missing_secret_and_errors(void)
{
	struct fixture f;
	struct lp_desired d;

	fixture_init(&f);
	f.secrets[0].ns = NULL; /* no secrets at all */
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	LP_CHECK_INT(d.n_missing_secrets, 1);
	lp_desired_free(&d);
	f.r.n_env = 0;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	LP_CHECK(find_part(&d, LP_CREDENTIALS_NAME, 1) == NULL);
	lp_desired_free(&d);
	f.in.rendered = NULL;
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_ERR_INVALID);
	LP_CHECK_INT(lp_desired_build(&d, NULL), LP_ERR_INVALID);
	lp_desired_free(NULL);
	LP_CHECK_INT(lp_owned_kind_parse("DaemonSet"), LP_OWNED_DAEMONSET);
	LP_CHECK_INT(lp_owned_kind_parse("Pod"), LP_OWNED_KIND_COUNT);
	LP_CHECK(lp_owned_kind_info(LP_OWNED_KIND_COUNT) == NULL);
	LP_CHECK_STR(lp_owned_kind_info(LP_OWNED_PDB)->api_version, "policy/v1");
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"basic_objects", t_basic_objects},
	    {"daemonset", t_daemonset},
	    {"hash_stability", t_hash_stability},
	    {"object_hash", t_object_hash},
	    {"object_hash_stream", t_object_hash_stream},
	    {"split", t_split},
	    {"aggregator_and_files", t_aggregator_and_files},
	    {"fluentd_aggregator", t_fluentd_aggregator},
	    {"aggregator_split", t_aggregator_split},
	    {"secret_file_mounts", t_secret_file_mounts},
	    {"aws_profiles", t_aws_profiles},
	    {"agent_config", t_agent_config},
	    {"agent_config_errors", t_agent_config_errors},
	    {"missing_secret_and_errors", t_missing_secret_and_errors},
	};
	return lp_test_main("reconcile_desired", tests, LP_TEST_COUNT(tests));
}
