import Foundation

/// A CEL value: JSON's kinds plus CEL's uint and the Kubernetes IP and CIDR types.
enum CELValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case list([CELValue])
    /// Objects and maps (string keys only).
    case map([String: CELValue])
    case ip(CELIPAddress)
    case cidr(CELCIDR)

    var typeName: String {
        switch self {
        case .null: return "null_type"
        case .bool: return "bool"
        case .int: return "int"
        case .uint: return "uint"
        case .double: return "double"
        case .string: return "string"
        case .list: return "list"
        case .map: return "map"
        case .ip: return "net.IP"
        case .cidr: return "net.CIDR"
        }
    }
}

/// An evaluation error (CEL's error values): `no such key`, `no such overload`, overflow, a bad CIDR, ...
struct CELEvalError: Error, Sendable, Equatable, CustomStringConvertible {
    var message: String
    var description: String { message }

    static func noOverload(_ function: String, _ args: [CELValue]) -> CELEvalError {
        CELEvalError(message: "no such overload: \(function)(\(args.map(\.typeName).joined(separator: ", ")))")
    }
}

/// A compiled CEL expression of the subset LocalAPIServer evaluates.
///
/// Supported: literals (int, uint, double, string incl. raw and triple-quoted, bool, null, lists,
/// string-keyed maps); `self`/`oldSelf` (any variable the caller declares); field selection, `[]`
/// on lists and maps; `! - * / % + - < <= > >= == != in && || ?:` with CEL's semantics (commutative
/// `&&`/`||` that absorb errors, heterogeneous numeric comparison, no implicit conversions); the
/// macros `has`, `all`, `exists`, `exists_one`, `filter`, `map`; `size`, `matches` (RE2 subset),
/// `contains`, `startsWith`, `endsWith`, `int`, `uint`, `double`, `string`; and the Kubernetes IP and
/// CIDR libraries `isIP`, `ip`, `isCIDR`, `cidr`, `.ip()`, `.family()`, `.prefixLength()`,
/// `.masked()`, `.containsIP()`, `.containsCIDR()`. Anything else is refused at compile time
/// with a ``CELCompileError`` naming it. There is no static type check and no cost estimate.
struct CELProgram: Sendable {
    let source: String
    let expression: CELExpr
    /// The declared variables the expression mentions (e.g. whether a rule is a transition rule).
    let variables: Set<String>

    /// Global functions: name -> accepted argument counts.
    static let globalFunctions: [String: Set<Int>] = [
        "size": [1], "matches": [2], "int": [1], "uint": [1], "double": [1], "string": [1],
        "isIP": [1], "ip": [1], "isCIDR": [1], "cidr": [1],
    ]
    /// Member functions: name -> accepted argument counts (besides the target).
    static let memberFunctions: [String: Set<Int>] = [
        "size": [0], "matches": [1], "contains": [1], "startsWith": [1], "endsWith": [1],
        "ip": [0], "family": [0], "prefixLength": [0], "masked": [0], "containsIP": [1], "containsCIDR": [1],
    ]

    init(_ source: String, variables declared: Set<String>) throws(CELCompileError) {
        self.source = source
        expression = try CELParser.parse(source)
        var used: Set<String> = []
        try CELProgram.check(expression, declared: declared, bound: [], used: &used)
        variables = used
    }

    private static func check(_ e: CELExpr, declared: Set<String>, bound: Set<String>, used: inout Set<String>) throws(CELCompileError) {
        func recurse(_ x: CELExpr, _ b: Set<String> = bound) throws(CELCompileError) { try check(x, declared: declared, bound: b, used: &used) }
        switch e {
        case .literal: return
        case .identifier(let name):
            if bound.contains(name) { return }
            guard declared.contains(name) else {
                throw CELCompileError(message: "undeclared reference to '\(name)' (declared: \(declared.sorted().joined(separator: ", ")))", offset: 0)
            }
            used.insert(name)
        case .select(let x, _), .has(let x, _), .not(let x), .negate(let x): try recurse(x)
        case .index(let a, let b), .binary(_, let a, let b), .and(let a, let b), .or(let a, let b):
            try recurse(a)
            try recurse(b)
        case .conditional(let a, let b, let c):
            try recurse(a)
            try recurse(b)
            try recurse(c)
        case .list(let items): for x in items { try recurse(x) }
        case .map(let entries):
            for entry in entries {
                try recurse(entry.key)
                try recurse(entry.value)
            }
        case .comprehension(_, let range, let variable, let body):
            try recurse(range)
            try recurse(body, bound.union([variable]))
        case .call(let target, let function, let args):
            let table = target == nil ? globalFunctions : memberFunctions
            guard let counts = table[function] else {
                throw CELCompileError(message: "function '\(function)'\(target == nil ? "" : " (as a method)") is not in the CEL subset LocalAPIServer evaluates", offset: 0)
            }
            guard counts.contains(args.count) else {
                throw CELCompileError(message: "function '\(function)' does not take \(args.count) argument(s)", offset: 0)
            }
            if let target { try recurse(target) }
            for x in args { try recurse(x) }
        }
    }

