/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the network file parser and validator (no kernel). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netd/config.h"

static int failures;

#define CHECK(cond, ...) do {						\
		if (!(cond)) {						\
			failures++;					\
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
		}							\
	} while (0)

static struct net_config *parse(const char *path, const char *text, struct diag *d)
{
	struct net_config *c = NULL;
	int r = config_parse_buffer(path, text, strlen(text), d, &c);

	CHECK(r == 0 && c, "parse %s returned %d", path, r);
	return c;
}

static bool has_diag(const struct diag *d, const char *prefix, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strncmp(d->lines[i], prefix, strlen(prefix)) == 0 && strstr(d->lines[i], needle))
			return true;
	return false;
}

static void dump(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "   diag: %s\n", d->lines[i]);
}

/* One bad line in an otherwise good file: exactly one diag, at that line. */
static void expect_one(const char *label, const char *text, const char *where, const char *needle)
{
	struct diag d = { 0 };
	struct net_config *c = parse("n/web.conf", text, &d);

	CHECK(c && !c->valid, "%s: should be invalid", label);
	CHECK(d.n == 1, "%s: expected 1 problem, got %zu", label, d.n);
	CHECK(has_diag(&d, where, needle), "%s: expected '%s ... %s'", label, where, needle);
	if (d.n != 1 || !has_diag(&d, where, needle))
		dump(&d);
	net_config_free(c);
	diag_free(&d);
}

static const char good[] =
	"# a web network\n"
	"[Network]\n"
	"Mode=nat            # inline comment\n"
	"Bridge=netd-web\n"
	"Address=10.10.0.1/24\n"
	"Address=fd00:10::1/64\n"
	"Uplink=eth0\n"
	"MTU=1400\n"
	"\n"
	"[DHCP]\n"
	"Range=10.10.0.100-10.10.0.199\n"
	"LeaseTime=2h\n"
	"Reservation=52:54:00:00:00:10,10.10.0.10,web\n"
	"Reservation=52:54:00:00:00:11,10.10.0.11\n"
	"\n"
	"  [DNS]\n"
	"  Domain=web.internal\n"
	"  Record=outside.test,203.0.113.1\n"
	"[Forward]\n"
	"Port=tcp/8080=10.10.0.10:80\n"
	"Port=udp/5353=[fd00:10::10]:53\n"
	"[Access]\n"
	"User=alice\n"
	"Group=kvm\n";

static void test_good(void)
{
	struct diag d = { 0 };
	struct net_config *c = parse("/etc/netd/networks/web.conf", good, &d);
	char s[64];

	CHECK(d.n == 0, "good file has %zu problems", d.n);
	dump(&d);
	if (!c)
		return;
	CHECK(c->valid, "good file invalid");
	CHECK(strcmp(c->name, "web") == 0, "name %s", c->name);
	CHECK(c->mode == NET_MODE_NAT, "mode");
	CHECK(strcmp(c->bridge, "netd-web") == 0, "bridge");
	CHECK(c->n_addrs == 2 && c->addrs[0].len == 24 && c->addrs[1].addr.family == AF_INET6,
	      "addresses");
	CHECK(strcmp(c->uplink, "eth0") == 0 && c->mtu == 1400, "uplink/mtu");
	CHECK(c->dhcp && c->dns, "dhcp and dns default on");
	CHECK(strcmp(ipaddr_to_string(&c->range_start, s, sizeof(s)), "10.10.0.100") == 0, "range");
	CHECK(c->lease_time == 7200, "lease time %u", c->lease_time);
	CHECK(c->n_reservations == 2 && strcmp(c->reservations[0].hostname, "web") == 0 &&
	      c->reservations[1].hostname[0] == '\0' && c->reservations[0].mac[5] == 0x10,
	      "reservations");
	CHECK(strcmp(c->domain, "web.internal") == 0 && c->n_records == 1 &&
	      strcmp(c->records[0].name, "outside.test") == 0, "dns");
	CHECK(c->n_forwards == 2 && c->forwards[0].proto == IPPROTO_TCP &&
	      c->forwards[0].host_port == 8080 && c->forwards[0].guest_port == 80 &&
	      c->forwards[1].guest.family == AF_INET6 && c->forwards[1].line == 21, "forwards");
	CHECK(c->n_users == 1 && c->n_groups == 1 && strcmp(c->groups[0], "kvm") == 0, "access");
	net_config_free(c);
	diag_free(&d);
}

