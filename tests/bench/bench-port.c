/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-port: benchmark 1, port.open latency, and the port population the
 * other benchmarks need.
 *
 *   bench-port populate --socket S (--network NET | --names FILE) --count N
 *                       [--first K] [--samples FILE]
 *       port.create N persistent ports on NET (or on each network named
 *       first on a line of FILE), each with its own MAC so they are guarded
 *       like a launcher's, one after the other; FILE gets "INDEX MS" per
 *       port (INDEX counts from K).
 *
 *   bench-port open --socket S --network NET --bridge BR --rounds R
 *                   --label L --out DIR
 *       R rounds; each times, in a rotating order:
 *         netd      port.open through the socket, from the request to the
 *                   TAP's fd in hand (the reply comes once the TAP is up on
 *                   the bridge; checked after every call)
 *         netd-mac  the same with a fresh "mac" (the port is guarded: one
 *                   nft batch more)
 *         floor     the same syscalls in-process: rtnl_tap_create with the
 *                   options netd uses (open /dev/net/tun, TUNSETIFF with a
 *                   name, IPv6 off, one RTM_SETLINK with alias, group, MTU,
 *                   master and up)
 *         ip        `ip tuntap add` then `ip link set ... master up`
 *       Each created TAP is removed again outside the timed part (and netd
 *       is waited for until its port count is back), so every round sees the
 *       same number of ports on the host.  Samples go to
 *       DIR/b1-open-L-METHOD.txt.
 */
#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netd/proto.h"
#include "netlink/rtnl.h"
#include "tests/bench/bench-util.h"

/* netd's link group for its TAPs (netd/netd.h, NETD_PORT_GROUP). */
#define PORT_GROUP 0x6e6564u

extern char **environ;

struct opts {
	const char *socket, *network, *names, *bridge, *label, *out, *samples;
	long count, first, rounds;
};

enum method { M_NETD, M_NETD_MAC, M_FLOOR, M_IP, M_COUNT };
static const char *const method_names[M_COUNT] = { "netd", "netd-mac", "floor", "ip" };

struct ctx {
	const struct opts *o;
	struct proto_client *c;
	struct rtnl *rt;
	int br_ifindex;
	unsigned int br_mtu;
	long base_ports;
	unsigned int seq;
};

