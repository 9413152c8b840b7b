/* awsenv.h - a clean AWS environment for the unit tests that read ~/.aws or
 * AWS_* variables: no AWS_* variable set, HOME a fresh temporary folder. */
#ifndef DYNAMOFS_AWSENV_H
#define DYNAMOFS_AWSENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Unsets every AWS_* variable, then turns instance metadata off, so a test
 * states exactly where settings come from and never reaches 169.254.x.x. */
static inline void awsenv_clear(void)
{
	char name[256];

	for (;;) {
		char **e = environ;

		while (*e && strncmp(*e, "AWS_", 4) != 0)
			e++;
		if (!*e)
			break;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
		unsetenv(name);
	}
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

/* Clears the environment and makes HOME a new folder from tmpl (a mkdtemp
 * template such as "/tmp/dynamofs-creds.XXXXXX", copied into home, which
 * holds len bytes). Aborts when the folder cannot be made. */
static inline void awsenv_home_make(char *home, size_t len, const char *tmpl)
{
	awsenv_clear();
	snprintf(home, len, "%s", tmpl);
	if (!mkdtemp(home))
		abort();
	setenv("HOME", home, 1);
}

/* Removes the folder awsenv_home_make made, and clears the environment. */
static inline void awsenv_home_remove(const char *home)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", home);
	awsenv_clear();
}

#endif
