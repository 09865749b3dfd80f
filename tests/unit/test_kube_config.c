/* Kubeconfig and in-cluster configuration, with files in a temporary directory. */
#include "lp_test.h"
#include "../../pkg/kube/config.h"
#include "../../pkg/util/mem.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	if (!f) {
		lp_test_fail(__FILE__, __LINE__, "cannot write %s", p);
		return;
	}
	fputs(text, f);
	fclose(f);
}

static const char *tpath(const char *name)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

/* base64 of "-----BEGIN CERTIFICATE-----\nCA\n" etc. are irrelevant: the loader
 * only decodes; TLS reads them later. */
static const char *kc_two_contexts = "apiVersion: v1\n"
                                     "kind: Config\n"
                                     "current-context: dev\n"
                                     "clusters:\n"
                                     "- name: c1\n"
                                     "  cluster:\n"
                                     "    server: https://127.0.0.1:6443/\n"
                                     "    certificate-authority-data: aGVsbG8gQ0E=\n"
                                     "- name: c2\n"
                                     "  cluster:\n"
                                     "    server: https://[::1]:7443\n"
                                     "    certificate-authority: ca.pem\n"
                                     "contexts:\n"
                                     "- name: dev\n"
                                     "  context: {cluster: c1, user: u1, namespace: team-a}\n"
                                     "- name: prod\n"
                                     "  context:\n"
                                     "    cluster: c2\n"
                                     "    user: u2\n"
                                     "users:\n"
                                     "- name: u1\n"
                                     "  user:\n"
                                     "    token: abc.def\n"
                                     "    client-certificate-data: Y2VydA==\n"
                                     "    client-key-data: a2V5\n"
                                     "- name: u2\n"
                                     "  user:\n"
                                     "    tokenFile: tok\n"
                                     "    client-certificate: cert.pem\n"
                                     "    client-key: key.pem\n";

static void t_kubeconfig_current_context(void)
{
	struct lp_kube_config *cfg = NULL;
	struct lp_buf msg;
	lp_err err;

	lp_buf_init(&msg, 0);
	write_file("kc1", kc_two_contexts);
	err = lp_kube_config_from_kubeconfig(&cfg, tpath("kc1"), NULL, &msg);
	LP_CHECK_INT(err, LP_OK);
	if (err) {
		printf("# %s\n", lp_buf_str(&msg));
		lp_buf_free(&msg);
		return;
	}
	LP_CHECK_STR(cfg->server, "https://127.0.0.1:6443");
	LP_CHECK_STR(cfg->ns, "team-a");
	LP_CHECK_INT(cfg->ca_data.len, 8);
	LP_CHECK(cfg->ca_data.data && memcmp(cfg->ca_data.data, "hello CA", 8) == 0);
	LP_CHECK_INT(cfg->cert_data.len, 4);
	LP_CHECK(cfg->cert_data.data && memcmp(cfg->cert_data.data, "cert", 4) == 0);
	LP_CHECK_INT(cfg->key_data.len, 3);
	LP_CHECK(cfg->ca_file == NULL);
	LP_CHECK_STR(lp_kube_config_token(cfg, 0), "abc.def");
	lp_kube_config_free(cfg);
	lp_buf_free(&msg);
}

static void t_kubeconfig_named_context_files(void)
{
	struct lp_kube_config *cfg = NULL;
	struct lp_buf msg;
	lp_err err;

	lp_buf_init(&msg, 0);
	write_file("kc1", kc_two_contexts);
	write_file("ca.pem", "CA\n");
	write_file("cert.pem", "C\n");
	write_file("key.pem", "K\n");
	write_file("tok", "  first-token\n");
	err = lp_kube_config_from_kubeconfig(&cfg, tpath("kc1"), "prod", &msg);
	LP_CHECK_INT(err, LP_OK);
	if (err) {
		printf("# %s\n", lp_buf_str(&msg));
		lp_buf_free(&msg);
		return;
	}
	LP_CHECK_STR(cfg->server, "https://[::1]:7443");
	LP_CHECK_STR(cfg->ns, "default");
	LP_CHECK_STR(cfg->ca_file, tpath("ca.pem")); /* relative to the kubeconfig */
	LP_CHECK_STR(cfg->cert_file, tpath("cert.pem"));
	LP_CHECK_STR(cfg->key_file, tpath("key.pem"));
	LP_CHECK(cfg->token == NULL);
	LP_CHECK_STR(lp_kube_config_token(cfg, 1000), "first-token");
	/* rotate the file: the old token is kept until the TTL passes */
	write_file("tok", "second-token");
	LP_CHECK_STR(lp_kube_config_token(cfg, 2000), "first-token");
	LP_CHECK_STR(lp_kube_config_token(cfg, 1000 + LP_KUBE_TOKEN_TTL_MS + 1), "second-token");
	/* a failed re-read keeps the last good token */
	unlink(tpath("tok"));
	LP_CHECK_STR(lp_kube_config_token(cfg, 10 * LP_KUBE_TOKEN_TTL_MS), "second-token");
	lp_kube_config_free(cfg);
	lp_buf_free(&msg);
}