    /// Evaluates with the given variables (e.g. `self`, `oldSelf`).
    func evaluate(_ activation: [String: CELValue]) throws(CELEvalError) -> CELValue {
        try CELInterpreter(variables: activation).eval(expression)
    }
}

/// Evaluates a ``CELExpr`` tree.
struct CELInterpreter {
    var variables: [String: CELValue]

    func eval(_ e: CELExpr) throws(CELEvalError) -> CELValue {
        switch e {
        case .literal(let v): return v
        case .identifier(let name):
            guard let v = variables[name] else { throw CELEvalError(message: "no such attribute: \(name)") }
            return v
        case .select(let x, let field):
            let target = try eval(x)
            guard case .map(let m) = target else { throw CELEvalError(message: "no such overload: select '\(field)' on \(target.typeName)") }
            guard let v = m[field] else { throw CELEvalError(message: "no such key: \(field)") }
            return v
        case .has(let x, let field):
            let target = try eval(x)
            guard case .map(let m) = target else { throw CELEvalError(message: "no such overload: has() on \(target.typeName)") }
            return .bool(m[field] != nil)
        case .index(let x, let i):
            return try index(try eval(x), try eval(i))
        case .list(let items):
            var out: [CELValue] = []
            for x in items { out.append(try eval(x)) }
            return .list(out)
        case .map(let entries):
            var out: [String: CELValue] = [:]
            for entry in entries {
                guard case .string(let k) = try eval(entry.key) else {
                    throw CELEvalError(message: "unsupported map key type: only string keys are in LocalAPIServer's CEL subset")
                }
                if out[k] != nil { throw CELEvalError(message: "Failed with repeated key") }
                out[k] = try eval(entry.value)
            }
            return .map(out)
        case .not(let x):
            let v = try eval(x)
            guard case .bool(let b) = v else { throw CELEvalError.noOverload("!_", [v]) }
            return .bool(!b)
        case .negate(let x):
            let v = try eval(x)
            switch v {
            case .int(let i):
                guard i != .min else { throw CELEvalError(message: "integer overflow") }
                return .int(-i)
            case .double(let d): return .double(-d)
            default: throw CELEvalError.noOverload("-_", [v])
            }
        case .and(let a, let b): return try logical(a, b, absorbing: false)
        case .or(let a, let b): return try logical(a, b, absorbing: true)
        case .conditional(let c, let t, let f):
            let v = try eval(c)
            guard case .bool(let b) = v else { throw CELEvalError.noOverload("_?_:_", [v]) }
            return try eval(b ? t : f)
        case .binary(let op, let a, let b):
            return try binary(op, try eval(a), try eval(b))
        case .call(let target, let function, let args):
            var values: [CELValue] = []
            if let target { values.append(try eval(target)) }
            for x in args { values.append(try eval(x)) }
            return try CELFunctions.call(function, values, member: target != nil)
        case .comprehension(let macro, let rangeExpr, let variable, let body):
            return try comprehension(macro, try eval(rangeExpr), variable, body)
        }
    }

    /// `&&` (absorbing `false`) and `||` (absorbing `true`): the absorbing value wins over an error on either side.
    private func logical(_ a: CELExpr, _ b: CELExpr, absorbing: Bool) throws(CELEvalError) -> CELValue {
        let name = absorbing ? "_||_" : "_&&_"
        var firstError: CELEvalError?
        do throws(CELEvalError) {
            let v = try eval(a)
            guard case .bool(let x) = v else { throw CELEvalError.noOverload(name, [v]) }
            if x == absorbing { return .bool(absorbing) }
        } catch { firstError = error }
        do throws(CELEvalError) {
            let v = try eval(b)
            guard case .bool(let y) = v else { throw CELEvalError.noOverload(name, [v]) }
            if y == absorbing { return .bool(absorbing) }
        } catch {
            throw firstError ?? error
        }
        if let firstError { throw firstError }
        return .bool(!absorbing)
    }

