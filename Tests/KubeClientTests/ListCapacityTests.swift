@testable import KubeClient
import Testing

// A LIST's remainingItemCount sizes the client's buffer (both listAll paths): a hint, bounded.
// Int.max once overflowed the typed listAll's `count + remaining` and crashed the caller.

@Test(arguments: [
    (2, Int?.none, Int?.none),
    (2, 0, nil),
    (2, -5, nil),
    (2, 498, 500),
    (500, 100_000, 100_500),
    (500, Int.max, 100_500),
    (Int.max - 100_000, Int.max, Int.max),
])
func theAnnouncedRemainderIsABoundedHint(have: Int, announced: Int?, expected: Int?) {
    #expect(ListCapacity.reserve(have: have, announced: announced) == expected)
}
