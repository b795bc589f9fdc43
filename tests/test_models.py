"""Backbones and heads: the CIFAR stem, feature sizes, head structure."""

import pytest
import torch
import torch.nn as nn

from bench_ssl.errors import ConfigError
from bench_ssl.models import build_backbone, build_head


def test_resnet18_cifar_stem_is_3x3_stride_1_without_maxpool():
    net = build_backbone("resnet18", cifar_stem=True)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, nn.Identity)
    assert net.out_dim == 512
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 512)


def test_resnet_imagenet_stem_kept_without_cifar_stem():
    net = build_backbone("resnet18", cifar_stem=False)
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    assert isinstance(net.maxpool, nn.MaxPool2d)


@pytest.mark.parametrize("name,dim", [("resnet34", 512), ("resnet50", 2048), ("convnet", 256)])
def test_backbone_feature_dims(name, dim):
    net = build_backbone(name, **({} if name == "convnet" else {"cifar_stem": True})).eval()  # convnet has no stem option
    assert net.out_dim == dim
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, dim)


def test_a_backbone_rejects_a_parameter_it_does_not_take():
    with pytest.raises(ConfigError, match="unknown key 'model.cifar_stem'.*takes no parameters"):
        build_backbone("convnet", cifar_stem=True)


def test_heads():
    x = torch.randn(4, 32)
    assert build_head("none", 32)(x) is x
    lin = build_head("linear", 32, out_dim=8)
    assert isinstance(lin, nn.Linear) and lin(x).shape == (4, 8)
    mlp = build_head("mlp", 32, out_dim=8, hidden_dim=16, layers=3, batch_norm=True)
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(32, 16), (16, 16), (16, 8)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in mlp) == 2
    assert mlp(x).shape == (4, 8)
    plain = build_head("mlp", 32, out_dim=8, layers=2, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain)
    assert [m.out_features for m in plain if isinstance(m, nn.Linear)] == [32, 8]  # hidden defaults to the input dim
