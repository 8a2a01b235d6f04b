#[test]
fn smoke() {
    for s in [
        "x^T A x",
        "xᵀAx",
        "tr(AX⁻¹B)",
        "A_1 [~A_2 B_1] B_2",
        "[a dX̄_1][dX̄_2 b]",
        "N: scalar; 1/(2N) ||XW - Y||^2",
        "A^{12} ⊙^{32} B",
        "(I ⊗ x)_{132}",
        "s^1(A)",
        "f'(X) ⊙ dX",
        "11ᵀ − tanh²(A_t)",
        "einsum(\"ij,jk->ik\", A, B)",
        "Z_{L-1} W_1",
        "[X_1 ā]",
        "|X| X^-T",
        "ln|X|",
        "A ·_2 B",
        "A^{1~2} odot^{13} B",
        "x.^2",
        "-X^-1 dX X^-1",
        "P · Q ⊙ (R S)",
        "A: matrix(n, m); y: vector(n)\n x^T y",
        "h = f(XW + 1b^T)\nJ = 1/2 (h-Y) . (h-Y)",
        "grad J wrt W, b",
    ] {
        match bracket::parse(s) {
            Ok(i) => println!("{s}\n  {:?}", i.statements.len()),
            Err(e) => println!("{s}\n{}", e.render(s)),
        }
    }
}
