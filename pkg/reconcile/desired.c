/* pkg/reconcile/desired.c: rendered config -> owned objects (see desired.h):
 * the object builder, the credentials Secrets, the config ConfigMaps, RBAC and
 * the entry point lp_desired_build. The agents' DaemonSet and the aggregator's
 * StatefulSet (pod specs) are in desired_pods.c. */
#include "desired.h"
#include "desired_int.h"
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include "../util/b64.h"
#include "../util/buf.h"
#include "../util/hex.h"
#include "../util/mem.h"

static const struct lp_owned_kind_info kind_table[LP_OWNED_KIND_COUNT] = {
    [LP_OWNED_SECRET] = {"Secret", "v1", "secrets", 1},
    [LP_OWNED_CONFIGMAP] = {"ConfigMap", "v1", "configmaps", 1},
    [LP_OWNED_SERVICEACCOUNT] = {"ServiceAccount", "v1", "serviceaccounts", 1},
    [LP_OWNED_CLUSTERROLE] = {"ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", 0},
    [LP_OWNED_CLUSTERROLEBINDING] = {"ClusterRoleBinding", "rbac.authorization.k8s.io/v1",
                                     "clusterrolebindings", 0},
    [LP_OWNED_SERVICE] = {"Service", "v1", "services", 1},
    [LP_OWNED_PDB] = {"PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", 1},
    [LP_OWNED_STATEFULSET] = {"StatefulSet", "apps/v1", "statefulsets", 1},
    [LP_OWNED_DAEMONSET] = {"DaemonSet", "apps/v1", "daemonsets", 1},
};

const struct lp_owned_kind_info *lp_owned_kind_info(enum lp_owned_kind k)
{
	if ((int)k < 0 || k >= LP_OWNED_KIND_COUNT)
		return NULL;
	return &kind_table[k];
}

enum lp_owned_kind lp_owned_kind_parse(const char *kind)
{
	for (int i = 0; kind && i < LP_OWNED_KIND_COUNT; i++)
		if (strcmp(kind_table[i].kind, kind) == 0)
			return (enum lp_owned_kind)i;
	return LP_OWNED_KIND_COUNT;
}

void lp_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		memset(out, '0', 64);
		out[64] = '\0';
		return;
	}
	lp_hex_encode(out, md, 32);
}

/* The JSON text goes into the digest through a small buffer, so that the
 * text of a ConfigMap (up to a MiB) is never held whole. */
struct hash_sink {
	EVP_MD_CTX *md;
	size_t n;
	int failed;
	char buf[16384];
};

static int hash_sink_flush(struct hash_sink *s)
{
	if (s->n && !EVP_DigestUpdate(s->md, s->buf, s->n))
		s->failed = 1;
	s->n = 0;
	return s->failed ? -1 : 0;
}

static int hash_sink_write(const char *p, size_t len, void *arg)
{
	struct hash_sink *s = arg;

	if (s->n + len > sizeof(s->buf) && hash_sink_flush(s))
		return -1;
	if (len > sizeof(s->buf)) {
		if (!EVP_DigestUpdate(s->md, p, len))
			s->failed = 1;
		return s->failed ? -1 : 0;
	}
	memcpy(s->buf + s->n, p, len);
	s->n += len;
	return 0;
}

/* The same digest as lp_sha256_hex() over json_dumps(obj, JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII), without the whole text or a deep copy:
 * only the objects on the path to the ignored annotation are copied (shallow). */
lp_err lp_desired_hash(char out[65], const json_t *obj)
{
	json_t *view = (json_t *)obj, *copy = NULL, *meta_c = NULL, *ann_c = NULL;
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *ann = json_object_get(meta, "annotations");
	struct hash_sink *sink = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	lp_err err = LP_ERR_NOMEM;

	if (json_is_object(ann) &&
	    (json_object_get(ann, LP_APPLIED_HASH_ANNOTATION) || json_object_size(ann) == 0)) {
		copy = json_copy((json_t *)obj);
		meta_c = json_copy((json_t *)meta);
		ann_c = json_copy((json_t *)ann);
		if (!copy || !meta_c || !ann_c)
			goto out;
		json_object_del(ann_c, LP_APPLIED_HASH_ANNOTATION);
		if (json_object_size(ann_c) == 0) /* an empty map is the same as none */
			json_object_del(meta_c, "annotations");
		else if (json_object_set(meta_c, "annotations", ann_c))
			goto out;
		if (json_object_set(copy, "metadata", meta_c))
			goto out;
		view = copy;
	}
	sink = lp_calloc(1, sizeof(*sink));
	if (!sink || !(sink->md = EVP_MD_CTX_new()))
		goto out;
	if (!EVP_DigestInit_ex(sink->md, EVP_sha256(), NULL) ||
	    json_dump_callback(view, hash_sink_write, sink,
	                       JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) != 0 ||
	    hash_sink_flush(sink) || !EVP_DigestFinal_ex(sink->md, md, &mdlen) || mdlen != 32)
		goto out;
	lp_hex_encode(out, md, 32);
	err = LP_OK;
out:
	if (sink)
		EVP_MD_CTX_free(sink->md);
	lp_free(sink);
	json_decref(ann_c);
	json_decref(meta_c);
	json_decref(copy);
	return err;
}

