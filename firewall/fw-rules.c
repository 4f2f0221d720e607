/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rules of table inet netd: one builder per rule, each with the
 * equivalent nft line in a comment above it, then the rules of every
 * chain.  fw-build.c calls fw_build_base_rules() and fw_build_net_rules()
 * once the tables, chains, sets and elements are in the plan.
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

/* iifname|oifname ==|!= NAME */
static void fw_match_ifname(struct fw_rule *r, uint32_t key, uint32_t op,
			    const char *name)
{
	char buf[IFNAMSIZ] = { 0 };

	memcpy(buf, name, strnlen(name, IFNAMSIZ - 1));
	fw_expr_meta_load(r, key, NFT_REG_1);
	fw_expr_cmp(r, NFT_REG_1, op, buf, sizeof(buf));
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
	uint8_t mask[16] = { 0 };

	fw_match_nfproto(r, s->family);
	if (s->len == 0)
		return;
	fw_expr_payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, off, s->bytes,
			     NFT_REG_1);
	if (s->len < s->bytes * 8) {
		for (unsigned int bit = 0; bit < s->len; bit++)
			mask[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
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

/* ---- rules: the nft line above each builder ---- */

/* CHAIN: accept | drop | return */
static int fw_rule_verdict(struct fw_ctx *ctx, const char *chain, int verdict)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_verdict(&r, verdict, NULL);
	return fw_rule_finish(ctx, &r);
}

/* iifname vmap @MAP | oifname vmap @MAP */
static int fw_rule_ifname_vmap(struct fw_ctx *ctx, const char *chain,
			       uint32_t key, const char *map)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_meta_load(&r, key, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, map, true);
	return fw_rule_finish(ctx, &r);
}

/* fib daddr type local meta l4proto . th dport vmap @dnat */
static int fw_rule_dnat_dispatch(struct fw_ctx *ctx, const char *chain)
{
	uint32_t local = RTN_LOCAL;
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_fib(&r, NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, NFT_REG_1);
	fw_expr_cmp(&r, NFT_REG_1, NFT_CMP_EQ, &local, sizeof(local));
	/* the concatenation takes one 4-byte register per field */
	fw_expr_meta_load(&r, NFT_META_L4PROTO, NFT_REG32_00);
	fw_expr_payload_load(&r, NFT_PAYLOAD_TRANSPORT_HEADER, FW_TH_DPORT, 2,
			     NFT_REG32_01);
	fw_expr_lookup(&r, NFT_REG32_00, FW_MAP_DNAT, true);
	return fw_rule_finish(ctx, &r);
}

/* meta nfproto ipv4 ip saddr vmap @masq4
 * meta nfproto ipv6 ip6 saddr vmap @masq6 */
static int fw_rule_masq_dispatch(struct fw_ctx *ctx, int family)
{
	struct fw_rule r;
	bool v4 = family == AF_INET;

	fw_rule_start(&r, "postrouting");
	fw_match_nfproto(&r, family);
	fw_expr_payload_load(&r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 12 : 8,
			     v4 ? 4 : 16, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, v4 ? FW_MAP_MASQ4 : FW_MAP_MASQ6, true);
	return fw_rule_finish(ctx, &r);
}

/* oifname @bridges meta nfproto ipv4 udp sport 67 udp dport 68
 *   udp checksum set 0
 * nftables cannot fill in checksums; a zero UDP checksum (IPv4 only)
 * makes strict DHCP clients accept replies whose checksum was left
 * partial by the bridge/veth offload path. */
static int fw_rule_dhcp_csum(struct fw_ctx *ctx)
{
	uint16_t zero = 0;
	struct fw_rule r;

	fw_rule_start(&r, "mangle_postrouting");
	fw_expr_meta_load(&r, NFT_META_OIFNAME, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, FW_SET_BRIDGES, false);
	fw_match_nfproto(&r, AF_INET);
	fw_match_l4proto(&r, IPPROTO_UDP);
	fw_match_port(&r, FW_TH_SPORT, FW_PORT_DHCP_SERVER);
	fw_match_port(&r, FW_TH_DPORT, FW_PORT_DHCP_CLIENT);
	fw_expr_immediate(&r, NFT_REG_1, &zero, sizeof(zero));
	fw_expr_payload_write(&r, NFT_PAYLOAD_TRANSPORT_HEADER,
			      FW_UDP_CHECKSUM, sizeof(zero), NFT_REG_1,
			      NFT_PAYLOAD_CSUM_INET, FW_UDP_CHECKSUM);
	return fw_rule_finish(ctx, &r);
}

