"""Datasets: MNIST family (IDX), embedded MNIST-5k, digits, CIFAR-10, your own image folders."""

from pilotlab.data.registry import DATASETS, ImageDataset, load_dataset

__all__ = ["DATASETS", "ImageDataset", "load_dataset"]