void lp_desired_free(struct lp_desired *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		lp_free(d->v[i].name);
		lp_free(d->v[i].ns);
		json_decref(d->v[i].obj);
	}
	lp_free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* ---------- building blocks ---------- */

/* The chart's agent settings (NULL: built-in defaults). */
const struct lp_agent_settings *dsr_fb_settings(const struct builder *b)
{
	return b->in->agents ? &b->in->agents->fluent_bit : NULL;
}

const struct lp_agent_settings *dsr_agg_settings(const struct builder *b)
{
	return b->in->agents ? &b->in->agents->aggregator : NULL;
}

/* Labels every owned object carries, plus the component's selector labels. */
static json_t *labels_new(const char *app, const char *component)
{
	return json_pack("{s:s, s:s, s:s, s:s}", LP_MANAGED_BY_LABEL, LP_MANAGED_BY_VALUE,
	                 "app.kubernetes.io/part-of", "logplane", "app.kubernetes.io/name", app,
	                 "app.kubernetes.io/component", component);
}

json_t *dsr_selector_labels_new(const char *app)
{
	return json_pack("{s:s, s:s}", "app.kubernetes.io/name", app, "app.kubernetes.io/instance",
	                 "logplane");
}

/* A new object {apiVersion, kind, metadata{name, namespace?, labels}}. */
json_t *dsr_object_new(enum lp_owned_kind k, const char *name, const char *ns, const char *app,
                       const char *component)
{
	const struct lp_owned_kind_info *ki = &kind_table[k];

	return json_pack("{s:s, s:s, s:{s:s, s:s*, s:o}}", "apiVersion", ki->api_version, "kind",
	                 ki->kind, "metadata", "name", name, "namespace",
	                 ki->namespaced ? ns : NULL, "labels", labels_new(app, component));
}

/* Takes obj (also on failure): stamps the applied hash and appends it. */
lp_err dsr_builder_add(struct builder *b, enum lp_owned_kind k, json_t *obj)
{
	struct lp_desired_obj *o, *nv;
	json_t *meta, *ann;
	char hash[65];
	lp_err err = LP_ERR_NOMEM;

	if (!obj)
		return LP_ERR_NOMEM;
	if (b->d.n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		nv = lp_realloc(b->d.v, ncap * sizeof(*nv));
		if (!nv)
			goto fail;
		b->d.v = nv;
		b->cap = ncap;
	}
	err = lp_desired_hash(hash, obj);
	if (err)
		goto fail;
	err = LP_ERR_NOMEM;
	meta = json_object_get(obj, "metadata");
	ann = json_object_get(meta, "annotations");
	if (!ann) {
		ann = json_object();
		if (json_object_set_new(meta, "annotations", ann))
			goto fail;
	}
	if (json_object_set_new(ann, LP_APPLIED_HASH_ANNOTATION, json_string(hash)))
		goto fail;
	o = &b->d.v[b->d.n];
	memset(o, 0, sizeof(*o));
	o->kind = k;
	o->name = lp_strdup(json_string_value(json_object_get(meta, "name")));
	o->ns = kind_table[k].namespaced ? lp_strdup(b->ns) : NULL;
	if (!o->name || (kind_table[k].namespaced && !o->ns)) {
		lp_free(o->name);
		lp_free(o->ns);
		goto fail;
	}
	memcpy(o->hash, hash, sizeof(hash));
	o->obj = obj;
	b->d.n++;
	return LP_OK;
fail:
	json_decref(obj);
	return err;
}
/* ---------- credentials Secret and config hash ---------- */

