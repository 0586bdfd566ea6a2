import Foundation
import Yams

/// The kubeconfig file format (clientcmd v1), as far as a client needs it. Unknown fields
/// are ignored.
public struct KubeConfig: Codable, Sendable, Hashable {
    public struct NamedCluster: Codable, Sendable, Hashable {
        public var name: String
        public var cluster: Cluster
    }

    public struct Cluster: Codable, Sendable, Hashable {
        public var server: String?
        public var certificateAuthority: String?
        public var certificateAuthorityData: Data?
        public var insecureSkipTLSVerify: Bool?
        public var tlsServerName: String?
        public var proxyURL: String?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
            case proxyURL = "proxy-url"
        }

        public init(server: String? = nil, certificateAuthority: String? = nil, certificateAuthorityData: Data? = nil,
                    insecureSkipTLSVerify: Bool? = nil, tlsServerName: String? = nil, proxyURL: String? = nil) {
            self.server = server
            self.certificateAuthority = certificateAuthority
            self.certificateAuthorityData = certificateAuthorityData
            self.insecureSkipTLSVerify = insecureSkipTLSVerify
            self.tlsServerName = tlsServerName
            self.proxyURL = proxyURL
        }
    }

    public struct NamedContext: Codable, Sendable, Hashable {
        public var name: String
        public var context: Context
    }

    public struct Context: Codable, Sendable, Hashable {
        public var cluster: String?
        public var user: String?
        public var namespace: String?

        public init(cluster: String? = nil, user: String? = nil, namespace: String? = nil) {
            self.cluster = cluster
            self.user = user
            self.namespace = namespace
        }
    }

    public struct NamedUser: Codable, Sendable, Hashable {
        public var name: String
        public var user: User
    }

    public struct User: Codable, Sendable, Hashable {
        public var clientCertificate: String?
        public var clientCertificateData: Data?
        public var clientKey: String?
        public var clientKeyData: Data?
        public var token: String?
        public var tokenFile: String?
        public var username: String?
        public var password: String?
        public var exec: ExecConfig?

        enum CodingKeys: String, CodingKey {
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case token, tokenFile, username, password, exec
        }

        public init() {}
    }

    /// An exec credential plugin (client.authentication.k8s.io v1 or v1beta1).
    public struct ExecConfig: Codable, Sendable, Hashable {
        public struct EnvVar: Codable, Sendable, Hashable {
            public var name: String
            public var value: String
        }

        public var apiVersion: String?
        public var command: String
        public var args: [String]?
        public var env: [EnvVar]?
        public var installHint: String?
        public var provideClusterInfo: Bool?
        public var interactiveMode: String?
    }

    public var apiVersion: String?
    public var kind: String?
    public var clusters: [NamedCluster]?
    public var contexts: [NamedContext]?
    public var users: [NamedUser]?
    public var currentContext: String?

    enum CodingKeys: String, CodingKey {
        case apiVersion, kind, clusters, contexts, users
        case currentContext = "current-context"
    }

    public init(clusters: [NamedCluster] = [], contexts: [NamedContext] = [], users: [NamedUser] = [], currentContext: String? = nil) {
        self.apiVersion = "v1"
        self.kind = "Config"
        self.clusters = clusters
        self.contexts = contexts
        self.users = users
        self.currentContext = currentContext
    }
}

/// Why a client configuration could not be built. The message names the file, the context
/// and the missing piece.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension KubeConfig {
    /// Parses one kubeconfig document; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> KubeConfig {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return KubeConfig()
        }
        do {
            return try YAMLDecoder().decode(KubeConfig.self, from: text)
        } catch let error as DecodingError {
            throw ConfigurationError("kubeconfig \(source) is not a valid kubeconfig: \(Self.describe(error))")
        } catch {
            throw ConfigurationError("kubeconfig \(source) is not valid YAML: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .typeMismatch(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context)).\(key.stringValue) is required"
        case .valueNotFound(_, let context):
            return "\(path(context)) is missing"
        @unknown default:
            return "\(error)"
        }
    }
}
