/* Unit tests for the open-files helper in the desired objects
 * (pkg/reconcile/desired_pods.c): the init container that installs
 * logplane-nofile into an emptyDir, the Fluent Bit command that runs through
 * it with N from the rendered config, the aggregator's, and none of it
 * without a helper image or for Fluentd. */
#include "lp_test.h"
#include "../../pkg/reconcile/desired.h"
#include <jansson.h>
#include <stdlib.h>

struct fixture {
	struct lp_render_file file, agg_file;
	struct lp_rendered r;
	struct lp_desired_input in;
};

static void fixture_init(struct fixture *f, size_t need)
{
	memset(f, 0, sizeof(*f));
	f->file = (struct lp_render_file){"fluent-bit.yaml", "service: {flush: 1}\n", 20};
	f->r.shipper.files = &f->file;
	f->r.shipper.n_files = 1;
	strcpy(f->r.shipper.hash, "1111");
	f->r.shipper_open_files = need;
	f->in.rendered = &f->r;
	f->in.nofile_image = "reg.example/logplane-operator:9";
}

static void with_aggregator(struct fixture *f, enum lp_aggregator_engine engine)
{
	f->agg_file = engine == LP_ENGINE_FLUENTD
	                  ? (struct lp_render_file){"fluent.conf", "<source>\n</source>\n", 19}
	                  : (struct lp_render_file){"fluent-bit.yaml", "pipeline: {}\n", 13};
	f->r.has_aggregator = 1;
	f->r.aggregator_engine = engine;
	f->r.aggregator.files = &f->agg_file;
	f->r.aggregator.n_files = 1;
	strcpy(f->r.aggregator.hash, "3333");
}

static const struct lp_desired_obj *find(const struct lp_desired *d, enum lp_owned_kind k,
                                         const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind == k && !strcmp(d->v[i].name, name))
			return &d->v[i];
	return NULL;
}

static const json_t *pod_of(const struct lp_desired *d, enum lp_owned_kind k, const char *name)
{
	const struct lp_desired_obj *o = find(d, k, name);
	return o ? json_object_get(json_object_get(o->obj, "spec"), "template") : NULL;
}

static const json_t *named(const json_t *arr, const char *name)
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

/* The string array arr as "a|b|c" (for one comparison). */
static void joined(char *out, size_t sz, const json_t *arr)
{
	size_t i, len = 0;
	const json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		int n = snprintf(out + len, sz - len, "%s%s", i ? "|" : "",
		                 json_is_string(v) ? json_string_value(v) : "?");
		if (n < 0 || (size_t)n >= sz - len)
			return;
		len += (size_t)n;
	}
}

/* Every volumeMount of every (init) container names a volume of the pod (or
 * is claim, a StatefulSet's volume claim template; may be NULL). */
static int mounts_resolve(const json_t *spec, const char *claim)
{
	const char *lists[] = {"containers", "initContainers"};
	for (size_t l = 0; l < 2; l++) {
		size_t i, j;
		const json_t *c, *m;
		json_array_foreach(json_object_get(spec, lists[l]), i, c)
		{
			json_array_foreach(json_object_get(c, "volumeMounts"), j, m)
			{
				const char *n = json_string_value(json_object_get(m, "name"));
				if (!n || (!named(json_object_get(spec, "volumes"), n) &&
				           !(claim && !strcmp(n, claim))))
					return 0;
			}
		}
	}
	return 1;
}

/* The init container: the helper image, --install into the emptyDir, and a
 * security context and resources as strict as the agent's. */
