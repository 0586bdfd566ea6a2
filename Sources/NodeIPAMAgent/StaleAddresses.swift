import CNIIPAM
import Foundation
import MultiCIDR

/// An address the plugin's store holds outside the node's current podCIDRs: its pod was
/// given an address the cluster now routes elsewhere, and must be restarted.
public struct StaleAddress: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let containerID: String?
    public let pod: String?

    public var description: String {
        "\(address)" + (pod.map { " (pod \($0)" + (containerID.map { ", container \($0)" } ?? "") + ")" } ?? containerID.map { " (container \($0))" } ?? "")
    }
}

public enum StaleAddresses {
    /// Address files in `directory` that lie in none of `prefixes`, sorted.
    public static func find(storeDirectory directory: String, outside prefixes: [IPPrefix]) -> [StaleAddress] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var stale: [StaleAddress] = []
        for name in names {
            guard case .address(let address) = StoreFormat.classify(name) else { continue }
            let single = IPPrefix(address: address, length: address.family.bitWidth)
            if prefixes.contains(where: { $0.contains(single) }) { continue }
            let owner = AtomicFile.read(directory + "/" + name).flatMap { Owner(fileContent: $0) }
            let pod = owner.flatMap { owner -> String? in
                guard owner.pod.namespace != nil || owner.pod.name != nil else { return nil }
                return "\(owner.pod.namespace ?? "?")/\(owner.pod.name ?? "?")"
            }
            stale.append(StaleAddress(address: address, containerID: owner?.containerID, pod: pod))
        }
        return stale.sorted { $0.address < $1.address }
    }

    /// The ERROR line for a podCIDRs change (a Node deleted and registered again under the same name).
    public static func changeMessage(nodeName: String, old: [IPPrefix], new: [IPPrefix], stale: [StaleAddress], storeDirectory: String) -> String {
        let head = "podCIDRs of node \(nodeName) changed from \(old.map(\.description).joined(separator: ",")) to "
            + "\(new.map(\.description).joined(separator: ",")) (was the Node deleted and registered again?); the CNI config now gives new pods addresses from the new ranges"
        guard !stale.isEmpty else { return head + "; no address in \(storeDirectory) lies outside them" }
        return head + "; \(stale.count) address(es) in \(storeDirectory) lie outside them, restart those pods: "
            + stale.map(\.description).joined(separator: "; ")
    }
}
