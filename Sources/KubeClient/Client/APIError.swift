import Foundation

/// The API server's `Status` object (errors, and some delete results).
public struct APIStatus: Codable, Sendable, Hashable {
    public struct Cause: Codable, Sendable, Hashable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }

    public struct Details: Codable, Sendable, Hashable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    public var kind: String?
    public var apiVersion: String?
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
    public var details: Details?

    public init(status: String? = "Failure", message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }
}

/// An error answer from the API server, with its `Status`.
public struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    public let statusCode: Int
    public let status: APIStatus
    /// Verb and path of the request, for messages.
    public let request: String

    public init(statusCode: Int, status: APIStatus, request: String) {
        self.statusCode = statusCode
        self.status = status
        self.request = request
    }

    public var reason: String { status.reason ?? "" }
    public var isNotFound: Bool { statusCode == 404 }
    public var isConflict: Bool { statusCode == 409 && reason != "AlreadyExists" }
    public var isAlreadyExists: Bool { statusCode == 409 && reason == "AlreadyExists" }
    /// 410 Gone / reason Expired: the resourceVersion is too old; relist.
    public var isGone: Bool { statusCode == 410 || reason == "Expired" || reason == "Gone" }
    public var isInvalid: Bool { statusCode == 422 }
    public var isUnauthorized: Bool { statusCode == 401 }
    public var isForbidden: Bool { statusCode == 403 }
    public var isTooManyRequests: Bool { statusCode == 429 }
    public var isServerTimeout: Bool { statusCode == 504 || reason == "Timeout" || reason == "ServerTimeout" }
    /// Worth retrying unchanged: throttling, timeouts and server errors.
    public var isRetryable: Bool { statusCode == 429 || statusCode >= 500 }

    public var description: String {
        let said = [status.reason, status.message].contains { $0.map { !$0.allSatisfy(\.isWhitespace) } ?? false }
        guard said else { return "\(request): \(statusCode) (the answer gives no reason or message)" }
        return "\(request): \(statusCode) \(status.reason ?? "")\(status.message.map { ": \($0)" } ?? "")"
    }

    /// Builds the error for a non-2xx response; bodies that are not a Status are quoted.
    public static func from(_ response: HTTPResponse, request: String) -> APIError {
        if let status = try? JSONDecoder().decode(APIStatus.self, from: response.body), status.kind == "Status" || status.reason != nil {
            return APIError(statusCode: response.status, status: status, request: request)
        }
        let text = String(decoding: response.body.prefix(512), as: UTF8.self)
        return APIError(statusCode: response.status, status: APIStatus(message: text.isEmpty ? "no response body" : "unexpected response: \(text)", code: response.status), request: request)
    }
}

/// A response the client could not decode.
public struct DecodingFailure: Error, Sendable, CustomStringConvertible {
    public let request: String
    public let message: String
    public var description: String { "\(request): cannot decode the response: \(message)" }
}