static void check_init(const json_t *spec, const char *image, const char *claim)
{
	const json_t *inits = json_object_get(spec, "initContainers");
	const json_t *ic = json_array_get(inits, 0);
	const json_t *sec = json_object_get(ic, "securityContext");
	const json_t *vol = named(json_object_get(spec, "volumes"), "logplane-bin");
	const json_t *m = named(json_object_get(ic, "volumeMounts"), "logplane-bin");
	char buf[512];

	LP_CHECK_INT(json_array_size(inits), 1);
	LP_CHECK_STR(json_string_value(json_object_get(ic, "name")), "install-nofile");
	LP_CHECK_STR(json_string_value(json_object_get(ic, "image")), image);
	joined(buf, sizeof(buf), json_object_get(ic, "command"));
	LP_CHECK_STR(buf, "/usr/local/bin/logplane-nofile|--install|/logplane-bin");
	LP_CHECK_STR(json_string_value(json_object_get(m, "mountPath")), "/logplane-bin");
	LP_CHECK(!json_is_true(json_object_get(m, "readOnly")));
	LP_CHECK(json_is_object(json_object_get(vol, "emptyDir")));
	LP_CHECK(json_is_true(json_object_get(sec, "readOnlyRootFilesystem")));
	LP_CHECK(json_is_false(json_object_get(sec, "allowPrivilegeEscalation")));
	LP_CHECK(json_is_true(json_object_get(sec, "runAsNonRoot")));
	LP_CHECK_INT(json_integer_value(json_object_get(sec, "runAsUser")), 65532);
	joined(buf, sizeof(buf), json_object_get(json_object_get(sec, "capabilities"), "drop"));
	LP_CHECK_STR(buf, "ALL");
	LP_CHECK(json_object_get(json_object_get(sec, "capabilities"), "add") == NULL);
	LP_CHECK_STR(
	    json_string_value(json_object_get(json_object_get(sec, "seccompProfile"), "type")),
	    "RuntimeDefault");
	LP_CHECK(json_string_value(json_object_get(
	             json_object_get(json_object_get(ic, "resources"), "limits"), "memory")) !=
	         NULL);
	LP_CHECK(json_string_value(json_object_get(
	             json_object_get(json_object_get(ic, "resources"), "requests"), "cpu")) !=
	         NULL);
	LP_CHECK(mounts_resolve(spec, claim));
}

/* The shipper: init container, the helper's read-only mount, the command
 * through the helper with N, the args unchanged, the annotation kept. */
