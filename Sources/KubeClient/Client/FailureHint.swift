/// What a failed request means for the person running the program, and what to do about it:
/// one sentence naming the server and the fix, for logs.
public enum FailureHint {
    /// The fix for `error` from a request to `server` (about `resource`, when known); nil
    /// when the failure says nothing an operator can act on (a conflict, a cancellation).
    public static func fix(for error: any Error, server: String, resource: String? = nil) -> String? {
        if let transport = error as? TransportError {
            switch transport.kind {
            case .couldNotConnect:
                return "cannot reach the API server at \(server): check the kubeconfig's server address (or --apiserver) and that the API server is up and reachable from here"
            case .tls:
                return "TLS with \(server) failed: check the kubeconfig's certificate-authority(-data) and tls-server-name, and the client certificate and key"
            case .timedOut:
                return "the API server at \(server) did not answer in time: check its health and the network in between"
            case .cancelled, .fenced:
                return nil
            case .other:
                return "the connection to \(server) failed: check the network and the API server"
            }
        }
        guard let api = error as? APIError else { return nil }
        switch api.statusCode {
        case 401:
            return "\(server) did not accept these credentials (401 Unauthorized): check the kubeconfig user's token, client certificate or exec plugin (an expired token or certificate is the usual cause)"
        case 403:
            return "\(server) refused this identity (403 Forbidden): grant it the RBAC in config/rbac/ (the Helm chart installs the same)"
        case 404 where resource == "clustercidrs":
            return "the ClusterCIDR CRD is not installed: kubectl apply -f config/crd/ (the chart installs it from crds/)"
        case 429, 500...:
            return "the API server at \(server) is overloaded or failing (\(api.statusCode)); requests are retried with backoff"
        default:
            return nil
        }
    }
}
