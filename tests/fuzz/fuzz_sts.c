/* fuzz_sts.c - libFuzzer target for STS's XML answers (sts_parse_response):
 * whatever the bytes, a parse ends in one of the documented outcomes. */
#include "fuzz.h"

#include "sts.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const actions[] = {"AssumeRole",
					      "AssumeRoleWithWebIdentity"};
	struct sts_answer a, zero = {0};
	char err[256] = "";
	int rc;

	if (size < 1)
		return 0;
	rc = sts_parse_response((const char *)data + 1, size - 1,
				actions[data[0] & 1], &a, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "parse %d", rc);
		FUZZ_CHECK(memcmp(&a, &zero, sizeof(a)) == 0,
			   "failed parse left an answer");
		FUZZ_CHECK(rc == -ENOMEM || err[0], "no reason");
		return 0;
	}
	FUZZ_CHECK(err[0] == '\0', "reason on success: %s", err);
	if (a.error_code) {
		FUZZ_CHECK(*a.error_code && a.error_message,
			   "error answer without code or message");
		FUZZ_CHECK(!a.creds.access_key_id, "error answer with keys");
	} else {
		FUZZ_CHECK(a.creds.access_key_id && *a.creds.access_key_id &&
			       a.creds.secret_access_key &&
			       *a.creds.secret_access_key &&
			       a.creds.session_token &&
			       *a.creds.session_token && a.creds.expiration,
			   "credentials answer missing a field");
	}
	sts_answer_free(&a);
	return 0;
}
