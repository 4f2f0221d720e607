/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the control protocol (netd/proto.c), no kernel objects:
 * the request parser and its error codes, reply and event lines, argument
 * getters, fd passing over a socketpair, and the client against a forked
 * stand-in daemon on a Unix socket in a temporary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netd/proto.h"

static int failures;
static char tmpdir[] = "/tmp/test-proto-XXXXXX";
static char last_msg[256];	/* the last parse error message */

#define CHECK(cond, ...) do {						\
		if (!(cond)) {						\
			failures++;					\
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
		}							\
	} while (0)

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v = member(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool str_is(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* A JSON value as compact text ("null" for NULL), for comparisons. */
static const char *text(json_object *v)
{
	return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";
}

/* Request parsing */

static void parse_ok(const char *line, const char *op, const char *id, const char *args)
{
	struct proto_request req;
	const char *code = NULL;
	char msg[256] = "";
	int r = proto_parse_request(line, strlen(line), &req, &code, msg, sizeof(msg));

	CHECK(r == 0, "parse %s: %d (%s)", line, r, msg);
	if (r == 0) {
		CHECK(str_is(req.op, op), "parse %s: op %s", line, req.op);
		CHECK(strcmp(text(req.id), id) == 0, "parse %s: id %s, want %s", line, text(req.id), id);
		CHECK(json_object_is_type(req.args, json_type_object), "parse %s: args not an object", line);
		CHECK(strcmp(text(req.args), args) == 0, "parse %s: args %s", line, text(req.args));
	}
	proto_request_done(&req);
	CHECK(!req.root && !req.op && !req.args, "proto_request_done clears the request");
}

/*
 * A bad request: the error code, a message, and the error reply built from
 * it carries the id when the parser could recover it ("null" otherwise).
 */
static void parse_bad(const char *what, const char *line, size_t len, const char *want_code,
		      const char *want_id)
{
	struct proto_request req;
	const char *code = NULL;
	char msg[256] = "";
	char *reply;
	json_object *o;
	int r = proto_parse_request(line, len, &req, &code, msg, sizeof(msg));

	CHECK(r == -EINVAL, "%s: returned %d", what, r);
	CHECK(str_is(code, want_code), "%s: code %s, want %s", what, code, want_code);
	CHECK(msg[0], "%s: no message", what);
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	CHECK(!req.op && !req.args, "%s: op/args left set", what);
	reply = proto_reply_error(req.id, code ? code : "?", msg);
	o = reply ? json_tokener_parse(reply) : NULL;
	CHECK(o && strcmp(text(member(o, "id")), want_id) == 0, "%s: reply id %s, want %s", what,
	      text(member(o, "id")), want_id);
	json_object_put(o);
	free(reply);
	proto_request_done(&req);
}

static void parse_bad_s(const char *what, const char *line, const char *want_code,
			const char *want_id)
{
	parse_bad(what, line, strlen(line), want_code, want_id);
}

static void test_parse_valid(void)
{
	printf("# proto_parse_request: valid requests\n");
	parse_ok("{\"id\":1,\"op\":\"network.list\",\"args\":{}}", "network.list", "1", "{}");
	parse_ok("{\"id\":\"abc\",\"op\":\"port.open\",\"args\":{\"network\":\"web\"}}", "port.open",
		 "\"abc\"", "{\"network\":\"web\"}");
	parse_ok("{\"op\":\"status\",\"args\":{}}", "status", "null", "{}");
	parse_ok("{\"id\":7,\"op\":\"status\"}", "status", "7", "{}");
	parse_ok("{\"id\":8,\"op\":\"status\",\"args\":null}", "status", "8", "{}");
	parse_ok("{\"id\":null,\"op\":\"status\"}", "status", "null", "{}");
	parse_ok("{\"id\":-3,\"op\":\"x\"} \t\r", "x", "-3", "{}");
	parse_ok("  {\"args\":{\"a\":[1,2]},\"op\":\"x\",\"id\":9}", "x", "9", "{\"a\":[1,2]}");
}

static void test_parse_too_large(void)
{
	static const char head[] = "{\"id\":1,\"op\":\"x\",\"args\":{\"pad\":\"";
	size_t len = PROTO_MAX_LINE + 1;
	char *line = malloc(len + 1);
	struct proto_request req;
	const char *code = NULL;
	char msg[256];

	if (!line) {
		CHECK(false, "out of memory");
		return;
	}
	/* A valid request of exactly PROTO_MAX_LINE bytes parses... */
	memset(line, 'a', len);
	memcpy(line, head, strlen(head));
	memcpy(line + PROTO_MAX_LINE - 3, "\"}}", 3);
	CHECK(proto_parse_request(line, PROTO_MAX_LINE, &req, &code, msg, sizeof(msg)) == 0,
	      "a request of PROTO_MAX_LINE bytes is accepted");
	proto_request_done(&req);
	/* ...and one byte more is too large. */
	memcpy(line + PROTO_MAX_LINE - 3, "a\"}}", 4);
	parse_bad("line > PROTO_MAX_LINE", line, len, E_TOO_LARGE, "null");
	CHECK(strstr(last_msg, "65536"), "too large: message %s", last_msg);
	free(line);
}

/* {"op":"x","args":{"a":[[...]]}} with `depth` brackets. */
static char *nested(int depth)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	fputs("{\"op\":\"x\",\"args\":{\"a\":", f);
	for (int i = 0; i < depth; i++)
		fputc('[', f);
	for (int i = 0; i < depth; i++)
		fputc(']', f);
	fputs("}}", f);
	fclose(f);
	return s;
}

static void test_parse_nesting(void)
{
	char *ok = nested(20), *deep = nested(40), *args = NULL;

	/* The args as parsed back: the line from "args": on, without the last brace. */
	if (ok)
		args = strndup(strstr(ok, ":{") + 1, strlen(strstr(ok, ":{") + 1) - 1);
	if (args)
		parse_ok(ok, "x", "null", args);
	free(args);
	if (deep)
		parse_bad_s("nesting deeper than 32", deep, E_BAD_REQUEST, "null");
	CHECK(ok && deep, "out of memory");
	free(ok);
	free(deep);
}

static void test_parse_invalid(void)
{
	static const char nul[] = "{\"id\":4,\"op\":\"st\0atus\"}";

	printf("# proto_parse_request: bad input and error codes\n");
	parse_bad_s("garbage", "hello world", E_BAD_REQUEST, "null");
	parse_bad_s("binary garbage", "\x01\xff\xfe{", E_BAD_REQUEST, "null");
	parse_bad_s("empty line", "", E_BAD_REQUEST, "null");
	parse_bad_s("truncated JSON", "{\"id\":1,\"op\":\"sta", E_BAD_REQUEST, "null");
	parse_bad_s("an array", "[1,2,3]", E_BAD_REQUEST, "null");
	parse_bad_s("a string", "\"status\"", E_BAD_REQUEST, "null");
	parse_bad_s("missing op", "{\"id\":2}", E_BAD_REQUEST, "2");
	parse_bad_s("op is a number", "{\"id\":3,\"op\":5}", E_BAD_REQUEST, "3");
	parse_bad_s("op is null", "{\"id\":\"q\",\"op\":null}", E_BAD_REQUEST, "\"q\"");
	parse_bad_s("args is an array", "{\"id\":5,\"op\":\"x\",\"args\":[1]}", E_BAD_REQUEST, "5");
	parse_bad_s("args is a string", "{\"id\":6,\"op\":\"x\",\"args\":\"a\"}", E_BAD_REQUEST, "6");
	parse_bad_s("id is a float", "{\"id\":1.5,\"op\":\"x\"}", E_BAD_REQUEST, "null");
	parse_bad_s("id is an object", "{\"id\":{},\"op\":\"x\"}", E_BAD_REQUEST, "null");
	parse_bad_s("id is a bool", "{\"id\":true,\"op\":\"x\"}", E_BAD_REQUEST, "null");
	parse_bad("NUL inside", nul, sizeof(nul) - 1, E_BAD_REQUEST, "null");
	CHECK(strstr(last_msg, "NUL"), "NUL inside: message %s", last_msg);
	/* Found by fuzz-request: an escaped NUL cut the op short. */
	parse_bad_s("op with an escaped NUL", "{\"id\":7,\"op\":\"status\\u0000junk\"}", E_BAD_REQUEST, "7");
	parse_bad_s("trailing garbage", "{\"id\":5,\"op\":\"x\"} junk", E_BAD_REQUEST, "null");
	parse_bad_s("two objects", "{\"id\":5,\"op\":\"x\"}{\"op\":\"y\"}", E_BAD_REQUEST, "null");
	test_parse_nesting();
	test_parse_too_large();
}

/* Reply and event lines */

/* One line ending in its only newline, parsed back. */
static json_object *line_object(const char *what, char *line)
{
	json_object *o;
	size_t len = line ? strlen(line) : 0;

	CHECK(line && len > 1 && line[len - 1] == '\n', "%s: not newline-terminated", what);
	CHECK(line && strchr(line, '\n') == line + len - 1, "%s: more than one line", what);
	o = line ? json_tokener_parse(line) : NULL;
	CHECK(json_object_is_type(o, json_type_object), "%s: not a JSON object: %s", what, line);
	free(line);
	return o;
}

static void test_replies(void)
{
	json_object *id = json_object_new_int(42), *sid = json_object_new_string("x\ny");
	json_object *res = json_object_new_object(), *ev = json_object_new_object(), *o;

	printf("# proto_reply_ok/error, proto_event: one line each, fields intact\n");
	json_object_object_add(res, "path", json_object_new_string("/run/netd/a\nb"));
	o = line_object("reply_ok", proto_reply_ok(id, res));
	CHECK(strcmp(text(member(o, "id")), "42") == 0, "reply_ok id %s", text(member(o, "id")));
	CHECK(json_object_get_boolean(member(o, "ok")) && member(o, "error") == NULL, "reply_ok ok");
	CHECK(str_is(str_member(member(o, "result"), "path"), "/run/netd/a\nb"), "reply_ok result");
	json_object_put(o);

	o = line_object("reply_ok(NULL, NULL)", proto_reply_ok(NULL, NULL));
	CHECK(json_object_object_get_ex(o, "id", NULL) && !member(o, "id"), "reply_ok: \"id\":null");
	CHECK(strcmp(text(member(o, "result")), "{}") == 0, "reply_ok: empty result is {}");
	json_object_put(o);

	o = line_object("reply_error", proto_reply_error(sid, E_NOT_FOUND, "no network\nnamed \"x\""));
	CHECK(str_is(str_member(o, "id"), "x\ny"), "reply_error id");
	CHECK(json_object_is_type(member(o, "ok"), json_type_boolean) &&
	      !json_object_get_boolean(member(o, "ok")), "reply_error ok:false");
	CHECK(str_is(str_member(member(o, "error"), "code"), E_NOT_FOUND), "reply_error code");
	CHECK(str_is(str_member(member(o, "error"), "message"), "no network\nnamed \"x\""),
	      "reply_error message");
	CHECK(!member(o, "result"), "reply_error has no result");
	json_object_put(o);

	json_object_object_add(ev, "ifname", json_object_new_string("netd-t0"));
	o = line_object("event", proto_event("port.added", ev));
	CHECK(str_is(str_member(o, "event"), "port.added"), "event name");
	CHECK(str_is(str_member(o, "ifname"), "netd-t0"), "event fields kept");
	CHECK(!member(o, "id") && !member(o, "ok"), "an event has no id/ok");
	json_object_put(o);
	CHECK(proto_event("x", NULL) == NULL, "proto_event(NULL) is NULL");
	json_object_put(id);
	json_object_put(sid);
}

/* Argument getters */

static void test_args_check(json_object *args)
{
	static const char *const allowed[] = { "network", "mac", "n", "s", "neg", "big", "huge",
					       "f", "nul", "nothing", "max", NULL };
	static const char *const few[] = { "network", NULL };
	json_object *empty = json_object_new_object();
	char msg[128] = "";

	CHECK(proto_args_check(args, allowed, msg, sizeof(msg)) == 0, "args_check: all allowed");
	CHECK(proto_args_check(args, few, msg, sizeof(msg)) == -EINVAL, "args_check: unknown key");
	CHECK(strstr(msg, "unknown argument") && strstr(msg, "\""), "args_check message: %s", msg);
	CHECK(proto_args_check(empty, few, msg, sizeof(msg)) == 0, "args_check: empty args");
	json_object_put(empty);
}

static void test_arg_string(json_object *args)
{
	const char *s = "junk";
	char msg[128] = "";

	CHECK(proto_arg_string(args, "network", &s, msg, sizeof(msg)) == 0 && str_is(s, "web"),
	      "arg_string: present");
	CHECK(proto_arg_string(args, "absent", &s, msg, sizeof(msg)) == -ENOENT && !s,
	      "arg_string: missing is -ENOENT");
	CHECK(proto_arg_string(args, "nothing", &s, msg, sizeof(msg)) == -ENOENT,
	      "arg_string: null is -ENOENT");
	CHECK(proto_arg_string(args, "n", &s, msg, sizeof(msg)) == -EINVAL && strstr(msg, "\"n\""),
	      "arg_string: a number is -EINVAL naming it (%s)", msg);
	CHECK(proto_arg_string(args, "nul", &s, msg, sizeof(msg)) == -EINVAL && strstr(msg, "NUL"),
	      "arg_string: embedded NUL is -EINVAL (%s)", msg);
	CHECK(proto_arg_string(NULL, "network", &s, msg, sizeof(msg)) == -ENOENT,
	      "arg_string: no args object");
}

static void test_arg_uint(json_object *args)
{
	uint32_t v = 0;
	char msg[128] = "";

	CHECK(proto_arg_uint(args, "n", 10, &v, msg, sizeof(msg)) == 0 && v == 5, "arg_uint: 5 <= 10");
	CHECK(proto_arg_uint(args, "n", 5, &v, msg, sizeof(msg)) == 0 && v == 5, "arg_uint: max is inclusive");
	CHECK(proto_arg_uint(args, "n", 4, &v, msg, sizeof(msg)) == -EINVAL && strstr(msg, "0-4"),
	      "arg_uint: above max (%s)", msg);
	CHECK(proto_arg_uint(args, "neg", 10, &v, msg, sizeof(msg)) == -EINVAL, "arg_uint: negative");
	CHECK(proto_arg_uint(args, "max", UINT32_MAX, &v, msg, sizeof(msg)) == 0 && v == UINT32_MAX,
	      "arg_uint: UINT32_MAX");
	CHECK(proto_arg_uint(args, "big", UINT32_MAX, &v, msg, sizeof(msg)) == -EINVAL,
	      "arg_uint: 2^32 does not wrap");
	CHECK(proto_arg_uint(args, "huge", UINT32_MAX, &v, msg, sizeof(msg)) == -EINVAL,
	      "arg_uint: 2^64-1 does not wrap");
	CHECK(proto_arg_uint(args, "s", 10, &v, msg, sizeof(msg)) == -EINVAL && strstr(msg, "\"s\""),
	      "arg_uint: a string is -EINVAL naming it (%s)", msg);
	CHECK(proto_arg_uint(args, "f", 10, &v, msg, sizeof(msg)) == -EINVAL, "arg_uint: a float");
	CHECK(proto_arg_uint(args, "absent", 10, &v, msg, sizeof(msg)) == -ENOENT, "arg_uint: missing");
	CHECK(proto_arg_uint(args, "nothing", 10, &v, msg, sizeof(msg)) == -ENOENT, "arg_uint: null");
}

static void test_args(void)
{
	static const char text_args[] =
		"{\"network\":\"web\",\"n\":5,\"s\":\"5\",\"neg\":-1,\"big\":4294967296,"
		"\"huge\":18446744073709551615,\"f\":1.5,\"nul\":\"a\\u0000b\",\"nothing\":null,"
		"\"max\":4294967295}";
	json_object *args = json_tokener_parse(text_args);

	printf("# proto_args_check, proto_arg_string, proto_arg_uint\n");
	CHECK(args, "test arguments parse");
	if (!args)
		return;
	test_args_check(args);
	test_arg_string(args);
	test_arg_uint(args);
	json_object_put(args);
}

/* fd passing */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A fresh (unlinked) file in the test directory. */
static int make_file(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "%s/f-XXXXXX", tmpdir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static bool is_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & FD_CLOEXEC);
}

