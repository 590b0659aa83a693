"""Small h5py helpers shared by the package."""
import os

import numpy as np


def text(value):
    """An HDF5 string attribute (bytes, str or a 0-d array of either) as str."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8")
    return str(value)


def texts(value):
    """An HDF5 array of strings as a list of str."""
    return [text(v) for v in np.atleast_1d(value)]


def attrs(obj):
    """An h5py object's attributes as a plain dict (strings decoded)."""
    out = {}
    for key, value in obj.attrs.items():
        if isinstance(value, (bytes, np.bytes_)):
            value = text(value)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
            value = texts(value)
        out[key] = value
    return out


def find(path, name):
    """`path` itself when it is a file, else `path/name`; FileNotFoundError if neither."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"rmens: no {name} at {path}")
    return path
