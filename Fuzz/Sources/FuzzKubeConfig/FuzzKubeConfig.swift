import Foundation
import FuzzSupport
@testable import KubeClient

// The input is a kubeconfig file. It is parsed (`KubeConfig.parse`), then written to a file
// and loaded the way the controller loads `--kubeconfig` (`ClientConfiguration.fromFiles`:
// read, parse, pick the context, resolve cluster, user and credential files).
//
// Checks: no crash or hang; every rejection is a ConfigurationError whose message names the
// kubeconfig and says what is wrong; an accepted configuration has an http(s) server without
// a trailing "/", a namespace, and a client key exactly when it has a client certificate.

/// A private folder for the file under test; relative paths in the input resolve inside it.
private let folder: String = {
    var template = Array((NSTemporaryDirectory() + "/fuzz-kubeconfig-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { fuzzFail("cannot create a temporary folder") }
    return String(cString: made)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeConfig(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = FuzzInput(bytes, count)
    let path = folder + "/config"

    let isUTF8 = String(data: input.data, encoding: .utf8) != nil
    do {
        let parsed = try KubeConfig.parse(input.text, source: path)
        // Loading reads the files the kubeconfig names; keep to ones that cannot hang the run.
        guard namesOnlyPlainFiles(parsed, relativeTo: path) else { return 0 }
    } catch {
        requireReadable(error.description, context: "kubeconfig \(path) is not ")
        // Loading would fail the same way, unless reading the file fails first.
        if isUTF8 { return 0 }
    }

    do { try input.data.write(to: URL(fileURLWithPath: path)) } catch { fuzzFail("cannot write \(path): \(error)") }
    do {
        let configuration = try ClientConfiguration.fromFiles([path], context: nil, requireAll: true)
        fuzzCheck(isUTF8, "fromFiles accepted a kubeconfig that is not UTF-8")
        let server = configuration.server
        fuzzCheck(server.hasPrefix("https://") || server.hasPrefix("http://"), "accepted a server that is not an http(s) URL: \(server)")
        fuzzCheck(!server.hasSuffix("/"), "server keeps a trailing \"/\": \(server)")
        fuzzCheck(!configuration.namespace.isEmpty, "accepted configuration without a namespace")
        fuzzCheck((configuration.tls.clientCertificate == nil) == (configuration.tls.clientKey == nil),
                  "accepted a client certificate without its key, or a key without its certificate")
    } catch {
        // Every message starts with "kubeconfig <file>" (what was read) and then says what is wrong.
        requireReadable(error.description, context: "kubeconfig \(path)")
    }
    return 0
}

/// True when every file the kubeconfig names is missing or a regular file of at most 1 MiB
/// outside /proc and /sys: a fuzzer may well write `/dev/zero` or `/proc/kcore`, which the
/// loader would read forever (reading such a file is the user's own doing, not a parser bug).
private func namesOnlyPlainFiles(_ config: KubeConfig, relativeTo file: String) -> Bool {
    var paths: [String?] = []
    for entry in config.clusters ?? [] { paths.append(entry.cluster.certificateAuthority) }
    for entry in config.users ?? [] {
        paths += [entry.user.clientCertificate, entry.user.clientKey, entry.user.tokenFile]
    }
    return paths.allSatisfy { path in
        guard let path, !path.isEmpty else { return true }
        let resolved = ClientConfiguration.resolvePath(path, relativeTo: file)
        let real = URL(fileURLWithPath: resolved).resolvingSymlinksInPath().path
        if real.hasPrefix("/proc") || real.hasPrefix("/sys") || real.hasPrefix("/dev") { return false }
        var info = stat()
        guard stat(real, &info) == 0 else { return true }
        return (info.st_mode & S_IFMT) == S_IFREG && info.st_size <= 1 << 20
    }
}