/* Send n fds with "abc", receive them: valid, CLOEXEC, the same files. */
static void pass_fds(int sv[2], const int *files, size_t n)
{
	int got[PROTO_MAX_FDS];
	char buf[16] = "";
	size_t n_got = 99;
	ssize_t r;

	CHECK(proto_send(sv[0], "abc", 3, files, n) == 3, "send %zu fds", n);
	r = proto_recv(sv[1], buf, sizeof(buf), got, PROTO_MAX_FDS, &n_got);
	CHECK(r == 3 && memcmp(buf, "abc", 3) == 0, "recv data with %zu fds: %zd", n, r);
	CHECK(n_got == n, "received %zu fds, sent %zu", n_got, n);
	for (size_t i = 0; i < n_got && i < n; i++) {
		CHECK(fcntl(got[i], F_GETFD) >= 0 && got[i] != files[i], "fd %zu is a new valid fd", i);
		CHECK(is_cloexec(got[i]), "fd %zu is CLOEXEC", i);
		CHECK(same_file(got[i], files[i]), "fd %zu is the same file (st_ino)", i);
	}
	for (size_t i = 0; i < n_got; i++)
		close(got[i]);
}

/* Extra fds beyond max are closed, not leaked. */
static void recv_extra(int sv[2], int file)
{
	int five[5] = { file, file, file, file, file }, got[2];
	int before = count_fds(), during;
	size_t n_got = 99;
	char buf[8];

	CHECK(proto_send(sv[0], "x", 1, five, 5) == 1, "send 5 fds");
	CHECK(proto_recv(sv[1], buf, sizeof(buf), got, 2, &n_got) == 1 && n_got == 2,
	      "recv with max 2 keeps 2 (got %zu)", n_got);
	during = count_fds();
	CHECK(during == before + 2, "3 extra fds closed: %d fds before, %d after", before, during);
	for (size_t i = 0; i < n_got; i++)
		close(got[i]);
	CHECK(proto_send(sv[0], "y", 1, five, 3) == 1, "send 3 fds");
	CHECK(proto_recv(sv[1], buf, sizeof(buf), NULL, 0, &n_got) == 1 && n_got == 0,
	      "recv with max 0 keeps none");
	CHECK(count_fds() == before, "max 0: all closed (%d, want %d)", count_fds(), before);
}

