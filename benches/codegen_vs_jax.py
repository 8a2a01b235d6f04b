#!/usr/bin/env python3
"""The generated NumPy `f_and_grad` against `jax.value_and_grad` of the same loss (jitted,
CPU), in the same run: medians of repeated calls after a warm-up, and their ratio.

    python3 benches/codegen_vs_jax.py [--binary target/release/bracket] [--n 256] [--reps 50]

Needs numpy and jax (scripts/setup.sh installs them).
"""

import argparse
import importlib.util
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
ROOT = Path(__file__).resolve().parent.parent

MLP = """X: matrix(N, d); W1: matrix(d, h); W2: matrix(h, k); Y: matrix(N, k)
H = tanh(X W1)
J = 1/2 ||H W2 - Y||^2
grad J wrt W1, W2"""

TRACE = "A: matrix(n, n); X: matrix(n, n); B: matrix(n, n); tr(A X^-1 B)"


def mlp_loss(W1, W2, X, Y):
    H = jnp.tanh(X @ W1)
    return 0.5 * jnp.sum((H @ W2 - Y) ** 2)


def trace_loss(X, A, B):
    return jnp.trace(A @ jnp.linalg.inv(X) @ B)


def generate(binary, text, wrt, folder, name):
    path = Path(folder) / f"{name}.py"
    args = [binary, "codegen", text, "--out", str(path)]
    for w in wrt:
        args += ["--wrt", w]
    subprocess.run(args, check=True)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_ms(call, reps):
    call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "bracket"))
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    n = args.n
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        mlp = generate(args.binary, MLP, [], folder, "mlp")
        X, Y = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        W1, W2 = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal((n, n)) / np.sqrt(n)
        ours = median_ms(lambda: mlp.f_and_grad(X=X, W1=W1, W2=W2, Y=Y), args.reps)
        grad = jax.jit(jax.value_and_grad(mlp_loss, argnums=(0, 1)))
        theirs = median_ms(lambda: jax.block_until_ready(grad(W1, W2, X, Y)), args.reps)
        value, grads = mlp.f_and_grad(X=X, W1=W1, W2=W2, Y=Y)
        jv, jg = grad(W1, W2, X, Y)
        assert np.allclose(value, jv) and np.allclose(grads["W1"], jg[0]) and np.allclose(grads["W2"], jg[1])
        rows.append(("2-layer tanh MLP, value and both gradients", ours, theirs))

        trace = generate(args.binary, TRACE, ["X"], folder, "trace")
        A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        Xm = rng.standard_normal((n, n)) + n * np.eye(n)
        ours = median_ms(lambda: trace.f_and_grad(A=A, X=Xm, B=B), args.reps)
        grad = jax.jit(jax.value_and_grad(trace_loss))
        theirs = median_ms(lambda: jax.block_until_ready(grad(Xm, A, B)), args.reps)
        value, grads = trace.f_and_grad(A=A, X=Xm, B=B)
        jv, jg = grad(Xm, A, B)
        assert np.allclose(value, jv) and np.allclose(grads["X"], jg)
        rows.append(("tr(AX⁻¹B) by X", ours, theirs))
    print(f"n = {n}, medians of {args.reps} calls (jax {jax.__version__}, numpy {np.__version__})\n")
    print("| function | generated NumPy ms | jax.jit(value_and_grad) ms | JAX / generated |")
    print("|---|---|---|---|")
    for what, ours, theirs in rows:
        print(f"| {what} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.2f}× |")


if __name__ == "__main__":
    main()
