/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-net: benchmark 2, from "start this network" to "its DHCP answers".
 *
 * The answer is seen by a raw DHCP prober: an AF_PACKET socket on eth0 of a
 * guest namespace, whose veth peer (VETH, in this namespace) is enslaved to
 * the network's bridge once the bridge exists (that RTM_SETLINK is in the
 * timed part, for netd and the floor alike).  It sends a DISCOVER every
 * 2 ms from a fresh MAC until an OFFER comes back.
 *
 *   bench-net netd --socket S --names FILE --guest-ns NS --veth VETH
 *                  --probe-at 1,1000 --repeat K --out DIR [--index-base B]
 *       FILE: "NAME BRIDGE" per line, AutoStart=no networks of a running
 *       netd, in the order to start them.  Every network gets network.start
 *       (its reply latency is appended to DIR/b2-curve.txt as "INDEX MS").  At the
 *       indexes of --probe-at the start is timed K times to the DHCP
 *       answer (network.stop between, untimed); indexes count from B + 1: DIR/b2-start-netd-NI.txt
 *       (to the reply) and DIR/b2-answer-netd-NI.txt (to the OFFER).
 *
 *   bench-net floor --guest-ns NS --veth VETH --run-dir D --state-dir D
 *                   --prefill N --repeat K --label L --out DIR
 *       The same work done directly, K times: bridge (rtnl), its address,
 *       one nftables batch with this network only (the firewall library
 *       netd uses), dnsmasq's files and dnsmasq itself (the dhcp library),
 *       then the probe.  With --prefill N, N other bridges with addresses
 *       exist first (made untimed), as many as netd's other networks, and
 *       with --prefill-dnsmasq each has its dnsmasq running, as netd's do,
 *       its netlink socket out of its groups as netd does it
 *       (dhcp_quiet_netlink).
 *       Samples: DIR/b2-start-floor-L.txt, DIR/b2-answer-floor-L.txt.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dhcp/dhcp.h"
#include "firewall/fw.h"
#include "netd/proto.h"
#include "netlink/rtnl.h"
#include "tests/bench/bench-util.h"

#define PROBE_INTERVAL_MS 2
#define PROBE_TIMEOUT_MS 180000

struct opts {
	const char *socket, *names, *guest_ns, *veth, *probe_at, *run_dir, *state_dir;
	const char *label, *out;
	long repeat, prefill, index_base;
	bool prefill_dnsmasq;
};

struct prober {
	struct rtnl *rt;
	struct bu_probe p;
	int veth;
	unsigned int seq;
};

static void prober_open(struct prober *pr, const struct opts *o)
{
	struct rtnl_link l;
	int r;

	if ((r = rtnl_open(&pr->rt)) < 0)
		bu_die("rtnl: %s", strerror(-r));
	if ((r = rtnl_link_get(pr->rt, o->veth, &l)) < 0)
		bu_die("%s: %s", o->veth, strerror(-r));
	pr->veth = l.ifindex;
	if ((r = bu_probe_open(o->guest_ns, "eth0", &pr->p)) < 0)
		bu_die("probe socket in %s: %s", o->guest_ns, strerror(-r));
}

/* Enslave the prober's veth to bridge and wait for an OFFER: when it came. */
static uint64_t probe(struct prober *pr, const char *bridge)
{
	uint8_t mac[6] = { 0x52, 0x54, 0xdd, 0, 0, 0 };
	struct rtnl_link br;
	uint64_t t;
	int r;

	if ((r = rtnl_link_get(pr->rt, bridge, &br)) < 0)
		bu_die("bridge %s: %s", bridge, strerror(-r));
	if ((r = rtnl_link_set_master(pr->rt, pr->veth, br.ifindex)) < 0)
		bu_die("enslave to %s: %s", bridge, strerror(-r));
	pr->seq++;
	mac[3] = (uint8_t)(pr->seq >> 16);
	mac[4] = (uint8_t)(pr->seq >> 8);
	mac[5] = (uint8_t)pr->seq;
	r = bu_probe_run(&pr->p, mac, PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS, &t);
	if (r < 0)
		bu_die("no DHCP answer on %s: %s", bridge, strerror(-r));
	return t;
}

static int net_op(struct proto_client *c, const char *op, const char *name)
{
	json_object *args = json_object_new_object();

	json_object_object_add(args, "name", json_object_new_string(name));
	return bu_call(c, op, args, NULL, NULL, 0, NULL);
}

static void save(const struct bu_samples *s, const char *out, const char *name)
{
	if (bu_samples_write(s, out, name) < 0)
		bu_die("cannot write %s/%s.txt", out, name);
}

