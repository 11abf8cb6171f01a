/*
 * forkproxy relay loop: one epoll set for the listeners, the relayed
 * connections, the container init's pidfd and a signalfd. Stream sockets
 * (tcp, unix) are copied both ways through a buffer per direction, with
 * half-close passed on (shutdown SHUT_WR) so request/response peers such
 * as `nc` see end of input; toward a udp target each read of the stream
 * becomes one datagram and each datagram back is written to the stream.
 * Datagram listeners (udp) keep one connected upstream socket per client
 * address, dropped after an idle period.
 * An fd is in the epoll set only while it has interest, so a hung-up
 * socket never spins the loop. Closed connections and sessions are freed
 * only after the whole batch of events is handled, since later events of
 * the batch may still point at them.
 * Man pages: epoll(7), epoll_ctl(2), accept4(2), recvfrom(2), sendto(2),
 * shutdown(2), getsockopt(2) (SO_ERROR), signalfd(2), pidfd_open(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"

#define PX_BUF 65536
/* The largest UDP payload over IPv4. */
#define PX_DGRAM_MAX 65507
#define PX_UDP_IDLE_SEC 120
#define PX_UDP_MAX 1024
#define PX_EVENTS 64

enum px_tag_kind { TAG_LISTENER, TAG_STREAM, TAG_UDP, TAG_PIDFD, TAG_SIGNAL };

struct px_tag {
	enum px_tag_kind kind;
	void *obj;
	int side;
};

struct px_stream {
	int fd[2];
	char *buf[2]; /* buf[i]: read from fd[i], to be written to fd[1-i] */
	size_t len[2], off[2];
	int eof[2], shut[2], registered[2];
	unsigned interest[2];
	int connecting;
	int dgram; /* fd[1] is a connected udp socket */
	int dead;
	struct px_tag tag[2];
	struct px_stream *next_dead;
};

struct px_udp {
	struct px_pair *pair;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	int up;
	time_t last;
	int dead;
	struct px_tag tag;
	struct px_udp *next;
};

static int ep = -1;
static struct px_stream *dead_streams;
static struct px_udp *dead_udp;
static struct px_udp *udp_sessions;
static size_t udp_count;
static char dgram[PX_BUF];

static time_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int watch(int fd, unsigned events, struct px_tag *tag)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Closes a stream now (its fds leave the epoll set); frees it after the batch. */
static void stream_free(struct px_stream *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
	s->dead = 1;
	s->next_dead = dead_streams;
	dead_streams = s;
}

static void bury_dead(void)
{
	while (dead_streams) {
		struct px_stream *s = dead_streams;

		dead_streams = s->next_dead;
		free(s->buf[0]);
		free(s->buf[1]);
		free(s);
	}
	while (dead_udp) {
		struct px_udp *u = dead_udp;

		dead_udp = u->next;
		free(u);
	}
}

/* Brings each side's epoll registration in line with what it waits for. */
static void stream_update(struct px_stream *s)
{
	for (int i = 0; i < 2; i++) {
		unsigned want = 0;

		if (s->connecting) {
			want = i == 1 ? EPOLLOUT : 0;
		} else {
			if (!s->eof[i] && s->len[i] == 0)
				want |= EPOLLIN;
			if (s->len[1 - i] > 0)
				want |= EPOLLOUT;
		}
		if (want == s->interest[i] && s->registered[i] == (want != 0))
			continue;
		struct epoll_event ev = { .events = want, .data.ptr = &s->tag[i] };

		if (want == 0) {
			if (s->registered[i])
				epoll_ctl(ep, EPOLL_CTL_DEL, s->fd[i], NULL);
			s->registered[i] = 0;
		} else if (s->registered[i]) {
			epoll_ctl(ep, EPOLL_CTL_MOD, s->fd[i], &ev);
		} else {
			epoll_ctl(ep, EPOLL_CTL_ADD, s->fd[i], &ev);
			s->registered[i] = 1;
		}
		s->interest[i] = want;
	}
}

