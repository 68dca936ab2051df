#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Exit statuses, as `--help` documents them.
enum ExitStatus {
    static let success: Int32 = 0
    static let noConnectionSucceeded: Int32 = 1
    static let usage: Int32 = 2
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("capnet-load: \(message)\n".utf8))
}

func runCommand(_ arguments: [String]) -> Int32 {
    let options: LoadOptions
    do {
        switch try LoadOptions.parse(arguments) {
        case .help:
            print(LoadOptions.helpText, terminator: "")
            return ExitStatus.success
        case .run(let parsed):
            options = parsed
        }
    } catch {
        printError(error.message)
        return ExitStatus.usage
    }

    let address: TargetAddress
    let client: OpenSSLClient
    do {
        address = try TargetAddress.resolve(host: options.target.host, port: options.target.port)
        try TargetPolicy.check(address, hostName: options.target.host, allowAnyTarget: options.allowAnyTarget)
        client = try OpenSSLClient(options: options)
    } catch {
        printError(error.message)
        return ExitStatus.usage
    }

    // Ctrl-C ends the run early; the report still covers what was done.
    signal(SIGINT) { _ in interruptRequested.store(true, ordering: .relaxed) }
    // A server that resets a connection must not end the process.
    signal(SIGPIPE, SIG_IGN)

    let statistics: LoadStatistics
    do {
        let showProgress = !options.json && isatty(STDOUT_FILENO) == 1
        statistics = try LoadRunner.run(options: options, address: address, client: client,
                                        showProgress: showProgress)
    } catch {
        printError("cannot start the run: \(error)")
        return ExitStatus.noConnectionSucceeded
    }

    let summary = LoadSummary(options: options, resolved: address, statistics: statistics)
    print(options.json ? summary.jsonText() : summary.text())
    // Flush before exit's handlers run, so the report survives a failure in them.
    fflush(stdout)
    let succeeded = statistics.handshakes > 0
    return succeeded ? ExitStatus.success : ExitStatus.noConnectionSucceeded
}

exit(runCommand(Array(CommandLine.arguments.dropFirst())))
