/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control protocol's codec, fd passing and client side (see proto.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "netd/proto.h"

int proto_parse_request(const char *line, size_t len, struct proto_request *req,
			const char **ret_code, char *msg, size_t msglen)
{
	struct json_tokener *tok;
	json_object *root, *op = NULL, *args = NULL;
	enum json_tokener_error jerr;

	memset(req, 0, sizeof(*req));
	if (len > PROTO_MAX_LINE) {
		*ret_code = E_TOO_LARGE;
		snprintf(msg, msglen, "request longer than %d bytes", PROTO_MAX_LINE);
		return -EINVAL;
	}
	if (memchr(line, '\0', len)) {
		*ret_code = E_BAD_REQUEST;
		snprintf(msg, msglen, "request contains a NUL byte");
		return -EINVAL;
	}
	tok = json_tokener_new_ex(32);
	if (!tok) {
		*ret_code = E_FAILED;
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	root = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	if (root && jerr == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
		/* Trailing garbage after the object (other than blanks). */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
				jerr = json_tokener_error_parse_unexpected;
	}
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		json_object_put(root);
		*ret_code = E_BAD_REQUEST;
		snprintf(msg, msglen, "not valid JSON: %s",
			 jerr == json_tokener_continue ? "incomplete object" : json_tokener_error_desc(jerr));
		return -EINVAL;
	}
	req->root = root;
	if (!json_object_is_type(root, json_type_object)) {
		*ret_code = E_BAD_REQUEST;
		snprintf(msg, msglen, "a request is a JSON object with \"id\", \"op\" and \"args\"");
		goto fail;
	}
	if (json_object_object_get_ex(root, "id", &req->id) &&
	    !json_object_is_type(req->id, json_type_int) &&
	    !json_object_is_type(req->id, json_type_string) &&
	    !json_object_is_type(req->id, json_type_null)) {
		req->id = NULL;
		*ret_code = E_BAD_REQUEST;
		snprintf(msg, msglen, "\"id\" must be a number or a string");
		goto fail;
	}
	if (!json_object_object_get_ex(root, "op", &op) || !json_object_is_type(op, json_type_string)) {
		*ret_code = E_BAD_REQUEST;
		snprintf(msg, msglen, "\"op\" must be a string naming the operation");
		goto fail;
	}
	req->op = json_object_get_string(op);
	if (strlen(req->op) != (size_t)json_object_get_string_len(op)) {
		req->op = NULL;
		*ret_code = E_BAD_REQUEST;
		snprintf(msg, msglen, "\"op\" contains a NUL byte");
		goto fail;
	}
	if (json_object_object_get_ex(root, "args", &args) && !json_object_is_type(args, json_type_null)) {
		if (!json_object_is_type(args, json_type_object)) {
			*ret_code = E_BAD_REQUEST;
			snprintf(msg, msglen, "\"args\" must be an object");
			goto fail;
		}
		req->args = args;
	} else {
		req->args = json_object_new_object();
		if (!req->args || json_object_object_add(root, "args", req->args) < 0) {
			*ret_code = E_FAILED;
			snprintf(msg, msglen, "out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	/* Keep root alive so req->id stays valid for the error reply. */
	req->op = NULL;
	req->args = NULL;
	return -EINVAL;
}

void proto_request_done(struct proto_request *req)
{
	json_object_put(req->root);
	memset(req, 0, sizeof(*req));
}

static json_object *get_arg(json_object *args, const char *key)
{
	json_object *v = NULL;

	if (!args || !json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

int proto_arg_string(json_object *args, const char *key, const char **ret, char *msg, size_t msglen)
{
	json_object *v = get_arg(args, key);

	*ret = NULL;
	if (!v)
		return -ENOENT;
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(msg, msglen, "argument \"%s\" must be a string", key);
		return -EINVAL;
	}
	*ret = json_object_get_string(v);
	if (strlen(*ret) != (size_t)json_object_get_string_len(v)) {
		snprintf(msg, msglen, "argument \"%s\" contains a NUL byte", key);
		return -EINVAL;
	}
	return 0;
}

int proto_arg_uint(json_object *args, const char *key, uint32_t max, uint32_t *ret, char *msg,
		   size_t msglen)
{
	json_object *v = get_arg(args, key);
	int64_t n;

	if (!v)
		return -ENOENT;
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(msg, msglen, "argument \"%s\" must be an integer", key);
		return -EINVAL;
	}
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max) {
		snprintf(msg, msglen, "argument \"%s\" must be 0-%u", key, max);
		return -EINVAL;
	}
	*ret = (uint32_t)n;
	return 0;
}

int proto_args_check(json_object *args, const char *const *allowed, char *msg, size_t msglen)
{
	json_object_object_foreach(args, key, val) {
		bool ok = false;

		(void)val;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, key) == 0;
		if (!ok) {
			snprintf(msg, msglen, "unknown argument \"%.64s\"", key);
			return -EINVAL;
		}
	}
	return 0;
}

static char *to_line(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	char *line = NULL;

	if (s && asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	return line;
}

static json_object *reply_head(json_object *id, bool ok)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "id", id ? json_object_get(id) : NULL);
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	return o;
}

