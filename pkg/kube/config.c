#include "config.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>
#include "../util/mem.h"

#define CFG_MAX_FILE (4u * 1024u * 1024u)

/* Text for humans: losing it to no memory must not change the outcome. */
static void best_effort(lp_err err)
{
	(void)err;
}

/* First error wins: only an empty msg gets text. */
static void cfg_msg(struct lp_buf *msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfg_msg(struct lp_buf *msg, const char *fmt, ...)
{
	va_list ap;

	if (!msg || msg->len > 0)
		return;
	va_start(ap, fmt);
	best_effort(lp_buf_vaddf(msg, fmt, ap));
	va_end(ap);
}

/* Reads a whole file into *out (NUL-terminated, owned). */
static lp_err read_file(const char *path, char **out, size_t *len_out)
{
	struct lp_buf b;
	char chunk[4096];
	FILE *f = fopen(path, "rb");
	lp_err err = LP_OK;
	size_t n;

	if (!f)
		return errno == ENOENT ? LP_ERR_NOTFOUND : LP_ERR_IO;
	lp_buf_init(&b, CFG_MAX_FILE);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		err = lp_buf_add(&b, chunk, n);
		if (err)
			goto out;
	}
	if (ferror(f)) {
		err = LP_ERR_IO;
		goto out;
	}
	if (len_out)
		*len_out = b.len;
	*out = lp_buf_take(&b);
	if (!*out)
		err = LP_ERR_NOMEM;
out:
	lp_buf_free(&b);
	fclose(f);
	return err;
}

static char *trim_dup(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return lp_strndup(s, n);
}

/* ---- a small YAML to jansson loader (scalars become strings) ---- */

static lp_err yaml_node(yaml_parser_t *p, yaml_event_t *first, json_t **out, int depth);

static lp_err yaml_next(yaml_parser_t *p, yaml_event_t *ev)
{
	return yaml_parser_parse(p, ev) ? LP_OK : LP_ERR_PARSE;
}

static lp_err yaml_container(yaml_parser_t *p, int is_map, json_t **out, int depth)
{
	json_t *c = is_map ? json_object() : json_array();
	yaml_event_t ev;
	lp_err err = LP_OK;

	if (!c)
		return LP_ERR_NOMEM;
	for (;;) {
		char *key = NULL;
		json_t *val = NULL;

		err = yaml_next(p, &ev);
		if (err)
			goto fail;
		if (ev.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
			yaml_event_delete(&ev);
			break;
		}
		if (is_map) {
			if (ev.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&ev);
				err = LP_ERR_PARSE;
				goto fail;
			}
			key = lp_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			yaml_event_delete(&ev);
			if (!key) {
				err = LP_ERR_NOMEM;
				goto fail;
			}
			err = yaml_next(p, &ev);
			if (err) {
				lp_free(key);
				goto fail;
			}
		}
		err = yaml_node(p, &ev, &val, depth + 1);
		if (!err)
			err = is_map ? (json_object_set_new(c, key, val) ? LP_ERR_NOMEM : LP_OK)
			             : (json_array_append_new(c, val) ? LP_ERR_NOMEM : LP_OK);
		lp_free(key);
		if (err)
			goto fail;
	}
	*out = c;
	return LP_OK;
fail:
	json_decref(c);
	return err;
}

/* Consumes first (and the events of its subtree). */
static lp_err yaml_node(yaml_parser_t *p, yaml_event_t *first, json_t **out, int depth)
{
	yaml_event_type_t t = first->type;
	json_t *v;

	if (depth > 64) {
		yaml_event_delete(first);
		return LP_ERR_PARSE;
	}
	if (t == YAML_SCALAR_EVENT) {
		v = json_stringn((const char *)first->data.scalar.value, first->data.scalar.length);
		yaml_event_delete(first);
		if (!v)
			return LP_ERR_PARSE; /* not UTF-8 */
		*out = v;
		return LP_OK;
	}
	yaml_event_delete(first);
	if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT)
		return yaml_container(p, t == YAML_MAPPING_START_EVENT, out, depth);
	return LP_ERR_PARSE; /* aliases and anything else */
}

/* Parses the first YAML document of text into *out (new reference). */
static lp_err yaml_load(const char *text, size_t len, json_t **out)
{
	yaml_parser_t p;
	yaml_event_t ev;
	json_t *root = NULL;
	lp_err err = LP_OK;

	if (!yaml_parser_initialize(&p))
		return LP_ERR_NOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		err = yaml_next(&p, &ev);
		if (err)
			goto out;
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			root = json_object(); /* empty file */
			err = root ? LP_OK : LP_ERR_NOMEM;
			goto out;
		}
		err = yaml_node(&p, &ev, &root, 0);
		goto out;
	}
