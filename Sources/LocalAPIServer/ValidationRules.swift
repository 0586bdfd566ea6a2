import Foundation

/// A CRD's `x-kubernetes-validations` rules, evaluated as kube-apiserver does after schema validation:
/// each rule at the schema node that declares it with `self` bound to the value there; transition
/// rules (those that mention `oldSelf`) only on update and only where the old object has a
/// correlated value (object properties and map keys correlate; list items only in `listType: map`
/// lists, by their keys); a failure is a `FieldValueInvalid` cause (or the rule's `reason`) at the
/// node's path (or the rule's `fieldPath`) with the rule's message, like
/// `spec.ipv4: Invalid value: "string": IPv4 cannot be changed.`; an evaluation error says
/// `<error> evaluating rule: <message>`. Ratcheting (on by default since 1.30): on update a
/// non-transition rule that fails where the value equals its correlated old value is ignored.
///
/// Compiled programs are cached by expression; callers hold the store's lock.
struct ValidationRules {
    private var programs: [String: Result<CELProgram, CELCompileError>] = [:]
    static let variables: Set<String> = ["self", "oldSelf"]

    mutating func program(_ rule: String) -> Result<CELProgram, CELCompileError> {
        if let cached = programs[rule] { return cached }
        let compiled: Result<CELProgram, CELCompileError>
        do { compiled = .success(try CELProgram(rule, variables: ValidationRules.variables)) } catch { compiled = .failure(error) }
        if programs.count > 4096 { programs.removeAll() }
        programs[rule] = compiled
        return compiled
    }

    /// Whether the schema declares any rule (kube-apiserver runs no CEL validator otherwise).
    static func hasRules(_ schema: JSON) -> Bool {
        if schema["x-kubernetes-validations"]?.arrayValue?.isEmpty == false { return true }
        if let props = schema["properties"]?.objectValue, props.values.contains(where: hasRules) { return true }
        if let items = schema["items"], hasRules(items) { return true }
        if let additional = schema["additionalProperties"], case .object = additional, hasRules(additional) { return true }
        return false
    }

    // MARK: CRD registration

    /// Causes for every rule of a CRD's versions that LocalAPIServer cannot compile (a syntax error or
    /// CEL outside its subset), with kube-apiserver's paths, so such a CRD is refused when created.
    mutating func compileErrors(crd: JSON) -> [StatusError.Cause] {
        var causes: [StatusError.Cause] = []
        for (i, version) in (crd["spec"]?["versions"]?.arrayValue ?? []).enumerated() {
            if let schema = version["schema"]?["openAPIV3Schema"] {
                collectCompileErrors(schema, path: "spec.versions[\(i)].schema.openAPIV3Schema", into: &causes)
            }
        }
        return causes
    }

    private mutating func collectCompileErrors(_ schema: JSON, path: String, into causes: inout [StatusError.Cause]) {
        for (j, raw) in (schema["x-kubernetes-validations"]?.arrayValue ?? []).enumerated() {
            let rulePath = "\(path).x-kubernetes-validations[\(j)]"
            let rule = raw["rule"]?.stringValue ?? ""
            if case .failure(let error) = program(rule) {
                causes.append(.init(type: "FieldValueInvalid", field: "\(rulePath).rule",
                                    message: "Invalid value: \(SchemaValidation.quote(.string(rule))): compilation failed: \(error) (LocalAPIServer evaluates a subset of CEL; see its README)"))
            }
            if let expression = raw["messageExpression"]?.stringValue, case .failure(let error) = program(expression) {
                causes.append(.init(type: "FieldValueInvalid", field: "\(rulePath).messageExpression",
                                    message: "Invalid value: \(SchemaValidation.quote(.string(expression))): compilation failed: \(error) (LocalAPIServer evaluates a subset of CEL; see its README)"))
            }
            if let fieldPath = raw["fieldPath"]?.stringValue, ValidationRules.fieldPathComponents(fieldPath) == nil {
                causes.append(.init(type: "FieldValueInvalid", field: "\(rulePath).fieldPath",
                                    message: "Invalid value: \(SchemaValidation.quote(.string(fieldPath))): LocalAPIServer supports only dotted field paths such as .spec.name"))
            }
            if let reason = raw["reason"]?.stringValue, !["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"].contains(reason) {
                causes.append(.init(type: "FieldValueNotSupported", field: "\(rulePath).reason",
                                    message: "Unsupported value: \"\(reason)\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""))
            }
        }
        for (name, child) in (schema["properties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            collectCompileErrors(child, path: "\(path).properties[\(name)]", into: &causes)
        }
        if let items = schema["items"] { collectCompileErrors(items, path: "\(path).items", into: &causes) }
        if let additional = schema["additionalProperties"], case .object = additional {
            collectCompileErrors(additional, path: "\(path).additionalProperties", into: &causes)
        }
    }

    static func fieldPathComponents(_ fieldPath: String) -> [String]? {
        guard fieldPath.hasPrefix(".") else { return nil }
        let parts = fieldPath.dropFirst().split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } }) else { return nil }
        return parts
    }

