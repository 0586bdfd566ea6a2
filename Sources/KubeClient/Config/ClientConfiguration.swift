import Foundation

/// How the client authenticates.
public enum Credentials: Sendable, Hashable {
    case none
    case bearerToken(String)
    /// A token read from a file and re-read periodically (bound service-account tokens rotate).
    case tokenFile(String)
    case basic(username: String, password: String)
    case exec(KubeConfig.ExecConfig, ExecClusterInfo)
}

/// What an exec plugin may be told about the cluster (`provideClusterInfo: true`).
public struct ExecClusterInfo: Sendable, Hashable, Codable {
    public var server: String
    public var certificateAuthorityData: Data?
    public var insecureSkipTLSVerify: Bool?
    public var tlsServerName: String?

    enum CodingKeys: String, CodingKey {
        case server
        case certificateAuthorityData = "certificate-authority-data"
        case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        case tlsServerName = "tls-server-name"
    }
}

/// Everything needed to reach one API server as one user.
public struct ClientConfiguration: Sendable, Hashable {
    /// Base URL without a trailing slash, e.g. `https://127.0.0.1:6443`.
    public var server: String
    public var tls: TLSConfiguration
    public var proxyURL: String?
    public var credentials: Credentials
    /// The context's namespace, or `default`.
    public var namespace: String
    /// Where this came from, for logs and errors (file and context, or in-cluster).
    public var source: String

    public init(server: String, tls: TLSConfiguration = TLSConfiguration(), proxyURL: String? = nil,
                credentials: Credentials = .none, namespace: String = "default", source: String = "explicit") {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.proxyURL = proxyURL
        self.credentials = credentials
        self.namespace = namespace
        self.source = source
    }

