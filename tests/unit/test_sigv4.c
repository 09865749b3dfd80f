/* SigV4 against the published aws-sig-v4-test-suite vectors (secret
 * wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, AKIDEXAMPLE, 20150830T123600Z,
 * us-east-1, service "service") and the S3 header-signing examples of the S3 API
 * reference (AKIAIOSFODNN7EXAMPLE, 20130524T000000Z). Each vector checks the
 * canonical request, the string to sign and the signature. */
#include "../../pkg/aws/sigv4.h"
#include "../../pkg/util/mem.h"
#include "lp_test.h"
#include <stdlib.h>

#define E3       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HD       "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
#define SH       "host;x-amz-date"
#define STD_HDRS "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z"
#define TOKEN                                                                                      \
	"AQoDYXdzEPT//////////"                                                                    \
	"wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YU" \
	"u"                                                                                        \
	"wthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp"  \
	"75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypN"  \
	"C9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

struct vec {
	const char *name;
	const char *method;
	const char *path;
	const char *query;
	const char *headers; /* "Name:value" lines */
	const char *body;
	const char *creq;
	const char *sts_hash; /* last line of the string to sign */
	const char *sig;
};

static const struct vec suite[] = {
    {"get-vanilla", "GET", "/", NULL, STD_HDRS, "", "GET\n/\n\n" HD "\n" SH "\n" E3,
     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", STD_HDRS, "",
     "GET\n/\nParam1=value1\n" HD "\n" SH "\n" E3,
     "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab",
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", STD_HDRS, "",
     "GET\n/\nParam1=Value1&Param1=value2\n" HD "\n" SH "\n" E3,
     "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
     "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
    {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", STD_HDRS, "",
     "GET\n/\nParam1=value1&Param2=value2\n" HD "\n" SH "\n" E3,
     "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", STD_HDRS, "",
     "GET\n/\nParam1=value1&Param1=value2\n" HD "\n" SH "\n" E3,
     "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
     "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
    {"get-vanilla-query-unreserved", "GET", "/",
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
     "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     STD_HDRS, "",
     "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
     "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n" HD "\n" SH "\n" E3,
     "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar", STD_HDRS, "",
     "GET\n/\n%E1%88%B4=bar\n" HD "\n" SH "\n" E3,
     "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     NULL, STD_HDRS, "",
     "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n" HD "\n" SH
     "\n" E3,
     "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-utf8", "GET", "/\xe1\x88\xb4", NULL, STD_HDRS, "",
     "GET\n/%E1%88%B4\n\n" HD "\n" SH "\n" E3,
     "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-space", "GET", "/example space/", NULL, STD_HDRS, "",
     "GET\n/example%20space/\n\n" HD "\n" SH "\n" E3,
     "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"get-relative", "GET", "/example/..", NULL, STD_HDRS, "", "GET\n/\n\n" HD "\n" SH "\n" E3,
     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-relative-relative", "GET", "/example1/example2/../..", NULL, STD_HDRS, "",
     "GET\n/\n\n" HD "\n" SH "\n" E3,
     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slash", "GET", "//", NULL, STD_HDRS, "", "GET\n/\n\n" HD "\n" SH "\n" E3,
     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slash-dot-slash", "GET", "/./", NULL, STD_HDRS, "", "GET\n/\n\n" HD "\n" SH "\n" E3,
     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slash-pointless-dot", "GET", "/./example", NULL, STD_HDRS, "",
     "GET\n/example\n\n" HD "\n" SH "\n" E3,
     "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702",
     "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
    {"get-slashes", "GET", "//example//", NULL, STD_HDRS, "",
     "GET\n/example/\n\n" HD "\n" SH "\n" E3,
     "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
    {"get-header-key-duplicate", "GET", "/", NULL,
     "Host:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\n"
     "X-Amz-Date:20150830T123600Z",
     "",
     "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
     "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" E3,
     "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order", "GET", "/", NULL,
     "Host:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\n"
     "My-Header1:value2\nX-Amz-Date:20150830T123600Z",
     "",
     "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\n"
     "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" E3,
     "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-value-trim", "GET", "/", NULL,
     "Host:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\n"
     "X-Amz-Date:20150830T123600Z",
     "",
     "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
     "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" E3,
     "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-vanilla", "POST", "/", NULL, STD_HDRS, "", "POST\n/\n\n" HD "\n" SH "\n" E3,
     "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"post-vanilla-query", "POST", "/", "Param1=value1", STD_HDRS, "",
     "POST\n/\nParam1=value1\n" HD "\n" SH "\n" E3,
     "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"post-header-key-sort", "POST", "/", NULL,
     "Host:example.amazonaws.com\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z", "",
     "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\n"
     "host;my-header1;x-amz-date\n" E3,
     "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {"post-header-value-case", "POST", "/", NULL,
     "Host:example.amazonaws.com\nMy-Header1:VALUE1\nX-Amz-Date:20150830T123600Z", "",
     "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\n"
     "host;my-header1;x-amz-date\n" E3,
     "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
    {"post-x-www-form-urlencoded", "POST", "/", NULL,
     "Content-Type:application/x-www-form-urlencoded\n" STD_HDRS, "Param1=value1",
     "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n" HD
     "\ncontent-type;host;x-amz-date\n"
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
     "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
    {"post-x-www-form-urlencoded-parameters", "POST", "/", NULL,
     "Content-Type:application/x-www-form-urlencoded; charset=utf8\n" STD_HDRS, "Param1=value1",
     "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf8\n" HD
     "\ncontent-type;host;x-amz-date\n"
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
     "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
     "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
    {"post-sts-header-before", "POST", "/", NULL, STD_HDRS "\nX-Amz-Security-Token:" TOKEN, "",
     "POST\n/\n\n" HD "x-amz-security-token:" TOKEN "\n\nhost;x-amz-date;x-amz-security-token\n" E3,
     "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
     "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
};

/* Splits "Name:value\nName:value" into hdrs (pointers into buf). */
static size_t split_headers(char *buf, struct lp_sigv4_hdr *hdrs, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *line = strtok_r(buf, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		hdrs[n].name = line;
		hdrs[n].value = colon + 1;
		n++;
	}
	return n;
}

static void check_vec(const struct vec *v, const char *akid, const char *secret, const char *date,
                      const char *scope, const char *service, int s3)
{
	char hbuf[2048];
	struct lp_sigv4_hdr hdrs[16];
	struct lp_sigv4_input in = {0};
	struct lp_sigv4_output out = {0};
	char sts[1024], authz[512];
	size_t n;

	snprintf(hbuf, sizeof(hbuf), "%s", v->headers);
	n = split_headers(hbuf, hdrs, 16);
	in.method = v->method;
	in.path = v->path;
	in.query = v->query;
	in.headers = hdrs;
	in.n_headers = n;
	in.body = v->body;
	in.body_len = strlen(v->body);
	in.region = "us-east-1";
	in.service = service;
	in.amz_date = date;
	in.access_key_id = akid;
	in.secret_access_key = secret;
	in.s3 = s3;
	if (s3) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(hdrs[i].name, "x-amz-content-sha256") == 0)
				in.payload_hash = hdrs[i].value;
	}
	LP_CHECK_INT(lp_sigv4_sign(&out, &in), LP_OK);
	if (!out.canonical_request)
		return;
	LP_CHECK_STR(out.canonical_request, v->creq);
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope, v->sts_hash);
	LP_CHECK_STR(out.string_to_sign, sts);
	LP_CHECK_STR(out.signature, v->sig);
	snprintf(authz, sizeof(authz), "Signature=%s", v->sig);
	LP_CHECK_HAS(out.authorization, authz);
	LP_CHECK_HAS(out.authorization, "AWS4-HMAC-SHA256 Credential=");
	lp_sigv4_output_free(&out);
}

static void run_suite(size_t i)
{
	check_vec(&suite[i], "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	          "20150830T123600Z", "20150830/us-east-1/service/aws4_request", "service", 0);
}

#define S3H "host:examplebucket.s3.amazonaws.com\n"
#define S3D "x-amz-date:20130524T000000Z\n"
static const struct vec s3vec[] = {
    {"s3-get-object-range", "GET", "/test.txt", NULL,
     "Host:examplebucket.s3.amazonaws.com\nRange:bytes=0-9\nx-amz-content-sha256:" E3
     "\nx-amz-date:20130524T000000Z",
     "",
     "GET\n/test.txt\n\n" S3H "range:bytes=0-9\nx-amz-content-sha256:" E3 "\n" S3D
     "\nhost;range;x-amz-content-sha256;x-amz-date\n" E3,
     "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
    {"s3-put-object", "PUT", "/test$file.text", NULL,
     "Date:Fri, 24 May 2013 00:00:00 GMT\nHost:examplebucket.s3.amazonaws.com\n"
     "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n"
     "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     "Welcome to Amazon S3.",
     "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n" S3H
     "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n" S3D
     "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
    {"s3-get-bucket-lifecycle", "GET", "/", "lifecycle",
     "Host:examplebucket.s3.amazonaws.com\nx-amz-date:20130524T000000Z\nx-amz-content-sha256:" E3,
     "",
     "GET\n/\nlifecycle=\n" S3H "x-amz-content-sha256:" E3 "\n" S3D
     "\nhost;x-amz-content-sha256;x-amz-date\n" E3,
     "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
    {"s3-list-objects", "GET", "/", "max-keys=2&prefix=J",
     "Host:examplebucket.s3.amazonaws.com\nx-amz-date:20130524T000000Z\nx-amz-content-sha256:" E3,
     "",
     "GET\n/\nmax-keys=2&prefix=J\n" S3H "x-amz-content-sha256:" E3 "\n" S3D
     "\nhost;x-amz-content-sha256;x-amz-date\n" E3,
     "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
};

static void run_s3(size_t i)
{
	check_vec(&s3vec[i], "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	          "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", "s3", 1);
}

#define SUITE_CASE(i)                                                                              \
	static void suite_##i(void)                                                                \
	{                                                                                          \
		run_suite(i);                                                                      \
	}
#define S3_CASE(i)                                                                                 \
	static void s3_##i(void)                                                                   \
	{                                                                                          \
		run_s3(i);                                                                         \
	}
SUITE_CASE(0)
SUITE_CASE(1) SUITE_CASE(2) SUITE_CASE(3) SUITE_CASE(4) SUITE_CASE(5) SUITE_CASE(6) SUITE_CASE(7)
    SUITE_CASE(8) SUITE_CASE(9) SUITE_CASE(10) SUITE_CASE(11) SUITE_CASE(12) SUITE_CASE(13)
        SUITE_CASE(14) SUITE_CASE(15) SUITE_CASE(16) SUITE_CASE(17) SUITE_CASE(18) SUITE_CASE(19)
            SUITE_CASE(20) SUITE_CASE(21) SUITE_CASE(22) SUITE_CASE(23) SUITE_CASE(24)
                SUITE_CASE(25) S3_CASE(0) S3_CASE(1) S3_CASE(2) S3_CASE(3)

                    static void payload_hash(void)
{
	char hex[65];

	lp_sigv4_sha256_hex("Welcome to Amazon S3.", 21, hex);
	LP_CHECK_STR(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	lp_sigv4_sha256_hex("", 0, hex);
	LP_CHECK_STR(hex, E3);
}

static void amz_date(void)
{
	char d[17];

	lp_sigv4_amz_date((time_t)1440938160, d);
	LP_CHECK_STR(d, "20150830T123600Z");
}

static void uri_encoding(void)
{
	struct lp_buf b;

	lp_buf_init(&b, 0);
	LP_CHECK_INT(lp_aws_uri_encode(&b, "a b/c+d=e~", 10, 0), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "a%20b%2Fc%2Bd%3De~");
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_aws_uri_encode(&b, "a b/c", 5, 1), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "a%20b/c");
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_aws_uri_decode(&b, "a%20b%2", 7), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "a b%2");
	lp_buf_free(&b);
}

/* A bare sub-resource is signed as "key=" (libcurl 7.88 signs it bare: wrong). */
static void bare_subresource(void)
{
	struct lp_sigv4_hdr h[] = {{"Host", "b.s3.amazonaws.com"},
	                           {"X-Amz-Date", "20150830T123600Z"}};
	struct lp_sigv4_input in = {.method = "GET",
	                            .path = "/",
	                            .query = "tagging",
	                            .headers = h,
	                            .n_headers = 2,
	                            .region = "us-east-1",
	                            .service = "s3",
	                            .amz_date = "20150830T123600Z",
	                            .access_key_id = "A",
	                            .secret_access_key = "B",
	                            .s3 = 1};
	struct lp_sigv4_output out = {0};

	LP_CHECK_INT(lp_sigv4_sign(&out, &in), LP_OK);
	LP_CHECK_HAS(out.canonical_request, "GET\n/\ntagging=\n");
	lp_sigv4_output_free(&out);
}

/* Non-S3 services encode an already-encoded path once more; S3 does not. */
static void double_encoding(void)
{
	struct lp_sigv4_hdr h[] = {{"Host", "x"}, {"X-Amz-Date", "20150830T123600Z"}};
	struct lp_sigv4_input in = {.method = "GET",
	                            .path = "/a%20b",
	                            .headers = h,
	                            .n_headers = 2,
	                            .region = "r",
	                            .service = "service",
	                            .amz_date = "20150830T123600Z",
	                            .access_key_id = "A",
	                            .secret_access_key = "B"};
	struct lp_sigv4_output out = {0};

	LP_CHECK_INT(lp_sigv4_sign(&out, &in), LP_OK);
	LP_CHECK_HAS(out.canonical_request, "GET\n/a%2520b\n");
	lp_sigv4_output_free(&out);
	in.s3 = 1;
	LP_CHECK_INT(lp_sigv4_sign(&out, &in), LP_OK);
	LP_CHECK_HAS(out.canonical_request, "GET\n/a%20b\n");
	lp_sigv4_output_free(&out);
}

static void missing_fields(void)
{
	struct lp_sigv4_input in = {.method = "GET"};
	struct lp_sigv4_output out = {0};

	LP_CHECK_INT(lp_sigv4_sign(&out, &in), LP_ERR_INVALID);
	LP_CHECK(out.signature == NULL);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"get-vanilla", suite_0},
	    {"get-vanilla-empty-query-key", suite_1},
	    {"get-vanilla-query-order-key", suite_2},
	    {"get-vanilla-query-order-key-case", suite_3},
	    {"get-vanilla-query-order-value", suite_4},
	    {"get-vanilla-query-unreserved", suite_5},
	    {"get-vanilla-utf8-query", suite_6},
	    {"get-unreserved", suite_7},
	    {"get-utf8", suite_8},
	    {"get-space", suite_9},
	    {"get-relative", suite_10},
	    {"get-relative-relative", suite_11},
	    {"get-slash", suite_12},
	    {"get-slash-dot-slash", suite_13},
	    {"get-slash-pointless-dot", suite_14},
	    {"get-slashes", suite_15},
	    {"get-header-key-duplicate", suite_16},
	    {"get-header-value-order", suite_17},
	    {"get-header-value-trim", suite_18},
	    {"post-vanilla", suite_19},
	    {"post-vanilla-query", suite_20},
	    {"post-header-key-sort", suite_21},
	    {"post-header-value-case", suite_22},
	    {"post-x-www-form-urlencoded", suite_23},
	    {"post-x-www-form-urlencoded-parameters", suite_24},
	    {"post-sts-header-before", suite_25},
	    {"s3-get-object-range", s3_0},
	    {"s3-put-object", s3_1},
	    {"s3-get-bucket-lifecycle", s3_2},
	    {"s3-list-objects", s3_3},
	    {"payload-hash", payload_hash},
	    {"amz-date", amz_date},
	    {"uri-encoding", uri_encoding},
	    {"bare-subresource", bare_subresource},
	    {"double-encoding", double_encoding},
	    {"missing-fields", missing_fields},
	};
	_Static_assert(LP_TEST_COUNT(suite) == 26, "suite table");
	_Static_assert(LP_TEST_COUNT(s3vec) == 4, "s3 table");
	return lp_test_main("sigv4", tests, LP_TEST_COUNT(tests));
}
