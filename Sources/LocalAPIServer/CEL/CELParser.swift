/// The syntax tree of a CEL expression (the subset LocalAPIServer evaluates; see ``CELProgram``).
indirect enum CELExpr: Sendable, Equatable {
    case literal(CELValue)
    case identifier(String)
    case select(CELExpr, String)
    /// `has(e.f)`: presence of field `f` of `e`.
    case has(CELExpr, String)
    case index(CELExpr, CELExpr)
    /// A call: `f(args)` (no target) or `target.f(args)`.
    case call(target: CELExpr?, function: String, arguments: [CELExpr])
    case list([CELExpr])
    case map([MapEntry])
    case not(CELExpr)
    case negate(CELExpr)
    case binary(BinaryOperator, CELExpr, CELExpr)
    case and(CELExpr, CELExpr)
    case or(CELExpr, CELExpr)
    case conditional(CELExpr, CELExpr, CELExpr)
    /// The macros `all`, `exists`, `exists_one`, `filter` and `map` over a list or map.
    case comprehension(Macro, range: CELExpr, variable: String, body: CELExpr)

    struct MapEntry: Sendable, Equatable {
        var key: CELExpr
        var value: CELExpr
    }

    enum BinaryOperator: String, Sendable {
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case `in` = "in", add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    }

    enum Macro: String, Sendable {
        case all, exists, existsOne = "exists_one", filter, map
    }
}

/// A rule that cannot be compiled: a syntax error, or CEL that LocalAPIServer does not evaluate.
struct CELCompileError: Error, Sendable, Equatable, CustomStringConvertible {
    var message: String
    /// Zero-based offset in the expression.
    var offset: Int
    var description: String { "\(message) (at offset \(offset))" }
}

// MARK: - Lexer

struct CELToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case identifier(String)
        case int(Int64)
        case uint(UInt64)
        case double(Double)
        case string(String)
        case symbol(String)
        case end
    }
    var kind: Kind
    var offset: Int
}

