/// Whether `name` may be spliced into SQL as a table name or prefix: 1–40 of `a–z 0–9 _`,
/// starting with a letter. Names are never quoted, so nothing else is accepted.
func isValidTableName(_ name: String) -> Bool {
    let bytes = name.utf8
    return (1...40).contains(bytes.count) && bytes.first.map({ (97...122).contains($0) }) == true
        && bytes.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 })
}
