/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit test of the nftables ruleset builder (no kernel, no privileges).
 *
 * Builds plans for representative network sets, renders every object
 * (rules through nftnl_rule_snprintf) and compares the text with golden
 * files in tests/data/fw/; checks structure (rule counts per chain, set
 * elements and their values, slots per prefix length, object order, the
 * same rules whatever the number of networks), caller errors, and the
 * encoded netlink batch.  The same for table bridge netd (port
 * protection): the whole table for 0 and 2 ports, the element batches of
 * fw_guard_set() for add, replace and remove, and a rule count that does
 * not depend on the number of ports.  One network at a time
 * (fw_network_add/del/update): the add and remove batches of a nat
 * network with forwards and an IPv6 prefix (golden), that they hold
 * element messages only (exclusive additions; the removal adds before it
 * deletes), the very elements fw_sync() makes for it, the slots they
 * create when the kernel lacks them and the sets they leave alone, and
 * that network #1000's batch is the size of #1's.
 *
 * FW_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
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
	if (!ok)
		failures++;
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

/* ---- fixtures ---- */

static struct fw_prefix web_pfx[2], lab_pfx[1], iso_pfx[2], v6_pfx[2];
static struct fw_forward web_fwd[2];

static void fixtures_init(void)
{
	web_pfx[0] = pfx(AF_INET, "10.10.0.1", 24);
	web_pfx[1] = pfx(AF_INET6, "fd00:10::1", 64);
	web_fwd[0] = fwd(IPPROTO_TCP, 8080, AF_INET, "10.10.0.10", 80);
	web_fwd[1] = fwd(IPPROTO_UDP, 5353, AF_INET6, "fd00:10::10", 53);
	lab_pfx[0] = pfx(AF_INET, "10.20.0.1", 24);
	iso_pfx[0] = pfx(AF_INET, "10.30.0.1", 24);
	iso_pfx[1] = pfx(AF_INET6, "fd00:30::1", 64);
	/* two addresses in one /56: the subnet is used once */
	v6_pfx[0] = pfx(AF_INET6, "fd00:1:2:3ff::1", 56);
	v6_pfx[1] = pfx(AF_INET6, "fd00:1:2:300::2", 56);
}

static struct fw_network net_web(void)
{
	return (struct fw_network){ "web", "netd-web", FW_MODE_NAT, "eth0",
				    web_pfx, 2, web_fwd, 2 };
}

static struct fw_network net_lab(void)
{
	return (struct fw_network){ "lab", "netd-lab", FW_MODE_ROUTED, "eth1",
				    lab_pfx, 1, NULL, 0 };
}

static struct fw_network net_iso(void)
{
	return (struct fw_network){ "iso", "netd-iso", FW_MODE_ISOLATED, NULL,
				    iso_pfx, 2, NULL, 0 };
}

static struct fw_network net_v6(void)
{
	return (struct fw_network){ "six_6", "netd-six", FW_MODE_NAT, "",
				    v6_pfx, 2, NULL, 0 };
}

/* ---- rendering ---- */

static void render_key(FILE *f, const char *set, const uint8_t *key,
		       uint32_t len)
{
	char buf[128];

	fw_elem_describe(set, key, len, 0, buf, sizeof(buf));
	fprintf(f, "%s", buf);
	if (strcmp(set, FW_SET_PORT_MAC) == 0 && len == 24 &&
	    (key[22] || key[23]))
		fprintf(f, " (padding not zero)");
}

/* The value of a map element: an ifname, a name, a guest address . port */
static void render_data(FILE *f, const char *set, const uint8_t *d,
			uint32_t len)
{
	char buf[INET6_ADDRSTRLEN];
	uint16_t port;

	if ((strcmp(set, FW_MAP_DNAT4) == 0 && len == 8) ||
	    (strcmp(set, FW_MAP_DNAT6) == 0 && len == 20)) {
		memcpy(&port, d + len - 4, sizeof(port));
		fprintf(f, " : %s . %u", inet_ntop(len == 8 ? AF_INET :
			AF_INET6, d, buf, sizeof(buf)), ntohs(port));
		return;
	}
	fprintf(f, " : \"%.*s\"", (int)strnlen((const char *)d, len),
		(const char *)d);
}

static int render_elem(struct nftnl_set_elem *e, void *data)
{
	void **args = data;
	FILE *f = args[0];
	const char *set = args[1];
	uint32_t len = 0;
	const uint8_t *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

	fprintf(f, "  ");
	render_key(f, set, key, len);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
	    nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
	    NFT_SET_ELEM_INTERVAL_END)
		fprintf(f, " end");
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
		const uint8_t *d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA,
						      &len);

		render_data(f, set, d, len);
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
		fprintf(f, " : jump %s",
			nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
	fprintf(f, "\n");
	return 0;
}

static void render_chain(FILE *f, struct nftnl_chain *c)
{
	fprintf(f, "chain %s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
		fprintf(f, " (type %s hook %u priority %d policy %u)",
			nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE),
			nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM),
			nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
			nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY));
	fprintf(f, "\n");
}

static void render_set(FILE *f, struct nftnl_set *s)
{
	uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);

	fprintf(f, "%s %s (key type %u len %u flags 0x%x",
		flags & NFT_SET_MAP ? "map" : "set",
		nftnl_set_get_str(s, NFTNL_SET_NAME),
		nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
		nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), flags);
	if (flags & NFT_SET_MAP)
		fprintf(f, " : data type %u len %u",
			nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE),
			nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN));
	fprintf(f, ")\n");
}

static void render_rule(FILE *f, const struct fw_msg *m)
{
	char buf[4096];
	const char *body;

	nftnl_rule_snprintf(buf, sizeof(buf), m->rule, NFTNL_OUTPUT_DEFAULT, 0);
	body = strchr(buf, '\n');	/* skip "inet netd CHAIN" */
	fprintf(f, "rule %s #%u%s", nftnl_rule_get_str(m->rule,
		NFTNL_RULE_CHAIN), m->index, body ? body : "\n");
	/* libnftnl ends the text without a newline after user data */
	if (buf[0] && buf[strlen(buf) - 1] != '\n')
		fprintf(f, "\n");
}

static void render_body(FILE *f, const struct fw_msg *m)
{
	void *args[2];

	switch (m->type) {
	case FW_MSG_NEWTABLE:
	case FW_MSG_DELTABLE:
	case FW_MSG_NEWSETELEM:
	case FW_MSG_DELSETELEM: {
		char what[128];

		fw_msg_describe(m, what, sizeof(what));
		fprintf(f, "%s\n", what);
		if (m->type != FW_MSG_NEWSETELEM &&
		    m->type != FW_MSG_DELSETELEM)
			break;
		args[0] = f;
		args[1] = (void *)nftnl_set_get_str(m->set, NFTNL_SET_NAME);
		nftnl_set_elem_foreach(m->set, render_elem, args);
		break;
	}
	case FW_MSG_NEWCHAIN:
		render_chain(f, m->chain);
		break;
	case FW_MSG_NEWSET:
		render_set(f, m->set);
		break;
	case FW_MSG_NEWRULE:
		render_rule(f, m);
		break;
	}
}

/* An exclusive (NLM_F_EXCL) addition reads "create ...", as in nft. */
static void render_msg(FILE *f, const struct fw_msg *m)
{
	if (m->excl)
		fprintf(f, "create ");
	render_body(f, m);
}

static char *render_plan(const struct fw_plan *plan)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < plan->n; i++)
		render_msg(f, &plan->msgs[i]);
	fclose(f);
	return text;
}

static char *render_of_type(const struct fw_plan *plan, enum fw_msg_type type);

/* Only the rules of a plan, rendered in order (rules are never "create"). */
static char *render_rules(const struct fw_plan *plan)
{
	return render_of_type(plan, FW_MSG_NEWRULE);
}

/* ---- golden files ---- */

/* tests/data/fw: next to this source file.  __FILE__ is relative to the
 * build root, which is the parent of this executable's directory. */
static void golden_path(char *buf, size_t len, const char *name)
{
	char src[PATH_MAX], exe[PATH_MAX];
	ssize_t n;

	snprintf(src, sizeof(src), "%s", __FILE__);
	if (src[0] == '/') {
		snprintf(buf, len, "%s/data/fw/%s.txt", dirname(src), name);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(buf, len, "%s/%s/data/fw/%s.txt",
		 dirname(dirname(exe)), dirname(src), name);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

static void first_difference(const char *a, const char *b)
{
	unsigned int line = 1;
	const char *la = a;

	while (*a && *a == *b) {
		if (*a == '\n') {
			line++;
			la = a + 1;
		}
		a++;
		b++;
	}
	printf("  first difference at line %u: got \"%.*s\"\n", line,
	       (int)strcspn(la, "\n"), la);
}

/* Compare got (freed here) with tests/data/fw/NAME.txt. */
static void check_golden_text(const char *name, char *got)
{
	char path[PATH_MAX + 64];
	char *want;
	FILE *f;

	golden_path(path, sizeof(path), name);
	if (getenv("FW_UPDATE_GOLDEN")) {
		f = fopen(path, "w");
		check(f && fputs(got, f) >= 0, "wrote %s", path);
		if (f)
			fclose(f);
		free(got);
		return;
	}
	want = read_file(path);
	check(want != NULL, "golden file %s readable", path);
	if (want) {
		check(strcmp(got, want) == 0, "%s: plan matches %s", name,
		      path);
		if (strcmp(got, want) != 0)
			first_difference(got, want);
	}
	free(want);
	free(got);
}

static void check_golden(const char *name, const struct fw_plan *plan)
{
	check_golden_text(name, render_plan(plan));
}

/* ---- plan queries ---- */

static size_t count_type(const struct fw_plan *plan, enum fw_msg_type type)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n; i++)
		n += plan->msgs[i].type == type;
	return n;
}

