/* pkg/reconcile/desired.c: rendered config -> owned objects (see desired.h). */
#include "desired.h"
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

struct cred {            /* one key of the agents' credentials */
	const char *key; /* the env var, a file key (keybuf) or LP_AWS_CREDENTIALS_KEY */
	char keybuf[32];
	const char *b64; /* the value, base64 (borrowed) */
	size_t size;     /* bytes the API server counts: key + decoded value */
	long piece;      /* index into builder.pieces; -1: left out */
};

struct builder {
	const struct lp_desired_input *in;
	const char *ns;
	struct lp_desired d;
	size_t cap;
	char *aws_file_b64; /* the AWS shared credentials file, base64; NULL: none */
	char aws_file_sha[65];
	struct cred *creds; /* every key of the agents' credentials, in render order */
	size_t n_creds;
	char (*pieces)[96]; /* names of the credentials Secrets, content-named */
	size_t n_pieces;
};

/* The chart's agent settings (NULL: built-in defaults). */
static const struct lp_agent_settings *fb_settings(const struct builder *b)
{
	return b->in->agents ? &b->in->agents->fluent_bit : NULL;
}

static const struct lp_agent_settings *agg_settings(const struct builder *b)
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

static json_t *selector_labels_new(const char *app)
{
	return json_pack("{s:s, s:s}", "app.kubernetes.io/name", app, "app.kubernetes.io/instance",
	                 "logplane");
}

/* A new object {apiVersion, kind, metadata{name, namespace?, labels}}. */
static json_t *object_new(enum lp_owned_kind k, const char *name, const char *ns, const char *app,
                          const char *component)
{
	const struct lp_owned_kind_info *ki = &kind_table[k];

	return json_pack("{s:s, s:s, s:{s:s, s:s*, s:o}}", "apiVersion", ki->api_version, "kind",
	                 ki->kind, "metadata", "name", name, "namespace",
	                 ki->namespaced ? ns : NULL, "labels", labels_new(app, component));
}

/* Takes obj (also on failure): stamps the applied hash and appends it. */
static lp_err builder_add(struct builder *b, enum lp_owned_kind k, json_t *obj)
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

/* Bytes a value in Secret.data counts for: the decoded length of base64 text. */
static size_t b64_decoded_len(const char *b64)
{
	size_t n = strlen(b64), pad = 0;

	if (n >= 1 && b64[n - 1] == '=')
		pad++;
	if (n >= 2 && b64[n - 2] == '=')
		pad++;
	return n / 4 * 3 - (n / 4 * 3 >= pad ? pad : 0);
}

/* The Secret piece holding key, or NULL when the key was left out (no value,
 * or too large for any Secret). */
static const char *cred_piece(const struct builder *b, const char *key)
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
		cr->size = strlen(cr->key) + b64_decoded_len(cr->b64);
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
	obj = object_new(LP_OWNED_SECRET, b->pieces[b->n_pieces], b->ns, "logplane", "credentials");
	b->n_pieces++;
	/* (set_new takes data even when obj is NULL) */
	if (json_object_set_new(obj, "data", data) ||
	    json_object_set_new(obj, "type", json_string("Opaque"))) {
		json_decref(obj);
		return LP_ERR_NOMEM;
	}
	return builder_add(b, LP_OWNED_SECRET, obj);
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
	return builder_add(b, LP_OWNED_CONFIGMAP, obj);
}

/* Packs the files into ConfigMaps of at most LP_RENDER_SPLIT_BYTES each,
 * each named by its content (add_part), the entry file's part first; so a
 * part never changes under a running pod, and a config refers only to parts
 * that exist before it does. Appends {configMap:{name}} to sources
 * (projected volume sources, so every part lands in one directory); the
 * first part's name goes to first (firstsz bytes; may be NULL). */
