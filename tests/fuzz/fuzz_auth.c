/*
 * Fuzz engine/registry/auth.c: the WWW-Authenticate challenge parser (a registry's,
 * so a hostile server's, header), base64 both ways, and the docker
 * config.json reader (auth_lookup, over a file holding the input).
 * Checks: an accepted challenge is Bearer with a realm or Basic, every field
 * terminated; decoding what encoding gave returns the bytes; a decoded
 * string encodes back to itself up to padding; credentials come back as a
 * pair or not at all, and a failure carries an errno and a message.
 */
#include <errno.h>
#include <linux/limits.h>
#include <unistd.h>
#include <jansson.h>

#include "fuzz.h"
#include "registry/registry.h"

/* auth_lookup opens a path without following symlinks: a real file, in $FUZZ_TMP if set. */
static int config_fd = -1;
static char config_path[PATH_MAX];

static void
remove_config(void)
{
	unlink(config_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("FUZZ_TMP");

	(void)argc;
	(void)argv;
	json_object_seed(1);
	snprintf(config_path, sizeof(config_path), "%s/bkfuzz-auth.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	config_fd = mkstemp(config_path);
	if (config_fd < 0)
		abort();
	atexit(remove_config);
	return 0;
}

static void
check_challenge(const char *s)
{
	struct auth_challenge c;
	int ret = auth_parse_challenge(s, &c);

	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL);
		return;
	}
	FUZZ_ASSERT(ret == 0);
	FUZZ_ASSERT(strcmp(c.scheme, "bearer") == 0 || strcmp(c.scheme, "basic") == 0);
	FUZZ_ASSERT(strnlen(c.realm, sizeof(c.realm)) < sizeof(c.realm));
	FUZZ_ASSERT(strnlen(c.service, sizeof(c.service)) < sizeof(c.service));
	FUZZ_ASSERT(strnlen(c.scope, sizeof(c.scope)) < sizeof(c.scope));
	FUZZ_ASSERT(strnlen(c.error, sizeof(c.error)) < sizeof(c.error));
	if (strcmp(c.scheme, "bearer") == 0)
		FUZZ_ASSERT(c.realm[0] != '\0');
}

static void
check_base64(const uint8_t *data, size_t size, const char *s)
{
	char *enc = auth_base64_encode(data, size), *again;
	unsigned char *dec = NULL, *dec2 = NULL;
	long n = auth_base64_decode(enc, &dec);
	size_t slen;

	FUZZ_ASSERT(strlen(enc) == (size + 2) / 3 * 4);
	FUZZ_ASSERT(n == (long)size && memcmp(dec, data, size) == 0);
	free(enc);
	free(dec);
	dec = NULL;
	n = auth_base64_decode(s, &dec);
	if (n < 0) {
		FUZZ_ASSERT(n == -EINVAL && dec == NULL);
		return;
	}
	/*
	 * Encoding gives the canonical form: the same characters without the
	 * '=' padding, but for the bits of a last partial group that decoding
	 * drops; and it decodes to the same bytes.
	 */
	again = auth_base64_encode(dec, (size_t)n);
	slen = strlen(s);
	while (slen > 0 && s[slen - 1] == '=')
		slen--;
	FUZZ_ASSERT(strlen(again) == (slen + 3) / 4 * 4);
	FUZZ_ASSERT(slen == 0 || strncmp(again, s, slen - 1) == 0);
	FUZZ_ASSERT(slen % 4 != 0 || strncmp(again, s, slen) == 0);
	FUZZ_ASSERT(auth_base64_decode(again, &dec2) == n && memcmp(dec, dec2, (size_t)n) == 0);
	free(again);
	free(dec);
	free(dec2);
}

static void
check_lookup(const char *host)
{
	struct bk_err err = BK_ERR_INIT;
	char *user = NULL, *pass = NULL;
	int ret = auth_lookup(config_path, host, &user, &pass, &err);

	fuzz_check_err(ret, &err, "auth_lookup");
	if (ret == 1) {
		FUZZ_ASSERT(user != NULL && pass != NULL);
	} else {
		FUZZ_ASSERT(ret == 0 || ret == -EINVAL);
		FUZZ_ASSERT(user == NULL && pass == NULL);
	}
	free(user);
	free(pass);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	check_challenge(s);
	check_base64(data, size, s);
	/* Only what could be a JSON object is worth the file I/O. */
	if (s[strspn(s, " \t\r\n")] == '{') {
		if (ftruncate(config_fd, 0) < 0 ||
		    pwrite(config_fd, data, size, 0) != (ssize_t)size)
			abort();
		check_lookup("localhost:5000");
		check_lookup("registry-1.docker.io");
	}
	free(s);
	return 0;
}
