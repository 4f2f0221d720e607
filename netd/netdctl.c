/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netdctl: the control tool.  One request per run (monitor: then the event
 * stream).  The reply's result is printed as aligned columns or key: value
 * lines, or with --json as the result object itself.
 *
 * Exit status: 0 success, 1 when the daemon replied with an error, 2 on a
 * usage error or when the daemon cannot be reached.
 */
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netd/proto.h"

#define EXIT_DAEMON 1	/* the daemon reported an error */
#define EXIT_USAGE 2	/* bad usage, or no daemon to talk to */
#define HELP (-1)	/* parse_args(): --help was given */

struct ctl {
	const char *socket;
	bool json;
	const char *ifname, *mac, *owner;	/* attach options */
	char **args;				/* after the command name */
	size_t n_args;
	struct proto_client *client;
};

struct command {
	const char *name;
	const char *synopsis;		/* its arguments, for usage errors */
	size_t min_args, max_args;
	const char *op;
	json_object *(*build)(const struct ctl *ctl);
	void (*print)(json_object *result);
	int (*run)(struct ctl *ctl, const struct command *cmd);
};

static const char usage_text[] =
	"Usage: netdctl [--socket PATH] [--json] COMMAND\n"
	"  status | list | show NET | start NET | stop NET | reload\n"
	"  leases [NET]                      MAC  IP  HOSTNAME  EXPIRES  NETWORK\n"
	"  ports [NET]                       IFNAME  NETWORK  MAC  OWNER  STATE\n"
	"  attach NET [--ifname N] [--mac M] [--owner USER]   create (or attach an existing) port; prints the ifname\n"
	"  detach IFNAME\n"
	"  monitor                           follow events\n"
	"\n"
	"Options:\n"
	"  --socket PATH   the control socket (default " PROTO_DEFAULT_SOCKET ", or $NETD_SOCKET)\n"
	"  --json          print the daemon's result as JSON\n"
	"  --help          print this help\n"
	"\n"
	"Exit status: 0 success, 1 netd reported an error, 2 usage error or netd unreachable.\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

/* One line saying what is wrong (and where help is); returns EXIT_USAGE. */
static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("netdctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see netdctl --help)\n", stderr);
	return EXIT_USAGE;
}

static void __attribute__((noreturn)) oom(void)
{
	fputs("netdctl: out of memory\n", stderr);
	exit(EXIT_FAILURE);
}

static json_object *xobject(void)
{
	json_object *o = json_object_new_object();

	if (!o)
		oom();
	return o;
}

static void add_string(json_object *o, const char *key, const char *val)
{
	json_object *v = json_object_new_string(val);

	if (!v || json_object_object_add(o, key, v) < 0)
		oom();
}

/* Values */

/* A string with control characters made harmless for a terminal. */
static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(iscntrl((unsigned char)*s) ? '?' : *s, f);
}

/* Local time, "YYYY-MM-DD HH:MM:SS" (iso: with a T, for key=value fields); 0 is never. */
static void put_time(FILE *f, int64_t t, bool iso)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	if (t == 0) {
		fputs("never", f);
		return;
	}
	if (!localtime_r(&tt, &tm) ||
	    !strftime(buf, sizeof(buf), iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm)) {
		fprintf(f, "%lld", (long long)t);
		return;
	}
	fputs(buf, f);
}

static void put_value(FILE *f, json_object *v, const char *sep);

static void put_array(FILE *f, json_object *v, const char *sep)
{
	size_t n = json_object_array_length(v);

	if (n == 0)
		fputc('-', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(sep, f);
		put_value(f, json_object_array_get_idx(v, i), sep);
	}
}

static void put_object(FILE *f, json_object *v, const char *sep)
{
	bool first = true;

	json_object_object_foreach(v, key, val) {
		if (!val)
			continue;
		fprintf(f, "%s%s=", first ? "" : sep, key);
		put_value(f, val, sep);
		first = false;
	}
	if (first)
		fputc('-', f);
}

/* Any JSON value as text: "-" for null or empty. */
static void put_value(FILE *f, json_object *v, const char *sep)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		fputc('-', f);
		break;
	case json_type_boolean:
		fputs(json_object_get_boolean(v) ? "yes" : "no", f);
		break;
	case json_type_int:
	case json_type_double:
		fputs(json_object_to_json_string(v), f);
		break;
	case json_type_string:
		put_clean(f, *json_object_get_string(v) ? json_object_get_string(v) : "-");
		break;
	case json_type_array:
		put_array(f, v, sep);
		break;
	case json_type_object:
		put_object(f, v, sep);
		break;
	}
}