struct bad_case {
	const char *name;
	const char *yaml;
	const char *context;
	lp_err want;
	const char *msg_has;
};

static const struct bad_case bad_cases[] = {
    {"no current context", "clusters: []\n", NULL, LP_ERR_INVALID, "current-context"},
    {"unknown context", "current-context: x\ncontexts: []\n", NULL, LP_ERR_NOTFOUND,
     "no context named \"x\""},
    {"missing cluster", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n", NULL,
     LP_ERR_NOTFOUND, "no cluster named \"c\""},
    {"no server",
     "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: "
     "c\n  cluster: {}\n",
     NULL, LP_ERR_INVALID, "clusters[c].cluster.server"},
    {"plain http",
     "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: "
     "c\n  cluster: {server: 'http://h:1'}\n",
     NULL, LP_ERR_INVALID, "https://"},
    {"insecure refused",
     "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: "
     "c\n  cluster: {server: 'https://h:1', insecure-skip-tls-verify: true}\n",
     NULL, LP_ERR_UNSUPPORTED, "insecure-skip-tls-verify"},
    {"bad base64",
     "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: "
     "c\n  cluster: {server: 'https://h:1', certificate-authority-data: '!!'}\n",
     NULL, LP_ERR_PARSE, "certificate-authority-data"},
    {"exec unsupported",
     "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- "
     "name: c\n  cluster: {server: 'https://h:1'}\nusers:\n- name: u\n  user: {exec: {command: "
     "aws}}\n",
     NULL, LP_ERR_UNSUPPORTED, "users[u].user"},
    {"cert without key",
     "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- "
     "name: c\n  cluster: {server: 'https://h:1'}\nusers:\n- name: u\n  user: "
     "{client-certificate-data: Y2VydA==}\n",
     NULL, LP_ERR_INVALID, "client-key"},
    {"missing ca file",
     "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: "
     "c\n  cluster: {server: 'https://h:1', certificate-authority: nope.pem}\n",
     NULL, LP_ERR_NOTFOUND, "nope.pem"},
    {"not yaml", "a: [b\n", NULL, LP_ERR_PARSE, "not valid YAML"},
    {"not a mapping", "- a\n- b\n", NULL, LP_ERR_PARSE, "not a YAML mapping"},
};