/* Writes what fd[from] gave us to the other side; -1 when the stream is broken. */
static int stream_flush(struct px_stream *s, int from)
{
	int to = 1 - from;

	while (s->len[from] > 0) {
		ssize_t n = send(s->fd[to], s->buf[from] + s->off[from], s->len[from], MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		s->off[from] += (size_t)n;
		s->len[from] -= (size_t)n;
	}
	s->off[from] = 0;
	if (s->eof[from] && !s->shut[to]) {
		shutdown(s->fd[to], SHUT_WR);
		s->shut[to] = 1;
	}
	return 0;
}

static int stream_read(struct px_stream *s, int i)
{
	ssize_t n = recv(s->fd[i], s->buf[i], s->dgram && i == 0 ? PX_DGRAM_MAX : PX_BUF, 0);

	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	/* An empty datagram is no end of stream. */
	if (n == 0 && s->dgram && i == 1)
		return 0;
	if (n == 0)
		s->eof[i] = 1;
	s->len[i] = (size_t)n;
	s->off[i] = 0;
	return stream_flush(s, i);
}

static void stream_event(struct px_stream *s, int side, unsigned events)
{
	int broken = 0;

	if (s->dead)
		return;
	if (s->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(s->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			stream_free(s);
			return;
		}
		s->connecting = 0;
		stream_update(s);
		return;
	}
	if (!broken && (s->interest[side] & EPOLLOUT) && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		broken = stream_flush(s, 1 - side) < 0;
	if (!broken && (s->interest[side] & EPOLLIN) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		broken = stream_read(s, side) < 0;
	/* A udp peer never ends its side: the client's end of stream ends both. */
	if (s->dgram && s->eof[0] && s->len[0] == 0)
		broken = 1;
	if (broken || (s->eof[0] && s->eof[1] && s->len[0] == 0 && s->len[1] == 0)) {
		stream_free(s);
		return;
	}
	stream_update(s);
}

static void accept_stream(struct px_pair *p)
{
	struct px_stream *s;
	int c = accept4(p->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(c);
		return;
	}
	s->fd[0] = c;
	s->fd[1] = px_connect(&p->connect);
	s->buf[0] = malloc(PX_BUF);
	s->buf[1] = malloc(PX_BUF);
	if (s->fd[1] < 0 || !s->buf[0] || !s->buf[1]) {
		if (s->fd[1] < 0)
			fprintf(stderr, "connect %s: %s\n", p->connect.text, strerror(errno));
		stream_free(s);
		return;
	}
	s->connecting = 1;
	s->dgram = p->connect.kind == PX_UDP;
	for (int i = 0; i < 2; i++)
		s->tag[i] = (struct px_tag){ TAG_STREAM, s, i };
	stream_update(s);
}

static void udp_close(struct px_udp **link)
{
	struct px_udp *u = *link;

	*link = u->next;
	close(u->up);
	u->dead = 1;
	u->next = dead_udp;
	dead_udp = u;
	udp_count--;
}

static struct px_udp *udp_session(struct px_pair *p, const struct sockaddr_storage *peer, socklen_t len)
{
	struct px_udp *u;

	for (u = udp_sessions; u; u = u->next)
		if (u->pair == p && u->peerlen == len && memcmp(&u->peer, peer, len) == 0)
			return u;
	if (udp_count >= PX_UDP_MAX) {
		/* Full: drop the least recently used session. */
		struct px_udp **oldest = &udp_sessions, **it;

		for (it = &udp_sessions; *it; it = &(*it)->next)
			if ((*it)->last < (*oldest)->last)
				oldest = it;
		udp_close(oldest);
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->up = px_connect(&p->connect);
	if (u->up < 0) {
		fprintf(stderr, "connect %s: %s\n", p->connect.text, strerror(errno));
		free(u);
		return NULL;
	}
	u->pair = p;
	memcpy(&u->peer, peer, len);
	u->peerlen = len;
	u->tag = (struct px_tag){ TAG_UDP, u, 0 };
	if (watch(u->up, EPOLLIN, &u->tag) < 0) {
		close(u->up);
		free(u);
		return NULL;
	}
	u->next = udp_sessions;
	udp_sessions = u;
	udp_count++;
	return u;
}

static void udp_from_client(struct px_pair *p)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	ssize_t n = recvfrom(p->fd, dgram, sizeof(dgram), 0, (struct sockaddr *)&peer, &len);
	struct px_udp *u;

	if (n < 0)
		return;
	u = udp_session(p, &peer, len);
	if (!u)
		return;
	u->last = now_sec();
	send(u->up, dgram, (size_t)n, MSG_NOSIGNAL);
}

static void udp_from_upstream(struct px_udp *u)
{
	ssize_t n;

	if (u->dead)
		return;
	n = recv(u->up, dgram, sizeof(dgram), 0);
	/* ECONNREFUSED and the like only mean nobody listened this time. */
	if (n < 0)
		return;
	u->last = now_sec();
	sendto(u->pair->fd, dgram, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&u->peer, u->peerlen);
}

static void udp_expire(void)
{
	time_t t = now_sec();
	struct px_udp **it = &udp_sessions;

	while (*it) {
		if (t - (*it)->last >= PX_UDP_IDLE_SEC)
			udp_close(it);
		else
			it = &(*it)->next;
	}
}

int px_relay(struct px_pair *pairs, size_t n, int pidfd)
{
	struct px_tag pid_tag = { TAG_PIDFD, NULL, 0 }, sig_tag = { TAG_SIGNAL, NULL, 0 };
	struct px_tag ltags[PX_MAX_PAIRS];
	struct epoll_event events[PX_EVENTS];
	sigset_t mask;
	int sfd;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || watch(sfd, EPOLLIN, &sig_tag) < 0)
		return 1;
	if (pidfd >= 0 && watch(pidfd, EPOLLIN, &pid_tag) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		ltags[i] = (struct px_tag){ TAG_LISTENER, &pairs[i], 0 };
		if (watch(pairs[i].fd, EPOLLIN, &ltags[i]) < 0)
			return 1;
	}

	for (;;) {
		int timeout = udp_count > 0 ? 30000 : -1;
		int k = epoll_wait(ep, events, PX_EVENTS, timeout);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int e = 0; e < k; e++) {
			struct px_tag *tag = events[e].data.ptr;

			switch (tag->kind) {
			case TAG_PIDFD:
				/* The container stopped: nothing left to proxy to or from. */
				return 0;
			case TAG_SIGNAL:
				return 0;
			case TAG_LISTENER: {
				struct px_pair *p = tag->obj;

				if (p->listen.kind == PX_UDP)
					udp_from_client(p);
				else
					accept_stream(p);
				break;
			}
			case TAG_UDP:
				udp_from_upstream(tag->obj);
				break;
			case TAG_STREAM:
				stream_event(tag->obj, tag->side, events[e].events);
				break;
			}
		}
		if (udp_count > 0)
			udp_expire();
		bury_dead();
	}
}
