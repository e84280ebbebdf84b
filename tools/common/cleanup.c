/* cleanup.c — one path that drops a tool's unfinished outputs.
 *
 * Every output file is an mm_atomic (lib/util.h), directly or inside an
 * mm_writer or a library save: the library tells us when one opens and when
 * it is finished (mm_atomic_observe), and we keep it in a small table.  The
 * table serves two ends:
 *   - cli_die(), cli_die_err() and cli_usage() abort every open output, so
 *     whatever the error, the targets are left as they were and no
 *     temporary remains (cli_abort_outputs);
 *   - SIGINT, SIGTERM and SIGHUP run on_signal(), which only unlinks the
 *     temporary names copied into the table beforehand (unlink(2) is
 *     async-signal-safe; nothing is allocated, locked or printed) and then
 *     dies of the same signal with its default action, so the parent sees
 *     the signal as the cause.
 * SIGPIPE stays ignored (cli_init): a closed pipe is a write error that the
 * tool reports and exits on through cli_die, so the same table drops the
 * outputs.  SIGKILL cannot be caught: its temporaries stay, and the next
 * mm_atomic_open of the same target removes them once their pid is dead.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define MAX_OUTPUTS 64

static struct output {
	atomic_int used;            /* slot claimed (by any thread) */
	volatile sig_atomic_t live; /* tmp is complete and may be unlinked */
	mm_atomic *a;
	char tmp[PATH_MAX];         /* "" when written in place (a device) */
} outputs[MAX_OUTPUTS];

static void opening(mm_atomic *a)
{
	for (int i = 0; i < MAX_OUTPUTS; i++) {
		int zero = 0;
		if (!atomic_compare_exchange_strong(&outputs[i].used, &zero, 1))
			continue;
		struct output *o = &outputs[i];
		o->a = a;
		o->tmp[0] = 0;
		if (a->tmp && strlen(a->tmp) < sizeof o->tmp)
			strcpy(o->tmp, a->tmp);
		atomic_signal_fence(memory_order_seq_cst);
		o->live = 1;
		return;
	}
	/* More outputs than slots is a bug of the tool, not of the data: the
	 * extra ones are still written and committed, only not dropped on a
	 * signal.  MAX_OUTPUTS is far above what any tool opens. */
}

static void closed(mm_atomic *a)
{
	for (int i = 0; i < MAX_OUTPUTS; i++)
		if (outputs[i].live && outputs[i].a == a) {
			outputs[i].live = 0;
			atomic_signal_fence(memory_order_seq_cst);
			outputs[i].a = NULL;
			atomic_store(&outputs[i].used, 0);
			return;
		}
}

void cli_abort_outputs(void)
{
	for (int i = 0; i < MAX_OUTPUTS; i++)
		if (outputs[i].live && outputs[i].a)
			mm_atomic_abort(outputs[i].a);   /* calls closed() */
}

static void on_signal(int sig)
{
	int saved = errno;
	for (int i = 0; i < MAX_OUTPUTS; i++)
		if (outputs[i].live && outputs[i].tmp[0])
			unlink(outputs[i].tmp);
	errno = saved;
	/* SA_RESETHAND restored the default action; the signal is blocked
	 * until we return, and then it ends the program. */
	raise(sig);
}

void cli_cleanup_init(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	mm_atomic_observe(opening, closed);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction sa, old;
		/* a signal the caller ignores (nohup, a background job's SIGINT)
		 * stays ignored */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		for (size_t j = 0; j < sizeof sigs / sizeof *sigs; j++)
			sigaddset(&sa.sa_mask, sigs[j]);
		sa.sa_flags = SA_RESETHAND;
		sigaction(sigs[i], &sa, NULL);
	}
}
