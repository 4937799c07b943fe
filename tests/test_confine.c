/* SPDX-License-Identifier: MIT */
/*
 * Hostile handlers that really try to escape, in real confined workers.
 * Each handler attempts one thing and prints what happened ("name=ERRNO");
 * the test asserts the exact denial. Attempts that the default filter kills
 * outright are asserted as deaths by SIGSYS. Some attempts run under a
 * looser test policy (the filter allows the call) so that the layer behind
 * the filter is proven too: the network namespace, landlock, the view.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "policy/policy.h"

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

/* Prints "what=OK" or "what=ERRNO" for a syscall-like result. */
static void report(bx_job *job, const char *what, long r)
{
	bx_job_printf(job, "%s=%s\n", what, r < 0 ? ename(errno) : "OK");
}

/* ---------------------------------------------------------------- hostile handlers */

static int h_ptrace(bx_job *job, void *ctx)
{
	(void)ctx;
	report(job, "traceme", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	report(job, "attach", ptrace(PTRACE_ATTACH, atoi(bx_job_arg(job, 0)), NULL, NULL));
	return 0;
}

static int h_mount(bx_job *job, void *ctx)
{
	(void)ctx;
	report(job, "mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	report(job, "umount", umount2("/usr", MNT_DETACH));
	report(job, "chroot", chroot("/tmp"));
	report(job, "pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
	return 0;
}

static int h_namespaces(bx_job *job, void *ctx)
{
	struct clone_args ca = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};

	(void)ctx;
	report(job, "unshare", unshare(CLONE_NEWUSER));
	report(job, "unshare_net", unshare(CLONE_NEWNET));
	report(job, "clone", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	report(job, "clone3", syscall(SYS_clone3, &ca, sizeof(ca)));
	report(job, "setns", syscall(SYS_setns, 0, CLONE_NEWNET));
	return 0;
}

/* The 32-bit ABI through int 0x80: getpid (20 on i386). The filter kills. */
static int h_int80(bx_job *job, void *ctx)
{
	long ret = 20;

	(void)job;
	(void)ctx;
	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	return 0;
}

static int h_x32(bx_job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	syscall(0x40000000 | SYS_getpid);
	return 0;
}

static int h_host_files(bx_job *job, void *ctx)
{
	(void)ctx;
	report(job, "passwd", open("/etc/passwd", O_RDONLY | O_CLOEXEC));
	report(job, "root", open("/root", O_RDONLY | O_CLOEXEC));
	report(job, "home", open("/home", O_RDONLY | O_CLOEXEC));
	report(job, "write_usr", open("/usr/bin/beambox-x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	report(job, "write_bin", open("/usr/bin/true", O_WRONLY | O_CLOEXEC));
	report(job, "exe_write", open("/proc/self/exe", O_WRONLY | O_CLOEXEC));
	report(job, "oldroot", open("/oldroot", O_RDONLY | O_CLOEXEC));
	report(job, "tmp_write", open("/tmp/ok", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	return 0;
}

static int h_tcp(bx_job *job, void *ctx)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)atoi(bx_job_arg(job, 0)))};
	int fd;

	(void)ctx;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	report(job, "socket", fd);
	if (fd >= 0)
		report(job, "connect", connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	return 0;
}

static int h_abstract(bx_job *job, void *ctx)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *name = bx_job_arg(job, 0);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)ctx;
	memcpy(sa.sun_path + 1, name, strlen(name));
	report(job, "socket", fd);
	if (fd >= 0)
		report(job, "connect",
		       connect(
			   fd, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))));
	return 0;
}

static int h_signal(bx_job *job, void *ctx)
{
	(void)ctx;
	report(job, "kill", kill(atoi(bx_job_arg(job, 0)), SIGTERM));
	return 0;
}

