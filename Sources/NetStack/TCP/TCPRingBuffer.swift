/// Bytes all connections of a layer may hold in send and receive buffers
/// together (`TCPConfiguration.globalBufferLimit`).
public struct TCPMemoryBudget: Sendable {
    public let limit: Int
    public private(set) var inUse = 0

    public init(limit: Int) { self.limit = limit }

    /// Takes `bytes` from the budget; returns false (taking nothing) past the limit.
    mutating func reserve(_ bytes: Int) -> Bool {
        guard inUse + bytes <= limit else { return false }
        inUse += bytes
        return true
    }

    mutating func release(_ bytes: Int) { inUse -= bytes }
}

/// A byte ring for one direction of a connection. Storage grows by doubling
/// up to `maximumCapacity` while the memory budget allows, and never shrinks
/// while the connection lives, so space promised to a peer stays backed.
///
/// The receive side writes out-of-order data past `count` (at offsets below
/// `capacity`) and makes it readable later with `commit`.
struct TCPRingBuffer {
    private(set) var storage: [UInt8] = []
    /// Index in `storage` of the first readable byte.
    private(set) var head = 0
    /// Readable bytes (in-order data for receive, unacknowledged data for send).
    private(set) var count = 0
    let maximumCapacity: Int

    /// First allocation; small so idle connections cost little.
    static let initialCapacity = 4096

    init(maximumCapacity: Int) { self.maximumCapacity = maximumCapacity }

    var capacity: Int { storage.count }
    var freeSpace: Int { storage.count - count }

    /// Grows the storage to at least `needed` bytes (capped at the maximum)
    /// if the budget allows; returns whether the capacity is now `needed`.
    @discardableResult
    mutating func grow(toAtLeast needed: Int, budget: inout TCPMemoryBudget) -> Bool {
        let target = min(needed, maximumCapacity)
        if target <= storage.count { return needed <= storage.count }
        var newCapacity = max(storage.count, Self.initialCapacity)
        while newCapacity < target { newCapacity *= 2 }
        newCapacity = min(newCapacity, maximumCapacity)
        guard budget.reserve(newCapacity - storage.count) else { return false }

        // Linearize: the bytes from head onwards (including out-of-order data
        // stored past count) move to the start of the new storage.
        var newStorage = [UInt8](repeating: 0, count: newCapacity)
        let oldCapacity = storage.count
        if oldCapacity > 0 {
            let firstPart = oldCapacity - head
            newStorage.replaceSubrange(0..<firstPart, with: storage[head..<oldCapacity])
            newStorage.replaceSubrange(firstPart..<oldCapacity, with: storage[0..<head])
        }
        storage = newStorage
        head = 0
        return needed <= newCapacity
    }

    /// Returns all memory to the budget.
    mutating func release(budget: inout TCPMemoryBudget) {
        budget.release(storage.count)
        storage = []
        head = 0
        count = 0
    }

    /// Copies `bytes` to `offset` bytes past the first readable byte. The
    /// caller checks `offset + bytes.count <= capacity`.
    mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + bytes.count <= storage.count, "ring write out of bounds")
        let cap = storage.count
        var start = (head + offset) % max(cap, 1)
        var source = 0
        storage.withUnsafeMutableBytes { dest in
            while source < bytes.count {
                let run = min(bytes.count - source, cap - start)
                dest.baseAddress!.advanced(by: start)  // non-nil: cap > 0 because the precondition held
                    .copyMemory(from: bytes.baseAddress!.advanced(by: source), byteCount: run)
                source += run
                start = 0
            }
        }
    }

    /// Appends at the end of the readable bytes, growing if possible; returns bytes taken.
    mutating func append(_ bytes: UnsafeRawBufferPointer, budget: inout TCPMemoryBudget) -> Int {
        if freeSpace < bytes.count { grow(toAtLeast: count + bytes.count, budget: &budget) }
        let taken = min(bytes.count, freeSpace)
        if taken > 0 {
            write(UnsafeRawBufferPointer(rebasing: bytes[0..<taken]), at: count)
            count += taken
        }
        return taken
    }

    /// Makes `n` bytes written past `count` readable.
    mutating func commit(_ n: Int) {
        precondition(count + n <= storage.count, "ring commit past capacity")
        count += n
    }

    /// Drops `n` bytes from the front.
    mutating func consume(_ n: Int) {
        precondition(n <= count, "ring consume past count")
        guard n > 0 else { return }
        head = (head + n) % storage.count
        count -= n
    }

    /// Calls `body` with the bytes at `offset..<offset+length` (relative to
    /// the first readable byte) as one or two contiguous pieces.
    func withBytes<R>(offset: Int, length: Int,
                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
        precondition(offset >= 0 && length >= 0 && offset + length <= storage.count, "ring read out of bounds")
        return storage.withUnsafeBytes { raw in
            guard length > 0 else { return body(UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0)) }
            let cap = raw.count
            let start = (head + offset) % cap
            let firstLength = min(length, cap - start)
            let first = UnsafeRawBufferPointer(rebasing: raw[start..<start + firstLength])
            let second = UnsafeRawBufferPointer(rebasing: raw[0..<length - firstLength])
            return body(first, second)
        }
    }

    /// Copies up to `destination.count` readable bytes out and consumes them.
    mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(destination.count, count)
        guard n > 0 else { return 0 }
        withBytes(offset: 0, length: n) { first, second in
            destination.baseAddress!.copyMemory(from: first.baseAddress!, byteCount: first.count)
            if second.count > 0 {
                destination.baseAddress!.advanced(by: first.count)
                    .copyMemory(from: second.baseAddress!, byteCount: second.count)
            }
        }
        consume(n)
        return n
    }
}