static void test_defaults(void)
{
	struct diag d = { 0 };
	struct net_config *c = parse("x/lab_2.conf", "[Network]\nAddress=192.168.50.1/24\n", &d);
	char s[64], e[64];

	CHECK(d.n == 0 && c && c->valid, "minimal file");
	if (!c)
		return;
	CHECK(c->mode == NET_MODE_NAT && c->autostart && c->dhcp && c->dns, "defaults");
	CHECK(strcmp(c->bridge, "netd-lab_2") == 0, "derived bridge %s", c->bridge);
	ipaddr_to_string(&c->range_start, s, sizeof(s));
	ipaddr_to_string(&c->range_end, e, sizeof(e));
	CHECK(strcmp(s, "192.168.50.128") == 0 && strcmp(e, "192.168.50.254") == 0,
	      "default range %s-%s", s, e);
	CHECK(c->lease_time == 3600, "default lease");
	net_config_free(c);
	diag_free(&d);

	/* Host address in the upper half: the range moves below it. */
	c = parse("x/hi.conf", "[Network]\nAddress=10.1.2.254/24\n", &d);
	ipaddr_to_string(&c->range_start, s, sizeof(s));
	ipaddr_to_string(&c->range_end, e, sizeof(e));
	CHECK(strcmp(s, "10.1.2.1") == 0 && strcmp(e, "10.1.2.127") == 0, "range %s-%s", s, e);
	net_config_free(c);
	diag_free(&d);

	/* IPv6 only: no DHCPv4 by default, and that is fine. */
	c = parse("x/v6.conf", "[Network]\nMode=routed\nAddress=fd00:1::1/64\n", &d);
	CHECK(c && c->valid && !c->dhcp && d.n == 0, "ipv6-only network");
	net_config_free(c);
	diag_free(&d);

	/* Bridge mode needs only Bridge=. */
	c = parse("x/lan.conf", "[Network]\nMode=bridge\nBridge=br0\n", &d);
	CHECK(c && c->valid && !c->dhcp && !c->dns && d.n == 0, "bridge mode");
	net_config_free(c);
	diag_free(&d);
}

