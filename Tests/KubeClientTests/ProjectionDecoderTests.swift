import Foundation
@testable import KubeClient
import Testing

// The scanning decoders (`.nodeSummary`, watch lines, LIST pages) against JSONDecoder's full
// decode of the same text: wherever JSONDecoder reads a Node, the summary must be the same;
// where the text is broken, the error must say what and where.

/// Shared with the fuzz corpus and benchmarks (outside any target, so no resource bundle is needed).
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A Node as kubelet writes it (13 KB: 8 conditions, 40 images, managedFields, …), from
/// `hack/benchlib.py realistic_node`: Tests/Fixtures/realistic-node.json.
private func realisticNode() throws -> Data {
    var data = try Data(contentsOf: fixtures.appendingPathComponent("realistic-node.json"))
    while data.last == 0x0A { data.removeLast() }
    return data
}

/// The summary JSONDecoder's `Node` gives, or nil when JSONDecoder refuses the text.
private func reference(_ json: Data) -> NodeSummary? {
    (try? JSONDecoder().decode(Node.self, from: json)).map(NodeSummary.init)
}

private func summary(_ json: Data) throws -> NodeSummary {
    try ProjectionDecoder.nodeSummary.decode(json).value
}

@Test func realisticNodeSummaryMatchesFullDecode() throws {
    let json = try realisticNode()
    let expected = try #require(reference(json))
    let got = try summary(json)
    #expect(got == expected)
    #expect(got.name == "ip-node-01234")
    #expect(got.podCIDRs == ["10.4.210.0/24"])
    #expect(got.labels.count == 13)
    #expect(got.resourceVersion == "1234567")
    #expect(got.deletionTimestamp == nil)
}

