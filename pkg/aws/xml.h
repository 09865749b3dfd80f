/* The little XML the AWS query and S3 REST protocols need: find an element's
 * text (entities decoded) and append escaped text. Not a general parser. */
#ifndef LP_AWS_XML_H
#define LP_AWS_XML_H
#include <stddef.h>
#include "../util/buf.h"

/* Copies the text of the first element <tag> (any namespace prefix-free match,
 * attributes allowed) in xml[0..len) into out[outlen], entities decoded.
 * Returns 1 when found, 0 otherwise (out is then ""). */
int lp_aws_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen);
/* Like lp_aws_xml_text but returns a pointer to the element's inner content and
 * its length (raw, not decoded), for nested lookups; NULL when absent. Searches
 * from xml; *next is set just after the element's end tag. */
const char *lp_aws_xml_inner(const char *xml, size_t len, const char *tag, size_t *inner_len,
                             const char **next);
/* Appends s with & < > " ' escaped. */
LP_WUR lp_err lp_aws_xml_escape(struct lp_buf *b, const char *s);

#endif
