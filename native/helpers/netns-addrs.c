/*
 * netns-addrs PID...: the network interfaces of several containers in one
 * run. For each PID the helper joins /proc/PID/ns/net with setns(2) (it is
 * single-threaded, so that is allowed), lists the interfaces with
 * getifaddrs(3) (addresses, flags, MAC, 32-bit counters from the
 * AF_PACKET entries) and reads each MTU with SIOCGIFMTU on a socket made
 * in that namespace. Prints one JSON array, one object per PID in order:
 *   {"pid":N,"interfaces":{"eth0":{"addresses":[...],"counters":{...},
 *    "hwaddr":"..","mtu":1500,"state":"up","type":"broadcast"}}}
 * or {"pid":N,"error":"ENOENT ..."} for a PID whose namespace is gone.
 * Man pages: setns(2), getifaddrs(3), netdevice(7), packet(7), proc(5),
 * fork(2), pipe(2).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

/* Prints s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Prefix length of a netmask (contiguous bits counted from the top). */
static int prefix_len(const struct sockaddr *mask)
{
	const unsigned char *b;
	size_t n;
	int bits = 0;

	if (!mask)
		return 0;
	if (mask->sa_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr;
		n = 4;
	} else {
		b = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		bits += __builtin_popcount(b[i]);
	return bits;
}

static const char *scope_v4(const struct in_addr *a)
{
	uint32_t h = ntohl(a->s_addr);

	if ((h >> 24) == 127)
		return "local";
	if ((h >> 16) == 0xa9fe)
		return "link";
	return "global";
}

static const char *scope_v6(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a))
		return "local";
	if (IN6_IS_ADDR_LINKLOCAL(a))
		return "link";
	return "global";
}

/* Whether name already appeared before entry cur in the list. */
static int seen_before(struct ifaddrs *list, struct ifaddrs *cur)
{
	for (struct ifaddrs *p = list; p != cur; p = p->ifa_next)
		if (p->ifa_name && strcmp(p->ifa_name, cur->ifa_name) == 0)
			return 1;
	return 0;
}

static void print_addresses(struct ifaddrs *list, const char *name)
{
	char buf[INET6_ADDRSTRLEN];
	int first = 1;

	printf("\"addresses\":[");
	for (struct ifaddrs *p = list; p; p = p->ifa_next) {
		const char *scope;
		const char *family;

		if (!p->ifa_addr || strcmp(p->ifa_name, name) != 0)
			continue;
		if (p->ifa_addr->sa_family == AF_INET) {
			const struct in_addr *a = &((struct sockaddr_in *)p->ifa_addr)->sin_addr;

			inet_ntop(AF_INET, a, buf, sizeof(buf));
			scope = scope_v4(a);
			family = "inet";
		} else if (p->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *a = &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr;

			inet_ntop(AF_INET6, a, buf, sizeof(buf));
			scope = scope_v6(a);
			family = "inet6";
		} else {
			continue;
		}
		printf("%s{\"family\":\"%s\",\"address\":\"%s\",\"netmask\":\"%d\",\"scope\":\"%s\"}",
		       first ? "" : ",", family, buf, prefix_len(p->ifa_netmask), scope);
		first = 0;
	}
	printf("]");
}

/* The AF_PACKET entry of an interface: flags, MAC and counters. */
static struct ifaddrs *packet_entry(struct ifaddrs *list, const char *name)
{
	for (struct ifaddrs *p = list; p; p = p->ifa_next)
		if (p->ifa_addr && p->ifa_addr->sa_family == AF_PACKET && strcmp(p->ifa_name, name) == 0)
			return p;
	return NULL;
}

