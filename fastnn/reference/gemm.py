"""NumPy twins of ``fastnn.kernels._gemm``: the readable version of GEMM.

The compiled kernel computes the same thing as the loops below, only blocked for the caches,
packed, vectorized and threaded (docs/kernels/gemm.md walks from one to the other):

    for i in range(M):                 # rows of op(a)
        for j in range(N):             # columns of op(b)
            acc = 0
            for k in range(K):         # one dot product, always in ascending k
                acc += op(a)[i, k] * op(b)[k, j]
            out[i, j] = act(acc + bias[j])

The arguments are checked by the family's contract (``fastnn/contracts/gemm.py``), the same call
the compiled kernel makes, so both raise the same errors for the same bad input.
"""
import numpy as np

from ..contracts import gemm as contract

__all__ = ["matmul", "matmul_bias", "apply_activation"]


def apply_activation(z, activation, elu_alpha=1.0):
    """The activation of the GEMM epilogue, applied in place to ``z`` (a fresh array owned by
    the caller) and returned: None, 'relu', 'sigmoid', 'tanh' or 'elu'.  Shared by every twin
    whose compiled kernel fuses an activation into the GEMM (matmul_bias, conv2d_forward).

        >>> apply_activation(np.array([-2.0, 0.5]), "relu")
        array([0. , 0.5])
    """
    if activation == "relu":
        np.maximum(z, 0, out=z)
    elif activation == "sigmoid":
        # exp of a non-positive number only, so no overflow for large |z|.
        e = np.exp(-np.abs(z))
        z[...] = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    elif activation == "tanh":
        np.tanh(z, out=z)
    elif activation == "elu":
        # expm1 keeps full relative precision for small |z|.
        z[...] = np.where(z > 0, z, elu_alpha * np.expm1(np.minimum(z, 0)))
    return z


def matmul(a, b, trans_a=False, trans_b=False, out=None):
    """``op(a) @ op(b)`` where ``op(a)`` is ``a.T`` when ``trans_a`` (likewise ``b``).

    a, b: 2-D float32 or float64 arrays of the same dtype.  out: optional C-contiguous (M, N)
    array of that dtype, not overlapping a or b.  Empty dimensions follow NumPy (K == 0 gives
    zeros).

        >>> matmul(np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]]), trans_b=True)
        array([[1., 3.],
               [2., 4.]])
    """
    args = contract.matmul_args(a, b, trans_a, trans_b, out)
    op_a = args.a.T if args.trans_a else args.a
    op_b = args.b.T if args.trans_b else args.b
    np.matmul(op_a, op_b, out=args.out)
    return args.out


def matmul_bias(x, w, b, activation=None, out=None, elu_alpha=1.0):
    """``act(x @ w + b)``: x (N, in), w (in, out), b (out,), same float dtype, non-empty.

    activation: None, 'relu', 'sigmoid', 'tanh' or 'elu' (``elu_alpha * expm1(v)`` for v <= 0).

        >>> matmul_bias(np.ones((1, 2)), np.ones((2, 3)), np.array([-3.0, 0.0, 1.0]), "relu")
        array([[0., 2., 3.]])
    """
    args = contract.matmul_bias_args(x, w, b, activation, out, elu_alpha)
    z = args.x @ args.w
    z += args.b
    args.out[...] = apply_activation(z, args.activation, args.elu_alpha)
    return args.out