static FILE *text_open(char **s, size_t *len)
{
	FILE *f = open_memstream(s, len);

	if (!f)
		oom();
	return f;
}

/* Close an open_memstream() stream: its text (read *s only after fclose). */
static char *text_close(FILE *f, char **s)
{
	if (fclose(f) != 0 || !*s)
		oom();
	return *s;
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static char *cell(json_object *o, const char *key)
{
	char *s = NULL;
	size_t len;
	FILE *f = text_open(&s, &len);

	put_value(f, member(o, key), ",");
	return text_close(f, &s);
}

static char *cell_time(json_object *o, const char *key)
{
	char *s = NULL;
	size_t len;
	FILE *f = text_open(&s, &len);
	json_object *v = member(o, key);

	if (json_object_is_type(v, json_type_int))
		put_time(f, json_object_get_int64(v), false);
	else
		put_value(f, v, ",");
	return text_close(f, &s);
}

/* The user name when netd knows it, else the uid. */
static char *cell_owner(json_object *o)
{
	return cell(o, json_object_is_type(member(o, "owner_name"), json_type_string) ?
			       "owner_name" : "owner");
}

/* Tables */

struct table {
	size_t n_cols;
	const char *const *head;
	char **cells;		/* row-major, n_rows * n_cols */
	size_t n_rows;
};

static void table_add(struct table *t, char **row)
{
	char **c = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(*c));

	if (!c)
		oom();
	memcpy(c + t->n_rows * t->n_cols, row, t->n_cols * sizeof(*c));
	t->cells = c;
	t->n_rows++;
}

static void table_print_row(const struct table *t, const char *const *row, const size_t *w)
{
	for (size_t i = 0; i < t->n_cols; i++) {
		if (i + 1 < t->n_cols)
			printf("%-*s  ", (int)w[i], row[i]);
		else
			printf("%s\n", row[i]);
	}
}

/* Print with a header, each column as wide as its widest cell; frees the cells. */
static void table_print(struct table *t)
{
	size_t w[16] = { 0 };

	for (size_t i = 0; i < t->n_cols; i++)
		w[i] = strlen(t->head[i]);
	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t i = 0; i < t->n_cols; i++)
			if (strlen(t->cells[r * t->n_cols + i]) > w[i])
				w[i] = strlen(t->cells[r * t->n_cols + i]);
	table_print_row(t, t->head, w);
	for (size_t r = 0; r < t->n_rows; r++)
		table_print_row(t, (const char *const *)t->cells + r * t->n_cols, w);
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->n_rows = 0;
}

static const char *const network_head[] = { "NAME", "MODE", "BRIDGE", "STATE", "ADDRESSES",
					     "PORTS", "LEASES", "DNSMASQ" };
static const char *const lease_head[] = { "MAC", "IP", "HOSTNAME", "EXPIRES", "NETWORK" };
static const char *const port_head[] = { "IFNAME", "NETWORK", "MAC", "OWNER", "STATE" };

static void network_row(struct table *t, json_object *n)
{
	json_object *dm = member(n, "dnsmasq");
	char *row[] = { cell(n, "name"), cell(n, "mode"), cell(n, "bridge"), cell(n, "state"),
			cell(n, "addresses"), cell(n, "ports"), cell(n, "leases"),
			json_object_is_type(dm, json_type_object) ? cell(dm, "state") : cell(n, "dnsmasq") };

	table_add(t, row);
}

static void lease_row(struct table *t, json_object *l)
{
	char *row[] = { cell(l, "mac"), cell(l, "ip"), cell(l, "hostname"), cell_time(l, "expires"),
			cell(l, "network") };

	table_add(t, row);
}

static void port_row(struct table *t, json_object *p)
{
	char *row[] = { cell(p, "ifname"), cell(p, "network"), cell(p, "mac"), cell_owner(p),
			cell(p, "state") };

	table_add(t, row);
}

/* An array of objects as a table. */
static void print_table(json_object *arr, const char *const *head, size_t n_cols,
			void (*row)(struct table *t, json_object *o))
{
	struct table t = { .n_cols = n_cols, .head = head };
	size_t n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++)
		row(&t, json_object_array_get_idx(arr, i));
	table_print(&t);
}

#define N_COLS(head) (sizeof(head) / sizeof(head[0]))