static size_t count_rules(const struct fw_plan *plan, const char *chain)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n; i++)
		n += plan->msgs[i].type == FW_MSG_NEWRULE &&
		     strcmp(nftnl_rule_get_str(plan->msgs[i].rule,
					       NFTNL_RULE_CHAIN), chain) == 0;
	return n;
}

static bool has_chain(const struct fw_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->msgs[i].type == FW_MSG_NEWCHAIN &&
		    strcmp(nftnl_chain_get_str(plan->msgs[i].chain,
					       NFTNL_CHAIN_NAME), name) == 0)
			return true;
	return false;
}

static bool has_set(const struct fw_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->msgs[i].type == FW_MSG_NEWSET &&
		    strcmp(nftnl_set_get_str(plan->msgs[i].set,
					     NFTNL_SET_NAME), name) == 0)
			return true;
	return false;
}

struct elem_query {
	const void *key;
	uint32_t len;
	size_t count;		/* elements seen */
	const uint8_t *data;	/* of the element with key */
	uint32_t data_len;
	bool found;
};

static int query_elem(struct nftnl_set_elem *e, void *data)
{
	struct elem_query *q = data;
	uint32_t len = 0;
	const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

	q->count++;
	if (q->key && len == q->len && memcmp(key, q->key, len) == 0 &&
	    !(nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
	      nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS))) {
		q->found = true;
		q->data = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA) ?
			  nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA,
					     &q->data_len) : NULL;
	}
	return 0;
}

static struct elem_query elems(const struct fw_plan *plan, const char *set,
			       const void *key, uint32_t len)
{
	struct elem_query q = { .key = key, .len = len };

	for (size_t i = 0; i < plan->n; i++)
		if (plan->msgs[i].type == FW_MSG_NEWSETELEM &&
		    strcmp(nftnl_set_get_str(plan->msgs[i].set,
					     NFTNL_SET_NAME), set) == 0)
			nftnl_set_elem_foreach(plan->msgs[i].set, query_elem,
					       &q);
	return q;
}

static struct elem_query ifname_elem(const struct fw_plan *plan,
				     const char *set, const char *ifname)
{
	static char key[16];

	memset(key, 0, sizeof(key));
	memcpy(key, ifname, strlen(ifname));
	return elems(plan, set, key, sizeof(key));
}

/* Is the value of the element that q found the interface name want? */
static bool data_is_ifname(const struct elem_query *q, const char *want)
{
	char buf[16] = { 0 };

	memcpy(buf, want, strlen(want));
	return q->found && q->data && q->data_len == 16 &&
	       memcmp(q->data, buf, 16) == 0;
}

struct ref_check {
	const struct fw_plan *plan;
	bool ok;
};

static int check_refs(struct nftnl_expr *e, void *data)
{
	struct ref_check *rc = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (strcmp(name, "lookup") == 0 &&
	    !has_set(rc->plan, nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET)))
		rc->ok = false;
	if (strcmp(name, "immediate") == 0 &&
	    nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) &&
	    !has_chain(rc->plan, nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN)))
		rc->ok = false;
	return 0;
}

static int check_no_verdict(struct nftnl_set_elem *e, void *data)
{
	struct ref_check *rc = data;

	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN) ||
	    nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT))
		rc->ok = false;
	return 0;
}

/* Is there a chain (a set) named name among the first n messages? */
static bool defined_before(const struct fw_plan *plan, size_t n,
			   enum fw_msg_type type, const char *name)
{
	struct fw_plan head = *plan;

	head.n = n;
	return type == FW_MSG_NEWCHAIN ? has_chain(&head, name) :
	       has_set(&head, name);
}

/* The table first (add, delete, add); every chain, set and jump target
 * defined before a rule or element uses it; no element carries a
 * verdict. */
static void check_structure(const char *name, const struct fw_plan *plan)
{
	struct ref_check verdicts = { plan, true };
	bool ordered = plan->n >= 3, refs = true;

	for (size_t i = 0; i < plan->n; i++) {
		const struct fw_msg *m = &plan->msgs[i];
		struct fw_plan head = *plan;
		struct ref_check rc = { &head, true };

		head.n = i;
		if (i < 3)
			ordered = ordered && m->type == (i == 1 ?
				  FW_MSG_DELTABLE : FW_MSG_NEWTABLE);
		else
			ordered = ordered && m->type != FW_MSG_NEWTABLE &&
				  m->type != FW_MSG_DELTABLE;
		if (m->type == FW_MSG_NEWRULE) {
			nftnl_expr_foreach(m->rule, check_refs, &rc);
			refs = refs && rc.ok &&
			       defined_before(plan, i, FW_MSG_NEWCHAIN,
					      nftnl_rule_get_str(m->rule,
						NFTNL_RULE_CHAIN));
		} else if (m->type == FW_MSG_NEWSETELEM) {
			nftnl_set_elem_foreach(m->set, check_no_verdict,
					       &verdicts);
			refs = refs && defined_before(plan, i, FW_MSG_NEWSET,
					nftnl_set_get_str(m->set,
							  NFTNL_SET_NAME));
		}
	}
	check(ordered, "%s: add/delete/add table first", name);
	check(refs, "%s: every chain and set defined before it is used",
	      name);
	check(verdicts.ok, "%s: no element carries a verdict", name);
}

static struct fw_plan *build(const char *name, const struct fw_network *nets,
			     size_t n)
{
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret = fw_plan_sync(nets, n, &plan, err, sizeof(err));

	check(ret == 0, "%s: builds (%d %s)", name, ret, err);
	if (ret < 0)
		exit(1);
	check_structure(name, plan);
	return plan;
}

/* ---- cases ---- */

#define N_FIXED_SETS	14
#define N_CHAINS	14	/* 6 base chains, 8 others */

static void test_empty(void)
{
	struct fw_plan *plan = build("empty", NULL, 0);

	check(count_type(plan, FW_MSG_NEWCHAIN) == N_CHAINS,
	      "empty: 6 base chains and 8 others");
	check(count_type(plan, FW_MSG_NEWSET) == N_FIXED_SETS,
	      "empty: 14 sets and maps, no slot");
	check(count_type(plan, FW_MSG_NEWSETELEM) == 0,
	      "empty: no element messages");
	check(count_rules(plan, "forward") == 4 &&
	      count_rules(plan, "from_bridge") == 4 &&
	      count_rules(plan, "between_bridges") == 2 &&
	      count_rules(plan, "from_subnet") == 0 &&
	      count_rules(plan, "from_uplinked") == 1 &&
	      count_rules(plan, "to_bridge") == 7 &&
	      count_rules(plan, "input") == 1 &&
	      count_rules(plan, "isolated_input") == 13 &&
	      count_rules(plan, "prerouting") == 2 &&
	      count_rules(plan, "output") == 4 &&
	      count_rules(plan, "postrouting") == 0 &&
	      count_rules(plan, "masq") == 5 &&
	      count_rules(plan, "masq_skip") == 0 &&
	      count_rules(plan, "mangle_output") == 1,
	      "empty: the fixed rules");
	check_golden("empty", plan);
	fw_plan_free(plan);
}

static void test_nat(void)
{
	struct fw_network net = net_web();
	struct fw_plan *plan = build("nat", &net, 1);
	uint8_t v4[4] = { 10, 10, 0, 0 }, name[32] = "web";
	uint8_t tcp8080[8] = { IPPROTO_TCP, 0, 0, 0, 0x1f, 0x90 };
	uint8_t udp5353[8] = { IPPROTO_UDP, 0, 0, 0, 0x14, 0xe9 };
	uint8_t g4[8] = { 10, 10, 0, 10, 0, 80 }, g6[20] = { 0xfd, 0, 0, 0x10 };
	struct elem_query q;

	g6[15] = 0x10;
	g6[17] = 53;
	/* net, nat, natup + egress, local for /24 and /64 */
	check(count_type(plan, FW_MSG_NEWSET) == N_FIXED_SETS + 2 * 5,
	      "nat: 5 slot sets per prefix length");
	check(has_set(plan, "netup4_24") && !has_set(plan, "net4_24") &&
	      has_set(plan, "nat6_64") &&
	      has_set(plan, "natup4_24") && has_set(plan, "egress6_64") &&
	      has_set(plan, "local4_24_24") && has_set(plan, "local6_64_64") &&
	      !has_set(plan, "local4_24_64"), "nat: the slots of /24 and /64");
	check(count_rules(plan, "from_subnet") == 0 &&
	      count_rules(plan, "from_uplinked") == 1 + 2 &&
	      count_rules(plan, "postrouting") == 2 &&
	      count_rules(plan, "masq_skip") == 4,
	      "nat: one rule per slot (with an uplink: from_uplinked)");
	q = elems(plan, "nat4_24", v4, 4);
	check(data_is_ifname(&q, "netd-web"), "nat: nat4_24 maps 10.10.0.0 "
	      "to netd-web");
	q = elems(plan, FW_MAP_NETWORKS, name, 32);
	check(data_is_ifname(&q, "netd-web"), "nat: networks maps web to "
	      "netd-web");
	q = elems(plan, FW_MAP_DNAT, tcp8080, 8);
	check(data_is_ifname(&q, "netd-web") && q.count == 2,
	      "nat: dnat maps tcp . 8080 (and udp . 5353) to netd-web");
	q = elems(plan, FW_MAP_DNAT4, tcp8080, 8);
	check(q.found && q.data_len == 8 && memcmp(q.data, g4, 8) == 0 &&
	      q.count == 1, "nat: dnat4 maps tcp . 8080 to 10.10.0.10 . 80");
	q = elems(plan, FW_MAP_DNAT6, udp5353, 8);
	check(q.found && q.data_len == 20 && memcmp(q.data, g6, 20) == 0 &&
	      q.count == 1, "nat: dnat6 maps udp . 5353 to fd00:10::10 . 53");
	check(ifname_elem(plan, FW_SET_UPLINKED, "netd-web").found &&
	      ifname_elem(plan, FW_SET_NAT, "netd-web").found &&
	      !ifname_elem(plan, FW_SET_ISOLATED, "netd-web").found,
	      "nat: netd-web is nat and has an uplink");
	check_golden("nat", plan);
	fw_plan_free(plan);
}

