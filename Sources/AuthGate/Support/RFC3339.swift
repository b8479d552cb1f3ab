// RFC3339: the contract's timestamps ("2026-11-30T10:36:58Z": UTC, whole seconds), formatted
// with gmtime_r instead of a Foundation formatter, which costs more than the rest of an answer.
public import Foundation

public enum RFC3339 {
    public static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [UInt8]()
        out.reserveCapacity(20)
        func digits(_ value: Int32, _ width: Int) {
            var value = Int(value)
            var chunk = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            for index in stride(from: width - 1, through: 0, by: -1) {
                chunk[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            out.append(contentsOf: chunk)
        }
        digits(parts.tm_year + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(parts.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2)
        out.append(UInt8(ascii: ":"))
        digits(parts.tm_min, 2)
        out.append(UInt8(ascii: ":"))
        digits(parts.tm_sec, 2)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}
