/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket's clients, and the operations they ask for. */
#ifndef NETD_CONTROL_H
#define NETD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "netd/netd.h"
#include "netd/proto.h"

struct chunk;

struct client {
	struct client *next;
	struct netd *netd;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t groups[64];	/* supplementary groups (SO_PEERGROUPS) */
	size_t n_groups;
	char *in;
	size_t in_len, in_cap;
	struct chunk *out_head, *out_tail;
	size_t queued;
	bool subscribed;
	bool pending;		/* complete request lines wait in `in` */
	bool closing;		/* close once the queue is flushed */
	bool dead;		/* closed; freed by control_reap() */
	struct source src;
};

int control_open(struct netd *d);
void control_close(struct netd *d);
void control_accept(struct netd *d);
void control_reap(struct netd *d);
void control_run_pending(struct netd *d);
void control_broadcast(struct netd *d, const char *name, json_object *ev);

void client_event(struct client *c, uint32_t events);
void client_send(struct client *c, char *line, const int *fds, size_t n_fds);
void client_error(struct client *c, json_object *id, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void client_close(struct client *c);

/* ops.c */
void ops_dispatch(struct client *c, const struct proto_request *req);

#endif
