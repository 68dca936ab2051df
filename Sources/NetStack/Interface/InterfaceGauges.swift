/// Current occupancy of the interface's bounded resources, each beside its
/// bound, for metrics and the Web UI.
public struct InterfaceGauges: Sendable, Equatable {
    public var arpEntries: Int
    public var arpEntriesLimit: Int
    public var arpPendingFrames: Int
    public var arpPendingFramesLimit: Int
    public var reassemblyDatagrams: Int
    public var reassemblyDatagramsLimit: Int
    public var reassemblyBytes: Int
    public var reassemblyBytesLimit: Int
    public var udpSockets: Int
    public var framePoolFree: Int
    public var framePoolSize: Int
}

extension Interface {
    public var gauges: InterfaceGauges {
        InterfaceGauges(arpEntries: arpCache.count, arpEntriesLimit: arpCache.configuration.maximumEntries,
                        arpPendingFrames: arpCache.pendingCount,
                        arpPendingFramesLimit: arpCache.configuration.maximumPendingTotal,
                        reassemblyDatagrams: reassembler.datagramsInProgress,
                        reassemblyDatagramsLimit: reassembler.configuration.maximumDatagrams,
                        reassemblyBytes: reassembler.bufferedBytes,
                        reassemblyBytesLimit: reassembler.configuration.maximumBytes,
                        udpSockets: udpPorts.count,
                        framePoolFree: device.pool.freeCount, framePoolSize: device.pool.slotCount)
    }
}