/* proto_send never blocks and never raises SIGPIPE. */
static void send_errors(int sv[2], int file)
{
	int many[PROTO_MAX_FDS + 1];
	static char chunk[65536];
	ssize_t r;
	int i;

	for (i = 0; i <= PROTO_MAX_FDS; i++)
		many[i] = file;
	CHECK(proto_send(sv[0], "x", 1, many, PROTO_MAX_FDS + 1) == -EINVAL, "more than PROTO_MAX_FDS");
	for (i = 0; i < 1024; i++) {
		r = proto_send(sv[0], chunk, sizeof(chunk), NULL, 0);
		if (r < 0)
			break;
	}
	CHECK(i < 1024 && r == -EAGAIN, "a full socket gives -EAGAIN (%zd after %d sends)", r, i);
	close(sv[1]);
	sv[1] = -1;
	CHECK(proto_send(sv[0], "x", 1, NULL, 0) == -EPIPE, "a closed peer gives -EPIPE, no SIGPIPE");
}

static void test_fd_passing(void)
{
	int sv[2], files[3] = { make_file(), make_file(), make_file() };
	int before = count_fds();

	printf("# proto_send/proto_recv: 1 and 3 fds, extras closed, errors\n");
	CHECK(files[0] >= 0 && files[1] >= 0 && files[2] >= 0, "temporary files");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		CHECK(false, "socketpair: %m");
		return;
	}
	pass_fds(sv, files, 1);
	pass_fds(sv, files, 3);
	CHECK(!same_file(files[0], files[1]), "the 3 files differ");
	recv_extra(sv, files[2]);
	{
		char buf[8];
		size_t n_got = 99;

		CHECK(proto_send(sv[0], "z", 1, NULL, 0) == 1, "send without fds");
		CHECK(proto_recv(sv[1], buf, sizeof(buf), NULL, 0, &n_got) == 1 && n_got == 0,
		      "recv without fds");
	}
	send_errors(sv, files[0]);
	CHECK(count_fds() == before + 1, "no fd leaked by send/recv (sv[0] still open)");
	close(sv[0]);
	for (int i = 0; i < 3; i++)
		close(files[i]);
}