static lp_err add_configmaps(struct builder *b, const struct lp_rendered_config *c,
                             const char *base, const char *app, json_t *sources, char *first,
                             size_t firstsz)
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
			obj = object_new(LP_OWNED_CONFIGMAP, base, b->ns, app, "config");
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

	sa = object_new(LP_OWNED_SERVICEACCOUNT, LP_SHIPPER_NAME, b->ns, "fluent-bit", "shipper");
	if (sa && fb_settings(b) && fb_settings(b)->sa_annotations &&
	    json_object_size(fb_settings(b)->sa_annotations) &&
	    json_object_set_new(json_object_get(sa, "metadata"), "annotations",
	                        json_deep_copy(fb_settings(b)->sa_annotations))) {
		json_decref(sa);
		sa = NULL;
	}
	if (builder_add(b, LP_OWNED_SERVICEACCOUNT, sa))
		return LP_ERR_NOMEM;
	cr = object_new(LP_OWNED_CLUSTERROLE, LP_SHIPPER_NAME, NULL, "fluent-bit", "shipper");
	if (cr && json_object_set_new(cr, "rules",
	                              json_pack("[{s:[s], s:[s,s], s:[s,s,s]}]", "apiGroups", "",
	                                        "resources", "namespaces", "pods", "verbs", "get",
	                                        "list", "watch"))) {
		json_decref(cr);
		cr = NULL;
	}
	if (builder_add(b, LP_OWNED_CLUSTERROLE, cr))
		return LP_ERR_NOMEM;
	crb =
	    object_new(LP_OWNED_CLUSTERROLEBINDING, LP_SHIPPER_NAME, NULL, "fluent-bit", "shipper");
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
	return builder_add(b, LP_OWNED_CLUSTERROLEBINDING, crb);
}

/* ---------- pod pieces ---------- */

/* env: NODE_NAME, NODE_IP from the downward API, every ${VAR} the config
 * uses from the credentials Secret, and the AWS shared credentials file when
 * there is one (never AWS_ACCESS_KEY_ID: the profiles carry the keys). */
static json_t *env_new(const struct builder *b, const struct lp_rendered *r)
{
	json_t *env = json_pack("[{s:s, s:{s:{s:s}}}, {s:s, s:{s:{s:s}}}]", "name", "NODE_NAME",
	                        "valueFrom", "fieldRef", "fieldPath", "spec.nodeName", "name",
	                        "NODE_IP", "valueFrom", "fieldRef", "fieldPath", "status.hostIP");

	for (size_t i = 0; env && i < r->n_env; i++) {
		const char *piece = cred_piece(b, r->env[i].var);
		if (!piece)
			continue; /* no value: no reference to a key that is not there */
		if (json_array_append_new(env, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name",
		                                         r->env[i].var, "valueFrom", "secretKeyRef",
		                                         "name", piece, "key", r->env[i].var))) {
			json_decref(env);
			return NULL;
		}
	}
	if (env && cred_piece(b, LP_AWS_CREDENTIALS_KEY) &&
	    json_array_append_new(env,
	                          json_pack("{s:s, s:s}", "name", LP_RENDER_AWS_CREDENTIALS_ENV,
	                                    "value", LP_RENDER_AWS_CREDENTIALS_PATH))) {
		json_decref(env);
		return NULL;
	}
	return env;
}

static json_t *container_security_new(void)
{
	return json_pack("{s:b, s:b, s:{s:[s]}, s:{s:s}}", "allowPrivilegeEscalation", 0,
	                 "readOnlyRootFilesystem", 1, "capabilities", "drop", "ALL",
	                 "seccompProfile", "type", "RuntimeDefault");
}

