// libpcap headers for the live device and the capture writer.
#ifndef CAPNET_CPCAP_SHIM_H
#define CAPNET_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
