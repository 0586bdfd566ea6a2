import Foundation
import Testing
@testable import NodeIPAMPlugin

/// A temporary store directory and helpers to run CNI calls in-process against it.
struct Sandbox: ~Copyable {
    let root: String

    init() {
        root = NSTemporaryDirectory() + "node-ipam-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var store: String { root + "/store" }

    func config(_ ipam: String, version: String = "1.0.0", name: String = "pods", extra: String = "", dataDir: String? = nil) -> String {
        #"{"cniVersion":"\#(version)","name":"\#(name)","type":"bridge"\#(extra),"ipam":{"type":"node-ipam","dataDir":"\#(dataDir ?? store)",\#(ipam)}}"#
    }

    func run(_ command: String, _ config: String, id: String? = "ctr1", ifname: String = "eth0",
             env: [String: String] = [:]) -> PluginOutput {
        var environment = ["CNI_COMMAND": command, "CNI_IFNAME": ifname, "CNI_NETNS": "/run/netns/test", "CNI_PATH": "/usr/lib/cni",
                           "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-\(id ?? "");K8S_POD_UID=uid-\(id ?? "")"]
        if let id { environment["CNI_CONTAINERID"] = id }
        environment.merge(env) { $1 }
        return Plugin.run(environment: environment, stdin: Array(config.utf8), captureLog: true)
    }

    func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: store)) ?? []).sorted()
    }

    func read(_ name: String, in directory: String? = nil) -> String? {
        try? String(contentsOfFile: (directory ?? store) + "/" + name, encoding: .utf8)
    }

    func write(_ name: String, _ text: String, in directory: String? = nil) {
        let dir = directory ?? store
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try! text.write(toFile: dir + "/" + name, atomically: false, encoding: .utf8)
    }
}

func json(_ output: PluginOutput) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
}

func addresses(_ output: PluginOutput) throws -> [String] {
    try ((json(output)["ips"] as? [[String: Any]]) ?? []).compactMap { $0["address"] as? String }
}

func code(_ output: PluginOutput) throws -> Int? {
    #expect(output.exitCode != 0)
    return try json(output)["code"] as? Int
}

let dualStack = #""ranges":[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:10:244:1::/64"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]"#

@Suite struct PluginCommandTests {
    @Test func addCheckDelRoundTripWithTheResultShape() throws {
        let box = Sandbox()
        let config = box.config(dualStack)
        let add = box.run("ADD", config)
        #expect(add.exitCode == 0, "\(add.stdout)")
        #expect(add.stdout == #"{"cniVersion":"1.0.0","ips":[{"address":"10.244.1.2/24","gateway":"10.244.1.1"},{"address":"fd00:10:244:1::2/64","gateway":"fd00:10:244:1::1"}],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dns":{}}"# + "\n")
        #expect(box.files() == ["10.244.1.2", "fd00:10:244:1::2", "last_reserved_ip.0", "last_reserved_ip.1", "lock"])
        #expect(box.read("10.244.1.2") == "ctr1\r\neth0\r\npod=default/pod-ctr1\r\nuid=uid-ctr1")
        #expect(box.read("last_reserved_ip.1") == "fd00:10:244:1::2")
        #expect(add.log.contains { $0.contains("ADD pod=default/pod-ctr1 uid=uid-ctr1 container=ctr1 ifname=eth0 addresses=10.244.1.2/24,fd00:10:244:1::2/64") })

        let prev = #","prevResult":\#(add.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"#
        #expect(box.run("CHECK", box.config(dualStack, extra: prev)).exitCode == 0)
        #expect(try code(box.run("CHECK", box.config(dualStack, extra: prev), id: "other")) == 100)

        let del = box.run("DEL", config)
        #expect(del.exitCode == 0 && del.stdout.isEmpty)
        #expect(box.files() == ["last_reserved_ip.0", "last_reserved_ip.1", "lock"])
        #expect(try code(box.run("CHECK", box.config(dualStack, extra: prev))) == 100)
        #expect(box.run("DEL", config).exitCode == 0)
        #expect(box.run("ADD", config, id: "ctr2").exitCode == 0)
        #expect(box.files().contains("10.244.1.3"))   // sequential: no instant reuse of .2
    }

    @Test func repeatedAddReturnsTheSameAddresses() throws {
        let box = Sandbox()
        let first = try addresses(box.run("ADD", box.config(dualStack)))
        #expect(try addresses(box.run("ADD", box.config(dualStack))) == first)
        #expect(try addresses(box.run("ADD", box.config(dualStack), id: "ctr2")) == ["10.244.1.3/24", "fd00:10:244:1::3/64"])
    }

