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

    subscript(family: IPFamily) -> Value {
        // Borrowed and changed in place: a value with storage of its own (an occupancy index)
        // is neither retained to be read nor copied to be written.
        _read { if family == .ipv4 { yield ipv4 } else { yield ipv6 } }
        _modify { if family == .ipv4 { yield &ipv4 } else { yield &ipv6 } }
    }

    /// Changes each family's value in place, IPv4 first.
    mutating func update(_ body: (IPFamily, inout Value) throws -> Void) rethrows {
        try body(.ipv4, &ipv4)
        try body(.ipv6, &ipv6)
    }
}

extension PerFamily: Sendable where Value: Sendable {}
extension PerFamily: Equatable where Value: Equatable {}
extension PerFamily: Hashable where Value: Hashable {}