/// `.nodeSummaryWithoutLabels` (the answer to the controller's PATCH): the same summary with
/// empty labels, and labels of any shape only stepped over.
@Test func theSummaryWithoutLabelsDiffersOnlyInLabels() throws {
    let json = try realisticNode()
    var expected = try summary(json)
    #expect(!expected.labels.isEmpty)
    expected.labels = .empty
    #expect(try ProjectionDecoder.nodeSummaryWithoutLabels.decode(json).value == expected)
    let odd = Data(#"{"metadata":{"name":"n","labels":{"zone":3,"x":[1]}},"spec":{"podCIDR":"10.0.0.0/24"}}"#.utf8)
    let read = try ProjectionDecoder.nodeSummaryWithoutLabels.decode(odd).value
    #expect(read.name == "n" && read.podCIDRs == ["10.0.0.0/24"] && read.labels.isEmpty)
    #expect(throws: JSONScanError.self) { try summary(odd) }
}

/// Texts JSONDecoder reads: the summary must agree field for field.
@Test(arguments: [
    // escapes and unicode in values and keys
    #"{"metadata":{"name":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","labels":{"k\u0065y":"v\u0000x","é":"ü😀"}}}"#,
    #"{"metadata":{"n\u0061me":"escaped-key","l\u0061bels":{"a":"b"}},"sp\u0065c":{"podCIDRs":["10.0.0.0/24"]}}"#,
    // numbers and nested unknown fields of every shape
    #"{"x":[1,-0,0.5,1e-5,-12.5E+3,123456789012345678901234567890,true,false,null,{"a":[[],{}]}],"metadata":{"name":"n","generation":3}}"#,
    #"{"metadata":{"name":"deep","annotations":{"a":"{\"json\":[1,2]}"},"managedFields":[{"fieldsV1":{"f:a":{"f:b":{"f:c":{}}}}}]}}"#,
    // whitespace everywhere
    " \r\n\t{ \"metadata\" : { \"name\" : \"ws\" , \"labels\" : { } } , \"spec\" : { \"podCIDR\" : \"10.1.0.0/24\" } } \r\n",
    // duplicate keys: the first one counts (JSONDecoder's rule; later ones are not even type-checked)
    #"{"metadata":{"name":"first","name":"second","labels":{"a":"1","a":"2"}}}"#,
    #"{"metadata":{"name":"one","labels":{"x":"y"}},"metadata":{"name":"two"}}"#,
    #"{"metadata":{"name":"n"},"spec":{"podCIDRs":["10.0.0.0/24"]},"spec":{"podCIDR":"10.9.0.0/24"}}"#,
    #"{"metadata":{"name":"one","name":5,"labels":{"a":"1","a":null}},"metadata":7}"#,
    #"{"metadata":{"n\u0061me":"escaped","name":"plain","labels":{"\u0061":"esc","a":"plain"}}}"#,
    // what JSONDecoder tolerates in fields it does not decode, and so must the projection
    #"{"status":{"x":01,"y":1.,"z":-,"w":1e+},"metadata":{"name":"lenient"}}"#,
    #"{"status":{"a":"\q\ud800","b":[1,],"c":{"d":1,}},"metadata":{"name":"n","labels":{"a":"b",},},}"#,
    "\u{FEFF}{\"metadata\":{\"name\":\"bom\"}}",
    // many labels, repeats after the 32nd (looked up in a set from there): the first value wins
    "{\"metadata\":{\"name\":\"many\",\"labels\":{" + (0..<40).map { "\"k\($0)\":\"v\($0)\"" }.joined(separator: ",")
        + ",\"k35\":\"late\",\"k3\":\"late\",\"k39\":7}}}",
    // runs of backslashes before a quote in skipped strings: even ends the string, odd escapes it
    #"{"status":{"a":"x\\","b":"\\\"q\\\\","c":"\"","d":"\\","e":"\\\\\""},"metadata":{"name":"runs"}}"#,
    // deletion, missing and null fields
    #"{"metadata":{"name":"gone","uid":"u","deletionTimestamp":"2026-12-01T10:00:00Z","finalizers":["x"]}}"#,
    #"{"metadata":{"name":"n","deletionTimestamp":null,"labels":null,"uid":null},"spec":null}"#,
    #"{"metadata":{}}"#,
    #"{"metadata":{"name":"n"},"spec":{"podCIDRs":[],"podCIDR":"10.2.0.0/24"}}"#,
    #"{"metadata":{"name":"n"},"spec":{"podCIDRs":null,"podCIDR":""}}"#,
    #"{"metadata":{"name":"dual"},"spec":{"podCIDRs":["10.0.1.0/24","fd00::/64"],"podCIDR":"10.0.1.0/24","taints":[{"key":"k","effect":"NoSchedule"}]}}"#,
    #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"ns","namespace":"ignored-for-nodes","resourceVersion":"7"}}"#,
])
func summaryMatchesFullDecode(_ text: String) throws {
    let json = Data(text.utf8)
    let expected = try #require(reference(json), "JSONDecoder must read this case")
    #expect(try summary(json) == expected)
}

/// Texts neither reads: the summary's error names what is wrong and where.
@Test(arguments: [
    (#"{"metadata":{"name":"n","labels":{"zone":3}}}"#, "expected a string, found a number in metadata.labels.zone at byte 41"),
    (#"{"metadata":{"name":"n"},"spec":{"podCIDRs":["10.0.0.0/24",null]}}"#, "expected a string, found null in spec.podCIDRs[1]"),
    (#"{"metadata":{"name":["n"]}}"#, "expected a string, found an array in metadata.name"),
    (#"{"spec":{}}"#, "a Node without metadata at byte 0"),
    (#"{"metadata":null}"#, "a Node without metadata"),
    (#"{"metadata":{"name":"n"}"#, "expected ',' or '}' after a field, found the end of the text at byte 24"),
    (#"{"metadata":{"name":"n\q"}}"#, "an unknown escape in a string in metadata.name"),
    (#"{"metadata":{"name":"\ud800"}}"#, "high surrogate without the low surrogate"),
    (#"{"metadata":{"name":"\udc00"}}"#, "lone low surrogate"),
    (#"{"metadata":{"name":"\u12"}}"#, "a \\u escape with a character that is not a hex digit in metadata.name"),
    (#"{"metadata":{"name":"\u12"#, "a \\u escape with fewer than 4 hex digits in metadata.name"),
    ("{\"metadata\":{\"name\":\"a\u{01}\"}}", "a control character (0x1) inside a string"),
    // In skipped values the error names the outermost skipped field and the exact byte.
    (#"{"status":{"x":+1},"metadata":{}}"#, "expected a value, found '+' in status at byte 15"),
    (#"{"status":{"x":1 2},"metadata":{}}"#, "expected ',' or '}' after a field, found a number in status at byte 17"),
    (#"{"status":{"x":tru"#, "expected true, found a truncated value in status at byte 15"),
    (#"{"status":{"x":nul1},"metadata":{}}"#, "expected null, found a misspelt value in status at byte 15"),
    (#"{"status":{"x":"abc\"}}"#, "a string without its closing quote in status at byte 15"),
    (#"{"status":{"x":"abc\\\"}}"#, "a string without its closing quote in status at byte 15"),
    (#"{"status":{"x":"\"#, "a string without its closing quote in status at byte 15"),
    ("{\"status\":{\"x\":\u{00A0}1},\"metadata\":{}}", "expected a value, found byte 0xc2 in status"),
    (#"{"status":[1 2],"metadata":{}}"#, "expected ',' or ']' after an array element, found a number in status"),
    (#"{"metadata":{}} x"#, "expected the end of the text after the value, found 'x' at byte 16"),
    (#"{"metadata":{"name":"n"},"#, "expected a field name in quotes, found the end of the text"),
    (#"{"metadata":{"name":"n"}, "status":{"images":[{"names":["a"],"sizeBytes":1}"#, "after an array element, found the end of the text in status at byte 75"),
    ("", "expected an object, found the end of the text at byte 0"),
    (#"{"status":"# + String(repeating: "[", count: 5000), "nested deeper than 1000 in status"),
    (" \u{FEFF}{\"metadata\":{}}", "expected an object, found byte 0xef at byte 1"),
])
func brokenNodesGiveClearErrors(_ text: String, _ expected: String) {
    let json = Data(text.utf8)
    #expect(reference(json) == nil, "JSONDecoder reads this case: it is not broken")
    do {
        let got = try summary(json)
        Issue.record("read \(got) from a broken text")
    } catch {
        #expect("\(error)".contains(expected), "\(error)")
    }
}

@Test func invalidUTF8InAReadStringIsRefused() {
    var json = Data(#"{"metadata":{"name":"ab"}}"#.utf8)
    json[21] = 0xFF
    #expect(reference(json) == nil)
    #expect(throws: JSONScanError.self) { try summary(json) }
}

// MARK: - Watch lines

private func watchBody(_ events: [(String, String)]) -> Data {
    Data(events.map { #"{"type":"\#($0.0)","object":\#($0.1)}"# + "\n" }.joined().utf8)
}

private func feedAll<T>(_ decoder: inout WatchLineDecoder<T>, _ body: Data, chunk: Int) throws -> [WatchEvent<T>] {
    var events: [WatchEvent<T>] = []
    var offset = 0
    while offset < body.count {
        let end = min(offset + chunk, body.count)
        events += try decoder.feed(body.subdata(in: offset..<end), request: "WATCH /api/v1/nodes")
        offset = end
    }
    return events
}

private func summaries(_ events: [WatchEvent<Projected<NodeSummary>>]) -> [String] {
    events.map { event in
        switch event {
        case .added(let o): return "ADDED \(o.value.name) \(o.resourceVersion) \(o.value.podCIDRs)"
        case .modified(let o): return "MODIFIED \(o.value.name) \(o.resourceVersion) \(o.value.podCIDRs)"
        case .deleted(let o): return "DELETED \(o.value.name) \(o.resourceVersion) \(o.value.podCIDRs)"
        case .bookmark(let version): return "BOOKMARK \(version)"
        case .error(let status): return "ERROR \(status.code ?? 0) \(status.reason ?? "")"
        }
    }
}

private func summaries(_ events: [WatchEvent<Node>]) -> [String] {
    summaries(events.map { event -> WatchEvent<Projected<NodeSummary>> in
        func p(_ node: Node) -> Projected<NodeSummary> {
            let s = NodeSummary(node)
            return Projected(namespace: s.namespace, name: s.name, resourceVersion: s.resourceVersion, value: s)
        }
        switch event {
        case .added(let o): return .added(p(o))
        case .modified(let o): return .modified(p(o))
        case .deleted(let o): return .deleted(p(o))
        case .bookmark(let version): return .bookmark(resourceVersion: version)
        case .error(let status): return .error(status)
        }
    })
}

@Test func watchLinesOfRealisticNodesReadOnceMatchFullDecode() throws {
    let node = String(decoding: try realisticNode(), as: UTF8.self)
    let gone = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410}"#
    let body = watchBody([("ADDED", node), ("MODIFIED", node), ("BOOKMARK", #"{"kind":"Node","metadata":{"resourceVersion":"99","annotations":{"k8s.io/initial-events-end":"true"}}}"#),
                          ("DELETED", node), ("ERROR", gone)])
    var full = WatchLineDecoder<Node>()
    let expected = summaries(try feedAll(&full, body, chunk: body.count))
    #expect(expected == ["ADDED ip-node-01234 1234567 [\"10.4.210.0/24\"]", "MODIFIED ip-node-01234 1234567 [\"10.4.210.0/24\"]",
                         "BOOKMARK 99", "DELETED ip-node-01234 1234567 [\"10.4.210.0/24\"]", "ERROR 410 Expired"])
    // Any cut of the body into chunks gives the same events (cuts inside UTF-8, between \r and \n, …).
    for chunk in [1, 2, 7, 100, 4096, 16384, body.count] {
        var projected = WatchLineDecoder<Projected<NodeSummary>>(ProjectionDecoder.nodeSummary.decode)
        #expect(summaries(try feedAll(&projected, body, chunk: chunk)) == expected, "chunks of \(chunk)")
    }
}

@Test func watchEnvelopeInAnyKeyOrder() throws {
    let lines = Data((#"{"object":{"metadata":{"name":"a","resourceVersion":"5"}},"type":"ADDED"}"# + "\r\n" + "   \n"
        + #"{"type":"BOOKMARK","object":{"metadata":{"name":"x"}},"type":"MODIFIED"}"# + "\n"
        + #"{"type":"ADDED","object":{"metadata":{"name":"b"}},"object":{"metadata":1}}"# + "\n"
        + #"{"type":"BOOKMARK","object":{}}"# + "\n").utf8)
    var decoder = WatchLineDecoder<Projected<NodeSummary>>(ProjectionDecoder.nodeSummary.decode)
    var full = WatchLineDecoder<Node>()
    let expected = summaries(try full.feed(lines, request: "WATCH /api/v1/nodes"))
    // Repeated keys: the first counts, as with JSONDecoder.
    #expect(expected == ["ADDED a 5 []", "BOOKMARK ", "ADDED b  []", "BOOKMARK "])
    #expect(summaries(try decoder.feed(lines, request: "WATCH /api/v1/nodes")) == expected)
}

@Test(arguments: [
    (#"{"type":"RENAMED","object":{}}"#, "unknown watch event type RENAMED"),
    (#"{"object":{"metadata":{}}}"#, "a watch event without its type"),
    (#"{"type":"ADDED"}"#, "a ADDED watch event without its object"),
    (#"{"type":"ADDED","object":{"metadata":{"labels":{"a":1}}}}"#, "expected a string, found a number in object.metadata.labels.a"),
    (#"{"type":"ERROR","object":{"code":"x"}}"#, "watch event: APIStatus:"),
    (#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":5}}}"#, "in object.metadata.resourceVersion"),
    (#"{"type":"ADDED","object":{"metadata":{}}"#, "expected ',' or '}' after a field, found the end of the text"),
])
func brokenWatchLinesNameTheProblem(_ line: String, _ expected: String) {
    var decoder = WatchLineDecoder<Projected<NodeSummary>>(ProjectionDecoder.nodeSummary.decode)
    do {
        let events = try decoder.feed(Data((line + "\n").utf8), request: "WATCH /api/v1/nodes")
        Issue.record("decoded \(events.count) events from \(line)")
    } catch let failure as DecodingFailure {
        #expect(failure.description.hasPrefix("WATCH /api/v1/nodes: cannot decode the response: "))
        #expect(failure.description.contains(expected), "\(failure)")
    } catch {
        Issue.record("not a DecodingFailure: \(error)")
    }
}

@Test func aLineSpreadOverManyChunksIsReadWhole() throws {
    // 2 MB of labels in one line, fed 1 KB at a time: one event, nothing lost at the cuts.
    let labels = (0..<40_000).map { #""label-\#($0)":"value-\#($0)""# }.joined(separator: ",")
    let body = Data((#"{"type":"ADDED","object":{"metadata":{"name":"big","labels":{\#(labels)}}}}"# + "\n").utf8)
    var decoder = WatchLineDecoder<Projected<NodeSummary>>(ProjectionDecoder.nodeSummary.decode)
    let events = try feedAll(&decoder, body, chunk: 1024)
    guard events.count == 1, case .added(let node) = events[0] else {
        Issue.record("expected one ADDED event, got \(events.count)")
        return
    }
    #expect(node.value.labels.count == 40_000)
    #expect(node.value.labels["label-39999"] == "value-39999")
}

// MARK: - LIST pages

@Test func listPageReadsItemsAndContinuation() throws {
    let node = String(decoding: try realisticNode(), as: UTF8.self)
    let page = Data(#"{"kind":"NodeList","apiVersion":"v1","items":[\#(node),{"metadata":{"name":"second"}}],"metadata":{"resourceVersion":"77","continue":"tok","remainingItemCount":3}}"#.utf8)
    var items: [Projected<NodeSummary>] = []
    let head = try ListPageHead.read(page, into: &items, projection: .nodeSummary)
    #expect(head.resourceVersion == "77")
    #expect(head.continueToken == "tok")
    let full = try JSONDecoder().decode(ListPage<Node>.self, from: page)
    #expect(items.map(\.value) == full.items.map(NodeSummary.init))
    #expect(items.map(\.name) == ["ip-node-01234", "second"])
}

@Test func listPageWithoutItemsAndErrors() throws {
    var items: [Projected<NodeSummary>] = []
    let empty = try ListPageHead.read(Data(#"{"metadata":{"resourceVersion":"5"},"items":null}"#.utf8), into: &items, projection: .nodeSummary)
    #expect(items.isEmpty && empty.resourceVersion == "5" && empty.continueToken == nil)
    // A remainingItemCount of any size only reserves room within reason.
    _ = try ListPageHead.read(Data(#"{"metadata":{"remainingItemCount":9223372036854775807},"items":[]}"#.utf8), into: &items, projection: .nodeSummary)
    let broken = Data(#"{"items":[{"metadata":{"name":"a"}},{"metadata":{"labels":[]}}]}"#.utf8)
    #expect {
        try ListPageHead.read(broken, into: &items, projection: .nodeSummary)
    } throws: { error in
        "\(error)".contains("expected an object, found an array in items[1].metadata.labels")
    }
    // remainingItemCount is only a hint: an odd one is ignored, not fatal.
    _ = try ListPageHead.read(Data(#"{"metadata":{"remainingItemCount":1.5}}"#.utf8), into: &items, projection: .nodeSummary)
    #expect {
        try ListPageHead.read(Data(#"{"items":{}}"#.utf8), into: &items, projection: .nodeSummary)
    } throws: { error in
        "\(error)" == "expected an array, found an object in items at byte 9"
    }
}
