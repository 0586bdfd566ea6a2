import ClusterCIDRAPI
import Foundation
import Testing

// SCENARIOS D2, D3, F, G1, G2, G3: what admission accepts and rejects, checked against the
// Swift validator with the fixtures the CEL check uses.

@Test(arguments: try AdmissionCase.load().valid)
func validObjectsHaveNoErrors(_ fixture: AdmissionCase) throws {
    let object = try decodeClusterCIDR(fixture.object)
    #expect(object.validate() == [])
    #expect(throws: Never.self) { try object.poolDefinition() }
}

@Test(arguments: try AdmissionCase.load().invalid)
func invalidObjectsAreRejectedWithTheExpectedMessages(_ fixture: AdmissionCase) throws {
    let object: ClusterCIDR
    do {
        object = try decodeClusterCIDR(fixture.object)
    } catch {
        // Only a schema violation (e.g. perNodeHostBits missing) may fail to decode.
        #expect(fixture.rejectedBySchema, "\(fixture.name) failed to decode: \(error)")
        return
    }
    let errors = object.validate()
    #expect(!errors.isEmpty, "\(fixture.name) was accepted")
    let text = errors.map(\.description).joined(separator: "\n")
    for message in fixture.expectedMessages {
        #expect(text.contains(message), "\(fixture.name): \"\(message)\" not in:\n\(text)")
    }
    for error in errors {
        #expect(error.description.hasPrefix("ClusterCIDR \"\(object.name)\": spec"), "\(error) names neither object nor field")
    }
    #expect(throws: InvalidClusterCIDR.self) { try object.poolDefinition() }
}

@Test(arguments: try AdmissionCase.load().updates)
func updatesKeepTheSpecImmutable(_ fixture: AdmissionCase) throws {
    let old = try decodeClusterCIDR(try #require(fixture.old))
    let new = try decodeClusterCIDR(fixture.object)
    let errors = ClusterCIDR.validateUpdate(old: old, new: new)
    let text = errors.map(\.description).joined(separator: "\n")
    if fixture.expectedMessages.isEmpty {
        #expect(errors == [], "\(fixture.name): \(text)")
    }
    for message in fixture.expectedMessages {
        #expect(text.contains(message), "\(fixture.name): \"\(message)\" not in:\n\(text)")
    }
}

@Test func everyImmutabilityMessageAppearsOnceWhenAllFourFieldsChange() throws {
    let old = ClusterCIDR(name: "g3", spec: ClusterCIDRSpec(
        nodeSelector: .init(nodeSelectorTerms: [.init(matchExpressions: [.init(key: "foo", operator: "In", values: ["bar"])])]),
        perNodeHostBits: 8, ipv4: "10.1.0.0/16", ipv6: "fd00:1:1::/64"))
    var new = old
    new.spec?.perNodeHostBits = 12
    new.spec?.ipv4 = "10.2.0.0/16"
    new.spec?.ipv6 = "fd00:2::/64"
    new.spec?.nodeSelector = .init(nodeSelectorTerms: [.init(matchExpressions: [.init(key: "foo", operator: "In", values: ["bar2"])])])
    let messages = ClusterCIDR.validateUpdate(old: old, new: new).map(\.message)
    #expect(messages.count == 4)
    for expected in ["NodeSelector cannot be changed.", "PerNodeHostBits cannot be changed.", "IPv4 cannot be changed.", "IPv6 cannot be changed."] {
        #expect(messages.filter { $0.hasPrefix(expected) }.count == 1)
    }
}

@Test func errorsNameTheObjectTheFieldAndTheFix() throws {
    let object = ClusterCIDR(name: "blue", spec: ClusterCIDRSpec(perNodeHostBits: 40, ipv4: "10.0.0.0/16"))
    let errors = object.validate()
    #expect(errors.map(\.description) == [
        "ClusterCIDR \"blue\": spec.perNodeHostBits: 40 is larger than the 16 host bits of 10.0.0.0/16: must be less than or equal to 16",
    ])
    #expect(errors.first?.field == "spec.perNodeHostBits")
}

@Test func perNodeHostBitsIPv6GovernsOnlyIPv6() {
    // IPv4 /16 with 8 bits, IPv6 /48 with 64 bits: valid only because IPv6 has its own value.
    let split = ClusterCIDR(name: "split", spec: ClusterCIDRSpec(perNodeHostBits: 8, perNodeHostBitsIPv6: 64, ipv4: "10.0.0.0/16", ipv6: "2001:db8::/48"))
    #expect(split.validate() == [])
    let shared = ClusterCIDR(name: "shared", spec: ClusterCIDRSpec(perNodeHostBits: 64, ipv4: "10.0.0.0/16", ipv6: "2001:db8::/48"))
    #expect(shared.validate().map(\.field) == ["spec.perNodeHostBits"])
    // perNodeHostBits stays bounded by IPv4 even when IPv6 has its own value.
    let tooWide = ClusterCIDR(name: "wide", spec: ClusterCIDRSpec(perNodeHostBits: 17, perNodeHostBitsIPv6: 64, ipv4: "10.0.0.0/16", ipv6: "2001:db8::/48"))
    #expect(tooWide.validate().map(\.field) == ["spec.perNodeHostBits"])
}
