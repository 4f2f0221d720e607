/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rules of table inet netd: one builder per rule, each with the
 * equivalent nft line in a comment above it, then the rules of every
 * chain.  They are the same whatever the networks (fw_build_base_rules()),
 * but for one rule per slot (fw_build_slot_rule(), see fw-slot.c).
 * fw-build.c lays out the chains and sets they use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include "firewall/fw-private.h"

#define FW_PORT_DHCP_SERVER	67
#define FW_PORT_DHCP_CLIENT	68
#define FW_PORT_DHCP6_SERVER	547
#define FW_PORT_DNS		53
#define FW_ICMP6_ROUTER_SOLICIT	133
#define FW_ICMP6_NEIGH_SOLICIT	135
#define FW_ICMP6_NEIGH_ADVERT	136
#define FW_TH_SPORT		0
#define FW_TH_DPORT		2
#define FW_UDP_CHECKSUM		6

static void fw_rule_start(struct fw_rule *r, const char *chain)
{
	fw_rule_init(r, NFPROTO_INET, FW_TABLE, chain);
}

/* Hand the rule to the plan, numbered within its chain (a chain's rules
 * are built one after the other). */
int fw_rule_finish(struct fw_ctx *ctx, struct fw_rule *r)
{
	const char *chain;
	int ret;

	if (r->err) {
		if (r->nlr)
			nftnl_rule_free(r->nlr);
		return fw_fail(ctx, r->err, "cannot build a rule: %s",
			       strerror(-r->err));
	}
	chain = nftnl_rule_get_str(r->nlr, NFTNL_RULE_CHAIN);
	if (strcmp(chain, ctx->rule_chain) != 0) {
		snprintf(ctx->rule_chain, sizeof(ctx->rule_chain), "%s",
			 chain);
		ctx->rule_no = 0;
	}
	ret = fw_plan_push(ctx->plan, FW_MSG_NEWRULE, r->nlr, ++ctx->rule_no);
	r->nlr = NULL;
	return ret < 0 ? fw_oom(ctx) : 0;
}

/* ---- matches: a few expressions that together test one thing ---- */

/* meta nfproto ipv4|ipv6 */
static void fw_match_nfproto(struct fw_rule *r, int family)
{
	uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	fw_expr_meta_load(r, NFT_META_NFPROTO, NFT_REG_1);
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &nfproto, sizeof(nfproto));
}

/* meta l4proto PROTO */
static void fw_match_l4proto(struct fw_rule *r, uint8_t proto)
{
	fw_expr_meta_load(r, NFT_META_L4PROTO, NFT_REG_1);
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* th sport|dport PORT, after a meta l4proto match */
static void fw_match_port(struct fw_rule *r, uint32_t offset, uint16_t port)
{
	uint16_t be = htons(port);

	fw_expr_payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, offset,
			     sizeof(be), NFT_REG_1);
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &be, sizeof(be));
}

/* ip saddr|daddr ADDR[/LEN], ip6 saddr|daddr ADDR[/LEN] */
static void fw_match_addr(struct fw_rule *r, const struct fw_subnet *s,
			  bool source)
{
	uint32_t off = s->family == AF_INET ? (source ? 12 : 16) :
		       (source ? 8 : 24);
	uint8_t mask[16];

	fw_match_nfproto(r, s->family);
	if (s->len == 0)
		return;
	fw_expr_payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, off, s->bytes,
			     NFT_REG_1);
	if (s->len < s->bytes * 8) {
		fw_prefix_mask(s->family, s->len, mask);
		fw_expr_bitwise_mask(r, NFT_REG_1, mask, s->bytes);
	}
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_EQ, s->addr, s->bytes);
}

/* ct state|status & BITS != 0, e.g. ct state established,related */
static void fw_match_ct_bits(struct fw_rule *r, uint32_t key, uint32_t bits)
{
	uint32_t zero = 0;

	fw_expr_ct_load(r, key, NFT_REG_1);
	fw_expr_bitwise_mask(r, NFT_REG_1, &bits, sizeof(bits));
	fw_expr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero));
}


