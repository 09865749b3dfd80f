/* cmd/logplane-nofile/main.c: raises the open-files soft limit, then runs a
 * program in its own place.
 *
 *   logplane-nofile N -- PROGRAM [ARG...]
 *   logplane-nofile --install DIR
 *
 * Kubernetes has no pod field for RLIMIT_NOFILE, containerd 2.x starts
 * containers at soft 1024 / hard 524288 on systemd hosts, Fluent Bit never
 * raises its own soft limit, and its image has no shell for `ulimit -n`. So
 * the agents' pods start Fluent Bit through this (docs/delivery.md, "The
 * open-files limit").
 *
 * The limit: when the soft limit is below N it becomes min(N, hard); it is
 * never lowered. The hard limit is touched only when it is below N, and then
 * only raised to N when the process may (CAP_SYS_RESOURCE; the agents' pods
 * drop every capability, so there it cannot). When the hard limit stays below
 * N, one line on stderr says so before PROGRAM starts: the agent's log then
 * says why an output may fail with "Too many open files". A limit that cannot
 * be read or set is said in one line too; PROGRAM still runs.
 *
 * PROGRAM is a path (execv: no PATH search; the images have no shell either).
 * Its arguments and the environment pass through unchanged.
 *
 * --install DIR copies this executable (/proc/self/exe) to
 * DIR/logplane-nofile, mode 0555, through a temporary name and a rename, so a
 * reader never sees half a file: an init container delivers it into an
 * emptyDir that the Fluent Bit container mounts.
 *
 * It uses nothing but libc and the Makefile links it statically, so it runs
 * in any image: the distroless Fluent Bit images, or a user's with another
 * libc or none.
 *
 * Exit status: PROGRAM's own once it runs; 2 for a bad argument (one line
 * naming it); 127 when PROGRAM does not exist, 126 when it cannot be run for
 * another reason (one line naming it); 1 when --install fails. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME      "logplane-nofile"
#define MAX_COUNT 1073741824ULL /* 2^30: above any kernel's fs.nr_open */
#define USAGE     "usage: " NAME " N -- PROGRAM [ARG...] | " NAME " --install DIR"

/* s as a count from 1 to MAX_COUNT: digits only. 0 and *out on success. */
static int parse_count(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > MAX_COUNT)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

/* Raises the soft RLIMIT_NOFILE toward want (see the top of the file).
 * Says on stderr when it cannot reach want; never fails. */
static void raise_nofile(unsigned long long want, const char *program)
{
	struct rlimit rl;
	rlim_t target = (rlim_t)want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr,
		        NAME ": cannot read the open-files limit (%s); %s starts with it as is\n",
		        strerror(errno), program);
		return;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= target)
		return; /* never lowered */
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < target) {
		/* only with CAP_SYS_RESOURCE, and within fs.nr_open */
		struct rlimit up = {target, target};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
		fprintf(stderr,
		        NAME
		        ": open-files hard limit %llu is below the %llu needed: soft limit set "
		        "to %llu; %s may fail with \"Too many open files\" (raise the container "
		        "runtime's LimitNOFILE)\n",
		        (unsigned long long)rl.rlim_max, want, (unsigned long long)rl.rlim_max,
		        program);
		target = rl.rlim_max;
		if (rl.rlim_cur >= target)
			return;
	}
	rl.rlim_cur = target;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		fprintf(stderr,
		        NAME ": cannot raise the open-files soft limit to %llu (%s); %s starts "
		             "with the current one\n",
		        (unsigned long long)target, strerror(errno), program);
}

/* Writes len bytes of buf to fd, across short writes and EINTR. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies /proc/self/exe to dir/logplane-nofile (mode 0555). 0, 1 (failed,
 * said on stderr) or 2 (bad directory argument). */
static int install(const char *dir)
{
	char path[PATH_MAX], tmp[PATH_MAX], buf[65536];
	const char *what = "/proc/self/exe";
	int in = -1, out = -1, created = 0, rc = 1, err = 0;
	size_t total = 0;
	ssize_t n;

	if (!*dir) {
		fprintf(stderr, NAME ": --install: empty directory name\n");
		return 2;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, NAME) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, NAME, (long)getpid()) >=
	        (int)sizeof(tmp)) {
		fprintf(stderr, NAME ": --install: directory name too long\n");
		return 2;
	}
	in = open(what, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		goto fail;
	what = tmp;
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (out < 0)
		goto fail;
	created = 1;
	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			what = "/proc/self/exe";
			goto fail;
		}
		if (n == 0)
			break;
		if (write_all(out, buf, (size_t)n) != 0)
			goto fail;
		total += (size_t)n;
	}
	if (fchmod(out, 0555) != 0)
		goto fail;
	n = close(out);
	out = -1;
	if (n != 0)
		goto fail;
	what = path;
	if (rename(tmp, path) != 0)
		goto fail;
	created = 0;
	fprintf(stderr, NAME ": installed %s (%zu bytes)\n", path, total);
	rc = 0;
	goto out;
fail:
	err = errno;
	fprintf(stderr, NAME ": --install: %s: %s\n", what, strerror(err));
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (created)
		unlink(tmp);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long long want;
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("%s\n", USAGE);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "--install")) {
		if (argc != 3) {
			fprintf(stderr, NAME ": --install takes one directory (%s)\n", USAGE);
			return 2;
		}
		return install(argv[2]);
	}
	if (argc < 2) {
		fprintf(stderr, NAME ": no open-files count (%s)\n", USAGE);
		return 2;
	}
	if (parse_count(argv[1], &want) != 0) {
		fprintf(stderr,
		        NAME ": open-files count \"%.64s\" is not a whole number from 1 to %llu\n",
		        argv[1], MAX_COUNT);
		return 2;
	}
	if (argc < 3 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr,
		        NAME ": expected \"--\" after the open-files count, got %s%.64s%s\n",
		        argc < 3 ? "nothing" : "\"", argc < 3 ? "" : argv[2], argc < 3 ? "" : "\"");
		return 2;
	}
	if (argc < 4 || !*argv[3]) {
		fprintf(stderr, NAME ": no program after \"--\"\n");
		return 2;
	}
	raise_nofile(want, argv[3]);
	execv(argv[3], &argv[3]);
	err = errno;
	fprintf(stderr, NAME ": cannot run %s: %s\n", argv[3], strerror(err));
	return err == ENOENT ? 127 : 126;
}
