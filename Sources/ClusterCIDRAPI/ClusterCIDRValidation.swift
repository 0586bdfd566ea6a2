import KubeClient
import MultiCIDR

extension ClusterCIDR {
    /// Every problem that makes this object unusable as a pool, empty when it is valid.
    /// Admission (the CRD's CEL rules) rejects the same objects.
    public func validate() -> [ClusterCIDRValidationError] {
        var validator = ClusterCIDRValidator(name: name)
        validator.validate(spec)
        return validator.errors
    }

    /// Problems with an update from `old` to `new`: the spec is immutable, and `new` must be valid.
    public static func validateUpdate(old: ClusterCIDR, new: ClusterCIDR) -> [ClusterCIDRValidationError] {
        var errors = new.validate()
        guard let oldSpec = old.spec, let newSpec = new.spec else { return errors }
        func changed(_ field: String, _ message: String) {
            errors.append(ClusterCIDRValidationError(
                name: new.name, field: field,
                message: "\(message) ClusterCIDRs are immutable: create a new ClusterCIDR instead"))
        }
        if oldSpec.nodeSelector != newSpec.nodeSelector { changed("spec.nodeSelector", "NodeSelector cannot be changed.") }
        if oldSpec.perNodeHostBits != newSpec.perNodeHostBits { changed("spec.perNodeHostBits", "PerNodeHostBits cannot be changed.") }
        if oldSpec.perNodeHostBitsIPv6 != newSpec.perNodeHostBitsIPv6 {
            changed("spec.perNodeHostBitsIPv6", "PerNodeHostBitsIPv6 cannot be changed.")
        }
        if oldSpec.ipv4Text != newSpec.ipv4Text { changed("spec.ipv4", "IPv4 cannot be changed.") }
        if oldSpec.ipv6Text != newSpec.ipv6Text { changed("spec.ipv6", "IPv6 cannot be changed.") }
        return errors
    }
}

/// Collects the errors of one object.
struct ClusterCIDRValidator {
    let name: String
    private(set) var errors: [ClusterCIDRValidationError] = []
    /// The parsed prefixes, for conversion.
    private(set) var ipv4: IPPrefix?
    private(set) var ipv6: IPPrefix?

    init(name: String) { self.name = name }

    private mutating func fail(_ field: String, _ message: String) {
        errors.append(ClusterCIDRValidationError(name: name, field: field, message: message))
    }

    mutating func validate(_ spec: ClusterCIDRSpec?) {
        guard let spec else {
            fail("spec", "Required value: a ClusterCIDR needs a spec with perNodeHostBits and ipv4 and/or ipv6")
            return
        }
        if spec.ipv4Text == nil && spec.ipv6Text == nil {
            fail("spec", "A CIDR must be specified for ipv4 or ipv6. Set spec.ipv4 (e.g. 10.244.0.0/16) and/or spec.ipv6 (e.g. fd00:10:244::/56)")
        }
        if let text = spec.ipv4Text {
            ipv4 = parse(text, family: .ipv4, field: "spec.ipv4", message: "IPv4 must be a valid IPv4 CIDR.", example: "10.244.0.0/16")
        }
        if let text = spec.ipv6Text {
            ipv6 = parse(text, family: .ipv6, field: "spec.ipv6", message: "IPv6 must be a valid IPv6 CIDR.", example: "fd00:10:244::/56")
        }
        validateHostBits(spec.perNodeHostBits, field: "spec.perNodeHostBits", prefixes: spec.perNodeHostBitsIPv6 == nil ? [ipv4, ipv6] : [ipv4])
        if let bitsIPv6 = spec.perNodeHostBitsIPv6 {
            validateHostBits(bitsIPv6, field: "spec.perNodeHostBitsIPv6", prefixes: [ipv6])
        }
        if let selector = spec.nodeSelector {
            validate(selector, field: "spec.nodeSelector")
        }
    }

    private mutating func parse(_ text: String, family: IPFamily, field: String, message: String, example: String) -> IPPrefix? {
        let prefix: IPPrefix
        do {
            prefix = try IPPrefix(parsing: text)
        } catch {
            fail(field, "\(message) \"\(text)\": \(error.reason); write it like \(example)")
            return nil
        }
        guard prefix.family == family else {
            let other = family == .ipv4 ? "spec.ipv6" : "spec.ipv4"
            fail(field, "\(message) \"\(text)\" is an \(prefix.family) CIDR; put it in \(other)")
            return nil
        }
        if family == .ipv6, prefix.address.isIPv4Mapped {
            fail(field, "\(message) \"\(text)\" is an IPv4-mapped IPv6 range; put the IPv4 range in spec.ipv4")
            return nil
        }
        return prefix
    }

