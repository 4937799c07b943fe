/* SPDX-License-Identifier: MIT */
/*
 * explain: a refused system call in the policy's words (explain.h). The
 * names of the values come from this build's generated constants table
 * (gen_tables.cmake) through curated lists per argument position, so that a
 * value with several names gets the one a policy author writes (F_GETFD, not
 * F_LOCK or F_SEAL_SEAL), and the rule printed parses back as a policy line.
 */
#define _GNU_SOURCE
#include "policy/explain.h"

#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "policy/parse_internal.h"
#include "policy/policy_internal.h"
#include "policy/tables.h"

/* How an argument is shown. */
enum shape {
	A_HEX = 0, /* a number in hex (0 as "0"): pointers, flags nobody names */
	A_INT,	   /* an int: its low 32 bits, signed */
	A_SIZE,	   /* an unsigned decimal */
	A_DIRFD,   /* AT_FDCWD or an int */
	A_FAMILY,  /* AF_* */
	A_SOCKTYPE,
	A_PRCTL,
	A_IOCTL,
	A_FCNTL,
	A_CLONE,
	A_PROT,
	A_MAP,
	A_OPEN,
	A_SIGNAL,
	A_MADV,
	A_PERSONA,
};

struct signature {
	const char *name;
	unsigned char nargs;
	unsigned char shape[6];
	signed char key; /* the argument the smallest rule compares, or -1 */
};

/* The syscalls decoded argument by argument; any other shows three in hex. */
static const struct signature sigs[] = {
    {"socket", 3, {A_FAMILY, A_SOCKTYPE, A_INT}, 0},
    {"socketpair", 4, {A_FAMILY, A_SOCKTYPE, A_INT, A_HEX}, 0},
    {"prctl", 5, {A_PRCTL, A_HEX, A_HEX, A_HEX, A_HEX}, 0},
    {"ioctl", 3, {A_INT, A_IOCTL, A_HEX}, 1},
    {"fcntl", 3, {A_INT, A_FCNTL, A_HEX}, 1},
    {"clone", 5, {A_CLONE, A_HEX, A_HEX, A_HEX, A_HEX}, 0},
    {"unshare", 1, {A_CLONE}, 0},
    {"mmap", 6, {A_HEX, A_SIZE, A_PROT, A_MAP, A_INT, A_HEX}, 2},
    {"mprotect", 3, {A_HEX, A_SIZE, A_PROT}, 2},
    {"pkey_mprotect", 4, {A_HEX, A_SIZE, A_PROT, A_INT}, 2},
    {"madvise", 3, {A_HEX, A_SIZE, A_MADV}, 2},
    {"open", 3, {A_HEX, A_OPEN, A_HEX}, 1},
    {"openat", 4, {A_DIRFD, A_HEX, A_OPEN, A_HEX}, 2},
    {"kill", 2, {A_INT, A_SIGNAL}, -1},
    {"tkill", 2, {A_INT, A_SIGNAL}, -1},
    {"tgkill", 3, {A_INT, A_INT, A_SIGNAL}, -1},
    {"personality", 1, {A_PERSONA}, 0},
    {"read", 3, {A_INT, A_HEX, A_SIZE}, -1},
    {"write", 3, {A_INT, A_HEX, A_SIZE}, -1},
    {"close", 1, {A_INT}, -1},
    {"dup", 1, {A_INT}, -1},
    {"dup2", 2, {A_INT, A_INT}, -1},
    {"dup3", 3, {A_INT, A_INT, A_OPEN}, -1},
    {"connect", 3, {A_INT, A_HEX, A_SIZE}, -1},
    {"bind", 3, {A_INT, A_HEX, A_SIZE}, -1},
    {"listen", 2, {A_INT, A_INT}, -1},
    {"sendmsg", 3, {A_INT, A_HEX, A_HEX}, -1},
    {"recvmsg", 3, {A_INT, A_HEX, A_HEX}, -1},
    {"execve", 3, {A_HEX, A_HEX, A_HEX}, -1},
    {"execveat", 5, {A_DIRFD, A_HEX, A_HEX, A_HEX, A_HEX}, -1},
    {"wait4", 4, {A_INT, A_HEX, A_HEX, A_HEX}, -1},
    {"unlinkat", 3, {A_DIRFD, A_HEX, A_HEX}, -1},
    {"mkdirat", 3, {A_DIRFD, A_HEX, A_HEX}, -1},
    {"newfstatat", 4, {A_DIRFD, A_HEX, A_HEX, A_HEX}, -1},
    {"getppid", 0, {0}, -1},
    {"getpid", 0, {0}, -1},
    {"gettid", 0, {0}, -1},
};

