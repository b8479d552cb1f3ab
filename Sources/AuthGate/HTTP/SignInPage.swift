// SignInPage: the gateway's only HTML: the sign-in and sign-out pages. Plain forms, no script,
// inline CSS allowed by its hash alone; every interpolated value goes through `escape`.
import Hummingbird
import Foundation
import HTTPTypes

enum SignInPage {
    /// What the sign-in page says above the form.
    enum Notice: Equatable {
        /// An error, announced at once (role="alert") and tied to the fields.
        case error(String)
        /// A status, announced politely (role="status").
        case info(String)
    }

    /// The hidden field that marks a form post as coming from these pages: those get HTML back,
    /// every other client keeps getting the JSON of the contract.
    static let pageField = "page"
    static let signInPage = "sign-in"
    static let signOutPage = "sign-out"

    static let wrongCredentials = "The username or password is incorrect."
    static let missingFields = "Enter your username and password."
    static let unavailable = "Signing in is not possible right now. Please try again in a moment."
    static let foreignOrigin = "This form was sent from another site. Open the sign-in page again and sign in there."
    static let signedOut = "You have signed out."

    static func tooManyAttempts(retryAfter seconds: Int) -> String {
        let minutes = (seconds + 59) / 60
        let wait = seconds < 60 ? "\(seconds) second\(seconds == 1 ? "" : "s")" : "\(minutes) minute\(minutes == 1 ? "" : "s")"
        return "Too many failed sign-in attempts. Please try again in \(wait)."
    }

    // MARK: Pages

    static func signIn(username: String = "", rd: String?, notice: Notice? = nil) -> String {
        let error: String? = if case .error(let text) = notice { text } else { nil }
        let invalid = error == nil ? "" : #" aria-invalid="true" aria-describedby="notice""#
        // Focus lands where typing should start: the password when the username is kept.
        let focusUser = username.isEmpty ? " autofocus" : ""
        let focusPassword = username.isEmpty ? "" : " autofocus"
        let rdField = rd.map { #"<input type="hidden" name="rd" value="\#(escape($0))">"# } ?? ""
        let body = """
            <main>
            <h1>Sign in</h1>
            \(noticeHTML(notice))<form method="post" action="/auth/login">
            <input type="hidden" name="\(pageField)" value="\(signInPage)">\(rdField)
            <label for="username">Username</label>
            <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="\(escape(username))"\(invalid)\(focusUser)>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required\(invalid)\(focusPassword)>
            <button type="submit">Sign in</button>
            </form>
            </main>
            """
        return document(title: error == nil ? "Sign in" : "Error: Sign in", body: body)
    }

    static func signOut(notice: Notice? = nil) -> String {
        let body = """
            <main>
            <h1>Sign out</h1>
            \(noticeHTML(notice))<p>Sign out of this browser? Your other sessions stay signed in.</p>
            <form method="post" action="/auth/logout">
            <input type="hidden" name="\(pageField)" value="\(signOutPage)">
            <button type="submit" autofocus>Sign out</button>
            </form>
            </main>
            """
        return document(title: notice == nil ? "Sign out" : "Error: Sign out", body: body)
    }

    private static func noticeHTML(_ notice: Notice?) -> String {
        switch notice {
        case nil: ""
        case .error(let text): #"<p id="notice" class="error" role="alert">\#(escape(text))</p>"# + "\n"
        case .info(let text): #"<p id="notice" class="info" role="status">\#(escape(text))</p>"# + "\n"
        }
    }

    private static func document(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex">
        <title>\(escape(title)) – authgate</title>
        <style>\(style)</style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    /// The one stylesheet; the CSP allows exactly these bytes. Focus is always visible, contrast
    /// meets WCAG AA, and the layout works from 320 px up and at 200 % zoom.
    static let style = """
        :root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.5}\
        body{margin:0;display:flex;justify-content:center;padding:2rem 1rem;background:#f4f5f7;color:#1b1d21}\
        main{width:100%;max-width:22rem;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 4px #0003}\
        h1{margin:0 0 1rem;font-size:1.5rem}\
        label{display:block;margin-top:1rem;font-weight:600}\
        input{box-sizing:border-box;width:100%;margin-top:.25rem;padding:.6rem;font:inherit;border:1px solid #6b7280;border-radius:.25rem;background:#fff;color:#1b1d21}\
        button{margin-top:1.5rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:.25rem;cursor:pointer}\
        button:hover{background:#1e40af}\
        :focus-visible{outline:3px solid #f59e0b;outline-offset:2px}\
        input[aria-invalid=true]{border-color:#b91c1c}\
        .error{color:#991b1b;background:#fef2f2;border-left:4px solid #b91c1c;padding:.5rem .75rem;margin:0 0 .5rem}\
        .info{color:#14532d;background:#f0fdf4;border-left:4px solid #15803d;padding:.5rem .75rem;margin:0 0 .5rem}\
        @media (prefers-color-scheme:dark){body{background:#111318;color:#e6e7ea}main,input{background:#1b1d21;color:#e6e7ea}\
        .error{color:#fecaca;background:#3a1212}.info{color:#bbf7d0;background:#0f2e1a}}
        """

    /// `'sha256-…'` of `style`, for the CSP.
    static let styleHash = "'sha256-" + Data(Sodium.sha256(Array(style.utf8))).base64EncodedString() + "'"

    // MARK: Responses

    /// An HTML page with the headers that keep it from being framed, cached, or made to load or
    /// run anything but its own stylesheet. `form-action` lists the allowed origins because
    /// Chromium applies it to the redirect after the post too.
    static func response(_ html: String, status: HTTPResponse.Status = .ok, origins: OriginPolicy, headers extra: HTTPFields = [:]) -> Response {
        let formAction = (["'self'"] + origins.listed).joined(separator: " ")
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy:
                "default-src 'none'; style-src \(styleHash); form-action \(formAction); frame-ancestors 'none'; base-uri 'none'",
            frameOptions: "DENY",
            // Not no-referrer: with it browsers send `Origin: null` on the form post, and the
            // login's origin check needs the real one.
            referrerPolicy: "same-origin",
            openerPolicy: "same-origin",
        ]
        headers.append(contentsOf: extra)
        let bytes = ByteBuffer(string: html)
        headers[.contentLength] = String(bytes.readableBytes)
        return Response(status: status, headers: headers, body: .init(byteBuffer: bytes))
    }

    /// 303 after a successful form post, so a reload does not post again.
    static func seeOther(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: .seeOther, headers: headers)
    }

    /// Text made safe for HTML content and double- or single-quoted attribute values.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    static let frameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let openerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
}
