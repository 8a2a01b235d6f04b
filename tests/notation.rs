//! The translation table of NOTATION.md §3 (tutorial §2–3): every classic form and its
//! bracket form parse and evaluate equal, exactly, on random tensors. Eq. 8 and 9, and
//! the two associativity forms of §2.4 that must differ.

mod common;
use common::same_value;

const SEEDS: [u64; 3] = [1, 2, 3];

fn equal(decls: &str, classic: &str, bracket: &str) {
    let src = format!("{decls}; {classic}; {bracket}");
    assert!(same_value(&src, &SEEDS), "`{classic}` and `{bracket}` differ");
}

fn differ(decls: &str, a: &str, b: &str) {
    let src = format!("{decls}; {a}; {b}");
    assert!(!same_value(&src, &SEEDS), "`{a}` and `{b}` should differ");
}

#[test]
fn matrix_product() {
    equal("", "AB", "A_1 [Ā_2 B_1] B_2");
    equal("", "A B", "A_1 [~A_2 B_1] B_2");
    equal("", "A*B", "A_1[B_1 Ā_2]B_2");
}

#[test]
fn transpose() {
    equal("A: matrix", "Aᵀ", "A_2 A_1");
    equal("", "A^T", "A_{21}");
    equal("", "(A)_{21}", "A^T");
}

#[test]
fn hadamard_and_dot() {
    equal("", "A ⊙ B", "[A B]");
    equal("", "A .* B", "[B A]");
    equal("", "A · B", "[Ā B]");
    equal("", "dot(A, B)", "[A ~B]");
    // Every precomposed macron letter is a bar, G's too (eq. 48 writes Ḡ).
    equal("G, W: matrix(n, n)", "[Ḡ W]", "G · W");
    equal("G, W: matrix(n, n)", "[G\u{304} W]", "[Ḡ W]");
}

#[test]
fn tensor_product() {
    equal("", "u ⊗ v ⊗ w", "u v w");
    equal("", "kron(u, v)", "u vᵀ");
    equal("", "kron(kron(u, v), w)", "u ⊗ (v ⊗ w)");
}

#[test]
fn generalized_products_eq_8_and_9() {
    let d = "A, B: tensor(n, n, n)";
    equal(d, "A^{12} ⊙^{32} B", "[A_1 B_3][A_2 B_2] A_3 B_1");
    equal(d, "B^{32} ⊙^{12} A", "B_1 [B_2 A_2][B_3 A_1] A_3");
    equal(d, "A^{12} ⊙^{32} B", "einsum(\"ijk,lji->ijkl\", A, B)");
    equal(d, "B^{32} ⊙^{12} A", "einsum(\"lji,ijk->ljik\", B, A)");
    differ(d, "A^{12} ⊙^{32} B", "(B^{32} ⊙^{12} A)_{1234}");
    equal(d, "A^{12} ⊙^{32} B", "(B^{32} ⊙^{12} A)_{3241}");
}

#[test]
fn associativity_section_2_4() {
    // (A^1·^1B)^1·^1C and A^1·^1(B^1·^1C): different in general.
    equal("", "(A^{1} ·^{1} B)^{1} ·^{1} C", "[Ā_1 B_1][Ā_2 C_1] B_2 C_2");
    equal("", "A^{1} ·^{1} (B^{1} ·^{1} C)", "[B̄_1 C_1][Ā_1 B_2] A_2 C_2");
    differ("", "(A^{1} ·^{1} B)^{1} ·^{1} C", "A^{1} ·^{1} (B^{1} ·^{1} C)");
    differ("", "[Ā_1 B_1][Ā_2 C_1] B_2 C_2", "[B̄_1 C_1][Ā_1 B_2] A_2 C_2");
}

#[test]
fn ones_and_iota() {
    equal("", "(1ᵀu)v", "[1̄ u] v");
    equal("", "(1ᵀu)v", "v [u 1̄]");
    equal("", "(1ᵀu)v", "v uᵀ 1");
    equal("", "(1ᵀu)vᵀ", "[1̄ u] ι v");
    equal("", "(1^T u) v^T", "[~1 u] iota v");
    equal("", "1ᵀ u vᵀ", "[1̄ u] ι v");
}

