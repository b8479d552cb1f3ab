// BSONDecimal128: the canonical string of a BSON decimal128 (IEEE 754-2008 BID), the form the
// BSON spec's "to string" algorithm gives; authgate never writes decimals, but may read them.
enum BSONDecimal128 {
    private static let maximumCoefficient: UInt128 = 9_999_999_999_999_999_999_999_999_999_999_999  // 10^34 - 1
    private static let exponentBias = 6176

    static func string(low: UInt64, high: UInt64) -> String {
        let sign = high >> 63 == 1 ? "-" : ""
        let combination = (high >> 58) & 0x1F
        if combination == 0x1F { return "NaN" }
        if combination == 0x1E { return sign + "Infinity" }
        var exponent: Int
        var coefficient: UInt128
        if (high >> 61) & 0b11 == 0b11 {
            // The implied 0b100 prefix puts the coefficient above 10^34 - 1: non-canonical, read as 0.
            exponent = Int((high >> 47) & 0x3FFF)
            coefficient = 0
        } else {
            exponent = Int((high >> 49) & 0x3FFF)
            coefficient = UInt128(high & 0x1_FFFF_FFFF_FFFF) << 64 | UInt128(low)
            if coefficient > maximumCoefficient { coefficient = 0 }
        }
        exponent -= exponentBias
        let digits = String(coefficient)
        let adjusted = exponent + digits.count - 1
        if exponent > 0 || adjusted < -6 {
            let mantissa = digits.count > 1 ? "\(digits.prefix(1)).\(digits.dropFirst())" : digits
            return sign + mantissa + "E" + (adjusted >= 0 ? "+" : "") + String(adjusted)
        }
        if exponent == 0 { return sign + digits }
        let integerDigits = digits.count + exponent  // exponent < 0 here
        if integerDigits > 0 { return sign + "\(digits.prefix(integerDigits)).\(digits.dropFirst(integerDigits))" }
        return sign + "0." + String(repeating: "0", count: -integerDigits) + digits
    }
}