static void test_routed(void)
{
	struct fw_network net = net_lab();
	struct fw_plan *plan = build("routed", &net, 1);

	check(count_type(plan, FW_MSG_NEWSET) == N_FIXED_SETS + 1 &&
	      has_set(plan, "netup4_24"), "routed: one slot, netup4_24 (it has an uplink)");
	check(!ifname_elem(plan, FW_SET_NAT, "netd-lab").found &&
	      count_rules(plan, "postrouting") == 0,
	      "routed: not masqueraded");
	check(elems(plan, FW_SET_UPLINKS, NULL, 0).count == 1,
	      "routed: its uplink in uplinks");
	check_golden("routed", plan);
	fw_plan_free(plan);
}

static void test_isolated(void)
{
	struct fw_network net = net_iso();
	struct fw_plan *plan = build("isolated", &net, 1);
	uint8_t host[20] = "netd-iso";

	host[16] = 10;
	host[17] = 30;
	host[19] = 1;
	check(count_type(plan, FW_MSG_NEWSET) == N_FIXED_SETS,
	      "isolated: no slot: its subnets are nowhere");
	check(ifname_elem(plan, FW_SET_ISOLATED, "netd-iso").found &&
	      ifname_elem(plan, FW_SET_ISOLATED4, "netd-iso").found &&
	      ifname_elem(plan, FW_SET_ISOLATED6, "netd-iso").found,
	      "isolated: in isolated, isolated4 and isolated6");
	check(elems(plan, FW_SET_HOSTS4, host, 20).found &&
	      elems(plan, FW_SET_HOSTS6, NULL, 0).count == 1,
	      "isolated: its host addresses in hosts4 and hosts6");
	check_golden("isolated", plan);
	fw_plan_free(plan);
}

static void test_v6(void)
{
	struct fw_network net = net_v6();
	struct fw_plan *plan = build("v6", &net, 1);
	uint8_t key[32] = "netd-six";
	struct elem_query q;

	memcpy(key + 16, (uint8_t[]){ 0xfd, 0, 0, 1, 0, 2, 3, 0 }, 8);
	q = elems(plan, "net6_56", key, 32);
	check(q.found && q.count == 1, "v6: one /56 for two addresses in it");
	check(elems(plan, "local6_56_56", NULL, 0).count == 1 &&
	      !has_set(plan, "natup6_56") && !has_set(plan, "netup6_56"),
	      "v6: one local pair, no uplink slot");
	check(count_rules(plan, "from_subnet") == 1 &&
	      count_rules(plan, "from_uplinked") == 1,
	      "v6: no uplink: its slot's rule in from_subnet");
	check_golden("v6", plan);
	fw_plan_free(plan);
}

static void test_three(void)
{
	struct fw_network nets[] = { net_web(), net_lab(), net_iso() };
	struct fw_plan *plan = build("three", nets, 3);

	check(ifname_elem(plan, FW_SET_BRIDGES, "x").count == 3 &&
	      elems(plan, FW_SET_SAME, NULL, 0).count == 3,
	      "three: 3 bridges, each the same as itself");
	check(elems(plan, "netup4_24", NULL, 0).count == 2 && !has_set(plan, "net4_24"),
	      "three: 2 subnets in netup4_24 (web, lab, both with an uplink; not iso)");
	check(ifname_elem(plan, FW_SET_UPLINKED, "x").count == 2,
	      "three: 2 networks with an uplink");
	check_golden("three", plan);
	fw_plan_free(plan);
}

static void make_many(struct fw_network *nets, size_t n, char names[][16],
		      char bridges[][16], struct fw_prefix *pfxs)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], 16, "n%zu", i);
		snprintf(bridges[i], 16, "netd-n%zu", i);
		pfxs[i] = (struct fw_prefix){ .family = AF_INET, .len = 24 };
		pfxs[i].host.v4.s_addr = htonl(0x0a000001 | (uint32_t)i << 8);
		nets[i] = (struct fw_network){ names[i], bridges[i],
			FW_MODE_NAT, NULL, &pfxs[i], 1, NULL, 0 };
	}
}

/* The path of a packet must not grow with the number of networks. */
static void test_scaling(void)
{
	static struct fw_network nets[200];
	static char names[200][16], bridges[200][16];
	static struct fw_prefix pfxs[200];
	struct fw_plan *one, *many;
	char *r1, *r200;

	make_many(nets, 200, names, bridges, pfxs);
	one = build("one", nets, 1);
	many = build("many", nets, 200);
	r1 = render_rules(one);
	r200 = render_rules(many);
	check(strcmp(r1, r200) == 0 && count_type(one, FW_MSG_NEWSET) ==
	      count_type(many, FW_MSG_NEWSET),
	      "many: the same rules and sets for 200 networks as for 1");
	check(ifname_elem(many, FW_SET_BRIDGES, "netd-n199").found &&
	      ifname_elem(many, FW_SET_BRIDGES, "x").count == 200,
	      "many: bridges has 200 elements");
	free(r1);
	free(r200);
	fw_plan_free(one);
	fw_plan_free(many);
}

static void expect_error(const char *what, const struct fw_network *nets,
			 size_t n, int want, const char *needle1,
			 const char *needle2)
{
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret = fw_plan_sync(nets, n, &plan, err, sizeof(err));

	check(ret == want && plan == NULL && strstr(err, needle1) &&
	      (!needle2 || strstr(err, needle2)),
	      "%s: %d \"%s\"", what, ret, err);
	fw_plan_free(plan);
}

/* Overlaps between networks, whatever the order of their subnets; a
 * network's own subnets may nest. */
static void test_overlap_sweep(void)
{
	struct fw_prefix a[] = { pfx(AF_INET, "10.0.0.1", 8),
				 pfx(AF_INET, "10.1.2.1", 24) };
	struct fw_prefix b[] = { pfx(AF_INET, "10.1.0.1", 16) };
	struct fw_prefix c[] = { pfx(AF_INET, "11.0.0.1", 24),
				 pfx(AF_INET6, "fd00::1", 64) };
	struct fw_network n[] = {
		{ "c", "netd-c", FW_MODE_NAT, NULL, c, 2, NULL, 0 },
		{ "a", "netd-a", FW_MODE_NAT, NULL, a, 2, NULL, 0 },
		{ "b", "netd-b", FW_MODE_NAT, NULL, b, 1, NULL, 0 },
	};

	fw_plan_free(build("own subnets nest, others apart", n, 2));
	expect_error("a /16 inside a /8 that holds a /24 of the same network",
		     n, 3, -EEXIST, "networks a and b have overlapping subnets "
		     "(10.0.0.0/8)", NULL);
	n[1].n_prefixes = 1;
	a[0] = pfx(AF_INET, "10.1.2.3", 24);
	expect_error("a /24 inside another network's /16", n, 3, -EEXIST,
		     "networks b and a have overlapping subnets (10.1.0.0/16)",
		     NULL);
	a[0] = pfx(AF_INET, "10.2.0.1", 16);
	fw_plan_free(build("neighbouring /16s", n, 3));
}

static void test_errors(void)
{
	struct fw_forward dup[] = {
		fwd(IPPROTO_TCP, 8080, AF_INET, "10.99.0.10", 80),
		fwd(IPPROTO_TCP, 8080, AF_INET6, "fd00:99::10", 80),
		fwd(IPPROTO_TCP, 8080, AF_INET, "10.99.0.11", 81),
	};
	struct fw_prefix p99 = pfx(AF_INET, "10.99.0.1", 24);
	struct fw_prefix p10 = pfx(AF_INET, "10.10.0.77", 16);
	struct fw_network nets[2] = { net_web(), net_lab() };

	nets[1] = (struct fw_network){ "db", "netd-db", FW_MODE_NAT, NULL,
				       &p99, 1, dup, 1 };
	expect_error("same port in two networks", nets, 2, -EEXIST, "web",
		     "db");
	nets[1].n_forwards = 3;
	expect_error("same port, same family twice in one network", nets + 1,
		     1, -EEXIST, "twice", NULL);
	nets[1].n_forwards = 2;
	{
		struct fw_plan *plan = build("v4 and v6 forward of one port",
					     nets + 1, 1);

		check(elems(plan, FW_MAP_DNAT, NULL, 0).count == 1 &&
		      elems(plan, FW_MAP_DNAT4, NULL, 0).count == 1 &&
		      elems(plan, FW_MAP_DNAT6, NULL, 0).count == 1,
		      "one dnat element, one in dnat4 and one in dnat6");
		fw_plan_free(plan);
	}
	nets[1] = (struct fw_network){ "db", "netd-db", FW_MODE_NAT, NULL,
				       &p10, 1, NULL, 0 };
	expect_error("overlapping nat subnets", nets, 2, -EEXIST,
		     "overlapping", NULL);
	nets[1].mode = FW_MODE_ROUTED;
	fw_plan_free(build("overlap allowed when not masqueraded", nets, 2));
	test_overlap_sweep();
}