#[test]
fn taking_out_dx() {
    equal("", "aᵀ dX b", "[a dX̄_1][dX̄_2 b]");
    equal("", "aᵀ dX b", "(a bᵀ) · dX");
    equal("", "aᵀ dX b", "a ⊗ b · dX");
}

#[test]
fn shortcuts_and_generalized_forms() {
    let d = "T: tensor(n, n, n)";
    equal("", "A B", "A ·_1 B");
    equal("", "A B", "A^{2} ·^{1} B");
    equal("", "A B", "A^{2̄} ⊙^{1} B");
    equal("", "A · B", "A ·_2 B");
    equal("", "xᵀ y", "x ·_1 y");
    equal(d, "T ·_> A", "T ·_2 A");
    equal(d, "A ·_< T", "A ·_2 T");
    equal(d, "T ⊙_1 x", "T^{3} ⊙^{1} x");
    equal(d, "T ⊙_2 A", "T_1 [T_2 A_1][T_3 A_2]");
}

#[test]
fn bars_move_freely_and_occurrences() {
    let d = "X, C: tensor(n, n, n)";
    equal("A, B, C: matrix(n, n)", "[A B C]", "[C A B]");
    equal("A: tensor(n, n, n)", "A_1 Ā_2 A_3", "Ā_2 A_1 A_3");
    equal("A: tensor(n, n, n)", "A_1 Ā_2 A_3", "A_1 A_3 Ā_2");
    equal("A, B, C: matrix(n, n); X, Y: matrix(n, n)", "X [Ā B C] Y", "[Ā B C] X Y");
    // The three occurrences of X in the paper's §3 example.
    let b = "A_1 X [X_2 A_2] X_3 [X_1 C_2] C_1 D X_{23} [X̄_1 C_3]";
    let tagged = "A_1 X@1 [X@2_2 A_2] X@2_3 [X@2_1 C_2] C_1 D X@3_{23} [X̄@3_1 C_3]";
    let src = format!("{d}; {b}; {tagged}");
    assert!(common::same_value_sized(&src, &SEEDS, 2));
    let wrong = "A_1 X@1 [X@2_2 A_2] X@3_3 [X@2_1 C_2] C_1 D X@3_{12} [X̄@2_3 C_3]";
    let src = format!("{d}; {b}; {wrong}");
    assert!(!common::same_value_sized(&src, &SEEDS, 2));
}

#[test]
fn fused_subscripts() {
    equal("A: tensor(n, n, n)", "A_{1[23]}", "einsum(\"ikk->ik\", A)");
    equal("A: tensor(n, n, n)", "A_{1̄[23]}", "einsum(\"ikk->k\", A)");
    equal("", "tr(M)", "[M̄_1 M_2]");
    equal("", "tr M", "M · I");
    equal("", "tr(M)", "M_{[~12]}");
}

#[test]
fn embedded_classic_notation() {
    equal("", "(X^-1)ᵀ", "{X^-1}_{21}");
    equal("", "s ⊙ (y ⊘ s)", "[s {y ⊘ s}]");
    equal("", "-X^-1 dX X^-1", "-{X⁻¹}_1[{X⁻¹}_2 dX̄_1][dX̄_2 {X⁻¹}_1]{X⁻¹}_2");
}

/// Frobenius products and sums of entries print as the tutorial's `A · B` and `sum(A)`,
/// not as traces or ones-products, and the printed form evaluates to the term.
#[test]
fn frobenius_products_and_sums_print_classic() {
    let cases = [
        ("A, B: matrix(n, m)", "[Ā B]", "A · B"),
        ("A, B: matrix(n, m)", "tr(A B^T)", "A · B"),
        ("A, B: matrix(n, m)", "tr(A^T B)", "A · B"),
        ("A: matrix(n, m)", "[Ā]", "sum(A)"),
        ("A: matrix(n, m)", "1^T A 1", "sum(A)"),
        ("G: matrix(n, p); B, D: matrix(n, m); W: matrix(m, p)", "tr(G^T (B .* D) W)", "G · (B ⊙ D)W"),
        // Of vectors, the classic inner product.
        ("x, y: vector(n)", "tr(x y^T)", "xᵀy"),
    ];
    let simplest = |src: &str| {
        let m = bracket::read(src).unwrap();
        let e = bracket::simplify_expr(m.main_expr().unwrap(), &m, &Default::default()).0;
        bracket::render(&e, bracket::Format::Unicode)
    };
    for (decls, term, printed) in cases {
        assert_eq!(simplest(&format!("{decls}; {term}")), printed, "{term}");
        equal(decls, term, printed);
    }
    // A scalar is not summed: 1ᵀc1 is n·c.
    let out = simplest("c: scalar; u: vector(n); 1^T (c u)");
    assert!(!out.contains("sum(c"), "{out}");
}

