import Testing
import MultiCIDR
@testable import CNIIPAM

/// A network config with `ipam` as given (JSON text of the ipam object's members).
func netconf(_ ipamMembers: String, version: String = "1.0.0", extra: String = "") -> [UInt8] {
    Array(#"{"cniVersion":"\#(version)","name":"pods","type":"bridge"\#(extra),"ipam":{"type":"node-ipam"\#(ipamMembers.isEmpty ? "" : ",")\#(ipamMembers)}}"#.utf8)
}

func ipamConfig(_ ipamMembers: String, extra: String = "") throws -> IPAMConfig {
    try IPAMConfig(NetworkConfig(parsing: netconf(ipamMembers, extra: extra)))
}

func errorCode(_ body: () throws -> Void) -> Int? {
    do { try body() } catch let error as CNIError { return error.code.rawValue } catch { return -1 }
    return nil
}

func configError(_ ipamMembers: String, extra: String = "") -> CNIError? {
    do { _ = try ipamConfig(ipamMembers, extra: extra) } catch let error as CNIError { return error } catch { return nil }
    return nil
}

@Suite struct ConfigFormTests {
    @Test func shortFormWithDefaults() throws {
        let config = try ipamConfig(#""subnet":"10.244.1.0/24""#)
        let range = try #require(config.rangeSets.first?.ranges.first)
        #expect(config.rangeSets.count == 1)
        #expect(range.gateway.description == "10.244.1.1")
        #expect(range.address(range.start).description == "10.244.1.1")
        #expect(range.address(range.end).description == "10.244.1.254")
        #expect(range.capacity == 253)
        #expect(config.strategy == .sequential)
        #expect(config.nodePodCIDRs == .notRequested)
    }

    @Test func shortFormWithGatewayAndBounds() throws {
        let config = try ipamConfig(#""subnet":"10.244.1.0/24","gateway":"10.244.1.254","rangeStart":"10.244.1.10","rangeEnd":"10.244.1.20""#)
        let range = try #require(config.rangeSets.first?.ranges.first)
        #expect(range.gateway.description == "10.244.1.254")
        #expect(range.address(range.start).description == "10.244.1.10")
        #expect(range.address(range.end).description == "10.244.1.20")
    }

    @Test func rangesDualStackAndMultipleRangesPerSet() throws {
        let config = try ipamConfig(#"""
        "ranges":[[{"subnet":"10.244.1.0/24","rangeStart":"10.244.1.10","rangeEnd":"10.244.1.20"},{"subnet":"10.244.2.0/24"}],
                  [{"subnet":"fd00:10:244:1::/64","gateway":"fd00:10:244:1::fe"}]],
        "allocation_strategy":"random","routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0","gw":"fd00:10:244:1::fe"}],
        "dataDir":"/run/x","resolvConf":"/etc/resolv.conf","unknownKey":{"ignored":true}
        """#)
        #expect(config.rangeSets.count == 2)
        #expect(config.rangeSets[0].ranges.count == 2)
        #expect(config.rangeSets[1].family == .ipv6)
        #expect(config.rangeSets[1].ranges[0].address(config.rangeSets[1].ranges[0].end).description == "fd00:10:244:1:ffff:ffff:ffff:ffff")
        #expect(config.strategy == .random)
        #expect(config.routes.count == 2)
        #expect(config.resolvConf == "/etc/resolv.conf")
    }

    @Test func orderIsRuntimeRangesThenShortFormThenRanges() throws {
        let config = try ipamConfig(#""subnet":"10.1.0.0/24","ranges":[[{"subnet":"10.2.0.0/24"}]]"#,
                                    extra: #","runtimeConfig":{"ipRanges":[[{"subnet":"10.3.0.0/24"}]]}"#)
        #expect(config.rangeSets.map(\.description) == ["10.3.0.0/24", "10.1.0.0/24", "10.2.0.0/24"])
    }

    @Test func nodePodCIDRsAloneOrPinned() throws {
        #expect(try ipamConfig(#""nodePodCIDRs":true"#).nodePodCIDRs == .discover)
        let pinned = try ipamConfig(#""nodePodCIDRs":["10.244.7.0/24","fd00:7::/64"]"#)
        #expect(pinned.nodePodCIDRs == .pinned([try IPPrefix(parsing: "10.244.7.0/24"), try IPPrefix(parsing: "fd00:7::/64")]))
        let sets = try pinned.resolvedRangeSets(nodePodCIDRs: [try IPPrefix(parsing: "10.244.7.0/24"), try IPPrefix(parsing: "fd00:7::/64")])
        #expect(sets.map(\.description) == ["10.244.7.0/24", "fd00:7::/64"])
    }

    @Test func nodeRangesAppendedAfterConfiguredOnesAndMustNotOverlap() throws {
        let config = try ipamConfig(#""subnet":"10.9.0.0/24","nodePodCIDRs":true"#)
        #expect(try config.resolvedRangeSets(nodePodCIDRs: [try IPPrefix(parsing: "fd00::/64")]).map(\.description) == ["10.9.0.0/24", "fd00::/64"])
        #expect(errorCode { _ = try config.resolvedRangeSets(nodePodCIDRs: [try IPPrefix(parsing: "10.9.0.0/16")]) } == 7)
    }

    @Test func missingCNIVersionImpliesUnsupportedZeroOneZero() throws {
        let config = try NetworkConfig(parsing: Array(#"{"name":"n","ipam":{"subnet":"10.0.0.0/24"}}"#.utf8))
        #expect(config.cniVersion == "0.1.0")
        #expect(config.replyVersion == "1.1.0")
        #expect(errorCode { try CNIVersion.validate(config.cniVersion, for: .add) } == 1)
    }

    @Test(arguments: CNIVersion.supported)
    func everySupportedVersionAllowsAddAndDel(version: String) throws {
        try CNIVersion.validate(version, for: .add)
        try CNIVersion.validate(version, for: .del)
    }

    @Test func commandsNeedTheirVersions() {
        #expect(errorCode { try CNIVersion.validate("0.3.1", for: .check) } == 1)
        #expect(errorCode { try CNIVersion.validate("0.4.0", for: .check) } == nil)
        #expect(errorCode { try CNIVersion.validate("1.0.0", for: .gc) } == 1)
        #expect(errorCode { try CNIVersion.validate("1.0.0", for: .status) } == 1)
        #expect(errorCode { try CNIVersion.validate("1.1.0", for: .status) } == nil)
        #expect(errorCode { try CNIVersion.validate("2.0.0", for: .add) } == 1)
    }
}

@Suite struct BadConfigTests {
    /// Each bad config, its code and a part of its message (which names the key and value).
    @Test(arguments: [
        (#""subnet":"10.244.1.5/24""#, 7, "host bits", "did you mean 10.244.1.0/24"),
        (#""subnet":"10.244.1.0/31""#, 7, "too small", "/30"),
        (#""subnet":"fd00::/127""#, 7, "too small", "/126"),
        (#""subnet":"10.244.1.0""#, 7, "not a CIDR", "CIDR form"),
        (#""subnet":"10.244.1.0/24","gateway":"10.244.2.1""#, 7, "outside subnet", "inside 10.244.1.0/24"),
        (#""subnet":"10.244.1.0/24","gateway":"fd00::1""#, 7, "outside subnet", ""),
        (#""subnet":"10.244.1.0/24","gateway":"10.244.1.300""#, 7, "not an IP address", ""),
        (#""subnet":"10.244.1.0/24","rangeStart":"10.244.1.20","rangeEnd":"10.244.1.10""#, 7, "is after rangeEnd", "swap"),
        (#""subnet":"10.244.1.0/30","rangeStart":"10.244.1.1","rangeEnd":"10.244.1.1""#, 7, "no address to hand out", "gateway"),
        (#""ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]"#, 7, "mixes IPv4 and IPv6", "own range set"),
        (#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/25"}]]"#, 7, "overlaps", ""),
        (#""ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.10","rangeEnd":"10.0.0.20"},{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.20"}]]"#, 7, "overlaps", ""),
        (#""ranges":[]"#, 7, "no ranges", "nodePodCIDRs"),
        (#""ranges":[[]]"#, 7, "non-empty list", ""),
        (#""ranges":{"subnet":"10.0.0.0/24"}"#, 7, "expected a list of range sets", ""),
        (#""ranges":[[{"gateway":"10.0.0.1"}]]"#, 7, "has no subnet", ""),
        (#""gateway":"10.0.0.1""#, 7, "without ipam.subnet", ""),
        (#""subnet":"10.0.0.0/24","allocation_strategy":"roundrobin""#, 7, "\"roundrobin\" is unknown", "random"),
        (#""subnet":"10.0.0.0/24","routes":[{"gw":"10.0.0.1"}]"#, 7, "has no dst", ""),
        (#""subnet":"10.0.0.0/24","routes":[{"dst":"default"}]"#, 7, "ipam.routes[0].dst \"default\" is not a CIDR", ""),
        (#""subnet":42"#, 7, "is a number, expected a string", ""),
        (#""nodePodCIDRs":"yes""#, 7, "nodePodCIDRs is a string", "true"),
        (#""nodePodCIDRs":["10.1.0.0/24","10.2.0.0/24"]"#, 7, "two IPv4 CIDRs", "at most one podCIDR per family"),
        (#""nodePodCIDRs":[]"#, 7, "lists no CIDR", ""),
    ])
    func badIPAMSection(members: String, code: Int, message: String, details: String) throws {
        let error = try #require(configError(members))
        #expect(error.code.rawValue == code)
        #expect(error.msg.contains(message), "\(error.msg)")
        #expect(error.details.contains(details), "\(error.details)")
    }

    @Test func requestedAddressesAreRefusedAsUnsupported() throws {
        let error = try #require(configError(#""subnet":"10.0.0.0/24""#, extra: #","runtimeConfig":{"ips":["10.0.0.5/24"]}"#))
        #expect(error.code == .unsupportedField)
        #expect(error.msg.contains("runtimeConfig.ips = [\"10.0.0.5/24\"]"))
        #expect(errorCode { _ = try CNIArgs.parse("IgnoreUnknown=1;IP=10.0.0.5") } == 2)
    }

    @Test func documentErrors() {
        #expect(errorCode { _ = try NetworkConfig(parsing: Array("{".utf8)) } == 6)
        #expect(errorCode { _ = try NetworkConfig(parsing: Array("[]".utf8)) } == 6)
        #expect(errorCode { _ = try NetworkConfig(parsing: Array(#"{"cniVersion":1,"ipam":{}}"#.utf8)) } == 6)
        #expect(errorCode { _ = try NetworkConfig(parsing: Array(#"{"cniVersion":"1.0.0","name":"n"}"#.utf8)) } == 7)
    }

    @Test func storeLocationNeedsAnAbsoluteDirOrASafeName() throws {
        #expect(errorCode { _ = try NetworkConfig(parsing: netconf(#""dataDir":"relative/dir""#)).explicitDataDir() } == 7)
        let unnamed = try NetworkConfig(parsing: Array(#"{"cniVersion":"1.0.0","ipam":{}}"#.utf8))
        #expect(errorCode { _ = try unnamed.defaultStoreDirectory() } == 7)
        let evil = try NetworkConfig(parsing: Array(#"{"cniVersion":"1.0.0","name":"../etc","ipam":{}}"#.utf8))
        #expect(errorCode { _ = try evil.defaultStoreDirectory() } == 7)
        #expect(try NetworkConfig(parsing: netconf("")).defaultStoreDirectory() == "/var/lib/cni/networks/pods")
    }

    @Test func cniArgsAndEnvironmentValues() throws {
        let args = try CNIArgs.parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1")
        let pod = PodIdentity(cniArgs: args)
        #expect(pod.description == "default/web-0 uid=u-1")
        #expect(pod.infraContainerID == "abc")
        #expect(errorCode { _ = try CNIArgs.parse("K8S_POD_NAME") } == 4)
        #expect(Validation.isValidContainerID("a1_b.c-d"))
        #expect(!Validation.isValidContainerID("-abc"))
        #expect(!Validation.isValidContainerID("a/b"))
        #expect(Validation.isValidInterfaceName("eth0"))
        #expect(!Validation.isValidInterfaceName("a-very-long-name0"))
        #expect(!Validation.isValidInterfaceName("eth:0"))
    }
}