static void test_invalid(void)
{
	struct fw_network n = net_lab();

	n.name = "bad.name";
	expect_error("name with a dot", &n, 1, -EINVAL, "bad.name", NULL);
	n.name = "a23456789012345678901234567890123";
	expect_error("33-character name", &n, 1, -EINVAL, "invalid", NULL);
	n.name = "a2345678901234567890123456789012";
	fw_plan_free(build("32-character name", &n, 1));
	n.bridge = "netd-0123456789a";
	expect_error("16-character bridge", &n, 1, -EINVAL, "bridge", NULL);
	n.bridge = "netd-lab";
	n.uplink = "uplink-012345678";
	expect_error("16-character uplink", &n, 1, -EINVAL, "uplink", NULL);
	n = net_lab();
	{
		struct fw_network two[] = { n, n };

		expect_error("same network twice", two, 2, -EEXIST, "lab",
			     NULL);
		two[1].name = "lab2";
		expect_error("same bridge twice", two, 2, -EEXIST, "netd-lab",
			     NULL);
	}
	n.mode = (enum fw_mode)7;
	expect_error("unknown mode", &n, 1, -EINVAL, "mode", NULL);
}

/* /0 and /32: a zero key, and a slot rule without a mask; two prefix
 * lengths in one network: a local slot for each pair. */
static void test_prefix_edges(void)
{
	struct fw_prefix p[] = { pfx(AF_INET, "10.1.2.3", 32),
				 pfx(AF_INET, "0.0.0.0", 0) };
	struct fw_network n = { "edge", "netd-edge", FW_MODE_NAT, NULL, p, 2,
				NULL, 0 };
	struct fw_plan *plan = build("edge", &n, 1);
	uint8_t zero[4] = { 0 }, host[4] = { 10, 1, 2, 3 };
	char *rules = render_rules(plan);

	/* 10.1.2.3/32 lies in 0.0.0.0/0: redundant */
	check(elems(plan, "nat4_0", zero, 4).found && !has_set(plan, "nat4_32"),
	      "edge: 0.0.0.0/0 covers 10.1.2.3/32");
	fw_plan_free(plan);
	free(rules);
	p[1] = pfx(AF_INET, "192.168.0.1", 16);
	plan = build("edge", &n, 1);
	rules = render_rules(plan);
	check(elems(plan, "nat4_32", host, 4).found &&
	      has_set(plan, "local4_32_16") && has_set(plan, "local4_16_32") &&
	      has_set(plan, "local4_32_32") && has_set(plan, "local4_16_16"),
	      "edge: /32 and /16: four local slots");
	check(strstr(rules, "bitwise reg 1 = ( reg 1 & 0x0000ffff )") &&
	      !strstr(rules, "& 0xffffffff"),
	      "edge: a /16 mask, no mask for /32");
	free(rules);
	fw_plan_free(plan);
}

static void test_slot_names(void)
{
	struct fw_slot s = { FW_SLOT_LOCAL, AF_INET6, 64, 48 }, t;
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	bool ok;

	ok = fw_slot_sets(&s, names) == 1 &&
	     strcmp(names[0], "local6_64_48") == 0 &&
	     fw_slot_parse(names[0], &t) && t.kind == s.kind &&
	     t.family == s.family && t.len == 64 && t.len2 == 48;
	s = (struct fw_slot){ FW_SLOT_UPLINK, AF_INET, 24, 0 };
	ok = ok && fw_slot_sets(&s, names) == 2 &&
	     strcmp(names[0], "natup4_24") == 0 &&
	     strcmp(names[1], "egress4_24") == 0 &&
	     fw_slot_parse("egress4_24", &t) && t.kind == FW_SLOT_UPLINK &&
	     fw_slot_parse("natup4_24", &t) && t.kind == FW_SLOT_UPLINK &&
	     fw_slot_parse("net6_128", &t) && t.kind == FW_SLOT_NET &&
	     fw_slot_parse("nat4_0", &t) && t.kind == FW_SLOT_NAT;
	check(ok, "slot names: local6_64_48, natup4_24 + egress4_24, parsed "
	      "back");
	check(!fw_slot_parse("net4_33", &t) && !fw_slot_parse("net4_", &t) &&
	      !fw_slot_parse("net4_24x", &t) && !fw_slot_parse("nat", &t) &&
	      !fw_slot_parse("bridges", &t) && !fw_slot_parse("local4_24", &t) &&
	      !fw_slot_parse("net5_24", &t) && !fw_slot_parse("dnat4", &t) &&
	      !fw_slot_parse("net4_024", &t) && !fw_slot_parse("net4_+4", &t),
	      "slot names: others are not slots");
}

/* ---- encoding ---- */

static bool roundtrip_rule(const struct nlmsghdr *nlh,
			   const struct nftnl_rule *orig)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	char a[4096], b[4096];
	bool ok;

	ok = r && nftnl_rule_nlmsg_parse(nlh, r) == 0;
	if (ok) {
		nftnl_rule_snprintf(a, sizeof(a), orig, 0, 0);
		nftnl_rule_snprintf(b, sizeof(b), r, 0, 0);
		ok = strcmp(a, b) == 0;
	}
	if (r)
		nftnl_rule_free(r);
	return ok;
}

struct walk {
	size_t n;
	bool seq_ok, flags_ok, rules_ok, size_ok, ends_ok;
};

static void walk_msg(struct walk *w, const struct fw_plan *plan,
		     const struct fw_buf *buf, const struct nlmsghdr *nlh)
{
	size_t i = w->n++;
	bool last = i == plan->n;

	w->seq_ok = w->seq_ok && nlh->nlmsg_seq == buf->seq + i;
	w->size_ok = w->size_ok && nlh->nlmsg_len <= FW_MSG_MAX;
	if (i == 0 || i == plan->n + 1) {
		w->ends_ok = w->ends_ok && nlh->nlmsg_type ==
			     (i == 0 ? NFNL_MSG_BATCH_BEGIN :
			      NFNL_MSG_BATCH_END);
		return;
	}
	w->flags_ok = w->flags_ok && !!(nlh->nlmsg_flags & NLM_F_ACK) == last;
	if (plan->msgs[i - 1].type == FW_MSG_NEWRULE)
		w->rules_ok = w->rules_ok &&
			      (nlh->nlmsg_flags & NLM_F_APPEND) &&
			      roundtrip_rule(nlh, plan->msgs[i - 1].rule);
}

static void test_encode(void)
{
	static struct fw_network nets[200];
	static char names[200][16], bridges[200][16];
	static struct fw_prefix pfxs[200];
	struct walk w = { 0, true, true, true, true, true };
	struct fw_plan *plan, empty = { 0 };
	const struct nlmsghdr *nlh;
	struct fw_buf buf;
	int len;

	make_many(nets, 200, names, bridges, pfxs);
	plan = build("encode", nets, 200);
	check(fw_plan_encode(plan, 1000, &buf) == 0, "encode: 200 networks");
	nlh = (const void *)buf.data;
	len = (int)buf.len;
	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
		walk_msg(&w, plan, &buf, nlh);
	check(len == 0 && w.n == plan->n + 2,
	      "encode: begin, %zu messages, end fill the buffer", plan->n);
	check(w.ends_ok, "encode: batch begin and end");
	check(w.seq_ok, "encode: consecutive sequence numbers");
	check(w.flags_ok, "encode: only the last message asks for an ack");
	check(w.rules_ok, "encode: rules are appended and parse back equal");
	check(w.size_ok, "encode: every message within FW_MSG_MAX");
	/* 200 elements in each of networks, bridges, same_bridge, nat,
	 * net4_24, nat4_24, local4_24_24: 7 messages of at most 32 each */
	check(count_type(plan, FW_MSG_NEWSETELEM) == 7 * 7,
	      "encode: elements split in messages of at most %d",
	      FW_ELEMS_PER_MSG);
	fw_buf_release(&buf);
	fw_plan_free(plan);
	check(fw_plan_encode(&empty, 1, &buf) == -ENODATA,
	      "encode: an empty batch is refused");
}

static void test_remove_plan(void)
{
	struct fw_plan *plan = NULL;
	char d[4][64];

	check(fw_plan_remove(true, true, &plan) == 0 && plan->n == 4,
	      "remove: four messages for two tables");
	for (size_t i = 0; plan && i < 4 && i < plan->n; i++)
		fw_msg_describe(&plan->msgs[i], d[i], sizeof(d[i]));
	check(plan && plan->n == 4 && !strcmp(d[0], "add table inet netd") &&
	      !strcmp(d[1], "delete table inet netd") &&
	      !strcmp(d[2], "add table bridge netd") &&
	      !strcmp(d[3], "delete table bridge netd"),
	      "remove: add+delete inet netd, then bridge netd");
	fw_plan_free(plan);
}

/* ---- table bridge netd: port protection ---- */