static void netd_probe_at(struct proto_client *c, struct prober *pr, const struct opts *o,
			  long i, const char *name, const char *bridge, FILE *curve)
{
	struct bu_samples st = { 0 }, ans = { 0 };
	char label[256];

	for (long k = 0; k < o->repeat; k++) {
		uint64_t t0, t1, t2;

		if (k && net_op(c, "network.stop", name) < 0)
			bu_die("network.stop %s failed", name);
		t0 = bu_now_ns();
		if (net_op(c, "network.start", name) < 0)
			bu_die("network.start %s failed", name);
		t1 = bu_now_ns();
		t2 = probe(pr, bridge);
		bu_samples_add(&st, bu_ms(t0, t1));
		bu_samples_add(&ans, bu_ms(t0, t2));
		if (!k)
			fprintf(curve, "%ld %.6f\n", i, bu_ms(t0, t1));
	}
	snprintf(label, sizeof(label), "network #%ld (%s): network.start reply", i, name);
	bu_print(label, &st);
	snprintf(label, sizeof(label), "network #%ld (%s): start to DHCP answer", i, name);
	bu_print(label, &ans);
	snprintf(label, sizeof(label), "b2-start-netd-N%ld", i);
	save(&st, o->out, label);
	snprintf(label, sizeof(label), "b2-answer-netd-N%ld", i);
	save(&ans, o->out, label);
	bu_samples_free(&st);
	bu_samples_free(&ans);
}

static int cmd_netd(const struct opts *o)
{
	struct proto_client *c = NULL;
	struct prober pr = { 0 };
	char line[256], name[128], bridge[64], path[4096];
	uint64_t start = bu_now_ns();
	long probes[64], i = 0;
	FILE *f, *curve;
	int n_probes, r;

	if (!o->names || !o->guest_ns || !o->veth || !o->probe_at || !o->out || o->repeat < 1)
		bu_die("netd needs --names, --guest-ns, --veth, --probe-at, --repeat, --out");
	n_probes = bu_parse_list(o->probe_at, probes, 64);
	if (n_probes < 0)
		bu_die("bad --probe-at");
	if ((r = proto_client_open(o->socket, &c)) < 0)
		bu_die("cannot connect: %s", strerror(-r));
	prober_open(&pr, o);
	if (!(f = fopen(o->names, "re")))
		bu_die("cannot read %s", o->names);
	snprintf(path, sizeof(path), "%s/b2-curve.txt", o->out);
	if (!(curve = fopen(path, "ae")))
		bu_die("cannot write %s", path);
	while (fgets(line, sizeof(line), f)) {
		uint64_t t0;

		if (sscanf(line, "%127s %63s", name, bridge) != 2)
			continue;
		i++;
		if (i == 1)
			i += o->index_base;
		if (bu_in_list(probes, (size_t)n_probes, i)) {
			netd_probe_at(c, &pr, o, i, name, bridge, curve);
			continue;
		}
		t0 = bu_now_ns();
		if (net_op(c, "network.start", name) < 0)
			bu_die("network.start %s failed", name);
		fprintf(curve, "%ld %.6f\n", i, bu_ms(t0, bu_now_ns()));
	}
	printf("started %ld networks in %.1f s (probes included)\n", i, bu_ms(start, bu_now_ns()) / 1000);
	fclose(f);
	fclose(curve);
	bu_probe_close(&pr.p);
	rtnl_close(pr.rt);
	proto_client_close(c);
	return 0;
}

/* The floor's network: what run.sh's netd networks look like. */
struct floor_net {
	struct fw *fw;
	struct dhcp_paths paths;
	struct dhcp_network dn;
	struct dhcp_subnet sub;
	struct fw_prefix pfx;
	struct fw_network fn;
	struct rtnl_addr addr;
	uint8_t mac[6];
	int ifindex;
};

static void floor_init(struct floor_net *fl, const struct opts *o)
{
	int r;

	memset(fl, 0, sizeof(*fl));
	if ((r = fw_open(&fl->fw)) < 0)
		bu_die("fw_open: %s", strerror(-r));
	if (dhcp_paths(o->run_dir, o->state_dir, "floor", &fl->paths) < 0)
		bu_die("dhcp_paths failed");
	fl->addr.family = AF_INET;
	fl->addr.prefixlen = 24;
	inet_pton(AF_INET, "10.99.0.1", &fl->addr.addr.v4);
	fl->sub.host.family = AF_INET;
	fl->sub.host.a.v4 = fl->addr.addr.v4;
	fl->sub.prefixlen = 24;
	fl->dn = (struct dhcp_network){ .name = "floor", .bridge = "bfloor", .subnets = &fl->sub,
					.n_subnets = 1, .dhcp = true, .range_prefixlen = 24,
					.lease_time = 3600, .dns = true };
	fl->dn.range_start.family = fl->dn.range_end.family = AF_INET;
	inet_pton(AF_INET, "10.99.0.128", &fl->dn.range_start.a.v4);
	inet_pton(AF_INET, "10.99.0.254", &fl->dn.range_end.a.v4);
	fl->pfx = (struct fw_prefix){ .family = AF_INET, .host.v4 = fl->addr.addr.v4, .len = 24 };
	fl->fn = (struct fw_network){ .name = "floor", .bridge = "bfloor", .mode = FW_MODE_NAT,
				      .prefixes = &fl->pfx, .n_prefixes = 1 };
	memcpy(fl->mac, (const uint8_t[]){ 0x02, 0x6e, 0xf1, 0x00, 0x00, 0x01 }, 6);
}