/* ------------------------------------------------------------------ names of values */

static const char *const socktypes[] = {"SOCK_STREAM",	  "SOCK_DGRAM", "SOCK_RAW",    "SOCK_RDM",
					"SOCK_SEQPACKET", "SOCK_DCCP",	"SOCK_PACKET", NULL};
static const char *const sockflags[] = {"SOCK_NONBLOCK", "SOCK_CLOEXEC", NULL};
static const char *const fcntls[] = {"F_DUPFD",
				     "F_GETFD",
				     "F_SETFD",
				     "F_GETFL",
				     "F_SETFL",
				     "F_GETLK",
				     "F_SETLK",
				     "F_SETLKW",
				     "F_SETOWN",
				     "F_GETOWN",
				     "F_SETSIG",
				     "F_GETSIG",
				     "F_SETOWN_EX",
				     "F_GETOWN_EX",
				     "F_OFD_GETLK",
				     "F_OFD_SETLK",
				     "F_OFD_SETLKW",
				     "F_SETLEASE",
				     "F_GETLEASE",
				     "F_NOTIFY",
				     "F_DUPFD_CLOEXEC",
				     "F_SETPIPE_SZ",
				     "F_GETPIPE_SZ",
				     "F_ADD_SEALS",
				     "F_GET_SEALS",
				     "F_GET_RW_HINT",
				     "F_SET_RW_HINT",
				     "F_GET_FILE_RW_HINT",
				     "F_SET_FILE_RW_HINT",
				     "F_DUPFD_QUERY",
				     NULL};
static const char *const clones[] = {"CLONE_VM",
				     "CLONE_FS",
				     "CLONE_FILES",
				     "CLONE_SIGHAND",
				     "CLONE_PIDFD",
				     "CLONE_PTRACE",
				     "CLONE_VFORK",
				     "CLONE_PARENT",
				     "CLONE_THREAD",
				     "CLONE_NEWNS",
				     "CLONE_SYSVSEM",
				     "CLONE_SETTLS",
				     "CLONE_PARENT_SETTID",
				     "CLONE_CHILD_CLEARTID",
				     "CLONE_DETACHED",
				     "CLONE_UNTRACED",
				     "CLONE_CHILD_SETTID",
				     "CLONE_NEWCGROUP",
				     "CLONE_NEWUTS",
				     "CLONE_NEWIPC",
				     "CLONE_NEWUSER",
				     "CLONE_NEWPID",
				     "CLONE_NEWNET",
				     "CLONE_IO",
				     "CLONE_NEWTIME",
				     NULL};
static const char *const prots[] = {"PROT_READ",      "PROT_WRITE",   "PROT_EXEC", "PROT_SEM",
				    "PROT_GROWSDOWN", "PROT_GROWSUP", NULL};
static const char *const maptypes[] = {"MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE", NULL};
static const char *const mapflags[] = {
    "MAP_FIXED",	   "MAP_ANONYMOUS", "MAP_GROWSDOWN",	 "MAP_DENYWRITE",
    "MAP_EXECUTABLE",	   "MAP_LOCKED",    "MAP_NORESERVE",	 "MAP_POPULATE",
    "MAP_NONBLOCK",	   "MAP_STACK",	    "MAP_HUGETLB",	 "MAP_SYNC",
    "MAP_FIXED_NOREPLACE", "MAP_DROPPABLE", "MAP_UNINITIALIZED", NULL};
static const char *const openacc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", NULL};
/* O_TMPFILE and O_SYNC first: each includes another flag's bit. */
static const char *const openflags[] = {
    "O_TMPFILE",   "O_SYNC",	 "O_CREAT",   "O_EXCL",	   "O_NOCTTY", "O_TRUNC",
    "O_APPEND",	   "O_NONBLOCK", "O_DSYNC",   "O_ASYNC",   "O_DIRECT", "O_LARGEFILE",
    "O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH",   NULL};
