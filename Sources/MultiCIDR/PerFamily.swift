/// One value per address family. The engine keeps each per-family figure in one of these, so
/// that IPv4 and IPv6 go through the same code.
struct PerFamily<Value> {
    var ipv4: Value
    var ipv6: Value

    init(ipv4: Value, ipv6: Value) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    init(_ value: (IPFamily) throws -> Value) rethrows {
        ipv4 = try value(.ipv4)
        ipv6 = try value(.ipv6)
    }

    /// A write through the subscript copies the value, changes the copy and stores it back:
    /// change a value with storage of its own (an occupancy index) with `update` instead.
    /// (No `_read`/`_modify` coroutines: the optimizer leaves them as calls that allocate
    /// their frame, several times per allocation.)
    subscript(family: IPFamily) -> Value {
        get { family == .ipv4 ? ipv4 : ipv6 }
        set { if family == .ipv4 { ipv4 = newValue } else { ipv6 = newValue } }
    }

    /// Changes one family's value in place.
    @discardableResult
    mutating func update<Result>(_ family: IPFamily, _ body: (inout Value) throws -> Result) rethrows -> Result {
        family == .ipv4 ? try body(&ipv4) : try body(&ipv6)
    }

    /// Changes each family's value in place, IPv4 first.
    mutating func updateEach(_ body: (IPFamily, inout Value) throws -> Void) rethrows {
        try body(.ipv4, &ipv4)
        try body(.ipv6, &ipv6)
    }
}

extension PerFamily: Sendable where Value: Sendable {}
extension PerFamily: Equatable where Value: Equatable {}
extension PerFamily: Hashable where Value: Hashable {}