/* Timed: bridge, address, one nft batch, dnsmasq started.  Returns its pid. */
static pid_t floor_start(struct floor_net *fl, struct rtnl *rt)
{
	unsigned int changed = 0;
	pid_t pid;
	int r;

	r = rtnl_bridge_create(rt, "bfloor", &(struct rtnl_bridge_opts){ .mac = fl->mac,
									  .alias = "netd:floor",
									  .group = FW_BRIDGE_GROUP,
									  .no_ipv6 = true },
			       &fl->ifindex);
	if (r < 0)
		bu_die("bridge: %s %s", strerror(-r), rtnl_errmsg(rt));
	fl->addr.ifindex = fl->ifindex;
	if ((r = rtnl_addr_add(rt, &fl->addr)) < 0)
		bu_die("address: %s", strerror(-r));
	if ((r = fw_sync(fl->fw, &fl->fn, 1)) < 0)
		bu_die("fw_sync: %s %s", strerror(-r), fw_errmsg(fl->fw));
	if ((r = dhcp_write_files(&fl->dn, &fl->paths, &changed)) < 0)
		bu_die("dnsmasq files: %s", strerror(-r));
	if ((r = dhcp_spawn(NULL, &fl->paths, &pid)) < 0)
		bu_die("dnsmasq: %s", dhcp_errmsg());
	return pid;
}

static void floor_stop(struct floor_net *fl, struct rtnl *rt, pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	(void)rtnl_link_delete(rt, fl->ifindex);
	(void)dhcp_remove_files(&fl->paths);
}

/*
 * N networks like netd's others (untimed): a bridge (IPv6 off, as netd
 * makes it for an IPv4-only network) with an address each, and, with
 * --prefill-dnsmasq, a dnsmasq each, as netd runs one per network: every
 * running dnsmasq listens for the host's address and route changes, so a
 * network start wakes them all up.  Their pids go to *ret_pids.
 */
/*
 * As netd does once a dnsmasq of an IPv4-only network runs: its netlink
 * socket taken out of its multicast groups so that it sleeps through the
 * host's address and route changes (dhcp_quiet_netlink).
 */
static void quiet_when_up(const struct dhcp_paths *paths, pid_t pid)
{
	uint64_t end = bu_now_ns() + 10000000000ull;
	pid_t found = 0;
	int pidfd, r;

	while ((dhcp_find(paths, &found) != 0 || found != pid) && bu_now_ns() < end)
		usleep(1000);
	if (found != pid)
		bu_die("dnsmasq %d wrote no pid file", (int)pid);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || (r = dhcp_quiet_netlink(pid, pidfd)) < 0)
		bu_die("dhcp_quiet_netlink(%d): %s", (int)pid, dhcp_errmsg());
	close(pidfd);
}

static void prefill(struct rtnl *rt, const struct opts *o, pid_t **ret_pids)
{
	uint64_t t0 = bu_now_ns();
	pid_t *pids = calloc((size_t)o->prefill + 1, sizeof(*pids));

	if (!pids)
		bu_die("out of memory");
	for (long i = 1; i <= o->prefill; i++) {
		struct rtnl_addr a = { .family = AF_INET, .prefixlen = 24 };
		char name[IF_NAMESIZE], net[32], ip[32], lo[32], hi[32];
		int r;

		snprintf(name, sizeof(name), "bpf%ld", i % 100000);
		snprintf(net, sizeof(net), "pf%ld", i);
		snprintf(ip, sizeof(ip), "10.%ld.%ld.1", 100 + i / 250, i % 250);
		snprintf(lo, sizeof(lo), "10.%ld.%ld.100", 100 + i / 250, i % 250);
		snprintf(hi, sizeof(hi), "10.%ld.%ld.200", 100 + i / 250, i % 250);
		inet_pton(AF_INET, ip, &a.addr.v4);
		r = rtnl_bridge_create(rt, name, &(struct rtnl_bridge_opts){ .group = FW_BRIDGE_GROUP,
									     .no_ipv6 = true },
				       &a.ifindex);
		if (r < 0 || (r = rtnl_addr_add(rt, &a)) < 0)
			bu_die("prefill %s: %s", name, strerror(-r));
		if (o->prefill_dnsmasq) {
			struct dhcp_subnet sub = { .host.family = AF_INET, .prefixlen = 24 };
			struct dhcp_network dn = { .name = net, .bridge = name, .subnets = &sub,
						   .n_subnets = 1, .dhcp = true,
						   .range_prefixlen = 24, .lease_time = 3600,
						   .dns = true };
			struct dhcp_paths paths;
			unsigned int changed = 0;

			sub.host.a.v4 = a.addr.v4;
			dn.range_start.family = dn.range_end.family = AF_INET;
			inet_pton(AF_INET, lo, &dn.range_start.a.v4);
			inet_pton(AF_INET, hi, &dn.range_end.a.v4);
			if (dhcp_paths(o->run_dir, o->state_dir, net, &paths) < 0 ||
			    dhcp_write_files(&dn, &paths, &changed) < 0 ||
			    dhcp_spawn(NULL, &paths, &pids[i - 1]) < 0)
				bu_die("prefill %s: dnsmasq: %s", net, dhcp_errmsg());
			quiet_when_up(&paths, pids[i - 1]);
		}
	}
	printf("floor: %ld other bridges with addresses%s made in %.1f s\n", o->prefill,
	       o->prefill_dnsmasq ? " and dnsmasqs" : "", bu_ms(t0, bu_now_ns()) / 1000);
	*ret_pids = pids;
}

