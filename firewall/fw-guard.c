/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Port protection ("anti-spoofing") for guest ports of netd bridges, in
 * table bridge netd.  The ruleset is fixed; ports come and go as set
 * elements keyed by port name, so neither a packet's path nor a port
 * change costs more with more ports.
 *
 * table bridge netd {
 *   set guarded  { type ifname; }                ports under protection
 *   set port_mac { type ifname . ether_addr; }   each port's MAC
 *   set port_ip4 { type ifname . ipv4_addr; }    its IPv4, once known
 *   set allow6   { type ipv6_addr; flags interval; }
 *                                   fe80::/10, ::, the networks' prefixes
 *   chain prerouting { type filter hook prerouting priority -300;
 *                      policy accept;
 *     iifname @guarded jump guard }
 *   chain guard {
 *     ether type 8021q counter drop            (and 8021ad)
 *     iifname . ether saddr != @port_mac counter drop
 *     ether type arp <Ethernet/IPv4> arp saddr ip 0.0.0.0
 *       iifname . arp saddr ether @port_mac accept          ARP probe
 *     ether type arp <Ethernet/IPv4> iifname . arp saddr ether @port_mac
 *       iifname . arp saddr ip @port_ip4 accept
 *     ether type arp counter drop
 *     ether type ip udp sport 67 counter drop
 *     ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255
 *       udp sport 68 udp dport 67 accept                DHCP client
 *     ether type ip iifname . ip saddr @port_ip4 accept
 *     ether type ip counter drop
 *     ether type ip6 icmpv6 type { nd-router-advert, nd-redirect }
 *       counter drop                                    (two rules)
 *     ether type ip6 udp sport 547 counter drop
 *     ether type ip6 ip6 saddr @allow6 accept
 *     ether type ip6 counter drop
 *   }
 * }
 *
 * The rules of each protocol accept what is allowed and drop the rest of
 * that protocol, rather than drop what is forbidden: a frame too short
 * for a field makes a rule that reads the field not match, so it must
 * not be able to slip past a drop rule.  Every drop rule has a counter
 * and a comment naming what it stops.
 *
 * There is no "has_ip4" set: a port whose IPv4 is not known has no
 * element in port_ip4, so "iifname . ip saddr @port_ip4" already matches
 * nothing for it.
 *
 * Frames that a rule drops here are dropped before the bridge learns
 * their source MAC (learning happens after the prerouting hook), so a
 * spoofed MAC does not poison the forwarding database either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "firewall/fw-private.h"

/* NF_BR_PRE_ROUTING: linux/netfilter_bridge.h clashes with libc's
 * headers. */
#define FW_BR_PRE_ROUTING	0
/* nft calls it dstnat: before the bridge filter chains of other tables
 * (-200) and before br_netfilter (0) */
#define FW_GUARD_PRIO		-300

/* Header offsets: link header (Ethernet), network header (ARP, IPv4,
 * IPv6), transport header. */
#define FW_ETH_SADDR		6
#define FW_ETH_TYPE		12
#define FW_ARP_SHA		8
#define FW_ARP_SPA		14
#define FW_IP_SADDR		12
#define FW_IP_DADDR		16
#define FW_IP6_SADDR		8
#define FW_TH_PORTS		0	/* source and destination port */

#define FW_PORT_DHCP_SERVER	67
#define FW_PORT_DHCP_CLIENT	68
#define FW_PORT_DHCP6_SERVER	547
#define FW_ICMP6_ROUTER_ADVERT	134
#define FW_ICMP6_REDIRECT	137

/* Set keys: the port name (IFNAMSIZ bytes, NUL padded), then the field,
 * each field in whole 4-byte register words (a MAC takes 8 bytes). */
#define FW_KEY_MAC_LEN		(IFNAMSIZ + 8)
#define FW_KEY_IP4_LEN		(IFNAMSIZ + 4)
#define FW_KEY_MAX		FW_KEY_MAC_LEN

enum { FW_KEY_GUARDED, FW_KEY_MAC, FW_KEY_IP4, FW_N_KEYS };

