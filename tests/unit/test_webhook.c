/* The admission webhook's parts: AdmissionReview answers (pkg/api/admission),
 * the CA and serving certificate policy (pkg/server/certs), and the HTTPS
 * server (pkg/server/https) driven by a real TLS client (libcurl). */
#include "lp_test.h"
#include "../../pkg/api/admission.h"
#include "../../pkg/api/api.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/server/certs.h"
#include "../../pkg/server/https.h"
#include "../../pkg/util/mem.h"
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400

static const char *top(void)
{
	const char *t = getenv("LP_TOP");
	return t && *t ? t : ".";
}

/* The string member key of o, or dflt. */
static const char *sv(const json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : dflt;
}

/* ---------- a set of objects loaded from one YAML file ---------- */

struct set {
	struct lp_yaml_docs docs;
	struct lp_output *outs[64];
	const struct lp_output *sorted[64];
	size_t n_outs;
};

static void set_load(struct set *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	LP_CHECK(lp_yaml_load_file(&s->docs, path) == LP_OK);
	for (size_t i = 0; i < s->docs.n && s->n_outs < 64; i++) {
		const json_t *r = s->docs.v[i].root;
		struct lp_problems pr = {0};
		struct lp_output *o = NULL;
		if (!r || strcmp(sv(r, "kind", ""), "LogOutput"))
			continue;
		if (lp_output_parse(&o, r, &pr) == LP_ERR_NOMEM) /* kept with problems too */
			lp_test_fail(__FILE__, __LINE__, "no memory");
		lp_problems_free(&pr);
		if (o) {
			s->outs[s->n_outs] = o;
			s->sorted[s->n_outs] = o;
			s->n_outs++;
		}
	}
	lp_outputs_sort(s->sorted, s->n_outs);
}

static void set_free(struct set *s)
{
	for (size_t i = 0; i < s->n_outs; i++)
		lp_output_free(s->outs[i]);
	lp_yaml_docs_free(&s->docs);
}

/* An AdmissionReview body for obj (borrowed). */
static char *review_of(const json_t *obj, const char *op, const json_t *old)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *r = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}, s:s, s:O}}", "apiVersion",
	                      "admission.k8s.io/v1", "kind", "AdmissionReview", "request", "uid",
	                      "0b2c1a3e-1111-2222-3333-444455556666", "kind", "group",
	                      "logplane.io", "version", "v1alpha1", "kind", kind ? kind : "",
	                      "operation", op, "object", (json_t *)obj);
	char *s;
	if (old)
		json_object_set(json_object_get(r, "request"), "oldObject", (json_t *)old);
	s = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	return s;
}

struct answer {
	struct lp_admission_result res;
	json_t *resp; /* the response member */
	char *text;
};

static void ask(struct answer *a, const char *body, const struct lp_world *w)
{
	struct lp_buf out;
	json_t *j;

	memset(a, 0, sizeof(*a));
	lp_buf_init(&out, 0);
	LP_CHECK(lp_admission_review(body, strlen(body), w, &out, &a->res) == LP_OK);
	a->text = lp_strdup(lp_buf_str(&out));
	j = json_loads(a->text ? a->text : "", 0, NULL);
	a->resp = json_incref(json_object_get(j, "response"));
	json_decref(j);
	lp_buf_free(&out);
}

static void answer_free(struct answer *a)
{
	json_decref(a->resp);
	lp_free(a->text);
}

static const char *refusal(const struct answer *a)
{
	return json_string_value(json_object_get(json_object_get(a->resp, "status"), "message"));
}

static int warned(const struct answer *a, const char *needle)
{
	const json_t *w = json_object_get(a->resp, "warnings");
	for (size_t i = 0; i < json_array_size(w); i++)
		if (strstr(json_string_value(json_array_get(w, i)), needle))
			return 1;
	return 0;
}

static const json_t *find_doc(const struct set *s, const char *kind, const char *ns,
                              const char *name)
{
	for (size_t i = 0; i < s->docs.n; i++) {
		const json_t *r = s->docs.v[i].root, *md = json_object_get(r, "metadata");
		if (r && !strcmp(sv(r, "kind", ""), kind) && !strcmp(sv(md, "name", ""), name) &&
		    !strcmp(sv(md, "namespace", "default"), ns))
			return r;
	}
	return NULL;
}

