/* SPDX-License-Identifier: MIT */
/*
 * Named constants usable in syscall argument expressions, as in minijail
 * (which generates its table from the libc headers). Values come from the
 * system headers at build time, for the native architecture.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>

#include "policy/policy_internal.h"

#define C(x)                                                                                       \
	{                                                                                          \
#x, (uint64_t)(x)                                                                  \
	}

static const struct {
	const char *name;
	uint64_t value;
} constants[] = {
    /* mmap, mprotect, madvise */
    C(PROT_NONE),
    C(PROT_READ),
    C(PROT_WRITE),
    C(PROT_EXEC),
    C(PROT_GROWSDOWN),
    C(PROT_GROWSUP),
    C(MAP_SHARED),
    C(MAP_PRIVATE),
    C(MAP_FIXED),
    C(MAP_ANONYMOUS),
    C(MAP_ANON),
    C(MAP_NORESERVE),
    C(MAP_POPULATE),
    C(MAP_STACK),
    C(MAP_GROWSDOWN),
    C(MAP_DENYWRITE),
    C(MAP_FIXED_NOREPLACE),
    C(MADV_NORMAL),
    C(MADV_RANDOM),
    C(MADV_SEQUENTIAL),
    C(MADV_WILLNEED),
    C(MADV_DONTNEED),
    C(MADV_FREE),
    C(MADV_DONTFORK),
    C(MADV_HUGEPAGE),
    C(MADV_NOHUGEPAGE),
    /* open, fcntl */
    C(O_RDONLY),
    C(O_WRONLY),
    C(O_RDWR),
    C(O_ACCMODE),
    C(O_CREAT),
    C(O_EXCL),
    C(O_NOCTTY),
    C(O_TRUNC),
    C(O_APPEND),
    C(O_NONBLOCK),
    C(O_DSYNC),
    C(O_SYNC),
    C(O_DIRECTORY),
    C(O_NOFOLLOW),
    C(O_CLOEXEC),
    C(O_LARGEFILE),
    C(O_PATH),
    C(O_TMPFILE),
    C(O_NOATIME),
    C(F_DUPFD),
    C(F_DUPFD_CLOEXEC),
    C(F_GETFD),
    C(F_SETFD),
    C(F_GETFL),
    C(F_SETFL),
    C(F_GETLK),
    C(F_SETLK),
    C(F_SETLKW),
    C(F_ADD_SEALS),
    C(F_GET_SEALS),
    C(FD_CLOEXEC),
    C(AT_FDCWD),
    C(AT_EMPTY_PATH),
    C(AT_SYMLINK_NOFOLLOW),
    C(AT_REMOVEDIR),
    /* sockets */
    C(AF_UNSPEC),
    C(AF_UNIX),
    C(AF_LOCAL),
    C(AF_INET),
    C(AF_INET6),
    C(AF_NETLINK),
    C(AF_PACKET),
    C(SOCK_STREAM),
    C(SOCK_DGRAM),
    C(SOCK_SEQPACKET),
    C(SOCK_RAW),
    C(SOCK_NONBLOCK),
    C(SOCK_CLOEXEC),
    C(SOL_SOCKET),
    C(SO_PEERCRED),
    C(SO_RCVBUF),
    C(SO_SNDBUF),
    C(MSG_NOSIGNAL),
    C(MSG_DONTWAIT),
    C(MSG_CMSG_CLOEXEC),
    /* ioctl */
    C(TCGETS),
    C(TCSETS),
    C(TIOCGWINSZ),
    C(TIOCSWINSZ),
    C(TIOCSTI),
    C(TIOCLINUX),
    C(FIONREAD),
    C(FIONBIO),
    C(FIOCLEX),
    C(FIONCLEX),
    /* clone */
    C(CLONE_VM),
    C(CLONE_FS),
    C(CLONE_FILES),
    C(CLONE_SIGHAND),
    C(CLONE_PTRACE),
    C(CLONE_VFORK),
    C(CLONE_PARENT),
    C(CLONE_THREAD),
    C(CLONE_NEWNS),
    C(CLONE_SYSVSEM),
    C(CLONE_SETTLS),
    C(CLONE_PARENT_SETTID),
    C(CLONE_CHILD_CLEARTID),
    C(CLONE_CHILD_SETTID),
    C(CLONE_NEWCGROUP),
    C(CLONE_NEWUTS),
    C(CLONE_NEWIPC),
    C(CLONE_NEWUSER),
    C(CLONE_NEWPID),
    C(CLONE_NEWNET),
    C(CLONE_IO),
    C(SIGCHLD),
    /* futex */
    C(FUTEX_WAIT),
    C(FUTEX_WAKE),
    C(FUTEX_REQUEUE),
    C(FUTEX_CMP_REQUEUE),
    C(FUTEX_WAKE_OP),
    C(FUTEX_WAIT_BITSET),
    C(FUTEX_WAKE_BITSET),
    C(FUTEX_PRIVATE_FLAG),
    C(FUTEX_CLOCK_REALTIME),
    /* prctl */
    C(PR_SET_NAME),
    C(PR_GET_NAME),
    C(PR_SET_PDEATHSIG),
    C(PR_GET_DUMPABLE),
    C(PR_SET_DUMPABLE),
    C(PR_SET_NO_NEW_PRIVS),
    C(PR_GET_NO_NEW_PRIVS),
    /* signals */
    C(SIGHUP),
    C(SIGINT),
    C(SIGQUIT),
    C(SIGKILL),
    C(SIGTERM),
    C(SIGUSR1),
    C(SIGUSR2),
    C(SIGPIPE),
    C(SIGALRM),
    C(SIGSTOP),
    C(SIGCONT),
    C(SIG_BLOCK),
    C(SIG_UNBLOCK),
    C(SIG_SETMASK),
    /* wait */
    C(WNOHANG),
    C(WUNTRACED),
    C(WEXITED),
    C(WSTOPPED),
    C(WCONTINUED),
    C(WNOWAIT),
    C(P_ALL),
    C(P_PID),
    C(P_PGID),
};

int bx_policy_constant(const char *name, size_t len, uint64_t *out)
{
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
		if (strlen(constants[i].name) == len && memcmp(constants[i].name, name, len) == 0) {
			*out = constants[i].value;
			return 0;
		}
	}
	/* errno names, from the C library (glibc >= 2.32). */
	if (len > 1 && len < 32 && name[0] == 'E') {
		for (int e = 1; e < 4096; e++) {
			const char *n = strerrorname_np(e);

			if (n && strlen(n) == len && memcmp(n, name, len) == 0) {
				*out = (uint64_t)e;
				return 0;
			}
		}
	}
	return -ENOENT;
}

const char *bx_policy_errno_name(uint32_t value)
{
	return value < 4096 ? strerrorname_np((int)value) : NULL;
}
