#!/usr/bin/python3
"""Builds the reference packets of ScapyVectors.swift with scapy.

Run with Debian's python3-scapy (2.5.0 on Debian 12):
    /usr/bin/python3 tools/vectors/make_netstack_vectors.py > Tests/NetStackTests/ScapyVectors.swift
Every packet is assembled and checksummed by scapy, never by capnet.
"""
from scapy.all import ARP, ICMP, IP, UDP, Ether, IPOption, Raw, fragment
import scapy

OUR_MAC = "02:00:00:00:00:02"
OUR_IP = "192.0.2.2"
PEER_MAC = "02:00:00:00:00:01"
PEER_IP = "192.0.2.1"
BROADCAST = "ff:ff:ff:ff:ff:ff"
# The first IPv4 identification the tests configure the interface with.
FIRST_ID = 0x1000

vectors = {}


def add(name, packet, comment):
    vectors[name] = (bytes(packet), comment)


# ARP (RFC 826)
add("arpRequestForUs",
    Ether(dst=BROADCAST, src=PEER_MAC) / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst="00:00:00:00:00:00", pdst=OUR_IP),
    "The peer requests our MAC address.")
add("arpReplyFromUs",
    Ether(dst=PEER_MAC, src=OUR_MAC) / ARP(op=2, hwsrc=OUR_MAC, psrc=OUR_IP, hwdst=PEER_MAC, pdst=PEER_IP),
    "Our reply to arpRequestForUs.")
add("arpReplyFromPeer",
    Ether(dst=OUR_MAC, src=PEER_MAC) / ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=OUR_MAC, pdst=OUR_IP),
    "The peer replies to our request.")
add("arpRequestFromUs",
    Ether(dst=BROADCAST, src=OUR_MAC) / ARP(op=1, hwsrc=OUR_MAC, psrc=OUR_IP, hwdst="00:00:00:00:00:00", pdst=PEER_IP),
    "We ask for the peer's MAC address.")
add("gratuitousARP",
    Ether(dst=BROADCAST, src=OUR_MAC) / ARP(op=1, hwsrc=OUR_MAC, psrc=OUR_IP, hwdst="00:00:00:00:00:00", pdst=OUR_IP),
    "Our announcement (RFC 5227 section 3).")

# ICMP echo (RFC 792)
request_data = bytes(range(56))
echo_request = IP(src=PEER_IP, dst=OUR_IP, id=0x4D2, flags=0, ttl=64) / ICMP(type=8, id=0x1234, seq=7) / Raw(request_data)
add("echoRequest", Ether(dst=OUR_MAC, src=PEER_MAC) / echo_request, "A ping with 56 data octets, as ping(8) sends.")
echo_reply = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / ICMP(type=0, id=0x1234, seq=7) / Raw(request_data)
add("echoReply", Ether(dst=PEER_MAC, src=OUR_MAC) / echo_reply, "Our reply to echoRequest.")

# A 4000-octet ping (ping -s 4000), fragmented at MTU 1500 both ways.
big_data = bytes((i * 7) & 0xFF for i in range(4000))
big_request = IP(src=PEER_IP, dst=OUR_IP, id=0xBEEF, flags=0, ttl=64) / ICMP(type=8, id=0x99, seq=1) / Raw(big_data)
for index, piece in enumerate(fragment(big_request, fragsize=1480)):
    add(f"bigEchoRequestFragment{index}", Ether(dst=OUR_MAC, src=PEER_MAC) / piece, f"Fragment {index} of a 4000-octet ping.")
big_reply = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / ICMP(type=0, id=0x99, seq=1) / Raw(big_data)
for index, piece in enumerate(fragment(big_reply, fragsize=1480)):
    add(f"bigEchoReplyFragment{index}", Ether(dst=PEER_MAC, src=OUR_MAC) / piece, f"Fragment {index} of our reply.")