/* ip saddr|daddr [& MASK] (ip6 too) into reg: the key of a slot */
static void fw_load_prefix(struct fw_rule *r, int family, uint8_t len,
			   bool source, uint32_t reg)
{
	bool v4 = family == AF_INET;
	uint32_t bytes = v4 ? 4 : 16;
	uint32_t off = v4 ? (source ? 12 : 16) : (source ? 8 : 24);
	uint8_t mask[16];

	fw_expr_payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, off, bytes, reg);
	if (len < bytes * 8) {
		fw_prefix_mask(family, len, mask);
		fw_expr_bitwise_mask(r, reg, mask, bytes);
	}
}

/* ---- rules: the nft line above each builder ---- */

/* CHAIN: accept | drop | return | jump TARGET */
static int fw_rule_verdict(struct fw_ctx *ctx, const char *chain, int verdict,
			   const char *target)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_verdict(&r, verdict, target);
	return fw_rule_finish(ctx, &r);
}

/* iifname|oifname @SET VERDICT [TARGET] */
static int fw_rule_ifname_in(struct fw_ctx *ctx, const char *chain,
			     uint32_t key, const char *set, int verdict,
			     const char *target)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_meta_load(&r, key, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, set);
	fw_expr_verdict(&r, verdict, target);
	return fw_rule_finish(ctx, &r);
}

/* iifgroup|oifgroup GROUP VERDICT [TARGET]; with FW_GROUP_MASK:
 * oifgroup & 0xfffffffe == FW_BRIDGE_GROUP (any of netd's bridges) */
static int fw_rule_group(struct fw_ctx *ctx, const char *chain, uint32_t key,
			 uint32_t group, int verdict, const char *target)
{
	uint32_t mask = FW_GROUP_MASK;
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_meta_load(&r, key, NFT_REG_1);
	if (group == FW_GROUP_MASK) {
		group = FW_BRIDGE_GROUP;
		fw_expr_bitwise_mask(&r, NFT_REG_1, &mask, sizeof(mask));
	}
	fw_expr_cmp(&r, NFT_REG_1, NFT_CMP_EQ, &group, sizeof(group));
	fw_expr_verdict(&r, verdict, target);
	return fw_rule_finish(ctx, &r);
}

/* iifname . oifname @SET accept, oifname . iifname @SET accept */
static int fw_rule_ifname_pair(struct fw_ctx *ctx, const char *chain,
			       uint32_t first, uint32_t second,
			       const char *set)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_meta_load(&r, first, NFT_REG_1);
	fw_expr_meta_load(&r, second, NFT_REG_2);
	fw_expr_lookup(&r, NFT_REG_1, set);
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* from_uplinked: iifname . oifname != @uplinks drop */
static int fw_rule_wrong_uplink(struct fw_ctx *ctx)
{
	struct fw_rule r;

	fw_rule_start(&r, "from_uplinked");
	fw_expr_meta_load(&r, NFT_META_IIFNAME, NFT_REG_1);
	fw_expr_meta_load(&r, NFT_META_OIFNAME, NFT_REG_2);
	fw_expr_lookup_inv(&r, NFT_REG_1, FW_SET_UPLINKS);
	fw_expr_verdict(&r, NF_DROP, NULL);
	return fw_rule_finish(ctx, &r);
}

/* fib daddr type local meta nfproto ipv4|ipv6
 *   dnat ip|ip6 to meta l4proto . th dport map @dnat4|@dnat6 */
