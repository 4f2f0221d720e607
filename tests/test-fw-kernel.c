/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel test of the fw library, in a private network namespace (the
 * process unshares one first; `nft`, run as a child, inherits it).
 *
 * Loads rulesets for every mode and for a nat+routed+isolated set, checks
 * them with `nft list`, replaces them, provokes a kernel error (a table
 * inet netd owned by another netlink socket), loads a large batch, and
 * removes everything, twice.  Skips (77) unless root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
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

#include "firewall/fw.h"

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
		"chain web-from {", "chain web-to {", "chain web-in {",
		"chain web-masq {", "chain web-dnat {", "chain lab-from {",
		"chain lab-to {", "chain lab-in {", "chain iso-from {",
		"chain iso-to {", "chain iso-in {",
		"\"netd-web\" : jump web-from",
		"10.10.0.0/24 : jump web-masq",
		"fd00:10::/64 : jump web-masq",
		"tcp . 8080 : jump web-dnat",
		"iifname vmap @from_bridge", "oifname vmap @to_bridge",
		"iifname vmap @input_bridge",
		"fib daddr type local meta l4proto . th dport vmap @dnat",
		"ip saddr vmap @masq4", "ip6 saddr vmap @masq6",
		"oifname @bridges drop", "oifname != \"eth0\" drop",
		"ip saddr 10.10.0.0/24 accept", "ct status dnat accept",
		"dnat ip to 10.10.0.10:80", "dnat ip6 to [fd00:10::10]:53",
		"oifname != \"eth0\" return", "masquerade",
		"ip daddr 10.30.0.1 udp dport 53 accept",
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
	check(run(NULL, "nft get element inet netd masq4 '{ 10.10.0.77 }' "
		  ">/dev/null 2>&1") == 0, "masq4 interval holds 10.10.0.77");
	check(run(NULL, "nft get element inet netd masq4 '{ 10.10.1.1 }' "
		  ">/dev/null 2>&1") != 0, "masq4 does not hold 10.10.1.1");
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
	check(text && !strstr(text, "lab-") && !strstr(text, "netd-lab"),
	      "network lab is gone after the re-sync");
	check(text && strstr(text, "chain db-from {") &&
	      strstr(text, "oifname != \"eth1\" drop") &&
	      strstr(text, "iifname \"eth1\" accept"),
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
	check(run(NULL, "nft list chain inet netd n299-dnat 2>/dev/null | "
		  "grep -q 'dnat ip to 10.1.43.1:80'") == 0,
	      "the last network's chains are loaded");
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

	ret = run(NULL, "ip link add netd-web type bridge && "
		  "ip link set netd-web up && "
		  "ip addr add 10.10.0.1/24 dev netd-web && "
		  "ip link add vguest type veth peer name vguest-p && "
		  "ip link set vguest master netd-web up && "
		  "ip link set vguest-p up && ip neigh add 10.10.0.10 "
		  "lladdr 02:00:00:00:00:10 dev netd-web nud permanent 2>&1");
	check(ret == 0, "created bridge netd-web with a guest port");
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
	test_large(fw);
	test_remove(fw);
	fw = fw_close(fw);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
