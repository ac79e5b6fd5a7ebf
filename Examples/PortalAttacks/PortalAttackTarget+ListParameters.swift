public import PHIGuardAttackSuite
internal import PHIGuardRecords
internal import PortalCore

// Attack 9's list parameters: the portal's patient list as a web or CLI front end receives it.

extension PortalAttackTarget {
    /// `Portal.maximumPageSize`.
    public var maximumListPageSize: Int? { Portal.maximumPageSize }

    /// `Portal.listPatients` from a client's parameters: `sort` (`PatientSort(parsing:)`),
    /// `filter.<field>` (`PatientSearch(filters:)`), `limit` (a decimal `Int`) and `cursor`; any
    /// other parameter, or a limit that is not a number, is `PortalError.invalidInput`. Values keyed
    /// by the patient ids on the page, the next cursor under `AttackResponse.nextCursorKey`.
    public func list(type: String, parameters: [String: String], as session: AttackSession) async throws
        -> AttackResponse
    {
        do {
            var filters: [String: String] = [:]
            var sort = PatientSort.recordID
            var limit = 20
            var cursor: String?
            for (key, value) in parameters {
                switch key {
                case "sort": sort = try PatientSort(parsing: value)
                case "limit":
                    guard let number = Int(value) else { throw PortalError.invalidInput("limit") }
                    limit = number
                case "cursor": cursor = value
                case let key where key.hasPrefix("filter."): filters[String(key.dropFirst("filter.".count))] = value
                default: throw PortalError.invalidInput("parameter")
                }
            }
            let page = try await portal.listPatients(
                token: session.token, search: try PatientSearch(filters: filters), sort: sort, cursor: cursor,
                limit: limit)
            var values: [String: String] = [:]
            for patient in page.patients { values[patient.patientID] = "" }
            if let next = page.nextCursor { values[AttackResponse.nextCursorKey] = next }
            return .allowed(values: values)
        } catch {
            return .refused(refusal(error))
        }
    }
}