static const struct fw_set_def fw_guard_sets[] = {
	[FW_KEY_GUARDED] = { FW_SET_GUARDED, FW_TYPE_IFNAME, IFNAMSIZ, 0,
			     FW_BYTEORDER_HOST },
	[FW_KEY_MAC] = { FW_SET_PORT_MAC,
			 FW_TYPE_IFNAME << FW_TYPE_BITS | FW_TYPE_ETHERADDR,
			 FW_KEY_MAC_LEN, 0, 0 },
	[FW_KEY_IP4] = { FW_SET_PORT_IP4,
			 FW_TYPE_IFNAME << FW_TYPE_BITS | FW_TYPE_IPADDR,
			 FW_KEY_IP4_LEN, 0, 0 },
	{ FW_SET_ALLOW6, FW_TYPE_IP6ADDR, 16, NFT_SET_INTERVAL,
	  FW_BYTEORDER_BIG },
};

static const struct fw_base_chain fw_guard_prerouting = {
	"prerouting", "filter", FW_BR_PRE_ROUTING, FW_GUARD_PRIO
};

/* The elements one port owns: slot FW_KEY_IP4 has len 0 until its IPv4
 * is known. */
struct fw_guard_keys {
	uint32_t len[FW_N_KEYS];
	uint8_t key[FW_N_KEYS][FW_KEY_MAX];
};

/* ---- validation ---- */

static int fw_guard_check(struct fw_ctx *ctx, const struct fw_guard *g)
{
	static const uint8_t zero[6];
	uint32_t ip = ntohl(g->ip4.s_addr);

	if (!fw_ifname_ok(g->ifname))
		return fw_fail(ctx, -EINVAL, "invalid port name \"%s\" (1 to "
			       "%d characters)", g->ifname ? g->ifname : "",
			       IFNAMSIZ - 1);
	if ((g->mac[0] & 1) || memcmp(g->mac, zero, sizeof(zero)) == 0)
		return fw_fail(ctx, -EINVAL, "port %s: the MAC address must "
			       "be unicast and not zero", g->ifname);
	if (g->has_ip4 && (ip == INADDR_ANY || ip == INADDR_BROADCAST ||
			   IN_MULTICAST(ip)))
		return fw_fail(ctx, -EINVAL, "port %s: the IPv4 address must "
			       "be unicast", g->ifname);
	return 0;
}

static int fw_guard_ptr_cmp(const void *pa, const void *pb)
{
	const struct fw_guard *const *a = pa, *const *b = pb;

	return strcmp((*a)->ifname, (*b)->ifname);
}

/* Every guard valid, no port twice (sorted copy: O(n log n)). */
static int fw_guard_check_all(struct fw_ctx *ctx, const struct fw_guard *g,
			      size_t n)
{
	const struct fw_guard **sorted;
	int ret = 0;

	if (n && !g)
		return fw_fail(ctx, -EINVAL, "no ports given");
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = fw_guard_check(ctx, &g[i]);
	if (ret < 0 || n < 2)
		return ret;
	sorted = calloc(n, sizeof(*sorted));
	if (!sorted)
		return fw_oom(ctx);
	for (size_t i = 0; i < n; i++)
		sorted[i] = &g[i];
	qsort(sorted, n, sizeof(*sorted), fw_guard_ptr_cmp);
	for (size_t i = 1; ret == 0 && i < n; i++)
		if (strcmp(sorted[i - 1]->ifname, sorted[i]->ifname) == 0)
			ret = fw_fail(ctx, -EEXIST, "port %s is listed twice",
				      sorted[i]->ifname);
	free(sorted);
	return ret;
}

/* ---- elements ---- */