add("bigEchoReplyWhole", big_reply, "Our reply before fragmentation, as one IPv4 datagram.")

# Fragment zero alone, then the time exceeded sent when it times out.
first = fragment(big_request, fragsize=1480)[0]
time_exceeded = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / ICMP(type=11, code=1) / Raw(bytes(first)[:28])
add("reassemblyTimeExceeded", Ether(dst=PEER_MAC, src=OUR_MAC) / time_exceeded,
    "Time exceeded (fragment reassembly) quoting fragment zero's header and 8 octets.")

# UDP (RFC 768)
udp_request = IP(src=PEER_IP, dst=OUR_IP, id=0x77, flags=0, ttl=64) / UDP(sport=40000, dport=7) / Raw(b"hello, capnet")
add("udpToPort7", Ether(dst=OUR_MAC, src=PEER_MAC) / udp_request, "A datagram to the echo port.")
udp_echo = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / UDP(sport=7, dport=40000) / Raw(b"hello, capnet")
add("udpEchoFromPort7", Ether(dst=PEER_MAC, src=OUR_MAC) / udp_echo, "Our echo of udpToPort7.")
closed_request = IP(src=PEER_IP, dst=OUR_IP, id=0x78, flags=0, ttl=64) / UDP(sport=40001, dport=9999) / Raw(b"anyone there?")
add("udpToClosedPort", Ether(dst=OUR_MAC, src=PEER_MAC) / closed_request, "A datagram to a port with no socket.")
unreachable = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / ICMP(type=3, code=3) / Raw(bytes(closed_request)[:28])
add("portUnreachable", Ether(dst=PEER_MAC, src=OUR_MAC) / unreachable, "Port unreachable quoting the header and 8 octets.")
no_checksum = IP(src=PEER_IP, dst=OUR_IP, id=0x79, flags=0, ttl=64) / UDP(sport=40002, dport=7, chksum=0) / Raw(b"no checksum")
add("udpWithoutChecksum", no_checksum, "Checksum 0: the sender computed none.")

# A payload whose UDP checksum computes to zero, so it goes out as 0xFFFF.
for value in range(65536):
    candidate = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / UDP(sport=7, dport=40000) / Raw(value.to_bytes(2, "big"))
    if bytes(candidate)[26:28] == b"\xff\xff":
        add("udpChecksumAllOnes", candidate, f"Payload {value:#06x}: the sum is zero, sent as 0xFFFF.")
        break

# IPv4 with options (RFC 791): IHL 6 with NOP, NOP, NOP, end of list.
add("ipv4WithOptions",
    IP(src=PEER_IP, dst=OUR_IP, id=0x55, flags="DF", ttl=33, options=[IPOption(b"\x01\x01\x01\x00")]) / UDP(sport=1, dport=2) / Raw(b"opt"),
    "IHL 6; DF set; TTL 33.")

# Cases where RFC 1122 section 3.2.2 forbids an ICMP error, and protocol unreachable.
broadcast_closed = IP(src=PEER_IP, dst="192.0.2.255", id=0x7A, flags=0, ttl=64) / UDP(sport=40003, dport=9999) / Raw(b"broadcast")
add("udpToBroadcastClosedPort", Ether(dst=BROADCAST, src=PEER_MAC) / broadcast_closed, "To the subnet broadcast; no socket.")
add("echoRequestToBroadcast",
    Ether(dst=BROADCAST, src=PEER_MAC) / IP(src=PEER_IP, dst="255.255.255.255", id=0x7B, flags=0, ttl=64) / ICMP(type=8, id=1, seq=1) / Raw(b"all"),
    "A ping to 255.255.255.255.")