/* Key in the credentials Secret of a file the config reads (a CA bundle):
 * "file-" + the first 16 hex digits of the SHA-256 of its path. */
static void mount_key(char out[32], const char *path)
{
	char h[65];
	lp_sha256_hex(h, path, strlen(path));
	snprintf(out, 32, "file-%.16s", h);
}

static const char *lookup(struct builder *b, const char *ns, const char *name, const char *key)
{
	return b->in->secret_value ? b->in->secret_value(b->in->secret_ctx, ns, name, key) : NULL;
}

/* Secret values arrive base64-encoded (Secret.data); the credentials file
 * wants them decoded. Decoded copies live here until the file is built, and
 * are wiped before they are freed. */
struct decoded {
	struct builder *b;
	char *v[3];
	size_t n;
	int nomem; /* a value was there but could not be decoded for want of memory */
};

static const char *decoded_lookup(void *ctx, const char *ns, const char *name, const char *key)
{
	struct decoded *dc = ctx;
	char *v;

	if (dc->n == 3)
		return NULL;
	v = lp_b64_decode(lookup(dc->b, ns, name, key), 65536, NULL);
	if (v)
		dc->v[dc->n++] = v;
	else if (lp_b64_decodable(lookup(dc->b, ns, name, key), 65536))
		dc->nomem = 1;
	return v;
}

static void decoded_clear(struct decoded *dc)
{
	for (size_t i = 0; i < dc->n; i++) {
		OPENSSL_cleanse(dc->v[i], strlen(dc->v[i]));
		lp_free(dc->v[i]);
	}
	dc->n = 0;
}

/* Builds b->aws_file_b64 (and its digest) from r's AWS profiles, one profile
 * at a time: a profile whose Secret or key is missing, or whose value cannot
 * be written safely, is left out and counted in n_missing_secrets (its
 * outputs then fail to sign; the others keep working). */
static lp_err build_aws_file(struct builder *b, const struct lp_rendered *r)
{
	struct lp_buf text;
	unsigned char *enc = NULL;
	lp_err err = LP_OK;

	if (r->n_aws_profiles == 0)
		return LP_OK;
	lp_buf_init(&text, 0);
	for (size_t i = 0; !err && i < r->n_aws_profiles; i++) {
		struct lp_rendered one;
		struct decoded dc = {b, {NULL, NULL, NULL}, 0, 0};
		memset(&one, 0, sizeof(one));
		one.aws_profiles = &r->aws_profiles[i];
		one.n_aws_profiles = 1;
		err = lp_render_aws_credentials_file(&one, decoded_lookup, &dc, &text);
		decoded_clear(&dc);
		if (dc.nomem && err)
			err = LP_ERR_NOMEM; /* not a missing value: fail, to be retried */
		if (err == LP_ERR_NOTFOUND || err == LP_ERR_PARSE) {
			b->d.n_missing_secrets++;
			err = LP_OK;
		}
	}
	if (!err && text.len) {
		size_t cap = (text.len + 2) / 3 * 4 + 1;
		enc = lp_malloc(cap);
		if (!enc)
			err = LP_ERR_NOMEM;
		else {
			EVP_EncodeBlock(enc, (const unsigned char *)text.ptr, (int)text.len);
			lp_sha256_hex(b->aws_file_sha, text.ptr, text.len);
			b->aws_file_b64 = (char *)enc;
		}
	}
	if (text.ptr)
		OPENSSL_cleanse(text.ptr, text.cap);
	lp_buf_free(&text);
	return err;
}

/* The Secret piece holding key, or NULL when the key was left out (no value,
 * or too large for any Secret). */
const char *dsr_cred_piece(const struct builder *b, const char *key)
{
	for (size_t i = 0; i < b->n_creds; i++)
		if (!strcmp(b->creds[i].key, key))
			return b->creds[i].piece >= 0 ? b->pieces[b->creds[i].piece] : NULL;
	return NULL;
}

/* Collects every credential (env values, file keys, the AWS file) with its
 * value into b->creds. A missing value is left out (counted). */
