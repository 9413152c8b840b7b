/* fuzz_sso.c - libFuzzer target for what the SSO client reads: the token
 * cache file, GetRoleCredentials' and CreateToken's answers (sso.c). */
#include "fuzz.h"

#include "sso.h"

#include <errno.h>
#include <string.h>

static void try_token(const char *s, size_t n)
{
	struct sso_token t, zero = {0};
	char err[256] = "";
	int rc = sso_token_parse(s, n, &t, err, sizeof(err));

	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "token %d", rc);
		FUZZ_CHECK(memcmp(&t, &zero, sizeof(t)) == 0,
			   "failed parse left fields");
		FUZZ_CHECK(rc == -ENOMEM || err[0], "no reason");
		return;
	}
	FUZZ_CHECK(t.access_token && *t.access_token && t.expires_at,
		   "token without accessToken or expiresAt");
	sso_token_clear(&t);
}

static void try_role(const char *s, size_t n)
{
	struct creds c, zero = {0};
	char err[256] = "";
	int rc = sso_role_creds_parse(s, n, &c, err, sizeof(err));

	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "role %d", rc);
		FUZZ_CHECK(memcmp(&c, &zero, sizeof(c)) == 0,
			   "failed parse left creds");
		return;
	}
	FUZZ_CHECK(*c.access_key_id && *c.secret_access_key && *c.session_token,
		   "empty field taken");
	FUZZ_CHECK(!err[0], "message on success");
	creds_clear(&c);
}

static void try_create(const char *s, size_t n)
{
	char *access, *refresh, err[256] = "";
	long exp;
	int rc = sso_create_token_parse(s, n, &access, &exp, &refresh, err,
					sizeof(err));

	if (rc) {
		FUZZ_CHECK(!access && !refresh && exp == 0,
			   "failed parse left fields");
		return;
	}
	FUZZ_CHECK(access && *access && exp > 0, "bad success");
	free(access);
	free(refresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 65536)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		try_token(s, size - 1);
		break;
	case 1:
		try_role(s, size - 1);
		break;
	case 2:
		try_create(s, size - 1);
		break;
	}
	free(s);
	return 0;
}
