import Foundation
import KubeClient
import Synchronization
import Testing

// ChildProcess (posix_spawn) in place of Foundation's Process, whose run() on Linux can crash
// the caller (swift-corelibs-foundation PR #5472).

@Test func outputAndErrorsAreCapturedAndTheStatusIsReported() throws {
    let child = try ChildProcess("/bin/sh", ["-c", "echo out; echo err >&2; head -c 200000 /dev/zero; exit 3"],
                                 environment: ["PATH": "/usr/bin:/bin"], output: .capture, errors: .capture)
    let (output, errors) = child.readOutput()
    #expect(output.count == 4 + 200_000, "a child filling its pipe is read while it writes")
    #expect(String(decoding: output.prefix(4), as: UTF8.self) == "out\n")
    #expect(String(decoding: errors, as: UTF8.self) == "err\n")
    #expect(child.wait() == ChildProcess.Termination(status: 3, signaled: false))
    #expect(!child.isRunning)
}

@Test func theEnvironmentIsExactlyTheOneGiven() throws {
    let child = try ChildProcess("/usr/bin/env", [], environment: ["ONLY": "this one"], output: .capture, errors: .null)
    #expect(String(decoding: child.readOutput().output, as: UTF8.self) == "ONLY=this one\n")
    #expect(child.wait().succeeded)
}

@Test func aSignalledChildIsToldAsSuch() async throws {
    let child = try ChildProcess("/bin/sleep", ["30"], environment: [:])
    #expect(child.isRunning)
    let told = Mutex<ChildProcess.Termination?>(nil)
    child.signal(SIGKILL)
    let termination = child.wait()
    #expect(termination == ChildProcess.Termination(status: SIGKILL, signaled: true))
    child.onExit { termination in told.withLock { $0 = termination } }
    #expect(told.withLock { $0 } == termination, "a handler added after the end is called at once")
}

@Test func bothStreamsIntoOneFileInterleave() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let child = try ChildProcess("/bin/sh", ["-c", "echo one; echo two >&2; echo three"], environment: [:], output: .file(path), errors: .file(path))
    #expect(child.wait().succeeded)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "one\ntwo\nthree\n")
}

@Test func aMissingExecutableIsAClearError() {
    #expect {
        _ = try ChildProcess("/nonexistent/plugin", [], environment: [:])
    } throws: { error in
        "\(error)" == "cannot start /nonexistent/plugin: No such file or directory"
    }
}

@Test func writingIntoAClosedPipeFails() throws {
    let child = try ChildProcess("/bin/sh", ["-c", "trap '' PIPE; sleep 0.2; echo x || exit 7"], environment: [:], output: .closedPipe, errors: .null)
    #expect(child.wait() == ChildProcess.Termination(status: 7, signaled: false))
}
