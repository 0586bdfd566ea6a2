import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, for exec credential plugins (and the tests'
/// kubectl, python and controller processes).
///
/// Why not Foundation's `Process`: on Linux (Swift 6.3.1) `Process.run()` intermittently
/// crashes the calling process with an over-read while it lists /proc/self/fd
/// (swift-corelibs-foundation PR #5472, fixed upstream in 2026-05, not in this toolchain); one
/// such crash took a whole `swift test` run down here. Reads retry on EINTR instead of trapping.
public final class ChildProcess: Sendable {
    /// Where a standard stream goes.
    public enum Stream: Sendable, Equatable {
        /// /dev/null.
        case null
        /// This process's own stream.
        case inherit
        /// A file, created if missing, written from its start (not truncated); stdout and stderr
        /// given the same path share one descriptor, so their lines interleave.
        case file(String)
        /// A pipe this process reads with `readOutput()`.
        case capture
        /// A pipe whose reading end is closed at once: every write fails with EPIPE (SIGPIPE).
        /// Stdout and stderr share it.
        case closedPipe
    }

    /// How the child ended.
    public struct Termination: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, or the signal's number when `signaled`.
        public var status: Int32
        public var signaled: Bool

        public init(status: Int32, signaled: Bool) {
            self.status = status
            self.signaled = signaled
        }

        public var succeeded: Bool { !signaled && status == 0 }
        public var description: String { signaled ? "killed by signal \(status)" : "exit status \(status)" }
    }

    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public var executable: String
        public var code: Int32
        public var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }

    public let pid: pid_t
    private let outputDescriptor: Int32?
    private let errorDescriptor: Int32?
    private let state = Mutex<State>(State())
    private let ended = DispatchSemaphore(value: 0)

    private struct State {
        var termination: Termination?
        var handlers: [@Sendable (Termination) -> Void] = []
    }

    /// Starts `executable` (a path) with `arguments` and exactly `environment`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String],
                input: Stream = .null, output: Stream = .inherit, errors: Stream = .inherit) throws(SpawnError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32] = [] // closed here once the child has its copies
        var files: [String: Int32] = [:]
        var captured: [Int32: Int32] = [:] // child fd -> our read end
        var closedPipe: Int32? // its writing end
        func fail(_ code: Int32) -> SpawnError {
            for fd in parentEnds { close(fd) }
            for fd in captured.values { close(fd) }
            return SpawnError(executable: executable, code: code)
        }
        for (target, stream) in [(Int32(0), input), (Int32(1), output), (Int32(2), errors)] {
            switch stream {
            case .inherit:
                break
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                var fd = files[path]
                if fd == nil {
                    let opened = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                    guard opened >= 0 else { throw fail(errno) }
                    files[path] = opened
                    parentEnds.append(opened)
                    fd = opened
                }
                posix_spawn_file_actions_adddup2(&actions, fd!, target)
            case .closedPipe:
                if closedPipe == nil {
                    guard let ends = Self.pipeClosedOnExec() else { throw fail(errno) }
                    parentEnds.append(contentsOf: ends)
                    closedPipe = ends[1]
                }
                posix_spawn_file_actions_adddup2(&actions, closedPipe!, target)
            case .capture:
                guard let ends = Self.pipeClosedOnExec() else { throw fail(errno) }
                // The child writes (reads, for stdin) its end; ours stays with us.
                let (childEnd, ourEnd) = target == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
                parentEnds.append(childEnd)
                captured[target] = ourEnd
            }
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let code = posix_spawn(&child, executable, &actions, nil, argv, envp)
        guard code == 0 else { throw fail(code) }
        for fd in parentEnds { close(fd) }
        if let stdin = captured[0] { close(stdin) } // nothing is written to a captured stdin: EOF
        pid = child
        outputDescriptor = captured[1]
        errorDescriptor = captured[2]
        // One thread waits for the child, so that every caller can ask or be told.
        let thread = Thread { [self] in self.reap() }
        thread.start()
    }

    /// A pipe (read end, write end) whose ends a child gets only through its file actions.
    private static func pipeClosedOnExec() -> [Int32]? {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return nil }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return ends
    }

    private func reap() {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS, which Swift does not import as functions.
        let signal = raw & 0x7F
        let termination = signal != 0 && signal != 0x7F
            ? Termination(status: signal, signaled: true)
            : Termination(status: (raw >> 8) & 0xFF, signaled: false)
        let handlers = state.withLock { state in
            state.termination = termination
            defer { state.handlers = [] }
            return state.handlers
        }
        ended.signal()
        for handler in handlers { handler(termination) }
    }

    /// Calls `handler` once the child has ended (at once if it has).
    public func onExit(_ handler: @escaping @Sendable (Termination) -> Void) {
        let done = state.withLock { state -> Termination? in
            if let termination = state.termination { return termination }
            state.handlers.append(handler)
            return nil
        }
        if let done { handler(done) }
    }

    public var isRunning: Bool { state.withLock { $0.termination == nil } }

    /// Blocks until the child has ended.
    public func wait() -> Termination {
        if let done = state.withLock({ $0.termination }) { return done }
        ended.wait()
        ended.signal() // for any other waiter
        return state.withLock { $0.termination! }
    }

    public func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// The next bytes of the captured stdout as they come (blocking); nil at its end. For
    /// following a long-running child's output; not to be mixed with `readOutput()`.
    public func readOutputChunk() -> Data? {
        guard let fd = outputDescriptor else { return nil }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { return Data(chunk[0..<count]) }
            if count < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// Reads the captured streams to their end (both at once, so that a child filling one pipe
    /// while the other is read cannot block); empty for streams not captured. Call once.
    public func readOutput() -> (output: Data, errors: Data) {
        var buffers: [Int32: Data] = [:]
        var open = [outputDescriptor, errorDescriptor].compactMap { $0 }
        for fd in open { buffers[fd] = Data() }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !open.isEmpty {
            var polls = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&polls, nfds_t(polls.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in polls where entry.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    buffers[entry.fd]!.append(contentsOf: chunk[0..<count])
                } else if count == 0 || errno != EINTR && errno != EAGAIN {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        return (outputDescriptor.flatMap { buffers[$0] } ?? Data(), errorDescriptor.flatMap { buffers[$0] } ?? Data())
    }
}
