import ClusterCIDRAPI
import Foundation
import KubeClient
import Testing

// Bad input never crashes: validation and conversion agree on every combination.

private let hostBits: [Int32] = [.min, -1, 0, 3, 4, 8, 31, 32, 33, 64, 100, 124, 127, 128, 129, .max]
private let cidrs: [String?] = [
    nil, "", "0.0.0.0/0", "10.0.0.0/32", "10.0.0.0/8", "::/0", "::/128", "2001:db8::/32", "fd00::/120",
    "::ffff:1.2.3.4/128", "1.2.3.4", "/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8", "1.2.3.4/32/5",
    "fe80::1%eth0/64", ":::/64", "1::2::3/64", String(repeating: "1", count: 10_000) + "/8", "١٠.0.0.0/8",
]

@Test func validationAndConversionAgreeOnEveryCombination() {
    for bits in hostBits {
        for ipv4 in cidrs {
            for ipv6 in cidrs {
                for bitsIPv6 in [nil, 64, .min] as [Int32?] {
                    let object = ClusterCIDR(name: "x", spec: ClusterCIDRSpec(perNodeHostBits: bits, perNodeHostBitsIPv6: bitsIPv6, ipv4: ipv4, ipv6: ipv6))
                    let errors = object.validate()
                    let converted = Result { () throws(InvalidClusterCIDR) in try object.poolDefinition() }
                    switch converted {
                    case .success: #expect(errors.isEmpty)
                    case .failure(let invalid): #expect(invalid.errors == errors && !errors.isEmpty)
                    }
                }
            }
        }
    }
}

@Test func garbageSelectorsAreReportedNotFatal() {
    let keys = ["", "/", "a/", "/a", "a//b", String(repeating: "k", count: 64), String(repeating: "p", count: 254) + "/k", "ключ", "a b", "-a", "a.", "ok"]
    let operators = ["", "in", "Foo", "In", "Exists", "Gt", "Lt"]
    let valueSets: [[String]?] = [nil, [], [""], ["1"], ["x", "y"], ["99999999999999999999"]]
    for key in keys {
        for op in operators {
            for values in valueSets {
                let requirement = NodeSelectorRequirement(key: key, operator: op, values: values)
                let selector = NodeSelector(nodeSelectorTerms: [NodeSelectorTerm(matchExpressions: [requirement], matchFields: [requirement])])
                let object = ClusterCIDR(name: "s", spec: ClusterCIDRSpec(nodeSelector: selector, perNodeHostBits: 8, ipv4: "10.0.0.0/16"))
                // matchFields never accepts these keys, so every combination is invalid.
                #expect(!object.validate().isEmpty)
            }
        }
    }
}

@Test func absurdJSONDecodesToAnErrorOrAnInvalidObject() throws {
    let documents = [
        #"{"spec":{"perNodeHostBits":1e20,"ipv4":"10.0.0.0/8"}}"#,
        #"{"spec":{"perNodeHostBits":"8","ipv4":"10.0.0.0/8"}}"#,
        #"{"spec":{"perNodeHostBits":8,"ipv4":17}}"#,
        #"{"spec":{"perNodeHostBits":8,"nodeSelector":{"nodeSelectorTerms":"all"}}}"#,
        #"{"spec":null}"#,
        #"{}"#,
        #"[]"#,
        #"{"metadata":{"name":"m"},"spec":{"perNodeHostBits":2147483647,"ipv6":"::/0"}}"#,
    ]
    for document in documents {
        if let object = try? JSONDecoder().decode(ClusterCIDR.self, from: Data(document.utf8)) {
            #expect(!object.validate().isEmpty, "\(document) was accepted")
        }
    }
}
