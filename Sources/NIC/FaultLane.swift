import CapnetBase

/// The faults of one direction: its profile, its own seeded generator and
/// its bounded queue of held (delayed or reordered) frames.
///
/// Frames enter through `admit` in arrival order and leave through the
/// `out` batch. A held frame carries the time it is due and an arrival
/// sequence number; due frames leave in (due time, sequence) order. A
/// reordered frame becomes due as soon as a frame that arrived after it has
/// left, which makes the two swap places.
final class FaultLane {
    let profile: FaultProfile
    let queueLimit: Int
    let reorderHold: Nanoseconds
    private var random: SeededRandom
    private(set) var injected = DeviceCounters()

    // The held frames, unordered; removal swaps the last entry in.
    private let heldFrames: UnsafeMutablePointer<Frame>
    private let dueTimes: UnsafeMutablePointer<Instant>
    private let sequences: UnsafeMutablePointer<UInt64>
    private let waitsForSuccessor: UnsafeMutablePointer<Bool>
    private(set) var heldCount = 0
    private var nextSequence: UInt64 = 0
    /// The earliest due time among held frames (`.distantFuture` when none),
    /// so a lane with nothing due costs one comparison.
    private(set) var earliestDue = Instant.distantFuture

    /// A due time before any clock reading: frames made due by a successor
    /// leave before everything else.
    private static let overdue = Instant(nanoseconds: .min)

    init(profile: FaultProfile, seed: UInt64, queueLimit: Int, reorderHold: Nanoseconds) {
        self.profile = profile
        self.queueLimit = queueLimit
        self.reorderHold = reorderHold
        random = SeededRandom(seed: seed)
        heldFrames = .allocate(capacity: queueLimit)
        dueTimes = .allocate(capacity: queueLimit)
        sequences = .allocate(capacity: queueLimit)
        waitsForSuccessor = .allocate(capacity: queueLimit)
    }

    deinit {
        heldFrames.deallocate()
        dueTimes.deallocate()
        sequences.deallocate()
        waitsForSuccessor.deallocate()
    }

    /// Applies loss, duplication, reordering and delay to `frame`. Frames
    /// that go on at once are appended to `out` (held as overdue when `out`
    /// is full). Takes ownership of the frame's slot.
    func admit(_ frame: Frame, now: Instant, pool: FramePool, out: inout FrameBatch) {
        if random.chance(profile.loss) {
            pool.release(frame.slot)
            injected.injectedDrops &+= 1
            return
        }
        var copy: Frame?
        if random.chance(profile.duplicate), let slot = pool.allocate() {
            pool.buffer(slot).baseAddress!.copyMemory(from: pool.bytes(frame).baseAddress!, byteCount: Int(frame.length))
            copy = Frame(slot: slot, length: Int(frame.length))
            injected.injectedDuplicates &+= 1
        }
        route(frame, now: now, pool: pool, out: &out)
        if let copy { route(copy, now: now, pool: pool, out: &out) }
    }

    private func route(_ frame: Frame, now: Instant, pool: FramePool, out: inout FrameBatch) {
        let sequence = nextSequence
        nextSequence &+= 1
        if random.chance(profile.reorder) {
            injected.injectedReorders &+= 1
            hold(frame, due: now + profile.delay + reorderHold, sequence: sequence, waits: true, pool: pool)
        } else if profile.delay.value > 0 {
            injected.injectedDelays &+= 1
            hold(frame, due: now + profile.delay, sequence: sequence, waits: false, pool: pool)
        } else if out.append(frame) {
            releaseWaiters(before: sequence)
        } else {
            hold(frame, due: FaultLane.overdue, sequence: sequence, waits: false, pool: pool)
        }
    }

    /// Appends held frames due at `now` to `out`, in (due time, sequence)
    /// order, until `out` is full.
    func drainDue(now: Instant, out: inout FrameBatch) {
        while earliestDue <= now && !out.isFull {
            var best = -1
            for i in 0..<heldCount where dueTimes[i] <= now {
                if best < 0 || dueTimes[i] < dueTimes[best]
                    || (dueTimes[i] == dueTimes[best] && sequences[i] < sequences[best]) {
                    best = i
                }
            }
            guard best >= 0 else { break }
            let frame = heldFrames[best]
            let sequence = sequences[best]
            let waited = waitsForSuccessor[best]
            remove(at: best)
            out.append(frame)
            if !waited { releaseWaiters(before: sequence) }
            recomputeEarliestDue()
        }
    }

    /// Returns every held frame's slot to `pool`.
    func releaseAll(to pool: FramePool) {
        for i in 0..<heldCount { pool.release(heldFrames[i].slot) }
        heldCount = 0
        earliestDue = .distantFuture
    }

    private func hold(_ frame: Frame, due: Instant, sequence: UInt64, waits: Bool, pool: FramePool) {
        guard heldCount < queueLimit else {
            pool.release(frame.slot)
            injected.injectedQueueOverflows &+= 1
            return
        }
        heldFrames[heldCount] = frame
        dueTimes[heldCount] = due
        sequences[heldCount] = sequence
        waitsForSuccessor[heldCount] = waits
        heldCount += 1
        if due < earliestDue { earliestDue = due }
    }

    /// Makes reordered frames that arrived before `sequence` due at once: a
    /// later frame has now left ahead of them.
    private func releaseWaiters(before sequence: UInt64) {
        for i in 0..<heldCount where waitsForSuccessor[i] && sequences[i] < sequence {
            waitsForSuccessor[i] = false
            dueTimes[i] = FaultLane.overdue
            earliestDue = FaultLane.overdue
        }
    }

    private func remove(at index: Int) {
        heldCount -= 1
        if index != heldCount {
            heldFrames[index] = heldFrames[heldCount]
            dueTimes[index] = dueTimes[heldCount]
            sequences[index] = sequences[heldCount]
            waitsForSuccessor[index] = waitsForSuccessor[heldCount]
        }
    }

    private func recomputeEarliestDue() {
        var earliest = Instant.distantFuture
        for i in 0..<heldCount where dueTimes[i] < earliest { earliest = dueTimes[i] }
        earliestDue = earliest
    }
}