/// Unicode subscript digits read as portions, as the tutorial prints them.
#[test]
fn unicode_subscript_digits() {
    equal("A: matrix", "A₂ A₁", "Aᵀ");
    equal("", "A₁ [Ā₂ B₁] B₂", "A B");
    equal("T: tensor(n, n, n)", "T₁[T̄₂ T₃]", "T_1[T̄_2 T_3]");
}

/// A literal `1` beside `·_k` is a ones tensor with the dims it pairs (eq. 10).
#[test]
fn ones_beside_a_contraction() {
    equal("u, v: vector(n)", "1 ·_1 (u v^T)", "(u^T 1) v");
    equal("T: tensor(n, n, n)", "T ·_1 1", "einsum(\"ijk->ij\", T)");
    equal("u, v: vector(n)", "(u v^T) ·_2 1", "(u^T 1) (v^T 1)");
    equal("A: matrix(n, m)", "1 ·_> A", "sum(A)");
    // `1_{12}` is a ones tensor of two dims, and each portion of it a ones vector.
    equal("A: matrix(n, m)", "[A 1_{12}]", "A");
    equal("A: matrix(n, m)", "[~A 1_{12}]", "sum(A)");
    equal("A: matrix(n, n)", "A_1 [~A_2 1_1]", "A 1");
    equal("T: tensor(n, n, n)", "[T_1 1_1][~T_2 1_2] T_3", "einsum(\"ijk->ik\", T)");
    equal("u, v: vector(n)", "1_{12} ·_2 (u v^T)", "(1^T u) (1^T v)");
    // A scalar that is not the literal 1 still has no dims, and the error says so.
    let e = bracket::read("c: scalar; A: matrix; c ·_1 A").unwrap_err();
    assert!(e.hint.as_deref().is_some_and(|h| h.contains("a scalar has no dims")), "{e:?}");
}

/// A barred bracket nested in a member of a square bracket is closed: it adds no dim to
/// the member (NOTATION.md §2.3, `X[A B (C_1 [C̄_2 D_1] D_2)]Y = [C̄_2 D_1] X [A B (C_1 D_2)] Y`).
#[test]
fn nested_barred_brackets() {
    equal("a, d: vector(n); C: matrix(n, n)", "[a (C_1 [~C_2 d])]", "a ⊙ C d");
    equal("A, B, C: matrix(n, n)", "[A (B_1 [~B_2 C_1] C_2)]", "A ⊙ B C");
    let d = "X, Y, A, B, C, D: matrix(n, n)";
    equal(d, "X[A B (C_1 [C̄_2 D_1] D_2)]Y", "[C̄_2 D_1] X [A B (C_1 D_2)] Y");
    equal(d, "X[A B (C_1 [C̄_2 D_1] D_2)]Y", "X ⊗ (A ⊙ B ⊙ C D) ⊗ Y");
}

/// `bracket simplify`'s first output line.
fn simplified(text: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bracket"))
        .args(["simplify", text])
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{text}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").to_string()
}

