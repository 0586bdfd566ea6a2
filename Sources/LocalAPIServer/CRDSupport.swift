/// Turns CustomResourceDefinition objects into served resources.
enum CRDSupport {
    static func admit(old: JSON?, new: inout JSON) throws(StatusError) {
        let name = new["metadata"]?["name"]?.stringValue ?? ""
        let spec = new["spec"]
        let group = spec?["group"]?.stringValue ?? ""
        let plural = spec?["names"]?["plural"]?.stringValue ?? ""
        var causes: [StatusError.Cause] = []
        if group.isEmpty { causes.append(.init(type: "FieldValueRequired", field: "spec.group", message: "Required value")) }
        if plural.isEmpty { causes.append(.init(type: "FieldValueRequired", field: "spec.names.plural", message: "Required value")) }
        if spec?["names"]?["kind"]?.stringValue?.isEmpty ?? true {
            causes.append(.init(type: "FieldValueRequired", field: "spec.names.kind", message: "Required value"))
        }
        let scope = spec?["scope"]?.stringValue ?? ""
        if scope != "Namespaced", scope != "Cluster" {
            causes.append(.init(type: "FieldValueNotSupported", field: "spec.scope",
                                message: "Unsupported value: \"\(scope)\": supported values: \"Cluster\", \"Namespaced\""))
        }
        if causes.isEmpty, name != "\(plural).\(group)" {
            causes.append(.init(type: "FieldValueInvalid", field: "metadata.name",
                                message: "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group"))
        }
        if (spec?["versions"]?.arrayValue ?? []).isEmpty {
            causes.append(.init(type: "FieldValueInvalid", field: "spec.versions", message: "Invalid value: \"null\": must have exactly one version marked as storage version"))
        }
        if !causes.isEmpty {
            throw StatusError.invalid(kind: "CustomResourceDefinition", group: "apiextensions.k8s.io", name: name, causes: causes)
        }
    }

    static func resources(of crd: JSON) -> [ResourceInfo] {
        let spec = crd["spec"] ?? [:]
        let names = spec["names"] ?? [:]
        let group = spec["group"]?.stringValue ?? ""
        let plural = names["plural"]?.stringValue ?? ""
        let kind = names["kind"]?.stringValue ?? ""
        return (spec["versions"]?.arrayValue ?? []).compactMap { v -> ResourceInfo? in
            guard v["served"]?.boolValue ?? true, let version = v["name"]?.stringValue else { return nil }
            return ResourceInfo(
                group: group, version: version, plural: plural,
                singular: names["singular"]?.stringValue ?? kind.lowercased(), kind: kind,
                namespaced: spec["scope"]?.stringValue == "Namespaced",
                shortNames: (names["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue),
                categories: (names["categories"]?.arrayValue ?? []).compactMap(\.stringValue),
                hasStatus: v["subresources"]?["status"] != nil, isCustom: true,
                schema: v["schema"]?["openAPIV3Schema"],
                printerColumns: v["additionalPrinterColumns"]?.arrayValue ?? [])
        }
    }
}
