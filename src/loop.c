/* loop.c - the mount's FUSE request loop as leader and followers: one thread
 * reads /dev/fuse and serves what it reads; a request about to wait first
 * hands the reading to a follower (loop_will_block).
 *
 * Why not libfuse's multi-threaded loop: it keeps up to max_idle threads
 * blocked in read() on /dev/fuse, and the kernel wakes the one that has
 * waited longest, so a sequential reader (find -exec cat, grep -r, cp -r)
 * has each of its requests served by another, cache-cold thread, with a
 * context switch each time. Served from memory, most requests are faster
 * on one thread (bench/README.md, "The FUSE floor, redone": a single
 * thread served cp -r 2.7x and grep -r 1.7x as fast). Requests that wait
 * on DynamoDB still run in parallel: they hand the reading on first. */
#include "loop.h"

#include <errno.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

struct loop;

struct worker {
	pthread_t id;
	struct worker *next; /* loop->workers */
	struct fuse_buf buf; /* the request being read or served */
	struct loop *loop;
};

struct loop {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t follow; /* followers wait here for the lead */
	sem_t finish;	       /* posted when the loop ends */
	bool lead_taken;       /* a thread reads requests, or is about to */
	bool exit;
	int error;
	unsigned threads, idle, max_threads;
	struct worker *workers;
};

/* The calling thread's worker (NULL off the loop) and whether it leads. */
static _Thread_local struct worker *self;
static _Thread_local bool leading;

static void *worker_main(void *arg);

/* Starts a worker (under l->lock) with the signals fuse_set_signal_handlers
 * catches blocked: they go to the thread in loop_run, as in libfuse's loop.
 * Returns 0 or -errno. */
static int start_worker(struct loop *l)
{
	struct worker *w = calloc(1, sizeof(*w));
	sigset_t block, old;
	int rc;

	if (!w)
		return -ENOMEM;
	w->loop = l;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&w->id, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(w);
		return -rc;
	}
	w->next = l->workers;
	l->workers = w;
	l->threads++;
	return 0;
}

/* Ends the loop (under l->lock): the followers and loop_run wake. */
static void end_loop(struct loop *l, int error)
{
	if (l->exit)
		return;
	l->exit = true;
	l->error = error;
	pthread_cond_broadcast(&l->follow);
	sem_post(&l->finish);
}

/* Waits (under l->lock) until no other thread leads, and takes the lead;
 * false when the loop has ended. */
static bool take_lead(struct loop *l)
{
	while (!l->exit && l->lead_taken) {
		l->idle++;
		pthread_cond_wait(&l->follow, &l->lock);
		l->idle--;
	}
	if (l->exit)
		return false;
	l->lead_taken = true;
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct loop *l = w->loop;
	int res = 0;

	self = w;
	/* Cancelled only inside read(): a request being served finishes. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&l->lock);
	while (take_lead(l)) {
		leading = true;
		pthread_mutex_unlock(&l->lock);
		while (leading && !fuse_session_exited(l->se)) {
			pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
			res = fuse_session_receive_buf(l->se, &w->buf);
			pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
			if (res == -EINTR)
				continue;
			if (res <= 0) {
				if (res < 0)
					fuse_session_exit(l->se);
				break;
			}
			fuse_session_process_buf(l->se, &w->buf);
		}
		pthread_mutex_lock(&l->lock);
		if (leading) {
			/* The session ended (unmounted, a signal, a failed
			 * read) while this thread had the lead. */
			leading = false;
			l->lead_taken = false;
			end_loop(l, res < 0 ? res : 0);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

void loop_will_block(void)
{
	struct loop *l;

	if (!self || !leading)
		return;
	l = self->loop;
	leading = false;
	pthread_mutex_lock(&l->lock);
	l->lead_taken = false;
	/* With every thread busy and no room for another, the next thread
	 * done with its request reads: the wait holds the others up. */
	if (l->idle)
		pthread_cond_signal(&l->follow);
	else if (!l->exit && l->threads < l->max_threads)
		start_worker(l);
	pthread_mutex_unlock(&l->lock);
}

int loop_run(struct fuse *fuse, unsigned max_threads)
{
	struct fuse_session *se = fuse_get_session(fuse);
	struct loop l = {.se = se,
			 .max_threads = max_threads ? max_threads : 1};
	struct worker *w;
	bool done;
	int err, sig;

	if (fuse_start_cleanup_thread(fuse) != 0)
		return -ENOMEM;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.follow, NULL);
	sem_init(&l.finish, 0, 0);
	pthread_mutex_lock(&l.lock);
	err = start_worker(&l);
	pthread_mutex_unlock(&l.lock);
	if (!err) {
		/* sem_wait returns early on a signal: its handler ended the
		 * session, which the loop checks. */
		for (;;) {
			pthread_mutex_lock(&l.lock);
			done = l.exit;
			pthread_mutex_unlock(&l.lock);
			if (done || fuse_session_exited(se))
				break;
			sem_wait(&l.finish);
		}
		pthread_mutex_lock(&l.lock);
		end_loop(&l, 0);
		/* Only a thread blocked in read() can be cancelled. */
		for (w = l.workers; w; w = w->next)
			pthread_cancel(w->id);
		pthread_mutex_unlock(&l.lock);
		while ((w = l.workers)) {
			pthread_join(w->id, NULL);
			l.workers = w->next;
			free(w->buf.mem);
			free(w);
		}
		err = l.error;
	}
	pthread_cond_destroy(&l.follow);
	pthread_mutex_destroy(&l.lock);
	sem_destroy(&l.finish);
	fuse_stop_cleanup_thread(fuse);
	/* The signal that ended the session is libfuse's own to tell:
	 * fuse_session_loop of a session that has ended reads nothing, and
	 * returns it (and resets the session, as libfuse's loops do). */
	sig = fuse_session_loop(se);
	return sig > 0 ? sig : err;
}
