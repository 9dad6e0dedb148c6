/*
 * nosys SYSCALL... -- COMMAND [ARG...]: run COMMAND as on a kernel without
 * the named system calls (each fails with ENOSYS), to test what bockerfs
 * does on an older kernel than this one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <seccomp.h>

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int i;

	if (ctx == NULL)
		return 125;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		int nr = seccomp_syscall_resolve_name(argv[i]);

		if (nr == __NR_SCMP_ERROR ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0) < 0) {
			fprintf(stderr, "nosys: unknown system call '%s'\n", argv[i]);
			return 125;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: nosys SYSCALL... -- COMMAND [ARG...]\n");
		return 125;
	}
	if (seccomp_load(ctx) < 0) {
		perror("nosys: seccomp_load");
		return 125;
	}
	execvp(argv[i + 1], argv + i + 1);
	perror("nosys: exec");
	return 127;
}
