/*
 * forkproxy internals: endpoint addresses, listener sockets and the relay
 * loop shared by forkproxy.c, proxy-addr.c and proxy-relay.c.
 * Man pages: socket(2), bind(2), listen(2), connect(2), unix(7), ip(7),
 * ipv6(7), epoll(7).
 */
#ifndef INCUSD_PROXY_H
#define INCUSD_PROXY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* At most this many listen/connect pairs per device (port ranges expanded). */
#define PX_MAX_PAIRS 64

enum px_kind { PX_TCP, PX_UDP, PX_UNIX };

struct px_addr {
	enum px_kind kind;
	struct sockaddr_storage sa;
	socklen_t len;
	/* The text it was parsed from, for messages. */
	const char *text;
};

/* One listener and where its traffic goes. */
struct px_pair {
	struct px_addr listen;
	struct px_addr connect;
	int fd;
};

/* Owner and mode of a listening unix socket file. */
struct px_sockperm {
	long uid;
	long gid;
	unsigned mode;
};

/* Parses tcp:ADDR:PORT, udp:ADDR:PORT ([v6] in brackets), unix:PATH or unix:@NAME. */
int px_parse(const char *text, struct px_addr *a);

/*
 * A non-blocking, close-on-exec listening socket (bound datagram socket
 * for udp); a non-abstract unix path is replaced when it is a stale socket
 * and given perm's owner and mode. Returns the fd, or -1 with errno and msg.
 */
int px_listen(const struct px_addr *a, const struct px_sockperm *perm, char *msg, size_t msglen);

/* A non-blocking socket with connect() started toward a; -1 with errno. */
int px_connect(const struct px_addr *a);

/*
 * Relays until the watched pidfd (the container init) becomes readable or
 * SIGTERM/SIGINT arrives. Returns the exit status for main().
 */
int px_relay(struct px_pair *pairs, size_t n, int pidfd);

#endif
