/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Deleting links off the event loop.
 *
 * The kernel waits for an RCU grace period when it unregisters a device:
 * ~15 ms per TAP here, so stopping a network with 1,000 ports would stall
 * the loop for 15 s.  The reaper is one thread with its own rtnetlink
 * socket.  It takes queued ifindexes in chunks, moves each into a private
 * link group (a quick RTM_SETLINK) and deletes the whole group with one
 * RTM_DELLINK, so the kernel waits for RCU once per chunk.  The main loop
 * learns of each deletion from its link monitor as usual.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "netd/log.h"
#include "netd/netd.h"
#include "netlink/rtnl.h"

/* Group the reaper moves doomed links into: no one else uses it. */
#define REAP_GROUP 0x6e656478u
#define REAP_CHUNK 64

struct reaper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int *queue;
	size_t n, cap;
	bool stopping;
	struct rtnl *rt;
};

static void reap_chunk(struct reaper *r, const int *ifindexes, size_t n)
{
	size_t marked = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		marked += rtnl_port_setup(r->rt, ifindexes[i],
					  &(struct rtnl_port_opts){ .group = REAP_GROUP }) == 0;
	if (!marked)
		return;
	err = rtnl_link_delete_group(r->rt, REAP_GROUP);
	if (err < 0)
		log_warn(NULL, "cannot delete %zu links: %s", marked, strerror(-err));
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
		n = r->n < REAP_CHUNK ? r->n : REAP_CHUNK;
		memcpy(chunk, r->queue + r->n - n, n * sizeof(int));
		r->n -= n;
		pthread_mutex_unlock(&r->lock);
		reap_chunk(r, chunk, n);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int reaper_start(struct reaper **ret)
{
	struct reaper *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = rtnl_open(&r->rt);
	if (err < 0) {
		free(r);
		return err;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	err = -pthread_create(&r->thread, NULL, reaper_main, r);
	if (err < 0) {
		rtnl_close(r->rt);
		free(r);
		return err;
	}
	*ret = r;
	return 0;
}

/* Queue links for deletion; falls back to deleting here if memory runs out. */
void reaper_delete(struct reaper *r, struct rtnl *rt, const int *ifindexes, size_t n)
{
	pthread_mutex_lock(&r->lock);
	if (r->n + n > r->cap) {
		size_t cap = (r->n + n) * 2;
		int *q = realloc(r->queue, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&r->lock);
			for (size_t i = 0; i < n; i++)
				(void)rtnl_link_delete(rt, ifindexes[i]);
			return;
		}
		r->queue = q;
		r->cap = cap;
	}
	memcpy(r->queue + r->n, ifindexes, n * sizeof(int));
	r->n += n;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
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
	rtnl_close(r->rt);
	free(r->queue);
	free(r);
	return NULL;
}