static void print_interface(struct ifaddrs *list, struct ifaddrs *entry, int sock)
{
	struct ifaddrs *pk = packet_entry(list, entry->ifa_name);
	unsigned int flags = pk ? pk->ifa_flags : entry->ifa_flags;
	struct rtnl_link_stats *st = pk ? (struct rtnl_link_stats *)pk->ifa_data : NULL;
	char mac[18] = "";
	struct ifreq ifr;
	int mtu = 0;

	if (pk) {
		struct sockaddr_ll *ll = (struct sockaddr_ll *)pk->ifa_addr;

		if (ll->sll_halen == 6)
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0], ll->sll_addr[1],
				 ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
	}
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, entry->ifa_name, IFNAMSIZ - 1);
	if (sock >= 0 && ioctl(sock, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;

	json_str(entry->ifa_name);
	printf(":{");
	print_addresses(list, entry->ifa_name);
	if (st)
		printf(",\"counters\":{\"bytes_received\":%u,\"bytes_sent\":%u,\"packets_received\":%u,\"packets_sent\":%u,"
		       "\"errors_received\":%u,\"errors_sent\":%u,\"packets_dropped_outbound\":%u,\"packets_dropped_inbound\":%u}",
		       st->rx_bytes, st->tx_bytes, st->rx_packets, st->tx_packets, st->rx_errors, st->tx_errors,
		       st->tx_dropped, st->rx_dropped);
	else
		printf(",\"counters\":{}");
	printf(",\"hwaddr\":\"%s\",\"mtu\":%d,\"state\":\"%s\",\"type\":\"%s\"}", mac, mtu, (flags & IFF_UP) ? "up" : "down",
	       (flags & IFF_LOOPBACK) ? "loopback" : (flags & IFF_POINTOPOINT) ? "point-to-point" : "broadcast");
}

/* Joins pid's network namespace and prints its interfaces; returns 0 or an errno. */
static int dump_pid(const char *pid)
{
	char path[64];
	struct ifaddrs *list;
	int fd, sock, first = 1;

	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (setns(fd, CLONE_NEWNET) < 0) {
		int err = errno;

		close(fd);
		return err;
	}
	close(fd);
	if (getifaddrs(&list) < 0)
		return errno;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	printf("{\"pid\":%s,\"interfaces\":{", pid);
	for (struct ifaddrs *p = list; p; p = p->ifa_next) {
		if (!p->ifa_name || seen_before(list, p))
			continue;
		if (!first)
			putchar(',');
		print_interface(list, p, sock);
		first = 0;
	}
	printf("}}");
	if (sock >= 0)
		close(sock);
	freeifaddrs(list);
	return 0;
}

/* Prints the entries argv[from..to), comma-separated, without brackets. */
static void dump_range(char **argv, int from, int to)
{
	for (int i = from; i < to; i++) {
		int err;

		if (i > from)
			putchar(',');
		if (strspn(argv[i], "0123456789") != strlen(argv[i]) || argv[i][0] == '\0') {
			printf("{\"pid\":0,\"error\":\"EINVAL not a PID\"}");
			continue;
		}
		err = dump_pid(argv[i]);
		if (err)
			printf("{\"pid\":%s,\"error\":\"%s %s\"}", argv[i], helper_errno_name(err), strerror(err));
	}
}

/*
 * A batch above this many PIDs is split in two: a forked child reads the
 * second half into a pipe while this process reads the first, so a large
 * listing uses two cores for the namespace switches and netlink dumps.
 */
#define SPLIT_ABOVE 64

int cmd_netns_addrs(int argc, char **argv)
{
	int n = argc - 2, mid = argc, fds[2] = { -1, -1 };
	pid_t child = -1;

	fflush(stdout);
	if (n > SPLIT_ABOVE && pipe2(fds, O_CLOEXEC) == 0) {
		mid = 2 + n / 2;
		child = fork();
		if (child == 0) {
			if (dup2(fds[1], STDOUT_FILENO) < 0)
				_exit(HELPER_FAIL);
			dump_range(argv, mid, argc);
			_exit(fflush(stdout) == 0 ? HELPER_OK : HELPER_FAIL);
		}
		close(fds[1]);
		if (child < 0) {
			close(fds[0]);
			mid = argc;
		}
	}
	putchar('[');
	dump_range(argv, 2, mid);
	if (child > 0) {
		char buf[65536];
		ssize_t got;
		int status = 0;

		if (mid > 2)
			putchar(',');
		fflush(stdout);
		while ((got = read(fds[0], buf, sizeof(buf))) != 0) {
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0 || fwrite(buf, 1, (size_t)got, stdout) != (size_t)got)
				return HELPER_FAIL;
		}
		close(fds[0]);
		if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != HELPER_OK) {
			helper_report(STDERR_FILENO, "EIO", "netns-addrs: the reader of the second half failed");
			return HELPER_FAIL;
		}
	}
	printf("]\n");
	return fflush(stdout) == 0 ? HELPER_OK : HELPER_FAIL;
}
