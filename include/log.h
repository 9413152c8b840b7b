/* log.h - the one logging function of dynamofs, with syslog levels.
 * Foreground processes log to stderr, daemons to syslog; secrets never reach
 * it. */
#ifndef DYNAMOFS_LOG_H
#define DYNAMOFS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Selects where messages go and which are kept: messages with a level above
 * max_level (LOG_ERR < LOG_WARNING < LOG_INFO < LOG_DEBUG) are dropped.
 * use_syslog sends them to syslog(3) as "dynamofs"; otherwise to stderr.
 * Call before threads start; not thread-safe against log_msg. */
void log_setup(int max_level, bool use_syslog);

/* True when messages of this level are kept (cheap; use it to skip building
 * expensive debug strings). Thread-safe. */
bool log_enabled(int level);

/* Logs one line (a trailing newline is added). Thread-safe: each message is
 * written with a single write so lines from threads never interleave. */
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a level name: "error", "warning", "info", "debug" (or "err", "warn").
 * Returns the syslog level, or -1 for an unknown name. */
int log_level_parse(const char *name);

/* Formats a one-line error for the caller to print or log, into buf of len
 * bytes (truncated to fit); buf NULL or len 0: nothing. For the modules that
 * hand an error back as text instead of logging it (options, config, creds). */
void errbuf_printf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
