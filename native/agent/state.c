/*
 * state: the guest's hostname, uptime, memory (/proc/meminfo), process
 * count, root filesystem use and network interfaces with their addresses
 * (getifaddrs), in the shape of Incus's InstanceState fields (network keyed
 * by interface name).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent.h"

static long long meminfo_bytes(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long kb = -1;
	size_t klen = strlen(key);

	if (!f) return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') { kb = atoll(line + klen + 1); break; }
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static int prefix_len(const struct sockaddr *mask)
{
	const unsigned char *b;
	size_t n;
	int bits = 0;

	if (!mask) return 0;
	if (mask->sa_family == AF_INET) { b = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr; n = 4; }
	else { b = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr; n = 16; }
	for (size_t i = 0; i < n; i++) bits += __builtin_popcount(b[i]);
	return bits;
}

static const char *scope_of(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET) {
		uint32_t ip = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
		if ((ip >> 24) == 127) return "local";
		if ((ip >> 16) == 0xa9fe) return "link";
		return "global";
	}
	const struct in6_addr *ip6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
	if (IN6_IS_ADDR_LOOPBACK(ip6)) return "local";
	if (IN6_IS_ADDR_LINKLOCAL(ip6)) return "link";
	return "global";
}

/* One interface's JSON: addresses, hwaddr, state, type, counters. */
static void put_iface(struct buf *b, struct ifaddrs *all, const char *name)
{
	const struct ifaddrs *pkt = NULL;
	int first = 1;

	buf_json_str(b, name);
	buf_put(b, ":{\"addresses\":[", 15);
	for (struct ifaddrs *a = all; a; a = a->ifa_next) {
		if (strcmp(a->ifa_name, name) || !a->ifa_addr) continue;
		int fam = a->ifa_addr->sa_family;
		if (fam == AF_PACKET) { pkt = a; continue; }
		if (fam != AF_INET && fam != AF_INET6) continue;
		char ip[INET6_ADDRSTRLEN];
		const void *src = fam == AF_INET ? (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr
						 : (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
		inet_ntop(fam, src, ip, sizeof(ip));
		buf_printf(b, "%s{\"family\":\"%s\",\"address\":\"%s\",\"netmask\":\"%d\",\"scope\":\"%s\"}",
			   first ? "" : ",", fam == AF_INET ? "inet" : "inet6", ip, prefix_len(a->ifa_netmask),
			   scope_of(a->ifa_addr));
		first = 0;
	}
	buf_put(b, "]", 1);
	unsigned flags = pkt ? pkt->ifa_flags : 0;
	char hw[3 * 8] = "";
	if (pkt) {
		const struct sockaddr_ll *ll = (const struct sockaddr_ll *)pkt->ifa_addr;
		size_t at = 0;
		for (int i = 0; i < ll->sll_halen && i < 8; i++)
			at += snprintf(hw + at, sizeof(hw) - at, i ? ":%02x" : "%02x", ll->sll_addr[i]);
		if (ll->sll_halen && !strcmp(hw, "00:00:00:00:00:00")) hw[0] = 0;
	}
	buf_printf(b, ",\"hwaddr\":\"%s\",\"state\":\"%s\",\"type\":\"%s\"", hw, flags & IFF_UP ? "up" : "down",
		   flags & IFF_LOOPBACK ? "loopback" : "broadcast");
	buf_put(b, "}", 1);
}

/* Processes running in the guest: the numeric entries of /proc. */
static int process_count(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d) return -1;
	while ((e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0])) n++;
	closedir(d);
	return n;
}

/* The root filesystem's use, as Incus's disk state of the root device. */
static void put_root_disk(struct buf *b)
{
	struct statvfs v;

	if (statvfs("/", &v) < 0) {
		buf_printf(b, "{}");
		return;
	}
	unsigned long long total = (unsigned long long)v.f_blocks * v.f_frsize;
	unsigned long long used = (unsigned long long)(v.f_blocks - v.f_bfree) * v.f_frsize;
	buf_printf(b, "{\"root\":{\"usage\":%llu,\"total\":%llu}}", used, total);
}

void state_reply(double id)
{
	struct buf b = {0};
	char host[256] = "";
	double up = 0;
	FILE *f;

	gethostname(host, sizeof(host) - 1);
	if ((f = fopen("/proc/uptime", "re"))) {
		if (fscanf(f, "%lf", &up) != 1) up = 0;
		fclose(f);
	}
	buf_printf(&b, "{\"id\":%.0f,\"ok\":true,\"state\":{\"hostname\":", id);
	buf_json_str(&b, host);
	buf_printf(&b, ",\"uptime\":%.0f,\"memory\":{\"total\":%lld,\"free\":%lld,\"available\":%lld},\"processes\":%d,\"disk\":", up,
		   meminfo_bytes("MemTotal"), meminfo_bytes("MemFree"), meminfo_bytes("MemAvailable"), process_count());
	put_root_disk(&b);
	buf_printf(&b, ",\"network\":{");
	struct ifaddrs *all = NULL;
	if (getifaddrs(&all) == 0) {
		int first = 1;
		for (struct ifaddrs *a = all; a; a = a->ifa_next) {
			/* Each name once: emit at its first entry. */
			struct ifaddrs *prev = all;
			while (prev != a && strcmp(prev->ifa_name, a->ifa_name)) prev = prev->ifa_next;
			if (prev != a) continue;
			if (!first) buf_put(&b, ",", 1);
			put_iface(&b, all, a->ifa_name);
			first = 0;
		}
		freeifaddrs(all);
	}
	buf_put(&b, "}}}", 3);
	send_json(&b);
}
