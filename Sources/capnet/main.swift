import CapnetBase
import Foundation

#if canImport(Glibc)
import Glibc
#endif

let topLevelUsage = """
    Usage: capnet COMMAND [options]

    Commands:
      serve     Run the network stack on a device (see 'capnet serve --help').
      version   Print the version.

    """

/// Prints a user error to standard error and returns the exit status for it.
func reportUsageError(_ error: Error) -> Int32 {
    FileHandle.standardErrorWrite("capnet: \(error)\n")
    return 2
}

func runServeCommand(_ arguments: [String]) -> Int32 {
    if arguments.contains("--help") {
        print(ServeConfiguration.usage)
        print(OptionParser.helpText(specs: ServeConfiguration.specs))
        return 0
    }
    do {
        let configuration = try ServeConfiguration(parsing: arguments)
        return ServeRunner(configuration: configuration).run()
    } catch let error as UsageError {
        return reportUsageError(error)
    } catch {
        FileHandle.standardErrorWrite("capnet: \(error)\n")
        return 1
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
let command = arguments.isEmpty ? "help" : arguments.removeFirst()
let status: Int32
switch command {
case "serve":
    status = runServeCommand(arguments)
case "version", "--version":
    print("capnet \(capnetVersion)")
    status = 0
case "help", "--help", "-h":
    print(topLevelUsage, terminator: "")
    status = 0
default:
    status = reportUsageError(UsageError("unknown command '\(command)' (run 'capnet --help' for the list)"))
}
exit(status)
