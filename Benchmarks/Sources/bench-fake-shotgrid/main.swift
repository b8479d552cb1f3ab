// bench-fake-shotgrid: the tests' FakeShotGrid (no added latency) on a free loopback port, for
// scripts/bench's ShotGrid scenarios; runs until killed or until its parent process is gone.
//   bench-fake-shotgrid --port-file F --password-file P [--users N]
// Users bench-sg-0 … bench-sg-(N-1) (default 16), all active, all with the password in P.
import AuthGateTesting
import Foundation

var portFile = ""
var passwordFile = ""
var userCount = 16
let arguments = CommandLine.arguments
var index = 1
while index + 1 < arguments.count {
    switch arguments[index] {
    case "--port-file": portFile = arguments[index + 1]
    case "--password-file": passwordFile = arguments[index + 1]
    case "--users": userCount = Int(arguments[index + 1]) ?? 0
    default: break
    }
    index += 2
}
guard !portFile.isEmpty, userCount > 0,
    let password = (try? String(contentsOfFile: passwordFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
    !password.isEmpty
else {
    FileHandle.standardError.write(Data("usage: bench-fake-shotgrid --port-file F --password-file P [--users N]\n".utf8))
    exit(2)
}

let users = (0..<userCount).map {
    FakeShotGrid.User(id: 1000 + $0, login: "bench-sg-\($0)", password: password, email: "bench-sg-\($0)@bench.example", name: "Bench ShotGrid \($0)")
}
let fake = FakeShotGrid(users: users)
try await fake.start()
// Written whole, then renamed: the reader never sees half a port number.
try String(fake.port).write(toFile: portFile + ".tmp", atomically: false, encoding: .utf8)
_ = rename(portFile + ".tmp", portFile)

// The script stops it; should the script die first, the reparenting ends it within a second.
let parent = getppid()
while getppid() == parent {
    try await Task.sleep(for: .milliseconds(500))
}
await fake.stop()
