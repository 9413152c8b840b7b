/* fuseio.h - the mount's reads and writes of /dev/fuse, through libfuse's
 * custom I/O hook, so the INIT reply can ask for what libfuse 3.14 forgets. */
#ifndef DYNAMOFS_FUSEIO_H
#define DYNAMOFS_FUSEIO_H

#include <fuse_lowlevel.h>

/* Makes se read and write its (already mounted) /dev/fuse descriptor
 * through this module. libfuse 3.14 never sends FUSE_PARALLEL_DIROPS to the
 * kernel, whatever the filesystem asks for, so the kernel sends one LOOKUP
 * at a time per directory (xargs -P8 cat on one table runs one GetItem at
 * a time).
 * When the kernel offers it, the INIT reply gets that flag here.
 * Returns 0 or -errno (then se is unchanged). Call after fuse_mount and
 * before the loop; not thread-safe. */
int fuseio_install(struct fuse_session *se);

/* Adds flags (FOPEN_*) to the next open reply the calling thread sends,
 * if its next reply is one (any other reply drops them). libfuse 3.14's
 * high-level API leaves out opendir's keep_cache and cache_readdir. Call
 * from inside an opendir handler that succeeds. */
void fuseio_next_open_flags(uint32_t flags);

#endif
