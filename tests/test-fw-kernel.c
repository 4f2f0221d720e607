/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel test of the fw library, in a private network namespace (the
 * process unshares one first; `nft`, run as a child, inherits it).
 *
 * Loads rulesets for every mode and for a nat+routed+isolated set, checks
 * them with `nft list`, replaces them, provokes a kernel error (a table
 * inet netd owned by another netlink socket), loads a large batch, and
 * removes everything, twice.  Port protection (table bridge netd): loads
 * it, changes ports one by one, and sends real frames from a guarded and
 * an unguarded bridge port to see which ones the bridge lets through.
 * One network at a time: fw_sync() of two networks, then adds, removes
 * and updates one by one, comparing the table after each step with what
 * fw_sync() of the same set makes (in a child's namespace); a network
 * with a prefix length new to the table (its slots are made on the
 * way); clashes the kernel must refuse; a missing table; and the time
 * of an addition with 1 and with 500 networks present (printed, not
 * asserted).
 * Skips (77) unless root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "firewall/fw-private.h"

static int failures;

__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

/* Run a shell command; its output in *out (caller frees), exit status
 * returned (-1 if it could not run). */
static int run(char **out, const char *fmt, ...)
{
	char cmd[512], chunk[4096];
	size_t len = 0, n;
	char *text = NULL, *grown;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		grown = realloc(text, len + n + 1);
		if (!grown)
			abort();
		text = grown;
		memcpy(text + len, chunk, n);
		len += n;
		text[len] = '\0';
	}
	status = pclose(p);
	if (out)
		*out = text ? text : strdup("");
	else
		free(text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *nft_list(void)
{
	char *out = NULL;

	if (run(&out, "nft list table inet netd 2>&1") != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Wait (at most 5 s) until bridge port PORT forwards: a port comes up
 * when the kernel's link watch notices its carrier, up to a second after
 * the link was set up, longer on a loaded machine.  (Not through
 * /sys/class/net: sysfs shows the namespace that mounted it.) */
static bool wait_forwarding(const char *port)
{
	for (int tick = 0; tick < 500; tick++) {
		if (run(NULL, "ip -d link show dev %s | "
			"grep -q 'bridge_slave state forwarding'", port) == 0)
			return true;
		(void)poll(NULL, 0, 10);
	}
	return false;
}

static struct fw_prefix pfx(int family, const char *host, uint8_t len)
{
	struct fw_prefix p = { .family = family, .len = len };

	if (inet_pton(family, host, &p.host) != 1)
		abort();
	return p;
}

static struct fw_forward fwd(uint8_t proto, uint16_t host_port, int family,
			     const char *guest, uint16_t guest_port)
{
	struct fw_forward f = { .proto = proto, .host_port = host_port,
				.family = family, .guest_port = guest_port };

	if (inet_pton(family, guest, &f.guest) != 1)
		abort();
	return f;
}

static struct fw_prefix web_pfx[2], lab_pfx[1], iso_pfx[2], db_pfx[1];
static struct fw_forward web_fwd[2];
static struct fw_network nets[4];

static void fixtures_init(void)
{
	web_pfx[0] = pfx(AF_INET, "10.10.0.1", 24);
	web_pfx[1] = pfx(AF_INET6, "fd00:10::1", 64);
	web_fwd[0] = fwd(IPPROTO_TCP, 8080, AF_INET, "10.10.0.10", 80);
	web_fwd[1] = fwd(IPPROTO_UDP, 5353, AF_INET6, "fd00:10::10", 53);
	lab_pfx[0] = pfx(AF_INET, "10.20.0.1", 24);
	iso_pfx[0] = pfx(AF_INET, "10.30.0.1", 24);
	iso_pfx[1] = pfx(AF_INET6, "fd00:30::1", 64);
	db_pfx[0] = pfx(AF_INET, "10.40.0.1", 24);
	nets[0] = (struct fw_network){ "web", "netd-web", FW_MODE_NAT, "eth0",
				       web_pfx, 2, web_fwd, 2 };
	nets[1] = (struct fw_network){ "lab", "netd-lab", FW_MODE_ROUTED, NULL,
				       lab_pfx, 1, NULL, 0 };
	nets[2] = (struct fw_network){ "iso", "netd-iso", FW_MODE_ISOLATED,
				       NULL, iso_pfx, 2, NULL, 0 };
	nets[3] = (struct fw_network){ "db", "netd-db", FW_MODE_ROUTED, "eth1",
				       db_pfx, 1, NULL, 0 };
}

static void check_contains(const char *text, const char *const *needles,
			   size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		check(text && strstr(text, needles[i]) != NULL,
		      "%s: listing has '%s'", what, needles[i]);
}

static void test_modes(struct fw *fw)
{
	struct fw_network v6only = nets[0];
	int ret;

	for (size_t i = 0; i < 3; i++) {
		ret = fw_sync(fw, &nets[i], 1);
		check(ret == 0, "mode %s alone loads (%d %s)", nets[i].name,
		      ret, fw_errmsg(fw));
	}
	v6only.prefixes = &web_pfx[1];
	v6only.n_prefixes = 1;
	v6only.forwards = &web_fwd[1];
	v6only.n_forwards = 1;
	ret = fw_sync(fw, &v6only, 1);
	check(ret == 0, "nat with an IPv6 prefix only loads (%d %s)", ret,
	      fw_errmsg(fw));
	ret = fw_sync(fw, NULL, 0);
	check(ret == 0, "no networks loads (%d %s)", ret, fw_errmsg(fw));
	check(fw_table_exists(fw) == 1, "table exists with no networks");
}

static void test_three(struct fw *fw)
{
	static const char *const want[] = {
		"\"web\" : \"netd-web\"", "\"netd-lab\" : \"lab\"",
		"\"netd-iso\" . \"netd-iso\"",
		"\"netd-web\" . 10.10.0.0", "\"netd-lab\" . 10.20.0.0",
		"10.10.0.0 : \"netd-web\"", "fd00:10:: : \"netd-web\"",
		"10.10.0.0 . \"eth0\"", "10.10.0.0 . 10.10.0.0",
		"tcp . 8080 : \"netd-web\"", "tcp . 8080 : 10.10.0.10 . 80",
		"udp . 5353 : fd00:10::10 . 53",
		"\"netd-iso\" . 10.30.0.1", "\"netd-iso\" . fd00:30::1",
		"iifgroup 7234915 jump between_bridges",
		"oifgroup 7234915 drop",
		"iifgroup 7234914 jump from_bridge",
		"oifgroup 7234914 jump to_bridge",
		"oifgroup 7234914/31 jump between_bridges",
		"iifname @isolated jump isolated_input",
		"iifname . oifname @same_bridge accept",
		"iifname @uplinked jump from_uplinked",
		"iifname . oifname != @uplinks drop",
		"iifname . ip saddr & 255.255.255.0 @net4_24 accept",
		"iifname . ip6 saddr & ffff:ffff:ffff:ffff:: @netup6_64 accept",
		"ip saddr & 255.255.255.0 == @nat4_24 jump masq",
		"oifname @nat ct status dnat accept",
		"oifname . iifname @uplinks accept",
		"dnat ip to meta l4proto . th dport map @dnat4",
		"dnat ip6 to meta l4proto . th dport map @dnat6",
		"ip saddr & 255.255.255.0 . ip daddr & 255.255.255.0 "
		"@local4_24_24 accept",
		"ip saddr & 255.255.255.0 . oifname != @egress4_24 accept",
		"masquerade", "iifname . ip daddr @hosts4 udp dport 53 accept",
		"udp checksum set 0", "ip daddr 127.0.0.0/8 return",
		"ip6 daddr ::1 return",
	};
	char *text;
	int ret;

	ret = fw_sync(fw, nets, 3);
	check(ret == 0, "sync nat+routed+isolated (%d %s)", ret,
	      fw_errmsg(fw));
	check(fw_table_exists(fw) == 1, "fw_table_exists() == 1");
	text = nft_list();
	check_contains(text, want, sizeof(want) / sizeof(want[0]), "three");
	check(run(NULL, "nft get element inet netd netup4_24 "
		  "'{ \"netd-web\" . 10.10.0.0 }' >/dev/null 2>&1") == 0,
	      "netup4_24 holds \"netd-web\" . 10.10.0.0 (it has an uplink)");
	check(run(NULL, "nft get element inet netd net4_24 "
		  "'{ \"netd-lab\" . 10.20.0.0 }' >/dev/null 2>&1") == 0,
	      "net4_24 holds \"netd-lab\" . 10.20.0.0 (no uplink)");
	check(run(NULL, "nft get element inet netd nat4_24 '{ 10.20.0.0 }' "
		  ">/dev/null 2>&1") != 0, "nat4_24 does not hold lab's "
	      "10.20.0.0 (routed)");
	check(text && !strstr(text, "10.30.0.0"),
	      "iso's subnet is in no slot");
	printf("---- nft list table inet netd (nat+routed+isolated)\n%s"
	       "----\n", text ? text : "(none)");
	free(text);
	ret = fw_sync(fw, nets, 3);
	check(ret == 0, "syncing the same set again is fine (%d %s)", ret,
	      fw_errmsg(fw));
}

static void test_replace(struct fw *fw)
{
	struct fw_network changed[] = { nets[0], nets[2], nets[3] };
	char *text;
	int ret;

	ret = fw_sync(fw, changed, 3);
	check(ret == 0, "sync web+iso+db (%d %s)", ret, fw_errmsg(fw));
	text = nft_list();
	check(text && !strstr(text, "\"lab\"") && !strstr(text, "netd-lab"),
	      "network lab is gone after the re-sync");
	check(text && strstr(text, "\"netd-db\" . 10.40.0.0") &&
	      strstr(text, "\"netd-db\" . \"eth1\""),
	      "network db is there with its uplink");
	free(text);
	check(run(NULL, "nft list table inet other >/dev/null 2>&1") == 0,
	      "table inet other survives fw_sync");
}

/* A table inet netd owned by another socket: the kernel refuses every
 * message of our batch with EPERM. */
static struct mnl_socket *owner_table(void)
{
	char buf[1024];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER,
						 SOCK_CLOEXEC);
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	size_t len;

	if (!nl || !t || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		abort();
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, "netd");
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	nlh = nftnl_batch_begin(buf, 1);
	len = NLMSG_ALIGN(nlh->nlmsg_len);
	nlh = nftnl_nlmsg_build_hdr(buf + len, NFT_MSG_NEWTABLE, NFPROTO_INET,
				    NLM_F_CREATE | NLM_F_ACK, 2);
	nftnl_table_nlmsg_build_payload(nlh, t);
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	nlh = nftnl_batch_end(buf + len, 3);
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	nftnl_table_free(t);
	if (mnl_socket_sendto(nl, buf, len) < 0 ||
	    mnl_socket_recvfrom(nl, buf, sizeof(buf)) < 0)
		abort();
	nlh = (struct nlmsghdr *)buf;
	check(nlh->nlmsg_type == NLMSG_ERROR &&
	      ((struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error == 0,
	      "another socket owns table inet netd");
	return nl;
}

static void test_error(struct fw *fw)
{
	struct mnl_socket *owner;
	int ret;

	check(fw_remove(fw) == 0, "remove before the error test");
	owner = owner_table();
	ret = fw_sync(fw, nets, 3);
	check(ret < 0 && fw_errmsg(fw)[0] != '\0',
	      "sync into a foreign-owned table fails: %d \"%s\"", ret,
	      fw_errmsg(fw));
	check(strstr(fw_errmsg(fw), "table inet netd") != NULL,
	      "the message names the failing object");
	mnl_socket_close(owner);
	ret = fw_sync(fw, nets, 3);
	check(ret == 0 && fw_errmsg(fw)[0] == '\0',
	      "sync works once the owner is gone (%d %s)", ret,
	      fw_errmsg(fw));
}

static void test_large(struct fw *fw)
{
	static struct fw_network many[300];
	static char names[300][16], bridges[300][16];
	static struct fw_prefix pfxs[300];
	static struct fw_forward fwds[300];
	struct timespec a, b;
	int ret;

	for (size_t i = 0; i < 300; i++) {
		snprintf(names[i], 16, "n%zu", i);
		snprintf(bridges[i], 16, "netd-n%zu", i);
		pfxs[i] = (struct fw_prefix){ .family = AF_INET, .len = 24 };
		pfxs[i].host.v4.s_addr = htonl(0x0a000001 | (uint32_t)i << 8);
		fwds[i] = (struct fw_forward){ IPPROTO_TCP,
			(uint16_t)(20000 + i), AF_INET, { .v4 = pfxs[i].host.v4 },
			80 };
		many[i] = (struct fw_network){ names[i], bridges[i],
			FW_MODE_NAT, NULL, &pfxs[i], 1, &fwds[i], 1 };
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	ret = fw_sync(fw, many, 300);
	clock_gettime(CLOCK_MONOTONIC, &b);
	check(ret == 0, "sync 300 nat networks in one batch (%d %s), %.0f ms",
	      ret, fw_errmsg(fw), (double)(b.tv_sec - a.tv_sec) * 1e3 +
	      (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	check(run(NULL, "nft get element inet netd dnat4 '{ tcp . 20299 }' "
		  "2>/dev/null | grep -q '10.1.43.1 . 80'") == 0,
	      "the last network's port forward is loaded");
}

/* Send one UDP datagram from the host's 10.10.0.1:SPORT to 10.10.0.10:68. */
static bool send_udp(uint16_t sport)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_port = htons(sport) };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(68) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	inet_pton(AF_INET, "10.10.0.1", &src.sin_addr);
	inet_pton(AF_INET, "10.10.0.10", &dst.sin_addr);
	ok = fd >= 0 && bind(fd, (void *)&src, sizeof(src)) == 0 &&
	     sendto(fd, "hello", 5, 0, (void *)&dst, sizeof(dst)) == 5;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The UDP checksum of the next datagram to port 68 seen on fd, or -1. */
static int recv_udp_csum(int fd, uint16_t sport)
{
	char buf[2048];

	for (int tries = 0; tries < 20; tries++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct iphdr *ip = (const void *)buf;
		const struct udphdr *udp;

		if (n < 0)
			return -1;
		if ((size_t)n < sizeof(*ip) + sizeof(*udp) ||
		    ip->protocol != IPPROTO_UDP)
			continue;
		udp = (const void *)(buf + ip->ihl * 4);
		if (ntohs(udp->dest) == 68 && ntohs(udp->source) == sport)
			return ntohs(udp->check);
	}
	return -1;
}

/* A guest port of bridge netd-web, seen from a packet socket: DHCP
 * replies (source port 67) leave with UDP checksum 0, others do not. */
static void test_dhcp_csum(struct fw *fw)
{
	struct timeval tv = { .tv_sec = 1 };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_IP) };
	int fd, ret, c67, c66;

	ret = run(NULL, "ip link add netd-web group 0x6e6562 type bridge && "
		  "ip link set netd-web up && "
		  "ip addr add 10.10.0.1/24 dev netd-web && "
		  "ip link add vguest type veth peer name vguest-p && "
		  "ip link set vguest master netd-web up && "
		  "ip link set vguest-p up && ip neigh add 10.10.0.10 "
		  "lladdr 02:00:00:00:00:10 dev netd-web nud permanent 2>&1");
	check(ret == 0 && wait_forwarding("vguest"),
	      "created bridge netd-web with a guest port, forwarding");
	ret = fw_sync(fw, nets, 3);
	check(ret == 0, "sync for the checksum test (%d %s)", ret,
	      fw_errmsg(fw));
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	ll.sll_ifindex = (int)if_nametoindex("vguest-p");
	if (fd < 0 || bind(fd, (void *)&ll, sizeof(ll)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		check(0, "packet socket on vguest-p: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	c67 = send_udp(67) ? recv_udp_csum(fd, 67) : -1;
	c66 = send_udp(66) ? recv_udp_csum(fd, 66) : -1;
	close(fd);
	check(c67 == 0, "udp 67 -> 68 onto our bridge has checksum 0 (%d)",
	      c67);
	check(c66 > 0, "udp 66 -> 68 keeps a checksum (%d)", c66);
}

/* ---- table bridge netd: port protection, with real frames ----
 *
 *            vg1-p      vg2-p      vw-p          (AF_PACKET sockets:
 *  "guests"    |          |          |            send on vg1-p/vg2-p,
 *             vg1        vg2         vw            listen on vw-p and
 *              +----------+----------+             on the bridge itself)
 *                 bridge netd-g 10.99.0.1/24
 *
 * vg1 is guarded (MAC 02:00:00:00:00:01, later 10.99.0.11), vg2 is not.
 * Every frame goes to the broadcast MAC, so the bridge floods it to vw
 * and passes it up to the host.  A frame under test is followed by a
 * sentinel from vg2; both are sent from one CPU, so they travel through
 * one backlog queue in order, and once the sentinel has arrived on a
 * socket, the frame under test has arrived before it or not at all:
 * no sleeps, only a bounded wait for the sentinel.
 */

#define GUARD_WAIT_MS		2000

static const uint8_t mac_g1[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_g2[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t mac_evil[6] = { 0x02, 0, 0, 0, 0, 0x66 };
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct frame {
	uint8_t b[256];
	size_t len;
	uint8_t mark[8];	/* "netd" + a sequence number, at the end */
};

struct guard_rig {
	int tx;			/* sends on any interface */
	int rx_port;		/* on vw-p: what the bridge forwarded */
	int rx_host;		/* on netd-g: what reached the host */
	int idx_g1, idx_g2;
};

static void put(struct frame *f, const void *p, size_t n)
{
	if (f->len + n > sizeof(f->b))
		abort();
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put16(struct frame *f, uint16_t v)
{
	uint16_t be = htons(v);

	put(f, &be, sizeof(be));
}

static void put_addr(struct frame *f, int family, const char *text)
{
	uint8_t a[16];

	if (inet_pton(family, text, a) != 1)
		abort();
	put(f, a, family == AF_INET ? 4 : 16);
}

static void put_eth(struct frame *f, const uint8_t *src, uint16_t type)
{
	f->len = 0;
	put(f, mac_bcast, 6);
	put(f, src, 6);
	put16(f, type);
}

static void put_mark(struct frame *f)
{
	static uint32_t seq;
	uint32_t be = htonl(++seq);

	memcpy(f->mark, "netd", 4);
	memcpy(f->mark + 4, &be, 4);
	put(f, f->mark, sizeof(f->mark));
}

static uint16_t csum16(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ARP OP from src (sender hw sha, sender ip spa) for tpa; hlen is 6 for
 * a well-formed frame. */
static struct frame arp_frame(const uint8_t *src, const uint8_t *sha,
			      const char *spa, const char *tpa, uint16_t op,
			      uint8_t hlen)
{
	static const uint8_t zero[6];
	struct frame f;

	put_eth(&f, src, ETH_P_ARP);
	put16(&f, 1);
	put16(&f, ETH_P_IP);
	put(&f, (uint8_t[]){ hlen, 4 }, 2);
	put16(&f, op);
	put(&f, sha, 6);
	put_addr(&f, AF_INET, spa);
	put(&f, zero, 6);
	put_addr(&f, AF_INET, tpa);
	put_mark(&f);
	return f;
}

/* UDP over IPv4, optionally inside an 802.1Q tag. */
static struct frame ip4_udp(const uint8_t *src, const char *saddr,
			    const char *daddr, uint16_t sport, uint16_t dport,
			    bool tagged)
{
	struct frame f;
	size_t ip;
	uint16_t sum;

	put_eth(&f, src, tagged ? ETH_P_8021Q : ETH_P_IP);
	if (tagged) {
		put16(&f, 42);
		put16(&f, ETH_P_IP);
	}
	ip = f.len;
	put(&f, (uint8_t[]){ 0x45, 0 }, 2);
	put16(&f, 20 + 8 + 8);
	put(&f, (uint8_t[]){ 0, 1, 0, 0, 64, IPPROTO_UDP, 0, 0 }, 8);
	put_addr(&f, AF_INET, saddr);
	put_addr(&f, AF_INET, daddr);
	sum = htons(csum16(f.b + ip, 20));
	memcpy(f.b + ip + 10, &sum, 2);
	put16(&f, sport);
	put16(&f, dport);
	put16(&f, 8 + 8);
	put16(&f, 0);		/* no UDP checksum: legal over IPv4 */
	put_mark(&f);
	return f;
}

/* IPv6 from saddr to ff02::1: ICMPv6 of type a, or UDP from port a to
 * port b (checksums are not looked at on the way through a bridge). */
static struct frame ip6_frame(const uint8_t *src, const char *saddr,
			      uint8_t proto, uint16_t a, uint16_t b)
{
	struct frame f;

	put_eth(&f, src, ETH_P_IPV6);
	put(&f, (uint8_t[]){ 0x60, 0, 0, 0 }, 4);
	put16(&f, 8 + 8);
	put(&f, (uint8_t[]){ proto, 255 }, 2);
	put_addr(&f, AF_INET6, saddr);
	put_addr(&f, AF_INET6, "ff02::1");
	if (proto == IPPROTO_ICMPV6) {
		put(&f, (uint8_t[]){ (uint8_t)a, 0, 0, 0 }, 4);
		put(&f, (uint8_t[]){ 0, 0, 0, 0 }, 4);
	} else {
		put16(&f, a);
		put16(&f, b);
		put16(&f, 8 + 8);
		put16(&f, 0);
	}
	put_mark(&f);
	return f;
}

/* An Ethernet frame of another protocol (IEEE local experimental). */
static struct frame other_frame(const uint8_t *src)
{
	struct frame f;

	put_eth(&f, src, 0x88b5);
	put(&f, "payload!", 8);
	put_mark(&f);
	return f;
}

static int tap_open(const char *ifname)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			htons(ETH_P_ALL));

	ll.sll_ifindex = (int)if_nametoindex(ifname);
	if (fd >= 0 && (ll.sll_ifindex == 0 ||
			bind(fd, (void *)&ll, sizeof(ll)) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void tap_drain(int fd)
{
	char buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

static bool send_frame(const struct guard_rig *rig, int ifindex,
		       const struct frame *f)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_ifindex = ifindex, .sll_halen = 6 };

	memcpy(ll.sll_addr, f->b, 6);
	return sendto(rig->tx, f->b, f->len, 0, (void *)&ll, sizeof(ll)) ==
	       (ssize_t)f->len;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read fd until the sentinel arrives: 1 if the frame came before it, 0
 * if not, -1 if the sentinel did not come within GUARD_WAIT_MS.  Frames
 * are recognised by their mark wherever it is (a VLAN tag may have been
 * taken off the front). */
static int tap_saw(int fd, const struct frame *f, const struct frame *sentinel)
{
	int64_t deadline = now_ms() + GUARD_WAIT_MS;
	uint8_t buf[2048];
	int saw = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (void *)&from,
			     &fl);
		if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (memmem(buf, (size_t)n, sentinel->mark, 8))
			return saw;
		if (memmem(buf, (size_t)n, f->mark, 8))
			saw = 1;
	}
}

static long rule_counter(const char *comment)
{
	char *out = NULL, pat[96], *line, *c, *save = NULL;
	long n = -1;

	snprintf(pat, sizeof(pat), "comment \"%s\"", comment);
	if (run(&out, "nft list chain bridge netd guard 2>&1") != 0) {
		free(out);
		return -1;
	}
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, pat) && (c = strstr(line, "packets ")))
			n = strtol(c + 8, NULL, 10);
	free(out);
	return n;
}

/* Send f from the guest side of port ifindex; check that it reaches
 * the other port and the host (pass), or neither, counted by the drop
 * rule commented `rule` when given. */
static void guard_case(const struct guard_rig *rig, const char *what,
		       int ifindex, const struct frame *f, bool pass,
		       const char *rule)
{
	struct frame sentinel = other_frame(mac_g2);
	long before = rule ? rule_counter(rule) : 0, after;
	int port, host;

	tap_drain(rig->rx_port);
	tap_drain(rig->rx_host);
	if (!send_frame(rig, ifindex, f) ||
	    !send_frame(rig, rig->idx_g2, &sentinel)) {
		check(0, "%s: cannot send: %s", what, strerror(errno));
		return;
	}
	port = tap_saw(rig->rx_port, f, &sentinel);
	host = tap_saw(rig->rx_host, f, &sentinel);
	if (port < 0 || host < 0) {
		check(0, "%s: the sentinel frame did not arrive", what);
		return;
	}
	check(port == pass && host == pass, "%s: %s (other port %s, host %s)",
	      what, pass ? "passes" : "dropped", port ? "got it" : "not",
	      host ? "got it" : "not");
	if (!rule)
		return;
	after = rule_counter(rule);
	check(before >= 0 && after == before + 1, "%s: counted by rule "
	      "\"%s\" (%ld -> %ld)", what, rule, before, after);
}

static bool guard_rig_open(struct guard_rig *rig)
{
	cpu_set_t one;
	int cpu = sched_getcpu();
	int ret;

	/* one CPU, one backlog queue: frames stay in the order sent */
	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0)
		return false;
	/* no IPv6 on the guest ends: their own solicitations and reports,
	 * sent from their own MACs, would be counted as spoofing */
	ret = run(NULL, "v6=/proc/sys/net/ipv6/conf; "
		  "ip link add netd-g type bridge stp_state 0 && "
		  "ip link set netd-g up && "
		  "ip addr add 10.99.0.1/24 dev netd-g && "
		  "for p in vg1 vg2 vw; do "
		  "ip link add $p type veth peer name $p-p && "
		  "ip link set $p master netd-g up && "
		  "{ ! [ -d $v6/$p-p ] || echo 1 >$v6/$p-p/disable_ipv6; } && "
		  "ip link set $p-p up || exit 1; done 2>&1");
	check(ret == 0 && wait_forwarding("vg1") && wait_forwarding("vg2") &&
	      wait_forwarding("vw"), "bridge netd-g with ports vg1, vg2, vw, "
	      "forwarding");
	rig->tx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	rig->rx_port = tap_open("vw-p");
	rig->rx_host = tap_open("netd-g");
	rig->idx_g1 = (int)if_nametoindex("vg1-p");
	rig->idx_g2 = (int)if_nametoindex("vg2-p");
	return ret == 0 && rig->tx >= 0 && rig->rx_port >= 0 &&
	       rig->rx_host >= 0 && rig->idx_g1 && rig->idx_g2;
}

static void guard_rig_close(struct guard_rig *rig)
{
	if (rig->tx >= 0)
		close(rig->tx);
	if (rig->rx_port >= 0)
		close(rig->rx_port);
	if (rig->rx_host >= 0)
		close(rig->rx_host);
}

static struct fw_guard g1_guard(bool leased)
{
	struct fw_guard g = { .ifname = "vg1", .has_ip4 = leased };

	memcpy(g.mac, mac_g1, 6);
	inet_pton(AF_INET, "10.99.0.11", &g.ip4);
	return g;
}

/* Before its lease is known: DHCP from 0.0.0.0 and ARP probes only. */
static void guard_before_lease(const struct guard_rig *rig)
{
	struct frame f;

	f = ip4_udp(mac_g1, "0.0.0.0", "255.255.255.255", 68, 67, false);
	guard_case(rig, "DHCPDISCOVER from 0.0.0.0, no lease yet", rig->idx_g1,
		   &f, true, NULL);
	f = arp_frame(mac_g1, mac_g1, "0.0.0.0", "10.99.0.11", 1, 6);
	guard_case(rig, "ARP probe (sender 0.0.0.0), no lease yet",
		   rig->idx_g1, &f, true, NULL);
	f = ip4_udp(mac_g1, "10.99.0.11", "10.99.0.255", 5000, 5000, false);
	guard_case(rig, "IPv4 from 10.99.0.11 before the lease is known",
		   rig->idx_g1, &f, false, "foreign IPv4 source");
	f = arp_frame(mac_g1, mac_g1, "10.99.0.11", "10.99.0.11", 1, 6);
	guard_case(rig, "ARP announcement before the lease is known",
		   rig->idx_g1, &f, false, "ARP with a foreign sender");
}

static void guard_leased_ip4(const struct guard_rig *rig)
{
	struct frame f;

	f = ip4_udp(mac_g1, "10.99.0.11", "10.99.0.255", 5000, 5000, false);
	guard_case(rig, "IPv4 from its own 10.99.0.11", rig->idx_g1, &f, true,
		   NULL);
	f = ip4_udp(mac_g1, "10.99.0.12", "10.99.0.255", 5000, 5000, false);
	guard_case(rig, "IPv4 from another guest's 10.99.0.12", rig->idx_g1,
		   &f, false, "foreign IPv4 source");
	f = ip4_udp(mac_evil, "10.99.0.11", "10.99.0.255", 5000, 5000, false);
	guard_case(rig, "a frame from another source MAC", rig->idx_g1, &f,
		   false, "foreign source MAC");
	f = ip4_udp(mac_g1, "10.99.0.11", "255.255.255.255", 67, 68, false);
	guard_case(rig, "DHCPOFFER (udp sport 67)", rig->idx_g1, &f, false,
		   "DHCP server");
	f = ip4_udp(mac_g1, "0.0.0.0", "255.255.255.255", 68, 67, false);
	guard_case(rig, "DHCPREQUEST from 0.0.0.0 with a lease (reboot)",
		   rig->idx_g1, &f, true, NULL);
	f = ip4_udp(mac_g1, "10.99.0.11", "10.99.0.255", 5000, 5000, true);
	guard_case(rig, "802.1Q-tagged IPv4", rig->idx_g1, &f, false,
		   "802.1Q tag");
	put_eth(&f, mac_g1, ETH_P_IP);
	put(&f, (uint8_t[]){ 0x45, 0, 0, 20 }, 4);
	put_mark(&f);
	guard_case(rig, "a truncated IPv4 header", rig->idx_g1, &f, false,
		   "foreign IPv4 source");
}

static void guard_leased_arp(const struct guard_rig *rig)
{
	struct frame f;

	f = arp_frame(mac_g1, mac_g1, "10.99.0.11", "10.99.0.1", 2, 6);
	guard_case(rig, "ARP reply from its own 10.99.0.11", rig->idx_g1, &f,
		   true, NULL);
	f = arp_frame(mac_g1, mac_g1, "10.99.0.1", "10.99.0.1", 2, 6);
	guard_case(rig, "ARP reply claiming the gateway 10.99.0.1",
		   rig->idx_g1, &f, false, "ARP with a foreign sender");
	f = arp_frame(mac_g1, mac_evil, "10.99.0.11", "10.99.0.1", 2, 6);
	guard_case(rig, "ARP with another sender MAC", rig->idx_g1, &f, false,
		   "ARP with a foreign sender");
	f = arp_frame(mac_g1, mac_g1, "10.99.0.11", "10.99.0.1", 2, 8);
	guard_case(rig, "ARP that is not Ethernet/IPv4 (hlen 8)", rig->idx_g1,
		   &f, false, "ARP with a foreign sender");
}

static void guard_leased_ip6(const struct guard_rig *rig)
{
	struct frame f;

	f = ip6_frame(mac_g1, "fe80::1", IPPROTO_ICMPV6, 134, 0);
	guard_case(rig, "IPv6 router advertisement", rig->idx_g1, &f, false,
		   "router advertisement");
	f = ip6_frame(mac_g1, "fe80::1", IPPROTO_ICMPV6, 137, 0);
	guard_case(rig, "ICMPv6 redirect", rig->idx_g1, &f, false,
		   "ICMPv6 redirect");
	f = ip6_frame(mac_g1, "fe80::11", IPPROTO_UDP, 547, 546);
	guard_case(rig, "DHCPv6 reply (udp sport 547)", rig->idx_g1, &f, false,
		   "DHCPv6 server");
	f = ip6_frame(mac_g1, "fe80::11", IPPROTO_ICMPV6, 128, 0);
	guard_case(rig, "ICMPv6 echo from a link-local address", rig->idx_g1,
		   &f, true, NULL);
	f = ip6_frame(mac_g1, "fd00:99::11", IPPROTO_UDP, 5000, 5000);
	guard_case(rig, "IPv6 from the network's prefix", rig->idx_g1, &f,
		   true, NULL);
	f = ip6_frame(mac_g1, "2001:db8::11", IPPROTO_UDP, 5000, 5000);
	guard_case(rig, "IPv6 from outside the prefixes", rig->idx_g1, &f,
		   false, "foreign IPv6 source");
	f = other_frame(mac_g1);
	guard_case(rig, "another protocol from its own MAC", rig->idx_g1, &f,
		   true, NULL);
}

/* vg2 is not guarded: everything passes. */
static void guard_unguarded(const struct guard_rig *rig)
{
	struct frame f;

	f = ip4_udp(mac_evil, "10.99.0.1", "10.99.0.255", 5000, 5000, false);
	guard_case(rig, "unguarded port: foreign MAC and IPv4", rig->idx_g2,
		   &f, true, NULL);
	f = arp_frame(mac_g2, mac_g2, "10.99.0.1", "10.99.0.1", 2, 6);
	guard_case(rig, "unguarded port: ARP claiming the gateway",
		   rig->idx_g2, &f, true, NULL);
	f = ip4_udp(mac_g2, "10.99.0.12", "255.255.255.255", 67, 68, false);
	guard_case(rig, "unguarded port: DHCPOFFER", rig->idx_g2, &f, true,
		   NULL);
	f = ip6_frame(mac_g2, "fe80::1", IPPROTO_ICMPV6, 134, 0);
	guard_case(rig, "unguarded port: router advertisement", rig->idx_g2,
		   &f, true, NULL);
}

static void test_guard_table(struct fw *fw)
{
	static const char *const want[] = {
		"type ifname . ether_addr",
		"\"vg1\" . 02:00:00:00:00:01",
		"\"vg2\" . 02:00:00:00:00:02",
		"elements = { \"vg1\" . 10.99.0.11 }",
		"fd00:99::/64", "fe80::/10",
		"type filter hook prerouting priority dstnat; policy accept;",
		"iifname @guarded jump guard",
		"iifname . ether saddr != @port_mac counter packets 0 "
		"bytes 0 drop",
		"iifname . arp saddr ip @port_ip4 accept",
		"ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 "
		"udp dport 67 accept",
		"iifname . ip saddr @port_ip4 accept",
		"icmpv6 type nd-router-advert counter",
		"ip6 saddr @allow6 accept",
	};
	struct fw_guard g[2] = { g1_guard(true), g1_guard(false) };
	struct fw_prefix v6[] = { pfx(AF_INET, "10.99.0.1", 24),
				  pfx(AF_INET6, "fd00:99::1", 64) };
	char *text = NULL;
	int ret;

	g[1].ifname = "vg2";
	memcpy(g[1].mac, mac_g2, 6);
	ret = fw_guard_clear(fw);
	check(ret == 0 && fw_guard_clear(fw) == 0 &&
	      run(NULL, "nft list table bridge netd >/dev/null 2>&1") != 0 &&
	      fw_guard_table_exists(fw) == 0,
	      "guard clear, twice: no table bridge netd, no error (%d %s)", ret,
	      fw_errmsg(fw));
	ret = fw_guard_sync(fw, NULL, 0, NULL, 0);
	check(ret == 0 && fw_guard_table_exists(fw) == 1,
	      "guard sync with no ports: the table, empty (%d %s)", ret,
	      fw_errmsg(fw));
	check(run(&text, "nft list set bridge netd guarded 2>&1") == 0 &&
	      !strstr(text, "elements"), "no ports: set guarded is empty");
	free(text);
	text = NULL;
	ret = fw_guard_clear(fw);
	check(ret == 0 && run(NULL, "nft list table bridge netd >/dev/null 2>&1") != 0 &&
	      fw_table_exists(fw) == 1,
	      "guard clear deletes table bridge netd, not table inet netd (%d %s)", ret,
	      fw_errmsg(fw));
	ret = fw_guard_sync(fw, g, 2, v6, 2);
	check(ret == 0, "guard sync with 2 ports (%d %s)", ret,
	      fw_errmsg(fw));
	check(run(&text, "nft list table bridge netd 2>&1") == 0,
	      "nft lists table bridge netd");
	check_contains(text, want, sizeof(want) / sizeof(want[0]), "guard");
	printf("---- nft list table bridge netd (2 ports)\n%s----\n",
	       text ? text : "(none)");
	free(text);
	check(fw_table_exists(fw) == 1, "table inet netd is still there");
}

static void test_guard_elements(struct fw *fw)
{
	struct fw_guard g2 = g1_guard(false);
	const char *get = "nft get element bridge netd guarded '{ \"vg2\" }' "
			  ">/dev/null 2>&1";
	int ret;

	g2.ifname = "vg2";
	memcpy(g2.mac, mac_g2, 6);
	ret = fw_guard_set(fw, &g2, NULL);
	check(ret == 0 && run(NULL, "%s", get) != 0,
	      "guard set: vg2 removed (%d %s)", ret, fw_errmsg(fw));
	ret = fw_guard_set(fw, &g2, NULL);
	check(ret == 0, "guard set: removing vg2 again is fine (%d %s)", ret,
	      fw_errmsg(fw));
	ret = fw_guard_set(fw, NULL, &g2);
	check(ret == 0 && run(NULL, "%s", get) == 0,
	      "guard set: vg2 added back (%d %s)", ret, fw_errmsg(fw));
	ret = fw_guard_set(fw, NULL, &g2);
	check(ret == 0, "guard set: adding vg2 twice is fine (%d %s)", ret,
	      fw_errmsg(fw));
	{
		struct fw_guard two[2] = { g1_guard(true), g2 };
		const char *get1 = "nft get element bridge netd guarded "
				   "'{ \"vg1\" }' >/dev/null 2>&1";

		ret = fw_guard_set(fw, NULL, &two[0]);
		check(ret == 0 && run(NULL, "%s", get1) == 0,
		      "guard set: vg1 added (%d %s)", ret, fw_errmsg(fw));
		ret = fw_guard_remove(fw, two, 2);
		check(ret == 0 && run(NULL, "%s", get) != 0 &&
		      run(NULL, "%s", get1) != 0,
		      "guard remove: vg1 and vg2 gone in one batch (%d %s)",
		      ret, fw_errmsg(fw));
		ret = fw_guard_remove(fw, two, 2);
		check(ret == 0, "guard remove: again is fine (%d %s)", ret,
		      fw_errmsg(fw));
		check(fw_guard_remove(fw, NULL, 0) == 0,
		      "guard remove of none is fine");
		ret = fw_guard_set(fw, NULL, &g2);
		check(ret == 0, "guard set: vg2 back (%d)", ret);
	}
}

static void test_guard_traffic(struct fw *fw)
{
	struct guard_rig rig = { .tx = -1, .rx_port = -1, .rx_host = -1 };
	struct fw_guard fresh = g1_guard(false), leased = g1_guard(true);
	struct fw_prefix v6 = pfx(AF_INET6, "fd00:99::1", 64);
	struct frame spoof;
	int ret;

	if (!guard_rig_open(&rig)) {
		check(0, "traffic rig: %s", strerror(errno));
		guard_rig_close(&rig);
		return;
	}
	ret = fw_guard_sync(fw, &fresh, 1, &v6, 1);
	check(ret == 0, "guard vg1, no lease yet (%d %s)", ret, fw_errmsg(fw));
	guard_before_lease(&rig);
	ret = fw_guard_set(fw, &fresh, &leased);
	check(ret == 0, "vg1 got 10.99.0.11 (%d %s)", ret, fw_errmsg(fw));
	guard_leased_ip4(&rig);
	guard_leased_arp(&rig);
	guard_leased_ip6(&rig);
	guard_unguarded(&rig);
	spoof = ip4_udp(mac_evil, "10.99.0.1", "10.99.0.255", 5000, 5000,
			false);
	ret = fw_guard_set(fw, &leased, NULL);
	check(ret == 0, "vg1 no longer guarded (%d %s)", ret, fw_errmsg(fw));
	guard_case(&rig, "spoofing from vg1 once unguarded", rig.idx_g1,
		   &spoof, true, NULL);
	ret = fw_guard_set(fw, NULL, &leased);
	check(ret == 0, "vg1 guarded again (%d %s)", ret, fw_errmsg(fw));
	guard_case(&rig, "spoofing from vg1 guarded again", rig.idx_g1,
		   &spoof, false, "foreign source MAC");
	check(fw_remove(fw) == 0, "fw_remove with the guard table");
	ret = fw_guard_set(fw, &leased, NULL);
	check(ret == -ENOENT, "guard set without the table: -ENOENT (%d %s)",
	      ret, fw_errmsg(fw));
	guard_case(&rig, "spoofing from vg1 with no table", rig.idx_g1,
		   &spoof, true, NULL);
	guard_rig_close(&rig);
}

/* ---- one network at a time: fw_network_add/del/update ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct strv {
	char **v;
	size_t n;
};

static void strv_push(struct strv *s, char *str)
{
	char **v = reallocarray(s->v, s->n + 1, sizeof(*v));

	if (!v || !str)
		abort();
	s->v = v;
	s->v[s->n++] = str;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){ 0 };
}

/* "elements = { a, b,\n c }" as "elements = { a, b, c }", sorted. */
static void put_elements(FILE *out, char *list)
{
	struct strv items = { 0 };
	char *save = NULL, *tok, *open = strchr(list, '{');
	char *close = strrchr(list, '}');

	if (!open || !close || close < open)
		abort();
	*close = '\0';
	for (tok = strtok_r(open + 1, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t len;

		tok += strspn(tok, " \t\n");
		len = strlen(tok);
		while (len && strchr(" \t\n", tok[len - 1]))
			tok[--len] = '\0';
		strv_push(&items, strdup(tok));
	}
	if (items.n > 1)
		qsort(items.v, items.n, sizeof(*items.v), cmp_str);
	fprintf(out, "elements = {");
	for (size_t i = 0; i < items.n; i++)
		fprintf(out, "%s %s", i ? "," : "", items.v[i]);
	fprintf(out, " }\n");
	strv_free(&items);
}

static char *trim(char *line)
{
	return line + strspn(line, " \t");
}

/* The state of normalize(): objects read so far, the one being read. */
struct norm {
	struct strv objs;
	FILE *f;
	char *obj;
	size_t obj_len;
	char *elems;		/* an element list, maybe over several lines */
};

static void norm_line(struct norm *n, const char *t)
{
	char *joined;

	if (n->elems) {
		if (asprintf(&joined, "%s %s", n->elems, t) < 0)
			abort();
		free(n->elems);
		n->elems = joined;
	} else if (n->f && !strncmp(t, "elements = {", 12)) {
		n->elems = strdup(t);
	} else if (!n->f && (!strncmp(t, "set ", 4) || !strncmp(t, "map ", 4) ||
			     !strncmp(t, "chain ", 6))) {
		n->f = open_memstream(&n->obj, &n->obj_len);
		fprintf(n->f, "%s\n", t);
	} else if (n->f && !strcmp(t, "}")) {
		fclose(n->f);
		n->f = NULL;
		strv_push(&n->objs, n->obj);
		n->obj = NULL;
	} else if (n->f) {
		fprintf(n->f, "%s\n", t);
	}
	if (n->elems && strchr(n->elems, '}')) {
		put_elements(n->f, n->elems);
		free(n->elems);
		n->elems = NULL;
	}
}

/* The name of a set or map object ("set NAME {"), or NULL. */
static char *obj_set_name(const char *obj)
{
	if (strncmp(obj, "set ", 4) && strncmp(obj, "map ", 4))
		return NULL;
	return strndup(obj + 4, strcspn(obj + 4, " {\n"));
}

/* Slot sets (fw-slot.c) without elements: an incremental removal leaves
 * them, fw_sync() does not make them. */
static void empty_slots(const struct strv *objs, struct strv *out)
{
	struct fw_slot slot;

	for (size_t i = 0; i < objs->n; i++) {
		char *name = obj_set_name(objs->v[i]);

		if (name && fw_slot_parse(name, &slot) &&
		    !strstr(objs->v[i], "elements = {"))
			strv_push(out, name);
		else
			free(name);
	}
}

static bool line_uses(const char *line, const struct strv *sets)
{
	for (size_t i = 0; i < sets->n; i++) {
		const char *at = strstr(line, sets->v[i]);
		size_t len = strlen(sets->v[i]);

		if (at && at > line && at[-1] == '@' &&
		    (at[len] == ' ' || at[len] == '\0'))
			return true;
	}
	return false;
}

/* An object without what uses the sets in drop: none if it is one of
 * them, its rules that look them up if it is a chain.  The rules of the
 * chains that hold slot rules only are sorted: slots made one at a time
 * append their rule. */
static char *norm_obj(char *obj, const struct strv *drop)
{
	bool sort = !strncmp(obj, "chain from_subnet ", 18) ||
		    !strncmp(obj, "chain postrouting ", 18) ||
		    !strncmp(obj, "chain masq_skip ", 16);
	struct strv rules = { 0 };
	char *name = obj_set_name(obj), *out = NULL, *save = NULL, *l;
	size_t len = 0;
	FILE *f;

	for (size_t i = 0; name && i < drop->n; i++) {
		if (strcmp(name, drop->v[i]) == 0) {
			free(name);
			return NULL;
		}
	}
	free(name);
	f = open_memstream(&out, &len);
	for (l = strtok_r(obj, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (line_uses(l, drop))
			continue;
		if (sort && strncmp(l, "chain ", 6) && strncmp(l, "type ", 5))
			strv_push(&rules, strdup(l));
		else
			fprintf(f, "%s\n", l);
	}
	if (rules.n > 1)
		qsort(rules.v, rules.n, sizeof(*rules.v), cmp_str);
	for (size_t i = 0; i < rules.n; i++)
		fprintf(f, "%s\n", rules.v[i]);
	fclose(f);
	strv_free(&rules);
	return out;
}

/* `nft list table inet netd` in a canonical form: its sets, maps and
 * chains sorted by name, each set's elements sorted, rules in their
 * order but for the slot rules, empty slots left out.  Incremental
 * changes create elements and slots in another order than fw_sync()
 * does, and leave a slot whose last network went; nothing else may
 * differ. */
static char *normalize(const char *listing)
{
	struct norm n = { 0 };
	struct strv drop = { 0 };
	char *copy = strdup(listing ? listing : ""), *save = NULL, *line;
	char *out = NULL;
	size_t out_len = 0;
	FILE *o;

	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		norm_line(&n, trim(line));
	if (n.f)
		fclose(n.f);
	free(n.obj);
	free(n.elems);
	empty_slots(&n.objs, &drop);
	if (n.objs.n > 1)
		qsort(n.objs.v, n.objs.n, sizeof(*n.objs.v), cmp_str);
	o = open_memstream(&out, &out_len);
	for (size_t i = 0; i < n.objs.n; i++) {
		char *obj = norm_obj(n.objs.v[i], &drop);

		if (obj)
			fprintf(o, "%s\n", obj);
		free(obj);
	}
	fclose(o);
	strv_free(&n.objs);
	strv_free(&drop);
	free(copy);
	return out;
}

/* The listing fw_sync() of these networks gives, in a fresh namespace
 * (a child process), normalized. */
static char *sync_listing(const struct fw_network *set, size_t n)
{
	char buf[4096], *text = NULL, *norm;
	size_t len = 0;
	int fds[2], status;
	ssize_t got;
	FILE *f;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		abort();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct fw *child = NULL;
		char *list = NULL;
		bool ok = unshare(CLONE_NEWNET) == 0 &&
			  fw_open(&child) == 0 &&
			  fw_sync(child, set, n) == 0 &&
			  (list = nft_list()) != NULL;

		if (ok)
			ok = write(fds[1], list, strlen(list)) ==
			     (ssize_t)strlen(list);
		_exit(ok ? 0 : 1);
	}
	close(fds[1]);
	f = open_memstream(&text, &len);
	while ((got = read(fds[0], buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)got, f);
	fclose(f);
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		free(text);
		return NULL;
	}
	norm = normalize(text);
	free(text);
	return norm;
}

static char *live_listing(void)
{
	char *text = nft_list(), *norm = text ? normalize(text) : NULL;

	free(text);
	return norm;
}

static void show_difference(const char *a, const char *b)
{
	unsigned int line = 1;
	const char *la = a, *lb = b;

	for (; *a && *a == *b; a++, b++)
		if (*a == '\n') {
			line++;
			la = a + 1;
			lb = b + 1;
		}
	printf("  line %u: live \"%.*s\", fw_sync \"%.*s\"\n", line,
	       (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
}

/* After an incremental change the table must be what fw_sync() of the
 * same networks makes. */
static void same_as_sync(const char *what, const struct fw_network *set,
			 size_t n)
{
	char *live = live_listing(), *want = sync_listing(set, n);
	bool same = live && want && strcmp(live, want) == 0;

	check(same, "%s: nft list table inet netd is what fw_sync() of the "
	      "%zu networks gives", what, n);
	if (!same && live && want)
		show_difference(live, want);
	free(live);
	free(want);
}

/* The control: a set that differs by a port forward must not compare
 * equal, or same_as_sync() could not fail. */
static void differs_from_sync(const char *what, const struct fw_network *set,
			      size_t n)
{
	char *live = live_listing(), *other = sync_listing(set, n);

	check(live && other && strcmp(live, other) != 0 && strstr(live,
	      "\"nb\" : \"netd-nb\""), "%s: the comparison tells it apart",
	      what);
	free(live);
	free(other);
}

static struct fw_prefix nb_pfx[2], nc_pfx[1], x_pfx[1], y_pfx[1];
static struct fw_forward nb_fwd[1];

static struct fw_network net_of(const char *name, const char *bridge,
				enum fw_mode mode, const struct fw_prefix *p,
				size_t n_p, const struct fw_forward *f,
				size_t n_f)
{
	return (struct fw_network){ name, bridge, mode, NULL, p, n_p, f,
				    n_f };
}

/* Networks the kernel must refuse next to nb (with its forward). */
static void incremental_clashes(struct fw *fw, const struct fw_network *nb)
{
	struct fw_network x = net_of("x", "netd-x", FW_MODE_NAT, x_pfx, 1,
				     nb_fwd, 1);
	struct fw_network y = net_of("y", "netd-y", FW_MODE_NAT, y_pfx, 1,
				     NULL, 0);
	struct fw_network z = net_of("z", "netd-nb", FW_MODE_ROUTED, x_pfx, 1,
				     NULL, 0);
	struct fw_network nb2 = *nb;
	char *before = live_listing(), *after;
	int ret;

	ret = fw_network_add(fw, nb);
	check(ret == -EEXIST && strstr(fw_errmsg(fw), "element \"nb\"") &&
	      strstr(fw_errmsg(fw), "a network of this name is loaded"),
	      "adding nb again: -EEXIST (%d \"%s\")", ret, fw_errmsg(fw));
	nb2.bridge = "netd-nb2";
	ret = fw_network_add(fw, &nb2);
	check(ret == -EEXIST && strstr(fw_errmsg(fw), "element \"nb\""),
	      "adding nb again on another bridge: -EEXIST (%d \"%s\")",
	      ret, fw_errmsg(fw));
	ret = fw_network_add(fw, &x);
	check(ret == -EEXIST && strstr(fw_errmsg(fw), "element tcp . 2222"),
	      "a second network forwarding tcp 2222: -EEXIST (%d \"%s\")",
	      ret, fw_errmsg(fw));
	ret = fw_network_add(fw, &y);
	check(ret == -EEXIST && strstr(fw_errmsg(fw), "nat4_24") &&
	      strstr(fw_errmsg(fw), "10.50.0.0"),
	      "nb's nat subnet again: -EEXIST (%d \"%s\")", ret,
	      fw_errmsg(fw));
	ret = fw_network_add(fw, &z);
	check(ret == -EEXIST && strstr(fw_errmsg(fw), "\"netd-nb\""),
	      "a second network on bridge netd-nb: -EEXIST (%d \"%s\")", ret,
	      fw_errmsg(fw));
	ret = fw_network_del(fw, &z);
	check(ret == 0, "removing z, absent and on nb's bridge, is fine "
	      "(%d %s)", ret, fw_errmsg(fw));
	ret = fw_network_del(fw, &y);
	check(ret == 0, "removing y, absent, with nb's nat subnet, is fine "
	      "(%d %s)", ret, fw_errmsg(fw));
	after = live_listing();
	check(before && after && strcmp(before, after) == 0,
	      "the table is unchanged by the refused additions and those "
	      "removals (nb keeps its elements)");
	free(before);
	free(after);
}

/* A network with 10 prefix lengths: 78 slot sets the table lacks, more
 * than one retry finds at a time. */
static void incremental_many_lengths(struct fw *fw,
				     const struct fw_network *nb,
				     const struct fw_network *c)
{
	static const char *const v4[] = { "10.80.0.1", "10.81.0.1",
		"10.82.0.1", "10.83.0.1", "10.84.0.1", "10.85.0.1",
		"10.86.0.1" };
	struct fw_prefix p[10];
	struct fw_network m = net_of("m", "netd-m", FW_MODE_NAT, p, 10, NULL,
				     0);
	char *out = NULL;
	int ret;

	for (size_t i = 0; i < 7; i++)
		p[i] = pfx(AF_INET, v4[i], (uint8_t)(26 + i));
	p[7] = pfx(AF_INET6, "fd00:80::1", 64);
	p[8] = pfx(AF_INET6, "fd00:81::1", 60);
	p[9] = pfx(AF_INET6, "fd00:82::1", 48);
	ret = fw_network_add(fw, &m);
	check(ret == 0, "fw_network_add m, 7 IPv4 and 3 IPv6 prefix lengths "
	      "(%d %s)", ret, fw_errmsg(fw));
	ret = run(&out, "nft list table inet netd | "
		  "grep -cE '^[[:space:]]+(set|map) '");
	check(ret == 0 && out && atoi(out) >= 14 + 78, "m's 78 slot sets are "
	      "there (%d sets and maps in all)", out ? atoi(out) : -1);
	free(out);
	same_as_sync("add m", (struct fw_network[]){ *nb, *c, m }, 3);
	ret = fw_network_del(fw, &m);
	check(ret == 0, "fw_network_del m (%d %s)", ret, fw_errmsg(fw));
	same_as_sync("del m", (struct fw_network[]){ *nb, *c }, 2);
}

/* A network whose prefix length no network has: its slots are made in
 * the batch that adds it; a removal that finds a slot missing leaves it
 * alone. */
static void incremental_new_length(struct fw *fw, const struct fw_network *nb,
				   const struct fw_network *c)
{
	struct fw_prefix p[2] = { pfx(AF_INET, "10.70.0.1", 20),
				  pfx(AF_INET6, "fd00:70::1", 56) };
	struct fw_network w = net_of("w", "netd-w", FW_MODE_NAT, p, 2, NULL, 0);
	int ret;

	w.uplink = "eth0";
	ret = fw_network_add(fw, &w);
	check(ret == 0 && fw_errmsg(fw)[0] == '\0',
	      "fw_network_add w, /20 and /56 with an uplink: new slots (%d %s)",
	      ret, fw_errmsg(fw));
	check(run(NULL, "nft list set inet netd natup6_56 >/dev/null 2>&1") ==
	      0 && run(NULL, "nft get element inet netd egress4_20 "
		       "'{ 10.70.0.0 . \"eth0\" }' >/dev/null 2>&1") == 0,
	      "w's slots hold its elements");
	same_as_sync("add w", (struct fw_network[]){ *nb, *c, w }, 3);
	ret = fw_network_del(fw, &w);
	check(ret == 0, "fw_network_del w (%d %s)", ret, fw_errmsg(fw));
	same_as_sync("del w", (struct fw_network[]){ *nb, *c }, 2);
	check(run(NULL, "nft list set inet netd net4_20 2>/dev/null | "
		  "grep -q elements") != 0,
	      "w's slots stay, empty, until the next fw_sync()");
	p[0].len = 19;
	ret = fw_network_del(fw, &w);
	check(ret == 0 && fw_errmsg(fw)[0] == '\0',
	      "fw_network_del of an absent network whose /19 slots are "
	      "missing is fine (%d %s)", ret, fw_errmsg(fw));
	same_as_sync("del w /19", (struct fw_network[]){ *nb, *c }, 2);
	incremental_many_lengths(fw, nb, c);
}

/* nb renamed nc, on the same bridge, its subnet widened over the old
 * one, the same port: all of it freed and taken again in one batch. */
static void incremental_rename(struct fw *fw, const struct fw_network *nb,
			       const struct fw_network *c)
{
	struct fw_network nc;
	int ret;

	nc_pfx[0] = pfx(AF_INET, "10.50.0.1", 23);
	nc = net_of("nc", "netd-nb", FW_MODE_NAT, nc_pfx, 1, nb_fwd, 1);
	ret = fw_network_update(fw, nb, &nc);
	check(ret == 0, "fw_network_update nb to nc: renamed, /23, same "
	      "bridge and port (%d %s)", ret, fw_errmsg(fw));
	same_as_sync("update nb to nc", (struct fw_network[]){ nc, *c }, 2);
}

static void incremental_no_table(struct fw *fw, const struct fw_network *c)
{
	int ret;

	check(fw_remove(fw) == 0, "fw_remove");
	ret = fw_network_add(fw, c);
	check(ret == -ENOENT && strstr(fw_errmsg(fw), "missing"),
	      "fw_network_add without the table: -ENOENT (%d \"%s\")", ret,
	      fw_errmsg(fw));
	ret = fw_network_update(fw, c, c);
	check(ret == -ENOENT, "fw_network_update without the table: -ENOENT "
	      "(%d \"%s\")", ret, fw_errmsg(fw));
	ret = fw_network_del(fw, c);
	check(ret == 0 && fw_errmsg(fw)[0] == '\0',
	      "fw_network_del without the table is fine (%d %s)", ret,
	      fw_errmsg(fw));
}

/* fw_sync() of web and nb, then one network at a time; after each step
 * the table is compared with what fw_sync() of the same set makes. */
static void test_incremental(struct fw *fw)
{
	struct fw_network a = nets[0], c = nets[2], b, b2;
	char *text;
	int ret;

	nb_pfx[0] = pfx(AF_INET, "10.50.0.1", 24);
	nb_pfx[1] = pfx(AF_INET6, "fd00:50::1", 64);
	nb_fwd[0] = fwd(IPPROTO_TCP, 2222, AF_INET, "10.50.0.10", 22);
	x_pfx[0] = pfx(AF_INET, "10.60.0.1", 24);
	y_pfx[0] = pfx(AF_INET, "10.50.0.129", 24);
	b = net_of("nb", "netd-nb", FW_MODE_NAT, nb_pfx, 2, NULL, 0);
	b2 = net_of("nb", "netd-nb", FW_MODE_NAT, nb_pfx, 2, nb_fwd, 1);
	ret = fw_sync(fw, (struct fw_network[]){ a, b }, 2);
	check(ret == 0, "sync web+nb (%d %s)", ret, fw_errmsg(fw));
	ret = fw_network_add(fw, &c);
	check(ret == 0, "fw_network_add iso (%d %s)", ret, fw_errmsg(fw));
	same_as_sync("add iso", (struct fw_network[]){ a, b, c }, 3);
	differs_from_sync("control: nb with a port forward",
			  (struct fw_network[]){ a, b2, c }, 3);
	ret = fw_network_del(fw, &a);
	check(ret == 0, "fw_network_del web (%d %s)", ret, fw_errmsg(fw));
	same_as_sync("del web", (struct fw_network[]){ b, c }, 2);
	ret = fw_network_update(fw, &b, &b2);
	check(ret == 0, "fw_network_update nb with a forward, tcp 2222 "
	      "(%d %s)", ret, fw_errmsg(fw));
	same_as_sync("update nb", (struct fw_network[]){ b2, c }, 2);
	text = live_listing();
	printf("---- normalized listing after the update\n%s----\n",
	       text ? text : "(none)");
	free(text);
	ret = fw_network_del(fw, &a);
	check(ret == 0, "fw_network_del web again, absent (%d %s)", ret,
	      fw_errmsg(fw));
	same_as_sync("del web again", (struct fw_network[]){ b2, c }, 2);
	incremental_clashes(fw, &b2);
	incremental_new_length(fw, &b2, &c);
	incremental_rename(fw, &b2, &c);
	incremental_no_table(fw, &c);
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define TIMING_RUNS	11

/* Median times of adding net and removing it again, TIMING_RUNS times;
 * false if one failed. */
static bool time_add_del(struct fw *fw, const struct fw_network *net,
			 double *add_ms, double *del_ms)
{
	double adds[TIMING_RUNS], dels[TIMING_RUNS];
	struct timespec t0, t1, t2;
	bool ok = true;

	for (int k = 0; k < TIMING_RUNS; k++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok = fw_network_add(fw, net) == 0 && ok;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ok = fw_network_del(fw, net) == 0 && ok;
		clock_gettime(CLOCK_MONOTONIC, &t2);
		adds[k] = elapsed_ms(&t0, &t1);
		dels[k] = elapsed_ms(&t1, &t2);
	}
	qsort(adds, TIMING_RUNS, sizeof(double), cmp_double);
	qsort(dels, TIMING_RUNS, sizeof(double), cmp_double);
	*add_ms = adds[TIMING_RUNS / 2];
	*del_ms = dels[TIMING_RUNS / 2];
	return ok;
}

/* Printed, not asserted: the batch is the same size whatever the number
 * of networks (test-fw-build checks that), and holds hash set elements
 * only, which the kernel adds without validating the table again. */
static void test_incremental_timing(struct fw *fw)
{
	static struct fw_network many[501];
	static char names[501][16], bridges[501][16];
	static struct fw_prefix pfxs[501];
	static struct fw_forward fwds[501];
	double add1, del1, add500, del500;
	struct timespec a, b;
	bool ok;

	for (size_t i = 0; i < 501; i++) {
		snprintf(names[i], 16, "t%zu", i);
		snprintf(bridges[i], 16, "netd-t%zu", i);
		pfxs[i] = (struct fw_prefix){ .family = AF_INET, .len = 24 };
		pfxs[i].host.v4.s_addr = htonl(0x0a800001 | (uint32_t)i << 8);
		fwds[i] = (struct fw_forward){ IPPROTO_TCP,
			(uint16_t)(30000 + i), AF_INET,
			{ .v4 = pfxs[i].host.v4 }, 80 };
		many[i] = (struct fw_network){ names[i], bridges[i],
			FW_MODE_NAT, NULL, &pfxs[i], 1, &fwds[i], 1 };
	}
	ok = fw_sync(fw, many, 1) == 0 &&
	     time_add_del(fw, &many[500], &add1, &del1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ok = fw_sync(fw, many, 500) == 0 && ok;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ok = time_add_del(fw, &many[500], &add500, &del500) && ok;
	check(ok, "timing: every sync, add and del succeeded (%s)",
	      fw_errmsg(fw));
	printf("timing (median of %d, not asserted): fw_network_add with 1 "
	       "network present %.3f ms, with 500 %.3f ms (x%.1f); "
	       "fw_network_del %.3f ms, %.3f ms; fw_sync of 500: %.1f ms\n",
	       TIMING_RUNS, add1, add500, add500 / add1, del1, del500,
	       elapsed_ms(&a, &b));
}

static void test_remove(struct fw *fw)
{
	int ret;

	check(run(NULL, "nft add table bridge netd 2>&1") == 0,
	      "created table bridge netd");
	ret = fw_remove(fw);
	check(ret == 0, "fw_remove (%d %s)", ret, fw_errmsg(fw));
	check(fw_table_exists(fw) == 0, "fw_table_exists() == 0 after remove");
	check(run(NULL, "nft list table bridge netd >/dev/null 2>&1") != 0,
	      "table bridge netd is gone too");
	check(run(NULL, "nft list table inet other >/dev/null 2>&1") == 0,
	      "table inet other survives fw_remove");
	ret = fw_remove(fw);
	check(ret == 0, "fw_remove again is fine (%d %s)", ret, fw_errmsg(fw));
}

int main(void)
{
	struct fw *fw = NULL;
	int ret;

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	if (run(NULL, "nft --version >/dev/null 2>&1") != 0) {
		printf("SKIP: the nft command is missing\n");
		return 77;
	}
	fixtures_init();
	ret = fw_open(&fw);
	check(ret == 0, "fw_open (%d)", ret);
	if (ret < 0)
		return 1;
	check(fw_table_exists(fw) == 0, "no table inet netd at first");
	check(fw_remove(fw) == 0, "fw_remove with nothing to remove");
	check(run(NULL, "nft add table inet other") == 0,
	      "created table inet other");
	test_modes(fw);
	test_three(fw);
	test_replace(fw);
	test_error(fw);
	test_dhcp_csum(fw);
	test_guard_table(fw);
	test_guard_elements(fw);
	test_guard_traffic(fw);
	test_large(fw);
	test_incremental(fw);
	test_incremental_timing(fw);
	test_remove(fw);
	fw = fw_close(fw);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
