/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One helper per nftables expression.  Each appends its expression to the
 * rule being built; an allocation failure is stored in r->err (the first
 * one wins) and the rule is finished, or dropped, by its builder.
 */
#include <errno.h>
#include <netinet/in.h>

#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>

#include "firewall/fw-private.h"

void fw_rule_init(struct fw_rule *r, uint16_t family, const char *table,
		  const char *chain)
{
	r->err = 0;
	r->nlr = nftnl_rule_alloc();
	if (!r->nlr) {
		r->err = -ENOMEM;
		return;
	}
	nftnl_rule_set_u32(r->nlr, NFTNL_RULE_FAMILY, family);
	if (nftnl_rule_set_str(r->nlr, NFTNL_RULE_TABLE, table) < 0 ||
	    nftnl_rule_set_str(r->nlr, NFTNL_RULE_CHAIN, chain) < 0)
		r->err = -ENOMEM;
}

static struct nftnl_expr *fw_expr_new(struct fw_rule *r, const char *name)
{
	struct nftnl_expr *e;

	if (r->err)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (!e)
		r->err = -ENOMEM;
	return e;
}

/* Attach e, or drop it when setting one of its attributes failed. */
static void fw_expr_push(struct fw_rule *r, struct nftnl_expr *e, int ret)
{
	if (ret < 0) {
		nftnl_expr_free(e);
		if (!r->err)
			r->err = -ENOMEM;
		return;
	}
	nftnl_rule_add_expr(r->nlr, e);
}

/* [ meta load KEY => reg DREG ] */
void fw_expr_meta_load(struct fw_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = fw_expr_new(r, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	fw_expr_push(r, e, 0);
}

/* [ cmp OP reg SREG DATA ] */
void fw_expr_cmp(struct fw_rule *r, uint32_t sreg, uint32_t op,
		 const void *data, uint32_t len)
{
	struct nftnl_expr *e = fw_expr_new(r, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	fw_expr_push(r, e, nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len));
}

/* [ payload load LENb @ BASE header + OFFSET => reg DREG ] */
void fw_expr_payload_load(struct fw_rule *r, uint32_t base, uint32_t offset,
			  uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = fw_expr_new(r, "payload");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	fw_expr_push(r, e, 0);
}

/* [ payload write reg SREG => LENb @ BASE header + OFFSET csum_type ... ] */
void fw_expr_payload_write(struct fw_rule *r, uint32_t base, uint32_t offset,
			   uint32_t len, uint32_t sreg, uint32_t csum_type,
			   uint32_t csum_offset)
{
	struct nftnl_expr *e = fw_expr_new(r, "payload");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE, csum_type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, csum_offset);
	fw_expr_push(r, e, 0);
}

/* [ bitwise reg REG = ( reg REG & MASK ) ^ 0 ] */
void fw_expr_bitwise_mask(struct fw_rule *r, uint32_t reg, const void *mask,
			  uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e;
	int ret;

	if (len > sizeof(zero)) {
		r->err = r->err ? r->err : -EINVAL;
		return;
	}
	e = fw_expr_new(r, "bitwise");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	ret = nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	if (ret >= 0)
		ret = nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	fw_expr_push(r, e, ret);
}

/* [ lookup reg SREG set SET [dreg DREG] [0x1] ] (dreg 0: none) */
static void fw_expr_lookup_ex(struct fw_rule *r, uint32_t sreg, const char *set,
			      uint32_t dreg, uint32_t flags)
{
	struct nftnl_expr *e = fw_expr_new(r, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	if (dreg)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
	if (flags)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, flags);
	fw_expr_push(r, e, nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set));
}

/* [ lookup reg SREG set SET ] */
void fw_expr_lookup(struct fw_rule *r, uint32_t sreg, const char *set)
{
	fw_expr_lookup_ex(r, sreg, set, 0, 0);
}

/* [ lookup reg SREG set SET dreg DREG ]: the value of a map */
void fw_expr_map(struct fw_rule *r, uint32_t sreg, const char *set,
		 uint32_t dreg)
{
	fw_expr_lookup_ex(r, sreg, set, dreg, 0);
}

/* [ lookup reg SREG set SET 0x1 ]: the key is NOT in the set */
void fw_expr_lookup_inv(struct fw_rule *r, uint32_t sreg, const char *set)
{
	fw_expr_lookup_ex(r, sreg, set, 0, NFT_LOOKUP_F_INV);
}

/* [ counter pkts 0 bytes 0 ] */
void fw_expr_counter(struct fw_rule *r)
{
	struct nftnl_expr *e = fw_expr_new(r, "counter");

	if (!e)
		return;
	fw_expr_push(r, e, 0);
}

/* Not an expression: the rule's `comment "..."`, kept by the kernel as
 * opaque user data that nft prints. */
void fw_rule_comment(struct fw_rule *r, const char *comment)
{
	struct nftnl_udata_buf *ud;

	if (r->err)
		return;
	ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	if (!ud)
		r->err = -ENOMEM;
	else if (!nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment))
		r->err = -EINVAL;	/* longer than the kernel keeps */
	else if (nftnl_rule_set_data(r->nlr, NFTNL_RULE_USERDATA,
				     nftnl_udata_buf_data(ud),
				     nftnl_udata_buf_len(ud)) < 0)
		r->err = -ENOMEM;
	if (ud)
		nftnl_udata_buf_free(ud);
}

/* [ immediate reg 0 VERDICT [-> CHAIN] ] */
void fw_expr_verdict(struct fw_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = fw_expr_new(r, "immediate");
	int ret = 0;

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		ret = nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	fw_expr_push(r, e, ret);
}

/* [ immediate reg DREG DATA ] */
void fw_expr_immediate(struct fw_rule *r, uint32_t dreg, const void *data,
		       uint32_t len)
{
	struct nftnl_expr *e = fw_expr_new(r, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
	fw_expr_push(r, e, nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len));
}

/* [ ct load KEY => reg DREG ] */
void fw_expr_ct_load(struct fw_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = fw_expr_new(r, "ct");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	fw_expr_push(r, e, 0);
}

/* [ fib FLAGS RESULT => reg DREG ] */
void fw_expr_fib(struct fw_rule *r, uint32_t flags, uint32_t result,
		 uint32_t dreg)
{
	struct nftnl_expr *e = fw_expr_new(r, "fib");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
	fw_expr_push(r, e, 0);
}

/* [ nat TYPE FAMILY addr_min reg REG_ADDR proto_min reg REG_PROTO ] */
void fw_expr_nat(struct fw_rule *r, uint32_t type, uint32_t family,
		 uint32_t reg_addr, uint32_t reg_proto)
{
	struct nftnl_expr *e = fw_expr_new(r, "nat");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
	fw_expr_push(r, e, 0);
}

/* [ masq ] */
void fw_expr_masq(struct fw_rule *r)
{
	struct nftnl_expr *e = fw_expr_new(r, "masq");

	if (!e)
		return;
	fw_expr_push(r, e, 0);
}
