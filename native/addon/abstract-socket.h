// Connecting to an abstract unix socket by its exact-length name (Node pads
// abstract names to the whole sun_path; liblxc and dqlite bind them exactly).
#ifndef INCUS_ABSTRACT_SOCKET_H
#define INCUS_ABSTRACT_SOCKET_H

#include <string>

namespace incus {

// A CLOEXEC, non-blocking stream socket connected (or connecting) to "@name"
// (no leading '@'). Returns the fd, or -1 with *err set: EINVAL for a name
// that is empty, over 107 bytes or holds a NUL; else socket(2)/connect(2)'s
// errno (EAGAIN: the listener's backlog is full). *syscall names the call.
int ConnectAbstract(const std::string& name, int* err, const char** syscall);

}  // namespace incus

#endif
