/* SPDX-License-Identifier: MIT */
/*
 * bx_relay_stdio_fork: a process whose stdio is a terminal hands its child
 * pipes instead, and relays. The terminal is a real pseudo-terminal; the
 * "program" is the forked child, which attacks the terminal the way issue
 * #11 (4) describes and reads a line typed on it.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <beambox/relay.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static bool open_pty(int *master, int *slave)
{
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	char *name;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0 ||
	    !(name = ptsname(*master))) {
		if (*master >= 0)
			close(*master);
		return false;
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0 || ioctl(*slave, TIOCSWINSZ, &ws) < 0) {
		close(*master);
		if (*slave >= 0)
			close(*slave);
		return false;
	}
	return true;
}

static const char *errname(int r)
{
	if (r == 0)
		return "ok";
	return errno == ENOTTY ? "ENOTTY" : strerror(errno);
}

/* The test's child: stdio on the terminal, relays, exits with 0 if the program's status was want.
 */
static pid_t start(int slave, int flags, int want, void (*program)(void))
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int status = -1, r;

		for (int i = 0; i < 3; i++)
			if (dup2(slave, i) < 0)
				_exit(2);
		r = bx_relay_stdio_fork(flags, &status, NULL);
		if (r == 0) {
			program();
			_exit(99);
		}
		if (r < 0)
			_exit(3);
		dprintf(1, "relay: status %d\n", status);
		_exit(status == want ? 0 : 4);
	}
	return pid;
}

/* Reads what the terminal shows until pid exits (and a little after); returns its exit code. */
static int collect(int master, pid_t pid, char *buf, size_t len, int64_t *took_ms)
{
	struct timespec t0, t1;
	size_t got = 0;
	int status = 0, quiet = 0;
	bool done = false;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (quiet < 3) {
		struct pollfd p = {.fd = master, .events = POLLIN};

		if (!done && waitpid(pid, &status, WNOHANG) == pid) {
			done = true;
			clock_gettime(CLOCK_MONOTONIC, &t1);
		}
		if (poll(&p, 1, 100) > 0 && got + 1 < len) {
			ssize_t n = read(master, buf + got, len - 1 - got);

			if (n > 0) {
				got += (size_t)n;
				continue;
			}
		}
		if (done)
			quiet++;
	}
	buf[got] = '\0';
	*took_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---------------------------------------------------------------- programs */

static void attack_terminal(void)
{
	struct winsize ws = {.ws_row = 11, .ws_col = 22};
	struct termios t;
	char line[64] = "";
	const char *e1, *e2, *e3;
	ssize_t n;
	int r;

	r = ioctl(1, TIOCSWINSZ, &ws);
	e1 = errname(r);
	r = tcgetattr(1, &t);
	if (r == 0) {
		t.c_lflag &= ~(tcflag_t)ECHO;
		t.c_cc[VINTR] = 'a';
		r = tcsetattr(1, TCSANOW, &t);
	}
	e2 = errname(r);
	e3 = errname(tcflow(1, TCOOFF));
	n = read(0, line, sizeof(line) - 1);
	dprintf(1, "program: isatty %d%d%d; TIOCSWINSZ %s; tcsetattr %s; TCOOFF %s; read %zd: %s",
		isatty(0), isatty(1), isatty(2), e1, e2, e3, n, n > 0 ? line : "\n");
	_exit(7);
}

static void wait_for_signal(void)
{
	dprintf(1, "program: ready\n");
	for (;;)
		pause();
}

static void leave_a_grandchild(void)
{
	pid_t gc = fork();

	if (gc == 0) {
		/* Holds the relay's stdout pipe open for long after its parent is gone. */
		sleep(60);
		_exit(0);
	}
	dprintf(1, "program: grandchild %d\n", (int)gc);
	_exit(5);
}

static void unforked(void)
{
	_exit(0);
}

/* ---------------------------------------------------------------- tests */

static void test_relay_keeps_the_terminal(void **state)
{
	int master, slave, code;
	struct termios before, after;
	struct winsize ws;
	char out[2048];
	int64_t took;
	pid_t pid;

	(void)state;
	if (!open_pty(&master, &slave))
		bx_test_skip("no pseudo-terminal here (posix_openpt: %s)", strerror(errno));
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_int_equal(write(master, "typed\n", 6), 6);
	pid = start(slave, BX_RELAY_STDIO | BX_RELAY_TTYS_ONLY, 7, attack_terminal);
	code = collect(master, pid, out, sizeof(out), &took);
	print_message("the terminal shows:\n%s", out);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "program: isatty 000; TIOCSWINSZ ENOTTY; tcsetattr ENOTTY; "
				    "TCOOFF ENOTTY; read 6: typed"));
	assert_non_null(strstr(out, "relay: status 7"));
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(before.c_lflag, after.c_lflag);
	assert_memory_equal(before.c_cc, after.c_cc, sizeof(before.c_cc));
	assert_int_equal(ioctl(slave, TIOCGWINSZ, &ws), 0);
	assert_int_equal(ws.ws_row, 24);
	close(slave);
	close(master);
}

