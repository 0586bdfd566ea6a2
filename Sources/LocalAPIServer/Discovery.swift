import Foundation

/// `/version`, legacy and aggregated discovery, and OpenAPI v3, generated from the live registry.
extension APIHandler {
    static let gitVersion = "v1.32.2"

    func discovery(_ req: Request, _ segs: [String]) throws(StatusError) -> Reply? {
        guard req.method == .GET else { return nil }
        let accept = req.headers.first(name: "Accept") ?? ""
        let aggregated = accept.contains("as=APIGroupDiscoveryList")
        let all = store.allResources()
        switch segs.count {
        case 0: return .json(200, ["paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"]])
        case 1:
            switch segs[0] {
            case "version":
                return .json(200, ["major": "1", "minor": "32", "gitVersion": .string(APIHandler.gitVersion),
                                   "gitCommit": "67a30c0adcf52bd3f56ff0893ce19966be12991f", "gitTreeState": "clean",
                                   "buildDate": "2025-02-12T21:19:47Z", "goVersion": "go1.23.6", "compiler": "gc", "platform": "linux/amd64"])
            case "healthz", "livez", "readyz": return .full(status: 200, contentType: "text/plain; charset=utf-8", body: "ok")
            case "api":
                if aggregated { return aggregatedList(all.filter { $0.key == "v1" }, accept: accept) }
                return .json(200, ["kind": "APIVersions", "versions": ["v1"],
                                   "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(config.advertisedAddress)]]])
            case "apis":
                if aggregated { return aggregatedList(all.filter { $0.key.contains("/") }, accept: accept) }
                return .json(200, ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups(all).map { groupJSON($0.0, $0.1) })])
            default: return nil
            }
        case 2:
            if segs[0] == "api", segs[1] == "v1" { return .json(200, resourceList("v1", all["v1"] ?? [])) }
            if segs[0] == "apis" {
                guard let g = groups(all).first(where: { $0.0 == segs[1] }) else { return .error(.notFoundPath()) }
                var j = groupJSON(g.0, g.1)
                j["kind"] = "APIGroup"
                j["apiVersion"] = "v1"
                return .json(200, j)
            }
            if segs[0] == "openapi", segs[1] == "v3" {
                var paths: [String: JSON] = [:]
                for (gv, _) in all {
                    let p = gv == "v1" ? "api/v1" : "apis/\(gv)"
                    paths[p] = ["serverRelativeURL": .string("/openapi/v3/\(p)?hash=\(store.resourceVersion)")]
                }
                return .json(200, ["paths": .object(paths)])
            }
            if segs[0] == "openapi", segs[1] == "v2" { return .error(.notFoundPath()) }
            return nil
        case 3:
            if segs[0] == "apis", let list = all["\(segs[1])/\(segs[2])"] { return .json(200, resourceList("\(segs[1])/\(segs[2])", list)) }
            if segs[0] == "openapi", segs[1] == "v3", segs[2] == "api" { return nil }
            return nil
        default:
            if segs[0] == "openapi", segs[1] == "v3" {
                let gv = segs[2] == "api" ? segs[3...].joined(separator: "/") : segs[3...].joined(separator: "/")
                guard let list = all[gv] else { return .error(.notFoundPath()) }
                return .json(200, OpenAPI.document(groupVersion: gv, resources: list))
            }
            return nil
        }
    }

    /// Groups (excluding core) with their versions, sorted; the first version is preferred.
    func groups(_ all: [String: [ResourceInfo]]) -> [(String, [String])] {
        var byGroup: [String: [String]] = [:]
        for gv in all.keys where gv.contains("/") {
            let parts = gv.split(separator: "/")
            byGroup[String(parts[0]), default: []].append(String(parts[1]))
        }
        return byGroup.keys.sorted().map { ($0, byGroup[$0]!.sorted(by: APIHandler.versionOrder)) }
    }

    /// Kubernetes version priority: GA before beta before alpha, higher numbers first.
    static func versionOrder(_ a: String, _ b: String) -> Bool {
        func rank(_ v: String) -> (Int, Int, Int) {
            let scanner = v.dropFirst()
            let major = Int(scanner.prefix(while: \.isNumber)) ?? 0
            let rest = scanner.drop(while: \.isNumber)
            if rest.isEmpty { return (3, major, 0) }
            let minor = Int(rest.drop(while: { !$0.isNumber })) ?? 0
            return (rest.hasPrefix("beta") ? 2 : rest.hasPrefix("alpha") ? 1 : 0, major, minor)
        }
        let ra = rank(a), rb = rank(b)
        return ra != rb ? ra > rb : a < b
    }

    func groupJSON(_ g: String, _ versions: [String]) -> JSON {
        let vs: [JSON] = versions.map { ["groupVersion": .string("\(g)/\($0)"), "version": .string($0)] }
        return ["name": .string(g), "versions": .array(vs), "preferredVersion": vs[0]]
    }

    func resourceList(_ gv: String, _ list: [ResourceInfo]) -> JSON {
        var rs: [JSON] = []
        for r in list {
            var j: JSON = ["name": .string(r.plural), "singularName": .string(r.singular), "namespaced": .bool(r.namespaced),
                           "kind": .string(r.kind), "verbs": ResourceInfo.verbs]
            if !r.shortNames.isEmpty { j["shortNames"] = .array(r.shortNames.map { .string($0) }) }
            if !r.categories.isEmpty { j["categories"] = .array(r.categories.map { .string($0) }) }
            rs.append(j)
            if r.hasStatus {
                rs.append(["name": .string("\(r.plural)/status"), "singularName": "", "namespaced": .bool(r.namespaced),
                           "kind": .string(r.kind), "verbs": ["get", "patch", "update"]])
            }
        }
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(gv), "resources": .array(rs)]
    }

    func aggregatedList(_ all: [String: [ResourceInfo]], accept: String) -> Reply {
        let version = accept.contains("v=v2;") || accept.hasSuffix("v=v2") || accept.contains("v=v2,") ? "v2" : "v2beta1"
        var items: [JSON] = []
        let groupNames: [(String, [String])] = all.keys.contains("v1") ? [("", ["v1"])] : groups(all)
        for (g, versions) in groupNames {
            let vs: [JSON] = versions.map { v in
                let gv = g.isEmpty ? v : "\(g)/\(v)"
                let rs: [JSON] = (all[gv] ?? []).map { r in
                    var j: JSON = ["resource": .string(r.plural), "responseKind": ["group": .string(g), "version": .string(v), "kind": .string(r.kind)],
                                   "scope": r.namespaced ? "Namespaced" : "Cluster", "singularResource": .string(r.singular),
                                   "verbs": ResourceInfo.verbs]
                    if !r.shortNames.isEmpty { j["shortNames"] = .array(r.shortNames.map { .string($0) }) }
                    if !r.categories.isEmpty { j["categories"] = .array(r.categories.map { .string($0) }) }
                    if r.hasStatus {
                        j["subresources"] = [["subresource": "status", "responseKind": ["group": .string(g), "version": .string(v), "kind": .string(r.kind)],
                                              "verbs": ["get", "patch", "update"]]]
                    }
                    return j
                }
                return ["version": .string(v), "resources": .array(rs), "freshness": "Current"]
            }
            items.append(["metadata": ["name": .string(g)], "versions": .array(vs)])
        }
        let body: JSON = ["kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(version)"), "metadata": [:], "items": .array(items)]
        return .full(status: 200, contentType: "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList", body: body.serialized())
    }
}