static json_t *http_probe_new(int initial_delay, int period, int failures)
{
	return json_pack("{s:{s:s, s:s}, s:i, s:i, s:i, s:i}", "httpGet", "path", LP_HEALTH_PATH,
	                 "port", "http", "initialDelaySeconds", initial_delay, "periodSeconds",
	                 period, "timeoutSeconds", 5, "failureThreshold", failures);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Directory part of a host glob before its first wildcard ("/opt/app/logs"
 * for "/opt/app/logs/x*.log"); a new string or NULL. */
static char *glob_dir(const char *path)
{
	size_t end = strcspn(path, "*?[{");
	while (end > 0 && path[end - 1] != '/')
		end--;
	if (end > 1)
		end--; /* drop the trailing slash */
	return end ? lp_strndup(path, end) : NULL;
}

static int under_var_log(const char *dir)
{
	return strcmp(dir, "/var/log") == 0 || strncmp(dir, "/var/log/", 9) == 0;
}

/* Adds hostPath mounts for file inputs outside /var/log (sorted, unique). */
static lp_err add_file_mounts(struct builder *b, json_t *volumes, json_t *mounts)
{
	char **dirs = NULL;
	size_t n = 0, cap = 0, vol = 0;
	lp_err err = LP_ERR_NOMEM;

	for (size_t i = 0; i < b->in->n_pipelines; i++) {
		const struct lp_pipeline *p = b->in->pipelines[i];
		for (size_t j = 0; p && j < p->n_files; j++) {
			char *d;
			if (!p->files[j].path || p->files[j].path[0] != '/')
				continue;
			d = glob_dir(p->files[j].path);
			if (!d)
				goto out;
			if (under_var_log(d) || strcmp(d, "/") == 0) {
				lp_free(d);
				continue;
			}
			if (n == cap) {
				char **nd = lp_realloc(dirs, (cap ? cap * 2 : 8) * sizeof(*nd));
				if (!nd) {
					lp_free(d);
					goto out;
				}
				dirs = nd;
				cap = cap ? cap * 2 : 8;
			}
			dirs[n++] = d;
		}
	}
	if (n)
		qsort(dirs, n, sizeof(*dirs), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char vname[32];
		if (i > 0 && strcmp(dirs[i], dirs[i - 1]) == 0)
			continue;
		snprintf(vname, sizeof(vname), "hostfiles-%zu", ++vol);
		if (json_array_append_new(volumes, json_pack("{s:s, s:{s:s}}", "name", vname,
		                                             "hostPath", "path", dirs[i])) ||
		    json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "name", vname,
		                                            "mountPath", dirs[i], "readOnly", 1)))
			goto out;
	}
	err = LP_OK;
out:
	for (size_t i = 0; i < n; i++)
		lp_free(dirs[i]);
	lp_free(dirs);
	return err;
}

/* Files from the credentials Secrets (CA bundles, the AWS file): one
 * projected volume with the file keys of each Secret piece, each key mounted
 * at its path with subPath (the config hash rolls pods when a value changes,
 * so subPath's lack of live updates does not matter). */
static lp_err add_secret_file_mounts(const struct builder *b, const struct lp_rendered *r,
                                     json_t *volumes, json_t *mounts)
{
	json_t *sources = json_array();
	int any = 0;

	if (!sources)
		return LP_ERR_NOMEM;
	for (size_t p = 0; p < b->n_pieces; p++) {
		json_t *items = json_array();
		for (size_t i = r->n_env; items && i < b->n_creds; i++)
			if (b->creds[i].piece == (long)p &&
			    json_array_append_new(items,
			                          json_pack("{s:s, s:s}", "key", b->creds[i].key,
			                                    "path", b->creds[i].key))) {
				json_decref(items);
				items = NULL;
			}
		if (!items)
			goto fail;
		if (json_array_size(items) == 0) {
			json_decref(items);
			continue;
		}
		any = 1;
		if (json_array_append_new(sources, json_pack("{s:{s:s, s:o}}", "secret", "name",
		                                             b->pieces[p], "items", items)))
			goto fail;
	}
	if (!any) {
		json_decref(sources);
		return LP_OK;
	}
	if (json_array_append_new(volumes,
	                          json_pack("{s:s, s:{s:o, s:i}}", "name", "credential-files",
	                                    "projected", "sources", sources, "defaultMode", 0440)))
		return LP_ERR_NOMEM;
	for (size_t i = r->n_env; i < b->n_creds; i++) {
		const char *path = b->creds[i].key == b->creds[i].keybuf
		                       ? r->mounts[i - r->n_env].path
		                       : LP_RENDER_AWS_CREDENTIALS_PATH;
		if (b->creds[i].piece < 0)
			continue;
		if (json_array_append_new(mounts,
		                          json_pack("{s:s, s:s, s:s, s:b}", "name",
		                                    "credential-files", "mountPath", path,
		                                    "subPath", b->creds[i].key, "readOnly", 1)))
			return LP_ERR_NOMEM;
	}
	return LP_OK;
fail:
	json_decref(sources);
	return LP_ERR_NOMEM;
}