static int fw_rule_dnat(struct fw_ctx *ctx, const char *chain, int family)
{
	bool v4 = family == AF_INET;
	uint32_t local = RTN_LOCAL;
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_fib(&r, NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, NFT_REG_1);
	fw_expr_cmp(&r, NFT_REG_1, NFT_CMP_EQ, &local, sizeof(local));
	fw_match_nfproto(&r, family);
	/* the concatenations take one 4-byte register per field: the key
	 * in 00-01, the guest's address and port from 02 on */
	fw_expr_meta_load(&r, NFT_META_L4PROTO, NFT_REG32_00);
	fw_expr_payload_load(&r, NFT_PAYLOAD_TRANSPORT_HEADER, FW_TH_DPORT, 2,
			     NFT_REG32_01);
	fw_expr_map(&r, NFT_REG32_00, v4 ? FW_MAP_DNAT4 : FW_MAP_DNAT6,
		    NFT_REG32_02);
	fw_expr_nat(&r, NFT_NAT_DNAT, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6,
		    NFT_REG32_02, v4 ? NFT_REG32_03 : NFT_REG32_06);
	return fw_rule_finish(ctx, &r);
}

/* mangle_output: meta l4proto udp meta nfproto ipv4 udp sport 67
 *   udp dport 68 oifname @bridges udp checksum set 0
 * nftables cannot fill in checksums; a zero UDP checksum (IPv4 only)
 * makes strict DHCP clients accept replies whose checksum was left
 * partial by the bridge/veth offload path.  The replies are dnsmasq's,
 * so the output hook: forwarded packets never pass here.  Every packet
 * the host sends does: the cheapest test comes first. */
static int fw_rule_dhcp_csum(struct fw_ctx *ctx)
{
	uint16_t zero = 0;
	struct fw_rule r;

	fw_rule_start(&r, "mangle_output");
	fw_match_l4proto(&r, IPPROTO_UDP);
	fw_match_nfproto(&r, AF_INET);
	fw_match_port(&r, FW_TH_SPORT, FW_PORT_DHCP_SERVER);
	fw_match_port(&r, FW_TH_DPORT, FW_PORT_DHCP_CLIENT);
	fw_expr_meta_load(&r, NFT_META_OIFNAME, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, FW_SET_BRIDGES);
	fw_expr_immediate(&r, NFT_REG_1, &zero, sizeof(zero));
	fw_expr_payload_write(&r, NFT_PAYLOAD_TRANSPORT_HEADER,
			      FW_UDP_CHECKSUM, sizeof(zero), NFT_REG_1,
			      NFT_PAYLOAD_CSUM_INET, FW_UDP_CHECKSUM);
	return fw_rule_finish(ctx, &r);
}

/* ip daddr 224.0.0.0/24 accept | ip6 daddr fd00::/64 return | ... */
static int fw_rule_addr_verdict(struct fw_ctx *ctx, const char *chain,
				const struct fw_subnet *s, bool source,
				int verdict)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_match_addr(&r, s, source);
	fw_expr_verdict(&r, verdict, NULL);
	return fw_rule_finish(ctx, &r);
}

