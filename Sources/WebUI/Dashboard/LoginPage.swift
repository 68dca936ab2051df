// The login form: one password field for the admin token, posted as
// application/x-www-form-urlencoded to /login.

struct LoginPage {
    /// Shown above the form after a failed attempt.
    var message: String?

    func render() -> String {
        var body = "<main class=\"login\">\n<h1>capnet</h1>\n"
        if let message { body += "<p class=\"error\" role=\"alert\">\(HTML.escape(message))</p>\n" }
        body += "<form method=\"post\" action=\"/login\">\n"
        body += "<label for=\"token\">Admin token</label>\n"
        body += "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required autofocus>\n"
        body += "<button type=\"submit\">Log in</button>\n</form>\n"
        body += "<p class=\"hint\">The token is in the file <code>admin-token</code> in the state directory.</p>\n"
        body += "</main>\n"
        return HTML.page(title: "capnet login", body: body)
    }
}
