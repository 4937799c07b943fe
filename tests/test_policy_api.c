/* SPDX-License-Identifier: MIT */
/*
 * The public policy API (include/beambox/policy.h, src/policy/api.c): files,
 * buffers, the built-in default, shipped policies by name and where they are
 * looked up, and what the CLI makes of a --policy argument. The parser itself
 * is tested by test_policy.c; this is the layer an application sees.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <beambox/policy.h>

#include "policy/api.h"

#define POLICIES_DIR BX_TEST_DATA_DIR "/../../policies"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bx-policy-api.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads a name with BEAMBOX_POLICY_DIR set to dir (NULL: unset). */
static int load_named_in(const char *dir, const char *name, bx_policy **p, bx_error *err)
{
	int r;

	if (dir)
		assert_int_equal(setenv(BX_POLICY_DIR_ENV, dir, 1), 0);
	else
		assert_int_equal(unsetenv(BX_POLICY_DIR_ENV), 0);
	bx_error_clear(err);
	r = bx_policy_load_named(name, p, err);
	assert_int_equal(unsetenv(BX_POLICY_DIR_ENV), 0);
	return r;
}

static void test_load_file_and_default(void **state)
{
	bx_policy *p = NULL;
	bx_error err;

	(void)state;
	bx_error_clear(&err);
	assert_int_equal(bx_policy_load_file(POLICIES_DIR "/greet.policy", &p, &err), 0);
	assert_string_equal(bx_policy_name(p), "greet");
	bx_policy_free(p);
	assert_int_equal(bx_policy_load_default(&p, &err), 0);
	assert_string_equal(bx_policy_name(p), "default");
	bx_policy_free(p);
	assert_int_equal(bx_policy_load_file(POLICIES_DIR "/nosuch.policy", &p, &err), -ENOENT);
	assert_non_null(strstr(err.text, "nosuch.policy"));
	bx_policy_free(NULL);
	assert_null(bx_policy_name(NULL));
	/* The install directory is absolute and ends where `cmake --install` puts them. */
	assert_int_equal(bx_policy_dir()[0], '/');
	assert_non_null(strstr(bx_policy_dir(), "/beambox/policies"));
}

static void test_named_from_override(void **state)
{
	bx_policy *p = NULL;
	bx_error err;
	char path[128];

	(void)state;
	/* The source tree's policies, @include common/... resolving inside it. */
	assert_int_equal(load_named_in(POLICIES_DIR, "untrusted", &p, &err), 0);
	assert_string_equal(bx_policy_name(p), "untrusted");
	bx_policy_free(p);

	/* Only the override is looked at when it is set: a copy there wins... */
	snprintf(path, sizeof(path), "%s/greet.policy", tmpdir);
	write_file(path, "[policy]\nname = from-override\n[syscalls]\nread: 1\n");
	assert_int_equal(load_named_in(tmpdir, "greet", &p, &err), 0);
	assert_string_equal(bx_policy_name(p), "from-override");
	bx_policy_free(p);
	/* ...and a name it lacks is not found elsewhere. */
	assert_int_equal(load_named_in(tmpdir, "untrusted", &p, &err), -ENOENT);
	assert_non_null(strstr(err.text, "no policy 'untrusted' in BEAMBOX_POLICY_DIR="));
	/* Errors keep the file, line and column of the file found. */
	snprintf(path, sizeof(path), "%s/broken.policy", tmpdir);
	write_file(path, "[policy]\nname = broken\nfrobnicate = 1\n");
	assert_int_equal(load_named_in(tmpdir, "broken", &p, &err), -EINVAL);
	assert_non_null(strstr(err.text, "broken.policy:3:1:"));
}

static void test_named_without_override(void **state)
{
	bx_policy *p = NULL;
	bx_error err;

	(void)state;
	/*
	 * Installed copies if this machine has them, else the ones built into the
	 * library: either way every shipped name loads, includes and all.
	 */
	assert_int_equal(load_named_in(NULL, "greet", &p, &err), 0);
	assert_string_equal(bx_policy_name(p), "greet");
	bx_policy_free(p);
	assert_int_equal(load_named_in("", "default", &p, &err), 0); /* empty: unset */
	assert_string_equal(bx_policy_name(p), "default");
	bx_policy_free(p);
	assert_int_equal(load_named_in(NULL, "no-such-policy", &p, &err), -ENOENT);
	assert_non_null(strstr(err.text, "no shipped policy named 'no-such-policy' in "));
	assert_non_null(strstr(err.text, "nor built in"));
}

