"""A/B timing of Sequential.backward(need_dx=True) vs need_dx=False on the lab models.

    FASTNN_DATA=path/to/mnist python bench/ab_need_dx.py cnn     # 40 batches of 64
    FASTNN_DATA=path/to/mnist python bench/ab_need_dx.py mlp     # 200 batches of 128

One model and optimizer; after a warm-up round, 4 rounds alternate the two settings, so machine
noise hits both alike.  Prints the median wall and CPU time per round for each setting.
"""
import time, numpy as np, sys
from fastnn import datasets, data, zoo, optim, losses
from fastnn.models import Sequential
(x,y),_ = datasets.load_mnist(verbose=False)
kind = sys.argv[1]
if kind == "cnn":
    X = data.preprocess_images(x[:64*40]); Y=y[:64*40].astype(np.int64); bs=64; make=lambda: zoo.cnn(seed=0)
else:
    X = data.preprocess_images(x[:128*200], flatten=True); Y=y[:128*200].astype(np.int64); bs=128; make=lambda: zoo.mlp(hidden=(256,128),activation="relu",dropout=0.2,seed=0)
m = make(); opt = optim.Adam(m.parameters(), lr=1e-3); lf = losses.SoftmaxCrossEntropy()
def run(need):
    w=time.perf_counter(); c=time.process_time()
    for i in range(0, X.shape[0], bs):
        out = m.forward(X[i:i+bs], training=True); lf.forward(out, Y[i:i+bs])
        m.backward(lf.backward(), need_dx=need); opt.step()
    return time.perf_counter()-w, time.process_time()-c
run(False)
res={True:[],False:[]}
for r in range(4):
    for need in (True, False):
        res[need].append(run(need))
for need in (True, False):
    a=np.array(res[need]); print(kind, "need_dx=%s"%need, "wall median %.3f s  cpu median %.3f s"%(np.median(a[:,0]), np.median(a[:,1])), "n_batches", X.shape[0]//bs)