/* Client against a stand-in daemon */

/* Read one request line (blocking), parse it, check id, op and args. */
static int serve_expect(int fd, int64_t id, const char *op, const char *args, json_object **ret_id)
{
	static char buf[PROTO_MAX_LINE];
	size_t len = 0;
	struct proto_request req;
	const char *code;
	char msg[256];
	int ok;

	while (len < sizeof(buf) && read(fd, buf + len, 1) == 1 && buf[len] != '\n')
		len++;
	if (len == sizeof(buf) || buf[len] != '\n')
		return -1;
	if (proto_parse_request(buf, len, &req, &code, msg, sizeof(msg)) < 0)
		return -1;
	ok = json_object_is_type(req.id, json_type_int) && json_object_get_int64(req.id) == id &&
	     strcmp(req.op, op) == 0 && strcmp(text(req.args), args) == 0;
	*ret_id = json_object_get(req.id);
	proto_request_done(&req);
	return ok ? 0 : -1;
}

static int serve_line(int fd, char *line, const int *fds, size_t n_fds)
{
	ssize_t r = line ? proto_send(fd, line, strlen(line), fds, n_fds) : -ENOMEM;
	int ok = line && r == (ssize_t)strlen(line);

	free(line);
	return ok ? 0 : -1;
}

static char *big_reply(json_object *id)
{
	json_object *res = json_object_new_object();
	char *s = malloc(200001);

	if (!s || !res) {
		free(s);
		json_object_put(res);
		return NULL;
	}
	memset(s, 'a', 200000);
	s[200000] = '\0';
	json_object_object_add(res, "s", json_object_new_string(s));
	free(s);
	return proto_reply_ok(id, res);
}

