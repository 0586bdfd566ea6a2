import Foundation

/// TLS settings for talking to an API server, all from memory (kubeconfig data fields).
public struct TLSConfiguration: Sendable, Hashable {
    /// PEM bundle of CAs to trust; nil uses the system store.
    public var certificateAuthority: Data?
    /// PEM client certificate (chain) and its PEM private key (PKCS#1, PKCS#8 or EC).
    public var clientCertificate: Data?
    public var clientKey: Data?
    /// Only when the kubeconfig says `insecure-skip-tls-verify: true`.
    public var insecureSkipVerify: Bool
    /// Name to verify the server certificate against (`tls-server-name`).
    public var serverName: String?

    public init(certificateAuthority: Data? = nil, clientCertificate: Data? = nil, clientKey: Data? = nil,
                insecureSkipVerify: Bool = false, serverName: String? = nil) {
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
    }
}

/// One HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Data?
    /// Overrides the transport's request timeout; nil = the transport's; `.zero` = none (watches).
    public var timeout: Duration?
    /// The request is not sent at or after this instant (a leader's write fence): the
    /// transport checks it right before handing the request to the network.
    public var notAfter: ContinuousClock.Instant?

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: Data? = nil, timeout: Duration? = nil,
                notAfter: ContinuousClock.Instant? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.notAfter = notAfter
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased; the last value wins.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A streamed response: the head first, then body chunks as they arrive.
public enum HTTPStreamPart: Sendable {
    case head(status: Int, headers: [String: String])
    case body(Data)
}

/// A transport failure (no HTTP status was received, or the transfer broke).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case cancelled
        case timedOut
        case couldNotConnect
        case tls
        /// Not sent: the write fence had closed (the leader's Lease may have expired).
        /// The request certainly did not reach the server.
        case fenced
        case other
    }

    public let kind: Kind
    public let url: String
    public let message: String
    /// libcurl's error code, when libcurl reported the failure.
    public let curlCode: Int?

    public var description: String { "\(url): \(message)" }
}
