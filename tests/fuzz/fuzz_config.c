/* fuzz_config.c - libFuzzer target for the shared AWS config and credentials
 * file reader (config_resolve): any file text gives a resolved config or a
 * clean error, never a crash, a leak or a half-filled struct. */
#include "fuzz.h"

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

static int fd_config = -1, fd_creds = -1;

/* Both files live in memory and are named to config_resolve through the
 * variables it reads; every other AWS_ variable is cleared so the files
 * alone decide. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];

	(void)argc;
	(void)argv;
	for (int again = 1; again;) {
		again = 0;
		for (char **e = environ; *e; e++) {
			if (strncmp(*e, "AWS_", 4) == 0) {
				char name[256];
				size_t n = strcspn(*e, "=");

				snprintf(name, sizeof(name), "%.*s", (int)n,
					 *e);
				unsetenv(name);
				again = 1;
				break;
			}
		}
	}
	fd_config = memfd_create("config", 0);
	fd_creds = memfd_create("credentials", 0);
	if (fd_config < 0 || fd_creds < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd_config);
	setenv("AWS_CONFIG_FILE", path, 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd_creds);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	return 0;
}

static void put(int fd, const uint8_t *p, size_t n)
{
	if (ftruncate(fd, 0) || (n && pwrite(fd, p, n, 0) != (ssize_t)n))
		abort();
}

/* A key of any length reads back exactly: bytes 1..n-1 become a name (up
 * to the first '=' byte) and a value, mapped onto characters that need no
 * quoting, written as "[default]\nname = value\n" in the credentials file
 * (or the config file), and config_get must give the value back. Lines
 * over inih's 200-byte buffer go through config.c's own reader. */
static void try_key_value(const uint8_t *data, size_t size)
{
	static const char name_chars[] =
	    "abcdefghijklmnopqrstuvwxyz0123456789_";
	/* a region, so that the file need not give one */
	struct config_options opts = {.region = "us-east-1"};
	char *file, *name, *value, err[256];
	const char *got;
	struct config cfg;
	size_t nl = 0, vl = 0, i;
	const uint8_t *eq = memchr(data + 1, '=', size - 1);
	bool in_creds = data[0] & 8;

	nl = eq ? (size_t)(eq - data - 1) : 0;
	if (!eq || nl == 0 || nl > 100)
		return;
	file = malloc(size + 32);
	if (!file)
		return;
	name = file + sizeof("[default]\n") - 1;
	memcpy(file, "[default]\n", sizeof("[default]\n") - 1);
	for (i = 0; i < nl; i++)
		name[i] = name_chars[data[1 + i] % (sizeof(name_chars) - 1)];
	memcpy(name + nl, " = ", 3);
	value = name + nl + 3;
	for (i = nl + 2; i < size; i++) {
		/* printable ASCII but the comment starters; blanks inside */
		char c = (char)(0x20 + data[i] % 0x5f);

		if (c == ';' || c == '#')
			c = '_';
		value[vl++] = c;
	}
	while (vl && value[vl - 1] == ' ')
		vl--;
	while (vl && value[0] == ' ') {
		memmove(value, value + 1, vl - 1);
		vl--;
	}
	value[vl] = '\n';
	put(in_creds ? fd_creds : fd_config, (const uint8_t *)file,
	    (size_t)(value + vl + 1 - file));
	put(in_creds ? fd_config : fd_creds, (const uint8_t *)"", 0);
	value[vl] = '\0';
	name[nl] = '\0';
	if (config_resolve(&opts, &cfg, err, sizeof(err)) == 0) {
		got = config_get(&cfg, name, NULL);
		/* a few names have meaning (region=, endpoint_url=,
		 * ca_bundle=) and may make config_resolve refuse the file;
		 * others must be there */
		FUZZ_CHECK(got && strcmp(got, value) == 0,
			   "%s = \"%.300s\" read back as \"%.300s\"", name,
			   value, got ? got : "(none)");
		config_free(&cfg);
	}
	free(file);
}

/* The first byte picks the profile asked for (bit 4: try_key_value); the
 * rest, split at the first NUL, is the config file and then the
 * credentials file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const profiles[] = {NULL, "dev", "a b", "default"};
	struct config_options opts = {0};
	struct config cfg, zero = {0};
	const uint8_t *split;
	char err[256];
	int rc;

	if (size < 1 || size > 65536)
		return 0;
	if (data[0] & 16) {
		try_key_value(data, size);
		return 0;
	}
	opts.profile = profiles[data[0] & 3];
	data++;
	size--;
	split = memchr(data, '\0', size);
	if (split) {
		put(fd_config, data, (size_t)(split - data));
		put(fd_creds, split + 1, size - (size_t)(split - data) - 1);
	} else {
		put(fd_config, data, size);
		put(fd_creds, data, 0);
	}
	err[0] = '\0';
	rc = config_resolve(&opts, &cfg, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOENT || rc == -ENOMEM,
			   "config_resolve returned %d", rc);
		FUZZ_CHECK(memcmp(&cfg, &zero, sizeof(cfg)) == 0,
			   "failed config_resolve left cfg filled");
		FUZZ_CHECK(err[0], "failed without a reason");
		return 0;
	}
	FUZZ_CHECK(cfg.endpoint && cfg.region && cfg.profile, "unset field");
	for (size_t i = 0; i < cfg.n_kv; i++) {
		for (const char *c = cfg.kv[i].key; *c; c++)
			FUZZ_CHECK(!isupper((unsigned char)*c), "key %s",
				   cfg.kv[i].key);
		FUZZ_CHECK(config_get(&cfg, cfg.kv[i].key, NULL) != NULL,
			   "kept key %s not found", cfg.kv[i].key);
	}
	config_free(&cfg);
	return 0;
}
