/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dhcp_leases_parse() and dhcp_leases_read() on good, odd and hostile input. */
#include "dhcp/dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		printf("ok   ");					\
	} else {							\
		printf("FAIL %s:%d: ", __FILE__, __LINE__);		\
		failures++;						\
	}								\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
} while (0)

struct parsed {
	struct dhcp_lease *l;
	size_t n, bad;
	int r;
};

static struct parsed parse(const char *text, size_t len)
{
	struct parsed p = { NULL, 99, 99, 0 };

	p.r = dhcp_leases_parse(text, len, &p.l, &p.n, &p.bad);
	return p;
}

static struct parsed parse_str(const char *text)
{
	return parse(text, strlen(text));
}

static bool ip_is(const struct dhcp_ip *ip, const char *s)
{
	char buf[INET6_ADDRSTRLEN];

	return inet_ntop(ip->family, &ip->a, buf, sizeof(buf)) && strcmp(buf, s) == 0;
}

static const char good[] =
	"1700000000 52:54:00:12:34:56 10.10.0.101 vm1 01:52:54:00:12:34:56\n"
	"0 52:54:00:AB:CD:EF 10.10.0.10 * *\n"
	"duid 00:01:00:01:2c:5f:aa:bb:52:54:00:00:00:01\n"
	"1700003600 305419896 fd00:10::1234 vm6 00:03:00:01:52:54:00:12:34:56\n"
	"1700003600 T17 fd00:10::99 * 00:03:00:01:52:54:00:12:34:57\n";

