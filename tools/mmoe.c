/* mmoe — run a stage: `mmoe <stage> args…` executes `mmoe-<stage> args…`.
 *
 * The stage is looked up first in the directory of this executable (so a
 * build tree or an install prefix is self-contained, whatever PATH says),
 * then on PATH.  `mmoe --help` lists the stages found next to it.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"

/* Directory of the running executable, or "" if it cannot be found. */
static void self_dir(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	if (n <= 0) {
		buf[0] = 0;
		return;
	}
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	else
		buf[0] = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_exe(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Print the stages (mmoe-* executables) in dir, sorted, one per line. */
static void list_stages(const char *dir)
{
	DIR *d = *dir ? opendir(dir) : NULL;
	if (!d) {
		printf("  (no stages found next to this program)\n");
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "mmoe-", 5) != 0 || !de->d_name[5] || !is_exe(dir, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			char **nn = realloc(names, cap * sizeof *nn);
			if (!nn)
				cli_die(MM_EXIT_USAGE, "out of memory");
			names = nn;
		}
		if (!(names[n++] = strdup(de->d_name + 5)))
			cli_die(MM_EXIT_USAGE, "out of memory");
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		printf("  %s\n", names[i]);
		free(names[i]);
	}
	if (!n)
		printf("  (no stages found in %s)\n", dir);
	free(names);
}

static void usage(const char *dir)
{
	printf("Usage: mmoe <stage> [ARGS...]\n"
		"       mmoe help <stage>\n"
		"       mmoe --help | --version\n"
		"\n"
		"Runs the program mmoe-<stage> with ARGS, looked up first in the\n"
		"directory of mmoe itself (%s), then on PATH.\n"
		"Every stage reads and writes record streams (see mmoe-records(5))\n"
		"and has its own --help and manual page, mmoe-<stage>(1).\n"
		"\n"
		"Options:\n"
		"  -h, --help     this help, with the list of stages\n"
		"  -V, --version  print the version and exit\n"
		"\n"
		"Stages:\n", *dir ? dir : "unknown");
	list_stages(dir);
	printf("\nExit status: that of the stage; 2 when the stage does not exist.\n");
}

/* A stage name is a plain word: no path tricks such as "../x" or "a/b". */
static int valid_stage(const char *s)
{
	if (!*s || *s == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				(*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static noreturn void run_stage(const char *dir, const char *stage, int argc, char **argv)
{
	char prog[PATH_MAX], name[256];
	if (!valid_stage(stage) || strchr(stage, '.'))
		cli_usage("'%s' is not a stage name", stage);
	if (snprintf(name, sizeof name, "mmoe-%s", stage) >= (int)sizeof name)
		cli_usage("stage name too long: '%s'", stage);
	/* The stages install their own SIGPIPE handling; give them the default. */
	signal(SIGPIPE, SIG_DFL);
	argv[0] = name;
	(void)argc;
	fflush(stdout);
	if (*dir && is_exe(dir, name)) {
		snprintf(prog, sizeof prog, "%s/%s", dir, name);
		execv(prog, argv);
		cli_die(MM_EXIT_USAGE, "cannot run %s: %s", prog, strerror(errno));
	}
	execvp(name, argv);
	if (errno == ENOENT)
		cli_die(MM_EXIT_USAGE, "'%s' is not an mmoe stage (no %s in %s or on PATH); "
			"'mmoe --help' lists the stages", stage, name, *dir ? dir : "?");
	cli_die(MM_EXIT_USAGE, "cannot run %s: %s", name, strerror(errno));
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX];
	cli_init(argc, argv, "mmoe");
	self_dir(dir, sizeof dir);

	/* Options end at the first non-option: everything after it is the stage's. */
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(dir);
			return cli_finish();
		case 'V':
			cli_version();
		default:
			cli_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		cli_usage("missing stage: mmoe <stage> [ARGS...]");
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 >= argc) {
			usage(dir);
			return cli_finish();
		}
		/* mmoe help cat == mmoe-cat --help */
		char *hv[] = {argv[optind + 1], "--help", NULL};
		run_stage(dir, argv[optind + 1], 2, hv);
	}
	run_stage(dir, argv[optind], argc - optind, argv + optind);
}