/* oifname @bridges drop */
static int fw_rule_to_bridges_drop(struct fw_ctx *ctx, const char *chain)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_expr_meta_load(&r, NFT_META_OIFNAME, NFT_REG_1);
	fw_expr_lookup(&r, NFT_REG_1, FW_SET_BRIDGES, false);
	fw_expr_verdict(&r, NF_DROP, NULL);
	return fw_rule_finish(ctx, &r);
}

/* oifname != "UPLINK" drop | iifname "UPLINK" accept | ... */
static int fw_rule_ifname_verdict(struct fw_ctx *ctx, const char *chain,
				  uint32_t key, uint32_t op, const char *name,
				  int verdict)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_match_ifname(&r, key, op, name);
	fw_expr_verdict(&r, verdict, NULL);
	return fw_rule_finish(ctx, &r);
}

/* ip saddr 10.10.0.0/24 accept | ip6 daddr fd00::/64 return | ... */
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

/* [ip daddr HOST] udp|tcp dport PORT accept */
static int fw_rule_port_accept(struct fw_ctx *ctx, const char *chain,
			       const struct fw_subnet *host, uint8_t proto,
			       uint16_t port)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	if (host)
		fw_match_addr(&r, host, false);
	fw_match_l4proto(&r, proto);
	fw_match_port(&r, FW_TH_DPORT, port);
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* ip daddr HOST meta l4proto icmp accept
 * ip6 daddr HOST meta l4proto ipv6-icmp accept */
static int fw_rule_icmp_accept(struct fw_ctx *ctx, const char *chain,
			       const struct fw_subnet *host)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_match_addr(&r, host, false);
	fw_match_l4proto(&r, host->family == AF_INET ? IPPROTO_ICMP :
			 IPPROTO_ICMPV6);
	fw_expr_verdict(&r, NF_ACCEPT, NULL);
	return fw_rule_finish(ctx, &r);
}

/* icmpv6 type nd-router-solicit|nd-neighbor-solicit|... accept */
static int fw_rule_icmp6_type_accept(struct fw_ctx *ctx, const char *chain,
				     uint8_t type)
{
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_match_l4proto(&r, IPPROTO_ICMPV6);
	fw_expr_payload_load(&r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1,
			     NFT_REG_1);
	fw_expr_cmp(&r, NFT_REG_1, NFT_CMP_EQ, &type, sizeof(type));
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

/* meta nfproto ipv4 meta l4proto tcp th dport 8080
 *   dnat ip to 10.10.0.10:80   (or dnat ip6 to [fd00::10]:80) */
static int fw_rule_dnat(struct fw_ctx *ctx, const char *chain,
			const struct fw_forward *f)
{
	bool v4 = f->family == AF_INET;
	uint16_t port = htons(f->guest_port);
	struct fw_rule r;

	fw_rule_start(&r, chain);
	fw_match_nfproto(&r, f->family);
	fw_match_l4proto(&r, f->proto);
	fw_match_port(&r, FW_TH_DPORT, f->host_port);
	fw_expr_immediate(&r, NFT_REG_1, v4 ? (const void *)&f->guest.v4 :
			  (const void *)&f->guest.v6, v4 ? 4 : 16);
	fw_expr_immediate(&r, NFT_REG_2, &port, sizeof(port));
	fw_expr_nat(&r, NFT_NAT_DNAT, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6,
		    NFT_REG_1, NFT_REG_2);
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

/* The base chains: one dispatch rule per hook and family, whatever the
 * number of networks. */
int fw_build_base_rules(struct fw_ctx *ctx)
{
	int ret;

	ret = fw_rule_ifname_vmap(ctx, "forward", NFT_META_IIFNAME, FW_MAP_FROM);
	if (ret == 0)
		ret = fw_rule_ifname_vmap(ctx, "forward", NFT_META_OIFNAME,
					  FW_MAP_TO);
	if (ret == 0)
		ret = fw_rule_ifname_vmap(ctx, "input", NFT_META_IIFNAME,
					  FW_MAP_INPUT);
	if (ret == 0)
		ret = fw_rule_dnat_dispatch(ctx, "prerouting");
	if (ret == 0)
		ret = fw_rule_output_loopback(ctx);
	if (ret == 0)
		ret = fw_rule_dnat_dispatch(ctx, "output");
	if (ret == 0)
		ret = fw_rule_masq_dispatch(ctx, AF_INET);
	if (ret == 0)
		ret = fw_rule_masq_dispatch(ctx, AF_INET6);
	if (ret == 0)
		ret = fw_rule_dhcp_csum(ctx);
	return ret;
}

/* One rule per subnet of the network: ip saddr|daddr SUBNET VERDICT */
static int fw_rules_subnets(struct fw_ctx *ctx, const char *chain,
			    const struct fw_network *net, bool source,
			    int verdict)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < net->n_prefixes; i++) {
		struct fw_subnet s;

		if (fw_prefix_redundant(net, i))
			continue;
		fw_subnet_of(&net->prefixes[i], false, &s);
		ret = fw_rule_addr_verdict(ctx, chain, &s, source, verdict);
	}
	return ret;
}

