"""The direct chunk reads of Fletcher-32 datasets (src/store/store_direct.c) on stores written
by h5py with fletcher32=True and chunk shapes that split prompts, responses and the
embedding dimension unevenly (and whole-row chunks, read straight into place), float32 and
float16, with and without a user block (chunks read by address or by H5Dread_chunk): the
C reader on 1, 2 and 3 ranks returns exactly h5py's slices, also for a chunk
stored with the filter skipped (filter mask 1) and a chunk never written (fill value);
`rmens inspect --verify` matches digests computed by numpy; a flipped byte in a chunk is
one error naming the file, the dataset and the chunk's prompt (and response) range.
Reading some items only (rm_store_read_view_items, the train split of a run): the wanted
ones are h5py's, the others are left as they were (by address) or h5py's (H5Dread_chunk
puts whole chunks in place), and a flipped byte in an item not wanted still fails the read."""
import glob
import os
import shutil
import sys

import h5py
import numpy as np

from storetest import RMENS, TempDir, check, digest, finish, run_all

tool = sys.argv[1]
# name: (shape, chunks); train chunks split every dimension, test chunks hold whole prompts.
SHAPES = {"train/embeddings": ((61, 6, 20), (7, 4, 9)), "train/rewards": ((61, 6), (11, 5)),
          "test/embeddings": ((13, 5, 20), (4, 5, 20)), "test/rewards": ((13, 5), (13, 5)),
          "bench/chosen": ((17, 20), (5, 20)), "bench/rejected": ((17, 20), (6, 7))}


def write_store(path, dtype, rng, userblock):
    """Every dataset Fletcher-32; chunk 0 of /train/embeddings written raw with the filter
    skipped, the last chunk of /bench/chosen never written (h5py reads its fill value). A
    user block moves the chunk addresses: the reader then takes H5Dread_chunk."""
    with h5py.File(path, "w", userblock_size=userblock) as f:
        f.attrs.update({"format": "rmens-store", "format_version": 1, "embed_model": "e", "response_model": "r",
                        "task": "t", "store_uuid": "u"})
        for name, (shape, chunks) in SHAPES.items():
            t = np.float32 if name.endswith("rewards") else dtype
            data = rng.normal(size=shape).astype(t)
            d = f.create_dataset(name, shape, t, chunks=chunks, fletcher32=True, fillvalue=0.25)
            if name == "bench/chosen":
                d[:15] = data[:15]
            else:
                d[...] = data
            if name == "train/embeddings":
                d.id.write_direct_chunk((0, 0, 0), np.ascontiguousarray(data[:7, :4, :9]).tobytes(), filter_mask=1)
        for group, names in (("train", ("embeddings", "rewards")), ("test", ("embeddings", "rewards")),
                             ("bench", ("chosen", "rejected"))):
            f[group].attrs["content_digest"] = digest([f[group][n][...] for n in names])


def tool_read(store, split, p0, p1, ranks, prefix):
    """The store_tool command reading [p0, p1) of a split into PREFIX.<rank>.{a,b}."""
    for old in glob.glob(prefix + ".*"):
        os.remove(old)
    return [tool, "read", store, split, p0, p1, 1000, prefix], ranks


def read_back(prefix, ranks):
    return tuple(np.concatenate([np.fromfile(f"{prefix}.{r}.{x}", dtype=np.float32) for r in range(ranks)])
                 for x in ("a", "b"))


def flip_byte(src, dst, dataset, chunk_offset, offset_in_chunk):
    """The chunk is found by its bytes: HDF5's chunk addresses count from the superblock,
    which a user block moves."""
    with h5py.File(src, "r") as f:
        _, raw = f[dataset].id.read_direct_chunk(chunk_offset)
    with open(src, "rb") as f:
        content = bytearray(f.read())
    at = content.find(raw)
    check(at >= 0 and content.find(raw, at + 1) < 0, f"{src}: {dataset} chunk {chunk_offset} not found once")
    content[at + offset_in_chunk] ^= 0x04
    with open(dst, "wb") as f:
        f.write(content)


