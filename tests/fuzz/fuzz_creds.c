/* fuzz_creds.c - libFuzzer target for what credential sources answer:
 * credential_process output, container and IMDS JSON (creds_parse_json),
 * their Expiration times and the container URL variables. */
#include "fuzz.h"

#include "creds.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void try_json(const char *body, size_t n, int which)
{
	static const struct {
		const char *what, *token;
		bool version;
	} src[] = {
	    {"credential_process", "SessionToken", true},
	    {"container credentials", "Token", false},
	    {"role credentials", "Token", false},
	};
	struct creds c, zero = {0};
	char err[256] = "";
	int rc = creds_parse_json(body, n, src[which].what, src[which].token,
				  src[which].version, &c, err, sizeof(err));

	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "parse %d", rc);
		FUZZ_CHECK(memcmp(&c, &zero, sizeof(c)) == 0,
			   "failed parse left creds");
		FUZZ_CHECK(rc == -ENOMEM || err[0], "no reason");
		return;
	}
	FUZZ_CHECK(c.access_key_id && *c.access_key_id && c.secret_access_key &&
		       *c.secret_access_key,
		   "empty key taken");
	/* The reason never quotes the secret. */
	FUZZ_CHECK(!strstr(err, c.secret_access_key) || strlen(err) == 0 ||
		       strlen(c.secret_access_key) < 4,
		   "secret in message");
	creds_clear(&c);
}

/* A time that parses has digits where ISO 8601 puts them and names a real
 * date, and formats back (UTC) to a time that parses the same. */
static void try_time(const char *s)
{
	static const char digits[] = "dddd-dd-dd?dd:dd:dd";
	time_t t, u;
	struct tm tm;
	char back[64];

	if (creds_parse_time(s, &t))
		return;
	for (size_t i = 0; i < sizeof(digits) - 1; i++)
		FUZZ_CHECK(digits[i] != 'd' || isdigit((unsigned char)s[i]),
			   "\"%.60s\" taken with a non-digit at %zu", s, i);
	if ((s[19] == 'Z' || s[19] == 'z') && s[20] == '\0' &&
	    strncmp(s + 17, "60", 2) != 0) {
		/* no offset, no fraction, no leap second: the same fields */
		FUZZ_CHECK(gmtime_r(&t, &tm), "gmtime");
		strftime(back, sizeof(back), "%Y-%m-%d", &tm);
		FUZZ_CHECK(strncmp(back, s, 10) == 0, "\"%.60s\" taken as %s",
			   s, back);
	}
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
		return;
	strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &tm);
	FUZZ_CHECK(creds_parse_time(back, &u) == 0 && u == t,
		   "\"%.60s\" -> %lld -> \"%s\"", s, (long long)t, back);
}

static void try_url(const char *rel, const char *full)
{
	char *url = NULL, err[256] = "";
	int rc = creds_container_url(*rel ? rel : NULL, *full ? full : NULL,
				     &url, err, sizeof(err));

	FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL || rc == -ENOMEM,
		   "container_url %d", rc);
	FUZZ_CHECK(!rc == !!url, "url set on failure or not on success");
	if (!rc)
		FUZZ_CHECK(!strncasecmp(url, "http://", 7) ||
			       !strncasecmp(url, "https://", 8),
			   "url %s", url);
	free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *sep;

	if (size < 1 || size > 65536)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
	case 1:
	case 2:
		try_json(s, size - 1, data[0] % 5);
		break;
	case 3:
		try_time(s);
		break;
	case 4:
		sep = strchr(s, '\n');
		if (sep)
			*sep++ = '\0';
		try_url(s, sep ? sep : "");
		break;
	}
	free(s);
	return 0;
}
