/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the fuzz targets share.
 *
 * Each target defines LLVMFuzzerTestOneInput(). Built with
 * -DTLK_LIBFUZZER (scripts/fuzz.sh) it is linked with libFuzzer, which
 * provides main(). Built without it (tests/fuzz/meson.build) its main()
 * calls tlk_fuzz_main(): the target runs once over every file of the
 * directories (or the files) named on the command line, so the seed
 * corpus and any crash input found are replayed by the ordinary build,
 * under valgrind and under the sanitizers.
 *
 * A target checks the contract of what it calls with FUZZ_CHECK(): a
 * broken promise aborts, which both libFuzzer and meson count as a crash.
 */
#ifndef TLK_FUZZ_H
#define TLK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file being replayed (regression runner only), for messages. */
static const char *tlk_fuzz_input;

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, "\n");                                 \
			if (tlk_fuzz_input)                                    \
				fprintf(stderr, "input: %s\n",                 \
					tlk_fuzz_input);                       \
			abort();                                               \
		}                                                              \
	} while (0)

#ifndef TLK_LIBFUZZER
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Run the target once over the file `path`, from a heap buffer of exactly
 * its size (so reading past the end is seen). */
static int tlk_fuzz_run_file(const char *path, size_t *ran)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: short read\n", path);
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	tlk_fuzz_input = path;
	LLVMFuzzerTestOneInput(buf, got);
	tlk_fuzz_input = NULL;
	free(buf);
	(*ran)++;
	return 0;
}

/* Every regular file of `dir`, in name order; subdirectories too. */
static int tlk_fuzz_run_dir(const char *dir, size_t *ran)
{
	const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), ret = 0;

	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char path[4096];
		struct stat st;

		if (ret == 0 && strcmp(name, ".") != 0 &&
		    strcmp(name, "..") != 0) {
			if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir,
					     sep, name) >= sizeof(path) ||
			    stat(path, &st) < 0)
				ret = -1;
			else if (S_ISDIR(st.st_mode))
				ret = tlk_fuzz_run_dir(path, ran);
			else if (S_ISREG(st.st_mode))
				ret = tlk_fuzz_run_file(path, ran);
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

static int tlk_fuzz_main(int argc, char **argv)
{
	size_t ran = 0;

	if (argc < 2) {
		fprintf(stderr,
			"usage: %s DIR|FILE...\n"
			"  runs the fuzz target once over every file given "
			"and every file in the directories given\n",
			argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int ret;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		ret = S_ISDIR(st.st_mode) ? tlk_fuzz_run_dir(argv[i], &ran)
					  : tlk_fuzz_run_file(argv[i], &ran);
		if (ret < 0)
			return 1;
	}
	if (ran == 0) {
		fprintf(stderr, "%s: no inputs\n", argv[0]);
		return 1;
	}
	printf("%s: %zu inputs, no failure\n", argv[0], ran);
	return 0;
}
#endif /* !TLK_LIBFUZZER */

#endif
