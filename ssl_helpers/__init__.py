"""ssl_helpers: the machinery behind the hands-on course on self-supervised learning.

Modules (import what you need; nothing heavy is imported here), in layers (README's "Architecture"):
    config     the environment variables (`settings()`), the notebooks' FULL_RUN sizes (shrunk by SSL_SMOKE=1),
               resumable runs, the T4 time estimate
    data       datasets (digits, colour digits, CIFAR-10, STL-10, image folders), the fixed split, labeled subsets
    augment    per-image random augmentations on batched tensors (CPU or GPU), the SimCLR presets
    models     encoders (small CNN, CIFAR ResNet-18, ViT, ...), projection head, decoders, `build_encoder(config)`
    losses     every loss as a pure function (contrastive, non_contrastive, masked); losses.reference: the papers' loops
    train      the course's one `lightning.Trainer` (`make_trainer`, `train_module`, `fit`), seeding, device and
               precision choice, checkpoints and resuming
    tiers      the self-prediction notebooks' CPU tier and full run (`pretext_tier`)
    evaluate   the evaluation protocol's pieces: embeddings, linear probe, kNN, label-efficiency curve
    methods    every pre-training method as one LightningModule (one file each), the registry: `make_method`,
               `pretrain`, `save_method`, `load_or_pretrain` (the course's checkpoints ship in `checkpoints/`)
    pretext    the self-prediction corruptions as pure functions (masking, rotation, jigsaw, boxes, noise, blocks)
    protocol   the one evaluation protocol behind every table (tuned on validation, test scored once), the baselines
    transfer   every registered method's encoder on one leaderboard
    pretrained torchvision's ImageNet ResNet-18: downloaded on first use of `imagenet_resnet18` (about 45 MB, once,
               into $TORCH_HOME), then read from that cache; offline and not cached, a clear error
    plots      figures; widgets: thin ipywidgets explorers over pure functions
    cli        the command line (`ssl-pretrain --method NAME`, `ssl-simclr`): any registered method, on several GPUs too
    lecture    the lecture demo: every explorer on one page (`python3 course.py demo`, Voila)
"""
__version__ = "0.1.0"

REPOSITORY = "ssl-hands-on/ssl-hands-on"
"""The GitHub repository (owner/name) the Colab cells and badges point to: the first thing to change in a fork."""
