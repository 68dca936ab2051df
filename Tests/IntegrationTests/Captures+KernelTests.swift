import Foundation
import Testing

/// Packet captures started, stopped, listed and downloaded through the Web
/// UI's API by curl in a namespace each test creates, and read by tshark
/// (Wireshark 4.0 on Debian 12) with no key file.
@Suite(.enabled(if: NamespaceLab.isAvailable, Comment(rawValue: NamespaceLab.unavailableReason ?? "")),
       .timeLimit(.minutes(3)))
struct CapturesKernelTests {
    static let baseURL = "https://\(NamespaceLab.stackAddress)"

    struct Running {
        let lab: NamespaceLab
        let directory: TemporaryDirectory
        let certificate: WebUIKernelTests.OperatorCertificate
        let stateDirectory: String
        let stack: ManagedProcess
        let token: String

        var capturesDirectory: String { stateDirectory + "/captures" }

        /// Runs curl with the admin token; returns the body and the status code.
        func request(_ arguments: [String]) throws -> (body: String, status: String) {
            let output = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15",
                                       "--cacert", certificate.caPath,
                                       "--header", "Authorization: Bearer \(token)",
                                       "--write-out", "\n%{http_code}"] + arguments).output
            guard let split = output.lastIndex(of: "\n") else { return (output, "") }
            return (String(output[..<split]), String(output[output.index(after: split)...]))
        }

        /// POSTs a JSON request body to `path`.
        func post(_ path: String, json: String = "{}") throws -> (body: String, status: String) {
            try request(["--header", "Content-Type: application/json", "--data", json, "\(baseURL)\(path)"])
        }
    }

    static func start(tag: String) throws -> Running {
        let lab = try NamespaceLab(tag: tag)
        do {
            let directory = try TemporaryDirectory()
            let certificate = try WebUIKernelTests.OperatorCertificate(directory: directory.path)
            let stateDirectory = directory.path + "/state"
            let stack = try lab.startCapnet([
                "--tap", NamespaceLab.tapName,
                "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
                "--state-dir", stateDirectory,
                "--cert", certificate.chainPath, "--key", certificate.keyPath,
            ])
            let token = try String(contentsOfFile: stateDirectory + "/admin-token", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return Running(lab: lab, directory: directory, certificate: certificate,
                           stateDirectory: stateDirectory, stack: stack, token: token)
        } catch {
            lab.tearDown()
            throw error
        }
    }

    static func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    @Test func captureDownloadDecryptsWithoutKeyFile() throws {
        let web = try Self.start(tag: "capctl")
        defer { web.lab.tearDown() }

        let started = try web.post("/api/captures", json: "{\"name\":\"first\"}")
        #expect(started.status == "201", "\(started.body)")
        #expect(started.body.contains("\"running\":true"), "\(started.body)")

        // A new TLS connection, so its handshake happens while the capture runs.
        let health = try web.lab.exec(["curl", "--silent", "--show-error", "--max-time", "15",
                                       "--cacert", web.certificate.caPath, "\(Self.baseURL)/healthz"]).output
        #expect(health == "ok")

        let early = try web.request(["--output", "/dev/null", "\(Self.baseURL)/api/captures/first"])
        #expect(early.status == "409", "a running capture is not downloadable")

        let stopped = try web.post("/api/captures/first/stop")
        #expect(stopped.status == "200", "\(stopped.body)")
        #expect(stopped.body.contains("\"running\":false"), "\(stopped.body)")

        let saved = web.directory.path + "/downloaded.pcapng"
        let download = try web.request(["--output", saved, "\(Self.baseURL)/api/captures/first"])
        #expect(download.status == "200")
        let savedSize = try FileManager.default.attributesOfItem(atPath: saved)[.size] as? Int
        #expect((savedSize ?? 0) > 0)

        // No -o tls.keylog_file: the secrets come from the capture itself.
        let http = try Shell.run(["tshark", "-r", saved, "-Y", "http",
                                  "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri",
                                  "-e", "http.response.code"])
        let rows = http.output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(rows.contains { $0.count >= 2 && $0[0] == "GET" && $0[1] == "/healthz" }, "\(http.output)")
        #expect(rows.contains { $0.count >= 3 && $0[2] == "200" }, "\(http.output)")

        let list = try web.request(["\(Self.baseURL)/api/captures"])
        #expect(list.status == "200")
        let entries = try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [[String: Any]] ?? []
        let entry = try #require(entries.first { ($0["name"] as? String) == "first" }, "\(list.body)")
        #expect(entry["running"] as? Bool == false)
        #expect((entry["sizeBytes"] as? NSNumber)?.intValue == savedSize)

        // The files may hold TLS secrets: owner only.
        #expect(try Self.mode(web.capturesDirectory) == 0o700)
        #expect(try Self.mode(web.capturesDirectory + "/first.pcapng") == 0o600)
    }

    @Test func captureNamesRejected() throws {
        let web = try Self.start(tag: "capname")
        defer { web.lab.tearDown() }

        let started = try web.post("/api/captures", json: "{\"name\":\"dup\"}")
        #expect(started.status == "201", "\(started.body)")
        let runningDuplicate = try web.post("/api/captures", json: "{\"name\":\"dup\"}")
        #expect(runningDuplicate.status == "409", "\(runningDuplicate.body)")
        let stopped = try web.post("/api/captures/dup/stop")
        #expect(stopped.status == "200", "\(stopped.body)")
        let storedDuplicate = try web.post("/api/captures", json: "{\"name\":\"dup\"}")
        #expect(storedDuplicate.status == "409", "\(storedDuplicate.body)")
        let stoppedAgain = try web.post("/api/captures/dup/stop")
        #expect(stoppedAgain.status == "409", "\(stoppedAgain.body)")
        let unknown = try web.request(["--output", "/dev/null", "\(Self.baseURL)/api/captures/unknown"])
        #expect(unknown.status == "404")

        for name in ["../evil", "..", "a/b", ".hidden", "../../admin-token"] {
            let start = try web.post("/api/captures", json: "{\"name\":\"\(name)\"}")
            #expect(start.status == "400", "start \(name): \(start.body)")
        }
        for path in ["/api/captures/..%2Fadmin-token", "/api/captures/../admin-token",
                     "/api/captures/..%2F..%2Fadmin-token/stop", "/api/captures/%2e%2e"] {
            let response = try web.request(["--path-as-is", "--request", path.hasSuffix("/stop") ? "POST" : "GET",
                                            "\(Self.baseURL)\(path)"])
            #expect(["400", "404"].contains(response.status), "\(path): \(response.status)")
            #expect(!response.body.contains(web.token), "\(path) returned the admin token")
        }

        // Only the one valid capture reached the filesystem.
        let stored = try FileManager.default.contentsOfDirectory(atPath: web.capturesDirectory)
        #expect(stored == ["dup.pcapng"])
        let state = try FileManager.default.contentsOfDirectory(atPath: web.stateDirectory)
        #expect(!state.contains { $0.contains("evil") })
        let parent = try FileManager.default.contentsOfDirectory(atPath: web.directory.path)
        #expect(!parent.contains { $0.contains("evil") })
    }

    @Test func captureBoundsRejectNewCaptures() throws {
        let web = try Self.start(tag: "capbound")
        defer { web.lab.tearDown() }
        let files = FileManager.default

        // At most four captures run at once.
        for name in ["a", "b", "c", "d"] {
            let started = try web.post("/api/captures", json: "{\"name\":\"\(name)\"}")
            #expect(started.status == "201", "\(name): \(started.body)")
        }
        let fifth = try web.post("/api/captures", json: "{\"name\":\"e\"}")
        #expect(fifth.status == "409", "\(fifth.body)")
        #expect(fifth.body.contains("captures are running"), "\(fifth.body)")
        #expect(!files.fileExists(atPath: web.capturesDirectory + "/e.pcapng"))
        for name in ["a", "b", "c", "d"] {
            let stopped = try web.post("/api/captures/\(name)/stop")
            #expect(stopped.status == "200", "\(name): \(stopped.body)")
        }

        // At most 32 stored files: 4 recorded and 28 left by an earlier run.
        for index in 0..<28 {
            #expect(files.createFile(atPath: web.capturesDirectory + "/old-\(index).pcapng", contents: Data()))
        }
        let full = try web.post("/api/captures", json: "{\"name\":\"e\"}")
        #expect(full.status == "409", "\(full.body)")
        #expect(full.body.contains("32 captures are stored"), "\(full.body)")

        // At most 512 MiB in all, counting 64 MiB for the new capture: a
        // sparse 449 MiB file leaves too little room.
        try files.removeItem(atPath: web.capturesDirectory + "/old-0.pcapng")
        let big = web.capturesDirectory + "/old-1.pcapng"
        try Shell.run(["truncate", "--size", "\(449 * 1024 * 1024)", big])
        let tooBig = try web.post("/api/captures", json: "{\"name\":\"e\"}")
        #expect(tooBig.status == "409", "\(tooBig.body)")
        #expect(tooBig.body.contains("delete old captures"), "\(tooBig.body)")
        #expect(!files.fileExists(atPath: web.capturesDirectory + "/e.pcapng"))

        // Nothing was deleted to make room. With 1 MiB of room beside the four
        // small recordings, it starts.
        #expect(try files.contentsOfDirectory(atPath: web.capturesDirectory).count == 31)
        try Shell.run(["truncate", "--size", "\(447 * 1024 * 1024)", big])
        let fits = try web.post("/api/captures", json: "{\"name\":\"e\"}")
        #expect(fits.status == "201", "\(fits.body)")
        let list = try web.request(["\(Self.baseURL)/api/captures"])
        let entries = try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [[String: Any]] ?? []
        #expect(entries.count == 32)
        #expect(entries.contains { ($0["name"] as? String) == "old-1" && ($0["sizeBytes"] as? NSNumber)?.int64Value
            == Int64(447 * 1024 * 1024) })
    }
}
