"""PyTorch's training step on the bench's workloads, timed on request: the side-by-side reference.

Run by tools/bench (src/pytorch.ts) as a child process speaking JSON lines: it prints
{"ready": true, "torch": version, "threads": n} (or {"error": ...} when torch cannot be imported), then
answers each {"workload", "warmup", "steps"} with {"wallMs": [...], "cpuMs": [...], "maxRssMB": peak} (one wall-clock
and one process CPU time per step; the process's peak resident memory so far). SPARSIFY_BENCH_TORCH_THREADS sets
torch's thread count (default: the machine's cores).
The models (models.py) and batch sizes are the bench's own (models.ts): LeNet-300-100 at b=128,
LeNet-5-Caffe at b=64, CIFAR ResNet-20, ResNet-32 and VGG-small at b=128; softmax cross-entropy, SGD with momentum
0.9, a fixed random batch. The ready line also gives each model's trainable parameter count.
"""

import json
import os
import resource
import sys
import time


def reply(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


try:
    import torch
    from torch import nn

    from models import WORKLOADS, trainable_parameters
except Exception as e:  # torch not installed for this python: the bench says so and skips PyTorch
    reply({"error": f"{type(e).__name__}: {e}"})
    sys.exit(0)

threads = int(os.environ.get("SPARSIFY_BENCH_TORCH_THREADS", "0")) or os.cpu_count() or 1
torch.set_num_threads(threads)
torch.manual_seed(1)


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


params = {name: trainable_parameters(build()) for name, (build, _) in WORKLOADS.items()}
reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "params": params})
for line in sys.stdin:
    request = json.loads(line)
    try:
        step = run_for(request["workload"])
        for _ in range(request["warmup"]):
            step()
        times = []
        cpu_times = []
        for _ in range(request["steps"]):
            start = time.perf_counter()
            cpu_start = time.process_time()
            step()
            cpu_times.append((time.process_time() - cpu_start) * 1000)
            times.append((time.perf_counter() - start) * 1000)
        # ru_maxrss is in KiB on Linux
        reply({"wallMs": times, "cpuMs": cpu_times, "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    except Exception as e:
        reply({"error": f"{type(e).__name__}: {e}"})
