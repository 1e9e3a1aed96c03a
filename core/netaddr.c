#include "netaddr.h"
#include "textput.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

bool net_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!s || !*s)
        return false;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned digit = (unsigned)(*p - '0');
        if (digit > max || v > (max - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

bool net_parse_port(const char *s, uint16_t *out)
{
    unsigned long v;
    if (!net_parse_uint(s, 65535, &v))
        return false;
    *out = (uint16_t)v;
    return true;
}

bool net_parse_seconds(const char *s, int64_t *ms_out)
{
    if (!s || !*s)
        return false;
    int64_t whole = 0, frac_ms = 0, scale = 100;
    const char *p = s;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        whole = whole * 10 + (*p - '0');
        if (whole > 86400 * 365)
            return false;
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            frac_ms += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p != '\0' || digits == 0)
        return false;
    int64_t ms = whole * 1000 + frac_ms;
    if (ms <= 0)
        return false;
    *ms_out = ms;
    return true;
}

void net_format(const struct sockaddr *sa, socklen_t len, char out[NET_ADDRSTR_LEN])
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        snprintf(out, NET_ADDRSTR_LEN, "%s:%u", host, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        snprintf(out, NET_ADDRSTR_LEN, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else {
        snprintf(out, NET_ADDRSTR_LEN, "(address family %d)", sa->sa_family);
    }
}

char *net_put_addr(char *p, const struct sockaddr *sa, socklen_t len)
{
    if (sa->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in)) {
        char s[NET_ADDRSTR_LEN];
        net_format(sa, len, s);
        return put_str(p, s);
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    const uint8_t *b = (const uint8_t *)&sin->sin_addr;
    for (int i = 0; i < 4; i++) {
        /* An octet in two tests, not a loop over its digits. */
        unsigned v = b[i];
        if (v >= 100) {
            *p++ = (char)('0' + v / 100);
            *p++ = (char)('0' + v / 10 % 10);
        } else if (v >= 10) {
            *p++ = (char)('0' + v / 10);
        }
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : ':';
    }
    return put_u64(p, ntohs(sin->sin_port));
}

uint16_t net_port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

bool net_same_endpoint(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return false;
}