struct CELLexer {
    private let scalars: [Unicode.Scalar]
    private var position = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    static func tokens(_ text: String) throws(CELCompileError) -> [CELToken] {
        var lexer = CELLexer(text)
        var out: [CELToken] = []
        while true {
            let token = try lexer.next()
            out.append(token)
            if token.kind == .end { return out }
        }
    }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        position + ahead < scalars.count ? scalars[position + ahead] : nil
    }

    private static func isDigit(_ c: Unicode.Scalar?) -> Bool { c.map { $0 >= "0" && $0 <= "9" } ?? false }
    private static func isIdentifierStart(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    private mutating func next() throws(CELCompileError) -> CELToken {
        while let c = peek(), c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" { position += 1 }
        // Comments run to the end of the line.
        if peek() == "/", peek(1) == "/" {
            while let c = peek(), c != "\n" { position += 1 }
            return try next()
        }
        let start = position
        guard let c = peek() else { return CELToken(kind: .end, offset: start) }
        if CELLexer.isDigit(c) || (c == "." && CELLexer.isDigit(peek(1))) { return try number() }
        if CELLexer.isIdentifierStart(c) {
            // String prefixes: r/R (raw); b/B (bytes) is outside the subset.
            if (c == "r" || c == "R"), peek(1) == "\"" || peek(1) == "'" {
                position += 1
                return CELToken(kind: .string(try string(raw: true)), offset: start)
            }
            if (c == "b" || c == "B"), peek(1) == "\"" || peek(1) == "'" || ((peek(1) == "r" || peek(1) == "R") && (peek(2) == "\"" || peek(2) == "'")) {
                throw CELCompileError(message: "bytes literals are not supported", offset: start)
            }
            var name = ""
            while let d = peek(), CELLexer.isIdentifierStart(d) || CELLexer.isDigit(d) {
                name.unicodeScalars.append(d)
                position += 1
            }
            return CELToken(kind: .identifier(name), offset: start)
        }
        if c == "\"" || c == "'" { return CELToken(kind: .string(try string(raw: false)), offset: start) }
        for symbol in ["==", "!=", "<=", ">=", "&&", "||"] {
            let s = Array(symbol.unicodeScalars)
            if peek() == s[0], peek(1) == s[1] {
                position += 2
                return CELToken(kind: .symbol(symbol), offset: start)
            }
        }
        if "<>!?:+-*/%.,()[]{}".unicodeScalars.contains(c) {
            position += 1
            return CELToken(kind: .symbol(String(c)), offset: start)
        }
        throw CELCompileError(message: "unexpected character '\(c)'", offset: start)
    }

    private mutating func number() throws(CELCompileError) -> CELToken {
        let start = position
        if peek() == "0", peek(1) == "x" || peek(1) == "X" {
            position += 2
            var digits = ""
            while let c = peek(), c.properties.isASCIIHexDigit {
                digits.unicodeScalars.append(c)
                position += 1
            }
            if peek() == "u" || peek() == "U" {
                position += 1
                guard let v = UInt64(digits, radix: 16) else { throw CELCompileError(message: "invalid uint literal", offset: start) }
                return CELToken(kind: .uint(v), offset: start)
            }
            guard let v = Int64(digits, radix: 16) else { throw CELCompileError(message: "invalid int literal", offset: start) }
            return CELToken(kind: .int(v), offset: start)
        }
        var text = ""
        var isDouble = false
        while let c = peek(), CELLexer.isDigit(c) {
            text.unicodeScalars.append(c)
            position += 1
        }
        if peek() == ".", CELLexer.isDigit(peek(1)) {
            isDouble = true
            text += "."
            position += 1
            while let c = peek(), CELLexer.isDigit(c) {
                text.unicodeScalars.append(c)
                position += 1
            }
        }
        if peek() == "e" || peek() == "E" {
            let sign = peek(1) == "+" || peek(1) == "-"
            if CELLexer.isDigit(peek(sign ? 2 : 1)) {
                isDouble = true
                text += "e"
                position += 1
                if sign {
                    text.unicodeScalars.append(peek()!)
                    position += 1
                }
                while let c = peek(), CELLexer.isDigit(c) {
                    text.unicodeScalars.append(c)
                    position += 1
                }
            }
        }
        if isDouble {
            guard let v = Double(text) else { throw CELCompileError(message: "invalid double literal", offset: start) }
            return CELToken(kind: .double(v), offset: start)
        }
        if peek() == "u" || peek() == "U" {
            position += 1
            guard let v = UInt64(text) else { throw CELCompileError(message: "invalid uint literal", offset: start) }
            return CELToken(kind: .uint(v), offset: start)
        }
        // The magnitude of the most negative int is handled by the parser (unary minus on 9223372036854775808).
        if text == "9223372036854775808" { return CELToken(kind: .uint(9_223_372_036_854_775_808), offset: start) }
        guard let v = Int64(text) else { throw CELCompileError(message: "invalid int literal: \(text) is out of range", offset: start) }
        return CELToken(kind: .int(v), offset: start)
    }

    private mutating func string(raw: Bool) throws(CELCompileError) -> String {
        let start = position
        let quote = peek()!
        let triple = peek(1) == quote && peek(2) == quote
        position += triple ? 3 : 1
        var out = ""
        while true {
            guard let c = peek() else { throw CELCompileError(message: "unterminated string literal", offset: start) }
            if c == quote, !triple || (peek(1) == quote && peek(2) == quote) {
                position += triple ? 3 : 1
                return out
            }
            if !triple, c == "\n" || c == "\r" { throw CELCompileError(message: "newline in string literal", offset: position) }
            position += 1
            if c != "\\" || raw {
                out.unicodeScalars.append(c)
                continue
            }
            guard let e = peek() else { throw CELCompileError(message: "unterminated string literal", offset: start) }
            position += 1
            switch e {
            case "\\", "'", "\"", "`", "?": out.unicodeScalars.append(e)
            case "a": out += "\u{07}"
            case "b": out += "\u{08}"
            case "f": out += "\u{0C}"
            case "n": out += "\n"
            case "r": out += "\r"
            case "t": out += "\t"
            case "v": out += "\u{0B}"
            case "x", "X": out.unicodeScalars.append(try codePoint(digits: 2, radix: 16))
            case "u": out.unicodeScalars.append(try codePoint(digits: 4, radix: 16))
            case "U": out.unicodeScalars.append(try codePoint(digits: 8, radix: 16))
            case "0"..."3":
                position -= 1
                out.unicodeScalars.append(try codePoint(digits: 3, radix: 8))
            default:
                throw CELCompileError(message: "invalid escape sequence \\\(e) in string literal", offset: position - 2)
            }
        }
    }

    private mutating func codePoint(digits: Int, radix: Int) throws(CELCompileError) -> Unicode.Scalar {
        let start = position
        var text = ""
        for _ in 0..<digits {
            guard let c = peek() else { break }
            text.unicodeScalars.append(c)
            position += 1
        }
        guard text.count == digits, let v = UInt32(text, radix: radix), let scalar = Unicode.Scalar(v) else {
            throw CELCompileError(message: "invalid escape sequence in string literal", offset: start)
        }
        return scalar
    }
}

