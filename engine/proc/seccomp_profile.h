/*
 * seccomp_profile.h: the containers' default seccomp profile (Docker's), built with
 * libseccomp and handed to bockerfs-init as raw BPF (see seccomp.c).
 */
#ifndef BK_SECCOMP_PROFILE_H
#define BK_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>

struct bk_err;

/*
 * The profile for a container with the capability mask caps (bit n =
 * capability n), for this machine's architectures, as lowercase hex of the
 * struct sock_filter array (*ninsns instructions; caller frees *hex).
 * Returns 0 or -errno with err filled.
 */
int seccomp_profile_hex(uint64_t caps, char **hex, size_t *ninsns, struct bk_err *err);

/*
 * The instructions put before libseccomp's program: for arches[i] (audit
 * values) with highest[i] >= 0, a syscall numbered above highest[i] and
 * below 1024 gets ENOSYS; everything else goes on to the program that
 * follows.  out has room for 1 + 4 * narches + 2 entries; returns the
 * count written.  Exposed for the unit test.
 */
size_t seccomp_enosys_stub(const uint32_t *arches, const int *highest, size_t narches,
			   struct sock_filter *out);

#endif
