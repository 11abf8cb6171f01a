/*
 * incusd-helper entry point: dispatches argv[1] to a subcommand.
 *   forkstart <name> <lxcpath> <configPath>
 *   idmap-probe <dir>
 *   forkmount mount|umount ...; mknod ...; forkproxy ...   (devices, see forkmount.c, forkproxy.c)
 *   forkexec <name> <lxcpath> <config> <cwd> <uid> <gid> -- env ... -- cmd ...
 *   forkexec-server            (forks one forkexec per request on fd 3)
 *   forkfile pid <pid> | rootfs <path> [<uidmap> <gidmap>]   (socket on fd 3)
 *   netns-addrs <pid>...       (interfaces of each PID's network namespace, JSON)
 *   netcat @NAME | --pass-fds FD (rsync's -e for migrations: stdio relayed to an abstract
 *                              Unix socket, or handed to the daemon over an inherited socket)
 * Man pages: errno(3), strerror(3) (strerrorname_np).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

void helper_report(int fd, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(fd, "%s %s\n", code, msg);
}

const char *helper_errno_name(int err)
{
	static char buf[16];
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "forkstart") == 0)
		return cmd_forkstart(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "idmap-probe") == 0)
		return cmd_idmap_probe(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "forkmount") == 0)
		return cmd_forkmount(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "mknod") == 0)
		return cmd_mknod(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "forkproxy") == 0)
		return cmd_forkproxy(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "forkexec") == 0)
		return cmd_forkexec(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "forkexec-server") == 0)
		return cmd_forkexec_server(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "forkfile") == 0)
		return cmd_forkfile(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "netns-addrs") == 0)
		return cmd_netns_addrs(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "netcat") == 0)
		return cmd_netcat(argc, argv);
	helper_report(STDERR_FILENO, "EINVAL",
		      "usage: incusd-helper forkstart NAME LXCPATH CONFIG | idmap-probe DIR");
	return HELPER_FAIL;
}
