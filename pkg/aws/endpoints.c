#include "endpoints.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lp_aws_partition(const char *region)
{
	if (region && strncmp(region, "cn-", 3) == 0)
		return "aws-cn";
	if (region && strncmp(region, "us-gov-", 7) == 0)
		return "aws-us-gov";
	return "aws";
}

const char *lp_aws_dns_suffix(const char *partition)
{
	return strcmp(partition, "aws-cn") == 0 ? "amazonaws.com.cn" : "amazonaws.com";
}

int lp_aws_region_valid(const char *region)
{
	size_t n = region ? strlen(region) : 0;

	if (n < 4 || n > 32 || region[0] == '-' || region[n - 1] == '-' || !strchr(region, '-'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)region[i]) || isdigit((unsigned char)region[i]) ||
		      region[i] == '-'))
			return 0;
	return 1;
}

__attribute__((format(printf, 3, 4))) static void set_msg(char *msg, size_t msglen, const char *fmt,
                                                          ...)
{
	va_list ap;

	if (!msg || !msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

static lp_err finish(struct lp_aws_endpoint *ep)
{
	struct lp_buf u, h;
	int v6 = strchr(ep->host, ':') != NULL;
	int dflt = ep->port == 0 || (strcmp(ep->scheme, "https") == 0 && ep->port == 443) ||
	           (strcmp(ep->scheme, "http") == 0 && ep->port == 80);
	lp_err err;

	lp_buf_init(&u, 4096);
	lp_buf_init(&h, 4096);
	err = lp_buf_addf(&h, v6 ? "[%s]" : "%s", ep->host);
	if (!err && !dflt)
		err = lp_buf_addf(&h, ":%d", ep->port);
	if (!err)
		err = lp_buf_addf(&u, "%s://%s", ep->scheme, lp_buf_str(&h));
	if (err) {
		lp_buf_free(&u);
		lp_buf_free(&h);
		return err;
	}
	ep->url = lp_buf_take(&u);
	ep->host_header = lp_buf_take(&h);
	return ep->url && ep->host_header ? LP_OK : LP_ERR_NOMEM;
}

static lp_err parse_override(struct lp_aws_endpoint *ep, const char *url, char *msg, size_t msglen)
{
	const char *p, *host, *hend, *path;
	size_t sl;

	if (strncmp(url, "https://", 8) == 0) {
		ep->scheme = lp_strdup("https");
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		ep->scheme = lp_strdup("http");
		p = url + 7;
	} else {
		set_msg(msg, msglen, "spec.aws.endpoint \"%s\" must start with http:// or https://",
		        url);
		return LP_ERR_INVALID;
	}
	if (!ep->scheme)
		return LP_ERR_NOMEM;
	path = p + strcspn(p, "/?#");
	if (strpbrk(p, "?#")) {
		set_msg(msg, msglen, "spec.aws.endpoint \"%s\" must not have a query or fragment",
		        url);
		return LP_ERR_INVALID;
	}
	if (memchr(p, '@', (size_t)(path - p))) {
		set_msg(msg, msglen, "spec.aws.endpoint \"%s\" must not carry user information",
		        url);
		return LP_ERR_INVALID;
	}
	host = p;
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(path - p));
		if (!hend) {
			set_msg(msg, msglen, "spec.aws.endpoint \"%s\": unclosed IPv6 bracket",
			        url);
			return LP_ERR_INVALID;
		}
		host = p + 1;
		p = hend + 1;
	} else {
		hend = p + strcspn(p, ":/");
		if (hend > path)
			hend = path;
		p = hend;
	}
	if (hend == host) {
		set_msg(msg, msglen, "spec.aws.endpoint \"%s\" has no host", url);
		return LP_ERR_INVALID;
	}
	ep->host = lp_strndup(host, (size_t)(hend - host));
	if (!ep->host)
		return LP_ERR_NOMEM;
	if (*p == ':') {
		char *e;
		long port = strtol(p + 1, &e, 10);
		if (e == p + 1 || e != path || port < 1 || port > 65535) {
			set_msg(msg, msglen,
			        "spec.aws.endpoint \"%s\": port must be a number from 1 to 65535",
			        url);
			return LP_ERR_INVALID;
		}
		ep->port = (int)port;
	} else if (p != path) {
		set_msg(msg, msglen, "spec.aws.endpoint \"%s\" is not a valid URL", url);
		return LP_ERR_INVALID;
	}
	sl = strlen(path);
	while (sl && path[sl - 1] == '/')
		sl--;
	ep->base_path = lp_strndup(path, sl);
	if (!ep->base_path)
		return LP_ERR_NOMEM;
	ep->custom = 1;
	return finish(ep);
}

lp_err lp_aws_endpoint_resolve(struct lp_aws_endpoint *out, const char *service, const char *region,
                               const char *override, char *msg, size_t msglen)
{
	struct lp_aws_endpoint ep = {0};
	struct lp_buf h;
	lp_err err;

	if (!out || !service || !*service)
		return LP_ERR_INVALID;
	if (override && *override) {
		err = parse_override(&ep, override, msg, msglen);
	} else if (!lp_aws_region_valid(region)) {
		set_msg(msg, msglen, "spec.aws.region \"%s\" is not a valid AWS region name",
		        region ? region : "");
		err = LP_ERR_INVALID;
	} else {
		lp_buf_init(&h, 512);
		ep.partition = lp_aws_partition(region);
		err = lp_buf_addf(&h, "%s.%s.%s", service, region, lp_aws_dns_suffix(ep.partition));
		if (!err) {
			ep.host = lp_buf_take(&h);
			ep.scheme = lp_strdup("https");
			ep.base_path = lp_strdup("");
			err = ep.host && ep.scheme && ep.base_path ? finish(&ep) : LP_ERR_NOMEM;
		}
	}
	ep.partition = lp_aws_partition(region);
	if (err) {
		lp_aws_endpoint_free(&ep);
		return err;
	}
	*out = ep;
	return LP_OK;
}

void lp_aws_endpoint_free(struct lp_aws_endpoint *ep)
{
	if (!ep)
		return;
	lp_free(ep->scheme);
	lp_free(ep->host);
	lp_free(ep->base_path);
	lp_free(ep->url);
	lp_free(ep->host_header);
	memset(ep, 0, sizeof(*ep));
}
