// swift-tools-version: 6.0
// capnet: a userspace network stack with built-in TLS termination.
// Layers import downward only; see the README's design section.
import PackageDescription

/// Settings shared by every Swift target. The hot paths are written against
/// Swift 5 language mode because the stack's single-threaded run loop owns all
/// of its state and does not cross isolation domains.
let common: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "capnet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "capnet", targets: ["capnet"]),
        .executable(name: "capnet-load", targets: ["capnet-load"]),
    ],
    targets: [
        // System libraries from Debian, found through pkg-config.
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibSSL", pkgConfig: "libssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap",
                       providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CURing", pkgConfig: "liburing",
                       providers: [.apt(["liburing-dev"])]),

        // Logging, time and seeded randomness shared by every layer.
        .target(name: "CapnetBase", swiftSettings: common),

        .target(name: "NIC", dependencies: ["CapnetBase", "CPcap", "CURing"],
                swiftSettings: common),
        .target(name: "NetStack", dependencies: ["CapnetBase", "NIC"],
                swiftSettings: common),
        .target(name: "TLSEngine", dependencies: ["CapnetBase", "CLibCrypto", "NetStack"],
                swiftSettings: common),
        .target(name: "WebUI", dependencies: ["CapnetBase", "NetStack", "TLSEngine"],
                swiftSettings: common),
        .target(name: "Acme", dependencies: ["CapnetBase", "CLibCrypto", "NetStack", "TLSEngine"],
                swiftSettings: common),
        .target(name: "HostSim", dependencies: ["CapnetBase", "NIC", "NetStack"],
                path: "hostsim/HostSim", swiftSettings: common),

        // libFuzzer target for the TLS server; CFuzzerDriver reaches
        // libFuzzer's driver past SwiftPM's own main.
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "tls-fuzz", dependencies: ["CapnetBase", "TLSEngine", "CFuzzerDriver"],
                          swiftSettings: common),
        // libFuzzer targets for the record reader, the handshake message
        // parsers and certificate loading with chain verification.
        .executableTarget(name: "tls-record-fuzz", dependencies: ["CapnetBase", "TLSEngine", "CFuzzerDriver"],
                          swiftSettings: common),
        .executableTarget(name: "tls-handshake-fuzz", dependencies: ["CapnetBase", "TLSEngine", "CFuzzerDriver"],
                          swiftSettings: common),
        .executableTarget(name: "tls-certificate-fuzz", dependencies: ["CapnetBase", "TLSEngine", "CFuzzerDriver"],
                          swiftSettings: common),

        .executableTarget(name: "capnet",
                          dependencies: ["CapnetBase", "NIC", "NetStack", "TLSEngine",
                                         "WebUI", "Acme"],
                          swiftSettings: common),
        // TLS handshake load generator; its client side is OpenSSL's libssl.
        .executableTarget(name: "capnet-load",
                          dependencies: ["CapnetBase", "NetStack", "CLibSSL"],
                          path: "tools/capnet-load", swiftSettings: common),
        // Frames per second through the virtio-net driver (benchmark, not a test).
        .executableTarget(name: "bench-virtio", dependencies: ["CapnetBase", "NIC", "HostSim"],
                          path: "tools/bench-virtio", swiftSettings: common),
        .systemLibrary(name: "CBenchCrypto", path: "tools/bench-handshake-shim"),
        // In-memory TLS handshake and record benchmark: capnet's server and
        // OpenSSL's libssl server, both driven by one libssl client.
        .executableTarget(name: "bench-handshake",
                          dependencies: ["CapnetBase", "TLSEngine", "CLibCrypto", "CLibSSL", "CBenchCrypto"],
                          path: "tools/bench-handshake", swiftSettings: common),

        .testTarget(name: "CapnetBaseTests", dependencies: ["CapnetBase"]),
        .testTarget(name: "NICTests", dependencies: ["NIC", "CPcap"]),
        .testTarget(name: "NetStackTests", dependencies: ["NetStack", "NIC", "HostSim"]),
        .testTarget(name: "TLSEngineTests", dependencies: ["TLSEngine", "CLibCrypto"]),
        .testTarget(name: "HostSimTests", dependencies: ["HostSim", "NetStack", "NIC"]),
        .testTarget(name: "IntegrationTests", dependencies: ["CapnetBase"],
                    // Kernel-side client scripts, run from the source tree by path.
                    exclude: ["Scripts"],
                    resources: [.copy("browser-login.py")]),
        .testTarget(name: "WebUITests", dependencies: ["WebUI", "CapnetBase", "NetStack", "NIC"]),
        .testTarget(name: "VirtioTests", dependencies: ["NIC", "HostSim", "CapnetBase"]),
        .testTarget(name: "AcmeTests", dependencies: ["Acme", "CLibCrypto", "CapnetBase"]),
        .testTarget(name: "LoadTests", dependencies: ["capnet-load", "CapnetBase", "NetStack"]),
    ],
    swiftLanguageModes: [.v5]
)
