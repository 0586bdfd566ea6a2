import Foundation

/// `meta.k8s.io/v1` Table rendering (`Accept: application/json;as=Table;…`), as kube-apiserver's printers do.
enum Tables {
    static func column(_ name: String, _ type: String, priority: Int = 0, format: String = "", description: String = "") -> JSON {
        ["name": .string(name), "type": .string(type), "format": .string(format), "description": .string(description), "priority": .int(Int64(priority))]
    }

    static func table(for r: ResourceInfo, objects: [JSON], resourceVersion: UInt64?, includeHeaders: Bool, continueToken: String?) -> JSON {
        let (columns, cells) = printer(for: r)
        var meta: JSON = [:]
        if let resourceVersion { meta["resourceVersion"] = .string(String(resourceVersion)) }
        if let continueToken { meta["continue"] = .string(continueToken) }
        let rows: [JSON] = objects.map { o in
            ["cells": .array(cells(o)), "object": o]
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "columnDefinitions": includeHeaders ? .array(columns) : .array([]), "rows": .array(rows)]
    }

    static func name(_ o: JSON) -> JSON { o["metadata"]?["name"] ?? "" }

    static func printer(for r: ResourceInfo) -> ([JSON], (JSON) -> [JSON]) {
        let nameCol = column("Name", "string", format: "name", description: "Name must be unique within a namespace.")
        let ageCol = column("Age", "string", description: "CreationTimestamp is a timestamp representing the server time when this object was created.")
        if r.group.isEmpty, r.plural == "nodes" {
            let cols = [
                nameCol, column("Status", "string", description: "The status of the node"),
                column("Roles", "string", description: "The roles of the node"), ageCol,
                column("Version", "string", description: "Kubelet Version reported by the node."),
                column("Internal-IP", "string", priority: 1, description: "List of internal IPs for the node."),
                column("External-IP", "string", priority: 1, description: "List of external IPs for the node."),
                column("OS-Image", "string", priority: 1, description: "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
                column("Kernel-Version", "string", priority: 1, description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
                column("Container-Runtime", "string", priority: 1, description: "Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
            ]
            return (cols, { o in
                let conds = o["status"]?["conditions"]?.arrayValue ?? []
                var status = "Unknown"
                if let ready = conds.first(where: { $0["type"]?.stringValue == "Ready" }) {
                    status = ready["status"]?.stringValue == "True" ? "Ready" : "NotReady"
                }
                if o["spec"]?["unschedulable"]?.boolValue == true { status += ",SchedulingDisabled" }
                let labels = o["metadata"]?["labels"]?.objectValue ?? [:]
                var roles = labels.keys.filter { $0.hasPrefix("node-role.kubernetes.io/") }.map { String($0.dropFirst("node-role.kubernetes.io/".count)) }
                if let role = labels["kubernetes.io/role"]?.stringValue { roles.append(role) }
                let addrs = o["status"]?["addresses"]?.arrayValue ?? []
                func addr(_ type: String) -> String { addrs.first { $0["type"]?.stringValue == type }?["address"]?.stringValue ?? "<none>" }
                let info = o["status"]?["nodeInfo"]
                func s(_ k: String) -> String { info?[k]?.stringValue ?? "" }
                return [name(o), .string(status), .string(roles.isEmpty ? "<none>" : roles.sorted().joined(separator: ",")), .string(age(o)),
                        .string(s("kubeletVersion")), .string(addr("InternalIP")), .string(addr("ExternalIP")),
                        .string(s("osImage").isEmpty ? "<unknown>" : s("osImage")), .string(s("kernelVersion").isEmpty ? "<unknown>" : s("kernelVersion")),
                        .string(s("containerRuntimeVersion").isEmpty ? "<unknown>" : s("containerRuntimeVersion"))]
            })
        }
        if r.isCustom, !r.printerColumns.isEmpty {
            let pcs = r.printerColumns
            let cols = [nameCol] + pcs.map { pc -> JSON in
                column(pc["name"]?.stringValue ?? "", pc["type"]?.stringValue == "date" ? "date" : (pc["type"]?.stringValue ?? "string"),
                       priority: Int(pc["priority"]?.intValue ?? 0), format: pc["format"]?.stringValue ?? "",
                       description: pc["description"]?.stringValue ?? "")
            }
            return (cols, { o in
                [name(o)] + pcs.map { pc -> JSON in
                    let v = evaluate(pc["jsonPath"]?.stringValue ?? "", o)
                    if pc["type"]?.stringValue == "date", let t = v?.stringValue { return .string(age(t)) }
                    return v ?? .null
                }
            })
        }
        return ([nameCol, ageCol], { o in [name(o), .string(age(o))] })
    }

    /// A subset of JSONPath: `.a.b`, `.a[0].b`, `.a[?(@.k=="v")].b`.
    static func evaluate(_ path: String, _ o: JSON) -> JSON? {
        var cur: JSON? = o
        var p = Substring(path)
        while !p.isEmpty, let c = cur {
            if p.hasPrefix(".") {
                p = p.dropFirst()
                let end = p.firstIndex(where: { $0 == "." || $0 == "[" }) ?? p.endIndex
                cur = c[String(p[..<end])]
                p = p[end...]
            } else if p.hasPrefix("[") {
                guard let close = p.firstIndex(of: "]") else { return nil }
                let inner = p[p.index(after: p.startIndex)..<close]
                p = p[p.index(after: close)...]
                if let i = Int(inner) {
                    guard let a = c.arrayValue, i >= 0, i < a.count else { return nil }
                    cur = a[i]
                } else if inner.hasPrefix("?(@."), inner.hasSuffix(")"), let eq = inner.range(of: "==") {
                    let key = String(inner[inner.index(inner.startIndex, offsetBy: 4)..<eq.lowerBound])
                    let want = inner[eq.upperBound..<inner.index(before: inner.endIndex)].trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
                    cur = c.arrayValue?.first { $0[key]?.stringValue == want }
                } else {
                    return nil
                }
            } else {
                return nil
            }
        }
        return cur
    }

    static func age(_ o: JSON) -> String { age(o["metadata"]?["creationTimestamp"]?.stringValue ?? "") }

    /// Human age as kubectl prints it (`45s`, `5m`, `3h`, `2d`), from an RFC 3339 timestamp.
    static func age(_ timestamp: String) -> String {
        guard let d = ISO8601DateFormatter().date(from: timestamp) else { return "<unknown>" }
        let s = max(0, Int(Date().timeIntervalSince(d)))
        if s < 120 { return "\(s)s" }
        if s < 600 { return "\(s / 60)m\(s % 60 == 0 ? "" : "\(s % 60)s")" }
        if s < 3 * 3600 { return "\(s / 60)m" }
        if s < 8 * 3600 { let h = s / 3600, m = (s % 3600) / 60; return m == 0 ? "\(h)h" : "\(h)h\(m)m" }
        if s < 48 * 3600 { return "\(s / 3600)h" }
        if s < 8 * 86400 { let d = s / 86400, h = (s % 86400) / 3600; return h == 0 ? "\(d)d" : "\(d)d\(h)h" }
        return "\(s / 86400)d"
    }
}
