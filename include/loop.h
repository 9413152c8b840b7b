/* loop.h - the mount's FUSE request loop: one thread reads and serves
 * requests while they are served from memory, and hands the reading on when
 * a request is about to wait (the network, another thread, a sleep). */
#ifndef DYNAMOFS_LOOP_H
#define DYNAMOFS_LOOP_H

struct fuse;

/* Serves the mounted fuse until it is unmounted or a signal handler (see
 * fuse_set_signal_handlers) ends its session. Requests being served then
 * finish first; no new one is read. At most max_threads threads, each made
 * only when a request is about to wait and no thread is idle.
 * Returns as fuse_loop_mt: 0 after an unmount, the signal number after a
 * signal, -errno when the loop failed. */
int loop_run(struct fuse *fuse, unsigned max_threads);

/* Called by code about to wait (a request to DynamoDB, a condition
 * variable, a sleep): when the calling thread is the one reading requests,
 * another thread takes the reading over first, so that requests that need
 * no wait are not held up. A no-op on other threads. */
void loop_will_block(void);

#endif
