import Foundation
import Testing
@testable import NIC

@Suite(.enabled(if: Privileges.canUseNamespaces, Privileges.skipReason))
struct NetworkNamespaceTests {
    /// Returns the network namespace of the calling thread, as the kernel
    /// names it (`net:[inode]`).
    static func currentNamespace() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
    }

    @Test func closureRunsInsideNamespace() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        let outside = try Self.currentNamespace()
        let expected = try FileManager.default.attributesOfItem(atPath: NetworkNamespace.path(for: ns.name))[.systemFileNumber] as? UInt64
        let inside = try NetworkNamespace.run(in: ns.name) { try Self.currentNamespace() }
        #expect(inside != outside)
        #expect(inside == "net:[\(expected ?? 0)]")
        // The calling thread stays where it was.
        #expect(try Self.currentNamespace() == outside)
    }

    @Test func missingNamespaceIsNotFound() {
        do {
            try NetworkNamespace.run(in: "capnet-nic-no-such-ns") {}
            Issue.record("entered a missing namespace")
        } catch let error as DeviceError {
            #expect(error.code == .notFound)
            #expect(error.description.contains("ip netns add capnet-nic-no-such-ns"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func closureErrorIsRethrown() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        #expect(throws: TestFailure.self) {
            try NetworkNamespace.run(in: ns.name) { throw TestFailure("from inside") }
        }
    }
}
