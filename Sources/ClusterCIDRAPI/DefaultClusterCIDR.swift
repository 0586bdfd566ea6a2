import KubeClient
import MultiCIDR

/// The `default-cluster-cidr` pool derived from kube-controller-manager style flags
/// (`--cluster-cidr`, `--node-cidr-mask-size-ipv4`, `--node-cidr-mask-size-ipv6`).
public enum DefaultClusterCIDR {
    /// The spec for one or two cluster CIDRs (at most one per family). Host bits follow the
    /// reference (32 − mask for IPv4, 128 − mask for IPv6, at least 4); when the two families
    /// need different host bits, IPv6 gets its own through `perNodeHostBitsIPv6`.
    public static func spec(
        clusterCIDRs: [String], nodeMaskSizeIPv4: Int = 24, nodeMaskSizeIPv6: Int = 64
    ) throws(InvalidClusterCIDR) -> ClusterCIDRSpec {
        func fail(_ message: String) -> InvalidClusterCIDR {
            InvalidClusterCIDR([ClusterCIDRValidationError(name: ClusterCIDR.defaultPoolName, field: "--cluster-cidr", message: message)])
        }
        guard !clusterCIDRs.isEmpty, clusterCIDRs.count <= 2 else {
            throw fail("expected one CIDR or one IPv4 and one IPv6 CIDR, got \(clusterCIDRs.count)")
        }
        var ipv4: String?
        var ipv6: String?
        for text in clusterCIDRs {
            let prefix: IPPrefix
            do { prefix = try IPPrefix(parsing: text) } catch { throw fail(error.description) }
            if prefix.family == .ipv4 {
                guard ipv4 == nil else { throw fail("two IPv4 CIDRs given (\(ipv4!), \(text)); give at most one per family") }
                ipv4 = text
            } else {
                guard ipv6 == nil else { throw fail("two IPv6 CIDRs given (\(ipv6!), \(text)); give at most one per family") }
                ipv6 = text
            }
        }
        let minimum = Int(ClusterCIDR.minimumPerNodeHostBits)
        let bitsIPv4 = max(minimum, 32 - nodeMaskSizeIPv4)
        let bitsIPv6 = max(minimum, 128 - nodeMaskSizeIPv6)
        let spec: ClusterCIDRSpec
        switch (ipv4, ipv6) {
        case (_?, _?):
            spec = ClusterCIDRSpec(
                perNodeHostBits: Int32(clamping: bitsIPv4),
                perNodeHostBitsIPv6: bitsIPv6 == bitsIPv4 ? nil : Int32(clamping: bitsIPv6),
                ipv4: ipv4, ipv6: ipv6)
        case (_?, nil):
            spec = ClusterCIDRSpec(perNodeHostBits: Int32(clamping: bitsIPv4), ipv4: ipv4)
        default:
            spec = ClusterCIDRSpec(perNodeHostBits: Int32(clamping: bitsIPv6), ipv6: ipv6)
        }
        let errors = ClusterCIDR(name: ClusterCIDR.defaultPoolName, spec: spec).validate()
        guard errors.isEmpty else { throw InvalidClusterCIDR(errors) }
        return spec
    }

    /// The default ClusterCIDR object: no selector (catch-all) and the finalizer.
    public static func object(
        clusterCIDRs: [String], nodeMaskSizeIPv4: Int = 24, nodeMaskSizeIPv6: Int = 64
    ) throws(InvalidClusterCIDR) -> ClusterCIDR {
        let spec = try spec(clusterCIDRs: clusterCIDRs, nodeMaskSizeIPv4: nodeMaskSizeIPv4, nodeMaskSizeIPv6: nodeMaskSizeIPv6)
        return ClusterCIDR(metadata: ObjectMeta(name: ClusterCIDR.defaultPoolName, finalizers: [ClusterCIDR.finalizer]), spec: spec)
    }
}