/* Every line of every .expect file under tests/data/invalid: the object it names is
 * refused with that field and message, or, for a reference to an object that
 * does not exist, accepted with a warning naming the field. */
static void t_invalid_twins_refused(void)
{
	char dir[2048], path[4400], line[2048];
	DIR *dh;
	struct dirent *de;
	size_t lines = 0, refused = 0, warnings = 0;

	snprintf(dir, sizeof(dir), "%s/tests/data/invalid", top());
	dh = opendir(dir);
	LP_CHECK(dh != NULL);
	while (dh && (de = readdir(dh))) {
		size_t l = strlen(de->d_name);
		FILE *f;
		struct set s;
		if (l < 8 || strcmp(de->d_name + l - 7, ".expect"))
			continue;
		snprintf(path, sizeof(path), "%s/%.*s.yaml", dir, (int)(l - 7), de->d_name);
		set_load(&s, path);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		LP_CHECK(f != NULL);
		while (f && fgets(line, sizeof(line), f)) {
			/* FILE:DOC: Kind ns/name: field: message */
			char kind[32], ns[64], name[128], *p, *field, *msg;
			const json_t *obj;
			struct lp_world w = {0};
			struct answer a;
			char *body;
			line[strcspn(line, "\n")] = '\0';
			p = strstr(line, ": ");
			if (!p || sscanf(p + 2, "%31s %63[^/]/%127[^:]", kind, ns, name) != 3) {
				lp_test_fail(__FILE__, __LINE__, "unreadable expect line %s", line);
				continue;
			}
			field = strstr(p + 2, ": ");
			field = field ? field + 2 : NULL;
			msg = field ? strstr(field, ": ") : NULL;
			if (!msg)
				continue;
			*msg = '\0';
			msg += 2;
			lines++;
			obj = find_doc(&s, kind, ns, name);
			LP_CHECK(obj != NULL);
			if (!obj)
				continue;
			w.outputs = s.sorted;
			w.n_outputs = s.n_outs;
			w.outputs_sorted = 1;
			body = review_of(obj, "CREATE", NULL);
			ask(&a, body, &w);
			/* a missing output, or one not (yet) shared with the pipeline's
			 * namespace: a warning at admission (it may be created next) */
			if (strstr(msg, "not found") || strstr(msg, "is shared with namespace")) {
				LP_CHECK(a.res.verdict == LP_ADMISSION_WARNED ||
				         a.res.verdict == LP_ADMISSION_REFUSED);
				if (!warned(&a, field))
					lp_test_fail(__FILE__, __LINE__, "%s %s: no warning for %s",
					             kind, name, field);
				warnings++;
			} else {
				char want[1024];
				snprintf(want, sizeof(want), "%s: %s", field, msg);
				if (a.res.verdict != LP_ADMISSION_REFUSED || !refusal(&a) ||
				    !strstr(refusal(&a), want))
					lp_test_fail(__FILE__, __LINE__,
					             "%s %s: want refused with \"%s\", got %s",
					             kind, name, want, a.text);
				LP_CHECK(json_is_false(json_object_get(a.resp, "allowed")));
				LP_CHECK_INT(json_integer_value(json_object_get(
				                 json_object_get(a.resp, "status"), "code")),
				             422);
				refused++;
			}
			LP_CHECK_STR(json_string_value(json_object_get(a.resp, "uid")),
			             "0b2c1a3e-1111-2222-3333-444455556666");
			LP_CHECK_STR(a.res.kind, kind);
			answer_free(&a);
			free(body);
		}
		if (f)
			fclose(f);
		set_free(&s);
	}
	if (dh)
		closedir(dh);
	LP_CHECK(lines >= 10);
	LP_CHECK(refused >= 9);
	LP_CHECK(warnings >= 1);
}

/* Every object of every example is allowed, with no warning, when the other
 * objects of its file exist. */
