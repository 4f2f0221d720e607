/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the control protocol's decoder (proto_parse_request)
 * and the operations behind it (ops_dispatch), as the daemon runs them for
 * one connection.
 *
 * The input is what a client writes: request lines separated by '\n' (a last
 * line without one counts too).  Each line is decoded and dispatched like
 * client_line() in control.c does, and the client's reply queue is flushed
 * through a real socketpair whose other end the target drains.  The whole
 * input runs twice: as an unprivileged caller (uid FUZZ_UID, owner of no
 * port) and as root.
 *
 * The daemon is set up once: four networks read from in-memory files (nat,
 * bridge, isolated, routed), with leases parsed from a dnsmasq lease file
 * and ports in the table (all with a MAC, so no op asks the kernel for the
 * bridges' FDB).  No network runs and there is no netlink or nftables
 * handle (d->rt and d->fw are NULL): ops that need the kernel must stop at
 * their argument, permission and "not running" checks.  Three ops would
 * reach the kernel anyway when root asks:
 *   network.start  (network_start(): bridge, firewall, dnsmasq)
 *   reload         (netd_reload(): reads CONFIG_DIR, applies it)
 *   port.detach    (looks the name up in the kernel first, then port_remove())
 * network.start and reload are root-only, so the unprivileged pass runs
 * them (and gets permission-denied); the root pass skips them (deny_root).
 * port.detach asks the kernel before anything else, so no pass runs it past
 * the decoder and the argument check done here.
 * network.stop is kept: on a network that is not running it only replies.
 * status and network.show read (never change) the nftables ruleset for
 * other tables' drop policies; the target moves into a network namespace of
 * its own first (when it may), so that is an empty ruleset, the same on
 * every machine, and nothing could reach the host's kernel objects.
 *
 * Besides what the sanitizers catch, the target aborts when a request does
 * not get exactly one reply line, when a reply is not a JSON object with a
 * boolean "ok", or when it does not carry the request's id back.
 * NETD_FUZZ_VERBOSE=1 in the environment prints every reply (and debug logs).
 *
 * ops.c calls functions that live in netd.c next to main(), so netd.c is
 * compiled into this file with its main() renamed.
 */
#define main netd_main
int netd_main(int argc, char **argv);
#include "netd/netd.c"
#undef main

#include <sched.h>
#include <sys/socket.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_UID 1000
#define FUZZ_GID 1000
#define OTHER_UID 4242

static struct netd d = {
	.config_dir = "/nonexistent/netd-fuzz/etc",
	.state_dir = "/nonexistent/netd-fuzz/state",
	.run_dir = "/nonexistent/netd-fuzz/run",
	.epfd = -1, .sigfd = -1, .timerfd = -1, .inofd = -1, .lockfd = -1,
	.ctlfd = -1, .leasefd = -1,
};
static struct client cl;
static int peer = -1;
static bool verbose;	/* NETD_FUZZ_VERBOSE=1: print every reply */

/* Replies received for the current request. */
static char *rbuf;
static size_t rlen, rcap;

static const struct {
	const char *name, *text;
} files[] = {
	{ "web", "[Network]\nMode=nat\nBridge=netd-web\nAddress=10.10.0.1/24\n"
		 "Address=fd00:10::1/64\nMTU=1400\n"
		 "[DHCP]\nRange=10.10.0.100-10.10.0.199\nLeaseTime=1h\n"
		 "Reservation=52:54:00:00:00:10,10.10.0.10,web\n"
		 "[DNS]\nDomain=web.internal\nRecord=outside.test,203.0.113.1\n"
		 "[Forward]\nPort=tcp/8080=10.10.0.10:80\nPort=udp/5353=[fd00:10::10]:53\n"
		 "[Access]\nUser=nobody\nGroup=kvm\n" },
	{ "lan", "[Network]\nMode=bridge\nBridge=br0\n[Access]\nUser=root\n" },
	{ "sbx", "[Network]\nMode=isolated\nBridge=netd-sbx\nAddress=10.30.0.1/24\n"
		 "[DNS]\nDomain=sandbox.internal\nRecord=updates.sandbox.internal,10.30.0.5\n" },
	{ "lab", "[Network]\nMode=routed\nAddress=10.20.0.1/24\nAddress=fd00:20::1/64\n"
		 "Uplink=eth0\nAutoStart=no\n[DHCP]\nEnable=no\n" },
};

static const char web_leases[] =
	"1700000000 52:54:00:00:00:10 10.10.0.10 web 01:52:54:00:00:00:10\n"
	"0 52:54:00:ab:cd:ef 10.10.0.150 * *\n"
	"duid 00:01:00:01:2c:5f:aa:bb:52:54:00:00:00:01\n"
	"1700003600 305419896 fd00:10::1234 vm6 00:03:00:01:52:54:00:12:34:56\n";

/* Ops that would reach the kernel when root asks for them (see above). */
static bool deny_root(const char *op)
{
	static const char *const deny[] = { "network.start", "reload", "port.detach" };

	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		if (strcmp(op, deny[i]) == 0)
			return true;
	return false;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz-request: %s\n", what);
	if (rlen)
		fprintf(stderr, "  replies: %.*s\n", (int)(rlen < 2000 ? rlen : 2000), rbuf);
	abort();
}

static struct network *add_network(const char *name, const char *text)
{
	struct diag dg = { 0 };
	struct net_config *c = NULL;
	struct network *n;
	char path[128];

	snprintf(path, sizeof(path), "/etc/netd/networks/%s.conf", name);
	if (config_parse_buffer(path, text, strlen(text), &dg, &c) < 0 || !c->valid || dg.n)
		die("a built-in network file does not parse");
	diag_free(&dg);
	n = network_new(&d, c);
	if (!n)
		die("network_new failed");
	d.nets[d.n_nets++] = n;
	return n;
}

static void add_port(const char *ifname, int ifindex, const char *net, uid_t owner,
		     enum port_kind kind, const char *mac, bool learned, bool up)
{
	struct port p = { .ifindex = ifindex, .owner = owner, .kind = kind, .has_mac = true,
			  .mac_learned = learned, .up = up };

	snprintf(p.ifname, sizeof(p.ifname), "%s", ifname);
	snprintf(p.network, sizeof(p.network), "%s", net);
	/* Every port has a MAC: ports_learn_macs() then never dumps the FDB. */
	if (mac_parse(mac, p.mac) < 0 || !port_add(&d, &p))
		die("cannot add a port");
}

static void open_client(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair failed");
	cl = (struct client){ .netd = &d, .fd = sv[0] };
	peer = sv[1];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct network *web;

	/* Not root: the ruleset read is the host's, read-only; still fine. */
	(void)unshare(CLONE_NEWNET);
	verbose = getenv("NETD_FUZZ_VERBOSE") != NULL;
	log_max_level = verbose ? LOG_DEBUG : LOG_ERR;
	signal(SIGPIPE, SIG_IGN);
	d.started = time(NULL) - 42;
	d.nets = calloc(sizeof(files) / sizeof(files[0]), sizeof(*d.nets));
	if (!d.nets)
		die("out of memory");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		add_network(files[i].name, files[i].text);
	netd_index_networks(&d);
	web = d.nets[0];
	if (dhcp_leases_parse(web_leases, strlen(web_leases), &web->leases, &web->n_leases, NULL) < 0 ||
	    web->n_leases != 3)
		die("the lease file does not parse");
	web->dm_state = DNSMASQ_BACKOFF;
	web->dm_failures = 3;
	snprintf(web->dm_error, sizeof(web->dm_error), "dnsmasq exited with status 2");
	d.nets[2]->dm_state = DNSMASQ_RUNNING;
	d.nets[2]->dm_pid = 4321;

	add_port("vm-web0", 100, "web", 0, PORT_OPEN, "52:54:00:00:00:10", false, true);
	add_port("vm-web1", 101, "web", OTHER_UID, PORT_PERSISTENT, "52:54:00:ab:cd:ef", true, false);
	add_port("tap-lab", 102, "lab", OTHER_UID, PORT_ATTACHED, "52:54:00:20:00:01", false, true);
	add_port("orphan0", 103, "gone", 0, PORT_PERSISTENT, "52:54:00:99:00:01", false, false);
	open_client();
	return 0;
}

/* Read everything the daemon sent; fds that came along are closed. */
static void drain(void)
{
	for (;;) {
		int fds[PROTO_MAX_FDS];
		size_t n_fds;
		ssize_t n;

		if (rcap - rlen < 4096) {
			char *b = realloc(rbuf, rcap ? rcap * 2 : 65536);

			if (!b)
				die("out of memory");
			rbuf = b;
			rcap = rcap ? rcap * 2 : 65536;
		}
		n = proto_recv(peer, rbuf + rlen, rcap - rlen - 1, fds, PROTO_MAX_FDS, &n_fds);
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		if (n <= 0)
			return;
		rlen += (size_t)n;
	}
}

/* Flush the client's queue into the socket until it is empty. */
static void flush(void)
{
	drain();
	while (cl.out_head && !cl.dead) {
		client_event(&cl, EPOLLOUT);
		drain();
	}
	if (cl.dead)
		die("the daemon closed the connection");
}

/* Exactly one reply line: an object with "ok", carrying the request's id. */
static void check_reply(json_object *id)
{
	json_object *reply, *ok, *rid = NULL;
	const char *want, *got;

	if (rlen == 0 || rbuf[rlen - 1] != '\n' || memchr(rbuf, '\n', rlen) != rbuf + rlen - 1)
		die("a request did not get exactly one reply line");
	rbuf[rlen - 1] = '\0';
	if (verbose)
		fprintf(stderr, "uid %u <- %s\n", (unsigned)cl.uid, rbuf);
	reply = json_tokener_parse(rbuf);
	if (!reply || !json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "ok", &ok) || !json_object_is_type(ok, json_type_boolean))
		die("a reply is not a JSON object with \"ok\"");
	(void)json_object_object_get_ex(reply, "id", &rid);
	want = id ? json_object_to_json_string(id) : "null";
	got = rid ? json_object_to_json_string(rid) : "null";
	if (strcmp(want, got) != 0)
		die("a reply does not carry the request's id");
	json_object_put(reply);
	rlen = 0;
}

