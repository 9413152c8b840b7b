/* tap.h - a tiny table-driven unit-test harness that prints TAP, so meson
 * and scripts/test count every case. Header-only; one test program per file. */
#ifndef DYNAMOFS_TAP_H
#define DYNAMOFS_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
};

static int tap_failed_checks;

/* Records a failed check with its place; the test goes on so that one run
 * shows every failure. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			tap_failed_checks++;                                   \
			printf("#   %s:%d: check failed: %s\n", __FILE__,      \
			       __LINE__, #cond);                               \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);    \
		if (tap_a_ != tap_b_) {                                        \
			tap_failed_checks++;                                   \
			printf("#   %s:%d: %s == %lld, expected %s == %lld\n", \
			       __FILE__, __LINE__, #a, tap_a_, #b, tap_b_);    \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *tap_a_ = (a), *tap_b_ = (b);                       \
		if (!tap_a_ || !tap_b_ || strcmp(tap_a_, tap_b_) != 0) {       \
			tap_failed_checks++;                                   \
			printf("#   %s:%d: %s\n#     got:      %s\n"           \
			       "#     expected: %s\n",                         \
			       __FILE__, __LINE__, #a,                         \
			       tap_a_ ? tap_a_ : "(null)",                     \
			       tap_b_ ? tap_b_ : "(null)");                    \
		}                                                              \
	} while (0)

/* Returns a NUL-terminated copy of the file at path (caller frees with
 * free()) and sets *len, or NULL when it cannot be read. */
static inline char *tap_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		n = ftell(f);
		rewind(f);
		p = n >= 0 ? malloc((size_t)n + 1) : NULL;
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p) {
			p[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

/* Runs every test of the NULL-terminated table, prints one TAP line each
 * and returns the process exit status (0 when all passed). */
static inline int tap_run(const struct tap_test *tests)
{
	int n = 0, failed = 0;

	while (tests[n].name)
		n++;
	printf("1..%d\n", n);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		tap_failed_checks = 0;
		tests[i].fn();
		if (tap_failed_checks)
			failed++;
		printf("%s %d - %s\n", tap_failed_checks ? "not ok" : "ok",
		       i + 1, tests[i].name);
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define TAP_MAIN(...)                                                          \
	int main(void)                                                         \
	{                                                                      \
		static const struct tap_test tap_tests_[] = {__VA_ARGS__,      \
							     {0, 0}};          \
		return tap_run(tap_tests_);                                    \
	}

#endif