static lp_err collect_creds(struct builder *b, const struct lp_rendered *r)
{
	b->creds = lp_calloc(r->n_env + r->n_mounts + 1, sizeof(*b->creds));
	if (!b->creds)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < r->n_env; i++) {
		const struct lp_render_env *e = &r->env[i];
		struct cred *cr = &b->creds[b->n_creds++];
		cr->key = e->var;
		cr->b64 = lookup(b, e->secret_ns, e->secret_name, e->secret_key);
	}
	for (size_t i = 0; i < r->n_mounts; i++) {
		const struct lp_render_mount *m = &r->mounts[i];
		struct cred *cr = &b->creds[b->n_creds++];
		mount_key(cr->keybuf, m->path);
		cr->key = cr->keybuf;
		cr->b64 = lookup(b, m->secret_ns, m->secret_name, m->secret_key);
	}
	if (b->aws_file_b64) {
		b->creds[b->n_creds].key = LP_AWS_CREDENTIALS_KEY;
		b->creds[b->n_creds++].b64 = b->aws_file_b64;
	}
	for (size_t i = 0; i < b->n_creds; i++) {
		struct cred *cr = &b->creds[i];
		cr->piece = -1;
		if (!cr->b64) {
			b->d.n_missing_secrets++;
			continue;
		}
		cr->size = strlen(cr->key) + lp_b64_decoded_len(cr->b64);
		if (cr->size > LP_CREDENTIALS_MAX_BYTES) {
			b->d.n_missing_secrets++;
			b->d.n_creds_too_large++;
			cr->b64 = NULL;
		}
	}
	return LP_OK;
}

/* One credentials Secret holding the credentials of piece p, named by its
 * content (LP_CREDENTIALS_NAME-<10 hex>): a set of keys never changes under
 * a running pod; a new set is a new Secret. */
static lp_err add_piece(struct builder *b, long p)
{
	json_t *obj = NULL, *data = json_object();
	char h[65], (*nv)[96];
	lp_err err = LP_ERR_NOMEM;

	if (!data)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < b->n_creds; i++)
		if (b->creds[i].piece == p &&
		    json_object_set_new(data, b->creds[i].key, json_string(b->creds[i].b64)))
			goto out;
	err = lp_desired_hash(h, data);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	nv = lp_realloc(b->pieces, (b->n_pieces + 1) * sizeof(*nv));
	if (!nv)
		goto out;
	b->pieces = nv;
	snprintf(b->pieces[b->n_pieces], sizeof(b->pieces[0]), "%s-%.10s", LP_CREDENTIALS_NAME, h);
	obj = dsr_object_new(LP_OWNED_SECRET, b->pieces[b->n_pieces], b->ns, "logplane",
	                     "credentials");
	b->n_pieces++;
	/* (set_new takes data even when obj is NULL) */
	if (json_object_set_new(obj, "data", data) ||
	    json_object_set_new(obj, "type", json_string("Opaque"))) {
		json_decref(obj);
		return LP_ERR_NOMEM;
	}
	return dsr_builder_add(b, LP_OWNED_SECRET, obj);
out:
	json_decref(data);
	return err;
}

/* The agents' credentials, in as many Secrets as it takes to keep each under
 * what an API server accepts (LP_CREDENTIALS_MAX_BYTES): keys are packed in
 * render order, a new Secret when the next does not fit. */
static lp_err add_credentials(struct builder *b, const struct lp_rendered *r)
{
	size_t used = 0;
	long p = -1;
	lp_err err = collect_creds(b, r);

	for (size_t i = 0; !err && i < b->n_creds; i++) {
		struct cred *cr = &b->creds[i];
		if (!cr->b64)
			continue;
		if (p < 0 || used + cr->size > LP_CREDENTIALS_MAX_BYTES) {
			if (p >= 0)
				err = add_piece(b, p);
			p++;
			used = 0;
		}
		cr->piece = p;
		used += cr->size;
	}
	if (!err && p >= 0)
		err = add_piece(b, p);
	return err;
}