/* One request line, as client_line() in control.c handles it. */
static void run_line(const char *line, size_t len)
{
	struct proto_request req;
	const char *code = E_FAILED;
	char msg[512];

	if (proto_parse_request(line, len, &req, &code, msg, sizeof(msg)) < 0) {
		client_error(&cl, req.id, code, "%s", msg);
	} else if ((cl.uid == 0 && deny_root(req.op)) || strcmp(req.op, "port.detach") == 0) {
		/* Not run (see the top of this file); answered so the check holds. */
		client_error(&cl, req.id, E_DENIED, "not fuzzed as root");
	} else {
		ops_dispatch(&cl, &req);
	}
	flush();
	check_reply(req.id);
	proto_request_done(&req);
}

static void run_input(const uint8_t *data, size_t size, uid_t uid)
{
	const char *p = (const char *)data, *end = p + size;

	cl.uid = uid;
	cl.gid = uid ? FUZZ_GID : 0;
	cl.n_groups = 0;
	cl.subscribed = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		/* A copy of exactly the line's size, so reading past it is caught. */
		char *line = malloc(len ? len : 1);

		if (!line)
			die("out of memory");
		memcpy(line, p, len);
		run_line(line, len);
		free(line);
		p += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_input(data, size, FUZZ_UID);
	run_input(data, size, 0);
	return 0;
}