static void t_kubeconfig_errors(void)
{
	for (size_t i = 0; i < LP_TEST_COUNT(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct lp_kube_config *cfg = NULL;
		struct lp_buf msg;
		lp_err err;

		lp_buf_init(&msg, 0);
		write_file("bad", c->yaml);
		err = lp_kube_config_from_kubeconfig(&cfg, tpath("bad"), c->context, &msg);
		if (err != c->want)
			lp_test_fail(__FILE__, __LINE__, "%s: err %d, want %d (%s)", c->name, err,
			             c->want, lp_buf_str(&msg));
		if (!strstr(lp_buf_str(&msg), c->msg_has))
			lp_test_fail(__FILE__, __LINE__, "%s: message \"%s\" lacks \"%s\"", c->name,
			             lp_buf_str(&msg), c->msg_has);
		LP_CHECK(cfg == NULL);
		lp_kube_config_free(cfg);
		lp_buf_free(&msg);
	}
}

static void t_kubeconfig_env_default(void)
{
	struct lp_kube_config *cfg = NULL;
	char list[600];
	lp_err err;

	write_file("kc1", kc_two_contexts);
	snprintf(list, sizeof(list), "%s:/nonexistent/other", tpath("kc1"));
	setenv("KUBECONFIG", list, 1);
	err = lp_kube_config_from_kubeconfig(&cfg, NULL, NULL, NULL);
	LP_CHECK_INT(err, LP_OK);
	if (!err)
		LP_CHECK_STR(cfg->server, "https://127.0.0.1:6443");
	lp_kube_config_free(cfg);
	cfg = NULL;
	unsetenv("KUBECONFIG");
	setenv("HOME", tmpdir, 1);
	err = lp_kube_config_from_kubeconfig(&cfg, NULL, NULL, NULL);
	LP_CHECK_INT(err, LP_ERR_NOTFOUND); /* no ~/.kube/config there */
	lp_kube_config_free(cfg);
}

static void t_in_cluster(void)
{
	struct lp_kube_config *cfg = NULL;
	struct lp_buf msg;
	char sa[512];
	lp_err err;

	lp_buf_init(&msg, 0);
	snprintf(sa, sizeof(sa), "%s/sa", tmpdir);
	mkdir(sa, 0700);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	err = lp_kube_config_in_cluster(&cfg, sa, &msg);
	LP_CHECK_INT(err, LP_ERR_NOTFOUND);
	LP_CHECK_HAS(lp_buf_str(&msg), "KUBERNETES_SERVICE_HOST");
	lp_buf_reset(&msg);

	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	err = lp_kube_config_in_cluster(&cfg, sa, &msg);
	LP_CHECK_INT(err, LP_ERR_NOTFOUND); /* no ca.crt yet */
	LP_CHECK_HAS(lp_buf_str(&msg), "ca.crt");
	lp_buf_reset(&msg);

	write_file("sa/ca.crt", "CA\n");
	err = lp_kube_config_in_cluster(&cfg, sa, &msg);
	LP_CHECK_INT(err, LP_ERR_NOTFOUND); /* no token */
	LP_CHECK_HAS(lp_buf_str(&msg), "token");
	lp_buf_reset(&msg);

	write_file("sa/token", "tok-1\n");
	err = lp_kube_config_in_cluster(&cfg, sa, &msg);
	LP_CHECK_INT(err, LP_OK);
	if (!err) {
		LP_CHECK_STR(cfg->server, "https://10.0.0.1:443");
		LP_CHECK_STR(cfg->ns, "default");
		LP_CHECK_STR(lp_kube_config_token(cfg, 5), "tok-1");
		write_file("sa/token", "tok-2\n");
		LP_CHECK_STR(lp_kube_config_token(cfg, 10), "tok-1");
		LP_CHECK_STR(lp_kube_config_token(cfg, LP_KUBE_TOKEN_TTL_MS + 10), "tok-2");
		lp_kube_config_free(cfg);
		cfg = NULL;
	}
	write_file("sa/namespace", "logplane-system\n");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	err = lp_kube_config_in_cluster(&cfg, sa, &msg);
	LP_CHECK_INT(err, LP_OK);
	if (!err) {
		LP_CHECK_STR(cfg->server, "https://[fd00::1]:443");
		LP_CHECK_STR(cfg->ns, "logplane-system");
	}
	lp_kube_config_free(cfg);
	cfg = NULL;
	/* lp_kube_config_load prefers in-cluster when no path is given */
	err = lp_kube_config_load(&cfg, NULL, NULL);
	LP_CHECK_INT(err, LP_ERR_NOTFOUND); /* default SA dir does not exist here */
	lp_kube_config_free(cfg);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	lp_buf_free(&msg);
}

static const struct lp_test tests[] = {
    {"kubeconfig_current_context", t_kubeconfig_current_context},
    {"kubeconfig_named_context_files", t_kubeconfig_named_context_files},
    {"kubeconfig_errors", t_kubeconfig_errors},
    {"kubeconfig_env_default", t_kubeconfig_env_default},
    {"in_cluster", t_in_cluster},
};

int main(void)
{
	char cmd[600];
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "%s/lp-kcfg-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL kube_config:setup: mkdtemp\n");
		return 1;
	}
	rc = lp_test_main("kube_config", tests, LP_TEST_COUNT(tests));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