static void test_errors(void)
{
	const char *head = "[Network]\nAddress=10.0.0.1/24\n";
	char buf[1024];

#define BAD1(label, extra, line, needle) do {				\
		snprintf(buf, sizeof(buf), "%s%s", head, extra);	\
		expect_one(label, buf, "n/web.conf:" #line ":", needle); \
	} while (0)

	BAD1("mode", "Mode=bridged\n", 3, "Mode=bridged");
	BAD1("no prefix", "Address=10.1.0.1\n", 3, "needs a prefix length");
	BAD1("bad address", "Address=10.1.0.300/24\n", 3, "not an IPv4 or IPv6");
	BAD1("network address", "Address=10.1.0.0/24\n", 3, "network or broadcast");
	BAD1("overlapping own", "Address=10.0.0.5/16\n", 3, "overlaps the Address= on line 2");
	BAD1("range outside", "[DHCP]\nRange=10.0.1.10-10.0.1.20\n", 4, "not inside the subnet");
	BAD1("range host", "[DHCP]\nRange=10.0.0.1-10.0.0.20\n", 4, "host address");
	BAD1("range order", "[DHCP]\nRange=10.0.0.30-10.0.0.20\n", 4, "after the last");
	BAD1("range syntax", "[DHCP]\nRange=10.0.0.30\n", 4, "FIRST-LAST");
	BAD1("reservation outside", "[DHCP]\nReservation=52:54:00:00:00:01,10.9.0.5\n", 4,
	     "not a usable address");
	BAD1("dup reservation ip",
	     "[DHCP]\nReservation=52:54:00:00:00:01,10.0.0.5\nReservation=52:54:00:00:00:02,10.0.0.5\n",
	     5, "already reserved on line 4");
	BAD1("dup reservation mac",
	     "[DHCP]\nReservation=52:54:00:00:00:01,10.0.0.5\nReservation=52:54:00:00:00:01,10.0.0.6\n",
	     5, "MAC already reserved");
	BAD1("numeric hostname", "[DHCP]\nReservation=52:54:00:00:00:01,10.0.0.5,123\n", 4,
	     "not a valid host name");
	BAD1("bad mac", "[DHCP]\nReservation=52:54:00:00:00,10.0.0.5\n", 4, "not a unicast MAC");
	BAD1("multicast mac", "[DHCP]\nReservation=01:00:5e:00:00:01,10.0.0.5\n", 4, "not a unicast MAC");
	BAD1("long bridge", "Bridge=this-name-is-too-long\n", 3, "longer than 15");
	BAD1("bridge chars", "Bridge=br/0\n", 3, "use letters, digits");
	BAD1("unknown section", "[Netwrok]\nMode=nat\n", 3, "unknown section [Netwrok]");
	BAD1("unknown key", "Bridg=br0\n", 3, "unknown key Bridg=");
	BAD1("syntax", "this line has no equals sign\n", 3, "syntax error");
	BAD1("twice", "Mode=nat\nMode=routed\n", 4, "given twice (first on line 3)");
	BAD1("mtu", "MTU=9\n", 3, "MTU=9");
	BAD1("lease", "[DHCP]\nLeaseTime=soon\n", 4, "LeaseTime=soon");
	BAD1("bool", "AutoStart=maybe\n", 3, "AutoStart=maybe");
	BAD1("port syntax", "[Forward]\nPort=tcp:8080=10.0.0.5:80\n", 4, "PROTO/HOSTPORT");
	BAD1("port proto", "[Forward]\nPort=sctp/8080=10.0.0.5:80\n", 4, "tcp or udp");
	BAD1("port range", "[Forward]\nPort=tcp/70000=10.0.0.5:80\n", 4, "1-65535");
	BAD1("port guest", "[Forward]\nPort=tcp/8080=10.7.0.5:80\n", 4, "not inside");
	BAD1("port dup", "[Forward]\nPort=tcp/8080=10.0.0.5:80\nPort=tcp/8080=10.0.0.6:80\n", 5,
	     "already forwarded on line 4");
	BAD1("record", "[DNS]\nRecord=bad name,1.2.3.4\n", 4, "not a valid DNS name");
	BAD1("domain", "[DNS]\nDomain=-bad-\n", 4, "Domain=-bad-");
	BAD1("user", "[Access]\nUser=al ice\n", 4, "not a valid name");
#undef BAD1
}

