/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the kernel already has: links and routes, for validation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netd/netd.h"
#include "netlink/rtnl.h"

struct collect {
	struct host_view *h;
	struct rtnl_link *links;	/* ifindex → name for routes */
	size_t n_links;
};

static int on_link(const struct rtnl_link *l, void *data)
{
	struct collect *c = data;
	struct host_view *h = c->h;
	struct host_link *hl;
	struct rtnl_link *ll;

	hl = realloc(h->links, (h->n_links + 1) * sizeof(*hl));
	if (!hl)
		return -ENOMEM;
	h->links = hl;
	hl = &h->links[h->n_links++];
	memset(hl, 0, sizeof(*hl));
	strcpy(hl->name, l->name);
	snprintf(hl->kind, sizeof(hl->kind), "%s", l->kind);
	hl->ours = strncmp(l->alias, NETD_ALIAS_PREFIX, strlen(NETD_ALIAS_PREFIX)) == 0;

	ll = realloc(c->links, (c->n_links + 1) * sizeof(*ll));
	if (!ll)
		return -ENOMEM;
	c->links = ll;
	c->links[c->n_links++] = *l;
	return 0;
}

static int on_route(const struct rtnl_route *r, void *data)
{
	struct collect *c = data;
	struct host_view *h = c->h;
	struct host_route *hr;

	hr = realloc(h->routes, (h->n_routes + 1) * sizeof(*hr));
	if (!hr)
		return -ENOMEM;
	h->routes = hr;
	hr = &h->routes[h->n_routes++];
	memset(hr, 0, sizeof(*hr));
	hr->dst.family = r->family;
	memcpy(hr->dst.a.b, &r->dst, r->family == AF_INET ? 4 : 16);
	hr->len = r->dst_len;
	for (size_t i = 0; i < c->n_links; i++)
		if (c->links[i].ifindex == r->oif)
			strcpy(hr->ifname, c->links[i].name);
	return 0;
}

int host_view_read(struct rtnl *rt, struct host_view *ret)
{
	struct collect c = { .h = ret };
	int r;

	memset(ret, 0, sizeof(*ret));
	r = rtnl_link_dump(rt, on_link, &c);
	if (r >= 0)
		r = rtnl_route_dump(rt, AF_INET, on_route, &c);
	if (r >= 0)
		r = rtnl_route_dump(rt, AF_INET6, on_route, &c);
	free(c.links);
	if (r < 0)
		host_view_free(ret);
	return r;
}

void host_view_free(struct host_view *h)
{
	free(h->links);
	free(h->routes);
	memset(h, 0, sizeof(*h));
}