static void print_networks(json_object *result)
{
	print_table(member(result, "networks"), network_head, N_COLS(network_head), network_row);
}

static void print_leases(json_object *result)
{
	print_table(member(result, "leases"), lease_head, N_COLS(lease_head), lease_row);
}

/* netd lists ports in no particular order: by network, then name (netd-t2 < netd-t10). */
static int port_cmp(const void *a, const void *b)
{
	json_object *pa = *(json_object *const *)a, *pb = *(json_object *const *)b;
	const char *na = json_object_get_string(member(pa, "network"));
	const char *nb = json_object_get_string(member(pb, "network"));
	int r = strcmp(na ? na : "", nb ? nb : "");

	if (r)
		return r;
	na = json_object_get_string(member(pa, "ifname"));
	nb = json_object_get_string(member(pb, "ifname"));
	return strverscmp(na ? na : "", nb ? nb : "");
}

static void print_port_list(json_object *arr)
{
	if (json_object_is_type(arr, json_type_array))
		json_object_array_sort(arr, port_cmp);
	print_table(arr, port_head, N_COLS(port_head), port_row);
}

static void print_ports(json_object *result)
{
	print_port_list(member(result, "ports"));
}

/* key: value lines */

typedef void (*value_fn)(FILE *f, const char *key, json_object *v);

static bool skipped(const char *key, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strcmp(*skip, key) == 0)
			return true;
	return false;
}

static void print_kv(json_object *o, const char *const *skip, value_fn fn)
{
	int w = 0;

	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k1, v1) {
		(void)v1;
		if (!skipped(k1, skip) && (int)strlen(k1) + 1 > w)
			w = (int)strlen(k1) + 1;
	}
	json_object_object_foreach(o, key, val) {
		char label[128];

		if (skipped(key, skip))
			continue;
		snprintf(label, sizeof(label), "%s:", key);
		printf("%-*s ", w, label);
		fn(stdout, key, val);
		putchar('\n');
	}
}

static void status_value(FILE *f, const char *key, json_object *v)
{
	int64_t s = json_object_get_int64(v);

	if (strcmp(key, "uptime") != 0 || !json_object_is_type(v, json_type_int)) {
		put_value(f, v, ", ");
		return;
	}
	if (s >= 86400)
		fprintf(f, "%lldd ", (long long)(s / 86400));
	fprintf(f, "%02lld:%02lld:%02lld", (long long)(s % 86400 / 3600),
		(long long)(s % 3600 / 60), (long long)(s % 60));
}

static void print_status(json_object *result)
{
	print_kv(result, NULL, status_value);
}

/* dnsmasq: "running (pid 123, 2 restarts, error: ...)". */
static void dnsmasq_value(FILE *f, json_object *v)
{
	json_object *pid = member(v, "pid"), *err = member(v, "error"), *rs = member(v, "restarts");
	const char *sep = " (";

	put_value(f, member(v, "state"), ", ");
	if (pid) {
		fprintf(f, "%spid %lld", sep, (long long)json_object_get_int64(pid));
		sep = ", ";
	}
	if (json_object_get_int64(rs) > 0) {
		fprintf(f, "%s%lld restarts", sep, (long long)json_object_get_int64(rs));
		sep = ", ";
	}
	if (json_object_is_type(err, json_type_string)) {
		fprintf(f, "%serror: ", sep);
		put_clean(f, json_object_get_string(err));
		sep = ", ";
	}
	if (strcmp(sep, ", ") == 0)
		fputc(')', f);
}

static void show_value(FILE *f, const char *key, json_object *v)
{
	if (strcmp(key, "dnsmasq") == 0 && json_object_is_type(v, json_type_object))
		dnsmasq_value(f, v);
	else
		put_value(f, v, ", ");
}

static void print_show(json_object *result)
{
	static const char *const skip[] = { "port_list", "lease_list", NULL };
	json_object *n = member(result, "network");

	print_kv(n, skip, show_value);
	printf("\nPorts:\n");
	print_port_list(member(n, "port_list"));
	printf("\nLeases:\n");
	print_table(member(n, "lease_list"), lease_head, N_COLS(lease_head), lease_row);
}

/* start/stop: "NAME: STATE". */
static void print_state(json_object *result)
{
	char *name = cell(result, "name"), *state = cell(result, "state");

	printf("%s: %s\n", name, state);
	free(name);
	free(state);
}