static void test_misc_errors(void)
{
	struct diag d = { 0 };
	struct net_config *c;
	char *big;

	/* A key before any section. */
	c = parse("n/a.conf", "Mode=nat\n[Network]\nAddress=10.0.0.1/24\n", &d);
	CHECK(!c->valid && has_diag(&d, "n/a.conf:1:", "outside any section"), "no section");
	net_config_free(c);
	diag_free(&d);

	/* No address at all (reported for the file, without a line). */
	c = parse("n/a.conf", "[Network]\nMode=routed\n", &d);
	CHECK(!c->valid && has_diag(&d, "n/a.conf:1:", "no Address="), "no address");
	net_config_free(c);
	diag_free(&d);

	/* A bad network name from the file name. */
	c = parse("n/bad name!.conf", "[Network]\nAddress=10.0.0.1/24\n", &d);
	CHECK(!c->valid && has_diag(&d, "n/bad name!.conf:1:", "network name"), "bad name");
	net_config_free(c);
	diag_free(&d);

	/* A line longer than inih's buffer is one problem, on its own line. */
	big = malloc(600);
	snprintf(big, 600, "[Network]\nAddress=10.0.0.1/24\nBridge=%0400d\nMTU=1500\n", 0);
	c = parse("n/a.conf", big, &d);
	CHECK(!c->valid && d.n == 1 && has_diag(&d, "n/a.conf:3:", "too long"), "long line");
	dump(&d);
	net_config_free(c);
	diag_free(&d);
	free(big);

	/* Several problems in one file: all of them reported. */
	c = parse("n/m.conf", "[Network]\nMode=x\nAddress=1\nMTU=1\n[DHCP]\nLeaseTime=x\n", &d);
	CHECK(d.n >= 4 && has_diag(&d, "n/m.conf:2:", "Mode") && has_diag(&d, "n/m.conf:3:", "Address") &&
	      has_diag(&d, "n/m.conf:4:", "MTU") && has_diag(&d, "n/m.conf:6:", "LeaseTime"),
	      "multiple problems");
	net_config_free(c);
	diag_free(&d);

	/* Bridge mode with addresses. */
	c = parse("n/b.conf", "[Network]\nMode=bridge\nBridge=br0\nAddress=10.0.0.1/24\n", &d);
	CHECK(!c->valid && has_diag(&d, "n/b.conf:2:", "Mode=bridge takes only"), "bridge extras");
	net_config_free(c);
	diag_free(&d);

	/* Forward on a routed network. */
	c = parse("n/r.conf", "[Network]\nMode=routed\nAddress=10.0.0.1/24\n[Forward]\nPort=tcp/1=10.0.0.5:1\n", &d);
	CHECK(!c->valid && has_diag(&d, "n/r.conf:5:", "only for Mode=nat"), "forward routed");
	net_config_free(c);
	diag_free(&d);

	/* A UTF-8 byte order mark is not a syntax error. */
	c = parse("n/bom.conf", "\xef\xbb\xbf[Network]\nAddress=10.0.0.1/24\n", &d);
	CHECK(c && c->valid && d.n == 0, "byte order mark");
	net_config_free(c);
	diag_free(&d);

	/* NUL byte. */
	c = NULL;
	config_parse_buffer("n/z.conf", "[Network]\nMo\0de=nat\nAddress=10.0.0.1/24\n", 38, &d, &c);
	CHECK(c && !c->valid && has_diag(&d, "n/z.conf:2:", "NUL"), "nul byte");
	net_config_free(c);
	diag_free(&d);
}

static void test_set(void)
{
	struct diag d = { 0 };
	struct net_config *nets[4];
	struct host_route routes[2] = { 0 };
	struct host_link links[2] = { 0 };
	struct host_view hv = { routes, 2, links, 2 };

	nets[0] = parse("n/a.conf", "[Network]\nAddress=10.1.0.1/24\n[Forward]\nPort=tcp/80=10.1.0.5:80\n", &d);
	nets[1] = parse("n/b.conf", "[Network]\nBridge=br-b\nAddress=10.1.0.129/25\n", &d);
	nets[2] = parse("n/c.conf", "[Network]\nBridge=eth1\nAddress=10.3.0.1/24\n", &d);
	nets[3] = parse("n/d.conf", "[Network]\nAddress=192.168.7.1/24\n\n[Forward]\nPort=tcp/80=192.168.7.5:80\n", &d);
	CHECK(d.n == 0, "set files parse");

	ipaddr_parse("192.168.0.0", &routes[0].dst);
	routes[0].len = 16;
	strcpy(routes[0].ifname, "eth0");
	/* A route on a configured bridge is ours, not a conflict. */
	ipaddr_parse("10.1.0.0", &routes[1].dst);
	routes[1].len = 24;
	strcpy(routes[1].ifname, "netd-a");
	strcpy(links[0].name, "eth1");
	strcpy(links[0].kind, "veth");
	strcpy(links[1].name, "netd-a");
	strcpy(links[1].kind, "bridge");
	links[1].ours = true;

	config_validate_set(nets, 4, &hv, &d);
	CHECK(nets[0]->valid, "a stays valid");
	CHECK(!nets[1]->valid && has_diag(&d, "n/b.conf:3:", "overlaps network a (n/a.conf:2)"),
	      "overlap between files");
	CHECK(!nets[2]->valid && has_diag(&d, "n/c.conf:2:", "already used by a veth link"),
	      "bridge name taken");
	CHECK(!nets[3]->valid && (has_diag(&d, "n/d.conf:5:", "already forwarded by network a") ||
				  has_diag(&d, "n/d.conf:3:", "route 192.168.0.0/16 dev eth0")),
	      "forward clash or route overlap");
	dump(&d);
	for (int i = 0; i < 4; i++)
		net_config_free(nets[i]);
	diag_free(&d);
}

