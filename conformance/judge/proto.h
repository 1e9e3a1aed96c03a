/* proto: the numbers the wire protocols assign, by name.
 *
 *   #include "proto.h"
 *   if (p->proto == WC_IPPROTO_UDP && p->icmp_type == WC_ICMP_DEST_UNREACH) ...
 *   switch (kind) { case WC_TCPOPT_MSS: ...; case WC_TCPOPT_WSCALE: ...; }
 *   dissect_frame(&p, 1, ts, WC_LINK_RAW, bytes, caplen, wirelen);
 *
 * Every constant carries a WC_ prefix (or, for the TCP flags, the TCP_
 * names the project has always used) because the system headers already
 * claim IPPROTO_*, ETHERTYPE_* and TCPOPT_* as macros, with values that
 * differ between C libraries for the rarer ones. The values come from the
 * IANA registries and the RFCs named beside them. No code, no includes:
 * any layer may include this header. */
#ifndef WIRECHECK_PROTO_H
#define WIRECHECK_PROTO_H

/* Link-layer header types as pcap files store them (LINKTYPE_*), plus the
 * DLT_* aliases libpcap may hand back for them on Linux. */
enum {
    WC_LINK_NULL = 0,       /* BSD loopback, host-order u32 family */
    WC_LINK_EN10MB = 1,     /* Ethernet */
    WC_LINK_PPP = 9,        /* PPP (RFC 1661), optional FF 03 HDLC address/control */
    WC_LINK_RAW_DLT = 12,   /* DLT_RAW on Linux */
    WC_LINK_PPP_HDLC = 50,  /* PPP in HDLC-like framing (RFC 1662), DLT_PPP_SERIAL */
    WC_LINK_RAW = 101,      /* LINKTYPE_RAW */
    WC_LINK_C_HDLC = 104,   /* Cisco HDLC: address, control, Ethernet type */
    WC_LINK_LOOP = 108,     /* OpenBSD loopback, network-order u32 family */
    WC_LINK_LINUX_SLL = 113,
    WC_LINK_IPV4 = 228,
    WC_LINK_IPV6 = 229,
    WC_LINK_NFLOG = 239,    /* Linux netfilter NFLOG: family, version, resource id, TLVs */
    WC_LINK_PKTAP = 258,    /* Apple PKTAP: a header naming the inner link type */
    WC_LINK_LINUX_SLL2 = 276,
};

/* PPP protocol numbers (RFC 1661, IANA "PPP DLL Protocol Numbers"). */
enum {
    WC_PPP_IPV4 = 0x0021,
    WC_PPP_IPV6 = 0x0057,
};

/* NFLOG (LINKTYPE_NFLOG): the TLV that carries the packet, and the
 * families of the header's first byte. */
enum {
    WC_NFULA_PAYLOAD = 9,
    WC_NFLOG_AF_INET = 2,
    WC_NFLOG_AF_INET6 = 10,
};

/* The address family word of a BSD loopback header (LINKTYPE_NULL/LOOP):
 * AF_INET is 2 everywhere, AF_INET6 differs per OS. */
enum {
    WC_BSD_AF_INET = 2,
    WC_BSD_AF_INET6_LINUX = 10,
    WC_BSD_AF_INET6_BSD = 24,     /* NetBSD, OpenBSD */
    WC_BSD_AF_INET6_FREEBSD = 28,
    WC_BSD_AF_INET6_DARWIN = 30,
};

/* Ethertypes (IEEE 802 numbers). */
enum {
    WC_ETHERTYPE_IPV4 = 0x0800,
    WC_ETHERTYPE_IPV6 = 0x86DD,
    WC_ETHERTYPE_VLAN = 0x8100,     /* 802.1Q customer tag */
    WC_ETHERTYPE_QINQ = 0x88A8,     /* 802.1ad service tag */
    WC_ETHERTYPE_QINQ_OLD = 0x9100, /* pre-standard QinQ */
    WC_ETHERTYPE_TEB = 0x6558,      /* transparent Ethernet bridging (GRE, GENEVE) */
    WC_ETHERTYPE_PPPOE_SESSION = 0x8864, /* RFC 2516 session stage: PPP inside */
};

/* Tunnels decapsulated (dissect_tunnel.c): IP in IP (RFC 2003), IPv6 in
 * IPv4 (RFC 4213), GRE (RFC 2784/2890), VXLAN (RFC 7348), GENEVE (RFC 8926). */
enum {
    WC_IPPROTO_IPIP = 4,
    WC_IPPROTO_IPV6_IN_IP = 41,
    WC_IPPROTO_GRE = 47,
    WC_UDP_PORT_VXLAN = 4789,
    WC_UDP_PORT_GENEVE = 6081,
    WC_GRE_FLAG_CSUM = 0x8000,
    WC_GRE_FLAG_ROUTING = 0x4000,
    WC_GRE_FLAG_KEY = 0x2000,
    WC_GRE_FLAG_SEQ = 0x1000,
    WC_GRE_VERSION_MASK = 0x0007,
    WC_VXLAN_FLAG_VNI = 0x08,
    WC_VXLAN_HEADER_LEN = 8,
    WC_GENEVE_HEADER_LEN = 8,
};

