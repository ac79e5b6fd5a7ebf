import Hummingbird
import PHIGuardAccess
import PHIGuardHummingbird

/// The quickstart's HTML: no script, no inline style (the default Content-Security-Policy allows neither).
enum Page {
    static func html(_ body: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(
                byteBuffer: ByteBuffer(
                    string: "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                        + "<title>PHIGuard quickstart</title></head><body>\(body)</body></html>\n")))
    }

    static func hidden(_ token: String?) -> String {
        guard let token else { return "" }
        return "<input type=\"hidden\" name=\"_csrf\" value=\"\(HTMLText.escape(token))\">"
    }

    static func home(session: PHIGuardSession?, token: String?) -> String {
        if let principal = session?.principal {
            return """
                <h1>Signed in</h1><p>Account \(HTMLText.escape(principal.subject.id)).</p>
                <p>Your chart: <a href="/api/charts">/api/charts</a></p>
                <form method="post" action="/logout">\(hidden(token))<button>Sign out</button></form>
                """
        }
        return """
            <h1>Sign in</h1>
            <form method="post" action="/login">\(hidden(token))
            <label>Name <input name="name" autocomplete="username"></label>
            <label>Password <input name="password" type="password" autocomplete="current-password"></label>
            <button>Next</button></form>
            """
    }

    static func codeForm(token: String?) -> String {
        """
        <h1>Authenticator code</h1>
        <form method="post" action="/login/code">\(hidden(token))
        <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code"></label>
        <button>Sign in</button></form>
        """
    }
}
