/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket: accept, read lines, dispatch, queue replies.
 *
 * Every client is non-blocking and served from the one epoll loop.  Input
 * is buffered up to PROTO_MAX_LINE; a longer line gets a too-large error
 * and the connection is closed.  Output is a queue of chunks, each with the
 * fds that must ride on its first byte; a client that stops reading is cut
 * off once its queue passes a bound, so it cannot make netd hoard memory.
 * Clients are freed only after the current epoll dispatch (see
 * control_reap()), so an event still pending for them is harmless.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "netd/control.h"
#include "netd/log.h"
#include "netd/netd.h"

#define MAX_CLIENTS 1024
#define MAX_CLIENTS_PER_USER 64	/* for uids other than 0 */
#define MAX_QUEUED (4u << 20)	/* bytes of unread output before a client is dropped */
#define LINES_PER_TURN 4	/* requests of one client per loop iteration */

struct chunk {
	struct chunk *next;
	char *data;
	size_t len, off;
	int fds[PROTO_MAX_FDS];
	size_t n_fds;
};

static void chunk_free(struct chunk *c)
{
	for (size_t i = 0; i < c->n_fds; i++)
		close(c->fds[i]);
	free(c->data);
	free(c);
}

static void client_update_events(struct client *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &c->src };

	if (c->out_head)
		ev.events |= EPOLLOUT;
	if (c->closing)
		ev.events = c->out_head ? EPOLLOUT : 0;
	(void)epoll_ctl(c->netd->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

void client_close(struct client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	netd_unwatch(c->netd, c->fd);
	close(c->fd);
	c->fd = -1;
	while (c->out_head) {
		struct chunk *n = c->out_head->next;

		chunk_free(c->out_head);
		c->out_head = n;
	}
	c->out_tail = NULL;
	c->netd->dead_clients = true;
}

static void client_flush(struct client *c)
{
	while (c->out_head) {
		struct chunk *ch = c->out_head;
		ssize_t n = proto_send(c->fd, ch->data + ch->off, ch->len - ch->off, ch->fds,
				       ch->off == 0 ? ch->n_fds : 0);

		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			log_debug(NULL, "client %d (uid %u): %s, closing", c->pid, c->uid, strerror((int)-n));
			client_close(c);
			return;
		}
		if (ch->off == 0) {
			/* The kernel holds the fds now; ours are not needed. */
			for (size_t i = 0; i < ch->n_fds; i++)
				close(ch->fds[i]);
			ch->n_fds = 0;
		}
		ch->off += (size_t)n;
		c->queued -= (size_t)n;
		if (ch->off < ch->len)
			break;
		c->out_head = ch->next;
		if (!c->out_head)
			c->out_tail = NULL;
		chunk_free(ch);
	}
	if (c->closing && !c->out_head) {
		client_close(c);
		return;
	}
	client_update_events(c);
}

/* Queue a line (takes ownership of line and fds) and try to send it now. */
void client_send(struct client *c, char *line, const int *fds, size_t n_fds)
{
	struct chunk *ch;

	if (c->dead || !line) {
		free(line);
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		return;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		free(line);
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		client_close(c);
		return;
	}
	ch->data = line;
	ch->len = strlen(line);
	if (n_fds)
		memcpy(ch->fds, fds, n_fds * sizeof(int));
	ch->n_fds = n_fds;
	if (c->out_tail)
		c->out_tail->next = ch;
	else
		c->out_head = ch;
	c->out_tail = ch;
	c->queued += ch->len;
	if (c->queued > MAX_QUEUED) {
		log_warn(NULL, "client %d (uid %u) does not read its replies; dropping it", c->pid, c->uid);
		client_close(c);
		return;
	}
	client_flush(c);
}

void client_error(struct client *c, json_object *id, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_send(c, proto_reply_error(id, code, msg), NULL, 0);
}

static void client_line(struct client *c, const char *line, size_t len)
{
	struct proto_request req;
	const char *code;
	char msg[512];

	if (proto_parse_request(line, len, &req, &code, msg, sizeof(msg)) < 0) {
		client_error(c, req.id, code, "%s", msg);
		proto_request_done(&req);
		return;
	}
	ops_dispatch(c, &req);
	proto_request_done(&req);
}

/*
 * Run up to LINES_PER_TURN complete request lines from the input buffer.
 * Returns true when complete lines are left: the client then waits its
 * turn (control_run_pending), so one client pipelining thousands of
 * requests cannot keep the others waiting.
 */
static bool client_process(struct client *c)
{
	size_t start = 0, done = 0;
	char *nl;

	while (!c->dead && !c->closing && done < LINES_PER_TURN &&
	       (nl = memchr(c->in + start, '\n', c->in_len - start))) {
		client_line(c, c->in + start, (size_t)(nl - (c->in + start)));
		start = (size_t)(nl - c->in) + 1;
		done++;
	}
	if (c->dead)
		return false;
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	c->pending = !c->closing && memchr(c->in, '\n', c->in_len) != NULL;
	if (c->pending)
		c->netd->pending_clients = true;
	return c->pending;
}

