"""The bench's models in PyTorch, layer for layer as tools/bench/src/models.ts and @sparsify/models build them.

- LeNet-300-100: 784-300-100-10, ReLU.
- LeNet-5-Caffe: conv 20@5x5 -> max-pool 2 -> conv 50@5x5 -> max-pool 2 -> fc 500 (ReLU) -> fc 10, no
  activation after the convs (Caffe's LeNet).
- CIFAR ResNet-20 and ResNet-32 (packages/models/src/resnet.ts): stem conv3x3(16, no bias) + BN + ReLU; three stages of
  3 (ResNet-32: 5) BasicBlocks at widths 16/32/64, strides 1/2/2; a block is conv3x3(stride)-BN-ReLU-conv3x3-BN plus the
  shortcut, then ReLU; the shortcut is the identity, or a projection (conv1x1(stride), no bias, + BN) where
  the shape changes (the first block of stages 2 and 3); global average pooling; Linear(64, 10).
- CIFAR VGG-small (packages/models/src/vgg.ts): two conv3x3 (with bias) + BN + ReLU per stage at widths
  32/64/128, a 2x2 max-pool between stages, global average pooling, Linear(128, 10).

Trainable parameter counts equal the tfjs models' (the bench checks: ResNet-20 272,474; ResNet-32 466,906; VGG-small 289,194).
BatchNorm here uses PyTorch's defaults (momentum 0.1, eps 1e-5), @sparsify/models' init 'pytorch' settings.
"""

from torch import nn


def lenet_300_100():
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet_5_caffe():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10),
    )


def conv_bn(cin, cout, kernel, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.relu1 = nn.ReLU()
        self.conv2 = conv_bn(cout, cout, 3, 1)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.conv2(self.relu1(self.conv1(x))) + self.shortcut(x))


def cifar_resnet(depth=20, num_classes=10):
    n = (depth - 2) // 6
    layers = [conv_bn(3, 16, 3, 1), nn.ReLU()]
    cin = 16
    for stage, width in enumerate([16, 32, 64]):
        for block in range(n):
            layers.append(BasicBlock(cin, width, 2 if stage > 0 and block == 0 else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def vgg_small(widths=(32, 64, 128), convs_per_stage=2, num_classes=10):
    layers = []
    cin = 3
    for stage, width in enumerate(widths):
        if stage > 0:
            layers.append(nn.MaxPool2d(2, 2))
        for _ in range(convs_per_stage):
            layers += [nn.Conv2d(cin, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


# name -> (builder, input shape of one batch, NCHW)
WORKLOADS = {
    "lenet-300-100": (lenet_300_100, (128, 784)),
    "lenet-5-caffe": (lenet_5_caffe, (64, 1, 28, 28)),
    "resnet-8": (lambda: cifar_resnet(depth=8), (4, 3, 32, 32)),
    "resnet-20": (cifar_resnet, (128, 3, 32, 32)),
    "resnet-32": (lambda: cifar_resnet(depth=32), (128, 3, 32, 32)),
    "vgg-small": (vgg_small, (128, 3, 32, 32)),
}


def trainable_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
