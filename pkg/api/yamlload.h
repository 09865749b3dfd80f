/* pkg/api/yamlload: YAML (multi-document) to jansson, with libyaml's parser.
 *
 * Plain scalars resolve as kubectl reads manifests: null/~/empty -> null;
 * true/false/yes/no/on/off/y/n (YAML 1.1, in lower, Title or UPPER case) ->
 * boolean; decimal, 0x and 0o integers -> integer; decimals with a '.' ->
 * real; anything else -> string. Quoted, block and !!str scalars are strings. Anchors and aliases
 * work (at most LP_YAML_MAX_ALIASES aliases per file, and what they copy together at most
 * LP_YAML_MAX_ALIAS_EXPANSION: about 64 per node plus the scalars' and keys' bytes, so an alias
 * bomb is "excessive aliasing", not gigabytes); duplicate mapping keys and non-string keys
 * are errors; merge keys ("<<") are not supported.
 */
#ifndef LP_API_YAMLLOAD_H
#define LP_API_YAMLLOAD_H
#include <stddef.h>
#include "../util/err.h"

typedef struct json_t json_t;

#define LP_YAML_MAX_ALIASES         1000
#define LP_YAML_MAX_BYTES           ((size_t)64 * 1024 * 1024)
#define LP_YAML_MAX_ALIAS_EXPANSION ((size_t)16 * 1024 * 1024)

struct lp_yaml_doc {
	json_t *root; /* owned; NULL for an empty document */
	size_t index; /* 1-based position of the document in its file */
	size_t line;  /* 1-based line where the document starts */
};

struct lp_yaml_docs {
	struct lp_yaml_doc *v;
	size_t n;
	char *error; /* set when loading failed: "line L column C: what"; owned */
};

/* Parses every document of data (len bytes; name only labels errors). On
 * LP_OK out holds all documents (empty ones included with root NULL). On
 * LP_ERR_PARSE out->error says where and what, and out->v holds the documents
 * that were complete before the error. LP_ERR_NOMEM on allocation failure.
 * Always call lp_yaml_docs_free(out) afterwards. */
LP_WUR lp_err lp_yaml_load_string(struct lp_yaml_docs *out, const char *data, size_t len);

/* Same for a file. LP_ERR_IO (out->error says why) when it cannot be read,
 * LP_ERR_TOO_LARGE beyond LP_YAML_MAX_BYTES. */
LP_WUR lp_err lp_yaml_load_file(struct lp_yaml_docs *out, const char *path);

/* Releases everything out holds and leaves it empty. NULL-safe. */
void lp_yaml_docs_free(struct lp_yaml_docs *docs);

#endif