static void test_bad_names(void **state)
{
	static const char *const bad[] = {
	    "",
	    ".hidden",
	    "../etc/passwd",
	    "a/b",
	    "common/worker",
	    "sp ace",
	    "tab\t",
	    "x\n",
	    "65-characters-long-name-that-is-longer-than-the-limit-of-64-chars",
	};
	bx_policy *p = NULL;
	bx_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bx_error_clear(&err);
		if (bx_policy_load_named(bad[i], &p, &err) != -EINVAL ||
		    !strstr(err.text, "is not a policy name"))
			fail_msg("name #%zu was accepted or misreported: %s", i, err.text);
	}
	assert_int_equal(bx_policy_load_named(NULL, &p, &err), -EINVAL);
	/* Printable in the message, however it was spelt. */
	assert_int_equal(bx_policy_load_named("x\n", &p, &err), -EINVAL);
	assert_null(strchr(err.text, '\n'));
}

static void test_parse_buffer(void **state)
{
	static const char ok[] = "[policy]\n"
				 "name = svc\n"
				 "namespaces = user mount pid net ipc uts\n"
				 "[syscalls]\n"
				 "@include common/worker.policy\n";
	static const char bad[] = "[policy]\nname = svc\n[syscalls]\nread: 1\nnosuchcall: 1\n";
	static const char escape[] = "[syscalls]\n@include ../../../etc/passwd\n";
	bx_policy *p = NULL;
	bx_error err;
	char path[128], main_path[128];

	(void)state;
	/* A bare name: its includes are the shipped fragments. */
	bx_error_clear(&err);
	assert_int_equal(bx_policy_parse_buffer("svc.policy", ok, strlen(ok), &p, &err), 0);
	assert_string_equal(bx_policy_name(p), "svc");
	bx_policy_free(p);
	/* Errors name the buffer, line and column. */
	assert_int_equal(bx_policy_parse_buffer("embedded-svc", bad, strlen(bad), &p, &err),
			 -EINVAL);
	assert_non_null(strstr(err.text, "embedded-svc:5:1:"));
	/* A bare name's includes stay inside the policy directory. */
	assert_true(bx_policy_parse_buffer("svc.policy", escape, strlen(escape), &p, &err) < 0);
	assert_non_null(strstr(err.text, "svc.policy:2:"));
	/* A name with a directory: its includes come from that directory. */
	snprintf(path, sizeof(path), "%s/part.policy", tmpdir);
	write_file(path, "read: 1\nwrite: 1\n");
	snprintf(main_path, sizeof(main_path), "%s/svc.policy", tmpdir);
	{
		static const char with_part[] = "[syscalls]\n@include part.policy\n";

		assert_int_equal(
		    bx_policy_parse_buffer(main_path, with_part, strlen(with_part), &p, &err), 0);
		bx_policy_free(p);
	}
	/* No NUL needed: only len bytes are read. */
	assert_int_equal(bx_policy_parse_buffer("svc.policy", "read: 1XXXX", 7, &p, &err), 0);
	bx_policy_free(p);
	assert_int_equal(bx_policy_parse_buffer(NULL, ok, strlen(ok), &p, &err), -EINVAL);
	assert_int_equal(bx_policy_parse_buffer("x", NULL, 3, &p, &err), -EINVAL);
}

/* `--policy NAME|FILE`, as the CLI reads it. */
static void test_cli_spec(void **state)
{
	bx_policy *p = NULL;
	bx_error err;
	char cwd[4096];

	(void)state;
	assert_int_equal(setenv(BX_POLICY_DIR_ENV, POLICIES_DIR, 1), 0);
	bx_error_clear(&err);
	assert_int_equal(bx_policy_load_spec("untrusted", &p, &err), 0); /* a name */
	assert_string_equal(bx_policy_name(p), "untrusted");
	bx_policy_free(p);
	assert_int_equal(bx_policy_load_spec(POLICIES_DIR "/greet.policy", &p, &err), 0);
	bx_policy_free(p);
	/* "x.policy" is a file in the current directory, not a name. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(POLICIES_DIR), 0);
	assert_int_equal(bx_policy_load_spec("greet.policy", &p, &err), 0);
	bx_policy_free(p);
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(bx_policy_load_spec("untrusted.policy", &p, &err), -ENOENT);
	assert_non_null(strstr(err.text, "open(untrusted.policy)"));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(bx_policy_load_spec("", &p, &err), -EINVAL);
	assert_int_equal(unsetenv(BX_POLICY_DIR_ENV), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_load_file_and_default),  bx_fd_test(test_named_from_override),
	    bx_fd_test(test_named_without_override), bx_fd_test(test_bad_names),
	    bx_fd_test(test_parse_buffer),	     bx_fd_test(test_cli_spec),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
