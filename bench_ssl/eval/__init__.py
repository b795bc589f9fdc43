"""Evaluation of frozen backbones: weighted kNN and the linear protocol."""

from .features import extract_features
from .knn import knn_accuracy, knn_predict
from .linear import LinearResult, fit_logistic, linear_eval, stratified_holdout, topk_accuracy

__all__ = ["LinearResult", "extract_features", "fit_logistic", "knn_accuracy", "knn_predict", "linear_eval",
           "stratified_holdout", "topk_accuracy"]