    private func index(_ target: CELValue, _ i: CELValue) throws(CELEvalError) -> CELValue {
        switch (target, i) {
        case (.list(let items), _):
            let position: Int64
            switch i {
            case .int(let n): position = n
            case .uint(let n) where n <= UInt64(Int64.max): position = Int64(n)
            case .double(let d) where d == d.rounded() && abs(d) < 9e18: position = Int64(d)
            default: throw CELEvalError.noOverload("_[_]", [target, i])
            }
            guard position >= 0, position < Int64(items.count) else {
                throw CELEvalError(message: "index out of bounds: \(position)")
            }
            return items[Int(position)]
        case (.map(let m), .string(let k)):
            guard let v = m[k] else { throw CELEvalError(message: "no such key: \(k)") }
            return v
        case (.map, _):
            throw CELEvalError(message: "no such key: \(i)")
        default:
            throw CELEvalError.noOverload("_[_]", [target, i])
        }
    }

    private func comprehension(_ macro: CELExpr.Macro, _ range: CELValue, _ variable: String, _ body: CELExpr) throws(CELEvalError) -> CELValue {
        let elements: [CELValue]
        switch range {
        case .list(let items): elements = items
        case .map(let m): elements = m.keys.sorted().map { .string($0) }
        default: throw CELEvalError.noOverload(macro.rawValue, [range])
        }
        var inner = self
        func run(_ element: CELValue) throws(CELEvalError) -> CELValue {
            inner.variables[variable] = element
            return try inner.eval(body)
        }
        func predicate(_ element: CELValue) throws(CELEvalError) -> Bool {
            let v = try run(element)
            guard case .bool(let b) = v else { throw CELEvalError.noOverload(macro.rawValue, [v]) }
            return b
        }
        switch macro {
        case .all, .exists:
            // Like && / ||: an absorbing result wins over errors from other elements.
            let absorbing = macro == .exists
            var firstError: CELEvalError?
            for element in elements {
                do {
                    if try predicate(element) == absorbing { return .bool(absorbing) }
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            if let firstError { throw firstError }
            return .bool(!absorbing)
        case .existsOne:
            var count = 0
            for element in elements where try predicate(element) { count += 1 }
            return .bool(count == 1)
        case .filter:
            var out: [CELValue] = []
            for element in elements where try predicate(element) { out.append(element) }
            return .list(out)
        case .map:
            var out: [CELValue] = []
            for element in elements { out.append(try run(element)) }
            return .list(out)
        }
    }

    private func binary(_ op: CELExpr.BinaryOperator, _ a: CELValue, _ b: CELValue) throws(CELEvalError) -> CELValue {
        switch op {
        case .equal: return .bool(CELInterpreter.equal(a, b))
        case .notEqual: return .bool(!CELInterpreter.equal(a, b))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard let order = CELInterpreter.compare(a, b) else { throw CELEvalError.noOverload("_\(op.rawValue)_", [a, b]) }
            switch op {
            case .less: return .bool(order < 0)
            case .lessOrEqual: return .bool(order <= 0)
            case .greater: return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case .in:
            switch b {
            case .list(let items): return .bool(items.contains { CELInterpreter.equal(a, $0) })
            case .map(let m):
                guard case .string(let k) = a else { return .bool(false) }
                return .bool(m[k] != nil)
            default: throw CELEvalError.noOverload("@in", [a, b])
            }
        case .add, .subtract, .multiply, .divide, .remainder:
            return try arithmetic(op, a, b)
        }
    }

    private func arithmetic(_ op: CELExpr.BinaryOperator, _ a: CELValue, _ b: CELValue) throws(CELEvalError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)): return .int(try CELInterpreter.integer(op, x, y, overflow: "integer overflow"))
        case (.uint(let x), .uint(let y)): return .uint(try CELInterpreter.integer(op, x, y, overflow: "unsigned integer overflow"))
        case (.double(let x), .double(let y)):
            switch op {
            case .add: return .double(x + y)
            case .subtract: return .double(x - y)
            case .multiply: return .double(x * y)
            case .divide: return .double(x / y)
            default: throw CELEvalError.noOverload("_%_", [a, b])
            }
        case (.string(let x), .string(let y)) where op == .add: return .string(x + y)
        case (.list(let x), .list(let y)) where op == .add: return .list(x + y)
        default:
            throw CELEvalError.noOverload("_\(op.rawValue)_", [a, b])
        }
    }