/* IP protocol numbers: the IPv4 protocol field, the IPv6 next header,
 * including the IPv6 extension headers (RFC 8200 4). */
enum {
    WC_IPPROTO_HOPOPTS = 0,   /* IPv6 hop-by-hop options */
    WC_IPPROTO_ICMP = 1,
    WC_IPPROTO_TCP = 6,
    WC_IPPROTO_UDP = 17,
    WC_IPPROTO_ROUTING = 43,  /* IPv6 routing header */
    WC_IPPROTO_FRAGMENT = 44, /* IPv6 fragment header */
    WC_IPPROTO_AH = 51,       /* authentication header: length in 4-byte units */
    WC_IPPROTO_ICMPV6 = 58,
    WC_IPPROTO_NONE = 59,     /* IPv6: nothing follows */
    WC_IPPROTO_DSTOPTS = 60,  /* IPv6 destination options */
};

/* IPv4 header: the flags and fragment offset word (RFC 791). */
enum {
    WC_IPV4_MIN_HEADER_LEN = 20,
    WC_IPV4_FLAG_DF = 0x4000,
    WC_IPV4_FLAG_MF = 0x2000,
    WC_IPV4_FRAG_OFFSET_MASK = 0x1fff, /* in 8-byte units */
};

/* IPv6 (RFC 8200): the fixed header, the fragment header's offset word, the
 * routing header types whose segments-left names a final destination. */
enum {
    WC_IPV6_HEADER_LEN = 40,
    WC_IPV6_FRAG_OFFSET_MASK = 0xfff8, /* offset in bytes, low 3 bits flags */
    WC_IPV6_FRAG_MORE = 0x0001,
    WC_IPV6_ROUTING_TYPE0 = 0,  /* source route, deprecated (RFC 5095) */
    WC_IPV6_ROUTING_MIP6 = 2,   /* Mobile IPv6 home address (RFC 6275) */
    WC_IPV6_ROUTING_SRH = 4,    /* segment routing header (RFC 8754) */
};

/* ICMP types and codes (RFC 792) that the judge names. */
enum {
    WC_ICMP_DEST_UNREACH = 3,
    WC_ICMP_SOURCE_QUENCH = 4,
    WC_ICMP_REDIRECT = 5,
    WC_ICMP_TIME_EXCEEDED = 11,
    WC_ICMP_PARAM_PROBLEM = 12,
    WC_ICMP_UNREACH_PORT = 3,   /* code of WC_ICMP_DEST_UNREACH */
};

/* ICMPv6 types and codes (RFC 4443): types below 128 are errors. */
enum {
    WC_ICMP6_DEST_UNREACH = 1,
    WC_ICMP6_PACKET_TOO_BIG = 2,
    WC_ICMP6_TIME_EXCEEDED = 3,
    WC_ICMP6_PARAM_PROBLEM = 4,
    WC_ICMP6_UNREACH_PORT = 4,  /* code of WC_ICMP6_DEST_UNREACH */
};

/* ICMP and ICMPv6 both: type, code, checksum and 4 more bytes, then (for
 * an error) the quoted datagram. */
enum { WC_ICMP_HEADER_LEN = 8 };

/* TCP header (RFC 9293): the flag bits of byte 13, the fixed header. */
enum {
    TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08,
    TCP_ACK = 0x10, TCP_URG = 0x20, TCP_ECE = 0x40, TCP_CWR = 0x80,
};
enum { WC_TCP_MIN_HEADER_LEN = 20 };

/* TCP option kinds (IANA "TCP Option Kind Numbers"). */
enum {
    WC_TCPOPT_EOL = 0,            /* end of option list */
    WC_TCPOPT_NOP = 1,
    WC_TCPOPT_MSS = 2,            /* 2-byte maximum segment size */
    WC_TCPOPT_WSCALE = 3,         /* 1-byte window scale shift (RFC 7323) */
    WC_TCPOPT_SACK_PERMITTED = 4, /* no body (RFC 2018) */
    WC_TCPOPT_SACK = 5,           /* 8-byte left/right edge pairs */
    WC_TCPOPT_TIMESTAMPS = 8,     /* TSval, TSecr (RFC 7323) */
    WC_TCPOPT_FASTOPEN = 34,      /* cookie of 0 or 4..16 bytes (RFC 7413) */
    WC_TCPOPT_EXPERIMENTAL = 254, /* shared experimental kind (RFC 6994) */
};
/* The experiment id with which kind 254 carries TCP Fast Open, as Linux sent
 * it before kind 34 was assigned. */
enum { WC_TCPOPT_EXP_FASTOPEN_MAGIC = 0xF989 };

/* UDP header (RFC 768). */
enum { WC_UDP_HEADER_LEN = 8 };

#endif
