/// The release version, printed by `capnet version` and sent in the HTTP
/// `Server` header.
let capnetVersion = "0.1.0"