static int h_kernel_surface(bx_job *job, void *ctx)
{
	char c = 'x';

	(void)ctx;
	report(job, "io_uring", syscall(SYS_io_uring_setup, 8, calloc(1, 128)));
	report(job, "bpf", syscall(SYS_bpf, 0, NULL, 0));
	report(job, "userfaultfd", syscall(SYS_userfaultfd, 0));
	report(job, "keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
	report(job, "perf", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	report(job, "tiocsti", ioctl(0, TIOCSTI, &c));
	report(job, "tiocsti_hi", syscall(SYS_ioctl, 0, 0xdeadbeef00000000UL | TIOCSTI, &c));
	report(job, "personality", syscall(SYS_personality, 0x0008));
	return 0;
}

static int h_secrets(bx_job *job, void *ctx)
{
	struct stat st;
	char buf[4096] = {0};
	int fd;

	(void)ctx;
	bx_job_printf(job, "env=%s\n", getenv("BX_TEST_SECRET") ? "LEAKED" : "absent");
	fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		bx_job_printf(job, "self_environ=%s\n",
			      n > 0 && memmem(buf, (size_t)n, "BX_TEST_SECRET", 14) ? "LEAKED"
										    : "clean");
		close(fd);
	} else {
		report(job, "self_environ", -1);
	}
	snprintf(buf, sizeof(buf), "/proc/%s/environ", bx_job_arg(job, 0));
	report(job, "parent_environ", open(buf, O_RDONLY | O_CLOEXEC));
	report(job, "inherited_fd", fstat(atoi(bx_job_arg(job, 1)), &st));
	return 0;
}

static int h_forkbomb(bx_job *job, void *ctx)
{
	int made = 0, err = 0;

	(void)ctx;
	for (int i = 0; i < 10000; i++) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			pause();
			_exit(0);
		}
		made++;
	}
	/* As pid 1, signal everything else in the namespace, and reap it. */
	kill(-1, SIGKILL);
	while (wait(NULL) > 0)
		;
	bx_job_printf(job, "fork=%s made<=64:%s\n", err ? ename(err) : "OK",
		      made < 64 ? "yes" : "no");
	return 0;
}

static int h_memory(bx_job *job, void *ctx)
{
	void *p = mmap(NULL, 2ul << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)ctx;
	report(job, "mmap_2g", p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED)
		munmap(p, 2ul << 30);
	return 0;
}