    private mutating func validateHostBits(_ bits: Int32, field: String, prefixes: [IPPrefix?]) {
        guard bits >= ClusterCIDR.minimumPerNodeHostBits else {
            fail(field, "Invalid value: \(bits): must be greater than or equal to 4 (16 addresses per node)")
            return
        }
        for case let prefix? in prefixes where Int(bits) > prefix.hostBits {
            fail(field, "\(bits) is larger than the \(prefix.hostBits) host bits of \(prefix): must be less than or equal to \(prefix.hostBits)")
        }
    }

    private mutating func validate(_ selector: NodeSelector, field: String) {
        guard let terms = selector.nodeSelectorTerms else {
            fail("\(field).nodeSelectorTerms", "Required value: write nodeSelectorTerms: [] to select every node, or leave out nodeSelector for a catch-all pool")
            return
        }
        for (i, term) in terms.enumerated() {
            let termField = "\(field).nodeSelectorTerms[\(i)]"
            for (j, requirement) in (term.matchExpressions ?? []).enumerated() {
                validateExpression(requirement, field: "\(termField).matchExpressions[\(j)]")
            }
            for (j, requirement) in (term.matchFields ?? []).enumerated() {
                validateField(requirement, field: "\(termField).matchFields[\(j)]")
            }
        }
    }

    private mutating func validateExpression(_ requirement: NodeSelectorRequirement, field: String) {
        if let problem = LabelSyntax.qualifiedNameProblem(requirement.key) {
            fail("\(field).key", "Invalid value: \"\(requirement.key)\": \(problem)")
        }
        let values = requirement.values ?? []
        switch SelectorOperator(rawValue: requirement.operator) {
        case .in?, .notIn?:
            if values.isEmpty {
                fail("\(field).values", "Required value: must be specified when `operator` is 'In' or 'NotIn'")
            }
        case .exists?, .doesNotExist?:
            if !values.isEmpty {
                fail("\(field).values", "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            }
        case .greaterThan?, .lessThan?:
            if values.count != 1 {
                fail("\(field).values", "Required value: must be specified single value when `operator` is 'Lt' or 'Gt'")
            } else if !LabelSyntax.isSmallInteger(values[0]) {
                fail("\(field).values[0]", "Invalid value: \"\(values[0])\": must be an integer when `operator` is 'Lt' or 'Gt'")
            }
        case nil:
            fail("\(field).operator", "Unsupported value: \"\(requirement.operator)\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\"")
        }
    }

    private mutating func validateField(_ requirement: NodeSelectorRequirement, field: String) {
        if requirement.key != "metadata.name" {
            fail("\(field).key", "Unsupported value: \"\(requirement.key)\": supported values: \"metadata.name\"")
        }
        guard requirement.operator == "In" || requirement.operator == "NotIn" else {
            fail("\(field).operator", "Unsupported value: \"\(requirement.operator)\": supported values: \"In\", \"NotIn\" (node field selectors)")
            return
        }
        let values = requirement.values ?? []
        if values.count != 1 {
            fail("\(field).values", "Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector")
        } else if let problem = LabelSyntax.dnsSubdomainProblem(values[0]) {
            fail("\(field).values[0]", "Invalid value: \"\(values[0])\": \(problem)")
        }
    }
}

/// Kubernetes name syntax (label keys, node names).
enum LabelSyntax {
    /// Why `key` is not a qualified name (`[prefix/]name`), nil when it is one.
    static func qualifiedNameProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        let name: Substring
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            // '_' is admitted in the prefix: the reference's examples select on
            // platform.node_group/<group>, and its manifests must keep working unchanged.
            if let problem = dnsSubdomainProblem(String(parts[0]), allowingUnderscore: true) { return "prefix part \(problem)" }
            name = parts[1]
        default:
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.utf8.count > 63 { return "name part must be no more than 63 characters" }
        let isAlnum: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber) }
        let inner = name.allSatisfy { isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
        guard inner, let first = name.first, let last = name.last, isAlnum(first), isAlnum(last) else {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
        }
        return nil
    }

    /// An optional "-" and 1 to 18 digits: the integers Gt and Lt compare (the CRD's rule
    /// is the same, so admission and this validator agree).
    static func isSmallInteger(_ text: String) -> Bool {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        return (1...18).contains(digits.count) && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Why `text` is not a DNS-1123 subdomain, nil when it is one.
    static func dnsSubdomainProblem(_ text: String, allowingUnderscore: Bool = false) -> String? {
        if text.utf8.count > 253 { return "must be no more than 253 characters" }
        let isLowerAlnum: (Character) -> Bool = { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard let first = label.first, let last = label.last, isLowerAlnum(first), isLowerAlnum(last),
                  label.allSatisfy({ isLowerAlnum($0) || $0 == "-" || (allowingUnderscore && $0 == "_") }) else {
                return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
            }
        }
        return nil
    }
}
