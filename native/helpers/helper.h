/*
 * incusd-helper: subcommands that must not run inside the multi-threaded
 * Node process (container start, user namespace work). Each prints its
 * result on stdout and, on failure, one line "<ECODE> <message>" on stderr.
 * Man pages: none.
 */
#ifndef INCUSD_HELPER_H
#define INCUSD_HELPER_H

/* Exit codes shared by the subcommands. */
#define HELPER_OK 0
#define HELPER_FAIL 1
#define HELPER_REFUSED 2

/* Prints "<code> <message>" on fd (a printf-style message). */
void helper_report(int fd, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "ENOENT" for ENOENT, "E<n>" when glibc has no name. */
const char *helper_errno_name(int err);

int cmd_forkstart(int argc, char **argv);
int cmd_idmap_probe(int argc, char **argv);
int cmd_forkmount(int argc, char **argv);
int cmd_mknod(int argc, char **argv);
int cmd_forkproxy(int argc, char **argv);
int cmd_forkexec(int argc, char **argv);
int cmd_forkexec_server(int argc, char **argv);
int cmd_forkfile(int argc, char **argv);
int cmd_netns_addrs(int argc, char **argv);
int cmd_netcat(int argc, char **argv);

#endif