static struct fw_guard guard(const char *ifname, uint8_t last, const char *ip4)
{
	struct fw_guard g = { .ifname = ifname,
			      .mac = { 0x02, 0, 0, 0, 0, last } };

	if (ip4) {
		g.has_ip4 = true;
		if (inet_pton(AF_INET, ip4, &g.ip4) != 1)
			abort();
	}
	return g;
}

static struct fw_plan *build_guard(const char *name, const struct fw_guard *g,
				   size_t n, const struct fw_prefix *v6,
				   size_t n_v6)
{
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret = fw_plan_guard_sync(g, n, v6, n_v6, &plan, err, sizeof(err));

	check(ret == 0, "%s: builds (%d %s)", name, ret, err);
	if (ret < 0)
		exit(1);
	check_structure(name, plan);
	return plan;
}

static struct fw_plan *build_guard_set(const char *name,
				       const struct fw_guard *old,
				       const struct fw_guard *new)
{
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret = fw_plan_guard_set(old, new, &plan, err, sizeof(err));

	check(ret == 0, "%s: builds (%d %s)", name, ret, err);
	if (ret < 0)
		exit(1);
	return plan;
}

/* Elements in messages of this type for set. */
static size_t count_elems(const struct fw_plan *plan, enum fw_msg_type type,
			  const char *set)
{
	struct elem_query q = { 0 };

	for (size_t i = 0; i < plan->n; i++)
		if (plan->msgs[i].type == type &&
		    strcmp(nftnl_set_get_str(plan->msgs[i].set,
					     NFTNL_SET_NAME), set) == 0)
			nftnl_set_elem_foreach(plan->msgs[i].set, query_elem,
					       &q);
	return q.count;
}

static bool plan_is_bridge(const struct fw_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct fw_msg *m = &plan->msgs[i];
		uint32_t family = NFPROTO_UNSPEC;

		switch (m->type) {
		case FW_MSG_NEWTABLE:
		case FW_MSG_DELTABLE:
			family = nftnl_table_get_u32(m->table,
						     NFTNL_TABLE_FAMILY);
			break;
		case FW_MSG_NEWCHAIN:
			family = nftnl_chain_get_u32(m->chain,
						     NFTNL_CHAIN_FAMILY);
			break;
		case FW_MSG_NEWSET:
		case FW_MSG_NEWSETELEM:
		case FW_MSG_DELSETELEM:
			family = nftnl_set_get_u32(m->set, NFTNL_SET_FAMILY);
			break;
		case FW_MSG_NEWRULE:
			family = nftnl_rule_get_u32(m->rule,
						    NFTNL_RULE_FAMILY);
			break;
		}
		if (family != NFPROTO_BRIDGE)
			return false;
	}
	return true;
}

static size_t guard_rules(const struct fw_plan *plan)
{
	return count_rules(plan, "prerouting") + count_rules(plan, "guard");
}

static void test_guard_empty(void)
{
	struct fw_plan *plan = build_guard("guard-empty", NULL, 0, NULL, 0);
	char d[3][64] = { "", "", "" };

	for (size_t i = 0; i < 3 && i < plan->n; i++)
		fw_msg_describe(&plan->msgs[i], d[i], sizeof(d[i]));
	check(!strcmp(d[0], "add table bridge netd") &&
	      !strcmp(d[1], "delete table bridge netd") &&
	      !strcmp(d[2], "add table bridge netd"),
	      "guard-empty: add, delete, add table bridge netd");
	check(plan_is_bridge(plan), "guard-empty: every object is in the "
	      "bridge family");
	check(count_type(plan, FW_MSG_NEWCHAIN) == 2 &&
	      count_type(plan, FW_MSG_NEWSET) == 4,
	      "guard-empty: 2 chains, 4 sets");
	check(count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_GUARDED) == 0 &&
	      count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_PORT_MAC) == 0 &&
	      count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_PORT_IP4) == 0,
	      "guard-empty: no port elements");
	check(count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_ALLOW6) == 4,
	      "guard-empty: allow6 holds :: and fe80::/10 (2 intervals)");
	check(count_rules(plan, "prerouting") == 1 &&
	      count_rules(plan, "guard") == 15,
	      "guard-empty: 1 dispatch rule, 15 guard rules");
	check_golden("guard-empty", plan);
	fw_plan_free(plan);
}

static void test_guard_two(void)
{
	struct fw_guard g[] = { guard("vnet0", 0x10, "10.99.0.10"),
				guard("vnet1", 0x11, NULL) };
	struct fw_prefix v6[] = { pfx(AF_INET, "10.99.0.1", 24),
				  pfx(AF_INET6, "fd00:99::1", 64),
				  pfx(AF_INET6, "fe80::1", 64),
				  pfx(AF_INET6, "fd00:99:0:1::1", 64) };
	struct fw_plan *plan = build_guard("guard-two", g, 2, v6, 4);
	uint8_t mac_key[24] = "vnet0", ip_key[20] = "vnet1";
	uint8_t ll[16] = { 0xfe, 0x80 }, sub[16] = { 0xfd, 0, 0, 0x99 };

	mac_key[16] = 0x02;
	mac_key[21] = 0x10;
	check(ifname_elem(plan, FW_SET_GUARDED, "vnet1").found &&
	      ifname_elem(plan, FW_SET_GUARDED, "x").count == 2,
	      "guard-two: guarded holds both ports");
	check(elems(plan, FW_SET_PORT_MAC, mac_key, 24).found &&
	      count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_PORT_MAC) == 2,
	      "guard-two: port_mac has \"vnet0\" . 02:00:00:00:00:10");
	check(count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_PORT_IP4) == 1 &&
	      !elems(plan, FW_SET_PORT_IP4, ip_key, 20).found,
	      "guard-two: port_ip4 has vnet0 only (vnet1 has no lease)");
	check(elems(plan, FW_SET_ALLOW6, ll, 16).found &&
	      elems(plan, FW_SET_ALLOW6, sub, 16).found &&
	      count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_ALLOW6) == 8,
	      "guard-two: allow6 is ::, fd00:99::/64, fd00:99:0:1::/64 and "
	      "fe80::/10 (fe80::/64 inside it, the IPv4 prefix skipped)");
	check_golden("guard-two", plan);
	fw_plan_free(plan);
}

/* A prefix inside another one given after it: one interval. */
static void test_guard_nested(void)
{
	struct fw_prefix v6[] = { pfx(AF_INET6, "fd00:aa:0:5::1", 64),
				  pfx(AF_INET6, "fd00:aa::1", 48),
				  pfx(AF_INET6, "fd00:aa:0:6::1", 64),
				  pfx(AF_INET6, "::", 0) };
	struct fw_plan *plan = build_guard("nested", NULL, 0, v6, 3);
	uint8_t start[16] = { 0xfd, 0, 0, 0xaa };

	check(elems(plan, FW_SET_ALLOW6, start, 16).found &&
	      count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_ALLOW6) == 6,
	      "nested: two /64 inside a /48 give one interval");
	fw_plan_free(plan);
	plan = build_guard("everything", NULL, 0, v6, 4);
	check(count_elems(plan, FW_MSG_NEWSETELEM, FW_SET_ALLOW6) == 1,
	      "everything: ::/0 is one start element and covers the rest");
	fw_plan_free(plan);
}

/* Neither a packet's path nor the ruleset grows with the ports. */
static void test_guard_scaling(void)
{
	static struct fw_guard many[500];
	static char names[500][16];
	struct fw_plan *one, *lots;
	char *r1, *r500;

	for (size_t i = 0; i < 500; i++) {
		snprintf(names[i], sizeof(names[i]), "vnet%zu", i);
		many[i] = guard(names[i], (uint8_t)i, NULL);
		many[i].mac[4] = (uint8_t)(i >> 8);
		many[i].has_ip4 = i % 2 == 0;
		many[i].ip4.s_addr = htonl(0x0a630000 | (uint32_t)(i + 2));
	}
	one = build_guard("guard-one", many, 1, NULL, 0);
	lots = build_guard("guard-500", many, 500, NULL, 0);
	r1 = render_rules(one);
	r500 = render_rules(lots);
	check(guard_rules(one) == 16 && guard_rules(lots) == 16 &&
	      strcmp(r1, r500) == 0,
	      "guard-500: the same 16 rules for 500 ports as for 1");
	check(count_elems(lots, FW_MSG_NEWSETELEM, FW_SET_GUARDED) == 500 &&
	      count_elems(lots, FW_MSG_NEWSETELEM, FW_SET_PORT_MAC) == 500 &&
	      count_elems(lots, FW_MSG_NEWSETELEM, FW_SET_PORT_IP4) == 250,
	      "guard-500: 500 ports, 500 MACs, 250 known IPv4 addresses");
	check(count_type(lots, FW_MSG_NEWSETELEM) == 16 + 16 + 8 + 1,
	      "guard-500: elements split in messages of at most %d",
	      FW_ELEMS_PER_MSG);
	free(r1);
	free(r500);
	fw_plan_free(one);
	fw_plan_free(lots);
}

static void append_plan(FILE *f, const char *title, const struct fw_plan *plan)
{
	char *text = render_plan(plan);

	fprintf(f, "# %s\n%s", title, text);
	free(text);
}

