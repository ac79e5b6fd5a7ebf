internal import Foundation
internal import Hummingbird
internal import Mustache

/// Renders the ``Templates`` into responses. Every page is `no-store`: a signed-in page may hold
/// PHI, and the back button after sign-out must show nothing from the cache.
struct PageRenderer: Sendable {
    let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in Templates.all { try library.register(text, named: name) }
        self.library = library
    }

    /// The page `template` filled from `values`, with status `status`.
    func page(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok) throws -> Response {
        guard let html = library.render(values, withTemplate: template) else { throw WebPortalError.missingTemplate }
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// A `303 See Other` to `location` (after a form post, or to the sign-in page).
    static func seeOther(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// `date` as ISO 8601 (UTC, seconds).
    static func time(_ date: Date) -> String { date.formatted(.iso8601) }

    /// `value` percent-encoded for a query string or a path segment.
    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