# Every command below is independent of the others (its own output prefix or file): the
# files are all written first, the commands then run a few at a time (storetest.run_all),
# and each result is checked as before.
with TempDir() as d:
    rng = np.random.default_rng(18)
    reads, verifies = [], []  # (store, split, p0, p1, ranks, prefix); (store, ranks)
    for dtype, userblock in ((np.float32, 0), (np.float16, 0), (np.float32, 512)):
        store = os.path.join(d, f"{np.dtype(dtype).name}_{userblock}.h5")
        write_store(store, dtype, rng, userblock)
        with h5py.File(store, "r") as f:
            check(f["train/embeddings"].id.get_chunk_info_by_coord((0, 0, 0)).filter_mask == 1, "chunk 0 not raw")
        ranges = [("train", 0, 61), ("train", 5, 40), ("test", 0, 13), ("test", 1, 12), ("test", 4, 8),
                  ("bench", 0, 17), ("bench", 3, 16)]
        for index, (split, p0, p1) in enumerate(ranges):
            for ranks in (index % 3 + 1, (index + 1) % 3 + 1):
                reads.append((store, split, p0, p1, ranks, os.path.join(d, f"out{len(reads)}")))
        for ranks in (1, 2):
            verifies.append((store, ranks))

    # Corruption: the chunk's prompt range, and its response range when it splits prompts.
    cases = [("train/embeddings", (14, 4, 9), "Fletcher-32 checksum mismatch in prompt 14, responses [4, 6)"),
             ("test/embeddings", (4, 0, 0), "Fletcher-32 checksum mismatch in prompts [4, 8)"),
             ("test/embeddings", (12, 0, 0), "Fletcher-32 checksum mismatch in prompts [12, 13)")]
    corrupt = []  # (store, bad copy, dataset, chunk, message)
    for (dataset, chunk, message), userblock in [(c, u) for c in cases for u in (0, 512)]:
        store = os.path.join(d, f"float32_{userblock}.h5")
        bad = os.path.join(d, f"bad{len(corrupt)}.h5")
        flip_byte(store, bad, dataset, chunk, 3)
        corrupt.append((store, bad, dataset, chunk, message))
    # NaN/Inf: the first in the rows read, named, whether its chunk went into place or not.
    nan_store = os.path.join(d, "nan.h5")
    shutil.copy(os.path.join(d, "float32_0.h5"), nan_store)
    with h5py.File(nan_store, "r+") as f:  # h5py rewrites the chunks' checksums
        f["test/embeddings"][5, 3, 7] = np.inf
        f["test/embeddings"][9, 1, 0] = np.nan
        f["train/embeddings"][30, 5, 19] = np.nan
    nans = [(split, p0, p1, where, ranks)
            for split, p0, p1, where in (("test", 0, 13, "Inf at prompt 5, response 3"), ("test", 6, 13, "NaN at prompt 9, response 1"),
                                         ("train", 0, 61, "NaN at prompt 30, response 5"))
            for ranks in (1, 2)]

    commands = [tool_read(store, split, p0, p1, ranks, prefix) for store, split, p0, p1, ranks, prefix in reads]
    commands += [([RMENS, "inspect", "--verify", store, "--read-chunk-mb", "1"], ranks, 0) for store, ranks in verifies]
    for store, bad, dataset, chunk, message in corrupt:
        split = dataset.split("/")[0]
        for ranks in (1, 2):
            commands.append(([tool, "read", bad, split, 0, 61 if split == "train" else 13, 1000,
                              os.path.join(d, f"x_{os.path.basename(bad)}_{ranks}")], ranks))
        commands.append(([RMENS, "inspect", "--verify", bad], 2))
    for i, (split, p0, p1, where, ranks) in enumerate(nans):
        commands.append(([tool, "read", nan_store, split, p0, p1, 1000, os.path.join(d, f"nan{i}")], ranks))
    # a NaN in an item not wanted (9 * 5 + 1 = 46, 46 % 4 != 1) of a chunk read in place: still
    # refused, and named as the NaN it is (its item is never copied)
    commands.append(([tool, "readitems", nan_store, "test", 6, 13, 4, os.path.join(d, "nan_items")], 1))
    # Some items only (item % 3 == 1): every store and way, splits cut anywhere, 1-3 ranks.
    item_reads = []  # (store, split, p0, p1, ranks, prefix)
    for store in sorted(glob.glob(os.path.join(d, "float*_*.h5"))):
        for index, (split, p0, p1) in enumerate((("train", 0, 61), ("train", 5, 40), ("test", 0, 13), ("test", 4, 9))):
            item_reads.append((store, split, p0, p1, index % 3 + 1, os.path.join(d, f"items{len(item_reads)}")))
    commands += [([tool, "readitems", store, split, p0, p1, 3, prefix], ranks)
                 for store, split, p0, p1, ranks, prefix in item_reads]
    # the corrupt chunks' flipped value is item 14*6+4 = 88, 4*5 = 20, 12*5 = 60: none has item % 3 == 1
    for store, bad, dataset, chunk, message in corrupt:
        split = dataset.split("/")[0]
        commands.append(([tool, "readitems", bad, split, 0, 61 if split == "train" else 13, 3,
                          os.path.join(d, f"xi_{os.path.basename(bad)}")], 2))
    results = iter(run_all(commands))

    for store, split, p0, p1, ranks, prefix in reads:
        code, _, err = next(results)
        what = f"{store} {split}[{p0}:{p1}] on {ranks} ranks"
        if not check(code == 0, f"{what}: exit {code}: {err}"):
            continue
        a, b = read_back(prefix, ranks)
        names = ("bench/chosen", "bench/rejected") if split == "bench" else (f"{split}/embeddings", f"{split}/rewards")
        with h5py.File(store, "r") as f:
            check(a.tobytes() == f[names[0]][p0:p1].astype(np.float32).tobytes(), f"{what}: {names[0]} differs")
            check(b.tobytes() == f[names[1]][p0:p1].astype(np.float32).tobytes(), f"{what}: {names[1]} differs")
    for store, ranks in verifies:
        _, out, _ = next(results)
        check(out.count(" matches") == 3 and "status          ok\n" in out, f"verify {store} on {ranks} ranks:\n{out}")
    for store, bad, dataset, chunk, message in corrupt:
        for ranks in (1, 2):
            code, _, err = next(results)
            lines = [l for l in err.splitlines() if "error:" in l]
            check(code != 0 and len(lines) == 1 and bad in lines[0] and f"/{dataset}: {message}" in lines[0],
                  f"{store}: {dataset} chunk {chunk} corrupt, {ranks} ranks: exit {code}, stderr {err!r}")
        code, _, err = next(results)
        check(code != 0 and f"/{dataset}: {message}" in err, f"verify {dataset} chunk {chunk} corrupt: {err!r}")
    for split, p0, p1, where, ranks in nans:
        code, _, err = next(results)
        check(code != 0 and f"/{split}/embeddings: non-finite value {where}" in err,
              f"{split}[{p0}:{p1}] with NaN/Inf on {ranks} ranks: exit {code}, stderr {err!r}")
    code, _, err = next(results)
    check(code != 0 and "/test/embeddings: non-finite value NaN at prompt 9, response 1" in err,
          f"items of test[6:13] with a NaN in an item not wanted: exit {code}, stderr {err!r}")
    for store, split, p0, p1, ranks, prefix in item_reads:
        code, _, err = next(results)
        what = f"{store} {split}[{p0}:{p1}] items % 3 == 1 on {ranks} ranks"
        if not check(code == 0, f"{what}: exit {code}: {err}"):
            continue
        got = np.concatenate([np.fromfile(f"{prefix}.{r}.a", dtype=np.float32) for r in range(ranks)])
        with h5py.File(store, "r") as f:
            want = f[f"{split}/embeddings"][p0:p1].astype(np.float32)
        K, D = want.shape[1], want.shape[2]
        got = got.reshape(p1 - p0, K, D)
        items = (np.arange(p0, p1)[:, None] * K + np.arange(K)[None, :])
        wanted = items % 3 == 1
        check(got[wanted].tobytes() == want[wanted].tobytes(), f"{what}: the wanted items differ from h5py's")
        unread = np.all(got[~wanted] == 12345.0, axis=1)
        same = np.all(got[~wanted] == want[~wanted], axis=1)
        check(bool(np.all(unread | same)), f"{what}: an item not wanted holds neither h5py's values nor the buffer's")
        if "_0.h5" in store:  # chunks read by address: only the wanted items are written
            check(bool(np.all(unread)), f"{what}: {int((~unread).sum())} items not wanted were written")
    for store, bad, dataset, chunk, message in corrupt:
        code, _, err = next(results)
        check(code != 0 and f"/{dataset}: {message}" in err,
              f"{dataset} chunk {chunk} corrupt, read for other items: exit {code}, stderr {err!r}")
finish("store_direct_chunks")