static void t_examples_allowed(void)
{
	char dir[2048], path[4400];
	DIR *dh;
	struct dirent *de;
	size_t objects = 0;

	snprintf(dir, sizeof(dir), "%s/examples", top());
	dh = opendir(dir);
	LP_CHECK(dh != NULL);
	while (dh && (de = readdir(dh))) {
		size_t l = strlen(de->d_name);
		struct set s;
		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		set_load(&s, path);
		for (size_t i = 0; i < s.docs.n; i++) {
			const json_t *r = s.docs.v[i].root;
			const char *k = json_string_value(json_object_get(r, "kind"));
			struct lp_world w = {0};
			struct answer a;
			char *body;
			if (!k || (strcmp(k, "LogPipeline") && strcmp(k, "LogOutput")))
				continue;
			w.outputs = s.sorted;
			w.n_outputs = s.n_outs;
			w.outputs_sorted = 1;
			body = review_of(r, "CREATE", NULL);
			ask(&a, body, &w);
			if (a.res.verdict != LP_ADMISSION_ALLOWED)
				lp_test_fail(__FILE__, __LINE__, "%s: %s", de->d_name, a.text);
			LP_CHECK(json_is_true(json_object_get(a.resp, "allowed")));
			objects++;
			answer_free(&a);
			free(body);
		}
		set_free(&s);
	}
	if (dh)
		closedir(dh);
	LP_CHECK(objects >= 10);
}

static json_t *yaml_obj(const char *text)
{
	struct lp_yaml_docs d = {0};
	json_t *r = NULL;

	if (lp_yaml_load_string(&d, text, strlen(text)) == LP_OK && d.n == 1)
		r = json_incref(d.v[0].root);
	lp_yaml_docs_free(&d);
	return r;
}

static const char pipeline_yaml[] = "apiVersion: logplane.io/v1alpha1\n"
                                    "kind: LogPipeline\n"
                                    "metadata: {name: app, namespace: team-a}\n"
                                    "spec:\n"
                                    "  routes: [{outputRef: later}]\n";

/* A pipeline applied before its output: allowed with a warning naming the field. */
static void t_pipeline_before_output(void)
{
	json_t *p = yaml_obj(pipeline_yaml);
	char *body = review_of(p, "CREATE", NULL);
	struct answer a;

	ask(&a, body, NULL);
	LP_CHECK_INT(a.res.verdict, LP_ADMISSION_WARNED);
	LP_CHECK(json_is_true(json_object_get(a.resp, "allowed")));
	LP_CHECK(warned(&a, "spec.routes[0].outputRef: LogOutput \"later\" not found"));
	answer_free(&a);
	free(body);
	json_decref(p);
}

/* Tenancy is refused; an UPDATE leaving spec alone, a deleting object and a
 * DELETE are allowed (finalizers of objects stored before the rules). */
static void t_update_delete_rules(void)
{
	json_t *p = yaml_obj("apiVersion: logplane.io/v1alpha1\nkind: LogPipeline\n"
	                     "metadata: {name: app, namespace: team-a}\n"
	                     "spec:\n  input: {system: {enabled: true}}\n"
	                     "  routes: [{outputRef: x}]\n");
	json_t *p2 = json_deep_copy(p);
	char *body;
	struct answer a;

	body = review_of(p, "CREATE", NULL);
	ask(&a, body, NULL);
	LP_CHECK_INT(a.res.verdict, LP_ADMISSION_REFUSED);
	LP_CHECK_HAS(refusal(&a), "LogPipeline team-a/app is invalid: spec.input.system: only "
	                          "pipelines in the control namespace");
	LP_CHECK_STR(
	    json_string_value(json_object_get(
	        json_array_get(
	            json_object_get(json_object_get(json_object_get(a.resp, "status"), "details"),
	                            "causes"),
	            0),
	        "field")),
	    "spec.input.system");
	answer_free(&a);
	free(body);
	/* the same spec, a finalizer added */
	json_object_set_new(json_object_get(p2, "metadata"), "finalizers",
	                    json_pack("[s]", "logplane.io/finalizer"));
	body = review_of(p2, "UPDATE", p);
	ask(&a, body, NULL);
	LP_CHECK_INT(a.res.verdict, LP_ADMISSION_ALLOWED);
	answer_free(&a);
	free(body);
	/* a spec change of a bad object is refused */
	json_object_set_new(json_object_get(p2, "spec"), "routes",
	                    json_pack("[{s:s}]", "outputRef", "y"));
	body = review_of(p2, "UPDATE", p);
	ask(&a, body, NULL);
	LP_CHECK_INT(a.res.verdict, LP_ADMISSION_REFUSED);
	answer_free(&a);
	free(body);
	/* being deleted */
	json_object_set_new(json_object_get(p2, "metadata"), "deletionTimestamp",
	                    json_string("2026-12-03T10:00:00Z"));
	body = review_of(p2, "UPDATE", p);
	ask(&a, body, NULL);
	LP_CHECK_INT(a.res.verdict, LP_ADMISSION_ALLOWED);
	answer_free(&a);
	free(body);
	body = review_of(p, "DELETE", NULL);
	ask(&a, body, NULL);
	LP_CHECK_INT(a.res.verdict, LP_ADMISSION_ALLOWED);
	answer_free(&a);
	free(body);
	json_decref(p);
	json_decref(p2);
}

