/* nft: `nft -f -` as a supervised process. See nft.h. */
#include "nft.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "process.h"

static int exec_nft(void *ctx)
{
    (void)ctx;
    execlp("nft", "nft", "-f", "-", (char *)NULL);
    return 127;
}

bool nft_load_ruleset(const char *ruleset, char *err, size_t errlen)
{
    char said[512]; /* what nft printed, for the error message */
    said[0] = '\0';
    struct process_output out = { .data = said, .size = sizeof said };
    struct process nft;
    struct process_options o = { .what = "nft", .stdin_pipe = true, .merge_stderr = true,
                                 .exec = exec_nft };
    if (!process_spawn(&nft, &out, NULL, &o, err, errlen)) {
        if (nft.pid > 0) {
            process_close_stdin(&nft);
            process_signal(&nft, SIGKILL);
            process_reap(&nft, true);
        }
        return false;
    }
    /* nft reads the whole ruleset before it answers, and the rules are a
     * few hundred bytes: one write cannot block on a full pipe. */
    size_t len = strlen(ruleset);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    ssize_t n = write(nft.in_fd, ruleset, len);
    int saved = errno;
    signal(SIGPIPE, old);
    process_close_stdin(&nft);
    process_wait(&nft, INT64_MAX);
    if (nft.wait_errno) {
        snprintf(err, errlen, "waitpid nft: %s", strerror(nft.wait_errno));
        return false;
    }
    if (nft.status == 127) {
        snprintf(err, errlen, "nft not found: install nftables to use faults");
        return false;
    }
    if (nft.status != 0) {
        snprintf(err, errlen, "nft -f - rejected the fault rules: %s", said);
        return false;
    }
    if (n != (ssize_t)len) {
        snprintf(err, errlen, "write fault rules to nft: %s", n < 0 ? strerror(saved) : "short write");
        return false;
    }
    return true;
}