static int run(char *const argv[])
{
	pid_t pid;
	int st, r;

	r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (r != 0)
		return -r;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* Is the link up and on our bridge? */
static void check_port(struct ctx *x, const char *ifname, const char *how)
{
	struct rtnl_link l;
	int r = rtnl_link_get(x->rt, ifname, &l);

	if (r < 0)
		bu_die("%s: %s does not exist: %s", how, ifname, strerror(-r));
	if (l.master != x->br_ifindex || !l.up)
		bu_die("%s: %s is not up on bridge %s (master %d, up %d)", how, ifname,
		       x->o->bridge, l.master, l.up);
}

/* Poll netd until its port count is back to the base (it saw the TAP go). */
static void wait_ports(struct ctx *x)
{
	uint64_t end = bu_now_ns() + 10000000000ull;
	long n;

	while ((n = bu_status_ports(x->c)) != x->base_ports) {
		if (n < 0)
			bu_die("status: %s", strerror((int)-n));
		if (bu_now_ns() > end)
			bu_die("netd still counts %ld ports, expected %ld", n, x->base_ports);
		usleep(1000);
	}
}

static double time_netd(struct ctx *x, bool with_mac)
{
	json_object *args = json_object_new_object(), *res = NULL, *v;
	char ifname[IF_NAMESIZE] = "", mac[32];
	uint64_t t0, t1;
	size_t n_fds = 0;
	int fd = -1, r;

	json_object_object_add(args, "network", json_object_new_string(x->o->network));
	if (with_mac) {
		x->seq++;
		snprintf(mac, sizeof(mac), "52:54:ef:%02x:%02x:%02x", (x->seq >> 16) & 0xff,
			 (x->seq >> 8) & 0xff, x->seq & 0xff);
		json_object_object_add(args, "mac", json_object_new_string(mac));
	}
	t0 = bu_now_ns();
	r = bu_call(x->c, "port.open", args, &res, &fd, 1, &n_fds);
	t1 = bu_now_ns();
	if (r < 0 || n_fds != 1)
		bu_die("port.open: %s (%zu fds)", strerror(-r), n_fds);
	if (json_object_object_get_ex(res, "ifname", &v))
		snprintf(ifname, sizeof(ifname), "%s", json_object_get_string(v));
	json_object_put(res);
	check_port(x, ifname, "port.open");
	close(fd);	/* the kernel deletes the TAP */
	wait_ports(x);
	return bu_ms(t0, t1);
}

static double time_floor(struct ctx *x)
{
	char ifname[IF_NAMESIZE];
	uint64_t t0, t1;
	int fd = -1, r;

	/* An alias as long as netd's, that netd does not take for its own;
	 * a name of our own, as netd gives one (no netd-t%d scan). */
	snprintf(ifname, sizeof(ifname), "bfl%u", ++x->seq);
	t0 = bu_now_ns();
	r = rtnl_tap_create(x->rt, &(struct rtnl_tap_opts){
				.name = ifname, .vnet_hdr = true, .owner = (uid_t)-1, .queues = 1,
				.alias = "bench:floor:port:0:open", .group = PORT_GROUP,
				.master = x->br_ifindex, .mtu = x->br_mtu, .no_ipv6 = true },
			    &fd, ifname, NULL);
	t1 = bu_now_ns();
	if (r < 0)
		bu_die("rtnl_tap_create: %s %s", strerror(-r), rtnl_errmsg(x->rt));
	check_port(x, ifname, "floor");
	close(fd);
	return bu_ms(t0, t1);
}

static double time_ip(struct ctx *x)
{
	char name[IF_NAMESIZE], mtu[16], group[16];
	uint64_t t0, t1;
	int r;

	snprintf(name, sizeof(name), "bip%u", ++x->seq);
	snprintf(mtu, sizeof(mtu), "%u", x->br_mtu);
	snprintf(group, sizeof(group), "%u", PORT_GROUP);
	t0 = bu_now_ns();
	r = run((char *[]){ "ip", "tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr", NULL });
	if (r == 0)
		r = run((char *[]){ "ip", "link", "set", "dev", name, "mtu", mtu, "alias",
				    "bench:ipcli:port:0:open", "group", group, "master",
				    (char *)x->o->bridge, "up", NULL });
	t1 = bu_now_ns();
	if (r < 0)
		bu_die("ip tuntap add / ip link set %s failed", name);
	check_port(x, name, "ip");
	if (run((char *[]){ "ip", "link", "del", "dev", name, NULL }) < 0)
		bu_die("ip link del %s failed", name);
	return bu_ms(t0, t1);
}

static int cmd_open(const struct opts *o)
{
	struct bu_samples s[M_COUNT] = { 0 };
	struct ctx x = { .o = o };
	struct rtnl_link br;
	char name[256];
	int r;

	if (!o->network || !o->bridge || !o->label || !o->out || o->rounds < 1)
		bu_die("open needs --network, --bridge, --label, --out and --rounds");
	if ((r = proto_client_open(o->socket, &x.c)) < 0 || (r = rtnl_open(&x.rt)) < 0)
		bu_die("cannot connect: %s", strerror(-r));
	if ((r = rtnl_link_get(x.rt, o->bridge, &br)) < 0)
		bu_die("bridge %s: %s", o->bridge, strerror(-r));
	x.br_ifindex = br.ifindex;
	x.br_mtu = br.mtu;
	x.base_ports = bu_status_ports(x.c);
	if (x.base_ports < 0)
		bu_die("status failed");
	for (long i = 0; i < o->rounds; i++) {
		for (int k = 0; k < M_COUNT; k++) {
			enum method m = (enum method)((k + i) % M_COUNT);
			double ms = m == M_NETD ? time_netd(&x, false) :
				    m == M_NETD_MAC ? time_netd(&x, true) :
				    m == M_FLOOR ? time_floor(&x) : time_ip(&x);

			bu_samples_add(&s[m], ms);
		}
	}
	for (int m = 0; m < M_COUNT; m++) {
		snprintf(name, sizeof(name), "port.open %s, %s", o->label, method_names[m]);
		bu_print(name, &s[m]);
	}
	for (int m = 0; m < M_COUNT; m++) {
		if (m == M_FLOOR)
			continue;
		snprintf(name, sizeof(name), "port.open %s, %s", o->label, method_names[m]);
		bu_print_ratio(name, &s[m], "floor", &s[M_FLOOR]);
	}
	for (int m = 0; m < M_COUNT; m++) {
		snprintf(name, sizeof(name), "b1-open-%s-%s", o->label, method_names[m]);
		if (bu_samples_write(&s[m], o->out, name) < 0)
			bu_die("cannot write %s/%s.txt", o->out, name);
		bu_samples_free(&s[m]);
	}
	proto_client_close(x.c);
	rtnl_close(x.rt);
	return 0;
}

static void populate(struct proto_client *c, const char *network, long count, long *k,
		     FILE *f, struct bu_samples *s)
{
	for (long i = 0; i < count; i++, (*k)++) {
		json_object *args = json_object_new_object();
		char mac[32];
		uint64_t t0;
		double ms;
		int r;

		snprintf(mac, sizeof(mac), "52:54:ee:%02lx:%02lx:%02lx", (*k >> 16) & 0xff,
			 (*k >> 8) & 0xff, *k & 0xff);
		json_object_object_add(args, "network", json_object_new_string(network));
		json_object_object_add(args, "mac", json_object_new_string(mac));
		t0 = bu_now_ns();
		r = bu_call(c, "port.create", args, NULL, NULL, 0, NULL);
		ms = bu_ms(t0, bu_now_ns());
		if (r < 0)
			bu_die("port.create #%ld on %s: %s", *k, network, strerror(-r));
		bu_samples_add(s, ms);
		if (f)
			fprintf(f, "%ld %.6f\n", *k, ms);
	}
}

static int cmd_populate(const struct opts *o)
{
	struct proto_client *c = NULL;
	struct bu_samples s = { 0 };
	uint64_t start = bu_now_ns();
	long k = o->first;
	char line[256], name[128];
	FILE *f = NULL, *names;
	int r;

	if (!o->network == !o->names || o->count < 0)
		bu_die("populate needs --network or --names, and --count");
	if ((r = proto_client_open(o->socket, &c)) < 0)
		bu_die("cannot connect: %s", strerror(-r));
	if (o->samples && !(f = fopen(o->samples, "ae")))
		bu_die("cannot open %s: %s", o->samples, strerror(errno));
	if (o->network) {
		populate(c, o->network, o->count, &k, f, &s);
	} else {
		if (!(names = fopen(o->names, "re")))
			bu_die("cannot read %s", o->names);
		while (fgets(line, sizeof(line), names))
			if (sscanf(line, "%127s", name) == 1)
				populate(c, name, o->count, &k, f, &s);
		fclose(names);
	}
	printf("populate: %ld ports in %.1f s\n", k - o->first, bu_ms(start, bu_now_ns()) / 1000);
	bu_print("port.create (population)", &s);
	if (f && fclose(f) != 0)
		bu_die("cannot write %s", o->samples);
	bu_samples_free(&s);
	proto_client_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "network", required_argument, NULL, 'n' },
		{ "names", required_argument, NULL, 'N' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "samples", required_argument, NULL, 'S' },
		{ "count", required_argument, NULL, 'c' },
		{ "first", required_argument, NULL, 'f' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 }
	};
	struct opts o = { .count = -1 };
	const char *cmd;
	int ch;

	if (argc < 2)
		bu_die("usage: bench-port populate|open [options] (see the source's header)");
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o.socket = optarg; break;
		case 'n': o.network = optarg; break;
		case 'N': o.names = optarg; break;
		case 'b': o.bridge = optarg; break;
		case 'l': o.label = optarg; break;
		case 'o': o.out = optarg; break;
		case 'S': o.samples = optarg; break;
		case 'c': o.count = atol(optarg); break;
		case 'f': o.first = atol(optarg); break;
		case 'r': o.rounds = atol(optarg); break;
		default: bu_die("unknown option");
		}
	}
	if (strcmp(cmd, "populate") == 0)
		return cmd_populate(&o);
	if (strcmp(cmd, "open") == 0)
		return cmd_open(&o);
	bu_die("unknown command %s", cmd);
}
