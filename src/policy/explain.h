/* SPDX-License-Identifier: MIT */
/*
 * explain: a system call the filter refused, said the way a policy author
 * reads it (issue #13, "violations name the syscall"): its name from the
 * number, its first arguments with the named constants of the well-known
 * positions (socket's family and type, prctl's option, ioctl's request,
 * fcntl's command, clone's flags, mmap's protection...), the smallest rule
 * that allows it, and the @groups that allow it. Pure: the numbers come from
 * the sandbox (init read them from the kernel, but everything that crossed
 * the sandbox's boundary is treated as hostile): every value is printed as a
 * number or as one of this build's own constant names, never as bytes that
 * came from there.
 */
#ifndef BX_POLICY_EXPLAIN_H
#define BX_POLICY_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

/* Sizes that hold every text below (the call is cut with "..." beyond it). */
#define BX_EXPLAIN_CALL_MAX 160
#define BX_EXPLAIN_RULE_MAX 160
#define BX_EXPLAIN_TEXT_MAX 512

/*
 * "socket(AF_INET, SOCK_STREAM, 0)", "ioctl(3, TIOCSTI, 0x7ffc...)", or for a
 * number no table knows "syscall 999(0x1, 0x2, 0x3, ...)". name (may be NULL)
 * receives the bare name ("socket", or "" when unknown). Always terminated.
 */
void bx_explain_call(int nr, const uint64_t args[6], char *buf, size_t len, char *name,
		     size_t name_len);

/*
 * The smallest policy line that allows this call, in the policy syntax:
 * "socket: arg0 == AF_INET", "ioctl: arg1 == TCGETS", "getppid: 1". Empty when
 * the number has no name (a line could not name it). Parses as a policy line
 * that allows exactly this call at its key argument (tests check that).
 */
void bx_explain_rule(int nr, const uint64_t args[6], char *buf, size_t len);

/*
 * The @groups (groups.c) of which some member allows this very call (its
 * arguments included: socket(AF_UNIX) is in @network-unix, socket(AF_INET) in
 * none). Stores up to max names (static text) and returns how many.
 */
size_t bx_explain_groups(int nr, const uint64_t args[6], const char **out, size_t max);

/*
 * The whole sentence: "socket(AF_INET, SOCK_STREAM, 0) is not allowed by
 * greet.policy; to allow it add 'socket: arg0 == AF_INET'" (", or '@group'"
 * for each group that allows it). policy: the policy's label (its file's
 * base name, or its name); printed with a precision limit. arch_ok false:
 * the call came through another ABI, and nothing is decoded.
 */
void bx_explain_violation(const char *policy, int nr, int arch_ok, const uint64_t args[6],
			  char *buf, size_t len);

#endif
