/// The portal's pages as Mustache templates (swift-mustache). Every `{{value}}` is HTML-escaped;
/// the one unescaped value is the QR code's SVG, which the app draws itself. No script, no style
/// (the Content-Security-Policy allows neither inline), every form that posts carries `_csrf`.
enum Templates {
    static let all: [String: String] = [
        "header": header, "footer": footer, "csrf": csrf, "sign-in": signIn, "second-factor": secondFactor,
        "home": home, "chart": chart, "patients": patients, "edit": edit, "break-glass": breakGlass,
        "review": review, "audit": audit, "sessions": sessions, "register": register,
        "register-enrol": registerEnrol, "register-done": registerDone, "password": password, "notes": notes,
        "messages": messages, "message": message, "mfa": mfa,
        "mfa-done": mfaDone,
    ]

    static let csrf = """
        {{#csrf}}<input type="hidden" name="_csrf" value="{{csrf}}">{{/csrf}}
        """

    static let header = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{{title}} · PHIGuard Portal</title></head>
        <body>
        <header>
        <p><strong>PHIGuard Portal</strong> (demo hospital; every access is audited)</p>
        {{#signedIn}}
        <nav><a href="/home">Home</a>{{#nav}} · <a href="{{href}}" id="nav-{{id}}">{{label}}</a>{{/nav}}</nav>
        <form id="sign-out" method="post" action="/sign-out">{{> csrf}}<button id="sign-out-submit">Sign out</button></form>
        {{/signedIn}}
        {{#hasGrants}}
        <div id="break-glass-banner"><strong>Break-glass access active.</strong> Every access is audited and reviewed.
        <ul>{{#grants}}<li>Patient {{patients}} until {{expires}} (grant {{id}})</li>{{/grants}}</ul></div>
        {{/hasGrants}}
        </header>
        <main>
        <h1>{{title}}</h1>
        """

    static let footer = """
        </main>
        </body></html>

        """

    static let signIn = """
        {{> header}}
        {{#error}}<p id="error">{{error}} Reference: <code>{{reference}}</code></p>{{/error}}
        <form id="sign-in" method="post" action="/sign-in">{{> csrf}}
        <p><label>Login name <input name="login" autocomplete="username" required></label></p>
        <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
        <p><button id="sign-in-submit">Next</button></p>
        </form>
        <p>New patient? <a href="/register">Register</a></p>
        {{> footer}}
        """

    static let secondFactor = """
        {{> header}}
        {{#error}}<p id="error">{{error}} Reference: <code>{{reference}}</code></p>{{/error}}
        <form id="second-factor" method="post" action="/second-factor">{{> csrf}}
        <p><label>Authenticator code (or a recovery code)
        <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label></p>
        <p><button id="second-factor-submit">Sign in</button></p>
        </form>
        <p><a href="/sign-in">Start again</a></p>
        {{> footer}}
        """

    static let home = """
        {{> header}}
        <p id="whoami">Signed in as <strong>{{login}}</strong>, roles: {{roles}}.</p>
        <ul>{{#nav}}<li><a href="{{href}}">{{label}}</a></li>{{/nav}}</ul>
        <p>Session {{handle}}, {{strength}}, ends at the latest {{expires}}.</p>
        {{> footer}}
        """

    static let chart = """
        {{> header}}
        <p>Patient <code>{{patientID}}</code>{{#grantID}} (read under break-glass grant {{grantID}}){{/grantID}}.</p>
        <dl id="chart">
        {{#fields}}<dt>{{name}}</dt><dd data-field="{{name}}">{{value}}</dd>
        {{/fields}}
        </dl>
        {{#staff}}
        <p><a id="chart-notes" href="/patients/{{patientID}}/notes">Clinical notes</a> ·
        <a id="chart-edit" href="/patients/{{patientID}}/edit">Update this chart</a> ·
        <a id="chart-break-glass" href="/break-glass?patient={{patientID}}">Break the glass for this patient</a></p>
        {{/staff}}
        {{> footer}}
        """

    static let patients = """
        {{> header}}
        <form id="search" method="get" action="/patients">
        <label>Name <input name="name" value="{{name}}"></label>
        <label>MRN <input name="mrn" value="{{mrn}}"></label>
        <label>Date of birth <input name="dob" value="{{dob}}" placeholder="YYYY-MM-DD"></label>
        <button id="search-submit">Search</button>
        </form>
        <table id="patients">
        <thead><tr><th>Patient</th><th>Name</th><th>Date of birth</th><th>MRN</th></tr></thead>
        <tbody>
        {{#rows}}<tr data-patient-id="{{id}}"><td><a href="/patients/{{id}}">{{id}}</a></td><td>{{name}}</td><td>{{birthDate}}</td><td>{{mrn}}</td></tr>
        {{/rows}}
        </tbody>
        </table>
        {{^rows}}<p id="no-patients">No patients to show.</p>{{/rows}}
        {{#next}}<p><a id="next-page" href="{{next}}">Next page</a></p>{{/next}}
        {{> footer}}
        """

    static let edit = """
        {{> header}}
        <form id="chart-update" method="post" action="/patients/{{patientID}}/chart">{{> csrf}}
        <p><label>Field <select name="field">{{#fields}}<option value="{{.}}">{{.}}</option>{{/fields}}</select></label></p>
        <p><label>New value <input name="value" required maxlength="4096"></label></p>
        <p><button id="chart-update-submit">Update</button></p>
        </form>
        <p><a href="/patients/{{patientID}}">Back to the chart</a></p>
        {{> footer}}
        """

    static let breakGlass = """
        {{> header}}
        <p>Breaking the glass opens this patient's chart to you for a limited time. It is audited and
        every use is reviewed by an auditor.</p>
        <form id="break-glass" method="post" action="/break-glass">{{> csrf}}
        <p><label>Patient <input name="patient" value="{{patient}}" required></label></p>
        <p><label>Reason <select name="reason">{{#reasons}}<option value="{{code}}">{{code}}: {{label}}</option>{{/reasons}}</select></label></p>
        <p><label>Justification <input name="justification" required maxlength="1000"></label></p>
        <p><button id="break-glass-submit">Break the glass</button></p>
        </form>
        {{> footer}}
        """

    static let review = """
        {{> header}}
        <table id="break-glass-review">
        <thead><tr><th>Grant</th><th>Holder</th><th>Patients</th><th>Reason</th><th>Issued</th><th>Uses</th><th>Review</th></tr></thead>
        <tbody>
        {{#rows}}<tr data-grant-id="{{id}}"><td>{{id}}</td><td>{{holder}}</td><td>{{patients}}</td><td>{{reason}}</td><td>{{issued}}</td><td>{{uses}}</td>
        <td><form method="post" action="/review/{{id}}">{{> csrf}}<select name="outcome"><option value="appropriate">appropriate</option><option value="inappropriate">inappropriate</option></select> <button>Record review</button></form></td></tr>
        {{/rows}}
        </tbody>
        </table>
        {{^rows}}<p id="no-grants">No break-glass grant awaits review.</p>{{/rows}}
        {{> footer}}
        """

    static let audit = """
        {{> header}}
        <p id="audit-verification">{{#intact}}Audit chain intact: {{records}} records, {{checkpoints}} checkpoints matched.{{/intact}}{{^intact}}Audit chain BROKEN: {{breaks}} break(s); first: {{firstBreak}}.{{/intact}}</p>
        <p>Verified read-only with the chain key and the checkpoint signing key, against the checkpoints stored
        beside the log and those in the witness file.</p>
        {{> footer}}
        """

    static let sessions = """
        {{> header}}
        <table id="sessions">
        <thead><tr><th>Session</th><th>Client</th><th>Started</th><th>Last seen</th><th>Ends</th><th></th></tr></thead>
        <tbody>
        {{#rows}}<tr data-session-handle="{{handle}}"><td>{{handle}}{{#current}} (this one){{/current}}</td><td>{{client}}</td><td>{{created}}</td><td>{{lastSeen}}</td><td>{{expires}}</td>
        <td><form method="post" action="/sessions/{{handle}}/end">{{> csrf}}<button>End session</button></form></td></tr>
        {{/rows}}
        </tbody>
        </table>
        {{> footer}}
        """

    static let register = """
        {{> header}}
        <p>Register as a patient: choose a login name, add the authenticator shown next, then choose a
        password. Staff link your account to your records after checking who you are.</p>
        {{^registering}}
        <form id="register" method="post" action="/register">{{> csrf}}
        <p><button id="register-submit">Start registration</button></p>
        </form>
        {{/registering}}
        {{#registering}}
        <form id="register-name" method="post" action="/register/name">{{> csrf}}
        <p><label>Login name <input name="login" autocomplete="username" required></label></p>
        <p><button id="register-name-submit">Next</button></p>
        </form>
        {{/registering}}
        {{> footer}}
        """

    static let registerEnrol = """
        {{> header}}
        <p>Scan this code with your authenticator app (or enter the key by hand), then enter the code it shows.</p>
        <figure id="totp-qr">{{{qr}}}</figure>
        <p>Key: <code id="totp-key">{{key}}</code></p>
        <form id="register-complete" method="post" action="/register/complete">{{> csrf}}
        <p><label>Password <input name="password" type="password" autocomplete="new-password" required></label></p>
        <p><label>Authenticator code <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label></p>
        <p><button id="register-complete-submit">Register</button></p>
        </form>
        {{> footer}}
        """

    static let registerDone = """
        {{> header}}
        <p id="registered">Thank you. If the login name was free, your account exists now: sign in with it.
        Staff link it to your records after checking who you are.</p>
        <p><a href="/sign-in">Sign in</a></p>
        {{> footer}}
        """

    static let password = """
        {{> header}}
        {{#required}}<p id="password-change-required">Your account still has the temporary password it was
        created with. Choose your own password to continue: until then no other page opens.</p>{{/required}}
        {{#error}}<p id="error">{{error}} Reference: <code>{{reference}}</code></p>{{/error}}
        <form id="password-change" method="post" action="/password">{{> csrf}}
        <p><label>Current password <input name="current" type="password" autocomplete="current-password" required></label></p>
        <p><label>New password <input name="new" type="password" autocomplete="new-password" required></label></p>
        <p><button id="password-change-submit">Change password</button></p>
        </form>
        <p>Every other session of your account ends; this one continues.</p>
        {{> footer}}
        """

    static let notes = """
        {{> header}}
        <p>Clinical notes of patient <code>{{patientID}}</code> you may read{{#grantID}} (under break-glass grant {{grantID}}){{/grantID}}.</p>
        <ul id="notes">
        {{#notes}}<li data-note-id="{{id}}"><p>{{date}} · {{author}}</p><p class="note-body">{{body}}</p></li>
        {{/notes}}
        </ul>
        {{^notes}}<p id="no-notes">No notes to show.</p>{{/notes}}
        <p><a href="/patients/{{patientID}}">Back to the chart</a></p>
        {{> footer}}
        """

    static let messages = """
        {{> header}}
        <ul id="messages">
        {{#messages}}<li data-message-id="{{id}}"><p>{{date}} · {{author}}</p><p class="message-body">{{body}}</p></li>
        {{/messages}}
        </ul>
        {{^messages}}<p id="no-messages">No messages yet.</p>{{/messages}}
        <form id="send-message" method="post" action="/messages">{{> csrf}}
        <p><label>New message <textarea name="text" required maxlength="8192"></textarea></label></p>
        <p><button id="send-message-submit">Send</button></p>
        </form>
        {{> footer}}
        """

    static let message = """
        {{> header}}
        <article id="message" data-message-id="{{id}}"><p>{{date}} · {{author}}</p><p class="message-body">{{body}}</p></article>
        <p><a href="/messages">All messages</a></p>
        {{> footer}}
        """

    static let mfa = """
        {{> header}}
        <p>Scan this code with your authenticator app (or enter the key by hand), then enter the code it
        shows. Until you confirm, your current authenticator stays the one that signs you in.</p>
        {{#error}}<p id="error">{{error}} Reference: <code>{{reference}}</code></p>{{/error}}
        <figure id="mfa-qr">{{{qr}}}</figure>
        <p>Key: <code id="mfa-key">{{key}}</code></p>
        <form id="mfa-confirm" method="post" action="/mfa">{{> csrf}}
        <p><label>Authenticator code <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label></p>
        <p><button id="mfa-confirm-submit">Confirm</button></p>
        </form>
        {{> footer}}
        """

    static let mfaDone = """
        {{> header}}
        <p id="mfa-enrolled">Your new authenticator is active: use its codes from your next sign-in.
        Any other session of your account has ended.</p>
        {{> footer}}
        """
}
