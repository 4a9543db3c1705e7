"""The two networks: a tiny pre-filter classifier and a CenterNet-style detector."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def cbr(cin, cout, k=3, s=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DWBlock(nn.Module):
    """Depthwise 3x3 + pointwise 1x1 with a residual connection."""

    def __init__(self, c):
        super().__init__()
        self.dw = cbr(c, c, 3, 1, groups=c)
        self.pw = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(x + self.pw(self.dw(x)))


class PreFilter(nn.Module):
    """OK vs suspect. Input [1,3,S,S] in 0..1, output `score` [N,1] (sigmoid applied).

    A small encoder-decoder produces a stride-4 class-agnostic "defect centre"
    heatmap, trained like the detector's; the score is the sigmoid of its
    maximum. Dense supervision makes it learn far faster than an image label.
    """

    STRIDE = 4

    def __init__(self):
        super().__init__()
        self.s2 = cbr(3, 16, 3, 2)
        self.s4 = nn.Sequential(cbr(16, 24, 3, 2), DWBlock(24))
        self.s8 = nn.Sequential(cbr(24, 48, 3, 2), DWBlock(48), DWBlock(48))
        self.s16 = nn.Sequential(cbr(48, 64, 3, 2), DWBlock(64), DWBlock(64))
        self.l8 = cbr(64, 48, 1)
        self.f8 = DWBlock(48)
        self.l4 = cbr(48, 24, 1)
        self.f4 = nn.Sequential(cbr(24, 24, 3, 1, groups=24), cbr(24, 32, 1))
        self.head = nn.Sequential(cbr(32, 32, 3, 1, groups=32), nn.Conv2d(32, 1, 1))
        nn.init.constant_(self.head[-1].bias, -4.6)

    def cell_logits(self, x):
        c4 = self.s4(self.s2(x))
        c8 = self.s8(c4)
        c16 = self.s16(c8)
        p8 = self.f8(F.interpolate(self.l8(c16), scale_factor=2.0, mode="nearest") + c8)
        p4 = self.f4(F.interpolate(self.l4(p8), scale_factor=2.0, mode="nearest") + c4)
        return self.head(p4)

    def forward(self, x):
        return torch.sigmoid(self.cell_logits(x).amax(dim=(2, 3)))


class Detector(nn.Module):
    """CenterNet-style, stride 4. Outputs heatmap (sigmoid), wh (input pixels), offset (cells, 0..1)."""

    WH_BASE = 8.0

    def __init__(self, num_classes=5):
        super().__init__()
        self.s2 = cbr(3, 16, 3, 2)                                   # 160
        self.s4 = nn.Sequential(cbr(16, 32, 3, 2), DWBlock(32))      # 80
        self.s8 = nn.Sequential(cbr(32, 64, 3, 2), DWBlock(64), DWBlock(64))    # 40
        self.s16 = nn.Sequential(cbr(64, 96, 3, 2), DWBlock(96), DWBlock(96))   # 20
        self.s32 = nn.Sequential(cbr(96, 128, 3, 2), DWBlock(128), DWBlock(128))  # 10
        self.l16 = cbr(128, 64, 1)
        self.m16 = cbr(96, 64, 1)
        self.f16 = DWBlock(64)
        self.m8 = cbr(64, 64, 1)
        self.f8 = DWBlock(64)
        self.l4 = cbr(64, 32, 1)
        self.m4 = cbr(32, 32, 1)
        self.f4 = nn.Sequential(cbr(32, 32, 3, 1, groups=32), cbr(32, 48, 1))
        self.hm = nn.Sequential(cbr(48, 48, 3, 1, groups=48), nn.Conv2d(48, num_classes, 1))
        self.reg = nn.Sequential(cbr(48, 48, 3, 1, groups=48), nn.Conv2d(48, 4, 1))
        nn.init.constant_(self.hm[-1].bias, -4.6)

    def raw(self, x):
        c4 = self.s4(self.s2(x))
        c8 = self.s8(c4)
        c16 = self.s16(c8)
        c32 = self.s32(c16)
        p16 = self.f16(F.interpolate(self.l16(c32), scale_factor=2.0, mode="nearest") + self.m16(c16))
        p8 = self.f8(F.interpolate(p16, scale_factor=2.0, mode="nearest") + self.m8(c8))
        p4 = self.f4(F.interpolate(self.l4(p8), scale_factor=2.0, mode="nearest") + self.m4(c4))
        return self.hm(p4), self.reg(p4)

    def forward(self, x):
        hm, reg = self.raw(x)
        wh = torch.exp(reg[:, 0:2].clamp(-4.0, 4.0)) * self.WH_BASE
        off = torch.sigmoid(reg[:, 2:4])
        return torch.sigmoid(hm), wh, off
