// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for the decoders and parsers that read what the API server, a kubeconfig
// or a ClusterCIDR author hands us. A package of its own so that the main package stays free
// of fuzzing entry points. Each target is an executable with no `main`: built with
// `--sanitize=fuzzer` (see hack/fuzz.sh), libFuzzer supplies `main` and calls the target's
// `LLVMFuzzerTestOneInput`. The watch target imports KubeClient `@testable` (its line decoder is
// internal), so build in debug, where SwiftPM compiles every module with testing enabled.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// A path dependency is known by its folder's name, which differs between clones (CI clones
// the project into another folder): take it from where this package sits.
let root = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main")

let package = Package(
    name: "node-ipam-controller-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .target(name: "FuzzSupport", swiftSettings: strict),
    ] + [
        ("FuzzWatchLine", ["KubeClient", "ClusterCIDRAPI"]),
        ("FuzzListDecoding", ["KubeClient", "ClusterCIDRAPI"]),
        ("FuzzKubeConfig", ["KubeClient"]),
        ("FuzzClusterCIDR", ["KubeClient", "ClusterCIDRAPI", "MultiCIDR"]),
        ("FuzzManifests", ["KubeClient", "ClusterCIDRAPI"]),
        ("FuzzCIDR", ["MultiCIDR"]),
    ].map { name, products in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: root) },
            swiftSettings: strict
        )
    }
)
