/* fuseio.c - the mount's reads and writes of /dev/fuse, through libfuse's
 * custom I/O hook, so the INIT reply can ask for what libfuse 3.14 forgets. */
#include "fuseio.h"

#include <errno.h>
#include <stddef.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

/* The INIT exchange happens once, before any other request: the request's
 * id and whether the kernel offered parallel directory operations. */
static uint64_t init_unique;
static int init_seen;
static int init_offers_parallel;

static ssize_t fuseio_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	if (!init_seen && n >= (ssize_t)(sizeof(*in) + 16) &&
	    in->opcode == FUSE_INIT) {
		const struct fuse_init_in *arg = (const void *)(in + 1);

		init_unique = in->unique;
		init_offers_parallel = (arg->flags & FUSE_PARALLEL_DIROPS) != 0;
		init_seen = 1;
	}
	return n;
}

static ssize_t fuseio_writev(int fd, struct iovec *iov, int count,
			     void *userdata)
{
	const struct fuse_out_header *out = iov[0].iov_base;

	/* libfuse writes a reply as [header, argument]: the INIT reply's
	 * argument is struct fuse_init_out. */
	if (init_seen == 1 && count >= 2 && iov[0].iov_len >= sizeof(*out) &&
	    out->unique == init_unique) {
		init_seen = 2;
		if (out->error == 0 && init_offers_parallel &&
		    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) +
					  sizeof(uint32_t)) {
			struct fuse_init_out *arg = iov[1].iov_base;

			arg->flags |= FUSE_PARALLEL_DIROPS;
			log_msg(LOG_DEBUG, "fuse: INIT reply asks for parallel "
					   "directory operations");
		}
	}
	return writev(fd, iov, count);
}

int fuseio_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
	    .read = fuseio_read,
	    .writev = fuseio_writev,
	};
	int fd = fuse_session_fd(se);

	if (fd < 0)
		return -EBADF;
	return fuse_session_custom_io(se, &io, fd);
}
