"""Loop conv 32->64 (128x32x14x14, 3x3 pad 1) forward + backward, for a profiler:

    FASTNN_NUM_THREADS=1 perf record -o perf.data python bench/profile_conv.py 40
    perf report -i perf.data --stdio --sort symbol
"""
import numpy as np, sys
from fastnn import kernels as K
rng=np.random.default_rng(0)
x=rng.standard_normal((128,32,14,14),dtype=np.float32); w=rng.standard_normal((64,32,3,3),dtype=np.float32); b=np.zeros(64,np.float32)
y=K.conv2d_forward(x,w,b,1,1); dy=rng.standard_normal(y.shape,dtype=np.float32)
for _ in range(int(sys.argv[1])):
    K.conv2d_forward(x,w,b,1,1); K.conv2d_backward(dy,x,w,1,1)
