/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-status: benchmark 6, event-loop responsiveness while many ports
 * are being deleted.
 *
 *   bench-status --socket S --label L --out DIR [--interval-ms 5] [--idle N]
 *                (--stop NET | --detach-file FILE) [--expect-gone N]
 *
 * First N `status` requests on an idle netd (the baseline), one every
 * interval.  Then a second connection (a thread) either sends
 * network.stop NET, or writes one port.detach request per interface name
 * in FILE all at once (1,000 detaches in flight) and reads the replies;
 * meanwhile `status` goes on every interval and each latency is recorded,
 * until that work has been answered.  Finally, with --expect-gone N, the
 * time until N fewer TUN/TAP links exist in the namespace (the kernel
 * really deleted them).  Samples: DIR/b6-status-idle-L.txt,
 * DIR/b6-status-during-L.txt; DIR/b6-status-series-L.txt has
 * "SENT_MS LATENCY_MS" (from the start of the work); DIR/facts.tsv gets
 * the work's duration and the links' deletion time.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "netd/proto.h"
#include "netlink/rtnl.h"
#include "tests/bench/bench-util.h"

struct work {
	const char *socket, *stop, *detach_file;
	long n_requests;
	_Atomic uint64_t t0, t1;
	long failed;
	atomic_bool done;
};

static void *stop_thread(struct work *w)
{
	struct proto_client *c = NULL;
	json_object *args = json_object_new_object();
	int r;

	if ((r = proto_client_open(w->socket, &c)) < 0)
		bu_die("cannot connect: %s", strerror(-r));
	json_object_object_add(args, "name", json_object_new_string(w->stop));
	w->n_requests = 1;
	w->t0 = bu_now_ns();
	r = bu_call(c, "network.stop", args, NULL, NULL, 0, NULL);
	w->t1 = bu_now_ns();
	w->failed = r < 0;
	proto_client_close(c);
	return NULL;
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", proto_socket_path(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* All requests in one go, then count the reply lines (and the failures). */
static void *detach_thread(struct work *w)
{
	size_t len = 0, cap = 1 << 16, off = 0;
	char *buf = malloc(cap), line[128], rbuf[65536];
	FILE *f = fopen(w->detach_file, "re");
	long replies = 0;
	int fd;

	if (!buf || !f)
		bu_die("cannot read %s", w->detach_file);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!*line)
			continue;
		if (len + 256 > cap && !(buf = realloc(buf, cap *= 2)))
			bu_die("out of memory");
		len += (size_t)sprintf(buf + len, "{\"id\":%ld,\"op\":\"port.detach\",\"args\":{\"ifname\":\"%s\"}}\n",
				       ++w->n_requests, line);
	}
	fclose(f);
	if ((fd = raw_connect(w->socket)) < 0)
		bu_die("cannot connect: %s", strerror(-fd));
	w->t0 = bu_now_ns();
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno != EINTR)
			bu_die("write: %s", strerror(errno));
		off += n > 0 ? (size_t)n : 0;
	}
	while (replies < w->n_requests) {
		ssize_t n = read(fd, rbuf, sizeof(rbuf) - 1);

		if (n <= 0)
			bu_die("netd closed the connection after %ld replies", replies);
		rbuf[n] = 0;
		for (char *p = rbuf; (p = strchr(p, '\n')); p++)
			replies++;
		for (char *p = rbuf; (p = strstr(p, "\"ok\":false")); p++)
			w->failed++;
	}
	w->t1 = bu_now_ns();
	close(fd);
	free(buf);
	return NULL;
}

static void *work_main(void *arg)
{
	struct work *w = arg;

	if (w->stop)
		stop_thread(w);
	else
		detach_thread(w);
	atomic_store(&w->done, true);
	return NULL;
}

static int count_tun(const struct rtnl_link *l, void *data)
{
	*(long *)data += strcmp(l->kind, "tun") == 0;
	return 0;
}

/* TUN/TAP links now; -1 when the kernel kept interrupting the dump
 * (links being deleted meanwhile: -EAGAIN), which a poll tries again. */
static long tun_links(struct rtnl *rt)
{
	long n = 0;
	int r = rtnl_link_dump(rt, count_tun, &n);

	if (r == -EAGAIN)
		return -1;
	if (r < 0)
		bu_die("link dump: %s", strerror(-r));
	return n;
}

/* One status call, timed. */
static double status_ms(struct proto_client *c)
{
	uint64_t t0 = bu_now_ns();
	long r = bu_status_ports(c);

	if (r < 0)
		bu_die("status: %s", strerror((int)-r));
	return bu_ms(t0, bu_now_ns());
}

