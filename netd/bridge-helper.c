/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netd-bridge-helper: a drop-in for QEMU's bridge helper
 * (-netdev bridge,br=NET,helper=PATH).  QEMU runs it as
 * "PATH --use-vnet --fd=N --br=NAME", N being its end of a socketpair.
 * The helper asks netd for a port on NAME (a network, or its bridge
 * device), and passes the one TAP fd netd sends back to QEMU as a 1-byte
 * message with SCM_RIGHTS.
 *
 * It needs no privilege of its own: netd decides from the helper's
 * credentials (which are QEMU's user) and the network's [Access].  On any
 * failure it prints one line on stderr, sends QEMU nothing and exits 1.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netd/proto.h"

/* How long to wait for QEMU's socket to take our message. */
#define SEND_TIMEOUT_MS 10000

struct helper {
	const char *br;
	const char *socket;
	int fd;			/* QEMU's end of the socketpair */
};

static const char usage_text[] =
	"Usage: netd-bridge-helper [--use-vnet] --fd=N --br=NAME [--socket PATH]\n"
	"\n"
	"QEMU's bridge helper, for -netdev bridge,br=NAME,helper=PATH: asks netd for\n"
	"a port on network NAME (or the network whose bridge is NAME) and passes the\n"
	"TAP's fd to QEMU over fd N.  netd decides who may use which network\n"
	"([Access] in the network's file); the helper needs no privileges.\n"
	"\n"
	"  --fd=N          the socket to send the TAP fd on (given by QEMU)\n"
	"  --br=NAME       network name or bridge device name\n"
	"  --use-vnet      accepted; netd's TAPs always have a vnet header\n"
	"  --socket PATH   netd's control socket (default " PROTO_DEFAULT_SOCKET
	", or $NETD_SOCKET)\n";

static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("netd-bridge-helper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* "--name=VALUE" or "--name VALUE": 1 and the value, 0 if not this option, -1 if no value. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **ret)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len) != 0)
		return 0;
	if (argv[*i][len] == '=') {
		*ret = argv[*i] + len + 1;
		return 1;
	}
	if (argv[*i][len] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*ret = argv[++*i];
	return 1;
}

static int parse_fd(const char *s, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v > INT_MAX)
		return fail("--fd=%s: not a file descriptor number", s);
	*ret = (int)v;
	return 0;
}

/* One argument at argv[*i]: 0, -1 for --help, else the exit status. */
static int parse_one(struct helper *h, int argc, char **argv, int *i)
{
	static const char *const names[] = { "--fd", "--br", "--socket" };
	const char *fd = NULL, **dest[] = { &fd, &h->br, &h->socket };

	if (strcmp(argv[*i], "--use-vnet") == 0)
		return 0;
	if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0)
		return -1;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		int r = opt_value(argc, argv, i, names[k], dest[k]);

		if (r < 0)
			return fail("%s needs a value", names[k]);
		if (r > 0)
			return fd ? parse_fd(fd, &h->fd) : 0;
	}
	return fail("unknown argument \"%s\" (try --help)", argv[*i]);
}

static int parse_args(struct helper *h, int argc, char **argv)
{
	struct stat st;

	for (int i = 1; i < argc; i++) {
		int r = parse_one(h, argc, argv, &i);

		if (r)
			return r;
	}
	if (h->fd < 0)
		return fail("--fd=N is required: it is how QEMU runs the helper");
	if (!h->br || !*h->br)
		return fail("--br=NAME is required (a netd network or its bridge)");
	if (fstat(h->fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return fail("--fd=%d is not an open socket", h->fd);
	return 0;
}

/* The daemon's error message (one line, control characters masked). */
static int daemon_error(const struct helper *h, json_object *reply)
{
	json_object *err = NULL, *msg = NULL;
	char *s;

	if (json_object_object_get_ex(reply, "error", &err))
		json_object_object_get_ex(err, "message", &msg);
	if (!json_object_is_type(msg, json_type_string))
		return fail("netd refused a port on %s without saying why", h->br);
	s = strdup(json_object_get_string(msg));
	if (!s)
		return fail("out of memory");
	for (char *p = s; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	fail("%s", s);
	free(s);
	return 1;
}

static int call_error(const struct helper *h, int r)
{
	return fail("%s: %s", proto_socket_path(h->socket),
		    r == -ECONNRESET ? "netd closed the connection" :
		    r == -EPROTO ? "malformed reply from netd" : strerror(-r));
}

/* port.open on h->br: 0 and the TAP's fd, else the exit status. */
static int open_port(const struct helper *h, struct proto_client *c, int *ret_tap)
{
	json_object *args = json_object_new_object(), *reply = NULL, *ok = NULL;
	int fds[PROTO_MAX_FDS];
	size_t n_fds = 0;
	int r;

	if (!args || json_object_object_add(args, "network", json_object_new_string(h->br)) < 0) {
		json_object_put(args);
		return fail("out of memory");
	}
	r = proto_client_call(c, "port.open", args, &reply, fds, PROTO_MAX_FDS, &n_fds);
	if (r < 0)
		return call_error(h, r);
	json_object_object_get_ex(reply, "ok", &ok);
	if (!json_object_is_type(ok, json_type_boolean) || !json_object_get_boolean(ok))
		r = daemon_error(h, reply);
	else if (n_fds != 1)
		r = fail("netd sent %zu file descriptors for a port on %s, expected 1", n_fds, h->br);
	json_object_put(reply);
	if (r == 0) {
		*ret_tap = fds[0];
		return 0;
	}
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	return r;
}

/* QEMU's recv_fd(): one byte carrying one fd. */
static int send_tap(const struct helper *h, int tap)
{
	for (;;) {
		struct pollfd p = { .fd = h->fd, .events = POLLOUT };
		ssize_t n = proto_send(h->fd, "", 1, &tap, 1);

		if (n == 1)
			return 0;
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN && poll(&p, 1, SEND_TIMEOUT_MS) > 0)
			continue;
		return fail("cannot pass the TAP to QEMU on fd %d: %s", h->fd,
			    n == -EAGAIN ? "timed out" : strerror(n < 0 ? (int)-n : EIO));
	}
}

int main(int argc, char **argv)
{
	struct helper h = { .fd = -1 };
	struct proto_client *c = NULL;
	int r, tap = -1;

	r = parse_args(&h, argc, argv);
	if (r < 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (r)
		return r;
	r = proto_client_open(h.socket, &c);
	if (r < 0)
		return fail("cannot connect to %s: %s%s", proto_socket_path(h.socket), strerror(-r),
			    r == -ENOENT || r == -ECONNREFUSED ? " (is netd running?)" : "");
	r = open_port(&h, c, &tap);
	proto_client_close(c);
	if (r == 0) {
		r = send_tap(&h, tap);
		close(tap);
	}
	close(h.fd);
	return r;
}