static int h_identity(bx_job *job, void *ctx)
{
	struct utsname u;

	(void)ctx;
	uname(&u);
	bx_job_printf(job, "pid=%d uid=%d host=%s\n", getpid(), (int)getuid(), u.nodename);
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	static const struct {
		const char *name;
		bx_handler_fn fn;
	} table[] = {
	    {"ptrace", h_ptrace},
	    {"mount", h_mount},
	    {"namespaces", h_namespaces},
	    {"int80", h_int80},
	    {"x32", h_x32},
	    {"host_files", h_host_files},
	    {"tcp", h_tcp},
	    {"abstract", h_abstract},
	    {"signal", h_signal},
	    {"kernel", h_kernel_surface},
	    {"secrets", h_secrets},
	    {"forkbomb", h_forkbomb},
	    {"memory", h_memory},
	    {"identity", h_identity},
	};
	(void)ctx;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int r = bx_engine_register(eng, table[i].name, table[i].fn, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static bx_worker *spawn_started(const struct bx_policy *p, int start)
{
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_error err;

	bx_test_spawn_opts(&opts);
	opts.policy = p;
	opts.start = start;
	if (bx_spawn(&opts, &w, &err) < 0)
		fail_msg("bx_spawn: %s", err.text);
	return w;
}

static bx_worker *spawn_with(const struct bx_policy *p)
{
	return spawn_started(p, BX_SPAWN_START_AUTO);
}

/* Runs a handler; returns bx_job_run's result and its stdout (caller frees). */
static int run(bx_worker *w, bx_error *err, char **out, const char *name, const char *arg0,
	       const char *arg1)
{
	bx_job *job = NULL;
	int r;

	assert_int_equal(bx_job_new(bx_worker_engine(w), name, &job), 0);
	if (arg0)
		assert_int_equal(bx_job_add_arg(job, arg0), 0);
	if (arg1)
		assert_int_equal(bx_job_add_arg(job, arg1), 0);
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	bx_error_clear(err);
	r = bx_job_run(job, err);
	*out = strdup(bx_job_output(job, 1, NULL, NULL));
	bx_job_free(job);
	return r;
}

/* Runs name under the default policy, started as start says, and compares its report with want. */
static void expect_output_started(int start, const char *name, const char *arg0, const char *arg1,
				  const char *want)
{
	bx_worker *w = spawn_started(NULL, start);
	bx_error err;
	char *out = NULL;
	int r = run(w, &err, &out, name, arg0, arg1);

	if (r != 0)
		fail_msg("%s: %d %s", name, r, err.text);
	if (strcmp(out, want) != 0)
		fail_msg("%s (start %d):\n got: %s\nwant: %s", name, start, out, want);
	free(out);
	bx_worker_free(w);
}

static void expect_output(const char *name, const char *arg0, const char *arg1, const char *want)
{
	expect_output_started(BX_SPAWN_START_AUTO, name, arg0, arg1, want);
}

/*
 * Runs name and expects the worker to be killed by SIGSYS, the parent
 * surviving: by the kernel, or by its init for a refused call it named
 * ("stopped: CALL is not allowed by ...", test_violation.c); either way the
 * wait status is SIGSYS.
 */
static void expect_sigsys(const struct bx_policy *p, const char *name, const char *arg0)
{
	bx_worker *w = spawn_with(p);
	bx_error err;
	char *out = NULL;
	char want[96], named[96];
	int r = run(w, &err, &out, name, arg0, NULL), st = 0;

	snprintf(want, sizeof(want), "worker %d killed by signal 31 (SIGSYS)",
		 (int)bx_worker_pid(w));
	snprintf(named, sizeof(named), "worker %d stopped: ", (int)bx_worker_pid(w));
	if (r != -ECHILD || (!strstr(err.text, want) && !strstr(err.text, named)))
		fail_msg("%s: got %d '%s', want -ECHILD '%s'", name, r, err.text, want);
	assert_int_equal(bx_worker_wait(w, 5000, &st), 0);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	free(out);
	bx_worker_free(w);
}

static struct bx_policy *default_policy(void)
{
	struct bx_policy *p = NULL;

	assert_int_equal(bx_policy_default(&p), 0);
	return p;
}

static int teardown(void **state)
{
	/* No child but the zygote (see tests_common.h). */
	if (bx_test_stray_child() != 0) {
		fprintf(stderr, "a child process is left\n");
		return -1;
	}
	return bx_test_fd_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, bx_test_fd_setup, teardown)

/* ---------------------------------------------------------------- tests */

static void test_ptrace_denied(void **state)
{
	char pid[16];
	(void)state;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	expect_output("ptrace", pid, NULL, "traceme=EPERM\nattach=EPERM\n");
}

static void test_mount_denied(void **state)
{
	(void)state;
	expect_output("mount", NULL, NULL,
		      "mount=EPERM\numount=EPERM\nchroot=EPERM\npivot_root=EPERM\n");
}

static void test_namespaces_denied(void **state)
{
	(void)state;
	expect_output(
	    "namespaces", NULL, NULL,
	    "unshare=EPERM\nunshare_net=EPERM\nclone=EPERM\nclone3=ENOSYS\nsetns=EPERM\n");
}

static void test_foreign_abis_kill(void **state)
{
	(void)state;
	expect_sigsys(NULL, "int80", NULL);
	expect_sigsys(NULL, "x32", NULL);
}

static void test_host_files_invisible(void **state)
{
	(void)state;
	expect_output("host_files", NULL, NULL,
		      "passwd=ENOENT\nroot=ENOENT\nhome=ENOENT\nwrite_usr=EROFS\nwrite_bin=EACCES\n"
		      "exe_write=ETXTBSY\noldroot=ENOENT\ntmp_write=OK\n");
}

/* A TCP listener on the host's loopback, and the port it got. */
static int listen_tcp(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_network(void **state)
{
	int port, lfd = listen_tcp(&port);
	char portbuf[16], *out = NULL;
	struct bx_policy *p = default_policy();
	bx_worker *w;
	bx_error err;
	(void)state;

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	/* Default policy: socket() is not allowed at all. */
	expect_sigsys(NULL, "tcp", portbuf);

	/* Filter opened up: landlock refuses the TCP connect. */
	assert_int_equal(bx_policy_allow(p, "socket"), 0);
	assert_int_equal(bx_policy_allow(p, "connect"), 0);
	w = spawn_with(p);
	assert_int_equal(run(w, &err, &out, "tcp", portbuf, NULL), 0);
	assert_string_equal(out, "socket=OK\nconnect=EACCES\n");
	free(out);
	bx_worker_free(w);

	/* Landlock off too: the network namespace has no route to the host. */
	p->landlock = BX_NEED_OFF;
	w = spawn_with(p);
	assert_int_equal(run(w, &err, &out, "tcp", portbuf, NULL), 0);
	assert_string_equal(out, "socket=OK\nconnect=ENETUNREACH\n");
	free(out);
	bx_worker_free(w);
	bx_policy_free(p);
	close(lfd);
}

static void test_abstract_unix(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[64], *out = NULL;
	struct bx_policy *p = default_policy();
	bx_worker *w;
	bx_error err;
	int lfd;
	(void)state;

	snprintf(name, sizeof(name), "beambox-test-%d", (int)getpid());
	memcpy(sa.sun_path + 1, name, strlen(name));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(
	    bind(lfd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))),
	    0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(bx_policy_allow(p, "socket"), 0);
	assert_int_equal(bx_policy_allow(p, "connect"), 0);
	w = spawn_with(p);
	/* Abstract names live in the network namespace: the host's is not there. */
	assert_int_equal(run(w, &err, &out, "abstract", name, NULL), 0);
	assert_string_equal(out, "socket=OK\nconnect=ECONNREFUSED\n");
	free(out);
	bx_worker_free(w);
	bx_policy_free(p);
	close(lfd);
}

static void test_host_processes_invisible(void **state)
{
	char pid[16];
	(void)state;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	expect_output("signal", pid, NULL, "kill=ESRCH\n");
}

static void test_kernel_surface_denied(void **state)
{
	(void)state;
	expect_output("kernel", NULL, NULL,
		      "io_uring=EPERM\nbpf=EPERM\nuserfaultfd=EPERM\nkeyctl=EPERM\nperf=EPERM\n"
		      "tiocsti=EPERM\ntiocsti_hi=EPERM\npersonality=EPERM\n");
}

static void test_no_secrets_leak(void **state)
{
	int fd = open("/proc/self/status", O_RDONLY); /* no O_CLOEXEC on purpose */
	int high = fcntl(fd, F_DUPFD, 200);
	char pid[16], fdnum[16];
	(void)state;

	setenv("BX_TEST_SECRET", "hunter2", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(fdnum, sizeof(fdnum), "%d", high);
	/*
	 * Its own environment it may read or not (it is clean either way): a
	 * cold worker's memory belongs to its own user namespace, where nobody is
	 * root, so its /proc files are root's; a zygote's worker's to the
	 * zygote's namespace, the host's for a root application (root's again)
	 * or an unprivileged application's own, where the application's uid is
	 * root (the worker's own uid: readable).
	 */
	expect_output_started(
	    BX_SPAWN_START_COLD, "secrets", pid, fdnum,
	    "env=absent\nself_environ=EACCES\nparent_environ=ENOENT\ninherited_fd=EBADF\n");
	expect_output_started(
	    BX_SPAWN_START_ZYGOTE, "secrets", pid, fdnum,
	    geteuid() == 0
		? "env=absent\nself_environ=EACCES\nparent_environ=ENOENT\ninherited_fd=EBADF\n"
		: "env=absent\nself_environ=clean\nparent_environ=ENOENT\ninherited_fd=EBADF\n");
	unsetenv("BX_TEST_SECRET");
	close(high);
	close(fd);
}

static void test_forkbomb_bounded(void **state)
{
	(void)state;
	expect_output("forkbomb", NULL, NULL, "fork=EAGAIN made<=64:yes\n");
}

static void test_memory_bounded(void **state)
{
#if BX_TEST_ASAN
	(void)state;
	bx_test_skip("ASan reserves terabytes of shadow memory, so sanitized builds set no "
		     "address-space limit; the plain build runs this test");
#else
	(void)state;
	expect_output("memory", NULL, NULL, "mmap_2g=ENOMEM\n");
#endif
}

static void test_identity_and_outside_view(void **state)
{
	bx_worker *w = spawn_with(NULL);
	pid_t pid = bx_worker_serving_pid(w);
	char path[64], line[256], want[64], *out = NULL;
	bx_error err;
	FILE *f;
	int checks = 0;
	unsigned host_uid = (unsigned)geteuid();
	(void)state;

	/* A root parent's worker has a dynamic uid of its own (the same number inside). */
	if (geteuid() == 0 && (sscanf(bx_worker_report(w), "identity: uid %u", &host_uid) != 1 ||
			       host_uid < 0x70000000u || host_uid > 0x7000ffffu))
		fail_msg("not a dynamic uid: %s", bx_worker_report(w));
	/* Handlers run as pid 2, under the namespace's init. */
	assert_int_equal(run(w, &err, &out, "identity", NULL, NULL), 0);
	snprintf(want, sizeof(want), "pid=2 uid=%u host=beambox\n", host_uid);
	assert_string_equal(out, want);
	free(out);

	/* From outside: the serving process's status and namespaces. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned u;
		if (strncmp(line, "NoNewPrivs:", 11) == 0)
			assert_string_equal(line, "NoNewPrivs:\t1\n"), checks++;
		if (strncmp(line, "Seccomp:", 8) == 0)
			assert_string_equal(line, "Seccomp:\t2\n"), checks++;
		if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0 ||
		    strncmp(line, "CapBnd:", 7) == 0)
			assert_non_null(strstr(line, "\t0000000000000000")), checks++;
		if (sscanf(line, "Uid:\t%u", &u) == 1)
			assert_int_equal(u, host_uid), checks++;
	}
	fclose(f);
	assert_int_equal(checks, 6);
	static const char *const ns[] = {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		struct stat a, b;
		char mine[64];

		snprintf(mine, sizeof(mine), "/proc/self/ns/%s", ns[i]);
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns[i]);
		assert_int_equal(stat(mine, &a), 0);
		assert_int_equal(stat(path, &b), 0);
		if (a.st_ino == b.st_ino)
			fail_msg("the worker shares our %s namespace", ns[i]);
	}
	bx_worker_free(w);
}

/* Each shipped policy drives a real worker through a job. */
static void test_shipped_policies(void **state)
{
	/* untrusted.policy is for programs (beambox exec), not workers: ctest
	 * exec_untrusted_policy. */
	static const char *const files[] = {"default.policy", "greet.policy"};
	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512], *out = NULL;
		struct bx_policy *p = NULL;
		bx_worker *w;
		bx_error err;

		snprintf(path, sizeof(path), "%s/../../policies/%s", BX_TEST_DATA_DIR, files[i]);
		if (bx_policy_load_file(path, &p, &err) < 0)
			fail_msg("%s: %s", path, err.text);
		w = spawn_with(p);
		if (run(w, &err, &out, "identity", NULL, NULL) != 0)
			fail_msg("%s: %s", files[i], err.text);
		assert_non_null(strstr(out, "pid=2 "));
		free(out);
		bx_worker_free(w);
		bx_policy_free(p);
	}
}

static void test_fail_closed(void **state)
{
	struct bx_policy *p = default_policy();
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_error err;
	(void)state;

	/* A required bind that does not exist: the worker never serves. */
	p->binds[p->nbinds].src = strdup("/nonexistent-beambox");
	p->binds[p->nbinds].dst = strdup("/data");
	p->binds[p->nbinds].optional = false;
	p->nbinds++;
	bx_test_spawn_opts(&opts);
	opts.policy = p;
	assert_int_equal(bx_spawn(&opts, &w, &err), -ECHILD);
	assert_non_null(strstr(err.text, "fs: bind source /nonexistent-beambox: No such file"));
	assert_null(w);
	bx_policy_free(p);
}

int main(void)
{
	bx_spawn_init(install, NULL);

	/* The sealed program copy (cold starts) is made once; make it before fd counting starts. */
	bx_worker *warm = spawn_started(NULL, BX_SPAWN_START_COLD);
	bx_worker_free(warm);

	const struct CMUnitTest tests[] = {
	    T(test_ptrace_denied),
	    T(test_mount_denied),
	    T(test_namespaces_denied),
	    T(test_foreign_abis_kill),
	    T(test_host_files_invisible),
	    T(test_network),
	    T(test_abstract_unix),
	    T(test_host_processes_invisible),
	    T(test_kernel_surface_denied),
	    T(test_no_secrets_leak),
	    T(test_forkbomb_bounded),
	    T(test_memory_bounded),
	    T(test_identity_and_outside_view),
	    T(test_shipped_policies),
	    T(test_fail_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
