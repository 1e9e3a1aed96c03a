/* Fuzz target: tcp-client's receive path (tcp_client_session).
 *
 * Input: a schedule (core/script.h) of what each recv/poll/send returns on
 * the client's connection. The same schedule runs through every client
 * configuration the program has: all three expectations (time, echo, any),
 * reading to EOF and reading an exact echo, and a reply buffer that the
 * reply fits exactly, with room, or not at all. The reply buffer is a heap
 * block of exactly `cap` bytes so ASan sees a single byte written past it.
 *
 * Invariants: reply_len <= cap; reply_ok implies status SIO_OK; the return
 * value is status OK && reply_ok; `why` is NUL-terminated and set whenever
 * the session failed; the client sent exactly its message when status OK;
 * the reply printed as tcp-client prints it (fuzz_check_reply_print; in the
 * configuration that reads the whole stream into 4 KiB). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "script.h"
#include "session.h"
#include "timemsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t long_msg[300]; /* an echo that cannot fit cap 256 */

struct client_config {
    enum reply_expect expect;
    const uint8_t *send;
    size_t send_len;
    bool shutdown_write;
    bool close_after_reply;
    size_t cap;
    bool print; /* also print the reply as tcp-client does (one config: the
                   same bytes reach every config, and escaping them is most
                   of an execution's cost) */
};

static void run_one(const uint8_t *data, size_t size, const struct client_config *cfg)
{
    static struct script s; /* 64 KiB of sent bytes: keep it off the stack */
    script_init(&s, data, size, true);
    struct sockio io = script_sockio(&s);

    struct tcp_client_opts opts = {
        .send = cfg->send,
        .send_len = cfg->send_len,
        .shutdown_write = cfg->shutdown_write,
        .close_after_reply = cfg->close_after_reply,
        .expect = cfg->expect,
        .deadline = sockio_deadline_in(&io, 10000),
    };
    uint8_t *buf = malloc(cfg->cap);
    FUZZ_CHECK(buf != NULL, "out of memory");
    struct tcp_client_result res;
    bool ok = tcp_client_session(&io, FUZZ_FD, &opts, buf, cfg->cap, &res);

    FUZZ_CHECK(res.reply_len <= cfg->cap, "reply_len %zu > cap %zu", res.reply_len, cfg->cap);
    FUZZ_CHECK(!res.reply_ok || res.status == SIO_OK, "reply_ok with status %s",
               sio_status_text(res.status));
    FUZZ_CHECK(ok == (res.status == SIO_OK && res.reply_ok), "returned %d, status %s, reply_ok %d",
               ok, sio_status_text(res.status), res.reply_ok);
    FUZZ_CHECK(memchr(res.why, '\0', sizeof res.why) != NULL, "why not NUL-terminated");
    FUZZ_CHECK(ok || res.why[0] != '\0', "failed session without a reason (status %s)",
               sio_status_text(res.status));
    if (res.status == SIO_OK) {
        FUZZ_CHECK(s.sent_total == cfg->send_len, "sent %zu bytes of a %zu-byte message",
                   s.sent_total, cfg->send_len);
        FUZZ_CHECK(s.sent_len == cfg->send_len &&
                       (cfg->send_len == 0 || memcmp(s.sent, cfg->send, cfg->send_len) == 0),
                   "sent bytes differ from the message");
        FUZZ_CHECK(s.shutdowns == (cfg->shutdown_write ? 1u : 0u), "%zu shutdowns",
                   s.shutdowns);
    }
    if (cfg->print && (res.reply_len > 0 || res.status == SIO_OK))
        fuzz_check_reply_print(buf, res.reply_len); /* as tcp-client prints it */
    if (res.reply_ok && cfg->expect == EXPECT_ECHO)
        FUZZ_CHECK(res.reply_len == cfg->send_len && memcmp(buf, cfg->send, cfg->send_len) == 0,
                   "echo judged ok but differs from what was sent");
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *echo = (const uint8_t *)FUZZ_ECHO_MSG;
    size_t echo_len = sizeof FUZZ_ECHO_MSG - 1;
    if (long_msg[0] == 0)
        for (size_t i = 0; i < sizeof long_msg; i++)
            long_msg[i] = (uint8_t)('a' + i % 26);
    const struct client_config configs[] = {
        /* tcp-client --expect time: the reply fits exactly, then with room. */
        {EXPECT_TIME, NULL, 0, false, false, TIMEMSG_LEN, false},
        {EXPECT_TIME, NULL, 0, false, false, 4096, true},
        /* --expect echo --send ... --shutdown: read the echo to EOF. */
        {EXPECT_ECHO, echo, echo_len, true, false, 4096, false},
        /* --expect echo --close-after-reply: read exactly the echo. */
        {EXPECT_ECHO, echo, echo_len, false, true, 4096, false},
        /* an echo larger than the reply limit. */
        {EXPECT_ECHO, long_msg, sizeof long_msg, false, true, 256, false},
        /* --expect any with a tiny limit: overflow. */
        {EXPECT_ANY, NULL, 0, false, false, 16, false},
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        run_one(data, size, &configs[i]);
    return 0;
}