static void fw_guard_keys_of(const struct fw_guard *g, struct fw_guard_keys *k)
{
	size_t len = strlen(g->ifname);

	memset(k, 0, sizeof(*k));
	for (int i = 0; i < FW_N_KEYS; i++)
		memcpy(k->key[i], g->ifname, len);
	k->len[FW_KEY_GUARDED] = IFNAMSIZ;
	memcpy(&k->key[FW_KEY_MAC][IFNAMSIZ], g->mac, sizeof(g->mac));
	k->len[FW_KEY_MAC] = FW_KEY_MAC_LEN;
	if (g->has_ip4) {
		memcpy(&k->key[FW_KEY_IP4][IFNAMSIZ], &g->ip4,
		       sizeof(g->ip4));
		k->len[FW_KEY_IP4] = FW_KEY_IP4_LEN;
	}
}

static bool fw_guard_key_eq(const struct fw_guard_keys *a,
			    const struct fw_guard_keys *b, int i)
{
	return a->len[i] == b->len[i] &&
	       memcmp(a->key[i], b->key[i], a->len[i]) == 0;
}

/* Per set, one NEWSETELEM message with every port's element. */
static int fw_guard_port_elems(struct fw_ctx *ctx, const struct fw_guard *g,
			       size_t n)
{
	struct fw_guard_keys k;
	int ret = 0;

	for (int s = 0; ret == 0 && s < FW_N_KEYS; s++) {
		for (size_t i = 0; ret == 0 && i < n; i++) {
			fw_guard_keys_of(&g[i], &k);
			if (k.len[s])
				ret = fw_elem_add(ctx, fw_guard_sets[s].name,
						  k.key[s], k.len[s], 0);
		}
	}
	return ret;
}

static int fw_subnet_cmp(const void *pa, const void *pb)
{
	const struct fw_subnet *a = pa, *b = pb;
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));

	return c ? c : (int)a->len - (int)b->len;
}

/* fe80::/10 (link-local), :: (duplicate address detection) and the
 * subnets of the AF_INET6 prefixes, sorted; out has room for n + 2. */
static int fw_allow6_subnets(struct fw_ctx *ctx, const struct fw_prefix *v6,
			     size_t n, struct fw_subnet *out, size_t *ret_n)
{
	size_t k = 0;

	out[k++] = (struct fw_subnet){ AF_INET6, 10, 16, { 0xfe, 0x80 } };
	out[k++] = (struct fw_subnet){ AF_INET6, 128, 16, { 0 } };
	for (size_t i = 0; i < n; i++) {
		if (v6[i].family == AF_INET)
			continue;
		if (v6[i].family != AF_INET6 || v6[i].len > 128)
			return fw_fail(ctx, -EINVAL, "invalid IPv6 prefix "
				       "(family %d, length /%u)",
				       v6[i].family, v6[i].len);
		fw_subnet_of(&v6[i], false, &out[k++]);
	}
	if (k > 1)
		qsort(out, k, sizeof(*out), fw_subnet_cmp);
	*ret_n = k;
	return 0;
}

/* allow6 as intervals [start, end).  CIDR subnets either nest or are
 * disjoint; once sorted, a subnet inside another comes after it and
 * after nothing but others inside it, so comparing with the last one
 * kept finds them all.  They are skipped: the kernel refuses overlapping
 * intervals. */
static int fw_allow6_elems(struct fw_ctx *ctx, const struct fw_prefix *v6,
			   size_t n)
{
	struct fw_subnet *s = calloc(n + 2, sizeof(*s));
	const struct fw_subnet *kept = NULL;
	uint8_t end[16];
	size_t k = 0;
	int ret;

	if (!s)
		return fw_oom(ctx);
	ret = fw_allow6_subnets(ctx, v6, n, s, &k);
	for (size_t i = 0; ret == 0 && i < k; i++) {
		if (kept && fw_subnet_contains(kept, &s[i]))
			continue;
		kept = &s[i];
		ret = fw_elem_add(ctx, FW_SET_ALLOW6, s[i].addr, 16, 0);
		if (ret == 0 && fw_subnet_end(&s[i], end))
			ret = fw_elem_add(ctx, FW_SET_ALLOW6, end, 16,
					  NFT_SET_ELEM_INTERVAL_END);
	}
	free(s);
	return ret;
}

