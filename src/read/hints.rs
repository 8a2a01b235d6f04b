//! Hints for syntax errors that name what a user of another notation meant: a LaTeX
//! command pasted in, a keyword argument, `e^x`.

/// True where `before` ends in `, word` inside an open parenthesis: a keyword argument
/// (`logsumexp(X W, axis=1)`) comes next.
pub(crate) fn keyword_argument(before: &str) -> bool {
    let trimmed = before.trim_end();
    let word = trimmed.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_');
    word.len() < trimmed.len() && word.trim_end().ends_with(',') && unclosed_paren(word)
}

fn unclosed_paren(text: &str) -> bool {
    text.chars().fold(0i32, |depth, c| match c {
        '(' => depth + 1,
        ')' => depth - 1,
        _ => depth,
    }) > 0
}

/// True where the statement `before` ends in holds three bars or more: inside `|…|` the
/// next bar closes it, so a determinant nested in one needs its own brackets.
pub(crate) fn nested_bars(before: &str) -> bool {
    let statement = before.rsplit([';', '\n']).next().unwrap_or(before);
    statement.matches('|').count() >= 3
}

/// What to write for a LaTeX command (the text after its `\`): only `\cdot`, `\odot`,
/// `\oslash`, `\otimes` and `\circ` are read.
pub(crate) fn latex_hint(after: &str) -> &'static str {
    let command: String = after.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    match command.as_str() {
        // `\n` as two characters, as in a JSON string pasted whole (`x: vector(n)\nJ = …`).
        c if c.starts_with('n') && !matches!(c, "nu" | "nabla" | "neq" | "ne" | "not" | "newline") => {
            "a `\\n` written as two characters (as in a JSON string) is not a line break: break the \
             line, or put `;` between statements"
        }
        "" if after.starts_with('|') => "LaTeX is not read here: write a norm as `||x||` (ASCII) or `‖x‖`",
        "frac" | "tfrac" | "dfrac" => {
            "LaTeX is not read here: write `\\frac{a}{b}` as `(a)/(b)`, e.g. `1/2 ||X w - y||^2`"
        }
        "left" | "right" | "big" | "Big" | "bigl" | "bigr" => {
            "LaTeX is not read here: drop `\\left` and `\\right`, and write the brackets alone"
        }
        "top" | "intercal" | "mathsf" => "LaTeX is not read here: write a transpose as `X^T` or `Xᵀ`",
        "mathbf" | "boldsymbol" | "bm" | "mathrm" | "operatorname" | "text" => {
            "LaTeX is not read here: write the name alone (`\\mathbf{x}` is `x`, `\\operatorname{tr}(A)` is `tr(A)`)"
        }
        "sum" => "LaTeX is not read here: write a sum of entries as `sum(x)` or `1^T x`",
        "sqrt" => "LaTeX is not read here: write `\\sqrt{x}` as `sqrt(x)`",
        "log" | "ln" | "exp" | "det" | "tr" | "tanh" | "sin" | "cos" => {
            "LaTeX is not read here: write the function without the backslash, with parentheses: `ln(x)`, `det(X)`"
        }
        "alpha" | "beta" | "gamma" | "delta" | "epsilon" | "varepsilon" | "zeta" | "eta" | "theta" | "kappa"
        | "lambda" | "mu" | "nu" | "xi" | "pi" | "rho" | "sigma" | "tau" | "phi" | "varphi" | "chi" | "psi"
        | "omega" | "Sigma" | "Lambda" | "Omega" | "Gamma" | "Delta" | "Phi" | "Psi" | "Theta" => {
            "LaTeX is not read here: write a Greek letter without the backslash (`lambda`) or as itself (`λ`)"
        }
        _ => {
            "LaTeX is not read here, except `\\cdot`, `\\odot`, `\\oslash`, `\\otimes` and `\\circ`; \
             docs/syntax.md gives the notation"
        }
    }
}

/// True where `before` ends in `e^` (perhaps with `(` or `{` after it), `e` standing alone.
pub(crate) fn euler_power(before: &str) -> bool {
    let base = before.trim_end().trim_end_matches(['(', '{']).trim_end();
    base.strip_suffix("e^").is_some_and(|rest| !rest.ends_with(|c: char| c.is_alphanumeric()))
}

