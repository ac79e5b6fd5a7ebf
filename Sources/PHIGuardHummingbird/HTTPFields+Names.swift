internal import HTTPTypes

/// Header access by name for the fields HTTPTypes has no constant for (`Forwarded`,
/// `Sec-Fetch-Site`, `Referrer-Policy`…).
extension HTTPFields {
    /// Every value of the field named `name` (compared case-insensitively), in order.
    func values(named name: String) -> [String] {
        let lowered = name.lowercased()
        return self.filter { $0.name.canonicalName == lowered }.map(\.value)
    }

    /// Replaces the field named `name` with `value`. The names passed are literals of this module,
    /// all valid field names (the tests check every one reaches the response).
    mutating func set(_ name: String, to value: String) {
        guard let fieldName = HTTPField.Name(name) else { return }
        self[fieldName] = value
    }
}