/* The namespace comes from the request when the object has none. */
static void t_namespace_from_request(void)
{
	json_t *p = yaml_obj("apiVersion: logplane.io/v1alpha1\nkind: LogPipeline\n"
	                     "metadata: {name: app}\n"
	                     "spec:\n  input: {system: {enabled: true}}\n"
	                     "  routes: [{outputRef: x}]\n");
	char *body = review_of(p, "CREATE", NULL);
	json_t *r = json_loads(body, 0, NULL);
	char *body2;
	struct answer a;

	json_object_set_new(json_object_get(r, "request"), "namespace",
	                    json_string("logplane-system"));
	body2 = json_dumps(r, JSON_COMPACT);
	ask(&a, body2, NULL);
	LP_CHECK_INT(a.res.verdict, LP_ADMISSION_WARNED); /* system logs fine there */
	answer_free(&a);
	free(body);
	free(body2);
	json_decref(r);
	json_decref(p);
}

static void t_bad_requests(void)
{
	static const char *const bodies[] = {
	    "", "not json", "{}", "{\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{}}",
	    "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"request\":{\"uid\":\"u\"}}"};
	for (size_t i = 0; i < LP_TEST_COUNT(bodies); i++) {
		struct lp_buf out;
		struct lp_admission_result res;
		lp_buf_init(&out, 0);
		LP_CHECK(lp_admission_review(bodies[i], strlen(bodies[i]), NULL, &out, &res) ==
		         LP_OK);
		LP_CHECK_INT(res.verdict, LP_ADMISSION_BAD_REQUEST);
		LP_CHECK_INT(res.http_status, 400);
		LP_CHECK_HAS(lp_buf_str(&out), "not an AdmissionReview");
		lp_buf_free(&out);
	}
	/* another kind is allowed untouched */
	{
		const char *b =
		    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		    "\"request\":{\"uid\":\"u1\",\"kind\":{\"kind\":\"ConfigMap\"},"
		    "\"operation\":\"CREATE\",\"object\":{}}}";
		struct answer a;
		ask(&a, b, NULL);
		LP_CHECK_INT(a.res.verdict, LP_ADMISSION_ALLOWED);
		LP_CHECK_STR(json_string_value(json_object_get(a.resp, "uid")), "u1");
		answer_free(&a);
	}
}

/* ---------- certificates ---------- */

static const char *const names[] = {"logplane-webhook.logplane-system.svc",
                                    "logplane-webhook.logplane-system.svc.cluster.local"};

static int count_certs(const char *pem)
{
	int n = 0;
	for (const char *p = pem; p && (p = strstr(p, "BEGIN CERTIFICATE")); p++)
		n++;
	return n;
}