static void golden_guard_set(const struct fw_plan *add,
			     const struct fw_plan *learn,
			     const struct fw_plan *change,
			     const struct fw_plan *del)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	append_plan(f, "add vnet0 (no lease yet)", add);
	append_plan(f, "vnet0 got 10.99.0.10", learn);
	append_plan(f, "vnet0 changed MAC and address", change);
	append_plan(f, "remove vnet0", del);
	fclose(f);
	check_golden_text("guard-set", text);
}

/* fw_guard_set(): element operations only; what leaves is added first
 * (a no-op if it is there) so that deleting it cannot fail. */
static void test_guard_set(void)
{
	struct fw_guard fresh = guard("vnet0", 0x10, NULL);
	struct fw_guard leased = guard("vnet0", 0x10, "10.99.0.10");
	struct fw_guard moved = guard("vnet0", 0x20, "10.99.0.20");
	struct fw_plan *add, *learn, *change, *del;

	add = build_guard_set("set add", NULL, &fresh);
	learn = build_guard_set("set learn ip", &fresh, &leased);
	change = build_guard_set("set change", &leased, &moved);
	del = build_guard_set("set remove", &leased, NULL);
	check(add->n == 2 && count_type(add, FW_MSG_NEWSETELEM) == 2 &&
	      count_elems(add, FW_MSG_NEWSETELEM, FW_SET_GUARDED) == 1 &&
	      count_elems(add, FW_MSG_NEWSETELEM, FW_SET_PORT_MAC) == 1,
	      "set add: one element in guarded and one in port_mac");
	check(learn->n == 3 && count_type(learn, FW_MSG_DELSETELEM) == 0 &&
	      count_elems(learn, FW_MSG_NEWSETELEM, FW_SET_PORT_IP4) == 1,
	      "set learn ip: adds \"vnet0\" . 10.99.0.10, deletes nothing");
	check(count_elems(change, FW_MSG_NEWSETELEM, FW_SET_PORT_MAC) == 2 &&
	      count_elems(change, FW_MSG_DELSETELEM, FW_SET_PORT_MAC) == 1 &&
	      count_elems(change, FW_MSG_DELSETELEM, FW_SET_PORT_IP4) == 1 &&
	      count_elems(change, FW_MSG_DELSETELEM, FW_SET_GUARDED) == 0,
	      "set change: old MAC and IPv4 added then deleted, the port "
	      "stays guarded");
	check(count_type(del, FW_MSG_NEWSETELEM) == 3 &&
	      count_type(del, FW_MSG_DELSETELEM) == 3 &&
	      del->msgs[3].type == FW_MSG_DELSETELEM &&
	      del->msgs[2].type == FW_MSG_NEWSETELEM,
	      "set remove: three adds, then three deletes");
	check(plan_is_bridge(add) && plan_is_bridge(learn) &&
	      plan_is_bridge(change) && plan_is_bridge(del) &&
	      count_type(del, FW_MSG_NEWRULE) == 0 &&
	      count_type(del, FW_MSG_NEWTABLE) == 0,
	      "set: element messages of table bridge netd only");
	golden_guard_set(add, learn, change, del);
	fw_plan_free(add);
	fw_plan_free(learn);
	fw_plan_free(change);
	fw_plan_free(del);
}

static void expect_guard_error(const char *what, const struct fw_guard *g,
			       size_t n, const struct fw_prefix *v6,
			       size_t n_v6, int want, const char *needle)
{
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret = fw_plan_guard_sync(g, n, v6, n_v6, &plan, err, sizeof(err));

	check(ret == want && plan == NULL && strstr(err, needle),
	      "%s: %d \"%s\"", what, ret, err);
	fw_plan_free(plan);
}

static void test_guard_errors(void)
{
	struct fw_guard g[2] = { guard("vnet0", 0x10, NULL),
				 guard("vnet0", 0x11, NULL) };
	struct fw_prefix bad6 = pfx(AF_INET6, "fd00::1", 64);
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret;

	expect_guard_error("port twice", g, 2, NULL, 0, -EEXIST, "vnet0");
	g[1].ifname = "vnet-0123456789";
	fw_plan_free(build_guard("15-character port name", g, 2, NULL, 0));
	g[1].ifname = "vnet-0123456789a";
	expect_guard_error("16-character port name", g, 2, NULL, 0, -EINVAL,
			   "vnet-0123456789a");
	g[1].ifname = "";
	expect_guard_error("empty port name", g, 2, NULL, 0, -EINVAL, "name");
	g[1] = guard("vnet1", 0x11, NULL);
	g[1].mac[0] = 0x03;
	expect_guard_error("multicast MAC", g, 2, NULL, 0, -EINVAL, "unicast");
	memset(g[1].mac, 0, sizeof(g[1].mac));
	expect_guard_error("zero MAC", g, 2, NULL, 0, -EINVAL, "vnet1");
	g[1] = guard("vnet1", 0x11, "0.0.0.0");
	expect_guard_error("IPv4 0.0.0.0", g, 2, NULL, 0, -EINVAL, "IPv4");
	g[1] = guard("vnet1", 0x11, "224.0.0.5");
	expect_guard_error("multicast IPv4", g, 2, NULL, 0, -EINVAL, "IPv4");
	bad6.len = 129;
	expect_guard_error("IPv6 prefix /129", g, 1, &bad6, 1, -EINVAL,
			   "prefix");
	bad6 = (struct fw_prefix){ .family = AF_UNIX, .len = 8 };
	expect_guard_error("prefix of family AF_UNIX", g, 1, &bad6, 1, -EINVAL,
			   "prefix");
	ret = fw_plan_guard_set(NULL, NULL, &plan, err, sizeof(err));
	check(ret == -EINVAL && plan == NULL, "set with neither port: %d "
	      "\"%s\"", ret, err);
	ret = fw_plan_guard_set(&g[1], NULL, &plan, err, sizeof(err));
	check(ret == -EINVAL && plan == NULL, "set remove with an invalid "
	      "old port: %d \"%s\"", ret, err);
}

/* The DELSETELEM messages of a batch: right type, family, no create. */
static void test_guard_encode(void)
{
	struct fw_guard leased = guard("vnet0", 0x10, "10.99.0.10");
	struct fw_plan *plan = build_guard_set("encode remove", &leased, NULL);
	const struct nlmsghdr *nlh;
	struct fw_buf buf;
	size_t i = 0, dels = 0;
	bool ok = true;
	int len;

	check(fw_plan_encode(plan, 50, &buf) == 0, "encode remove: encodes");
	nlh = (const void *)buf.data;
	len = (int)buf.len;
	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len), i++) {
		const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);

		if (i == 0 || i == plan->n + 1)
			continue;
		ok = ok && g->nfgen_family == NFPROTO_BRIDGE;
		if (plan->msgs[i - 1].type != FW_MSG_DELSETELEM) {
			ok = ok && NFNL_MSG_TYPE(nlh->nlmsg_type) ==
				   NFT_MSG_NEWSETELEM;
			continue;
		}
		dels++;
		ok = ok && NFNL_MSG_TYPE(nlh->nlmsg_type) ==
			   NFT_MSG_DELSETELEM &&
		     !(nlh->nlmsg_flags & NLM_F_CREATE);
	}
	check(ok && dels == 3 && i == plan->n + 2,
	      "encode remove: 3 NEWSETELEM then 3 DELSETELEM, family bridge");
	fw_buf_release(&buf);
	fw_plan_free(plan);
}

/* ---- one network at a time: fw_network_add/del/update ---- */

static struct fw_plan *build_net_missing(const char *name,
					 const struct fw_network *old,
					 const struct fw_network *new,
					 const struct fw_names *missing)
{
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret = fw_plan_net(old, new, missing, &plan, err, sizeof(err));

	check(ret == 0, "%s: builds (%d %s)", name, ret, err);
	if (ret < 0)
		exit(1);
	return plan;
}

static struct fw_plan *build_net(const char *name,
				 const struct fw_network *old,
				 const struct fw_network *new)
{
	return build_net_missing(name, old, new, NULL);
}

/* The messages of one type, rendered without "create ". */
static char *render_of_type(const struct fw_plan *plan, enum fw_msg_type type)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < plan->n; i++)
		if (plan->msgs[i].type == type)
			render_body(f, &plan->msgs[i]);
	fclose(f);
	return text;
}

/* The rules of the chains whose names start with prefix. */
static char *render_chain_rules(const struct fw_plan *plan, const char *prefix)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < plan->n; i++)
		if (plan->msgs[i].type == FW_MSG_NEWRULE &&
		    strncmp(nftnl_rule_get_str(plan->msgs[i].rule,
					       NFTNL_RULE_CHAIN), prefix,
			    strlen(prefix)) == 0)
			render_body(f, &plan->msgs[i]);
	fclose(f);
	return text;
}

struct key_list {
	FILE *f;
	const char *set;
	bool data;		/* with the values */
};

static int key_of(struct nftnl_set_elem *e, void *data)
{
	struct key_list *k = data;
	uint32_t len = 0;
	const uint8_t *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

	fprintf(k->f, "%s ", k->set);
	render_key(k->f, k->set, key, len);
	if (k->data && nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
		const uint8_t *d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA,
						      &len);

		render_data(k->f, k->set, d, len);
	}
	fprintf(k->f, "\n");
	return 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text, sorted (text is freed). */
static char *sorted_lines(char *text)
{
	char *lines[4096], *out = NULL, *save = NULL, *l;
	size_t n = 0, len = 0;
	FILE *f;

	for (l = strtok_r(text, "\n", &save); l && n < 4096;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(lines[0]), line_cmp);
	f = open_memstream(&out, &len);
	if (!f)
		abort();
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	fclose(f);
	free(text);
	return out;
}