    /// Resolves the configuration the way the reference does, with kubectl's rules for
    /// kubeconfig files: an explicit `kubeconfigPath` (only that file); else `KUBECONFIG`
    /// (a `:`-separated list, merged); else in-cluster when `KUBERNETES_SERVICE_HOST` is set;
    /// else `~/.kube/config`. `apiServer` overrides the server (alone, it gives a
    /// configuration without credentials, as the reference's `--apiserver`).
    public static func resolve(kubeconfigPath: String?, context: String? = nil, apiServer: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> ClientConfiguration {
        var configuration: ClientConfiguration
        if let path = kubeconfigPath, !path.isEmpty {
            configuration = try fromFiles([path], context: context, requireAll: true)
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            configuration = try fromFiles(list.split(separator: ":").map(String.init), context: context, requireAll: false)
        } else if let apiServer, !apiServer.isEmpty {
            return ClientConfiguration(server: apiServer, source: "--apiserver \(apiServer) (no credentials)")
        } else if environment["KUBERNETES_SERVICE_HOST"] != nil {
            configuration = try inCluster(environment: environment)
        } else if let home = environment["HOME"], FileManager.default.fileExists(atPath: home + "/.kube/config") {
            configuration = try fromFiles([home + "/.kube/config"], context: context, requireAll: true)
        } else {
            throw ConfigurationError("no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, or run inside a cluster (KUBERNETES_SERVICE_HOST is not set)")
        }
        if let apiServer, !apiServer.isEmpty {
            configuration.server = apiServer.hasSuffix("/") ? String(apiServer.dropLast()) : apiServer
            configuration.source += " with --apiserver \(apiServer)"
        }
        return configuration
    }

    /// Loads and merges kubeconfig files (first definition of a name wins; first
    /// current-context wins; relative paths resolve against the defining file's folder).
    public static func fromFiles(_ paths: [String], context requestedContext: String?, requireAll: Bool) throws(ConfigurationError) -> ClientConfiguration {
        var clusters: [String: (KubeConfig.Cluster, String)] = [:]
        var contexts: [String: (KubeConfig.Context, String)] = [:]
        var users: [String: (KubeConfig.User, String)] = [:]
        var currentContext: String?
        var loaded: [String] = []
        for path in paths {
            guard FileManager.default.fileExists(atPath: path) else {
                if requireAll { throw ConfigurationError("kubeconfig \(path) does not exist") }
                continue
            }
            let config = try KubeConfig.parse(try readText(path), source: path)
            loaded.append(path)
            for entry in config.clusters ?? [] where clusters[entry.name] == nil { clusters[entry.name] = (entry.cluster, path) }
            for entry in config.contexts ?? [] where contexts[entry.name] == nil { contexts[entry.name] = (entry.context, path) }
            for entry in config.users ?? [] where users[entry.name] == nil { users[entry.name] = (entry.user, path) }
            if currentContext == nil, let current = config.currentContext, !current.isEmpty { currentContext = current }
        }
        let files = loaded.isEmpty ? paths.joined(separator: ":") : loaded.joined(separator: ":")
        guard !loaded.isEmpty else { throw ConfigurationError("none of the kubeconfig files exist: \(files)") }
        let available = contexts.keys.sorted().joined(separator: ", ")
        guard let contextName = requestedContext ?? currentContext else {
            throw ConfigurationError("kubeconfig \(files): no current-context is set and no context was given; run `kubectl config use-context NAME` (contexts: \(available.isEmpty ? "none" : available))")
        }
        guard let (context, _) = contexts[contextName] else {
            throw ConfigurationError("kubeconfig \(files): context \"\(contextName)\" is not defined (contexts: \(available.isEmpty ? "none" : available))")
        }
        let where_ = "kubeconfig \(files), context \"\(contextName)\""
        guard let clusterName = context.cluster, !clusterName.isEmpty else {
            throw ConfigurationError("\(where_): the context names no cluster")
        }
        guard let (cluster, clusterFile) = clusters[clusterName] else {
            throw ConfigurationError("\(where_): cluster \"\(clusterName)\" is not defined")
        }
        guard let server = cluster.server, !server.isEmpty else {
            throw ConfigurationError("\(where_): cluster \"\(clusterName)\" has no server")
        }
        // A host too: "https://" alone passed, and dropping its trailing "/" left "https:/".
        guard server.hasPrefix("https://") || server.hasPrefix("http://"), let host = URLComponents(string: server)?.host, !host.isEmpty else {
            throw ConfigurationError("\(where_): cluster \"\(clusterName)\" server \"\(server)\" is not an http(s) URL")
        }
        var tls = TLSConfiguration(insecureSkipVerify: cluster.insecureSkipTLSVerify ?? false, serverName: cluster.tlsServerName)
        tls.certificateAuthority = try material(data: cluster.certificateAuthorityData, file: cluster.certificateAuthority,
                                                relativeTo: clusterFile, field: "certificate-authority", owner: "\(where_), cluster \"\(clusterName)\"")
        var credentials = Credentials.none
        if let userName = context.user, !userName.isEmpty {
            guard let (user, userFile) = users[userName] else {
                throw ConfigurationError("\(where_): user \"\(userName)\" is not defined")
            }
            let owner = "\(where_), user \"\(userName)\""
            tls.clientCertificate = try material(data: user.clientCertificateData, file: user.clientCertificate, relativeTo: userFile, field: "client-certificate", owner: owner)
            tls.clientKey = try material(data: user.clientKeyData, file: user.clientKey, relativeTo: userFile, field: "client-key", owner: owner)
            if (tls.clientCertificate == nil) != (tls.clientKey == nil) {
                throw ConfigurationError("\(owner): has \(tls.clientKey == nil ? "a client certificate but no client-key" : "a client-key but no client certificate"); both are needed")
            }
            if let token = user.token, !token.isEmpty {
                credentials = .bearerToken(token)
            } else if let tokenFile = user.tokenFile, !tokenFile.isEmpty {
                let path = resolvePath(tokenFile, relativeTo: userFile)
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw ConfigurationError("\(owner): tokenFile \(path) cannot be read")
                }
                credentials = .tokenFile(path)
            } else if let exec = user.exec {
                guard !exec.command.isEmpty else { throw ConfigurationError("\(owner): exec has no command") }
                let version = exec.apiVersion ?? ""
                guard version == "client.authentication.k8s.io/v1" || version == "client.authentication.k8s.io/v1beta1" else {
                    throw ConfigurationError("\(owner): exec apiVersion \"\(version)\" is not supported; use client.authentication.k8s.io/v1 or v1beta1")
                }
                var resolved = exec
                if exec.command.contains("/") && !exec.command.hasPrefix("/") { resolved.command = resolvePath(exec.command, relativeTo: userFile) }
                credentials = .exec(resolved, ExecClusterInfo(server: server, certificateAuthorityData: tls.certificateAuthority,
                                                               insecureSkipTLSVerify: cluster.insecureSkipTLSVerify, tlsServerName: cluster.tlsServerName))
            } else if let username = user.username, let password = user.password {
                credentials = .basic(username: username, password: password)
            }
        }
        return ClientConfiguration(server: server, tls: tls, proxyURL: cluster.proxyURL, credentials: credentials,
                                   namespace: context.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default", source: where_)
    }

    /// The in-cluster configuration: service host and port from the environment, the
    /// service-account CA and (rotating) token from their files.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws(ConfigurationError) -> ClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw ConfigurationError("in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT; outside a cluster pass --kubeconfig")
        }
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw ConfigurationError("in-cluster configuration: service-account token \(tokenPath) cannot be read; is automountServiceAccountToken disabled?")
        }
        let caPath = serviceAccountDirectory + "/ca.crt"
        guard let ca = FileManager.default.contents(atPath: caPath) else {
            throw ConfigurationError("in-cluster configuration: CA bundle \(caPath) cannot be read")
        }
        let namespace = (try? String(contentsOfFile: serviceAccountDirectory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClientConfiguration(server: "https://\(hostPart):\(port)", tls: TLSConfiguration(certificateAuthority: ca),
                                   credentials: .tokenFile(tokenPath), namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default",
                                   source: "in-cluster (service account)")
    }

    /// A kubeconfig file's text. Foundation's own messages here say "The operation could not
    /// be completed", so the error gives the system's reason ("Is a directory") or says the
    /// file is not UTF-8.
    static func readText(_ path: String) throws(ConfigurationError) -> String {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            let posix = (error as? CocoaError)?.underlying as? POSIXError
            let reason = posix.map { String(cString: strerror($0.code.rawValue)) }
            throw ConfigurationError("kubeconfig \(path) cannot be read: \(reason ?? error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("kubeconfig \(path) is not UTF-8 text (a kubeconfig is YAML, which must be UTF-8)")
        }
        return text
    }

    static func resolvePath(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] { return home + path.dropFirst() }
        let directory = (file as NSString).deletingLastPathComponent
        return directory.isEmpty ? path : directory + "/" + path
    }

    private static func material(data: Data?, file: String?, relativeTo source: String, field: String, owner: String) throws(ConfigurationError) -> Data? {
        if let data, !data.isEmpty { return data }
        guard let file, !file.isEmpty else { return nil }
        let path = resolvePath(file, relativeTo: source)
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("\(owner): \(field) file \(path) cannot be read")
        }
        return contents
    }
}
