"""ssl_helpers: the machinery behind the hands-on course on self-supervised learning.

Modules (import what you need; nothing heavy is imported here):
    data      datasets, the fixed split, labeled subsets, two views
    models    encoders (small CNN, CIFAR ResNet-18), projection head
    train     the one training loop, seeding, device choice, checkpoints
    evaluate  the evaluation protocol: embeddings, linear probe, kNN, label-efficiency curve, baselines
    losses    contrastive losses
    plots     figures
"""
__version__ = "0.1.0"

REPOSITORY = "ssl-hands-on/ssl-hands-on"
"""The GitHub repository (owner/name) the Colab cells and badges point to: the first thing to change in a fork."""