/* NAME-from: traffic the guests send through the host.  Never to
 * another of our bridges, only out of the uplink if there is one, and
 * only from the network's own subnets.
 *
 * First, "oifname BRIDGE accept": with br_netfilter loaded (Docker and
 * Kubernetes hosts) frames bridged between two guests of the network pass
 * the inet forward hook too, in and out of the same bridge; they are the
 * guests talking to each other and must pass in every mode. */
static int fw_build_from(struct fw_ctx *ctx, const struct fw_network *net)
{
	char chain[FW_CHAIN_NAME_MAX];
	int ret;

	fw_chain_name(chain, net, "from");
	ret = fw_rule_ifname_verdict(ctx, chain, NFT_META_OIFNAME, NFT_CMP_EQ,
				     net->bridge, NF_ACCEPT);
	if (ret == 0 && net->mode == FW_MODE_ISOLATED)
		return fw_rule_verdict(ctx, chain, NF_DROP);
	if (ret == 0)
		ret = fw_rule_to_bridges_drop(ctx, chain);
	if (ret == 0 && fw_has_uplink(net))
		ret = fw_rule_ifname_verdict(ctx, chain, NFT_META_OIFNAME,
					     NFT_CMP_NEQ, net->uplink,
					     NF_DROP);
	if (ret == 0)
		ret = fw_rules_subnets(ctx, chain, net, true, NF_ACCEPT);
	if (ret == 0)
		ret = fw_rule_verdict(ctx, chain, NF_DROP);
	return ret;
}

/* NAME-to: traffic routed from elsewhere to the guests: answers, port
 * forwards (nat), anything from the uplink or anywhere (routed). */
static int fw_build_to(struct fw_ctx *ctx, const struct fw_network *net)
{
	char chain[FW_CHAIN_NAME_MAX];
	int ret;

	fw_chain_name(chain, net, "to");
	if (net->mode == FW_MODE_ISOLATED)
		return fw_rule_verdict(ctx, chain, NF_DROP);
	ret = fw_rule_ct_accept(ctx, chain, NFT_CT_STATE,
				NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
				NF_CT_STATE_BIT(IP_CT_RELATED));
	if (ret < 0)
		return ret;
	if (net->mode == FW_MODE_NAT) {
		ret = fw_rule_ct_accept(ctx, chain, NFT_CT_STATUS, IPS_DST_NAT);
		return ret ? ret : fw_rule_verdict(ctx, chain, NF_DROP);
	}
	if (!fw_has_uplink(net))
		return fw_rule_verdict(ctx, chain, NF_ACCEPT);
	ret = fw_rule_ifname_verdict(ctx, chain, NFT_META_IIFNAME, NFT_CMP_EQ,
				     net->uplink, NF_ACCEPT);
	return ret ? ret : fw_rule_verdict(ctx, chain, NF_DROP);
}

/* Isolated NAME-in, per host address: DNS and ICMP to the host. */
static int fw_build_in_host(struct fw_ctx *ctx, const char *chain,
			    const struct fw_prefix *p)
{
	struct fw_subnet host;
	int ret;

	fw_subnet_of(p, true, &host);
	ret = fw_rule_port_accept(ctx, chain, &host, IPPROTO_UDP,
				  FW_PORT_DNS);
	if (ret == 0)
		ret = fw_rule_port_accept(ctx, chain, &host, IPPROTO_TCP,
					  FW_PORT_DNS);
	if (ret == 0)
		ret = fw_rule_icmp_accept(ctx, chain, &host);
	return ret;
}

/* Isolated NAME-in, whatever the destination: DHCP goes to broadcast,
 * DHCPv6 and neighbour discovery to multicast addresses. */
static int fw_build_in_any(struct fw_ctx *ctx, const char *chain, bool v4,
			   bool v6)
{
	int ret = 0;

	if (v4)
		ret = fw_rule_port_accept(ctx, chain, NULL, IPPROTO_UDP,
					  FW_PORT_DHCP_SERVER);
	if (ret == 0 && v6)
		ret = fw_rule_port_accept(ctx, chain, NULL, IPPROTO_UDP,
					  FW_PORT_DHCP6_SERVER);
	if (ret == 0 && v6)
		ret = fw_rule_icmp6_type_accept(ctx, chain,
						FW_ICMP6_ROUTER_SOLICIT);
	if (ret == 0 && v6)
		ret = fw_rule_icmp6_type_accept(ctx, chain,
						FW_ICMP6_NEIGH_SOLICIT);
	if (ret == 0 && v6)
		ret = fw_rule_icmp6_type_accept(ctx, chain,
						FW_ICMP6_NEIGH_ADVERT);
	return ret;
}

