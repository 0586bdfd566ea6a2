import Foundation
@testable import NodeIPAMController
import Testing

// The JSON patch that writes podCIDRs (written by hand, not by JSONEncoder): exactly the
// operations the fault-safety design needs, in order, and valid JSON for any uid.

@Test func thePodCIDRPatchTestsTheUIDThenAddsBothFields() throws {
    let patch = PodCIDRPatch(podCIDRs: ["10.0.1.0/24", "fd00:0:0:1::/64"], uid: "5e3b\"odd\\uid").json
    let operations = try #require(try JSONSerialization.jsonObject(with: patch) as? [[String: Any]])
    #expect(operations.count == 3)
    #expect(operations.map { $0["op"] as? String } == ["test", "add", "add"])
    #expect(operations.map { $0["path"] as? String } == ["/metadata/uid", "/spec/podCIDR", "/spec/podCIDRs"])
    #expect(operations[0]["value"] as? String == "5e3b\"odd\\uid")
    #expect(operations[1]["value"] as? String == "10.0.1.0/24")
    #expect(operations[2]["value"] as? [String] == ["10.0.1.0/24", "fd00:0:0:1::/64"])
}

@Test func withoutAUIDThePatchOnlyAdds() throws {
    let patch = PodCIDRPatch(podCIDRs: ["10.0.1.0/24"], uid: "").json
    #expect(String(decoding: patch, as: UTF8.self)
        == #"[{"op":"add","path":"/spec/podCIDR","value":"10.0.1.0/24"},{"op":"add","path":"/spec/podCIDRs","value":["10.0.1.0/24"]}]"#)
}