/* A signal to the relay (Ctrl-C, kill) reaches the program. */
static void test_relay_forwards_signals(void **state)
{
	int master, slave, code;
	char out[2048] = "";
	size_t got = 0;
	int64_t took;
	pid_t pid;

	(void)state;
	if (!open_pty(&master, &slave))
		bx_test_skip("no pseudo-terminal here (posix_openpt: %s)", strerror(errno));
	pid = start(slave, BX_RELAY_STDIO, 128 + SIGTERM, wait_for_signal);
	while (!strstr(out, "program: ready")) {
		ssize_t n = read(master, out + got, sizeof(out) - 1 - got);

		assert_true(n > 0);
		got += (size_t)n;
		out[got] = '\0';
	}
	assert_int_equal(kill(pid, SIGTERM), 0);
	code = collect(master, pid, out, sizeof(out), &took);
	print_message("the terminal shows:\n%s", out);
	assert_int_equal(code, 0); /* the program died of SIGTERM: status 143 */
	close(slave);
	close(master);
}

/* Output held open by a grandchild does not hold the relay past its grace. */
static void test_relay_ends_after_the_child(void **state)
{
	int master, slave, code, gc = 0;
	char out[2048];
	const char *p;
	int64_t took;
	pid_t pid;

	(void)state;
	if (!open_pty(&master, &slave))
		bx_test_skip("no pseudo-terminal here (posix_openpt: %s)", strerror(errno));
	pid = start(slave, BX_RELAY_STDIO, 5, leave_a_grandchild);
	code = collect(master, pid, out, sizeof(out), &took);
	print_message("relay ended %lld ms after it started; the terminal shows:\n%s",
		      (long long)took, out);
	p = strstr(out, "program: grandchild ");
	if (p)
		gc = atoi(p + strlen("program: grandchild "));
	if (gc > 0)
		kill(gc, SIGKILL);
	assert_int_equal(code, 0);
	assert_true(gc > 0);
	assert_true(took < 30000); /* the grandchild would hold it for 60 s */
	close(slave);
	close(master);
}

/* Nothing to relay (no terminal, BX_RELAY_TTYS_ONLY): no fork, the caller goes on. */
static void test_relay_nothing_to_do(void **state)
{
	pid_t pid = fork();
	int status;

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR), st = -1;
		pid_t me = getpid();

		for (int i = 0; i < 3; i++)
			dup2(devnull, i);
		if (bx_relay_stdio_fork(BX_RELAY_STDIO | BX_RELAY_TTYS_ONLY, &st, NULL) != 0)
			_exit(1);
		if (getpid() != me)
			_exit(2);
		unforked();
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(bx_relay_stdio_fork(1 << 9, &status, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_relay_keeps_the_terminal),
	    bx_fd_test(test_relay_forwards_signals),
	    bx_fd_test(test_relay_ends_after_the_child),
	    bx_fd_test(test_relay_nothing_to_do),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
