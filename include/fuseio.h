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

#endif