/// A chain too long for the e-graph to rebracket in full prints without parentheses, and
/// a zero tensor prints as `0`, not as zero times a term.
#[test]
fn long_chains_and_zeros_print_plainly() {
    for n in [8, 10, 11, 14] {
        let chain: Vec<String> = (1..=n).map(|k| format!("A{k}")).collect();
        assert_eq!(simplified(&chain.join(" ")), chain.join(""), "a chain of {n}");
    }
    assert_eq!(simplified("A: matrix; A - A"), "0");
    assert_eq!(simplified("T: tensor(a, b, c); [T] - T"), "0");
    // A diagonal of a zero is a zero, not `diag(0)` (which reads back as no vector).
    assert_eq!(simplified("x, y: vector(n); diag(x) diag(y) - diag(x .* y)"), "0");
    // A trace and the Frobenius product it is meet.
    assert_eq!(simplified("A: matrix(m, n); B: matrix(n, m); tr(A B) - dot(A^T, B)"), "0");
    // A vector's sum is 1ᵀx, and the trace of its diagonal matrix that sum.
    assert_eq!(simplified("x: vector(n); sum(x) - 1^T x"), "0");
    assert_eq!(simplified("x: vector(n); tr(diag(x)) - 1^T x"), "0");
    assert_eq!(simplified("a, b: vector(n); sum(a .* b)"), "aᵀb");
    // A scalar's scaling is not a matrix product and is not regrouped: `1_n(1ᵀx)` stays.
    assert_eq!(simplified("x: vector(n); 1_n 1_n^T x"), "1_n(1ᵀx)");
}

/// A repeated name without `@` tags starts a new occurrence; where that leaves one
/// unfinished, the hint says how to tag them.
#[test]
fn a_repeated_factor_gets_a_hint_to_tag_it() {
    let e = bracket::read("X: matrix; X_1 X_1 X_2 X_2").unwrap_err();
    assert!(e.hint.as_deref().is_some_and(|h| h.contains("X@1_1 X@2_1")), "{e:?}");
    equal("X: matrix(n, n)", "X@1_1 X@2_1 X@1_2 X@2_2", "(X ⊗ X)_{1324}");
}

/// A Hadamard power of a transposed or inverted matrix puts it in parentheses,
/// `(Cᵀ)^{⊙2}`, not `Cᵀ^{⊙2}` (survey 12, a layer norm's Hessian), and reads back.
#[test]
fn a_hadamard_power_of_a_transpose_is_in_parentheses() {
    assert_eq!(simplified("C: matrix(n, m); (C^T).^2"), "(Cᵀ)^{⊙2}");
    assert_eq!(simplified("C: matrix(n, n); (C^-1).^3"), "(C⁻¹)^{⊙3}");
    equal("C: matrix(n, m)", "(Cᵀ)^{⊙2}", "C^T .* C^T");
}

#[test]
fn a_barred_word_reads_back_as_the_word() {
    // The bar went on a word's first letter, `[x̄ Wk_1][W̄k_2 y]`, which reads as W̄ times
    // k (survey 24); on its last, `Wk̄_2`, it reads back as Wk barred.
    let decls = "Wk: matrix(p, d); x: vector(p); y: vector(d)";
    let text = format!("{decls}; x^T Wk y");
    let printed = bracket::simplify(&text).unwrap().render(bracket::Format::Bracket);
    assert_eq!(printed, "[x̄ Wk_1][Wk̄_2 y]");
    equal(decls, "x^T Wk y", &printed);
}

#[test]
fn a_ones_operand_of_a_tensor_product_keeps_its_size() {
    // A softmax's differential holds `{…}_1 {…}̄_2 ⊗ 1`, where a lone `1` reads back as
    // the number (survey 24: 16 derivations' first steps did not read back). It prints
    // `1_c`, and the ASCII form reads back with the same value.
    let decls = "X: matrix(N, d); W: matrix(d, c); Y: matrix(N, c)";
    let text = format!("{decls}; -sum(Y .* logsoftmax(X W))");
    let (out, _) =
        common::run_with_stdin(&["d", "--raw", &text, "--format", "ascii"], "", std::time::Duration::from_secs(60));
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(printed.contains(", 1_c)"), "{printed}");
    let model = bracket::read(&format!("{decls}; {printed}")).unwrap_or_else(|e| panic!("{printed}: {e}"));
    assert_eq!(model.exprs[0].shape, Vec::<bracket::Dim>::new(), "{printed}");
}