    // MARK: evaluation

    /// One rule's result at one place of the object (what the differential test compares).
    struct Outcome: Sendable {
        enum Result: Equatable, Sendable { case pass, fail, error(String) }
        /// Where the rule is declared, e.g. `spec.ipv4`, `spec.nodeSelector.nodeSelectorTerms[].matchExpressions[]`, `<root>`.
        var schemaPath: String
        /// Index of the rule among the node's rules, and its expression.
        var ruleIndex: Int
        var rule: String
        /// The value's path, e.g. `spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[1]` (empty at the root).
        var dataPath: String
        var result: Result
        /// The Status cause kube-apiserver would report, nil for a pass or a ratcheted failure.
        var cause: StatusError.Cause?
    }

    /// The causes for a create (`old == nil`) or an update of a custom resource, in schema order.
    mutating func validate(schema: JSON, object: JSON, old: JSON?, ratcheting: Bool = true) -> [StatusError.Cause] {
        evaluate(schema: schema, object: object, old: old, ratcheting: ratcheting).compactMap(\.cause)
    }

    /// Every rule evaluated on the object, with its outcome.
    mutating func evaluate(schema: JSON, object: JSON, old: JSON?, ratcheting: Bool = true) -> [Outcome] {
        var outcomes: [Outcome] = []
        walk(object, old, schema, schemaPath: "", dataPath: "", isRoot: true, ratcheting: ratcheting, into: &outcomes)
        return outcomes
    }

    private mutating func walk(_ value: JSON, _ old: JSON?, _ schema: JSON, schemaPath: String, dataPath: String, isRoot: Bool,
                               ratcheting: Bool, into outcomes: inout [Outcome]) {
        if value == .null { return }
        let rules = schema["x-kubernetes-validations"]?.arrayValue ?? []
        if !rules.isEmpty {
            let selfValue = ValidationRules.celValue(value, schema, isRoot: isRoot)
            var activation: [String: CELValue] = ["self": selfValue]
            if let old, old != .null { activation["oldSelf"] = ValidationRules.celValue(old, schema, isRoot: isRoot) }
            for (index, raw) in rules.enumerated() {
                let rule = raw["rule"]?.stringValue ?? ""
                var outcome = Outcome(schemaPath: schemaPath.isEmpty ? "<root>" : schemaPath, ruleIndex: index, rule: rule, dataPath: dataPath,
                                      result: .pass)
                let type = schema["type"]?.stringValue ?? ""
                let field = dataPath.isEmpty ? "<nil>" : dataPath
                switch program(rule) {
                case .failure(let error):
                    outcome.result = .error("compilation failed: \(error)")
                    outcome.cause = .init(type: "FieldValueInvalid", field: field,
                                          message: "Invalid value: \"\(type)\": rule compilation failed: \(error) (LocalAPIServer evaluates a subset of CEL): \(ValidationRules.ruleErrorString(raw))")
                case .success(let program):
                    let transition = program.variables.contains("oldSelf")
                    if transition && activation["oldSelf"] == nil { continue }
                    do throws(CELEvalError) {
                        let result = try program.evaluate(activation)
                        guard case .bool(let ok) = result else {
                            throw CELEvalError(message: "rule evaluated to \(result.typeName), not bool")
                        }
                        if ok { break }
                        outcome.result = .fail
                        if ratcheting, !transition, let old, old == value { break }  // ratcheted: unchanged and correlated
                        outcome.cause = failureCause(raw, activation: activation, type: type, dataPath: dataPath)
                    } catch {
                        outcome.result = .error(error.message)
                        outcome.cause = .init(type: "FieldValueInvalid", field: field,
                                              message: "Invalid value: \"\(type)\": \(error.message) evaluating rule: \(ValidationRules.ruleErrorString(raw))")
                    }
                }
                outcomes.append(outcome)
            }
        }
        switch value {
        case .object(let o):
            let props = schema["properties"]?.objectValue ?? [:]
            let additional = schema["additionalProperties"]
            for key in o.keys.sorted() {
                let childSchema: JSON?
                let childSchemaPath: String
                let childDataPath: String
                if let p = props[key] {
                    childSchema = p
                    childSchemaPath = schemaPath.isEmpty ? key : "\(schemaPath).\(key)"
                    childDataPath = dataPath.isEmpty ? key : "\(dataPath).\(key)"
                } else if let additional, case .object = additional {
                    childSchema = additional
                    childSchemaPath = "\(schemaPath)[*]"
                    childDataPath = "\(dataPath)[\(key)]"
                } else { continue }
                guard let childSchema, let child = o[key] else { continue }
                walk(child, old?[key], childSchema, schemaPath: childSchemaPath, dataPath: childDataPath, isRoot: false,
                     ratcheting: ratcheting, into: &outcomes)
            }
        case .array(let items):
            guard let itemSchema = schema["items"] else { return }
            let mapKeys = schema["x-kubernetes-list-type"]?.stringValue == "map"
                ? (schema["x-kubernetes-list-map-keys"]?.arrayValue ?? []).compactMap(\.stringValue) : []
            let oldItems = old?.arrayValue ?? []
            for (i, item) in items.enumerated() {
                // Only map lists correlate items with old items (by their keys); atomic and set lists do not.
                var oldItem: JSON?
                if !mapKeys.isEmpty {
                    oldItem = oldItems.first { candidate in mapKeys.allSatisfy { candidate[$0] == item[$0] } }
                }
                walk(item, oldItem, itemSchema, schemaPath: "\(schemaPath)[]", dataPath: "\(dataPath)[\(i)]", isRoot: false,
                     ratcheting: ratcheting, into: &outcomes)
            }
        default:
            return
        }
    }