/* The first connection's script; returns the step that went wrong, 0 if none. */
static int serve_script(int fd, int tap)
{
	json_object *id = NULL, *ev = json_object_new_object(), *res = json_object_new_object();
	int step = 0;

	json_object_object_add(ev, "ifname", json_object_new_string("netd-t0"));
	json_object_object_add(res, "ifname", json_object_new_string("netd-t0"));
	if (++step, serve_expect(fd, 1, "port.open", "{\"network\":\"web\"}", &id) ||
	    serve_line(fd, proto_event("port.added", ev), NULL, 0) ||
	    serve_line(fd, proto_reply_ok(id, res), &tap, 1))
		return step;
	json_object_put(id);
	ev = json_object_new_object();
	if (++step, serve_expect(fd, 2, "status", "{}", &id) ||
	    serve_line(fd, proto_reply_error(id, E_NOT_FOUND, "no such thing"), NULL, 0) ||
	    serve_line(fd, proto_event("lease.added", ev), NULL, 0))
		return step;
	json_object_put(id);
	if (++step, serve_expect(fd, 3, "big", "{}", &id) || serve_line(fd, big_reply(id), NULL, 0))
		return step;
	json_object_put(id);
	if (++step, serve_expect(fd, 4, "garbage", "{}", &id) ||
	    serve_line(fd, strdup("this is not json\n"), NULL, 0))
		return step;
	json_object_put(id);
	if (++step, serve_expect(fd, 5, "other-id", "{}", &id))
		return step;
	json_object_put(id);
	id = json_object_new_int(99);
	if (serve_line(fd, proto_reply_ok(id, NULL), NULL, 0))
		return step;
	json_object_put(id);
	if (++step, serve_expect(fd, 6, "bye", "{}", &id))
		return step;
	json_object_put(id);
	return 0;
}