/* "SET KEY[ : VALUE]" for every element in messages of type, sorted. */
static char *elem_keys(const struct fw_plan *plan, enum fw_msg_type type,
		       bool data)
{
	struct key_list k = { .data = data };
	char *text = NULL;
	size_t len = 0;

	k.f = open_memstream(&text, &len);
	if (!k.f)
		abort();
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->msgs[i].type != type)
			continue;
		k.set = nftnl_set_get_str(plan->msgs[i].set, NFTNL_SET_NAME);
		nftnl_set_elem_foreach(plan->msgs[i].set, key_of, &k);
	}
	fclose(k.f);
	return sorted_lines(text);
}

static bool check_strings(bool want_equal, char *a, char *b)
{
	bool same = strcmp(a, b) == 0;

	if (same != want_equal)
		first_difference(a, b);
	free(a);
	free(b);
	return same == want_equal;
}

/* Element messages only, every one exclusive: no table, chain, set or
 * rule, so the kernel has nothing to validate. */
static bool add_plan_shape(const struct fw_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->msgs[i].type != FW_MSG_NEWSETELEM ||
		    !plan->msgs[i].excl)
			return false;
	return plan->n > 0;
}

static void test_net_add(void)
{
	struct fw_network web = net_web();
	struct fw_plan *add = build_net("net add", NULL, &web);
	struct fw_plan *sync = build("net sync", &web, 1);
	char first[64];

	check(add_plan_shape(add), "net add: exclusive element messages "
	      "only");
	fw_msg_describe(&add->msgs[0], first, sizeof(first));
	check(strcmp(first, "elements of networks (part 1)") == 0,
	      "net add: its name first (%s)", first);
	check(check_strings(true, elem_keys(add, FW_MSG_NEWSETELEM, true),
			    elem_keys(sync, FW_MSG_NEWSETELEM, true)),
	      "net add: the elements, values included, are fw_sync()'s for "
	      "web alone");
	check(count_elems(add, FW_MSG_NEWSETELEM, FW_SET_BRIDGES) == 1 &&
	      count_elems(add, FW_MSG_NEWSETELEM, "netup4_24") == 1 &&
	      count_elems(add, FW_MSG_NEWSETELEM, "netup6_64") == 1 &&
	      count_elems(add, FW_MSG_NEWSETELEM, FW_MAP_DNAT) == 2,
	      "net add: 1 bridge, 2 subnets, 2 ports");
	fw_plan_free(add);
	fw_plan_free(sync);
}

/* A slot the kernel lacks: its sets and rule come first, then the
 * elements, as before. */
static void test_net_add_slots(void)
{
	struct fw_network web = net_web();
	struct fw_names missing = { 0 };
	struct fw_plan *add, *plain, *sync;
	char *slots_add, *slots_sync;

	fw_names_add(&missing, "egress6_64");
	fw_names_add(&missing, "netup4_24");
	add = build_net_missing("net add, slots missing", NULL, &web,
				&missing);
	plain = build_net("net add", NULL, &web);
	sync = build("net sync", &web, 1);
	check(count_type(add, FW_MSG_NEWSET) == 3 &&
	      has_set(add, "natup6_64") && has_set(add, "egress6_64") &&
	      has_set(add, "netup4_24") && count_type(add, FW_MSG_NEWRULE) == 2,
	      "net add, slots missing: the 3 sets and 2 rules of the 2 slots");
	slots_add = render_chain_rules(add, "from_uplinked");
	slots_sync = render_chain_rules(sync, "from_uplinked");
	check(strstr(slots_sync, slots_add) && strstr(slots_add, "netup4_24"),
	      "net add, slots missing: netup4_24's rule is fw_sync()'s");
	free(slots_add);
	free(slots_sync);
	check(check_strings(true, render_of_type(add, FW_MSG_NEWSETELEM),
			    render_of_type(plain, FW_MSG_NEWSETELEM)),
	      "net add, slots missing: then the same elements");
	for (size_t i = 0; i < add->n; i++)
		if (add->msgs[i].type == FW_MSG_NEWSET) {
			check(!add->msgs[i].excl && i < 5,
			      "net add, slots missing: set %s not exclusive, "
			      "before the elements",
			      nftnl_set_get_str(add->msgs[i].set,
						NFTNL_SET_NAME));
		}
	fw_plan_free(add);
	fw_plan_free(plain);
	fw_plan_free(sync);
	fw_names_free(&missing);
}

/* Add elements, then delete elements; nothing exclusive. */
static bool del_plan_shape(const struct fw_plan *plan)
{
	int last = 0;

	for (size_t i = 0; i < plan->n; i++) {
		const struct fw_msg *m = &plan->msgs[i];
		int rank = m->type == FW_MSG_NEWSETELEM ? 1 :
			   m->type == FW_MSG_DELSETELEM ? 2 : 99;

		if (rank < last || rank == 99 || m->excl)
			return false;
		last = rank;
	}
	return last == 2;
}

static void test_net_del(void)
{
	struct fw_network web = net_web();
	struct fw_plan *add = build_net("net add", NULL, &web);
	struct fw_plan *del = build_net("net del", &web, NULL);
	struct fw_names missing = { 0 };
	struct fw_plan *part;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	check(del_plan_shape(del), "net del: add elements, then delete "
	      "elements; nothing exclusive");
	check(check_strings(true, elem_keys(del, FW_MSG_DELSETELEM, false),
			    elem_keys(add, FW_MSG_NEWSETELEM, false)),
	      "net del: deletes the keys net add adds");
	check(check_strings(true, render_of_type(del, FW_MSG_NEWSETELEM),
			    render_of_type(add, FW_MSG_NEWSETELEM)),
	      "net del: first adds the very elements net add adds (a no-op "
	      "for those that exist)");
	fw_names_add(&missing, "local6_64_64");
	part = build_net_missing("net del, a slot missing", &web, NULL,
				 &missing);
	check(count_elems(part, FW_MSG_DELSETELEM, "local6_64_64") == 0 &&
	      count_elems(part, FW_MSG_NEWSETELEM, "local6_64_64") == 0 &&
	      count_elems(part, FW_MSG_DELSETELEM, "local4_24_24") == 1 &&
	      count_type(part, FW_MSG_NEWSET) == 0,
	      "net del, a slot missing: leaves that set alone, creates "
	      "nothing");
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	append_plan(f, "fw_network_add(web)", add);
	append_plan(f, "fw_network_del(web)", del);
	fclose(f);
	check_golden_text("net-web", text);
	fw_plan_free(add);
	fw_plan_free(del);
	fw_plan_free(part);
	fw_names_free(&missing);
}

static void test_net_update(void)
{
	struct fw_forward more[3] = { web_fwd[0], web_fwd[1],
		fwd(IPPROTO_TCP, 2222, AF_INET, "10.10.0.11", 22) };
	struct fw_network web = net_web(), web2 = net_web();
	struct fw_plan *upd, *del, *add;
	char *a, *b, *both;

	web2.forwards = more;
	web2.n_forwards = 3;
	upd = build_net("net update", &web, &web2);
	del = build_net("net update: del", &web, NULL);
	add = build_net("net update: add", NULL, &web2);
	a = render_plan(del);
	b = render_plan(add);
	if (asprintf(&both, "%s%s", a, b) < 0)
		abort();
	check(check_strings(true, render_plan(upd), both),
	      "net update: the removal of the old network, then the "
	      "addition of the new one, in one plan");
	check(count_elems(upd, FW_MSG_NEWSETELEM, FW_MAP_DNAT) == 2 + 3 &&
	      count_elems(upd, FW_MSG_DELSETELEM, FW_MAP_DNAT) == 2,
	      "net update: 2 old ports re-added and deleted, 3 new ports");
	free(a);
	free(b);
	fw_plan_free(upd);
	fw_plan_free(del);
	fw_plan_free(add);
}

/* Networks of equal-length names and addresses: "n0000" ... */
static void make_fixed(struct fw_network *nets, size_t n, char names[][16],
		       char bridges[][16], struct fw_prefix (*pfxs)[2],
		       struct fw_forward *fwds)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], 16, "n%04zu", i);
		snprintf(bridges[i], 16, "netd-n%04zu", i);
		pfxs[i][0] = (struct fw_prefix){ .family = AF_INET, .len = 24 };
		pfxs[i][0].host.v4.s_addr = htonl(0x0a000001 |
						  (uint32_t)i << 8);
		pfxs[i][1] = pfx(AF_INET6, "fd00::1", 64);
		pfxs[i][1].host.v6.s6_addr[6] = (uint8_t)(i >> 8);
		pfxs[i][1].host.v6.s6_addr[7] = (uint8_t)i;
		fwds[i] = (struct fw_forward){ IPPROTO_TCP,
			(uint16_t)(20000 + i), AF_INET,
			{ .v4 = pfxs[i][0].host.v4 }, 80 };
		nets[i] = (struct fw_network){ names[i], bridges[i],
			FW_MODE_NAT, "eth0", pfxs[i], 2, &fwds[i], 1 };
	}
}

static size_t encoded_len(const struct fw_plan *plan)
{
	struct fw_buf buf;
	size_t len = 0;

	if (fw_plan_encode(plan, 1, &buf) == 0)
		len = buf.len;
	fw_buf_release(&buf);
	return len;
}

/* The batch of one network does not depend on how many others there are:
 * it is built from that network alone, and must stay so. */
