/* Fuzz target that proves the pipeline: a copy of ONE receive loop,
 * sockio_read_to_eof (core/sockio.c), compiled with a DELIBERATE BUG when
 * WIRECHECK_PLANTED_BUG is defined.
 *
 *   >>> THIS IS A PLANTED BUG. It exists only in this file, only in the
 *   >>> fuzz-planted_bug target, which only the libfuzzer preset builds and
 *   >>> fuzz/prove-planted-bug runs. No shipped program contains it.
 *
 * The plant: once the buffer is full, the real loop reads the one byte that
 * tells EOF from overflow into a separate `spill` byte; the planted copy
 * reads it into buf[cap], one byte past the caller's buffer (an off-by-one
 * write). A peer that sends more than cap bytes triggers it; ASan reports a
 * heap-buffer-overflow WRITE of size 1. fuzz/prove-planted-bug asserts that
 * libFuzzer finds it from an empty corpus within a bounded number of runs,
 * and that the same harness without the plant (fuzz-planted_fixed) does not
 * crash in as many runs.
 *
 * Input: a schedule (core/script.h), as for tcp_client_recv. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "script.h"
#include "sockio.h"
#include "timemsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Copy of sockio_read_to_eof; the only difference is under the #ifdef. */
static enum sio_status copy_of_read_to_eof(const struct sockio *io, int fd, void *buf, size_t cap,
                                           int64_t deadline, size_t *got, int *err)
{
    uint8_t *at = buf;
    *got = 0;
    for (;;) {
        uint8_t spill;
        bool full = *got == cap;
        size_t n;
#ifdef WIRECHECK_PLANTED_BUG
        /* DELIBERATE PLANTED BUG: the probe byte lands at buf[cap]. */
        (void)spill;
        enum sio_status s = sockio_recv_some(io, fd, full ? at + cap : at + *got,
                                             full ? 1 : cap - *got, deadline, &n, err);
#else
        enum sio_status s = sockio_recv_some(io, fd, full ? &spill : at + *got,
                                             full ? 1 : cap - *got, deadline, &n, err);
#endif
        if (s == SIO_EOF)
            return SIO_OK;
        if (s != SIO_OK)
            return s;
        if (full)
            return SIO_OVERFLOW;
        *got += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct script s;
    script_init(&s, data, size, true);
    struct sockio io = script_sockio(&s);
    const size_t cap = TIMEMSG_LEN;
    uint8_t *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL, "out of memory");
    size_t got = 0;
    int err = 0;
    copy_of_read_to_eof(&io, FUZZ_FD, buf, cap, sockio_deadline_in(&io, 10000), &got, &err);
    FUZZ_CHECK(got <= cap, "got %zu > cap %zu", got, cap);
    free(buf);
    return 0;
}