static void test_good(void)
{
	struct parsed p = parse_str(good);
	const struct dhcp_lease *l = p.l;
	static const uint8_t mac0[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t mac1[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	static const uint8_t zero[6];

	CHECK(p.r == 0 && p.n == 4 && p.bad == 0, "4 leases, 0 bad (n=%zu bad=%zu)", p.n, p.bad);
	if (p.n != 4)
		return;
	CHECK(l[0].expires == 1700000000 && l[0].has_mac && !memcmp(l[0].mac, mac0, 6) &&
	      ip_is(&l[0].ip, "10.10.0.101") && !strcmp(l[0].hostname, "vm1") &&
	      !strcmp(l[0].client_id, "01:52:54:00:12:34:56"), "v4 lease with everything");
	CHECK(l[1].expires == 0 && l[1].has_mac && !memcmp(l[1].mac, mac1, 6) &&
	      ip_is(&l[1].ip, "10.10.0.10") && l[1].hostname[0] == '\0' &&
	      l[1].client_id[0] == '\0', "v4 lease: expiry 0, upper-case MAC, '*' fields empty");
	CHECK(l[2].expires == 1700003600 && !l[2].has_mac && !memcmp(l[2].mac, zero, 6) &&
	      l[2].ip.family == AF_INET6 && ip_is(&l[2].ip, "fd00:10::1234") &&
	      !strcmp(l[2].hostname, "vm6") &&
	      !strcmp(l[2].client_id, "00:03:00:01:52:54:00:12:34:56"),
	      "v6 lease after the duid line: no MAC, DUID as client id");
	CHECK(!l[3].has_mac && ip_is(&l[3].ip, "fd00:10::99") && l[3].hostname[0] == '\0',
	      "v6 temporary-address lease (IAID \"T17\"), '*' hostname");
	free(p.l);
}

static void test_bad_lines(void)
{
	static const char text[] =
		"garbage\n"					/* 1 field */
		"1700000000 52:54:00:12:34:56 10.10.0.101 vm1\n"	/* missing field */
		"1700000000 52:54:00:12:34:56 10.10.0.101 vm1 * extra\n"
		"-5 52:54:00:12:34:56 10.10.0.101 vm1 *\n"	/* negative expiry */
		"99999999999999999999 52:54:00:12:34:56 10.10.0.1 a *\n"	/* overflow */
		"1 52:54:00:12:34 10.10.0.101 vm1 *\n"		/* short MAC */
		"1 52:54:00:12:34:5g 10.10.0.101 vm1 *\n"	/* bad hex */
		"1 52-54-00-12-34-56 10.10.0.101 vm1 *\n"	/* wrong separator */
		"1 52:54:00:12:34:56 10.10.0.300 vm1 *\n"	/* bad IPv4 */
		"1 52:54:00:12:34:56 fd00::1 vm1 *\n"		/* v6 address in v4 part */
		"1 52:54:00:12:34:56 10.10.0.102 vm\x01x *\n"	/* control byte */
		"\n   \t \r\n"					/* blank lines: not bad */
		"1 52:54:00:12:34:56 10.10.0.103 ok *\r\n"	/* CRLF: good */
		"duid\n"					/* duid without value */
		"duid 00:01\n"
		"1 52:54:00:12:34:56 10.10.0.104 late *\n"	/* v4 after duid */
		"1 abc fd00::5 vm6 00:01\n"			/* bad IAID */
		"1 4294967296 fd00::5 vm6 00:01\n"		/* IAID > 32 bits */
		"1 7 10.0.0.1 vm6 00:01\n";			/* v4 address in v6 part */
	struct parsed p = parse_str(text);

	CHECK(p.r == 0 && p.n == 1 && p.bad == 16,
	      "malformed lines skipped and counted: n=%zu (want 1) bad=%zu (want 16)", p.n, p.bad);
	CHECK(p.n == 1 && ip_is(&p.l[0].ip, "10.10.0.103") && !strcmp(p.l[0].hostname, "ok"),
	      "the one good (CRLF) line survives");
	free(p.l);
}

static void test_empty(void)
{
	struct parsed p = parse("", 0);

	CHECK(p.r == 0 && p.n == 0 && p.bad == 0 && p.l == NULL, "empty input: 0 leases, NULL");
	p = parse(NULL, 0);
	CHECK(p.r == 0 && p.n == 0 && p.l == NULL, "NULL, 0: 0 leases");
	p = parse_str("\n\n\n");
	CHECK(p.r == 0 && p.n == 0 && p.bad == 0 && p.l == NULL, "only newlines: 0 leases");
	p = parse_str("duid 00:01:02\n");
	CHECK(p.r == 0 && p.n == 0 && p.bad == 0 && p.l == NULL, "only a duid line: 0 leases");
	p = parse_str("nonsense");
	CHECK(p.r == 0 && p.n == 0 && p.bad == 1 && p.l == NULL, "one bad line: 0 leases, 1 bad");
}

static void test_no_trailing_newline(void)
{
	struct parsed p = parse_str("5 52:54:00:00:00:01 10.0.0.5 a *\n"
				    "6 52:54:00:00:00:02 10.0.0.6 b *");

	CHECK(p.r == 0 && p.n == 2 && p.bad == 0 && p.n == 2 && !strcmp(p.l[1].hostname, "b"),
	      "last line without a newline is parsed");
	free(p.l);
	/* The length bounds the parse: a line cut in the middle is bad. */
	p = parse("5 52:54:00:00:00:01 10.0.0.5 a *\n", 20);
	CHECK(p.r == 0 && p.n == 0 && p.bad == 1, "input cut by len mid-line: bad, no overread");
}

static void test_huge_line(void)
{
	size_t big = 1 << 20;
	char *text = malloc(3 * big);
	struct parsed p;
	int n;

	if (!text)
		abort();
	memset(text, 'x', big);
	n = snprintf(text + big, big, "\n7 52:54:00:00:00:07 10.0.0.7 ");
	memset(text + big + n, 'h', 64);	/* hostname of 64: one too many */
	strcpy(text + big + n + 64, " *\n8 52:54:00:00:00:08 10.0.0.8 ");
	n = (int)strlen(text + big);
	memset(text + big + n, 'h', 63);	/* 63 fits */
	n += 63;
	text[big + n++] = ' ';
	memset(text + big + n, 'c', 300);	/* client id of 300: too long */
	n += 300;
	strcpy(text + big + n, "\n9 52:54:00:00:00:09 10.0.0.9 ");
	n = (int)strlen(text + big);
	memset(text + big + n, 'h', 63);
	strcpy(text + big + n + 63, " *\n");

	p = parse_str(text);
	CHECK(p.r == 0 && p.n == 1 && p.bad == 3,
	      "1 MiB line and over-long fields are bad (n=%zu bad=%zu)", p.n, p.bad);
	CHECK(p.n == 1 && strlen(p.l[0].hostname) == 63 && ip_is(&p.l[0].ip, "10.0.0.9"),
	      "a 63-character hostname fits");
	free(p.l);
	free(text);
}

static void test_nul(void)
{
	static const char text[] =
		"5 52:54:00:00:00:01 10.0.0.5 a\0b *\n"
		"6 52:54:00:00:00:02 10.0.0.6 b *\n"
		"\0\n";
	struct parsed p = parse(text, sizeof(text) - 1);

	CHECK(p.r == 0 && p.n == 1 && p.bad == 2 && ip_is(&p.l[0].ip, "10.0.0.6"),
	      "lines with an embedded NUL are bad, the rest is parsed (n=%zu bad=%zu)",
	      p.n, p.bad);
	free(p.l);
}

static void test_read(void)
{
	char path[] = "/tmp/test-dhcp-leases.XXXXXX";
	struct dhcp_lease *l = (struct dhcp_lease *)1;
	size_t n = 99;
	int fd, r;

	r = dhcp_leases_read("/nonexistent/netd/none.leases", &l, &n);
	CHECK(r == 0 && n == 0 && l == NULL, "missing file: 0 leases (r=%d)", r);

	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, good, sizeof(good) - 1) == (ssize_t)sizeof(good) - 1,
	      "lease file written");
	if (fd >= 0)
		close(fd);
	r = dhcp_leases_read(path, &l, &n);
	CHECK(r == 0 && n == 4 && l && !strcmp(l[0].hostname, "vm1"),
	      "dhcp_leases_read: 4 leases (r=%d n=%zu)", r, n);
	if (r == 0)
		free(l);
	unlink(path);

	r = dhcp_leases_read("/tmp", &l, &n);
	CHECK(r == -EISDIR, "a directory: -EISDIR (r=%d)", r);
}

int main(void)
{
	test_good();
	test_bad_lines();
	test_empty();
	test_no_trailing_newline();
	test_huge_line();
	test_nul();
	test_read();
	printf("%s (%d failure%s)\n", failures ? "FAIL" : "PASS", failures,
	       failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