// MARK: - Parser

/// A recursive-descent parser for CEL's grammar (cel-spec's langdef), building ``CELExpr``.
struct CELParser {
    private let tokens: [CELToken]
    private var position = 0
    private var depth = 0
    /// Binary operators, selections and indexes parsed so far: long chains build deep trees without nesting the parser.
    private var operators = 0
    private static let reserved: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package",
        "namespace", "return", "var", "void", "while",
    ]

    static func parse(_ text: String) throws(CELCompileError) -> CELExpr {
        var parser = CELParser(tokens: try CELLexer.tokens(text))
        let expr = try parser.expression()
        if parser.current.kind != .end { throw parser.unexpected() }
        return expr
    }

    private init(tokens: [CELToken]) { self.tokens = tokens }

    private var current: CELToken { tokens[position] }

    private func isSymbol(_ s: String) -> Bool { current.kind == .symbol(s) }

    private mutating func accept(_ s: String) -> Bool {
        guard isSymbol(s) else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ s: String) throws(CELCompileError) {
        guard accept(s) else { throw CELCompileError(message: "expected '\(s)', found \(describe(current))", offset: current.offset) }
    }

    private func describe(_ t: CELToken) -> String {
        switch t.kind {
        case .identifier(let s): return "'\(s)'"
        case .symbol(let s): return "'\(s)'"
        case .int(let v): return "'\(v)'"
        case .uint(let v): return "'\(v)u'"
        case .double(let v): return "'\(v)'"
        case .string: return "a string"
        case .end: return "the end of the expression"
        }
    }

    private func unexpected() -> CELCompileError {
        CELCompileError(message: "unexpected \(describe(current))", offset: current.offset)
    }

    private mutating func countOperator() throws(CELCompileError) {
        operators += 1
        if operators > 1000 { throw CELCompileError(message: "expression has more than 1000 operators, selections and indexes", offset: current.offset) }
    }

    private mutating func nested<T>(_ body: (inout CELParser) throws(CELCompileError) -> T) throws(CELCompileError) -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > 100 { throw CELCompileError(message: "expression nests too deeply", offset: current.offset) }
        return try body(&self)
    }

    mutating func expression() throws(CELCompileError) -> CELExpr {
        try nested { p throws(CELCompileError) in
            let condition = try p.conditionalOr()
            guard p.accept("?") else { return condition }
            let then = try p.conditionalOr()
            try p.expect(":")
            let otherwise = try p.expression()
            return .conditional(condition, then, otherwise)
        }
    }

    private mutating func conditionalOr() throws(CELCompileError) -> CELExpr {
        var lhs = try conditionalAnd()
        while accept("||") {
            try countOperator()
            lhs = .or(lhs, try conditionalAnd())
        }
        return lhs
    }

    private mutating func conditionalAnd() throws(CELCompileError) -> CELExpr {
        var lhs = try relation()
        while accept("&&") {
            try countOperator()
            lhs = .and(lhs, try relation())
        }
        return lhs
    }

    private mutating func relation() throws(CELCompileError) -> CELExpr {
        var lhs = try addition()
        while true {
            let op: CELExpr.BinaryOperator
            switch current.kind {
            case .symbol("=="): op = .equal
            case .symbol("!="): op = .notEqual
            case .symbol("<"): op = .less
            case .symbol("<="): op = .lessOrEqual
            case .symbol(">"): op = .greater
            case .symbol(">="): op = .greaterOrEqual
            case .identifier("in"): op = .in
            default: return lhs
            }
            position += 1
            try countOperator()
            lhs = .binary(op, lhs, try addition())
        }
    }

    private mutating func addition() throws(CELCompileError) -> CELExpr {
        var lhs = try multiplication()
        while true {
            if isSymbol("+") || isSymbol("-") { try countOperator() }
            if accept("+") { lhs = .binary(.add, lhs, try multiplication()) } else if accept("-") {
                lhs = .binary(.subtract, lhs, try multiplication())
            } else { return lhs }
        }
    }

    private mutating func multiplication() throws(CELCompileError) -> CELExpr {
        var lhs = try unary()
        while true {
            if isSymbol("*") || isSymbol("/") || isSymbol("%") { try countOperator() }
            if accept("*") { lhs = .binary(.multiply, lhs, try unary()) } else if accept("/") {
                lhs = .binary(.divide, lhs, try unary())
            } else if accept("%") { lhs = .binary(.remainder, lhs, try unary()) } else { return lhs }
        }
    }

    private mutating func unary() throws(CELCompileError) -> CELExpr {
        try nested { p throws(CELCompileError) in
            if p.accept("!") { return .not(try p.unary()) }
            if p.accept("-") {
                // A negative literal is one token's value, so -9223372036854775808 is an int.
                if case .uint(9_223_372_036_854_775_808) = p.current.kind {
                    p.position += 1
                    return try p.member(.literal(.int(Int64.min)))
                }
                return .negate(try p.unary())
            }
            return try p.member(try p.primary())
        }
    }

    private mutating func member(_ base: CELExpr) throws(CELCompileError) -> CELExpr {
        var expr = base
        while true {
            if isSymbol(".") || isSymbol("[") { try countOperator() }
            if accept(".") {
                let offset = current.offset
                guard case .identifier(let name) = current.kind else { throw unexpected() }
                position += 1
                if accept("(") {
                    let args = try arguments(closing: ")")
                    expr = try memberCall(expr, name, args, offset: offset)
                } else {
                    expr = .select(expr, name)
                }
            } else if accept("[") {
                let index = try expression()
                try expect("]")
                expr = .index(expr, index)
            } else {
                return expr
            }
        }
    }

    private mutating func memberCall(_ target: CELExpr, _ name: String, _ args: [CELExpr], offset: Int) throws(CELCompileError) -> CELExpr {
        guard let macro = CELExpr.Macro(rawValue: name) else { return .call(target: target, function: name, arguments: args) }
        guard args.count == 2, case .identifier(let variable) = args[0] else {
            throw CELCompileError(message: "\(name)() takes a variable name and an expression", offset: offset)
        }
        return .comprehension(macro, range: target, variable: variable, body: args[1])
    }

    private mutating func arguments(closing: String) throws(CELCompileError) -> [CELExpr] {
        var args: [CELExpr] = []
        if accept(closing) { return args }
        while true {
            args.append(try expression())
            if accept(closing) { return args }
            try expect(",")
            if accept(closing) { return args }  // trailing comma
        }
    }

    private mutating func primary() throws(CELCompileError) -> CELExpr {
        let token = current
        switch token.kind {
        case .int(let v): position += 1; return .literal(.int(v))
        case .uint(let v): position += 1; return .literal(.uint(v))
        case .double(let v): position += 1; return .literal(.double(v))
        case .string(let s): position += 1; return .literal(.string(s))
        case .identifier(let name):
            position += 1
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "null": return .literal(.null)
            case "in": throw CELCompileError(message: "unexpected 'in'", offset: token.offset)
            default: break
            }
            if CELParser.reserved.contains(name) {
                throw CELCompileError(message: "reserved identifier '\(name)'", offset: token.offset)
            }
            if accept("(") {
                let args = try arguments(closing: ")")
                if name == "has" {
                    guard args.count == 1, case .select(let operand, let field) = args[0] else {
                        throw CELCompileError(message: "invalid argument to has() macro", offset: token.offset)
                    }
                    return .has(operand, field)
                }
                return .call(target: nil, function: name, arguments: args)
            }
            if isSymbol("{") {
                throw CELCompileError(message: "message construction (\(name){...}) is not supported", offset: token.offset)
            }
            return .identifier(name)
        case .symbol("."):
            throw CELCompileError(message: "leading '.' (root-scoped names) is not supported", offset: token.offset)
        case .symbol("("):
            position += 1
            let e = try expression()
            try expect(")")
            return e
        case .symbol("["):
            position += 1
            return .list(try arguments(closing: "]"))
        case .symbol("{"):
            position += 1
            var entries: [CELExpr.MapEntry] = []
            if accept("}") { return .map(entries) }
            while true {
                let key = try expression()
                try expect(":")
                entries.append(.init(key: key, value: try expression()))
                if accept("}") { return .map(entries) }
                try expect(",")
                if accept("}") { return .map(entries) }
            }
        default:
            throw unexpected()
        }
    }
}
