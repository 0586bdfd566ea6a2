#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// kube-apiserver's Node rules that our controller depends on (ValidateNode / ValidateNodeUpdate):
/// `spec.podCIDRs` must be valid CIDRs, at most one per IP family (so at most two); once set they can
/// never change. `spec.podCIDR` is converted as the v1 API does: it mirrors `podCIDRs[0]`.
enum NodeValidation {
    enum Family { case v4, v6 }

    /// The family of a CIDR as the API server accepts it (host bits may be set), or nil if invalid.
    static func family(ofCIDR text: String) -> Family? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]), !parts[1].hasPrefix("+"), !parts[1].hasPrefix("-") else { return nil }
        var buf = [UInt8](repeating: 0, count: 16)
        let addr = String(parts[0])
        if !addr.contains(":") {
            guard inet_pton(AF_INET, addr, &buf) == 1, bits >= 0, bits <= 32 else { return nil }
            return .v4
        }
        guard inet_pton(AF_INET6, addr, &buf) == 1, bits >= 0, bits <= 128 else { return nil }
        return .v6
    }

    static func strings(_ j: JSON?) -> [String] { (j?.arrayValue ?? []).map { $0.stringValue ?? "" } }

    static func admit(old: JSON?, new: inout JSON) throws(StatusError) {
        // NodeSpec and NodeStatus are structs in the v1 API, so a stored Node always has both
        // (a JSON patch adding /spec/podCIDRs works on a node created without a spec).
        for field in ["spec", "status"] where new[field] == nil || new[field] == .null { new[path: [field]] = .object([:]) }
        let name = new["metadata"]?["name"]?.stringValue ?? ""
        var cidrs = strings(new["spec"]?["podCIDRs"])
        if cidrs.isEmpty, let single = new["spec"]?["podCIDR"]?.stringValue, !single.isEmpty {
            cidrs = [single]
        }
        var causes: [StatusError.Cause] = []
        for (i, c) in cidrs.enumerated() where family(ofCIDR: c) == nil {
            causes.append(.init(type: "FieldValueInvalid", field: "spec.podCIDRs[\(i)]",
                                message: "Invalid value: \"\(c)\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        }
        if cidrs.count > 1 {
            let fams = cidrs.compactMap(family(ofCIDR:))
            let dual = fams.count == 2 && Set(fams.map { $0 == .v4 }).count == 2
            if !dual || cidrs.count > 2 {
                let list = "[]string{" + cidrs.map { "\"\($0)\"" }.joined(separator: ", ") + "}"
                causes.append(.init(type: "FieldValueInvalid", field: "spec.podCIDRs",
                                    message: "Invalid value: \(list): may specify no more than one CIDR for each IP family"))
            }
        }
        if let old {
            var oldCIDRs = strings(old["spec"]?["podCIDRs"])
            if oldCIDRs.isEmpty, let single = old["spec"]?["podCIDR"]?.stringValue, !single.isEmpty { oldCIDRs = [single] }
            if !oldCIDRs.isEmpty, oldCIDRs != cidrs {
                causes.append(.init(type: "FieldValueForbidden", field: "spec.podCIDRs",
                                    message: "Forbidden: node updates may not change podCIDR except from \"\" to valid"))
            }
        }
        if !causes.isEmpty { throw StatusError.invalid(kind: "Node", group: "", name: name, causes: causes) }
        if !cidrs.isEmpty {
            new[path: ["spec", "podCIDRs"]] = .array(cidrs.map { .string($0) })
            new[path: ["spec", "podCIDR"]] = .string(cidrs[0])
        }
    }
}
