/* fs.h - the filesystem: FUSE operations that turn paths into DynamoDB
 * requests (SPEC §3-§6), over the cache, the codec and the key names. */
#ifndef DYNAMOFS_FS_H
#define DYNAMOFS_FS_H

#include <fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "codec.h"
#include "ddb.h"

struct fs_settings {
	struct ddb_client *ddb; /* borrowed; must outlive the filesystem */
	enum codec_format format;
	double cache_ttl; /* seconds */
	size_t cache_bytes;
	bool consistent_read;
	bool read_only;
	/* conflicts=overwrite: puts are unconditional (and grouped) */
	bool conflicts_overwrite;
	const char *version_attribute; /* NULL for none */
	const char *tables;    /* "a:b:c" filter, or NULL for every table */
	const char *hash_key;  /* "NAME[:T]" for plain mkdir */
	const char *range_key; /* "NAME[:T]", "" for none */
	uid_t uid;
	gid_t gid;
};

struct fs;

/* Creates the filesystem state (copies what it needs from s). Returns NULL
 * with errno set. Caller frees with fs_free, after the FUSE loop ended. */
struct fs *fs_new(const struct fs_settings *s);
void fs_free(struct fs *fs);

/* The operations table; pass fs as fuse_new's user_data. */
const struct fuse_operations *fs_operations(void);

#endif
