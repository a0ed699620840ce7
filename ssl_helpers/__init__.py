"""ssl_helpers: the machinery behind the hands-on course on self-supervised learning.

Modules (import what you need; nothing heavy is imported here), in layers:
    data       datasets (digits, colour digits, CIFAR-10, STL-10, image folders), the fixed split, labeled subsets
    augment    per-image random augmentations on batched tensors (CPU or GPU), the SimCLR presets
    models     encoders (small CNN, CIFAR ResNet-18, ...), projection head, `build_encoder(config)`
    losses     contrastive and related losses as pure functions; losses_reference: slow loops from the papers
    train      the one training loop (`fit`), seeding, device and precision choice, checkpoints and resuming
    config     the notebooks' FULL_RUN sizes (shrunk by SSL_SMOKE=1), resumable runs, the T4 time estimate
    evaluate   the evaluation protocol: embeddings, linear probe, kNN, label-efficiency curve, baselines
    methods    the one method interface and registry: `make_method`, `pretrain`, `save_method`, `load_or_pretrain`
    pretext    self-prediction methods (masked, rotation, jigsaw, inpainting, colorization, denoising)
    simclr     SimCLR (the method, and the multi-GPU training used by `cli`)
    transfer   every registered method's encoder on one leaderboard
    pretrained torchvision's ImageNet ResNet-18: downloaded on first use of `imagenet_resnet18` (about 45 MB, once,
               into $TORCH_HOME), then read from that cache; offline and not cached, a clear error
    plots      figures; widgets: thin ipywidgets explorers over pure functions
    cli        the command line (`ssl-pretrain --method NAME`, `ssl-simclr`): any registered method
    lecture    the lecture demo: every explorer on one page (`python3 course.py demo`, Voila)
"""
__version__ = "0.1.0"

REPOSITORY = "ssl-hands-on/ssl-hands-on"
"""The GitHub repository (owner/name) the Colab cells and badges point to: the first thing to change in a fork."""