static void t_certs_policy(void)
{
	struct lp_certs c = {0}, leaf = {0}, all = {0}, other = {0};
	int64_t now = 1800000000, na = 0;
	const char *const wrong[] = {"else.logplane-system.svc"};

	LP_CHECK_INT(lp_certs_check(&c, names, 2, now), LP_CERTS_RENEW_ALL);
	LP_CHECK(lp_certs_renew(&c, NULL, LP_CERTS_RENEW_ALL, names, 2, now) == LP_OK);
	LP_CHECK_INT(lp_certs_check(&c, names, 2, now), LP_CERTS_OK);
	LP_CHECK_INT(lp_certs_check(&c, wrong, 1, now), LP_CERTS_RENEW_LEAF);
	LP_CHECK(lp_certs_not_after(c.tls_crt, &na) == LP_OK);
	LP_CHECK_INT(na, now + (int64_t)LP_CERTS_LEAF_DAYS * DAY);
	LP_CHECK_INT(count_certs(c.ca_crt), 1);
	/* the serving certificate comes due first */
	LP_CHECK_INT(lp_certs_check(
	                 &c, names, 2,
	                 now + (int64_t)(LP_CERTS_LEAF_DAYS - LP_CERTS_LEAF_RENEW_DAYS - 1) * DAY),
	             LP_CERTS_OK);
	LP_CHECK_INT(lp_certs_check(
	                 &c, names, 2,
	                 now + (int64_t)(LP_CERTS_LEAF_DAYS - LP_CERTS_LEAF_RENEW_DAYS + 1) * DAY),
	             LP_CERTS_RENEW_LEAF);
	LP_CHECK(lp_certs_renew(&leaf, &c, LP_CERTS_RENEW_LEAF, names, 2, now + 300 * DAY) ==
	         LP_OK);
	LP_CHECK_STR(leaf.ca_crt, c.ca_crt); /* same CA: the caBundle does not change */
	LP_CHECK(strcmp(leaf.tls_crt, c.tls_crt) != 0);
	LP_CHECK_INT(lp_certs_check(&leaf, names, 2, now + 300 * DAY), LP_CERTS_OK);
	/* the CA comes due: a new one, the old one kept second in the bundle */
	LP_CHECK_INT(
	    lp_certs_check(&leaf, names, 2,
	                   now + (int64_t)(LP_CERTS_CA_DAYS - LP_CERTS_CA_RENEW_DAYS + 1) * DAY),
	    LP_CERTS_RENEW_ALL);
	LP_CHECK(lp_certs_renew(&all, &leaf, LP_CERTS_RENEW_ALL, names, 2,
	                        now + (int64_t)(LP_CERTS_CA_DAYS - 300) * DAY) == LP_OK);
	LP_CHECK_INT(count_certs(all.ca_crt), 2);
	LP_CHECK(strstr(all.ca_crt, leaf.ca_crt) != NULL);
	LP_CHECK(strncmp(all.ca_crt, leaf.ca_crt, strlen(leaf.ca_crt)) != 0); /* new one first */
	LP_CHECK_INT(lp_certs_check(&all, names, 2, now + (int64_t)(LP_CERTS_CA_DAYS - 300) * DAY),
	             LP_CERTS_OK);
	/* a tampered key: the pair no longer matches */
	other = all;
	other.tls_key = c.tls_key;
	LP_CHECK_INT(
	    lp_certs_check(&other, names, 2, now + (int64_t)(LP_CERTS_CA_DAYS - 300) * DAY),
	    LP_CERTS_RENEW_LEAF);
	LP_CHECK(lp_certs_renew(&other, &c, LP_CERTS_RENEW_LEAF, NULL, 0, now) == LP_ERR_INVALID);
	LP_CHECK(lp_certs_not_after("junk", &na) == LP_ERR_INVALID);
	lp_certs_clear(&c);
	lp_certs_clear(&leaf);
	lp_certs_clear(&all);
}

/* ---------- the HTTPS server, with a real TLS client ---------- */

struct srv {
	struct lp_loop *loop;
	struct lp_https *h;
	int stop;
	int requests;
};

static lp_err echo(void *ctx, const char *path, const char *body, size_t len, struct lp_buf *out,
                   int *status, const char **ctype)
{
	struct srv *s = ctx;
	s->requests++;
	if (!strcmp(path, "/boom"))
		return LP_ERR_IO;
	*status = 200;
	*ctype = "application/json";
	return lp_buf_addf(out, "{\"path\":\"%s\",\"len\":%zu,\"body\":\"%.*s\"}", path, len,
	                   (int)(len > 16 ? 16 : len), body);
}

static void *loop_thread(void *arg)
{
	struct srv *s = arg;
	if (lp_loop_run_until(s->loop, &s->stop, 20000) != LP_OK)
		s->stop = 2;
	return NULL;
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	struct lp_buf *b = arg;
	return lp_buf_add(b, p, sz * n) == LP_OK ? sz * n : 0;
}

/* POSTs (or GETs with body NULL) over TLS, verifying the server as
 * logplane-webhook.logplane-system.svc against ca. Returns the HTTP status
 * (0 on a TLS or transport failure). */
static long request(CURL *e, int port, const char *ca, const char *path, const char *body,
                    struct lp_buf *out)
{
	char url[256], res[256];
	struct curl_slist *rl = NULL;
	struct curl_blob blob = {(void *)ca, strlen(ca), CURL_BLOB_COPY};
	long code = 0;

