#ifndef CONTACTS_CLINUX_SHIM_H
#define CONTACTS_CLINUX_SHIM_H
// Linux calls that Glibc's Swift module does not bring in: epoll and eventfd for the connection
// threads (ContactService's ConnectionThreads), and naming a thread (Locking's BackgroundThread).
// Part of glibc: nothing to link.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

/// Names the calling thread (at most 15 bytes are kept), as `ps -L` and `/proc/PID/task/*/comm`
/// show it. prctl is variadic, so Swift cannot call it directly.
static inline int contacts_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}
#endif
