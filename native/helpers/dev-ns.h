/*
 * Entering a running container's namespaces from a single-threaded helper
 * (device hot-plug, proxy listeners): user namespace first when it is not
 * ours (then uid/gid 0 there), then mount and/or network namespaces.
 * Man pages: setns(2), pidfd_open(2), user_namespaces(7), setresuid(2).
 */
#ifndef INCUSD_DEV_NS_H
#define INCUSD_DEV_NS_H

#include <stddef.h>
#include <sys/types.h>

/* Namespaces to join; DEV_NS_USER is skipped when the container shares ours. */
#define DEV_NS_USER 1
#define DEV_NS_MNT 2
#define DEV_NS_NET 4

/* pidfd_open(pid) with O_CLOEXEC semantics; -1 and errno on failure. */
int dev_pidfd_open(pid_t pid);

/* 1 when pid's user namespace differs from ours, 0 when shared, -1 on error. */
int dev_other_userns(pid_t pid);

/*
 * Joins `which` namespaces of the process behind pidfd (pid names it for
 * the /proc fallback). Returns 0, or an errno with msg filled in.
 */
int dev_enter(int pidfd, pid_t pid, int which, char *msg, size_t msglen);

#endif