static const char *const madvs[] = {"MADV_NORMAL",	   "MADV_RANDOM",
				    "MADV_SEQUENTIAL",	   "MADV_WILLNEED",
				    "MADV_DONTNEED",	   "MADV_FREE",
				    "MADV_REMOVE",	   "MADV_DONTFORK",
				    "MADV_DOFORK",	   "MADV_MERGEABLE",
				    "MADV_UNMERGEABLE",	   "MADV_HUGEPAGE",
				    "MADV_NOHUGEPAGE",	   "MADV_DONTDUMP",
				    "MADV_DODUMP",	   "MADV_WIPEONFORK",
				    "MADV_KEEPONFORK",	   "MADV_COLD",
				    "MADV_PAGEOUT",	   "MADV_POPULATE_READ",
				    "MADV_POPULATE_WRITE", "MADV_DONTNEED_LOCKED",
				    "MADV_COLLAPSE",	   "MADV_GUARD_INSTALL",
				    "MADV_GUARD_REMOVE",   "MADV_HWPOISON",
				    "MADV_SOFT_OFFLINE",   NULL};
/* ioctl requests: names under these prefixes, in this order of preference. */
static const char *const ioctl_prefixes[] = {
    "TCGETS",	 "TCSETS",    "TC",	    "TIOC",	      "FIO",
    "FIONREAD",	 "SIOC",      "FS_IOC_",    "FICLONE",	      "BLK",
    "LOOP_",	 "RND",	      "TUN",	    "SECCOMP_IOCTL_", "PERF_EVENT_IOC_",
    "KVM_",	 "VHOST_",    "VIDIOC_",    "DRM_IOCTL_",     "EVIOC",
    "UI_",	 "HIDIOC",    "USBDEVFS_",  "SNDRV_",	      "DMA_BUF_",
    "SYNC_IOC_", "DMA_HEAP_", "MEDIA_IOC_", "BINDER_",	      "RTC_",
    "WDIOC_",	 "I2C_",      "GPIO_",	    "FUSE_DEV_IOC_",  NULL};

static bool value_of(const char *name, uint64_t *v)
{
	return bx_policy_constant(name, strlen(name), v) == 0;
}

/* The first name of the list whose value is v, or NULL. */
static const char *exact(const char *const *names, uint64_t v)
{
	for (size_t i = 0; names[i]; i++) {
		uint64_t c;

		if (value_of(names[i], &c) && c == v)
			return names[i];
	}
	return NULL;
}

/* A bounded text being built; never overruns, always terminated. */
struct out {
	char *p;
	size_t len, used;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len == 0 || o->used + 1 >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->used = (size_t)n >= o->len - o->used ? o->len - 1 : o->used + (size_t)n;
}

static void put_hex(struct out *o, uint64_t v)
{
	if (v == 0)
		put(o, "0");
	else
		put(o, "%#llx", (unsigned long long)v);
}

/*
 * v as "A|B|0x40": first one name of values (the bits under value_mask),
 * then each flag of flags, then what is left in hex. 0 shows as zero_name
 * (or "0").
 */
static void put_flags(struct out *o, uint64_t v, const char *const *values, uint64_t value_mask,
		      const char *const *flags, const char *zero_name)
{
	bool first = true;
	uint64_t left = v;

	if (v == 0) {
		const char *n = zero_name ? zero_name : values ? exact(values, 0) : NULL;

		put(o, "%s", n ? n : "0");
		return;
	}
	if (values) {
		/* The value part: a name (O_RDONLY for 0 included), else left for the hex. */
		const char *n = exact(values, v & value_mask);

		if (n) {
			put(o, "%s", n);
			first = false;
			left &= ~value_mask;
		}
	}
	for (size_t i = 0; flags && flags[i] && left; i++) {
		uint64_t c;

		if (!value_of(flags[i], &c) || c == 0 || (left & c) != c)
			continue;
		put(o, "%s%s", first ? "" : "|", flags[i]);
		first = false;
		left &= ~c;
	}
	if (left || first) {
		put(o, "%s", first ? "" : "|");
		put_hex(o, left);
	}
}

