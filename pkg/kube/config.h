/* pkg/kube/config: where the API server is and how to authenticate to it.
 *
 * Two sources: in-cluster (KUBERNETES_SERVICE_HOST/PORT and the service-account
 * directory) and kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config; the
 * current context, or a named one). TLS verification is always on: there is no
 * "insecure" switch. Human detail of a failure goes into *msg (optional, first
 * error wins), naming the file and field. */
#ifndef LP_KUBE_CONFIG_H
#define LP_KUBE_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "../util/buf.h"
#include "../util/err.h"

#define LP_KUBE_SA_DIR       "/var/run/secrets/kubernetes.io/serviceaccount"
#define LP_KUBE_TOKEN_TTL_MS 60000u /* projected tokens rotate: re-read this often */

struct lp_kube_blob {
	unsigned char *data; /* owned; NULL when absent */
	size_t len;
};

struct lp_kube_config {
	char *server;                /* "https://host:port" without trailing slash (owned) */
	char *ns;                    /* default namespace: in-cluster namespace file, the context's
	                                namespace, or "default" (owned) */
	char *ca_file;               /* PEM file, or NULL (owned) */
	struct lp_kube_blob ca_data; /* PEM bytes (certificate-authority-data) */
	char *cert_file;             /* client certificate PEM file, or NULL */
	struct lp_kube_blob cert_data; /* client-certificate-data (PEM) */
	char *key_file;                /* client key PEM file, or NULL */
	struct lp_kube_blob key_data;  /* client-key-data (PEM) */
	char *token;                   /* static bearer token, or NULL */
	char *token_file;              /* bearer token file re-read every token_ttl_ms, or NULL */
	uint64_t token_ttl_ms;
	/* cache for token_file (private) */
	char *token_cached;
	uint64_t token_read_ms;
	int token_read_once;
};

/* In-cluster configuration. sa_dir: the service-account directory holding
 * token, ca.crt and namespace (NULL = LP_KUBE_SA_DIR). Host and port come from
 * KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT (IPv6 hosts get brackets).
 * LP_ERR_NOTFOUND when those variables are not set. *out is new on success. */
LP_WUR lp_err lp_kube_config_in_cluster(struct lp_kube_config **out, const char *sa_dir,
                                        struct lp_buf *msg);

/* Kubeconfig from path (NULL: $KUBECONFIG's first entry, else ~/.kube/config),
 * using the named context (NULL: current-context). Relative file paths in the
 * kubeconfig are resolved against its directory. *out is new on success. */
LP_WUR lp_err lp_kube_config_from_kubeconfig(struct lp_kube_config **out, const char *path,
                                             const char *context, struct lp_buf *msg);

/* What the operator does at start: an explicit kubeconfig path wins, else
 * in-cluster when KUBERNETES_SERVICE_HOST is set, else the default kubeconfig. */
LP_WUR lp_err lp_kube_config_load(struct lp_kube_config **out, const char *kubeconfig_path,
                                  struct lp_buf *msg);

/* The bearer token to send now (borrowed, valid until the next call or free), or
 * NULL when none. A token_file is re-read when now_ms is token_ttl_ms past the
 * last read; if a re-read fails the previous token is kept. */
const char *lp_kube_config_token(struct lp_kube_config *cfg, uint64_t now_ms);

/* NULL-safe. */
void lp_kube_config_free(struct lp_kube_config *cfg);

#endif