static void test_default(void)
{
	struct host_route routes[1] = { 0 };
	struct host_view hv = { routes, 1, NULL, 0 };
	struct net_config *c;
	char s[64];

	CHECK(config_default_network(NULL, &c) == 0, "default");
	CHECK(strcmp(c->bridge, "netd0") == 0 && c->dhcp && c->dns && c->mode == NET_MODE_NAT, "default");
	CHECK(strcmp(ipaddr_to_string(&c->addrs[0].addr, s, sizeof(s)), "10.212.0.1") == 0, "first");
	net_config_free(c);

	/* The first candidate is taken by a host route: the next one. */
	ipaddr_parse("10.0.0.0", &routes[0].dst);
	routes[0].len = 8;
	strcpy(routes[0].ifname, "eth0");
	CHECK(config_default_network(&hv, &c) == 0, "default 2");
	CHECK(strcmp(ipaddr_to_string(&c->addrs[0].addr, s, sizeof(s)), "172.31.212.1") == 0,
	      "skips 10/8: %s", s);
	net_config_free(c);

	/* ... unless that route is netd0's own (a restart). */
	strcpy(routes[0].ifname, "netd0");
	CHECK(config_default_network(&hv, &c) == 0, "default 3");
	CHECK(strcmp(ipaddr_to_string(&c->addrs[0].addr, s, sizeof(s)), "10.212.0.1") == 0, "own");
	net_config_free(c);
}

static void test_helpers(void)
{
	struct ipaddr a, b;
	uint8_t mac[6];

	CHECK(mac_parse("52:54:00:AB:cd:ef", mac) == 0 && mac[3] == 0xab, "mac");
	CHECK(mac_parse("52:54:00:ab:cd:e", mac) < 0, "short mac");
	CHECK(mac_parse("52-54-00-ab-cd-ef", mac) < 0, "dashes");
	ipaddr_parse("10.0.0.0", &a);
	ipaddr_parse("10.0.1.0", &b);
	CHECK(!prefixes_overlap(&a, 24, &b, 24) && prefixes_overlap(&a, 23, &b, 24), "overlap v4");
	ipaddr_parse("fd00::", &a);
	ipaddr_parse("fd00:0:0:1::", &b);
	CHECK(!prefixes_overlap(&a, 64, &b, 64) && prefixes_overlap(&a, 48, &b, 64), "overlap v6");
	CHECK(net_mode_from_string("isolated") == NET_MODE_ISOLATED, "mode str");
	for (int m = NET_MODE_NAT; m <= NET_MODE_BRIDGE; m++)
		CHECK(net_mode_to_string((enum net_mode)m) &&
		      net_mode_from_string(net_mode_to_string((enum net_mode)m)) == m, "mode table %d", m);
}

int main(void)
{
	test_good();
	test_defaults();
	test_errors();
	test_misc_errors();
	test_set();
	test_default();
	test_helpers();
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("config: all checks passed\n");
	return 0;
}