    @Test func delOfUnknownContainerOrMissingStoreSucceeds() {
        let box = Sandbox()
        #expect(box.run("DEL", box.config(dualStack), id: "nobody").exitCode == 0)
        #expect(box.run("DEL", box.config(dualStack, dataDir: box.root + "/never/created")).exitCode == 0)
        // DEL still releases when the ranges of the config have become invalid.
        #expect(box.run("ADD", box.config(dualStack)).exitCode == 0)
        #expect(box.run("DEL", box.config(#""subnet":"10.0.0.1/24""#), env: ["CNI_NETNS": "", "CNI_ARGS": "IP=10.0.0.9;junk"]).exitCode == 0)
        #expect(!box.files().contains("10.244.1.2"))
    }

    @Test func oldVersionsCarryIPVersionFields() throws {
        let box = Sandbox()
        let output = box.run("ADD", box.config(#""subnet":"10.0.0.0/24""#, version: "0.3.1"))
        let ips = try #require(try json(output)["ips"] as? [[String: Any]])
        #expect(ips.first?["version"] as? String == "4")
        #expect(try json(output)["cniVersion"] as? String == "0.3.1")
    }

    @Test func versionCommand() throws {
        let box = Sandbox()
        let output = box.run("VERSION", #"{"cniVersion":"1.0.0"}"#, id: nil)
        #expect(output.stdout == #"{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"# + "\n")
        #expect(try json(box.run("VERSION", "", id: nil))["cniVersion"] as? String == "1.1.0")
    }

    @Test func errorsAreSpecShapedWithWellKnownCodes() throws {
        let box = Sandbox()
        let missing = Plugin.run(environment: [:], stdin: [], captureLog: true)
        #expect(try code(missing) == 4)
        #expect(try code(box.run("FROB", box.config(dualStack))) == 4)
        #expect(try code(box.run("ADD", "{not json")) == 6)
        let noID = box.run("ADD", box.config(dualStack), id: nil, env: ["CNI_NETNS": ""])
        #expect(try code(noID) == 4)
        #expect(try json(noID)["msg"] as? String == "ADD needs CNI_CONTAINERID, CNI_NETNS, which are not set")
        #expect(try code(box.run("ADD", box.config(dualStack), id: "bad/id")) == 4)
        #expect(try code(box.run("ADD", box.config(dualStack, version: "9.9.9"))) == 1)
        #expect(try code(box.run("CHECK", box.config(dualStack, version: "0.3.1"))) == 1)
        let bad = box.run("ADD", box.config(#""subnet":"10.0.0.0/24","gateway":"10.1.0.1""#))
        #expect(try code(bad) == 7)
        #expect(try json(bad)["cniVersion"] as? String == "1.0.0")
        #expect((try json(bad)["details"] as? String)?.isEmpty == false)
        #expect(bad.log.contains { $0.hasPrefix("E") && $0.contains("ADD failed: ipam.gateway 10.1.0.1 is outside subnet 10.0.0.0/24") })
    }

    @Test func exhaustionIsCode110AndKeepsNothing() throws {
        let box = Sandbox()
        let tight = #""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/126"}]]"#
        #expect(box.run("ADD", box.config(tight), id: "a").exitCode == 0)
        #expect(box.run("ADD", box.config(tight), id: "b").exitCode == 0)
        let before = box.files()
        let full = box.run("ADD", box.config(tight), id: "c")
        #expect(try code(full) == 110)
        #expect(box.files() == before)
    }

    @Test func gcReleasesAllButValidAttachments() throws {
        let box = Sandbox()
        for id in ["a", "b", "c"] { #expect(box.run("ADD", box.config(dualStack, version: "1.1.0"), id: id).exitCode == 0) }
        box.write("10.244.1.200", "")   // an empty file, as a killed host-local leaves
        box.write(".node-ipam-tmp-99-10.244.1.9", "x\r\neth0")
        let valid = #","cni.dev/valid-attachments":[{"containerID":"b","ifname":"eth0"}]"#
        let gc = box.run("GC", box.config(dualStack, version: "1.1.0", extra: valid), id: nil)
        #expect(gc.exitCode == 0 && gc.stdout.isEmpty, "\(gc.stdout)")
        #expect(box.files() == ["10.244.1.3", "fd00:10:244:1::3", "last_reserved_ip.0", "last_reserved_ip.1", "lock"])
        #expect(try code(box.run("GC", box.config(dualStack, version: "1.1.0"), id: nil)) == 7)
        #expect(try code(box.run("GC", box.config(dualStack, extra: valid), id: nil)) == 1)
    }

    @Test func statusReportsWhetherAddCanBeServed() throws {
        let box = Sandbox()
        let tiny = #""subnet":"10.0.0.0/30""#
        #expect(box.run("STATUS", box.config(tiny, version: "1.1.0"), id: nil).exitCode == 0)
        #expect(box.run("ADD", box.config(tiny, version: "1.1.0")).exitCode == 0)
        #expect(try code(box.run("STATUS", box.config(tiny, version: "1.1.0"), id: nil)) == 50)
        let unknown = box.run("STATUS", box.config(#""nodePodCIDRs":true,"nodePodCIDRsFile":"/nonexistent""#, version: "1.1.0"), id: nil)
        #expect(try code(unknown) == 50)
    }

    @Test func nodePodCIDRsFromTheEnvironmentAndTheAgentFile() throws {
        let box = Sandbox()
        let config = box.config(#""nodePodCIDRs":true,"nodePodCIDRsFile":"\#(box.root)/pod-cidrs""#)
        let viaEnv = box.run("ADD", config, env: ["NODE_POD_CIDR": "10.50.0.0/24,fd00:50::/64", "KLOG_V": "2"])
        #expect(try addresses(viaEnv) == ["10.50.0.2/24", "fd00:50::2/64"])
        #expect(viaEnv.log.contains { $0.contains("Using Pod CIDR from environment variable NODE_POD_CIDR: 10.50.0.0/24,fd00:50::/64") })
        box.write("pod-cidrs", "10.60.0.0/24\n", in: box.root)
        #expect(try addresses(box.run("ADD", config, id: "ctr2")) == ["10.60.0.2/24"])
        let nothing = box.run("ADD", box.config(#""nodePodCIDRs":true,"nodePodCIDRsFile":"/nonexistent""#), id: "ctr3")
        #expect(try code(nothing) == 102)
        #expect((try json(nothing)["msg"] as? String)?.contains("node agent file /nonexistent (absent)") == true)
    }

    @Test func logFileFromConfigGetsOneLinePerCall() throws {
        let box = Sandbox()
        let log = box.root + "/node-ipam.log"
        let config = box.config(#""subnet":"10.0.0.0/24","logFile":"\#(log)""#)
        #expect(box.run("ADD", config).exitCode == 0)
        #expect(box.run("DEL", config).exitCode == 0)
        let lines = try #require(try? String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].contains("ADD pod=default/pod-ctr1") && lines[1].contains("DEL pod=default/pod-ctr1 uid=uid-ctr1 container=ctr1 ifname=eth0 released=10.0.0.2"))
    }
}

@Suite struct HostLocalCompatibilityTests {
    @Test func hostLocalStoreIsPickedUpUnchanged() throws {
        let box = Sandbox()
        // Exactly what host-local 1.1.1 leaves: CRLF files, cursors, the lock.
        box.write("10.244.1.2", "ctr1\r\neth0")
        box.write("fd00:10:244:1::2", "ctr1\r\neth0")
        box.write("10.244.1.3", "legacy")
        box.write("last_reserved_ip.0", "10.244.1.3")
        box.write("last_reserved_ip.1", "fd00:10:244:1::2")
        box.write("lock", "")
        #expect(box.run("CHECK", box.config(dualStack)).exitCode == 0)
        #expect(try addresses(box.run("ADD", box.config(dualStack))) == ["10.244.1.2/24", "fd00:10:244:1::2/64"])
        #expect(try addresses(box.run("ADD", box.config(dualStack), id: "ctr2")) == ["10.244.1.4/24", "fd00:10:244:1::3/64"])
        #expect(box.run("DEL", box.config(dualStack), id: "legacy").exitCode == 0)
        #expect(!box.files().contains("10.244.1.3"))
        #expect(box.run("DEL", box.config(dualStack)).exitCode == 0)
        #expect(box.files() == ["10.244.1.4", "fd00:10:244:1::3", "last_reserved_ip.0", "last_reserved_ip.1", "lock"])
    }

    @Test func hostLocalDataDirLayoutIsFollowed() throws {
        let box = Sandbox()
        // host-local with "dataDir": D keeps its store in D/<network name>.
        box.write("lock", "", in: box.store + "/pods")
        box.write("10.244.1.2", "ctr1\r\neth0", in: box.store + "/pods")
        #expect(try addresses(box.run("ADD", box.config(dualStack), id: "ctr2"))[0] == "10.244.1.3/24")
        #expect(box.read("10.244.1.3", in: box.store + "/pods") != nil)
        #expect(!box.files().contains("10.244.1.3"))
    }

    @Test func leftoversOfAKilledCallAreRemovedUnderTheLock() throws {
        let box = Sandbox()
        box.write(".node-ipam-tmp-4242-10.244.1.2", "ctr9\r\neth0")
        box.write(".node-ipam-tmp-4242-last_reserved_ip.0", "10.244.1.7")
        #expect(try addresses(box.run("ADD", box.config(dualStack)))[0] == "10.244.1.2/24")
        #expect(!box.files().contains { $0.hasPrefix(".node-ipam-tmp-") })
    }
}