    private mutating func failureCause(_ raw: JSON, activation: [String: CELValue], type: String, dataPath: String) -> StatusError.Cause {
        var path = dataPath
        if let fieldPath = raw["fieldPath"]?.stringValue, let parts = ValidationRules.fieldPathComponents(fieldPath) {
            for part in parts { path = path.isEmpty ? part : "\(path).\(part)" }
        }
        var detail = ValidationRules.ruleMessageOrDefault(raw)
        if let expression = raw["messageExpression"]?.stringValue, case .success(let program) = program(expression),
           case .string(let text)? = try? program.evaluate(activation), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        {
            detail = text
        }
        let field = path.isEmpty ? "<nil>" : path
        switch raw["reason"]?.stringValue {
        case "FieldValueForbidden": return .init(type: "FieldValueForbidden", field: field, message: "Forbidden: \(detail)")
        case "FieldValueRequired": return .init(type: "FieldValueRequired", field: field, message: "Required value: \(detail)")
        case "FieldValueDuplicate": return .init(type: "FieldValueDuplicate", field: field, message: "Duplicate value: \"\(type)\"")
        default: return .init(type: "FieldValueInvalid", field: field, message: "Invalid value: \"\(type)\": \(detail)")
        }
    }

    static func ruleMessageOrDefault(_ raw: JSON) -> String {
        if let message = raw["message"]?.stringValue, !message.isEmpty { return message }
        return "failed rule: \(ruleErrorString(raw))"
    }

    static func ruleErrorString(_ raw: JSON) -> String {
        if let message = raw["message"]?.stringValue, !message.isEmpty { return message.trimmingCharacters(in: .whitespacesAndNewlines) }
        return (raw["rule"]?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The CEL value of a JSON value under its schema: integer fields are ints, number fields doubles;
    /// at the root, `metadata` holds only `name` and `generateName`, as kube-apiserver binds it.
    static func celValue(_ value: JSON, _ schema: JSON?, isRoot: Bool = false) -> CELValue {
        let type = schema?["type"]?.stringValue
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return type == "number" ? .double(Double(i)) : .int(i)
        case .double(let d):
            if type == "integer", d == d.rounded(), abs(d) < 9e18 { return .int(Int64(d)) }
            return .double(d)
        case .string(let s): return .string(s)
        case .array(let items): return .list(items.map { celValue($0, schema?["items"]) })
        case .object(let o):
            let props = schema?["properties"]?.objectValue ?? [:]
            var out: [String: CELValue] = [:]
            for (k, v) in o {
                if isRoot, k == "metadata" {
                    var meta: [String: CELValue] = [:]
                    for name in ["name", "generateName"] { if let s = v[name]?.stringValue { meta[name] = .string(s) } }
                    out[k] = .map(meta)
                    continue
                }
                let childSchema: JSON? = props[k] ?? {
                    if let a = schema?["additionalProperties"], case .object = a { return a }
                    return nil
                }()
                out[k] = celValue(v, childSchema)
            }
            return .map(out)
        }
    }
}