/* Container ports: http (health, Fluent Bit's own metrics), lp-metrics (the
 * prometheus_exporter of spec.metrics; always declared, so a first pipeline
 * with metrics changes only the config and scrapes need no other template)
 * and each distinct http input port. */
static json_t *ports_new(struct builder *b)
{
	json_t *ports =
	    json_pack("[{s:s, s:i, s:s}, {s:s, s:i, s:s}]", "name", "http", "containerPort",
	              LP_HEALTH_PORT, "protocol", "TCP", "name", "lp-metrics", "containerPort",
	              LP_METRICS_PORT, "protocol", "TCP");
	int seen[64];
	size_t n_seen = 0;

	for (size_t i = 0; ports && i < b->in->n_pipelines; i++) {
		const struct lp_pipeline *p = b->in->pipelines[i];
		int port, dup = 0;
		char pname[16];
		if (!p || !p->http.enabled)
			continue;
		port = p->http.port ? p->http.port : 9880;
		for (size_t j = 0; j < n_seen; j++)
			dup |= seen[j] == port;
		if (dup || port == LP_HEALTH_PORT || port == LP_METRICS_PORT || n_seen == 64)
			continue;
		seen[n_seen++] = port;
		snprintf(pname, sizeof(pname), "in-%d", port);
		if (json_array_append_new(ports,
		                          json_pack("{s:s, s:i, s:s}", "name", pname,
		                                    "containerPort", port, "protocol", "TCP"))) {
			json_decref(ports);
			return NULL;
		}
	}
	return ports;
}

/* ---------- agent settings (the chart's agents file) ---------- */

/* Applies s (may be NULL) to a pod spec and its container: pull policy,
 * resources, tolerations, node selector, priority class ("" removes it). */
static lp_err apply_settings(const struct lp_agent_settings *s, json_t *pod_spec, json_t *container)
{
	int bad = 0;

	if (!s)
		return LP_OK;
	if (s->image_pull_policy)
		bad |= json_object_set_new(container, "imagePullPolicy",
		                           json_string(s->image_pull_policy));
	if (s->resources)
		bad |= json_object_set_new(container, "resources", json_deep_copy(s->resources));
	if (s->tolerations)
		bad |= json_object_set_new(pod_spec, "tolerations", json_deep_copy(s->tolerations));
	if (s->node_selector && json_object_size(s->node_selector))
		bad |=
		    json_object_set_new(pod_spec, "nodeSelector", json_deep_copy(s->node_selector));
	if (s->priority_class && !*s->priority_class)
		json_object_del(pod_spec, "priorityClassName");
	else if (s->priority_class)
		bad |= json_object_set_new(pod_spec, "priorityClassName",
		                           json_string(s->priority_class));
	return bad ? LP_ERR_NOMEM : LP_OK;
}

/* ---------- the shipper DaemonSet ---------- */