/*
 * The stand-in daemon: the script on the first connection, then a second
 * connection refused the way netd refuses one over its limit (an error
 * with "id":null, then close) before the client says anything.
 */
static void __attribute__((noreturn)) serve(int lfd, int tap)
{
	int fd, r;

	alarm(20);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	r = fd < 0 ? 100 : serve_script(fd, tap);
	if (fd >= 0)
		close(fd);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (r == 0 && (fd < 0 || serve_line(fd, proto_reply_error(NULL, E_LIMIT, "too many connections"),
					    NULL, 0)))
		r = 101;
	_exit(r);
}

static void client_script(struct proto_client *c, int tap)
{
	json_object *reply = NULL, *ev = NULL;
	int fds[4];
	size_t n = 99;
	int r;

	r = proto_client_call(c, "port.open", json_tokener_parse("{\"network\":\"web\"}"), &reply,
			      fds, 4, &n);
	CHECK(r == 0 && reply, "call 1: %d", r);
	CHECK(strcmp(text(member(reply, "id")), "1") == 0 && !member(reply, "event"),
	      "call 1: the event line before the reply was skipped: %s", text(reply));
	CHECK(str_is(str_member(member(reply, "result"), "ifname"), "netd-t0"), "call 1: result");
	CHECK(n == 1, "call 1: one fd (got %zu)", n);
	if (r == 0 && n == 1) {
		CHECK(is_cloexec(fds[0]) && same_file(fds[0], tap), "call 1: the fd is the TAP, CLOEXEC");
		close(fds[0]);
	}
	json_object_put(reply);

	r = proto_client_call(c, "status", NULL, &reply, NULL, 0, &n);
	CHECK(r == 0 && n == 0, "call 2 (NULL args, no fds wanted): %d", r);
	CHECK(str_is(str_member(member(reply, "error"), "code"), E_NOT_FOUND), "call 2: error reply");
	json_object_put(reply);
	r = proto_client_next(c, &ev);
	CHECK(r == 0 && str_is(str_member(ev, "event"), "lease.added"), "next: the event after call 2");
	json_object_put(ev);

	r = proto_client_call(c, "big", NULL, &reply, NULL, 0, &n);
	CHECK(r == 0 && json_object_get_string_len(member(member(reply, "result"), "s")) == 200000,
	      "call 3: a reply longer than PROTO_MAX_LINE (%d)", r);
	json_object_put(reply);
	r = proto_client_call(c, "garbage", NULL, &reply, NULL, 0, &n);
	CHECK(r == -EPROTO && !reply, "call 4: a malformed reply is -EPROTO (%d)", r);
	r = proto_client_call(c, "other-id", NULL, &reply, NULL, 0, &n);
	CHECK(r == -EPROTO && !reply, "call 5: a reply to another id is -EPROTO (%d)", r);
	r = proto_client_call(c, "bye", NULL, &reply, NULL, 0, &n);
	CHECK(r == -ECONNRESET && !reply, "call 6: closed without a reply is -ECONNRESET (%d)", r);
}