static void t_shipper(void)
{
	struct fixture f;
	struct lp_desired d;
	const json_t *pod, *spec, *c, *m;
	char buf[512];

	fixture_init(&f, 1500);
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	pod = pod_of(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	spec = json_object_get(pod, "spec");
	c = json_array_get(json_object_get(spec, "containers"), 0);
	check_init(spec, "reg.example/logplane-operator:9", NULL);
	/* 2 x 1500, rounded up to 1024 */
	joined(buf, sizeof(buf), json_object_get(c, "command"));
	LP_CHECK_STR(buf, "/logplane-bin/logplane-nofile|3072|--|/fluent-bit/bin/fluent-bit");
	joined(buf, sizeof(buf), json_object_get(c, "args"));
	LP_CHECK_STR(buf, "-c|/fluent-bit/etc/fluent-bit.yaml");
	m = named(json_object_get(c, "volumeMounts"), "logplane-bin");
	LP_CHECK_STR(json_string_value(json_object_get(m, "mountPath")), "/logplane-bin");
	LP_CHECK(json_is_true(json_object_get(m, "readOnly")));
	LP_CHECK_STR(json_string_value(json_object_get(
	                 json_object_get(json_object_get(pod, "metadata"), "annotations"),
	                 LP_OPEN_FILES_ANNOTATION)),
	             "1500");
	lp_desired_free(&d);

	/* a user's Fluent Bit image: the same helper (static) runs in it */
	f.in.fluentbit_image = "user.example/my-fluent-bit:3";
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	spec = json_object_get(pod_of(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME), "spec");
	c = json_array_get(json_object_get(spec, "containers"), 0);
	LP_CHECK_STR(json_string_value(json_object_get(c, "image")),
	             "user.example/my-fluent-bit:3");
	check_init(spec, "reg.example/logplane-operator:9", NULL);
	LP_CHECK_STR(json_string_value(json_array_get(json_object_get(c, "command"), 0)),
	             "/logplane-bin/logplane-nofile");
	lp_desired_free(&d);
}

/* N follows the config's estimate: twice it, rounded up to 1024; a change of
 * N changes the DaemonSet (its pods roll with the new limit). */
static void t_n_from_config(void)
{
	static const struct {
		size_t need;
		const char *n;
	} cases[] = {{0, "1024"},    {1, "1024"},    {512, "1024"},   {513, "2048"},
	             {1500, "3072"}, {2051, "5120"}, {13062, "26624"}};
	char prev_hash[65] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		struct lp_desired d;
		const struct lp_desired_obj *ds;
		const json_t *c;

		fixture_init(&f, cases[i].need);
		LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
		ds = find(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
		c = json_array_get(
		    json_object_get(
		        json_object_get(pod_of(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME), "spec"),
		        "containers"),
		    0);
		LP_CHECK_STR(json_string_value(json_array_get(json_object_get(c, "command"), 1)),
		             cases[i].n);
		if (ds && i > 0 && strcmp(cases[i].n, cases[i - 1].n) != 0)
			LP_CHECK(strcmp(prev_hash, ds->hash) != 0);
		if (ds)
			memcpy(prev_hash, ds->hash, sizeof(prev_hash));
		lp_desired_free(&d);
	}
}

/* No helper image (NULL or ""): Fluent Bit starts directly, nothing added. */
static void t_no_helper(void)
{
	const char *images[] = {NULL, ""};

	for (size_t i = 0; i < 2; i++) {
		struct fixture f;
		struct lp_desired d;
		const json_t *pod, *spec, *c;
		char buf[512];

		fixture_init(&f, 1500);
		f.in.nofile_image = images[i];
		with_aggregator(&f, LP_ENGINE_FLUENTBIT);
		LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
		pod = pod_of(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
		spec = json_object_get(pod, "spec");
		c = json_array_get(json_object_get(spec, "containers"), 0);
		LP_CHECK(json_object_get(spec, "initContainers") == NULL);
		LP_CHECK(named(json_object_get(spec, "volumes"), "logplane-bin") == NULL);
		LP_CHECK(named(json_object_get(c, "volumeMounts"), "logplane-bin") == NULL);
		joined(buf, sizeof(buf), json_object_get(c, "command"));
		LP_CHECK_STR(buf, "/fluent-bit/bin/fluent-bit");
		/* the annotation stays: it states the need whatever starts Fluent Bit */
		LP_CHECK_STR(json_string_value(json_object_get(
		                 json_object_get(json_object_get(pod, "metadata"), "annotations"),
		                 LP_OPEN_FILES_ANNOTATION)),
		             "1500");
		spec =
		    json_object_get(pod_of(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME), "spec");
		LP_CHECK(spec != NULL);
		LP_CHECK(json_object_get(spec, "initContainers") == NULL);
		joined(buf, sizeof(buf),
		       json_object_get(json_array_get(json_object_get(spec, "containers"), 0),
		                       "command"));
		LP_CHECK_STR(buf, "/fluent-bit/bin/fluent-bit|-c|/fluent-bit/etc/fluent-bit.yaml");
		lp_desired_free(&d);
	}
}

/* The Fluent Bit aggregator runs through the helper with
 * LP_AGGREGATOR_OPEN_FILES; the Fluentd one is left as it is. */
static void t_aggregator(void)
{
	struct fixture f;
	struct lp_desired d;
	const json_t *spec, *c;
	char buf[512];

	fixture_init(&f, 700);
	with_aggregator(&f, LP_ENGINE_FLUENTBIT);
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	spec = json_object_get(pod_of(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME), "spec");
	LP_CHECK(spec != NULL);
	c = json_array_get(json_object_get(spec, "containers"), 0);
	check_init(spec, "reg.example/logplane-operator:9", "buffer");
	joined(buf, sizeof(buf), json_object_get(c, "command"));
	LP_CHECK_STR(buf, "/logplane-bin/logplane-nofile|65536|--|/fluent-bit/bin/fluent-bit|-c|"
	                  "/fluent-bit/etc/fluent-bit.yaml");
	LP_CHECK(json_is_true(json_object_get(
	    named(json_object_get(c, "volumeMounts"), "logplane-bin"), "readOnly")));
	/* the buffer volume claim is still mounted beside it */
	LP_CHECK(named(json_object_get(c, "volumeMounts"), "buffer") != NULL);
	lp_desired_free(&d);

	fixture_init(&f, 700);
	with_aggregator(&f, LP_ENGINE_FLUENTD);
	LP_CHECK_INT(lp_desired_build(&d, &f.in), LP_OK);
	spec = json_object_get(pod_of(&d, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME), "spec");
	LP_CHECK(spec != NULL);
	LP_CHECK(json_object_get(spec, "initContainers") == NULL);
	LP_CHECK(named(json_object_get(spec, "volumes"), "logplane-bin") == NULL);
	LP_CHECK_STR(
	    json_string_value(json_array_get(
	        json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "command"),
	        0)),
	    "fluentd");
	/* the shipper beside it still gets the helper */
	spec = json_object_get(pod_of(&d, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME), "spec");
	check_init(spec, "reg.example/logplane-operator:9", NULL);
	lp_desired_free(&d);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"shipper", t_shipper},
	    {"n_from_config", t_n_from_config},
	    {"no_helper", t_no_helper},
	    {"aggregator", t_aggregator},
	};
	return lp_test_main("reconcile_desired_nofile", tests, LP_TEST_COUNT(tests));
}
