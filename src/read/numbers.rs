//! Numbers as written: `3`, `-3`, `0.25`, `1/2`, `1e-3`, `2.5E4`, `½`, and superscript
//! digits such as `⁻²`, read exactly.

use crate::error::{Error, ErrorCode, Result, Span};
use crate::limits;
use num_bigint::BigInt;
use num_rational::BigRational;

/// The value of superscript digits such as `⁻²`.
pub fn superscript_value(text: &str) -> BigRational {
    let mut negative = false;
    let mut value = BigInt::from(0);
    for c in text.chars() {
        let digit = match c {
            '⁻' => {
                negative = true;
                continue;
            }
            '⁰' => 0,
            '¹' => 1,
            '²' => 2,
            '³' => 3,
            '⁴' => 4,
            '⁵' => 5,
            '⁶' => 6,
            '⁷' => 7,
            '⁸' => 8,
            _ => 9,
        };
        value = value * 10 + digit;
    }
    if negative {
        value = -value;
    }
    BigRational::from_integer(value)
}

/// Reads `3`, `-3`, `0.25`, `1/2`, `1e-3`, `2.5E4` exactly.
pub fn read_number(text: &str, span: Span) -> Result<BigRational> {
    // A fraction as one character: `½` is 1/2.
    const FRACTIONS: [(char, &str); 15] = [
        ('½', "1/2"),
        ('⅓', "1/3"),
        ('⅔', "2/3"),
        ('¼', "1/4"),
        ('¾', "3/4"),
        ('⅕', "1/5"),
        ('⅖', "2/5"),
        ('⅗', "3/5"),
        ('⅘', "4/5"),
        ('⅙', "1/6"),
        ('⅚', "5/6"),
        ('⅛', "1/8"),
        ('⅜', "3/8"),
        ('⅝', "5/8"),
        ('⅞', "7/8"),
    ];
    if let Some((_, f)) = FRACTIONS.iter().find(|(c, _)| text.chars().eq([*c])) {
        return read_number(f, span);
    }
    let text = text.replace('−', "-");
    if let Some((mantissa, power)) = text.split_once(['e', 'E']) {
        let bad = || Error::new(ErrorCode::Syntax, format!("`{text}` is not a number"), span);
        let power: i64 = power.parse().map_err(|_| bad())?;
        if power.unsigned_abs() > limits::MAX_EXPONENT {
            return Err(Error::new(ErrorCode::Limit, format!("the exponent of `{text}` is too large"), span)
                .hint(format!("exponents of numbers go up to ±{}", limits::MAX_EXPONENT)));
        }
        let scale = BigRational::from_integer(num_traits::pow(BigInt::from(10), power.unsigned_abs() as usize));
        let m = read_number(mantissa, span)?;
        return Ok(if power < 0 { m / scale } else { m * scale });
    }
    let bad = || Error::new(ErrorCode::Syntax, format!("`{text}` is not a number"), span);
    if let Some((n, d)) = text.split_once('/') {
        let n: BigInt = n.trim().parse().map_err(|_| bad())?;
        let d: BigInt = d.trim().parse().map_err(|_| bad())?;
        if d == BigInt::from(0) {
            return Err(Error::new(ErrorCode::Syntax, "division by zero in an exponent", span));
        }
        return Ok(BigRational::new(n, d));
    }
    if let Some((whole, frac)) = text.split_once('.') {
        let digits: BigInt = format!("{whole}{frac}").parse().map_err(|_| bad())?;
        let scale = num_traits::pow(BigInt::from(10), frac.len());
        return Ok(BigRational::new(digits, scale));
    }
    let n: BigInt = text.trim().parse().map_err(|_| bad())?;
    Ok(BigRational::from_integer(n))
}