    /// int and uint arithmetic: overflow and division by zero are errors, as in cel-go.
    private static func integer<T: FixedWidthInteger>(_ op: CELExpr.BinaryOperator, _ x: T, _ y: T, overflow: String) throws(CELEvalError) -> T {
        let result: (partialValue: T, overflow: Bool)
        switch op {
        case .add: result = x.addingReportingOverflow(y)
        case .subtract: result = x.subtractingReportingOverflow(y)
        case .multiply: result = x.multipliedReportingOverflow(by: y)
        case .divide:
            guard y != 0 else { throw CELEvalError(message: "division by zero") }
            result = x.dividedReportingOverflow(by: y)
        default:
            guard y != 0 else { throw CELEvalError(message: "modulus by zero") }
            result = x.remainderReportingOverflow(dividingBy: y)
        }
        if result.overflow { throw CELEvalError(message: overflow) }
        return result.partialValue
    }

    /// CEL equality: numbers compare by value across int, uint and double; other kinds only with their own kind.
    static func equal(_ a: CELValue, _ b: CELValue) -> Bool {
        if let order = numericOrder(a, b) { return order == 0 }
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.map(let x), .map(let y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { equal(v, $0) } ?? false }
        case (.ip(let x), .ip(let y)): return x == y
        case (.cidr(let x), .cidr(let y)): return x == y
        default: return false
        }
    }

    /// -1, 0 or 1; nil when the kinds cannot be ordered (or a NaN is involved).
    static func compare(_ a: CELValue, _ b: CELValue) -> Int? {
        if let order = numericOrder(a, b) { return order }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            // Code point order (what Go's byte-wise UTF-8 comparison gives).
            let xs = Array(x.unicodeScalars.map(\.value)), ys = Array(y.unicodeScalars.map(\.value))
            return xs.lexicographicallyPrecedes(ys) ? -1 : (xs == ys ? 0 : 1)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        default: return nil
        }
    }

    private static func numericOrder(_ a: CELValue, _ b: CELValue) -> Int? {
        func sign<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x == y ? 0 : 1) }
        switch (a, b) {
        case (.int(let x), .int(let y)): return sign(x, y)
        case (.uint(let x), .uint(let y)): return sign(x, y)
        case (.double(let x), .double(let y)): return x.isNaN || y.isNaN ? nil : sign(x, y)
        case (.int(let x), .uint(let y)): return x < 0 ? -1 : sign(UInt64(x), y)
        case (.uint(let x), .int(let y)): return y < 0 ? 1 : sign(x, UInt64(y))
        case (.int(let x), .double(let y)): return y.isNaN ? nil : compareIntDouble(x, y)
        case (.double(let x), .int(let y)): return x.isNaN ? nil : -compareIntDouble(y, x)
        case (.uint(let x), .double(let y)): return y.isNaN ? nil : (y < 0 ? 1 : compareUIntDouble(x, y))
        case (.double(let x), .uint(let y)): return x.isNaN ? nil : (x < 0 ? -1 : -compareUIntDouble(y, x))
        default: return nil
        }
    }

    private static func compareIntDouble(_ x: Int64, _ y: Double) -> Int {
        if y >= 9_223_372_036_854_775_808.0 { return -1 }
        if y < -9_223_372_036_854_775_808.0 { return 1 }
        let t = y.rounded(.down)
        let yi = Int64(t)
        if x != yi { return x < yi ? -1 : 1 }
        return t == y ? 0 : -1
    }

    private static func compareUIntDouble(_ x: UInt64, _ y: Double) -> Int {
        if y >= 18_446_744_073_709_551_616.0 { return -1 }
        let t = y.rounded(.down)
        let yi = UInt64(t)
        if x != yi { return x < yi ? -1 : 1 }
        return t == y ? 0 : -1
    }
}
