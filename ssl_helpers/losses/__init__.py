"""The course's losses as pure functions, each with its equation in the docstring and the code next to it.

| family | loss | inputs | idea |
|---|---|---|---|
| contrastive | `pair_contrastive_loss` | pairs `(z_a, z_b)` with a similar/dissimilar flag | similar pairs to distance 0, dissimilar beyond a margin |
| contrastive | `triplet_loss` | `(anchor, positive, negative)` | the positive closer to the anchor than the negative, by a margin |
| contrastive | `info_nce` | queries, a set of keys, the index of each query's positive | softmax over cosine similarities / T |
| contrastive | `nt_xent` | two views `(z_a, z_b)` of N inputs | SimCLR's InfoNCE over the 2N views (optionally across processes) |
| contrastive | `moco_loss` | queries, their momentum keys, a queue of K older keys | InfoNCE with K negatives whatever the batch size |
| non-contrastive | `negative_cosine` | predictions p, target projections z | BYOL / SimSiam: p towards z, no negatives, z stop-gradient |
| non-contrastive | `barlow_twins_loss` | two views `(z_a, z_b)` | cross-correlation matrix of the views towards the identity |
| non-contrastive | `vicreg_loss` | two views `(z_a, z_b)` | invariance + variance above gamma + off-diagonal covariance to 0 |
| non-contrastive | `dino_loss` | student and teacher logits over K prototypes, one (N, K) tensor per view | the student's softmax towards the teacher's centred, sharpened softmax of the other views |
| masked | `masked_mse` | predicted and true images, a pixel mask | squared error on the hidden pixels (inpainting, pretext tasks) |
| masked | `mae_loss` | predicted and true patches, a token mask | MAE: squared error on the hidden patches |
| masked | `ijepa_loss` | predicted and target representations (N, M, D) of the hidden tokens | I-JEPA: the target's layer-normalised features, not pixels |

Modules: `contrastive`, `non_contrastive`, `masked` (every public name is re-exported here:
`from ssl_helpers.losses import nt_xent`). Helpers: `cosine_similarity_matrix`, `nt_xent_logits`, `positive_index`,
`gather_with_grad`, `distributed_world`, `cross_correlation`, `vicreg_terms`, `update_center` (DINO's center),
`teacher_entropy` and `largest_prototype_share` (DINO's collapse diagnostics), `normalize_patches`.

Every loss checks its input and raises `ValueError` naming the argument: mismatched shapes, too few rows,
a margin or temperature that is not positive, non-finite values. Slow reference versions written as loops
straight from the papers live in `ssl_helpers.losses.reference` (tests and benchmarks use them).
"""
from .contrastive import (
    cosine_similarity_matrix,
    distributed_world,
    gather_with_grad,
    info_nce,
    moco_loss,
    nt_xent,
    nt_xent_logits,
    pair_contrastive_loss,
    positive_index,
    triplet_loss,
)
from .masked import ijepa_loss, mae_loss, masked_mse, normalize_patches
from .non_contrastive import (
    barlow_twins_loss,
    cross_correlation,
    dino_loss,
    largest_prototype_share,
    negative_cosine,
    teacher_entropy,
    update_center,
    vicreg_loss,
    vicreg_terms,
)

__all__ = [  # noqa: RUF022  (grouped by family, as the table above)
    # contrastive
    "pair_contrastive_loss", "triplet_loss", "cosine_similarity_matrix", "info_nce", "nt_xent", "nt_xent_logits",
    "positive_index", "gather_with_grad", "distributed_world", "moco_loss",
    # non-contrastive
    "negative_cosine", "cross_correlation", "barlow_twins_loss", "vicreg_terms", "vicreg_loss",
    "dino_loss", "update_center", "teacher_entropy", "largest_prototype_share",
    # masked
    "masked_mse", "normalize_patches", "mae_loss", "ijepa_loss",
]