static void print_reload(json_object *result)
{
	json_object *nets = member(result, "networks");
	size_t n = json_object_is_type(nets, json_type_array) ? json_object_array_length(nets) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(nets, i), *errs = member(o, "errors");
		size_t n_errs = json_object_is_type(errs, json_type_array) ?
					json_object_array_length(errs) : 0;
		char *name = cell(o, "name"), *what = cell(o, "outcome");

		printf("%s: %s\n", name, what);
		for (size_t j = 0; j < n_errs; j++) {
			fputs("  ", stdout);
			put_value(stdout, json_object_array_get_idx(errs, j), ", ");
			putchar('\n');
		}
		free(name);
		free(what);
	}
}

static void print_ifname(json_object *result)
{
	char *s = cell(result, "ifname");

	printf("%s\n", s);
	free(s);
}

static void print_json(json_object *o, int flags)
{
	const char *s = json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s)
		oom();
	printf("%s\n", s);
}

/* Talking to netd */

static int ctl_connect(struct ctl *ctl)
{
	const char *path = proto_socket_path(ctl->socket);
	int r;

	if (ctl->client)
		return 0;
	r = proto_client_open(ctl->socket, &ctl->client);
	if (r < 0) {
		fprintf(stderr, "netdctl: cannot connect to %s: %s%s\n", path, strerror(-r),
			r == -ENOENT || r == -ECONNREFUSED ? " (is netd running?)" : "");
		return EXIT_USAGE;
	}
	return 0;
}

/* The daemon's error message, on one line. */
static int daemon_error(json_object *reply)
{
	json_object *err = member(reply, "error"), *msg = member(err, "message");

	fputs("netdctl: ", stderr);
	if (json_object_is_type(msg, json_type_string))
		put_clean(stderr, json_object_get_string(msg));
	else
		fputs("netd reported an error without a message", stderr);
	fputc('\n', stderr);
	return EXIT_DAEMON;
}

/*
 * One request; 0 with the reply (caller puts it) and its result (never
 * NULL, owned by the reply), else the exit status, the error printed.
 */
static int ctl_call(struct ctl *ctl, const char *op, json_object *args, json_object **ret_reply,
		    json_object **ret_result)
{
	json_object *reply = NULL, *result;
	size_t n_fds;
	int r = ctl_connect(ctl);

	if (r) {
		json_object_put(args);
		return r;
	}
	r = proto_client_call(ctl->client, op, args, &reply, NULL, 0, &n_fds);
	if (r < 0) {
		fprintf(stderr, "netdctl: %s: %s\n", proto_socket_path(ctl->socket),
			r == -ECONNRESET ? "netd closed the connection" :
			r == -EPROTO ? "malformed reply from netd" : strerror(-r));
		return EXIT_USAGE;
	}
	if (!json_object_is_type(member(reply, "ok"), json_type_boolean) ||
	    !json_object_get_boolean(member(reply, "ok"))) {
		r = daemon_error(reply);
		json_object_put(reply);
		return r;
	}
	result = member(reply, "result");
	if (!json_object_is_type(result, json_type_object)) {
		result = xobject();
		json_object_object_add(reply, "result", result);
	}
	*ret_reply = reply;
	*ret_result = result;
	return 0;
}

/* Commands */

