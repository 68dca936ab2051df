/// Locations of the virtio structures of a modern virtio PCI device, found
/// by walking the PCI capability list (virtio 1.2 §4.1.4).
///
/// ```
/// struct virtio_pci_cap {
///     u8 cap_vndr;    // 0x09: vendor-specific
///     u8 cap_next;
///     u8 cap_len;
///     u8 cfg_type;    // VIRTIO_PCI_CAP_*_CFG
///     u8 bar;         // 0..5
///     u8 id;
///     u8 padding[2];
///     le32 offset;    // within the BAR
///     le32 length;
/// };
/// struct virtio_pci_notify_cap { struct virtio_pci_cap cap; le32 notify_off_multiplier; };
/// ```
public struct VirtioPCICapabilities: Equatable, Sendable {
    /// One structure's location: a BAR, an offset into it, and a length.
    public struct Location: Equatable, Sendable {
        public var bar: Int
        public var offset: Int
        public var length: Int

        public init(bar: Int, offset: Int, length: Int) {
            self.bar = bar
            self.offset = offset
            self.length = length
        }
    }

    public var common: Location
    public var notify: Location
    /// `notify_off_multiplier`: bytes between queue notification addresses (§4.1.4.4).
    public var notifyOffMultiplier: UInt32
    public var isr: Location
    /// Absent for device types without configuration; virtio-net has one.
    public var device: Location?

    /// `cfg_type` values (§4.1.4).
    public enum ConfigType {
        public static let common: UInt8 = 1
        public static let notify: UInt8 = 2
        public static let isr: UInt8 = 3
        public static let device: UInt8 = 4
    }

    // Offsets in the PCI configuration header (PCI Local Bus 3.0).
    static let statusOffset = 0x06
    static let statusCapabilitiesList: UInt8 = 0x10
    static let capabilitiesPointerOffset = 0x34
    static let capabilityPointerMask: UInt8 = 0xFC
    static let vendorSpecificCapabilityID: UInt8 = 0x09
    /// Capabilities walked before the list counts as a loop: the 192 bytes
    /// above the 64-byte header fit at most 48 capabilities of 4 bytes.
    static let maxCapabilities = 48
    static let barCount = 6

    // Offsets inside virtio_pci_cap.
    static let capLenOffset = 2
    static let cfgTypeOffset = 3
    static let barOffset = 4
    static let structureOffsetOffset = 8
    static let lengthOffset = 12
    static let notifyOffMultiplierOffset = 16
    static let minimumCapLength = 16
    static let minimumNotifyCapLength = 20

    /// Parses the capability list of a 256-byte configuration space. Uses
    /// the first capability of each type with a valid BAR, as §4.1.4
    /// recommends to drivers. Throws when the list is malformed or a required
    /// structure (common, notify, ISR) is missing.
    public static func parse(configSpace: [UInt8]) throws -> VirtioPCICapabilities {
        func byte(_ offset: Int) throws -> UInt8 {
            guard offset >= 0, offset < configSpace.count else {
                throw VirtioError(.transportFailure, "PCI capability at offset \(offset) lies outside the \(configSpace.count)-byte configuration space")
            }
            return configSpace[offset]
        }
        func le32(_ offset: Int) throws -> UInt32 {
            var value: UInt32 = 0
            for i in (0..<4).reversed() { value = value << 8 | UInt32(try byte(offset + i)) }
            return value
        }

        guard try byte(statusOffset) & statusCapabilitiesList != 0 else {
            throw VirtioError(.transportFailure, "PCI device has no capability list; it is not a modern virtio device")
        }
        var common: Location?, notify: Location?, isr: Location?, device: Location?
        var multiplier: UInt32 = 0
        var pointer = Int(try byte(capabilitiesPointerOffset) & capabilityPointerMask)
        var walked = 0
        while pointer != 0 {
            walked += 1
            guard walked <= maxCapabilities else {
                throw VirtioError(.transportFailure, "PCI capability list does not end after \(maxCapabilities) entries")
            }
            let next = Int(try byte(pointer + 1) & capabilityPointerMask)
            defer { pointer = next }
            guard try byte(pointer) == vendorSpecificCapabilityID,
                  Int(try byte(pointer + capLenOffset)) >= minimumCapLength else { continue }
            let bar = Int(try byte(pointer + barOffset))
            guard bar < barCount else { continue }   // reserved BAR values are ignored (§4.1.4)
            let location = Location(bar: bar, offset: Int(try le32(pointer + structureOffsetOffset)),
                                    length: Int(try le32(pointer + lengthOffset)))
            switch try byte(pointer + cfgTypeOffset) {
            case ConfigType.common where common == nil:
                common = location
            case ConfigType.notify where notify == nil:
                guard Int(try byte(pointer + capLenOffset)) >= minimumNotifyCapLength else { continue }
                notify = location
                multiplier = try le32(pointer + notifyOffMultiplierOffset)
            case ConfigType.isr where isr == nil:
                isr = location
            case ConfigType.device where device == nil:
                device = location
            default:
                continue
            }
        }
        guard let common, let notify, let isr else {
            throw VirtioError(.transportFailure,
                              "PCI device lacks a virtio capability (common: \(common != nil), notify: \(notify != nil), ISR: \(isr != nil)); it is not a modern virtio device")
        }
        return VirtioPCICapabilities(common: common, notify: notify, notifyOffMultiplier: multiplier,
                                     isr: isr, device: device)
    }
}
