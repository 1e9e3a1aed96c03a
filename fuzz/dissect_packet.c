/* Fuzz target: the dissector (conformance/dissect.h), one frame per input.
 *
 * Input: byte 0 picks the link type (low 4 bits index the supported link
 * types; bit 7 set: the frame was cut by the snapshot length, wirelen =
 * caplen + 64); the rest is the frame. The frame is copied into a heap block
 * of exactly its size so ASan sees any read past caplen.
 *
 * Invariants: the error is a known one and error_offset lies inside the
 * frame; every pointer the packet holds (ip_payload, payload) points into the
 * frame with its captured length inside it; captured lengths never exceed
 * the lengths the headers claim; the names and formatters NUL-terminate. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dissect.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void check_inside(const uint8_t *frame, size_t caplen, const uint8_t *p, size_t n,
                         const char *what)
{
    if (n == 0)
        return;
    FUZZ_CHECK(p != NULL && p >= frame && p <= frame + caplen && n <= caplen - (size_t)(p - frame),
               "%s [%p, +%zu) outside the frame [%p, +%zu)", what, (const void *)p, n,
               (const void *)frame, caplen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int linktype = fuzz_linktype_of(data[0]);
    uint32_t caplen = (uint32_t)(size - 1);
    uint32_t wirelen = (data[0] & 0x80) ? caplen + 64 : caplen;
    uint8_t *frame = malloc(caplen ? caplen : 1);
    FUZZ_CHECK(frame != NULL, "out of memory");
    if (caplen)
        memcpy(frame, data + 1, caplen);

    struct packet p;
    enum dissect_error e = dissect_frame(&p, 1, 1000000, linktype, frame, caplen, wirelen);

    FUZZ_CHECK(e == p.error, "returned %d, packet says %d", (int)e, (int)p.error);
    FUZZ_CHECK((unsigned)e < DISSECT_ERROR_COUNT, "unknown error %d", (int)e);
    FUZZ_CHECK(p.error_offset <= caplen, "error_offset %zu past caplen %u", p.error_offset,
               caplen);
    FUZZ_CHECK(dissect_linktype_supported(linktype) || e == DISSECT_UNSUPPORTED_LINKTYPE,
               "unsupported link type %d not refused", linktype);
    const char *name = dissect_error_name(e);
    FUZZ_CHECK(name != NULL && name[0] != '\0', "error %d has no name", (int)e);
    check_inside(frame, caplen, p.ip_payload, p.ip_payload_caplen, "ip_payload");
    check_inside(frame, caplen, p.payload, p.payload_caplen, "payload");
    if (e == DISSECT_OK) {
        FUZZ_CHECK(p.ip_payload_caplen <= p.ip_payload_len, "ip payload caplen %u > len %u",
                   p.ip_payload_caplen, p.ip_payload_len);
        FUZZ_CHECK(p.payload_caplen <= p.payload_len, "payload caplen %u > len %u",
                   p.payload_caplen, p.payload_len);
        FUZZ_CHECK(p.ip_version == 4 || p.ip_version == 6, "ok packet with IP version %u",
                   p.ip_version);
        FUZZ_CHECK(p.vlan_count <= 2, "%u VLAN tags", p.vlan_count);
        FUZZ_CHECK(p.opt.sack_blocks <= TCP_MAX_SACK_BLOCKS, "%u SACK blocks",
                   p.opt.sack_blocks);
        FUZZ_CHECK(!packet_is_tcp(&p) || p.tcp_header_len >= 20, "TCP header of %u bytes",
                   p.tcp_header_len);
        if (!p.snap_truncated)
            FUZZ_CHECK(p.payload_caplen == p.payload_len,
                       "payload %u of %u bytes captured without snaplen truncation",
                       p.payload_caplen, p.payload_len);
    }
    char text[128];
    endpoint_format(&(struct endpoint){p.src, p.sport}, text, sizeof text);
    FUZZ_CHECK(memchr(text, '\0', sizeof text) != NULL, "endpoint text not terminated");
    ip_addr_format(&p.dst, text, sizeof text);
    FUZZ_CHECK(memchr(text, '\0', sizeof text) != NULL, "address text not terminated");
    free(frame);
    return 0;
}
