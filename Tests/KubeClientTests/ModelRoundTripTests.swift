import Foundation
import KubeClient
import Testing

private func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
    try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
}

private func jsonObject(_ data: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Test func objectMetaDecodesServerOutputAndIgnoresUnknownFields() throws {
    let json = """
    {"name":"blue","uid":"1f0c","resourceVersion":"42","generation":3,
     "creationTimestamp":"2026-11-22T10:00:00Z","deletionTimestamp":"2026-11-22T11:00:00Z",
     "labels":{"a":"b"},"annotations":{"x":"y"},"finalizers":["networking.x-k8s.io/cluster-cidr-finalizer"],
     "ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"n1","uid":"u1","controller":true,"extra":1}],
     "managedFields":[{"manager":"kubectl"}],"selfLink":"/x"}
    """
    let meta = try JSONDecoder().decode(ObjectMeta.self, from: Data(json.utf8))
    #expect(meta.name == "blue")
    #expect(meta.generation == 3)
    #expect(meta.labels == ["a": "b"])
    #expect(meta.isBeingDeleted)
    #expect(meta.hasFinalizer("networking.x-k8s.io/cluster-cidr-finalizer"))
    #expect(meta.ownerReferences?.first?.controller == true)
    #expect(try roundTrip(meta) == meta)
}

@Test func unsetFieldsAreNotEncoded() throws {
    let object = try jsonObject(JSONEncoder().encode(ObjectMeta(name: "only-name")))
    #expect(object.keys.sorted() == ["name"])
    let requirement = try jsonObject(JSONEncoder().encode(NodeSelectorRequirement(key: "k", operator: "Exists")))
    #expect(requirement.keys.sorted() == ["key", "operator"])
    let encoded = String(decoding: try JSONEncoder().encode(NodeSelector(nodeSelectorTerms: [NodeSelectorTerm()])), as: UTF8.self)
    #expect(!encoded.contains("null"))
}

@Test func listMetaUsesTheContinueKey() throws {
    let meta = try JSONDecoder().decode(ListMeta.self, from: Data(#"{"resourceVersion":"7","continue":"abc","remainingItemCount":12}"#.utf8))
    #expect(meta.continueToken == "abc")
    #expect(meta.remainingItemCount == 12)
    #expect(try jsonObject(JSONEncoder().encode(meta))["continue"] as? String == "abc")
}

@Test func nodeSelectorRoundTripsAndKeepsUnknownOperatorsAsText() throws {
    let json = """
    {"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]},
     {"key":"x","operator":"Sometimes"}],"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}]}
    """
    let selector = try JSONDecoder().decode(NodeSelector.self, from: Data(json.utf8))
    let term = try #require(selector.nodeSelectorTerms?.first)
    #expect(term.matchExpressions?.count == 2)
    #expect(term.matchExpressions?[1].operator == "Sometimes")
    #expect(term.matchFields?.first?.values == ["n1"])
    #expect(try roundTrip(selector) == selector)
}

@Test func nodeSelectorWithoutTermsDecodesAsMissing() throws {
    let selector = try JSONDecoder().decode(NodeSelector.self, from: Data("{}".utf8))
    #expect(selector.nodeSelectorTerms == nil)
    let empty = try JSONDecoder().decode(NodeSelector.self, from: Data(#"{"nodeSelectorTerms":[]}"#.utf8))
    #expect(empty.nodeSelectorTerms == [])
}

@Test func conditionRoundTripsAndToleratesMissingFields() throws {
    let condition = Condition(type: "Ready", status: Condition.statusTrue, observedGeneration: 2,
                              lastTransitionTime: "2026-11-22T10:00:00Z", reason: "PoolRegistered", message: "ok")
    #expect(try roundTrip(condition) == condition)
    let sparse = try JSONDecoder().decode(Condition.self, from: Data(#"{"type":"Exhausted","status":"False"}"#.utf8))
    #expect(sparse.reason == "")
    #expect(sparse.observedGeneration == nil)
}

@Test func settingAConditionKeepsTheTransitionTimeWhenStatusIsUnchanged() {
    var conditions: [Condition] = []
    conditions.set(Condition(type: "Ready", status: "True", lastTransitionTime: "t1", reason: "A"))
    conditions.set(Condition(type: "Ready", status: "True", lastTransitionTime: "t2", reason: "B"))
    #expect(conditions.count == 1)
    #expect(conditions.condition(ofType: "Ready")?.lastTransitionTime == "t1")
    #expect(conditions.condition(ofType: "Ready")?.reason == "B")
    conditions.set(Condition(type: "Ready", status: "False", lastTransitionTime: "t3", reason: "C"))
    #expect(conditions.condition(ofType: "Ready")?.lastTransitionTime == "t3")
}

@Test func garbageDecodesToErrorsNotCrashes() {
    #expect(throws: (any Error).self) { try JSONDecoder().decode(ObjectMeta.self, from: Data(#"{"generation":"many"}"#.utf8)) }
    #expect(throws: (any Error).self) { try JSONDecoder().decode(NodeSelectorRequirement.self, from: Data(#"{"operator":"In"}"#.utf8)) }
    #expect(throws: (any Error).self) { try JSONDecoder().decode(ObjectMeta.self, from: Data(#"{"generation":1e30}"#.utf8)) }
}

@Test func timestampsAreWrittenAsTheAPIServerWritesThem() {
    #expect(KubeTime.seconds(Date(timeIntervalSince1970: 1_796_147_338.5)) == "2026-12-01T17:48:58Z")
    #expect(KubeTime.micro(Date(timeIntervalSince1970: 1_796_147_338.5)) == "2026-12-01T17:48:58.500000Z")
    #expect(KubeTime.milli(Date(timeIntervalSince1970: 946_684_800.0625)) == "2000-01-01T00:00:00.062Z")
    #expect(KubeTime.micro(Date(timeIntervalSince1970: 0.000123)) == "1970-01-01T00:00:00.000123Z")
    let parsed = KubeTime.parse(KubeTime.micro(Date(timeIntervalSince1970: 1_796_147_338.5)))
    #expect(parsed == Date(timeIntervalSince1970: 1_796_147_338.5))
    #expect(KubeTime.parse("2026-12-01T17:48:58Z") == Date(timeIntervalSince1970: 1_796_147_338))
}

@Test func anErrorAnswerWithoutReasonOrMessageSaysSo() {
    let bare = APIError.from(HTTPResponse(status: 500, headers: [:], body: Data(#"{"kind":"Status","code":500}"#.utf8)), request: "GET /api/v1/nodes")
    #expect(bare.description == "GET /api/v1/nodes: 500 (the answer gives no reason or message)")
    let expired = APIError(statusCode: 410, status: APIStatus(message: "too old resource version: 1 (2)", reason: "Expired", code: 410), request: "WATCH /api/v1/nodes")
    #expect(expired.description == "WATCH /api/v1/nodes: 410 Expired: too old resource version: 1 (2)")
}
