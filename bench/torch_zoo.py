"""The zoo of experiments/models/ as PyTorch modules, for bench/torch_speed.py: the architectures of mdistiller's
CIFAR models (github megvii-research/mdistiller, mdistiller/models/cifar/: resnet.py, wrn.py, vgg.py,
mobilenetv2.py), written compactly. Only what the speed of a training step depends on is kept: the layers,
their shapes and order; not the feature outputs or the initialisation. `python3 torch_zoo.py` checks every
parameter count against PARAMS (README's table, kdx's builds count the same).
"""
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 100

# Trainable parameters at 100 classes (README, "The model zoo").
PARAMS = {'resnet20': 278_324, 'resnet32': 472_756, 'resnet56': 861_620, 'resnet110': 1_736_564,
          'resnet8x4': 1_233_540, 'resnet32x4': 7_433_860, 'wrn_16_2': 703_284, 'wrn_40_1': 569_780,
          'wrn_40_2': 2_255_156, 'vgg8_bn': 3_965_028, 'vgg13_bn': 9_462_180, 'MobileNetV2': 812_836}


def conv_bn(i, o, k=3, stride=1, groups=1):
    return [nn.Conv2d(i, o, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(o)]


class Basic(nn.Module):
    """resnet.py's BasicBlock: conv-bn-relu, conv-bn, plus the input (or its 1x1 strided projection), relu."""

    def __init__(self, i, o, stride):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(i, o, 3, stride), nn.ReLU(inplace=True), *conv_bn(o, o))
        self.shortcut = nn.Sequential(*conv_bn(i, o, 1, stride)) if stride != 1 or i != o else nn.Identity()

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


def resnet(depth, widths):
    """resnet.py's ResNet with basic blocks: a 3x3 stem, 3 stages of (depth - 2) / 6 blocks, pooling, fc."""
    n = (depth - 2) // 6
    layers = [*conv_bn(3, widths[0]), nn.ReLU(inplace=True)]
    for stage, width in enumerate(widths[1:]):
        for b in range(n):
            layers.append(Basic(widths[stage] if b == 0 else width, width, 2 if stage > 0 and b == 0 else 1))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[3], CLASSES))


class Wide(nn.Module):
    """wrn.py's BasicBlock (pre-activation): bn-relu, conv, bn-relu, conv, plus the input or a 1x1 projection
    of the activated input."""

    def __init__(self, i, o, stride):
        super().__init__()
        self.pre = nn.Sequential(nn.BatchNorm2d(i), nn.ReLU(inplace=False))
        self.body = nn.Sequential(*conv_bn(i, o, 3, stride), nn.ReLU(inplace=True), nn.Conv2d(o, o, 3, 1, 1, bias=False))
        self.shortcut = nn.Conv2d(i, o, 1, stride, bias=False) if i != o else None

    def forward(self, x):
        a = self.pre(x)
        return self.body(a) + (x if self.shortcut is None else self.shortcut(a))


def wrn(depth, k):
    n = (depth - 4) // 6
    widths = [16, 16 * k, 32 * k, 64 * k]
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)]
    for stage in range(3):
        for b in range(n):
            layers.append(Wide(widths[stage] if b == 0 else widths[stage + 1], widths[stage + 1], 2 if stage > 0 and b == 0 else 1))
    return nn.Sequential(*layers, nn.BatchNorm2d(widths[3]), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(widths[3], CLASSES))


def vgg_bn(cfg):
    """vgg.py's VGG with batchNorm: 5 blocks of 3x3 conv-bn-relu, max pools after the first 3 (none after the 4th
    at 32x32), global average pooling, fc."""
    layers, i = [], 3
    for block, widths in enumerate(cfg):
        for w in widths:
            layers += [nn.Conv2d(i, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            i = w
        if block < 3:
            layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, CLASSES))


class Inverted(nn.Module):
    """mobilenetv2.py's InvertedResidual: 1x1 expand-bn-relu, 3x3 depthwise-bn-relu, 1x1 project-bn, plus the
    input where the shape allows."""

    def __init__(self, i, o, stride, t):
        super().__init__()
        h = i * t
        self.conv = nn.Sequential(*conv_bn(i, h, 1), nn.ReLU(inplace=True), *conv_bn(h, h, 3, stride, groups=h),
                                  nn.ReLU(inplace=True), *conv_bn(h, o, 1))
        self.residual = stride == 1 and i == o

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


def mobilenetv2_half():
    """mobile_half: MobileNetV2 with expansion 6 and width 0.5 (the last 1x1 conv keeps 1280 channels)."""
    setting = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    i = 16
    layers = [*conv_bn(3, i, 3, 2), nn.ReLU(inplace=True)]
    for t, c, n, s in setting:
        for b in range(n):
            layers.append(Inverted(i, c // 2, s if b == 0 else 1, t))
            i = c // 2
    return nn.Sequential(*layers, *conv_bn(i, 1280, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(1280, CLASSES))


ZOO = {
    'resnet20': lambda: resnet(20, [16, 16, 32, 64]),
    'resnet32': lambda: resnet(32, [16, 16, 32, 64]),
    'resnet56': lambda: resnet(56, [16, 16, 32, 64]),
    'resnet110': lambda: resnet(110, [16, 16, 32, 64]),
    'resnet8x4': lambda: resnet(8, [32, 64, 128, 256]),
    'resnet32x4': lambda: resnet(32, [32, 64, 128, 256]),
    'wrn_16_2': lambda: wrn(16, 2),
    'wrn_40_1': lambda: wrn(40, 1),
    'wrn_40_2': lambda: wrn(40, 2),
    'vgg8_bn': lambda: vgg_bn([[64], [128], [256], [512], [512]]),
    'vgg13_bn': lambda: vgg_bn([[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]]),
    'MobileNetV2': mobilenetv2_half,
}

if __name__ == '__main__':
    import torch
    for name, build in ZOO.items():
        m = build()
        count = sum(p.numel() for p in m.parameters() if p.requires_grad)
        assert tuple(m(torch.randn(2, 3, 32, 32)).shape) == (2, CLASSES), name
        assert count == PARAMS[name], f'{name}: {count:,} parameters, mdistiller has {PARAMS[name]:,}'
        print(f'{name:12} {count:>10,} parameters: as mdistiller')
