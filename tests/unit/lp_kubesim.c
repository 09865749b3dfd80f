/* tests/unit/lp_kubesim.c: see lp_kubesim.h. */
#include "lp_kubesim.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t lp_kubesim_start(const char *dir, const char *const *extra)
{
	const char *top = getenv("LP_TOP");
	char sim[600], kc[300];
	const char *argv[40];
	size_t n = 0;
	struct stat st;
	pid_t pid;

	snprintf(sim, sizeof(sim), "%s/tests/kubesim/kubesim", top ? top : ".");
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	if (stat(sim, &st) != 0) {
		printf("# kubesim not found at %s\n", sim);
		return -1;
	}
	argv[n++] = sim;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--tls-dir";
	argv[n++] = dir;
	argv[n++] = "--token";
	argv[n++] = "T";
	argv[n++] = "--kubeconfig-out";
	argv[n++] = kc;
	for (size_t i = 0; extra && extra[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char log[300];
		FILE *f;
		snprintf(log, sizeof(log), "%s/kubesim.log", dir);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		f = freopen(log, "w", stdout);
		if (f)
			dup2(fileno(f), 2);
		execv(sim, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) { /* 30 s at most */
		int status;
		if (stat(kc, &st) == 0)
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			printf("# kubesim exited early (see %s/kubesim.log)\n", dir);
			return -1;
		}
		usleep(100000);
	}
	printf("# kubesim did not write its kubeconfig in 30 s\n");
	lp_kubesim_stop(pid);
	return -1;
}

void lp_kubesim_stop(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}