static lp_err config_hash(struct builder *b, const struct lp_rendered *r)
{
	struct lp_buf buf;
	const char *val;
	lp_err err;

	lp_buf_init(&buf, 0);
	err = lp_buf_addf(&buf, "shipper:%s\naggregator:%s\n", r->shipper.hash,
	                  r->has_aggregator ? r->aggregator.hash : "");
	for (size_t i = 0; !err && i < r->n_env; i++) {
		const struct lp_render_env *e = &r->env[i];
		val = b->in->secret_value ? b->in->secret_value(b->in->secret_ctx, e->secret_ns,
		                                                e->secret_name, e->secret_key)
		                          : NULL;
		err = lp_buf_addf(&buf, "%s=%s/%s/%s:%s\n", e->var, e->secret_ns, e->secret_name,
		                  e->secret_key, val ? val : "");
	}
	for (size_t i = 0; !err && i < r->n_mounts; i++) {
		const struct lp_render_mount *m = &r->mounts[i];
		val = lookup(b, m->secret_ns, m->secret_name, m->secret_key);
		err = lp_buf_addf(&buf, "file %s=%s/%s/%s:%s\n", m->path, m->secret_ns,
		                  m->secret_name, m->secret_key, val ? val : "");
	}
	/* the AWS profiles' keys: a rotated key rolls the pods */
	if (!err && b->aws_file_b64)
		err = lp_buf_addf(&buf, "aws-credentials:%s\n", b->aws_file_sha);
	if (err) {
		lp_buf_free(&buf);
		return err;
	}
	lp_sha256_hex(b->d.config_hash, lp_buf_str(&buf), buf.len);
	lp_buf_free(&buf);
	return LP_OK;
}

/* ---------- ConfigMaps ---------- */

/* Names a finished part by its content (base-<10 hex of its data>), lists it
 * in sources and adds it. Takes obj. */
static lp_err add_part(struct builder *b, json_t *obj, const char *base, json_t *sources,
                       char *first, size_t firstsz)
{
	char h[65], name[256];
	lp_err err = lp_desired_hash(h, json_object_get(obj, "data"));

	if (err) {
		json_decref(obj);
		return err;
	}
	snprintf(name, sizeof(name), "%s-%.10s", base, h);
	if (first && !*first && firstsz) {
		size_t n = strlen(name) < firstsz ? strlen(name) : firstsz - 1;
		memcpy(first, name, n);
		first[n] = '\0';
	}
	if (json_object_set_new(json_object_get(obj, "metadata"), "name", json_string(name)) ||
	    json_array_append_new(sources, json_pack("{s:{s:s}}", "configMap", "name", name))) {
		json_decref(obj);
		return LP_ERR_NOMEM;
	}
	return dsr_builder_add(b, LP_OWNED_CONFIGMAP, obj);
}

/* Packs the files into ConfigMaps of at most LP_RENDER_SPLIT_BYTES each,
 * each named by its content (add_part), the entry file's part first; so a
 * part never changes under a running pod, and a config refers only to parts
 * that exist before it does. Appends {configMap:{name}} to sources
 * (projected volume sources, so every part lands in one directory); the
 * first part's name goes to first (firstsz bytes; may be NULL). */
lp_err dsr_add_configmaps(struct builder *b, const struct lp_rendered_config *c, const char *base,
                          const char *app, json_t *sources, char *first, size_t firstsz)
{
	json_t *obj = NULL, *data = NULL;
	size_t used = 0;

	for (size_t i = 0; i <= c->n_files; i++) {
		int flush =
		    obj && (i == c->n_files || used + c->files[i].len + 64 > LP_RENDER_SPLIT_BYTES);
		if (flush) {
			if (add_part(b, obj, base, sources, first, firstsz))
				return LP_ERR_NOMEM;
			obj = NULL;
			used = 0;
		}
		if (i == c->n_files)
			break;
		if (!obj) {
			obj = dsr_object_new(LP_OWNED_CONFIGMAP, base, b->ns, app, "config");
			data = json_object();
			if (json_object_set_new(obj, "data", data))
				goto fail;
		}
		if (json_object_set_new(data, c->files[i].name,
		                        json_stringn(c->files[i].data, c->files[i].len)))
			goto fail;
		used += c->files[i].len + strlen(c->files[i].name);
	}
	return LP_OK;
fail:
	json_decref(obj);
	return LP_ERR_NOMEM;
}

/* ---------- RBAC ---------- */

