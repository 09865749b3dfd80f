/* Per-service endpoints from the region's partition, or an override URL
 * (emulators, LocalStack, MinIO). */
#ifndef LP_AWS_ENDPOINTS_H
#define LP_AWS_ENDPOINTS_H
#include <stddef.h>
#include "../util/err.h"

struct lp_aws_endpoint {       /* all owned; free with lp_aws_endpoint_free */
	char *scheme;          /* "https" | "http" */
	char *host;            /* "kinesis.us-east-1.amazonaws.com", "127.0.0.1", "::1" */
	int port;              /* explicit port, 0 = scheme default */
	char *base_path;       /* "" or "/prefix" (no trailing slash) from an override */
	char *url;             /* scheme://host[:port] (IPv6 in brackets), no path */
	char *host_header;     /* value of the Host header: host[:port] */
	const char *partition; /* static: "aws", "aws-cn", "aws-us-gov" */
	int custom;            /* 1 when from an override (S3 then uses path-style) */
};

/* "aws-cn" for cn-*, "aws-us-gov" for us-gov-*, else "aws". region may be NULL. */
const char *lp_aws_partition(const char *region);
/* "amazonaws.com" or "amazonaws.com.cn". */
const char *lp_aws_dns_suffix(const char *partition);
/* 1 when region looks like an AWS region name ("us-east-1", "cn-north-1"). */
int lp_aws_region_valid(const char *region);

/* Resolves the endpoint of service ("kinesis", "firehose", "logs", "s3",
 * "sts") in region. A non-empty override is parsed instead (http or https URL,
 * optional port 1..65535, optional path). On failure writes a message naming
 * the problem into msg[msglen] (when given) and returns LP_ERR_INVALID; *out is
 * written only on success. */
LP_WUR lp_err lp_aws_endpoint_resolve(struct lp_aws_endpoint *out, const char *service,
                                      const char *region, const char *override, char *msg,
                                      size_t msglen);
void lp_aws_endpoint_free(struct lp_aws_endpoint *ep); /* NULL-safe */

#endif