/// True where `before` ends in `.word(` (a NumPy or PyTorch method call, `x.sum()`).
pub(crate) fn method_call(before: &str) -> bool {
    let Some(open) = before.trim_end().strip_suffix('(') else { return false };
    let word = open.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    word.len() < open.len() && word.ends_with('.')
}

/// True where the last `opening` (`max(`, `[`) in `before` is still open.
pub(crate) fn inside_call(before: &str, opening: &str) -> bool {
    before.rfind(opening).is_some_and(|k| {
        before[k + opening.len()..].chars().fold(1i32, |depth, c| match c {
            '(' | '[' => depth + 1,
            ')' | ']' => depth - 1,
            _ => depth,
        }) > 0
    })
}

/// The one of `known` nearest `name` by edit distance, where it is a likely typo of it:
/// one edit in a name of two to five letters, two in a longer one. A Greek letter is
/// compared, and given, by its ASCII word (`bta` is near `beta`, which β is read from).
pub(crate) fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (name.chars().count() / 2).min(2);
    let ascii = |k: &str| {
        k.chars()
            .map(|c| crate::read::parse::greek_word(c).map_or_else(|| c.to_string(), str::to_string))
            .collect::<String>()
    };
    known
        .map(ascii)
        .filter(|k| k != name)
        .map(|k| (strsim::levenshtein(name, &k), k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

/// What to write for a symbol of the tutorial's prose or of papers that the input does
/// not read (`found`, after `before`): the inner-product brackets, ∇ and ∂, set
/// membership, an indexed sum.
pub(crate) fn symbol_hint(found: Option<char>, before: &str) -> Option<&'static str> {
    Some(match found? {
        '⟨' | '⟩' => "an inner product ⟨A, B⟩ is `A · B` (or `dot(A, B)`); of vectors, `x^T y`",
        '∇' | '∂' => {
            "write the function alone and name the variable: `bracket grad 'x^T A x' --wrt x`, or in a \
             program `grad J wrt x`"
        }
        '∈' => "a name's kind is declared with a colon: `x: vector(n)`, `A: matrix(n, m)`, `s: scalar`",
        '_' if before.trim_end().ends_with(['∑', 'Σ']) => {
            "an indexed sum is not read: `sum(x)` sums every entry, `X 1` the rows, `1^T X` the columns, \
             or write the indices as einsum(\"ij->i\", X)"
        }
        _ => return None,
    })
}

/// A subscript of several letters written without braces (`W_out`, `tanh_prime`): the
/// first one in `text`, with how it is read and how to write it. Quoted text (einsum's
/// indices) and braced subscripts are skipped.
pub(crate) fn long_subscript(text: &str) -> Option<String> {
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '_' if !quoted => {
                let before = &text[..at];
                let start = before.trim_end_matches(char::is_alphanumeric).len();
                let after = &text[at + 1..];
                let sub: String = after.chars().take_while(char::is_ascii_alphanumeric).collect();
                if start == at || sub.chars().count() < 2 || sub.chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                let head = sub.chars().take_while(char::is_ascii_digit).count().max(1);
                let name = &before[start..];
                // `log_sigmoid`: a function's name, read whole.
                if crate::ir::ast::Builtin::from_name(&format!("{name}_{sub}")).is_some() {
                    continue;
                }
                // `Σ_ij x_ij`: an indexed sum, not a name.
                if matches!(name, "Σ" | "∑") {
                    return symbol_hint(Some('_'), name).map(str::to_string);
                }
                return Some(format!(
                    "`{name}_{sub}` is read as `{name}_{}` followed by `{}`: a subscript of more than one \
                     letter takes braces, `{name}_{{{sub}}}`",
                    &sub[..head],
                    &sub[head..]
                ));
            }
            _ => {}
        }
    }
    None
}

/// The last bracket of the statement holding `at` (between `;` or line ends) that is
/// opened before `at` and never closed in the statement, if there is one.
pub(crate) fn unclosed_bracket(text: &str, at: usize) -> Option<usize> {
    let at = at.min(text.len());
    let start = text[..at].rfind([';', '\n']).map_or(0, |k| k + 1);
    let end = text[at..].find([';', '\n']).map_or(text.len(), |k| at + k);
    let mut open: Vec<(usize, char)> = Vec::new();
    for (k, c) in text[start..end].char_indices() {
        match c {
            '(' | '[' | '{' => open.push((start + k, c)),
            ')' | ']' | '}' => {
                let partner = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                // A closing bracket of another kind: the text is not simply unclosed.
                if open.pop().map(|(_, o)| o) != Some(partner) {
                    return None;
                }
            }
            _ => {}
        }
    }
    open.last().map(|&(k, _)| k).filter(|&k| k < at)
}