/* NAME-in: traffic from the guests to the host itself.  nat and routed
 * guests reach the host like any host on a LAN; isolated guests reach
 * only DHCP, DNS and ICMP on the bridge's own addresses. */
static int fw_build_in(struct fw_ctx *ctx, const struct fw_network *net)
{
	char chain[FW_CHAIN_NAME_MAX];
	bool v4 = false, v6 = false;
	int ret;

	fw_chain_name(chain, net, "in");
	if (net->mode != FW_MODE_ISOLATED)
		return fw_rule_verdict(ctx, chain, NF_ACCEPT);
	ret = fw_rule_ct_accept(ctx, chain, NFT_CT_STATE,
				NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
				NF_CT_STATE_BIT(IP_CT_RELATED));
	for (size_t i = 0; i < net->n_prefixes; i++) {
		v4 |= net->prefixes[i].family == AF_INET;
		v6 |= net->prefixes[i].family == AF_INET6;
	}
	if (ret == 0)
		ret = fw_build_in_any(ctx, chain, v4, v6);
	for (size_t i = 0; ret == 0 && i < net->n_prefixes; i++)
		ret = fw_build_in_host(ctx, chain, &net->prefixes[i]);
	if (ret == 0)
		ret = fw_rule_verdict(ctx, chain, NF_DROP);
	return ret;
}

/* NAME-masq, v4 part: ip daddr 224.0.0.0/24 return,
 * ip daddr 255.255.255.255 return (local multicast and broadcast) */
static int fw_build_masq_v4(struct fw_ctx *ctx, const char *chain)
{
	struct fw_subnet mcast = { AF_INET, 24, 4, { 224, 0, 0, 0 } };
	struct fw_subnet bcast = { AF_INET, 32, 4, { 255, 255, 255, 255 } };
	int ret;

	ret = fw_rule_addr_verdict(ctx, chain, &mcast, false, NFT_RETURN);
	if (ret == 0)
		ret = fw_rule_addr_verdict(ctx, chain, &bcast, false,
					   NFT_RETURN);
	return ret;
}

/* NAME-masq: reached for packets from the network's subnets */
static int fw_build_masq(struct fw_ctx *ctx, const struct fw_network *net)
{
	struct fw_subnet mcast6 = { AF_INET6, 8, 16, { 0xff } };
	char chain[FW_CHAIN_NAME_MAX];
	bool v4 = false, v6 = false;
	int ret;

	fw_chain_name(chain, net, "masq");
	for (size_t i = 0; i < net->n_prefixes; i++) {
		v4 |= net->prefixes[i].family == AF_INET;
		v6 |= net->prefixes[i].family == AF_INET6;
	}
	ret = fw_rules_subnets(ctx, chain, net, false, NFT_RETURN);
	if (ret == 0 && v4)
		ret = fw_build_masq_v4(ctx, chain);
	if (ret == 0 && v6)
		ret = fw_rule_addr_verdict(ctx, chain, &mcast6, false,
					   NFT_RETURN);
	if (ret == 0 && fw_has_uplink(net))
		ret = fw_rule_ifname_verdict(ctx, chain, NFT_META_OIFNAME,
					     NFT_CMP_NEQ, net->uplink,
					     NFT_RETURN);
	if (ret == 0)
		ret = fw_rule_masquerade(ctx, chain);
	return ret;
}

/* NAME-dnat: one rule per port forward */
static int fw_build_dnat(struct fw_ctx *ctx, const struct fw_network *net)
{
	char chain[FW_CHAIN_NAME_MAX];
	int ret = 0;

	fw_chain_name(chain, net, "dnat");
	for (size_t i = 0; ret == 0 && i < net->n_forwards; i++)
		ret = fw_rule_dnat(ctx, chain, &net->forwards[i]);
	return ret;
}

int fw_build_net_rules(struct fw_ctx *ctx, const struct fw_network *net)
{
	int ret = fw_build_from(ctx, net);

	if (ret == 0)
		ret = fw_build_to(ctx, net);
	if (ret == 0)
		ret = fw_build_in(ctx, net);
	if (ret == 0 && net->mode == FW_MODE_NAT)
		ret = fw_build_masq(ctx, net);
	if (ret == 0 && net->mode == FW_MODE_NAT)
		ret = fw_build_dnat(ctx, net);
	return ret;
}