static void prefill_stop(const struct opts *o, pid_t *pids)
{
	for (long i = 0; i < o->prefill; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (long i = 0; i < o->prefill; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	free(pids);
}

static int cmd_floor(const struct opts *o)
{
	struct bu_samples st = { 0 }, ans = { 0 };
	struct prober pr = { 0 };
	struct floor_net fl;
	pid_t *pids = NULL;
	char label[128];

	if (!o->guest_ns || !o->veth || !o->run_dir || !o->state_dir || !o->label || !o->out ||
	    o->repeat < 1)
		bu_die("floor needs --guest-ns, --veth, --run-dir, --state-dir, --label, --repeat, --out");
	prober_open(&pr, o);
	floor_init(&fl, o);
	prefill(pr.rt, o, &pids);
	for (long k = 0; k < o->repeat; k++) {
		uint64_t t0 = bu_now_ns(), t1, t2;
		pid_t pid = floor_start(&fl, pr.rt);

		t1 = bu_now_ns();
		t2 = probe(&pr, "bfloor");
		bu_samples_add(&st, bu_ms(t0, t1));
		bu_samples_add(&ans, bu_ms(t0, t2));
		floor_stop(&fl, pr.rt, pid);
	}
	snprintf(label, sizeof(label), "floor %s: bridge+address+nft batch+dnsmasq spawned", o->label);
	bu_print(label, &st);
	snprintf(label, sizeof(label), "floor %s: to DHCP answer", o->label);
	bu_print(label, &ans);
	snprintf(label, sizeof(label), "b2-start-floor-%s", o->label);
	save(&st, o->out, label);
	snprintf(label, sizeof(label), "b2-answer-floor-%s", o->label);
	save(&ans, o->out, label);
	bu_samples_free(&st);
	bu_samples_free(&ans);
	prefill_stop(o, pids);
	fw_close(fl.fw);
	bu_probe_close(&pr.p);
	rtnl_close(pr.rt);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "names", required_argument, NULL, 'n' },
		{ "guest-ns", required_argument, NULL, 'g' },
		{ "veth", required_argument, NULL, 'v' },
		{ "probe-at", required_argument, NULL, 'p' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "prefill", required_argument, NULL, 'P' },
		{ "prefill-dnsmasq", no_argument, NULL, 'D' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "state-dir", required_argument, NULL, 'T' },
		{ "label", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "index-base", required_argument, NULL, 'B' },
		{ 0 }
	};
	struct opts o = { 0 };
	const char *cmd;
	int ch;

	if (argc < 2)
		bu_die("usage: bench-net netd|floor [options] (see the source's header)");
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o.socket = optarg; break;
		case 'n': o.names = optarg; break;
		case 'g': o.guest_ns = optarg; break;
		case 'v': o.veth = optarg; break;
		case 'p': o.probe_at = optarg; break;
		case 'r': o.repeat = atol(optarg); break;
		case 'P': o.prefill = atol(optarg); break;
		case 'D': o.prefill_dnsmasq = true; break;
		case 'R': o.run_dir = optarg; break;
		case 'T': o.state_dir = optarg; break;
		case 'l': o.label = optarg; break;
		case 'o': o.out = optarg; break;
		case 'B': o.index_base = atol(optarg); break;
		default: bu_die("unknown option");
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "netd") == 0)
		return cmd_netd(&o);
	if (strcmp(cmd, "floor") == 0)
		return cmd_floor(&o);
	bu_die("unknown command %s", cmd);
}