out:
	yaml_parser_delete(&p);
	if (!err)
		*out = root;
	return err;
}

/* ---- base64 (standard alphabet, padding optional, whitespace skipped) ---- */

static int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static lp_err b64_decode(const char *s, struct lp_kube_blob *out)
{
	size_t n = strlen(s), o = 0;
	unsigned char *d = lp_malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	if (!d)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], v;
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad = 1;
			continue;
		}
		v = b64_val(c);
		if (v < 0 || pad) {
			lp_free(d);
			return LP_ERR_PARSE;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6) { /* a lone sextet cannot encode a byte */
		lp_free(d);
		return LP_ERR_PARSE;
	}
	d[o] = 0;
	out->data = d;
	out->len = o;
	return LP_OK;
}

/* ---- config ---- */

void lp_kube_config_free(struct lp_kube_config *cfg)
{
	if (!cfg)
		return;
	lp_free(cfg->server);
	lp_free(cfg->ns);
	lp_free(cfg->ca_file);
	lp_free(cfg->ca_data.data);
	lp_free(cfg->cert_file);
	lp_free(cfg->cert_data.data);
	lp_free(cfg->key_file);
	lp_free(cfg->key_data.data);
	lp_free(cfg->token);
	lp_free(cfg->token_file);
	lp_free(cfg->token_cached);
	lp_free(cfg);
}

const char *lp_kube_config_token(struct lp_kube_config *cfg, uint64_t now_ms)
{
	if (cfg->token_file &&
	    (!cfg->token_read_once || now_ms - cfg->token_read_ms >= cfg->token_ttl_ms)) {
		char *raw = NULL;
		if (read_file(cfg->token_file, &raw, NULL) == LP_OK) {
			char *t = trim_dup(raw);
			if (t && *t) {
				lp_free(cfg->token_cached);
				cfg->token_cached = t;
			} else {
				lp_free(t);
			}
			lp_free(raw);
		}
		cfg->token_read_ms = now_ms;
		cfg->token_read_once = 1;
	}
	if (cfg->token_cached)
		return cfg->token_cached;
	return cfg->token;
}

static int file_readable(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		return 0;
	fclose(f);
	return 1;
}

static char *path_join(const char *dir, const char *name)
{
	struct lp_buf b;

	lp_buf_init(&b, 0);
	if (lp_buf_addf(&b, "%s/%s", dir, name))
		return NULL;
	return lp_buf_take(&b);
}

lp_err lp_kube_config_in_cluster(struct lp_kube_config **out, const char *sa_dir,
                                 struct lp_buf *msg)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct lp_kube_config *cfg = NULL;
	struct lp_buf url;
	char *ns_path = NULL, *ns_raw = NULL;
	lp_err err = LP_OK;

	lp_buf_init(&url, 4096);
	if (!sa_dir)
		sa_dir = LP_KUBE_SA_DIR;
	if (!host || !*host || !port || !*port) {
		cfg_msg(msg, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
		             "must be set");
		err = LP_ERR_NOTFOUND;
		goto fail;
	}
	cfg = lp_calloc(1, sizeof(*cfg));
	if (!cfg) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	cfg->token_ttl_ms = LP_KUBE_TOKEN_TTL_MS;
	err = strchr(host, ':') ? lp_buf_addf(&url, "https://[%s]:%s", host, port)
	                        : lp_buf_addf(&url, "https://%s:%s", host, port);
	if (err)
		goto fail;
	cfg->server = lp_buf_take(&url);
	cfg->token_file = path_join(sa_dir, "token");
	cfg->ca_file = path_join(sa_dir, "ca.crt");
	ns_path = path_join(sa_dir, "namespace");
	if (!cfg->server || !cfg->token_file || !cfg->ca_file || !ns_path) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	if (!file_readable(cfg->ca_file)) {
		cfg_msg(msg, "in-cluster: cannot read CA file %s", cfg->ca_file);
		err = LP_ERR_NOTFOUND;
		goto fail;
	}
	if (!lp_kube_config_token(cfg, 0)) {
		cfg_msg(msg, "in-cluster: cannot read token file %s", cfg->token_file);
		err = LP_ERR_NOTFOUND;
		goto fail;
	}
	if (read_file(ns_path, &ns_raw, NULL) == LP_OK)
		cfg->ns = trim_dup(ns_raw);
	if (!cfg->ns || !*cfg->ns) {
		lp_free(cfg->ns);
		cfg->ns = lp_strdup("default");
	}
	if (!cfg->ns) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	*out = cfg;
	cfg = NULL;
