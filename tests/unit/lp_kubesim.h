/* Test helper: runs tests/kubesim for a test program (TLS on 127.0.0.1, a
 * free port, admin token "T"), so C tests can talk to a real API server. */
#ifndef LP_TEST_KUBESIM_H
#define LP_TEST_KUBESIM_H
#include <sys/types.h>

/* Starts kubesim with its TLS files and dir/kubeconfig in dir, plus the
 * NULL-terminated extra arguments (may be NULL). It dies with the test
 * (PR_SET_PDEATHSIG); its output goes to dir/kubesim.log. Waits (30 s at most)
 * for the kubeconfig. Returns its pid, or -1 (with a "# why" line printed). */
pid_t lp_kubesim_start(const char *dir, const char *const *extra);
/* SIGTERM, then SIGKILL after 5 s. pid <= 0 is ignored. */
void lp_kubesim_stop(pid_t pid);

#endif
