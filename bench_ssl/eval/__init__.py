"""Evaluations of frozen backbones, one protocol per file, registered by name (`eval.protocols`): the weighted
kNN, the linear protocol and k-means clustering. A protocol is `fn(ctx: EvalContext, params) -> {metric: value}`."""

from ..registry import EVALUATIONS
from .context import EvalContext
from .features import extract_features
from .kmeans import KMeansParams
from .knn import KNNParams, knn_accuracy, knn_predict
from .linear import LinearParams, LinearResult, fit_logistic, linear_eval, stratified_holdout, topk_accuracy

__all__ = ["EVALUATIONS", "EvalContext", "KMeansParams", "KNNParams", "LinearParams", "LinearResult", "extract_features", "fit_logistic",
           "knn_accuracy", "knn_predict", "linear_eval", "stratified_holdout", "topk_accuracy"]