char *proto_reply_ok(json_object *id, json_object *result)
{
	json_object *o = reply_head(id, true);
	char *line;

	if (!o) {
		json_object_put(result);
		return NULL;
	}
	json_object_object_add(o, "result", result ? result : json_object_new_object());
	line = to_line(o);
	json_object_put(o);
	return line;
}

char *proto_reply_error(json_object *id, const char *code, const char *message)
{
	json_object *o = reply_head(id, false), *e = json_object_new_object();
	char *line;

	if (!o || !e) {
		json_object_put(o);
		json_object_put(e);
		return NULL;
	}
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(o, "error", e);
	line = to_line(o);
	json_object_put(o);
	return line;
}

char *proto_event(const char *name, json_object *ev)
{
	char *line;

	if (!ev)
		return NULL;
	json_object_object_add(ev, "event", json_object_new_string(name));
	line = to_line(ev);
	json_object_put(ev);
	return line;
}

ssize_t proto_send(int sock, const char *buf, size_t len, const int *fds, size_t n_fds)
{
	char ctl[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_fds > PROTO_MAX_FDS)
		return -EINVAL;
	if (n_fds) {
		struct cmsghdr *cm;

		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

ssize_t proto_recv(int sock, char *buf, size_t len, int *fds, size_t max, size_t *ret_n_fds)
{
	char ctl[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof(ctl) };
	ssize_t n;

	*ret_n_fds = 0;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*ret_n_fds < max)
				fds[(*ret_n_fds)++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

/* Client */

struct proto_client {
	int fd;
	char *buf;
	size_t len, cap;
	int fds[PROTO_MAX_FDS];
	size_t n_fds;
	int64_t next_id;
};

const char *proto_socket_path(const char *path)
{
	const char *env = getenv("NETD_SOCKET");

	if (path && *path)
		return path;
	if (env && *env)
		return env;
	return PROTO_DEFAULT_SOCKET;
}

int proto_client_open(const char *path, struct proto_client **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proto_client *c;

	path = proto_socket_path(path);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cap = PROTO_MAX_LINE;
	c->buf = malloc(c->cap);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!c->buf || c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = c->buf ? -errno : -ENOMEM;

		proto_client_close(c);
		return r;
	}
	c->next_id = 1;
	*ret = c;
	return 0;
}

struct proto_client *proto_client_close(struct proto_client *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0)
		close(c->fd);
	for (size_t i = 0; i < c->n_fds; i++)
		close(c->fds[i]);
	free(c->buf);
	free(c);
	return NULL;
}

/* Make room for more input: replies may be longer than requests. */
static int client_grow(struct proto_client *c)
{
	size_t cap = c->cap * 2 < PROTO_MAX_REPLY ? c->cap * 2 : PROTO_MAX_REPLY;
	char *b;

	if (c->cap >= PROTO_MAX_REPLY)
		return -EPROTO;
	b = realloc(c->buf, cap);
	if (!b)
		return -ENOMEM;
	c->buf = b;
	c->cap = cap;
	return 0;
}

/* Read until a whole line is buffered; fds that arrive are kept in c->fds. */
static int client_read_line(struct proto_client *c, char **ret_line, size_t *ret_len)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = memchr(c->buf + scanned, '\n', c->len - scanned);
		size_t got;
		ssize_t n;
		int r;

		if (nl) {
			*ret_line = c->buf;
			*ret_len = (size_t)(nl - c->buf);
			return 0;
		}
		scanned = c->len;
		if (c->len == c->cap && (r = client_grow(c)) < 0)
			return r;
		n = proto_recv(c->fd, c->buf + c->len, c->cap - c->len,
			       c->fds + c->n_fds, PROTO_MAX_FDS - c->n_fds, &got);
		if (n < 0 && n != -EINTR)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
		if (n > 0)
			c->len += (size_t)n;
		c->n_fds += got;
	}
}

