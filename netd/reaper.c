/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Deleting links off the event loop.
 *
 * The kernel waits for an RCU grace period when it unregisters a device:
 * ~15 ms per TAP here, so stopping a network with 1,000 ports would stall
 * the loop for 15 s.  The reaper is one thread with its own rtnetlink
 * socket.  It takes queued ifindexes in chunks, first come first served,
 * moves each into a private link group (a quick RTM_SETLINK, which also
 * releases it from its bridge) and deletes the whole group with one
 * RTM_DELLINK, so the kernel waits for RCU once per chunk.  The main loop
 * learns of each deletion from its link monitor as usual; the links the
 * reaper could not delete are put back as they were (netd's port group,
 * their bridge) and reported through an eventfd (reaper_fd,
 * reaper_collect).
 *
 * Only the TAPs netd made go through here (they live in NETD_PORT_GROUP),
 * and the bridges of stopped networks, queued after their TAPs
 * (reaper_delete_bridge): deleting a bridge that still has 1,000 ports
 * releases each of them first, 400 ms of the loop.  A bridge is deleted on
 * its own (not through the group); it is empty by then.  Until it is gone,
 * reaper_wait_bridge() holds up whoever would take it for a bridge of the
 * same name; other bridges need not wait.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "netd/log.h"
#include "netd/netd.h"
#include "netlink/rtnl.h"

/* Group the reaper moves doomed links into: no one else uses it. */
#define REAP_GROUP 0x6e656478u
/*
 * Links per group delete.  The kernel holds the rtnl lock for the whole
 * request, and whoever else needs it (netd's own port.open) waits: here a
 * group delete of 1 TAP takes ~20 ms (the RCU wait), of 64 ~40 ms, of 256
 * ~120 ms, of 1,024 ~700 ms.  1,000 detaches take ~1.8 s with chunks of
 * 64, ~1.4 s with 256 and ~2.5-4 s with 16.
 */
#define REAP_CHUNK 64

struct reap_failure {
	int ifindex;
	int err;
};

struct reaper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int *queue;		/* FIFO: queue[0] goes first; -ifindex: a bridge */
	size_t n, cap;
	int deleting;		/* the bridge being deleted now, 0: none */
	pthread_cond_t done;	/* signalled when a bridge is gone */
	struct reap_failure *failed;	/* for reaper_collect() */
	size_t n_failed, cap_failed;
	bool stopping;
	int efd;		/* readable while failures wait */
	struct rtnl *rt;
};

struct doomed {
	int ifindex;
	int master;		/* its bridge before the reaper released it */
};

/* Into our group (which also releases it from its bridge). */
static int mark(struct rtnl *rt, int ifindex, struct doomed *ret)
{
	struct rtnl_link l;
	int err = rtnl_link_get_by_index(rt, ifindex, &l);

	if (err < 0)
		return err;
	*ret = (struct doomed){ .ifindex = ifindex, .master = l.master };
	return rtnl_port_setup(rt, ifindex, &(struct rtnl_port_opts){ .group = REAP_GROUP });
}

/*
 * Not deleted: back in NETD_PORT_GROUP (so a later chunk does not take it
 * along) and its bridge.  The kernel sets the group before the master, so
 * a bridge gone meanwhile does not keep the link in our group.
 */
static int unmark(struct rtnl *rt, const struct doomed *x)
{
	return rtnl_port_setup(rt, x->ifindex, &(struct rtnl_port_opts){
				       .group = NETD_PORT_GROUP, .master = x->master });
}

/*
 * Delete up to REAP_CHUNK links with one group delete.  A link already
 * gone is not a failure; one that stays is put back as it was and
 * reported to fail().
 */
static void reap_chunk(struct rtnl *rt, const int *ifindexes, size_t n, reaper_fail_cb fail,
		       void *data)
{
	struct doomed marked[REAP_CHUNK];
	size_t n_marked = 0;
	int err;

	for (size_t i = 0; i < n; i++) {
		err = mark(rt, ifindexes[i], &marked[n_marked]);
		if (err == 0)
			n_marked++;
		else if (err != -ENODEV)
			fail(ifindexes[i], err, data);
	}
	if (!n_marked)
		return;
	err = rtnl_link_delete_group(rt, REAP_GROUP);
	if (err == 0)
		return;
	for (size_t i = 0; i < n_marked; i++)
		if (unmark(rt, &marked[i]) != -ENODEV)
			fail(marked[i].ifindex, err, data);
}

void reaper_delete_now(struct rtnl *rt, const int *ifindexes, size_t n, reaper_fail_cb fail,
		       void *data)
{
	for (size_t i = 0; i < n; i += REAP_CHUNK)
		reap_chunk(rt, ifindexes + i, n - i < REAP_CHUNK ? n - i : REAP_CHUNK, fail, data);
}

/* In the thread: keep the failure for the loop and wake it. */
static void record_failure(int ifindex, int err, void *data)
{
	struct reaper *r = data;
	uint64_t one = 1;

	pthread_mutex_lock(&r->lock);
	if (r->n_failed == r->cap_failed) {
		size_t cap = r->cap_failed ? r->cap_failed * 2 : 16;
		struct reap_failure *f = realloc(r->failed, cap * sizeof(*f));

		if (!f) {
			pthread_mutex_unlock(&r->lock);
			log_warn(NULL, "cannot delete link %d: %s", ifindex, strerror(-err));
			return;
		}
		r->failed = f;
		r->cap_failed = cap;
	}
	r->failed[r->n_failed++] = (struct reap_failure){ .ifindex = ifindex, .err = err };
	pthread_mutex_unlock(&r->lock);
	(void)!write(r->efd, &one, sizeof(one));
}