static int run_request(struct ctl *ctl, const char *op, json_object *args,
		       void (*print)(json_object *result))
{
	json_object *reply, *result;
	int r = ctl_call(ctl, op, args, &reply, &result);

	if (r)
		return r;
	if (ctl->json)
		print_json(result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
	else if (print)
		print(result);
	json_object_put(reply);
	return 0;
}

static int run_simple(struct ctl *ctl, const struct command *cmd)
{
	return run_request(ctl, cmd->op, cmd->build ? cmd->build(ctl) : NULL, cmd->print);
}

/* reload: like the others, but a network whose file has errors makes it fail (exit 1). */
static int run_reload(struct ctl *ctl, const struct command *cmd)
{
	json_object *reply, *result, *nets;
	size_t n, bad = 0;
	int r = ctl_call(ctl, cmd->op, NULL, &reply, &result);

	if (r)
		return r;
	if (ctl->json)
		print_json(result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
	else
		print_reload(result);
	nets = member(result, "networks");
	n = json_object_is_type(nets, json_type_array) ? json_object_array_length(nets) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *what = json_object_get_string(member(json_object_array_get_idx(nets, i),
								  "outcome"));

		bad += what && strcmp(what, "error") == 0;
	}
	json_object_put(reply);
	if (!bad)
		return 0;
	fprintf(stderr, "netdctl: reload: %zu network%s not (re)loaded: %s errors\n", bad,
		bad == 1 ? "" : "s", bad == 1 ? "its file has" : "their files have");
	return EXIT_DAEMON;
}

static json_object *build_name(const struct ctl *ctl)
{
	json_object *o = xobject();

	add_string(o, "name", ctl->args[0]);
	return o;
}

static json_object *build_filter(const struct ctl *ctl)
{
	json_object *o = xobject();

	if (ctl->n_args)
		add_string(o, "network", ctl->args[0]);
	return o;
}

static json_object *build_ifname(const struct ctl *ctl)
{
	json_object *o = xobject();

	add_string(o, "ifname", ctl->args[0]);
	return o;
}

/* --owner: a uid when all digits, else a user name. */
static void add_owner(json_object *o, const char *owner)
{
	char *end;
	unsigned long uid;

	errno = 0;
	uid = strtoul(owner, &end, 10);
	if (isdigit((unsigned char)*owner) && !*end && !errno && uid < UINT32_MAX) {
		if (json_object_object_add(o, "owner", json_object_new_int64((int64_t)uid)) < 0)
			oom();
		return;
	}
	add_string(o, "owner", owner);
}

/*
 * attach: an interface named by --ifname that exists already is attached
 * (a QEMU script= hook); otherwise netd creates a persistent TAP owned by
 * --owner (default: the caller).  Prints the port's ifname.
 */
static int run_attach(struct ctl *ctl, const struct command *cmd)
{
	bool exists = ctl->ifname && if_nametoindex(ctl->ifname) != 0;
	json_object *args;

	if (exists && ctl->owner)
		return usage_error("attach: %s exists already; --owner only applies to a port "
				   "netd creates", ctl->ifname);
	args = xobject();
	add_string(args, "network", ctl->args[0]);
	if (ctl->ifname)
		add_string(args, "ifname", ctl->ifname);
	if (ctl->mac)
		add_string(args, "mac", ctl->mac);
	if (ctl->owner)
		add_owner(args, ctl->owner);
	return run_request(ctl, exists ? "port.attach" : "port.create", args, cmd->print);
}

/* A key=value field of an event line. */
static void event_field(const char *key, json_object *v)
{
	printf(" %s=", key);
	if (strcmp(key, "expires") == 0 && json_object_is_type(v, json_type_int))
		put_time(stdout, json_object_get_int64(v), true);
	else
		put_value(stdout, v, ",");
}

/*
 * "TIME EVENT NETWORK SUBJECT key=value...": the subject is the port's
 * ifname or the lease's ip; null fields are left out.
 */
static void print_event(json_object *ev)
{
	const char *subject = member(ev, "ifname") ? "ifname" : member(ev, "ip") ? "ip" : NULL;
	static const char *const fixed[] = { "event", "network", "owner_name", NULL };
	char *name = cell(ev, "event"), *net = cell(ev, "network");

	put_time(stdout, time(NULL), false);
	printf(" %s %s", name, net);
	if (subject) {
		putchar(' ');
		put_value(stdout, member(ev, subject), ",");
	}
	json_object_object_foreach(ev, key, val) {
		if (!val || skipped(key, fixed) || (subject && strcmp(key, subject) == 0))
			continue;
		if (strcmp(key, "owner") == 0 && member(ev, "owner_name"))
			event_field(key, member(ev, "owner_name"));
		else
			event_field(key, val);
	}
	putchar('\n');
	free(name);
	free(net);
}

/* Follow events until netd closes the connection (or a signal ends us). */
static int run_monitor(struct ctl *ctl, const struct command *cmd)
{
	json_object *reply, *result, *ev;
	int r = ctl_call(ctl, cmd->op, NULL, &reply, &result);

	if (r)
		return r;
	json_object_put(reply);
	for (;;) {
		r = proto_client_next(ctl->client, &ev);
		if (r == -ECONNRESET)
			return 0;
		if (r < 0) {
			fprintf(stderr, "netdctl: %s: %s\n", proto_socket_path(ctl->socket),
				r == -EPROTO ? "malformed event from netd" : strerror(-r));
			return EXIT_USAGE;
		}
		if (ctl->json)
			print_json(ev, JSON_C_TO_STRING_PLAIN);
		else
			print_event(ev);
		json_object_put(ev);
		if (fflush(stdout) != 0)
			return EXIT_FAILURE;
	}
}

static const struct command commands[] = {
	{ "status", "", 0, 0, "status", NULL, print_status, run_simple },
	{ "list", "", 0, 0, "network.list", NULL, print_networks, run_simple },
	{ "show", " NET", 1, 1, "network.show", build_name, print_show, run_simple },
	{ "start", " NET", 1, 1, "network.start", build_name, print_state, run_simple },
	{ "stop", " NET", 1, 1, "network.stop", build_name, print_state, run_simple },
	{ "reload", "", 0, 0, "reload", NULL, print_reload, run_reload },
	{ "leases", " [NET]", 0, 1, "lease.list", build_filter, print_leases, run_simple },
	{ "ports", " [NET]", 0, 1, "port.list", build_filter, print_ports, run_simple },
	{ "attach", " NET [--ifname N] [--mac M] [--owner USER]", 1, 1, NULL, NULL, print_ifname,
	  run_attach },
	{ "detach", " IFNAME", 1, 1, "port.detach", build_ifname, NULL, run_simple },
	{ "monitor", "", 0, 0, "events.subscribe", NULL, NULL, run_monitor },
};

/* Command line */

/*
 * "--name VALUE" or "--name=VALUE" at argv[*i]: 1 and the value (advancing
 * *i past it), 0 when argv[*i] is another option, -1 when VALUE is missing.
 */
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

/* One option at argv[*i]: 0, HELP, or the exit status of a usage error. */
static int parse_option(struct ctl *ctl, int argc, char **argv, int *i)
{
	static const char *const valued[] = { "--socket", "--ifname", "--mac", "--owner" };
	const char **dest[] = { &ctl->socket, &ctl->ifname, &ctl->mac, &ctl->owner };

	if (strcmp(argv[*i], "--json") == 0) {
		ctl->json = true;
		return 0;
	}
	if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0)
		return HELP;
	for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
		int r = opt_value(argc, argv, i, valued[k], dest[k]);

		if (r < 0)
			return usage_error("option %s needs a value", valued[k]);
		if (r > 0)
			return 0;
	}
	return usage_error("unknown option %s", argv[*i]);
}

