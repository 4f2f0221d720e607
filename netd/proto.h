/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control protocol: one JSON object per line each way over a Unix
 * stream socket (RUN_DIR/netd.sock), with file descriptors passed as
 * SCM_RIGHTS on the first byte of the reply that carries them.
 *
 *   request  {"id":1,"op":"network.list","args":{}}
 *   reply    {"id":1,"ok":true,"result":{...}}
 *            {"id":1,"ok":false,"error":{"code":"not-found","message":"..."}}
 *   event    {"event":"port.added", ...}   (after events.subscribe)
 *
 * This file is shared by the daemon, netdctl and netd-bridge-helper.
 */
#ifndef NETD_PROTO_H
#define NETD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#define PROTO_DEFAULT_SOCKET "/run/netd/netd.sock"
/* Longest request line the daemon reads; longer ones are refused. */
#define PROTO_MAX_LINE 65536
/*
 * Longest reply line a client accepts: replies (port.list, network.show)
 * grow with the number of ports and leases, so they may exceed
 * PROTO_MAX_LINE; the client's buffer grows up to this.
 */
#define PROTO_MAX_REPLY (16 << 20)
/* Most fds one reply carries (multiqueue TAPs). */
#define PROTO_MAX_FDS 16

/* Stable error codes. */
#define E_BAD_REQUEST "bad-request"	/* not JSON, or not a request object */
#define E_TOO_LARGE "too-large"		/* line longer than PROTO_MAX_LINE */
#define E_UNKNOWN_OP "unknown-op"
#define E_INVALID "invalid-argument"	/* missing or ill-typed or bad argument */
#define E_NOT_FOUND "not-found"
#define E_DENIED "permission-denied"
#define E_EXISTS "exists"
#define E_LIMIT "limit-exceeded"
#define E_STATE "bad-state"		/* e.g. network not running */
#define E_FAILED "failed"		/* the kernel or dnsmasq refused */

struct proto_request {
	json_object *root;	/* owns everything below */
	json_object *id;	/* NULL when absent: replies carry "id":null */
	const char *op;
	json_object *args;	/* always an object (empty when absent) */
};

/*
 * Parse one request line (without its newline).  On failure returns
 * -EINVAL and fills code/message for the error reply; req->id is set when
 * it could be recovered so the reply can carry it.
 */
int proto_parse_request(const char *line, size_t len, struct proto_request *req,
			const char **ret_code, char *msg, size_t msglen);
void proto_request_done(struct proto_request *req);

/*
 * Argument getters: 0 and the value, -ENOENT when absent (or null),
 * -EINVAL when of the wrong type (message names the argument).
 */
int proto_arg_string(json_object *args, const char *key, const char **ret, char *msg, size_t msglen);
int proto_arg_uint(json_object *args, const char *key, uint32_t max, uint32_t *ret, char *msg,
		   size_t msglen);
/* Fail (-EINVAL) on any key of args not in the NULL-terminated list. */
int proto_args_check(json_object *args, const char *const *allowed, char *msg, size_t msglen);

/* Reply lines, malloc'd, newline-terminated.  Takes ownership of result. */
char *proto_reply_ok(json_object *id, json_object *result);
char *proto_reply_error(json_object *id, const char *code, const char *message);
/* An event line; takes ownership of ev (which gets "event": name). */
char *proto_event(const char *name, json_object *ev);

/* Send a buffer with fds on its first byte; -errno (EAGAIN when it would block). */
ssize_t proto_send(int sock, const char *buf, size_t len, const int *fds, size_t n_fds);
/*
 * Receive into buf; fds passed alongside are stored in fds (up to max),
 * their count in *ret_n_fds; extra fds beyond max are closed.  All fds
 * received are CLOEXEC.
 */
ssize_t proto_recv(int sock, char *buf, size_t len, int *fds, size_t max, size_t *ret_n_fds);

/* Client side. */
struct proto_client;

/* Socket path: path if given, else $NETD_SOCKET, else the default. */
const char *proto_socket_path(const char *path);
int proto_client_open(const char *path, struct proto_client **ret);
struct proto_client *proto_client_close(struct proto_client *c);	/* NULL-safe */
/*
 * Send one request (takes ownership of args; NULL for none) and wait for
 * its reply, skipping event lines (objects with an "event" member).  The
 * reply is the next other object; its "id" is ours or null (the daemon
 * answers a request it could not parse, or a connection it refuses, with
 * "id":null).  *ret is the reply object (caller puts it); fds that came
 * with it are stored in fds (at most max_fds, the rest closed) and counted
 * in *ret_n_fds.  -EPROTO on a malformed reply or a reply to another id,
 * -ECONNRESET when the daemon closed the connection without replying.
 */
int proto_client_call(struct proto_client *c, const char *op, json_object *args,
		      json_object **ret, int *fds, size_t max_fds, size_t *ret_n_fds);
/* Next line from the daemon (events after events.subscribe): parsed object. */
int proto_client_next(struct proto_client *c, json_object **ret);

#endif