static void test_net_scaling(void)
{
	static struct fw_network nets[1000];
	static char names[1000][16], bridges[1000][16];
	static struct fw_prefix pfxs[1000][2];
	static struct fw_forward fwds[1000];
	struct fw_plan *a1, *a1000, *d1, *d1000, *sync;

	make_fixed(nets, 1000, names, bridges, pfxs, fwds);
	a1 = build_net("add #1", NULL, &nets[0]);
	a1000 = build_net("add #1000", NULL, &nets[999]);
	d1 = build_net("del #1", &nets[0], NULL);
	d1000 = build_net("del #1000", &nets[999], NULL);
	sync = build("sync 1000", nets, 1000);
	check(add_plan_shape(a1000) && a1->n == a1000->n &&
	      encoded_len(a1) == encoded_len(a1000),
	      "add: network #1000's batch is #1's size (%zu messages, %zu "
	      "bytes; fw_sync of all 1000: %zu messages, %zu bytes)", a1->n,
	      encoded_len(a1), sync->n, encoded_len(sync));
	check(d1->n == d1000->n && encoded_len(d1) == encoded_len(d1000),
	      "del: network #1000's batch is #1's size (%zu messages, %zu "
	      "bytes)", d1->n, encoded_len(d1));
	fw_plan_free(a1);
	fw_plan_free(a1000);
	fw_plan_free(d1);
	fw_plan_free(d1000);
	fw_plan_free(sync);
}

static void expect_net_error(const char *what, const struct fw_network *old,
			     const struct fw_network *new, int want,
			     const char *needle)
{
	struct fw_plan *plan = NULL;
	char err[FW_ERRMSG_MAX];
	int ret = fw_plan_net(old, new, NULL, &plan, err, sizeof(err));

	check(ret == want && plan == NULL && strstr(err, needle),
	      "%s: %d \"%s\"", what, ret, err);
	fw_plan_free(plan);
}

static void test_net_errors(void)
{
	struct fw_forward twice[2] = {
		fwd(IPPROTO_UDP, 53, AF_INET, "10.10.0.10", 53),
		fwd(IPPROTO_UDP, 53, AF_INET, "10.10.0.11", 53),
	};
	struct fw_network web = net_web(), bad = net_web();

	expect_net_error("net: neither network", NULL, NULL, -EINVAL,
			 "no network");
	bad.name = "bad name";
	expect_net_error("net add: invalid name", NULL, &bad, -EINVAL,
			 "bad name");
	expect_net_error("net del: invalid name", &bad, NULL, -EINVAL,
			 "bad name");
	expect_net_error("net update: invalid new network", &web, &bad,
			 -EINVAL, "bad name");
	bad = net_web();
	bad.forwards = twice;
	expect_net_error("net add: a port forwarded twice", NULL, &bad,
			 -EEXIST, "twice");
}

struct flag_walk {
	const struct fw_plan *plan;
	size_t i;
	bool ok;
};

/* What the kernel receives: exclusive additions of chains and elements,
 * rules appended, deletions without NLM_F_CREATE. */
static uint16_t want_flags(const struct fw_msg *m)
{
	switch (m->type) {
	case FW_MSG_NEWRULE:
		return NLM_F_CREATE | NLM_F_APPEND;
	case FW_MSG_DELTABLE:
	case FW_MSG_DELSETELEM:
		return 0;
	case FW_MSG_NEWTABLE:
	case FW_MSG_NEWCHAIN:
	case FW_MSG_NEWSET:
	case FW_MSG_NEWSETELEM:
		break;
	}
	return NLM_F_CREATE | (m->excl ? NLM_F_EXCL : 0);
}

static uint16_t want_type(enum fw_msg_type type)
{
	switch (type) {
	case FW_MSG_NEWTABLE:
		return NFT_MSG_NEWTABLE;
	case FW_MSG_DELTABLE:
		return NFT_MSG_DELTABLE;
	case FW_MSG_NEWCHAIN:
		return NFT_MSG_NEWCHAIN;
	case FW_MSG_NEWSET:
		return NFT_MSG_NEWSET;
	case FW_MSG_NEWRULE:
		return NFT_MSG_NEWRULE;
	case FW_MSG_NEWSETELEM:
		return NFT_MSG_NEWSETELEM;
	case FW_MSG_DELSETELEM:
		return NFT_MSG_DELSETELEM;
	}
	return NFT_MSG_MAX;
}

static bool encoded_flags_ok(const struct fw_plan *plan, size_t *n_excl)
{
	const struct nlmsghdr *nlh;
	struct fw_buf buf;
	bool ok;
	size_t i = 0;
	int len;

	*n_excl = 0;
	if (fw_plan_encode(plan, 7, &buf) < 0)
		return false;
	nlh = (const void *)buf.data;
	len = (int)buf.len;
	ok = true;
	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len), i++) {
		const struct fw_msg *m;
		uint16_t f = nlh->nlmsg_flags & ~(NLM_F_REQUEST | NLM_F_ACK);

		if (i == 0 || i == plan->n + 1)
			continue;
		m = &plan->msgs[i - 1];
		*n_excl += !!(f & NLM_F_EXCL);
		ok = ok && f == want_flags(m) &&
		     NFNL_MSG_TYPE(nlh->nlmsg_type) == want_type(m->type);
	}
	fw_buf_release(&buf);
	return ok && i == plan->n + 2;
}

static void test_net_encode(void)
{
	struct fw_network web = net_web();
	struct fw_plan *add = build_net("net encode add", NULL, &web);
	struct fw_plan *del = build_net("net encode del", &web, NULL);
	struct fw_plan *sync = build("net encode sync", &web, 1);
	size_t x_add, x_del, x_sync;
	bool ok_add = encoded_flags_ok(add, &x_add);
	bool ok_del = encoded_flags_ok(del, &x_del);
	bool ok_sync = encoded_flags_ok(sync, &x_sync);

	check(ok_add && x_add == add->n,
	      "net encode add: NLM_F_EXCL on all %zu element messages",
	      x_add);
	check(ok_del && x_del == 0, "net encode del: NEWSETELEM, DELSETELEM, "
	      "no NLM_F_EXCL");
	check(ok_sync && x_sync == 0, "fw_sync's batch has no NLM_F_EXCL, "
	      "as before");
	fw_plan_free(add);
	fw_plan_free(del);
	fw_plan_free(sync);
}

static void expect_describe(const char *set, const void *key, uint32_t len,
			    uint32_t flags, const char *want)
{
	char buf[96];

	fw_elem_describe(set, key, len, flags, buf, sizeof(buf));
	check(strcmp(buf, want) == 0, "describe %s element: %s", set, buf);
}

static void test_elem_describe(void)
{
	uint8_t v4[4] = { 10, 10, 1, 0 }, v6[16] = { 0xfd, 0, 0, 0x10 };
	uint8_t dnat[8] = { IPPROTO_UDP, 0, 0, 0, 0x14, 0xe9 };
	uint8_t ifname[16] = "netd-web", mac[24] = "vnet0", name[32] = "web";
	uint8_t pair[32] = "netd-web", net4[20] = "netd-web";
	uint8_t eg6[32] = { 0xfd, 0, 0, 0x10 }, loc4[8] = { 10, 10, 1, 0, 10 };

	mac[16] = 0x02;
	mac[21] = 0x10;
	memcpy(pair + 16, "eth0", 4);
	memcpy(net4 + 16, v4, 4);
	memcpy(eg6 + 16, "eth0", 4);
	expect_describe("nat4_24", v4, 4, 0, "10.10.1.0");
	expect_describe("natup6_64", v6, 16, 0, "fd00:10::");
	expect_describe("net4_24", net4, 20, 0, "\"netd-web\" . 10.10.1.0");
	expect_describe("egress6_64", eg6, 32, 0, "fd00:10:: . \"eth0\"");
	expect_describe("local4_24_16", loc4, 8, 0, "10.10.1.0 . 10.0.0.0");
	expect_describe(FW_MAP_DNAT, dnat, 8, 0, "udp . 5353");
	expect_describe(FW_MAP_DNAT6, dnat, 8, 0, "udp . 5353");
	expect_describe(FW_SET_BRIDGES, ifname, 16, 0, "\"netd-web\"");
	expect_describe(FW_MAP_NETWORKS, name, 32, 0, "\"web\"");
	expect_describe(FW_SET_UPLINKS, pair, 32, 0,
			"\"netd-web\" . \"eth0\"");
	expect_describe(FW_SET_PORT_MAC, mac, 24, 0,
			"\"vnet0\" . 02:00:00:00:00:10");
	expect_describe(FW_SET_ALLOW6, v6, 16, NFT_SET_ELEM_INTERVAL_END,
			"fd00:10:: (interval end)");
	expect_describe(FW_SET_BRIDGES, v4, 4, 0, "(a 4-byte key)");
}

int main(void)
{
	fixtures_init();
	test_empty();
	test_nat();
	test_routed();
	test_isolated();
	test_v6();
	test_three();
	test_scaling();
	test_errors();
	test_invalid();
	test_prefix_edges();
	test_slot_names();
	test_encode();
	test_remove_plan();
	test_guard_empty();
	test_guard_two();
	test_guard_nested();
	test_guard_scaling();
	test_guard_set();
	test_guard_errors();
	test_guard_encode();
	test_net_add();
	test_net_add_slots();
	test_net_del();
	test_net_update();
	test_net_scaling();
	test_net_errors();
	test_net_encode();
	test_elem_describe();
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