/* ct state established,related accept | ct status dnat accept */
static int fw_rule_ct_accept(struct fw_ctx *ctx, const char *chain,
			     uint32_t key, uint32_t bits)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_match_ct_bits(&r, key, bits);
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* to_bridge: oifname @nat ct status dnat accept */
static int fw_rule_nat_dnat_accept(struct fw_ctx *ctx)
{
	struct fw_rule r;

	fw_rule_start(&r, "to_bridge");
	fw_expr_meta_load(&r, NFT_META_OIFNAME, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, FW_SET_NAT);
	fw_match_ct_bits(&r, NFT_CT_STATUS, IPS_DST_NAT);
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* isolated_input: iifname @SET meta l4proto udp th dport PORT accept */
static int fw_rule_isolated_port(struct fw_ctx *ctx, const char *set,
				 uint16_t port)
{
	struct fw_rule r;

	fw_rule_start(&r, "isolated_input");
	fw_expr_meta_load(&r, NFT_META_IIFNAME, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, set);
	fw_match_l4proto(&r, IPPROTO_UDP);
	fw_match_port(&r, FW_TH_DPORT, port);
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* isolated_input: iifname @isolated6 icmpv6 type TYPE accept */
static int fw_rule_isolated_icmp6(struct fw_ctx *ctx, uint8_t type)
{
	struct fw_rule r;

	fw_rule_start(&r, "isolated_input");
	fw_expr_meta_load(&r, NFT_META_IIFNAME, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, FW_SET_ISOLATED6);
	fw_match_l4proto(&r, IPPROTO_ICMPV6);
	fw_expr_payload_load(&r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1,
			     NFT_REG_1);
	fw_expr_cmp(&r, NFT_REG_1, NFT_CMP_EQ, &type, sizeof(type));
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* isolated_input: meta nfproto ipv4 iifname . ip daddr @hosts4
 *   meta l4proto PROTO [th dport PORT] accept (and ip6, @hosts6) */
static int fw_rule_isolated_host(struct fw_ctx *ctx, int family,
				 uint8_t proto, uint16_t port)
{
	bool v4 = family == AF_INET;
	struct fw_rule r;

	fw_rule_start(&r, "isolated_input");
	fw_match_nfproto(&r, family);
	fw_expr_meta_load(&r, NFT_META_IIFNAME, NFT_REG_1);
	fw_expr_payload_load(&r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24,
			     v4 ? 4 : 16, NFT_REG_2);
	fw_expr_lookup(&r, NFT_REG_1, v4 ? FW_SET_HOSTS4 : FW_SET_HOSTS6);
	fw_match_l4proto(&r, proto);
	if (port)
		fw_match_port(&r, FW_TH_DPORT, port);
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* masquerade */
static int fw_rule_masquerade(struct fw_ctx *ctx, const char *chain)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_masq(&r);
	return fw_rule_finish(ctx, &r);
}

/* output: ip daddr 127.0.0.0/8 return, ip6 daddr ::1 return
 * A host process talking to a loopback address keeps talking to the
 * host: DNAT would send packets with a loopback source to a guest. */
static int fw_rule_output_loopback(struct fw_ctx *ctx)
{
	struct fw_subnet lo4 = { AF_INET, 8, 4, { 127 } };
	struct fw_subnet lo6 = { AF_INET6, 128, 16, { [15] = 1 } };
	int ret;

	ret = fw_rule_addr_verdict(ctx, "output", &lo4, false, NFT_RETURN);
	if (ret == 0)
		ret = fw_rule_addr_verdict(ctx, "output", &lo6, false,
					   NFT_RETURN);
	return ret;
}

/* ---- per chain ---- */

/* forward: to and from our bridges, isolated ones first: nothing in or
 * out of those but what stays on the bridge (between_bridges: only
 * within one); they must come first, or to_bridge would take a packet
 * from an isolated guest to a routed one.  So an answer to a guest of
 * another network is accepted without a lookup (to_bridge). */
static int fw_build_forward(struct fw_ctx *ctx)
{
	int ret;

	ret = fw_rule_group(ctx, "forward", NFT_META_IIFGROUP,
			    FW_ISOLATED_GROUP, NFT_JUMP, "between_bridges");
	if (ret == 0)
		ret = fw_rule_group(ctx, "forward", NFT_META_OIFGROUP,
				    FW_ISOLATED_GROUP, NF_DROP, NULL);
	if (ret == 0)
		ret = fw_rule_group(ctx, "forward", NFT_META_IIFGROUP,
				    FW_BRIDGE_GROUP, NFT_JUMP, "from_bridge");
	if (ret == 0)
		ret = fw_rule_group(ctx, "forward", NFT_META_OIFGROUP,
				    FW_BRIDGE_GROUP, NFT_JUMP, "to_bridge");
	if (ret == 0)
		ret = fw_rule_ifname_pair(ctx, "between_bridges",
					  NFT_META_IIFNAME, NFT_META_OIFNAME,
					  FW_SET_SAME);
	if (ret == 0)
		ret = fw_rule_verdict(ctx, "between_bridges", NF_DROP, NULL);
	return ret;
}

/* from_bridge: traffic the guests send through the host.  Never to
 * another of our bridges, only from the network's own subnets
 * (from_subnet: one rule per slot), and only out of the uplink if the
 * network has one (from_uplinked: that check, then its own slots).  A
 * packet of a network without an uplink, the common case, is accepted by
 * the first lookup that asks anything of its bridge.
 *
 * Out of the same bridge is fine, in every mode: with br_netfilter loaded
 * (Docker and Kubernetes hosts) frames bridged between two guests of a
 * network pass the inet forward hook too, in and out of that bridge.
 * Isolated networks' packets never come here (forward sends them to
 * between_bridges), and they have no subnets in the slots either. */
static int fw_build_from(struct fw_ctx *ctx)
{
	int ret;

	ret = fw_rule_group(ctx, "from_bridge", NFT_META_OIFGROUP,
			    FW_GROUP_MASK, NFT_JUMP, "between_bridges");
	if (ret == 0)
		ret = fw_rule_verdict(ctx, "from_bridge", NFT_JUMP,
				      "from_subnet");
	if (ret == 0)
		ret = fw_rule_ifname_in(ctx, "from_bridge", NFT_META_IIFNAME,
					FW_SET_UPLINKED, NFT_JUMP,
					"from_uplinked");
	if (ret == 0)
		ret = fw_rule_verdict(ctx, "from_bridge", NF_DROP, NULL);
	if (ret == 0)
		ret = fw_rule_wrong_uplink(ctx);
	return ret;
}

/* to_bridge: traffic routed from elsewhere to the guests of a network
 * that is not isolated: answers; port forwards (nat); from the uplink if
 * the network has one, else from anywhere (routed).  An isolated
 * network's bridge does not come here (forward drops what goes to its
 * group); if it were in the wrong group anyway, the name check after the
 * answers still keeps new connections out, at the cost of one lookup for
 * the first packet of a connection only. */
static int fw_build_to(struct fw_ctx *ctx)
{
	const char *c = "to_bridge";
	int ret;

	ret = fw_rule_ct_accept(ctx, c, NFT_CT_STATE,
					NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
					NF_CT_STATE_BIT(IP_CT_RELATED));
	if (ret == 0)
		ret = fw_rule_ifname_in(ctx, c, NFT_META_OIFNAME, FW_SET_ISOLATED,
					NF_DROP, NULL);
	if (ret == 0)
		ret = fw_rule_nat_dnat_accept(ctx);
	if (ret == 0)
		ret = fw_rule_ifname_in(ctx, c, NFT_META_OIFNAME, FW_SET_NAT,
					NF_DROP, NULL);
	if (ret == 0)
		ret = fw_rule_ifname_pair(ctx, c, NFT_META_OIFNAME,
					  NFT_META_IIFNAME, FW_SET_UPLINKS);
	if (ret == 0)
		ret = fw_rule_ifname_in(ctx, c, NFT_META_OIFNAME,
					FW_SET_UPLINKED, NF_DROP, NULL);
	if (ret == 0)
		ret = fw_rule_verdict(ctx, c, NF_ACCEPT, NULL);
	return ret;
}

/* isolated_input, per host address of the network: DNS and ICMP */
static int fw_build_isolated_hosts(struct fw_ctx *ctx, int family)
{
	int ret;

	ret = fw_rule_isolated_host(ctx, family, IPPROTO_UDP, FW_PORT_DNS);
	if (ret == 0)
		ret = fw_rule_isolated_host(ctx, family, IPPROTO_TCP,
					    FW_PORT_DNS);
	if (ret == 0)
		ret = fw_rule_isolated_host(ctx, family, family == AF_INET ?
					    IPPROTO_ICMP : IPPROTO_ICMPV6, 0);
	return ret;
}

/* input: nat and routed guests reach the host like any host on a LAN;
 * isolated guests reach only DHCP (to broadcast), DHCPv6 and neighbour
 * discovery (to multicast), DNS and ICMP on the bridge's own
 * addresses. */
static int fw_build_input(struct fw_ctx *ctx)
{
	const char *c = "isolated_input";
	int ret;

	ret = fw_rule_ifname_in(ctx, "input", NFT_META_IIFNAME,
				FW_SET_ISOLATED, NFT_JUMP, c);
	if (ret == 0)
		ret = fw_rule_ct_accept(ctx, c, NFT_CT_STATE,
					NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
					NF_CT_STATE_BIT(IP_CT_RELATED));
	if (ret == 0)
		ret = fw_rule_isolated_port(ctx, FW_SET_ISOLATED4,
					    FW_PORT_DHCP_SERVER);
	if (ret == 0)
		ret = fw_rule_isolated_port(ctx, FW_SET_ISOLATED6,
					    FW_PORT_DHCP6_SERVER);
	if (ret == 0)
		ret = fw_rule_isolated_icmp6(ctx, FW_ICMP6_ROUTER_SOLICIT);
	if (ret == 0)
		ret = fw_rule_isolated_icmp6(ctx, FW_ICMP6_NEIGH_SOLICIT);
	if (ret == 0)
		ret = fw_rule_isolated_icmp6(ctx, FW_ICMP6_NEIGH_ADVERT);
	if (ret == 0)
		ret = fw_build_isolated_hosts(ctx, AF_INET);
	if (ret == 0)
		ret = fw_build_isolated_hosts(ctx, AF_INET6);
	if (ret == 0)
		ret = fw_rule_verdict(ctx, c, NF_DROP, NULL);
	return ret;
}

/* masq: reached for packets from a nat subnet.  masq_skip (one rule per
 * slot) accepts, i.e. leaves alone, what goes to the network's own
 * subnets or, if it has an uplink, out of another interface; so do
 * local multicast and broadcast. */
static int fw_build_masq(struct fw_ctx *ctx)
{
	struct fw_subnet mcast = { AF_INET, 24, 4, { 224, 0, 0, 0 } };
	struct fw_subnet bcast = { AF_INET, 32, 4, { 255, 255, 255, 255 } };
	struct fw_subnet mcast6 = { AF_INET6, 8, 16, { 0xff } };
	int ret;

	ret = fw_rule_verdict(ctx, "masq", NFT_JUMP, "masq_skip");
	if (ret == 0)
		ret = fw_rule_addr_verdict(ctx, "masq", &mcast, false,
					   NF_ACCEPT);
	if (ret == 0)
		ret = fw_rule_addr_verdict(ctx, "masq", &bcast, false,
					   NF_ACCEPT);
	if (ret == 0)
		ret = fw_rule_addr_verdict(ctx, "masq", &mcast6, false,
					   NF_ACCEPT);
	if (ret == 0)
		ret = fw_rule_masquerade(ctx, "masq");
	return ret;
}

int fw_build_base_rules(struct fw_ctx *ctx)
{
	int ret = fw_build_forward(ctx);

	if (ret == 0)
		ret = fw_build_from(ctx);
	if (ret == 0)
		ret = fw_build_to(ctx);
	if (ret == 0)
		ret = fw_build_input(ctx);
	if (ret == 0)
		ret = fw_rule_dnat(ctx, "prerouting", AF_INET);
	if (ret == 0)
		ret = fw_rule_dnat(ctx, "prerouting", AF_INET6);
	if (ret == 0)
		ret = fw_rule_output_loopback(ctx);
	if (ret == 0)
		ret = fw_rule_dnat(ctx, "output", AF_INET);
	if (ret == 0)
		ret = fw_rule_dnat(ctx, "output", AF_INET6);
	if (ret == 0)
		ret = fw_build_masq(ctx);
	if (ret == 0)
		ret = fw_rule_dhcp_csum(ctx);
	return ret;
}

/* ---- one rule per slot ---- */

/* from_subnet: meta nfproto ipv4 iifname . ip saddr & MASK @net4_L
 *   accept; from_uplinked: the same with @netup4_L */
static void fw_slot_net(struct fw_rule *r, const struct fw_slot *s,
			const char *set)
{
	fw_expr_meta_load(r, NFT_META_IIFNAME, NFT_REG_1);
	fw_load_prefix(r, s->family, s->len, true, NFT_REG_2);
	fw_expr_lookup(r, NFT_REG_1, set);
	fw_expr_verdict(r, NF_ACCEPT, NULL);
}

/* postrouting: meta nfproto ipv4 ip saddr & MASK @nat4_L jump masq */
static void fw_slot_nat(struct fw_rule *r, const struct fw_slot *s,
			const char *set)
{
	fw_load_prefix(r, s->family, s->len, true, NFT_REG_1);
	fw_expr_lookup(r, NFT_REG_1, set);
	fw_expr_verdict(r, NFT_JUMP, "masq");
}

/* masq_skip: meta nfproto ipv4 ip saddr & MASK @natup4_L
 *   ip saddr & MASK . oifname != @egress4_L accept */
static void fw_slot_uplink(struct fw_rule *r, const struct fw_slot *s,
			   const char *up, const char *egress)
{
	bool v4 = s->family == AF_INET;

	fw_load_prefix(r, s->family, s->len, true, NFT_REG_1);
	fw_expr_lookup(r, NFT_REG_1, up);
	fw_expr_meta_load(r, NFT_META_OIFNAME,
			  v4 ? NFT_REG32_01 : NFT_REG_2);
	fw_expr_lookup_inv(r, NFT_REG_1, egress);
	fw_expr_verdict(r, NF_ACCEPT, NULL);
}

/* masq_skip: meta nfproto ipv4 ip saddr & MASK . ip daddr & MASK2
 *   @local4_L_L2 accept */
static void fw_slot_local(struct fw_rule *r, const struct fw_slot *s,
			  const char *set)
{
	bool v4 = s->family == AF_INET;

	fw_load_prefix(r, s->family, s->len, true, NFT_REG_1);
	fw_load_prefix(r, s->family, s->len2, false,
		       v4 ? NFT_REG32_01 : NFT_REG_2);
	fw_expr_lookup(r, NFT_REG_1, set);
	fw_expr_verdict(r, NF_ACCEPT, NULL);
}

int fw_build_slot_rule(struct fw_ctx *ctx, const struct fw_slot *slot)
{
	static const char *const chains[] = {
		[FW_SLOT_NET] = "from_subnet",
		[FW_SLOT_NAT] = "postrouting",
		[FW_SLOT_UPLINK] = "masq_skip",
		[FW_SLOT_LOCAL] = "masq_skip",
		[FW_SLOT_NETUP] = "from_uplinked",
	};
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	struct fw_rule r;

	fw_slot_sets(slot, names);
	fw_rule_start(&r, chains[slot->kind]);
	fw_match_nfproto(&r, slot->family);
	switch (slot->kind) {
	case FW_SLOT_NET:
	case FW_SLOT_NETUP:
		fw_slot_net(&r, slot, names[0]);
		break;
	case FW_SLOT_NAT:
		fw_slot_nat(&r, slot, names[0]);
		break;
	case FW_SLOT_UPLINK:
		fw_slot_uplink(&r, slot, names[0], names[1]);
		break;
	case FW_SLOT_LOCAL:
		fw_slot_local(&r, slot, names[0]);
		break;
	}
	return fw_rule_finish(ctx, &r);
}
