"""PyTorch's training step on the bench's workloads, timed on request: the side-by-side reference.

Run by tools/bench (src/pytorch.ts) as a child process speaking JSON lines: it prints
{"ready": true, "torch": version, "threads": n} (or {"error": ...} when torch cannot be imported), then
answers each {"workload", "warmup", "steps"} with {"wallMs": [...]} (one wall-clock time per step).
The models, batch sizes and optimizer are the bench's own (models.ts): LeNet-300-100 at b=128 and
LeNet-5-Caffe at b=64, softmax cross-entropy, SGD with momentum 0.9, a fixed random batch.
"""

import json
import os
import sys
import time


def reply(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


try:
    import torch
    from torch import nn
except Exception as e:  # torch not installed for this python: the bench says so and skips PyTorch
    reply({"error": f"{type(e).__name__}: {e}"})
    sys.exit(0)

threads = int(os.environ.get("SPARSIFY_BENCH_TORCH_THREADS", "0")) or os.cpu_count() or 1
torch.set_num_threads(threads)
torch.manual_seed(1)


def lenet_300_100():
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet_5_caffe():
    # As models.ts: no activation after the convs (Caffe's LeNet), ReLU after fc 500.
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10),
    )


WORKLOADS = {
    "lenet-300-100": (lenet_300_100, (128, 784)),
    "lenet-5-caffe": (lenet_5_caffe, (64, 1, 28, 28)),
}

runs = {}


def run_for(name):
    if name not in runs:
        build, shape = WORKLOADS[name]
        model = build()
        x = torch.randn(*shape)
        y = torch.randint(0, 10, (shape[0],))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()

        runs[name] = step
    return runs[name]


reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})
for line in sys.stdin:
    request = json.loads(line)
    try:
        step = run_for(request["workload"])
        for _ in range(request["warmup"]):
            step()
        times = []
        for _ in range(request["steps"]):
            start = time.perf_counter()
            step()
            times.append((time.perf_counter() - start) * 1000)
        reply({"wallMs": times})
    except Exception as e:
        reply({"error": f"{type(e).__name__}: {e}"})