/// The last bracket opened on an earlier line than `at` that is still open at `at` and
/// never closed: inside brackets a line break does not end the statement, so `H = tanh(X W`
/// fails on a later line (`J = …`), where the `=` is not the mistake. A bracket closed
/// after `at` (`sum(⏎ x + )`) leaves the mistake at `at`. Comments and quoted text are
/// skipped.
pub(crate) fn open_across_lines(text: &str, at: usize) -> Option<usize> {
    let at = at.min(text.len());
    let mut open: Vec<usize> = Vec::new();
    // The innermost bracket open at `at`.
    let mut innermost: Option<Option<usize>> = None;
    let (mut quoted, mut comment) = (false, false);
    for (k, c) in text.char_indices() {
        if k >= at && innermost.is_none() {
            innermost = Some(open.last().copied());
        }
        match c {
            '\n' => comment = false,
            _ if comment => {}
            '#' if !quoted => comment = true,
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => open.push(k),
            // (A closing bracket with no partner before `at`: the text is not simply unclosed.)
            ')' | ']' | '}' if !quoted => {
                if open.pop().is_none() && k < at {
                    return None;
                }
            }
            _ => {}
        }
    }
    let k = innermost.unwrap_or(open.last().copied())?;
    // Still open at the end, so never closed; on an earlier line than `at`.
    (open.contains(&k) && text[k..at].contains('\n')).then_some(k)
}

/// The hint for `name(…)` where `name` is no function: the functions there are, or how
/// to write what a function of that name computes elsewhere (a reduction such as `max`
/// is no element-wise function, and declaring it one would change what it means).
pub(crate) fn unknown_function(name: &str) -> String {
    use crate::ir::ast::Builtin;
    const KNOWN: &str = "tr (trace, Tr), det, logdet, ln (log), exp, tanh, sigmoid (σ), sqrt, sin, cos, abs, sign, \
                         relu, softmax, logsumexp, diag, sum, mean, dot, kron, inv, norm (norm2), eye, einsum, and \
                         written out: softplus, logsigmoid, logsoftmax, log1p, expm1, log10, log2, cosh, sinh";
    // Two functions run together (`logcosh`): their composition.
    let composed = (1..name.len()).filter(|&i| name.is_char_boundary(i)).find_map(|i| {
        let (outer, inner) = (Builtin::from_name(&name[..i])?, Builtin::from_name(&name[i..])?);
        Some((crate::read::elaborate::builtin_name(outer), crate::read::elaborate::builtin_name(inner)))
    });
    if let Some((outer, inner)) = composed {
        return format!(
            "`{name}` is no built-in function; for the composition write `{outer}({inner}(x))`, or declare a \
             function of your own: `{name}: elementwise; {name}(X)`"
        );
    }
    match name.to_lowercase().as_str() {
        "argmax" | "argmin" => {
            return format!("`{name}` gives an index, which no derivative is taken of; `softmax(x)` is its smooth form")
        }
        "var" | "std" | "variance" => {
            return format!(
                "`{name}` is not built in; write it out: the variance of x is `||x - mean(x) 1||^2 / n` \
                 (with x: vector(n)), its square root the standard deviation"
            )
        }
        "prod" | "product" => return format!("`{name}` is not built in; for positive entries it is `exp(sum(ln(x)))`"),
        "median" | "sort" | "argsort" | "quantile" => {
            return format!("`{name}` orders the entries, which no closed-form derivative here follows")
        }
        "max" | "min" | "amax" | "amin" | "maximum" | "minimum" => {
            return format!(
                "`{name}` over the entries has no derivative where two entries tie and is not read; a smooth \
                 maximum is `logsumexp(x)` (its gradient is softmax(x)), and `max(0, x)` entry by entry is `relu(x)`"
            )
        }
        _ => {}
    }
    if name.chars().count() == 1 {
        format!("to apply a function of your own, declare it first: `{name}: elementwise; {name}(X)`")
    } else {
        format!("the functions are {KNOWN}; for a function of your own, declare it: `{name}: elementwise; {name}(X)`")
    }
}