	snprintf(url, sizeof(url), "https://logplane-webhook.logplane-system.svc:%d%s", port, path);
	snprintf(res, sizeof(res), "logplane-webhook.logplane-system.svc:%d:127.0.0.1", port);
	rl = curl_slist_append(rl, res);
	lp_buf_reset(out);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_RESOLVE, rl);
	curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rl);
	return code;
}

static void t_https_server(void)
{
	struct srv s = {0};
	struct lp_https_opts o = {0};
	struct lp_certs c = {0}, other = {0};
	struct lp_buf out;
	pthread_t th;
	CURL *e = curl_easy_init();
	long conns = -1;
	char big[100000];

	lp_buf_init(&out, 0);
	LP_CHECK(lp_loop_new(&s.loop, NULL) == LP_OK);
	o.host = "127.0.0.1";
	o.loop = s.loop;
	o.handler = echo;
	o.ctx = &s;
	o.max_body = 200000;
	LP_CHECK(lp_https_new(&s.h, &o) == LP_OK);
	LP_CHECK(lp_certs_renew(&c, NULL, LP_CERTS_RENEW_ALL, names, 2, (int64_t)time(NULL)) ==
	         LP_OK);
	LP_CHECK(lp_certs_renew(&other, NULL, LP_CERTS_RENEW_ALL, names, 2, (int64_t)time(NULL)) ==
	         LP_OK);
	LP_CHECK(lp_https_set_cert(s.h, c.tls_crt, other.tls_key) == LP_ERR_INVALID);
	LP_CHECK(lp_https_set_cert(s.h, "junk", c.tls_key) == LP_ERR_INVALID);
	LP_CHECK(!lp_https_has_cert(s.h));
	LP_CHECK(lp_https_set_cert(s.h, c.tls_crt, c.tls_key) == LP_OK);
	LP_CHECK(pthread_create(&th, NULL, loop_thread, &s) == 0);

	LP_CHECK_INT(request(e, lp_https_port(s.h), c.ca_crt, "/validate", "{\"a\":1}", &out), 200);
	LP_CHECK_STR(lp_buf_str(&out), "{\"path\":\"/validate\",\"len\":7,\"body\":\"{\"a\":1}\"}");
	/* the same connection again (keep-alive) */
	LP_CHECK_INT(request(e, lp_https_port(s.h), c.ca_crt, "/validate", "x", &out), 200);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
	LP_CHECK_INT(conns, 0);
	/* a body larger than one TLS record */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	LP_CHECK_INT(request(e, lp_https_port(s.h), c.ca_crt, "/validate", big, &out), 200);
	LP_CHECK_HAS(lp_buf_str(&out), "\"len\":99999");
	LP_CHECK_INT(request(e, lp_https_port(s.h), c.ca_crt, "/validate", NULL, &out), 405);
	LP_CHECK_INT(request(e, lp_https_port(s.h), c.ca_crt, "/boom", "{}", &out), 500);
	/* too large */
	{
		char *huge = lp_malloc(300001);
		memset(huge, 'h', 300000);
		huge[300000] = '\0';
		long code = request(e, lp_https_port(s.h), c.ca_crt, "/validate", huge, &out);
		/* 413, or a reset when the close overtakes the rest of the upload */
		if (code != 413 && code != 0)
			lp_test_fail(__FILE__, __LINE__, "too large: HTTP %ld", code);
		lp_free(huge);
	}
	/* a client that does not trust this CA gets no answer */
	LP_CHECK_INT(request(e, lp_https_port(s.h), other.ca_crt, "/validate", "{}", &out), 0);
	s.stop = 1;
	pthread_join(th, NULL);
	LP_CHECK_INT(s.requests, 4);
	curl_easy_cleanup(e);
	lp_https_free(s.h);
	lp_loop_free(s.loop);
	lp_certs_clear(&c);
	lp_certs_clear(&other);
	lp_buf_free(&out);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"admission_invalid_twins_refused", t_invalid_twins_refused},
	    {"admission_examples_allowed", t_examples_allowed},
	    {"admission_pipeline_before_output_warned", t_pipeline_before_output},
	    {"admission_update_delete_rules", t_update_delete_rules},
	    {"admission_namespace_from_request", t_namespace_from_request},
	    {"admission_bad_requests", t_bad_requests},
	    {"certs_policy", t_certs_policy},
	    {"https_server", t_https_server},
	};
	int rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = lp_test_main("webhook", tests, LP_TEST_COUNT(tests));
	curl_global_cleanup();
	return rc;
}