static lp_err add_rbac(struct builder *b)
{
	json_t *sa, *cr, *crb;

	sa = dsr_object_new(LP_OWNED_SERVICEACCOUNT, LP_SHIPPER_NAME, b->ns, "fluent-bit",
	                    "shipper");
	if (sa && dsr_fb_settings(b) && dsr_fb_settings(b)->sa_annotations &&
	    json_object_size(dsr_fb_settings(b)->sa_annotations) &&
	    json_object_set_new(json_object_get(sa, "metadata"), "annotations",
	                        json_deep_copy(dsr_fb_settings(b)->sa_annotations))) {
		json_decref(sa);
		sa = NULL;
	}
	if (dsr_builder_add(b, LP_OWNED_SERVICEACCOUNT, sa))
		return LP_ERR_NOMEM;
	cr = dsr_object_new(LP_OWNED_CLUSTERROLE, LP_SHIPPER_NAME, NULL, "fluent-bit", "shipper");
	if (cr && json_object_set_new(cr, "rules",
	                              json_pack("[{s:[s], s:[s,s], s:[s,s,s]}]", "apiGroups", "",
	                                        "resources", "namespaces", "pods", "verbs", "get",
	                                        "list", "watch"))) {
		json_decref(cr);
		cr = NULL;
	}
	if (dsr_builder_add(b, LP_OWNED_CLUSTERROLE, cr))
		return LP_ERR_NOMEM;
	crb = dsr_object_new(LP_OWNED_CLUSTERROLEBINDING, LP_SHIPPER_NAME, NULL, "fluent-bit",
	                     "shipper");
	if (crb && (json_object_set_new(crb, "roleRef",
	                                json_pack("{s:s, s:s, s:s}", "apiGroup",
	                                          "rbac.authorization.k8s.io", "kind",
	                                          "ClusterRole", "name", LP_SHIPPER_NAME)) ||
	            json_object_set_new(crb, "subjects",
	                                json_pack("[{s:s, s:s, s:s}]", "kind", "ServiceAccount",
	                                          "name", LP_SHIPPER_NAME, "namespace", b->ns)))) {
		json_decref(crb);
		crb = NULL;
	}
	return dsr_builder_add(b, LP_OWNED_CLUSTERROLEBINDING, crb);
}

/* ---------- entry point ---------- */

static void builder_wipe(struct builder *b)
{
	lp_free(b->creds);
	b->creds = NULL;
	b->n_creds = 0;
	lp_free(b->pieces);
	b->pieces = NULL;
	b->n_pieces = 0;
	if (b->aws_file_b64) {
		OPENSSL_cleanse(b->aws_file_b64, strlen(b->aws_file_b64));
		lp_free(b->aws_file_b64);
		b->aws_file_b64 = NULL;
	}
}

static int obj_cmp(const void *a, const void *b)
{
	const struct lp_desired_obj *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	/* numbered parts in numeric order: base < base-2 < ... < base-10 */
	if (strlen(x->name) != strlen(y->name))
		return strlen(x->name) < strlen(y->name) ? -1 : 1;
	return strcmp(x->name, y->name);
}

lp_err lp_desired_build(struct lp_desired *out, const struct lp_desired_input *in)
{
	struct builder b;
	json_t *sources = NULL, *obj = NULL;
	lp_err err = LP_ERR_INVALID;

	memset(&b, 0, sizeof(b));
	if (!out || !in || !in->rendered)
		return LP_ERR_INVALID;
	b.in = in;
	b.ns = in->control_ns ? in->control_ns : LP_DEFAULT_CONTROL_NAMESPACE;
	err = build_aws_file(&b, in->rendered);
	if (err)
		goto fail;
	err = config_hash(&b, in->rendered);
	if (err)
		goto fail;
	err = add_credentials(&b, in->rendered);
	if (err)
		goto fail;
	err = lp_desired_hub_alerts(&obj, in->rendered, in->secret_value, in->secret_ctx, b.ns,
	                            in->hub_alerts_name, &b.d.n_missing_secrets);
	if (!err && obj)
		err = dsr_builder_add(&b, LP_OWNED_SECRET, obj);
	if (err)
		goto fail;
	err = LP_ERR_NOMEM;
	sources = json_array();
	if (!sources)
		goto fail;
	err = dsr_add_configmaps(&b, &in->rendered->shipper, LP_SHIPPER_CONFIG_NAME, "fluent-bit",
	                         sources, b.d.shipper_config, sizeof(b.d.shipper_config));
	if (err)
		goto fail;
	err = add_rbac(&b);
	if (err)
		goto fail;
	err = dsr_add_daemonset(&b, in->rendered, sources);
	if (err)
		goto fail;
	if (in->rendered->has_aggregator) {
		err = dsr_add_aggregator(&b, in->rendered);
		if (err)
			goto fail;
	}
	json_decref(sources);
	builder_wipe(&b);
	if (b.d.n > 1)
		qsort(b.d.v, b.d.n, sizeof(*b.d.v), obj_cmp);
	*out = b.d;
	return LP_OK;
fail:
	json_decref(sources);
	builder_wipe(&b);
	lp_desired_free(&b.d);
	return err;
}
