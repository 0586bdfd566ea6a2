// swift-tools-version:6.1
import PackageDescription

// Module layout: see ../shared/DESIGN.md §2. Dependency direction:
// NodeIPAMController -> ClusterCIDRAPI -> MultiCIDR; ClusterCIDRAPI and NodeIPAMController -> KubeClient;
// LocalAPIServer -> KubeClient models only; only the demo (NodeIPAMDemo) and tests link LocalAPIServer.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "node-ipam-controller",
    platforms: [.macOS(.v15)],
    products: [
        // The production executable: links neither swift-nio nor LocalAPIServer.
        .executable(name: "node-ipam-controller", targets: ["NodeIPAMControllerTool"]),
        // The demo (`bash hack/demo.sh`): the controller against a bundled LocalAPIServer.
        .executable(name: "node-ipam-demo", targets: ["NodeIPAMDemo"]),
        .executable(name: "local-apiserver", targets: ["LocalAPIServerTool"]),
        .library(name: "MultiCIDR", targets: ["MultiCIDR"]),
        .library(name: "ClusterCIDRAPI", targets: ["ClusterCIDRAPI"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "LocalAPIServer", targets: ["LocalAPIServer"]),
        // The CNI IPAM plugin (ipam.type "node-ipam"), see ../shared/spec/CNI.md.
        .executable(name: "node-ipam", targets: ["NodeIPAM"]),
        // The node agent (DaemonSet): watches its own Node and writes the CNI config. A separate
        // executable so the plugin stays free of Foundation, libcurl and Yams (docs/node-ipam-agent.md).
        .executable(name: "node-ipam-agent", targets: ["NodeIPAMAgentTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Pure allocation engine: standard library only.
        .target(name: "MultiCIDR", swiftSettings: strict),
        // libcurl through pkg-config (Debian: libcurl4-openssl-dev); typed wrappers in shim.h.
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "KubeClient",
            dependencies: ["CCurl", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(name: "ClusterCIDRAPI", dependencies: ["MultiCIDR", "KubeClient"], swiftSettings: strict),
        .target(
            name: "LocalAPIServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "LocalAPIServerTool",
            dependencies: [
                "LocalAPIServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // /healthz, /readyz and /metrics on POSIX sockets, the metrics registry, the log handler
        // and output that survives closed pipes: shared by the controller and the node agent.
        .target(
            name: "ServiceSupport",
            dependencies: [
                "KubeClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The controller: flags, wiring, reconcile loops, subcommands. A library so that the
        // demo and the tests link it; the executable is the one-line NodeIPAMControllerTool.
        .target(
            name: "NodeIPAMController",
            dependencies: [
                "ClusterCIDRAPI", "KubeClient", "MultiCIDR", "ServiceSupport",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "NodeIPAMControllerTool", dependencies: ["NodeIPAMController"], swiftSettings: strict),
        .executableTarget(
            name: "NodeIPAMDemo",
            dependencies: [
                "NodeIPAMController", "LocalAPIServer", "ClusterCIDRAPI", "KubeClient", "MultiCIDR", "ServiceSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // CNI IPAM plugin: a pure core (config, ranges, address choice, store format, JSON),
        // the shell that does its I/O (store under flock, environment, logs) and the executable.
        // Lean on purpose: a CNI plugin is a process per call, so start-up time is its cost —
        // no Foundation, NIO, KubeClient or Yams.
        .target(name: "CNIIPAM", dependencies: ["MultiCIDR"], swiftSettings: strict),
        .target(name: "NodeIPAMPlugin", dependencies: ["CNIIPAM", "MultiCIDR"], swiftSettings: strict),
        // The Swift runtime linked in: loading and relocating its shared libraries was most of a call.
        .executableTarget(name: "NodeIPAM", dependencies: ["NodeIPAMPlugin"], swiftSettings: strict,
                          linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        // The node agent: discovery of the node's podCIDRs, the files it writes (pure), the watch of
        // its own Node and the atomic writes (NodeIPAMAgent); the executable (NodeIPAMAgentTool).
        .target(
            name: "NodeIPAMAgent",
            dependencies: [
                "KubeClient", "CNIIPAM", "MultiCIDR", "ServiceSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "NodeIPAMAgentTool", dependencies: ["NodeIPAMAgent"], swiftSettings: strict),
        .testTarget(name: "NodeIPAMAgentTests", dependencies: ["NodeIPAMAgent", "CNIIPAM", "MultiCIDR", "KubeClient", "LocalAPIServer", "TestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "CNIIPAMTests", dependencies: ["CNIIPAM", "MultiCIDR"], swiftSettings: strict),
        .testTarget(name: "NodeIPAMPluginTests", dependencies: ["NodeIPAMPlugin", "CNIIPAM", "MultiCIDR"], swiftSettings: strict),
        .testTarget(name: "MultiCIDRTests", dependencies: ["MultiCIDR"], swiftSettings: strict),
        .testTarget(name: "ClusterCIDRAPITests", dependencies: ["ClusterCIDRAPI", "MultiCIDR", "KubeClient"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        // Helpers shared by the test targets (servers, temporary files, awaiting callbacks).
        .target(name: "TestSupport", dependencies: ["KubeClient", "LocalAPIServer"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "LocalAPIServer", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "NodeIPAMControllerTests", dependencies: ["NodeIPAMController", "LocalAPIServer", "KubeClient", "ClusterCIDRAPI", "MultiCIDR", "TestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "LocalAPIServerTests", dependencies: ["LocalAPIServer", "KubeClient"], swiftSettings: strict),
        .testTarget(name: "ServiceSupportTests", dependencies: ["ServiceSupport"], swiftSettings: strict),
    ]
)