static void sleep_until(uint64_t t)
{
	uint64_t now = bu_now_ns();

	if (t > now)
		usleep((useconds_t)((t - now) / 1000));
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "idle", required_argument, NULL, 'I' },
		{ "stop", required_argument, NULL, 'S' },
		{ "detach-file", required_argument, NULL, 'd' },
		{ "expect-gone", required_argument, NULL, 'g' },
		{ 0 }
	};
	struct bu_samples idle = { 0 }, during = { 0 };
	const char *label = NULL, *out = NULL;
	long interval = 5, n_idle = 200, gone = 0, before = 0;
	struct work w = { 0 };
	struct proto_client *c = NULL;
	struct rtnl *rt = NULL;
	char name[256], path[4096];
	pthread_t th;
	FILE *series;
	double gone_ms = 0;
	uint64_t next;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': w.socket = optarg; break;
		case 'l': label = optarg; break;
		case 'o': out = optarg; break;
		case 'i': interval = atol(optarg); break;
		case 'I': n_idle = atol(optarg); break;
		case 'S': w.stop = optarg; break;
		case 'd': w.detach_file = optarg; break;
		case 'g': gone = atol(optarg); break;
		default: bu_die("unknown option");
		}
	}
	if (!label || !out || !w.stop == !w.detach_file || interval < 1)
		bu_die("usage: bench-status --socket S --label L --out DIR (--stop NET | --detach-file F)");
	if ((r = proto_client_open(w.socket, &c)) < 0 || (r = rtnl_open(&rt)) < 0)
		bu_die("cannot connect: %s", strerror(-r));
	if (gone)
		while ((before = tun_links(rt)) < 0)
			usleep(20000);

	next = bu_now_ns();
	for (long i = 0; i < n_idle; i++) {
		sleep_until(next += (uint64_t)interval * 1000000u);
		bu_samples_add(&idle, status_ms(c));
	}

	snprintf(path, sizeof(path), "%s/b6-status-series-%s.txt", out, label);
	if (!(series = fopen(path, "we")))
		bu_die("cannot write %s", path);
	if ((r = pthread_create(&th, NULL, work_main, &w)) != 0)
		bu_die("pthread_create: %s", strerror(r));
	while (!w.t0)
		usleep(100);
	next = bu_now_ns();
	while (!atomic_load(&w.done)) {
		uint64_t sent = bu_now_ns();
		double ms = status_ms(c);

		bu_samples_add(&during, ms);
		fprintf(series, "%.3f %.3f\n", bu_ms(w.t0, sent), ms);
		next += (uint64_t)interval * 1000000u;
		sleep_until(next);
	}
	pthread_join(th, NULL);
	fclose(series);
	printf("%s: %s of %ld request(s) answered in %.1f ms (%ld failed)\n", label,
	       w.stop ? "network.stop" : "port.detach", w.n_requests, bu_ms(w.t0, w.t1), w.failed);
	if (gone) {
		uint64_t end = bu_now_ns() + 120000000000ull;
		long now;

		while (((now = tun_links(rt)) < 0 || now > before - gone) && bu_now_ns() < end)
			usleep(20000);
		gone_ms = bu_ms(w.t0, bu_now_ns());
		printf("%s: %ld TAPs gone from the kernel %.1f ms after the request (%ld left of %ld)\n",
		       label, before - now, gone_ms, now, before);
	}
	snprintf(path, sizeof(path), "%s/facts.tsv", out);
	if ((series = fopen(path, "ae"))) {
		fprintf(series, "b6.%s.requests\t%ld\nb6.%s.answered_ms\t%.1f\nb6.%s.failed\t%ld\n", label,
			w.n_requests, label, bu_ms(w.t0, w.t1), label, w.failed);
		if (gone)
			fprintf(series, "b6.%s.links_gone_ms\t%.1f\n", label, gone_ms);
		fclose(series);
	}
	snprintf(name, sizeof(name), "status, idle (%s)", label);
	bu_print(name, &idle);
	snprintf(name, sizeof(name), "status, during %s", label);
	bu_print(name, &during);
	bu_print_ratio(name, &during, "idle", &idle);
	snprintf(name, sizeof(name), "b6-status-idle-%s", label);
	bu_samples_write(&idle, out, name);
	snprintf(name, sizeof(name), "b6-status-during-%s", label);
	bu_samples_write(&during, out, name);
	bu_samples_free(&idle);
	bu_samples_free(&during);
	proto_client_close(c);
	rtnl_close(rt);
	return w.failed ? 1 : 0;
}
