// A small request router: path patterns with literal segments, ":name"
// parameters and a final "*name" remainder, matched on decoded segments.
// It responds with 404, 405 with Allow, OPTIONS, 400 for paths that cannot
// be mapped, and 501 for methods it does not recognize.

public struct Router {
    public typealias Handler = (HTTPRequest, RouteMatch) -> HTTPResponse

    /// The route data a handler receives besides the request.
    public struct RouteMatch: Hashable, Sendable {
        /// Values of ":name" and "*name" segments, decoded. A remainder
        /// joins its segments with "/".
        public var parameters: [String: String]
        public var query: QueryParameters
    }

    enum PatternSegment: Hashable {
        case literal(String)
        case parameter(String)
        case remainder(String)
    }

    struct Route {
        let method: HTTPMethod
        let pattern: [PatternSegment]
        let handler: Handler
    }

    /// Methods of RFC 9110 §9 and RFC 5789 that this server recognizes: a
    /// route that lacks one gets 405. Any other method gets 501
    /// (RFC 9110 §15.6.2) unless a route registers it. CONNECT is left out
    /// because this server is no proxy.
    public static let recognizedMethods: Set<HTTPMethod> = [.GET, .HEAD, .POST, .PUT, .DELETE, .OPTIONS,
                                                            .TRACE, .PATCH]

    private var routes: [Route] = []

    public init() {}

    /// Adds a route. `pattern` is an absolute path whose segments are
    /// literals (matched after percent-decoding), ":name" for one segment,
    /// or a last "*name" for the rest of the path. Patterns are program
    /// text, so an invalid one is a programming error and traps.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping Handler) {
        precondition(pattern.hasPrefix("/"), "route pattern must start with /: \(pattern)")
        var segments: [PatternSegment] = []
        let parts = pattern == "/" ? [] : pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            if part.hasPrefix(":") {
                segments.append(.parameter(String(part.dropFirst())))
            } else if part.hasPrefix("*") {
                precondition(index == parts.count - 1, "*remainder must be the last segment: \(pattern)")
                segments.append(.remainder(String(part.dropFirst())))
            } else {
                segments.append(.literal(String(part)))
            }
        }
        routes.append(Route(method: method, pattern: segments, handler: handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping Handler) { add(.GET, pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping Handler) { add(.POST, pattern, handler) }

    /// Routes `request` and returns the handler's response or the router's own status.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch resolve(request.head) {
        case .respond(let response): return response
        case .route(let route, let match): return route.handler(request, match)
        }
    }

    /// The response the router gives from the head alone (400, 404, 405,
    /// 501, OPTIONS), or nil when a handler will run. Pass it as the
    /// connection's `screenHead` to reject uploads before reading them.
    public func screen(_ head: HTTPRequestHead) -> HTTPResponse? {
        if case .respond(let response) = resolve(head) { return response }
        return nil
    }

    private enum Resolution {
        case respond(HTTPResponse)
        case route(Route, RouteMatch)
    }

    private func resolve(_ head: HTTPRequestHead) -> Resolution {
        let method = head.method
        guard Self.recognizedMethods.contains(method) || routes.contains(where: { $0.method == method }) else {
            return .respond(.error(.notImplemented))
        }

        guard let rawPath = head.target.path else {
            // OPTIONS * requests the options of the server as a whole (RFC 9110 §9.3.7).
            if head.target == .asterisk && method == .OPTIONS {
                return .respond(Self.options(allowing: routes.map(\.method)))
            }
            return .respond(.error(.badRequest))
        }
        let segments: [String]
        switch PercentDecoding.pathSegments(rawPath) {
        case .failure: return .respond(.error(.badRequest))
        case .success(let decoded): segments = decoded
        }
        guard let query = QueryParameters(rawQuery: head.target.query) else {
            return .respond(.error(.badRequest))
        }

        var candidates: [(Route, [String: String])] = []
        for route in routes {
            if let parameters = Self.match(route.pattern, segments) { candidates.append((route, parameters)) }
        }
        if candidates.isEmpty { return .respond(.error(.notFound)) }

        // HEAD runs the GET handler; the connection leaves out the content.
        let wanted = candidates.first(where: { $0.0.method == method })
            ?? (method == .HEAD ? candidates.first(where: { $0.0.method == .GET }) : nil)
        if let (route, parameters) = wanted {
            return .route(route, RouteMatch(parameters: parameters, query: query))
        }
        let allowed = candidates.map(\.0.method)
        if method == .OPTIONS { return .respond(Self.options(allowing: allowed)) }
        var response = HTTPResponse.error(.methodNotAllowed)
        response.headers.set(name: "Allow", value: Self.allowValue(allowed))
        return .respond(response)
    }

    /// Builds the Allow value (RFC 9110 §10.2.1): the methods given, HEAD
    /// where GET is, and OPTIONS, sorted.
    static func allowValue(_ methods: [HTTPMethod]) -> String {
        var names = Set(methods.map(\.rawValue))
        if names.contains("GET") { names.insert("HEAD") }
        names.insert("OPTIONS")
        return names.sorted().joined(separator: ", ")
    }

    private static func options(allowing methods: [HTTPMethod]) -> HTTPResponse {
        HTTPResponse(status: .noContent, headers: ["Allow": allowValue(methods)])
    }

    static func match(_ pattern: [PatternSegment], _ segments: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, element) in pattern.enumerated() {
            switch element {
            case .remainder(let name):
                parameters[name] = segments[min(index, segments.count)...].joined(separator: "/")
                return parameters
            case .literal(let literal):
                guard index < segments.count, segments[index] == literal else { return nil }
            case .parameter(let name):
                guard index < segments.count, !segments[index].isEmpty else { return nil }
                parameters[name] = segments[index]
            }
        }
        return pattern.count == segments.count ? parameters : nil
    }
}