static lp_err add_daemonset(struct builder *b, const struct lp_rendered *r, json_t *sources)
{
	const struct lp_agent_settings *as = fb_settings(b);
	const char *image =
	    b->in->fluentbit_image ? b->in->fluentbit_image : LP_DEFAULT_FLUENTBIT_IMAGE;
	const char *host_dir = as && as->host_path ? as->host_path : LP_STATE_HOST_DIR;
	json_t *ds = NULL, *volumes = NULL, *mounts = NULL, *container, *pod;
	char config_arg[256], open_files[32];

	if (as && as->image)
		image = as->image;
	snprintf(config_arg, sizeof(config_arg), "%s/%s", LP_CONFIG_DIR,
	         r->shipper.n_files ? r->shipper.files[0].name : "fluent-bit.yaml");
	volumes = json_pack("[{s:s, s:{s:O}}, {s:s, s:{s:s}}, {s:s, s:{s:s, s:s}}]", "name",
	                    "config", "projected", "sources", sources, "name", "varlog", "hostPath",
	                    "path", "/var/log", "name", "state", "hostPath", "path", host_dir,
	                    "type", "DirectoryOrCreate");
	mounts =
	    json_pack("[{s:s, s:s, s:b}, {s:s, s:s, s:b}, {s:s, s:s}]", "name", "config",
	              "mountPath", LP_CONFIG_DIR, "readOnly", 1, "name", "varlog", "mountPath",
	              "/var/log", "readOnly", 1, "name", "state", "mountPath", LP_STATE_HOST_DIR);
	if (!volumes || !mounts || add_file_mounts(b, volumes, mounts) ||
	    add_secret_file_mounts(b, r, volumes, mounts))
		goto fail;
	container = json_pack(
	    "{s:s, s:s, s:s, s:[s], s:[s,s], s:o, s:o, s:O, s:o, s:o, s:o, "
	    "s:{s:{s:s, s:s}, s:{s:s}}}",
	    "name", "fluent-bit", "image", image, "imagePullPolicy", "IfNotPresent", "command",
	    "/fluent-bit/bin/fluent-bit", "args", "-c", config_arg, "env", env_new(b, r), "ports",
	    ports_new(b), "volumeMounts", mounts, "livenessProbe", http_probe_new(10, 10, 6),
	    "readinessProbe", http_probe_new(5, 10, 3), "securityContext", container_security_new(),
	    "resources", "requests", "cpu", "50m", "memory", "64Mi", "limits", "memory", "512Mi");
	/* Kubernetes has no pod field for RLIMIT_NOFILE: the open files the
	 * config needs ride on the pod as an annotation (docs/delivery.md) */
	snprintf(open_files, sizeof(open_files), "%zu", r->shipper_open_files);
	pod =
	    json_pack("{s:{s:o, s:{s:s, s:s}}, s:{s:s, s:s, s:i, s:[{s:s}], s:{s:{s:s}}, s:[o], "
	              "s:O}}",
	              "metadata", "labels", selector_labels_new("fluent-bit"), "annotations",
	              LP_CONFIG_HASH_ANNOTATION, b->d.config_hash, LP_OPEN_FILES_ANNOTATION,
	              open_files, "spec", "serviceAccountName", LP_SHIPPER_NAME,
	              "priorityClassName", "system-node-critical", "terminationGracePeriodSeconds",
	              30, "tolerations", "operator", "Exists", "securityContext", "seccompProfile",
	              "type", "RuntimeDefault", "containers", container, "volumes", volumes);
	if (pod && container &&
	    apply_settings(as, json_object_get(pod, "spec"), container) != LP_OK) {
		json_decref(pod);
		pod = NULL;
	}
	ds = object_new(LP_OWNED_DAEMONSET, LP_SHIPPER_NAME, b->ns, "fluent-bit", "shipper");
	if (!ds || !pod) {
		json_decref(ds);
		json_decref(pod);
		goto fail;
	}
	if (json_object_set_new(ds, "spec", /* (pack takes pod, also when it fails) */
	                        json_pack("{s:{s:o}, s:{s:s, s:{s:i}}, s:o}", "selector",
	                                  "matchLabels", selector_labels_new("fluent-bit"),
	                                  "updateStrategy", "type", "RollingUpdate",
	                                  "rollingUpdate", "maxUnavailable", 1, "template", pod))) {
		json_decref(ds);
		goto fail;
	}
	json_decref(volumes);
	json_decref(mounts);
	return builder_add(b, LP_OWNED_DAEMONSET, ds);
fail:
	json_decref(volumes);
	json_decref(mounts);
	return LP_ERR_NOMEM;
}

/* ---------- the aggregator ---------- */

static int meta_cmp(const struct lp_pipeline *a, const struct lp_pipeline *b)
{
	int c = strcmp(a->meta.ns ? a->meta.ns : "", b->meta.ns ? b->meta.ns : "");
	return c ? c : strcmp(a->meta.name ? a->meta.name : "", b->meta.name ? b->meta.name : "");
}

/* Replicas: the largest asked for; storage: from the first pipeline (by
 * namespace/name) that names one; only pipelines of the control namespace
 * count (the aggregator is shared: a tenant only ships through it).
 * Deterministic whatever the input order. */
