import torch

torch.set_num_threads(1)  # tiny models on a shared 2-core machine: one thread is much faster