unknown_protocol = IP(src=PEER_IP, dst=OUR_IP, id=0x7C, flags=0, ttl=64, proto=253) / Raw(b"experimental payload")
add("unknownProtocol", Ether(dst=OUR_MAC, src=PEER_MAC) / unknown_protocol, "Protocol 253 (RFC 3692 experimentation).")
protocol_unreachable = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / ICMP(type=3, code=2) / Raw(bytes(unknown_protocol)[:28])
add("protocolUnreachable", Ether(dst=PEER_MAC, src=OUR_MAC) / protocol_unreachable, "Our reply to unknownProtocol.")
icmp_error = IP(src=PEER_IP, dst=OUR_IP, id=0x7D, flags=0, ttl=64) / ICMP(type=3, code=1) / Raw(bytes(range(256)) * 8)
add("fragmentedICMPErrorFragment0", Ether(dst=OUR_MAC, src=PEER_MAC) / fragment(icmp_error, fragsize=1480)[0],
    "Fragment zero of a 2056-octet destination unreachable.")
add("bigEchoRequestFragment1Alone", Ether(dst=OUR_MAC, src=PEER_MAC) / fragment(big_request, fragsize=1480)[1],
    "Same bytes as bigEchoRequestFragment1.")
add("tcpSegment",
    Ether(dst=OUR_MAC, src=PEER_MAC) / IP(src=PEER_IP, dst=OUR_IP, id=0x7E, flags="DF", ttl=64, proto=6) / Raw(b"not really tcp"),
    "Protocol 6 with an opaque payload, for a registered handler.")
add("arpRequestForOtherHost",
    Ether(dst=BROADCAST, src=PEER_MAC) / ARP(op=1, hwsrc="02:00:00:00:00:03", psrc="192.0.2.3", hwdst="00:00:00:00:00:00", pdst="192.0.2.99"),
    "192.0.2.3 requests the MAC of 192.0.2.99, not ours.")
add("arpPeerMovedAnnouncement",
    Ether(dst=BROADCAST, src="02:00:00:00:00:0a") / ARP(op=1, hwsrc="02:00:00:00:00:0a", psrc=PEER_IP, hwdst="00:00:00:00:00:00", pdst=PEER_IP),
    "The peer announces a new MAC address; the target is not us.")
add("arpPeerMovedRARP",
    Ether(dst=BROADCAST, src="02:00:00:00:00:0b") / ARP(op=3, hwsrc="02:00:00:00:00:0b", psrc=PEER_IP, hwdst="00:00:00:00:00:00", pdst=OUR_IP),
    "Opcode 3 (RARP request) from the peer with another MAC, targeting us.")
udp_big = IP(src=OUR_IP, dst=PEER_IP, id=FIRST_ID, flags=0, ttl=64) / UDP(sport=5000, dport=6000) / Raw(bytes((i * 13) & 0xFF for i in range(3000)))
for index, piece in enumerate(fragment(udp_big, fragsize=1480)):
    add(f"udpLargeFragment{index}", Ether(dst=PEER_MAC, src=OUR_MAC) / piece, f"Fragment {index} of a 3000-octet UDP payload from port 5000.")

# An ICMP error about a TCP segment we sent, for a transport that takes ICMP errors.
our_segment = IP(src=OUR_IP, dst=PEER_IP, id=0x2222, flags="DF", ttl=64, proto=6) / Raw(bytes.fromhex("c35000500000000100000000"))
add("unreachableAboutOurTCP",
    Ether(dst=OUR_MAC, src=PEER_MAC) / IP(src=PEER_IP, dst=OUR_IP, id=0x7F, flags=0, ttl=64) / ICMP(type=3, code=3) / Raw(bytes(our_segment)[:28]),
    "Port unreachable quoting our segment from port 50000 to port 80.")

print("// Generated by tools/vectors/make_netstack_vectors.py with scapy %s; do not edit." % scapy.__version__)
print("// Each packet was built and checksummed by scapy, as a reference independent of capnet.")
print()
print("enum ScapyVectors {")
for name, (data, comment) in vectors.items():
    print(f"    /// {comment}")
    print(f'    static let {name} = hexBytes("{data.hex()}")')
print("}")