/* An ioctl request's name from the generated table (preferred prefixes first), or NULL. */
static const char *ioctl_name(uint64_t v)
{
	const char *best = NULL;
	size_t best_rank = (size_t)-1;

	v &= 0xffffffffu; /* the kernel takes an unsigned int */
	if (v == 0)
		return NULL;
	for (size_t i = 0; i < bx_gen_constants_count; i++) {
		const char *n = bx_gen_constants[i].name;

		if (bx_gen_constants[i].value != v)
			continue;
		for (size_t k = 0; k < best_rank && ioctl_prefixes[k]; k++) {
			if (strncmp(n, ioctl_prefixes[k], strlen(ioctl_prefixes[k])) == 0) {
				best = n;
				best_rank = k;
				break;
			}
		}
	}
	return best;
}

static void put_value(struct out *o, enum shape s, uint64_t v)
{
	uint32_t lo = (uint32_t)v;
	const char *n = NULL;

	switch (s) {
	case A_INT:
		put(o, "%d", (int32_t)lo);
		return;
	case A_SIZE:
		put(o, "%llu", (unsigned long long)v);
		return;
	case A_DIRFD:
		if ((int32_t)lo == -100)
			put(o, "AT_FDCWD");
		else
			put(o, "%d", (int32_t)lo);
		return;
	case A_FAMILY:
		n = bx_policy_arg_name("socket", 0, lo);
		break;
	case A_PRCTL:
		n = bx_policy_arg_name("prctl", 0, lo);
		break;
	case A_SOCKTYPE:
		put_flags(o, lo, socktypes, 0xf, sockflags, NULL);
		return;
	case A_IOCTL:
		n = ioctl_name(lo);
		break;
	case A_FCNTL:
		n = exact(fcntls, lo);
		break;
	case A_CLONE: {
		/* The low byte is the exit signal (SIGCHLD for fork). */
		const char *sig = (v & 0xff) ? sigabbrev_np((int)(v & 0xff)) : NULL;

		if (sig && (v & ~(uint64_t)0xff) == 0) {
			put(o, "SIG%s", sig);
			return;
		}
		put_flags(o, v & ~(uint64_t)(sig ? 0xff : 0), NULL, 0, clones, NULL);
		if (sig)
			put(o, "|SIG%s", sig);
		return;
	}
	case A_PROT:
		put_flags(o, v, NULL, 0, prots, "PROT_NONE");
		return;
	case A_MAP:
		put_flags(o, v, maptypes, 0x3, mapflags, NULL);
		return;
	case A_OPEN:
		put_flags(o, v, openacc, 0x3, openflags, NULL);
		return;
	case A_SIGNAL:
		if (lo > 0 && lo < 65 && sigabbrev_np((int)lo)) {
			put(o, "SIG%s", sigabbrev_np((int)lo));
			return;
		}
		put(o, "%d", (int32_t)lo);
		return;
	case A_MADV:
		n = exact(madvs, lo);
		break;
	case A_PERSONA:
		put_hex(o, lo);
		return;
	case A_HEX:
	default:
		put_hex(o, v);
		return;
	}
	/* A name only for what the kernel reads (an int): upper bits set are shown whole. */
	if (n && (v >> 32) == 0)
		put(o, "%s", n);
	else
		put_hex(o, v);
}

static const struct signature *signature_of(const char *name)
{
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(sigs[i].name, name) == 0)
			return &sigs[i];
	return NULL;
}

/* The syscall's name (libseccomp, the generated table, the hand list), or NULL. */
static const char *name_of(int nr, char *buf, size_t len)
{
	if (nr < 0 || nr > 4095)
		return NULL;
	return bx_syscall_name(nr, buf, len);
}

void bx_explain_call(int nr, const uint64_t args[6], char *buf, size_t len, char *name,
		     size_t name_len)
{
	char nbuf[BX_SYSCALL_NAME_MAX];
	const char *n = name_of(nr, nbuf, sizeof(nbuf));
	const struct signature *s = n ? signature_of(n) : NULL;
	struct out o = {.p = buf, .len = len, .used = 0};
	unsigned nargs = s ? s->nargs : 3;

	if (len)
		buf[0] = '\0';
	if (name && name_len)
		snprintf(name, name_len, "%s", n ? n : "");
	if (n)
		put(&o, "%s(", n);
	else
		put(&o, "syscall %d(", nr);
	for (unsigned i = 0; i < nargs && i < 6; i++) {
		if (i)
			put(&o, ", ");
		put_value(&o, s ? (enum shape)s->shape[i] : A_HEX, args[i]);
	}
	put(&o, "%s)", s ? "" : ", ...");
	/* Cut: say so rather than end mid-name. */
	if (len > 4 && o.used == len - 1)
		memcpy(buf + len - 4, "...", 4);
}