/* ---- rules: the nft line above each builder ---- */

static void fw_guard_rule_start(struct fw_rule *r, const char *chain)
{
	fw_rule_init(r, NFPROTO_BRIDGE, FW_TABLE, chain);
}

/* ... counter drop comment "WHY" */
static int fw_guard_drop(struct fw_ctx *ctx, struct fw_rule *r,
			 const char *why)
{
	fw_expr_counter(r);
	fw_expr_verdict(r, NF_DROP, NULL);
	fw_rule_comment(r, why);
	return fw_rule_finish(ctx, r);
}

/* ... accept comment "WHAT" */
static int fw_guard_accept(struct fw_ctx *ctx, struct fw_rule *r,
			   const char *what)
{
	fw_expr_verdict(r, NF_ACCEPT, NULL);
	fw_rule_comment(r, what);
	return fw_rule_finish(ctx, r);
}

/* ether type TYPE */
static void fw_match_ethertype(struct fw_rule *r, uint16_t type)
{
	uint16_t be = htons(type);

	fw_expr_payload_load(r, NFT_PAYLOAD_LL_HEADER, FW_ETH_TYPE, sizeof(be),
			     NFT_REG_1);
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &be, sizeof(be));
}

/* [!=] iifname . FIELD @SET, FIELD being LEN bytes at BASE + OFFSET: the
 * name fills register 1, the field starts register 2. */
static void fw_match_port_key(struct fw_rule *r, uint32_t base,
			      uint32_t offset, uint32_t len, const char *set,
			      bool in)
{
	fw_expr_meta_load(r, NFT_META_IIFNAME, NFT_REG_1);
	fw_expr_payload_load(r, base, offset, len, NFT_REG_2);
	if (in)
		fw_expr_lookup(r, NFT_REG_1, set);
	else
		fw_expr_lookup_inv(r, NFT_REG_1, set);
}

/* LEN bytes at BASE + OFFSET == DATA */
static void fw_match_bytes(struct fw_rule *r, uint32_t base, uint32_t offset,
			   const void *data, uint32_t len)
{
	fw_expr_payload_load(r, base, offset, len, NFT_REG_1);
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, data, len);
}

