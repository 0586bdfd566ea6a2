#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the system calls the plugin needs. No Foundation: loading it costs
/// more than a whole host-local call (measured: see docs/node-ipam.md).
enum POSIX {
    static var errorText: String { String(cString: strerror(errno)) }

    /// The whole file, nil when it does not exist; other failures throw.
    static func readFile(_ path: String) throws(SystemError) -> [UInt8]? {
        try readOpened(open(path, O_RDONLY | O_CLOEXEC), path: path, chunkSize: 4096)
    }

    /// A small file of an open directory, in one read when it fits 512 bytes (store scans read
    /// every address file, so syscalls per file count). Nil when it does not exist.
    static func readSmallFile(directory fd: Int32, _ name: String, path: String) throws(SystemError) -> [UInt8]? {
        try readOpened(openat(fd, name, O_RDONLY | O_CLOEXEC), path: path, chunkSize: 512)
    }

    /// Reads a just-opened regular file to its end (a short read is its end) and closes it.
    private static func readOpened(_ fd: Int32, path: String, chunkSize: Int) throws(SystemError) -> [UInt8]? {
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError(operation: "open", path: path)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(operation: "read", path: path)
            }
            bytes += chunk[..<count]
            if count < chunk.count { return bytes }
        }
    }

    static func readText(_ path: String) throws(SystemError) -> String? {
        guard let bytes = try readFile(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes every byte; on a closed pipe returns false instead of dying (SIGPIPE is ignored in main).
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += count
        }
        return true
    }

    /// Reads a file descriptor to its end (the config on stdin).
    static func readAll(_ fd: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// `mkdir -p` with mode 0755 (host-local's).
    static func makeDirectories(_ path: String) throws(SystemError) {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT else { throw SystemError(operation: "mkdir", path: path) }
        if let slash = path.lastIndex(of: "/"), slash > path.startIndex {
            try makeDirectories(String(path[..<slash]))
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw SystemError(operation: "mkdir", path: path) }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Names in a directory (without "." and ".."); nil when the directory does not exist.
    static func listDirectory(_ path: String) throws(SystemError) -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return nil }
            throw SystemError(operation: "opendir", path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func hostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    /// The process environment as a dictionary.
    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

/// A failed system call, with the path and errno text.
struct SystemError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32
    let text: String

    init(operation: String, path: String) {
        self.operation = operation
        self.path = path
        self.code = errno
        self.text = POSIX.errorText
    }

    var description: String { "\(operation) \(path): \(text)" }
}
