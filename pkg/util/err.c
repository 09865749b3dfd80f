#include "err.h"

static const char *const lp_err_text[LP_ERR_LAST] = {
    [LP_OK] = "no error",
    [LP_ERR_NOMEM] = "out of memory",
    [LP_ERR_INVALID] = "invalid input",
    [LP_ERR_PARSE] = "parse error",
    [LP_ERR_NOTFOUND] = "not found",
    [LP_ERR_CONFLICT] = "conflict",
    [LP_ERR_IO] = "input/output error",
    [LP_ERR_HTTP] = "HTTP transport error",
    [LP_ERR_TIMEOUT] = "timed out",
    [LP_ERR_GONE] = "resource version expired",
    [LP_ERR_FORBIDDEN] = "forbidden",
    [LP_ERR_UNAUTHORIZED] = "unauthorized",
    [LP_ERR_THROTTLED] = "throttled",
    [LP_ERR_SERVER] = "server error",
    [LP_ERR_TOO_LARGE] = "too large",
    [LP_ERR_UNSUPPORTED] = "unsupported",
    [LP_ERR_AWS] = "AWS error",
    [LP_ERR_IN_USE] = "resource in use",
    [LP_ERR_LIMIT] = "limit exceeded",
};

const char *lp_strerror(lp_err err)
{
	if ((unsigned)err >= LP_ERR_LAST || !lp_err_text[err])
		return "unknown error";
	return lp_err_text[err];
}

int lp_err_retryable(lp_err err)
{
	return err == LP_ERR_THROTTLED || err == LP_ERR_SERVER || err == LP_ERR_HTTP ||
	       err == LP_ERR_TIMEOUT || err == LP_ERR_IO;
}