/* meta l4proto PROTO */
static void fw_match_l4proto(struct fw_rule *r, uint8_t proto)
{
	fw_expr_meta_load(r, NFT_META_L4PROTO, NFT_REG_1);
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* prerouting: iifname @guarded jump guard */
static int fw_rule_guard_dispatch(struct fw_ctx *ctx)
{
	struct fw_rule r;

	fw_guard_rule_start(&r, fw_guard_prerouting.name);
	fw_expr_meta_load(&r, NFT_META_IIFNAME, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, FW_SET_GUARDED);
	fw_expr_verdict(&r, NFT_JUMP, FW_CHAIN_GUARD);
	return fw_rule_finish(ctx, &r);
}

/* ether type TYPE counter drop comment "WHY" */
static int fw_rule_ethertype_drop(struct fw_ctx *ctx, uint16_t type,
				  const char *why)
{
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_ethertype(&r, type);
	return fw_guard_drop(ctx, &r, why);
}

/* iifname . ether saddr != @port_mac counter drop */
static int fw_rule_mac_drop(struct fw_ctx *ctx)
{
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_port_key(&r, NFT_PAYLOAD_LL_HEADER, FW_ETH_SADDR, ETH_ALEN,
			  FW_SET_PORT_MAC, false);
	return fw_guard_drop(ctx, &r, "foreign source MAC");
}

/* ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4
 *   iifname . arp saddr ether @port_mac
 *   then, probe:     arp saddr ip 0.0.0.0 accept
 *   or, own address: iifname . arp saddr ip @port_ip4 accept
 * (the four header fields in one 6-byte comparison) */
static int fw_rule_arp_accept(struct fw_ctx *ctx, bool probe)
{
	static const uint8_t eth_ip4[6] = { 0, 1, 8, 0, ETH_ALEN, 4 };
	uint32_t any = INADDR_ANY;
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_ethertype(&r, ETH_P_ARP);
	fw_match_bytes(&r, NFT_PAYLOAD_NETWORK_HEADER, 0, eth_ip4,
		       sizeof(eth_ip4));
	if (probe)
		fw_match_bytes(&r, NFT_PAYLOAD_NETWORK_HEADER, FW_ARP_SPA,
			       &any, sizeof(any));
	fw_match_port_key(&r, NFT_PAYLOAD_NETWORK_HEADER, FW_ARP_SHA,
			  ETH_ALEN, FW_SET_PORT_MAC, true);
	if (!probe)
		fw_match_port_key(&r, NFT_PAYLOAD_NETWORK_HEADER, FW_ARP_SPA,
				  4, FW_SET_PORT_IP4, true);
	return fw_guard_accept(ctx, &r, probe ? "ARP probe" :
			       "ARP from the port's addresses");
}

/* ether type ip|ip6 meta l4proto udp udp sport PORT counter drop */
static int fw_rule_udp_sport_drop(struct fw_ctx *ctx, uint16_t ethertype,
				  uint16_t port, const char *why)
{
	uint16_t be = htons(port);
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_ethertype(&r, ethertype);
	fw_match_l4proto(&r, IPPROTO_UDP);
	fw_match_bytes(&r, NFT_PAYLOAD_TRANSPORT_HEADER, FW_TH_PORTS, &be,
		       sizeof(be));
	return fw_guard_drop(ctx, &r, why);
}

/* ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255
 *   udp sport 68 udp dport 67 accept
 * What a DHCP client sends before it has (or while it reclaims) a lease:
 * DHCPDISCOVER, DHCPREQUEST, DHCPDECLINE, all broadcast. */
static int fw_rule_dhcp_client_accept(struct fw_ctx *ctx)
{
	uint32_t any = INADDR_ANY, bcast = INADDR_BROADCAST;
	uint16_t ports[2] = { htons(FW_PORT_DHCP_CLIENT),
			      htons(FW_PORT_DHCP_SERVER) };
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_ethertype(&r, ETH_P_IP);
	fw_match_bytes(&r, NFT_PAYLOAD_NETWORK_HEADER, FW_IP_SADDR, &any,
		       sizeof(any));
	fw_match_bytes(&r, NFT_PAYLOAD_NETWORK_HEADER, FW_IP_DADDR, &bcast,
		       sizeof(bcast));
	fw_match_l4proto(&r, IPPROTO_UDP);
	fw_match_bytes(&r, NFT_PAYLOAD_TRANSPORT_HEADER, FW_TH_PORTS, ports,
		       sizeof(ports));
	return fw_guard_accept(ctx, &r, "DHCP request before a lease");
}

/* ether type ip iifname . ip saddr @port_ip4 accept */
static int fw_rule_ip4_accept(struct fw_ctx *ctx)
{
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_ethertype(&r, ETH_P_IP);
	fw_match_port_key(&r, NFT_PAYLOAD_NETWORK_HEADER, FW_IP_SADDR, 4,
			  FW_SET_PORT_IP4, true);
	return fw_guard_accept(ctx, &r, "IPv4 from the port's address");
}

/* ether type ip6 meta l4proto ipv6-icmp icmpv6 type TYPE counter drop */
static int fw_rule_icmp6_drop(struct fw_ctx *ctx, uint8_t type,
			      const char *why)
{
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_ethertype(&r, ETH_P_IPV6);
	fw_match_l4proto(&r, IPPROTO_ICMPV6);
	fw_match_bytes(&r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, &type,
		       sizeof(type));
	return fw_guard_drop(ctx, &r, why);
}

/* ether type ip6 ip6 saddr @allow6 accept */
static int fw_rule_ip6_accept(struct fw_ctx *ctx)
{
	struct fw_rule r;

	fw_guard_rule_start(&r, FW_CHAIN_GUARD);
	fw_match_ethertype(&r, ETH_P_IPV6);
	fw_expr_payload_load(&r, NFT_PAYLOAD_NETWORK_HEADER, FW_IP6_SADDR, 16,
			     NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, FW_SET_ALLOW6);
	return fw_guard_accept(ctx, &r, "IPv6 from an allowed prefix");
}

static int fw_build_guard_arp(struct fw_ctx *ctx)
{
	int ret = fw_rule_arp_accept(ctx, true);

	if (ret == 0)
		ret = fw_rule_arp_accept(ctx, false);
	if (ret == 0)
		ret = fw_rule_ethertype_drop(ctx, ETH_P_ARP,
					     "ARP with a foreign sender");
	return ret;
}

static int fw_build_guard_ip4(struct fw_ctx *ctx)
{
	int ret = fw_rule_udp_sport_drop(ctx, ETH_P_IP, FW_PORT_DHCP_SERVER,
					 "DHCP server");

	if (ret == 0)
		ret = fw_rule_dhcp_client_accept(ctx);
	if (ret == 0)
		ret = fw_rule_ip4_accept(ctx);
	if (ret == 0)
		ret = fw_rule_ethertype_drop(ctx, ETH_P_IP,
					     "foreign IPv4 source");
	return ret;
}

/* RAs and redirects come from link-local addresses, which allow6 cannot
 * tell apart: no guest may send them. */
static int fw_build_guard_ip6(struct fw_ctx *ctx)
{
	int ret = fw_rule_icmp6_drop(ctx, FW_ICMP6_ROUTER_ADVERT,
				     "router advertisement");

	if (ret == 0)
		ret = fw_rule_icmp6_drop(ctx, FW_ICMP6_REDIRECT,
					 "ICMPv6 redirect");
	if (ret == 0)
		ret = fw_rule_udp_sport_drop(ctx, ETH_P_IPV6,
					     FW_PORT_DHCP6_SERVER,
					     "DHCPv6 server");
	if (ret == 0)
		ret = fw_rule_ip6_accept(ctx);
	if (ret == 0)
		ret = fw_rule_ethertype_drop(ctx, ETH_P_IPV6,
					     "foreign IPv6 source");
	return ret;
}

/* guard: VLAN tags (a tag the NIC took off is put back for `ether type`),
 * the source MAC, then ARP, IPv4 and IPv6.  Other protocols pass once
 * their source MAC is right. */
static int fw_build_guard_rules(struct fw_ctx *ctx)
{
	int ret = fw_rule_guard_dispatch(ctx);

	if (ret == 0)
		ret = fw_rule_ethertype_drop(ctx, ETH_P_8021Q, "802.1Q tag");
	if (ret == 0)
		ret = fw_rule_ethertype_drop(ctx, ETH_P_8021AD, "802.1ad tag");
	if (ret == 0)
		ret = fw_rule_mac_drop(ctx);
	if (ret == 0)
		ret = fw_build_guard_arp(ctx);
	if (ret == 0)
		ret = fw_build_guard_ip4(ctx);
	if (ret == 0)
		ret = fw_build_guard_ip6(ctx);
	return ret;
}

/* ---- plans ---- */

static int fw_build_guard(struct fw_ctx *ctx, const struct fw_guard *g,
			  size_t n, const struct fw_prefix *v6, size_t n_v6)
{
	int ret = fw_build_tables(ctx);

	if (ret == 0)
		ret = fw_add_chain(ctx, fw_guard_prerouting.name,
				   &fw_guard_prerouting);
	if (ret == 0)
		ret = fw_add_chain(ctx, FW_CHAIN_GUARD, NULL);
	for (size_t i = 0; ret == 0 && i < FW_N_ELEMS(fw_guard_sets); i++)
		ret = fw_add_set(ctx, &fw_guard_sets[i]);
	if (ret == 0)
		ret = fw_guard_port_elems(ctx, g, n);
	if (ret == 0)
		ret = fw_allow6_elems(ctx, v6, n_v6);
	if (ret == 0)
		ret = fw_build_guard_rules(ctx);
	return ret;
}

static int fw_plan_result(struct fw_ctx *ctx, int r, struct fw_plan **ret)
{
	if (r < 0) {
		fw_plan_free(ctx->plan);
		return r;
	}
	*ret = ctx->plan;
	return 0;
}

int fw_plan_guard_sync(const struct fw_guard *g, size_t n,
		       const struct fw_prefix *v6, size_t n_v6,
		       struct fw_plan **ret, char *err, size_t errlen)
{
	struct fw_ctx ctx = fw_ctx_for(NFPROTO_BRIDGE, err, errlen);
	int r;

	if (n_v6 && !v6)
		return fw_fail(&ctx, -EINVAL, "no IPv6 prefixes given");
	r = fw_guard_check_all(&ctx, g, n);
	if (r < 0)
		return r;
	ctx.plan = calloc(1, sizeof(*ctx.plan));
	r = ctx.plan ? fw_build_guard(&ctx, g, n, v6, n_v6) : fw_oom(&ctx);
	return fw_plan_result(&ctx, r, ret);
}

/* Elements of old that new does not have are added, then deleted: adding
 * an element that exists is a no-op, so the delete cannot fail with
 * ENOENT when the element is already gone, and an ENOENT from the batch
 * can only mean that the table or a set is missing.  Every element of
 * new is added, whether or not old had it. */
static int fw_guard_set_elems(struct fw_ctx *ctx,
			      const struct fw_guard_keys *old,
			      const struct fw_guard_keys *new)
{
	bool gone[FW_N_KEYS] = { false };
	int ret = 0;

	for (int s = 0; ret == 0 && s < FW_N_KEYS; s++) {
		const char *set = fw_guard_sets[s].name;

		gone[s] = old && old->len[s] &&
			  !(new && fw_guard_key_eq(old, new, s));
		if (gone[s])
			ret = fw_elem_add(ctx, set, old->key[s], old->len[s],
					  0);
		if (ret == 0 && new && new->len[s])
			ret = fw_elem_add(ctx, set, new->key[s], new->len[s],
					  0);
	}
	for (int s = 0; ret == 0 && s < FW_N_KEYS; s++)
		if (gone[s])
			ret = fw_elem_del(ctx, fw_guard_sets[s].name,
					  old->key[s], old->len[s]);
	return ret;
}

int fw_plan_guard_set(const struct fw_guard *old, const struct fw_guard *new,
		      struct fw_plan **ret, char *err, size_t errlen)
{
	struct fw_ctx ctx = fw_ctx_for(NFPROTO_BRIDGE, err, errlen);
	struct fw_guard_keys ko, kn;
	int r = 0;

	if (!old && !new)
		return fw_fail(&ctx, -EINVAL, "no port given");
	if (old)
		r = fw_guard_check(&ctx, old);
	if (r == 0 && new)
		r = fw_guard_check(&ctx, new);
	if (r < 0)
		return r;
	if (old)
		fw_guard_keys_of(old, &ko);
	if (new)
		fw_guard_keys_of(new, &kn);
	ctx.plan = calloc(1, sizeof(*ctx.plan));
	r = ctx.plan ? fw_guard_set_elems(&ctx, old ? &ko : NULL,
					  new ? &kn : NULL) : fw_oom(&ctx);
	return fw_plan_result(&ctx, r, ret);
}

int fw_plan_guard_remove(const struct fw_guard *old, size_t n, struct fw_plan **ret,
			 char *err, size_t errlen)
{
	struct fw_ctx ctx = fw_ctx_for(NFPROTO_BRIDGE, err, errlen);
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++)
		r = fw_guard_check(&ctx, &old[i]);
	if (r < 0)
		return r;
	ctx.plan = calloc(1, sizeof(*ctx.plan));
	if (!ctx.plan)
		r = fw_oom(&ctx);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct fw_guard_keys ko;

		fw_guard_keys_of(&old[i], &ko);
		r = fw_guard_set_elems(&ctx, &ko, NULL);
	}
	return fw_plan_result(&ctx, r, ret);
}