static void aggregator_sizing(struct builder *b, int *replicas, const char **storage)
{
	const struct lp_pipeline *first = NULL;

	*replicas = 0;
	*storage = agg_settings(b) && agg_settings(b)->storage_size ? agg_settings(b)->storage_size
	                                                            : "10Gi";
	for (size_t i = 0; i < b->in->n_pipelines; i++) {
		const struct lp_pipeline *p = b->in->pipelines[i];
		int r;
		if (!p || !p->aggregator.enabled || !p->meta.ns || strcmp(p->meta.ns, b->ns) != 0)
			continue;
		r = p->aggregator.replicas > 0 ? p->aggregator.replicas : 2;
		if (r > *replicas)
			*replicas = r;
		if (p->aggregator.storage_size && (!first || meta_cmp(p, first) < 0))
			first = p;
	}
	if (*replicas == 0)
		*replicas = 2;
	if (first)
		*storage = first->aggregator.storage_size;
}

static lp_err add_aggregator(struct builder *b, const struct lp_rendered *r)
{
	int fluentd = r->aggregator_engine == LP_ENGINE_FLUENTD;
	const char *image = b->in->aggregator_image;
	const char *conf_dir = fluentd ? "/fluentd/etc" : LP_CONFIG_DIR;
	json_t *sources = json_array(), *svc = NULL, *pdb = NULL, *sts = NULL, *container = NULL,
	       *pod = NULL, *probe = NULL, *cmd = NULL, *mounts = NULL, *volumes = NULL;
	const char *storage;
	char conf_path[256];
	int replicas;
	lp_err err = LP_ERR_NOMEM;

	const struct lp_agent_settings *as = agg_settings(b);

	if (as && fluentd && as->fluentd_image)
		image = as->fluentd_image;
	else if (as && !fluentd && as->image)
		image = as->image;
	if (!image)
		image = fluentd ? LP_DEFAULT_FLUENTD_IMAGE
		                : (b->in->fluentbit_image ? b->in->fluentbit_image
		                                          : LP_DEFAULT_FLUENTBIT_IMAGE);
	aggregator_sizing(b, &replicas, &storage);
	if (!sources)
		goto out;
	err = add_configmaps(b, &r->aggregator, LP_AGGREGATOR_CONFIG_NAME, "aggregator", sources,
	                     NULL, 0);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	svc = object_new(LP_OWNED_SERVICE, LP_AGGREGATOR_NAME, b->ns, "aggregator", "aggregator");
	if (!svc || json_object_set_new(svc, "spec",
	                                json_pack("{s:s, s:b, s:o, s:[{s:s, s:i, s:s, s:s}]}",
	                                          "clusterIP", "None", "publishNotReadyAddresses",
	                                          0, "selector", selector_labels_new("aggregator"),
	                                          "ports", "name", "forward", "port", 24224,
	                                          "targetPort", "forward", "protocol", "TCP"))) {
		json_decref(svc);
		goto out;
	}
	err = builder_add(b, LP_OWNED_SERVICE, svc);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	pdb = object_new(LP_OWNED_PDB, LP_AGGREGATOR_NAME, b->ns, "aggregator", "aggregator");
	if (!pdb ||
	    json_object_set_new(pdb, "spec",
	                        json_pack("{s:i, s:{s:o}}", "maxUnavailable", 1, "selector",
	                                  "matchLabels", selector_labels_new("aggregator")))) {
		json_decref(pdb);
		goto out;
	}
	err = builder_add(b, LP_OWNED_PDB, pdb);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	snprintf(conf_path, sizeof(conf_path), "%s/%s", conf_dir,
	         r->aggregator.n_files ? r->aggregator.files[0].name
	                               : (fluentd ? "fluent.conf" : "fluent-bit.yaml"));
	if (fluentd) {
		probe = json_pack("{s:{s:s}, s:i, s:i}", "tcpSocket", "port", "forward",
		                  "initialDelaySeconds", 5, "periodSeconds", 10);
		cmd = json_pack("[s, s, s]", "fluentd", "-c", conf_path);
	} else {
		probe = http_probe_new(5, 10, 3);
		cmd = json_pack("[s, s, s]", "/fluent-bit/bin/fluent-bit", "-c", conf_path);
	}
	mounts = json_pack("[{s:s, s:s, s:b}, {s:s, s:s}]", "name", "config", "mountPath", conf_dir,
	                   "readOnly", 1, "name", "buffer", "mountPath", LP_STATE_HOST_DIR);
	volumes = json_pack("[{s:s, s:{s:O}}]", "name", "config", "projected", "sources", sources);
	if (!mounts || !volumes || add_secret_file_mounts(b, r, volumes, mounts))
		goto out;
	container =
	    json_pack("{s:s, s:s, s:s, s:o, s:o, s:[{s:s, s:i, s:s}, {s:s, s:i, s:s}], "
	              "s:O, s:O, s:o, s:o, s:{s:{s:s, s:s}}}",
	              "name", "aggregator", "image", image, "imagePullPolicy", "IfNotPresent",
	              "command", cmd, "env", env_new(b, r), "ports", "name", "forward",
	              "containerPort", 24224, "protocol", "TCP", "name", "http", "containerPort",
	              LP_HEALTH_PORT, "protocol", "TCP", "volumeMounts", mounts, "readinessProbe",
	              probe, "livenessProbe", probe, "securityContext", container_security_new(),
	              "resources", "requests", "cpu", "100m", "memory", "128Mi");
	cmd = probe = NULL;
	pod = json_pack("{s:{s:o, s:{s:s}}, s:{s:s, s:i, s:{s:b, s:{s:s}}, s:[o], s:O}}",
	                "metadata", "labels", selector_labels_new("aggregator"), "annotations",
	                LP_CONFIG_HASH_ANNOTATION, b->d.config_hash, "spec", "serviceAccountName",
	                LP_SHIPPER_NAME, "terminationGracePeriodSeconds", 60, "securityContext",
	                "runAsNonRoot", fluentd, "seccompProfile", "type", "RuntimeDefault",
	                "containers", container, "volumes", volumes);
	if (pod && apply_settings(as, json_object_get(pod, "spec"), container) != LP_OK) {
		container = NULL; /* the pod holds it */
		goto out;
	}
	container = NULL;
	sts =
	    object_new(LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME, b->ns, "aggregator", "aggregator");
	if (!sts || !pod ||
	    json_object_set_new(sts, "spec",
	                        json_pack("{s:s, s:i, s:s, s:{s:o}, s:O, s:[{s:{s:s}, s:{s:[s], "
	                                  "s:{s:{s:s}}}}]}",
	                                  "serviceName", LP_AGGREGATOR_NAME, "replicas", replicas,
	                                  "podManagementPolicy", "Parallel", "selector",
	                                  "matchLabels", selector_labels_new("aggregator"),
	                                  "template", pod, "volumeClaimTemplates", "metadata",
	                                  "name", "buffer", "spec", "accessModes", "ReadWriteOnce",
	                                  "resources", "requests", "storage", storage))) {
		json_decref(sts);
		goto out;
	}
	if (as && as->storage_class && *as->storage_class &&
	    json_object_set_new(
	        json_object_get(
	            json_array_get(
	                json_object_get(json_object_get(sts, "spec"), "volumeClaimTemplates"), 0),
	            "spec"),
	        "storageClassName", json_string(as->storage_class))) {
		json_decref(sts);
		goto out;
	}
	err = builder_add(b, LP_OWNED_STATEFULSET, sts);
out:
	json_decref(mounts);
	json_decref(volumes);
	json_decref(pod);
	json_decref(container);
	json_decref(probe);
	json_decref(cmd);
	json_decref(sources);
	return err;
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
	                            &b.d.n_missing_secrets);
	if (!err && obj)
		err = builder_add(&b, LP_OWNED_SECRET, obj);
	if (err)
		goto fail;
	err = LP_ERR_NOMEM;
	sources = json_array();
	if (!sources)
		goto fail;
	err = add_configmaps(&b, &in->rendered->shipper, LP_SHIPPER_CONFIG_NAME, "fluent-bit",
	                     sources, b.d.shipper_config, sizeof(b.d.shipper_config));
	if (err)
		goto fail;
	err = add_rbac(&b);
	if (err)
		goto fail;
	err = add_daemonset(&b, in->rendered, sources);
	if (err)
		goto fail;
	if (in->rendered->has_aggregator) {
		err = add_aggregator(&b, in->rendered);
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