void bx_explain_rule(int nr, const uint64_t args[6], char *buf, size_t len)
{
	char nbuf[BX_SYSCALL_NAME_MAX];
	const char *n = name_of(nr, nbuf, sizeof(nbuf));
	const struct signature *s = n ? signature_of(n) : NULL;
	struct out o = {.p = buf, .len = len, .used = 0};

	if (len)
		buf[0] = '\0';
	if (!n)
		return;
	if (!s || s->key < 0) {
		put(&o, "%s: 1", n);
		return;
	}
	put(&o, "%s: arg%d == ", n, s->key);
	put_value(&o, (enum shape)s->shape[s->key], args[s->key]);
	if (len && o.used == len - 1)
		snprintf(buf, len, "%s: 1", n); /* cut: the unconditional rule is still right */
}

/* Whether the policy line text allows the call (nr, args): parsed as a one-line policy. */
static bool line_allows(const char *text, int nr, const uint64_t args[6])
{
	struct bx_policy *p = NULL;
	bool yes = false;

	if (bx_policy_parse_core("group", text, strlen(text), NULL, &p, NULL, NULL) < 0)
		return false;
	for (size_t i = 0; i < p->nrules && !yes; i++) {
		const struct bx_sc_rule *r = &p->rules[i];

		if (bx_syscall_resolve(r->name) != nr || r->action != SCMP_ACT_ALLOW)
			continue;
		if (r->nclauses == 0)
			yes = true;
		for (size_t c = 0; c < r->nclauses && !yes; c++)
			yes = bx_sc_clause_eval(&r->clauses[c], args);
	}
	bx_policy_free(p);
	return yes;
}

size_t bx_explain_groups(int nr, const uint64_t args[6], const char **out, size_t max)
{
	char nbuf[BX_SYSCALL_NAME_MAX];
	const char *n = name_of(nr, nbuf, sizeof(nbuf));
	const struct bx_sc_group *g;
	size_t ng, found = 0;

	if (!n)
		return 0;
	g = bx_sc_groups(&ng);
	for (size_t i = 0; i < ng && found < max; i++) {
		for (const char *const *m = g[i].members; *m; m++) {
			size_t nlen = strcspn(*m, ":");

			if (nlen != strlen(n) || memcmp(*m, n, nlen) != 0)
				continue;
			if (line_allows(*m, nr, args)) {
				out[found++] = g[i].name;
				break;
			}
		}
	}
	return found;
}

void bx_explain_violation(const char *policy, int nr, int arch_ok, const uint64_t args[6],
			  char *buf, size_t len)
{
	static const uint64_t none[6] = {0};
	char call[BX_EXPLAIN_CALL_MAX], rule[BX_EXPLAIN_RULE_MAX], name[BX_SYSCALL_NAME_MAX];
	const char *groups[3];
	size_t ng;
	struct out o = {.p = buf, .len = len, .used = 0};

	if (len)
		buf[0] = '\0';
	if (!args)
		args = none;
	if (!arch_ok) {
		put(&o, "a system call of another architecture (%d) is not allowed by %.64s", nr,
		    policy ? policy : "the policy");
		return;
	}
	bx_explain_call(nr, args, call, sizeof(call), name, sizeof(name));
	bx_explain_rule(nr, args, rule, sizeof(rule));
	ng = bx_explain_groups(nr, args, groups, sizeof(groups) / sizeof(groups[0]));
	for (int pass = 0; pass < 2; pass++) {
		o.used = 0;
		if (len)
			buf[0] = '\0';
		put(&o, "%s is not allowed by %.64s", call, policy ? policy : "the policy");
		if (rule[0])
			put(&o, "; to allow it add '%s'", rule);
		for (size_t i = 0; rule[0] && i < ng; i++)
			put(&o, " or '%s'", groups[i]);
		/* Too long for buf: the suggestion matters more than the arguments. */
		if (o.used + 1 < len || !name[0])
			break;
		snprintf(call, sizeof(call), "%s(...)", name);
	}
}