static void client_read(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->pending)
			return;	/* its buffered lines first */
		if (c->in_len == c->in_cap) {
			/* A full buffer without a newline: the line is too long. */
			client_error(c, NULL, E_TOO_LARGE, "request longer than %d bytes", PROTO_MAX_LINE);
			c->closing = true;
			client_flush(c);
			return;
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->in_len += (size_t)n;
		if (client_process(c) || c->dead || c->closing)
			return;
	}
}

/* Give clients with buffered requests their next turn (after each dispatch). */
void control_run_pending(struct netd *d)
{
	if (!d->pending_clients)
		return;
	d->pending_clients = false;
	for (struct client *c = d->clients; c; c = c->next) {
		if (c->dead || !c->pending)
			continue;
		if (!client_process(c) && !c->dead && !c->closing)
			client_read(c);	/* caught up: read what waits on the socket */
	}
}

void client_event(struct client *c, uint32_t events)
{
	if (c->dead)
		return;
	if (events & (EPOLLOUT | EPOLLERR))
		client_flush(c);
	if (!c->dead && !c->closing && (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)))
		client_read(c);
	if (!c->dead && (events & EPOLLHUP) && !(events & EPOLLIN))
		client_close(c);
}

static size_t clients_of(struct netd *d, uid_t uid)
{
	size_t n = 0;

	for (struct client *c = d->clients; c; c = c->next)
		n += !c->dead && c->uid == uid;
	return n;
}

static void accept_one(struct netd *d, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	if (d->n_clients >= MAX_CLIENTS ||
	    (cred.uid != 0 && clients_of(d, cred.uid) >= MAX_CLIENTS_PER_USER)) {
		char *line = proto_reply_error(NULL, E_LIMIT, "too many connections");

		if (line)
			(void)proto_send(fd, line, strlen(line), NULL, 0);
		free(line);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->in = malloc(PROTO_MAX_LINE + 1);
	if (!c || !c->in) {
		free(c);
		close(fd);
		return;
	}
	c->netd = d;
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->in_cap = PROTO_MAX_LINE + 1;
	c->src = (struct source){ .kind = SOURCE_CLIENT, .ptr = c };
	c->n_groups = sizeof(c->groups) / sizeof(c->groups[0]);
	len = (socklen_t)sizeof(c->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &len) < 0)
		c->n_groups = 0;
	else
		c->n_groups = len / sizeof(gid_t);
	if (netd_watch(d, fd, &c->src) < 0) {
		free(c->in);
		free(c);
		close(fd);
		return;
	}
	client_update_events(c);
	c->next = d->clients;
	d->clients = c;
	d->n_clients++;
}

void control_accept(struct netd *d)
{
	for (;;) {
		int fd = accept4(d->ctlfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn(NULL, "accept on the control socket: %m");
			return;
		}
		accept_one(d, fd);
	}
}

/* Free clients closed during the last dispatch. */
void control_reap(struct netd *d)
{
	struct client **pp = &d->clients;

	if (!d->dead_clients)
		return;
	d->dead_clients = false;
	while (*pp) {
		struct client *c = *pp;

		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		d->n_clients--;
		if (c->subscribed)
			d->n_subscribed--;
		ports_client_gone(d, c);	/* its port.detach still waiting */
		free(c->in);
		free(c);
	}
}

/* Send an event line to every subscriber. */
void control_broadcast(struct netd *d, const char *name, json_object *ev)
{
	char *line;

	if (!d->n_subscribed) {		/* nobody listens: not even serialised */
		json_object_put(ev);
		return;
	}
	line = proto_event(name, ev);

	if (!line)
		return;
	for (struct client *c = d->clients; c; c = c->next)
		if (!c->dead && c->subscribed)
			client_send(c, strdup(line), NULL, 0);
	free(line);
}

int control_open(struct netd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/netd.sock", d->run_dir) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* We hold the run directory's lock: a socket file there is a stale one. */
	unlink(sa.sun_path);
	old = umask(0111);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(sa.sun_path, 0666) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	d->ctlfd = fd;
	d->ctl_source = (struct source){ .kind = SOURCE_CONTROL };
	return netd_watch(d, fd, &d->ctl_source);
}

void control_close(struct netd *d)
{
	for (struct client *c = d->clients; c; c = c->next)
		client_close(c);
	control_reap(d);
	if (d->ctlfd >= 0) {
		char path[4096];

		close(d->ctlfd);
		d->ctlfd = -1;
		snprintf(path, sizeof(path), "%s/netd.sock", d->run_dir);
		unlink(path);
	}
}