fail:
	lp_buf_free(&url);
	lp_free(ns_path);
	lp_free(ns_raw);
	lp_kube_config_free(cfg);
	return err;
}

/* The entry of a kubeconfig list (clusters/users/contexts) called name: its
 * inner object (entry[sub]), borrowed. */
static json_t *named_entry(json_t *root, const char *list, const char *name, const char *sub)
{
	json_t *arr = json_object_get(root, list), *e;
	size_t i;

	if (!json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n && strcmp(n, name) == 0) {
			json_t *inner = json_object_get(e, sub);
			return json_is_object(inner) ? inner : NULL;
		}
	}
	return NULL;
}

static const char *str_field(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : NULL;
}

/* A file path from the kubeconfig, relative to its directory. NULL on no memory. */
static char *resolve(const char *dir, const char *p)
{
	if (p[0] == '/' || !dir)
		return lp_strdup(p);
	return path_join(dir, p);
}

/* Sets *file or *blob from KEY / KEY-data of o. */
static lp_err file_or_data(json_t *o, const char *key, const char *dir, char **file,
                           struct lp_kube_blob *blob, const char *what, const char *path,
                           struct lp_buf *msg)
{
	char dkey[64];
	const char *f = str_field(o, key), *d;
	lp_err err;

	snprintf(dkey, sizeof(dkey), "%s-data", key);
	d = str_field(o, dkey);
	if (d) {
		err = b64_decode(d, blob);
		if (err)
			cfg_msg(msg, "kubeconfig %s: %s.%s is not valid base64", path, what, dkey);
		return err;
	}
	if (f) {
		*file = resolve(dir, f);
		if (!*file)
			return LP_ERR_NOMEM;
		if (!file_readable(*file)) {
			cfg_msg(msg, "kubeconfig %s: %s.%s: cannot read %s", path, what, key,
			        *file);
			return LP_ERR_NOTFOUND;
		}
	}
	return LP_OK;
}

static lp_err kubeconfig_parse(struct lp_kube_config *cfg, json_t *root, const char *path,
                               const char *dir, const char *context, struct lp_buf *msg)
{
	json_t *ctx, *cluster, *user = NULL;
	const char *cname, *uname, *server, *tok, *tokfile, *ns;

	if (!json_is_object(root)) {
		cfg_msg(msg, "kubeconfig %s: not a YAML mapping", path);
		return LP_ERR_PARSE;
	}
	if (!context)
		context = str_field(root, "current-context");
	if (!context) {
		cfg_msg(msg, "kubeconfig %s: current-context is not set", path);
		return LP_ERR_INVALID;
	}
	ctx = named_entry(root, "contexts", context, "context");
	if (!ctx) {
		cfg_msg(msg, "kubeconfig %s: contexts: no context named \"%s\"", path, context);
		return LP_ERR_NOTFOUND;
	}
	cname = str_field(ctx, "cluster");
	if (!cname) {
		cfg_msg(msg, "kubeconfig %s: contexts[%s].context.cluster is not set", path,
		        context);
		return LP_ERR_INVALID;
	}
	cluster = named_entry(root, "clusters", cname, "cluster");
	if (!cluster) {
		cfg_msg(msg, "kubeconfig %s: clusters: no cluster named \"%s\"", path, cname);
		return LP_ERR_NOTFOUND;
	}
	uname = str_field(ctx, "user");
	if (uname) {
		user = named_entry(root, "users", uname, "user");
		if (!user) {
			cfg_msg(msg, "kubeconfig %s: users: no user named \"%s\"", path, uname);
			return LP_ERR_NOTFOUND;
		}
	}
	server = str_field(cluster, "server");
	if (!server) {
		cfg_msg(msg, "kubeconfig %s: clusters[%s].cluster.server is not set", path, cname);
		return LP_ERR_INVALID;
	}
	if (strncmp(server, "https://", 8) != 0) {
		cfg_msg(msg, "kubeconfig %s: clusters[%s].cluster.server must be an https:// URL",
		        path, cname);
		return LP_ERR_INVALID;
	}
	{
		const char *ins = str_field(cluster, "insecure-skip-tls-verify");
		if (ins && strcmp(ins, "true") == 0) {
			cfg_msg(msg,
			        "kubeconfig %s: clusters[%s].cluster.insecure-skip-tls-verify is "
			        "not supported: TLS is always verified",
			        path, cname);
			return LP_ERR_UNSUPPORTED;
		}
	}
	cfg->server = lp_strdup(server);
	if (!cfg->server)
		return LP_ERR_NOMEM;
	{
		size_t n = strlen(cfg->server);
		while (n > 8 && cfg->server[n - 1] == '/')
			cfg->server[--n] = '\0';
	}
	ns = str_field(ctx, "namespace");
	cfg->ns = lp_strdup(ns ? ns : "default");
	if (!cfg->ns)
		return LP_ERR_NOMEM;
	{
		lp_err err = file_or_data(cluster, "certificate-authority", dir, &cfg->ca_file,
		                          &cfg->ca_data, "cluster", path, msg);
		if (err)
			return err;
	}
	if (!user)
		return LP_OK;
	if (json_object_get(user, "exec") || json_object_get(user, "auth-provider")) {
		cfg_msg(msg,
		        "kubeconfig %s: users[%s].user: exec and auth-provider are not supported "
		        "(use token, tokenFile or a client certificate)",
		        path, uname);
		return LP_ERR_UNSUPPORTED;
	}
	{
		lp_err err = file_or_data(user, "client-certificate", dir, &cfg->cert_file,
		                          &cfg->cert_data, "user", path, msg);
		if (!err)
			err = file_or_data(user, "client-key", dir, &cfg->key_file, &cfg->key_data,
			                   "user", path, msg);
		if (err)
			return err;
	}
	if ((cfg->cert_file || cfg->cert_data.data) != (cfg->key_file || cfg->key_data.data)) {
		cfg_msg(msg,
		        "kubeconfig %s: users[%s].user: client-certificate and client-key must be "
		        "given together",
		        path, uname);
		return LP_ERR_INVALID;
	}
	tok = str_field(user, "token");
	tokfile = str_field(user, "tokenFile");
	if (tok) {
		cfg->token = lp_strdup(tok);
		if (!cfg->token)
			return LP_ERR_NOMEM;
	} else if (tokfile) {
		cfg->token_file = resolve(dir, tokfile);
		if (!cfg->token_file)
			return LP_ERR_NOMEM;
		if (!lp_kube_config_token(cfg, 0)) {
			cfg_msg(msg, "kubeconfig %s: users[%s].user.tokenFile: cannot read %s",
			        path, uname, cfg->token_file);
			return LP_ERR_NOTFOUND;
		}
	}
	return LP_OK;
}