static void client_consume(struct proto_client *c, size_t line_len)
{
	memmove(c->buf, c->buf + line_len + 1, c->len - line_len - 1);
	c->len -= line_len + 1;
}

static int client_next_object(struct proto_client *c, json_object **ret)
{
	char *line = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	r = client_read_line(c, &line, &len);
	if (r < 0)
		return r;
	line[len] = '\0';	/* over the newline */
	*ret = json_tokener_parse(line);
	client_consume(c, len);
	if (!*ret || !json_object_is_type(*ret, json_type_object)) {
		json_object_put(*ret);
		*ret = NULL;
		return -EPROTO;
	}
	return 0;
}

/*
 * Write the request line.  A daemon that refuses the connection answers
 * and closes it at once: on EPIPE the caller still reads that answer.
 */
static int client_write(struct proto_client *c, const char *s, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

static char *client_request_line(int64_t id, const char *op, json_object *args)
{
	json_object *req = json_object_new_object();
	char *line = NULL;

	if (!req) {
		json_object_put(args);
		return NULL;
	}
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "op", json_object_new_string(op));
	json_object_object_add(req, "args", args ? args : json_object_new_object());
	line = to_line(req);
	json_object_put(req);
	return line;
}

/* The next line that is not an event: the reply to request `want`. */
static int client_wait_reply(struct proto_client *c, int64_t want, json_object **ret)
{
	json_object *reply, *id;
	int r;

	for (;;) {
		r = client_next_object(c, &reply);
		if (r < 0)
			return r;
		if (!json_object_object_get_ex(reply, "event", NULL))
			break;
		json_object_put(reply);
	}
	if (json_object_object_get_ex(reply, "id", &id) && id &&
	    (!json_object_is_type(id, json_type_int) || json_object_get_int64(id) != want)) {
		json_object_put(reply);
		return -EPROTO;
	}
	*ret = reply;
	return 0;
}

int proto_client_call(struct proto_client *c, const char *op, json_object *args,
		      json_object **ret, int *fds, size_t max_fds, size_t *ret_n_fds)
{
	int64_t want = c->next_id++;
	char *line = client_request_line(want, op, args);
	int r;

	*ret = NULL;
	*ret_n_fds = 0;
	if (!line)
		return -ENOMEM;
	r = client_write(c, line, strlen(line));
	free(line);
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		return r;
	r = client_wait_reply(c, want, ret);
	for (size_t i = 0; i < c->n_fds; i++) {
		if (r == 0 && fds && *ret_n_fds < max_fds)
			fds[(*ret_n_fds)++] = c->fds[i];
		else
			close(c->fds[i]);
	}
	c->n_fds = 0;
	return r;
}

int proto_client_next(struct proto_client *c, json_object **ret)
{
	return client_next_object(c, ret);
}
