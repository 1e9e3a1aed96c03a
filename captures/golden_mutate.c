/* golden_mutate IN.pcapng OUT.pcapng: copies a golden capture with one byte
 * of a TCP header changed, for the negative golden test: the low byte of the
 * acknowledgment number of the first SYN/ACK is flipped (XOR 0x01), so the
 * SYN/ACK no longer acknowledges the client's ISN + 1 and `wirecheck check`
 * must fail tcp.handshake.synack_acks_isn.
 *
 * Walks the pcapng blocks itself (either byte order) so the copy is the
 * original file, comments and all, except for that one byte; the frame is
 * located with the project's dissector. Prints what it changed.
 * Exit: 0 changed, 1 no SYN/ACK found, 2 unreadable or not pcapng. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dissect.h"

enum { PCAPNG_SHB = 0x0A0D0D0A, PCAPNG_IDB = 1, PCAPNG_EPB = 6, MAX_IFACES = 64 };

static uint32_t get32(const uint8_t *p, bool swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (swap)
        v = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
    return v;
}

static uint16_t get16(const uint8_t *p, bool swap)
{
    uint16_t v = (uint16_t)(p[0] | p[1] << 8);
    return swap ? (uint16_t)(v >> 8 | v << 8) : v;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* File offset of the ack number's low byte in the first SYN/ACK, 0 if none,
 * -1 if the file is not a well-formed little/big-endian pcapng. */
static long find_synack_ack(const uint8_t *buf, size_t len, uint32_t *frame_out)
{
    /* The byte-order magic is the first field of the first block's body. */
    if (len < 12 || get32(buf, false) != PCAPNG_SHB)
        return -1;
    bool swap;
    if (get32(buf + 8, false) == 0x1A2B3C4D)
        swap = false;
    else if (get32(buf + 8, true) == 0x1A2B3C4D)
        swap = true;
    else
        return -1;

    int linktype[MAX_IFACES];
    unsigned nifaces = 0;
    uint32_t frame = 0;
    size_t off = 0;
    while (off + 12 <= len) {
        uint32_t type = get32(buf + off, swap);
        uint32_t blen = get32(buf + off + 4, swap);
        if (blen < 12 || blen % 4 != 0 || blen > len - off)
            return -1;
        const uint8_t *body = buf + off + 8;
        size_t body_len = blen - 12;
        if (type == PCAPNG_SHB) {
            nifaces = 0; /* a new section starts its own interface list */
        } else if (type == PCAPNG_IDB) {
            if (body_len < 2 || nifaces == MAX_IFACES)
                return -1;
            linktype[nifaces++] = get16(body, swap);
        } else if (type == PCAPNG_EPB) {
            if (body_len < 20)
                return -1;
            frame++;
            uint32_t iface = get32(body, swap);
            uint32_t caplen = get32(body + 12, swap);
            uint32_t wirelen = get32(body + 16, swap);
            if (iface >= nifaces || caplen > body_len - 20)
                return -1;
            const uint8_t *data = body + 20;
            struct packet p;
            if (dissect_frame(&p, frame, 0, linktype[iface], data, caplen, wirelen) == DISSECT_OK &&
                p.l4 == L4_TCP && (p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) &&
                p.ip_payload >= data && p.ip_payload + 12 <= data + caplen) {
                *frame_out = frame;
                /* TCP header: ports (4), seq (4), ack (4): low byte at +11. */
                return (long)((p.ip_payload + 11) - buf);
            }
        }
        off += blen;
    }
    return off == len ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: golden_mutate IN.pcapng OUT.pcapng\n");
        return 2;
    }
    size_t len;
    uint8_t *buf = read_file(argv[1], &len);
    if (!buf) {
        perror(argv[1]);
        return 2;
    }
    uint32_t frame = 0;
    long at = find_synack_ack(buf, len, &frame);
    if (at < 0) {
        fprintf(stderr, "golden_mutate: %s: not a well-formed pcapng file\n", argv[1]);
        free(buf);
        return 2;
    }
    if (at == 0) {
        fprintf(stderr, "golden_mutate: %s: no SYN/ACK in the capture\n", argv[1]);
        free(buf);
        return 1;
    }
    uint8_t before = buf[at];
    buf[at] ^= 0x01;
    FILE *out = fopen(argv[2], "wb");
    bool written = out && fwrite(buf, 1, len, out) == len;
    if (out && fclose(out) != 0)
        written = false;
    if (!written) {
        perror(argv[2]);
        free(buf);
        return 2;
    }
    printf("%s: frame %u (SYN/ACK): ack number low byte at file offset %ld: 0x%02x -> 0x%02x\n",
           argv[2], frame, at, before, buf[at]);
    free(buf);
    return 0;
}