/* Refused: the daemon answered and closed before we wrote (EPIPE); the answer counts. */
static void client_refused(const char *path, pid_t child)
{
	struct proto_client *c = NULL;
	json_object *reply = NULL;
	size_t n;
	int st = -1, r;

	r = proto_client_open(path, &c);
	CHECK(r == 0, "second connection: %d", r);
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the stand-in daemon saw the expected requests (status 0x%x)", st);
	if (r < 0)
		return;
	r = proto_client_call(c, "status", NULL, &reply, NULL, 0, &n);
	CHECK(r == 0 && !member(reply, "id") && str_is(str_member(member(reply, "error"), "code"), E_LIMIT),
	      "a refusal with \"id\":null is the reply (%d: %s)", r, text(reply));
	json_object_put(reply);
	proto_client_close(c);
}

static void test_client_open_errors(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proto_client *c = NULL;
	char path[200], lng[200];
	int fd;

	snprintf(path, sizeof(path), "%s/missing.sock", tmpdir);
	CHECK(proto_client_open(path, &c) == -ENOENT && !c, "open: no socket file is -ENOENT");
	memset(lng, 'x', sizeof(lng) - 1);
	lng[0] = '/';
	lng[sizeof(lng) - 1] = '\0';
	CHECK(proto_client_open(lng, &c) == -ENAMETOOLONG, "open: path too long");
	/* Bound but not listening: like a daemon that died and left its socket. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dead.sock", tmpdir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind dead.sock");
	CHECK(proto_client_open(sa.sun_path, &c) == -ECONNREFUSED, "open: a stale socket is -ECONNREFUSED");
	close(fd);
	unlink(sa.sun_path);
	CHECK(proto_client_close(NULL) == NULL, "proto_client_close(NULL)");
}

static void test_socket_path(void)
{
	unsetenv("NETD_SOCKET");
	CHECK(str_is(proto_socket_path(NULL), PROTO_DEFAULT_SOCKET), "socket path: default");
	CHECK(str_is(proto_socket_path(""), PROTO_DEFAULT_SOCKET), "socket path: empty is default");
	setenv("NETD_SOCKET", "/tmp/env.sock", 1);
	CHECK(str_is(proto_socket_path(NULL), "/tmp/env.sock"), "socket path: $NETD_SOCKET");
	CHECK(str_is(proto_socket_path("/a.sock"), "/a.sock"), "socket path: argument wins");
	unsetenv("NETD_SOCKET");
}

static void test_client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proto_client *c = NULL;
	int before = count_fds(), tap = make_file(), lfd, r;
	pid_t child;

	printf("# proto_client_*: against a forked stand-in daemon\n");
	test_socket_path();
	test_client_open_errors();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/netd.sock", tmpdir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tap < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		CHECK(false, "listening socket: %m");
		return;
	}
	child = fork();
	if (child == 0)
		serve(lfd, tap);
	CHECK(child > 0, "fork: %m");
	r = child > 0 ? proto_client_open(sa.sun_path, &c) : -1;
	CHECK(r == 0 && c, "proto_client_open: %d", r);
	if (r == 0)
		client_script(c, tap);
	c = proto_client_close(c);
	if (child > 0)
		client_refused(sa.sun_path, child);
	close(lfd);
	close(tap);
	unlink(sa.sun_path);
	CHECK(count_fds() == before, "no fd leaked by the client (%d, want %d)", count_fds(), before);
}

int main(void)
{
	alarm(60);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_parse_valid();
	test_parse_invalid();
	test_replies();
	test_args();
	test_fd_passing();
	test_client();
	rmdir(tmpdir);
	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}
