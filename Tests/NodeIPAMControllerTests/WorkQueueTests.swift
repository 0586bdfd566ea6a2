import Foundation
@testable import NodeIPAMController
import Testing

@Suite struct WorkQueueTests {
    @Test func aKeyIsHandedOutOnceWhileQueuedAndAgainIfAddedDuringProcessing() async {
        let queue = WorkQueue()
        queue.add("a")
        queue.add("a")
        queue.add("b")
        #expect(queue.count == 2)
        #expect(await queue.get() == "a")
        queue.add("a") // while processing: comes back after done
        #expect(await queue.get() == "b")
        #expect(queue.count == 0)
        queue.done("a")
        #expect(await queue.get() == "a")
        queue.done("a")
        queue.done("b")
        queue.shutdown()
        #expect(await queue.get() == nil)
    }

    @Test func manyDelayedAddsOfOneKeyShareOneTimer() async {
        let queue = WorkQueue()
        for _ in 0..<10_000 { queue.add("pool", after: .seconds(30)) }
        queue.add("other", after: .seconds(30))
        #expect(queue.delayedCount == 2, "one timer per key, not one per call")
        // An earlier request replaces the later timer and is delivered on its own time.
        queue.add("pool", after: .milliseconds(1))
        // Replaced, not added: 2 timers, or 1 when the 1 ms one has already fired (a loaded
        // machine can run it before the next line), never 3.
        #expect(queue.delayedCount <= 2)
        #expect(await queue.get() == "pool")
        #expect(queue.delayedCount == 1)
        queue.done("pool")
        #expect(queue.count == 0)
        queue.shutdown()
    }
}