/* Options may come before or after the command; "--" ends them. */
static int parse_args(struct ctl *ctl, int argc, char **argv, char **pos, size_t *n_pos)
{
	bool opts = true;

	*n_pos = 0;
	for (int i = 1; i < argc; i++) {
		int r;

		if (opts && strcmp(argv[i], "--") == 0) {
			opts = false;
			continue;
		}
		if (!opts || argv[i][0] != '-' || argv[i][1] == '\0') {
			pos[(*n_pos)++] = argv[i];
			continue;
		}
		r = parse_option(ctl, argc, argv, &i);
		if (r)
			return r;
	}
	return 0;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The command and its arguments; NULL (and *ret the exit status) on a usage error. */
static const struct command *check_command(struct ctl *ctl, char **pos, size_t n_pos, int *ret)
{
	const struct command *cmd;

	*ret = EXIT_USAGE;
	if (n_pos == 0) {
		usage_error("no command given");
		return NULL;
	}
	cmd = find_command(pos[0]);
	if (!cmd) {
		usage_error("unknown command \"%s\"", pos[0]);
		return NULL;
	}
	if (n_pos - 1 < cmd->min_args || n_pos - 1 > cmd->max_args) {
		usage_error("wrong number of arguments: netdctl %s%s", cmd->name, cmd->synopsis);
		return NULL;
	}
	if (cmd->run != run_attach && (ctl->ifname || ctl->mac || ctl->owner)) {
		usage_error("--ifname, --mac and --owner go with attach, not %s", cmd->name);
		return NULL;
	}
	ctl->args = pos + 1;
	ctl->n_args = n_pos - 1;
	return cmd;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	const struct command *cmd;
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	size_t n_pos;
	int r;

	if (!pos)
		oom();
	r = parse_args(&ctl, argc, argv, pos, &n_pos);
	if (r == HELP) {
		usage(stdout);
		r = 0;
	} else if (r == 0) {
		cmd = check_command(&ctl, pos, n_pos, &r);
		if (cmd)
			r = cmd->run(&ctl, cmd);
	}
	proto_client_close(ctl.client);
	free(pos);
	if (fflush(stdout) != 0 && r == 0)
		r = EXIT_FAILURE;
	return r;
}
