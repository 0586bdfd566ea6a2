// swift-tools-version:6.1
import PackageDescription

// Benchmarks of the allocation engine (MultiCIDR) and of the Kubernetes client (KubeClient
// against an in-process LocalAPIServer), run by hack/bench.sh. A package of its own so that
// the main package does not depend on package-benchmark. Each suite lives in
// Benchmarks/<Name>/<Name>.swift, where the benchmark plugin looks for it.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// A path dependency is known by its folder's name, which differs between clones (CI clones
// the project into another folder): take it from where this package sits.
let root = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main")

let package = Package(
    name: "node-ipam-controller-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        ("NextFitAllocation", ["MultiCIDR"]),
        ("PoolDecision", ["MultiCIDR"]),
        ("MillionIPv6Nodes", ["MultiCIDR"]),
        // Real-shaped Node JSON through the informer's projection (no server, no curl calls).
        ("RealisticNodes", ["KubeClient"]),
        // Only this suite links libcurl, swift-nio and the TLS stacks.
        ("KubeClientRequests", ["KubeClient", "LocalAPIServer"]),
    ].map { name, products in
        .executableTarget(
            name: name,
            dependencies: products.map { .product(name: $0, package: root) } + [
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/\(name)",
            swiftSettings: strict,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    }
)