lp_err lp_kube_config_from_kubeconfig(struct lp_kube_config **out, const char *path,
                                      const char *context, struct lp_buf *msg)
{
	struct lp_kube_config *cfg = NULL;
	char *owned_path = NULL, *text = NULL, *dir = NULL;
	json_t *root = NULL;
	size_t len = 0;
	lp_err err;

	if (!path) {
		const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
		if (env && *env) {
			size_t n = strcspn(env, ":");
			owned_path = lp_strndup(env, n);
		} else if (home && *home) {
			owned_path = path_join(home, ".kube/config");
		} else {
			cfg_msg(msg, "kubeconfig: neither KUBECONFIG nor HOME is set");
			return LP_ERR_NOTFOUND;
		}
		if (!owned_path)
			return LP_ERR_NOMEM;
		path = owned_path;
	}
	err = read_file(path, &text, &len);
	if (err) {
		cfg_msg(msg, "kubeconfig %s: cannot read the file", path);
		goto out;
	}
	err = yaml_load(text, len, &root);
	if (err) {
		cfg_msg(msg, "kubeconfig %s: not valid YAML", path);
		goto out;
	}
	cfg = lp_calloc(1, sizeof(*cfg));
	dir = lp_strdup(path);
	if (!cfg || !dir) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	cfg->token_ttl_ms = LP_KUBE_TOKEN_TTL_MS;
	{
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			memcpy(dir, ".", 2); /* dir holds at least 2 bytes */
		if (slash == dir)
			memcpy(dir, "/", 2);
	}
	err = kubeconfig_parse(cfg, root, path, dir, context, msg);
	if (err)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	lp_kube_config_free(cfg);
	json_decref(root);
	lp_free(text);
	lp_free(dir);
	lp_free(owned_path);
	return err;
}

lp_err lp_kube_config_load(struct lp_kube_config **out, const char *kubeconfig_path,
                           struct lp_buf *msg)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	if (!kubeconfig_path && host && *host)
		return lp_kube_config_in_cluster(out, NULL, msg);
	return lp_kube_config_from_kubeconfig(out, kubeconfig_path, NULL, msg);
}
