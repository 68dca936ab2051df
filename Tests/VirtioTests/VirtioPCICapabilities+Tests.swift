import NIC
import Testing

@Suite struct VirtioPCICapabilitiesTests {
    /// Builds a 256-byte configuration space laid out as virtio 1.2 §4.1.4
    /// describes: the capability list bit in the status register, the list
    /// head at 0x34, an MSI-X capability (ID 0x11) the parser must skip,
    /// then vendor-specific (0x09) virtio_pci_cap entries.
    static func configSpace(omitCommon: Bool = false, loop: Bool = false) -> [UInt8] {
        var space = [UInt8](repeating: 0, count: 256)
        space[0x06] = 0x10            // status: capabilities list
        space[0x34] = 0x40            // first capability
        // MSI-X capability at 0x40, next 0x50.
        space[0x40] = 0x11
        space[0x41] = 0x50
        func virtioCap(at offset: Int, next: Int, type: UInt8, bar: UInt8, structureOffset: UInt32,
                       length: UInt32, multiplier: UInt32? = nil) {
            space[offset] = 0x09
            space[offset + 1] = UInt8(next)
            space[offset + 2] = multiplier == nil ? 16 : 20
            space[offset + 3] = type
            space[offset + 4] = bar
            for i in 0..<4 {
                space[offset + 8 + i] = UInt8(truncatingIfNeeded: structureOffset >> (8 * i))
                space[offset + 12 + i] = UInt8(truncatingIfNeeded: length >> (8 * i))
                if let multiplier { space[offset + 16 + i] = UInt8(truncatingIfNeeded: multiplier >> (8 * i)) }
            }
        }
        virtioCap(at: 0x50, next: 0x60, type: omitCommon ? 9 : 1, bar: 4, structureOffset: 0x0000, length: 0x1000)
        virtioCap(at: 0x60, next: 0x70, type: 3, bar: 4, structureOffset: 0x1000, length: 0x1000)
        virtioCap(at: 0x70, next: 0x80, type: 4, bar: 4, structureOffset: 0x2000, length: 0x1000)
        virtioCap(at: 0x80, next: 0x98, type: 2, bar: 4, structureOffset: 0x3000, length: 0x1000, multiplier: 4)
        // A second common capability in BAR 2: the first one wins.
        virtioCap(at: 0x98, next: loop ? 0x50 : 0, type: 1, bar: 2, structureOffset: 0, length: 0x100)
        return space
    }

    @Test func parsesVirtioStructures() throws {
        let capabilities = try VirtioPCICapabilities.parse(configSpace: Self.configSpace())
        #expect(capabilities.common == .init(bar: 4, offset: 0x0000, length: 0x1000))
        #expect(capabilities.isr == .init(bar: 4, offset: 0x1000, length: 0x1000))
        #expect(capabilities.device == .init(bar: 4, offset: 0x2000, length: 0x1000))
        #expect(capabilities.notify == .init(bar: 4, offset: 0x3000, length: 0x1000))
        #expect(capabilities.notifyOffMultiplier == 4)
    }

    @Test func missingCommonIsRejected() {
        // The only remaining common capability is the BAR 2 one, so it is used.
        let fallback = try? VirtioPCICapabilities.parse(configSpace: Self.configSpace(omitCommon: true))
        #expect(fallback?.common == .init(bar: 2, offset: 0, length: 0x100))

        var space = Self.configSpace(omitCommon: true)
        space[0x99] = 0
        space[0x98] = 0
        #expect(throws: VirtioError.self) { try VirtioPCICapabilities.parse(configSpace: space) }
    }

    @Test func capabilityLoopIsRejected() {
        #expect(throws: VirtioError.self) { try VirtioPCICapabilities.parse(configSpace: Self.configSpace(loop: true)) }
    }

    @Test func noCapabilityListIsRejected() {
        var space = Self.configSpace()
        space[0x06] = 0
        #expect(throws: VirtioError.self) { try VirtioPCICapabilities.parse(configSpace: space) }
    }
}