static void *reaper_main(void *arg)
{
	struct reaper *r = arg;
	int chunk[REAP_CHUNK];

	pthread_mutex_lock(&r->lock);
	for (;;) {
		size_t n;

		while (!r->n && !r->stopping)
			pthread_cond_wait(&r->cond, &r->lock);
		if (!r->n && r->stopping)
			break;
		if (r->queue[0] < 0) {
			int bridge = -r->queue[0], err;

			memmove(r->queue, r->queue + 1, (r->n - 1) * sizeof(int));
			r->n--;
			r->deleting = bridge;
			pthread_mutex_unlock(&r->lock);
			err = rtnl_link_delete(r->rt, bridge);
			if (err < 0 && err != -ENODEV)
				record_failure(bridge, err, r);
			pthread_mutex_lock(&r->lock);
			r->deleting = 0;
			pthread_cond_broadcast(&r->done);
			continue;
		}
		/* TAPs up to the next bridge, REAP_CHUNK at most */
		for (n = 0; n < r->n && n < REAP_CHUNK && r->queue[n] > 0; n++)
			;
		memcpy(chunk, r->queue, n * sizeof(int));
		memmove(r->queue, r->queue + n, (r->n - n) * sizeof(int));
		r->n -= n;
		pthread_mutex_unlock(&r->lock);
		reap_chunk(r->rt, chunk, n, record_failure, r);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static struct reaper *reaper_free(struct reaper *r)
{
	if (r->efd >= 0)
		close(r->efd);
	rtnl_close(r->rt);
	free(r->queue);
	free(r->failed);
	free(r);
	return NULL;
}

int reaper_start(struct reaper **ret)
{
	struct reaper *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		err = -errno;
		free(r);
		return err;
	}
	err = rtnl_open(&r->rt);
	if (err < 0) {
		reaper_free(r);
		return err;
	}
	/*
	 * Links left in our group were being deleted when a netd stopped
	 * (crash): finish the job before anyone adopts them as ports.
	 */
	(void)rtnl_link_delete_group(r->rt, REAP_GROUP);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_cond_init(&r->done, NULL);
	err = -pthread_create(&r->thread, NULL, reaper_main, r);
	if (err < 0) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		pthread_cond_destroy(&r->done);
		reaper_free(r);
		return err;
	}
	*ret = r;
	return 0;
}

/*
 * Append n entries (TAPs, or one -ifindex for a bridge) and wake the
 * thread; false, with nothing queued, when memory runs out.
 */
static bool enqueue(struct reaper *r, const int *entries, size_t n)
{
	pthread_mutex_lock(&r->lock);
	if (r->n + n > r->cap) {
		size_t cap = (r->n + n) * 2;
		int *q = realloc(r->queue, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&r->lock);
			return false;
		}
		r->queue = q;
		r->cap = cap;
	}
	memcpy(r->queue + r->n, entries, n * sizeof(int));
	r->n += n;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return true;
}

/* Queue links for deletion; falls back to deleting here if memory runs out. */
void reaper_delete(struct reaper *r, struct rtnl *rt, const int *ifindexes, size_t n)
{
	if (!enqueue(r, ifindexes, n))
		for (size_t i = 0; i < n; i++)
			(void)rtnl_link_delete(rt, ifindexes[i]);
}

/* A stopped network's bridge, after the TAPs queued so far. */
void reaper_delete_bridge(struct reaper *r, struct rtnl *rt, int ifindex)
{
	int neg = -ifindex;

	if (!enqueue(r, &neg, 1))
		(void)rtnl_link_delete(rt, ifindex);
}

/* Is bridge ifindex queued or being deleted?  Under r->lock. */
static bool bridge_doomed(const struct reaper *r, int ifindex)
{
	if (r->deleting == ifindex)
		return true;
	for (size_t i = 0; i < r->n; i++)
		if (r->queue[i] == -ifindex)
			return true;
	return false;
}

bool reaper_wait_bridge(struct reaper *r, int ifindex)
{
	bool waited = false;

	if (!r || ifindex <= 0)
		return false;
	pthread_mutex_lock(&r->lock);
	while (bridge_doomed(r, ifindex)) {
		waited = true;
		pthread_cond_wait(&r->done, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return waited;
}

int reaper_fd(const struct reaper *r)
{
	return r->efd;
}

/* In the loop: hand the failures recorded so far to cb, outside the lock. */
void reaper_collect(struct reaper *r, reaper_fail_cb cb, void *data)
{
	struct reap_failure *failed;
	uint64_t count;
	size_t n;

	(void)!read(r->efd, &count, sizeof(count));
	pthread_mutex_lock(&r->lock);
	failed = r->failed;
	n = r->n_failed;
	r->failed = NULL;
	r->n_failed = r->cap_failed = 0;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < n; i++)
		cb(failed[i].ifindex, failed[i].err, data);
	free(failed);
}

/* Finish what is queued, then stop the thread. */
struct reaper *reaper_stop(struct reaper *r)
{
	if (!r)
		return NULL;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	pthread_cond_destroy(&r->done);
	return reaper_free(r);
}
