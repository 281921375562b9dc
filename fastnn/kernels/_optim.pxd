# The C declarations of the optimizer update rules (src_c/fnn_optim.h, compiled in fnn_optim.c).
from libc.stddef cimport ptrdiff_t


cdef extern from "fnn_optim.h" nogil:
    enum:
        FNN_OPTIM_SGD
        FNN_OPTIM_ADAGRAD
        FNN_OPTIM_ADADELTA
        FNN_OPTIM_RMSPROP
        FNN_OPTIM_ADAM
        FNN_OPTIM_ADAMAX
        FNN_OPTIM_NADAM
    enum:
        FNN_OPTIM_FLOAT32
        FNN_OPTIM_FLOAT64

    ctypedef struct fnn_sgd_scalars:
        double lr, momentum, dampening, weight_decay
        int nesterov, maximize, first_step

    ctypedef struct fnn_adagrad_scalars:
        double clr, weight_decay, eps
        int maximize

    ctypedef struct fnn_adadelta_scalars:
        double lr, rho, eps, weight_decay
        int maximize

    ctypedef struct fnn_rmsprop_scalars:
        double lr, alpha, eps, weight_decay, momentum
        int centered, maximize

    ctypedef struct fnn_adam_scalars:
        double lr, beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt
        int amsgrad, maximize, decoupled_weight_decay

    ctypedef struct fnn_adamax_scalars:
        double beta1, beta2, eps, weight_decay, clr
        int maximize

    ctypedef struct fnn_nadam_scalars:
        double lr, beta1, beta2, eps, weight_decay, bias_correction2, grad_coef, exp_avg_coef
        int decoupled_weight_decay, maximize

    ctypedef union fnn_optim_scalars:
        fnn_sgd_scalars sgd
        fnn_adagrad_scalars adagrad
        fnn_adadelta_scalars adadelta
        fnn_rmsprop_scalars rmsprop
        fnn_adam_scalars adam
        fnn_adamax_scalars adamax
        fnn_nadam_scalars nadam

    ctypedef struct fnn_optim_tensor:
        ptrdiff_t n
        void *param
        const void *grad
        void *state[3]
        fnn_optim_scalars s

    void fnn_optim_update(int rule, int dtype, int simd, const fnn_optim_tensor *t, ptrdiff_t lo,
                          ptrdiff_t hi)
