import Foundation

/// Writes files the way a runtime or a plugin may read them at any moment: the new content
/// goes to a temporary file in the same directory (a name the runtime ignores: a leading dot
/// and no `.conf`/`.conflist`/`.json` suffix), is flushed, then renamed over the old one, so a
/// reader sees the old file or the new one, never a part. Unchanged content is not rewritten.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    /// Writes `content` unless the file already holds exactly it; returns whether it wrote.
    @discardableResult
    public static func writeIfChanged(_ content: Data, to path: String, mode: mode_t = 0o644) throws(WriteError) -> Bool {
        if let current = FileManager.default.contents(atPath: path), current == content {
            return false
        }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WriteError(path: path, reason: "cannot create \(directory): \(error.localizedDescription)")
        }
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(path: path, reason: "open \(temporary): \(String(cString: strerror(errno)))") }
        var failure: String?
        content.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = "write \(temporary): \(String(cString: strerror(errno)))"
                    return
                }
                offset += count
            }
        }
        // open(2) applies the umask; the mode must be exact (an executable plugin).
        if failure == nil, fchmod(fd, mode) != 0 { failure = "chmod \(temporary): \(String(cString: strerror(errno)))" }
        if failure == nil, fsync(fd) != 0 { failure = "fsync \(temporary): \(String(cString: strerror(errno)))" }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = "rename \(temporary) to \(path): \(String(cString: strerror(errno)))" }
        if let failure {
            unlink(temporary)
            throw WriteError(path: path, reason: failure)
        }
        return true
    }

    @discardableResult
    public static func writeIfChanged(_ text: String, to path: String, mode: mode_t = 0o644) throws(WriteError) -> Bool {
        try writeIfChanged(Data(text.utf8), to: path, mode: mode)
    }

    /// The file's text, nil when absent or unreadable.
    public static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}