/// Per-group-version OpenAPI v3 documents: enough for kubectl (PATCH operations declare `fieldValidation`,
/// so kubectl validates on the server) and for schema lookups of custom resources.
enum OpenAPI {
    static func document(groupVersion gv: String, resources: [ResourceInfo]) -> JSON {
        var paths: [String: JSON] = [:]
        var schemas: [String: JSON] = [:]
        let prefix = gv == "v1" ? "/api/v1" : "/apis/\(gv)"
        for r in resources {
            let gvk: JSON = ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]
            let schemaName = schemaName(r)
            var schema = r.schema ?? ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schemas[schemaName] = schema
            let ref: JSON = ["$ref": .string("#/components/schemas/\(schemaName)")]
            let body: JSON = ["content": ["application/json": ["schema": ref]]]
            let ok: JSON = ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]]
            func param(_ n: String) -> JSON { ["name": .string(n), "in": "query", "schema": ["type": "string", "uniqueItems": true]] }
            let writeParams: [JSON] = [param("dryRun"), param("fieldManager"), param("fieldValidation")]
            let base = r.namespaced ? "\(prefix)/namespaces/{namespace}/\(r.plural)" : "\(prefix)/\(r.plural)"
            func op(_ action: String, _ params: [JSON], withBody: Bool) -> JSON {
                var o: JSON = ["operationId": .string("\(action)\(r.kind)"), "parameters": .array(params), "responses": ok,
                               "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk]
                if withBody { o["requestBody"] = body }
                return o
            }
            paths[base] = ["get": op("list", [], withBody: false), "post": op("post", writeParams, withBody: true)]
            paths["\(base)/{name}"] = [
                "get": op("get", [], withBody: false), "put": op("put", writeParams, withBody: true),
                "patch": op("patch", writeParams + [param("force")], withBody: true), "delete": op("delete", [], withBody: false),
            ]
            if r.hasStatus {
                paths["\(base)/{name}/status"] = [
                    "get": op("get", [], withBody: false), "put": op("put", writeParams, withBody: true),
                    "patch": op("patch", writeParams + [param("force")], withBody: true),
                ]
            }
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": .string(APIHandler.gitVersion)],
                "paths": .object(paths), "components": ["schemas": .object(schemas)]]
    }

    static func schemaName(_ r: ResourceInfo) -> String {
        if r.group.isEmpty { return "io.k8s.api.core.\(r.version).\(r.kind)" }
        let reversed = r.group.split(separator: ".").reversed().joined(separator: ".")
        return "\(reversed).\(r.version).\(r.kind)"
    }
}
