#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CNIIPAM
import MultiCIDR

/// The store directory (host-local's layout, see `StoreFormat`). Every change happens while
/// holding `flock(LOCK_EX)` on `<dir>/lock` — one process per CNI call, so an in-process
/// mutex would protect nothing — and every file is written under a temporary name first and
/// then linked or renamed into place, so a kill at any point leaves the old or the new state.
struct DiskStore {
    let directory: String

    /// The store of `config`: `ipam.dataDir` as written, or host-local's default
    /// `/var/lib/cni/networks/<name>`. When `dataDir` holds host-local's layout (a `<name>`
    /// directory with its `lock`, and no `lock` of its own), that directory is used, so
    /// switching `type` from host-local to node-ipam keeps every pod's address.
    static func directory(for config: NetworkConfig) throws(CNIError) -> String {
        guard let dataDir = try config.explicitDataDir() else { return try config.defaultStoreDirectory() }
        let base = dataDir.hasSuffix("/") && dataDir.count > 1 ? String(dataDir.dropLast()) : dataDir
        if !POSIX.exists(base + "/" + StoreFormat.lockFileName), let name = try? config.validatedName(),
           POSIX.exists(base + "/" + name + "/" + StoreFormat.lockFileName) {
            return base + "/" + name
        }
        return base
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// Creates the directory if needed and takes the lock; waits at most `timeout` seconds
    /// (then code 11, try again later). The lock is released when the returned value is closed.
    func lock(timeout seconds: UInt32) throws(CNIError) -> StoreLock {
        do {
            try POSIX.makeDirectories(directory)
        } catch {
            throw CNIError(.ioFailure, "cannot create the store directory: \(error)",
                           details: "check that \(directory) (ipam.dataDir) is on a writable file system and the plugin runs as root")
        }
        let lockPath = path(StoreFormat.lockFileName)
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CNIError(.ioFailure, "cannot open \(lockPath): \(POSIX.errorText)", details: "check the permissions of \(directory)")
        }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return StoreLock(fd: fd) }
        guard errno == EWOULDBLOCK else {
            close(fd)
            throw CNIError(.ioFailure, "cannot lock \(lockPath): \(POSIX.errorText)", details: "the store needs a file system with flock(2)")
        }
        LockAlarm.install()
        alarm(seconds)
        let result = flock(fd, LOCK_EX)
        let failure = errno
        alarm(0)
        guard result == 0 else {
            close(fd)
            if failure == EINTR {
                throw CNIError(.tryAgainLater, "timed out after \(seconds) s waiting for the lock \(lockPath)",
                               details: "another CNI call holds it (a stuck plugin process?); the runtime should retry")
            }
            throw CNIError(.ioFailure, "cannot lock \(lockPath): \(String(cString: strerror(failure)))", details: "the store needs a file system with flock(2)")
        }
        return StoreLock(fd: fd)
    }

    /// Reads every address and cursor file. Temporary files left by a killed call are removed
    /// when `removeLeftovers` (only under the lock: then no live call is writing one).
    func snapshot(removeLeftovers: Bool) throws(CNIError) -> StoreSnapshot {
        let names: [String]
        do {
            guard let listed = try POSIX.listDirectory(directory) else { return StoreSnapshot() }
            names = listed
        } catch {
            throw CNIError(.ioFailure, "cannot read the store: \(error)", details: "check the permissions of \(directory)")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else {
            throw CNIError(.ioFailure, "cannot open the store \(directory): \(POSIX.errorText)", details: "check the permissions of \(directory)")
        }
        defer { close(directoryFD) }
        var snapshot = StoreSnapshot()
        for name in names {
            switch StoreFormat.classify(name) {
            case .address(let address):
                do {
                    // A directory or vanished entry is not an allocation we can use; skip it.
                    guard let bytes = try POSIX.readSmallFile(directory: directoryFD, name, path: path(name)) else { continue }
                    // `.some`: an unreadable file is an address taken by an unknown owner, not "no entry".
                    snapshot.allocations[address] = .some(Owner(fileContent: String(decoding: bytes, as: UTF8.self)))
                } catch where error.code == EISDIR {
                    continue
                } catch {
                    throw CNIError(.ioFailure, "cannot read the store: \(error)", details: "check the permissions of \(directory)")
                }
            case .cursor(let index):
                if let text = try? POSIX.readText(path(name)), let address = StoreFormat.parseCursor(text) {
                    snapshot.cursors[index] = address
                }
            case .temporary:
                if removeLeftovers { unlink(path(name)) }
            case .lock, .other:
                continue
            }
        }
        return snapshot
    }

    /// Creates the address file for `owner`: written under a temporary name, then hard-linked
    /// to the address's name (fails if it exists), so no reader ever sees a half-written file.
    func reserve(_ address: IPAddress, for owner: Owner) throws(CNIError) {
        let final = path(StoreFormat.addressFileName(address))
        let temporary = path(StoreFormat.temporaryPrefix + "\(getpid())-" + StoreFormat.addressFileName(address))
        try writeTemporary(temporary, Array(owner.fileContent.utf8))
        defer { unlink(temporary) }
        guard link(temporary, final) == 0 else {
            if errno == EEXIST {
                throw CNIError(.tryAgainLater, "\(final) appeared while node-ipam held the lock",
                               details: "another program writes the store without flock on \(path(StoreFormat.lockFileName)); retry, and stop that program")
            }
            throw CNIError(.ioFailure, "cannot create \(final): \(POSIX.errorText)", details: "check free space and permissions of \(directory)")
        }
    }

    /// Writes `last_reserved_ip.<set>` through a temporary file and rename.
    func writeCursor(setIndex: Int, _ address: IPAddress) throws(CNIError) {
        let final = path(StoreFormat.cursorFileName(setIndex: setIndex))
        let temporary = path(StoreFormat.temporaryPrefix + "\(getpid())-" + StoreFormat.cursorFileName(setIndex: setIndex))
        try writeTemporary(temporary, Array(address.description.utf8))
        guard rename(temporary, final) == 0 else {
            let text = POSIX.errorText
            unlink(temporary)
            throw CNIError(.ioFailure, "cannot rename \(temporary) to \(final): \(text)", details: "check free space and permissions of \(directory)")
        }
    }

    /// Removes an address file; a missing one is already released.
    func release(_ address: IPAddress) throws(CNIError) {
        let file = path(StoreFormat.addressFileName(address))
        guard unlink(file) == 0 || errno == ENOENT else {
            throw CNIError(.ioFailure, "cannot remove \(file): \(POSIX.errorText)", details: "check the permissions of \(directory)")
        }
    }

    private func writeTemporary(_ file: String, _ bytes: [UInt8]) throws(CNIError) {
        var fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == EEXIST {
            // Left by a killed call of the same pid: we hold the lock, nobody else writes it.
            unlink(file)
            fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else {
            throw CNIError(.ioFailure, "cannot create \(file): \(POSIX.errorText)", details: "check free space and permissions of \(directory)")
        }
        let written = POSIX.writeAll(fd, bytes)
        let text = POSIX.errorText
        close(fd)
        guard written else {
            unlink(file)
            throw CNIError(.ioFailure, "cannot write \(file): \(text)", details: "check free space on the file system of \(directory)")
        }
    }
}

/// A held store lock; `release` (or the process's exit, even by kill -9) lets it go.
struct StoreLock {
    let fd: Int32
    func release() { close(fd) }
}

/// SIGALRM interrupts a blocked flock(2) (installed without SA_RESTART), which is how the
/// lock wait gets a timeout without polling: waiting processes wake the moment it is free.
enum LockAlarm {
    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGALRM, &action, nil)
    }
}
